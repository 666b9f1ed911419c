/*  test_command: the command table (proto/codec/command_table.h) against the protocol as
    PROTOCOL.md writes it: the commands each side sends, the requests that carry req, the
    admin requests and their levels (14.4), the frames of each message (5.1), and that the
    codec knows exactly the commands of the table (ob_command_name, ob_wire_decode). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "command_table.h"
#include "orderbus/orderbus.h"

typedef struct t_want {
    int command;
    const char *name;
    ob_command_dir_t dir;
    int req;
    ob_command_admin_t admin;
    size_t frames_min, frames_max;
} t_want_t;

#define B OB_COMMAND_TO_BROKER
#define C OB_COMMAND_TO_CLIENT
#define NONE OB_COMMAND_ADMIN_NONE
#define READ OB_COMMAND_ADMIN_READ
#define WRITE OB_COMMAND_ADMIN_WRITE

static const t_want_t s_want[] = {
    {OB_CMD_HELLO, "HELLO", B, 0, NONE, 2, 2},
    {OB_CMD_WELCOME, "WELCOME", C, 0, NONE, 2, 2},
    {OB_CMD_PING, "PING", B, 0, NONE, 2, 2},
    {OB_CMD_PONG, "PONG", C, 0, NONE, 2, 2},
    {OB_CMD_ERROR, "ERROR", C, 0, NONE, 2, 2},
    {OB_CMD_OK, "OK", C, 1, NONE, 2, 2 + 256}, /* a FETCH range: 256 events (5.1, 5.4) */
    {OB_CMD_PUBLISH, "PUBLISH", B, 1, NONE, 3, 3},
    {OB_CMD_CONFIRM, "CONFIRM", C, 1, NONE, 2, 2},
    {OB_CMD_SUBSCRIBE, "SUBSCRIBE", B, 1, NONE, 2, 2},
    {OB_CMD_SUBSCRIBED, "SUBSCRIBED", C, 1, NONE, 2, 2},
    {OB_CMD_DELIVER, "DELIVER", C, 0, NONE, 3, 2 + OB_DELIVER_RUN_MAX},
    {OB_CMD_ACK, "ACK", B, 0, NONE, 2, 2},
    {OB_CMD_NACK, "NACK", B, 0, NONE, 2, 2},
    {OB_CMD_UNSUBSCRIBE, "UNSUBSCRIBE", B, 1, NONE, 2, 2},
    {OB_CMD_TOPICS, "TOPICS", B, 1, READ, 2, 2},
    {OB_CMD_SUBS, "SUBS", B, 1, READ, 2, 2},
    {OB_CMD_SUB_INFO, "SUB_INFO", B, 1, READ, 2, 2},
    {OB_CMD_SUB_REPOSITION, "SUB_REPOSITION", B, 1, WRITE, 2, 2},
    {OB_CMD_SUB_DELETE, "SUB_DELETE", B, 1, WRITE, 2, 2},
    {OB_CMD_FETCH, "FETCH", B, 1, READ, 2, 2},
};
#define T_COMMANDS (sizeof s_want / sizeof *s_want)

static void
test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < T_COMMANDS; i++) {
        const t_want_t *w = &s_want[i];
        const ob_command_info_t *info = ob_command_info(w->command);
        assert_non_null(info);
        assert_string_equal(info->name, w->name);
        assert_string_equal(ob_command_name(w->command), w->name);
        assert_int_equal(info->dir, w->dir);
        assert_int_equal(info->req, w->req);
        /* every request but HELLO needs the session HELLO opens */
        assert_int_equal(info->session, w->dir == B && w->command != OB_CMD_HELLO);
        assert_int_equal(info->admin, w->admin);
        assert_int_equal(info->frames_min, w->frames_min);
        assert_int_equal(info->frames_max, w->frames_max);
    }
}

/* Nothing else is a command: not to the table, not to the codec. */
static void
test_unknown(void **state)
{
    (void)state;
    size_t known = 0;
    for (int byte = -1; byte <= UINT8_MAX + 1; byte++) {
        const ob_command_info_t *info = ob_command_info(byte);
        known += info != NULL;
        assert_int_equal(info == NULL, !strcmp(ob_command_name(byte), "UNKNOWN"));
        if (byte < 0 || byte > UINT8_MAX)
            continue;
        const uint8_t header[OB_HEADER_SIZE] = {OB_WIRE_SIGNATURE_0, OB_WIRE_SIGNATURE_1,
                                                OB_WIRE_VERSION, (uint8_t)byte};
        static const uint8_t body[] = {0x80}; /* {} */
        ob_wire_msg_t msg;
        if (!info)
            assert_int_equal(ob_wire_decode(header, sizeof header, body, sizeof body, &msg),
                             OB_ERR_UNKNOWN_COMMAND);
    }
    assert_int_equal(known, T_COMMANDS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
