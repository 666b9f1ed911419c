/*  test_broker_metrics: the broker's metrics (broker/broker_metrics.c) and their HTTP listener
    (broker/metrics_http.c), driven directly: each event function moves its metric, the
    refresh copies the subscriptions in (at most OB_BROKER_METRICS_SUBS_MAX series, the rest
    summed, a deleted one's series dropped) no more than once per OB_BROKER_METRICS_REFRESH_MS,
    and the listener answers 200, 404, 405 and refuses a bad or taken address. The
    subscriptions live on a real store in a scratch directory; HTTP goes through libcurl. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <czmq.h>

#include "broker_metrics.h"
#include "command_table.h"
#include "metrics_http.h"
#include "orderbus/orderbus.h"
#include "store.h"
#include "subs.h"

#define T_SUBS (OB_BROKER_METRICS_SUBS_MAX + 2) /* durable subscriptions: two over the cap */
#define T_TIMEOUT_S 10                          /* an HTTP exchange */
#define T_ERR_MAX 256                           /* bytes of an error message */
#define T_LAG_SERIES "\norderbus_subscription_lag_events{subscription=\""

/* Returns the text of m's registry (the caller frees it). */
static char *
s_text(ob_broker_metrics_t *m)
{
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_metrics_write(ob_broker_metrics_registry(m), &text, &len), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

/* Asserts that text holds the line `line` (a series and its value). */
static void
s_has(const char *text, const char *line)
{
    char needle[T_ERR_MAX];
    snprintf(needle, sizeof needle, "\n%s\n", line);
    if (!strstr(text, needle))
        fail_msg("no line '%s' in:\n%s", line, text);
}

/* Counts the lines of text that start with prefix (after a newline). */
static size_t
s_count(const char *text, const char *prefix)
{
    size_t n = 0;
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix))
        n++;
    return n;
}

static void
test_events(void **state)
{
    (void)state;
    /* Without metrics every function does nothing. */
    ob_broker_metrics_publish(NULL);
    ob_broker_metrics_confirm(NULL, 0, 1);
    ob_broker_metrics_stored(NULL, 1);
    ob_broker_metrics_error(NULL, 1);
    ob_broker_metrics_request(NULL, OB_CMD_FETCH);
    ob_broker_metrics_commit(NULL, 1, 0, 1);
    ob_broker_metrics_sync(NULL, 1);
    ob_broker_metrics_refresh(NULL, 0, 1, NULL, NULL);
    assert_null(ob_broker_metrics_registry(NULL));

    ob_broker_metrics_t *m = ob_broker_metrics_new();
    assert_non_null(m);
    for (int i = 0; i < 3; i++)
        ob_broker_metrics_publish(m);
    ob_broker_metrics_confirm(m, 0, 100);
    ob_broker_metrics_confirm(m, 0, 200);
    ob_broker_metrics_confirm(m, 1, 300); /* a duplicate stores nothing */
    ob_broker_metrics_stored(m, 50);      /* a dead letter */
    ob_broker_metrics_error(m, ob_error_to_wire(OB_ERR_FORBIDDEN));
    ob_broker_metrics_error(m, ob_error_to_wire(OB_ERR_LIMIT));
    ob_broker_metrics_error(m, ob_error_to_wire(OB_ERR_LIMIT));
    ob_broker_metrics_error(m, ob_error_to_wire(OB_ERR_MALFORMED));
    ob_broker_metrics_error(m, 0);   /* not a code */
    ob_broker_metrics_error(m, 999); /* nor this */
    ob_broker_metrics_request(m, OB_CMD_FETCH);
    ob_broker_metrics_request(m, OB_CMD_FETCH);
    ob_broker_metrics_request(m, OB_CMD_TOPICS);
    ob_broker_metrics_request(m, 0); /* no command: the server never passes one */
    ob_broker_metrics_commit(m, 5, 0, 1500);
    ob_broker_metrics_commit(m, 0, OB_ERR_STORAGE, 20);
    ob_broker_metrics_sync(m, 1200); /* the first commit's durable write */
    ob_broker_metrics_sync(m, -1);   /* the failed one wrote nothing: not observed */
    ob_broker_metrics_refresh(m, 0, 7, NULL, NULL);
    char *text = s_text(m);
    s_has(text, "orderbus_publishes_total 3");
    s_has(text, "orderbus_confirms_total 3");
    s_has(text, "orderbus_duplicates_total 1");
    s_has(text, "orderbus_events_stored_total 3");
    s_has(text, "orderbus_stored_bytes_total 350");
    s_has(text, "orderbus_errors_total{code=\"FORBIDDEN\"} 1");
    s_has(text, "orderbus_errors_total{code=\"LIMIT\"} 2");
    s_has(text, "orderbus_errors_total{code=\"MALFORMED\"} 1");
    s_has(text, "orderbus_errors_total{code=\"UNKNOWN\"} 2");
    s_has(text, "orderbus_refusals_total{reason=\"FORBIDDEN\"} 1");
    s_has(text, "orderbus_refusals_total{reason=\"LIMIT\"} 2");
    assert_null(strstr(text, "orderbus_refusals_total{reason=\"MALFORMED\"}"));
    s_has(text, "orderbus_requests_total{command=\"FETCH\"} 2");
    s_has(text, "orderbus_requests_total{command=\"TOPICS\"} 1");
    s_has(text, "orderbus_requests_total{command=\"UNKNOWN\"} 1");
    s_has(text, "orderbus_commit_batch_events_bucket{le=\"0\"} 1");
    s_has(text, "orderbus_commit_batch_events_bucket{le=\"4\"} 1");
    s_has(text, "orderbus_commit_batch_events_bucket{le=\"16\"} 2");
    s_has(text, "orderbus_commit_batch_events_sum 5");
    s_has(text, "orderbus_commit_duration_seconds_bucket{le=\"0.0001\"} 1");
    s_has(text, "orderbus_commit_duration_seconds_bucket{le=\"0.0025\"} 2");
    s_has(text, "orderbus_commit_duration_seconds_count 2");
    s_has(text, "orderbus_commit_sync_seconds_bucket{le=\"0.001\"} 0");
    s_has(text, "orderbus_commit_sync_seconds_bucket{le=\"0.0025\"} 1");
    s_has(text, "orderbus_commit_sync_seconds_sum 0.0012");
    s_has(text, "orderbus_commit_sync_seconds_count 1");
    s_has(text, "orderbus_commit_failures_total 1");
    s_has(text, "orderbus_sessions 7");
    free(text);
    ob_broker_metrics_destroy(&m);
    assert_null(m);
    ob_broker_metrics_destroy(&m);
}

/* requests_total's `command` is bounded by the command table: whatever bytes come, at
   most one series per command a client sends, and one for no command. */
static void
test_requests_bounded(void **state)
{
    (void)state;
    ob_broker_metrics_t *m = ob_broker_metrics_new();
    assert_non_null(m);
    size_t client_commands = 0;
    for (int command = 0; command <= UINT8_MAX; command++) {
        const ob_command_info_t *info = ob_command_info(command);
        client_commands += info && info->dir == OB_COMMAND_TO_BROKER;
    }
    for (int round = 0; round < 2; round++)
        for (int command = UINT8_MAX; command >= 0; command--)
            ob_broker_metrics_request(m, command);
    char *text = s_text(m);
    assert_int_equal(s_count(text, "\norderbus_requests_total{"), client_commands + 1);
    free(text);
    ob_broker_metrics_destroy(&m);
}

/* subs.h sink and gone callback: nothing is delivered here (no events are stored). */
static int
s_sink(void *arg, void *consumer, ob_wire_msg_t *msg, const ob_store_event_t *events, size_t count)
{
    (void)arg, (void)consumer, (void)msg, (void)events, (void)count;
    fail_msg("no delivery expected");
    return OB_SUBS_FULL;
}

static void
s_gone(void *arg, void *consumer, const char *sub)
{
    (void)arg, (void)consumer, (void)sub;
}

/* Creates subscription name ("" for an ephemeral one) on topic t, for consumer. */
static void
s_subscribe(ob_subs_t *subs, void *consumer, const char *name)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = 1;
    snprintf(msg->sub, sizeof msg->sub, "%s", name);
    msg->pattern_count = 1;
    snprintf(msg->patterns[0], sizeof msg->patterns[0], "t");
    char made[OB_SUB_NAME_MAX + 1];
    int created = 0, defer = 0;
    assert_int_equal(ob_subs_subscribe(subs, consumer, NULL, msg, made, &created, &defer), 0);
    assert_int_equal(created, 1);
    free(msg);
}

static void
test_subscriptions(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-broker-metrics-XXXXXX";
    assert_non_null(mkdtemp(dir));
    ob_store_t *store = NULL;
    ob_subs_t *subs = NULL;
    int consumer = 0;
    assert_int_equal(ob_store_open(dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    assert_int_equal(ob_subs_new(store, s_sink, s_gone, NULL, &subs), 0);
    ob_subs_set_max_per_consumer(subs, OB_SUBS_MAX);
    char name[OB_SUB_NAME_MAX + 1];
    for (int i = 0; i < T_SUBS; i++) {
        snprintf(name, sizeof name, "s%04d", i);
        s_subscribe(subs, &consumer, name);
    }
    s_subscribe(subs, &consumer, ""); /* ephemeral */

    ob_broker_metrics_t *m = ob_broker_metrics_new();
    assert_non_null(m);
    ob_broker_metrics_refresh(m, 0, 1, subs, store);
    char *text = s_text(m);
    assert_int_equal(s_count(text, T_LAG_SERIES), OB_BROKER_METRICS_SUBS_MAX);
    assert_int_equal(s_count(text, "\norderbus_subscription_pending{subscription=\""),
                     OB_BROKER_METRICS_SUBS_MAX);
    assert_null(strstr(text, T_LAG_SERIES "eph-")); /* ephemeral: summed */
    s_has(text, "orderbus_subscriptions 1003");
    s_has(text, "orderbus_subscription_other_lag_events 0");
    s_has(text, "orderbus_subscription_other_pending 0");
    s_has(text, "orderbus_store_events 0");
    /* The first one seen has a series; which it is depends on the hash order. */
    const char *first = strstr(text, T_LAG_SERIES) + strlen(T_LAG_SERIES);
    snprintf(name, sizeof name, "%.*s", (int)strcspn(first, "\""), first);
    free(text);

    /* Deleted: its series goes at the next refresh, not before OB_BROKER_METRICS_REFRESH_MS,
       and a subscription that was summed takes the slot at the refresh after. */
    assert_int_equal(ob_subs_delete(subs, name), 0);
    char series[T_ERR_MAX];
    snprintf(series, sizeof series, T_LAG_SERIES "%s\"}", name);
    ob_broker_metrics_refresh(m, OB_BROKER_METRICS_REFRESH_MS - 1, 0, subs, store);
    text = s_text(m);
    assert_non_null(strstr(text, series));
    s_has(text, "orderbus_sessions 1");
    free(text);
    ob_broker_metrics_refresh(m, OB_BROKER_METRICS_REFRESH_MS, 0, subs, store);
    text = s_text(m);
    assert_null(strstr(text, series));
    assert_int_equal(s_count(text, T_LAG_SERIES), OB_BROKER_METRICS_SUBS_MAX - 1);
    s_has(text, "orderbus_subscriptions 1002");
    s_has(text, "orderbus_sessions 0");
    free(text);
    ob_broker_metrics_refresh(m, 2 * OB_BROKER_METRICS_REFRESH_MS, 0, subs, store);
    text = s_text(m);
    assert_int_equal(s_count(text, T_LAG_SERIES), OB_BROKER_METRICS_SUBS_MAX);
    free(text);

    ob_broker_metrics_destroy(&m);
    ob_subs_destroy(&subs);
    ob_store_close(&store);
    zdir_t *scratch = zdir_new(dir, NULL);
    assert_non_null(scratch);
    zdir_remove(scratch, true);
    zdir_destroy(&scratch);
    assert_false(zsys_file_exists(dir));
}

/* curl write callback: appends to a zchunk. */
static size_t
s_write(char *data, size_t size, size_t n, void *arg)
{
    zchunk_extend((zchunk_t *)arg, data, size * n);
    return size * n;
}

/* Sends method to url; returns the status, the body in *ret_body (the caller frees it). */
static long
s_http(const char *url, const char *method, char **ret_body)
{
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    zchunk_t *body = zchunk_new(NULL, 0);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)T_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    zchunk_extend(body, "", 1);
    *ret_body = strdup((const char *)zchunk_data(body));
    zchunk_destroy(&body);
    return status;
}

static void
test_http(void **state)
{
    (void)state;
    char err[T_ERR_MAX], url[OB_METRICS_HTTP_URL_MAX], other[2 * OB_METRICS_HTTP_URL_MAX];
    ob_metrics_t *registry = ob_metrics_new();
    assert_non_null(registry);
    ob_metric_t *hits = ob_metrics_counter(registry, "t_hits_total", "Hits.", NULL, 0, 0);
    assert_non_null(hits);
    assert_int_equal(ob_metric_add(hits, NULL, 41), 0);

    ob_metrics_http_t *http = NULL;
    assert_int_equal(ob_metrics_http_start("127.0.0.1:0", registry, &http, err, sizeof err), 0);
    snprintf(url, sizeof url, "%s", ob_metrics_http_url(http));
    unsigned port = 0;
    assert_int_equal(sscanf(url, "http://127.0.0.1:%u/metrics", &port), 1);
    assert_true(port > 0);

    char *body = NULL;
    assert_int_equal(ob_metric_add(hits, NULL, 1), 0);
    assert_int_equal(s_http(url, "GET", &body), 200);
    assert_non_null(strstr(body, "\nt_hits_total 42\n"));
    free(body);
    snprintf(other, sizeof other, "%s?x=1", url); /* a query string is ignored */
    assert_int_equal(s_http(other, "GET", &body), 200);
    free(body);
    snprintf(other, sizeof other, "http://127.0.0.1:%u/", port);
    assert_int_equal(s_http(other, "GET", &body), 404);
    free(body);
    snprintf(other, sizeof other, "http://127.0.0.1:%u/metrics/x", port);
    assert_int_equal(s_http(other, "GET", &body), 404);
    free(body);
    assert_int_equal(s_http(url, "DELETE", &body), 405);
    free(body);

    /* The same port again: taken. */
    char taken[OB_METRICS_HTTP_ADDRESS_MAX];
    snprintf(taken, sizeof taken, "127.0.0.1:%u", port);
    ob_metrics_http_t *second = NULL;
    assert_int_equal(ob_metrics_http_start(taken, registry, &second, err, sizeof err), -EADDRINUSE);
    assert_null(second);
    assert_non_null(strstr(err, taken));
    assert_non_null(strstr(err, "in use"));
    ob_metrics_http_stop(&http);
    assert_null(http);
    ob_metrics_http_stop(&http);

    /* Stopped: nothing listens there any more, and the port can be bound again. */
    assert_int_equal(ob_metrics_http_start(taken, registry, &second, err, sizeof err), 0);
    ob_metrics_http_stop(&second);

    assert_int_equal(ob_metrics_http_start("localhost:0", registry, &second, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_null(second);
    assert_int_equal(ob_metrics_http_check("[::1]:0", err, sizeof err), 0);
    assert_int_equal(ob_metrics_http_check("127.0.0.1:65535", err, sizeof err), 0);
    assert_int_equal(ob_metrics_http_check("127.0.0.1:65536", err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metrics_http_check("127.0.0.1:7459x", NULL, 0), OB_ERR_INVALID_ARGUMENT);
    ob_metrics_destroy(&registry);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_requests_bounded),
        cmocka_unit_test(test_subscriptions),
        cmocka_unit_test(test_http),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
