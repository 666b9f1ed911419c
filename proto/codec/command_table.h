/*  ob_command: the command table of the protocol (proto/PROTOCOL.md sections 5 and 6), the
    one place that says which commands exist, who sends each, which must carry a req, which
    are admin requests and at which level, which need a session, and how many frames each
    takes (after the ROUTER routing id). Internal to liborderbus and the broker (ob_codec,
    not installed): the codec (wire.c), the client (client.c), the broker (server.c) and the
    test double of the broker (tests/doubles/fake_broker.c) all read it, so a new command is
    one line here (and its keys in wire.c). */
#ifndef OB_COMMAND_TABLE_H
#define OB_COMMAND_TABLE_H

#include <stddef.h>

#include "orderbus/limits.h"
#include "orderbus/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Who sends a command. */
typedef enum ob_command_dir {
    OB_COMMAND_TO_BROKER = 1, /* a client sends it, the broker receives it */
    OB_COMMAND_TO_CLIENT,     /* the broker sends it */
} ob_command_dir_t;

/* The admin level a request needs (PROTOCOL.md 13, 14.4), none for the others. */
typedef enum ob_command_admin {
    OB_COMMAND_ADMIN_NONE = 0, /* not an admin request */
    OB_COMMAND_ADMIN_READ,     /* TOPICS, SUBS, SUB_INFO, FETCH */
    OB_COMMAND_ADMIN_WRITE,    /* SUB_REPOSITION, SUB_DELETE */
} ob_command_admin_t;

#define OB_COMMAND_FRAMES 2 /* frames of a message without events: header, body */
#define OB_COMMAND_EVENT_FRAMES (OB_COMMAND_FRAMES + 1) /* ... and with one event frame */

/* One command. */
typedef struct ob_command_info {
    const char *name;         /* as PROTOCOL.md spells it */
    ob_command_dir_t dir;     /* who sends it */
    int req;                  /* 1: its body must carry a req (ERROR: optional; HELLO: may) */
    int session;              /* 1: the broker answers it only within a session (not HELLO) */
    ob_command_admin_t admin; /* the admin level it needs */
    size_t frames_min;        /* frames it takes, at least (header, body, events) */
    size_t frames_max;        /* ... and at most (an event frame each beyond 2) */
} ob_command_info_t;

/* Returns the entry of command (any int), or NULL if it is no command. The entry is static:
   never freed, valid for the life of the program. */
const ob_command_info_t *ob_command_info(int command);

#ifdef __cplusplus
}
#endif

#endif
