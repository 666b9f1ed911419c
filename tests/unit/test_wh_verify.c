/*  test_wh_verify: Standard Webhooks verification, the way back (adapters/webhook/
    wh_verify.h): the specification's test vector, a bad signature, timestamps too old and
    too far ahead (at and past the tolerance), a secret the target does not have, key
    rotation (several keys, several tokens, other versions), missing and malformed headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "wh_verify.h"

/* standard-webhooks libraries' test vector (as in test_wh_sign) */
#define S_VEC_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define S_VEC_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define S_VEC_TIME 1614265330
#define S_VEC_STAMP "1614265330"
#define S_VEC_BODY "{\"test\": 2432232314}"
#define S_VEC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* another secret: bytes 0..31 */
#define S_OTHER_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static int
s_verify(const ob_wh_secrets_t *secrets, const char *id, const char *stamp, const char *sig,
         const char *body, int64_t now)
{
    const char *reason = NULL;
    int rc = ob_wh_verify(secrets, id, stamp, sig, body, strlen(body), now, &reason);
    assert_non_null(reason);
    assert_true(rc == 0 ? reason[0] == '\0' : reason[0] != '\0');
    return rc;
}

static void
s_secrets(const char *text, ob_wh_secrets_t *secrets)
{
    assert_int_equal(ob_wh_secrets_parse(text, strlen(text), secrets), 0);
}

static void
test_vector(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    s_secrets(S_VEC_SECRET "\n", &secrets);
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     0);
    /* the reason pointer may be NULL */
    assert_int_equal(ob_wh_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY,
                                  strlen(S_VEC_BODY), S_VEC_TIME, NULL),
                     0);
}

/* A signature that does not match: another body, id or timestamp, a changed MAC. */
static void
test_bad_signature(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    s_secrets(S_VEC_SECRET "\n", &secrets);
    assert_int_equal(
        s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, "{\"test\": 2432232315}", S_VEC_TIME),
        OB_ERR_SIGNATURE);
    assert_int_equal(s_verify(&secrets, "msg_p5jXN8AQM9LWM0D4loKWxJeK", S_VEC_STAMP, S_VEC_SIG,
                              S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_SIGNATURE);
    assert_int_equal(s_verify(&secrets, S_VEC_ID, "1614265331", S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_SIGNATURE);
    static const char *const bad[] = {
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", /* last bits changed */
        "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", /* first byte changed */
        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", /* another version */
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",     /* no version */
        "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",  /* the URL-safe alphabet */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=x", /* trailing bytes */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",    /* short */
        "v1,",
        "v1",
        "",
        " ",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\tv1,x", /* a tab is no separator */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, bad[i], S_VEC_BODY, S_VEC_TIME),
                         OB_ERR_SIGNATURE);
}

/* Within 5 minutes either way passes; a second more does not. */
static void
test_timestamps(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    s_secrets(S_VEC_SECRET "\n", &secrets);
    int64_t t = S_VEC_TIME;
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, t + 300), 0);
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, t - 300), 0);
    /* old: the signature is right, the time is not */
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, t + 301),
                     OB_ERR_TIMEOUT);
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, t + 86400),
                     OB_ERR_TIMEOUT);
    /* future */
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, t - 301),
                     OB_ERR_TIMEOUT);
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, 0),
                     OB_ERR_TIMEOUT);
    /* malformed: not decimal digits, or too many */
    static const char *const bad[] = {"",
                                      "-1614265330",
                                      "+1614265330",
                                      "1614265330 ",
                                      " 1",
                                      "16142653.30",
                                      "0x60377ef2",
                                      "1234567890123456789",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(s_verify(&secrets, S_VEC_ID, bad[i], S_VEC_SIG, S_VEC_BODY, t),
                         OB_ERR_FIELD_TYPE);
}

/* A request signed with a secret the target does not have. */
static void
test_unknown_secret(void **state)
{
    (void)state;
    ob_wh_secrets_t signer, target;
    s_secrets(S_OTHER_SECRET "\n", &signer);
    s_secrets(S_VEC_SECRET "\n", &target);
    char sig[OB_WH_SIGNATURE_TEXT];
    assert_int_equal(ob_wh_sign(&signer, "cmd_1", 1700000000, "{}", 2, sig), 0);
    assert_int_equal(s_verify(&signer, "cmd_1", "1700000000", sig, "{}", 1700000000), 0);
    assert_int_equal(s_verify(&target, "cmd_1", "1700000000", sig, "{}", 1700000000),
                     OB_ERR_SIGNATURE);
    /* no key at all */
    ob_wh_secrets_t none;
    memset(&none, 0, sizeof none);
    assert_int_equal(s_verify(&none, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_SIGNATURE);
}

/* Rotation: the target holds a new and an old key; the OMS signs with either, or with both,
   and may put other versions and stale tokens around the good one. */
static void
test_rotation(void **state)
{
    (void)state;
    ob_wh_secrets_t target, old_only, both;
    s_secrets(S_OTHER_SECRET "\n" S_VEC_SECRET "\n", &target);
    s_secrets(S_VEC_SECRET "\n", &old_only);
    s_secrets(S_VEC_SECRET "\n" S_OTHER_SECRET "\n", &both);
    /* signed with the old key only */
    assert_int_equal(s_verify(&target, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     0);
    /* signed with both: two tokens */
    char sig[OB_WH_SIGNATURE_TEXT];
    assert_int_equal(ob_wh_sign(&both, S_VEC_ID, S_VEC_TIME, S_VEC_BODY, strlen(S_VEC_BODY), sig),
                     0);
    assert_int_equal(strncmp(sig, S_VEC_SIG " v1,", strlen(S_VEC_SIG) + 4), 0);
    assert_int_equal(s_verify(&target, S_VEC_ID, S_VEC_STAMP, sig, S_VEC_BODY, S_VEC_TIME), 0);
    assert_int_equal(s_verify(&old_only, S_VEC_ID, S_VEC_STAMP, sig, S_VEC_BODY, S_VEC_TIME), 0);
    /* the good token among others, extra spaces */
    static const char *const mixed[] = {
        "v2,abc " S_VEC_SIG,
        "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= " S_VEC_SIG,
        "  " S_VEC_SIG "  ",
        "v1,AAAA " S_VEC_SIG " v1a,zzz",
    };
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++)
        assert_int_equal(s_verify(&target, S_VEC_ID, S_VEC_STAMP, mixed[i], S_VEC_BODY, S_VEC_TIME),
                         0);
    /* the old key removed: the old signature no longer passes */
    ob_wh_secrets_t new_only;
    s_secrets(S_OTHER_SECRET "\n", &new_only);
    assert_int_equal(s_verify(&new_only, S_VEC_ID, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_SIGNATURE);
}

/* Headers absent, an id out of shape, a signature header over its cap. */
static void
test_headers(void **state)
{
    (void)state;
    ob_wh_secrets_t secrets;
    s_secrets(S_VEC_SECRET "\n", &secrets);
    const char *reason = NULL;
    assert_int_equal(
        ob_wh_verify(&secrets, NULL, S_VEC_STAMP, S_VEC_SIG, "", 0, S_VEC_TIME, &reason),
        OB_ERR_MISSING_FIELD);
    assert_non_null(strstr(reason, "webhook-id"));
    assert_int_equal(ob_wh_verify(&secrets, S_VEC_ID, NULL, S_VEC_SIG, "", 0, S_VEC_TIME, &reason),
                     OB_ERR_MISSING_FIELD);
    assert_non_null(strstr(reason, "webhook-timestamp"));
    assert_int_equal(
        ob_wh_verify(&secrets, S_VEC_ID, S_VEC_STAMP, NULL, "", 0, S_VEC_TIME, &reason),
        OB_ERR_MISSING_FIELD);
    assert_non_null(strstr(reason, "webhook-signature"));
    assert_int_equal(s_verify(&secrets, "", S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(s_verify(&secrets, "a b", S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(s_verify(&secrets, "a\x7f", S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_FIELD_TYPE);
    char id[OB_WH_IN_ID_MAX + 2];
    memset(id, 'a', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    assert_int_equal(s_verify(&secrets, id, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_FIELD_TYPE);
    id[OB_WH_IN_ID_MAX] = '\0'; /* at the cap: well formed, the signature is what fails */
    assert_int_equal(s_verify(&secrets, id, S_VEC_STAMP, S_VEC_SIG, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_SIGNATURE);
    /* the good token, then padding past the cap */
    char sig[OB_WH_IN_SIGNATURE_MAX + 2];
    memset(sig, ' ', sizeof sig - 1);
    sig[sizeof sig - 1] = '\0';
    memcpy(sig, S_VEC_SIG, strlen(S_VEC_SIG));
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, sig, S_VEC_BODY, S_VEC_TIME),
                     OB_ERR_FIELD_TYPE);
    sig[OB_WH_IN_SIGNATURE_MAX] = '\0'; /* at the cap */
    assert_int_equal(s_verify(&secrets, S_VEC_ID, S_VEC_STAMP, sig, S_VEC_BODY, S_VEC_TIME), 0);
    /* no reason is a value: none of the header's bytes come back */
    assert_int_equal(ob_wh_verify(&secrets, S_VEC_ID, S_VEC_STAMP, "v1,secretish", S_VEC_BODY,
                                  strlen(S_VEC_BODY), S_VEC_TIME, &reason),
                     OB_ERR_SIGNATURE);
    assert_null(strstr(reason, "secretish"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),     cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_timestamps), cmocka_unit_test(test_unknown_secret),
        cmocka_unit_test(test_rotation),   cmocka_unit_test(test_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
