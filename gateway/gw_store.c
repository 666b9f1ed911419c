/*  ob_gw_store: see gw_store.h. Keys are big-endian: 'c' u64 oms for a cursor (value u64),
    'p' u64 oms u64 project for an announced project (empty value). */
#include "gw_store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdb.h"
#include "orderbus/error.h"

#define S_DIR_MODE 0700
#define S_FILE_MODE 0600
#define S_KEY_CURSOR 'c'
#define S_KEY_PROJECT 'p'
#define S_KEY_MAX 17 /* a tag and two u64 */

struct ob_gw_store {
    MDB_env *env;            /* the environment */
    MDB_dbi dbi;             /* its unnamed database */
    MDB_dbi subs;            /* OB_GW_STORE_SUBS_DB: HTTP subscription owners */
    int lock_fd;             /* the directory lock, or -1 */
    pthread_rwlock_t resize; /* taken for writing to grow the map (ob_gw_store_resize_lock) */
    int resize_init;         /* resize is initialised */
};

/* Writes the tag, a and (if with_b) b big-endian into key; returns its length. */
static size_t
s_key(uint8_t key[S_KEY_MAX], char tag, uint64_t a, int with_b, uint64_t b)
{
    key[0] = (uint8_t)tag;
    for (int i = 0; i < 8; i++) {
        key[1 + i] = (uint8_t)(a >> (56 - 8 * i));
        key[9 + i] = (uint8_t)(b >> (56 - 8 * i));
    }
    return with_b ? S_KEY_MAX : 9;
}

int
ob_gw_store_open(const char *dir, ob_gw_store_t **ret_store)
{
    ob_gw_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return -ENOMEM;
    self->lock_fd = -1;
    int rc = -pthread_rwlock_init(&self->resize, NULL);
    if (rc)
        goto fail;
    self->resize_init = 1;
    if (mkdir(dir, S_DIR_MODE) && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = ob_mdb_lock_dir(dir, OB_GW_STORE_LOCK, &self->lock_fd)))
        goto fail;
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_create(&self->env)) ||
        (rc = mdb_env_set_mapsize(self->env, OB_GW_STORE_MAP)) ||
        (rc = mdb_env_set_maxdbs(self->env, OB_GW_STORE_DBS_MAX)) ||
        (rc = mdb_env_open(self->env, dir, MDB_NOMETASYNC, S_FILE_MODE)) ||
        (rc = mdb_txn_begin(self->env, NULL, 0, &txn))) {
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &self->dbi)) ||
        (rc = mdb_dbi_open(txn, OB_GW_STORE_SUBS_DB, MDB_CREATE, &self->subs))) {
        mdb_txn_abort(txn);
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) { /* frees txn either way */
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    ob_mdb_reader_check(self->env, NULL);
    *ret_store = self;
    return 0;
fail:
    ob_gw_store_close(&self);
    return rc;
}

void
ob_gw_store_close(ob_gw_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_gw_store_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    if (self->resize_init)
        pthread_rwlock_destroy(&self->resize);
    free(self);
    *self_p = NULL;
}

/* Reads key into *ret_val (copied, at most 8 bytes kept). Returns 0, MDB_NOTFOUND or an
   LMDB code. */
static int
s_get(ob_gw_store_t *self, const uint8_t *key, size_t key_len, uint64_t *ret_val)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_val k = {key_len, (void *)key}, v;
    rc = mdb_get(txn, self->dbi, &k, &v);
    if (!rc && ret_val) {
        uint64_t value = 0;
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < v.mv_size && i < 8; i++)
            value = value << 8 | p[i];
        *ret_val = value;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Writes key -> value (len bytes) in its own transaction, growing the map when full.
   Returns 0 or an LMDB code. */
static int
s_put(ob_gw_store_t *self, const uint8_t *key, size_t key_len, const uint8_t *value, size_t len)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED && !(rc = ob_mdb_adopt(self->env, NULL)))
            continue;
        if (rc)
            return rc;
        MDB_val k = {key_len, (void *)key}, v = {len, (void *)value};
        rc = mdb_put(txn, self->dbi, &k, &v, 0);
        if (rc) {
            mdb_txn_abort(txn);
        } else
            rc = mdb_txn_commit(txn);
        if (rc != MDB_MAP_FULL)
            return rc;
        if ((rc = ob_mdb_grow(self->env, &self->resize)))
            return rc;
    }
}

int
ob_gw_store_cursor(ob_gw_store_t *self, uint64_t oms_id, uint64_t *ret_cursor_s)
{
    uint8_t key[S_KEY_MAX];
    uint64_t value = 0;
    int rc = s_get(self, key, s_key(key, S_KEY_CURSOR, oms_id, 0, 0), &value);
    if (rc == MDB_NOTFOUND)
        value = 0;
    else if (rc)
        return ob_mdb_rc(rc);
    *ret_cursor_s = value;
    return 0;
}

int
ob_gw_store_set_cursor(ob_gw_store_t *self, uint64_t oms_id, uint64_t cursor_s)
{
    uint8_t key[S_KEY_MAX], value[8];
    for (int i = 0; i < 8; i++)
        value[i] = (uint8_t)(cursor_s >> (56 - 8 * i));
    return ob_mdb_rc(s_put(self, key, s_key(key, S_KEY_CURSOR, oms_id, 0, 0), value, sizeof value));
}

int
ob_gw_store_announced(ob_gw_store_t *self, uint64_t oms_id, uint64_t project_id)
{
    uint8_t key[S_KEY_MAX];
    return s_get(self, key, s_key(key, S_KEY_PROJECT, oms_id, 1, project_id), NULL) == 0;
}

int
ob_gw_store_announce(ob_gw_store_t *self, uint64_t oms_id, uint64_t project_id)
{
    uint8_t key[S_KEY_MAX];
    return ob_mdb_rc(s_put(self, key, s_key(key, S_KEY_PROJECT, oms_id, 1, project_id), NULL, 0));
}

MDB_env *
ob_gw_store_env(ob_gw_store_t *self)
{
    return self->env;
}

pthread_rwlock_t *
ob_gw_store_resize_lock(ob_gw_store_t *self)
{
    return &self->resize;
}

/* ---- HTTP subscription owners: from the REST thread, under the resize lock ---- */

/* Begins a transaction (flags) under the resize lock taken for reading; on success the lock
   stays taken until s_shared_end. Returns an LMDB code. */
static int
s_shared_begin(ob_gw_store_t *self, unsigned flags, MDB_txn **ret_txn)
{
    pthread_rwlock_rdlock(&self->resize);
    int rc = mdb_txn_begin(self->env, NULL, flags, ret_txn);
    if (rc)
        pthread_rwlock_unlock(&self->resize);
    return rc;
}

/* Commits (commit 1) or aborts txn and releases the resize lock. Returns an LMDB code. */
static int
s_shared_end(ob_gw_store_t *self, MDB_txn *txn, int commit)
{
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&self->resize);
    return rc;
}

/* Puts (value non-NULL) or deletes key name in the owners' database. Only the feed's thread
   grows the map (between its own transactions, which the resize lock does not cover): a
   write that finds it full fails, and succeeds again once the feed's next write grew it.
   Returns 0 or an LMDB code. */
static int
s_sub_write(ob_gw_store_t *self, const char *name, const char *value)
{
    MDB_txn *txn = NULL;
    int rc = s_shared_begin(self, 0, &txn);
    if (rc)
        return rc;
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {value ? strlen(value) : 0, (void *)value};
    rc = value ? mdb_put(txn, self->subs, &k, &v, 0) : mdb_del(txn, self->subs, &k, NULL);
    if (rc == MDB_NOTFOUND && !value)
        rc = 0;
    int end = s_shared_end(self, txn, rc == 0);
    return rc ? rc : end;
}

int
ob_gw_store_sub_owner(ob_gw_store_t *self, const char *name,
                      char ret_owner[OB_GW_CLIENT_NAME_MAX + 1])
{
    MDB_txn *txn = NULL;
    int rc = s_shared_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    MDB_val k = {strlen(name), (void *)name}, v;
    rc = mdb_get(txn, self->subs, &k, &v);
    if (!rc && (v.mv_size == 0 || v.mv_size > OB_GW_CLIENT_NAME_MAX))
        rc = MDB_CORRUPTED; /* only s_sub_write writes here */
    if (!rc) {
        memcpy(ret_owner, v.mv_data, v.mv_size);
        ret_owner[v.mv_size] = '\0';
    }
    s_shared_end(self, txn, 0);
    return rc == MDB_NOTFOUND ? -ENOENT : ob_mdb_rc(rc);
}

int
ob_gw_store_set_sub_owner(ob_gw_store_t *self, const char *name, const char *owner)
{
    size_t n = strlen(name), o = strlen(owner);
    if (!n || n > OB_SUB_NAME_MAX || !o || o > OB_GW_CLIENT_NAME_MAX)
        return -EINVAL;
    return ob_mdb_rc(s_sub_write(self, name, owner));
}

int
ob_gw_store_del_sub_owner(ob_gw_store_t *self, const char *name)
{
    return ob_mdb_rc(s_sub_write(self, name, NULL));
}

int
ob_gw_store_sub_list(ob_gw_store_t *self, const char *owner, const char *after,
                     char (*names)[OB_SUB_NAME_MAX + 1], size_t max, size_t *ret_count,
                     int *ret_more)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    size_t count = 0, olen = strlen(owner);
    int more = 0;
    int rc = s_shared_begin(self, MDB_RDONLY, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    if ((rc = mdb_cursor_open(txn, self->subs, &cur)))
        goto out;
    MDB_val k = {strlen(after), (void *)after}, v;
    rc = k.mv_size ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                   : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (!rc && k.mv_size == strlen(after) && !memcmp(k.mv_data, after, k.mv_size))
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* strictly after */
    for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size != olen || memcmp(v.mv_data, owner, olen) || k.mv_size > OB_SUB_NAME_MAX)
            continue;
        if (count == max) {
            more = 1;
            break;
        }
        memcpy(names[count], k.mv_data, k.mv_size);
        names[count++][k.mv_size] = '\0';
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
out:
    if (cur)
        mdb_cursor_close(cur);
    s_shared_end(self, txn, 0);
    if (rc)
        return ob_mdb_rc(rc);
    *ret_count = count;
    *ret_more = more;
    return 0;
}
