/*  test_store_record: the codec of a commit's journal record (broker/store_record.h): what
    a commit stored comes back as it was, and every malformed record is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/orderbus.h"
#include "store_record.h"

/* Encodes two stored items, a duplicate and a refused one between them, and three ops. */
static void
s_encode_sample(ob_store_record_buf_t *buf)
{
    ob_store_item_t items[4] = {
        {.topic = "oms.1",
         .topic_len = 5,
         .event_id = "a",
         .event_id_len = 1,
         .event = (const uint8_t *)"AAA",
         .event_len = 3,
         .seq = 7},
        {.topic = "oms.1",
         .topic_len = 5,
         .event_id = "b",
         .event_id_len = 1,
         .event = (const uint8_t *)"B",
         .event_len = 1,
         .seq = 3,
         .dup = 1},
        {.topic = "oms.2",
         .topic_len = 5,
         .event_id = "c",
         .event_id_len = 1,
         .event = (const uint8_t *)"C",
         .event_len = 1,
         .rc = OB_ERR_LIMIT},
        {.topic = "mp.9",
         .topic_len = 4,
         .event_id = "d",
         .event_id_len = 1,
         .event = (const uint8_t *)"DD",
         .event_len = 2,
         .seq = 1},
    };
    uint64_t stamps[4] = {100, 0, 0, 200};
    ob_store_op_t ops[3] = {
        {OB_STORE_PUT_SUB, "s1", NULL, (const uint8_t *)"rec", 3},
        {OB_STORE_PUT_POS, "s1", "oms.1", (const uint8_t *)"pos", 3},
        {OB_STORE_DEL_POS, "s1", "oms.2", NULL, 0},
    };
    size_t stored = 0;
    assert_int_equal(ob_store_record_encode(buf, 42, items, stamps, 4, ops, 3, &stored), 0);
    assert_int_equal(stored, 2);
}

static void
test_round_trip(void **state)
{
    (void)state;
    ob_store_record_buf_t buf = {0};
    ob_store_record_t rec = {0};
    s_encode_sample(&buf);
    assert_int_equal(ob_store_record_decode(buf.data, buf.len, &rec), 0);
    assert_int_equal(rec.now_us, 42);
    assert_int_equal(rec.count, 2); /* the duplicate and the refused item are not there */
    assert_int_equal(rec.items[0].seq, 7);
    assert_int_equal(rec.items[0].time_us, 100);
    assert_int_equal(rec.items[0].event_len, 3);
    assert_memory_equal(rec.items[0].event, "AAA", 3);
    assert_int_equal(rec.items[1].topic_len, 4);
    assert_memory_equal(rec.items[1].topic, "mp.9", 4);
    assert_int_equal(rec.items[1].time_us, 200);
    assert_int_equal(rec.op_count, 3);
    assert_int_equal(rec.ops[0].kind, OB_STORE_PUT_SUB);
    assert_string_equal(rec.ops[0].sub, "s1");
    assert_null(rec.ops[0].topic);
    assert_int_equal(rec.ops[0].value_len, 3);
    assert_string_equal(rec.ops[1].topic, "oms.1");
    assert_int_equal(rec.ops[2].kind, OB_STORE_DEL_POS);
    assert_null(rec.ops[2].value);

    /* the decoded record encodes to the same bytes */
    ob_store_record_buf_t again = {0};
    uint64_t stamps[2] = {rec.items[0].time_us, rec.items[1].time_us};
    size_t stored = 0;
    assert_int_equal(ob_store_record_encode(&again, rec.now_us, rec.items, stamps, rec.count,
                                            rec.ops, rec.op_count, &stored),
                     0);
    assert_int_equal(again.len, buf.len);
    assert_memory_equal(again.data, buf.data, buf.len);
    ob_store_record_buf_free(&again);
    ob_store_record_buf_free(&buf);
    ob_store_record_free(&rec);
}

/* Every prefix is truncated; a byte more is malformed. */
static void
test_truncated_and_trailing(void **state)
{
    (void)state;
    ob_store_record_buf_t buf = {0};
    ob_store_record_t rec = {0};
    s_encode_sample(&buf);
    for (size_t len = 0; len < buf.len; len++) {
        int rc = ob_store_record_decode(buf.data, len, &rec);
        assert_true(rc == OB_ERR_TRUNCATED || rc == OB_ERR_MALFORMED);
    }
    uint8_t *more = malloc(buf.len + 1);
    assert_non_null(more);
    memcpy(more, buf.data, buf.len);
    more[buf.len] = 0;
    assert_int_equal(ob_store_record_decode(more, buf.len + 1, &rec), OB_ERR_MALFORMED);
    free(more);
    ob_store_record_buf_free(&buf);
    ob_store_record_free(&rec);
}

/* A record with one item, changed at one field: each change is refused. */
static void
test_refusals(void **state)
{
    (void)state;
    /* version | now | 1 item | 0 ops | topic "oms.1" | id "a" | event 1 byte | seq 1 | time */
    static const uint8_t good[] = {1, 0, 0, 0,   0,   0,   0,   0,   9, 0, 0,   0, 1, 0, 0, 0,
                                   0, 0, 5, 'o', 'm', 's', '.', '1', 0, 1, 'a', 0, 0, 0, 1, 0,
                                   0, 0, 0, 0,   0,   0,   1,   0,   0, 0, 0,   0, 0, 0, 9, 'x'};
    ob_store_record_t rec = {0};
    uint8_t bad[sizeof good];
    assert_int_equal(ob_store_record_decode(good, sizeof good, &rec), 0);
    struct {
        size_t at;
        uint8_t value;
        int rc;
    } cases[] = {
        {0, 2, OB_ERR_MALFORMED},    /* an unknown version */
        {12, 9, OB_ERR_TRUNCATED},   /* an item count the bytes cannot hold */
        {22, 'X', OB_ERR_MALFORMED}, /* an invalid topic name */
        {26, 0, OB_ERR_MALFORMED},   /* a NUL in the id */
        {25, 0, OB_ERR_MALFORMED},   /* an empty id */
        {30, 0, OB_ERR_MALFORMED},   /* an empty event */
        {38, 0, OB_ERR_MALFORMED},   /* seq 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, good, sizeof good);
        bad[cases[i].at] = cases[i].value;
        assert_int_equal(ob_store_record_decode(bad, sizeof good, &rec), cases[i].rc);
    }

    /* ops: a DEL with a value, a PUT without one, a POS without a topic, an unknown kind */
    static const uint8_t head[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t ops[][16] = {
        {OB_STORE_DEL_SUB, 0, 1, 's', 0, 0, 0, 0, 0, 1, 'v'},
        {OB_STORE_PUT_SUB, 0, 1, 's', 0, 0, 0, 0, 0, 0},
        {OB_STORE_PUT_POS, 0, 1, 's', 0, 0, 0, 0, 0, 1, 'v'},
        {9, 0, 1, 's', 0, 0, 0, 0, 0, 0},
    };
    static const size_t op_len[] = {11, 10, 11, 10};
    for (size_t i = 0; i < 4; i++) {
        uint8_t record[sizeof head + 16];
        memcpy(record, head, sizeof head);
        memcpy(record + sizeof head, ops[i], op_len[i]);
        assert_int_equal(ob_store_record_decode(record, sizeof head + op_len[i], &rec),
                         OB_ERR_MALFORMED);
    }
    ob_store_record_free(&rec);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_truncated_and_trailing),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
