/*  ob_client: liborderbus, the client side of proto/PROTOCOL.md.

    One ob_client_t owns one DEALER socket connected to one broker endpoint (tcp:// or ipc://).
    It is not thread-safe: use one client per thread (sockets never cross threads). It has no
    background thread: heartbeats, reconnects and re-sends happen inside the calls that wait
    (connect, publish, confirm_next, subscribe, unsubscribe, receive, request), so a client
    that is waiting is always making progress. A client that only consumes must call
    ob_client_receive at least once per heartbeat interval (ob_client_fd for event loops).

    Whatever a call is waiting for, everything else that arrives is kept: deliveries that
    arrive while publishing or subscribing are queued for ob_client_receive, and
    confirmations that arrive while receiving are kept for ob_client_confirm_next. The
    client accepts DELIVER runs of up to OB_DELIVER_RUN_MAX events (HELLO max_run,
    PROTOCOL.md 12.3) and queues each event of a run as its own delivery.

    Publishing is at-least-once towards the broker and exactly-once in the store, because the
    broker deduplicates by event id: the client keeps every unconfirmed publish (up to the
    window) and, whenever it finds itself in a new session (the broker restarted, the broker
    asked for HELLO, or the client replaced a silent connection), it says HELLO again and
    re-sends them all in their original order. A re-sent publish that the broker had already
    stored is confirmed with its original sequence number and dup = 1.

    Consuming is at-least-once: an event is delivered until it is acked (or dead-lettered
    after max_attempts), so a consumer MUST tolerate redelivery (deduplicate by topic and
    seq, or by event id, where that matters) and SHOULD ack only after it has processed the
    event. In a new session the client re-attaches every subscription it is attached to,
    after re-sending its unconfirmed publishes: a durable one by sending the same SUBSCRIBE
    again (same name, patterns, types) as attach-only, so that one deleted while the client
    had no session is reported lost by ob_client_receive rather than created again from its
    start; an ephemeral one by creating a new ephemeral
    subscription with the same patterns and types (it gets a new name, and events stored
    while the client had no session are not delivered to it: ephemeral semantics). The
    deliveries still queued from the old session are discarded, and acks of deliveries
    received in it are not sent: the broker redelivers all of them, nothing is lost (but
    each of them used up an attempt towards max_attempts: PROTOCOL.md 12.5). */
#ifndef OB_CLIENT_H
#define OB_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_CLIENT_CLOSE_LINGER_MS 200 /* ob_client_destroy: time queued ACKs get to leave */

typedef struct ob_client ob_client_t;

typedef struct ob_client_config {
    const char *name;        /* client name sent in HELLO, NULL for "anonymous"; copied */
    unsigned window;         /* max unconfirmed publishes, 0 for OB_WINDOW_DEFAULT; lowered
                                to the broker's max_pending (WELCOME) if that is smaller */
    int timeout_ms;          /* how long publish, subscribe, unsubscribe and request wait, 0 for
                                OB_TIMEOUT_MS_DEFAULT, -1 forever */
    unsigned heartbeat_ms;   /* PING interval when idle, 0 for OB_HEARTBEAT_MS_DEFAULT */
    const char *cert;        /* CURVE: path of this client's certificate (czmq zcert: the
                                file PATH_secret holding the secret key is read), NULL for
                                plaintext; read by ob_client_new */
    const char *broker_cert; /* CURVE: path of the broker's public certificate, NULL for
                                plaintext; both or neither (PROTOCOL.md 14) */
} ob_client_config_t;

typedef struct ob_confirm {
    uint64_t token; /* what ob_client_publish_async returned for this publish */
    uint64_t seq;   /* the event's sequence number in its topic (rc == 0) */
    int dup;        /* 1 if the broker already held this event id on this topic (rc == 0) */
    int rc;         /* 0, or the OB_ERR_* code the broker refused the event with */
} ob_confirm_t;

/* Creates a client and starts connecting to endpoint (borrowed). config may be NULL (all
   defaults; copied). Does not wait for the broker. Returns NULL if the endpoint is invalid
   or the configuration out of range; with CURVE (config->cert and config->broker_cert) also
   if only one of the two is set, or a certificate cannot be read or holds no valid key (the
   client's must have its _secret file). A CURVE broker refuses a client whose key is not in
   its permissions during the handshake: ob_client_connect then times out. */
ob_client_t *ob_client_new(const char *endpoint, const ob_client_config_t *config);

/* Destroys the client, dropping unconfirmed publishes and queued deliveries; ACKs and NACKs
   already sent get up to OB_CLIENT_CLOSE_LINGER_MS to leave; sets *self_p to NULL; accepts
   NULL. */
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

/* Sends an already encoded event (an ob_event_encode frame, or one received from the bus)
   without waiting for its confirmation, as ob_client_publish_async but without encoding or
   copying it: for a caller that holds events as frames, such as a gateway that encodes them
   from JSON. *frame_p (len bytes, from malloc) is taken: the client frees it once the
   publish is resolved, and sets *frame_p to NULL in every case, also on failure (then it
   has freed it). The frame is validated with ob_event_peek (the rules of ob_event_decode,
   nothing allocated) before anything is sent, so the broker never sees a frame the
   client would refuse to encode. If the window is full, waits for room up to the configured
   timeout. On success *ret_token identifies the publish in its ob_confirm_t.
   Returns 0; OB_ERR_TRUNCATED (*frame_p NULL, or the frame ends inside the event),
   OB_ERR_MALFORMED, OB_ERR_TOO_LARGE (a declared size over a cap, or the frame over the
   broker's max_event), OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_INVALID_TOPIC or
   OB_ERR_INVALID_EVENT (ob_event_peek's codes); -ENOMEM; OB_ERR_TIMEOUT (window still
   full), -EINTR or OB_ERR_CLOSED. Nothing is sent on failure. */
int ob_client_publish_frame_async(ob_client_t *self, uint8_t **frame_p, size_t len,
                                  uint64_t *ret_token);

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

/* Returns 1 while the client has a session (the broker welcomed it on its current socket),
   else 0: before the first WELCOME, after the broker ended the session (a restart, a
   shutdown), and from when the broker has been silent for OB_LIVENESS heartbeats after the
   client sent something (a dead or unreachable broker) until a new WELCOME. Reflects only
   what the client's calls have seen: call one (ob_client_receive(self, 0, ...) or
   ob_client_confirm_next(self, 0, ...)) at least once per heartbeat for it to stay true to
   the broker, as for heartbeats themselves. */
int ob_client_connected(const ob_client_t *self);

/* Returns the reason text of the last ERROR from the broker that a call of this client
   returned or queued (a refused publish, subscribe, unsubscribe, admin request, or a lost
   subscription), "" if none yet; borrowed until the next call on self. For messages to
   people: the code is the contract, the reason says which limit, pattern or name. */
const char *ob_client_last_reason(const ob_client_t *self);

/* ---------------------------------------------------------------------------------------- */
/* Subscribing (PROTOCOL.md section 12) */

/* max_attempts of ob_sub_options_t for "redeliver until acked, never dead-letter" (0 on the
   wire, where 0 means unlimited) */
#define OB_ATTEMPTS_UNLIMITED UINT32_MAX

typedef struct ob_sub_options {
    const char *const *patterns; /* pattern_count topic patterns (pattern.h), borrowed */
    size_t pattern_count;        /* 1..OB_SUB_PATTERNS_MAX */
    const char *const *types;    /* type_count event types to deliver, borrowed */
    size_t type_count;           /* 0..OB_SUB_TYPES_MAX, 0 for every type */
    ob_start_t start;            /* where a new subscription starts (wire.h), default new */
    uint64_t start_seq;          /* first seq on each topic, for OB_START_SEQ (>= 1) */
    uint64_t start_time;         /* first stored time (µs), for OB_START_TIME */
    uint32_t credit;             /* max pending deliveries, 1..OB_CREDIT_MAX, 0 for the default */
    uint32_t ack_wait_ms;        /* time to ack, OB_ACK_WAIT_MS_MIN..OB_DELAY_MS_MAX, 0 default */
    uint32_t max_attempts;       /* deliveries before dead-lettering, 1..OB_MAX_ATTEMPTS_MAX; 0 for
                                    the default (OB_MAX_ATTEMPTS_DEFAULT), OB_ATTEMPTS_UNLIMITED */
    uint32_t backoff_ms;         /* base redelivery delay, 1..OB_DELAY_MS_MAX ms, 0 for the default
                                    (a base of 0 cannot be asked for: 1 ms is as good) */
} ob_sub_options_t;

/* One event delivered to a subscription, from ob_client_receive. */
typedef struct ob_delivery {
    char sub[OB_SUB_NAME_MAX + 1]; /* the subscription it was delivered to */
    char topic[OB_TOPIC_MAX + 1];  /* topic of the event */
    uint64_t seq;                  /* its sequence number in the topic */
    uint32_t attempt;              /* 1 for the first delivery, +1 for each redelivery */
    uint64_t time_us;              /* when the broker stored the event (µs) */
    uint64_t skipped;    /* events removed by retention before this one was delivered, or 0 */
    uint8_t *event;      /* the stored event frame (ob_delivery_decode), owned: a caller
                            that keeps it may take it and set event to NULL */
    size_t event_len;    /* bytes at event, at most max_event + OB_DEAD_LETTER_EXTRA */
    uint64_t generation; /* the client's session it arrived in: ob_client_ack and
                            ob_client_nack do not send for an earlier one (leave it alone) */
} ob_delivery_t;

/* Subscribes to name (borrowed; NULL or "" for an ephemeral subscription, which the broker
   names), attaching this client as a consumer, and waits up to the configured timeout for
   the answer. opts (borrowed; patterns and types are copied) gives the patterns, types and
   the settings of a subscription that does not exist yet (the broker ignores the settings
   of an existing one). On success writes the name (the broker's, for an ephemeral one) to
   ret_name and 1 to *ret_created if the broker created the subscription (either may be
   NULL), and the client remembers the subscription: it re-attaches it in every new session
   (see the top of this file) until ob_client_unsubscribe, or until the broker deletes it
   (ob_client_receive). Subscribing again to a name the client is attached to succeeds and
   changes nothing.
   Returns 0; locally, without sending: OB_ERR_INVALID_PATTERN, OB_ERR_TOO_LARGE (a name,
   pattern or type too long, too many patterns or types), OB_ERR_FIELD_TYPE (no pattern, a
   NULL pattern or type, a name not of [a-z0-9_-], a type not of [a-z0-9_.-] (it could never
   match), a setting out of range, start_seq 0 with
   OB_START_SEQ), -ENOMEM; the broker's refusal (OB_ERR_SUBSCRIPTION_EXISTS: other patterns
   or types; OB_ERR_INVALID_PATTERN, OB_ERR_LIMIT, OB_ERR_UNKNOWN_COMMAND from a broker
   without subscriptions, ...); OB_ERR_TIMEOUT or -EINTR, after which the broker may or may
   not have attached the client: if its answer comes later, the client unsubscribes. A new
   session while waiting is not an error: the SUBSCRIBE is sent again. */
int ob_client_subscribe(ob_client_t *self, const char *name, const ob_sub_options_t *opts,
                        char ret_name[OB_SUB_NAME_MAX + 1], int *ret_created);

/* Detaches this client from the subscription name (borrowed) and waits up to the configured
   timeout for the broker's OK. The client forgets the subscription at once, and drops the
   deliveries of it still queued (its pending deliveries go to other consumers, or to this
   client again if it subscribes again). A durable subscription stays at the broker with its
   position; an ephemeral one is deleted with its last consumer. Returns 0 (also when the
   client has no session: it is attached nowhere then, and also when a new session begins
   while waiting), OB_ERR_NO_SUCH_SUBSCRIPTION (the client is not attached to name; nothing
   is sent), the broker's refusal, OB_ERR_TIMEOUT or -EINTR (the client has forgotten it
   all the same). An ephemeral subscription being re-created in a new session has no name
   yet: unsubscribing it by its old name returns 0 at once, and the client detaches it when
   the broker's answer names it. */
int ob_client_unsubscribe(ob_client_t *self, const char *name);

/* Waits up to timeout_ms (-1 forever, 0 to poll) for the next delivery of any subscription,
   in the order they arrived. On success *ret_delivery is a new delivery that the caller
   destroys with ob_delivery_destroy, after acking or nacking it (or not: an
   unacked delivery is redelivered after the subscription's ack_wait_ms). Returns 0,
   OB_ERR_TIMEOUT, -EINTR (SIGINT or SIGTERM seen by czmq), OB_ERR_CLOSED (the ZeroMQ context
   was terminated), or, once for each subscription the broker has deleted (SUB_DELETE) or
   that failed to re-attach in a new session, that error (OB_ERR_NO_SUCH_SUBSCRIPTION, or
   the code the re-SUBSCRIBE was refused with), with the subscription's name in
   ob_client_lost_sub: the client has forgotten it and dropped its queued deliveries.
   A delivery that cannot be held (no memory), whose frames are malformed, or whose event
   frame is empty or over max_event + OB_DEAD_LETTER_EXTRA (PROTOCOL.md 12.6) is dropped: the
   broker redelivers it after ack_wait_ms. Deliveries queue without limit if never taken
   (the subscriptions' credit bounds them, until redeliveries of untaken ones add up). */
int ob_client_receive(ob_client_t *self, int timeout_ms, ob_delivery_t **ret_delivery);

/* Returns the name of the subscription the last error of ob_client_receive concerned, ""
   if none; borrowed until the next call on self. */
const char *ob_client_lost_sub(const ob_client_t *self);

/* Returns the number of deliveries received and not yet taken with ob_client_receive. */
size_t ob_client_queued(const ob_client_t *self);

/* Destroys a delivery and its event, sets *self_p to NULL; accepts NULL. */
void ob_delivery_destroy(ob_delivery_t **self_p);

/* Decodes the event of self (borrowed) with ob_event_decode: on success *ret_event is a new
   event the caller destroys with ob_event_destroy. Returns 0 or an ob_event_decode error
   (OB_ERR_TRUNCATED also if the event was taken). */
int ob_delivery_decode(const ob_delivery_t *self, ob_event_t **ret_event);

/* Acks delivery (borrowed), from ob_client_receive of this client: the broker will not
   deliver it again to this subscription. Sends at once and does not wait (ACK has no
   answer; a lost ACK means one redelivery; an ACK the broker cannot apply, say for a
   subscription since unsubscribed, is ignored by it). Nothing is sent for a delivery that
   arrived in an earlier session, nor while the client has no session: the broker
   redelivers those deliveries anyway, so the ack is moot. Returns 0, or the send error (-EAGAIN:
   the socket's queue is full; -EPIPE: the socket failed earlier), after which the client replaces
   its socket at its next wait and the delivery comes again; OB_ERR_TOO_LARGE or OB_ERR_FIELD_TYPE
   for a delivery the caller filled in wrongly. */
int ob_client_ack(ob_client_t *self, const ob_delivery_t *delivery);

/* Acks every delivery pending to this client's session on topic of subscription sub (both
   borrowed) with a seq <= seq, cumulatively (ACK upto). Sends at once, does not wait; does
   nothing and returns 0 without a session. Returns as ob_client_ack; also OB_ERR_FIELD_TYPE
   for seq 0, an empty sub or topic, or a sub not of [a-z0-9_-], OB_ERR_TOO_LARGE for a
   sub or topic too long. */
int ob_client_ack_upto(ob_client_t *self, const char *sub, const char *topic, uint64_t seq);

/* Refuses delivery (borrowed), from ob_client_receive, for now: the broker redelivers it no
   sooner than delay_ms (0..OB_DELAY_MS_MAX) later, counting an attempt (max_attempts).
   Sends at once, does not wait; not sent for a delivery of an earlier session, as
   ob_client_ack. Returns as ob_client_ack; OB_ERR_FIELD_TYPE for a delay over
   OB_DELAY_MS_MAX. */
int ob_client_nack(ob_client_t *self, const ob_delivery_t *delivery, uint32_t delay_ms);

/* Returns the file descriptor of the client's socket (ZMQ_FD), for an event loop (poll,
   epoll, libuv) that waits on deliveries. It is edge-triggered and signals only that the
   socket's state may have changed: when it is readable, and also after every other call on
   the client (which may have read the socket), call ob_client_receive(self, 0, ...) until
   it returns OB_ERR_TIMEOUT before waiting on it again. Call ob_client_receive at least
   once per heartbeat interval (ob_client_config_t heartbeat_ms) even when the fd is quiet,
   so that heartbeats and reconnects happen. The descriptor belongs to the socket: never
   read, write or close it. It changes when the client replaces its socket: read it again
   after each call on the client. */
int ob_client_fd(const ob_client_t *self);

/* ---------------------------------------------------------------------------------------- */
/* Admin (PROTOCOL.md section 13) */

/* Sends request (borrowed), an admin command (OB_CMD_TOPICS, OB_CMD_SUBS, OB_CMD_SUB_INFO,
   OB_CMD_SUB_REPOSITION, OB_CMD_SUB_DELETE, OB_CMD_FETCH) filled in as for
   ob_wire_encode_body but for req, which the client sets, and waits up to the configured
   timeout for its OK or ERROR. On OK writes, for each of these that is not NULL: the
   `result` object's msgpack bytes to *ret_result (a malloc'd copy the caller frees, NULL if
   the OK had none) and its size to *ret_result_len; 1 to *ret_more if the list was cut
   (ask again with `after`), else 0; FETCH's event frame to *ret_event (malloc'd, the
   caller frees, NULL if none) and its size to *ret_event_len. A FETCH of a range (count
   >= 1) is ob_client_fetch's: here it is -EINVAL. A new session while waiting
   is not an error: the request is sent again (a re-sent SUB_DELETE that the first session
   carried out is answered OB_ERR_NO_SUCH_SUBSCRIPTION).
   Returns 0; OB_ERR_UNKNOWN_COMMAND if request is not an admin command; -EINVAL for a
   FETCH of a range; an
   ob_wire_encode_body error for a request it would refuse; -ENOMEM; the code of the
   broker's ERROR (OB_ERR_NO_SUCH_SUBSCRIPTION, OB_ERR_NO_SUCH_TOPIC, OB_ERR_INVALID_ARGUMENT,
   ...); OB_ERR_TOO_LARGE for a FETCH event frame over max_event + OB_DEAD_LETTER_EXTRA;
   OB_ERR_TIMEOUT or -EINTR. */
int ob_client_request(ob_client_t *self, const ob_wire_msg_t *request, uint8_t **ret_result,
                      size_t *ret_result_len, int *ret_more, uint8_t **ret_event,
                      size_t *ret_event_len);

/* One event of a fetched range. */
typedef struct ob_fetched {
    uint64_t seq;         /* its sequence number */
    uint64_t time_us;     /* when the broker stored it */
    const uint8_t *event; /* the event frame (ob_event_decode), owned by its ob_fetch_t */
    size_t event_len;     /* bytes at event, >= 1 */
} ob_fetched_t;

/* A range of stored events of one topic (FETCH with count, PROTOCOL.md 13). */
typedef struct ob_fetch {
    char topic[OB_TOPIC_MAX + 1]; /* the topic */
    uint64_t seq;                 /* seq of the first event (above the seq asked for when
                                     retention removed those); count 0: next */
    size_t count;                 /* events at events, 0..the max asked for */
    uint64_t next;                /* the seq to ask for next: seq + count */
    uint64_t last_seq;            /* the topic's newest seq when the broker read it: next >
                                     last_seq means nothing more was stored then */
    ob_fetched_t *events;         /* count events in seq order, owned; NULL if count is 0 */
} ob_fetch_t;

/* Fetches up to max (1..OB_FETCH_RANGE_MAX) stored events of topic (borrowed) in one
   request: from seq (>= 1), or, if time_us is not 0, from the first event stored at or
   after time_us (but never below seq: pass 1 to start from a time alone). The broker
   returns fewer when the topic ends or when its byte budget (OB_FETCH_RANGE_BYTES, but
   always one event) is spent: ask again from next. Waits up to the configured timeout,
   sending again in a new session as ob_client_request. On success *ret_fetch is a new
   range the caller destroys with ob_fetch_destroy. The client needs what FETCH needs
   (14.4): admin read and a subscribe pattern that matches topic.
   Returns 0; OB_ERR_FIELD_TYPE or OB_ERR_TOO_LARGE for arguments ob_wire_encode_body
   refuses (seq 0, max 0 or over OB_FETCH_RANGE_MAX, topic empty or too long); -ENOMEM;
   the broker's ERROR (OB_ERR_NO_SUCH_TOPIC, OB_ERR_INVALID_TOPIC, OB_ERR_INVALID_ARGUMENT
   for a seq beyond last_seq + 1, OB_ERR_FORBIDDEN, ...); -ENOTSUP if the broker answered
   without `count` (broker 0.5, which ignores it and sends the one event at seq);
   OB_ERR_MALFORMED for an answer that does not hold together (event frames not numbering
   `count`, more than max, `times` not of count entries); OB_ERR_TOO_LARGE for an event
   frame over max_event + OB_DEAD_LETTER_EXTRA; OB_ERR_TIMEOUT or -EINTR. */
int ob_client_fetch(ob_client_t *self, const char *topic, uint64_t seq, uint64_t time_us,
                    uint32_t max, ob_fetch_t **ret_fetch);

/* Destroys a fetched range and its events, sets *self_p to NULL; accepts NULL. */
void ob_fetch_destroy(ob_fetch_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
