/*  orderbus-facade-bench: events read through the Ordering API facade (issue 17), with a real
    broker, Marketplace double (the OMS's Marketplace, idle here) and gateway on loopback.

    Setup: N events (-n, default 20000) are published on oms.7 with one pipelined
    liborderbus client, as the gateway's feed publishes them: project_item.status_changed
    with two changes and the item's snapshot (about 600 bytes) as data; then the bench waits
    until the facade's view holds the last one, and prints how long publishing and indexing
    took together (the view's thread reads as the events come).
    Timed, R runs (-r, default 5): C readers (-c, default 1), each on its own keep-alive
    connection and thread, read all N events by GET /api/v1/oms/7/events?from_seq=S&limit=L
    (-l, default 100), each page from the last seq of the one before: events/s = C x N / the
    time from the first request to the last answer. Every answer must be 200 and every page
    must hold L events but the last. Prints each run, then the median.

    Usage: orderbus-facade-bench [-r RUNS] [-n EVENTS] [-c READERS] [-l LIMIT] */
#include <curl/curl.h>
#include <czmq.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"
#include "token.h"

#define S_OMS 7
#define S_TOPIC "oms.7"
#define S_RUNS_MAX 64
#define S_READERS_MAX 64
#define S_LIMIT_MAX 1000 /* the facade's page cap */
#define S_WINDOW 256     /* the filler's publish window */
#define S_TIMEOUT_MS 30000
#define S_VIEW_MS 120000 /* the view catches up */
#define S_LOOK_MS 100    /* between two looks at the view */
#define S_PATH 1024
#define S_TEXT 4096
#define S_SEQ_KEY "\"seq\":"
#define S_SNAPSHOT                                                                                 \
    "{\"id\":%ld,\"project_id\":1,\"status\":{\"value\":\"In progress %ld\",\"type\":"             \
    "\"in_progress\"},\"attributes\":{\"category\":\"Compute\",\"service\":\"Cloud "               \
    "Compute\",\"offer\":\"Small VM\",\"offer_properties\":[{\"id\":\"cores\",\"label\":"          \
    "\"Cores\",\"type\":\"input\",\"value\":\"4\",\"value_type\":\"integer\"}],"                   \
    "\"platforms\":[],\"request_voucher\":false,\"order_type\":\"order_required\"},"               \
    "\"oms_params\":{\"queue\":\"hpc\"},\"user_secrets\":{\"password\":\"<OBFUSCATED>\"}}"

typedef struct s_site {
    broker_proc_site_t broker;       /* scratch dir, data dir, endpoint */
    pid_t broker_pid;                /* the broker */
    pid_t gw_pid;                    /* the gateway */
    mp_double_proc_t mp;             /* the Marketplace double */
    int mp_up;                       /* 1: started */
    char url[GW_PROC_URL_MAX];       /* the gateway's base URL */
    char header[OB_TOKEN_TEXT + 32]; /* "X-User-Token: <token>" */
} s_site_t;

typedef struct s_reader {
    const s_site_t *site; /* borrowed */
    long events;          /* to read */
    int limit;            /* per page */
    int failed;           /* 1: an answer was not as expected */
    pthread_t thread;     /* its thread */
} s_reader_t;

static int
s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int rc = fputs(text, f) < 0;
    rc |= fclose(f);
    return rc ? -1 : 0;
}

static int
s_site_start(s_site_t *s)
{
    memset(s, 0, sizeof *s);
    s->broker_pid = s->gw_pid = -1;
    if (mp_double_proc_start(&s->mp, (char *)NULL))
        return -1;
    s->mp_up = 1;
    json_t *body = json_pack("{s:i, s:s, s:b, s:s}", "id", S_OMS, "name", "bench", "default", 1,
                             "token", "tok-bench");
    json_t *answer = mp_double_proc_control(&s->mp, "oms", body);
    json_decref(body);
    if (!answer)
        return -1;
    json_decref(answer);
    if (broker_proc_site_make(&s->broker, "facade-bench"))
        return -1;
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    char token[OB_TOKEN_TEXT], hex[OB_TOKEN_HASH_TEXT];
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    if (s->broker_pid < 0 || ob_token_generate(token) || ob_token_hash(token, strlen(token), hash))
        return -1;
    ob_token_hash_format(hash, hex);
    snprintf(s->header, sizeof s->header, "X-User-Token: %s", token);
    char tokens[S_PATH], mp_token[S_PATH], cfg[S_PATH], text[S_TEXT];
    snprintf(tokens, sizeof tokens, "%s/tokens.zpl", s->broker.dir);
    snprintf(text, sizeof text, "client = bench\n    hash = %s\n    subscribe = oms.7\n", hex);
    if (s_write(tokens, text))
        return -1;
    snprintf(mp_token, sizeof mp_token, "%s/mp-token", s->broker.dir);
    if (s_write(mp_token, "tok-bench\n"))
        return -1;
    snprintf(text, sizeof text,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    facade = 1\n    max_connections = %d\n"
             "    rest_rate = 1000000\n    rest_burst = 1000000\n" /* the bench, not the limit */
             "broker\n    endpoint = %s\n"
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 60s\n",
             s->broker.dir, tokens, 2 * S_READERS_MAX, s->broker.endpoint, S_OMS, s->mp.base_url,
             mp_token);
    snprintf(cfg, sizeof cfg, "%s/gw.cfg", s->broker.dir);
    if (s_write(cfg, text))
        return -1;
    s->gw_pid = gw_proc_start(s->broker.dir, cfg, s->url);
    return s->gw_pid > 0 ? 0 : -1;
}

static void
s_site_stop(s_site_t *s)
{
    if (s->gw_pid > 0)
        gw_proc_stop(s->gw_pid, SIGTERM);
    if (s->broker_pid > 0)
        broker_proc_stop(s->broker_pid, SIGTERM);
    if (s->broker.dir)
        broker_proc_site_remove(&s->broker);
    if (s->mp_up)
        mp_double_proc_stop(&s->mp, SIGTERM);
}

/* Publishes total events on oms.7 as the feed would. Returns 0 or -1. */
static int
s_fill(const s_site_t *site, long total)
{
    ob_client_config_t cc = {.name = "fill", .window = S_WINDOW, .timeout_ms = S_TIMEOUT_MS};
    ob_client_t *client = ob_client_new(site->broker.endpoint, &cc);
    int rc = client ? 0 : -1;
    char id[OB_EVENT_ID_MAX + 1], data[S_TEXT], before[32], after[32];
    ob_change_t changes[] = {{"status.value", before, after},
                             {"status.type", "in_progress", "in_progress"}};
    ob_event_t ev = {.id = id,
                     .topic = S_TOPIC,
                     .type = "project_item.status_changed",
                     .source = "orderbus-gateway",
                     .oms_id = S_OMS,
                     .project_id = 1,
                     .changes = changes,
                     .changes_count = 2,
                     .data = (const uint8_t *)data};
    int64_t t0 = zclock_time() * 1000;
    for (long i = 0; !rc && i < total; i++) {
        snprintf(id, sizeof id, "bench-%09ld", i);
        snprintf(before, sizeof before, "In progress %ld", i);
        snprintf(after, sizeof after, "In progress %ld", i + 1);
        ev.project_item_id = (uint64_t)(i % 50 + 1);
        ev.time_us = (uint64_t)(t0 + i / 100 * 1000000); /* 100 events a second */
        ev.data_len = (size_t)snprintf(data, sizeof data, S_SNAPSHOT, i % 50 + 1, i + 1);
        rc = ob_client_publish_async(client, &ev, NULL);
    }
    while (!rc && ob_client_pending(client)) {
        ob_confirm_t confirm;
        rc = ob_client_confirm_next(client, S_TIMEOUT_MS, &confirm);
        rc = rc ? rc : confirm.rc;
    }
    if (rc)
        fprintf(stderr, "orderbus-facade-bench: fill: %s\n", ob_strerror(rc));
    ob_client_destroy(&client);
    return rc ? -1 : 0;
}

/* A growing answer body. */
typedef struct s_body {
    char *text;  /* NUL-terminated */
    size_t len;  /* used */
    size_t size; /* allocated */
} s_body_t;

static size_t
s_keep(char *ptr, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    size_t add = size * n;
    if (b->len + add + 1 > b->size) {
        size_t want = b->size ? b->size : S_TEXT;
        while (want < b->len + add + 1)
            want *= 2;
        char *t = realloc(b->text, want);
        if (!t)
            return 0;
        b->text = t;
        b->size = want;
    }
    memcpy(b->text + b->len, ptr, add);
    b->len += add;
    b->text[b->len] = '\0';
    return add;
}

/* GET path on easy (set up); the number of events in the answer and its last seq, or -1. */
static long
s_page(CURL *easy, const char *url, s_body_t *b, uint64_t *ret_last)
{
    b->len = 0;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    long status = 0;
    if (curl_easy_perform(easy) != CURLE_OK ||
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
        !b->text)
        return -1;
    long n = 0;
    for (const char *p = b->text; (p = strstr(p, S_SEQ_KEY)); p += strlen(S_SEQ_KEY)) {
        *ret_last = strtoull(p + strlen(S_SEQ_KEY), NULL, 10);
        n++;
    }
    return n;
}

static CURL *
s_easy(const s_site_t *site, struct curl_slist **ret_headers, s_body_t *b)
{
    CURL *easy = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, site->header);
    if (!easy || !headers) {
        curl_easy_cleanup(easy);
        curl_slist_free_all(headers);
        return NULL;
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_keep);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)S_TIMEOUT_MS);
    *ret_headers = headers;
    return easy;
}

static void *
s_read(void *arg)
{
    s_reader_t *r = arg;
    s_body_t b = {0};
    struct curl_slist *headers = NULL;
    CURL *easy = s_easy(r->site, &headers, &b);
    r->failed = !easy;
    uint64_t after = 0;
    long total = 0;
    char url[S_PATH];
    while (easy && total < r->events) {
        snprintf(url, sizeof url, "%s/api/v1/oms/%d/events?from_seq=%" PRIu64 "&limit=%d",
                 r->site->url, S_OMS, after, r->limit);
        long n = s_page(easy, url, &b, &after);
        if (n < 0 || (n < r->limit && total + n < r->events) || n == 0) {
            r->failed = 1;
            break;
        }
        total += n;
    }
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    free(b.text);
    return NULL;
}

/* Waits until the view holds seq total (the fill's last event). Returns 0 or -1. */
static int
s_wait_view(const s_site_t *site, long total)
{
    s_body_t b = {0};
    struct curl_slist *headers = NULL;
    CURL *easy = s_easy(site, &headers, &b);
    char url[S_PATH];
    snprintf(url, sizeof url, "%s/api/v1/oms/%d/events?from_seq=%ld&limit=1", site->url, S_OMS,
             total - 1);
    int64_t until = zclock_mono() + S_VIEW_MS;
    int rc = -1;
    while (easy && rc && zclock_mono() < until) {
        uint64_t last = 0;
        if (s_page(easy, url, &b, &last) == 1 && last == (uint64_t)total)
            rc = 0;
        else
            zclock_sleep(S_LOOK_MS);
    }
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    free(b.text);
    return rc;
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
    int runs = 5, readers = 1, limit = 100, opt;
    long events = 20000;
    while ((opt = getopt(argc, argv, "r:n:c:l:")) != -1) {
        if (opt == 'r')
            runs = atoi(optarg);
        else if (opt == 'n')
            events = atol(optarg);
        else if (opt == 'c')
            readers = atoi(optarg);
        else if (opt == 'l')
            limit = atoi(optarg);
        else
            goto usage;
    }
    if (optind != argc || runs < 1 || runs > S_RUNS_MAX || events < 1 || readers < 1 ||
        readers > S_READERS_MAX || limit < 1 || limit > S_LIMIT_MAX)
        goto usage;
    setenv("OB_BROKER", OB_BENCH_BROKER, 0);
    setenv("OB_GATEWAY", OB_BENCH_GATEWAY, 0);
    setenv("OB_MP_DOUBLE", OB_BENCH_MP_DOUBLE, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_site_t site;
    int status = 1;
    int64_t fill0 = 0;
    if (s_site_start(&site) || (fill0 = zclock_usecs(), s_fill(&site, events)) ||
        s_wait_view(&site, events)) {
        fprintf(stderr, "orderbus-facade-bench: setup failed\n");
        goto out;
    }
    double built = (double)(zclock_usecs() - fill0) / 1e6;
    printf("view: %ld events published and indexed in %.2f s (%.0f events/s, untimed setup)\n",
           events, built, (double)events / built);
    printf("facade read: %ld events on %s, limit %d, %d reader(s), %d run(s)\n", events, S_TOPIC,
           limit, readers, runs);
    double rate[S_RUNS_MAX];
    for (int r = 0; r < runs; r++) {
        s_reader_t rd[S_READERS_MAX];
        int64_t t0 = zclock_usecs();
        for (int i = 0; i < readers; i++) {
            rd[i] = (s_reader_t){&site, events, limit, 0, 0};
            if (pthread_create(&rd[i].thread, NULL, s_read, &rd[i]))
                goto out;
        }
        int failed = 0;
        for (int i = 0; i < readers; i++) {
            pthread_join(rd[i].thread, NULL);
            failed |= rd[i].failed;
        }
        double secs = (double)(zclock_usecs() - t0) / 1e6;
        if (failed) {
            fprintf(stderr, "orderbus-facade-bench: run %d: a read failed\n", r + 1);
            goto out;
        }
        rate[r] = (double)events * readers / secs;
        printf("run %d: %9.0f events/s (%.3f s)\n", r + 1, rate[r], secs);
    }
    qsort(rate, (size_t)runs, sizeof rate[0], s_cmp);
    printf("median: %9.0f events/s\n",
           runs % 2 ? rate[runs / 2] : (rate[runs / 2 - 1] + rate[runs / 2]) / 2);
    status = 0;
out:
    s_site_stop(&site);
    curl_global_cleanup();
    return status;
usage:
    fprintf(stderr, "usage: orderbus-facade-bench [-r RUNS] [-n EVENTS] [-c READERS] [-l LIMIT]\n");
    return 2;
}
