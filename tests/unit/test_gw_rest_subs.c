/*  test_gw_rest_subs: what of gateway/rest_subs.h runs without a broker: the handle key file
    (made once, mode 0600, read back, a bad one refused) and the routing, method, media type
    and body checks of ob_rest_subs_parse, and ob_rest_subs_check against a token's
    subscribe patterns. The broker side is test_gateway_subs (integration). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "handle.h"
#include "rest_parse.h"
#include "rest_subs.h"
#include "tokens.h"

#define S_JSON "application/json"
#define S_ERR 256   /* a message buffer */
#define S_BODY 1024 /* a test body */

static char s_dir[] = "/tmp/test-gw-rest-subs-XXXXXX";
static uint8_t s_key[OB_GW_HANDLE_KEY_BYTES];

static int
s_setup(void **state)
{
    (void)state;
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[sizeof s_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The key file: made on first load (0600), the same key read back after; one of the wrong
   size refused. */
static void
test_key(void **state)
{
    (void)state;
    char err[S_ERR] = "", path[sizeof s_dir + sizeof "/" OB_GW_HANDLE_KEY_FILE];
    uint8_t again[OB_GW_HANDLE_KEY_BYTES];
    assert_int_equal(ob_rest_subs_key_load(s_dir, s_key, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/" OB_GW_HANDLE_KEY_FILE, s_dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, OB_GW_HANDLE_KEY_BYTES);
    assert_int_equal(ob_rest_subs_key_load(s_dir, again, err, sizeof err), 0);
    assert_memory_equal(s_key, again, sizeof again);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputc('x', f);
    fclose(f);
    assert_int_equal(ob_rest_subs_key_load(s_dir, again, err, sizeof err), OB_ERR_MALFORMED);
    assert_non_null(strstr(err, OB_GW_HANDLE_KEY_FILE));
    assert_int_equal(ob_rest_subs_key_load("/nonexistent/dir", again, err, sizeof err), -ENOENT);
}

/* Parses path, method, body as JSON; returns the code (the request is destroyed). */
static int
s_parse(const char *path, const char *method, const char *type, const char *body, int too_large)
{
    char err[S_ERR] = "";
    ob_rest_subs_req_t *req = NULL;
    int rc = ob_rest_subs_parse(path, method, "oms-7", type, body, body ? strlen(body) : 0,
                                too_large, S_BODY, NULL, s_key, &req, err, sizeof err);
    if (rc) {
        assert_null(req);
        assert_true(err[0] != '\0');
    } else
        assert_non_null(req);
    ob_rest_subs_req_destroy(&req);
    ob_rest_subs_req_destroy(&req); /* NULL: nothing */
    return rc;
}

/* Routes and methods; bodies where each takes one. */
static void
test_parse(void **state)
{
    (void)state;
    const char *sub = "{\"name\": \"billing\", \"patterns\": [\"orders.>\"]}";
    assert_int_equal(s_parse("", "POST", S_JSON, sub, 0), 0);
    assert_int_equal(s_parse("", "GET", NULL, NULL, 0), 0);
    assert_int_equal(s_parse("", "PUT", NULL, NULL, 0), OB_GW_ERR_METHOD);
    assert_int_equal(s_parse("/billing", "GET", NULL, NULL, 0), 0);
    assert_int_equal(s_parse("/billing", "DELETE", NULL, NULL, 0), 0);
    assert_int_equal(s_parse("/billing", "POST", S_JSON, "{}", 0), OB_GW_ERR_METHOD);
    assert_int_equal(s_parse("/billing", "GET", NULL, "x", 0), OB_ERR_MALFORMED);
    assert_int_equal(s_parse("/billing", "DELETE", NULL, NULL, 1), OB_ERR_MALFORMED);
    assert_int_equal(s_parse("/Billing", "GET", NULL, NULL, 0), OB_ERR_FIELD_TYPE);
    assert_int_equal(s_parse("/", "GET", NULL, NULL, 0), OB_ERR_FIELD_TYPE);
    assert_int_equal(s_parse("x", "GET", NULL, NULL, 0), OB_GW_ERR_NOT_FOUND);
    assert_int_equal(s_parse("/billing/stream", "GET", NULL, NULL, 0), OB_GW_ERR_NOT_FOUND);
    assert_int_equal(s_parse("/billing/fetch/", "POST", S_JSON, "{}", 0), OB_GW_ERR_NOT_FOUND);
    /* fetch: an empty body without a type takes the defaults */
    assert_int_equal(s_parse("/billing/fetch", "POST", NULL, NULL, 0), 0);
    assert_int_equal(s_parse("/billing/fetch", "POST", S_JSON, "{\"max\": 5, \"wait_ms\": 10}", 0),
                     0);
    assert_int_equal(s_parse("/billing/fetch", "GET", NULL, NULL, 0), OB_GW_ERR_METHOD);
    assert_int_equal(s_parse("/billing/fetch", "POST", "text/plain", "{}", 0),
                     OB_GW_ERR_MEDIA_TYPE);
    assert_int_equal(s_parse("/billing/fetch", "POST", "application/x-ndjson", "{}", 0),
                     OB_GW_ERR_MEDIA_TYPE);
    assert_int_equal(s_parse("/billing/fetch", "POST", S_JSON, "{\"max\": 0}", 0),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(s_parse("", "POST", S_JSON, sub, 1), OB_ERR_TOO_LARGE);
    assert_int_equal(s_parse("", "POST", NULL, sub, 0), OB_GW_ERR_MEDIA_TYPE);
    /* ack and nack: handles of this subscription, sealed with this key */
    ob_rest_handle_t h = {.sub = "billing", .topic = "orders.eu", .seq = 3, .attempt = 1};
    char handle[OB_GW_HANDLE_TEXT_MAX + 1], body[S_BODY];
    assert_int_equal(ob_rest_handle_encode(s_key, &h, handle), 0);
    snprintf(body, sizeof body, "{\"handles\": [\"%s\"]}", handle);
    assert_int_equal(s_parse("/billing/ack", "POST", S_JSON, body, 0), 0);
    assert_int_equal(s_parse("/other/ack", "POST", S_JSON, body, 0), OB_ERR_INVALID_ARGUMENT);
    snprintf(body, sizeof body, "{\"handles\": [\"%s\"], \"delay_ms\": 100}", handle);
    assert_int_equal(s_parse("/billing/nack", "POST", S_JSON, body, 0), 0);
    assert_int_equal(s_parse("/billing/ack", "POST", S_JSON, body, 0), OB_ERR_FIELD_TYPE);
}

/* A create's patterns against the token's subscribe patterns. */
static void
test_check(void **state)
{
    (void)state;
    const char *file =
        "client = oms-7\n"
        "    hash = 0000000000000000000000000000000000000000000000000000000000000001\n"
        "    subscribe = orders.>\n";
    char err[S_ERR] = "";
    ob_tokens_t *tokens = NULL;
    assert_int_equal(ob_tokens_load_text(file, strlen(file), "t", &tokens, err, sizeof err), 0);
    const ob_tokens_client_t *client = ob_tokens_find(tokens, "oms-7");
    assert_non_null(client);
    const char *ok = "{\"name\": \"a\", \"patterns\": [\"orders.eu\", \"orders.*\"]}";
    const char *no = "{\"name\": \"a\", \"patterns\": [\"orders.eu\", \"billing.>\"]}";
    ob_rest_subs_req_t *req = NULL;
    assert_int_equal(ob_rest_subs_parse("", "POST", "oms-7", S_JSON, ok, strlen(ok), 0, S_BODY,
                                        NULL, s_key, &req, err, sizeof err),
                     0);
    assert_int_equal(ob_rest_subs_check(req, client, err, sizeof err), 0);
    ob_rest_subs_req_destroy(&req);
    assert_int_equal(ob_rest_subs_parse("", "POST", "oms-7", S_JSON, no, strlen(no), 0, S_BODY,
                                        NULL, s_key, &req, err, sizeof err),
                     0);
    assert_int_equal(ob_rest_subs_check(req, client, err, sizeof err), OB_ERR_FORBIDDEN);
    assert_non_null(strstr(err, "billing.>"));
    ob_rest_subs_req_destroy(&req);
    /* Other routes have nothing to check here. */
    assert_int_equal(ob_rest_subs_parse("/a", "GET", "oms-7", NULL, NULL, 0, 0, S_BODY, NULL, s_key,
                                        &req, err, sizeof err),
                     0);
    assert_int_equal(ob_rest_subs_check(req, client, err, sizeof err), 0);
    ob_rest_subs_req_destroy(&req);
    ob_tokens_destroy(&tokens);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
