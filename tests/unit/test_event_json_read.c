/*  test_event_json_read: the tree-free reader of event JSON (proto/src/event_json_read.h)
    against the tree reader: what it accepts gives the same bytes, "data" is written as
    json_dumps writes it, everything refused or out of its way is declined (and then
    ob_event_from_json answers as the tree reader), every proper prefix is declined, and a
    failed allocation is -ENOMEM. fuzz_event_json_diff compares the two on any text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_json_read.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/limits.h"

#define T_TEXT_MAX 16384 /* room for the texts built here */
#define T_DATA_MAX 4096  /* room for the data texts built here */

/* Valid for Jansson, which skips a NUL byte after a number: given with its NUL. */
static const char s_nul_after_number[] = "{\"type\":\"t\",\"time_us\":1,\"oms_id\":2\0}";

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

static long s_fail_at = -1; /* our allocation to fail (0: the first), or -1 */
static long s_allocs;       /* allocations since s_fail_at was set */

static int
s_fails(void)
{
    return s_fail_at >= 0 && s_allocs++ == s_fail_at;
}

void *
__wrap_malloc(size_t size)
{
    return s_fails() ? NULL : __real_malloc(size);
}

void *
__wrap_realloc(void *ptr, size_t size)
{
    return s_fails() ? NULL : __real_realloc(ptr, size);
}

/* Reads text with both readers; requires the fast one to accept it with the tree reader's
   bytes. Returns the event (decoded) for more checks; the caller destroys it. */
static ob_event_t *
s_agree(const char *text, const char *topic)
{
    uint8_t *fast = NULL, *tree = NULL;
    size_t fast_len = 0, tree_len = 0;
    char err[OB_EVENT_JSON_ERR_MAX] = "";
    int rc = ob_event_json_read(text, strlen(text), topic, &fast, &fast_len);
    if (rc)
        fail_msg("declined (%d): %s", rc, text);
    rc = ob_event_json_read_tree(text, strlen(text), topic, &tree, &tree_len, err, sizeof err);
    if (rc)
        fail_msg("the tree reader refuses (%d, %s): %s", rc, err, text);
    if (fast_len != tree_len || memcmp(fast, tree, fast_len))
        fail_msg("other bytes: %s", text);
    ob_event_t *e = NULL;
    assert_int_equal(ob_event_decode(fast, fast_len, &e), 0);
    free(fast);
    free(tree);
    return e;
}

/* Requires "data" of the event to be want (text). */
static void
s_data_is(const ob_event_t *e, const char *want)
{
    if (e->data_len != strlen(want) || memcmp(e->data, want, e->data_len))
        fail_msg("data %.*s, want %s", (int)e->data_len, (const char *)e->data, want);
}

/* An event object with id, type, time_us and the given data text (or none). */
static void
s_event_with(char *buf, size_t size, const char *data)
{
    snprintf(buf, size, "{\"id\":\"e-1\",\"type\":\"t.x\",\"time_us\":7%s%s}",
             data ? ",\"data\":" : "", data ? data : "");
}

static void
test_agrees(void **state)
{
    (void)state;
    char bench[T_TEXT_MAX];
    char pad[441];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    snprintf(bench, sizeof bench,
             "{\"id\":\"r1-000000001\",\"type\":\"bench.event\",\"time_us\":3,\"data\":\"%s\"}",
             pad);
    static const char *const texts[] = {
        "{\"id\":\"e1\",\"topic\":\"oms.1\",\"type\":\"project_item.updated\","
        "\"time\":\"2026-11-29T10:10:00.5Z\",\"time_us\":1795947000500000,\"source\":\"mp\","
        "\"oms_id\":1,\"project_id\":2,\"project_item_id\":3,\"message_id\":9223372036854775807,"
        "\"changes\":[{\"field\":\"status\",\"before\":\"a\",\"after\":null},{\"field\":\"x\"},"
        "{\"after\":\"\\u00e9\",\"field\":\"y\",\"before\":null}],\"data\":{\"a\":{\"b\":[{}]}}}",
        " \t\r\n{ \"type\" : \"t\" , \"id\" : \"s\" , \"time_us\" : 0 , \"topic\" : \"oms.1\" } \n",
        "{\"\\u0069d\":\"e\",\"topic\":\"oms.1\",\"type\":\"x\",\"time_us\":null,"
        "\"oms_id\":null,\"changes\":null,\"data\":null}",
        "{\"id\":\"e\",\"topic\":\"oms.1\",\"type\":\"x\",\"time_us\":1,\"changes\":[],"
        "\"data\":{\"base64\":\"AAEC\"}}",
        "{\"id\":\"\\\"q\\\\\\/\\u00e9\\ud83d\\ude00\xc3\xa9\",\"topic\":\"oms.1\",\"type\":\"x\","
        "\"time\":\"2026-11-29 11:10:00+01:00\"}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ob_event_t *e = s_agree(texts[i], NULL);
        ob_event_destroy(&e);
    }
    ob_event_t *e = s_agree(bench, "oms.1");
    assert_int_equal(e->data_len, 442);
    ob_event_destroy(&e);
    e = s_agree(texts[0], "oms.1"); /* the same topic in the text and as the argument */
    ob_event_destroy(&e);
}

/* "data" is written as json_dumps (compact, in order) writes it. */
static void
test_data_text(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        const char *want;
    } cases[] = {
        {"\"abc\"", "\"abc\""},
        {" { \"b\" : 1 , \"a\" : [ true , false , null ] } ", "{\"b\":1,\"a\":[true,false,null]}"},
        {"{}", "{}"},
        {"[ ]", "[]"},
        {"\"\\/\\b\\f\\n\\r\\t\\u001f\\u007F\\u00e9\\ud83d\\ude00\"",
         "\"/\\b\\f\\n\\r\\t\\u001F\x7f\xc3\xa9\xf0\x9f\x98\x80\""},
        {"\"\\\"\\\\\"", "\"\\\"\\\\\""},
        {"[0,-0,-5,9223372036854775807,-9223372036854775808]",
         "[0,0,-5,9223372036854775807,-9223372036854775808]"},
        {"[0.1,1e5,1E+20,-2.5e-7,1.5,100.0,5e-324,1e-400]",
         "[0.10000000000000001,100000.0,1e20,-2.4999999999999999e-7,1.5,100.0,"
         "4.9406564584124654e-324,0.0]"},
        {"{\"base64\":\"AAEC\",\"x\":1}", "{\"base64\":\"AAEC\",\"x\":1}"},
        {"{\"base64\":7}", "{\"base64\":7}"},
        {"{\"k\":{\"k\":{\"k\":1}},\"j\":{\"k\":2}}", "{\"k\":{\"k\":{\"k\":1}},\"j\":{\"k\":2}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[T_TEXT_MAX];
        s_event_with(text, sizeof text, cases[i].data);
        ob_event_t *e = s_agree(text, "oms.1");
        s_data_is(e, cases[i].want);
        ob_event_destroy(&e);
    }
}

/* Everything the tree reader refuses is declined, and ob_event_from_json answers with the
   tree reader's code; so are valid texts out of the fast reader's way. */
static void
test_declines(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc; /* ob_event_from_json's (the tree reader's) */
    } cases[] = {
        {"", OB_ERR_MALFORMED},
        {"[]", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"time_us\":1} x", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"time_us\":1,}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"type\":\"u\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":{\"a\":{\"k\":1,\"\\u006b\":2}}}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"changes\":[{\"field\":\"a\",\"field\":\"b\"}]}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"a\\u0000b\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\\ud83d\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\\ude00\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\\ud83d\\u0041\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\\x\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\xc0\x80\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"\xed\xa0\x80\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":\"a\tb\"}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":01}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":1.}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":9223372036854775808}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":1e400}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"data\":tru}", OB_ERR_MALFORMED},
        {"{\"type\":\"t\",\"bogus\":1}", OB_ERR_FIELD_TYPE},
        {"{\"type\":5}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"id\":null}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"oms_id\":-1}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"oms_id\":1.0}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"oms_id\":1e3}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"changes\":{}}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"changes\":[{\"field\":\"a\",\"x\":\"b\"}]}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"changes\":[{\"field\":\"a\",\"after\":3}]}", OB_ERR_FIELD_TYPE},
        {"{\"type\":\"t\",\"changes\":[{\"before\":\"a\"}]}", OB_ERR_MISSING_FIELD},
        {"{}", OB_ERR_MISSING_FIELD},
        {"{\"type\":\"t\",\"topic\":\"oms.2\"}", OB_ERR_INVALID_TOPIC},
        {"{\"type\":\"T T\"}", OB_ERR_INVALID_EVENT},
        {"{\"type\":\"t\",\"id\":\"\"}", OB_ERR_INVALID_EVENT},
        {"{\"type\":\"t\",\"time\":\"yesterday\"}", OB_ERR_INVALID_EVENT},
        {"{\"type\":\"t\",\"time\":\"1970-01-01T00:00:01Z\",\"time_us\":2}", OB_ERR_INVALID_EVENT},
        {"{\"type\":\"t\",\"time\":\"1970-01-01T00:00:01Z\",\"time_us\":null}",
         OB_ERR_INVALID_EVENT},
        {"{\"type\":\"t\",\"data\":{\"base64\":\"abc\"}}", OB_ERR_INVALID_EVENT},
        /* valid, but left to the tree reader */
        {"{\"type\":\"t\",\"time_us\":1,\"oms_id\":-0}", 0},
        {s_nul_after_number, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *text = cases[i].text;
        size_t len = text == s_nul_after_number ? sizeof s_nul_after_number - 1 : strlen(text);
        uint8_t *buf = (uint8_t *)"unchanged";
        size_t buf_len = 99;
        char err[OB_EVENT_JSON_ERR_MAX] = "";
        int rc = ob_event_json_read(text, len, "oms.1", &buf, &buf_len);
        if (rc != OB_EVENT_JSON_DECLINED || buf_len != 99)
            fail_msg("case %zu %s: not declined (%d)", i, text, rc);
        buf = NULL;
        rc = ob_event_from_json(text, len, "oms.1", &buf, &buf_len, err, sizeof err);
        if (rc != cases[i].rc || (rc && !err[0]))
            fail_msg("case %zu %s: %d (%s), want %d", i, text, rc, err, cases[i].rc);
        if (!rc)
            free(buf);
    }
}

/* Data out of the fast reader's way (deep, wide, long numbers) goes to the tree reader. */
static void
test_declines_shapes(void **state)
{
    (void)state;
    char data[T_DATA_MAX], text[T_TEXT_MAX];
    const char *shapes[3];
    char deep[128] = "", wide[2048] = "{", number[128] = "1.";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    for (int i = 0; i < 70; i++)
        snprintf(wide + strlen(wide), sizeof wide - strlen(wide), "%s\"k%d\":1", i ? "," : "", i);
    strcat(wide, "}");
    memset(number + 2, '5', 80);
    number[82] = '\0';
    shapes[0] = deep;
    shapes[1] = wide;
    shapes[2] = number;
    for (size_t i = 0; i < 3; i++) {
        snprintf(data, sizeof data, "%s", shapes[i]);
        s_event_with(text, sizeof text, data);
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(ob_event_json_read(text, strlen(text), "oms.1", &buf, &len),
                         OB_EVENT_JSON_DECLINED);
        assert_int_equal(ob_event_from_json(text, strlen(text), "oms.1", &buf, &len, NULL, 0), 0);
        free(buf);
    }
}

/* A missing id and time are made up as the tree reader makes them. */
static void
test_defaults(void **state)
{
    (void)state;
    const char *text = "{\"topic\":\"oms.1\",\"type\":\"t\"}";
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_json_read(text, strlen(text), NULL, &buf, &len), 0);
    ob_event_t *e = NULL;
    assert_int_equal(ob_event_decode(buf, len, &e), 0);
    assert_int_equal(strlen(e->id), OB_EVENT_JSON_ID_TEXT - 1);
    assert_int_equal(strspn(e->id, "0123456789abcdef"), OB_EVENT_JSON_ID_TEXT - 1);
    uint64_t now = ob_event_json_now();
    assert_true(e->time_us <= now && e->time_us + 60000000ull > now);
    assert_true(!e->source || !e->source[0]);
    assert_int_equal(e->changes_count, 0);
    assert_int_equal(e->data_len, 0);
    ob_event_destroy(&e);
    free(buf);
}

/* Every proper prefix of a valid event is declined (a byte at a time), and is malformed. */
static void
test_prefixes(void **state)
{
    (void)state;
    const char *text = "{\"id\":\"e1\",\"topic\":\"oms.1\",\"type\":\"t.u\",\"time_us\":12,"
                       "\"oms_id\":3,\"changes\":[{\"field\":\"f\",\"before\":null,\"after\":"
                       "\"\\u00e9\"}],\"data\":{\"a\":[1.5,-2,true,\"\\n\"]}}";
    size_t n = strlen(text);
    for (size_t len = 0; len < n; len++) {
        uint8_t *buf = (uint8_t *)"unchanged";
        size_t out_len = 99;
        assert_int_equal(ob_event_json_read(text, len, NULL, &buf, &out_len),
                         OB_EVENT_JSON_DECLINED);
        assert_int_equal(out_len, 99);
        assert_int_equal(ob_event_from_json(text, len, NULL, &buf, &out_len, NULL, 0),
                         OB_ERR_MALFORMED);
    }
    ob_event_t *e = s_agree(text, NULL);
    ob_event_destroy(&e);
}

/* A failed allocation, whichever, is -ENOMEM and leaves the outputs alone. */
static void
test_out_of_memory(void **state)
{
    (void)state;
    char text[T_TEXT_MAX];
    char data[1024] = "\"";
    memset(data + 1, 'd', 600); /* "data" outgrows its first allocation */
    strcpy(data + 601, "\"");
    s_event_with(text, sizeof text, data);
    strcat(text, " "); /* and one with base64 below */
    const char *b64 = "{\"id\":\"e\",\"type\":\"t\",\"time_us\":1,\"data\":{\"base64\":\"AAEC\"}}";
    const char *texts[] = {text, b64};
    for (size_t t = 0; t < 2; t++) {
        long n = 0;
        for (;; n++) {
            uint8_t *buf = (uint8_t *)"unchanged";
            size_t len = 99;
            s_allocs = 0;
            s_fail_at = n;
            int rc = ob_event_json_read(texts[t], strlen(texts[t]), "oms.1", &buf, &len);
            s_fail_at = -1;
            if (s_allocs <= n) { /* nothing failed */
                assert_int_equal(rc, 0);
                free(buf);
                break;
            }
            assert_int_equal(rc, -ENOMEM);
            assert_int_equal(len, 99);
        }
        assert_true(n >= 3); /* the arena, "data" (or its bytes), the encoded event */
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees),        cmocka_unit_test(test_data_text),
        cmocka_unit_test(test_declines),      cmocka_unit_test(test_declines_shapes),
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
