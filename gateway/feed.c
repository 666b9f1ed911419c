/*  ob_feed: see feed.h.

    The actor's loop, each turn: take $TERM from the pipe and the wake flags; let curl do its
    transfers and collect the finished ones; take the broker's confirmations (and persist
    what they allow); advance each OMS (start a pass when due, issue fetches, publish the
    fetched events in order); then wait in curl_multi_poll on curl's sockets, the pipe and the
    client's socket (both ZMQ_FDs, edge-triggered: the turn above read them until empty) or
    until the next due time. curl_multi_wakeup (ob_feed_wake) ends the wait at once. */
#include "feed.h"

#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mp_event.h"
#include "mp_parse.h"
#include "orderbus/client.h"
#include "orderbus/error.h"
#include "poller.h"

#define S_URL_MAX (OB_GW_URL_MAX + OB_GW_PATH_MAX + 96) /* a Marketplace request's URL */
#define S_HEADER_MAX (OB_GW_SECRET_MAX + 32)            /* "X-User-Token: <token>" */
#define S_BROKER_SLOW_MS OB_GW_BROKER_TIMEOUT_MS /* an unconfirmed publish older: not ready */
#define S_BUSY_WAIT_MS 5 /* wait while publishes are unconfirmed (safety net for edges) */
#define S_CLIENT_NAME "orderbus-gateway"
#define S_PENDING_INITIAL 256 /* first size of the pending list; it doubles */
#define S_ID_TEXT 24          /* a u64 in decimal with its NUL */

typedef enum { S_IDLE, S_READING, S_FETCHING } s_state_t;

/* One Marketplace request in flight or done. */
typedef struct s_oms s_oms_t;

typedef struct s_req {
    CURL *easy;    /* while in flight, else NULL */
    char *body;    /* the answer so far (malloc'd), or NULL */
    size_t len;    /* bytes in body */
    int too_large; /* 1: the answer went over OB_GW_MP_BODY_MAX */
    int done;      /* 1: finished */
    CURLcode code; /* curl's result */
    long status;   /* HTTP status, 0 without an answer */
    s_oms_t *oms;  /* whose request it is */
    int is_read;   /* 1: the feed read; 0: a fetch */
} s_req_t;

/* One OMS's runtime. */
struct s_oms {
    const ob_gw_oms_t *cfg;     /* borrowed from the configuration */
    size_t index;               /* its place in cfg->oms */
    ob_gw_store_t *store;       /* borrowed: the announced projects */
    char label[S_ID_TEXT];      /* its id, for metrics and logs */
    struct curl_slist *headers; /* X-User-Token and Accept */
    ob_poller_t *poller;        /* the cursor */
    s_state_t state;            /* what the pass is doing */
    int wake;                   /* a pass is asked for */
    int64_t next_poll;          /* monotonic ms of the timer's next pass */
    int64_t retry_at;           /* after a failure: no pass before this */
    int64_t backoff_ms;         /* the current backoff, 0 after a success */
    int64_t pass_start;         /* monotonic ms the pass began */
    s_req_t read;               /* the feed read */
    ob_poller_read_t next_read; /* what to read */
    ob_mkt_page_t *page;        /* the page whose step is being published */
    ob_poller_step_t step;      /* what it gave */
    s_req_t *fetches;           /* step.count fetches, or NULL */
    size_t issued;              /* fetches started */
    size_t published;           /* emits published, in order */
    size_t inflight;            /* fetches running */
    uint64_t committed;         /* cursor last stored */
    int dirty;                  /* confirmations since the last commit */
};

/* A publish awaiting its confirmation. */
typedef struct s_pending {
    uint64_t token; /* ob_client_publish_async's */
    size_t oms;     /* index */
    uint64_t seq;   /* the poller's emit number */
    int64_t sent;   /* monotonic ms */
} s_pending_t;

struct ob_feed {
    zactor_t *actor;                 /* the loop */
    CURLM *multi;                    /* shared with ob_feed_wake (curl_multi_wakeup) */
    const ob_gw_config_t *cfg;       /* borrowed */
    ob_gw_store_t *store;            /* borrowed */
    ob_gw_stats_t *stats;            /* borrowed */
    atomic_int wake[OB_GW_OMS_MAX];  /* set by ob_feed_wake */
    atomic_int mp_ok[OB_GW_OMS_MAX]; /* last read answered */
    atomic_int broker_ok;            /* welcomed, confirming */
    char error[OB_GW_CONFIG_ERR_MAX + OB_GW_URL_MAX]; /* the actor's start failure */
};

/* The actor's own state. */
typedef struct s_run {
    ob_feed_t *feed;      /* shared part */
    ob_client_t *client;  /* to the broker */
    s_oms_t *oms;         /* cfg->oms_count of them */
    size_t count;         /* OMSes */
    s_pending_t *pending; /* FIFO of unconfirmed publishes */
    size_t pending_head;  /* first live entry */
    size_t pending_len;   /* entries used from 0 */
    size_t pending_cap;   /* allocated */
    int stopping;         /* $TERM received */
} s_run_t;

static int64_t
s_now(void)
{
    return zclock_mono();
}

/* curl's write callback: appends to the request's body up to OB_GW_MP_BODY_MAX. */
static size_t
s_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_req_t *req = arg;
    size_t n = size * nmemb;
    if (req->len + n > OB_GW_MP_BODY_MAX) {
        req->too_large = 1;
        return 0; /* curl ends the transfer with CURLE_WRITE_ERROR */
    }
    char *grown = realloc(req->body, req->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + req->len, data, n);
    req->body = grown;
    req->len += n;
    req->body[req->len] = '\0';
    return n;
}

/* Stops and forgets req's transfer and answer. */
static void
s_req_clear(s_run_t *run, s_req_t *req)
{
    if (req->easy) {
        curl_multi_remove_handle(run->feed->multi, req->easy);
        curl_easy_cleanup(req->easy);
    }
    free(req->body);
    memset(req, 0, sizeof *req);
}

/* Starts a GET of o's Marketplace at path (and query, may be ""). Returns 0 or -ENOMEM. */
static int
s_req_start(s_run_t *run, s_oms_t *o, s_req_t *req, const char *path, const char *query)
{
    char url[S_URL_MAX];
    snprintf(url, sizeof url, "%s%s%s", o->cfg->url, path, query);
    memset(req, 0, sizeof *req);
    req->oms = o;
    req->is_read = req == &o->read;
    CURL *easy = curl_easy_init();
    if (!easy)
        return -ENOMEM;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)o->cfg->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)o->cfg->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(run->feed->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        return -ENOMEM;
    }
    req->easy = easy;
    return 0;
}

/* Ends o's pass as failed: abandons what it had (the next pass redoes it), backs off. */
static void
s_fail(s_run_t *run, s_oms_t *o, const char *kind, const char *what)
{
    o->backoff_ms = o->backoff_ms ? o->backoff_ms * 2 : OB_GW_BACKOFF_MS_MIN;
    if (o->backoff_ms > OB_GW_BACKOFF_MS_MAX)
        o->backoff_ms = OB_GW_BACKOFF_MS_MAX;
    o->retry_at = s_now() + o->backoff_ms;
    o->wake = 1; /* retry: what failed is still to be read */
    zsys_warning("oms %s: pass failed (%s): %s; retrying in %" PRId64 " ms", o->label, kind, what,
                 o->backoff_ms);
    ob_gw_stats_inc(run->feed->stats->errors, o->label, kind);
    ob_gw_stats_inc(run->feed->stats->polls, o->label, "failed");
    if (!strncmp(kind, "mp_", 3))
        atomic_store(&run->feed->mp_ok[o->index], 0);
    ob_poller_abort(o->poller);
    s_req_clear(run, &o->read);
    if (o->fetches) {
        for (size_t i = 0; i < o->step.count; i++)
            s_req_clear(run, &o->fetches[i]);
        free(o->fetches);
        o->fetches = NULL;
    }
    ob_mkt_page_destroy(&o->page);
    o->state = S_IDLE;
}

/* Starts the read o->next_read. */
static void
s_read(s_run_t *run, s_oms_t *o)
{
    char path[OB_GW_PATH_MAX], query[OB_GW_TIMESTAMP_TEXT_MAX + 64];
    snprintf(path, sizeof path, "/api/v1/oms/%" PRIu64 "/events", o->cfg->id);
    snprintf(query, sizeof query, "?from_timestamp=%s&limit=%" PRIu32, o->next_read.from_timestamp,
             o->next_read.limit);
    if (s_req_start(run, o, &o->read, path, query)) {
        s_fail(run, o, "mp_transport", "cannot start a request (no memory)");
        return;
    }
    o->state = S_READING;
}

/* Describes a finished request that did not answer 200, into buf. */
static void
s_describe(const s_req_t *req, char *buf, size_t len)
{
    if (req->too_large)
        snprintf(buf, len, "answer over %u bytes", (unsigned)OB_GW_MP_BODY_MAX);
    else if (req->code != CURLE_OK)
        snprintf(buf, len, "%s", curl_easy_strerror(req->code));
    else {
        ob_mkt_error_t *error = NULL;
        if (req->body && !ob_mkt_error_parse(req->body, req->len, &error))
            snprintf(buf, len, "HTTP %ld: %s", req->status, error->text);
        else
            snprintf(buf, len, "HTTP %ld", req->status);
        ob_mkt_error_destroy(&error);
    }
}

/* The kind of error of a request that failed. */
static const char *
s_kind(const s_req_t *req)
{
    return req->code != CURLE_OK || req->too_large ? "mp_transport" : "mp_status";
}

/* Issues fetches of o's step while there is room. */
static void
s_pump(s_run_t *run, s_oms_t *o)
{
    while (o->state == S_FETCHING && o->issued < o->step.count && o->inflight < OB_GW_FETCHES_MAX) {
        const ob_poller_emit_t *emit = &o->step.emits[o->issued];
        char path[OB_GW_PATH_MAX];
        if (ob_mkt_event_path(o->cfg->id, &emit->event, path)) {
            s_fail(run, o, "mp_malformed", "an event names no resource");
            return;
        }
        if (s_req_start(run, o, &o->fetches[o->issued], path, "")) {
            s_fail(run, o, "mp_transport", "cannot start a request (no memory)");
            return;
        }
        o->issued++;
        o->inflight++;
    }
}

/* Appends a pending publish. Returns 0 or -ENOMEM. */
static int
s_pending_push(s_run_t *run, uint64_t token, size_t oms, uint64_t seq)
{
    if (run->pending_head > 0 && run->pending_head == run->pending_len) {
        run->pending_head = run->pending_len = 0;
    }
    if (run->pending_len == run->pending_cap) {
        if (run->pending_head > run->pending_cap / 2) { /* compact */
            memmove(run->pending, run->pending + run->pending_head,
                    (run->pending_len - run->pending_head) * sizeof *run->pending);
            run->pending_len -= run->pending_head;
            run->pending_head = 0;
        } else {
            size_t cap = run->pending_cap ? run->pending_cap * 2 : S_PENDING_INITIAL;
            s_pending_t *grown = realloc(run->pending, cap * sizeof *grown);
            if (!grown)
                return -ENOMEM;
            run->pending = grown;
            run->pending_cap = cap;
        }
    }
    run->pending[run->pending_len++] = (s_pending_t){token, oms, seq, s_now()};
    return 0;
}

/* Builds and publishes emit i of o's step from its fetch. Returns 0, or fails the pass and
   returns -1. */
static int
s_publish(s_run_t *run, s_oms_t *o, size_t i)
{
    const ob_poller_emit_t *emit = &o->step.emits[i];
    s_req_t *req = &o->fetches[i];
    ob_mkt_resource_t *resource = NULL;
    char what[OB_GW_ERROR_TEXT_MAX + 64];
    if (req->code != CURLE_OK || req->too_large || (req->status != 200 && req->status != 404)) {
        s_describe(req, what, sizeof what);
        s_fail(run, o, s_kind(req), what);
        return -1;
    }
    if (req->status == 200 &&
        ob_mkt_resource_parse(emit->event.kind, req->body ? req->body : "", req->len, &resource)) {
        /* A resource that does not parse cannot stall the feed: the event goes without it. */
        zsys_warning("oms %s: event %s: the %s fetched does not parse; published without it",
                     o->label, emit->id, ob_mkt_kind_name(emit->event.kind));
        ob_gw_stats_inc(run->feed->stats->errors, o->label, "resource");
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_mkt_event_build(o->cfg->id, &emit->event, emit->rank, resource, &buf, &len, NULL);
    if (rc && resource && (rc == OB_ERR_INVALID_ARGUMENT || rc == OB_ERR_TOO_LARGE)) {
        zsys_warning("oms %s: event %s: snapshot refused (%s); published without it", o->label,
                     emit->id, ob_strerror(rc));
        ob_gw_stats_inc(run->feed->stats->errors, o->label, "resource");
        rc = ob_mkt_event_build(o->cfg->id, &emit->event, emit->rank, NULL, &buf, &len, NULL);
    }
    ob_mkt_resource_destroy(&resource);
    s_req_clear(run, req);
    ob_event_t *event = NULL;
    if (!rc)
        rc = ob_event_decode(buf, len, &event);
    free(buf);
    uint64_t token = 0;
    if (!rc && !(rc = ob_client_publish_async(run->client, event, &token)))
        rc = s_pending_push(run, token, o->index, emit->seq);
    ob_event_destroy(&event);
    if (rc) {
        snprintf(what, sizeof what, "event %s: %s", emit->id, ob_strerror(rc));
        s_fail(run, o, rc == OB_ERR_TIMEOUT ? "broker" : "refused", what);
        if (rc == OB_ERR_TIMEOUT)
            atomic_store(&run->feed->broker_ok, 0);
        return -1;
    }
    return 0;
}

/* Ends o's pass as done. */
static void
s_pass_done(s_run_t *run, s_oms_t *o)
{
    o->state = S_IDLE;
    o->backoff_ms = 0;
    ob_gw_stats_inc(run->feed->stats->polls, o->label, "ok");
    const char *values[] = {o->label};
    ob_metric_observe(run->feed->stats->poll_time, values, (double)(s_now() - o->pass_start) / 1e3);
}

/* Publishes what is fetched, in order; moves to the next read or ends the pass. */
static void
s_drain(s_run_t *run, s_oms_t *o)
{
    while (o->state == S_FETCHING && o->published < o->step.count &&
           o->fetches[o->published].done) {
        if (s_publish(run, o, o->published))
            return;
        o->published++;
    }
    if (o->state != S_FETCHING || o->published < o->step.count) {
        s_pump(run, o);
        return;
    }
    free(o->fetches);
    o->fetches = NULL;
    ob_mkt_page_destroy(&o->page);
    if (o->step.more)
        s_read(run, o);
    else
        s_pass_done(run, o);
}

/* Takes the answer of o's feed read. */
static void
s_on_read(s_run_t *run, s_oms_t *o)
{
    s_req_t *req = &o->read;
    char what[OB_GW_ERROR_TEXT_MAX + 64];
    if (req->code != CURLE_OK || req->too_large || req->status != 200) {
        s_describe(req, what, sizeof what);
        {
            s_fail(run, o, s_kind(req), what);
            return;
        }
    }
    atomic_store(&run->feed->mp_ok[o->index], 1);
    int rc = ob_mkt_page_parse(req->body ? req->body : "", req->len, &o->page);
    if (!rc)
        rc = ob_poller_page(o->poller, o->page, &o->step, &o->next_read);
    s_req_clear(run, req);
    if (rc) {
        snprintf(what, sizeof what, "events page: %s", ob_strerror(rc));
        {
            s_fail(run, o, rc == OB_ERR_LIMIT ? "limit" : "mp_malformed", what);
            return;
        }
    }
    o->fetches = o->step.count ? calloc(o->step.count, sizeof *o->fetches) : NULL;
    if (o->step.count && !o->fetches) {
        s_fail(run, o, "mp_transport", "no memory");
        return;
    }
    o->issued = o->published = o->inflight = 0;
    o->state = S_FETCHING;
    s_drain(run, o);
}

/* Collects curl's finished transfers. Returns how many. */
static int
s_collect(s_run_t *run)
{
    int running = 0, done = 0, left = 0;
    curl_multi_perform(run->feed->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(run->feed->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        s_req_t *req = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
        req->code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &req->status);
        curl_multi_remove_handle(run->feed->multi, req->easy);
        curl_easy_cleanup(req->easy);
        req->easy = NULL;
        req->done = 1;
        done++;
        s_oms_t *o = req->oms;
        if (req->is_read)
            s_on_read(run, o);
        else {
            o->inflight--;
            s_drain(run, o);
        }
    }
    return done;
}

/* Takes every confirmation that has arrived. Returns how many. */
static int
s_confirms(s_run_t *run)
{
    ob_confirm_t confirm;
    int taken = 0;
    while (ob_client_confirm_next(run->client, 0, &confirm) == 0) {
        taken++;
        size_t i = run->pending_head;
        while (i < run->pending_len && run->pending[i].token != confirm.token)
            i++;
        if (i == run->pending_len)
            continue; /* not ours: cannot happen */
        s_pending_t p = run->pending[i];
        if (i == run->pending_head) /* the usual case: confirmations come in order */
            run->pending_head++;
        else {
            memmove(run->pending + i, run->pending + i + 1,
                    (run->pending_len - i - 1) * sizeof *run->pending);
            run->pending_len--;
        }
        s_oms_t *o = &run->oms[p.oms];
        if (confirm.rc) {
            char what[128];
            snprintf(what, sizeof what, "the broker refused an event: %s", ob_strerror(confirm.rc));
            if (o->state != S_IDLE)
                s_fail(run, o, "refused", what);
            else {
                ob_gw_stats_inc(run->feed->stats->errors, o->label, "refused");
                ob_poller_abort(o->poller);
                zsys_warning("oms %s: %s", o->label, what);
            }
            continue;
        }
        const char *values[] = {o->label};
        ob_metric_add(confirm.dup ? run->feed->stats->repeated : run->feed->stats->published,
                      values, 1);
        uint64_t project = 0;
        if (ob_poller_confirmed(o->poller, p.seq, &project))
            continue; /* abandoned by a failed pass: the next one re-publishes it */
        if (project && ob_gw_store_announce(run->feed->store, o->cfg->id, project)) {
            ob_gw_stats_inc(run->feed->stats->errors, o->label, "store");
            zsys_warning("oms %s: cannot record project %" PRIu64 " as announced", o->label,
                         project);
        }
        o->dirty = 1;
    }
    for (size_t i = 0; i < run->count; i++) {
        s_oms_t *o = &run->oms[i];
        if (!o->dirty)
            continue;
        o->dirty = 0;
        uint64_t cursor = ob_poller_commit(o->poller);
        if (cursor == o->committed)
            continue;
        if (ob_gw_store_set_cursor(run->feed->store, o->cfg->id, cursor)) {
            ob_gw_stats_inc(run->feed->stats->errors, o->label, "store");
            zsys_warning("oms %s: cannot store the cursor", o->label);
            continue;
        }
        o->committed = cursor;
    }
    /* In a session, and no publish waiting for longer than a broker call may take. */
    int slow = run->pending_head < run->pending_len &&
               s_now() - run->pending[run->pending_head].sent > S_BROKER_SLOW_MS;
    atomic_store(&run->feed->broker_ok, ob_client_connected(run->client) && !slow);
    return taken;
}

/* Starts a pass over o if one is due. */
static void
s_maybe_start(s_run_t *run, s_oms_t *o, int64_t now)
{
    if (run->stopping || o->state != S_IDLE || now < o->retry_at)
        return;
    if (!o->wake && now < o->next_poll)
        return;
    o->wake = 0;
    o->next_poll = now + (int64_t)o->cfg->poll_ms;
    o->pass_start = now;
    ob_poller_start(o->poller, &o->next_read);
    s_read(run, o);
}

/* The poller's known callback: the store's announced projects. */
static int
s_known(void *arg, uint64_t project_id)
{
    s_oms_t *o = arg;
    return ob_gw_store_announced(o->store, o->cfg->id, project_id);
}

/* Frees what run holds. */
static void
s_run_free(s_run_t *run)
{
    for (size_t i = 0; run->oms && i < run->count; i++) {
        s_oms_t *o = &run->oms[i];
        s_req_clear(run, &o->read);
        if (o->fetches)
            for (size_t f = 0; f < o->step.count; f++)
                s_req_clear(run, &o->fetches[f]);
        free(o->fetches);
        ob_mkt_page_destroy(&o->page);
        ob_poller_destroy(&o->poller);
        curl_slist_free_all(o->headers);
    }
    free(run->oms);
    free(run->pending);
    ob_client_destroy(&run->client);
}

/* Sets up run for feed: the client and every OMS. Returns 0 or -1 with feed->error. */
static int
s_run_init(s_run_t *run, ob_feed_t *feed)
{
    const ob_gw_config_t *cfg = feed->cfg;
    run->feed = feed;
    ob_client_config_t client_cfg = {.name = S_CLIENT_NAME,
                                     .timeout_ms = OB_GW_BROKER_TIMEOUT_MS,
                                     .cert = cfg->cert[0] ? cfg->cert : NULL,
                                     .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL};
    if (!(run->client = ob_client_new(cfg->endpoint, &client_cfg))) {
        snprintf(feed->error, sizeof feed->error,
                 "cannot make a client of broker %s (endpoint or certificates)", cfg->endpoint);
        return -1;
    }
    run->count = cfg->oms_count;
    if (run->count && !(run->oms = calloc(run->count, sizeof *run->oms))) {
        snprintf(feed->error, sizeof feed->error, "no memory");
        return -1;
    }
    int64_t now = s_now();
    for (size_t i = 0; i < run->count; i++) {
        s_oms_t *o = &run->oms[i];
        o->cfg = &cfg->oms[i];
        o->index = i;
        o->store = feed->store;
        o->next_poll = now;
        snprintf(o->label, sizeof o->label, "%" PRIu64, o->cfg->id);
        char header[S_HEADER_MAX];
        snprintf(header, sizeof header, "X-User-Token: %s", o->cfg->token);
        struct curl_slist *h = curl_slist_append(NULL, header);
        struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
        memset(header, 0, sizeof header);
        if (!h2) {
            curl_slist_free_all(h);
            snprintf(feed->error, sizeof feed->error, "no memory");
            return -1;
        }
        o->headers = h2;
        int rc = ob_gw_store_cursor(feed->store, o->cfg->id, &o->committed);
        if (rc) {
            snprintf(feed->error, sizeof feed->error, "oms %s: cannot read its cursor: %s",
                     o->label, ob_strerror(rc));
            return -1;
        }
        ob_poller_config_t pc = {.oms_id = o->cfg->id,
                                 .page_size = o->cfg->page_size,
                                 .overlap_s = (uint32_t)((o->cfg->overlap_ms + 999) / 1000),
                                 .cursor_s = o->committed,
                                 .known = s_known,
                                 .known_arg = o};
        if (!(o->poller = ob_poller_new(&pc))) {
            snprintf(feed->error, sizeof feed->error, "oms %s: cannot make its poller", o->label);
            return -1;
        }
    }
    return 0;
}

/* 1 while something of a pass or a publish is unfinished. */
static int
s_busy(const s_run_t *run)
{
    for (size_t i = 0; i < run->count; i++)
        if (run->oms[i].state != S_IDLE)
            return 1;
    return run->pending_head < run->pending_len;
}

/* The actor: see the top of the file. */
static void
s_actor(zsock_t *pipe, void *arg)
{
    ob_feed_t *feed = arg;
    s_run_t run;
    memset(&run, 0, sizeof run);
    if (s_run_init(&run, feed)) {
        s_run_free(&run);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    int64_t stop_deadline = 0;
    for (;;) {
        int64_t now = s_now();
        while (zsock_events(pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            if (!command || !strcmp(command, "$TERM")) {
                if (!run.stopping)
                    stop_deadline = now + OB_GW_STOP_MS;
                run.stopping = 1;
            }
            zstr_free(&command);
        }
        for (size_t i = 0; i < run.count; i++)
            if (atomic_exchange(&feed->wake[i], 0))
                run.oms[i].wake = 1;
        int work = s_collect(&run);
        work += s_confirms(&run);
        now = s_now();
        int64_t due = now + OB_GW_CONFIRM_WAIT_MS;
        for (size_t i = 0; i < run.count; i++) {
            s_oms_t *o = &run.oms[i];
            s_maybe_start(&run, o, now);
            if (o->state == S_IDLE && !run.stopping) {
                int64_t at = o->wake ? o->retry_at : o->next_poll;
                if (at < o->retry_at)
                    at = o->retry_at;
                if (at < due)
                    due = at;
            }
        }
        work += s_confirms(&run);
        if (run.stopping && (!s_busy(&run) || now >= stop_deadline))
            break;
        int timeout = work ? 0 : (int)(due > now ? due - now : 0);
        if (run.pending_head < run.pending_len && timeout > S_BUSY_WAIT_MS)
            timeout = S_BUSY_WAIT_MS;
        struct curl_waitfd extra[2];
        size_t fd_len = sizeof(int);
        int pipe_fd = -1;
        zmq_getsockopt(zsock_resolve(pipe), ZMQ_FD, &pipe_fd, &fd_len);
        extra[0] = (struct curl_waitfd){.fd = pipe_fd, .events = CURL_WAIT_POLLIN};
        extra[1] = (struct curl_waitfd){.fd = ob_client_fd(run.client), .events = CURL_WAIT_POLLIN};
        curl_multi_poll(feed->multi, extra, 2, timeout, NULL);
    }
    if (s_busy(&run))
        zsys_warning("stopping with a pass or %zu publishes unfinished: the next start redoes "
                     "them",
                     run.pending_len - run.pending_head);
    s_run_free(&run);
}

ob_feed_t *
ob_feed_new(const ob_gw_config_t *cfg, ob_gw_store_t *store, ob_gw_stats_t *stats, char *errbuf,
            size_t errlen)
{
    ob_feed_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->store = store;
    self->stats = stats;
    if (!(self->multi = curl_multi_init())) {
        snprintf(errbuf, errlen, "cannot make a curl multi handle");
        goto fail;
    }
    /* zactor_new waits for the actor's signal; a failed start signals 1 and ends. */
    self->actor = zactor_new(s_actor, self);
    if (!self->actor) {
        snprintf(errbuf, errlen, "cannot start the feed thread");
        goto fail;
    }
    if (self->error[0]) {
        snprintf(errbuf, errlen, "%s", self->error);
        goto fail;
    }
    return self;
fail:
    ob_feed_destroy(&self);
    return NULL;
}

void
ob_feed_destroy(ob_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_feed_t *self = *self_p;
    if (self->actor && self->multi)
        curl_multi_wakeup(self->multi); /* the $TERM below is seen at once either way */
    zactor_destroy(&self->actor);
    if (self->multi)
        curl_multi_cleanup(self->multi);
    free(self);
    *self_p = NULL;
}

void
ob_feed_wake(ob_feed_t *self, size_t oms_index)
{
    if (oms_index >= self->cfg->oms_count)
        return;
    atomic_store(&self->wake[oms_index], 1);
    curl_multi_wakeup(self->multi);
}

int
ob_feed_mp_ok(ob_feed_t *self, size_t oms_index)
{
    return oms_index < OB_GW_OMS_MAX && atomic_load(&self->mp_ok[oms_index]);
}

int
ob_feed_broker_ok(ob_feed_t *self)
{
    return atomic_load(&self->broker_ok);
}
