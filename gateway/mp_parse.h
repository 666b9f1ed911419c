/*  ob_mkt: parsers of the Marketplace Ordering API responses the gateway reads
    (reference: marketplace-ordering-api.md sections 2.2, 4.3, 4.5, 4.7, 4.11; the JSON Schemas
    event_read, project_read, project_item_read, message_read and error).

    The prefix is ob_mkt_ (Marketplace), as ob_mp_ belongs to liborderbus's msgpack pre-scan.

    Every parser takes a body (borrowed, len bytes, not NUL-terminated) and returns a new
    object that owns everything it points to, freed by its destroy function. Rules:
    - Strict about the JSON types the gateway relies on: ids are integers from 1 (at most 2^63-1)
      (a feed event's project_id may also be null, as for approval-request messages, 2.5/5.5),
      timestamps RFC 3339 text, strings strings, objects objects. A wrong type is
      OB_ERR_FIELD_TYPE, a missing required key OB_ERR_MISSING_FIELD.
    - Tolerant of what it does not use: unknown keys are ignored (and kept in the snapshots),
      and an unknown value of the feed's "type" or "resource" enums is kept as
      OB_MKT_ACTION_OTHER / OB_MKT_KIND_OTHER rather than refusing the page (a Marketplace
      that grows a new kind of event must not stall the feed; the poller skips it).
    - Capped (gw_limits.h, and liborderbus's caps on changes): body bytes, nesting depth
      (OB_GW_JSON_DEPTH_MAX), events per page (OB_GW_PAGE_LIMIT_MAX), changes per event,
      change field and value bytes, iids per project, status bytes: over a cap is
      OB_ERR_TOO_LARGE.
    - Not JSON, not UTF-8, a duplicate key, a NUL in a string, or not the expected top-level
      object: OB_ERR_MALFORMED.
    When memory runs out inside Jansson (2.14), a parse may fail with OB_ERR_MALFORMED or
    another refusal rather than -ENOMEM: Jansson reports some failed allocations as syntax
    errors, and its lexer ignores a failed growth of a string, dropping a byte of it.
    Timestamps keep what the Marketplace gives (whole seconds, 2.6) as microseconds since the
    epoch: "2021-05-25T21:07:42Z" is 1621976862000000. Outputs are written only on success. */
#ifndef OB_GW_MP_PARSE_H
#define OB_GW_MP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/event.h"

typedef enum ob_mkt_action {
    OB_MKT_ACTION_CREATE, /* "create" */
    OB_MKT_ACTION_UPDATE, /* "update" */
    OB_MKT_ACTION_DELETE, /* "delete": in the schema, never produced (6.4 point 5) */
    OB_MKT_ACTION_OTHER   /* any other string */
} ob_mkt_action_t;

typedef enum ob_mkt_kind {
    OB_MKT_KIND_PROJECT,      /* "project" */
    OB_MKT_KIND_PROJECT_ITEM, /* "project_item" */
    OB_MKT_KIND_MESSAGE,      /* "message" */
    OB_MKT_KIND_OTHER         /* any other string */
} ob_mkt_kind_t;

/* One feed event (4.3). */
typedef struct ob_mkt_event {
    uint64_t time_us;         /* "timestamp", as given (whole seconds), µs since the epoch */
    ob_mkt_action_t action;   /* "type" */
    ob_mkt_kind_t kind;       /* "resource" */
    uint64_t project_id;      /* 0 if absent or null; required for projects and items */
    uint64_t project_item_id; /* the per-project iid, 0 if absent; required for items */
    uint64_t message_id;      /* 0 if absent; required for messages */
    ob_change_t *changes;     /* "changes" in order (strings owned by the page), or NULL */
    size_t changes_count;     /* at most OB_CHANGES_MAX */
} ob_mkt_event_t;

/* One page of the feed: {"events": [...]}. */
typedef struct ob_mkt_page {
    ob_mkt_event_t *events; /* count events in feed order, or NULL */
    size_t count;           /* at most OB_GW_PAGE_LIMIT_MAX */
} ob_mkt_page_t;

/* A fetched project (4.5), project item (4.7) or message (4.11). */
typedef struct ob_mkt_resource {
    ob_mkt_kind_t kind;     /* never OB_MKT_KIND_OTHER */
    uint64_t id;            /* project id, item iid, or message id */
    uint64_t project_id;    /* a project's own id, an item's project; 0 for a message */
    char *status_type;      /* item: "status"."type" (any string: data, not logic); else NULL */
    char *status_value;     /* item: "status"."value"; else NULL */
    uint64_t created_at_us; /* message: "created_at"; else 0 */
    uint64_t updated_at_us; /* message: "updated_at"; else 0 */
    char *json;             /* the whole object as compact JSON, NUL-terminated: the snapshot */
    size_t json_len;        /* strlen(json) */
} ob_mkt_resource_t;

/* An error body (2.2): {"error": "text"} or {"error": {"field": ["msg", ...], ...}}. */
typedef struct ob_mkt_error {
    int is_object;   /* 1 for the object form (validation errors) */
    char *text;      /* the string, or the object form as "field: msg, msg; field: msg", cut
                        at OB_GW_ERROR_TEXT_MAX bytes on a UTF-8 boundary */
    char *json;      /* the value of "error" as compact JSON, NUL-terminated */
    size_t json_len; /* strlen(json) */
} ob_mkt_error_t;

/* Parses an events page (at most OB_GW_FEED_BODY_MAX bytes). Each event needs "timestamp",
   "type" and "resource"; changes need "field", "before" and "after": a string value is kept,
   null is nil (NULL), any other JSON value is kept as its compact JSON text (the Marketplace's
   model allows any JSON there, 4.3). On success *ret_page is the caller's, destroyed with
   ob_mkt_page_destroy. Returns 0, OB_ERR_MALFORMED, OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE,
   OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_mkt_page_parse(const char *body, size_t len, ob_mkt_page_t **ret_page);

/* Frees a page and sets *self_p to NULL; accepts NULL. */
void ob_mkt_page_destroy(ob_mkt_page_t **self_p);

/* Parse a project (requires integer "id", object "owner", array of integer iids
   "project_items"; "attributes" an object if present), a project item (integer "id" and
   "project_id", object "status" with string "value" and "type"; "attributes",
   "user_secrets" and "oms_params" objects if present) or a message (integer "id", object
   "author" with string "role", string "content" and "scope", RFC 3339 "created_at" and
   "updated_at"). The body is at most OB_GW_RESOURCE_BODY_MAX bytes. On success *ret_resource
   is the caller's, destroyed with ob_mkt_resource_destroy. Returns 0, OB_ERR_MALFORMED,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_mkt_project_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource);
int ob_mkt_project_item_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource);
int ob_mkt_message_parse(const char *body, size_t len, ob_mkt_resource_t **ret_resource);

/* Parses the resource of the given kind (one of the three above). Returns as they do, or
   OB_ERR_INVALID_ARGUMENT for OB_MKT_KIND_OTHER. */
int ob_mkt_resource_parse(ob_mkt_kind_t kind, const char *body, size_t len,
                          ob_mkt_resource_t **ret_resource);

/* Frees a resource and sets *self_p to NULL; accepts NULL. */
void ob_mkt_resource_destroy(ob_mkt_resource_t **self_p);

/* Parses an error body (at most OB_GW_ERROR_BODY_MAX bytes): an object whose "error" is a
   string or an object (other keys ignored). On success *ret_error is the caller's, destroyed
   with ob_mkt_error_destroy. Returns 0, OB_ERR_MALFORMED, OB_ERR_MISSING_FIELD,
   OB_ERR_FIELD_TYPE, OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_mkt_error_parse(const char *body, size_t len, ob_mkt_error_t **ret_error);

/* Frees an error and sets *self_p to NULL; accepts NULL. */
void ob_mkt_error_destroy(ob_mkt_error_t **self_p);

/* The names of the enums as the feed writes them ("other" for the OTHER values); static. */
const char *ob_mkt_action_name(ob_mkt_action_t action);
const char *ob_mkt_kind_name(ob_mkt_kind_t kind);

#endif
