/*  ob_feed: the poller runtime. One CZMQ actor (a thread) drives an ob_poller per registered
    OMS with libcurl's multi interface (keep-alive connections, per-request timeouts, no
    thread per request): it reads the events feed, fetches the resource each event names (up
    to OB_GW_FETCHES_MAX at once, published in feed order), publishes the enriched events to
    oms.<oms_id> pipelined (ob_client_publish_async), and persists the cursor and announced
    projects (gw_store) as the broker confirms.

    When a pass runs: at start, every poll_interval, and at once after ob_feed_wake (a
    trigger). Triggers coalesce: any number of them while a pass runs, or before it starts,
    cause one more pass. A failed pass (a transport error, a timeout, a 5xx or other
    unexpected status, a page the poller refuses, the broker refusing or not confirming) is
    abandoned (ob_poller_abort: the cursor stays, nothing is skipped) and retried after a
    backoff doubling from OB_GW_BACKOFF_MS_MIN to OB_GW_BACKOFF_MS_MAX. An event whose
    resource the Marketplace answers 404 for (gone), or sends in a form the parser refuses or
    too large for an event, is published without a snapshot (empty data) and counted as an
    error of kind "resource": the feed never stalls on one resource.

    Stop (ob_feed_destroy): no new pass starts; the pass in flight finishes, then the actor
    waits for the broker's confirmations and commits the cursor, for at most OB_GW_STOP_MS.

    Threads: ob_feed_wake and the status functions may be called from any thread (the HTTP
    server's); everything else from the creating thread. */
#ifndef OB_GW_FEED_H
#define OB_GW_FEED_H

#include <stddef.h>

#include "gw_config.h"
#include "gw_stats.h"
#include "gw_store.h"

typedef struct ob_feed ob_feed_t;

/* Starts the feed actor for cfg (borrowed until destroy: it holds the OMSes and their
   secrets), store and stats (borrowed until destroy). Returns the feed (owned) or NULL with
   a message in errbuf: the broker client cannot be made (a bad endpoint or certificate), a
   stored cursor cannot be read, no memory. */
ob_feed_t *ob_feed_new(const ob_gw_config_t *cfg, ob_gw_store_t *store, ob_gw_stats_t *stats,
                       char *errbuf, size_t errlen);

/* Stops the actor as described at the top, frees the feed and sets *self_p to NULL; accepts
   NULL. */
void ob_feed_destroy(ob_feed_t **self_p);

/* Asks for a pass over OMS number oms_index (its place in cfg->oms). Any thread; returns at
   once. */
void ob_feed_wake(ob_feed_t *self, size_t oms_index);

/* Returns 1 if the last read of OMS oms_index's feed was answered (the Marketplace is
   reachable with its token), else 0. Any thread. */
int ob_feed_mp_ok(ob_feed_t *self, size_t oms_index);

/* Returns 1 if the broker has welcomed the gateway and confirms its publishes, else 0. Any
   thread. */
int ob_feed_broker_ok(ob_feed_t *self);

#endif
