/*  test_wh_body: a delivery's body and a dead letter (adapters/webhook/wh_body.h), read back
    with Jansson: every field, the event's JSON as ob_event_to_json gives it, the answer
    kept (cut at a character, or in base64), a frame that does not decode, and the errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "orderbus/error.h"
#include "orderbus/event_json.h"
#include "wh_body.h"
#include "wh_sign.h"

#define S_TIME_US 1795913093123456ull /* 2026-11-29T00:44:53.123456Z */

static const ob_change_t s_changes[] = {{"status", "ready", "done"}};
static const char s_data[] = "{\"name\":\"caf\xc3\xa9\"}";

static ob_event_t
s_event(void)
{
    ob_event_t event = {.id = "evt-42",
                        .topic = "oms.7",
                        .type = "project_item.status_changed",
                        .time_us = S_TIME_US,
                        .source = "gateway",
                        .oms_id = 7,
                        .project_id = 11,
                        .project_item_id = 2,
                        .changes = s_changes,
                        .changes_count = 1,
                        .data = (const uint8_t *)s_data,
                        .data_len = sizeof s_data - 1};
    return event;
}

static void
test_target_valid(void **state)
{
    (void)state;
    assert_true(ob_wh_target_valid("oms1"));
    assert_true(ob_wh_target_valid("a_b-9"));
    char name[OB_WH_NAME_MAX + 2];
    memset(name, 'a', sizeof name);
    name[OB_WH_NAME_MAX] = '\0';
    assert_true(ob_wh_target_valid(name));
    name[OB_WH_NAME_MAX] = 'a';
    name[OB_WH_NAME_MAX + 1] = '\0';
    assert_false(ob_wh_target_valid(name));
    assert_false(ob_wh_target_valid(""));
    assert_false(ob_wh_target_valid("Oms"));
    assert_false(ob_wh_target_valid("a.b"));
    assert_false(ob_wh_target_valid("a b"));
    char topic[OB_TOPIC_MAX + 1];
    assert_int_equal(ob_wh_dlq_topic("oms1", topic), 0);
    assert_string_equal(topic, "webhook-dlq.oms1");
    assert_int_equal(ob_wh_dlq_topic("a.b", topic), OB_ERR_INVALID_ARGUMENT);
}

static void
test_body(void **state)
{
    (void)state;
    ob_event_t event = s_event();
    ob_wh_meta_t meta = {"oms1", "oms.7", 12, 3};
    char *body = NULL;
    size_t len = 0;
    assert_int_equal(ob_wh_body(&event, &meta, &body, &len), 0);
    assert_int_equal(strlen(body), len);
    json_error_t error;
    json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &error);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "type")),
                        "project_item.status_changed");
    assert_string_equal(json_string_value(json_object_get(root, "timestamp")),
                        "2026-11-29T00:44:53.123456Z");
    json_t *delivery = json_object_get(root, "delivery");
    assert_string_equal(json_string_value(json_object_get(delivery, "target")), "oms1");
    assert_string_equal(json_string_value(json_object_get(delivery, "subscription")),
                        "webhook-oms1");
    assert_string_equal(json_string_value(json_object_get(delivery, "topic")), "oms.7");
    assert_int_equal(json_integer_value(json_object_get(delivery, "seq")), 12);
    assert_int_equal(json_integer_value(json_object_get(delivery, "attempt")), 3);
    assert_int_equal(json_object_size(root), 4);
    assert_int_equal(json_object_size(delivery), 5);
    /* "data" is the event exactly as ob_event_to_json writes it */
    char *expected = NULL;
    assert_int_equal(ob_event_to_json(&event, &expected), 0);
    assert_non_null(strstr(body, expected));
    json_t *data = json_object_get(root, "data");
    assert_string_equal(json_string_value(json_object_get(data, "id")), "evt-42");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "data"), "name")),
                        "caf\xc3\xa9");
    free(expected);
    json_decref(root);
    free(body);

    /* errors; the outputs untouched */
    body = (char *)"untouched";
    ob_wh_meta_t bad[] = {
        {"Oms", "oms.7", 1, 1},   {"oms1", "oms.8", 1, 1}, /* not the event's topic */
        {"oms1", "oms..7", 1, 1}, {"oms1", "oms.7", 0, 1}, {"oms1", "oms.7", 1, 0},
        {NULL, "oms.7", 1, 1},    {"oms1", NULL, 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ob_wh_body(&event, &bad[i], &body, &len), OB_ERR_INVALID_ARGUMENT);
    event.time_us = UINT64_MAX; /* past year 9999 */
    assert_int_equal(ob_wh_body(&event, &meta, &body, &len), OB_ERR_INVALID_EVENT);
    assert_string_equal(body, "untouched");
}

/* Decodes the dead letter in buf (len bytes) and returns its data as JSON; *ret_event gets
   the decoded event. */
static json_t *
s_letter(const uint8_t *buf, size_t len, ob_event_t **ret_event)
{
    assert_int_equal(ob_event_decode(buf, len, ret_event), 0);
    json_t *data = json_loadb((const char *)(*ret_event)->data, (*ret_event)->data_len,
                              JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(data);
    return data;
}

static void
test_dead_letter(void **state)
{
    (void)state;
    ob_event_t event = s_event();
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    assert_int_equal(ob_event_encode(&event, &frame, &frame_len), 0);
    ob_wh_meta_t meta = {"oms1", "oms.7", 12, 5};
    static const char answer[] = "{\"error\":\"bad field\"}";
    ob_wh_dead_t dead = {"HTTP 400", 400, answer, sizeof answer - 1, 5, 0};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &dead, S_TIME_US + 1, &buf, &len),
                     0);
    ob_event_t *letter = NULL;
    json_t *data = s_letter(buf, len, &letter);
    char id[OB_WH_ID_TEXT];
    assert_int_equal(ob_wh_id("oms.7", "evt-42", 6, id), 0);
    assert_string_equal(letter->id, id);
    assert_string_equal(letter->topic, "webhook-dlq.oms1");
    assert_string_equal(letter->type, OB_WH_TYPE_DEAD_LETTER);
    assert_string_equal(letter->source, "orderbus-webhook");
    assert_int_equal(letter->time_us, S_TIME_US + 1);
    assert_int_equal(letter->oms_id, 7);
    assert_int_equal(letter->project_id, 11);
    assert_int_equal(letter->project_item_id, 2);
    assert_string_equal(json_string_value(json_object_get(data, "target")), "oms1");
    assert_string_equal(json_string_value(json_object_get(data, "topic")), "oms.7");
    assert_int_equal(json_integer_value(json_object_get(data, "seq")), 12);
    assert_int_equal(json_integer_value(json_object_get(data, "attempts")), 5);
    assert_string_equal(json_string_value(json_object_get(data, "webhook_id")), id);
    assert_string_equal(json_string_value(json_object_get(data, "reason")), "HTTP 400");
    assert_int_equal(json_integer_value(json_object_get(data, "status")), 400);
    assert_string_equal(json_string_value(json_object_get(data, "answer")), answer);
    json_t *original = json_object_get(data, "event");
    assert_string_equal(json_string_value(json_object_get(original, "id")), "evt-42");
    assert_string_equal(json_string_value(json_object_get(original, "type")),
                        "project_item.status_changed");
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);

    /* a long UTF-8 answer is cut before a character that would be split; no answer at all */
    char long_answer[OB_WH_ANSWER_KEEP + 16];
    memset(long_answer, 'a', sizeof long_answer);
    memcpy(long_answer + OB_WH_ANSWER_KEEP - 1, "\xe2\x82\xac", 3); /* euro across the cut */
    ob_wh_dead_t cut = {"HTTP 422", 422, long_answer, sizeof long_answer, 1, 0};
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &cut, S_TIME_US, &buf, &len), 0);
    data = s_letter(buf, len, &letter);
    assert_int_equal(strlen(json_string_value(json_object_get(data, "answer"))),
                     OB_WH_ANSWER_KEEP - 1);
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);
    ob_wh_dead_t none = {"timed out after 5 attempts", 0, NULL, 0, 5, 0};
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &none, S_TIME_US, &buf, &len), 0);
    data = s_letter(buf, len, &letter);
    assert_string_equal(json_string_value(json_object_get(data, "answer")), "");
    assert_int_equal(json_integer_value(json_object_get(data, "status")), 0);
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);

    /* an answer that is not UTF-8 is kept in base64 */
    static const char binary[] = "\xff\xfe\x00x";
    ob_wh_dead_t raw = {"HTTP 400", 400, binary, 4, 1, 0};
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &raw, S_TIME_US, &buf, &len), 0);
    data = s_letter(buf, len, &letter);
    assert_null(json_object_get(data, "answer"));
    assert_string_equal(json_string_value(json_object_get(data, "answer_base64")), "//4AeA==");
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);

    /* omit_event: "event" is null, the ids are still copied */
    dead.omit_event = 1;
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &dead, S_TIME_US, &buf, &len), 0);
    data = s_letter(buf, len, &letter);
    assert_true(json_is_null(json_object_get(data, "event")));
    assert_int_equal(letter->project_id, 11);
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);
    dead.omit_event = 0;

    /* a frame that does not decode: base64, and an id from its place */
    static const uint8_t junk[] = {0xc1, 0x00, 0x01};
    assert_int_equal(ob_wh_dead_letter(junk, sizeof junk, &meta, &dead, S_TIME_US, &buf, &len), 0);
    data = s_letter(buf, len, &letter);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(data, "event"), "base64")), "wQAB");
    assert_int_equal(ob_wh_id("oms.7", "#12", 3, id), 0);
    assert_string_equal(letter->id, id);
    assert_int_equal(letter->oms_id, 0);
    json_decref(data);
    ob_event_destroy(&letter);
    free(buf);

    /* errors */
    buf = NULL;
    ob_wh_meta_t bad_meta = {"a.b", "oms.7", 12, 1};
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &bad_meta, &dead, S_TIME_US, &buf, &len),
                     OB_ERR_INVALID_ARGUMENT);
    ob_wh_dead_t no_reason = {NULL, 400, NULL, 0, 1, 0};
    assert_int_equal(ob_wh_dead_letter(frame, frame_len, &meta, &no_reason, S_TIME_US, &buf, &len),
                     OB_ERR_INVALID_ARGUMENT);
    assert_null(buf);
    free(frame);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_valid),
        cmocka_unit_test(test_body),
        cmocka_unit_test(test_dead_letter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
