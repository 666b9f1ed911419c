/*  ob_facade_view: see facade_view.h. */
#include "facade_view.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdb.h"
#include "mp_event.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_DIR_MODE 0700
#define S_FILE_MODE 0600
#define S_U64 8                   /* bytes of a big-endian u64 */
#define S_KEY_MAX (1 + 4 * S_U64) /* a tag and up to four u64 */
#define S_POS_LEN (4 * S_U64)     /* a position record */
#define S_MSG_HEAD (2 * S_U64)    /* a message record's placement */
#define S_CLIENT_NAME "orderbus-gateway-facade"
#define S_LABEL_MAX 24 /* an OMS id in decimal with its NUL */
#define S_DRAIN 64     /* bytes of the wake pipe read at once */
#define S_SUBS_MAX ((OB_GW_OMS_MAX + OB_SUB_PATTERNS_MAX - 1) / OB_SUB_PATTERNS_MAX)

enum {
    S_TAG_POS = 'P',     /* oms */
    S_TAG_EVENT = 'E',   /* oms seq */
    S_TAG_TIME = 'T',    /* oms timestamp */
    S_TAG_PROJECT = 'p', /* oms project */
    S_TAG_ITEM = 'i',    /* oms project iid */
    S_TAG_MESSAGE = 'm', /* oms message */
    S_TAG_SCOPE = 's',   /* oms project iid message */
};

/* An OMS's position record. */
typedef struct s_pos {
    uint64_t next;    /* next seq to read */
    uint64_t last_ts; /* last event timestamp given, µs */
    uint64_t events;  /* events indexed */
    uint64_t lost;    /* seqs retention removed before they were read */
} s_pos_t;

struct ob_facade_view {
    MDB_env *env;                    /* the environment */
    MDB_dbi dbi;                     /* its unnamed database */
    pthread_rwlock_t resize;         /* readers hold it for reading; growing takes it for writing */
    int resize_init;                 /* resize is initialised */
    ob_metric_t *m_events;           /* orderbus_gateway_facade_view_events_total{oms} */
    ob_metric_t *m_lost;             /* orderbus_gateway_facade_view_lost_total{oms} */
    ob_metric_t *m_errors;           /* orderbus_gateway_facade_view_errors_total{oms} */
    ob_metric_t *m_seq;              /* orderbus_gateway_facade_view_seq{oms} */
    const ob_gw_config_t *cfg;       /* borrowed, while the thread runs */
    pthread_mutex_t lock;            /* guards stop */
    int wake[2];                     /* a pipe: a byte wakes the thread (stop); -1 before */
    int stop;                        /* 1: the thread ends */
    int started;                     /* 1: the thread runs (joinable) */
    pthread_t thread;                /* the view thread */
    ob_client_t *client;             /* the thread's broker client (made and destroyed there) */
    ob_facade_view_notify_fn notify; /* new events to serve, or NULL */
    void *notify_arg;                /* notify's argument, borrowed */
};

/* ---------------------------------------------------------------------------------------- */
/* Keys and records */

static void
s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < S_U64; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < S_U64; i++)
        v = v << 8 | p[i];
    return v;
}

/* Writes tag and the n u64s of v into key; returns its length. */
static size_t
s_key(uint8_t key[S_KEY_MAX], int tag, const uint64_t *v, size_t n)
{
    key[0] = (uint8_t)tag;
    for (size_t i = 0; i < n; i++)
        s_put_u64(key + 1 + i * S_U64, v[i]);
    return 1 + n * S_U64;
}

/* 1 if k (an LMDB key) starts with prefix (len bytes). */
static int
s_has_prefix(const MDB_val *k, const uint8_t *prefix, size_t len)
{
    return k->mv_size >= len && !memcmp(k->mv_data, prefix, len);
}

/* The u64 number i of key k after its tag (the caller checked the length). */
static uint64_t
s_key_u64(const MDB_val *k, size_t i)
{
    return s_get_u64((const uint8_t *)k->mv_data + 1 + i * S_U64);
}

static int
s_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len, MDB_val *ret_val)
{
    MDB_val k = {len, (void *)key};
    return mdb_get(txn, dbi, &k, ret_val);
}

static int
s_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len, const void *val, size_t vlen)
{
    MDB_val k = {len, (void *)key}, v = {vlen, (void *)val};
    return mdb_put(txn, dbi, &k, &v, 0);
}

/* Reads oms's position in txn (the default when none). Returns 0 or an LMDB code. */
static int
s_pos_read(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, s_pos_t *ret_pos)
{
    uint8_t key[S_KEY_MAX];
    MDB_val v;
    int rc = s_get(txn, dbi, key, s_key(key, S_TAG_POS, &oms, 1), &v);
    if (rc == MDB_NOTFOUND) {
        *ret_pos = (s_pos_t){.next = 1};
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != S_POS_LEN)
        return MDB_CORRUPTED;
    const uint8_t *p = v.mv_data;
    *ret_pos = (s_pos_t){s_get_u64(p), s_get_u64(p + S_U64), s_get_u64(p + 2 * S_U64),
                         s_get_u64(p + 3 * S_U64)};
    return 0;
}

static int
s_pos_write(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, const s_pos_t *pos)
{
    uint8_t key[S_KEY_MAX], val[S_POS_LEN];
    s_put_u64(val, pos->next);
    s_put_u64(val + S_U64, pos->last_ts);
    s_put_u64(val + 2 * S_U64, pos->events);
    s_put_u64(val + 3 * S_U64, pos->lost);
    return s_put(txn, dbi, key, s_key(key, S_TAG_POS, &oms, 1), val, sizeof val);
}

/* ---------------------------------------------------------------------------------------- */
/* Life */

ob_facade_view_t *
ob_facade_view_open(const char *dir, ob_metrics_t *registry, char *errbuf, size_t errlen)
{
    ob_facade_view_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    int rc = pthread_rwlock_init(&self->resize, NULL);
    if (rc) {
        free(self);
        snprintf(errbuf, errlen, "no rwlock: %s", strerror(rc));
        return NULL;
    }
    self->resize_init = 1;
    pthread_mutex_init(&self->lock, NULL);
    self->wake[0] = self->wake[1] = -1;
    MDB_txn *txn = NULL;
    if (mkdir(dir, S_DIR_MODE) && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = mdb_env_create(&self->env)) ||
        (rc = mdb_env_set_mapsize(self->env, OB_GW_FACADE_MAP)) ||
        (rc = mdb_env_open(self->env, dir, MDB_NOMETASYNC | MDB_NOTLS, S_FILE_MODE)) ||
        (rc = mdb_txn_begin(self->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, NULL, 0, &self->dbi))) {
        if (txn)
            mdb_txn_abort(txn);
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    if ((rc = ob_mdb_rc(mdb_txn_commit(txn))))
        goto fail;
    ob_mdb_reader_check(self->env, NULL);
    if (registry) {
        static const char *const oms[] = {"oms"};
        self->m_events = ob_metrics_counter(registry, "orderbus_gateway_facade_view_events_total",
                                            "Events of oms.<id> read into the facade's view.", oms,
                                            1, OB_GW_OMS_MAX);
        self->m_lost = ob_metrics_counter(
            registry, "orderbus_gateway_facade_view_lost_total",
            "Seqs of oms.<id> that retention removed before the facade's view read them.", oms, 1,
            OB_GW_OMS_MAX);
        self->m_errors = ob_metrics_counter(
            registry, "orderbus_gateway_facade_view_errors_total",
            "Events of oms.<id> the view could not use whole (not an event, a snapshot that is "
            "not the resource's JSON).",
            oms, 1, OB_GW_OMS_MAX);
        self->m_seq = ob_metrics_gauge(registry, "orderbus_gateway_facade_view_seq",
                                       "The last seq of oms.<id> in the facade's view.", oms, 1,
                                       OB_GW_OMS_MAX);
        if (!self->m_events || !self->m_lost || !self->m_errors || !self->m_seq) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    return self;
fail:
    snprintf(errbuf, errlen, "facade view %s: %s", dir, ob_strerror(rc));
    ob_facade_view_destroy(&self);
    return NULL;
}

void
ob_facade_view_destroy(ob_facade_view_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_facade_view_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock(&self->lock);
        self->stop = 1;
        pthread_mutex_unlock(&self->lock);
        char byte = 1;
        if (write(self->wake[1], &byte, 1) < 0) { /* full: a wake is pending anyway */
        }
        pthread_join(self->thread, NULL);
    }
    for (int i = 0; i < 2; i++)
        if (self->wake[i] >= 0)
            close(self->wake[i]);
    if (self->env)
        mdb_env_close(self->env);
    if (self->resize_init) {
        pthread_rwlock_destroy(&self->resize);
        pthread_mutex_destroy(&self->lock);
    }
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Writing */

/* The iids of the items the view holds of project p of oms, into a new array. Returns 0 or
   an LMDB code / -ENOMEM. */
static int
s_item_iids(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, uint64_t p, uint64_t **ret_iids,
            size_t *ret_count)
{
    uint8_t key[S_KEY_MAX];
    uint64_t ids[] = {oms, p};
    size_t plen = s_key(key, S_TAG_ITEM, ids, 2);
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    uint64_t *iids = NULL;
    size_t n = 0, size = 0;
    MDB_val k = {plen, key}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && s_has_prefix(&k, key, plen);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + S_U64)
            continue;
        if (n == size) {
            size = size ? 2 * size : OB_GW_FACADE_LIMIT_DEFAULT;
            uint64_t *grown = realloc(iids, size * sizeof *iids);
            if (!grown) {
                rc = -ENOMEM;
                break;
            }
            iids = grown;
        }
        iids[n++] = s_key_u64(&k, 2);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        free(iids);
        return rc;
    }
    *ret_iids = iids;
    *ret_count = n;
    return 0;
}

/* Writes project snapshot json of oms with the iids the view holds merged in. Returns 0 or
   an LMDB code / -ENOMEM; a snapshot that does not merge is written as it is. */
static int
s_put_project(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, uint64_t p, const char *json, size_t len)
{
    uint64_t *iids = NULL;
    size_t n = 0;
    int rc = s_item_iids(txn, dbi, oms, p, &iids, &n);
    if (rc)
        return rc;
    char *merged = NULL;
    size_t mlen = 0;
    if (n && (rc = ob_facade_project_merge(json, len, iids, n, &merged, &mlen)) == -ENOMEM) {
        free(iids);
        return rc;
    }
    free(iids);
    uint8_t key[S_KEY_MAX];
    uint64_t ids[] = {oms, p};
    rc = s_put(txn, dbi, key, s_key(key, S_TAG_PROJECT, ids, 2), merged ? merged : json,
               merged ? mlen : len);
    free(merged);
    return rc;
}

/* Writes an item's snapshot and, the first time the view sees the item, adds its iid to its
   project's, if the view holds the project. */
static int
s_put_item(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, const ob_facade_entry_t *e)
{
    uint8_t key[S_KEY_MAX];
    uint64_t ids[] = {oms, e->project_id, e->id};
    size_t klen = s_key(key, S_TAG_ITEM, ids, 3);
    MDB_val v;
    int rc = s_get(txn, dbi, key, klen, &v);
    int seen = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if ((rc = s_put(txn, dbi, key, klen, e->json, e->json_len)) || seen)
        return rc;
    rc = s_get(txn, dbi, key, s_key(key, S_TAG_PROJECT, ids, 2), &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    /* the project's record is a view into the map: copy it before writing over it */
    char *copy = malloc(v.mv_size + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, v.mv_data, v.mv_size);
    rc = s_put_project(txn, dbi, oms, e->project_id, copy, v.mv_size);
    free(copy);
    return rc;
}

/* Writes a message's snapshot and its place in a scope. */
static int
s_put_message(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, const ob_facade_entry_t *e)
{
    uint8_t key[S_KEY_MAX];
    uint64_t ids[] = {oms, e->id};
    size_t klen = s_key(key, S_TAG_MESSAGE, ids, 2);
    uint64_t p = e->project_id, iid = e->item_id;
    MDB_val v;
    int rc = s_get(txn, dbi, key, klen, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (!rc && v.mv_size >= S_MSG_HEAD && !p) { /* an edit's outcome: the place stays */
        p = s_get_u64(v.mv_data);
        iid = s_get_u64((const uint8_t *)v.mv_data + S_U64);
    }
    uint8_t *val = malloc(S_MSG_HEAD + e->json_len);
    if (!val)
        return -ENOMEM;
    s_put_u64(val, p);
    s_put_u64(val + S_U64, iid);
    memcpy(val + S_MSG_HEAD, e->json, e->json_len);
    rc = s_put(txn, dbi, key, klen, val, S_MSG_HEAD + e->json_len);
    free(val);
    if (rc || !p)
        return rc;
    uint64_t sids[] = {oms, p, iid, e->id};
    return s_put(txn, dbi, key, s_key(key, S_TAG_SCOPE, sids, 4), NULL, 0);
}

/* Indexes one event (seq, frame) of oms into txn, moving *pos. Returns 0, an LMDB code or
   -ENOMEM; *ret_bad is 1 for an event the view could not use whole. */
static int
s_apply_one(MDB_txn *txn, MDB_dbi dbi, uint64_t oms, const ob_fetched_t *f, s_pos_t *pos,
            int *ret_bad)
{
    ob_event_t *ev = NULL;
    int rc = ob_event_decode(f->event, f->event_len, &ev);
    if (rc) {
        *ret_bad = 1;
        return rc == -ENOMEM ? rc : 0;
    }
    ob_facade_entry_t e;
    rc = ob_facade_index(ev, &e);
    uint64_t time_us = ev->time_us;
    ob_event_destroy(&ev);
    if (rc == -ENOMEM)
        return rc;
    *ret_bad = rc != 0;
    rc = 0;
    uint8_t key[S_KEY_MAX];
    if (e.fields) {
        uint64_t ts = time_us > pos->last_ts ? time_us : pos->last_ts + 1;
        uint8_t *val = malloc(S_U64 + e.fields_len);
        if (!val) {
            rc = -ENOMEM;
            goto out;
        }
        s_put_u64(val, ts);
        memcpy(val + S_U64, e.fields, e.fields_len);
        uint64_t eids[] = {oms, f->seq}, tids[] = {oms, ts};
        uint8_t seq[S_U64];
        s_put_u64(seq, f->seq);
        rc = s_put(txn, dbi, key, s_key(key, S_TAG_EVENT, eids, 2), val, S_U64 + e.fields_len);
        free(val);
        if (!rc)
            rc = s_put(txn, dbi, key, s_key(key, S_TAG_TIME, tids, 2), seq, sizeof seq);
        if (rc)
            goto out;
        pos->last_ts = ts;
        pos->events++;
    }
    if (e.kind == OB_FACADE_PROJECT)
        rc = s_put_project(txn, dbi, oms, e.id, e.json, e.json_len);
    else if (e.kind == OB_FACADE_ITEM)
        rc = s_put_item(txn, dbi, oms, &e);
    else if (e.kind == OB_FACADE_MESSAGE)
        rc = s_put_message(txn, dbi, oms, &e);
out:
    ob_facade_entry_clear(&e);
    return rc;
}

/* Adds delta to metric's series of oms; no registry: nothing. */
static void
s_count(ob_metric_t *metric, uint64_t oms, double delta, int set)
{
    if (!metric)
        return;
    char label[S_LABEL_MAX];
    snprintf(label, sizeof label, "%" PRIu64, oms);
    const char *values[] = {label};
    if (set)
        (void)ob_metric_set(metric, values, delta);
    else
        (void)ob_metric_add(metric, values, delta);
}

int
ob_facade_view_apply(ob_facade_view_t *self, uint64_t oms_id, uint64_t first_asked,
                     const ob_fetched_t *events, size_t count, uint64_t next)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED && !(rc = ob_mdb_adopt(self->env, &self->resize)))
            continue;
        if (rc)
            return ob_mdb_rc(rc);
        s_pos_t pos;
        size_t bad = 0;
        if (!(rc = s_pos_read(txn, self->dbi, oms_id, &pos))) {
            uint64_t had = pos.events;
            uint64_t first = count ? events[0].seq : next;
            uint64_t lost = first > first_asked ? first - first_asked : 0;
            pos.lost += lost;
            for (size_t i = 0; i < count && !rc; i++) {
                int one = 0;
                rc = s_apply_one(txn, self->dbi, oms_id, &events[i], &pos, &one);
                bad += (size_t)one;
            }
            if (next > pos.next)
                pos.next = next;
            if (!rc)
                rc = s_pos_write(txn, self->dbi, oms_id, &pos);
            if (!rc && !(rc = mdb_txn_commit(txn))) {
                s_count(self->m_events, oms_id, (double)count, 0);
                s_count(self->m_lost, oms_id, (double)lost, 0);
                s_count(self->m_errors, oms_id, (double)bad, 0);
                s_count(self->m_seq, oms_id, (double)(pos.next - 1), 1);
                if (pos.events > had && self->notify)
                    self->notify(self->notify_arg, oms_id);
                return 0;
            }
            txn = NULL; /* a commit frees it either way */
        }
        if (txn)
            mdb_txn_abort(txn);
        if (rc != MDB_MAP_FULL)
            return rc == -ENOMEM ? rc : ob_mdb_rc(rc);
        if ((rc = ob_mdb_grow(self->env, &self->resize)))
            return ob_mdb_rc(rc);
    }
}

/* Reads the position record of oms (zeros and next 1 when none) into *ret_pos. Returns 0 or
   an LMDB code. */
static int
s_pos_get(ob_facade_view_t *self, uint64_t oms, s_pos_t *ret_pos)
{
    pthread_rwlock_rdlock(&self->resize);
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (!rc) {
        rc = s_pos_read(txn, self->dbi, oms, ret_pos);
        mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&self->resize);
    return rc;
}

int
ob_facade_view_position(ob_facade_view_t *self, uint64_t oms_id, uint64_t *ret_next,
                        uint64_t *ret_lost)
{
    s_pos_t pos;
    int rc = s_pos_get(self, oms_id, &pos);
    if (rc)
        return ob_mdb_rc(rc);
    *ret_next = pos.next;
    if (ret_lost)
        *ret_lost = pos.lost;
    return 0;
}

int
ob_facade_view_reset(ob_facade_view_t *self, uint64_t oms_id)
{
    static const int tags[] = {S_TAG_POS,  S_TAG_EVENT,   S_TAG_TIME, S_TAG_PROJECT,
                               S_TAG_ITEM, S_TAG_MESSAGE, S_TAG_SCOPE};
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    rc = mdb_cursor_open(txn, self->dbi, &cur);
    for (size_t t = 0; !rc && t < sizeof tags / sizeof tags[0]; t++) {
        uint8_t key[S_KEY_MAX];
        size_t plen = s_key(key, tags[t], &oms_id, 1);
        for (;;) { /* the first key of the prefix, until there is none */
            MDB_val k = {plen, key}, v;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            if (rc || !s_has_prefix(&k, key, plen) || (rc = mdb_cursor_del(cur, 0)))
                break;
        }
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc) {
        mdb_txn_abort(txn);
        return ob_mdb_rc(rc);
    }
    return ob_mdb_rc(mdb_txn_commit(txn));
}

/* ---------------------------------------------------------------------------------------- */
/* Reading: an ob_facade_source_t over a read transaction */

typedef struct s_read {
    MDB_txn *txn; /* read-only */
    MDB_dbi dbi;  /* the database */
    uint64_t oms; /* the OMS */
} s_read_t;

static int
s_src_events(void *ctx, uint64_t after_seq, uint64_t after_ts_us, size_t limit,
             ob_facade_each_fn fn, void *arg)
{
    s_read_t *r = ctx;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(r->txn, r->dbi, &cur), cb = 0;
    if (rc)
        return ob_mdb_rc(rc);
    uint64_t start = after_seq + 1;
    uint8_t key[S_KEY_MAX];
    size_t plen = s_key(key, S_TAG_TIME, &r->oms, 1);
    MDB_val k, v;
    if (after_ts_us) { /* the first event with a later timestamp: a suffix (facade_read.h) */
        uint64_t tids[] = {r->oms, after_ts_us + 1};
        k = (MDB_val){s_key(key, S_TAG_TIME, tids, 2), key};
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc || !s_has_prefix(&k, key, plen) || v.mv_size != S_U64) {
            rc = rc ? rc : MDB_NOTFOUND;
            goto out; /* none */
        }
        uint64_t s0 = s_get_u64(v.mv_data);
        if (s0 > start)
            start = s0;
    }
    uint64_t eids[] = {r->oms, start};
    k = (MDB_val){s_key(key, S_TAG_EVENT, eids, 2), key};
    plen = 1 + S_U64;
    size_t n = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         !rc && n < limit && s_has_prefix(&k, key, plen);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + S_U64 || v.mv_size < S_U64)
            continue;
        ob_facade_record_t rec = {s_key_u64(&k, 1), s_get_u64(v.mv_data),
                                  (const char *)v.mv_data + S_U64, v.mv_size - S_U64};
        if ((cb = fn(arg, &rec)))
            break;
        n++;
    }
out:
    mdb_cursor_close(cur);
    if (cb)
        return cb;
    return rc == MDB_NOTFOUND ? 0 : ob_mdb_rc(rc);
}

static int
s_src_get(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, ob_facade_each_fn fn, void *arg)
{
    s_read_t *r = ctx;
    uint8_t key[S_KEY_MAX];
    uint64_t ids[] = {r->oms, a, b};
    int tag = kind == OB_FACADE_PROJECT ? S_TAG_PROJECT
              : kind == OB_FACADE_ITEM  ? S_TAG_ITEM
                                        : S_TAG_MESSAGE;
    size_t n = kind == OB_FACADE_ITEM ? 3 : 2;
    MDB_val v;
    int rc = s_get(r->txn, r->dbi, key, s_key(key, tag, ids, n), &v);
    if (rc == MDB_NOTFOUND)
        return -ENOENT;
    if (rc)
        return ob_mdb_rc(rc);
    size_t skip = kind == OB_FACADE_MESSAGE ? S_MSG_HEAD : 0;
    if (v.mv_size < skip)
        return OB_ERR_STORAGE;
    ob_facade_record_t rec = {0, 0, (const char *)v.mv_data + skip, v.mv_size - skip};
    return fn(arg, &rec);
}

static int
s_src_list(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, uint64_t after_id,
           size_t limit, ob_facade_each_fn fn, void *arg)
{
    s_read_t *r = ctx;
    uint64_t ids[] = {r->oms, a, b, after_id + 1};
    int tag = kind == OB_FACADE_PROJECT ? S_TAG_PROJECT
              : kind == OB_FACADE_ITEM  ? S_TAG_ITEM
                                        : S_TAG_SCOPE;
    size_t nprefix = kind == OB_FACADE_PROJECT ? 1 : kind == OB_FACADE_ITEM ? 2 : 3;
    ids[nprefix] = after_id + 1;
    uint8_t key[S_KEY_MAX];
    size_t plen = 1 + nprefix * S_U64;
    MDB_val k = {s_key(key, tag, ids, nprefix + 1), key}, v;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(r->txn, r->dbi, &cur);
    if (rc)
        return ob_mdb_rc(rc);
    size_t n = 0;
    int cb = 0;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         !rc && n < limit && s_has_prefix(&k, key, plen);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != plen + S_U64)
            continue;
        if (kind == OB_FACADE_MESSAGE) {
            /* the scope names the message: its record holds the snapshot */
            cb = s_src_get(ctx, OB_FACADE_MESSAGE, s_key_u64(&k, 3), 0, fn, arg);
            if (cb == -ENOENT)
                cb = 0;
        } else {
            ob_facade_record_t rec = {0, 0, v.mv_data, v.mv_size};
            cb = fn(arg, &rec);
        }
        if (cb)
            break;
        n++;
    }
    mdb_cursor_close(cur);
    if (cb)
        return cb;
    return rc == MDB_NOTFOUND ? 0 : ob_mdb_rc(rc);
}

int
ob_facade_view_answer(ob_facade_view_t *self, const ob_facade_route_t *route,
                      const ob_facade_query_t *query, ob_facade_answer_t *ret_answer)
{
    pthread_rwlock_rdlock(&self->resize);
    s_read_t r = {NULL, self->dbi, route->oms_id};
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &r.txn);
    if (!rc) {
        ob_facade_source_t src = {&r, s_src_events, s_src_get, s_src_list};
        rc = ob_facade_answer(route, query, &src, ret_answer);
        mdb_txn_abort(r.txn);
    } else
        rc = ob_mdb_rc(rc);
    pthread_rwlock_unlock(&self->resize);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* The thread */

/* One read of oms's topic from its position. Returns 1 if a full range came (read again at
   once), 0 if caught up, -1 after a failure (retry later). */
static int
s_follow(ob_facade_view_t *self, uint64_t oms)
{
    uint64_t next = 1, lost_before = 0;
    int rc = ob_facade_view_position(self, oms, &next, &lost_before);
    if (rc) {
        zsys_error("facade view of oms %" PRIu64 ": cannot read its position: %s", oms,
                   ob_strerror(rc));
        return -1;
    }
    char topic[OB_GW_TOPIC_TEXT];
    ob_mkt_topic(oms, topic);
    ob_fetch_t *range = NULL;
    rc = ob_client_fetch(self->client, topic, next, 0, OB_FETCH_RANGE_MAX, &range);
    if (rc == OB_ERR_NO_SUCH_TOPIC)
        return 0; /* nothing published yet */
    if (rc == OB_ERR_INVALID_ARGUMENT && next > 1) {
        /* a seq beyond the topic's last + 1: the broker holds fewer events than we read */
        zsys_error("facade view of oms %" PRIu64 ": %s holds fewer events than the view read "
                   "(up to seq %" PRIu64 "): the broker lost data; the view is built again",
                   oms, topic, next - 1);
        rc = ob_facade_view_reset(self, oms);
        return rc ? -1 : 1;
    }
    if (rc) {
        if (rc != OB_ERR_TIMEOUT && rc != -EINTR)
            zsys_warning("facade view of oms %" PRIu64 ": reading %s from seq %" PRIu64 ": %s", oms,
                         topic, next, ob_strerror(rc));
        return -1;
    }
    rc = ob_facade_view_apply(self, oms, next, range->events, range->count, range->next);
    uint64_t first = range->count ? range->events[0].seq : range->next;
    int full = range->count > 0 && range->next <= range->last_seq;
    ob_fetch_destroy(&range);
    if (rc) {
        zsys_error("facade view of oms %" PRIu64 ": cannot write: %s", oms, ob_strerror(rc));
        return -1;
    }
    if (first > next)
        zsys_warning("facade view of oms %" PRIu64 ": seqs %" PRIu64 "..%" PRIu64 " of %s were "
                     "removed by retention before the view read them%s",
                     oms, next, first - 1, topic,
                     next == 1 ? " (the view starts after the topic's start: resources last "
                                 "changed there are missing)"
                               : "");
    return full;
}

/* The thread's own: which topics to read, and its wake-up subscriptions. */
typedef struct s_watch {
    size_t count;                                 /* OMSes followed */
    char topics[OB_GW_OMS_MAX][OB_GW_TOPIC_TEXT]; /* oms.<id> of each */
    int dirty[OB_GW_OMS_MAX];                     /* 1: read it at the next turn */
    char subs[S_SUBS_MAX][OB_SUB_NAME_MAX + 1];   /* the ephemeral subscriptions' names */
    size_t sub_count;                             /* made so far */
    int subscribed;                               /* 1: all made */
    int64_t retry_at;                             /* mono ms: the next try to make them */
    int64_t idle_due;                             /* mono ms: every topic is read anyway */
    char session[OB_WIRE_SESSION_MAX + 1];        /* the broker session last seen */
} s_watch_t;

static void
s_all_dirty(s_watch_t *w)
{
    for (size_t i = 0; i < w->count; i++)
        w->dirty[i] = 1;
}

/* Drops the wake-up subscriptions (a lost one makes them all again). */
static void
s_unsubscribe(ob_facade_view_t *self, s_watch_t *w)
{
    for (size_t k = 0; k < w->sub_count; k++)
        ob_client_unsubscribe(self->client, w->subs[k]);
    w->sub_count = 0;
    w->subscribed = 0;
}

/* Makes the ephemeral subscriptions, OB_SUB_PATTERNS_MAX topics each, of the types that
   change the view: a delivery says that its topic has more to read. Returns 0 or the
   client's error (the ones made stay, the rest is tried again later). */
static int
s_subscribe(ob_facade_view_t *self, s_watch_t *w)
{
    static const char *const types[] = {
        "project.created",      "project_item.created", "project_item.status_changed",
        "project_item.updated", "message.posted",       "message.edited",
        "command.completed"};
    while (w->sub_count * OB_SUB_PATTERNS_MAX < w->count) {
        const char *patterns[OB_SUB_PATTERNS_MAX];
        size_t first = w->sub_count * OB_SUB_PATTERNS_MAX, n = 0;
        for (; n < OB_SUB_PATTERNS_MAX && first + n < w->count; n++)
            patterns[n] = w->topics[first + n];
        ob_sub_options_t opts = {.patterns = patterns,
                                 .pattern_count = n,
                                 .types = types,
                                 .type_count = sizeof types / sizeof types[0],
                                 .start = OB_START_NEW};
        int rc = ob_client_subscribe(self->client, NULL, &opts, w->subs[w->sub_count], NULL);
        if (rc)
            return rc;
        w->sub_count++;
    }
    w->subscribed = 1;
    s_all_dirty(w); /* what was stored before they existed */
    return 0;
}

/* Takes every delivery that has arrived: acks it and marks its topic to be read. */
static void
s_receive(ob_facade_view_t *self, s_watch_t *w)
{
    ob_delivery_t *d = NULL;
    int rc, lost = 0;
    while ((rc = ob_client_receive(self->client, 0, &d)) != OB_ERR_TIMEOUT) {
        if (rc == OB_ERR_CLOSED || rc == -EINTR)
            break;
        if (rc) { /* the broker dropped a subscription */
            lost = 1;
            continue;
        }
        ob_client_ack(self->client, d);
        for (size_t i = 0; i < w->count; i++)
            if (!strcmp(w->topics[i], d->topic)) {
                w->dirty[i] = 1;
                /* renamed in a new session */
                snprintf(w->subs[i / OB_SUB_PATTERNS_MAX], OB_SUB_NAME_MAX + 1, "%s", d->sub);
            }
        ob_delivery_destroy(&d);
    }
    if (lost) {
        zsys_warning("facade view: the broker dropped a wake-up subscription: made again");
        s_unsubscribe(self, w);
        s_all_dirty(w);
    }
    /* a new session: the events stored without one were not delivered */
    const char *session = ob_client_session(self->client);
    if (strcmp(session, w->session)) {
        snprintf(w->session, sizeof w->session, "%s", session);
        s_all_dirty(w);
    }
}

/* Waits up to ms for the wake pipe or the client's socket. Returns 1 if stopping. */
static int
s_wait(ob_facade_view_t *self, int ms)
{
    struct pollfd fds[] = {{.fd = self->wake[0], .events = POLLIN},
                           {.fd = ob_client_fd(self->client), .events = POLLIN}};
    if (ms > 0)
        (void)poll(fds, sizeof fds / sizeof fds[0], ms);
    char drain[S_DRAIN];
    while (read(self->wake[0], drain, sizeof drain) > 0)
        ;
    pthread_mutex_lock(&self->lock);
    int stop = self->stop;
    pthread_mutex_unlock(&self->lock);
    return stop;
}

/* Notifies each OMS of cfg whose view holds events: at the thread's start, for the
   triggers that were pending when the gateway stopped. */
static void
s_notify_held(ob_facade_view_t *self, const ob_gw_config_t *cfg)
{
    for (size_t i = 0; self->notify && i < cfg->oms_count; i++) {
        s_pos_t pos;
        if (!s_pos_get(self, cfg->oms[i].id, &pos) && pos.events)
            self->notify(self->notify_arg, cfg->oms[i].id);
    }
}

static void *
s_thread(void *arg)
{
    ob_facade_view_t *self = arg;
    const ob_gw_config_t *cfg = self->cfg;
    s_notify_held(self, cfg);
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .timeout_ms = OB_GW_REST_BROKER_MS,
                             .cert = cfg->cert[0] ? cfg->cert : NULL,
                             .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL};
    /* The REST thread made a client of the same settings: this one fails only without
       memory. */
    if (!(self->client = ob_client_new(cfg->endpoint, &cc))) {
        zsys_error("facade view: cannot make a broker client for %s: the view stays as it is",
                   cfg->endpoint);
        return NULL;
    }
    s_watch_t *w = calloc(1, sizeof *w);
    if (!w) {
        zsys_error("facade view: no memory: the view stays as it is");
        ob_client_destroy(&self->client);
        return NULL;
    }
    w->count = cfg->oms_count;
    for (size_t i = 0; i < w->count; i++)
        ob_mkt_topic(cfg->oms[i].id, w->topics[i]);
    int stop = 0, warned = 0;
    while (!stop) {
        int64_t now = zclock_mono();
        if (!w->subscribed && now >= w->retry_at) {
            int rc = s_subscribe(self, w);
            if (rc) {
                if (!warned++)
                    zsys_warning("facade view: cannot subscribe to the OMS topics (%s): reading "
                                 "them every %d ms instead",
                                 ob_strerror(rc), OB_GW_FACADE_POLL_MS);
                w->retry_at = now + OB_GW_FACADE_RETRY_MS;
            }
        }
        s_receive(self, w);
        if (now >= w->idle_due) {
            s_all_dirty(w);
            w->idle_due = now + (w->subscribed ? OB_GW_FACADE_IDLE_MS : OB_GW_FACADE_POLL_MS);
        }
        int ran = 0, failed = 0, more = 0;
        for (size_t i = 0; i < w->count; i++) {
            if (!w->dirty[i])
                continue;
            int r = s_follow(self, cfg->oms[i].id);
            w->dirty[i] = r != 0; /* a full range: more; a failure: again after a while */
            ran = 1;
            failed |= r < 0;
        }
        /* The client's socket signals an edge: deliveries that came during the reads are
           taken now, or the wait would not see them. */
        if (ran)
            s_receive(self, w);
        for (size_t i = 0; i < w->count; i++)
            more |= w->dirty[i];
        int64_t wait = failed ? OB_GW_FACADE_RETRY_MS : w->idle_due - zclock_mono();
        if (wait > OB_GW_FACADE_TICK_MS) /* the client's heartbeats: receive this often */
            wait = OB_GW_FACADE_TICK_MS;
        stop = s_wait(self, (more && !failed) || wait < 0 ? 0 : (int)wait);
    }
    free(w);
    ob_client_destroy(&self->client);
    return NULL;
}

void
ob_facade_view_on_events(ob_facade_view_t *self, ob_facade_view_notify_fn fn, void *arg)
{
    self->notify = fn;
    self->notify_arg = arg;
}

int
ob_facade_view_start(ob_facade_view_t *self, const ob_gw_config_t *cfg, char *errbuf, size_t errlen)
{
    if (pipe(self->wake) || fcntl(self->wake[0], F_SETFL, O_NONBLOCK) ||
        fcntl(self->wake[1], F_SETFL, O_NONBLOCK)) {
        snprintf(errbuf, errlen, "facade view: no pipe: %s", strerror(errno));
        return -1;
    }
    self->cfg = cfg;
    int rc = pthread_create(&self->thread, NULL, s_thread, self);
    if (rc) {
        snprintf(errbuf, errlen, "facade view: no thread: %s", strerror(rc));
        return -1;
    }
    self->started = 1;
    return 0;
}
