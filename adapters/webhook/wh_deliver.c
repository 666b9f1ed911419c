/*  ob_wh_deliver: one target's delivery engine. See wh_deliver.h.

    One thread runs everything: the actor's pipe, the broker client and libcurl's multi
    handle, all waited on by curl_multi_poll (the pipe's and the client's ZMQ_FD as extra
    descriptors), as the gateway's upstream connector does. A topic holds its deliveries in
    seq order and works on one event at a time, its head, in one of the states below. */
#include "wh_deliver.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"
#include "wh_answer.h"
#include "wh_body.h"
#include "wh_sign.h"

#define S_U64_TEXT 24                /* a u64 in decimal with its NUL */
#define S_HEADER_MAX 160             /* bytes of one request header line we write */
#define S_REASON_MAX 200             /* bytes of a dead letter's reason we write */
#define S_MS_PER_S 1000              /* milliseconds in a second */
#define S_US_PER_MS 1000             /* microseconds in a millisecond */
#define S_RETRY_AFTER "retry-after:" /* the answer header we read (case-insensitive) */
#define S_CLIENT_NAME "orderbus-webhook"

/* Histogram bounds of a POST, in seconds. */
static const double s_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};

typedef enum s_state {
    S_IDLE,      /* nothing in work: the next held delivery may start */
    S_SLOT,      /* the head waits for a free POST slot */
    S_POST,      /* the head's POST is in flight */
    S_NACKED,    /* the head was NACKed: waiting for the broker to bring it back */
    S_PUBLISH,   /* the head's dead letter is published, its confirmation awaited */
    S_REPUBLISH, /* the dead letter was not taken: published again at retry_at_ms */
} s_state_t;

typedef struct s_engine s_engine_t;

typedef struct s_topic {
    s_engine_t *engine;          /* owner */
    char name[OB_TOPIC_MAX + 1]; /* the topic */
    zlistx_t *held;              /* ob_delivery_t *, waiting, in seq order */
    s_state_t state;             /* what the head is doing */
    ob_delivery_t *head;         /* the delivery in work (S_SLOT, S_POST, S_PUBLISH...) */
    uint64_t head_seq;           /* its seq; kept in S_NACKED, where head is NULL */
    uint32_t posts;              /* POSTs of head_seq so far */
    int64_t started_ms;          /* when the POST started */
    int64_t until_ms;            /* S_NACKED: give up waiting; S_REPUBLISH: publish again */
    CURL *easy;                  /* the topic's handle, kept across POSTs (made once) */
    int in_multi;                /* 1 while easy is in the multi handle (S_POST) */
    struct curl_slist *headers;  /* S_POST: its headers */
    char *body;                  /* S_POST: its body */
    char *answer;                /* the answer's first OB_WH_ANSWER_KEEP bytes */
    size_t answer_len;           /* bytes at answer */
    char retry_after[OB_WH_RETRY_AFTER_TEXT_MAX + 1]; /* the answer's Retry-After, or "" */
    size_t retry_after_len;                           /* its bytes, 0 if none */
    char reason[S_REASON_MAX];                        /* S_PUBLISH: why the head is dead-lettered */
    long status;                                      /* the last answer's status, 0 if none */
    int omit_event;                                   /* the dead letter goes without the event */
    uint64_t token;                                   /* S_PUBLISH: the publish */
} s_topic_t;

struct s_engine {
    ob_wh_deliver_config_t cfg;            /* borrowed settings */
    const ob_wh_target_t *target;          /* cfg.target */
    ob_wh_policy_t policy;                 /* its retry policy */
    char sub[OB_SUB_NAME_MAX + 1];         /* webhook-<name> */
    zsock_t *pipe;                         /* the actor's pipe */
    ob_client_t *client;                   /* the broker */
    CURLM *multi;                          /* the POSTs */
    zhashx_t *topics;                      /* name -> s_topic_t (owned) */
    zhashx_t *by_token;                    /* publish token -> s_topic_t (borrowed) */
    zlistx_t *slots;                       /* s_topic_t waiting for a POST slot, in order */
    size_t running;                        /* POSTs in flight */
    size_t held;                           /* deliveries held or in work */
    int subscribed;                        /* the subscription is attached */
    int64_t subscribe_at_ms;               /* when to try subscribing again */
    uint32_t ack_wait_ms;                  /* the subscription's ack_wait_ms */
    int stopping;                          /* $TERM seen: finish what is in flight */
    int curl_due;                          /* POSTs added since curl_multi_perform last ran */
    int client_due;                        /* the client's socket may hold something: drain it */
    int pipe_due;                          /* the pipe may hold a command: read it */
    int64_t looked_ms;                     /* when the client and the pipe were last looked at */
    char session[OB_WIRE_SESSION_MAX + 1]; /* the client's broker session, "" before one */
    int terminated;                        /* the loop ends */
};

static int64_t
s_now_ms(void)
{
    return zclock_mono();
}

/* Counts one of the target's metrics. */
static void
s_count(s_engine_t *self, ob_metric_t *metric, const char *label)
{
    if (metric)
        ob_metric_add(metric, (const char *const[]){self->target->name, label}, 1);
}

static void
s_held_gauge(s_engine_t *self)
{
    if (self->cfg.metrics && self->cfg.metrics->held)
        ob_metric_set(self->cfg.metrics->held, (const char *const[]){self->target->name},
                      (double)self->held);
}

/* --- topics --------------------------------------------------------------------------------- */

/* Takes the topic's POST out of the multi handle (its easy handle stays for the next). */
static void
s_request_end(s_topic_t *topic)
{
    if (topic->in_multi) {
        curl_multi_remove_handle(topic->engine->multi, topic->easy);
        topic->in_multi = 0;
        topic->engine->running--;
    }
}

static void
s_request_free(s_topic_t *topic)
{
    s_request_end(topic);
    curl_slist_free_all(topic->headers);
    topic->headers = NULL;
    free(topic->body);
    topic->body = NULL;
    free(topic->answer);
    topic->answer = NULL;
    topic->answer_len = 0;
    topic->retry_after_len = 0;
    topic->retry_after[0] = '\0';
}

/* zhashx destructor of a topic. */
static void
s_topic_destroy(s_topic_t **topic_p)
{
    s_topic_t *topic = *topic_p;
    if (!topic)
        return;
    s_request_free(topic);
    if (topic->easy)
        curl_easy_cleanup(topic->easy);
    ob_delivery_destroy(&topic->head);
    if (topic->held) {
        for (ob_delivery_t *d = zlistx_first(topic->held); d; d = zlistx_next(topic->held))
            ob_delivery_destroy(&d);
        zlistx_destroy(&topic->held);
    }
    free(topic);
    *topic_p = NULL;
}

/* zlistx comparator of held deliveries: by seq. */
static int
s_seq_compare(const void *a, const void *b)
{
    uint64_t x = ((const ob_delivery_t *)a)->seq, y = ((const ob_delivery_t *)b)->seq;
    return x < y ? -1 : x > y;
}

static s_topic_t *
s_topic_get(s_engine_t *self, const char *name)
{
    s_topic_t *topic = zhashx_lookup(self->topics, name);
    if (topic)
        return topic;
    topic = calloc(1, sizeof *topic);
    if (!topic)
        return NULL;
    topic->engine = self;
    snprintf(topic->name, sizeof topic->name, "%s", name);
    topic->held = zlistx_new();
    if (topic->held)
        zlistx_set_comparator(topic->held, s_seq_compare);
    if (!topic->held || zhashx_insert(self->topics, topic->name, topic)) {
        s_topic_destroy(&topic);
        return NULL;
    }
    return topic;
}

/* The head is done (acked, or left to the broker): the topic takes its next one. */
static void s_topic_next(s_topic_t *topic);

static void
s_head_done(s_topic_t *topic)
{
    s_engine_t *self = topic->engine;
    s_request_free(topic);
    ob_delivery_destroy(&topic->head);
    topic->state = S_IDLE;
    topic->posts = 0;
    topic->omit_event = 0;
    self->held--;
    s_held_gauge(self);
    s_topic_next(topic);
}

/* --- dead letters --------------------------------------------------------------------------- */

/* Publishes the head's dead letter (topic->reason, status, answer). */
static void
s_publish(s_topic_t *topic)
{
    s_engine_t *self = topic->engine;
    ob_wh_meta_t meta = {self->target->name, topic->name, topic->head->seq,
                         topic->posts ? topic->posts : 1};
    ob_wh_dead_t dead = {topic->reason,     topic->status, topic->answer,
                         topic->answer_len, topic->posts,  topic->omit_event};
    uint8_t *buf = NULL;
    size_t len = 0;
    ob_event_t *letter = NULL;
    int rc = ob_wh_dead_letter(topic->head->event, topic->head->event_len, &meta, &dead,
                               (uint64_t)zclock_time() * S_US_PER_MS, &buf, &len);
    if (rc == OB_ERR_TOO_LARGE && !topic->omit_event) {
        topic->omit_event = 1;
        s_publish(topic);
        return;
    }
    if (rc == 0)
        rc = ob_event_decode(buf, len, &letter);
    if (rc == 0)
        rc = ob_client_publish_async(self->client, letter, &topic->token);
    self->client_due = 1;
    ob_event_destroy(&letter);
    free(buf);
    if (rc) {
        zsys_warning("target %s: %s seq %" PRIu64 ": dead letter not published: %s", self->sub,
                     topic->name, topic->head->seq, ob_strerror(rc));
        topic->state = S_REPUBLISH;
        topic->until_ms = s_now_ms() + OB_WH_PUBLISH_RETRY_MS;
        return;
    }
    char token[S_U64_TEXT];
    snprintf(token, sizeof token, "%" PRIu64, topic->token);
    zhashx_update(self->by_token, token, topic);
    topic->state = S_PUBLISH;
}

/* Dead-letters the head for reason (a printf format). */
static void s_dead(s_topic_t *topic, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void
s_dead(s_topic_t *topic, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(topic->reason, sizeof topic->reason, format, args);
    va_end(args);
    zsys_warning("target %s: %s seq %" PRIu64 " dead-lettered to " OB_WH_DLQ_PREFIX "%s: %s",
                 topic->engine->sub, topic->name, topic->head->seq, topic->engine->target->name,
                 topic->reason);
    s_publish(topic);
}

/* The broker answered the publish of topic's dead letter. */
static void
s_confirmed(s_topic_t *topic, const ob_confirm_t *confirm)
{
    s_engine_t *self = topic->engine;
    char token[S_U64_TEXT];
    snprintf(token, sizeof token, "%" PRIu64, confirm->token);
    zhashx_delete(self->by_token, token);
    if (topic->state != S_PUBLISH || !topic->head)
        return;
    if (confirm->rc == OB_ERR_TOO_LARGE && !topic->omit_event) {
        topic->omit_event = 1;
        s_publish(topic);
        return;
    }
    if (confirm->rc) {
        zsys_warning("target %s: %s seq %" PRIu64 ": the broker refused its dead letter: %s %s",
                     self->sub, topic->name, topic->head->seq, ob_strerror(confirm->rc),
                     ob_client_last_reason(self->client));
        topic->state = S_REPUBLISH;
        topic->until_ms = s_now_ms() + OB_WH_PUBLISH_RETRY_MS;
        return;
    }
    ob_client_ack(self->client, topic->head);
    self->client_due = 1;
    s_count(self, self->cfg.metrics ? self->cfg.metrics->deliveries : NULL, "dead_lettered");
    s_head_done(topic);
}

/* --- POSTs ---------------------------------------------------------------------------------- */

static size_t
s_on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_topic_t *topic = arg;
    size_t n = size * nmemb;
    size_t room = OB_WH_ANSWER_KEEP - topic->answer_len;
    size_t take = n < room ? n : room; /* the rest is read and dropped */
    if (take) {
        if (!topic->answer && !(topic->answer = malloc(OB_WH_ANSWER_KEEP)))
            return n; /* the answer's text is only for a dead letter: go without it */
        memcpy(topic->answer + topic->answer_len, data, take);
        topic->answer_len += take;
    }
    return n;
}

static size_t
s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    s_topic_t *topic = arg;
    size_t n = size * nmemb;
    size_t name = sizeof S_RETRY_AFTER - 1;
    if (n > name && !strncasecmp(data, S_RETRY_AFTER, name)) {
        size_t len = n - name;
        while (len && (data[name + len - 1] == '\n' || data[name + len - 1] == '\r'))
            len--;
        if (len <= OB_WH_RETRY_AFTER_TEXT_MAX) { /* longer: no valid value, ignored */
            memcpy(topic->retry_after, data + name, len);
            topic->retry_after[len] = '\0';
            topic->retry_after_len = len;
        }
    }
    return n;
}

/* Appends "name: value" to topic's headers. Returns 0 or -ENOMEM. */
static int
s_header(s_topic_t *topic, const char *name, const char *value)
{
    char line[S_HEADER_MAX + OB_WH_SIGNATURE_TEXT];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(topic->headers, line);
    if (!l)
        return -ENOMEM;
    topic->headers = l;
    return 0;
}

static void s_put_back(s_topic_t *topic, uint32_t delay_ms);

/* Makes topic's easy handle with the options every POST of the target shares. Returns it
   (the topic's to clean up) or NULL (no memory). */
static CURL *
s_easy_new(s_topic_t *topic)
{
    const ob_wh_target_t *target = topic->engine->target;
    CURL *easy = curl_easy_init();
    if (!easy)
        return NULL;
    long timeout = (long)target->timeout_ms;
    curl_easy_setopt(easy, CURLOPT_URL, target->url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < OB_WH_CONNECT_MS_MAX ? timeout : (long)OB_WH_CONNECT_MS_MAX);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* a 3xx is a failure (retried) */
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, topic);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, topic);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, topic);
    return easy;
}

/* Builds and starts the head's POST. */
static void
s_post(s_topic_t *topic)
{
    s_engine_t *self = topic->engine;
    const ob_wh_target_t *target = self->target;
    ob_event_t *event = NULL;
    int rc = ob_delivery_decode(topic->head, &event);
    if (rc) {
        s_dead(topic, "the event does not decode: %s", ob_strerror(rc));
        return;
    }
    char id[OB_WH_ID_TEXT];
    size_t body_len = 0;
    ob_wh_meta_t meta = {target->name, topic->name, topic->head->seq, topic->posts + 1};
    rc = ob_wh_id(topic->name, event->id, strlen(event->id), id);
    if (rc == 0)
        rc = ob_wh_body(event, &meta, &topic->body, &body_len);
    ob_event_destroy(&event);
    if (rc == -ENOMEM)
        goto later;
    if (rc) {
        s_dead(topic, "no body can be made of the event: %s", ob_strerror(rc));
        return;
    }
    char stamp[S_U64_TEXT];
    uint64_t now_s = (uint64_t)time(NULL);
    snprintf(stamp, sizeof stamp, "%" PRIu64, now_s);
    char signature[OB_WH_SIGNATURE_TEXT];
    if (ob_wh_sign(&target->secrets, id, now_s, topic->body, body_len, signature)) {
        s_dead(topic, "cannot sign (no valid secret)");
        return;
    }
    if (s_header(topic, "Content-Type", "application/json") ||
        s_header(topic, "User-Agent", S_CLIENT_NAME "/" OB_VERSION_STRING) ||
        s_header(topic, "webhook-id", id) || s_header(topic, "webhook-timestamp", stamp) ||
        s_header(topic, "webhook-signature", signature))
        goto later;
    struct curl_slist *l = curl_slist_append(topic->headers, "Expect:"); /* no 100-continue */
    if (!l)
        goto later;
    topic->headers = l;
    /* One easy handle per topic, its fixed options set once: a handle and its parsed URL
       made for every POST cost more than the POST's own work on a keep-alive connection. */
    if (!topic->easy && !(topic->easy = s_easy_new(topic)))
        goto later;
    CURL *easy = topic->easy;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, topic->headers);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, topic->body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK)
        goto later;
    topic->in_multi = 1;
    self->curl_due = 1;
    topic->started_ms = s_now_ms();
    topic->state = S_POST;
    self->running++;
    return;
later: /* out of memory: the broker brings it back */
    zsys_error("target %s: %s seq %" PRIu64 ": out of memory for the POST", self->sub, topic->name,
               topic->head->seq);
    s_put_back(topic, OB_WH_PUBLISH_RETRY_MS);
}

/* Hands the head back to the broker, to come again in delay_ms: the topic waits for it. */
static void
s_put_back(s_topic_t *topic, uint32_t delay_ms)
{
    s_engine_t *self = topic->engine;
    s_request_free(topic);
    ob_client_nack(self->client, topic->head, delay_ms);
    self->client_due = 1;
    ob_delivery_destroy(&topic->head);
    self->held--;
    s_held_gauge(self);
    topic->state = S_NACKED;
    topic->until_ms = s_now_ms() + (int64_t)delay_ms + self->ack_wait_ms + OB_WH_UNBLOCK_SLACK_MS;
}

/* Starts the head's POST now, or queues it for a slot. */
static void
s_post_or_wait(s_topic_t *topic)
{
    s_engine_t *self = topic->engine;
    if (self->running < OB_WH_INFLIGHT_MAX && zlistx_size(self->slots) == 0) {
        s_post(topic);
        return;
    }
    if (!zlistx_add_end(self->slots, topic)) { /* no memory: as good as a NACK */
        s_put_back(topic, OB_WH_PUBLISH_RETRY_MS);
        return;
    }
    topic->state = S_SLOT;
}

/* Gives free slots to the topics waiting for one, in order. */
static void
s_slots_fill(s_engine_t *self)
{
    while (self->running < OB_WH_INFLIGHT_MAX && zlistx_size(self->slots)) {
        s_topic_t *topic = zlistx_first(self->slots);
        zlistx_delete(self->slots, zlistx_cursor(self->slots));
        if (topic->state == S_SLOT && topic->head)
            s_post(topic);
    }
}

static void
s_topic_next(s_topic_t *topic)
{
    s_engine_t *self = topic->engine;
    if (topic->state != S_IDLE || self->stopping)
        return;
    ob_delivery_t *d = zlistx_first(topic->held);
    if (!d) { /* nothing held: forget the topic (its name comes back with its next event) */
        zhashx_delete(self->topics, topic->name);
        return;
    }
    zlistx_delete(topic->held, zlistx_cursor(topic->held));
    if (d->seq != topic->head_seq)
        topic->posts = 0;
    topic->head = d;
    topic->head_seq = d->seq;
    s_post_or_wait(topic);
}

/* The head's POST ended: code is curl's result, status the HTTP status. */
static void
s_answered(s_topic_t *topic, CURLcode code, long status)
{
    s_engine_t *self = topic->engine;
    const ob_wh_metrics_t *m = self->cfg.metrics;
    if (m && m->latency)
        ob_metric_observe(m->latency, (const char *const[]){self->target->name},
                          (double)(s_now_ms() - topic->started_ms) / S_MS_PER_S);
    if (code != CURLE_OK)
        status = 0;
    char status_class[S_U64_TEXT] = "none";
    if (status >= OB_WH_HTTP_STATUS_MIN && status <= OB_WH_HTTP_STATUS_MAX)
        snprintf(status_class, sizeof status_class, "%ldxx", status / 100);
    s_count(self, m ? m->requests : NULL, status_class);
    topic->posts++;
    topic->status = status;
    ob_wh_answer_t answer = {status, topic->retry_after_len ? topic->retry_after : NULL,
                             topic->retry_after_len};
    ob_wh_decision_t decision;
    /* the jitter's draw is a system call (getrandom): only a failure needs one */
    int acked = code == CURLE_OK && status / 100 == 2;
    ob_wh_decide(&self->policy, topic->posts, &answer, (int64_t)time(NULL),
                 acked ? 0 : randombytes_random(), &decision);
    char why[S_REASON_MAX];
    if (code != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror(code));
    else
        snprintf(why, sizeof why, "HTTP %ld", status);
    if (decision.verdict == OB_WH_ACK) {
        ob_client_ack(self->client, topic->head);
        self->client_due = 1;
        s_count(self, m ? m->deliveries : NULL, "acked");
        s_head_done(topic);
        return;
    }
    if (decision.verdict == OB_WH_DEAD) {
        /* the answer stays for the dead letter; the request's other parts go */
        s_request_end(topic);
        if (decision.exhausted)
            s_dead(topic, "%s after %" PRIu32 " attempts", why, topic->posts);
        else
            s_dead(topic, "%s", why);
        return;
    }
    uint64_t delay = decision.delay_ms < OB_DELAY_MS_MAX ? decision.delay_ms : OB_DELAY_MS_MAX;
    zsys_info("target %s: %s seq %" PRIu64 " attempt %" PRIu32 ": %s; again in %" PRIu64 " ms",
              self->sub, topic->name, topic->head->seq, topic->posts, why, delay);
    s_count(self, m ? m->deliveries : NULL, "retried");
    s_put_back(topic, (uint32_t)delay);
}

/* Takes the ended POSTs from the multi handle. */
static void
s_curl_collect(s_engine_t *self)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        s_topic_t *topic = NULL;
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&topic);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        s_answered(topic, msg->data.result, status);
    }
}

/* --- the broker ----------------------------------------------------------------------------- */

/* Inserts d into topic's held deliveries in seq order; a delivery of a seq held already
   replaces it (the newest is the one to ack). Returns 0, or -ENOMEM (d is then destroyed). */
static int
s_hold(s_topic_t *topic, ob_delivery_t *d)
{
    s_engine_t *self = topic->engine;
    for (ob_delivery_t *h = zlistx_last(topic->held); h && h->seq >= d->seq;
         h = zlistx_prev(topic->held))
        if (h->seq == d->seq) {
            zlistx_delete(topic->held, zlistx_cursor(topic->held)); /* no destructor: ours */
            ob_delivery_destroy(&h);
            self->held--;
            break;
        }
    if (!zlistx_insert(topic->held, d, false)) { /* from the end: usually the newest */
        ob_delivery_destroy(&d);
        return -ENOMEM;
    }
    self->held++;
    return 0;
}

/* A delivery arrived: d is taken. */
static void
s_on_delivery(s_engine_t *self, ob_delivery_t *d)
{
    s_topic_t *topic = s_topic_get(self, d->topic);
    if (!topic) { /* not acked: it comes again after ack_wait_ms */
        zsys_error("target %s: out of memory for a delivery of %s", self->sub, d->topic);
        ob_delivery_destroy(&d);
        return;
    }
    if (topic->head && topic->head->seq == d->seq) { /* a redelivery of the head in work */
        ob_delivery_destroy(&topic->head);
        topic->head = d;
        return;
    }
    if (topic->state == S_NACKED && d->seq == topic->head_seq) { /* the NACKed head is back */
        topic->head = d;
        self->held++;
        s_held_gauge(self);
        s_post_or_wait(topic);
        return;
    }
    if (s_hold(topic, d))
        zsys_error("target %s: out of memory for a delivery of %s", self->sub, topic->name);
    s_held_gauge(self);
    s_topic_next(topic);
}

static void s_session_check(s_engine_t *self);

/* Subscribes when it is time to. */
static void
s_subscribe(s_engine_t *self)
{
    if (self->subscribed || self->stopping || s_now_ms() < self->subscribe_at_ms)
        return;
    const ob_wh_target_t *t = self->target;
    const char *patterns[OB_SUB_PATTERNS_MAX];
    const char *types[OB_SUB_TYPES_MAX];
    for (size_t i = 0; i < t->pattern_count; i++)
        patterns[i] = t->patterns[i];
    for (size_t i = 0; i < t->type_count; i++)
        types[i] = t->types[i];
    ob_sub_options_t opts = {.patterns = patterns,
                             .pattern_count = t->pattern_count,
                             .types = t->type_count ? types : NULL,
                             .type_count = t->type_count,
                             .start = OB_START_EARLIEST,
                             .credit = OB_WH_CREDIT,
                             .ack_wait_ms = self->ack_wait_ms,
                             .max_attempts = OB_ATTEMPTS_UNLIMITED};
    int rc = ob_client_connect(self->client, OB_WH_BROKER_MS);
    if (rc == 0)
        rc = ob_client_subscribe(self->client, self->sub, &opts, NULL, NULL);
    if (rc) {
        const char *reason = ob_client_last_reason(self->client);
        zsys_warning("target %s: cannot subscribe: %s%s%s%s", self->sub, ob_strerror(rc),
                     reason[0] ? ": " : "", reason,
                     rc == OB_ERR_SUBSCRIPTION_EXISTS
                         ? " (its patterns or types changed: delete the subscription, or "
                           "rename the target)"
                         : "");
        self->subscribe_at_ms = s_now_ms() + OB_WH_SUBSCRIBE_RETRY_MS;
        return;
    }
    self->subscribed = 1;
    self->client_due = 1;
    s_session_check(self);
    zsys_info("target %s: subscribed, POSTing to %s", self->sub, t->url);
}

/* Notices a new broker session (the broker restarted, or the client replaced a silent
   connection): the broker delivers again every event not acked, and the client sends no ack
   for a delivery of the old session, so the held deliveries of the old session are dropped
   rather than POSTed twice. The heads in work stay: a redelivery of a head replaces it
   (s_on_delivery), and its ack then counts. Call before taking a delivery of the new one. */
static void
s_session_check(s_engine_t *self)
{
    const char *session = ob_client_session(self->client);
    if (!strcmp(session, self->session))
        return;
    size_t dropped = 0;
    if (self->session[0])
        for (s_topic_t *t = zhashx_first(self->topics); t; t = zhashx_next(self->topics))
            for (ob_delivery_t *d = zlistx_first(t->held); d; d = zlistx_first(t->held)) {
                zlistx_delete(t->held, zlistx_cursor(t->held)); /* no destructor: ours */
                ob_delivery_destroy(&d);
                dropped++;
            }
    if (dropped) {
        self->held -= dropped;
        s_held_gauge(self);
        zsys_info("target %s: new broker session: %zu held deliveries left to the broker's "
                  "redelivery",
                  self->sub, dropped);
    }
    snprintf(self->session, sizeof self->session, "%s", session);
}

/* Takes every delivery and confirmation the client holds. */
static void
s_client_drain(s_engine_t *self)
{
    ob_confirm_t confirm;
    /* only dead letters are published: with none in flight, a look costs system calls */
    while (ob_client_pending(self->client) &&
           ob_client_confirm_next(self->client, 0, &confirm) == 0) {
        char token[S_U64_TEXT];
        snprintf(token, sizeof token, "%" PRIu64, confirm.token);
        s_topic_t *topic = zhashx_lookup(self->by_token, token);
        if (topic)
            s_confirmed(topic, &confirm);
    }
    ob_delivery_t *d = NULL;
    int rc;
    while ((rc = ob_client_receive(self->client, 0, &d)) != OB_ERR_TIMEOUT) {
        if (rc == 0) {
            s_session_check(self);
            if (self->stopping) /* not acked: it comes again at the next start */
                ob_delivery_destroy(&d);
            else
                s_on_delivery(self, d);
        } else if (rc == -EINTR || rc == OB_ERR_CLOSED) {
            break;
        } else {
            zsys_warning("target %s: subscription lost: %s", self->sub, ob_strerror(rc));
            self->subscribed = 0;
            self->subscribe_at_ms = s_now_ms();
        }
    }
}

/* Runs the timers of the topics: NACKed heads that never came back, dead letters to publish
   again. Writes the time of the next one to *ret_next_ms. */
static void
s_timers(s_engine_t *self, int64_t *ret_next_ms)
{
    int64_t now = s_now_ms();
    int64_t next = now + OB_WH_POLL_MS;
    zlistx_t *due = NULL; /* the hash cannot change while it is walked; made when needed */
    for (s_topic_t *t = zhashx_first(self->topics); t; t = zhashx_next(self->topics)) {
        if (t->state != S_NACKED && t->state != S_REPUBLISH)
            continue;
        if (t->until_ms > now) {
            if (t->until_ms < next)
                next = t->until_ms;
        } else if ((due || (due = zlistx_new())) && !zlistx_add_end(due, t))
            next = now; /* no memory: it is due again at the next turn */
    }
    for (s_topic_t *t = due ? zlistx_first(due) : NULL; t; t = zlistx_next(due)) {
        if (t->state == S_REPUBLISH) {
            s_publish(t);
            continue;
        }
        zsys_warning("target %s: %s seq %" PRIu64 " was NACKed and has not come back: going on",
                     self->sub, t->name, t->head_seq);
        t->state = S_IDLE;
        s_topic_next(t);
    }
    zlistx_destroy(&due);
    *ret_next_ms = next;
}

/* --- the actor ------------------------------------------------------------------------------ */

static void
s_engine_destroy(s_engine_t **self_p)
{
    s_engine_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->slots);
    zhashx_destroy(&self->by_token);
    zhashx_destroy(&self->topics); /* removes every request from the multi handle */
    if (self->multi)
        curl_multi_cleanup(self->multi);
    ob_client_destroy(&self->client);
    free(self);
    *self_p = NULL;
}

static s_engine_t *
s_engine_new(const ob_wh_deliver_config_t *config)
{
    s_engine_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *config;
    self->target = config->target;
    self->policy = ob_wh_config_policy(config->target);
    snprintf(self->sub, sizeof self->sub, OB_WH_SUB_PREFIX "%s", config->target->name);
    uint64_t ack_wait = config->target->timeout_ms * OB_WH_ACK_WAIT_FACTOR;
    if (ack_wait < OB_WH_ACK_WAIT_MS_MIN)
        ack_wait = OB_WH_ACK_WAIT_MS_MIN;
    self->ack_wait_ms = (uint32_t)(ack_wait < OB_DELAY_MS_MAX ? ack_wait : OB_DELAY_MS_MAX);
    self->topics = zhashx_new();
    if (self->topics)
        zhashx_set_destructor(self->topics, (zhashx_destructor_fn *)s_topic_destroy);
    self->by_token = zhashx_new();
    self->slots = zlistx_new();
    self->multi = curl_multi_init();
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .timeout_ms = OB_WH_BROKER_MS,
                             .cert = config->cert,
                             .broker_cert = config->broker_cert};
    self->client = ob_client_new(config->endpoint, &cc);
    if (!self->topics || !self->by_token || !self->slots || !self->multi || !self->client) {
        zsys_error("target %s: cannot start (out of memory, or no client for %s)", self->sub,
                   config->endpoint);
        s_engine_destroy(&self);
    }
    return self;
}

static void
s_on_pipe(s_engine_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    if (!msg || (command && !strcmp(command, "$TERM")))
        self->stopping = 1;
    else if (command && !strcmp(command, "STATUS"))
        zstr_send(self->pipe, self->subscribed ? "ready" : "connecting");
    else
        zsys_warning("target %s: unknown command on its pipe", self->sub);
    free(command);
    zmsg_destroy(&msg);
}

typedef struct s_start {
    const ob_wh_deliver_config_t *config; /* borrowed */
    int rc;                               /* set by the actor before it signals */
} s_start_t;

/* Returns 1 once nothing is in flight: no POST, no dead letter unconfirmed. */
static int
s_quiet(s_engine_t *self)
{
    return self->running == 0 && zhashx_size(self->by_token) == 0;
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_start_t *start = arg;
    s_engine_t *self = s_engine_new(start->config);
    start->rc = self ? 0 : -1;
    zsock_signal(pipe, 0);
    if (!self)
        return;
    self->pipe = pipe;
    int64_t stop_by = 0;
    self->pipe_due = self->client_due = 1;
    /* Each look at a ZeroMQ socket is a system call or two (libzmq polls its mailbox), so
       the pipe and the client are read when their descriptor signalled, when something was
       sent on the client (a send can take the descriptor's edge for what arrived before
       it), and at least every OB_WH_POLL_MS (heartbeats); and curl_multi_poll is skipped
       while POSTs just added wait to be sent. */
    while (!self->terminated) {
        int64_t now = s_now_ms();
        int tick = now - self->looked_ms >= OB_WH_POLL_MS;
        if (tick)
            self->looked_ms = now;
        if (self->pipe_due || tick) {
            self->pipe_due = 0;
            while (!self->stopping && (zsock_events(pipe) & ZMQ_POLLIN))
                s_on_pipe(self);
        }
        if (self->stopping && !stop_by) {
            /* POSTs end within their timeout; then dead letters get a little longer */
            stop_by = s_now_ms() + (int64_t)self->target->timeout_ms + OB_WH_STOP_CONFIRM_MS;
            zlistx_purge(self->slots); /* not started: left to the broker */
        }
        s_subscribe(self);
        int still;
        self->curl_due = 0;
        curl_multi_perform(self->multi, &still);
        s_curl_collect(self);
        int64_t next_ms;
        s_timers(self, &next_ms);
        s_slots_fill(self);
        if (self->client_due || tick) {
            self->client_due = 0;
            s_client_drain(self);
        }
        if (self->stopping && (s_quiet(self) || s_now_ms() >= stop_by))
            break;
        if (self->curl_due || self->client_due)
            continue;
        int64_t wait = next_ms - s_now_ms();
        if (!self->subscribed && !self->stopping && self->subscribe_at_ms < next_ms)
            wait = self->subscribe_at_ms - s_now_ms();
        int64_t look = self->looked_ms + OB_WH_POLL_MS - s_now_ms();
        if (look < wait)
            wait = look;
        /* Once stopping, the pipe is no longer read (zactor_destroy's own $TERM may wait in
           it and would wake every poll): only the broker's answers are waited for. */
        struct curl_waitfd fds[2] = {
            {.fd = ob_client_fd(self->client), .events = CURL_WAIT_POLLIN},
            {.fd = zsock_fd(pipe), .events = CURL_WAIT_POLLIN},
        };
        curl_multi_poll(self->multi, fds, self->stopping ? 1 : 2,
                        wait < 0               ? 0
                        : wait > OB_WH_POLL_MS ? OB_WH_POLL_MS
                                               : (int)wait,
                        NULL);
        if (fds[0].revents)
            self->client_due = 1;
        if (fds[1].revents)
            self->pipe_due = 1;
    }
    if (!s_quiet(self))
        zsys_warning("target %s: stopped with %zu POSTs and %zu dead letters in flight (they come "
                     "again at the next start)",
                     self->sub, self->running, zhashx_size(self->by_token));
    s_engine_destroy(&self);
    /* zactor_destroy's $TERM may still be unread: the pipe goes with the actor */
}

zactor_t *
ob_wh_deliver_start(const ob_wh_deliver_config_t *config)
{
    s_start_t start = {.config = config, .rc = -1};
    zactor_t *actor = zactor_new(s_actor, &start);
    if (actor && start.rc)
        zactor_destroy(&actor);
    return actor;
}

int
ob_wh_metrics_register(ob_metrics_t *registry, ob_wh_metrics_t *ret_metrics)
{
    static const char *const outcome_labels[] = {"target", "outcome"};
    static const char *const status_labels[] = {"target", "status"};
    static const char *const target_labels[] = {"target"};
    ob_wh_metrics_t m = {
        .deliveries = ob_metrics_counter(registry, "orderbus_webhook_deliveries_total",
                                         "Events of a target ended or put back, by outcome: "
                                         "acked (2xx), retried (NACKed for later), "
                                         "dead_lettered",
                                         outcome_labels, 2, OB_WH_METRIC_SERIES),
        .requests = ob_metrics_counter(registry, "orderbus_webhook_requests_total",
                                       "POSTs to a target, by status class (1xx..5xx, none: "
                                       "timeout or no connection)",
                                       status_labels, 2, OB_WH_METRIC_SERIES),
        .latency = ob_metrics_histogram(registry, "orderbus_webhook_request_seconds",
                                        "Duration of the POSTs to a target, in seconds",
                                        target_labels, 1, OB_WH_METRIC_SERIES, s_latency_bounds,
                                        sizeof s_latency_bounds / sizeof s_latency_bounds[0]),
        .held = ob_metrics_gauge(registry, "orderbus_webhook_held",
                                 "Events of a target received and not yet done", target_labels, 1,
                                 OB_WH_METRIC_SERIES),
    };
    if (!m.deliveries || !m.requests || !m.latency || !m.held)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_metrics = m;
    return 0;
}
