/*  ob_jira_engine: see jira_engine.h.

    One thread runs everything: the actor's pipe, the broker client and libcurl's multi
    handle, all waited on by curl_multi_poll (the pipe's and the client's ZMQ_FD as extra
    descriptors). The handlers of an event are written as straight-line code: a Jira request
    (s_call) runs the loop itself until its answer comes, taking deliveries into the queue and
    watching the pipe meanwhile, so that the broker's heartbeats and $TERM are never kept
    waiting by Jira. */
#include "jira_engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jira_build.h"
#include "jira_json.h"
#include "jira_map.h"
#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"

#define S_CLIENT_NAME "orderbus-jira"
#define S_API "/rest/api/2/"         /* Jira REST v2, after the base URL */
#define S_RETRY_AFTER "retry-after:" /* the answer header we read (case-insensitive) */
#define S_RETRY_AFTER_MAX 16         /* bytes of a Retry-After value we read */
#define S_MS_PER_S 1000              /* milliseconds in a second */
#define S_US_PER_MS 1000             /* microseconds in a millisecond */
#define S_WHY_MAX 300                /* bytes of a refusal's text we log */
#define S_PATH_MAX 512               /* bytes of a request path we build */
#define S_KEY_TEXT 64                /* bytes of an issue key or comment id we keep */
#define S_SHIFT_MAX 30               /* the backoff's doubling stops here */
#define S_EPIC_PREFIX "Project "     /* an epic's summary: prefix, then the owner's name */
#define S_NO_SNAPSHOT "{}"           /* what builds a bare epic or issue when none exists */

/* What came of one step of an event. */
typedef enum s_outcome {
    S_APPLIED, /* done in Jira (or found done) */
    S_SKIPPED, /* nothing to do (not mapped, not configured, not ours) */
    S_LOST,    /* Jira refused it for good: logged, acked */
    S_AGAIN,   /* try the event again later */
    S_STOPPED, /* $TERM: leave the event unacked */
} s_outcome_t;

static const char *const s_outcome_names[] = {"applied", "skipped", "lost", "again", "stopped"};

/* One answer of Jira. */
typedef struct s_reply {
    long status;                             /* HTTP status, 0 if none */
    char *body;                              /* the answer, NUL-terminated; owned */
    size_t len;                              /* its bytes */
    char retry_after[S_RETRY_AFTER_MAX + 1]; /* its Retry-After, "" if none */
    int curl_code;                           /* CURLE_OK or the transfer's error */
} s_reply_t;

typedef struct s_engine {
    ob_jira_engine_config_t ec;    /* borrowed settings */
    const ob_jira_config_t *cfg;   /* ec.cfg */
    char sub[OB_SUB_NAME_MAX + 1]; /* jira-<oms_id> */
    char topic[OB_TOPIC_MAX + 1];  /* oms.<oms_id> */
    zsock_t *pipe;                 /* the actor's pipe */
    ob_client_t *client;           /* the broker */
    CURLM *multi;                  /* the Jira requests */
    ob_jira_map_t *map;            /* the id map (ec.map) */
    zlistx_t *queue;               /* ob_delivery_t *, in seq order */
    int subscribed;                /* the subscription is attached */
    int64_t subscribe_at_ms;       /* when to try subscribing again */
    uint64_t retry_ms;             /* the last retryable answer's Retry-After, 0 if none */
    int stopping;                  /* $TERM seen */
} s_engine_t;

/* The event being applied, decoded. */
typedef struct s_work {
    ob_event_t *event;    /* owned */
    const char *snapshot; /* its data (borrowed from event), S_NO_SNAPSHOT when it has none */
    size_t len;           /* bytes at snapshot */
} s_work_t;

static int64_t
s_now_ms(void)
{
    return zclock_mono();
}

static void
s_count(ob_metric_t *metric, const char *label)
{
    if (metric)
        ob_metric_add(metric, label ? (const char *const[]){label} : NULL, 1);
}

/* --- the loop ------------------------------------------------------------------------------- */

/* zlistx comparator of queued deliveries: by seq. */
static int
s_seq_compare(const void *a, const void *b)
{
    uint64_t x = ((const ob_delivery_t *)a)->seq, y = ((const ob_delivery_t *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Queues d (taken) in seq order; a redelivery of a queued seq replaces it (the newest is
   the one to ack). */
static void
s_queue(s_engine_t *self, ob_delivery_t *d)
{
    for (ob_delivery_t *q = zlistx_last(self->queue); q && q->seq >= d->seq;
         q = zlistx_prev(self->queue))
        if (q->seq == d->seq) {
            zlistx_delete(self->queue, zlistx_cursor(self->queue));
            ob_delivery_destroy(&q);
            break;
        }
    if (!zlistx_insert(self->queue, d, false)) {
        zsys_error("jira %s: out of memory for seq %" PRIu64 " (it comes again)", self->sub,
                   d->seq);
        ob_delivery_destroy(&d);
    }
}

static void
s_on_pipe(s_engine_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    if (!msg || (command && !strcmp(command, "$TERM")))
        self->stopping = 1;
    else if (command && !strcmp(command, "STATUS"))
        zstr_send(self->pipe, self->subscribed ? "ready" : "connecting");
    else
        zsys_warning("jira %s: unknown command on its pipe", self->sub);
    free(command);
    zmsg_destroy(&msg);
}

/* Takes every delivery the client holds. */
static void
s_client_drain(s_engine_t *self)
{
    ob_delivery_t *d = NULL;
    int rc;
    while ((rc = ob_client_receive(self->client, 0, &d)) != OB_ERR_TIMEOUT) {
        if (rc == 0)
            s_queue(self, d);
        else if (rc == -EINTR || rc == OB_ERR_CLOSED)
            break;
        else {
            zsys_warning("jira %s: subscription lost: %s", self->sub, ob_strerror(rc));
            self->subscribed = 0;
            self->subscribe_at_ms = s_now_ms();
        }
    }
}

/* Subscribes when it is time to. */
static void
s_subscribe(s_engine_t *self)
{
    if (self->subscribed || self->stopping || s_now_ms() < self->subscribe_at_ms)
        return;
    static const char *const types[] = {
        "project.created", "project_item.created", "project_item.status_changed",
        "message.posted",  "message.edited",       "command.completed",
        "command.failed",
    };
    const char *patterns[] = {self->topic};
    ob_sub_options_t opts = {.patterns = patterns,
                             .pattern_count = 1,
                             .types = types,
                             .type_count = sizeof types / sizeof types[0],
                             .start = OB_START_EARLIEST,
                             .credit = OB_JIRA_CREDIT,
                             .ack_wait_ms = OB_JIRA_ACK_WAIT_MS,
                             .max_attempts = OB_ATTEMPTS_UNLIMITED};
    int rc = ob_client_connect(self->client, OB_JIRA_BROKER_MS);
    if (rc == 0)
        rc = ob_client_subscribe(self->client, self->sub, &opts, NULL, NULL);
    if (rc) {
        const char *reason = ob_client_last_reason(self->client);
        zsys_warning("jira %s: cannot subscribe: %s%s%s", self->sub, ob_strerror(rc),
                     reason[0] ? ": " : "", reason);
        self->subscribe_at_ms = s_now_ms() + OB_JIRA_SUBSCRIBE_RETRY_MS;
        return;
    }
    self->subscribed = 1;
    zsys_info("jira %s: subscribed to %s, keeping project %s of %s", self->sub, self->topic,
              self->cfg->project, self->cfg->url);
}

/* One turn: waits up to wait_ms for the broker, the pipe or a Jira transfer, then takes
   what came. */
static void
s_turn(s_engine_t *self, int64_t wait_ms)
{
    struct curl_waitfd fds[2] = {
        {.fd = ob_client_fd(self->client), .events = CURL_WAIT_POLLIN},
        {.fd = zsock_fd(self->pipe), .events = CURL_WAIT_POLLIN},
    };
    int wait = wait_ms < 0 ? 0 : wait_ms > OB_JIRA_POLL_MS ? OB_JIRA_POLL_MS : (int)wait_ms;
    curl_multi_poll(self->multi, fds, 2, wait, NULL);
    while (!self->stopping && (zsock_events(self->pipe) & ZMQ_POLLIN))
        s_on_pipe(self);
    s_subscribe(self);
    s_client_drain(self);
}

/* Runs the loop for ms, or until $TERM. Returns 0, or -1 once stopping. */
static int
s_sleep(s_engine_t *self, uint64_t ms)
{
    int64_t until = s_now_ms() + (int64_t)ms;
    while (!self->stopping && s_now_ms() < until)
        s_turn(self, until - s_now_ms());
    return self->stopping ? -1 : 0;
}

/* --- Jira requests -------------------------------------------------------------------------- */

static size_t
s_on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_reply_t *reply = arg;
    size_t n = size * nmemb;
    if (reply->len + n > OB_JIRA_ANSWER_MAX)
        return 0; /* too large: the transfer fails (CURLE_WRITE_ERROR) */
    char *grown = realloc(reply->body, reply->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + reply->len, data, n);
    reply->body = grown;
    reply->len += n;
    reply->body[reply->len] = '\0';
    return n;
}

static size_t
s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    s_reply_t *reply = arg;
    size_t n = size * nmemb;
    size_t name = sizeof S_RETRY_AFTER - 1;
    if (n > name && !strncasecmp(data, S_RETRY_AFTER, name)) {
        size_t start = name, len = n;
        while (start < len && data[start] == ' ')
            start++;
        while (len > start && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            len--;
        if (len - start <= S_RETRY_AFTER_MAX) {
            memcpy(reply->retry_after, data + start, len - start);
            reply->retry_after[len - start] = '\0';
        }
    }
    return n;
}

static void
s_reply_free(s_reply_t *reply)
{
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

/* The verdict on a reply: S_APPLIED (2xx), S_AGAIN (retryable), S_LOST. */
static s_outcome_t
s_verdict(s_engine_t *self, const s_reply_t *reply)
{
    long st = reply->status;
    if (reply->curl_code == CURLE_OK && st >= 200 && st < 300)
        return S_APPLIED;
    if (reply->curl_code != CURLE_OK || st == 0 || st == 408 || st == 429 || st >= 500) {
        uint64_t after = 0;
        const char *ra = reply->retry_after;
        if (ra[0] && strspn(ra, "0123456789") == strlen(ra) && strlen(ra) < 10)
            after = strtoull(ra, NULL, 10) * S_MS_PER_S;
        self->retry_ms = after;
        return S_AGAIN;
    }
    return S_LOST;
}

/* Sends method path (under /rest/api/2/) with body (may be NULL) to Jira and runs the loop
   until the answer. Returns S_APPLIED (2xx, *reply filled: the caller frees it), S_AGAIN,
   S_LOST (logged with what) or S_STOPPED. */
static s_outcome_t
s_call(s_engine_t *self, const char *method, const char *path, const char *body, const char *what,
       s_reply_t *reply)
{
    const ob_jira_config_t *cfg = self->cfg;
    const ob_jira_metrics_t *m = self->ec.metrics;
    char url[OB_JIRA_URL_MAX + S_PATH_MAX];
    char auth[sizeof self->ec.secrets->auth + 32];
    memset(reply, 0, sizeof *reply);
    snprintf(url, sizeof url, "%s" S_API "%s", cfg->url, path);
    snprintf(auth, sizeof auth, "Authorization: %s", self->ec.secrets->auth);
    struct curl_slist *headers = NULL, *l = NULL;
    const char *lines[] = {auth, "Content-Type: application/json", "Accept: application/json",
                           "Expect:", "X-Atlassian-Token: no-check"};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!(l = curl_slist_append(headers, lines[i])))
            break;
        headers = l;
    }
    sodium_memzero(auth, sizeof auth);
    CURL *easy = l ? curl_easy_init() : NULL;
    if (!easy) {
        curl_slist_free_all(headers);
        return S_AGAIN;
    }
    long timeout = (long)cfg->timeout_ms;
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < OB_JIRA_CONNECT_MS_MAX ? timeout : (long)OB_JIRA_CONNECT_MS_MAX);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST") && strcmp(path, "search")) {
        /* A create goes on a new connection: on a reused one whose answer is lost, libcurl
           sends the request again by itself, and Jira would make a second issue or comment
           before the adapter could look for the first. */
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, reply);
    int done = 0;
    reply->curl_code = CURLE_OK;
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK)
        reply->curl_code = CURLE_OUT_OF_MEMORY, done = 1;
    while (!done && !self->stopping) {
        int still = 0, left = 0;
        curl_multi_perform(self->multi, &still);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(self->multi, &left)))
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy) {
                reply->curl_code = msg->data.result;
                done = 1;
            }
        if (!done)
            s_turn(self, OB_JIRA_POLL_MS);
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &reply->status);
    curl_multi_remove_handle(self->multi, easy);
    curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
    if (!done) {
        s_reply_free(reply);
        return S_STOPPED;
    }
    char cls[8] = "none";
    if (reply->curl_code == CURLE_OK && reply->status >= 100 && reply->status < 600)
        snprintf(cls, sizeof cls, "%cxx", (char)('0' + reply->status / 100)); /* 1..5 */
    s_count(m ? m->requests : NULL, cls);
    s_outcome_t v = s_verdict(self, reply);
    if (v == S_APPLIED)
        return v;
    char why[S_WHY_MAX];
    if (reply->curl_code != CURLE_OK)
        snprintf(why, sizeof why, "%s", curl_easy_strerror((CURLcode)reply->curl_code));
    else
        snprintf(why, sizeof why, "HTTP %ld %.200s", reply->status, reply->body ? reply->body : "");
    for (char *p = why; *p; p++)
        if ((unsigned char)*p < ' ')
            *p = ' ';
    if (v == S_LOST)
        zsys_error("jira %s: %s %s refused for good (%s): %s", self->sub, method, path, what, why);
    else
        zsys_warning("jira %s: %s %s (%s): %s; tried again", self->sub, method, path, what, why);
    s_reply_free(reply);
    return v;
}

/* Parses a 2xx reply's body (freed) as a JSON object; NULL if it is not one. */
static json_t *
s_reply_json(s_reply_t *reply)
{
    json_t *root = NULL;
    if (ob_jira_json_load(reply->body, reply->len, OB_JIRA_ANSWER_MAX, &root))
        root = NULL;
    s_reply_free(reply);
    return root;
}

/* --- issues --------------------------------------------------------------------------------- */

/* Looks for the issue labelled label. S_APPLIED with its key (and its summary into summary,
   if given), S_SKIPPED if there is none, or S_AGAIN, S_LOST, S_STOPPED. */
static s_outcome_t
s_find_issue(s_engine_t *self, const char *label, char key[S_KEY_TEXT],
             char summary[OB_JIRA_MAP_VALUE_MAX])
{
    char *body = NULL;
    s_reply_t reply;
    if (ob_jira_build_search(self->cfg, label, &body))
        return S_AGAIN;
    s_outcome_t o = s_call(self, "POST", "search", body, label, &reply);
    free(body);
    if (o != S_APPLIED)
        return o;
    json_t *root = s_reply_json(&reply);
    json_t *issue = json_array_get(json_object_get(root, "issues"), 0);
    const char *found = ob_jira_json_str(issue, "key");
    const char *text = ob_jira_json_str(json_object_get(issue, "fields"), "summary");
    o = S_SKIPPED;
    if (found && strlen(found) < S_KEY_TEXT) {
        snprintf(key, S_KEY_TEXT, "%s", found);
        if (summary)
            snprintf(summary, OB_JIRA_MAP_VALUE_MAX, "%s", text ? text : "");
        o = S_APPLIED;
    }
    json_decref(root);
    return o;
}

/* POSTs an issue body (taken) and reads the new key. */
static s_outcome_t
s_create_issue(s_engine_t *self, char *body, const char *label, char key[S_KEY_TEXT])
{
    s_reply_t reply;
    s_outcome_t o = s_call(self, "POST", "issue", body, label, &reply);
    free(body);
    if (o != S_APPLIED)
        return o;
    json_t *root = s_reply_json(&reply);
    const char *made = ob_jira_json_str(root, "key");
    o = S_LOST;
    if (made && strlen(made) < S_KEY_TEXT) {
        snprintf(key, S_KEY_TEXT, "%s", made);
        o = S_APPLIED;
    } else
        zsys_error("jira %s: Jira created %s but answered no key", self->sub, label);
    json_decref(root);
    return o;
}

/* Records key -> value; a map that cannot be written is retried (the search finds what
   Jira holds meanwhile). */
static s_outcome_t
s_record(s_engine_t *self, const char *key, const char *value)
{
    int rc = ob_jira_map_put(self->map, key, value);
    if (rc) {
        zsys_error("jira %s: the id map cannot record %s: %s", self->sub, key, ob_strerror(rc));
        return S_AGAIN;
    }
    return S_APPLIED;
}

/* The epic of project_id: from the map, from Jira, or made from snapshot (NULL: a bare one).
   S_APPLIED with its key and the owner's name. */
static s_outcome_t
s_epic(s_engine_t *self, uint64_t project_id, const char *snapshot, size_t len,
       char key[S_KEY_TEXT], char owner[OB_JIRA_MAP_VALUE_MAX])
{
    char map_key[OB_JIRA_MAP_KEY_MAX];
    char value[OB_JIRA_MAP_VALUE_MAX];
    char label[OB_JIRA_LABEL_MAX];
    snprintf(map_key, sizeof map_key, "p/%" PRIu64, project_id);
    if (ob_jira_map_get(self->map, map_key, value) == 0) {
        char *nl = strchr(value, '\n');
        if (nl && (size_t)(nl - value) < S_KEY_TEXT) {
            *nl = '\0';
            memcpy(key, value, (size_t)(nl - value) + 1); /* checked shorter above */
            snprintf(owner, OB_JIRA_MAP_VALUE_MAX, "%s", nl + 1);
            return S_APPLIED;
        }
    }
    ob_jira_label(self->cfg->oms_id, project_id, 0, label);
    char summary[OB_JIRA_MAP_VALUE_MAX];
    s_outcome_t o = s_find_issue(self, label, key, summary);
    if (o == S_APPLIED) {
        size_t plen = strlen(S_EPIC_PREFIX);
        snprintf(owner, OB_JIRA_MAP_VALUE_MAX, "%s",
                 strncmp(summary, S_EPIC_PREFIX, plen) ? "" : summary + plen);
    } else if (o == S_SKIPPED) {
        char *body = NULL;
        char *name = NULL;
        if (!snapshot)
            snapshot = S_NO_SNAPSHOT, len = strlen(S_NO_SNAPSHOT);
        int rc = ob_jira_build_epic(self->cfg, project_id, snapshot, len, &body);
        if (rc == 0)
            rc = ob_jira_owner_name(snapshot, len, &name);
        if (rc) {
            free(body);
            zsys_error("jira %s: no epic can be made of project %" PRIu64 "'s snapshot: %s",
                       self->sub, project_id, ob_strerror(rc));
            return rc == -ENOMEM ? S_AGAIN : S_LOST;
        }
        ob_jira_json_line(name, owner, OB_JIRA_MAP_VALUE_MAX - S_KEY_TEXT);
        free(name);
        if ((o = s_create_issue(self, body, label, key)) == S_APPLIED)
            zsys_info("jira %s: project %" PRIu64 " is epic %s", self->sub, project_id, key);
    }
    if (o != S_APPLIED)
        return o;
    snprintf(value, sizeof value, "%s\n%s", key, owner);
    return s_record(self, map_key, value);
}

/* The issue of item_id: from the map, from Jira, or made from snapshot (NULL: a bare one)
   under its epic (made if missing). */
static s_outcome_t
s_item(s_engine_t *self, uint64_t project_id, uint64_t item_id, const char *snapshot, size_t len,
       char key[S_KEY_TEXT])
{
    char map_key[OB_JIRA_MAP_KEY_MAX];
    char value[OB_JIRA_MAP_VALUE_MAX];
    char label[OB_JIRA_LABEL_MAX];
    snprintf(map_key, sizeof map_key, "i/%" PRIu64 "/%" PRIu64, project_id, item_id);
    if (ob_jira_map_get(self->map, map_key, value) == 0 && value[0] && strlen(value) < S_KEY_TEXT) {
        memcpy(key, value, strlen(value) + 1); /* checked shorter above */
        return S_APPLIED;
    }
    ob_jira_label(self->cfg->oms_id, project_id, item_id, label);
    s_outcome_t o = s_find_issue(self, label, key, NULL);
    if (o == S_SKIPPED) {
        char epic[S_KEY_TEXT];
        char owner[OB_JIRA_MAP_VALUE_MAX];
        if ((o = s_epic(self, project_id, NULL, 0, epic, owner)) != S_APPLIED)
            return o;
        char *body = NULL;
        if (!snapshot)
            snapshot = S_NO_SNAPSHOT, len = strlen(S_NO_SNAPSHOT);
        int rc =
            ob_jira_build_item(self->cfg, project_id, item_id, epic, owner, snapshot, len, &body);
        if (rc) {
            zsys_error("jira %s: no issue can be made of item %" PRIu64 "/%" PRIu64
                       "'s snapshot: %s",
                       self->sub, project_id, item_id, ob_strerror(rc));
            return rc == -ENOMEM ? S_AGAIN : S_LOST;
        }
        if ((o = s_create_issue(self, body, label, key)) == S_APPLIED)
            zsys_info("jira %s: item %" PRIu64 "/%" PRIu64 " is issue %s (epic %s)", self->sub,
                      project_id, item_id, key, epic);
    }
    if (o != S_APPLIED)
        return o;
    return s_record(self, map_key, key);
}

/* The issue an event is about: its item's, or its project's epic. */
static s_outcome_t
s_issue_of(s_engine_t *self, const ob_event_t *ev, char key[S_KEY_TEXT])
{
    char owner[OB_JIRA_MAP_VALUE_MAX];
    if (ev->project_item_id)
        return s_item(self, ev->project_id, ev->project_item_id, NULL, 0, key);
    return s_epic(self, ev->project_id, NULL, 0, key, owner);
}

/* --- comments ------------------------------------------------------------------------------- */

/* Looks through issue's comments for one holding mark, or (origin not NULL) one by a person
   whose body is origin: the Jira comment a provider's message came from. S_APPLIED with its
   id (*ret_origin 1 for the latter), S_SKIPPED. */
static s_outcome_t
s_find_comment(s_engine_t *self, const char *issue, const char *mark, const char *origin,
               char id[S_KEY_TEXT], int *ret_origin)
{
    *ret_origin = 0;
    for (size_t page = 0; page < OB_JIRA_COMMENT_PAGES_MAX; page++) {
        char path[S_PATH_MAX];
        s_reply_t reply;
        snprintf(path, sizeof path, "issue/%s/comment?startAt=%zu&maxResults=%d", issue,
                 page * OB_JIRA_COMMENT_PAGE, OB_JIRA_COMMENT_PAGE);
        s_outcome_t o = s_call(self, "GET", path, NULL, mark, &reply);
        if (o != S_APPLIED)
            return o;
        json_t *root = s_reply_json(&reply);
        json_t *comments = json_object_get(root, "comments");
        json_t *c;
        size_t i;
        const char *found = NULL;
        json_array_foreach(comments, i, c)
        {
            const char *body = ob_jira_json_str(c, "body");
            const char *cid = ob_jira_json_str(c, "id");
            const char *author = ob_jira_json_str(json_object_get(c, "author"), "name");
            if (!body || !cid || strlen(cid) >= S_KEY_TEXT)
                continue;
            if (strstr(body, mark)) {
                found = cid;
                break;
            }
            if (origin && !strcmp(body, origin) && (!author || strcmp(author, self->cfg->user))) {
                found = cid;
                *ret_origin = 1;
                break;
            }
        }
        if (found)
            snprintf(id, S_KEY_TEXT, "%s", found);
        size_t count = json_array_size(comments);
        json_decref(root);
        if (found)
            return S_APPLIED;
        if (count < OB_JIRA_COMMENT_PAGE)
            return S_SKIPPED;
    }
    zsys_warning("jira %s: %s has more than %d comments: %s not looked for further", self->sub,
                 issue, OB_JIRA_COMMENT_PAGE * OB_JIRA_COMMENT_PAGES_MAX, mark);
    return S_SKIPPED;
}

/* Records that Jira comment comment_id became Marketplace message message_id (j/<comment
   id>): its edits in Jira become edit_message commands (jira_http.c). */
static s_outcome_t
s_record_origin(s_engine_t *self, const char *comment_id, uint64_t message_id)
{
    char key[OB_JIRA_MAP_KEY_MAX];
    char value[OB_JIRA_MAP_VALUE_MAX];
    snprintf(key, sizeof key, OB_JIRA_MAP_ORIGIN "%s", comment_id);
    snprintf(value, sizeof value, "%" PRIu64, message_id);
    return s_record(self, key, value);
}

/* Sends the edit of comment comment_id of issue that came before its message was known (an
   e/ mark of jira_http.c), now that it is message_id: the comment as Jira holds it now
   becomes the edit_message command, its id from its update time (a second sending of the
   same edit, by the HTTP thread in a race, is stored once). */
static s_outcome_t
s_pending_edit(s_engine_t *self, const char *issue, const char *comment_id, uint64_t message_id)
{
    char key[OB_JIRA_MAP_KEY_MAX];
    char value[OB_JIRA_MAP_VALUE_MAX];
    snprintf(key, sizeof key, OB_JIRA_MAP_PENDING "%s", comment_id);
    if (ob_jira_map_get(self->map, key, value) || !value[0])
        return S_APPLIED;
    char path[S_PATH_MAX];
    s_reply_t reply;
    snprintf(path, sizeof path, "issue/%s/comment/%s", issue, comment_id);
    s_outcome_t o = s_call(self, "GET", path, NULL, "an edited comment", &reply);
    if (o == S_LOST)
        return s_record(self, key, ""); /* gone, or hidden from the adapter: nothing to send */
    if (o != S_APPLIED)
        return o;
    ob_jira_command_t cmd;
    const char *why = NULL;
    int rc = ob_jira_hook_comment_edit(self->cfg, reply.body, reply.len, &cmd, &why);
    s_reply_free(&reply);
    if (rc == 0 && (rc = ob_jira_hook_edit(&cmd, message_id)) == 0)
        rc = ob_jira_command_publish(self->client, self->cfg->oms_id, &cmd);
    if (rc == 0)
        zsys_info("jira %s: comment %s's edit published as %s", self->sub, comment_id, cmd.id);
    ob_jira_command_clear(&cmd);
    if (rc && rc != OB_JIRA_IGNORED && rc != OB_ERR_MALFORMED) {
        zsys_warning("jira %s: comment %s's edit not published: %s", self->sub, comment_id,
                     ob_strerror(rc));
        return S_AGAIN;
    }
    return s_record(self, key, "");
}

/* Makes issue hold the comment body (borrowed) that carries mark, recorded at map_key:
   found (by the map or the mark) and, if edit, rewritten; or added. With origin (not NULL),
   a person's comment whose body it is counts as the message's origin: recorded, not copied
   (a provider's message made from a Jira comment, whose command.completed came later), and
   the comment's message_id (if not 0) too, for its edits. */
static s_outcome_t
s_comment(s_engine_t *self, const char *map_key, const char *issue, const char *mark,
          const char *body, int edit, const char *origin, uint64_t message_id)
{
    int from_jira = 0;
    char value[OB_JIRA_MAP_VALUE_MAX];
    char id[S_KEY_TEXT] = "";
    s_outcome_t o = S_SKIPPED;
    if (ob_jira_map_get(self->map, map_key, value) == 0) {
        if (value[0] == '=') /* a message that came from a Jira comment: left alone */
            return S_SKIPPED;
        char *nl = strchr(value, '\n');
        if (nl && (size_t)(nl - value) < S_KEY_TEXT && !strcmp(nl + 1, issue)) {
            *nl = '\0';
            memcpy(id, value, (size_t)(nl - value) + 1); /* checked shorter above */
            o = S_APPLIED;
        }
    }
    if (o != S_APPLIED &&
        (o = s_find_comment(self, issue, mark, origin, id, &from_jira)) != S_APPLIED &&
        o != S_SKIPPED)
        return o;
    if (from_jira) {
        snprintf(value, sizeof value, "=%s", id);
        o = s_record(self, map_key, value);
        if (o == S_APPLIED && message_id)
            o = s_record_origin(self, id, message_id);
        if (o == S_APPLIED && message_id)
            o = s_pending_edit(self, issue, id, message_id);
        return o == S_APPLIED ? S_SKIPPED : o;
    }
    char path[S_PATH_MAX];
    s_reply_t reply;
    if (o == S_APPLIED && !edit)
        ; /* there already */
    else if (o == S_APPLIED) {
        snprintf(path, sizeof path, "issue/%s/comment/%s", issue, id);
        if ((o = s_call(self, "PUT", path, body, mark, &reply)) != S_APPLIED)
            return o;
        s_reply_free(&reply);
    } else {
        snprintf(path, sizeof path, "issue/%s/comment", issue);
        if ((o = s_call(self, "POST", path, body, mark, &reply)) != S_APPLIED)
            return o;
        json_t *root = s_reply_json(&reply);
        const char *cid = ob_jira_json_str(root, "id");
        if (cid && strlen(cid) < S_KEY_TEXT)
            snprintf(id, sizeof id, "%s", cid);
        json_decref(root);
        if (!id[0])
            return S_APPLIED; /* made, not recorded: the mark finds it next time */
    }
    snprintf(value, sizeof value, "%s\n%s", id, issue);
    return s_record(self, map_key, value);
}

/* --- events --------------------------------------------------------------------------------- */

static s_outcome_t
s_status_changed(s_engine_t *self, const s_work_t *w)
{
    const ob_event_t *ev = w->event;
    char key[S_KEY_TEXT];
    char type[OB_JIRA_STATUS_TYPE_MAX];
    char *body = NULL;
    int rc = ob_jira_item_status(w->snapshot, w->len, type);
    if (rc) {
        zsys_error("jira %s: event %s: no status type in its snapshot", self->sub, ev->id);
        return S_LOST;
    }
    if ((rc = ob_jira_build_transition(self->cfg, type, &body)) == OB_JIRA_NOTHING)
        return S_SKIPPED;
    if (rc)
        return S_AGAIN;
    s_outcome_t o = s_item(self, ev->project_id, ev->project_item_id, w->snapshot, w->len, key);
    if (o != S_APPLIED) {
        free(body);
        return o;
    }
    char path[S_PATH_MAX];
    s_reply_t reply;
    snprintf(path, sizeof path, "issue/%s/transitions", key);
    o = s_call(self, "POST", path, body, type, &reply);
    free(body);
    if (o == S_APPLIED)
        s_reply_free(&reply);
    const ob_jira_status_t *row = ob_jira_config_status_by_type(self->cfg, type);
    if (o != S_LOST || !row->jira_status[0])
        return o;
    /* Refused: the likely cause after a redelivery is that the issue is there already. */
    snprintf(path, sizeof path, "issue/%s?fields=status", key);
    if (s_call(self, "GET", path, NULL, "status", &reply) != S_APPLIED)
        return S_LOST;
    json_t *root = s_reply_json(&reply);
    const char *now =
        ob_jira_json_str(json_object_get(json_object_get(root, "fields"), "status"), "id");
    o = now && !strcmp(now, row->jira_status) ? S_APPLIED : S_LOST;
    json_decref(root);
    if (o == S_APPLIED)
        zsys_info("jira %s: %s is in the status of %s already", self->sub, key, type);
    return o;
}

static s_outcome_t
s_message(s_engine_t *self, const s_work_t *w, int edit)
{
    const ob_event_t *ev = w->event;
    char *body = NULL;
    char key[S_KEY_TEXT];
    char mark[OB_JIRA_MARK_MAX];
    char map_key[OB_JIRA_MAP_KEY_MAX];
    int rc = ob_jira_build_comment(self->cfg, ev->message_id, w->snapshot, w->len, &body);
    if (rc == OB_JIRA_NOTHING)
        return S_SKIPPED;
    if (rc) {
        zsys_error("jira %s: event %s: no comment can be made of message %" PRIu64 ": %s",
                   self->sub, ev->id, ev->message_id, ob_strerror(rc));
        return rc == -ENOMEM ? S_AGAIN : S_LOST;
    }
    json_t *msg = NULL;
    const char *origin = NULL;
    if (!edit && !ob_jira_json_load(w->snapshot, w->len, OB_JIRA_SNAPSHOT_MAX, &msg)) {
        const char *role = ob_jira_json_str(json_object_get(msg, "author"), "role");
        if (role && strcmp(role, "user")) /* only providers' messages come from Jira */
            origin = ob_jira_json_str(msg, "content");
    }
    s_outcome_t o = s_issue_of(self, ev, key);
    ob_jira_mark(self->cfg->oms_id, ev->message_id, mark);
    snprintf(map_key, sizeof map_key, "m/%" PRIu64, ev->message_id);
    if (o == S_APPLIED)
        o = s_comment(self, map_key, key, mark, body, edit, origin, ev->message_id);
    json_decref(msg);
    free(body);
    return o;
}

/* An outcome of a command: ours start with OB_JIRA_COMMAND_PREFIX. */
static s_outcome_t
s_outcome(s_engine_t *self, const s_work_t *w, int failed)
{
    const ob_event_t *ev = w->event;
    json_t *data = NULL;
    if (ob_jira_json_load(w->snapshot, w->len, OB_JIRA_SNAPSHOT_MAX, &data))
        return S_SKIPPED;
    const char *id = ob_jira_json_str(data, "command_id");
    const char *command = ob_jira_json_str(data, "command");
    s_outcome_t o = S_SKIPPED;
    char map_key[OB_JIRA_MAP_KEY_MAX];
    if (!id || strncmp(id, OB_JIRA_COMMAND_PREFIX, strlen(OB_JIRA_COMMAND_PREFIX)) ||
        strlen(id) > OB_JIRA_COMMAND_ID_MAX)
        goto out;
    if (!failed) {
        /* A post_message from a Jira comment: its message is not to be copied back, and the
           comment's edits are the message's. */
        json_t *mid = json_object_get(json_object_get(data, "response"), "id");
        const char *cid = id + strlen(OB_JIRA_COMMAND_PREFIX);
        if (command && !strcmp(command, "post_message") && json_is_integer(mid) &&
            json_integer_value(mid) > 0) {
            snprintf(map_key, sizeof map_key, "m/%" PRId64, (int64_t)json_integer_value(mid));
            o = s_record(self, map_key, "=");
            uint64_t message_id = (uint64_t)json_integer_value(mid);
            char key[S_KEY_TEXT];
            if (o == S_APPLIED && cid[0] == 'c' && cid[1])
                o = s_record_origin(self, cid + 1, message_id);
            if (o == S_APPLIED && cid[0] == 'c' && cid[1] && ev->project_id &&
                (o = s_issue_of(self, ev, key)) == S_APPLIED)
                o = s_pending_edit(self, key, cid + 1, message_id);
        }
        goto out;
    }
    char *body = NULL;
    char key[S_KEY_TEXT];
    char mark[OB_JIRA_MARK_MAX];
    if (ob_jira_build_failure(w->snapshot, w->len, &body))
        goto out;
    snprintf(mark, sizeof mark, OB_JIRA_MARK_PREFIX "%s]", id);
    snprintf(map_key, sizeof map_key, "c/%s", id);
    o = ev->project_id ? s_issue_of(self, ev, key) : S_SKIPPED;
    if (o == S_APPLIED)
        o = s_comment(self, map_key, key, mark, body, 0, NULL, 0);
    free(body);
out:
    json_decref(data);
    return o;
}

/* Applies the event of d (borrowed). */
static s_outcome_t
s_apply(s_engine_t *self, const ob_delivery_t *d)
{
    s_work_t w = {NULL, S_NO_SNAPSHOT, strlen(S_NO_SNAPSHOT)};
    int rc = ob_delivery_decode(d, &w.event);
    if (rc) {
        zsys_error("jira %s: seq %" PRIu64 " is not an event (%s): dropped", self->sub, d->seq,
                   ob_strerror(rc));
        return S_LOST;
    }
    const ob_event_t *ev = w.event;
    if (ev->data && ev->data_len) {
        w.snapshot = (const char *)ev->data;
        w.len = ev->data_len;
    }
    char key[S_KEY_TEXT];
    char owner[OB_JIRA_MAP_VALUE_MAX];
    s_outcome_t o = S_SKIPPED;
    int item_event = !strncmp(ev->type, "project_item.", 13);
    if (!ev->project_id || (item_event && !ev->project_item_id))
        o = strncmp(ev->type, "command.", 8) ? S_LOST : S_SKIPPED;
    else if (!strcmp(ev->type, "project.created"))
        o = s_epic(self, ev->project_id, w.snapshot, w.len, key, owner);
    else if (!strcmp(ev->type, "project_item.created"))
        o = s_item(self, ev->project_id, ev->project_item_id, w.snapshot, w.len, key);
    else if (!strcmp(ev->type, "project_item.status_changed"))
        o = s_status_changed(self, &w);
    else if (!strcmp(ev->type, "message.posted") || !strcmp(ev->type, "message.edited"))
        o = ev->message_id ? s_message(self, &w, !strcmp(ev->type, "message.edited")) : S_LOST;
    else if (!strcmp(ev->type, "command.failed") || !strcmp(ev->type, "command.completed"))
        o = s_outcome(self, &w, !strcmp(ev->type, "command.failed"));
    if (o == S_LOST)
        zsys_error("jira %s: event %s (%s, project %" PRIu64 ", item %" PRIu64 ", message %" PRIu64
                   ") is not in Jira and will not be",
                   self->sub, ev->id, ev->type, ev->project_id, ev->project_item_id,
                   ev->message_id);
    ob_event_destroy(&w.event);
    return o;
}

/* The delay before try number attempt + 1 (1-based attempt), with jitter. */
static uint64_t
s_backoff(s_engine_t *self, unsigned attempt)
{
    const ob_jira_config_t *cfg = self->cfg;
    unsigned shift = attempt > S_SHIFT_MAX ? S_SHIFT_MAX : attempt - 1;
    uint64_t delay = cfg->backoff_ms << shift;
    if (delay > cfg->backoff_max_ms || delay >> shift != cfg->backoff_ms)
        delay = cfg->backoff_max_ms;
    delay = delay / 2 + randombytes_uniform((uint32_t)(delay / 2 + 1));
    if (self->retry_ms > delay)
        delay = self->retry_ms < cfg->backoff_max_ms ? self->retry_ms : cfg->backoff_max_ms;
    return delay;
}

/* Applies the queue's deliveries in order until it is empty or $TERM. */
static void
s_work(s_engine_t *self)
{
    const ob_jira_metrics_t *m = self->ec.metrics;
    unsigned attempt = 0;
    ob_delivery_t *d;
    while (!self->stopping && (d = zlistx_first(self->queue))) {
        uint64_t seq = d->seq;
        self->retry_ms = 0;
        s_outcome_t o = s_apply(self, d);
        if (o == S_STOPPED)
            break;
        if (o == S_AGAIN) {
            uint64_t delay = s_backoff(self, ++attempt);
            s_count(m ? m->retries : NULL, NULL);
            zsys_info("jira %s: seq %" PRIu64 " again in %" PRIu64 " ms (try %u)", self->sub, seq,
                      delay, attempt + 1);
            if (s_sleep(self, delay))
                break;
            continue;
        }
        attempt = 0;
        s_count(m ? m->events : NULL, s_outcome_names[o]);
        /* the newest delivery of seq is first (a redelivery replaced it meanwhile) */
        d = zlistx_first(self->queue);
        if (d && d->seq == seq) {
            ob_client_ack(self->client, d);
            zlistx_delete(self->queue, zlistx_cursor(self->queue));
            ob_delivery_destroy(&d);
        }
    }
}

/* --- the actor ------------------------------------------------------------------------------ */

static void
s_engine_destroy(s_engine_t **self_p)
{
    s_engine_t *self = *self_p;
    if (!self)
        return;
    if (self->queue) {
        for (ob_delivery_t *d = zlistx_first(self->queue); d; d = zlistx_next(self->queue))
            ob_delivery_destroy(&d);
        zlistx_destroy(&self->queue);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    ob_client_destroy(&self->client);
    free(self);
    *self_p = NULL;
}

static s_engine_t *
s_engine_new(const ob_jira_engine_config_t *config)
{
    s_engine_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ec = *config;
    self->cfg = config->cfg;
    snprintf(self->sub, sizeof self->sub, OB_JIRA_SUB_PREFIX "%" PRIu64, self->cfg->oms_id);
    snprintf(self->topic, sizeof self->topic, "oms.%" PRIu64, self->cfg->oms_id);
    self->map = config->map;
    self->queue = zlistx_new();
    if (self->queue)
        zlistx_set_comparator(self->queue, s_seq_compare);
    self->multi = curl_multi_init();
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .timeout_ms = OB_JIRA_BROKER_MS,
                             .cert = self->cfg->cert[0] ? self->cfg->cert : NULL,
                             .broker_cert =
                                 self->cfg->broker_cert[0] ? self->cfg->broker_cert : NULL};
    self->client = ob_client_new(self->cfg->endpoint, &cc);
    if (!self->queue || !self->multi || !self->client) {
        zsys_error("jira %s: cannot start (out of memory, or no client for %s)", self->sub,
                   self->cfg->endpoint);
        s_engine_destroy(&self);
    }
    return self;
}

typedef struct s_start {
    const ob_jira_engine_config_t *config; /* borrowed */
    int rc;                                /* set by the actor before it signals */
} s_start_t;

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_start_t *start = arg;
    s_engine_t *self = s_engine_new(start->config);
    start->rc = self ? 0 : -1;
    zsock_signal(pipe, 0);
    if (!self)
        return;
    self->pipe = pipe;
    while (!self->stopping) {
        s_turn(self, self->subscribed ? OB_JIRA_POLL_MS : self->subscribe_at_ms - s_now_ms());
        s_work(self);
    }
    if (zlistx_size(self->queue))
        zsys_info("jira %s: stopped with %zu events not applied (they come again at the next "
                  "start)",
                  self->sub, zlistx_size(self->queue));
    s_engine_destroy(&self);
}

zactor_t *
ob_jira_engine_start(const ob_jira_engine_config_t *config)
{
    s_start_t start = {.config = config, .rc = -1};
    zactor_t *actor = zactor_new(s_actor, &start);
    if (actor && start.rc)
        zactor_destroy(&actor);
    return actor;
}

int
ob_jira_command_publish(ob_client_t *client, uint64_t oms_id, const ob_jira_command_t *cmd)
{
    char topic[OB_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, "mp.%" PRIu64, oms_id);
    ob_event_t event = {.id = cmd->id,
                        .topic = topic,
                        .type = cmd->type,
                        .time_us = (uint64_t)zclock_time() * S_US_PER_MS,
                        .source = OB_JIRA_SOURCE,
                        .oms_id = oms_id,
                        .project_id = cmd->project_id,
                        .project_item_id = cmd->project_item_id,
                        .data = (const uint8_t *)cmd->body,
                        .data_len = cmd->body_len};
    ob_confirm_t confirm;
    return ob_client_publish(client, &event, &confirm);
}

int
ob_jira_metrics_register(ob_metrics_t *registry, ob_jira_metrics_t *ret_metrics)
{
    static const char *const outcome_labels[] = {"outcome"};
    static const char *const status_labels[] = {"status"};
    ob_jira_metrics_t m = {
        .events = ob_metrics_counter(registry, "orderbus_jira_events_total",
                                     "Events of oms.ID done, by outcome: applied (in Jira, or "
                                     "found there), skipped (nothing to do), lost (refused by "
                                     "Jira for good: see the log)",
                                     outcome_labels, 1, OB_JIRA_METRIC_SERIES),
        .requests = ob_metrics_counter(registry, "orderbus_jira_requests_total",
                                       "Requests to Jira, by status class (none: timeout or no "
                                       "connection)",
                                       status_labels, 1, OB_JIRA_METRIC_SERIES),
        .retries = ob_metrics_counter(registry, "orderbus_jira_retries_total",
                                      "Events tried again after a retryable answer or a timeout",
                                      NULL, 0, 1),
        .webhooks = ob_metrics_counter(registry, "orderbus_jira_webhooks_total",
                                       "Jira webhooks received, by outcome: command (published "
                                       "on mp.ID), ignored, refused (signature or body), failed "
                                       "(the broker did not take the command)",
                                       outcome_labels, 1, OB_JIRA_METRIC_SERIES),
    };
    if (!m.events || !m.requests || !m.retries || !m.webhooks)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_metrics = m;
    return 0;
}
