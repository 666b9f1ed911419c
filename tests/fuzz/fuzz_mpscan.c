/*  fuzz_mpscan: ob_mp_prescan on arbitrary bytes, checked against msgpack-c.

    Properties checked beyond the sanitizers':
    - the pre-scan returns one of its documented codes, and on success a size within the input;
    - what the pre-scan accepts, msgpack-c parses as exactly one object of the same size (so
      ob_mp_unpack_map may take a msgpack-c failure after the pre-scan for out-of-memory);
    - the helpers over the unpacked object hold up on whatever map it is. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpscan.h"
#include "orderbus/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (which the fuzzer reports with the input) unless cond holds. */
static void
s_require(int cond)
{
    if (!cond)
        abort();
}

static const ob_mp_key_t s_keys[] = {OB_MP_KEY("id"), OB_MP_KEY("req"), OB_MP_KEY("a")};

/* Runs every getter on obj; each must either succeed or say OB_ERR_FIELD_TYPE/TOO_LARGE. */
static void
s_poke(const msgpack_object *obj)
{
    uint64_t u = 0;
    int b = 0;
    ob_mp_str_t s;
    char buf[9];
    int rc = ob_mp_get_uint(obj, &u);
    s_require(rc == 0 || rc == OB_ERR_FIELD_TYPE);
    rc = ob_mp_get_bool(obj, &b);
    s_require(rc == 0 || rc == OB_ERR_FIELD_TYPE);
    rc = ob_mp_get_str(obj, 1, &s);
    s_require(rc == 0 || rc == OB_ERR_FIELD_TYPE);
    rc = ob_mp_copy_str(obj, sizeof buf - 1, buf);
    s_require(rc == 0 || rc == OB_ERR_FIELD_TYPE || rc == OB_ERR_TOO_LARGE);
    if (rc == 0)
        s_require(strlen(buf) == obj->via.str.size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t used = 0;
    int rc = ob_mp_prescan(data, size, &used);
    if (rc) {
        s_require(rc == OB_ERR_TRUNCATED || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE);
        return 0;
    }
    s_require(used >= 1 && used <= size);

    /* msgpack-c agrees on the object and its size. */
    msgpack_unpacked unpacked;
    size_t off = 0;
    msgpack_unpacked_init(&unpacked);
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, used, &off);
    s_require(ret == MSGPACK_UNPACK_SUCCESS && off == used);
    msgpack_unpacked_destroy(&unpacked);

    const msgpack_object *map = NULL;
    msgpack_unpacked_init(&unpacked);
    rc = ob_mp_unpack_map(data, used, &unpacked, &map);
    s_require(rc == 0 || rc == OB_ERR_MALFORMED);
    if (rc == 0) {
        const msgpack_object *values[sizeof s_keys / sizeof s_keys[0]];
        rc = ob_mp_map_fields(map, s_keys, sizeof s_keys / sizeof s_keys[0], values);
        s_require(rc == 0 || rc == OB_ERR_MALFORMED);
        if (rc == 0)
            for (size_t i = 0; i < sizeof s_keys / sizeof s_keys[0]; i++)
                if (values[i])
                    s_poke(values[i]);
    }
    msgpack_unpacked_destroy(&unpacked);
    return 0;
}
