/*  ob_client: liborderbus, the client side of proto/PROTOCOL.md. See client.h.

    The client is a small state machine driven only from inside its own calls (no thread):

      NO SESSION --HELLO--> (WELCOME) --> SESSION --(ERROR HELLO_REQUIRED)--> NO SESSION
          ^                                   |
          +------ silence for OB_LIVENESS heartbeats: new socket, HELLO -----+

    - Without a session, at most one HELLO is outstanding (PROTOCOL.md section 10: further
      HELLO_REQUIRED answer messages sent before it, and are ignored). It is not repeated on
      the same connection, where a second HELLO would restart the session: unanswered, the
      liveness rule below replaces the socket and says HELLO on the new one; refused
      (ERROR), it is tried again OB_LIVENESS heartbeats later. Publishes made meanwhile are
      kept, not sent.
    - On WELCOME every pending publish is (re)sent in token order, so the broker sees one
      ordered stream per session; its deduplication by event id makes re-sends harmless.
    - In a session, a PING goes out when nothing was sent, or nothing received, for a
      heartbeat (the one WELCOME gave). Any message from the broker proves it alive.
    - ERROR SHUTDOWN refusing a publish ends the session the same way, but without a HELLO
      to a broker that is stopping: the next one goes OB_LIVENESS heartbeats later.
    - If the broker stays silent for OB_LIVENESS heartbeats after we sent something, the
      DEALER is destroyed and a new one connected, and we start again without a session.
      PROTOCOL.md 3.1 says a client SHOULD keep its socket and let ZeroMQ reconnect; we do
      so for every failure ZeroMQ notices. Silence is the one it does not: a half-open TCP
      connection (the broker's host gone, no RST) is never reconnected, and whatever is
      queued for the dead peer would be delivered late, ahead of the new session's HELLO.

    Pending publishes live in a ring indexed by token: tokens are consecutive, so the slot of
    token t is t & mask and every lookup is O(1). A slot whose token is not t is resolved.

    Subscriptions (PROTOCOL.md 12): the client keeps a record of each subscription it is, or
    is becoming, attached to, with the SUBSCRIBE that made it, and sends that SUBSCRIBE again
    after every WELCOME that opens a new session (after the publishes):

      SUBSCRIBING -> ATTACHED (SUBSCRIBED); freed (ERROR: the caller's); ABANDONED (the
                     caller gave up: a late SUBSCRIBED gets an UNSUBSCRIBE, then it goes)
      ATTACHED    -> REATTACHING (WELCOME: SUBSCRIBE again); LOST (ERROR 17 {sub})
      REATTACHING -> ATTACHED (SUBSCRIBED); LOST (its ERROR, or ERROR 17 {sub})
      LOST        -> freed once ob_client_receive has reported it

    Deliveries go to one FIFO, tagged with the session epoch they arrived in; a new session
    empties it (the broker redelivers), and acks of older epochs are not sent.

    Requests other than PUBLISH (SUBSCRIBE, UNSUBSCRIBE, admin) take their req from a second
    number space, from S_REQ_CTL_FIRST up, and a new req at each send: so an answer is never
    mistaken for a publish's, and a req at or above ctl_epoch_req was sent in this session.
    One caller at a time waits for one of them (self->request); re-SUBSCRIBEs and the
    UNSUBSCRIBE of an abandoned subscription have nobody waiting. */
#include "orderbus/client.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "command_table.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"
#include "orderbus/pattern.h"
#include "orderbus/wire.h"

#include "mpscan.h" /* reads the result of a FETCH of a range */

/* First req of the requests other than PUBLISH, whose req is their token (1, 2, 3, ...):
   2^63 publishes are out of reach, so the two spaces never meet. */
#define S_REQ_CTL_FIRST (UINT64_C(1) << 63)
#define S_QUEUE_FIRST 16 /* deliveries the queue holds when it is first needed */

/* One publish sent (or to be sent) and not yet confirmed or refused. */
typedef struct s_slot {
    uint64_t token;   /* the publish's token and req id; 0 if the slot is free */
    uint8_t *event;   /* encoded event, from ob_event_encode, owned */
    size_t event_len; /* bytes at event */
    uint64_t epoch;   /* session epoch it was last sent in; 0 if not sent in any */
    int sync;         /* 1 if ob_client_publish waits for it (no FIFO entry) */
} s_slot_t;

/* Where a subscription record stands (see the top of this file). */
typedef enum s_sub_state {
    S_SUB_SUBSCRIBING, /* first SUBSCRIBE, ob_client_subscribe waits for its answer */
    S_SUB_ATTACHED,    /* SUBSCRIBED in this session */
    S_SUB_REATTACHING, /* SUBSCRIBE sent again in a new session, no answer yet */
    S_SUB_ABANDONED,   /* the caller stopped waiting: unsubscribe if SUBSCRIBED comes */
    S_SUB_LOST,        /* deleted or refused: ob_client_receive reports it and frees it */
} s_sub_state_t;

/* One subscription the client is, or is becoming, attached to. */
typedef struct s_sub {
    struct s_sub *next;             /* next record, in the order of subscribing */
    s_sub_state_t state;            /* see s_sub_state_t */
    int ephemeral;                  /* 1 if the broker names it: re-created, not re-attached */
    uint64_t req;                   /* req of its SUBSCRIBE in flight, 0 if none */
    int rc;                         /* S_SUB_LOST: the error ob_client_receive returns */
    char name[OB_SUB_NAME_MAX + 1]; /* its name; "" for an ephemeral one before SUBSCRIBED */
    ob_wire_msg_t subscribe;        /* the SUBSCRIBE to (re)send: sub "" if ephemeral */
} s_sub_t;

/* What the caller waits for, other than publishes. */
typedef enum s_wait_kind {
    S_WAIT_NONE,        /* nothing */
    S_WAIT_SUBSCRIBE,   /* the answer to the SUBSCRIBE of request.sub */
    S_WAIT_UNSUBSCRIBE, /* OK or ERROR for request.req */
    S_WAIT_ADMIN,       /* OK or ERROR for request.req */
} s_wait_kind_t;

/* The one request a caller waits for (subscribe, unsubscribe, request). */
typedef struct s_request {
    s_wait_kind_t kind;                   /* S_WAIT_NONE when no call waits */
    uint64_t req;                         /* req of its last send; 0 if not sent in this session */
    int done;                             /* 1 once answered: rc and the rest hold the answer */
    int rc;                               /* 0, or the OB_ERR_* of the ERROR (or -ENOMEM) */
    s_sub_t *sub;                         /* S_WAIT_SUBSCRIBE: its record, NULL once freed */
    char name[OB_SUB_NAME_MAX + 1];       /* S_WAIT_SUBSCRIBE: the name SUBSCRIBED gave */
    int created;                          /* S_WAIT_SUBSCRIBE: SUBSCRIBED's created */
    ob_wire_msg_t msg;                    /* UNSUBSCRIBE or admin: the request, to send again */
    int want_result;                      /* admin: copy the OK's result */
    int want_event;                       /* admin: copy the OK's event frame */
    uint8_t *result;                      /* admin: copy of the OK's result, owned, or NULL */
    size_t result_len;                    /* bytes at result */
    int more;                             /* admin: the OK's more */
    uint8_t *event;                       /* admin: copy of FETCH's event frames back to back,
                                             owned, or NULL */
    size_t event_len;                     /* bytes at event */
    size_t frames;                        /* event frames copied to event */
    size_t frame_len[OB_FETCH_RANGE_MAX]; /* bytes of each, in order */
} s_request_t;

struct ob_client {
    zsock_t *sock;                     /* our DEALER, owned */
    void *handle;                      /* its libzmq handle, borrowed from sock */
    char *endpoint;                    /* copy of the endpoint, for reconnecting */
    zcert_t *cert;                     /* CURVE: our certificate, owned; NULL: plaintext */
    char broker_key[41];               /* CURVE: the broker's Z85 public key */
    char name[OB_CLIENT_NAME_MAX + 1]; /* name sent in HELLO */
    unsigned window;                   /* max pending publishes */
    int timeout_ms;                    /* publish wait, -1 forever */
    unsigned heartbeat_ms;             /* heartbeat we ask for in HELLO */
    int64_t hb; /* heartbeat in force: the broker's from WELCOME, else ours */

    s_slot_t *ring;      /* pending publishes, ring_mask + 1 slots */
    uint64_t ring_mask;  /* slot of token t is t & ring_mask */
    uint64_t tail;       /* oldest token that may still be pending */
    uint64_t next_token; /* token of the next publish; tokens start at 1 */
    size_t pending;      /* slots in use */

    ob_confirm_t *fifo; /* confirmations not yet taken, fifo_cap entries */
    size_t fifo_cap;    /* a power of two, or 0 */
    size_t fifo_head;   /* index of the oldest */
    size_t fifo_count;  /* entries queued */

    int sync_done;             /* 1 once sync_confirm holds its outcome */
    ob_confirm_t sync_confirm; /* outcome of the publish ob_client_publish waits for */

    int welcomed;             /* 1 while we have a session */
    uint64_t epoch;           /* sessions so far: incremented at each accepted WELCOME */
    int hello_outstanding;    /* 1 from a HELLO until its WELCOME or ERROR */
    int hello_rc;             /* OB_ERR_* the broker last refused HELLO with, 0 if none */
    int ping_outstanding;     /* 1 from a PING until anything arrives */
    int broken;               /* 1 if the socket must be replaced (a send failed) */
    int64_t hello_sent;       /* when the last HELLO went out */
    int64_t last_send;        /* when we last sent anything */
    int64_t last_recv;        /* when we last received anything */
    int64_t unanswered_since; /* first send since last_recv, 0 if none: liveness clock */
    uint64_t max_event;       /* largest event the broker accepts, 0 before WELCOME */
    uint32_t max_pending;     /* the broker's max_pending (WELCOME), 0 before or if none */
    char session[OB_WIRE_SESSION_MAX + 1]; /* session id of the last WELCOME */
    char last_reason[OB_REASON_MAX + 1];   /* reason of the last ERROR handed to the caller */

    s_sub_t *subs;          /* subscription records, owned, in the order of subscribing */
    size_t subs_lost;       /* records in S_SUB_LOST */
    uint64_t next_ctl_req;  /* req of the next request other than PUBLISH */
    uint64_t ctl_epoch_req; /* next_ctl_req when this session began */
    s_request_t request;    /* what the caller waits for, other than publishes */
    char lost_sub[OB_SUB_NAME_MAX + 1]; /* subscription of ob_client_receive's last error */

    ob_delivery_t **queue; /* deliveries not yet taken, owned, queue_cap entries */
    size_t queue_cap;      /* a power of two, or 0 */
    size_t queue_head;     /* index of the oldest */
    size_t queue_count;    /* entries queued */

    uint8_t body[OB_BODY_MAX]; /* where outgoing bodies are encoded */
};

/* ---------------------------------------------------------------------------------------- */
/* Socket */

/* Returns a new DEALER connected to self->endpoint, or NULL. */
static zsock_t *
s_socket_new(const ob_client_t *self)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock)
        return NULL;
    /* Queue limits count messages. The window bounds what we send, plus one full re-send;
       the broker's replies are bounded the same way. A lower mark would make the broker's
       ROUTER drop our confirmations silently, so it is set from the largest window. */
    zsock_set_sndhwm(sock, OB_WINDOW_MAX * 2);
    zsock_set_rcvhwm(sock, OB_WINDOW_MAX * 2);
    zsock_set_linger(sock, 0); /* unconfirmed publishes are kept by us, not by the socket */
    /* Retry fast after a broker restart, and never wait longer than a heartbeat: a slower
       reconnect than that would only look like a dead broker. */
    zsock_set_reconnect_ivl(sock, OB_HEARTBEAT_MS_MIN);
    zsock_set_reconnect_ivl_max(sock, (int)self->heartbeat_ms);
    zsock_set_maxmsgsize(sock, (int)OB_EVENT_MAX_CAP);
    /* Only for an IPv6 address: with ZMQ_IPV6 a host name (localhost) may resolve to its
       IPv6 address, where a broker bound on the IPv4 one does not listen. */
    if (!strncmp(self->endpoint, "tcp://[", strlen("tcp://[")))
        zsock_set_ipv6(sock, 1); /* without it libzmq cannot reach tcp://[::1]:PORT (3.1) */
    if (self->cert) {            /* set on every new socket, so that a replaced one keeps CURVE */
        zcert_apply(self->cert, sock);
        zsock_set_curve_serverkey(sock, self->broker_key);
    }
    if (zsock_connect(sock, "%s", self->endpoint) != 0)
        zsock_destroy(&sock);
    return sock;
}

/* Sends msg, and event (borrowed) as a third frame if not NULL. Never blocks. Returns 0, an
   encoding error, or -errno; a send failure marks the socket broken, and nothing is sent on
   a broken socket: a half-sent message must never get more frames appended. */
static int
s_send(ob_client_t *self, const ob_wire_msg_t *msg, const uint8_t *event, size_t event_len)
{
    uint8_t header[OB_HEADER_SIZE];
    size_t body_len = 0;
    int rc = 0;

    if (self->broken)
        return -EPIPE;
    ob_wire_encode_header(msg, header);
    if ((rc = ob_wire_encode_body(msg, self->body, sizeof self->body, &body_len)))
        return rc;
    /* zmq_send copies: the event's bytes stay ours (for re-sends), and a zero-copy message
       could still be read by the I/O thread after a linger-0 close. One memcpy is cheap
       next to the rest of a send. */
    if (zmq_send(self->handle, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->handle, self->body, body_len, (event ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) <
            0 ||
        (event && zmq_send(self->handle, event, event_len, ZMQ_DONTWAIT) < 0))
        goto fail;

    self->last_send = zclock_mono();
    if (!self->unanswered_since)
        self->unanswered_since = self->last_send;
    return 0;
fail:
    /* EAGAIN means a queue of OB_WINDOW_MAX * 2 messages the peer does not read: treat it as
       a dead peer. */
    rc = -errno;
    self->broken = 1;
    return rc;
}

/* Sends HELLO. */
static void
s_send_hello(ob_client_t *self)
{
    ob_wire_msg_t msg = {
        .command = OB_CMD_HELLO, .heartbeat_ms = self->heartbeat_ms, .max_run = OB_DELIVER_RUN_MAX};
    memcpy(msg.name, self->name, sizeof msg.name);
    self->hello_sent = zclock_mono();
    self->hello_outstanding = 1;
    s_send(self, &msg, NULL, 0);
}

/* Sends PING. */
static void
s_send_ping(ob_client_t *self)
{
    ob_wire_msg_t msg = {.command = OB_CMD_PING};
    if (s_send(self, &msg, NULL, 0) == 0)
        self->ping_outstanding = 1;
}

/* Sends the publish in slot, in the current session. */
static void
s_send_publish(ob_client_t *self, s_slot_t *slot)
{
    ob_wire_msg_t msg = {.command = OB_CMD_PUBLISH, .req = slot->token};
    if (s_send(self, &msg, slot->event, slot->event_len) == 0)
        slot->epoch = self->epoch;
}

/* Replaces the socket with a new one and starts a new session with HELLO. If no socket can
   be made, keeps the old one and tries again after another liveness period. */
static void
s_reconnect(ob_client_t *self)
{
    int64_t now = zclock_mono();
    zsock_t *sock = s_socket_new(self);
    if (!sock) {
        self->unanswered_since = now;
        return;
    }
    zsock_destroy(&self->sock);
    self->sock = sock;
    self->handle = zsock_resolve(sock);
    self->broken = 0;
    self->welcomed = 0;
    self->ping_outstanding = 0;
    self->unanswered_since = 0;
    self->last_recv = now;
    s_send_hello(self);
}

/* The session we had is gone (the broker said HELLO_REQUIRED): say HELLO. Called only with
   a session, so no other HELLO is on its way. Pending publishes are re-sent on WELCOME. */
static void
s_session_lost(ob_client_t *self)
{
    self->welcomed = 0;
    self->ping_outstanding = 0;
    s_send_hello(self);
}

/* ---------------------------------------------------------------------------------------- */
/* Pending publishes and confirmations */

/* Returns the slot of token if it is pending, else NULL. */
static s_slot_t *
s_pending_slot(const ob_client_t *self, uint64_t token)
{
    if (token < self->tail || token >= self->next_token)
        return NULL;
    s_slot_t *slot = &self->ring[token & self->ring_mask];
    return slot->token == token ? slot : NULL;
}

/* Returns 1 if another publish fits: fewer than window pending, and its slot is free. */
static int
s_has_room(const ob_client_t *self)
{
    /* The broker refuses (LIMIT) publishes beyond its max_pending: stay within it too. */
    size_t window =
        self->max_pending && self->max_pending < self->window ? self->max_pending : self->window;
    return self->pending < window && self->next_token - self->tail <= self->ring_mask;
}

/* Makes sure the FIFO can hold a confirmation for every pending publish and one more, so
   that a confirmation arriving later never needs memory. Returns 0 or -ENOMEM. */
static int
s_fifo_reserve(ob_client_t *self)
{
    size_t need = self->fifo_count + self->pending + 1;
    if (need <= self->fifo_cap)
        return 0;
    size_t cap = self->fifo_cap ? self->fifo_cap : 1;
    while (cap < need)
        cap *= 2;
    ob_confirm_t *fifo = malloc(cap * sizeof *fifo);
    if (!fifo)
        return -ENOMEM;
    for (size_t i = 0; i < self->fifo_count; i++)
        fifo[i] = self->fifo[(self->fifo_head + i) & (self->fifo_cap - 1)];
    free(self->fifo);
    self->fifo = fifo;
    self->fifo_cap = cap;
    self->fifo_head = 0;
    return 0;
}

/* Frees slot and moves the tail past resolved tokens (amortised O(1)). */
static void
s_slot_free(ob_client_t *self, s_slot_t *slot)
{
    free(slot->event);
    *slot = (s_slot_t){0};
    self->pending--;
    while (self->tail < self->next_token &&
           self->ring[self->tail & self->ring_mask].token != self->tail)
        self->tail++;
}

/* Resolves the pending publish in slot with its outcome. */
static void
s_resolve(ob_client_t *self, s_slot_t *slot, uint64_t seq, int dup, int rc)
{
    ob_confirm_t confirm = {.token = slot->token, .seq = seq, .dup = dup, .rc = rc};
    if (slot->sync) {
        self->sync_confirm = confirm;
        self->sync_done = 1;
    } else {
        /* room was reserved by s_fifo_reserve when the publish was made */
        self->fifo[(self->fifo_head + self->fifo_count) & (self->fifo_cap - 1)] = confirm;
        self->fifo_count++;
    }
    s_slot_free(self, slot);
}

/* Sends every pending publish in token order, in the session just welcomed. One made before
   we knew the broker's max_event, and over it, is refused here as the broker would. */
static void
s_resend_all(ob_client_t *self)
{
    for (uint64_t token = self->tail; token < self->next_token && !self->broken; token++) {
        s_slot_t *slot = &self->ring[token & self->ring_mask];
        if (slot->token != token)
            continue;
        if (slot->event_len > self->max_event)
            s_resolve(self, slot, 0, 0, OB_ERR_TOO_LARGE);
        else
            s_send_publish(self, slot);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Requests other than PUBLISH, subscriptions and deliveries */

/* Sends msg (a request other than PUBLISH) with a new req, which is written to *ret_req even
   if the send fails: a failed send replaces the socket, and the next WELCOME sends again. */
static void
s_send_ctl(ob_client_t *self, ob_wire_msg_t *msg, uint64_t *ret_req)
{
    msg->req = self->next_ctl_req++;
    *ret_req = msg->req;
    s_send(self, msg, NULL, 0);
}

/* Frees what the last request held and forgets it. */
static void
s_request_clear(ob_client_t *self)
{
    free(self->request.result);
    free(self->request.event);
    self->request.result = NULL;
    self->request.event = NULL;
    self->request.kind = S_WAIT_NONE;
    self->request.sub = NULL;
}

/* Ends the request the caller waits for with rc. */
static void
s_request_done(ob_client_t *self, int rc)
{
    self->request.done = 1;
    self->request.rc = rc;
}

/* Returns 1 if the request the caller waits for is (kind) and has its last send at req. */
static int
s_request_is(const ob_client_t *self, s_wait_kind_t kind, uint64_t req)
{
    return self->request.kind == kind && !self->request.done && self->request.req == req;
}

/* Returns the record whose SUBSCRIBE in flight has req, or NULL. */
static s_sub_t *
s_sub_by_req(const ob_client_t *self, uint64_t req)
{
    for (s_sub_t *sub = self->subs; sub; sub = sub->next)
        if (sub->req == req)
            return sub;
    return NULL;
}

/* Returns the record of name that the client is attached to, or re-attaching (its name is
   known), other than except; else NULL. */
static s_sub_t *
s_sub_live(const ob_client_t *self, const char *name, const s_sub_t *except)
{
    for (s_sub_t *sub = self->subs; sub; sub = sub->next)
        if (sub != except && (sub->state == S_SUB_ATTACHED || sub->state == S_SUB_REATTACHING) &&
            strcmp(sub->name, name) == 0)
            return sub;
    return NULL;
}

/* Returns 1 if a record other than except is, or is becoming, attached under name (a
   durable one has its name from the start). */
static int
s_sub_claimed(const ob_client_t *self, const char *name, const s_sub_t *except)
{
    for (s_sub_t *sub = self->subs; sub; sub = sub->next)
        if (sub != except && sub->state != S_SUB_ABANDONED && sub->state != S_SUB_LOST &&
            strcmp(sub->name, name) == 0)
            return 1;
    return 0;
}

/* Unlinks and frees sub. */
static void
s_sub_free(ob_client_t *self, s_sub_t *sub)
{
    for (s_sub_t **link = &self->subs; *link; link = &(*link)->next)
        if (*link == sub) {
            *link = sub->next;
            break;
        }
    if (sub->state == S_SUB_LOST)
        self->subs_lost--;
    if (self->request.sub == sub)
        self->request.sub = NULL;
    free(sub);
}

/* Sends sub's SUBSCRIBE in the current session. */
static void
s_sub_send(ob_client_t *self, s_sub_t *sub)
{
    s_send_ctl(self, &sub->subscribe, &sub->req);
}

/* Makes the queue hold one more delivery. Returns 0 or -ENOMEM. */
static int
s_queue_reserve(ob_client_t *self)
{
    if (self->queue_count < self->queue_cap)
        return 0;
    size_t cap = self->queue_cap ? self->queue_cap * 2 : S_QUEUE_FIRST;
    ob_delivery_t **queue = malloc(cap * sizeof *queue);
    if (!queue)
        return -ENOMEM;
    for (size_t i = 0; i < self->queue_count; i++)
        queue[i] = self->queue[(self->queue_head + i) & (self->queue_cap - 1)];
    free(self->queue);
    self->queue = queue;
    self->queue_cap = cap;
    self->queue_head = 0;
    return 0;
}

/* Drops every queued delivery of the subscription sub, or every one if sub is NULL, keeping
   the order of the others. */
static void
s_queue_discard(ob_client_t *self, const char *sub)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->queue_count; i++) {
        ob_delivery_t *delivery = self->queue[(self->queue_head + i) & (self->queue_cap - 1)];
        if (!sub || strcmp(delivery->sub, sub) == 0)
            ob_delivery_destroy(&delivery);
        else
            self->queue[(self->queue_head + kept++) & (self->queue_cap - 1)] = delivery;
    }
    self->queue_count = kept;
}

/* The broker deleted sub, or refused to re-attach it: it is lost, for ob_client_receive to
   report. Its queued deliveries go: nobody would take their acks. */
static void
s_sub_lose(ob_client_t *self, s_sub_t *sub, int rc)
{
    s_queue_discard(self, sub->name);
    sub->state = S_SUB_LOST;
    sub->rc = rc;
    sub->req = 0;
    self->subs_lost++;
}

/* A new session: re-attach every subscription (PROTOCOL.md 10, step 2), in the order they
   were made. Those the caller gave up on are dropped instead, unsent. */
static void
s_subs_reattach(ob_client_t *self)
{
    s_sub_t *next = NULL;
    for (s_sub_t *sub = self->subs; sub; sub = next) {
        next = sub->next;
        switch (sub->state) {
        case S_SUB_ABANDONED:
            s_sub_free(self, sub);
            break;
        case S_SUB_LOST:
            break;
        case S_SUB_ATTACHED:
        case S_SUB_REATTACHING:
            sub->state = S_SUB_REATTACHING;
            /* A durable one it was attached to: attach only. If it was deleted while we had
               no session, the broker says so (NO_SUCH_SUBSCRIPTION, reported as lost) rather
               than creating it again from its original start. */
            if (!sub->ephemeral)
                sub->subscribe.attach = 1;
            s_sub_send(self, sub);
            break;
        case S_SUB_SUBSCRIBING:
            s_sub_send(self, sub);
            break;
        }
    }
}

/* A new session, for the request the caller waits for: an UNSUBSCRIBE is moot (the new
   session is attached to nothing the client did not re-attach), an admin request is sent
   (again). A SUBSCRIBE goes with the records. */
static void
s_request_resend(ob_client_t *self)
{
    if (self->request.done)
        return;
    if (self->request.kind == S_WAIT_UNSUBSCRIBE)
        s_request_done(self, 0);
    else if (self->request.kind == S_WAIT_ADMIN)
        s_send_ctl(self, &self->request.msg, &self->request.req);
}

/* Handles SUBSCRIBED. */
static void
s_on_subscribed(ob_client_t *self, const ob_wire_msg_t *msg)
{
    s_sub_t *sub = s_sub_by_req(self, msg->req);
    if (!sub)
        return; /* stale: sent in an earlier session, or forgotten since */
    sub->req = 0;
    if (sub->state == S_SUB_ABANDONED) {
        /* The caller was told it failed: detach, unless another record holds the name, or
           is subscribing to it again (one session attaches once to a name: an UNSUBSCRIBE
           now would detach that one too). Nobody waits for the OK. */
        if (!s_sub_claimed(self, msg->sub, sub)) {
            ob_wire_msg_t unsubscribe;
            uint64_t req = 0;
            ob_wire_msg_init(&unsubscribe, OB_CMD_UNSUBSCRIBE);
            memcpy(unsubscribe.sub, msg->sub, sizeof unsubscribe.sub);
            s_send_ctl(self, &unsubscribe, &req);
        }
        s_sub_free(self, sub);
        return;
    }
    if (self->request.kind == S_WAIT_SUBSCRIBE && self->request.sub == sub) {
        memcpy(self->request.name, msg->sub, sizeof self->request.name);
        self->request.created = msg->created;
        s_request_done(self, 0);
    }
    /* an ephemeral one re-created in a new session gets a new name here */
    memcpy(sub->name, msg->sub, sizeof sub->name);
    sub->state = S_SUB_ATTACHED;
    if (s_sub_live(self, sub->name, sub))
        s_sub_free(self, sub); /* attached already: one record re-attaches it */
}

/* Handles an ERROR answering a request other than PUBLISH (neither HELLO_REQUIRED nor
   SHUTDOWN, which concern the session). */
static void
s_on_ctl_error(ob_client_t *self, uint64_t req, int rc)
{
    s_sub_t *sub = s_sub_by_req(self, req);
    if (!sub) {
        if (s_request_is(self, S_WAIT_UNSUBSCRIBE, req) || s_request_is(self, S_WAIT_ADMIN, req))
            s_request_done(self, rc);
        return;
    }
    sub->req = 0;
    switch (sub->state) {
    case S_SUB_SUBSCRIBING:
        if (self->request.kind == S_WAIT_SUBSCRIBE && self->request.sub == sub)
            s_request_done(self, rc);
        s_sub_free(self, sub);
        break;
    case S_SUB_REATTACHING:
        s_sub_lose(self, sub, rc);
        break;
    case S_SUB_ABANDONED:
        s_sub_free(self, sub);
        break;
    default:
        break;
    }
}

/* Returns the largest event frame a DELIVER or FETCH's OK may carry (PROTOCOL.md 12.6). */
static uint64_t
s_event_cap(const ob_client_t *self)
{
    return self->max_event + OB_DEAD_LETTER_EXTRA;
}

/* Handles OK, with the event frames of a FETCH's (borrowed: extra_count of them at extra,
   at most OB_FETCH_RANGE_MAX: s_recv_one takes no more). */
static void
s_on_ok(ob_client_t *self, const ob_wire_msg_t *msg, zmq_msg_t *extra, size_t extra_count)
{
    s_request_t *request = &self->request;
    if (s_request_is(self, S_WAIT_UNSUBSCRIBE, msg->req)) {
        s_request_done(self, 0);
        return;
    }
    if (!s_request_is(self, S_WAIT_ADMIN, msg->req))
        return; /* stale, or the OK of an abandoned subscription's UNSUBSCRIBE */
    size_t total = 0;
    for (size_t i = 0; i < extra_count; i++) {
        if (zmq_msg_size(&extra[i]) > s_event_cap(self)) {
            s_request_done(self, OB_ERR_TOO_LARGE);
            return;
        }
        total += zmq_msg_size(&extra[i]);
    }
    /* msg->result points into the body frame, which s_recv_one closes after us: copy */
    request->more = msg->more;
    if (request->want_result && msg->result_len) {
        if (!(request->result = malloc(msg->result_len))) {
            s_request_done(self, -ENOMEM);
            return;
        }
        memcpy(request->result, msg->result, msg->result_len);
        request->result_len = msg->result_len;
    }
    if (request->want_event && total) {
        if (!(request->event = malloc(total))) {
            s_request_done(self, -ENOMEM);
            return;
        }
        for (size_t i = 0; i < extra_count; i++) {
            size_t len = zmq_msg_size(&extra[i]);
            memcpy(request->event + request->event_len, zmq_msg_data(&extra[i]), len);
            request->event_len += len;
            request->frame_len[i] = len;
        }
    }
    request->frames = extra_count;
    s_request_done(self, 0);
}

/* Handles DELIVER and its event frames (event_count of them at events, borrowed: one, or a
   run's count): queues a copy of each as its own delivery. What cannot be queued is
   dropped, and redelivered by the broker after ack_wait_ms. */
static void
s_on_deliver(ob_client_t *self, const ob_wire_msg_t *msg, zmq_msg_t *events, size_t event_count)
{
    /* Without a session it belongs to the old one, whose deliveries all come again; for a
       subscription we are not attached to, nobody would take it (it may be one just
       unsubscribed: the broker gives its pending deliveries to the other consumers). A run
       (PROTOCOL.md 12.3) has one event frame per delivery; one that has not is dropped
       whole, and its deliveries come again after their ack_wait, as any lost delivery. */
    size_t count = msg->count > 1 ? msg->count : 1;
    if (!self->welcomed || event_count != count) /* count <= OB_DELIVER_RUN_MAX: decoded */
        return;
    s_sub_t *sub = s_sub_live(self, msg->sub, NULL);
    if (!sub || sub->state != S_SUB_ATTACHED)
        return;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *event = zmq_msg_data(&events[i]);
        size_t event_len = zmq_msg_size(&events[i]);
        ob_delivery_t *delivery = NULL;
        if (event_len == 0 || event_len > s_event_cap(self))
            continue;
        if (s_queue_reserve(self) || !(delivery = calloc(1, sizeof *delivery)) ||
            !(delivery->event = malloc(event_len))) {
            ob_delivery_destroy(&delivery);
            return;
        }
        memcpy(delivery->sub, msg->sub, sizeof delivery->sub);
        memcpy(delivery->topic, msg->topic, sizeof delivery->topic);
        delivery->seq = msg->seq + i; /* ob_wire_decode checked that the run does not wrap */
        delivery->attempt = msg->attempt;
        delivery->time_us = count > 1 ? msg->times[i] : msg->time;
        delivery->skipped = i == 0 ? msg->skipped : 0;
        memcpy(delivery->event, event, event_len);
        delivery->event_len = event_len;
        delivery->generation = self->epoch;
        self->queue[(self->queue_head + self->queue_count) & (self->queue_cap - 1)] = delivery;
        self->queue_count++;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Receiving */

/* Handles WELCOME. */
static void
s_on_welcome(ob_client_t *self, const ob_wire_msg_t *msg)
{
    /* A WELCOME for the session we have (a broker answering one HELLO twice): nothing to do.
       Any other starts a session, even unasked: re-sending is always safe. */
    if (self->welcomed && strcmp(self->session, msg->session) == 0)
        return;
    self->welcomed = 1;
    self->hello_outstanding = 0;
    self->epoch++;
    self->ctl_epoch_req = self->next_ctl_req;
    self->hello_rc = 0;
    self->ping_outstanding = 0;
    memcpy(self->session, msg->session, sizeof self->session);
    self->hb = msg->heartbeat_ms; /* ob_wire_decode checked its range */
    self->max_event = msg->max_event;
    self->max_pending = msg->max_pending;
    /* Publishes first, then subscriptions (PROTOCOL.md 10), then the request a caller waits
       for. The deliveries of the old session are all redelivered: drop the copies. */
    s_resend_all(self);
    s_queue_discard(self, NULL);
    s_subs_reattach(self);
    s_request_resend(self);
}

/* Handles ERROR. */
static void
s_on_error(ob_client_t *self, const ob_wire_msg_t *msg)
{
    int rc = ob_error_from_wire(msg->code);
    int ctl = msg->req >= S_REQ_CTL_FIRST;
    s_slot_t *slot = msg->req && !ctl ? s_pending_slot(self, msg->req) : NULL;

    if (rc == OB_ERR_HELLO_REQUIRED) {
        /* Only news if it answers something sent in the current session: without a session
           a HELLO is already on its way, and an answer to a request sent in an earlier
           session is stale (the request has been re-sent since). Never the caller's
           business: the requests stay pending and go again after WELCOME. */
        if (self->welcomed && (!msg->req || (slot && slot->epoch == self->epoch) ||
                               (ctl && msg->req >= self->ctl_epoch_req)))
            s_session_lost(self);
        return;
    }
    if (rc == OB_ERR_SHUTDOWN && msg->req) {
        /* The broker is stopping and stored nothing (PROTOCOL.md 11.1: re-send after the
           next WELCOME). A restart is not the caller's business either: the publish stays
           pending, and we stop sending to a broker on its way out. HELLO is tried again
           OB_LIVENESS heartbeats later, which reaches its successor. */
        if (self->welcomed) {
            self->welcomed = 0;
            self->ping_outstanding = 0;
            self->hello_outstanding = 0;
            self->hello_sent = zclock_mono();
        }
        return;
    }
    /* From here on the error reaches the caller: keep the broker's words for it. */
    snprintf(self->last_reason, sizeof self->last_reason, "%s", msg->reason);
    if (ctl) {
        s_on_ctl_error(self, msg->req, rc);
        return;
    }
    if (msg->req) {
        if (slot) /* else already resolved: a re-send got a second answer */
            s_resolve(self, slot, 0, 0, rc);
        return;
    }
    if (msg->sub[0]) {
        /* About a subscription, not a request: the broker deleted one we are attached to
           (PROTOCOL.md 12.7). Other codes are not defined with sub: ignored. */
        s_sub_t *sub = s_sub_live(self, msg->sub, NULL);
        if (sub && rc == OB_ERR_NO_SUCH_SUBSCRIPTION)
            s_sub_lose(self, sub, rc);
        return;
    }
    if (!self->welcomed && self->hello_outstanding) {
        /* The broker refused HELLO (HELLO never gets HELLO_REQUIRED). Keep the code for
           ob_client_connect; s_tick tries again later (the broker may be shutting down). */
        self->hello_outstanding = 0;
        self->hello_rc = rc;
    }
}

/* Handles one decoded message from the broker, with the frames after its body (borrowed:
   extra_count of them at extra; an event each). */
static void
s_dispatch(ob_client_t *self, const ob_wire_msg_t *msg, zmq_msg_t *extra, size_t extra_count)
{
    s_slot_t *slot = NULL;
    switch (msg->command) {
    case OB_CMD_WELCOME:
        s_on_welcome(self, msg);
        break;
    case OB_CMD_CONFIRM:
        /* A run confirms req..req+count-1 (count 0 is 1); a token not pending was already
           resolved by an earlier answer to a re-send. */
        for (uint64_t k = 0; k < (msg->count > 1 ? msg->count : 1); k++)
            if ((slot = s_pending_slot(self, msg->req + k)))
                s_resolve(self, slot, msg->seq + k, msg->dup, 0);
        break;
    case OB_CMD_ERROR:
        s_on_error(self, msg);
        break;
    case OB_CMD_SUBSCRIBED:
        s_on_subscribed(self, msg);
        break;
    case OB_CMD_OK:
        s_on_ok(self, msg, extra, extra_count);
        break;
    case OB_CMD_DELIVER:
        s_on_deliver(self, msg, extra, extra_count);
        break;
    default: /* PONG: proof of life, already counted; anything else is not for a client */
        break;
    }
}

/* Receives and handles one message if one is waiting. Returns 1 if one was, 0 if none,
   OB_ERR_CLOSED if the ZeroMQ context is gone, or -errno. */
static int
s_recv_one(ob_client_t *self)
{
    /* the longest message: the OK of a FETCH of a range (16 KB of zmq_msg_t) */
    zmq_msg_t part[OB_FETCH_FRAMES_MAX];
    size_t parts = 0;
    int more = 1;
    int too_many = 0;
    int rc = 0;

    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, self->handle, ZMQ_DONTWAIT) < 0) {
            int err = errno;
            zmq_msg_close(&frame);
            if (err == EAGAIN && parts == 0)
                return 0;
            rc = err == ETERM ? OB_ERR_CLOSED : -err;
            goto out;
        }
        more = zmq_msg_more(&frame);
        if (parts < OB_FETCH_FRAMES_MAX)
            part[parts++] = frame;
        else {
            zmq_msg_close(&frame);
            too_many = 1;
        }
    }

    /* Anything at all from the broker proves it alive, even what we cannot decode. */
    self->last_recv = zclock_mono();
    self->unanswered_since = 0;
    self->ping_outstanding = 0;

    ob_wire_msg_t msg;
    if (parts >= OB_COMMAND_FRAMES && !too_many &&
        ob_wire_decode(zmq_msg_data(&part[0]), zmq_msg_size(&part[0]), zmq_msg_data(&part[1]),
                       zmq_msg_size(&part[1]), &msg) == 0 &&
        parts <= ob_command_info(msg.command)->frames_max) /* a decoded command is known */
        s_dispatch(self, &msg, part + 2, parts - 2);
    /* else a malformed message: a broker bug or a version we do not know; ignored, since
       there is nobody to tell. What it answered stays pending: re-sent with the next session,
       or given up by the synchronous call's timeout. */
    rc = 1;
out:
    for (size_t i = 0; i < parts; i++)
        zmq_msg_close(&part[i]);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Timers and waiting */

/* Returns the smaller of a and b. */
static int64_t
s_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Returns when the next timer in s_tick is due. */
static int64_t
s_next_timer(const ob_client_t *self)
{
    int64_t due = INT64_MAX;
    if (self->broken)
        return 0;
    if (!self->welcomed) {
        if (!self->hello_outstanding)
            due = self->hello_sent + OB_LIVENESS * self->hb;
    } else if (!self->ping_outstanding)
        due = s_min(self->last_send, self->last_recv) + self->hb;
    if (self->unanswered_since)
        due = s_min(due, self->unanswered_since + OB_LIVENESS * self->hb);
    return due;
}

/* Runs the timers that are due at now: reconnect, HELLO again after a refusal, PING. */
static void
s_tick(ob_client_t *self, int64_t now)
{
    if (self->broken ||
        (self->unanswered_since && now - self->unanswered_since >= OB_LIVENESS * self->hb))
        s_reconnect(self);
    else if (!self->welcomed) {
        if (!self->hello_outstanding && now - self->hello_sent >= OB_LIVENESS * self->hb)
            s_send_hello(self);
    } else if (!self->ping_outstanding &&
               (now - self->last_send >= self->hb || now - self->last_recv >= self->hb))
        s_send_ping(self);
}

/* Waits until done(self) or deadline (a zclock_mono time, -1 for none), handling what the
   broker sends and running the timers meanwhile. A past deadline still checks once without
   waiting. Returns 0, OB_ERR_TIMEOUT, OB_ERR_CLOSED, or -EINTR when interrupted by a signal
   that czmq's handler saw (SIGINT, SIGTERM). */
static int
s_wait(ob_client_t *self, int64_t deadline, int (*done)(const ob_client_t *))
{
    /* The fast path of a pipeline: done already, and no timer due. Reading an empty socket
       costs a system call (libzmq polls its mailbox), so reading waits until we have to wait
       or a timer falls due; the timers then see everything that arrived before they decide.
       Unread replies cannot pile up: each answers a pending publish, bounded by the window. */
    if (done(self) && zclock_mono() < s_next_timer(self))
        return 0;
    int rechecked = 0;
    for (;;) {
        int rc = 0;
        while ((rc = s_recv_one(self)) == 1)
            ;
        if (rc < 0)
            return rc;
        int64_t now = zclock_mono();
        s_tick(self, now);
        if (done(self))
            return 0;
        if (deadline >= 0 && now >= deadline) {
            /* A send in s_tick lets libzmq process its commands, which can consume the edge
               of ZMQ_FD for a message that arrived meanwhile: look once more, so that a
               caller of ob_client_fd that drains until OB_ERR_TIMEOUT has read everything. */
            if (!rechecked && (zsock_events(self->sock) & ZMQ_POLLIN)) {
                rechecked = 1;
                continue;
            }
            return OB_ERR_TIMEOUT;
        }

        int64_t until = s_next_timer(self);
        if (deadline >= 0)
            until = s_min(until, deadline);
        long timeout = until > now ? (long)(until - now) : 0;
        zmq_pollitem_t item = {.socket = self->handle, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, timeout) < 0) {
            if (errno == ETERM)
                return OB_ERR_CLOSED;
            if (errno != EINTR)
                return -errno;
            if (zsys_interrupted)
                return -EINTR;
        }
    }
}

/* Returns the zclock_mono deadline timeout_ms from now, -1 (none) for a negative timeout. */
static int64_t
s_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : zclock_mono() + timeout_ms;
}

static int
s_done_connect(const ob_client_t *self)
{
    return self->welcomed || self->hello_rc != 0;
}

static int
s_done_room(const ob_client_t *self)
{
    return s_has_room(self);
}

static int
s_done_sync(const ob_client_t *self)
{
    return self->sync_done;
}

static int
s_done_fifo(const ob_client_t *self)
{
    return self->fifo_count > 0;
}

static int
s_done_request(const ob_client_t *self)
{
    return self->request.done;
}

static int
s_done_receive(const ob_client_t *self)
{
    return self->queue_count > 0 || self->subs_lost > 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Public API */

/* Returns 1 if endpoint is "tcp://" or "ipc://" and something more; ZeroMQ checks the rest
   when we connect. */
static int
s_endpoint_valid(const char *endpoint)
{
    static const char *const schemes[] = {"tcp://", "ipc://"};
    if (!endpoint)
        return 0;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t len = strlen(schemes[i]);
        if (strncmp(endpoint, schemes[i], len) == 0 && endpoint[len] != '\0')
            return 1;
    }
    return 0;
}

/* Returns 1 if the 32 bytes at key are all zero (what zcert_load leaves for a missing or
   malformed key). */
static int
s_key_zero(const uint8_t *key)
{
    uint8_t any = 0;
    for (size_t i = 0; i < 32; i++)
        any |= key[i];
    return any == 0;
}

/* Loads the CURVE certificates of cfg into self. Returns 0 or -1. */
static int
s_load_certs(ob_client_t *self, const ob_client_config_t *cfg)
{
    if (!cfg->cert && !cfg->broker_cert)
        return 0;
    if (!cfg->cert || !cfg->broker_cert)
        return -1; /* one without the other: surely a mistake, never plaintext */
    zcert_t *broker = zcert_load(cfg->broker_cert);
    if (!broker || s_key_zero(zcert_public_key(broker))) {
        zcert_destroy(&broker);
        return -1;
    }
    snprintf(self->broker_key, sizeof self->broker_key, "%s", zcert_public_txt(broker));
    zcert_destroy(&broker);
    self->cert = zcert_load(cfg->cert);
    if (!self->cert || s_key_zero(zcert_public_key(self->cert)) ||
        s_key_zero(zcert_secret_key(self->cert)))
        return -1;
    return 0;
}

ob_client_t *
ob_client_new(const char *endpoint, const ob_client_config_t *config)
{
    ob_client_config_t cfg = config ? *config : (ob_client_config_t){0};
    ob_client_t *self = NULL;

    if (!s_endpoint_valid(endpoint))
        return NULL;
    if (!cfg.name)
        cfg.name = "anonymous";
    if (strlen(cfg.name) > OB_CLIENT_NAME_MAX || cfg.window > OB_WINDOW_MAX ||
        cfg.timeout_ms < -1 ||
        (cfg.heartbeat_ms &&
         (cfg.heartbeat_ms < OB_HEARTBEAT_MS_MIN || cfg.heartbeat_ms > OB_HEARTBEAT_MS_MAX)))
        return NULL;

    if (!(self = calloc(1, sizeof *self)))
        return NULL;
    strcpy(self->name, cfg.name);
    self->window = cfg.window ? cfg.window : OB_WINDOW_DEFAULT;
    self->timeout_ms = cfg.timeout_ms ? cfg.timeout_ms : OB_TIMEOUT_MS_DEFAULT;
    self->heartbeat_ms = cfg.heartbeat_ms ? cfg.heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT;
    self->hb = self->heartbeat_ms;
    self->next_token = 1;
    self->tail = 1;
    self->next_ctl_req = S_REQ_CTL_FIRST;
    self->ctl_epoch_req = S_REQ_CTL_FIRST;

    /* Twice the window, so that a few confirmations withheld at the tail do not stop the
       pipeline before the window is really full. */
    size_t slots = 1;
    while (slots < (size_t)self->window * 2)
        slots *= 2;
    self->ring_mask = slots - 1;
    if (!(self->ring = calloc(slots, sizeof *self->ring)) || !(self->endpoint = strdup(endpoint)))
        goto fail;
    if (s_load_certs(self, &cfg))
        goto fail;
    if (!(self->sock = s_socket_new(self)))
        goto fail;
    self->handle = zsock_resolve(self->sock);
    self->last_recv = zclock_mono();
    s_send_hello(self);
    return self;
fail:
    ob_client_destroy(&self);
    return NULL;
}

void
ob_client_destroy(ob_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_client_t *self = *self_p;
    if (self->ring)
        for (uint64_t i = 0; i <= self->ring_mask; i++)
            free(self->ring[i].event);
    free(self->ring);
    free(self->fifo);
    while (self->subs)
        s_sub_free(self, self->subs);
    s_queue_discard(self, NULL);
    free(self->queue);
    s_request_clear(self);
    /* ACKs and NACKs just sent are only queued: give them a moment to leave, or the
       broker would redeliver what was processed (publishes are not at stake: unconfirmed
       ones are the caller's to re-send, and confirmed ones are stored). */
    if (self->sock)
        zsock_set_linger(self->sock, OB_CLIENT_CLOSE_LINGER_MS);
    zsock_destroy(&self->sock);
    zcert_destroy(&self->cert);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

int
ob_client_connect(ob_client_t *self, int timeout_ms)
{
    assert(self);
    int rc = s_wait(self, s_deadline(timeout_ms), s_done_connect);
    if (rc == 0 && !self->welcomed) {
        rc = self->hello_rc; /* reported once; the next HELLO may well succeed */
        self->hello_rc = 0;
    }
    return rc;
}

/* Adds the encoded event at *buf_p (len bytes, malloc'd; taken: *buf_p is set to NULL even on
   failure) to the pending publishes (sent at once if we have a session), waiting for room
   until deadline. On success *ret_slot is its slot. Returns 0, OB_ERR_TOO_LARGE (over the
   broker's max_event), -ENOMEM, or an s_wait error. */
static int
s_enqueue(ob_client_t *self, uint8_t **buf_p, size_t len, int sync, int64_t deadline,
          s_slot_t **ret_slot)
{
    uint8_t *buf = *buf_p;
    *buf_p = NULL;
    int rc = 0;
    if (self->max_event && len > self->max_event) {
        rc = OB_ERR_TOO_LARGE;
        goto fail;
    }
    if ((rc = s_wait(self, deadline, s_done_room)))
        goto fail;
    if (!sync && (rc = s_fifo_reserve(self)))
        goto fail;

    s_slot_t *slot = &self->ring[self->next_token & self->ring_mask];
    *slot = (s_slot_t){.token = self->next_token++, .event = buf, .event_len = len, .sync = sync};
    self->pending++;
    if (self->welcomed)
        s_send_publish(self, slot);
    *ret_slot = slot;
    return 0;
fail:
    free(buf);
    return rc;
}

/* Encodes event and adds it to the pending publishes as s_enqueue. Returns 0, an encoding
   error, or s_enqueue's. */
static int
s_publish(ob_client_t *self, const ob_event_t *event, int sync, int64_t deadline,
          s_slot_t **ret_slot)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_event_encode(event, &buf, &len);
    if (rc)
        return rc;
    return s_enqueue(self, &buf, len, sync, deadline, ret_slot);
}

int
ob_client_publish(ob_client_t *self, const ob_event_t *event, ob_confirm_t *ret_confirm)
{
    assert(self && event);
    int64_t deadline = s_deadline(self->timeout_ms);
    s_slot_t *slot = NULL;
    int rc = s_publish(self, event, 1, deadline, &slot);
    if (rc)
        return rc;

    uint64_t token = slot->token;
    self->sync_done = 0;
    rc = s_wait(self, deadline, s_done_sync);
    if (rc) {
        /* Given up: forget it, so that it neither holds the window nor is re-sent. A late
           confirmation finds no pending token and is ignored. */
        if ((slot = s_pending_slot(self, token)))
            s_slot_free(self, slot);
        return rc;
    }
    if (self->sync_confirm.rc)
        return self->sync_confirm.rc;
    if (ret_confirm)
        *ret_confirm = self->sync_confirm;
    return 0;
}

int
ob_client_publish_async(ob_client_t *self, const ob_event_t *event, uint64_t *ret_token)
{
    assert(self && event);
    s_slot_t *slot = NULL;
    int rc = s_publish(self, event, 0, s_deadline(self->timeout_ms), &slot);
    if (rc)
        return rc;
    if (ret_token)
        *ret_token = slot->token;
    return 0;
}

int
ob_client_publish_frame_async(ob_client_t *self, uint8_t **frame_p, size_t len, uint64_t *ret_token)
{
    assert(self && frame_p);
    uint8_t *frame = *frame_p;
    *frame_p = NULL;
    if (!frame) {
        /* no frame to take: a caller's mistake, but one that costs nothing to refuse */
        return OB_ERR_TRUNCATED;
    }
    ob_event_envelope_t envelope;
    int rc = ob_event_peek(frame, len, &envelope);
    if (rc) {
        free(frame);
        return rc;
    }
    s_slot_t *slot = NULL;
    if ((rc = s_enqueue(self, &frame, len, 0, s_deadline(self->timeout_ms), &slot)))
        return rc;
    if (ret_token)
        *ret_token = slot->token;
    return 0;
}

int
ob_client_confirm_next(ob_client_t *self, int timeout_ms, ob_confirm_t *ret_confirm)
{
    assert(self);
    int rc = s_wait(self, s_deadline(timeout_ms), s_done_fifo);
    if (rc)
        return rc;
    ob_confirm_t confirm = self->fifo[self->fifo_head];
    self->fifo_head = (self->fifo_head + 1) & (self->fifo_cap - 1);
    self->fifo_count--;
    if (ret_confirm)
        *ret_confirm = confirm;
    return 0;
}

size_t
ob_client_pending(const ob_client_t *self)
{
    /* Counted until the caller has the outcome: a confirmation that arrived but waits in
       the FIFO is not yet "confirmed" to the caller. So the natural drain loop,
       while (ob_client_pending(c)) ob_client_confirm_next(c, ...), takes every one. The
       window, which is flow control towards the broker, counts only self->pending. */
    return self->pending + self->fifo_count;
}

const char *
ob_client_last_reason(const ob_client_t *self)
{
    return self->last_reason;
}

const char *
ob_client_session(const ob_client_t *self)
{
    return self->session;
}

int
ob_client_connected(const ob_client_t *self)
{
    return self->welcomed && !self->broken;
}

/* ---------------------------------------------------------------------------------------- */
/* Subscribing */

/* Copies count C strings (borrowed) into the rows of a wire array (rows of stride bytes at
   base), each of at most max bytes; patterns are checked (PROTOCOL.md 7.2). Returns 0,
   OB_ERR_FIELD_TYPE (NULL), OB_ERR_TOO_LARGE or OB_ERR_INVALID_PATTERN. */
static int
s_copy_strs(const char *const *strs, size_t count, size_t max, int patterns, char *base,
            size_t stride)
{
    for (size_t i = 0; i < count; i++) {
        if (!strs[i])
            return OB_ERR_FIELD_TYPE;
        size_t len = strlen(strs[i]);
        if (len > max)
            return OB_ERR_TOO_LARGE;
        if (patterns && !ob_pattern_valid(strs[i], len))
            return OB_ERR_INVALID_PATTERN;
        memcpy(base + i * stride, strs[i], len + 1);
    }
    return 0;
}

/* Builds the SUBSCRIBE of name (NULL or "": ephemeral) and opts into *msg (req 0), checked
   as the encoder checks it. Returns 0 or an error of ob_client_subscribe's local ones. */
static int
s_subscribe_build(ob_client_t *self, const char *name, const ob_sub_options_t *opts,
                  ob_wire_msg_t *msg)
{
    size_t len = 0;
    int rc = 0;

    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    if (name && strlen(name) > OB_SUB_NAME_MAX)
        return OB_ERR_TOO_LARGE;
    if (name)
        strcpy(msg->sub, name);
    if (opts->pattern_count > OB_SUB_PATTERNS_MAX || opts->type_count > OB_SUB_TYPES_MAX)
        return OB_ERR_TOO_LARGE;
    if (opts->pattern_count == 0 || !opts->patterns || (opts->type_count && !opts->types))
        return OB_ERR_FIELD_TYPE;
    if ((rc = s_copy_strs(opts->patterns, opts->pattern_count, OB_TOPIC_MAX, 1,
                          (char *)msg->patterns, sizeof msg->patterns[0])) ||
        (rc = s_copy_strs(opts->types, opts->type_count, OB_EVENT_TYPE_MAX, 0, (char *)msg->types,
                          sizeof msg->types[0])))
        return rc;
    msg->pattern_count = opts->pattern_count;
    msg->type_count = opts->type_count;
    msg->start = opts->start;
    msg->start_seq = opts->start_seq;
    msg->start_time = opts->start_time;
    /* 0 is the default in the options; on the wire the defaults are left out */
    if (opts->credit)
        msg->credit = opts->credit;
    if (opts->ack_wait_ms)
        msg->ack_wait_ms = opts->ack_wait_ms;
    if (opts->backoff_ms)
        msg->backoff_ms = opts->backoff_ms;
    if (opts->max_attempts == OB_ATTEMPTS_UNLIMITED)
        msg->max_attempts = 0; /* the wire's "unlimited" */
    else if (opts->max_attempts)
        msg->max_attempts = opts->max_attempts;
    msg->req = S_REQ_CTL_FIRST; /* a valid req, to check the rest */
    rc = ob_wire_encode_body(msg, self->body, sizeof self->body, &len);
    msg->req = 0;
    return rc;
}

int
ob_client_subscribe(ob_client_t *self, const char *name, const ob_sub_options_t *opts,
                    char ret_name[OB_SUB_NAME_MAX + 1], int *ret_created)
{
    assert(self && opts);
    int64_t deadline = s_deadline(self->timeout_ms);
    s_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return -ENOMEM;
    int rc = s_subscribe_build(self, name, opts, &sub->subscribe);
    if (rc) {
        free(sub);
        return rc;
    }
    sub->ephemeral = !name || !*name;
    if (!sub->ephemeral)
        strcpy(sub->name, name);
    sub->state = S_SUB_SUBSCRIBING;
    s_sub_t **link = &self->subs;
    while (*link)
        link = &(*link)->next;
    *link = sub;

    s_request_clear(self);
    self->request = (s_request_t){.kind = S_WAIT_SUBSCRIBE, .sub = sub};
    if (self->welcomed)
        s_sub_send(self, sub);
    /* else the next WELCOME sends it */
    rc = s_wait(self, deadline, s_done_request);
    if (rc) {
        /* Given up: the broker may still attach us; if it does, s_on_subscribed detaches. */
        if (self->request.sub)
            self->request.sub->state = S_SUB_ABANDONED;
    } else if (!(rc = self->request.rc)) {
        if (ret_name)
            memcpy(ret_name, self->request.name, OB_SUB_NAME_MAX + 1);
        if (ret_created)
            *ret_created = self->request.created;
    }
    s_request_clear(self);
    return rc;
}

int
ob_client_unsubscribe(ob_client_t *self, const char *name)
{
    assert(self && name);
    int64_t deadline = s_deadline(self->timeout_ms);
    s_sub_t *sub = s_sub_live(self, name, NULL);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    s_queue_discard(self, sub->name);
    if (sub->state == S_SUB_REATTACHING && sub->ephemeral) {
        /* Being re-created under a name we do not know yet: detach when it comes. */
        sub->state = S_SUB_ABANDONED;
        return 0;
    }
    /* A durable one being re-attached: the UNSUBSCRIBE follows its SUBSCRIBE, whose answer
       then finds no record and is ignored. */
    s_sub_free(self, sub);
    if (!self->welcomed)
        return 0; /* no session: attached nowhere, and the next one will not re-attach it */

    s_request_clear(self);
    self->request = (s_request_t){.kind = S_WAIT_UNSUBSCRIBE};
    ob_wire_msg_init(&self->request.msg, OB_CMD_UNSUBSCRIBE);
    strcpy(self->request.msg.sub, name); /* s_sub_live found it: it fits */
    s_send_ctl(self, &self->request.msg, &self->request.req);
    int rc = s_wait(self, deadline, s_done_request);
    if (!rc)
        rc = self->request.rc;
    s_request_clear(self);
    return rc;
}

int
ob_client_receive(ob_client_t *self, int timeout_ms, ob_delivery_t **ret_delivery)
{
    assert(self && ret_delivery);
    self->lost_sub[0] = '\0';
    int rc = s_wait(self, s_deadline(timeout_ms), s_done_receive);
    if (rc)
        return rc;
    if (self->subs_lost) {
        /* Reported before the deliveries still queued: those of the lost subscription are
           gone already, the others do not depend on it. */
        s_sub_t *sub = self->subs;
        while (sub->state != S_SUB_LOST)
            sub = sub->next;
        memcpy(self->lost_sub, sub->name, sizeof self->lost_sub);
        rc = sub->rc;
        s_sub_free(self, sub);
        return rc;
    }
    *ret_delivery = self->queue[self->queue_head];
    self->queue_head = (self->queue_head + 1) & (self->queue_cap - 1);
    self->queue_count--;
    return 0;
}

const char *
ob_client_lost_sub(const ob_client_t *self)
{
    return self->lost_sub;
}

size_t
ob_client_queued(const ob_client_t *self)
{
    return self->queue_count;
}

void
ob_delivery_destroy(ob_delivery_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->event);
    free(*self_p);
    *self_p = NULL;
}

int
ob_delivery_decode(const ob_delivery_t *self, ob_event_t **ret_event)
{
    assert(self && ret_event);
    if (!self->event || !self->event_len)
        return OB_ERR_TRUNCATED;
    return ob_event_decode(self->event, self->event_len, ret_event);
}

/* Sends ACK or NACK (command) for delivery, unless it is moot: it came in an earlier session,
   or we have no session now. */
static int
s_settle(ob_client_t *self, int command, const ob_delivery_t *delivery, uint32_t delay_ms)
{
    if (!self->welcomed || delivery->generation != self->epoch)
        return 0;
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, command);
    memcpy(msg.sub, delivery->sub, sizeof msg.sub); /* the encoder checks the terminator */
    memcpy(msg.topic, delivery->topic, sizeof msg.topic);
    msg.seq = delivery->seq;
    msg.delay_ms = delay_ms;
    return s_send(self, &msg, NULL, 0);
}

int
ob_client_ack(ob_client_t *self, const ob_delivery_t *delivery)
{
    assert(self && delivery);
    return s_settle(self, OB_CMD_ACK, delivery, 0);
}

int
ob_client_nack(ob_client_t *self, const ob_delivery_t *delivery, uint32_t delay_ms)
{
    assert(self && delivery);
    if (delay_ms > OB_DELAY_MS_MAX)
        return OB_ERR_FIELD_TYPE;
    return s_settle(self, OB_CMD_NACK, delivery, delay_ms);
}

int
ob_client_ack_upto(ob_client_t *self, const char *sub, const char *topic, uint64_t seq)
{
    assert(self && sub && topic);
    ob_wire_msg_t msg;
    size_t len = 0;
    ob_wire_msg_init(&msg, OB_CMD_ACK);
    if (strlen(sub) > OB_SUB_NAME_MAX || strlen(topic) > OB_TOPIC_MAX)
        return OB_ERR_TOO_LARGE;
    strcpy(msg.sub, sub);
    strcpy(msg.topic, topic);
    msg.seq = seq;
    msg.upto = 1;
    /* checked with or without a session, so that a caller's mistake shows at once */
    int rc = ob_wire_encode_body(&msg, self->body, sizeof self->body, &len);
    if (rc || !self->welcomed)
        return rc;
    return s_send(self, &msg, NULL, 0);
}

int
ob_client_fd(const ob_client_t *self)
{
    return zsock_fd(self->sock);
}

/* ---------------------------------------------------------------------------------------- */
/* Admin */

/* Returns 1 if command is an admin request (PROTOCOL.md 13). */
static int
s_is_admin(int command)
{
    const ob_command_info_t *info = ob_command_info(command);
    return info && info->admin != OB_COMMAND_ADMIN_NONE;
}

/* Sends request (borrowed, an admin command) and waits for its answer, which stays in
   self->request (result, event frames) for the caller to take before s_request_clear.
   Returns 0 or an error of ob_client_request. */
static int
s_admin(ob_client_t *self, const ob_wire_msg_t *request, int want_result, int want_event)
{
    int64_t deadline = s_deadline(self->timeout_ms);
    size_t len = 0;
    s_request_clear(self);
    s_request_t *r = &self->request;
    *r = (s_request_t){.kind = S_WAIT_ADMIN,
                       .msg = *request,
                       .want_result = want_result,
                       .want_event = want_event};
    r->msg.req = S_REQ_CTL_FIRST; /* a valid req, to check the rest */
    int rc = ob_wire_encode_body(&r->msg, self->body, sizeof self->body, &len);
    if (rc)
        return rc;
    if (self->welcomed)
        s_send_ctl(self, &r->msg, &r->req);
    /* else the next WELCOME sends it */
    if ((rc = s_wait(self, deadline, s_done_request)))
        return rc;
    return r->rc;
}

int
ob_client_request(ob_client_t *self, const ob_wire_msg_t *request, uint8_t **ret_result,
                  size_t *ret_result_len, int *ret_more, uint8_t **ret_event, size_t *ret_event_len)
{
    assert(self && request);
    if (!s_is_admin(request->command))
        return OB_ERR_UNKNOWN_COMMAND;
    if (request->command == OB_CMD_FETCH && request->count)
        return -EINVAL; /* a range: ob_client_fetch */
    s_request_t *r = &self->request;
    int rc = s_admin(self, request, ret_result != NULL, ret_event != NULL);
    if (rc == 0 && r->frames > 1)
        rc = OB_ERR_MALFORMED; /* a single FETCH's OK has one event frame */
    if (rc)
        goto out;
    if (ret_result) {
        *ret_result = r->result; /* handed over */
        r->result = NULL;
    }
    if (ret_result_len)
        *ret_result_len = r->result_len;
    if (ret_more)
        *ret_more = r->more;
    if (ret_event) {
        *ret_event = r->event;
        r->event = NULL;
    }
    if (ret_event_len)
        *ret_event_len = r->event_len;
out:
    s_request_clear(self);
    return rc;
}

/* The keys of a FETCH range's OK result (PROTOCOL.md 13). */
enum { S_RANGE_TOPIC, S_RANGE_SEQ, S_RANGE_COUNT, S_RANGE_TIMES, S_RANGE_NEXT, S_RANGE_LAST_SEQ };
static const ob_mp_key_t s_range_keys[] = {
    [S_RANGE_TOPIC] = OB_MP_KEY("topic"), [S_RANGE_SEQ] = OB_MP_KEY("seq"),
    [S_RANGE_COUNT] = OB_MP_KEY("count"), [S_RANGE_TIMES] = OB_MP_KEY("times"),
    [S_RANGE_NEXT] = OB_MP_KEY("next"),   [S_RANGE_LAST_SEQ] = OB_MP_KEY("last_seq"),
};
#define S_RANGE_KEYS (sizeof s_range_keys / sizeof s_range_keys[0])

/* Builds *ret_fetch from the answer in r (borrowed) to a FETCH of at most max events: one
   allocation holding the range, its events and a copy of their bytes. Returns 0, -ENOTSUP
   (no count: the broker predates ranges), OB_ERR_MALFORMED or -ENOMEM. */
static int
s_fetch_build(const s_request_t *r, uint32_t max, ob_fetch_t **ret_fetch)
{
    if (!r->result)
        return OB_ERR_MALFORMED;
    /* the body's pre-scan has checked the result: the readers cannot overrun it */
    ob_mp_cursor_t cur = {r->result, r->result + r->result_len}, v[S_RANGE_KEYS];
    if (ob_mp_read_fields(&cur, s_range_keys, S_RANGE_KEYS, v))
        return OB_ERR_MALFORMED;
    if (!v[S_RANGE_COUNT].pos)
        return -ENOTSUP;
    for (size_t k = 0; k < S_RANGE_KEYS; k++)
        if (!v[k].pos)
            return OB_ERR_MALFORMED;
    uint64_t seq = 0, count = 0, next = 0, last_seq = 0;
    size_t times = 0;
    ob_mp_str_t topic;
    if (ob_mp_read_uint(&v[S_RANGE_SEQ], &seq) || ob_mp_read_uint(&v[S_RANGE_COUNT], &count) ||
        ob_mp_read_uint(&v[S_RANGE_NEXT], &next) ||
        ob_mp_read_uint(&v[S_RANGE_LAST_SEQ], &last_seq) ||
        ob_mp_read_str(&v[S_RANGE_TOPIC], 0, &topic) || topic.len > OB_TOPIC_MAX ||
        ob_mp_read_array(&v[S_RANGE_TIMES], &times))
        return OB_ERR_MALFORMED;
    /* one frame per event, no more than asked for, and the seqs that follow from them */
    if (count > max || count != r->frames || times != count || seq == 0 ||
        seq > UINT64_MAX - count || next != seq + count)
        return OB_ERR_MALFORMED;
    size_t head = sizeof(ob_fetch_t) + (size_t)count * sizeof(ob_fetched_t);
    ob_fetch_t *fetch = calloc(1, head + r->event_len);
    if (!fetch)
        return -ENOMEM;
    memcpy(fetch->topic, topic.ptr, topic.len);
    fetch->seq = seq;
    fetch->count = (size_t)count;
    fetch->next = next;
    fetch->last_seq = last_seq;
    fetch->events = count ? (ob_fetched_t *)(fetch + 1) : NULL;
    uint8_t *data = (uint8_t *)fetch + head;
    if (r->event_len)
        memcpy(data, r->event, r->event_len);
    for (size_t i = 0; i < count; i++) {
        ob_fetched_t *e = &fetch->events[i];
        e->seq = seq + i;
        e->event = data;
        e->event_len = r->frame_len[i];
        data += e->event_len;
        if (e->event_len == 0 || ob_mp_read_uint(&v[S_RANGE_TIMES], &e->time_us)) {
            free(fetch);
            return OB_ERR_MALFORMED;
        }
    }
    *ret_fetch = fetch;
    return 0;
}

int
ob_client_fetch(ob_client_t *self, const char *topic, uint64_t seq, uint64_t time_us, uint32_t max,
                ob_fetch_t **ret_fetch)
{
    assert(self && topic && ret_fetch);
    if (strlen(topic) > OB_TOPIC_MAX)
        return OB_ERR_TOO_LARGE;
    if (max == 0)
        return OB_ERR_FIELD_TYPE;             /* count 0 would be the single FETCH */
    ob_wire_msg_t *msg = malloc(sizeof *msg); /* 7.8 KB: not on the caller's stack */
    if (!msg)
        return -ENOMEM;
    ob_wire_msg_init(msg, OB_CMD_FETCH);
    strcpy(msg->topic, topic);
    msg->seq = seq;
    msg->count = max;
    msg->time = time_us;
    int rc = s_admin(self, msg, 1, 1);
    if (rc == 0)
        rc = s_fetch_build(&self->request, max, ret_fetch);
    s_request_clear(self);
    free(msg);
    return rc;
}

void
ob_fetch_destroy(ob_fetch_t **self_p)
{
    if (self_p) {
        free(*self_p); /* one block: the range, its events and their bytes */
        *self_p = NULL;
    }
}
