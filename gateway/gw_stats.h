/*  ob_gw_stats: the gateway's metrics (common/metrics.h), shared by the HTTP thread and the
    feed thread (the registry is thread-safe). Every series is labelled by OMS id (at most
    OB_GW_OMS_MAX of them) and, for errors and triggers, a kind from a fixed set. */
#ifndef OB_GW_STATS_H
#define OB_GW_STATS_H

#include "metrics.h"

typedef struct ob_gw_stats {
    ob_metrics_t *registry; /* owns the metrics below */
    ob_metric_t *polls;     /* orderbus_gateway_polls_total{oms,outcome}: passes, ok or failed */
    ob_metric_t *published; /* orderbus_gateway_events_published_total{oms}: confirmed, new */
    ob_metric_t *repeated;  /* orderbus_gateway_events_repeated_total{oms}: confirmed as dup */
    ob_metric_t *errors;    /* orderbus_gateway_errors_total{oms,kind} */
    ob_metric_t *triggers;  /* orderbus_gateway_triggers_total{oms,result} */
    ob_metric_t *auth_fail; /* orderbus_gateway_trigger_auth_failures_total{oms} */
    ob_metric_t *poll_time; /* orderbus_gateway_poll_seconds{oms}: a pass, start to end */
    ob_metric_t *http;      /* orderbus_gateway_http_requests_total{endpoint,status} */
    ob_metric_t *reloads;   /* orderbus_gateway_token_reloads_total{result} */
    ob_metric_t *ft_calls;  /* orderbus_gateway_facade_triggers_total{oms,result}: calls out */
} ob_gw_stats_t;

/* Creates the registry and every metric. Returns the stats (owned, destroyed with
   ob_gw_stats_destroy) or NULL (no memory). */
ob_gw_stats_t *ob_gw_stats_new(void);

/* Destroys the stats and sets *self_p to NULL; accepts NULL. */
void ob_gw_stats_destroy(ob_gw_stats_t **self_p);

/* Adds 1 to metric's series of up to two label values (b NULL for one). Ignores a
   refusal (a series beyond its cap): metrics never stop the gateway. */
void ob_gw_stats_inc(ob_metric_t *metric, const char *a, const char *b);

#endif
