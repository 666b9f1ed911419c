/*  ob_rest: the REST API's request bodies (issue 15) and its errors, without HTTP: every
    body the gateway takes under /v1/ is parsed here, strictly (unknown keys, duplicate keys,
    wrong JSON types and values out of range are refused with a code and a one-line message
    naming the key, never echoing a value), within the caps of gw_limits.h, and every code
    maps to the HTTP status and the error body the API answers with:

        {"error": {"code": "invalid_field", "message": "credit: not an integer 1..65536"}}

    Bodies:
    - publish one event: the event JSON of `orderbus-monitor publish`, read by liborderbus's
      ob_event_from_json (orderbus/event_json.h), the topic coming from the URL;
    - a batch: a JSON array of such events, or NDJSON (one per line);
    - a subscription (create, or attach to an existing one with the same settings):
          {"name": "billing", "patterns": ["oms.>"], "types": ["project_item.created"],
           "start": "new" | "earliest" | "seq" | "time", "start_seq": 1,
           "start_time": "2026-11-29T00:00:00Z", "credit": 1000, "ack_wait_ms": 30000,
           "max_attempts": 5, "backoff_ms": 1000}
      name and patterns required; start_seq exactly with "seq", start_time exactly with
      "time"; max_attempts 0 means never dead-letter; the other settings default as the
      broker's (orderbus/limits.h);
    - fetch: {"max": 100, "wait_ms": 0} (an empty body: both defaults);
    - ack: {"handles": [...]}; nack: {"handles": [...], "delay_ms": 0}, handles being
      delivery handles (handle.h) of the subscription in the URL;
    - a command to mp.<oms_id>: the bodies of COMMANDS.md, read by ob_oms_command_parse
      (command.h), made into the command event to publish.

    Nothing is logged here, and nothing keeps a body. */
#ifndef OB_GW_REST_PARSE_H
#define OB_GW_REST_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"
#include "handle.h"
#include "orderbus/client.h" /* ob_sub_options_t */
#include "orderbus/error.h"

/* The gateway's own codes, in a range below liborderbus's (OB_ERR_*): refusals that only
   HTTP has. */
#define OB_GW_ERR_BASE (OB_ERR_BASE - 1000)
enum {
    OB_GW_ERR_UNAUTHORIZED = OB_GW_ERR_BASE - 1, /* no token, or not a known one: 401 */
    OB_GW_ERR_MEDIA_TYPE = OB_GW_ERR_BASE - 2,   /* a Content-Type not taken here: 415 */
    OB_GW_ERR_NOT_FOUND = OB_GW_ERR_BASE - 3,    /* no such route or resource: 404 */
    OB_GW_ERR_METHOD = OB_GW_ERR_BASE - 4,       /* the route has no such method: 405 */
};

/* How a body is framed (Content-Type). */
typedef enum ob_rest_media {
    OB_REST_MEDIA_JSON,  /* application/json */
    OB_REST_MEDIA_NDJSON /* application/x-ndjson or application/ndjson: batches only */
} ob_rest_media_t;

/* Returns the HTTP status of rc: 0 -> 200; malformed bodies and invalid fields, topics,
   patterns, events, arguments -> 400; OB_GW_ERR_UNAUTHORIZED -> 401; OB_ERR_FORBIDDEN ->
   403; OB_ERR_NO_SUCH_SUBSCRIPTION, OB_ERR_NO_SUCH_TOPIC, OB_GW_ERR_NOT_FOUND -> 404;
   OB_GW_ERR_METHOD -> 405; OB_ERR_SUBSCRIPTION_EXISTS -> 409; OB_ERR_TOO_LARGE -> 413;
   OB_GW_ERR_MEDIA_TYPE -> 415; OB_ERR_LIMIT -> 429; OB_ERR_BUSY, OB_ERR_CLOSED,
   OB_ERR_SHUTDOWN, OB_ERR_HELLO_REQUIRED, OB_ERR_STORAGE -> 503 (the broker unreachable or
   unable: retry); OB_ERR_TIMEOUT -> 504; anything else (-ENOMEM, protocol faults) -> 500. */
int ob_rest_status(int rc);

/* Returns the stable "code" of rc's error body ("malformed", "too_large", ...; static),
   the contract clients program against: see the table in rest_parse.c and openapi.json. */
const char *ob_rest_code(int rc);

/* Returns a static, never-NULL description of rc: the gateway's codes, else ob_strerror. */
const char *ob_rest_strerror(int rc);

/* Writes the error body of rc with message (borrowed; NULL or "" for ob_rest_strerror's;
   text that is not UTF-8 is replaced by it too) into a new NUL-terminated string the caller
   frees. Returns NULL only without memory. */
char *ob_rest_error_json(int rc, const char *message);

/* Reads a Content-Type header (borrowed, NUL-terminated; NULL when absent) into *ret_media:
   a type of the list above, case-insensitive, whose only meaningful parameter is charset,
   which must be utf-8 if given. Returns 0, or OB_GW_ERR_MEDIA_TYPE with a message. */
int ob_rest_media_type(const char *content_type, ob_rest_media_t *ret_media, char *errbuf,
                       size_t errlen);

/* Parses one event (text: len bytes, borrowed, at most OB_GW_REST_BODY_MAX) for topic
   (borrowed, from the URL) with ob_event_from_json and encodes it: on success *ret_buf is
   the caller's to free() and *ret_len its size. An event without "id" gets a generated one
   (ob_event_peek finds it). Returns 0, OB_ERR_TOO_LARGE, or ob_event_from_json's codes,
   with a message. */
int ob_rest_parse_event(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                        size_t *ret_len, char *errbuf, size_t errlen);

/* Reads text (NUL-terminated, borrowed: a query or path value as the server decoded it;
   name names it in messages) as a decimal integer min..max into *ret_value: digits only (no
   sign, space or leading zero but "0" itself), 1..OB_GW_DECIMAL_MAX of them. Returns 0,
   OB_ERR_MISSING_FIELD (text NULL) or OB_ERR_FIELD_TYPE (anything else), with a message;
   nothing is written on failure. */
int ob_rest_parse_uint(const char *text, const char *name, uint64_t min, uint64_t max,
                       uint64_t *ret_value, char *errbuf, size_t errlen);

/* A topic read (GET /v1/topics/{topic}/events): the broker's FETCH of a range. */
typedef struct ob_rest_read {
    uint64_t from_seq;  /* first seq, >= 1 (default 1) */
    uint64_t from_time; /* µs: from the first event stored at or after it; 0 for none */
    uint32_t limit;     /* events at most, 1..OB_FETCH_RANGE_MAX (OB_GW_READ_LIMIT_DEFAULT) */
} ob_rest_read_t;

/* Reads the query values from_seq, from_time (RFC 3339) and limit (each NUL-terminated,
   borrowed, NULL when absent) into *ret_read. Returns 0 or OB_ERR_FIELD_TYPE (nothing
   written), with a message naming the value. */
int ob_rest_parse_read(const char *from_seq, const char *from_time, const char *limit,
                       ob_rest_read_t *ret_read, char *errbuf, size_t errlen);

/* A parsed batch: encoded events in the order given. */
typedef struct ob_rest_batch {
    size_t count;     /* events, 1..OB_GW_BATCH_EVENTS_MAX */
    uint8_t **events; /* count encoded events (event.h), each owned */
    size_t *lens;     /* their sizes */
} ob_rest_batch_t;

/* Parses a batch (text: len bytes, borrowed, at most OB_GW_REST_BODY_MAX) framed as media:
   a JSON array of event objects, or NDJSON, one event object per line ("\n" or "\r\n";
   blank lines are skipped). Every event is for topic (borrowed) as in ob_rest_parse_event.
   On success *ret_batch is the caller's, destroyed with ob_rest_batch_destroy. Returns 0,
   OB_ERR_MALFORMED (not an array, an empty batch), OB_ERR_TOO_LARGE (over the body cap or
   OB_GW_BATCH_EVENTS_MAX events), or the first bad event's code, with a message naming it
   ("event 3: ..."); -ENOMEM. */
int ob_rest_parse_batch(const char *text, size_t len, ob_rest_media_t media, const char *topic,
                        ob_rest_batch_t **ret_batch, char *errbuf, size_t errlen);

/* Destroys a batch and its events; sets *self_p to NULL; accepts NULL. */
void ob_rest_batch_destroy(ob_rest_batch_t **self_p);

/* A parsed subscription request. options points into the struct itself: never copy one. */
typedef struct ob_rest_sub {
    char name[OB_SUB_NAME_MAX + 1];                       /* [a-z0-9_-], required */
    char patterns[OB_SUB_PATTERNS_MAX][OB_TOPIC_MAX + 1]; /* options.pattern_count used */
    char types[OB_SUB_TYPES_MAX][OB_EVENT_TYPE_MAX + 1];  /* options.type_count used */
    const char *pattern_ptrs[OB_SUB_PATTERNS_MAX];        /* -> patterns, for options */
    const char *type_ptrs[OB_SUB_TYPES_MAX];              /* -> types, for options */
    ob_sub_options_t options; /* for ob_client_subscribe: 0 is a default, as it documents */
} ob_rest_sub_t;

/* Parses a subscription body (text: len bytes, borrowed, at most OB_GW_REST_CONTROL_MAX).
   On success *ret_sub is the caller's to free(). Returns 0, OB_ERR_MALFORMED (not one JSON
   object), OB_ERR_TOO_LARGE (the body, a name, pattern or type too long; too many patterns
   or types), OB_ERR_MISSING_FIELD (name, patterns, start_seq with "seq", start_time with
   "time"), OB_ERR_FIELD_TYPE (a wrong type, an unknown key, a value out of range or of the
   wrong characters, start_seq or start_time without their start), OB_ERR_INVALID_PATTERN, or
   -ENOMEM, with a message. */
int ob_rest_parse_sub(const char *text, size_t len, ob_rest_sub_t **ret_sub, char *errbuf,
                      size_t errlen);

/* A parsed fetch request. */
typedef struct ob_rest_fetch {
    uint32_t max;     /* deliveries at most, 1..OB_GW_FETCH_MAX (OB_GW_FETCH_DEFAULT) */
    uint32_t wait_ms; /* long-poll wait when none is ready, 0..OB_GW_WAIT_MS_MAX */
} ob_rest_fetch_t;

/* Parses a fetch body (text: len bytes, borrowed, at most OB_GW_REST_CONTROL_MAX; len 0 for
   the defaults) into *ret_fetch. Returns 0 or the codes of ob_rest_parse_sub, with a
   message. */
int ob_rest_parse_fetch(const char *text, size_t len, ob_rest_fetch_t *ret_fetch, char *errbuf,
                        size_t errlen);

/* A parsed ack or nack request. */
typedef struct ob_rest_ack {
    size_t count;              /* handles, 1..OB_GW_ACK_HANDLES_MAX */
    ob_rest_handle_t *handles; /* count decoded handles, owned */
    uint32_t delay_ms;         /* nack: redeliver no sooner, 0..OB_DELAY_MS_MAX; ack: 0 */
} ob_rest_ack_t;

/* Parses an ack (nack 0) or nack (nack 1) body (text: len bytes, borrowed, at most
   OB_GW_REST_CONTROL_MAX), decoding each handle with key (borrowed) and requiring it to be
   of subscription sub (borrowed, from the URL). On success *ret_ack is the caller's,
   destroyed with ob_rest_ack_destroy. Returns 0, the codes of ob_rest_parse_sub, or
   OB_ERR_INVALID_ARGUMENT for a handle that is not one of this gateway's or is of another
   subscription, with a message naming its index. */
int ob_rest_parse_ack(const char *text, size_t len, int nack,
                      const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const char *sub,
                      ob_rest_ack_t **ret_ack, char *errbuf, size_t errlen);

/* Destroys an ack request; sets *self_p to NULL; accepts NULL. */
void ob_rest_ack_destroy(ob_rest_ack_t **self_p);

/* Parses a command body (text: len bytes, borrowed) with ob_oms_command_parse and encodes
   the event that carries it to the connector (COMMANDS.md section 1): topic mp.<oms_id>,
   type "command.<name>", id the command's id (so that a retried request is a duplicate,
   not a second command), the command's project, item and message ids, time time_us,
   source source (borrowed; the client's name), data the body as given. On success
   *ret_buf is the caller's to free(), *ret_len its size and ret_id the command's id.
   Returns 0, OB_ERR_INVALID_ARGUMENT (oms_id 0), ob_oms_command_parse's codes with its
   message, or ob_event_encode's. */
int ob_rest_command_event(const char *text, size_t len, uint64_t oms_id, const char *source,
                          uint64_t time_us, uint8_t **ret_buf, size_t *ret_len,
                          char ret_id[OB_GW_COMMAND_ID_MAX + 1], char *errbuf, size_t errlen);

#endif
