/*  ob_sub_record: the codec of a durable subscription's stored record (store.h
    OB_STORE_PUT_SUB, the value under the subscription's name in `subs`).

    A record holds what a subscription is, not where it is (that is the position record,
    pos_record.h): its owner, patterns, event types and delivery settings. The name is the
    record's key and is not repeated inside. Two versions exist; the first byte tells them
    apart, and every version after 1 begins with its number as one byte (a msgpack positive
    fixint, which no version-1 record begins with):

    Version 2 (written since 0.6):
      offset 0  u8   OB_SUB_RECORD_V2
      offset 1  map  a msgpack map of OB_SUB_RECORD_V2_KEYS pairs at most, ending the record
                     (OB_SUB_RECORD_V2_AT is offset 1), with the keys:
        "owner"        str   1..OB_SUB_RECORD_OWNER_MAX bytes, no NUL; absent: no owner
        "patterns"     array 1..OB_SUB_PATTERNS_MAX str, each a valid topic pattern of
                             1..OB_TOPIC_MAX bytes (pattern.h)
        "types"        array 0..OB_SUB_TYPES_MAX str, each a valid event type (event.h);
                             absent: none (every type)
        "credit"       uint  1..OB_CREDIT_MAX
        "ack_wait_ms"  uint  OB_ACK_WAIT_MS_MIN..OB_DELAY_MS_MAX
        "max_attempts" uint  0..OB_MAX_ATTEMPTS_MAX (0: unlimited)
        "backoff_ms"   uint  0..OB_DELAY_MS_MAX
      Every key but "owner" and "types" is required; a key not listed here, a key given
      twice, or a byte after the map is an error: a field that an older reader could not
      ignore safely needs a new version, and this reader knows no field it may ignore.

    Version 1 (0.5 and earlier; read, never written): no version byte. An optional owner, a
    msgpack str of 1..OB_SUB_RECORD_OWNER_MAX bytes, then the body of a SUBSCRIBE message
    (wire.h) holding req (a dummy 1), sub, patterns, types, credit, ack_wait_ms,
    max_attempts and backoff_ms. Its first byte is a msgpack str (the owner) or map (the
    body). It is decoded with ob_wire_decode, and then held to the same value rules as
    version 2; its `sub` and `req` are not used.

    Records are read from the store, which a crash, a bug or a hand may have damaged: the
    decoder trusts no byte and never reads outside the buffer it is given. */
#ifndef OB_SUB_RECORD_H
#define OB_SUB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_SUB_RECORD_V1 1 /* 0.5's record: [owner] SUBSCRIBE body, no version byte */
#define OB_SUB_RECORD_V2 2 /* version byte, then a map of its own keys */
#define OB_SUB_RECORD_VERSION OB_SUB_RECORD_V2 /* the version ob_sub_record_encode writes */
#define OB_SUB_RECORD_VERSION_AT 0             /* offset of the version byte (versions >= 2) */
#define OB_SUB_RECORD_VERSION_SIZE 1           /* bytes of the version */
#define OB_SUB_RECORD_V2_AT 1                  /* offset of version 2's map */
#define OB_SUB_RECORD_V2_KEYS 7                /* keys version 2 defines */
#define OB_SUB_RECORD_VERSION_LAST 0x7f        /* a version byte is a positive fixint, 2..this */
#define OB_SUB_RECORD_OWNER_MAX 64             /* bytes in an owner: a client name (perms.h) */
#define OB_SUB_RECORD_MAX OB_BODY_MAX          /* bytes in a record (what the store takes) */

/* A subscription's stored settings, decoded or to encode. Strings are NUL-terminated. */
typedef struct ob_sub_record {
    int version;                                          /* decode: the version read */
    char owner[OB_SUB_RECORD_OWNER_MAX + 1];              /* the owning client, "" for none */
    size_t pattern_count;                                 /* 1..OB_SUB_PATTERNS_MAX */
    char patterns[OB_SUB_PATTERNS_MAX][OB_TOPIC_MAX + 1]; /* topic patterns */
    size_t type_count;                                    /* 0..OB_SUB_TYPES_MAX */
    char types[OB_SUB_TYPES_MAX][OB_EVENT_TYPE_MAX + 1];  /* event types, none: every type */
    uint32_t credit;                                      /* 1..OB_CREDIT_MAX */
    uint32_t ack_wait_ms;                                 /* OB_ACK_WAIT_MS_MIN..OB_DELAY_MS_MAX */
    uint32_t max_attempts;                                /* 0..OB_MAX_ATTEMPTS_MAX, 0 unlimited */
    uint32_t backoff_ms;                                  /* 0..OB_DELAY_MS_MAX */
} ob_sub_record_t;

/* Encodes record (borrowed; its version is ignored) as OB_SUB_RECORD_VERSION into buf (cap
   bytes, borrowed); *ret_len is the size written. Returns 0, OB_ERR_FIELD_TYPE (a value
   outside the rules of the header comment: the record would not decode),
   OB_ERR_TOO_LARGE (a string or a count over its cap, or cap too small). */
int ob_sub_record_encode(const ob_sub_record_t *record, uint8_t *buf, size_t cap, size_t *ret_len);

/* Decodes the len bytes at buf (borrowed; any bytes) of either version into *ret_record
   (strings copied), written only on success. Returns 0; OB_ERR_TRUNCATED (empty, or cut
   short); OB_ERR_VERSION (a version byte this code does not know); OB_ERR_MALFORMED (not
   msgpack of the expected shape, an unknown or repeated key, bytes after the record);
   OB_ERR_MISSING_FIELD; OB_ERR_TOO_LARGE (a string or count over its cap, or more than
   OB_SUB_RECORD_MAX bytes); OB_ERR_FIELD_TYPE (a wrong type, or a value outside its range);
   OB_ERR_INVALID_PATTERN (a pattern that is no topic pattern); -ENOMEM (version 1 only). */
int ob_sub_record_decode(const uint8_t *buf, size_t len, ob_sub_record_t *ret_record);

#ifdef __cplusplus
}
#endif

#endif
