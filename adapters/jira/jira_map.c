/*  ob_jira_map: see jira_map.h. */
#include "jira_map.h"

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

struct ob_jira_map {
    MDB_env *env;         /* the environment */
    MDB_dbi dbi;          /* its unnamed database */
    int lock_fd;          /* the directory lock, or -1 */
    pthread_mutex_t lock; /* one call at a time: a growth needs no transaction open */
};

int
ob_jira_map_open(const char *dir, ob_jira_map_t **ret_map)
{
    ob_jira_map_t *self = calloc(1, sizeof *self);
    if (!self)
        return -ENOMEM;
    self->lock_fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    int rc = 0;
    MDB_txn *txn = NULL;
    if (mkdir(dir, S_DIR_MODE) && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    if ((rc = ob_mdb_lock_dir(dir, OB_JIRA_MAP_LOCK, &self->lock_fd)))
        goto fail;
    if ((rc = mdb_env_create(&self->env)) ||
        (rc = mdb_env_set_mapsize(self->env, OB_JIRA_MAP_SIZE)) ||
        (rc = mdb_env_open(self->env, dir, MDB_NOMETASYNC, S_FILE_MODE)) ||
        (rc = mdb_txn_begin(self->env, NULL, 0, &txn))) {
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &self->dbi))) {
        mdb_txn_abort(txn);
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) { /* frees txn either way */
        rc = ob_mdb_rc(rc);
        goto fail;
    }
    ob_mdb_reader_check(self->env, NULL);
    *ret_map = self;
    return 0;
fail:
    ob_jira_map_close(&self);
    return rc;
}

void
ob_jira_map_close(ob_jira_map_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_jira_map_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static int
s_get(ob_jira_map_t *self, const char *key, char value[OB_JIRA_MAP_VALUE_MAX])
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_MAP_RESIZED && !(rc = ob_mdb_adopt(self->env, NULL)))
        rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return ob_mdb_rc(rc);
    MDB_val k = {strlen(key), (void *)key}, v;
    rc = mdb_get(txn, self->dbi, &k, &v);
    if (rc == 0) {
        size_t n = v.mv_size < OB_JIRA_MAP_VALUE_MAX ? v.mv_size : OB_JIRA_MAP_VALUE_MAX - 1;
        memcpy(value, v.mv_data, n); /* copied before the transaction ends */
        value[n] = '\0';
    }
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? -ENOENT : ob_mdb_rc(rc);
}

int
ob_jira_map_get(ob_jira_map_t *self, const char *key, char value[OB_JIRA_MAP_VALUE_MAX])
{
    pthread_mutex_lock(&self->lock);
    int rc = s_get(self, key, value);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

static int
s_put(ob_jira_map_t *self, const char *key, const char *value, size_t len)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED && !(rc = ob_mdb_adopt(self->env, NULL)))
            continue;
        if (rc)
            return ob_mdb_rc(rc);
        MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)value};
        rc = mdb_put(txn, self->dbi, &k, &v, 0);
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
        if (rc != MDB_MAP_FULL)
            return ob_mdb_rc(rc);
        if ((rc = ob_mdb_grow(self->env, NULL)))
            return ob_mdb_rc(rc);
    }
}

int
ob_jira_map_put(ob_jira_map_t *self, const char *key, const char *value)
{
    size_t len = strlen(value);
    if (len >= OB_JIRA_MAP_VALUE_MAX || strlen(key) >= OB_JIRA_MAP_KEY_MAX)
        return OB_ERR_TOO_LARGE;
    pthread_mutex_lock(&self->lock);
    int rc = s_put(self, key, value, len);
    pthread_mutex_unlock(&self->lock);
    return rc;
}
