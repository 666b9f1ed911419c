/*  ob_rest: see rest.h. */
#include "rest.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "command.h"
#include "facade_write.h"
#include "openapi_doc.h"
#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"
#include "orderbus/result_json.h"
#include "rate_limit.h"
#include "rest_parse.h"
#include "rest_stream.h"
#include "rest_subs.h"
#include "tokens.h"

#define S_JSON "application/json"
#define S_MP_JSON "application/json; charset=utf-8" /* the facade's, as Rails sends it */
#define S_V1 "/v1/"
#define S_DOC_PATH "openapi.json"
#define S_TOPICS "topics/"
#define S_TOPIC_LIST "topics"
#define S_OMS "oms/"
#define S_EVENTS "/events"
#define S_BATCH "/batch"
#define S_COMMANDS "/commands"
#define S_STREAM_PATH "/stream"
#define S_MP_PREFIX "mp."
#define S_OMS_PREFIX "oms."
#define S_REALM "Bearer realm=\"orderbus-gateway\""
#define S_ALLOW_GET "GET"
#define S_ALLOW_POST "POST"
#define S_CLIENT_NAME "orderbus-gateway-rest"
/* bytes of one publish result but its id and topic, with room: {"id":"","topic":"",
   "seq":<20 digits>,"dup":false}, and a comma */
#define S_RESULT_FIXED 64

typedef enum s_kind {
    S_PUBLISH, /* one event, a batch or a command: events to publish */
    S_READ,    /* a range of a topic */
    S_EVENT,   /* one stored event */
    S_LIST,    /* the topics the client may read, a page of the broker's TOPICS */
    S_DOC,     /* the OpenAPI document: answered in libmicrohttpd's thread */
    S_STREAM,  /* a topic's events as Server-Sent Events (rest_stream.h) */
    S_SUBS,    /* an HTTP subscription route (rest_subs.h) */
} s_kind_t;

struct ob_rest_job {
    struct MHD_Connection *conn;            /* suspended until the answer is ready */
    s_kind_t kind;                          /* what to do */
    int command;                            /* 1: a command (answered 202) */
    int facade;                             /* 1: a facade write (Marketplace answers) */
    int batch_route;                        /* 1: a batch (answered with results) */
    char topic[OB_TOPIC_MAX + 1];           /* the topic */
    ob_rest_batch_t *batch;                 /* S_PUBLISH: the encoded events, owned until sent */
    char *ids;                              /* S_PUBLISH: the events' ids back to back, owned */
    size_t *id_ends;                        /* ... where each ends in ids (batch->count), owned */
    ob_confirm_t *confirms;                 /* S_PUBLISH: one per event, filled as they come */
    size_t confirmed;                       /* confirms filled */
    int64_t deadline;                       /* S_PUBLISH: monotonic ms when it is answered 503 */
    ob_rest_read_t read;                    /* S_READ, S_EVENT (from_seq, limit 1) */
    ob_rest_stream_t *stream;               /* S_STREAM: the stream, a reference */
    ob_rest_subs_req_t *sub;                /* S_SUBS: the request, owned */
    char client[OB_GW_CLIENT_NAME_MAX + 1]; /* S_LIST: the token's client */
    char after[OB_TOPIC_MAX + 1];           /* S_LIST: list after this name ("": first) */
    uint32_t wait_ms;                       /* a command's wait for its outcome; 0: none */
    uint64_t oms_id;                        /* a command's OMS */
    char command_id[OB_GW_COMMAND_ID_MAX + 1]; /* a command's id */
    char outcome_id[OB_GW_EVENT_ID_TEXT];      /* waiting: its outcome's event id */
    uint64_t outcome_time;                     /* waiting: the command's stored time (µs) */
    uint64_t outcome_next;                     /* waiting: next seq of oms.<id>; 0: by time */
    int64_t wait_until;                        /* waiting: monotonic ms of the 504 */
    int64_t next_look;                         /* waiting: monotonic ms of the next look */
    int64_t look_gap;                          /* waiting: ms from this look to the next */
    unsigned status;                           /* the answer: HTTP status */
    char *body;                                /* ... and its JSON body, owned */
    ob_rest_job_t *next;                       /* queue link */
};

/* A publish in flight: the job and event index its confirm goes to. */
typedef struct s_pending {
    uint64_t token;     /* ob_client_publish_async's */
    ob_rest_job_t *job; /* NULL once the job was answered without it */
    size_t index;       /* the event's index in the job */
} s_pending_t;

struct ob_rest {
    const ob_gw_config_t *cfg;           /* borrowed */
    ob_gw_store_t *store;                /* borrowed: HTTP subscription owners */
    uint8_t key[OB_GW_HANDLE_KEY_BYTES]; /* delivery handles' key (fixed at start) */
    ob_gw_stats_t *stats;                /* borrowed */
    int on;                /* 1: a tokens file (fixed at start; read without the lock) */
    pthread_mutex_t lock;  /* guards everything below but the thread's own */
    pthread_cond_t wake;   /* the thread has started (ready) */
    int wake_fd;           /* eventfd the thread polls: a job queued, or stop; -1 before */
    ob_tokens_t *tokens;   /* the table, or NULL: REST off */
    ob_rate_limit_t *rate; /* per client */
    ob_rest_job_t *head;   /* jobs queued for the thread */
    ob_rest_job_t *tail;   /* ... the last */
    int stop;              /* 1: the thread ends; no new jobs */
    int ready;             /* 0 while the thread starts, 1 with its client, -1 without */
    int started;           /* 1: thread runs (joinable) */
    pthread_t thread;      /* the REST thread */
    /* the stream thread (rest_stream.h) */
    ob_rest_streams_t *streams; /* its own lock; made and closed with the REST thread */
    /* the thread's own */
    ob_client_t *client;   /* its broker client */
    ob_rest_subs_t *subs;  /* HTTP subscriptions */
    s_pending_t *pending;  /* publishes in flight, in the order sent */
    size_t pending_head;   /* entries before it are confirmed (taken from the front) */
    size_t pending_count;  /* entries used, the taken ones included */
    size_t pending_size;   /* entries allocated */
    ob_rest_job_t **jobs;  /* publish jobs waiting for confirms */
    size_t job_count;      /* used */
    size_t job_size;       /* allocated */
    ob_rest_job_t **waits; /* confirmed commands waiting for their outcomes */
    size_t wait_count;     /* used */
    size_t wait_size;      /* allocated */
};

/* ---------------------------------------------------------------------------------------- */
/* Answers */

/* A JSON answer's response (body: owned, freed here; NULL: no memory), or NULL. */
static struct MHD_Response *
s_response(unsigned status, char *body, uint32_t retry_after)
{
    if (!body)
        return NULL;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return NULL;
    }
    if (status != MHD_HTTP_NO_CONTENT)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_JSON);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, S_REALM);
    if (retry_after) {
        char text[16];
        snprintf(text, sizeof text, "%" PRIu32, retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, text);
    }
    return r;
}

/* Queues r (NULL: no memory; destroyed here) with status, counted for endpoint. */
static enum MHD_Result
s_send_as(ob_rest_t *self, struct MHD_Connection *c, const char *endpoint, unsigned status,
          struct MHD_Response *r)
{
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    char code[8];
    snprintf(code, sizeof code, "%u", status);
    ob_gw_stats_inc(self->stats->http, endpoint, code);
    return ret;
}

/* Queues r (NULL: no memory; destroyed here) with status. */
static enum MHD_Result
s_send(ob_rest_t *self, struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
    return s_send_as(self, c, "rest", status, r);
}

/* Queues a JSON answer (body: owned, freed here; NULL: no memory). */
static enum MHD_Result
s_queue(ob_rest_t *self, struct MHD_Connection *c, unsigned status, char *body,
        uint32_t retry_after)
{
    return s_send(self, c, status, s_response(status, body, retry_after));
}

/* Queues the error answer of rc with message (borrowed; NULL for the code's text). */
static enum MHD_Result
s_error(ob_rest_t *self, struct MHD_Connection *c, int rc, const char *message)
{
    return s_queue(self, c, (unsigned)ob_rest_status(rc), ob_rest_error_json(rc, message), 0);
}

static enum MHD_Result s_facade_error(ob_rest_t *self, struct MHD_Connection *c, unsigned status,
                                      const char *text, uint32_t retry_after);

/* Sets job's answer to the error of rc with message. */
static void
s_job_error(ob_rest_job_t *job, int rc, const char *message)
{
    free(job->body);
    job->body = NULL;
    job->status = (unsigned)ob_rest_status(rc);
    if (!job->facade) {
        job->body = ob_rest_error_json(rc, message);
        return;
    }
    ob_fw_answer_t a = {0}; /* the Marketplace's error shape */
    if (!ob_fw_error(job->status, message ? message : ob_strerror(rc), &a))
        job->body = a.body;
}

/* Sets a facade write's answer to a (its body taken), or to a 500 if rc says no memory. */
static void
s_job_facade(ob_rest_job_t *job, int rc, ob_fw_answer_t *a)
{
    if (rc) {
        s_job_error(job, rc, NULL);
        return;
    }
    free(job->body);
    job->status = a->status;
    job->body = a->body;
    a->body = NULL;
}

/* Sets a facade write's answer to 202: the command stands, its outcome comes later. */
static void
s_job_accepted(ob_rest_job_t *job)
{
    ob_fw_answer_t a = {0};
    s_job_facade(job, ob_fw_accepted(job->oms_id, job->command_id, &a), &a);
}

/* Sets job's answer to root (a reference taken) with status. */
static void
s_job_json(ob_rest_job_t *job, unsigned status, json_t *root)
{
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text) {
        s_job_error(job, -ENOMEM, NULL);
        return;
    }
    free(job->body);
    job->status = status;
    job->body = text;
}

void
ob_rest_job_destroy(ob_rest_job_t **job_p)
{
    if (!job_p || !*job_p)
        return;
    ob_rest_job_t *job = *job_p;
    ob_rest_batch_destroy(&job->batch);
    ob_rest_stream_release(&job->stream);
    ob_rest_subs_req_destroy(&job->sub);
    free(job->ids);
    free(job->id_ends);
    free(job->confirms);
    free(job->body);
    free(job);
    *job_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* The REST thread */

/* Hands job's answer to its connection; the thread forgets the job. */
static void
s_finish(ob_rest_job_t *job)
{
    if (!job->body) {
        job->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        job->body = ob_rest_error_json(-ENOMEM, NULL);
    }
    MHD_resume_connection(job->conn);
}

/* ob_rest_subs_done_fn: an HTTP subscription request's answer. */
static void
s_subs_done(void *arg, unsigned status, char *body)
{
    ob_rest_job_t *job = arg;
    free(job->body);
    job->status = status;
    job->body = body;
    s_finish(job);
}

/* ob_rest_subs_may_fn: may client subscribe with pattern under the current tokens. */
static int
s_subs_may(void *arg, const char *client, const char *pattern)
{
    ob_rest_t *self = arg;
    pthread_mutex_lock(&self->lock);
    const ob_tokens_client_t *c = ob_tokens_find(self->tokens, client);
    int ok = c && ob_tokens_may_subscribe(c, pattern, strlen(pattern));
    pthread_mutex_unlock(&self->lock);
    return ok;
}

/* The JSON of one encoded event (borrowed), or NULL. */
static json_t *
s_event_json(const uint8_t *frame, size_t len)
{
    ob_event_t *ev = NULL;
    char *text = NULL;
    json_t *out = NULL;
    if (ob_event_decode(frame, len, &ev) == 0 && ob_event_to_json(ev, &text) == 0)
        out = json_loads(text, 0, NULL);
    free(text);
    ob_event_destroy(&ev);
    return out;
}

json_t *
ob_rest_stored_json(const ob_fetched_t *f)
{
    char time[OB_TIME_TEXT_MAX];
    json_t *event = s_event_json(f->event, f->event_len);
    if (!event || ob_time_format(f->time_us, time)) {
        json_decref(event);
        return NULL;
    }
    return json_pack("{s:I, s:s, s:o}", "seq", (json_int_t)f->seq, "time", time, "event", event);
}

/* Serves a read or one event: a synchronous FETCH. */
static void
s_serve_read(ob_rest_t *self, ob_rest_job_t *job)
{
    ob_fetch_t *range = NULL;
    int rc = ob_client_fetch(self->client, job->topic, job->read.from_seq, job->read.from_time,
                             job->read.limit, &range);
    if (rc == OB_ERR_TIMEOUT || rc == -EINTR) {
        s_job_error(job, OB_ERR_BUSY, "the broker did not answer: retry");
        return;
    }
    if (rc == OB_ERR_INVALID_ARGUMENT && job->kind == S_EVENT)
        rc = OB_GW_ERR_NOT_FOUND; /* a seq beyond the topic's end */
    if (rc) {
        s_job_error(job, rc, rc == OB_GW_ERR_NOT_FOUND ? "no such event" : NULL);
        return;
    }
    if (job->kind == S_EVENT) {
        if (range->count == 0 || range->events[0].seq != job->read.from_seq)
            s_job_error(job, OB_GW_ERR_NOT_FOUND, "no such event (never stored, or removed)");
        else
            s_job_json(job, MHD_HTTP_OK, ob_rest_stored_json(&range->events[0]));
        ob_fetch_destroy(&range);
        return;
    }
    json_t *events = json_array();
    for (size_t i = 0; events && i < range->count; i++) {
        json_t *one = ob_rest_stored_json(&range->events[i]);
        if (!one || json_array_append_new(events, one)) {
            json_decref(events);
            events = NULL;
        }
    }
    json_t *root =
        events ? json_pack("{s:s, s:o, s:I, s:I}", "topic", range->topic, "events", events, "next",
                           (json_int_t)range->next, "last_seq", (json_int_t)range->last_seq)
               : NULL;
    ob_fetch_destroy(&range);
    s_job_json(job, MHD_HTTP_OK, root);
}

/* Keeps in topics (a JSON array of the broker's TOPICS entries) those client may read, by
   its name in the current tokens table (none if it is no longer there). */
static void
s_topics_filter(ob_rest_t *self, const char *name, json_t *topics)
{
    pthread_mutex_lock(&self->lock);
    const ob_tokens_client_t *client = ob_tokens_find(self->tokens, name);
    for (size_t i = 0; i < json_array_size(topics);) {
        const char *topic = json_string_value(json_object_get(json_array_get(topics, i), "name"));
        if (client && topic && ob_tokens_may_read(client, topic, strlen(topic)))
            i++;
        else
            json_array_remove(topics, i);
    }
    pthread_mutex_unlock(&self->lock);
}

/* Serves GET /v1/topics: one page of the broker's TOPICS (after job->after), the topics the
   client may read kept. "after" names the last topic of the page (also one the client may
   not read), for the next page, when the broker said there are more. */
static void
s_serve_topics(ob_rest_t *self, ob_rest_job_t *job)
{
    ob_wire_msg_t req = {.command = OB_CMD_TOPICS};
    memcpy(req.after, job->after, sizeof req.after);
    uint8_t *result = NULL;
    size_t result_len = 0;
    int more = 0;
    char *text = NULL;
    int rc = ob_client_request(self->client, &req, &result, &result_len, &more, NULL, NULL);
    if (rc == OB_ERR_TIMEOUT || rc == -EINTR) {
        s_job_error(job, OB_ERR_BUSY, "the broker did not answer: retry");
        return;
    }
    if (!rc && result)
        rc = ob_result_to_json(result, result_len, &text);
    free(result);
    json_t *topics = rc ? NULL : text ? json_loads(text, 0, NULL) : json_array();
    free(text);
    if (rc || !json_is_array(topics)) {
        json_decref(topics);
        s_job_error(job, rc ? rc : OB_ERR_MALFORMED, "the broker's topic list does not read");
        return;
    }
    const char *last = json_string_value(
        json_object_get(json_array_get(topics, json_array_size(topics) - 1), "name"));
    json_t *after = more && last ? json_string(last) : json_null();
    s_topics_filter(self, job->client, topics);
    s_job_json(job, MHD_HTTP_OK,
               json_pack("{s:o, s:b, s:o}", "topics", topics, "more", more, "after", after));
}

/* Writes text (len bytes of UTF-8, borrowed) at w as the content of a JSON string: '"',
   '\\' and control characters escaped (these as \u00XX), every other byte as it is; at most
   6 * len bytes. Returns the end of what it wrote. */
static char *
s_json_escape(char *w, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            w += sprintf(w, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
        } else
            *w++ = (char)c;
    }
    return w;
}

/* Sets a publish job's answer from its confirms (all in). */
static void
s_publish_answer(ob_rest_job_t *job)
{
    ob_rest_batch_t *b = job->batch;
    for (size_t i = 0; i < b->count; i++)
        if (job->confirms[i].rc) {
            char message[OB_GW_REST_ERR_MAX];
            snprintf(message, sizeof message, "event %zu: the broker refused it: %s", i + 1,
                     ob_strerror(job->confirms[i].rc));
            s_job_error(job, job->confirms[i].rc, message);
            return;
        }
    if (job->facade) { /* confirmed; facade_wait 0 */
        s_job_accepted(job);
        return;
    }
    /* Written by hand rather than built with Jansson and dumped: for a batch this was the
       REST thread's largest cost. Each result is {"id":..,"topic":..,"seq":..,"dup":..},
       as openapi.json's PublishResult; an id character takes at most 6 bytes (\u00XX),
       a topic needs no escaping (ob_topic_valid). */
    size_t topic_len = strlen(job->topic);
    size_t size = sizeof "{\"results\":[]}" + b->count * (topic_len + S_RESULT_FIXED) +
                  6 * job->id_ends[b->count - 1];
    char *text = malloc(size);
    if (!text) {
        s_job_error(job, -ENOMEM, NULL);
        return;
    }
    char *w = text;
    if (job->batch_route)
        w += sprintf(w, "{\"results\":[");
    for (size_t i = 0; i < b->count; i++) {
        size_t from = i ? job->id_ends[i - 1] : 0;
        w += sprintf(w, "%s{\"id\":\"", i ? "," : "");
        w = s_json_escape(w, job->ids + from, job->id_ends[i] - from);
        w += sprintf(w, "\",\"topic\":\"%s\",\"seq\":%" PRIu64 ",\"dup\":%s}", job->topic,
                     job->confirms[i].seq, job->confirms[i].dup ? "true" : "false");
    }
    if (job->batch_route)
        w += sprintf(w, "]}");
    free(job->body);
    job->status = job->batch_route || !job->command ? MHD_HTTP_OK : MHD_HTTP_ACCEPTED;
    job->body = text;
}

/* Appends to a growing array of elements of size bytes. Returns 0 or -ENOMEM. */
static int
s_grow(void **array, size_t *size, size_t need, size_t elem)
{
    if (need <= *size)
        return 0;
    size_t n = *size ? *size * 2 : OB_GW_REST_PENDING_MIN;
    while (n < need)
        n *= 2;
    void *p = realloc(*array, n * elem);
    if (!p)
        return -ENOMEM;
    *array = p;
    *size = n;
    return 0;
}

/* Forgets job in the thread's tables (answered). */
static void
s_forget(ob_rest_t *self, ob_rest_job_t *job)
{
    for (size_t i = self->pending_head; i < self->pending_count; i++)
        if (self->pending[i].job == job)
            self->pending[i].job = NULL;
    for (size_t i = 0; i < self->job_count; i++)
        if (self->jobs[i] == job) {
            self->jobs[i] = self->jobs[--self->job_count];
            break;
        }
}

/* Copies the ids of a publish job's events into job->ids before the frames are handed to
   the client. Returns 0, -ENOMEM, or ob_event_peek's code (cannot happen: the parser
   encoded them). */
static int
s_keep_ids(ob_rest_job_t *job)
{
    ob_rest_batch_t *b = job->batch;
    size_t size = 0, used = 0;
    if (!(job->id_ends = malloc(b->count * sizeof *job->id_ends)))
        return -ENOMEM;
    for (size_t i = 0; i < b->count; i++) {
        ob_event_envelope_t env;
        int rc = ob_event_peek(b->events[i], b->lens[i], &env);
        if (rc)
            return rc;
        if (s_grow((void **)&job->ids, &size, used + env.id_len, 1))
            return -ENOMEM;
        memcpy(job->ids + used, env.id, env.id_len);
        used += env.id_len;
        job->id_ends[i] = used;
    }
    return 0;
}

/* Sends a publish job's events, pipelined. On a local failure answers it at once. */
static void
s_serve_publish(ob_rest_t *self, ob_rest_job_t *job)
{
    ob_rest_batch_t *b = job->batch;
    int rc = s_keep_ids(job);
    if (rc) {
        s_job_error(job, rc, NULL);
        s_finish(job);
        return;
    }
    /* The confirmed front makes room once it is as long as the rest: each entry is moved
       O(1) times on average. */
    if (self->pending_head && self->pending_head >= self->pending_count - self->pending_head) {
        self->pending_count -= self->pending_head;
        memmove(self->pending, self->pending + self->pending_head,
                self->pending_count * sizeof *self->pending);
        self->pending_head = 0;
    }
    if (s_grow((void **)&self->jobs, &self->job_size, self->job_count + 1, sizeof *self->jobs) ||
        s_grow((void **)&self->pending, &self->pending_size, self->pending_count + b->count,
               sizeof *self->pending)) {
        s_job_error(job, -ENOMEM, NULL);
        s_finish(job);
        return;
    }
    self->jobs[self->job_count++] = job;
    job->deadline = zclock_mono() + OB_GW_REST_CONFIRM_MS;
    for (size_t i = 0; i < b->count; i++) {
        uint64_t token = 0;
        /* The frame as ob_rest_parse_* encoded it, handed over: the client frees it once
           confirmed. Its envelope, for the answer, comes from the id kept in job->ids. */
        rc = ob_client_publish_frame_async(self->client, &b->events[i], b->lens[i], &token);
        if (rc) {
            /* Events before i are sent and will be confirmed, or not: either way a
               retry of the whole request is safe (same ids). */
            s_forget(self, job);
            s_job_error(job, rc == OB_ERR_TIMEOUT ? OB_ERR_BUSY : rc,
                        rc == OB_ERR_TIMEOUT ? "the broker does not confirm: retry" : NULL);
            s_finish(job);
            return;
        }
        self->pending[self->pending_count++] = (s_pending_t){token, job, i};
    }
}

/* ---------------------------------------------------------------------------------------- */
/* A command's wait for its outcome (POST /v1/oms/{id}/commands?wait_ms=N)

   The outcome of a command is one event on oms.<oms_id> whose id is derived from the OMS
   and the command id (ob_oms_outcome_id), stored after the command. So, once the command is
   confirmed, the REST thread reads its stored time (a FETCH of mp.<oms_id> at its seq: the
   original one for a duplicate), then reads oms.<oms_id> from that time on, every
   OB_GW_REST_LOOK_MS (1 ms after the confirm at first, the gap doubling up to it), with
   FETCHes of ranges, until an event with that id comes (answered 200 with it) or wait_ms
   runs out (504: the command stands). An outcome stored before the wait
   began (a retried command) is found the same way, from the original command's time. Reads
   cost nothing while no command waits; each look reads only what is new since the last. */

/* Removes job from the waits (answered). */
static void
s_unwait(ob_rest_t *self, ob_rest_job_t *job)
{
    for (size_t i = 0; i < self->wait_count; i++)
        if (self->waits[i] == job) {
            self->waits[i] = self->waits[--self->wait_count];
            return;
        }
}

/* Sets a waiting command's answer: the publish result with its outcome (frame: the event,
   borrowed). */
static void
s_wait_answer(ob_rest_job_t *job, const uint8_t *frame, size_t len)
{
    if (job->facade) { /* the Marketplace's answer, from the outcome's data */
        ob_event_t *ev = NULL;
        ob_fw_answer_t a = {0};
        int rc = ob_event_decode(frame, len, &ev);
        if (!rc)
            rc = ob_fw_outcome((const char *)ev->data, ev->data_len, &a);
        ob_event_destroy(&ev);
        if (rc && rc != -ENOMEM) /* not the outcome COMMANDS.md specifies: a bad gateway */
            rc = ob_fw_error(MHD_HTTP_BAD_GATEWAY, "the command's outcome does not read", &a);
        s_job_facade(job, rc, &a);
        return;
    }
    json_t *outcome = s_event_json(frame, len);
    s_publish_answer(job); /* the result, or an error */
    json_t *root =
        job->status == MHD_HTTP_ACCEPTED && outcome ? json_loads(job->body, 0, NULL) : NULL;
    if (!root || json_object_set_new(root, "outcome", outcome)) {
        json_decref(root);
        s_job_error(job, -ENOMEM, NULL);
        return;
    }
    s_job_json(job, MHD_HTTP_OK, root);
}

/* Starts the wait of a confirmed command (its confirm in job->confirms[0]), or answers it
   when it cannot wait. */
static void
s_wait_start(ob_rest_t *self, ob_rest_job_t *job)
{
    char topic[OB_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, S_MP_PREFIX "%" PRIu64, job->oms_id);
    ob_fetch_t *f = NULL;
    int rc = job->confirms[0].rc;
    if (!rc)
        rc = ob_client_fetch(self->client, topic, job->confirms[0].seq, 0, 1, &f);
    if (!rc &&
        s_grow((void **)&self->waits, &self->wait_size, self->wait_count + 1, sizeof *self->waits))
        rc = -ENOMEM;
    if (rc) {
        ob_fetch_destroy(&f);
        if (job->confirms[0].rc)
            s_publish_answer(job); /* the broker's refusal */
        else if (job->facade)
            s_job_accepted(job); /* stored: it will have its outcome */
        else
            s_job_error(job, rc == OB_ERR_TIMEOUT || rc == -EINTR ? OB_ERR_BUSY : rc,
                        "the command is stored, its outcome cannot be looked for: retry");
        s_finish(job);
        return;
    }
    /* The command as stored; if retention removed it (a duplicate of an old one), the
       outcome is looked for from the first event kept. */
    job->outcome_time =
        f->count && f->events[0].seq == job->confirms[0].seq ? f->events[0].time_us : 0;
    ob_fetch_destroy(&f);
    ob_oms_outcome_id(job->oms_id, job->command_id, job->outcome_id);
    int64_t now = zclock_mono();
    job->wait_until = now + job->wait_ms;
    job->next_look = now;
    job->look_gap = OB_GW_REST_LOOK_FIRST_MS;
    self->waits[self->wait_count++] = job;
}

/* Looks for a waiting command's outcome in what oms.<id> stored since the last look.
   Returns 1 if it was found (job answered), else 0. */
static int
s_wait_look(ob_rest_t *self, ob_rest_job_t *job)
{
    char topic[OB_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, S_OMS_PREFIX "%" PRIu64, job->oms_id);
    size_t id_len = strlen(job->outcome_id);
    for (int page = 0; page < OB_GW_REST_LOOK_PAGES; page++) {
        ob_fetch_t *f = NULL;
        uint64_t from = job->outcome_next ? job->outcome_next : 1;
        uint64_t time = job->outcome_next ? 0 : job->outcome_time;
        if (ob_client_fetch(self->client, topic, from, time, OB_FETCH_RANGE_MAX, &f))
            return 0; /* no such topic yet, or the broker is away: look again later */
        for (size_t i = 0; i < f->count; i++) {
            ob_event_envelope_t env;
            if (ob_event_peek(f->events[i].event, f->events[i].event_len, &env) == 0 &&
                env.id_len == id_len && !memcmp(env.id, job->outcome_id, id_len)) {
                s_wait_answer(job, f->events[i].event, f->events[i].event_len);
                ob_fetch_destroy(&f);
                return 1;
            }
        }
        job->outcome_next = f->next;
        int full = f->count == OB_FETCH_RANGE_MAX;
        ob_fetch_destroy(&f);
        if (!full)
            break;
    }
    return 0;
}

/* Answers the waits whose outcome came or whose time ran out. */
static void
s_waits_tick(ob_rest_t *self)
{
    int64_t now = zclock_mono();
    for (size_t i = 0; i < self->wait_count;) {
        ob_rest_job_t *job = self->waits[i];
        int done = 0;
        if (job->next_look <= now) {
            done = s_wait_look(self, job);
            /* soon at first (an outcome takes a Marketplace round trip), then every
               OB_GW_REST_LOOK_MS: few looks for a slow one */
            job->next_look = zclock_mono() + job->look_gap;
            job->look_gap =
                job->look_gap * 2 < OB_GW_REST_LOOK_MS ? job->look_gap * 2 : OB_GW_REST_LOOK_MS;
        }
        if (!done && job->wait_until <= now && job->facade) {
            s_job_accepted(job); /* later than facade_wait: 202 */
            done = 1;
        }
        if (!done && job->wait_until <= now) {
            char message[OB_GW_REST_ERR_MAX];
            snprintf(message, sizeof message,
                     "command %s: no outcome within wait_ms; the command stands, its outcome "
                     "will be on " S_OMS_PREFIX "%" PRIu64,
                     job->command_id, job->oms_id);
            s_job_error(job, OB_ERR_TIMEOUT, message);
            done = 1;
        }
        if (done) {
            s_unwait(self, job); /* moves the last wait to i */
            s_finish(job);
        } else
            i++;
    }
}

/* Takes the confirms that have arrived (waiting up to wait_ms for the first). */
static void
s_take_confirms(ob_rest_t *self, int wait_ms)
{
    ob_confirm_t confirm;
    while (ob_client_confirm_next(self->client, wait_ms, &confirm) == 0) {
        wait_ms = 0;
        /* Confirms come in the order sent (a CONFIRM covers a run): the front one is taken
           without moving the others, which a batch of every connection makes thousands. */
        size_t i = self->pending_head;
        while (i < self->pending_count && self->pending[i].token != confirm.token)
            i++;
        if (i == self->pending_count)
            continue; /* not ours: cannot happen, the client's tokens are unique */
        s_pending_t p = self->pending[i];
        if (i == self->pending_head)
            self->pending_head++;
        else {
            memmove(&self->pending[i], &self->pending[i + 1],
                    (self->pending_count - i - 1) * sizeof *self->pending);
            self->pending_count--;
        }
        if (self->pending_head == self->pending_count)
            self->pending_head = self->pending_count = 0;
        if (!p.job)
            continue; /* its request was answered 503 already */
        p.job->confirms[p.index] = confirm;
        if (++p.job->confirmed == p.job->batch->count) {
            s_forget(self, p.job);
            if (p.job->wait_ms) {
                s_wait_start(self, p.job);
                continue;
            }
            s_publish_answer(p.job);
            s_finish(p.job);
        }
    }
    int64_t now = zclock_mono();
    for (size_t j = 0; j < self->job_count;) {
        ob_rest_job_t *job = self->jobs[j];
        if (job->deadline > now) {
            j++;
            continue;
        }
        s_forget(self, job); /* moves the last job to j */
        s_job_error(job, OB_ERR_BUSY,
                    "the broker did not confirm in time (unreachable?): the events may or may "
                    "not be stored; a retry with the same ids is safe");
        s_finish(job);
    }
}

/* Returns the earliest monotonic ms a publish job is answered 503 at, INT64_MAX if none. */
static int64_t
s_publish_due(const ob_rest_t *self)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < self->job_count; i++)
        if (self->jobs[i]->deadline < due)
            due = self->jobs[i]->deadline;
    return due;
}

/* Returns the earliest monotonic ms a command wait looks again or ends, INT64_MAX if none. */
static int64_t
s_waits_due(const ob_rest_t *self)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < self->wait_count; i++) {
        const ob_rest_job_t *job = self->waits[i];
        int64_t one = job->next_look < job->wait_until ? job->next_look : job->wait_until;
        due = one < due ? one : due;
    }
    return due;
}

/* Takes everything the broker client has (deliveries, confirms), answers what that and the
   clock make ready, then sleeps until the client's socket or the wake fd stirs, or the next
   deadline: a fetch's wait, a detach, a publish's confirm, a command wait's next look or
   end, or the client's heartbeat. */
static void
s_sleep(ob_rest_t *self)
{
    /* ob_client_fd is edge-triggered: wait on it only once a call on the client has come
       back empty-handed, which reads the socket dry (client.h). The last call here is
       ob_client_confirm_next returning OB_ERR_TIMEOUT; deliveries it read meanwhile are
       queued, and taken by another round. */
    s_waits_tick(self); /* before: its FETCHes are calls on the client */
    do {
        ob_rest_subs_poll(self->subs);
        s_take_confirms(self, 0);
    } while (ob_client_queued(self->client));
    int64_t now = zclock_mono();
    int64_t due = now + OB_GW_REST_IDLE_MS; /* at least once per heartbeat interval */
    int64_t subs = ob_rest_subs_due(self->subs), publish = s_publish_due(self);
    int64_t waits = s_waits_due(self);
    due = subs < due ? subs : due;
    due = publish < due ? publish : due;
    due = waits < due ? waits : due;
    struct pollfd fds[2] = {{.fd = ob_client_fd(self->client), .events = POLLIN},
                            {.fd = self->wake_fd, .events = POLLIN}};
    if (poll(fds, 2, due > now ? (int)(due - now) : 0) > 0 && (fds[1].revents & POLLIN)) {
        uint64_t count;
        if (read(self->wake_fd, &count, sizeof count) < 0) {
            /* EAGAIN: another read took it; nothing else can fail on an eventfd */
        }
    }
}

static void *
s_thread(void *arg)
{
    ob_rest_t *self = arg;
    const ob_gw_config_t *cfg = self->cfg;
    /* The window is wide: with the default, 256 events of all the requests in flight went
       to the broker at a time, and the thread waited in the publish call for room. */
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .window = OB_GW_REST_WINDOW,
                             .timeout_ms = OB_GW_REST_BROKER_MS,
                             .cert = cfg->cert[0] ? cfg->cert : NULL,
                             .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL};
    self->client = ob_client_new(cfg->endpoint, &cc);
    if (self->client &&
        !(self->subs = ob_rest_subs_new(self->client, self->store, self->key, cfg->rest_waits_max,
                                        s_subs_done, s_subs_may, self)))
        ob_client_destroy(&self->client);
    pthread_mutex_lock(&self->lock);
    self->ready = self->client ? 1 : -1;
    pthread_cond_broadcast(&self->wake);
    pthread_mutex_unlock(&self->lock);
    if (!self->client)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&self->lock);
        ob_rest_job_t *jobs = self->head;
        self->head = self->tail = NULL;
        int stop = self->stop;
        pthread_mutex_unlock(&self->lock);

        while (jobs) {
            ob_rest_job_t *job = jobs;
            jobs = job->next;
            job->next = NULL;
            if (stop) {
                s_job_error(job, OB_ERR_SHUTDOWN, "the gateway is stopping");
                s_finish(job);
            } else if (job->kind == S_PUBLISH)
                s_serve_publish(self, job);
            else if (job->kind == S_SUBS)
                ob_rest_subs_serve(self->subs, job->sub, job);
            else {
                if (job->kind == S_LIST)
                    s_serve_topics(self, job);
                else
                    s_serve_read(self, job);
                s_finish(job);
            }
        }
        ob_rest_subs_flush(self->subs); /* the acks of this round: one round trip */
        if (stop) {
            while (self->job_count) {
                ob_rest_job_t *job = self->jobs[0];
                s_forget(self, job);
                s_job_error(job, OB_ERR_SHUTDOWN, "the gateway is stopping");
                s_finish(job);
            }
            while (self->wait_count) {
                ob_rest_job_t *job = self->waits[--self->wait_count];
                if (job->facade)
                    s_job_accepted(job);
                else
                    s_job_error(job, OB_ERR_SHUTDOWN,
                                "the gateway is stopping: the command stands, its outcome will "
                                "be on oms.<oms_id>");
                s_finish(job);
            }
            ob_rest_subs_destroy(&self->subs);
            ob_client_destroy(&self->client);
            return NULL;
        }
        s_sleep(self);
    }
}

/* Wakes the REST thread from its poll. */
static void
s_wake(ob_rest_t *self)
{
    uint64_t one = 1;
    if (write(self->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so the thread is awake already */
    }
}

/* Queues job for the thread and suspends its connection. */
static enum MHD_Result
s_submit(ob_rest_t *self, struct MHD_Connection *c, ob_rest_job_t *job, ob_rest_job_t **job_p)
{
    job->conn = c;
    pthread_mutex_lock(&self->lock);
    if (self->stop) {
        pthread_mutex_unlock(&self->lock);
        int facade = job->facade;
        ob_rest_job_destroy(&job);
        return facade ? s_facade_error(self, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                       "the gateway is stopping", 0)
                      : s_error(self, c, OB_ERR_SHUTDOWN, "the gateway is stopping");
    }
    *job_p = job;
    MHD_suspend_connection(c);
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    s_wake(self);
    pthread_mutex_unlock(&self->lock);
    return MHD_YES;
}

/* ---------------------------------------------------------------------------------------- */
/* Routing, in libmicrohttpd's thread */

/* What a request asks for once routed. */
typedef struct s_route {
    s_kind_t kind;                /* what */
    int batch;                    /* 1: /batch */
    int command;                  /* 1: /commands */
    char topic[OB_TOPIC_MAX + 1]; /* the topic, mp.<oms_id> for a command */
    uint64_t oms_id;              /* a command's OMS */
    const char *seq;              /* /events/{seq}: the seq text, in the url */
    const char *allow;            /* the methods it takes, as a 405's Allow says them */
    const char *sub_path;         /* S_SUBS: what follows /v1/subscriptions, in the url */
} s_route_t;

/* Routes path (after /v1/). Returns 0, OB_GW_ERR_NOT_FOUND, or OB_ERR_INVALID_TOPIC /
   OB_ERR_FIELD_TYPE with a message. */
static int
s_route(const char *path, s_route_t *route, char *errbuf, size_t errlen)
{
    memset(route, 0, sizeof *route);
    if (!strcmp(path, S_DOC_PATH)) {
        route->kind = S_DOC;
        route->allow = S_ALLOW_GET;
        return 0;
    }
    size_t subs = strlen(OB_REST_SUBS_PATH);
    if (!strncmp(path, OB_REST_SUBS_PATH, subs) && (!path[subs] || path[subs] == '/')) {
        route->kind = S_SUBS; /* rest_subs routes the rest */
        route->sub_path = path + subs;
        route->allow = ob_rest_subs_allow(route->sub_path); /* NULL: rest_subs says why */
        return 0;
    }
    if (!strcmp(path, S_TOPIC_LIST)) {
        route->kind = S_LIST;
        route->allow = S_ALLOW_GET;
        return 0;
    }
    if (!strncmp(path, S_OMS, strlen(S_OMS))) {
        const char *id = path + strlen(S_OMS);
        const char *slash = strchr(id, '/');
        if (!slash || strcmp(slash, S_COMMANDS))
            return OB_GW_ERR_NOT_FOUND;
        char text[OB_GW_DECIMAL_MAX + 2];
        size_t n = (size_t)(slash - id);
        if (n >= sizeof text)
            n = sizeof text - 1; /* too long: refused as not a number */
        memcpy(text, id, n);
        text[n] = '\0';
        int rc =
            ob_rest_parse_uint(text, "oms_id", 1, OB_GW_OMS_ID_MAX, &route->oms_id, errbuf, errlen);
        if (rc)
            return rc;
        snprintf(route->topic, sizeof route->topic, S_MP_PREFIX "%" PRIu64, route->oms_id);
        route->kind = S_PUBLISH;
        route->command = 1;
        route->allow = S_ALLOW_POST;
        return 0;
    }
    if (strncmp(path, S_TOPICS, strlen(S_TOPICS)))
        return OB_GW_ERR_NOT_FOUND;
    const char *topic = path + strlen(S_TOPICS);
    const char *slash = strchr(topic, '/');
    if (!slash)
        return OB_GW_ERR_NOT_FOUND;
    size_t n = (size_t)(slash - topic);
    if (!ob_topic_valid(topic, n)) {
        snprintf(errbuf, errlen, "topic: not a valid topic name");
        return OB_ERR_INVALID_TOPIC;
    }
    memcpy(route->topic, topic, n);
    route->topic[n] = '\0';
    if (!strcmp(slash, S_BATCH)) {
        route->kind = S_PUBLISH;
        route->batch = 1;
        route->allow = S_ALLOW_POST;
    } else if (!strcmp(slash, S_EVENTS)) {
        route->kind = S_READ; /* or S_PUBLISH for POST */
        route->allow = S_ALLOW_GET ", " S_ALLOW_POST;
    } else if (!strcmp(slash, S_STREAM_PATH)) {
        route->kind = S_STREAM;
        route->allow = S_ALLOW_GET;
    } else if (!strncmp(slash, S_EVENTS "/", strlen(S_EVENTS) + 1) &&
               !strchr(slash + strlen(S_EVENTS) + 1, '/')) {
        route->kind = S_EVENT;
        route->seq = slash + strlen(S_EVENTS) + 1;
        route->allow = S_ALLOW_GET;
    } else
        return OB_GW_ERR_NOT_FOUND;
    return 0;
}

/* 1 if method is one of allow's ("GET, POST"), else 0. */
static int
s_allowed(const char *allow, const char *method)
{
    size_t n = strlen(method);
    for (const char *p = allow; n && (p = strstr(p, method)); p += n)
        if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

/* The client of the request's bearer token (under the lock), or NULL. */
static const ob_tokens_client_t *
s_client(ob_rest_t *self, struct MHD_Connection *c)
{
    const char *auth =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t scheme = strlen(OB_GW_AUTH_SCHEME);
    if (!auth || strncasecmp(auth, OB_GW_AUTH_SCHEME, scheme))
        return NULL;
    const char *token = auth + scheme;
    return ob_tokens_lookup(self->tokens, token, strlen(token));
}

/* The checks that need the tokens table, under its lock: authentication, the rate, the
   permission. Writes the client's name (for command sources) into name. Returns 0 or the
   refusal, with a message and the seconds to wait for 429. */
static int
s_authorize(ob_rest_t *self, struct MHD_Connection *c, const s_route_t *route, int route_rc,
            char name[OB_GW_CLIENT_NAME_MAX + 1], uint32_t *retry_after, char *errbuf,
            size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    const ob_tokens_client_t *client = s_client(self, c);
    if (!client) {
        snprintf(errbuf, errlen, "no valid Authorization: Bearer token");
        rc = OB_GW_ERR_UNAUTHORIZED;
        goto out;
    }
    snprintf(name, OB_GW_CLIENT_NAME_MAX + 1, "%s", ob_tokens_client_name(client));
    if ((rc = ob_rate_limit_take(self->rate, name, zclock_usecs(), retry_after))) {
        snprintf(errbuf, errlen, "over %u requests per second: retry later", self->cfg->rest_rate);
        goto out;
    }
    /* the document: any client; subscriptions: rest_subs checks them */
    if ((rc = route_rc) || route->kind == S_DOC || route->kind == S_SUBS)
        goto out;
    size_t len = strlen(route->topic);
    if (route->kind == S_LIST) {
        if (!ob_tokens_may_admin(client, OB_TOKENS_ADMIN_READ)) {
            snprintf(errbuf, errlen, "client %s may not list topics (needs admin read)", name);
            rc = OB_ERR_FORBIDDEN;
        }
        goto out;
    }
    int ok = route->kind == S_PUBLISH ? ob_tokens_may_publish(client, route->topic, len)
                                      : ob_tokens_may_read(client, route->topic, len);
    if (!ok) {
        snprintf(errbuf, errlen, "client %s may not %s topic %s", name,
                 route->kind == S_PUBLISH ? "publish to" : "read", route->topic);
        rc = OB_ERR_FORBIDDEN;
    }
out:
    pthread_mutex_unlock(&self->lock);
    return rc;
}

/* GET /v1/openapi.json (body 1: it had a body, refused). */
static enum MHD_Result
s_doc(ob_rest_t *self, struct MHD_Connection *c, int body)
{
    if (body)
        return s_error(self, c, OB_ERR_MALFORMED, "a GET takes no body");
    struct MHD_Response *r = MHD_create_response_from_buffer(
        ob_gw_openapi_len, (void *)ob_gw_openapi, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_JSON);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    ob_gw_stats_inc(self->stats->http, "rest", "200");
    return ret;
}

/* GET /v1/topics/{topic}/stream (body 1: it had a body, refused): opens the stream,
   suspending c (rest_stream.h). */
static enum MHD_Result
s_stream_open(ob_rest_t *self, struct MHD_Connection *c, const s_route_t *route, const char *name,
              int body, ob_rest_job_t **job_p)
{
    if (body)
        return s_error(self, c, OB_ERR_MALFORMED, "a GET takes no body");
    ob_rest_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    job->kind = S_STREAM;
    char errbuf[OB_GW_REST_ERR_MAX] = "";
    uint32_t retry_after = 0;
    int rc =
        ob_rest_stream_open(self->streams, c, route->topic, name,
                            MHD_lookup_connection_value(c, MHD_HEADER_KIND, OB_GW_LAST_EVENT_ID),
                            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from_seq"),
                            &job->stream, &retry_after, errbuf, sizeof errbuf);
    if (rc) {
        ob_rest_job_destroy(&job);
        return s_queue(self, c, (unsigned)ob_rest_status(rc), ob_rest_error_json(rc, errbuf),
                       retry_after);
    }
    *job_p = job;
    return MHD_YES;
}

/* A stream's connection resumed: its 200 stream, or its refusal. */
static enum MHD_Result
s_stream_answer(ob_rest_t *self, struct MHD_Connection *c, ob_rest_job_t *job)
{
    char errbuf[OB_GW_REST_ERR_MAX] = "";
    int rc = 0;
    enum MHD_Result ret = ob_rest_stream_answer(job->stream, c, &rc, errbuf, sizeof errbuf);
    if (rc)
        return s_error(self, c, rc, errbuf);
    ob_gw_stats_inc(self->stats->http, "rest", "200");
    return ret;
}

/* Builds the job of a publish request from its body. Returns 0 or a refusal with a
   message. */
static int
s_publish_job(struct MHD_Connection *c, const s_route_t *route, const char *name, const char *body,
              size_t len, ob_rest_job_t *job, char *errbuf, size_t errlen)
{
    ob_rest_media_t media = OB_REST_MEDIA_JSON;
    const char *type =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    int rc = ob_rest_media_type(type, &media, errbuf, errlen);
    if (!rc && media == OB_REST_MEDIA_NDJSON && !route->batch) {
        snprintf(errbuf, errlen, "NDJSON is for /batch only: send application/json");
        rc = OB_GW_ERR_MEDIA_TYPE;
    }
    if (rc)
        return rc;
    if (!(job->batch = calloc(1, sizeof *job->batch)))
        return -ENOMEM;
    if (route->batch) {
        ob_rest_batch_destroy(&job->batch);
        rc = ob_rest_parse_batch(body, len, media, route->topic, &job->batch, errbuf, errlen);
        job->batch_route = 1;
    } else {
        job->batch->events = calloc(1, sizeof *job->batch->events);
        job->batch->lens = calloc(1, sizeof *job->batch->lens);
        if (!job->batch->events || !job->batch->lens)
            return -ENOMEM;
        const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait_ms");
        uint64_t wait_ms = 0;
        if (route->command && wait &&
            (rc = ob_rest_parse_uint(wait, "wait_ms", 0, OB_GW_WAIT_MS_MAX, &wait_ms, errbuf,
                                     errlen)))
            return rc;
        if (route->command) {
            job->wait_ms = (uint32_t)wait_ms;
            job->oms_id = route->oms_id;
            rc = ob_rest_command_event(body, len, route->oms_id, name, zclock_time() * 1000ull,
                                       &job->batch->events[0], &job->batch->lens[0],
                                       job->command_id, errbuf, errlen);
        } else
            rc = ob_rest_parse_event(body, len, route->topic, &job->batch->events[0],
                                     &job->batch->lens[0], errbuf, errlen);
        if (!rc)
            job->batch->count = 1;
    }
    if (!rc && !(job->confirms = calloc(job->batch->count, sizeof *job->confirms)))
        rc = -ENOMEM;
    return rc;
}

/* Fills a topic list job: the client's name and the query's after (absent, empty, or a
   topic name). Returns 0 or OB_ERR_FIELD_TYPE with a message. */
static int
s_topics_job(struct MHD_Connection *c, const char *name, ob_rest_job_t *job, char *errbuf,
             size_t errlen)
{
    snprintf(job->client, sizeof job->client, "%s", name);
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    if (!after || !after[0])
        return 0;
    size_t len = strlen(after);
    if (!ob_topic_valid(after, len)) {
        snprintf(errbuf, errlen, "after: not a topic name");
        return OB_ERR_FIELD_TYPE;
    }
    memcpy(job->after, after, len + 1);
    return 0;
}

enum MHD_Result
ob_rest_serve(ob_rest_t *self, struct MHD_Connection *c, const char *url, const char *method,
              const char *body, size_t len, int too_large, ob_rest_job_t **job_p)
{
    if (*job_p && (*job_p)->stream)
        return s_stream_answer(self, c, *job_p);
    if (*job_p) { /* resumed: the answer is ready */
        ob_rest_job_t *job = *job_p;
        char *answer = job->body;
        job->body = NULL;
        return s_queue(self, c, job->status, answer,
                       job->status == MHD_HTTP_TOO_MANY_REQUESTS ? OB_GW_WAITS_RETRY_S : 0);
    }
    if (!self->on)
        return s_error(self, c, OB_GW_ERR_NOT_FOUND,
                       "REST is off: this gateway has no tokens_file configured");
    char errbuf[OB_GW_REST_ERR_MAX] = "";
    s_route_t route;
    int route_rc = s_route(url + strlen(S_V1), &route, errbuf, sizeof errbuf);
    int post = !strcmp(method, "POST");
    if (!route_rc && route.kind == S_READ && post)
        route.kind = S_PUBLISH;
    const char *allow = route.allow ? route.allow : ""; /* "": a route that takes none */
    if (!route_rc && (route.kind != S_SUBS || route.allow) && !s_allowed(allow, method)) {
        route_rc = OB_GW_ERR_METHOD;
        snprintf(errbuf, sizeof errbuf, "%s: use %s", method, allow);
    }
    char name[OB_GW_CLIENT_NAME_MAX + 1] = "";
    uint32_t retry_after = 0;
    char autherr[OB_GW_REST_ERR_MAX] = "";
    int rc = s_authorize(self, c, &route, route_rc, name, &retry_after, autherr, sizeof autherr);
    if (rc == OB_ERR_LIMIT)
        return s_queue(self, c, MHD_HTTP_TOO_MANY_REQUESTS, ob_rest_error_json(rc, autherr),
                       retry_after ? retry_after : 1);
    if (rc == OB_GW_ERR_METHOD) { /* RFC 9110 15.5.6: a 405 lists the methods it takes */
        struct MHD_Response *r =
            s_response(MHD_HTTP_METHOD_NOT_ALLOWED, ob_rest_error_json(rc, errbuf), 0);
        if (r)
            MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        return s_send(self, c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
    }
    if (rc)
        return s_error(self, c, rc, rc == route_rc ? errbuf : autherr);

    if (route.kind == S_DOC)
        return s_doc(self, c, len || too_large);
    if (route.kind == S_STREAM)
        return s_stream_open(self, c, &route, name, len || too_large, job_p);
    ob_rest_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return MHD_NO;
    job->kind = route.kind;
    job->command = route.command;
    memcpy(job->topic, route.topic, sizeof job->topic);
    if (route.kind == S_SUBS) {
        rc = ob_rest_subs_parse(
            route.sub_path, method, name,
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), body,
            len, too_large, self->cfg->rest_body_max,
            MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after"), self->key, &job->sub,
            errbuf, sizeof errbuf);
        if (!rc) { /* the patterns of a create, under the current tokens */
            pthread_mutex_lock(&self->lock);
            const ob_tokens_client_t *client = ob_tokens_find(self->tokens, name);
            rc = client ? ob_rest_subs_check(job->sub, client, errbuf, sizeof errbuf)
                        : OB_GW_ERR_UNAUTHORIZED;
            pthread_mutex_unlock(&self->lock);
        }
    } else if (route.kind == S_PUBLISH) {
        if (too_large) {
            snprintf(errbuf, sizeof errbuf, "body over %" PRIu64 " bytes",
                     self->cfg->rest_body_max);
            rc = OB_ERR_TOO_LARGE;
        } else
            rc = s_publish_job(c, &route, name, body, len, job, errbuf, sizeof errbuf);
    } else if (len || too_large) {
        snprintf(errbuf, sizeof errbuf, "a GET takes no body");
        rc = OB_ERR_MALFORMED;
    } else if (route.kind == S_LIST) {
        rc = s_topics_job(c, name, job, errbuf, sizeof errbuf);
    } else if (route.kind == S_EVENT) {
        rc = ob_rest_parse_uint(route.seq, "seq", 1, UINT64_MAX, &job->read.from_seq, errbuf,
                                sizeof errbuf);
        job->read.limit = 1;
    } else
        rc = ob_rest_parse_read(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from_seq"),
                                MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from_time"),
                                MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"),
                                &job->read, errbuf, sizeof errbuf);
    if (rc) {
        ob_rest_job_destroy(&job);
        return s_error(self, c, rc, errbuf);
    }
    return s_submit(self, c, job, job_p);
}

/* ---------------------------------------------------------------------------------------- */
/* The Ordering API facade's writes (facade_write.h), in libmicrohttpd's thread

   A write is a command with a wait: the job of POST /v1/oms/{id}/commands?wait_ms= with the
   facade's command, facade_wait as its wait, and the Marketplace's answer shapes (s_job_*
   look at job->facade). Checks in the Marketplace's order (reference 2.1): the token (401),
   the OMS (404: one this gateway serves), the right to publish on mp.<oms_id> (403), then
   the gateway's own (429 over the rate, 413 over rest_body_max), then the body. */

#define S_FACADE_ENDPOINT "facade"
#define S_IDEMPOTENCY_KEY "Idempotency-Key"

/* Queues a facade answer: status and its JSON body (owned, freed here; NULL: no memory). */
static enum MHD_Result
s_facade_queue(ob_rest_t *self, struct MHD_Connection *c, unsigned status, char *body,
               uint32_t retry_after)
{
    struct MHD_Response *r = s_response(status, body, retry_after);
    if (r) { /* the Marketplace's (Rails') type, and no challenge with its 401 */
        MHD_del_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_JSON);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_MP_JSON);
        if (status == MHD_HTTP_UNAUTHORIZED)
            MHD_del_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, S_REALM);
    }
    return s_send_as(self, c, S_FACADE_ENDPOINT, status, r);
}

/* Queues status with {"error": text} (borrowed). */
static enum MHD_Result
s_facade_error(ob_rest_t *self, struct MHD_Connection *c, unsigned status, const char *text,
               uint32_t retry_after)
{
    ob_fw_answer_t a = {0};
    if (ob_fw_error(status, text, &a))
        return MHD_NO;
    return s_facade_queue(self, c, status, a.body, retry_after);
}

int
ob_rest_facade_authorize(ob_rest_t *self, const char *token, size_t len, uint64_t oms_id, int write,
                         char name[OB_GW_CLIENT_NAME_MAX + 1], uint32_t *ret_retry_after)
{
    char topic[OB_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, "%s%" PRIu64, write ? S_MP_PREFIX : S_OMS_PREFIX, oms_id);
    size_t i = 0;
    while (i < self->cfg->oms_count && self->cfg->oms[i].id != oms_id)
        i++;
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    const ob_tokens_client_t *client =
        token && self->tokens ? ob_tokens_lookup(self->tokens, token, len) : NULL;
    if (!client)
        rc = OB_GW_ERR_UNAUTHORIZED;
    else if (!oms_id || i == self->cfg->oms_count)
        rc = OB_GW_ERR_NOT_FOUND;
    else if (write ? !ob_tokens_may_publish(client, topic, strlen(topic))
                   : !ob_tokens_may_subscribe(client, topic, strlen(topic)))
        rc = OB_ERR_FORBIDDEN;
    else {
        snprintf(name, OB_GW_CLIENT_NAME_MAX + 1, "%s", ob_tokens_client_name(client));
        rc = ob_rate_limit_take(self->rate, name, zclock_usecs(), ret_retry_after);
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

enum MHD_Result
ob_rest_facade_refuse(ob_rest_t *self, struct MHD_Connection *c, int rc, uint32_t retry_after)
{
    char text[OB_GW_REST_ERR_MAX];
    switch (rc) {
    case OB_GW_ERR_UNAUTHORIZED:
        return s_facade_error(self, c, MHD_HTTP_UNAUTHORIZED, OB_FACADE_E_SIGN_IN, 0);
    case OB_GW_ERR_NOT_FOUND:
        return s_facade_error(self, c, MHD_HTTP_NOT_FOUND, OB_FACADE_E_OMS, 0);
    case OB_ERR_FORBIDDEN:
        return s_facade_error(self, c, MHD_HTTP_FORBIDDEN, OB_FACADE_E_FORBIDDEN, 0);
    case OB_ERR_LIMIT:
        snprintf(text, sizeof text, "over %u requests per second: retry later",
                 self->cfg->rest_rate);
        return s_facade_error(self, c, MHD_HTTP_TOO_MANY_REQUESTS, text,
                              retry_after ? retry_after : 1);
    default:
        return s_facade_error(self, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error", 0);
    }
}

/* Builds a facade write's job from its command text (len bytes, borrowed). Returns 0, or
   an error with a message. */
static int
s_facade_job(ob_rest_t *self, const ob_fw_route_t *route, const char *name, const char *text,
             size_t len, ob_rest_job_t *job, char *errbuf, size_t errlen)
{
    job->kind = S_PUBLISH;
    job->command = 1;
    job->facade = 1;
    job->oms_id = route->oms_id;
    job->wait_ms = (uint32_t)self->cfg->facade_wait_ms;
    snprintf(job->topic, sizeof job->topic, S_MP_PREFIX "%" PRIu64, route->oms_id);
    if (!(job->batch = calloc(1, sizeof *job->batch)) ||
        !(job->batch->events = calloc(1, sizeof *job->batch->events)) ||
        !(job->batch->lens = calloc(1, sizeof *job->batch->lens)) ||
        !(job->confirms = calloc(1, sizeof *job->confirms)))
        return -ENOMEM;
    int rc = ob_rest_command_event(text, len, route->oms_id, name, zclock_time() * 1000ull,
                                   &job->batch->events[0], &job->batch->lens[0], job->command_id,
                                   errbuf, errlen);
    if (!rc)
        job->batch->count = 1;
    return rc;
}

enum MHD_Result
ob_rest_facade_serve(ob_rest_t *self, struct MHD_Connection *c, const char *url, const char *method,
                     const char *body, size_t len, int too_large, ob_rest_job_t **job_p)
{
    if (*job_p) { /* resumed: the answer is ready */
        char *answer = (*job_p)->body;
        (*job_p)->body = NULL;
        return s_facade_queue(self, c, (*job_p)->status, answer, 0);
    }
    ob_fw_route_t route;
    if (ob_fw_route(method, url, &route))
        return s_facade_error(self, c, MHD_HTTP_NOT_FOUND, "no such route", 0);
    if (!self->on)
        return s_facade_error(self, c, MHD_HTTP_NOT_FOUND,
                              "the Ordering API facade is off: this gateway has no tokens_file", 0);
    char name[OB_GW_CLIENT_NAME_MAX + 1] = "";
    uint32_t retry_after = 0;
    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, OB_FACADE_TOKEN_HEADER);
    int rc = ob_rest_facade_authorize(self, token, token ? strlen(token) : 0, route.oms_id, 1, name,
                                      &retry_after);
    if (rc)
        return ob_rest_facade_refuse(self, c, rc, retry_after);
    char errbuf[OB_GW_REST_ERR_MAX] = "";
    if (too_large) {
        snprintf(errbuf, sizeof errbuf, "body over %" PRIu64 " bytes", self->cfg->rest_body_max);
        return s_facade_error(self, c, MHD_HTTP_CONTENT_TOO_LARGE, errbuf, 0);
    }
    char id[OB_GW_COMMAND_ID_MAX + 1];
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, S_IDEMPOTENCY_KEY);
    if (ob_fw_command_id(&route, name, key, body, len, id)) {
        snprintf(errbuf, sizeof errbuf, S_IDEMPOTENCY_KEY ": 1 to %d visible ASCII characters",
                 OB_GW_IDEMPOTENCY_KEY_MAX);
        return s_facade_error(self, c, MHD_HTTP_BAD_REQUEST, errbuf, 0);
    }
    char *text = NULL;
    size_t text_len = 0;
    ob_fw_answer_t refusal = {0};
    rc = ob_fw_command(&route, id, body, len, &text, &text_len, &refusal);
    if (rc == OB_ERR_INVALID_ARGUMENT)
        return s_facade_queue(self, c, refusal.status, refusal.body, 0);
    ob_rest_job_t *job = rc ? NULL : calloc(1, sizeof *job);
    if (job &&
        (rc = s_facade_job(self, &route, name, text, text_len, job, errbuf, sizeof errbuf))) {
        ob_rest_job_destroy(&job);
        free(text);
        return s_facade_error(self, c, (unsigned)ob_rest_status(rc), errbuf, 0);
    }
    free(text);
    if (!job)
        return MHD_NO;
    return s_submit(self, c, job, job_p);
}

/* ---------------------------------------------------------------------------------------- */
/* Life */

/* Loads the tokens file and a limiter sized for it into *ret_tokens, *ret_rate. */
static int
s_load(const ob_gw_config_t *cfg, ob_tokens_t **ret_tokens, ob_rate_limit_t **ret_rate,
       char *errbuf, size_t errlen)
{
    ob_tokens_t *tokens = NULL;
    int rc = ob_tokens_load(cfg->tokens_file, &tokens, errbuf, errlen);
    if (rc)
        return rc;
    size_t capacity = ob_tokens_size(tokens) ? ob_tokens_size(tokens) : 1;
    ob_rate_limit_t *rate = ob_rate_limit_new(cfg->rest_rate, cfg->rest_burst, capacity);
    if (!rate) {
        ob_tokens_destroy(&tokens);
        snprintf(errbuf, errlen, "no memory");
        return -ENOMEM;
    }
    *ret_tokens = tokens;
    *ret_rate = rate;
    return 0;
}

ob_rest_t *
ob_rest_new(const ob_gw_config_t *cfg, ob_gw_store_t *store, ob_gw_stats_t *stats, char *errbuf,
            size_t errlen)
{
    ob_rest_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->store = store;
    self->stats = stats;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    self->wake_fd = -1;
    if (!cfg->tokens_file[0])
        return self; /* REST off */
    self->on = 1;
    if ((self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(errbuf, errlen, "REST: eventfd: %s", strerror(errno));
        goto fail;
    }
    if (s_load(cfg, &self->tokens, &self->rate, errbuf, errlen) ||
        ob_rest_subs_key_load(cfg->data_dir, self->key, errbuf, errlen) ||
        !(self->streams = ob_rest_streams_new(cfg, errbuf, errlen)))
        goto fail;
    if (pthread_create(&self->thread, NULL, s_thread, self)) {
        snprintf(errbuf, errlen, "REST: cannot start its thread");
        goto fail;
    }
    self->started = 1;
    /* The thread makes its client (a socket never crosses threads) and says whether it
       could. */
    pthread_mutex_lock(&self->lock);
    while (!self->ready)
        pthread_cond_wait(&self->wake, &self->lock);
    int ok = self->ready > 0;
    pthread_mutex_unlock(&self->lock);
    if (!ok) {
        snprintf(errbuf, errlen, "REST: cannot make a broker client for %s", cfg->endpoint);
        goto fail;
    }
    return self;
fail:
    ob_rest_destroy(&self);
    return NULL;
}

int
ob_rest_reload(ob_rest_t *self, char *errbuf, size_t errlen)
{
    if (!self->on)
        return 0;
    ob_tokens_t *tokens = NULL;
    ob_rate_limit_t *rate = NULL;
    int rc = s_load(self->cfg, &tokens, &rate, errbuf, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&self->lock);
    ob_tokens_t *old_tokens = self->tokens;
    ob_rate_limit_t *old_rate = self->rate;
    self->tokens = tokens;
    self->rate = rate;
    pthread_mutex_unlock(&self->lock);
    ob_tokens_destroy(&old_tokens);
    ob_rate_limit_destroy(&old_rate);
    return 0;
}

void
ob_rest_close(ob_rest_t *self)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    if (self->wake_fd >= 0)
        s_wake(self);
    pthread_mutex_unlock(&self->lock);
    ob_rest_streams_close(self->streams);
    if (self->started) {
        pthread_join(self->thread, NULL);
        self->started = 0;
    }
}

void
ob_rest_destroy(ob_rest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_rest_t *self = *self_p;
    ob_rest_close(self);
    ob_rest_streams_destroy(&self->streams);
    ob_client_destroy(&self->client);
    ob_tokens_destroy(&self->tokens);
    ob_rate_limit_destroy(&self->rate);
    free(self->pending);
    free(self->jobs);
    if (self->wake_fd >= 0)
        close(self->wake_fd);
    sodium_memzero(self->key, sizeof self->key);
    free(self->waits);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
