/*  ob_command: see command_table.h. */
#include "command_table.h"

#include <stdint.h>

#define S_TO_BROKER(name, req, admin, min, max)                                                    \
    {                                                                                              \
        name, OB_COMMAND_TO_BROKER, req, 1, admin, min, max                                        \
    }
#define S_TO_CLIENT(name, req, min, max)                                                           \
    {                                                                                              \
        name, OB_COMMAND_TO_CLIENT, req, 0, 0, min, max                                            \
    }
#define S_F OB_COMMAND_FRAMES
#define S_E OB_COMMAND_EVENT_FRAMES

/* Indexed by the command byte; an entry without a name is no command. */
static const ob_command_info_t s_commands[UINT8_MAX + 1] = {
    /* HELLO opens the session: the one request a client sends without one */
    [OB_CMD_HELLO] = {"HELLO", OB_COMMAND_TO_BROKER, 0, 0, OB_COMMAND_ADMIN_NONE, S_F, S_F},
    [OB_CMD_WELCOME] = S_TO_CLIENT("WELCOME", 0, S_F, S_F),
    [OB_CMD_PING] = S_TO_BROKER("PING", 0, OB_COMMAND_ADMIN_NONE, S_F, S_F),
    [OB_CMD_PONG] = S_TO_CLIENT("PONG", 0, S_F, S_F),
    [OB_CMD_ERROR] = S_TO_CLIENT("ERROR", 0, S_F, S_F),
    [OB_CMD_OK] = S_TO_CLIENT("OK", 1, S_F, OB_FETCH_FRAMES_MAX), /* FETCH: an event, a range */
    [OB_CMD_PUBLISH] = S_TO_BROKER("PUBLISH", 1, OB_COMMAND_ADMIN_NONE, S_E, S_E),
    [OB_CMD_CONFIRM] = S_TO_CLIENT("CONFIRM", 1, S_F, S_F),
    [OB_CMD_SUBSCRIBE] = S_TO_BROKER("SUBSCRIBE", 1, OB_COMMAND_ADMIN_NONE, S_F, S_F),
    [OB_CMD_SUBSCRIBED] = S_TO_CLIENT("SUBSCRIBED", 1, S_F, S_F),
    [OB_CMD_DELIVER] = S_TO_CLIENT("DELIVER", 0, S_E, OB_DELIVER_FRAMES_MAX), /* a run */
    [OB_CMD_ACK] = S_TO_BROKER("ACK", 0, OB_COMMAND_ADMIN_NONE, S_F, S_F),
    [OB_CMD_NACK] = S_TO_BROKER("NACK", 0, OB_COMMAND_ADMIN_NONE, S_F, S_F),
    [OB_CMD_UNSUBSCRIBE] = S_TO_BROKER("UNSUBSCRIBE", 1, OB_COMMAND_ADMIN_NONE, S_F, S_F),
    [OB_CMD_TOPICS] = S_TO_BROKER("TOPICS", 1, OB_COMMAND_ADMIN_READ, S_F, S_F),
    [OB_CMD_SUBS] = S_TO_BROKER("SUBS", 1, OB_COMMAND_ADMIN_READ, S_F, S_F),
    [OB_CMD_SUB_INFO] = S_TO_BROKER("SUB_INFO", 1, OB_COMMAND_ADMIN_READ, S_F, S_F),
    [OB_CMD_SUB_REPOSITION] = S_TO_BROKER("SUB_REPOSITION", 1, OB_COMMAND_ADMIN_WRITE, S_F, S_F),
    [OB_CMD_SUB_DELETE] = S_TO_BROKER("SUB_DELETE", 1, OB_COMMAND_ADMIN_WRITE, S_F, S_F),
    [OB_CMD_FETCH] = S_TO_BROKER("FETCH", 1, OB_COMMAND_ADMIN_READ, S_F, S_F),
};

const ob_command_info_t *
ob_command_info(int command)
{
    if (command < 0 || command > UINT8_MAX || !s_commands[command].name)
        return NULL;
    return &s_commands[command];
}
