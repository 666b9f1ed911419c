/*  ob_gw_store: the gateway's small state in its own LMDB environment: per OMS, the feed's
    committed cursor (seconds) and the projects whose project.created the broker confirmed
    (the poller's known callback). One process per directory (common/mdb.h's lock, file
    gateway.lock); one thread uses these functions (the feed's). The upstream connectors keep
    their records in named databases of the same environment (ob_gw_store_env), from their
    own threads, each transaction under ob_gw_store_resize_lock taken for reading; the feed
    grows the map when full, between its own transactions, with that lock taken for
    writing. Transactions are short. MDB_NOMETASYNC: a crash of the machine may lose the last
   transaction, never corrupt or reorder them, and losing one only makes the gateway re-read and
   re-publish what the broker then absorbs (content-derived ids). */
#ifndef OB_GW_STORE_H
#define OB_GW_STORE_H

#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "gw_limits.h"

typedef struct ob_gw_store ob_gw_store_t;

#define OB_GW_STORE_LOCK "gateway.lock"     /* lock file in the data directory */
#define OB_GW_STORE_MAP (64u * 1024 * 1024) /* initial map size; it doubles when full */
#define OB_GW_STORE_DBS_MAX                                                                        \
    (OB_GW_OMS_MAX + 1)                 /* named databases: a connector's per OMS,                 \
                                           and the HTTP subscriptions' owners */
#define OB_GW_STORE_SUBS_DB "rest-subs" /* named database: subscription name -> owner */

/* Opens (creating dir, mode 0700) the store in dir (borrowed) and takes its lock. On success
   *ret_store is the caller's, closed with ob_gw_store_close. Returns 0, -EBUSY (another
   gateway holds the directory), -errno or OB_ERR_STORAGE. */
int ob_gw_store_open(const char *dir, ob_gw_store_t **ret_store);

/* Closes the store (releasing the lock) and sets *self_p to NULL; accepts NULL. */
void ob_gw_store_close(ob_gw_store_t **self_p);

/* The store's LMDB environment, borrowed until ob_gw_store_close, for the classes that keep
   their small state in a named database of it (the upstream connector: one database per OMS,
   OB_GW_STORE_DBS_MAX named databases in all). */
MDB_env *ob_gw_store_env(ob_gw_store_t *self);

/* The lock that a thread other than the feed's holds for reading around each of its
   transactions in ob_gw_store_env (borrowed until ob_gw_store_close). */
pthread_rwlock_t *ob_gw_store_resize_lock(ob_gw_store_t *self);

/* Writes OMS oms_id's committed cursor into *ret_cursor_s (0 when none is stored). Returns 0
   or an error (-errno, OB_ERR_STORAGE). */
int ob_gw_store_cursor(ob_gw_store_t *self, uint64_t oms_id, uint64_t *ret_cursor_s);

/* Stores OMS oms_id's committed cursor. Returns 0 or an error. */
int ob_gw_store_set_cursor(ob_gw_store_t *self, uint64_t oms_id, uint64_t cursor_s);

/* Returns 1 if project_id of OMS oms_id is recorded as announced, 0 if not (or on a read
   error: the poller then announces it again, which the broker absorbs). */
int ob_gw_store_announced(ob_gw_store_t *self, uint64_t oms_id, uint64_t project_id);

/* Records project_id of OMS oms_id as announced. Returns 0 or an error. */
int ob_gw_store_announce(ob_gw_store_t *self, uint64_t oms_id, uint64_t project_id);

/* The owners of HTTP subscriptions (rest_subs.h), in the named database
   OB_GW_STORE_SUBS_DB: key the subscription's name, value its owner's client name. These
   may be called from one thread other than the feed's (the REST thread): each transaction
   is taken under ob_gw_store_resize_lock for reading; a write that finds the map full fails
   (OB_ERR_STORAGE) until the feed's next write has grown it. */

/* Writes the owner of subscription name (borrowed) into ret_owner. Returns 0, -ENOENT (no
   record), or an error (OB_ERR_STORAGE, -errno). */
int ob_gw_store_sub_owner(ob_gw_store_t *self, const char *name,
                          char ret_owner[OB_GW_CLIENT_NAME_MAX + 1]);

/* Records owner (borrowed, 1..OB_GW_CLIENT_NAME_MAX bytes) as the owner of subscription name
   (1..OB_SUB_NAME_MAX bytes), replacing any record. Committed on return. Returns 0, -EINVAL
   (a length out of range) or an error. */
int ob_gw_store_set_sub_owner(ob_gw_store_t *self, const char *name, const char *owner);

/* Removes the record of subscription name. Returns 0 (also when there was none) or an
   error. */
int ob_gw_store_del_sub_owner(ob_gw_store_t *self, const char *name);

/* Writes into names (max rows) the subscriptions owned by owner, in name order, after after
   ("" from the start); *ret_count the rows written, *ret_more 1 if more follow. Returns 0 or
   an error. */
int ob_gw_store_sub_list(ob_gw_store_t *self, const char *owner, const char *after,
                         char (*names)[OB_SUB_NAME_MAX + 1], size_t max, size_t *ret_count,
                         int *ret_more);

#endif
