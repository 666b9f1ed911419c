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

/* Returns a valid message of each command, as a client or broker would fill it. */
static ob_wire_msg_t
s_msg(uint8_t command)
{
    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = command;
    switch (command) {
    case OB_CMD_HELLO:
        strcpy(msg.name, "webhook-adapter");
        msg.heartbeat_ms = 2500;
        break;
    case OB_CMD_WELCOME:
        strcpy(msg.version, "0.1.0");
        strcpy(msg.session, "5f1c0e6a9b3d4e21");
        msg.heartbeat_ms = OB_HEARTBEAT_MS_DEFAULT;
        msg.max_event = OB_EVENT_MAX_DEFAULT;
        break;
    case OB_CMD_ERROR:
        msg.req = 42;
        msg.code = ob_error_to_wire(OB_ERR_INVALID_TOPIC);
        strcpy(msg.reason, "invalid topic name: \"Oms\"");
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
    default:
        break;
    }
    return msg;
}

static const uint8_t s_commands[] = {OB_CMD_HELLO, OB_CMD_WELCOME, OB_CMD_PING,   OB_CMD_PONG,
                                     OB_CMD_ERROR, OB_CMD_PUBLISH, OB_CMD_CONFIRM};

#define T_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* Asserts that every field of a and b is the same. */
static void
s_assert_same(const ob_wire_msg_t *a, const ob_wire_msg_t *b)
{
    assert_int_equal(a->command, b->command);
    assert_true(a->req == b->req);
    assert_true(a->seq == b->seq);
    assert_int_equal(a->dup, b->dup);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->heartbeat_ms, b->heartbeat_ms);
    assert_true(a->max_event == b->max_event);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->reason, b->reason);
    assert_string_equal(a->session, b->session);
    assert_string_equal(a->version, b->version);
}

/* Decodes private copies of header and body (so that ASan sees any over-read). */
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
    free(b);
    return rc;
}

/* --- round trips ------------------------------------------------------------------------- */

static void
test_round_trip_every_command(void **state)
{
    (void)state;
    for (size_t i = 0; i < T_NCOMMANDS; i++) {
        ob_wire_msg_t msg = s_msg(s_commands[i]);
        ob_wire_msg_t decoded;
        uint8_t header[OB_HEADER_SIZE];
        uint8_t body[OB_BODY_MAX];
        size_t len = 0;

        ob_wire_encode_header(&msg, header);
        assert_int_equal(header[0], 'O');
        assert_int_equal(header[1], 'B');
        assert_int_equal(header[2], 1);
        assert_int_equal(header[3], s_commands[i]);
        assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
        assert_int_equal(s_decode(header, sizeof header, body, len, &decoded), 0);
        s_assert_same(&msg, &decoded);

        /* Every proper prefix of the body is interrupted, and the header is known by then. */
        for (size_t n = 0; n < len; n++) {
            int rc = s_decode(header, sizeof header, body, n, &decoded);
            if (rc != OB_ERR_TRUNCATED)
                fail_msg("%s: prefix %zu/%zu gives %d (%s)", ob_command_name(s_commands[i]), n, len,
                         rc, ob_strerror(rc));
            assert_int_equal(decoded.command, s_commands[i]);
        }

        /* Every buffer too small for the body is refused cleanly. */
        for (size_t cap = 0; cap < len; cap++) {
            uint8_t *small = malloc(cap ? cap : 1);
            size_t written = 12345;
            assert_non_null(small);
            assert_int_equal(ob_wire_encode_body(&msg, small, cap, &written), OB_ERR_TOO_LARGE);
            assert_int_equal(written, 12345);
            free(small);
        }
    }
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

    /* Optional fields at 0 are left out: HELLO without heartbeat, ERROR without req. */
    static const uint8_t hello[] = {0x81, 0xa4, 'n', 'a', 'm', 'e', 0xa0};
    msg = s_msg(OB_CMD_HELLO);
    msg.name[0] = '\0';
    msg.heartbeat_ms = 0;
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);
    assert_int_equal(len, sizeof hello);
    assert_memory_equal(body, hello, len);

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
        {"command 0x06", {'O', 'B', 1, 0x06}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
        {"command 0x12", {'O', 'B', 1, 0x12}, 4, OB_ERR_UNKNOWN_COMMAND, 0},
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
    T_REFUSED(OB_CMD_WELCOME, msg.session[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.version[0] = '\0', OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, memset(msg.session, 's', sizeof msg.session), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_WELCOME, memset(msg.version, 'v', sizeof msg.version), OB_ERR_TOO_LARGE);
    T_REFUSED(OB_CMD_WELCOME, msg.heartbeat_ms = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.max_event = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_WELCOME, msg.max_event = OB_EVENT_MAX_CAP + 1ull, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_ERROR, msg.code = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_CONFIRM, msg.seq = 0, OB_ERR_FIELD_TYPE);
    T_REFUSED(OB_CMD_PUBLISH, msg.req = 0, OB_ERR_FIELD_TYPE);
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
    assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &len), 0);

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

static void
test_command_names(void **state)
{
    (void)state;
    assert_string_equal(ob_command_name(OB_CMD_HELLO), "HELLO");
    assert_string_equal(ob_command_name(OB_CMD_WELCOME), "WELCOME");
    assert_string_equal(ob_command_name(OB_CMD_PING), "PING");
    assert_string_equal(ob_command_name(OB_CMD_PONG), "PONG");
    assert_string_equal(ob_command_name(OB_CMD_ERROR), "ERROR");
    assert_string_equal(ob_command_name(OB_CMD_PUBLISH), "PUBLISH");
    assert_string_equal(ob_command_name(OB_CMD_CONFIRM), "CONFIRM");
    assert_string_equal(ob_command_name(0), "UNKNOWN");
    assert_string_equal(ob_command_name(-1), "UNKNOWN");
    assert_string_equal(ob_command_name(0x1ff), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_command), cmocka_unit_test(test_golden_bodies),
        cmocka_unit_test(test_reason_truncated),         cmocka_unit_test(test_header_errors),
        cmocka_unit_test(test_malformed_bodies),         cmocka_unit_test(test_body_size_cap),
        cmocka_unit_test(test_encode_refuses_invalid),   cmocka_unit_test(test_command_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
