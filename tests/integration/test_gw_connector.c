/*  test_gw_connector: the gateway's upstream connector (gateway/connector.h) against a real
    orderbus-broker and a real Marketplace double (orderbus-mp-double), both processes on
    ephemeral loopback ports in a scratch directory. The connector runs as an actor in this
    process, or, for kill -9, in a child process: this program started again with --child.

    Each test: OMS 1 (token T_TOKEN) with project P and its item 1 (primary OMS 1); a
    publisher of commands on mp.1; a reader of oms.1 from its start (an ephemeral
    subscription), which takes the outcomes. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <lmdb.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "broker_proc.h"
#include "command.h"
#include "connector.h"
#include "metrics.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"

#define T_OMS 1
#define T_TOKEN "tok-oms-1"
#define T_WAIT_MS 15000        /* an outcome, a state, a child */
#define T_QUIET_MS 300         /* "nothing more comes" is watched this long */
#define T_TIMEOUT_MS 1000      /* the connector's request timeout */
#define T_HANG_MS 1800         /* an injected hang: beyond the request timeout */
#define T_BRIEF_MS 400         /* an injected hang within the request timeout */
#define T_LATE_RETRY_MS 1500   /* a retry that comes after the hung POST was carried out */
#define T_LONG_TIMEOUT_MS 6000 /* a request timeout beyond the injected waits */
#define T_ACK_WAIT_MS 300      /* a subscription that redelivers soon */
#define T_SLOW_MS 3000         /* an injected slow answer, for the kill -9 */
#define T_ORDER_N 40           /* commands per item in the order test */
#define T_MAP_SIZE (8u << 20)  /* the test's LMDB map */
#define T_PATH_MAX 512

typedef struct t_fx {
    broker_proc_site_t site;   /* scratch dir, data dir, endpoint */
    pid_t broker;              /* the broker */
    mp_double_proc_t mp;       /* the double */
    char env_dir[T_PATH_MAX];  /* the connector's LMDB environment */
    MDB_env *env;              /* in-process connector's */
    ob_metrics_t *metrics;     /* its registry */
    ob_connector_metrics_t cm; /* its metrics */
    zactor_t *conn;            /* the connector, in-process */
    pid_t child;               /* the connector, in a child process */
    ob_client_t *pub;          /* publishes commands */
    ob_client_t *reader;       /* reads oms.1 */
    json_int_t project;        /* P */
    long next_event;           /* command event ids */
} t_fx_t;

static char s_self[T_PATH_MAX]; /* this program, for --child */

/* ---- the double ---- */

static json_t *
s_ctl(t_fx_t *fx, const char *call, json_t *body)
{
    assert_non_null(body);
    json_t *answer = mp_double_proc_control(&fx->mp, call, body);
    json_decref(body);
    assert_non_null(answer);
    return answer;
}

static json_t *
s_state(t_fx_t *fx)
{
    json_t *state = mp_double_proc_get(&fx->mp, "state");
    assert_non_null(state);
    return state;
}

/* The double's messages (a new reference). */
static json_t *
s_messages(t_fx_t *fx)
{
    json_t *state = s_state(fx);
    json_t *messages = json_incref(json_object_get(state, "messages"));
    json_decref(state);
    return messages;
}

/* The status of item iid of project P as the double holds it ("type" or "value"). */
static char *
s_item_status(t_fx_t *fx, json_int_t project, json_int_t iid, const char *which)
{
    json_t *state = s_state(fx);
    char *out = NULL;
    size_t i, k;
    json_t *p, *it;
    json_array_foreach(json_object_get(state, "projects"), i, p)
    {
        if (json_integer_value(json_object_get(p, "id")) != project)
            continue;
        json_array_foreach(json_object_get(p, "items"), k, it)
        {
            if (json_integer_value(json_object_get(it, "id")) == iid)
                out = strdup(
                    json_string_value(json_object_get(json_object_get(it, "status"), which)));
        }
    }
    json_decref(state);
    assert_non_null(out);
    return out;
}

/* Orders an item of project for OMS oms; returns its iid. */
static json_int_t
s_order(t_fx_t *fx, json_int_t project, int oms)
{
    json_t *item = s_ctl(fx, "project_items",
                         json_pack("{s:I, s:i}", "project_id", project, "primary_oms_id", oms));
    json_int_t iid = json_integer_value(json_object_get(item, "id"));
    json_decref(item);
    assert_true(iid > 0);
    return iid;
}

/* ---- the bus ---- */

/* Publishes the command body (a JSON text) as an event of type on mp.1. */
static void
s_send_typed(t_fx_t *fx, const char *type, const char *body)
{
    char id[64];
    snprintf(id, sizeof id, "cmd-event-%ld", fx->next_event++);
    ob_event_t ev = {.id = id,
                     .topic = "mp.1",
                     .type = type,
                     .time_us = (uint64_t)zclock_time() * 1000,
                     .source = "test",
                     .oms_id = T_OMS,
                     .data = (const uint8_t *)body,
                     .data_len = strlen(body)};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(fx->pub, &ev, &confirm), 0);
    assert_int_equal(confirm.rc, 0);
}

/* Publishes a command (json, taken), typed by its "command". */
static void
s_send(t_fx_t *fx, json_t *command)
{
    assert_non_null(command);
    char type[64];
    snprintf(type, sizeof type, "command.%s",
             json_string_value(json_object_get(command, "command")));
    char *text = json_dumps(command, JSON_COMPACT);
    json_decref(command);
    s_send_typed(fx, type, text);
    free(text);
}

static json_t *
s_update(const char *id, json_int_t project, json_int_t iid, const char *type, const char *value)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s}}", "id", id, "command",
                     "update_project_item", "project_id", project, "project_item_id", iid, "status",
                     "value", value, "type", type);
}

static json_t *
s_post_as(const char *id, json_int_t project, json_int_t iid, const char *content, const char *role)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s, s:s}, s:s, s:s}", "id", id, "command",
                     "post_message", "project_id", project, "project_item_id", iid, "author",
                     "email", "desk@provider.example", "name", "Service desk", "role", role,
                     "content", content, "scope", "public");
}

static json_t *
s_post(const char *id, json_int_t project, json_int_t iid, const char *content)
{
    return s_post_as(id, project, iid, content, "provider");
}

/* The next outcome on oms.1 within timeout_ms: {"type", "event_id", "data"} (a new
   reference), or NULL. */
static json_t *
s_outcome_wait(t_fx_t *fx, int timeout_ms)
{
    ob_delivery_t *d = NULL;
    int rc = ob_client_receive(fx->reader, timeout_ms, &d);
    if (rc == OB_ERR_TIMEOUT)
        return NULL;
    assert_int_equal(rc, 0);
    ob_event_t *ev = NULL;
    assert_int_equal(ob_delivery_decode(d, &ev), 0);
    json_t *data = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
    assert_non_null(data);
    json_t *out = json_pack("{s:s, s:s, s:o, s:I}", "type", ev->type, "event_id", ev->id, "data",
                            data, "message_id", (json_int_t)ev->message_id);
    assert_int_equal(ob_client_ack(fx->reader, d), 0);
    ob_event_destroy(&ev);
    ob_delivery_destroy(&d);
    return out;
}

static json_t *
s_outcome(t_fx_t *fx)
{
    json_t *out = s_outcome_wait(fx, T_WAIT_MS);
    if (!out)
        fail_msg("no outcome within %d ms", T_WAIT_MS);
    return out;
}

/* Takes the next outcome and checks its type, command id and HTTP status. */
static json_t *
s_expect(t_fx_t *fx, const char *type, const char *command_id, int status)
{
    json_t *out = s_outcome(fx);
    json_t *data = json_object_get(out, "data");
    if (strcmp(json_string_value(json_object_get(out, "type")), type) ||
        strcmp(json_string_value(json_object_get(data, "command_id")), command_id) ||
        json_integer_value(json_object_get(data, "status")) != status) {
        char *text = json_dumps(out, JSON_COMPACT);
        fail_msg("expected %s of %s with %d, got %s", type, command_id, status, text);
    }
    return out;
}

/* Checks that no outcome comes within T_QUIET_MS. */
static void
s_quiet(t_fx_t *fx)
{
    json_t *out = s_outcome_wait(fx, T_QUIET_MS);
    if (out) {
        char *text = json_dumps(out, JSON_COMPACT);
        fail_msg("an outcome more: %s", text);
    }
}

/* ---- the connector ---- */

static void
s_config(t_fx_t *fx, ob_connector_config_t *c, MDB_env *env)
{
    *c = (ob_connector_config_t){.oms_id = T_OMS,
                                 .base_url = fx->mp.base_url,
                                 .token = T_TOKEN,
                                 .endpoint = fx->site.endpoint,
                                 .env = env,
                                 .inflight = 4,
                                 .timeout_ms = T_TIMEOUT_MS,
                                 .connect_ms = T_TIMEOUT_MS,
                                 .retry_min_ms = 50,
                                 .retry_max_ms = 400,
                                 .max_attempts = 3};
}

static MDB_env *
s_env_open(const char *dir)
{
    MDB_env *env = NULL;
    mkdir(dir, 0700);
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 4) ||
        mdb_env_set_mapsize(env, T_MAP_SIZE) || mdb_env_open(env, dir, 0, 0600)) {
        mdb_env_close(env);
        return NULL;
    }
    return env;
}

/* Starts the connector in this process; over (may be NULL) changes the test's settings:
   its non-zero retry_min_ms (also the retry_max_ms), timeout_ms and ack_wait_ms count. */
static void
s_connector_start_with(t_fx_t *fx, const ob_connector_config_t *over)
{
    if (!fx->env)
        fx->env = s_env_open(fx->env_dir);
    assert_non_null(fx->env);
    ob_connector_config_t c;
    s_config(fx, &c, fx->env);
    c.metrics = &fx->cm;
    if (over && over->retry_min_ms)
        c.retry_min_ms = c.retry_max_ms = over->retry_min_ms;
    if (over && over->timeout_ms)
        c.timeout_ms = over->timeout_ms;
    if (over && over->ack_wait_ms)
        c.ack_wait_ms = over->ack_wait_ms;
    fx->conn = ob_connector_start(&c);
    assert_non_null(fx->conn);
}

static void
s_connector_start(t_fx_t *fx)
{
    s_connector_start_with(fx, NULL);
}

/* Runs the connector in a child process (this program with --child). */
static void
s_child_start(t_fx_t *fx)
{
    fx->child = fork();
    assert_true(fx->child >= 0);
    if (fx->child == 0) {
        execl(s_self, s_self, "--child", fx->site.endpoint, fx->mp.base_url, fx->env_dir,
              (char *)NULL);
        _exit(127);
    }
}

/* The child: a connector until SIGTERM. */
static int
s_child_main(const char *endpoint, const char *base_url, const char *env_dir)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    zsys_init();
    t_fx_t fx = {0};
    snprintf(fx.site.endpoint, sizeof fx.site.endpoint, "%s", endpoint);
    snprintf(fx.mp.base_url, sizeof fx.mp.base_url, "%s", base_url);
    MDB_env *env = s_env_open(env_dir);
    if (!env)
        return 2;
    ob_connector_config_t c;
    s_config(&fx, &c, env);
    c.timeout_ms = 2 * T_SLOW_MS; /* the slow answer is not a timeout */
    zactor_t *conn = ob_connector_start(&c);
    if (!conn)
        return 3;
    while (!zsys_interrupted) {
        char *msg = zstr_recv(conn);
        free(msg);
        if (!msg)
            break;
    }
    zactor_destroy(&conn);
    mdb_env_close(env);
    curl_global_cleanup();
    return 0;
}

/* Waits until the connector says it is subscribed. */
static void
s_connector_ready(t_fx_t *fx)
{
    int64_t end = zclock_mono() + T_WAIT_MS;
    while (zclock_mono() < end) {
        zstr_send(fx->conn, "STATUS");
        char *status = zstr_recv(fx->conn);
        int ready = status && !strcmp(status, "ready");
        free(status);
        if (ready)
            return;
        zpoller_t *p = zpoller_new(fx->conn, NULL); /* wakes only when it ends */
        zpoller_wait(p, 20);
        zpoller_destroy(&p);
    }
    fail_msg("the connector did not subscribe");
}

/* ---- setup ---- */

static int
s_setup(void **state)
{
    t_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->child = -1;
    assert_int_equal(broker_proc_site_make(&fx->site, "gw_connector"), 0);
    snprintf(fx->env_dir, sizeof fx->env_dir, "%s/gw", fx->site.dir);
    fx->broker = broker_proc_start(fx->site.data_dir, fx->site.endpoint, NULL);
    assert_true(fx->broker > 0);
    assert_int_equal(mp_double_proc_start(&fx->mp, NULL), 0);
    json_decref(s_ctl(
        fx, "oms", json_pack("{s:i, s:s, s:s}", "id", T_OMS, "name", "OMS one", "token", T_TOKEN)));
    json_t *project = s_ctl(fx, "projects", json_object());
    fx->project = json_integer_value(json_object_get(project, "id"));
    json_decref(project);
    assert_int_equal(s_order(fx, fx->project, T_OMS), 1);

    ob_client_config_t cc = {.name = "test-pub", .timeout_ms = T_WAIT_MS};
    fx->pub = ob_client_new(fx->site.endpoint, &cc);
    assert_non_null(fx->pub);
    assert_int_equal(ob_client_connect(fx->pub, T_WAIT_MS), 0);
    cc.name = "test-reader";
    fx->reader = ob_client_new(fx->site.endpoint, &cc);
    assert_non_null(fx->reader);
    const char *patterns[] = {"oms.1"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(fx->reader, NULL, &opts, NULL, NULL), 0);
    fx->metrics = ob_metrics_new();
    assert_non_null(fx->metrics);
    assert_int_equal(ob_connector_metrics_register(fx->metrics, &fx->cm), 0);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fx_t *fx = *state;
    zactor_destroy(&fx->conn);
    if (fx->child > 0) {
        kill(fx->child, SIGKILL);
        waitpid(fx->child, NULL, 0);
    }
    if (fx->env)
        mdb_env_close(fx->env);
    ob_client_destroy(&fx->pub);
    ob_client_destroy(&fx->reader);
    ob_metrics_destroy(&fx->metrics);
    mp_double_proc_stop(&fx->mp, SIGTERM);
    broker_proc_stop(fx->broker, SIGTERM);
    broker_proc_site_remove(&fx->site);
    free(fx);
    return 0;
}

/* The metrics text contains line. */
static void
s_metric_has(t_fx_t *fx, const char *line)
{
    char *text = NULL;
    size_t len;
    assert_int_equal(ob_metrics_write(fx->metrics, &text, &len), 0);
    if (!strstr(text, line))
        fail_msg("no \"%s\" in the metrics:\n%s", line, text);
    free(text);
}

/* ---- tests ---- */

/* A status change and a message change the double's state and come back completed. */
static void
test_completed(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start(fx);
    s_send(fx, s_update("u-1", fx->project, 1, "ready", "Ready to use"));
    s_send(fx, s_post("m-1", fx->project, 1, "Your service is ready."));
    json_t *out = s_expect(fx, "command.completed", "u-1", 200);
    json_t *response = json_object_get(json_object_get(out, "data"), "response");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(response, "status"), "type")), "ready");
    json_decref(out);
    out = s_expect(fx, "command.completed", "m-1", 201);
    json_int_t mid = json_integer_value(
        json_object_get(json_object_get(json_object_get(out, "data"), "response"), "id"));
    assert_true(mid > 0);
    assert_int_equal(json_integer_value(json_object_get(out, "message_id")), mid);
    json_decref(out);

    char *type = s_item_status(fx, fx->project, 1, "type");
    assert_string_equal(type, "ready");
    free(type);
    json_t *messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "content")),
                        "Your service is ready.");
    json_decref(messages);

    /* an edit of the posted message, by its id from the outcome */
    json_t *edit = json_pack("{s:s, s:s, s:I, s:s}", "id", "e-1", "command", "edit_message",
                             "message_id", mid, "content", "Ready, really.");
    s_send(fx, edit);
    json_decref(s_expect(fx, "command.completed", "e-1", 200));
    messages = s_messages(fx);
    assert_string_equal(json_string_value(json_object_get(json_array_get(messages, 0), "content")),
                        "Ready, really.");
    json_decref(messages);
    s_quiet(fx);
    s_metric_has(fx, "orderbus_gateway_commands_total{oms=\"1\",command=\"update_project_item\","
                     "outcome=\"completed\"} 1");
    s_metric_has(fx, "orderbus_gateway_commands_total{oms=\"1\",command=\"post_message\","
                     "outcome=\"completed\"} 1");
    s_metric_has(
        fx, "orderbus_gateway_marketplace_request_seconds_count{oms=\"1\",method=\"PATCH\"} 2");
}

/* Rejected commands come back failed with the double's status and error body. */
static void
test_failed(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start(fx);
    s_send(fx, s_update("f-404", fx->project, 99, "ready", "x"));
    /* only the default OMS's administrator may write as a mediator (reference 3.5) */
    s_send(fx, s_post_as("f-403", fx->project, 1, "as a mediator", "mediator"));
    s_send(fx, s_post("f-msg-404", fx->project + 100, 1, "nobody reads this"));
    /* different keys: outcomes in any order */
    const char *ids[] = {"f-404", "f-403", "f-msg-404"};
    const int statuses[] = {404, 403, 404};
    const char *errors[] = {"Project item not found",
                            "You are not authorized to perform this action.", "Project not found"};
    int seen[3] = {0};
    for (int n = 0; n < 3; n++) {
        json_t *out = s_outcome(fx);
        json_t *data = json_object_get(out, "data");
        assert_string_equal(json_string_value(json_object_get(out, "type")), "command.failed");
        const char *id = json_string_value(json_object_get(data, "command_id"));
        int k = 0;
        while (k < 3 && strcmp(ids[k], id))
            k++;
        assert_true(k < 3);
        assert_false(seen[k]++);
        assert_int_equal(json_integer_value(json_object_get(data, "status")), statuses[k]);
        assert_string_equal(json_string_value(json_object_get(data, "error")), errors[k]);
        json_decref(out);
    }
    s_quiet(fx);
    json_t *messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 0);
    json_decref(messages);
}

/* Bad commands: refused with command.failed (status 0), or dead-lettered without an id; the
   connector keeps serving. */
static void
test_refused(void **state)
{
    t_fx_t *fx = *state;
    ob_client_config_t cc = {.name = "test-dlq", .timeout_ms = T_WAIT_MS};
    ob_client_t *dlq = ob_client_new(fx->site.endpoint, &cc);
    assert_non_null(dlq);
    const char *patterns[] = {"dlq.gateway-mp-1"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(dlq, NULL, &opts, NULL, NULL), 0);
    s_connector_start(fx);

    s_send(fx, s_update("r-1", fx->project, 1, "LOL", "x"));
    json_t *out = s_expect(fx, "command.failed", "r-1", 0);
    json_t *data = json_object_get(out, "data");
    assert_true(json_is_null(json_object_get(data, "command")));
    assert_string_equal(json_string_value(json_object_get(data, "error")),
                        "status.type: not an allowed value");
    json_decref(out);
    /* the type of the event does not match the body */
    s_send_typed(
        fx, "command.post_message",
        "{\"id\":\"r-2\",\"command\":\"edit_message\",\"message_id\":1,\"content\":\"x\"}");
    json_decref(s_expect(fx, "command.failed", "r-2", 0));
    /* not JSON, and JSON without an id: no outcome can name them */
    s_send_typed(fx, "command.update_project_item", "{\"id\": \"r-3\", oops");
    s_send_typed(fx, "command.update_project_item", "{\"command\":\"update_project_item\"}");
    for (int n = 0; n < 2; n++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(dlq, T_WAIT_MS, &d), 0);
        ob_event_t *ev = NULL;
        assert_int_equal(ob_delivery_decode(d, &ev), 0);
        assert_string_equal(ev->type, "dead_letter");
        ob_event_destroy(&ev);
        ob_client_ack(dlq, d);
        ob_delivery_destroy(&d);
    }
    ob_client_destroy(&dlq);
    /* and it goes on */
    s_send(fx, s_update("r-4", fx->project, 1, "ready", "fine"));
    json_decref(s_expect(fx, "command.completed", "r-4", 200));
    s_quiet(fx);
    s_metric_has(fx, "outcome=\"refused\"} 2");
    s_metric_has(fx, "outcome=\"dead_lettered\"}");
}

/* The change events of item iid in the double, in commit order: the "after" of its
   status.value changes, joined by ",". */
static char *
s_value_history(t_fx_t *fx, json_int_t iid)
{
    json_t *state = s_state(fx);
    size_t i, k;
    json_t *ev, *c;
    char *out = calloc(1, 1);
    json_array_foreach(json_object_get(state, "events"), i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), "update") ||
            json_integer_value(json_object_get(ev, "project_item_id")) != iid)
            continue;
        json_array_foreach(json_object_get(ev, "changes"), k, c)
        {
            if (strcmp(json_string_value(json_object_get(c, "field")), "status.value"))
                continue;
            const char *after = json_string_value(json_object_get(c, "after"));
            size_t len = strlen(out) + strlen(after) + 2;
            char *next = malloc(len);
            assert_non_null(next);
            snprintf(next, len, "%s%s%s", out, out[0] ? "," : "", after);
            free(out);
            out = next;
        }
    }
    json_decref(state);
    return out;
}

/* A command whose id is done is acked without running again: a redelivery, or an id
   reused, replays nothing and publishes nothing. */
static void
test_duplicate(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start(fx);
    s_send(fx, s_update("d-1", fx->project, 1, "in_progress", "first"));
    json_t *first = s_expect(fx, "command.completed", "d-1", 200);
    s_send(fx, s_update("d-1", fx->project, 1, "in_progress", "replayed"));
    s_send(fx, s_update("d-2", fx->project, 1, "ready", "second"));
    json_t *second = s_expect(fx, "command.completed", "d-2", 200);
    assert_string_not_equal(json_string_value(json_object_get(first, "event_id")),
                            json_string_value(json_object_get(second, "event_id")));
    json_decref(first);
    json_decref(second);
    s_quiet(fx);
    char *history = s_value_history(fx, 1);
    assert_string_equal(history, "first,second");
    free(history);
    s_metric_has(fx, "outcome=\"duplicate\"} 1");
}

/* Many queued commands of two items: each item's run in order, all completed once. */
static void
test_order(void **state)
{
    t_fx_t *fx = *state;
    json_int_t second = s_order(fx, fx->project, T_OMS);
    /* queued before the connector starts: it gets them all at once */
    char expect[2][T_ORDER_N * 8] = {"", ""};
    for (int n = 1; n <= T_ORDER_N; n++) {
        char id[32], value[16];
        for (int item = 0; item < 2; item++) {
            snprintf(id, sizeof id, "o-%d-%d", item, n);
            snprintf(value, sizeof value, "v%d", n);
            s_send(fx, s_update(id, fx->project, item ? second : 1, "in_progress", value));
            size_t len = strlen(expect[item]);
            snprintf(expect[item] + len, sizeof expect[item] - len, "%s%s", len ? "," : "", value);
        }
    }
    s_connector_start(fx);
    int next[2] = {1, 1};
    for (int n = 0; n < 2 * T_ORDER_N; n++) {
        json_t *out = s_outcome(fx);
        json_t *data = json_object_get(out, "data");
        assert_string_equal(json_string_value(json_object_get(out, "type")), "command.completed");
        int item, k;
        assert_int_equal(
            sscanf(json_string_value(json_object_get(data, "command_id")), "o-%d-%d", &item, &k),
            2);
        assert_int_equal(k, next[item]++); /* outcomes of one key in order */
        json_decref(out);
    }
    s_quiet(fx);
    for (int item = 0; item < 2; item++) {
        char *history = s_value_history(fx, item ? second : 1);
        assert_string_equal(history, expect[item]);
        free(history);
    }
}

/* 5xx answers and hangs beyond the request timeout: retried, nothing lost, nothing twice. */
static void
test_faults(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start(fx);
    s_connector_ready(fx);
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "fail_next", 3, "fail_status", 503)));
    s_send(fx, s_update("x-1", fx->project, 1, "in_progress", "first"));
    s_send(fx, s_post("x-2", fx->project, 1, "after a 503"));
    json_decref(s_expect(fx, "command.completed", "x-1", 200));
    json_decref(s_expect(fx, "command.completed", "x-2", 201));

    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_HANG_MS)));
    s_send(fx, s_update("x-3", fx->project, 1, "ready", "after a hang"));
    json_decref(s_expect(fx, "command.completed", "x-3", 200));
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 2, "hang_ms", T_HANG_MS)));
    s_send(fx, s_post("x-4", fx->project, 1, "after two hangs"));
    json_decref(s_expect(fx, "command.completed", "x-4", 201));
    s_quiet(fx);

    json_t *messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 2);
    json_decref(messages);
    /* the hung PATCH was applied late, then again: the item holds the last value */
    char *value = s_item_status(fx, fx->project, 1, "value");
    assert_string_equal(value, "after a hang");
    free(value);
    s_metric_has(fx, "reason=\"5xx\"} ");
    s_metric_has(fx, "reason=\"timeout\"} ");
}

/* The number of API requests the double has had. */
static json_int_t
s_requests(t_fx_t *fx)
{
    json_t *state = s_state(fx);
    json_int_t n = json_integer_value(json_object_get(state, "requests"));
    json_decref(state);
    return n;
}

/* A POST that times out but that the Marketplace carries out before the retry: the retry
   finds the message in the scope and does not post again. A POST refused with a 503: the
   retry finds nothing and posts. (The scope listing before each POST is held briefly, so
   that the fault set meanwhile hits the POST.) */
static void
test_post_timeout(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start_with(fx, &(ob_connector_config_t){.retry_min_ms = T_LATE_RETRY_MS});
    s_connector_ready(fx);
    json_int_t before = s_requests(fx);
    /* the scope listing waits a little, so that the next fault is set for the POST */
    json_decref(
        s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_BRIEF_MS)));
    s_send(fx, s_post("t-1", fx->project, 1, "posted late"));
    int64_t end = zclock_mono() + 2 * T_WAIT_MS;
    while (s_requests(fx) == before)
        if (zclock_mono() > end)
            fail_msg("the connector did not list the scope");
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_HANG_MS)));
    json_t *out = s_expect(fx, "command.completed", "t-1", 201);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(out, "data"), "response"), "content")),
                        "posted late");
    json_decref(out);
    s_quiet(fx);
    json_t *messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 1);
    json_decref(messages);
    s_metric_has(fx, "command=\"post_message\",reason=\"timeout\"} 1");

    /* a POST answered 503 before anything was written: the retry finds nothing and posts */
    before = s_requests(fx);
    json_decref(
        s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_BRIEF_MS)));
    s_send(fx, s_post("t-2", fx->project, 1, "posted after a 503"));
    while (s_requests(fx) == before)
        if (zclock_mono() > end)
            fail_msg("the connector did not list the scope");
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "fail_next", 1, "fail_status", 503)));
    json_decref(s_expect(fx, "command.completed", "t-2", 201));
    s_quiet(fx);
    messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 2);
    json_decref(messages);
    s_metric_has(fx, "command=\"post_message\",reason=\"5xx\"} 1");
}

/* Waits until the metrics text contains line. */
static void
s_metric_wait(t_fx_t *fx, const char *line)
{
    int64_t end = zclock_mono() + T_WAIT_MS;
    for (;;) {
        char *text = NULL;
        size_t len;
        assert_int_equal(ob_metrics_write(fx->metrics, &text, &len), 0);
        int found = strstr(text, line) != NULL;
        free(text);
        if (found)
            return;
        if (zclock_mono() > end)
            fail_msg("no \"%s\" in the metrics", line);
        zpoller_t *p = zpoller_new(fx->conn, NULL); /* wakes only if the actor ends */
        zpoller_wait(p, 20);
        zpoller_destroy(&p);
    }
}

/* A command held past the subscription's ack_wait_ms (a PATCH that hangs): the broker
   delivers it again while the connector still runs it (the redelivery takes the held
   delivery's place), and again later, as the ack of the done command came while the event
   waited for its redelivery (the broker ignores such an ack). The last redelivery finds the
   command done and is acked without a request. One outcome, one PATCH. */
static void
test_ack_wait(void **state)
{
    t_fx_t *fx = *state;
    s_connector_start_with(fx, &(ob_connector_config_t){.timeout_ms = T_LONG_TIMEOUT_MS,
                                                        .ack_wait_ms = T_ACK_WAIT_MS});
    s_connector_ready(fx);
    json_int_t before = s_requests(fx);
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_SLOW_MS)));
    s_send(fx, s_update("a-1", fx->project, 1, "in_progress", "held"));
    json_decref(s_expect(fx, "command.completed", "a-1", 200));
    s_metric_wait(fx, "outcome=\"duplicate\"} 1");
    s_send(fx, s_update("a-2", fx->project, 1, "ready", "next"));
    json_decref(s_expect(fx, "command.completed", "a-2", 200));
    s_quiet(fx);
    assert_int_equal(s_requests(fx), before + 2);
    char *history = s_value_history(fx, 1);
    assert_string_equal(history, "held,next");
    free(history);
}

/* Waits until the double holds n messages. */
static void
s_wait_messages(t_fx_t *fx, size_t n)
{
    int64_t end = zclock_mono() + T_WAIT_MS;
    for (;;) {
        json_t *messages = s_messages(fx);
        size_t have = json_array_size(messages);
        json_decref(messages);
        if (have >= n)
            return;
        if (zclock_mono() > end)
            fail_msg("the double holds %zu messages, not %zu", have, n);
    }
}

/* kill -9 between the POST reaching the double and the ack, then a restart: one message in
   the double, one outcome on the bus. */
static void
test_kill9(void **state)
{
    t_fx_t *fx = *state;
    s_child_start(fx);
    /* the scope listing and the POST answer slowly: the POST is made at once, its answer
       takes T_SLOW_MS */
    json_decref(s_ctl(fx, "faults", json_pack("{s:i, s:i}", "slow_next", 2, "slow_ms", T_SLOW_MS)));
    s_send(fx, s_post("k-1", fx->project, 1, "posted once"));
    s_wait_messages(fx, 1);
    json_t *early = s_outcome_wait(fx, 0);
    assert_null(early); /* the answer is still on its way: killed before the outcome */
    kill(fx->child, SIGKILL);
    assert_int_equal(waitpid(fx->child, NULL, 0), fx->child);
    fx->child = -1;

    s_child_start(fx);
    json_t *out = s_expect(fx, "command.completed", "k-1", 201);
    json_t *response = json_object_get(json_object_get(out, "data"), "response");
    assert_string_equal(json_string_value(json_object_get(response, "content")), "posted once");
    json_decref(out);
    /* a later command of the same key comes after it: nothing else came between */
    s_send(fx, s_update("k-2", fx->project, 1, "ready", "after the crash"));
    json_decref(s_expect(fx, "command.completed", "k-2", 200));
    s_quiet(fx);
    json_t *messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 1);
    json_decref(messages);

    /* kill -9 after the outcome, before or after the ack: a restart neither posts nor
       publishes again */
    kill(fx->child, SIGKILL);
    waitpid(fx->child, NULL, 0);
    fx->child = -1;
    s_child_start(fx);
    s_send(fx, s_update("k-3", fx->project, 1, "closed", "end"));
    json_decref(s_expect(fx, "command.completed", "k-3", 200));
    s_quiet(fx);
    messages = s_messages(fx);
    assert_int_equal(json_array_size(messages), 1);
    json_decref(messages);
}

/* The configuration is checked. */
static void
test_config(void **state)
{
    t_fx_t *fx = *state;
    MDB_env *env = (MDB_env *)1; /* never opened: the check stops first */
    ob_connector_config_t c;
    char why[128];
    s_config(fx, &c, env);
    assert_int_equal(ob_connector_config_check(&c, why, sizeof why), 0);
    c.token = "";
    assert_int_equal(ob_connector_config_check(&c, why, sizeof why), OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(why, "token: empty, over 1024 bytes, or with a line break");
    s_config(fx, &c, env);
    c.base_url = "ftp://x";
    assert_int_equal(ob_connector_config_check(&c, NULL, 0), OB_ERR_INVALID_ARGUMENT);
    s_config(fx, &c, env);
    c.sub_name = "Bad Name";
    assert_int_equal(ob_connector_config_check(&c, NULL, 0), OB_ERR_INVALID_ARGUMENT);
    s_config(fx, &c, env);
    c.retry_min_ms = 10;
    c.retry_max_ms = 5;
    assert_int_equal(ob_connector_config_check(&c, NULL, 0), OB_ERR_INVALID_ARGUMENT);
    assert_null(ob_connector_start(&c));
    /* an environment without a slot for the connector's database: the actor cannot start */
    MDB_env *full = NULL;
    assert_int_equal(mdb_env_create(&full), 0);
    mkdir(fx->env_dir, 0700);
    assert_int_equal(mdb_env_open(full, fx->env_dir, 0, 0600), 0); /* maxdbs 0 */
    s_config(fx, &c, full);
    assert_null(ob_connector_start(&c));
    mdb_env_close(full);
    /* registering twice in one registry is refused */
    ob_connector_metrics_t again;
    assert_int_equal(ob_connector_metrics_register(fx->metrics, &again), OB_ERR_INVALID_ARGUMENT);
}

int
main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "--child"))
        return s_child_main(argv[2], argv[3], argv[4]);
    ssize_t n = readlink("/proc/self/exe", s_self, sizeof s_self - 1);
    if (n <= 0)
        return 1;
    s_self[n] = '\0';
    curl_global_init(CURL_GLOBAL_DEFAULT);
    zsys_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_completed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_failed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_faults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_post_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ack_wait, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kill9, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
