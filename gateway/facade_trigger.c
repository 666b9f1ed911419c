/*  ob_ftrigger: see facade_trigger.h.

    The actor's loop, each turn: take $TERM from the pipe; take the marks ob_ftrigger_notify
    set (an atomic flag per OMS); collect finished calls; start the calls that are due; then
    wait in curl_multi_poll on curl's sockets and the pipe (a ZMQ_FD, edge-triggered: the
    turn above read it until empty) until the next due time, at most OB_GW_FT_TICK_MS.
    ob_ftrigger_notify, from the view's thread, sets its flag and calls curl_multi_wakeup
    (thread-safe, never blocks: a byte into curl's own socketpair), which ends that wait or
    the next one at once. */
#include "facade_trigger.h"

#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "orderbus/orderbus.h"

#define S_AUTH "Authorization: Basic "
#define S_USER_AGENT "orderbus-gateway/" OB_VERSION_STRING
#define S_ID_TEXT 24 /* a u64 in decimal with its NUL */
#define S_OK_MIN 200 /* a call succeeded: 2xx (no redirect is followed) */
#define S_OK_END 300

/* ---------------------------------------------------------------------------------------- */
/* The pure state */

void
ob_ft_state_events(ob_ft_state_t *self)
{
    self->pending = 1;
}

int
ob_ft_state_start(ob_ft_state_t *self, int64_t now)
{
    if (!self->pending || self->in_flight || now < self->retry_at)
        return 0;
    self->pending = 0;
    self->in_flight = 1;
    return 1;
}

void
ob_ft_state_done(ob_ft_state_t *self, int ok, int64_t now)
{
    self->in_flight = 0;
    if (ok) {
        self->backoff_ms = 0;
        self->retry_at = 0;
        return;
    }
    self->pending = 1; /* the OMS still has to hear of those events */
    self->backoff_ms = self->backoff_ms ? self->backoff_ms * 2 : OB_GW_BACKOFF_MS_MIN;
    if (self->backoff_ms > OB_GW_BACKOFF_MS_MAX)
        self->backoff_ms = OB_GW_BACKOFF_MS_MAX;
    self->retry_at = now + self->backoff_ms;
}

int64_t
ob_ft_state_due(const ob_ft_state_t *self)
{
    return self->pending && !self->in_flight ? self->retry_at : INT64_MAX;
}

char *
ob_ft_auth_header(const char *user, const char *password)
{
    size_t ulen = strlen(user), plen = strlen(password);
    char *pair = malloc(ulen + 1 + plen);
    if (!pair)
        return NULL;
    memcpy(pair, user, ulen);
    pair[ulen] = ':';
    memcpy(pair + ulen + 1, password, plen);
    char *encoded = ob_base64url_encode(pair, ulen + 1 + plen);
    sodium_memzero(pair, ulen + 1 + plen);
    free(pair);
    if (!encoded)
        return NULL;
    size_t elen = strlen(encoded);
    /* ob_base64url_encode leaves out the padding; the Marketplace's urlsafe_encode64 pads */
    size_t pad = (4 - elen % 4) % 4;
    char *header = malloc(strlen(S_AUTH) + elen + pad + 1);
    if (header) {
        memcpy(header, S_AUTH, strlen(S_AUTH));
        memcpy(header + strlen(S_AUTH), encoded, elen);
        memset(header + strlen(S_AUTH) + elen, '=', pad);
        header[strlen(S_AUTH) + elen + pad] = '\0';
    }
    sodium_memzero(encoded, elen);
    free(encoded);
    return header;
}

/* ---------------------------------------------------------------------------------------- */
/* The actor */

/* One OMS with a trigger. */
typedef struct s_oms {
    const ob_gw_oms_t *cfg;     /* borrowed */
    char label[S_ID_TEXT];      /* its id, for metrics and logs */
    struct curl_slist *headers; /* Authorization (if any), User-Agent */
    CURL *easy;                 /* the call in flight, or NULL */
    ob_ft_state_t state;        /* coalescing, backoff */
} s_oms_t;

struct ob_ftrigger {
    zactor_t *actor;             /* the loop, or NULL when no OMS has a trigger */
    CURLM *multi;                /* the calls; curl_multi_wakeup from any thread wakes the loop */
    const ob_gw_config_t *cfg;   /* borrowed */
    ob_gw_stats_t *stats;        /* borrowed */
    size_t count;                /* OMSes with a trigger */
    uint64_t ids[OB_GW_OMS_MAX]; /* their ids, in cfg's order (the actor's too) */
    atomic_int marks[OB_GW_OMS_MAX];                  /* 1: notified, not yet taken by the actor */
    char error[OB_GW_CONFIG_ERR_MAX + OB_GW_URL_MAX]; /* the actor's start failure */
};

/* The actor's own state. */
typedef struct s_run {
    ob_ftrigger_t *self; /* shared part */
    CURLM *multi;        /* the calls (self's) */
    s_oms_t *oms;        /* self->count of them, in self->ids' order */
} s_run_t;

/* curl's write callback: the answer is dropped. */
static size_t
s_drop(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

/* Starts o's call. Returns 0, or -1 (curl could not: counted as a failed call). */
static int
s_call(s_run_t *run, s_oms_t *o)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return -1;
    const char *method = o->cfg->ft_method;
    curl_easy_setopt(easy, CURLOPT_URL, o->cfg->ft_url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)OB_GW_FT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_drop);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, o);
    if (strcmp(method, "GET")) { /* POST or PUT, no body */
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, 0L);
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    }
    if (curl_multi_add_handle(run->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        return -1;
    }
    o->easy = easy;
    return 0;
}

/* Collects the finished calls. */
static void
s_collect(s_run_t *run)
{
    int running = 0, left = 0;
    curl_multi_perform(run->multi, &running);
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(run->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        s_oms_t *o = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&o);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        CURLcode code = msg->data.result;
        int ok = code == CURLE_OK && status >= S_OK_MIN && status < S_OK_END;
        curl_multi_remove_handle(run->multi, easy);
        curl_easy_cleanup(easy);
        o->easy = NULL;
        ob_ft_state_done(&o->state, ok, zclock_mono());
        ob_gw_stats_inc(run->self->stats->ft_calls, o->label, ok ? "ok" : "failed");
        if (!ok)
            zsys_warning("oms %s: facade trigger call failed (%s, HTTP %ld): again in %" PRId64
                         " ms",
                         o->label, curl_easy_strerror(code), status, o->state.backoff_ms);
    }
}

/* Takes the marks of ob_ftrigger_notify: each is new events for its OMS. */
static void
s_take_marks(s_run_t *run)
{
    for (size_t i = 0; i < run->self->count; i++)
        if (atomic_exchange(&run->self->marks[i], 0))
            ob_ft_state_events(&run->oms[i].state);
}

static void
s_run_free(s_run_t *run)
{
    for (size_t i = 0; run->oms && i < run->self->count; i++) {
        s_oms_t *o = &run->oms[i];
        if (o->easy) {
            curl_multi_remove_handle(run->multi, o->easy);
            curl_easy_cleanup(o->easy);
        }
        curl_slist_free_all(o->headers);
    }
    free(run->oms);
}

/* Builds o's headers. Returns 0 or -ENOMEM. */
static int
s_headers(s_oms_t *o)
{
    struct curl_slist *list = curl_slist_append(NULL, "User-Agent: " S_USER_AGENT);
    if (list && o->cfg->ft_user[0]) {
        char *auth = ob_ft_auth_header(o->cfg->ft_user, o->cfg->ft_password);
        struct curl_slist *more = auth ? curl_slist_append(list, auth) : NULL;
        if (auth) {
            sodium_memzero(auth, strlen(auth));
            free(auth);
        }
        if (!more) {
            curl_slist_free_all(list);
            return -ENOMEM;
        }
        list = more;
    }
    o->headers = list;
    return list ? 0 : -ENOMEM;
}

static int
s_run_init(s_run_t *run, ob_ftrigger_t *self)
{
    const ob_gw_config_t *cfg = self->cfg;
    run->self = self;
    run->multi = self->multi;
    if (!(run->oms = calloc(self->count, sizeof *run->oms))) {
        snprintf(self->error, sizeof self->error, "facade triggers: no memory");
        return -1;
    }
    for (size_t i = 0, n = 0; i < cfg->oms_count; i++) {
        if (!cfg->oms[i].ft_url[0])
            continue;
        s_oms_t *o = &run->oms[n++]; /* in self->ids' order */
        o->cfg = &cfg->oms[i];
        snprintf(o->label, sizeof o->label, "%" PRIu64, o->cfg->id);
        if (s_headers(o)) {
            snprintf(self->error, sizeof self->error, "facade triggers: no memory");
            return -1;
        }
    }
    return 0;
}

static void
s_actor(zsock_t *pipe, void *arg)
{
    ob_ftrigger_t *self = arg;
    s_run_t run;
    memset(&run, 0, sizeof run);
    if (s_run_init(&run, self)) {
        s_run_free(&run);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    for (;;) {
        int stop = 0;
        while (zsock_events(pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv(pipe);
            stop |= !command || !strcmp(command, "$TERM");
            zstr_free(&command);
        }
        if (stop)
            break;
        s_take_marks(&run);
        s_collect(&run);
        int64_t now = zclock_mono();
        int64_t due = now + OB_GW_FT_TICK_MS;
        for (size_t i = 0; i < self->count; i++) {
            s_oms_t *o = &run.oms[i];
            if (ob_ft_state_start(&o->state, now) && s_call(&run, o)) {
                ob_ft_state_done(&o->state, 0, now);
                ob_gw_stats_inc(self->stats->ft_calls, o->label, "failed");
            }
            int64_t at = ob_ft_state_due(&o->state);
            due = at < due ? at : due;
        }
        int started = 0;
        curl_multi_perform(run.multi, &started);
        /* The pipe's ZMQ_FD is edge-triggered: the turn above read it dry. A notify after
           s_take_marks has called curl_multi_wakeup, which ends this wait at once. */
        size_t fd_len = sizeof(int);
        int pipe_fd = -1;
        zmq_getsockopt(zsock_resolve(pipe), ZMQ_FD, &pipe_fd, &fd_len);
        struct curl_waitfd extra = {.fd = pipe_fd, .events = CURL_WAIT_POLLIN};
        now = zclock_mono();
        int timeout = due > now ? (int)(due - now) : 0;
        curl_multi_poll(run.multi, &extra, 1, timeout, NULL);
    }
    s_run_free(&run);
}

ob_ftrigger_t *
ob_ftrigger_new(const ob_gw_config_t *cfg, ob_gw_stats_t *stats, char *errbuf, size_t errlen)
{
    ob_ftrigger_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->stats = stats;
    for (size_t i = 0; i < cfg->oms_count && self->count < OB_GW_OMS_MAX; i++)
        if (cfg->oms[i].ft_url[0])
            self->ids[self->count++] = cfg->oms[i].id;
    for (size_t i = 0; i < self->count; i++)
        atomic_init(&self->marks[i], 0);
    if (!self->count)
        return self; /* idle */
    if (!(self->multi = curl_multi_init())) {
        snprintf(errbuf, errlen, "facade triggers: cannot make a curl multi handle");
        goto fail;
    }
    /* zactor_new waits for the actor's signal; a failed start signals 1 and ends. */
    self->actor = zactor_new(s_actor, self);
    if (!self->actor || self->error[0]) {
        snprintf(errbuf, errlen, "%s", self->error[0] ? self->error : "facade triggers: no actor");
        goto fail;
    }
    return self;
fail:
    ob_ftrigger_destroy(&self);
    return NULL;
}

void
ob_ftrigger_notify(ob_ftrigger_t *self, uint64_t oms_id)
{
    if (!self || !self->actor)
        return;
    for (size_t i = 0; i < self->count; i++)
        if (self->ids[i] == oms_id) {
            atomic_store(&self->marks[i], 1);
            curl_multi_wakeup(self->multi);
            return;
        }
}

void
ob_ftrigger_destroy(ob_ftrigger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_ftrigger_t *self = *self_p;
    if (self->actor)
        curl_multi_wakeup(self->multi); /* the $TERM below is seen at once either way */
    zactor_destroy(&self->actor);
    if (self->multi)
        curl_multi_cleanup(self->multi);
    free(self);
    *self_p = NULL;
}
