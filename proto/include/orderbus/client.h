/*  ob_client: liborderbus, the client side of proto/PROTOCOL.md.

    One ob_client_t owns one DEALER socket connected to one broker endpoint (tcp:// or ipc://).
    It is not thread-safe: use one client per thread (sockets never cross threads). It has no
    background thread: heartbeats, reconnects and re-sends happen inside the calls that wait
    (connect, publish, confirm_next), so a publisher that is waiting is always making progress.

    Publishing is at-least-once towards the broker and exactly-once in the store, because the
    broker deduplicates by event id: the client keeps every unconfirmed publish (up to the
    window) and, whenever it finds itself in a new session (the broker restarted, or the
    connection was re-established and the broker asks for HELLO), it says HELLO again and
    re-sends them all in their original order. A re-sent publish that the broker had already
    stored is confirmed with its original sequence number and dup = 1. */
#ifndef OB_CLIENT_H
#define OB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/event.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ob_client ob_client_t;

typedef struct ob_client_config {
    const char *name; /* client name sent in HELLO, NULL for "anonymous"; copied */
    unsigned window;  /* max unconfirmed publishes, 0 for OB_WINDOW_DEFAULT */
    int timeout_ms;   /* how long publish calls wait, 0 for OB_TIMEOUT_MS_DEFAULT, -1 forever */
    unsigned heartbeat_ms; /* PING interval when idle, 0 for OB_HEARTBEAT_MS_DEFAULT */
} ob_client_config_t;

typedef struct ob_confirm {
    uint64_t token; /* what ob_client_publish_async returned for this publish */
    uint64_t seq;   /* the event's sequence number in its topic (rc == 0) */
    int dup;        /* 1 if the broker already held this event id on this topic (rc == 0) */
    int rc;         /* 0, or the OB_ERR_* code the broker refused the event with */
} ob_confirm_t;

/* Creates a client and starts connecting to endpoint (borrowed). config may be NULL (all
   defaults; copied). Does not wait for the broker. Returns NULL if the endpoint is invalid
   or the configuration out of range. */
ob_client_t *ob_client_new(const char *endpoint, const ob_client_config_t *config);

/* Destroys the client, dropping unconfirmed publishes; sets *self_p to NULL; accepts NULL. */
void ob_client_destroy(ob_client_t **self_p);

/* Waits up to timeout_ms (-1 forever) until the broker has welcomed this client.
   Returns 0, OB_ERR_TIMEOUT, or the OB_ERR_* code of an ERROR the broker answered HELLO with. */
int ob_client_connect(ob_client_t *self, int timeout_ms);

/* Publishes event (borrowed) and waits for its confirmation, up to the configured timeout.
   On success *ret_confirm says the sequence number and the duplicate flag. Returns 0, an
   encoding error (ob_event_encode), OB_ERR_TOO_LARGE (over the broker's max_event), the
   broker's refusal (OB_ERR_INVALID_TOPIC, ...), -ENOMEM, -EINTR (SIGINT or SIGTERM seen by
   czmq), or OB_ERR_TIMEOUT, after which the event may or may not be stored and the client
   forgets it: publishing it again is safe. A broker restart (SHUTDOWN, HELLO_REQUIRED) is not
   an error: the publish is re-sent. Confirmations of earlier asynchronous publishes that
   arrive meanwhile are kept for ob_client_confirm_next. */
int ob_client_publish(ob_client_t *self, const ob_event_t *event, ob_confirm_t *ret_confirm);

/* Sends event (borrowed; encoded and copied at once) without waiting for its confirmation.
   If the window is full, waits for room up to the configured timeout. On success
   *ret_token identifies the publish in its ob_confirm_t. Returns 0, an encoding error, or
   OB_ERR_TIMEOUT (window still full; nothing was sent). */
int ob_client_publish_async(ob_client_t *self, const ob_event_t *event, uint64_t *ret_token);

/* Waits up to timeout_ms (-1 forever, 0 to poll) for the next confirmation or refusal of an
   asynchronous publish, in the order they arrive. Returns 0 and fills *ret_confirm, or
   OB_ERR_TIMEOUT. Unconfirmed publishes stay pending (and are re-sent on reconnect) however
   long this takes. */
int ob_client_confirm_next(ob_client_t *self, int timeout_ms, ob_confirm_t *ret_confirm);

/* Returns the number of asynchronous publishes whose outcome the caller has not yet taken
   with ob_client_confirm_next: those in flight plus confirmations already arrived. So
   `while (ob_client_pending(c)) ob_client_confirm_next(c, ...)` drains every outcome.
   Confirmations queue without limit if never taken. */
size_t ob_client_pending(const ob_client_t *self);

/* Returns the broker's session id from the last WELCOME, "" before the first; borrowed until
   the next call on self. A change means the broker restarted. */
const char *ob_client_session(const ob_client_t *self);

#ifdef __cplusplus
}
#endif
#endif
