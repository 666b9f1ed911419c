/*  broker_proc: start and stop a real orderbus-broker process for integration tests, and
    publish to it under load. The binary comes from the OB_BROKER environment variable, which
    CTest sets. */
#ifndef OB_BROKER_PROC_H
#define OB_BROKER_PROC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "orderbus/client.h"

#define BROKER_PROC_PATH_MAX 512     /* bytes in a data directory path */
#define BROKER_PROC_ENDPOINT_MAX 128 /* bytes in an endpoint */

#define BROKER_PROC_EPHEMERAL "tcp://127.0.0.1:*" /* a free port, which the broker picks */
#define BROKER_PROC_METRICS "127.0.0.1:0"         /* metrics on a free port too */
#define BROKER_PROC_URL_MAX 128                   /* bytes in the metrics URL */
#define BROKER_PROC_FILE_SUFFIX ".endpoint"       /* beside the data directory */

/* Writes into path (len bytes) the endpoint file of the broker of data_dir (borrowed):
   data_dir BROKER_PROC_FILE_SUFFIX. Returns 0, or -1 if it does not fit. */
int broker_proc_file(const char *data_dir, char *path, size_t len);

/* Waits until the broker pid has written its endpoint file path (borrowed), or has exited
   (then reaped), or timeout_ms has passed, looking every few milliseconds; copies the file's
   first endpoint into endpoint (len bytes). Returns 0, or -1 (the broker exited: its
   status is in *ret_status if not NULL, else -1 there; or the time ran out: still running). */
int broker_proc_wait_file(pid_t pid, const char *path, int timeout_ms, char *endpoint, size_t len,
                          int *ret_status);

/* Copies into url (len bytes) the metrics URL (http://HOST:PORT/metrics) that the broker of
   data_dir (borrowed) wrote as a line of its endpoint file. Returns 0, or -1 (no file, no
   such line: metrics off or not bound, or it does not fit). */
int broker_proc_metrics_url(const char *data_dir, char *url, size_t len);

#define BROKER_PROC_HTTP_MAX (1 << 20) /* bytes of an HTTP response read */
#define BROKER_PROC_HTTP_WAIT_MS 10000 /* the longest wait for each read of one */
#define BROKER_PROC_MISSING (-1.0)     /* broker_proc_metric's value of a missing series */

/* Sends `method path` over HTTP/1.0 to the host and port of url (http://IPV4:PORT/...,
   borrowed) and reads the response until the server closes the connection: up to
   BROKER_PROC_HTTP_MAX bytes, waiting up to BROKER_PROC_HTTP_WAIT_MS for each read. On
   success *ret_text is the whole response, headers and body, NUL-terminated, the caller's
   to free. Returns 0, or -1 (a bad url, no connection, a timeout). */
int broker_proc_http(const char *url, const char *method, const char *path, char **ret_text);

/* Returns the value of series (a metric name with its labels, as printed) in text, a
   Prometheus text (borrowed), or BROKER_PROC_MISSING if no line holds it. */
double broker_proc_metric(const char *text, const char *series);

/* Starts orderbus-broker with --data-dir data_dir --endpoint endpoint --endpoint-file
   (broker_proc_file) --metrics BROKER_PROC_METRICS and any extra NULL-terminated arguments
   (a later --metrics wins); waits until it has written
   its endpoint file and welcomes a client (up to 10 s). endpoint (BROKER_PROC_ENDPOINT_MAX
   bytes) is read and written: BROKER_PROC_EPHEMERAL lets the broker bind a free port, and
   the endpoint bound replaces it, so that a restart with the same buffer comes back on the
   same port. A broker that exits before it serves on an explicit port (the port taken in
   between by another socket, which goes away) is started again on it, up to
   BROKER_PROC_BIND_TRIES times. Returns the pid, or -1 (the process, if any, is killed). */
pid_t broker_proc_start(const char *data_dir, char *endpoint, ...);

/* The same for a CURVE broker (the extra arguments give --curve 1, --cert, --permissions):
   the client that checks the broker welcomes it connects with probe (borrowed: its cert and
   broker_cert name a client of the permissions file). */
pid_t broker_proc_start_probed(const char *data_dir, char *endpoint,
                               const ob_client_config_t *probe, ...);

/* Sends sig to pid and reaps it. Returns the exit status from waitpid, or -1. */
int broker_proc_stop(pid_t pid, int sig);

/* Creates a fresh scratch directory under /tmp for the test named name; returns a path the
   caller frees, or NULL. */
char *broker_proc_scratch(const char *name);

/* Removes path and everything under it. Returns 0 or -1. */
int broker_proc_remove(const char *path);

/* Where a test runs its broker: a scratch directory, a data directory in it, an endpoint. */
typedef struct broker_proc_site {
    char *dir;                               /* scratch directory, owned */
    char data_dir[BROKER_PROC_PATH_MAX];     /* <dir>/data, made by the broker */
    char endpoint[BROKER_PROC_ENDPOINT_MAX]; /* BROKER_PROC_EPHEMERAL, then the one bound */
} broker_proc_site_t;

/* Makes a scratch directory for the test named name, the path of a data directory in it and
   the endpoint BROKER_PROC_EPHEMERAL (broker_proc_start replaces it with the port bound).
   Returns 0, or -1 with nothing made. */
int broker_proc_site_make(broker_proc_site_t *self, const char *name);

/* Removes the scratch directory (stop the broker first) and frees its path. Returns 0 or -1. */
int broker_proc_site_remove(broker_proc_site_t *self);

/* A publisher: a thread that publishes to a broker, pipelined, while a test kills, copies or
   restarts it. Publisher p of client->name publishes events i = 0, 1, ... with ids
   BROKER_PROC_EVENT_ID_FMT on topic BROKER_PROC_TOPIC_FMT, with a client of its own
   (ob_client_publish_async, taking confirmations as they come), until it has published
   `events` or *stop is set; then it waits for every outstanding outcome. client->timeout_ms
   bounds each of its waits; none is a sleep. */
typedef struct broker_proc_pub broker_proc_pub_t;

#define BROKER_PROC_TOPIC_FMT "%s.%d"        /* a publisher's topic: name, p */
#define BROKER_PROC_EVENT_ID_FMT "%s-%d-%ld" /* its event's id: name, p, i */
#define BROKER_PROC_PAYLOAD 400              /* bytes of data in each event */

/* Records the outcome of event i (confirm->rc: 0, or a refusal) on the publisher's thread.
   Returns 0, or an error that stops the publisher. */
typedef int(broker_proc_record_fn)(void *arg, long i, const ob_confirm_t *confirm);

/* Starts publisher p (stop: NULL for never), handing every outcome to record with arg.
   endpoint, client, stop and arg are borrowed until the join. Returns a publisher that
   broker_proc_pub_join frees, or NULL (also without client->name or timeout_ms above 0). */
broker_proc_pub_t *broker_proc_pub_start(const char *endpoint, const ob_client_config_t *client,
                                         int p, long events, const atomic_int *stop,
                                         broker_proc_record_fn *record, void *arg);

/* Waits, holding lock, until *count reaches target (cond is broadcast whenever *count
   changes) or timeout_ms passes. Returns *count then: below target, the time ran out. */
long broker_proc_wait_count(pthread_mutex_t *lock, pthread_cond_t *cond, const long *count,
                            long target, int timeout_ms);

/* Waits for the publisher to end, destroys it and sets *self_p to NULL. Returns 0, or its
   first error. */
int broker_proc_pub_join(broker_proc_pub_t **self_p);

#endif
