/*  fake_broker: a scriptable stand-in for orderbus-broker. See fake_broker.h.

    The actor's pipe carries string frames: a command and its arguments, answered with one
    string frame, so that every call of the test side is synchronous. */
#include "fake_broker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

#define S_ENDPOINT_MAX 64   /* bytes in "tcp://127.0.0.1:65535" and then some */
#define S_REBIND_TRIES 200  /* binds tried after a restart while the old listener closes */
#define S_REBIND_WAIT_MS 10 /* between two of them */
/* Ports below Linux's ephemeral range (32768-60999), where czmq's "*" would bind: a port in
   that range can be taken, while the fake broker is down, by an outgoing connection, even by
   the client's own reconnect to it (a TCP self-connect), and the restart could not bind. */
#define S_PORT_FIRST 20000
#define S_PORT_LAST 32000

struct fake_broker {
    zactor_t *actor;                   /* runs s_actor */
    char endpoint[S_ENDPOINT_MAX + 1]; /* where it listens */
};

typedef struct s_fake {
    zsock_t *pipe;                         /* to the test, borrowed */
    zsock_t *router;                       /* the broker socket, owned */
    int port;                              /* bound port, kept across restarts */
    int incarnation;                       /* restarts + 1 */
    char session[OB_WIRE_SESSION_MAX + 1]; /* "fake-<incarnation>" */
    zhashx_t *known;      /* hex routing id -> its zframe_t, for connections with a session */
    zhash_t *peers;       /* hex routing id -> (set) for every connection seen */
    zhash_t *greeted;     /* hex routing id -> (set) for every connection that said HELLO */
    zhash_t *store;       /* "topic id" -> seq (as a pointer) */
    zhash_t *topic_seq;   /* topic -> last seq (as a pointer) */
    zlist_t *held;        /* zmsg_t: routing id, header, body, event; owned */
    int silent;           /* knob */
    int hold;             /* knob */
    int pong;             /* knob */
    int twice;            /* knob "double" */
    int drop;             /* knob */
    uint32_t hello_error; /* knob */
    uint64_t forget_at;   /* knob */
    uint64_t refuse_req;  /* knob */
    uint32_t refuse_code; /* knob */
    uint64_t max_event;   /* knob */
    int64_t hellos, pings, publishes, confirms; /* counters */
    int64_t repeat_hellos; /* counter: HELLOs from a connection that had said HELLO before */
    zchunk_t *log;         /* "H P1 ..." */
    char wait_counter[16]; /* counter a pending WAIT watches, "" if none */
    int64_t wait_value;    /* value it waits for */
    int64_t wait_deadline; /* zclock_mono deadline of the WAIT */
} s_fake_t;

/* Returns a counter by name, or -1. */
static int64_t
s_counter(const s_fake_t *self, const char *name)
{
    if (streq(name, "hellos"))
        return self->hellos;
    if (streq(name, "pings"))
        return self->pings;
    if (streq(name, "publishes"))
        return self->publishes;
    if (streq(name, "confirms"))
        return self->confirms;
    if (streq(name, "repeat_hellos"))
        return self->repeat_hellos;
    if (streq(name, "peers"))
        return (int64_t)zhash_size(self->peers);
    return -1;
}

static void
s_log(s_fake_t *self, const char *entry)
{
    if (zchunk_size(self->log))
        zchunk_extend(self->log, " ", 1);
    zchunk_extend(self->log, entry, strlen(entry));
}

static int
s_bind(s_fake_t *self)
{
    self->router = zsock_new(ZMQ_ROUTER);
    if (!self->router)
        return -1;
    zsock_set_linger(self->router, 0);
    zsock_set_router_mandatory(self->router, 0);
    int port = self->port ? zsock_bind(self->router, "tcp://127.0.0.1:%d", self->port)
                          : zsock_bind(self->router, "tcp://127.0.0.1:![%d-%d]", S_PORT_FIRST,
                                       S_PORT_LAST);
    if (port < 0) {
        zsock_destroy(&self->router);
        return -1;
    }
    self->port = port;
    self->incarnation++;
    snprintf(self->session, sizeof self->session, "fake-%d", self->incarnation);
    return 0;
}

/* Sends msg to the connection rid (borrowed). */
static void
s_send(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_BODY_MAX];
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    if (ob_wire_encode_body(msg, body, sizeof body, &body_len) != 0)
        return;
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &(zframe_t *){zframe_dup(rid)});
    zmsg_addmem(out, header, sizeof header);
    zmsg_addmem(out, body, body_len);
    zmsg_send(&out, self->router);
}

static void
s_send_error(s_fake_t *self, zframe_t *rid, uint64_t req, int rc)
{
    ob_wire_msg_t msg = {.command = OB_CMD_ERROR, .req = req, .code = ob_error_to_wire(rc)};
    snprintf(msg.reason, sizeof msg.reason, "%s", ob_strerror(rc));
    s_send(self, rid, &msg);
}

/* Stores the event of a publish (rid, req, event frame) and confirms it. */
static void
s_confirm(s_fake_t *self, zframe_t *rid, uint64_t req, zframe_t *event_frame)
{
    ob_event_t *event = NULL;
    if (!event_frame ||
        ob_event_decode(zframe_data(event_frame), zframe_size(event_frame), &event) != 0) {
        s_send_error(self, rid, req, OB_ERR_INVALID_EVENT);
        return;
    }
    char *key = zsys_sprintf("%s %s", event->topic, event->id);
    ob_wire_msg_t msg = {.command = OB_CMD_CONFIRM, .req = req};
    uintptr_t seq = (uintptr_t)zhash_lookup(self->store, key);
    if (seq)
        msg.dup = 1;
    else {
        seq = (uintptr_t)zhash_lookup(self->topic_seq, event->topic) + 1;
        zhash_update(self->topic_seq, event->topic, (void *)seq);
        zhash_insert(self->store, key, (void *)seq);
    }
    msg.seq = seq;
    zstr_free(&key);
    ob_event_destroy(&event);
    for (int i = 0; i < (self->drop ? 0 : self->twice ? 2 : 1); i++) {
        s_send(self, rid, &msg);
        self->confirms++;
    }
}

/* Handles one message from a client: rid, header, body [, event]. Takes msg. */
static void
s_on_client(s_fake_t *self, zmsg_t **msg_p)
{
    zmsg_t *in = *msg_p;
    zframe_t *rid = zmsg_first(in);
    zframe_t *header = zmsg_next(in);
    zframe_t *body = zmsg_next(in);
    zframe_t *event = zmsg_next(in);
    char *hex = zframe_strhex(rid);
    ob_wire_msg_t msg;
    char entry[32];

    zhash_update(self->peers, hex, self); /* any non-NULL item */
    if (!header || !body ||
        ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                       zframe_size(body), &msg) != 0)
        goto out;
    int known = zhashx_lookup(self->known, hex) != NULL;

    switch (msg.command) {
    case OB_CMD_HELLO:
        self->hellos++;
        if (zhash_insert(self->greeted, hex, self) != 0)
            self->repeat_hellos++;
        s_log(self, "H");
        if (self->silent)
            break;
        if (self->hello_error) {
            s_send_error(self, rid, 0, ob_error_from_wire(self->hello_error));
            break;
        }
        zhashx_update(self->known, hex, zframe_dup(rid));
        ob_wire_msg_t welcome = {.command = OB_CMD_WELCOME,
                                 .heartbeat_ms =
                                     msg.heartbeat_ms ? msg.heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT,
                                 .max_event = self->max_event};
        snprintf(welcome.version, sizeof welcome.version, "fake");
        snprintf(welcome.session, sizeof welcome.session, "%s", self->session);
        s_send(self, rid, &welcome);
        break;
    case OB_CMD_PING:
        self->pings++;
        if (self->silent)
            break;
        if (!known)
            s_send_error(self, rid, 0, OB_ERR_HELLO_REQUIRED);
        else if (self->pong)
            s_send(self, rid, &(ob_wire_msg_t){.command = OB_CMD_PONG});
        break;
    case OB_CMD_PUBLISH:
        self->publishes++;
        snprintf(entry, sizeof entry, "P%" PRIu64, msg.req);
        s_log(self, entry);
        if (self->silent)
            break;
        if (known && self->forget_at == msg.req) {
            self->forget_at = 0;
            zhashx_delete(self->known, hex);
            known = 0;
        }
        if (!known)
            s_send_error(self, rid, msg.req, OB_ERR_HELLO_REQUIRED);
        else if (self->refuse_req == msg.req)
            s_send_error(self, rid, msg.req, ob_error_from_wire(self->refuse_code));
        else if (self->hold) {
            zlist_append(self->held, in);
            in = NULL;
        } else
            s_confirm(self, rid, msg.req, event);
        break;
    default:
        break;
    }
out:
    zstr_free(&hex);
    zmsg_destroy(&in);
    *msg_p = NULL;
}

/* Answers a held publish. Takes it. */
static void
s_release_one(s_fake_t *self, zmsg_t **held_p)
{
    zmsg_t *held = *held_p;
    zframe_t *rid = zmsg_first(held);
    zframe_t *header = zmsg_next(held);
    zframe_t *body = zmsg_next(held);
    zframe_t *event = zmsg_next(held);
    ob_wire_msg_t msg;
    if (ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                       zframe_size(body), &msg) == 0)
        s_confirm(self, rid, msg.req, event);
    zmsg_destroy(held_p);
}

static void
s_drop_held(s_fake_t *self)
{
    zmsg_t *held = NULL;
    while ((held = zlist_pop(self->held)))
        zmsg_destroy(&held);
}

/* Checks a pending WAIT and answers it if met or expired. */
static void
s_check_wait(s_fake_t *self)
{
    if (!self->wait_counter[0])
        return;
    if (s_counter(self, self->wait_counter) >= self->wait_value)
        zstr_send(self->pipe, "ok");
    else if (zclock_mono() >= self->wait_deadline)
        zstr_send(self->pipe, "timeout");
    else
        return;
    self->wait_counter[0] = '\0';
}

/* Handles a command from the test. Returns -1 on $TERM. */
static int
s_on_pipe(s_fake_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return -1;
    char *cmd = zmsg_popstr(msg);
    char *arg1 = zmsg_popstr(msg);
    char *arg2 = zmsg_popstr(msg);
    char *arg3 = zmsg_popstr(msg);
    uint64_t value = arg2 ? strtoull(arg2, NULL, 10) : 0;
    int rc = 0;

    if (streq(cmd, "$TERM"))
        rc = -1;
    else if (streq(cmd, "ENDPOINT"))
        zstr_sendf(self->pipe, "tcp://127.0.0.1:%d", self->port);
    else if (streq(cmd, "SET")) {
        if (streq(arg1, "silent"))
            self->silent = (int)value;
        else if (streq(arg1, "hold"))
            self->hold = (int)value;
        else if (streq(arg1, "pong"))
            self->pong = (int)value;
        else if (streq(arg1, "drop"))
            self->drop = (int)value;
        else if (streq(arg1, "double"))
            self->twice = (int)value;
        else if (streq(arg1, "hello_error"))
            self->hello_error = (uint32_t)value;
        else if (streq(arg1, "forget_at"))
            self->forget_at = value;
        else if (streq(arg1, "refuse_req"))
            self->refuse_req = value;
        else if (streq(arg1, "refuse_code"))
            self->refuse_code = (uint32_t)value;
        else if (streq(arg1, "max_event"))
            self->max_event = value;
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "RELEASE")) {
        size_t n = zlist_size(self->held);
        zmsg_t **all = calloc(n ? n : 1, sizeof *all);
        for (size_t i = 0; i < n; i++)
            all[i] = zlist_pop(self->held);
        for (size_t i = 0; i < n; i++)
            s_release_one(self, &all[streq(arg1, "reverse") ? n - 1 - i : i]);
        free(all);
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "RESTART")) {
        s_drop_held(self);
        zhashx_purge(self->known);
        zsock_destroy(&self->router);
        /* The old listener closes in the I/O thread, after zmq_close returns: try again
           until the port is free. */
        int bound = -1;
        for (int i = 0; i < S_REBIND_TRIES && (bound = s_bind(self)) != 0; i++)
            zmq_poll(NULL, 0, S_REBIND_WAIT_MS);
        if (bound == 0)
            zstr_send(self->pipe, "ok");
        else
            zstr_sendf(self->pipe, "failed: %s", strerror(errno));
    } else if (streq(cmd, "FORGET")) {
        zhashx_purge(self->known);
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "STRAY")) {
        uint64_t req = strtoull(arg1, NULL, 10);
        for (zframe_t *rid = zhashx_first(self->known); rid; rid = zhashx_next(self->known)) {
            s_send(self, rid, &(ob_wire_msg_t){.command = OB_CMD_CONFIRM, .req = req, .seq = 1});
            s_send_error(self, rid, req, OB_ERR_INVALID_TOPIC);
        }
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "JUNK")) {
        /* one frame; a bad signature; too many frames; a CONFIRM whose body is not msgpack */
        static const uint8_t bad_header[OB_HEADER_SIZE] = {'X', 'B', OB_WIRE_VERSION,
                                                           OB_CMD_CONFIRM};
        static const uint8_t confirm_header[OB_HEADER_SIZE] = {
            OB_WIRE_SIGNATURE_0, OB_WIRE_SIGNATURE_1, OB_WIRE_VERSION, OB_CMD_CONFIRM};
        static const uint8_t pong_header[OB_HEADER_SIZE] = {
            OB_WIRE_SIGNATURE_0, OB_WIRE_SIGNATURE_1, OB_WIRE_VERSION, OB_CMD_PONG};
        static const uint8_t empty_map[] = {0x80};
        static const uint8_t junk[] = {0xc1, 0xc1, 0xc1};
        for (zframe_t *rid = zhashx_first(self->known); rid; rid = zhashx_next(self->known)) {
            zmsg_t *out[4];
            for (int i = 0; i < 4; i++) {
                out[i] = zmsg_new();
                zmsg_append(out[i], &(zframe_t *){zframe_dup(rid)});
            }
            zmsg_addmem(out[0], junk, sizeof junk);
            zmsg_addmem(out[1], bad_header, sizeof bad_header);
            zmsg_addmem(out[1], empty_map, sizeof empty_map);
            for (int i = 0; i < OB_FRAMES_MAX + 1; i++)
                zmsg_addmem(out[2], pong_header, sizeof pong_header);
            zmsg_addmem(out[3], confirm_header, sizeof confirm_header);
            zmsg_addmem(out[3], junk, sizeof junk);
            for (int i = 0; i < 4; i++)
                zmsg_send(&out[i], self->router);
        }
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "COUNT"))
        zstr_sendf(self->pipe, "%" PRId64, s_counter(self, arg1));
    else if (streq(cmd, "LOG")) {
        zmsg_t *reply = zmsg_new();
        zmsg_addmem(reply, zchunk_data(self->log), zchunk_size(self->log));
        zmsg_send(&reply, self->pipe);
    } else if (streq(cmd, "WAIT")) {
        snprintf(self->wait_counter, sizeof self->wait_counter, "%s", arg1);
        self->wait_value = (int64_t)value;
        self->wait_deadline = zclock_mono() + (arg3 ? atoi(arg3) : 0);
        s_check_wait(self);
    }
    zstr_free(&cmd);
    zstr_free(&arg1);
    zstr_free(&arg2);
    zstr_free(&arg3);
    zmsg_destroy(&msg);
    return rc;
}

/* zhashx destructor for the routing id frames in known. */
static void
s_frame_destroy(void **item)
{
    zframe_destroy((zframe_t **)item);
}

static void
s_actor(zsock_t *pipe, void *args)
{
    (void)args;
    s_fake_t self = {.pipe = pipe, .pong = 1, .max_event = OB_EVENT_MAX_DEFAULT};
    self.known = zhashx_new();
    zhashx_set_destructor(self.known, s_frame_destroy);
    self.peers = zhash_new();
    self.greeted = zhash_new();
    self.store = zhash_new();
    self.topic_seq = zhash_new();
    self.held = zlist_new();
    self.log = zchunk_new(NULL, 0);
    int rc = s_bind(&self);
    zsock_signal(pipe, rc == 0 ? 0 : 1);

    while (rc == 0) {
        zmq_pollitem_t items[] = {
            {.socket = zsock_resolve(pipe), .events = ZMQ_POLLIN},
            {.socket = self.router ? zsock_resolve(self.router) : NULL, .events = ZMQ_POLLIN}};
        long timeout = -1;
        if (self.wait_counter[0]) {
            int64_t left = self.wait_deadline - zclock_mono();
            timeout = left > 0 ? (long)left : 0;
        }
        if (zmq_poll(items, self.router ? 2 : 1, timeout) < 0)
            break;
        if (items[0].revents & ZMQ_POLLIN && s_on_pipe(&self) < 0)
            break;
        if (items[1].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv(self.router);
            if (msg)
                s_on_client(&self, &msg);
        }
        s_check_wait(&self);
    }
    s_drop_held(&self);
    zlist_destroy(&self.held);
    zhashx_destroy(&self.known);
    zhash_destroy(&self.peers);
    zhash_destroy(&self.greeted);
    zhash_destroy(&self.store);
    zhash_destroy(&self.topic_seq);
    zchunk_destroy(&self.log);
    zsock_destroy(&self.router);
}

/* Sends a command and returns the one-string reply (caller frees) or NULL. */
static char *
s_call(fake_broker_t *self, const char *cmd, const char *arg1, const char *arg2, const char *arg3)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, cmd);
    if (arg1)
        zmsg_addstr(msg, arg1);
    if (arg2)
        zmsg_addstr(msg, arg2);
    if (arg3)
        zmsg_addstr(msg, arg3);
    zmsg_send(&msg, self->actor);
    return zstr_recv(self->actor);
}

fake_broker_t *
fake_broker_new(void)
{
    fake_broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->actor = zactor_new(s_actor, NULL);
    if (!self->actor) {
        free(self);
        return NULL;
    }
    char *endpoint = s_call(self, "ENDPOINT", NULL, NULL, NULL);
    if (!endpoint) {
        fake_broker_destroy(&self);
        return NULL;
    }
    snprintf(self->endpoint, sizeof self->endpoint, "%s", endpoint);
    zstr_free(&endpoint);
    return self;
}

void
fake_broker_destroy(fake_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zactor_destroy(&(*self_p)->actor);
    free(*self_p);
    *self_p = NULL;
}

const char *
fake_broker_endpoint(const fake_broker_t *self)
{
    return self->endpoint;
}

/* Calls and discards the reply. Returns 0 if it was "ok". */
static int
s_call_ok(fake_broker_t *self, const char *cmd, const char *arg1, const char *arg2,
          const char *arg3)
{
    char *reply = s_call(self, cmd, arg1, arg2, arg3);
    int rc = reply && streq(reply, "ok") ? 0 : -1;
    zstr_free(&reply);
    return rc;
}

void
fake_broker_set(fake_broker_t *self, const char *knob, uint64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, value);
    s_call_ok(self, "SET", knob, text, NULL);
}

void
fake_broker_release(fake_broker_t *self, int reverse)
{
    s_call_ok(self, "RELEASE", reverse ? "reverse" : "fifo", NULL, NULL);
}

int
fake_broker_restart(fake_broker_t *self, char **ret_error)
{
    char *reply = s_call(self, "RESTART", NULL, NULL, NULL);
    if (reply && streq(reply, "ok")) {
        zstr_free(&reply);
        return 0;
    }
    if (ret_error)
        *ret_error = reply;
    else
        zstr_free(&reply);
    return -1;
}

void
fake_broker_forget(fake_broker_t *self)
{
    s_call_ok(self, "FORGET", NULL, NULL, NULL);
}

void
fake_broker_stray(fake_broker_t *self, uint64_t req)
{
    char text[32];
    snprintf(text, sizeof text, "%" PRIu64, req);
    s_call_ok(self, "STRAY", text, NULL, NULL);
}

void
fake_broker_junk(fake_broker_t *self)
{
    s_call_ok(self, "JUNK", NULL, NULL, NULL);
}

int64_t
fake_broker_count(fake_broker_t *self, const char *counter)
{
    char *reply = s_call(self, "COUNT", counter, NULL, NULL);
    int64_t value = reply ? strtoll(reply, NULL, 10) : -1;
    zstr_free(&reply);
    return value;
}

int
fake_broker_wait(fake_broker_t *self, const char *counter, int64_t value, int timeout_ms)
{
    char v[32], t[32];
    snprintf(v, sizeof v, "%" PRId64, value);
    snprintf(t, sizeof t, "%d", timeout_ms);
    return s_call_ok(self, "WAIT", counter, v, t);
}

char *
fake_broker_log(fake_broker_t *self)
{
    return s_call(self, "LOG", NULL, NULL, NULL);
}
