/*  test_metrics: common/metrics.h. The exact text of a registry with every kind, labels,
    escaping and histogram buckets; the series limit; the naming rules; removal; and four
    threads updating while another writes.

    `test_common_metrics --sample` prints the text of that registry and exits: the CTest
    common_metrics_promtool runs it through `promtool check metrics` (tests/unit/common.cmake),
    so the exact text checked here is also the text Prometheus's own linter accepts. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "orderbus/error.h"

#define T_THREADS 4     /* updating threads */
#define T_UPDATES 20000 /* updates per thread */
#define T_SCRAPES 50    /* writes during the updates, at least */

static const double s_bounds[] = {0.001, 0.01, 0.1, 1};

/* Builds the registry of the exact text below. */
static ob_metrics_t *
s_sample(void)
{
    ob_metrics_t *m = ob_metrics_new();
    assert_non_null(m);
    const char *reason[] = {"reason"};
    const char *sub_topic[] = {"subscription", "topic"};
    ob_metric_t *publishes =
        ob_metrics_counter(m, "orderbus_publishes_total", "Publishes confirmed.", NULL, 0, 0);
    ob_metric_t *refusals = ob_metrics_counter(
        m, "orderbus_refusals_total", "Refused messages,\nby reason (a \\ here).", reason, 1, 4);
    ob_metric_t *lag = ob_metrics_gauge(m, "orderbus_subscription_lag", "Events not yet delivered.",
                                        sub_topic, 2, 8);
    ob_metric_t *latency = ob_metrics_histogram(m, "orderbus_commit_seconds", "Commit latency.",
                                                NULL, 0, 0, s_bounds, 4);
    ob_metric_t *unused = ob_metrics_gauge(m, "orderbus_unused", "No series yet.", reason, 1, 1);
    assert_non_null(publishes);
    assert_non_null(refusals);
    assert_non_null(lag);
    assert_non_null(latency);
    assert_non_null(unused);

    assert_int_equal(ob_metric_add(publishes, NULL, 41), 0);
    assert_int_equal(ob_metric_add(publishes, NULL, 1), 0);
    const char *limit[] = {"LIMIT"};
    const char *odd[] = {"a\"b\\c\nd"};
    assert_int_equal(ob_metric_add(refusals, limit, 2), 0);
    assert_int_equal(ob_metric_add(refusals, odd, 1), 0);
    const char *s1[] = {"fulfilment", "oms.7"};
    const char *s2[] = {"ops", "mp.>"};
    assert_int_equal(ob_metric_set(lag, s1, 12), 0);
    assert_int_equal(ob_metric_set(lag, s2, 0.25), 0);
    assert_int_equal(ob_metric_add(lag, s2, -1), 0);
    const double seen[] = {0.0005, 0.001, 0.002, 0.5, 3};
    for (size_t i = 0; i < sizeof seen / sizeof seen[0]; i++)
        assert_int_equal(ob_metric_observe(latency, NULL, seen[i]), 0);
    return m;
}

static const char s_sample_text[] =
    "# HELP orderbus_publishes_total Publishes confirmed.\n"
    "# TYPE orderbus_publishes_total counter\n"
    "orderbus_publishes_total 42\n"
    "# HELP orderbus_refusals_total Refused messages,\\nby reason (a \\\\ here).\n"
    "# TYPE orderbus_refusals_total counter\n"
    "orderbus_refusals_total{reason=\"LIMIT\"} 2\n"
    "orderbus_refusals_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n"
    "# HELP orderbus_subscription_lag Events not yet delivered.\n"
    "# TYPE orderbus_subscription_lag gauge\n"
    "orderbus_subscription_lag{subscription=\"fulfilment\",topic=\"oms.7\"} 12\n"
    "orderbus_subscription_lag{subscription=\"ops\",topic=\"mp.>\"} -0.75\n"
    "# HELP orderbus_commit_seconds Commit latency.\n"
    "# TYPE orderbus_commit_seconds histogram\n"
    "orderbus_commit_seconds_bucket{le=\"0.001\"} 2\n"
    "orderbus_commit_seconds_bucket{le=\"0.01\"} 3\n"
    "orderbus_commit_seconds_bucket{le=\"0.1\"} 3\n"
    "orderbus_commit_seconds_bucket{le=\"1\"} 4\n"
    "orderbus_commit_seconds_bucket{le=\"+Inf\"} 5\n"
    "orderbus_commit_seconds_sum 3.5035\n"
    "orderbus_commit_seconds_count 5\n"
    "# HELP orderbus_unused No series yet.\n"
    "# TYPE orderbus_unused gauge\n";

static void
test_exact_text(void **state)
{
    (void)state;
    ob_metrics_t *m = s_sample();
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_metrics_write(m, &text, &len), 0);
    assert_string_equal(text, s_sample_text);
    assert_int_equal(len, strlen(s_sample_text));
    free(text);
    ob_metrics_destroy(&m);
    assert_null(m);
    ob_metrics_destroy(&m); /* accepts NULL */
}

static void
test_labels_bounded(void **state)
{
    (void)state;
    ob_metrics_t *m = ob_metrics_new();
    const char *label[] = {"topic"};
    ob_metric_t *g = ob_metrics_gauge(m, "g", "A gauge.", label, 1, 2);
    assert_non_null(g);
    const char *a[] = {"a"}, *b[] = {"b"}, *c[] = {"c"};
    assert_int_equal(ob_metric_set(g, a, 1), 0);
    assert_int_equal(ob_metric_set(g, b, 2), 0);
    assert_int_equal(ob_metric_set(g, c, 3), OB_ERR_LIMIT); /* a third label set */
    assert_int_equal(ob_metric_set(g, a, 4), 0);            /* an existing one is fine */
    /* removing one makes room; removing an absent one is no error */
    assert_int_equal(ob_metric_remove(g, a), 0);
    assert_int_equal(ob_metric_remove(g, a), 0);
    assert_int_equal(ob_metric_set(g, c, 3), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_metrics_write(m, &text, &len), 0);
    assert_string_equal(text, "# HELP g A gauge.\n# TYPE g gauge\ng{topic=\"b\"} 2\n"
                              "g{topic=\"c\"} 3\n");
    free(text);

    /* values: NULL, too long, not UTF-8 */
    const char *null_value[] = {NULL};
    assert_int_equal(ob_metric_set(g, null_value, 1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_set(g, NULL, 1), OB_ERR_INVALID_ARGUMENT);
    char long_value[OB_METRIC_LABEL_VALUE_MAX + 2];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    const char *too_long[] = {long_value};
    assert_int_equal(ob_metric_set(g, too_long, 1), OB_ERR_INVALID_ARGUMENT);
    long_value[OB_METRIC_LABEL_VALUE_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(ob_metric_remove(g, b), 0);
    assert_int_equal(ob_metric_set(g, too_long, 1), 0);
    const char *bad_utf8[] = {"\xc3("}, *good_utf8[] = {"\xc3\xa9"};
    assert_int_equal(ob_metric_set(g, bad_utf8, 1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_remove(g, c), 0);
    assert_int_equal(ob_metric_set(g, good_utf8, 1), 0);
    ob_metrics_destroy(&m);
}

static void
test_kinds_and_values(void **state)
{
    (void)state;
    ob_metrics_t *m = ob_metrics_new();
    ob_metric_t *c = ob_metrics_counter(m, "c_total", "C.", NULL, 0, 0);
    ob_metric_t *g = ob_metrics_gauge(m, "g", "G.", NULL, 0, 0);
    ob_metric_t *h = ob_metrics_histogram(m, "h", "H.", NULL, 0, 0, s_bounds, 1);
    assert_int_equal(ob_metric_add(c, NULL, -1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_add(c, NULL, NAN), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_set(c, NULL, 1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_observe(c, NULL, 1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_set(g, NULL, INFINITY), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_add(h, NULL, 1), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_observe(h, NULL, NAN), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_metric_observe(h, NULL, INFINITY), 0); /* counted in +Inf */
    assert_int_equal(ob_metric_add(c, NULL, 0.5), 0);
    assert_int_equal(ob_metric_set(g, NULL, 1e20), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_metrics_write(m, &text, &len), 0);
    assert_string_equal(text, "# HELP c_total C.\n# TYPE c_total counter\nc_total 0.5\n"
                              "# HELP g G.\n# TYPE g gauge\ng 1e+20\n"
                              "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"0.001\"} 0\n"
                              "h_bucket{le=\"+Inf\"} 1\nh_sum +Inf\nh_count 1\n");
    free(text);
    ob_metrics_destroy(&m);
}

static void
test_names_refused(void **state)
{
    (void)state;
    ob_metrics_t *m = ob_metrics_new();
    const char *ok[] = {"topic"};
    const char *le[] = {"le"}, *reserved[] = {"__x"}, *upper[] = {"Topic"};
    const char *twice[] = {"a", "a"};
    const char *five[] = {"a", "b", "c", "d", "e"};
    const double down[] = {1, 0.5}, inf[] = {1, INFINITY};
    assert_null(ob_metrics_counter(m, "publishes", "No _total.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g_total", "A gauge named as a counter.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g_count", "Reserved suffix.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g_sum", "Reserved suffix.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g_bucket", "Reserved suffix.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "Camel", "Upper case.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "9g", "Digit first.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g-h", "Dash.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "", "Empty.", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g", "", NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g", NULL, NULL, 0, 0));
    assert_null(ob_metrics_gauge(m, "g", "Le.", le, 1, 1));
    assert_null(ob_metrics_gauge(m, "g", "Reserved label.", reserved, 1, 1));
    assert_null(ob_metrics_gauge(m, "g", "Upper label.", upper, 1, 1));
    assert_null(ob_metrics_gauge(m, "g", "Twice.", twice, 2, 1));
    assert_null(ob_metrics_gauge(m, "g", "Five labels.", five, 5, 1));
    assert_null(ob_metrics_gauge(m, "g", "No series allowed.", ok, 1, 0));
    assert_null(ob_metrics_gauge(m, "g", "Too many.", ok, 1, OB_METRIC_SERIES_MAX + 1));
    assert_null(ob_metrics_histogram(m, "h", "No bounds.", NULL, 0, 0, s_bounds, 0));
    assert_null(ob_metrics_histogram(m, "h", "Decreasing.", NULL, 0, 0, down, 2));
    assert_null(ob_metrics_histogram(m, "h", "Infinite.", NULL, 0, 0, inf, 2));
    assert_null(
        ob_metrics_histogram(m, "h", "Too many.", NULL, 0, 0, s_bounds, OB_METRIC_BUCKETS_MAX + 1));
    assert_non_null(ob_metrics_gauge(m, "ns:g", "Colons are fine.", ok, 1, 1));
    assert_null(ob_metrics_gauge(m, "ns:g", "The same name twice.", NULL, 0, 0));
    ob_metrics_destroy(&m);

    m = ob_metrics_new();
    char name[16];
    for (int i = 0; i < OB_METRICS_MAX; i++) {
        snprintf(name, sizeof name, "g%d", i);
        assert_non_null(ob_metrics_gauge(m, name, "G.", NULL, 0, 0));
    }
    assert_null(ob_metrics_gauge(m, "one_more", "G.", NULL, 0, 0));
    ob_metrics_destroy(&m);
}

/* What each updating thread uses. */
typedef struct t_shared {
    ob_metric_t *counter;   /* counter with a label */
    ob_metric_t *histogram; /* histogram without */
} t_shared_t;

static void *
s_updater(void *arg)
{
    t_shared_t *shared = arg;
    const char *values[][1] = {{"a"}, {"b"}};
    for (int i = 0; i < T_UPDATES; i++) {
        if (ob_metric_add(shared->counter, values[i % 2], 1) ||
            ob_metric_observe(shared->histogram, NULL, 0.5))
            return (void *)1;
    }
    return NULL;
}

/* Reads the number after prefix at the start of a line of text, or -1. */
static double
s_value_of(const char *text, const char *prefix)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line)
        if (!strncmp(line, prefix, strlen(prefix)))
            return strtod(line + strlen(prefix), NULL);
    return -1;
}

static void
test_threads(void **state)
{
    (void)state;
    ob_metrics_t *m = ob_metrics_new();
    const char *label[] = {"k"};
    t_shared_t shared = {ob_metrics_counter(m, "n_total", "N.", label, 1, 2),
                         ob_metrics_histogram(m, "h", "H.", NULL, 0, 0, s_bounds, 4)};
    pthread_t threads[T_THREADS];
    for (int i = 0; i < T_THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, s_updater, &shared), 0);
    /* Scrape while they run: each scrape sees a consistent histogram. */
    for (int s = 0; s < T_SCRAPES; s++) {
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(ob_metrics_write(m, &text, &len), 0);
        double count = s_value_of(text, "h_count ");
        double inf = s_value_of(text, "h_bucket{le=\"+Inf\"} ");
        double sum = s_value_of(text, "h_sum ");
        assert_true(count == inf);
        assert_true(sum == count * 0.5);
        free(text);
    }
    for (int i = 0; i < T_THREADS; i++) {
        void *failed = NULL;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_metrics_write(m, &text, &len), 0);
    assert_true(s_value_of(text, "n_total{k=\"a\"} ") == T_THREADS * T_UPDATES / 2);
    assert_true(s_value_of(text, "n_total{k=\"b\"} ") == T_THREADS * T_UPDATES / 2);
    assert_true(s_value_of(text, "h_count ") == T_THREADS * T_UPDATES);
    assert_true(s_value_of(text, "h_bucket{le=\"1\"} ") == T_THREADS * T_UPDATES);
    assert_true(s_value_of(text, "h_bucket{le=\"0.1\"} ") == 0);
    free(text);
    ob_metrics_destroy(&m);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--sample")) {
        ob_metrics_t *m = s_sample();
        char *text = NULL;
        size_t len = 0;
        int rc = ob_metrics_write(m, &text, &len);
        if (!rc)
            fwrite(text, 1, len, stdout);
        free(text);
        ob_metrics_destroy(&m);
        return rc != 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_text),       cmocka_unit_test(test_labels_bounded),
        cmocka_unit_test(test_kinds_and_values), cmocka_unit_test(test_names_refused),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
