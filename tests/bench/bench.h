/*  orderbus-bench: what bench.c (main, the publish mode and the shared helpers) and
    bench_subs.c (the subscription modes) share. A private header of the program. */
#ifndef OB_BENCH_H
#define OB_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "orderbus/orderbus.h"

#define BENCH_RUNS_MAX 64            /* runs one invocation may ask for */
#define BENCH_RAW1_SECONDS 1.0       /* how long the 1-event-commit raw test runs */
#define BENCH_RAW_BATCH 256          /* events per commit in the batched raw test */
#define BENCH_RAW_SECONDS 60.0       /* longest the batched raw test runs */
#define BENCH_START_TIMEOUT 10000    /* ms to wait for a spawned broker */
#define BENCH_RTT_COUNT 2000         /* round trips in the ZeroMQ loopback test */
#define BENCH_STREAM_SECONDS 0.5     /* how long the ZeroMQ one-way stream test sends */
#define BENCH_SUBS_MAX 256           /* subscriptions the fanout mode may ask for */
#define BENCH_IDLE_MS 30000          /* a client that waits this long for anything gives up */
#define BENCH_STALL_WARMUP_S 1.0     /* stall mode: seconds before phase 1 is measured */
#define BENCH_HEARTBEAT_MS 60000     /* subscribers' heartbeat: a stalled one stays alive */
#define BENCH_PUBLISH_DEFAULT 200000 /* -n of the publish and fanout modes */
#define BENCH_REPLAY_DEFAULT 1000000 /* -n of the replay mode */
#define BENCH_LATENCY_DEFAULT 50000  /* -n of the latency mode */

/* The synced-append test (ob_bench_raw_append) */
#define BENCH_APPEND_SECONDS 1.0          /* how long it runs */
#define BENCH_APPEND_FILE_MAX (64u << 20) /* its preallocated file */
#define BENCH_APPEND_PACED 1000           /* records of the paced variant (latency mode) */

typedef enum {
    BENCH_MODE_PUBLISH = 0, /* confirmed publishing (the default) */
    BENCH_MODE_FANOUT,      /* 1 publisher, S subscriptions each receiving every event */
    BENCH_MODE_REPLAY,      /* a new subscription reads N stored events */
    BENCH_MODE_LATENCY,     /* publish-to-delivery latency at a paced rate */
    BENCH_MODE_STALL,       /* a stopped subscriber must not slow the others */
} bench_mode_t;

typedef struct {
    bench_mode_t mode;              /* what to measure */
    int publishers;                 /* P (publish mode) */
    long events;                    /* N, per run */
    size_t size;                    /* S, encoded event bytes */
    unsigned window;                /* W */
    int sync;                       /* 1: ob_client_publish, one at a time (publish mode) */
    int runs;                       /* runs to take medians over */
    int subs;                       /* subscriptions (fanout mode) */
    int ack_every;                  /* K: cumulative ack every K deliveries; 1: ack each one */
    unsigned credit;                /* subscriptions' credit */
    double rate;                    /* paced publisher, events/s; 0: as fast as the window allows */
    int rate_given;                 /* 1 if --rate was given (the defaults differ per mode) */
    double seconds;                 /* length of each stall-mode phase */
    const char *endpoint;           /* a running broker, or NULL to spawn one */
    const char *broker;             /* broker binary to spawn */
    const char *dir;                /* scratch directory */
    int curve_compare;              /* 1: publish mode twice, CURVE off then on (--curve) */
    int spawn_curve;                /* 1: a spawned broker runs CURVE with the keys below */
    const char *cert;               /* clients' certificate (CURVE), or NULL for plaintext */
    const char *broker_cert;        /* the broker's public certificate (CURVE), or NULL */
    const char *broker_secret_cert; /* spawn_curve: the broker's own certificate */
    const char *permissions;        /* spawn_curve: its permissions file */
} bench_opts_t;

/* Fills the CURVE fields of cfg from opts (the clients' certificates, NULL for plaintext). */
void ob_bench_client_security(const bench_opts_t *opts, ob_client_config_t *cfg);

/* Returns CLOCK_MONOTONIC in µs (zclock_usecs), as a double. */
double ob_bench_now_us(void);

/* Sleeps until the monotonic time due_us (µs, ob_bench_now_us's clock), through signals: an
   absolute deadline, so that oversleeping once does not shift the rest of a schedule. */
void ob_bench_sleep_until(double due_us);

/* Fills ev for event i of publisher p in run r on topic (borrowed, kept in ev); id must hold
   64 bytes and receives the event's unique id. data (borrowed) is the payload. */
void ob_bench_event(ob_event_t *ev, char *id, const char *topic, int r, int p, long i,
                    const uint8_t *data, size_t data_len);

/* Returns a new payload (the caller frees it) that makes an event of ob_bench_event encode
   to about size bytes, and its length in *ret_len; NULL on failure. */
uint8_t *ob_bench_payload(size_t size, size_t *ret_len);

/* qsort comparator of doubles. */
int ob_bench_cmp_double(const void *a, const void *b);

/* Returns the p-th percentile (0..100) of n sorted values, 0 if n is 0. */
double ob_bench_percentile(const double *sorted, long n, double p);

/* Returns the median of n values, sorting v in place. */
double ob_bench_median(double *v, int n);

/* Appends events of value_len bytes to a fresh LMDB environment in dir, batch per durable
   commit, for at most count events or seconds seconds, and removes it again. Returns
   events/s, or -1. If ret_read_rate is not NULL, also walks every value written with a
   cursor in one read transaction and writes that rate (values/s, -1 on failure) to it. */
double ob_bench_raw_lmdb(const char *dir, size_t value_len, long count, size_t batch,
                         double seconds, double *ret_read_rate);

/* The disk's own limit for a lone durable event: records of value_len bytes written one
   after another into a file of dir preallocated with zeros (written and synced first, so that
   no block or extent changes while it runs), each followed by its own fdatasync, for at most
   seconds seconds or BENCH_APPEND_FILE_MAX bytes; the file is removed again. Returns
   records/s, or -1. */
double ob_bench_raw_append(const char *dir, size_t value_len, double seconds);

/* The same, paced: count records, one every 1/rate s on an absolute schedule, as a lone
   event arrives at that rate; between them the disk idles, and a sync after idling can
   take several times one in a busy run. Returns the median µs of one record's write and
   fdatasync, or -1. */
double ob_bench_raw_append_paced(const char *dir, size_t value_len, double rate, long count);

/* Returns the mean ZeroMQ round trip in µs of a 3-frame publish of an event of size bytes
   over tcp loopback, or -1. */
double ob_bench_zmq_rtt_us(size_t size);

/* Returns the mean round trip in µs of an "sp" message to another thread over an inproc
   pipe and back (the broker's hand-off to its writer thread), or -1. */
double ob_bench_handoff_us(void);

/* Returns the rate (events/s) of a one-way stream of DELIVERs, each carrying run events of
   size bytes (run 1: a DELIVER of 3 frames, header, body, event; more: a DELIVER run,
   PROTOCOL.md 12.3, with run event frames), from a DEALER to a ROUTER over tcp loopback,
   each socket in its own ZeroMQ context as the broker and a client are, for about seconds;
   or -1. The ceiling of any broker that relays events over ZeroMQ on this machine, one
   message per event (run 1) or in messages of run events. */
double ob_bench_zmq_stream_rate(size_t size, uint32_t run, double seconds);

/* Starts the broker of opts with its data in data_dir (borrowed) on a loopback port the
   broker binds itself (tcp://127.0.0.1:*) and names in its endpoint file (broker_proc_file),
   written to endpoint (len bytes), and waits until it welcomes a client. The broker is
   killed if this process dies (PR_SET_PDEATHSIG: call it from the main thread). Returns
   the broker's pid, or -1 (nothing left running). */
pid_t ob_bench_broker_start(const bench_opts_t *opts, const char *data_dir, char *endpoint,
                            size_t len);

/* Stops the broker *pid_p (SIGTERM, then reaps it), sets it to 0; accepts 0. */
void ob_bench_broker_stop(pid_t *pid_p);

/* Removes the directory path and the files in it, if it exists. */
void ob_bench_dir_remove(const char *path);

/* The subscription modes (bench_subs.c): each runs opts->runs runs, prints a line per run
   and the medians. Return 0, or 1 if a run failed or lost events. */
int ob_bench_fanout(const bench_opts_t *opts);
int ob_bench_replay(const bench_opts_t *opts);
int ob_bench_latency(const bench_opts_t *opts);
int ob_bench_stall(const bench_opts_t *opts);

#endif
