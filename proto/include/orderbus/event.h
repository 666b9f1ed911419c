/*  ob_event: the ordering event and its msgpack codec (proto/PROTOCOL.md, "Event").

    An event is one msgpack map; the broker stores its encoded bytes verbatim and reads only
    the envelope (id, topic, type, time). The same struct serves both directions:
    - to encode, the caller fills an ob_event_t whose pointers it owns (all borrowed);
    - ob_event_decode returns a new ob_event_t that owns every string it points to, in one
      allocation, freed by ob_event_destroy.
    ob_event_peek validates an event as ob_event_decode does and returns only its envelope,
    as views into the buffer, allocating nothing.

    Identifiers follow the Marketplace: integers, 0 when absent (Marketplace ids start at 1). */
#ifndef OB_EVENT_H
#define OB_EVENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ob_change {
    const char *field;  /* NUL-terminated, 1..OB_FIELD_NAME_MAX bytes */
    const char *before; /* NUL-terminated, or NULL for nil; at most OB_CHANGE_VALUE_MAX bytes */
    const char *after;  /* NUL-terminated, or NULL for nil; at most OB_CHANGE_VALUE_MAX bytes */
} ob_change_t;

typedef struct ob_event {
    const char *id;             /* unique id, the dedup key: 1..OB_EVENT_ID_MAX bytes */
    const char *topic;          /* topic name, ob_topic_valid */
    const char *type;           /* e.g. "project_item.created": 1..OB_EVENT_TYPE_MAX bytes */
    uint64_t time_us;           /* time of occurrence, microseconds since the epoch, UTC */
    const char *source;         /* who produced it, 0..OB_SOURCE_MAX bytes; NULL is "" */
    uint64_t oms_id;            /* Marketplace OMS id, 0 if none */
    uint64_t project_id;        /* Marketplace project id, 0 if none */
    uint64_t project_item_id;   /* project item iid (per project), 0 if none */
    uint64_t message_id;        /* Marketplace message id, 0 if none */
    const ob_change_t *changes; /* changes_count entries, or NULL */
    size_t changes_count;       /* at most OB_CHANGES_MAX */
    const uint8_t *data;        /* opaque bytes: resource snapshot or command body (JSON) */
    size_t data_len;            /* bytes at data */
} ob_event_t;

/* Encodes event into a new buffer. On success *ret_buf is the caller's to free() and
   *ret_len its size. Returns 0, OB_ERR_INVALID_EVENT (a field breaks a rule: id empty or
   too long, bad topic, ...), OB_ERR_TOO_LARGE (over OB_EVENT_MAX_CAP) or -ENOMEM. */
int ob_event_encode(const ob_event_t *event, uint8_t **ret_buf, size_t *ret_len);

/* Decodes exactly one event occupying all len bytes of buf (borrowed; nothing is kept).
   On success *ret_event is a new event the caller destroys with ob_event_destroy.
   Returns 0, OB_ERR_TRUNCATED (buf ends inside the event), OB_ERR_MALFORMED (not msgpack, or
   not a map, or bytes after the event), OB_ERR_TOO_LARGE (a declared size over a cap),
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_INVALID_TOPIC, OB_ERR_INVALID_EVENT, or
   -ENOMEM. Never allocates more than a small multiple of len. */
int ob_event_decode(const uint8_t *buf, size_t len, ob_event_t **ret_event);

/* The envelope of an event, as views into the encoded event (see ob_event_peek). */
typedef struct ob_event_envelope {
    const char *id;    /* view into the frame, id_len bytes, not NUL-terminated */
    size_t id_len;     /* 1..OB_EVENT_ID_MAX */
    const char *topic; /* view, topic_len bytes */
    size_t topic_len;  /* 1..OB_TOPIC_MAX */
    const char *type;  /* view, type_len bytes */
    size_t type_len;   /* 1..OB_EVENT_TYPE_MAX */
    uint64_t time_us;  /* time of occurrence */
} ob_event_envelope_t;

/* Validates buf (len bytes, borrowed) as one complete event by exactly the rules of
   ob_event_decode, returning the same code ob_event_decode returns for the same input, but
   without allocating anything (so never -ENOMEM, where ob_event_decode may run out of
   memory). On success fills *ret_envelope with views into buf, valid as long as buf is and
   not NUL-terminated (the id, topic and type hold no NUL byte); *ret_envelope is untouched
   on error. Returns 0, OB_ERR_TRUNCATED, OB_ERR_MALFORMED, OB_ERR_TOO_LARGE,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_INVALID_TOPIC or OB_ERR_INVALID_EVENT,
   as ob_event_decode documents them. For a reader that needs only the envelope, such as the
   broker: it does the same pre-scan and checks, without the unpacking and the copy. */
int ob_event_peek(const uint8_t *buf, size_t len, ob_event_envelope_t *ret_envelope);

/* Frees an event from ob_event_decode and sets *self_p to NULL; accepts NULL. */
void ob_event_destroy(ob_event_t **self_p);

/* Returns 1 if name (len bytes, not necessarily NUL-terminated) is a valid topic name:
   1..OB_TOPIC_MAX bytes, dot-separated non-empty tokens of [a-z0-9_-]; else 0. */
int ob_topic_valid(const char *name, size_t len);

/* Returns 1 if type (len bytes, not necessarily NUL-terminated) is a valid event type:
   1..OB_EVENT_TYPE_MAX bytes of [a-z0-9_.-] (PROTOCOL.md 7.1); else 0. */
int ob_event_type_valid(const char *type, size_t len);

#ifdef __cplusplus
}
#endif
#endif
