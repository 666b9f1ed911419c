/*  test_jira: orderbus-jira end to end: a real orderbus-broker, the adapter and the Jira
    double (tests/doubles/) as processes on ephemeral loopback ports in a scratch directory.
    The double is configured through its control API (fields, a project with an Epic and a
    Task type and their screens, a workflow, the adapter's user and a person, the webhook to
    the adapter with a secret); the test publishes on oms.7 the events the gateway would
    (gateway/mp_event.c's types and ids, the Marketplace snapshots as data) and reads the
    commands on mp.7. What Jira holds is counted through /_control/state. */
#include <curl/curl.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "broker_proc.h"
#include "daemon_proc.h"
#include "gw_proc.h"
#include "jira_double_proc.h"
#include "mp_double_proc.h"
#include "orderbus/client.h"
#include "orderbus/orderbus.h"

#ifdef OB_TEST_SLOW
#define T_WAIT_MS 120000 /* longest wait for Jira to hold what is expected: sanitizers */
#else
#define T_WAIT_MS 40000 /* longest wait for Jira to hold what is expected */
#endif
#define T_POLL_MS 20    /* between two looks at the double's state */
#define T_PATH_MAX 1024 /* bytes of a path or a small text */
#define T_OMS 7         /* the OMS */
#define T_SECRET "a-webhook-secret-of-some-length"
#define T_EPIC_NAME "customfield_10011"
#define T_EPIC_LINK "customfield_10014"
#define T_CI_NAME "customfield_10100"
#define T_TYPOLOGY "customfield_10109"
#define T_SO_PROJECT "customfield_10113"
#define T_VOUCHER "customfield_10115"
#define T_SO_1 "customfield_10117"
#define T_GRACE_AUTH "Basic Z3JhY2U6Zw==" /* grace:g */
#define T_EDITED "Done in Jira, with 4 cores"
#define T_ECHO_MS 2000      /* how long a command that must not come is waited for */
#define T_DOWN_MS 30000     /* Jira's outage */
#define T_ORDERS 200        /* orders of the kill -9 run: a project, an item, a message each */
#define T_KILLS 6           /* kill -9 of the adapter in that run */
#define T_KILL_JITTER_MS 50 /* random delay between a kill point reached and the kill */
#define T_KILL_POLL_MS 20   /* between two looks at Jira in that run */
#define T_SLOW_MS 10        /* Jira answers a create in that run this late */

static broker_proc_site_t s_site;       /* the broker's scratch directory */
static pid_t s_broker = -1;             /* the broker */
static ob_client_t *s_pub;              /* the test's publisher */
static jira_double_proc_t s_jd;         /* the Jira double */
static char s_url[DAEMON_PROC_URL_MAX]; /* the adapter's HTTP server */
static unsigned s_port;                 /* its port, kept across restarts */
static char s_cfg[T_PATH_MAX];          /* its configuration file */
static int s_oms = T_OMS;               /* the OMS it serves (the gateway test's own) */

/* --- the double ----------------------------------------------------------------------------- */

static void
s_ctl(const char *call, json_t *body)
{
    json_t *answer = jira_double_proc_control(&s_jd, call, body);
    if (!answer)
        fail_msg("control %s refused", call);
    json_decref(answer);
    json_decref(body);
}

/* Fields, the project ORD, the users, the indexed property. */
static void
s_jira_setup(void)
{
    static const struct {
        const char *id, *name, *type;
    } fields[] = {
        {T_EPIC_NAME, "Epic Name", "epic_name"},
        {T_EPIC_LINK, "Epic Link", "epic_link"},
        {T_CI_NAME, "CI-Name", "string"},
        {T_SO_PROJECT, "SO-ProjectName", "string"},
        {T_SO_1, "SO-1", "text"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        s_ctl("fields", json_pack("{s:s, s:s, s:s}", "id", fields[i].id, "name", fields[i].name,
                                  "type", fields[i].type));
    s_ctl("fields", json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "id", T_TYPOLOGY,
                              "name", "CP-CustomerTypology", "type", "select", "options", "id",
                              "10201", "value", "Research", "id", "10202", "value", "Company"));
    s_ctl("fields", json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "id", T_VOUCHER,
                              "name", "CP-INeedAVoucher", "type", "select", "options", "id",
                              "10210", "value", "Yes", "id", "10211", "value", "No"));
    json_t *ord = json_loads(
        "{\"key\":\"ORD\",\"statuses\":[{\"id\":\"1\",\"name\":\"Open\",\"category\":\"new\"},"
        "{\"id\":\"3\",\"name\":\"In Progress\",\"category\":\"indeterminate\"},"
        "{\"id\":\"6\",\"name\":\"Done\",\"category\":\"done\"}],"
        "\"transitions\":[{\"id\":\"21\",\"name\":\"Start\",\"to\":\"3\"},"
        "{\"id\":\"61\",\"name\":\"Finish\",\"to\":\"6\"}]}",
        0, NULL);
    assert_non_null(ord);
    json_object_set_new(
        ord, "issue_types",
        json_pack("[{s:s, s:s, s:[s, s, s, s, s, s]}, {s:s, s:s, s:[s, s, s, s, s]}]", "id",
                  "10000", "name", "Epic", "create", "summary", "labels", T_EPIC_NAME, T_CI_NAME,
                  T_TYPOLOGY, T_SO_PROJECT, "id", "10001", "name", "Task", "create", "summary",
                  "labels", T_EPIC_LINK, T_VOUCHER, T_SO_1));
    s_ctl("projects", ord);
    s_ctl("users", json_pack("{s:s, s:s, s:s, s:[s]}", "name", "orderbus", "display_name", "Orders",
                             "password", "tok3n", "roles", "Developers"));
    s_ctl("users", json_pack("{s:s, s:s, s:s, s:s}", "name", "grace", "display_name",
                             "Grace Hopper", "email", "grace@oms.example", "password", "g"));
}

/* The issues of the double's state (a new reference). */
static json_t *
s_issues(void)
{
    json_t *state = jira_double_proc_state(&s_jd);
    assert_non_null(state);
    json_t *issues = json_incref(json_object_get(state, "issues"));
    json_decref(state);
    return issues;
}

/* The stored issue labelled label in issues (borrowed), and how many carry it. */
static json_t *
s_labelled(json_t *issues, const char *label, int *ret_count)
{
    json_t *found = NULL, *issue, *l;
    size_t i, j;
    *ret_count = 0;
    json_array_foreach(issues, i, issue)
    {
        json_array_foreach(json_object_get(json_object_get(issue, "fields"), "labels"), j, l)
        {
            if (json_is_string(l) && !strcmp(json_string_value(l), label)) {
                found = issue;
                (*ret_count)++;
            }
        }
    }
    return found;
}

/* Comments of issue holding text, and the last of them (borrowed). */
static int
s_comments(json_t *issue, const char *text, json_t **ret_last)
{
    int n = 0;
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(issue, "comments"), i, c)
    {
        const char *body = json_string_value(json_object_get(c, "body"));
        if (body && strstr(body, text)) {
            n++;
            if (ret_last)
                *ret_last = c;
        }
    }
    return n;
}

/* Waits until the issue labelled label has a comment holding mark; returns the issues then
   (a new reference). */
static json_t *
s_wait_mark(const char *label, const char *mark)
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    int count = 0;
    for (;;) {
        json_t *issues = s_issues();
        json_t *issue = s_labelled(issues, label, &count);
        if ((issue && s_comments(issue, mark, NULL)) || zclock_mono() > until)
            return issues;
        json_decref(issues);
        zclock_sleep(T_POLL_MS);
    }
}

/* Counts what the run of n projects should have made: 1 + 2 issues per project, 2 comments
   per item. Returns how many of them exist exactly once; fails on anything made twice. */
static int
s_count_orders(json_t *issues, int first, int n)
{
    int once = 0;
    for (int p = first; p < first + n; p++) {
        char label[64], mark[64];
        int count = 0;
        snprintf(label, sizeof label, "orderbus-%d-p%d", T_OMS, p);
        s_labelled(issues, label, &count);
        if (count > 1)
            fail_msg("%s made %d times", label, count);
        once += count;
        for (int i = 1; i <= 2; i++) {
            snprintf(label, sizeof label, "orderbus-%d-p%d-i%d", T_OMS, p, i);
            json_t *issue = s_labelled(issues, label, &count);
            if (count > 1)
                fail_msg("%s made %d times", label, count);
            once += count;
            for (int m = 0; issue && m < 2; m++) {
                snprintf(mark, sizeof mark, "[orderbus:%d:m%d]", T_OMS, p * 10 + i * 2 + m);
                int c = s_comments(issue, mark, NULL);
                if (c > 1)
                    fail_msg("%s made %d times", mark, c);
                once += c;
            }
        }
    }
    return once;
}

/* Waits until the run of n projects from first is all there; returns the count reached. */
static int
s_wait_orders(int first, int n, int want)
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    int got = 0;
    do {
        json_t *issues = s_issues();
        got = s_count_orders(issues, first, n);
        json_decref(issues);
        if (got >= want)
            break;
        zclock_sleep(T_POLL_MS);
    } while (zclock_mono() < until);
    return got;
}

/* --- the adapter ---------------------------------------------------------------------------- */

static void
s_write(const char *name, const char *text, char *path)
{
    snprintf(path, T_PATH_MAX, "%s/%s", s_site.dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Writes the configuration (listen on s_port, 0 the first time). */
static void
s_config(void)
{
    char token[T_PATH_MAX], secret[T_PATH_MAX], text[4 * T_PATH_MAX];
    s_write("jira.token", "tok3n\n", token);
    s_write("hook.secret", T_SECRET "\n", secret);
    snprintf(text, sizeof text,
             "adapter\n    oms_id = %d\n    listen = 127.0.0.1:%u\n    data_dir = %s/jira-data-%d\n"
             "    secret_file = %s\nbroker\n    endpoint = %s\njira\n    url = %s\n"
             "    user = orderbus\n    token_file = %s\n    project = ORD\n"
             "    epic_type = 10000\n    item_type = 10001\n    epic_name_field = " T_EPIC_NAME
             "\n    epic_link_field = " T_EPIC_LINK "\n    internal_role = Developers\n"
             "    timeout = 2s\n    backoff = 20ms\n    backoff_max = 500ms\n"
             "fields\n    ci_name = " T_CI_NAME "\n    cp_customer_typology = " T_TYPOLOGY
             "\n    so_project_name = " T_SO_PROJECT "\n    cp_i_need_a_voucher = " T_VOUCHER
             "\n    so_1 = " T_SO_1 "\noptions\n    typology_research = 10201\n"
             "    typology_private_company = 10202\n    voucher_true = 10210\n"
             "    voucher_false = 10211\n"
             "status\n    type = in_progress\n    jira_status = 3\n    transition = 21\n"
             "status\n    type = ready\n    jira_status = 6\n    transition = 61\n",
             s_oms, s_port, s_site.dir, s_oms, secret, s_site.endpoint, s_jd.base_url, token);
    s_write("jira.cfg", text, s_cfg);
}

static pid_t
s_adapter_start(void)
{
    s_config();
    pid_t pid =
        daemon_proc_start(getenv("OB_JIRA"), "orderbus-jira", s_site.dir, "jira", s_cfg, 1, s_url);
    assert_true(pid > 0);
    if (!s_port) { /* the first start: keep the port, and point Jira's webhook at it */
        const char *colon = strrchr(s_url, ':');
        assert_non_null(colon);
        s_port = (unsigned)atoi(colon + 1);
        char hook[T_PATH_MAX];
        snprintf(hook, sizeof hook, "%s/jira/webhook", s_url);
        s_ctl("webhooks", json_pack("{s:s, s:s}", "url", hook, "secret", T_SECRET));
    }
    return pid;
}

static void
s_adapter_stop(pid_t pid, int sig)
{
    int status = daemon_proc_stop(pid, sig);
    if (sig == SIGTERM)
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* GETs path of the adapter's HTTP server; returns the status and the body in a new string
 *ret_body (the caller frees it). */
static long
s_adapter_get(const char *path, char **ret_body)
{
    char url[DAEMON_PROC_URL_MAX + 32];
    snprintf(url, sizeof url, "%s%s", s_url, path);
    long status = daemon_proc_get(url, ret_body);
    assert_true(status > 0);
    return status;
}

/* Runs the adapter with the NULL-terminated arguments, both streams into dir/run.out;
   returns its exit status and the output in a new string *ret_out. */
static int
s_run(char **ret_out, ...)
{
    char out[T_PATH_MAX];
    snprintf(out, sizeof out, "%s/run.out", s_site.dir);
    const char *argv[16] = {"orderbus-jira"};
    int argc = 1;
    va_list args;
    va_start(args, ret_out);
    for (const char *a; argc < 15 && (a = va_arg(args, const char *));)
        argv[argc++] = a;
    va_end(args);
    int status = daemon_proc_run(getenv("OB_JIRA"), argv, out, ret_out);
    assert_true(status >= 0);
    return status;
}

/* --- events as the gateway publishes them --------------------------------------------------- */

static void
s_publish(const char *type, uint64_t project, uint64_t item, uint64_t message, const char *data)
{
    char id[96], topic[32];
    snprintf(id, sizeof id, "%s-%" PRIu64 "-%" PRIu64 "-%" PRIu64 "-%zu", type, project, item,
             message, strlen(data));
    snprintf(topic, sizeof topic, "oms.%d", T_OMS);
    ob_event_t ev = {.id = id,
                     .topic = topic,
                     .type = type,
                     .time_us = (uint64_t)zclock_time() * 1000,
                     .source = "orderbus-gateway",
                     .oms_id = T_OMS,
                     .project_id = project,
                     .project_item_id = item,
                     .message_id = message,
                     .data = (const uint8_t *)data,
                     .data_len = strlen(data)};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(s_pub, &ev, &confirm), 0);
}

static void
s_project(uint64_t p)
{
    char data[T_PATH_MAX];
    snprintf(data, sizeof data,
             "{\"id\":%" PRIu64 ",\"owner\":{\"uid\":\"u%" PRIu64 "\",\"email\":\"o@x\",\"name\":"
             "\"Ada Lovelace\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\"},"
             "\"project_items\":[],\"attributes\":{\"name\":\"Engines %" PRIu64 "\","
             "\"customer_typology\":\"research\",\"scientific_domains\":[\"Maths\"]}}",
             p, p, p);
    s_publish("project.created", p, 0, 0, data);
}

static void
s_item(uint64_t p, uint64_t i, const char *type)
{
    char data[T_PATH_MAX];
    snprintf(data, sizeof data,
             "{\"id\":%" PRIu64 ",\"project_id\":%" PRIu64 ",\"status\":{\"value\":\"x\","
             "\"type\":\"%s\"},\"attributes\":{\"category\":\"Compute\",\"service\":\"Cloud VM\","
             "\"offer\":\"Small\",\"offer_properties\":[{\"label\":\"Cores\",\"value\":4}],"
             "\"platforms\":[],\"request_voucher\":true}}",
             i, p, type);
    s_publish(strcmp(type, "created") ? "project_item.status_changed" : "project_item.created", p,
              i, 0, data);
}

static void
s_message(const char *type, uint64_t p, uint64_t i, uint64_t m, const char *scope,
          const char *content)
{
    char data[T_PATH_MAX];
    snprintf(data, sizeof data,
             "{\"id\":%" PRIu64
             ",\"author\":{\"name\":\"Ada\",\"email\":\"o@x\",\"role\":\"user\"},"
             "\"content\":\"%s\",\"scope\":\"%s\"}",
             m, content, scope);
    s_publish(type, p, i, m, data);
}

/* Publishes the orders of projects first .. first + n - 1: an epic, two items, two messages
   on each item (ids p*10 + i*2 + m). */
static void
s_orders(int first, int n)
{
    for (int p = first; p < first + n; p++) {
        s_project((uint64_t)p);
        for (int i = 1; i <= 2; i++) {
            s_item((uint64_t)p, (uint64_t)i, "created");
            for (int m = 0; m < 2; m++)
                s_message("message.posted", (uint64_t)p, (uint64_t)i,
                          (uint64_t)(p * 10 + i * 2 + m), "public", "Hello");
        }
    }
}

/* --- commands on mp.7 ----------------------------------------------------------------------- */

/* Reads the commands on mp.7 from its start until want have come, returning their bodies in
   an array (a new reference). Each of the first want - 1 is waited for up to T_WAIT_MS; the
   last one up to last_ms: it is the one that must not come (an echo), and everything the
   adapter publishes is on the topic before its answer to the webhook. */
static json_t *
s_commands(size_t want, int last_ms)
{
    char topic[32];
    snprintf(topic, sizeof topic, "mp.%d", T_OMS);
    ob_client_config_t cc = {.name = "test-jira-mp", .timeout_ms = T_WAIT_MS};
    ob_client_t *reader = ob_client_new(s_site.endpoint, &cc);
    assert_non_null(reader);
    assert_int_equal(ob_client_connect(reader, T_WAIT_MS), 0);
    const char *patterns[] = {topic};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(reader, NULL, &opts, NULL, NULL), 0);
    json_t *out = json_array();
    while (json_array_size(out) < want) {
        ob_delivery_t *d = NULL;
        if (ob_client_receive(reader, json_array_size(out) + 1 < want ? T_WAIT_MS : last_ms, &d))
            break;
        ob_event_t *ev = NULL;
        assert_int_equal(ob_delivery_decode(d, &ev), 0);
        assert_string_equal(ev->source, "orderbus-jira");
        json_t *body = json_loadb((const char *)ev->data, ev->data_len, 0, NULL);
        assert_non_null(body);
        assert_string_equal(json_string_value(json_object_get(body, "id")), ev->id);
        json_object_set_new(body, "_type", json_string(ev->type));
        json_array_append_new(out, body);
        ob_event_destroy(&ev);
        ob_client_ack(reader, d);
        ob_delivery_destroy(&d);
    }
    ob_client_destroy(&reader);
    return out;
}

/* Waits until the double has delivered want webhooks, each answered (any status). */
static void
s_wait_deliveries(size_t want)
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    size_t n = 0;
    do {
        json_t *state = jira_double_proc_state(&s_jd);
        n = json_array_size(json_object_get(state, "deliveries"));
        json_decref(state);
        if (n >= want)
            return;
        zclock_sleep(T_POLL_MS);
    } while (zclock_mono() < until);
    fail_msg("%zu webhook deliveries, %zu expected", n, want);
}

static size_t
s_delivery_count(void)
{
    json_t *state = jira_double_proc_state(&s_jd);
    size_t n = json_array_size(json_object_get(state, "deliveries"));
    json_decref(state);
    return n;
}

/* How many webhooks of event the double has delivered to the running adapter. */
static size_t
s_deliveries_to(const char *event)
{
    char hook[T_PATH_MAX];
    snprintf(hook, sizeof hook, "%s/jira/webhook", s_url);
    json_t *state = jira_double_proc_state(&s_jd), *d;
    assert_non_null(state);
    size_t i, n = 0;
    json_array_foreach(json_object_get(state, "deliveries"), i, d)
    {
        const char *url = json_string_value(json_object_get(d, "url"));
        const char *ev = json_string_value(json_object_get(d, "event"));
        n += url && ev && !strcmp(url, hook) && !strcmp(ev, event);
    }
    json_decref(state);
    return n;
}

/* Waits until want webhooks of event were delivered to the running adapter (answered). */
static void
s_wait_hooks(const char *event, size_t want)
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    size_t n;
    while ((n = s_deliveries_to(event)) < want && zclock_mono() < until)
        zclock_sleep(T_POLL_MS);
    if (n < want)
        fail_msg("%zu %s webhooks delivered, %zu expected", n, event, want);
}

/* --- tests ---------------------------------------------------------------------------------- */

/* One order both ways: the epic and the issue with their fields, the link, a transition,
   comments by scope, an edit; a person's transition and comment become commands, the
   adapter's own writes do not; a failed command shows on the issue. */
static void
test_order(void **state)
{
    (void)state;
    pid_t pid = s_adapter_start();
    s_project(1);
    s_item(1, 1, "created");
    s_message("message.posted", 1, 1, 11, "public", "Is my VM ready?");
    s_message("message.posted", 1, 1, 12, "user_direct", "the-password-is-swordfish");
    s_message("message.posted", 1, 1, 13, "internal", "staff only");
    s_message("message.posted", 1, 0, 14, "public", "About the whole project");
    s_message("message.edited", 1, 1, 11, "public", "Is my VM ready yet?");
    s_item(1, 1, "ready");
    /* wait for the last effect: the issue Done (status 6) */
    json_t *issues = NULL, *epic = NULL, *item = NULL;
    int count = 0;
    int64_t until = zclock_mono() + T_WAIT_MS;
    for (;;) {
        json_decref(issues);
        issues = s_issues();
        item = s_labelled(issues, "orderbus-7-p1-i1", &count);
        const char *st = item ? json_string_value(json_object_get(item, "status")) : NULL;
        if ((st && !strcmp(st, "6")) || zclock_mono() > until)
            break;
        zclock_sleep(T_POLL_MS);
    }
    assert_non_null(item);
    assert_string_equal(json_string_value(json_object_get(item, "status")), "6");
    epic = s_labelled(issues, "orderbus-7-p1", &count);
    assert_non_null(epic);
    assert_int_equal(count, 1);
    json_t *ef = json_object_get(epic, "fields");
    json_t *itf = json_object_get(item, "fields");
    assert_string_equal(json_string_value(json_object_get(ef, "summary")), "Project Ada Lovelace");
    assert_string_equal(json_string_value(json_object_get(ef, T_EPIC_NAME)), "Engines 1");
    assert_string_equal(json_string_value(json_object_get(ef, T_CI_NAME)), "Ada");
    assert_string_equal(json_string_value(json_object_get(ef, T_SO_PROJECT)), "Engines 1 (1)");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ef, T_TYPOLOGY), "id")),
                        "10201");
    assert_string_equal(json_string_value(json_object_get(item, "issuetype")), "10001");
    assert_string_equal(json_string_value(json_object_get(itf, "summary")),
                        "Service order, Ada Lovelace Cloud VM");
    const char *epic_key = json_string_value(json_object_get(epic, "key"));
    assert_string_equal(json_string_value(json_object_get(itf, T_EPIC_LINK)), epic_key);
    assert_non_null(strstr(json_string_value(json_object_get(itf, T_SO_1)), "\"Cores\":4"));
    /* comments: the public one edited, the direct one without its content, the internal one
       restricted, the project's on the epic */
    json_t *c = NULL;
    assert_int_equal(s_comments(item, "[orderbus:7:m11]", &c), 1);
    assert_non_null(strstr(json_string_value(json_object_get(c, "body")), "ready yet?"));
    assert_int_equal(s_comments(item, "[orderbus:7:m12]", &c), 1);
    assert_null(strstr(json_string_value(json_object_get(c, "body")), "swordfish"));
    assert_int_equal(s_comments(item, "[orderbus:7:m13]", &c), 1);
    assert_non_null(json_object_get(c, "visibility"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "visibility"), "value")),
        "Developers");
    assert_int_equal(s_comments(epic, "[orderbus:7:m14]", NULL), 1);
    assert_int_equal(json_array_size(json_object_get(item, "comments")), 3);
    char *key = strdup(json_string_value(json_object_get(item, "key")));
    json_decref(issues);

    /* Jira -> Marketplace: a person's transition and comment; the adapter's own writes
       (above) made webhooks too, which must give no command */
    size_t before = s_delivery_count();
    s_ctl("transition",
          json_pack("{s:s, s:s, s:s}", "issue", key, "user", "grace", "transition", "21"));
    s_ctl("comment",
          json_pack("{s:s, s:s, s:s}", "issue", key, "user", "grace", "body", "Your VM is up"));
    s_wait_deliveries(before + 3);           /* transition; comment_created and issue_commented */
    json_t *cmds = s_commands(3, T_ECHO_MS); /* a third would be an echo */
    if (json_array_size(cmds) != 2) {
        char *text = json_dumps(cmds, 0);
        fail_msg("commands: %s", text);
    }
    json_t *up = json_array_get(cmds, 0), *post = json_array_get(cmds, 1);
    assert_string_equal(json_string_value(json_object_get(up, "_type")),
                        "command.update_project_item");
    assert_string_equal(json_string_value(json_object_get(json_object_get(up, "status"), "type")),
                        "in_progress");
    assert_int_equal(json_integer_value(json_object_get(up, "project_item_id")), 1);
    assert_string_equal(json_string_value(json_object_get(post, "_type")), "command.post_message");
    assert_string_equal(json_string_value(json_object_get(post, "content")), "Your VM is up");
    assert_string_equal(json_string_value(json_object_get(post, "scope")), "public");
    assert_string_equal(json_string_value(json_object_get(json_object_get(post, "author"), "role")),
                        "provider");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(post, "author"), "email")),
        "grace@oms.example");
    /* the Marketplace refuses the post: the outcome shows on the issue */
    char outcome[T_PATH_MAX];
    snprintf(outcome, sizeof outcome,
             "{\"command_id\":\"%s\",\"command\":\"post_message\",\"status\":403,"
             "\"error\":\"Forbidden\"}",
             json_string_value(json_object_get(post, "id")));
    char mark[T_PATH_MAX];
    snprintf(mark, sizeof mark, "[orderbus:%s]", json_string_value(json_object_get(post, "id")));
    json_decref(cmds);
    s_publish("command.failed", 1, 1, 0, outcome);
    issues = s_wait_mark("orderbus-7-p1-i1", mark);
    item = s_labelled(issues, "orderbus-7-p1-i1", &count);
    assert_int_equal(s_comments(item, mark, &c), 1);
    assert_non_null(strstr(json_string_value(json_object_get(c, "body")), "status 403"));
    json_decref(issues);
    /* the Marketplace's message made from Jira's comment comes back as message.posted (by a
       provider): not copied again; a later message is */
    char data[T_PATH_MAX];
    snprintf(data, sizeof data,
             "{\"id\":15,\"author\":{\"name\":\"Grace Hopper\",\"email\":\"grace@oms.example\","
             "\"role\":\"provider\"},\"content\":\"Your VM is up\",\"scope\":\"public\"}");
    s_publish("message.posted", 1, 1, 15, data);
    s_message("message.posted", 1, 1, 16, "public", "Thanks");
    issues = s_wait_mark("orderbus-7-p1-i1", "[orderbus:7:m16]");
    item = s_labelled(issues, "orderbus-7-p1-i1", &count);
    assert_int_equal(s_comments(item, "[orderbus:7:m15]", NULL), 0);
    assert_int_equal(s_comments(item, "Your VM is up", NULL), 1);
    json_decref(issues);
    /* a webhook without the secret, or with a wrong signature, is refused */
    char hook[T_PATH_MAX];
    snprintf(hook, sizeof hook, "%s/jira/webhook?secret=wrong", s_url);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, hook);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    assert_int_equal(status, 401);
    char *text = NULL;
    assert_int_equal(s_adapter_get("/healthz", &text), 200);
    free(text);
    assert_int_equal(s_adapter_get("/metrics", &text), 200);
    assert_non_null(strstr(text, "orderbus_jira_webhooks_total{outcome=\"command\"} 2"));
    assert_non_null(strstr(text, "orderbus_jira_webhooks_total{outcome=\"refused\"} 1"));
    assert_non_null(strstr(text, "orderbus_jira_events_total{outcome=\"applied\"}"));
    assert_null(strstr(text, "outcome=\"lost\""));
    free(text);

    /* a comment edited before the Marketplace confirmed its message: pending until the
       post's command.completed names the message, then sent as edit_message */
    s_ctl("comment",
          json_pack("{s:s, s:s, s:s}", "issue", key, "user", "grace", "body", "Edit me"));
    json_decref(s_commands(3, T_WAIT_MS)); /* its post_message is out */
    issues = s_issues();
    item = s_labelled(issues, "orderbus-7-p1-i1", &count);
    assert_int_equal(s_comments(item, "Edit me", &c), 1);
    char *cid = strdup(json_string_value(json_object_get(c, "id")));
    json_decref(issues);
    char path[T_PATH_MAX];
    snprintf(path, sizeof path, "/rest/api/2/issue/%s/comment/%s", key, cid);
    assert_int_equal(jira_double_proc_call(&s_jd, "PUT", path, T_GRACE_AUTH,
                                           "{\"body\":\"Edit me, edited\"}", NULL, NULL),
                     200);
    s_wait_hooks("comment_updated", 1);
    assert_int_equal(s_adapter_get("/metrics", &text), 200);
    assert_non_null(strstr(text, "orderbus_jira_webhooks_total{outcome=\"command\"} 3\n"));
    free(text);
    snprintf(outcome, sizeof outcome,
             "{\"command_id\":\"jira-c%s\",\"command\":\"post_message\",\"status\":201,"
             "\"response\":{\"id\":21}}",
             cid);
    s_publish("command.completed", 1, 1, 0, outcome);
    cmds = s_commands(4, T_WAIT_MS);
    json_t *edit = json_array_get(cmds, 3);
    assert_non_null(edit);
    assert_string_equal(json_string_value(json_object_get(edit, "_type")), "command.edit_message");
    assert_int_equal(json_integer_value(json_object_get(edit, "message_id")), 21);
    assert_string_equal(json_string_value(json_object_get(edit, "content")), "Edit me, edited");
    json_decref(cmds);
    free(cid);
    free(key);
    s_adapter_stop(pid, SIGTERM);
}

/* Jira stopped for T_DOWN_MS in the middle of a run: the double gets SIGSTOP, so that the
   adapter's connections are accepted by the kernel and never answered (each request times
   out), and the requests left in its listen queue are carried out when it comes back, with
   nobody to read their answers (a create made, its answer lost). Orders published before and
   during the outage are all in Jira afterwards, each once. */
static void
test_jira_down(void **state)
{
    (void)state;
    const int first = 300, n = 5, per = n * 7;
    s_oms = T_OMS; /* the adapter of the events s_orders publishes */
    s_port = 0;
    pid_t pid = s_adapter_start();
    s_orders(first, n);
    assert_int_equal(s_wait_orders(first, n, per), per);
    assert_int_equal(kill(s_jd.pid, SIGSTOP), 0);
    int64_t back_at = zclock_mono() + T_DOWN_MS;
    s_orders(first + n, n); /* while Jira is down */
    /* the adapter is trying: it counts requests without an answer */
    char metrics[DAEMON_PROC_URL_MAX + 16];
    snprintf(metrics, sizeof metrics, "%s/metrics", s_url);
    assert_true(daemon_proc_wait_text(metrics, "orderbus_jira_requests_total{status=\"none\"}",
                                      T_POLL_MS, back_at));
    if (zclock_mono() < back_at) /* the outage itself: a deliberate wait */
        zclock_sleep((int)(back_at - zclock_mono()));
    assert_int_equal(kill(s_jd.pid, SIGCONT), 0);
    print_message("Jira down for %d s\n", T_DOWN_MS / 1000);
    assert_int_equal(s_wait_orders(first, 2 * n, 2 * per), 2 * per);
    char *text = NULL;
    assert_int_equal(s_adapter_get("/metrics", &text), 200);
    assert_null(strstr(text, "outcome=\"lost\""));
    free(text);
    s_adapter_stop(pid, SIGTERM);
}

/* --help, --version and the exit statuses: 2 for a usage error, 1 for a secret that cannot be
   read (its message names the file, never the secret), 1 for a data directory another
   adapter holds. */
static void
test_exit_statuses(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(s_run(&out, "--version", NULL), 0);
    assert_non_null(strstr(out, "orderbus-jira " OB_VERSION_STRING));
    free(out);
    assert_int_equal(s_run(&out, "--help", NULL), 0);
    assert_non_null(strstr(out, "--jira-epic-link-field"));
    free(out);
    assert_int_equal(s_run(&out, "--bogus", NULL), 2);
    assert_non_null(strstr(out, "unknown flag '--bogus'"));
    free(out);
    assert_int_equal(s_run(&out, "--oms-id", "7", NULL), 2); /* no data_dir, url, ... */
    free(out);
    s_config();
    char short_secret[T_PATH_MAX];
    s_write("short.secret", "tiny-secret\n", short_secret);
    assert_int_equal(s_run(&out, "--config", s_cfg, "--secret-file", short_secret, NULL), 1);
    assert_non_null(strstr(out, "short.secret"));
    assert_null(strstr(out, "tiny-secret\n"));
    free(out);
    pid_t pid = s_adapter_start(); /* holds the data directory */
    assert_int_equal(s_run(&out, "--config", s_cfg, "--listen", "127.0.0.1:0", NULL), 1);
    assert_non_null(strstr(out, "resource busy"));
    free(out);
    s_adapter_stop(pid, SIGTERM);
}

/* A control call of the Marketplace double with body (taken); the answer (a new reference)
   or NULL. */
static json_t *
s_mp_ctl(const mp_double_proc_t *mp, const char *call, json_t *body)
{
    json_t *answer = mp_double_proc_control(mp, call, body);
    json_decref(body);
    return answer;
}

/* Waits until test(arg, the Marketplace double's state) holds; returns whether it did. */
static int
s_wait_mp(const mp_double_proc_t *mp, int (*test)(json_t *state))
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    for (;;) {
        json_t *state = mp_double_proc_get(mp, "state");
        int ok = state && test(state);
        json_decref(state);
        if (ok || zclock_mono() > until)
            return ok;
        zclock_sleep(T_POLL_MS);
    }
}

/* The double's item 1 of its first project is in_progress. */
static int
s_mp_in_progress(json_t *state)
{
    json_t *item = json_array_get(
        json_object_get(json_array_get(json_object_get(state, "projects"), 0), "items"), 0);
    const char *type = json_string_value(json_object_get(json_object_get(item, "status"), "type"));
    return type && !strcmp(type, "in_progress");
}

/* The double holds a provider's message with the Jira comment's content. */
static int
s_mp_from_jira(json_t *state)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(state, "messages"), i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        const char *role = json_string_value(json_object_get(json_object_get(m, "author"), "role"));
        if (content && role && !strcmp(content, "Done in Jira") && !strcmp(role, "provider"))
            return 1;
    }
    return 0;
}

/* A Marketplace double and a gateway that serves one OMS of it. */
typedef struct t_market {
    mp_double_proc_t mp; /* the Marketplace double */
    pid_t gw;            /* the gateway */
} t_market_t;

/* Starts a Marketplace double with OMS oms (its default OMS, triggering the gateway) and a
   gateway for it on the test's broker, in its own data directory. */
static void
s_market_start(t_market_t *m, int oms)
{
    assert_int_equal(mp_double_proc_start(&m->mp, "--trigger-retry-scale-ms", "10", (char *)NULL),
                     0);
    char token[T_PATH_MAX], password[T_PATH_MAX], cfg[4 * T_PATH_MAX], gw_cfg[T_PATH_MAX];
    char gw_url[GW_PROC_URL_MAX], trigger[T_PATH_MAX], name[64];
    s_write("gw.token", "tok-oms\n", token);
    s_write("gw.password", "trigger-pw\n", password);
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data-%d\n"
             "broker\n    endpoint = %s\n"
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    trigger_user = gw\n"
             "    trigger_password_file = %s\n    poll_interval = 1s\n    timeout = 2s\n",
             s_site.dir, oms, s_site.endpoint, oms, m->mp.base_url, token, password);
    snprintf(name, sizeof name, "gw-%d.cfg", oms);
    s_write(name, cfg, gw_cfg);
    m->gw = gw_proc_start(s_site.dir, gw_cfg, gw_url);
    assert_true(m->gw > 0);
    snprintf(trigger, sizeof trigger, "%s/trigger/%d", gw_url, oms);
    snprintf(name, sizeof name, "oms-%d", oms);
    json_t *answer =
        s_mp_ctl(&m->mp, "oms",
                 json_pack("{s:i, s:s, s:b, s:s, s:{s:s, s:s, s:s, s:s}}", "id", oms, "name", name,
                           "default", 1, "token", "tok-oms", "trigger", "url", trigger, "method",
                           "post", "user", "gw", "password", "trigger-pw"));
    assert_non_null(answer);
    json_decref(answer);
}

static void
s_market_stop(t_market_t *m)
{
    assert_int_not_equal(gw_proc_stop(m->gw, SIGTERM), -1);
    mp_double_proc_stop(&m->mp, SIGTERM);
}

/* One order placed in the Marketplace double: its project, its item and a user's message. */
typedef struct t_order {
    json_int_t project; /* the project's id */
    json_int_t message; /* the message's id */
} t_order_t;

/* Places order number i: a project, its item 1 for oms, a message on the item. */
static void
s_place(const t_market_t *m, int oms, int i, t_order_t *ret_order)
{
    char name[64];
    snprintf(name, sizeof name, "Engines %d", i);
    json_t *project = s_mp_ctl(
        &m->mp, "projects",
        json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "owner", "uid", "u-9", "email",
                  "ada@example.org", "name", "Ada Lovelace", "first_name", "Ada", "last_name",
                  "Lovelace", "attributes", "name", name, "customer_typology", "research"));
    assert_non_null(project);
    ret_order->project = json_integer_value(json_object_get(project, "id"));
    json_decref(project);
    json_t *answer =
        s_mp_ctl(&m->mp, "project_items",
                 json_pack("{s:I, s:i, s:{s:s, s:s, s:b}}", "project_id", ret_order->project,
                           "primary_oms_id", oms, "attributes", "service", "Cloud VM", "offer",
                           "Small", "request_voucher", 0));
    assert_non_null(answer);
    json_decref(answer);
    answer = s_mp_ctl(&m->mp, "messages",
                      json_pack("{s:I, s:i, s:{s:s, s:s, s:s}, s:s, s:s}", "project_id",
                                ret_order->project, "project_item_id", 1, "author", "name", "Ada",
                                "email", "ada@example.org", "role", "user", "content",
                                "When will it be ready?", "scope", "public"));
    assert_non_null(answer);
    ret_order->message = json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
}

/* Counts the epics, issues and comments of the n orders of oms that Jira holds once (3 per
   order); fails on anything made twice, or on an item's issue with another comment. */
static int
s_count_placed(json_t *issues, int oms, const t_order_t *orders, int n)
{
    int once = 0, count = 0;
    char label[64], mark[64];
    for (int i = 0; i < n; i++) {
        snprintf(label, sizeof label, "orderbus-%d-p%" JSON_INTEGER_FORMAT, oms, orders[i].project);
        s_labelled(issues, label, &count);
        if (count > 1)
            fail_msg("%s made %d times", label, count);
        once += count;
        snprintf(label, sizeof label, "orderbus-%d-p%" JSON_INTEGER_FORMAT "-i1", oms,
                 orders[i].project);
        json_t *issue = s_labelled(issues, label, &count);
        if (count > 1)
            fail_msg("%s made %d times", label, count);
        once += count;
        if (!issue)
            continue;
        snprintf(mark, sizeof mark, "[orderbus:%d:m%" JSON_INTEGER_FORMAT "]", oms,
                 orders[i].message);
        int c = s_comments(issue, mark, NULL);
        size_t all = json_array_size(json_object_get(issue, "comments"));
        if (c > 1 || all > 1)
            fail_msg("%s: %d comments with %s, %zu in all", label, c, mark, all);
        once += c;
    }
    return once;
}

/* Waits until Jira holds want of the n orders' objects (T_WAIT_MS between two steps of
   progress); returns the count reached. */
static int
s_wait_placed(int oms, const t_order_t *orders, int n, int want)
{
    int64_t until = zclock_mono() + T_WAIT_MS;
    int got = 0;
    for (;;) {
        json_t *issues = s_issues();
        int now = s_count_placed(issues, oms, orders, n);
        json_decref(issues);
        if (now > got)
            until = zclock_mono() + T_WAIT_MS;
        got = now;
        if (got >= want || zclock_mono() > until)
            return got;
        zclock_sleep(T_KILL_POLL_MS);
    }
}

static int
s_compare_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* kill -9 of the adapter at T_KILLS random points of a run of T_ORDERS orders placed in the
   Marketplace double, through the gateway and the broker, while Jira loses the answers to a
   few creates: Jira then holds exactly one epic per project, one issue per item and one
   comment per message. A point is a count of objects in Jira, then a random delay of up to
   T_KILL_JITTER_MS: the kill lands anywhere in the adapter's work (between a Jira call and
   the map's commit included), or while it starts again when two points are close. Jira
   answers creates T_SLOW_MS late, so that the adapter's progress is seen between two looks
   at Jira's state. The seed is printed; T_SEED=<seed> repeats the
   points (the timing of the processes is not repeatable to the millisecond). */
static void
test_kill_random(void **state)
{
    (void)state;
    const int oms = 9, all = 3 * T_ORDERS;
    const char *env = getenv("T_SEED");
    unsigned seed =
        env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    print_message("kill -9 points from seed %u (T_SEED=%u repeats them)\n", seed, seed);
    int points[T_KILLS];
    for (int k = 0; k < T_KILLS; k++)
        points[k] = 1 + rand_r(&seed) % (all - 1);
    qsort(points, T_KILLS, sizeof points[0], s_compare_int);
    t_market_t market;
    s_market_start(&market, oms);
    s_oms = oms; /* a new adapter: its own OMS, data directory, port and webhook */
    s_port = 0;
    s_ctl("faults", json_pack("{s:i, s:i, s:i, s:s, s:s}", "lose_next", 6, "slow_next", 100 * all,
                              "slow_ms", T_SLOW_MS, "method", "POST", "path", "/rest/api/2/issue"));
    pid_t pid = s_adapter_start();
    int64_t start = zclock_mono();
    static t_order_t orders[T_ORDERS];
    for (int i = 0; i < T_ORDERS; i++)
        s_place(&market, oms, i, &orders[i]);
    for (int k = 0; k < T_KILLS; k++) {
        int got = s_wait_placed(oms, orders, T_ORDERS, points[k]);
        assert_true(got >= points[k]);
        zclock_sleep(rand_r(&seed) % (T_KILL_JITTER_MS + 1)); /* where the kill lands */
        s_adapter_stop(pid, SIGKILL);
        print_message("kill -9 at point %d (%d of %d made when seen)\n", points[k], got, all);
        pid = s_adapter_start();
    }
    assert_int_equal(s_wait_placed(oms, orders, T_ORDERS, all), all);
    print_message("%d orders (%d objects in Jira) with %d kills in %" PRId64 " ms\n", T_ORDERS, all,
                  T_KILLS, zclock_mono() - start);
    /* nothing else of this OMS: no stray epic or issue */
    json_t *issues = s_issues(), *issue;
    size_t i;
    int ours = 0;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "orderbus-%d-p", oms);
    json_array_foreach(issues, i, issue)
    {
        json_t *l;
        size_t j;
        json_array_foreach(json_object_get(json_object_get(issue, "fields"), "labels"), j, l)
            ours += json_is_string(l) && !strncmp(json_string_value(l), prefix, strlen(prefix));
    }
    json_decref(issues);
    assert_int_equal(ours, 2 * T_ORDERS);
    s_adapter_stop(pid, SIGTERM);
    s_ctl("faults", json_pack("{s:i, s:i, s:s, s:s}", "lose_next", 0, "slow_next", 0, "method", "",
                              "path", ""));
    s_market_stop(&market);
}

/* The double holds grace's edited message. */
static int
s_mp_edited(json_t *state)
{
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(state, "messages"), i, m)
    {
        const char *content = json_string_value(json_object_get(m, "content"));
        if (content && !strcmp(content, T_EDITED))
            return 1;
    }
    return 0;
}

/* Through the real gateway and the Marketplace double (OMS 8, its own adapter): an order
   placed in the Marketplace becomes an epic, an issue and a comment; a person's transition in
   Jira changes the item's status in the Marketplace, a person's comment becomes a message
   there, and that message is not copied back to Jira; her edit of the comment edits the
   message, the Marketplace's edit of the user's message edits its comment, and neither
   comes back. */
static void
test_gateway(void **state)
{
    (void)state;
    const int oms = 8;
    t_market_t market;
    s_market_start(&market, oms);
    mp_double_proc_t mp = market.mp;
    json_t *answer = NULL;
    s_oms = oms; /* a new adapter: its own OMS, data directory, port and webhook */
    s_port = 0;
    pid_t pid = s_adapter_start();
    /* the order, in the Marketplace */
    json_t *project = s_mp_ctl(
        &mp, "projects",
        json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "owner", "uid", "u-9", "email",
                  "ada@example.org", "name", "Ada Lovelace", "first_name", "Ada", "last_name",
                  "Lovelace", "attributes", "name", "Engines", "customer_typology", "research"));
    assert_non_null(project);
    json_int_t p = json_integer_value(json_object_get(project, "id"));
    json_decref(project);
    answer = s_mp_ctl(&mp, "project_items",
                      json_pack("{s:I, s:i, s:{s:s, s:s, s:b}}", "project_id", p, "primary_oms_id",
                                oms, "attributes", "service", "Cloud VM", "offer", "Small",
                                "request_voucher", 0));
    assert_non_null(answer);
    json_decref(answer);
    answer = s_mp_ctl(&mp, "messages",
                      json_pack("{s:I, s:i, s:{s:s, s:s, s:s}, s:s, s:s}", "project_id", p,
                                "project_item_id", 1, "author", "name", "Ada", "email",
                                "ada@example.org", "role", "user", "content",
                                "When will it be ready?", "scope", "public"));
    assert_non_null(answer);
    json_int_t m = json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
    char label[64], mark[64];
    snprintf(label, sizeof label, "orderbus-%d-p%" JSON_INTEGER_FORMAT "-i1", oms, p);
    snprintf(mark, sizeof mark, "[orderbus:%d:m%" JSON_INTEGER_FORMAT "]", oms, m);
    json_t *issues = s_wait_mark(label, mark);
    int count = 0;
    json_t *item = s_labelled(issues, label, &count);
    assert_non_null(item);
    assert_int_equal(count, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(item, "fields"), "summary")),
        "Service order, Ada Lovelace Cloud VM");
    char *key = strdup(json_string_value(json_object_get(item, "key")));
    json_decref(issues);
    snprintf(label, sizeof label, "orderbus-%d-p%" JSON_INTEGER_FORMAT, oms, p);
    issues = s_issues();
    assert_non_null(s_labelled(issues, label, &count));
    assert_int_equal(count, 1);
    json_decref(issues);
    /* Jira -> Marketplace */
    s_ctl("transition",
          json_pack("{s:s, s:s, s:s}", "issue", key, "user", "grace", "transition", "21"));
    assert_true(s_wait_mp(&mp, s_mp_in_progress));
    s_ctl("comment",
          json_pack("{s:s, s:s, s:s}", "issue", key, "user", "grace", "body", "Done in Jira"));
    assert_true(s_wait_mp(&mp, s_mp_from_jira));
    /* the Marketplace's message.posted of it comes back through the gateway: a later
       message's comment appears, and "Done in Jira" is still there once */
    answer = s_mp_ctl(&mp, "messages",
                      json_pack("{s:I, s:i, s:{s:s, s:s, s:s}, s:s, s:s}", "project_id", p,
                                "project_item_id", 1, "author", "name", "Ada", "email",
                                "ada@example.org", "role", "user", "content", "Thank you", "scope",
                                "public"));
    assert_non_null(answer);
    m = json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
    snprintf(label, sizeof label, "orderbus-%d-p%" JSON_INTEGER_FORMAT "-i1", oms, p);
    snprintf(mark, sizeof mark, "[orderbus:%d:m%" JSON_INTEGER_FORMAT "]", oms, m);
    issues = s_wait_mark(label, mark);
    item = s_labelled(issues, label, &count);
    assert_int_equal(s_comments(item, mark, NULL), 1);
    json_t *c = NULL;
    assert_int_equal(s_comments(item, "Done in Jira", &c), 1);
    char path[T_PATH_MAX];
    snprintf(path, sizeof path, "/rest/api/2/issue/%s/comment/%s", key,
             json_string_value(json_object_get(c, "id")));
    json_decref(issues);
    /* edits, both ways: grace edits her comment (its message is known to the adapter: the
       command's outcome came before the later message), the Marketplace edits the user's */
    size_t hooks = s_deliveries_to("comment_updated");
    assert_int_equal(jira_double_proc_call(&s_jd, "PUT", path, T_GRACE_AUTH,
                                           "{\"body\":\"" T_EDITED "\"}", NULL, NULL),
                     200);
    assert_true(s_wait_mp(&mp, s_mp_edited));
    answer = s_mp_ctl(&mp, "edit", json_pack("{s:I, s:s}", "id", m, "content", "Thanks a lot"));
    assert_non_null(answer);
    json_decref(answer);
    int64_t until = zclock_mono() + T_WAIT_MS;
    for (;;) { /* the comment made of the user's message is edited */
        issues = s_issues();
        item = s_labelled(issues, label, &count);
        if (s_comments(item, "Thanks a lot", NULL) || zclock_mono() > until)
            break;
        json_decref(issues);
        zclock_sleep(T_POLL_MS);
    }
    assert_int_equal(s_comments(item, mark, &c), 1);
    assert_non_null(strstr(json_string_value(json_object_get(c, "body")), "Thanks a lot"));
    assert_int_equal(s_comments(item, T_EDITED, NULL), 1); /* its message.edited not copied */
    assert_int_equal(json_array_size(json_object_get(item, "comments")), 3);
    json_decref(issues);
    /* no echo: the adapter's own edit came back as comment_updated too, and gave no command:
       three in all (the transition, the comment, grace's edit) */
    s_wait_hooks("comment_updated", hooks + 2);
    char *text = NULL;
    assert_int_equal(s_adapter_get("/metrics", &text), 200);
    assert_non_null(strstr(text, "orderbus_jira_webhooks_total{outcome=\"command\"} 3\n"));
    free(text);
    free(key);
    s_adapter_stop(pid, SIGTERM);
    s_market_stop(&market);
}

static int
s_setup(void **state)
{
    (void)state;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) || broker_proc_site_make(&s_site, "test_jira"))
        return -1;
    s_broker = broker_proc_start(s_site.data_dir, s_site.endpoint, NULL);
    if (s_broker < 0 || jira_double_proc_start(&s_jd))
        return -1;
    ob_client_config_t cc = {.name = "test-jira-pub", .timeout_ms = T_WAIT_MS};
    s_pub = ob_client_new(s_site.endpoint, &cc);
    if (!s_pub || ob_client_connect(s_pub, T_WAIT_MS))
        return -1;
    s_jira_setup();
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    ob_client_destroy(&s_pub);
    jira_double_proc_stop(&s_jd, SIGTERM);
    if (s_broker > 0)
        broker_proc_stop(s_broker, SIGTERM);
    if (!getenv("T_KEEP"))
        broker_proc_site_remove(&s_site);
    curl_global_cleanup();
    return 0;
}

/* Without arguments, the quick tests; with "long", the kill -9 run and the outage (CTest's
   test_jira_long, label long). */
int
main(int argc, char **argv)
{
    const struct CMUnitTest quick[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_exit_statuses),
        cmocka_unit_test(test_gateway),
    };
    const struct CMUnitTest slow[] = {
        cmocka_unit_test(test_kill_random),
        cmocka_unit_test(test_jira_down),
    };
    if (argc > 1 && !strcmp(argv[1], "long"))
        return cmocka_run_group_tests_name("test_jira_long", slow, s_setup, s_teardown);
    return cmocka_run_group_tests_name("test_jira", quick, s_setup, s_teardown);
}
