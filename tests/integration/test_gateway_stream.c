/*  test_gateway_stream: GET /v1/topics/{topic}/stream (gateway/rest_stream.h) end to end,
    with real processes: a broker (broker_proc) and the gateway (gw_proc) on ephemeral
    loopback ports in the test's scratch directory. Streams are read with libcurl's multi
    interface (the reader below parses the Server-Sent Events as they come); refusals with
    rest_http. Events are published with a direct liborderbus client. Every wait is on
    bytes, an answer or a process, with a deadline; none is a sleep. */
#include <curl/curl.h>
#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "orderbus/orderbus.h"
#include "rest_http.h"
#include "token.h"

#define S_TOPIC "orders.eu" /* the streamed topic */
#define S_STREAM "/v1/topics/" S_TOPIC "/stream"
#define S_STREAMS_MAX 2           /* the gateway's rest_streams_max here */
#define S_WAIT_MS 10000           /* a stream receives what it waits for */
#define S_RECOVER_MS 30000        /* ... across a broker restart */
#define S_KEEPALIVE_WAIT_MS 25000 /* a keepalive comes (every 15 s) */
#define S_STOP_MS 5000            /* the gateway ends a stream on SIGTERM */
#define S_EVENTS_MAX 4096         /* events one reader keeps */
#define S_MANY 1500               /* events of the back-pressure test */
#define S_PAYLOAD 1000            /* bytes of data of each of them */
#define S_RETAINED "5"            /* the retention test's broker keeps 5 events a topic */
#define S_RETAINED_N 5            /* ... as a number */
#define S_LOOK_MS 50              /* between looks at the store */
#define S_PATH 1024               /* a path */
#define S_LINE 256                /* a header line */

typedef struct s_site {
    broker_proc_site_t broker;        /* scratch dir, broker data and endpoint */
    pid_t broker_pid;                 /* the broker, or -1 */
    pid_t gw_pid;                     /* the gateway, or -1 */
    char gw_url[GW_PROC_URL_MAX + 1]; /* http://127.0.0.1:PORT */
    char cfg[S_PATH];                 /* the gateway's configuration */
    char token[OB_TOKEN_TEXT];        /* client "reader": orders.>, admin read */
    ob_client_t *client;              /* a direct broker client that publishes */
    const char *max_events;           /* the broker's retention: events kept per topic */
} s_site_t;

/* ---------------------------------------------------------------------------------------- */
/* A Server-Sent Events reader */

typedef struct s_sse {
    CURLM *multi;               /* drives easy */
    CURL *easy;                 /* the stream's request */
    struct curl_slist *headers; /* Authorization, Last-Event-ID */
    char *buf;                  /* bytes received and not yet parsed */
    size_t len;                 /* bytes at buf */
    int headers_done;           /* 1: the status and headers are in */
    int done;                   /* 1: the transfer ended */
    CURLcode result;            /* ... with this */
    uint64_t ids[S_EVENTS_MAX]; /* ids of the events received, in order */
    size_t count;               /* events received */
    size_t comments;            /* comment lines received */
    size_t skipped;             /* `skipped` events received */
} s_sse_t;

static size_t
s_sse_body(char *data, size_t size, size_t n, void *arg)
{
    s_sse_t *e = arg;
    size_t len = size * n;
    char *buf = realloc(e->buf, e->len + len + 1);
    if (!buf)
        return 0;
    memcpy(buf + e->len, data, len);
    e->buf = buf;
    e->len += len;
    e->buf[e->len] = '\0';
    return len;
}

static size_t
s_sse_header(char *data, size_t size, size_t n, void *arg)
{
    s_sse_t *e = arg;
    if (size * n == 2 && !memcmp(data, "\r\n", 2))
        e->headers_done = 1;
    return size * n;
}

/* Parses one event block (NUL-terminated lines): checks that data is the stored event of
   id, of type event. */
static void
s_sse_block(s_sse_t *e, char *block)
{
    uint64_t id = 0;
    int has_id = 0;
    const char *type = NULL, *data = NULL;
    for (char *line = strtok(block, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == ':')
            e->comments++;
        else if (!strncmp(line, "id: ", 4)) {
            id = strtoull(line + 4, NULL, 10);
            has_id = 1;
        } else if (!strncmp(line, "event: ", 7))
            type = line + 7;
        else if (!strncmp(line, "data: ", 6))
            data = line + 6;
        else
            fail_msg("not an SSE line: %s", line);
    }
    if (!data)
        return; /* comments only */
    assert_true(has_id && type);
    json_t *root = json_loads(data, 0, NULL);
    assert_non_null(root);
    if (!strcmp(type, "skipped")) {
        e->skipped++;
        assert_int_equal(json_integer_value(json_object_get(root, "to_seq")), id);
    } else {
        assert_int_equal(json_integer_value(json_object_get(root, "seq")), id);
        json_t *event = json_object_get(root, "event");
        assert_string_equal(json_string_value(json_object_get(event, "type")), type);
        assert_string_equal(json_string_value(json_object_get(event, "topic")), S_TOPIC);
        assert_true(e->count < S_EVENTS_MAX);
        e->ids[e->count++] = id;
    }
    json_decref(root);
}

/* Parses the complete blocks received. */
static void
s_sse_parse(s_sse_t *e)
{
    char *end;
    while (e->buf && (end = strstr(e->buf, "\n\n"))) {
        size_t n = (size_t)(end - e->buf) + 2;
        end[1] = '\0';
        s_sse_block(e, e->buf);
        memmove(e->buf, e->buf + n, e->len - n + 1);
        e->len -= n;
    }
}

/* Runs the transfer for up to ms (or until it ends), parsing what comes. */
static void
s_sse_pump(s_sse_t *e, int ms)
{
    int running = 0;
    curl_multi_perform(e->multi, &running);
    if (running && ms > 0) {
        curl_multi_poll(e->multi, NULL, 0, ms, NULL);
        curl_multi_perform(e->multi, &running);
    }
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(e->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            e->done = 1;
            e->result = msg->data.result;
        }
    s_sse_parse(e);
}

/* Opens a stream of path with token and last_id (a Last-Event-ID, or NULL); waits for its
   headers. Returns the reader; its status is s_sse_status. */
static s_sse_t *
s_sse_try(const s_site_t *s, const char *path, const char *last_id)
{
    s_sse_t *e = calloc(1, sizeof *e);
    assert_non_null(e);
    char url[S_PATH], line[S_LINE];
    snprintf(url, sizeof url, "%s%s", s->gw_url, path);
    snprintf(line, sizeof line, "Authorization: Bearer %s", s->token);
    e->headers = curl_slist_append(NULL, line);
    if (last_id) {
        snprintf(line, sizeof line, "Last-Event-ID: %s", last_id);
        e->headers = curl_slist_append(e->headers, line);
    }
    e->easy = curl_easy_init();
    e->multi = curl_multi_init();
    assert_true(e->easy && e->multi && e->headers);
    curl_easy_setopt(e->easy, CURLOPT_URL, url);
    curl_easy_setopt(e->easy, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, s_sse_body);
    curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, e);
    curl_easy_setopt(e->easy, CURLOPT_HEADERFUNCTION, s_sse_header);
    curl_easy_setopt(e->easy, CURLOPT_HEADERDATA, e);
    curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(e->multi, e->easy);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (!e->headers_done && !e->done && zclock_mono() < deadline)
        s_sse_pump(e, 100);
    assert_true(e->headers_done);
    return e;
}

static long s_sse_status(s_sse_t *e);
static void s_sse_close(s_sse_t **e_p);

/* s_sse_try, again while it is answered 429: a stream the test closed just before is
   released by the gateway as soon as it sees the hang-up, not at the close itself. */
static s_sse_t *
s_sse_open(const s_site_t *s, const char *path, const char *last_id)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    s_sse_t *e = s_sse_try(s, path, last_id);
    while (s_sse_status(e) == 429 && zclock_mono() < deadline) {
        s_sse_close(&e);
        e = s_sse_try(s, path, last_id);
    }
    return e;
}

static long
s_sse_status(s_sse_t *e)
{
    long status = 0;
    curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Reads until count events are in (or the stream ends, or timeout_ms passes). Returns the
   events in. */
static size_t
s_sse_wait(s_sse_t *e, size_t count, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (e->count < count && !e->done && zclock_mono() < deadline)
        s_sse_pump(e, 100);
    return e->count;
}

/* Disconnects and frees. */
static void
s_sse_close(s_sse_t **e_p)
{
    s_sse_t *e = *e_p;
    curl_multi_remove_handle(e->multi, e->easy);
    curl_easy_cleanup(e->easy);
    curl_multi_cleanup(e->multi);
    curl_slist_free_all(e->headers);
    free(e->buf);
    free(e);
    *e_p = NULL;
}

/* Asserts that the events of e are first, first + 1, ... */
static void
s_assert_ids(const s_sse_t *e, uint64_t first)
{
    for (size_t i = 0; i < e->count; i++)
        assert_int_equal(e->ids[i], first + i);
}

/* ---------------------------------------------------------------------------------------- */
/* The site */

static void
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void
s_broker_start(s_site_t *s)
{
    s->broker_pid = broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0",
                                      "--retention-max-events", s->max_events, (char *)NULL);
    assert_true(s->broker_pid > 0);
}

/* Starts a broker (keeping max_events per topic, "0" for all) and a gateway. */
static s_site_t *
s_site_new_with(const char *name, const char *max_events)
{
    s_site_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->max_events = max_events;
    assert_int_equal(broker_proc_site_make(&s->broker, name), 0);
    s_broker_start(s);
    assert_int_equal(ob_token_generate(s->token), 0);
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    char hex[OB_TOKEN_HASH_TEXT], tokens[S_PATH], text[S_PATH * 4];
    assert_int_equal(ob_token_hash(s->token, strlen(s->token), hash), 0);
    ob_token_hash_format(hash, hex);
    snprintf(tokens, sizeof tokens, "%s/tokens.zpl", s->broker.dir);
    snprintf(text, sizeof text,
             "client = reader\n    hash = %s\n    subscribe = orders.>\n    admin = read\n", hex);
    s_write(tokens, text);
    snprintf(text, sizeof text,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    rest_streams_max = %d\nbroker\n    endpoint = %s\n",
             s->broker.dir, tokens, S_STREAMS_MAX, s->broker.endpoint);
    snprintf(s->cfg, sizeof s->cfg, "%s/gw.cfg", s->broker.dir);
    s_write(s->cfg, text);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    ob_client_config_t cc = {.name = "test", .timeout_ms = 5000};
    s->client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(s->client);
    assert_int_equal(ob_client_connect(s->client, 5000), 0);
    return s;
}

static s_site_t *
s_site_new(const char *name)
{
    return s_site_new_with(name, "0");
}

static void
s_site_destroy(s_site_t **s_p)
{
    s_site_t *s = *s_p;
    if (s->gw_pid > 0) {
        int status = gw_proc_stop(s->gw_pid, SIGTERM);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ob_client_destroy(&s->client);
    if (s->broker_pid > 0)
        broker_proc_stop(s->broker_pid, SIGTERM);
    broker_proc_site_remove(&s->broker);
    free(s);
    *s_p = NULL;
}

/* Publishes n events (data of payload bytes) to the topic, each confirmed; returns the seq
   of the last. A broker restart is not an error (the client re-sends). */
static uint64_t
s_publish(s_site_t *s, int n, size_t payload)
{
    char *data = malloc(payload + 2); /* a JSON string */
    assert_non_null(data);
    memset(data, 'x', payload + 2);
    data[0] = data[payload + 1] = '"';
    ob_event_t ev = {.topic = S_TOPIC,
                     .type = "order.created",
                     .data = (const uint8_t *)data,
                     .data_len = payload + 2};
    char id[64];
    ob_confirm_t confirm = {0};
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "e-%" PRIu64 "-%d", (uint64_t)zclock_usecs(), i);
        ev.id = id;
        assert_int_equal(ob_client_publish(s->client, &ev, &confirm), 0);
    }
    free(data);
    return confirm.seq;
}

/* GETs path with the site's token and header (NULL: none) into *a. Returns the status. */
static long
s_get(const s_site_t *s, const char *path, const char *token, const char *header, rest_answer_t *a)
{
    rest_request_t req = {.method = "GET", .path = path, .token = token, .header = header};
    return rest_http(s->gw_url, &req, a);
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

/* Live events in order with ids = seqs; a reconnect with Last-Event-ID gets exactly the
   rest; from_seq starts there. */
static void
test_resume(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-stream-resume");
    assert_int_equal(s_publish(s, 2, 10), 2); /* before the stream: not in it */
    s_sse_t *e = s_sse_open(s, S_STREAM, NULL);
    assert_int_equal(s_sse_status(e), 200);
    assert_int_equal(s_publish(s, 5, 10), 7);
    assert_int_equal(s_sse_wait(e, 5, S_WAIT_MS), 5);
    s_assert_ids(e, 3);
    assert_true(e->comments >= 1); /* the opening comment */
    s_sse_close(&e);
    /* Disconnected: 8..10 are published meanwhile. */
    assert_int_equal(s_publish(s, 3, 10), 10);
    e = s_sse_open(s, S_STREAM, "7");
    assert_int_equal(s_sse_status(e), 200);
    assert_int_equal(s_sse_wait(e, 3, S_WAIT_MS), 3);
    s_assert_ids(e, 8);
    assert_int_equal(s_publish(s, 1, 10), 11);
    assert_int_equal(s_sse_wait(e, 4, S_WAIT_MS), 4);
    s_assert_ids(e, 8);
    s_sse_close(&e);
    /* from_seq; Last-Event-ID wins over it (an EventSource reconnects to the same URL). */
    e = s_sse_open(s, S_STREAM "?from_seq=2", NULL);
    assert_int_equal(s_sse_wait(e, 10, S_WAIT_MS), 10);
    s_assert_ids(e, 2);
    s_sse_close(&e);
    e = s_sse_open(s, S_STREAM "?from_seq=2", "9");
    assert_int_equal(s_sse_wait(e, 2, S_WAIT_MS), 2);
    s_assert_ids(e, 10);
    s_sse_close(&e);
    /* Last-Event-ID = the last seq: nothing until the next event. */
    e = s_sse_open(s, S_STREAM, "11");
    assert_int_equal(s_publish(s, 1, 10), 12);
    assert_int_equal(s_sse_wait(e, 1, S_WAIT_MS), 1);
    s_assert_ids(e, 12);
    s_sse_close(&e);
    s_site_destroy(&s);
}

/* 401, 403, 400, 429 (and a closed stream frees its place). */
static void
test_refusals(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-stream-refusals");
    rest_answer_t a = {0};
    assert_int_equal(s_publish(s, 3, 10), 3);
    assert_int_equal(s_get(s, S_STREAM, NULL, NULL, &a), 401);
    assert_string_equal(rest_error_code(&a), "unauthorized");
    assert_int_equal(s_get(s, "/v1/topics/billing.eu/stream", s->token, NULL, &a), 403);
    assert_string_equal(rest_error_code(&a), "forbidden");
    assert_int_equal(s_get(s, S_STREAM, s->token, "Last-Event-ID: x", &a), 400);
    assert_non_null(strstr(a.text, "Last-Event-ID"));
    assert_int_equal(s_get(s, S_STREAM "?from_seq=0", s->token, NULL, &a), 400);
    assert_non_null(strstr(a.text, "from_seq"));
    assert_int_equal(s_get(s, S_STREAM "?from_seq=5", s->token, NULL, &a), 400);
    assert_non_null(strstr(a.text, "beyond"));
    assert_int_equal(s_get(s, S_STREAM, s->token, "Last-Event-ID: 4", &a), 400);
    assert_int_equal(s_get(s, "/v1/topics/orders..eu/stream", s->token, NULL, &a), 400);
    /* rest_streams_max open: the next is refused, until one closes. */
    s_sse_t *open[S_STREAMS_MAX];
    for (int i = 0; i < S_STREAMS_MAX; i++) {
        open[i] = s_sse_open(s, S_STREAM, NULL);
        assert_int_equal(s_sse_status(open[i]), 200);
    }
    assert_int_equal(s_get(s, S_STREAM, s->token, NULL, &a), 429);
    assert_string_equal(rest_error_code(&a), "rate_limited");
    assert_true(a.retry_after >= 1);
    s_sse_close(&open[0]);
    s_sse_t *e = s_sse_open(s, S_STREAM, NULL);
    assert_int_equal(s_sse_status(e), 200);
    s_sse_close(&e);
    s_sse_close(&open[1]);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* A stream across a kill -9 and restart of the broker misses nothing: it stays open and
   goes on (or, had it ended, resumes with Last-Event-ID). */
static void
test_broker_kill9(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-stream-kill9");
    s_sse_t *e = s_sse_open(s, S_STREAM "?from_seq=1", NULL);
    assert_int_equal(s_publish(s, 3, 10), 3);
    assert_int_equal(s_sse_wait(e, 3, S_WAIT_MS), 3);
    broker_proc_stop(s->broker_pid, SIGKILL);
    /* Meanwhile a stream cannot open: 503 (where it would start is unknown). */
    rest_answer_t a = {0};
    assert_int_equal(s_get(s, S_STREAM, s->token, NULL, &a), 503);
    assert_string_equal(rest_error_code(&a), "unavailable");
    rest_answer_free(&a);
    s_broker_start(s);
    assert_int_equal(s_publish(s, 3, 10), 6);
    uint64_t seen[8] = {0};
    size_t n = 0;
    int64_t deadline = zclock_mono() + S_RECOVER_MS;
    while (n < 6 && zclock_mono() < deadline) {
        s_sse_wait(e, 6, (int)(deadline - zclock_mono()));
        for (size_t i = 0; i < e->count && n < 8; i++)
            if (!n || e->ids[i] > seen[n - 1])
                seen[n++] = e->ids[i];
        if (e->done && n < 6) { /* ended: resume after the last seen */
            char last[32];
            snprintf(last, sizeof last, "%" PRIu64, seen[n - 1]);
            s_sse_close(&e);
            e = s_sse_open(s, S_STREAM, last);
        }
    }
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], i + 1);
    /* The contract: the stream stayed open (no resume was needed). */
    assert_false(e->done);
    s_assert_ids(e, 1);
    assert_int_equal(e->count, 6);
    s_sse_close(&e);
    s_site_destroy(&s);
}

/* A reader slower than the topic: the gateway holds a bounded buffer and reads on as it
   drains; every event comes, in order. */
static void
test_backpressure(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-stream-slow");
    assert_int_equal(s_publish(s, S_MANY, S_PAYLOAD), S_MANY);
    s_sse_t *e = s_sse_open(s, S_STREAM "?from_seq=1", NULL);
    assert_int_equal(s_sse_wait(e, S_MANY, S_RECOVER_MS), S_MANY);
    s_assert_ids(e, 1);
    s_sse_close(&e);
    s_site_destroy(&s);
}

/* Events removed by retention before the stream sent them: one `skipped` event says which,
   with the id of the last removed, then the stream goes on from the first kept. */
static void
test_retention(void **state)
{
    (void)state;
    s_site_t *s = s_site_new_with("gw-stream-retention", S_RETAINED);
    assert_int_equal(s_publish(s, 2 * S_RETAINED_N, 10), 2 * S_RETAINED_N);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    uint64_t first = 1;
    while (first == 1 && zclock_mono() < deadline) {
        ob_delivery_t *d = NULL; /* none (no subscription): paces the look, as retention
                                    runs once a second */
        assert_int_equal(ob_client_receive(s->client, S_LOOK_MS, &d), OB_ERR_TIMEOUT);
        ob_fetch_t *f = NULL;
        assert_int_equal(ob_client_fetch(s->client, S_TOPIC, 1, 0, 1, &f), 0);
        first = f->count ? f->events[0].seq : f->next;
        ob_fetch_destroy(&f);
    }
    assert_true(first > 1);
    s_sse_t *e = s_sse_open(s, S_STREAM "?from_seq=1", NULL);
    uint64_t last = 2 * S_RETAINED_N;
    assert_int_equal(s_sse_wait(e, last - first + 1, S_WAIT_MS), last - first + 1);
    assert_int_equal(e->skipped, 1);
    s_assert_ids(e, first);
    s_sse_close(&e);
    s_site_destroy(&s);
}

/* An idle stream gets keepalives; SIGTERM of the gateway ends it promptly and cleanly. */
static void
test_sigterm(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-stream-term");
    s_sse_t *e = s_sse_open(s, S_STREAM, NULL);
    int64_t deadline = zclock_mono() + S_KEEPALIVE_WAIT_MS;
    while (e->comments < 2 && !e->done && zclock_mono() < deadline)
        s_sse_pump(e, 100);
    assert_int_equal(e->comments, 2); /* the opening comment, a keepalive */
    assert_int_equal(kill(s->gw_pid, SIGTERM), 0);
    deadline = zclock_mono() + S_STOP_MS;
    while (!e->done && zclock_mono() < deadline)
        s_sse_pump(e, 100);
    assert_true(e->done);
    assert_int_equal(e->result, CURLE_OK); /* the last chunk came: a clean end */
    int status = gw_proc_stop(s->gw_pid, 0);
    s->gw_pid = -1;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s_sse_close(&e);
    s_site_destroy(&s);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume),       cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_broker_kill9), cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_retention),    cmocka_unit_test(test_sigterm),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
