/*  test_webhook: orderbus-webhook end to end: a real orderbus-broker and the adapter as
    processes on ephemeral loopback ports in a scratch directory, and a receiver in this
    process (libmicrohttpd on a free port) that checks every signature itself, with libsodium's
    HMAC and the key it holds, without the adapter's code, then answers as each test scripts
    it (an event id may get a list of statuses, one per arrival; then 200).

    The adapter signs with two secrets (a rotation: a new one first); the receiver knows only
    the old one, so each accepted delivery also shows that every secret signs. A delivery is
    "accepted" when the receiver answers 2xx; the tests count accepted deliveries by
    webhook-id (the receiver's dedup key) and check the order of the first acceptance of each
    event per topic. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "broker_proc.h"
#include "daemon_proc.h"
#include "orderbus/client.h"
#include "orderbus/event_json.h"
#include "orderbus/orderbus.h"

#ifdef OB_TEST_SLOW
#define T_WAIT_MS 60000 /* longest wait for deliveries: a sanitizer build */
#else
#define T_WAIT_MS 20000 /* longest wait for deliveries */
#endif
#define T_POLL_MS 10         /* between two scrapes of /metrics */
#define T_PATH_MAX 1024      /* bytes of a path */
#define T_RECORDS_MAX 4096   /* requests one test may record */
#define T_SCRIPT_MAX 16      /* scripted event ids */
#define T_ANSWERS_MAX 8      /* scripted statuses of one event */
#define T_BODY_MAX 65536     /* bytes of a request body the receiver reads */
#define T_SKEW_S 300         /* the receiver's timestamp tolerance (the spec's) */
#define T_KEY_BYTES 32       /* the receiver's key */
#define T_SIG_TOKEN_MAX 128  /* bytes of one signature token */
#define T_SLOW_MS 5          /* the slow receiver's answer time (kill -9 test) */
#define T_HANG_MS 3000       /* what /hang takes to answer: over the hung target's timeout */
#define T_FAST_MS 2500       /* the other target's events all arrive within this */
#define T_DOWN_MS 30000      /* the receiver's outage */
#define T_DOWN_ATTEMPTS 1000 /* max_attempts of the outage's target: more than it takes */
/* The adapter's secrets: a new one (which the receiver does not know) and the old one, the
   base64 of bytes 0..31 (T_KEY below). */
#define T_SECRETS                                                                                  \
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"                                                     \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

/* One request the receiver answered. */
typedef struct t_record {
    char webhook_id[80]; /* its webhook-id */
    char event_id[64];   /* data.id */
    char topic[64];      /* delivery.topic */
    char target[32];     /* delivery.target */
    uint64_t seq;        /* delivery.seq */
    unsigned attempt;    /* delivery.attempt */
    unsigned status;     /* what the receiver answered */
} t_record_t;

/* A scripted event: the statuses of its first arrivals, then 200. */
typedef struct t_script {
    char event_id[64];                /* the event */
    unsigned statuses[T_ANSWERS_MAX]; /* answers in turn */
    size_t count;                     /* statuses */
    size_t used;                      /* arrivals so far */
    const char *retry_after;          /* a Retry-After with each scripted answer, or NULL */
} t_script_t;

typedef struct t_receiver {
    struct MHD_Daemon *daemon;         /* the server */
    uint16_t port;                     /* its port */
    pthread_mutex_t lock;              /* guards what follows */
    pthread_cond_t changed;            /* broadcast at each record */
    t_record_t records[T_RECORDS_MAX]; /* requests answered, in order */
    long count;                        /* records */
    long accepted;                     /* records answered 2xx */
    long bad;                          /* requests whose signature, headers or body did not check */
    int slow_ms;                       /* each answer waits this long: a slow receiver */
    t_script_t script[T_SCRIPT_MAX];   /* scripted events */
    size_t scripted;                   /* entries of script */
} t_receiver_t;

/* A request's body as it arrives. */
typedef struct t_upload {
    char *data;  /* bytes so far */
    size_t len;  /* their count */
    int too_big; /* over T_BODY_MAX */
} t_upload_t;

static const uint8_t T_KEY[T_KEY_BYTES] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                           11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                           22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static t_receiver_t s_rx;                       /* large: not on the stack */
static broker_proc_site_t s_site;               /* the broker's scratch directory */
static pid_t s_broker = -1;                     /* the broker */
static ob_client_t *s_pub;                      /* the test's publisher */
static char s_target[32];                       /* the current test's target name */
static char s_adapter_url[DAEMON_PROC_URL_MAX]; /* the running adapter's HTTP server */

/* --- the receiver --------------------------------------------------------------------------- */

/* Checks the Standard Webhooks headers of a request over body: the three headers present,
   the timestamp within T_SKEW_S, one v1 token matching HMAC-SHA256(T_KEY, id.ts.body).
   Returns 1 if it checks. */
static int
s_verify(struct MHD_Connection *c, const char *body, size_t len)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sigs = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
    if (!id || !ts || !sigs || strchr(id, '.'))
        return 0;
    char *end = NULL;
    long long stamp = strtoll(ts, &end, 10);
    if (*end || llabs((long long)time(NULL) - stamp) > T_SKEW_S)
        return 0;
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, T_KEY, sizeof T_KEY);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)ts, strlen(ts));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    char want[T_SIG_TOKEN_MAX];
    sodium_bin2base64(want, sizeof want, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    /* split on spaces; each token is VERSION,SIGNATURE; only v1 counts */
    int tokens = 0, match = 0;
    for (const char *p = sigs; *p;) {
        size_t n = strcspn(p, " ");
        tokens++;
        if (n > 3 && !strncmp(p, "v1,", 3) && n - 3 == strlen(want) &&
            sodium_memcmp(p + 3, want, n - 3) == 0)
            match = 1;
        p += n;
        p += strspn(p, " ");
    }
    return match && tokens == 2; /* one token per secret */
}

/* Answers the scripted status of event_id's next arrival (and its Retry-After), else 200. */
static unsigned
s_decide(const char *event_id, const char **ret_retry_after)
{
    *ret_retry_after = NULL;
    for (size_t i = 0; i < s_rx.scripted; i++) {
        t_script_t *s = &s_rx.script[i];
        if (strcmp(s->event_id, event_id) || s->used >= s->count)
            continue;
        *ret_retry_after = s->retry_after;
        return s->statuses[s->used++];
    }
    return MHD_HTTP_OK;
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    t_upload_t *up = *con_cls;
    if (!up) {
        if (!(up = calloc(1, sizeof *up)))
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (up->len + n > T_BODY_MAX) {
            up->too_big = 1;
            return MHD_YES;
        }
        char *p = realloc(up->data, up->len + n + 1);
        if (!p)
            return MHD_NO;
        memcpy(p + up->len, upload_data, n);
        up->data = p;
        up->len += n;
        up->data[up->len] = '\0';
        return MHD_YES;
    }
    t_record_t rec;
    memset(&rec, 0, sizeof rec);
    int ok = !strcmp(method, "POST") && !up->too_big && up->data && s_verify(c, up->data, up->len);
    json_t *root = ok ? json_loadb(up->data, up->len, 0, NULL) : NULL;
    const char *wid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
    const char *eid = json_string_value(json_object_get(json_object_get(root, "data"), "id"));
    json_t *delivery = json_object_get(root, "delivery");
    const char *topic = json_string_value(json_object_get(delivery, "topic"));
    if (!eid || !topic || !wid)
        ok = 0;
    else {
        snprintf(rec.webhook_id, sizeof rec.webhook_id, "%s", wid);
        snprintf(rec.event_id, sizeof rec.event_id, "%s", eid);
        snprintf(rec.topic, sizeof rec.topic, "%s", topic);
        snprintf(rec.target, sizeof rec.target, "%s",
                 json_string_value(json_object_get(delivery, "target")));
        rec.seq = (uint64_t)json_integer_value(json_object_get(delivery, "seq"));
        rec.attempt = (unsigned)json_integer_value(json_object_get(delivery, "attempt"));
    }
    json_decref(root);
    const char *retry_after = NULL;
    pthread_mutex_lock(&s_rx.lock);
    int slow_ms = s_rx.slow_ms;
    pthread_mutex_unlock(&s_rx.lock);
    if (!strcmp(url, "/hang"))
        slow_ms = T_HANG_MS;
    if (slow_ms)
        zclock_sleep(slow_ms); /* the slow receiver this test plays */
    pthread_mutex_lock(&s_rx.lock);
    unsigned status = ok ? s_decide(rec.event_id, &retry_after) : MHD_HTTP_UNAUTHORIZED;
    rec.status = status;
    if (!ok)
        s_rx.bad++;
    else if (s_rx.count < T_RECORDS_MAX) {
        s_rx.records[s_rx.count++] = rec;
        if (status / 100 == 2)
            s_rx.accepted++;
    }
    pthread_cond_broadcast(&s_rx.changed);
    pthread_mutex_unlock(&s_rx.lock);
    const char *text = status == MHD_HTTP_BAD_REQUEST ? "{\"error\":\"refused by the test\"}" : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", retry_after);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static void
s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    t_upload_t *up = *con_cls;
    if (up) {
        free(up->data);
        free(up);
    }
    *con_cls = NULL;
}

/* Starts the receiver on port (0: an ephemeral one, the first time). */
static void
s_receiver_start(uint16_t port)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    /* a thread per connection: a hung answer (/hang) holds up no other */
    s_rx.daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                       MHD_USE_AUTO,
                                   0, NULL, NULL, s_handle, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                                   MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL, MHD_OPTION_END);
    assert_non_null(s_rx.daemon);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s_rx.daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s_rx.port = info->port;
}

/* Forgets every record and script (between tests). */
static void
s_receiver_reset(void)
{
    pthread_mutex_lock(&s_rx.lock);
    s_rx.count = s_rx.accepted = s_rx.bad = 0;
    s_rx.scripted = 0;
    s_rx.slow_ms = 0;
    pthread_mutex_unlock(&s_rx.lock);
}

/* Scripts event_id's first arrivals: count statuses (varargs), each with retry_after. */
static void
s_script(const char *event_id, const char *retry_after, size_t count, ...)
{
    pthread_mutex_lock(&s_rx.lock);
    t_script_t *s = &s_rx.script[s_rx.scripted++];
    memset(s, 0, sizeof *s);
    snprintf(s->event_id, sizeof s->event_id, "%s", event_id);
    s->retry_after = retry_after;
    va_list args;
    va_start(args, count);
    for (size_t i = 0; i < count; i++)
        s->statuses[i] = va_arg(args, unsigned);
    va_end(args);
    s->count = count;
    pthread_mutex_unlock(&s_rx.lock);
}

/* Returns how many distinct webhook-ids were accepted (answered 2xx). Holds the lock. */
static long
s_distinct_accepted_locked(void)
{
    long n = 0;
    for (long i = 0; i < s_rx.count; i++) {
        if (s_rx.records[i].status / 100 != 2 || strcmp(s_rx.records[i].target, s_target))
            continue;
        long j = 0;
        while (j < i && (s_rx.records[j].status / 100 != 2 ||
                         strcmp(s_rx.records[j].webhook_id, s_rx.records[i].webhook_id)))
            j++;
        n += j == i;
    }
    return n;
}

/* Waits until want distinct events were accepted, or T_WAIT_MS. Returns the number. */
static long
s_wait_accepted(long want)
{
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    pthread_mutex_lock(&s_rx.lock);
    long n;
    while ((n = s_distinct_accepted_locked()) < want) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s_rx.changed, &s_rx.lock, &ts);
    }
    pthread_mutex_unlock(&s_rx.lock);
    return n;
}

/* Checks that, per target and topic, the first acceptance of each event comes in seq order,
   and that every accepted webhook-id names one (topic, seq). */
static void
s_check_order(void)
{
    pthread_mutex_lock(&s_rx.lock);
    for (long i = 0; i < s_rx.count; i++) {
        const t_record_t *r = &s_rx.records[i];
        if (r->status / 100 != 2)
            continue;
        for (long j = 0; j < i; j++) {
            const t_record_t *e = &s_rx.records[j];
            if (e->status / 100 != 2 || strcmp(e->topic, r->topic) || strcmp(e->target, r->target))
                continue;
            if (!strcmp(e->webhook_id, r->webhook_id)) {
                assert_int_equal(e->seq, r->seq); /* a duplicate: the same event */
                break;
            }
            if (e->seq > r->seq) { /* an earlier acceptance of a later event */
                int dup = 0;       /* allowed only if r itself was accepted before e */
                for (long k = 0; k < j; k++)
                    dup |= s_rx.records[k].status / 100 == 2 &&
                           !strcmp(s_rx.records[k].target, r->target) &&
                           !strcmp(s_rx.records[k].webhook_id, r->webhook_id);
                if (!dup)
                    print_error("%s: seq %" PRIu64 " accepted after seq %" PRIu64 "\n", r->topic,
                                r->seq, e->seq);
                assert_true(dup);
            }
        }
    }
    pthread_mutex_unlock(&s_rx.lock);
}

/* --- the adapter ---------------------------------------------------------------------------- */

/* Writes the adapter's configuration for target name into the scratch directory; returns
   its path (static). */
static const char *s_config_extra(const char *name, unsigned port, const char *patterns,
                                  unsigned max_attempts, const char *extra);

static const char *
s_config(const char *name, const char *patterns, unsigned max_attempts)
{
    return s_config_extra(name, s_rx.port, patterns, max_attempts, "");
}

/* The same, its target POSTing to 127.0.0.1:port, with extra (ZPL text: another target
   section) at the end. */
static const char *
s_config_extra(const char *name, unsigned port, const char *patterns, unsigned max_attempts,
               const char *extra)
{
    static char path[T_PATH_MAX];
    char secrets[T_PATH_MAX];
    snprintf(secrets, sizeof secrets, "%s/%s.whsec", s_site.dir, name);
    FILE *f = fopen(secrets, "w");
    assert_non_null(f);
    fputs(T_SECRETS, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.cfg", s_site.dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "webhook\n    listen = 127.0.0.1:0\n"
            "broker\n    endpoint = %s\n"
            "target\n    name = %s\n    url = http://127.0.0.1:%u/hook\n"
            "    secret_file = %s\n    patterns = \"%s\"\n    timeout = 2s\n"
            "    max_attempts = %u\n    backoff = 50ms\n    backoff_max = 500ms\n%s",
            s_site.endpoint, name, port, secrets, patterns, max_attempts, extra);
    fclose(f);
    snprintf(s_target, sizeof s_target, "%s", name);
    return path;
}

/* Starts the adapter with cfg; waits until it serves (its listen file). Returns its pid. */
static pid_t
s_adapter_start(const char *cfg)
{
    pid_t pid = daemon_proc_start(getenv("OB_WEBHOOK"), "orderbus-webhook", s_site.dir, "webhook",
                                  cfg, 1, s_adapter_url);
    assert_true(pid > 0);
    return pid;
}

/* GETs path of the adapter's HTTP server; returns the status and the body in a new string
 *ret_body (the caller frees it). */
static long
s_adapter_get(const char *path, char **ret_body)
{
    char url[DAEMON_PROC_URL_MAX + 32];
    snprintf(url, sizeof url, "%s%s", s_adapter_url, path);
    long status = daemon_proc_get(url, ret_body);
    assert_true(status > 0);
    return status;
}

/* Sends sig to pid and reaps it; returns its wait status. */
static int
s_adapter_stop(pid_t pid, int sig)
{
    int status = daemon_proc_stop(pid, sig);
    assert_int_not_equal(status, -1);
    return status;
}

/* Stops the adapter with SIGTERM and checks that it exited by itself, with status 0. */
static void
s_adapter_stop_clean(pid_t pid)
{
    int status = s_adapter_stop(pid, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Publishes event id on topic with a small JSON body. */
static void
s_publish(const char *topic, const char *id)
{
    static const char data[] = "{\"note\":\"from test_webhook\"}";
    ob_event_t ev = {.id = id,
                     .topic = topic,
                     .type = "project_item.created",
                     .time_us = (uint64_t)zclock_time() * 1000,
                     .source = "test",
                     .oms_id = 1,
                     .data = (const uint8_t *)data,
                     .data_len = sizeof data - 1};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(s_pub, &ev, &confirm), 0);
}

/* Publishes rounds from .. to - 1 of one event on each of the topics PREFIX.0 ..
   PREFIX.(topics - 1), the event i of topic t with id PREFIXt-i. */
static void
s_publish_rounds(const char *prefix, int topics, int from, int to)
{
    char topic[32], id[32];
    for (int i = from; i < to; i++)
        for (int t = 0; t < topics; t++) {
            snprintf(topic, sizeof topic, "%s.%d", prefix, t);
            snprintf(id, sizeof id, "%s%d-%d", prefix, t, i);
            s_publish(topic, id);
        }
}

/* The first events rounds (see s_publish_rounds). */
static void
s_publish_run(const char *prefix, int topics, int events)
{
    s_publish_rounds(prefix, topics, 0, events);
}

/* Reads the first count dead letters of target (webhook-dlq.<target>) through an ephemeral
   subscription from the topic's start, waiting for each (T_WAIT_MS), checks their type and
   id, and returns their data as JSON in letters (the caller decrefs each). */
static void
s_dead_letters(const char *target, size_t count, json_t **letters)
{
    char topic[64];
    snprintf(topic, sizeof topic, "webhook-dlq.%s", target);
    ob_client_config_t cc = {.name = "test-webhook-dlq", .timeout_ms = T_WAIT_MS};
    ob_client_t *reader = ob_client_new(s_site.endpoint, &cc);
    assert_non_null(reader);
    assert_int_equal(ob_client_connect(reader, T_WAIT_MS), 0);
    const char *patterns[] = {topic};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(reader, NULL, &opts, NULL, NULL), 0);
    for (size_t i = 0; i < count; i++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(reader, T_WAIT_MS, &d), 0);
        ob_event_t *letter = NULL;
        assert_int_equal(ob_delivery_decode(d, &letter), 0);
        assert_string_equal(letter->type, "webhook.dead_letter");
        assert_string_equal(letter->source, "orderbus-webhook");
        assert_int_equal(strncmp(letter->id, "ob_", 3), 0); /* the event's webhook-id */
        letters[i] = json_loadb((const char *)letter->data, letter->data_len, 0, NULL);
        assert_non_null(letters[i]);
        assert_string_equal(json_string_value(json_object_get(letters[i], "webhook_id")),
                            letter->id);
        ob_event_destroy(&letter);
        ob_client_ack(reader, d);
        ob_delivery_destroy(&d);
    }
    ob_client_destroy(&reader);
}

/* --- tests ---------------------------------------------------------------------------------- */

static int
s_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || pthread_mutex_init(&s_rx.lock, NULL) ||
        pthread_cond_init(&s_rx.changed, NULL) || broker_proc_site_make(&s_site, "test_webhook"))
        return -1;
    s_broker = broker_proc_start(s_site.data_dir, s_site.endpoint, NULL);
    if (s_broker < 0)
        return -1;
    ob_client_config_t cc = {.name = "test-webhook-pub", .timeout_ms = T_WAIT_MS};
    s_pub = ob_client_new(s_site.endpoint, &cc);
    if (!s_pub || ob_client_connect(s_pub, T_WAIT_MS))
        return -1;
    s_receiver_start(0);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    ob_client_destroy(&s_pub);
    if (s_rx.daemon)
        MHD_stop_daemon(s_rx.daemon);
    if (s_broker > 0)
        broker_proc_stop(s_broker, SIGTERM);
    broker_proc_site_remove(&s_site);
    return 0;
}

/* Events of three topics arrive once each, in order per topic, signed; SIGTERM stops the
   adapter cleanly. */
static void
test_delivery(void **state)
{
    (void)state;
    s_receiver_reset();
    pid_t pid = s_adapter_start(s_config("plain", "a.*", 5));
    s_publish_run("a", 3, 20);
    assert_int_equal(s_wait_accepted(60), 60);
    /* /metrics counts them (the ack follows the answer: wait for the counter), /healthz */
    char *body = NULL;
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    for (;;) {
        assert_int_equal(s_adapter_get("/metrics", &body), 200);
        if (strstr(body,
                   "orderbus_webhook_deliveries_total{target=\"plain\",outcome=\"acked\"} 60\n"))
            break;
        free(body);
        assert_true(zclock_mono() < deadline);
        zclock_sleep(T_POLL_MS); /* a scrape has nothing to wait on */
    }
    assert_non_null(
        strstr(body, "orderbus_webhook_requests_total{target=\"plain\",status=\"2xx\"} 60\n"));
    assert_non_null(strstr(body, "orderbus_webhook_held{target=\"plain\"} 0\n"));
    free(body);
    assert_int_equal(s_adapter_get("/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    assert_int_equal(s_adapter_get("/nothing", &body), 404);
    free(body);
    s_adapter_stop_clean(pid);
    /* the log says what happened, never a secret */
    char log[T_PATH_MAX];
    snprintf(log, sizeof log, "%s/webhook.log", s_site.dir);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    assert_true(getdelim(&text, &len, '\0', f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "webhook-plain: subscribed"));
    assert_null(strstr(text, "whsec_"));
    assert_null(strstr(text, "MfKQ9r8"));
    free(text);
    pthread_mutex_lock(&s_rx.lock);
    assert_int_equal(s_rx.bad, 0);
    assert_int_equal(s_rx.count, 60); /* once each: no retry, no duplicate */
    for (long i = 0; i < s_rx.count; i++)
        assert_int_equal(s_rx.records[i].attempt, 1);
    pthread_mutex_unlock(&s_rx.lock);
    s_check_order();
}

/* 503, then 429 with Retry-After, then 200: the event comes again, the ones after it on its
   topic wait for it, nothing is lost. */
static void
test_retry(void **state)
{
    (void)state;
    s_receiver_reset();
    s_script("b0-3", NULL, 1, 503u);
    s_script("b1-5", "1", 2, 503u, 429u);
    pid_t pid = s_adapter_start(s_config("retry", "b.*", 5));
    s_publish_run("b", 2, 10);
    assert_int_equal(s_wait_accepted(20), 20);
    s_adapter_stop_clean(pid);
    pthread_mutex_lock(&s_rx.lock);
    assert_int_equal(s_rx.bad, 0);
    assert_int_equal(s_rx.count, 23); /* 20 accepted, 3 refused */
    unsigned b15_attempts = 0;
    for (long i = 0; i < s_rx.count; i++)
        if (!strcmp(s_rx.records[i].event_id, "b1-5"))
            b15_attempts = s_rx.records[i].attempt;
    assert_int_equal(b15_attempts, 3); /* the attempt in the body counts the POSTs */
    pthread_mutex_unlock(&s_rx.lock);
    s_check_order();
}

/* A 400 dead-letters its event to webhook-dlq.<target> with the status and the answer's
   start; the events after it go on. A 503 past max_attempts is dead-lettered too. */
static void
test_dead_letter(void **state)
{
    (void)state;
    s_receiver_reset();
    s_script("c0-2", NULL, 1, 400u);
    s_script("c0-4", NULL, 3, 503u, 503u, 503u);
    pid_t pid = s_adapter_start(s_config("dead", "c.*", 3));
    s_publish_run("c", 1, 8);
    assert_int_equal(s_wait_accepted(6), 6);
    /* the two dead letters are on the adapter's own topic, in order */
    json_t *letters[2];
    s_dead_letters("dead", 2, letters);
    static const char *const want_ids[] = {"c0-2", "c0-4"};
    static const int want_status[] = {400, 503};
    for (size_t i = 0; i < 2; i++) {
        json_t *data = letters[i];
        assert_int_equal(json_integer_value(json_object_get(data, "status")), want_status[i]);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(data, "event"), "id")), want_ids[i]);
        if (i == 0)
            assert_string_equal(json_string_value(json_object_get(data, "answer")),
                                "{\"error\":\"refused by the test\"}");
        else
            assert_int_equal(json_integer_value(json_object_get(data, "attempts")), 3);
        json_decref(data);
    }
    s_adapter_stop_clean(pid);
    pthread_mutex_lock(&s_rx.lock);
    assert_int_equal(s_rx.bad, 0);
    for (long i = 0; i < s_rx.count; i++)
        assert_false(s_rx.records[i].status / 100 == 2 &&
                     (!strcmp(s_rx.records[i].event_id, "c0-2") ||
                      !strcmp(s_rx.records[i].event_id, "c0-4")));
    pthread_mutex_unlock(&s_rx.lock);
    s_check_order();
}

/* A run of 200 events on 4 topics (target name, topics prefix.*) with the receiver slowed,
   killed in the middle with SIGKILL (the adapter, or the broker if broker) and restarted:
   every event is then accepted, the first acceptances in order per topic (a redelivery of
   what was accepted but not acked is the at-least-once contract: same webhook-id), every
   signature good. */
static void
s_kill_run(const char *name, const char *prefix, int broker)
{
    s_receiver_reset();
    pthread_mutex_lock(&s_rx.lock);
    s_rx.slow_ms = T_SLOW_MS; /* so that the kill comes in the middle of the run */
    pthread_mutex_unlock(&s_rx.lock);
    char patterns[32];
    snprintf(patterns, sizeof patterns, "%s.*", prefix);
    const char *cfg = s_config(name, patterns, 5);
    pid_t pid = s_adapter_start(cfg);
    s_publish_run(prefix, 4, 50); /* confirmed: stored before the kill */
    assert_true(s_wait_accepted(40) >= 40);
    if (broker)
        assert_int_not_equal(broker_proc_stop(s_broker, SIGKILL), -1);
    else
        s_adapter_stop(pid, SIGKILL);
    long before = s_wait_accepted(0);
    assert_true(before < 200);
    if (broker) { /* on its port: the adapter's client finds a new session */
        s_broker = broker_proc_start(s_site.data_dir, s_site.endpoint, NULL);
        assert_true(s_broker > 0);
    } else
        pid = s_adapter_start(cfg);
    assert_int_equal(s_wait_accepted(200), 200);
    s_adapter_stop_clean(pid);
    pthread_mutex_lock(&s_rx.lock);
    print_message("accepted %ld distinct before the kill of the %s; %ld accepted in all for 200\n",
                  before, broker ? "broker" : "adapter", s_rx.accepted);
    assert_int_equal(s_rx.bad, 0);
    pthread_mutex_unlock(&s_rx.lock);
    s_check_order();
}

/* kill -9 of the adapter in the middle of a run loses nothing. */
static void
test_kill(void **state)
{
    (void)state;
    s_kill_run("kill", "d", 0);
}

/* The broker killed (SIGKILL) and restarted on its port in the middle of a run: the adapter's
   client finds a new session, its subscription comes back, and every event arrives. */
static void
test_broker_restart(void **state)
{
    (void)state;
    s_kill_run("restart", "r", 1);
}

/* The receiver down for T_DOWN_MS in the middle of a run (its server stopped: connections
   refused), then up again on its port: the events published before and during the outage are
   all accepted, in order per topic, none dead-lettered; each once, but for a POST the stopped
   server took without its answer reaching the adapter (sent again: at least once). */
static void
test_receiver_down(void **state)
{
    (void)state;
    s_receiver_reset();
    pid_t pid = s_adapter_start(s_config("down", "g.*", T_DOWN_ATTEMPTS));
    s_publish_run("g", 4, 10);
    assert_int_equal(s_wait_accepted(40), 40);
    uint16_t port = s_rx.port;
    MHD_stop_daemon(s_rx.daemon);
    s_rx.daemon = NULL;
    int64_t back_at = zclock_mono() + T_DOWN_MS;
    s_publish_rounds("g", 4, 10, 50); /* while it is down */
    /* the adapter is trying: POSTs without an answer */
    char metrics[DAEMON_PROC_URL_MAX + 16];
    snprintf(metrics, sizeof metrics, "%s/metrics", s_adapter_url);
    assert_true(daemon_proc_wait_text(
        metrics, "orderbus_webhook_requests_total{target=\"down\",status=\"none\"}", T_POLL_MS,
        back_at));
    if (zclock_mono() < back_at) /* the outage itself: a deliberate wait */
        zclock_sleep((int)(back_at - zclock_mono()));
    s_receiver_start(port);
    assert_int_equal(s_rx.port, port);
    assert_int_equal(s_wait_accepted(200), 200);
    char *text = NULL;
    assert_int_equal(s_adapter_get("/metrics", &text), 200);
    assert_null(strstr(text, "outcome=\"dead_lettered\""));
    free(text);
    s_adapter_stop_clean(pid);
    pthread_mutex_lock(&s_rx.lock);
    print_message("receiver down %d s: %ld accepted for 200 events\n", T_DOWN_MS / 1000,
                  s_rx.accepted);
    assert_int_equal(s_rx.bad, 0);
    /* every event once, but for a POST in flight when the server stopped: the receiver may
       have accepted it while its answer was lost, and the adapter sends it again (at least
       once; receivers deduplicate on webhook-id): at most one per topic (4) */
    assert_true(s_rx.accepted >= 200 && s_rx.accepted <= 200 + 4);
    pthread_mutex_unlock(&s_rx.lock);
    s_check_order();
}

/* A target whose receiver hangs (each POST times out) delays nothing of another target of the
   same adapter on the same topics. */
static void
test_slow_target(void **state)
{
    (void)state;
    s_receiver_reset();
    char extra[T_PATH_MAX];
    snprintf(extra, sizeof extra,
             "target\n    name = hung\n    url = http://127.0.0.1:%u/hang\n"
             "    secret_file = %s/fast.whsec\n    patterns = \"e.*\"\n    timeout = 1s\n",
             (unsigned)s_rx.port, s_site.dir);
    pid_t pid = s_adapter_start(s_config_extra("fast", s_rx.port, "e.*", 5, extra));
    int64_t start = zclock_mono();
    s_publish_run("e", 2, 10);
    assert_int_equal(s_wait_accepted(20), 20);
    int64_t took = zclock_mono() - start;
    print_message("fast target: 20 events in %" PRId64 " ms beside a hung one\n", took);
    assert_true(took < T_FAST_MS);
    pthread_mutex_lock(&s_rx.lock);
    long hung = 0;
    for (long i = 0; i < s_rx.count; i++)
        hung += !strcmp(s_rx.records[i].target, "hung") && s_rx.records[i].status / 100 == 2;
    assert_int_equal(hung, 0); /* its first POSTs are still hanging */
    pthread_mutex_unlock(&s_rx.lock);
    /* SIGTERM waits for the hung POSTs' timeout, not longer */
    int64_t stop = zclock_mono();
    s_adapter_stop_clean(pid);
    assert_true(zclock_mono() - stop < T_HANG_MS);
    s_check_order();
}

/* A receiver that refuses connections, and one that accepts them and never answers: each
   POST fails (no status), is retried, and after max_attempts the event is dead-lettered with
   status 0 and curl's reason. */
static void
test_unreachable(void **state)
{
    (void)state;
    s_receiver_reset();
    /* two loopback ports of ours: one bound and not listening (connections refused), one
       listening and never accepting (the request is sent, no answer comes) */
    int fds[2];
    unsigned ports[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fds[i], (struct sockaddr *)&addr, sizeof addr), 0);
        socklen_t len = sizeof addr;
        assert_int_equal(getsockname(fds[i], (struct sockaddr *)&addr, &len), 0);
        ports[i] = ntohs(addr.sin_port);
    }
    assert_int_equal(listen(fds[1], 8), 0);
    char extra[T_PATH_MAX];
    snprintf(extra, sizeof extra,
             "target\n    name = silent\n    url = http://127.0.0.1:%u/\n"
             "    secret_file = %s/refused.whsec\n    patterns = \"f.*\"\n    timeout = 300ms\n"
             "    max_attempts = 2\n    backoff = 10ms\n",
             ports[1], s_site.dir);
    const char *cfg = s_config_extra("refused", ports[0], "f.*", 2, extra);
    pid_t pid = s_adapter_start(cfg);
    s_publish("f.0", "f0-0");
    json_t *letters[1];
    s_dead_letters("refused", 1, letters);
    assert_int_equal(json_integer_value(json_object_get(letters[0], "status")), 0);
    assert_int_equal(json_integer_value(json_object_get(letters[0], "attempts")), 2);
    const char *reason = json_string_value(json_object_get(letters[0], "reason"));
    print_message("refused: %s\n", reason);
    assert_non_null(strstr(reason, "after 2 attempts"));
    json_decref(letters[0]);
    s_dead_letters("silent", 1, letters);
    assert_int_equal(json_integer_value(json_object_get(letters[0], "status")), 0);
    reason = json_string_value(json_object_get(letters[0], "reason"));
    print_message("silent: %s\n", reason);
    assert_non_null(strstr(reason, "after 2 attempts"));
    json_decref(letters[0]);
    s_adapter_stop_clean(pid);
    close(fds[0]);
    close(fds[1]);
    pthread_mutex_lock(&s_rx.lock);
    assert_int_equal(s_rx.count, 0); /* nothing reached the receiver */
    pthread_mutex_unlock(&s_rx.lock);
}

/* Runs the adapter with the NULL-terminated arguments, its output (both streams) into
   dir/run.out; returns its exit status and the output in a new string *ret_out. */
static int
s_run(char **ret_out, ...)
{
    char out[T_PATH_MAX];
    snprintf(out, sizeof out, "%s/run.out", s_site.dir);
    const char *argv[16] = {"orderbus-webhook"};
    int argc = 1;
    va_list args;
    va_start(args, ret_out);
    for (const char *a; argc < 15 && (a = va_arg(args, const char *));)
        argv[argc++] = a;
    va_end(args);
    int status = daemon_proc_run(getenv("OB_WEBHOOK"), argv, out, ret_out);
    assert_true(status >= 0);
    return status;
}

/* --help, --version and the exit statuses: 2 for a usage error, 1 for a secret that cannot be
   read (its message names the file, not a secret). */
static void
test_exit_statuses(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(s_run(&out, "--version", NULL), 0);
    assert_non_null(strstr(out, "orderbus-webhook " OB_VERSION_STRING));
    free(out);
    assert_int_equal(s_run(&out, "--help", NULL), 0);
    assert_non_null(strstr(out, "--target-secret-file"));
    free(out);
    assert_int_equal(s_run(&out, "--bogus", NULL), 2);
    assert_non_null(strstr(out, "unknown flag '--bogus'"));
    free(out);
    assert_int_equal(s_run(&out, "--target-name", "x", NULL), 2); /* no url, secret, patterns */
    free(out);
    char bad[T_PATH_MAX];
    snprintf(bad, sizeof bad, "%s/bad.whsec", s_site.dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("whsec_c2hvcnQ=\n", f); /* 5 bytes: too short */
    fclose(f);
    assert_int_equal(s_run(&out, "--target-name", "x", "--target-url", "http://127.0.0.1:1/",
                           "--target-secret-file", bad, "--target-patterns", "a", NULL),
                     1);
    assert_non_null(strstr(out, "bad.whsec"));
    assert_null(strstr(out, "c2hvcnQ"));
    free(out);
}

/* Without arguments, the quick tests; with "long", the receiver's 30 s outage (CTest's
   test_webhook_long, label long). */
int
main(int argc, char **argv)
{
    const struct CMUnitTest slow[] = {
        cmocka_unit_test(test_receiver_down),
    };
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivery),       cmocka_unit_test(test_retry),
        cmocka_unit_test(test_dead_letter),    cmocka_unit_test(test_kill),
        cmocka_unit_test(test_broker_restart), cmocka_unit_test(test_slow_target),
        cmocka_unit_test(test_unreachable),    cmocka_unit_test(test_exit_statuses),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = argc > 1 && !strcmp(argv[1], "long")
                 ? cmocka_run_group_tests_name("test_webhook_long", slow, s_setup, s_teardown)
                 : cmocka_run_group_tests_name("test_webhook", tests, s_setup, s_teardown);
    curl_global_cleanup();
    return rc;
}
