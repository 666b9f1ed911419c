/*  ob_facade: the read side of the Ordering API facade (issue 17), without HTTP or storage:
    the routes under /api/v1/oms/{oms_id}/, their query rules, their answers in the
    Marketplace's shapes (marketplace-ordering-api.md sections 2, 4 and 4.14), and what the view
    (facade_view.h) keeps of each event of oms.<oms_id>.

    Routes (GET): events, projects, projects/{p}, projects/{p}/project_items,
    projects/{p}/project_items/{iid}, messages, messages/{m}. PATCH and PUT of an item or a
    message and POST of messages are routed as writes (the caller answers them); any other
    path or method is no route (the Marketplace's 404 page, HTML, before the token is looked
    at). Path ids are read as Rails reads them (Ruby's String#to_i): "abc" is 0, which no
    resource has.

    Query rules, in the Marketplace's order (the double's, tests/doubles/README.md): `limit`
    (default OB_GW_FACADE_LIMIT_DEFAULT, must be > 0 after to_i, else 400 "'limit' must be a
    positive integer"; no maximum is refused, but a page holds at most
    OB_GW_FACADE_LIMIT_MAX: a client pages on), then `from_id` (default 0, >= 0 after to_i,
    else 400 "'from_id' must be a non-negative integer"; exclusive) or, for events,
    `from_timestamp` (required: missing or empty 400 "param is missing or the value is empty:
    from_timestamp"; it must match ^20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$ and be
    a real date, else 400 "invalid date"; exclusive, to the microsecond). Then the resources:
    404 "Project not found" (also for messages without project_id), "Project item not
    found", "Message not found". A repeated parameter: the last counts (the caller keeps it).

    The extension, which a client that does not know it never sees: each event carries
    "seq", its sequence number on oms.<oms_id>, after the Marketplace's keys; `from_seq`
    (decimal, 0..2^64-1, else 400 "'from_seq' must be a non-negative integer") returns the
    events with a greater seq. With from_seq, from_timestamp may be left out; given both,
    both hold. Events come in seq order, so a client that passes the last seq it saw never
    sees an event twice and never misses one the topic still holds.

    Event timestamps: an event's timestamp in the view is its time (the Marketplace's, whole
    seconds), moved forward to 1 µs after the previous event's when it is not later: so
    timestamps strictly increase in seq order, the events after a from_timestamp are a
    suffix of the topic, and ties have an order. They are shown as the Marketplace shows
    them (seconds, UTC, "Z"), so a client that sends back the last timestamp it saw reads
    the rest of that second again, as against the Marketplace (reference 6.4), and misses
    nothing: the first event of a second, the only one at the whole second, is the first it
    was given of that second.

    Answers: bodies are compact JSON with the Marketplace's keys in its order; a snapshot is
    served as the view holds it (the Marketplace's own answer, user_secrets values and the
    content of user_direct messages obfuscated, see ob_facade_index). Errors are
    {"error": "<text>"}. */
#ifndef OB_GW_FACADE_READ_H
#define OB_GW_FACADE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"
#include "orderbus/event.h"

/* The Marketplace's texts (reference 2.1, 2.4, 2.6, 4.3, 4.14) and ours. */
#define OB_FACADE_TOKEN_HEADER "X-User-Token" /* the Marketplace's token header (2.1) */
#define OB_FACADE_E_SIGN_IN "You need to sign in or sign up before continuing."
#define OB_FACADE_E_FORBIDDEN "You are not authorized to perform this action."
#define OB_FACADE_E_OMS "OMS not found"
#define OB_FACADE_E_PROJECT "Project not found"
#define OB_FACADE_E_ITEM "Project item not found"
#define OB_FACADE_E_MESSAGE "Message not found"
#define OB_FACADE_E_DATE "invalid date"
#define OB_FACADE_E_LIMIT "'limit' must be a positive integer"
#define OB_FACADE_E_FROM_ID "'from_id' must be a non-negative integer"
#define OB_FACADE_E_MISSING_TS "param is missing or the value is empty: from_timestamp"
#define OB_FACADE_E_FROM_SEQ "'from_seq' must be a non-negative integer" /* the extension */
/* Rails' page for a route it does not have (not in the reference; the double's). */
#define OB_FACADE_NO_ROUTE_HTML                                                                    \
    "<html><body><h1>The page you were looking for doesn't exist.</h1></body></html>"
#define OB_FACADE_OBFUSCATED "<OBFUSCATED>" /* what the Marketplace shows for a secret */
#define OB_FACADE_PREFIX "/api/v1/oms/"     /* the facade's paths */

typedef enum ob_facade_kind {
    OB_FACADE_NONE = 0, /* no resource */
    OB_FACADE_PROJECT,  /* a project: key its id */
    OB_FACADE_ITEM,     /* a project item: key its project and iid */
    OB_FACADE_MESSAGE,  /* a message: key its id; listed in its project (and item) */
} ob_facade_kind_t;

typedef enum ob_facade_route_kind {
    OB_FACADE_R_EVENTS = 1,   /* GET .../events */
    OB_FACADE_R_PROJECTS,     /* GET .../projects */
    OB_FACADE_R_PROJECT,      /* GET .../projects/{p} */
    OB_FACADE_R_ITEMS,        /* GET .../projects/{p}/project_items */
    OB_FACADE_R_ITEM,         /* GET .../projects/{p}/project_items/{iid} */
    OB_FACADE_R_MESSAGES,     /* GET .../messages */
    OB_FACADE_R_MESSAGE,      /* GET .../messages/{m} */
    OB_FACADE_R_UPDATE_ITEM,  /* PATCH|PUT .../projects/{p}/project_items/{iid} (writes: */
    OB_FACADE_R_POST_MESSAGE, /* POST .../messages            facade_write.h, */
    OB_FACADE_R_EDIT_MESSAGE, /* PATCH|PUT .../messages/{m}   from here on) */
} ob_facade_route_kind_t;

/* A routed request. */
typedef struct ob_facade_route {
    ob_facade_route_kind_t kind; /* which route */
    uint64_t oms_id;             /* {oms_id}, 0 if not a positive integer */
    uint64_t project_id;         /* {p}, 0 when absent */
    uint64_t item_id;            /* {iid}, 0 when absent */
    uint64_t message_id;         /* {m}, 0 when absent */
} ob_facade_route_t;

/* The query parameters a route reads: NUL-terminated values (the last of a repeated one),
   or NULL when absent; all borrowed. */
typedef struct ob_facade_query {
    const char *limit;           /* every list and events */
    const char *from_id;         /* lists */
    const char *from_timestamp;  /* events */
    const char *from_seq;        /* events: the extension */
    const char *project_id;      /* messages */
    const char *project_item_id; /* messages */
} ob_facade_query_t;

/* One record the source hands over, borrowed for the callback's call. */
typedef struct ob_facade_record {
    uint64_t seq;     /* events: the seq; else 0 */
    uint64_t ts_us;   /* events: the view's timestamp (µs); else 0 */
    const char *json; /* events: the fields of ob_facade_entry_t; else the snapshot */
    size_t len;       /* bytes at json */
} ob_facade_record_t;

/* Called per record, in order. Returns 0 to go on, or an error that the source returns. */
typedef int (*ob_facade_each_fn)(void *arg, const ob_facade_record_t *record);

/* What the answers are read from (the view, or a test's table). Each returns 0, -ENOENT
   (get: no such resource) or an error (-errno, OB_ERR_STORAGE). */
typedef struct ob_facade_source {
    void *ctx; /* the source's own, passed to each function */
    /* The events with seq > after_seq and timestamp > after_ts_us, in seq order, at most
       limit, each to fn. */
    int (*events)(void *ctx, uint64_t after_seq, uint64_t after_ts_us, size_t limit,
                  ob_facade_each_fn fn, void *arg);
    /* The snapshot of one resource to fn: a project (a), an item (project a, iid b), a
       message (a). -ENOENT when the view has none. */
    int (*get)(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, ob_facade_each_fn fn,
               void *arg);
    /* Up to limit snapshots with an id above after_id, by id: projects (a, b unused), the
       items of project a, the messages of project a (b 0) or of its item b. */
    int (*list)(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, uint64_t after_id,
                size_t limit, ob_facade_each_fn fn, void *arg);
} ob_facade_source_t;

/* An answer: status and body. */
typedef struct ob_facade_answer {
    unsigned status; /* HTTP status */
    int html;        /* 1: body is HTML (no route), else JSON */
    char *body;      /* NUL-terminated, owned (ob_facade_answer_clear) */
    size_t len;      /* bytes at body */
} ob_facade_answer_t;

/* Routes method and path (both borrowed, NUL-terminated; path without the query) into
 *ret_route. Returns 0, or OB_ERR_INVALID_ARGUMENT: not a facade route (the 404 page). */
int ob_facade_route(const char *method, const char *path, ob_facade_route_t *ret_route);

/* Answers the read route (below OB_FACADE_R_UPDATE_ITEM) with query, both borrowed, from source,
   once the caller has checked the token, the OMS and its rights: the query rules, the
   lookups, the body. *ret_answer is filled (an error answer too); clear it with
   ob_facade_answer_clear. Returns 0, or -ENOMEM or the source's error (then *ret_answer is
   untouched and the caller answers 500). */
int ob_facade_answer(const ob_facade_route_t *route, const ob_facade_query_t *query,
                     const ob_facade_source_t *source, ob_facade_answer_t *ret_answer);

/* Fills *ret_answer with {"error": text} (text borrowed) and status. Returns 0 or -ENOMEM. */
int ob_facade_error(unsigned status, const char *text, ob_facade_answer_t *ret_answer);

/* Fills *ret_answer with the 404 page of no route. Returns 0 or -ENOMEM. */
int ob_facade_no_route(ob_facade_answer_t *ret_answer);

/* Frees the body of answer and zeroes it; accepts an answer already cleared. */
void ob_facade_answer_clear(ob_facade_answer_t *answer);

/* Ruby's String#to_i of text (borrowed): leading blanks, a sign, digits with single '_'
   between them; anything else ends it ("abc" is 0). Saturates at INT64_MAX / INT64_MIN. */
int64_t ob_facade_to_i(const char *text);

/* Parses a from_timestamp (borrowed) by the rule above into *ret_us. Returns 0 or
   OB_ERR_FIELD_TYPE. */
int ob_facade_parse_time(const char *text, uint64_t *ret_us);

/* Writes us as the Marketplace shows a time, 2021-05-25T21:07:42Z (the second, UTC), into
   ret_text. Cannot fail. */
void ob_facade_format_time(uint64_t us, char ret_text[OB_GW_TIMESTAMP_TEXT_MAX]);

/* What the view keeps of one event of oms.<oms_id> (ob_facade_index). */
typedef struct ob_facade_entry {
    char *fields;          /* a feed event: its Marketplace keys after "timestamp", as the
                              inside of a JSON object ("type":...,"message_id":N), owned;
                              NULL for any other event */
    size_t fields_len;     /* bytes at fields */
    ob_facade_kind_t kind; /* the resource whose snapshot it carries, or OB_FACADE_NONE */
    uint64_t id;           /* the project's, item's (iid) or message's id */
    uint64_t project_id;   /* the item's project; a message's project (0: unknown) */
    uint64_t item_id;      /* a message's item iid (0: on the project, or unknown) */
    char *json;            /* the snapshot, compact, secrets obfuscated, owned; or NULL */
    size_t json_len;       /* bytes at json */
} ob_facade_entry_t;

/* Maps a decoded event of oms.<oms_id> (borrowed) into *ret_entry (the caller clears it with
   ob_facade_entry_clear): a mirrored feed event (project.created, project_item.created,
   project_item.status_changed, project_item.updated, message.posted, message.edited) gives
   its fields (type create/update, resource, changes, project_id, project_item_id,
   message_id, the Marketplace's order; project_id null when 0) and the snapshot in its data
   if any; a command.completed outcome of update_project_item, post_message or edit_message
   with a 2xx status gives the snapshot in data.response; anything else gives nothing. The
   snapshot must be a JSON object of the kind named (ids integers from 1, the item's
   project the event's); user_secrets values become "<OBFUSCATED>", as does the content of a
   message whose scope is user_direct (the Marketplace shows them so in a GET; an outcome
   holds them in clear). Returns 0 (the entry may be empty), OB_ERR_MALFORMED (a snapshot
   that is not such an object: the fields are still filled, and the entry has no snapshot),
   OB_ERR_TOO_LARGE (data over OB_GW_RESOURCE_BODY_MAX) or -ENOMEM (nothing filled). */
int ob_facade_index(const ob_event_t *event, ob_facade_entry_t *ret_entry);

/* Frees what entry owns and zeroes it; accepts an entry already cleared. */
void ob_facade_entry_clear(ob_facade_entry_t *entry);

/* Writes project (json, len bytes, borrowed: a project snapshot) with iids (count, borrowed)
   added to its "project_items" where missing, ascending, into a new string *ret_json (the
   caller frees it), *ret_len its length: the Marketplace lists every iid of a project, and
   the view learns of new items from their own events. Returns 0, OB_ERR_MALFORMED (not a
   project snapshot) or -ENOMEM. */
int ob_facade_project_merge(const char *json, size_t len, const uint64_t *iids, size_t count,
                            char **ret_json, size_t *ret_len);

#endif
