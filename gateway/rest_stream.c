/*  ob_rest_streams: see rest_stream.h.

    Locking: self->lock guards the shared part of every stream (its state, buffer, flags and
    reference count) and the list of all streams; the thread's own table (streams, topics,
    positions) is touched by the thread alone, and the thread never holds the lock while it
    waits for the broker. Lock order: self->lock, then libmicrohttpd's own locks (suspend
    and resume are called under it). */
/* POLLRDHUP (Linux): a suspended stream's client that hung up is seen at once. */
#define _GNU_SOURCE
#include "rest_stream.h"

#include <czmq.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "orderbus/client.h"
#include "orderbus/error.h"
#include "rest.h"
#include "rest_parse.h"

#define S_CLIENT_NAME "orderbus-gateway-stream"
#define S_TYPE "text/event-stream"
#define S_KEEPALIVE ": keepalive\n\n"
#define S_ID_MAX (OB_GW_DECIMAL_MAX + 1) /* a seq in decimal, with its NUL */

typedef enum s_state {
    S_OPENING, /* suspended in the access handler: the thread finds the start */
    S_REFUSED, /* could not open: rc and message say why; resumed */
    S_OPEN,    /* streaming: the response is queued */
} s_state_t;

struct ob_rest_stream {
    ob_rest_streams_t *hub;                 /* the owner (outlives the stream) */
    struct MHD_Connection *conn;            /* valid while !closed */
    char topic[OB_TOPIC_MAX + 1];           /* the topic */
    char client[OB_GW_CLIENT_NAME_MAX + 1]; /* the token's client: rest_streams_max */
    uint64_t start;                         /* first seq asked for, 0 for new events only */
    /* under hub->lock */
    int refs;                         /* the request, the response, the thread */
    s_state_t state;                  /* see s_state_t */
    int rc;                           /* S_REFUSED: the refusal */
    char message[OB_GW_REST_ERR_MAX]; /* ... and its message */
    int suspended;                    /* 1: conn is suspended (resume it once) */
    int ended;                        /* 1: end once the buffer is sent */
    int closed;                       /* 1: the request completed: conn is gone */
    int full;                         /* 1: the thread waits for the buffer to drain */
    int taken;                        /* 1: in the thread's table */
    char *buf;                        /* text waiting for the reader, owned */
    size_t off;                       /* first byte not yet sent */
    size_t len;                       /* bytes waiting from off */
    size_t size;                      /* bytes allocated */
    ob_rest_stream_t *link;           /* hub->all */
    /* the thread's own */
    int fd;                  /* S_OPEN: the connection's socket (watched) */
    uint64_t next;           /* S_OPEN: next seq to send */
    int counted;             /* 1: counted in its topic's streams */
    int64_t written;         /* mono ms of the last text queued */
    ob_rest_stream_t *tnext; /* the thread's table */
};

/* A streamed topic, the thread's own. */
typedef struct s_topic {
    char name[OB_TOPIC_MAX + 1];   /* the topic */
    char sub[OB_SUB_NAME_MAX + 1]; /* its ephemeral subscription (broker-named) */
    uint64_t known;                /* the newest seq known to be stored */
    int refresh;                   /* 1: ask the broker for its last seq again */
    int lost;                      /* 1: the broker dropped its subscription: make again */
    size_t streams;                /* streams of it in the thread's table */
    struct s_topic *next;          /* the thread's list */
} s_topic_t;

struct ob_rest_streams {
    const ob_gw_config_t *cfg; /* borrowed */
    pthread_mutex_t lock;      /* see the top of the file */
    pthread_cond_t cond;       /* a stream closed */
    ob_rest_stream_t *all;     /* every stream not closed */
    int stop;                  /* 1: the thread ends; no new streams */
    int broken;                /* 1: the thread could not make its client */
    int started;               /* 1: the thread runs (joinable) */
    int wake[2];               /* a pipe: a byte wakes the thread */
    pthread_t thread;          /* the stream thread */
    /* the thread's own */
    ob_client_t *client;                   /* its broker client */
    char session[OB_WIRE_SESSION_MAX + 1]; /* the broker session last seen */
    ob_rest_stream_t *table;               /* the streams it serves (tnext), one reference each */
    size_t count;                          /* streams in table */
    struct pollfd *fds;                    /* the thread's wait: wake pipe, client, streams */
    size_t fd_size;                        /* entries allocated */
    s_topic_t *topics;                     /* streamed topics (next), owned */
    int64_t down_until;                    /* mono ms: no read before (the broker failed one) */
};

/* ---------------------------------------------------------------------------------------- */
/* Shared with libmicrohttpd's thread */

static void
s_wake(ob_rest_streams_t *self)
{
    char byte = 1;
    /* Full pipe: a wake is pending anyway. */
    if (write(self->wake[1], &byte, 1) < 0)
        return;
}

/* Drops a reference, under the lock; frees the stream at the last. */
static void
s_unref(ob_rest_stream_t *s)
{
    if (--s->refs)
        return;
    free(s->buf);
    free(s);
}

/* Marks s closed (its connection is gone), under the lock. */
static void
s_close_locked(ob_rest_stream_t *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    for (ob_rest_stream_t **p = &s->hub->all; *p; p = &(*p)->link)
        if (*p == s) {
            *p = s->link;
            break;
        }
    pthread_cond_broadcast(&s->hub->cond);
}

/* Resumes s's connection if it is suspended, under the lock. */
static void
s_resume_locked(ob_rest_stream_t *s)
{
    if (s->suspended && !s->closed) {
        s->suspended = 0;
        MHD_resume_connection(s->conn);
    }
}

/* libmicrohttpd's content reader: what is buffered, else suspends (nothing to send). */
static ssize_t
s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ob_rest_stream_t *s = cls;
    ob_rest_streams_t *self = s->hub;
    (void)pos;
    ssize_t n = 0;
    int wake = 0;
    pthread_mutex_lock(&self->lock);
    if (s->len) {
        size_t take = s->len < max ? s->len : max;
        memcpy(buf, s->buf + s->off, take);
        s->off += take;
        s->len -= take;
        if (!s->len)
            s->off = 0;
        n = (ssize_t)take;
        if (s->full && s->len <= OB_GW_STREAM_RESUME_BYTES) {
            s->full = 0;
            wake = 1;
        }
    } else if (s->ended)
        n = MHD_CONTENT_READER_END_OF_STREAM;
    else {
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&self->lock);
    if (wake)
        s_wake(self);
    return n;
}

/* Drops a reference of the connection's (the request's or the response's): the connection
   is done with. */
static void
s_drop(ob_rest_stream_t *s)
{
    ob_rest_streams_t *self = s->hub;
    pthread_mutex_lock(&self->lock);
    s_close_locked(s);
    s_unref(s);
    pthread_mutex_unlock(&self->lock);
    s_wake(self);
}

/* libmicrohttpd frees the response. */
static void
s_response_free(void *cls)
{
    s_drop(cls);
}

void
ob_rest_stream_release(ob_rest_stream_t **stream_p)
{
    if (!stream_p || !*stream_p)
        return;
    s_drop(*stream_p);
    *stream_p = NULL;
}

/* Reads a start: Last-Event-ID (resume after it) before from_seq. Returns 0 with the
   first seq in *ret_start (0: new events only) or OB_ERR_FIELD_TYPE with a message. */
static int
s_start(const char *last_event_id, const char *from_seq, uint64_t *ret_start, char *errbuf,
        size_t errlen)
{
    uint64_t value = 0;
    int rc = 0;
    if (last_event_id) {
        rc = ob_rest_parse_uint(last_event_id, "Last-Event-ID", 0, UINT64_MAX - 1, &value, errbuf,
                                errlen);
        value++;
    } else if (from_seq)
        rc = ob_rest_parse_uint(from_seq, "from_seq", 1, UINT64_MAX, &value, errbuf, errlen);
    if (!rc)
        *ret_start = value;
    return rc;
}

int
ob_rest_stream_open(ob_rest_streams_t *self, struct MHD_Connection *c, const char *topic,
                    const char *client, const char *last_event_id, const char *from_seq,
                    ob_rest_stream_t **ret_stream, uint32_t *ret_retry_after, char *errbuf,
                    size_t errlen)
{
    uint64_t start = 0;
    int rc = s_start(last_event_id, from_seq, &start, errbuf, errlen);
    if (rc)
        return rc;
    ob_rest_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->hub = self;
    s->conn = c;
    s->start = start;
    snprintf(s->topic, sizeof s->topic, "%s", topic);
    snprintf(s->client, sizeof s->client, "%s", client);
    pthread_mutex_lock(&self->lock);
    size_t mine = 0;
    for (ob_rest_stream_t *p = self->all; p; p = p->link)
        mine += !strcmp(p->client, client);
    if (self->stop || self->broken) {
        snprintf(errbuf, errlen, self->stop ? "the gateway is stopping" : "no broker client");
        rc = self->stop ? OB_ERR_SHUTDOWN : OB_ERR_BUSY;
    } else if (mine >= self->cfg->rest_streams_max) {
        snprintf(errbuf, errlen, "client %s has %zu streams open (rest_streams_max): retry later",
                 client, mine);
        *ret_retry_after = OB_GW_STREAM_RETRY_AFTER_S;
        rc = OB_ERR_LIMIT;
    }
    if (rc) {
        pthread_mutex_unlock(&self->lock);
        free(s);
        return rc;
    }
    s->refs = 2; /* the caller's, the thread's */
    s->state = S_OPENING;
    s->suspended = 1;
    MHD_suspend_connection(c);
    s->link = self->all;
    self->all = s;
    pthread_mutex_unlock(&self->lock);
    s_wake(self);
    *ret_stream = s;
    return 0;
}

enum MHD_Result
ob_rest_stream_answer(ob_rest_stream_t *stream, struct MHD_Connection *c, int *ret_rc, char *errbuf,
                      size_t errlen)
{
    ob_rest_streams_t *self = stream->hub;
    pthread_mutex_lock(&self->lock);
    int rc = stream->state == S_OPEN ? 0 : stream->rc;
    snprintf(errbuf, errlen, "%s", stream->message);
    pthread_mutex_unlock(&self->lock);
    *ret_rc = rc;
    if (rc)
        return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, OB_GW_STREAM_BLOCK,
                                                               s_read, stream, s_response_free);
    if (!r)
        return MHD_NO;
    pthread_mutex_lock(&self->lock);
    stream->refs++; /* the response's, dropped by s_response_free */
    pthread_mutex_unlock(&self->lock);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---------------------------------------------------------------------------------------- */
/* The stream thread */

/* Appends n bytes of text to s's buffer (under the lock) and resumes its connection. Returns
   0 or -ENOMEM. */
static int
s_append_locked(ob_rest_stream_t *s, const char *text, size_t n)
{
    if (s->off && s->off + s->len + n > s->size) {
        memmove(s->buf, s->buf + s->off, s->len);
        s->off = 0;
    }
    if (s->len + n > s->size) {
        size_t size = s->size ? s->size : OB_GW_STREAM_BLOCK;
        while (size < s->len + n)
            size *= 2;
        char *buf = realloc(s->buf, size);
        if (!buf)
            return -ENOMEM;
        s->buf = buf;
        s->size = size;
    }
    memcpy(s->buf + s->off + s->len, text, n);
    s->len += n;
    s_resume_locked(s);
    return 0;
}

/* Appends text (NUL-terminated) to s. Returns 0 or -ENOMEM. */
static int
s_append(ob_rest_streams_t *self, ob_rest_stream_t *s, const char *text)
{
    pthread_mutex_lock(&self->lock);
    int rc = s_append_locked(s, text, strlen(text));
    pthread_mutex_unlock(&self->lock);
    s->written = zclock_mono();
    return rc;
}

/* Ends s after text (a comment saying why; NULL for none). */
static void
s_end(ob_rest_streams_t *self, ob_rest_stream_t *s, const char *text)
{
    pthread_mutex_lock(&self->lock);
    if (text)
        s_append_locked(s, text, strlen(text));
    s->ended = 1;
    s_resume_locked(s);
    pthread_mutex_unlock(&self->lock);
}

/* The topic named name in the thread's list, or NULL. */
static s_topic_t *
s_topic_find(ob_rest_streams_t *self, const char *name)
{
    for (s_topic_t *t = self->topics; t; t = t->next)
        if (!strcmp(t->name, name))
            return t;
    return NULL;
}

/* Makes t's ephemeral subscription (pattern = the topic, from its end). Returns 0 or the
   client's error. */
static int
s_subscribe(ob_rest_streams_t *self, s_topic_t *t)
{
    const char *patterns[] = {t->name};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_NEW};
    int rc = ob_client_subscribe(self->client, NULL, &opts, t->sub, NULL);
    if (!rc)
        t->lost = 0;
    return rc;
}

/* The topic of name, subscribed (ephemeral, pattern = the topic) if new. Returns 0 with it in
 *ret_topic, or the client's error. */
static int
s_topic_get(ob_rest_streams_t *self, const char *name, s_topic_t **ret_topic)
{
    s_topic_t *t = s_topic_find(self, name);
    if (t) {
        *ret_topic = t;
        return 0;
    }
    if (!(t = calloc(1, sizeof *t)))
        return -ENOMEM;
    snprintf(t->name, sizeof t->name, "%s", name);
    int rc = s_subscribe(self, t);
    if (rc) {
        free(t);
        return rc;
    }
    t->next = self->topics;
    self->topics = t;
    *ret_topic = t;
    return 0;
}

/* Asks the broker for t's last seq into t->known. Returns 0 or the client's error. */
static int
s_probe(ob_rest_streams_t *self, s_topic_t *t)
{
    ob_fetch_t *range = NULL;
    int rc = ob_client_fetch(self->client, t->name, 1, 0, 1, &range);
    if (rc == OB_ERR_NO_SUCH_TOPIC)
        return 0; /* nothing stored yet: known stays */
    if (rc)
        return rc;
    if (range->last_seq > t->known)
        t->known = range->last_seq;
    ob_fetch_destroy(&range);
    return 0;
}

/* A broker call failed with rc: a timeout puts reads off for a while and every topic's
   last seq is asked again then. */
static void
s_broker_failed(ob_rest_streams_t *self, int rc)
{
    if (rc != OB_ERR_TIMEOUT && rc != -EINTR)
        return;
    self->down_until = zclock_mono() + OB_GW_STREAM_RETRY_MS;
    for (s_topic_t *t = self->topics; t; t = t->next)
        t->refresh = 1;
}

/* Sets up a stream that is opening: its topic, its start. Answers it (resumes). */
static void
s_open(ob_rest_streams_t *self, ob_rest_stream_t *s)
{
    char message[OB_GW_REST_ERR_MAX] = "";
    s_topic_t *t = NULL;
    int rc = s_topic_get(self, s->topic, &t);
    if (!rc)
        rc = s_probe(self, t);
    if (!rc && s->start > t->known + 1) {
        snprintf(message, sizeof message,
                 "start %" PRIu64 " is beyond the topic's last seq %" PRIu64 " + 1", s->start,
                 t->known);
        rc = OB_ERR_INVALID_ARGUMENT;
    }
    if (rc == OB_ERR_TIMEOUT || rc == -EINTR) {
        s_broker_failed(self, rc);
        snprintf(message, sizeof message, "the broker did not answer: retry");
        rc = OB_ERR_BUSY;
    }
    if (t && !rc) {
        t->streams++;
        s->counted = 1;
    }
    s->next = s->start ? s->start : t ? t->known + 1 : 1;
    char text[OB_TOPIC_MAX + 64];
    snprintf(text, sizeof text, ": orderbus stream of %s from seq %" PRIu64 "\n\n", s->topic,
             s->next);
    pthread_mutex_lock(&self->lock);
    if (s->state == S_OPENING) { /* else ob_rest_streams_close answered it */
        if (rc) {
            s->state = S_REFUSED;
            s->rc = rc;
            snprintf(s->message, sizeof s->message, "%s",
                     message[0] ? message : ob_rest_strerror(rc));
        } else {
            const union MHD_ConnectionInfo *info =
                MHD_get_connection_info(s->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
            s->fd = info ? info->connect_fd : -1;
            s->state = S_OPEN;
            s_append_locked(s, text, strlen(text));
        }
        s_resume_locked(s);
    }
    pthread_mutex_unlock(&self->lock);
    s->written = zclock_mono();
}

/* The SSE event of f (its JSON on one line), a string the caller frees, or NULL (no
   memory, an event that does not decode). */
static char *
s_event_text(const ob_fetched_t *f)
{
    json_t *root = ob_rest_stored_json(f);
    const char *type = json_string_value(json_object_get(json_object_get(root, "event"), "type"));
    char *data = root ? json_dumps(root, JSON_COMPACT) : NULL;
    char *text = NULL;
    if (type && data) {
        size_t n = strlen(data) + strlen(type) + S_ID_MAX + sizeof "id: \nevent: \ndata: \n\n";
        if ((text = malloc(n)))
            snprintf(text, n, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", f->seq, type, data);
    }
    free(data);
    json_decref(root);
    return text;
}

/* Reads the next range of s, if it has room, into its buffer. Returns 1 if it asked the
   broker, else 0. */
static int
s_pump(ob_rest_streams_t *self, ob_rest_stream_t *s, s_topic_t *t)
{
    if (s->next > t->known)
        return 0;
    pthread_mutex_lock(&self->lock);
    int room = !s->ended && s->len <= OB_GW_STREAM_RESUME_BYTES;
    s->full = !room;
    pthread_mutex_unlock(&self->lock);
    if (!room)
        return 0;
    ob_fetch_t *range = NULL;
    int rc = ob_client_fetch(self->client, t->name, s->next, 0, OB_FETCH_RANGE_MAX, &range);
    if (rc == OB_ERR_TIMEOUT || rc == -EINTR) {
        s_broker_failed(self, rc);
        return 1;
    }
    if (rc) {
        char text[OB_GW_REST_ERR_MAX];
        snprintf(text, sizeof text,
                 ": the stream ends: the broker refused to read seq %" PRIu64 ": %s\n\n", s->next,
                 ob_strerror(rc));
        s_end(self, s, text);
        return 1;
    }
    if (range->last_seq > t->known)
        t->known = range->last_seq;
    uint64_t first = range->count ? range->events[0].seq : range->next;
    if (first > s->next) { /* retention removed s->next..first - 1 */
        char text[2 * S_ID_MAX + 96];
        snprintf(text, sizeof text,
                 "id: %" PRIu64 "\nevent: skipped\ndata: {\"from_seq\":%" PRIu64
                 ",\"to_seq\":%" PRIu64 "}\n\n",
                 first - 1, s->next, first - 1);
        if (s_append(self, s, text))
            goto out;
        s->next = first;
    }
    for (size_t i = 0; i < range->count; i++) {
        char *text = s_event_text(&range->events[i]);
        if (!text) { /* reading it again would fail again: the client may resume */
            char why[OB_GW_REST_ERR_MAX];
            snprintf(why, sizeof why,
                     ": the stream ends: event %" PRIu64 " cannot be written (no memory)\n\n",
                     range->events[i].seq);
            s_end(self, s, why);
            break;
        }
        size_t n = strlen(text);
        pthread_mutex_lock(&self->lock);
        int fits = !s->len || s->len + n <= OB_GW_STREAM_BUFFER_MAX;
        int bad = fits ? s_append_locked(s, text, n) : 0;
        pthread_mutex_unlock(&self->lock);
        free(text);
        if (!fits || bad)
            break;
        s->written = zclock_mono();
        s->next = range->events[i].seq + 1;
    }
out:
    ob_fetch_destroy(&range);
    return 1;
}

/* Takes every delivery that has arrived: acks it and notes its seq. Returns 1 if any. */
static int
s_receive(ob_rest_streams_t *self)
{
    int any = 0;
    ob_delivery_t *d = NULL;
    int rc;
    while ((rc = ob_client_receive(self->client, 0, &d)) != OB_ERR_TIMEOUT) {
        if (rc == OB_ERR_CLOSED || rc == -EINTR)
            break;
        any = 1;
        if (rc) { /* a subscription the broker dropped: made again (s_turn) */
            for (s_topic_t *t = self->topics; t; t = t->next)
                if (!strcmp(t->sub, ob_client_lost_sub(self->client)))
                    t->lost = 1;
            continue;
        }
        ob_client_ack(self->client, d);
        s_topic_t *t = s_topic_find(self, d->topic);
        if (t) {
            if (d->seq > t->known)
                t->known = d->seq;
            snprintf(t->sub, sizeof t->sub, "%s", d->sub); /* renamed in a new session */
        }
        ob_delivery_destroy(&d);
    }
    const char *session = ob_client_session(self->client);
    if (strcmp(session, self->session)) {
        snprintf(self->session, sizeof self->session, "%s", session);
        for (s_topic_t *t = self->topics; t; t = t->next)
            t->refresh = 1;
    }
    return any;
}

/* Takes the streams that opened into the table, drops the closed ones and the topics that
   no stream reads any more. Returns 1 if it called the broker. */
static int
s_table(ob_rest_streams_t *self)
{
    pthread_mutex_lock(&self->lock);
    for (ob_rest_stream_t *p = self->all; p; p = p->link)
        if (!p->taken) {
            p->taken = 1;
            p->tnext = self->table;
            self->table = p;
            self->count++;
        }
    for (ob_rest_stream_t **p = &self->table; *p;) {
        ob_rest_stream_t *s = *p;
        if (!s->closed && s->state != S_REFUSED) {
            p = &s->tnext;
            continue;
        }
        s_topic_t *t = s->counted ? s_topic_find(self, s->topic) : NULL;
        if (t)
            t->streams--;
        *p = s->tnext;
        self->count--;
        s_unref(s);
    }
    pthread_mutex_unlock(&self->lock);
    int called = 0;
    for (s_topic_t **p = &self->topics; *p;) {
        s_topic_t *t = *p;
        int used = t->streams > 0;
        for (ob_rest_stream_t *s = self->table; !used && s; s = s->tnext)
            used = !strcmp(s->topic, t->name);
        if (used) {
            p = &t->next;
            continue;
        }
        ob_client_unsubscribe(self->client, t->sub);
        called = 1;
        *p = t->next;
        free(t);
    }
    return called;
}

/* One turn of the thread's work. Returns 1 if it did something (look again before
   waiting), else 0 with the ms to wait at most in *ret_wait. */
static int
s_turn(ob_rest_streams_t *self, int *ret_wait)
{
    int work = s_table(self);
    for (ob_rest_stream_t *s = self->table; s; s = s->tnext) {
        pthread_mutex_lock(&self->lock);
        int opening = s->state == S_OPENING;
        pthread_mutex_unlock(&self->lock);
        if (opening) {
            s_open(self, s);
            work = 1;
        }
    }
    work |= s_receive(self);
    int64_t now = zclock_mono();
    int wait = OB_GW_STREAM_TICK_MS;
    if (self->down_until > now) {
        *ret_wait = (int)(self->down_until - now) < wait ? (int)(self->down_until - now) : wait;
        return work;
    }
    for (s_topic_t *t = self->topics; t; t = t->next) {
        if (!t->refresh && !t->lost)
            continue;
        int rc = t->lost ? s_subscribe(self, t) : 0;
        if (!rc)
            rc = s_probe(self, t);
        work = 1;
        if (rc) {
            s_broker_failed(self, rc);
            return work;
        }
        t->refresh = 0;
    }
    for (ob_rest_stream_t *s = self->table; s && self->down_until <= now; s = s->tnext) {
        pthread_mutex_lock(&self->lock);
        int open = s->state == S_OPEN && !s->closed;
        pthread_mutex_unlock(&self->lock);
        s_topic_t *t = open ? s_topic_find(self, s->topic) : NULL;
        if (t)
            work |= s_pump(self, s, t);
    }
    now = zclock_mono();
    for (ob_rest_stream_t *s = self->table; s; s = s->tnext) {
        pthread_mutex_lock(&self->lock);
        int open = s->state == S_OPEN && !s->closed && !s->ended;
        pthread_mutex_unlock(&self->lock);
        if (!open)
            continue;
        int64_t due = s->written + OB_GW_STREAM_KEEPALIVE_MS;
        if (due <= now) {
            s_append(self, s, S_KEEPALIVE);
            due = now + OB_GW_STREAM_KEEPALIVE_MS;
        }
        if (due - now < wait)
            wait = (int)(due - now);
    }
    *ret_wait = wait;
    return work;
}

/* Waits up to wait ms (0: only looks) for the wake pipe, the client's socket, or a client
   of a suspended stream hanging up (libmicrohttpd does not watch suspended connections):
   such a stream is ended, so that its connection completes and frees its place. */
static void
s_wait(ob_rest_streams_t *self, int wait)
{
    size_t n = self->count + 2;
    if (n > self->fd_size) {
        struct pollfd *fds = realloc(self->fds, n * sizeof *fds);
        if (!fds)
            n = 2; /* no memory: the streams' sockets are not watched this time */
        else {
            self->fds = fds;
            self->fd_size = n;
        }
    }
    struct pollfd *fds = self->fds;
    fds[0] = (struct pollfd){.fd = self->wake[0], .events = POLLIN};
    /* The client's fd is edge-triggered: s_turn ended with a receive that found nothing,
       or it did something and wait is 0. */
    fds[1] = (struct pollfd){.fd = ob_client_fd(self->client), .events = POLLIN};
    size_t i = 2;
    pthread_mutex_lock(&self->lock);
    for (ob_rest_stream_t *s = self->table; s && i < n; s = s->tnext) {
        int watch = s->state == S_OPEN && s->suspended && !s->closed && s->fd >= 0;
        fds[i++] = (struct pollfd){.fd = watch ? s->fd : -1, .events = POLLRDHUP};
    }
    pthread_mutex_unlock(&self->lock);
    if (poll(fds, n, wait) > 0 && n > 2) {
        pthread_mutex_lock(&self->lock);
        i = 2;
        for (ob_rest_stream_t *s = self->table; s && i < n; s = s->tnext)
            /* Still suspended, so still its socket (the table did not change meanwhile). */
            if (fds[i++].revents && s->suspended && !s->closed) {
                s->ended = 1;
                s_resume_locked(s);
            }
        pthread_mutex_unlock(&self->lock);
    }
    char drain[OB_GW_STREAM_DRAIN];
    while (read(self->wake[0], drain, sizeof drain) > 0)
        ;
}

static void *
s_thread(void *arg)
{
    ob_rest_streams_t *self = arg;
    const ob_gw_config_t *cfg = self->cfg;
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .timeout_ms = OB_GW_REST_BROKER_MS,
                             .cert = cfg->cert[0] ? cfg->cert : NULL,
                             .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL};
    /* The REST thread made a client of the same settings: this one fails only without
       memory, and then every stream is answered 503. */
    self->client = ob_client_new(cfg->endpoint, &cc);
    pthread_mutex_lock(&self->lock);
    self->broken = !self->client;
    int stop = self->stop;
    pthread_mutex_unlock(&self->lock);
    while (self->client && !stop) {
        int wait = 0;
        if (s_turn(self, &wait))
            wait = 0;
        s_wait(self, wait);
        pthread_mutex_lock(&self->lock);
        stop = self->stop;
        pthread_mutex_unlock(&self->lock);
    }
    /* Stopped: drop the table (ob_rest_streams_close has ended every stream). */
    pthread_mutex_lock(&self->lock);
    while (self->table) {
        ob_rest_stream_t *s = self->table;
        self->table = s->tnext;
        s_unref(s);
    }
    self->count = 0;
    pthread_mutex_unlock(&self->lock);
    while (self->topics) {
        s_topic_t *t = self->topics;
        self->topics = t->next;
        free(t);
    }
    ob_client_destroy(&self->client);
    return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Life */

ob_rest_streams_t *
ob_rest_streams_new(const ob_gw_config_t *cfg, char *errbuf, size_t errlen)
{
    ob_rest_streams_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->wake[0] = self->wake[1] = -1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    if (pipe(self->wake) || fcntl(self->wake[0], F_SETFL, O_NONBLOCK) ||
        fcntl(self->wake[1], F_SETFL, O_NONBLOCK) || fcntl(self->wake[0], F_SETFD, FD_CLOEXEC) ||
        fcntl(self->wake[1], F_SETFD, FD_CLOEXEC)) {
        snprintf(errbuf, errlen, "REST streams: cannot make a pipe");
        goto fail;
    }
    if (pthread_create(&self->thread, NULL, s_thread, self)) {
        snprintf(errbuf, errlen, "REST streams: cannot start its thread");
        goto fail;
    }
    self->started = 1;
    return self;
fail:
    ob_rest_streams_destroy(&self);
    return NULL;
}

void
ob_rest_streams_close(ob_rest_streams_t *self)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    for (ob_rest_stream_t *s = self->all; s; s = s->link) {
        if (s->state == S_OPENING) {
            s->state = S_REFUSED;
            s->rc = OB_ERR_SHUTDOWN;
            snprintf(s->message, sizeof s->message, "the gateway is stopping");
        }
        s->ended = 1;
        s_resume_locked(s);
    }
    /* Each connection sends what it holds and its end (the last chunk: a clean end for the
       client), unless its reader is too slow for OB_GW_STREAM_STOP_MS. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)(OB_GW_STREAM_STOP_MS % 1000) * 1000000L;
    until.tv_sec += OB_GW_STREAM_STOP_MS / 1000 + ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    while (self->all && !pthread_cond_timedwait(&self->cond, &self->lock, &until))
        ;
    pthread_mutex_unlock(&self->lock);
    if (self->started) {
        s_wake(self);
        pthread_join(self->thread, NULL);
        self->started = 0;
    }
}

void
ob_rest_streams_destroy(ob_rest_streams_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_rest_streams_t *self = *self_p;
    ob_rest_streams_close(self);
    ob_client_destroy(&self->client);
    free(self->fds);
    for (int i = 0; i < 2; i++)
        if (self->wake[i] >= 0)
            close(self->wake[i]);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
