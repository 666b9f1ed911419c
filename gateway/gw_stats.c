/*  ob_gw_stats: see gw_stats.h. */
#include "gw_stats.h"

#include <stdlib.h>

#include "gw_limits.h"

#define S_SERIES (OB_GW_OMS_MAX * 16) /* label sets of one metric: OMSes x kinds */

/* Seconds of a pass: from a few milliseconds to the longest request timeouts. */
static const double s_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

ob_gw_stats_t *
ob_gw_stats_new(void)
{
    ob_gw_stats_t *self = calloc(1, sizeof *self);
    if (!self || !(self->registry = ob_metrics_new()))
        goto fail;
    static const char *const oms[] = {"oms"};
    static const char *const oms_outcome[] = {"oms", "outcome"};
    static const char *const oms_kind[] = {"oms", "kind"};
    static const char *const oms_result[] = {"oms", "result"};
    static const char *const endpoint_status[] = {"endpoint", "status"};
    static const char *const result[] = {"result"};
    ob_metrics_t *r = self->registry;
    self->polls = ob_metrics_counter(r, "orderbus_gateway_polls_total",
                                     "Passes over an OMS's events feed, by outcome (ok, failed).",
                                     oms_outcome, 2, S_SERIES);
    self->published =
        ob_metrics_counter(r, "orderbus_gateway_events_published_total",
                           "Events the broker confirmed as new on oms.<id>.", oms, 1, S_SERIES);
    self->repeated = ob_metrics_counter(
        r, "orderbus_gateway_events_repeated_total",
        "Events the broker confirmed as already held (a re-read after a restart or failure).", oms,
        1, S_SERIES);
    self->errors = ob_metrics_counter(r, "orderbus_gateway_errors_total",
                                      "Errors by kind: mp_transport, mp_status, mp_malformed, "
                                      "resource, broker, refused, store, limit.",
                                      oms_kind, 2, S_SERIES);
    self->triggers = ob_metrics_counter(
        r, "orderbus_gateway_triggers_total",
        "Trigger calls by result (accepted, unauthorized, unknown_oms).", oms_result, 2, S_SERIES);
    self->auth_fail = ob_metrics_counter(r, "orderbus_gateway_trigger_auth_failures_total",
                                         "Trigger calls refused with 401.", oms, 1, S_SERIES);
    self->poll_time =
        ob_metrics_histogram(r, "orderbus_gateway_poll_seconds",
                             "Duration of a pass over the feed (read, fetch, "
                             "publish).",
                             oms, 1, S_SERIES, s_bounds, sizeof s_bounds / sizeof s_bounds[0]);
    self->http = ob_metrics_counter(r, "orderbus_gateway_http_requests_total",
                                    "HTTP requests answered, by endpoint and status.",
                                    endpoint_status, 2, S_SERIES);
    self->reloads = ob_metrics_counter(r, "orderbus_gateway_token_reloads_total",
                                       "Reloads of the REST tokens file (SIGHUP), by result "
                                       "(ok, failed: the old tokens stay).",
                                       result, 1, S_SERIES);
    self->ft_calls = ob_metrics_counter(r, "orderbus_gateway_facade_triggers_total",
                                        "Calls of an OMS's facade trigger (facade_trigger_url), by "
                                        "result (ok: a 2xx; failed: no answer or another status, "
                                        "retried with backoff).",
                                        oms_result, 2, S_SERIES);
    if (!self->polls || !self->published || !self->repeated || !self->errors || !self->triggers ||
        !self->auth_fail || !self->poll_time || !self->http || !self->reloads || !self->ft_calls)
        goto fail;
    return self;
fail:
    ob_gw_stats_destroy(&self);
    return NULL;
}

void
ob_gw_stats_destroy(ob_gw_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_metrics_destroy(&(*self_p)->registry);
    free(*self_p);
    *self_p = NULL;
}

void
ob_gw_stats_inc(ob_metric_t *metric, const char *a, const char *b)
{
    const char *values[] = {a, b};
    (void)ob_metric_add(metric, values, 1);
}
