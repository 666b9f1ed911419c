/*  The broker's Prometheus metrics (README "Metrics") on a real orderbus-broker process:
    the counters move by what a client does (publishes, duplicates, refusals, requests,
    deliveries, acks, nacks, redeliveries, dead letters), the per-subscription gauges name the
    subscriptions, only GET /metrics is served, the text passes `promtool check metrics`
    (OB_PROMTOOL, set by CTest when Debian's prometheus is installed), and a broker with
    metrics off, or whose metrics port is taken, listens on nothing but its ZeroMQ endpoint.

    Counters that the broker copies in once a second (broker_metrics.h) are waited for by
    scraping again until they reach the value or T_WAIT_MS passes. */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"

#define T_WAIT_MS 10000  /* the longest wait for a reply, a delivery, a refresh */
#define T_SCRAPE_MS 50   /* between scrapes while waiting for a refresh */
#define T_EVENTS 20      /* events published */
#define T_PATH_MAX 512   /* bytes in a path */
#define T_SERIES_MAX 256 /* bytes in a series name with its labels */
#define T_TOPIC "mx.1"   /* the topic published to */

/* One HTTP exchange. */
typedef struct t_reply {
    int status; /* HTTP status */
    char *text; /* the whole response, headers and body, NUL-terminated; owned */
    char *body; /* in text, after the blank line */
} t_reply_t;

/* Sends `method path` to the host and port of url (http://HOST:PORT/metrics) over HTTP/1.0
   and reads the response until the server closes (broker_proc_http). */
static t_reply_t
s_http(const char *url, const char *method, const char *path)
{
    t_reply_t reply = {0};
    assert_int_equal(broker_proc_http(url, method, path, &reply.text), 0);
    assert_int_equal(sscanf(reply.text, "HTTP/1.%*d %d", &reply.status), 1);
    char *blank = strstr(reply.text, "\r\n\r\n");
    assert_non_null(blank);
    reply.body = blank + 4;
    return reply;
}

/* GET /metrics: the body (the caller frees reply.text). */
static t_reply_t
s_scrape(const char *url)
{
    t_reply_t reply = s_http(url, "GET", "/metrics");
    assert_int_equal(reply.status, 200);
    assert_non_null(strcasestr(reply.text, "Content-Type: text/plain; version=0.0.4"));
    return reply;
}

/* Scrapes once: the value of series. */
static double
s_get(const char *url, const char *series)
{
    t_reply_t reply = s_scrape(url);
    double value = broker_proc_metric(reply.body, series);
    free(reply.text);
    return value;
}

/* Scrapes until series has the value want (at_least: want or more), or T_WAIT_MS passes;
   returns the last value. */
static double
s_wait_for(const char *url, const char *series, double want, int at_least)
{
    int64_t deadline = zclock_mono() + T_WAIT_MS;
    double value = s_get(url, series);
    while ((at_least ? value < want : value != want) && zclock_mono() < deadline) {
        zclock_sleep(T_SCRAPE_MS); /* the refresh is time-driven: nothing to wait on */
        value = s_get(url, series);
    }
    if (at_least ? value < want : value != want)
        print_error("%s: %g, expected %s%g\n", series, value, at_least ? "at least " : "", want);
    return value;
}

/* Scrapes until series has the value want, or T_WAIT_MS passes; returns the last value. */
static double
s_wait(const char *url, const char *series, double want)
{
    return s_wait_for(url, series, want, 0);
}

/* The number of listening TCP sockets (IPv4 and IPv6) that process pid holds. */
static int
s_listeners(pid_t pid)
{
    static const char *const tables[] = {"tcp", "tcp6"};
    char path[T_PATH_MAX];
    zhashx_t *listening = zhashx_new(); /* socket inode -> itself */
    assert_non_null(listening);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        snprintf(path, sizeof path, "/proc/%d/net/%s", (int)pid, tables[t]);
        FILE *file = fopen(path, "r");
        if (!file)
            continue; /* no IPv6 */
        char line[T_PATH_MAX];
        while (fgets(line, sizeof line, file)) {
            unsigned state = 0;
            char inode[32];
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %31s", &state, inode) == 2 &&
                state == 0x0A) /* TCP_LISTEN */
                zhashx_insert(listening, inode, listening);
        }
        fclose(file);
    }
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *dir = opendir(path);
    assert_non_null(dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        char link[2 * T_PATH_MAX], target[T_PATH_MAX];
        snprintf(link, sizeof link, "%s/%s", path, entry->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        char inode[32];
        if (sscanf(target, "socket:[%31[0-9]]", inode) == 1 && zhashx_lookup(listening, inode))
            count++;
    }
    closedir(dir);
    zhashx_destroy(&listening);
    return count;
}

/* Publishes event id on T_TOPIC; returns the outcome. */
static int
s_publish(ob_client_t *client, const char *id, ob_confirm_t *confirm)
{
    static const uint8_t data[] = "{\"state\":\"ready\"}";
    ob_event_t ev = {.id = id,
                     .topic = T_TOPIC,
                     .type = "project_item.updated",
                     .data = data,
                     .data_len = sizeof data - 1};
    return ob_client_publish(client, &ev, confirm);
}

/* Subscribes client to name from the earliest event, with credit and max_attempts. */
static void
s_subscribe(ob_client_t *client, const char *name, uint32_t credit, uint32_t max_attempts)
{
    const char *patterns[] = {T_TOPIC};
    ob_sub_options_t opts = {.patterns = patterns,
                             .pattern_count = 1,
                             .start = OB_START_EARLIEST,
                             .credit = credit,
                             .max_attempts = max_attempts};
    assert_int_equal(ob_client_subscribe(client, name, &opts, NULL, NULL), 0);
}

/* Runs promtool check metrics on text, if CTest found promtool. */
static void
s_promtool(const char *dir, const char *text)
{
    const char *promtool = getenv("OB_PROMTOOL");
    if (!promtool || !*promtool) {
        print_message("promtool not found (Debian package prometheus): not checked\n");
        return;
    }
    char path[T_PATH_MAX], command[3 * T_PATH_MAX];
    snprintf(path, sizeof path, "%s/scrape.txt", dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(text, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    snprintf(command, sizeof command, "'%s' check metrics < '%s'", promtool, path);
    assert_int_equal(system(command), 0);
}

static void
test_metrics_move(void **state)
{
    (void)state;
    broker_proc_site_t site;
    char url[BROKER_PROC_URL_MAX], id[64];
    assert_int_equal(broker_proc_site_make(&site, "metrics"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    assert_true(broker > 0);
    assert_int_equal(broker_proc_metrics_url(site.data_dir, url, sizeof url), 0);
    assert_int_equal(s_listeners(broker), 2); /* ZeroMQ and HTTP */

    t_reply_t before = s_scrape(url);
    double published = broker_proc_metric(before.body, "orderbus_publishes_total");
    double confirms = broker_proc_metric(before.body, "orderbus_confirms_total");
    double stored = broker_proc_metric(before.body, "orderbus_events_stored_total");
    double bytes = broker_proc_metric(before.body, "orderbus_stored_bytes_total");
    double dups = broker_proc_metric(before.body, "orderbus_duplicates_total");
    assert_true(published >= 0 && confirms >= 0 && stored >= 0 && bytes >= 0 && dups >= 0);
    free(before.text);

    /* The test does not call the clients while it scrapes: no heartbeat may be missed. */
    ob_client_config_t cfg = {
        .name = "metrics", .timeout_ms = T_WAIT_MS, .heartbeat_ms = OB_HEARTBEAT_MS_MAX};
    ob_client_t *client = ob_client_new(site.endpoint, &cfg);
    assert_non_null(client);
    ob_confirm_t confirm;
    for (int i = 0; i < T_EVENTS; i++) {
        snprintf(id, sizeof id, "m-%d", i);
        assert_int_equal(s_publish(client, id, &confirm), 0);
    }
    /* Counted before the CONFIRM went: no wait. */
    t_reply_t after = s_scrape(url);
    assert_true(broker_proc_metric(after.body, "orderbus_publishes_total") == published + T_EVENTS);
    assert_true(broker_proc_metric(after.body, "orderbus_confirms_total") == confirms + T_EVENTS);
    assert_true(broker_proc_metric(after.body, "orderbus_events_stored_total") ==
                stored + T_EVENTS);
    assert_true(broker_proc_metric(after.body, "orderbus_stored_bytes_total") >
                bytes + T_EVENTS * 16);
    free(after.text);

    /* A FETCH of a range is one request for all its events. */
    ob_fetch_t *fetch = NULL;
    assert_int_equal(ob_client_fetch(client, T_TOPIC, 1, 0, T_EVENTS, &fetch), 0);
    assert_int_equal(fetch->count, T_EVENTS);
    ob_fetch_destroy(&fetch);

    /* A duplicate is confirmed, not stored; a publish to a dead-letter topic is refused. */
    assert_int_equal(s_publish(client, "m-0", &confirm), 0);
    assert_int_equal(confirm.dup, 1);
    ob_event_t forbidden = {.id = "f-1", .topic = "dlq.x", .type = "t"};
    assert_int_equal(ob_client_publish(client, &forbidden, &confirm), OB_ERR_FORBIDDEN);
    after = s_scrape(url);
    assert_true(broker_proc_metric(after.body, "orderbus_duplicates_total") == dups + 1);
    assert_true(broker_proc_metric(after.body, "orderbus_events_stored_total") ==
                stored + T_EVENTS);
    assert_true(broker_proc_metric(after.body, "orderbus_publishes_total") ==
                published + T_EVENTS + 2);
    assert_true(broker_proc_metric(after.body, "orderbus_errors_total{code=\"FORBIDDEN\"}") == 1);
    assert_true(broker_proc_metric(after.body, "orderbus_refusals_total{reason=\"FORBIDDEN\"}") ==
                1);
    assert_true(broker_proc_metric(after.body, "orderbus_requests_total{command=\"FETCH\"}") == 1);
    assert_true(broker_proc_metric(after.body, "orderbus_commit_batch_events_count") >= 1);
    assert_true(broker_proc_metric(after.body, "orderbus_commit_duration_seconds_sum") > 0);
    /* the durable write is part of the commit: timed, and within it */
    assert_true(broker_proc_metric(after.body, "orderbus_commit_sync_seconds_count") >= 1);
    assert_true(broker_proc_metric(after.body, "orderbus_commit_sync_seconds_sum") > 0);
    assert_true(broker_proc_metric(after.body, "orderbus_commit_sync_seconds_sum") <=
                broker_proc_metric(after.body, "orderbus_commit_duration_seconds_sum"));
    assert_true(broker_proc_metric(after.body, "orderbus_sessions") >= 0);
    assert_true(broker_proc_metric(after.body, "orderbus_journal_pending_bytes") >= 0);
    assert_true(broker_proc_metric(after.body, "orderbus_journal_replayed_records") == 0);
    assert_true(broker_proc_metric(after.body, "orderbus_checkpoint_failures_total") == 0);
    free(after.text);
    /* the commits are checkpointed behind the journal within 10 ms: seen at a refresh */
    assert_true(s_wait_for(url, "orderbus_checkpoints_total", 1, 1) >= 1);
    assert_true(s_wait(url, "orderbus_sessions", 1) == 1);

    /* A consumer takes every event, nacks the first once and acks the rest. */
    s_subscribe(client, "work", 0, OB_ATTEMPTS_UNLIMITED);
    int acked = 0, nacked = 0;
    while (acked < T_EVENTS) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(client, T_WAIT_MS, &d), 0);
        assert_string_equal(d->sub, "work");
        if (d->seq == 1 && d->attempt == 1) {
            assert_int_equal(ob_client_nack(client, d, 0), 0);
            nacked++;
        } else {
            assert_int_equal(ob_client_ack(client, d), 0);
            acked++;
        }
        ob_delivery_destroy(&d);
    }
    assert_int_equal(nacked, 1);
    assert_true(s_wait(url, "orderbus_deliveries_total", T_EVENTS + 1) == T_EVENTS + 1);
    assert_true(s_wait(url, "orderbus_redeliveries_total", 1) == 1);
    assert_true(s_wait(url, "orderbus_acks_total", T_EVENTS) == T_EVENTS);
    assert_true(s_wait(url, "orderbus_nacks_total", 1) == 1);
    assert_true(s_wait(url, "orderbus_subscription_lag_events{subscription=\"work\"}", 0) == 0);
    assert_true(s_wait(url, "orderbus_subscription_pending{subscription=\"work\"}", 0) == 0);

    /* A subscription of credit 1 that nobody takes from: one pending, all of them lag. */
    ob_client_t *idle = ob_client_new(site.endpoint, &cfg);
    assert_non_null(idle);
    s_subscribe(idle, "idle", 1, OB_ATTEMPTS_UNLIMITED);
    assert_true(s_wait(url, "orderbus_subscription_pending{subscription=\"idle\"}", 1) == 1);
    assert_true(s_wait(url, "orderbus_subscription_lag_events{subscription=\"idle\"}", T_EVENTS) ==
                T_EVENTS);
    assert_true(s_wait(url, "orderbus_subscriptions", 2) == 2);

    /* max_attempts 1: a nack dead-letters the event, which is stored in dlq.once. */
    s_subscribe(client, "once", 1, 1);
    ob_delivery_t *d = NULL;
    do {
        ob_delivery_destroy(&d);
        assert_int_equal(ob_client_receive(client, T_WAIT_MS, &d), 0);
    } while (strcmp(d->sub, "once"));
    assert_int_equal(ob_client_nack(client, d, 0), 0);
    ob_delivery_destroy(&d);
    assert_true(s_wait(url, "orderbus_dead_letters_total", 1) == 1);
    assert_true(s_wait(url, "orderbus_events_stored_total", stored + T_EVENTS + 1) ==
                stored + T_EVENTS + 1);

    /* Nothing else over HTTP. */
    t_reply_t other = s_http(url, "GET", "/other");
    assert_int_equal(other.status, 404);
    free(other.text);
    other = s_http(url, "POST", "/metrics");
    assert_int_equal(other.status, 405);
    assert_non_null(strcasestr(other.text, "Allow: GET, HEAD"));
    free(other.text);
    other = s_http(url, "HEAD", "/metrics");
    assert_int_equal(other.status, 200);
    assert_string_equal(other.body, "");
    free(other.text);

    t_reply_t last = s_scrape(url);
    s_promtool(site.dir, last.body);
    free(last.text);

    ob_client_destroy(&idle);
    ob_client_destroy(&client);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

/* --metrics '': no metrics line in the endpoint file, and no socket but ZeroMQ's. */
static void
test_metrics_off(void **state)
{
    (void)state;
    broker_proc_site_t site;
    char url[BROKER_PROC_URL_MAX];
    assert_int_equal(broker_proc_site_make(&site, "metrics-off"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--metrics", "", NULL);
    assert_true(broker > 0);
    assert_int_equal(broker_proc_metrics_url(site.data_dir, url, sizeof url), -1);
    assert_int_equal(s_listeners(broker), 1);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

/* A metrics port that is taken: the broker serves its clients all the same, without
   metrics (it logs why). */
static void
test_metrics_port_taken(void **state)
{
    (void)state;
    broker_proc_site_t site;
    char url[BROKER_PROC_URL_MAX], address[64];
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    snprintf(address, sizeof address, "127.0.0.1:%u", ntohs(addr.sin_port));

    assert_int_equal(broker_proc_site_make(&site, "metrics-taken"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--metrics", address, NULL);
    assert_true(broker > 0); /* it welcomed a client */
    assert_int_equal(broker_proc_metrics_url(site.data_dir, url, sizeof url), -1);
    assert_int_equal(s_listeners(broker), 1);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
    close(fd);
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_move),
        cmocka_unit_test(test_metrics_off),
        cmocka_unit_test(test_metrics_port_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
