/*  test_mdb: common/mdb.h on a real LMDB environment in the test's scratch directory: the
    directory lock (a second lock refused with -EBUSY, the holder's pid readable, the lock
    gone with its descriptor), error mapping, map growth when a put fills the map, adopting a
    size, and the reader check. */
#include <errno.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mdb.h"
#include "orderbus/error.h"

#define T_LOCK "test.lock" /* the lock file's name */
#define T_MAP (64 * 1024)  /* a map small enough to fill at once */
#define T_VALUE 4096       /* bytes of each value put */
#define T_GROW_TRIES 16    /* doublings the fill loop may use */

static char s_dir[] = "/tmp/ob-test-mdb-XXXXXX"; /* the scratch directory */

static int
s_setup(void **state)
{
    (void)state;
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[sizeof s_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd);
}

static void
test_rc(void **state)
{
    (void)state;
    assert_int_equal(ob_mdb_rc(0), 0);
    assert_int_equal(ob_mdb_rc(ENOSPC), -ENOSPC);
    assert_int_equal(ob_mdb_rc(EACCES), -EACCES);
    assert_int_equal(ob_mdb_rc(MDB_MAP_FULL), OB_ERR_STORAGE);
    assert_int_equal(ob_mdb_rc(MDB_CORRUPTED), OB_ERR_STORAGE);
}

static void
test_lock(void **state)
{
    (void)state;
    int fd = -1, fd2 = -1;
    long pid = 0;
    assert_int_equal(ob_mdb_lock_holder(s_dir, T_LOCK, &pid), -ENOENT); /* no file yet */
    assert_int_equal(ob_mdb_lock_dir(s_dir, T_LOCK, &fd), 0);
    assert_true(fd >= 0);
    /* a second lock, even in the same process, is refused; the holder is named */
    assert_int_equal(ob_mdb_lock_dir(s_dir, T_LOCK, &fd2), -EBUSY);
    assert_int_equal(fd2, -1);
    assert_int_equal(ob_mdb_lock_holder(s_dir, T_LOCK, &pid), 0);
    assert_int_equal(pid, (long)getpid());
    close(fd); /* the lock goes with its descriptor */
    assert_int_equal(ob_mdb_lock_dir(s_dir, T_LOCK, &fd2), 0);
    close(fd2);

    /* a lock file holding something else than a pid names nobody */
    char path[sizeof s_dir + sizeof T_LOCK + 1];
    snprintf(path, sizeof path, "%s/%s", s_dir, T_LOCK);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("12x\n", file);
    fclose(file);
    assert_int_equal(ob_mdb_lock_holder(s_dir, T_LOCK, &pid), -ENOENT);

    char missing[sizeof s_dir + 16];
    snprintf(missing, sizeof missing, "%s/none", s_dir);
    assert_int_equal(ob_mdb_lock_dir(missing, T_LOCK, &fd), -ENOENT);
}

/* Puts key n with a T_VALUE value in its own transaction. Returns the LMDB code. */
static int
s_put(MDB_env *env, MDB_dbi dbi, unsigned n)
{
    static char value[T_VALUE];
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc)
        return rc;
    MDB_val key = {sizeof n, &n}, val = {sizeof value, value};
    if ((rc = mdb_put(txn, dbi, &key, &val, 0))) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

static void
test_grow_on_map_full(void **state)
{
    (void)state;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi = 0;
    pthread_rwlock_t resize = PTHREAD_RWLOCK_INITIALIZER;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_mapsize(env, T_MAP), 0);
    assert_int_equal(mdb_env_open(env, s_dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);

    /* Fill past the first map: every MDB_MAP_FULL is answered by a growth. */
    int grown = 0;
    unsigned n = 0;
    while (n < 4 * T_MAP / T_VALUE) {
        int rc = s_put(env, dbi, n);
        if (rc == MDB_MAP_FULL) {
            assert_true(grown < T_GROW_TRIES);
            assert_int_equal(ob_mdb_grow(env, grown % 2 ? &resize : NULL), 0);
            grown++;
            continue;
        }
        assert_int_equal(rc, 0);
        n++;
    }
    assert_true(grown > 0);
    MDB_envinfo info;
    assert_int_equal(mdb_env_info(env, &info), 0);
    assert_true(info.me_mapsize >= (size_t)T_MAP << grown);

    /* adopting keeps the current size (no other process changed it) */
    assert_int_equal(ob_mdb_adopt(env, &resize), 0);
    MDB_envinfo after;
    assert_int_equal(mdb_env_info(env, &after), 0);
    assert_int_equal(after.me_mapsize, info.me_mapsize);

    int cleared = -1;
    assert_int_equal(ob_mdb_reader_check(env, &cleared), 0);
    assert_int_equal(cleared, 0);
    assert_int_equal(ob_mdb_reader_check(env, NULL), 0);
    mdb_env_close(env);
    pthread_rwlock_destroy(&resize);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rc),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_grow_on_map_full),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
