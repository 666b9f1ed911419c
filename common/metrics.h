/*  ob_metrics: a registry of a daemon's metrics (counters, gauges, histograms with fixed
    buckets), with labels of bounded cardinality, written in the Prometheus text exposition
    format (version 0.0.4) for a GET /metrics.

    Labels: a metric names up to OB_METRIC_LABELS_MAX labels at creation, and holds at most
    max_series label sets (series); an update with a label set beyond that is refused with
    OB_ERR_LIMIT and changes nothing, so that no input can grow a daemon's memory or its
    scrape without bound (a topic per OMS is fine; an event id never is). A series is
    created by its first update, and ob_metric_remove drops one (a deleted subscription).

    Names follow Prometheus's conventions, checked at creation so that the output always
    passes `promtool check metrics`: metric names [a-z_:][a-z0-9_:]*, counters ending in
    _total, other metrics not ending in _count, _sum or _bucket; label names [a-z_][a-z0-9_]*,
    not starting with __, and not le (histograms add it); a HELP text is required.

    Threads: any thread may update any metric while another writes the text. Each metric has
    its own mutex, held for an update (a few comparisons and additions) and while the writer
    prints that metric, so a scrape sees every metric consistent (a histogram's _count equals
    its +Inf bucket and matches its _sum). Atomics would not give that for a histogram (count,
    sum and bucket are three words) and C11 has no atomic add on double; an uncontended mutex
    costs tens of nanoseconds, far below anything a daemon does per event. The registry's
    mutex guards its list of metrics (creation, the writer); take it before a metric's. */
#ifndef OB_METRICS_H
#define OB_METRICS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_METRICS_MAX 256            /* metrics in one registry */
#define OB_METRIC_NAME_MAX 128        /* bytes in a metric or label name */
#define OB_METRIC_HELP_MAX 1024       /* bytes in a HELP text */
#define OB_METRIC_LABELS_MAX 4        /* label names of one metric */
#define OB_METRIC_LABEL_VALUE_MAX 256 /* bytes in a label value */
#define OB_METRIC_SERIES_MAX 100000   /* largest max_series of one metric */
#define OB_METRIC_BUCKETS_MAX 32      /* bucket bounds of a histogram, +Inf not counted */
#define OB_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct ob_metrics ob_metrics_t;
typedef struct ob_metric ob_metric_t;

/* Returns a new, empty registry (owned), or NULL if out of memory. */
ob_metrics_t *ob_metrics_new(void);

/* Destroys the registry and every metric it holds (their pointers become invalid); sets
 *self_p to NULL; accepts NULL. No other thread may use it any more. */
void ob_metrics_destroy(ob_metrics_t **self_p);

/* Creates a counter: name and help (borrowed, copied), label_count label names (labels,
   borrowed, copied; NULL when label_count is 0), at most max_series label sets (1 to
   OB_METRIC_SERIES_MAX; ignored without labels). Returns the metric, borrowed from the
   registry until ob_metrics_destroy, or NULL: a name, label or help against the rules at
   the top, a name the registry holds already, more than OB_METRICS_MAX metrics, out of
   memory. A creation is a programmer's choice, not input: NULL is a bug to fix. */
ob_metric_t *ob_metrics_counter(ob_metrics_t *self, const char *name, const char *help,
                                const char *const *labels, size_t label_count, size_t max_series);

/* The same for a gauge. */
ob_metric_t *ob_metrics_gauge(ob_metrics_t *self, const char *name, const char *help,
                              const char *const *labels, size_t label_count, size_t max_series);

/* The same for a histogram with bound_count upper bounds (bounds, borrowed, copied; finite,
   strictly increasing, 1 to OB_METRIC_BUCKETS_MAX); the +Inf bucket is added. */
ob_metric_t *ob_metrics_histogram(ob_metrics_t *self, const char *name, const char *help,
                                  const char *const *labels, size_t label_count, size_t max_series,
                                  const double *bounds, size_t bound_count);

/* Adds delta to a counter (delta >= 0) or a gauge (any finite delta), in the series of
   values (label values in the order of the metric's labels, borrowed; NULL without labels).
   Returns 0; OB_ERR_LIMIT (a new series beyond max_series); OB_ERR_INVALID_ARGUMENT (a
   histogram, a negative delta on a counter, a delta that is not finite, a NULL value or one
   longer than OB_METRIC_LABEL_VALUE_MAX); -ENOMEM. */
int ob_metric_add(ob_metric_t *metric, const char *const *values, double delta);

/* Sets a gauge's series to value (finite). Returns as ob_metric_add (OB_ERR_INVALID_ARGUMENT
   for a metric that is not a gauge). */
int ob_metric_set(ob_metric_t *metric, const char *const *values, double value);

/* Counts value (not NaN) in a histogram's series: the first bucket whose bound is >= value,
   its sum and its count. Returns as ob_metric_add (OB_ERR_INVALID_ARGUMENT for a metric that
   is not a histogram). */
int ob_metric_observe(ob_metric_t *metric, const char *const *values, double value);

/* Drops the series of values, if any (its numbers are gone; a later update starts it at 0).
   Returns 0 or OB_ERR_INVALID_ARGUMENT (a bad value, as ob_metric_add). */
int ob_metric_remove(ob_metric_t *metric, const char *const *values);

/* Writes every metric in creation order, each series in creation order, as the Prometheus
   text format: # HELP (\ and newline escaped), # TYPE, then a line per series (label values
   with \, " and newline escaped); a histogram's series as cumulative _bucket lines up to
   le="+Inf", then _sum and _count. A metric without a series yet is written as 0 if it has
   no labels, else only with its HELP and TYPE. On success *ret_text is a new NUL-terminated
   string the caller frees, *ret_len its length. Returns 0 or -ENOMEM. */
int ob_metrics_write(ob_metrics_t *self, char **ret_text, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
