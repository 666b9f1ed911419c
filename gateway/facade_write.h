/*  ob_fw: the write side of the Ordering API facade (issue 17), pure translation: no HTTP,
    no broker. An OMS written for the Marketplace (reference sections 4.8, 4.10, 4.12) sends

        PATCH|PUT /api/v1/oms/{oms_id}/projects/{p_id}/project_items/{pi_id}
        POST      /api/v1/oms/{oms_id}/messages
        PATCH|PUT /api/v1/oms/{oms_id}/messages/{m_id}

    to the gateway instead. This class routes such a request, checks its JSON body at once as
    the Marketplace would (its JSON Schemas, the json-schema gem's first error in its words,
    the user_secrets validation error, its 404 strings for ids that cannot exist), turns it
    into the command body of COMMANDS.md with a command id, and turns the command's outcome
    event (command.completed / command.failed on oms.<oms_id>) back into the answer the
    Marketplace gave: its status and its body, 4xx error bodies included. rest.c publishes
    the command and waits for the outcome; an outcome that does not come within the
    gateway's facade_wait is answered 202 with ob_fw_accepted.

    Where the facade cannot answer as the Marketplace would: the Marketplace looks for the
    project, item or message (404) and checks the caller's right on it (403) before it reads
    a PATCH's body; the facade knows neither, so a bad body for an item that does not exist
    is 400 here and 404 there. Its answers to a valid body are the Marketplace's own (they
    come back in the outcome). Values over the command caps of gw_limits.h (a status value
    over 255 bytes, content over 64 KiB, more than 64 secrets, ...), which the Marketplace
    might take, are refused with 400 and the command parser's one-line reason.

    Command ids (COMMANDS.md 1: unique per OMS; the outcome's event id derives from it):
    - without an Idempotency-Key header, a new random id, "fr-" and 32 hex digits (128 bits
      from libsodium). A client that retries the request makes a second command, as a retry
      against the Marketplace makes a second request: a PATCH sets the same values again
      (the same result), a POST makes a second message (what the Marketplace does too).
    - with `Idempotency-Key: K` (the IETF httpapi draft; 1..OB_GW_IDEMPOTENCY_KEY_MAX
      visible ASCII characters), "fk-" and the 32 hex digits of BLAKE2b-128 (libsodium's
      crypto_generichash) of "orderbus.gateway.facade.v1" and its NUL, u64 big-endian
      oms_id, the kind's byte (0, 1, 2 as ob_fw_kind_t), u64 big-endian project, item and
      message ids of the path, the token's client name and its NUL, K and its NUL, then the
      body's bytes. The same request with the same key is the same command: the broker
      stores it once, and every retry is answered with the one outcome (so a POST makes one
      message however often it is retried). The same key with another body or path is
      another command. Nothing the Marketplace does; a client that does not send the header
      sees the Marketplace's behaviour. A key is for retries: the broker knows the command
      while mp.<oms_id> retains it, the connector for a week (COMMANDS.md 3.1); the same
      request with its key after retention removed the command is stored anew, not
      executed again (done), and answered 202 with no outcome to come. Use a new key for a
      new request.
    Request bodies may hold user secrets: nothing here logs, and no refusal quotes a secret
    (the schema errors quote only status.type, role and scope values, as the Marketplace). */
#ifndef OB_GW_FACADE_WRITE_H
#define OB_GW_FACADE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "facade_read.h" /* OB_FACADE_PREFIX, the Marketplace's error strings */
#include "gw_limits.h"

/* The Marketplace's error strings of writes (reference 4.14; the others are facade_read.h's)
   and the double's answer to a body that is not JSON (the reference gives none). */
#define OB_FW_E_SECRETS "values must be strings"
#define OB_FW_E_BAD_JSON "Invalid JSON in the request body"

typedef enum ob_fw_kind {
    OB_FW_UPDATE_ITEM = 0, /* PATCH|PUT .../projects/{p}/project_items/{iid}: update_project_item */
    OB_FW_POST_MESSAGE = 1, /* POST .../messages: post_message */
    OB_FW_EDIT_MESSAGE = 2  /* PATCH|PUT .../messages/{m}: edit_message */
} ob_fw_kind_t;

/* A routed write. An id segment is read as Rails reads it (Ruby's to_i: leading digits,
   "12abc" is 12); 0 stands for one that cannot exist ("abc", 0, over 2^63 - 1). */
typedef struct ob_fw_route {
    ob_fw_kind_t kind;   /* which write */
    uint64_t oms_id;     /* the path's OMS */
    uint64_t project_id; /* update: the path's project; else 0 */
    uint64_t item_id;    /* update: the path's iid; else 0 */
    uint64_t message_id; /* edit: the path's message; else 0 */
} ob_fw_route_t;

/* An answer: what the Marketplace would have said. */
typedef struct ob_fw_answer {
    unsigned status; /* HTTP status */
    char *body;      /* JSON text, owned (ob_fw_answer_clear) */
} ob_fw_answer_t;

/* Routes method and path (both borrowed, NUL-terminated; path without its query). Returns
   0 with *ret_route filled, or OB_GW_ERR_NOT_FOUND (rest_parse.h) if it is none of the
   three writes (another path, or another method). */
int ob_fw_route(const char *method, const char *path, ob_fw_route_t *ret_route);

/* Writes the command id of a request into ret_id (the rules at the top): route, client (the
   token's client name), key (the Idempotency-Key header or NULL) and body (len bytes) are
   borrowed. Returns 0, or OB_ERR_FIELD_TYPE for a key that is empty, longer than
   OB_GW_IDEMPOTENCY_KEY_MAX or holds a byte outside 0x21..0x7e. */
int ob_fw_command_id(const ob_fw_route_t *route, const char *client, const char *key,
                     const char *body, size_t len, char ret_id[OB_GW_COMMAND_ID_MAX + 1]);

/* Checks the request body (len bytes, borrowed) of route as the Marketplace would and makes
   the command body of COMMANDS.md with id command_id (borrowed). On success *ret_command is
   the caller's to free() (compact JSON, NUL-terminated) and *ret_len its length. If the
   Marketplace would refuse the request, or the command parser would (a cap), fills
   *ret_refusal with the answer (400 with the schema's message, the user_secrets object
   error or the parser's reason; 404 with "Project not found", "Project item not found" or
   "Message not found" for an id that cannot exist) and returns OB_ERR_INVALID_ARGUMENT.
   Returns 0, OB_ERR_INVALID_ARGUMENT, or -ENOMEM. */
int ob_fw_command(const ob_fw_route_t *route, const char *command_id, const char *body, size_t len,
                  char **ret_command, size_t *ret_len, ob_fw_answer_t *ret_refusal);

/* Turns the data of an outcome event (len bytes of JSON, borrowed; COMMANDS.md 3) into
   *ret_answer: command.completed gives the Marketplace's status and its answer ("response")
   as the body; command.failed with a 4xx gives that status and {"error": its error value};
   a command the gateway refused (status 0) gives 400 and {"error": its reason}. Returns 0,
   OB_ERR_MALFORMED (not an outcome's data), or -ENOMEM. */
int ob_fw_outcome(const char *data, size_t len, ob_fw_answer_t *ret_answer);

/* Fills *ret_answer with the 202 of a command whose outcome did not come within the wait:
   {"command_id": command_id, "outcome_topic": "oms.<oms_id>"}. Returns 0 or -ENOMEM. */
int ob_fw_accepted(uint64_t oms_id, const char *command_id, ob_fw_answer_t *ret_answer);

/* Fills *ret_answer with status and {"error": text} (text borrowed). Returns 0 or
   -ENOMEM. */
int ob_fw_error(unsigned status, const char *text, ob_fw_answer_t *ret_answer);

/* Frees the body of *answer and zeroes it; accepts a zeroed answer. */
void ob_fw_answer_clear(ob_fw_answer_t *answer);

#endif
