/*  ob_mp: the msgpack pre-scan and the decoders' shared helpers. See mpscan.h. */
#include "mpscan.h"

#include <assert.h>
#include <errno.h>

#include "orderbus/error.h"
#include "orderbus/limits.h"

/* Inlining decides the pre-scan's speed (see s_read_head); other compilers get the plain
   functions, which are correct, only slower. */
#if defined(__GNUC__)
#define S_ALWAYS_INLINE __attribute__((always_inline))
#else
#define S_ALWAYS_INLINE
#endif

/* What a msgpack type byte introduces. */
enum { S_SCALAR, S_STR, S_BIN, S_ARRAY, S_MAP };

/* Reads a big-endian unsigned integer of width 1, 2, 4 or 8 bytes. */
static uint64_t
s_read_be(const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

/* The header of one msgpack value: its type byte and what that byte and the length or count
   field after it declare. The payload (a number's bytes, a str's bytes, a container's
   elements) follows the header and is not checked here. */
typedef struct s_head {
    uint8_t type; /* the type byte */
    int kind;     /* S_SCALAR, S_STR, S_BIN, S_ARRAY or S_MAP */
    size_t skip;  /* S_SCALAR: bytes of its fixed-size payload (numbers), else 0 */
    uint64_t n;   /* S_STR, S_BIN: declared length; S_ARRAY, S_MAP: declared count */
} s_head_t;

/* Reads the header at buf[*pos] (buf holds len bytes, *pos <= len) and advances *pos past
   it. The one place that knows msgpack's type bytes: ob_mp_prescan and the cursor readers
   all go through it. Returns 0, OB_ERR_TRUNCATED (no type byte, or the length or count
   field is cut) or OB_ERR_MALFORMED (0xc1, or an ext type); *pos is unchanged on error.
   Always inlined: it is the inner loop of ob_mp_prescan, which runs on every frame, and a
   call per value there doubles the pre-scan's time (measured with GCC 12 at -O2). */
static S_ALWAYS_INLINE inline int
s_read_head(const uint8_t *buf, size_t len, size_t *pos, s_head_t *ret_head)
{
    size_t at = *pos;
    if (at >= len)
        return OB_ERR_TRUNCATED;
    uint8_t type = buf[at++];
    int kind = S_SCALAR;
    size_t width = 0; /* bytes of the length or count that follows the type byte */
    size_t skip = 0;
    uint64_t n = 0;

    if (type <= 0x7f || type >= 0xe0) /* positive and negative fixint */
        ;
    else if (type <= 0x8f) {
        kind = S_MAP;
        n = type & 0x0f;
    } else if (type <= 0x9f) {
        kind = S_ARRAY;
        n = type & 0x0f;
    } else if (type <= 0xbf) {
        kind = S_STR;
        n = type & 0x1f;
    } else {
        switch (type) {
        case 0xc0: /* nil */
        case 0xc2: /* false */
        case 0xc3: /* true */
            break;
        case 0xc4: /* bin 8, 16, 32 */
            kind = S_BIN;
            width = 1;
            break;
        case 0xc5:
            kind = S_BIN;
            width = 2;
            break;
        case 0xc6:
            kind = S_BIN;
            width = 4;
            break;
        case 0xd9: /* str 8, 16, 32 */
            kind = S_STR;
            width = 1;
            break;
        case 0xda:
            kind = S_STR;
            width = 2;
            break;
        case 0xdb:
            kind = S_STR;
            width = 4;
            break;
        case 0xcc: /* uint 8 */
        case 0xd0: /* int 8 */
            skip = 1;
            break;
        case 0xcd:
        case 0xd1:
            skip = 2;
            break;
        case 0xca: /* float 32 */
        case 0xce:
        case 0xd2:
            skip = 4;
            break;
        case 0xcb: /* float 64 */
        case 0xcf:
        case 0xd3:
            skip = 8;
            break;
        case 0xdc: /* array 16, 32 */
            kind = S_ARRAY;
            width = 2;
            break;
        case 0xdd:
            kind = S_ARRAY;
            width = 4;
            break;
        case 0xde: /* map 16, 32 */
            kind = S_MAP;
            width = 2;
            break;
        case 0xdf:
            kind = S_MAP;
            width = 4;
            break;
        default:
            /* 0xc1 is reserved and never valid. 0xc7..0xc9 and 0xd4..0xd8 are the ext
               types, which orderbus does not use: refusing them keeps the object model
               of every decoder to str, bin, numbers, bool, nil, arrays and maps. */
            return OB_ERR_MALFORMED;
        }
    }

    if (width > 0) {
        if (len - at < width)
            return OB_ERR_TRUNCATED;
        n = s_read_be(buf + at, width);
        at += width;
    }
    ret_head->type = type;
    ret_head->kind = kind;
    ret_head->skip = skip;
    ret_head->n = n;
    *pos = at;
    return 0;
}

int
ob_mp_prescan(const uint8_t *buf, size_t len, size_t *ret_used)
{
    /* Iterative walk: left[d] is how many objects the container open at depth d still holds
       (a map counts its keys and values); left[0] is the root, one object. Every access to
       buf is preceded by a check against len - pos, which never underflows since pos <= len. */
    uint64_t left[OB_MP_DEPTH_MAX + 1];
    size_t depth = 0;
    size_t pos = 0;

    left[0] = 1;
    for (;;) {
        while (left[depth] == 0) {
            if (depth == 0) {
                *ret_used = pos;
                return 0;
            }
            depth--;
        }
        left[depth]--;

        s_head_t head;
        int rc = s_read_head(buf, len, &pos, &head);
        if (rc)
            return rc;
        uint64_t n = head.n;

        /* A cap is checked before the bytes left: a count over its cap can never succeed
           however many bytes follow, while a short buffer might just be a prefix. */
        switch (head.kind) {
        case S_SCALAR:
            if (len - pos < head.skip)
                return OB_ERR_TRUNCATED;
            pos += head.skip;
            break;
        case S_STR:
        case S_BIN:
            if (n > OB_MP_STR_MAX)
                return OB_ERR_TOO_LARGE;
            if (n > len - pos)
                return OB_ERR_TRUNCATED;
            pos += (size_t)n;
            break;
        case S_ARRAY:
        case S_MAP:
            if (n > (head.kind == S_ARRAY ? OB_MP_ARRAY_MAX : OB_MP_MAP_MAX))
                return OB_ERR_TOO_LARGE;
            if (head.kind == S_MAP)
                n *= 2;
            if (depth == OB_MP_DEPTH_MAX)
                return OB_ERR_TOO_LARGE;
            /* Every element takes at least one byte: a count beyond the bytes left cannot
               be satisfied by this buffer. This is what keeps msgpack-c's allocation for
               the containers proportional to len. */
            if (n > len - pos)
                return OB_ERR_TRUNCATED;
            if (n > 0)
                left[++depth] = n;
            break;
        }
    }
}

int
ob_mp_unpack_map(const uint8_t *buf, size_t len, msgpack_unpacked *unpacked,
                 const msgpack_object **ret_map)
{
    size_t used = 0;
    size_t off = 0;

    int rc = ob_mp_prescan(buf, len, &used);
    if (rc)
        return rc;
    if (used != len)
        return OB_ERR_MALFORMED;
    /* Not a map: refuse before msgpack-c allocates its zone. */
    if (!((buf[0] >= 0x80 && buf[0] <= 0x8f) || buf[0] == 0xde || buf[0] == 0xdf))
        return OB_ERR_MALFORMED;

    switch (msgpack_unpack_next(unpacked, (const char *)buf, len, &off)) {
    case MSGPACK_UNPACK_SUCCESS:
    case MSGPACK_UNPACK_EXTRA_BYTES:
        break;
    case MSGPACK_UNPACK_CONTINUE:
        return OB_ERR_TRUNCATED; /* cannot happen after the pre-scan; kept for safety */
    case MSGPACK_UNPACK_PARSE_ERROR:
        /* The pre-scan accepted the syntax (fuzz_mpscan checks that msgpack-c agrees), so
           the only way left for msgpack-c to fail is a zone allocation in a callback. */
        return -ENOMEM;
    case MSGPACK_UNPACK_NOMEM_ERROR:
    default:
        return -ENOMEM;
    }
    if (off != len || unpacked->data.type != MSGPACK_OBJECT_MAP)
        return OB_ERR_MALFORMED;
    *ret_map = &unpacked->data;
    return 0;
}

/* Returns 1 if the str objects a and b hold the same bytes. An empty str may have a NULL
   ptr (see ob_mp_get_str), which memcmp must not see even for 0 bytes. */
static int
s_str_equal(const msgpack_object *a, const msgpack_object *b)
{
    return a->via.str.size == b->via.str.size &&
           (a->via.str.size == 0 || memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
}

int
ob_mp_map_fields(const msgpack_object *map, const ob_mp_key_t *keys, size_t nkeys,
                 const msgpack_object **ret_values)
{
    const msgpack_object_kv *kv = map->via.map.ptr;

    for (size_t j = 0; j < nkeys; j++)
        ret_values[j] = NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &kv[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return OB_ERR_MALFORMED;

        size_t j = 0;
        while (j < nkeys &&
               !(keys[j].len == key->via.str.size &&
                 (keys[j].len == 0 || memcmp(keys[j].name, key->via.str.ptr, keys[j].len) == 0)))
            j++;
        if (j < nkeys) {
            if (ret_values[j])
                return OB_ERR_MALFORMED;
            ret_values[j] = &kv[i].val;
            continue;
        }
        /* An unknown key: compare it with the keys before it. Quadratic, but maps hold at
           most OB_MP_MAP_MAX pairs and the cost is only paid when unknown keys are there. */
        for (uint32_t m = 0; m < i; m++)
            if (s_str_equal(&kv[m].key, key))
                return OB_ERR_MALFORMED;
    }
    return 0;
}

int
ob_mp_get_uint(const msgpack_object *obj, uint64_t *ret_value)
{
    /* msgpack-c reports every non-negative integer, even one sent as int 8..64, as
       POSITIVE_INTEGER, so senders that pick signed encodings are accepted. */
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return OB_ERR_FIELD_TYPE;
    *ret_value = obj->via.u64;
    return 0;
}

int
ob_mp_get_bool(const msgpack_object *obj, int *ret_value)
{
    if (obj->type != MSGPACK_OBJECT_BOOLEAN)
        return OB_ERR_FIELD_TYPE;
    *ret_value = obj->via.boolean ? 1 : 0;
    return 0;
}

int
ob_mp_get_str(const msgpack_object *obj, int nil_ok, ob_mp_str_t *ret_str)
{
    if (obj->type == MSGPACK_OBJECT_NIL && nil_ok) {
        ret_str->ptr = NULL;
        ret_str->len = 0;
        return 0;
    }
    if (obj->type != MSGPACK_OBJECT_STR)
        return OB_ERR_FIELD_TYPE;
    /* msgpack-c leaves ptr NULL for an empty str when nothing with a body came before it in
       the buffer; a view's NULL means nil, so an empty str gets a non-NULL ptr here. */
    ret_str->ptr = obj->via.str.size ? obj->via.str.ptr : "";
    ret_str->len = obj->via.str.size;
    return 0;
}

int
ob_mp_copy_str(const msgpack_object *obj, size_t max, char *buf)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return OB_ERR_FIELD_TYPE;
    if (obj->via.str.size > max)
        return OB_ERR_TOO_LARGE;
    if (ob_mp_has_nul(obj->via.str.ptr, obj->via.str.size))
        return OB_ERR_FIELD_TYPE;
    if (obj->via.str.size) /* ptr may be NULL when empty (see ob_mp_get_str) */
        memcpy(buf, obj->via.str.ptr, obj->via.str.size);
    buf[obj->via.str.size] = '\0';
    return 0;
}

/* --- the cursor readers ------------------------------------------------------------------ */

/* Reads the header of the value at cur into *ret_head without moving cur; sets *ret_at to
   the offset of what follows the header. Returns 0 or an s_read_head error. */
static S_ALWAYS_INLINE inline int
s_cursor_head(const ob_mp_cursor_t *cur, s_head_t *ret_head, size_t *ret_at)
{
    assert(cur && cur->pos && cur->pos <= cur->end);
    *ret_at = 0;
    return s_read_head(cur->pos, (size_t)(cur->end - cur->pos), ret_at, ret_head);
}

/* Reads a container header of kind (S_ARRAY or S_MAP) at cur. */
static int
s_read_container(ob_mp_cursor_t *cur, int kind, size_t *ret_count)
{
    s_head_t head;
    size_t at = 0;
    int rc = s_cursor_head(cur, &head, &at);
    if (rc)
        return rc;
    if (head.kind != kind)
        return OB_ERR_FIELD_TYPE;
    cur->pos += at;
    *ret_count = (size_t)head.n; /* at most 32 bits were read */
    return 0;
}

int
ob_mp_read_map(ob_mp_cursor_t *cur, size_t *ret_count)
{
    return s_read_container(cur, S_MAP, ret_count);
}

int
ob_mp_read_array(ob_mp_cursor_t *cur, size_t *ret_count)
{
    return s_read_container(cur, S_ARRAY, ret_count);
}

/* Reads a str or bin (kind) at cur into *ret_bytes. */
static int
s_read_bytes(ob_mp_cursor_t *cur, int kind, ob_mp_str_t *ret_bytes)
{
    s_head_t head;
    size_t at = 0;
    int rc = s_cursor_head(cur, &head, &at);
    if (rc)
        return rc;
    if (head.kind != kind)
        return OB_ERR_FIELD_TYPE;
    if (head.n > (size_t)(cur->end - cur->pos) - at)
        return OB_ERR_TRUNCATED;
    /* ptr is never NULL, even for an empty str at the very end (then it is cur->end) */
    ret_bytes->ptr = (const char *)cur->pos + at;
    ret_bytes->len = (size_t)head.n;
    cur->pos += at + (size_t)head.n;
    return 0;
}

int
ob_mp_read_str(ob_mp_cursor_t *cur, int nil_ok, ob_mp_str_t *ret_str)
{
    if (nil_ok && cur->pos < cur->end && *cur->pos == 0xc0) {
        cur->pos++;
        ret_str->ptr = NULL;
        ret_str->len = 0;
        return 0;
    }
    return s_read_bytes(cur, S_STR, ret_str);
}

int
ob_mp_read_bin(ob_mp_cursor_t *cur, ob_mp_str_t *ret_bin)
{
    return s_read_bytes(cur, S_BIN, ret_bin);
}

int
ob_mp_read_uint(ob_mp_cursor_t *cur, uint64_t *ret_value)
{
    s_head_t head;
    size_t at = 0;
    int rc = s_cursor_head(cur, &head, &at);
    if (rc)
        return rc;
    if (head.kind != S_SCALAR)
        return OB_ERR_FIELD_TYPE;
    uint64_t value = head.type; /* positive fixint: the type byte is the value */
    if (head.type > 0x7f) {
        /* uint 8..64 always, and int 8..64 when not negative: msgpack-c reports those as
           POSITIVE_INTEGER too, and ob_mp_get_uint accepts them (see there). */
        int is_uint = head.type >= 0xcc && head.type <= 0xcf;
        int is_int = head.type >= 0xd0 && head.type <= 0xd3;
        if (!is_uint && !is_int)
            return OB_ERR_FIELD_TYPE; /* negative fixint, nil, bool, float */
        if ((size_t)(cur->end - cur->pos) - at < head.skip)
            return OB_ERR_TRUNCATED;
        if (is_int && (cur->pos[at] & 0x80))
            return OB_ERR_FIELD_TYPE; /* negative */
        value = s_read_be(cur->pos + at, head.skip);
        at += head.skip;
    }
    cur->pos += at;
    *ret_value = value;
    return 0;
}

int
ob_mp_read_bool(ob_mp_cursor_t *cur, int *ret_value)
{
    if (cur->pos >= cur->end)
        return OB_ERR_TRUNCATED;
    if (*cur->pos != 0xc2 && *cur->pos != 0xc3)
        return OB_ERR_FIELD_TYPE;
    *ret_value = *cur->pos == 0xc3;
    cur->pos++;
    return 0;
}

int
ob_mp_read_nil(ob_mp_cursor_t *cur)
{
    if (cur->pos >= cur->end)
        return OB_ERR_TRUNCATED;
    if (*cur->pos != 0xc0)
        return OB_ERR_FIELD_TYPE;
    cur->pos++;
    return 0;
}

/* Skips the value at buf[*pos] (buf holds len bytes) and advances *pos past it, with the
   checks and codes of ob_mp_prescan; *pos is unchanged on error. */
static S_ALWAYS_INLINE inline int
s_skip(const uint8_t *buf, size_t len, size_t *pos)
{
    s_head_t head;
    size_t at = *pos;
    size_t used = 0;
    int rc = s_read_head(buf, len, &at, &head);
    if (rc)
        return rc;
    switch (head.kind) {
    case S_ARRAY:
    case S_MAP:
        /* the pre-scan walks a container without recursion and checks it as a whole */
        rc = ob_mp_prescan(buf + *pos, len - *pos, &used);
        if (rc)
            return rc;
        *pos += used;
        return 0;
    case S_STR:
    case S_BIN:
        /* the pre-scan's checks of one value, in its order, without its set-up */
        if (head.n > OB_MP_STR_MAX)
            return OB_ERR_TOO_LARGE;
        if (head.n > len - at)
            return OB_ERR_TRUNCATED;
        *pos = at + (size_t)head.n;
        return 0;
    default:
        if (head.skip > len - at)
            return OB_ERR_TRUNCATED;
        *pos = at + head.skip;
        return 0;
    }
}

int
ob_mp_skip(ob_mp_cursor_t *cur)
{
    assert(cur && cur->pos && cur->pos <= cur->end);
    size_t pos = 0;
    int rc = s_skip(cur->pos, (size_t)(cur->end - cur->pos), &pos);
    if (rc)
        return rc;
    cur->pos += pos;
    return 0;
}

/* Returns 1 if the views a and b hold the same bytes (neither is nil). */
static int
s_view_equal(ob_mp_str_t a, ob_mp_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Returns 1 if key holds the bytes of the table entry k. */
static inline int
s_key_is(const ob_mp_key_t *k, ob_mp_str_t key)
{
    return k->len == key.len && (key.len == 0 || memcmp(k->name, key.ptr, key.len) == 0);
}

int
ob_mp_read_fields(ob_mp_cursor_t *cur, const ob_mp_key_t *keys, size_t nkeys,
                  ob_mp_cursor_t *ret_values)
{
    assert(cur && cur->pos && cur->pos <= cur->end);
    /* The walk works on a local position rather than through the public readers: it is
       the inner loop of ob_event_peek. */
    const uint8_t *buf = cur->pos;
    size_t len = (size_t)(cur->end - cur->pos);
    size_t pos = 0;
    ob_mp_str_t unknown[OB_MP_MAP_MAX]; /* the keys not in the table, so far */
    size_t unknowns = 0;
    size_t hint = 0; /* where the next key is likely to be in the table */
    s_head_t head;

    int rc = s_read_head(buf, len, &pos, &head);
    if (rc)
        return rc;
    if (head.kind != S_MAP)
        return OB_ERR_FIELD_TYPE;
    if (head.n > OB_MP_MAP_MAX)
        return OB_ERR_TOO_LARGE; /* the pre-scan's cap, which also bounds unknown[] */
    size_t count = (size_t)head.n;
    for (size_t j = 0; j < nkeys; j++) {
        ret_values[j].pos = NULL;
        ret_values[j].end = NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if ((rc = s_read_head(buf, len, &pos, &head)))
            return rc;
        if (head.kind != S_STR)
            return OB_ERR_MALFORMED;
        if (head.n > len - pos)
            return OB_ERR_TRUNCATED;
        ob_mp_str_t key = {(const char *)buf + pos, (size_t)head.n};
        pos += key.len;

        /* Encoders write the keys in table order, so the key after the last one found is
           tried first: one comparison per key instead of a search. The keys of a table
           are distinct, so where the search starts does not change what it finds. */
        size_t j = hint;
        if (j >= nkeys || !s_key_is(&keys[j], key))
            for (j = 0; j < nkeys && !s_key_is(&keys[j], key); j++)
                ;
        if (j < nkeys) {
            if (ret_values[j].pos)
                return OB_ERR_MALFORMED;
            ret_values[j].pos = buf + pos;
            ret_values[j].end = cur->end;
            hint = j + 1;
        } else {
            /* As in ob_mp_map_fields: an unknown key can only repeat an unknown one. */
            for (size_t m = 0; m < unknowns; m++)
                if (s_view_equal(unknown[m], key))
                    return OB_ERR_MALFORMED;
            unknown[unknowns++] = key;
        }
        if ((rc = s_skip(buf, len, &pos)))
            return rc;
    }
    cur->pos = buf + pos;
    return 0;
}
