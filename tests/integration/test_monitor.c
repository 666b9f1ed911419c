/*  test_monitor: orderbus-monitor, the built binary, run as a subprocess against a real
    orderbus-broker process started with deploy/orderbus-broker.cfg (one broker and one
    scratch directory per test). Checks each command's table (headers and values), its
    --json (parsed with Jansson), and the exit codes: 2 usage, 3 not found, 4 unreachable.
    The monitor's path comes from OB_MONITOR, the broker's from OB_BROKER (CTest sets both). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>
#include <jansson.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"

#define T_ARGS_MAX 32    /* arguments of one monitor run */
#define T_RUN_MS 30000   /* longest a monitor run may take */
#define T_WAIT_MS 10000  /* longest a condition is waited for */
#define T_TEXT_MAX 65536 /* output kept of one run */
#define T_SCREEN_COLS 80 /* top's screen when not a terminal */
#define T_SCREEN_ROWS 24

typedef struct t_fx {
    char *dir;                               /* scratch directory */
    char data[512];                          /* the broker's data directory */
    char endpoint[BROKER_PROC_ENDPOINT_MAX]; /* the broker's endpoint */
    pid_t broker;                            /* the broker process, or 0 */
    ob_client_t *client;  /* an in-process client, for subscribers and publishers */
    int status;           /* the last run's exit status */
    char out[T_TEXT_MAX]; /* the last run's standard output */
    char err[T_TEXT_MAX]; /* the last run's standard error */
} t_fx;

/* --- running the monitor ----------------------------------------------------------------- */

static void
s_slurp(const char *path, char *buf)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, T_TEXT_MAX - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* Starts orderbus-monitor --endpoint fx->endpoint with the args of ap (NULL-terminated),
   with stdin_text (NULL: /dev/null) as standard input, TERM unset, its output to files in
   fx->dir. Returns its pid. */
static pid_t
s_spawn_v(t_fx *fx, const char *stdin_text, va_list ap)
{
    const char *monitor = getenv("OB_MONITOR");
    assert_non_null(monitor);
    const char *argv[T_ARGS_MAX];
    int argc = 0;
    argv[argc++] = monitor;
    argv[argc++] = "--endpoint";
    argv[argc++] = fx->endpoint;
    const char *arg;
    while ((arg = va_arg(ap, const char *)) && argc < T_ARGS_MAX - 1)
        argv[argc++] = arg;
    argv[argc] = NULL;

    char in_path[600], out_path[600], err_path[600];
    snprintf(in_path, sizeof in_path, "%s/stdin", fx->dir);
    snprintf(out_path, sizeof out_path, "%s/stdout", fx->dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", fx->dir);
    FILE *in = fopen(in_path, "w");
    assert_non_null(in);
    if (stdin_text)
        fputs(stdin_text, in);
    fclose(in);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd0 = open(stdin_text ? in_path : "/dev/null", O_RDONLY);
        int fd1 = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fd2 = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd0 < 0 || fd1 < 0 || fd2 < 0)
            _exit(126);
        dup2(fd0, 0);
        dup2(fd1, 1);
        dup2(fd2, 2);
        unsetenv("TERM");
        unsetenv("ORDERBUS_ENDPOINT");
        unsetenv("ORDERBUS_CERT");
        unsetenv("ORDERBUS_BROKER_CERT");
        execv(monitor, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits for the monitor pid (up to T_RUN_MS, then kills it and fails), fills fx->status,
   out and err. Returns the exit status. */
static int
s_finish(t_fx *fx, pid_t pid)
{
    int status = 0;
    int64_t deadline = zclock_mono() + T_RUN_MS;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && zclock_mono() < deadline)
        zclock_sleep(10); /* polling the child's exit, the condition itself */
    if (done == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("orderbus-monitor did not finish within %d ms", T_RUN_MS);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/stdout", fx->dir);
    s_slurp(path, fx->out);
    snprintf(path, sizeof path, "%s/stderr", fx->dir);
    s_slurp(path, fx->err);
    assert_true(WIFEXITED(status));
    fx->status = WEXITSTATUS(status);
    return fx->status;
}

/* Runs the monitor with ARGS... (NULL-terminated) to its end: s_spawn_v then s_finish. */
static int
s_run(t_fx *fx, const char *stdin_text, ...)
{
    va_list ap;
    va_start(ap, stdin_text);
    pid_t pid = s_spawn_v(fx, stdin_text, ap);
    va_end(ap);
    return s_finish(fx, pid);
}

/* Starts the monitor with ARGS... (NULL-terminated) and returns its pid (see s_finish). */
static pid_t
s_spawn(t_fx *fx, const char *stdin_text, ...)
{
    va_list ap;
    va_start(ap, stdin_text);
    pid_t pid = s_spawn_v(fx, stdin_text, ap);
    va_end(ap);
    return pid;
}

/* Asserts that the last run's output holds text. */
static void
s_out_has(t_fx *fx, const char *text)
{
    if (!strstr(fx->out, text))
        fail_msg("stdout lacks \"%s\":\n%s\nstderr:\n%s", text, fx->out, fx->err);
}

static void
s_err_has(t_fx *fx, const char *text)
{
    if (!strstr(fx->err, text))
        fail_msg("stderr lacks \"%s\":\n%s", text, fx->err);
}

/* Returns the last run's output parsed as JSON (the caller decrefs). */
static json_t *
s_json(t_fx *fx)
{
    json_error_t jerr;
    json_t *v = json_loads(fx->out, 0, &jerr);
    if (!v)
        fail_msg("not JSON (%s):\n%s", jerr.text, fx->out);
    return v;
}

/* Returns the line of the last output that starts with prefix, copied into line. */
static int
s_line(t_fx *fx, const char *prefix, char *line, size_t cap)
{
    size_t plen = strlen(prefix);
    for (const char *p = fx->out; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len >= plen && !strncmp(p, prefix, plen)) {
            snprintf(line, cap, "%.*s", (int)len, p);
            return 0;
        }
        p += len + (nl ? 1 : 0);
    }
    fail_msg("no line starting with \"%s\" in:\n%s", prefix, fx->out);
    return -1;
}

/* Splits line into whitespace-separated words (at most max) in place. Returns the count. */
static int
s_words(char *line, char **words, int max)
{
    int n = 0;
    for (char *tok = strtok(line, " "); tok && n < max; tok = strtok(NULL, " "))
        words[n++] = tok;
    return n;
}

/* --- fixture ------------------------------------------------------------------------------ */

static int
s_setup(void **state)
{
    t_fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->dir = broker_proc_scratch("monitor");
    assert_non_null(fx->dir);
    snprintf(fx->data, sizeof fx->data, "%s/data", fx->dir);
    snprintf(fx->endpoint, sizeof fx->endpoint, "%s", BROKER_PROC_EPHEMERAL);
    fx->broker = broker_proc_start(fx->data, fx->endpoint, "--config",
                                   OB_SOURCE_DIR "/deploy/orderbus-broker.cfg",
                                   "--retention-max-events", "1000", NULL);
    assert_true(fx->broker > 0);
    ob_client_config_t cfg = {.name = "test-monitor", .timeout_ms = 5000};
    fx->client = ob_client_new(fx->endpoint, &cfg);
    assert_non_null(fx->client);
    assert_int_equal(ob_client_connect(fx->client, 5000), 0);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fx *fx = *state;
    ob_client_destroy(&fx->client);
    if (fx->broker > 0)
        broker_proc_stop(fx->broker, SIGTERM);
    broker_proc_remove(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static uint64_t
s_now_us(void)
{
    return (uint64_t)zclock_time() * 1000;
}

/* Publishes an event of type to topic with the in-process client; returns its seq. */
static uint64_t
s_publish(t_fx *fx, const char *topic, const char *id, const char *type)
{
    ob_event_t e = {.id = id, .topic = topic, .type = type, .time_us = s_now_us()};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(fx->client, &e, &confirm), 0);
    return confirm.seq;
}

/* Subscribes fx->client to the durable subscription name on pattern. */
static void
s_subscribe(t_fx *fx, const char *name, const char *pattern, ob_start_t start,
            uint32_t max_attempts)
{
    const char *patterns[] = {pattern};
    ob_sub_options_t opts = {.patterns = patterns,
                             .pattern_count = 1,
                             .start = start,
                             .ack_wait_ms = 0, /* the default, 30 s: no redelivery races
                                                  with the checks of pending */
                             .max_attempts = max_attempts,
                             .backoff_ms = 1};
    assert_int_equal(ob_client_subscribe(fx->client, name, &opts, NULL, NULL), 0);
}

/* Receives the next delivery (waiting up to T_WAIT_MS); the caller destroys it. */
static ob_delivery_t *
s_receive(t_fx *fx)
{
    ob_delivery_t *d = NULL;
    int rc = ob_client_receive(fx->client, T_WAIT_MS, &d);
    if (rc)
        fail_msg("receive: %s", ob_strerror(rc));
    return d;
}

/* Runs `sub name --json` until its lag is want, up to T_WAIT_MS. */
static void
s_wait_lag(t_fx *fx, const char *name, uint64_t want)
{
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    for (;;) {
        assert_int_equal(s_run(fx, NULL, "sub", name, "--json", NULL), 0);
        json_t *v = s_json(fx);
        json_int_t lag = json_integer_value(json_object_get(v, "lag"));
        json_decref(v);
        if ((uint64_t)lag == want)
            return;
        if (zclock_mono() > deadline)
            fail_msg("lag of %s stays %lld, not %" PRIu64, name, (long long)lag, want);
        /* Keep the client's session alive meanwhile (acks are applied at the broker). */
        ob_delivery_t *d = NULL;
        ob_client_receive(fx->client, 50, &d);
        ob_delivery_destroy(&d);
    }
}

/* --- tests -------------------------------------------------------------------------------- */

/* Usage errors are 2 and name the problem; --help is 0 and man-page-like. */
static void
test_usage(void **state)
{
    t_fx *fx = *state;
    assert_int_equal(s_run(fx, NULL, NULL), 2);
    s_err_has(fx, "a COMMAND expected");
    assert_int_equal(s_run(fx, NULL, "frobnicate", NULL), 2);
    s_err_has(fx, "unknown command");
    assert_int_equal(s_run(fx, NULL, "show", "oms.1", "abc", NULL), 2);
    s_err_has(fx, "SEQ");
    assert_int_equal(s_run(fx, NULL, "topics", "--interval", "x", NULL), 2);
    assert_int_equal(s_run(fx, NULL, "tail", "oms.a*", NULL), 2);
    s_err_has(fx, "invalid topic pattern");
    assert_int_equal(s_run(fx, NULL, "publish", "oms.1", "{\"type\": 5}", NULL), 2);
    s_err_has(fx, "OB_ERR_FIELD_TYPE");
    assert_int_equal(s_run(fx, NULL, "publish", "oms.1", "{\"type\": \"a\", \"x\": 1}", NULL), 2);
    s_err_has(fx, "unknown key");
    /* reposition without a terminal and without --yes refuses */
    assert_int_equal(s_run(fx, NULL, "reposition", "billing", "--seq", "1", NULL), 2);
    s_err_has(fx, "--yes");
    assert_int_equal(s_run(fx, NULL, "reposition", "billing", "--seq", "1", "--new", "--yes", NULL),
                     2);

    /* CURVE: both certificates or neither; an unreadable one is named */
    assert_int_equal(s_run(fx, NULL, "--cert", "/nonexistent.cert", "topics", NULL), 2);
    s_err_has(fx, "--broker-cert");
    assert_int_equal(s_run(fx, NULL, "topics", "--cert", "/nonexistent.cert", "--broker-cert",
                           "/nonexistent-broker.cert", NULL),
                     2);
    s_err_has(fx, "certificate");

    assert_int_equal(s_run(fx, NULL, "--help", NULL), 0);
    s_out_has(fx, "EXIT STATUS");
    s_out_has(fx, "reposition");
    static const char *const cmds[] = {"topics", "subs",       "sub",     "tail", "show",
                                       "dlq",    "reposition", "publish", "top"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        assert_int_equal(s_run(fx, NULL, cmds[i], "--help", NULL), 0);
        s_out_has(fx, "SYNOPSIS");
        s_out_has(fx, "EXIT STATUS");
        s_out_has(fx, "EXAMPLES");
    }
}

/* A stopped broker: exit 4 and a message that says so. */
static void
test_unreachable(void **state)
{
    t_fx *fx = *state;
    assert_int_equal(broker_proc_stop(fx->broker, SIGTERM) >= 0, 1);
    fx->broker = 0;
    assert_int_equal(s_run(fx, NULL, "--timeout", "300", "topics", NULL), 4);
    s_err_has(fx, "unreachable");
    s_err_has(fx, "OB_ERR_TIMEOUT");
    s_err_has(fx, fx->endpoint);
    assert_int_equal(s_run(fx, NULL, "subs", "--timeout", "300", NULL), 4);
    assert_int_equal(s_run(fx, NULL, "show", "oms.1", "1", "--timeout", "300", NULL), 4);
}

/* publish prints topic, seq and dup; show prints the event whole, and as JSON. */
static void
test_publish_show(void **state)
{
    t_fx *fx = *state;
    const char *event = "{\"id\": \"pi-7-3\", \"type\": \"project_item.created\", "
                        "\"oms_id\": 1, \"project_id\": 7, \"project_item_id\": 3, "
                        "\"time\": \"2026-11-29T10:00:00.5Z\", "
                        "\"changes\": [{\"field\": \"status\", \"before\": null, "
                        "\"after\": \"ready\"}], \"data\": {\"status\": \"ready\"}}";
    assert_int_equal(s_run(fx, NULL, "publish", "oms.1", event, NULL), 0);
    char line[512];
    char *w[8];
    s_line(fx, "TOPIC", line, sizeof line);
    assert_int_equal(s_words(line, w, 8), 4);
    assert_string_equal(w[0], "TOPIC");
    assert_string_equal(w[1], "SEQ");
    assert_string_equal(w[2], "DUP");
    assert_string_equal(w[3], "ID");
    s_line(fx, "oms.1", line, sizeof line);
    assert_int_equal(s_words(line, w, 8), 4);
    assert_string_equal(w[1], "1");
    assert_string_equal(w[2], "no");
    assert_string_equal(w[3], "pi-7-3");

    /* the same id again: a duplicate, reported, same seq */
    assert_int_equal(s_run(fx, NULL, "publish", "oms.1", event, "--json", NULL), 0);
    json_t *v = s_json(fx);
    assert_int_equal(json_integer_value(json_object_get(v, "seq")), 1);
    assert_true(json_is_true(json_object_get(v, "dup")));
    json_decref(v);
    s_err_has(fx, "duplicate");

    /* from standard input, with a generated id */
    assert_int_equal(s_run(fx, "{\"type\": \"message.posted\", \"data\": \"hi\"}", "publish",
                           "oms.1", "--json", NULL),
                     0);
    v = s_json(fx);
    assert_int_equal(json_integer_value(json_object_get(v, "seq")), 2);
    assert_false(json_is_true(json_object_get(v, "dup")));
    assert_int_equal(strlen(json_string_value(json_object_get(v, "id"))), 32);
    json_decref(v);

    assert_int_equal(s_run(fx, NULL, "show", "oms.1", "1", NULL), 0);
    s_out_has(fx, "topic:           oms.1\n");
    s_out_has(fx, "seq:             1\n");
    s_out_has(fx, "id:              pi-7-3\n");
    s_out_has(fx, "type:            project_item.created\n");
    s_out_has(fx, "time:            2026-11-29T10:00:00.500000Z\n");
    s_out_has(fx, "project_id:      7\n");
    s_out_has(fx, "  status: (none) -> ready\n");
    s_out_has(fx, "\"status\": \"ready\"");

    assert_int_equal(s_run(fx, NULL, "show", "oms.1", "1", "--json", NULL), 0);
    v = s_json(fx);
    assert_string_equal(json_string_value(json_object_get(v, "topic")), "oms.1");
    assert_int_equal(json_integer_value(json_object_get(v, "seq")), 1);
    json_t *e = json_object_get(v, "event");
    assert_string_equal(json_string_value(json_object_get(e, "id")), "pi-7-3");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "project_item.created");
    assert_int_equal(json_integer_value(json_object_get(e, "project_item_id")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "data"), "status")),
                        "ready");
    json_decref(v);
}

/* Unknown topic, seq and subscription: exit 3 with the error's name and the broker's
   reason. */
static void
test_not_found(void **state)
{
    t_fx *fx = *state;
    s_publish(fx, "oms.1", "a", "message.posted");
    assert_int_equal(s_run(fx, NULL, "show", "oms.none", "1", NULL), 3);
    s_err_has(fx, "OB_ERR_NO_SUCH_TOPIC");
    assert_int_equal(s_run(fx, NULL, "show", "oms.1", "99", NULL), 3);
    s_err_has(fx, "no event 99");
    assert_int_equal(s_run(fx, NULL, "sub", "nosuch", NULL), 3);
    s_err_has(fx, "OB_ERR_NO_SUCH_SUBSCRIPTION");
    s_err_has(fx, "SUB_INFO nosuch"); /* the broker's reason (ob_client_last_reason) */
    assert_int_equal(s_run(fx, NULL, "reposition", "nosuch", "--seq", "1", "--yes", NULL), 3);
    assert_int_equal(s_run(fx, NULL, "dlq", "dlq.nosuch", NULL), 3);
    s_err_has(fx, "OB_ERR_NO_SUCH_TOPIC");
    assert_int_equal(s_run(fx, NULL, "dlq", "republish", "dlq.nosuch", "1", NULL), 3);
}

/* topics: the table's columns and values, --json with the retention limits, the rate. */
static void
test_topics(void **state)
{
    t_fx *fx = *state;
    s_publish(fx, "oms.2", "a", "message.posted");
    s_publish(fx, "oms.2", "b", "message.posted");
    s_publish(fx, "oms.2", "c", "message.posted");
    assert_int_equal(s_run(fx, NULL, "topics", "--interval", "0", NULL), 0);
    char line[512];
    char *w[16];
    s_line(fx, "TOPIC", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 8);
    static const char *const heads[] = {"TOPIC", "EVENTS", "FIRST",   "LAST",
                                        "BYTES", "RATE",   "REMOVED", "RETENTION"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(w[i], heads[i]);
    s_line(fx, "oms.2", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 9); /* retention "1000 ev" is two words */
    assert_string_equal(w[1], "3");
    assert_string_equal(w[2], "1");
    assert_string_equal(w[3], "3");
    assert_string_equal(w[5], "-");
    assert_string_equal(w[6], "0");
    assert_string_equal(w[7], "1000");
    assert_string_equal(w[8], "ev");

    assert_int_equal(s_run(fx, NULL, "topics", "--interval", "0", "--json", NULL), 0);
    json_t *v = s_json(fx);
    assert_int_equal(json_array_size(v), 1);
    json_t *t = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(t, "name")), "oms.2");
    assert_int_equal(json_integer_value(json_object_get(t, "events")), 3);
    assert_int_equal(json_integer_value(json_object_get(t, "last_seq")), 3);
    assert_true(json_integer_value(json_object_get(t, "bytes")) > 0);
    assert_true(json_is_null(json_object_get(t, "rate")));
    assert_int_equal(json_integer_value(json_object_get(t, "max_events")), 1000);
    assert_int_equal(json_integer_value(json_object_get(t, "max_age_ms")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "max_bytes")), 0);
    json_decref(v);

    /* with a sample: a number (0 here: nothing is published meanwhile) */
    assert_int_equal(s_run(fx, NULL, "--json", "topics", "--interval", "100", NULL), 0);
    v = s_json(fx);
    assert_true(json_is_number(json_object_get(json_array_get(v, 0), "rate")));
    json_decref(v);
}

/* subs and sub show the lag in events and seconds; it falls after acks; reposition makes
   the subscriber see the events again. */
static void
test_subs_reposition(void **state)
{
    t_fx *fx = *state;
    s_subscribe(fx, "billing", "oms.3", OB_START_EARLIEST, 0);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "e%d", i);
        s_publish(fx, "oms.3", id, "project_item.created");
    }
    /* Take the deliveries but do not ack yet: lag 3. */
    ob_delivery_t *d[3];
    for (int i = 0; i < 3; i++)
        d[i] = s_receive(fx);
    s_wait_lag(fx, "billing", 3);

    assert_int_equal(s_run(fx, NULL, "subs", NULL), 0);
    char line[512];
    char *w[16];
    s_line(fx, "SUB", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 10);
    assert_string_equal(w[1], "PATTERNS");
    assert_string_equal(w[8], "LAG");
    assert_string_equal(w[9], "LAG_S");
    s_line(fx, "billing", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 10);
    assert_string_equal(w[1], "oms.3");
    assert_string_equal(w[2], "*");
    assert_string_equal(w[3], "1"); /* consumers */
    assert_string_equal(w[4], "3"); /* pending */
    assert_string_equal(w[8], "3"); /* lag */
    assert_string_not_equal(w[9], "-");

    assert_int_equal(s_run(fx, NULL, "sub", "billing", "--json", NULL), 0);
    json_t *v = s_json(fx);
    assert_string_equal(json_string_value(json_object_get(v, "sub")), "billing");
    assert_string_equal(json_string_value(json_object_get(v, "owner")), ""); /* plaintext */
    assert_int_equal(json_integer_value(json_object_get(v, "pending")), 3);
    assert_true(json_is_number(json_object_get(v, "lag_seconds")));
    /* in milliseconds, printed as such: 2.778, never 2.7775120000000002 */
    int printed = 0;
    for (const char *ls = strstr(fx->out, "\"lag_seconds\": "); ls;
         ls = strstr(ls + 1, "\"lag_seconds\": ")) {
        const char *num = ls + strlen("\"lag_seconds\": ");
        size_t whole = strspn(num, "0123456789");
        size_t frac = num[whole] == '.' ? strspn(num + whole + 1, "0123456789") : 0;
        if (whole == 0 || frac > 3)
            fail_msg("lag_seconds printed as %.24s", num);
        printed++;
    }
    assert_int_equal(printed, 2); /* the subscription's and its position's */
    json_t *p = json_array_get(json_object_get(v, "positions"), 0);
    assert_string_equal(json_string_value(json_object_get(p, "topic")), "oms.3");
    assert_int_equal(json_integer_value(json_object_get(p, "ack_floor")), 0);
    assert_int_equal(json_integer_value(json_object_get(p, "lag")), 3);
    json_decref(v);
    assert_int_equal(s_run(fx, NULL, "sub", "billing", NULL), 0);
    s_out_has(fx, "patterns:      oms.3\n");
    s_out_has(fx, "owner:         -\n");
    s_out_has(fx, "lag:           3\n");

    /* Ack them: the lag falls to 0. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ob_client_ack(fx->client, d[i]), 0);
        ob_delivery_destroy(&d[i]);
    }
    s_wait_lag(fx, "billing", 0);
    assert_int_equal(s_run(fx, NULL, "sub", "billing", "--json", NULL), 0);
    v = s_json(fx);
    assert_true(json_is_null(json_object_get(v, "lag_seconds")));
    json_decref(v);

    /* Back to seq 2: events 2 and 3 come again. */
    assert_int_equal(s_run(fx, NULL, "reposition", "billing", "--seq", "2", "--yes", NULL), 0);
    s_out_has(fx, "repositioned billing on 1 topics to seq 2");
    uint64_t seen = 0;
    for (int i = 0; i < 2; i++) {
        ob_delivery_t *r = s_receive(fx);
        assert_string_equal(r->topic, "oms.3");
        assert_true(r->seq == 2 || r->seq == 3);
        seen |= 1u << r->seq;
        assert_int_equal(ob_client_ack(fx->client, r), 0);
        ob_delivery_destroy(&r);
    }
    assert_int_equal(seen, (1u << 2) | (1u << 3));

    /* --earliest by JSON: all three again. */
    assert_int_equal(
        s_run(fx, NULL, "--json", "reposition", "billing", "--earliest", "--yes", NULL), 0);
    v = s_json(fx);
    assert_string_equal(json_string_value(json_object_get(v, "start")), "earliest");
    assert_int_equal(json_integer_value(json_object_get(v, "topics")), 1);
    json_decref(v);
    for (int i = 0; i < 3; i++) {
        ob_delivery_t *r = s_receive(fx);
        assert_true(r->seq >= 1 && r->seq <= 3);
        ob_client_ack(fx->client, r);
        ob_delivery_destroy(&r);
    }
}

/* tail --count: one line per event, or NDJSON. */
static void
test_tail(void **state)
{
    t_fx *fx = *state;
    s_publish(fx, "oms.4", "t1", "project_item.created");
    s_publish(fx, "oms.4", "t2", "project_item.status_changed");
    s_publish(fx, "oms.9", "t3", "project_item.created");
    assert_int_equal(s_run(fx, NULL, "tail", "--from", "earliest", "--count", "2", "oms.4", NULL),
                     0);
    s_out_has(fx, " oms.4 #1 project_item.created t1");
    s_out_has(fx, " oms.4 #2 project_item.status_changed t2");
    assert_null(strstr(fx->out, "oms.9"));

    assert_int_equal(
        s_run(fx, NULL, "tail", "--json", "--from", "2", "--count", "1", "oms.4", NULL), 0);
    json_t *v = s_json(fx);
    assert_int_equal(json_integer_value(json_object_get(v, "seq")), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "event"), "id")),
                        "t2");
    json_decref(v);

    /* --type filters, a relative --from covers events of the last minute */
    assert_int_equal(s_run(fx, NULL, "tail", "--from", "-1m", "--type", "project_item.created",
                           "--count", "2", "oms.*", NULL),
                     0);
    s_out_has(fx, "oms.4 #1 project_item.created t1");
    s_out_has(fx, "oms.9 #1 project_item.created t3");
    assert_null(strstr(fx->out, "status_changed"));
}

/* Returns the number of lines of text that name topic, and checks that they are its events
   #1, #2, ... in order, each once. */
static int
s_tail_lines(const char *text, const char *topic)
{
    char mark[64];
    snprintf(mark, sizeof mark, " %s #", topic);
    int n = 0;
    for (const char *p = strstr(text, mark); p; p = strstr(p, mark)) {
        p += strlen(mark);
        if (strtoull(p, NULL, 10) != (unsigned long long)n + 1)
            fail_msg("line %d of tail is #%.12s", n + 1, p);
        n++;
    }
    return n;
}

/* The broker's count of requests of command (its metrics, README "Metrics"). */
static double
s_requests(t_fx *fx, const char *command)
{
    char url[BROKER_PROC_URL_MAX], series[T_ARGS_MAX + 64];
    assert_int_equal(broker_proc_metrics_url(fx->data, url, sizeof url), 0);
    char *text = NULL;
    assert_int_equal(broker_proc_http(url, "GET", "/metrics", &text), 0);
    snprintf(series, sizeof series, "orderbus_requests_total{command=\"%s\"}", command);
    double n = broker_proc_metric(text, series);
    free(text);
    return n == BROKER_PROC_MISSING ? 0 : n;
}

/* tail --from earliest reads a backlog longer than one FETCH range in one request per
   range (not one per event: no delivery, no ack), then goes on live: every event once, in
   order, none lost at the hand-over. */
static void
test_tail_backlog_then_live(void **state)
{
    t_fx *fx = *state;
    enum { BACKLOG = OB_FETCH_RANGE_MAX + 44, LIVE = 2 };
    enum { RANGES = (BACKLOG + OB_FETCH_RANGE_MAX - 1) / OB_FETCH_RANGE_MAX };
    char id[32];
    for (int i = 0; i < BACKLOG; i++) {
        snprintf(id, sizeof id, "b%d", i);
        s_publish(fx, "oms.6", id, "message.posted");
    }
    char *main_dir = fx->dir;
    char tail_dir[600];
    snprintf(tail_dir, sizeof tail_dir, "%s/backlog", main_dir);
    assert_int_equal(mkdir(tail_dir, 0700), 0);
    fx->dir = tail_dir;
    char count[16];
    snprintf(count, sizeof count, "%d", BACKLOG + LIVE);
    pid_t pid = s_spawn(fx, NULL, "tail", "--from", "earliest", "--count", count, "oms.6", NULL);
    fx->dir = main_dir;
    char out_path[700];
    snprintf(out_path, sizeof out_path, "%s/stdout", tail_dir);
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    for (;;) {
        s_slurp(out_path, fx->out);
        if (s_tail_lines(fx->out, "oms.6") == BACKLOG)
            break;
        if (zclock_mono() > deadline)
            fail_msg("tail printed %d of the backlog", s_tail_lines(fx->out, "oms.6"));
        zclock_sleep(10); /* polling the output file, the condition itself */
    }
    /* counted before each answer went, so final once the backlog is printed */
    assert_true(s_requests(fx, "FETCH") == RANGES);
    for (int i = 0; i < LIVE; i++) {
        snprintf(id, sizeof id, "l%d", i);
        s_publish(fx, "oms.6", id, "message.posted");
    }
    fx->dir = tail_dir;
    assert_int_equal(s_finish(fx, pid), 0); /* exits after --count events */
    fx->dir = main_dir;
    assert_int_equal(s_tail_lines(fx->out, "oms.6"), BACKLOG + LIVE);
    s_out_has(fx, " message.posted l1");
}

/* Returns the number of subscriptions the broker lists (subs --json). */
static size_t
s_sub_count(t_fx *fx)
{
    assert_int_equal(s_run(fx, NULL, "subs", "--json", NULL), 0);
    json_t *v = s_json(fx);
    size_t n = json_array_size(v);
    json_decref(v);
    return n;
}

/* tail without --count runs until SIGINT (or SIGTERM), exits 0 having printed what came, and
   its ephemeral subscription is gone with it. */
static void
test_tail_until_signal(void **state)
{
    t_fx *fx = *state;
    static const int sigs[] = {SIGINT, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "oms.sig%zu", i);
        s_publish(fx, topic, "before", "message.posted");
        /* s_spawn writes fx->dir/stdout: the subs runs below must not share it */
        char *main_dir = fx->dir;
        char tail_dir[600];
        snprintf(tail_dir, sizeof tail_dir, "%s/tail%zu", main_dir, i);
        assert_int_equal(mkdir(tail_dir, 0700), 0);
        fx->dir = tail_dir;
        pid_t pid = s_spawn(fx, NULL, "tail", "--from", "earliest", topic, NULL);
        fx->dir = main_dir;
        /* Wait until it has printed the event (it is subscribed and running), and check
           that the broker lists its subscription. */
        char out_path[700];
        snprintf(out_path, sizeof out_path, "%s/stdout", tail_dir);
        int64_t deadline = zclock_mono() + T_WAIT_MS;
        for (;;) {
            s_slurp(out_path, fx->out);
            if (strstr(fx->out, "before"))
                break;
            if (zclock_mono() > deadline)
                fail_msg("tail printed nothing: %s", fx->out);
            zclock_sleep(10); /* polling the output file, the condition itself */
        }
        assert_int_equal(s_sub_count(fx), 1);
        kill(pid, sigs[i]);
        fx->dir = tail_dir;
        assert_int_equal(s_finish(fx, pid), 0);
        fx->dir = main_dir;
        s_out_has(fx, " #1 message.posted before");
        /* its ephemeral subscription went with it (unsubscribed, not left to expire) */
        assert_int_equal(s_sub_count(fx), 0);
    }
}

/* dlq lists dead-letter topics and letters; republish stores the original under a new
   deterministic id, and a second republish is a duplicate. */
static void
test_dlq(void **state)
{
    t_fx *fx = *state;
    s_subscribe(fx, "fails", "oms.5", OB_START_EARLIEST, 1);
    s_publish(fx, "oms.5", "orig-1", "project_item.created");
    ob_delivery_t *d = s_receive(fx);
    assert_int_equal(ob_client_nack(fx->client, d, 0), 0); /* attempt 1 of 1: dead letter */
    ob_delivery_destroy(&d);
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    while (s_run(fx, NULL, "dlq", "dlq.fails", NULL) != 0 || !strstr(fx->out, "orig-1")) {
        if (zclock_mono() > deadline)
            fail_msg("no dead letter: %s %s", fx->out, fx->err);
        ob_client_receive(fx->client, 50, &d);
        ob_delivery_destroy(&d);
    }
    char line[512];
    char *w[16];
    s_line(fx, "SEQ", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 9);
    assert_string_equal(w[7], "REASON");
    s_line(fx, "  1", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 9);
    assert_string_equal(w[0], "1");
    assert_string_equal(w[2], "fails");
    assert_string_equal(w[3], "oms.5");
    assert_string_equal(w[4], "1");
    assert_string_equal(w[5], "orig-1");
    assert_string_equal(w[6], "project_item.created");
    assert_string_equal(w[7], "max_attempts");
    assert_string_equal(w[8], "1");

    assert_int_equal(s_run(fx, NULL, "dlq", NULL), 0);
    s_line(fx, "dlq.fails", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 5);
    assert_string_equal(w[1], "1");
    assert_int_equal(s_run(fx, NULL, "dlq", "--json", NULL), 0);
    json_t *v = s_json(fx);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "topic")),
                        "dlq.fails");
    json_decref(v);

    assert_int_equal(s_run(fx, NULL, "dlq", "republish", "dlq.fails", "1", "--json", NULL), 0);
    v = s_json(fx);
    assert_string_equal(json_string_value(json_object_get(v, "topic")), "oms.5");
    assert_int_equal(json_integer_value(json_object_get(v, "seq")), 2);
    assert_false(json_is_true(json_object_get(v, "dup")));
    assert_string_equal(json_string_value(json_object_get(v, "id")), "retry-dlq.fails-1");
    json_decref(v);
    assert_int_equal(s_run(fx, NULL, "dlq", "republish", "dlq.fails", "1", NULL), 0);
    s_line(fx, "oms.5", line, sizeof line);
    assert_int_equal(s_words(line, w, 16), 4);
    assert_string_equal(w[1], "2");
    assert_string_equal(w[2], "yes");
    s_err_has(fx, "duplicate");

    assert_int_equal(s_run(fx, NULL, "show", "oms.5", "2", "--json", NULL), 0);
    v = s_json(fx);
    json_t *e = json_object_get(v, "event");
    assert_string_equal(json_string_value(json_object_get(e, "id")), "retry-dlq.fails-1");
    assert_string_equal(json_string_value(json_object_get(e, "type")), "project_item.created");
    json_decref(v);
    /* the subscription gets the republished event (it is not the dead-letter topic's) */
    d = s_receive(fx);
    assert_string_equal(d->topic, "oms.5");
    assert_int_equal(d->seq, 2);
    ob_client_ack(fx->client, d);
    ob_delivery_destroy(&d);
}

/* top --iterations 1 without a terminal fits 80 x 24, however many topics there are. */
static void
test_top(void **state)
{
    t_fx *fx = *state;
    s_subscribe(fx, "watcher", "oms.>", OB_START_NEW, 0);
    for (int i = 0; i < 40; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "oms.top.%02d", i);
        s_publish(fx, topic, "x", "message.posted");
    }
    assert_int_equal(s_run(fx, NULL, "top", "--iterations", "1", "--interval", "100", NULL), 0);
    int lines = 0;
    for (const char *p = fx->out; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        size_t width = 0;
        for (const char *q = p; q < nl; q++) {
            assert_true((unsigned char)*q >= 0x20); /* no escape codes without a terminal */
            if (((unsigned char)*q & 0xc0) != 0x80)
                width++;
        }
        if (width > T_SCREEN_COLS)
            fail_msg("line %d is %zu columns: %.*s", lines + 1, width, (int)(nl - p), p);
        lines++;
        p = nl + 1;
    }
    assert_true(lines <= T_SCREEN_ROWS);
    assert_true(lines >= 10);
    s_out_has(fx, "TOPIC");
    s_out_has(fx, "SUB");
    s_out_has(fx, "watcher");
    s_out_has(fx, "oms.top.");

    assert_int_equal(
        s_run(fx, NULL, "top", "--iterations", "1", "--interval", "100", "--json", NULL), 0);
    json_t *v = s_json(fx);
    assert_int_equal(json_array_size(json_object_get(v, "topics")), 40);
    assert_int_equal(json_array_size(json_object_get(v, "subs")), 1);
    json_decref(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unreachable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_publish_show, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_topics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_subs_reposition, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_until_signal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tail_backlog_then_live, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dlq, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_top, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
