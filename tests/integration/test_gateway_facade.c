/*  test_gateway_facade: the Ordering API facade's read side (gateway/facade.h) end to end,
    with real processes on ephemeral loopback ports in the test's scratch directory: the
    Marketplace double (orders placed there), a broker, and the gateway with its feed, its
    connector and the facade. What the facade answers is compared with what the double
    itself answers for the same request (JSON text, key order included; events without the
    facade's "seq"): every project, item and message and their lists, the events, and the
    error answers. Then 100 events in one second, read by from_seq pages (no duplicate, no
    gap) and by from_timestamp; a kill -9 of the gateway and a restart (the view whole, and
    it resumes); the view's directory deleted and a restart (rebuilt from the topic). Every
    wait is for an answer, with a deadline. */
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
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
#include "mp_double_proc.h"
#include "orderbus/event_json.h"
#include "orderbus/orderbus.h"
#include "rest_http.h"
#include "token.h"

#define S_RATE_BURST 400 /* the gateway's default rest_burst (gw_limits.h) */
#define S_OMS 7
#define S_MP_TOKEN "tok-oms-7" /* the OMS's token at the double */
#define S_PATH 1024
#define S_CFG 4096
#define S_SYNC_MS 30000   /* the facade shows what the double holds */
#define S_LOOK_MS 50      /* between two looks at the facade */
#define S_BURST 100       /* events in one second */
#define S_NAIVE_LIMIT 150 /* a page of the client that pages by from_timestamp */
#define S_WAKE_MS 3000    /* a new event is in the view (its idle read: OB_GW_FACADE_IDLE_MS) */
#define S_KEPT "5"        /* the retention test's broker keeps 5 events a topic */
#define S_PUBLISHED 20    /* ... and gets 20 */
#define S_T0 1764950400000000ull /* 2025-12-05T16:00:00Z in µs */
#define S_ALL "from_timestamp=2000-01-01T00:00:00Z&limit=1000"
#define S_BASE "/api/v1/oms/7"

typedef struct s_site {
    broker_proc_site_t broker;        /* scratch dir, broker data and endpoint */
    pid_t broker_pid;                 /* the broker */
    pid_t gw_pid;                     /* the gateway, or -1 */
    char gw_url[GW_PROC_URL_MAX + 1]; /* http://127.0.0.1:PORT */
    char cfg[S_PATH];                 /* the gateway's configuration */
    char token[OB_TOKEN_TEXT];        /* client "oms-7": subscribe = oms.7, publish = mp.7 */
    char other[OB_TOKEN_TEXT];        /* client "oms-8": subscribe = oms.8 */
    char stranger[OB_TOKEN_TEXT];     /* in no file */
    mp_double_proc_t mp;              /* the Marketplace double */
} s_site_t;

/* Starts the double (OMS 7 registered, nothing ordered), a broker keeping max_events a topic
   (NULL: its default) and the gateway, with the facade on (facade 1) or off. */
static s_site_t *
s_site_new_kept(const char *name, int facade, const char *max_events)
{
    s_site_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(mp_double_proc_start(&s->mp, (char *)NULL), 0);
    json_t *body = json_pack("{s:i, s:s, s:b, s:s}", "id", S_OMS, "name", "facade", "default", 1,
                             "token", S_MP_TOKEN);
    json_t *answer = mp_double_proc_control(&s->mp, "oms", body);
    json_decref(body);
    assert_non_null(answer);
    json_decref(answer);
    assert_int_equal(broker_proc_site_make(&s->broker, name), 0);
    s->broker_pid = max_events
                        ? broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0",
                                            "--retention-max-events", max_events, (char *)NULL)
                        : broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0",
                                            (char *)NULL);
    assert_true(s->broker_pid > 0);
    assert_int_equal(ob_token_generate(s->token), 0);
    assert_int_equal(ob_token_generate(s->other), 0);
    assert_int_equal(ob_token_generate(s->stranger), 0);
    char tokens[S_CFG] = "", path[S_PATH], mp_token[S_PATH], cfg[S_CFG];
    rest_http_token_entry(tokens, sizeof tokens, "oms-7", s->token,
                          "    subscribe = oms.7\n    publish = mp.7\n");
    rest_http_token_entry(tokens, sizeof tokens, "oms-8", s->other,
                          "    subscribe = oms.8\n    publish = mp.7\n");
    snprintf(path, sizeof path, "%s/tokens.zpl", s->broker.dir);
    rest_http_write_file(path, tokens);
    snprintf(mp_token, sizeof mp_token, "%s/mp-token", s->broker.dir);
    rest_http_write_file(mp_token, S_MP_TOKEN "\n");
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    facade = %d\n"
             "broker\n    endpoint = %s\n"
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 100ms\n",
             s->broker.dir, path, facade, s->broker.endpoint, S_OMS, s->mp.base_url, mp_token);
    snprintf(s->cfg, sizeof s->cfg, "%s/gw.cfg", s->broker.dir);
    rest_http_write_file(s->cfg, cfg);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    return s;
}

static s_site_t *
s_site_new(const char *name, int facade)
{
    return s_site_new_kept(name, facade, NULL);
}

static void
s_site_destroy(s_site_t **s_p)
{
    s_site_t *s = *s_p;
    if (s->gw_pid > 0) {
        int status = gw_proc_stop(s->gw_pid, SIGTERM);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    broker_proc_stop(s->broker_pid, SIGTERM);
    mp_double_proc_stop(&s->mp, SIGTERM);
    broker_proc_site_remove(&s->broker);
    free(s);
    *s_p = NULL;
}

/* GET path from the facade with X-User-Token token (NULL: none) into *a. */
static long
s_get(const s_site_t *s, const char *path, const char *token, rest_answer_t *a)
{
    char header[OB_TOKEN_TEXT + 32];
    snprintf(header, sizeof header, "X-User-Token: %s", token ? token : "");
    rest_request_t req = {.method = "GET", .path = path, .header = token ? header : NULL};
    return rest_http(s->gw_url, &req, a);
}

/* A control call of the double that must succeed; the answer's "id". */
static json_int_t
s_control(s_site_t *s, const char *call, json_t *body)
{
    json_t *answer = mp_double_proc_control(&s->mp, call, body);
    json_decref(body);
    assert_non_null(answer);
    json_int_t id = json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
    return id;
}

/* The compact text of json with "seq" dropped from each event of an events answer. */
static char *
s_canon(json_t *json)
{
    json_t *events = json_object_get(json, "events");
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) json_object_del(ev, "seq");
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(text);
    return text;
}

/* GET path from both: the same status and the same body (JSON text, key order included;
   the 404 page as text). */
static void
s_same(s_site_t *s, const char *path)
{
    char *mp_text = NULL;
    long mp_status = mp_double_proc_raw(&s->mp, "GET", path, S_MP_TOKEN, NULL, &mp_text);
    rest_answer_t a = {0};
    long status = s_get(s, path, s->token, &a);
    if (status != mp_status)
        fail_msg("%s: facade %ld %s, double %ld %s", path, status, a.text, mp_status, mp_text);
    json_t *mp_json = mp_text ? json_loads(mp_text, 0, NULL) : NULL;
    if (mp_json) {
        assert_non_null(a.json);
        char *x = s_canon(a.json), *y = s_canon(mp_json);
        if (strcmp(x, y))
            fail_msg("%s:\nfacade %s\ndouble %s", path, x, y);
        free(x);
        free(y);
        json_decref(mp_json);
    } else if (strcmp(a.text ? a.text : "", mp_text ? mp_text : ""))
        fail_msg("%s: facade %s, double %s", path, a.text, mp_text);
    free(mp_text);
    rest_answer_free(&a);
}

/* The number of events the double shows OMS 7. */
static size_t
s_double_events(s_site_t *s)
{
    json_t *json = NULL;
    assert_int_equal(
        mp_double_proc_http(&s->mp, "GET", S_BASE "/events?" S_ALL, S_MP_TOKEN, NULL, &json), 200);
    size_t n = json_array_size(json_object_get(json, "events"));
    json_decref(json);
    return n;
}

/* Waits until the facade shows as many events as the double. */
static void
s_sync(s_site_t *s)
{
    size_t want = s_double_events(s), have = 0;
    int64_t until = zclock_mono() + S_SYNC_MS;
    rest_answer_t a = {0};
    while (zclock_mono() < until) {
        if (s_get(s, S_BASE "/events?" S_ALL, s->token, &a) == 200 &&
            (have = json_array_size(json_object_get(a.json, "events"))) >= want)
            break;
        zclock_sleep(S_LOOK_MS);
    }
    rest_answer_free(&a);
    if (have != want)
        fail_msg("the facade shows %zu events, the double %zu", have, want);
}

/* Everything the double shows, compared. */
static void
s_compare_all(s_site_t *s)
{
    char path[S_PATH];
    s_same(s, S_BASE "/events?" S_ALL);
    s_same(s, S_BASE "/events?from_timestamp=2000-01-01T00:00:00Z"); /* limit 20 */
    s_same(s, S_BASE "/projects");
    s_same(s, S_BASE "/projects?from_id=1&limit=1");
    json_t *state = mp_double_proc_get(&s->mp, "state");
    assert_non_null(state);
    size_t i, k;
    json_t *p, *item;
    json_array_foreach(json_object_get(state, "projects"), i, p)
    {
        json_int_t pid = json_integer_value(json_object_get(p, "id"));
        snprintf(path, sizeof path, S_BASE "/projects/%lld", (long long)pid);
        s_same(s, path);
        snprintf(path, sizeof path, S_BASE "/projects/%lld/project_items", (long long)pid);
        s_same(s, path);
        snprintf(path, sizeof path, S_BASE "/messages?project_id=%lld", (long long)pid);
        s_same(s, path);
        json_array_foreach(json_object_get(p, "items"), k, item)
        {
            json_int_t iid = json_integer_value(json_object_get(item, "id"));
            snprintf(path, sizeof path, S_BASE "/projects/%lld/project_items/%lld", (long long)pid,
                     (long long)iid);
            s_same(s, path);
            snprintf(path, sizeof path, S_BASE "/messages?project_id=%lld&project_item_id=%lld",
                     (long long)pid, (long long)iid);
            s_same(s, path);
        }
    }
    json_array_foreach(json_object_get(state, "messages"), i, p)
    {
        snprintf(path, sizeof path, S_BASE "/messages/%lld",
                 (long long)json_integer_value(json_object_get(p, "id")));
        s_same(s, path);
    }
    json_decref(state);
}

/* Reads every event with from_seq pages of limit: seqs strictly increasing, each event the
   double's at the same place (without seq). Returns the last seq. */
static uint64_t
s_page_through(s_site_t *s, int limit)
{
    json_t *all = NULL;
    assert_int_equal(
        mp_double_proc_http(&s->mp, "GET", S_BASE "/events?" S_ALL, S_MP_TOKEN, NULL, &all), 200);
    json_t *want = json_object_get(all, "events");
    uint64_t after = 0;
    size_t at = 0;
    rest_answer_t a = {0};
    for (;;) {
        char path[S_PATH];
        snprintf(path, sizeof path, S_BASE "/events?from_seq=%llu&limit=%d",
                 (unsigned long long)after, limit);
        assert_int_equal(s_get(s, path, s->token, &a), 200);
        json_t *events = json_object_get(a.json, "events");
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
            assert_true(seq > after);
            after = seq;
            json_object_del(ev, "seq");
            assert_true(at < json_array_size(want));
            if (!json_equal(ev, json_array_get(want, at)))
                fail_msg("event %zu differs", at);
            at++;
        }
        if (json_array_size(events) < (size_t)limit)
            break;
    }
    assert_int_equal(at, json_array_size(want));
    rest_answer_free(&a);
    json_decref(all);
    return after;
}

/* A client that pages by from_timestamp alone, sending back the last timestamp it saw (the
   reference adapter's way): every event of all (an answer of every event) is in the union
   of its pages, once its limit exceeds the events of one second. */
static void
s_naive(s_site_t *s, const json_t *all)
{
    const json_t *want = json_object_get(all, "events");
    size_t n = json_array_size(want);
    uint64_t last =
        (uint64_t)json_integer_value(json_object_get(json_array_get(want, n - 1), "seq"));
    char *seen = calloc(last + 1, 1);
    assert_non_null(seen);
    char from[OB_TIME_TEXT_MAX] = "2000-01-01T00:00:00Z", path[S_PATH];
    rest_answer_t a = {0};
    for (int pages = 0;; pages++) {
        assert_true(pages < (int)n); /* it progresses */
        snprintf(path, sizeof path, S_BASE "/events?limit=%d&from_timestamp=%s", S_NAIVE_LIMIT,
                 from);
        assert_int_equal(s_get(s, path, s->token, &a), 200);
        const json_t *events = json_object_get(a.json, "events");
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
            assert_true(seq >= 1 && seq <= last);
            seen[seq] = 1;
            snprintf(from, sizeof from, "%s", json_string_value(json_object_get(ev, "timestamp")));
        }
        if (json_array_size(events) < S_NAIVE_LIMIT)
            break;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(want, i, ev)
    {
        if (!seen[json_integer_value(json_object_get(ev, "seq"))])
            fail_msg("event %zu missed", i);
    }
    free(seen);
    rest_answer_free(&a);
}

/* Orders in the double: two projects, items, messages of each scope, a status change with
   secrets, an edit. */
static json_int_t
s_orders(s_site_t *s)
{
    json_int_t p1 = s_control(s, "projects",
                              json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "owner",
                                        "uid", "u-1", "email", "a@example.org", "name", "Ann Lee",
                                        "first_name", "Ann", "last_name", "Lee", "attributes",
                                        "name", "Alpha", "customer_typology", "research"));
    json_int_t p2 = s_control(s, "projects", json_pack("{}"));
    for (int i = 0; i < 2; i++)
        s_control(s, "project_items",
                  json_pack("{s:I, s:i, s:{s:s, s:s}, s:{s:s}}", "project_id", p1, "primary_oms_id",
                            S_OMS, "attributes", "service", "Compute", "offer", "Small",
                            "user_secrets", "seed", "s3cr3t"));
    s_control(s, "project_items",
              json_pack("{s:I, s:i}", "project_id", p2, "primary_oms_id", S_OMS));
    s_control(s, "update",
              json_pack("{s:I, s:i, s:{s:s, s:s}, s:{s:s}}", "project_id", p1, "project_item_id", 1,
                        "status", "value", "Ready", "type", "ready", "user_secrets", "voucher_id",
                        "V-1"));
    json_int_t m = s_control(s, "messages",
                             json_pack("{s:I, s:{s:s, s:s}, s:s, s:s}", "project_id", p1, "author",
                                       "role", "provider", "name", "Prov", "content",
                                       "on the project", "scope", "public"));
    s_control(s, "messages",
              json_pack("{s:I, s:i, s:{s:s}, s:s, s:s}", "project_id", p1, "project_item_id", 2,
                        "author", "role", "user", "content", "private", "scope", "user_direct"));
    s_control(s, "edit", json_pack("{s:I, s:s}", "id", m, "content", "edited"));
    return p1;
}

/* The facade against the double: resources, errors, a burst, kill -9, a lost view. */
static void
test_facade(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade", 1);
    json_t *faults = json_pack("{s:b}", "stable_ties", 1);
    json_decref(mp_double_proc_control(&s->mp, "faults", faults));
    json_decref(faults);
    json_int_t p1 = s_orders(s);
    s_sync(s);
    s_compare_all(s);
    /* the errors the double answers, answered alike */
    static const char *const errors[] = {
        S_BASE "/events",
        S_BASE "/events?from_timestamp=",
        S_BASE "/events?from_timestamp=2022-02-30T00:00:00Z",
        S_BASE "/events?from_timestamp=2022-02-10T08:13:06",
        S_BASE "/events?from_timestamp=2022-02-10T08:13:06Z&limit=0",
        S_BASE "/projects?limit=-1",
        S_BASE "/projects?from_id=-1",
        S_BASE "/projects?limit=abc&from_id=-1",
        S_BASE "/projects/999",
        S_BASE "/projects/abc",
        S_BASE "/projects/999/project_items",
        S_BASE "/projects/1/project_items/99",
        S_BASE "/messages",
        S_BASE "/messages?project_id=999",
        S_BASE "/messages?project_id=1&project_item_id=99",
        S_BASE "/messages?project_id=1&limit=0",
        S_BASE "/messages/999",
        S_BASE "/nothing",
        "/api/v1/oms/8/projects",
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        s_same(s, errors[i]);

    /* a command through REST: its outcome holds the Marketplace's answer, secrets in clear,
       and reaches the view; the facade never shows the secret. The double holds back the
       update's feed event, so that the outcome alone can change the item; released after. */
    json_decref(mp_double_proc_control(&s->mp, "hold", NULL));
    char cmd[S_PATH];
    snprintf(cmd, sizeof cmd,
             "{\"id\":\"c-1\",\"command\":\"update_project_item\",\"project_id\":%lld,"
             "\"project_item_id\":2,\"status\":{\"value\":\"Done\",\"type\":\"ready\"},"
             "\"user_secrets\":{\"pw\":\"hunter2\"}}",
             (long long)p1);
    rest_request_t req = {.method = "POST",
                          .path = "/v1/oms/7/commands?wait_ms=15000",
                          .token = s->token,
                          .content_type = "application/json",
                          .body = cmd,
                          .len = strlen(cmd)};
    rest_answer_t a = {0};
    assert_int_equal(rest_http(s->gw_url, &req, &a), 200);
    char item[S_PATH];
    snprintf(item, sizeof item, S_BASE "/projects/%lld/project_items/2", (long long)p1);
    int64_t until = zclock_mono() + S_SYNC_MS;
    do {
        assert_int_equal(s_get(s, item, s->token, &a), 200);
        assert_null(strstr(a.text, "hunter2"));
        if (strstr(a.text, "\"Done\""))
            break;
        zclock_sleep(S_LOOK_MS);
    } while (zclock_mono() < until);
    assert_non_null(strstr(a.text, "\"pw\":\"<OBFUSCATED>\""));
    json_decref(mp_double_proc_control(&s->mp, "release", NULL));
    s_sync(s);
    s_compare_all(s);

    /* 100 events in one second */
    s_control(s, "burst",
              json_pack("{s:I, s:i, s:i, s:i}", "project_id", p1, "project_item_id", 2, "count",
                        S_BURST, "spacing_us", 1));
    s_sync(s);
    uint64_t last = s_page_through(s, 7);
    assert_int_equal(s_page_through(s, 100), last);
    s_compare_all(s);
    /* from_timestamp: the second of the burst, and 1 µs before it: one event apart (the
       first of that second is the only one at the whole second) */
    assert_int_equal(s_get(s, S_BASE "/events?from_seq=0&limit=1000", s->token, &a), 200);
    json_t *events = json_object_get(a.json, "events");
    const char *second = json_string_value(
        json_object_get(json_array_get(events, json_array_size(events) - 1), "timestamp"));
    char path[S_PATH], before[OB_TIME_TEXT_MAX];
    assert_non_null(second);
    snprintf(path, sizeof path, S_BASE "/events?limit=1000&from_timestamp=%s", second);
    uint64_t us = 0;
    assert_int_equal(ob_time_parse(second, &us), 0);
    assert_int_equal(ob_time_format(us - 1, before), 0); /* 1 µs before the second */
    rest_answer_t b = {0};
    assert_int_equal(s_get(s, path, s->token, &b), 200);
    size_t at_second = json_array_size(json_object_get(b.json, "events"));
    snprintf(path, sizeof path, S_BASE "/events?limit=1000&from_timestamp=%s", before);
    assert_int_equal(s_get(s, path, s->token, &b), 200);
    size_t from_before = json_array_size(json_object_get(b.json, "events"));
    assert_true(from_before >= S_BURST);
    assert_int_equal(at_second + 1, from_before);
    rest_answer_free(&b);
    /* a client that sends back the last timestamp it saw (reference 6.4) reads the rest of
       that second again and misses nothing: the union of its pages is every event */
    s_naive(s, a.json);
    rest_answer_free(&a);

    /* kill -9 of the gateway while more orders come, then a restart: whole, and it resumes */
    s_control(s, "burst",
              json_pack("{s:I, s:i, s:i, s:i}", "project_id", p1, "project_item_id", 1, "count",
                        S_BURST, "spacing_us", 1));
    assert_true(WIFSIGNALED(gw_proc_stop(s->gw_pid, SIGKILL)));
    s->gw_pid = -1;
    s_orders(s);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    s_sync(s);
    assert_true(s_page_through(s, 100) > last);
    s_compare_all(s);

    /* the view lost: rebuilt from the topic */
    assert_int_equal(gw_proc_stop(s->gw_pid, SIGTERM), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s/gw-data/facade", s->broker.dir);
    assert_int_equal(system(cmd), 0);
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    s_sync(s);
    s_page_through(s, 100);
    s_compare_all(s);
    s_site_destroy(&s);
}

/* Who may read: the Marketplace's 401, 404 and 403, in its order; the facade off. */
static void
test_refusals(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade-refusals", 1);
    rest_answer_t a = {0};
    static const char *const sign_in =
        "{\"error\":\"You need to sign in or sign up before continuing.\"}";
    assert_int_equal(s_get(s, S_BASE "/projects", NULL, &a), 401);
    assert_string_equal(a.text, sign_in);
    assert_string_equal(a.content_type, "application/json; charset=utf-8");
    assert_int_equal(s_get(s, S_BASE "/projects", s->stranger, &a), 401);
    assert_string_equal(a.text, sign_in);
    assert_int_equal(s_get(s, S_BASE "/projects", "not a token", &a), 401);
    assert_string_equal(a.text, sign_in);
    /* a route that does not exist: the 404 page before the token */
    assert_int_equal(s_get(s, S_BASE "/nothing", NULL, &a), 404);
    assert_non_null(strstr(a.content_type, "text/html"));
    /* an OMS not registered, then one whose topic the token may not read */
    assert_int_equal(s_get(s, "/api/v1/oms/8/projects", s->other, &a), 404);
    assert_string_equal(a.text, "{\"error\":\"OMS not found\"}");
    assert_int_equal(s_get(s, S_BASE "/projects", s->other, &a), 403);
    assert_string_equal(a.text, "{\"error\":\"You are not authorized to perform this action.\"}");
    assert_int_equal(s_get(s, S_BASE "/projects", s->token, &a), 200);
    assert_string_equal(a.text, "{\"projects\":[]}");
    /* the client's rate, as under /v1/ (rest_burst at once, then rest_rate a second): a 429
       with Retry-After comes within a few hundred requests made as fast as they go */
    long status = 200;
    for (int i = 0; i < 20 * S_RATE_BURST && status == 200; i++)
        status = s_get(s, S_BASE "/projects", s->token, &a);
    assert_int_equal(status, 429);
    assert_true(a.retry_after >= 1);
    assert_non_null(json_object_get(a.json, "error"));
    rest_answer_free(&a);
    s_site_destroy(&s);

    /* off (the default): the facade's paths are not there */
    s = s_site_new("gw-facade-off", 0);
    assert_int_equal(s_get(s, S_BASE "/projects", s->token, &a), 404);
    assert_string_equal(a.text, "not found\n");
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* Retention removed the topic's start before the view read it: the view holds what is
   left, and says what it lost in the log and the metrics. */
static void
test_retention(void **state)
{
    (void)state;
    s_site_t *s = s_site_new_kept("gw-facade-retention", 1, S_KEPT);
    assert_int_equal(gw_proc_stop(s->gw_pid, SIGTERM), 0);
    s->gw_pid = -1;
    /* project.created events on oms.7, as the feed makes them, while no gateway runs */
    ob_client_config_t cc = {.name = "test", .timeout_ms = S_SYNC_MS};
    ob_client_t *client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(client);
    for (int i = 1; i <= S_PUBLISHED; i++) {
        char id[32], data[256];
        snprintf(id, sizeof id, "p-%d", i);
        snprintf(data, sizeof data,
                 "{\"id\":%d,\"owner\":{},\"project_items\":[],\"attributes\":{}}", i);
        ob_event_t ev = {.id = id,
                         .topic = "oms.7",
                         .type = "project.created",
                         .time_us = S_T0 + (uint64_t)i,
                         .oms_id = S_OMS,
                         .project_id = (uint64_t)i,
                         .data = (const uint8_t *)data,
                         .data_len = strlen(data)};
        ob_confirm_t confirm;
        assert_int_equal(ob_client_publish(client, &ev, &confirm), 0);
    }
    /* retention runs about once a second: wait until it removed the start */
    uint64_t first = 1;
    for (int64_t until = zclock_mono() + S_SYNC_MS; first == 1 && zclock_mono() < until;) {
        ob_fetch_t *f = NULL;
        assert_int_equal(ob_client_fetch(client, "oms.7", 1, 0, 1, &f), 0);
        first = f->count ? f->events[0].seq : f->next;
        ob_fetch_destroy(&f);
        if (first == 1)
            zclock_sleep(S_LOOK_MS);
    }
    ob_client_destroy(&client);
    assert_true(first > 1);
    s->gw_pid = gw_proc_start_logged(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    /* the view holds what is left: first .. S_PUBLISHED */
    rest_answer_t a = {0};
    size_t want = S_PUBLISHED - (size_t)first + 1, have = 0;
    for (int64_t until = zclock_mono() + S_SYNC_MS; zclock_mono() < until;) {
        assert_int_equal(s_get(s, S_BASE "/events?from_seq=0&limit=100", s->token, &a), 200);
        if ((have = json_array_size(json_object_get(a.json, "events"))) >= want)
            break;
        zclock_sleep(S_LOOK_MS);
    }
    assert_int_equal(have, want);
    json_t *ev0 = json_array_get(json_object_get(a.json, "events"), 0);
    assert_int_equal(json_integer_value(json_object_get(ev0, "seq")), first);
    char path[S_PATH], line[S_PATH];
    snprintf(path, sizeof path, S_BASE "/projects/%llu", (unsigned long long)first - 1);
    assert_int_equal(s_get(s, path, s->token, &a), 404);
    snprintf(path, sizeof path, S_BASE "/projects/%llu", (unsigned long long)first);
    assert_int_equal(s_get(s, path, s->token, &a), 200);
    /* said, not hidden: the metric and the log */
    rest_request_t req = {.method = "GET", .path = "/metrics"};
    assert_int_equal(rest_http(s->gw_url, &req, &a), 200);
    snprintf(line, sizeof line, "orderbus_gateway_facade_view_lost_total{oms=\"7\"} %llu\n",
             (unsigned long long)first - 1);
    if (!strstr(a.text, line))
        fail_msg("no line %s in the metrics", line);
    rest_answer_free(&a);
    snprintf(path, sizeof path, "%s/gw.log", s->broker.dir);
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    int said = 0;
    while (!said && fgets(line, sizeof line, log))
        said = strstr(line, "removed by retention before the view read them") != NULL;
    fclose(log);
    assert_true(said);

    /* a new event wakes the view (its subscription), long before its idle read */
    client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(client);
    const char *data = "{\"id\":999,\"owner\":{},\"project_items\":[],\"attributes\":{}}";
    ob_event_t ev = {.id = "p-999",
                     .topic = "oms.7",
                     .type = "project.created",
                     .time_us = S_T0 + S_PUBLISHED + 1,
                     .oms_id = S_OMS,
                     .project_id = 999,
                     .data = (const uint8_t *)data,
                     .data_len = strlen(data)};
    ob_confirm_t confirm;
    int64_t t0 = zclock_mono();
    assert_int_equal(ob_client_publish(client, &ev, &confirm), 0);
    ob_client_destroy(&client);
    long status = 0;
    while ((status = s_get(s, S_BASE "/projects/999", s->token, &a)) != 200 &&
           zclock_mono() - t0 < S_WAKE_MS)
        zclock_sleep(S_LOOK_MS);
    assert_int_equal(status, 200);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_facade),
        cmocka_unit_test(test_retention),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
