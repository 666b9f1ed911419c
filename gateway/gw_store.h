/*  ob_gw_store: the gateway's small state in its own LMDB environment: per OMS, the feed's
    committed cursor (seconds) and the projects whose project.created the broker confirmed
    (the poller's known callback). One process per directory (common/mdb.h's lock, file
    gateway.lock); one thread uses it (the feed's). Transactions are short; the map grows
    when full. MDB_NOMETASYNC: a crash of the machine may lose the last transaction, never
    corrupt or reorder them, and losing one only makes the gateway re-read and re-publish
    what the broker then absorbs (content-derived ids). */
#ifndef OB_GW_STORE_H
#define OB_GW_STORE_H

#include <stdint.h>

typedef struct ob_gw_store ob_gw_store_t;

#define OB_GW_STORE_LOCK "gateway.lock"     /* lock file in the data directory */
#define OB_GW_STORE_MAP (64u * 1024 * 1024) /* initial map size; it doubles when full */

/* Opens (creating dir, mode 0700) the store in dir (borrowed) and takes its lock. On success
   *ret_store is the caller's, closed with ob_gw_store_close. Returns 0, -EBUSY (another
   gateway holds the directory), -errno or OB_ERR_STORAGE. */
int ob_gw_store_open(const char *dir, ob_gw_store_t **ret_store);

/* Closes the store (releasing the lock) and sets *self_p to NULL; accepts NULL. */
void ob_gw_store_close(ob_gw_store_t **self_p);

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

#endif
