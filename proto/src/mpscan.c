/*  ob_mp: the msgpack pre-scan and the decoders' shared helpers. See mpscan.h. */
#include "mpscan.h"

#include <errno.h>

#include "orderbus/error.h"
#include "orderbus/limits.h"

/* What a msgpack type byte introduces. */
enum { S_SCALAR, S_BYTES, S_ARRAY, S_MAP };

/* Reads a big-endian unsigned integer of width 1, 2, 4 or 8 bytes. */
static uint64_t
s_read_be(const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
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

        if (pos >= len)
            return OB_ERR_TRUNCATED;
        uint8_t type = buf[pos++];
        int kind = S_SCALAR;
        size_t width = 0; /* bytes of the length or count that follows the type byte */
        size_t skip = 0;  /* bytes of a fixed-size payload (numbers) */
        uint64_t n = 0;   /* declared length (str, bin) or count (array, map) */

        if (type <= 0x7f || type >= 0xe0) /* positive and negative fixint */
            ;
        else if (type <= 0x8f) {
            kind = S_MAP;
            n = type & 0x0f;
        } else if (type <= 0x9f) {
            kind = S_ARRAY;
            n = type & 0x0f;
        } else if (type <= 0xbf) {
            kind = S_BYTES;
            n = type & 0x1f;
        } else {
            switch (type) {
            case 0xc0: /* nil */
            case 0xc2: /* false */
            case 0xc3: /* true */
                break;
            case 0xc4: /* bin 8, 16, 32 */
            case 0xd9: /* str 8, 16, 32 */
                kind = S_BYTES;
                width = 1;
                break;
            case 0xc5:
            case 0xda:
                kind = S_BYTES;
                width = 2;
                break;
            case 0xc6:
            case 0xdb:
                kind = S_BYTES;
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
            if (len - pos < width)
                return OB_ERR_TRUNCATED;
            n = s_read_be(buf + pos, width);
            pos += width;
        }

        /* A cap is checked before the bytes left: a count over its cap can never succeed
           however many bytes follow, while a short buffer might just be a prefix. */
        switch (kind) {
        case S_SCALAR:
            if (len - pos < skip)
                return OB_ERR_TRUNCATED;
            pos += skip;
            break;
        case S_BYTES:
            if (n > OB_MP_STR_MAX)
                return OB_ERR_TOO_LARGE;
            if (n > len - pos)
                return OB_ERR_TRUNCATED;
            pos += (size_t)n;
            break;
        case S_ARRAY:
        case S_MAP:
            if (n > (kind == S_ARRAY ? OB_MP_ARRAY_MAX : OB_MP_MAP_MAX))
                return OB_ERR_TOO_LARGE;
            if (kind == S_MAP)
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
