/*  orderbus-bench: confirmed-publish throughput and latency of a real orderbus-broker, beside
    the physical limit measured in the same run: LMDB's own durable append rate for the same
    payloads, in commits of 256 events and of 1 event.

    Each run starts P publisher threads, each with its own ob_client on its own topic
    (oms.<k>), that publish N/P events of S encoded bytes with at most W unconfirmed (window),
    or one at a time with ob_client_publish when --sync. It prints events/s and the confirm
    latency (publish call to confirmation) p50, p99, p99.9; then the raw LMDB rates and the
    ratios; after all runs, the medians, and the broker's anonymous memory with everything the
    runs stored (one broker serves all runs, so 5 runs of 200,000 events leave 1,000,000).

    The broker is spawned from --broker (default: the one built beside this program) on a
    loopback port with its data in --dir, on the same file system as the raw LMDB test, unless
    --endpoint names a running broker. Benchmarks print figures; they are not tests. */

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orderbus/orderbus.h"

#define BENCH_RUNS_MAX 64         /* runs one invocation may ask for */
#define BENCH_RAW1_SECONDS 1.0    /* how long the 1-event-commit raw test runs */
#define BENCH_RAW_BATCH 256       /* events per commit in the batched raw test */
#define BENCH_START_TIMEOUT 10000 /* ms to wait for a spawned broker */
#define BENCH_RTT_COUNT 2000      /* round trips in the ZeroMQ loopback test */

typedef struct {
    int publishers;       /* P */
    long events;          /* N, per run, all publishers together */
    size_t size;          /* S, encoded event bytes */
    unsigned window;      /* W */
    int sync;             /* 1: ob_client_publish, one at a time */
    int runs;             /* runs to take medians over */
    const char *endpoint; /* a running broker, or NULL to spawn one */
    const char *broker;   /* broker binary to spawn */
    const char *dir;      /* scratch directory */
} bench_opts_t;

typedef struct {
    const bench_opts_t *opts; /* borrowed */
    const char *endpoint;     /* borrowed */
    int index;                /* publisher number, from 0 */
    int run;                  /* run number, for unique event ids */
    long count;               /* events this publisher sends */
    const uint8_t *data;      /* payload bytes, borrowed */
    size_t data_len;          /* payload length giving size encoded bytes */
    double *latency_us;       /* count entries, owned by the caller */
    long confirmed;           /* out: confirmations received */
    long errors;              /* out: refusals and failures */
    int64_t end_us;           /* out: time of the last confirmation */
} publisher_t;

static pthread_barrier_t s_barrier; /* publishers and main start the clock together */

static double
s_now_us(void)
{
    return (double)zclock_usecs();
}

/* Fills ev for event i of publisher p in run r; id must hold 64 bytes. */
static void
s_event(ob_event_t *ev, char *id, char *topic, int r, int p, long i, const uint8_t *data,
        size_t data_len)
{
    snprintf(id, 64, "bench-%d-%d-%ld-%ld", r, p, i, (long)getpid());
    snprintf(topic, 32, "oms.%d", p + 1);
    memset(ev, 0, sizeof *ev);
    ev->id = id;
    ev->topic = topic;
    ev->type = "project_item.created";
    ev->time_us = (uint64_t)zclock_time() * 1000;
    ev->source = "orderbus-bench";
    ev->oms_id = (uint64_t)p + 1;
    ev->project_id = 1000 + (uint64_t)i / 10;
    ev->project_item_id = (uint64_t)i % 10 + 1;
    ev->data = data;
    ev->data_len = data_len;
}

static void *
s_publisher(void *arg)
{
    publisher_t *self = arg;
    ob_client_config_t cfg = {
        .name = "bench", .window = self->opts->sync ? 1 : self->opts->window, .timeout_ms = 30000};
    ob_client_t *client = ob_client_new(self->endpoint, &cfg);
    int rc = client ? ob_client_connect(client, BENCH_START_TIMEOUT) : OB_ERR_INVALID_ARGUMENT;
    pthread_barrier_wait(&s_barrier); /* connected (or failed): start together */
    if (rc != 0) {
        self->errors = self->count;
        ob_client_destroy(&client);
        return NULL;
    }

    double *sent = calloc((size_t)self->count + 1, sizeof *sent);
    char id[64], topic[32];
    ob_event_t ev;
    for (long i = 0; i < self->count; i++) {
        s_event(&ev, id, topic, self->run, self->index, i, self->data, self->data_len);
        double t0 = s_now_us();
        if (self->opts->sync) {
            ob_confirm_t c;
            if (ob_client_publish(client, &ev, &c) == 0 && c.rc == 0) {
                self->latency_us[self->confirmed++] = s_now_us() - t0;
            } else
                self->errors++;
            continue;
        }
        uint64_t token;
        if (ob_client_publish_async(client, &ev, &token) != 0) {
            self->errors++;
            continue;
        }
        sent[token % ((size_t)self->count + 1)] = t0;
        ob_confirm_t c;
        while (ob_client_confirm_next(client, 0, &c) == 0) {
            if (c.rc == 0)
                self->latency_us[self->confirmed++] =
                    s_now_us() - sent[c.token % ((size_t)self->count + 1)];
            else
                self->errors++;
        }
    }
    ob_confirm_t c;
    while (ob_client_pending(client) > 0 && ob_client_confirm_next(client, 30000, &c) == 0) {
        if (c.rc == 0)
            self->latency_us[self->confirmed++] =
                s_now_us() - sent[c.token % ((size_t)self->count + 1)];
        else
            self->errors++;
    }
    self->errors += (long)ob_client_pending(client);
    self->end_us = zclock_usecs();
    free(sent);
    ob_client_destroy(&client);
    return NULL;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_percentile(const double *sorted, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i];
}

typedef struct {
    double rate;   /* confirmed events/s */
    double p50;    /* confirm latency, ms */
    double p99;    /* ms */
    double p999;   /* ms */
    double raw256; /* LMDB events/s, 256 per durable commit */
    double raw1;   /* LMDB events/s, 1 per durable commit */
    double rtt_us; /* ZeroMQ tcp loopback round trip of one event, DEALER to ROUTER, µs */
    long errors;   /* publishes that failed */
} run_result_t;

/* Appends events of value_len bytes to a fresh LMDB environment in dir, batch per durable
   commit, for at most count events or seconds seconds; returns events/s or -1. The keys
   and values have the broker's layout: u32 topic | u64 seq big-endian -> u64 time | event. */
static double
s_raw_lmdb(const char *dir, size_t value_len, long count, size_t batch, double seconds)
{
    MDB_env *env = NULL;
    MDB_dbi dbi;
    double rate = -1;
    uint8_t *value = calloc(1, value_len + 8);
    zsys_dir_create("%s", dir);
    if (!value || mdb_env_create(&env) || mdb_env_set_mapsize(env, 8ull << 30) ||
        mdb_env_set_maxdbs(env, 4) || mdb_env_open(env, dir, 0, 0600))
        goto out;
    double t0 = s_now_us();
    long done = 0;
    uint64_t seq = 0;
    while (done < count && (s_now_us() - t0) < seconds * 1e6) {
        MDB_txn *txn;
        if (mdb_txn_begin(env, NULL, 0, &txn))
            goto out;
        if (mdb_dbi_open(txn, "events", MDB_CREATE, &dbi)) {
            mdb_txn_abort(txn);
            goto out;
        }
        for (size_t k = 0; k < batch && done < count; k++, done++) {
            uint8_t key[12] = {0, 0, 0, 1};
            seq++;
            for (int b = 0; b < 8; b++)
                key[4 + b] = (uint8_t)(seq >> (56 - 8 * b));
            MDB_val mk = {sizeof key, key}, mv = {value_len + 8, value};
            if (mdb_put(txn, dbi, &mk, &mv, MDB_APPEND)) {
                mdb_txn_abort(txn);
                goto out;
            }
        }
        if (mdb_txn_commit(txn))
            goto out;
    }
    rate = (double)done / ((s_now_us() - t0) / 1e6);
out:
    if (env)
        mdb_env_close(env);
    free(value);
    char path[1100];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    zsys_file_delete(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    zsys_file_delete(path);
    zsys_dir_delete("%s", dir);
    return rate;
}

/* Echoes every message on a ROUTER bound to a loopback port it sends to its owner. */
static void
s_echo_actor(zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *router = zsock_new_router("tcp://127.0.0.1:*");
    zsock_signal(pipe, 0);
    zstr_send(pipe, router ? zsock_endpoint(router) : "");
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (router && poller) {
        void *which = zpoller_wait(poller, -1);
        if (which != router)
            break; /* $TERM or interrupted */
        zmsg_t *msg = zmsg_recv(router);
        if (msg)
            zmsg_send(&msg, router);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

/* Returns the mean ZeroMQ round trip in µs of a header, a body and a size-byte event, one at
   a time, over tcp loopback: the part of a synchronous publish that is not the commit. */
static double
s_zmq_rtt_us(size_t size)
{
    zactor_t *echo = zactor_new(s_echo_actor, NULL);
    char *endpoint = echo ? zstr_recv(echo) : NULL;
    zsock_t *dealer = endpoint && *endpoint ? zsock_new_dealer(endpoint) : NULL;
    uint8_t *event = calloc(1, size);
    double rtt = -1;
    if (dealer && event) {
        uint8_t header[OB_HEADER_SIZE] = {'O', 'B', 1, OB_CMD_PUBLISH}, body[8] = {0x81};
        double t0 = 0;
        for (int i = -100; i < BENCH_RTT_COUNT; i++) { /* 100 warm-up round trips */
            if (i == 0)
                t0 = s_now_us();
            zsock_send(dealer, "bbb", header, sizeof header, body, sizeof body, event, size);
            zmsg_t *reply = zmsg_recv(dealer);
            zmsg_destroy(&reply);
        }
        rtt = (s_now_us() - t0) / BENCH_RTT_COUNT;
    }
    free(event);
    zsock_destroy(&dealer);
    zstr_free(&endpoint);
    zactor_destroy(&echo);
    return rtt;
}

static int
s_run(const bench_opts_t *opts, const char *endpoint, int run, run_result_t *ret)
{
    int p_count = opts->publishers;
    publisher_t *pubs = calloc((size_t)p_count, sizeof *pubs);
    pthread_t *threads = calloc((size_t)p_count, sizeof *threads);
    long per = opts->events / p_count;

    /* Find the payload length that makes the encoded event opts->size bytes. */
    char id[64], topic[32];
    ob_event_t ev;
    uint8_t *enc;
    size_t enc_len;
    s_event(&ev, id, topic, run, 0, 0, NULL, 0);
    if (ob_event_encode(&ev, &enc, &enc_len) != 0)
        return -1;
    free(enc);
    size_t data_len = opts->size > enc_len + 3 ? opts->size - enc_len - 3 : 1;
    uint8_t *data = malloc(data_len);
    for (size_t i = 0; i < data_len; i++)
        data[i] = (uint8_t)('a' + i % 26);

    pthread_barrier_init(&s_barrier, NULL, (unsigned)p_count + 1);
    for (int p = 0; p < p_count; p++) {
        pubs[p] = (publisher_t){.opts = opts,
                                .endpoint = endpoint,
                                .index = p,
                                .run = run,
                                .count = per,
                                .data = data,
                                .data_len = data_len,
                                .latency_us = calloc((size_t)per + 1, sizeof(double))};
        pthread_create(&threads[p], NULL, s_publisher, &pubs[p]);
    }
    pthread_barrier_wait(&s_barrier);
    int64_t t0 = zclock_usecs();
    int64_t end = t0;
    long total = 0, errors = 0;
    double *all = malloc(sizeof(double) * (size_t)(per * p_count + 1));
    for (int p = 0; p < p_count; p++) {
        pthread_join(threads[p], NULL);
        memcpy(all + total, pubs[p].latency_us, sizeof(double) * (size_t)pubs[p].confirmed);
        total += pubs[p].confirmed;
        errors += pubs[p].errors;
        if (pubs[p].end_us > end)
            end = pubs[p].end_us;
        free(pubs[p].latency_us);
    }
    qsort(all, (size_t)total, sizeof *all, s_cmp_double);
    ret->rate = (double)total / ((double)(end - t0) / 1e6);
    ret->p50 = s_percentile(all, total, 50) / 1000;
    ret->p99 = s_percentile(all, total, 99) / 1000;
    ret->p999 = s_percentile(all, total, 99.9) / 1000;
    ret->errors = errors;

    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", opts->dir, run);
    ret->raw256 = s_raw_lmdb(raw_dir, opts->size, opts->events, BENCH_RAW_BATCH, 60);
    ret->raw1 = s_raw_lmdb(raw_dir, opts->size, opts->events, 1, BENCH_RAW1_SECONDS);
    ret->rtt_us = s_zmq_rtt_us(opts->size);
    pthread_barrier_destroy(&s_barrier);
    free(all);
    free(data);
    free(pubs);
    free(threads);
    return 0;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Returns the broker's anonymous memory in kB (RSS less file-backed pages), or -1. */
static long
s_anon_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Anonymous: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static pid_t
s_spawn_broker(const bench_opts_t *opts, const char *endpoint)
{
    char data_dir[1024];
    snprintf(data_dir, sizeof data_dir, "%s/broker", opts->dir);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a bench that crashed or was killed */
        execl(opts->broker, opts->broker, "--data-dir", data_dir, "--endpoint", endpoint,
              (char *)NULL);
        fprintf(stderr, "orderbus-bench: cannot run %s: %s\n", opts->broker, strerror(errno));
        _exit(127);
    }
    return pid;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: orderbus-bench [options]\n"
            "Measures confirmed publishes against orderbus-broker and LMDB's raw durable\n"
            "append rate in the same run.\n\n"
            "  -p, --publishers P  concurrent publishers, each its own client and topic (4)\n"
            "  -n, --events N      events per run, all publishers together (200000)\n"
            "  -s, --size S        encoded event size in bytes (512)\n"
            "  -w, --window W      unconfirmed publishes per publisher (256)\n"
            "      --sync          publish one at a time, waiting for each confirmation\n"
            "  -r, --runs R        runs; medians are printed over them (5)\n"
            "  -e, --endpoint E    use a running broker instead of spawning one\n"
            "  -b, --broker PATH   broker binary to spawn (%s)\n"
            "  -d, --dir DIR       scratch directory, removed first (./bench-data)\n"
            "  -h, --help          this text\n",
            OB_BENCH_BROKER);
}

int
main(int argc, char **argv)
{
    bench_opts_t opts = {.publishers = 4,
                         .events = 200000,
                         .size = 512,
                         .window = 256,
                         .runs = 5,
                         .broker = OB_BENCH_BROKER,
                         .dir = "bench-data"};
    static const struct option longopts[] = {{"publishers", required_argument, NULL, 'p'},
                                             {"events", required_argument, NULL, 'n'},
                                             {"size", required_argument, NULL, 's'},
                                             {"window", required_argument, NULL, 'w'},
                                             {"sync", no_argument, NULL, 'S'},
                                             {"runs", required_argument, NULL, 'r'},
                                             {"endpoint", required_argument, NULL, 'e'},
                                             {"broker", required_argument, NULL, 'b'},
                                             {"dir", required_argument, NULL, 'd'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "p:n:s:w:r:e:b:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            opts.publishers = atoi(optarg);
            break;
        case 'n':
            opts.events = atol(optarg);
            break;
        case 's':
            opts.size = (size_t)atol(optarg);
            break;
        case 'w':
            opts.window = (unsigned)atoi(optarg);
            break;
        case 'S':
            opts.sync = 1;
            break;
        case 'r':
            opts.runs = atoi(optarg);
            break;
        case 'e':
            opts.endpoint = optarg;
            break;
        case 'b':
            opts.broker = optarg;
            break;
        case 'd':
            opts.dir = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (opts.publishers < 1 || opts.events < opts.publishers || opts.size < 64 ||
        opts.size > OB_EVENT_MAX_DEFAULT || opts.window < 1 || opts.window > OB_WINDOW_MAX ||
        opts.runs < 1 || opts.runs > BENCH_RUNS_MAX) {
        fprintf(stderr, "orderbus-bench: an option is out of range\n");
        s_usage(stderr);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    zsys_dir_create("%s", opts.dir);

    char endpoint[256];
    pid_t broker = 0;
    if (opts.endpoint)
        snprintf(endpoint, sizeof endpoint, "%s", opts.endpoint);
    else {
        /* Ask the kernel for a free loopback port, then hand it to the broker. */
        zsock_t *probe = zsock_new_router("tcp://127.0.0.1:![20000-32000]");
        if (!probe)
            return 1;
        snprintf(endpoint, sizeof endpoint, "%s", zsock_endpoint(probe));
        zsock_destroy(&probe);
        broker = s_spawn_broker(&opts, endpoint);
    }
    ob_client_t *probe = ob_client_new(endpoint, NULL);
    if (!probe || ob_client_connect(probe, BENCH_START_TIMEOUT) != 0) {
        fprintf(stderr, "orderbus-bench: no broker answers at %s\n", endpoint);
        ob_client_destroy(&probe);
        if (broker > 0)
            kill(broker, SIGKILL);
        return 1;
    }
    ob_client_destroy(&probe);

    printf("orderbus-bench: %d publisher(s), %ld events of %zu bytes per run, %s %u, %d runs\n",
           opts.publishers, opts.events, opts.size, opts.sync ? "sync, window" : "window",
           opts.sync ? 1 : opts.window, opts.runs);
    double rate[BENCH_RUNS_MAX], p50[BENCH_RUNS_MAX], p99[BENCH_RUNS_MAX], p999[BENCH_RUNS_MAX],
        raw256[BENCH_RUNS_MAX], raw1[BENCH_RUNS_MAX], ratio256[BENCH_RUNS_MAX],
        ratio1[BENCH_RUNS_MAX], rtt[BENCH_RUNS_MAX], ceiling1[BENCH_RUNS_MAX];
    long errors = 0;
    for (int r = 0; r < opts.runs; r++) {
        run_result_t res;
        if (s_run(&opts, endpoint, r, &res) != 0)
            return 1;
        rate[r] = res.rate, p50[r] = res.p50, p99[r] = res.p99, p999[r] = res.p999;
        raw256[r] = res.raw256, raw1[r] = res.raw1;
        ratio256[r] = res.rate / res.raw256, ratio1[r] = res.rate / res.raw1;
        /* A synchronous publish costs at least one commit plus one round trip: */
        rtt[r] = res.rtt_us;
        ceiling1[r] = (1e6 / res.raw1) / (1e6 / res.raw1 + res.rtt_us);
        errors += res.errors;
        printf("run %d: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms | "
               "lmdb raw 256/commit %9.0f/s  1/commit %6.0f/s | zmq rtt %.0f us | %s %.2f%s\n",
               r + 1, res.rate, res.p50, res.p99, res.p999, res.raw256, res.raw1, res.rtt_us,
               opts.sync ? "broker/raw1" : "broker/raw256", opts.sync ? ratio1[r] : ratio256[r],
               res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    /* The raw rate to compare with: commits of 256 for pipelined publishing, of 1 for
       synchronous publishing (one event per commit is all a lone synchronous publisher
       can give the broker). */
    printf("median: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms | "
           "lmdb raw 256/commit %9.0f/s  1/commit %6.0f/s | zmq rtt %.0f us | ",
           s_median(rate, opts.runs), s_median(p50, opts.runs), s_median(p99, opts.runs),
           s_median(p999, opts.runs), s_median(raw256, opts.runs), s_median(raw1, opts.runs),
           s_median(rtt, opts.runs));
    if (opts.sync)
        printf("broker/raw1 %.2f (at most %.2f: 1 commit + 1 zmq round trip)\n",
               s_median(ratio1, opts.runs), s_median(ceiling1, opts.runs));
    else
        printf("broker/raw256 %.2f\n", s_median(ratio256, opts.runs));
    if (broker > 0) {
        long anon = s_anon_kb(broker);
        printf("broker: anonymous memory %.1f MB with %ld events stored by these runs\n",
               anon / 1024.0, opts.events / opts.publishers * opts.publishers * opts.runs);
        kill(broker, SIGTERM);
        waitpid(broker, NULL, 0);
    }
    if (errors) {
        printf("errors: %ld publishes failed\n", errors);
        return 1;
    }
    return 0;
}
