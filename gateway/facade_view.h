/*  ob_facade_view: the facade's view of each registered OMS (issue 17): what GET
    /api/v1/oms/{oms_id}/... answers from (facade_read.h), kept in an LMDB environment of its
    own, <data_dir>/facade, from the events of oms.<oms_id>.

    Built by a thread with its own broker client (clients are not thread-safe) that reads
    each OMS's topic by FETCH ranges (up to OB_FETCH_RANGE_MAX events) from its stored
    position: at start, again at once while ranges come full, and whenever the topic has
    more. It learns of more without polling: ephemeral subscriptions (up to
    OB_SUB_PATTERNS_MAX topics each, of the event types that change the view, from their
    end) whose deliveries it acks at once; a delivery says that its topic holds more. After a
    new broker session (events stored without one are not delivered to ephemeral
    subscriptions) and every OB_GW_FACADE_IDLE_MS anyway it reads every topic; if it cannot
    subscribe (the gateway's broker key lacks the right), it reads them every
    OB_GW_FACADE_POLL_MS instead, and says so in the log. Each range goes into the view in
    ONE write transaction with the position: a kill -9 leaves both as of the last range
    committed, and the next start goes on from there (a range applied twice would change
    nothing anyway: records are keyed by seq and by id).

    Why an environment of its own rather than named databases of the gateway's (gw_store.h):
    the view is a cache the topic rebuilds, it grows with every event, and its thread is its
    only writer, which grows its map itself (ob_mdb_grow) whenever it fills, without waiting
    for the feed thread that grows the gateway's; deleting the directory loses nothing but
    the view. One gateway per data directory holds for it too (the gateway's lock).

    What a view holds per OMS (ob_facade_index says what each event gives):
      - its position: the next seq to read, the last event timestamp given (timestamps
        strictly increase, facade_read.h), counts;
      - the events index: per mirrored feed event, its seq, its timestamp (µs) and its
        Marketplace fields; and the timestamp -> seq index that from_timestamp uses;
      - the latest snapshot of each project, item (project, iid) and message, from the feed
        events' data and from command.completed outcomes, whichever comes later on the topic;
        a project's "project_items" also gets the iids of the items the view has seen
        (ob_facade_project_merge); a message is listed in its project or item (from its feed
        event, or its post_message outcome).
    Not held: anything the topic never carried (items of the project that belong to other
    OMSes, resources last changed before the topic's retention horizon).

    Key layout: one unnamed database; keys are a tag byte and big-endian u64s:
        'P' oms                 -> position: u64 next seq, u64 last timestamp (µs),
                                   u64 events indexed, u64 seqs lost to retention
        'E' oms seq             -> u64 timestamp (µs), then the event's fields (facade_read.h)
        'T' oms timestamp       -> u64 seq
        'p' oms project         -> the project's snapshot (JSON)
        'i' oms project iid     -> the item's snapshot
        'm' oms message         -> u64 project, u64 iid (0, 0: placement unknown), snapshot
        's' oms project iid msg -> (empty): message msg is listed on project (iid 0) or item

    Lost and found: a view with no position for an OMS (a new OMS, a deleted directory)
    is built from seq 1. Retention that removed seqs before the view read them (the first
    seq of a range above the one asked for) is logged with the seqs lost and counted in
    orderbus_gateway_facade_view_lost_total{oms}; the view goes on with what is stored. A
    topic that holds fewer events than the view has read (the broker's data was lost) makes
    the view of that OMS start again from seq 1, logged.

    Notifications: after a range that added events to an OMS's events index is committed
    (so a reader sees them), the thread calls the callback of ob_facade_view_on_events with
    the OMS, and at its start once for each OMS whose view holds events; the triggers out
    (facade_trigger.h) follow the view this way, not the topic.

    Readers (libmicrohttpd's thread, ob_facade_view_answer) take a read transaction under a
    rwlock held for reading; the thread takes it for writing only to grow the map. */
#ifndef OB_GW_FACADE_VIEW_H
#define OB_GW_FACADE_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "facade_read.h"
#include "gw_config.h"
#include "metrics.h"
#include "orderbus/client.h"

typedef struct ob_facade_view ob_facade_view_t;

/* Opens (creating, mode 0700) the view's environment in dir (borrowed). No thread runs:
   ob_facade_view_apply writes it, ob_facade_view_answer reads it. registry (borrowed until
   destroyed; NULL: no metrics) gets the view's metrics. Returns the view (owned,
   ob_facade_view_destroy) or NULL with a message in errbuf. */
ob_facade_view_t *ob_facade_view_open(const char *dir, ob_metrics_t *registry, char *errbuf,
                                      size_t errlen);

/* Called after the view has new events of oms_id to serve, from the thread that applied
   them; must not block (arg is the one given to ob_facade_view_on_events). */
typedef void (*ob_facade_view_notify_fn)(void *arg, uint64_t oms_id);

/* Sets fn (NULL: none) with arg (borrowed until destroyed), before ob_facade_view_start:
   it is called after each ob_facade_view_apply that committed events into oms_id's events
   index (what GET .../events answers from then on; not for a range of outcomes or of
   events it skipped), and by the view's thread at its start for each OMS of cfg whose view
   already holds events (the triggers out: facade_trigger.h). */
void ob_facade_view_on_events(ob_facade_view_t *self, ob_facade_view_notify_fn fn, void *arg);

/* Starts the thread that follows oms.<id> of every OMS of cfg (borrowed until destroyed)
   through the broker of cfg. Returns 0, or -1 with a message in errbuf (no memory, no
   thread, no client). */
int ob_facade_view_start(ob_facade_view_t *self, const ob_gw_config_t *cfg, char *errbuf,
                         size_t errlen);

/* Applies a range of events of oms.<oms_id> (events: count entries in seq order, borrowed)
   and sets the OMS's position to next, in one transaction. An event that does not decode
   is skipped (logged once by the caller's thread). first_asked is the seq that was asked
   for: events below the first one given are counted as lost. Returns 0 or an error
   (OB_ERR_STORAGE, -errno, -ENOMEM); on error nothing of the range is applied. */
int ob_facade_view_apply(ob_facade_view_t *self, uint64_t oms_id, uint64_t first_asked,
                         const ob_fetched_t *events, size_t count, uint64_t next);

/* The position of oms_id: the next seq to read (1 when none is stored) into *ret_next, and
   the seqs lost to retention into *ret_lost (may be NULL). Returns 0 or an error. */
int ob_facade_view_position(ob_facade_view_t *self, uint64_t oms_id, uint64_t *ret_next,
                            uint64_t *ret_lost);

/* Drops everything the view holds of oms_id (its position too). Returns 0 or an error. */
int ob_facade_view_reset(ob_facade_view_t *self, uint64_t oms_id);

/* Answers the read route (borrowed; route->oms_id is the OMS) with query (borrowed) from
   the view, as ob_facade_answer does: *ret_answer filled on 0. Safe from any thread, at the
   same time as the view's own. Returns 0, or an error (the caller answers 500). */
int ob_facade_view_answer(ob_facade_view_t *self, const ob_facade_route_t *route,
                          const ob_facade_query_t *query, ob_facade_answer_t *ret_answer);

/* Stops the thread (the range in flight is committed or not at all) and closes the view;
   sets *self_p to NULL; accepts NULL. */
void ob_facade_view_destroy(ob_facade_view_t **self_p);

#endif
