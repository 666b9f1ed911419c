/*  jira_double_store: the state of the Jira double and every decision Jira makes on it.

    Error strings quote the reference (shared/reference/jira-and-webhooks.md, sections 3 to 10
    and 15) where it gives them; the others are marked "ours" here and listed in README.md. */
#include "jira_double.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Jira's texts (reference 3, 4, 5, 6, 7, 8, 9, 10). */
#define E_NOT_FOUND "Issue does not exist or you do not have permission to see it."
#define E_CANNOT_SET "Field '%s' cannot be set. It is not on the appropriate screen, or unknown."
#define E_REQUIRED "%s is required."
#define E_SUMMARY "You must specify a summary of the issue."
#define E_LABEL_SPACE "The label '%s' contains spaces which is invalid."
#define E_EPIC_KEY "String value expected as the Epic Key."
#define E_TRANSITION_INT "'transition' identifier must be an integer"
#define E_TRANSITION_INVALID                                                                       \
    "It seems that you have tried to perform a workflow operation (%s) that is not valid for "     \
    "the current state of this issue (%s). The likely cause is that somebody has changed the "     \
    "issue recently, please look at the issue history for details."
#define E_CREATEMETA "Issue Does Not Exist"
#define E_NO_PROJECT "No project could be found with key '%s'."
/* Texts the reference does not give, recalled from Jira or ours (README.md lists them). */
#define E_PROJECT_REQ "project is required"
#define E_PROJECT_BAD "valid project is required"
#define E_TYPE_REQ "issue type is required"
#define E_TYPE_BAD "valid issue type is required"
#define E_STRING "Operation value must be a string"
#define E_NUMBER "Operation value must be a number"
#define E_ARRAY "data was not an array"
#define E_OPTION_OBJ "Could not find valid 'id' or 'value' in the Parent Option object."
#define E_OPTION_ID "Option id '%s' is not valid"
#define E_OPTION_VALUE "Option value '%s' is not valid"
#define E_DATE "Error parsing date string: %s"
#define E_SUMMARY_LINE "The summary is invalid because it contains newline characters."
#define E_SUMMARY_LONG "Summary must be less than 255 characters."
#define E_EPIC_MISSING "Could not find an Epic with the key '%s'."
#define E_BOTH "Field '%s' cannot be set in both 'fields' and 'update'."
#define E_OPERATION "Field '%s' does not support operation '%s'"
#define E_NOT_JSON "The request body is not valid JSON."
#define E_NOT_MODELLED "The Jira double does not model '%s' here."
#define E_TRANSITION_MISSING "Missing 'transition' identifier"
#define E_COMMENT_EMPTY "Comment body can not be empty!"
#define E_COMMENT_ID "Can not find a comment for the id: %s."
#define E_ROLE_MEMBER "You are currently not a member of the project role: %s."
#define E_GROUP_MEMBER "You are currently not a member of the group: %s."
#define E_VISIBILITY "Visibility type must be 'role' or 'group' with a value."
#define E_PROP_MISSING "The property with key '%s' does not exist."
#define E_PROP_JSON "The property value is not valid JSON."
#define E_PROP_LONG "The property value is too long. The maximum length is 32768 characters."
#define E_PROP_KEY "The property key is too long. The maximum length is 255 characters."
#define E_LINK_TYPE "No issue link type with name '%s' found."
#define E_LINK_BODY "An issue link needs a 'type', an 'inwardIssue' and an 'outwardIssue'."
#define E_NO_STATUS "The status with id '%s' does not exist"
#define E_PAGING "'%s' must be a non-negative integer"

/* ---- small helpers ---- */

const char *
jd_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 2019-06-04T00:15:17.234+0000, UTC (reference 2). */
static void
s_format_ts(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char day[JD_TS_LEN / 2];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03d+0000", day, (int)(ms % 1000));
}

static json_t *
s_ts(int64_t ms)
{
    char buf[JD_TS_LEN];
    s_format_ts(ms, buf, sizeof buf);
    return json_string(buf);
}

static jd_reply_t
s_reply(unsigned status, json_t *json)
{
    jd_reply_t r = {status, json};
    return r;
}

jd_reply_t
jd_error(unsigned status, const char *message, const char *field, const char *text)
{
    json_t *msgs = json_array();
    json_t *errs = json_object();
    if (message)
        json_array_append_new(msgs, json_string(message));
    if (field)
        json_object_set_new(errs, field, json_string(text));
    return s_reply(status, json_pack("{s:o, s:o}", "errorMessages", msgs, "errors", errs));
}

/* 400 {"errorMessages":[...],"errors":{...}} from a filled errors object (taken). */
static jd_reply_t
s_field_errors(json_t *errors)
{
    return s_reply(400, json_pack("{s:[], s:o}", "errorMessages", "errors", errors));
}

static jd_reply_t s_errorf(unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static jd_reply_t
s_errorf(unsigned status, const char *fmt, ...)
{
    char msg[JD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return jd_error(status, msg, NULL, NULL);
}

static jd_reply_t
s_ctl_error(const char *text)
{
    return s_reply(400, json_pack("{s:s}", "error", text));
}

static void s_set_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_set_error(json_t *errors, const char *field, const char *fmt, ...)
{
    char msg[JD_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_object_set_new(errors, field, json_string(msg));
}

bool
jd_in_list(const json_t *array, const char *value)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v) if (json_is_string(v) &&
                                        strcmp(json_string_value(v), value) == 0) return true;
    return false;
}

/* The integer in a JSON string of digits or a JSON integer; -1 otherwise. */
static long long
s_int_of(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 18)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    return atoll(s);
}

static char *
s_id_text(long long id, char *buf, size_t len)
{
    snprintf(buf, len, "%lld", id);
    return buf;
}

/* ---- lookups ---- */

json_t *
jd_find(const json_t *array, const char *key, const char *value)
{
    size_t i;
    json_t *v;
    json_array_foreach(array, i, v)
    {
        const char *s = jd_str(v, key);
        if (s && value && strcmp(s, value) == 0)
            return v;
    }
    return NULL;
}

json_t *
jd_field(jd_store_t *self, const char *id)
{
    return jd_find(self->fields, "id", id);
}

json_t *
jd_project(jd_store_t *self, const char *ref)
{
    json_t *p = jd_find(self->projects, "key", ref);
    return p ? p : jd_find(self->projects, "id", ref);
}

json_t *
jd_project_of(jd_store_t *self, const json_t *issue)
{
    return jd_find(self->projects, "key", jd_str(issue, "project"));
}

json_t *
jd_issuetype(const json_t *project, const char *id)
{
    return jd_find(json_object_get(project, "issue_types"), "id", id);
}

json_t *
jd_status(const json_t *project, const char *id)
{
    return jd_find(json_object_get(project, "statuses"), "id", id);
}

/* By numeric id or by key, case-insensitively (reference 2). */
json_t *
jd_issue(jd_store_t *self, const char *ref)
{
    size_t i;
    json_t *v;
    if (!ref)
        return NULL;
    json_array_foreach(self->issues, i, v)
    {
        char id[32];
        if (strcasecmp(jd_str(v, "key"), ref) == 0 ||
            strcmp(s_id_text(json_integer_value(json_object_get(v, "id")), id, sizeof id), ref) ==
                0)
            return v;
    }
    return NULL;
}

static long long
s_issue_id(const json_t *issue)
{
    return json_integer_value(json_object_get(issue, "id"));
}

json_t *
jd_user_by_name(jd_store_t *self, const char *name)
{
    return jd_find(self->users, "name", name);
}

json_t *
jd_user_by_basic(jd_store_t *self, const char *name, const char *password)
{
    json_t *u = jd_user_by_name(self, name);
    const char *p = jd_str(u, "password");
    return p && strcmp(p, password) == 0 ? u : NULL;
}

json_t *
jd_user_by_token(jd_store_t *self, const char *token)
{
    return jd_find(self->users, "token", token);
}

static bool
s_is_epic(jd_store_t *self, const json_t *issue)
{
    const json_t *type = jd_issuetype(jd_project_of(self, issue), jd_str(issue, "issuetype"));
    return type && strcmp(jd_str(type, "name"), "Epic") == 0;
}

/* ---- JSON views (reference 4, 5, 6, 7) ---- */

json_t *
jd_json_user(jd_store_t *self, const json_t *user)
{
    if (!user)
        return json_null();
    char selfurl[JD_URL_MAX];
    snprintf(selfurl, sizeof selfurl, "%s/rest/api/2/user?username=%s", self->base,
             jd_str(user, "name"));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "self", selfurl, "name",
                     jd_str(user, "name"), "key", jd_str(user, "name"), "emailAddress",
                     jd_str(user, "email"), "displayName", jd_str(user, "display_name"), "active",
                     1, "timeZone", "UTC");
}

static json_t *
s_json_category(const char *category)
{
    static const struct {
        const char *key;   /* statusCategory.key */
        int id;            /* statusCategory.id (reference 6) */
        const char *name;  /* statusCategory.name */
        const char *color; /* statusCategory.colorName */
    } cats[] = {{"new", 2, "To Do", "blue-gray"},
                {"indeterminate", 4, "In Progress", "yellow"},
                {"done", 3, "Done", "green"},
                {"undefined", 1, "No Category", "medium-gray"}};
    size_t i = 0;
    while (i + 1 < sizeof cats / sizeof cats[0] && strcmp(cats[i].key, category) != 0)
        i++;
    return json_pack("{s:i, s:s, s:s, s:s}", "id", cats[i].id, "key", cats[i].key, "colorName",
                     cats[i].color, "name", cats[i].name);
}

static json_t *
s_json_status(jd_store_t *self, const json_t *status)
{
    char url[JD_URL_MAX];
    snprintf(url, sizeof url, "%s/rest/api/2/status/%s", self->base, jd_str(status, "id"));
    json_t *cat = s_json_category(jd_str(status, "category"));
    char caturl[JD_URL_MAX];
    snprintf(caturl, sizeof caturl, "%s/rest/api/2/statuscategory/%" JSON_INTEGER_FORMAT,
             self->base, json_integer_value(json_object_get(cat, "id")));
    json_object_set_new(cat, "self", json_string(caturl));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "self", url, "description", "", "iconUrl",
                     "", "name", jd_str(status, "name"), "id", jd_str(status, "id"),
                     "statusCategory", cat);
}

static json_t *
s_json_project(jd_store_t *self, const json_t *project)
{
    char url[JD_URL_MAX];
    snprintf(url, sizeof url, "%s/rest/api/2/project/%s", self->base, jd_str(project, "id"));
    return json_pack("{s:s, s:s, s:s, s:s}", "self", url, "id", jd_str(project, "id"), "key",
                     jd_str(project, "key"), "name", jd_str(project, "name"));
}

static json_t *
s_json_issuetype(jd_store_t *self, const json_t *type)
{
    char url[JD_URL_MAX];
    snprintf(url, sizeof url, "%s/rest/api/2/issuetype/%s", self->base, jd_str(type, "id"));
    return json_pack("{s:s, s:s, s:s, s:s, s:b}", "self", url, "id", jd_str(type, "id"),
                     "description", "", "name", jd_str(type, "name"), "subtask", 0);
}

static void
s_issue_url(jd_store_t *self, const json_t *issue, char *url, size_t len)
{
    snprintf(url, len, "%s/rest/api/2/issue/%lld", self->base, s_issue_id(issue));
}

/* May user see a comment with this visibility (a role or a group the user has)? NULL: the
   webhook's view, which shows everything. */
static bool
s_may_see(const json_t *user, const json_t *visibility)
{
    if (!user || !json_is_object(visibility))
        return true;
    const char *type = jd_str(visibility, "type"), *value = jd_str(visibility, "value");
    const json_t *have = json_object_get(user, strcmp(type, "role") == 0 ? "roles" : "groups");
    return jd_in_list(have, value);
}

static json_t *
s_json_comment(jd_store_t *self, const json_t *issue, const json_t *c)
{
    char url[JD_URL_MAX];
    snprintf(url, sizeof url, "%s/rest/api/2/issue/%lld/comment/%s", self->base, s_issue_id(issue),
             jd_str(c, "id"));
    json_t *v = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o}", "self", url, "id", jd_str(c, "id"),
                          "author", jd_json_user(self, jd_user_by_name(self, jd_str(c, "author"))),
                          "body", jd_str(c, "body"), "updateAuthor",
                          jd_json_user(self, jd_user_by_name(self, jd_str(c, "update_author"))),
                          "created", s_ts(json_integer_value(json_object_get(c, "created_ms"))),
                          "updated", s_ts(json_integer_value(json_object_get(c, "updated_ms"))));
    json_t *vis = json_object_get(c, "visibility");
    if (v && vis)
        json_object_set(v, "visibility", vis);
    return v;
}

/* The comments of issue that user may see, as a JSON array. */
static json_t *
s_visible_comments(jd_store_t *self, const json_t *issue, const json_t *user)
{
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(issue, "comments"), i, c)
    {
        if (s_may_see(user, json_object_get(c, "visibility")))
            json_array_append_new(out, s_json_comment(self, issue, c));
    }
    return out;
}

static json_t *
s_json_issue_ref(jd_store_t *self, const json_t *issue)
{
    char url[JD_URL_MAX];
    s_issue_url(self, issue, url, sizeof url);
    char id[32];
    const json_t *st = jd_status(jd_project_of(self, issue), jd_str(issue, "status"));
    return json_pack("{s:s, s:s, s:s, s:{s:O, s:o}}", "id",
                     s_id_text(s_issue_id(issue), id, sizeof id), "key", jd_str(issue, "key"),
                     "self", url, "fields", "summary",
                     json_object_get(json_object_get(issue, "fields"), "summary"), "status",
                     s_json_status(self, st));
}

static json_t *
s_json_links(jd_store_t *self, const json_t *issue)
{
    json_t *out = json_array();
    size_t i;
    json_t *l;
    long long me = s_issue_id(issue);
    json_array_foreach(self->links, i, l)
    {
        long long in = json_integer_value(json_object_get(l, "inward")),
                  outw = json_integer_value(json_object_get(l, "outward"));
        if (in != me && outw != me)
            continue;
        char other_id[32], url[JD_URL_MAX];
        const json_t *other = jd_issue(self, s_id_text(in == me ? outw : in, other_id, 32));
        snprintf(url, sizeof url, "%s/rest/api/2/issueLink/%s", self->base, jd_str(l, "id"));
        json_t *type = json_deep_copy(jd_find(self->link_types, "id", jd_str(l, "type")));
        /* seen from the inward issue, the other one is the outward issue, and vice versa */
        json_array_append_new(out,
                              json_pack("{s:s, s:s, s:o, s:o}", "id", jd_str(l, "id"), "self", url,
                                        "type", type, in == me ? "outwardIssue" : "inwardIssue",
                                        s_json_issue_ref(self, other)));
    }
    return out;
}

/* The issue as GET /issue shows it to user; properties: NULL, or a list of keys ("*all"). */
static json_t *
s_json_issue(jd_store_t *self, const json_t *issue, const json_t *user, const char *fields,
             const char *properties)
{
    const json_t *project = jd_project_of(self, issue);
    json_t *f = json_deep_copy(json_object_get(issue, "fields"));
    json_object_set_new(f, "project", s_json_project(self, project));
    json_object_set_new(f, "issuetype",
                        s_json_issuetype(self, jd_issuetype(project, jd_str(issue, "issuetype"))));
    json_object_set_new(f, "status",
                        s_json_status(self, jd_status(project, jd_str(issue, "status"))));
    json_object_set_new(f, "created",
                        s_ts(json_integer_value(json_object_get(issue, "created_ms"))));
    json_object_set_new(f, "updated",
                        s_ts(json_integer_value(json_object_get(issue, "updated_ms"))));
    json_object_set_new(f, "reporter",
                        jd_json_user(self, jd_user_by_name(self, jd_str(issue, "reporter"))));
    json_object_set_new(f, "creator",
                        jd_json_user(self, jd_user_by_name(self, jd_str(issue, "reporter"))));
    json_t *comments = s_visible_comments(self, issue, user);
    json_object_set_new(f, "comment",
                        json_pack("{s:o, s:I, s:I, s:i}", "comments", comments, "maxResults",
                                  (json_int_t)json_array_size(comments), "total",
                                  (json_int_t)json_array_size(comments), "startAt", 0));
    json_object_set_new(f, "issuelinks", s_json_links(self, issue));
    /* every custom field of the project's screens appears, null when unset */
    size_t i;
    json_t *def;
    json_array_foreach(self->fields, i, def)
    {
        const char *id = jd_str(def, "id");
        if (json_is_true(json_object_get(def, "custom")) && !json_object_get(f, id))
            json_object_set_new(f, id, json_null());
    }
    if (fields && *fields && strcmp(fields, "*all") != 0 && strcmp(fields, "*navigable") != 0) {
        json_t *kept = json_object();
        char *list = strdup(fields), *save = NULL;
        for (char *t = list ? strtok_r(list, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
            if (json_object_get(f, t))
                json_object_set(kept, t, json_object_get(f, t));
        free(list);
        json_decref(f);
        f = kept;
    }
    char url[JD_URL_MAX], id[32];
    s_issue_url(self, issue, url, sizeof url);
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:o}", "expand",
                          "renderedFields,names,schema,operations,editmeta,changelog", "id",
                          s_id_text(s_issue_id(issue), id, sizeof id), "self", url, "key",
                          jd_str(issue, "key"), "fields", f);
    if (v && properties && *properties) {
        json_t *props = json_object(), *all = json_object_get(issue, "properties");
        const char *k;
        json_t *val;
        json_object_foreach(all, k, val)
        {
            char wanted[JD_PROPERTY_KEY_MAX + 3];
            snprintf(wanted, sizeof wanted, ",%s,", k);
            char list[JD_URL_MAX];
            snprintf(list, sizeof list, ",%s,", properties);
            if (strcmp(properties, "*all") == 0 || strstr(list, wanted))
                json_object_set(props, k, val);
        }
        json_object_set_new(v, "properties", props);
    }
    return v;
}

/* ---- webhooks (reference 12) ---- */

/* template with ${issue.id}, ${issue.key}, ${project.id}, ${project.key} replaced. */
static char *
s_substitute(const char *template, const char *issue_id, const char *issue_key,
             const char *project_id, const char *project_key)
{
    const struct {
        const char *var;   /* placeholder */
        const char *value; /* replacement */
    } vars[] = {{"${issue.id}", issue_id},
                {"${issue.key}", issue_key},
                {"${project.id}", project_id},
                {"${project.key}", project_key}};
    size_t cap = strlen(template) + 1;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        for (const char *p = strstr(template, vars[i].var); p; p = strstr(p + 1, vars[i].var))
            cap += strlen(vars[i].value);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    size_t used = 0;
    for (const char *p = template; *p;) {
        size_t i = 0;
        while (i < sizeof vars / sizeof vars[0] && strncmp(p, vars[i].var, strlen(vars[i].var)))
            i++;
        if (i < sizeof vars / sizeof vars[0]) {
            memcpy(out + used, vars[i].value, strlen(vars[i].value));
            used += strlen(vars[i].value);
            p += strlen(vars[i].var);
        } else {
            out[used++] = *p++;
        }
    }
    out[used] = '\0';
    return out;
}

/* Sends payload (taken) to every webhook that wants event for issue. */
static void
s_fire(jd_store_t *self, const char *event, const json_t *issue, json_t *payload)
{
    const json_t *project = jd_project_of(self, issue);
    char id[32];
    s_id_text(s_issue_id(issue), id, sizeof id);
    size_t i;
    json_t *hook;
    json_array_foreach(self->webhooks, i, hook)
    {
        const json_t *events = json_object_get(hook, "events");
        if (json_array_size(events) && !jd_in_list(events, event))
            continue;
        const char *jql = jd_str(hook, "jql");
        if (jql && *jql && !jd_jql_filter(self, jql, issue))
            continue;
        char *url = s_substitute(jd_str(hook, "url"), id, jd_str(issue, "key"),
                                 jd_str(project, "id"), jd_str(project, "key"));
        if (url)
            jd_hooks_post(self->hooks, url, payload, jd_str(hook, "secret"));
        free(url);
    }
    json_decref(payload);
}

/* jira:issue_* events: timestamp, webhookEvent, issue_event_type_name, user, issue, and
   changelog or comment when given (taken). */
static void
s_fire_issue(jd_store_t *self, const char *event, const char *type, const json_t *issue,
             const json_t *user, json_t *changelog, json_t *comment)
{
    json_t *p =
        json_pack("{s:I, s:s, s:s, s:o, s:o}", "timestamp", (json_int_t)s_now_ms(), "webhookEvent",
                  event, "issue_event_type_name", type, "user", jd_json_user(self, user), "issue",
                  s_json_issue(self, issue, NULL, NULL, NULL));
    if (p && changelog)
        json_object_set(p, "changelog", changelog);
    if (p && comment)
        json_object_set(p, "comment", comment);
    json_decref(changelog);
    json_decref(comment);
    if (p)
        s_fire(self, event, issue, p);
}

/* ---- field values (reference 4) ---- */

static size_t
s_chars(const char *raw, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)raw[i] & 0xC0) != 0x80; /* UTF-8: count lead bytes only */
    return n;
}

/* value checked and converted to what the issue stores, or NULL with errors[id] set. */
static json_t *
s_convert(jd_store_t *self, const json_t *def, const json_t *value, json_t *errors)
{
    const char *id = jd_str(def, "id"), *type = jd_str(def, "type");
    if (json_is_null(value))
        return json_null();
    if (strcmp(type, "string") == 0 || strcmp(type, "text") == 0 ||
        strcmp(type, "epic_name") == 0) {
        const char *s = json_string_value(value);
        if (!s) {
            s_set_error(errors, id, "%s", E_STRING);
            return NULL;
        }
        if (strcmp(id, "summary") == 0 && strpbrk(s, "\r\n")) {
            s_set_error(errors, id, "%s", E_SUMMARY_LINE);
            return NULL;
        }
        if (strcmp(id, "summary") == 0 && s_chars(s, strlen(s)) >= JD_SUMMARY_MAX) {
            s_set_error(errors, id, "%s", E_SUMMARY_LONG);
            return NULL;
        }
        return json_string(s);
    }
    if (strcmp(type, "number") == 0) {
        if (!json_is_number(value)) {
            s_set_error(errors, id, "%s", E_NUMBER);
            return NULL;
        }
        return json_real(json_number_value(value));
    }
    if (strcmp(type, "date") == 0) {
        const char *s = json_string_value(value);
        int y, m, d;
        char tail;
        if (!s || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10 || m < 1 ||
            m > 12 || d < 1 || d > 31) {
            char *shown = json_dumps(value, JSON_ENCODE_ANY);
            s_set_error(errors, id, E_DATE, s ? s : shown ? shown : "?");
            free(shown);
            return NULL;
        }
        return json_string(s);
    }
    if (strcmp(type, "labels") == 0) {
        if (!json_is_array(value)) {
            s_set_error(errors, id, "%s", E_ARRAY);
            return NULL;
        }
        size_t i;
        const json_t *l;
        json_array_foreach(value, i, l)
        {
            const char *s = json_string_value(l);
            if (!s) {
                s_set_error(errors, id, "%s", E_STRING);
                return NULL;
            }
            for (const char *p = s; *p; p++)
                if (isspace((unsigned char)*p)) {
                    s_set_error(errors, id, E_LABEL_SPACE, s);
                    return NULL;
                }
        }
        return json_deep_copy(value);
    }
    if (strcmp(type, "epic_link") == 0) {
        const char *key = json_string_value(value);
        if (!key) {
            s_set_error(errors, id, "%s", E_EPIC_KEY);
            return NULL;
        }
        const json_t *epic = jd_issue(self, key);
        if (!epic || !s_is_epic(self, epic)) {
            s_set_error(errors, id, E_EPIC_MISSING, key);
            return NULL;
        }
        return json_string(jd_str(epic, "key"));
    }
    /* select and multiselect: options by {"id"} or {"value"} */
    bool multi = strcmp(type, "multiselect") == 0;
    if (multi && !json_is_array(value)) {
        s_set_error(errors, id, "%s", E_ARRAY);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < (multi ? json_array_size(value) : 1); i++) {
        const json_t *o = multi ? json_array_get(value, i) : value;
        const json_t *oid = json_object_get(o, "id"), *oval = json_object_get(o, "value");
        const json_t *opt = NULL;
        if (!json_is_object(o) || (!json_is_string(oid) && !json_is_string(oval))) {
            s_set_error(errors, id, "%s", E_OPTION_OBJ);
            json_decref(out);
            return NULL;
        }
        opt = oid ? jd_find(json_object_get(def, "options"), "id", json_string_value(oid))
                  : jd_find(json_object_get(def, "options"), "value", json_string_value(oval));
        if (!opt) {
            s_set_error(errors, id, oid ? E_OPTION_ID : E_OPTION_VALUE,
                        json_string_value(oid ? oid : oval));
            json_decref(out);
            return NULL;
        }
        char url[JD_URL_MAX];
        snprintf(url, sizeof url, "%s/rest/api/2/customFieldOption/%s", self->base,
                 jd_str(opt, "id"));
        json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "self", url, "value",
                                             jd_str(opt, "value"), "id", jd_str(opt, "id")));
    }
    if (multi)
        return out;
    json_t *one = json_incref(json_array_get(out, 0));
    json_decref(out);
    return one;
}

bool
jd_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
           (json_is_array(v) && !json_array_size(v));
}

/* Adds "<Name> is required." (or the summary's text) for each required field empty in vals. */
static void
s_check_required(jd_store_t *self, const json_t *type, const json_t *vals, json_t *errors)
{
    json_t *required = json_deep_copy(json_object_get(type, "required"));
    if (!jd_in_list(required, "summary"))
        json_array_insert_new(required, 0, json_string("summary"));
    /* Jira Software: an Epic needs its Epic Name */
    size_t i;
    json_t *def;
    if (strcmp(jd_str(type, "name"), "Epic") == 0)
        json_array_foreach(self->fields, i,
                           def) if (strcmp(jd_str(def, "type"), "epic_name") == 0 &&
                                    !jd_in_list(required, jd_str(def, "id")))
            json_array_append_new(required, json_string(jd_str(def, "id")));
    json_t *id;
    json_array_foreach(required, i, id)
    {
        const char *fid = json_string_value(id);
        if (!jd_empty(json_object_get(vals, fid)) || json_object_get(errors, fid))
            continue;
        if (strcmp(fid, "summary") == 0)
            s_set_error(errors, fid, "%s", E_SUMMARY);
        else
            s_set_error(errors, fid, E_REQUIRED, jd_str(jd_field(self, fid), "name"));
    }
    json_decref(required);
}

/* Checks fields (borrowed) against screen and converts them into vals. */
static void
s_check_fields(jd_store_t *self, const json_t *fields, const json_t *screen, json_t *vals,
               json_t *errors)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v)
    {
        if (strcmp(k, "project") == 0 || strcmp(k, "issuetype") == 0)
            continue;
        const json_t *def = jd_field(self, k);
        if (!def || !jd_in_list(screen, k)) {
            s_set_error(errors, k, E_CANNOT_SET, k);
            continue;
        }
        json_t *c = s_convert(self, def, v, errors);
        if (c)
            json_object_set_new(vals, k, c);
    }
}

/* ---- changelog (reference 12) ---- */

static char *
s_display(const json_t *def, const json_t *v)
{
    const char *type = jd_str(def, "type");
    if (jd_empty(v))
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_number(v))
        return json_dumps(v, JSON_ENCODE_ANY);
    if (json_is_object(v))
        return strdup(jd_str(v, "value"));
    /* labels: space-separated; multi-select values: comma-separated */
    const char *sep = strcmp(type, "labels") == 0 ? " " : ",";
    size_t len = 1, i;
    const json_t *e;
    json_array_foreach(v, i, e) len +=
        strlen(json_is_string(e) ? json_string_value(e) : jd_str(e, "value")) + 1;
    char *out = calloc(1, len);
    json_array_foreach(v, i, e)
    {
        if (!out)
            break;
        if (i)
            strcat(out, sep);
        strcat(out, json_is_string(e) ? json_string_value(e) : jd_str(e, "value"));
    }
    return out;
}

/* The from/to of a changelog item: an option id, an epic's issue id, a status id, else null. */
static json_t *
s_change_id(jd_store_t *self, const json_t *def, const json_t *v)
{
    if (jd_empty(v))
        return json_null();
    if (json_is_object(v))
        return json_string(jd_str(v, "id"));
    if (strcmp(jd_str(def, "type"), "epic_link") == 0) {
        char id[32];
        return json_string(s_id_text(s_issue_id(jd_issue(self, json_string_value(v))), id, 32));
    }
    return json_null();
}

static void
s_change(jd_store_t *self, json_t *items, const json_t *def, const json_t *from, const json_t *to)
{
    if (json_equal((json_t *)from, (json_t *)to) || (jd_empty(from) && jd_empty(to)))
        return;
    bool custom = json_is_true(json_object_get(def, "custom"));
    char *fs = s_display(def, from), *ts = s_display(def, to);
    json_t *item =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "field",
                  custom ? jd_str(def, "name") : jd_str(def, "id"), "fieldtype",
                  custom ? "custom" : "jira", "fieldId", jd_str(def, "id"), "from",
                  s_change_id(self, def, from), "fromString", fs ? json_string(fs) : json_null(),
                  "to", s_change_id(self, def, to), "toString", ts ? json_string(ts) : json_null());
    free(fs);
    free(ts);
    json_array_append_new(items, item);
}

/* Applies vals to issue, recording changes in items. */
static void
s_apply(jd_store_t *self, json_t *issue, const json_t *vals, json_t *items)
{
    json_t *fields = json_object_get(issue, "fields");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vals, k, v)
    {
        json_t *old = json_object_get(fields, k);
        if (items)
            s_change(self, items, jd_field(self, k), old ? old : json_null(), v);
        json_object_set(fields, k, v);
    }
}

static json_t *
s_changelog(jd_store_t *self, json_t *items)
{
    char id[32];
    return json_pack("{s:s, s:o}", "id", s_id_text(self->next_changelog++, id, sizeof id), "items",
                     items);
}

/* ---- properties (reference 8) ---- */

/* Checks a property; returns 0, or -1 with *ret the 400. */
static int
s_property_check(const char *key, const json_t *value, size_t chars, jd_reply_t *ret)
{
    if (!key || strlen(key) > JD_PROPERTY_KEY_MAX) {
        *ret = jd_error(400, E_PROP_KEY, NULL, NULL);
        return -1;
    }
    if (!value) {
        *ret = jd_error(400, E_PROP_JSON, NULL, NULL);
        return -1;
    }
    if (chars > JD_PROPERTY_VALUE_MAX) {
        *ret = jd_error(400, E_PROP_LONG, NULL, NULL);
        return -1;
    }
    return 0;
}

/* ---- create, get, edit, delete (reference 4, 5) ---- */

jd_reply_t
jd_issue_create(jd_store_t *self, json_t *user, const json_t *body)
{
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    const char *extra[] = {"update", "transition"};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (json_object_get(body, extra[i]))
            return s_errorf(400, E_NOT_MODELLED, extra[i]);
    const json_t *fields = json_object_get(body, "fields");
    if (!json_is_object(fields))
        fields = NULL; /* then project, issue type and summary are missing */
    json_t *errors = json_object();
    const json_t *pref = json_object_get(fields, "project");
    const json_t *tref = json_object_get(fields, "issuetype");
    json_t *project = NULL, *type = NULL;
    if (!pref)
        s_set_error(errors, "project", "%s", E_PROJECT_REQ);
    else if (!(project = jd_find(self->projects, "key", jd_str(pref, "key"))) &&
             !(project = jd_find(self->projects, "id", jd_str(pref, "id"))))
        s_set_error(errors, "project", "%s", E_PROJECT_BAD);
    if (!tref)
        s_set_error(errors, "issuetype", "%s", E_TYPE_REQ);
    else if (project && !(type = jd_issuetype(project, jd_str(tref, "id"))) &&
             !(type =
                   jd_find(json_object_get(project, "issue_types"), "name", jd_str(tref, "name"))))
        s_set_error(errors, "issuetype", "%s", E_TYPE_BAD);
    if (!project || !type)
        return s_field_errors(errors);
    json_t *vals = json_object();
    if (fields)
        s_check_fields(self, fields, json_object_get(type, "create"), vals, errors);
    s_check_required(self, type, vals, errors);
    const json_t *props = json_object_get(body, "properties");
    size_t i;
    json_t *p;
    jd_reply_t bad = {0, NULL};
    json_array_foreach(props, i, p)
    {
        char *raw = json_dumps(json_object_get(p, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
        int rc = s_property_check(jd_str(p, "key"), json_object_get(p, "value"),
                                  raw ? s_chars(raw, strlen(raw)) : 0, &bad);
        free(raw);
        if (rc != 0)
            break;
    }
    if (json_object_size(errors)) {
        json_decref(bad.json);
        json_decref(vals);
        return s_field_errors(errors);
    }
    json_decref(errors);
    if (bad.json) {
        json_decref(vals);
        return bad;
    }
    long long n = json_integer_value(json_object_get(project, "counter")) + 1;
    json_object_set_new(project, "counter", json_integer(n));
    char key[JD_MSG_MAX];
    snprintf(key, sizeof key, "%s-%lld", jd_str(project, "key"), n);
    int64_t now = s_now_ms();
    json_t *issue =
        json_pack("{s:I, s:s, s:s, s:s, s:s, s:{s:n, s:[]}, s:I, s:I, s:s, s:[], s:{}}", "id",
                  (json_int_t)self->next_id++, "key", key, "project", jd_str(project, "key"),
                  "issuetype", jd_str(type, "id"), "status", jd_str(project, "initial"), "fields",
                  "description", "labels", "created_ms", (json_int_t)now, "updated_ms",
                  (json_int_t)now, "reporter", jd_str(user, "name"), "comments", "properties");
    s_apply(self, issue, vals, NULL);
    json_decref(vals);
    json_t *stored = json_object_get(issue, "properties");
    json_array_foreach(props, i, p)
        json_object_set(stored, jd_str(p, "key"), json_object_get(p, "value"));
    json_array_append_new(self->issues, issue);
    s_fire_issue(self, "jira:issue_created", "issue_created", issue, user, NULL, NULL);
    char url[JD_URL_MAX], id[32];
    s_issue_url(self, issue, url, sizeof url);
    return s_reply(201, json_pack("{s:s, s:s, s:s}", "id", s_id_text(s_issue_id(issue), id, 32),
                                  "key", key, "self", url));
}

static jd_reply_t
s_not_found(void)
{
    return jd_error(404, E_NOT_FOUND, NULL, NULL);
}

jd_reply_t
jd_issue_get(jd_store_t *self, json_t *user, const char *ref, const json_t *query)
{
    const json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    return s_reply(
        200, s_json_issue(self, issue, user, jd_str(query, "fields"), jd_str(query, "properties")));
}

/* Applies an `update` object's operations (set, add, remove) to a copy of the current values,
   into vals. */
static void
s_check_update(jd_store_t *self, const json_t *issue, const json_t *update, const json_t *screen,
               json_t *vals, json_t *errors)
{
    const char *k;
    json_t *ops;
    json_object_foreach((json_t *)update, k, ops)
    {
        const json_t *def = jd_field(self, k);
        if (!def || !jd_in_list(screen, k)) {
            s_set_error(errors, k, E_CANNOT_SET, k);
            continue;
        }
        bool is_labels = strcmp(jd_str(def, "type"), "labels") == 0;
        json_t *cur = json_deep_copy(json_object_get(json_object_get(issue, "fields"), k));
        if (!cur || json_is_null(cur)) {
            json_decref(cur);
            cur = is_labels ? json_array() : json_null();
        }
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            const char *verb = json_object_iter_key(json_object_iter(op));
            json_t *arg = json_object_get(op, verb ? verb : "");
            if (verb && strcmp(verb, "set") == 0) {
                json_t *c = s_convert(self, def, arg, errors);
                if (!c)
                    break;
                json_decref(cur);
                cur = c;
            } else if (verb && is_labels && (!strcmp(verb, "add") || !strcmp(verb, "remove"))) {
                json_t *one = json_pack("[O]", arg);
                json_t *c = s_convert(self, def, one, errors);
                json_decref(one);
                if (!c)
                    break;
                const char *label = json_string_value(json_array_get(c, 0));
                size_t j;
                json_t *have;
                bool found = false;
                json_array_foreach(cur, j, have) if (strcmp(json_string_value(have), label) == 0)
                {
                    found = true;
                    if (!strcmp(verb, "remove")) {
                        json_array_remove(cur, j);
                        break;
                    }
                }
                if (!found && !strcmp(verb, "add"))
                    json_array_append_new(cur, json_string(label));
                json_decref(c);
            } else {
                json_object_set_new(errors, k, json_sprintf(E_OPERATION, k, verb ? verb : ""));
                break;
            }
        }
        json_object_set_new(vals, k, cur);
    }
}

jd_reply_t
jd_issue_edit(jd_store_t *self, json_t *user, const char *ref, const json_t *body)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    const json_t *fields = json_object_get(body, "fields"),
                 *update = json_object_get(body, "update");
    const json_t *project = jd_project_of(self, issue);
    const json_t *type = jd_issuetype(project, jd_str(issue, "issuetype"));
    const json_t *screen = json_object_get(type, "edit");
    json_t *errors = json_object(), *vals = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)fields, k, v) if (json_object_get(update, k))
        s_set_error(errors, k, E_BOTH, k);
    if (!json_object_size(errors)) {
        if (json_is_object(fields)) {
            json_t *f = json_deep_copy(fields);
            json_object_del(f, "project");
            json_object_del(f, "issuetype");
            /* project and issuetype cannot be changed by an edit */
            const char *fixed[] = {"project", "issuetype"};
            for (size_t i = 0; i < 2; i++)
                if (json_object_get(fields, fixed[i]))
                    s_set_error(errors, fixed[i], E_CANNOT_SET, fixed[i]);
            s_check_fields(self, f, screen, vals, errors);
            json_decref(f);
        }
        if (json_is_object(update))
            s_check_update(self, issue, update, screen, vals, errors);
    }
    /* a required field may not be emptied */
    json_t *merged = json_deep_copy(json_object_get(issue, "fields"));
    json_object_update(merged, vals);
    if (!json_object_size(errors))
        s_check_required(self, type, merged, errors);
    json_decref(merged);
    if (json_object_size(errors)) {
        json_decref(vals);
        return s_field_errors(errors);
    }
    json_decref(errors);
    json_t *items = json_array();
    s_apply(self, issue, vals, items);
    json_decref(vals);
    if (json_array_size(items)) {
        json_object_set_new(issue, "updated_ms", json_integer(s_now_ms()));
        s_fire_issue(self, "jira:issue_updated", "issue_updated", issue, user,
                     s_changelog(self, items), NULL);
    } else {
        json_decref(items);
    }
    return s_reply(204, NULL);
}

jd_reply_t
jd_issue_delete(jd_store_t *self, json_t *user, const char *ref)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_incref(issue);
    size_t i;
    json_t *v;
    json_array_foreach(self->issues, i, v) if (v == issue)
    {
        json_array_remove(self->issues, i);
        break;
    }
    /* its links go with it */
    for (i = json_array_size(self->links); i-- > 0;) {
        const json_t *l = json_array_get(self->links, i);
        if (json_integer_value(json_object_get(l, "inward")) == s_issue_id(issue) ||
            json_integer_value(json_object_get(l, "outward")) == s_issue_id(issue))
            json_array_remove(self->links, i);
    }
    s_fire_issue(self, "jira:issue_deleted", "issue_deleted", issue, user, NULL, NULL);
    json_decref(issue);
    return s_reply(204, NULL);
}

/* ---- transitions (reference 6) ---- */

/* Does edge t leave status (no "from": a global transition)? */
static bool
s_leaves(const json_t *t, const char *status)
{
    const json_t *from = json_object_get(t, "from");
    return !json_array_size(from) || jd_in_list(from, status);
}

jd_reply_t
jd_transitions_get(jd_store_t *self, json_t *user, const char *ref)
{
    (void)user;
    const json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    const json_t *project = jd_project_of(self, issue);
    json_t *list = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(project, "transitions"), i, t)
    {
        if (!s_leaves(t, jd_str(issue, "status")))
            continue;
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:o, s:b}", "id", jd_str(t, "id"), "name", jd_str(t, "name"),
                      "to", s_json_status(self, jd_status(project, jd_str(t, "to"))), "hasScreen",
                      json_array_size(json_object_get(t, "screen")) > 0));
    }
    return s_reply(200, json_pack("{s:s, s:o}", "expand", "transitions", "transitions", list));
}

static json_t *s_comment_new(jd_store_t *self, json_t *issue, const json_t *user,
                             const json_t *body, jd_reply_t *ret);

jd_reply_t
jd_transition_do(jd_store_t *self, json_t *user, const char *ref, const json_t *body)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    const json_t *tr = json_object_get(body, "transition");
    const json_t *tid = json_object_get(tr, "id");
    if (!json_is_object(tr) || !tid)
        return jd_error(400, E_TRANSITION_MISSING, NULL, NULL);
    long long n = s_int_of(tid);
    if (n < 0)
        return jd_error(400, E_TRANSITION_INT, NULL, NULL);
    json_t *project = jd_project_of(self, issue);
    char id[32];
    s_id_text(n, id, sizeof id);
    const json_t *t = jd_find(json_object_get(project, "transitions"), "id", id);
    if (!t || !s_leaves(t, jd_str(issue, "status")))
        return s_errorf(400, E_TRANSITION_INVALID, t ? jd_str(t, "name") : id,
                        jd_str(issue, "key"));
    json_t *errors = json_object(), *vals = json_object();
    const json_t *fields = json_object_get(body, "fields");
    if (json_is_object(fields))
        s_check_fields(self, fields, json_object_get(t, "screen"), vals, errors);
    const json_t *update = json_object_get(body, "update");
    const json_t *comment_op =
        json_object_get(json_array_get(json_object_get(update, "comment"), 0), "add");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)update, k, v) if (strcmp(k, "comment") != 0)
        s_set_error(errors, k, E_CANNOT_SET, k);
    if (json_object_size(errors)) {
        json_decref(vals);
        return s_field_errors(errors);
    }
    json_decref(errors);
    json_t *comment = NULL;
    if (comment_op) {
        jd_reply_t bad;
        comment = s_comment_new(self, issue, user, comment_op, &bad);
        if (!comment) {
            json_decref(vals);
            return bad;
        }
    }
    json_t *items = json_array();
    const json_t *from = jd_status(project, jd_str(issue, "status"));
    const json_t *to = jd_status(project, jd_str(t, "to"));
    json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "field", "status",
                                           "fieldtype", "jira", "from", jd_str(from, "id"),
                                           "fromString", jd_str(from, "name"), "to",
                                           jd_str(to, "id"), "toString", jd_str(to, "name")));
    json_object_set_new(issue, "status", json_string(jd_str(to, "id")));
    s_apply(self, issue, vals, items);
    json_decref(vals);
    json_object_set_new(issue, "updated_ms", json_integer(s_now_ms()));
    s_fire_issue(self, "jira:issue_updated", "issue_generic", issue, user, s_changelog(self, items),
                 comment ? s_json_comment(self, issue, comment) : NULL);
    return s_reply(204, NULL);
}

/* ---- comments (reference 7) ---- */

/* Checks a visibility object for user; returns 0, or -1 with *ret the 400. */
static int
s_visibility_check(const json_t *user, const json_t *vis, jd_reply_t *ret)
{
    if (!vis || json_is_null(vis))
        return 0;
    const char *type = jd_str(vis, "type"), *value = jd_str(vis, "value");
    if (!type || !value || (strcmp(type, "role") != 0 && strcmp(type, "group") != 0)) {
        *ret = jd_error(400, NULL, "commentLevel", E_VISIBILITY);
        return -1;
    }
    if (!s_may_see(user, vis)) {
        char msg[JD_MSG_MAX];
        snprintf(msg, sizeof msg, strcmp(type, "role") == 0 ? E_ROLE_MEMBER : E_GROUP_MEMBER,
                 value);
        *ret = jd_error(400, NULL, "commentLevel", msg);
        return -1;
    }
    return 0;
}

/* Stores a new comment from body ({body, visibility?}) on issue. Returns it (borrowed from
   the issue) or NULL with *ret the 400. */
static json_t *
s_comment_new(jd_store_t *self, json_t *issue, const json_t *user, const json_t *body,
              jd_reply_t *ret)
{
    const char *text = jd_str(body, "body");
    if (!text || !*text) {
        *ret = jd_error(400, NULL, "comment", E_COMMENT_EMPTY);
        return NULL;
    }
    const json_t *vis = json_object_get(body, "visibility");
    if (s_visibility_check(user, vis, ret) != 0)
        return NULL;
    char id[32];
    int64_t now = s_now_ms();
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id",
                          s_id_text(self->next_comment++, id, sizeof id), "author",
                          jd_str(user, "name"), "update_author", jd_str(user, "name"), "body", text,
                          "created_ms", (json_int_t)now, "updated_ms", (json_int_t)now);
    if (c && vis && !json_is_null(vis))
        json_object_set_new(
            c, "visibility",
            json_pack("{s:s, s:s}", "type", jd_str(vis, "type"), "value", jd_str(vis, "value")));
    json_array_append_new(json_object_get(issue, "comments"), c);
    json_object_set_new(issue, "updated_ms", json_integer(now));
    return c;
}

/* DC fires a standalone comment event (no issue) and then jira:issue_updated (reference 12). */
static void
s_fire_comment(jd_store_t *self, const char *event, const char *type, json_t *issue,
               const json_t *user, const json_t *c)
{
    json_t *p = json_pack("{s:I, s:s, s:o}", "timestamp", (json_int_t)s_now_ms(), "webhookEvent",
                          event, "comment", s_json_comment(self, issue, c));
    if (p)
        s_fire(self, event, issue, p);
    s_fire_issue(self, "jira:issue_updated", type, issue, user, NULL,
                 s_json_comment(self, issue, c));
}

jd_reply_t
jd_comment_add(jd_store_t *self, json_t *user, const char *ref, const json_t *body)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    jd_reply_t bad;
    json_t *c = s_comment_new(self, issue, user, body, &bad);
    if (!c)
        return bad;
    s_fire_comment(self, "comment_created", "issue_commented", issue, user, c);
    return s_reply(201, s_json_comment(self, issue, c));
}

/* The comment id of issue that user may see, or NULL. */
static json_t *
s_comment(json_t *issue, const json_t *user, const char *id)
{
    json_t *c = jd_find(json_object_get(issue, "comments"), "id", id);
    return c && s_may_see(user, json_object_get(c, "visibility")) ? c : NULL;
}

jd_reply_t
jd_comment_edit(jd_store_t *self, json_t *user, const char *ref, const char *id, const json_t *body)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_t *c = s_comment(issue, user, id);
    if (!c)
        return s_errorf(404, E_COMMENT_ID, id);
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    const char *text = jd_str(body, "body");
    if (!text || !*text)
        return jd_error(400, NULL, "comment", E_COMMENT_EMPTY);
    const json_t *vis = json_object_get(body, "visibility");
    jd_reply_t bad;
    if (s_visibility_check(user, vis, &bad) != 0)
        return bad;
    int64_t now = s_now_ms();
    json_object_set_new(c, "body", json_string(text));
    json_object_set_new(c, "update_author", json_string(jd_str(user, "name")));
    json_object_set_new(c, "updated_ms", json_integer(now));
    if (json_is_null(vis))
        json_object_del(c, "visibility");
    else if (vis)
        json_object_set_new(
            c, "visibility",
            json_pack("{s:s, s:s}", "type", jd_str(vis, "type"), "value", jd_str(vis, "value")));
    json_object_set_new(issue, "updated_ms", json_integer(now));
    s_fire_comment(self, "comment_updated", "issue_comment_edited", issue, user, c);
    return s_reply(200, s_json_comment(self, issue, c));
}

jd_reply_t
jd_comment_get(jd_store_t *self, json_t *user, const char *ref, const char *id)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_t *c = s_comment(issue, user, id);
    if (!c)
        return s_errorf(404, E_COMMENT_ID, id);
    return s_reply(200, s_json_comment(self, issue, c));
}

/* startAt and maxResults of a query or body; returns 0, or -1 with *ret the 400. */
static int
s_paging(const json_t *params, long long *ret_start, long long *ret_max, long long cap,
         jd_reply_t *ret)
{
    const char *names[] = {"startAt", "maxResults"};
    long long v[2] = {0, JD_PAGE_DEFAULT};
    for (int i = 0; i < 2; i++) {
        const json_t *p = json_object_get(params, names[i]);
        if (!p)
            continue;
        v[i] = s_int_of(p);
        if (v[i] < 0) {
            *ret = s_errorf(400, E_PAGING, names[i]);
            return -1;
        }
    }
    *ret_start = v[0];
    *ret_max = v[1] > cap ? cap : v[1];
    return 0;
}

jd_reply_t
jd_comments_list(jd_store_t *self, json_t *user, const char *ref, const json_t *query)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    long long start, max;
    jd_reply_t bad;
    if (s_paging(query, &start, &max, self->search_max, &bad) != 0)
        return bad;
    json_t *all = s_visible_comments(self, issue, user);
    const char *order = jd_str(query, "orderBy");
    if (order && strcmp(order, "-created") == 0) {
        json_t *rev = json_array();
        for (size_t i = json_array_size(all); i-- > 0;)
            json_array_append(rev, json_array_get(all, i));
        json_decref(all);
        all = rev;
    }
    json_t *page = json_array();
    for (long long i = start; i < start + max && i < (long long)json_array_size(all); i++)
        json_array_append(page, json_array_get(all, (size_t)i));
    json_int_t total = (json_int_t)json_array_size(all);
    json_decref(all);
    return s_reply(200, json_pack("{s:I, s:I, s:I, s:o}", "startAt", (json_int_t)start,
                                  "maxResults", (json_int_t)max, "total", total, "comments", page));
}

/* ---- properties (reference 8) ---- */

jd_reply_t
jd_property_put(jd_store_t *self, json_t *user, const char *ref, const char *key, const char *raw,
                size_t len)
{
    (void)user;
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_t *value = len ? json_loadb(raw, len, JSON_DECODE_ANY, NULL) : NULL;
    jd_reply_t bad;
    if (s_property_check(key, value, s_chars(raw, len), &bad) != 0) {
        json_decref(value);
        return bad;
    }
    json_t *props = json_object_get(issue, "properties");
    unsigned status = json_object_get(props, key) ? 200 : 201;
    json_object_set_new(props, key, value);
    return s_reply(status, NULL);
}

jd_reply_t
jd_property_get(jd_store_t *self, const char *ref, const char *key)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_t *v = json_object_get(json_object_get(issue, "properties"), key);
    if (!v)
        return s_errorf(404, E_PROP_MISSING, key);
    return s_reply(200, json_pack("{s:s, s:O}", "key", key, "value", v));
}

jd_reply_t
jd_property_delete(jd_store_t *self, const char *ref, const char *key)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    if (json_object_del(json_object_get(issue, "properties"), key) != 0)
        return s_errorf(404, E_PROP_MISSING, key);
    return s_reply(204, NULL);
}

jd_reply_t
jd_properties_list(jd_store_t *self, const char *ref)
{
    json_t *issue = jd_issue(self, ref);
    if (!issue)
        return s_not_found();
    json_t *keys = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(issue, "properties"), k, v)
    {
        char url[JD_URL_MAX];
        snprintf(url, sizeof url, "%s/rest/api/2/issue/%lld/properties/%s", self->base,
                 s_issue_id(issue), k);
        json_array_append_new(keys, json_pack("{s:s, s:s}", "self", url, "key", k));
    }
    return s_reply(200, json_pack("{s:o}", "keys", keys));
}

/* ---- issue links (reference 9) ---- */

static json_t *
s_issue_by_ref(jd_store_t *self, const json_t *ref)
{
    const char *k = jd_str(ref, "key");
    return jd_issue(self, k ? k : jd_str(ref, "id"));
}

jd_reply_t
jd_link_create(jd_store_t *self, json_t *user, const json_t *body)
{
    (void)user;
    if (!json_is_object(body))
        return jd_error(400, E_NOT_JSON, NULL, NULL);
    const json_t *type = json_object_get(body, "type");
    const json_t *in_ref = json_object_get(body, "inwardIssue");
    const json_t *out_ref = json_object_get(body, "outwardIssue");
    if (!json_is_object(type) || !json_is_object(in_ref) || !json_is_object(out_ref))
        return jd_error(400, E_LINK_BODY, NULL, NULL);
    const json_t *lt = jd_str(type, "name")
                           ? jd_find(self->link_types, "name", jd_str(type, "name"))
                           : jd_find(self->link_types, "id", jd_str(type, "id"));
    if (!lt) {
        const char *n = jd_str(type, "name");
        return s_errorf(404, E_LINK_TYPE, n ? n : jd_str(type, "id") ? jd_str(type, "id") : "");
    }
    const json_t *in = s_issue_by_ref(self, in_ref), *out = s_issue_by_ref(self, out_ref);
    if (!in || !out)
        return s_not_found();
    char id[32];
    json_array_append_new(self->links,
                          json_pack("{s:s, s:s, s:I, s:I}", "id",
                                    s_id_text(self->next_link++, id, sizeof id), "type",
                                    jd_str(lt, "id"), "inward", (json_int_t)s_issue_id(in),
                                    "outward", (json_int_t)s_issue_id(out)));
    return s_reply(201, NULL);
}

jd_reply_t
jd_link_types(jd_store_t *self)
{
    return s_reply(200, json_pack("{s:O}", "issueLinkTypes", self->link_types));
}

jd_reply_t
jd_search(jd_store_t *self, json_t *user, const json_t *params)
{
    const char *jql = jd_str(params, "jql");
    jd_reply_t r;
    long long start, max;
    if (s_paging(params, &start, &max, self->search_max, &r) != 0)
        return r;
    jd_query_t *q = jd_query_new(self, jql ? jql : "", &r);
    if (!q)
        return r;
    size_t n = json_array_size(self->issues), found = 0;
    json_t **hits = calloc(n ? n : 1, sizeof *hits);
    if (!hits) {
        jd_query_free(&q);
        return jd_error(500, "out of memory", NULL, NULL);
    }
    for (size_t i = 0; i < n; i++)
        if (jd_query_matches(self, q, json_array_get(self->issues, i)))
            hits[found++] = json_array_get(self->issues, i);
    jd_query_sort(q, hits, found);
    json_t *issues = json_array();
    const json_t *fields = json_object_get(params, "fields");
    char *field_list = json_is_array(fields)
                           ? NULL
                           : strdup(jd_str(params, "fields") ? jd_str(params, "fields") : "");
    if (json_is_array(fields)) { /* POST: fields is an array */
        size_t i, len = 1;
        json_t *f;
        json_array_foreach(fields, i, f) len +=
            strlen(json_string_value(f) ? json_string_value(f) : "") + 1;
        field_list = calloc(1, len);
        json_array_foreach(fields, i, f) if (field_list && json_string_value(f))
        {
            if (*field_list)
                strcat(field_list, ",");
            strcat(field_list, json_string_value(f));
        }
    }
    for (long long i = start; i < start + max && i < (long long)found; i++)
        json_array_append_new(
            issues, s_json_issue(self, hits[i], user, field_list, jd_str(params, "properties")));
    free(field_list);
    free(hits);
    jd_query_free(&q);
    return s_reply(200, json_pack("{s:s, s:I, s:I, s:I, s:o}", "expand", "schema,names", "startAt",
                                  (json_int_t)start, "maxResults", (json_int_t)max, "total",
                                  (json_int_t)found, "issues", issues));
}

/* ---- metadata (reference 10) ---- */

/* schema of a field definition, as GET /field shows it. */
static json_t *
s_schema(const json_t *def)
{
    static const struct {
        const char *type;   /* our type */
        const char *json;   /* schema.type */
        const char *items;  /* schema.items or NULL */
        const char *plugin; /* schema.custom of a custom field */
    } kinds[] = {
        {"string", "string", NULL, "com.atlassian.jira.plugin.system.customfieldtypes:textfield"},
        {"text", "string", NULL, "com.atlassian.jira.plugin.system.customfieldtypes:textarea"},
        {"labels", "array", "string", "com.atlassian.jira.plugin.system.customfieldtypes:labels"},
        {"select", "option", NULL, "com.atlassian.jira.plugin.system.customfieldtypes:select"},
        {"multiselect", "array", "option",
         "com.atlassian.jira.plugin.system.customfieldtypes:multiselect"},
        {"number", "number", NULL, "com.atlassian.jira.plugin.system.customfieldtypes:float"},
        {"date", "date", NULL, "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"},
        {"epic_name", "string", NULL, "com.pyxis.greenhopper.jira:gh-epic-label"},
        {"epic_link", "any", NULL, "com.pyxis.greenhopper.jira:gh-epic-link"}};
    size_t i = 0;
    while (i + 1 < sizeof kinds / sizeof kinds[0] && strcmp(kinds[i].type, jd_str(def, "type")))
        i++;
    json_t *s = json_pack("{s:s}", "type", kinds[i].json);
    if (kinds[i].items)
        json_object_set_new(s, "items", json_string(kinds[i].items));
    const char *id = jd_str(def, "id");
    if (json_is_true(json_object_get(def, "custom"))) {
        json_object_set_new(s, "custom", json_string(kinds[i].plugin));
        json_object_set_new(s, "customId", json_integer(atol(id + strlen("customfield_"))));
    } else {
        json_object_set_new(s, "system", json_string(id));
    }
    return s;
}

jd_reply_t
jd_fields_list(jd_store_t *self)
{
    json_t *out = json_array();
    size_t i;
    json_t *def;
    json_array_foreach(self->fields, i, def)
    {
        const char *id = jd_str(def, "id");
        bool custom = json_is_true(json_object_get(def, "custom"));
        char clause[64];
        snprintf(clause, sizeof clause, "cf[%s]", custom ? id + strlen("customfield_") : "");
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:[s, s], s:o}",
                                             "id", id, "key", id, "name", jd_str(def, "name"),
                                             "custom", custom, "orderable", 1, "navigable", 1,
                                             "searchable", 1, "clauseNames", custom ? clause : id,
                                             jd_str(def, "name"), "schema", s_schema(def)));
    }
    return s_reply(200, out);
}

jd_reply_t
jd_project_get(jd_store_t *self, const char *ref)
{
    const json_t *p = jd_project(self, ref);
    if (!p)
        return s_errorf(404, E_NO_PROJECT, ref);
    json_t *v = s_json_project(self, p);
    json_t *types = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(p, "issue_types"), i, t)
        json_array_append_new(types, s_json_issuetype(self, t));
    json_object_set_new(v, "issueTypes", types);
    json_object_set_new(v, "projectTypeKey", json_string("software"));
    return s_reply(200, v);
}

jd_reply_t
jd_status_get(jd_store_t *self, const char *ref)
{
    size_t i, j;
    json_t *p, *s;
    json_array_foreach(self->projects, i, p) json_array_foreach(
        json_object_get(p, "statuses"), j,
        s) if (strcmp(jd_str(s, "id"), ref) == 0 ||
               strcasecmp(jd_str(s, "name"), ref) == 0) return s_reply(200, s_json_status(self, s));
    return s_errorf(404, E_NO_STATUS, ref);
}

jd_reply_t
jd_createmeta(jd_store_t *self, const char *project, const char *type)
{
    if (!project) /* removed in DC 9 (reference 10) */
        return jd_error(404, E_CREATEMETA, NULL, NULL);
    const json_t *p = jd_project(self, project);
    if (!p)
        return s_errorf(400, E_NO_PROJECT, project);
    json_t *values = json_array();
    size_t i;
    json_t *v;
    if (!type) {
        json_array_foreach(json_object_get(p, "issue_types"), i, v)
            json_array_append_new(values, s_json_issuetype(self, v));
    } else {
        const json_t *t = jd_issuetype(p, type);
        if (!t) {
            json_decref(values);
            return s_errorf(404, "Issue type with id '%s' does not exist.", type);
        }
        json_t *req = json_object(); /* which fields are required: an empty value set */
        json_t *errs = json_object();
        s_check_required(self, t, req, errs);
        json_decref(req);
        json_t *id;
        json_array_foreach(json_object_get(t, "create"), i, id)
        {
            const json_t *def = jd_field(self, json_string_value(id));
            json_t *f = json_pack("{s:b, s:o, s:s, s:s, s:b, s:[s]}", "required",
                                  json_object_get(errs, jd_str(def, "id")) != NULL, "schema",
                                  s_schema(def), "name", jd_str(def, "name"), "fieldId",
                                  jd_str(def, "id"), "hasDefaultValue", 0, "operations", "set");
            const json_t *opts = json_object_get(def, "options");
            if (opts) {
                json_t *allowed = json_array();
                size_t j;
                json_t *o;
                json_array_foreach(opts, j, o)
                {
                    char url[JD_URL_MAX];
                    snprintf(url, sizeof url, "%s/rest/api/2/customFieldOption/%s", self->base,
                             jd_str(o, "id"));
                    json_array_append_new(allowed,
                                          json_pack("{s:s, s:s, s:s}", "self", url, "value",
                                                    jd_str(o, "value"), "id", jd_str(o, "id")));
                }
                json_object_set_new(f, "allowedValues", allowed);
            }
            json_array_append_new(values, f);
        }
        json_decref(errs);
    }
    json_int_t n = (json_int_t)json_array_size(values);
    return s_reply(200, json_pack("{s:I, s:i, s:I, s:b, s:o}", "maxResults", n, "startAt", 0,
                                  "total", n, "isLast", 1, "values", values));
}

/* ---- control ---- */

static bool
s_all_strings(const json_t *v)
{
    size_t i;
    const json_t *e;
    if (!v)
        return true;
    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, e) if (!json_is_string(e)) return false;
    return true;
}

jd_reply_t
jd_ctl_field(jd_store_t *self, const json_t *in)
{
    static const char *const types[] = {"string", "text", "labels",    "select",   "multiselect",
                                        "number", "date", "epic_name", "epic_link"};
    const char *id = jd_str(in, "id"), *name = jd_str(in, "name"), *type = jd_str(in, "type");
    long n = 0;
    char tail;
    if (!id || sscanf(id, "customfield_%ld%c", &n, &tail) != 1 || n <= 0 || !name || !type)
        return s_ctl_error("a field needs id (customfield_N), name and type");
    if (jd_field(self, id))
        return s_ctl_error("a field with this id exists");
    bool known = false;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        known = known || strcmp(type, types[i]) == 0;
    if (!known)
        return s_ctl_error("type: string, text, labels, select, multiselect, number, date, "
                           "epic_name or epic_link");
    const json_t *opts = json_object_get(in, "options");
    size_t i;
    const json_t *o;
    json_array_foreach(opts, i, o) if (!jd_str(o, "id") || !jd_str(o, "value")) return s_ctl_error(
        "each option needs id and value strings");
    json_t *def =
        json_pack("{s:s, s:s, s:s, s:b}", "id", id, "name", name, "type", type, "custom", 1);
    if (strstr(type, "select"))
        json_object_set_new(def, "options", opts ? json_deep_copy(opts) : json_array());
    json_array_append(self->fields, def);
    return s_reply(201, def);
}

/* v (a new reference), or dflt (taken) when v is NULL. */
static json_t *
s_or(const json_t *v, json_t *dflt)
{
    if (!v)
        return dflt;
    json_decref(dflt);
    return json_incref((json_t *)v);
}

static const char *
s_or_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *v = jd_str(obj, key);
    return v ? v : dflt;
}

/* Checks the statuses, transitions and issue types of a project (p). Returns NULL or what is
   wrong. */
static const char *
s_project_problem(const json_t *p, const json_t *types)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "statuses"), i,
                       v) if (!jd_str(v, "id") || !jd_str(v, "name")) return "each "
                                                                             "status "
                                                                             "needs id "
                                                                             "and name";
    json_array_foreach(json_object_get(p, "transitions"), i, v)
    {
        if (!jd_str(v, "id") || s_int_of(json_object_get(v, "id")) < 0 || !jd_str(v, "name") ||
            !jd_status(p, jd_str(v, "to")) || !s_all_strings(json_object_get(v, "from")) ||
            !s_all_strings(json_object_get(v, "screen")))
            return "each transition needs a numeric id, a name, a known to, and from and screen "
                   "as arrays of strings";
    }
    if (!jd_status(p, jd_str(p, "initial")))
        return "initial must be a status id";
    json_array_foreach(types, i, v)
    {
        if (!jd_str(v, "id") || !jd_str(v, "name"))
            return "each issue type needs id and name";
        if (!s_all_strings(json_object_get(v, "create")) ||
            !s_all_strings(json_object_get(v, "edit")) ||
            !s_all_strings(json_object_get(v, "required")))
            return "create, edit and required are arrays of field ids";
    }
    return NULL;
}

jd_reply_t
jd_ctl_project(jd_store_t *self, const json_t *in)
{
    const char *key = jd_str(in, "key");
    if (!key || !*key || jd_project(self, key))
        return s_ctl_error("a project needs a new key");
    for (const char *c = key; *c; c++)
        if (!isupper((unsigned char)*c) && !(c > key && isdigit((unsigned char)*c)))
            return s_ctl_error("a project key is upper-case letters and digits");
    const json_t *types = json_object_get(in, "issue_types");
    const json_t *statuses = json_object_get(in, "statuses");
    const json_t *transitions = json_object_get(in, "transitions");
    if (!json_array_size(types) || !json_array_size(statuses) ||
        (transitions && !json_is_array(transitions)))
        return s_ctl_error("a project needs issue_types and statuses (arrays)");
    char id[32];
    s_id_text(JD_ID_FIRST + (long long)json_array_size(self->projects), id, sizeof id);
    json_t *p =
        json_pack("{s:s, s:s, s:s, s:I, s:[], s:O, s:o, s:s}", "id", s_or_str(in, "id", id), "key",
                  key, "name", s_or_str(in, "name", key), "counter", (json_int_t)0, "issue_types",
                  "statuses", statuses, "transitions", s_or(transitions, json_array()), "initial",
                  s_or_str(in, "initial", s_or_str(json_array_get(statuses, 0), "id", "")));
    const char *problem = p ? s_project_problem(p, types) : "out of memory";
    if (problem) {
        json_decref(p);
        return s_ctl_error(problem);
    }
    size_t i;
    json_t *v;
    json_array_foreach(types, i, v)
    {
        json_t *create = s_or(json_object_get(v, "create"),
                              json_pack("[s, s, s]", "summary", "description", "labels"));
        json_array_append_new(json_object_get(p, "issue_types"),
                              json_pack("{s:s, s:s, s:O, s:o, s:o}", "id", jd_str(v, "id"), "name",
                                        jd_str(v, "name"), "create", create, "edit",
                                        s_or(json_object_get(v, "edit"), json_incref(create)),
                                        "required",
                                        s_or(json_object_get(v, "required"), json_array())));
        json_decref(create);
    }
    json_array_append(self->projects, p);
    return s_reply(201, p);
}

jd_reply_t
jd_ctl_user(jd_store_t *self, const json_t *in)
{
    const char *name = jd_str(in, "name");
    if (!name || !*name || jd_user_by_name(self, name))
        return s_ctl_error("a user needs a new name");
    if (!s_all_strings(json_object_get(in, "groups")) ||
        !s_all_strings(json_object_get(in, "roles")))
        return s_ctl_error("groups and roles are arrays of strings");
    json_t *u = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", name, "display_name",
                          s_or_str(in, "display_name", name), "email", s_or_str(in, "email", ""),
                          "groups", s_or(json_object_get(in, "groups"), json_array()), "roles",
                          s_or(json_object_get(in, "roles"), json_array()));
    const char *secrets[] = {"password", "token"};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        if (u && jd_str(in, secrets[i]))
            json_object_set_new(u, secrets[i], json_string(jd_str(in, secrets[i])));
    json_array_append(self->users, u);
    return s_reply(201, u);
}

jd_reply_t
jd_ctl_webhook(jd_store_t *self, const json_t *in)
{
    const char *url = jd_str(in, "url"), *jql = jd_str(in, "jql");
    if (!url || strncmp(url, "http://", 7) != 0)
        return s_ctl_error("a webhook needs an http:// url");
    if (!s_all_strings(json_object_get(in, "events")))
        return s_ctl_error("events is an array of event names");
    if (jql && *jql) {
        jd_reply_t bad;
        jd_query_t *q = jd_query_new(self, jql, &bad);
        if (!q)
            return bad;
        jd_query_free(&q);
    }
    char id[32];
    json_t *h = json_pack("{s:s, s:s, s:o, s:s}", "id",
                          s_id_text((long long)json_array_size(self->webhooks) + 1, id, sizeof id),
                          "url", url, "events", s_or(json_object_get(in, "events"), json_array()),
                          "jql", jql ? jql : "");
    if (h && jd_str(in, "secret"))
        json_object_set_new(h, "secret", json_string(jd_str(in, "secret")));
    json_array_append(self->webhooks, h);
    return s_reply(201, h);
}

jd_reply_t
jd_ctl_config(jd_store_t *self, const json_t *in)
{
    const json_t *basic = json_object_get(in, "basic_auth"),
                 *max = json_object_get(in, "search_max"),
                 *indexed = json_object_get(in, "indexed_properties");
    if ((basic && !json_is_boolean(basic)) ||
        (max && (!json_is_integer(max) || json_integer_value(max) < 1)) || !s_all_strings(indexed))
        return s_ctl_error("basic_auth: bool, search_max: integer >= 1, indexed_properties: "
                           "array of property keys");
    if (basic)
        self->basic_enabled = json_is_true(basic);
    if (max)
        self->search_max = (long)json_integer_value(max);
    if (indexed)
        json_array_extend(self->indexed, (json_t *)indexed);
    return s_reply(200,
                   json_pack("{s:b, s:I, s:O}", "basic_auth", self->basic_enabled, "search_max",
                             (json_int_t)self->search_max, "indexed_properties", self->indexed));
}

json_t *
jd_store_dump(jd_store_t *self)
{
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:b, s:I, s:o}", "fields", self->fields,
                     "projects", self->projects, "users", self->users, "issues", self->issues,
                     "links", self->links, "webhooks", self->webhooks, "indexed_properties",
                     self->indexed, "basic_auth", self->basic_enabled, "requests",
                     (json_int_t)self->requests, "deliveries", jd_hooks_log(self->hooks));
}

jd_store_t *
jd_store_new(jd_hooks_t *hooks)
{
    jd_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    self->hooks = hooks;
    self->basic_enabled = true;
    self->next_id = JD_ID_FIRST;
    self->next_comment = JD_ID_FIRST;
    self->next_link = JD_ID_FIRST;
    self->next_changelog = JD_ID_FIRST;
    self->search_max = JD_SEARCH_MAX;
    self->faults.status = 503; /* until /_control/faults names another */
    self->faults.retry_after = -1;
    self->fields = json_pack("[{s:s, s:s, s:s, s:b}, {s:s, s:s, s:s, s:b}, {s:s, s:s, s:s, s:b}, "
                             "{s:s, s:s, s:s, s:b}]",
                             "id", "summary", "name", "Summary", "type", "string", "custom", 0,
                             "id", "description", "name", "Description", "type", "text", "custom",
                             0, "id", "labels", "name", "Labels", "type", "labels", "custom", 0,
                             "id", "duedate", "name", "Due Date", "type", "date", "custom", 0);
    /* Jira's default link types */
    self->link_types = json_pack(
        "[{s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]",
        "id", "10000", "name", "Blocks", "inward", "is blocked by", "outward", "blocks", "id",
        "10001", "name", "Cloners", "inward", "is cloned by", "outward", "clones", "id", "10002",
        "name", "Duplicate", "inward", "is duplicated by", "outward", "duplicates", "id", "10003",
        "name", "Relates", "inward", "relates to", "outward", "relates to");
    self->projects = json_array();
    self->users = json_array();
    self->issues = json_array();
    self->links = json_array();
    self->webhooks = json_array();
    self->indexed = json_array();
    if (!self->fields || !self->link_types || !self->projects || !self->users || !self->issues ||
        !self->links || !self->webhooks || !self->indexed)
        jd_store_destroy(&self);
    return self;
}

void
jd_store_destroy(jd_store_t **self_p)
{
    jd_store_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    json_decref(self->fields);
    json_decref(self->link_types);
    json_decref(self->projects);
    json_decref(self->users);
    json_decref(self->issues);
    json_decref(self->links);
    json_decref(self->webhooks);
    json_decref(self->indexed);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
