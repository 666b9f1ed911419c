/*  orderbus-bench: throughput and latency of a real orderbus-broker, beside the physical
    limits measured in the same run. Benchmarks print figures; they are not tests.

    --mode publish (the default): confirmed-publish throughput and latency, beside LMDB's own
    durable append rate for the same payloads, in commits of 256 events and of 1 event, and
    the disk's own rate of one synced append to a preallocated file (the limit of a lone
    durable event: one sequential sync of its bytes), each result also as a ratio to it.
    Each run starts P publisher threads, each with its own ob_client on its own topic
    (oms.<k>), that publish N/P events of S encoded bytes with at most W unconfirmed (window),
    or one at a time with ob_client_publish when --sync. It prints events/s and the confirm
    latency (publish call to confirmation) p50, p99, p99.9; then the raw LMDB rates and the
    ratios; after all runs, the medians, and the broker's anonymous memory with everything the
    runs stored (one broker serves all runs, so 5 runs of 200,000 events leave 1,000,000).

    --mode fanout, replay, latency, stall: durable subscriptions (bench_subs.c). Each of their
    runs spawns its own broker in a fresh data directory.

    The broker is spawned from --broker (default: the one built beside this program) on a
    loopback port with its data under --dir, on the same file system as the raw LMDB test,
    unless --endpoint names a running broker. This file holds main, the publish mode and the
    helpers the modes share (bench.h). */

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "broker_proc.h"

/* ---------------------------------------------------------------------------------------- */
/* Shared helpers */

double
ob_bench_now_us(void)
{
    return (double)zclock_usecs();
}

void
ob_bench_sleep_until(double due_us)
{
    struct timespec ts = {.tv_sec = (time_t)(due_us / 1e6),
                          .tv_nsec = (long)((due_us - (double)(time_t)(due_us / 1e6) * 1e6) * 1e3)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
        ; /* EINTR */
}

void
ob_bench_event(ob_event_t *ev, char *id, const char *topic, int r, int p, long i,
               const uint8_t *data, size_t data_len)
{
    snprintf(id, 64, "bench-%d-%d-%ld-%ld", r, p, i, (long)getpid());
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

uint8_t *
ob_bench_payload(size_t size, size_t *ret_len)
{
    char id[64];
    ob_event_t ev;
    uint8_t *enc;
    size_t enc_len;
    ob_bench_event(&ev, id, "oms.1", 0, 0, 0, NULL, 0);
    if (ob_event_encode(&ev, &enc, &enc_len) != 0)
        return NULL;
    free(enc);
    /* 3: the bin header that a non-empty data adds (bin 16 for 256..65535 bytes) */
    size_t data_len = size > enc_len + 3 ? size - enc_len - 3 : 1;
    uint8_t *data = malloc(data_len);
    if (!data)
        return NULL;
    for (size_t i = 0; i < data_len; i++)
        data[i] = (uint8_t)('a' + i % 26);
    *ret_len = data_len;
    return data;
}

int
ob_bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double
ob_bench_percentile(const double *sorted, long n, double p)
{
    if (n == 0)
        return 0;
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return sorted[i];
}

double
ob_bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, ob_bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
ob_bench_dir_remove(const char *path)
{
    zdir_t *dir = zdir_new(path, NULL);
    if (dir)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
}

static volatile unsigned s_sink; /* keeps the walk's reads from being optimised away */

/* Walks every value of dbi in one read transaction of env; returns values/s, or -1.
   Each value's first and last bytes are read, so that every page is touched as a reader
   that copies the events out would. */
static double
s_raw_walk(MDB_env *env, MDB_dbi dbi, long expect)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    double rate = -1;
    double t0 = ob_bench_now_us();
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) || mdb_cursor_open(txn, dbi, &cursor))
        goto out;
    long seen = 0;
    unsigned sum = 0;
    MDB_val mk, mv;
    for (int rc = mdb_cursor_get(cursor, &mk, &mv, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &mk, &mv, MDB_NEXT)) {
        const uint8_t *v = mv.mv_data;
        sum += v[0] + v[mv.mv_size - 1];
        seen++;
    }
    s_sink = sum;
    if (seen == expect)
        rate = (double)seen / ((ob_bench_now_us() - t0) / 1e6);
out:
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    return rate;
}

/* The keys and values have the broker's layout: u32 topic | u64 seq big-endian -> u64 time |
   event. */
double
ob_bench_raw_lmdb(const char *dir, size_t value_len, long count, size_t batch, double seconds,
                  double *ret_read_rate)
{
    MDB_env *env = NULL;
    MDB_dbi dbi = 0;
    double rate = -1;
    uint8_t *value = calloc(1, value_len + 8);
    if (ret_read_rate)
        *ret_read_rate = -1;
    zsys_dir_create("%s", dir);
    if (!value || mdb_env_create(&env) || mdb_env_set_mapsize(env, 8ull << 30) ||
        mdb_env_set_maxdbs(env, 4) || mdb_env_open(env, dir, 0, 0600))
        goto out;
    double t0 = ob_bench_now_us();
    long done = 0;
    uint64_t seq = 0;
    while (done < count && (ob_bench_now_us() - t0) < seconds * 1e6) {
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
    rate = (double)done / ((ob_bench_now_us() - t0) / 1e6);
    if (ret_read_rate)
        *ret_read_rate = s_raw_walk(env, dbi, done);
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

/* Creates dir/append.log (path, its name, is written for the caller to remove), fills
   BENCH_APPEND_FILE_MAX bytes of it with zeros and syncs it, so that no block or extent
   changes while records are appended. Returns its descriptor, or -1. */
static int
s_append_file(const char *dir, char *path, size_t path_len)
{
    size_t block_len = 1u << 20;
    uint8_t *block = calloc(1, block_len);
    zsys_dir_create("%s", dir);
    snprintf(path, path_len, "%s/append.log", dir);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || !block)
        goto fail;
    for (size_t off = 0; off < BENCH_APPEND_FILE_MAX; off += block_len)
        if (pwrite(fd, block, block_len, (off_t)off) != (ssize_t)block_len)
            goto fail;
    if (fsync(fd) != 0)
        goto fail;
    free(block);
    return fd;
fail:
    if (fd >= 0)
        close(fd);
    free(block);
    return -1;
}

/* Closes fd and removes path and dir. */
static void
s_append_file_remove(int fd, const char *dir, const char *path)
{
    if (fd >= 0)
        close(fd);
    zsys_file_delete(path);
    zsys_dir_delete("%s", dir);
}

double
ob_bench_raw_append(const char *dir, size_t value_len, double seconds)
{
    char path[1100];
    double rate = -1;
    uint8_t *record = value_len ? malloc(value_len) : NULL;
    int fd = s_append_file(dir, path, sizeof path);
    if (fd < 0 || !record || value_len > BENCH_APPEND_FILE_MAX)
        goto out;
    memset(record, 0xab, value_len);
    long done = 0;
    double t0 = ob_bench_now_us();
    for (size_t off = 0; off + value_len <= BENCH_APPEND_FILE_MAX; off += value_len) {
        if (pwrite(fd, record, value_len, (off_t)off) != (ssize_t)value_len || fdatasync(fd) != 0)
            goto out;
        done++;
        if (ob_bench_now_us() - t0 >= seconds * 1e6)
            break;
    }
    rate = (double)done / ((ob_bench_now_us() - t0) / 1e6);
out:
    s_append_file_remove(fd, dir, path);
    free(record);
    return rate;
}

double
ob_bench_raw_append_paced(const char *dir, size_t value_len, double rate, long count)
{
    char path[1100];
    double p50 = -1;
    uint8_t *record = value_len ? malloc(value_len) : NULL;
    double *took = count > 0 ? calloc((size_t)count, sizeof *took) : NULL;
    int fd = s_append_file(dir, path, sizeof path);
    if (fd < 0 || !record || !took || rate <= 0 ||
        (size_t)count * value_len > BENCH_APPEND_FILE_MAX)
        goto out;
    memset(record, 0xab, value_len);
    double t0 = ob_bench_now_us();
    for (long i = 0; i < count; i++) {
        ob_bench_sleep_until(t0 + (double)(i + 1) * 1e6 / rate);
        double started = ob_bench_now_us();
        if (pwrite(fd, record, value_len, (off_t)((size_t)i * value_len)) != (ssize_t)value_len ||
            fdatasync(fd) != 0)
            goto out;
        took[i] = ob_bench_now_us() - started;
    }
    qsort(took, (size_t)count, sizeof *took, ob_bench_cmp_double);
    p50 = ob_bench_percentile(took, count, 50);
out:
    s_append_file_remove(fd, dir, path);
    free(took);
    free(record);
    return p50;
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
double
ob_bench_zmq_rtt_us(size_t size)
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
                t0 = ob_bench_now_us();
            zsock_send(dealer, "bbb", header, sizeof header, body, sizeof body, event, size);
            zmsg_t *reply = zmsg_recv(dealer);
            zmsg_destroy(&reply);
        }
        rtt = (ob_bench_now_us() - t0) / BENCH_RTT_COUNT;
    }
    free(event);
    zsock_destroy(&dealer);
    zstr_free(&endpoint);
    zactor_destroy(&echo);
    return rtt;
}

/* The far end of ob_bench_handoff_us: answers each "sp" message with one, as the broker's
   writer answers a batch. */
static void
s_handoff_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_signal(pipe, 0);
    while (1) {
        char *command = NULL;
        void *ptr = NULL;
        if (zsock_recv(pipe, "sp", &command, &ptr) < 0)
            break;
        int term = command && !strcmp(command, "$TERM");
        zstr_free(&command);
        if (term || zsock_send(pipe, "sp", "DONE", ptr) < 0)
            break;
    }
}

/* Returns the mean round trip in µs of the broker's hand-off to its writer thread and back
   (an "sp" message each way over a zactor's inproc pipe, the other thread asleep in between,
   as the writer is while nothing is to commit): the part of a synchronous publish that is
   neither the commit nor the network. */
double
ob_bench_handoff_us(void)
{
    zactor_t *peer = zactor_new(s_handoff_actor, NULL);
    double rtt = -1;
    if (peer) {
        double t0 = 0;
        int i;
        for (i = -100; i < BENCH_RTT_COUNT; i++) { /* 100 warm-up round trips */
            if (i == 0)
                t0 = ob_bench_now_us();
            char *command = NULL;
            void *ptr = NULL;
            if (zsock_send(peer, "sp", "BATCH", &rtt) < 0 ||
                zsock_recv(peer, "sp", &command, &ptr) < 0)
                break;
            zstr_free(&command);
        }
        if (i == BENCH_RTT_COUNT)
            rtt = (ob_bench_now_us() - t0) / BENCH_RTT_COUNT;
    }
    zactor_destroy(&peer);
    return rtt;
}

/* The receiving end of the stream test: a ROUTER in its own ZeroMQ context (raw libzmq, as
   CZMQ has one context per process), as the broker's socket is in its own process. */
typedef struct {
    void *ctx;                /* the sink's own context */
    char endpoint[256];       /* out: where the ROUTER is bound, "" on failure */
    pthread_barrier_t *bound; /* passed once endpoint is set */
} s_sink_t;

/* Counts messages of 3 or more frames until a 1-frame one arrives, and answers it with the
   count. */
static void *
s_stream_sink(void *arg)
{
    s_sink_t *self = arg;
    void *router = zmq_socket(self->ctx, ZMQ_ROUTER);
    size_t len = sizeof self->endpoint;
    if (!router || zmq_bind(router, "tcp://127.0.0.1:*") != 0 ||
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, self->endpoint, &len) != 0)
        self->endpoint[0] = '\0';
    pthread_barrier_wait(self->bound);
    uint64_t count = 0;
    while (self->endpoint[0]) {
        zmq_msg_t identity, frame;
        int frames = 0, failed = 0;
        zmq_msg_init(&identity);
        if (zmq_msg_recv(&identity, router, 0) < 0) {
            zmq_msg_close(&identity);
            break; /* the context was shut down */
        }
        for (int more = zmq_msg_more(&identity); more; frames++) {
            zmq_msg_init(&frame);
            failed = zmq_msg_recv(&frame, router, 0) < 0;
            more = !failed && zmq_msg_more(&frame);
            zmq_msg_close(&frame);
        }
        if (frames == 1 && !failed) { /* the end marker */
            if (zmq_msg_send(&identity, router, ZMQ_SNDMORE) >= 0)
                zmq_send(router, &count, sizeof count, 0);
            zmq_msg_close(&identity);
            break;
        }
        zmq_msg_close(&identity);
        if (failed)
            break;
        count++;
    }
    zmq_close(router);
    return NULL;
}

double
ob_bench_zmq_stream_rate(size_t size, uint32_t run, double seconds)
{
    pthread_barrier_t bound;
    s_sink_t sink = {.ctx = zmq_ctx_new(), .bound = &bound};
    void *ctx = zmq_ctx_new();
    void *dealer = NULL;
    uint8_t *event = calloc(1, size);
    double rate = -1;
    pthread_t thread;
    int started = 0;
    if (!sink.ctx || !ctx || !event)
        goto out;
    pthread_barrier_init(&bound, NULL, 2);
    started = pthread_create(&thread, NULL, s_stream_sink, &sink) == 0;
    if (started)
        pthread_barrier_wait(&bound);
    pthread_barrier_destroy(&bound);
    if (!started || !sink.endpoint[0] || !(dealer = zmq_socket(ctx, ZMQ_DEALER)) ||
        zmq_connect(dealer, sink.endpoint) != 0)
        goto out;

    /* The frames of a real DELIVER, as the broker would send them. */
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_DELIVER);
    snprintf(msg.sub, sizeof msg.sub, "fanout-1");
    snprintf(msg.topic, sizeof msg.topic, "oms.1");
    msg.seq = 123456;
    msg.attempt = 1;
    msg.time = (uint64_t)zclock_time() * 1000;
    if (run < 1 || run > OB_DELIVER_RUN_MAX)
        goto out;
    msg.count = run;
    for (uint32_t i = 0; i < run; i++)
        msg.times[i] = msg.time + i;
    uint8_t header[OB_HEADER_SIZE], body[OB_BODY_MAX];
    size_t body_len;
    ob_wire_encode_header(&msg, header);
    if (ob_wire_encode_body(&msg, body, sizeof body, &body_len) != 0)
        goto out;
    double t0 = ob_bench_now_us();
    uint64_t sent = 0, received = 0;
    while (ob_bench_now_us() - t0 < seconds * 1e6) {
        for (int i = 0; i < 1024; i += (int)run, sent++) { /* look at the clock now and then */
            if (zmq_send(dealer, header, sizeof header, ZMQ_SNDMORE) < 0 ||
                zmq_send(dealer, body, body_len, ZMQ_SNDMORE) < 0)
                goto out;
            for (uint32_t k = 0; k < run; k++)
                if (zmq_send(dealer, event, size, k + 1 < run ? ZMQ_SNDMORE : 0) < 0)
                    goto out;
        }
    }
    /* Everything sent before the marker has arrived when the sink answers it. */
    if (zmq_send(dealer, "", 0, 0) < 0 || zmq_recv(dealer, &received, sizeof received, 0) < 0)
        goto out;
    if (received == sent)
        rate = (double)(sent * run) / ((ob_bench_now_us() - t0) / 1e6);
out:
    if (dealer) {
        int linger = 0;
        zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(dealer);
    }
    if (sink.ctx)
        zmq_ctx_shutdown(sink.ctx); /* unblocks the sink if the stream failed */
    if (started)
        pthread_join(thread, NULL);
    if (sink.ctx)
        zmq_ctx_term(sink.ctx);
    if (ctx)
        zmq_ctx_term(ctx);
    free(event);
    return rate;
}

/* Forks and runs the broker; the child dies with the thread that forked it (the main
   thread, which lives as long as the bench), also when the bench is killed. */
static pid_t
s_spawn_broker(const bench_opts_t *opts, const char *data_dir, const char *file)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a bench that crashed or was killed */
        if (getppid() != parent)
            _exit(127);                     /* the bench died before prctl */
        dup2(STDERR_FILENO, STDOUT_FILENO); /* its log (czmq: stdout) apart from the figures */
        if (opts->spawn_curve)
            execl(opts->broker, opts->broker, "--data-dir", data_dir, "--endpoint",
                  BROKER_PROC_EPHEMERAL, "--endpoint-file", file, "--metrics", BROKER_PROC_METRICS,
                  "--curve", "1", "--cert", opts->broker_secret_cert, "--permissions",
                  opts->permissions, (char *)NULL);
        else
            execl(opts->broker, opts->broker, "--data-dir", data_dir, "--endpoint",
                  BROKER_PROC_EPHEMERAL, "--endpoint-file", file, "--metrics", BROKER_PROC_METRICS,
                  "--curve", "0", (char *)NULL);
        fprintf(stderr, "orderbus-bench: cannot run %s: %s\n", opts->broker, strerror(errno));
        _exit(127);
    }
    return pid;
}

pid_t
ob_bench_broker_start(const bench_opts_t *opts, const char *data_dir, char *endpoint, size_t len)
{
    /* The broker binds a port the kernel picks and names it in its endpoint file: a port
       probed here and let go could be taken before the broker binds it. */
    char file[PATH_MAX];
    if (broker_proc_file(data_dir, file, sizeof file))
        return -1;
    remove(file); /* an earlier broker's */
    pid_t pid = s_spawn_broker(opts, data_dir, file);
    if (pid < 0)
        return -1;
    int status = -1;
    if (broker_proc_wait_file(pid, file, BENCH_START_TIMEOUT, endpoint, len, &status)) {
        fprintf(stderr, "orderbus-bench: the broker did not write %s\n", file);
        if (status == -1) { /* still running */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    ob_client_config_t cfg = {.name = "bench-probe"};
    ob_bench_client_security(opts, &cfg);
    ob_client_t *probe = ob_client_new(endpoint, &cfg);
    if (!probe || ob_client_connect(probe, BENCH_START_TIMEOUT) != 0) {
        fprintf(stderr, "orderbus-bench: no broker answers at %s\n", endpoint);
        ob_client_destroy(&probe);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    ob_client_destroy(&probe);
    return pid;
}

void
ob_bench_broker_stop(pid_t *pid_p)
{
    if (*pid_p <= 0)
        return;
    kill(*pid_p, SIGTERM);
    waitpid(*pid_p, NULL, 0);
    *pid_p = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* --mode publish */

typedef struct {
    const bench_opts_t *opts;   /* borrowed */
    const char *endpoint;       /* borrowed */
    int index;                  /* publisher number, from 0 */
    int run;                    /* run number, for unique event ids */
    long count;                 /* events this publisher sends */
    const uint8_t *data;        /* payload bytes, borrowed */
    size_t data_len;            /* payload length giving size encoded bytes */
    double *latency_us;         /* count entries, owned by the caller */
    pthread_barrier_t *barrier; /* publishers and main start the clock together */
    long confirmed;             /* out: confirmations received */
    long errors;                /* out: refusals and failures */
    int64_t end_us;             /* out: time of the last confirmation */
} publisher_t;

static void *
s_publisher(void *arg)
{
    publisher_t *self = arg;
    ob_client_config_t cfg = {
        .name = "bench", .window = self->opts->sync ? 1 : self->opts->window, .timeout_ms = 30000};
    ob_bench_client_security(self->opts, &cfg);
    ob_client_t *client = ob_client_new(self->endpoint, &cfg);
    int rc = client ? ob_client_connect(client, BENCH_START_TIMEOUT) : OB_ERR_INVALID_ARGUMENT;
    pthread_barrier_wait(self->barrier); /* connected (or failed): start together */
    if (rc != 0) {
        self->errors = self->count;
        ob_client_destroy(&client);
        return NULL;
    }

    double *sent = calloc((size_t)self->count + 1, sizeof *sent);
    char id[64], topic[32];
    snprintf(topic, sizeof topic, "oms.%d", self->index + 1);
    ob_event_t ev;
    for (long i = 0; i < self->count; i++) {
        ob_bench_event(&ev, id, topic, self->run, self->index, i, self->data, self->data_len);
        double t0 = ob_bench_now_us();
        if (self->opts->sync) {
            ob_confirm_t c;
            if (ob_client_publish(client, &ev, &c) == 0 && c.rc == 0) {
                self->latency_us[self->confirmed++] = ob_bench_now_us() - t0;
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
                    ob_bench_now_us() - sent[c.token % ((size_t)self->count + 1)];
            else
                self->errors++;
        }
    }
    ob_confirm_t c;
    while (ob_client_pending(client) > 0 && ob_client_confirm_next(client, 30000, &c) == 0) {
        if (c.rc == 0)
            self->latency_us[self->confirmed++] =
                ob_bench_now_us() - sent[c.token % ((size_t)self->count + 1)];
        else
            self->errors++;
    }
    self->errors += (long)ob_client_pending(client);
    self->end_us = zclock_usecs();
    free(sent);
    ob_client_destroy(&client);
    return NULL;
}

typedef struct {
    double rate;       /* confirmed events/s */
    double p50;        /* confirm latency, ms */
    double p99;        /* ms */
    double p999;       /* ms */
    double raw256;     /* LMDB events/s, 256 per durable commit */
    double raw1;       /* LMDB events/s, 1 per durable commit */
    double append1;    /* synced appends/s to a preallocated file (ob_bench_raw_append) */
    double rtt_us;     /* ZeroMQ tcp loopback round trip of one event, DEALER to ROUTER, µs */
    double handoff_us; /* inproc round trip between two threads, µs (--sync only) */
    long errors;       /* publishes that failed */
} run_result_t;

static int
s_run(const bench_opts_t *opts, const char *endpoint, int run, run_result_t *ret)
{
    int p_count = opts->publishers;
    publisher_t *pubs = calloc((size_t)p_count, sizeof *pubs);
    pthread_t *threads = calloc((size_t)p_count, sizeof *threads);
    long per = opts->events / p_count;
    pthread_barrier_t barrier;

    /* The payload length that makes the encoded event opts->size bytes. */
    size_t data_len;
    uint8_t *data = ob_bench_payload(opts->size, &data_len);
    if (!data)
        return -1;

    pthread_barrier_init(&barrier, NULL, (unsigned)p_count + 1);
    for (int p = 0; p < p_count; p++) {
        pubs[p] = (publisher_t){.opts = opts,
                                .endpoint = endpoint,
                                .index = p,
                                .run = run,
                                .count = per,
                                .data = data,
                                .data_len = data_len,
                                .barrier = &barrier,
                                .latency_us = calloc((size_t)per + 1, sizeof(double))};
        pthread_create(&threads[p], NULL, s_publisher, &pubs[p]);
    }
    pthread_barrier_wait(&barrier);
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
    qsort(all, (size_t)total, sizeof *all, ob_bench_cmp_double);
    ret->rate = (double)total / ((double)(end - t0) / 1e6);
    ret->p50 = ob_bench_percentile(all, total, 50) / 1000;
    ret->p99 = ob_bench_percentile(all, total, 99) / 1000;
    ret->p999 = ob_bench_percentile(all, total, 99.9) / 1000;
    ret->errors = errors;

    /* --curve compares two brokers on the same machine: the physical limits are the same
       for both and are measured by a plain publish run. */
    char raw_dir[1024];
    snprintf(raw_dir, sizeof raw_dir, "%s/raw-%d", opts->dir, run);
    ret->raw256 = opts->curve_compare ? 1
                                      : ob_bench_raw_lmdb(raw_dir, opts->size, opts->events,
                                                          BENCH_RAW_BATCH, BENCH_RAW_SECONDS, NULL);
    ret->raw1 = opts->curve_compare ? 1
                                    : ob_bench_raw_lmdb(raw_dir, opts->size, opts->events, 1,
                                                        BENCH_RAW1_SECONDS, NULL);
    ret->append1 =
        opts->curve_compare ? 1 : ob_bench_raw_append(raw_dir, opts->size, BENCH_APPEND_SECONDS);
    ret->rtt_us = opts->curve_compare ? 0 : ob_bench_zmq_rtt_us(opts->size);
    ret->handoff_us = opts->sync ? ob_bench_handoff_us() : 0;
    pthread_barrier_destroy(&barrier);
    free(all);
    free(data);
    free(pubs);
    free(threads);
    return 0;
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

/* Medians of a publish mode, for --curve. */
typedef struct {
    double rate, p50, p99, p999; /* events/s, ms */
} publish_medians_t;

/* The publish mode: one broker for all runs (its memory after them is part of the report).
   If ret is not NULL, the medians are written there. */
static int
s_publish_mode(const bench_opts_t *opts, publish_medians_t *ret)
{
    char endpoint[256], data_dir[1024];
    pid_t broker = 0;
    if (opts->endpoint) {
        snprintf(endpoint, sizeof endpoint, "%s", opts->endpoint);
        ob_client_config_t cfg = {.name = "bench-probe"};
        ob_bench_client_security(opts, &cfg);
        ob_client_t *probe = ob_client_new(endpoint, &cfg);
        int rc = probe ? ob_client_connect(probe, BENCH_START_TIMEOUT) : -1;
        ob_client_destroy(&probe);
        if (rc != 0) {
            fprintf(stderr, "orderbus-bench: no broker answers at %s\n", endpoint);
            return 1;
        }
    } else {
        /* Removed first, so that the memory line counts only what these runs stored. */
        snprintf(data_dir, sizeof data_dir, "%s/broker", opts->dir);
        ob_bench_dir_remove(data_dir);
        broker = ob_bench_broker_start(opts, data_dir, endpoint, sizeof endpoint);
        if (broker < 0)
            return 1;
    }

    printf("orderbus-bench: %d publisher(s), %ld events of %zu bytes per run, %s %u, %d runs\n",
           opts->publishers, opts->events, opts->size, opts->sync ? "sync, window" : "window",
           opts->sync ? 1 : opts->window, opts->runs);
    double rate[BENCH_RUNS_MAX], p50[BENCH_RUNS_MAX], p99[BENCH_RUNS_MAX], p999[BENCH_RUNS_MAX],
        raw256[BENCH_RUNS_MAX], raw1[BENCH_RUNS_MAX], ratio256[BENCH_RUNS_MAX],
        ratio1[BENCH_RUNS_MAX], rtt[BENCH_RUNS_MAX], ceiling1[BENCH_RUNS_MAX],
        handoff[BENCH_RUNS_MAX], ceiling1h[BENCH_RUNS_MAX], append1[BENCH_RUNS_MAX],
        ratio_append[BENCH_RUNS_MAX];
    long errors = 0;
    for (int r = 0; r < opts->runs; r++) {
        run_result_t res;
        if (s_run(opts, endpoint, r, &res) != 0) {
            ob_bench_broker_stop(&broker);
            return 1;
        }
        rate[r] = res.rate, p50[r] = res.p50, p99[r] = res.p99, p999[r] = res.p999;
        raw256[r] = res.raw256, raw1[r] = res.raw1, append1[r] = res.append1;
        ratio_append[r] = res.rate / res.append1;
        ratio256[r] = res.rate / res.raw256, ratio1[r] = res.rate / res.raw1;
        /* A synchronous publish costs at least one synced append of its journal record (the
           broker's one sync, store.h "Durability") plus one round trip: */
        rtt[r] = res.rtt_us;
        ceiling1[r] = (1e6 / res.append1) / (1e6 / res.append1 + res.rtt_us);
        /* ... and, in a broker that commits in a thread of its own, one hand-off there and back */
        handoff[r] = res.handoff_us;
        ceiling1h[r] = (1e6 / res.append1) / (1e6 / res.append1 + res.rtt_us + res.handoff_us);
        errors += res.errors;
        if (opts->curve_compare)
            printf("run %d: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms%s\n",
                   r + 1, res.rate, res.p50, res.p99, res.p999, res.errors ? "  (errors!)" : "");
        else
            printf("run %d: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms | "
                   "lmdb raw 256/commit %9.0f/s  1/commit %6.0f/s | synced append %6.0f/s | zmq "
                   "rtt %.0f us | %s %.2f, broker/append %.2f%s\n",
                   r + 1, res.rate, res.p50, res.p99, res.p999, res.raw256, res.raw1, res.append1,
                   res.rtt_us, opts->sync ? "broker/raw1" : "broker/raw256",
                   opts->sync ? ratio1[r] : ratio256[r], ratio_append[r],
                   res.errors ? "  (errors!)" : "");
        fflush(stdout);
    }
    /* The raw rate to compare with: commits of 256 for pipelined publishing, of 1 for
       synchronous publishing (one event per commit is all a lone synchronous publisher
       can give the broker). */
    if (opts->curve_compare)
        printf("median: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n",
               ob_bench_median(rate, opts->runs), ob_bench_median(p50, opts->runs),
               ob_bench_median(p99, opts->runs), ob_bench_median(p999, opts->runs));
    else
        printf("median: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms | "
               "lmdb raw 256/commit %9.0f/s  1/commit %6.0f/s | synced append %6.0f/s | zmq rtt "
               "%.0f us | broker/append %.2f | ",
               ob_bench_median(rate, opts->runs), ob_bench_median(p50, opts->runs),
               ob_bench_median(p99, opts->runs), ob_bench_median(p999, opts->runs),
               ob_bench_median(raw256, opts->runs), ob_bench_median(raw1, opts->runs),
               ob_bench_median(append1, opts->runs), ob_bench_median(rtt, opts->runs),
               ob_bench_median(ratio_append, opts->runs));
    if (ret) {
        ret->rate = ob_bench_median(rate, opts->runs);
        ret->p50 = ob_bench_median(p50, opts->runs);
        ret->p99 = ob_bench_median(p99, opts->runs);
        ret->p999 = ob_bench_median(p999, opts->runs);
    }
    /* --curve: no raw figures, the two brokers share the machine's limits */
    if (!opts->curve_compare && opts->sync)
        printf("broker/raw1 %.2f | broker/append at most %.2f: 1 synced append + 1 zmq round "
               "trip; %.2f had it the hand-off to the writer thread that a lone publish skips "
               "(an inproc round trip of %.0f us)\n",
               ob_bench_median(ratio1, opts->runs), ob_bench_median(ceiling1, opts->runs),
               ob_bench_median(ceiling1h, opts->runs), ob_bench_median(handoff, opts->runs));
    else if (!opts->curve_compare)
        printf("broker/raw256 %.2f\n", ob_bench_median(ratio256, opts->runs));
    if (broker > 0) {
        long anon = s_anon_kb(broker);
        printf("broker: anonymous memory %.1f MB with %ld events stored by these runs\n",
               anon / 1024.0, opts->events / opts->publishers * opts->publishers * opts->runs);
        ob_bench_broker_stop(&broker);
    }
    if (errors) {
        printf("errors: %ld publishes failed\n", errors);
        return 1;
    }
    return 0;
}

void
ob_bench_client_security(const bench_opts_t *opts, ob_client_config_t *cfg)
{
    cfg->cert = opts->cert;
    cfg->broker_cert = opts->broker_cert;
}

/* --curve: writes a broker certificate, a client certificate and a permissions file that
   lets the client publish and subscribe anywhere into dir (borrowed), and points opts at
   them. Returns 0 or -1. */
static int
s_curve_keys(bench_opts_t *opts, const char *dir, char *broker, char *client, char *perms,
             size_t len)
{
    zsys_dir_create("%s", dir);
    snprintf(broker, len, "%s/broker.cert", dir);
    snprintf(client, len, "%s/bench.cert", dir);
    snprintf(perms, len, "%s/permissions.cfg", dir);
    zcert_t *b = zcert_new(), *c = zcert_new();
    int rc = b && c && zcert_save(b, broker) == 0 && zcert_save(c, client) == 0 ? 0 : -1;
    FILE *file = rc == 0 ? fopen(perms, "w") : NULL;
    if (file) {
        fprintf(file,
                "client = bench\n    key = \"%s\"\n    publish = >\n    subscribe = >\n"
                "    admin = write\n",
                zcert_public_txt(c));
        rc = fclose(file) == 0 ? 0 : -1;
    } else
        rc = -1;
    zcert_destroy(&b);
    zcert_destroy(&c);
    opts->broker_secret_cert = broker;
    opts->broker_cert = broker;
    opts->cert = client;
    opts->permissions = perms;
    return rc;
}

/* --curve: the publish mode with CURVE off, then on, each on its own spawned broker, and
   both side by side. */
static int
s_publish_curve(const bench_opts_t *opts)
{
    char dir[1024], broker[1200], client[1200], perms[1200];
    publish_medians_t off, on;
    bench_opts_t plain = *opts;
    plain.cert = plain.broker_cert = NULL;
    plain.spawn_curve = 0;
    printf("== CURVE off (plaintext) ==\n");
    if (s_publish_mode(&plain, &off))
        return 1;
    bench_opts_t curve = *opts;
    snprintf(dir, sizeof dir, "%s/keys", opts->dir);
    if (s_curve_keys(&curve, dir, broker, client, perms, sizeof broker)) {
        fprintf(stderr, "orderbus-bench: cannot write the CURVE keys in %s\n", dir);
        return 1;
    }
    curve.spawn_curve = 1;
    printf("== CURVE on (every connection encrypted and authenticated) ==\n");
    if (s_publish_mode(&curve, &on))
        return 1;
    printf("curve off: %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n", off.rate,
           off.p50, off.p99, off.p999);
    printf("curve on:  %9.0f events/s  confirm p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms\n", on.rate,
           on.p50, on.p99, on.p999);
    printf("curve on / off: throughput %.2f, confirm p50 %.2f\n", on.rate / off.rate,
           off.p50 > 0 ? on.p50 / off.p50 : 0);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* main */

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: orderbus-bench [--mode MODE] [options]\n"
            "Measures a real orderbus-broker beside the physical limits of this machine, measured\n"
            "in the same run, and prints each run and the medians over the runs.\n\n"
            "Modes:\n"
            "  publish   (default) P publishers, each its own client and topic, publish N events\n"
            "            together; confirmed events/s, confirm latency, LMDB's raw append rate\n"
            "            (256 and 1 per commit) and the ZeroMQ loopback round trip; with\n"
            "            --sync also an inproc round trip between two threads (the hand-off\n"
            "            to the broker's writer). One broker serves all runs.\n"
            "  fanout    1 publisher (window W) publishes N events to one topic; S durable\n"
            "            subscriptions (start \"new\", created first), each its own client and\n"
            "            thread, receive all of them; deliveries/s = S*N / (first publish to the\n"
            "            last subscriber's last delivery), the publish rate, LMDB's raw append\n"
            "            rate (256 per commit) and ZeroMQ's one-way loopback stream rate of\n"
            "            DELIVERs, one event each and in runs of 64 (PROTOCOL.md 12.3).\n"
            "  replay    publishes N events (not timed), then a new subscription with start\n"
            "            \"earliest\" receives them all; events/s, beside LMDB's raw sequential\n"
            "            read rate of N such values and the two ZeroMQ stream rates.\n"
            "  latency   1 publisher paced at R events/s on an absolute schedule (window W), 1\n"
            "            durable subscription acking each delivery; publish-to-delivery latency\n"
            "            (send time to the subscriber's receive time) p50, p99, p99.9.\n"
            "  stall     a publisher paced at R events/s (0: as fast as the window allows) and\n"
            "            subscriptions A and B: phase 1 both read, phase 2 A stops reading (its\n"
            "            client stays connected); the publish rate and B's delivery rate in each\n"
            "            phase and their ratios phase 2 / phase 1.\n"
            "Every subscription mode spawns a broker per run in a fresh data directory.\n\n"
            "Options:\n"
            "      --mode MODE     publish, fanout, replay, latency or stall (publish)\n"
            "  -n, --events N      events per run: publish, fanout %d; replay %d; latency %d;\n"
            "                      not used by stall, which runs for a time\n"
            "  -p, --publishers P  publish: concurrent publishers (4)\n"
            "  -s, --size S        encoded event size in bytes (512)\n"
            "  -w, --window W      unconfirmed publishes per publisher (256)\n"
            "      --sync          publish: one at a time, waiting for each confirmation\n"
            "  -S, --subs S        fanout: subscriptions (10)\n"
            "      --ack-every K   fanout, replay, stall: ack cumulatively every K deliveries and\n"
            "                      at the end; 1 acks each delivery on its own (64; latency\n"
            "                      always acks each delivery); at most the credit\n"
            "      --credit C      subscriptions' credit, deliveries in flight (%d)\n"
            "      --rate R        latency: events/s (5000); stall: events/s, 0 unpaced (20000)\n"
            "      --seconds T     stall: seconds of each phase (10), after %.0f s of warm-up\n"
            "  -r, --runs R        runs; medians are printed over them (5)\n"
            "      --curve         publish: measure twice in the same run, a spawned broker\n"
            "                      with CURVE off, then one with CURVE on (keys made in\n"
            "                      DIR/keys), and print both medians side by side; the raw\n"
            "                      LMDB and zmq figures are skipped\n"
            "  -e, --endpoint E    use a running broker instead of spawning one (spawned\n"
            "                      brokers run plaintext, --curve 0, unless --curve)\n"
            "      --cert FILE     this client's CURVE certificate for a running CURVE broker\n"
            "                      (its FILE_secret is read; default $ORDERBUS_CERT)\n"
            "      --broker-cert FILE  the broker's public certificate (default\n"
            "                      $ORDERBUS_BROKER_CERT); give both or neither\n"
            "  -b, --broker PATH   broker binary to spawn (%s)\n"
            "  -d, --dir DIR       scratch directory for the brokers' data and the raw LMDB test\n"
            "                      (./bench-data; its broker data is removed first)\n"
            "  -h, --help          this text\n",
            BENCH_PUBLISH_DEFAULT, BENCH_REPLAY_DEFAULT, BENCH_LATENCY_DEFAULT, OB_CREDIT_DEFAULT,
            BENCH_STALL_WARMUP_S, OB_BENCH_BROKER);
}

/* Returns the mode named name, or -1. */
static int
s_mode(const char *name)
{
    static const char *const names[] = {"publish", "fanout", "replay", "latency", "stall"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i]))
            return (int)i;
    return -1;
}

enum {
    S_OPT_SYNC = 256,
    S_OPT_MODE,
    S_OPT_ACK_EVERY,
    S_OPT_CREDIT,
    S_OPT_RATE,
    S_OPT_SECONDS,
    S_OPT_CURVE,
    S_OPT_CERT,
    S_OPT_BROKER_CERT
};

int
main(int argc, char **argv)
{
    bench_opts_t opts = {.publishers = 4,
                         .size = 512,
                         .window = 256,
                         .runs = 5,
                         .subs = 10,
                         .ack_every = 64,
                         .credit = OB_CREDIT_DEFAULT,
                         .seconds = 10,
                         .broker = OB_BENCH_BROKER,
                         .dir = "bench-data",
                         .cert = getenv("ORDERBUS_CERT"),
                         .broker_cert = getenv("ORDERBUS_BROKER_CERT")};
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, S_OPT_MODE},
        {"publishers", required_argument, NULL, 'p'},
        {"events", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"window", required_argument, NULL, 'w'},
        {"sync", no_argument, NULL, S_OPT_SYNC},
        {"subs", required_argument, NULL, 'S'},
        {"ack-every", required_argument, NULL, S_OPT_ACK_EVERY},
        {"credit", required_argument, NULL, S_OPT_CREDIT},
        {"rate", required_argument, NULL, S_OPT_RATE},
        {"seconds", required_argument, NULL, S_OPT_SECONDS},
        {"runs", required_argument, NULL, 'r'},
        {"endpoint", required_argument, NULL, 'e'},
        {"broker", required_argument, NULL, 'b'},
        {"dir", required_argument, NULL, 'd'},
        {"curve", no_argument, NULL, S_OPT_CURVE},
        {"cert", required_argument, NULL, S_OPT_CERT},
        {"broker-cert", required_argument, NULL, S_OPT_BROKER_CERT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c, mode = BENCH_MODE_PUBLISH;
    while ((c = getopt_long(argc, argv, "p:n:s:w:S:r:e:b:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case S_OPT_MODE:
            mode = s_mode(optarg);
            break;
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
        case S_OPT_SYNC:
            opts.sync = 1;
            break;
        case 'S':
            opts.subs = atoi(optarg);
            break;
        case S_OPT_ACK_EVERY:
            opts.ack_every = atoi(optarg);
            break;
        case S_OPT_CREDIT:
            opts.credit = (unsigned)atol(optarg);
            break;
        case S_OPT_RATE:
            opts.rate = atof(optarg);
            opts.rate_given = 1;
            break;
        case S_OPT_SECONDS:
            opts.seconds = atof(optarg);
            break;
        case 'r':
            opts.runs = atoi(optarg);
            break;
        case S_OPT_CURVE:
            opts.curve_compare = 1;
            break;
        case S_OPT_CERT:
            opts.cert = optarg;
            break;
        case S_OPT_BROKER_CERT:
            opts.broker_cert = optarg;
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
    if (mode < 0) {
        fprintf(stderr, "orderbus-bench: unknown --mode\n");
        s_usage(stderr);
        return 2;
    }
    opts.mode = (bench_mode_t)mode;
    if (opts.events == 0)
        opts.events = opts.mode == BENCH_MODE_REPLAY    ? BENCH_REPLAY_DEFAULT
                      : opts.mode == BENCH_MODE_LATENCY ? BENCH_LATENCY_DEFAULT
                                                        : BENCH_PUBLISH_DEFAULT;
    if (!opts.rate_given)
        opts.rate = opts.mode == BENCH_MODE_STALL ? 20000 : 5000;
    if (opts.publishers < 1 || opts.events < opts.publishers || opts.size < 64 ||
        opts.size > OB_EVENT_MAX_DEFAULT || opts.window < 1 || opts.window > OB_WINDOW_MAX ||
        opts.runs < 1 || opts.runs > BENCH_RUNS_MAX || opts.subs < 1 ||
        opts.subs > BENCH_SUBS_MAX || opts.credit < 1 || opts.credit > OB_CREDIT_MAX ||
        opts.ack_every < 1 || (unsigned)opts.ack_every > opts.credit || opts.rate < 0 ||
        (opts.curve_compare && (opts.mode != BENCH_MODE_PUBLISH || opts.endpoint)) ||
        (!opts.cert != !opts.broker_cert) || (opts.mode == BENCH_MODE_LATENCY && opts.rate <= 0) ||
        opts.seconds <= 0) {
        fprintf(stderr, "orderbus-bench: an option is out of range\n");
        s_usage(stderr);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    zsys_dir_create("%s", opts.dir);

    switch (opts.mode) {
    case BENCH_MODE_FANOUT:
        return ob_bench_fanout(&opts);
    case BENCH_MODE_REPLAY:
        return ob_bench_replay(&opts);
    case BENCH_MODE_LATENCY:
        return ob_bench_latency(&opts);
    case BENCH_MODE_STALL:
        return ob_bench_stall(&opts);
    case BENCH_MODE_PUBLISH:
    default:
        return opts.curve_compare ? s_publish_curve(&opts) : s_publish_mode(&opts, NULL);
    }
}
