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
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "command_table.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/pattern.h"
#include "orderbus/wire.h"

#define S_ENDPOINT_MAX 64   /* bytes in "tcp://127.0.0.1:65535" and then some */
#define S_REBIND_TRIES 200  /* binds tried after a restart while the old listener closes */
#define S_REBIND_WAIT_MS 10 /* between two of them */
/* Ports below Linux's ephemeral range (32768-60999), where czmq's "*" would bind: a port in
   that range can be taken, while the fake broker is down, by an outgoing connection, even by
   the client's own reconnect to it (a TCP self-connect), and the restart could not bind. */
#define S_PORT_FIRST 20000
#define S_PORT_LAST 32000
#define S_ARGS 6                            /* arguments of a pipe command */
#define S_LINE_MAX 8192                     /* bytes in one line of fake_broker_messages */
#define S_EVENT_TYPE "project_item.created" /* type of the events the fake makes */

/* A subscription (PROTOCOL.md 12), as far as the fake keeps one. */
typedef struct s_fsub {
    ob_wire_msg_t subscribe; /* the SUBSCRIBE that created it: sub is its name */
    int ephemeral;           /* 1 if the fake named it */
    zframe_t *consumer;      /* routing id of the attached connection, owned, or NULL */
} s_fsub_t;

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
    zhashx_t *known;          /* hex routing id -> its zframe_t, for connections with a session */
    zhash_t *peers;           /* hex routing id -> (set) for every connection seen */
    zhash_t *greeted;         /* hex routing id -> (set) for every connection that said HELLO */
    zhash_t *store;           /* "topic id" -> seq (as a pointer) */
    zhash_t *topic_seq;       /* topic -> last seq (as a pointer) */
    zlist_t *held;            /* zmsg_t: routing id, header, body, event; owned */
    int silent;               /* knob */
    int hold;                 /* knob */
    int pong;                 /* knob */
    int twice;                /* knob "double" */
    int drop;                 /* knob */
    uint32_t hello_error;     /* knob */
    uint64_t forget_at;       /* knob */
    uint64_t refuse_req;      /* knob */
    uint32_t refuse_code;     /* knob */
    uint64_t max_event;       /* knob */
    uint32_t subscribe_error; /* knob */
    int hold_subscribe;       /* knob */
    uint32_t request_error;   /* knob */
    int more;                 /* knob */
    uint32_t fetch_frames;    /* knob */
    zchunk_t *result;         /* admin OK result, owned, empty for none */
    zhashx_t *subs;           /* name -> s_fsub_t, owned */
    uint64_t ephemerals;      /* ephemeral subscriptions named so far */
    zlist_t *held_subs;       /* zmsg_t: routing id, header, body of held SUBSCRIBEs; owned */
    zlist_t *messages;        /* char *: lines of fake_broker_messages, owned */
    int64_t hellos, pings, publishes, confirms;                          /* counters */
    int64_t subscribes, unsubscribes, acks, nacks, requests, deliveries; /* counters */
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
    if (streq(name, "subscribes"))
        return self->subscribes;
    if (streq(name, "unsubscribes"))
        return self->unsubscribes;
    if (streq(name, "acks"))
        return self->acks;
    if (streq(name, "nacks"))
        return self->nacks;
    if (streq(name, "requests"))
        return self->requests;
    if (streq(name, "deliveries"))
        return self->deliveries;
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

/* Sends msg to the connection rid (borrowed), followed by the frames of *extra_p (taken;
   NULL for none). */
static void
s_send_frames(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg, zmsg_t **extra_p)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_BODY_MAX];
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    if (ob_wire_encode_body(msg, body, sizeof body, &body_len) == 0) {
        zmsg_t *out = zmsg_new();
        zmsg_append(out, &(zframe_t *){zframe_dup(rid)});
        zmsg_addmem(out, header, sizeof header);
        zmsg_addmem(out, body, body_len);
        for (zframe_t *frame; extra_p && *extra_p && (frame = zmsg_pop(*extra_p));)
            zmsg_append(out, &frame);
        zmsg_send(&out, self->router);
    }
    if (extra_p)
        zmsg_destroy(extra_p);
}

/* Sends msg to the connection rid (borrowed), with event (event_len bytes, borrowed) as a
   third frame if not NULL. */
static void
s_send_event(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg, const void *event,
             size_t event_len)
{
    zmsg_t *extra = zmsg_new();
    if (event)
        zmsg_addmem(extra, event, event_len);
    s_send_frames(self, rid, msg, &extra);
}

/* Sends msg to the connection rid (borrowed). */
static void
s_send(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg)
{
    s_send_event(self, rid, msg, NULL, 0);
}

static void
s_send_error(s_fake_t *self, zframe_t *rid, uint64_t req, int rc)
{
    ob_wire_msg_t msg = {.command = OB_CMD_ERROR, .req = req, .code = ob_error_to_wire(rc)};
    snprintf(msg.reason, sizeof msg.reason, "%s", ob_strerror(rc));
    s_send(self, rid, &msg);
}

/* Records the fields of a subscription command or admin request for fake_broker_messages. */
static void
s_record(s_fake_t *self, const ob_wire_msg_t *msg)
{
    char line[S_LINE_MAX];
    char patterns[S_LINE_MAX / 2] = "";
    char types[S_LINE_MAX / 4] = "";
    const char *name = ob_command_name(msg->command);
    switch (msg->command) {
    case OB_CMD_HELLO:
        snprintf(line, sizeof line, "%s name=%s heartbeat_ms=%u max_run=%u", name, msg->name,
                 msg->heartbeat_ms, msg->max_run);
        break;
    case OB_CMD_SUBSCRIBE:
        for (size_t i = 0; i < msg->pattern_count; i++)
            snprintf(patterns + strlen(patterns), sizeof patterns - strlen(patterns), "%s%s",
                     i ? "," : "", msg->patterns[i]);
        for (size_t i = 0; i < msg->type_count; i++)
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%s", i ? "," : "",
                     msg->types[i]);
        snprintf(line, sizeof line,
                 "%s sub=%s patterns=%s types=%s start=%s start_seq=%" PRIu64 " start_time=%" PRIu64
                 " credit=%u ack_wait_ms=%u max_attempts=%u backoff_ms=%u attach=%d",
                 name, msg->sub, patterns, types, ob_start_name(msg->start), msg->start_seq,
                 msg->start_time, msg->credit, msg->ack_wait_ms, msg->max_attempts, msg->backoff_ms,
                 msg->attach);
        break;
    case OB_CMD_UNSUBSCRIBE:
        snprintf(line, sizeof line, "%s sub=%s", name, msg->sub);
        break;
    case OB_CMD_ACK:
        snprintf(line, sizeof line, "%s sub=%s topic=%s seq=%" PRIu64 " upto=%d", name, msg->sub,
                 msg->topic, msg->seq, msg->upto);
        break;
    case OB_CMD_NACK:
        snprintf(line, sizeof line, "%s sub=%s topic=%s seq=%" PRIu64 " delay_ms=%u", name,
                 msg->sub, msg->topic, msg->seq, msg->delay_ms);
        break;
    default: /* admin; a FETCH of a range also says its count and time */
        snprintf(line, sizeof line, "%s sub=%s topic=%s seq=%" PRIu64 " after=%s", name, msg->sub,
                 msg->topic, msg->seq, msg->after);
        if (msg->command == OB_CMD_FETCH && msg->count) {
            size_t used = strlen(line);
            snprintf(line + used, sizeof line - used, " count=%" PRIu32 " time=%" PRIu64,
                     msg->count, msg->time);
        }
        break;
    }
    zlist_append(self->messages, line); /* autofree: copied */
}

/* Returns a new encoded event with id "ev-<seq>" on topic, or NULL; *ret_len is its size. */
static uint8_t *
s_make_event(const char *topic, uint64_t seq, size_t *ret_len)
{
    char id[32];
    uint8_t *buf = NULL;
    snprintf(id, sizeof id, "ev-%" PRIu64, seq);
    ob_event_t event = {.id = id,
                        .topic = topic,
                        .type = S_EVENT_TYPE,
                        .time_us = 1700000000000000ull + seq,
                        .source = "fake_broker"};
    return ob_event_encode(&event, &buf, ret_len) == 0 ? buf : NULL;
}

/* Fills *msg with a DELIVER of (sub, topic, seq, attempt), stored now. */
static void
s_deliver_msg(ob_wire_msg_t *msg, const char *sub, const char *topic, uint64_t seq,
              uint32_t attempt)
{
    ob_wire_msg_init(msg, OB_CMD_DELIVER);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    snprintf(msg->topic, sizeof msg->topic, "%s", topic);
    msg->seq = seq;
    msg->attempt = attempt;
    msg->time = (uint64_t)zclock_time() * 1000;
}

/* Sends fsub's consumer a DELIVER of event (event_len bytes, borrowed). */
static void
s_deliver(s_fake_t *self, s_fsub_t *fsub, const char *topic, uint64_t seq, uint32_t attempt,
          const void *event, size_t event_len)
{
    ob_wire_msg_t msg;
    s_deliver_msg(&msg, fsub->subscribe.sub, topic, seq, attempt);
    s_send_event(self, fsub->consumer, &msg, event, event_len);
    self->deliveries++;
}

/* Sends fsub's consumer a DELIVER of the run seq .. seq + count - 1 on topic (count 1..
   OB_DELIVER_RUN_MAX; 1 makes a single DELIVER): attempt for all, skipped for the first,
   event i stored at FAKE_BROKER_RUN_TIME(seq, i). The body is followed by frames event
   frames, the valid events "ev-<seq>", "ev-<seq + 1>", ...: count of them in a valid run.
   Returns 0, or -1 if the body or an event cannot be made. */
static int
s_deliver_run(s_fake_t *self, s_fsub_t *fsub, const char *topic, uint64_t seq, uint32_t count,
              uint32_t attempt, uint64_t skipped, size_t frames)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_BODY_MAX];
    size_t body_len = 0;
    ob_wire_msg_t msg;
    s_deliver_msg(&msg, fsub->subscribe.sub, topic, seq, attempt);
    msg.skipped = skipped;
    msg.count = count;
    for (uint32_t i = 0; i < count && i < OB_DELIVER_RUN_MAX; i++)
        msg.times[i] = FAKE_BROKER_RUN_TIME(seq, i);
    msg.time = FAKE_BROKER_RUN_TIME(seq, 0);
    ob_wire_encode_header(&msg, header);
    if (ob_wire_encode_body(&msg, body, sizeof body, &body_len) != 0)
        return -1;
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &(zframe_t *){zframe_dup(fsub->consumer)});
    zmsg_addmem(out, header, sizeof header);
    zmsg_addmem(out, body, body_len);
    for (size_t i = 0; i < frames; i++) {
        size_t len = 0;
        uint8_t *event = s_make_event(topic, seq + i, &len);
        if (!event) {
            zmsg_destroy(&out);
            return -1;
        }
        zmsg_addmem(out, event, len);
        free(event);
    }
    zmsg_send(&out, self->router);
    self->deliveries++;
    return 0;
}

/* Sends the consumer of sub the bad runs of fake_broker_deliver_junk_run. Returns 0 or -1. */
static int
s_deliver_junk_run(s_fake_t *self, const char *sub)
{
    s_fsub_t *fsub = zhashx_lookup(self->subs, sub);
    if (!fsub || !fsub->consumer)
        return -1;
    /* one event frame short, one too many, none, and more frames than any DELIVER has */
    static const struct {
        uint64_t seq;   /* of the run's first event */
        uint32_t count; /* the run's count */
        size_t frames;  /* event frames sent */
    } runs[] = {
        {1, 3, 2}, {11, 3, 4}, {21, 2, 0}, {31, OB_DELIVER_RUN_MAX, OB_DELIVER_RUN_MAX + 1}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
        if (s_deliver_run(self, fsub, "oms.1", runs[i].seq, runs[i].count, 1, 0, runs[i].frames))
            return -1;
    return 0;
}

/* Returns 1 if fsub wants an event of type on topic. */
static int
s_fsub_matches(const s_fsub_t *fsub, const char *topic, const char *type)
{
    const ob_wire_msg_t *sub = &fsub->subscribe;
    int match = 0;
    for (size_t i = 0; i < sub->pattern_count && !match; i++)
        match = ob_pattern_match(sub->patterns[i], strlen(sub->patterns[i]), topic, strlen(topic));
    if (!match || sub->type_count == 0)
        return match;
    for (size_t i = 0; i < sub->type_count; i++)
        if (streq(sub->types[i], type))
            return 1;
    return 0;
}

/* Returns 1 if the count C strings in rows of stride bytes at a and at b are the same set. */
static int
s_same_set(const char *a, const char *b, size_t stride, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int found = 0;
        for (size_t j = 0; j < count && !found; j++)
            found = streq(a + i * stride, b + j * stride);
        if (!found)
            return 0;
    }
    return 1;
}

/* zhashx destructor for the subscriptions. */
static void
s_fsub_destroy(void **item)
{
    s_fsub_t *fsub = *item;
    if (fsub) {
        zframe_destroy(&fsub->consumer);
        free(fsub);
    }
    *item = NULL;
}

/* Detaches every consumer, and deletes the ephemeral subscriptions: every session is gone. */
static void
s_detach_all(s_fake_t *self)
{
    zlistx_t *names = zhashx_keys(self->subs);
    for (const char *name = zlistx_first(names); name; name = zlistx_next(names)) {
        s_fsub_t *fsub = zhashx_lookup(self->subs, name);
        zframe_destroy(&fsub->consumer);
        if (fsub->ephemeral)
            zhashx_delete(self->subs, name);
    }
    zlistx_destroy(&names);
}

/* Deletes the subscription name, telling its consumer (PROTOCOL.md 12.7). Returns 0, or -1
   if there is none. */
static int
s_delete(s_fake_t *self, const char *name)
{
    s_fsub_t *fsub = zhashx_lookup(self->subs, name);
    if (!fsub)
        return -1;
    if (fsub->consumer) {
        ob_wire_msg_t error = {.command = OB_CMD_ERROR,
                               .code = ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION)};
        snprintf(error.reason, sizeof error.reason, "subscription deleted");
        snprintf(error.sub, sizeof error.sub, "%s", name);
        s_send(self, fsub->consumer, &error);
    }
    zhashx_delete(self->subs, name);
    return 0;
}

/* Answers a SUBSCRIBE from rid. */
static void
s_on_subscribe(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg)
{
    if (self->subscribe_error) {
        s_send_error(self, rid, msg->req, ob_error_from_wire(self->subscribe_error));
        return;
    }
    for (size_t i = 0; i < msg->pattern_count; i++)
        if (!ob_pattern_valid(msg->patterns[i], strlen(msg->patterns[i]))) {
            s_send_error(self, rid, msg->req, OB_ERR_INVALID_PATTERN);
            return;
        }
    char name[OB_SUB_NAME_MAX + 1];
    if (msg->sub[0])
        snprintf(name, sizeof name, "%s", msg->sub);
    else
        snprintf(name, sizeof name, "eph-%016" PRIx64, ++self->ephemerals);
    s_fsub_t *fsub = zhashx_lookup(self->subs, name);
    int created = fsub == NULL;
    if (fsub) {
        const ob_wire_msg_t *had = &fsub->subscribe;
        if (had->pattern_count != msg->pattern_count || had->type_count != msg->type_count ||
            !s_same_set((const char *)had->patterns, (const char *)msg->patterns,
                        sizeof msg->patterns[0], msg->pattern_count) ||
            !s_same_set((const char *)had->types, (const char *)msg->types, sizeof msg->types[0],
                        msg->type_count)) {
            s_send_error(self, rid, msg->req, OB_ERR_SUBSCRIPTION_EXISTS);
            return;
        }
    } else {
        fsub = calloc(1, sizeof *fsub);
        fsub->subscribe = *msg;
        snprintf(fsub->subscribe.sub, sizeof fsub->subscribe.sub, "%s", name);
        fsub->ephemeral = msg->sub[0] == '\0';
        zhashx_insert(self->subs, name, fsub);
    }
    zframe_destroy(&fsub->consumer);
    fsub->consumer = zframe_dup(rid);
    ob_wire_msg_t reply;
    ob_wire_msg_init(&reply, OB_CMD_SUBSCRIBED);
    reply.req = msg->req;
    reply.created = created;
    snprintf(reply.sub, sizeof reply.sub, "%s", name);
    s_send(self, rid, &reply);
}

/* Answers an UNSUBSCRIBE from rid. */
static void
s_on_unsubscribe(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg)
{
    s_fsub_t *fsub = zhashx_lookup(self->subs, msg->sub);
    if (!fsub || !fsub->consumer || !zframe_eq(fsub->consumer, rid)) {
        s_send_error(self, rid, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION);
        return;
    }
    zframe_destroy(&fsub->consumer);
    if (fsub->ephemeral)
        zhashx_delete(self->subs, msg->sub);
    ob_wire_msg_t ok;
    ob_wire_msg_init(&ok, OB_CMD_OK);
    ok.req = msg->req;
    s_send(self, rid, &ok);
}

/* Sends rid the OK ok (borrowed) of a FETCH of a range with fetch_frames event frames, the
   events "ev-<seq>", "ev-<seq + 1>", ... on topic: the result is the test's to script. */
static void
s_send_range(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *ok, const char *topic,
             uint64_t seq)
{
    zmsg_t *events = zmsg_new();
    for (uint32_t i = 0; i < self->fetch_frames; i++) {
        size_t len = 0;
        uint8_t *event = s_make_event(topic, seq + i, &len);
        if (event)
            zmsg_addmem(events, event, len);
        free(event);
    }
    s_send_frames(self, rid, ok, &events);
}

/* Answers an admin request from rid. */
static void
s_on_admin(s_fake_t *self, zframe_t *rid, const ob_wire_msg_t *msg)
{
    if (self->request_error) {
        s_send_error(self, rid, msg->req, ob_error_from_wire(self->request_error));
        return;
    }
    ob_wire_msg_t ok;
    ob_wire_msg_init(&ok, OB_CMD_OK);
    ok.req = msg->req;
    ok.more = self->more;
    ok.result = zchunk_size(self->result) ? zchunk_data(self->result) : NULL;
    ok.result_len = zchunk_size(self->result);
    if (msg->command == OB_CMD_SUB_DELETE && s_delete(self, msg->sub) != 0) {
        s_send_error(self, rid, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION);
        return;
    }
    if (msg->command == OB_CMD_FETCH && msg->count) {
        s_send_range(self, rid, &ok, msg->topic, msg->seq);
        return;
    }
    if (msg->command == OB_CMD_FETCH) {
        size_t len = 0;
        uint8_t *event = s_make_event(msg->topic, msg->seq, &len);
        if (!event) {
            s_send_error(self, rid, msg->req, OB_ERR_INVALID_TOPIC);
            return;
        }
        s_send_event(self, rid, &ok, event, len);
        free(event);
        return;
    }
    s_send(self, rid, &ok);
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
    for (int i = 0; i < (self->drop ? 0 : self->twice ? 2 : 1); i++) {
        s_send(self, rid, &msg);
        self->confirms++;
    }
    /* a new event goes to every subscription that wants it, after the CONFIRM */
    for (s_fsub_t *fsub = zhashx_first(self->subs); fsub && !msg.dup;
         fsub = zhashx_next(self->subs))
        if (fsub->consumer && s_fsub_matches(fsub, event->topic, event->type))
            s_deliver(self, fsub, event->topic, seq, 1, zframe_data(event_frame),
                      zframe_size(event_frame));
    ob_event_destroy(&event);
}

/* Answers a held SUBSCRIBE. Takes it. */
static void
s_release_subscribe(s_fake_t *self, zmsg_t **held_p)
{
    zmsg_t *held = *held_p;
    zframe_t *rid = zmsg_first(held);
    zframe_t *header = zmsg_next(held);
    zframe_t *body = zmsg_next(held);
    ob_wire_msg_t msg;
    if (ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                       zframe_size(body), &msg) == 0)
        s_on_subscribe(self, rid, &msg);
    zmsg_destroy(held_p);
}

/* Answers every held SUBSCRIBE, oldest first. */
static void
s_release_subscribes(s_fake_t *self)
{
    zmsg_t *held = NULL;
    while ((held = zlist_pop(self->held_subs)))
        s_release_subscribe(self, &held);
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

    if (ob_command_info(msg.command)->admin != OB_COMMAND_ADMIN_NONE) {
        self->requests++;
        s_log(self, "R");
        s_record(self, &msg);
        if (self->silent)
            goto out;
        if (!known)
            s_send_error(self, rid, msg.req, OB_ERR_HELLO_REQUIRED);
        else
            s_on_admin(self, rid, &msg);
        goto out;
    }
    switch (msg.command) {
    case OB_CMD_HELLO:
        self->hellos++;
        if (zhash_insert(self->greeted, hex, self) != 0)
            self->repeat_hellos++;
        s_log(self, "H");
        s_record(self, &msg);
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
    case OB_CMD_SUBSCRIBE:
    case OB_CMD_UNSUBSCRIBE:
        *(msg.command == OB_CMD_SUBSCRIBE ? &self->subscribes : &self->unsubscribes) += 1;
        s_log(self, msg.command == OB_CMD_SUBSCRIBE ? "S" : "U");
        s_record(self, &msg);
        if (self->silent)
            break;
        if (!known)
            s_send_error(self, rid, msg.req, OB_ERR_HELLO_REQUIRED);
        else if (msg.command == OB_CMD_UNSUBSCRIBE)
            s_on_unsubscribe(self, rid, &msg);
        else if (self->hold_subscribe) {
            zlist_append(self->held_subs, in);
            in = NULL;
            if (self->hold_subscribe > 1 &&
                zlist_size(self->held_subs) >= (size_t)self->hold_subscribe)
                s_release_subscribes(self);
        } else
            s_on_subscribe(self, rid, &msg);
        break;
    case OB_CMD_ACK:
    case OB_CMD_NACK:
        *(msg.command == OB_CMD_ACK ? &self->acks : &self->nacks) += 1;
        s_log(self, msg.command == OB_CMD_ACK ? "A" : "N");
        s_record(self, &msg);
        if (!self->silent && !known)
            s_send_error(self, rid, 0, OB_ERR_HELLO_REQUIRED);
        break;
    default: /* the admin requests, above; anything else is not for a broker */
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
    while ((held = zlist_pop(self->held_subs)))
        zmsg_destroy(&held);
}

/* Sends the consumer of sub the bad DELIVERs of fake_broker_deliver_junk. Returns 0 or -1. */
static int
s_deliver_junk(s_fake_t *self, const char *sub)
{
    s_fsub_t *fsub = zhashx_lookup(self->subs, sub);
    if (!fsub || !fsub->consumer)
        return -1;
    enum { JUNK = 7 };
    static const uint8_t not_msgpack[] = {0xc1, 0xc1};
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_BODY_MAX], nobody[OB_BODY_MAX], noseq[OB_BODY_MAX];
    size_t body_len = 0, nobody_len = 0, noseq_len = 0, event_len = 0;
    size_t over = self->max_event + OB_DEAD_LETTER_EXTRA + 1;
    ob_wire_msg_t msg;

    s_deliver_msg(&msg, sub, "oms.1", 1, 1);
    ob_wire_encode_header(&msg, header);
    ob_wire_encode_body(&msg, body, sizeof body, &body_len);
    s_deliver_msg(&msg, "nobody", "oms.1", 1, 1);
    ob_wire_encode_body(&msg, nobody, sizeof nobody, &nobody_len);
    /* an UNSUBSCRIBE's body {req, sub}: a map, but a DELIVER without topic and seq */
    ob_wire_msg_init(&msg, OB_CMD_UNSUBSCRIBE);
    msg.req = 1;
    snprintf(msg.sub, sizeof msg.sub, "%s", sub);
    ob_wire_encode_body(&msg, noseq, sizeof noseq, &noseq_len);
    uint8_t *event = s_make_event("oms.1", 1, &event_len);
    uint8_t *big = calloc(1, over);

    zmsg_t *out[JUNK];
    for (int i = 0; i < JUNK; i++) {
        out[i] = zmsg_new();
        zmsg_append(out[i], &(zframe_t *){zframe_dup(fsub->consumer)});
        zmsg_addmem(out[i], header, sizeof header);
    }
    zmsg_addmem(out[0], body, body_len); /* no event frame */
    zmsg_addmem(out[1], body, body_len);
    zmsg_addmem(out[1], big, over);
    zmsg_addmem(out[2], not_msgpack, sizeof not_msgpack);
    zmsg_addmem(out[2], event, event_len);
    zmsg_addmem(out[3], body, body_len);
    zmsg_addmem(out[3], NULL, 0); /* empty event frame */
    zmsg_addmem(out[4], noseq, noseq_len);
    zmsg_addmem(out[4], event, event_len);
    zmsg_addmem(out[5], body, body_len); /* four frames */
    zmsg_addmem(out[5], event, event_len);
    zmsg_addmem(out[5], event, event_len);
    zmsg_addmem(out[6], nobody, nobody_len); /* valid, but not a subscription of the client */
    zmsg_addmem(out[6], event, event_len);
    for (int i = 0; i < JUNK; i++)
        zmsg_send(&out[i], self->router);
    self->deliveries += JUNK;
    free(big);
    free(event);
    return 0;
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

/* Returns the lines of the messages list that start with command and a space, joined. */
static char *
s_messages(s_fake_t *self, const char *command)
{
    zchunk_t *all = zchunk_new(NULL, 0);
    size_t len = strlen(command);
    for (const char *line = zlist_first(self->messages); line; line = zlist_next(self->messages))
        if (strncmp(line, command, len) == 0 && line[len] == ' ') {
            zchunk_extend(all, line, strlen(line));
            zchunk_extend(all, "\n", 1);
        }
    zchunk_extend(all, "", 1);
    char *text = strdup((const char *)zchunk_data(all));
    zchunk_destroy(&all);
    return text;
}

/* Handles a command from the test. Returns -1 on $TERM. */
static int
s_on_pipe(s_fake_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return -1;
    char *cmd = zmsg_popstr(msg);
    if (streq(cmd, "RESULT")) { /* binary: the frame as it is */
        zframe_t *result = zmsg_pop(msg);
        zchunk_destroy(&self->result);
        self->result =
            zchunk_new(result ? zframe_data(result) : NULL, result ? zframe_size(result) : 0);
        zframe_destroy(&result);
        zstr_send(self->pipe, "ok");
        zstr_free(&cmd);
        zmsg_destroy(&msg);
        return 0;
    }
    char *arg[S_ARGS];
    for (int i = 0; i < S_ARGS; i++)
        arg[i] = zmsg_popstr(msg);
    uint64_t value = arg[1] ? strtoull(arg[1], NULL, 10) : 0;
    int rc = 0;

    if (streq(cmd, "$TERM"))
        rc = -1;
    else if (streq(cmd, "ENDPOINT"))
        zstr_sendf(self->pipe, "tcp://127.0.0.1:%d", self->port);
    else if (streq(cmd, "SET")) {
        if (streq(arg[0], "silent"))
            self->silent = (int)value;
        else if (streq(arg[0], "hold"))
            self->hold = (int)value;
        else if (streq(arg[0], "pong"))
            self->pong = (int)value;
        else if (streq(arg[0], "drop"))
            self->drop = (int)value;
        else if (streq(arg[0], "double"))
            self->twice = (int)value;
        else if (streq(arg[0], "hello_error"))
            self->hello_error = (uint32_t)value;
        else if (streq(arg[0], "forget_at"))
            self->forget_at = value;
        else if (streq(arg[0], "refuse_req"))
            self->refuse_req = value;
        else if (streq(arg[0], "refuse_code"))
            self->refuse_code = (uint32_t)value;
        else if (streq(arg[0], "max_event"))
            self->max_event = value;
        else if (streq(arg[0], "subscribe_error"))
            self->subscribe_error = (uint32_t)value;
        else if (streq(arg[0], "hold_subscribe"))
            self->hold_subscribe = (int)value;
        else if (streq(arg[0], "request_error"))
            self->request_error = (uint32_t)value;
        else if (streq(arg[0], "more"))
            self->more = (int)value;
        else if (streq(arg[0], "fetch_frames"))
            self->fetch_frames = (uint32_t)value;
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "RELEASE")) {
        size_t n = zlist_size(self->held);
        zmsg_t **all = calloc(n ? n : 1, sizeof *all);
        for (size_t i = 0; i < n; i++)
            all[i] = zlist_pop(self->held);
        for (size_t i = 0; i < n; i++)
            s_release_one(self, &all[streq(arg[0], "reverse") ? n - 1 - i : i]);
        free(all);
        s_release_subscribes(self);
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "RESTART")) {
        s_drop_held(self);
        zhashx_purge(self->known);
        s_detach_all(self);
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
        s_detach_all(self);
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "STRAY")) {
        uint64_t req = strtoull(arg[0], NULL, 10);
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
            /* more than the longest message, a DELIVER run */
            for (int i = 0; i < OB_DELIVER_FRAMES_MAX + 1; i++)
                zmsg_addmem(out[2], pong_header, sizeof pong_header);
            zmsg_addmem(out[3], confirm_header, sizeof confirm_header);
            zmsg_addmem(out[3], junk, sizeof junk);
            for (int i = 0; i < 4; i++)
                zmsg_send(&out[i], self->router);
        }
        zstr_send(self->pipe, "ok");
    } else if (streq(cmd, "DELIVER") || streq(cmd, "DELIVER_RAW")) {
        /* sub topic seq attempt | sub topic seq length */
        s_fsub_t *fsub = arg[0] ? zhashx_lookup(self->subs, arg[0]) : NULL;
        uint64_t seq = arg[2] ? strtoull(arg[2], NULL, 10) : 0;
        uint64_t last = arg[3] ? strtoull(arg[3], NULL, 10) : 0;
        uint8_t *event = NULL;
        size_t len = 0;
        if (streq(cmd, "DELIVER"))
            event = arg[1] ? s_make_event(arg[1], seq, &len) : NULL;
        else
            event = calloc(1, (len = last) ? len : 1);
        if (fsub && fsub->consumer && event) {
            s_deliver(self, fsub, arg[1], seq, streq(cmd, "DELIVER") ? (uint32_t)last : 1, event,
                      len);
            zstr_send(self->pipe, "ok");
        } else
            zstr_send(self->pipe, "no consumer");
        free(event);
    } else if (streq(cmd, "DELIVER_RUN")) {
        /* sub topic seq count attempt skipped */
        s_fsub_t *fsub = arg[0] ? zhashx_lookup(self->subs, arg[0]) : NULL;
        uint64_t seq = arg[2] ? strtoull(arg[2], NULL, 10) : 0;
        uint64_t count = arg[3] ? strtoull(arg[3], NULL, 10) : 0;
        uint64_t attempt = arg[4] ? strtoull(arg[4], NULL, 10) : 0;
        uint64_t skipped = arg[5] ? strtoull(arg[5], NULL, 10) : 0;
        int sent = fsub && fsub->consumer && arg[1] && count >= 1 && count <= OB_DELIVER_RUN_MAX &&
                   s_deliver_run(self, fsub, arg[1], seq, (uint32_t)count, (uint32_t)attempt,
                                 skipped, (size_t)count) == 0;
        zstr_send(self->pipe, sent ? "ok" : "no consumer");
    } else if (streq(cmd, "DELIVER_JUNK"))
        zstr_send(self->pipe, arg[0] && s_deliver_junk(self, arg[0]) == 0 ? "ok" : "no consumer");
    else if (streq(cmd, "DELIVER_JUNK_RUN"))
        zstr_send(self->pipe,
                  arg[0] && s_deliver_junk_run(self, arg[0]) == 0 ? "ok" : "no consumer");
    else if (streq(cmd, "DELETE"))
        zstr_send(self->pipe, arg[0] && s_delete(self, arg[0]) == 0 ? "ok" : "no such");
    else if (streq(cmd, "MESSAGES")) {
        char *text = s_messages(self, arg[0] ? arg[0] : "");
        zstr_send(self->pipe, text);
        free(text);
    } else if (streq(cmd, "COUNT"))
        zstr_sendf(self->pipe, "%" PRId64, s_counter(self, arg[0]));
    else if (streq(cmd, "LOG")) {
        zmsg_t *reply = zmsg_new();
        zmsg_addmem(reply, zchunk_data(self->log), zchunk_size(self->log));
        zmsg_send(&reply, self->pipe);
    } else if (streq(cmd, "WAIT")) {
        snprintf(self->wait_counter, sizeof self->wait_counter, "%s", arg[0]);
        self->wait_value = (int64_t)value;
        self->wait_deadline = zclock_mono() + (arg[2] ? atoi(arg[2]) : 0);
        s_check_wait(self);
    }
    zstr_free(&cmd);
    for (int i = 0; i < S_ARGS; i++)
        zstr_free(&arg[i]);
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
    self.held_subs = zlist_new();
    self.subs = zhashx_new();
    zhashx_set_destructor(self.subs, s_fsub_destroy);
    self.messages = zlist_new();
    zlist_autofree(self.messages);
    self.result = zchunk_new(NULL, 0);
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
    zlist_destroy(&self.held_subs);
    zhashx_destroy(&self.subs);
    zlist_destroy(&self.messages);
    zchunk_destroy(&self.result);
    zhashx_destroy(&self.known);
    zhash_destroy(&self.peers);
    zhash_destroy(&self.greeted);
    zhash_destroy(&self.store);
    zhash_destroy(&self.topic_seq);
    zchunk_destroy(&self.log);
    zsock_destroy(&self.router);
}

/* Sends a command with up to S_ARGS arguments (a NULL ends them) and returns the
   one-string reply (caller frees) or NULL. */
static char *
s_call_n(fake_broker_t *self, const char *cmd, const char *const args[S_ARGS])
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, cmd);
    for (int i = 0; i < S_ARGS && args[i]; i++)
        zmsg_addstr(msg, args[i]);
    zmsg_send(&msg, self->actor);
    return zstr_recv(self->actor);
}

/* s_call_n with up to three arguments. */
static char *
s_call(fake_broker_t *self, const char *cmd, const char *arg1, const char *arg2, const char *arg3)
{
    const char *const args[S_ARGS] = {arg1, arg1 ? arg2 : NULL, arg1 && arg2 ? arg3 : NULL};
    return s_call_n(self, cmd, args);
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

char *
fake_broker_messages(fake_broker_t *self, const char *command)
{
    return s_call(self, "MESSAGES", command, NULL, NULL);
}

void
fake_broker_set_result(fake_broker_t *self, const uint8_t *result, size_t len)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "RESULT");
    zmsg_addmem(msg, result, len);
    zmsg_send(&msg, self->actor);
    char *reply = zstr_recv(self->actor);
    zstr_free(&reply);
}

/* Sends DELIVER or DELIVER_RAW; last is the attempt or the event's length. */
static int
s_deliver_call(fake_broker_t *self, const char *cmd, const char *sub, const char *topic,
               uint64_t seq, uint64_t last)
{
    char seq_text[32], last_text[32];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, seq);
    snprintf(last_text, sizeof last_text, "%" PRIu64, last);
    const char *const args[S_ARGS] = {sub, topic, seq_text, last_text, NULL};
    char *reply = s_call_n(self, cmd, args);
    int rc = reply && streq(reply, "ok") ? 0 : -1;
    zstr_free(&reply);
    return rc;
}

int
fake_broker_deliver(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                    uint32_t attempt)
{
    return s_deliver_call(self, "DELIVER", sub, topic, seq, attempt);
}

int
fake_broker_deliver_raw(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                        size_t event_len)
{
    return s_deliver_call(self, "DELIVER_RAW", sub, topic, seq, event_len);
}

int
fake_broker_deliver_run(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                        uint32_t count, uint32_t attempt, uint64_t skipped)
{
    char seq_text[32], count_text[32], attempt_text[32], skipped_text[32];
    snprintf(seq_text, sizeof seq_text, "%" PRIu64, seq);
    snprintf(count_text, sizeof count_text, "%" PRIu32, count);
    snprintf(attempt_text, sizeof attempt_text, "%" PRIu32, attempt);
    snprintf(skipped_text, sizeof skipped_text, "%" PRIu64, skipped);
    const char *const args[S_ARGS] = {sub, topic, seq_text, count_text, attempt_text, skipped_text};
    char *reply = s_call_n(self, "DELIVER_RUN", args);
    int rc = reply && streq(reply, "ok") ? 0 : -1;
    zstr_free(&reply);
    return rc;
}

int
fake_broker_deliver_junk(fake_broker_t *self, const char *sub)
{
    return s_call_ok(self, "DELIVER_JUNK", sub, NULL, NULL);
}

int
fake_broker_deliver_junk_run(fake_broker_t *self, const char *sub)
{
    return s_call_ok(self, "DELIVER_JUNK_RUN", sub, NULL, NULL);
}

int
fake_broker_delete(fake_broker_t *self, const char *sub)
{
    return s_call_ok(self, "DELETE", sub, NULL, NULL);
}

void
fake_broker_assert_log_ends(fake_broker_t *self, const char *suffix)
{
    char *log = fake_broker_log(self);
    assert_non_null(log);
    size_t len = strlen(log), slen = strlen(suffix);
    if (len < slen || strcmp(log + len - slen, suffix) != 0)
        fail_msg("log \"%s\" does not end with \"%s\"", log, suffix);
    zstr_free(&log);
}

void
fake_broker_must_restart(fake_broker_t *self)
{
    char *error = NULL;
    if (fake_broker_restart(self, &error) != 0)
        fail_msg("fake broker restart: %s", error ? error : "?");
}

int
fake_broker_setup(void **state_p)
{
    fake_broker_fixture_t *state = calloc(1, sizeof *state);
    assert_non_null(state);
    state->broker = fake_broker_new();
    assert_non_null(state->broker);
    *state_p = state;
    return 0;
}

int
fake_broker_teardown(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_destroy(&state->client);
    fake_broker_destroy(&state->broker);
    free(state);
    return 0;
}
