/*  ob_wh_commands: the way back's publisher. One thread with its own broker client publishes
    the command events that wh_http.c made of verified requests, in the order they were
    submitted, pipelined: each is sent as it comes (ob_client_publish_frame_async), without
    waiting for the confirms of those before it, so that concurrent requests share round
    trips instead of queueing for one each. Each outcome goes to its request's callback when
    the broker's durable confirm (or refusal) of its event arrives, or OB_ERR_TIMEOUT after
    OB_WH_COMMAND_CONFIRM_MS without one: a request is answered only after its confirm. A
    command's event id is its command id: a request replayed or retried is stored once and
    confirmed as a duplicate. */
#ifndef OB_WH_COMMANDS_H
#define OB_WH_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/client.h"

typedef struct ob_wh_commands ob_wh_commands_t;

/* The outcome of one submitted command, called once from the publisher's thread (or from
   ob_wh_commands_destroy's): rc 0 and *confirm (borrowed for the call) the broker's
   confirm, or rc the failure (OB_ERR_TIMEOUT: no confirm in time, the event may or may not
   be stored; OB_ERR_SHUTDOWN: the adapter is stopping; a broker refusal; -ENOMEM). */
typedef void(ob_wh_command_done_fn)(void *arg, int rc, const ob_confirm_t *confirm);

/* Starts the publisher: its thread makes a client of endpoint (cert and broker_cert: CURVE,
   NULL for plaintext; all borrowed for the call). Returns it (owned) or NULL (no memory, no
   thread, a client that cannot be made). */
ob_wh_commands_t *ob_wh_commands_new(const char *endpoint, const char *cert,
                                     const char *broker_cert);

/* Queues the encoded command event *event_p (event.h; taken: *event_p is set to NULL even on
   failure) of event_len bytes; done(arg, ...) is called once with its outcome, from another
   thread, unless this returns an error. Returns 0, OB_ERR_SHUTDOWN (stopping) or -ENOMEM. */
int ob_wh_commands_submit(ob_wh_commands_t *self, uint8_t **event_p, size_t event_len,
                          ob_wh_command_done_fn *done, void *arg);

/* Stops the thread (the commands sent get their confirms or their timeouts first), calls
   done with OB_ERR_SHUTDOWN for every command still queued, frees everything and sets *self_p to
   NULL; accepts NULL. */
void ob_wh_commands_destroy(ob_wh_commands_t **self_p);

#endif
