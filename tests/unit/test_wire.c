/*  test_wire: header and body frames (orderbus/wire.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

/* --- fixtures ---------------------------------------------------------------------------- */

/* An OK result: {"name": "oms.7", "last_seq": 42, "ids": [1, 2]}, as a broker would pack it. */
static const uint8_t s_result_map[] = {0x83, 0xa4, 'n',  'a', 'm', 'e', 0xa5, 'o',  'm', 's',
                                       '.',  '7',  0xa8, 'l', 'a', 's', 't',  '_',  's', 'e',
                                       'q',  0x2a, 0xa3, 'i', 'd', 's', 0x92, 0x01, 0x02};

/* An OK result that is an array: [{"sub": "a"}, {"sub": "b"}]. */
static const uint8_t s_result_array[] = {0x92, 0x81, 0xa3, 's', 'u', 'b',  0xa1, 'a',
                                         0x81, 0xa3, 's',  'u', 'b', 0xa1, 'b'};

/* Returns a valid message of each command, as a client or broker would fill it, with every
   field the command carries set, optional ones away from their defaults. */
static ob_wire_msg_t
s_msg(uint8_t command)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, command);
    switch (command) {
    case OB_CMD_HELLO:
        strcpy(msg.name, "webhook-adapter");
        msg.heartbeat_ms = 2500;
        msg.max_run = OB_DELIVER_RUN_MAX;
        break;
    case OB_CMD_WELCOME:
        strcpy(msg.version, "0.1.0");
        strcpy(msg.session, "5f1c0e6a9b3d4e21");
        msg.heartbeat_ms = OB_HEARTBEAT_MS_DEFAULT;
        msg.max_event = OB_EVENT_MAX_DEFAULT;
        msg.max_pending = OB_PENDING_DEFAULT;
        break;
    case OB_CMD_ERROR:
        msg.req = 42;
        msg.code = ob_error_to_wire(OB_ERR_INVALID_TOPIC);
        strcpy(msg.reason, "invalid topic name: \"Oms\"");
        break;
    case OB_CMD_OK:
        msg.req = 9;
        msg.result = s_result_map;
        msg.result_len = sizeof s_result_map;
        msg.more = 1;
        break;
    case OB_CMD_PUBLISH:
        msg.req = 1ull << 40;
        break;
    case OB_CMD_CONFIRM:
        msg.req = 7;
        msg.seq = 123456789;
        msg.dup = 1;
        msg.count = 300;
        break;
    case OB_CMD_SUBSCRIBE:
        msg.req = 11;
        strcpy(msg.sub, "orders-east_1");
        msg.pattern_count = 3;
        strcpy(msg.patterns[0], "oms.*.project_item");
        strcpy(msg.patterns[1], "oms.7.#");
        strcpy(msg.patterns[2], "crm.customer");
        msg.type_count = 2;
        strcpy(msg.types[0], "project.created");
        strcpy(msg.types[1], "project_item.updated");
        msg.start = OB_START_SEQ;
        msg.start_seq = 12345;
        msg.start_time = 1700000000000000ull; /* sent and kept, though start is seq */
        msg.credit = 64;
        msg.ack_wait_ms = 5000;
        msg.max_attempts = 0;
        msg.backoff_ms = 250;
        msg.attach = 1;
        break;
    case OB_CMD_SUBSCRIBED:
        msg.req = 11;
        strcpy(msg.sub, "eph-0123456789abcdef");
        msg.created = 1;
        break;
    case OB_CMD_DELIVER:
        strcpy(msg.sub, "orders");
        strcpy(msg.topic, "oms.7.project_item");
        msg.seq = 1ull << 33;
        msg.attempt = 3;
        msg.time = 1700000000123456ull;
        msg.skipped = 17;
        msg.count = 3; /* a run: seq .. seq + 2 */
        msg.times[0] = msg.time;
        msg.times[1] = msg.time; /* stored in the same µs */
        msg.times[2] = msg.time + 250;
        break;
    case OB_CMD_ACK:
        strcpy(msg.sub, "orders");
        strcpy(msg.topic, "oms.7.project_item");
        msg.seq = 42;
        msg.upto = 1;
        break;
    case OB_CMD_NACK:
        strcpy(msg.sub, "orders");
        strcpy(msg.topic, "oms.7.project_item");
        msg.seq = 43;
        msg.delay_ms = 1500;
        break;
    case OB_CMD_UNSUBSCRIBE:
        msg.req = 12;
        strcpy(msg.sub, "orders");
        break;
    case OB_CMD_TOPICS:
        msg.req = 13;
        strcpy(msg.after, "oms.7");
        break;
    case OB_CMD_SUBS:
        msg.req = 14;
        strcpy(msg.after, "orders");
        break;
    case OB_CMD_SUB_INFO:
        msg.req = 15;
        strcpy(msg.sub, "orders");
        strcpy(msg.after, "oms.7.project_item");
        break;
    case OB_CMD_SUB_REPOSITION:
        msg.req = 16;
        strcpy(msg.sub, "orders");
        msg.start = OB_START_TIME;
        msg.start_time = 1699999999000000ull;
        break;
    case OB_CMD_SUB_DELETE:
        msg.req = 17;
        strcpy(msg.sub, "orders");
        break;
    case OB_CMD_FETCH:
        msg.req = 18;
        strcpy(msg.topic, "oms.7");
        msg.seq = 99;
        break;
    default:
        break;
    }
    return msg;
}

static const uint8_t s_commands[] = {
    OB_CMD_HELLO,   OB_CMD_WELCOME,  OB_CMD_PING,           OB_CMD_PONG,        OB_CMD_ERROR,
    OB_CMD_OK,      OB_CMD_PUBLISH,  OB_CMD_CONFIRM,        OB_CMD_SUBSCRIBE,   OB_CMD_SUBSCRIBED,
    OB_CMD_DELIVER, OB_CMD_ACK,      OB_CMD_NACK,           OB_CMD_UNSUBSCRIBE, OB_CMD_TOPICS,
    OB_CMD_SUBS,    OB_CMD_SUB_INFO, OB_CMD_SUB_REPOSITION, OB_CMD_SUB_DELETE,  OB_CMD_FETCH};

#define T_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* Sets *ret_msg to the i-th further valid message: the other shapes a command takes
   (optional fields absent, other start values, every cap reached). Returns 0 past the
   last one. */
static int
s_variant(size_t i, ob_wire_msg_t *ret_msg)
{
    ob_wire_msg_t msg;
    switch (i) {
    case 0: /* ERROR 17 about a deleted subscription: sub, no req */
        msg = s_msg(OB_CMD_ERROR);
        msg.req = 0;
        msg.code = ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION);
        strcpy(msg.sub, "orders");
        break;
    case 1: /* OK without result or more */
        ob_wire_msg_init(&msg, OB_CMD_OK);
        msg.req = 1;
        break;
    case 2: /* OK with an array result and no more */
        ob_wire_msg_init(&msg, OB_CMD_OK);
        msg.req = UINT64_MAX;
        msg.result = s_result_array;
        msg.result_len = sizeof s_result_array;
        break;
    case 3: /* SUBSCRIBE with every optional field at its default: ephemeral */
        ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
        msg.req = 1;
        msg.pattern_count = 1;
        strcpy(msg.patterns[0], "a");
        break;
    case 4: /* SUBSCRIBE from time 0, which must still be sent */
        msg = s_msg(OB_CMD_SUBSCRIBE);
        msg.start = OB_START_TIME;
        msg.start_seq = 0;
        msg.start_time = 0;
        break;
    case 5: /* SUBSCRIBE at every cap */
        ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
        msg.req = UINT64_MAX;
        memset(msg.sub, 'z', OB_SUB_NAME_MAX);
        msg.pattern_count = OB_SUB_PATTERNS_MAX;
        for (size_t k = 0; k < OB_SUB_PATTERNS_MAX; k++) {
            memset(msg.patterns[k], 'p', OB_TOPIC_MAX);
            msg.patterns[k][0] = (char)('a' + k);
        }
        msg.type_count = OB_SUB_TYPES_MAX;
        for (size_t k = 0; k < OB_SUB_TYPES_MAX; k++) {
            memset(msg.types[k], 't', OB_EVENT_TYPE_MAX);
            msg.types[k][0] = "0123456789abcdefghijklmnopqrstuv"[k]; /* 32 distinct types */
        }
        msg.start = OB_START_EARLIEST;
        msg.credit = OB_CREDIT_MAX;
        msg.ack_wait_ms = OB_DELAY_MS_MAX;
        msg.max_attempts = OB_MAX_ATTEMPTS_MAX;
        msg.backoff_ms = OB_DELAY_MS_MAX;
        break;
    case 6: /* SUBSCRIBE at every lower bound */
        msg = s_msg(OB_CMD_SUBSCRIBE);
        msg.start = OB_START_NEW;
        msg.start_seq = 0;
        msg.start_time = 0;
        msg.credit = 1;
        msg.ack_wait_ms = OB_ACK_WAIT_MS_MIN;
        msg.max_attempts = 0;
        msg.backoff_ms = 0;
        break;
    case 7: /* SUB_REPOSITION to a seq */
        msg = s_msg(OB_CMD_SUB_REPOSITION);
        msg.start = OB_START_SEQ;
        msg.start_seq = 1;
        msg.start_time = 0;
        break;
    case 8: /* SUB_REPOSITION to the earliest */
        msg = s_msg(OB_CMD_SUB_REPOSITION);
        msg.start = OB_START_EARLIEST;
        msg.start_time = 0;
        break;
    case 9: /* SUB_REPOSITION to time 0, which must still be sent */
        msg = s_msg(OB_CMD_SUB_REPOSITION);
        msg.start_time = 0;
        break;
    case 10: /* DELIVER, ACK, NACK without their optional fields */
        msg = s_msg(OB_CMD_DELIVER);
        msg.skipped = 0;
        msg.count = 0;
        msg.attempt = UINT32_MAX;
        msg.time = 0;
        break;
    case 11:
        msg = s_msg(OB_CMD_ACK);
        msg.upto = 0;
        break;
    case 12:
        msg = s_msg(OB_CMD_NACK);
        msg.delay_ms = OB_DELAY_MS_MAX;
        break;
    case 13:
        msg = s_msg(OB_CMD_NACK);
        msg.delay_ms = 0;
        break;
    case 14: /* lists from the start, and after the longest name */
        msg = s_msg(OB_CMD_TOPICS);
        msg.after[0] = '\0';
        break;
    case 15:
        msg = s_msg(OB_CMD_SUB_INFO);
        memset(msg.after, 'x', OB_TOPIC_MAX);
        memset(msg.sub, '-', OB_SUB_NAME_MAX);
        break;
    case 16: /* SUBSCRIBED of an existing subscription */
        msg = s_msg(OB_CMD_SUBSCRIBED);
        msg.created = 0;
        break;
    case 17: /* FETCH of the longest topic */
        msg = s_msg(OB_CMD_FETCH);
        memset(msg.topic, 'f', OB_TOPIC_MAX);
        msg.seq = UINT64_MAX;
        break;
    case 18: /* HELLO that takes one delivery per DELIVER, said explicitly */
        msg = s_msg(OB_CMD_HELLO);
        msg.heartbeat_ms = 0;
        msg.max_run = 1;
        break;
    case 19: /* a single DELIVER that reports skipped events */
        msg = s_msg(OB_CMD_DELIVER);
        msg.count = 0;
        memset(msg.times, 0, sizeof msg.times);
        break;
    case 20: /* the shortest run, from time 0 */
        msg = s_msg(OB_CMD_DELIVER);
        msg.skipped = 0;
        msg.seq = 1;
        msg.time = 0;
        msg.count = 2;
        msg.times[0] = 0;
        msg.times[1] = 1;
        break;
    case 21: /* the longest run, ending at the last seq, its times in every msgpack width */
        msg = s_msg(OB_CMD_DELIVER);
        msg.count = OB_DELIVER_RUN_MAX;
        msg.seq = UINT64_MAX - (OB_DELIVER_RUN_MAX - 1);
        for (size_t k = 0; k < OB_DELIVER_RUN_MAX; k++)
            msg.times[k] = k < 60 ? 1ull << k : UINT64_MAX - (OB_DELIVER_RUN_MAX - 1 - k);
        msg.time = msg.times[0];
        break;
    case 22: /* FETCH of the longest range, from a time */
        msg = s_msg(OB_CMD_FETCH);
        msg.count = OB_FETCH_RANGE_MAX;
        msg.time = UINT64_MAX;
        break;
    case 23: /* FETCH of a range of one, from a seq */
        msg = s_msg(OB_CMD_FETCH);
        msg.count = 1;
        msg.time = 0;
        break;
    default:
        return 0;
    }
    *ret_msg = msg;
    return 1;
}

/* Asserts that every field of a and b is the same (result: the same bytes). */
static void
s_assert_same(const ob_wire_msg_t *a, const ob_wire_msg_t *b)
{
    assert_int_equal(a->command, b->command);
    assert_true(a->req == b->req);
    assert_true(a->seq == b->seq);
    assert_int_equal(a->dup, b->dup);
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->heartbeat_ms, b->heartbeat_ms);
    assert_int_equal(a->max_run, b->max_run);
    assert_true(a->max_event == b->max_event);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->session, b->session);
    assert_string_equal(a->version, b->version);
    assert_string_equal(a->sub, b->sub);
    assert_int_equal(a->pattern_count, b->pattern_count);
    for (size_t i = 0; i < a->pattern_count && i < OB_SUB_PATTERNS_MAX; i++)
        assert_string_equal(a->patterns[i], b->patterns[i]);
    assert_int_equal(a->type_count, b->type_count);
    for (size_t i = 0; i < a->type_count && i < OB_SUB_TYPES_MAX; i++)
        assert_string_equal(a->types[i], b->types[i]);
    assert_int_equal(a->start, b->start);
    assert_true(a->start_seq == b->start_seq);
    assert_true(a->start_time == b->start_time);
    assert_int_equal(a->credit, b->credit);
    assert_int_equal(a->ack_wait_ms, b->ack_wait_ms);
    assert_int_equal(a->max_attempts, b->max_attempts);
    assert_int_equal(a->backoff_ms, b->backoff_ms);
    assert_int_equal(a->created, b->created);
    assert_string_equal(a->topic, b->topic);
    assert_int_equal(a->attempt, b->attempt);
    assert_true(a->time == b->time);
    assert_true(a->skipped == b->skipped);
    /* a DELIVER run's times; unused (and not sent, nor written by the decoder) otherwise:
       a FETCH of a range has a count too */
    for (size_t i = 0;
         a->command == OB_CMD_DELIVER && a->count > 1 && i < a->count && i < OB_DELIVER_RUN_MAX;
         i++)
        if (a->times[i] != b->times[i])
            fail_msg("times[%zu]: %llu != %llu", i, (unsigned long long)a->times[i],
                     (unsigned long long)b->times[i]);
    assert_int_equal(a->upto, b->upto);
    assert_int_equal(a->delay_ms, b->delay_ms);
    assert_string_equal(a->after, b->after);
    assert_int_equal(a->result_len, b->result_len);
    assert_int_equal(a->result == NULL, b->result == NULL);
    if (a->result_len)
        assert_memory_equal(a->result, b->result, a->result_len);
    assert_int_equal(a->more, b->more);
}

/* The private body copies of the last two s_decode calls: a decoded OK's result points
   into its copy, and a test may compare two decoded messages. */
static uint8_t *s_kept[2];
static size_t s_kept_next;

/* Decodes private copies of header and body (so that ASan sees any over-read). The body
   copy lives until the second s_decode after this one (or s_release_kept). */
static int
s_decode(const uint8_t *header, size_t header_len, const void *body, size_t body_len,
         ob_wire_msg_t *ret_msg)
{
    uint8_t *h = malloc(header_len ? header_len : 1);
    uint8_t *b = malloc(body_len ? body_len : 1);
    assert_non_null(h);
    assert_non_null(b);
    if (header_len)
        memcpy(h, header, header_len);
    if (body_len)
        memcpy(b, body, body_len);
    int rc = ob_wire_decode(h, header_len, b, body_len, ret_msg);
    free(h);
    free(s_kept[s_kept_next]);
    s_kept[s_kept_next] = b;
    s_kept_next = (s_kept_next + 1) % 2;
    return rc;
}

/* Frees the body copies s_decode kept. */
static int
s_release_kept(void **state)
{
    (void)state;
    free(s_kept[0]);
    free(s_kept[1]);
    s_kept[0] = s_kept[1] = NULL;
    return 0;
}

/* --- round trips ------------------------------------------------------------------------- */

/* Encodes msg, decodes it back and checks it is the same; checks that every proper prefix
   of the body is interrupted and that every buffer too small is refused cleanly. */
static void
s_round_trip(const ob_wire_msg_t *msg)
{
    ob_wire_msg_t decoded;
    uint8_t header[OB_HEADER_SIZE];
    static uint8_t body[OB_BODY_MAX];
    size_t len = 0;
    const char *name = ob_command_name(msg->command);

    ob_wire_encode_header(msg, header);
    assert_int_equal(header[0], 'O');
    assert_int_equal(header[1], 'B');
    assert_int_equal(header[2], 1);
    assert_int_equal(header[3], msg->command);
    int rc = ob_wire_encode_body(msg, body, sizeof body, &len);
    if (rc)
        fail_msg("%s: encode gives %d (%s)", name, rc, ob_strerror(rc));
    if ((rc = s_decode(header, sizeof header, body, len, &decoded)))
        fail_msg("%s: decode gives %d (%s)", name, rc, ob_strerror(rc));
    s_assert_same(msg, &decoded);

    /* Every proper prefix of the body is interrupted, and the header is known by then. */
    for (size_t n = 0; n < len; n++) {
        rc = s_decode(header, sizeof header, body, n, &decoded);
        if (rc != OB_ERR_TRUNCATED)
            fail_msg("%s: prefix %zu/%zu gives %d (%s)", name, n, len, rc, ob_strerror(rc));
        assert_int_equal(decoded.command, msg->command);
    }

    /* Every buffer too small for the body is refused cleanly. */
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        size_t written = 12345;
        assert_non_null(small);
        assert_int_equal(ob_wire_encode_body(msg, small, cap, &written), OB_ERR_TOO_LARGE);
        assert_int_equal(written, 12345);
        free(small);
    }
}

static void
test_round_trip_every_command(void **state)
{
    (void)state;
    for (size_t i = 0; i < T_NCOMMANDS; i++) {
        ob_wire_msg_t msg = s_msg(s_commands[i]);
        s_round_trip(&msg);
    }
    ob_wire_msg_t msg;
    for (size_t i = 0; s_variant(i, &msg); i++)
        s_round_trip(&msg);
}

static void
test_golden_bodies(void **state)
{
    (void)state;
    uint8_t body[64];
    size_t len = 0;

    ob_wire_msg_t msg = s_msg(OB_CMD_PING);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(body[0], 0x80);

    static const uint8_t confirm[] = {0x83, 0xa3, 'r',  'e',  'q', 0x07, 0xa3, 's',
                                      'e',  'q',  0x01, 0xa3, 'd', 'u',  'p',  0xc2};
    msg = s_msg(OB_CMD_CONFIRM);
    msg.seq = 1;
    msg.dup = 0;
    msg.count = 1; /* a run of one is sent without count */
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof confirm);
    assert_memory_equal(body, confirm, len);

    /* Optional fields at 0 are left out: HELLO without heartbeat or max_run, ERROR without
       req. */
    static const uint8_t hello[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa0};
    msg = s_msg(OB_CMD_HELLO);
    msg.name[0] = '\0';
    msg.heartbeat_ms = 0;
    msg.max_run = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof hello);
    assert_memory_equal(body, hello, len);
    /* max_run, when set, after name (and heartbeat_ms) */
    static const uint8_t hello_run[] = {0x82, 0xa4, 'n', 'a', 'm', 'e', 0xa0, 0xa7,
                                        'm',  'a',  'x', '_', 'r', 'u', 'n',  0x40};
    msg.max_run = OB_DELIVER_RUN_MAX;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof hello_run);
    assert_memory_equal(body, hello_run, len);

    static const uint8_t error[] = {0x82, 0xa4, 'c', 'o', 'd', 'e',  0x0e, 0xa6, 'r',
                                    'e',  'a',  's', 'o', 'n', 0xa2, 'n',  'o'};
    msg = s_msg(OB_CMD_ERROR);
    msg.req = 0;
    msg.code = ob_error_to_wire(OB_ERR_CLOSED);
    strcpy(msg.reason, "no");
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof error);
    assert_memory_equal(body, error, len);

    ob_wire_msg_t decoded;
    static const uint8_t header[] = {'O', 'B', 1, OB_CMD_ERROR};
    assert_int_equal(s_decode(header, 4, error, sizeof error, &decoded), 0);
    assert_int_equal(decoded.req, 0);
    assert_int_equal(ob_error_from_wire(decoded.code), OB_ERR_CLOSED);

    /* ERROR 17 names the subscription after the reason. */
    static const uint8_t error_sub[] = {0x83, 0xa4, 'c', 'o', 'd', 'e',  0x11,
                                        0xa6, 'r',  'e', 'a', 's', 'o',  'n',
                                        0xa0, 0xa3, 's', 'u', 'b', 0xa1, 'x'};
    msg = s_msg(OB_CMD_ERROR);
    msg.req = 0;
    msg.code = ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION);
    msg.reason[0] = '\0';
    strcpy(msg.sub, "x");
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof error_sub);
    assert_memory_equal(body, error_sub, len);

    /* A SUBSCRIBE at its defaults is req and patterns only. */
    static const uint8_t subscribe[] = {0x82, 0xa3, 'r', 'e', 'q', 0x01, 0xa8, 'p',  'a',
                                        't',  't',  'e', 'r', 'n', 's',  0x91, 0xa1, 'a'};
    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
    msg.req = 1;
    msg.pattern_count = 1;
    strcpy(msg.patterns[0], "a");
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof subscribe);
    assert_memory_equal(body, subscribe, len);

    /* An OK without result is req alone; with one, the result's bytes follow its key. */
    static const uint8_t ok[] = {0x81, 0xa3, 'r', 'e', 'q', 0x05};
    ob_wire_msg_init(&msg, OB_CMD_OK);
    msg.req = 5;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof ok);
    assert_memory_equal(body, ok, len);
    static const uint8_t ok_result[] = {0x83, 0xa3, 'r', 'e',  'q',  0x05, 0xa6, 'r', 'e', 's',
                                        'u',  'l',  't', 0x90, 0xa4, 'm',  'o',  'r', 'e', 0xc3};
    static const uint8_t empty_array[] = {0x90};
    msg.result = empty_array;
    msg.result_len = sizeof empty_array;
    msg.more = 7;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof ok_result);
    assert_memory_equal(body, ok_result, len);

    /* DELIVER without skipped; ACK with upto. */
    static const uint8_t deliver[] = {0x85, 0xa3, 's',  'u', 'b',  0xa1, 's',  0xa5, 't',
                                      'o',  'p',  'i',  'c', 0xa1, 't',  0xa3, 's',  'e',
                                      'q',  0x01, 0xa7, 'a', 't',  't',  'e',  'm',  'p',
                                      't',  0x02, 0xa4, 't', 'i',  'm',  'e',  0x00};
    ob_wire_msg_init(&msg, OB_CMD_DELIVER);
    strcpy(msg.sub, "s");
    strcpy(msg.topic, "t");
    msg.seq = 1;
    msg.attempt = 2;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof deliver);
    assert_memory_equal(body, deliver, len);
    /* A run of 1 is a single DELIVER; a run of 2 adds count and times, in that order. */
    msg.count = 1;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof deliver);
    assert_memory_equal(body, deliver, len);
    static const uint8_t deliver_run[] = {
        0x87, 0xa3, 's', 'u', 'b', 0xa1, 's',  0xa5, 't',  'o',  'p', 'i', 'c', 0xa1,
        't',  0xa3, 's', 'e', 'q', 0x01, 0xa7, 'a',  't',  't',  'e', 'm', 'p', 't',
        0x02, 0xa4, 't', 'i', 'm', 'e',  0x05, 0xa5, 'c',  'o',  'u', 'n', 't', 0x02,
        0xa5, 't',  'i', 'm', 'e', 's',  0x92, 0x05, 0xcd, 0x01, 0x00};
    msg.time = 5;
    msg.count = 2;
    msg.times[0] = 5;
    msg.times[1] = 256;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof deliver_run);
    assert_memory_equal(body, deliver_run, len);
    msg.count = 0;
    static const uint8_t ack[] = {0x84, 0xa3, 's',  'u', 'b',  0xa1, 's',  0xa5, 't',
                                  'o',  'p',  'i',  'c', 0xa1, 't',  0xa3, 's',  'e',
                                  'q',  0x01, 0xa4, 'u', 'p',  't',  'o',  0xc3};
    msg.command = OB_CMD_ACK;
    msg.attempt = 0;
    msg.upto = 1;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof ack);
    assert_memory_equal(body, ack, len);

    /* FETCH of a range: count, then time, after seq; a single FETCH is as before. */
    static const uint8_t fetch[] = {0x85, 0xa3, 'r', 'e',  'q',  0x03, 0xa5, 't',  'o',  'p', 'i',
                                    'c',  0xa1, 't', 0xa3, 's',  'e',  'q',  0x01, 0xa5, 'c', 'o',
                                    'u',  'n',  't', 0xcc, 0x80, 0xa4, 't',  'i',  'm',  'e', 0x09};
    ob_wire_msg_init(&msg, OB_CMD_FETCH);
    msg.req = 3;
    strcpy(msg.topic, "t");
    msg.seq = 1;
    msg.count = 128;
    msg.time = 9;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof fetch);
    assert_memory_equal(body, fetch, len);
    static const uint8_t fetch_header[] = {'O', 'B', 1, OB_CMD_FETCH};
    assert_int_equal(s_decode(fetch_header, 4, fetch, sizeof fetch, &decoded), 0);
    assert_int_equal(decoded.count, 128);
    assert_true(decoded.time == 9);
    msg.count = 0;
    msg.time = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, 19); /* the three pairs of a single FETCH */
    assert_int_equal(body[0], 0x83);
}

static void
test_reason_truncated(void **state)
{
    (void)state;
    ob_wire_msg_t msg = s_msg(OB_CMD_ERROR);
    ob_wire_msg_t decoded;
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[1024];
    size_t len = 0;

    /* Not terminated within its array: cut to OB_REASON_MAX. */
    memset(msg.reason, 'x', sizeof msg.reason);
    ob_wire_encode_header(&msg, header);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_int_equal(strlen(decoded.reason), OB_REASON_MAX);

    /* A two-byte character across the cut is dropped whole. */
    memset(msg.reason, 'x', sizeof msg.reason);
    msg.reason[OB_REASON_MAX - 1] = (char)0xc3;
    msg.reason[OB_REASON_MAX] = (char)0xa9;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_int_equal(strlen(decoded.reason), OB_REASON_MAX - 1);

    /* A four-byte character across the cut likewise. */
    memset(msg.reason, 'x', sizeof msg.reason);
    memcpy(msg.reason + OB_REASON_MAX - 2, "\xf0\x9f\x98", 3);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_int_equal(strlen(decoded.reason), OB_REASON_MAX - 2);

    /* Garbage continuation bytes cost at most three. */
    memset(msg.reason, 0x80, sizeof msg.reason);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_int_equal(strlen(decoded.reason), OB_REASON_MAX - 3);

    /* A reason that fits is sent as it is. */
    msg = s_msg(OB_CMD_ERROR);
    memset(msg.reason, 'y', OB_REASON_MAX);
    msg.reason[OB_REASON_MAX] = '\0';
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_string_equal(decoded.reason, msg.reason);
}

/* --- the header -------------------------------------------------------------------------- */

static void
test_header_errors(void **state)
{
    (void)state;
    static const uint8_t body[] = {0x80};
    static const struct {
        const char *name;
        uint8_t header[6];
        size_t len;
        int rc;
        int command; /* what ret_msg->command must hold after */
    } cases[] = {
        {"empty", {0}, 0, OB_ERR_SIGNATURE, 0},
        {"short", {'O', 'B', 1}, 3, OB_ERR_SIGNATURE, 0},
        {"long", {'O', 'B', 1, OB_CMD_PING, 0}, 5, OB_ERR_SIGNATURE, 0},
        {"bad first byte", {'X', 'B', 1, OB_CMD_PING}, 4, OB_ERR_SIGNATURE, 0},
        {"bad second byte", {'O', 'b', 1, OB_CMD_PING}, 4, OB_ERR_SIGNATURE, 0},
        {"version 0", {'O', 'B', 0, OB_CMD_PING}, 4, OB_ERR_VERSION, 0},
        {"version 2", {'O', 'B', 2, OB_CMD_PING}, 4, OB_ERR_VERSION, 0},
        {"command 0", {'O', 'B', 1, 0}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x07", {'O', 'B', 1, 0x07}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x12", {'O', 'B', 1, 0x12}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x26", {'O', 'B', 1, 0x26}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x2f", {'O', 'B', 1, 0x2f}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x36", {'O', 'B', 1, 0x36}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        /* known commands: the header passes, and the empty body lacks their fields */
        {"ok", {'O', 'B', 1, OB_CMD_OK}, 4, OB_ERR_MISSING_FIELD, OB_CMD_OK},
        {"subscribe", {'O', 'B', 1, OB_CMD_SUBSCRIBE}, 4, OB_ERR_MISSING_FIELD, OB_CMD_SUBSCRIBE},
        {"fetch", {'O', 'B', 1, OB_CMD_FETCH}, 4, OB_ERR_MISSING_FIELD, OB_CMD_FETCH},
        {"command 0xff", {'O', 'B', 1, 0xff}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"ping", {'O', 'B', 1, OB_CMD_PING}, 4, 0, OB_CMD_PING},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ob_wire_msg_t msg;
        memset(&msg, 0xa5, sizeof msg);
        int rc = s_decode(cases[i].header, cases[i].len, body, sizeof body, &msg);
        if (rc != cases[i].rc)
            fail_msg("%s: got %d (%s)", cases[i].name, rc, ob_strerror(rc));
        assert_int_equal(msg.command, cases[i].command);
        assert_int_equal(msg.req, 0); /* zeroed whatever happens */
    }
    ob_wire_msg_t msg;
    assert_int_equal(ob_wire_decode(NULL, 4, body, sizeof body, &msg), OB_ERR_SIGNATURE);
}

/* --- malformed bodies -------------------------------------------------------------------- */

typedef struct t_body {
    const char *name; /* what is wrong */
    uint8_t command;  /* the header's command */
    const char *data; /* the body */
    size_t len;       /* its size */
    int rc;           /* expected ob_wire_decode result */
    uint64_t req;     /* expected ret_msg->req after */
} t_body_t;

#define T_BODY(literal) (literal), sizeof(literal) - 1

/* Keys and values of the bodies below, each its own literal so that no hex escape runs
   into the letters after it. */
#define K_REQ                                                                                      \
    "\xa3"                                                                                         \
    "req"
#define K_CODE                                                                                     \
    "\xa4"                                                                                         \
    "code"
#define K_REASON                                                                                   \
    "\xa6"                                                                                         \
    "reason"
#define K_SUB                                                                                      \
    "\xa3"                                                                                         \
    "sub"
#define K_RESULT                                                                                   \
    "\xa6"                                                                                         \
    "result"
#define K_MORE                                                                                     \
    "\xa4"                                                                                         \
    "more"
#define K_PATTERNS                                                                                 \
    "\xa8"                                                                                         \
    "patterns"
#define K_TYPES                                                                                    \
    "\xa5"                                                                                         \
    "types"
#define K_START                                                                                    \
    "\xa5"                                                                                         \
    "start"
#define K_START_SEQ                                                                                \
    "\xa9"                                                                                         \
    "start_seq"
#define K_START_TIME                                                                               \
    "\xaa"                                                                                         \
    "start_time"
#define K_CREDIT                                                                                   \
    "\xa6"                                                                                         \
    "credit"
#define K_ACK_WAIT                                                                                 \
    "\xab"                                                                                         \
    "ack_wait_ms"
#define K_MAX_ATTEMPTS                                                                             \
    "\xac"                                                                                         \
    "max_attempts"
#define K_BACKOFF                                                                                  \
    "\xaa"                                                                                         \
    "backoff_ms"
#define K_CREATED                                                                                  \
    "\xa7"                                                                                         \
    "created"
#define K_TOPIC                                                                                    \
    "\xa5"                                                                                         \
    "topic"
#define K_SEQ                                                                                      \
    "\xa3"                                                                                         \
    "seq"
#define K_ATTEMPT                                                                                  \
    "\xa7"                                                                                         \
    "attempt"
#define K_TIME                                                                                     \
    "\xa4"                                                                                         \
    "time"
#define K_SKIPPED                                                                                  \
    "\xa7"                                                                                         \
    "skipped"
#define K_UPTO                                                                                     \
    "\xa4"                                                                                         \
    "upto"
#define K_DELAY                                                                                    \
    "\xa8"                                                                                         \
    "delay_ms"
#define K_AFTER                                                                                    \
    "\xa5"                                                                                         \
    "after"
#define K_MAX_RUN                                                                                  \
    "\xa7"                                                                                         \
    "max_run"
#define K_COUNT                                                                                    \
    "\xa5"                                                                                         \
    "count"
#define K_TIMES                                                                                    \
    "\xa5"                                                                                         \
    "times"
#define V_A                                                                                        \
    "\xa1"                                                                                         \
    "a"
#define V_S                                                                                        \
    "\xa1"                                                                                         \
    "s"
#define V_T                                                                                        \
    "\xa1"                                                                                         \
    "t"
#define V_NEW                                                                                      \
    "\xa3"                                                                                         \
    "new"
#define V_EARLIEST                                                                                 \
    "\xa8"                                                                                         \
    "earliest"
#define V_SEQ                                                                                      \
    "\xa3"                                                                                         \
    "seq"
#define V_TIME                                                                                     \
    "\xa4"                                                                                         \
    "time"
#define T_A16X V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A V_A /* 16 "a" */
#define T_A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T_A64 T_A32 T_A32
#define T_A65 T_A64 "a"
#define T_A255 T_A64 T_A64 T_A64 T_A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T_A256 T_A255 "a"
#define T_SUBSCRIBE K_REQ "\x01" K_PATTERNS "\x91" V_A      /* 2 pairs: req 1, patterns ["a"] */
#define T_DELIVERY K_SUB V_S K_TOPIC V_T K_SEQ "\x01"       /* 3 pairs: sub, topic, seq 1 */
#define T_DELIVER T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x05" /* 5 pairs: ..., attempt 1, time 5 */
#define T_HELLO "\xa4name\xa1n"                             /* 1 pair: name "n" */
#define T_FIVE16 "\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05\x05"
#define T_FIVE64 T_FIVE16 T_FIVE16 T_FIVE16 T_FIVE16 /* 64 uints 5: a run's times from time 5 */
#define T_SEQ_MAX_1 "\xcf\xff\xff\xff\xff\xff\xff\xff\xfe" /* seq 2^64 - 2 */

static const t_body_t s_bodies[] = {
    {"empty body", OB_CMD_PING, "", 0, OB_ERR_TRUNCATED, 0},
    {"reserved byte", OB_CMD_PING, T_BODY("\xc1"), OB_ERR_MALFORMED, 0},
    {"not a map", OB_CMD_PING, T_BODY("\x90"), OB_ERR_MALFORMED, 0},
    {"nil body", OB_CMD_PONG, T_BODY("\xc0"), OB_ERR_MALFORMED, 0},
    {"trailing byte", OB_CMD_PING, T_BODY("\x80\x80"), OB_ERR_MALFORMED, 0},
    {"huge array frame", OB_CMD_PING, T_BODY("\xdd\xff\xff\xff\xff\x00\x00\x00\x00"),
     OB_ERR_TOO_LARGE, 0},
    {"huge map frame", OB_CMD_PING, T_BODY("\xdf\xff\xff\xff\xff"), OB_ERR_TOO_LARGE, 0},
    {"map count over the cap", OB_CMD_PING, T_BODY("\xde\x00\x41"), OB_ERR_TOO_LARGE, 0},
    {"str beyond the buffer", OB_CMD_HELLO, T_BODY("\x81\xa4name\xdb\x00\x01\x00\x00"),
     OB_ERR_TRUNCATED, 0},
    {"nesting deeper than the cap", OB_CMD_PING,
     T_BODY("\x81\xa1x\x91\x91\x91\x91\x91\x91\x91\x91\xc0"), OB_ERR_TOO_LARGE, 0},
    {"ext value", OB_CMD_PING, T_BODY("\x81\xa1x\xd5\x00\x00\x00"), OB_ERR_MALFORMED, 0},
    {"ping with extra keys", OB_CMD_PING, T_BODY("\x82\xa1x\x01\xa3req\x92\x01\x02"), 0, 0},
    {"pong with duplicate keys", OB_CMD_PONG, T_BODY("\x82\xa1x\x01\xa1x\x02"), OB_ERR_MALFORMED,
     0},
    {"uint key", OB_CMD_PING, T_BODY("\x81\x01\x01"), OB_ERR_MALFORMED, 0},
    {"empty keys", OB_CMD_PING, T_BODY("\x81\xa0\x01"), 0, 0},
    {"duplicate empty keys", OB_CMD_PING, T_BODY("\x82\xa0\x01\xa0\x02"), OB_ERR_MALFORMED, 0},
    {"hello with empty first key and name", OB_CMD_HELLO, T_BODY("\x82\xa0\xa0\xa4name\xa0"), 0, 0},
    /* HELLO */
    {"hello without name", OB_CMD_HELLO, T_BODY("\x80"), OB_ERR_MISSING_FIELD, 0},
    {"hello name is nil", OB_CMD_HELLO, T_BODY("\x81\xa4name\xc0"), OB_ERR_FIELD_TYPE, 0},
    {"hello name with NUL", OB_CMD_HELLO, T_BODY("\x81\xa4name\xa2x\x00"), OB_ERR_FIELD_TYPE, 0},
    {"hello name over the cap", OB_CMD_HELLO,
     T_BODY("\x81\xa4name\xd9\x41"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     OB_ERR_TOO_LARGE, 0},
    {"hello name at the cap", OB_CMD_HELLO,
     T_BODY("\x81\xa4name\xd9\x40"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
     0, 0},
    {"hello heartbeat absent", OB_CMD_HELLO, T_BODY("\x81\xa4name\xa1n"), 0, 0},
    {"hello heartbeat 0", OB_CMD_HELLO, T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\x00"), 0, 0},
    {"hello heartbeat below min", OB_CMD_HELLO, T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\x63"),
     OB_ERR_FIELD_TYPE, 0},
    {"hello heartbeat min", OB_CMD_HELLO, T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\x64"), 0, 0},
    {"hello heartbeat max", OB_CMD_HELLO, T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\xcd\xea\x60"),
     0, 0},
    {"hello heartbeat above max", OB_CMD_HELLO,
     T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\xcd\xea\x61"), OB_ERR_FIELD_TYPE, 0},
    {"hello heartbeat over 32 bits", OB_CMD_HELLO,
     T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\xcf\x00\x00\x00\x01\x00\x00\x00\x64"),
     OB_ERR_FIELD_TYPE, 0},
    {"hello heartbeat is a str", OB_CMD_HELLO,
     T_BODY("\x82\xa4name\xa1n\xacheartbeat_ms\xa1"
            "1"),
     OB_ERR_FIELD_TYPE, 0},
    {"hello duplicate name", OB_CMD_HELLO, T_BODY("\x82\xa4name\xa1n\xa4name\xa1m"),
     OB_ERR_MALFORMED, 0},
    {"hello max_run", OB_CMD_HELLO, T_BODY("\x82" T_HELLO K_MAX_RUN "\x40"), 0, 0},
    {"hello max_run 0", OB_CMD_HELLO, T_BODY("\x82" T_HELLO K_MAX_RUN "\x00"), 0, 0},
    {"hello max_run 1", OB_CMD_HELLO, T_BODY("\x82" T_HELLO K_MAX_RUN "\x01"), 0, 0},
    {"hello max_run with heartbeat", OB_CMD_HELLO,
     T_BODY("\x83" T_HELLO K_MAX_RUN "\x02\xacheartbeat_ms\x64"), 0, 0},
    {"hello max_run over the cap", OB_CMD_HELLO, T_BODY("\x82" T_HELLO K_MAX_RUN "\x41"),
     OB_ERR_FIELD_TYPE, 0},
    {"hello max_run over 32 bits", OB_CMD_HELLO,
     T_BODY("\x82" T_HELLO K_MAX_RUN "\xcf\x00\x00\x00\x01\x00\x00\x00\x40"), OB_ERR_FIELD_TYPE, 0},
    {"hello max_run negative", OB_CMD_HELLO, T_BODY("\x82" T_HELLO K_MAX_RUN "\xff"),
     OB_ERR_FIELD_TYPE, 0},
    {"hello max_run is a str", OB_CMD_HELLO,
     T_BODY("\x82" T_HELLO K_MAX_RUN "\xa1"
            "1"),
     OB_ERR_FIELD_TYPE, 0},
    /* WELCOME */
    {"welcome", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"), 0,
     0},
    {"welcome without max_event", OB_CMD_WELCOME,
     T_BODY("\x83\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8"),
     OB_ERR_MISSING_FIELD, 0},
    {"welcome without session", OB_CMD_WELCOME,
     T_BODY("\x83\xa7version\xa1v\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"),
     OB_ERR_MISSING_FIELD, 0},
    {"welcome session empty", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa0\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome session over the cap", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xd9\x21"
            "sssssssssssssssssssssssssssssssss"
            "\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"),
     OB_ERR_TOO_LARGE, 0},
    {"welcome version is bin", OB_CMD_WELCOME,
     T_BODY(
         "\x84\xa7version\xc4\x01v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome heartbeat 0", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\x00\xa9max_event\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome max_event 0", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome max_event over the cap", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event"
            "\xce\x01\x00\x00\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome max_pending", OB_CMD_WELCOME,
     T_BODY("\x85\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"
            "\xabmax_pending\x01"),
     0, 0},
    {"welcome max_pending over the window cap", OB_CMD_WELCOME,
     T_BODY("\x85\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"
            "\xabmax_pending\xce\x00\x01\x00\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome max_pending is a str", OB_CMD_WELCOME,
     T_BODY("\x85\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\x01"
            "\xabmax_pending\xa1"
            "1"),
     OB_ERR_FIELD_TYPE, 0},
    {"welcome max_event negative", OB_CMD_WELCOME,
     T_BODY("\x84\xa7version\xa1v\xa7session\xa1s\xacheartbeat_ms\xcd\x03\xe8\xa9max_event\xff"),
     OB_ERR_FIELD_TYPE, 0},
    /* ERROR */
    {"error without req", OB_CMD_ERROR,
     T_BODY("\x82\xa4"
            "code\x01\xa6reason\xa0"),
     0, 0},
    {"error with req", OB_CMD_ERROR,
     T_BODY("\x83\xa3req\x05\xa4"
            "code\x01\xa6reason\xa0"),
     0, 5},
    {"error without code", OB_CMD_ERROR, T_BODY("\x82\xa3req\x05\xa6reason\xa0"),
     OB_ERR_MISSING_FIELD, 5},
    {"error without reason", OB_CMD_ERROR,
     T_BODY("\x82\xa3req\x05\xa4"
            "code\x01"),
     OB_ERR_MISSING_FIELD, 5},
    {"error code 0", OB_CMD_ERROR,
     T_BODY("\x83\xa3req\x05\xa4"
            "code\x00\xa6reason\xa0"),
     OB_ERR_FIELD_TYPE, 5},
    {"error code over 32 bits", OB_CMD_ERROR,
     T_BODY("\x83\xa3req\x05\xa4"
            "code\xcf\x00\x00\x00\x01\x00\x00\x00\x01\xa6reason\xa0"),
     OB_ERR_FIELD_TYPE, 5},
    {"error code unknown", OB_CMD_ERROR,
     T_BODY("\x82\xa4"
            "code\xcd\x27\x0f\xa6reason\xa0"),
     0, 0},
    {"error req is a str", OB_CMD_ERROR,
     T_BODY("\x83\xa3req\xa1x\xa4"
            "code\x01\xa6reason\xa0"),
     OB_ERR_FIELD_TYPE, 0},
    {"error reason is nil", OB_CMD_ERROR,
     T_BODY("\x83\xa3req\x05\xa4"
            "code\x01\xa6reason\xc0"),
     OB_ERR_FIELD_TYPE, 5},
    /* PUBLISH */
    {"publish", OB_CMD_PUBLISH, T_BODY("\x81\xa3req\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), 0,
     UINT64_MAX},
    {"publish req 0", OB_CMD_PUBLISH, T_BODY("\x81\xa3req\x00"), OB_ERR_FIELD_TYPE, 0},
    {"publish without req", OB_CMD_PUBLISH, T_BODY("\x81\xa3seq\x01"), OB_ERR_MISSING_FIELD, 0},
    {"publish req negative", OB_CMD_PUBLISH, T_BODY("\x81\xa3req\xff"), OB_ERR_FIELD_TYPE, 0},
    {"publish req is a float", OB_CMD_PUBLISH, T_BODY("\x81\xa3req\xca\x3f\x80\x00\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"publish duplicate req", OB_CMD_PUBLISH, T_BODY("\x82\xa3req\x01\xa3req\x02"),
     OB_ERR_MALFORMED, 0},
    /* CONFIRM */
    {"confirm", OB_CMD_CONFIRM,
     T_BODY("\x83\xa3req\x09\xa3seq\x01\xa3"
            "dup\xc3"),
     0, 9},
    {"confirm seq 0", OB_CMD_CONFIRM,
     T_BODY("\x83\xa3req\x09\xa3seq\x00\xa3"
            "dup\xc3"),
     OB_ERR_FIELD_TYPE, 9},
    {"confirm seq is a str", OB_CMD_CONFIRM,
     T_BODY("\x83\xa3req\x09\xa3seq\xa1"
            "1\xa3"
            "dup\xc3"),
     OB_ERR_FIELD_TYPE, 9},
    {"confirm dup is a uint", OB_CMD_CONFIRM,
     T_BODY("\x83\xa3req\x09\xa3seq\x01\xa3"
            "dup\x01"),
     OB_ERR_FIELD_TYPE, 9},
    {"confirm without dup", OB_CMD_CONFIRM, T_BODY("\x82\xa3req\x09\xa3seq\x01"),
     OB_ERR_MISSING_FIELD, 9},
    {"confirm without req", OB_CMD_CONFIRM,
     T_BODY("\x82\xa3seq\x01\xa3"
            "dup\xc3"),
     OB_ERR_MISSING_FIELD, 0},
    {"confirm run of 3", OB_CMD_CONFIRM,
     T_BODY("\x84\xa3req\x09\xa3seq\x01\xa5"
            "count\x03\xa3"
            "dup\xc2"),
     0, 9},
    {"confirm count 0", OB_CMD_CONFIRM,
     T_BODY("\x84\xa3req\x09\xa3seq\x01\xa5"
            "count\x00\xa3"
            "dup\xc2"),
     OB_ERR_FIELD_TYPE, 9},
    {"confirm count over the run cap", OB_CMD_CONFIRM,
     T_BODY("\x84\xa3req\x09\xa3seq\x01\xa5"
            "count\xce\x00\x01\x00\x01\xa3"
            "dup\xc2"),
     OB_ERR_FIELD_TYPE, 9},
    {"confirm run wrapping seq", OB_CMD_CONFIRM,
     T_BODY("\x84\xa3req\x09\xa3seq\xcf\xff\xff\xff\xff\xff\xff\xff\xff\xa5"
            "count\x02\xa3"
            "dup\xc2"),
     OB_ERR_FIELD_TYPE, 9},
    /* ERROR's sub */
    {"error with sub", OB_CMD_ERROR, T_BODY("\x83" K_CODE "\x11" K_REASON "\xa0" K_SUB V_S), 0, 0},
    {"error with eph sub", OB_CMD_ERROR,
     T_BODY("\x84" K_REQ "\x05" K_CODE "\x11" K_REASON "\xa0" K_SUB "\xb4"
            "eph-0123456789abcdef"),
     0, 5},
    {"error sub empty", OB_CMD_ERROR,
     T_BODY("\x84" K_REQ "\x05" K_CODE "\x11" K_REASON "\xa0" K_SUB "\xa0"), OB_ERR_FIELD_TYPE, 5},
    {"error sub uppercase", OB_CMD_ERROR,
     T_BODY("\x84" K_REQ "\x05" K_CODE "\x11" K_REASON "\xa0" K_SUB "\xa1"
            "S"),
     OB_ERR_FIELD_TYPE, 5},
    {"error sub over the cap", OB_CMD_ERROR,
     T_BODY("\x84" K_REQ "\x05" K_CODE "\x11" K_REASON "\xa0" K_SUB "\xd9\x41" T_A65),
     OB_ERR_TOO_LARGE, 5},
    {"error sub is nil", OB_CMD_ERROR,
     T_BODY("\x84" K_REQ "\x05" K_CODE "\x11" K_REASON "\xa0" K_SUB "\xc0"), OB_ERR_FIELD_TYPE, 5},
    /* OK */
    {"ok", OB_CMD_OK, T_BODY("\x81" K_REQ "\x01"), 0, 1},
    {"ok without req", OB_CMD_OK, T_BODY("\x81" K_MORE "\xc3"), OB_ERR_MISSING_FIELD, 0},
    {"ok req 0", OB_CMD_OK, T_BODY("\x81" K_REQ "\x00"), OB_ERR_FIELD_TYPE, 0},
    {"ok req is nil", OB_CMD_OK, T_BODY("\x81" K_REQ "\xc0"), OB_ERR_FIELD_TYPE, 0},
    {"ok more is a uint", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_MORE "\x01"), OB_ERR_FIELD_TYPE,
     2},
    {"ok more false", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_MORE "\xc2"), 0, 2},
    {"ok result is nil", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_RESULT "\xc0"), 0, 2},
    {"ok result is a str", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_RESULT V_S), 0, 2},
    {"ok result is a uint", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_RESULT "\xcd\x01\x00"), 0, 2},
    {"ok duplicate result", OB_CMD_OK, T_BODY("\x83" K_REQ "\x02" K_RESULT "\x90" K_RESULT "\x80"),
     OB_ERR_MALFORMED, 0},
    {"ok result at depth 8", OB_CMD_OK,
     T_BODY("\x82" K_REQ "\x02" K_RESULT "\x91\x91\x91\x91\x91\x91\x90"), 0, 2},
    {"ok result at depth 9", OB_CMD_OK,
     T_BODY("\x82" K_REQ "\x02" K_RESULT "\x91\x91\x91\x91\x91\x91\x91\x90"), OB_ERR_TOO_LARGE, 0},
    {"ok result with an ext", OB_CMD_OK, T_BODY("\x82" K_REQ "\x02" K_RESULT "\x91\xd4\x01\x00"),
     OB_ERR_MALFORMED, 0},
    {"ok result with a map over the cap", OB_CMD_OK,
     T_BODY("\x82" K_REQ "\x02" K_RESULT "\xde\x00\x41"), OB_ERR_TOO_LARGE, 0},
    {"ok result with duplicate keys inside", OB_CMD_OK,
     T_BODY("\x82" K_REQ "\x02" K_RESULT "\x82\xa1k\x01\xa1k\x02"), 0, 2},
    /* SUBSCRIBE */
    {"subscribe", OB_CMD_SUBSCRIBE, T_BODY("\x82" T_SUBSCRIBE), 0, 1},
    {"subscribe without req", OB_CMD_SUBSCRIBE, T_BODY("\x81" K_PATTERNS "\x91" V_A),
     OB_ERR_MISSING_FIELD, 0},
    {"subscribe req 0", OB_CMD_SUBSCRIBE, T_BODY("\x82" K_REQ "\x00" K_PATTERNS "\x91" V_A),
     OB_ERR_FIELD_TYPE, 0},
    {"subscribe without patterns", OB_CMD_SUBSCRIBE, T_BODY("\x82" K_REQ "\x01" K_SUB V_S),
     OB_ERR_MISSING_FIELD, 1},
    {"subscribe attach", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_SUB V_S "\xa6"
            "attach\xc3"),
     0, 1},
    {"subscribe attach without a name", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE "\xa6"
            "attach\xc3"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe attach is a uint", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_SUB V_S "\xa6"
            "attach\x01"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe no pattern", OB_CMD_SUBSCRIBE, T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x90"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe 16 patterns", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\xdc\x00\x10" T_A16X), 0, 1},
    {"subscribe 17 patterns", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\xdc\x00\x11" T_A16X V_A), OB_ERR_TOO_LARGE, 1},
    {"subscribe patterns is a str", OB_CMD_SUBSCRIBE, T_BODY("\x82" K_REQ "\x01" K_PATTERNS V_A),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe patterns is nil", OB_CMD_SUBSCRIBE, T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\xc0"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe pattern empty", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x92" V_A "\xa0"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe pattern at the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x91\xd9\xff" T_A255), 0, 1},
    {"subscribe pattern over the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x91\xda\x01\x00" T_A256), OB_ERR_TOO_LARGE, 1},
    {"subscribe pattern with NUL", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x91\xa3"
            "a\x00"
            "b"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe pattern is a uint", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x92" V_A "\x01"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe pattern is bin", OB_CMD_SUBSCRIBE,
     T_BODY("\x82" K_REQ "\x01" K_PATTERNS "\x91\xc4\x01"
            "a"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe duplicate patterns", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_PATTERNS "\x91" V_A), OB_ERR_MALFORMED, 0},
    {"subscribe sub empty", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa0"), 0, 1},
    {"subscribe sub at the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xd9\x40" T_A64), 0, 1},
    {"subscribe sub over the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xd9\x41" T_A65), OB_ERR_TOO_LARGE, 1},
    {"subscribe sub of every allowed byte", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xd9\x26"
            "abcdefghijklmnopqrstuvwxyz0123456789_-"),
     0, 1},
    {"subscribe sub uppercase", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa3"
            "aBc"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe sub with a dot", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa3"
            "a.c"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe sub with a space", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa3"
            "a c"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe sub with a NUL", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa2\x00\x00"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe sub with UTF-8", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_SUB "\xa2\xc3\xa9"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe sub is a uint", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_SUB "\x01"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe no types", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x90"), 0, 1},
    {"subscribe 32 types", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\xdc\x00\x20" T_A16X T_A16X), 0, 1},
    {"subscribe 33 types", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\xdc\x00\x21" T_A16X T_A16X V_A), OB_ERR_TOO_LARGE, 1},
    {"subscribe type empty", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xa0"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe type at the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xd9\x40" T_A64), 0, 1},
    {"subscribe type over the cap", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xd9\x41" T_A65), OB_ERR_TOO_LARGE, 1},
    {"subscribe type with a capital", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xa1X"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe type with a space", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x92\xa1x\xa3x y"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe type over the cap and with capitals: the length wins", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xd9\x41" T_A64 "A"), OB_ERR_TOO_LARGE, 1},
    {"hello with req", OB_CMD_HELLO, T_BODY("\x82\xa3req\x07" T_HELLO), 0, 7},
    {"hello with req not a uint", OB_CMD_HELLO, T_BODY("\x82\xa3req\xa1x" T_HELLO),
     OB_ERR_FIELD_TYPE, 0},
    {"subscribe type with NUL", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x91\xa1\x00"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe types is a map", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_TYPES "\x80"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start new", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_START V_NEW), 0, 1},
    {"subscribe start earliest", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_START V_EARLIEST), 0,
     1},
    {"subscribe start unknown", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START "\xa6"
            "latest"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start uppercase", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START "\xa3"
            "NEW"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start with a NUL", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START "\xa4"
            "new\x00"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start empty", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_START "\xa0"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start is a uint", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_START "\x02"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe start seq", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_SEQ K_START_SEQ "\x05"), 0, 1},
    {"subscribe start seq without start_seq", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START V_SEQ), OB_ERR_MISSING_FIELD, 1},
    {"subscribe start seq with start_time only", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_SEQ K_START_TIME "\x05"), OB_ERR_MISSING_FIELD, 1},
    {"subscribe start_seq 0", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_SEQ K_START_SEQ "\x00"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe start_seq 0 with start new", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START_SEQ "\x00"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe start_seq with start new", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START_SEQ "\x07"), 0, 1},
    {"subscribe start_seq is a str", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_SEQ K_START_SEQ V_A), OB_ERR_FIELD_TYPE, 1},
    {"subscribe start_seq 2^64-1", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_SEQ K_START_SEQ "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), 0,
     1},
    {"subscribe start time", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_TIME K_START_TIME "\xcf\x00\x06\x0a\x24\x18\x1e\x40\x00"),
     0, 1},
    {"subscribe start time 0", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_TIME K_START_TIME "\x00"), 0, 1},
    {"subscribe start time without start_time", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_START V_TIME), OB_ERR_MISSING_FIELD, 1},
    {"subscribe start time with start_seq only", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_TIME K_START_SEQ "\x01"), OB_ERR_MISSING_FIELD, 1},
    {"subscribe start_time negative", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_TIME K_START_TIME "\xff"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe start_time is nil", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_START V_TIME K_START_TIME "\xc0"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe credit 0", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\x00"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe credit 1", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\x01"), 0, 1},
    {"subscribe credit max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\xce\x00\x01\x00\x00"), 0, 1},
    {"subscribe credit over max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\xce\x00\x01\x00\x01"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe credit over 32 bits", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\xcf\x00\x00\x00\x01\x00\x00\x00\x01"), OB_ERR_FIELD_TYPE,
     1},
    {"subscribe credit is a float", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_CREDIT "\xca\x3f\x80\x00\x00"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe ack_wait_ms below min", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_ACK_WAIT "\x63"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe ack_wait_ms min", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_ACK_WAIT "\x64"), 0,
     1},
    {"subscribe ack_wait_ms 0", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_ACK_WAIT "\x00"),
     OB_ERR_FIELD_TYPE, 1},
    {"subscribe ack_wait_ms max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_ACK_WAIT "\xce\x00\x36\xee\x80"), 0, 1},
    {"subscribe ack_wait_ms over max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_ACK_WAIT "\xce\x00\x36\xee\x81"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe max_attempts 0", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_MAX_ATTEMPTS "\x00"),
     0, 1},
    {"subscribe max_attempts max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_MAX_ATTEMPTS "\xcd\xff\xff"), 0, 1},
    {"subscribe max_attempts over max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_MAX_ATTEMPTS "\xce\x00\x01\x00\x00"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe max_attempts is a bool", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_MAX_ATTEMPTS "\xc3"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe backoff_ms 0", OB_CMD_SUBSCRIBE, T_BODY("\x83" T_SUBSCRIBE K_BACKOFF "\x00"), 0, 1},
    {"subscribe backoff_ms max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_BACKOFF "\xce\x00\x36\xee\x80"), 0, 1},
    {"subscribe backoff_ms over max", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_BACKOFF "\xce\x00\x36\xee\x81"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe backoff_ms negative", OB_CMD_SUBSCRIBE,
     T_BODY("\x83" T_SUBSCRIBE K_BACKOFF "\xd0\x80"), OB_ERR_FIELD_TYPE, 1},
    {"subscribe keys of other commands ignored", OB_CMD_SUBSCRIBE,
     T_BODY("\x84" T_SUBSCRIBE K_TOPIC "\x01" K_DELAY "\xa1"
            "x"),
     0, 1},
    /* SUBSCRIBED */
    {"subscribed", OB_CMD_SUBSCRIBED, T_BODY("\x83" K_REQ "\x03" K_SUB V_S K_CREATED "\xc3"), 0, 3},
    {"subscribed without created", OB_CMD_SUBSCRIBED, T_BODY("\x82" K_REQ "\x03" K_SUB V_S),
     OB_ERR_MISSING_FIELD, 3},
    {"subscribed created is a uint", OB_CMD_SUBSCRIBED,
     T_BODY("\x83" K_REQ "\x03" K_SUB V_S K_CREATED "\x01"), OB_ERR_FIELD_TYPE, 3},
    {"subscribed without sub", OB_CMD_SUBSCRIBED, T_BODY("\x82" K_REQ "\x03" K_CREATED "\xc2"),
     OB_ERR_MISSING_FIELD, 3},
    {"subscribed sub empty", OB_CMD_SUBSCRIBED,
     T_BODY("\x83" K_REQ "\x03" K_SUB "\xa0" K_CREATED "\xc2"), OB_ERR_FIELD_TYPE, 3},
    {"subscribed sub uppercase", OB_CMD_SUBSCRIBED,
     T_BODY("\x83" K_REQ "\x03" K_SUB "\xa1"
            "A" K_CREATED "\xc2"),
     OB_ERR_FIELD_TYPE, 3},
    {"subscribed without req", OB_CMD_SUBSCRIBED, T_BODY("\x82" K_SUB V_S K_CREATED "\xc2"),
     OB_ERR_MISSING_FIELD, 0},
    {"subscribed req 0", OB_CMD_SUBSCRIBED, T_BODY("\x83" K_REQ "\x00" K_SUB V_S K_CREATED "\xc2"),
     OB_ERR_FIELD_TYPE, 0},
    /* DELIVER */
    {"deliver", OB_CMD_DELIVER, T_BODY("\x85" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00"), 0, 0},
    {"deliver skipped 0", OB_CMD_DELIVER,
     T_BODY("\x86" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00" K_SKIPPED "\x00"), 0, 0},
    {"deliver skipped", OB_CMD_DELIVER,
     T_BODY("\x86" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00" K_SKIPPED
            "\xcf\xff\xff\xff\xff\xff\xff"
            "\xff\xff"),
     0, 0},
    {"deliver skipped negative", OB_CMD_DELIVER,
     T_BODY("\x86" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00" K_SKIPPED "\xff"), OB_ERR_FIELD_TYPE,
     0},
    {"deliver req ignored", OB_CMD_DELIVER,
     T_BODY("\x86" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00" K_REQ "\x05"), 0, 0},
    {"deliver without sub", OB_CMD_DELIVER,
     T_BODY("\x84" K_TOPIC V_T K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"), OB_ERR_MISSING_FIELD,
     0},
    {"deliver without topic", OB_CMD_DELIVER,
     T_BODY("\x84" K_SUB V_S K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"), OB_ERR_MISSING_FIELD, 0},
    {"deliver without seq", OB_CMD_DELIVER,
     T_BODY("\x84" K_SUB V_S K_TOPIC V_T K_ATTEMPT "\x01" K_TIME "\x00"), OB_ERR_MISSING_FIELD, 0},
    {"deliver without attempt", OB_CMD_DELIVER, T_BODY("\x84" T_DELIVERY K_TIME "\x00"),
     OB_ERR_MISSING_FIELD, 0},
    {"deliver without time", OB_CMD_DELIVER, T_BODY("\x84" T_DELIVERY K_ATTEMPT "\x01"),
     OB_ERR_MISSING_FIELD, 0},
    {"deliver seq 0", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB V_S K_TOPIC V_T K_SEQ "\x00" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver attempt 0", OB_CMD_DELIVER, T_BODY("\x85" T_DELIVERY K_ATTEMPT "\x00" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver attempt 2^32-1", OB_CMD_DELIVER,
     T_BODY("\x85" T_DELIVERY K_ATTEMPT "\xce\xff\xff\xff\xff" K_TIME "\x00"), 0, 0},
    {"deliver attempt over 32 bits", OB_CMD_DELIVER,
     T_BODY("\x85" T_DELIVERY K_ATTEMPT "\xcf\x00\x00\x00\x01\x00\x00\x00\x00" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver time is a str", OB_CMD_DELIVER, T_BODY("\x85" T_DELIVERY K_ATTEMPT "\x01" K_TIME V_T),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver topic empty", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB V_S K_TOPIC "\xa0" K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver topic at the cap", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB V_S K_TOPIC "\xd9\xff" T_A255 K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     0, 0},
    {"deliver topic over the cap", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB V_S K_TOPIC "\xda\x01\x00" T_A256 K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME
            "\x00"),
     OB_ERR_TOO_LARGE, 0},
    {"deliver topic with NUL", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB V_S K_TOPIC "\xa1\x00" K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver sub empty", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB "\xa0" K_TOPIC V_T K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver sub uppercase", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB "\xa1"
            "S" K_TOPIC V_T K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver sub over the cap", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB "\xd9\x41" T_A65 K_TOPIC V_T K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     OB_ERR_TOO_LARGE, 0},
    {"deliver ephemeral sub", OB_CMD_DELIVER,
     T_BODY("\x85" K_SUB "\xb4"
            "eph-0123456789abcdef" K_TOPIC V_T K_SEQ "\x01" K_ATTEMPT "\x01" K_TIME "\x00"),
     0, 0},
    /* DELIVER runs (count 1 is test_deliver_run's: it re-encodes without count) */
    {"deliver run", OB_CMD_DELIVER, T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x92\x05\x06"),
     0, 0},
    {"deliver run with skipped", OB_CMD_DELIVER,
     T_BODY("\x88" T_DELIVER K_SKIPPED "\x07" K_COUNT "\x03" K_TIMES "\x93\x05\x05\x09"), 0, 0},
    {"deliver run, times before count", OB_CMD_DELIVER,
     T_BODY("\x87" K_TIMES "\x92\x05\x06" T_DELIVER K_COUNT "\x02"), 0, 0},
    {"deliver run at the cap", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x40" K_TIMES "\xdc\x00\x40" T_FIVE64), 0, 0},
    {"deliver run over the cap", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x41" K_TIMES "\xdc\x00\x41" T_FIVE64 "\x05"),
     OB_ERR_TOO_LARGE, 0},
    {"deliver count over 32 bits", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\xcf\x00\x00\x00\x01\x00\x00\x00\x02" K_TIMES "\x92\x05\x06"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver count 0", OB_CMD_DELIVER, T_BODY("\x86" T_DELIVER K_COUNT "\x00"), OB_ERR_FIELD_TYPE,
     0},
    {"deliver count negative", OB_CMD_DELIVER, T_BODY("\x86" T_DELIVER K_COUNT "\xff"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver count is a str", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\xa1"
            "2" K_TIMES "\x92\x05\x06"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver run without times", OB_CMD_DELIVER, T_BODY("\x86" T_DELIVER K_COUNT "\x02"),
     OB_ERR_MISSING_FIELD, 0},
    {"deliver run times too short", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x03" K_TIMES "\x92\x05\x06"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run times too long", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x93\x05\x06\x07"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run times empty", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x90"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run times is a uint", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x05"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run times is a map", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x81\xa1k\x05"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run times is nil", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\xc0"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run time is a str", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x92\x05\xa1"
            "6"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver run time negative", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x92\x05\xff"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run first time is not time", OB_CMD_DELIVER,
     T_BODY("\x87" T_DELIVER K_COUNT "\x02" K_TIMES "\x92\x06\x06"), OB_ERR_FIELD_TYPE, 0},
    {"deliver run to seq 2^64-1", OB_CMD_DELIVER,
     T_BODY("\x87" K_SUB V_S K_TOPIC V_T K_SEQ T_SEQ_MAX_1 K_ATTEMPT "\x01" K_TIME "\x05" K_COUNT
            "\x02" K_TIMES "\x92\x05\x05"),
     0, 0},
    {"deliver run wrapping seq", OB_CMD_DELIVER,
     T_BODY("\x87" K_SUB V_S K_TOPIC V_T K_SEQ T_SEQ_MAX_1 K_ATTEMPT "\x01" K_TIME "\x05" K_COUNT
            "\x03" K_TIMES "\x93\x05\x05\x05"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver run seq 0", OB_CMD_DELIVER,
     T_BODY("\x87" K_SUB V_S K_TOPIC V_T K_SEQ "\x00" K_ATTEMPT "\x01" K_TIME "\x05" K_COUNT
            "\x02" K_TIMES "\x92\x05\x05"),
     OB_ERR_FIELD_TYPE, 0},
    {"deliver times without count ignored", OB_CMD_DELIVER,
     T_BODY("\x86" T_DELIVER K_TIMES "\x92\x05\x06"), 0, 0},
    {"deliver duplicate count", OB_CMD_DELIVER,
     T_BODY("\x88" T_DELIVER K_COUNT "\x02" K_TIMES "\x92\x05\x06" K_COUNT "\x02"),
     OB_ERR_MALFORMED, 0},
    /* ACK */
    {"ack", OB_CMD_ACK, T_BODY("\x83" T_DELIVERY), 0, 0},
    {"ack upto", OB_CMD_ACK, T_BODY("\x84" T_DELIVERY K_UPTO "\xc3"), 0, 0},
    {"ack upto false", OB_CMD_ACK, T_BODY("\x84" T_DELIVERY K_UPTO "\xc2"), 0, 0},
    {"ack upto is a uint", OB_CMD_ACK, T_BODY("\x84" T_DELIVERY K_UPTO "\x01"), OB_ERR_FIELD_TYPE,
     0},
    {"ack seq 0", OB_CMD_ACK, T_BODY("\x83" K_SUB V_S K_TOPIC V_T K_SEQ "\x00"), OB_ERR_FIELD_TYPE,
     0},
    {"ack without seq", OB_CMD_ACK, T_BODY("\x82" K_SUB V_S K_TOPIC V_T), OB_ERR_MISSING_FIELD, 0},
    {"ack without sub", OB_CMD_ACK, T_BODY("\x82" K_TOPIC V_T K_SEQ "\x01"), OB_ERR_MISSING_FIELD,
     0},
    {"ack topic with NUL", OB_CMD_ACK, T_BODY("\x83" K_SUB V_S K_TOPIC "\xa2t\x00" K_SEQ "\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"ack sub with a slash", OB_CMD_ACK,
     T_BODY("\x83" K_SUB "\xa3"
            "a/b" K_TOPIC V_T K_SEQ "\x01"),
     OB_ERR_FIELD_TYPE, 0},
    {"ack duplicate seq", OB_CMD_ACK, T_BODY("\x84" T_DELIVERY K_SEQ "\x02"), OB_ERR_MALFORMED, 0},
    /* NACK */
    {"nack", OB_CMD_NACK, T_BODY("\x83" T_DELIVERY), 0, 0},
    {"nack delay 0", OB_CMD_NACK, T_BODY("\x84" T_DELIVERY K_DELAY "\x00"), 0, 0},
    {"nack delay max", OB_CMD_NACK, T_BODY("\x84" T_DELIVERY K_DELAY "\xce\x00\x36\xee\x80"), 0, 0},
    {"nack delay over max", OB_CMD_NACK, T_BODY("\x84" T_DELIVERY K_DELAY "\xce\x00\x36\xee\x81"),
     OB_ERR_FIELD_TYPE, 0},
    {"nack delay over 32 bits", OB_CMD_NACK,
     T_BODY("\x84" T_DELIVERY K_DELAY "\xcf\x00\x00\x00\x01\x00\x00\x00\x00"), OB_ERR_FIELD_TYPE,
     0},
    {"nack delay is a str", OB_CMD_NACK, T_BODY("\x84" T_DELIVERY K_DELAY V_A), OB_ERR_FIELD_TYPE,
     0},
    {"nack without topic", OB_CMD_NACK, T_BODY("\x82" K_SUB V_S K_SEQ "\x01"), OB_ERR_MISSING_FIELD,
     0},
    /* UNSUBSCRIBE, SUB_DELETE */
    {"unsubscribe", OB_CMD_UNSUBSCRIBE, T_BODY("\x82" K_REQ "\x04" K_SUB V_S), 0, 4},
    {"unsubscribe without sub", OB_CMD_UNSUBSCRIBE, T_BODY("\x81" K_REQ "\x04"),
     OB_ERR_MISSING_FIELD, 4},
    {"unsubscribe without req", OB_CMD_UNSUBSCRIBE, T_BODY("\x81" K_SUB V_S), OB_ERR_MISSING_FIELD,
     0},
    {"unsubscribe sub empty", OB_CMD_UNSUBSCRIBE, T_BODY("\x82" K_REQ "\x04" K_SUB "\xa0"),
     OB_ERR_FIELD_TYPE, 4},
    {"unsubscribe sub over the cap", OB_CMD_UNSUBSCRIBE,
     T_BODY("\x82" K_REQ "\x04" K_SUB "\xd9\x41" T_A65), OB_ERR_TOO_LARGE, 4},
    {"unsubscribe sub is nil", OB_CMD_UNSUBSCRIBE, T_BODY("\x82" K_REQ "\x04" K_SUB "\xc0"),
     OB_ERR_FIELD_TYPE, 4},
    {"sub_delete", OB_CMD_SUB_DELETE, T_BODY("\x82" K_REQ "\x06" K_SUB V_S), 0, 6},
    {"sub_delete without sub", OB_CMD_SUB_DELETE, T_BODY("\x81" K_REQ "\x06"), OB_ERR_MISSING_FIELD,
     6},
    {"sub_delete sub with a star", OB_CMD_SUB_DELETE,
     T_BODY("\x82" K_REQ "\x06" K_SUB "\xa1"
            "*"),
     OB_ERR_FIELD_TYPE, 6},
    {"sub_delete req 0", OB_CMD_SUB_DELETE, T_BODY("\x82" K_REQ "\x00" K_SUB V_S),
     OB_ERR_FIELD_TYPE, 0},
    /* TOPICS, SUBS, SUB_INFO */
    {"topics", OB_CMD_TOPICS, T_BODY("\x81" K_REQ "\x07"), 0, 7},
    {"topics after empty", OB_CMD_TOPICS, T_BODY("\x82" K_REQ "\x07" K_AFTER "\xa0"), 0, 7},
    {"topics after at the cap", OB_CMD_TOPICS,
     T_BODY("\x82" K_REQ "\x07" K_AFTER "\xd9\xff" T_A255), 0, 7},
    {"topics after over the cap", OB_CMD_TOPICS,
     T_BODY("\x82" K_REQ "\x07" K_AFTER "\xda\x01\x00" T_A256), OB_ERR_TOO_LARGE, 7},
    {"topics after with NUL", OB_CMD_TOPICS, T_BODY("\x82" K_REQ "\x07" K_AFTER "\xa1\x00"),
     OB_ERR_FIELD_TYPE, 7},
    {"topics after is nil", OB_CMD_TOPICS, T_BODY("\x82" K_REQ "\x07" K_AFTER "\xc0"),
     OB_ERR_FIELD_TYPE, 7},
    {"topics without req", OB_CMD_TOPICS, T_BODY("\x81" K_AFTER V_A), OB_ERR_MISSING_FIELD, 0},
    {"subs", OB_CMD_SUBS, T_BODY("\x82" K_REQ "\x08" K_AFTER V_A), 0, 8},
    {"subs after is a uint", OB_CMD_SUBS, T_BODY("\x82" K_REQ "\x08" K_AFTER "\x01"),
     OB_ERR_FIELD_TYPE, 8},
    {"subs req 0", OB_CMD_SUBS, T_BODY("\x81" K_REQ "\x00"), OB_ERR_FIELD_TYPE, 0},
    {"sub_info", OB_CMD_SUB_INFO, T_BODY("\x83" K_REQ "\x09" K_SUB V_S K_AFTER V_T), 0, 9},
    {"sub_info without after", OB_CMD_SUB_INFO, T_BODY("\x82" K_REQ "\x09" K_SUB V_S), 0, 9},
    {"sub_info without sub", OB_CMD_SUB_INFO, T_BODY("\x82" K_REQ "\x09" K_AFTER V_T),
     OB_ERR_MISSING_FIELD, 9},
    {"sub_info after over the cap", OB_CMD_SUB_INFO,
     T_BODY("\x83" K_REQ "\x09" K_SUB V_S K_AFTER "\xda\x01\x00" T_A256), OB_ERR_TOO_LARGE, 9},
    /* SUB_REPOSITION */
    {"sub_reposition", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB V_S K_START V_EARLIEST), 0, 10},
    {"sub_reposition new", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB V_S K_START V_NEW), 0, 10},
    {"sub_reposition without start", OB_CMD_SUB_REPOSITION, T_BODY("\x82" K_REQ "\x0a" K_SUB V_S),
     OB_ERR_MISSING_FIELD, 10},
    {"sub_reposition without sub", OB_CMD_SUB_REPOSITION, T_BODY("\x82" K_REQ "\x0a" K_START V_NEW),
     OB_ERR_MISSING_FIELD, 10},
    {"sub_reposition start unknown", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB V_S K_START V_A), OB_ERR_FIELD_TYPE, 10},
    {"sub_reposition seq", OB_CMD_SUB_REPOSITION,
     T_BODY("\x84" K_REQ "\x0a" K_SUB V_S K_START V_SEQ K_START_SEQ "\x01"), 0, 10},
    {"sub_reposition seq without start_seq", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB V_S K_START V_SEQ), OB_ERR_MISSING_FIELD, 10},
    {"sub_reposition start_seq 0", OB_CMD_SUB_REPOSITION,
     T_BODY("\x84" K_REQ "\x0a" K_SUB V_S K_START V_SEQ K_START_SEQ "\x00"), OB_ERR_FIELD_TYPE, 10},
    {"sub_reposition time", OB_CMD_SUB_REPOSITION,
     T_BODY("\x84" K_REQ "\x0a" K_SUB V_S K_START V_TIME K_START_TIME "\x00"), 0, 10},
    {"sub_reposition time without start_time", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB V_S K_START V_TIME), OB_ERR_MISSING_FIELD, 10},
    {"sub_reposition sub uppercase", OB_CMD_SUB_REPOSITION,
     T_BODY("\x83" K_REQ "\x0a" K_SUB "\xa1"
            "X" K_START V_NEW),
     OB_ERR_FIELD_TYPE, 10},
    /* FETCH */
    {"fetch", OB_CMD_FETCH, T_BODY("\x83" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01"), 0, 11},
    {"fetch without topic", OB_CMD_FETCH, T_BODY("\x82" K_REQ "\x0b" K_SEQ "\x01"),
     OB_ERR_MISSING_FIELD, 11},
    {"fetch without seq", OB_CMD_FETCH, T_BODY("\x82" K_REQ "\x0b" K_TOPIC V_T),
     OB_ERR_MISSING_FIELD, 11},
    {"fetch seq 0", OB_CMD_FETCH, T_BODY("\x83" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x00"),
     OB_ERR_FIELD_TYPE, 11},
    {"fetch topic empty", OB_CMD_FETCH, T_BODY("\x83" K_REQ "\x0b" K_TOPIC "\xa0" K_SEQ "\x01"),
     OB_ERR_FIELD_TYPE, 11},
    {"fetch topic over the cap", OB_CMD_FETCH,
     T_BODY("\x83" K_REQ "\x0b" K_TOPIC "\xda\x01\x00" T_A256 K_SEQ "\x01"), OB_ERR_TOO_LARGE, 11},
    {"fetch topic is bin", OB_CMD_FETCH,
     T_BODY("\x83" K_REQ "\x0b" K_TOPIC "\xc4\x01"
            "t" K_SEQ "\x01"),
     OB_ERR_FIELD_TYPE, 11},
    {"fetch without req", OB_CMD_FETCH, T_BODY("\x82" K_TOPIC V_T K_SEQ "\x01"),
     OB_ERR_MISSING_FIELD, 0},
    {"fetch range", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\x01"), 0, 11},
    {"fetch range at the cap", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\xcd\x01\x00"), 0, 11},
    {"fetch range from time 0", OB_CMD_FETCH,
     T_BODY("\x85" K_REQ "\x0b" K_TIME "\x00" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\x01"), 0, 11},
    {"fetch range count 0", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\x00"), OB_ERR_FIELD_TYPE, 11},
    {"fetch range over the cap", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\xcd\x01\x01"), OB_ERR_FIELD_TYPE,
     11},
    {"fetch range count over u32", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT
            "\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
     OB_ERR_FIELD_TYPE, 11},
    {"fetch range count is str", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT V_A), OB_ERR_FIELD_TYPE, 11},
    {"fetch time without count", OB_CMD_FETCH,
     T_BODY("\x84" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_TIME "\x05"), OB_ERR_MISSING_FIELD, 11},
    {"fetch time negative", OB_CMD_FETCH,
     T_BODY("\x85" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\x01" K_TIME "\xff"),
     OB_ERR_FIELD_TYPE, 11},
    {"fetch time nil", OB_CMD_FETCH,
     T_BODY("\x85" K_REQ "\x0b" K_TOPIC V_T K_SEQ "\x01" K_COUNT "\x01" K_TIME "\xc0"),
     OB_ERR_FIELD_TYPE, 11},
};

static void
test_malformed_bodies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_bodies / sizeof s_bodies[0]; i++) {
        const t_body_t *c = &s_bodies[i];
        const uint8_t header[] = {'O', 'B', 1, c->command};
        ob_wire_msg_t msg;
        int rc = s_decode(header, sizeof header, c->data, c->len, &msg);
        if (rc != c->rc)
            fail_msg("%s: got %d (%s), expected %d (%s)", c->name, rc, ob_strerror(rc), c->rc,
                     ob_strerror(c->rc));
        assert_int_equal(msg.command, c->command);
        if (msg.req != c->req)
            fail_msg("%s: req %llu", c->name, (unsigned long long)msg.req);
        if (rc == 0) {
            /* What decodes re-encodes, and decodes the same again. */
            uint8_t body[OB_BODY_MAX];
            size_t len = 0;
            ob_wire_msg_t again;
            assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
            assert_int_equal(s_decode(header, sizeof header, body, len, &again), 0);
            s_assert_same(&msg, &again);
        }
    }
}

static void
test_body_size_cap(void **state)
{
    (void)state;
    static const uint8_t header[] = {'O', 'B', 1, OB_CMD_PING};
    /* A PING whose one unknown key holds a str filling the body to exactly OB_BODY_MAX. */
    uint8_t *body = calloc(1, OB_BODY_MAX + 1);
    ob_wire_msg_t msg;
    assert_non_null(body);
    size_t str = OB_BODY_MAX - 1 - 2 - 5;
    body[0] = 0x81;
    body[1] = 0xa1;
    body[2] = 'x';
    body[3] = 0xdb;
    body[4] = (uint8_t)(str >> 24);
    body[5] = (uint8_t)(str >> 16);
    body[6] = (uint8_t)(str >> 8);
    body[7] = (uint8_t)str;
    assert_int_equal(ob_wire_decode(header, 4, body, OB_BODY_MAX, &msg), 0);
    assert_int_equal(ob_wire_decode(header, 4, body, OB_BODY_MAX + 1, &msg), OB_ERR_TOO_LARGE);
    assert_int_equal(msg.command, OB_CMD_PING);
    assert_int_equal(ob_wire_decode(header, 4, NULL, 0, &msg), OB_ERR_TRUNCATED);
    free(body);
}

/* --- encoding refuses what decoding refuses ---------------------------------------------- */

static void
test_encode_refuses_invalid(void **state)
{
    (void)state;
    uint8_t body[OB_BODY_MAX];
    size_t len = 0;
    ob_wire_msg_t msg;

#define T_REFUSED(command, what, rc)                                                               \
    do {                                                                                           \
        msg = s_msg(command);                                                                      \
        what;                                                                                      \
        len = 12345;                                                                               \
        int got_ = ob_wire_encode_body(&msg, body, sizeof body, &len);                             \
        if (got_ != (rc))                                                                          \
            fail_msg("%s: got %d (%s)", #what, got_, ob_strerror(got_));                           \
        assert_int_equal(len, 12345);                                                              \
    } while (0)

    T_REFUSED(0, (void)0, OB_ERR_UNKNOWN_COMMAND);
    T_REFUSED(0x99, (void)0, OB_ERR_UNKNOWN_COMMAND);
    T_REFUSED(OB_CMD_HELLO, memset(msg.name, 'n', sizeof msg.name), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_HELLO, msg.heartbeat_ms = OB_HEARTBEAT_MS_MIN - 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_HELLO, msg.heartbeat_ms = OB_HEARTBEAT_MS_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_HELLO, msg.max_run = OB_DELIVER_RUN_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_HELLO, msg.max_run = UINT32_MAX, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.session[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.version[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, memset(msg.session, 's', sizeof msg.session), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_WELCOME, memset(msg.version, 'v', sizeof msg.version), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_WELCOME, msg.heartbeat_ms = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.max_event = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.max_event = OB_EVENT_MAX_CAP + 1ull, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.max_pending = OB_WINDOW_MAX + 1u, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ERROR, msg.code = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_CONFIRM, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_PUBLISH, msg.req = 0, OB_ERR_FIELD_TYPE);
    /* ERROR's sub */
    T_REFUSED(OB_CMD_ERROR, strcpy(msg.sub, "Orders"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ERROR, strcpy(msg.sub, "a b"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ERROR, memset(msg.sub, 's', sizeof msg.sub), OB_ERR_TOO_LARGE);
    /* OK */
    T_REFUSED(OB_CMD_OK, msg.req = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_OK, msg.result = NULL, OB_ERR_FIELD_TYPE);
    /* the request id of every request and reply but CONFIRM, which echoes a PUBLISH's */
    static const uint8_t with_req[] = {OB_CMD_SUBSCRIBE,  OB_CMD_SUBSCRIBED,     OB_CMD_UNSUBSCRIBE,
                                       OB_CMD_TOPICS,     OB_CMD_SUBS,           OB_CMD_SUB_INFO,
                                       OB_CMD_SUB_DELETE, OB_CMD_SUB_REPOSITION, OB_CMD_FETCH};
    for (size_t i = 0; i < sizeof with_req; i++)
        T_REFUSED(with_req[i], msg.req = 0, OB_ERR_FIELD_TYPE);
    /* SUBSCRIBE */
    T_REFUSED(OB_CMD_SUBSCRIBE, ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.pattern_count = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE); /* attach without a name */
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.pattern_count = OB_SUB_PATTERNS_MAX + 1, OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.patterns[2][0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, memset(msg.patterns[1], 'p', sizeof msg.patterns[1]),
              OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.type_count = OB_SUB_TYPES_MAX + 1, OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.types[1][0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, strcpy(msg.types[1], "Project.Created"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, memset(msg.types[0], 't', sizeof msg.types[0]), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBSCRIBE, strcpy(msg.sub, "Orders"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, strcpy(msg.sub, "dlq.orders"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, memset(msg.sub, 's', sizeof msg.sub), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.start = (ob_start_t)4, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.start_seq = 0, OB_ERR_FIELD_TYPE); /* start is seq */
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.credit = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.credit = OB_CREDIT_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.ack_wait_ms = OB_ACK_WAIT_MS_MIN - 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.ack_wait_ms = OB_DELAY_MS_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.max_attempts = OB_MAX_ATTEMPTS_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBE, msg.backoff_ms = OB_DELAY_MS_MAX + 1, OB_ERR_FIELD_TYPE);
    /* the other commands' sub, topic, seq, attempt, delay_ms, after, start */
    T_REFUSED(OB_CMD_SUBSCRIBED, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUBSCRIBED, strcpy(msg.sub, "a+b"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.topic[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, memset(msg.topic, 't', sizeof msg.topic), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_DELIVER, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.attempt = 0, OB_ERR_FIELD_TYPE);
    /* DELIVER runs: count, its first time, its last seq */
    T_REFUSED(OB_CMD_DELIVER, msg.count = OB_DELIVER_RUN_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.count = UINT32_MAX, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.times[0] = msg.time + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.times[0] = msg.time - 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, (msg.count = 2, msg.times[0] = 0), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_DELIVER, msg.seq = UINT64_MAX - 1, OB_ERR_FIELD_TYPE); /* count 3 */
    T_REFUSED(OB_CMD_DELIVER, (msg.seq = UINT64_MAX, msg.count = 2), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ACK, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ACK, msg.topic[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ACK, strcpy(msg.sub, "UP"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_NACK, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_NACK, msg.delay_ms = OB_DELAY_MS_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_NACK, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_UNSUBSCRIBE, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_UNSUBSCRIBE, memset(msg.sub, 's', sizeof msg.sub), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_TOPICS, memset(msg.after, 'a', sizeof msg.after), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUBS, memset(msg.after, 'a', sizeof msg.after), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUB_INFO, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUB_INFO, memset(msg.after, 'a', sizeof msg.after), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_SUB_REPOSITION, msg.sub[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUB_REPOSITION, msg.start = (ob_start_t)7, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUB_REPOSITION, (msg.start = OB_START_SEQ, msg.start_seq = 0),
              OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_SUB_DELETE, strcpy(msg.sub, "x.y"), OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_FETCH, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_FETCH, msg.topic[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_FETCH, memset(msg.topic, 't', sizeof msg.topic), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_FETCH, msg.count = OB_FETCH_RANGE_MAX + 1, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_FETCH, msg.time = 1, OB_ERR_FIELD_TYPE); /* a start time needs a range */
#undef T_REFUSED

    /* The limits themselves pass. */
    msg = s_msg(OB_CMD_WELCOME);
    memset(msg.session, 's', OB_WIRE_SESSION_MAX);
    memset(msg.version, 'v', OB_WIRE_VERSION_MAX);
    msg.max_event = OB_EVENT_MAX_CAP;
    msg.heartbeat_ms = OB_HEARTBEAT_MS_MAX;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    msg = s_msg(OB_CMD_HELLO);
    memset(msg.name, 'n', OB_CLIENT_NAME_MAX);
    msg.heartbeat_ms = OB_HEARTBEAT_MS_MIN;
    assert_int_equal(msg.max_run, OB_DELIVER_RUN_MAX);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    msg = s_msg(OB_CMD_DELIVER);
    msg.seq = UINT64_MAX - 2; /* a run of 3 that ends at the last seq */
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    /* Without a run, times is not looked at, nor sent: count 0 and 1 are alike. */
    msg.times[0] = msg.time + 1;
    msg.seq = UINT64_MAX;
    msg.count = 0;
    size_t single_len = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &single_len), 0);
    uint8_t single[OB_BODY_MAX];
    memcpy(single, body, single_len);
    msg.count = 1;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, single_len);
    assert_memory_equal(body, single, len);

    /* A CONFIRM's dup is sent as a bool whatever non-zero value it holds. */
    msg = s_msg(OB_CMD_CONFIRM);
    msg.dup = 42;
    uint8_t header[OB_HEADER_SIZE];
    ob_wire_msg_t decoded;
    ob_wire_encode_header(&msg, header);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
    assert_int_equal(decoded.dup, 1);

    /* No buffer at all. */
    msg = s_msg(OB_CMD_PING);
    assert_int_equal(ob_wire_encode_body(&msg, NULL, 0, &len), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_wire_encode_body(&msg, NULL, 100, &len), OB_ERR_TOO_LARGE);
}

/* --- defaults --------------------------------------------------------------------------- */

static void
test_defaults(void **state)
{
    (void)state;
    ob_wire_msg_t msg;
    uint8_t body[64];
    size_t len = 0;

    /* ob_wire_msg_init: the SUBSCRIBE settings at their defaults, everything else 0. */
    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
    assert_int_equal(msg.command, OB_CMD_SUBSCRIBE);
    assert_int_equal(msg.start, OB_START_NEW);
    assert_int_equal(msg.credit, OB_CREDIT_DEFAULT);
    assert_int_equal(msg.ack_wait_ms, OB_ACK_WAIT_MS_DEFAULT);
    assert_int_equal(msg.max_attempts, OB_MAX_ATTEMPTS_DEFAULT);
    assert_int_equal(msg.backoff_ms, OB_BACKOFF_MS_DEFAULT);
    ob_wire_msg_t zero;
    memset(&zero, 0, sizeof zero);
    zero.command = OB_CMD_NACK;
    memset(&msg, 0xa5, sizeof msg);
    ob_wire_msg_init(&msg, OB_CMD_NACK);
    assert_memory_equal(&msg, &zero, sizeof msg);

    /* Decoding fills the defaults of every absent optional field. */
    static const char subscribe[] = "\x82" T_SUBSCRIBE;
    static const uint8_t subscribe_header[] = {'O', 'B', 1, OB_CMD_SUBSCRIBE};
    assert_int_equal(s_decode(subscribe_header, 4, subscribe, sizeof subscribe - 1, &msg), 0);
    assert_int_equal(msg.req, 1);
    assert_string_equal(msg.sub, "");
    assert_int_equal(msg.pattern_count, 1);
    assert_string_equal(msg.patterns[0], "a");
    assert_int_equal(msg.type_count, 0);
    assert_int_equal(msg.start, OB_START_NEW);
    assert_true(msg.start_seq == 0 && msg.start_time == 0);
    assert_int_equal(msg.credit, OB_CREDIT_DEFAULT);
    assert_int_equal(msg.ack_wait_ms, OB_ACK_WAIT_MS_DEFAULT);
    assert_int_equal(msg.max_attempts, OB_MAX_ATTEMPTS_DEFAULT);
    assert_int_equal(msg.backoff_ms, OB_BACKOFF_MS_DEFAULT);
    /* ... and encoding leaves them out again. */
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof subscribe - 1);
    assert_memory_equal(body, subscribe, len);

    /* A default given explicitly is the same message. */
    static const char explicit_defaults[] =
        "\x86" T_SUBSCRIBE K_CREDIT "\xcd\x03\xe8" K_ACK_WAIT "\xcd\x75\x30" K_MAX_ATTEMPTS
        "\x05" K_BACKOFF "\xcd\x03\xe8";
    ob_wire_msg_t again;
    assert_int_equal(
        s_decode(subscribe_header, 4, explicit_defaults, sizeof explicit_defaults - 1, &again), 0);
    s_assert_same(&msg, &again);

    /* The optional fields of DELIVER, ACK, NACK and OK are 0 when absent. */
    static const char delivery[] = "\x83" T_DELIVERY;
    static const uint8_t ack_header[] = {'O', 'B', 1, OB_CMD_ACK};
    static const uint8_t nack_header[] = {'O', 'B', 1, OB_CMD_NACK};
    assert_int_equal(s_decode(ack_header, 4, delivery, sizeof delivery - 1, &msg), 0);
    assert_int_equal(msg.upto, 0);
    assert_int_equal(s_decode(nack_header, 4, delivery, sizeof delivery - 1, &msg), 0);
    assert_int_equal(msg.delay_ms, 0);
    assert_string_equal(msg.sub, "s");
    assert_string_equal(msg.topic, "t");
    assert_int_equal(msg.seq, 1);
    static const char deliver[] = "\x85" T_DELIVERY K_ATTEMPT "\x01" K_TIME "\x00";
    static const uint8_t deliver_header[] = {'O', 'B', 1, OB_CMD_DELIVER};
    assert_int_equal(s_decode(deliver_header, 4, deliver, sizeof deliver - 1, &msg), 0);
    assert_int_equal(msg.skipped, 0);
    assert_int_equal(msg.count, 0); /* one delivery */
    static const char ok[] = "\x81" K_REQ "\x01";
    static const uint8_t ok_header[] = {'O', 'B', 1, OB_CMD_OK};
    assert_int_equal(s_decode(ok_header, 4, ok, sizeof ok - 1, &msg), 0);
    assert_null(msg.result);
    assert_int_equal(msg.result_len, 0);
    assert_int_equal(msg.more, 0);

    /* Fields a command does not carry stay 0, even when the body holds their keys. */
    static const char topics[] = "\x83" K_REQ "\x01" K_CREDIT "\x05" K_SUB V_S;
    static const uint8_t topics_header[] = {'O', 'B', 1, OB_CMD_TOPICS};
    assert_int_equal(s_decode(topics_header, 4, topics, sizeof topics - 1, &msg), 0);
    assert_int_equal(msg.credit, 0);
    assert_int_equal(msg.ack_wait_ms, 0);
    assert_string_equal(msg.sub, "");
}

/* --- DELIVER runs ----------------------------------------------------------------------- */

static void
test_deliver_run(void **state)
{
    (void)state;
    static const uint8_t header[] = {'O', 'B', 1, OB_CMD_DELIVER};
    uint8_t body[OB_BODY_MAX];
    size_t len = 0;
    ob_wire_msg_t msg;

    /* A run's fields as they were on the wire: count, and each time in order. */
    static const char run[] =
        "\x88" T_DELIVER K_SKIPPED "\x07" K_COUNT "\x03" K_TIMES "\x93\x05\xcd\x01\x00\xcf\x00"
        "\x00\x00\x01\x00\x00\x00\x00";
    assert_int_equal(s_decode(header, 4, run, sizeof run - 1, &msg), 0);
    assert_string_equal(msg.sub, "s");
    assert_string_equal(msg.topic, "t");
    assert_int_equal(msg.seq, 1);
    assert_int_equal(msg.attempt, 1);
    assert_int_equal(msg.time, 5);
    assert_int_equal(msg.skipped, 7);
    assert_int_equal(msg.count, 3);
    assert_int_equal(msg.times[0], 5);
    assert_int_equal(msg.times[1], 256);
    assert_true(msg.times[2] == 1ull << 32);
    /* times past the run are not read nor zeroed (wire.h) */
    /* ... and it re-encodes to the same bytes */
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof run - 1);
    assert_memory_equal(body, run, len);

    /* count 1 needs no times: a single delivery, re-encoded without count. */
    static const char one[] = "\x86" T_DELIVER K_COUNT "\x01";
    static const char single[] = "\x85" T_DELIVER;
    assert_int_equal(s_decode(header, 4, one, sizeof one - 1, &msg), 0);
    assert_int_equal(msg.count, 1);
    assert_int_equal(msg.seq, 1);
    assert_int_equal(msg.time, 5);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof single - 1);
    assert_memory_equal(body, single, len);
    /* ... nor looks at any: a times of another length, or not an array, is no error */
    static const char one_times[] = "\x87" T_DELIVER K_COUNT "\x01" K_TIMES "\x92\x06\x07";
    assert_int_equal(s_decode(header, 4, one_times, sizeof one_times - 1, &msg), 0);
    assert_int_equal(msg.count, 1);
    static const char one_nil[] = "\x87" T_DELIVER K_COUNT "\x01" K_TIMES "\xc0";
    assert_int_equal(s_decode(header, 4, one_nil, sizeof one_nil - 1, &msg), 0);
    /* count 1 at the last seq does not wrap */
    static const char one_last[] =
        "\x86" K_SUB V_S K_TOPIC V_T K_SEQ "\xcf\xff\xff\xff\xff\xff\xff\xff\xff" K_ATTEMPT
        "\x01" K_TIME "\x05" K_COUNT "\x01";
    assert_int_equal(s_decode(header, 4, one_last, sizeof one_last - 1, &msg), 0);
    assert_true(msg.seq == UINT64_MAX);

    /* A HELLO's max_run as it was on the wire; absent is 0. */
    static const uint8_t hello_header[] = {'O', 'B', 1, OB_CMD_HELLO};
    static const char hello[] = "\x82" T_HELLO K_MAX_RUN "\x40";
    assert_int_equal(s_decode(hello_header, 4, hello, sizeof hello - 1, &msg), 0);
    assert_int_equal(msg.max_run, OB_DELIVER_RUN_MAX);
    static const char hello_none[] = "\x81" T_HELLO;
    assert_int_equal(s_decode(hello_header, 4, hello_none, sizeof hello_none - 1, &msg), 0);
    assert_int_equal(msg.max_run, 0);
    /* DELIVER's count is not HELLO's, nor max_run DELIVER's */
    static const char hello_count[] = "\x82" T_HELLO K_COUNT "\x40";
    assert_int_equal(s_decode(hello_header, 4, hello_count, sizeof hello_count - 1, &msg), 0);
    assert_int_equal(msg.max_run, 0);
    assert_int_equal(msg.count, 0);
    static const char deliver_max_run[] = "\x86" T_DELIVER K_MAX_RUN "\x40";
    assert_int_equal(s_decode(header, 4, deliver_max_run, sizeof deliver_max_run - 1, &msg), 0);
    assert_int_equal(msg.max_run, 0);
    assert_int_equal(msg.count, 0);
}

/* --- an OK's result ---------------------------------------------------------------------- */

/* Decodes body (len bytes, in place) as an OK and asserts that its result is the n bytes at
   body + at (n 0: none). */
static void
s_assert_result_at(const uint8_t *body, size_t len, size_t at, size_t n)
{
    static const uint8_t header[] = {'O', 'B', 1, OB_CMD_OK};
    ob_wire_msg_t msg;
    int rc = ob_wire_decode(header, sizeof header, body, len, &msg);
    if (rc)
        fail_msg("decode gives %d (%s)", rc, ob_strerror(rc));
    if (n == 0) {
        assert_null(msg.result);
        assert_int_equal(msg.result_len, 0);
        return;
    }
    assert_ptr_equal(msg.result, body + at);
    assert_int_equal(msg.result_len, n);
}

static void
test_ok_result(void **state)
{
    (void)state;
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[256];
    size_t len = 0;
    ob_wire_msg_t msg;
    ob_wire_msg_t decoded;

    /* A map result round-trips, pointing into the body given to the decoder. */
    msg = s_msg(OB_CMD_OK);
    ob_wire_encode_header(&msg, header);
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(ob_wire_decode(header, sizeof header, body, len, &decoded), 0);
    assert_true(decoded.result > body && decoded.result + decoded.result_len <= body + len);
    assert_int_equal(decoded.result_len, sizeof s_result_map);
    assert_memory_equal(decoded.result, s_result_map, sizeof s_result_map);
    assert_int_equal(decoded.req, 9);
    assert_int_equal(decoded.more, 1);

    /* An array result likewise. */
    msg.result = s_result_array;
    msg.result_len = sizeof s_result_array;
    msg.more = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(ob_wire_decode(header, sizeof header, body, len, &decoded), 0);
    assert_true(decoded.result > body && decoded.result + decoded.result_len <= body + len);
    assert_int_equal(decoded.result_len, sizeof s_result_array);
    assert_memory_equal(decoded.result, s_result_array, sizeof s_result_array);
    assert_int_equal(decoded.more, 0);

    /* No result: result_len 0 sends none, whatever result points at. */
    msg.result_len = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(ob_wire_decode(header, sizeof header, body, len, &decoded), 0);
    assert_null(decoded.result);
    assert_int_equal(decoded.result_len, 0);

    /* The span is exact wherever the result sits among other keys, and whatever it is. */
    static const uint8_t middle[] = {0x85, 0xa1, 'x',  0x92, 0x01, 0x81, 0xa1, 'y',
                                     0xc0, 0xa6, 'r',  'e',  's',  'u',  'l',  't', /* [12..] */
                                     0x93, 0x01, 0x81, 0xa1, 'b',  0x91, 0xc3, 0xa1,
                                     's',  0xa3, 'r',  'e',  'q',  0x03, 0xa4, 'm',
                                     'o',  'r',  'e',  0xc3, 0xa1, 'z',  0xa1, 'q'};
    s_assert_result_at(middle, sizeof middle, 16, 9);
    static const uint8_t last[] = {0x82, 0xa3, 'r', 'e', 'q', 0x03, 0xa6,
                                   'r',  'e',  's', 'u', 'l', 't',  0x80};
    s_assert_result_at(last, sizeof last, 13, 1);
    static const uint8_t first_nil[] = {0x82, 0xa6, 'r',  'e', 's', 'u', 'l',
                                        't',  0xc0, 0xa3, 'r', 'e', 'q', 0x03};
    s_assert_result_at(first_nil, sizeof first_nil, 8, 1);
    static const uint8_t big_str[] = {0x82, 0xa3, 'r', 'e',  'q',  0x03, 0xa6, 'r', 'e', 's',
                                      'u',  'l',  't', 0xda, 0x00, 0x03, 'a',  'b', 'c'};
    s_assert_result_at(big_str, sizeof big_str, 13, 6);
    static const uint8_t none[] = {0x82, 0xa3, 'r', 'e', 'q', 0x03, 0xa7, 'r',
                                   'e',  's',  'u', 'l', 't', 's',  0x80};
    s_assert_result_at(none, sizeof none, 0, 0); /* "results" is another key */

    /* Encoding refuses a result the decoder would refuse. */
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        int rc;
    } bad[] = {
        {"truncated array", T_BODY("\x92\x01"), OB_ERR_FIELD_TYPE},
        {"truncated str",
         T_BODY("\xa3"
                "ab"),
         OB_ERR_FIELD_TYPE},
        {"two objects", T_BODY("\x90\x90"), OB_ERR_FIELD_TYPE},
        {"reserved byte", T_BODY("\xc1"), OB_ERR_FIELD_TYPE},
        {"ext", T_BODY("\xd4\x01\x00"), OB_ERR_FIELD_TYPE},
        {"map over the cap", T_BODY("\xde\x00\x41"), OB_ERR_TOO_LARGE},
        {"too deep in the body", T_BODY("\x91\x91\x91\x91\x91\x91\x91\x90"), OB_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg = s_msg(OB_CMD_OK);
        msg.result = (const uint8_t *)bad[i].bytes;
        msg.result_len = bad[i].len;
        len = 12345;
        int rc = ob_wire_encode_body(&msg, body, sizeof body, &len);
        if (rc != bad[i].rc)
            fail_msg("%s: got %d (%s)", bad[i].name, rc, ob_strerror(rc));
        assert_int_equal(len, 12345);
    }
    /* One level less deep is fine. */
    msg = s_msg(OB_CMD_OK);
    msg.result = (const uint8_t *)"\x91\x91\x91\x91\x91\x91\x90";
    msg.result_len = 7;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);

    /* A result that takes the body to exactly OB_BODY_MAX passes; one byte more is too
       large, however big the caller's buffer. The body is {req: 9, result: bin 32}: 13
       bytes before the result, whose bin header takes 5 more. */
    size_t head = 13 + 5;
    uint8_t *result = calloc(1, OB_BODY_MAX);
    uint8_t *big = malloc(2 * OB_BODY_MAX);
    assert_non_null(result);
    assert_non_null(big);
    for (size_t extra = 0; extra < 2; extra++) {
        size_t n = OB_BODY_MAX - head + extra; /* bin payload */
        result[0] = 0xc6;
        result[1] = (uint8_t)(n >> 24);
        result[2] = (uint8_t)(n >> 16);
        result[3] = (uint8_t)(n >> 8);
        result[4] = (uint8_t)n;
        msg = s_msg(OB_CMD_OK);
        msg.more = 0;
        msg.result = result;
        msg.result_len = 5 + n;
        len = 12345;
        int rc = ob_wire_encode_body(&msg, big, 2 * OB_BODY_MAX, &len);
        if (extra == 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(len, OB_BODY_MAX);
            s_assert_result_at(big, len, 13, 5 + n);
        } else {
            assert_int_equal(rc, OB_ERR_TOO_LARGE);
            assert_int_equal(len, 12345);
        }
    }
    free(result);
    free(big);
}

static void
test_command_names(void **state)
{
    (void)state;
    static const struct {
        int command;
        const char *name;
    } names[] = {
        {OB_CMD_HELLO, "HELLO"},
        {OB_CMD_WELCOME, "WELCOME"},
        {OB_CMD_PING, "PING"},
        {OB_CMD_PONG, "PONG"},
        {OB_CMD_ERROR, "ERROR"},
        {OB_CMD_OK, "OK"},
        {OB_CMD_PUBLISH, "PUBLISH"},
        {OB_CMD_CONFIRM, "CONFIRM"},
        {OB_CMD_SUBSCRIBE, "SUBSCRIBE"},
        {OB_CMD_SUBSCRIBED, "SUBSCRIBED"},
        {OB_CMD_DELIVER, "DELIVER"},
        {OB_CMD_ACK, "ACK"},
        {OB_CMD_NACK, "NACK"},
        {OB_CMD_UNSUBSCRIBE, "UNSUBSCRIBE"},
        {OB_CMD_TOPICS, "TOPICS"},
        {OB_CMD_SUBS, "SUBS"},
        {OB_CMD_SUB_INFO, "SUB_INFO"},
        {OB_CMD_SUB_REPOSITION, "SUB_REPOSITION"},
        {OB_CMD_SUB_DELETE, "SUB_DELETE"},
        {OB_CMD_FETCH, "FETCH"},
        {0, "UNKNOWN"},
        {-1, "UNKNOWN"},
        {0x07, "UNKNOWN"},
        {0x26, "UNKNOWN"},
        {0x36, "UNKNOWN"},
        {0x1ff, "UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(ob_command_name(names[i].command), names[i].name);
    /* s_commands lists every command: each has a name and 255 - 20 bytes have none. */
    size_t known = 0;
    for (int c = 0; c <= 0xff; c++)
        known += strcmp(ob_command_name(c), "UNKNOWN") != 0;
    assert_int_equal(known, T_NCOMMANDS);

    assert_string_equal(ob_start_name(OB_START_NEW), "new");
    assert_string_equal(ob_start_name(OB_START_EARLIEST), "earliest");
    assert_string_equal(ob_start_name(OB_START_SEQ), "seq");
    assert_string_equal(ob_start_name(OB_START_TIME), "time");
    assert_null(ob_start_name((ob_start_t)4));
    assert_null(ob_start_name((ob_start_t)-1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_command),
        cmocka_unit_test(test_golden_bodies),
        cmocka_unit_test(test_reason_truncated),
        cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_malformed_bodies),
        cmocka_unit_test(test_body_size_cap),
        cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_deliver_run),
        cmocka_unit_test(test_ok_result),
        cmocka_unit_test(test_command_names),
    };
    return cmocka_run_group_tests(tests, NULL, s_release_kept);
}
