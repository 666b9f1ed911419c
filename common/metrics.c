/*  ob_metrics: see metrics.h.

    A series is found by its label text, the labels as the writer prints them
    (a="x",b="y", values escaped): escaping is one-to-one, so the text is a key as good as
    the values, and the writer prints it as it is. Lookups go through a zhashx on that text;
    the series array keeps the creation order for the writer. */
#include "metrics.h"

#include <czmq.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"

/* Bytes of a series' label text: each label as name="value" with every value byte escaped
   to at most two, a comma between them, and the NUL. */
#define S_LABELS_TEXT_MAX                                                                          \
    (OB_METRIC_LABELS_MAX * (OB_METRIC_NAME_MAX + 2 * OB_METRIC_LABEL_VALUE_MAX + 4) + 1)
#define S_NUMBER_MAX 32      /* bytes of a number as s_format writes it */
#define S_DIGITS_SHORT 15    /* %g digits that most doubles round-trip with */
#define S_DIGITS_EXACT 17    /* %g digits that every double round-trips with */
#define S_INTEGER_EXACT 1e15 /* below this, an integral double prints as an integer */
#define S_SERIES_GROWTH 2    /* the series array grows by this factor */
#define S_SERIES_INITIAL 8   /* first size of the series array */

typedef enum s_kind {
    S_COUNTER,   /* only goes up */
    S_GAUGE,     /* set, up or down */
    S_HISTOGRAM, /* observations counted in buckets */
} s_kind_t;

/* The TYPE word of each kind. */
static const char *s_type_names[] = {"counter", "gauge", "histogram"};

typedef struct s_series {
    char *labels;                                /* label text, "" without labels; owned */
    double value;                                /* counter, gauge */
    double sum;                                  /* histogram: sum of the observations */
    uint64_t count;                              /* histogram: observations */
    uint64_t buckets[OB_METRIC_BUCKETS_MAX + 1]; /* histogram: per bucket, not cumulative; */
                                                 /* the last is +Inf */
} s_series_t;

struct ob_metric {
    s_kind_t kind;                                             /* what it is */
    char name[OB_METRIC_NAME_MAX + 1];                         /* its name */
    char *help;                                                /* HELP text, owned */
    char labels[OB_METRIC_LABELS_MAX][OB_METRIC_NAME_MAX + 1]; /* label names */
    size_t label_count;                                        /* names in labels */
    size_t max_series;                                         /* series it may hold */
    double bounds[OB_METRIC_BUCKETS_MAX]; /* histogram: upper bounds, increasing */
    size_t bound_count;                   /* bounds in use */
    pthread_mutex_t lock;                 /* guards what follows */
    s_series_t **series;                  /* series_count series, creation order, owned */
    size_t series_count;                  /* series in use */
    size_t series_size;                   /* slots in series */
    zhashx_t *by_labels;                  /* label text -> series (borrowed) */
};

struct ob_metrics {
    pthread_mutex_t lock;                 /* guards the list; taken before a metric's */
    ob_metric_t *metrics[OB_METRICS_MAX]; /* count metrics, creation order, owned */
    size_t count;                         /* metrics in use */
};

ob_metrics_t *
ob_metrics_new(void)
{
    ob_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (pthread_mutex_init(&self->lock, NULL)) {
        free(self);
        return NULL;
    }
    return self;
}

/* Frees a series; accepts NULL. */
static void
s_series_free(s_series_t *series)
{
    if (series)
        free(series->labels);
    free(series);
}

/* Frees a metric, whose mutex is initialised iff lock_ready; accepts NULL. */
static void
s_metric_free(ob_metric_t *metric, int lock_ready)
{
    if (!metric)
        return;
    for (size_t i = 0; i < metric->series_count; i++)
        s_series_free(metric->series[i]);
    free(metric->series);
    zhashx_destroy(&metric->by_labels);
    free(metric->help);
    if (lock_ready)
        pthread_mutex_destroy(&metric->lock);
    free(metric);
}

void
ob_metrics_destroy(ob_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_metrics_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_metric_free(self->metrics[i], 1);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* Returns 1 if c may start (first) or continue a metric name (colon_ok) or a label name. */
static int
s_name_char(char c, int first, int colon_ok)
{
    if ((c >= 'a' && c <= 'z') || c == '_' || (colon_ok && c == ':'))
        return 1;
    return !first && c >= '0' && c <= '9';
}

/* Returns 1 if name is a valid metric name (colon_ok) or label name, within
   OB_METRIC_NAME_MAX bytes. */
static int
s_name_ok(const char *name, int colon_ok)
{
    size_t len = name ? strnlen(name, OB_METRIC_NAME_MAX + 1) : 0;
    if (len == 0 || len > OB_METRIC_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!s_name_char(name[i], i == 0, colon_ok))
            return 0;
    return 1;
}

/* Returns 1 if name ends with suffix. */
static int
s_ends_with(const char *name, const char *suffix)
{
    size_t len = strlen(name), slen = strlen(suffix);
    return len >= slen && !strcmp(name + len - slen, suffix);
}

/* Returns 1 if the len bytes at text are UTF-8 (structure only: lead and continuation
   bytes, no 0xc0, 0xc1 or 0xf5..0xff), which the text format requires. */
static int
s_utf8_ok(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
        if (c >= 0x80 && (c < 0xc2 || c > 0xf4))
            return 0;
        if (more >= len - i)
            return 0;
        for (size_t k = 1; k <= more; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        i += more + 1;
    }
    return 1;
}

/* Appends text (len bytes) to buf at *pos, escaping \ and newline, and " too if quotes;
   buf has room for 2 * len more bytes. Advances *pos. */
static void
s_escape(char *buf, size_t *pos, const char *text, size_t len, int quotes)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\\' || c == '\n' || (quotes && c == '"')) {
            buf[(*pos)++] = '\\';
            c = c == '\n' ? 'n' : c;
        }
        buf[(*pos)++] = c;
    }
}

/* Creates a series with label text labels (borrowed, copied) in metric, whose lock the
   caller holds. Returns it or NULL (out of memory). */
static s_series_t *
s_series_add(ob_metric_t *metric, const char *labels)
{
    if (metric->series_count == metric->series_size) {
        size_t size =
            metric->series_size ? metric->series_size * S_SERIES_GROWTH : S_SERIES_INITIAL;
        s_series_t **grown = realloc(metric->series, size * sizeof *grown);
        if (!grown)
            return NULL;
        metric->series = grown;
        metric->series_size = size;
    }
    s_series_t *series = calloc(1, sizeof *series);
    if (!series)
        return NULL;
    series->labels = strdup(labels);
    if (!series->labels || zhashx_insert(metric->by_labels, labels, series)) {
        s_series_free(series);
        return NULL;
    }
    metric->series[metric->series_count++] = series;
    return series;
}

/* Creates a metric of kind in self; see ob_metrics_counter. */
static ob_metric_t *
s_metric_new(ob_metrics_t *self, s_kind_t kind, const char *name, const char *help,
             const char *const *labels, size_t label_count, size_t max_series, const double *bounds,
             size_t bound_count)
{
    if (!s_name_ok(name, 1) || !help || !*help || strlen(help) > OB_METRIC_HELP_MAX ||
        !s_utf8_ok(help, strlen(help)) || label_count > OB_METRIC_LABELS_MAX ||
        (label_count && (max_series < 1 || max_series > OB_METRIC_SERIES_MAX)))
        return NULL;
    /* Prometheus's naming rules, which promtool checks. */
    if ((kind == S_COUNTER) != s_ends_with(name, "_total"))
        return NULL;
    if (kind != S_HISTOGRAM &&
        (s_ends_with(name, "_count") || s_ends_with(name, "_sum") || s_ends_with(name, "_bucket")))
        return NULL;
    for (size_t i = 0; i < label_count; i++) {
        if (!s_name_ok(labels[i], 0) || !strncmp(labels[i], "__", 2) || !strcmp(labels[i], "le"))
            return NULL;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(labels[i], labels[k]))
                return NULL;
    }
    if (kind == S_HISTOGRAM) {
        if (bound_count < 1 || bound_count > OB_METRIC_BUCKETS_MAX)
            return NULL;
        for (size_t i = 0; i < bound_count; i++)
            if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                return NULL;
    }

    ob_metric_t *metric = calloc(1, sizeof *metric);
    if (!metric)
        return NULL;
    int lock_ready = 0;
    metric->kind = kind;
    snprintf(metric->name, sizeof metric->name, "%s", name);
    for (size_t i = 0; i < label_count; i++)
        snprintf(metric->labels[i], sizeof metric->labels[i], "%s", labels[i]);
    metric->label_count = label_count;
    metric->max_series = label_count ? max_series : 1;
    if (kind == S_HISTOGRAM)
        memcpy(metric->bounds, bounds, bound_count * sizeof *bounds);
    metric->bound_count = kind == S_HISTOGRAM ? bound_count : 0;
    metric->help = strdup(help);
    metric->by_labels = zhashx_new();
    if (!metric->help || !metric->by_labels || pthread_mutex_init(&metric->lock, NULL))
        goto fail;
    lock_ready = 1;
    /* A metric without labels has its one series from the start: it is written as 0. */
    if (!label_count && !s_series_add(metric, ""))
        goto fail;

    pthread_mutex_lock(&self->lock);
    int taken = self->count == OB_METRICS_MAX;
    for (size_t i = 0; i < self->count && !taken; i++)
        taken = !strcmp(self->metrics[i]->name, name);
    if (!taken)
        self->metrics[self->count++] = metric;
    pthread_mutex_unlock(&self->lock);
    if (taken)
        goto fail;
    return metric;
fail:
    s_metric_free(metric, lock_ready);
    return NULL;
}

ob_metric_t *
ob_metrics_counter(ob_metrics_t *self, const char *name, const char *help,
                   const char *const *labels, size_t label_count, size_t max_series)
{
    return s_metric_new(self, S_COUNTER, name, help, labels, label_count, max_series, NULL, 0);
}

ob_metric_t *
ob_metrics_gauge(ob_metrics_t *self, const char *name, const char *help, const char *const *labels,
                 size_t label_count, size_t max_series)
{
    return s_metric_new(self, S_GAUGE, name, help, labels, label_count, max_series, NULL, 0);
}

ob_metric_t *
ob_metrics_histogram(ob_metrics_t *self, const char *name, const char *help,
                     const char *const *labels, size_t label_count, size_t max_series,
                     const double *bounds, size_t bound_count)
{
    return s_metric_new(self, S_HISTOGRAM, name, help, labels, label_count, max_series, bounds,
                        bound_count);
}

/* Writes the label text of values (one per label of metric) into buf (S_LABELS_TEXT_MAX
   bytes; "" without labels). Returns 0 or OB_ERR_INVALID_ARGUMENT (a NULL, overlong or
   non-UTF-8 value). */
static int
s_label_text(const ob_metric_t *metric, const char *const *values, char *buf)
{
    size_t pos = 0;
    for (size_t i = 0; i < metric->label_count; i++) {
        const char *value = values ? values[i] : NULL;
        size_t len = value ? strnlen(value, OB_METRIC_LABEL_VALUE_MAX + 1) : 0;
        if (!value || len > OB_METRIC_LABEL_VALUE_MAX || !s_utf8_ok(value, len))
            return OB_ERR_INVALID_ARGUMENT;
        if (i)
            buf[pos++] = ',';
        size_t name_len = strlen(metric->labels[i]); /* at most OB_METRIC_NAME_MAX */
        memcpy(buf + pos, metric->labels[i], name_len);
        pos += name_len;
        buf[pos++] = '=';
        buf[pos++] = '"';
        s_escape(buf, &pos, value, len, 1);
        buf[pos++] = '"';
    }
    buf[pos] = '\0';
    return 0;
}

/* Renders the label text of values into labels (S_LABELS_TEXT_MAX bytes), takes metric's
   lock and looks the series up: *ret_series is it or NULL. On success the caller holds the
   lock. Returns 0 or s_label_text's error (the lock then not taken). */
static int
s_lock_series(ob_metric_t *metric, const char *const *values, char *labels, s_series_t **ret_series)
{
    int rc = s_label_text(metric, values, labels);
    if (rc)
        return rc;
    pthread_mutex_lock(&metric->lock);
    *ret_series = zhashx_lookup(metric->by_labels, labels);
    return 0;
}

/* Finds or creates (within max_series) the series of values in metric and calls update
   on it under the metric's lock. Returns 0, OB_ERR_LIMIT, OB_ERR_INVALID_ARGUMENT or
   -ENOMEM. */
static int
s_update(ob_metric_t *metric, const char *const *values,
         void (*update)(ob_metric_t *, s_series_t *, double), double value)
{
    char labels[S_LABELS_TEXT_MAX];
    s_series_t *series = NULL;
    int rc = s_lock_series(metric, values, labels, &series);
    if (rc)
        return rc;
    if (!series && metric->series_count == metric->max_series)
        rc = OB_ERR_LIMIT;
    else if (!series && !(series = s_series_add(metric, labels)))
        rc = -ENOMEM;
    else
        update(metric, series, value);
    pthread_mutex_unlock(&metric->lock);
    return rc;
}

static void
s_do_add(ob_metric_t *metric, s_series_t *series, double delta)
{
    (void)metric;
    series->value += delta;
}

static void
s_do_set(ob_metric_t *metric, s_series_t *series, double value)
{
    (void)metric;
    series->value = value;
}

static void
s_do_observe(ob_metric_t *metric, s_series_t *series, double value)
{
    size_t b = 0;
    while (b < metric->bound_count && value > metric->bounds[b])
        b++;
    series->buckets[b]++; /* b == bound_count: the +Inf bucket */
    series->count++;
    series->sum += value;
}

int
ob_metric_add(ob_metric_t *metric, const char *const *values, double delta)
{
    if (metric->kind == S_HISTOGRAM || !isfinite(delta) || (metric->kind == S_COUNTER && delta < 0))
        return OB_ERR_INVALID_ARGUMENT;
    return s_update(metric, values, s_do_add, delta);
}

int
ob_metric_set(ob_metric_t *metric, const char *const *values, double value)
{
    if (metric->kind != S_GAUGE || !isfinite(value))
        return OB_ERR_INVALID_ARGUMENT;
    return s_update(metric, values, s_do_set, value);
}

int
ob_metric_observe(ob_metric_t *metric, const char *const *values, double value)
{
    if (metric->kind != S_HISTOGRAM || isnan(value))
        return OB_ERR_INVALID_ARGUMENT;
    return s_update(metric, values, s_do_observe, value);
}

int
ob_metric_remove(ob_metric_t *metric, const char *const *values)
{
    char labels[S_LABELS_TEXT_MAX];
    s_series_t *series = NULL;
    int rc = s_lock_series(metric, values, labels, &series);
    if (rc)
        return rc;
    if (series) {
        zhashx_delete(metric->by_labels, labels);
        size_t i = 0;
        while (metric->series[i] != series)
            i++;
        memmove(&metric->series[i], &metric->series[i + 1],
                (metric->series_count - i - 1) * sizeof *metric->series);
        metric->series_count--;
        s_series_free(series);
    }
    pthread_mutex_unlock(&metric->lock);
    return 0;
}

/* Writes value into buf (S_NUMBER_MAX bytes) as the text format takes it: +Inf, -Inf, NaN,
   an integer when it is one, else the shortest %g that reads back the same double. */
static void
s_format(double value, char *buf)
{
    if (isnan(value))
        snprintf(buf, S_NUMBER_MAX, "NaN");
    else if (isinf(value))
        snprintf(buf, S_NUMBER_MAX, "%s", value > 0 ? "+Inf" : "-Inf");
    else if (value == 0)
        snprintf(buf, S_NUMBER_MAX, "0"); /* also -0 */
    else if (value == floor(value) && fabs(value) < S_INTEGER_EXACT)
        snprintf(buf, S_NUMBER_MAX, "%.0f", value);
    else {
        snprintf(buf, S_NUMBER_MAX, "%.*g", S_DIGITS_SHORT, value);
        if (strtod(buf, NULL) != value)
            snprintf(buf, S_NUMBER_MAX, "%.*g", S_DIGITS_EXACT, value);
    }
}

/* Writes name{labels[,extra]} value, omitting the braces when both are empty. */
static void
s_sample(FILE *out, const char *name, const char *suffix, const char *labels, const char *extra,
         double value)
{
    char number[S_NUMBER_MAX];
    s_format(value, number);
    int braces = *labels || extra;
    fprintf(out, "%s%s%s%s%s%s%s %s\n", name, suffix, braces ? "{" : "", labels,
            *labels && extra ? "," : "", extra ? extra : "", braces ? "}" : "", number);
}

/* Writes metric, whose lock the caller holds, to out. */
static void
s_write_metric(FILE *out, const ob_metric_t *metric)
{
    char help[2 * OB_METRIC_HELP_MAX + 1];
    size_t len = 0;
    s_escape(help, &len, metric->help, strlen(metric->help), 0); /* at most OB_METRIC_HELP_MAX */
    help[len] = '\0';
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", metric->name, help, metric->name,
            s_type_names[metric->kind]);
    for (size_t s = 0; s < metric->series_count; s++) {
        const s_series_t *series = metric->series[s];
        if (metric->kind != S_HISTOGRAM) {
            s_sample(out, metric->name, "", series->labels, NULL, series->value);
            continue;
        }
        uint64_t cumulative = 0;
        for (size_t b = 0; b <= metric->bound_count; b++) {
            char le[S_NUMBER_MAX + sizeof "le=\"\""];
            char bound[S_NUMBER_MAX];
            s_format(b < metric->bound_count ? metric->bounds[b] : INFINITY, bound);
            snprintf(le, sizeof le, "le=\"%s\"", bound);
            cumulative += series->buckets[b];
            s_sample(out, metric->name, "_bucket", series->labels, le, (double)cumulative);
        }
        s_sample(out, metric->name, "_sum", series->labels, NULL, series->sum);
        s_sample(out, metric->name, "_count", series->labels, NULL, (double)series->count);
    }
}

int
ob_metrics_write(ob_metrics_t *self, char **ret_text, size_t *ret_len)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return -ENOMEM;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->count; i++) {
        ob_metric_t *metric = self->metrics[i];
        pthread_mutex_lock(&metric->lock);
        s_write_metric(out, metric);
        pthread_mutex_unlock(&metric->lock);
    }
    pthread_mutex_unlock(&self->lock);
    int failed = ferror(out);
    if (fclose(out) || failed) {
        free(text);
        return -ENOMEM;
    }
    *ret_text = text;
    *ret_len = len;
    return 0;
}
