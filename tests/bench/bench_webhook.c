/*  orderbus-webhook-bench: delivery throughput of the webhook adapter (issue 16), with a real
    broker and the adapter as processes on loopback and a keep-alive receiver in this process
    (libmicrohttpd, answering 204 at once, one polling thread for one topic and a pool of
    S_RX_THREADS for more; it counts, it does not check signatures: the adapter signs every
    POST all the same).

    For each of RUNS runs: a backlog of N events is published on T topics (N / T each) while
    no adapter runs; then an adapter with one target (a new subscription, from the topics'
    start) is started, and the rate is the events received from the first to the last POST
    divided by that time (the adapter's start and subscription are not counted). Prints each
    run's events per second and the median.

    Usage: orderbus-webhook-bench [EVENTS [TOPICS [RUNS]]]   (20000, 1 and 5)
    OB_WEBHOOK and OB_BROKER name other builds of the adapter and the broker (to compare). */
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <czmq.h>

#include "broker_proc.h"
#include "daemon_proc.h"
#include "orderbus/orderbus.h"

#define S_WAIT_MS 300000 /* a run, at most */
#define S_POLL_MS 10     /* between two looks at the count */
#define S_PATH 1024      /* bytes of a path */
#define S_RUNS_MAX 32    /* runs at most */
/* The receiver's threads for more than one topic (one connection each): one per core of the
   machine the figures are from. With a single polling thread the receiver, not the adapter,
   was the slower stage on 8 topics (about 18% fewer events per second); for one topic, one
   connection, a pool only adds hand-offs (about 10% fewer). */
#define S_RX_THREADS 2u
#define S_SECRET "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define S_PAYLOAD "{\"status\":\"ready\",\"note\":\"a benchmark event of modest size\"}"

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static long s_received;    /* POSTs answered */
static int64_t s_first_us; /* when the first came */
static int64_t s_last_us;  /* when the last came */

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    static int seen;
    if (*con_cls != &seen) {
        *con_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    int64_t now = zclock_usecs();
    pthread_mutex_lock(&s_lock);
    if (s_received++ == 0)
        s_first_us = now;
    s_last_us = now;
    pthread_mutex_unlock(&s_lock);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, r);
    MHD_destroy_response(r);
    return ret;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 20000;
    int topics = argc > 2 ? atoi(argv[2]) : 1;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (events < 2 || topics < 1 || runs < 1 || runs > S_RUNS_MAX) {
        fprintf(stderr, "usage: orderbus-webhook-bench [EVENTS [TOPICS [RUNS]]]\n");
        return 2;
    }
    setenv("OB_BROKER", OB_BENCH_BROKER, 0);
    setenv("OB_WEBHOOK", OB_BENCH_WEBHOOK, 0);
    zsys_init();
    broker_proc_site_t site;
    if (broker_proc_site_make(&site, "bench_webhook"))
        return 1;
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *rx =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, s_handle,
                         NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_THREAD_POOL_SIZE,
                         topics > 1 ? S_RX_THREADS : 1u, MHD_OPTION_END);
    ob_client_config_t cc = {.name = "bench-webhook-pub", .timeout_ms = S_WAIT_MS};
    ob_client_t *pub = broker >= 0 ? ob_client_new(site.endpoint, &cc) : NULL;
    if (!rx || !pub || ob_client_connect(pub, S_WAIT_MS)) {
        fprintf(stderr, "bench: cannot start the broker or the receiver\n");
        return 1;
    }
    unsigned port = MHD_get_daemon_info(rx, MHD_DAEMON_INFO_BIND_PORT)->port;
    char secret[S_PATH];
    snprintf(secret, sizeof secret, "%s/bench.whsec", site.dir);
    FILE *f = fopen(secret, "w");
    fputs(S_SECRET, f);
    fclose(f);
    double rates[S_RUNS_MAX];
    int status = 0;
    for (int run = 0; run < runs; run++) {
        /* the backlog, on topics of this run */
        char topic[64], id[64];
        for (long i = 0; i < events; i++) {
            snprintf(topic, sizeof topic, "bench%d.%ld", run, i % topics);
            snprintf(id, sizeof id, "e%ld", i);
            ob_event_t ev = {.id = id,
                             .topic = topic,
                             .type = "project_item.created",
                             .time_us = (uint64_t)zclock_time() * 1000,
                             .data = (const uint8_t *)S_PAYLOAD,
                             .data_len = sizeof S_PAYLOAD - 1};
            uint64_t token;
            ob_confirm_t confirm;
            if (ob_client_publish_async(pub, &ev, &token))
                return 1;
            while (ob_client_confirm_next(pub, 0, &confirm) == 0)
                ;
        }
        while (ob_client_pending(pub)) {
            ob_confirm_t confirm;
            if (ob_client_confirm_next(pub, S_WAIT_MS, &confirm))
                return 1;
        }
        pthread_mutex_lock(&s_lock);
        s_received = 0;
        pthread_mutex_unlock(&s_lock);
        char cfg[S_PATH];
        snprintf(cfg, sizeof cfg, "%s/bench%d.cfg", site.dir, run);
        f = fopen(cfg, "w");
        fprintf(f,
                "webhook\n    listen = 127.0.0.1:0\nbroker\n    endpoint = %s\n"
                "target\n    name = bench%d\n    url = http://127.0.0.1:%u/hook\n"
                "    secret_file = %s\n    patterns = \"bench%d.*\"\n",
                site.endpoint, run, port, secret, run);
        fclose(f);
        pid_t pid = daemon_proc_start(getenv("OB_WEBHOOK"), "orderbus-webhook", site.dir, "webhook",
                                      cfg, 1, NULL);
        if (pid < 0)
            return 1;
        int64_t deadline = zclock_mono() + S_WAIT_MS;
        long got = 0;
        while ((pthread_mutex_lock(&s_lock), got = s_received, pthread_mutex_unlock(&s_lock),
                got < events) &&
               zclock_mono() < deadline)
            zclock_sleep(S_POLL_MS); /* a benchmark's poll: the receiver counts */
        daemon_proc_stop(pid, SIGTERM);
        if (got < events) {
            fprintf(stderr, "bench: run %d: %ld of %ld events\n", run, got, events);
            status = 1;
            break;
        }
        rates[run] = (double)(events - 1) * 1e6 / (double)(s_last_us - s_first_us);
        printf("run %d: %ld events on %d topics: %.0f events/s\n", run + 1, events, topics,
               rates[run]);
    }
    if (!status) {
        qsort(rates, (size_t)runs, sizeof rates[0], s_cmp);
        printf("median of %d: %.0f events/s (%ld events, %d topics, signatures on)\n", runs,
               rates[runs / 2], events, topics);
    }
    ob_client_destroy(&pub);
    MHD_stop_daemon(rx);
    broker_proc_stop(broker, SIGTERM);
    broker_proc_site_remove(&site);
    return status;
}
