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

    Every message is checked in the order of PROTOCOL.md 5.3 and the first failure is answered
    with ERROR; nothing a client sends can stop the loop. On $TERM the publishes already
    received are committed and confirmed, and what arrives meanwhile is refused with SHUTDOWN
    (nothing stored), so that clients know at once to re-send to the next broker. */
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "orderbus/orderbus.h"
#include "store.h"
#include "writer.h"

#define S_RID_MAX 255                 /* bytes in a ZeroMQ routing id */
#define S_RID_KEY (2 * S_RID_MAX + 1) /* hex of a routing id, with its NUL */
#define S_REASON_FAIL 512             /* bytes in a start failure reason */
#define S_ENDPOINT_MAX 512            /* bytes in a bound endpoint (tcp ports are resolved) */

/* A publish waiting for its commit. */
typedef struct s_pending {
    zmq_msg_t rid;           /* the client's routing id, owned (always initialised) */
    zmq_msg_t frame;         /* the event frame, owned; the store item points into it */
    ob_event_envelope_t env; /* the event's envelope, views into frame (as the item's) */
    uint64_t req;            /* the client's request id */
} s_pending_t;

/* A group commit: items for the writer plus what is needed to answer them. */
typedef struct s_batch {
    ob_writer_batch_t wb; /* what the writer sees: wb.items[i] belongs to pending[i] */
    s_pending_t *pending; /* batch_max entries */
    size_t bytes;         /* event bytes collected */
} s_batch_t;

/* One connection that said HELLO. */
typedef struct s_session {
    char name[OB_CLIENT_NAME_MAX + 1]; /* client name from HELLO */
    uint32_t heartbeat_ms;             /* agreed heartbeat interval */
    int64_t last_seen;                 /* zclock_mono of its last message */
} s_session_t;

typedef struct s_server {
    ob_config_t cfg;                            /* our copy of the configuration */
    zsock_t *pipe;                              /* actor pipe, borrowed */
    zsock_t *router;                            /* client socket, owned */
    ob_store_t *store;                          /* owned; written only by the writer */
    zactor_t *writer;                           /* owned */
    zhashx_t *sessions;                         /* hex(routing id) -> s_session_t, owned */
    s_batch_t batches[2];                       /* the two batches, owned */
    s_batch_t *collecting;                      /* the batch filling from the ROUTER */
    s_batch_t *in_flight;                       /* the batch at the writer, or NULL */
    int terminating;                            /* $TERM received */
    int paused;                                 /* the ROUTER was not polled (batch full) */
    int64_t resumed_at;                         /* when reading last resumed after a pause */
    int start_rc;                               /* 0 or why the start failed */
    char start_reason[S_REASON_FAIL];           /* the start failure, "" if none */
    char endpoint[S_ENDPOINT_MAX];              /* the endpoint actually bound */
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

/* Sends msg to the peer rid (borrowed). Never blocks: a peer that is gone or whose queue is
   full loses the reply, which is counted (it will re-send and be answered again: publishes
   are idempotent). Returns 0 or -1. */
static int
s_send(s_server_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_SERVER_REPLY_MAX];
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    int rc = ob_wire_encode_body(msg, body, sizeof body, &body_len);
    if (rc) {
        zsys_error("server: cannot encode %s: %s", ob_command_name(msg->command), ob_strerror(rc));
        self->dropped++;
        return -1;
    }
    void *handle = zsock_resolve(self->router);
    /* With ROUTER_MANDATORY the first frame fails (EHOSTUNREACH, EAGAIN) if the peer is
       gone or full; once it is accepted, the rest of the message is too. */
    if (zmq_send(handle, zmq_msg_data(rid), zmq_msg_size(rid), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(handle, body, body_len, ZMQ_DONTWAIT) < 0) {
        self->dropped++;
        return -1;
    }
    return 0;
}

/* Answers ERROR {req, code, reason} to rid (borrowed) and counts it. rc is an OB_ERR_* code
   (anything else, such as -ENOMEM, is answered as BUSY: the client may retry). The reason
   is printf-formatted; NULL format means ob_strerror(rc). */
static void s_send_error(s_server_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format,
                         ...) CHECK_PRINTF(5);

static void
s_send_error(s_server_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format, ...)
{
    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_ERROR;
    msg.req = req;
    msg.code = ob_error_to_wire(rc);
    if (msg.code == 0) {
        rc = OB_ERR_BUSY;
        msg.code = ob_error_to_wire(rc);
    }
    if (format) {
        va_list args;
        va_start(args, format);
        vsnprintf(msg.reason, sizeof msg.reason, format, args);
        va_end(args);
    } else
        snprintf(msg.reason, sizeof msg.reason, "%s", ob_strerror(rc));

    self->errors++;
    if (msg.code < OB_SERVER_CODES_MAX)
        self->errors_by_code[msg.code]++;
    if (self->cfg.verbose) {
        char key[S_RID_KEY];
        s_rid_key(rid, key);
        zsys_debug("server: ERROR %u to peer %s (req %" PRIu64 "): %s", msg.code, key, req,
                   msg.reason);
    }
    s_send(self, rid, &msg);
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
    ob_wire_msg_t msg; /* the CONFIRM so far: first req and seq, dup, count */
} s_run_t;

/* Sends run's CONFIRM and closes it. */
static void
s_run_flush(s_server_t *self, s_run_t *run)
{
    if (run->rid)
        s_send(self, run->rid, &run->msg);
    run->rid = NULL;
}

/* Returns 1 if the routing ids a and b are the same. */
static int
s_rid_equal(zmq_msg_t *a, zmq_msg_t *b)
{
    return zmq_msg_size(a) == zmq_msg_size(b) &&
           memcmp(zmq_msg_data(a), zmq_msg_data(b), zmq_msg_size(a)) == 0;
}

/* Answers every publish of the batch the writer returned, then empties it. Per client, the
   answers keep the order of its publishes. */
static void
s_confirm(s_server_t *self, s_batch_t *batch)
{
    s_run_t runs[OB_SERVER_RUNS_OPEN];
    size_t next_victim = 0;
    memset(runs, 0, sizeof runs);
    if (batch->wb.rc)
        zsys_error("server: storage failure, %zu publishes refused: %s", batch->wb.count,
                   ob_strerror(batch->wb.rc));
    for (size_t i = 0; i < batch->wb.count; i++) {
        const ob_store_item_t *item = &batch->wb.items[i];
        s_pending_t *pending = &batch->pending[i];
        s_run_t *run = NULL;
        for (size_t r = 0; r < OB_SERVER_RUNS_OPEN && !run; r++)
            if (runs[r].rid && s_rid_equal(runs[r].rid, &pending->rid))
                run = &runs[r];
        if (item->rc) {
            if (run)
                s_run_flush(self, run); /* the client's earlier answers go first */
            s_send_error(self, &pending->rid, pending->req, item->rc, "%.*s: %s",
                         (int)pending->env.topic_len, pending->env.topic, ob_strerror(item->rc));
            continue;
        }
        if (item->dup)
            self->duplicates++;
        else
            self->published++;
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
        run->msg.command = OB_CMD_CONFIRM;
        run->msg.req = pending->req;
        run->msg.seq = item->seq;
        run->msg.dup = item->dup;
        run->msg.count = 1;
    }
    for (size_t r = 0; r < OB_SERVER_RUNS_OPEN; r++)
        s_run_flush(self, &runs[r]);
    for (size_t i = 0; i < batch->wb.count; i++)
        s_pending_clear(&batch->pending[i]);
    self->batches_done++;
    self->batched_items += batch->wb.count;
    batch->wb.count = 0;
    batch->wb.rc = 0;
    batch->bytes = 0;
}

/* Hands the collecting batch to the writer if the writer is idle and there is something. */
static void
s_handover(s_server_t *self)
{
    if (self->in_flight || self->collecting->wb.count == 0)
        return;
    if (zsock_send(self->writer, "sp", OB_WRITER_BATCH, &self->collecting->wb)) {
        zsys_error("server: cannot reach the writer");
        return; /* retried on the next turn of the loop */
    }
    self->in_flight = self->collecting;
    self->collecting = self->in_flight == &self->batches[0] ? &self->batches[1] : &self->batches[0];
}

/* Handles HELLO: a new session, or a reset one, for rid. */
static void
s_on_hello(s_server_t *self, zmq_msg_t *rid, const char *key, s_session_t *session,
           const ob_wire_msg_t *hello)
{
    if (!session) {
        session = calloc(1, sizeof *session);
        if (!session) {
            s_send_error(self, rid, 0, -ENOMEM, "out of memory for a session");
            return;
        }
        zhashx_insert(self->sessions, key, session); /* key is new: cannot fail */
    }
    snprintf(session->name, sizeof session->name, "%s", hello->name);
    session->heartbeat_ms = hello->heartbeat_ms ? hello->heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT;
    session->last_seen = zclock_mono();

    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_WELCOME;
    snprintf(msg.version, sizeof msg.version, "%s", OB_VERSION_STRING);
    snprintf(msg.session, sizeof msg.session, "%s", self->session_id);
    msg.heartbeat_ms = session->heartbeat_ms;
    msg.max_event = self->cfg.max_event_bytes;
    s_send(self, rid, &msg);
}

/* Handles PUBLISH: checks the event and adds it to the collecting batch, moving rid and
   frame (both received, owned by the caller) into it; they are left empty then. */
static void
s_on_publish(s_server_t *self, zmq_msg_t *rid, zmq_msg_t *frame, const ob_wire_msg_t *msg)
{
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
    switch (data[3]) {
    case OB_CMD_HELLO:
    case OB_CMD_PING:
    case OB_CMD_PUBLISH:
        *ret_command = data[3];
        return 0;
    default: /* unknown, or sent by the broker (WELCOME, PONG, ERROR, CONFIRM) */
        return OB_ERR_UNKNOWN_COMMAND;
    }
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
    ob_wire_msg_t msg;
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
    size_t expected = command == OB_CMD_PUBLISH ? 3 : 2;
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

    if (msg.command == OB_CMD_HELLO) { /* (5) does not apply to HELLO */
        if (self->terminating)
            s_send_error(self, &rid, 0, OB_ERR_SHUTDOWN, "HELLO: %s", ob_strerror(OB_ERR_SHUTDOWN));
        else
            s_on_hello(self, &rid, key, session, &msg);
        goto out;
    }
    if (!session) {
        s_send_error(self, &rid, msg.req, OB_ERR_HELLO_REQUIRED, "%s: %s",
                     ob_command_name(msg.command), ob_strerror(OB_ERR_HELLO_REQUIRED));
        goto out;
    }
    if (msg.command == OB_CMD_PING) {
        ob_wire_msg_t pong;
        memset(&pong, 0, sizeof pong);
        pong.command = OB_CMD_PONG;
        s_send(self, &rid, &pong);
        goto out;
    }
    if (self->terminating) {
        /* PROTOCOL.md 11.1: refused, nothing stored; re-sent after the next WELCOME */
        s_send_error(self, &rid, msg.req, OB_ERR_SHUTDOWN, "PUBLISH: %s",
                     ob_strerror(OB_ERR_SHUTDOWN));
        goto out;
    }
    s_on_publish(self, &rid, &frames[2], &msg); /* (6) */
out:
    zmq_msg_close(&rid);
    for (size_t i = 0; i <= OB_FRAMES_MAX; i++)
        zmq_msg_close(&frames[i]);
    return ret;
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
    else
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
        zhashx_delete(self->sessions, key);
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
    while (!self->terminating || self->in_flight || self->collecting->wb.count) {
        /* Stopping, the ROUTER is still read, to answer SHUTDOWN rather than nothing. */
        int reading = !s_batch_full(self, self->collecting);
        if (!reading)
            self->paused = 1;
        else if (self->paused) {
            self->paused = 0;
            self->resumed_at = zclock_mono();
        }
        zmq_pollitem_t items[3] = {
            {zsock_resolve(self->pipe), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->writer), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(self->router), 0, ZMQ_POLLIN, 0},
        };
        int64_t now = zclock_mono();
        long timeout = next_tick > now ? (long)(next_tick - now) : 0;
        if (zmq_poll(items, reading ? 3 : 2, timeout) < 0) {
            if (errno == EINTR)
                continue; /* a signal: the owner sends $TERM when it wants us to stop */
            zsys_error("server: poll failed: %s", zmq_strerror(errno));
            break;
        }
        if ((items[0].revents & ZMQ_POLLIN) && s_on_pipe(self))
            break;
        if ((items[1].revents & ZMQ_POLLIN) && s_on_writer(self))
            break;
        /* Read whatever arrived, also during the commit just answered, before handing the
           next batch over: that is what makes batches large under load. */
        if (reading && s_drain(self) < 0 && errno != EINTR && errno != EAGAIN) {
            zsys_error("server: ROUTER failed: %s", zmq_strerror(errno));
            break;
        }
        s_handover(self);
        now = zclock_mono();
        if (now >= next_tick) {
            s_expire(self, now);
            next_tick = now + OB_SERVER_TICK_MS;
        }
    }
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
    for (int b = 0; b < 2; b++) {
        self->batches[b].wb.items = calloc(cfg->batch_max, sizeof(ob_store_item_t));
        self->batches[b].pending = calloc(cfg->batch_max, sizeof(s_pending_t));
        if (!self->batches[b].wb.items || !self->batches[b].pending) {
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
        s_start_failed(self, rc, "cannot open the data directory %s: %s", cfg->data_dir,
                       ob_strerror(rc));
        return rc;
    }

    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        s_start_failed(self, -ENOMEM, "cannot create the ROUTER socket");
        return self->start_rc;
    }
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndhwm(self->router, OB_SERVER_HWM);
    zsock_set_rcvhwm(self->router, OB_SERVER_HWM);
    /* Lets the last confirmations out after the socket is closed at shutdown. Over ipc://,
       libzmq 4.3 ignores the linger and drops what is still queued (zeromq/libzmq#4660):
       those confirmations are lost, which the protocol tolerates (the client re-sends and
       gets dup = true) but tcp:// does not have. */
    zsock_set_linger(self->router, OB_SERVER_LINGER_MS);
    /* PROTOCOL.md 3.1: libzmq checks each frame against this and disconnects the sender of
       a larger one without a word, so it is the hard cap, not max_event_bytes: a frame over
       max_event_bytes but under the cap gets ERROR TOO_LARGE, which a client can act on. */
    zsock_set_maxmsgsize(self->router, (int)OB_EVENT_MAX_CAP);
    if (zsock_bind(self->router, "%s", cfg->endpoint) < 0) {
        rc = -errno;
        s_start_failed(self, rc, "cannot bind %s: %s", cfg->endpoint, zmq_strerror(errno));
        return rc;
    }
    char *endpoint = zsock_last_endpoint(self->router);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint ? endpoint : cfg->endpoint);
    zstr_free(&endpoint);

    self->writer = zactor_new(ob_writer_actor, self->store);
    if (!self->writer) {
        s_start_failed(self, -ENOMEM, "cannot start the writer");
        return self->start_rc;
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
    }
    zsock_destroy(&self->router);
    ob_store_close(&self->store);
    zhashx_destroy(&self->sessions);
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
    zsys_info("server: orderbus-broker %s on %s, data in %s, map %" PRIu64 " bytes, %" PRIu64
              " events in %" PRIu64 " topics, max event %" PRIu64 " bytes, batches of %u",
              OB_VERSION_STRING, self->endpoint, self->cfg.data_dir, stats.map_size, stats.events,
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
    if (zstr_send(actor, OB_SERVER_STATUS) || zsock_recv(actor, "iss", &rc, &reason, &endpoint)) {
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
