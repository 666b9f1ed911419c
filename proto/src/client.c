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
    token t is t & mask and every lookup is O(1). A slot whose token is not t is resolved. */
#include "orderbus/client.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "orderbus/error.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

/* One publish sent (or to be sent) and not yet confirmed or refused. */
typedef struct s_slot {
    uint64_t token;   /* the publish's token and req id; 0 if the slot is free */
    uint8_t *event;   /* encoded event, from ob_event_encode, owned */
    size_t event_len; /* bytes at event */
    uint64_t epoch;   /* session epoch it was last sent in; 0 if not sent in any */
    int sync;         /* 1 if ob_client_publish waits for it (no FIFO entry) */
} s_slot_t;

struct ob_client {
    zsock_t *sock;                     /* our DEALER, owned */
    void *handle;                      /* its libzmq handle, borrowed from sock */
    char *endpoint;                    /* copy of the endpoint, for reconnecting */
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
    char session[OB_WIRE_SESSION_MAX + 1]; /* session id of the last WELCOME */
    uint8_t body[OB_BODY_MAX];             /* where outgoing bodies are encoded */
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
    ob_wire_msg_t msg = {.command = OB_CMD_HELLO, .heartbeat_ms = self->heartbeat_ms};
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
    return self->pending < self->window && self->next_token - self->tail <= self->ring_mask;
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
    self->hello_rc = 0;
    self->ping_outstanding = 0;
    memcpy(self->session, msg->session, sizeof self->session);
    self->hb = msg->heartbeat_ms; /* ob_wire_decode checked its range */
    self->max_event = msg->max_event;
    s_resend_all(self);
}

/* Handles ERROR. */
static void
s_on_error(ob_client_t *self, const ob_wire_msg_t *msg)
{
    int rc = ob_error_from_wire(msg->code);
    s_slot_t *slot = msg->req ? s_pending_slot(self, msg->req) : NULL;

    if (rc == OB_ERR_HELLO_REQUIRED) {
        /* Only news if it answers something sent in the current session: without a session
           a HELLO is already on its way, and an answer to a publish sent in an earlier
           session is stale (the publish has been re-sent since). Never the caller's
           business: the publishes stay pending and go again after WELCOME. */
        if (self->welcomed && (!msg->req || (slot && slot->epoch == self->epoch)))
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
    if (msg->req) {
        if (slot) /* else already resolved: a re-send got a second answer */
            s_resolve(self, slot, 0, 0, rc);
        return;
    }
    if (!self->welcomed && self->hello_outstanding) {
        /* The broker refused HELLO (HELLO never gets HELLO_REQUIRED). Keep the code for
           ob_client_connect; s_tick tries again later (the broker may be shutting down). */
        self->hello_outstanding = 0;
        self->hello_rc = rc;
    }
}

/* Handles one decoded message from the broker. */
static void
s_dispatch(ob_client_t *self, const ob_wire_msg_t *msg)
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
    default: /* PONG: proof of life, already counted; anything else is not for a client */
        break;
    }
}

/* Receives and handles one message if one is waiting. Returns 1 if one was, 0 if none,
   OB_ERR_CLOSED if the ZeroMQ context is gone, or -errno. */
static int
s_recv_one(ob_client_t *self)
{
    zmq_msg_t part[OB_FRAMES_MAX];
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
        if (parts < OB_FRAMES_MAX)
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
    if (parts >= 2 && !too_many &&
        ob_wire_decode(zmq_msg_data(&part[0]), zmq_msg_size(&part[0]), zmq_msg_data(&part[1]),
                       zmq_msg_size(&part[1]), &msg) == 0)
        s_dispatch(self, &msg);
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
        if (deadline >= 0 && now >= deadline)
            return OB_ERR_TIMEOUT;

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

    /* Twice the window, so that a few confirmations withheld at the tail do not stop the
       pipeline before the window is really full. */
    size_t slots = 1;
    while (slots < (size_t)self->window * 2)
        slots *= 2;
    self->ring_mask = slots - 1;
    if (!(self->ring = calloc(slots, sizeof *self->ring)) || !(self->endpoint = strdup(endpoint)))
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
    zsock_destroy(&self->sock);
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

/* Encodes event and adds it to the pending publishes (sent at once if we have a session),
   waiting for room until deadline. On success *ret_slot is its slot. Returns 0, an encoding
   error, OB_ERR_TOO_LARGE (over the broker's max_event), -ENOMEM, or an s_wait error. */
static int
s_publish(ob_client_t *self, const ob_event_t *event, int sync, int64_t deadline,
          s_slot_t **ret_slot)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_event_encode(event, &buf, &len);
    if (rc)
        return rc;
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
ob_client_session(const ob_client_t *self)
{
    return self->session;
}
