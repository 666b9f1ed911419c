/*  orderbus-bench: the subscription modes (fanout, replay, latency, stall; see s_usage in
    bench.c and the issue "Durable subscriptions"). Each run spawns a broker in a fresh data
    directory (unless --endpoint names a running one: then topics and subscription names are
    made unique by pid and run), and each publisher and subscriber is its own ob_client in its
    own thread. Threads share nothing but their result structs, read after pthread_join, and
    the counters and the gate of the stall mode, which main reads while they run (atomics).

    A subscriber counts an event once: it remembers the seqs it has seen (the topic is new,
    so its seqs are 1..N), so that a redelivery, which at-least-once allows, is counted apart
    and cannot make a run look complete early. */

#include <czmq.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---------------------------------------------------------------------------------------- */
/* Per-run broker */

typedef struct {
    pid_t pid;           /* spawned broker, 0 if --endpoint */
    char endpoint[256];  /* where it listens */
    char data_dir[1024]; /* its fresh data directory */
} s_broker_t;

/* Starts a broker for run of mode in a fresh data directory, or uses --endpoint. */
static int
s_broker_up(const bench_opts_t *opts, const char *mode, int run, s_broker_t *self)
{
    memset(self, 0, sizeof *self);
    if (opts->endpoint) {
        snprintf(self->endpoint, sizeof self->endpoint, "%s", opts->endpoint);
        return 0;
    }
    snprintf(self->data_dir, sizeof self->data_dir, "%s/%s-%d", opts->dir, mode, run);
    ob_bench_dir_remove(self->data_dir);
    self->pid = ob_bench_broker_start(opts, self->data_dir, self->endpoint, sizeof self->endpoint);
    return self->pid > 0 ? 0 : -1;
}

/* Stops a spawned broker and removes its data. */
static void
s_broker_down(s_broker_t *self)
{
    if (self->pid <= 0)
        return;
    ob_bench_broker_stop(&self->pid);
    ob_bench_dir_remove(self->data_dir);
}

/* ---------------------------------------------------------------------------------------- */
/* Threads: a publisher, a subscriber, and the gate main steers them with */

typedef struct {
    pthread_mutex_t lock; /* guards the waits on cond */
    pthread_cond_t cond;  /* signalled when stop is set */
    atomic_int stall;     /* 1: stalling subscribers stop reading (stall mode's phase 2) */
    atomic_int stop;      /* 1: every thread ends */
} s_gate_t;

static void
s_gate_init(s_gate_t *self)
{
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    atomic_init(&self->stall, 0);
    atomic_init(&self->stop, 0);
}

static void
s_gate_destroy(s_gate_t *self)
{
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
}

static void
s_gate_stop(s_gate_t *self)
{
    pthread_mutex_lock(&self->lock);
    atomic_store(&self->stop, 1);
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

/* Blocks until s_gate_stop: what a stalled subscriber does instead of reading. */
static void
s_gate_wait_stop(s_gate_t *self)
{
    pthread_mutex_lock(&self->lock);
    while (!atomic_load(&self->stop))
        pthread_cond_wait(&self->cond, &self->lock);
    pthread_mutex_unlock(&self->lock);
}

typedef struct {
    const bench_opts_t *opts;   /* borrowed */
    const char *endpoint;       /* borrowed */
    const char *topic;          /* borrowed */
    int run;                    /* for unique event ids */
    long count;                 /* events to publish; 0: until the gate stops */
    double rate;                /* events/s on an absolute schedule; 0: unpaced */
    int send_time;              /* 1: each event's time_us is its send time (monotonic µs) */
    const uint8_t *data;        /* payload, borrowed */
    size_t data_len;            /* bytes at data */
    pthread_barrier_t *barrier; /* every thread connected (and subscribed): start */
    s_gate_t *gate;             /* borrowed */
    atomic_long confirmed;      /* out: publishes confirmed (main reads it while running) */
    long errors;                /* out: refused or failed publishes */
    double first_us;            /* out: when the first publish was made */
    double end_us;              /* out: when the last confirmation arrived */
    double max_lag_us;          /* out: latest a paced publish was made after it was due */
} s_pub_t;

/* Takes every confirmation that has arrived, waiting up to timeout_ms for the first. */
static void
s_pub_drain(s_pub_t *self, ob_client_t *client, int timeout_ms)
{
    ob_confirm_t c;
    while (ob_client_confirm_next(client, timeout_ms, &c) == 0) {
        if (c.rc == 0)
            atomic_fetch_add_explicit(&self->confirmed, 1, memory_order_relaxed);
        else
            self->errors++;
        timeout_ms = 0;
    }
}

static void *
s_pub_thread(void *arg)
{
    s_pub_t *self = arg;
    ob_client_config_t cfg = {
        .name = "bench-pub", .window = self->opts->window, .timeout_ms = BENCH_IDLE_MS};
    ob_bench_client_security(self->opts, &cfg);
    ob_client_t *client = ob_client_new(self->endpoint, &cfg);
    int rc = client ? ob_client_connect(client, BENCH_START_TIMEOUT) : OB_ERR_INVALID_ARGUMENT;
    pthread_barrier_wait(self->barrier);
    if (rc != 0) {
        self->errors++;
        ob_client_destroy(&client);
        return NULL;
    }
    char id[64];
    ob_event_t ev;
    double t0 = ob_bench_now_us();
    self->first_us = t0;
    for (long i = 0; self->count == 0 || i < self->count; i++) {
        if (atomic_load_explicit(&self->gate->stop, memory_order_relaxed))
            break;
        if (self->rate > 0) {
            double due = t0 + (double)i * 1e6 / self->rate;
            s_pub_drain(self, client, 0);
            if (ob_bench_now_us() < due)
                ob_bench_sleep_until(due);
            double lag = ob_bench_now_us() - due;
            if (lag > self->max_lag_us)
                self->max_lag_us = lag;
        }
        ob_bench_event(&ev, id, self->topic, self->run, 0, i, self->data, self->data_len);
        if (self->send_time)
            ev.time_us = (uint64_t)zclock_usecs();
        uint64_t token;
        if (ob_client_publish_async(client, &ev, &token) != 0) {
            self->errors++;
            break;
        }
        /* Confirmations are taken in bulk: one look at the socket per half window. */
        if (ob_client_pending(client) >= (self->opts->window + 1) / 2)
            s_pub_drain(self, client, 0);
    }
    while (ob_client_pending(client) > 0) {
        size_t before = ob_client_pending(client);
        s_pub_drain(self, client, BENCH_IDLE_MS);
        if (ob_client_pending(client) == before)
            break; /* nothing for BENCH_IDLE_MS */
    }
    self->errors += (long)ob_client_pending(client);
    self->end_us = ob_bench_now_us();
    ob_client_destroy(&client);
    return NULL;
}

typedef struct {
    const bench_opts_t *opts;       /* borrowed */
    const char *endpoint;           /* borrowed */
    char name[OB_SUB_NAME_MAX + 1]; /* the durable subscription */
    const char *topic;              /* its one pattern, borrowed */
    ob_start_t start;               /* where it starts */
    int subscribe_timed;            /* 1: subscribes after the barrier, inside the timing */
    long expect;                    /* events (seqs 1..expect) to receive; 0: until stop */
    int ack_every;                  /* K: ack_upto every K deliveries; 1: ack each one */
    int stalls;                     /* 1: stops reading when the gate says stall */
    double *latency_us;             /* expect entries for publish-to-delivery, or NULL */
    double *stored_us;              /* with latency_us: send to the broker's stored time */
    double clock_offset_us;         /* CLOCK_REALTIME - CLOCK_MONOTONIC, for stored_us */
    pthread_barrier_t *barrier;     /* every thread connected (and subscribed): start */
    s_gate_t *gate;                 /* borrowed */
    atomic_long received;           /* out: events received (main reads it while running) */
    long latencies;                 /* out: entries written to latency_us */
    long redelivered;               /* out: deliveries with attempt > 1 */
    long errors;                    /* out: failures (connect, subscribe, receive, idle) */
    double first_us;                /* out: when it started (subscribe_timed: subscribing) */
    double end_us;                  /* out: when the expect-th event arrived */
} s_sub_t;

static int
s_sub_subscribe(s_sub_t *self, ob_client_t *client)
{
    const char *patterns[1] = {self->topic};
    ob_sub_options_t so = {.patterns = patterns,
                           .pattern_count = 1,
                           .start = self->start,
                           .credit = self->opts->credit};
    int created = 0;
    int rc = ob_client_subscribe(client, self->name, &so, NULL, &created);
    if (rc == 0 && !created)
        rc = OB_ERR_SUBSCRIPTION_EXISTS; /* a fresh broker and unique names: a bug */
    if (rc != 0)
        fprintf(stderr, "orderbus-bench: subscribe %s: %s\n", self->name, ob_strerror(rc));
    return rc;
}

/* Receives until expect events arrived or the gate stops (or stalls, for a stalling one). */
static void
s_sub_loop(s_sub_t *self, ob_client_t *client)
{
    uint8_t *seen = self->expect ? calloc((size_t)self->expect / 8 + 1, 1) : NULL;
    char topic[OB_TOPIC_MAX + 1] = "";
    uint64_t last_seq = 0;
    long received = 0, unacked = 0;
    double idle_since = ob_bench_now_us();
    if (self->expect && !seen) {
        self->errors++;
        return;
    }
    while (!atomic_load_explicit(&self->gate->stop, memory_order_relaxed) &&
           (self->expect == 0 || received < self->expect)) {
        if (self->stalls && atomic_load_explicit(&self->gate->stall, memory_order_relaxed)) {
            s_gate_wait_stop(self->gate); /* not reading, not acking, still connected */
            break;
        }
        ob_delivery_t *d = NULL;
        int rc = ob_client_receive(client, 100, &d);
        double now = ob_bench_now_us();
        if (rc == OB_ERR_TIMEOUT) {
            if (now - idle_since > BENCH_IDLE_MS * 1e3) {
                fprintf(stderr, "orderbus-bench: %s: nothing for %d ms after %ld events\n",
                        self->name, BENCH_IDLE_MS, received);
                self->errors++;
                break;
            }
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "orderbus-bench: %s: receive: %s\n", self->name, ob_strerror(rc));
            self->errors++;
            break;
        }
        idle_since = now;
        int fresh = d->attempt == 1;
        if (d->attempt > 1)
            self->redelivered++;
        if (seen) { /* count each seq once, however often it comes */
            fresh = d->seq >= 1 && d->seq <= (uint64_t)self->expect &&
                    !(seen[d->seq / 8] & (1u << (d->seq % 8)));
            if (fresh)
                seen[d->seq / 8] |= (uint8_t)(1u << (d->seq % 8));
        }
        if (fresh) {
            received++;
            atomic_store_explicit(&self->received, received, memory_order_relaxed);
            if (self->latency_us && self->latencies < self->expect) {
                ob_event_envelope_t env; /* the publisher's send time, without decoding */
                if (ob_event_peek(d->event, d->event_len, &env) == 0) {
                    /* The broker stamps an event (wall clock) in the writer's transaction,
                       before its commit: where the path splits in two. */
                    self->stored_us[self->latencies] =
                        (double)d->time_us - self->clock_offset_us - (double)env.time_us;
                    self->latency_us[self->latencies++] = now - (double)env.time_us;
                }
            }
            if (received == self->expect)
                self->end_us = now;
        }
        if (self->ack_every == 1)
            ob_client_ack(client, d);
        else if (++unacked >= self->ack_every) {
            ob_client_ack_upto(client, d->sub, d->topic, d->seq);
            unacked = 0;
        } else {
            memcpy(topic, d->topic, sizeof topic);
            last_seq = d->seq;
        }
        ob_delivery_destroy(&d);
    }
    if (unacked > 0 && !(self->stalls && atomic_load(&self->gate->stall)))
        ob_client_ack_upto(client, self->name, topic, last_seq);
    free(seen);
}

static void *
s_sub_thread(void *arg)
{
    s_sub_t *self = arg;
    /* A subscriber that stalls sends nothing for a whole phase: its heartbeat must be longer
       than that (the broker expires a session silent for 3 heartbeats). The others keep the
       default, which a reading subscriber never needs (it talks all the time). */
    ob_client_config_t cfg = {.name = "bench-sub",
                              .timeout_ms = BENCH_IDLE_MS,
                              .heartbeat_ms = self->stalls ? BENCH_HEARTBEAT_MS : 0};
    ob_bench_client_security(self->opts, &cfg);
    ob_client_t *client = ob_client_new(self->endpoint, &cfg);
    int rc = client ? ob_client_connect(client, BENCH_START_TIMEOUT) : OB_ERR_INVALID_ARGUMENT;
    if (rc == 0 && !self->subscribe_timed)
        rc = s_sub_subscribe(self, client);
    pthread_barrier_wait(self->barrier);
    self->first_us = ob_bench_now_us();
    if (rc == 0 && self->subscribe_timed)
        rc = s_sub_subscribe(self, client);
    if (rc == 0)
        s_sub_loop(self, client);
    else
        self->errors++;
    ob_client_destroy(&client);
    return NULL;
}

/* The topic and subscription names of a run: unique per process and run, so that a
   running broker (--endpoint) never mixes runs. */
static void
s_names(const char *mode, int run, char *topic, size_t topic_len, char *prefix, size_t prefix_len)
{
    snprintf(topic, topic_len, "bench.%s.p%ld.r%d", mode, (long)getpid(), run);
    snprintf(prefix, prefix_len, "%s-%ld-%d", mode, (long)getpid(), run);
}

/* Sends the admin command (OB_CMD_SUB_INFO, OB_CMD_SUB_DELETE) for sub (borrowed) to the
   broker at endpoint from a client of its own (with the certificates of opts, if any). Returns 0 or
   an error; on success, if ret_result is not NULL, the result (malloc'd, the caller frees it; NULL
   if none) and its size in *ret_result and *ret_len. */
static int
s_admin(const bench_opts_t *opts, const char *endpoint, int command, const char *sub,
        uint8_t **ret_result, size_t *ret_len)
{
    ob_client_config_t cfg = {.name = "bench-admin"};
    ob_bench_client_security(opts, &cfg);
    ob_client_t *admin = ob_client_new(endpoint, &cfg);
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, command);
    snprintf(request.sub, sizeof request.sub, "%s", sub);
    int rc = admin ? ob_client_connect(admin, BENCH_START_TIMEOUT) : OB_ERR_INVALID_ARGUMENT;
    if (rc == 0)
        rc = ob_client_request(admin, &request, ret_result, ret_len, NULL, NULL, NULL);
    ob_client_destroy(&admin);
    return rc;
}

/* Deletes the subscription of sub (ended) from a running broker (--endpoint), which would
   otherwise keep it, and its lag, for ever; a spawned broker goes with its data. */
static void
s_sub_forget(const s_sub_t *sub)
{
    if (sub->opts->endpoint)
        s_admin(sub->opts, sub->endpoint, OB_CMD_SUB_DELETE, sub->name, NULL, NULL);
}

/* Fills a publisher of run on topic (both borrowed). */
static void
s_pub_init(s_pub_t *pub, const bench_opts_t *opts, const char *endpoint, const char *topic, int run,
           const uint8_t *data, size_t data_len, pthread_barrier_t *barrier, s_gate_t *gate)
{
    memset(pub, 0, sizeof *pub);
    pub->opts = opts;
    pub->endpoint = endpoint;
    pub->topic = topic;
    pub->run = run;
    pub->data = data;
    pub->data_len = data_len;
    pub->barrier = barrier;
    pub->gate = gate;
    atomic_init(&pub->confirmed, 0);
}

/* Fills subscriber number k of prefix on topic (both borrowed). */
static void
s_sub_init(s_sub_t *sub, const bench_opts_t *opts, const char *endpoint, const char *topic,
           const char *prefix, const char *k, pthread_barrier_t *barrier, s_gate_t *gate)
{
    memset(sub, 0, sizeof *sub);
    sub->opts = opts;
    sub->endpoint = endpoint;
    snprintf(sub->name, sizeof sub->name, "%s-%s", prefix, k);
    sub->topic = topic;
    sub->ack_every = opts->ack_every;
    sub->barrier = barrier;
    sub->gate = gate;
    atomic_init(&sub->received, 0);
}

/* Prints the median of v (n values) with the spread of the runs, as "%.0f (min..max)". */
static void
s_print_spread(const char *label, double *v, int n, const char *unit)
{
    double m = ob_bench_median(v, n); /* sorts v: v[0] is the least, v[n - 1] the most */
    printf("  %-28s %12.0f %s   (runs %.0f .. %.0f)\n", label, m, unit, v[0], v[n - 1]);
}

/* ---------------------------------------------------------------------------------------- */
/* --mode fanout */

typedef struct {
    double deliveries; /* deliveries/s over all subscriptions */
    double publish;    /* confirmed publishes/s */
    double raw256;     /* LMDB events/s, 256 per durable commit */
    double stream;     /* ZeroMQ one-way stream, messages/s */
    double stream_run; /* the same, events/s in runs of OB_DELIVER_RUN_MAX */
    long redelivered;  /* deliveries with attempt > 1 */
    long errors;       /* failures and missing events */
} s_fanout_result_t;

static int
s_fanout_run(const bench_opts_t *opts, int run, s_fanout_result_t *ret)
{
    s_broker_t broker = {0};
    char topic[OB_TOPIC_MAX + 1], prefix[48];
    int count = opts->subs;
    size_t data_len;
    uint8_t *data = ob_bench_payload(opts->size, &data_len);
    s_sub_t *subs = calloc((size_t)count, sizeof *subs);
    pthread_t *threads = calloc((size_t)count + 1, sizeof *threads);
    s_pub_t pub;
    s_gate_t gate;
    pthread_barrier_t barrier;
    int rc = -1;
    memset(ret, 0, sizeof *ret);
    if (!data || !subs || !threads || s_broker_up(opts, "fanout", run, &broker) != 0)
        goto out;
    s_names("fanout", run, topic, sizeof topic, prefix, sizeof prefix);
    s_gate_init(&gate);
    pthread_barrier_init(&barrier, NULL, (unsigned)count + 1);
    for (int k = 0; k < count; k++) {
        char name[16];
        snprintf(name, sizeof name, "%d", k + 1);
        s_sub_init(&subs[k], opts, broker.endpoint, topic, prefix, name, &barrier, &gate);
        subs[k].start = OB_START_NEW;
        subs[k].expect = opts->events;
        pthread_create(&threads[k + 1], NULL, s_sub_thread, &subs[k]);
    }
    /* The publisher starts once every subscription exists: it meets the subscribers at the
       barrier (main does not: it waits for them all at the end). */
    s_pub_init(&pub, opts, broker.endpoint, topic, run, data, data_len, &barrier, &gate);
    pub.count = opts->events;
    pthread_create(&threads[0], NULL, s_pub_thread, &pub);
    double end = 0;
    for (int k = 0; k <= count; k++)
        pthread_join(threads[k], NULL);
    for (int k = 0; k < count; k++) {
        s_sub_t *s = &subs[k];
        ret->redelivered += s->redelivered;
        ret->errors += s->errors + (opts->events - atomic_load(&s->received));
        if (s->end_us > end)
            end = s->end_us;
        s_sub_forget(s);
    }
    ret->errors += pub.errors;
    ret->deliveries = (double)count * (double)opts->events / ((end - pub.first_us) / 1e6);
    ret->publish = (double)atomic_load(&pub.confirmed) / ((pub.end_us - pub.first_us) / 1e6);
    pthread_barrier_destroy(&barrier);
    s_gate_destroy(&gate);
    s_broker_down(&broker);

    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", opts->dir, run);
    ret->raw256 = ob_bench_raw_lmdb(raw_dir, opts->size, opts->events, BENCH_RAW_BATCH,
                                    BENCH_RAW_SECONDS, NULL);
    ret->stream = ob_bench_zmq_stream_rate(opts->size, 1, BENCH_STREAM_SECONDS);
    ret->stream_run =
        ob_bench_zmq_stream_rate(opts->size, OB_DELIVER_RUN_MAX, BENCH_STREAM_SECONDS);
    rc = 0;
out:
    if (rc != 0)
        s_broker_down(&broker);
    free(threads);
    free(subs);
    free(data);
    return rc;
}

int
ob_bench_fanout(const bench_opts_t *opts)
{
    printf("orderbus-bench fanout: 1 publisher (window %u) -> 1 topic -> %d durable "
           "subscriptions (start new, credit %u, %s), %ld events of %zu bytes per run, "
           "%d runs\n",
           opts->window, opts->subs, opts->credit, opts->ack_every == 1 ? "ack each" : "ack upto",
           opts->events, opts->size, opts->runs);
    if (opts->ack_every > 1)
        printf("  subscribers ack cumulatively every %d deliveries\n", opts->ack_every);
    double del[BENCH_RUNS_MAX], pub[BENCH_RUNS_MAX], raw[BENCH_RUNS_MAX], stream[BENCH_RUNS_MAX],
        srun[BENCH_RUNS_MAX], r_stream[BENCH_RUNS_MAX], r_srun[BENCH_RUNS_MAX],
        r_raw[BENCH_RUNS_MAX];
    long errors = 0, redelivered = 0;
    fflush(stdout);
    for (int r = 0; r < opts->runs; r++) {
        s_fanout_result_t res;
        if (s_fanout_run(opts, r, &res) != 0)
            return 1;
        del[r] = res.deliveries, pub[r] = res.publish, raw[r] = res.raw256;
        stream[r] = res.stream, r_stream[r] = res.deliveries / res.stream;
        srun[r] = res.stream_run, r_srun[r] = res.deliveries / res.stream_run;
        r_raw[r] = res.publish / res.raw256;
        errors += res.errors, redelivered += res.redelivered;
        printf("run %d: %9.0f deliveries/s  publish %9.0f events/s | lmdb raw 256/commit "
               "%9.0f/s | zmq stream %9.0f msg/s, in runs of %d %9.0f events/s | "
               "deliveries/stream %.2f, /runs %.2f  publish/raw256 %.2f%s\n",
               r + 1, res.deliveries, res.publish, res.raw256, res.stream, OB_DELIVER_RUN_MAX,
               res.stream_run, r_stream[r], r_srun[r], r_raw[r], res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    printf("median: %9.0f deliveries/s  publish %9.0f events/s | lmdb raw 256/commit %9.0f/s | "
           "zmq stream %9.0f msg/s, in runs of %d %9.0f events/s | deliveries/stream %.2f, "
           "/runs %.2f  publish/raw256 %.2f\n",
           ob_bench_median(del, opts->runs), ob_bench_median(pub, opts->runs),
           ob_bench_median(raw, opts->runs), ob_bench_median(stream, opts->runs),
           OB_DELIVER_RUN_MAX, ob_bench_median(srun, opts->runs),
           ob_bench_median(r_stream, opts->runs), ob_bench_median(r_srun, opts->runs),
           ob_bench_median(r_raw, opts->runs));
    s_print_spread("deliveries/s", del, opts->runs, "/s");
    s_print_spread("publish events/s", pub, opts->runs, "/s");
    printf("  target: >= 200000 deliveries/s%s\n", redelivered ? "" : "; no redeliveries");
    if (redelivered)
        printf("  redeliveries: %ld\n", redelivered);
    if (errors) {
        printf("errors: %ld (failures and events not received)\n", errors);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --mode replay */

typedef struct {
    double replay;     /* events/s received by the new subscription */
    double publish;    /* confirmed publishes/s of the untimed fill */
    double raw_read;   /* LMDB values/s, one cursor walk */
    double raw256;     /* LMDB events/s, 256 per durable commit (the fill of the walk) */
    double stream;     /* ZeroMQ one-way stream, messages/s */
    double stream_run; /* the same, events/s in runs of OB_DELIVER_RUN_MAX */
    long redelivered;  /* deliveries with attempt > 1 */
    long errors;       /* failures and missing events */
} s_replay_result_t;

static int
s_replay_run(const bench_opts_t *opts, int run, s_replay_result_t *ret)
{
    s_broker_t broker;
    char topic[OB_TOPIC_MAX + 1], prefix[48];
    size_t data_len;
    uint8_t *data = ob_bench_payload(opts->size, &data_len);
    s_pub_t pub;
    s_sub_t sub;
    s_gate_t gate;
    pthread_barrier_t barrier;
    pthread_t thread;
    memset(ret, 0, sizeof *ret);
    if (!data || s_broker_up(opts, "replay", run, &broker) != 0) {
        free(data);
        return -1;
    }
    s_names("replay", run, topic, sizeof topic, prefix, sizeof prefix);
    s_gate_init(&gate);
    pthread_barrier_init(&barrier, NULL, 1); /* each thread runs alone */

    s_pub_init(&pub, opts, broker.endpoint, topic, run, data, data_len, &barrier, &gate);
    pub.count = opts->events;
    pthread_create(&thread, NULL, s_pub_thread, &pub);
    pthread_join(thread, NULL);
    ret->publish = (double)atomic_load(&pub.confirmed) / ((pub.end_us - pub.first_us) / 1e6);
    ret->errors += pub.errors;
    /* The fill wrote ~N x 600 bytes that the kernel would write back during the timed part
       (LMDB's fsync covers only its own pages): flush it first, so that the replay of
       stored events is measured, not the fill's writeback competing for the 2 cores. */
    sync();

    s_sub_init(&sub, opts, broker.endpoint, topic, prefix, "1", &barrier, &gate);
    sub.start = OB_START_EARLIEST;
    sub.subscribe_timed = 1;
    sub.expect = opts->events;
    pthread_create(&thread, NULL, s_sub_thread, &sub);
    pthread_join(thread, NULL);
    ret->replay = (double)opts->events / ((sub.end_us - sub.first_us) / 1e6);
    ret->redelivered = sub.redelivered;
    ret->errors += sub.errors + (opts->events - atomic_load(&sub.received));
    s_sub_forget(&sub);
    pthread_barrier_destroy(&barrier);
    s_gate_destroy(&gate);
    s_broker_down(&broker);

    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", opts->dir, run);
    ret->raw256 = ob_bench_raw_lmdb(raw_dir, opts->size, opts->events, BENCH_RAW_BATCH,
                                    BENCH_RAW_SECONDS, &ret->raw_read);
    ret->stream = ob_bench_zmq_stream_rate(opts->size, 1, BENCH_STREAM_SECONDS);
    ret->stream_run =
        ob_bench_zmq_stream_rate(opts->size, OB_DELIVER_RUN_MAX, BENCH_STREAM_SECONDS);
    free(data);
    return 0;
}

int
ob_bench_replay(const bench_opts_t *opts)
{
    printf("orderbus-bench replay: %ld stored events of %zu bytes, then 1 new durable "
           "subscription (start earliest, credit %u, %s %d) receives them, %d runs\n",
           opts->events, opts->size, opts->credit,
           opts->ack_every == 1 ? "ack each, K =" : "ack upto every", opts->ack_every, opts->runs);
    double rep[BENCH_RUNS_MAX], pub[BENCH_RUNS_MAX], rd[BENCH_RUNS_MAX], raw[BENCH_RUNS_MAX],
        stream[BENCH_RUNS_MAX], srun[BENCH_RUNS_MAX], r_rd[BENCH_RUNS_MAX],
        r_stream[BENCH_RUNS_MAX], r_srun[BENCH_RUNS_MAX];
    long errors = 0, redelivered = 0;
    fflush(stdout);
    for (int r = 0; r < opts->runs; r++) {
        s_replay_result_t res;
        if (s_replay_run(opts, r, &res) != 0)
            return 1;
        rep[r] = res.replay, pub[r] = res.publish, rd[r] = res.raw_read, raw[r] = res.raw256;
        stream[r] = res.stream, srun[r] = res.stream_run;
        r_rd[r] = res.replay / res.raw_read, r_stream[r] = res.replay / res.stream;
        r_srun[r] = res.replay / res.stream_run;
        errors += res.errors, redelivered += res.redelivered;
        printf("run %d: %9.0f events/s replayed (fill: publish %9.0f/s) | lmdb raw read "
               "%10.0f/s  256/commit write %9.0f/s | zmq stream %9.0f msg/s, in runs of %d "
               "%9.0f events/s | replay/read %.3f  replay/stream %.2f, /runs %.2f%s\n",
               r + 1, res.replay, res.publish, res.raw_read, res.raw256, res.stream,
               OB_DELIVER_RUN_MAX, res.stream_run, r_rd[r], r_stream[r], r_srun[r],
               res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    printf("median: %9.0f events/s replayed (fill: publish %9.0f/s) | lmdb raw read %10.0f/s  "
           "256/commit write %9.0f/s | zmq stream %9.0f msg/s, in runs of %d %9.0f events/s | "
           "replay/read %.3f  replay/stream %.2f, /runs %.2f\n",
           ob_bench_median(rep, opts->runs), ob_bench_median(pub, opts->runs),
           ob_bench_median(rd, opts->runs), ob_bench_median(raw, opts->runs),
           ob_bench_median(stream, opts->runs), OB_DELIVER_RUN_MAX,
           ob_bench_median(srun, opts->runs), ob_bench_median(r_rd, opts->runs),
           ob_bench_median(r_stream, opts->runs), ob_bench_median(r_srun, opts->runs));
    s_print_spread("replayed events/s", rep, opts->runs, "/s");
    printf("  target: >= 500000 events/s\n");
    if (redelivered)
        printf("  redeliveries: %ld\n", redelivered);
    if (errors) {
        printf("errors: %ld (failures and events not received)\n", errors);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --mode latency */

/* Returns CLOCK_REALTIME - CLOCK_MONOTONIC in µs. */
static double
s_clock_offset_us(void)
{
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return (double)(rt.tv_sec - mono.tv_sec) * 1e6 + (double)(rt.tv_nsec - mono.tv_nsec) / 1e3;
}

typedef struct {
    double p50;        /* publish-to-delivery latency, ms */
    double p99;        /* ms */
    double p999;       /* ms */
    double max;        /* ms */
    double stored50;   /* p50 of send to the broker's stored stamp (in the write), ms */
    double rest50;     /* p50 of the stamp to delivery (commit, pump, hops), ms */
    double rate;       /* publishes/s achieved */
    double max_lag_ms; /* latest a publish was made after its due time */
    double raw1;       /* LMDB events/s, 1 per durable commit */
    double append1;    /* synced appends/s to a preallocated file (ob_bench_raw_append) */
    double paced_us;   /* p50 µs of one such append at the run's rate (..._paced) */
    double rtt_us;     /* ZeroMQ tcp loopback round trip, µs */
    long errors;       /* failures and missing events */
} s_latency_result_t;

static int
s_latency_run(const bench_opts_t *opts, int run, s_latency_result_t *ret)
{
    s_broker_t broker;
    char topic[OB_TOPIC_MAX + 1], prefix[48];
    size_t data_len;
    uint8_t *data = ob_bench_payload(opts->size, &data_len);
    double *latency = calloc((size_t)opts->events + 1, sizeof *latency);
    double *stored = calloc((size_t)opts->events + 1, sizeof *stored);
    s_pub_t pub;
    s_sub_t sub;
    s_gate_t gate;
    pthread_barrier_t barrier;
    pthread_t threads[2];
    memset(ret, 0, sizeof *ret);
    if (!data || !latency || !stored || s_broker_up(opts, "latency", run, &broker) != 0) {
        free(stored);
        free(latency);
        free(data);
        return -1;
    }
    s_names("latency", run, topic, sizeof topic, prefix, sizeof prefix);
    s_gate_init(&gate);
    pthread_barrier_init(&barrier, NULL, 2);
    s_sub_init(&sub, opts, broker.endpoint, topic, prefix, "1", &barrier, &gate);
    sub.start = OB_START_NEW;
    sub.expect = opts->events;
    sub.ack_every = 1;
    sub.latency_us = latency;
    sub.stored_us = stored;
    sub.clock_offset_us = s_clock_offset_us();
    pthread_create(&threads[0], NULL, s_sub_thread, &sub);
    s_pub_init(&pub, opts, broker.endpoint, topic, run, data, data_len, &barrier, &gate);
    pub.count = opts->events;
    pub.rate = opts->rate;
    pub.send_time = 1;
    pthread_create(&threads[1], NULL, s_pub_thread, &pub);
    pthread_join(threads[0], NULL);
    pthread_join(threads[1], NULL);
    s_sub_forget(&sub);

    long n = sub.latencies;
    double *rest = malloc(sizeof *rest * (size_t)(n + 1));
    for (long i = 0; rest && i < n; i++)
        rest[i] = latency[i] - stored[i];
    qsort(stored, (size_t)n, sizeof *stored, ob_bench_cmp_double);
    ret->stored50 = ob_bench_percentile(stored, n, 50) / 1000;
    if (rest) {
        qsort(rest, (size_t)n, sizeof *rest, ob_bench_cmp_double);
        ret->rest50 = ob_bench_percentile(rest, n, 50) / 1000;
    }
    free(rest);
    qsort(latency, (size_t)sub.latencies, sizeof *latency, ob_bench_cmp_double);
    ret->p50 = ob_bench_percentile(latency, sub.latencies, 50) / 1000;
    ret->p99 = ob_bench_percentile(latency, sub.latencies, 99) / 1000;
    ret->p999 = ob_bench_percentile(latency, sub.latencies, 99.9) / 1000;
    ret->max = sub.latencies ? latency[sub.latencies - 1] / 1000 : 0;
    ret->rate = (double)atomic_load(&pub.confirmed) / ((pub.end_us - pub.first_us) / 1e6);
    ret->max_lag_ms = pub.max_lag_us / 1000;
    ret->errors = pub.errors + sub.errors + (opts->events - sub.latencies);
    pthread_barrier_destroy(&barrier);
    s_gate_destroy(&gate);
    s_broker_down(&broker);

    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", opts->dir, run);
    ret->raw1 = ob_bench_raw_lmdb(raw_dir, opts->size, opts->events, 1, BENCH_RAW1_SECONDS, NULL);
    ret->append1 = ob_bench_raw_append(raw_dir, opts->size, BENCH_APPEND_SECONDS);
    ret->paced_us = ob_bench_raw_append_paced(raw_dir, opts->size, opts->rate, BENCH_APPEND_PACED);
    ret->rtt_us = ob_bench_zmq_rtt_us(opts->size);
    free(stored);
    free(latency);
    free(data);
    return 0;
}

int
ob_bench_latency(const bench_opts_t *opts)
{
    printf("orderbus-bench latency: 1 publisher paced at %.0f events/s (window %u), 1 durable "
           "subscription acking each delivery (credit %u), %ld events of %zu bytes per run, "
           "%d runs\n",
           opts->rate, opts->window, opts->credit, opts->events, opts->size, opts->runs);
    double p50[BENCH_RUNS_MAX], p99[BENCH_RUNS_MAX], p999[BENCH_RUNS_MAX], max[BENCH_RUNS_MAX],
        rate[BENCH_RUNS_MAX], lag[BENCH_RUNS_MAX], floor_ms[BENCH_RUNS_MAX],
        stored50[BENCH_RUNS_MAX], rest50[BENCH_RUNS_MAX], disk_floor_ms[BENCH_RUNS_MAX],
        paced_floor_ms[BENCH_RUNS_MAX];
    long errors = 0;
    printf("  p50 split: send -> stamped in the broker's write transaction, stamp -> received "
           "(commit, delivery, hops)\n");
    fflush(stdout);
    for (int r = 0; r < opts->runs; r++) {
        s_latency_result_t res;
        if (s_latency_run(opts, r, &res) != 0)
            return 1;
        p50[r] = res.p50, p99[r] = res.p99, p999[r] = res.p999, max[r] = res.max;
        rate[r] = res.rate, lag[r] = res.max_lag_ms;
        stored50[r] = res.stored50, rest50[r] = res.rest50;
        /* An event's shortest path: one durable commit, and the hops publisher -> broker ->
           subscriber, one loopback round trip. */
        floor_ms[r] = (1e6 / res.raw1 + res.rtt_us) / 1000;
        /* ... and with one synced append of the event in place of LMDB's commit */
        disk_floor_ms[r] = (1e6 / res.append1 + res.rtt_us) / 1000;
        /* ... and with that append made at the run's own pace, as the broker's are */
        paced_floor_ms[r] = (res.paced_us + res.rtt_us) / 1000;
        errors += res.errors;
        printf("run %d: publish-to-delivery p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f "
               "ms | p50 split %.3f + %.3f ms | published %.0f/s, at most %.3f ms behind "
               "schedule | floor %.3f ms (lmdb 1/commit %.0f/s + zmq rtt %.0f us), disk floor "
               "%.3f ms (synced append %.0f/s + rtt), paced disk floor %.3f ms (synced append "
               "at %.0f/s, p50 %.0f us, + rtt)%s\n",
               r + 1, res.p50, res.p99, res.p999, res.max, res.stored50, res.rest50, res.rate,
               res.max_lag_ms, floor_ms[r], res.raw1, res.rtt_us, disk_floor_ms[r], res.append1,
               paced_floor_ms[r], opts->rate, res.paced_us, res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    printf("median: publish-to-delivery p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms | "
           "p50 split %.3f + %.3f ms | published %.0f/s, at most %.3f ms behind schedule | "
           "floor %.3f ms, disk floor %.3f ms, paced disk floor %.3f ms\n",
           ob_bench_median(p50, opts->runs), ob_bench_median(p99, opts->runs),
           ob_bench_median(p999, opts->runs), ob_bench_median(max, opts->runs),
           ob_bench_median(stored50, opts->runs), ob_bench_median(rest50, opts->runs),
           ob_bench_median(rate, opts->runs), ob_bench_median(lag, opts->runs),
           ob_bench_median(floor_ms, opts->runs), ob_bench_median(disk_floor_ms, opts->runs),
           ob_bench_median(paced_floor_ms, opts->runs));
    printf("  spread over runs: p50 %.3f .. %.3f ms, p99 %.3f .. %.3f ms, p99.9 %.3f .. %.3f "
           "ms\n",
           p50[0], p50[opts->runs - 1], p99[0], p99[opts->runs - 1], p999[0], p999[opts->runs - 1]);
    printf("  targets: p50 <= 1 ms, p99 <= 5 ms\n");
    if (errors) {
        printf("errors: %ld (failures and events not received)\n", errors);
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --mode stall */

/* The value of the unsigned field key of the msgpack map, or -1. */
static long
s_map_uint(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
            return kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (long)kv->val.via.u64 : -1;
    }
    return -1;
}

/* Asks the broker at endpoint for SUB_INFO of sub (all borrowed) and writes its consumers,
   pending and lag to ret_consumers, ret_pending and ret_lag (-1 where unknown). */
static void
s_sub_info(const bench_opts_t *opts, const char *endpoint, const char *sub, long *ret_consumers,
           long *ret_pending, long *ret_lag)
{
    uint8_t *result = NULL;
    size_t result_len = 0;
    msgpack_unpacked info;
    msgpack_unpacked_init(&info);
    *ret_consumers = *ret_pending = *ret_lag = -1;
    if (s_admin(opts, endpoint, OB_CMD_SUB_INFO, sub, &result, &result_len) == 0 && result &&
        msgpack_unpack_next(&info, (const char *)result, result_len, NULL) ==
            MSGPACK_UNPACK_SUCCESS) {
        *ret_consumers = s_map_uint(&info.data, "consumers");
        *ret_pending = s_map_uint(&info.data, "pending");
        *ret_lag = s_map_uint(&info.data, "lag");
    }
    msgpack_unpacked_destroy(&info);
    free(result);
}

typedef struct {
    double t_us;    /* when */
    long published; /* confirmed publishes so far */
    long a;         /* events A received so far */
    long b;         /* events B received so far */
} s_sample_t;

static void
s_sample(const s_pub_t *pub, const s_sub_t *a, const s_sub_t *b, s_sample_t *ret)
{
    ret->t_us = ob_bench_now_us();
    ret->published = atomic_load(&pub->confirmed);
    ret->a = atomic_load(&a->received);
    ret->b = atomic_load(&b->received);
}

typedef struct {
    double pub1, pub2; /* publish rate in phase 1 and 2, events/s */
    double b1, b2;     /* B's delivery rate in phase 1 and 2, events/s */
    double a1, a2;     /* A's, to show that it stopped */
    long a_consumers;  /* consumers of A at the end of phase 2 (1: still attached) */
    long a_pending;    /* A's deliveries awaiting an ack then */
    long a_lag;        /* A's events not yet done then */
    long errors;       /* failures */
} s_stall_result_t;

static int
s_stall_run(const bench_opts_t *opts, int run, s_stall_result_t *ret)
{
    s_broker_t broker;
    char topic[OB_TOPIC_MAX + 1], prefix[48];
    size_t data_len;
    uint8_t *data = ob_bench_payload(opts->size, &data_len);
    s_pub_t pub;
    s_sub_t a, b;
    s_gate_t gate;
    pthread_barrier_t barrier;
    pthread_t threads[3];
    memset(ret, 0, sizeof *ret);
    if (!data || s_broker_up(opts, "stall", run, &broker) != 0) {
        free(data);
        return -1;
    }
    s_names("stall", run, topic, sizeof topic, prefix, sizeof prefix);
    s_gate_init(&gate);
    pthread_barrier_init(&barrier, NULL, 4);
    s_sub_init(&a, opts, broker.endpoint, topic, prefix, "a", &barrier, &gate);
    s_sub_init(&b, opts, broker.endpoint, topic, prefix, "b", &barrier, &gate);
    a.start = b.start = OB_START_NEW;
    a.stalls = 1;
    s_pub_init(&pub, opts, broker.endpoint, topic, run, data, data_len, &barrier, &gate);
    pub.rate = opts->rate;
    pthread_create(&threads[0], NULL, s_sub_thread, &a);
    pthread_create(&threads[1], NULL, s_sub_thread, &b);
    pthread_create(&threads[2], NULL, s_pub_thread, &pub);
    pthread_barrier_wait(&barrier);

    s_sample_t s0, s1, s2;
    zclock_sleep((int)(BENCH_STALL_WARMUP_S * 1000));
    s_sample(&pub, &a, &b, &s0);
    zclock_sleep((int)(opts->seconds * 1000));
    s_sample(&pub, &a, &b, &s1);
    atomic_store(&gate.stall, 1);
    zclock_sleep((int)(opts->seconds * 1000));
    s_sample(&pub, &a, &b, &s2);
    /* A stalled, but still attached? (Outside the measured phases.) */
    s_sub_info(opts, broker.endpoint, a.name, &ret->a_consumers, &ret->a_pending, &ret->a_lag);
    s_gate_stop(&gate);
    for (int t = 0; t < 3; t++)
        pthread_join(threads[t], NULL);
    s_sub_forget(&a);
    s_sub_forget(&b);

    double d1 = (s1.t_us - s0.t_us) / 1e6, d2 = (s2.t_us - s1.t_us) / 1e6;
    ret->pub1 = (double)(s1.published - s0.published) / d1;
    ret->pub2 = (double)(s2.published - s1.published) / d2;
    ret->b1 = (double)(s1.b - s0.b) / d1;
    ret->b2 = (double)(s2.b - s1.b) / d2;
    ret->a1 = (double)(s1.a - s0.a) / d1;
    ret->a2 = (double)(s2.a - s1.a) / d2;
    ret->errors = pub.errors + a.errors + b.errors + (ret->a_consumers != 1);
    pthread_barrier_destroy(&barrier);
    s_gate_destroy(&gate);
    s_broker_down(&broker);
    free(data);
    return 0;
}

int
ob_bench_stall(const bench_opts_t *opts)
{
    if (opts->rate > 0)
        printf("orderbus-bench stall: publisher PACED at %.0f events/s", opts->rate);
    else
        printf("orderbus-bench stall: publisher UNPACED (as fast as window %u allows)",
               opts->window);
    printf(", subscriptions A and B (credit %u, ack upto every %d); %.0f s warm-up, phase 1 "
           "%.0f s both reading, phase 2 %.0f s A not reading (connected); %ld-byte events, "
           "%d runs\n",
           opts->credit, opts->ack_every, BENCH_STALL_WARMUP_S, opts->seconds, opts->seconds,
           (long)opts->size, opts->runs);
    double pub1[BENCH_RUNS_MAX], pub2[BENCH_RUNS_MAX], b1[BENCH_RUNS_MAX], b2[BENCH_RUNS_MAX],
        a2[BENCH_RUNS_MAX], r_pub[BENCH_RUNS_MAX], r_b[BENCH_RUNS_MAX];
    long errors = 0;
    fflush(stdout);
    for (int r = 0; r < opts->runs; r++) {
        s_stall_result_t res;
        if (s_stall_run(opts, r, &res) != 0)
            return 1;
        pub1[r] = res.pub1, pub2[r] = res.pub2, b1[r] = res.b1, b2[r] = res.b2;
        a2[r] = res.a2;
        r_pub[r] = res.pub2 / res.pub1, r_b[r] = res.b2 / res.b1;
        errors += res.errors;
        printf("run %d: publish %8.0f -> %8.0f events/s (%.3f) | B %8.0f -> %8.0f deliveries/s "
               "(%.3f) | A %8.0f -> %.0f deliveries/s, then consumers %ld pending %ld lag "
               "%ld%s\n",
               r + 1, res.pub1, res.pub2, r_pub[r], res.b1, res.b2, r_b[r], res.a1, res.a2,
               res.a_consumers, res.a_pending, res.a_lag, res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    printf("median: publish %8.0f -> %8.0f events/s (phase2/phase1 %.3f) | B %8.0f -> %8.0f "
           "deliveries/s (phase2/phase1 %.3f) | A in phase 2 %.0f deliveries/s\n",
           ob_bench_median(pub1, opts->runs), ob_bench_median(pub2, opts->runs),
           ob_bench_median(r_pub, opts->runs), ob_bench_median(b1, opts->runs),
           ob_bench_median(b2, opts->runs), ob_bench_median(r_b, opts->runs),
           ob_bench_median(a2, opts->runs));
    printf("  spread over runs: publish ratio %.3f .. %.3f, B ratio %.3f .. %.3f\n", r_pub[0],
           r_pub[opts->runs - 1], r_b[0], r_b[opts->runs - 1]);
    printf("  target: both ratios >= 0.90 (%s publisher)\n", opts->rate > 0 ? "paced" : "unpaced");
    if (errors) {
        printf("errors: %ld\n", errors);
        return 1;
    }
    return 0;
}
