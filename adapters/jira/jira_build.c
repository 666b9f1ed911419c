/*  ob_jira_build: see jira_build.h. */
#include "jira_build.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jira_json.h"
#include "orderbus/error.h"

#define S_LIST_SEPARATOR ", "
#define S_CUT_SUFFIX "\n[...]" /* ends a content cut at OB_JIRA_CONTENT_MAX */
#define S_NUMBER_TEXT 24       /* bytes of a u64 in decimal, with its NUL */

void
ob_jira_label(uint64_t oms_id, uint64_t project_id, uint64_t item_id,
              char ret_label[OB_JIRA_LABEL_MAX])
{
    if (item_id)
        snprintf(ret_label, OB_JIRA_LABEL_MAX,
                 OB_JIRA_LABEL_PREFIX "%" PRIu64 "-p%" PRIu64 "-i%" PRIu64, oms_id, project_id,
                 item_id);
    else
        snprintf(ret_label, OB_JIRA_LABEL_MAX, OB_JIRA_LABEL_PREFIX "%" PRIu64 "-p%" PRIu64, oms_id,
                 project_id);
}

/* Reads 1..19 decimal digits without a leading zero at *p, advancing it. Returns 0 or -1. */
static int
s_digits(const char **p, uint64_t *ret_value)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == OB_JIRA_JIRA_ID_MAX - 1 || (n == 0 && s[n] == '0'))
            return -1;
        v = v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    if (n == 0 || v > OB_JIRA_OMS_ID_MAX)
        return -1;
    *p = s + n;
    *ret_value = v;
    return 0;
}

int
ob_jira_label_parse(uint64_t oms_id, const char *label, uint64_t *ret_project_id,
                    uint64_t *ret_item_id)
{
    const char *p = label;
    uint64_t oms = 0, project = 0, item = 0;
    size_t prefix = strlen(OB_JIRA_LABEL_PREFIX);
    if (strncmp(p, OB_JIRA_LABEL_PREFIX, prefix))
        return OB_ERR_INVALID_ARGUMENT;
    p += prefix;
    if (s_digits(&p, &oms) || oms != oms_id || strncmp(p, "-p", 2))
        return OB_ERR_INVALID_ARGUMENT;
    p += 2;
    if (s_digits(&p, &project))
        return OB_ERR_INVALID_ARGUMENT;
    if (!strncmp(p, "-i", 2)) {
        p += 2;
        if (s_digits(&p, &item))
            return OB_ERR_INVALID_ARGUMENT;
    }
    if (*p)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_project_id = project;
    *ret_item_id = item;
    return 0;
}

void
ob_jira_mark(uint64_t oms_id, uint64_t message_id, char ret_mark[OB_JIRA_MARK_MAX])
{
    snprintf(ret_mark, OB_JIRA_MARK_MAX, OB_JIRA_MARK_PREFIX "%" PRIu64 ":m%" PRIu64 "]", oms_id,
             message_id);
}

int
ob_jira_marked(const char *text, size_t len)
{
    size_t plen = strlen(OB_JIRA_MARK_PREFIX);
    for (size_t i = 0; i + plen <= len; i++)
        if (!memcmp(text + i, OB_JIRA_MARK_PREFIX, plen))
            return 1;
    return 0;
}

/* Serialises root (borrowed) into *ret_body. Returns 0 or -ENOMEM. */
static int
s_dump(json_t *root, char **ret_body)
{
    char *text = json_dumps(root, JSON_COMPACT);
    if (!text)
        return -ENOMEM;
    *ret_body = text;
    return 0;
}

int
ob_jira_build_search(const ob_jira_config_t *cfg, const char *label, char **ret_body)
{
    char jql[OB_JIRA_KEY_MAX + OB_JIRA_LABEL_MAX + 64];
    /* Both are [A-Za-z0-9_-] (the key validated, the label ours): no quoting needed. */
    snprintf(jql, sizeof jql, "project = %s AND labels = %s ORDER BY id ASC", cfg->project, label);
    json_t *root =
        json_pack("{s:s, s:[s, s], s:i}", "jql", jql, "fields", "key", "summary", "maxResults", 2);
    if (!root)
        return -ENOMEM;
    int rc = s_dump(root, ret_body);
    json_decref(root);
    return rc;
}

/* Sets fields[id] to a single-line copy of text if the field is configured and text given. */
static int
s_set_line(json_t *fields, const char *id, const char *text)
{
    if (!id[0] || !text)
        return 0;
    char line[OB_JIRA_SUMMARY_MAX + 1];
    ob_jira_json_line(text, line, sizeof line);
    return json_object_set_new(fields, id, json_string(line)) ? -ENOMEM : 0;
}

/* Sets fields[id] to the strings of array arr (borrowed) joined by ", ", or to N/A when it
   has none and na_if_empty; nothing if the field is not configured. */
static int
s_set_joined(json_t *fields, const char *id, json_t *arr, int na_if_empty)
{
    if (!id[0])
        return 0;
    char line[OB_JIRA_SUMMARY_MAX + 1];
    size_t used = 0;
    size_t i;
    json_t *v;
    line[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            continue;
        used += (size_t)snprintf(line + used, sizeof line - used, "%s%s",
                                 used ? S_LIST_SEPARATOR : "", json_string_value(v));
        if (used >= sizeof line) {
            used = sizeof line - 1;
            break;
        }
    }
    if (!used && !na_if_empty)
        return 0;
    return s_set_line(fields, id, used ? line : OB_JIRA_NA);
}

/* Sets fields[id] to the select option {"id": option}, if both are configured. */
static int
s_set_option(json_t *fields, const char *id, const char *option)
{
    if (!id[0] || !option[0])
        return 0;
    return json_object_set_new(fields, id, json_pack("{s:s}", "id", option)) ? -ENOMEM : 0;
}

/* Adds to root what every issue of the adapter has: project, issue type, summary, the label
   and the property. */
static int
s_issue_common(const ob_jira_config_t *cfg, json_t *root, json_t *fields, const char *type_id,
               const char *summary, uint64_t project_id, uint64_t item_id)
{
    char label[OB_JIRA_LABEL_MAX];
    ob_jira_label(cfg->oms_id, project_id, item_id, label);
    json_t *property = json_pack("[{s:s, s:{s:I, s:I, s:I}}]", "key", OB_JIRA_PROPERTY, "value",
                                 "oms_id", (json_int_t)cfg->oms_id, "project_id",
                                 (json_int_t)project_id, "project_item_id", (json_int_t)item_id);
    if (!property || json_object_set_new(root, "properties", property))
        return -ENOMEM;
    if (json_object_set_new(fields, "project", json_pack("{s:s}", "key", cfg->project)) ||
        json_object_set_new(fields, "issuetype", json_pack("{s:s}", "id", type_id)) ||
        json_object_set_new(fields, "labels", json_pack("[s]", label)))
        return -ENOMEM;
    return s_set_line(fields, "summary", summary);
}

int
ob_jira_owner_name(const char *snapshot, size_t len, char **ret_name)
{
    json_t *root = NULL;
    int rc = ob_jira_json_load(snapshot, len, OB_JIRA_SNAPSHOT_MAX, &root);
    if (rc)
        return rc;
    const char *name = ob_jira_json_str(json_object_get(root, "owner"), "name");
    char *copy = strdup(name ? name : "");
    json_decref(root);
    if (!copy)
        return -ENOMEM;
    *ret_name = copy;
    return 0;
}

/* The fields of an epic, from the Project snapshot root (borrowed). */
static int
s_epic_fields(const ob_jira_config_t *cfg, json_t *fields, json_t *project, uint64_t project_id)
{
    json_t *owner = json_object_get(project, "owner");
    json_t *attrs = json_object_get(project, "attributes");
    const char *name = ob_jira_json_str(attrs, "name");
    const char *typology = ob_jira_json_str(attrs, "customer_typology");
    char text[OB_JIRA_SUMMARY_MAX + 1];
    int rc = 0;
    snprintf(text, sizeof text, "Project %" PRIu64, project_id);
    rc |= s_set_line(fields, cfg->epic_name_field, name ? name : text);
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_NAME], ob_jira_json_str(owner, "first_name"));
    rc |=
        s_set_line(fields, cfg->field[OB_JIRA_F_CI_SURNAME], ob_jira_json_str(owner, "last_name"));
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_EMAIL], ob_jira_json_str(owner, "email"));
    rc |=
        s_set_line(fields, cfg->field[OB_JIRA_F_CI_DISPLAY_NAME], ob_jira_json_str(owner, "name"));
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_UID], ob_jira_json_str(owner, "uid"));
    /* The reference writes these three for individual customers only (9.6). */
    if (typology && (!strcmp(typology, "single_user") || !strcmp(typology, "research"))) {
        rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_INSTITUTION],
                         ob_jira_json_str(attrs, "organization"));
        rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_DEPARTMENT],
                         ob_jira_json_str(attrs, "department"));
        rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CI_WEBPAGE],
                         ob_jira_json_str(attrs, "department_webpage"));
    }
    rc |= s_set_joined(fields, cfg->field[OB_JIRA_F_CP_DISCIPLINE],
                       json_object_get(attrs, "scientific_domains"), 1);
    if (typology) {
        static const struct {
            const char *value;
            ob_jira_option_t option;
        } typologies[] = {
            {"single_user", OB_JIRA_O_SINGLE_USER},
            {"research", OB_JIRA_O_RESEARCH},
            {"private_company", OB_JIRA_O_PRIVATE_COMPANY},
            {"project", OB_JIRA_O_PROJECT},
        };
        for (size_t i = 0; i < sizeof typologies / sizeof typologies[0]; i++)
            if (!strcmp(typology, typologies[i].value))
                rc |= s_set_option(fields, cfg->field[OB_JIRA_F_CP_TYPOLOGY],
                                   cfg->option[typologies[i].option]);
    }
    const char *country = ob_jira_json_str(attrs, "country");
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CP_COUNTRY], country ? country : OB_JIRA_NA);
    rc |= s_set_joined(fields, cfg->field[OB_JIRA_F_CP_COLLAB],
                       json_object_get(attrs, "collaboration_countries"), 1);
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CP_GROUP],
                     ob_jira_json_str(attrs, "user_group_name"));
    snprintf(text, sizeof text, "%s (%" PRIu64 ")", name ? name : "", project_id);
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_SO_PROJECT], text);
    return rc ? -ENOMEM : 0;
}

/* What an issue body is built from: the snapshot, and what its fields need. */
typedef struct s_issue {
    const char *type_id;  /* the issue type */
    uint64_t project_id;  /* the Marketplace project */
    uint64_t item_id;     /* its item, 0 for the epic */
    const char *epic_key; /* an item's epic */
    const char *owner;    /* an item's project owner's name */
} s_issue_t;

/* Fills fields from the snapshot root and writes the summary. Returns 0 or an error. */
typedef int(s_fill_fn)(const ob_jira_config_t *cfg, const s_issue_t *issue, json_t *fields,
                       json_t *snapshot, char summary[OB_JIRA_SUMMARY_MAX + 1]);

/* Builds {"fields": ..., "properties": ...} of an issue from the snapshot (borrowed). */
static int
s_build_issue(const ob_jira_config_t *cfg, const s_issue_t *issue, s_fill_fn *fill,
              const char *snapshot, size_t len, char **ret_body)
{
    json_t *parsed = NULL;
    int rc = ob_jira_json_load(snapshot, len, OB_JIRA_SNAPSHOT_MAX, &parsed);
    if (rc)
        return rc;
    json_t *root = json_object();
    json_t *fields = json_object();
    char summary[OB_JIRA_SUMMARY_MAX + 1];
    rc = -ENOMEM;
    if (!root || !fields || json_object_set(root, "fields", fields))
        goto out;
    if ((rc = fill(cfg, issue, fields, parsed, summary)) ||
        (rc = s_issue_common(cfg, root, fields, issue->type_id, summary, issue->project_id,
                             issue->item_id)))
        goto out;
    rc = s_dump(root, ret_body);
out:
    json_decref(fields);
    json_decref(root);
    json_decref(parsed);
    return rc;
}

/* s_fill_fn of an epic. */
static int
s_fill_epic(const ob_jira_config_t *cfg, const s_issue_t *issue, json_t *fields, json_t *project,
            char summary[OB_JIRA_SUMMARY_MAX + 1])
{
    const char *owner = ob_jira_json_str(json_object_get(project, "owner"), "name");
    snprintf(summary, OB_JIRA_SUMMARY_MAX + 1, "Project %s", owner ? owner : "");
    return s_epic_fields(cfg, fields, project, issue->project_id);
}

int
ob_jira_build_epic(const ob_jira_config_t *cfg, uint64_t project_id, const char *snapshot,
                   size_t len, char **ret_body)
{
    s_issue_t issue = {cfg->epic_type, project_id, 0, NULL, NULL};
    return s_build_issue(cfg, &issue, s_fill_epic, snapshot, len, ret_body);
}

/* The SO-1 text: {category, service, offer, attributes: {label: value}} as JSON. */
static int
s_set_order(const ob_jira_config_t *cfg, json_t *fields, json_t *attrs)
{
    const char *id = cfg->field[OB_JIRA_F_SO_1];
    if (!id[0])
        return 0;
    json_t *props = json_object();
    json_t *order =
        json_pack("{s:s?, s:s?, s:s?}", "category", ob_jira_json_str(attrs, "category"), "service",
                  ob_jira_json_str(attrs, "service"), "offer", ob_jira_json_str(attrs, "offer"));
    int rc = -ENOMEM;
    size_t i;
    json_t *v;
    if (!props || !order)
        goto out;
    json_array_foreach(json_object_get(attrs, "offer_properties"), i, v)
    {
        const char *label = ob_jira_json_str(v, "label");
        json_t *value = json_object_get(v, "value");
        if (label && value && json_object_set(props, label, value))
            goto out;
    }
    if (json_object_set(order, "attributes", props))
        goto out;
    char *text = json_dumps(order, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        goto out;
    rc = strlen(text) < OB_JIRA_TEXT_MAX ? 0 : OB_ERR_TOO_LARGE;
    if (!rc && json_object_set_new(fields, id, json_string(text)))
        rc = -ENOMEM;
    free(text);
out:
    json_decref(props);
    json_decref(order);
    return rc;
}

/* The fields of an item's issue, from the ProjectItem snapshot (borrowed). */
static int
s_item_fields(const ob_jira_config_t *cfg, json_t *fields, json_t *item, const char *epic_key)
{
    json_t *attrs = json_object_get(item, "attributes");
    int rc = s_set_line(fields, cfg->epic_link_field, epic_key);
    rc |= s_set_joined(fields, cfg->field[OB_JIRA_F_CP_PLATFORMS],
                       json_object_get(attrs, "platforms"), 0);
    json_t *voucher = json_object_get(attrs, "request_voucher");
    if (json_is_boolean(voucher))
        rc |= s_set_option(
            fields, cfg->field[OB_JIRA_F_CP_VOUCHER],
            cfg->option[json_is_true(voucher) ? OB_JIRA_O_VOUCHER_TRUE : OB_JIRA_O_VOUCHER_FALSE]);
    rc |= s_set_line(fields, cfg->field[OB_JIRA_F_CP_VOUCHER_ID],
                     ob_jira_json_str(attrs, "supplied_voucher_id"));
    if (rc)
        return -ENOMEM;
    return s_set_order(cfg, fields, attrs);
}

/* s_fill_fn of an item's issue. */
static int
s_fill_item(const ob_jira_config_t *cfg, const s_issue_t *issue, json_t *fields, json_t *item,
            char summary[OB_JIRA_SUMMARY_MAX + 1])
{
    const char *service = ob_jira_json_str(json_object_get(item, "attributes"), "service");
    snprintf(summary, OB_JIRA_SUMMARY_MAX + 1, "Service order, %s %s", issue->owner,
             service ? service : "");
    return s_item_fields(cfg, fields, item, issue->epic_key);
}

int
ob_jira_build_item(const ob_jira_config_t *cfg, uint64_t project_id, uint64_t item_id,
                   const char *epic_key, const char *owner, const char *snapshot, size_t len,
                   char **ret_body)
{
    s_issue_t issue = {cfg->item_type, project_id, item_id, epic_key, owner};
    return s_build_issue(cfg, &issue, s_fill_item, snapshot, len, ret_body);
}

int
ob_jira_item_status(const char *snapshot, size_t len, char ret_type[OB_JIRA_STATUS_TYPE_MAX])
{
    json_t *item = NULL;
    int rc = ob_jira_json_load(snapshot, len, OB_JIRA_SNAPSHOT_MAX, &item);
    if (rc)
        return rc;
    const char *type = ob_jira_json_str(json_object_get(item, "status"), "type");
    rc = OB_ERR_MALFORMED;
    if (type && strlen(type) < OB_JIRA_STATUS_TYPE_MAX) {
        snprintf(ret_type, OB_JIRA_STATUS_TYPE_MAX, "%s", type);
        rc = 0;
    }
    json_decref(item);
    return rc;
}

int
ob_jira_build_transition(const ob_jira_config_t *cfg, const char *type, char **ret_body)
{
    const ob_jira_status_t *row = ob_jira_config_status_by_type(cfg, type);
    if (!row || !row->transition[0])
        return OB_JIRA_NOTHING;
    json_t *root = json_pack("{s:{s:s}}", "transition", "id", row->transition);
    if (!root)
        return -ENOMEM;
    int rc = s_dump(root, ret_body);
    json_decref(root);
    return rc;
}

int
ob_jira_build_comment(const ob_jira_config_t *cfg, uint64_t message_id, const char *snapshot,
                      size_t len, char **ret_body)
{
    json_t *msg = NULL;
    int rc = ob_jira_json_load(snapshot, len, OB_JIRA_SNAPSHOT_MAX, &msg);
    if (rc)
        return rc;
    json_t *author = json_object_get(msg, "author");
    const char *scope = ob_jira_json_str(msg, "scope");
    const char *content = ob_jira_json_str(msg, "content");
    const char *name = ob_jira_json_str(author, "name");
    const char *role = ob_jira_json_str(author, "role");
    char who[OB_JIRA_SUMMARY_MAX + 1];
    char mark[OB_JIRA_MARK_MAX];
    char *text = NULL;
    json_t *root = NULL;
    int direct = scope && !strcmp(scope, "user_direct");
    int internal = scope && !strcmp(scope, "internal");
    rc = OB_ERR_MALFORMED;
    if (!scope || (!direct && !internal && strcmp(scope, "public")))
        goto out;
    rc = OB_JIRA_NOTHING;
    if (internal && !cfg->internal_role[0])
        goto out;
    ob_jira_json_line(name ? name : "someone", who, sizeof who);
    ob_jira_mark(cfg->oms_id, message_id, mark);
    rc = -ENOMEM;
    if (direct) /* its content is the user's alone: never copied, whatever the snapshot holds */
        text = ob_jira_json_printf("%s (%s) sent the user a direct message in the Marketplace; "
                                   "its content is not copied here.\n\n%s",
                                   who, role ? role : "?", mark);
    else {
        size_t clen = content ? strlen(content) : 0;
        int cut = clen > OB_JIRA_CONTENT_MAX;
        if (cut)
            clen = ob_jira_json_utf8_cut(content, OB_JIRA_CONTENT_MAX);
        text = ob_jira_json_printf("%s (%s) wrote in the Marketplace%s:\n\n%.*s%s\n\n%s", who,
                                   role ? role : "?", internal ? " (internal)" : "", (int)clen,
                                   content ? content : "", cut ? S_CUT_SUFFIX : "", mark);
    }
    if (!text)
        goto out;
    root = internal ? json_pack("{s:s, s:{s:s, s:s}}", "body", text, "visibility", "type", "role",
                                "value", cfg->internal_role)
                    : json_pack("{s:s, s:n}", "body", text, "visibility");
    if (!root)
        goto out;
    rc = s_dump(root, ret_body);
out:
    free(text);
    json_decref(root);
    json_decref(msg);
    return rc;
}

int
ob_jira_build_failure(const char *outcome, size_t len, char **ret_body)
{
    json_t *data = NULL;
    int rc = ob_jira_json_load(outcome, len, OB_JIRA_SNAPSHOT_MAX, &data);
    if (rc)
        return rc;
    const char *id = ob_jira_json_str(data, "command_id");
    const char *command = ob_jira_json_str(data, "command");
    json_t *status = json_object_get(data, "status");
    json_t *error = json_object_get(data, "error");
    char *why = error ? json_dumps(error, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *text = NULL;
    json_t *root = NULL;
    rc = OB_ERR_MALFORMED;
    if (!id || !json_is_integer(status))
        goto out;
    size_t wlen = why ? ob_jira_json_utf8_cut(why, OB_JIRA_SUMMARY_MAX) : 0;
    rc = -ENOMEM;
    text =
        ob_jira_json_printf("The Marketplace did not take this change (%s %s): status %" PRId64
                            ", %.*s. It is not in the Marketplace.\n\n" OB_JIRA_MARK_PREFIX "%s]",
                            command ? command : "command", id, (int64_t)json_integer_value(status),
                            (int)wlen, why ? why : "", id);
    if (!text || !(root = json_pack("{s:s}", "body", text)))
        goto out;
    rc = s_dump(root, ret_body);
out:
    free(why);
    free(text);
    json_decref(root);
    json_decref(data);
    return rc;
}
