/*  ob_poller: the cursor over the Marketplace events feed of one OMS, as a pure state machine
    (no I/O, no clock). The daemon does the reads, fetches and publishes it asks for.

    The feed (marketplace-ordering-api.md 4.3, 2.6, 6.4): GET .../events?from_timestamp=T&limit=L
    returns the first L events whose created_at (microseconds) is strictly after T, in
    created_at order with no tie-breaker, but shows each timestamp to the second only, and an
    event may commit after later ones (an older created_at appearing late).

    The rule. The poller only ever reads from the start of a second: for second S it asks
    from_timestamp = (S-1).999999Z, which returns exactly the events of S and after. In a page,
    every second but the last one shown is complete (the page is in created_at order and goes
    on past it); so is the last one when the page is short (fewer than L events). The poller
    publishes the complete seconds and reads again from the start of the last shown second,
    which it has not published yet. Every page therefore either ends the pass (short page) or
    moves the read position forward by at least one second; except a page full of one second
    (more events in one second than L): then no second of it is complete, and the poller
    re-reads the same second with the limit doubled (the feed has no maximum limit, 2.4), up
    to OB_GW_PAGE_LIMIT_MAX; the limit goes back to the page size after the dense second.
    Since a second is only published when it is entirely in one page, the rank of each event
    among identical events of its second (mp_event.h) is computed over the whole second, the
    same way on every read and re-read. A second holding more than OB_GW_PAGE_LIMIT_MAX events
    ends the pass with OB_ERR_LIMIT and moves nothing: the poller neither loops (the pass ends)
    nor skips (the cursor stays); the daemon reports it. Sub-second bounds cannot help: a
    read returns the first L events after its bound, and as the feed shows no microseconds
    the poller cannot tell where inside the second the L-th one lies, so it cannot name a
    bound between it and the next one.

    Passes and the overlap window. A pass (ob_poller_start) reads from overlap_s seconds
    before the committed cursor to the end of the feed, so that an event committed late with
    an older timestamp, within the window, is still found. Events already emitted by this
    poller (by id, for the window) are not emitted again; after a restart they are, with the
    same ids, and the broker's idempotent publish absorbs them.

    The committed cursor (seconds: every event of a second before it is on the bus) advances
    to the smallest of: the end of what has been read completely, and the second of the
    oldest emitted event the broker has not confirmed. It never goes back.

    Projects hidden by the scope rule (6.4 point 4). Before a project_item.created whose
    project is not known to be announced (the known callback: projects whose project.created
    was confirmed, persisted by the daemon; or one emitted and not yet confirmed), the poller
    emits a synthetic project.created for that project (the daemon fetches the project; its
    id is the real one's, mp_event.h). A feed project.created for an announced project is
    skipped.

    Use:
        ob_poller_start(p, &read);                  // GET events with read.from_timestamp,
        loop: ob_poller_page(p, page, &step, &read) // read.limit; then for each step.emits[i]
              in order: fetch it (ob_mkt_event_path), build (ob_mkt_event_build with its
              rank), publish; while step.more, read again
        on each broker confirmation: ob_poller_confirmed(p, seq, &project_id) (persist
              project_id as announced when it is not 0, before the next call to the poller)
        from time to time: cursor = ob_poller_commit(p), persist it
        on a fetch or publish failure: ob_poller_abort(p); the next pass redoes it. */
#ifndef OB_GW_POLLER_H
#define OB_GW_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"
#include "mp_parse.h"

typedef struct ob_poller ob_poller_t;

/* Returns 1 if the project's project.created is known to be on the bus (persisted), else 0. */
typedef int (*ob_poller_known_fn)(void *arg, uint64_t project_id);

typedef struct ob_poller_config {
    uint64_t oms_id;          /* the OMS whose feed this is */
    uint32_t page_size;       /* limit of an ordinary read: 1..OB_GW_PAGE_LIMIT_MAX */
    uint32_t overlap_s;       /* window re-read: OB_GW_OVERLAP_S_MIN..OB_GW_OVERLAP_S_MAX */
    uint64_t cursor_s;        /* committed cursor (stored, or where to start), in seconds */
    ob_poller_known_fn known; /* announced projects; NULL: none */
    void *known_arg;          /* its argument */
} ob_poller_config_t;

/* The next read of the feed. */
typedef struct ob_poller_read {
    char from_timestamp[OB_GW_TIMESTAMP_TEXT_MAX]; /* "YYYY-MM-DDTHH:MM:SS.999999Z" */
    uint32_t limit;                                /* 1..OB_GW_PAGE_LIMIT_MAX */
} ob_poller_read_t;

/* One event to fetch, build and publish. */
typedef struct ob_poller_emit {
    uint64_t seq;                 /* its number, for ob_poller_confirmed */
    ob_mkt_event_t event;         /* the feed event (changes borrowed from the page), or a
                                     synthetic project create (no changes) */
    uint32_t rank;                /* among identical events of its second */
    int synthetic;                /* 1: project.created made for the next emit's project */
    char id[OB_GW_EVENT_ID_TEXT]; /* the id ob_mkt_event_build will give it */
} ob_poller_emit_t;

/* What one page gave. */
typedef struct ob_poller_step {
    const ob_poller_emit_t *emits; /* count emits, in order; valid until the next call */
    size_t count;                  /* events to publish */
    size_t skipped;                /* events with no mapping (mp_event.h), not published */
    size_t repeated; /* events already on the bus: emitted before (a re-read), or the feed's
                        project.created of a project announced already */
    int more;        /* 1: read again with the read returned; 0: pass done */
} ob_poller_step_t;

/* Creates a poller from config (borrowed, copied). Returns it, or NULL for an invalid config
   (page size or overlap out of range) or no memory. Destroy with ob_poller_destroy. */
ob_poller_t *ob_poller_new(const ob_poller_config_t *config);

/* Frees the poller and sets *self_p to NULL; accepts NULL. */
void ob_poller_destroy(ob_poller_t **self_p);

/* Starts a pass (abandoning one in progress, as ob_poller_abort) and writes its first read
   into *ret_read. Cannot fail. */
void ob_poller_start(ob_poller_t *self, ob_poller_read_t *ret_read);

/* Takes the page (borrowed; keep it until the step's emits are built) that the last read
   returned. Writes what to publish into *ret_step and, when ret_step->more, the next read
   into *ret_read. Returns 0; OB_ERR_INVALID_ARGUMENT (no read in progress);
   OB_ERR_MALFORMED (the page breaks the feed's contract: more events than the limit, an event
   before the read's second, seconds out of order; nothing changes, the pass ends);
   OB_ERR_LIMIT (one second holds more than OB_GW_PAGE_LIMIT_MAX events: the pass ends,
   the cursor stays); or -ENOMEM (the pass is abandoned). */
int ob_poller_page(ob_poller_t *self, const ob_mkt_page_t *page, ob_poller_step_t *ret_step,
                   ob_poller_read_t *ret_read);

/* Records the broker's confirmation of emit seq. If that emit was a project.created,
   *ret_project_id is its project, which the daemon persists so that the known callback
   returns 1 for it from then on; else 0. Returns 0, or OB_ERR_INVALID_ARGUMENT (seq unknown:
   never emitted, confirmed already, or abandoned by ob_poller_abort). */
int ob_poller_confirmed(ob_poller_t *self, uint64_t seq, uint64_t *ret_project_id);

/* Abandons the pass and every emit not yet confirmed: the next pass emits them again. */
void ob_poller_abort(ob_poller_t *self);

/* Advances the committed cursor as far as the reads and confirmations allow (see above) and
   returns it (seconds); never less than before. The daemon persists it. */
uint64_t ob_poller_commit(ob_poller_t *self);

/* Emits not yet confirmed. */
size_t ob_poller_pending(const ob_poller_t *self);

#endif
