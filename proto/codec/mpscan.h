/*  ob_mp: the msgpack pre-scan and the small helpers the decoders share (ob_codec: internal
    to liborderbus and the broker; not installed).

    msgpack-c 4.0 trusts declared lengths: a 9-byte frame declaring a 4-billion-element array
    makes msgpack_unpack_next try to allocate about 128 GiB (msgpack/msgpack-c#1013). So every
    buffer from outside goes through ob_mp_prescan, which walks it without allocating and
    checks each declared count and length against the bytes left and the caps in limits.h,
    before msgpack-c sees it. ob_mp_unpack_map does both steps for decoders that build
    msgpack-c objects (ob_event_decode); the hot readers (ob_event_peek, ob_wire_decode) use
    ob_mp_prescan and then the cursor readers below, and no msgpack-c at all: they allocate
    nothing.

    The helpers read msgpack_objects that live in a msgpack_unpacked's zone and, for str and
    bin, point into the input buffer: the views they return (ob_mp_str_t) are valid until the
    msgpack_unpacked is destroyed or the input buffer is released, whichever comes first. */
#ifndef OB_MPSCAN_H
#define OB_MPSCAN_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Walks exactly one msgpack object at the start of buf (len bytes, borrowed) without
   allocating. On success *ret_used is the object's size in bytes, which may be less than
   len: trailing bytes are the caller's business. Returns 0, OB_ERR_TRUNCATED (buf ends
   inside the object, or a declared count needs more bytes than are left), OB_ERR_MALFORMED
   (the reserved byte 0xc1, or an ext type: orderbus uses none), or OB_ERR_TOO_LARGE (a str,
   bin, array or map over its OB_MP_* cap, or nesting deeper than OB_MP_DEPTH_MAX). */
int ob_mp_prescan(const uint8_t *buf, size_t len, size_t *ret_used);

/* A borrowed byte string: a str or bin value, or a caller's C string. ptr NULL means nil. */
typedef struct ob_mp_str {
    const char *ptr; /* first byte, not NUL-terminated; NULL for nil or absent */
    size_t len;      /* bytes at ptr */
} ob_mp_str_t;

/* One entry of a decoder's key table; build it with OB_MP_KEY("name"). */
typedef struct ob_mp_key {
    const char *name; /* the key as it appears on the wire */
    size_t len;       /* strlen(name), computed at compile time */
} ob_mp_key_t;

#define OB_MP_KEY(literal)                                                                         \
    {                                                                                              \
        (literal), sizeof(literal) - 1                                                             \
    }

/* Pre-scans buf (len bytes, borrowed), unpacks it into unpacked (initialised by the caller
   with msgpack_unpacked_init, destroyed by the caller in every case) and sets *ret_map to
   its root object, which must be a map and must occupy all len bytes. Returns 0, an
   ob_mp_prescan error, OB_ERR_MALFORMED (trailing bytes, or the root is not a map), or
   -ENOMEM. */
int ob_mp_unpack_map(const uint8_t *buf, size_t len, msgpack_unpacked *unpacked,
                     const msgpack_object **ret_map);

/* Looks up the nkeys keys of the table in map (one pass over the map) and sets
   ret_values[i] to the value of keys[i], or NULL if absent; ret_values has nkeys entries.
   Keys not in the table are ignored (forward compatibility). Returns 0, or OB_ERR_MALFORMED
   if a key is not a str or appears twice (known or not: a map with duplicate keys means
   different things to different readers). ret_values is undefined on error. */
int ob_mp_map_fields(const msgpack_object *map, const ob_mp_key_t *keys, size_t nkeys,
                     const msgpack_object **ret_values);

/* Sets *ret_value to obj's value if obj is a non-negative integer (however it was encoded).
   Returns 0 or OB_ERR_FIELD_TYPE. */
int ob_mp_get_uint(const msgpack_object *obj, uint64_t *ret_value);

/* Sets *ret_value to 1 or 0 if obj is a bool. Returns 0 or OB_ERR_FIELD_TYPE. */
int ob_mp_get_bool(const msgpack_object *obj, int *ret_value);

/* Sets *ret_str to a view of obj if obj is a str (nil_ok: or nil, giving ptr NULL). An empty
   str gives a non-NULL ptr, although msgpack-c may hold NULL for it. Returns 0 or
   OB_ERR_FIELD_TYPE. */
int ob_mp_get_str(const msgpack_object *obj, int nil_ok, ob_mp_str_t *ret_str);

/* Copies the str obj into buf (max + 1 bytes) and NUL-terminates it. Returns 0,
   OB_ERR_FIELD_TYPE (not a str, or it holds a NUL byte, which a C string cannot), or
   OB_ERR_TOO_LARGE (over max bytes). buf is untouched on error. */
int ob_mp_copy_str(const msgpack_object *obj, size_t max, char *buf);

/* --- cursor readers: msgpack values straight from the buffer, without msgpack-c ----------

   For a reader that only needs to look (ob_event_peek): no msgpack_unpacked, no zone, no
   allocation at all. Each reader reads one value at cur and, on success, moves cur past
   it; on error cur is unchanged. The readers never touch a byte outside [cur->pos,
   cur->end), whatever the bytes, but they check only what they need to read safely: the
   caps and the nesting are ob_mp_prescan's job, so run it over the buffer first (then
   only OB_ERR_FIELD_TYPE and, from ob_mp_read_fields, OB_ERR_MALFORMED can happen).
   Types are as msgpack-c reports them, so that a cursor reader and the matching
   ob_mp_get_* agree on every value. Views point into the buffer and are valid as long as
   it is. */

/* A read position in a borrowed buffer. */
typedef struct ob_mp_cursor {
    const uint8_t *pos; /* the next byte to read; NULL for an absent value (ob_mp_read_fields) */
    const uint8_t *end; /* one past the last byte of the buffer */
} ob_mp_cursor_t;

/* Reads a map header; *ret_count is its number of pairs, which follow at cur. Returns 0,
   OB_ERR_FIELD_TYPE (not a map), OB_ERR_TRUNCATED or OB_ERR_MALFORMED (0xc1, ext). */
int ob_mp_read_map(ob_mp_cursor_t *cur, size_t *ret_count);

/* Reads an array header; *ret_count is its number of elements, which follow at cur. Returns
   0, OB_ERR_FIELD_TYPE (not an array), OB_ERR_TRUNCATED or OB_ERR_MALFORMED. */
int ob_mp_read_array(ob_mp_cursor_t *cur, size_t *ret_count);

/* Reads a str (nil_ok: or nil, giving ptr NULL) into a view of its bytes. An empty str gives
   a non-NULL ptr. Returns 0, OB_ERR_FIELD_TYPE, OB_ERR_TRUNCATED or OB_ERR_MALFORMED. */
int ob_mp_read_str(ob_mp_cursor_t *cur, int nil_ok, ob_mp_str_t *ret_str);

/* Reads a bin into a view of its bytes (non-NULL ptr, even when empty). Returns 0,
   OB_ERR_FIELD_TYPE, OB_ERR_TRUNCATED or OB_ERR_MALFORMED. */
int ob_mp_read_bin(ob_mp_cursor_t *cur, ob_mp_str_t *ret_bin);

/* Reads a non-negative integer, however it was encoded (positive fixint, uint 8..64, or
   int 8..64 holding a value >= 0: as ob_mp_get_uint). Returns 0, OB_ERR_FIELD_TYPE (another
   type, or negative), OB_ERR_TRUNCATED or OB_ERR_MALFORMED. */
int ob_mp_read_uint(ob_mp_cursor_t *cur, uint64_t *ret_value);

/* Reads a bool as 1 or 0. Returns 0, OB_ERR_FIELD_TYPE or OB_ERR_TRUNCATED. */
int ob_mp_read_bool(ob_mp_cursor_t *cur, int *ret_value);

/* Reads a nil. Returns 0, OB_ERR_FIELD_TYPE or OB_ERR_TRUNCATED. */
int ob_mp_read_nil(ob_mp_cursor_t *cur);

/* Skips one value of any type, a container with all it holds, checking it as ob_mp_prescan
   would (caps, and nesting counted from the value). Returns 0 or an ob_mp_prescan error. */
int ob_mp_skip(ob_mp_cursor_t *cur);

/* The cursor form of ob_mp_map_fields, with the same rules: reads the map at cur (one pass,
   moving cur past it) and sets ret_values[i] to a cursor at the value of keys[i], or pos
   NULL if absent; ret_values has nkeys entries. Unknown keys' values are skipped. Returns
   0, OB_ERR_FIELD_TYPE (not a map), OB_ERR_MALFORMED (a key is not a str or appears twice,
   known or not), OB_ERR_TOO_LARGE (over OB_MP_MAP_MAX pairs) or an ob_mp_skip error.
   ret_values is undefined on error. */
int ob_mp_read_fields(ob_mp_cursor_t *cur, const ob_mp_key_t *keys, size_t nkeys,
                      ob_mp_cursor_t *ret_values);

/* Returns 1 if the len bytes at ptr hold a NUL byte, else 0. */
static inline int
ob_mp_has_nul(const char *ptr, size_t len)
{
    return len > 0 && memchr(ptr, 0, len) != NULL;
}

/* Encoded sizes, as msgpack-c's packer writes them (smallest form), so that encoders can
   size their output exactly before writing it. */
static inline size_t
ob_mp_uint_size(uint64_t value)
{
    return value < 0x80          ? 1
           : value <= UINT8_MAX  ? 2
           : value <= UINT16_MAX ? 3
           : value <= UINT32_MAX ? 5
                                 : 9;
}

static inline size_t
ob_mp_str_size(size_t len)
{
    return len + (len < 32 ? 1 : len <= UINT8_MAX ? 2 : len <= UINT16_MAX ? 3 : 5);
}

static inline size_t
ob_mp_bin_size(size_t len)
{
    return len + (len <= UINT8_MAX ? 2 : len <= UINT16_MAX ? 3 : 5);
}

/* Size of an array or map header declaring n elements or pairs. */
static inline size_t
ob_mp_container_size(size_t n)
{
    return n < 16 ? 1 : n <= UINT16_MAX ? 3 : 5;
}

/* Packs the str of len bytes at ptr; returns msgpack-c's result (0 or the writer's error). */
static inline int
ob_mp_pack_str(msgpack_packer *pk, const char *ptr, size_t len)
{
    int rc = msgpack_pack_str(pk, len);
    return rc ? rc : msgpack_pack_str_body(pk, ptr, len);
}

/* Packs a key from a table; returns msgpack-c's result. */
static inline int
ob_mp_pack_key(msgpack_packer *pk, const ob_mp_key_t *key)
{
    return ob_mp_pack_str(pk, key->name, key->len);
}

#ifdef __cplusplus
}
#endif
#endif
