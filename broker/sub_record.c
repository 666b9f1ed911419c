/*  ob_sub_record: see sub_record.h.

    Decoding a version-2 record is three passes over bytes that may be anything: ob_mp_prescan
    checks the whole map against the bytes left and the caps of limits.h (so a cut record is
    OB_ERR_TRUNCATED wherever it is cut, and nothing declared can make anyone allocate);
    ob_mp_read_fields finds the keys; the cursor readers copy the values into the record,
    each string bounded by its array. Then one set of value rules (s_check) holds for both
    versions and for the encoder, so that whatever is written can be read back. */
#include "sub_record.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/pattern.h"
#include "orderbus/wire.h"

#define S_FIXSTR_FIRST 0xa0 /* msgpack: the first byte of a fixstr of 0 bytes */
#define S_FIXSTR_LAST 0xbf  /* ... and of 31 bytes */
#define S_STR8 0xd9         /* msgpack: str 8, str 16, str 32 */
#define S_STR16 0xda
#define S_STR32 0xdb

/* Version 2's keys, in the order the encoder writes them. */
enum { K_OWNER, K_PATTERNS, K_TYPES, K_CREDIT, K_ACK_WAIT_MS, K_MAX_ATTEMPTS, K_BACKOFF_MS };

static const ob_mp_key_t s_keys[OB_SUB_RECORD_V2_KEYS] = {
    [K_OWNER] = OB_MP_KEY("owner"),
    [K_PATTERNS] = OB_MP_KEY("patterns"),
    [K_TYPES] = OB_MP_KEY("types"),
    [K_CREDIT] = OB_MP_KEY("credit"),
    [K_ACK_WAIT_MS] = OB_MP_KEY("ack_wait_ms"),
    [K_MAX_ATTEMPTS] = OB_MP_KEY("max_attempts"),
    [K_BACKOFF_MS] = OB_MP_KEY("backoff_ms"),
};

_Static_assert(OB_SUB_RECORD_V2_AT == OB_SUB_RECORD_VERSION_AT + OB_SUB_RECORD_VERSION_SIZE,
               "version 2's map follows the version byte");
_Static_assert(OB_SUB_RECORD_OWNER_MAX <= OB_MP_STR_MAX && OB_SUB_PATTERNS_MAX <= OB_MP_ARRAY_MAX &&
                   OB_SUB_TYPES_MAX <= OB_MP_ARRAY_MAX && OB_SUB_RECORD_V2_KEYS <= OB_MP_MAP_MAX,
               "the pre-scan's caps let every valid record through");
_Static_assert(sizeof((ob_sub_record_t *)0)->patterns == sizeof((ob_wire_msg_t *)0)->patterns &&
                   sizeof((ob_sub_record_t *)0)->types == sizeof((ob_wire_msg_t *)0)->types,
               "a version-1 record's SUBSCRIBE holds the same strings");

/* Returns 0 if s, a string in an array of size bytes, holds min..max bytes; OB_ERR_TOO_LARGE
   if longer (or not terminated in the array), OB_ERR_FIELD_TYPE if shorter. */
static int
s_check_len(const char *s, size_t size, size_t min, size_t max)
{
    size_t len = strnlen(s, size);
    if (len > max)
        return OB_ERR_TOO_LARGE;
    return len < min ? OB_ERR_FIELD_TYPE : 0;
}

/* The value rules of sub_record.h, for every version. */
static int
s_check(const ob_sub_record_t *record)
{
    int rc = s_check_len(record->owner, sizeof record->owner, 0, OB_SUB_RECORD_OWNER_MAX);
    if (rc)
        return rc;
    if (record->pattern_count > OB_SUB_PATTERNS_MAX || record->type_count > OB_SUB_TYPES_MAX)
        return OB_ERR_TOO_LARGE;
    if (record->pattern_count == 0)
        return OB_ERR_FIELD_TYPE;
    for (size_t i = 0; i < record->pattern_count; i++) {
        const char *p = record->patterns[i];
        if ((rc = s_check_len(p, sizeof record->patterns[i], 1, OB_TOPIC_MAX)))
            return rc;
        if (!ob_pattern_valid(p, strlen(p)))
            return OB_ERR_INVALID_PATTERN;
    }
    for (size_t i = 0; i < record->type_count; i++) {
        const char *t = record->types[i];
        if ((rc = s_check_len(t, sizeof record->types[i], 1, OB_EVENT_TYPE_MAX)))
            return rc;
        if (!ob_event_type_valid(t, strlen(t)))
            return OB_ERR_FIELD_TYPE;
    }
    if (record->credit < 1 || record->credit > OB_CREDIT_MAX ||
        record->ack_wait_ms < OB_ACK_WAIT_MS_MIN || record->ack_wait_ms > OB_DELAY_MS_MAX ||
        record->max_attempts > OB_MAX_ATTEMPTS_MAX || record->backoff_ms > OB_DELAY_MS_MAX)
        return OB_ERR_FIELD_TYPE;
    return 0;
}

/* ---- encoding ---- */

/* A msgpack-c write target: a caller's buffer that refuses to overflow. */
typedef struct s_out {
    uint8_t *buf; /* borrowed */
    size_t cap;   /* bytes at buf */
    size_t len;   /* bytes written */
} s_out_t;

static int
s_out_write(void *data, const char *bytes, size_t len)
{
    s_out_t *out = data;
    if (len > out->cap - out->len)
        return -1;
    memcpy(out->buf + out->len, bytes, len);
    out->len += len;
    return 0;
}

static int
s_pack_strs(msgpack_packer *pk, const char *base, size_t stride, size_t count)
{
    int rc = msgpack_pack_array(pk, count);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const char *s = base + i * stride;
        rc = ob_mp_pack_str(pk, s, strlen(s));
    }
    return rc;
}

static int
s_pack_u32(msgpack_packer *pk, int key, uint32_t value)
{
    int rc = ob_mp_pack_key(pk, &s_keys[key]);
    return rc ? rc : msgpack_pack_uint32(pk, value);
}

int
ob_sub_record_encode(const ob_sub_record_t *record, uint8_t *buf, size_t cap, size_t *ret_len)
{
    int rc = s_check(record);
    if (rc)
        return rc;
    s_out_t out = {buf, cap < OB_SUB_RECORD_MAX ? cap : OB_SUB_RECORD_MAX, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, s_out_write);
    const uint8_t version = OB_SUB_RECORD_VERSION;
    size_t owner_len = strlen(record->owner);
    int failed = s_out_write(&out, (const char *)&version, sizeof version) ||
                 msgpack_pack_map(&pk, OB_SUB_RECORD_V2_KEYS - (owner_len == 0));
    if (owner_len)
        failed = failed || ob_mp_pack_key(&pk, &s_keys[K_OWNER]) ||
                 ob_mp_pack_str(&pk, record->owner, owner_len);
    failed =
        failed || ob_mp_pack_key(&pk, &s_keys[K_PATTERNS]) ||
        s_pack_strs(&pk, record->patterns[0], sizeof record->patterns[0], record->pattern_count) ||
        ob_mp_pack_key(&pk, &s_keys[K_TYPES]) ||
        s_pack_strs(&pk, record->types[0], sizeof record->types[0], record->type_count) ||
        s_pack_u32(&pk, K_CREDIT, record->credit) ||
        s_pack_u32(&pk, K_ACK_WAIT_MS, record->ack_wait_ms) ||
        s_pack_u32(&pk, K_MAX_ATTEMPTS, record->max_attempts) ||
        s_pack_u32(&pk, K_BACKOFF_MS, record->backoff_ms);
    if (failed)
        return OB_ERR_TOO_LARGE; /* the only way a write into out fails */
    *ret_len = out.len;
    return 0;
}

/* ---- decoding ---- */

/* Copies the str at cur into buf (size bytes) as a C string. Returns 0, a cursor error,
   OB_ERR_TOO_LARGE (it does not fit) or OB_ERR_FIELD_TYPE (it holds a NUL). */
static int
s_read_str(ob_mp_cursor_t *cur, char *buf, size_t size)
{
    ob_mp_str_t str;
    int rc = ob_mp_read_str(cur, 0, &str);
    if (rc)
        return rc;
    if (str.len >= size)
        return OB_ERR_TOO_LARGE;
    if (ob_mp_has_nul(str.ptr, str.len))
        return OB_ERR_FIELD_TYPE;
    memcpy(buf, str.ptr, str.len);
    buf[str.len] = '\0';
    return 0;
}

/* Reads an array of at most max strs into base (entries stride bytes apart); *ret_count is
   how many. */
static int
s_read_strs(ob_mp_cursor_t *cur, char *base, size_t stride, size_t max, size_t *ret_count)
{
    size_t count = 0;
    int rc = ob_mp_read_array(cur, &count);
    if (rc)
        return rc;
    if (count > max)
        return OB_ERR_TOO_LARGE;
    for (size_t i = 0; i < count; i++)
        if ((rc = s_read_str(cur, base + i * stride, stride)))
            return rc;
    *ret_count = count;
    return 0;
}

/* Reads a required uint of at most 32 bits. */
static int
s_read_u32(ob_mp_cursor_t *at, uint32_t *ret_value)
{
    if (!at->pos)
        return OB_ERR_MISSING_FIELD;
    uint64_t value = 0;
    int rc = ob_mp_read_uint(at, &value);
    if (rc)
        return rc;
    if (value > UINT32_MAX)
        return OB_ERR_FIELD_TYPE;
    *ret_value = (uint32_t)value;
    return 0;
}

static int
s_decode_v2(const uint8_t *map, size_t len, ob_sub_record_t *record)
{
    size_t used = 0, pairs = 0;
    int rc = ob_mp_prescan(map, len, &used);
    if (rc)
        return rc;
    if (used != len)
        return OB_ERR_MALFORMED; /* bytes after the map */
    ob_mp_cursor_t cur = {map, map + len}, peek = cur, at[OB_SUB_RECORD_V2_KEYS];
    if ((rc = ob_mp_read_map(&peek, &pairs)) ||
        (rc = ob_mp_read_fields(&cur, s_keys, OB_SUB_RECORD_V2_KEYS, at)))
        return rc == OB_ERR_FIELD_TYPE ? OB_ERR_MALFORMED : rc; /* not a map */
    size_t known = 0;
    for (size_t i = 0; i < OB_SUB_RECORD_V2_KEYS; i++)
        known += at[i].pos != NULL;
    if (pairs != known)
        return OB_ERR_MALFORMED; /* a key this version does not define */

    if (at[K_OWNER].pos) {
        if ((rc = s_read_str(&at[K_OWNER], record->owner, OB_SUB_RECORD_OWNER_MAX + 1)))
            return rc;
        if (record->owner[0] == '\0')
            return OB_ERR_FIELD_TYPE; /* no owner is written as none */
    }
    if (!at[K_PATTERNS].pos)
        return OB_ERR_MISSING_FIELD;
    if ((rc = s_read_strs(&at[K_PATTERNS], record->patterns[0], sizeof record->patterns[0],
                          OB_SUB_PATTERNS_MAX, &record->pattern_count)))
        return rc;
    if (at[K_TYPES].pos &&
        (rc = s_read_strs(&at[K_TYPES], record->types[0], sizeof record->types[0], OB_SUB_TYPES_MAX,
                          &record->type_count)))
        return rc;
    if ((rc = s_read_u32(&at[K_CREDIT], &record->credit)) ||
        (rc = s_read_u32(&at[K_ACK_WAIT_MS], &record->ack_wait_ms)) ||
        (rc = s_read_u32(&at[K_MAX_ATTEMPTS], &record->max_attempts)) ||
        (rc = s_read_u32(&at[K_BACKOFF_MS], &record->backoff_ms)))
        return rc;
    return 0;
}

/* Returns 1 if byte begins a msgpack str (fixstr, str 8, 16, 32). */
static int
s_is_str(uint8_t byte)
{
    return (byte >= S_FIXSTR_FIRST && byte <= S_FIXSTR_LAST) || byte == S_STR8 || byte == S_STR16 ||
           byte == S_STR32;
}

/* Version 1: [owner str] SUBSCRIBE body, read through a SUBSCRIBE header of our own. */
static int
s_decode_v1(const uint8_t *buf, size_t len, ob_sub_record_t *record)
{
    static const uint8_t header[OB_HEADER_SIZE] = {OB_WIRE_SIGNATURE_0, OB_WIRE_SIGNATURE_1,
                                                   OB_WIRE_VERSION, OB_CMD_SUBSCRIBE};
    ob_mp_cursor_t cur = {buf, buf + len};
    int rc = 0;
    if (s_is_str(buf[0])) {
        if ((rc = s_read_str(&cur, record->owner, OB_SUB_RECORD_OWNER_MAX + 1)))
            return rc;
        if (record->owner[0] == '\0')
            return OB_ERR_FIELD_TYPE; /* no owner is written as none */
    }
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg)
        return -ENOMEM;
    rc = ob_wire_decode(header, sizeof header, cur.pos, (size_t)(buf + len - cur.pos), msg);
    if (rc == 0) {
        record->pattern_count = msg->pattern_count;
        memcpy(record->patterns, msg->patterns, sizeof record->patterns);
        record->type_count = msg->type_count;
        memcpy(record->types, msg->types, sizeof record->types);
        record->credit = msg->credit;
        record->ack_wait_ms = msg->ack_wait_ms;
        record->max_attempts = msg->max_attempts;
        record->backoff_ms = msg->backoff_ms;
    }
    free(msg);
    return rc;
}

int
ob_sub_record_decode(const uint8_t *buf, size_t len, ob_sub_record_t *ret_record)
{
    if (len == 0)
        return OB_ERR_TRUNCATED;
    if (len > OB_SUB_RECORD_MAX)
        return OB_ERR_TOO_LARGE;
    ob_sub_record_t *record = calloc(1, sizeof *record);
    if (!record)
        return -ENOMEM;
    uint8_t first = buf[OB_SUB_RECORD_VERSION_AT];
    int rc = 0;
    if (first == OB_SUB_RECORD_V2) {
        record->version = OB_SUB_RECORD_V2;
        rc = s_decode_v2(buf + OB_SUB_RECORD_V2_AT, len - OB_SUB_RECORD_V2_AT, record);
    } else if (first <= OB_SUB_RECORD_VERSION_LAST) {
        rc = OB_ERR_VERSION; /* a later version, or no record at all */
    } else {
        record->version = OB_SUB_RECORD_V1;
        rc = s_decode_v1(buf, len, record);
    }
    if (rc == 0)
        rc = s_check(record);
    if (rc == 0)
        memcpy(ret_record, record, sizeof *record);
    free(record);
    return rc;
}
