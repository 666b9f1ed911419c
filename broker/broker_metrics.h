/*  ob_broker_metrics: the broker's Prometheus metrics (README "Metrics"), over the registry
    of common/metrics.h, which metrics_http.h serves on GET /metrics.

    It creates every metric at once, and has one small function per event, which the
    server, its writer and its loop call where they count the event anyway:

        ob_broker_metrics_publish      a PUBLISH reached its handler (server thread)
        ob_broker_metrics_confirm      a publish was confirmed: stored or a duplicate
        ob_broker_metrics_stored       a dead letter was stored
        ob_broker_metrics_error        an ERROR reply, by wire code (refusals among them)
        ob_broker_metrics_request      a subscription or admin request, by command
        ob_broker_metrics_commit       a group commit finished (the thread that made it)
        ob_broker_metrics_sync         ... and its durable write took so long (the same)
        ob_broker_metrics_refresh      the current states, at most once a second (server thread)

    Current states (sessions, subscriptions and their lag and pending deliveries, the store's
    events and topics) and the subscriptions' counters (deliveries, redeliveries, acks, nacks,
    dead letters) are copied in by ob_broker_metrics_refresh, which the server calls from its
    tick: so they are up to OB_BROKER_METRICS_REFRESH_MS (plus a tick) stale, and nothing
    outside the server thread reads the subscriptions or the sessions. Every other metric
    moves at the event.

    Labels are bounded: requests_total's `command` by the command table (command_table.h),
    errors_total's `code` by the wire codes (PROTOCOL.md 8),
    refusals_total's `reason` by the refusal codes, and the per-subscription gauges'
    `subscription` by OB_BROKER_METRICS_SUBS_MAX durable subscriptions: the first ones to be
    seen keep their series while they exist; ephemeral ones (random names) and those beyond
    the cap are summed into the _other gauges. A deleted subscription's series goes at the
    next refresh, and one that was summed takes the free slot at the refresh after (the
    series are dropped after the walk that finds them gone). Topics are never a label.

    Threads: the event functions and the registry are thread-safe (common/metrics.h); the
    refresh keeps state of its own and must always be called from the same thread. Every
    function accepts self NULL and then does nothing. */
#ifndef OB_BROKER_METRICS_H
#define OB_BROKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "store.h"
#include "subs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_BROKER_METRICS_REFRESH_MS 1000 /* current states are copied this often */
#define OB_BROKER_METRICS_SUBS_MAX 1000   /* subscriptions with series of their own */
#define OB_BROKER_METRICS_PREFIX "orderbus_"

typedef struct ob_broker_metrics ob_broker_metrics_t;

/* Returns a new set of broker metrics in a registry of its own (owned), or NULL if out of
   memory. */
ob_broker_metrics_t *ob_broker_metrics_new(void);

/* Destroys it and its registry; sets *self_p to NULL; accepts NULL. No other thread may use
   it or its registry any more (stop the HTTP listener first). */
void ob_broker_metrics_destroy(ob_broker_metrics_t **self_p);

/* Returns the registry (borrowed until ob_broker_metrics_destroy), for ob_metrics_write. */
ob_metrics_t *ob_broker_metrics_registry(ob_broker_metrics_t *self);

/* Counts a PUBLISH that reached its handler, refused or not. */
void ob_broker_metrics_publish(ob_broker_metrics_t *self);

/* Counts a confirmed publish: a duplicate (dup), or a new event of bytes bytes stored. */
void ob_broker_metrics_confirm(ob_broker_metrics_t *self, int dup, size_t bytes);

/* Counts a dead letter of bytes bytes stored. */
void ob_broker_metrics_stored(ob_broker_metrics_t *self, size_t bytes);

/* Counts an ERROR reply of wire code code (PROTOCOL.md 8), and a refusal if the code is one
   (FORBIDDEN, LIMIT, TOO_LARGE, BUSY, SHUTDOWN). An unknown code counts as code="UNKNOWN". */
void ob_broker_metrics_error(ob_broker_metrics_t *self, unsigned code);

/* Counts a subscription or admin request (PROTOCOL.md 12, 13: SUBSCRIBE, UNSUBSCRIBE,
   TOPICS, SUBS, SUB_INFO, SUB_REPOSITION, SUB_DELETE, FETCH) of wire command command,
   refused or not, under its name (ob_command_name). */
void ob_broker_metrics_request(ob_broker_metrics_t *self, int command);

/* Counts a group commit of items events (publishes and dead letters; 0 for one that only
   writes subscription state) that took usecs microseconds and returned rc (store.h). */
void ob_broker_metrics_commit(ob_broker_metrics_t *self, size_t items, int rc, int64_t usecs);

/* Observes the durable write of a group commit that succeeded (ob_store_last_sync_us): usecs
   microseconds of page writes and fsyncs. A negative usecs (nothing was written) is
   ignored. */
void ob_broker_metrics_sync(ob_broker_metrics_t *self, int64_t usecs);

/* If OB_BROKER_METRICS_REFRESH_MS have passed since the last refresh (now: zclock_mono),
   copies in the current states: sessions, and what subs and store (both borrowed; either
   may be NULL) report. subs is read, so this runs in the thread that owns it. */
void ob_broker_metrics_refresh(ob_broker_metrics_t *self, int64_t now, size_t sessions,
                               ob_subs_t *subs, ob_store_t *store);

#ifdef __cplusplus
}
#endif
#endif
