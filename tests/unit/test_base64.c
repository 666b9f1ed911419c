/*  test_base64: common/base64.h. The RFC 4648 test vectors in both alphabets, every length
    round trip, and a table of refused texts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"
#include "orderbus/error.h"

/* Decodes text and checks the bytes are expect (expect_len of them). */
static void
s_decodes_to(const char *text, const void *expect, size_t expect_len)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = ob_base64_decode(text, strlen(text), &data, &len);
    if (rc)
        fail_msg("'%s': %s", text, ob_strerror(rc));
    assert_int_equal(len, expect_len);
    assert_memory_equal(data, expect, len);
    assert_int_equal(data[len], 0); /* usable as a string */
    free(data);
}

static void
test_rfc4648_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *plain;  /* input */
        const char *padded; /* standard, padded */
        const char *url;    /* URL-safe, unpadded */
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *text = ob_base64_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(text, v[i].padded);
        free(text);
        text = ob_base64url_encode(v[i].plain, strlen(v[i].plain));
        assert_string_equal(text, v[i].url);
        free(text);
        s_decodes_to(v[i].padded, v[i].plain, strlen(v[i].plain));
        s_decodes_to(v[i].url, v[i].plain, strlen(v[i].plain));
    }
    /* the two characters the alphabets differ in: bytes fb ff bf */
    static const uint8_t high[] = {0xfb, 0xff, 0xbf};
    char *text = ob_base64_encode(high, sizeof high);
    assert_string_equal(text, "+/+/");
    free(text);
    text = ob_base64url_encode(high, sizeof high);
    assert_string_equal(text, "-_-_");
    free(text);
    s_decodes_to("+/+/", high, sizeof high);
    s_decodes_to("-_-_", high, sizeof high);
}

static void
test_round_trip_every_length(void **state)
{
    (void)state;
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *std = ob_base64_encode(data, len);
        char *url = ob_base64url_encode(data, len);
        assert_non_null(std);
        assert_non_null(url);
        assert_int_equal(strlen(std), (len + 2) / 3 * 4);
        char into[OB_BASE64_LEN(sizeof data) + 2];
        memset(into, '#', sizeof into);
        assert_int_equal(ob_base64_encode_into(into, data, len), OB_BASE64_LEN(len));
        assert_string_equal(into, std);                      /* NUL-terminated ... */
        assert_int_equal(into[OB_BASE64_LEN(len) + 1], '#'); /* ... and nothing past it */
        memset(into, '#', sizeof into);
        assert_int_equal(ob_base64url_encode_into(into, data, len), strlen(url));
        assert_string_equal(into, url);
        s_decodes_to(std, data, len);
        s_decodes_to(url, data, len);
        free(std);
        free(url);
    }
}

static void
test_refused(void **state)
{
    (void)state;
    static const char *bad[] = {
        "Z",         /* one character: less than a byte */
        "Zm9vY",     /* 5 characters: one over a group */
        "Zg=",       /* padding incomplete */
        "Zg===",     /* too much padding */
        "Z===",      /* three '=' */
        "=Zg=",      /* '=' first */
        "Zg==Zg==",  /* '=' in the middle */
        "Zh==",      /* unused bits set (Zg== is the one text of "f") */
        "Zm9=",      /* unused bits set (Zm8=) */
        "Zm 9v",     /* a space */
        "Zm9v\n",    /* a line break */
        "+/-_",      /* both alphabets in one text */
        "Zm9v!A==",  /* not in either alphabet */
        "Zm9v\x80g", /* not ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *data = (uint8_t *)&data; /* a sentinel: must stay as it is */
        size_t len = 12345;
        int rc = ob_base64_decode(bad[i], strlen(bad[i]), &data, &len);
        if (rc != OB_ERR_INVALID_ARGUMENT)
            fail_msg("'%s' accepted or wrong code (%d)", bad[i], rc);
        assert_ptr_equal(data, (uint8_t *)&data);
        assert_int_equal(len, 12345);
    }
    /* a NUL byte inside the given length is refused too */
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(ob_base64_decode("Zm\0v", 4, &data, &len), OB_ERR_INVALID_ARGUMENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_round_trip_every_length),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
