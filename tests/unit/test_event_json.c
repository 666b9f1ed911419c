/*  test_event_json: the event as JSON (orderbus/event_json.h): RFC 3339 times, event ->
    JSON, JSON -> event (defaults, strict validation with its codes), and the round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/limits.h"

#define T_TIME_US 1795947000500000ull /* 2026-11-29T10:10:00.500000Z */

/* --- times -------------------------------------------------------------------------------- */

static void
test_time_format(void **state)
{
    (void)state;
    char buf[OB_TIME_TEXT_MAX];
    assert_int_equal(ob_time_format(0, buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    assert_int_equal(ob_time_format(T_TIME_US, buf), 0);
    assert_string_equal(buf, "2026-11-29T10:10:00.500000Z");
    assert_int_equal(ob_time_format(951782400000001ull, buf), 0); /* a leap day */
    assert_string_equal(buf, "2000-02-29T00:00:00.000001Z");
    assert_int_equal(ob_time_format(253402300799999999ull, buf), 0);
    assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
    assert_int_equal(ob_time_format(253402300800000000ull, buf), OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(buf, "");
    assert_int_equal(ob_time_format(UINT64_MAX, buf), OB_ERR_INVALID_ARGUMENT);
}

static void
test_time_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t us;
    } good[] = {
        {"2026-11-29T10:10:00.5Z", T_TIME_US},
        {"2026-11-29T10:10:00.500000Z", T_TIME_US},
        {"2026-11-29t10:10:00.500000123z", T_TIME_US}, /* nanoseconds are cut */
        {"2026-11-29 11:10:00.5+01:00", T_TIME_US},
        {"2026-11-29T05:40:00.5-04:30", T_TIME_US},
        {"1970-01-01T00:00:00Z", 0},
        {"2000-02-29T00:00:00.000001Z", 951782400000001ull},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t us = 1;
        assert_int_equal(ob_time_parse(good[i].text, &us), 0);
        assert_int_equal(us, good[i].us);
    }
    static const char *const bad[] = {
        "",
        "2026-11-29",
        "2026-11-29T10:10:00",             /* no zone */
        "2026-11-29T10:10:00.Z",           /* empty fraction */
        "2026-11-29T10:10:00.1234567890Z", /* over 9 digits */
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", /* not a leap year */
        "2026-11-31T00:00:00Z",
        "2026-11-29T24:00:00Z",
        "2026-11-29T10:60:00Z",
        "2026-11-29T10:10:00+1:00",
        "2026-11-29T10:10:00Zjunk",
        "1969-12-31T23:59:59Z", /* before the epoch */
        "1970-01-01T00:00:00+00:01",
        "-5m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t us = 7;
        if (ob_time_parse(bad[i], &us) != OB_ERR_INVALID_ARGUMENT)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(us, 7); /* untouched */
    }
    /* every formatted time parses back */
    for (uint64_t us = 0; us < 253402300799999999ull; us = us * 3 + 123456789) {
        char buf[OB_TIME_TEXT_MAX];
        uint64_t back = 0;
        assert_int_equal(ob_time_format(us, buf), 0);
        assert_int_equal(ob_time_parse(buf, &back), 0);
        assert_int_equal(back, us);
    }
}

/* --- event -> JSON ------------------------------------------------------------------------- */

static const ob_change_t s_changes[] = {{"status", "created", "ready"}, {"note", NULL, "x"}};

static ob_event_t
s_event(void)
{
    ob_event_t e = {.id = "pi-7-3",
                    .topic = "oms.1",
                    .type = "project_item.created",
                    .time_us = T_TIME_US,
                    .source = "gateway",
                    .oms_id = 1,
                    .project_id = 7,
                    .project_item_id = 3,
                    .message_id = 0,
                    .changes = s_changes,
                    .changes_count = 2,
                    .data = (const uint8_t *)"{\"status\":\"ready\",\"n\":[1,2]}",
                    .data_len = strlen("{\"status\":\"ready\",\"n\":[1,2]}")};
    return e;
}

static json_t *
s_to_json(const ob_event_t *e)
{
    char *text = NULL;
    assert_int_equal(ob_event_to_json(e, &text), 0);
    json_t *v = json_loads(text, 0, NULL);
    assert_non_null(v);
    free(text);
    return v;
}

static void
test_to_json(void **state)
{
    (void)state;
    ob_event_t e = s_event();
    json_t *v = s_to_json(&e);
    assert_string_equal(json_string_value(json_object_get(v, "id")), "pi-7-3");
    assert_string_equal(json_string_value(json_object_get(v, "topic")), "oms.1");
    assert_string_equal(json_string_value(json_object_get(v, "type")), "project_item.created");
    assert_string_equal(json_string_value(json_object_get(v, "time")),
                        "2026-11-29T10:10:00.500000Z");
    assert_int_equal(json_integer_value(json_object_get(v, "time_us")), T_TIME_US);
    assert_string_equal(json_string_value(json_object_get(v, "source")), "gateway");
    assert_int_equal(json_integer_value(json_object_get(v, "oms_id")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "project_id")), 7);
    assert_int_equal(json_integer_value(json_object_get(v, "project_item_id")), 3);
    assert_int_equal(json_integer_value(json_object_get(v, "message_id")), 0);
    json_t *changes = json_object_get(v, "changes");
    assert_int_equal(json_array_size(changes), 2);
    json_t *c1 = json_array_get(changes, 1);
    assert_string_equal(json_string_value(json_object_get(c1, "field")), "note");
    assert_true(json_is_null(json_object_get(c1, "before")));
    assert_string_equal(json_string_value(json_object_get(c1, "after")), "x");
    json_t *data = json_object_get(v, "data");
    assert_string_equal(json_string_value(json_object_get(data, "status")), "ready");
    assert_int_equal(json_array_size(json_object_get(data, "n")), 2);
    json_decref(v);

    /* data that is not JSON: base64 */
    static const uint8_t bin[] = {0x00, 0xff, 0x10, 'a'};
    e.data = bin;
    e.data_len = sizeof bin;
    e.source = NULL;
    e.changes = NULL;
    e.changes_count = 0;
    v = s_to_json(&e);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "data"), "base64")),
                        "AP8QYQ==");
    assert_string_equal(json_string_value(json_object_get(v, "source")), "");
    assert_int_equal(json_array_size(json_object_get(v, "changes")), 0);
    json_decref(v);

    /* no data: null */
    e.data_len = 0;
    v = s_to_json(&e);
    assert_true(json_is_null(json_object_get(v, "data")));
    json_decref(v);

    /* an id JSON would read back negative */
    char *none = NULL;
    e.oms_id = (uint64_t)INT64_MAX + 1;
    assert_int_equal(ob_event_to_json(&e, &none), OB_ERR_INVALID_EVENT);
    assert_null(none);
    e.oms_id = 1;

    /* a string that is not UTF-8 cannot be JSON */
    e.source = "\xff";
    char *text = (char *)"unchanged";
    assert_int_equal(ob_event_to_json(&e, &text), OB_ERR_INVALID_EVENT);
    assert_string_equal(text, "unchanged");
}

/* --- JSON -> event ------------------------------------------------------------------------- */

/* from_json of text; returns the code; on success *ret_event is decoded (caller destroys). */
static int
s_from(const char *text, const char *topic, ob_event_t **ret_event, char *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_event_from_json(text, strlen(text), topic, &buf, &len, err, OB_EVENT_JSON_ERR_MAX);
    if (rc == 0) {
        assert_int_equal(ob_event_decode(buf, len, ret_event), 0);
        free(buf);
    }
    return rc;
}

static void
test_from_json_round_trip(void **state)
{
    (void)state;
    ob_event_t e = s_event();
    static const uint8_t bin[] = {0x00, 0xff, 0x10};
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            e.data = bin;
            e.data_len = sizeof bin;
        }
        char *text = NULL;
        assert_int_equal(ob_event_to_json(&e, &text), 0);
        uint8_t *want = NULL, *got = NULL;
        size_t want_len = 0, got_len = 0;
        char err[OB_EVENT_JSON_ERR_MAX];
        assert_int_equal(ob_event_encode(&e, &want, &want_len), 0);
        assert_int_equal(
            ob_event_from_json(text, strlen(text), NULL, &got, &got_len, err, sizeof err), 0);
        /* the same bytes: JSON data comes back compact, as it went in */
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        free(text);
        free(want);
        free(got);
    }
}

/* The wall clock in µs, as ob_event_from_json reads it (time() reads a coarser clock that
   can lag it across a second's boundary). */
static uint64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
test_from_json_defaults(void **state)
{
    (void)state;
    char err[OB_EVENT_JSON_ERR_MAX];
    ob_event_t *e = NULL;
    uint64_t before = s_now_us();
    assert_int_equal(s_from("{\"type\": \"message.posted\"}", "oms.2", &e, err), 0);
    uint64_t after = s_now_us();
    assert_string_equal(e->topic, "oms.2");
    assert_int_equal(strlen(e->id), 32);
    assert_true(strspn(e->id, "0123456789abcdef") == 32);
    assert_true(e->time_us >= before && e->time_us <= after);
    assert_string_equal(e->source, "");
    assert_int_equal(e->data_len, 0);
    char first_id[64];
    strcpy(first_id, e->id);
    ob_event_destroy(&e);
    /* another id each time */
    assert_int_equal(s_from("{\"type\": \"message.posted\"}", "oms.2", &e, err), 0);
    assert_string_not_equal(e->id, first_id);
    ob_event_destroy(&e);

    /* the topic from the object; time_us; data as any JSON value, stored compact */
    assert_int_equal(s_from("{\"topic\": \"mp.1\", \"type\": \"command.post_message\", "
                            "\"time_us\": 5, \"data\": [1, {\"a\": \"b\"}]}",
                            NULL, &e, err),
                     0);
    assert_string_equal(e->topic, "mp.1");
    assert_int_equal(e->time_us, 5);
    assert_int_equal(e->data_len, strlen("[1,{\"a\":\"b\"}]"));
    assert_memory_equal(e->data, "[1,{\"a\":\"b\"}]", e->data_len);
    ob_event_destroy(&e);
    /* the same topic in both places is fine */
    assert_int_equal(s_from("{\"topic\": \"mp.1\", \"type\": \"t\"}", "mp.1", &e, err), 0);
    ob_event_destroy(&e);
}

static void
test_from_json_invalid(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *topic;
        int rc;
        const char *msg; /* a part of the message */
    } cases[] = {
        {"", "oms.1", OB_ERR_MALFORMED, "not JSON"},
        {"{\"type\": \"t\"", "oms.1", OB_ERR_MALFORMED, "not JSON"},
        {"[1]", "oms.1", OB_ERR_MALFORMED, "not a JSON object"},
        {"\"x\"", "oms.1", OB_ERR_MALFORMED, "not JSON"},
        {"{\"type\": \"t\", \"type\": \"u\"}", "oms.1", OB_ERR_MALFORMED, "duplicate"},
        {"{\"type\": \"t\", \"bogus\": 1}", "oms.1", OB_ERR_FIELD_TYPE, "unknown key \"bogus\""},
        {"{}", "oms.1", OB_ERR_MISSING_FIELD, "type"},
        {"{\"type\": \"t\"}", NULL, OB_ERR_MISSING_FIELD, "topic"},
        {"{\"type\": 5}", "oms.1", OB_ERR_FIELD_TYPE, "type"},
        {"{\"type\": \"t\", \"id\": null}", "oms.1", OB_ERR_FIELD_TYPE, "id"},
        {"{\"type\": \"t\", \"oms_id\": -1}", "oms.1", OB_ERR_FIELD_TYPE, "oms_id"},
        {"{\"type\": \"t\", \"oms_id\": 1.5}", "oms.1", OB_ERR_FIELD_TYPE, "oms_id"},
        {"{\"type\": \"t\", \"project_id\": \"7\"}", "oms.1", OB_ERR_FIELD_TYPE, "project_id"},
        {"{\"type\": \"t\", \"topic\": \"oms.2\"}", "oms.1", OB_ERR_INVALID_TOPIC, "oms.2"},
        {"{\"type\": \"t\"}", "OMS.1", OB_ERR_INVALID_TOPIC, "topic"},
        {"{\"type\": \"T T\"}", "oms.1", OB_ERR_INVALID_EVENT, "invalid event"},
        {"{\"type\": \"t\", \"id\": \"\"}", "oms.1", OB_ERR_INVALID_EVENT, "invalid event"},
        {"{\"type\": \"t\", \"time\": \"yesterday\"}", "oms.1", OB_ERR_INVALID_EVENT, "time"},
        {"{\"type\": \"t\", \"time\": \"1970-01-01T00:00:01Z\", \"time_us\": 2}", "oms.1",
         OB_ERR_INVALID_EVENT, "disagree"},
        {"{\"type\": \"t\", \"changes\": {}}", "oms.1", OB_ERR_FIELD_TYPE, "changes"},
        {"{\"type\": \"t\", \"changes\": [1]}", "oms.1", OB_ERR_FIELD_TYPE, "changes[0]"},
        {"{\"type\": \"t\", \"changes\": [{\"before\": \"a\"}]}", "oms.1", OB_ERR_MISSING_FIELD,
         "changes[0]"},
        {"{\"type\": \"t\", \"changes\": [{\"field\": \"a\", \"after\": 3}]}", "oms.1",
         OB_ERR_FIELD_TYPE, "changes[0]"},
        {"{\"type\": \"t\", \"changes\": [{\"field\": \"a\", \"x\": \"b\"}]}", "oms.1",
         OB_ERR_FIELD_TYPE, "changes[0]"},
        {"{\"type\": \"t\", \"data\": {\"base64\": \"abc\"}}", "oms.1", OB_ERR_INVALID_EVENT,
         "base64"},
        {"{\"type\": \"t\", \"data\": {\"base64\": \"a=bc\"}}", "oms.1", OB_ERR_INVALID_EVENT,
         "base64"},
        {"{\"type\": \"t\", \"data\": {\"base64\": \"ab!c\"}}", "oms.1", OB_ERR_INVALID_EVENT,
         "base64"},
        {"{\"type\": \"t\", \"source\": \"a\\u0000b\"}", "oms.1", OB_ERR_MALFORMED, "not JSON"},
        {"{\"type\": \"t\", \"topic\": \"dlq.x\"}", NULL, 0, ""}, /* the broker refuses it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[OB_EVENT_JSON_ERR_MAX] = "";
        ob_event_t *e = NULL;
        int rc = s_from(cases[i].text, cases[i].topic, &e, err);
        ob_event_destroy(&e);
        if (rc != cases[i].rc || !strstr(err, cases[i].msg))
            fail_msg("case %zu %s: rc %d (%s), want %d with \"%s\"", i, cases[i].text, rc, err,
                     cases[i].rc, cases[i].msg);
    }
    /* more than OB_CHANGES_MAX changes */
    char big[8192] = "{\"type\": \"t\", \"changes\": [";
    for (int i = 0; i <= OB_CHANGES_MAX; i++)
        strcat(big, i ? ",{\"field\":\"f\"}" : "{\"field\":\"f\"}");
    strcat(big, "]}");
    char err[OB_EVENT_JSON_ERR_MAX];
    ob_event_t *e = NULL;
    assert_int_equal(s_from(big, "oms.1", &e, err), OB_ERR_INVALID_EVENT);
    /* over OB_EVENT_JSON_MAX: refused before parsing */
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_from_json("{}", (size_t)OB_EVENT_JSON_MAX + 1, "oms.1", &buf, &len,
                                        err, sizeof err),
                     OB_ERR_TOO_LARGE);
    /* errlen 0: no message, the same code */
    assert_int_equal(ob_event_from_json("[", 1, "oms.1", &buf, &len, NULL, 0), OB_ERR_MALFORMED);
}

/* Every proper prefix of a valid event's JSON is refused (a byte at a time). */
static void
test_from_json_prefixes(void **state)
{
    (void)state;
    ob_event_t e = s_event();
    char *text = NULL;
    assert_int_equal(ob_event_to_json(&e, &text), 0);
    size_t n = strlen(text);
    for (size_t len = 0; len < n; len++) {
        uint8_t *buf = (uint8_t *)"unchanged";
        size_t out_len = 99;
        char err[OB_EVENT_JSON_ERR_MAX];
        assert_int_equal(ob_event_from_json(text, len, NULL, &buf, &out_len, err, sizeof err),
                         OB_ERR_MALFORMED);
        assert_int_equal(out_len, 99);
    }
    uint8_t *buf = NULL;
    size_t out_len = 0;
    assert_int_equal(ob_event_from_json(text, n, NULL, &buf, &out_len, NULL, 0), 0);
    free(buf);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_from_json_round_trip),
        cmocka_unit_test(test_from_json_defaults),
        cmocka_unit_test(test_from_json_invalid),
        cmocka_unit_test(test_from_json_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
