/*  test_gw_trigger: the trigger request parser (gateway/trigger.h): the path, where the
    credentials are (header, query, form body) and in which alphabet, the constant-time check,
    and a table of malformed requests with their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "trigger.h"

/* "mp:s3cret?>>~" in the standard alphabet (holds '+' and '/'), and URL-safe. */
#define S_STD "bXA6czNjcmV0Pz4+fg=="
#define S_URL "bXA6czNjcmV0Pz4-fg=="
#define S_URL_NOPAD "bXA6czNjcmV0Pz4-fg"

static void
test_path(void **state)
{
    (void)state;
    uint64_t id = 0;
    assert_int_equal(ob_trigger_path("/trigger/2", &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(ob_trigger_path("/trigger/9223372036854775807", &id), 0);
    assert_int_equal(id, 9223372036854775807ull);
    static const struct {
        const char *path;
        int rc;
    } bad[] = {
        {"/healthz", OB_ERR_INVALID_ARGUMENT},
        {"/trigger", OB_ERR_INVALID_ARGUMENT},
        {"/trigger/", OB_ERR_FIELD_TYPE},
        {"/trigger/0", OB_ERR_FIELD_TYPE},
        {"/trigger/02", OB_ERR_FIELD_TYPE},
        {"/trigger/-2", OB_ERR_FIELD_TYPE},
        {"/trigger/2/", OB_ERR_FIELD_TYPE},
        {"/trigger/2x", OB_ERR_FIELD_TYPE},
        {"/trigger/9223372036854775808", OB_ERR_FIELD_TYPE},
        {"/trigger/99999999999999999999", OB_ERR_FIELD_TYPE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        id = 77;
        assert_int_equal(ob_trigger_path(bad[i].path, &id), bad[i].rc);
        assert_int_equal(id, 77); /* untouched */
    }
}

/* Parses req and checks it gives mp / s3cret?>>~. */
static void
s_good(const ob_trigger_request_t *req)
{
    ob_trigger_creds_t creds;
    assert_int_equal(ob_trigger_credentials(req, &creds), 0);
    assert_string_equal(creds.user, "mp");
    assert_string_equal(creds.password, "s3cret?>>~");
    assert_true(ob_trigger_check(&creds, "mp", "s3cret?>>~"));
    assert_false(ob_trigger_check(&creds, "mp", "s3cret?>>"));
    assert_false(ob_trigger_check(&creds, "mq", "s3cret?>>~"));
    assert_false(ob_trigger_check(&creds, "", ""));
}

static void
test_places(void **state)
{
    (void)state;
    /* Header, both alphabets, padded or not, scheme in any case. */
    s_good(&(ob_trigger_request_t){.method = "GET", .header = "Basic " S_STD});
    s_good(&(ob_trigger_request_t){.method = "GET", .header = "basic  " S_URL});
    s_good(&(ob_trigger_request_t){.method = "GET", .header = "BASIC " S_URL_NOPAD});
    /* The query as the server decoded it; a '+' that became a space is read back. */
    s_good(&(ob_trigger_request_t){.method = "GET", .query = "Basic " S_URL});
    s_good(&(ob_trigger_request_t){.method = "GET", .query = "Basic bXA6czNjcmV0Pz4 fg=="});
    /* The form body, exactly as the Marketplace's Faraday sends it, and other shapes. */
    const char *form = "authorization=Basic+" S_URL;
    s_good(&(ob_trigger_request_t){.method = "POST",
                                   .content_type = "application/x-www-form-urlencoded",
                                   .body = form,
                                   .body_len = strlen(form)});
    const char *form2 = "x=1&authorization=Basic%20bXA6czNjcmV0Pz4%2Bfg%3D%3D&y";
    s_good(
        &(ob_trigger_request_t){.method = "PUT",
                                .content_type = "application/x-www-form-urlencoded; charset=utf-8",
                                .body = form2,
                                .body_len = strlen(form2)});
    s_good(&(ob_trigger_request_t){.method = "PUT", .body = form, .body_len = strlen(form)});
    /* The header wins over the others. */
    s_good(&(ob_trigger_request_t){.method = "POST",
                                   .header = "Basic " S_STD,
                                   .query = "Basic eDp5",
                                   .body = "authorization=Basic+eDp5",
                                   .body_len = 24});
    /* Empty user and password are credentials too. */
    ob_trigger_creds_t creds;
    assert_int_equal(ob_trigger_credentials(
                         &(ob_trigger_request_t){.method = "GET", .header = "Basic Og=="}, &creds),
                     0);
    assert_string_equal(creds.user, "");
    assert_string_equal(creds.password, "");
    /* A password holding ':' (the user ends at the first). */
    assert_int_equal(
        ob_trigger_credentials(&(ob_trigger_request_t){.method = "GET", .header = "Basic YTpiOmM="},
                               &creds),
        0);
    assert_string_equal(creds.user, "a");
    assert_string_equal(creds.password, "b:c");
}

static void
test_malformed(void **state)
{
    (void)state;
    char long_value[OB_GW_TRIGGER_AUTH_MAX + 16];
    memset(long_value, 'A', sizeof long_value - 1);
    memcpy(long_value, "Basic ", 6);
    long_value[sizeof long_value - 1] = '\0';
    char big_body[OB_GW_TRIGGER_BODY_MAX + 1];
    memset(big_body, 'a', sizeof big_body);
    const char *form_type = "application/x-www-form-urlencoded";
    static const char nul_in_user[] = "Basic YQBiOmM="; /* "a\0b:c" */
    const struct {
        ob_trigger_request_t req;
        int rc;
    } bad[] = {
        {{.method = "GET"}, OB_ERR_MISSING_FIELD},
        {{.method = "GET", .body = "authorization=Basic+eDp5", .body_len = 24},
         OB_ERR_MISSING_FIELD}, /* a GET's body is not a form */
        {{.method = "POST",
          .content_type = "text/plain",
          .body = "authorization=Basic+eDp5",
          .body_len = 24},
         OB_ERR_MISSING_FIELD},
        {{.method = "POST", .body = "other=1", .body_len = 7}, OB_ERR_MISSING_FIELD},
        {{.method = "GET", .header = "Bearer eDp5"}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = "Basic"}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = "Basic "}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = "Basicx eDp5"}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = "Basic eDp5!"}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = "Basic eA=="}, OB_ERR_MALFORMED},  /* no ':' */
        {{.method = "GET", .header = "Basic eDp5="}, OB_ERR_MALFORMED}, /* bad padding */
        {{.method = "GET", .header = "Basic bXA6czNjcmV0Pz4+fg-="}, OB_ERR_MALFORMED}, /* mixed */
        {{.method = "GET", .header = nul_in_user}, OB_ERR_MALFORMED},
        {{.method = "GET", .header = long_value}, OB_ERR_TOO_LARGE},
        {{.method = "POST", .body = "authorization=Basic+%zz", .body_len = 23}, OB_ERR_MALFORMED},
        {{.method = "POST", .body = "authorization=Basic+eDp5%", .body_len = 25}, OB_ERR_MALFORMED},
        {{.method = "POST", .body = "authorization=Basic+%00", .body_len = 23}, OB_ERR_MALFORMED},
        {{.method = "POST", .body = "authorization", .body_len = 13}, OB_ERR_MALFORMED},
        {{.method = "POST",
          .content_type = form_type,
          .body = big_body,
          .body_len = sizeof big_body},
         OB_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_trigger_creds_t creds;
        memset(&creds, 0x5a, sizeof creds);
        assert_int_equal(ob_trigger_credentials(&bad[i].req, &creds), bad[i].rc);
        assert_int_equal((unsigned char)creds.user[0], 0x5a); /* untouched */
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_places),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
