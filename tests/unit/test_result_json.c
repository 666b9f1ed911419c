/*  test_result_json: liborderbus's admin result as JSON text (orderbus/result_json.h), the
    public call through which the monitor reads results: each type the broker sends, the exact
    text, and a table of refused inputs with their codes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "orderbus/result_json.h"

/* Converts the len bytes at input and checks that the JSON is exactly text. */
static void
s_expect_text(const char *input, size_t len, const char *text)
{
    char *out = NULL;
    assert_int_equal(ob_result_to_json((const uint8_t *)input, len, &out), 0);
    assert_non_null(out);
    assert_string_equal(out, text);
    free(out);
}

static void
test_types(void **state)
{
    (void)state;
    /* {"seq": 7, "name": "oms.7", "ok": true, "none": nil, "list": [1, 2]} */
    static const char map[] = "\x85"
                              "\xa3seq\x07"
                              "\xa4name\xa5oms.7"
                              "\xa2ok\xc3"
                              "\xa4none\xc0"
                              "\xa4list\x92\x01\x02";
    s_expect_text(map, sizeof map - 1,
                  "{\"seq\":7,\"name\":\"oms.7\",\"ok\":true,\"none\":null,\"list\":[1,2]}");
    /* the largest integer JSON keeps, 2^63-1 */
    static const char big[] = "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff";
    s_expect_text(big, sizeof big - 1, "9223372036854775807");
    /* a bin is shown as base64 */
    static const char bin[] = "\xc4\x03\x01\x02\x03";
    s_expect_text(bin, sizeof bin - 1, "{\"base64\":\"AQID\"}");
    s_expect_text("\x90", 1, "[]");
    s_expect_text("\xa3\xc3\xa9t", 4, "\"\xc3\xa9t\"");
}

typedef struct t_bad {
    const char *name;  /* what is wrong */
    const char *input; /* the bytes */
    size_t len;        /* their count */
    int rc;            /* the expected code */
} t_bad_t;

#define T_BAD(name, bytes, rc)                                                                     \
    {                                                                                              \
        name, bytes, sizeof bytes - 1, rc                                                          \
    }

static void
test_refused(void **state)
{
    (void)state;
    static const t_bad_t bad[] = {
        T_BAD("empty", "", OB_ERR_TRUNCATED),
        T_BAD("trailing byte", "\x01\x02", OB_ERR_MALFORMED),
        T_BAD("map cut short", "\x81\xa1k", OB_ERR_TRUNCATED),
        T_BAD("reserved 0xc1", "\xc1", OB_ERR_MALFORMED),
        T_BAD("negative integer", "\xff", OB_ERR_FIELD_TYPE),
        T_BAD("integer over 2^63-1", "\xcf\x80\x00\x00\x00\x00\x00\x00\x00", OB_ERR_FIELD_TYPE),
        T_BAD("float", "\xca\x00\x00\x00\x00", OB_ERR_FIELD_TYPE),
        T_BAD("str not UTF-8", "\xa1\xff", OB_ERR_FIELD_TYPE),
        T_BAD("str with NUL", "\xa2\x61\x00", OB_ERR_FIELD_TYPE),
        T_BAD("integer key", "\x81\x01\x01", OB_ERR_MALFORMED),
        T_BAD("key twice", "\x82\xa1k\x01\xa1k\x02", OB_ERR_MALFORMED),
        T_BAD("array count over its cap", "\xdd\xff\xff\xff\xff", OB_ERR_TOO_LARGE),
        T_BAD("nested too deep", "\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\x90", OB_ERR_TOO_LARGE),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = (char *)&out; /* a sentinel: must stay as it is */
        int rc = ob_result_to_json((const uint8_t *)bad[i].input, bad[i].len, &out);
        if (rc != bad[i].rc)
            fail_msg("%s: %s, expected %s", bad[i].name, ob_strerror(rc), ob_strerror(bad[i].rc));
        assert_ptr_equal(out, (char *)&out);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
