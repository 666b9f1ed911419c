/*  ob_mdb: what a daemon's LMDB store needs beyond LMDB itself: one process per data
    directory, a map that grows when full, LMDB's codes mapped to ours, and stale readers
    cleared. The broker's store uses them (broker/store_lmdb.c); so can the gateway's and the
    adapters' own small stores.

    One writer per directory: LMDB lets a second process open an environment and write, but
    a daemon keeps state in memory (caches, counters) that a second one would contradict.
    ob_mdb_lock_dir takes an exclusive, non-blocking flock(2) on a lock file in the directory
    and writes the pid into it, for the refused one's message (ob_mdb_lock_holder). The lock
    is the kernel's, on the open file description: it goes with the process however it dies
    (kill -9 included), a copy of the file carries none, the pid in a file nobody holds is
    stale text. The descriptor is O_CLOEXEC. A second lock of the same directory in the same
    process is refused too (each open makes its own description), as LMDB requires.
    Local filesystems only, as LMDB.

    Growing the map: mdb_env_set_mapsize remaps the file, which is only safe while no
    transaction of this process is open. So the writer grows the map between its own
    transactions, and a store with reader threads has every read transaction hold a
    pthread_rwlock_t for reading while it is open; ob_mdb_grow and ob_mdb_adopt take it for
    writing (NULL: the caller has no other thread). */
#ifndef OB_MDB_H
#define OB_MDB_H

#include <lmdb.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_MDB_LOCK_MODE 0600 /* the lock file: the daemon's user only */
#define OB_MDB_PID_MAX 24     /* bytes of a pid written into the lock file, newline included */

/* Maps an LMDB result to ours: 0 stays 0, a system error (LMDB passes errno values through)
   becomes -errno, an LMDB error (MDB_MAP_FULL, MDB_CORRUPTED, ...) OB_ERR_STORAGE. */
int ob_mdb_rc(int mdb_rc);

/* Opens (creating, mode OB_MDB_LOCK_MODE) the file name in dir (both borrowed), takes its
   exclusive lock without waiting, and writes our pid into it. On success *ret_fd is the
   descriptor, the caller's to close() after closing the environment (which releases the
   lock). Returns 0, -EBUSY (another process, or another lock of this one, holds it),
   -ENAMETOOLONG or -errno. */
int ob_mdb_lock_dir(const char *dir, const char *name, int *ret_fd);

/* Reads the pid written into the lock file name in dir (borrowed), for a message after
   -EBUSY. Returns 0 with *ret_pid, -ENOENT (no file, or no pid in it) or -errno. */
int ob_mdb_lock_holder(const char *dir, const char *name, long *ret_pid);

/* Doubles env's map. The caller has no transaction open; resize (may be NULL) is taken for
   writing around the change. Returns 0 or an LMDB code (MDB_MAP_FULL when doubling would
   overflow size_t, an errno value). */
int ob_mdb_grow(MDB_env *env, pthread_rwlock_t *resize);

/* Adopts the map size another process set (after MDB_MAP_RESIZED), under resize as
   ob_mdb_grow. Returns 0 or an LMDB code. */
int ob_mdb_adopt(MDB_env *env, pthread_rwlock_t *resize);

/* Clears the reader slots of processes that died inside a read transaction. On success
 *ret_cleared (may be NULL) is how many. Returns 0 or OB_ERR_STORAGE. */
int ob_mdb_reader_check(MDB_env *env, int *ret_cleared);

#ifdef __cplusplus
}
#endif
#endif
