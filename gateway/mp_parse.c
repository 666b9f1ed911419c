/*  ob_mkt: see mp_parse.h. */
#include "mp_parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw_limits.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"

/* --- JSON helpers --------------------------------------------------------------------------- */

/* Checks that no array or object of v nests deeper than OB_GW_JSON_DEPTH_MAX (v at depth). */
static int
s_check_depth(const json_t *v, int depth)
{
    if (!json_is_array(v) && !json_is_object(v))
        return 0;
    if (depth >= OB_GW_JSON_DEPTH_MAX)
        return OB_ERR_TOO_LARGE;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int rc = s_check_depth(json_array_get(v, i), depth + 1);
            if (rc)
                return rc;
        }
        return 0;
    }
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        int rc = s_check_depth(value, depth + 1);
        if (rc)
            return rc;
    }
    return 0;
}

/* The code of a json_loadb failure. Jansson names a syntax error in err's text, but returns
   from most failed allocations without a word (no text, code unknown): both are -ENOMEM. */
static int
s_json_failure(const json_error_t *err)
{
    enum json_error_code code = json_error_code(err);
    if (code == json_error_out_of_memory || (code == json_error_unknown && err->text[0] == '\0'))
        return -ENOMEM;
    return OB_ERR_MALFORMED;
}

/* Loads body (len bytes, at most max) as one JSON object, within the depth cap.
   On success *ret_root is a new reference. */
static int
s_load(const char *body, size_t len, size_t max, json_t **ret_root)
{
    if (len > max)
        return OB_ERR_TOO_LARGE;
    json_error_t err;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return s_json_failure(&err);
    int rc = json_is_object(root) ? s_check_depth(root, 0) : OB_ERR_MALFORMED;
    if (rc) {
        json_decref(root);
        return rc;
    }
    *ret_root = root;
    return 0;
}

/* Reads the id at obj.key: an integer from 1 (Jansson caps it at 2^63-1). An absent key is
   OB_ERR_MISSING_FIELD when required, else 0 in *ret_id; null is 0 when nullable, else
   OB_ERR_FIELD_TYPE. */
static int
s_get_id(const json_t *obj, const char *key, int required, int nullable, uint64_t *ret_id)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || (nullable && json_is_null(v))) {
        if (!v && required)
            return OB_ERR_MISSING_FIELD;
        *ret_id = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return OB_ERR_FIELD_TYPE;
    *ret_id = (uint64_t)json_integer_value(v);
    return 0;
}

/* Reads the string at obj.key (required), at most max bytes; *ret_text is borrowed from obj. */
static int
s_get_string(const json_t *obj, const char *key, size_t max, const char **ret_text)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return OB_ERR_MISSING_FIELD;
    if (!json_is_string(v))
        return OB_ERR_FIELD_TYPE;
    if (json_string_length(v) > max)
        return OB_ERR_TOO_LARGE;
    *ret_text = json_string_value(v);
    return 0;
}

/* Checks that obj.key is an object: required, or optional (absent is fine). */
static int
s_check_object(const json_t *obj, const char *key, int required)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? OB_ERR_MISSING_FIELD : 0;
    return json_is_object(v) ? 0 : OB_ERR_FIELD_TYPE;
}

/* Reads the RFC 3339 time at obj.key (required) into *ret_us. */
static int
s_get_time(const json_t *obj, const char *key, uint64_t *ret_us)
{
    const char *text = NULL;
    int rc = s_get_string(obj, key, OB_TIME_TEXT_MAX, &text);
    if (rc)
        return rc;
    return ob_time_parse(text, ret_us) ? OB_ERR_FIELD_TYPE : 0;
}

/* Copies a string into a new allocation (NULL for NULL). Returns 0 or -ENOMEM. */
static int
s_dup(const char *text, char **ret_copy)
{
    char *copy = NULL;
    if (text && !(copy = strdup(text)))
        return -ENOMEM;
    *ret_copy = copy;
    return 0;
}

/* --- events page ---------------------------------------------------------------------------- */

static const char *const s_action_names[] = {"create", "update", "delete", "other"};
static const char *const s_kind_names[] = {"project", "project_item", "message", "other"};

const char *
ob_mkt_action_name(ob_mkt_action_t action)
{
    return (unsigned)action <= OB_MKT_ACTION_OTHER ? s_action_names[action] : "other";
}

const char *
ob_mkt_kind_name(ob_mkt_kind_t kind)
{
    return (unsigned)kind <= OB_MKT_KIND_OTHER ? s_kind_names[kind] : "other";
}

/* Index of text among names (count entries), or count (the OTHER value) if it is none. */
static unsigned
s_enum(const char *text, const char *const *names, unsigned count)
{
    unsigned i = 0;
    while (i < count && strcmp(text, names[i]) != 0)
        i++;
    return i;
}

/* Reads change value v (string, null, or any JSON kept as compact text) into *ret_text. */
static int
s_change_value(const json_t *v, char **ret_text)
{
    if (!v)
        return OB_ERR_MISSING_FIELD;
    if (json_is_null(v)) {
        *ret_text = NULL;
        return 0;
    }
    if (json_is_string(v)) {
        if (json_string_length(v) > OB_CHANGE_VALUE_MAX)
            return OB_ERR_TOO_LARGE;
        return s_dup(json_string_value(v), ret_text);
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return -ENOMEM;
    if (strlen(text) > OB_CHANGE_VALUE_MAX) {
        free(text);
        return OB_ERR_TOO_LARGE;
    }
    *ret_text = text;
    return 0;
}

/* Frees the strings of an event's changes and the array. */
static void
s_changes_free(ob_mkt_event_t *ev)
{
    for (size_t i = 0; i < ev->changes_count; i++) {
        free((char *)ev->changes[i].field);
        free((char *)ev->changes[i].before);
        free((char *)ev->changes[i].after);
    }
    free(ev->changes);
    ev->changes = NULL;
    ev->changes_count = 0;
}

/* Reads the "changes" array of obj (optional) into ev, which owns what it gets even on
   failure (s_changes_free releases it). */
static int
s_changes(const json_t *obj, ob_mkt_event_t *ev)
{
    const json_t *arr = json_object_get(obj, "changes");
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr))
        return OB_ERR_FIELD_TYPE;
    size_t count = json_array_size(arr);
    if (count > OB_CHANGES_MAX)
        return OB_ERR_TOO_LARGE;
    if (count == 0)
        return 0;
    if (!(ev->changes = calloc(count, sizeof *ev->changes)))
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const json_t *c = json_array_get(arr, i);
        const char *field = NULL;
        char *before = NULL, *after = NULL;
        if (!json_is_object(c))
            return OB_ERR_FIELD_TYPE;
        int rc = s_get_string(c, "field", OB_FIELD_NAME_MAX, &field);
        if (rc == 0 && field[0] == '\0')
            rc = OB_ERR_FIELD_TYPE;
        if (rc == 0)
            rc = s_change_value(json_object_get(c, "before"), &before);
        if (rc == 0)
            rc = s_change_value(json_object_get(c, "after"), &after);
        char *field_copy = NULL;
        if (rc == 0)
            rc = s_dup(field, &field_copy);
        if (rc) {
            free(before);
            free(after);
            return rc;
        }
        ev->changes[i] = (ob_change_t){field_copy, before, after};
        ev->changes_count = i + 1;
    }
    return 0;
}

/* Reads one feed event object into *ev (zeroed by the caller; owns its changes even on
   failure). */
static int
s_event(const json_t *obj, ob_mkt_event_t *ev)
{
    const char *text = NULL;
    int rc;
    if (!json_is_object(obj))
        return OB_ERR_FIELD_TYPE;
    if ((rc = s_get_time(obj, "timestamp", &ev->time_us)) != 0)
        return rc;
    if ((rc = s_get_string(obj, "type", OB_EVENT_TYPE_MAX, &text)) != 0)
        return rc;
    ev->action = (ob_mkt_action_t)s_enum(text, s_action_names, OB_MKT_ACTION_OTHER);
    if ((rc = s_get_string(obj, "resource", OB_EVENT_TYPE_MAX, &text)) != 0)
        return rc;
    ev->kind = (ob_mkt_kind_t)s_enum(text, s_kind_names, OB_MKT_KIND_OTHER);
    /* What each kind of event needs to be fetched (4.5, 4.7, 4.11); a message's project_id
       is null for approval-request messages (5.5). */
    int is_project = ev->kind == OB_MKT_KIND_PROJECT;
    int is_item = ev->kind == OB_MKT_KIND_PROJECT_ITEM;
    if ((rc = s_get_id(obj, "project_id", is_project || is_item, 1, &ev->project_id)) != 0)
        return rc;
    if ((is_project || is_item) && ev->project_id == 0)
        return OB_ERR_FIELD_TYPE; /* null where the fetch needs it */
    if ((rc = s_get_id(obj, "project_item_id", is_item, 1, &ev->project_item_id)) != 0)
        return rc;
    if (is_item && ev->project_item_id == 0)
        return OB_ERR_FIELD_TYPE;
    int is_message = ev->kind == OB_MKT_KIND_MESSAGE;
    if ((rc = s_get_id(obj, "message_id", is_message, 0, &ev->message_id)) != 0)
        return rc;
    return s_changes(obj, ev);
}

int
ob_mkt_page_parse(const char *body, size_t len, ob_mkt_page_t **ret_page)
{
    json_t *root = NULL;
    ob_mkt_page_t *page = NULL;
    int rc = s_load(body, len, OB_GW_FEED_BODY_MAX, &root);
    if (rc)
        return rc;
    const json_t *arr = json_object_get(root, "events");
    if (!arr) {
        rc = OB_ERR_MISSING_FIELD;
        goto fail;
    }
    if (!json_is_array(arr)) {
        rc = OB_ERR_FIELD_TYPE;
        goto fail;
    }
    size_t count = json_array_size(arr);
    if (count > OB_GW_PAGE_LIMIT_MAX) {
        rc = OB_ERR_TOO_LARGE;
        goto fail;
    }
    if (!(page = calloc(1, sizeof *page)) ||
        (count && !(page->events = calloc(count, sizeof *page->events)))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        page->count = i + 1; /* so that destroy frees the changes of a half-read event */
        if ((rc = s_event(json_array_get(arr, i), &page->events[i])) != 0)
            goto fail;
    }
    json_decref(root);
    *ret_page = page;
    return 0;
fail:
    ob_mkt_page_destroy(&page);
    json_decref(root);
    return rc;
}

void
ob_mkt_page_destroy(ob_mkt_page_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_mkt_page_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_changes_free(&self->events[i]);
    free(self->events);
    free(self);
    *self_p = NULL;
}

/* --- resources ------------------------------------------------------------------------------ */

/* Checks that obj.key is an array of at most max ids. */
static int
s_check_ids(const json_t *obj, const char *key, size_t max)
{
    const json_t *arr = json_object_get(obj, key);
    if (!arr)
        return OB_ERR_MISSING_FIELD;
    if (!json_is_array(arr))
        return OB_ERR_FIELD_TYPE;
    if (json_array_size(arr) > max)
        return OB_ERR_TOO_LARGE;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return OB_ERR_FIELD_TYPE;
    }
    return 0;
}

/* Reads what a project needs into res. */
static int
s_project(const json_t *root, ob_mkt_resource_t *res)
{
    int rc = s_get_id(root, "id", 1, 0, &res->id);
    if (rc == 0)
        rc = s_check_object(root, "owner", 1);
    if (rc == 0)
        rc = s_check_ids(root, "project_items", OB_GW_PROJECT_ITEMS_MAX);
    if (rc == 0)
        rc = s_check_object(root, "attributes", 0);
    res->project_id = res->id;
    return rc;
}

/* Reads what a project item needs into res (which owns its strings even on failure). */
static int
s_project_item(const json_t *root, ob_mkt_resource_t *res)
{
    const char *value = NULL, *type = NULL;
    int rc = s_get_id(root, "id", 1, 0, &res->id);
    if (rc == 0)
        rc = s_get_id(root, "project_id", 1, 0, &res->project_id);
    if (rc == 0)
        rc = s_check_object(root, "status", 1);
    if (rc == 0)
        rc = s_get_string(json_object_get(root, "status"), "value", OB_GW_STATUS_MAX, &value);
    if (rc == 0)
        rc = s_get_string(json_object_get(root, "status"), "type", OB_GW_STATUS_MAX, &type);
    static const char *const objects[] = {"attributes", "user_secrets", "oms_params"};
    for (size_t i = 0; rc == 0 && i < sizeof objects / sizeof objects[0]; i++)
        rc = s_check_object(root, objects[i], 0);
    if (rc == 0)
        rc = s_dup(value, &res->status_value);
    if (rc == 0)
        rc = s_dup(type, &res->status_type);
    return rc;
}

/* Reads what a message needs into res. */
static int
s_message(const json_t *root, ob_mkt_resource_t *res)
{
    const char *text = NULL;
    int rc = s_get_id(root, "id", 1, 0, &res->id);
    if (rc == 0)
        rc = s_check_object(root, "author", 1);
    if (rc == 0)
        rc = s_get_string(json_object_get(root, "author"), "role", OB_GW_STATUS_MAX, &text);
    if (rc == 0)
        rc = s_get_string(root, "content", OB_GW_RESOURCE_BODY_MAX, &text);
    if (rc == 0)
        rc = s_get_string(root, "scope", OB_GW_STATUS_MAX, &text);
    if (rc == 0)
        rc = s_get_time(root, "created_at", &res->created_at_us);
    if (rc == 0)
        rc = s_get_time(root, "updated_at", &res->updated_at_us);
    return rc;
}

int
ob_mkt_resource_parse(ob_mkt_kind_t kind, const char *body, size_t len,
                      ob_mkt_resource_t **ret_resource)
{
    static int (*const readers[])(const json_t *, ob_mkt_resource_t *) = {
        [OB_MKT_KIND_PROJECT] = s_project,
        [OB_MKT_KIND_PROJECT_ITEM] = s_project_item,
        [OB_MKT_KIND_MESSAGE] = s_message,
    };
    if ((unsigned)kind >= OB_MKT_KIND_OTHER)
        return OB_ERR_INVALID_ARGUMENT;
    json_t *root = NULL;
    ob_mkt_resource_t *res = NULL;
    int rc = s_load(body, len, OB_GW_RESOURCE_BODY_MAX, &root);
    if (rc)
        return rc;
    if (!(res = calloc(1, sizeof *res))) {
        rc = -ENOMEM;
        goto fail;
    }
    res->kind = kind;
    if ((rc = readers[kind](root, res)) != 0)
        goto fail;
    if (!(res->json = json_dumps(root, JSON_COMPACT))) {
        rc = -ENOMEM;
        goto fail;
    }
    res->json_len = strlen(res->json);
    json_decref(root);
    *ret_resource = res;
    return 0;
fail:
    ob_mkt_resource_destroy(&res);
    json_decref(root);
    return rc;
}

int
ob_mkt_project_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource)
{
    return ob_mkt_resource_parse(OB_MKT_KIND_PROJECT, body, len, ret_resource);
}

int
ob_mkt_project_item_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource)
{
    return ob_mkt_resource_parse(OB_MKT_KIND_PROJECT_ITEM, body, len, ret_resource);
}

int
ob_mkt_message_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource)
{
    return ob_mkt_resource_parse(OB_MKT_KIND_MESSAGE, body, len, ret_resource);
}

void
ob_mkt_resource_destroy(ob_mkt_resource_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_mkt_resource_t *self = *self_p;
    free(self->status_type);
    free(self->status_value);
    free(self->json);
    free(self);
    *self_p = NULL;
}

/* --- error body ----------------------------------------------------------------------------- */

/* A growing text cut at OB_GW_ERROR_TEXT_MAX bytes, on a UTF-8 character boundary. */
typedef struct {
    char buf[OB_GW_ERROR_TEXT_MAX + 1]; /* NUL-terminated text */
    size_t len;                         /* bytes used */
} s_text_t;

static void
s_text_add(s_text_t *t, const char *text)
{
    size_t n = strlen(text);
    if (n > OB_GW_ERROR_TEXT_MAX - t->len) {
        n = OB_GW_ERROR_TEXT_MAX - t->len;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--; /* text[n] continues a character: cut before that character */
    }
    memcpy(t->buf + t->len, text, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

/* Writes the object form {"field": ["msg", ...] or "msg" or other} as one line. */
static void
s_error_line(const json_t *obj, s_text_t *t)
{
    const char *key;
    const json_t *value;
    int first = 1;
    json_object_foreach((json_t *)obj, key, value)
    {
        s_text_add(t, first ? "" : "; ");
        s_text_add(t, key);
        s_text_add(t, ":");
        first = 0;
        size_t n = json_is_array(value) ? json_array_size(value) : 1;
        for (size_t i = 0; i < n; i++) {
            const json_t *msg = json_is_array(value) ? json_array_get(value, i) : value;
            s_text_add(t, i ? ", " : " ");
            if (json_is_string(msg)) {
                s_text_add(t, json_string_value(msg));
            } else {
                char *dump = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
                s_text_add(t, dump ? dump : "?");
                free(dump);
            }
        }
    }
}

int
ob_mkt_error_parse(const char *body, size_t len, ob_mkt_error_t **ret_error)
{
    json_t *root = NULL;
    ob_mkt_error_t *err = NULL;
    s_text_t *text = NULL;
    int rc = s_load(body, len, OB_GW_ERROR_BODY_MAX, &root);
    if (rc)
        return rc;
    const json_t *v = json_object_get(root, "error");
    if (!v) {
        rc = OB_ERR_MISSING_FIELD;
        goto fail;
    }
    if (!json_is_string(v) && !json_is_object(v)) {
        rc = OB_ERR_FIELD_TYPE;
        goto fail;
    }
    if (!(err = calloc(1, sizeof *err)) || !(text = calloc(1, sizeof *text))) {
        rc = -ENOMEM;
        goto fail;
    }
    err->is_object = json_is_object(v);
    if (err->is_object)
        s_error_line(v, text);
    else
        s_text_add(text, json_string_value(v));
    if (s_dup(text->buf, &err->text) ||
        !(err->json = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY))) {
        rc = -ENOMEM;
        goto fail;
    }
    err->json_len = strlen(err->json);
    free(text);
    json_decref(root);
    *ret_error = err;
    return 0;
fail:
    free(text);
    ob_mkt_error_destroy(&err);
    json_decref(root);
    return rc;
}

void
ob_mkt_error_destroy(ob_mkt_error_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_mkt_error_t *self = *self_p;
    free(self->text);
    free(self->json);
    free(self);
    *self_p = NULL;
}
