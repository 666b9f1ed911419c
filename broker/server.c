/*  ob_server: see server.h.

    The event loop, in one thread, polls three things: the pipe (commands from the owner),
    the writer (a committed batch coming back) and the ROUTER (client messages). Two batches
    alternate: `collecting` fills from the ROUTER while `in_flight` is at the writer. The
    ROUTER is read until it is empty (or a bound) before a batch is handed over, so under load
    a batch holds everything that arrived during the previous commit; when the collecting
    batch is full the ROUTER is not polled at all, and ZeroMQ's high-water marks push back on
    the publishers. Nothing is ever dropped for lack of room.

    The per-publish path allocates nothing of its own: the event is validated by
    ob_event_peek, which allocates nothing and gives its envelope as views into the frame;
    frames are received into zmq_msg_t values (no czmq zframe_t allocations); the routing id
    and the event frame of a publish are moved into the batch as they are (zero-copy; the
    store item points into the event frame); batch arrays are allocated once; replies are
    encoded on the stack and sent with zmq_send (small frames are copied inline by libzmq).

    Throughput is the number of publishes in flight divided by the commit time, so the writer
    must never wait for us: when it returns a batch, the batch collected meanwhile is handed
    over first, and only then is the returned one answered.

    A session ends as soon as its connection closes: a socket monitor on the ROUTER reports
    each closed connection by its descriptor, and each session is bound to the descriptor
    its HELLO came from (s_on_monitor, s_hello_fd). Only an open, silent connection waits
    for heartbeat expiry (s_expire).

    Every message is checked in the order of PROTOCOL.md 5.3 and the first failure is answered
    with ERROR; nothing a client sends can stop the loop. On $TERM the publishes already
    received are committed and confirmed, and what arrives meanwhile is refused with SHUTDOWN
    (nothing stored), so that clients know at once to re-send to the next broker. */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "auth.h"
#include "broker_metrics.h"
#include "command_table.h"
#include "endpoint.h"
#include "metrics_http.h"
#include "orderbus/orderbus.h"
#include "perms.h"
#include "store.h"
#include "subs.h"
#include "writer.h"

_Static_assert(OB_SUBS_OWNER_MAX >= OB_PERMS_NAME_MAX, "a client name fits a subscription's owner");

#define S_RID_MAX 255                 /* bytes in a ZeroMQ routing id */
#define S_RID_KEY (2 * S_RID_MAX + 1) /* hex of a routing id, with its NUL */
#define S_REASON_FAIL 512             /* bytes in a start failure reason */
#define S_COMMIT_REASON_MAX 128       /* bytes in a failed commit's reason */
#define S_ENDPOINT_MAX 1024 /* bytes in the bound endpoints (tcp ports resolved, one a line) */

/* A publish waiting for its commit. */
typedef struct s_pending {
    zmq_msg_t rid;           /* the client's routing id, owned (always initialised) */
    zmq_msg_t frame;         /* the event frame, owned; the store item points into it */
    ob_event_envelope_t env; /* the event's envelope, views into frame (as the item's) */
    uint64_t req;            /* the client's request id */
} s_pending_t;

/* A SUBSCRIBE that created a durable subscription: answered after the commit. */
typedef struct s_deferred {
    char key[S_RID_KEY];           /* the session's key */
    uint64_t req;                  /* the request */
    char sub[OB_SUB_NAME_MAX + 1]; /* the subscription */
} s_deferred_t;

/* A group commit: items for the writer plus what is needed to answer them. The items are
   the publishes (pending[i] answers items[i]) followed by the dead letters of subs. */
typedef struct s_batch {
    ob_writer_batch_t wb; /* what the writer sees: wb.items[i] belongs to pending[i] */
    s_pending_t *pending; /* batch_max entries */
    size_t publishes;     /* items that are publishes; the rest are dead letters */
    size_t bytes;         /* event bytes collected */
    ob_subs_batch_t subs; /* subscription state to persist with it */
    zlistx_t *deferred;   /* s_deferred_t * answered after the commit, owned */
} s_batch_t;

/* One connection that said HELLO. Its address is the consumer identity in subs.h. */
typedef struct s_session {
    char name[OB_CLIENT_NAME_MAX + 1]; /* client name from HELLO */
    uint32_t heartbeat_ms;             /* agreed heartbeat interval */
    uint32_t max_run;                  /* deliveries it takes in one DELIVER, >= 1 (HELLO) */
    int64_t last_seen;                 /* zclock_mono of its last message */
    uint8_t rid[S_RID_MAX];            /* its routing id, to send deliveries */
    size_t rid_len;                    /* bytes in rid */
    char key[S_RID_KEY];               /* its key in sessions */
    char user[OB_PERMS_KEY_LEN + 1];   /* CURVE: the client's public key at HELLO; else "" */
    int gone;                          /* its connection was found gone (in self->gone) */
    unsigned pending;                  /* its publishes in a batch, not yet answered */
    int fd;                            /* its connection's socket (ZMQ_SRCFD of HELLO), or -1 */
} s_session_t;

/* What the ROUTER's monitor told of one socket descriptor (s_on_monitor). */
typedef struct s_conn {
    int open;             /* connections accepted on it and not yet disconnected: 0 or 1 */
    s_session_t *session; /* the session bound to its connection, or NULL */
} s_conn_t;

typedef struct s_server {
    ob_config_t cfg;                     /* our copy of the configuration */
    zsock_t *pipe;                       /* actor pipe, borrowed */
    zsock_t *router;                     /* client socket, owned */
    ob_perms_t *perms;                   /* CURVE: the permissions, owned; NULL in plaintext */
    zactor_t *auth;                      /* CURVE: the ZAP handler (auth.h), owned */
    ob_broker_metrics_t *metrics;        /* Prometheus metrics, owned */
    ob_metrics_http_t *http;             /* their GET /metrics, owned; NULL if off */
    uint64_t forbidden;                  /* FORBIDDEN replies for permissions */
    uint64_t forbidden_unlogged;         /* refusals not logged since the last line */
    int64_t forbidden_logged_at;         /* zclock_mono of the last refusal logged */
    int storage_failing;                 /* the last commit failed (s_log_commit) */
    int64_t storage_logged_at;           /* zclock_mono of the last storage line */
    uint64_t storage_unlogged;           /* failed commits not logged since that line */
    uint64_t storage_unlogged_publishes; /* publishes they refused */
    ob_store_t *store;                   /* owned; written only by the writer */
    zactor_t *writer;                    /* owned */
    zhashx_t *sessions;                  /* hex(routing id) -> s_session_t, owned */
    ob_subs_t *subs;                     /* subscriptions, owned */
    ob_writer_args_t writer_args;        /* what the writer borrows */
    zlistx_t *deferred;                  /* s_deferred_t * for the next batch, owned */
    zlistx_t *gone;                      /* s_session_t * found gone, borrowed */
    zsock_t *monitor;                    /* PAIR: the ROUTER's connection events, owned */
    s_conn_t *conns;                     /* by socket descriptor, conn_cap entries, owned */
    size_t conn_cap;                     /* entries at conns */
    int64_t trim_at;                     /* zclock_mono when to give freed memory back, or 0 */
    uint8_t *reply;                      /* OB_BODY_MAX bytes for large OK bodies */
    uint8_t *result;                     /* OB_SERVER_RESULT_MAX bytes: OK results */
    ob_wire_msg_t msg;                   /* scratch for replies (7 KB: not stacked) */
    ob_wire_msg_t in;                    /* the message being handled */
    ob_wire_msg_t confirm;               /* scratch for CONFIRMs: zeroed once, only */
                                         /* its CONFIRM fields ever change */
    int store_failed;                    /* a commit failed while stopping */
    int64_t state_due;                   /* zclock_mono before which acks alone are not committed */
    s_batch_t batches[2];                /* the two batches, owned */
    s_batch_t *collecting;               /* the batch filling from the ROUTER */
    s_batch_t *in_flight;                /* the batch at the writer, or NULL */
    int terminating;                     /* $TERM received */
    int paused;                          /* the ROUTER was not polled (batch full) */
    int64_t resumed_at;                  /* when reading last resumed after a pause */
    int start_rc;                        /* 0 or why the start failed */
    char start_reason[S_REASON_FAIL];    /* the start failure, "" if none */
    char endpoint[S_ENDPOINT_MAX];       /* the endpoints bound, one a line */
    char session_id[OB_SERVER_SESSION_LEN + 1]; /* random, new at each start */
    /* counters */
    uint64_t received;                            /* messages read from the ROUTER */
    uint64_t published;                           /* publishes stored (new events) */
    uint64_t duplicates;                          /* publishes confirmed as duplicates */
    uint64_t errors;                              /* ERROR replies, all codes */
    uint64_t errors_by_code[OB_SERVER_CODES_MAX]; /* ERROR replies by wire code */
    uint64_t batches_done;                        /* batches committed or failed */
    uint64_t batched_items;                       /* publishes in those batches */
    uint64_t dropped; /* replies not sent: peer gone or its queue full */
} s_server_t;

/* Writes the routing id as a hex key into key. */
static void
s_rid_key(zmq_msg_t *rid, char key[S_RID_KEY])
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *data = zmq_msg_data(rid);
    size_t size = zmq_msg_size(rid);
    if (size > S_RID_MAX)
        size = S_RID_MAX; /* libzmq caps routing ids at 255 bytes */
    for (size_t i = 0; i < size; i++) {
        key[2 * i] = hex[data[i] >> 4];
        key[2 * i + 1] = hex[data[i] & 15];
    }
    key[2 * size] = '\0';
}

/* Sends msg, and the bytes of count events (borrowed, none if 0) as its frames after the
   body (one for FETCH's OK and a DELIVER, count for a DELIVER run), to the peer whose
   routing id is rid (rid_len bytes, borrowed). Never blocks: a peer that is gone or whose
   queue is full loses the message, which is counted (a publisher re-sends and is answered
   again, publishes being idempotent; a delivery is redelivered after its ack timeout).
   Returns 0 or -errno: -EHOSTUNREACH (the peer is gone), -EAGAIN (its queue is full). */
static int
s_send_to(s_server_t *self, const void *rid, size_t rid_len, const ob_wire_msg_t *msg,
          const ob_store_event_t *events, size_t count)
{
    _Static_assert(OB_SERVER_DELIVER_MAX >= OB_SERVER_REPLY_MAX, "a reply fits the buffer");
    uint8_t header[OB_HEADER_SIZE];
    uint8_t small[OB_SERVER_DELIVER_MAX];
    uint8_t *body = msg->command == OB_CMD_OK ? self->reply : small;
    size_t cap = msg->command == OB_CMD_OK ? OB_BODY_MAX : sizeof small;
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    int rc = ob_wire_encode_body(msg, body, cap, &body_len);
    if (rc) {
        zsys_error("server: cannot encode %s: %s", ob_command_name(msg->command), ob_strerror(rc));
        self->dropped++;
        return -1;
    }
    void *handle = zsock_resolve(self->router);
    /* With ROUTER_MANDATORY the first frame fails (EHOSTUNREACH, EAGAIN) if the peer is
       gone or full; once it is accepted, the rest of the message is too. */
    if (zmq_send(handle, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, body, body_len, count ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT) < 0) {
        self->dropped++;
        return -errno;
    }
    for (size_t i = 0; i < count; i++)
        if (zmq_send(handle, events[i].event, events[i].event_len,
                     i + 1 < count ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT) < 0) {
            self->dropped++; /* cannot happen once the first frame went (above) */
            return -errno;
        }
    return 0;
}

/* Sends msg to the peer rid (borrowed); see s_send_to. */
static int
s_send(s_server_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    return s_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), msg, NULL, 0);
}

/* Answers ERROR {req, code, reason, sub} to the peer rid (rid_len bytes) and counts it. rc
   is an OB_ERR_* code (anything else, such as -ENOMEM, is answered as BUSY: the client may
   retry). sub may be NULL. */
static void s_send_error_v(s_server_t *self, const void *rid, size_t rid_len, uint64_t req, int rc,
                           const char *sub, const char *format, va_list args)
    __attribute__((format(printf, 7, 0)));

static void
s_send_error_v(s_server_t *self, const void *rid, size_t rid_len, uint64_t req, int rc,
               const char *sub, const char *format, va_list args)
{
    ob_wire_msg_t *msg = &self->msg;
    memset(msg, 0, sizeof *msg);
    msg->command = OB_CMD_ERROR;
    msg->req = req;
    msg->code = ob_error_to_wire(rc);
    if (msg->code == 0) {
        rc = OB_ERR_BUSY;
        msg->code = ob_error_to_wire(rc);
    }
    if (sub)
        snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    if (format)
        vsnprintf(msg->reason, sizeof msg->reason, format, args);
    else
        snprintf(msg->reason, sizeof msg->reason, "%s", ob_strerror(rc));

    self->errors++;
    if (msg->code < OB_SERVER_CODES_MAX)
        self->errors_by_code[msg->code]++;
    ob_broker_metrics_error(self->metrics, msg->code);
    if (self->cfg.verbose)
        zsys_debug("server: ERROR %u (req %" PRIu64 "): %s", msg->code, req, msg->reason);
    s_send_to(self, rid, rid_len, msg, NULL, 0);
}

/* Answers ERROR {req, code, reason} to rid (borrowed); see s_send_error_v. The reason is
   printf-formatted; NULL format means ob_strerror(rc). */
static void s_send_error(s_server_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format,
                         ...) CHECK_PRINTF(5);

static void
s_send_error(s_server_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, zmq_msg_data(rid), zmq_msg_size(rid), req, rc, NULL, format, args);
    va_end(args);
}

/* ERROR {code, reason, sub} without req to a session. */
static void s_send_error_sub(s_server_t *self, s_session_t *session, int rc, const char *sub,
                             const char *format, ...) CHECK_PRINTF(5);

static void
s_send_error_sub(s_server_t *self, s_session_t *session, int rc, const char *sub,
                 const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, session->rid, session->rid_len, 0, rc, sub, format, args);
    va_end(args);
}

/* The same to a session. */
static void s_send_error_to(s_server_t *self, s_session_t *session, uint64_t req, int rc,
                            const char *format, ...) CHECK_PRINTF(5);

static void
s_send_error_to(s_server_t *self, s_session_t *session, uint64_t req, int rc, const char *format,
                ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, session->rid, session->rid_len, req, rc, NULL, format, args);
    va_end(args);
}

/* Answers ERROR FORBIDDEN with reason to rid (borrowed), counts it and logs it: at most one
   line per OB_SERVER_FORBIDDEN_LOG_MS, which carries the number of refusals left unlogged
   before it, so that a client hammering a forbidden topic cannot flood the log. */
static void
s_forbidden(s_server_t *self, zmq_msg_t *rid, uint64_t req, const char *who, const char *reason)
{
    self->forbidden++;
    int64_t now = zclock_mono();
    if (self->forbidden_logged_at == 0 ||
        now - self->forbidden_logged_at >= OB_SERVER_FORBIDDEN_LOG_MS) {
        if (self->forbidden_unlogged)
            zsys_warning("server: FORBIDDEN to %s: %s (and %" PRIu64 " refusals not logged "
                         "before this one)",
                         who, reason, self->forbidden_unlogged);
        else
            zsys_warning("server: FORBIDDEN to %s: %s", who, reason);
        self->forbidden_logged_at = now;
        self->forbidden_unlogged = 0;
    } else
        self->forbidden_unlogged++;
    s_send_error(self, rid, req, OB_ERR_FORBIDDEN, "%s", reason);
}

/* Frees what a pending publish owns. */
static void
s_pending_clear(s_pending_t *pending)
{
    /* closing and re-initialising leaves both ready for the next publish */
    zmq_msg_close(&pending->rid);
    zmq_msg_init(&pending->rid);
    zmq_msg_close(&pending->frame);
    zmq_msg_init(&pending->frame);
    memset(&pending->env, 0, sizeof pending->env); /* its views died with the frame */
}

/* Returns 1 if batch can take no more publishes. */
static int
s_batch_full(const s_server_t *self, const s_batch_t *batch)
{
    return batch->wb.count >= self->cfg.batch_max || batch->bytes >= OB_SERVER_BATCH_BYTES_MAX;
}

/* A run of confirmations for one client: consecutive reqs on one topic that got consecutive
   sequence numbers with the same dup flag. It goes out as one CONFIRM with a count, so that
   a pipelining client gets one message per batch instead of one per event. */
typedef struct s_run {
    zmq_msg_t *rid;    /* the client's routing id, borrowed from the batch */
    const char *topic; /* the run's topic, topic_len bytes, borrowed from the batch */
    size_t topic_len;  /* bytes at topic */
    struct {
        uint64_t req, seq; /* the first of the run */
        int dup;
        uint32_t count;
    } msg; /* the CONFIRM so far */
} s_run_t;

/* The session of the peer rid (borrowed), or NULL. */
static s_session_t *
s_session_of(s_server_t *self, zmq_msg_t *rid)
{
    char key[S_RID_KEY];
    s_rid_key(rid, key);
    return zhashx_lookup(self->sessions, key);
}

/* count publishes of the peer rid were answered: they no longer count towards its
   max_pending. A session that said HELLO again meanwhile started from 0. */
static void
s_answered(s_server_t *self, zmq_msg_t *rid, uint32_t count)
{
    s_session_t *session = s_session_of(self, rid);
    if (session)
        session->pending = session->pending > count ? session->pending - count : 0;
}

/* Sends run's CONFIRM and closes it. */
static void
s_run_flush(s_server_t *self, s_run_t *run)
{
    if (run->rid) {
        s_answered(self, run->rid, run->msg.count);
        ob_wire_msg_t *msg = &self->confirm;
        msg->command = OB_CMD_CONFIRM;
        msg->req = run->msg.req;
        msg->seq = run->msg.seq;
        msg->dup = run->msg.dup;
        msg->count = run->msg.count;
        s_send(self, run->rid, msg);
    }
    run->rid = NULL;
}

/* Returns 1 if the routing ids a and b are the same. */
static int
s_rid_equal(zmq_msg_t *a, zmq_msg_t *b)
{
    return zmq_msg_size(a) == zmq_msg_size(b) &&
           memcmp(zmq_msg_data(a), zmq_msg_data(b), zmq_msg_size(a)) == 0;
}

/* The error a client gets for rc, a failed commit's code (store.h) or another: a full disk
   (-ENOSPC) is STORAGE like any storage failure (PROTOCOL.md 8); s_commit_reason names it. */
static int
s_commit_rc(int rc)
{
    return rc == -ENOSPC ? OB_ERR_STORAGE : rc;
}

/* Writes the reason for rc (as s_commit_rc) into buf (len bytes) and returns buf: for a
   full disk "storage failure: no space left on device", else ob_strerror(rc). */
static const char *
s_commit_reason(int rc, char *buf, size_t len)
{
    if (s_commit_rc(rc) != rc)
        snprintf(buf, len, "%s: %s", ob_strerror(s_commit_rc(rc)), ob_strerror(rc));
    else
        snprintf(buf, len, "%s", ob_strerror(rc));
    return buf;
}

/* Logs the outcome of batch's commit if it failed, or if it is the first to succeed after
   failures: the first failure of a series at once, then at most one line per
   OB_SERVER_STORAGE_LOG_MS, which counts the failures left unlogged before it, so that a
   full disk under load (a failed commit every few milliseconds) cannot flood the log. */
static void
s_log_commit(s_server_t *self, const s_batch_t *batch)
{
    char reason[S_COMMIT_REASON_MAX];
    int rc = batch->wb.rc;
    if (rc == 0 && !self->storage_failing)
        return;
    int64_t now = zclock_mono();
    if (rc && self->storage_failing && now - self->storage_logged_at < OB_SERVER_STORAGE_LOG_MS) {
        self->storage_unlogged++;
        self->storage_unlogged_publishes += batch->publishes;
        return;
    }
    if (rc == 0)
        zsys_info("server: storage works again (%" PRIu64 " failed commits, %" PRIu64
                  " publishes refused, since the last storage line)",
                  self->storage_unlogged, self->storage_unlogged_publishes);
    else if (self->storage_unlogged)
        zsys_error("server: commit failed, %zu publishes refused: %s (and %" PRIu64
                   " failed commits, %" PRIu64 " publishes refused, since the last line)",
                   batch->publishes, s_commit_reason(rc, reason, sizeof reason),
                   self->storage_unlogged, self->storage_unlogged_publishes);
    else
        zsys_error("server: commit failed, %zu publishes refused: %s", batch->publishes,
                   s_commit_reason(rc, reason, sizeof reason));
    self->storage_failing = rc != 0;
    self->storage_logged_at = now;
    self->storage_unlogged = self->storage_unlogged_publishes = 0;
}

/* After the commit of batch: tells subs what was stored (or that the commit failed, so that
   its state is written again), frees the dead letters, and answers the SUBSCRIBEs that
   waited for this commit. */
static void
s_subs_committed(s_server_t *self, s_batch_t *batch)
{
    int rc = batch->wb.rc;
    if (rc == 0) {
        ob_subs_on_commit(self->subs, batch->wb.items, batch->wb.count);
        for (size_t i = batch->publishes; i < batch->wb.count; i++)
            if (batch->wb.items[i].rc == 0 && !batch->wb.items[i].dup) {
                self->published++;
                ob_broker_metrics_stored(self->metrics, batch->wb.items[i].event_len);
            }
        for (size_t i = 0; i < batch->subs.letter_count; i++)
            free(batch->subs.letters[i].event);
        batch->subs.letter_count = 0;
    } else {
        ob_subs_uncollect(self->subs, &batch->subs);
        if (self->terminating)
            self->store_failed = 1;
    }
    s_deferred_t *d;
    char reason[S_COMMIT_REASON_MAX];
    while ((d = zlistx_detach(batch->deferred, NULL))) {
        s_session_t *session = zhashx_lookup(self->sessions, d->key);
        if (session) {
            int arc = rc ? rc : ob_subs_attach(self->subs, session, d->sub);
            if (arc)
                s_send_error_to(self, session, d->req, s_commit_rc(arc), "SUBSCRIBE %s: %s", d->sub,
                                s_commit_reason(arc, reason, sizeof reason));
            else {
                ob_wire_msg_t *msg = &self->msg;
                memset(msg, 0, sizeof *msg);
                msg->command = OB_CMD_SUBSCRIBED;
                msg->req = d->req;
                snprintf(msg->sub, sizeof msg->sub, "%s", d->sub);
                msg->created = 1;
                s_send_to(self, session->rid, session->rid_len, msg, NULL, 0);
            }
        }
        free(d);
    }
}

/* Answers every publish of the batch the writer returned, then empties it. Per client, the
   answers keep the order of its publishes. */
static void
s_confirm(s_server_t *self, s_batch_t *batch)
{
    s_run_t runs[OB_SERVER_RUNS_OPEN];
    size_t next_victim = 0;
    char reason[S_COMMIT_REASON_MAX];
    memset(runs, 0, sizeof runs);
    s_log_commit(self, batch);
    for (size_t i = 0; i < batch->publishes; i++) {
        const ob_store_item_t *item = &batch->wb.items[i];
        s_pending_t *pending = &batch->pending[i];
        s_run_t *run = NULL;
        for (size_t r = 0; r < OB_SERVER_RUNS_OPEN && !run; r++)
            if (runs[r].rid && s_rid_equal(runs[r].rid, &pending->rid))
                run = &runs[r];
        if (item->rc) {
            if (run)
                s_run_flush(self, run); /* the client's earlier answers go first */
            s_answered(self, &pending->rid, 1);
            s_send_error(self, &pending->rid, pending->req, s_commit_rc(item->rc), "%.*s: %s",
                         (int)pending->env.topic_len, pending->env.topic,
                         s_commit_reason(item->rc, reason, sizeof reason));
            continue;
        }
        if (item->dup)
            self->duplicates++;
        else
            self->published++;
        ob_broker_metrics_confirm(self->metrics, item->dup, item->event_len);
        if (run && run->msg.req + run->msg.count == pending->req &&
            run->msg.seq + run->msg.count == item->seq && run->msg.dup == item->dup &&
            run->msg.count < OB_CONFIRM_RUN_MAX && run->topic_len == pending->env.topic_len &&
            memcmp(run->topic, pending->env.topic, run->topic_len) == 0) {
            run->msg.count++;
            continue;
        }
        if (run)
            s_run_flush(self, run);
        else {
            for (size_t r = 0; r < OB_SERVER_RUNS_OPEN && !run; r++)
                if (!runs[r].rid)
                    run = &runs[r];
            if (!run) { /* more clients than open runs: close one, round robin */
                run = &runs[next_victim];
                next_victim = (next_victim + 1) % OB_SERVER_RUNS_OPEN;
                s_run_flush(self, run);
            }
        }
        run->rid = &pending->rid;
        run->topic = pending->env.topic;
        run->topic_len = pending->env.topic_len;
        memset(&run->msg, 0, sizeof run->msg);
        run->msg.req = pending->req;
        run->msg.seq = item->seq;
        run->msg.dup = item->dup;
        run->msg.count = 1;
    }
    for (size_t r = 0; r < OB_SERVER_RUNS_OPEN; r++)
        s_run_flush(self, &runs[r]);
    s_subs_committed(self, batch);
    for (size_t i = 0; i < batch->publishes; i++)
        s_pending_clear(&batch->pending[i]);
    self->batches_done++;
    self->batched_items += batch->publishes;
    batch->wb.count = 0;
    batch->publishes = 0;
    batch->wb.rc = 0;
    batch->wb.op_count = 0;
    batch->bytes = 0;
}

/* Hands the collecting batch to the writer if the writer is idle and there is something:
   publishes, or subscription state to persist. The subscription state is collected now,
   at the last moment, so that it holds everything up to this instant. */
static void
s_handover(s_server_t *self)
{
    s_batch_t *batch = self->collecting;
    if (self->in_flight ||
        (batch->wb.count == 0 && !ob_subs_dirty(self->subs) && zlistx_size(self->deferred) == 0))
        return;
    if (self->store_failed)
        return; /* stopping after a failed commit: what is left stays for the next start */
    /* A commit of acks alone waits up to OB_SERVER_STATE_MS, so that a consumer acking
       steadily costs a few commits a second, not one per turn of the loop. */
    int64_t now = zclock_mono();
    if (batch->wb.count == 0 && zlistx_size(self->deferred) == 0 && !self->terminating &&
        now < self->state_due)
        return;
    self->state_due = now + OB_SERVER_STATE_MS;
    batch->publishes = batch->wb.count;
    if (ob_subs_collect(self->subs, &batch->subs))
        zsys_error("server: out of memory collecting subscription state (retried)");
    for (size_t i = 0; i < batch->subs.letter_count; i++) {
        const ob_subs_letter_t *letter = &batch->subs.letters[i];
        ob_store_item_t *item = &batch->wb.items[batch->wb.count++];
        memset(item, 0, sizeof *item);
        item->topic = letter->topic;
        item->topic_len = strlen(letter->topic);
        item->event_id = letter->id;
        item->event_id_len = strlen(letter->id);
        item->event = letter->event;
        item->event_len = letter->event_len;
    }
    batch->wb.ops = batch->subs.ops;
    batch->wb.op_count = batch->subs.op_count;
    void *d;
    while ((d = zlistx_detach(self->deferred, NULL)))
        zlistx_add_end(batch->deferred, d);
    if (zsock_send(self->writer, "sp", OB_WRITER_BATCH, &batch->wb)) {
        zsys_error("server: cannot reach the writer");
        ob_subs_uncollect(self->subs, &batch->subs);
        while ((d = zlistx_detach(batch->deferred, NULL)))
            zlistx_add_end(self->deferred, d);
        batch->wb.count = batch->publishes;
        batch->wb.op_count = 0;
        return; /* retried on the next turn of the loop */
    }
    self->in_flight = self->collecting;
    self->collecting = self->in_flight == &self->batches[0] ? &self->batches[1] : &self->batches[0];
}

/* Ends session (borrowed, freed here): detaches it from its subscriptions, whose deliveries
   become available to other consumers at once, unbinds its connection and forgets it. What
   it held is given back to the system at the next tick after OB_SERVER_TRIM_MS. */
static void
s_end_session(s_server_t *self, s_session_t *session)
{
    void *handle = session->gone ? zlistx_find(self->gone, session) : NULL;
    if (handle)
        zlistx_delete(self->gone, handle);
    if (session->fd >= 0 && (size_t)session->fd < self->conn_cap &&
        self->conns[session->fd].session == session)
        self->conns[session->fd].session = NULL;
    ob_subs_detach_all(self->subs, session);
    zhashx_delete(self->sessions, session->key); /* frees it */
    if (!self->trim_at)
        self->trim_at = zclock_mono() + OB_SERVER_TRIM_MS;
}

/* The entry of socket descriptor fd (>= 0) in conns, grown to hold it. NULL: out of memory
   (the connection is then not followed: its session ends by heartbeat expiry). */
static s_conn_t *
s_conn(s_server_t *self, int fd)
{
    if ((size_t)fd >= self->conn_cap) {
        size_t cap = self->conn_cap ? self->conn_cap : OB_SERVER_CONNS_MIN;
        while (cap <= (size_t)fd)
            cap *= 2;
        s_conn_t *grown = realloc(self->conns, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + self->conn_cap, 0, (cap - self->conn_cap) * sizeof *grown);
        self->conns = grown;
        self->conn_cap = cap;
    }
    return &self->conns[fd];
}

/* Reads the ROUTER monitor's waiting events (libzmq 4.3: a frame of u16 event and u32 value,
   the socket descriptor, then the endpoint) and ends the session of each connection that
   closed. Why a DISCONNECTED event is never taken for a later connection on the same
   descriptor: libzmq sends it before it closes the descriptor, so before the kernel can
   give the number to a new connection, whose ACCEPTED event follows it; and a session is
   bound to its descriptor only after every event waiting then was read (s_bind). */
static void
s_on_monitor(s_server_t *self)
{
    void *handle = zsock_resolve(self->monitor);
    while (1) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        zmq_msg_init(&address);
        int rc = zmq_msg_recv(&event, handle, ZMQ_DONTWAIT);
        if (rc >= 0 && zmq_msg_more(&event))
            rc = zmq_msg_recv(&address, handle, 0);
        uint16_t id = 0;
        uint32_t fd = 0;
        if (rc >= 0 && zmq_msg_size(&event) == sizeof id + sizeof fd) {
            memcpy(&id, zmq_msg_data(&event), sizeof id);
            memcpy(&fd, (const uint8_t *)zmq_msg_data(&event) + sizeof id, sizeof fd);
        }
        zmq_msg_close(&event);
        zmq_msg_close(&address);
        if (rc < 0)
            return; /* none left (EAGAIN), or the monitor is gone */
        s_conn_t *conn = fd <= INT_MAX ? s_conn(self, (int)fd) : NULL;
        if (!conn)
            continue;
        if (id == ZMQ_EVENT_ACCEPTED) {
            /* a DISCONNECTED lost (monitor queue): what was bound here is closed */
            if (conn->session)
                s_end_session(self, conn->session);
            conn->open = 1;
        } else if (id == ZMQ_EVENT_DISCONNECTED) {
            conn->open = 0;
            if (conn->session) {
                if (self->cfg.verbose)
                    zsys_debug("server: session of peer %s ended: disconnected",
                               conn->session->key);
                s_end_session(self, conn->session);
            }
        }
    }
}

/* The socket descriptor of the connection a HELLO (header, borrowed) came from, its
   ZMQ_SRCFD, into *ret_fd (-1 if it cannot be told: its session then ends by heartbeat
   expiry only). Returns 0, or -1 if that connection is already closed: its client is gone,
   no session is to be made for it. */
static int
s_hello_fd(s_server_t *self, zmq_msg_t *header, int *ret_fd)
{
    int fd = zmq_msg_get(header, ZMQ_SRCFD);
    s_on_monitor(self); /* every event up to now: see s_on_monitor */
    s_conn_t *conn = fd >= 0 ? s_conn(self, fd) : NULL;
    *ret_fd = conn ? fd : -1;
    return conn && !conn->open ? -1 : 0;
}

/* Binds session to the connection of descriptor fd (-1: none), so that its DISCONNECTED
   event ends it. */
static void
s_bind(s_server_t *self, s_session_t *session, int fd)
{
    if (session->fd == fd)
        return;
    if (session->fd >= 0 && (size_t)session->fd < self->conn_cap &&
        self->conns[session->fd].session == session)
        self->conns[session->fd].session = NULL;
    session->fd = fd;
    if (fd < 0)
        return;
    s_conn_t *conn = &self->conns[fd]; /* s_hello_fd made it */
    /* A session still bound here said HELLO from an earlier connection of this descriptor,
       read late: that connection is closed, but its event was taken before the binding.
       It is left to heartbeat expiry rather than ended on a guess. */
    if (conn->session)
        conn->session->fd = -1;
    conn->session = session;
}

/* Handles HELLO: a new session, or a reset one, for rid. */
static void
s_on_hello(s_server_t *self, zmq_msg_t *rid, zmq_msg_t *header, const char *key,
           s_session_t *session, const ob_wire_msg_t *hello, const char *user)
{
    int fd = -1;
    int closed = s_hello_fd(self, header, &fd);
    session = zhashx_lookup(self->sessions, key); /* the events read may have ended it */
    if (closed) {
        if (self->cfg.verbose)
            zsys_debug("server: HELLO of peer %s not answered: its connection closed", key);
        if (session)
            s_end_session(self, session);
        return;
    }
    if (!session) {
        if (zhashx_size(self->sessions) >= self->cfg.max_clients) {
            s_send_error(self, rid, hello->req, OB_ERR_LIMIT, "max_clients (%u) sessions already",
                         self->cfg.max_clients);
            return;
        }
        session = calloc(1, sizeof *session);
        if (!session) {
            s_send_error(self, rid, hello->req, -ENOMEM, "out of memory for a session");
            return;
        }
        zhashx_insert(self->sessions, key, session); /* key is new: cannot fail */
        session->fd = -1;
        session->rid_len = zmq_msg_size(rid) < S_RID_MAX ? zmq_msg_size(rid) : S_RID_MAX;
        snprintf(session->key, sizeof session->key, "%s", key);
        memcpy(session->rid, zmq_msg_data(rid), session->rid_len);
    } else
        ob_subs_detach_all(self->subs, session); /* a restarted session: 12.5 */
    snprintf(session->name, sizeof session->name, "%s", hello->name);
    snprintf(session->user, sizeof session->user, "%s", user ? user : "");
    session->heartbeat_ms = hello->heartbeat_ms ? hello->heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT;
    session->max_run = hello->max_run ? hello->max_run : 1; /* <= OB_DELIVER_RUN_MAX: decoded */
    session->last_seen = zclock_mono();
    session->pending = 0; /* answers to the old session's publishes still count down */
    s_bind(self, session, fd);

    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_WELCOME;
    snprintf(msg.version, sizeof msg.version, "%s", OB_VERSION_STRING);
    snprintf(msg.session, sizeof msg.session, "%s", self->session_id);
    msg.heartbeat_ms = session->heartbeat_ms;
    msg.max_event = self->cfg.max_event_bytes;
    msg.max_pending = self->cfg.max_pending;
    s_send(self, rid, &msg);
}

/* Handles PUBLISH from session: checks the event and adds it to the collecting batch,
   moving rid and frame (both received, owned by the caller) into it; they are left empty
   then. */
static void
s_on_publish(s_server_t *self, s_session_t *session, zmq_msg_t *rid, zmq_msg_t *frame,
             const ob_wire_msg_t *msg, const ob_perms_client_t *client)
{
    ob_broker_metrics_publish(self->metrics);
    size_t size = zmq_msg_size(frame);
    if (size > self->cfg.max_event_bytes) {
        s_send_error(self, rid, msg->req, OB_ERR_TOO_LARGE,
                     "event of %zu bytes over max_event_bytes %" PRIu64, size,
                     self->cfg.max_event_bytes);
        return;
    }
    /* Validated whole, as ob_event_decode would, but only the envelope is kept: views into
       the frame, nothing allocated. */
    const char *data = zmq_msg_data(frame);
    ob_event_envelope_t env;
    int rc = ob_event_peek((const uint8_t *)data, size, &env);
    if (rc) {
        s_send_error(self, rid, msg->req, rc, "event: %s", ob_strerror(rc));
        return;
    }

    static const char dlq[] = OB_SUBS_DLQ_PREFIX;
    if (env.topic_len >= sizeof dlq - 1 && !memcmp(env.topic, dlq, sizeof dlq - 1)) {
        s_send_error(self, rid, msg->req, OB_ERR_FORBIDDEN,
                     "%.*s: only the broker publishes to dead-letter topics", (int)env.topic_len,
                     env.topic);
        return;
    }
    if (client && !ob_perms_may_publish(client, env.topic, env.topic_len)) {
        char reason[OB_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "PUBLISH %.*s: client %s may not publish to it",
                 (int)env.topic_len, env.topic, ob_perms_client_name(client));
        s_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
        return;
    }
    if (session->pending >= self->cfg.max_pending) {
        s_send_error(self, rid, msg->req, OB_ERR_LIMIT,
                     "max_pending (%u) publishes already await their answer",
                     self->cfg.max_pending);
        return;
    }

    s_batch_t *batch = self->collecting;
    size_t i = batch->wb.count++;
    s_pending_t *pending = &batch->pending[i];
    ob_store_item_t *item = &batch->wb.items[i];
    zmq_msg_move(&pending->rid, rid);
    zmq_msg_move(&pending->frame, frame);
    pending->req = msg->req;

    /* After the move the views must be taken again from the moved frame: a small frame's
       bytes live inside the zmq_msg_t itself (libzmq's VSM), so they moved with it, and
       env still points into the old one. Same offsets, new base. */
    const char *moved = zmq_msg_data(&pending->frame);
    pending->env = env;
    pending->env.id = moved + (env.id - data);
    pending->env.topic = moved + (env.topic - data);
    pending->env.type = moved + (env.type - data);

    memset(item, 0, sizeof *item);
    item->topic = pending->env.topic;
    item->topic_len = pending->env.topic_len;
    item->event_id = pending->env.id;
    item->event_id_len = pending->env.id_len;
    item->event = (const uint8_t *)moved;
    item->event_len = size;
    batch->bytes += size;
    session->pending++;
}

/* subs.h sink: a DELIVER to a session, a run of up to its max_run. */
static int
s_deliver(void *arg, void *consumer, ob_wire_msg_t *msg, const ob_store_event_t *events,
          size_t count)
{
    s_server_t *self = arg;
    s_session_t *session = consumer;
    if (count > session->max_run)
        count = session->max_run;
    msg->count = (uint32_t)count;
    int rc = s_send_to(self, session->rid, session->rid_len, msg, events, count);
    if (rc == -EHOSTUNREACH) {
        /* the connection is gone: its session ends after this pump (s_end_gone) */
        if (!session->gone) {
            session->gone = 1;
            zlistx_add_end(self->gone, session);
        }
        return OB_SUBS_GONE;
    }
    return rc ? OB_SUBS_FULL : (int)count;
}

/* Ends the sessions whose connection was found gone while delivering. */
static void
s_end_gone(s_server_t *self)
{
    s_session_t *session;
    while ((session = zlistx_first(self->gone))) {
        if (self->cfg.verbose)
            zsys_debug("server: session of peer %s ended: connection gone", session->key);
        s_end_session(self, session); /* takes it off the list */
    }
}

/* subs.h sink: the subscription a session was attached to was deleted (12.7). */
static void
s_gone(void *arg, void *consumer, const char *sub)
{
    s_send_error_sub(arg, consumer, OB_ERR_NO_SUCH_SUBSCRIPTION, sub, "subscription %s was deleted",
                     sub);
}

/* OK {req, result, more} to rid, with an event frame if event. */
static void
s_send_ok(s_server_t *self, zmq_msg_t *rid, uint64_t req, const uint8_t *result, size_t result_len,
          int more, const uint8_t *event, size_t event_len)
{
    ob_wire_msg_t *msg = &self->msg;
    memset(msg, 0, sizeof *msg);
    msg->command = OB_CMD_OK;
    msg->req = req;
    msg->result = result;
    msg->result_len = result_len;
    msg->more = more;
    ob_store_event_t frame = {.event = event, .event_len = event_len};
    s_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), msg, event ? &frame : NULL,
              event ? 1 : 0);
}

/* The TOPICS listing under construction. */
typedef struct s_topics {
    const ob_config_t *cfg;  /* the broker's configuration: each topic's retention limits */
    msgpack_sbuffer entries; /* packed entries */
    msgpack_sbuffer one;     /* the entry being packed */
    size_t count;            /* entries packed */
    int more;                /* cut for size */
} s_topics_t;

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static int
s_on_topic(void *arg, const char *name, uint32_t topic_id, const ob_topic_stat_t *stat)
{
    (void)topic_id;
    s_topics_t *t = arg;
    msgpack_packer pk;
    msgpack_sbuffer_clear(&t->one);
    msgpack_packer_init(&pk, &t->one, msgpack_sbuffer_write);
    uint64_t first = stat->events ? stat->first_seq : stat->last_seq + 1;
    ob_retention_t limits;
    ob_config_retention((void *)t->cfg, name, &limits);
    msgpack_pack_map(&pk, 9);
    s_pack_str(&pk, "name");
    s_pack_str(&pk, name);
    s_pack_str(&pk, "first_seq");
    msgpack_pack_uint64(&pk, first);
    s_pack_str(&pk, "last_seq");
    msgpack_pack_uint64(&pk, stat->last_seq);
    s_pack_str(&pk, "events");
    msgpack_pack_uint64(&pk, stat->events);
    s_pack_str(&pk, "bytes");
    msgpack_pack_uint64(&pk, stat->bytes);
    s_pack_str(&pk, "removed"); /* by retention: sequence numbers start at 1, without gaps */
    msgpack_pack_uint64(&pk, first - 1);
    s_pack_str(&pk, "max_age_ms"); /* the retention limits that apply to it, 0 = none */
    msgpack_pack_uint64(&pk, limits.max_age_ms);
    s_pack_str(&pk, "max_events");
    msgpack_pack_uint64(&pk, limits.max_events);
    s_pack_str(&pk, "max_bytes");
    msgpack_pack_uint64(&pk, limits.max_bytes);
    if (t->entries.size + t->one.size + OB_SERVER_REPLY_MAX > OB_BODY_MAX) {
        t->more = 1;
        return 1;
    }
    msgpack_sbuffer_write(&t->entries, t->one.data, t->one.size);
    t->count++;
    return 0;
}

/* TOPICS: the topics after msg->after, as many as fit. */
static void
s_on_topics(s_server_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    s_topics_t t;
    memset(&t, 0, sizeof t);
    t.cfg = &self->cfg;
    msgpack_sbuffer_init(&t.entries);
    msgpack_sbuffer_init(&t.one);
    int rc = ob_store_topics(self->store, msg->after, s_on_topic, &t);
    if (rc < 0 || rc == OB_ERR_STORAGE)
        s_send_error(self, rid, msg->req, rc, "TOPICS: %s", ob_strerror(rc));
    else {
        msgpack_sbuffer all;
        msgpack_sbuffer_init(&all);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &all, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, t.count);
        msgpack_sbuffer_write(&all, t.entries.data, t.entries.size);
        s_send_ok(self, rid, msg->req, (const uint8_t *)all.data, all.size, t.more, NULL, 0);
        msgpack_sbuffer_destroy(&all);
    }
    msgpack_sbuffer_destroy(&t.entries);
    msgpack_sbuffer_destroy(&t.one);
}

/* FETCH: one stored event. */
static void
s_on_fetch(s_server_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    uint8_t *event = NULL;
    size_t len = 0;
    uint64_t time_us = 0;
    /* A name that breaks PROTOCOL.md 7.2 names no topic that could ever exist: INVALID_TOPIC,
       not NO_SUCH_TOPIC (its length was checked by the decoder: TOO_LARGE) */
    int rc = ob_topic_valid(msg->topic, strlen(msg->topic))
                 ? ob_store_get(self->store, msg->topic, msg->seq, &event, &len, &time_us)
                 : OB_ERR_INVALID_TOPIC;
    if (rc == -ENOENT)
        rc = OB_ERR_INVALID_ARGUMENT;
    if (rc) {
        s_send_error(self, rid, msg->req, rc, "FETCH %s #%" PRIu64 ": %s", msg->topic, msg->seq,
                     rc == OB_ERR_INVALID_ARGUMENT ? "no such event stored" : ob_strerror(rc));
        return;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    s_pack_str(&pk, "topic");
    s_pack_str(&pk, msg->topic);
    s_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, msg->seq);
    s_pack_str(&pk, "time");
    msgpack_pack_uint64(&pk, time_us);
    s_send_ok(self, rid, msg->req, (const uint8_t *)buf.data, buf.size, 0, event, len);
    msgpack_sbuffer_destroy(&buf);
    free(event);
}

/* The events of a FETCH of a range (PROTOCOL.md 13), copied out of the store's read
   transaction, whose views end with it. */
typedef struct s_range {
    uint8_t *data;                               /* the events' bytes back to back, owned */
    size_t len;                                  /* bytes used at data */
    size_t cap;                                  /* bytes allocated at data */
    size_t count;                                /* events copied */
    size_t offset[OB_FETCH_RANGE_MAX];           /* where each event starts in data */
    ob_store_event_t events[OB_FETCH_RANGE_MAX]; /* each event; its bytes are set from
                                                    offset once the copies are done */
    int rc;                                      /* 0, or -ENOMEM if a copy failed */
} s_range_t;

/* ob_store_scan callback: copies one event, unless it would take the range over
   OB_FETCH_RANGE_BYTES (the first event is always taken, whatever its size). */
static int
s_on_range_event(void *arg, const ob_store_event_t *event)
{
    s_range_t *r = arg;
    if (r->count == OB_FETCH_RANGE_MAX ||
        (r->count > 0 && r->len + event->event_len > OB_FETCH_RANGE_BYTES))
        return 1; /* for the next FETCH */
    if (r->len + event->event_len > r->cap) {
        size_t cap = r->cap ? 2 * r->cap : OB_BODY_MAX;
        while (cap < r->len + event->event_len)
            cap *= 2;
        uint8_t *data = realloc(r->data, cap);
        if (!data) {
            r->rc = -ENOMEM;
            return 1;
        }
        r->data = data;
        r->cap = cap;
    }
    memcpy(r->data + r->len, event->event, event->event_len);
    r->offset[r->count] = r->len;
    r->events[r->count] = *event;
    r->len += event->event_len;
    r->count++;
    return 0;
}

/* FETCH of a range (msg->count >= 1): up to msg->count events from msg->seq, or from the
   first stored at or after msg->time, read in one transaction and sent in one OK, one
   event frame each, as a DELIVER run. */
static void
s_on_fetch_range(s_server_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    s_range_t *r = calloc(1, sizeof *r); /* 14 KB: not on the actor's stack */
    ob_topic_stat_t stat = {0};
    uint64_t from = msg->seq;
    int rc = r ? 0 : -ENOMEM;
    if (rc == 0 && !ob_topic_valid(msg->topic, strlen(msg->topic)))
        rc = OB_ERR_INVALID_TOPIC;
    /* A start time finds its seq in a read of its own: what retention removes between
       the two reads the scan skips, as it does below any seq asked for. */
    if (rc == 0 && msg->time &&
        (rc = ob_store_seq_at_time(self->store, msg->topic, msg->time, &from)) == 0 &&
        from < msg->seq)
        from = msg->seq;
    if (rc == 0)
        rc = ob_store_scan(self->store, msg->topic, from, msg->count, s_on_range_event, r, &stat,
                           NULL);
    if (rc == 0 && (rc = r->rc) == 0 && msg->seq > stat.last_seq + 1)
        rc = OB_ERR_INVALID_ARGUMENT; /* a seq never given out: the caller's mistake */
    if (rc) {
        s_send_error(self, rid, msg->req, rc, "FETCH %s #%" PRIu64 "+%" PRIu32 ": %s", msg->topic,
                     msg->seq, msg->count,
                     rc == OB_ERR_INVALID_ARGUMENT ? "beyond last_seq + 1" : ob_strerror(rc));
        goto out;
    }
    /* Nothing read: the range starts past the end (or every event is removed). */
    uint64_t first = r->count ? r->events[0].seq : stat.last_seq + 1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    s_pack_str(&pk, "topic");
    s_pack_str(&pk, msg->topic);
    s_pack_str(&pk, "seq");
    msgpack_pack_uint64(&pk, first);
    s_pack_str(&pk, "count");
    msgpack_pack_uint64(&pk, r->count);
    s_pack_str(&pk, "times");
    msgpack_pack_array(&pk, r->count);
    for (size_t i = 0; i < r->count; i++) {
        msgpack_pack_uint64(&pk, r->events[i].time_us);
        r->events[i].event = r->data + r->offset[i];
    }
    s_pack_str(&pk, "next");
    msgpack_pack_uint64(&pk, first + r->count);
    s_pack_str(&pk, "last_seq");
    msgpack_pack_uint64(&pk, stat.last_seq);
    ob_wire_msg_t *ok = &self->msg;
    ob_wire_msg_init(ok, OB_CMD_OK);
    ok->req = msg->req;
    ok->result = (const uint8_t *)buf.data;
    ok->result_len = buf.size;
    s_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), ok, r->events, r->count);
    msgpack_sbuffer_destroy(&buf);
out:
    if (r)
        free(r->data);
    free(r);
}

/* Subscription and admin requests (PROTOCOL.md 12, 13). */
static void
s_on_request(s_server_t *self, zmq_msg_t *rid, s_session_t *session, const ob_wire_msg_t *msg,
             const ob_perms_client_t *client)
{
    const char *name = ob_command_name(msg->command);
    int rc = 0, created = 0, defer = 0, more = 0;
    size_t len = 0;
    char sub[OB_SUB_NAME_MAX + 1];
    if (client) {
        char reason[OB_REASON_MAX + 1];
        if (ob_perms_check(client, msg, reason, sizeof reason)) {
            s_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
            return;
        }
    }
    switch (msg->command) {
    case OB_CMD_SUBSCRIBE:
        rc = ob_subs_subscribe(self->subs, session, client ? ob_perms_client_name(client) : NULL,
                               msg, sub, &created, &defer);
        if (rc == OB_ERR_FORBIDDEN) {
            char reason[OB_REASON_MAX + 1];
            snprintf(reason, sizeof reason,
                     "SUBSCRIBE %s: the subscription belongs to another client", msg->sub);
            s_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
            return;
        }
        if (rc == 0 && defer) {
            s_deferred_t *d = calloc(1, sizeof *d);
            if (!d || !zlistx_add_end(self->deferred, d)) {
                free(d);
                rc = -ENOMEM; /* the subscription exists: a retry attaches to it */
                break;
            }
            s_rid_key(rid, d->key);
            d->req = msg->req;
            snprintf(d->sub, sizeof d->sub, "%s", sub);
            return; /* answered after the commit (s_subs_committed) */
        }
        if (rc == 0) {
            ob_wire_msg_t *reply = &self->msg;
            memset(reply, 0, sizeof *reply);
            reply->command = OB_CMD_SUBSCRIBED;
            reply->req = msg->req;
            snprintf(reply->sub, sizeof reply->sub, "%s", sub);
            reply->created = created;
            s_send(self, rid, reply);
            return;
        }
        break;
    case OB_CMD_UNSUBSCRIBE:
        rc = ob_subs_unsubscribe(self->subs, session, msg->sub);
        break;
    case OB_CMD_SUB_REPOSITION:
        rc = ob_subs_reposition(self->subs, msg);
        break;
    case OB_CMD_SUB_DELETE:
        rc = ob_subs_delete(self->subs, msg->sub);
        break;
    case OB_CMD_SUBS:
        rc = ob_subs_list(self->subs, msg->after, self->result, OB_SERVER_RESULT_MAX, &len, &more);
        if (rc == 0) {
            s_send_ok(self, rid, msg->req, self->result, len, more, NULL, 0);
            return;
        }
        break;
    case OB_CMD_SUB_INFO:
        rc = ob_subs_info(self->subs, msg->sub, msg->after, self->result, OB_SERVER_RESULT_MAX,
                          &len, &more);
        if (rc == 0) {
            s_send_ok(self, rid, msg->req, self->result, len, more, NULL, 0);
            return;
        }
        break;
    case OB_CMD_TOPICS:
        s_on_topics(self, rid, msg);
        return;
    case OB_CMD_FETCH:
        if (msg->count) /* a range (13); absent: the one event at seq, as 0.5 */
            s_on_fetch_range(self, rid, msg);
        else
            s_on_fetch(self, rid, msg);
        return;
    default:
        rc = OB_ERR_UNKNOWN_COMMAND;
        break;
    }
    if (rc)
        s_send_error(self, rid, msg->req, rc, "%s %s: %s", name, msg->sub, ob_strerror(rc));
    else
        s_send_ok(self, rid, msg->req, NULL, 0, 0, NULL, 0);
}

/* Checks a header frame (PROTOCOL.md 5.3 step 2): 4 bytes, signature, version, and a
   command a client may send. Sets *ret_command. Returns 0, OB_ERR_SIGNATURE,
   OB_ERR_VERSION or OB_ERR_UNKNOWN_COMMAND. */
static int
s_check_header(zmq_msg_t *header, int *ret_command)
{
    const uint8_t *data = zmq_msg_data(header);
    if (zmq_msg_size(header) != OB_HEADER_SIZE || data[0] != OB_WIRE_SIGNATURE_0 ||
        data[1] != OB_WIRE_SIGNATURE_1)
        return OB_ERR_SIGNATURE;
    if (data[2] != OB_WIRE_VERSION)
        return OB_ERR_VERSION;
    /* unknown, or sent by the broker (WELCOME, PONG, ERROR, OK, CONFIRM, ...) */
    const ob_command_info_t *info = ob_command_info(data[3]);
    if (!info || info->dir != OB_COMMAND_TO_BROKER)
        return OB_ERR_UNKNOWN_COMMAND;
    *ret_command = data[3];
    return 0;
}

/* Reads and handles one ROUTER message if one is waiting. Returns 1 if it read one, 0 if
   none was waiting, -1 if the socket failed (errno says why). */
static int
s_read_one(s_server_t *self)
{
    void *handle = zsock_resolve(self->router);
    zmq_msg_t rid;
    zmq_msg_t frames[OB_FRAMES_MAX + 1]; /* the last one takes any surplus frames */
    size_t count = 0; /* frames after the routing id, including any over OB_FRAMES_MAX */
    char key[S_RID_KEY];
    ob_wire_msg_t *msg_p = &self->in; /* 7 KB: a member, not on the stack */
#define msg (*msg_p)
    int ret = 1;

    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, handle, ZMQ_DONTWAIT) < 0) {
        int error = errno;
        zmq_msg_close(&rid);
        errno = error;
        return error == EAGAIN ? 0 : -1;
    }
    for (size_t i = 0; i <= OB_FRAMES_MAX; i++)
        zmq_msg_init(&frames[i]);
    /* A multipart message arrives whole: the remaining frames are there. */
    for (int more = zmq_msg_more(&rid); more; count++) {
        zmq_msg_t *frame = &frames[count < OB_FRAMES_MAX ? count : OB_FRAMES_MAX];
        if (zmq_msg_recv(frame, handle, 0) < 0) {
            ret = -1;
            goto out;
        }
        more = zmq_msg_more(frame);
    }
    self->received++;

    s_rid_key(&rid, key);
    s_session_t *session = zhashx_lookup(self->sessions, key);
    if (session)
        session->last_seen = zclock_mono();

    /* The checks run in the order of PROTOCOL.md 5.3; the first failure is answered. */
    if (count < 2 || count > OB_FRAMES_MAX) { /* (1) */
        s_send_error(self, &rid, 0, OB_ERR_MALFORMED,
                     "message has %zu frames, expected header, body and (PUBLISH) event", count);
        goto out;
    }
    int command = 0;
    int rc = s_check_header(&frames[0], &command); /* (2) */
    if (rc) {
        s_send_error(self, &rid, 0, rc, "header: %s", ob_strerror(rc));
        goto out;
    }
    /* The body is decoded before (3) only to learn req; its errors count from (4) on. */
    rc = ob_wire_decode(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                        zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), &msg);
    /* a command to the broker takes one number of frames: frames_min = frames_max */
    size_t expected = ob_command_info(command)->frames_min;
    if (count != expected) { /* (3) */
        s_send_error(self, &rid, msg.req, OB_ERR_MALFORMED, "%s takes %zu frames, not %zu",
                     ob_command_name(command), expected, count);
        goto out;
    }
    if (rc) { /* (4) */
        s_send_error(self, &rid, msg.req, rc, "%s body: %s", ob_command_name(command),
                     ob_strerror(rc));
        goto out;
    }

    /* Identity (PROTOCOL.md 14.3): with CURVE, the ZAP handler put the client's public key
       on every message as its user id. It is looked up for each message, so that a client
       removed by a reload is refused at once, and compared with the key that said HELLO, so
       that a connection that took over a routing id cannot use another client's session. */
    const ob_perms_client_t *client = NULL;
    const char *user = NULL;
    if (self->perms) {
        user = zmq_msg_gets(&frames[0], "User-Id");
        client = user ? ob_perms_lookup(self->perms, user) : NULL;
        if (!client) {
            char reason[OB_REASON_MAX + 1];
            snprintf(reason, sizeof reason,
                     "%s: this key is not in the permissions file (removed by a reload?); "
                     "session ended",
                     ob_command_name(msg.command));
            s_forbidden(self, &rid, msg.req, user && *user ? user : "(no key)", reason);
            if (session)
                s_end_session(self, session);
            goto out;
        }
        if (session && msg.command != OB_CMD_HELLO && strcmp(session->user, user)) {
            char reason[OB_REASON_MAX + 1];
            snprintf(reason, sizeof reason,
                     "%s: this session said HELLO with another key: send HELLO",
                     ob_command_name(msg.command));
            s_forbidden(self, &rid, msg.req, ob_perms_client_name(client), reason);
            goto out;
        }
    }

    if (msg.command == OB_CMD_HELLO) { /* (5) does not apply to HELLO */
        if (self->terminating)
            s_send_error(self, &rid, msg.req, OB_ERR_SHUTDOWN, "HELLO: %s",
                         ob_strerror(OB_ERR_SHUTDOWN));
        else
            s_on_hello(self, &rid, &frames[0], key, session, &msg, user);
        goto out;
    }
    if (!session) {
        s_send_error(self, &rid, msg.req, OB_ERR_HELLO_REQUIRED, "%s: %s",
                     ob_command_name(msg.command), ob_strerror(OB_ERR_HELLO_REQUIRED));
        goto out;
    }
    if (msg.command == OB_CMD_PING) {
        ob_subs_ping(self->subs, session);
        ob_wire_msg_t pong;
        memset(&pong, 0, sizeof pong);
        pong.command = OB_CMD_PONG;
        s_send(self, &rid, &pong);
        goto out;
    }
    if (msg.command == OB_CMD_ACK) {
        ob_subs_ack(self->subs, session, &msg);
        goto out;
    }
    if (msg.command == OB_CMD_NACK) {
        ob_subs_nack(self->subs, session, &msg);
        goto out;
    }
    if (self->terminating && (msg.command == OB_CMD_PUBLISH || msg.command == OB_CMD_SUBSCRIBE)) {
        /* PROTOCOL.md 11.1: refused, nothing stored; re-sent after the next WELCOME */
        s_send_error(self, &rid, msg.req, OB_ERR_SHUTDOWN, "%s: %s", ob_command_name(msg.command),
                     ob_strerror(OB_ERR_SHUTDOWN));
        goto out;
    }
    if (msg.command == OB_CMD_PUBLISH)
        s_on_publish(self, session, &rid, &frames[2], &msg, client); /* (7) */
    else
        s_on_request(self, &rid, session, &msg, client);
out:
    zmq_msg_close(&rid);
    for (size_t i = 0; i <= OB_FRAMES_MAX; i++)
        zmq_msg_close(&frames[i]);
    return ret;
#undef msg
}

/* Reads the ROUTER until it is empty, the collecting batch is full, or OB_SERVER_DRAIN_MAX
   messages were read. Returns 0 or -1 if the socket failed. */
static int
s_drain(s_server_t *self)
{
    for (int i = 0; i < OB_SERVER_DRAIN_MAX && !s_batch_full(self, self->collecting); i++) {
        int rc = s_read_one(self);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* Takes back the batch the writer finished and answers it. Returns 0 or -1. */
static int
s_on_writer(s_server_t *self)
{
    char *command = NULL;
    void *ptr = NULL;
    if (zsock_recv(self->writer, "sp", &command, &ptr))
        return -1;
    int ok = command && !strcmp(command, OB_WRITER_DONE) && self->in_flight &&
             ptr == &self->in_flight->wb;
    zstr_free(&command);
    if (!ok) {
        zsys_error("server: unexpected message from the writer");
        return 0;
    }
    s_batch_t *done = self->in_flight;
    self->in_flight = NULL;
    /* Keep the writer busy: what arrived during its commit goes to it now, before the
       answers. s_handover makes `done` the collecting batch; it is emptied right below,
       before anything is read into it. */
    s_handover(self);
    s_confirm(self, done);
    return 0;
}

/* Loads the permissions file twice from the same bytes (one table for us, one for the ZAP
   handler: threads share nothing) into *ret_mine and *ret_theirs. Returns 0 or an error with
   the reason in errbuf. */
static int
s_load_perms(const char *path, ob_perms_t **ret_mine, ob_perms_t **ret_theirs, char *errbuf,
             size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    ob_perms_t *mine = NULL, *theirs = NULL;
    int rc = ob_perms_read(path, &text, &len, errbuf, errlen);
    if (rc == 0)
        rc = ob_perms_load_text(text, len, path, &mine, errbuf, errlen);
    if (rc == 0)
        rc = ob_perms_load_text(text, len, path, &theirs, errbuf, errlen);
    free(text);
    if (rc) {
        ob_perms_destroy(&mine);
        return rc;
    }
    *ret_mine = mine;
    *ret_theirs = theirs;
    return 0;
}

/* Reloads the permissions file (SIGHUP): if it parses, the new table replaces the old one
   here and in the ZAP handler, and the sessions of keys no longer present get ERROR
   FORBIDDEN and end; else the old table stays. Returns 0 or the error, reason in errbuf. */
static int
s_reload(s_server_t *self, char *errbuf, size_t errlen)
{
    ob_perms_t *mine = NULL, *theirs = NULL;
    snprintf(errbuf, errlen, "%s", "");
    if (!self->perms) {
        snprintf(errbuf, errlen, "plaintext mode (curve = 0): no permissions to reload");
        return OB_ERR_INVALID_ARGUMENT;
    }
    int rc = s_load_perms(self->cfg.permissions, &mine, &theirs, errbuf, errlen);
    if (rc) {
        zsys_error("server: permissions not reloaded, the old ones stay: %s", errbuf);
        return rc;
    }
    if (ob_auth_set_perms(self->auth, &theirs)) {
        snprintf(errbuf, errlen, "the ZAP handler does not answer");
        zsys_error("server: permissions not reloaded: %s", errbuf);
        ob_perms_destroy(&mine);
        return OB_ERR_SHUTDOWN;
    }
    ob_perms_destroy(&self->perms);
    self->perms = mine;

    zlistx_t *ended = zlistx_new();
    for (s_session_t *session = zhashx_first(self->sessions); session && ended;
         session = zhashx_next(self->sessions))
        if (!ob_perms_lookup(self->perms, session->user))
            zlistx_add_end(ended, session);
    size_t count = ended ? zlistx_size(ended) : 0;
    s_session_t *session;
    while (ended && (session = zlistx_detach(ended, NULL))) {
        s_send_error_to(self, session, 0, OB_ERR_FORBIDDEN,
                        "client %s: key removed from the permissions file; session ended",
                        session->name);
        self->forbidden++;
        s_end_session(self, session);
    }
    zlistx_destroy(&ended);
    zsys_info("server: permissions reloaded from %s: %zu clients; %zu sessions ended",
              self->cfg.permissions, ob_perms_size(self->perms), count);
    return 0;
}

/* Handles a command from the owner. Returns 0, or -1 if the pipe failed. */
static int
s_on_pipe(s_server_t *self)
{
    char *command = zstr_recv(self->pipe);
    if (!command)
        return -1;
    if (!strcmp(command, "$TERM"))
        self->terminating = 1;
    else if (!strcmp(command, OB_SERVER_STATUS))
        zsock_send(self->pipe, "iss", self->start_rc, self->start_reason, self->endpoint);
    else if (!strcmp(command, OB_SERVER_STATS))
        zsock_send(self->pipe, "8888888", self->received, self->published, self->duplicates,
                   self->errors, self->batches_done, self->batched_items, self->dropped);
    else if (!strcmp(command, OB_SERVER_RELOAD)) {
        char reason[S_REASON_FAIL];
        int rc = s_reload(self, reason, sizeof reason);
        zsock_send(self->pipe, "is", rc, reason);
    } else if (!strcmp(command, OB_SERVER_SECURITY)) {
        uint64_t accepted = 0, refused = 0;
        if (self->auth && (zstr_send(self->auth, OB_AUTH_STATS) ||
                           zsock_recv(self->auth, "88", &accepted, &refused)))
            zsys_error("server: the ZAP handler does not answer");
        zsock_send(self->pipe, "8888", self->forbidden, accepted, refused,
                   (uint64_t)(self->perms ? ob_perms_size(self->perms) : 0));
    } else
        zsys_error("server: unknown command '%s'", command);
    zstr_free(&command);
    return 0;
}

/* Forgets the sessions that sent nothing for OB_LIVENESS heartbeats. Time during which the
   ROUTER was not read (backpressure) does not count against a client. */
static void
s_expire(s_server_t *self, int64_t now)
{
    if (zhashx_size(self->sessions) == 0)
        return;
    zlistx_t *expired = NULL;
    for (s_session_t *session = zhashx_first(self->sessions); session;
         session = zhashx_next(self->sessions)) {
        int64_t since =
            session->last_seen > self->resumed_at ? session->last_seen : self->resumed_at;
        if (now - since <= (int64_t)OB_LIVENESS * session->heartbeat_ms)
            continue;
        if (!expired) {
            expired = zlistx_new();
            if (!expired)
                return; /* try again at the next tick */
            zlistx_set_destructor(expired, (zlistx_destructor_fn *)zstr_free);
        }
        zlistx_add_end(expired, strdup(zhashx_cursor(self->sessions)));
    }
    if (!expired)
        return;
    for (char *key = zlistx_first(expired); key; key = zlistx_next(expired)) {
        if (self->cfg.verbose)
            zsys_debug("server: session of peer %s expired", key);
        s_session_t *session = zhashx_lookup(self->sessions, key);
        if (session)
            s_end_session(self, session);
    }
    zlistx_destroy(&expired);
}

/* The event loop; returns when terminated and everything received is answered, or when a
   socket fails. */
static void
s_run(s_server_t *self)
{
    int64_t next_tick = zclock_mono() + OB_SERVER_TICK_MS;
    self->resumed_at = zclock_mono();
    while (!self->terminating || self->in_flight || self->collecting->wb.count ||
           (!self->store_failed && (ob_subs_dirty(self->subs) || zlistx_size(self->deferred)))) {
        /* Stopping, the ROUTER is still read, to answer SHUTDOWN rather than nothing. */
        int reading = !s_batch_full(self, self->collecting);
        if (!reading)
            self->paused = 1;
        else if (self->paused) {
            self->paused = 0;
            self->resumed_at = zclock_mono();
        }
        zmq_pollitem_t items[4] = {
            {zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->writer), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->monitor), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->router), 0, ZMQ_POLLIN, 0},
        };
        int64_t now = zclock_mono();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        int delivering = !self->terminating && ob_subs_busy(self->subs);
        if (delivering)
            timeout = 0; /* deliveries to make: only look whether anything else came */
        else if (!self->in_flight && ob_subs_dirty(self->subs) && self->state_due < next_tick)
            timeout = self->state_due > now ? (long)(self->state_due - now) : 0;
        if (zmq_poll(items, reading ? 4 : 3, timeout) < 0) {
            if (errno == EINTR)
                continue; /* a signal: the owner sends $TERM when it wants us to stop */
            zsys_error("server: poll failed: %s", zmq_strerror(errno));
            break;
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_on_pipe(self))
            break;
        if ((items[1].revents & ZMQ_POLLIN) && s_on_writer(self))
            break;
        if (items[2].revents & ZMQ_POLLIN)
            s_on_monitor(self); /* before the ROUTER: a closed client's slot is free first */
        /* Deliver first what the commit just answered made available (latency), then read
           whatever arrived, also during that commit, before handing the next batch over:
           that is what makes batches large under load. */
        now = zclock_mono();
        if (!self->terminating && ob_subs_busy(self->subs)) {
            ob_subs_pump(self->subs, OB_SERVER_PUMP_MAX, now);
            s_end_gone(self);
        }
        if (reading && s_drain(self) < 0 && errno != EINTR && errno != EAGAIN) {
            zsys_error("server: ROUTER failed: %s", zmq_strerror(errno));
            break;
        }
        s_handover(self);
        if (now >= next_tick) {
            s_expire(self, now);
            ob_subs_tick(self->subs, now);
            ob_broker_metrics_refresh(self->metrics, now, zhashx_size(self->sessions), self->subs,
                                      self->store);
            next_tick = now + OB_SERVER_TICK_MS;
            if (self->trim_at && now >= self->trim_at) {
                /* Sessions ended: what they and their connections held is free, but glibc
                   keeps freed memory in its arenas (libzmq's I/O thread has its own) and
                   returns it only from the top of the main heap. Without this, the
                   anonymous memory of a connection flood stays at its peak. */
                malloc_trim(0);
                self->trim_at = 0;
            }
        }
    }
}

/* zlistx destructor for deferred SUBSCRIBEs. */
static void
s_deferred_free(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

/* zhashx destructor for sessions. */
static void
s_session_free(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

/* Records a start failure. */
static void s_start_failed(s_server_t *self, int rc, const char *format, ...) CHECK_PRINTF(3);

static void
s_start_failed(s_server_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->start_reason, sizeof self->start_reason, format, args);
    va_end(args);
    self->start_rc = rc;
}

/* CURVE mode: loads the broker's certificate and the permissions, starts the ZAP handler
   and makes the ROUTER a CURVE server. Returns 0 or the failure (recorded). */
static int
s_start_curve(s_server_t *self)
{
    const ob_config_t *cfg = &self->cfg;
    char reason[S_REASON_FAIL];
    ob_perms_t *theirs = NULL;
    static const uint8_t zero[32] = {0};
    zcert_t *cert = zcert_load(cfg->cert);
    if (!cert || !memcmp(zcert_secret_key(cert), zero, sizeof zero)) {
        zcert_destroy(&cert);
        s_start_failed(self, -ENOENT,
                       "cannot read the broker certificate %s (its secret key is in "
                       "%s_secret): create one with `orderbus-keys broker DIR` and set "
                       "security/cert = DIR/broker.cert",
                       cfg->cert, cfg->cert);
        return self->start_rc;
    }
    int rc = s_load_perms(cfg->permissions, &self->perms, &theirs, reason, sizeof reason);
    if (rc) {
        zcert_destroy(&cert);
        s_start_failed(self, rc, "%s", reason);
        return rc;
    }
    self->auth = ob_auth_start(&theirs);
    if (!self->auth) {
        zcert_destroy(&cert);
        s_start_failed(self, -EADDRINUSE,
                       "cannot start the ZAP handler: %s is taken (one CURVE broker per "
                       "process)",
                       OB_AUTH_ENDPOINT);
        return self->start_rc;
    }
    zcert_apply(cert, self->router);
    zcert_destroy(&cert);
    zsock_set_curve_server(self->router, 1);
    zsock_set_zap_domain(self->router, OB_SERVER_ZAP_DOMAIN);
    zsys_info("server: CURVE on, %zu clients in %s", ob_perms_size(self->perms), cfg->permissions);
    return 0;
}

/* Opens the store, binds, starts the writer. Returns 0 or the failure (recorded). */
static int
s_start(s_server_t *self)
{
    int rc = 0;
    const ob_config_t *cfg = &self->cfg;

    zuuid_t *uuid = zuuid_new();
    if (!uuid) {
        s_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    for (size_t i = 0; i < OB_SERVER_SESSION_LEN; i++)
        self->session_id[i] = (char)tolower((unsigned char)zuuid_str(uuid)[i]);
    zuuid_destroy(&uuid);

    self->sessions = zhashx_new();
    if (!self->sessions) {
        s_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    zhashx_set_destructor(self->sessions, s_session_free);
    self->metrics = ob_broker_metrics_new();
    self->deferred = zlistx_new();
    self->gone = zlistx_new();
    self->reply = malloc(OB_BODY_MAX);
    self->result = malloc(OB_SERVER_RESULT_MAX);
    if (!self->metrics || !self->deferred || !self->gone || !self->reply || !self->result) {
        s_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    zlistx_set_destructor(self->deferred, s_deferred_free);
    for (int b = 0; b < 2; b++) {
        /* items: the publishes, then room for the dead letters */
        self->batches[b].wb.items =
            calloc(cfg->batch_max + OB_SERVER_LETTERS_MAX, sizeof(ob_store_item_t));
        self->batches[b].pending = calloc(cfg->batch_max, sizeof(s_pending_t));
        self->batches[b].subs.letters =
            calloc(OB_SERVER_LETTERS_MAX, sizeof *self->batches[b].subs.letters);
        self->batches[b].subs.letter_cap = OB_SERVER_LETTERS_MAX;
        self->batches[b].deferred = zlistx_new();
        if (self->batches[b].deferred)
            zlistx_set_destructor(self->batches[b].deferred, s_deferred_free);
        if (!self->batches[b].wb.items || !self->batches[b].pending ||
            !self->batches[b].subs.letters || !self->batches[b].deferred) {
            s_start_failed(self, -ENOMEM, "out of memory for batches of %u", cfg->batch_max);
            return self->start_rc;
        }
        for (unsigned i = 0; i < cfg->batch_max; i++) {
            zmq_msg_init(&self->batches[b].pending[i].rid);
            zmq_msg_init(&self->batches[b].pending[i].frame);
        }
    }
    self->collecting = &self->batches[0];

    if ((rc = ob_store_open(cfg->data_dir, cfg->map_size, &self->store))) {
        long holder = 0;
        if (rc == -EBUSY && ob_store_holder(cfg->data_dir, &holder) == 0)
            s_start_failed(self, rc,
                           "the data directory %s is in use by another broker (pid %ld, "
                           "%s/broker.lock): one broker per data directory",
                           cfg->data_dir, holder, cfg->data_dir);
        else if (rc == -EBUSY)
            s_start_failed(self, rc,
                           "the data directory %s is in use by another broker "
                           "(%s/broker.lock): one broker per data directory",
                           cfg->data_dir, cfg->data_dir);
        else
            s_start_failed(self, rc, "cannot open the data directory %s: %s", cfg->data_dir,
                           ob_strerror(rc));
        return rc;
    }
    ob_store_set_max_topics(self->store, cfg->max_topics);
    if ((rc = ob_subs_new(self->store, s_deliver, s_gone, self, &self->subs))) {
        s_start_failed(self, rc, "cannot load the subscriptions in %s: %s", cfg->data_dir,
                       ob_strerror(rc));
        return rc;
    }
    ob_subs_set_max_per_consumer(self->subs, cfg->max_subs_per_client);
    ob_subs_set_max_unread(self->subs, cfg->max_unread_bytes);

    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        s_start_failed(self, -ENOMEM, "cannot create the ROUTER socket");
        return self->start_rc;
    }
    if (cfg->curve && (rc = s_start_curve(self)))
        return rc;
    zsock_set_router_mandatory(self->router, 1);
    /* Per connection: what waits for a client that does not read (PROTOCOL.md 12.9 keeps a
       consumer's deliveries far below; this is the cap whatever a client does). */
    zsock_set_sndhwm(self->router, OB_SERVER_SNDHWM);
    /* and what waits from one while the batch is full (reading paused): a client within
       max_pending never has more outstanding */
    zsock_set_rcvhwm(self->router, (int)cfg->max_pending);
    /* Connection events, to end a session when its connection closes (s_on_monitor). The
       PAIR is connected before the bind, so that no event is sent before it listens; its
       queue has no limit (the events of connections not yet read are all kept). */
    /* A name of its own: the inproc name of a stopped server stays taken until libzmq
       reaps its monitor, and a process may start servers one after another (tests). */
    static atomic_uint monitors;
    char monitor[S_ENDPOINT_MAX];
    snprintf(monitor, sizeof monitor, "inproc://ob-server-monitor-%u",
             atomic_fetch_add(&monitors, 1));
    self->monitor = zsock_new(ZMQ_PAIR);
    if (!self->monitor ||
        zmq_socket_monitor(zsock_resolve(self->router), monitor,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) ||
        (zsock_set_rcvhwm(self->monitor, 0), zsock_connect(self->monitor, "%s", monitor))) {
        s_start_failed(self, -ENOMEM, "cannot monitor the ROUTER socket");
        return self->start_rc;
    }
    /* Lets the last confirmations out after the socket is closed at shutdown. Over ipc://,
       libzmq 4.3 ignores the linger and drops what is still queued (zeromq/libzmq#4660):
       those confirmations are lost, which the protocol tolerates (the client re-sends and
       gets dup = true) but tcp:// does not have. */
    zsock_set_linger(self->router, OB_SERVER_LINGER_MS);
    /* PROTOCOL.md 3.1: libzmq checks each frame against this and disconnects the sender of
       a larger one without a word, so it is the hard cap, not max_event_bytes: a frame over
       max_event_bytes but under the cap gets ERROR TOO_LARGE, which a client can act on. */
    zsock_set_maxmsgsize(self->router, (int)OB_EVENT_MAX_CAP);
    if ((rc = ob_endpoint_bind(self->router, cfg->endpoint, self->endpoint, sizeof self->endpoint,
                               self->start_reason, sizeof self->start_reason))) {
        self->start_rc = rc;
        return rc;
    }

    self->writer_args.store = self->store;
    self->writer_args.limits = ob_config_retention;
    self->writer_args.limits_arg = &self->cfg;
    self->writer_args.metrics = self->metrics;
    self->writer = zactor_new(ob_writer_actor, &self->writer_args);
    if (!self->writer) {
        s_start_failed(self, -ENOMEM, "cannot start the writer");
        return self->start_rc;
    }
    /* Metrics are an observer: a broker that cannot serve them still serves its clients. */
    char reason[S_REASON_FAIL];
    if (cfg->metrics[0] &&
        ob_metrics_http_start(cfg->metrics, ob_broker_metrics_registry(self->metrics), &self->http,
                              reason, sizeof reason))
        zsys_error("server: %s; serving without metrics", reason);
    else if (self->http)
        zsys_info("server: metrics on %s", ob_metrics_http_url(self->http));
    char file[S_ENDPOINT_MAX + OB_METRICS_HTTP_URL_MAX];
    snprintf(file, sizeof file, "%s%s%s", self->endpoint, self->http ? "\n" : "",
             self->http ? ob_metrics_http_url(self->http) : "");
    /* Last: the file tells a starter that the broker serves, and where. */
    if (cfg->endpoint_file[0] && (rc = ob_endpoint_write_file(cfg->endpoint_file, file))) {
        s_start_failed(self, rc, "cannot write the endpoint file %s: %s", cfg->endpoint_file,
                       ob_strerror(rc));
        return rc;
    }
    return 0;
}

/* Frees everything; the writer goes first, so that no batch is in use when they are
   freed (a batch still at the writer, after a socket failure, is finished first). */
static void
s_server_destroy(s_server_t **self_p)
{
    s_server_t *self = *self_p;
    if (!self)
        return;
    ob_metrics_http_stop(&self->http);
    zactor_destroy(&self->writer);
    for (int b = 0; b < 2; b++) {
        /* every entry's messages are initialised once the arrays exist; a half-built server
           has no arrays at all or zeroed ones, and closing a zeroed zmq_msg_t is harmless */
        if (self->batches[b].pending)
            for (size_t i = 0; i < self->cfg.batch_max; i++) {
                s_pending_t *pending = &self->batches[b].pending[i];
                zmq_msg_close(&pending->rid);
                zmq_msg_close(&pending->frame);
            }
        free(self->batches[b].pending);
        free(self->batches[b].wb.items);
        ob_subs_batch_free(&self->batches[b].subs);
        zlistx_destroy(&self->batches[b].deferred);
    }
    /* The monitor stops before its PAIR goes: libzmq sends events with a blocking send from
       its I/O thread, which would hang for good on a PAIR without a peer. */
    if (self->router && self->monitor)
        zmq_socket_monitor(zsock_resolve(self->router), NULL, 0);
    zsock_destroy(&self->monitor);
    zsock_destroy(&self->router);
    zactor_destroy(&self->auth); /* after the ROUTER: no handshake can wait for it */
    ob_perms_destroy(&self->perms);
    ob_subs_destroy(&self->subs);
    zlistx_destroy(&self->deferred);
    zlistx_destroy(&self->gone);
    free(self->reply);
    free(self->result);
    ob_store_close(&self->store);
    zhashx_destroy(&self->sessions);
    ob_broker_metrics_destroy(&self->metrics); /* after the writer and the listener */
    free(self->conns);
    free(self);
    *self_p = NULL;
}

/* Logs the counters at exit. */
static void
s_summary(s_server_t *self)
{
    zsys_info("server: stopped: %" PRIu64 " messages, %" PRIu64 " events stored, %" PRIu64
              " duplicates, %" PRIu64 " errors, %" PRIu64 " batches (%.1f publishes on "
              "average), %" PRIu64 " replies dropped",
              self->received, self->published, self->duplicates, self->errors, self->batches_done,
              self->batches_done ? (double)self->batched_items / (double)self->batches_done : 0.0,
              self->dropped);
    if (self->perms)
        zsys_info("server:   %" PRIu64 " refused for permissions (FORBIDDEN)", self->forbidden);
    for (unsigned code = 1; code < OB_SERVER_CODES_MAX; code++)
        if (self->errors_by_code[code])
            zsys_info("server:   %" PRIu64 " x ERROR %u (%s)", self->errors_by_code[code], code,
                      ob_strerror(ob_error_from_wire(code)));
    ob_store_stats_t stats;
    if (ob_store_stats(self->store, &stats) == 0)
        zsys_info("server: store: %" PRIu64 " events in %" PRIu64 " topics, %" PRIu64
                  " commits, map %" PRIu64 " bytes after %" PRIu64 " growths",
                  stats.events, stats.topics, stats.commits, stats.map_size, stats.growths);
}

/* After a failed start: answers STATUS until $TERM. */
static void
s_wait_term(zsock_t *pipe, int rc, const char *reason)
{
    while (1) {
        char *command = zstr_recv(pipe);
        if (!command)
            return;
        int term = !strcmp(command, "$TERM");
        if (!strcmp(command, OB_SERVER_STATUS))
            zsock_send(pipe, "iss", rc, reason, "");
        zstr_free(&command);
        if (term)
            return;
    }
}

void
ob_server_actor(zsock_t *pipe, void *args)
{
    s_server_t *self = calloc(1, sizeof *self);
    zsock_signal(pipe, 0); /* always: the owner learns the outcome with STATUS */
    if (!self) {
        s_wait_term(pipe, -ENOMEM, "out of memory");
        return;
    }
    self->cfg = *(const ob_config_t *)args;
    self->pipe = pipe;
    if (s_start(self)) {
        s_wait_term(pipe, self->start_rc, self->start_reason);
        s_server_destroy(&self);
        return;
    }
    ob_store_stats_t stats;
    memset(&stats, 0, sizeof stats);
    ob_store_stats(self->store, &stats);
    char shown[S_ENDPOINT_MAX]; /* the endpoints on one line */
    snprintf(shown, sizeof shown, "%s", self->endpoint);
    for (char *nl = strchr(shown, '\n'); nl; nl = strchr(nl, '\n'))
        *nl = ' ';
    zsys_info("server: orderbus-broker %s on %s, data in %s, map %" PRIu64 " bytes, %" PRIu64
              " events in %" PRIu64 " topics, max event %" PRIu64 " bytes, batches of %u",
              OB_VERSION_STRING, shown, self->cfg.data_dir, stats.map_size, stats.events,
              stats.topics, self->cfg.max_event_bytes, self->cfg.batch_max);
    s_run(self);
    s_summary(self);
    /* A failed socket ends s_run early: tell the owner, whose $TERM is still to come. */
    if (!self->terminating) {
        zstr_send(pipe, OB_SERVER_FAILED);
        s_wait_term(pipe, OB_ERR_SHUTDOWN, "server stopped after a socket failure");
    }
    s_server_destroy(&self);
}

int
ob_server_start(const ob_config_t *cfg, zactor_t **ret_actor, char *errbuf, size_t errlen)
{
    int rc = 0;
    char *reason = NULL;
    char *endpoint = NULL;
    zactor_t *actor = zactor_new(ob_server_actor, (void *)cfg);
    if (!actor) {
        snprintf(errbuf, errlen, "cannot start the server actor");
        return -ENOMEM;
    }
    /* A SIGINT or SIGTERM while the server starts interrupts the wait, not the server: its
       answer still comes, and the caller then finds zsys_interrupted set and stops it. */
    int answer = zstr_send(actor, OB_SERVER_STATUS);
    while (answer == 0 && (answer = zsock_recv(actor, "iss", &rc, &reason, &endpoint)) == -1 &&
           errno == EINTR)
        answer = 0;
    if (answer) {
        snprintf(errbuf, errlen, "the server actor does not answer");
        rc = OB_ERR_SHUTDOWN;
        goto fail;
    }
    if (rc) {
        snprintf(errbuf, errlen, "%s", reason ? reason : ob_strerror(rc));
        goto fail;
    }
    zstr_free(&reason);
    zstr_free(&endpoint);
    *ret_actor = actor;
    return 0;
fail:
    zstr_free(&reason);
    zstr_free(&endpoint);
    zactor_destroy(&actor);
    return rc;
}

int
ob_server_reload(zactor_t *server, char *errbuf, size_t errlen)
{
    int rc = 0;
    char *reason = NULL;
    int answer = zstr_send(server, OB_SERVER_RELOAD);
    while (answer == 0 && (answer = zsock_recv(server, "is", &rc, &reason)) == -1 && errno == EINTR)
        answer = 0; /* as in ob_server_start */
    if (answer) {
        snprintf(errbuf, errlen, "the server actor does not answer");
        return OB_ERR_SHUTDOWN;
    }
    snprintf(errbuf, errlen, "%s", reason ? reason : "");
    zstr_free(&reason);
    return rc;
}
