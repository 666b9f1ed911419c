/*  ob_connector: see connector.h and COMMANDS.md.

    One thread runs everything: the actor's pipe, the broker client and libcurl's multi
    handle, all waited on by curl_multi_poll (the pipe's and the client's ZMQ_FD as extra
    descriptors). A command becomes a job; the jobs of one ordering key wait in a FIFO whose
    head alone runs. A running job is in one phase: LIST (a post_message reading its scope's
    messages, before its first POST or before any POST again), REQUEST (the command's own
    request), WAIT (a retry's delay) or PUBLISH (its outcome sent, the broker's
    confirmation awaited). Jobs that want a request while `inflight` requests run wait in
    `slots`, in order. */
#include "connector.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "mdb.h"
#include "orderbus/client.h"
#include "orderbus/error.h"

#define S_REC_LEN 17    /* a command record: state, time, watermark */
#define S_REC_POSTING 1 /* a post_message whose POST may have been made */
#define S_REC_DONE 2    /* outcome confirmed by the broker */
#define S_DB_KEY_MAX (2 + OB_GW_COMMAND_ID_MAX + OB_GW_ORDER_KEY_TEXT) /* "c:"/"h:" + text */
#define S_POLL_MS 250               /* longest wait: heartbeats are due every second */
#define S_U64_TEXT 24               /* a u64 in decimal with its NUL */
#define S_OBFUSCATED "<OBFUSCATED>" /* user_direct content as a GET shows it (4.11) */
#define S_FAILED "command.failed"   /* the type of a failed command's outcome */
#define S_POST_STATUS 201           /* what a POST of a message answers (4.10) */
#define S_HTTP "http://"            /* the schemes a base URL may have */
#define S_HTTPS "https://"
#define S_STR2(x) #x /* a limit's digits, for a message */
#define S_STR(x) S_STR2(x)
#define S_ANSWER_FIRST 4096                /* first allocation of an answer */
#define S_ITEM_QUERY_MAX (S_U64_TEXT + 24) /* "&project_item_id=" and a u64 */
#define S_SERIES_MAX 4096 /* series per metric: OMSes x commands x outcomes, with room */
#define S_URL_MAX (OB_CONNECTOR_URL_MAX + OB_GW_PATH_MAX + 96) /* base + path + list query */

/* Histogram bounds of a Marketplace request, in seconds. */
static const double s_latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,    2.5,   5,    10,  30};

typedef enum s_phase {
    S_QUEUED,  /* behind the head of its key */
    S_LIST,    /* post_message: listing the scope's messages */
    S_REQUEST, /* the command's request */
    S_WAIT,    /* a retry's delay */
    S_PUBLISH  /* outcome sent, awaiting the broker's confirmation */
} s_phase_t;

typedef struct s_conn s_conn_t;

typedef struct s_job {
    s_conn_t *conn;          /* owner */
    ob_delivery_t *delivery; /* the command's delivery, owned (replaced by a redelivery) */
    ob_oms_command_t *cmd;   /* the command, owned; NULL for a refused one */
    char *refusal;           /* why the command was refused, owned; NULL if not */
    char id[OB_GW_COMMAND_ID_MAX + 1]; /* the command id */
    char key[OB_GW_ORDER_KEY_TEXT];    /* its ordering key ("seq.<n>" for a refused one) */
    char seq[S_U64_TEXT];              /* its seq on mp.<oms_id>, the held-jobs index */
    zlistx_t *queue;                   /* its key's FIFO, borrowed from conn->keys */
    s_phase_t phase;                   /* where it is */
    s_phase_t resume;                  /* S_WAIT: the phase to go back to */
    int in_slots;                      /* 1 while waiting for a request slot */
    int posting;                       /* post_message: a posting record exists (search first) */
    int search;                        /* S_LIST: 1 looking for our message, 0 reading the top id */
    uint64_t watermark;                /* post_message: highest message id in the scope before it */
    uint64_t list_from;                /* S_LIST: from_id of the page asked */
    uint64_t list_top;                 /* S_LIST (reading the top id): highest id seen so far */
    CURL *easy;                        /* the request running, or NULL */
    const char *method;                /* its method (static) */
    char *answer;                      /* the answer's bytes so far, owned */
    size_t answer_len;                 /* bytes in answer */
    size_t answer_cap;                 /* bytes allocated */
    int64_t started_ms;                /* when the request started (monotonic) */
    int64_t due_ms;                    /* S_WAIT: when to retry (monotonic) */
    unsigned retries;                  /* retries so far (backoff exponent) */
    uint8_t *outcome;                  /* the encoded outcome event, owned, until confirmed */
    size_t outcome_len;                /* its bytes */
    uint64_t token;                    /* S_PUBLISH: the publish token */
    char token_text[S_U64_TEXT];       /* the same in decimal, the by_token index */
    uint64_t message_id;               /* post_message: the message posted (for the scope's top) */
} s_job_t;

struct s_conn {
    ob_connector_config_t cfg;     /* copy; strings below are owned */
    char *base_url;                /* owned */
    char *token;                   /* owned, wiped at the end */
    char *endpoint;                /* owned */
    char *cert;                    /* owned or NULL */
    char *broker_cert;             /* owned or NULL */
    char *client_name;             /* owned */
    char sub[OB_SUB_NAME_MAX + 1]; /* subscription name */
    char topic[OB_GW_TOPIC_TEXT];  /* mp.<oms_id> */
    char oms_text[S_U64_TEXT];     /* oms_id in decimal, for labels and logs */
    zsock_t *pipe;                 /* the actor's pipe, borrowed */
    int terminated;                /* $TERM seen */
    ob_client_t *client;           /* the broker client */
    int subscribed;                /* attached to the subscription */
    int64_t subscribe_at_ms;       /* next subscribe attempt (monotonic) */
    MDB_env *env;                  /* borrowed */
    MDB_dbi dbi;                   /* connector.<oms_id> */
    int64_t prune_at_ms;           /* next pruning of done records */
    CURLM *multi;                  /* owned */
    struct curl_slist *headers;    /* X-User-Token, Content-Type, Accept; owned, wiped */
    unsigned running;              /* requests in the multi handle */
    zhashx_t *keys;                /* ordering key -> zlistx_t of jobs (FIFO, head runs) */
    zhashx_t *by_seq;              /* seq text -> job, every held job */
    zhashx_t *by_token;            /* publish token text -> job in S_PUBLISH */
    zlistx_t *slots;               /* jobs waiting for a request slot, in order */
    zlistx_t *kick;                /* jobs that have become the head of their key, to start */
};

/* --- small helpers --------------------------------------------------------------------- */

static int64_t
s_now_ms(void)
{
    return zclock_mono();
}

static uint64_t
s_time_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static const char *
s_kind(const s_job_t *job)
{
    return job->cmd ? ob_oms_command_name(job->cmd->kind) : "refused";
}

/* Counts a command's end (outcome: completed, failed, refused, duplicate, dead_lettered,
   unpublished). */
static void
s_count(s_conn_t *self, const char *kind, const char *outcome)
{
    if (self->cfg.metrics && self->cfg.metrics->commands)
        ob_metric_add(self->cfg.metrics->commands,
                      (const char *const[]){self->oms_text, kind, outcome}, 1);
}

/* --- LMDB state ------------------------------------------------------------------------- */

/* Writes "prefix" + text into key (S_DB_KEY_MAX bytes) and fills *ret_val. */
static void
s_db_key(const char *prefix, const char *text, char key[S_DB_KEY_MAX], MDB_val *ret_val)
{
    int n = snprintf(key, S_DB_KEY_MAX, "%s%s", prefix, text);
    ret_val->mv_data = key;
    ret_val->mv_size = (size_t)n;
}

/* A transaction of the connector's database. The daemon's feed grows the shared map between
   its own transactions, under cfg.resize taken for writing (gw_store.h); every transaction
   here holds it for reading, so that the map is never remapped under one. */
static int
s_txn_begin(s_conn_t *self, unsigned flags, MDB_txn **ret_txn)
{
    if (self->cfg.resize)
        pthread_rwlock_rdlock(self->cfg.resize);
    int rc = mdb_txn_begin(self->env, NULL, flags, ret_txn);
    if (rc && self->cfg.resize)
        pthread_rwlock_unlock(self->cfg.resize);
    return rc;
}

/* Commits txn (begun by s_txn_begin) and lets the map grow again. Returns the LMDB code. */
static int
s_txn_commit(s_conn_t *self, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    if (self->cfg.resize)
        pthread_rwlock_unlock(self->cfg.resize);
    return rc;
}

/* Aborts txn (begun by s_txn_begin) and lets the map grow again. */
static void
s_txn_abort(s_conn_t *self, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    if (self->cfg.resize)
        pthread_rwlock_unlock(self->cfg.resize);
}

/* Reads the record of command id: *ret_state 0 when there is none. Returns 0 or an error. */
static int
s_db_get(s_conn_t *self, const char *id, int *ret_state, uint64_t *ret_watermark)
{
    char kbuf[S_DB_KEY_MAX];
    MDB_val key, val;
    MDB_txn *txn = NULL;
    s_db_key("c:", id, kbuf, &key);
    int rc = s_txn_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    rc = mdb_get(txn, self->dbi, &key, &val);
    if (rc == 0 && val.mv_size == S_REC_LEN) {
        *ret_state = ((const uint8_t *)val.mv_data)[0];
        *ret_watermark = s_get_u64((const uint8_t *)val.mv_data + 9);
    } else if (rc == MDB_NOTFOUND || rc == 0) { /* a record of another size: none */
        *ret_state = 0;
        *ret_watermark = 0;
        rc = 0;
    }
    s_txn_abort(self, txn);
    return ob_mdb_rc(rc);
}

/* Reads the highest message id seen in scope key (0 if none) inside txn. */
static uint64_t
s_db_top(s_conn_t *self, MDB_txn *txn, const char *order_key)
{
    char kbuf[S_DB_KEY_MAX];
    MDB_val key, val;
    s_db_key("h:", order_key, kbuf, &key);
    if (mdb_get(txn, self->dbi, &key, &val) == 0 && val.mv_size == 8)
        return s_get_u64(val.mv_data);
    return 0;
}

/* Writes command id's record (state, watermark) and, when top is not 0, raises the scope's
   top to it, in one transaction. Returns 0 or an error. */
static int
s_db_put(s_conn_t *self, const char *id, int state, uint64_t watermark, const char *order_key,
         uint64_t top)
{
    char kbuf[S_DB_KEY_MAX], hbuf[S_DB_KEY_MAX];
    uint8_t rec[S_REC_LEN], hrec[8];
    MDB_val key, val, hkey, hval = {.mv_size = 8, .mv_data = hrec};
    MDB_txn *txn = NULL;
    rec[0] = (uint8_t)state;
    s_put_u64(rec + 1, s_time_us());
    s_put_u64(rec + 9, watermark);
    val.mv_data = rec;
    val.mv_size = sizeof rec;
    s_db_key("c:", id, kbuf, &key);
    int rc = s_txn_begin(self, 0, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    rc = mdb_put(txn, self->dbi, &key, &val, 0);
    if (rc == 0 && top && top > s_db_top(self, txn, order_key)) {
        s_put_u64(hrec, top);
        s_db_key("h:", order_key, hbuf, &hkey);
        rc = mdb_put(txn, self->dbi, &hkey, &hval, 0);
    }
    if (rc == 0)
        rc = s_txn_commit(self, txn);
    else
        s_txn_abort(self, txn);
    return ob_mdb_rc(rc);
}

/* The highest message id seen in scope order_key, 0 if none or unreadable. */
static uint64_t
s_db_scope_top(s_conn_t *self, const char *order_key)
{
    MDB_txn *txn = NULL;
    if (s_txn_begin(self, MDB_RDONLY, &txn))
        return 0;
    uint64_t top = s_db_top(self, txn, order_key);
    s_txn_abort(self, txn);
    return top;
}

/* Deletes the command records older than the retention: done ones, and posting ones left by
   a command whose outcome could not be published (a command still running after a week of
   retries would lose its search for an earlier POST: not a case to keep state for). */
static void
s_db_prune(s_conn_t *self)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key, val;
    uint64_t limit = s_time_us() - (uint64_t)self->cfg.retention_s * 1000000u;
    size_t removed = 0;
    int rc = s_txn_begin(self, 0, &txn);
    if (rc == 0)
        rc = mdb_cursor_open(txn, self->dbi, &cur);
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(cur, &key, &val, (MDB_cursor_op)op)) != 0)
            break;
        const uint8_t *rec = val.mv_data;
        if (key.mv_size > 2 && !memcmp(key.mv_data, "c:", 2) && val.mv_size == S_REC_LEN &&
            s_get_u64(rec + 1) < limit) {
            rc = mdb_cursor_del(cur, 0);
            removed++;
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = txn ? s_txn_commit(self, txn) : rc;
    else if (txn)
        s_txn_abort(self, txn);
    if (rc)
        zsys_error("connector %s: cannot prune its done records: %s", self->oms_text,
                   ob_strerror(ob_mdb_rc(rc)));
    else if (removed)
        zsys_info("connector %s: pruned %zu command records", self->oms_text, removed);
    self->prune_at_ms = s_now_ms() + OB_CONNECTOR_PRUNE_MS;
}

/* --- jobs --------------------------------------------------------------------------------- */

static void s_job_start(s_job_t *job);
static void s_job_go(s_job_t *job);

/* Stops job's request, if any, and frees its answer. */
static void
s_job_stop_request(s_job_t *job)
{
    if (job->easy) {
        curl_multi_remove_handle(job->conn->multi, job->easy);
        curl_easy_cleanup(job->easy);
        job->easy = NULL;
        job->conn->running--;
    }
    if (job->in_slots) {
        void *h = zlistx_find(job->conn->slots, job);
        if (h)
            zlistx_delete(job->conn->slots, h);
        job->in_slots = 0;
    }
    free(job->answer);
    job->answer = NULL;
    job->answer_len = job->answer_cap = 0;
}

static void
s_job_free(s_job_t *job)
{
    if (!job)
        return;
    s_job_stop_request(job);
    ob_delivery_destroy(&job->delivery);
    ob_oms_command_destroy(&job->cmd);
    free(job->refusal);
    free(job->outcome);
    free(job);
}

/* Removes job (finished, or dropped) from every index, frees it, and starts the next job of
   its key. */
static void
s_job_finish(s_job_t *job)
{
    s_conn_t *self = job->conn;
    if (job->token_text[0])
        zhashx_delete(self->by_token, job->token_text);
    zhashx_delete(self->by_seq, job->seq);
    zlistx_t *queue = job->queue;
    void *h = queue ? zlistx_find(queue, job) : NULL;
    if (h)
        zlistx_delete(queue, h);
    char key[OB_GW_ORDER_KEY_TEXT];
    memcpy(key, job->key, sizeof key);
    s_job_free(job);
    if (queue && zlistx_size(queue) == 0)
        zhashx_delete(self->keys, key);
    else if (queue) /* started by s_kick: a chain of done commands is a loop, not a recursion */
        zlistx_add_end(self->kick, zlistx_first(queue));
}

/* Starts the jobs that have become the heads of their keys. Returns 1 if it started any. */
static int
s_kick(s_conn_t *self)
{
    int any = 0;
    s_job_t *job;
    while ((job = zlistx_first(self->kick))) {
        zlistx_delete(self->kick, zlistx_cursor(self->kick));
        s_job_start(job);
        any = 1;
    }
    return any;
}

/* Schedules a retry of job's phase resume after the backoff; reason labels the metric. */
static void
s_job_retry(s_job_t *job, s_phase_t resume, const char *reason)
{
    s_conn_t *self = job->conn;
    uint64_t delay = self->cfg.retry_min_ms;
    for (unsigned i = 0; i < job->retries && delay < self->cfg.retry_max_ms; i++)
        delay *= 2;
    if (delay > self->cfg.retry_max_ms)
        delay = self->cfg.retry_max_ms;
    job->retries++;
    s_job_stop_request(job);
    job->phase = S_WAIT;
    job->resume = resume;
    job->due_ms = s_now_ms() + (int64_t)delay;
    if (self->cfg.metrics && self->cfg.metrics->retries)
        ob_metric_add(self->cfg.metrics->retries,
                      (const char *const[]){self->oms_text, s_kind(job), reason}, 1);
    zsys_warning("connector %s: command %s (%s, %s): %s, retry %u in %" PRIu64 " ms",
                 self->oms_text, job->id, s_kind(job), job->key, reason, job->retries, delay);
}

/* Acks job's delivery, counts its outcome and finishes it. */
static void
s_job_ack(s_job_t *job, const char *outcome)
{
    s_conn_t *self = job->conn;
    int rc = ob_client_ack(self->client, job->delivery);
    if (rc) /* the delivery comes again, finds the done record and is acked then */
        zsys_warning("connector %s: cannot ack command %s: %s", self->oms_text, job->id,
                     ob_strerror(rc));
    s_count(self, s_kind(job), outcome);
    s_job_finish(job);
}

/* Publishes job's outcome (job->outcome). */
static void
s_job_publish(s_job_t *job)
{
    s_conn_t *self = job->conn;
    ob_event_t *event = NULL;
    int rc = ob_event_decode(job->outcome, job->outcome_len, &event);
    if (rc == 0)
        rc = ob_client_publish_async(self->client, event, &job->token);
    ob_event_destroy(&event);
    if (rc == OB_ERR_TIMEOUT || rc == -ENOMEM) {
        s_job_retry(job, S_PUBLISH, "broker");
        return;
    }
    if (rc) { /* our own outcome does not decode: a bug, but the key must go on */
        zsys_error("connector %s: outcome of command %s cannot be published: %s", self->oms_text,
                   job->id, ob_strerror(rc));
        s_job_ack(job, "unpublished");
        return;
    }
    job->phase = S_PUBLISH;
    snprintf(job->token_text, sizeof job->token_text, "%" PRIu64, job->token);
    zhashx_insert(self->by_token, job->token_text, job);
}

/* Makes job's outcome from the Marketplace's answer (status, body) and publishes it. */
static void
s_job_outcome(s_job_t *job, int status, const char *body, size_t len)
{
    s_conn_t *self = job->conn;
    free(job->outcome);
    job->outcome = NULL;
    int rc = job->cmd ? ob_oms_command_outcome(self->cfg.oms_id, job->cmd, status, body, len,
                                               s_time_us(), &job->outcome, &job->outcome_len)
                      : ob_oms_command_refusal(self->cfg.oms_id, job->id, job->refusal, s_time_us(),
                                               &job->outcome, &job->outcome_len);
    if (rc == -ENOMEM) {
        s_job_retry(job, job->phase, "memory");
        return;
    }
    if (rc) {
        zsys_error("connector %s: cannot make the outcome of command %s: %s", self->oms_text,
                   job->id, ob_strerror(rc));
        s_job_ack(job, "unpublished");
        return;
    }
    if (job->cmd && job->cmd->kind == OB_OMS_COMMAND_POST_MESSAGE && status / 100 == 2) {
        json_t *answer = json_loadb(body, len, 0, NULL);
        json_t *id = json_object_get(answer, "id");
        if (json_is_integer(id) && json_integer_value(id) > 0)
            job->message_id = (uint64_t)json_integer_value(id);
        json_decref(answer);
    }
    zsys_info("connector %s: command %s (%s, %s): %s %d", self->oms_text, job->id, s_kind(job),
              job->key, job->cmd ? "status" : "refused", status);
    s_job_publish(job);
}

/* The broker confirmed (or refused) job's outcome. */
static void
s_job_confirmed(s_job_t *job, const ob_confirm_t *confirm)
{
    s_conn_t *self = job->conn;
    zhashx_delete(self->by_token, job->token_text);
    job->token_text[0] = '\0';
    if (confirm->rc == OB_ERR_TOO_LARGE || confirm->rc == OB_ERR_INVALID_EVENT ||
        confirm->rc == OB_ERR_INVALID_TOPIC) {
        zsys_error("connector %s: the broker refused the outcome of command %s: %s", self->oms_text,
                   job->id, ob_strerror(confirm->rc));
        s_job_ack(job, "unpublished");
        return;
    }
    if (confirm->rc) { /* forbidden, busy, a limit: may be mended; try again */
        zsys_error("connector %s: the broker refused the outcome of command %s: %s (%s)",
                   self->oms_text, job->id, ob_strerror(confirm->rc),
                   ob_client_last_reason(self->client));
        s_job_retry(job, S_PUBLISH, "broker");
        return;
    }
    int rc = s_db_put(self, job->id, S_REC_DONE, job->watermark, job->key, job->message_id);
    if (rc) /* the outcome is on the bus: ack all the same; a redelivery may run it again */
        zsys_error("connector %s: cannot record command %s done: %s", self->oms_text, job->id,
                   ob_strerror(rc));
    ob_event_envelope_t env;
    const char *outcome = "completed";
    if (ob_event_peek(job->outcome, job->outcome_len, &env) == 0 &&
        env.type_len == strlen(S_FAILED) && !memcmp(env.type, S_FAILED, env.type_len))
        outcome = job->cmd ? "failed" : "refused";
    s_job_ack(job, outcome);
}

/* --- requests ------------------------------------------------------------------------------ */

static size_t
s_on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_job_t *job = arg;
    size_t n = size * nmemb;
    size_t room = OB_CONNECTOR_ANSWER_MAX - job->answer_len;
    size_t take = n < room ? n : room; /* more is read and dropped: the answer is cut */
    if (job->answer_len + take + 1 > job->answer_cap) {
        size_t cap = job->answer_cap ? job->answer_cap : S_ANSWER_FIRST;
        while (cap < job->answer_len + take + 1)
            cap *= 2;
        char *p = realloc(job->answer, cap);
        if (!p)
            return 0; /* CURLE_WRITE_ERROR: retried */
        job->answer = p;
        job->answer_cap = cap;
    }
    memcpy(job->answer + job->answer_len, data, take);
    job->answer_len += take;
    job->answer[job->answer_len] = '\0';
    return n;
}

/* Starts the HTTP request of job's phase, or queues it for a slot. */
static void
s_job_go(s_job_t *job)
{
    s_conn_t *self = job->conn;
    if (self->running >= self->cfg.inflight) {
        if (!job->in_slots) {
            zlistx_add_end(self->slots, job);
            job->in_slots = 1;
        }
        return;
    }
    char url[S_URL_MAX];
    const char *body = NULL;
    size_t body_len = 0;
    int n;
    if (job->phase == S_LIST) {
        const ob_oms_command_t *c = job->cmd;
        char item[S_ITEM_QUERY_MAX] = "";
        if (c->project_item_id)
            snprintf(item, sizeof item, "&project_item_id=%" PRIu64, c->project_item_id);
        job->method = "GET";
        n = snprintf(url, sizeof url,
                     "%s/api/v1/oms/%" PRIu64 "/messages?project_id=%" PRIu64 "%s&from_id=%" PRIu64
                     "&limit=%d",
                     self->base_url, self->cfg.oms_id, c->project_id, item, job->list_from,
                     OB_CONNECTOR_LIST_LIMIT);
    } else {
        ob_oms_command_request_t req;
        ob_oms_command_request(self->cfg.oms_id, job->cmd, &req);
        job->method = req.method;
        body = req.body;
        body_len = req.body_len;
        n = snprintf(url, sizeof url, "%s%s", self->base_url, req.path);
    }
    CURL *easy = curl_easy_init();
    if (!easy || n < 0 || (size_t)n >= sizeof url) {
        curl_easy_cleanup(easy);
        s_job_retry(job, job->phase, "memory");
        return;
    }
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)self->cfg.timeout_ms);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)self->cfg.connect_ms);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, job->method);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body); /* borrowed from job->cmd */
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (curl_multi_add_handle(self->multi, easy) != CURLM_OK) {
        curl_easy_cleanup(easy);
        s_job_retry(job, job->phase, "memory");
        return;
    }
    job->easy = easy;
    job->started_ms = s_now_ms();
    self->running++;
}

/* Starts the jobs waiting for a slot while there is room. */
static void
s_slots_fill(s_conn_t *self)
{
    s_job_t *job;
    while (self->running < self->cfg.inflight && (job = zlistx_first(self->slots))) {
        zlistx_delete(self->slots, zlistx_cursor(self->slots));
        job->in_slots = 0;
        s_job_go(job);
    }
}

/* Writes job's posting record (the scope's top before the POST) and posts. */
static void
s_job_post(s_job_t *job)
{
    s_conn_t *self = job->conn;
    if (!job->posting) {
        int rc = s_db_put(self, job->id, S_REC_POSTING, job->watermark, job->key, 0);
        if (rc) {
            zsys_error("connector %s: cannot record command %s before posting: %s", self->oms_text,
                       job->id, ob_strerror(rc));
            s_job_retry(job, S_LIST, "storage");
            return;
        }
        job->posting = 1;
    }
    s_job_stop_request(job);
    job->phase = S_REQUEST;
    s_job_go(job);
}

/* Returns 1 if the string at a.key equals the one at b.key, absent counting as "". */
static int
s_same(const json_t *a, const json_t *b, const char *key)
{
    const char *x = json_string_value(json_object_get(a, key));
    const char *y = json_string_value(json_object_get(b, key));
    return !strcmp(x ? x : "", y ? y : "");
}

/* Returns 1 if the listed message m is what job posts: the same author (role, email, name,
   uid), scope, and content (unless the listing hides it, as for user_direct). */
static int
s_is_ours(const json_t *sent, const json_t *m)
{
    const json_t *a = json_object_get(sent, "author"), *b = json_object_get(m, "author");
    if (!json_is_object(b) || !s_same(a, b, "role") || !s_same(a, b, "email") ||
        !s_same(a, b, "name") || !s_same(a, b, "uid") || !s_same(sent, m, "scope"))
        return 0;
    const char *content = json_string_value(json_object_get(m, "content"));
    if (content && !strcmp(content, S_OBFUSCATED) &&
        !strcmp(json_string_value(json_object_get(sent, "scope")), "user_direct"))
        return 1;
    return s_same(sent, m, "content");
}

/* A page of the scope's messages arrived (2xx). */
static void
s_job_listed(s_job_t *job)
{
    json_t *page =
        json_loadb(job->answer ? job->answer : "", job->answer_len, JSON_REJECT_DUPLICATES, NULL);
    json_t *list = json_object_get(page, "messages");
    json_t *sent = json_loads(job->cmd->body, 0, NULL);
    if (!json_is_array(list) || !sent) { /* not the Marketplace's shape: post as if new */
        zsys_warning("connector %s: command %s: the messages of %s do not parse; posting",
                     job->conn->oms_text, job->id, job->key);
        json_decref(page);
        json_decref(sent);
        s_job_post(job);
        return;
    }
    size_t i;
    json_t *m;
    uint64_t top = job->list_from;
    json_array_foreach(list, i, m)
    {
        json_t *idv = json_object_get(m, "id");
        uint64_t id = json_is_integer(idv) && json_integer_value(idv) > 0
                          ? (uint64_t)json_integer_value(idv)
                          : 0;
        if (id > top)
            top = id;
        if (job->search && id > job->watermark && s_is_ours(sent, m)) {
            /* Ours: answer as the POST did, with the content sent (a GET hides
               user_direct's). */
            json_object_set(m, "content", json_object_get(sent, "content"));
            char *text = json_dumps(m, JSON_COMPACT);
            json_decref(page);
            json_decref(sent);
            if (!text) {
                s_job_retry(job, S_LIST, "memory");
                return;
            }
            zsys_info("connector %s: command %s: message %" PRIu64
                      " found, posted before; not posting again",
                      job->conn->oms_text, job->id, id);
            s_job_stop_request(job);
            s_job_outcome(job, S_POST_STATUS, text, strlen(text));
            free(text);
            return;
        }
    }
    size_t count = json_array_size(list);
    json_decref(page);
    json_decref(sent);
    if (count >= OB_CONNECTOR_LIST_LIMIT && top > job->list_from) { /* next page */
        s_job_stop_request(job);
        job->list_from = top;
        s_job_go(job);
        return;
    }
    if (!job->search && top > job->watermark)
        job->watermark = top;
    s_job_post(job);
}

/* A request of job ended: code is curl's result, status the HTTP status. */
static void
s_job_answered(s_job_t *job, CURLcode code, long status)
{
    s_conn_t *self = job->conn;
    if (self->cfg.metrics && self->cfg.metrics->latency)
        ob_metric_observe(self->cfg.metrics->latency,
                          (const char *const[]){self->oms_text, job->method},
                          (double)(s_now_ms() - job->started_ms) / 1000.0);
    /* A POST that may have been made is looked for before it is made again. */
    s_phase_t again = job->phase == S_REQUEST && job->posting ? S_LIST : job->phase;
    if (code != CURLE_OK) {
        zsys_warning("connector %s: command %s: %s %s", self->oms_text, job->id, job->method,
                     curl_easy_strerror(code));
        if (again == S_LIST)
            job->search = job->posting;
        s_job_retry(job, again, code == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connection");
        return;
    }
    /* Only what may pass is retried; a 3xx (the API never redirects) is an error to see. */
    if (status >= 500 || status == 408 || status == 429) {
        if (again == S_LIST)
            job->search = job->posting;
        s_job_retry(job, again, status >= 500 ? "5xx" : "status");
        return;
    }
    if (job->phase == S_LIST) {
        if (status / 100 == 2)
            s_job_listed(job);
        else /* the POST will say what is wrong */
            s_job_post(job);
        return;
    }
    s_job_outcome(job, (int)status, job->answer, job->answer_len);
}

/* Takes the ended requests from the multi handle. */
static void
s_curl_collect(s_conn_t *self)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(self->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        s_job_t *job = NULL;
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(self->multi, job->easy);
        curl_easy_cleanup(job->easy);
        job->easy = NULL;
        self->running--;
        s_job_answered(job, code, status);
    }
}

/* Starts job, the head of its key. */
static void
s_job_start(s_job_t *job)
{
    s_conn_t *self = job->conn;
    int state = 0;
    uint64_t watermark = 0;
    int rc = s_db_get(self, job->id, &state, &watermark);
    if (rc) {
        zsys_error("connector %s: cannot read the record of command %s: %s", self->oms_text,
                   job->id, ob_strerror(rc));
        s_job_retry(job, S_QUEUED, "storage");
        return;
    }
    if (state == S_REC_DONE) { /* its outcome is on the bus: a redelivery, or a reused id */
        zsys_info("connector %s: command %s (seq %s) done before; acked", self->oms_text, job->id,
                  job->seq);
        s_job_ack(job, "duplicate");
        return;
    }
    if (!job->cmd) {
        s_job_outcome(job, 0, NULL, 0);
        return;
    }
    if (job->cmd->kind != OB_OMS_COMMAND_POST_MESSAGE) {
        job->phase = S_REQUEST;
        s_job_go(job);
        return;
    }
    job->phase = S_LIST;
    job->posting = state == S_REC_POSTING;
    job->search = job->posting;
    job->watermark = job->posting ? watermark : s_db_scope_top(self, job->key);
    job->list_from = job->watermark;
    s_job_go(job);
}

/* Resumes the jobs whose retry delay is over. */
static void
s_timers(s_conn_t *self, int64_t *ret_next_ms)
{
    int64_t now = s_now_ms();
    int64_t next = now + S_POLL_MS;
    s_job_t *job = zhashx_first(self->by_seq);
    zlistx_t *due = zlistx_new();
    for (; job; job = zhashx_next(self->by_seq)) {
        if (job->phase != S_WAIT)
            continue;
        if (job->due_ms <= now && due)
            zlistx_add_end(due, job);
        else if (job->due_ms < next)
            next = job->due_ms;
    }
    for (job = due ? zlistx_first(due) : NULL; job; job = zlistx_next(due)) {
        job->phase = job->resume;
        if (job->phase == S_QUEUED)
            s_job_start(job);
        else if (job->phase == S_PUBLISH)
            s_job_publish(job);
        else {
            if (job->phase == S_LIST)
                job->list_from = job->watermark;
            s_job_go(job);
        }
    }
    zlistx_destroy(&due);
    if (self->prune_at_ms <= now)
        s_db_prune(self);
    *ret_next_ms = next;
}

/* --- the broker ------------------------------------------------------------------------- */

/* A delivery of mp.<oms_id> arrived: d is taken. */
static void
s_on_delivery(s_conn_t *self, ob_delivery_t *d)
{
    char seq[S_U64_TEXT];
    snprintf(seq, sizeof seq, "%" PRIu64, d->seq);
    s_job_t *held = zhashx_lookup(self->by_seq, seq);
    if (held) { /* a redelivery of a command held here: keep the newest, to ack it */
        ob_delivery_destroy(&held->delivery);
        held->delivery = d;
        return;
    }
    ob_event_t *event = NULL;
    s_job_t *job = calloc(1, sizeof *job);
    char err[OB_OMS_COMMAND_ERR_MAX] = "";
    int rc = job ? ob_delivery_decode(d, &event) : -ENOMEM;
    if (rc == 0)
        rc = ob_oms_command_parse((const char *)event->data, event->data_len, &job->cmd, err,
                                  sizeof err);
    if (rc == 0 && ob_oms_command_check_type(job->cmd, event->type) != 0) {
        snprintf(err, sizeof err, "type: not command.%s", ob_oms_command_name(job->cmd->kind));
        ob_oms_command_destroy(&job->cmd);
        rc = OB_ERR_FIELD_TYPE;
    }
    if (rc == -ENOMEM) { /* not acked: it comes again after ack_wait_ms */
        zsys_error("connector %s: out of memory for the command at seq %s", self->oms_text, seq);
        goto drop;
    }
    if (rc == 0) {
        memcpy(job->id, job->cmd->id, sizeof job->id);
        ob_oms_command_order_key(job->cmd, job->key);
    } else if (event &&
               ob_oms_command_id((const char *)event->data, event->data_len, job->id) == 0) {
        job->refusal = strdup(err);
        snprintf(job->key, sizeof job->key, "seq.%s", seq);
        zsys_warning("connector %s: command %s (seq %s) refused: %s", self->oms_text, job->id, seq,
                     err);
        if (!job->refusal)
            goto drop;
    } else { /* no outcome can name it: refused until the broker dead-letters it */
        zsys_warning("connector %s: the event at seq %s (attempt %u) is no command with an "
                     "id; NACKed towards dlq.%s",
                     self->oms_text, seq, d->attempt, self->sub);
        ob_client_nack(self->client, d, 0);
        s_count(self, "unknown", "dead_lettered");
        goto drop;
    }
    ob_event_destroy(&event);
    job->conn = self;
    job->delivery = d;
    memcpy(job->seq, seq, sizeof seq);
    zlistx_t *queue = zhashx_lookup(self->keys, job->key);
    if (!queue) {
        queue = zlistx_new();
        if (!queue || zhashx_insert(self->keys, job->key, queue)) {
            zlistx_destroy(&queue);
            job->delivery = NULL;
            goto drop;
        }
    }
    if (!zlistx_add_end(queue, job)) {
        job->delivery = NULL;
        goto drop;
    }
    job->queue = queue;
    zhashx_insert(self->by_seq, job->seq, job);
    if (zlistx_size(queue) == 1)
        s_job_start(job);
    return;
drop:
    ob_event_destroy(&event);
    s_job_free(job);
    ob_delivery_destroy(&d);
}

/* Subscribes when it is time to. */
static void
s_subscribe(s_conn_t *self)
{
    if (self->subscribed || s_now_ms() < self->subscribe_at_ms)
        return;
    const char *patterns[] = {self->topic};
    ob_sub_options_t opts = {.patterns = patterns,
                             .pattern_count = 1,
                             .start = OB_START_EARLIEST,
                             .credit = self->cfg.credit,
                             .ack_wait_ms = self->cfg.ack_wait_ms,
                             .max_attempts = self->cfg.max_attempts};
    int rc = ob_client_connect(self->client, (int)self->cfg.broker_ms);
    if (rc == 0)
        rc = ob_client_subscribe(self->client, self->sub, &opts, NULL, NULL);
    if (rc) {
        zsys_warning("connector %s: cannot subscribe %s to %s: %s %s", self->oms_text, self->sub,
                     self->topic, ob_strerror(rc), ob_client_last_reason(self->client));
        self->subscribe_at_ms = s_now_ms() + self->cfg.retry_min_ms;
        return;
    }
    self->subscribed = 1;
    zsys_info("connector %s: subscribed %s to %s", self->oms_text, self->sub, self->topic);
}

/* Takes every delivery and confirmation the client holds. */
static void
s_client_drain(s_conn_t *self)
{
    for (int more = 1; more;) {
        more = s_kick(self);
        ob_confirm_t confirm;
        while (ob_client_confirm_next(self->client, 0, &confirm) == 0) {
            char token[S_U64_TEXT];
            snprintf(token, sizeof token, "%" PRIu64, confirm.token);
            s_job_t *job = zhashx_lookup(self->by_token, token);
            if (job)
                s_job_confirmed(job, &confirm);
            more = 1;
        }
        ob_delivery_t *d = NULL;
        int rc;
        while ((rc = ob_client_receive(self->client, 0, &d)) != OB_ERR_TIMEOUT) {
            more = 1;
            if (rc == 0) {
                s_on_delivery(self, d);
            } else if (rc == -EINTR || rc == OB_ERR_CLOSED) {
                more = 0;
                break;
            } else {
                zsys_warning("connector %s: subscription %s lost: %s", self->oms_text,
                             ob_client_lost_sub(self->client), ob_strerror(rc));
                self->subscribed = 0;
                self->subscribe_at_ms = s_now_ms();
            }
        }
    }
}

/* --- the actor ------------------------------------------------------------------------------ */

static void
s_conn_destroy(s_conn_t **self_p)
{
    s_conn_t *self = *self_p;
    if (!self)
        return;
    if (self->by_seq) {
        for (s_job_t *job = zhashx_first(self->by_seq); job; job = zhashx_next(self->by_seq))
            s_job_free(job); /* unacked: the broker delivers them again */
        zhashx_destroy(&self->by_seq);
    }
    zhashx_destroy(&self->keys); /* and its queues */
    zhashx_destroy(&self->by_token);
    zlistx_destroy(&self->slots);
    zlistx_destroy(&self->kick);
    if (self->multi)
        curl_multi_cleanup(self->multi);
    for (struct curl_slist *h = self->headers; h; h = h->next)
        sodium_memzero(h->data, strlen(h->data));
    curl_slist_free_all(self->headers);
    ob_client_destroy(&self->client);
    if (self->token)
        sodium_memzero(self->token, strlen(self->token));
    free(self->token);
    free(self->base_url);
    free(self->endpoint);
    free(self->cert);
    free(self->broker_cert);
    free(self->client_name);
    free(self);
    *self_p = NULL;
}

/* Replaces 0s of config with the defaults. */
static void
s_defaults(ob_connector_config_t *c)
{
    c->inflight = c->inflight ? c->inflight : OB_CONNECTOR_INFLIGHT_DEFAULT;
    c->credit = c->credit ? c->credit : OB_CONNECTOR_CREDIT_DEFAULT;
    c->timeout_ms = c->timeout_ms ? c->timeout_ms : OB_CONNECTOR_TIMEOUT_MS_DEFAULT;
    c->connect_ms = c->connect_ms ? c->connect_ms : OB_CONNECTOR_CONNECT_MS_DEFAULT;
    c->retry_min_ms = c->retry_min_ms ? c->retry_min_ms : OB_CONNECTOR_RETRY_MIN_MS_DEFAULT;
    c->retry_max_ms = c->retry_max_ms ? c->retry_max_ms : OB_CONNECTOR_RETRY_MAX_MS_DEFAULT;
    c->ack_wait_ms = c->ack_wait_ms ? c->ack_wait_ms : OB_CONNECTOR_ACK_WAIT_MS_DEFAULT;
    c->max_attempts = c->max_attempts ? c->max_attempts : OB_CONNECTOR_ATTEMPTS_DEFAULT;
    c->retention_s = c->retention_s ? c->retention_s : OB_CONNECTOR_RETENTION_S_DEFAULT;
    c->broker_ms = c->broker_ms ? c->broker_ms : OB_CONNECTOR_BROKER_MS_DEFAULT;
}

int
ob_connector_config_check(const ob_connector_config_t *config, char *errbuf, size_t errlen)
{
    ob_connector_config_t c = *config;
    s_defaults(&c);
    const char *why = NULL;
    if (c.oms_id == 0)
        why = "oms_id: missing";
    else if (!c.base_url || strlen(c.base_url) > OB_CONNECTOR_URL_MAX ||
             (strncmp(c.base_url, S_HTTP, strlen(S_HTTP)) &&
              strncmp(c.base_url, S_HTTPS, strlen(S_HTTPS))))
        why = "base_url: not an http:// or https:// URL of at most " S_STR(
            OB_CONNECTOR_URL_MAX) " bytes";
    else if (!c.token || !c.token[0] || strlen(c.token) > OB_CONNECTOR_TOKEN_MAX ||
             strpbrk(c.token, "\r\n"))
        why = "token: empty, over " S_STR(OB_CONNECTOR_TOKEN_MAX) " bytes, or with a line break";
    else if (!c.endpoint)
        why = "endpoint: missing";
    else if (!c.env)
        why = "env: missing";
    else if (!!c.cert != !!c.broker_cert)
        why = "cert and broker_cert: both or neither";
    else if (c.inflight > OB_CONNECTOR_INFLIGHT_MAX)
        why = "inflight: over " S_STR(OB_CONNECTOR_INFLIGHT_MAX);
    else if (c.credit > OB_CREDIT_MAX)
        why = "credit: over " S_STR(OB_CREDIT_MAX);
    else if (c.retry_min_ms > c.retry_max_ms)
        why = "retry_min_ms: above retry_max_ms";
    else if (c.ack_wait_ms < OB_ACK_WAIT_MS_MIN || c.ack_wait_ms > OB_DELAY_MS_MAX)
        why = "ack_wait_ms: out of " S_STR(OB_ACK_WAIT_MS_MIN) ".." S_STR(OB_DELAY_MS_MAX);
    else if (c.max_attempts > OB_MAX_ATTEMPTS_MAX)
        why = "max_attempts: over " S_STR(OB_MAX_ATTEMPTS_MAX);
    else if (c.sub_name &&
             (!c.sub_name[0] || strlen(c.sub_name) > OB_SUB_NAME_MAX ||
              strspn(c.sub_name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(c.sub_name)))
        why = "sub_name: not 1.." S_STR(OB_SUB_NAME_MAX) " bytes of [a-z0-9_-]";
    if (why && errbuf && errlen)
        snprintf(errbuf, errlen, "%s", why);
    return why ? OB_ERR_INVALID_ARGUMENT : 0;
}

/* Duplicates s (NULL stays NULL); *ok becomes 0 when out of memory. */
static char *
s_dup(const char *s, int *ok)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *ok = 0;
    return d;
}

/* Makes the connector's state from config (checked). Returns NULL on failure (logged). */
static s_conn_t *
s_conn_new(const ob_connector_config_t *config)
{
    s_conn_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    int ok = 1;
    self->cfg = *config;
    s_defaults(&self->cfg);
    self->base_url = s_dup(config->base_url, &ok);
    self->token = s_dup(config->token, &ok);
    self->endpoint = s_dup(config->endpoint, &ok);
    self->cert = s_dup(config->cert, &ok);
    self->broker_cert = s_dup(config->broker_cert, &ok);
    self->client_name =
        s_dup(config->client_name ? config->client_name : OB_CONNECTOR_CLIENT_NAME, &ok);
    self->env = config->env;
    snprintf(self->oms_text, sizeof self->oms_text, "%" PRIu64, self->cfg.oms_id);
    snprintf(self->topic, sizeof self->topic, "mp.%" PRIu64, self->cfg.oms_id);
    if (config->sub_name)
        snprintf(self->sub, sizeof self->sub, "%s", config->sub_name);
    else
        snprintf(self->sub, sizeof self->sub, OB_CONNECTOR_SUB_PREFIX "%" PRIu64, self->cfg.oms_id);
    size_t blen = self->base_url ? strlen(self->base_url) : 0;
    while (blen && self->base_url[blen - 1] == '/') /* paths bring their own */
        self->base_url[--blen] = '\0';
    self->keys = zhashx_new();
    if (self->keys) /* a key's queue goes with its entry */
        zhashx_set_destructor(self->keys, (zhashx_destructor_fn *)zlistx_destroy);
    self->by_seq = zhashx_new();
    self->by_token = zhashx_new();
    self->slots = zlistx_new();
    self->kick = zlistx_new();
    self->multi = curl_multi_init();
    if (!ok || !self->keys || !self->by_seq || !self->by_token || !self->slots || !self->kick ||
        !self->multi)
        goto fail;
    /* The header with the token is built in a buffer wiped at once, as curl copies it. */
    size_t hlen = strlen("X-User-Token: ") + strlen(self->token) + 1;
    char *h = malloc(hlen);
    if (!h)
        goto fail;
    snprintf(h, hlen, "X-User-Token: %s", self->token);
    struct curl_slist *l = curl_slist_append(NULL, h);
    sodium_memzero(h, hlen);
    free(h);
    struct curl_slist *l2 = l ? curl_slist_append(l, "Content-Type: application/json") : NULL;
    struct curl_slist *l3 = l2 ? curl_slist_append(l2, "Accept: application/json") : NULL;
    self->headers = l3 ? l3 : l2 ? l2 : l;
    if (!l3)
        goto fail;
    curl_multi_setopt(self->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)self->cfg.inflight);

    char dbname[sizeof OB_CONNECTOR_DB_PREFIX + S_U64_TEXT];
    snprintf(dbname, sizeof dbname, OB_CONNECTOR_DB_PREFIX "%" PRIu64, self->cfg.oms_id);
    MDB_txn *txn = NULL;
    int rc = s_txn_begin(self, 0, &txn);
    if (rc == 0 && (rc = mdb_dbi_open(txn, dbname, MDB_CREATE, &self->dbi)) == 0)
        rc = s_txn_commit(self, txn);
    else if (txn)
        s_txn_abort(self, txn);
    if (rc) {
        zsys_error("connector %s: cannot open its database %s: %s", self->oms_text, dbname,
                   mdb_strerror(rc));
        goto fail;
    }

    ob_client_config_t cc = {.name = self->client_name,
                             .window = self->cfg.credit,
                             .timeout_ms = (int)self->cfg.broker_ms,
                             .cert = self->cert,
                             .broker_cert = self->broker_cert};
    if (cc.window > OB_WINDOW_MAX)
        cc.window = OB_WINDOW_MAX;
    self->client = ob_client_new(self->endpoint, &cc);
    if (!self->client) {
        zsys_error("connector %s: cannot make a broker client for %s", self->oms_text,
                   self->endpoint);
        goto fail;
    }
    return self;
fail:
    zsys_error("connector %s: cannot start (out of memory, or as said above)", self->oms_text);
    s_conn_destroy(&self);
    return NULL;
}

/* Handles a command on the pipe. */
static void
s_on_pipe(s_conn_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    if (!msg || (command && !strcmp(command, "$TERM")))
        self->terminated = 1;
    else if (command && !strcmp(command, "STATUS"))
        zstr_send(self->pipe, self->subscribed ? "ready" : "connecting");
    else
        zsys_warning("connector %s: unknown command on its pipe", self->oms_text);
    free(command);
    zmsg_destroy(&msg);
}

typedef struct s_start {
    const ob_connector_config_t *config; /* borrowed */
    int rc;                              /* set by the actor before it signals */
} s_start_t;

static void
s_actor(zsock_t *pipe, void *arg)
{
    s_start_t *start = arg;
    s_conn_t *self = s_conn_new(start->config);
    start->rc = self ? 0 : -1;
    zsock_signal(pipe, 0);
    if (!self)
        return;
    self->pipe = pipe;
    s_db_prune(self);
    while (!self->terminated) {
        while (!self->terminated && (zsock_events(pipe) & ZMQ_POLLIN))
            s_on_pipe(self);
        if (self->terminated)
            break;
        s_subscribe(self);
        int still;
        curl_multi_perform(self->multi, &still);
        s_curl_collect(self);
        int64_t next_ms;
        s_timers(self, &next_ms);
        s_slots_fill(self);
        s_client_drain(self);
        if (zsys_interrupted)
            break;
        if (!self->subscribed && self->subscribe_at_ms < next_ms)
            next_ms = self->subscribe_at_ms;
        int64_t wait = next_ms - s_now_ms();
        struct curl_waitfd fds[2] = {
            {.fd = zsock_fd(pipe), .events = CURL_WAIT_POLLIN},
            {.fd = ob_client_fd(self->client), .events = CURL_WAIT_POLLIN},
        };
        curl_multi_poll(self->multi, fds, 2,
                        wait < 0           ? 0
                        : wait > S_POLL_MS ? S_POLL_MS
                                           : (int)wait,
                        NULL);
    }
    s_conn_destroy(&self);
}

zactor_t *
ob_connector_start(const ob_connector_config_t *config)
{
    char why[OB_OMS_COMMAND_ERR_MAX];
    if (ob_connector_config_check(config, why, sizeof why)) {
        zsys_error("connector %" PRIu64 ": %s", config->oms_id, why);
        return NULL;
    }
    s_start_t start = {.config = config, .rc = -1};
    zactor_t *actor = zactor_new(s_actor, &start);
    if (actor && start.rc) /* the actor has ended: its last signal is waiting */
        zactor_destroy(&actor);
    return actor;
}

int
ob_connector_metrics_register(ob_metrics_t *registry, ob_connector_metrics_t *ret_metrics)
{
    static const char *const cmd_labels[] = {"oms", "command", "outcome"};
    static const char *const retry_labels[] = {"oms", "command", "reason"};
    static const char *const http_labels[] = {"oms", "method"};
    ob_connector_metrics_t m = {
        .commands = ob_metrics_counter(registry, "orderbus_gateway_commands_total",
                                       "OMS commands ended, by OMS, command and outcome "
                                       "(completed, failed, refused, duplicate, dead_lettered, "
                                       "unpublished)",
                                       cmd_labels, 3, S_SERIES_MAX),
        .retries = ob_metrics_counter(registry, "orderbus_gateway_command_retries_total",
                                      "Retries of OMS commands, by OMS, command and reason "
                                      "(5xx, status, timeout, connection, broker, storage, memory)",
                                      retry_labels, 3, S_SERIES_MAX),
        .latency = ob_metrics_histogram(registry, "orderbus_gateway_marketplace_request_seconds",
                                        "Marketplace requests of the upstream connector, by OMS "
                                        "and method, in seconds",
                                        http_labels, 2, S_SERIES_MAX, s_latency_bounds,
                                        sizeof s_latency_bounds / sizeof s_latency_bounds[0]),
    };
    if (!m.commands || !m.retries || !m.latency)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_metrics = m;
    return 0;
}
