/*  test_gw_handle: delivery handles (gateway/handle.h): round trips at the extremes, the
    text is URL-safe and within its cap, and every alteration, truncation, other key, other
    version, non-canonical or padded text, and invalid field is refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "handle.h"
#include "orderbus/error.h"

static uint8_t s_key[OB_GW_HANDLE_KEY_BYTES];

static int
s_setup(void **state)
{
    (void)state;
    return ob_rest_handle_keygen(s_key);
}

/* Encodes h, checks the text, decodes it back to h. */
static void
s_round_trip(const ob_rest_handle_t *h)
{
    char text[OB_GW_HANDLE_TEXT_MAX + 1];
    assert_int_equal(ob_rest_handle_encode(s_key, h, text), 0);
    size_t len = strlen(text);
    assert_true(len > 0 && len <= OB_GW_HANDLE_TEXT_MAX);
    assert_int_equal(
        strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), len);
    ob_rest_handle_t back;
    memset(&back, 0x5a, sizeof back);
    assert_int_equal(ob_rest_handle_decode(s_key, text, len, &back), 0);
    assert_string_equal(back.sub, h->sub);
    assert_string_equal(back.topic, h->topic);
    assert_int_equal(back.seq, h->seq);
    assert_int_equal(back.attempt, h->attempt);
}

static void
test_round_trip(void **state)
{
    (void)state;
    ob_rest_handle_t h = {.sub = "billing", .topic = "oms.7", .seq = 42, .attempt = 1};
    s_round_trip(&h);
    /* the longest names, the largest numbers */
    memset(h.sub, 'z', OB_SUB_NAME_MAX);
    h.sub[OB_SUB_NAME_MAX] = '\0';
    memset(h.topic, 'a', OB_TOPIC_MAX);
    for (size_t i = 1; i < OB_TOPIC_MAX; i += 2)
        h.topic[i] = '.';
    h.topic[OB_TOPIC_MAX] = '\0';
    h.seq = UINT64_MAX;
    h.attempt = UINT32_MAX;
    s_round_trip(&h);
    /* the shortest */
    ob_rest_handle_t small = {.sub = "a", .topic = "b", .seq = 1, .attempt = 1};
    s_round_trip(&small);
    /* the same handle encodes the same; another attempt differently */
    char a[OB_GW_HANDLE_TEXT_MAX + 1], b[OB_GW_HANDLE_TEXT_MAX + 1];
    assert_int_equal(ob_rest_handle_encode(s_key, &small, a), 0);
    assert_int_equal(ob_rest_handle_encode(s_key, &small, b), 0);
    assert_string_equal(a, b);
    small.attempt = 2;
    assert_int_equal(ob_rest_handle_encode(s_key, &small, b), 0);
    assert_string_not_equal(a, b);
}

/* Decoding text must fail and write nothing. */
static void
s_refused(const uint8_t *key, const char *text, size_t len)
{
    ob_rest_handle_t h;
    memset(&h, 0x5a, sizeof h);
    if (ob_rest_handle_decode(key, text, len, &h) != OB_ERR_INVALID_ARGUMENT)
        fail_msg("accepted: %.*s", (int)len, text);
    assert_int_equal((uint8_t)h.sub[0], 0x5a);
}

static void
test_forgery(void **state)
{
    (void)state;
    ob_rest_handle_t h = {.sub = "billing", .topic = "oms.7", .seq = 42, .attempt = 3};
    char text[OB_GW_HANDLE_TEXT_MAX + 1];
    assert_int_equal(ob_rest_handle_encode(s_key, &h, text), 0);
    size_t len = strlen(text);
    /* every character changed in turn */
    for (size_t i = 0; i < len; i++) {
        char altered[OB_GW_HANDLE_TEXT_MAX + 1];
        memcpy(altered, text, len + 1);
        altered[i] = altered[i] == 'A' ? 'B' : 'A';
        s_refused(s_key, altered, len);
    }
    /* every prefix */
    for (size_t i = 0; i < len; i++)
        s_refused(s_key, text, i);
    /* another key */
    uint8_t other[OB_GW_HANDLE_KEY_BYTES];
    assert_int_equal(ob_rest_handle_keygen(other), 0);
    s_refused(other, text, len);
    /* a forged handle of another subscription: made with a guessed key */
    ob_rest_handle_t theirs = h;
    snprintf(theirs.sub, sizeof theirs.sub, "payroll");
    assert_int_equal(ob_rest_handle_encode(other, &theirs, text), 0);
    s_refused(s_key, text, strlen(text));
    /* padding, the standard alphabet, spaces, too long, NULL */
    assert_int_equal(ob_rest_handle_encode(s_key, &h, text), 0);
    char padded[OB_GW_HANDLE_TEXT_MAX + 4];
    snprintf(padded, sizeof padded, "%s==", text);
    s_refused(s_key, padded, strlen(padded));
    snprintf(padded, sizeof padded, " %s", text);
    s_refused(s_key, padded, strlen(padded));
    char big[OB_GW_HANDLE_TEXT_MAX + 2];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s_refused(s_key, big, strlen(big));
    s_refused(s_key, NULL, 0);
    s_refused(s_key, "", 0);
}

/* Seals len bytes (at most 32) with s_key as ob_rest_handle_encode does, into text: the
   construction of handle.h written out independently. */
static void
s_seal(const void *bytes, size_t len, char text[OB_GW_HANDLE_TEXT_MAX + 1])
{
    uint8_t bin[32 + OB_GW_HANDLE_MAC_BYTES];
    assert_true(len <= 32);
    memcpy(bin, bytes, len);
    crypto_generichash_state st;
    crypto_generichash_init(&st, s_key, sizeof s_key, OB_GW_HANDLE_MAC_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)OB_GW_HANDLE_DOMAIN,
                              sizeof OB_GW_HANDLE_DOMAIN);
    crypto_generichash_update(&st, bin, len);
    crypto_generichash_final(&st, bin + len, OB_GW_HANDLE_MAC_BYTES);
    sodium_bin2base64(text, OB_GW_HANDLE_TEXT_MAX + 1, bin, len + OB_GW_HANDLE_MAC_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Sealed blobs that are authentic but not a handle of this version or layout, as only a
   buggy gateway could make; and the valid one the same construction makes. */
static void
test_authentic_but_wrong(void **state)
{
    (void)state;
    static const struct {
        const char *bytes; /* before the MAC */
        size_t len;        /* their count */
    } cases[] = {
        {"\x02\x01"
         "a\x01"
         "b\0\0\0\0\0\0\0\x01\0\0\0\x01",
         17}, /* version 2 */
        {"\x01\x05"
         "a\x01"
         "b\0\0\0\0\0\0\0\x01\0\0\0\x01",
         17}, /* sub length */
        {"\x01\x01"
         "A\x01"
         "b\0\0\0\0\0\0\0\x01\0\0\0\x01",
         17}, /* bad sub */
        {"\x01\x01"
         "a\x01"
         ".\0\0\0\0\0\0\0\x01\0\0\0\x01",
         17}, /* bad topic */
        {"\x01\x01"
         "a\x01"
         "b\0\0\0\0\0\0\0\0\0\0\0\x01",
         17}, /* seq 0 */
        {"\x01\x01"
         "a\x01"
         "b\0\0\0\0\0\0\0\x01\0\0\0\0",
         17}, /* attempt 0 */
        {"\x01\x01"
         "a\x01"
         "b\0\0\0\0\0\0\0\x01\0\0\0\x01\0",
         18}, /* extra */
    };
    char text[OB_GW_HANDLE_TEXT_MAX + 1];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_seal(cases[i].bytes, cases[i].len, text);
        s_refused(s_key, text, strlen(text));
    }
    s_seal("\x01\x01"
           "a\x01"
           "b\0\0\0\0\0\0\0\x07\0\0\0\x02",
           17, text);
    ob_rest_handle_t h;
    assert_int_equal(ob_rest_handle_decode(s_key, text, strlen(text), &h), 0);
    assert_string_equal(h.sub, "a");
    assert_string_equal(h.topic, "b");
    assert_int_equal(h.seq, 7);
    assert_int_equal(h.attempt, 2);
}

/* An independent vector: Python's hashlib.blake2b(b"orderbus.gateway.handle.v1\0" + bytes,
   key=bytes([1] * 32), digest_size=16) over the layout of handle.h, in base64url (the
   fuzz corpus's handles are made so too). */
static void
test_vector(void **state)
{
    (void)state;
    uint8_t key[OB_GW_HANDLE_KEY_BYTES];
    memset(key, 1, sizeof key);
    ob_rest_handle_t h = {.sub = "billing", .topic = "oms.7", .seq = 5, .attempt = 1};
    char text[OB_GW_HANDLE_TEXT_MAX + 1];
    assert_int_equal(ob_rest_handle_encode(key, &h, text), 0);
    assert_string_equal(text, "AQdiaWxsaW5nBW9tcy43AAAAAAAAAAUAAAABUWb4t2LjXOQXUUoxkH7u9w");
}

static void
test_encode_refused(void **state)
{
    (void)state;
    const ob_rest_handle_t bad[] = {
        {.sub = "", .topic = "oms.7", .seq = 1, .attempt = 1},
        {.sub = "Billing", .topic = "oms.7", .seq = 1, .attempt = 1},
        {.sub = "b.c", .topic = "oms.7", .seq = 1, .attempt = 1},
        {.sub = "b", .topic = "", .seq = 1, .attempt = 1},
        {.sub = "b", .topic = "oms..7", .seq = 1, .attempt = 1},
        {.sub = "b", .topic = "oms.7", .seq = 0, .attempt = 1},
        {.sub = "b", .topic = "oms.7", .seq = 1, .attempt = 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[OB_GW_HANDLE_TEXT_MAX + 1] = "untouched";
        assert_int_equal(ob_rest_handle_encode(s_key, &bad[i], text), OB_ERR_INVALID_ARGUMENT);
        assert_string_equal(text, "untouched");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),          cmocka_unit_test(test_forgery),
        cmocka_unit_test(test_authentic_but_wrong), cmocka_unit_test(test_vector),
        cmocka_unit_test(test_encode_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
