/*  ob_oms_command: the commands an OMS sends on mp.<oms_id> and their outcomes on oms.<oms_id>
    (gateway/COMMANDS.md is the specification; this is its parser and builders).

    A command is the JSON data of an event on mp.<oms_id>: update a project item's status
    and/or user secrets (4.8), post a message (4.10), edit a message (4.12). The parser is
    strict (unknown keys, wrong types and values out of the Marketplace's enums are refused
    with a code and a message), capped (gw_limits.h), and makes the Marketplace request body
    at once, with exactly the keys the Marketplace accepts. The body may hold user secrets:
    it is never to be logged.

    Commands of one project item run in order: ob_oms_command_order_key gives the key the
    connector serialises on. The outcome of a command is one event on oms.<oms_id>,
    command.completed or command.failed, that repeats the command's id; its event id is
    derived from the OMS and the command id, so that a command has one outcome on the bus
    however often it is retried:
        id = lowercase hex of BLAKE2b-256 (crypto_generichash, 32 bytes) of
             "orderbus.gateway.outcome.v1" and its NUL, u64 big-endian oms_id, then the
             command id's bytes. */
#ifndef OB_GW_COMMAND_H
#define OB_GW_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"

typedef enum ob_oms_command_kind {
    OB_OMS_COMMAND_UPDATE_PROJECT_ITEM, /* "update_project_item": PATCH .../project_items/<iid> */
    OB_OMS_COMMAND_POST_MESSAGE,        /* "post_message": POST .../messages */
    OB_OMS_COMMAND_EDIT_MESSAGE         /* "edit_message": PATCH .../messages/<id> */
} ob_oms_command_kind_t;

typedef struct ob_oms_command {
    ob_oms_command_kind_t kind;        /* what to do */
    char id[OB_GW_COMMAND_ID_MAX + 1]; /* the OMS's id of the command, repeated by its outcome */
    uint64_t project_id;               /* update, post: the project; edit: 0 */
    uint64_t project_item_id;          /* update: the item's iid; post: 0 for a project message */
    uint64_t message_id;               /* edit: the message; else 0 */
    char *body;                        /* the Marketplace request body, compact JSON, owned */
    size_t body_len;                   /* strlen(body) */
} ob_oms_command_t;

/* The HTTP request that executes a command against the Marketplace. */
typedef struct ob_oms_command_request {
    const char *method;        /* "PATCH" or "POST" (static) */
    char path[OB_GW_PATH_MAX]; /* e.g. "/api/v1/oms/1/projects/2/project_items/3" */
    const char *body;          /* JSON, borrowed from the command (lives as long as it) */
    size_t body_len;           /* its bytes */
} ob_oms_command_request_t;

#define OB_OMS_COMMAND_ERR_MAX 160 /* useful size of ob_oms_command_parse's message buffer */

/* Parses a command (text: len bytes, borrowed, at most OB_GW_COMMAND_MAX). On success
   *ret_command is the caller's, destroyed with ob_oms_command_destroy. On failure writes a
   one-line message into errbuf (errlen bytes, may be 0): which key and why (never a value).
   Returns 0, OB_ERR_MALFORMED (not JSON, not an object), OB_ERR_TOO_LARGE (over a cap),
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE (a wrong type, an unknown key, a value outside its
   enum or its character set, an id below 1) or -ENOMEM. */
int ob_oms_command_parse(const char *text, size_t len, ob_oms_command_t **ret_command, char *errbuf,
                         size_t errlen);

/* Frees a command and sets *self_p to NULL; accepts NULL. */
void ob_oms_command_destroy(ob_oms_command_t **self_p);

/* Reads only the "id" of a command that ob_oms_command_parse refused, so that its refusal can
   still name it (ob_oms_command_refusal). Writes it into ret_id. Returns 0, or the code of why
   there is no valid id (OB_ERR_MALFORMED, OB_ERR_TOO_LARGE, OB_ERR_MISSING_FIELD,
   OB_ERR_FIELD_TYPE, -ENOMEM). */
int ob_oms_command_id(const char *text, size_t len, char ret_id[OB_GW_COMMAND_ID_MAX + 1]);

/* Checks that the bus event carrying command has the type COMMANDS.md requires,
   "command." followed by the command's name (type: borrowed, NUL-terminated). Returns 0 or
   OB_ERR_FIELD_TYPE. */
int ob_oms_command_check_type(const ob_oms_command_t *command, const char *type);

/* The command's name in COMMANDS.md ("update_project_item", ...); static. */
const char *ob_oms_command_name(ob_oms_command_kind_t kind);

/* Writes the ordering key of command into ret_key: "item.<project>.<iid>" for an update or a
   message on an item, "project.<project>" for a message on a project, "message.<id>" for an
   edit. Commands with the same key run one at a time, in order. Cannot fail. */
void ob_oms_command_order_key(const ob_oms_command_t *command, char ret_key[OB_GW_ORDER_KEY_TEXT]);

/* Fills *ret_request with the request that executes command (borrowed) for OMS oms_id.
   Cannot fail. */
void ob_oms_command_request(uint64_t oms_id, const ob_oms_command_t *command,
                            ob_oms_command_request_t *ret_request);

/* Encodes the outcome event of command (borrowed) after the Marketplace answered HTTP
   status with body (borrowed, len bytes; may be empty): command.completed for 2xx, with
   data {"command_id", "command", "status", "response": the answer as JSON (or as a string
   when it is not JSON)}; command.failed otherwise, with data {"command_id", "command",
   "status", "error": the error body's "error" value, string or object (or the answer as a
   string when it is no error body)}. An answer over OB_GW_ANSWER_MAX bytes is cut and kept as
   a string. The event: topic oms.<oms_id>, time time_us, the command's ids (a posted
   message's id from the answer), source OB_MKT_EVENT_SOURCE. On success *ret_buf is the
   caller's to free() and *ret_len its size. Returns 0, OB_ERR_INVALID_EVENT, OB_ERR_TOO_LARGE
   or -ENOMEM. */
int ob_oms_command_outcome(uint64_t oms_id, const ob_oms_command_t *command, int status,
                           const char *body, size_t len, uint64_t time_us, uint8_t **ret_buf,
                           size_t *ret_len);

/* Writes the event id of the outcome of command command_id (borrowed, NUL-terminated) of
   OMS oms_id into ret_id: the derivation at the top of this file. */
void ob_oms_outcome_id(uint64_t oms_id, const char *command_id, char ret_id[OB_GW_EVENT_ID_TEXT]);

/* Encodes the command.failed of a command the gateway refused without calling the
   Marketplace (ob_oms_command_parse failed): status 0, "command" null, "error" the reason
   (borrowed text), for the command id (borrowed, from ob_oms_command_id). Returns as
   ob_oms_command_outcome. */
int ob_oms_command_refusal(uint64_t oms_id, const char *command_id, const char *reason,
                           uint64_t time_us, uint8_t **ret_buf, size_t *ret_len);

#endif
