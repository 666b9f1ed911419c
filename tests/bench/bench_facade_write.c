/*  orderbus-facade-write-bench: the latency of a write through the Ordering API facade (issue 17)
    against the same write made to the Marketplace double directly. It starts a broker, the
    double (an OMS, a project, an item) and the gateway on loopback, then makes N status
    PATCHes of the item one after the other, first to the double, then through the facade
    (each a command on mp.<oms_id>, executed by the connector, answered from its outcome),
    and prints the median and 99th percentile of each, with the run's median over RUNS.

        orderbus-facade-write-bench [N [RUNS]]      defaults: 300 PATCHes, 5 runs

    A program that prints figures, not a test. */
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
#include "token.h"

#define S_OMS 7                /* the OMS */
#define S_MP_TOKEN "tok-oms-7" /* its token at the double */
#define S_PATH 1024            /* a path */
#define S_RUNS_MAX 64          /* runs one invocation may ask for */
#define S_PERCENTILE 0.99      /* the tail figure */

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* n sequential PATCHes of path on server with X-User-Token token: writes p50 and p99 (ms).
   Returns 0, or -1 if one was not answered 200. */
static int
s_patches(const double_proc_t *server, const char *path, const char *token, long n, double *ret_p50,
          double *ret_p99)
{
    static const char *const types[] = {"in_progress", "ready"};
    double *ms = calloc((size_t)n, sizeof *ms);
    char header[256], body[128];
    snprintf(header, sizeof header, "X-User-Token: %s", token);
    const char *headers[] = {header, NULL};
    int rc = ms ? 0 : -1;
    for (long i = 0; !rc && i < n; i++) {
        snprintf(body, sizeof body, "{\"status\": {\"value\": \"%s\", \"type\": \"%s\"}}",
                 types[i % 2], types[i % 2]);
        int64_t t0 = zclock_usecs();
        if (double_proc_request(server, "PATCH", path, headers, body, NULL, NULL) != 200)
            rc = -1;
        ms[i] = (double)(zclock_usecs() - t0) / 1000.0;
    }
    if (!rc) {
        qsort(ms, (size_t)n, sizeof *ms, s_cmp);
        *ret_p50 = ms[n / 2];
        *ret_p99 = ms[(size_t)((double)(n - 1) * S_PERCENTILE)];
    }
    free(ms);
    return rc;
}

/* The gateway's configuration in dir for the double at mp_url, with a tokens file holding
   token. Returns 0 or -1. */
static int
s_config(const char *dir, const char *endpoint, const char *mp_url, const char *token,
         char cfg_path[S_PATH])
{
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    char hex[OB_TOKEN_HASH_TEXT], path[S_PATH];
    if (ob_token_hash(token, strlen(token), hash))
        return -1;
    ob_token_hash_format(hash, hex);
    snprintf(path, sizeof path, "%s/tokens.zpl", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "client = oms-7\n    hash = %s\n    publish = mp.7\n    subscribe = oms.7\n"
            "    admin = read\n",
            hex);
    fclose(f);
    snprintf(cfg_path, S_PATH, "%s/mp-token", dir);
    if (!(f = fopen(cfg_path, "w")))
        return -1;
    fprintf(f, S_MP_TOKEN "\n");
    fclose(f);
    char mp_token[S_PATH];
    snprintf(mp_token, sizeof mp_token, "%s", cfg_path);
    snprintf(cfg_path, S_PATH, "%s/gw.cfg", dir);
    if (!(f = fopen(cfg_path, "w")))
        return -1;
    /* no rate limit in the way of a benchmark, nor the feed's reads of the events the
       PATCHes make (it reads once, at start) */
    fprintf(f,
            "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n    tokens_file = %s\n"
            "    facade = 1\n"
            "    rest_rate = 1000000\n    rest_burst = 1000000\nbroker\n    endpoint = %s\n"
            "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 1h\n",
            dir, path, endpoint, S_OMS, mp_url, mp_token);
    fclose(f);
    return 0;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 300;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 2 || runs < 1 || runs > S_RUNS_MAX) {
        fprintf(stderr, "usage: orderbus-facade-write-bench [N >= 2 [RUNS 1..%d]]\n", S_RUNS_MAX);
        return 2;
    }
    setenv("OB_BROKER", OB_BENCH_BROKER, 0);
    setenv("OB_GATEWAY", OB_BENCH_GATEWAY, 0);
    setenv("OB_MP_DOUBLE", OB_BENCH_MP_DOUBLE, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    broker_proc_site_t site;
    mp_double_proc_t mp = {.pid = -1};
    if (broker_proc_site_make(&site, "facade-bench"))
        return 1;
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--curve", "0", (char *)NULL);
    pid_t gw = -1;
    char token[OB_TOKEN_TEXT], cfg[S_PATH], gw_url[GW_PROC_URL_MAX], path[S_PATH];
    int rc = broker > 0 && !mp_double_proc_start(&mp, (char *)NULL) && !ob_token_generate(token)
                 ? 0
                 : -1;
    json_t *a = NULL;
    if (!rc) {
        json_t *body =
            json_pack("{s:i, s:s, s:s}", "id", S_OMS, "name", "bench", "token", S_MP_TOKEN);
        json_decref(mp_double_proc_control(&mp, "oms", body));
        json_decref(body);
        a = mp_double_proc_control(&mp, "projects", NULL);
        body = json_pack("{s:I, s:i}", "project_id", json_integer_value(json_object_get(a, "id")),
                         "primary_oms_id", S_OMS);
        json_decref(mp_double_proc_control(&mp, "project_items", body));
        json_decref(body);
        snprintf(path, sizeof path, "/api/v1/oms/%d/projects/%lld/project_items/1", S_OMS,
                 (long long)json_integer_value(json_object_get(a, "id")));
        json_decref(a);
        rc = s_config(site.dir, site.endpoint, mp.base_url, token, cfg);
    }
    if (!rc && (gw = gw_proc_start(site.dir, cfg, gw_url)) <= 0)
        rc = -1;
    double_proc_t facade = {.pid = -1, .out_fd = -1};
    snprintf(facade.base_url, sizeof facade.base_url, "%s", gw_url);
    double d50[S_RUNS_MAX], d99[S_RUNS_MAX], f50[S_RUNS_MAX], f99[S_RUNS_MAX];
    for (int r = 0; !rc && r < runs; r++) {
        rc = s_patches(&mp, path, S_MP_TOKEN, n, &d50[r], &d99[r]);
        if (!rc)
            rc = s_patches(&facade, path, token, n, &f50[r], &f99[r]);
        if (!rc)
            printf("run %d: direct p50 %.2f ms p99 %.2f ms; facade p50 %.2f ms p99 %.2f ms\n",
                   r + 1, d50[r], d99[r], f50[r], f99[r]);
    }
    if (!rc) {
        qsort(d50, (size_t)runs, sizeof *d50, s_cmp);
        qsort(d99, (size_t)runs, sizeof *d99, s_cmp);
        qsort(f50, (size_t)runs, sizeof *f50, s_cmp);
        qsort(f99, (size_t)runs, sizeof *f99, s_cmp);
        printf("median of %d runs of %ld PATCHes: direct p50 %.2f ms p99 %.2f ms; facade p50 "
               "%.2f ms p99 %.2f ms\n",
               runs, n, d50[runs / 2], d99[runs / 2], f50[runs / 2], f99[runs / 2]);
    }
    if (gw > 0)
        gw_proc_stop(gw, SIGTERM);
    mp_double_proc_stop(&mp, SIGTERM);
    broker_proc_stop(broker, SIGTERM);
    broker_proc_site_remove(&site);
    curl_global_cleanup();
    if (rc)
        fprintf(stderr, "orderbus-facade-write-bench: failed (see the gateway's log)\n");
    return rc ? 1 : 0;
}
