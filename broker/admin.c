/*  ob_server, requests (see server_int.h for the parts): the subscription and admin
    requests of PROTOCOL.md 12 and 13 after the checks of server.c. Here: SUBSCRIBE (a new
    durable one is answered by commit.c), UNSUBSCRIBE, SUB_REPOSITION, SUB_DELETE, and the
    results: TOPICS, SUBS, SUB_INFO, FETCH of one event and of a range. It reads the store
    (read transactions only) and asks subs.h; it sends through server.c. */
#include "server_int.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

/* OK {req, result, more} to rid, with an event frame if event. */
static void
s_send_ok(ob_srv_t *self, zmq_msg_t *rid, uint64_t req, const uint8_t *result, size_t result_len,
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
    ob_srv_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), msg, event ? &frame : NULL,
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
s_on_topics(ob_srv_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
{
    s_topics_t t;
    memset(&t, 0, sizeof t);
    t.cfg = &self->cfg;
    msgpack_sbuffer_init(&t.entries);
    msgpack_sbuffer_init(&t.one);
    int rc = ob_store_topics(self->store, msg->after, s_on_topic, &t);
    if (rc < 0 || rc == OB_ERR_STORAGE)
        ob_srv_send_error(self, rid, msg->req, rc, "TOPICS: %s", ob_strerror(rc));
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
s_on_fetch(ob_srv_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
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
        ob_srv_send_error(self, rid, msg->req, rc, "FETCH %s #%" PRIu64 ": %s", msg->topic,
                          msg->seq,
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
s_on_fetch_range(ob_srv_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg)
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
        ob_srv_send_error(self, rid, msg->req, rc, "FETCH %s #%" PRIu64 "+%" PRIu32 ": %s",
                          msg->topic, msg->seq, msg->count,
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
    ob_srv_send_to(self, zmq_msg_data(rid), zmq_msg_size(rid), ok, r->events, r->count);
    msgpack_sbuffer_destroy(&buf);
out:
    if (r)
        free(r->data);
    free(r);
}

/* Subscription and admin requests (PROTOCOL.md 12, 13). */
void
ob_srv_on_request(ob_srv_t *self, zmq_msg_t *rid, ob_srv_session_t *session,
                  const ob_wire_msg_t *msg, const ob_perms_client_t *client)
{
    const char *name = ob_command_name(msg->command);
    int rc = 0, created = 0, defer = 0, more = 0;
    size_t len = 0;
    char sub[OB_SUB_NAME_MAX + 1];
    ob_broker_metrics_request(self->metrics, msg->command);
    if (client) {
        char reason[OB_REASON_MAX + 1];
        if (ob_perms_check(client, msg, reason, sizeof reason)) {
            ob_srv_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
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
            ob_srv_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
            return;
        }
        if (rc == 0 && defer) {
            ob_srv_deferred_t *d = calloc(1, sizeof *d);
            if (!d || !zlistx_add_end(self->deferred, d)) {
                free(d);
                rc = -ENOMEM; /* the subscription exists: a retry attaches to it */
                break;
            }
            ob_srv_rid_key(rid, d->key);
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
            ob_srv_send(self, rid, reply);
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
        ob_srv_send_error(self, rid, msg->req, rc, "%s %s: %s", name, msg->sub, ob_strerror(rc));
    else
        s_send_ok(self, rid, msg->req, NULL, 0, 0, NULL, 0);
}
