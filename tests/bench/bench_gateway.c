/*  orderbus-gateway-bench: figures for the gateway (issue 14), with a real broker, the
    Marketplace double and the gateway on loopback, as test_gateway_feed runs them.

    latency  an event created in the double (a status change, POST /_control/update) to a
             subscriber of oms.2 receiving it, triggers on (the double calls the gateway's
             trigger on each commit; the timer poll is 60 s, out of the way): one event at a
             time, N times; prints p50, p99 and max in milliseconds.
    drain    a backlog of B events made in the double while no gateway runs (bursts of at
             most 3000 per call, so that no second holds more than the largest page), then the
             gateway started: the time until the subscriber has them all, enrichment (a fetch
             of each event's item) included; prints events per second.

    Usage: orderbus-gateway-bench [LATENCY_EVENTS [BACKLOG_EVENTS]]   (200 and 100000) */
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"

#define S_OMS 2       /* the latency phase's OMS */
#define S_OMS_DRAIN 3 /* the drain phase's: a topic of its own */
#define S_TOKEN "bench-token"
#define S_WAIT_MS 30000   /* one delivery, at most */
#define S_DRAIN_MS 600000 /* the whole backlog, at most */
#define S_BURST_MAX 3000  /* events per burst call: three in one second stay under 10000 */
#define S_PATH 1024

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Starts the double with OMS oms as its default OMS, without a trigger. */
static int
s_double(mp_double_proc_t *mp, int oms_id)
{
    if (mp_double_proc_start(mp, (char *)NULL))
        return -1;
    json_t *oms = json_pack("{s:i, s:s, s:b, s:s}", "id", oms_id, "name", "bench", "default", 1,
                            "token", S_TOKEN);
    json_t *answer = mp_double_proc_control(mp, "oms", oms);
    json_decref(oms);
    int rc = answer ? 0 : -1;
    json_decref(answer);
    return rc;
}

/* Writes the gateway's configuration into dir/name, for the double at mp_url. */
static void
s_config(const char *dir, const char *name, const char *endpoint, const char *mp_url, int oms,
         unsigned page_size, char cfg[S_PATH])
{
    char token[S_PATH];
    snprintf(token, sizeof token, "%s/token", dir);
    FILE *f = fopen(token, "w");
    fprintf(f, S_TOKEN "\n");
    fclose(f);
    snprintf(cfg, S_PATH, "%s/%s", dir, name);
    f = fopen(cfg, "w");
    fprintf(f,
            "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/%s-data\n"
            "broker\n    endpoint = %s\n"
            "oms\n    id = %d\n    url = %s\n    token_file = %s\n    page_size = %u\n"
            "    poll_interval = 60s\n",
            dir, name, endpoint, oms, mp_url, token, page_size);
    fclose(f);
}

/* A subscriber of oms.<oms> from the earliest event. */
static ob_client_t *
s_subscriber(const char *endpoint, int oms)
{
    ob_client_config_t cc = {.name = "bench-sub", .timeout_ms = 5000};
    ob_client_t *c = ob_client_new(endpoint, &cc);
    char topic[32];
    snprintf(topic, sizeof topic, "oms.%d", oms);
    const char *patterns[] = {topic};
    ob_sub_options_t opts = {
        .patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST, .credit = 1000};
    if (!c || ob_client_connect(c, 5000) || ob_client_subscribe(c, NULL, &opts, NULL, NULL)) {
        ob_client_destroy(&c);
        return NULL;
    }
    return c;
}

/* Receives and acks deliveries until n have arrived or timeout_ms passed. Returns how many. */
static long
s_receive(ob_client_t *c, long n, int timeout_ms)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    long got = 0;
    while (got < n && zclock_mono() < deadline) {
        ob_delivery_t *d = NULL;
        if (ob_client_receive(c, (int)(deadline - zclock_mono()), &d))
            continue;
        ob_client_ack(c, d);
        ob_delivery_destroy(&d);
        got++;
    }
    return got;
}

static json_int_t
s_make(const mp_double_proc_t *mp, const char *call, const char *text)
{
    json_t *body = json_loads(text, 0, NULL);
    json_t *answer = mp_double_proc_control(mp, call, body);
    json_int_t id = json_integer_value(json_object_get(answer, "id"));
    json_decref(body);
    json_decref(answer);
    return id;
}

static int
s_latency(broker_proc_site_t *site, long events)
{
    mp_double_proc_t mp;
    char cfg[S_PATH], url[GW_PROC_URL_MAX], trigger[S_PATH];
    /* The gateway's port is not known before it starts: start it, then register the OMS
       with its trigger (the double reads the OMS's trigger at each commit). */
    if (mp_double_proc_start(&mp, (char *)NULL))
        return -1;
    s_config(site->dir, "lat", site->endpoint, mp.base_url, S_OMS, 100, cfg);
    pid_t gw = gw_proc_start(site->dir, cfg, url);
    snprintf(trigger, sizeof trigger, "%s/trigger/%d", url, S_OMS);
    json_t *oms =
        json_pack("{s:i, s:s, s:b, s:s, s:{s:s, s:s}}", "id", S_OMS, "name", "bench", "default", 1,
                  "token", S_TOKEN, "trigger", "url", trigger, "method", "post");
    json_decref(mp_double_proc_control(&mp, "oms", oms));
    json_decref(oms);
    ob_client_t *sub = s_subscriber(site->endpoint, S_OMS);
    if (gw < 0 || !sub)
        return -1;
    json_int_t p = s_make(&mp, "projects", "{}");
    char text[256];
    snprintf(text, sizeof text, "{\"project_id\": %lld}", (long long)p);
    s_make(&mp, "project_items", text);
    if (s_receive(sub, 2, S_WAIT_MS) != 2)
        return -1;
    double *ms = calloc((size_t)events, sizeof *ms);
    for (long i = 0; i < events; i++) {
        snprintf(text, sizeof text,
                 "{\"project_id\": %lld, \"project_item_id\": 1, \"status\": {\"value\": "
                 "\"v%ld\", \"type\": \"ready\"}}",
                 (long long)p, i);
        int64_t t0 = zclock_usecs();
        s_make(&mp, "update", text);
        if (s_receive(sub, 1, S_WAIT_MS) != 1)
            return -1;
        ms[i] = (double)(zclock_usecs() - t0) / 1000.0;
    }
    qsort(ms, (size_t)events, sizeof *ms, s_cmp);
    printf("latency (double event -> subscriber, triggers on), %ld events: p50 %.2f ms, p99 "
           "%.2f ms, max %.2f ms\n",
           events, ms[events / 2], ms[events * 99 / 100], ms[events - 1]);
    free(ms);
    ob_client_destroy(&sub);
    gw_proc_stop(gw, SIGTERM);
    mp_double_proc_stop(&mp, SIGTERM);
    return 0;
}

static int
s_drain(broker_proc_site_t *site, long backlog)
{
    mp_double_proc_t mp;
    if (s_double(&mp, S_OMS_DRAIN))
        return -1;
    json_int_t p = s_make(&mp, "projects", "{}");
    char text[256];
    snprintf(text, sizeof text, "{\"project_id\": %lld}", (long long)p);
    s_make(&mp, "project_items", text);
    for (long made = 0; made < backlog;) {
        long n = backlog - made < S_BURST_MAX ? backlog - made : S_BURST_MAX;
        snprintf(text, sizeof text,
                 "{\"project_id\": %lld, \"project_item_id\": 1, \"count\": %ld, "
                 "\"spacing_us\": %ld}",
                 (long long)p, n, 999999 / n);
        json_t *body = json_loads(text, 0, NULL);
        json_t *answer = mp_double_proc_control(&mp, "burst", body);
        json_decref(body);
        if (!answer)
            return -1;
        json_decref(answer);
        made += n;
    }
    ob_client_t *sub = s_subscriber(site->endpoint, S_OMS_DRAIN);
    char cfg[S_PATH], url[GW_PROC_URL_MAX];
    s_config(site->dir, "drain", site->endpoint, mp.base_url, S_OMS_DRAIN, 1000, cfg);
    int64_t t0 = zclock_mono();
    pid_t gw = gw_proc_start(site->dir, cfg, url);
    if (gw < 0 || !sub)
        return -1;
    long want = backlog + 2;
    long got = s_receive(sub, want, S_DRAIN_MS);
    double s = (double)(zclock_mono() - t0) / 1000.0;
    printf("drain: %ld of %ld backlog events (enriched) on the bus in %.2f s: %.0f events/s\n", got,
           want, s, (double)got / s);
    ob_client_destroy(&sub);
    gw_proc_stop(gw, SIGTERM);
    mp_double_proc_stop(&mp, SIGTERM);
    return got == want ? 0 : -1;
}

int
main(int argc, char **argv)
{
    long events = argc > 1 ? atol(argv[1]) : 200;
    long backlog = argc > 2 ? atol(argv[2]) : 100000;
    setenv("OB_BROKER", OB_BENCH_BROKER, 0);
    setenv("OB_GATEWAY", OB_BENCH_GATEWAY, 0);
    setenv("OB_MP_DOUBLE", OB_BENCH_MP_DOUBLE, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    broker_proc_site_t site;
    if (broker_proc_site_make(&site, "gw-bench"))
        return 1;
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--curve", "0", (char *)NULL);
    int rc = broker > 0 ? 0 : -1;
    if (!rc && events > 0)
        rc = s_latency(&site, events);
    if (!rc && backlog > 0)
        rc = s_drain(&site, backlog);
    broker_proc_stop(broker, SIGTERM);
    broker_proc_site_remove(&site);
    curl_global_cleanup();
    if (rc)
        fprintf(stderr, "orderbus-gateway-bench: failed (see the gateway's log)\n");
    return rc ? 1 : 0;
}
