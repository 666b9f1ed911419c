/*  ob_ftrigger: the Ordering API facade's triggers out (issue 17). An OMS written for the
    Marketplace waits for its trigger: a bodiless call of its trigger URL whenever new events
    concern it (reference section 6). For each OMS whose `oms` section has a
    facade_trigger_url, the gateway makes that call when the facade serves new events of
    oms.<oms_id>, as the Marketplace makes it (6.2): the configured method (GET, POST or PUT), the
   URL verbatim, no body, and with facade_trigger_user the basic credentials in the Authorization
   header as the Marketplace documents them, "Basic " and the URL-safe, padded Base64 of
   "user:password" (not in a query or a form body, where the Marketplace's code puts them by
   accident: 6.2's discrepancy).

    Better than the Marketplace's one call per event (6.1): calls are coalesced, one in
    flight per OMS, and one more after it if events arrived meanwhile; a call that fails (no
    answer within OB_GW_FT_TIMEOUT_MS, or a status other than 2xx) is retried after a backoff
    doubling from OB_GW_BACKOFF_MS_MIN to OB_GW_BACKOFF_MS_MAX, and a success resets it.
    Nothing else waits for a trigger: the calls run in an actor of their own.

    How new events are seen: from the facade's view (facade_view.h), not from the topic. A
    trigger means "the facade now serves something new": the view's thread calls
    ob_ftrigger_notify after each range it commits that added events to an OMS's events
    index (what GET .../events answers from then on), so an OMS that reads /events when
    called finds them; an event on oms.<oms_id> that the view has not applied yet calls
    nothing. Hence facade_trigger_url needs facade = 1 (gw_config refuses it otherwise).
    What replaces following the topic across broker sessions: the view reads every topic
    after a new session and notifies what it adds; and at its start the view notifies
    every OMS whose view holds events, one call each, for a call pending or in flight
    when the gateway stopped (a trigger is only a hint; a spare one costs the OMS one read
    of /events). The password is read once (gw_config) and never logged; neither are the
    URL and the header.

    The state of one OMS is the pure ob_ft_state_t below, driven by the actor and by its
    unit test. */
#ifndef OB_GW_FACADE_TRIGGER_H
#define OB_GW_FACADE_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"
#include "gw_stats.h"

/* The coalescing and backoff of one OMS's calls. Times are monotonic ms. */
typedef struct ob_ft_state {
    int pending;        /* events arrived since the last call began */
    int in_flight;      /* a call is running */
    int64_t retry_at;   /* no call before this (after a failure) */
    int64_t backoff_ms; /* the last backoff, 0 after a success */
} ob_ft_state_t;

/* Notes that events arrived. */
void ob_ft_state_events(ob_ft_state_t *self);

/* Returns 1 if a call should start at now (events pending, none in flight, not backing
   off) and marks it started (events seen until now are its); else 0. */
int ob_ft_state_start(ob_ft_state_t *self, int64_t now);

/* Notes the end of the call in flight at now: ok 1 for a 2xx. A failure keeps the events
   pending and backs off. */
void ob_ft_state_done(ob_ft_state_t *self, int ok, int64_t now);

/* Returns the monotonic ms at which ob_ft_state_start would start a call, INT64_MAX if
   none is pending or one is in flight. */
int64_t ob_ft_state_due(const ob_ft_state_t *self);

/* Writes "Authorization: Basic " and the URL-safe, padded Base64 of "user:password" (both
   borrowed) into a new string, the caller's to zero and free. Returns it, or NULL (no
   memory). */
char *ob_ft_auth_header(const char *user, const char *password);

typedef struct ob_ftrigger ob_ftrigger_t;

/* Starts the triggers of cfg's OMSes that have a facade_trigger_url (cfg and stats
   borrowed until destroy: the URLs and passwords are read from cfg); with none, starts
   nothing and returns an idle object. Returns it (owned) or NULL with a message in errbuf
   (no memory, curl cannot be made). */
ob_ftrigger_t *ob_ftrigger_new(const ob_gw_config_t *cfg, ob_gw_stats_t *stats, char *errbuf,
                               size_t errlen);

/* Notes that the facade now serves new events of oms_id: its trigger is called (coalesced,
   after any backoff). Safe from any thread; never blocks (an atomic flag and
   curl_multi_wakeup). An OMS without a trigger, or self NULL or idle: nothing. */
void ob_ftrigger_notify(ob_ftrigger_t *self, uint64_t oms_id);

/* Stops the actor (calls in flight are abandoned) and frees it; sets *self_p to NULL;
   accepts NULL. */
void ob_ftrigger_destroy(ob_ftrigger_t **self_p);

#endif
