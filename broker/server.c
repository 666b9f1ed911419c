/*  ob_server: see server.h; the parts share server_int.h. This file: the event loop.

    The event loop, in one thread, polls three things: the pipe (commands from the owner),
    the writer (a committed batch coming back) and the ROUTER (client messages). Two batches
    alternate: `collecting` fills from the ROUTER while `in_flight` is at the writer. The
    ROUTER is read until it is empty (or a bound) before a batch is handed over, so under load
    a batch holds everything that arrived during the previous commit; when the collecting
    batch is full the ROUTER is not polled at all, and ZeroMQ's high-water marks push back on
    the publishers. Nothing is ever dropped for lack of room. The batches themselves are commit.c's.
    A lone publish, when nothing is at the writer, is committed in this thread instead, which
    spares the lone event two thread wake-ups (commit.c, writer.h).

    Every message is checked in the order of PROTOCOL.md 5.3 and the first failure is answered
    with ERROR; nothing a client sends can stop the loop. On $TERM the publishes already
    received are committed and confirmed, and what arrives meanwhile is refused with SHUTDOWN
    (nothing stored), so that clients know at once to re-send to the next broker.

    Here: start and stop, the pipe, reading the ROUTER, the checks of each message and its
    dispatch to sessions.c, commit.c, admin.c and security.c, and the sending of replies and
    ERRORs that they all use. */
#include "server_int.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "auth.h"
#include "command_table.h"
#include "endpoint.h"

_Static_assert(OB_SUBS_OWNER_MAX >= OB_PERMS_NAME_MAX, "a client name fits a subscription's owner");

/* Sends msg, and the bytes of count events (borrowed, none if 0) as its frames after the
   body (one for FETCH's OK and a DELIVER, count for a DELIVER run), to the peer whose
   routing id is rid (rid_len bytes, borrowed). Never blocks: a peer that is gone or whose
   queue is full loses the message, which is counted (a publisher re-sends and is answered
   again, publishes being idempotent; a delivery is redelivered after its ack timeout).
   Returns 0 or -errno: -EHOSTUNREACH (the peer is gone), -EAGAIN (its queue is full). */
int
ob_srv_send_to(ob_srv_t *self, const void *rid, size_t rid_len, const ob_wire_msg_t *msg,
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

/* Sends msg to the peer rid (borrowed); see ob_srv_send_to. */
int
ob_srv_send(ob_srv_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    return ob_srv_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), msg, NULL, 0);
}

/* Answers ERROR {req, code, reason, sub} to the peer rid (rid_len bytes) and counts it. rc
   is an OB_ERR_* code (anything else, such as -ENOMEM, is answered as BUSY: the client may
   retry). sub may be NULL. */
static void s_send_error_v(ob_srv_t *self, const void *rid, size_t rid_len, uint64_t req, int rc,
                           const char *sub, const char *format, va_list args)
    __attribute__((format(printf, 7, 0)));

static void
s_send_error_v(ob_srv_t *self, const void *rid, size_t rid_len, uint64_t req, int rc,
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
    ob_srv_send_to(self, rid, rid_len, msg, NULL, 0);
}

void
ob_srv_send_error(ob_srv_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, zmq_msg_data(rid), zmq_msg_size(rid), req, rc, NULL, format, args);
    va_end(args);
}

void
ob_srv_send_error_sub(ob_srv_t *self, ob_srv_session_t *session, int rc, const char *sub,
                      const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, session->rid, session->rid_len, 0, rc, sub, format, args);
    va_end(args);
}

void
ob_srv_send_error_to(ob_srv_t *self, ob_srv_session_t *session, uint64_t req, int rc,
                     const char *format, ...)
{
    va_list args;
    va_start(args, format);
    s_send_error_v(self, session->rid, session->rid_len, req, rc, NULL, format, args);
    va_end(args);
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
s_read_one(ob_srv_t *self)
{
    void *handle = zsock_resolve(self->router);
    zmq_msg_t rid;
    zmq_msg_t frames[OB_FRAMES_MAX + 1]; /* the last one takes any surplus frames */
    size_t count = 0; /* frames after the routing id, including any over OB_FRAMES_MAX */
    char key[OB_SRV_RID_KEY];
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

    ob_srv_rid_key(&rid, key);
    ob_srv_session_t *session = zhashx_lookup(self->sessions, key);
    if (session)
        session->last_seen = zclock_mono();

    /* The checks run in the order of PROTOCOL.md 5.3; the first failure is answered. */
    if (count < 2 || count > OB_FRAMES_MAX) { /* (1) */
        ob_srv_send_error(self, &rid, 0, OB_ERR_MALFORMED,
                          "message has %zu frames, expected header, body and (PUBLISH) event",
                          count);
        goto out;
    }
    int command = 0;
    int rc = s_check_header(&frames[0], &command); /* (2) */
    if (rc) {
        ob_srv_send_error(self, &rid, 0, rc, "header: %s", ob_strerror(rc));
        goto out;
    }
    /* The body is decoded before (3) only to learn req; its errors count from (4) on. */
    rc = ob_wire_decode(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                        zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), &msg);
    /* a command to the broker takes one number of frames: frames_min = frames_max */
    size_t expected = ob_command_info(command)->frames_min;
    if (count != expected) { /* (3) */
        ob_srv_send_error(self, &rid, msg.req, OB_ERR_MALFORMED, "%s takes %zu frames, not %zu",
                          ob_command_name(command), expected, count);
        goto out;
    }
    if (rc) { /* (4) */
        ob_srv_send_error(self, &rid, msg.req, rc, "%s body: %s", ob_command_name(command),
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
            ob_srv_forbidden(self, &rid, msg.req, user && *user ? user : "(no key)", reason);
            if (session)
                ob_srv_end_session(self, session);
            goto out;
        }
        if (session && msg.command != OB_CMD_HELLO && strcmp(session->user, user)) {
            char reason[OB_REASON_MAX + 1];
            snprintf(reason, sizeof reason,
                     "%s: this session said HELLO with another key: send HELLO",
                     ob_command_name(msg.command));
            ob_srv_forbidden(self, &rid, msg.req, ob_perms_client_name(client), reason);
            goto out;
        }
    }

    if (msg.command == OB_CMD_HELLO) { /* (5) does not apply to HELLO */
        if (self->terminating)
            ob_srv_send_error(self, &rid, msg.req, OB_ERR_SHUTDOWN, "HELLO: %s",
                              ob_strerror(OB_ERR_SHUTDOWN));
        else
            ob_srv_on_hello(self, &rid, &frames[0], key, session, &msg, user);
        goto out;
    }
    if (!session) {
        ob_srv_send_error(self, &rid, msg.req, OB_ERR_HELLO_REQUIRED, "%s: %s",
                          ob_command_name(msg.command), ob_strerror(OB_ERR_HELLO_REQUIRED));
        goto out;
    }
    if (msg.command == OB_CMD_PING) {
        ob_subs_ping(self->subs, session);
        ob_wire_msg_t pong;
        memset(&pong, 0, sizeof pong);
        pong.command = OB_CMD_PONG;
        ob_srv_send(self, &rid, &pong);
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
        ob_srv_send_error(self, &rid, msg.req, OB_ERR_SHUTDOWN, "%s: %s",
                          ob_command_name(msg.command), ob_strerror(OB_ERR_SHUTDOWN));
        goto out;
    }
    if (msg.command == OB_CMD_PUBLISH)
        ob_srv_on_publish(self, session, &rid, &frames[2], &msg, client); /* (7) */
    else
        ob_srv_on_request(self, &rid, session, &msg, client);
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
s_drain(ob_srv_t *self)
{
    for (int i = 0; i < OB_SERVER_DRAIN_MAX && !ob_srv_batch_full(self, self->collecting); i++) {
        int rc = s_read_one(self);
        if (rc <= 0)
            return rc;
    }
    return 0;
}

/* Handles a command from the owner. Returns 0, or -1 if the pipe failed. */
static int
s_on_pipe(ob_srv_t *self)
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
        char reason[OB_SRV_REASON_FAIL];
        int rc = ob_srv_reload(self, reason, sizeof reason);
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

/* The event loop; returns when terminated and everything received is answered, or when a
   socket fails. */
static void
s_run(ob_srv_t *self)
{
    int64_t next_tick = zclock_mono() + OB_SERVER_TICK_MS;
    self->resumed_at = zclock_mono();
    while (!self->terminating || self->in_flight || self->collecting->wb.count ||
           (!self->store_failed && (ob_subs_dirty(self->subs) || zlistx_size(self->deferred)))) {
        /* Stopping, the ROUTER is still read, to answer SHUTDOWN rather than nothing. */
        int reading = !ob_srv_batch_full(self, self->collecting);
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
        if (delivering || self->writeback_due)
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
        if ((items[1].revents & ZMQ_POLLIN) && ob_srv_on_writer(self))
            break;
        if (items[2].revents & ZMQ_POLLIN)
            ob_srv_on_monitor(self); /* before the ROUTER: a closed client's slot is free first */
        /* Deliver first what the commit just answered made available (latency), then read
           whatever arrived, also during that commit, before handing the next batch over:
           that is what makes batches large under load. */
        now = zclock_mono();
        if (!self->terminating && ob_subs_busy(self->subs)) {
            ob_subs_pump(self->subs, OB_SERVER_PUMP_MAX, now);
            ob_srv_end_gone(self);
        }
        if (self->writeback_due) { /* of a commit made here: after its answers and deliveries */
            ob_store_writeback(self->store);
            self->writeback_due = 0;
        }
        if (reading && s_drain(self) < 0 && errno != EINTR && errno != EAGAIN) {
            zsys_error("server: ROUTER failed: %s", zmq_strerror(errno));
            break;
        }
        ob_srv_handover(self);
        if (now >= next_tick) {
            ob_srv_expire(self, now);
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

void
ob_srv_start_failed(ob_srv_t *self, int rc, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(self->start_reason, sizeof self->start_reason, format, args);
    va_end(args);
    self->start_rc = rc;
}

/* Opens the store, binds, starts the writer. Returns 0 or the failure (recorded). */
static int
s_start(ob_srv_t *self)
{
    int rc = 0;
    const ob_config_t *cfg = &self->cfg;

    zuuid_t *uuid = zuuid_new();
    if (!uuid) {
        ob_srv_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    for (size_t i = 0; i < OB_SERVER_SESSION_LEN; i++)
        self->session_id[i] = (char)tolower((unsigned char)zuuid_str(uuid)[i]);
    zuuid_destroy(&uuid);

    self->sessions = zhashx_new();
    if (!self->sessions) {
        ob_srv_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    zhashx_set_destructor(self->sessions, s_session_free);
    self->metrics = ob_broker_metrics_new();
    self->deferred = zlistx_new();
    self->gone = zlistx_new();
    self->reply = malloc(OB_BODY_MAX);
    self->result = malloc(OB_SERVER_RESULT_MAX);
    if (!self->metrics || !self->deferred || !self->gone || !self->reply || !self->result) {
        ob_srv_start_failed(self, -ENOMEM, "out of memory");
        return self->start_rc;
    }
    zlistx_set_destructor(self->deferred, s_deferred_free);
    for (int b = 0; b < 2; b++) {
        /* items: the publishes, then room for the dead letters */
        self->batches[b].wb.items =
            calloc(cfg->batch_max + OB_SERVER_LETTERS_MAX, sizeof(ob_store_item_t));
        self->batches[b].pending = calloc(cfg->batch_max, sizeof(ob_srv_pending_t));
        self->batches[b].subs.letters =
            calloc(OB_SERVER_LETTERS_MAX, sizeof *self->batches[b].subs.letters);
        self->batches[b].subs.letter_cap = OB_SERVER_LETTERS_MAX;
        self->batches[b].deferred = zlistx_new();
        if (self->batches[b].deferred)
            zlistx_set_destructor(self->batches[b].deferred, s_deferred_free);
        if (!self->batches[b].wb.items || !self->batches[b].pending ||
            !self->batches[b].subs.letters || !self->batches[b].deferred) {
            ob_srv_start_failed(self, -ENOMEM, "out of memory for batches of %u", cfg->batch_max);
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
            ob_srv_start_failed(self, rc,
                                "the data directory %s is in use by another broker (pid %ld, "
                                "%s/broker.lock): one broker per data directory",
                                cfg->data_dir, holder, cfg->data_dir);
        else if (rc == -EBUSY)
            ob_srv_start_failed(self, rc,
                                "the data directory %s is in use by another broker "
                                "(%s/broker.lock): one broker per data directory",
                                cfg->data_dir, cfg->data_dir);
        else
            ob_srv_start_failed(self, rc, "cannot open the data directory %s: %s", cfg->data_dir,
                                ob_strerror(rc));
        return rc;
    }
    ob_store_set_max_topics(self->store, cfg->max_topics);
    if ((rc = ob_subs_new(self->store, ob_srv_deliver, ob_srv_gone, self, &self->subs))) {
        ob_srv_start_failed(self, rc, "cannot load the subscriptions in %s: %s", cfg->data_dir,
                            ob_strerror(rc));
        return rc;
    }
    ob_subs_set_max_per_consumer(self->subs, cfg->max_subs_per_client);
    ob_subs_set_max_unread(self->subs, cfg->max_unread_bytes);

    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router) {
        ob_srv_start_failed(self, -ENOMEM, "cannot create the ROUTER socket");
        return self->start_rc;
    }
    if (cfg->curve && (rc = ob_srv_start_curve(self)))
        return rc;
    zsock_set_router_mandatory(self->router, 1);
    /* Per connection: what waits for a client that does not read (PROTOCOL.md 12.9 keeps a
       consumer's deliveries far below; this is the cap whatever a client does). A client
       within max_pending that reads no reply until its window is full must still get every
       CONFIRM: one reply per pending publish, and OB_SERVER_SNDHWM more. */
    zsock_set_sndhwm(self->router, (int)(cfg->max_pending + OB_SERVER_SNDHWM));
    /* and what waits from one while the batch is full (reading paused): a client within
       max_pending never has more outstanding */
    zsock_set_rcvhwm(self->router, (int)cfg->max_pending);
    /* Connection events, to end a session when its connection closes (ob_srv_on_monitor). The
       PAIR is connected before the bind, so that no event is sent before it listens; its
       queue has no limit (the events of connections not yet read are all kept). */
    /* A name of its own: the inproc name of a stopped server stays taken until libzmq
       reaps its monitor, and a process may start servers one after another (tests). */
    static atomic_uint monitors;
    char monitor[OB_SRV_ENDPOINT_MAX];
    snprintf(monitor, sizeof monitor, "inproc://ob-server-monitor-%u",
             atomic_fetch_add(&monitors, 1));
    self->monitor = zsock_new(ZMQ_PAIR);
    if (!self->monitor ||
        zmq_socket_monitor(zsock_resolve(self->router), monitor,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) ||
        (zsock_set_rcvhwm(self->monitor, 0), zsock_connect(self->monitor, "%s", monitor))) {
        ob_srv_start_failed(self, -ENOMEM, "cannot monitor the ROUTER socket");
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
    self->writer_args.shared = &self->writer_shared;
    self->writer_args.limits = ob_config_retention;
    self->writer_args.limits_arg = &self->cfg;
    self->writer_args.metrics = self->metrics;
    self->writer = zactor_new(ob_writer_actor, &self->writer_args);
    if (!self->writer) {
        ob_srv_start_failed(self, -ENOMEM, "cannot start the writer");
        return self->start_rc;
    }
    /* Metrics are an observer: a broker that cannot serve them still serves its clients. */
    char reason[OB_SRV_REASON_FAIL];
    if (cfg->metrics[0] &&
        ob_metrics_http_start(cfg->metrics, ob_broker_metrics_registry(self->metrics), &self->http,
                              reason, sizeof reason))
        zsys_error("server: %s; serving without metrics", reason);
    else if (self->http)
        zsys_info("server: metrics on %s", ob_metrics_http_url(self->http));
    char file[OB_SRV_ENDPOINT_MAX + OB_METRICS_HTTP_URL_MAX];
    snprintf(file, sizeof file, "%s%s%s", self->endpoint, self->http ? "\n" : "",
             self->http ? ob_metrics_http_url(self->http) : "");
    /* Last: the file tells a starter that the broker serves, and where. */
    if (cfg->endpoint_file[0] && (rc = ob_endpoint_write_file(cfg->endpoint_file, file))) {
        ob_srv_start_failed(self, rc, "cannot write the endpoint file %s: %s", cfg->endpoint_file,
                            ob_strerror(rc));
        return rc;
    }
    return 0;
}

/* Frees everything; the writer goes first, so that no batch is in use when they are
   freed (a batch still at the writer, after a socket failure, is finished first). */
static void
s_server_destroy(ob_srv_t **self_p)
{
    ob_srv_t *self = *self_p;
    if (!self)
        return;
    ob_metrics_http_stop(&self->http);
    zactor_destroy(&self->writer);
    for (int b = 0; b < 2; b++) {
        /* every entry's messages are initialised once the arrays exist; a half-built server
           has no arrays at all or zeroed ones, and closing a zeroed zmq_msg_t is harmless */
        if (self->batches[b].pending)
            for (size_t i = 0; i < self->cfg.batch_max; i++) {
                ob_srv_pending_t *pending = &self->batches[b].pending[i];
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
    ob_writer_shared_fini(&self->writer_shared);
    free(self->conns);
    free(self);
    *self_p = NULL;
}

/* Logs the counters at exit. */
static void
s_summary(ob_srv_t *self)
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
    ob_srv_t *self = calloc(1, sizeof *self);
    if (self && ob_writer_shared_init(&self->writer_shared)) {
        free(self);
        self = NULL;
    }
    if (self)
        self->cfg = *(const ob_config_t *)args;
    free(args);            /* ours: see server.h */
    zsock_signal(pipe, 0); /* always: the owner learns the outcome with STATUS */
    if (!self) {
        s_wait_term(pipe, -ENOMEM, "out of memory");
        return;
    }
    self->pipe = pipe;
    if (s_start(self)) {
        s_wait_term(pipe, self->start_rc, self->start_reason);
        s_server_destroy(&self);
        return;
    }
    ob_store_stats_t stats;
    memset(&stats, 0, sizeof stats);
    ob_store_stats(self->store, &stats);
    char shown[OB_SRV_ENDPOINT_MAX]; /* the endpoints on one line */
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
    /* The actor takes a copy of its own and frees it: the configuration is handed over
       through ZeroMQ's pipe, a synchronisation ThreadSanitizer cannot see, and a caller's
       stack would be reused by the time TSan compares the accesses. */
    ob_config_t *copy = malloc(sizeof *copy);
    if (!copy) {
        snprintf(errbuf, errlen, "out of memory");
        return -ENOMEM;
    }
    *copy = *cfg;
    zactor_t *actor = zactor_new(ob_server_actor, copy);
    if (!actor) {
        free(copy); /* the actor never ran */
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
