/*  mp_double_api: the HTTP side of the Marketplace double (libmicrohttpd, a thread per
    connection so that an injected hang or slow answer holds only its own connection).

    /api/v1/...   the Ordering API (reference section 4), faithful to its quirks: see README.md.
    /_control/... the test control interface (JSON in, JSON out; README.md has the fields):
        POST oms            register an OMS (id, name, type, default, token, trigger)
        POST users          register a user who administers no OMS (token)
        POST projects       create a project (owner, attributes)
        POST project_items  order an item (project_id, primary_oms_id, status, attributes, ...)
        POST update         change an item's status or secrets as the Marketplace would
        POST messages       post a message (any role, any scope)
        POST edit           edit a message
        POST burst          count status updates within one second
        POST hold, release  hold the next events back, then commit them late
        POST faults         the next /api/ requests fail (5xx), hang or answer slowly
        GET  state          everything, secrets and microseconds included
        GET  triggers       the trigger calls made

    Each request runs with the store's mutex held, except for injected waits. */
#include "double_http.h"
#include "mp_double.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SEGS_MAX 8 /* path segments routed */

/* Error strings of the Ordering API (reference 2.1, 2.4, 2.6, 4.3, 4.14). */
#define E_SIGN_IN "You need to sign in or sign up before continuing."
#define E_FORBIDDEN "You are not authorized to perform this action."
#define E_OMS "OMS not found"
#define E_PROJECT "Project not found"
#define E_ITEM "Project item not found"
#define E_MESSAGE "Message not found"
#define E_DATE "invalid date"
#define E_LIMIT "'limit' must be a positive integer"
#define E_FROM_ID "'from_id' must be a non-negative integer"
#define E_MISSING_TS "param is missing or the value is empty: from_timestamp"
#define E_SECRETS "values must be strings"
/* Not in the reference (the Rails default pages); see README.md. */
#define E_ROUTE_HTML                                                                               \
    "<html><body><h1>The page you were looking for doesn't exist.</h1></body></html>"
#define E_FAULT_HTML "<html><body><h1>Service unavailable (injected fault)</h1></body></html>"
#define E_BAD_JSON "Invalid JSON in the request body"

/* The request schemas (reference 4.8, 4.10, 4.12), keys in the documents' order, which is
   the order the json-schema gem checks them in. */
static const char s_schema_item_update[] =
    "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"object\",\"properties\":"
    "{\"value\":{\"type\":\"string\"},\"type\":{\"type\":\"string\",\"enum\":[\"rejected\","
    "\"waiting_for_response\",\"registered\",\"in_progress\",\"ready\",\"closed\",\"approved\"]}},"
    "\"additionalProperties\":false,\"required\":[\"value\",\"type\"]},\"user_secrets\":"
    "{\"type\":\"object\"}},\"anyOf\":[{\"required\":[\"status\"]},{\"required\":"
    "[\"user_secrets\"]}],\"additionalProperties\":false}";
static const char s_schema_message_write[] =
    "{\"type\":\"object\",\"properties\":{\"project_id\":{\"type\":\"integer\"},"
    "\"project_item_id\":{\"type\":\"integer\"},\"author\":{\"type\":\"object\",\"properties\":"
    "{\"uid\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"role\":{\"type\":\"string\",\"enum\":[\"provider\",\"mediator\"]}},"
    "\"additionalProperties\":false,\"required\":[\"email\",\"name\",\"role\"]},\"content\":"
    "{\"type\":\"string\"},\"scope\":{\"type\":\"string\",\"enum\":[\"public\",\"internal\","
    "\"user_direct\"]}},\"additionalProperties\":false,\"required\":[\"project_id\",\"author\","
    "\"content\",\"scope\"]}";
static const char s_schema_message_update[] =
    "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false,\"required\":[\"content\"]}";

/* One request's body (double_http.h). */
typedef double_upload_t s_req_t;

/* What a handler answers. */
typedef struct s_reply {
    unsigned status;  /* HTTP status */
    json_t *json;     /* body, owned; or NULL for html */
    const char *html; /* static body when json is NULL */
} s_reply_t;

typedef struct s_ctx {
    mpd_store_t *store;           /* borrowed */
    struct MHD_Connection *conn;  /* borrowed */
    const char *method;           /* borrowed */
    const char *segs[S_SEGS_MAX]; /* path segments after /api/v1 or /_control */
    int n_segs;                   /* used */
    const s_req_t *req;           /* body */
    const char *token;            /* X-User-Token or NULL */
} s_ctx_t;

/* A slow body: MPD_SLOW_CHUNK bytes at a time over ms. */
typedef struct s_slow {
    mpd_store_t *store; /* borrowed, for the stop condition */
    char *text;         /* owned */
    size_t len;         /* bytes */
    long ms;            /* total time */
} s_slow_t;

static s_reply_t
s_json(unsigned status, json_t *json)
{
    s_reply_t r = {status, json, NULL};
    if (!json) {
        r.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        r.html = "out of memory";
    }
    return r;
}

static s_reply_t
s_error(unsigned status, const char *text)
{
    return s_json(status, json_pack("{s:s}", "error", text));
}

/* ---- Ruby's String#to_i, which Rails applies to limit and from_id (reference 2.4) ---- */

static long long
s_to_i(const char *s)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    long long v = 0;
    bool digit = false;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            v = v > (LLONG_MAX - 9) / 10 ? LLONG_MAX : v * 10 + (*s - '0');
            digit = true;
        } else if (*s == '_' && digit && s[1] >= '0' && s[1] <= '9') {
            continue; /* Ruby allows single underscores between digits */
        } else {
            break;
        }
    }
    return sign * v;
}

/* The last value of a query parameter (Rails keeps the last), or NULL. */
typedef struct s_lookup {
    const char *key;   /* wanted */
    const char *value; /* last found */
} s_lookup_t;

static enum MHD_Result
s_lookup_cb(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    s_lookup_t *l = arg;
    if (strcmp(key, l->key) == 0)
        l->value = value ? value : "";
    return MHD_YES;
}

static const char *
s_query(const s_ctx_t *c, const char *key)
{
    s_lookup_t l = {key, NULL};
    MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, s_lookup_cb, &l);
    return l.value;
}

/* limit: default 20, else to_i > 0. Returns 0, or -1 with *ret the error reply. */
static int
s_limit(const s_ctx_t *c, long long *ret_limit, s_reply_t *ret)
{
    const char *s = s_query(c, "limit");
    long long v = s ? s_to_i(s) : MPD_LIMIT_DEFAULT;
    if (v <= 0) {
        *ret = s_error(MHD_HTTP_BAD_REQUEST, E_LIMIT);
        return -1;
    }
    *ret_limit = v;
    return 0;
}

static int
s_from_id(const s_ctx_t *c, long long *ret_from, s_reply_t *ret)
{
    const char *s = s_query(c, "from_id");
    long long v = s ? s_to_i(s) : 0;
    if (v < 0) {
        *ret = s_error(MHD_HTTP_BAD_REQUEST, E_FROM_ID);
        return -1;
    }
    *ret_from = v;
    return 0;
}

/* limit, then from_id, of the paginated lists (reference 2.4). */
static int
s_paging(const s_ctx_t *c, long long *ret_limit, long long *ret_from, s_reply_t *ret)
{
    return s_limit(c, ret_limit, ret) != 0 ? -1 : s_from_id(c, ret_from, ret);
}

/* ---- a small JSON Schema checker: the json-schema gem's first error, its wording ---- */

static const char *
s_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "null";
}

static bool
s_type_is(const json_t *v, const char *type)
{
    const char *t = s_type_of(v);
    return strcmp(t, type) == 0 || (strcmp(type, "number") == 0 && json_is_integer(v));
}

/* Ruby's inspect of a JSON value, for the enum message. */
static char *
s_inspect(const json_t *v)
{
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Checks v at fragment path against schema; writes the first error into err. */
static bool
s_check(const json_t *schema, const json_t *v, const char *path, char *err, size_t len)
{
    const char *kw;
    const json_t *arg;
    json_object_foreach((json_t *)schema, kw, arg)
    {
        if (strcmp(kw, "type") == 0 && !s_type_is(v, json_string_value(arg))) {
            snprintf(err, len, "The property '%s' of type %s did not match the following type: %s",
                     path, s_type_of(v), json_string_value(arg));
            return false;
        }
        if (strcmp(kw, "enum") == 0) {
            bool found = false;
            size_t i;
            const json_t *e;
            json_array_foreach(arg, i, e) found = found || json_equal((json_t *)e, (json_t *)v);
            if (!found) {
                char values[MPD_SCHEMA_LIST_MAX] = "";
                json_array_foreach(arg, i, e)
                {
                    if (i)
                        strncat(values, ", ", sizeof values - strlen(values) - 1);
                    strncat(values, json_string_value(e), sizeof values - strlen(values) - 1);
                }
                char *shown = s_inspect(v);
                snprintf(err, len,
                         "The property '%s' value %s did not match one of the following values: %s",
                         path, shown ? shown : "?", values);
                free(shown);
                return false;
            }
        }
        if (!json_is_object(v))
            continue;
        if (strcmp(kw, "required") == 0) {
            size_t i;
            const json_t *name;
            json_array_foreach(arg, i, name) if (!json_object_get(v, json_string_value(name)))
            {
                snprintf(err, len, "The property '%s' did not contain a required property of '%s'",
                         path, json_string_value(name));
                return false;
            }
        }
        if (strcmp(kw, "properties") == 0) {
            const char *name;
            const json_t *sub;
            json_object_foreach((json_t *)arg, name, sub)
            {
                const json_t *value = json_object_get(v, name);
                char subpath[MPD_SCHEMA_PATH_MAX];
                snprintf(subpath, sizeof subpath, "%s%s%s", path, strcmp(path, "#/") ? "/" : "",
                         name);
                if (value && !s_check(sub, value, subpath, err, len))
                    return false;
            }
        }
        if (strcmp(kw, "additionalProperties") == 0 && json_is_false(arg)) {
            const json_t *props = json_object_get(schema, "properties");
            char extra[MPD_SCHEMA_LIST_MAX] = "";
            const char *name;
            const json_t *value;
            json_object_foreach((json_t *)v, name, value)
            {
                if (json_object_get(props, name))
                    continue;
                size_t used = strlen(extra);
                snprintf(extra + used, sizeof extra - used, "%s\"%s\"", used ? ", " : "", name);
            }
            if (*extra) {
                snprintf(err, len,
                         "The property '%s' contains additional properties [%s] outside of the "
                         "schema when none are allowed",
                         path, extra);
                return false;
            }
        }
        if (strcmp(kw, "anyOf") == 0) {
            bool any = false;
            size_t i;
            const json_t *sub;
            char ignored[MPD_SCHEMA_ERROR_MAX];
            json_array_foreach(arg, i, sub) any =
                any || s_check(sub, v, path, ignored, sizeof ignored);
            if (!any) {
                snprintf(err, len,
                         "The property '%s' of type %s did not match one or more of the required "
                         "schemas",
                         path, s_type_of(v));
                return false;
            }
        }
    }
    return true;
}

/* Parses the body and checks it against schema_text. Returns the body (new reference), or NULL
   with *ret the 400. */
static json_t *
s_body(const s_ctx_t *c, const char *schema_text, s_reply_t *ret)
{
    json_t *body = json_loadb(c->req->body ? c->req->body : "", c->req->len,
                              JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!body) {
        *ret = s_error(MHD_HTTP_BAD_REQUEST, E_BAD_JSON);
        return NULL;
    }
    json_t *schema = json_loads(schema_text, 0, NULL);
    char err[MPD_SCHEMA_ERROR_MAX];
    bool ok = schema && s_check(schema, body, "#/", err, sizeof err);
    json_decref(schema);
    if (!ok) {
        *ret = s_error(MHD_HTTP_BAD_REQUEST, schema ? err : "out of memory");
        json_decref(body);
        return NULL;
    }
    return body;
}

/* ---- the Ordering API ---- */

/* Path ids go through to_i as ActiveRecord casts them. */
static long
s_id(const char *seg)
{
    long long v = s_to_i(seg);
    return v > LONG_MAX ? 0 : (long)v;
}

/* find_and_authorize_oms: 404, then 403. Returns the OMS or NULL with *ret. */
static mpd_oms_t *
s_oms(const s_ctx_t *c, const char *seg, s_reply_t *ret)
{
    mpd_oms_t *oms = mpd_oms_find(c->store, s_id(seg));
    if (!oms) {
        *ret = s_error(MHD_HTTP_NOT_FOUND, E_OMS);
        return NULL;
    }
    if (!mpd_token_admins(c->store, c->token, oms->id)) {
        *ret = s_error(MHD_HTTP_FORBIDDEN, E_FORBIDDEN);
        return NULL;
    }
    return oms;
}

static mpd_project_t *
s_project(const s_ctx_t *c, const mpd_oms_t *oms, long id, s_reply_t *ret)
{
    mpd_project_t *project = mpd_project_find(c->store, id);
    if (!project || !mpd_scope_project(c->store, oms, project)) {
        *ret = s_error(MHD_HTTP_NOT_FOUND, E_PROJECT);
        return NULL;
    }
    return project;
}

static mpd_item_t *
s_item(const mpd_oms_t *oms, mpd_project_t *project, long iid, s_reply_t *ret)
{
    mpd_item_t *item = mpd_item_find(project, iid);
    if (!item || !mpd_scope_item(oms, item)) {
        *ret = s_error(MHD_HTTP_NOT_FOUND, E_ITEM);
        return NULL;
    }
    return item;
}

static s_reply_t
s_list(const char *key, json_t *array)
{
    return s_json(MHD_HTTP_OK, array ? json_pack("{s:o}", key, array) : NULL);
}

static s_reply_t
s_omses_index(const s_ctx_t *c)
{
    json_t *list = json_array();
    mpd_vec_t sorted = {0};
    for (size_t i = 0; i < c->store->omses.n; i++) {
        mpd_oms_t *oms = c->store->omses.v[i];
        if (strcmp(oms->token, c->token) != 0)
            continue;
        size_t at = sorted.n; /* ordered by id */
        if (mpd_vec_push(&sorted, oms) != 0)
            break;
        while (at > 0 && ((mpd_oms_t *)sorted.v[at - 1])->id > oms->id) {
            sorted.v[at] = sorted.v[at - 1];
            at--;
        }
        sorted.v[at] = oms;
    }
    for (size_t i = 0; list && i < sorted.n; i++)
        json_array_append_new(list, mpd_json_oms(sorted.v[i]));
    free(sorted.v);
    return s_list("omses", list);
}

/* Shuffles each run of events with the same created_at (Fisher-Yates). */
static void
s_shuffle_ties(mpd_vec_t *events, unsigned *seed)
{
    for (size_t a = 0, b; a < events->n; a = b) {
        int64_t us = ((mpd_event_t *)events->v[a])->created_us;
        for (b = a + 1; b < events->n && ((mpd_event_t *)events->v[b])->created_us == us; b++)
            ;
        for (size_t i = b - 1; i > a; i--) {
            size_t k = a + (size_t)rand_r(seed) % (i - a + 1);
            void *t = events->v[i];
            events->v[i] = events->v[k];
            events->v[k] = t;
        }
    }
}

static s_reply_t
s_events(const s_ctx_t *c, const mpd_oms_t *oms)
{
    s_reply_t r;
    long long limit;
    int64_t after;
    if (s_limit(c, &limit, &r) != 0)
        return r;
    const char *ts = s_query(c, "from_timestamp");
    if (!ts || !*ts)
        return s_error(MHD_HTTP_BAD_REQUEST, E_MISSING_TS);
    if (mpd_parse_ts(ts, &after) != 0)
        return s_error(MHD_HTTP_BAD_REQUEST, E_DATE);
    /* created_at > from_timestamp ORDER BY created_at LIMIT limit, no tie-breaker (4.3): the
       visible events up to limit and the rest of the last one's tie, then each tie shuffled
       (a database may return equal rows in any order), then cut to limit */
    mpd_vec_t picked = {0};
    for (size_t i = mpd_events_after(c->store, after); i < c->store->events.n; i++) {
        mpd_event_t *event = c->store->events.v[i];
        if (!mpd_scope_event(c->store, oms, event))
            continue;
        if ((long long)picked.n >= limit &&
            event->created_us != ((mpd_event_t *)picked.v[picked.n - 1])->created_us)
            break;
        if (mpd_vec_push(&picked, event) != 0) {
            free(picked.v);
            return s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
    }
    if (!c->store->faults.stable_ties)
        s_shuffle_ties(&picked, &c->store->seed);
    json_t *list = json_array();
    for (size_t i = 0; list && i < picked.n && (long long)i < limit; i++)
        json_array_append_new(list, mpd_json_event(c->store, picked.v[i]));
    free(picked.v);
    return s_list("events", list);
}

static s_reply_t
s_projects_index(const s_ctx_t *c, const mpd_oms_t *oms)
{
    s_reply_t r;
    long long limit, from;
    if (s_paging(c, &limit, &from, &r) != 0)
        return r;
    json_t *list = json_array();
    long long n = 0;
    for (size_t i = 0; list && i < c->store->projects.n && n < limit; i++) {
        const mpd_project_t *project = c->store->projects.v[i];
        if (project->id <= from || !mpd_scope_project(c->store, oms, project))
            continue;
        json_array_append_new(list, mpd_json_project(project));
        n++;
    }
    return s_list("projects", list);
}

static s_reply_t
s_items_index(const s_ctx_t *c, const mpd_oms_t *oms, const mpd_project_t *project)
{
    s_reply_t r;
    long long limit, from;
    if (s_paging(c, &limit, &from, &r) != 0)
        return r;
    json_t *list = json_array();
    long long n = 0;
    for (size_t i = 0; list && i < project->n_items && n < limit; i++) {
        const mpd_item_t *item = project->items[i];
        if (item->iid <= from || !mpd_scope_item(oms, item))
            continue;
        json_array_append_new(list, mpd_json_item(item, NULL));
        n++;
    }
    return s_list("project_items", list);
}

/* ProjectItemPolicy#update?: the caller administers the item's current OMS (4.8). */
static s_reply_t
s_item_update(const s_ctx_t *c, mpd_item_t *item)
{
    s_reply_t r;
    if (!mpd_token_admins(c->store, c->token, mpd_item_current_oms(c->store, item)))
        return s_error(MHD_HTTP_FORBIDDEN, E_FORBIDDEN);
    json_t *body = s_body(c, s_schema_item_update, &r);
    if (!body)
        return r;
    const json_t *status = json_object_get(body, "status");
    const json_t *secrets = json_object_get(body, "user_secrets");
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)secrets, key, value)
    {
        if (!json_is_string(value)) {
            json_decref(body);
            return s_json(MHD_HTTP_BAD_REQUEST,
                          json_pack("{s:{s:[s]}}", "error", "user_secrets", E_SECRETS));
        }
    }
    int rc = mpd_item_update(c->store, item, json_string_value(json_object_get(status, "value")),
                             json_string_value(json_object_get(status, "type")), secrets, 0);
    r = rc == 0 ? s_json(MHD_HTTP_OK, mpd_json_item(item, secrets))
                : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    json_decref(body);
    return r;
}

/* The message write matrix (3.5). item NULL: a project message. */
static bool
s_may_write(mpd_store_t *store, const char *token, const mpd_project_t *project,
            const mpd_item_t *item, const char *role, const char *scope)
{
    mpd_oms_t *def = mpd_oms_default(store);
    bool default_admin = def && mpd_token_admins(store, token, def->id);
    bool user_direct = strcmp(scope, "user_direct") == 0;
    bool managed = false;
    if (item) {
        managed = mpd_token_admins(store, token, mpd_item_current_oms(store, item));
    } else {
        for (size_t i = 0; i < project->n_items && !managed; i++)
            managed =
                mpd_token_admins(store, token, mpd_item_current_oms(store, project->items[i]));
    }
    if (strcmp(role, "provider") == 0)
        return managed && (item || !user_direct);
    if (strcmp(role, "mediator") == 0)
        return default_admin && (!item || !user_direct);
    return false; /* role user: never */
}

static s_reply_t
s_messages_index(const s_ctx_t *c, const mpd_oms_t *oms)
{
    s_reply_t r;
    long long limit, from;
    if (s_paging(c, &limit, &from, &r) != 0)
        return r;
    const char *pid = s_query(c, "project_id");
    const char *iid = s_query(c, "project_item_id");
    mpd_project_t *project = s_project(c, oms, pid ? s_id(pid) : 0, &r);
    if (!project)
        return r;
    long item_iid = 0;
    if (iid) {
        mpd_item_t *item = s_item(oms, project, s_id(iid), &r);
        if (!item)
            return r;
        item_iid = item->iid;
    }
    json_t *list = json_array();
    long long n = 0;
    for (size_t i = 0; list && i < c->store->messages.n && n < limit; i++) {
        const mpd_message_t *msg = c->store->messages.v[i];
        if (msg->id <= from || msg->project_id != project->id || msg->item_iid != item_iid)
            continue;
        json_array_append_new(list, mpd_json_message(msg, false));
        n++;
    }
    return s_list("messages", list);
}

static s_reply_t
s_message_create(const s_ctx_t *c, const mpd_oms_t *oms)
{
    s_reply_t r;
    json_t *body = s_body(c, s_schema_message_write, &r);
    if (!body)
        return r;
    const json_t *author = json_object_get(body, "author");
    const char *role = json_string_value(json_object_get(author, "role"));
    const char *scope = json_string_value(json_object_get(body, "scope"));
    const json_t *iid = json_object_get(body, "project_item_id");
    mpd_item_t *item = NULL;
    mpd_project_t *project =
        s_project(c, oms, (long)json_integer_value(json_object_get(body, "project_id")), &r);
    if (!project || (iid && !(item = s_item(oms, project, (long)json_integer_value(iid), &r))))
        goto out;
    if (!s_may_write(c->store, c->token, project, item, role, scope)) {
        r = s_error(MHD_HTTP_FORBIDDEN, E_FORBIDDEN);
        goto out;
    }
    mpd_message_t *msg =
        mpd_message_add(c->store, project->id, item ? item->iid : 0, author, role,
                        json_string_value(json_object_get(body, "content")), scope);
    r = msg ? s_json(MHD_HTTP_CREATED, mpd_json_message(msg, true))
            : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
out:
    json_decref(body);
    return r;
}

static s_reply_t
s_message_one(const s_ctx_t *c, const mpd_oms_t *oms, const char *seg, bool update)
{
    s_reply_t r;
    mpd_message_t *msg = mpd_message_find(c->store, s_id(seg));
    if (!msg || !mpd_scope_message(c->store, oms, msg))
        return s_error(MHD_HTTP_NOT_FOUND, E_MESSAGE);
    mpd_project_t *project = mpd_project_find(c->store, msg->project_id);
    mpd_item_t *item = msg->item_iid ? mpd_item_find(project, msg->item_iid) : NULL;
    if (!update) {
        /* show?: managed, or the default OMS's administrator */
        mpd_oms_t *def = mpd_oms_default(c->store);
        bool ok = (def && mpd_token_admins(c->store, c->token, def->id)) ||
                  s_may_write(c->store, c->token, project, item, "provider", "public");
        return ok ? s_json(MHD_HTTP_OK, mpd_json_message(msg, false))
                  : s_error(MHD_HTTP_FORBIDDEN, E_FORBIDDEN);
    }
    if (!s_may_write(c->store, c->token, project, item, msg->role, msg->scope))
        return s_error(MHD_HTTP_FORBIDDEN, E_FORBIDDEN);
    json_t *body = s_body(c, s_schema_message_update, &r);
    if (!body)
        return r;
    int rc = mpd_message_edit(c->store, msg, json_string_value(json_object_get(body, "content")));
    json_decref(body);
    return rc == 0 ? s_json(MHD_HTTP_OK, mpd_json_message(msg, true))
                   : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
}

static bool
s_is(const s_ctx_t *c, const char *method)
{
    return strcmp(c->method, method) == 0;
}

static bool
s_is_update(const s_ctx_t *c)
{
    return s_is(c, "PATCH") || s_is(c, "PUT"); /* Rails routes update for both */
}

static bool
s_seg(const s_ctx_t *c, int i, const char *name)
{
    return i < c->n_segs && strcmp(c->segs[i], name) == 0;
}

/* Routing first (an unknown route is 404 before authentication), then the token (401), then
   the OMS (404, 403), then the endpoint's parameters. segs: after /api/v1. */
static s_reply_t
s_api(s_ctx_t *c)
{
    const s_reply_t no_route = {MHD_HTTP_NOT_FOUND, NULL, E_ROUTE_HTML};
    int n = c->n_segs;
    bool get = s_is(c, "GET");
    if (n < 1 || !s_seg(c, 0, "oms"))
        return no_route;
    /* which route: 1 oms index, 2 oms show, 3 events, 4 projects, 5 project, 6 items, 7 item,
       8 messages, 9 message */
    int route = 0;
    if (n == 1 && get)
        route = 1;
    else if (n == 2 && get)
        route = 2;
    else if (n == 3 && get && s_seg(c, 2, "events"))
        route = 3;
    else if (n == 3 && get && s_seg(c, 2, "projects"))
        route = 4;
    else if (n == 4 && get && s_seg(c, 2, "projects"))
        route = 5;
    else if (n == 5 && get && s_seg(c, 2, "projects") && s_seg(c, 4, "project_items"))
        route = 6;
    else if (n == 6 && (get || s_is_update(c)) && s_seg(c, 2, "projects") &&
             s_seg(c, 4, "project_items"))
        route = 7;
    else if (n == 3 && (get || s_is(c, "POST")) && s_seg(c, 2, "messages"))
        route = 8;
    else if (n == 4 && (get || s_is_update(c)) && s_seg(c, 2, "messages"))
        route = 9;
    if (!route)
        return no_route;
    if (!c->token || !mpd_token_known(c->store, c->token))
        return s_error(MHD_HTTP_UNAUTHORIZED, E_SIGN_IN);
    if (route == 1)
        return s_omses_index(c);
    s_reply_t r;
    mpd_oms_t *oms = s_oms(c, c->segs[1], &r);
    if (!oms)
        return r;
    mpd_project_t *project;
    mpd_item_t *item;
    switch (route) {
    case 2:
        return s_json(MHD_HTTP_OK, mpd_json_oms(oms));
    case 3:
        return s_events(c, oms);
    case 4:
        return s_projects_index(c, oms);
    case 5:
    case 6:
    case 7:
        if (!(project = s_project(c, oms, s_id(c->segs[3]), &r)))
            return r;
        if (route == 5)
            return s_json(MHD_HTTP_OK, mpd_json_project(project));
        if (route == 6)
            return s_items_index(c, oms, project);
        if (!(item = s_item(oms, project, s_id(c->segs[5]), &r)))
            return r;
        return get ? s_json(MHD_HTTP_OK, mpd_json_item(item, NULL)) : s_item_update(c, item);
    case 8:
        return get ? s_messages_index(c, oms) : s_message_create(c, oms);
    default:
        return s_message_one(c, oms, c->segs[3], !get);
    }
}

/* ---- the control interface ---- */

/* The project named by in's project_id, or NULL with *ret a 404. */
static mpd_project_t *
s_control_project(s_ctx_t *c, const json_t *in, s_reply_t *ret)
{
    mpd_project_t *project =
        mpd_project_find(c->store, (long)json_integer_value(json_object_get(in, "project_id")));
    if (!project)
        *ret = s_error(MHD_HTTP_NOT_FOUND, "no such project");
    return project;
}

static mpd_item_t *
s_control_item(s_ctx_t *c, const json_t *in, s_reply_t *ret)
{
    mpd_project_t *project = s_control_project(c, in, ret);
    if (!project)
        return NULL;
    mpd_item_t *item =
        mpd_item_find(project, (long)json_integer_value(json_object_get(in, "project_item_id")));
    if (!item)
        *ret = s_error(MHD_HTTP_NOT_FOUND, "no such project item");
    return item;
}

static json_t *
s_faults_json(const mpd_faults_t *f)
{
    return json_pack("{s:I, s:i, s:I, s:I, s:I, s:I, s:b}", "fail_next", (json_int_t)f->fail_next,
                     "fail_status", f->fail_status, "hang_next", (json_int_t)f->hang_next,
                     "hang_ms", (json_int_t)f->hang_ms, "slow_next", (json_int_t)f->slow_next,
                     "slow_ms", (json_int_t)f->slow_ms, "stable_ties", f->stable_ties);
}

/* Reads an optional integer field within [lo, hi] into *v. Returns false if out of range. */
static bool
s_field(const json_t *in, const char *key, long lo, long hi, long *v)
{
    const json_t *f = json_object_get(in, key);
    if (!f)
        return true;
    if (!json_is_integer(f) || json_integer_value(f) < lo || json_integer_value(f) > hi)
        return false;
    *v = (long)json_integer_value(f);
    return true;
}

static s_reply_t
s_control_faults(s_ctx_t *c, const json_t *in)
{
    mpd_faults_t f = c->store->faults;
    long status = f.fail_status;
    if (!s_field(in, "fail_next", 0, LONG_MAX, &f.fail_next) ||
        !s_field(in, "fail_status", 500, 599, &status) ||
        !s_field(in, "hang_next", 0, LONG_MAX, &f.hang_next) ||
        !s_field(in, "hang_ms", 0, MPD_FAULT_MS_MAX, &f.hang_ms) ||
        !s_field(in, "slow_next", 0, LONG_MAX, &f.slow_next) ||
        !s_field(in, "slow_ms", 0, MPD_FAULT_MS_MAX, &f.slow_ms))
        return s_error(MHD_HTTP_BAD_REQUEST, "fault fields are integers in range (README.md)");
    const json_t *stable = json_object_get(in, "stable_ties");
    if (stable && !json_is_boolean(stable))
        return s_error(MHD_HTTP_BAD_REQUEST, "stable_ties is a boolean");
    if (stable)
        f.stable_ties = json_is_true(stable);
    f.fail_status = (int)status;
    c->store->faults = f;
    return s_json(MHD_HTTP_OK, s_faults_json(&f));
}

/* count status updates of one item inside one second of created_at, spacing_us apart. */
static s_reply_t
s_control_burst(s_ctx_t *c, const json_t *in)
{
    s_reply_t r;
    mpd_item_t *item = s_control_item(c, in, &r);
    long count = 100, spacing = 1;
    if (!item)
        return r;
    if (!s_field(in, "count", 1, MPD_BURST_MAX, &count) ||
        !s_field(in, "spacing_us", 0, MPD_USEC, &spacing) ||
        (count - 1) * (int64_t)spacing >= MPD_USEC)
        return s_error(MHD_HTTP_BAD_REQUEST, "count 1..100000, (count - 1) * spacing_us < 1 s");
    int64_t now = mpd_store_now(c->store), span = (count - 1) * (int64_t)spacing;
    int64_t base = now % MPD_USEC + span < MPD_USEC ? now : (now / MPD_USEC + 1) * MPD_USEC;
    for (long i = 0; i < count; i++) {
        char value[MPD_TS_LEN];
        snprintf(value, sizeof value, "burst %ld", i + 1);
        if (mpd_item_update(c->store, item, value, NULL, NULL, base + i * (int64_t)spacing) != 0)
            return s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (c->store->last_us < base + span)
        c->store->last_us = base + span;
    char first[MPD_TS_LEN], last[MPD_TS_LEN];
    mpd_format_ts(base, true, first, sizeof first);
    mpd_format_ts(base + span, true, last, sizeof last);
    return s_json(MHD_HTTP_OK,
                  json_pack("{s:i, s:s, s:s}", "count", (int)count, "first", first, "last", last));
}

static s_reply_t
s_control_message(s_ctx_t *c, const json_t *in)
{
    s_reply_t r;
    mpd_project_t *project = s_control_project(c, in, &r);
    if (!project)
        return r;
    const json_t *iid = json_object_get(in, "project_item_id");
    if (iid && !json_is_null(iid) && !mpd_item_find(project, (long)json_integer_value(iid)))
        return s_error(MHD_HTTP_NOT_FOUND, "no such project item");
    const json_t *author = json_object_get(in, "author");
    const char *role = json_string_value(json_object_get(author, "role"));
    const char *scope = json_string_value(json_object_get(in, "scope"));
    const char *content = json_string_value(json_object_get(in, "content"));
    if (!role || !scope || !content ||
        (strcmp(role, "user") && strcmp(role, "provider") && strcmp(role, "mediator")) ||
        (strcmp(scope, "public") && strcmp(scope, "internal") && strcmp(scope, "user_direct")))
        return s_error(MHD_HTTP_BAD_REQUEST,
                       "author.role user|provider|mediator, scope public|internal|user_direct "
                       "and content are required");
    mpd_message_t *msg = mpd_message_add(c->store, project->id, (long)json_integer_value(iid),
                                         author, role, content, scope);
    return msg ? s_json(MHD_HTTP_CREATED, mpd_json_message(msg, true))
               : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
}

/* A status.type the model's enum has (reference 5.3), or none. */
static bool
s_status_ok(const json_t *in)
{
    static const char *const types[] = {
        "created", "registered", "in_progress", "waiting_for_response",
        "ready",   "rejected",   "closed",      "approved"};
    const json_t *status = json_object_get(in, "status");
    const json_t *type = json_object_get(status, "type");
    const json_t *value = json_object_get(status, "value");
    if (!status)
        return true;
    if (!json_is_object(status) || (value && !json_is_string(value)) ||
        (type && !json_is_string(type)))
        return false;
    for (size_t i = 0; type && i < sizeof types / sizeof *types; i++)
        if (strcmp(json_string_value(type), types[i]) == 0)
            return true;
    return !type;
}

static s_reply_t
s_control_post(s_ctx_t *c, const char *what, const json_t *in)
{
    s_reply_t r;
    if (strcmp(what, "oms") == 0) {
        const char *error = NULL;
        mpd_oms_t *oms = mpd_oms_add(c->store, in, &error);
        return oms ? s_json(MHD_HTTP_CREATED, mpd_json_oms(oms))
                   : s_error(MHD_HTTP_BAD_REQUEST, error);
    }
    if (strcmp(what, "users") == 0) {
        const char *token = json_string_value(json_object_get(in, "token"));
        char *copy = token && *token ? strdup(token) : NULL;
        if (!copy)
            return s_error(MHD_HTTP_BAD_REQUEST, "token is required");
        if (mpd_vec_push(&c->store->users, copy) != 0) {
            free(copy);
            return s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        return s_json(MHD_HTTP_CREATED, json_pack("{s:s}", "token", token));
    }
    if (strcmp(what, "projects") == 0) {
        mpd_project_t *project = mpd_project_add(c->store, json_object_get(in, "owner"),
                                                 json_object_get(in, "attributes"));
        return project ? s_json(MHD_HTTP_CREATED, mpd_json_project(project))
                       : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (strcmp(what, "project_items") == 0) {
        mpd_project_t *project = s_control_project(c, in, &r);
        if (!project)
            return r;
        long primary = (long)json_integer_value(json_object_get(in, "primary_oms_id"));
        if (!s_status_ok(in))
            return s_error(MHD_HTTP_BAD_REQUEST, "status: {value: string, type: a status type}");
        if (primary && !mpd_oms_find(c->store, primary))
            return s_error(MHD_HTTP_BAD_REQUEST, "no such primary_oms_id");
        mpd_item_t *item = mpd_item_add(c->store, project, in);
        return item ? s_json(MHD_HTTP_CREATED, mpd_json_item(item, item->user_secrets))
                    : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (strcmp(what, "update") == 0) {
        mpd_item_t *item = s_control_item(c, in, &r);
        if (!item)
            return r;
        const json_t *status = json_object_get(in, "status");
        const json_t *secrets = json_object_get(in, "user_secrets");
        if (secrets && !json_is_object(secrets))
            return s_error(MHD_HTTP_BAD_REQUEST, "user_secrets must be an object");
        if (!s_status_ok(in))
            return s_error(MHD_HTTP_BAD_REQUEST, "status: {value: string, type: a status type}");
        if (mpd_item_update(c->store, item, json_string_value(json_object_get(status, "value")),
                            json_string_value(json_object_get(status, "type")), secrets, 0) != 0)
            return s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return s_json(MHD_HTTP_OK, mpd_json_item(item, item->user_secrets));
    }
    if (strcmp(what, "messages") == 0)
        return s_control_message(c, in);
    if (strcmp(what, "edit") == 0) {
        mpd_message_t *msg =
            mpd_message_find(c->store, (long)json_integer_value(json_object_get(in, "id")));
        const char *content = json_string_value(json_object_get(in, "content"));
        if (!msg || !content)
            return s_error(MHD_HTTP_NOT_FOUND, "no such message, or no content");
        return mpd_message_edit(c->store, msg, content) == 0
                   ? s_json(MHD_HTTP_OK, mpd_json_message(msg, true))
                   : s_error(MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (strcmp(what, "burst") == 0)
        return s_control_burst(c, in);
    if (strcmp(what, "hold") == 0) {
        long count = 1;
        if (!s_field(in, "count", 1, LONG_MAX, &count))
            return s_error(MHD_HTTP_BAD_REQUEST, "count is a positive integer");
        c->store->hold_next = count;
        return s_json(MHD_HTTP_OK, json_pack("{s:I}", "hold_next", (json_int_t)count));
    }
    if (strcmp(what, "release") == 0) {
        size_t n = c->store->held.n;
        mpd_store_release(c->store);
        return s_json(MHD_HTTP_OK, json_pack("{s:I}", "released", (json_int_t)n));
    }
    if (strcmp(what, "faults") == 0)
        return s_control_faults(c, in);
    return s_error(MHD_HTTP_NOT_FOUND, "no such control call (README.md)");
}

static s_reply_t
s_control(s_ctx_t *c)
{
    if (c->n_segs != 1)
        return s_error(MHD_HTTP_NOT_FOUND, "no such control call (README.md)");
    const char *what = c->segs[0];
    if (s_is(c, "GET") && strcmp(what, "state") == 0)
        return s_json(MHD_HTTP_OK, mpd_store_dump(c->store));
    if (s_is(c, "GET") && strcmp(what, "triggers") == 0) {
        json_t *log = mpd_trigger_log(c->store->trigger);
        return s_json(MHD_HTTP_OK, log ? json_pack("{s:o}", "triggers", log) : NULL);
    }
    if (!s_is(c, "POST"))
        return s_error(MHD_HTTP_NOT_FOUND, "no such control call (README.md)");
    json_t *in = c->req->len ? json_loadb(c->req->body, c->req->len, 0, NULL) : json_object();
    if (!json_is_object(in)) {
        json_decref(in);
        return s_error(MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
    }
    s_reply_t r = s_control_post(c, what, in);
    json_decref(in);
    return r;
}

/* ---- libmicrohttpd glue ---- */

/* Waits up to ms, or until the store stops. Call with the lock held. */
static void
s_pause(mpd_store_t *store, long ms)
{
    double_pause(&store->lock, &store->wake, &store->stopping, ms);
}

static ssize_t
s_slow_read(void *arg, uint64_t pos, char *buf, size_t max)
{
    s_slow_t *slow = arg;
    if (pos >= slow->len)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = slow->len - (size_t)pos;
    if (n > MPD_SLOW_CHUNK)
        n = MPD_SLOW_CHUNK;
    if (n > max)
        n = max;
    pthread_mutex_lock(&slow->store->lock);
    s_pause(slow->store, slow->ms * (long)n / (long)(slow->len ? slow->len : 1));
    bool stopping = slow->store->stopping;
    pthread_mutex_unlock(&slow->store->lock);
    if (stopping)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memcpy(buf, slow->text + pos, n);
    return (ssize_t)n;
}

static void
s_slow_free(void *arg)
{
    s_slow_t *slow = arg;
    free(slow->text);
    free(slow);
}

static enum MHD_Result
s_send(struct MHD_Connection *conn, mpd_store_t *store, s_reply_t r, long slow_ms)
{
    char *text = r.json ? json_dumps(r.json, JSON_COMPACT) : strdup(r.html);
    json_decref(r.json);
    if (!text)
        return MHD_NO;
    size_t len = strlen(text);
    struct MHD_Response *resp = NULL;
    if (slow_ms > 0) {
        s_slow_t *slow = calloc(1, sizeof *slow);
        if (slow) {
            *slow = (s_slow_t){store, text, len, slow_ms};
            resp = MHD_create_response_from_callback(len, MPD_SLOW_CHUNK, s_slow_read, slow,
                                                     s_slow_free);
            if (!resp)
                s_slow_free(slow);
        } else {
            free(text);
        }
    } else {
        resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r.json ? "application/json; charset=utf-8"
                                   : "text/html; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Splits url after prefix into the context's segments. */
static bool
s_split(char *url, const char *prefix, s_ctx_t *c)
{
    return double_http_split(url, prefix, c->segs, S_SEGS_MAX, &c->n_segs);
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    mpd_store_t *store = cls;
    int more = double_http_upload(con_cls, upload, upload_size, MPD_BODY_MAX);
    if (more != 0)
        return more > 0 ? MHD_YES : MHD_NO;
    s_req_t *req = *con_cls;
    char path[MPD_URL_MAX];
    if (strlen(url) >= sizeof path)
        return s_send(conn, store, s_error(MHD_HTTP_URI_TOO_LONG, "URI too long"), 0);
    strcpy(path, url);
    s_ctx_t c = {.store = store, .conn = conn, .method = method, .req = req};
    c.token = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-User-Token");
    if (req->too_big)
        return s_send(conn, store, s_error(MHD_HTTP_CONTENT_TOO_LARGE, "body too large"), 0);
    pthread_mutex_lock(&store->lock);
    s_reply_t r;
    long slow_ms = 0;
    if (s_split(path, "/_control", &c)) {
        r = s_control(&c);
    } else {
        store->requests++;
        mpd_faults_t *f = &store->faults;
        if (f->hang_next > 0) {
            f->hang_next--;
            s_pause(store, f->hang_ms);
        }
        if (f->slow_next > 0) {
            f->slow_next--;
            slow_ms = f->slow_ms;
        }
        if (f->fail_next > 0) {
            f->fail_next--;
            r = (s_reply_t){(unsigned)f->fail_status, NULL, E_FAULT_HTML};
        } else if (s_split(path, "/api/v1", &c)) {
            r = s_api(&c);
        } else {
            r = (s_reply_t){MHD_HTTP_NOT_FOUND, NULL, E_ROUTE_HTML};
        }
    }
    pthread_mutex_unlock(&store->lock);
    return s_send(conn, store, r, slow_ms);
}

struct MHD_Daemon *
mpd_api_start(mpd_store_t *store, unsigned port, unsigned *ret_port)
{
    return double_http_start(port, s_handle, store, MPD_CONN_MAX, MPD_CONN_TIMEOUT_S, ret_port);
}

void
mpd_api_stop(mpd_store_t *store, struct MHD_Daemon *daemon)
{
    if (!daemon)
        return;
    pthread_mutex_lock(&store->lock);
    store->stopping = true;
    pthread_cond_broadcast(&store->wake);
    pthread_mutex_unlock(&store->lock);
    MHD_stop_daemon(daemon);
}
