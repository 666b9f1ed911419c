/*  test_mpscan: the msgpack pre-scan and the decoders' shared helpers (proto/codec/mpscan.h).

    msgpack_unpack_next is wrapped (-Wl,--wrap) to count its calls: a frame the pre-scan
    refuses must never reach msgpack-c, which would trust its declared sizes. The cursor
    readers are checked against msgpack-c: on every value, each reader must accept exactly
    what the matching ob_mp_get_* accepts of msgpack-c's object. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"

msgpack_unpack_return __real_msgpack_unpack_next(msgpack_unpacked *result, const char *data,
                                                 size_t len, size_t *off);
msgpack_unpack_return __wrap_msgpack_unpack_next(msgpack_unpacked *result, const char *data,
                                                 size_t len, size_t *off);

static int s_unpack_calls; /* calls that reached msgpack-c */
static msgpack_unpack_return s_unpack_forced = MSGPACK_UNPACK_SUCCESS; /* else returned instead */

msgpack_unpack_return
__wrap_msgpack_unpack_next(msgpack_unpacked *result, const char *data, size_t len, size_t *off)
{
    s_unpack_calls++;
    if (s_unpack_forced != MSGPACK_UNPACK_SUCCESS)
        return s_unpack_forced;
    return __real_msgpack_unpack_next(result, data, len, off);
}

typedef struct t_case {
    const char *name;    /* what the input is */
    const uint8_t *data; /* the input */
    size_t len;          /* its size */
    int rc;              /* expected ob_mp_prescan result */
} t_case_t;

#define T_BYTES(...) (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})

/* One well-formed object of every msgpack type the scanner accepts. */
static const t_case_t s_valid[] = {
    {"nil", T_BYTES(0xc0), 0},
    {"false", T_BYTES(0xc2), 0},
    {"true", T_BYTES(0xc3), 0},
    {"positive fixint", T_BYTES(0x7f), 0},
    {"negative fixint", T_BYTES(0xe0), 0},
    {"uint 8", T_BYTES(0xcc, 0xff), 0},
    {"uint 16", T_BYTES(0xcd, 0xff, 0xff), 0},
    {"uint 32", T_BYTES(0xce, 1, 2, 3, 4), 0},
    {"uint 64", T_BYTES(0xcf, 1, 2, 3, 4, 5, 6, 7, 8), 0},
    {"int 8", T_BYTES(0xd0, 0x80), 0},
    {"int 16", T_BYTES(0xd1, 0x80, 0), 0},
    {"int 32", T_BYTES(0xd2, 0x80, 0, 0, 0), 0},
    {"int 64", T_BYTES(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), 0},
    {"float 32", T_BYTES(0xca, 0x3f, 0x80, 0, 0), 0},
    {"float 64", T_BYTES(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), 0},
    {"fixstr", T_BYTES(0xa3, 'a', 'b', 'c'), 0},
    {"empty fixstr", T_BYTES(0xa0), 0},
    {"str 8", T_BYTES(0xd9, 2, 'a', 'b'), 0},
    {"str 16", T_BYTES(0xda, 0, 2, 'a', 'b'), 0},
    {"str 32", T_BYTES(0xdb, 0, 0, 0, 2, 'a', 'b'), 0},
    {"bin 8", T_BYTES(0xc4, 1, 0), 0},
    {"bin 16", T_BYTES(0xc5, 0, 1, 0), 0},
    {"bin 32", T_BYTES(0xc6, 0, 0, 0, 1, 0), 0},
    {"empty bin", T_BYTES(0xc4, 0), 0},
    {"fixarray", T_BYTES(0x92, 0x01, 0xc0), 0},
    {"empty array", T_BYTES(0x90), 0},
    {"array 16", T_BYTES(0xdc, 0, 2, 0x01, 0x02), 0},
    {"array 32", T_BYTES(0xdd, 0, 0, 0, 1, 0xc3), 0},
    {"fixmap", T_BYTES(0x81, 0xa1, 'k', 0x01), 0},
    {"empty map", T_BYTES(0x80), 0},
    {"map 16", T_BYTES(0xde, 0, 1, 0xa1, 'k', 0xc0), 0},
    {"map 32", T_BYTES(0xdf, 0, 0, 0, 1, 0x01, 0x02), 0},
    {"nested", T_BYTES(0x82, 0xa1, 'a', 0x92, 0x91, 0x80, 0xa0, 0xa1, 'b', 0x81, 0xc0, 0x90), 0},
    {"depth 8", T_BYTES(0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x81, 0xa1, 'k', 0xc0), 0},
    {"depth 8, empty innermost", T_BYTES(0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x90), 0},
    {"depth 8 then back out",
     T_BYTES(0x92, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x01, 0x91, 0x91, 0x91, 0x91, 0x91,
             0x91, 0x91, 0x02),
     0},
};

static const t_case_t s_malformed[] = {
    {"reserved 0xc1", T_BYTES(0xc1), OB_ERR_MALFORMED},
    {"0xc1 inside a map", T_BYTES(0x81, 0xa1, 'k', 0xc1), OB_ERR_MALFORMED},
    {"fixext 1", T_BYTES(0xd4, 0x01, 0x00), OB_ERR_MALFORMED},
    {"fixext 16", T_BYTES(0xd8, 0x01, 0), OB_ERR_MALFORMED},
    {"ext 8", T_BYTES(0xc7, 0x01, 0x05, 0x00), OB_ERR_MALFORMED},
    {"ext 16", T_BYTES(0xc8, 0, 1, 5, 0), OB_ERR_MALFORMED},
    {"ext 32", T_BYTES(0xc9, 0, 0, 0, 1, 5, 0), OB_ERR_MALFORMED},
    {"huge array frame", T_BYTES(0xdd, 0xff, 0xff, 0xff, 0xff), OB_ERR_TOO_LARGE},
    {"huge array frame, 9 bytes", T_BYTES(0xdd, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0),
     OB_ERR_TOO_LARGE},
    {"huge map frame", T_BYTES(0xdf, 0xff, 0xff, 0xff, 0xff), OB_ERR_TOO_LARGE},
    {"huge array in a map", T_BYTES(0x81, 0xa1, 'k', 0xdd, 0x7f, 0xff, 0xff, 0xff),
     OB_ERR_TOO_LARGE},
    {"array count over cap", T_BYTES(0xdc, 0x04, 0x01), OB_ERR_TOO_LARGE},
    {"map count over cap", T_BYTES(0xde, 0x00, 0x41), OB_ERR_TOO_LARGE},
    {"array count beyond bytes left", T_BYTES(0xdc, 0x00, 0x10, 0xc0, 0xc0, 0xc0),
     OB_ERR_TRUNCATED},
    {"map count beyond bytes left", T_BYTES(0x83, 0xc0, 0xc0, 0xc0, 0xc0), OB_ERR_TRUNCATED},
    /* the count is checked before the elements are walked, so the 0xc1 is never reached */
    {"array count beyond bytes left, then 0xc1", T_BYTES(0xdc, 0x00, 0x10, 0xc0, 0xc1),
     OB_ERR_TRUNCATED},
    {"str length beyond buffer", T_BYTES(0xdb, 0x00, 0x00, 0x10, 0x00, 'a'), OB_ERR_TRUNCATED},
    {"str 8 length beyond buffer", T_BYTES(0xd9, 0x05, 'a'), OB_ERR_TRUNCATED},
    {"fixstr beyond buffer", T_BYTES(0xa5, 'a', 'b'), OB_ERR_TRUNCATED},
    {"bin length beyond buffer", T_BYTES(0xc5, 0x01, 0x00, 0x00), OB_ERR_TRUNCATED},
    {"str over cap", T_BYTES(0xdb, 0x01, 0x00, 0x00, 0x01), OB_ERR_TOO_LARGE},
    {"bin over cap", T_BYTES(0xc6, 0xff, 0xff, 0xff, 0xff), OB_ERR_TOO_LARGE},
    {"length field cut", T_BYTES(0xdd, 0xff, 0xff), OB_ERR_TRUNCATED},
    {"uint 64 cut", T_BYTES(0xcf, 1, 2, 3), OB_ERR_TRUNCATED},
    {"depth 9", T_BYTES(0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0xc0),
     OB_ERR_TOO_LARGE},
    {"depth 9, empty innermost", T_BYTES(0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x80),
     OB_ERR_TOO_LARGE},
    {"depth 9 via maps",
     T_BYTES(0x81, 0xc0, 0x81, 0xc0, 0x81, 0xc0, 0x81, 0xc0, 0x81, 0xc0, 0x81, 0xc0, 0x81, 0xc0,
             0x81, 0xc0, 0x81, 0xc0, 0xc0),
     OB_ERR_TOO_LARGE},
};

static void
test_valid_objects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_valid / sizeof s_valid[0]; i++) {
        const t_case_t *c = &s_valid[i];
        size_t used = 0;
        uint8_t buf[64];

        /* Copied into a buffer of exactly len bytes so that ASan sees any over-read. */
        uint8_t *exact = malloc(c->len);
        assert_non_null(exact);
        memcpy(exact, c->data, c->len);
        if (ob_mp_prescan(exact, c->len, &used) != 0 || used != c->len)
            fail_msg("%s: not accepted whole", c->name);

        /* Every proper prefix is interrupted, never malformed or accepted. */
        for (size_t n = 0; n < c->len; n++) {
            uint8_t *prefix = malloc(n ? n : 1);
            assert_non_null(prefix);
            memcpy(prefix, c->data, n);
            int rc = ob_mp_prescan(prefix, n, &used);
            free(prefix);
            if (rc != OB_ERR_TRUNCATED)
                fail_msg("%s: prefix %zu gives %d", c->name, n, rc);
        }

        /* Trailing bytes are not part of the object. */
        assert_true(c->len + 2 <= sizeof buf);
        memcpy(buf, c->data, c->len);
        buf[c->len] = 0xc1;
        buf[c->len + 1] = 0xdd;
        used = 0;
        assert_int_equal(ob_mp_prescan(buf, c->len + 2, &used), 0);
        assert_int_equal(used, c->len);
        free(exact);
    }
}

static void
test_malformed_objects(void **state)
{
    (void)state;
    size_t none = 0;
    assert_int_equal(ob_mp_prescan(NULL, 0, &none), OB_ERR_TRUNCATED);
    for (size_t i = 0; i < sizeof s_malformed / sizeof s_malformed[0]; i++) {
        const t_case_t *c = &s_malformed[i];
        size_t len = c->len;
        size_t used = 12345;
        uint8_t *exact = malloc(len ? len : 1);
        assert_non_null(exact);
        memcpy(exact, c->data, len);
        int rc = ob_mp_prescan(exact, len, &used);
        if (rc != c->rc)
            fail_msg("%s: got %d (%s), expected %d (%s)", c->name, rc, ob_strerror(rc), c->rc,
                     ob_strerror(c->rc));
        assert_int_equal(used, 12345); /* untouched on error */

        /* ob_mp_unpack_map refuses it the same way, without calling msgpack-c. */
        msgpack_unpacked unpacked;
        const msgpack_object *map = NULL;
        msgpack_unpacked_init(&unpacked);
        s_unpack_calls = 0;
        assert_int_equal(ob_mp_unpack_map(exact, len, &unpacked, &map), c->rc);
        assert_int_equal(s_unpack_calls, 0);
        assert_null(map);
        msgpack_unpacked_destroy(&unpacked);
        free(exact);
    }
}

/* Fills buf with a container header declaring n elements and n nils; returns the size. */
static size_t
s_fill_container(uint8_t *buf, uint8_t type16, size_t header_n, size_t elements)
{
    buf[0] = type16;
    buf[1] = (uint8_t)(header_n >> 8);
    buf[2] = (uint8_t)header_n;
    memset(buf + 3, 0xc0, elements);
    return 3 + elements;
}

static void
test_caps_boundaries(void **state)
{
    (void)state;
    size_t used = 0;
    uint8_t *buf = malloc(3 + 2 * OB_MP_ARRAY_MAX);
    assert_non_null(buf);

    size_t len = s_fill_container(buf, 0xdc, OB_MP_ARRAY_MAX, OB_MP_ARRAY_MAX);
    assert_int_equal(ob_mp_prescan(buf, len, &used), 0);
    assert_int_equal(used, len);
    len = s_fill_container(buf, 0xdc, OB_MP_ARRAY_MAX + 1, OB_MP_ARRAY_MAX + 1);
    assert_int_equal(ob_mp_prescan(buf, len, &used), OB_ERR_TOO_LARGE);

    len = s_fill_container(buf, 0xde, OB_MP_MAP_MAX, 2 * OB_MP_MAP_MAX);
    assert_int_equal(ob_mp_prescan(buf, len, &used), 0);
    assert_int_equal(used, len);
    len = s_fill_container(buf, 0xde, OB_MP_MAP_MAX + 1, 2 * (OB_MP_MAP_MAX + 1));
    assert_int_equal(ob_mp_prescan(buf, len, &used), OB_ERR_TOO_LARGE);
    /* A map of n pairs needs 2n bytes: n + 1 bytes is not enough. */
    len = s_fill_container(buf, 0xde, 4, 5);
    assert_int_equal(ob_mp_prescan(buf, len, &used), OB_ERR_TRUNCATED);
    free(buf);

    /* A str of exactly OB_MP_STR_MAX bytes passes; one more is over the cap. */
    buf = calloc(1, 5 + (size_t)OB_MP_STR_MAX);
    assert_non_null(buf);
    buf[0] = 0xdb;
    buf[1] = (uint8_t)(OB_MP_STR_MAX >> 24);
    buf[2] = (uint8_t)(OB_MP_STR_MAX >> 16);
    buf[3] = (uint8_t)(OB_MP_STR_MAX >> 8);
    buf[4] = (uint8_t)OB_MP_STR_MAX;
    assert_int_equal(ob_mp_prescan(buf, 5 + (size_t)OB_MP_STR_MAX, &used), 0);
    assert_int_equal(used, 5 + (size_t)OB_MP_STR_MAX);
    buf[4] = (uint8_t)(OB_MP_STR_MAX + 1);
    assert_int_equal(ob_mp_prescan(buf, 5 + (size_t)OB_MP_STR_MAX, &used), OB_ERR_TOO_LARGE);
    free(buf);
}

static void
test_unpack_map(void **state)
{
    (void)state;
    static const uint8_t map[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0xa2, 'x', 'y'};
    static const uint8_t array[] = {0x91, 0x01};
    static const uint8_t trailing[] = {0x80, 0x00};
    msgpack_unpacked unpacked;
    const msgpack_object *root = NULL;

    msgpack_unpacked_init(&unpacked);
    assert_int_equal(ob_mp_unpack_map(map, sizeof map, &unpacked, &root), 0);
    assert_non_null(root);
    assert_int_equal(root->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(root->via.map.size, 2);
    msgpack_unpacked_destroy(&unpacked);

    s_unpack_calls = 0;
    msgpack_unpacked_init(&unpacked);
    assert_int_equal(ob_mp_unpack_map(array, sizeof array, &unpacked, &root), OB_ERR_MALFORMED);
    assert_int_equal(ob_mp_unpack_map(trailing, sizeof trailing, &unpacked, &root),
                     OB_ERR_MALFORMED);
    assert_int_equal(s_unpack_calls, 0);

    /* msgpack-c running out of memory is reported as such. */
    s_unpack_forced = MSGPACK_UNPACK_NOMEM_ERROR;
    assert_int_equal(ob_mp_unpack_map(map, sizeof map, &unpacked, &root), -ENOMEM);
    s_unpack_forced = MSGPACK_UNPACK_PARSE_ERROR;
    assert_int_equal(ob_mp_unpack_map(map, sizeof map, &unpacked, &root), -ENOMEM);
    s_unpack_forced = MSGPACK_UNPACK_CONTINUE;
    assert_int_equal(ob_mp_unpack_map(map, sizeof map, &unpacked, &root), OB_ERR_TRUNCATED);
    s_unpack_forced = MSGPACK_UNPACK_SUCCESS;
    msgpack_unpacked_destroy(&unpacked);
}

static const ob_mp_key_t s_keys[] = {OB_MP_KEY("a"), OB_MP_KEY("bb"), OB_MP_KEY("ccc")};

/* Unpacks data into unpacked and runs ob_mp_map_fields with s_keys on it. */
static int
s_fields(const uint8_t *data, size_t len, msgpack_unpacked *unpacked, const msgpack_object **values)
{
    const msgpack_object *root = NULL;
    int rc = ob_mp_unpack_map(data, len, unpacked, &root);
    assert_int_equal(rc, 0);
    return ob_mp_map_fields(root, s_keys, 3, values);
}

static void
test_map_fields(void **state)
{
    (void)state;
    msgpack_unpacked unpacked;
    const msgpack_object *v[3];
    static const uint8_t ok[] = {0x84, 0xa3, 'c', 'c',  'c',  0x03, 0xa1, 'z',
                                 0xc0, 0xa1, 'a', 0x01, 0xa2, 'z',  'z',  0xc0};
    static const uint8_t dup_known[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
    static const uint8_t dup_unknown[] = {0x83, 0xa1, 'z', 0x01, 0xa1, 'a', 0x01, 0xa1, 'z', 0x02};
    static const uint8_t int_key[] = {0x81, 0x01, 0x01};
    static const uint8_t bin_key[] = {0x81, 0xc4, 0x01, 'a', 0x01};
    static const uint8_t prefix_key[] = {0x81, 0xa2, 'c', 'c', 0x01}; /* "cc" is not "ccc" */
    /* msgpack-c gives the first key, if empty, a NULL ptr (found by fuzz_wire with UBSan) */
    static const uint8_t empty_key[] = {0x81, 0xa0, 0x01};
    static const uint8_t dup_empty_keys[] = {0x82, 0xa0, 0x01, 0xa0, 0x02};

    msgpack_unpacked_init(&unpacked);
    assert_int_equal(s_fields(ok, sizeof ok, &unpacked, v), 0);
    assert_non_null(v[0]);
    assert_int_equal(v[0]->via.u64, 1);
    assert_null(v[1]);
    assert_non_null(v[2]);
    assert_int_equal(v[2]->via.u64, 3);

    assert_int_equal(s_fields(dup_known, sizeof dup_known, &unpacked, v), OB_ERR_MALFORMED);
    assert_int_equal(s_fields(dup_unknown, sizeof dup_unknown, &unpacked, v), OB_ERR_MALFORMED);
    assert_int_equal(s_fields(int_key, sizeof int_key, &unpacked, v), OB_ERR_MALFORMED);
    assert_int_equal(s_fields(bin_key, sizeof bin_key, &unpacked, v), OB_ERR_MALFORMED);
    assert_int_equal(s_fields(empty_key, sizeof empty_key, &unpacked, v), 0);
    assert_null(v[0]);
    assert_int_equal(s_fields(dup_empty_keys, sizeof dup_empty_keys, &unpacked, v),
                     OB_ERR_MALFORMED);
    assert_int_equal(s_fields(prefix_key, sizeof prefix_key, &unpacked, v), 0);
    assert_null(v[0]);
    assert_null(v[1]);
    assert_null(v[2]);
    msgpack_unpacked_destroy(&unpacked);
}

static void
test_getters(void **state)
{
    (void)state;
    msgpack_object o;
    uint64_t u = 99;
    int b = 99;
    ob_mp_str_t s = {"x", 1};
    char buf[5];

    memset(&o, 0, sizeof o);
    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o.via.u64 = UINT64_MAX;
    assert_int_equal(ob_mp_get_uint(&o, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(ob_mp_get_bool(&o, &b), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_mp_get_str(&o, 1, &s), OB_ERR_FIELD_TYPE);
    assert_int_equal(b, 99);

    o.type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o.via.i64 = -1;
    u = 7;
    assert_int_equal(ob_mp_get_uint(&o, &u), OB_ERR_FIELD_TYPE);
    assert_int_equal(u, 7);
    o.type = MSGPACK_OBJECT_FLOAT64;
    o.via.f64 = 1.0;
    assert_int_equal(ob_mp_get_uint(&o, &u), OB_ERR_FIELD_TYPE);

    o.type = MSGPACK_OBJECT_BOOLEAN;
    o.via.boolean = true;
    assert_int_equal(ob_mp_get_bool(&o, &b), 0);
    assert_int_equal(b, 1);
    o.via.boolean = false;
    assert_int_equal(ob_mp_get_bool(&o, &b), 0);
    assert_int_equal(b, 0);

    o.type = MSGPACK_OBJECT_NIL;
    assert_int_equal(ob_mp_get_str(&o, 0, &s), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_mp_get_str(&o, 1, &s), 0);
    assert_null(s.ptr);
    assert_int_equal(s.len, 0);

    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = "abcd";
    o.via.str.size = 4;
    assert_int_equal(ob_mp_get_str(&o, 0, &s), 0);
    assert_ptr_equal(s.ptr, o.via.str.ptr);
    assert_int_equal(s.len, 4);
    memset(buf, 'z', sizeof buf);
    assert_int_equal(ob_mp_copy_str(&o, 4, buf), 0);
    assert_string_equal(buf, "abcd");
    memset(buf, 'z', sizeof buf);
    assert_int_equal(ob_mp_copy_str(&o, 3, buf), OB_ERR_TOO_LARGE);
    assert_int_equal(buf[0], 'z');
    o.via.str.ptr = "a\0cd";
    assert_int_equal(ob_mp_copy_str(&o, 4, buf), OB_ERR_FIELD_TYPE);
    assert_int_equal(buf[0], 'z');
    o.via.str.size = 0;
    assert_int_equal(ob_mp_copy_str(&o, 0, buf), 0);
    assert_string_equal(buf, "");

    /* An empty str as msgpack-c may present it: NULL ptr. It is still a str, not nil. */
    o.via.str.ptr = NULL;
    o.via.str.size = 0;
    assert_int_equal(ob_mp_get_str(&o, 1, &s), 0);
    assert_non_null(s.ptr);
    assert_int_equal(s.len, 0);
    memset(buf, 'z', sizeof buf);
    assert_int_equal(ob_mp_copy_str(&o, 4, buf), 0);
    assert_string_equal(buf, "");

    o.type = MSGPACK_OBJECT_BIN;
    assert_int_equal(ob_mp_copy_str(&o, 4, buf), OB_ERR_FIELD_TYPE);

    assert_false(ob_mp_has_nul("abc", 3));
    assert_true(ob_mp_has_nul("a\0c", 3));
    assert_false(ob_mp_has_nul(NULL, 0));
}

/* msgpack_packer callback counting bytes only. */
static int
s_count_write(void *data, const char *buf, size_t len)
{
    (void)buf;
    *(size_t *)data += len;
    return 0;
}

static void
test_size_helpers(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000};
    static const uint64_t uints[] = {0,     1,     127,        128,        255,       256,
                                     65535, 65536, UINT32_MAX, 1ull << 32, UINT64_MAX};
    msgpack_packer pk;
    size_t n = 0;
    msgpack_packer_init(&pk, &n, s_count_write);

    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char *bytes = calloc(1, lens[i] + 1);
        assert_non_null(bytes);
        n = 0;
        assert_int_equal(ob_mp_pack_str(&pk, bytes, lens[i]), 0);
        assert_int_equal(n, ob_mp_str_size(lens[i]));
        n = 0;
        msgpack_pack_bin(&pk, lens[i]);
        msgpack_pack_bin_body(&pk, bytes, lens[i]);
        assert_int_equal(n, ob_mp_bin_size(lens[i]));
        n = 0;
        msgpack_pack_array(&pk, lens[i]);
        assert_int_equal(n, ob_mp_container_size(lens[i]));
        n = 0;
        msgpack_pack_map(&pk, lens[i]);
        assert_int_equal(n, ob_mp_container_size(lens[i]));
        free(bytes);
    }
    for (size_t i = 0; i < sizeof uints / sizeof uints[0]; i++) {
        n = 0;
        msgpack_pack_uint64(&pk, uints[i]);
        assert_int_equal(n, ob_mp_uint_size(uints[i]));
    }
    static const ob_mp_key_t key = OB_MP_KEY("topic");
    n = 0;
    assert_int_equal(ob_mp_pack_key(&pk, &key), 0);
    assert_int_equal(key.len, 5);
    assert_int_equal(n, 6);
}

/* --- cursor readers ----------------------------------------------------------------------- */

/* More numbers, for ob_mp_read_uint: signed encodings of values >= 0 read as uints. */
static const t_case_t s_numbers[] = {
    {"fixint 0", T_BYTES(0x00), 0},
    {"negative fixint -1", T_BYTES(0xff), 0},
    {"uint 8 0", T_BYTES(0xcc, 0x00), 0},
    {"uint 64 max", T_BYTES(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0},
    {"int 8 5", T_BYTES(0xd0, 0x05), 0},
    {"int 8 127", T_BYTES(0xd0, 0x7f), 0},
    {"int 8 -1", T_BYTES(0xd0, 0xff), 0},
    {"int 16 32767", T_BYTES(0xd1, 0x7f, 0xff), 0},
    {"int 16 0", T_BYTES(0xd1, 0x00, 0x00), 0},
    {"int 32 1", T_BYTES(0xd2, 0, 0, 0, 1), 0},
    {"int 32 -2^31", T_BYTES(0xd2, 0x80, 0, 0, 0), 0},
    {"int 64 max", T_BYTES(0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0},
    {"int 64 -1", T_BYTES(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 0},
    {"float 64 0", T_BYTES(0xcb, 0, 0, 0, 0, 0, 0, 0, 0), 0},
    {"str 8 empty", T_BYTES(0xd9, 0), 0},
    {"bin 16 empty", T_BYTES(0xc5, 0, 0), 0},
    {"map 16 empty", T_BYTES(0xde, 0, 0), 0},
    {"array 32 empty", T_BYTES(0xdd, 0, 0, 0, 0), 0},
};

/* The bytes of a container header: what ob_mp_read_map and ob_mp_read_array consume. */
static size_t
s_header_size(uint8_t type)
{
    return type == 0xdc || type == 0xde ? 3 : type == 0xdd || type == 0xdf ? 5 : 1;
}

/* Asserts that a reader's result rc, with the cursor cur it moved from start, is a success
   exactly when ok, consuming want bytes, and otherwise OB_ERR_FIELD_TYPE leaving cur alone. */
static void
s_assert_read(const char *name, const char *reader, int rc, int ok, const ob_mp_cursor_t *cur,
              const uint8_t *start, size_t want)
{
    if (ok && rc != 0)
        fail_msg("%s: %s refused it (%d), msgpack-c's object fits", name, reader, rc);
    if (!ok && rc != OB_ERR_FIELD_TYPE)
        fail_msg("%s: %s gave %d, expected OB_ERR_FIELD_TYPE", name, reader, rc);
    if (cur->pos != start + (ok ? want : 0))
        fail_msg("%s: %s left the cursor at %td", name, reader, cur->pos - start);
}

/* Runs every reader on the one object c and checks each against msgpack-c's view of it. */
static void
s_check_readers(const t_case_t *c)
{
    uint8_t *buf = malloc(c->len); /* exactly len bytes: ASan sees any over-read */
    assert_non_null(buf);
    memcpy(buf, c->data, c->len);
    msgpack_unpacked unpacked;
    size_t off = 0;
    msgpack_unpacked_init(&unpacked);
    assert_int_equal(msgpack_unpack_next(&unpacked, (const char *)buf, c->len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *obj = &unpacked.data;

    ob_mp_cursor_t cur = {buf, buf + c->len};
    uint64_t u = 0;
    uint64_t u_want = 0;
    int b = 0;
    int b_want = 0;
    ob_mp_str_t str = {NULL, 0};
    ob_mp_str_t str_want = {NULL, 0};
    size_t count = 0;
    int ok = 0;

    ok = ob_mp_get_uint(obj, &u_want) == 0;
    s_assert_read(c->name, "read_uint", ob_mp_read_uint(&cur, &u), ok, &cur, buf, c->len);
    if (ok)
        assert_true(u == u_want);
    cur.pos = buf;

    ok = ob_mp_get_bool(obj, &b_want) == 0;
    s_assert_read(c->name, "read_bool", ob_mp_read_bool(&cur, &b), ok, &cur, buf, c->len);
    if (ok)
        assert_int_equal(b, b_want);
    cur.pos = buf;

    ok = obj->type == MSGPACK_OBJECT_NIL;
    s_assert_read(c->name, "read_nil", ob_mp_read_nil(&cur), ok, &cur, buf, c->len);
    cur.pos = buf;

    for (int nil_ok = 0; nil_ok <= 1; nil_ok++) {
        ok = ob_mp_get_str(obj, nil_ok, &str_want) == 0;
        s_assert_read(c->name, "read_str", ob_mp_read_str(&cur, nil_ok, &str), ok, &cur, buf,
                      c->len);
        if (ok) {
            assert_true((str.ptr == NULL) == (str_want.ptr == NULL));
            assert_int_equal(str.len, str_want.len);
            if (str.ptr) /* a view of the str's bytes at the end of buf */
                assert_ptr_equal(str.ptr, (const char *)buf + c->len - str.len);
        }
        cur.pos = buf;
    }

    ok = obj->type == MSGPACK_OBJECT_BIN;
    s_assert_read(c->name, "read_bin", ob_mp_read_bin(&cur, &str), ok, &cur, buf, c->len);
    if (ok) {
        assert_non_null(str.ptr);
        assert_int_equal(str.len, obj->via.bin.size);
        assert_ptr_equal(str.ptr, (const char *)buf + c->len - str.len);
    }
    cur.pos = buf;

    ok = obj->type == MSGPACK_OBJECT_MAP;
    s_assert_read(c->name, "read_map", ob_mp_read_map(&cur, &count), ok, &cur, buf,
                  s_header_size(buf[0]));
    if (ok)
        assert_int_equal(count, obj->via.map.size);
    cur.pos = buf;

    ok = obj->type == MSGPACK_OBJECT_ARRAY;
    s_assert_read(c->name, "read_array", ob_mp_read_array(&cur, &count), ok, &cur, buf,
                  s_header_size(buf[0]));
    if (ok)
        assert_int_equal(count, obj->via.array.size);
    cur.pos = buf;

    assert_int_equal(ob_mp_skip(&cur), 0);
    assert_ptr_equal(cur.pos, buf + c->len);

    msgpack_unpacked_destroy(&unpacked);
    free(buf);
}

static void
test_readers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_valid / sizeof s_valid[0]; i++)
        s_check_readers(&s_valid[i]);
    for (size_t i = 0; i < sizeof s_numbers / sizeof s_numbers[0]; i++)
        s_check_readers(&s_numbers[i]);
}

/* Runs every reader on the len bytes at data, none of which may read outside them or move
   the cursor on error; returns how many succeeded. */
static int
s_read_all(const uint8_t *data, size_t len, int expect_rc)
{
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    if (len)
        memcpy(buf, data, len);
    ob_mp_cursor_t cur = {buf, buf + len};
    uint64_t u = 0;
    int b = 0;
    size_t count = 0;
    ob_mp_str_t str;
    int successes = 0;

    for (int i = 0; i < 9; i++) {
        int rc = i == 0   ? ob_mp_read_uint(&cur, &u)
                 : i == 1 ? ob_mp_read_bool(&cur, &b)
                 : i == 2 ? ob_mp_read_nil(&cur)
                 : i == 3 ? ob_mp_read_str(&cur, 0, &str)
                 : i == 4 ? ob_mp_read_str(&cur, 1, &str)
                 : i == 5 ? ob_mp_read_bin(&cur, &str)
                 : i == 6 ? ob_mp_read_map(&cur, &count)
                 : i == 7 ? ob_mp_read_array(&cur, &count)
                          : ob_mp_skip(&cur);
        if (rc == 0) {
            assert_true(cur.pos > buf && cur.pos <= buf + len);
            cur.pos = buf;
            successes++;
            continue;
        }
        if (rc != expect_rc && rc != OB_ERR_FIELD_TYPE)
            fail_msg("reader %d gave %d, expected %d or OB_ERR_FIELD_TYPE", i, rc, expect_rc);
        assert_ptr_equal(cur.pos, buf);
    }
    free(buf);
    return successes;
}

static void
test_readers_cut_and_bad(void **state)
{
    (void)state;
    /* A proper prefix of a value: only a container header that is whole can be read. */
    for (size_t i = 0; i < sizeof s_valid / sizeof s_valid[0]; i++) {
        const t_case_t *c = &s_valid[i];
        for (size_t n = 0; n < c->len; n++) {
            int whole_header =
                (c->data[0] & 0xe0) == 0x80 || /* fixmap, fixarray */
                (c->data[0] >= 0xdc && c->data[0] <= 0xdf && n >= s_header_size(c->data[0]));
            if (s_read_all(c->data, n, OB_ERR_TRUNCATED) != (n > 0 && whole_header))
                fail_msg("%s: prefix of %zu bytes", c->name, n);
        }
    }

    /* The reserved byte and ext types: malformed for every reader that reads a header. */
    static const uint8_t reserved[] = {0xc1};
    static const uint8_t ext[] = {0xd4, 0x01, 0x00};
    assert_int_equal(s_read_all(reserved, sizeof reserved, OB_ERR_MALFORMED), 0);
    assert_int_equal(s_read_all(ext, sizeof ext, OB_ERR_MALFORMED), 0);

    /* A declared length beyond the buffer, and caps (ob_mp_skip pre-scans). */
    static const uint8_t long_str[] = {0xd9, 0x05, 'a'};
    static const uint8_t long_bin[] = {0xc4, 0x02, 0x00};
    static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    ob_mp_cursor_t cur = {long_str, long_str + sizeof long_str};
    ob_mp_str_t str;
    size_t count = 0;
    assert_int_equal(ob_mp_read_str(&cur, 0, &str), OB_ERR_TRUNCATED);
    assert_int_equal(ob_mp_skip(&cur), OB_ERR_TRUNCATED);
    cur.pos = long_bin;
    cur.end = long_bin + sizeof long_bin;
    assert_int_equal(ob_mp_read_bin(&cur, &str), OB_ERR_TRUNCATED);
    cur.pos = huge_array;
    cur.end = huge_array + sizeof huge_array;
    assert_int_equal(ob_mp_skip(&cur), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_mp_read_array(&cur, &count), 0); /* a header only: no cap here */
    assert_int_equal(count, UINT32_MAX);
}

/* Runs ob_mp_read_fields with s_keys on data and checks that ob_mp_map_fields agrees on
   the code and on where every value is. Returns the code. */
static int
s_read_fields(const uint8_t *data, size_t len, ob_mp_cursor_t *v)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, data, len);
    ob_mp_cursor_t cur = {buf, buf + len};
    int rc = ob_mp_read_fields(&cur, s_keys, 3, v);
    if (rc)
        assert_ptr_equal(cur.pos, buf);
    else
        assert_ptr_equal(cur.pos, buf + len);

    msgpack_unpacked unpacked;
    const msgpack_object *values[3];
    msgpack_unpacked_init(&unpacked);
    assert_int_equal(s_fields(buf, len, &unpacked, values), rc);
    for (int j = 0; rc == 0 && j < 3; j++) {
        assert_true((v[j].pos == NULL) == (values[j] == NULL));
        if (v[j].pos) {
            uint64_t mine = 0;
            uint64_t theirs = 0;
            assert_int_equal(ob_mp_get_uint(values[j], &theirs), 0);
            assert_int_equal(ob_mp_read_uint(&v[j], &mine), 0);
            assert_true(mine == theirs);
        }
    }
    msgpack_unpacked_destroy(&unpacked);
    free(buf);
    return rc;
}

static void
test_read_fields(void **state)
{
    (void)state;
    ob_mp_cursor_t v[3];
    /* as in test_map_fields, plus unknown values of every shape, skipped whole */
    static const uint8_t ok[] = {0x84, 0xa3, 'c', 'c',  'c',  0x03, 0xa1, 'z',
                                 0xc0, 0xa1, 'a', 0x01, 0xa2, 'z',  'z',  0xc0};
    static const uint8_t skips[] = {0x84, 0xa1, 'x',  0x92, 0x01, 0x91, 0x81, 0xa1, 'a',
                                    0x02, 0xa2, 'b',  'b',  0xcd, 0x01, 0x00, 0xa1, 'y',
                                    0xc4, 0x02, 0xa1, 'a',  0xa1, 'a',  0x05};
    static const uint8_t dup_known[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02};
    static const uint8_t dup_unknown[] = {0x83, 0xa1, 'z', 0x01, 0xa1, 'a', 0x01, 0xa1, 'z', 0x02};
    static const uint8_t int_key[] = {0x81, 0x01, 0x01};
    static const uint8_t nil_key[] = {0x81, 0xc0, 0x01};
    static const uint8_t bin_key[] = {0x81, 0xc4, 0x01, 'a', 0x01};
    static const uint8_t prefix_key[] = {0x81, 0xa2, 'c', 'c', 0x01};
    static const uint8_t empty_key[] = {0x81, 0xa0, 0x01};
    static const uint8_t dup_empty_keys[] = {0x82, 0xa0, 0x01, 0xa0, 0x02};
    static const uint8_t array[] = {0x91, 0x01};

    assert_int_equal(s_read_fields(ok, sizeof ok, v), 0);
    assert_ptr_equal(v[0].end, v[2].end);
    assert_null(v[1].pos);
    assert_int_equal(s_read_fields(skips, sizeof skips, v), 0);
    assert_int_equal(s_read_fields(dup_known, sizeof dup_known, v), OB_ERR_MALFORMED);
    assert_int_equal(s_read_fields(dup_unknown, sizeof dup_unknown, v), OB_ERR_MALFORMED);
    assert_int_equal(s_read_fields(int_key, sizeof int_key, v), OB_ERR_MALFORMED);
    assert_int_equal(s_read_fields(nil_key, sizeof nil_key, v), OB_ERR_MALFORMED);
    assert_int_equal(s_read_fields(bin_key, sizeof bin_key, v), OB_ERR_MALFORMED);
    assert_int_equal(s_read_fields(prefix_key, sizeof prefix_key, v), 0);
    assert_int_equal(s_read_fields(empty_key, sizeof empty_key, v), 0);
    assert_int_equal(s_read_fields(dup_empty_keys, sizeof dup_empty_keys, v), OB_ERR_MALFORMED);

    /* Not a map; a map over the cap (a pre-scan refuses it first, but the cursor stays safe). */
    ob_mp_cursor_t cur = {array, array + sizeof array};
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), OB_ERR_FIELD_TYPE);
    assert_ptr_equal(cur.pos, array);
    uint8_t *big = calloc(1, 3 + 3 * OB_MP_MAP_MAX); /* room for 64 one-byte keys with nil */
    assert_non_null(big);
    size_t len = s_fill_container(big, 0xde, OB_MP_MAP_MAX + 1, 2 * (OB_MP_MAP_MAX + 1));
    cur.pos = big;
    cur.end = big + len;
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), OB_ERR_TOO_LARGE);
    /* At the cap, OB_MP_MAP_MAX distinct unknown keys are all remembered. */
    for (size_t i = 0; i < OB_MP_MAP_MAX; i++) {
        big[3 + 3 * i] = 0xa1;
        big[3 + 3 * i + 1] = (uint8_t)('A' + i);
        big[3 + 3 * i + 2] = 0xc0;
    }
    big[2] = OB_MP_MAP_MAX;
    len = 3 + 3 * OB_MP_MAP_MAX;
    cur.pos = big;
    cur.end = big + len;
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), 0);
    assert_ptr_equal(cur.pos, big + len);
    /* A cut map: the last value, or the last key, runs past the end. */
    cur.pos = big;
    cur.end = big + len - 1;
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), OB_ERR_TRUNCATED);
    cur.end = big + len - 2;
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), OB_ERR_TRUNCATED);
    assert_ptr_equal(cur.pos, big);
    big[3 + 3 * (OB_MP_MAP_MAX - 1) + 1] = 'A'; /* the last key repeats the first */
    cur.end = big + len;
    assert_int_equal(ob_mp_read_fields(&cur, s_keys, 3, v), OB_ERR_MALFORMED);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_objects),       cmocka_unit_test(test_malformed_objects),
        cmocka_unit_test(test_caps_boundaries),     cmocka_unit_test(test_unpack_map),
        cmocka_unit_test(test_map_fields),          cmocka_unit_test(test_getters),
        cmocka_unit_test(test_size_helpers),        cmocka_unit_test(test_readers),
        cmocka_unit_test(test_readers_cut_and_bad), cmocka_unit_test(test_read_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
