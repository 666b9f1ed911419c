/*  ob_facade: see facade_read.h. */
#include "facade_read.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event_json.h"

#define S_SECONDS_TEXT 19 /* "YYYY-MM-DDTHH:MM:SS" */
#define S_SECOND_AT 17    /* the first digit of the seconds */
#define S_SEGS_MAX 4      /* path segments after /api/v1/oms/{oms_id}/ */
#define S_SEG_MAX 64      /* bytes of one path segment we route (longer: no route) */
#define S_SEQ_TEXT_MAX 24 /* ",\"seq\":" is added with a u64: digits + NUL */
#define S_FRAC_DIGITS 6   /* fractional digits of a from_timestamp, at most */
#define S_STATUS_2XX 200  /* an outcome's status: 200..299 is a success */
#define S_STATUS_3XX 300  /* ... the first that is not */
#define S_JSON_FLAGS (JSON_COMPACT)

/* ---------------------------------------------------------------------------------------- */
/* A growing answer body */

typedef struct s_buf {
    char *text;  /* NUL-terminated, owned */
    size_t len;  /* bytes used */
    size_t size; /* bytes allocated */
    size_t n;    /* records written (a list's count) */
    size_t max;  /* records wanted at most */
} s_buf_t;

static int
s_add(s_buf_t *b, const char *text, size_t n)
{
    if (b->len + n + 1 > b->size) {
        size_t size = b->size ? b->size : OB_GW_FACADE_BODY_MIN;
        while (size < b->len + n + 1)
            size *= 2;
        char *t = realloc(b->text, size);
        if (!t)
            return -ENOMEM;
        b->text = t;
        b->size = size;
    }
    memcpy(b->text + b->len, text, n);
    b->len += n;
    b->text[b->len] = '\0';
    return 0;
}

static int
s_adds(s_buf_t *b, const char *text)
{
    return s_add(b, text, strlen(text));
}

/* Hands the body of b to answer with status. */
static void
s_give(s_buf_t *b, unsigned status, ob_facade_answer_t *ret_answer)
{
    ret_answer->status = status;
    ret_answer->html = 0;
    ret_answer->body = b->text;
    ret_answer->len = b->len;
    b->text = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Numbers and times */

int64_t
ob_facade_to_i(const char *s)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    uint64_t v = 0;
    const uint64_t cap = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (int digit = 0; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            unsigned d = (unsigned)(*s - '0');
            v = v > (cap - d) / 10 ? cap : v * 10 + d;
            digit = 1;
        } else if (!(*s == '_' && digit && s[1] >= '0' && s[1] <= '9'))
            break; /* Ruby takes single underscores between digits */
    }
    if (!neg)
        return (int64_t)v;
    return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
}

/* Strict u64 decimal: 1..OB_GW_DECIMAL_MAX digits, nothing else, no overflow. */
static int
s_u64(const char *s, uint64_t *ret_v)
{
    size_t n = strlen(s);
    if (!n || n > OB_GW_DECIMAL_MAX)
        return OB_ERR_FIELD_TYPE;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return OB_ERR_FIELD_TYPE;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return OB_ERR_FIELD_TYPE;
        v = v * 10 + d;
    }
    *ret_v = v;
    return 0;
}

int
ob_facade_parse_time(const char *text, uint64_t *ret_us)
{
    /* the Marketplace's regex (DateHelper), then the calendar (ob_time_parse: no February 30) */
    static const char shape[] = "20dd-dd-ddTdd:dd:dd";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (!text[i] || (shape[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != shape[i]))
            return OB_ERR_FIELD_TYPE;
    }
    const char *p = text + sizeof shape - 1;
    if (*p == '.') {
        size_t n = 1;
        while (p[n] >= '0' && p[n] <= '9' && n <= S_FRAC_DIGITS + 1)
            n++;
        if (n < 2 || n > S_FRAC_DIGITS + 1)
            return OB_ERR_FIELD_TYPE;
        p += n;
    }
    /* RFC 3339 allows a leap second, 60; the Marketplace's date check does not */
    if (strcmp(p, "Z") || text[S_SECOND_AT] > '5' || ob_time_parse(text, ret_us))
        return OB_ERR_FIELD_TYPE;
    return 0;
}

void
ob_facade_format_time(uint64_t us, char ret_text[OB_GW_TIMESTAMP_TEXT_MAX])
{
    /* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" cut to the second: the Marketplace shows no fraction */
    char text[OB_TIME_TEXT_MAX];
    if (ob_time_format(us, text)) {
        ret_text[0] = '\0'; /* past year 9999: no view holds such a time */
        return;
    }
    snprintf(ret_text, OB_GW_TIMESTAMP_TEXT_MAX, "%.*sZ", S_SECONDS_TEXT, text);
}

/* ---------------------------------------------------------------------------------------- */
/* Routes */

/* A path id as ActiveRecord casts it: to_i, and 0 (no resource) when not positive. */
static uint64_t
s_id(const char *seg)
{
    int64_t v = ob_facade_to_i(seg);
    return v > 0 ? (uint64_t)v : 0;
}

int
ob_facade_route(const char *method, const char *path, ob_facade_route_t *ret_route)
{
    size_t plen = strlen(OB_FACADE_PREFIX);
    if (strncmp(path, OB_FACADE_PREFIX, plen))
        return OB_ERR_INVALID_ARGUMENT;
    /* {oms_id} and up to S_SEGS_MAX segments after it; an empty segment is no route, but
       for a trailing slash, which Rails ignores */
    char segs[S_SEGS_MAX + 1][S_SEG_MAX + 1];
    int n = 0;
    for (const char *p = path + plen;; n++) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (!len && !end && n > 0)
            break;
        if (n > S_SEGS_MAX || !len || len > S_SEG_MAX)
            return OB_ERR_INVALID_ARGUMENT;
        memcpy(segs[n], p, len);
        segs[n][len] = '\0';
        if (!end) {
            n++;
            break;
        }
        p = end + 1;
    }
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int update = !strcmp(method, "PATCH") || !strcmp(method, "PUT");
    int post = !strcmp(method, "POST");
    ob_facade_route_t r = {0};
    r.oms_id = s_id(segs[0]);
    int projects = n >= 2 && !strcmp(segs[1], "projects");
    int items = projects && n >= 4 && !strcmp(segs[3], "project_items");
    int messages = n >= 2 && !strcmp(segs[1], "messages");
    if (n == 2 && get && !strcmp(segs[1], "events"))
        r.kind = OB_FACADE_R_EVENTS;
    else if (n == 2 && get && projects)
        r.kind = OB_FACADE_R_PROJECTS;
    else if (n == 3 && get && projects)
        r.kind = OB_FACADE_R_PROJECT;
    else if (n == 4 && get && items)
        r.kind = OB_FACADE_R_ITEMS;
    else if (n == 5 && items && (get || update))
        r.kind = get ? OB_FACADE_R_ITEM : OB_FACADE_R_UPDATE_ITEM;
    else if (n == 2 && messages && (get || post))
        r.kind = get ? OB_FACADE_R_MESSAGES : OB_FACADE_R_POST_MESSAGE;
    else if (n == 3 && messages && (get || update))
        r.kind = get ? OB_FACADE_R_MESSAGE : OB_FACADE_R_EDIT_MESSAGE;
    else
        return OB_ERR_INVALID_ARGUMENT;
    if (projects && n >= 3)
        r.project_id = s_id(segs[2]);
    if (items && n == 5)
        r.item_id = s_id(segs[4]);
    if (messages && n == 3)
        r.message_id = s_id(segs[2]);
    *ret_route = r;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Answers */

void
ob_facade_answer_clear(ob_facade_answer_t *answer)
{
    free(answer->body);
    memset(answer, 0, sizeof *answer);
}

int
ob_facade_error(unsigned status, const char *text, ob_facade_answer_t *ret_answer)
{
    json_t *obj = json_pack("{s:s}", "error", text);
    char *body = obj ? json_dumps(obj, S_JSON_FLAGS) : NULL;
    json_decref(obj);
    if (!body)
        return -ENOMEM;
    *ret_answer = (ob_facade_answer_t){status, 0, body, strlen(body)};
    return 0;
}

int
ob_facade_no_route(ob_facade_answer_t *ret_answer)
{
    char *body = strdup(OB_FACADE_NO_ROUTE_HTML);
    if (!body)
        return -ENOMEM;
    *ret_answer = (ob_facade_answer_t){404, 1, body, strlen(body)};
    return 0;
}

/* The paging parameters: limit (capped), then from_id if from_id is not NULL. Returns 0 or
   the error text. */
static const char *
s_paging(const ob_facade_query_t *q, size_t *ret_limit, uint64_t *ret_from_id)
{
    int64_t limit = q->limit ? ob_facade_to_i(q->limit) : OB_GW_FACADE_LIMIT_DEFAULT;
    if (limit <= 0)
        return OB_FACADE_E_LIMIT;
    *ret_limit = limit > OB_GW_FACADE_LIMIT_MAX ? OB_GW_FACADE_LIMIT_MAX : (size_t)limit;
    if (ret_from_id) {
        int64_t from = q->from_id ? ob_facade_to_i(q->from_id) : 0;
        if (from < 0)
            return OB_FACADE_E_FROM_ID;
        *ret_from_id = (uint64_t)from;
    }
    return NULL;
}

/* ob_facade_each_fn of an event: {"timestamp":...,<fields>,"seq":N}. */
static int
s_event_cb(void *arg, const ob_facade_record_t *rec)
{
    s_buf_t *b = arg;
    char ts[OB_GW_TIMESTAMP_TEXT_MAX], seq[S_SEQ_TEXT_MAX];
    ob_facade_format_time(rec->ts_us, ts);
    snprintf(seq, sizeof seq, "%" PRIu64 "}", rec->seq);
    int rc = s_adds(b, b->n ? ",{\"timestamp\":\"" : "{\"timestamp\":\"");
    if (!rc)
        rc = s_adds(b, ts);
    if (!rc)
        rc = s_adds(b, "\",");
    if (!rc)
        rc = s_add(b, rec->json, rec->len);
    if (!rc)
        rc = s_adds(b, ",\"seq\":");
    if (!rc)
        rc = s_adds(b, seq);
    b->n++;
    return rc;
}

/* ob_facade_each_fn of a snapshot in a list. */
static int
s_list_cb(void *arg, const ob_facade_record_t *rec)
{
    s_buf_t *b = arg;
    int rc = b->n ? s_adds(b, ",") : 0;
    if (!rc)
        rc = s_add(b, rec->json, rec->len);
    b->n++;
    return rc;
}

/* ob_facade_each_fn of a single snapshot. */
static int
s_one_cb(void *arg, const ob_facade_record_t *rec)
{
    s_buf_t *b = arg;
    b->n++;
    return s_add(b, rec->json, rec->len);
}

/* Whether the source has the resource: 1, 0 (-ENOENT), or an error (< 0). */
static int
s_exists(const ob_facade_source_t *src, ob_facade_kind_t kind, uint64_t a, uint64_t b)
{
    s_buf_t scratch = {0};
    int rc = a ? src->get(src->ctx, kind, a, b, s_one_cb, &scratch) : -ENOENT;
    free(scratch.text);
    return rc == -ENOENT ? 0 : rc ? rc : 1;
}

/* GET .../events */
static int
s_events(const ob_facade_query_t *q, const ob_facade_source_t *src, s_buf_t *b,
         const char **ret_error)
{
    size_t limit = 0;
    if ((*ret_error = s_paging(q, &limit, NULL)))
        return 0;
    uint64_t after_us = 0, after_seq = 0;
    int have_seq = q->from_seq != NULL;
    if (!q->from_timestamp || !q->from_timestamp[0]) {
        if (!have_seq) {
            *ret_error = OB_FACADE_E_MISSING_TS;
            return 0;
        }
    } else if (ob_facade_parse_time(q->from_timestamp, &after_us)) {
        *ret_error = OB_FACADE_E_DATE;
        return 0;
    }
    if (have_seq && s_u64(q->from_seq, &after_seq)) {
        *ret_error = OB_FACADE_E_FROM_SEQ;
        return 0;
    }
    int rc = s_adds(b, "{\"events\":[");
    if (!rc)
        rc = src->events(src->ctx, after_seq, after_us, limit, s_event_cb, b);
    return rc ? rc : s_adds(b, "]}");
}

/* A list: {"<key>":[...]}. */
static int
s_list(const ob_facade_source_t *src, const char *key, ob_facade_kind_t kind, uint64_t a,
       uint64_t bb, uint64_t from, size_t limit, s_buf_t *b)
{
    int rc = s_adds(b, "{\"");
    if (!rc)
        rc = s_adds(b, key);
    if (!rc)
        rc = s_adds(b, "\":[");
    if (!rc)
        rc = src->list(src->ctx, kind, a, bb, from, limit, s_list_cb, b);
    return rc ? rc : s_adds(b, "]}");
}

/* GET .../messages: paging, then project_id, then project_item_id. */
static int
s_messages(const ob_facade_query_t *q, const ob_facade_source_t *src, s_buf_t *b,
           const char **ret_error, unsigned *ret_status)
{
    size_t limit = 0;
    uint64_t from = 0;
    if ((*ret_error = s_paging(q, &limit, &from)))
        return 0;
    uint64_t project = q->project_id ? s_id(q->project_id) : 0;
    int rc = s_exists(src, OB_FACADE_PROJECT, project, 0);
    if (rc <= 0) {
        *ret_error = OB_FACADE_E_PROJECT;
        *ret_status = 404;
        return rc;
    }
    uint64_t item = 0;
    if (q->project_item_id) {
        item = s_id(q->project_item_id);
        if ((rc = s_exists(src, OB_FACADE_ITEM, project, item)) <= 0) {
            *ret_error = OB_FACADE_E_ITEM;
            *ret_status = 404;
            return rc;
        }
    }
    return s_list(src, "messages", OB_FACADE_MESSAGE, project, item, from, limit, b);
}

/* One resource, or its 404 text. */
static int
s_one(const ob_facade_source_t *src, ob_facade_kind_t kind, uint64_t a, uint64_t bb,
      const char *missing, s_buf_t *b, const char **ret_error, unsigned *ret_status)
{
    int rc = a && (kind != OB_FACADE_ITEM || bb) ? src->get(src->ctx, kind, a, bb, s_one_cb, b)
                                                 : -ENOENT;
    if (rc == -ENOENT) {
        *ret_error = missing;
        *ret_status = 404;
        return 0;
    }
    return rc;
}

int
ob_facade_answer(const ob_facade_route_t *route, const ob_facade_query_t *query,
                 const ob_facade_source_t *source, ob_facade_answer_t *ret_answer)
{
    s_buf_t b = {0};
    const char *error = NULL;
    unsigned status = 400; /* of an error, unless a case says otherwise */
    size_t limit = 0;
    uint64_t from = 0;
    int rc = 0;
    switch (route->kind) {
    case OB_FACADE_R_EVENTS:
        rc = s_events(query, source, &b, &error);
        break;
    case OB_FACADE_R_PROJECTS:
        if (!(error = s_paging(query, &limit, &from)))
            rc = s_list(source, "projects", OB_FACADE_PROJECT, 0, 0, from, limit, &b);
        break;
    case OB_FACADE_R_PROJECT:
        rc = s_one(source, OB_FACADE_PROJECT, route->project_id, 0, OB_FACADE_E_PROJECT, &b, &error,
                   &status);
        break;
    case OB_FACADE_R_ITEMS: /* the project first, as the Marketplace routes it */
        rc = s_exists(source, OB_FACADE_PROJECT, route->project_id, 0);
        if (rc == 0) {
            error = OB_FACADE_E_PROJECT;
            status = 404;
        } else if (rc > 0 && !(error = s_paging(query, &limit, &from)))
            rc = s_list(source, "project_items", OB_FACADE_ITEM, route->project_id, 0, from, limit,
                        &b);
        break;
    case OB_FACADE_R_ITEM:
        rc = s_exists(source, OB_FACADE_PROJECT, route->project_id, 0);
        if (rc == 0) {
            error = OB_FACADE_E_PROJECT;
            status = 404;
        } else if (rc > 0)
            rc = s_one(source, OB_FACADE_ITEM, route->project_id, route->item_id, OB_FACADE_E_ITEM,
                       &b, &error, &status);
        break;
    case OB_FACADE_R_MESSAGES:
        rc = s_messages(query, source, &b, &error, &status);
        break;
    case OB_FACADE_R_MESSAGE:
        rc = s_one(source, OB_FACADE_MESSAGE, route->message_id, 0, OB_FACADE_E_MESSAGE, &b, &error,
                   &status);
        break;
    default:
        rc = -EINVAL; /* a write, or no route: the caller's */
        break;
    }
    if (rc < 0) {
        free(b.text);
        return rc;
    }
    if (error) {
        free(b.text);
        return ob_facade_error(status, error, ret_answer);
    }
    s_give(&b, 200, ret_answer);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* What the view keeps of an event */

/* A feed event type of ours and the Marketplace's type and resource. */
typedef struct s_mirror {
    const char *type;      /* ours (mp_event.h) */
    int update;            /* 1: "update", 0: "create" */
    ob_facade_kind_t kind; /* its resource */
} s_mirror_t;

static const s_mirror_t s_mirrors[] = {
    {"project.created", 0, OB_FACADE_PROJECT},          {"project_item.created", 0, OB_FACADE_ITEM},
    {"project_item.status_changed", 1, OB_FACADE_ITEM}, {"project_item.updated", 1, OB_FACADE_ITEM},
    {"message.posted", 0, OB_FACADE_MESSAGE},           {"message.edited", 1, OB_FACADE_MESSAGE},
};

static const char *const s_resources[] = {"", "project", "project_item", "message"};

#define S_OUTCOME "command.completed" /* COMMANDS.md section 3 */

void
ob_facade_entry_clear(ob_facade_entry_t *entry)
{
    free(entry->fields);
    free(entry->json);
    memset(entry, 0, sizeof *entry);
}

/* A JSON integer >= 1 at key of obj, or 0. */
static uint64_t
s_json_id(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

/* The fields of a mirrored event m of ev, into entry. Returns 0 or -ENOMEM. */
static int
s_fields(const ob_event_t *ev, const s_mirror_t *m, ob_facade_entry_t *entry)
{
    json_t *obj = json_pack("{s:s, s:s}", "type", m->update ? "update" : "create", "resource",
                            s_resources[m->kind]);
    int bad = !obj;
    if (!bad && m->update) {
        json_t *changes = json_array();
        for (size_t i = 0; changes && i < ev->changes_count; i++) {
            const ob_change_t *c = &ev->changes[i];
            json_t *one = json_pack("{s:s, s:o, s:o}", "field", c->field, "before",
                                    c->before ? json_string(c->before) : json_null(), "after",
                                    c->after ? json_string(c->after) : json_null());
            if (!one || json_array_append_new(changes, one))
                bad = 1;
        }
        bad |= !changes || json_object_set_new(obj, "changes", changes);
    }
    if (!bad)
        bad = json_object_set_new(obj, "project_id",
                                  ev->project_id ? json_integer((json_int_t)ev->project_id)
                                                 : json_null());
    if (!bad && ev->project_item_id)
        bad = json_object_set_new(obj, "project_item_id",
                                  json_integer((json_int_t)ev->project_item_id));
    if (!bad && ev->message_id)
        bad = json_object_set_new(obj, "message_id", json_integer((json_int_t)ev->message_id));
    char *text = bad ? NULL : json_dumps(obj, S_JSON_FLAGS);
    json_decref(obj);
    if (!text)
        return -ENOMEM;
    /* the inside of the object: without its braces ("{}" never: type is always there) */
    size_t len = strlen(text);
    memmove(text, text + 1, len - 2);
    text[len - 2] = '\0';
    entry->fields = text;
    entry->fields_len = len - 2;
    return 0;
}

/* Replaces every value of obj's user_secrets with the placeholder. Returns 0 or -ENOMEM. */
static int
s_obfuscate_secrets(json_t *obj)
{
    json_t *secrets = json_object_get(obj, "user_secrets");
    const char *key;
    json_t *value;
    json_object_foreach(secrets, key, value)
    {
        if (json_object_set_new(secrets, key, json_string(OB_FACADE_OBFUSCATED)))
            return -ENOMEM;
    }
    return 0;
}

/* Checks snapshot root as kind with the ids expected (0: any), obfuscates it and writes it
   into entry. Returns 0, OB_ERR_MALFORMED or -ENOMEM. */
static int
s_snapshot(json_t *root, ob_facade_kind_t kind, uint64_t id, uint64_t project_id,
           ob_facade_entry_t *entry)
{
    uint64_t got = s_json_id(root, "id");
    if (!json_is_object(root) || !got || (id && got != id))
        return OB_ERR_MALFORMED;
    if (kind == OB_FACADE_ITEM) {
        uint64_t p = s_json_id(root, "project_id");
        if (!p || (project_id && p != project_id))
            return OB_ERR_MALFORMED;
        project_id = p;
        if (s_obfuscate_secrets(root))
            return -ENOMEM;
    } else if (kind == OB_FACADE_MESSAGE) {
        const char *scope = json_string_value(json_object_get(root, "scope"));
        if (scope && !strcmp(scope, "user_direct") &&
            json_object_set_new(root, "content", json_string(OB_FACADE_OBFUSCATED)))
            return -ENOMEM;
    } else if (!json_is_array(json_object_get(root, "project_items")))
        return OB_ERR_MALFORMED;
    char *text = json_dumps(root, S_JSON_FLAGS);
    if (!text)
        return -ENOMEM;
    entry->kind = kind;
    entry->id = got;
    if (kind == OB_FACADE_ITEM)
        entry->project_id = project_id;
    entry->json = text;
    entry->json_len = strlen(text);
    return 0;
}

/* Parses data (len bytes) as JSON. Returns the root or NULL with *ret_rc. */
static json_t *
s_parse(const uint8_t *data, size_t len, int *ret_rc)
{
    if (len > OB_GW_RESOURCE_BODY_MAX) {
        *ret_rc = OB_ERR_TOO_LARGE;
        return NULL;
    }
    json_error_t err;
    json_t *root = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err);
    *ret_rc = root                                                ? 0
              : json_error_code(&err) == json_error_out_of_memory ? -ENOMEM
                                                                  : OB_ERR_MALFORMED;
    return root;
}

/* The snapshot of a command.completed outcome ev. Returns as ob_facade_index. */
static int
s_outcome(const ob_event_t *ev, ob_facade_entry_t *entry)
{
    int rc = 0;
    json_t *root = s_parse(ev->data, ev->data_len, &rc);
    if (!root)
        return rc;
    const char *command = json_string_value(json_object_get(root, "command"));
    const json_t *status = json_object_get(root, "status");
    json_t *response = json_object_get(root, "response");
    json_int_t code = json_is_integer(status) ? json_integer_value(status) : 0;
    rc = 0;
    if (!command || code < S_STATUS_2XX || code >= S_STATUS_3XX)
        rc = 0; /* not a success: nothing changed that the outcome shows */
    else if (!strcmp(command, "update_project_item"))
        rc = s_snapshot(response, OB_FACADE_ITEM, ev->project_item_id, ev->project_id, entry);
    else if (!strcmp(command, "post_message") || !strcmp(command, "edit_message")) {
        rc = s_snapshot(response, OB_FACADE_MESSAGE, ev->message_id, 0, entry);
        entry->project_id = ev->project_id;
        entry->item_id = ev->project_item_id;
    }
    json_decref(root);
    return rc;
}

int
ob_facade_index(const ob_event_t *event, ob_facade_entry_t *ret_entry)
{
    ob_facade_entry_t e = {0};
    int rc = 0;
    const s_mirror_t *m = NULL;
    for (size_t i = 0; i < sizeof s_mirrors / sizeof s_mirrors[0] && !m; i++)
        if (!strcmp(event->type, s_mirrors[i].type))
            m = &s_mirrors[i];
    if (!m) {
        if (!strcmp(event->type, S_OUTCOME) && event->data_len)
            rc = s_outcome(event, &e);
        goto out;
    }
    if ((rc = s_fields(event, m, &e)))
        goto out;
    if (!event->data_len)
        goto out;
    json_t *root = s_parse(event->data, event->data_len, &rc);
    if (root) {
        uint64_t id = m->kind == OB_FACADE_PROJECT ? event->project_id
                      : m->kind == OB_FACADE_ITEM  ? event->project_item_id
                                                   : event->message_id;
        rc = s_snapshot(root, m->kind, id, event->project_id, &e);
        json_decref(root);
    }
    if (m->kind == OB_FACADE_MESSAGE && e.json) {
        e.project_id = event->project_id;
        e.item_id = event->project_item_id;
    }
out:
    if (rc == -ENOMEM) {
        ob_facade_entry_clear(&e);
        return rc;
    }
    if (rc && rc != OB_ERR_MALFORMED && rc != OB_ERR_TOO_LARGE)
        rc = OB_ERR_MALFORMED;
    *ret_entry = e;
    return rc;
}

/* qsort of u64 ascending. */
static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int
ob_facade_project_merge(const char *json, size_t len, const uint64_t *iids, size_t count,
                        char **ret_json, size_t *ret_len)
{
    int rc = 0;
    uint64_t *all = NULL;
    json_t *root = s_parse((const uint8_t *)json, len, &rc);
    if (!root)
        return rc;
    json_t *list = json_object_get(root, "project_items");
    size_t have = json_array_size(list);
    if (!json_is_array(list) || have + count > OB_GW_FACADE_PROJECT_ITEMS_MAX) {
        rc = OB_ERR_MALFORMED;
        goto out;
    }
    if (!(all = malloc((have + count + 1) * sizeof *all))) {
        rc = -ENOMEM;
        goto out;
    }
    size_t n = 0;
    for (size_t i = 0; i < have; i++) {
        const json_t *v = json_array_get(list, i);
        if (!json_is_integer(v) || json_integer_value(v) <= 0) {
            rc = OB_ERR_MALFORMED;
            goto out;
        }
        all[n++] = (uint64_t)json_integer_value(v);
    }
    memcpy(all + n, iids, count * sizeof *all);
    n += count;
    qsort(all, n, sizeof *all, s_cmp_u64);
    json_t *merged = json_array();
    for (size_t i = 0; merged && i < n; i++)
        if ((i == 0 || all[i] != all[i - 1]) &&
            json_array_append_new(merged, json_integer((json_int_t)all[i]))) {
            json_decref(merged);
            merged = NULL;
        }
    char *text = NULL;
    if (!merged || json_object_set_new(root, "project_items", merged) ||
        !(text = json_dumps(root, S_JSON_FLAGS))) {
        rc = -ENOMEM;
        goto out;
    }
    *ret_json = text;
    *ret_len = strlen(text);
out:
    free(all);
    json_decref(root);
    return rc;
}
