/*  ob_broker_metrics: see broker_metrics.h. */
#include "broker_metrics.h"

#include <czmq.h>
#include <string.h>

#include "command_table.h"
#include "orderbus/error.h"

#define S_P OB_BROKER_METRICS_PREFIX
#define S_USECS_PER_SECOND 1e6

/* Error names by wire code: the OB_ERR_* name without its prefix, as PROTOCOL.md 8 names
   them (`LIMIT`, `FORBIDDEN`). */
#define S_ERR_PREFIX_LEN (sizeof "OB_ERR_" - 1)
#define S_X_NAME(name, code, text) [code] = &#name[S_ERR_PREFIX_LEN],
static const char *const s_error_names[] = {OB_ERRORS(S_X_NAME)};
#undef S_X_NAME
#define S_ERROR_CODES (sizeof s_error_names / sizeof s_error_names[0])
#define S_ERROR_UNKNOWN "UNKNOWN"

/* The wire codes of the refusals: the broker declined a request by policy or state, not for
   a fault of the request (OB_ERR_BASE - rc is the wire code: orderbus/error.h). */
static const unsigned s_refusals[] = {OB_ERR_BASE - OB_ERR_FORBIDDEN, OB_ERR_BASE - OB_ERR_LIMIT,
                                      OB_ERR_BASE - OB_ERR_TOO_LARGE, OB_ERR_BASE - OB_ERR_BUSY,
                                      OB_ERR_BASE - OB_ERR_SHUTDOWN};
#define S_REFUSALS (sizeof s_refusals / sizeof s_refusals[0])

/* Buckets: events in a commit (0: subscription state only), and its duration. */
static const double s_batch_bounds[] = {0, 1, 4, 16, 64, 256, 1024, 4096, 16384};
static const double s_commit_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define S_COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

struct ob_broker_metrics {
    ob_metrics_t *registry;    /* owned */
    ob_metric_t *publishes;    /* counter */
    ob_metric_t *confirms;     /* counter */
    ob_metric_t *duplicates;   /* counter */
    ob_metric_t *stored;       /* counter: events stored */
    ob_metric_t *stored_bytes; /* counter */
    ob_metric_t *errors;       /* counter{code} */
    ob_metric_t *refusals;     /* counter{reason} */
    ob_metric_t *requests;     /* counter{command} */
    ob_metric_t *batch;        /* histogram: events per commit */
    ob_metric_t *commit;       /* histogram: seconds per commit */
    ob_metric_t *sync;         /* histogram: seconds of a commit's durable write */
    ob_metric_t *commit_fail;  /* counter */
    ob_metric_t *delivered;    /* counter, from ob_subs_stats */
    ob_metric_t *redelivered;  /* counter, from ob_subs_stats */
    ob_metric_t *acked;        /* counter, from ob_subs_stats */
    ob_metric_t *nacked;       /* counter, from ob_subs_stats */
    ob_metric_t *dead;         /* counter, from ob_subs_stats */
    ob_metric_t *skipped;      /* counter, from ob_subs_stats */
    ob_metric_t *removed;      /* counter, from ob_store_stats */
    ob_metric_t *removed_b;    /* counter, from ob_store_stats */
    ob_metric_t *sessions;     /* gauge */
    ob_metric_t *subs;         /* gauge */
    ob_metric_t *events;       /* gauge */
    ob_metric_t *topics;       /* gauge */
    ob_metric_t *map_bytes;    /* gauge */
    ob_metric_t *ckpts;        /* counter, from ob_store_stats */
    ob_metric_t *ckpt_fail;    /* counter, from ob_store_stats */
    ob_metric_t *pending_b;    /* gauge: journal bytes not yet checkpointed */
    ob_metric_t *replayed;     /* gauge: journal records replayed at start */
    ob_metric_t *lag;          /* gauge{subscription} */
    ob_metric_t *pending;      /* gauge{subscription} */
    ob_metric_t *other_lag;    /* gauge: ephemeral and uncapped subscriptions */
    ob_metric_t *other_pend;   /* gauge: the same */
    /* the refresh's own state (one thread) */
    int64_t next_refresh;   /* zclock_mono of the next refresh */
    ob_subs_stats_t subs_0; /* the subscriptions' counters at the last refresh */
    ob_store_stats_t st_0;  /* the store's counters at the last refresh */
    zhashx_t *shown;        /* names of the subscriptions with series, no values */
    zhashx_t *seen;         /* the same, being built by a refresh */
    double sum_lag;         /* the _other lag sum, being built by a refresh */
    double sum_pending;     /* the _other pending sum, likewise */
};

/* Returns the number of commands a client sends (command_table.h), to bound the `command`
   label of requests_total (one more for ob_command_name's name of no command). */
static size_t
s_client_commands(void)
{
    size_t n = 0;
    for (int command = 0; command <= UINT8_MAX; command++) { /* a command is a byte */
        const ob_command_info_t *info = ob_command_info(command);
        if (info && info->dir == OB_COMMAND_TO_BROKER)
            n++;
    }
    return n;
}

static ob_metric_t *
s_counter(ob_broker_metrics_t *self, const char *name, const char *help)
{
    return ob_metrics_counter(self->registry, name, help, NULL, 0, 0);
}

static ob_metric_t *
s_gauge(ob_broker_metrics_t *self, const char *name, const char *help)
{
    return ob_metrics_gauge(self->registry, name, help, NULL, 0, 0);
}

ob_broker_metrics_t *
ob_broker_metrics_new(void)
{
    static const char *const code[] = {"code"};
    static const char *const reason[] = {"reason"};
    static const char *const command[] = {"command"};
    static const char *const sub[] = {"subscription"};
    ob_broker_metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->registry = ob_metrics_new();
    self->shown = zhashx_new();
    if (!self->registry || !self->shown)
        goto fail;

    self->publishes =
        s_counter(self, S_P "publishes_total",
                  "PUBLISH messages of a session, refused ones included (not those of no "
                  "session, during shutdown or malformed, which count in errors_total only).");
    self->confirms = s_counter(self, S_P "confirms_total",
                               "Publishes confirmed (CONFIRM): new events and duplicates.");
    self->duplicates = s_counter(self, S_P "duplicates_total",
                                 "Publishes confirmed as duplicates of a stored event id.");
    self->stored = s_counter(self, S_P "events_stored_total",
                             "Events stored: new publishes and dead letters.");
    self->stored_bytes =
        s_counter(self, S_P "stored_bytes_total", "Bytes of the events stored (event frames).");
    self->errors = ob_metrics_counter(self->registry, S_P "errors_total",
                                      "ERROR replies sent, by error code (PROTOCOL.md 8).", code, 1,
                                      S_ERROR_CODES + 1);
    self->refusals = ob_metrics_counter(
        self->registry, S_P "refusals_total",
        "Requests refused by policy or state (also counted in errors_total), by reason.", reason, 1,
        S_REFUSALS);
    self->requests = ob_metrics_counter(
        self->registry, S_P "requests_total",
        "Subscription and admin requests (SUBSCRIBE, TOPICS, FETCH, ...), refused ones "
        "included, by command.",
        command, 1, s_client_commands() + 1);
    self->batch =
        ob_metrics_histogram(self->registry, S_P "commit_batch_events",
                             "Events written by one group commit (0: subscription state only).",
                             NULL, 0, 0, s_batch_bounds, S_COUNT_OF(s_batch_bounds));
    self->commit = ob_metrics_histogram(
        self->registry, S_P "commit_duration_seconds",
        "Time of one group commit in the writer: LMDB transaction, journal write and fdatasync.",
        NULL, 0, 0, s_commit_bounds, S_COUNT_OF(s_commit_bounds));
    self->sync = ob_metrics_histogram(
        self->registry, S_P "commit_sync_seconds",
        "Time of the durable write of one group commit: its journal record's write and "
        "fdatasync.",
        NULL, 0, 0, s_commit_bounds, S_COUNT_OF(s_commit_bounds));
    self->commit_fail = s_counter(self, S_P "commit_failures_total",
                                  "Group commits that failed (their publishes got STORAGE).");
    self->delivered = s_counter(self, S_P "deliveries_total",
                                "Events delivered to subscribers, redeliveries included.");
    self->redelivered =
        s_counter(self, S_P "redeliveries_total", "Deliveries of an attempt after the first.");
    self->acked = s_counter(self, S_P "acks_total", "Deliveries acked.");
    self->nacked = s_counter(self, S_P "nacks_total", "Deliveries nacked.");
    self->dead = s_counter(self, S_P "dead_letters_total",
                           "Events given up after max_attempts and sent to a dlq. topic.");
    self->skipped = s_counter(self, S_P "deliveries_skipped_total",
                              "Events removed by retention before a subscription got them.");
    self->removed =
        s_counter(self, S_P "retention_removed_events_total", "Events removed by retention.");
    self->removed_b = s_counter(self, S_P "retention_removed_bytes_total",
                                "Bytes of the events removed by retention.");
    self->sessions = s_gauge(self, S_P "sessions", "Sessions (clients that said HELLO).");
    self->subs = s_gauge(self, S_P "subscriptions", "Subscriptions, ephemeral ones included.");
    self->events = s_gauge(self, S_P "store_events", "Events held in the store, all topics.");
    self->topics = s_gauge(self, S_P "store_topics", "Topics in the store.");
    self->map_bytes = s_gauge(self, S_P "store_map_bytes", "Size of the LMDB map.");
    self->ckpts = s_counter(self, S_P "checkpoints_total",
                            "Checkpoints: LMDB's file synced behind the journal.");
    self->ckpt_fail = s_counter(self, S_P "checkpoint_failures_total",
                                "Checkpoints that failed (the journal keeps their records).");
    self->pending_b = s_gauge(self, S_P "journal_pending_bytes",
                              "Journal bytes written since the last checkpoint: what a restart "
                              "after a crash would replay.");
    self->replayed =
        s_gauge(self, S_P "journal_replayed_records", "Journal records replayed at start.");
    self->lag = ob_metrics_gauge(self->registry, S_P "subscription_lag_events",
                                 "Events of a durable subscription's topics not yet done.", sub, 1,
                                 OB_BROKER_METRICS_SUBS_MAX);
    self->pending = ob_metrics_gauge(self->registry, S_P "subscription_pending",
                                     "Deliveries of a durable subscription awaiting an ack.", sub,
                                     1, OB_BROKER_METRICS_SUBS_MAX);
    self->other_lag =
        s_gauge(self, S_P "subscription_other_lag_events",
                "Lag of the ephemeral subscriptions and of those beyond the per-subscription "
                "series, summed.");
    self->other_pend =
        s_gauge(self, S_P "subscription_other_pending",
                "Pending deliveries of the ephemeral subscriptions and of those beyond the "
                "per-subscription series, summed.");
    /* A NULL is a programmer's error (a bad name); the last one stands for all of them. */
    if (!self->publishes || !self->confirms || !self->duplicates || !self->stored ||
        !self->stored_bytes || !self->errors || !self->refusals || !self->requests ||
        !self->batch || !self->commit || !self->sync || !self->commit_fail || !self->delivered ||
        !self->redelivered || !self->acked || !self->nacked || !self->dead || !self->skipped ||
        !self->removed || !self->removed_b || !self->sessions || !self->subs || !self->events ||
        !self->topics || !self->map_bytes || !self->lag || !self->pending || !self->other_lag ||
        !self->other_pend)
        goto fail;
    return self;
fail:
    ob_broker_metrics_destroy(&self);
    return NULL;
}

void
ob_broker_metrics_destroy(ob_broker_metrics_t **self_p)
{
    ob_broker_metrics_t *self = *self_p;
    if (!self)
        return;
    ob_metrics_destroy(&self->registry);
    zhashx_destroy(&self->shown);
    zhashx_destroy(&self->seen);
    free(self);
    *self_p = NULL;
}

ob_metrics_t *
ob_broker_metrics_registry(ob_broker_metrics_t *self)
{
    return self ? self->registry : NULL;
}

void
ob_broker_metrics_publish(ob_broker_metrics_t *self)
{
    if (self)
        ob_metric_add(self->publishes, NULL, 1);
}

void
ob_broker_metrics_confirm(ob_broker_metrics_t *self, int dup, size_t bytes)
{
    if (!self)
        return;
    ob_metric_add(self->confirms, NULL, 1);
    if (dup)
        ob_metric_add(self->duplicates, NULL, 1);
    else
        ob_broker_metrics_stored(self, bytes);
}

void
ob_broker_metrics_stored(ob_broker_metrics_t *self, size_t bytes)
{
    if (!self)
        return;
    ob_metric_add(self->stored, NULL, 1);
    ob_metric_add(self->stored_bytes, NULL, (double)bytes);
}

void
ob_broker_metrics_error(ob_broker_metrics_t *self, unsigned code)
{
    if (!self)
        return;
    const char *name[1] = {code < S_ERROR_CODES && s_error_names[code] ? s_error_names[code]
                                                                       : S_ERROR_UNKNOWN};
    ob_metric_add(self->errors, name, 1);
    for (size_t i = 0; i < S_REFUSALS; i++)
        if (s_refusals[i] == code)
            ob_metric_add(self->refusals, name, 1);
}

void
ob_broker_metrics_request(ob_broker_metrics_t *self, int command)
{
    if (!self)
        return;
    const char *name[1] = {ob_command_name(command)};
    ob_metric_add(self->requests, name, 1);
}

void
ob_broker_metrics_commit(ob_broker_metrics_t *self, size_t items, int rc, int64_t usecs)
{
    if (!self)
        return;
    ob_metric_observe(self->batch, NULL, (double)items);
    ob_metric_observe(self->commit, NULL, (double)usecs / S_USECS_PER_SECOND);
    if (rc)
        ob_metric_add(self->commit_fail, NULL, 1);
}

void
ob_broker_metrics_sync(ob_broker_metrics_t *self, int64_t usecs)
{
    if (!self || usecs < 0)
        return;
    ob_metric_observe(self->sync, NULL, (double)usecs / S_USECS_PER_SECOND);
}

/* Adds to counter how much now is above *last, and makes now the last. Counters since start
   never go down; if one did, nothing is added. */
static void
s_delta(ob_metric_t *counter, uint64_t now, uint64_t *last)
{
    if (now > *last)
        ob_metric_add(counter, NULL, (double)(now - *last));
    *last = now;
}

/* ob_subs_each_fn: one subscription's lag and pending, into its series or the _other sums. */
static void
s_on_sub(void *arg, const char *name, int ephemeral, uint64_t lag, uint64_t pending)
{
    ob_broker_metrics_t *self = arg;
    const char *values[1] = {name};
    /* A series beyond OB_BROKER_METRICS_SUBS_MAX is refused (OB_ERR_LIMIT) and changes
       nothing: that subscription is summed with the others until a slot is free. */
    if (!ephemeral && ob_metric_set(self->lag, values, (double)lag) == 0 &&
        ob_metric_set(self->pending, values, (double)pending) == 0) {
        if (self->seen)
            zhashx_insert(self->seen, name, self); /* any non-NULL value */
        return;
    }
    self->sum_lag += (double)lag;
    self->sum_pending += (double)pending;
}

/* Copies the subscriptions' states, and drops the series of those that are gone. */
static void
s_refresh_subs(ob_broker_metrics_t *self, ob_subs_t *subs)
{
    ob_subs_stats_t st;
    ob_subs_stats(subs, &st);
    s_delta(self->delivered, st.delivered, &self->subs_0.delivered);
    s_delta(self->redelivered, st.redelivered, &self->subs_0.redelivered);
    s_delta(self->acked, st.acked, &self->subs_0.acked);
    s_delta(self->nacked, st.nacked, &self->subs_0.nacked);
    s_delta(self->dead, st.dead_lettered, &self->subs_0.dead_lettered);
    s_delta(self->skipped, st.skipped, &self->subs_0.skipped);
    ob_metric_set(self->subs, NULL, (double)st.subscriptions);

    /* Out of memory for the set of names, the series stay as they are (none dropped) and
       the next refresh tries again. */
    self->seen = zhashx_new();
    self->sum_lag = self->sum_pending = 0;
    ob_subs_each(subs, s_on_sub, self);
    ob_metric_set(self->other_lag, NULL, self->sum_lag);
    ob_metric_set(self->other_pend, NULL, self->sum_pending);
    if (!self->seen)
        return;
    for (void *item = zhashx_first(self->shown); item; item = zhashx_next(self->shown)) {
        const char *values[1] = {zhashx_cursor(self->shown)};
        if (!zhashx_lookup(self->seen, values[0])) {
            ob_metric_remove(self->lag, values);
            ob_metric_remove(self->pending, values);
        }
    }
    zhashx_destroy(&self->shown);
    self->shown = self->seen;
    self->seen = NULL;
}

void
ob_broker_metrics_refresh(ob_broker_metrics_t *self, int64_t now, size_t sessions, ob_subs_t *subs,
                          ob_store_t *store)
{
    if (!self || now < self->next_refresh)
        return;
    self->next_refresh = now + OB_BROKER_METRICS_REFRESH_MS;
    ob_metric_set(self->sessions, NULL, (double)sessions);
    if (subs)
        s_refresh_subs(self, subs);
    ob_store_stats_t st;
    if (store && ob_store_stats(store, &st) == 0) {
        ob_metric_set(self->events, NULL, (double)st.events);
        ob_metric_set(self->topics, NULL, (double)st.topics);
        ob_metric_set(self->map_bytes, NULL, (double)st.map_size);
        s_delta(self->removed, st.removed, &self->st_0.removed);
        s_delta(self->removed_b, st.removed_bytes, &self->st_0.removed_bytes);
        s_delta(self->ckpts, st.checkpoints, &self->st_0.checkpoints);
        s_delta(self->ckpt_fail, st.checkpoint_failures, &self->st_0.checkpoint_failures);
        ob_metric_set(self->pending_b, NULL, (double)st.journal_pending);
        ob_metric_set(self->replayed, NULL, (double)st.replayed);
    }
}
