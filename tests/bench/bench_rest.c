/*  orderbus-rest-bench: figures for the gateway's REST API (issue 15), with a real broker and
    gateway on loopback, as test_gateway_rest runs them. The publish modes' client is a plain
    HTTP/1.1 client of our own (keep-alive connections, each with one request in flight, on
    one epoll, as wrk's): libcurl multi, which the fetch mode uses, cost the shared two cores
    as much as libmicrohttpd's thread did.

    Each run measures, against the same broker:
    zmq      the ZeroMQ figure: 4 liborderbus publishers, window 256, pipelined, durable
             confirm on every event (orderbus-bench's default publish mode, through
             broker_proc's publisher), about 512-byte events;
    zmqC     the same with as many events in flight as the single mode has requests: 4
             publishers, window C/4 (the ZeroMQ figure single events are compared with);
    single   POST /v1/topics/T/events, one event per request, C connections (64) each with
             one request in flight: events confirmed per second;
    batch    POST /v1/topics/T/batch, a JSON array of B events (100), C connections;
    ndjson   the same as NDJSON (application/x-ndjson);
    fetch    HTTP subscription fetch and ack: N events (-n) published first (untimed, one
             pipelined liborderbus client, 512 bytes encoded with binary data, as
             orderbus-bench's), then consumed from the earliest by a new HTTP subscription
             (credit 2 x C x B, so that the gateway holds a batch for every connection): each
             of C connections fetches up to B deliveries ({"max": B, "wait_ms": 200}) and acks
             their handles in one request, in turn; events/s from the first fetch to the ack
             that completes N (each seq counted once). Its ZeroMQ figure (zmq-consume), of
             the same run and events, is one liborderbus subscriber of a second subscription
             from the earliest (default credit), acking each delivery as orderbus-bench's
             replay mode does: from its SUBSCRIBE to the N-th event.
    Every REST event encodes to 512 bytes (its "data" padded to that), every answer must be
    200 and every event is confirmed by the broker before its answer. Each REST figure is
    printed with its ZeroMQ figure of the same run and their ratio (single: zmqC; batches:
    zmq; fetch: zmq-consume); with several runs, the medians (of the figures and of the
    per-run ratios) follow. The publish figures (zmq, zmqC) are measured only when a publish
    mode runs.

    A mode is a function of s_modes[].

    The gateway allows OB_GW_HTTP_PER_IP_MAX connections per address: the connections come
    from 127.0.0.2, 127.0.0.3, ... in groups of S_PER_ADDRESS (all of 127/8 is loopback).

    Usage: orderbus-rest-bench [-r RUNS] [-n EVENTS] [-c CONNECTIONS] [-b BATCH] [MODE...]
    (5 runs, 20000 events per mode and run, 64 connections, 100 events per batch; modes
    single batch ndjson fetch, all four by default). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "orderbus/orderbus.h"
#include "token.h"

#define S_RUNS_MAX 64        /* runs one invocation may ask for */
#define S_CONNS_MAX 1024     /* connections at most */
#define S_BATCH_MAX 1000     /* the gateway's events per batch */
#define S_EVENT_BYTES 512    /* encoded size of each event */
#define S_PER_ADDRESS 16     /* connections per source address */
#define S_ZMQ_PUBLISHERS 4   /* the ZeroMQ figure's publishers */
#define S_ZMQ_WINDOW 256     /* ... and their window */
#define S_ZMQ_EVENTS 50000   /* ... events per publisher */
#define S_TIMEOUT_MS 30000   /* one request, or one publisher's wait */
#define S_ID_FMT "%s-%09ld"  /* event ids: run tag, index */
#define S_TOPIC_FMT "b%d.%s" /* topics: run, mode */
#define S_POLL_MS 1000       /* curl_multi_poll's longest wait */
#define S_PATH 1024
#define S_HANDLE_MAX 512    /* characters of a delivery handle (OB_GW_HANDLE_TEXT_MAX) */
#define S_FETCH_WAIT_MS 200 /* a fetch's long-poll wait */
#define S_CMP_SAME 1        /* compared with zmqC: as many in flight */
#define S_CMP_ZMQ 0         /* ... with zmq */
#define S_CMP_OWN 2         /* ... with the mode's own ZeroMQ figure */
#define S_HEAD_MAX 1024     /* bytes of a publish request's head */
#define S_LENGTH_TEXT 16    /* bytes of its Content-Length value, padded, and the blank line */
#define S_RESP_MAX 65536    /* bytes of one publish answer (100 results are about 9 KiB) */
#define S_LENGTH_FIELD "Content-Length:"

typedef struct s_site {
    broker_proc_site_t broker;     /* scratch dir, data dir, endpoint */
    pid_t broker_pid;              /* the broker */
    pid_t gw_pid;                  /* the gateway */
    char url[GW_PROC_URL_MAX];     /* its base URL */
    char auth[OB_TOKEN_TEXT + 32]; /* "Authorization: Bearer <token>" */
    size_t pad;                    /* "data" characters that make an event S_EVENT_BYTES */
} s_site_t;

typedef struct s_opts {
    int runs;    /* runs to take medians over */
    long events; /* events per REST mode and run */
    int conns;   /* connections */
    int batch;   /* events per batch */
} s_opts_t;

/* One REST mode: returns events/s of run r, or a negative value on failure. A mode that
   measures its own ZeroMQ figure (S_CMP_OWN) writes it to *ret_zmq. */
typedef double(s_mode_fn)(s_site_t *site, const s_opts_t *opts, int r, double *ret_zmq);

/* ---------------------------------------------------------------------------------------- */
/* The site */

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

/* Writes event i of tag (as JSON, no topic: the URL's) into buf (size bytes). Returns its
   length. */
static size_t
s_event_json(char *buf, size_t size, const char *tag, long i, size_t pad)
{
    int n = snprintf(buf, size, "{\"id\":\"" S_ID_FMT "\",\"type\":\"bench.event\",\"data\":\"",
                     tag, i);
    size_t len = (size_t)n;
    memset(buf + len, 'x', pad);
    len += pad;
    len += (size_t)snprintf(buf + len, size - len, "\"}");
    return len;
}

/* The padding that makes an event of s_event_json encode to S_EVENT_BYTES. */
static size_t
s_calibrate(void)
{
    char buf[2 * S_EVENT_BYTES];
    size_t len = s_event_json(buf, sizeof buf, "b1-single", 0, 0);
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    if (ob_event_from_json(buf, len, "b1.single", &frame, &frame_len, NULL, 0))
        return 0;
    free(frame);
    return frame_len < S_EVENT_BYTES ? S_EVENT_BYTES - frame_len : 0;
}

static int
s_site_start(s_site_t *s)
{
    memset(s, 0, sizeof *s);
    s->broker_pid = s->gw_pid = -1;
    if (broker_proc_site_make(&s->broker, "rest-bench"))
        return -1;
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    char token[OB_TOKEN_TEXT], hex[OB_TOKEN_HASH_TEXT];
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    if (s->broker_pid < 0 || ob_token_generate(token) || ob_token_hash(token, strlen(token), hash))
        return -1;
    ob_token_hash_format(hash, hex);
    snprintf(s->auth, sizeof s->auth, "Authorization: Bearer %s", token);
    char path[S_PATH], cfg[S_PATH], text[4 * S_PATH];
    snprintf(path, sizeof path, "%s/tokens.zpl", s->broker.dir);
    snprintf(text, sizeof text,
             "client = bench\n    hash = %s\n    publish = >\n    subscribe = >\n", hex);
    if (s_write(path, text))
        return -1;
    /* No rate limit in the way; room for every connection. */
    snprintf(text, sizeof text,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    rest_rate = 1000000\n    rest_burst = 1000000\n"
             "    max_connections = %d\n    rest_waits_max = %d\n"
             "broker\n    endpoint = %s\n",
             s->broker.dir, path, S_CONNS_MAX, S_CONNS_MAX, s->broker.endpoint);
    snprintf(cfg, sizeof cfg, "%s/gw.cfg", s->broker.dir);
    if (s_write(cfg, text))
        return -1;
    s->gw_pid = gw_proc_start(s->broker.dir, cfg, s->url);
    s->pad = s_calibrate();
    return s->gw_pid > 0 && s->pad ? 0 : -1;
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
}

/* ---------------------------------------------------------------------------------------- */
/* The ZeroMQ figure */

static int
s_zmq_record(void *arg, long i, const ob_confirm_t *confirm)
{
    (void)arg;
    (void)i;
    return confirm->rc;
}

/* Events/s of S_ZMQ_PUBLISHERS pipelined publishers with window in run r, or -1. */
static double
s_zmq(s_site_t *site, int r, unsigned window)
{
    char name[32];
    snprintf(name, sizeof name, "zmq%d-%u", r, window);
    ob_client_config_t cc = {.name = name, .window = window, .timeout_ms = S_TIMEOUT_MS};
    broker_proc_pub_t *pubs[S_ZMQ_PUBLISHERS] = {0};
    int64_t t0 = zclock_usecs();
    int rc = 0;
    for (int p = 0; p < S_ZMQ_PUBLISHERS; p++)
        if (!(pubs[p] = broker_proc_pub_start(site->broker.endpoint, &cc, p, S_ZMQ_EVENTS, NULL,
                                              s_zmq_record, NULL)))
            rc = -1;
    for (int p = 0; p < S_ZMQ_PUBLISHERS; p++)
        if (pubs[p] && broker_proc_pub_join(&pubs[p]))
            rc = -1;
    double s = (double)(zclock_usecs() - t0) / 1e6;
    return rc ? -1 : (double)S_ZMQ_PUBLISHERS * S_ZMQ_EVENTS / s;
}

/* ---------------------------------------------------------------------------------------- */
/* REST modes */

static size_t
s_discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n;
}

/* A connection's handle for connection i: POSTs with headers (borrowed until cleanup) from
   its source address, priv as its private pointer. NULL without memory. */
static CURL *
s_easy_new(struct curl_slist *headers, int i, void *priv)
{
    CURL *easy = curl_easy_init();
    char from[32];
    snprintf(from, sizeof from, "127.0.0.%d", 2 + i / S_PER_ADDRESS);
    if (easy) {
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_INTERFACE, from);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)S_TIMEOUT_MS);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, priv);
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
    }
    return easy;
}

/* Runs multi once: waits for a socket unless a handle was added (*added, then cleared: it
   has no socket to wait on before curl_multi_perform ran it), then performs. Returns 0 or
   -1. */
static int
s_multi_step(CURLM *multi, int *added, int *running)
{
    if (!*added && curl_multi_poll(multi, NULL, 0, S_POLL_MS, NULL) != CURLM_OK)
        return -1;
    *added = 0;
    return curl_multi_perform(multi, running) == CURLM_OK ? 0 : -1;
}

/* Takes the next finished transfer of multi: 1 with its private pointer in *ret_priv and
   its handle removed (answered 200), 0 if none, -1 for a failure (printed with what). */
static int
s_multi_done(CURLM *multi, const char *what, void **ret_priv)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        long status = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)ret_priv);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (m->data.result != CURLE_OK || status != 200) {
            fprintf(stderr, "orderbus-rest-bench: %s: %s, HTTP %ld\n", what,
                    curl_easy_strerror(m->data.result), status);
            return -1;
        }
        curl_multi_remove_handle(multi, m->easy_handle);
        return 1;
    }
    return 0;
}

/* One keep-alive connection of the publish modes' client: plain HTTP/1.1 on a socket, as wrk
   is, so that the client costs the two cores little (libcurl's multi took about a third of
   a core at 64 connections, as much as libmicrohttpd's thread). It sends one request, reads
   its answer (the status line, and the body by its Content-Length), then sends the next. */
typedef struct s_conn {
    int fd;          /* the connection, non-blocking */
    char *req;       /* the request: head and body, owned */
    size_t req_len;  /* bytes at req */
    size_t sent;     /* bytes of it sent */
    char *resp;      /* the answer so far, owned (S_RESP_MAX bytes and a NUL) */
    size_t resp_len; /* bytes at resp */
    long events;     /* events in the request */
} s_conn_t;

/* Fills c->req with the next request of a mode: head (head_len bytes, ending in
   "Content-Length: "), the body's length and a blank line, then `per` events from *next (of
   total), framed as media ("json": one object if per is 1 and single, else an array;
   "ndjson"). Returns the events in it (0: none left). */
static long
s_body(s_conn_t *c, const s_site_t *site, const char *tag, const char *head, size_t head_len,
       long *next, long total, int per, int single, int ndjson)
{
    long n = total - *next < per ? total - *next : per;
    if (n <= 0)
        return 0;
    char *body = c->req + head_len + S_LENGTH_TEXT;
    size_t len = 0;
    if (!single && !ndjson)
        body[len++] = '[';
    for (long k = 0; k < n; k++) {
        if (k)
            body[len++] = ndjson ? '\n' : ',';
        len += s_event_json(body + len, 2 * S_EVENT_BYTES, tag, *next + k, site->pad);
    }
    if (!single && !ndjson)
        body[len++] = ']';
    /* the length in a field of fixed width, with leading zeros (1*DIGIT, RFC 9110) */
    char length[S_LENGTH_TEXT + 1];
    snprintf(length, sizeof length, "%0*zu\r\n\r\n", S_LENGTH_TEXT - 4, len);
    memcpy(c->req, head, head_len);
    memcpy(c->req + head_len, length, S_LENGTH_TEXT);
    c->req_len = head_len + S_LENGTH_TEXT + len;
    c->sent = 0;
    c->resp_len = 0;
    c->events = n;
    *next += n;
    return n;
}

/* Connects c to port on 127.0.0.1 from 127.0.0.(2 + i / S_PER_ADDRESS), without delay, and
   adds it to epoll ep (edge-triggered, in and out). Returns 0 or -1. */
static int
s_conn_open(s_conn_t *c, int ep, uint16_t port, int i)
{
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(i / S_PER_ADDRESS));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&from, sizeof from) ||
        connect(c->fd, (struct sockaddr *)&to, sizeof to) ||
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) ||
        fcntl(c->fd, F_SETFL, O_NONBLOCK))
        return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/* Sends what is left of c's request. Returns 0 (sent, or the socket is full) or -1. */
static int
s_conn_send(s_conn_t *c)
{
    while (c->sent < c->req_len) {
        ssize_t n = send(c->fd, c->req + c->sent, c->req_len - c->sent, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        c->sent += (size_t)n;
    }
    return 0;
}

/* Reads what c's socket has. Returns 1 when the answer is complete (200: else printed, -1),
   0 while it is not, -1 for a failure or a closed connection. */
static int
s_conn_read(s_conn_t *c, const char *what)
{
    for (;;) {
        ssize_t n = c->resp_len < S_RESP_MAX
                        ? recv(c->fd, c->resp + c->resp_len, S_RESP_MAX - c->resp_len, 0)
                        : -2;
        if (n < 0 && n != -2 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            fprintf(stderr, "orderbus-rest-bench: %s: %s after %zu bytes of an answer\n", what,
                    n == 0    ? "connection closed"
                    : n == -2 ? "answer too long"
                              : strerror(errno),
                    c->resp_len);
            return -1;
        }
        c->resp_len += (size_t)n;
    }
    c->resp[c->resp_len] = '\0';
    const char *end = strstr(c->resp, "\r\n\r\n");
    if (!end)
        return 0;
    int status = 0;
    size_t length = 0;
    const char *field = c->resp;
    while ((field = strstr(field, "\r\n")) && field < end &&
           strncasecmp(field + 2, S_LENGTH_FIELD, strlen(S_LENGTH_FIELD)))
        field += 2;
    if (sscanf(c->resp, "HTTP/1.1 %d", &status) != 1 || !field || field >= end ||
        sscanf(field + 2 + strlen(S_LENGTH_FIELD), "%zu", &length) != 1) {
        fprintf(stderr, "orderbus-rest-bench: %s: no status or Content-Length: %.*s\n", what,
                (int)(end - c->resp), c->resp);
        return -1;
    }
    if (c->resp_len < (size_t)(end + 4 - c->resp) + length)
        return 0;
    if (status != 200) {
        fprintf(stderr, "orderbus-rest-bench: %s: HTTP %d: %.*s\n", what, status, (int)length,
                end + 4);
        return -1;
    }
    return 1;
}

/* Runs total events through the gateway as requests of per events on opts->conns
   connections. Returns events/s or -1. */
static double
s_rest_run(s_site_t *site, const s_opts_t *opts, int r, const char *mode, int per, int single,
           int ndjson)
{
    char topic[64], tag[64], head[S_HEAD_MAX];
    unsigned port = 0;
    snprintf(topic, sizeof topic, S_TOPIC_FMT, r, mode);
    snprintf(tag, sizeof tag, "b%d-%s", r, mode);
    int head_len = snprintf(head, sizeof head,
                            "POST /v1/topics/%s/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n"
                            "Content-Type: %s\r\n" S_LENGTH_FIELD " ",
                            topic, single ? "events" : "batch", site->auth,
                            ndjson ? "application/x-ndjson" : "application/json");
    int conns = opts->conns;
    s_conn_t *cs = calloc((size_t)conns, sizeof *cs);
    size_t req_max = (size_t)head_len + S_LENGTH_TEXT + (size_t)per * (2 * S_EVENT_BYTES + 1) + 2;
    long next = 0, done = 0;
    int ep = epoll_create1(0);
    int failed = !cs || ep < 0 || sscanf(site->url, "http://127.0.0.1:%u", &port) != 1;
    for (int i = 0; cs && i < conns; i++)
        cs[i].fd = -1;
    for (int i = 0; !failed && i < conns; i++) {
        s_conn_t *c = &cs[i];
        failed = !(c->req = malloc(req_max)) || !(c->resp = malloc(S_RESP_MAX + 1)) ||
                 s_conn_open(c, ep, (uint16_t)port, i);
    }
    int64_t t0 = zclock_usecs();
    int busy = 0;
    for (int i = 0; !failed && i < conns; i++) {
        s_conn_t *c = &cs[i];
        if (!s_body(c, site, tag, head, (size_t)head_len, &next, opts->events, per, single, ndjson))
            break;
        busy++;
        failed = s_conn_send(c) < 0;
    }
    struct epoll_event evs[S_CONNS_MAX];
    while (!failed && busy) {
        int n = epoll_wait(ep, evs, conns, S_TIMEOUT_MS);
        if (n <= 0) { /* a timeout: an answer that does not come */
            failed = n == 0 || errno != EINTR;
            continue;
        }
        for (int k = 0; !failed && k < n; k++) {
            s_conn_t *c = evs[k].data.ptr;
            if (!c->events)
                continue; /* idle: nothing more to send */
            int got = s_conn_send(c) < 0 ? -1 : s_conn_read(c, mode);
            if (got < 0)
                failed = 1;
            else if (got) {
                done += c->events;
                c->events = 0;
                if (s_body(c, site, tag, head, (size_t)head_len, &next, opts->events, per, single,
                           ndjson))
                    failed = s_conn_send(c) < 0;
                else
                    busy--;
            }
        }
    }
    double s = (double)(zclock_usecs() - t0) / 1e6;
    for (int i = 0; cs && i < conns; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].req);
        free(cs[i].resp);
    }
    free(cs);
    if (ep >= 0)
        close(ep);
    return failed || done != opts->events ? -1 : (double)done / s;
}

static double
s_mode_single(s_site_t *site, const s_opts_t *opts, int r, double *ret_zmq)
{
    (void)ret_zmq;
    return s_rest_run(site, opts, r, "single", 1, 1, 0);
}

static double
s_mode_batch(s_site_t *site, const s_opts_t *opts, int r, double *ret_zmq)
{
    (void)ret_zmq;
    return s_rest_run(site, opts, r, "batch", opts->batch, 0, 0);
}

static double
s_mode_ndjson(s_site_t *site, const s_opts_t *opts, int r, double *ret_zmq)
{
    (void)ret_zmq;
    return s_rest_run(site, opts, r, "ndjson", opts->batch, 0, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* Fetch and ack (HTTP subscriptions) */

/* Marks seq in seen (total bits): returns 1 the first time for a seq in 1..total, else 0. */
static int
s_first(uint8_t *seen, uint64_t seq, long total)
{
    if (seq < 1 || seq > (uint64_t)total || (seen[seq / 8] & (1u << (seq % 8))))
        return 0;
    seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    return 1;
}

/* One connection of the fetch-and-ack mode: it fetches, then acks what it got, in turn. */
typedef struct s_taker {
    CURL *easy;    /* its handle */
    int acking;    /* 1: its request in flight is an ack */
    char *answer;  /* the fetch's answer, growing */
    size_t len;    /* bytes at answer */
    size_t size;   /* allocated */
    char *body;    /* the ack's body */
    uint64_t *seq; /* the seqs of the handles in it */
    long count;    /* handles in it */
} s_taker_t;

static size_t
s_keep(char *ptr, size_t size, size_t n, void *arg)
{
    s_taker_t *t = arg;
    size_t more = size * n;
    if (t->len + more + 1 > t->size) {
        size_t grow = (t->len + more + 1) * 2;
        char *p = realloc(t->answer, grow);
        if (!p)
            return 0;
        t->answer = p;
        t->size = grow;
    }
    memcpy(t->answer + t->len, ptr, more);
    t->len += more;
    t->answer[t->len] = '\0';
    return more;
}

/* Turns t's fetch answer into the body of its ack: {"handles": [...]} and the seqs. Returns
   the handles, or -1 for an answer it cannot read. The gateway writes a delivery's members
   in a fixed order (handle, topic, seq, ...): a scan finds them without a JSON parser, so
   that the client takes little of the 2 cores. */
static long
s_ack_body(s_taker_t *t, int batch)
{
    static const char h_key[] = "\"handle\":\"", s_key[] = "\"seq\":";
    size_t len = (size_t)snprintf(t->body, 16, "{\"handles\":[");
    long n = 0;
    for (const char *p = t->answer; (p = strstr(p, h_key));) {
        p += sizeof h_key - 1;
        const char *end = strchr(p, '"');
        const char *seq = end ? strstr(end, s_key) : NULL;
        if (!seq || n == batch || end - p > S_HANDLE_MAX)
            return -1;
        if (n)
            t->body[len++] = ',';
        t->body[len++] = '"';
        memcpy(t->body + len, p, (size_t)(end - p));
        len += (size_t)(end - p);
        t->body[len++] = '"';
        t->seq[n++] = strtoull(seq + sizeof s_key - 1, NULL, 10);
        p = end;
    }
    memcpy(t->body + len, "]}", 3);
    t->count = n;
    return n;
}

/* Sets t's next request: a fetch, or the ack of what it fetched. */
static void
s_taker_next(s_taker_t *t, const char *fetch_url, const char *ack_url, const char *fetch_body)
{
    curl_easy_setopt(t->easy, CURLOPT_URL, t->acking ? ack_url : fetch_url);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->acking ? t->body : fetch_body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE,
                     (long)strlen(t->acking ? t->body : fetch_body));
    t->len = 0;
}

/* POSTs body to the gateway's path with the site's token. Returns the status, or -1. */
static long
s_post(const s_site_t *site, const char *path, const char *body)
{
    char url[GW_PROC_URL_MAX + S_PATH];
    snprintf(url, sizeof url, "%s%s", site->url, path);
    struct curl_slist *headers = curl_slist_append(NULL, site->auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    CURL *easy = curl_easy_init();
    long status = -1;
    if (easy && headers) {
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)S_TIMEOUT_MS);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        if (curl_easy_perform(easy) == CURLE_OK)
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    return status;
}

/* Acks total events (seqs 1..total of its topic) of HTTP subscription name, fetched in
   batches over opts->conns connections. Returns events/s (from the first fetch to the
   last ack's answer) or -1. */
static double
s_fetch_ack(s_site_t *site, const s_opts_t *opts, const char *name, long total)
{
    char fetch_url[GW_PROC_URL_MAX + S_PATH], ack_url[GW_PROC_URL_MAX + S_PATH], fetch_body[64];
    snprintf(fetch_url, sizeof fetch_url, "%s/v1/subscriptions/%s/fetch", site->url, name);
    snprintf(ack_url, sizeof ack_url, "%s/v1/subscriptions/%s/ack", site->url, name);
    snprintf(fetch_body, sizeof fetch_body, "{\"max\":%d,\"wait_ms\":%d}", opts->batch,
             S_FETCH_WAIT_MS);
    struct curl_slist *headers = curl_slist_append(NULL, site->auth);
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    CURLM *multi = curl_multi_init();
    int conns = opts->conns;
    s_taker_t *ts = calloc((size_t)conns, sizeof *ts);
    uint8_t *seen = calloc((size_t)total / 8 + 1, 1);
    long acked = 0;
    int failed = !multi || !ts || !headers || !seen;
    for (int i = 0; !failed && i < conns; i++) {
        s_taker_t *t = &ts[i];
        t->body = malloc((size_t)opts->batch * (S_HANDLE_MAX + 3) + 16);
        t->seq = calloc((size_t)opts->batch, sizeof *t->seq);
        if (!t->body || !t->seq || !(t->easy = s_easy_new(headers, i, t))) {
            failed = 1;
            break;
        }
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, s_keep);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    }
    if (!failed)
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    int64_t t0 = zclock_usecs();
    for (int i = 0; !failed && i < conns; i++) {
        s_taker_next(&ts[i], fetch_url, ack_url, fetch_body);
        curl_multi_add_handle(multi, ts[i].easy);
    }
    int running = 1, added = 1;
    while (!failed && acked < total) {
        failed = s_multi_step(multi, &added, &running) < 0;
        s_taker_t *t = NULL;
        int got;
        while (!failed && (got = s_multi_done(multi, "fetch", (void **)&t))) {
            long n = 0;
            if (got < 0 || (!t->acking && (n = s_ack_body(t, opts->batch)) < 0)) {
                if (got > 0)
                    fprintf(stderr, "orderbus-rest-bench: fetch: an answer it cannot read\n");
                failed = 1;
                break;
            }
            if (t->acking)
                for (long k = 0; k < t->count; k++) /* each seq once, however often */
                    acked += s_first(seen, t->seq[k], total);
            t->acking = !t->acking && n > 0;
            if (acked < total) {
                s_taker_next(t, fetch_url, ack_url, fetch_body);
                curl_multi_add_handle(multi, t->easy);
                added = 1;
            }
        }
    }
    double s = (double)(zclock_usecs() - t0) / 1e6;
    for (int i = 0; ts && i < conns; i++) {
        if (ts[i].easy) {
            curl_multi_remove_handle(multi, ts[i].easy);
            curl_easy_cleanup(ts[i].easy);
        }
        free(ts[i].answer);
        free(ts[i].body);
        free(ts[i].seq);
    }
    free(ts);
    free(seen);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    return failed ? -1 : (double)acked / s;
}

/* Events/s of a liborderbus subscriber that receives and acks each of total events (seqs
   1..total of topic) of a new durable subscription name from the earliest, with the
   default credit (as orderbus-bench replay), or -1. */
static double
s_zmq_consume(const s_site_t *site, const char *name, const char *topic, long total)
{
    ob_client_config_t cc = {.name = name, .timeout_ms = S_TIMEOUT_MS};
    ob_client_t *client = ob_client_new(site->broker.endpoint, &cc);
    uint8_t *seen = calloc((size_t)total / 8 + 1, 1);
    const char *patterns[1] = {topic};
    ob_sub_options_t so = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    long got = 0;
    int64_t t0 = zclock_usecs();
    int rc = client && seen ? ob_client_subscribe(client, name, &so, NULL, NULL) : -ENOMEM;
    while (!rc && got < total) {
        ob_delivery_t *d = NULL;
        if ((rc = ob_client_receive(client, S_TIMEOUT_MS, &d)))
            break;
        got += s_first(seen, d->seq, total);
        rc = ob_client_ack(client, d);
        ob_delivery_destroy(&d);
    }
    double s = (double)(zclock_usecs() - t0) / 1e6;
    if (rc)
        fprintf(stderr, "orderbus-rest-bench: zmq consume: %s\n", ob_strerror(rc));
    free(seen);
    ob_client_destroy(&client);
    return rc ? -1 : (double)got / s;
}

/* Publishes total events to topic through one pipelined liborderbus client (window
   S_ZMQ_WINDOW, every confirm taken), each encoding to S_EVENT_BYTES with binary data, as
   orderbus-bench's events (which fetch answers carry as base64). Returns 0 or -1. */
static int
s_fill(const s_site_t *site, const char *topic, long total)
{
    ob_client_config_t cc = {.name = "fill", .window = S_ZMQ_WINDOW, .timeout_ms = S_TIMEOUT_MS};
    ob_client_t *client = ob_client_new(site->broker.endpoint, &cc);
    uint8_t data[S_EVENT_BYTES], *frame = NULL;
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 13);
    char id[OB_EVENT_ID_MAX + 1];
    ob_event_t ev = {.id = id, .topic = topic, .type = "bench.event", .data = data};
    size_t len = 0;
    snprintf(id, sizeof id, "%s-%09ld", topic, 0L);
    int rc = client ? ob_event_encode(&ev, &frame, &len) : -1;
    free(frame);
    /* 3: the bin header that a non-empty data adds (bin 16 for 256..65535 bytes) */
    ev.data_len = !rc && len + 3 < S_EVENT_BYTES ? S_EVENT_BYTES - len - 3 : 0;
    rc = rc || !ev.data_len ? -1 : 0;
    for (long i = 0; !rc && i < total; i++) {
        snprintf(id, sizeof id, "%s-%09ld", topic, i);
        rc = ob_client_publish_async(client, &ev, NULL);
    }
    while (!rc && ob_client_pending(client)) {
        ob_confirm_t confirm;
        rc = ob_client_confirm_next(client, S_TIMEOUT_MS, &confirm);
        rc = rc ? rc : confirm.rc;
    }
    if (rc)
        fprintf(stderr, "orderbus-rest-bench: fill: %s\n", ob_strerror(rc));
    ob_client_destroy(&client);
    return rc ? -1 : 0;
}

/* Fetch and ack: publishes opts->events events to a topic of its own (untimed, s_fill),
   then consumes them all from the earliest twice: with liborderbus (the ZeroMQ figure,
   *ret_zmq), then over HTTP (the figure returned). Returns events/s or -1. */
static double
s_mode_fetch_ack(s_site_t *site, const s_opts_t *opts, int r, double *ret_zmq)
{
    char topic[64], zname[32], hname[32], body[S_PATH];
    snprintf(topic, sizeof topic, S_TOPIC_FMT, r, "fetch");
    snprintf(zname, sizeof zname, "zmq-fetch-%d", r);
    snprintf(hname, sizeof hname, "rest-fetch-%d", r);
    if (s_fill(site, topic, opts->events) ||
        (*ret_zmq = s_zmq_consume(site, zname, topic, opts->events)) < 0)
        return -1;
    /* The credit bounds what the gateway holds: room for every connection's batch. */
    long credit = 2L * opts->conns * opts->batch;
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"patterns\":[\"%s\"],\"start\":\"earliest\",\"credit\":%ld}", hname,
             topic, credit < OB_CREDIT_MAX ? credit : OB_CREDIT_MAX);
    if (s_post(site, "/v1/subscriptions", body) != 201)
        return -1;
    return s_fetch_ack(site, opts, hname, opts->events);
}

static const struct {
    const char *name; /* on the command line */
    s_mode_fn *fn;    /* the measurement */
    const char *what; /* printed */
    int cmp;          /* what it is compared with: S_CMP_* */
} s_modes[] = {
    {"single", s_mode_single, "1 event per POST", S_CMP_SAME},
    {"batch", s_mode_batch, "JSON array batches", S_CMP_ZMQ},
    {"ndjson", s_mode_ndjson, "NDJSON batches", S_CMP_ZMQ},
    {"fetch", s_mode_fetch_ack, "fetch + ack batches", S_CMP_OWN},
};
#define S_MODES (sizeof s_modes / sizeof s_modes[0])

/* ---------------------------------------------------------------------------------------- */

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
s_usage(void)
{
    fprintf(stderr, "usage: orderbus-rest-bench [-r RUNS] [-n EVENTS] [-c CONNECTIONS] "
                    "[-b BATCH] [single|batch|ndjson|fetch ...]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    s_opts_t opts = {.runs = 5, .events = 20000, .conns = 64, .batch = 100};
    int want[S_MODES] = {0}, any = 0, opt;
    while ((opt = getopt(argc, argv, "r:n:c:b:h")) != -1) {
        if (opt == 'r')
            opts.runs = atoi(optarg);
        else if (opt == 'n')
            opts.events = atol(optarg);
        else if (opt == 'c')
            opts.conns = atoi(optarg);
        else if (opt == 'b')
            opts.batch = atoi(optarg);
        else
            return s_usage();
    }
    for (int i = optind; i < argc; i++) {
        size_t m = 0;
        while (m < S_MODES && strcmp(argv[i], s_modes[m].name))
            m++;
        if (m == S_MODES)
            return s_usage();
        want[m] = any = 1;
    }
    if (opts.runs < 1 || opts.runs > S_RUNS_MAX || opts.events < 1 || opts.conns < 1 ||
        opts.conns > S_CONNS_MAX || opts.batch < 1 || opts.batch > S_BATCH_MAX)
        return s_usage();
    setenv("OB_BROKER", OB_BENCH_BROKER, 0);
    setenv("OB_GATEWAY", OB_BENCH_GATEWAY, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_site_t site;
    int rc = s_site_start(&site);
    printf("orderbus-rest-bench: %d runs, %ld events per mode and run, %d connections, "
           "batches of %d, %d-byte events; ZeroMQ: %d publishers, %d events each, window %d "
           "(zmq) and C/%d (zmqC)\n",
           opts.runs, opts.events, opts.conns, opts.batch, S_EVENT_BYTES, S_ZMQ_PUBLISHERS,
           S_ZMQ_EVENTS, S_ZMQ_WINDOW, S_ZMQ_PUBLISHERS);
    static double zmq[S_RUNS_MAX], same[S_RUNS_MAX], fig[S_MODES][S_RUNS_MAX],
        ratio[S_MODES][S_RUNS_MAX], own[S_MODES][S_RUNS_MAX];
    int publishes = 0;
    for (size_t m = 0; m < S_MODES; m++)
        publishes |= (!any || want[m]) && s_modes[m].cmp != S_CMP_OWN;
    unsigned window = opts.conns / S_ZMQ_PUBLISHERS ? opts.conns / S_ZMQ_PUBLISHERS : 1;
    for (int r = 0; !rc && r < opts.runs; r++) {
        /* The publish figures, unless only modes with their own are asked for. */
        zmq[r] = same[r] = 0;
        if (publishes) {
            zmq[r] = s_zmq(&site, r + 1, S_ZMQ_WINDOW);
            same[r] = s_zmq(&site, r + 1, window);
        }
        if (zmq[r] < 0 || same[r] < 0) {
            rc = -1;
            break;
        }
        printf("run %d:", r + 1);
        if (publishes)
            printf(" zmq %.0f, zmq%u %.0f events/s;", zmq[r], window * S_ZMQ_PUBLISHERS, same[r]);
        for (size_t m = 0; !rc && m < S_MODES; m++) {
            if (any && !want[m])
                continue;
            own[m][r] = -1;
            fig[m][r] = s_modes[m].fn(&site, &opts, r + 1, &own[m][r]);
            double base = s_modes[m].cmp == S_CMP_SAME  ? same[r]
                          : s_modes[m].cmp == S_CMP_ZMQ ? zmq[r]
                                                        : own[m][r];
            ratio[m][r] = fig[m][r] / base;
            rc = fig[m][r] < 0 ? -1 : 0;
            if (s_modes[m].cmp == S_CMP_OWN)
                printf(" zmq-consume %.0f;", own[m][r]);
            printf(" %s %.0f (%.2f);", s_modes[m].name, fig[m][r], ratio[m][r]);
        }
        printf("\n");
        fflush(stdout);
    }
    if (!rc) {
        printf("medians of %d:", opts.runs);
        if (publishes)
            printf(" zmq %.0f, zmq%u %.0f events/s", s_median(zmq, opts.runs),
                   window * S_ZMQ_PUBLISHERS, s_median(same, opts.runs));
        printf("\n");
        for (size_t m = 0; m < S_MODES; m++)
            if ((!any || want[m]) && s_modes[m].cmp == S_CMP_OWN)
                printf("  %-7s %-20s %9.0f events/s, %.2f of zmq-consume %.0f\n", s_modes[m].name,
                       s_modes[m].what, s_median(fig[m], opts.runs), s_median(ratio[m], opts.runs),
                       s_median(own[m], opts.runs));
            else if (!any || want[m])
                printf("  %-7s %-20s %9.0f events/s, %.2f of %s\n", s_modes[m].name,
                       s_modes[m].what, s_median(fig[m], opts.runs), s_median(ratio[m], opts.runs),
                       s_modes[m].cmp == S_CMP_SAME ? "zmqC" : "zmq");
    }
    s_site_stop(&site);
    curl_global_cleanup();
    if (rc)
        fprintf(stderr, "orderbus-rest-bench: failed (see the gateway's log)\n");
    return rc ? 1 : 0;
}
