/*  test_gateway_facade_write: the Ordering API facade's writes and triggers out (gateway/
    facade_write.h, facade_trigger.h), end to end with real processes: a broker
    (broker_proc), the Marketplace double (mp_double_proc) and the gateway (gw_proc), each
    on an ephemeral loopback port in the test's scratch directory. Each write through the
    facade is compared with the same request made to the double directly: the status and
    the JSON body must be equal (the facade answers with what the Marketplace answered).
    Every wait is on an answer, a delivery or a process, with a deadline; none is a sleep. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
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
#include <time.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"
#include "rest_http.h"
#include "token.h"

#define S_OMS 7                /* the OMS the gateway serves */
#define S_MP_TOKEN "tok-oms-7" /* its administrator's token at the double */
#define S_PATH 1024            /* a path */
#define S_WAIT_MS 20000        /* an outcome, a trigger: the longest wait */
#define S_HANG_MS 3000         /* a Marketplace answer held this long */
#define S_FACADE_WAIT "800ms"  /* the gateway's facade_wait in the 202 tests */
#define S_KILL9_COMMANDS 3     /* commands in flight at the kill */
#define S_ITEM_PATH "/api/v1/oms/7/projects/%lld/project_items/%d"
#define S_SEEN_MAX 256 /* trigger calls the receiver records */

typedef struct s_site {
    broker_proc_site_t broker;    /* scratch dir, broker data and endpoint */
    pid_t broker_pid;             /* the broker */
    mp_double_proc_t mp;          /* the Marketplace double */
    long long project;            /* its project of OMS 7 */
    pid_t gw_pid;                 /* the gateway, or -1 */
    char gw_url[GW_PROC_URL_MAX]; /* http://127.0.0.1:PORT */
    double_proc_t gw;             /* the gateway, to call it as the double is called */
    char cfg[S_PATH];             /* the gateway's configuration */
    char token[OB_TOKEN_TEXT];    /* client oms-7: publish mp.7, subscribe oms.7 */
    char weak[OB_TOKEN_TEXT];     /* client reader: subscribe oms.7 only */
    ob_client_t *client;          /* a direct broker client */
} s_site_t;

/* ---- the site ---- */

static json_t *
s_control(s_site_t *s, const char *call, json_t *body)
{
    json_t *answer = mp_double_proc_control(&s->mp, call, body);
    json_decref(body);
    assert_non_null(answer);
    return answer;
}

static void
s_gw_start(s_site_t *s)
{
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
    memset(&s->gw, 0, sizeof s->gw);
    s->gw.pid = -1;
    s->gw.out_fd = -1;
    s->gw.timeout_ms = S_WAIT_MS;
    snprintf(s->gw.base_url, sizeof s->gw.base_url, "%s", s->gw_url);
}

/* A broker, the double with OMS 7 and, unless extra_oms (more lines of the gateway's `oms`
   section) is given, a project with two items of OMS 7; the gateway with facade_wait wait
   (NULL: the default). */
static s_site_t *
s_site_new(const char *name, const char *wait, const char *extra_oms)
{
    s_site_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->gw_pid = -1;
    assert_int_equal(broker_proc_site_make(&s->broker, name), 0);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    assert_int_equal(mp_double_proc_start(&s->mp, (char *)NULL), 0);
    json_decref(s_control(
        s, "oms",
        json_pack("{s:i, s:s, s:s}", "id", S_OMS, "name", "facade", "token", S_MP_TOKEN)));
    /* the trigger test wants no event but its own on oms.7: nothing for the feed to read */
    int seed = !extra_oms[0];
    json_t *project = seed ? s_control(s, "projects", json_pack("{}")) : NULL;
    s->project = json_integer_value(json_object_get(project, "id"));
    json_decref(project);
    for (int i = 0; seed && i < 2; i++)
        json_decref(s_control(s, "project_items",
                              json_pack("{s:I, s:i}", "project_id", (json_int_t)s->project,
                                        "primary_oms_id", S_OMS)));

    assert_int_equal(ob_token_generate(s->token), 0);
    assert_int_equal(ob_token_generate(s->weak), 0);
    char tokens[2048] = "", path[S_PATH], mp_token[S_PATH];
    rest_http_token_entry(tokens, sizeof tokens, "oms-7", s->token,
                          "    publish = mp.7\n    subscribe = oms.7\n    admin = read\n");
    rest_http_token_entry(tokens, sizeof tokens, "reader", s->weak, "    subscribe = oms.7\n");
    snprintf(path, sizeof path, "%s/tokens.zpl", s->broker.dir);
    rest_http_write_file(path, tokens);
    snprintf(mp_token, sizeof mp_token, "%s/mp-token", s->broker.dir);
    rest_http_write_file(mp_token, S_MP_TOKEN "\n");
    char cfg[8192];
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    facade = 1\n%s%s%s"
             "broker\n    endpoint = %s\n"
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 60s\n%s",
             s->broker.dir, path, wait ? "    facade_wait = " : "", wait ? wait : "",
             wait ? "\n" : "", s->broker.endpoint, S_OMS, s->mp.base_url, mp_token, extra_oms);
    snprintf(s->cfg, sizeof s->cfg, "%s/gw.cfg", s->broker.dir);
    rest_http_write_file(s->cfg, cfg);
    s_gw_start(s);
    ob_client_config_t cc = {.name = "test", .timeout_ms = 5000};
    s->client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(s->client);
    assert_int_equal(ob_client_connect(s->client, 5000), 0);
    /* The feed's first pass (read, a fetch per event, publish) is over once the seeded
       project and items are on oms.7: from then on the double's faults hit the writes, not
       the feed (its next pass is poll_interval away). */
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (seed) {
        ob_fetch_t *f = NULL;
        int rc = ob_client_fetch(s->client, "oms.7", 1, 0, 1, &f);
        assert_true(rc == 0 || rc == OB_ERR_NO_SUCH_TOPIC);
        seed = !f || f->last_seq < 3;
        ob_fetch_destroy(&f);
        assert_true(zclock_mono() < deadline);
    }
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
    mp_double_proc_stop(&s->mp, SIGTERM);
    broker_proc_stop(s->broker_pid, SIGTERM);
    broker_proc_site_remove(&s->broker);
    free(s);
    *s_p = NULL;
}

/* ---- requests ---- */

/* An answer: status and JSON body. */
typedef struct s_answer {
    long status;  /* HTTP status, -1 for none */
    json_t *json; /* the body parsed (any JSON), or NULL */
} s_answer_t;

static void
s_answer_free(s_answer_t *a)
{
    json_decref(a->json);
    a->json = NULL;
    a->status = 0;
}

/* method path with X-User-Token token (NULL: none) and body text (NULL: none) to server
   (the double or the gateway), plus an Idempotency-Key when key is not NULL. */
static s_answer_t
s_call(const double_proc_t *server, const char *method, const char *path, const char *token,
       const char *key, const char *body)
{
    char token_line[256], key_line[256];
    const char *headers[3] = {NULL, NULL, NULL};
    int n = 0;
    if (token) {
        snprintf(token_line, sizeof token_line, "X-User-Token: %s", token);
        headers[n++] = token_line;
    }
    if (key) {
        snprintf(key_line, sizeof key_line, "Idempotency-Key: %s", key);
        headers[n++] = key_line;
    }
    char *text = NULL;
    s_answer_t a = {0};
    a.status = double_proc_request(server, method, path, headers, body, &text, NULL);
    if (text)
        a.json = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    return a;
}

/* The same request to the facade (the site's token) and to the double (OMS 7's token);
   asserts that the answers are equal, and that the status is want. Returns the facade's
   answer. */
static s_answer_t
s_same(s_site_t *s, const char *method, const char *path, const char *body, long want)
{
    s_answer_t via = s_call(&s->gw, method, path, s->token, NULL, body);
    s_answer_t direct = s_call(&s->mp, method, path, S_MP_TOKEN, NULL, body);
    /* the two requests are made one after the other: a message's updated_at may differ */
    json_t *a_time = json_incref(json_object_get(via.json, "updated_at"));
    json_t *b_time = json_incref(json_object_get(direct.json, "updated_at"));
    assert_true(!a_time == !b_time);
    json_object_del(via.json, "updated_at");
    json_object_del(direct.json, "updated_at");
    int same = via.json && json_equal(via.json, direct.json);
    if (a_time)
        json_object_set_new(via.json, "updated_at", a_time);
    json_decref(b_time);
    if (via.status != want || direct.status != want || !same) {
        char *a = via.json ? json_dumps(via.json, JSON_COMPACT) : NULL;
        char *b = direct.json ? json_dumps(direct.json, JSON_COMPACT) : NULL;
        fail_msg("%s %s: facade %ld %s, double %ld %s, want %ld", method, path, via.status,
                 a ? a : "-", direct.status, b ? b : "-", want);
    }
    s_answer_free(&direct);
    return via;
}

static json_t *
s_state_item(s_site_t *s, int iid)
{
    json_t *state = mp_double_proc_get(&s->mp, "state");
    assert_non_null(state);
    json_t *projects = json_object_get(state, "projects");
    json_t *found = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(projects, i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) != s->project)
            continue;
        json_t *items = json_object_get(p, "items");
        found = json_incref(json_array_get(items, (size_t)iid - 1));
    }
    json_decref(state);
    assert_non_null(found);
    return found;
}

/* The status type of item iid in the double's state. */
static char *
s_item_type(s_site_t *s, int iid)
{
    json_t *item = s_state_item(s, iid);
    json_t *status = json_object_get(item, "status");
    const char *type = json_string_value(json_object_get(status, "type"));
    assert_non_null(type);
    char *out = strdup(type);
    json_decref(item);
    return out;
}

/* ---- writes ---- */

/* PATCH of a status, of secrets, a POST and a PATCH of a message: the double's state
   changes, and the facade answers as the double does. */
static void
test_writes(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade-writes", NULL, "");
    char path[S_PATH];
    snprintf(path, sizeof path, S_ITEM_PATH, s->project, 1);
    s_answer_t a = s_call(&s->gw, "PATCH", path, s->token, NULL,
                          "{\"status\": {\"value\": \"Ready to use\", \"type\": \"ready\"}}");
    assert_int_equal(a.status, 200);
    char *type = s_item_type(s, 1);
    assert_string_equal(type, "ready");
    free(type);
    /* the body is the double's item, as its GET shows it now */
    s_answer_t direct = s_call(&s->mp, "GET", path, S_MP_TOKEN, NULL, NULL);
    assert_int_equal(direct.status, 200);
    assert_true(json_equal(a.json, direct.json));
    s_answer_free(&direct);
    s_answer_free(&a);

    /* secrets: the answer shows the sent key in clear, as the double's own answer does */
    a = s_same(s, "PATCH", path, "{\"user_secrets\": {\"voucher_id\": \"V-1\"}}", 200);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a.json, "user_secrets"), "voucher_id")),
        "V-1");
    s_answer_free(&a);
    /* PUT is an update too */
    a = s_same(s, "PUT", path, "{\"status\": {\"value\": \"Working\", \"type\": \"in_progress\"}}",
               200);
    s_answer_free(&a);

    /* a message on item 2, then its edit */
    char body[1024];
    snprintf(body, sizeof body,
             "{\"project_id\": %lld, \"project_item_id\": 2, \"author\": {\"email\": "
             "\"p@x.org\", \"name\": \"Provider\", \"role\": \"provider\"}, \"content\": "
             "\"Hello\", \"scope\": \"public\"}",
             s->project);
    a = s_call(&s->gw, "POST", "/api/v1/oms/7/messages", s->token, NULL, body);
    assert_int_equal(a.status, 201);
    json_int_t id = json_integer_value(json_object_get(a.json, "id"));
    assert_true(id > 0);
    snprintf(path, sizeof path, "/api/v1/oms/7/messages/%lld", (long long)id);
    direct = s_call(&s->mp, "GET", path, S_MP_TOKEN, NULL, NULL);
    assert_true(json_equal(a.json, direct.json));
    s_answer_free(&direct);
    s_answer_free(&a);
    a = s_same(s, "PATCH", path, "{\"content\": \"Hello again\"}", 200);
    assert_string_equal(json_string_value(json_object_get(a.json, "content")), "Hello again");
    s_answer_free(&a);

    /* an Idempotency-Key: the POST retried is one message, answered the same each time */
    snprintf(body, sizeof body,
             "{\"project_id\": %lld, \"project_item_id\": 2, \"author\": {\"email\": "
             "\"p@x.org\", \"name\": \"Provider\", \"role\": \"provider\"}, \"content\": "
             "\"Once\", \"scope\": \"internal\"}",
             s->project);
    a = s_call(&s->gw, "POST", "/api/v1/oms/7/messages", s->token, "post-once-1", body);
    s_answer_t again =
        s_call(&s->gw, "POST", "/api/v1/oms/7/messages", s->token, "post-once-1", body);
    assert_int_equal(a.status, 201);
    assert_int_equal(again.status, 201);
    assert_true(json_equal(a.json, again.json));
    s_answer_free(&again);
    s_answer_free(&a);
    snprintf(path, sizeof path, "/api/v1/oms/7/messages?project_id=%lld&project_item_id=2",
             s->project);
    a = s_call(&s->mp, "GET", path, S_MP_TOKEN, NULL, NULL);
    assert_int_equal(json_array_size(json_object_get(a.json, "messages")), 2);
    s_answer_free(&a);
    s_site_destroy(&s);
}

/* Refusals: each with the double's status and body, or, for the token and the OMS, the
   Marketplace's strings. */
static void
test_refusals(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade-refusals", NULL, "");
    char path[S_PATH], missing[S_PATH];
    snprintf(path, sizeof path, S_ITEM_PATH, s->project, 1);
    snprintf(missing, sizeof missing, S_ITEM_PATH, s->project, 99);
    /* at once: the schema, the secrets' validation */
    s_answer_t a =
        s_same(s, "PATCH", path, "{\"status\": {\"value\": \"x\", \"type\": \"LOL\"}}", 400);
    s_answer_free(&a);
    a = s_same(s, "PATCH", path, "{\"user_secrets\": {\"a\": 1}}", 400);
    s_answer_free(&a);
    a = s_same(s, "PATCH", path, "{}", 400);
    s_answer_free(&a);
    /* where the facade cannot be the Marketplace (facade_write.h): a bad body for a message
       that does not exist is 400 here, 404 there */
    a = s_call(&s->gw, "PATCH", "/api/v1/oms/7/messages/1", s->token, NULL, "{\"content\": 5}");
    assert_int_equal(a.status, 400);
    s_answer_free(&a);
    /* from the Marketplace, through the command's outcome: an item that does not exist */
    a = s_same(s, "PATCH", missing, "{\"status\": {\"value\": \"x\", \"type\": \"ready\"}}", 404);
    assert_string_equal(json_string_value(json_object_get(a.json, "error")),
                        "Project item not found");
    s_answer_free(&a);
    char body[512];
    snprintf(body, sizeof body,
             "{\"project_id\": %lld, \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": "
             "\"provider\"}, \"content\": \"c\", \"scope\": \"user_direct\"}",
             s->project);
    a = s_same(s, "POST", "/api/v1/oms/7/messages", body, 403); /* the write matrix (3.5) */
    s_answer_free(&a);
    /* the token, the OMS, the right */
    a = s_call(&s->gw, "PATCH", path, NULL, NULL, "{}");
    s_answer_t direct = s_call(&s->mp, "PATCH", path, NULL, NULL, "{}");
    assert_int_equal(a.status, 401);
    assert_int_equal(direct.status, 401);
    assert_true(json_equal(a.json, direct.json));
    s_answer_free(&direct);
    s_answer_free(&a);
    a = s_call(&s->gw, "PATCH", path, "not-a-token", NULL, "{}");
    assert_int_equal(a.status, 401);
    s_answer_free(&a);
    char *head = NULL; /* the Marketplace's 401 carries no challenge, nor does the facade's */
    assert_int_equal(double_proc_request(&s->gw, "PATCH", path, NULL, "{}", NULL, &head), 401);
    assert_null(strstr(head, "WWW-Authenticate")); /* libmicrohttpd's spelling */
    free(head);
    a = s_call(&s->gw, "POST", "/api/v1/oms/8/messages", s->token, NULL, "{}");
    assert_int_equal(a.status, 404);
    assert_string_equal(json_string_value(json_object_get(a.json, "error")), "OMS not found");
    s_answer_free(&a);
    a = s_call(&s->gw, "PATCH", path, s->weak, NULL, "{}");
    assert_int_equal(a.status, 403);
    assert_string_equal(json_string_value(json_object_get(a.json, "error")),
                        "You are not authorized to perform this action.");
    s_answer_free(&a);
    a = s_call(&s->gw, "POST", "/api/v1/oms/7/messages", s->token, "two words", "{}");
    assert_int_equal(a.status, 400);
    s_answer_free(&a);
    /* nothing of these reached mp.7 but the two commands above */
    ob_fetch_t *f = NULL;
    assert_int_equal(ob_client_fetch(s->client, "mp.7", 1, 0, 100, &f), 0);
    assert_int_equal(f->count, 2);
    ob_fetch_destroy(&f);
    s_site_destroy(&s);
}

/* The ids of the outcomes on oms.7 (data.command_id), as a JSON object id -> count. */
static json_t *
s_outcomes(s_site_t *s)
{
    json_t *seen = json_object();
    uint64_t next = 1;
    for (;;) {
        ob_fetch_t *f = NULL;
        int rc = ob_client_fetch(s->client, "oms.7", next, 0, 100, &f);
        if (rc == OB_ERR_NO_SUCH_TOPIC)
            break;
        assert_int_equal(rc, 0);
        for (size_t i = 0; i < f->count; i++) {
            ob_event_t *ev = NULL;
            assert_int_equal(ob_event_decode(f->events[i].event, f->events[i].event_len, &ev), 0);
            if (!strncmp(ev->type, "command.", 8)) {
                json_t *data = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
                const char *id = json_string_value(json_object_get(data, "command_id"));
                assert_non_null(id);
                json_int_t n = json_integer_value(json_object_get(seen, id));
                json_object_set_new(seen, id, json_integer(n + 1));
                json_decref(data);
            }
            ob_event_destroy(&ev);
        }
        next = f->next;
        int more = f->count == 100;
        ob_fetch_destroy(&f);
        if (!more)
            break;
    }
    return seen;
}

/* Waits until every id of ids (a JSON array of strings) has an outcome on oms.7, taking
   deliveries of an ephemeral subscription from the topic's start; then asserts, reading the
   whole topic, that each has exactly one. */
static void
s_wait_outcomes(s_site_t *s, json_t *ids)
{
    const char *patterns[] = {"oms.7"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    char name[OB_SUB_NAME_MAX + 1];
    assert_int_equal(ob_client_subscribe(s->client, NULL, &opts, name, NULL), 0);
    json_t *wanted = json_object();
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) json_object_set(wanted, json_string_value(id), json_true());
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (json_object_size(wanted) && zclock_mono() < deadline) {
        ob_delivery_t *d = NULL;
        if (ob_client_receive(s->client, (int)(deadline - zclock_mono()), &d))
            continue;
        ob_event_t *ev = NULL;
        assert_int_equal(ob_delivery_decode(d, &ev), 0);
        json_t *data = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
        const char *cid = json_string_value(json_object_get(data, "command_id"));
        if (!strncmp(ev->type, "command.", 8) && cid)
            json_object_del(wanted, cid);
        json_decref(data);
        ob_event_destroy(&ev);
        ob_client_ack(s->client, d);
        ob_delivery_destroy(&d);
    }
    assert_int_equal(json_object_size(wanted), 0);
    json_decref(wanted);
    assert_int_equal(ob_client_unsubscribe(s->client, name), 0);
    json_t *seen = s_outcomes(s);
    json_array_foreach(ids, i, id)
    {
        assert_int_equal(json_integer_value(json_object_get(seen, json_string_value(id))), 1);
    }
    json_decref(seen);
}

/* An outcome later than facade_wait: 202 with the command id, and the outcome comes. */
static void
test_accepted(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade-202", S_FACADE_WAIT, "");
    json_decref(
        s_control(s, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", S_HANG_MS)));
    char path[S_PATH];
    snprintf(path, sizeof path, S_ITEM_PATH, s->project, 1);
    int64_t t0 = zclock_mono();
    s_answer_t a = s_call(&s->gw, "PATCH", path, s->token, NULL,
                          "{\"status\": {\"value\": \"Approved\", \"type\": \"approved\"}}");
    assert_int_equal(a.status, 202);
    assert_true(zclock_mono() - t0 < S_HANG_MS);
    const char *id = json_string_value(json_object_get(a.json, "command_id"));
    assert_non_null(id);
    assert_string_equal(json_string_value(json_object_get(a.json, "outcome_topic")), "oms.7");
    json_t *ids = json_pack("[s]", id);
    s_wait_outcomes(s, ids);
    json_decref(ids);
    char *type = s_item_type(s, 1);
    assert_string_equal(type, "approved");
    free(type);
    s_answer_free(&a);
    s_site_destroy(&s);
}

/* kill -9 of the gateway with commands in flight (the Marketplace holds the first): after
   the restart each command has exactly one outcome on oms.7, and the item has the last
   status. */
static void
test_kill9(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-facade-kill9", S_FACADE_WAIT, "");
    json_decref(
        s_control(s, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", S_HANG_MS)));
    static const char *const types[S_KILL9_COMMANDS] = {"registered", "in_progress", "ready"};
    char path[S_PATH], body[256];
    snprintf(path, sizeof path, S_ITEM_PATH, s->project, 2);
    json_t *ids = json_array();
    for (int i = 0; i < S_KILL9_COMMANDS; i++) {
        snprintf(body, sizeof body, "{\"status\": {\"value\": \"%s\", \"type\": \"%s\"}}", types[i],
                 types[i]);
        s_answer_t a = s_call(&s->gw, "PATCH", path, s->token, NULL, body);
        assert_int_equal(a.status, 202); /* the first hangs; the others wait behind it */
        json_array_append(ids, json_object_get(a.json, "command_id"));
        s_answer_free(&a);
    }
    assert_int_equal(gw_proc_stop(s->gw_pid, SIGKILL) != -1, 1);
    s->gw_pid = -1;
    s_gw_start(s);
    s_wait_outcomes(s, ids);
    json_decref(ids);
    char *type = s_item_type(s, 2);
    assert_string_equal(type, "ready");
    free(type);
    s_site_destroy(&s);
}

/* ---- triggers out ---- */

/* A trigger receiver (libmicrohttpd, a thread per connection, so that a held call holds
   only itself): records each call, answers 500 to the next fail_next, holds a call while
   hold is set. */
typedef struct s_recv {
    struct MHD_Daemon *daemon; /* the server */
    unsigned port;             /* its port */
    pthread_mutex_t lock;      /* guards the rest */
    pthread_cond_t cond;       /* broadcast on a call and on release */
    long calls;                /* calls answered or held */
    int fail_next;             /* answer these with 500 */
    int hold;                  /* 1: hold calls until it is 0 */
    char method[16];           /* the last call's */
    char auth[256];            /* its Authorization, "" if none */
    char url[256];             /* its path */
    char query[64];            /* its x= query value */
    size_t body;               /* its body bytes */
    const double_proc_t *gw;   /* the gateway whose facade each call reads, or NULL */
    const char *token;         /* the token it reads with */
    long served;               /* events its GET .../events answered when the call came */
    int hold_gw;               /* 1: a call waits until it is 0 (gw is being replaced) */
} s_recv_t;

/* The events the facade of gw serves now (GET .../events, the first page), -1 on error. */
static long
s_served(const double_proc_t *gw, const char *token)
{
    s_answer_t a =
        s_call(gw, "GET", "/api/v1/oms/7/events?from_seq=0&limit=1000", token, NULL, NULL);
    json_t *events = json_object_get(a.json, "events");
    long n = a.status == 200 && json_is_array(events) ? (long)json_array_size(events) : -1;
    s_answer_free(&a);
    return n;
}

static enum MHD_Result
s_recv_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    s_recv_t *r = cls;
    (void)version;
    (void)upload;
    static int first;
    if (!*con_cls) {
        *con_cls = &first;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    if (*upload_size) {
        r->body += *upload_size;
        *upload_size = 0;
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
    /* what the facade serves when the trigger arrives (read before the call counts) */
    while (r->hold_gw)
        pthread_cond_wait(&r->cond, &r->lock);
    const double_proc_t *gw = r->gw;
    const char *token = r->token;
    pthread_mutex_unlock(&r->lock);
    long served = gw ? s_served(gw, token) : -1;
    pthread_mutex_lock(&r->lock);
    r->served = served;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *x = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "x");
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->auth, sizeof r->auth, "%s", auth ? auth : "");
    snprintf(r->url, sizeof r->url, "%s", url);
    snprintf(r->query, sizeof r->query, "%s", x ? x : "");
    r->calls++;
    pthread_cond_broadcast(&r->cond);
    while (r->hold)
        pthread_cond_wait(&r->cond, &r->lock);
    unsigned status = MHD_HTTP_NO_CONTENT;
    if (r->fail_next > 0) {
        r->fail_next--;
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
s_recv_start(s_recv_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                                 NULL, NULL, s_recv_handle, r, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_END);
    assert_non_null(r->daemon);
    r->port = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void
s_recv_stop(s_recv_t *r)
{
    pthread_mutex_lock(&r->lock);
    r->hold = 0;
    r->hold_gw = 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    MHD_stop_daemon(r->daemon);
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
}

/* Waits up to ms for the receiver's calls to reach n. Returns the calls then. */
static long
s_recv_wait(s_recv_t *r, long n, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->lock);
    while (r->calls < n && pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
        ;
    long calls = r->calls;
    pthread_mutex_unlock(&r->lock);
    return calls;
}

static void
s_recv_set(s_recv_t *r, int hold, int fail_next)
{
    pthread_mutex_lock(&r->lock);
    r->hold = hold;
    r->fail_next = fail_next;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Publishes count events on oms.7 with the site's client, ids prefix-N. */
static void
s_publish(s_site_t *s, const char *prefix, int count)
{
    for (int i = 0; i < count; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        ob_event_t ev = {.id = id,
                         .topic = "oms.7",
                         .type = "project_item.updated",
                         .time_us = (uint64_t)zclock_time() * 1000u,
                         .source = "test",
                         .oms_id = S_OMS};
        ob_confirm_t confirm;
        assert_int_equal(ob_client_publish(s->client, &ev, &confirm), 0);
        assert_int_equal(confirm.rc, 0);
    }
}

/* Waits (S_WAIT_MS at most, each look an HTTP round trip) until the gateway's /metrics
   holds line. */
static void
s_metric_wait(const s_site_t *s, const char *line)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    rest_request_t req = {.method = "GET", .path = "/metrics"};
    rest_answer_t m = {0};
    int found = 0;
    while (!found && zclock_mono() < deadline) {
        assert_int_equal(rest_http(s->gw_url, &req, &m), 200);
        found = strstr(m.text, line) != NULL;
    }
    rest_answer_free(&m);
    if (!found)
        fail_msg("/metrics never held %s", line);
}

/* What the facade served when the last call came. */
static long
s_recv_served(s_recv_t *r)
{
    pthread_mutex_lock(&r->lock);
    long served = r->served;
    pthread_mutex_unlock(&r->lock);
    return served;
}

/* Waits (S_WAIT_MS at most, each look an HTTP round trip) until the facade serves n events. */
static void
s_served_wait(s_site_t *s, long n)
{
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    long served = -1;
    while ((served = s_served(&s->gw, s->token)) != n && zclock_mono() < deadline)
        ;
    assert_int_equal(served, n);
}

/* The facade trigger: called once the facade serves new events (each call checks that GET
   .../events already answers them), with its method, URL and credentials as the Marketplace
   documents them; coalesced (events during a call make one more call, not one each);
   retried after failures, which /metrics counts; called for events stored while the broker
   restarted; called once at a gateway start when the facade holds events. */
static void
test_trigger(void **state)
{
    (void)state;
    s_recv_t r;
    s_recv_start(&r);
    char extra[2 * S_PATH], password[S_PATH];
    char *scratch = broker_proc_scratch("gw-facade-trigger-secret");
    assert_non_null(scratch);
    snprintf(password, sizeof password, "%.*s/trigger-password", S_PATH / 2, scratch);
    rest_http_write_file(password, "?>\n");
    snprintf(extra, sizeof extra,
             "    facade_trigger_url = http://127.0.0.1:%u/hook?x=1\n"
             "    facade_trigger_method = PUT\n    facade_trigger_user = ?\n"
             "    facade_trigger_password_file = %s\n",
             r.port, password);
    s_site_t *s = s_site_new("gw-facade-trigger", NULL, extra);
    pthread_mutex_lock(&r.lock);
    r.gw = &s->gw;
    r.token = s->token;
    pthread_mutex_unlock(&r.lock);

    /* new events: a call once the facade serves them, as the Marketplace makes it (6.2) */
    s_publish(s, "a", 1);
    assert_int_equal(s_recv_wait(&r, 1, S_WAIT_MS), 1);
    pthread_mutex_lock(&r.lock);
    assert_int_equal(r.served, 1);
    assert_string_equal(r.method, "PUT");
    assert_string_equal(r.url, "/hook");
    assert_string_equal(r.query, "1");
    assert_string_equal(r.auth, "Basic Pzo_Pg=="); /* "?:?>", URL-safe Base64, padded */
    assert_int_equal(r.body, 0);
    pthread_mutex_unlock(&r.lock);

    /* coalesced: 50 events while a call is held make one more call */
    s_recv_set(&r, 1, 0);
    s_publish(s, "b", 1);
    assert_int_equal(s_recv_wait(&r, 2, S_WAIT_MS), 2); /* held */
    assert_int_equal(s_recv_served(&r), 2);
    s_publish(s, "c", 50);
    s_served_wait(s, 52); /* all in the view: their notifications are in */
    s_recv_set(&r, 0, 0);
    assert_int_equal(s_recv_wait(&r, 3, S_WAIT_MS), 3);
    assert_int_equal(s_recv_served(&r), 52);
    /* and no more: the absence of a call can only be seen by waiting for one */
    assert_int_equal(s_recv_wait(&r, 4, 1000), 3);

    /* failures are retried with backoff until a 2xx */
    s_recv_set(&r, 0, 2);
    s_publish(s, "d", 1);
    assert_int_equal(s_recv_wait(&r, 6, S_WAIT_MS), 6);
    assert_int_equal(s_recv_served(&r), 53);
    /* the receiver counts a call when it comes, the gateway when its answer does */
    s_metric_wait(s, "orderbus_gateway_facade_triggers_total{oms=\"7\",result=\"failed\"} 2");
    s_metric_wait(s, "orderbus_gateway_facade_triggers_total{oms=\"7\",result=\"ok\"} 4");

    /* a broker restart: an event stored at once, maybe before the view has a session again
       (no ephemeral subscription sees it; the view reads every topic after a new session) */
    ob_client_destroy(&s->client);
    assert_true(broker_proc_stop(s->broker_pid, SIGKILL) != -1);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    ob_client_config_t cc = {.name = "test", .timeout_ms = 5000};
    s->client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(s->client);
    s_publish(s, "e", 1);
    assert_int_equal(s_recv_wait(&r, 7, S_WAIT_MS), 7);
    assert_int_equal(s_recv_served(&r), 54);

    /* a gateway restart: one call, the facade holding events (a call pending at the stop
       is not lost), and no more; a call that comes before the test knows the new port
       waits for it */
    pthread_mutex_lock(&r.lock);
    r.hold_gw = 1;
    pthread_mutex_unlock(&r.lock);
    int status = gw_proc_stop(s->gw_pid, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    s_gw_start(s);
    pthread_mutex_lock(&r.lock);
    r.hold_gw = 0;
    pthread_cond_broadcast(&r.cond);
    pthread_mutex_unlock(&r.lock);
    assert_int_equal(s_recv_wait(&r, 8, S_WAIT_MS), 8);
    assert_int_equal(s_recv_served(&r), 54);
    assert_int_equal(s_recv_wait(&r, 9, 1000), 8);
    s_site_destroy(&s);
    s_recv_stop(&r);
    broker_proc_remove(scratch);
    free(scratch);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes),   cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_accepted), cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_trigger),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
