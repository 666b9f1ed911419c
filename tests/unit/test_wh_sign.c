/*  test_wh_sign: Standard Webhooks signing (adapters/webhook/wh_sign.h): secrets and secret
    files, the webhook-id, and signatures checked against the specification's test vector
    and against values computed independently with Python's hmac module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "wh_sign.h"

/* standard-webhooks libraries' test vector (reference section 14) */
#define S_VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define S_VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define S_VEC_TIME 1614265330
#define S_VEC_BODY "{\"test\": 2432232314}"
#define S_VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* bytes 0..63 as a secret; signatures of "ob_x.1700000000.hello" by python3:
   base64.b64encode(hmac.new(key, b"ob_x.1700000000.hello", hashlib.sha256).digest()) */
#define S_K64_SECRET                                                                               \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"   \
    "Pw=="
#define S_K64_SIG "v1,ljiVXvly2RktVhdhjzeFth8AonzhnN2mAE2hueSGSew="
#define S_VEC_KEY_SIG "v1,3JE0GImoM05Dekt3BCSnuufVqWj2Rbi9MALKis8Yi2Y="

static int
s_secrets(const char *text, ob_wh_secrets_t *secrets)
{
    return ob_wh_secrets_parse(text, strlen(text), secrets);
}

static void
test_secret_parse(void **state)
{
    (void)state;
    uint8_t key[OB_WH_SECRET_BYTES_MAX];
    size_t len = 0;
    assert_int_equal(ob_wh_secret_parse(S_VEC_SECRET, strlen(S_VEC_SECRET), key, &len), 0);
    assert_int_equal(len, 24);
    assert_int_equal(key[0], 0x31); /* 'M' 'f' -> 0x31 0xF2 */
    assert_int_equal(ob_wh_secret_parse(S_K64_SECRET, strlen(S_K64_SECRET), key, &len), 0);
    assert_int_equal(len, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(key[i], i);

    /* 65 bytes of secret (87 base64 characters and its padding), one over the longest: made
       here, as two literals would read as a missing comma to clang's -Wstring-concatenation */
    char too_long[sizeof "whsec_" + 88];
    memcpy(too_long, "whsec_", 6);
    memset(too_long + 6, 'A', 87);
    memcpy(too_long + 6 + 87, "=", 2);
    const char *const bad[] = {
        "",
        "whsec_",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",        /* no prefix */
        "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  /* the prefix is lowercase */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",   /* a character short */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ", /* a space */
        "whsec_ MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", /* a space */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La_aSw",  /* the URL-safe alphabet */
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* 23 bytes: too short */
        too_long,                                  /* 65 bytes: too long */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(key, 0xAA, sizeof key);
        assert_int_equal(ob_wh_secret_parse(bad[i], strlen(bad[i]), key, &len),
                         OB_ERR_INVALID_ARGUMENT);
        assert_int_equal(key[0], 0xAA); /* untouched */
    }
    /* exactly 24 and 64 bytes pass; padding may be left out */
    assert_int_equal(ob_wh_secret_parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 38, key, &len),
                     0);
    assert_int_equal(len, 24);
    const char *unpadded = S_K64_SECRET;
    assert_int_equal(ob_wh_secret_parse(unpadded, strlen(unpadded) - 2, key, &len), 0);
    assert_int_equal(len, 64);
}

static void
test_secrets_file(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    assert_int_equal(s_secrets(S_VEC_SECRET "\n", &secrets), 0);
    assert_int_equal(secrets.count, 1);
    assert_int_equal(secrets.len[0], 24);
    /* comments, blank lines, CRLF, no final newline; the order is kept */
    assert_int_equal(
        s_secrets("# rotated 2026-12-01\r\n\n" S_K64_SECRET "\r\n" S_VEC_SECRET, &secrets), 0);
    assert_int_equal(secrets.count, 2);
    assert_int_equal(secrets.len[0], 64);
    assert_int_equal(secrets.len[1], 24);
    ob_wh_secrets_wipe(&secrets);
    assert_int_equal(secrets.count, 0);
    assert_int_equal(secrets.key[0][1], 0);

    memset(&secrets, 0x55, sizeof secrets);
    assert_int_equal(s_secrets("", &secrets), OB_ERR_MISSING_FIELD);
    assert_int_equal(s_secrets("# only a comment\n\n", &secrets), OB_ERR_MISSING_FIELD);
    assert_int_equal(s_secrets(S_VEC_SECRET "\nwhsec_nope\n", &secrets), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_secrets(" " S_VEC_SECRET "\n", &secrets), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_secrets(S_VEC_SECRET "\n" S_VEC_SECRET "\n" S_VEC_SECRET "\n" S_VEC_SECRET
                                            "\n",
                               &secrets),
                     0); /* OB_WH_SECRETS_MAX */
    memset(&secrets, 0x55, sizeof secrets);
    assert_int_equal(s_secrets(S_VEC_SECRET "\n" S_VEC_SECRET "\n" S_VEC_SECRET "\n" S_VEC_SECRET
                                            "\n" S_VEC_SECRET "\n",
                               &secrets),
                     OB_ERR_TOO_LARGE);
    char line[OB_WH_SECRET_TEXT_MAX + 2];
    memset(line, 'A', sizeof line - 1);
    memcpy(line, "whsec_", 6);
    line[sizeof line - 1] = '\0';
    assert_int_equal(s_secrets(line, &secrets), OB_ERR_TOO_LARGE);
    static const char nul[] = S_VEC_SECRET "\n\0\n";
    assert_int_equal(ob_wh_secrets_parse(nul, sizeof nul - 1, &secrets), OB_ERR_INVALID_ARGUMENT);
    static char big[OB_WH_SECRET_FILE_MAX + 2];
    memset(big, '\n', sizeof big - 1);
    assert_int_equal(ob_wh_secrets_parse(big, sizeof big - 1, &secrets), OB_ERR_TOO_LARGE);
    /* every failure left the output alone */
    assert_int_equal(secrets.key[0][0], 0x55);
}

static void
test_id(void **state)
{
    (void)state;
    char id[OB_WH_ID_TEXT];
    /* python3: "ob_" + hashlib.sha256(b"oms.1\nevt-42").hexdigest() */
    assert_int_equal(ob_wh_id("oms.1", "evt-42", 6, id), 0);
    assert_string_equal(id, "ob_394c3f79c79bba6d714fa4ef95893a2c84a2f351a9509ef14a4dd0e7dbc8d688");
    assert_int_equal(strlen(id), OB_WH_ID_TEXT - 1);
    assert_null(strchr(id, '.'));
    char other[OB_WH_ID_TEXT];
    assert_int_equal(ob_wh_id("oms.2", "evt-42", 6, other), 0);
    assert_string_not_equal(id, other);
    assert_int_equal(ob_wh_id("oms.1", "evt-43", 6, other), 0);
    assert_string_not_equal(id, other);
    /* only event_id_len bytes of the id count */
    assert_int_equal(ob_wh_id("oms.1", "evt-42x", 6, other), 0);
    assert_string_equal(id, other);

    memset(other, 'Z', sizeof other);
    assert_int_equal(ob_wh_id("", "e", 1, other), OB_ERR_INVALID_TOPIC);
    assert_int_equal(ob_wh_id("Oms.1", "e", 1, other), OB_ERR_INVALID_TOPIC);
    assert_int_equal(ob_wh_id("oms.1", "e", 0, other), OB_ERR_INVALID_EVENT);
    char long_id[OB_EVENT_ID_MAX + 1];
    memset(long_id, 'x', sizeof long_id);
    assert_int_equal(ob_wh_id("oms.1", long_id, OB_EVENT_ID_MAX + 1, other), OB_ERR_INVALID_EVENT);
    assert_int_equal(ob_wh_id("oms.1", long_id, OB_EVENT_ID_MAX, other), 0);
    assert_int_equal(ob_wh_id("oms.1", "a", 1, id), 0);
    memset(id, 'Z', sizeof id);
    assert_int_equal(ob_wh_id("", "a", 1, id), OB_ERR_INVALID_TOPIC);
    assert_int_equal(id[0], 'Z');
}

static void
test_sign(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    char sig[OB_WH_SIGNATURE_TEXT];
    assert_int_equal(s_secrets(S_VEC_SECRET, &secrets), 0);
    assert_int_equal(
        ob_wh_sign(&secrets, S_VEC_ID, S_VEC_TIME, S_VEC_BODY, strlen(S_VEC_BODY), sig), 0);
    assert_string_equal(sig, S_VEC_SIG);
    /* one byte of the body, id or time changes it */
    assert_int_equal(
        ob_wh_sign(&secrets, S_VEC_ID, S_VEC_TIME + 1, S_VEC_BODY, strlen(S_VEC_BODY), sig), 0);
    assert_string_not_equal(sig, S_VEC_SIG);
    assert_int_equal(
        ob_wh_sign(&secrets, S_VEC_ID, S_VEC_TIME, S_VEC_BODY, strlen(S_VEC_BODY) - 1, sig), 0);
    assert_string_not_equal(sig, S_VEC_SIG);

    /* rotation: one token per secret, in file order, separated by one space */
    assert_int_equal(s_secrets(S_K64_SECRET "\n" S_VEC_SECRET "\n", &secrets), 0);
    assert_int_equal(ob_wh_sign(&secrets, "ob_x", 1700000000, "hello", 5, sig), 0);
    assert_string_equal(sig, S_K64_SIG " " S_VEC_KEY_SIG);
    /* the largest header fits */
    assert_int_equal(
        s_secrets(S_K64_SECRET "\n" S_K64_SECRET "\n" S_K64_SECRET "\n" S_K64_SECRET, &secrets), 0);
    assert_int_equal(ob_wh_sign(&secrets, "ob_x", 1700000000, "hello", 5, sig), 0);
    assert_string_equal(sig, S_K64_SIG " " S_K64_SIG " " S_K64_SIG " " S_K64_SIG);
    assert_int_equal(strlen(sig), OB_WH_SIGNATURE_TEXT - 1);

    /* ids that cannot go in the signed content or a header */
    memset(sig, 'Z', sizeof sig);
    static const char *const bad_ids[] = {"", "a.b", "a b", "a\r\nx: y", "\x7f", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        assert_int_equal(ob_wh_sign(&secrets, bad_ids[i], 1, "x", 1, sig), OB_ERR_INVALID_ARGUMENT);
    char long_id[OB_WH_ID_TEXT + 1];
    memset(long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(ob_wh_sign(&secrets, long_id, 1, "x", 1, sig), OB_ERR_INVALID_ARGUMENT);
    long_id[OB_WH_ID_TEXT - 1] = '\0';
    assert_int_equal(ob_wh_sign(&secrets, long_id, 1, "", 0, sig), 0);
    memset(sig, 'Z', sizeof sig);
    secrets.len[1] = OB_WH_SECRET_BYTES_MIN - 1; /* a struct filled wrongly */
    assert_int_equal(ob_wh_sign(&secrets, "ob_x", 1, "x", 1, sig), OB_ERR_INVALID_ARGUMENT);
    ob_wh_secrets_wipe(&secrets);
    assert_int_equal(ob_wh_sign(&secrets, "ob_x", 1, "x", 1, sig), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(sig[0], 'Z');
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_parse),
        cmocka_unit_test(test_secrets_file),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_sign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
