/*  test_gateway_subs: HTTP subscriptions of the gateway's REST API (gateway/rest_subs.h) end
    to end, with real processes: a broker (broker_proc) and the gateway (gw_proc) on ephemeral
    loopback ports in the test's scratch directory, rest_http as the HTTP client, and a direct
    liborderbus client that looks at the broker itself (SUB_INFO, dead letters, a ZeroMQ
    client's subscription). Settings are small (ack_wait_ms 100..500) so that timeouts and
    redeliveries happen within the test. Every wait is on an answer, a delivery or a
    process, with a deadline; none is a sleep. */
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "orderbus/orderbus.h"
#include "orderbus/result_json.h"
#include "rest_http.h"
#include "token.h"

#define S_TOPIC "orders.eu"   /* events go here */
#define S_AUDIT "audit.log"   /* a topic no subscription here matches */
#define S_PATH 1024           /* a path */
#define S_BODY 16384          /* a request body */
#define S_HANDLE 513          /* a handle with its NUL (OB_GW_HANDLE_TEXT_MAX + 1) */
#define S_MAX_DELIVERIES 16   /* deliveries one test collects */
#define S_WAIT_MS 3000        /* a long-poll's wait_ms */
#define S_COLLECT_MS 15000    /* all deliveries a test expects arrive within this */
#define S_RECOVER_MS 30000    /* the gateway serves again after a broker restart */
#define S_BROKER_MS 5000      /* the direct client's calls */
#define S_WAITS_MAX 2         /* rest_waits_max of the refusals test */
#define S_NEAR_US 60000000ull /* a stored time is this near the test's clock */
#define S_CONTENT_JSON "application/json"

typedef struct s_site {
    broker_proc_site_t broker;        /* scratch dir, broker data and endpoint */
    pid_t broker_pid;                 /* the broker, or -1 */
    pid_t gw_pid;                     /* the gateway, or -1 */
    char gw_url[GW_PROC_URL_MAX + 1]; /* http://127.0.0.1:PORT */
    char cfg[S_PATH];                 /* the gateway's configuration */
    char token[OB_TOKEN_TEXT];        /* client oms-7: orders.>, audit.> */
    char token_b[OB_TOKEN_TEXT];      /* client oms-8: orders.> too */
    char unknown[OB_TOKEN_TEXT];      /* a token in no file */
    ob_client_t *client;              /* a direct broker client */
} s_site_t;

/* What a test collected of fetches. */
typedef struct s_got {
    size_t count;                            /* deliveries */
    uint64_t seq[S_MAX_DELIVERIES];          /* their seqs */
    uint64_t attempt[S_MAX_DELIVERIES];      /* attempts */
    char handle[S_MAX_DELIVERIES][S_HANDLE]; /* handles */
} s_got_t;

/* Starts a broker and a gateway whose gateway section has extra lines (NULL: none). */
static s_site_t *
s_site_new(const char *name, const char *extra)
{
    s_site_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(broker_proc_site_make(&s->broker, name), 0);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    assert_int_equal(ob_token_generate(s->token), 0);
    assert_int_equal(ob_token_generate(s->token_b), 0);
    assert_int_equal(ob_token_generate(s->unknown), 0);
    char tokens[2048] = "", path[S_PATH], cfg[4096];
    rest_http_token_entry(
        tokens, sizeof tokens, "oms-7", s->token,
        "    publish = orders.>\n    publish = audit.>\n    subscribe = orders.>\n");
    rest_http_token_entry(tokens, sizeof tokens, "oms-8", s->token_b,
                          "    publish = orders.>\n    subscribe = orders.>\n");
    snprintf(path, sizeof path, "%s/tokens.zpl", s->broker.dir);
    rest_http_write_file(path, tokens);
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n%s"
             "broker\n    endpoint = %s\n",
             s->broker.dir, path, extra ? extra : "", s->broker.endpoint);
    snprintf(s->cfg, sizeof s->cfg, "%s/gw.cfg", s->broker.dir);
    rest_http_write_file(s->cfg, cfg);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    ob_client_config_t cc = {.name = "test", .timeout_ms = S_BROKER_MS};
    s->client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(s->client);
    assert_int_equal(ob_client_connect(s->client, S_BROKER_MS), 0);
    return s;
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

/* Sends method path with token (NULL: none) and a JSON body (NULL: none) into *a. */
static long
s_req(const s_site_t *s, const char *method, const char *path, const char *token, const char *body,
      rest_answer_t *a)
{
    rest_request_t req = {.method = method,
                          .path = path,
                          .token = token,
                          .content_type = body ? S_CONTENT_JSON : NULL,
                          .body = body,
                          .len = body ? strlen(body) : 0,
                          .timeout_ms = S_WAIT_MS + REST_HTTP_MS};
    return rest_http(s->gw_url, &req, a);
}

/* Publishes an event of type t with id through the gateway; returns its seq. */
static uint64_t
s_publish(const s_site_t *s, const char *topic, const char *id)
{
    rest_answer_t a = {0};
    char path[S_PATH], body[256];
    snprintf(path, sizeof path, "/v1/topics/%s/events", topic);
    snprintf(body, sizeof body, "{\"id\": \"%s\", \"type\": \"order.created\"}", id);
    assert_int_equal(s_req(s, "POST", path, s->token, body, &a), 200);
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(a.json, "seq"));
    rest_answer_free(&a);
    return seq;
}

/* Creates subscription name on orders.> from the earliest event with settings (JSON members
   after the name and patterns, or ""). Returns the status. */
static long
s_create(const s_site_t *s, const char *token, const char *name, const char *settings,
         rest_answer_t *a)
{
    char body[S_BODY];
    snprintf(body, sizeof body,
             "{\"name\": \"%s\", \"patterns\": [\"orders.>\"], "
             "\"start\": \"earliest\"%s}",
             name, settings);
    return s_req(s, "POST", "/v1/subscriptions", token, body, a);
}

/* POSTs {"max", "wait_ms"} to name's fetch. Returns the status. */
static long
s_fetch(const s_site_t *s, const char *token, const char *name, int max, int wait_ms,
        rest_answer_t *a)
{
    char path[S_PATH], body[128];
    snprintf(path, sizeof path, "/v1/subscriptions/%s/fetch", name);
    snprintf(body, sizeof body, "{\"max\": %d, \"wait_ms\": %d}", max, wait_ms);
    return s_req(s, "POST", path, token, body, a);
}

/* Fetches (oms-7) from name until `want` deliveries came, or S_COLLECT_MS; appends them to
 *got, checking each delivery's fields. Returns the number collected. */
static size_t
s_collect(const s_site_t *s, const char *name, size_t want, s_got_t *got)
{
    rest_answer_t a = {0};
    int64_t deadline = zclock_mono() + S_COLLECT_MS;
    size_t n = 0;
    while (n < want && zclock_mono() < deadline) {
        assert_int_equal(s_fetch(s, s->token, name, (int)(want - n), S_WAIT_MS, &a), 200);
        json_t *list = json_object_get(a.json, "deliveries"), *d;
        size_t i;
        json_array_foreach(list, i, d)
        {
            assert_true(got->count < S_MAX_DELIVERIES);
            assert_string_equal(json_string_value(json_object_get(d, "topic")), S_TOPIC);
            json_t *ev = json_object_get(d, "event");
            assert_string_equal(json_string_value(json_object_get(ev, "type")), "order.created");
            assert_non_null(json_string_value(json_object_get(d, "time")));
            got->seq[got->count] = (uint64_t)json_integer_value(json_object_get(d, "seq"));
            got->attempt[got->count] = (uint64_t)json_integer_value(json_object_get(d, "attempt"));
            snprintf(got->handle[got->count], S_HANDLE, "%s",
                     json_string_value(json_object_get(d, "handle")));
            got->count++;
            n++;
        }
    }
    rest_answer_free(&a);
    return n;
}

/* Acks (op "ack") or nacks ("nack", with delay_ms) the count handles from first of got. */
static long
s_settle(const s_site_t *s, const char *token, const char *name, const char *op, const s_got_t *got,
         size_t first, size_t count, int delay_ms, rest_answer_t *a)
{
    char path[S_PATH], body[S_BODY] = "{\"handles\": [";
    snprintf(path, sizeof path, "/v1/subscriptions/%s/%s", name, op);
    for (size_t i = first; i < first + count; i++) {
        size_t used = strlen(body);
        snprintf(body + used, sizeof body - used, "%s\"%s\"", i > first ? ", " : "",
                 got->handle[i]);
    }
    size_t used = strlen(body);
    if (delay_ms >= 0)
        snprintf(body + used, sizeof body - used, "], \"delay_ms\": %d}", delay_ms);
    else
        snprintf(body + used, sizeof body - used, "]}");
    return s_req(s, "POST", path, token, body, a);
}

/* Publishes count events on S_TOPIC (new: their seqs are 1..count). */
static void
s_publish_run(const s_site_t *s, int count)
{
    for (int i = 1; i <= count; i++) {
        char id[16];
        snprintf(id, sizeof id, "ev-%d", i);
        assert_int_equal(s_publish(s, S_TOPIC, id), (uint64_t)i);
    }
}

/* Creates name (ack_wait_ms a minute: no redelivery by time here), publishes count events
   and collects them into *got, in seq order, first attempts. */
static void
s_start(const s_site_t *s, const char *name, int count, s_got_t *got)
{
    rest_answer_t a = {0};
    assert_int_equal(s_create(s, s->token, name, ", \"ack_wait_ms\": 60000", &a), 201);
    s_publish_run(s, count);
    assert_int_equal(s_collect(s, name, (size_t)count, got), (size_t)count);
    for (size_t i = 0; i < (size_t)count; i++) {
        assert_int_equal(got->seq[i], i + 1);
        assert_int_equal(got->attempt[i], 1);
    }
    rest_answer_free(&a);
}

/* The broker's SUB_INFO of name as JSON (the caller decrefs), or NULL if it has none. */
static json_t *
s_broker_info(s_site_t *s, const char *name)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_SUB_INFO);
    snprintf(msg.sub, sizeof msg.sub, "%s", name);
    uint8_t *result = NULL;
    size_t len = 0;
    int rc = ob_client_request(s->client, &msg, &result, &len, NULL, NULL, NULL);
    if (rc == OB_ERR_NO_SUCH_SUBSCRIPTION)
        return NULL;
    assert_int_equal(rc, 0);
    char *text = NULL;
    assert_int_equal(ob_result_to_json(result, len, &text), 0);
    free(result);
    json_t *info = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(info);
    return info;
}

/* Create, attach, fetch, ack: acked events never come again, even after ack_wait_ms; list,
   get, delete. */
static void
test_fetch_ack(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-ack", NULL);
    rest_answer_t a = {0};
    const char *settings = ", \"ack_wait_ms\": 300, \"credit\": 10";
    assert_int_equal(s_create(s, s->token, "billing", settings, &a), 201);
    assert_string_equal(json_string_value(json_object_get(a.json, "name")), "billing");
    assert_true(json_is_true(json_object_get(a.json, "created")));
    assert_int_equal(s_create(s, s->token, "billing", settings, &a), 200);
    assert_true(json_is_false(json_object_get(a.json, "created")));
    /* Other patterns: 409, and the subscription is as it was. */
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions", s->token,
                           "{\"name\": \"billing\", \"patterns\": [\"orders.eu\"]}", &a),
                     409);
    assert_string_equal(rest_error_code(&a), "subscription_exists");
    /* Nothing yet: an empty list at once, and after a wait. */
    assert_int_equal(s_fetch(s, s->token, "billing", 10, 0, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "deliveries")), 0);
    assert_int_equal(s_fetch(s, s->token, "billing", 10, 200, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "deliveries")), 0);

    s_publish_run(s, 3);
    s_got_t got = {0};
    assert_int_equal(s_collect(s, "billing", 3, &got), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(got.seq[i], i + 1);
        assert_int_equal(got.attempt[i], 1);
    }
    assert_int_equal(s_settle(s, s->token, "billing", "ack", &got, 0, 3, -1, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a.json, "count")), 3);
    assert_int_equal(s_publish(s, S_TOPIC, "e-4"), 4);
    /* The next fetch has only the new one; after it is acked, nothing comes in three ack
       waits (an unacked one would have come again). */
    assert_int_equal(s_collect(s, "billing", 1, &got), 1);
    assert_int_equal(got.seq[3], 4);
    assert_int_equal(s_settle(s, s->token, "billing", "ack", &got, 3, 1, -1, &a), 200);
    assert_int_equal(s_fetch(s, s->token, "billing", 10, 900, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "deliveries")), 0);

    assert_int_equal(s_req(s, "GET", "/v1/subscriptions", s->token, NULL, &a), 200);
    json_t *list = json_object_get(a.json, "subscriptions");
    assert_int_equal(json_array_size(list), 1);
    assert_true(json_is_false(json_object_get(a.json, "more")));
    json_t *one = json_array_get(list, 0);
    assert_string_equal(json_string_value(json_object_get(one, "sub")), "billing");
    assert_string_equal(json_string_value(json_object_get(one, "owner")), "oms-7");
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions", s->token_b, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "subscriptions")), 0);
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions/billing", s->token, NULL, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a.json, "pending")), 0);
    assert_int_equal(json_integer_value(json_object_get(a.json, "ack_wait_ms")), 300);

    assert_int_equal(s_req(s, "DELETE", "/v1/subscriptions/billing", s->token, NULL, &a), 204);
    assert_null(s_broker_info(s, "billing"));
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions/billing", s->token, NULL, &a), 404);
    /* The name is free again: another client may take it. */
    assert_int_equal(s_create(s, s->token_b, "billing", "", &a), 201);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* The event JSON of each delivery (written by the gateway without Jansson's object model)
   is what ob_event_to_json makes of the same event: strings with escapes and UTF-8, changes
   with nulls, and data as JSON, as base64 (binary, text that is not JSON, text that only
   starts like JSON) and empty. Published directly, so every field is the test's. */
static void
test_event_json(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-json", NULL);
    rest_answer_t a = {0};
    assert_int_equal(s_create(s, s->token, "shapes", ", \"ack_wait_ms\": 60000", &a), 201);
    static const uint8_t binary[] = {0, 1, 2, 0xff, 0xfe, '"', '\\', 0x80, 'x'};
    static const char *const data[] = {
        " {\"a\" : [1, 2.5, \"\\u00e9\\/\", true], \"b\": null, \"c\": {\"d\": \"e\\n\"}} ",
        "\"a string\"",
        "-12",
        "not json",
        "{broken",
        "",
        NULL};
    ob_change_t changes[] = {{.field = "status",
                              .before = NULL,
                              .after = "q\"u\\o\nt\te\x01\x1f d\xc3\xa9j\xe2\x82\xac"},
                             {.field = "price", .before = "1", .after = NULL}};
    size_t count = 0;
    char *want[8] = {0};
    for (size_t i = 0; i <= sizeof data / sizeof data[0] - 1; i++, count++) {
        char id[32];
        snprintf(id, sizeof id, "shape-%zu", i);
        ob_event_t ev = {.id = id,
                         .topic = S_TOPIC,
                         .type = "order.created",
                         .time_us = 1733400000123456ull + i,
                         .source = i % 2 ? NULL : "m\xc3\xbcnchen \"oms\"",
                         .oms_id = i,
                         .project_id = INT64_MAX,
                         .project_item_id = 7,
                         .message_id = 0,
                         .changes = i == 0 ? changes : NULL,
                         .changes_count = i == 0 ? 2 : 0,
                         .data = data[i] ? (const uint8_t *)data[i] : binary,
                         .data_len = data[i] ? strlen(data[i]) : sizeof binary};
        ob_confirm_t confirm;
        assert_int_equal(ob_client_publish(s->client, &ev, &confirm), 0);
        assert_int_equal(confirm.seq, i + 1);
        assert_int_equal(ob_event_to_json(&ev, &want[i]), 0);
    }
    s_got_t got = {0};
    size_t n = 0;
    int64_t deadline = zclock_mono() + S_COLLECT_MS;
    uint64_t stored_us = 0, now_us = (uint64_t)zclock_time() * 1000 + 1000;
    while (n < count && zclock_mono() < deadline) {
        assert_int_equal(s_fetch(s, s->token, "shapes", (int)count, S_WAIT_MS, &a), 200);
        json_t *list = json_object_get(a.json, "deliveries"), *d;
        size_t i;
        json_array_foreach(list, i, d)
        {
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(d, "seq"));
            assert_true(seq >= 1 && seq <= count);
            json_t *expect = json_loads(want[seq - 1], 0, NULL);
            assert_non_null(expect);
            assert_true(json_equal(json_object_get(d, "event"), expect));
            json_decref(expect);
            /* the broker's stored time: RFC 3339 with microseconds, after the publish */
            const char *time = json_string_value(json_object_get(d, "time"));
            assert_non_null(time);
            assert_int_equal(strlen(time), strlen("2026-12-05T16:00:00.123456Z"));
            assert_int_equal(ob_time_parse(time, &stored_us), 0);
            assert_true(stored_us + S_NEAR_US > now_us && stored_us < now_us + S_NEAR_US);
            snprintf(got.handle[got.count++], S_HANDLE, "%s",
                     json_string_value(json_object_get(d, "handle")));
            n++;
        }
    }
    assert_int_equal(n, count);
    assert_int_equal(s_settle(s, s->token, "shapes", "ack", &got, 0, got.count, -1, &a), 200);
    for (size_t i = 0; i < count; i++)
        free(want[i]);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* A nack with a delay comes again with attempt 2 no sooner; one not acked comes again after
   ack_wait_ms with attempt 3. */
static void
test_nack_timeout(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-nack", NULL);
    rest_answer_t a = {0};
    assert_int_equal(s_create(s, s->token, "work",
                              ", \"ack_wait_ms\": 300, \"backoff_ms\": 1, \"max_attempts\": 0", &a),
                     201);
    assert_int_equal(s_publish(s, S_TOPIC, "n-1"), 1);
    s_got_t got = {0};
    assert_int_equal(s_collect(s, "work", 1, &got), 1);
    assert_int_equal(got.attempt[0], 1);
    int64_t nacked = zclock_mono();
    assert_int_equal(s_settle(s, s->token, "work", "nack", &got, 0, 1, 400, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a.json, "count")), 1);
    assert_int_equal(s_collect(s, "work", 1, &got), 1);
    assert_true(zclock_mono() - nacked >= 400);
    assert_int_equal(got.seq[1], 1);
    assert_int_equal(got.attempt[1], 2);
    /* Not acked: back after ack_wait_ms. */
    int64_t fetched = zclock_mono();
    assert_int_equal(s_collect(s, "work", 1, &got), 1);
    assert_true(zclock_mono() - fetched >= 300 - 100); /* the broker's 100 ms timer tick */
    assert_int_equal(got.seq[2], 1);
    assert_int_equal(got.attempt[2], 3);
    assert_int_equal(s_settle(s, s->token, "work", "ack", &got, 2, 1, -1, &a), 200);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* After max_attempts the event is dead-lettered to dlq.<name>, and not delivered again. */
static void
test_dead_letter(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-dlq", NULL);
    rest_answer_t a = {0};
    assert_int_equal(s_create(s, s->token, "dl",
                              ", \"ack_wait_ms\": 100, \"backoff_ms\": 1, \"max_attempts\": 2", &a),
                     201);
    const char *dlq[] = {"dlq.dl"};
    ob_sub_options_t opts = {.patterns = dlq, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(s->client, "dlq-reader", &opts, NULL, NULL), 0);
    assert_int_equal(s_publish(s, S_TOPIC, "d-1"), 1);
    s_got_t got = {0};
    assert_int_equal(s_collect(s, "dl", 1, &got), 1);
    assert_int_equal(s_settle(s, s->token, "dl", "nack", &got, 0, 1, 0, &a), 200);
    assert_int_equal(s_collect(s, "dl", 1, &got), 1);
    assert_int_equal(got.attempt[1], 2);
    assert_int_equal(s_settle(s, s->token, "dl", "nack", &got, 1, 1, 0, &a), 200);
    ob_delivery_t *d = NULL;
    assert_int_equal(ob_client_receive(s->client, S_COLLECT_MS, &d), 0);
    assert_string_equal(d->topic, "dlq.dl");
    ob_event_t *ev = NULL;
    assert_int_equal(ob_delivery_decode(d, &ev), 0);
    assert_string_equal(ev->type, "dead_letter");
    ob_event_destroy(&ev);
    ob_delivery_destroy(&d);
    assert_int_equal(s_fetch(s, s->token, "dl", 10, 500, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "deliveries")), 0);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* A subscription without a fetch, ack or nack for 2 x ack_wait_ms (at least 1 s) is
   detached: what it held goes back to the broker, counting an attempt; a fetch attaches it
   again. */
static void
test_detach(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-detach", NULL);
    rest_answer_t a = {0};
    assert_int_equal(s_create(s, s->token, "idle", ", \"ack_wait_ms\": 400", &a), 201);
    s_publish_run(s, 1);
    s_got_t got = {0};
    assert_int_equal(s_collect(s, "idle", 1, &got), 1);
    assert_int_equal(got.attempt[0], 1);
    json_t *info = s_broker_info(s, "idle");
    assert_int_equal(json_integer_value(json_object_get(info, "consumers")), 1);
    int64_t deadline = zclock_mono() + S_COLLECT_MS;
    while (json_integer_value(json_object_get(info, "consumers")) == 1) {
        assert_true(zclock_mono() < deadline);
        json_decref(info);
        info = s_broker_info(s, "idle");
    }
    assert_int_equal(json_integer_value(json_object_get(info, "consumers")), 0);
    json_decref(info);
    assert_int_equal(s_collect(s, "idle", 1, &got), 1);
    assert_int_equal(got.seq[1], 1);
    assert_int_equal(got.attempt[1], 2);
    assert_int_equal(s_settle(s, s->token, "idle", "ack", &got, 1, 1, -1, &a), 200);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* kill -9 of the gateway: the unacked come again, the acked do not, handles given out
   before it are answered without error. */
static void
test_gateway_kill9(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-gwkill", NULL);
    rest_answer_t a = {0};
    s_got_t got = {0};
    s_start(s, "resume", 4, &got);
    assert_int_equal(s_settle(s, s->token, "resume", "ack", &got, 0, 2, -1, &a), 200);
    gw_proc_stop(s->gw_pid, SIGKILL);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    /* Far within ack_wait_ms: they come again because the gateway's session ended. */
    s_got_t again = {0};
    assert_int_equal(s_collect(s, "resume", 2, &again), 2);
    for (size_t i = 0; i < 2; i++) {
        assert_true(again.seq[i] == 3 || again.seq[i] == 4);
        assert_int_equal(again.attempt[i], 2);
    }
    assert_true(again.seq[0] != again.seq[1]);
    /* The handles of before the kill: valid (the key is kept), answered 200. */
    assert_int_equal(s_settle(s, s->token, "resume", "ack", &got, 2, 2, -1, &a), 200);
    assert_int_equal(json_integer_value(json_object_get(a.json, "count")), 2);
    assert_int_equal(s_settle(s, s->token, "resume", "ack", &again, 0, 2, -1, &a), 200);
    assert_int_equal(s_fetch(s, s->token, "resume", 10, 300, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "deliveries")), 0);
    json_t *info = s_broker_info(s, "resume");
    assert_non_null(info);
    assert_int_equal(json_integer_value(json_object_get(info, "pending")), 0);
    assert_int_equal(json_integer_value(json_object_get(info, "lag")), 0);
    json_decref(info);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* kill -9 of the broker after acks and a publish confirmed after them: the next fetch
   starts exactly after the last ack. The broker down: 503, the gateway serves on. */
static void
test_broker_kill9(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-subs-brkill", NULL);
    rest_answer_t a = {0};
    s_got_t got = {0};
    s_start(s, "durable", 5, &got);
    assert_int_equal(s_settle(s, s->token, "durable", "ack", &got, 0, 3, -1, &a), 200);
    /* A group commit after the acks: a publish on the same connection, confirmed. */
    s_publish(s, S_AUDIT, "proof");
    broker_proc_stop(s->broker_pid, SIGKILL);
    s->broker_pid = -1;
    assert_int_equal(s_fetch(s, s->token, "durable", 10, 0, &a), 503);
    assert_string_equal(rest_error_code(&a), "unavailable");
    assert_int_equal(s_create(s, s->token, "other", "", &a), 503);
    assert_int_equal(s_req(s, "GET", "/v1/openapi.json", s->token, NULL, &a), 200);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    int64_t deadline = zclock_mono() + S_RECOVER_MS;
    long status = 0;
    while ((status = s_fetch(s, s->token, "durable", 10, S_WAIT_MS, &a)) != 200 ||
           !json_array_size(json_object_get(a.json, "deliveries"))) {
        assert_true(status == 200 || status == 503);
        assert_true(zclock_mono() < deadline);
    }
    json_t *list = json_object_get(a.json, "deliveries");
    uint64_t first = (uint64_t)json_integer_value(json_object_get(json_array_get(list, 0), "seq"));
    assert_int_equal(first, 4);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* A long-poll of its own thread (rest_http waits). */
/* Long-polls run at once, each in its own thread, and how many have ended. */
typedef struct s_polls {
    const s_site_t *site; /* borrowed */
    pthread_mutex_t lock; /* guards ended */
    pthread_cond_t cond;  /* broadcast when ended grows */
    long ended;           /* polls answered */
} s_polls_t;

typedef struct s_poll {
    s_polls_t *all;   /* borrowed */
    pthread_t thread; /* the poller */
    long status;      /* its answer */
    size_t got;       /* deliveries in it */
    int64_t ms;       /* how long it took */
    long retry_after; /* its Retry-After */
    char code[32];    /* its error code, "" if none */
} s_poll_t;

static void *
s_poll_run(void *arg)
{
    s_poll_t *p = arg;
    rest_answer_t a = {0};
    int64_t start = zclock_mono();
    p->status = s_fetch(p->all->site, p->all->site->token, "lp", 1, S_WAIT_MS, &a);
    p->ms = zclock_mono() - start;
    p->got = json_array_size(json_object_get(a.json, "deliveries"));
    p->retry_after = a.retry_after;
    const char *code = json_string_value(json_object_get(json_object_get(a.json, "error"), "code"));
    snprintf(p->code, sizeof p->code, "%s", code ? code : "");
    rest_answer_free(&a);
    pthread_mutex_lock(&p->all->lock);
    p->all->ended++;
    pthread_cond_broadcast(&p->all->cond);
    pthread_mutex_unlock(&p->all->lock);
    return NULL;
}

/* Every refusal gets its status, and changes nothing at the broker. */
static void
test_refusals(void **state)
{
    (void)state;
    char extra[256];
    snprintf(extra, sizeof extra,
             "    rest_waits_max = %d\n    rest_rate = 100000\n    rest_burst = 100000\n",
             S_WAITS_MAX);
    s_site_t *s = s_site_new("gw-subs-refuse", extra);
    rest_answer_t a = {0};
    /* 401 */
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions", NULL, NULL, &a), 401);
    assert_string_equal(rest_error_code(&a), "unauthorized");
    assert_int_equal(s_create(s, s->unknown, "x", "", &a), 401);
    /* 403: a pattern outside the token */
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions", s->token,
                           "{\"name\": \"x\", \"patterns\": [\"billing.>\"]}", &a),
                     403);
    assert_string_equal(rest_error_code(&a), "forbidden");
    assert_null(s_broker_info(s, "x"));
    /* 403: another client's subscription, for every route, and nothing changes */
    assert_int_equal(s_create(s, s->token, "mine", ", \"ack_wait_ms\": 5000", &a), 201);
    assert_int_equal(s_publish(s, S_TOPIC, "m-1"), 1);
    s_got_t got = {0};
    assert_int_equal(s_collect(s, "mine", 1, &got), 1);
    assert_int_equal(s_create(s, s->token_b, "mine", ", \"ack_wait_ms\": 5000", &a), 403);
    assert_int_equal(s_fetch(s, s->token_b, "mine", 1, 0, &a), 403);
    assert_int_equal(s_settle(s, s->token_b, "mine", "ack", &got, 0, 1, -1, &a), 403);
    assert_int_equal(s_settle(s, s->token_b, "mine", "nack", &got, 0, 1, 0, &a), 403);
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions/mine", s->token_b, NULL, &a), 403);
    assert_int_equal(s_req(s, "DELETE", "/v1/subscriptions/mine", s->token_b, NULL, &a), 403);
    json_t *info = s_broker_info(s, "mine");
    assert_non_null(info);
    assert_int_equal(json_integer_value(json_object_get(info, "pending")), 1);
    assert_int_equal(json_integer_value(json_object_get(info, "consumers")), 1);
    json_decref(info);
    /* 403: a ZeroMQ client's subscription */
    const char *pat[] = {"orders.>"};
    ob_sub_options_t opts = {.patterns = pat, .pattern_count = 1};
    assert_int_equal(ob_client_subscribe(s->client, "zmq-sub", &opts, NULL, NULL), 0);
    assert_int_equal(s_create(s, s->token, "zmq-sub", "", &a), 403);
    assert_int_equal(s_fetch(s, s->token, "zmq-sub", 1, 0, &a), 403);
    assert_int_equal(s_req(s, "DELETE", "/v1/subscriptions/zmq-sub", s->token, NULL, &a), 403);
    assert_non_null((info = s_broker_info(s, "zmq-sub")));
    json_decref(info);
    /* 400 */
    const char *bad[] = {
        "{",
        "{\"name\": 1, \"patterns\": [\"orders.>\"]}",
        "{\"name\": \"x\"}",
        "{\"name\": \"x\", \"patterns\": [\"orders.>\"], \"credit\": 0}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_req(s, "POST", "/v1/subscriptions", s->token, bad[i], &a), 400);
        assert_non_null(rest_error_code(&a));
    }
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions/mine/fetch", s->token, "{\"max\": 0}", &a),
                     400);
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions/mine/ack", s->token,
                           "{\"handles\": [\"not-a-handle\"]}", &a),
                     400);
    assert_int_equal(
        s_req(s, "POST", "/v1/subscriptions/mine/ack", s->token, "{\"handles\": []}", &a), 400);
    /* A handle of another subscription. */
    assert_int_equal(s_settle(s, s->token, "zmq-sub", "ack", &got, 0, 1, -1, &a), 400);
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions/Not!A!Name", s->token, NULL, &a), 400);
    rest_request_t plain = {.method = "POST",
                            .path = "/v1/subscriptions",
                            .token = s->token,
                            .content_type = "text/plain",
                            .body = "x",
                            .len = 1};
    assert_int_equal(rest_http(s->gw_url, &plain, &a), 415);
    assert_int_equal(s_req(s, "PUT", "/v1/subscriptions", s->token, NULL, &a), 405);
    /* 404 */
    assert_int_equal(s_fetch(s, s->token, "nosuch", 1, 0, &a), 404);
    assert_int_equal(s_req(s, "GET", "/v1/subscriptions/nosuch", s->token, NULL, &a), 404);
    assert_int_equal(s_req(s, "DELETE", "/v1/subscriptions/nosuch", s->token, NULL, &a), 404);
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions/mine/other", s->token, "{}", &a), 404);
    /* 429: over rest_waits_max long-polls of one client. */
    assert_int_equal(s_req(s, "POST", "/v1/subscriptions", s->token,
                           "{\"name\": \"lp\", \"patterns\": [\"orders.none\"]}", &a),
                     201);
    /* One more than the limit at once: the last to arrive is refused at once, the others
       wait; then an event wakes one of them at once, and the other's wait runs out. */
    s_polls_t all = {.site = s};
    s_poll_t polls[S_WAITS_MAX + 1];
    assert_int_equal(pthread_mutex_init(&all.lock, NULL), 0);
    assert_int_equal(pthread_cond_init(&all.cond, NULL), 0);
    for (int i = 0; i <= S_WAITS_MAX; i++) {
        polls[i] = (s_poll_t){.all = &all};
        assert_int_equal(pthread_create(&polls[i].thread, NULL, s_poll_run, &polls[i]), 0);
    }
    assert_int_equal(broker_proc_wait_count(&all.lock, &all.cond, &all.ended, 1, S_WAIT_MS), 1);
    /* Another client is not held back. */
    assert_int_equal(s_create(s, s->token_b, "theirs", "", &a), 201);
    assert_int_equal(s_fetch(s, s->token_b, "theirs", 1, 1, &a), 200);
    assert_int_equal(s_publish(s, "orders.none", "lp-1"), 1);
    size_t refused = 0, woken = 0;
    for (int i = 0; i <= S_WAITS_MAX; i++) {
        assert_int_equal(pthread_join(polls[i].thread, NULL), 0);
        if (polls[i].status == 429) {
            refused++;
            assert_true(polls[i].ms < S_WAIT_MS);
            assert_string_equal(polls[i].code, "rate_limited");
            assert_true(polls[i].retry_after >= 1);
            continue;
        }
        assert_int_equal(polls[i].status, 200);
        if (polls[i].got) {
            woken++;
            assert_true(polls[i].ms < S_WAIT_MS);
        } else
            assert_true(polls[i].ms >= S_WAIT_MS);
    }
    assert_int_equal(refused, 1);
    assert_int_equal(woken, 1);
    pthread_cond_destroy(&all.cond);
    pthread_mutex_destroy(&all.lock);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_ack),     cmocka_unit_test(test_nack_timeout),
        cmocka_unit_test(test_dead_letter),   cmocka_unit_test(test_detach),
        cmocka_unit_test(test_gateway_kill9), cmocka_unit_test(test_broker_kill9),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_event_json),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
