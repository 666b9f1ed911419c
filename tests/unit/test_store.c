/*  test_store: the broker's topic store (broker/store.h) on LMDB (broker/store_lmdb.c).

    Each test opens a store in its own scratch directory under /tmp and removes it at the end.
    Commit failures are injected by wrapping mdb_txn_commit at link time, which is why this
    file, unlike the broker outside store_lmdb.c, includes lmdb.h; it also reads and rewrites
    a closed store with LMDB directly where the interface cannot tell (dedup entries left
    after retention, format versions). Retention tests give every event its stored time and
    pass their own "now", so they do not depend on the clock. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "orderbus/orderbus.h"
#include "store.h"

#define T_DIR_MAX 256 /* bytes in a scratch directory path */

/* --- mdb_txn_commit, wrapped: fails the next s_fail_commits commits; fdatasync, wrapped:
   the journal's syncs (LMDB's own are inside liblmdb, not wrapped) are slow -------------- */

#define T_SLOW_SYNC_US 20000 /* what a slow sync adds: a durable write the store times */

static int s_fail_commits;      /* commits still to fail */
static int s_fail_errno = EIO;  /* with this code (LMDB returns errno values as they are) */
static atomic_int s_slow_syncs; /* 1: each sync first sleeps T_SLOW_SYNC_US (also the
                                   checkpointer's syncs, on its thread) */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

int
__wrap_fdatasync(int fd)
{
    if (s_slow_syncs) /* a slow disk: the sleep is what the test measures */
        nanosleep(&(struct timespec){0, T_SLOW_SYNC_US * 1000L}, NULL);
    return __real_fdatasync(fd);
}

int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);

int
__wrap_mdb_txn_commit(MDB_txn *txn)
{
    if (s_fail_commits > 0) {
        s_fail_commits--;
        mdb_txn_abort(txn); /* a failed commit frees the transaction, as LMDB's does */
        return s_fail_errno;
    }
    return __real_mdb_txn_commit(txn);
}

/* --- helpers ------------------------------------------------------------------------------- */

typedef struct t_fixture {
    char dir[T_DIR_MAX]; /* scratch directory, the store's data directory */
    ob_store_t *store;   /* open store */
} t_fixture_t;

/* Removes the directory path and everything in it (a store's directory holds its journal's). */
static void
s_remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            char file[T_DIR_MAX * 2];
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
                continue;
            snprintf(file, sizeof file, "%s/%s", path, entry->d_name);
            if (unlink(file) && errno == EISDIR)
                s_remove_dir(file);
        }
        closedir(dir);
    }
    rmdir(path);
}

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-store-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    assert_non_null(fx->store);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_close(&fx->store);
    assert_null(fx->store);
    s_remove_dir(fx->dir);
    free(fx);
    s_fail_commits = 0;
    s_fail_errno = EIO;
    s_slow_syncs = 0;
    return 0;
}

/* Fills item with topic, id and event (all borrowed, NUL-terminated; the event is the id's
   text unless event is given). */
static void
s_item(ob_store_item_t *item, const char *topic, const char *id, const char *event)
{
    memset(item, 0, sizeof *item);
    item->topic = topic;
    item->topic_len = strlen(topic);
    item->event_id = id;
    item->event_id_len = strlen(id);
    item->event = (const uint8_t *)(event ? event : id);
    item->event_len = strlen(event ? event : id);
    item->seq = 12345; /* outputs must be overwritten */
    item->dup = 7;
    item->rc = 99;
}

/* Asserts that seq of topic holds exactly the bytes of text. */
static void
s_assert_event(ob_store_t *store, const char *topic, uint64_t seq, const char *text)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(store, topic, seq, &buf, &len, NULL), 0);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(buf, text, len);
    free(buf);
}

/* Encodes a minimal event (id on topic, both NUL-terminated) into a new buffer the caller
   frees, and fills item with it (id and topic borrowed), to be stored at time_us. Retention
   reads the id of a stored event from its bytes, so its tests store real events. */
static uint8_t *
s_event_item(ob_store_item_t *item, const char *topic, const char *id, uint64_t time_us)
{
    ob_event_t event = {.id = id, .topic = topic, .type = "t.x", .time_us = 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_encode(&event, &buf, &len), 0);
    s_item(item, topic, id, NULL);
    item->event = buf;
    item->event_len = len;
    item->time_us = time_us;
    return buf;
}

/* Appends n events to topic, ids "<topic>-NNNNNN" numbered from first, stored at
   time0 + i * step, one batch, and asserts they get the seqs that follow the topic's last.
   Returns the size of each (all the same: the ids have one length). */
static size_t
s_publish(ob_store_t *store, const char *topic, int first, int n, uint64_t time0, uint64_t step)
{
    ob_store_item_t *items = calloc((size_t)n, sizeof *items);
    char(*ids)[OB_TOPIC_MAX + 16] = calloc((size_t)n, sizeof *ids);
    uint8_t **bufs = calloc((size_t)n, sizeof *bufs);
    assert_non_null(items);
    assert_non_null(ids);
    assert_non_null(bufs);
    ob_topic_stat_t stat = {0};
    int rc = ob_store_topic_stat(store, topic, &stat);
    assert_true(rc == 0 || rc == OB_ERR_NO_SUCH_TOPIC);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "%s-%06d", topic, first + i);
        bufs[i] = s_event_item(&items[i], topic, ids[i], time0 + (uint64_t)i * step);
    }
    assert_int_equal(ob_store_append(store, items, (size_t)n), 0);
    size_t size = items[0].event_len;
    for (int i = 0; i < n; i++) {
        assert_int_equal(items[i].rc, 0);
        assert_int_equal(items[i].dup, 0);
        assert_int_equal(items[i].seq, stat.last_seq + (uint64_t)i + 1);
        assert_int_equal(items[i].event_len, size);
        free(bufs[i]);
    }
    free(bufs);
    free(ids);
    free(items);
    return size;
}

/* Asserts topic's figures. */
static void
s_assert_stat(ob_store_t *store, const char *topic, uint64_t first_seq, uint64_t last_seq,
              uint64_t events, uint64_t bytes)
{
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(store, topic, &stat), 0);
    assert_int_equal(stat.first_seq, first_seq);
    assert_int_equal(stat.last_seq, last_seq);
    assert_int_equal(stat.events, events);
    assert_int_equal(stat.bytes, bytes);
}

/* --- retention policy: a table of topics and their limits ---------------------------------- */

typedef struct t_policy {
    const char *topics[4];    /* topic names, NULL after the last */
    ob_retention_t limits[4]; /* their limits; any other topic has none */
    int calls;                /* times the store asked */
} t_policy_t;

static void
s_limits(void *arg, const char *name, ob_retention_t *ret)
{
    t_policy_t *policy = arg;
    policy->calls++;
    memset(ret, 0, sizeof *ret);
    for (int i = 0; i < 4 && policy->topics[i]; i++)
        if (!strcmp(policy->topics[i], name))
            *ret = policy->limits[i];
}

/* Runs one retention call with budget and asserts it removed `want` events. */
static void
s_retain(ob_store_t *store, t_policy_t *policy, uint64_t now_us, size_t budget, uint64_t want)
{
    uint64_t removed = 1000000, bytes = 0; /* added to, not overwritten */
    assert_int_equal(ob_store_retain(store, s_limits, policy, now_us, budget, &removed, &bytes), 0);
    assert_int_equal(removed - 1000000, want);
    assert_true(removed - 1000000 <= budget);
}

/* --- scans, listings and loads, collected ---------------------------------------------------- */

#define T_SCAN_MAX 64 /* events one t_scan_t records */

typedef struct t_scan {
    size_t count;                /* events seen */
    size_t stop_after;           /* stop at this count (0: never) */
    uint32_t topic_id;           /* topic id of the last event */
    uint64_t seqs[T_SCAN_MAX];   /* their seqs */
    uint64_t times[T_SCAN_MAX];  /* their stored times */
    char events[T_SCAN_MAX][32]; /* their bytes, NUL-terminated (short events only) */
} t_scan_t;

static int
s_on_event(void *arg, const ob_store_event_t *event)
{
    t_scan_t *scan = arg;
    if (scan->count < T_SCAN_MAX) {
        scan->seqs[scan->count] = event->seq;
        scan->times[scan->count] = event->time_us;
        size_t len = event->event_len < 31 ? event->event_len : 31;
        memcpy(scan->events[scan->count], event->event, len);
        scan->events[scan->count][len] = '\0';
    }
    scan->topic_id = event->topic_id;
    scan->count++;
    return scan->stop_after && scan->count == scan->stop_after;
}

#define T_LINES 64 /* lines a t_lines_t records */
#define T_LINE 400 /* bytes in one */

/* What a listing or a load handed to its callbacks, one line each. */
typedef struct t_lines {
    char lines[T_LINES][T_LINE]; /* "S sub=value", "P sub topic=value", "T name id ..." */
    size_t count;                /* lines */
    size_t stop_at;              /* return 42 at this count (0: never) */
    uint32_t ids[T_LINES];       /* topic ids of a listing */
} t_lines_t;

static int
s_line(t_lines_t *lines, const char *text)
{
    if (lines->count < T_LINES)
        snprintf(lines->lines[lines->count], T_LINE, "%s", text);
    lines->count++;
    return lines->stop_at && lines->count == lines->stop_at ? 42 : 0;
}

static int
s_on_sub(void *arg, const char *sub, const uint8_t *value, size_t len)
{
    char text[T_LINE];
    snprintf(text, sizeof text, "S %s=%.*s", sub, len > 40 ? 40 : (int)len, (const char *)value);
    return s_line(arg, text);
}

static int
s_on_pos(void *arg, const char *sub, const char *topic, const uint8_t *value, size_t len)
{
    char text[T_LINE];
    snprintf(text, sizeof text, "P %s %s=%.*s", sub, topic, len > 40 ? 40 : (int)len,
             (const char *)value);
    return s_line(arg, text);
}

static int
s_on_topic(void *arg, const char *name, uint32_t topic_id, const ob_topic_stat_t *stat)
{
    t_lines_t *lines = arg;
    char text[T_LINE];
    snprintf(text, sizeof text, "T %s %" PRIu64 "-%" PRIu64 " %" PRIu64 " %" PRIu64, name,
             stat->first_seq, stat->last_seq, stat->events, stat->bytes);
    if (lines->count < T_LINES)
        lines->ids[lines->count] = topic_id;
    return s_line(lines, text);
}

/* Loads the subscription state into a fresh *lines and asserts it matches want (NULL-ended). */
static void
s_assert_loaded(ob_store_t *store, const char *const *want)
{
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    assert_int_equal(ob_store_load_subs(store, s_on_sub, s_on_pos, lines), 0);
    size_t n = 0;
    while (want[n])
        n++;
    for (size_t i = 0; i < n && i < lines->count; i++)
        assert_string_equal(lines->lines[i], want[i]);
    assert_int_equal(lines->count, n);
    free(lines);
}

/* Returns the entries of the named database of the closed store in dir, read with LMDB
   directly (the store's figures do not count dedup entries). */
static size_t
s_raw_entries(const char *dir, const char *db)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_stat stat;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &stat), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return stat.ms_entries;
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_open_append_get(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[3];
    s_item(&items[0], "oms.1", "e1", "first event");
    s_item(&items[1], "oms.1", "e2", "second event");
    s_item(&items[2], "oms.1", "e3", "third event");
    assert_int_equal(ob_store_last_sync_us(fx->store), -1); /* nothing committed yet */
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].rc, 0);
        assert_int_equal(items[i].dup, 0);
        assert_int_equal(items[i].seq, (uint64_t)i + 1);
    }
    assert_true(ob_store_last_sync_us(fx->store) >= 0);
    s_assert_event(fx->store, "oms.1", 1, "first event");
    s_assert_event(fx->store, "oms.1", 2, "second event");
    s_assert_event(fx->store, "oms.1", 3, "third event");

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.1", 4, &buf, &len, NULL), -ENOENT);
    assert_int_equal(ob_store_get(fx->store, "oms.1", 0, &buf, &len, NULL), -ENOENT);
    assert_int_equal(ob_store_get(fx->store, "oms.2", 1, &buf, &len, NULL), OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(ob_store_get(fx->store, "Not A Topic", 1, &buf, &len, NULL),
                     OB_ERR_NO_SUCH_TOPIC);
    assert_null(buf);

    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.1", &stat), 0);
    assert_int_equal(stat.first_seq, 1);
    assert_int_equal(stat.last_seq, 3);
    assert_int_equal(stat.events, 3);
    assert_int_equal(stat.bytes,
                     strlen("first event") + strlen("second event") + strlen("third event"));
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.2", &stat), OB_ERR_NO_SUCH_TOPIC);

    uint64_t topics = 0;
    assert_int_equal(ob_store_topics_count(fx->store, &topics), 0);
    assert_int_equal(topics, 1);

    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 1);
    assert_int_equal(stats.appended, 3);
    assert_int_equal(stats.duplicates, 0);
    assert_int_equal(stats.topics, 1);
    assert_int_equal(stats.events, 3);
    assert_int_equal(stats.growths, 0);
    assert_true(stats.map_size >= OB_MAP_SIZE_DEFAULT);

    int cleared = -1;
    assert_int_equal(ob_store_maintain(fx->store, &cleared), 0);
    assert_int_equal(cleared, 0);
    assert_int_equal(ob_store_maintain(fx->store, NULL), 0);

    /* an empty batch is a no-op: no durable write */
    assert_int_equal(ob_store_append(fx->store, items, 0), 0);
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 1);
    assert_int_equal(ob_store_last_sync_us(fx->store), -1);
}

/* ob_store_last_sync_us times the durable write (the journal record's write and sync) of
   the last commit: a slow one shows, and a failed one is none. */
static void
test_last_sync_us(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t item;
    s_item(&item, "oms.1", "a", NULL);
    s_slow_syncs = 1;
    assert_int_equal(ob_store_append(fx->store, &item, 1), 0);
    s_slow_syncs = 0;
    assert_true(ob_store_last_sync_us(fx->store) >= T_SLOW_SYNC_US);

    s_item(&item, "oms.1", "b", NULL);
    assert_int_equal(ob_store_append(fx->store, &item, 1), 0);
    assert_true(ob_store_last_sync_us(fx->store) >= 0); /* a time of its own, not the last */

    s_fail_commits = 1;
    s_item(&item, "oms.1", "c", NULL);
    assert_int_equal(ob_store_append(fx->store, &item, 1), OB_ERR_STORAGE);
    assert_int_equal(ob_store_last_sync_us(fx->store), -1);

    /* a commit of subscription state only is a durable write too */
    ob_store_op_t op = {
        .kind = OB_STORE_PUT_SUB, .sub = "s", .value = (const uint8_t *)"r", .value_len = 1};
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, &op, 1), 0);
    assert_true(ob_store_last_sync_us(fx->store) >= 0);
}

static void
test_seq_per_topic(void **state)
{
    t_fixture_t *fx = *state;
    static const char *topics[] = {"oms.1", "oms.2", "mp.1"};
    uint64_t next[3] = {1, 1, 1};
    char ids[60][16];
    ob_store_item_t items[60];

    /* interleaved topics over several batches: each topic counts from 1, without gaps */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20; i++) {
            snprintf(ids[round * 20 + i], sizeof ids[0], "r%d-%d", round, i);
            s_item(&items[i], topics[i % 3], ids[round * 20 + i], NULL);
        }
        assert_int_equal(ob_store_append(fx->store, items, 20), 0);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(items[i].rc, 0);
            assert_int_equal(items[i].seq, next[i % 3]++);
        }
    }
    for (int t = 0; t < 3; t++) {
        ob_topic_stat_t stat;
        assert_int_equal(ob_store_topic_stat(fx->store, topics[t], &stat), 0);
        assert_int_equal(stat.last_seq, next[t] - 1);
        assert_int_equal(stat.events, next[t] - 1);
    }
    /* events of oms.2 in order: ids r0-1, r0-4, ... */
    uint64_t seq = 1;
    for (int round = 0; round < 3; round++)
        for (int i = 1; i < 20; i += 3)
            s_assert_event(fx->store, "oms.2", seq++, ids[round * 20 + i]);
}

static void
test_dedup(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[4];

    s_item(&items[0], "oms.1", "a", "event a");
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[0].dup, 0);

    /* the same id again, with other bytes: the first stays, the second is a duplicate */
    s_item(&items[0], "oms.1", "a", "event a, retried");
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].rc, 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[0].dup, 1);
    s_assert_event(fx->store, "oms.1", 1, "event a");

    /* the same id on another topic is another event */
    s_item(&items[0], "oms.2", "a", "event a on oms.2");
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[0].dup, 0);

    /* within one batch: b, c, b, a -> b dup of the first b, a dup of the stored a */
    s_item(&items[0], "oms.1", "b", NULL);
    s_item(&items[1], "oms.1", "c", NULL);
    s_item(&items[2], "oms.1", "b", "b again");
    s_item(&items[3], "oms.1", "a", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 4), 0);
    assert_int_equal(items[0].seq, 2);
    assert_int_equal(items[0].dup, 0);
    assert_int_equal(items[1].seq, 3);
    assert_int_equal(items[1].dup, 0);
    assert_int_equal(items[2].seq, 2);
    assert_int_equal(items[2].dup, 1);
    assert_int_equal(items[3].seq, 1);
    assert_int_equal(items[3].dup, 1);
    s_assert_event(fx->store, "oms.1", 2, "b");

    /* no gap after duplicates */
    s_item(&items[0], "oms.1", "d", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].seq, 4);

    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.1", &stat), 0);
    assert_int_equal(stat.events, 4);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.duplicates, 3);
    assert_int_equal(stats.appended, 5);
    assert_int_equal(stats.events, 5);
}

static void
test_item_errors(void **state)
{
    t_fixture_t *fx = *state;
    char long_id[OB_EVENT_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    char max_id[OB_EVENT_ID_MAX + 1];
    memset(max_id, 'y', sizeof max_id - 1);
    max_id[sizeof max_id - 1] = '\0';

    ob_store_item_t items[7];
    s_item(&items[0], "oms.1", "ok-1", NULL);
    s_item(&items[1], "Bad Topic", "x", NULL);
    s_item(&items[2], "oms..1", "x", NULL);
    s_item(&items[3], "oms.1", "", "no id");
    s_item(&items[4], "oms.1", long_id, NULL);
    s_item(&items[5], "oms.1", "empty", "");
    s_item(&items[6], "oms.1", max_id, NULL);
    assert_int_equal(ob_store_append(fx->store, items, 7), 0);
    assert_int_equal(items[0].rc, 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[1].rc, OB_ERR_INVALID_TOPIC);
    assert_int_equal(items[2].rc, OB_ERR_INVALID_TOPIC);
    assert_int_equal(items[3].rc, OB_ERR_INVALID_EVENT);
    assert_int_equal(items[4].rc, OB_ERR_INVALID_EVENT);
    assert_int_equal(items[5].rc, OB_ERR_INVALID_EVENT);
    for (int i = 1; i < 6; i++) {
        assert_int_equal(items[i].seq, 0);
        assert_int_equal(items[i].dup, 0);
    }
    assert_int_equal(items[6].rc, 0);
    assert_int_equal(items[6].seq, 2);
    uint64_t topics = 0;
    assert_int_equal(ob_store_topics_count(fx->store, &topics), 0);
    assert_int_equal(topics, 1);
}

static void
test_reopen_keeps_everything(void **state)
{
    t_fixture_t *fx = *state;
    char ids[100][16];
    ob_store_item_t items[10];
    for (int batch = 0; batch < 10; batch++) {
        for (int i = 0; i < 10; i++) {
            int n = batch * 10 + i;
            snprintf(ids[n], sizeof ids[n], "id-%03d", n);
            s_item(&items[i], n % 2 ? "oms.odd" : "oms.even", ids[n], NULL);
        }
        assert_int_equal(ob_store_append(fx->store, items, 10), 0);
    }
    ob_store_close(&fx->store);
    assert_null(fx->store);

    /* a smaller map size than the store has is fine: it keeps its size */
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.events, 100);
    assert_int_equal(stats.topics, 2);
    assert_int_equal(stats.commits, 0);
    for (int n = 0; n < 100; n++)
        s_assert_event(fx->store, n % 2 ? "oms.odd" : "oms.even", (uint64_t)n / 2 + 1, ids[n]);

    /* an old id is still a duplicate; a new one continues the sequence; a new topic gets a
       new id (the topic counter was persisted) */
    s_item(&items[0], "oms.odd", ids[99], NULL);
    s_item(&items[1], "oms.odd", "new", NULL);
    s_item(&items[2], "oms.third", "new", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    assert_int_equal(items[0].seq, 50);
    assert_int_equal(items[0].dup, 1);
    assert_int_equal(items[1].seq, 51);
    assert_int_equal(items[1].dup, 0);
    assert_int_equal(items[2].seq, 1);
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_assert_event(fx->store, "oms.third", 1, "new");
    s_assert_event(fx->store, "oms.odd", 51, "new");
    s_assert_event(fx->store, "oms.even", 50, ids[98]);

    /* A topic's figures are derived from its first and last events (store_lmdb.c): right
       for a topic followed by another (oms.even, id 1), for the last topic of the database
       (oms.third), and across the reopen. Every id is "id-NNN", 6 bytes; "new" is 3. */
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.even", &stat), 0);
    assert_int_equal(stat.first_seq, 1);
    assert_int_equal(stat.last_seq, 50);
    assert_int_equal(stat.events, 50);
    assert_int_equal(stat.bytes, 50 * 6);
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.odd", &stat), 0);
    assert_int_equal(stat.first_seq, 1);
    assert_int_equal(stat.last_seq, 51);
    assert_int_equal(stat.events, 51);
    assert_int_equal(stat.bytes, 50 * 6 + 3);
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.third", &stat), 0);
    assert_int_equal(stat.first_seq, 1);
    assert_int_equal(stat.last_seq, 1);
    assert_int_equal(stat.events, 1);
    assert_int_equal(stat.bytes, 3);
}

static void
test_map_growth(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_BATCH = 64, T_BATCHES = 40, T_EVENT = 4000 }; /* about 10 MB */
    ob_store_close(&fx->store);
    s_remove_dir(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    uint64_t initial = stats.map_size;
    assert_true(initial < 1024 * 1024);

    char *event = malloc(T_EVENT + 1);
    assert_non_null(event);
    char ids[T_BATCH][16];
    ob_store_item_t items[T_BATCH];
    for (int b = 0; b < T_BATCHES; b++) {
        memset(event, 'a' + b % 26, T_EVENT);
        event[T_EVENT] = '\0';
        for (int i = 0; i < T_BATCH; i++) {
            snprintf(ids[i], sizeof ids[i], "%d-%d", b, i);
            s_item(&items[i], i % 2 ? "oms.1" : "oms.2", ids[i], event);
        }
        assert_int_equal(ob_store_append(fx->store, items, T_BATCH), 0);
        for (int i = 0; i < T_BATCH; i++) {
            assert_int_equal(items[i].rc, 0);
            assert_int_equal(items[i].seq, (uint64_t)b * T_BATCH / 2 + (uint64_t)i / 2 + 1);
        }
    }
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_true(stats.growths >= 1);
    assert_true(stats.map_size > initial);
    assert_int_equal(stats.events, T_BATCH * T_BATCHES);
    assert_int_equal(stats.commits, T_BATCHES);

    /* every item is there, also after a reopen */
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    for (int b = 0; b < T_BATCHES; b++) {
        memset(event, 'a' + b % 26, T_EVENT);
        for (uint64_t s = 1; s <= T_BATCH / 2; s++)
            s_assert_event(fx->store, "oms.1", (uint64_t)b * T_BATCH / 2 + s, event);
    }
    free(event);
}

/* A reader thread for test_readers_during_growth. */
typedef struct {
    ob_store_t *store; /* borrowed */
    volatile int stop; /* set by the main thread */
    long reads;        /* successful reads */
    uint64_t commits;  /* the store's commit count at the last read */
    int failed;        /* first unexpected code (cmocka asserts only in the main thread) */
} t_reader_t;

static void *
s_reader(void *arg)
{
    t_reader_t *reader = arg;
    while (!__atomic_load_n(&reader->stop, __ATOMIC_SEQ_CST)) {
        ob_topic_stat_t stat;
        uint8_t *buf = NULL;
        size_t len = 0;
        ob_store_stats_t stats;
        int rc = ob_store_topic_stat(reader->store, "oms.1", &stat);
        if (rc == 0)
            rc = ob_store_get(reader->store, "oms.1", stat.last_seq, &buf, &len, NULL);
        if (rc == 0) /* the writer's counters, read while it commits (a race before 0.6) */
            rc = ob_store_stats(reader->store, &stats);
        if (rc == 0 && stats.commits < reader->commits)
            rc = -ERANGE; /* a counter went back */
        if (rc == 0)
            reader->commits = stats.commits;
        free(buf);
        if (rc != 0 && !reader->failed)
            reader->failed = rc;
        __atomic_add_fetch(&reader->reads, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* Another thread reads, and reads the store's counters, while the map grows several times
   (store.h: readers and ob_store_stats may run on any thread at any time). Without the
   store's resize lock, growth remaps the file under an open read transaction: a crash or an
   LMDB error here; without atomic counters, a data race the tsan preset reports. */
static void
test_readers_during_growth(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_BATCH = 16, T_EVENT = 8000 };
    ob_store_close(&fx->store);
    s_remove_dir(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);

    char *event = malloc(T_EVENT + 1);
    assert_non_null(event);
    memset(event, 'g', T_EVENT);
    event[T_EVENT] = '\0';
    ob_store_item_t items[T_BATCH];
    char ids[T_BATCH][24];
    for (int i = 0; i < T_BATCH; i++) { /* something to read from the start */
        snprintf(ids[i], sizeof ids[i], "seed-%d", i);
        s_item(&items[i], "oms.1", ids[i], event);
    }
    assert_int_equal(ob_store_append(fx->store, items, T_BATCH), 0);

    t_reader_t reader = {.store = fx->store};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_reader, &reader), 0);
    /* The map must grow while the reader reads: on a loaded machine the batches below could
       all be written before the new thread first runs. */
    while (!__atomic_load_n(&reader.reads, __ATOMIC_SEQ_CST))
        sched_yield();
    ob_store_stats_t stats;
    int batch = 0;
    do {
        for (int i = 0; i < T_BATCH; i++) {
            snprintf(ids[i], sizeof ids[i], "g-%d-%d", batch, i);
            s_item(&items[i], "oms.1", ids[i], event);
        }
        assert_int_equal(ob_store_append(fx->store, items, T_BATCH), 0);
        assert_int_equal(ob_store_stats(fx->store, &stats), 0);
        batch++;
    } while (stats.growths < 4 && batch < 1000);
    __atomic_store_n(&reader.stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(thread, NULL);
    free(event);
    print_message("%d batches, %" PRIu64 " growths, %ld reads\n", batch, stats.growths,
                  reader.reads);
    assert_true(stats.growths >= 4);
    assert_int_equal(reader.failed, 0);
    assert_true(reader.reads > 0);
}

static void
test_many_topics(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_TOPICS = 3000, T_BATCH = 1000 };
    static char names[T_TOPICS][24];
    static ob_store_item_t items[T_BATCH];
    for (int round = 0; round < 2; round++)
        for (int first = 0; first < T_TOPICS; first += T_BATCH) {
            for (int i = 0; i < T_BATCH; i++) {
                snprintf(names[first + i], sizeof names[0], "oms.%d", first + i);
                s_item(&items[i], names[first + i], round ? "second" : "first", NULL);
            }
            assert_int_equal(ob_store_append(fx->store, items, T_BATCH), 0);
            for (int i = 0; i < T_BATCH; i++) {
                assert_int_equal(items[i].rc, 0);
                assert_int_equal(items[i].seq, (uint64_t)round + 1);
            }
        }
    uint64_t topics = 0;
    assert_int_equal(ob_store_topics_count(fx->store, &topics), 0);
    assert_int_equal(topics, T_TOPICS);
    for (int t = 0; t < T_TOPICS; t += 97) {
        s_assert_event(fx->store, names[t], 1, "first");
        s_assert_event(fx->store, names[t], 2, "second");
    }
}

/* A full disk (the commit's write fails with ENOSPC) is -ENOSPC, which names the cause, not
   the bare OB_ERR_STORAGE of other failures; nothing is stored and the next batch works. */
static void
test_commit_disk_full(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[2];
    s_fail_commits = 1;
    s_fail_errno = ENOSPC;
    s_item(&items[0], "oms.1", "a", NULL);
    s_item(&items[1], "oms.2", "b", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 2), -ENOSPC);
    assert_int_equal(items[0].rc, -ENOSPC);
    assert_int_equal(items[1].rc, -ENOSPC);
    assert_string_equal(ob_strerror(-ENOSPC), "no space left on device");
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.1", &stat), OB_ERR_NO_SUCH_TOPIC);
    s_item(&items[0], "oms.1", "a", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].seq, 1);
}

static void
test_commit_failure(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[3];
    s_item(&items[0], "oms.1", "a", NULL);
    s_item(&items[1], "oms.1", "b", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 2), 0);

    /* a batch on an existing and a new topic, whose commit fails */
    s_fail_commits = 1;
    s_item(&items[0], "oms.1", "c", NULL);
    s_item(&items[1], "oms.new", "x", NULL);
    s_item(&items[2], "Bad Topic", "y", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 3), OB_ERR_STORAGE);
    assert_int_equal(s_fail_commits, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].rc, OB_ERR_STORAGE);
        assert_int_equal(items[i].seq, 0);
        assert_int_equal(items[i].dup, 0);
    }
    /* nothing of it is stored */
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.1", &stat), 0);
    assert_int_equal(stat.last_seq, 2);
    assert_int_equal(stat.events, 2);
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.new", &stat), OB_ERR_NO_SUCH_TOPIC);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.1", 3, &buf, &len, NULL), -ENOENT);

    /* the next append works, from the committed state (the cache was not left ahead) */
    s_item(&items[0], "oms.1", "c", NULL);
    s_item(&items[1], "oms.new", "x", NULL);
    s_item(&items[2], "oms.1", "b", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    assert_int_equal(items[0].seq, 3);
    assert_int_equal(items[0].dup, 0);
    assert_int_equal(items[1].seq, 1);
    assert_int_equal(items[1].dup, 0);
    assert_int_equal(items[2].seq, 2);
    assert_int_equal(items[2].dup, 1);
    s_assert_event(fx->store, "oms.1", 3, "c");
    s_assert_event(fx->store, "oms.new", 1, "x");

    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 2);
    assert_int_equal(stats.topics, 2);

    /* and the topic counter was restored too: after a reopen, a third topic is distinct */
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_item(&items[0], "oms.third", "z", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    assert_int_equal(items[0].seq, 1);
    s_assert_event(fx->store, "oms.third", 1, "z");
    s_assert_event(fx->store, "oms.new", 1, "x");
    s_assert_event(fx->store, "oms.1", 1, "a");
}

static void
test_open_errors(void **state)
{
    t_fixture_t *fx = *state;
    char path[T_DIR_MAX * 2];
    ob_store_t *store = NULL;

    /* a missing parent directory */
    snprintf(path, sizeof path, "%s/missing/store", fx->dir);
    assert_int_equal(ob_store_open(path, OB_MAP_SIZE_DEFAULT, &store), -ENOENT);
    assert_null(store);

    /* a file where the directory should be */
    snprintf(path, sizeof path, "%s/file", fx->dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fclose(file);
    int rc = ob_store_open(path, OB_MAP_SIZE_DEFAULT, &store);
    assert_true(rc < 0);
    assert_null(store);
    unlink(path);

    /* a commit failing while the store is created */
    snprintf(path, sizeof path, "%s/new", fx->dir);
    s_fail_commits = 1;
    assert_int_equal(ob_store_open(path, OB_MAP_SIZE_DEFAULT, &store), -EIO);
    assert_null(store);
    assert_int_equal(ob_store_open(path, OB_MAP_SIZE_DEFAULT, &store), 0);
    ob_store_close(&store);
    s_remove_dir(path);

    /* close accepts NULL */
    ob_store_close(NULL);
    ob_store_close(&store);
}

/* The wall clock in µs, as the store reads it (time() reads a coarser clock that can lag it
   across a second's boundary). */
static uint64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
test_get_time_and_topic_id(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[4];
    uint64_t before = s_now_us();
    s_item(&items[0], "oms.a", "e1", "explicit time");
    items[0].time_us = 12345;
    s_item(&items[1], "oms.b", "e1", "now");
    s_item(&items[2], "oms.a", "e1", "a duplicate");
    s_item(&items[3], "Bad Topic", "e1", NULL);
    for (int i = 0; i < 4; i++)
        items[i].topic_id = 777; /* outputs must be overwritten */
    assert_int_equal(ob_store_append(fx->store, items, 4), 0);
    uint64_t after = s_now_us();
    uint32_t a = items[0].topic_id, b = items[1].topic_id;
    assert_true(a != 0 && b != 0 && a != b && a != 777 && b != 777);
    assert_int_equal(items[2].dup, 1);
    assert_int_equal(items[2].topic_id, a); /* a duplicate is told its topic too */
    assert_int_equal(items[3].rc, OB_ERR_INVALID_TOPIC);
    assert_int_equal(items[3].topic_id, 0);

    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t time_us = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.a", 1, &buf, &len, &time_us), 0);
    assert_int_equal(time_us, 12345);
    free(buf);
    assert_int_equal(ob_store_get(fx->store, "oms.b", 1, &buf, &len, &time_us), 0);
    assert_true(time_us >= before && time_us <= after); /* 0 is "now" */
    free(buf);

    /* ids are stable across a reopen; a new topic gets a new one */
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_item(&items[0], "oms.b", "e1", NULL);
    s_item(&items[1], "oms.a", "e2", NULL);
    s_item(&items[2], "oms.c", "e1", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    assert_int_equal(items[0].dup, 1);
    assert_int_equal(items[0].topic_id, b);
    assert_int_equal(items[1].dup, 0);
    assert_int_equal(items[1].topic_id, a);
    assert_true(items[2].topic_id != a && items[2].topic_id != b && items[2].topic_id != 0);
    uint32_t c = items[2].topic_id;

    /* stored times never go back within a topic: a time before the last stored one is
       raised to it (after the reopen too: the last time is read back), so that
       ob_store_seq_at_time and age retention can rely on the order */
    s_item(&items[0], "oms.a", "e3", "back in time");
    items[0].time_us = 12000;
    s_item(&items[1], "oms.a", "e4", "forward");
    items[1].time_us = 4000000000000000ull;
    s_item(&items[2], "oms.a", "e5", "back again");
    items[2].time_us = 13000;
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    uint64_t e2_time = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.a", 2, &buf, &len, &e2_time), 0);
    free(buf);
    assert_int_equal(ob_store_get(fx->store, "oms.a", 3, &buf, &len, &time_us), 0);
    assert_int_equal(time_us, e2_time);
    free(buf);
    assert_int_equal(ob_store_get(fx->store, "oms.a", 5, &buf, &len, &time_us), 0);
    assert_int_equal(time_us, 4000000000000000ull);
    free(buf);

    /* and the readers report the same ids */
    t_scan_t scan = {0};
    assert_int_equal(ob_store_scan(fx->store, "oms.a", 1, 10, s_on_event, &scan, NULL, NULL), 0);
    assert_int_equal(scan.count, 5);
    assert_int_equal(scan.topic_id, a);
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    assert_int_equal(ob_store_topics(fx->store, NULL, s_on_topic, lines), 0);
    assert_int_equal(lines->count, 3);
    assert_int_equal(lines->ids[0], a);
    assert_int_equal(lines->ids[1], b);
    assert_int_equal(lines->ids[2], c);
    free(lines);
}

static void
test_commit_ops_only(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_op_t ops[] = {
        {OB_STORE_PUT_SUB, "ab", NULL, (const uint8_t *)"rec-ab", 6},
        {OB_STORE_PUT_SUB, "abc", NULL, (const uint8_t *)"rec-abc", 7},
        {OB_STORE_PUT_POS, "ab", "oms.2", (const uint8_t *)"p2", 2},
        {OB_STORE_PUT_POS, "ab", "oms.1", (const uint8_t *)"p1", 2},
        {OB_STORE_PUT_POS, "abc", "oms.1", (const uint8_t *)"p3", 2},
        {OB_STORE_DEL_POS, "ab", "oms.9", NULL, 0}, /* absent: no error */
    };
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, ops, 6), 0);
    static const char *const want[] = {"S ab=rec-ab",   "S abc=rec-abc",  "P ab oms.1=p1",
                                       "P ab oms.2=p2", "P abc oms.1=p3", NULL};
    s_assert_loaded(fx->store, want);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 1);
    assert_int_equal(stats.events, 0);
    assert_int_equal(stats.topics, 0);

    /* replace a definition, drop a position */
    ob_store_op_t change[] = {
        {OB_STORE_PUT_SUB, "ab", NULL, (const uint8_t *)"rec-ab-2", 8},
        {OB_STORE_DEL_POS, "ab", "oms.2", NULL, 0},
    };
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, change, 2), 0);
    static const char *const want2[] = {"S ab=rec-ab-2", "S abc=rec-abc", "P ab oms.1=p1",
                                        "P abc oms.1=p3", NULL};
    s_assert_loaded(fx->store, want2);

    /* nothing at all is a no-op */
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, NULL, 0), 0);
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 2);
}

static void
test_commit_atomic(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[2];
    s_item(&items[0], "oms.1", "e1", NULL);
    s_item(&items[1], "oms.1", "e2", NULL);
    ob_store_op_t ops[2] = {
        {OB_STORE_PUT_SUB, "s1", NULL, (const uint8_t *)"def", 3},
        {OB_STORE_PUT_POS, "s1", "oms.1", (const uint8_t *)"pos", 3},
    };
    assert_int_equal(ob_store_commit(fx->store, items, 2, ops, 2), 0);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[1].seq, 2);
    static const char *const want[] = {"S s1=def", "P s1 oms.1=pos", NULL};
    s_assert_loaded(fx->store, want);

    /* a bad op anywhere fails everything, items included */
    static char long_sub[OB_SUB_NAME_MAX + 2], long_topic[OB_TOPIC_MAX + 2];
    memset(long_sub, 's', OB_SUB_NAME_MAX + 1);
    memset(long_topic, 't', OB_TOPIC_MAX + 1);
    const uint8_t *v = (const uint8_t *)"v";
    const ob_store_op_t bad[] = {
        {(ob_store_op_kind_t)0, "s2", NULL, v, 1},
        {(ob_store_op_kind_t)5, "s2", NULL, v, 1},
        {OB_STORE_PUT_SUB, NULL, NULL, v, 1},
        {OB_STORE_DEL_SUB, "", NULL, NULL, 0},
        {OB_STORE_PUT_SUB, long_sub, NULL, v, 1},
        {OB_STORE_PUT_POS, "s2", NULL, v, 1},
        {OB_STORE_DEL_POS, "s2", "", NULL, 0},
        {OB_STORE_PUT_POS, "s2", long_topic, v, 1},
        {OB_STORE_PUT_SUB, "s2", NULL, NULL, 1},
        {OB_STORE_PUT_SUB, "s2", NULL, v, 0},
        {OB_STORE_PUT_POS, "s2", "oms.1", v, OB_BODY_MAX + 1},
    };
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        ob_store_op_t batch[3] = {
            {OB_STORE_PUT_SUB, "s2", NULL, v, 1},
            bad[b],
            {OB_STORE_DEL_SUB, "s1", NULL, NULL, 0},
        };
        s_item(&items[0], "oms.1", "e3", NULL);
        s_item(&items[1], "oms.new", "e1", NULL);
        assert_int_equal(ob_store_commit(fx->store, items, 2, batch, 3), OB_ERR_INVALID_ARGUMENT);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(items[i].rc, OB_ERR_INVALID_ARGUMENT);
            assert_int_equal(items[i].seq, 0);
        }
    }
    s_assert_loaded(fx->store, want);
    s_assert_stat(fx->store, "oms.1", 1, 2, 2, 4);
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.new", &stat), OB_ERR_NO_SUCH_TOPIC);

    /* a failing commit loses the ops with the items */
    s_fail_commits = 1;
    ob_store_op_t del = {OB_STORE_DEL_SUB, "s1", NULL, NULL, 0};
    s_item(&items[0], "oms.1", "e3", NULL);
    assert_int_equal(ob_store_commit(fx->store, items, 1, &del, 1), OB_ERR_STORAGE);
    assert_int_equal(items[0].rc, OB_ERR_STORAGE);
    s_assert_loaded(fx->store, want);
    s_assert_stat(fx->store, "oms.1", 1, 2, 2, 4);

    /* the same batch again goes through, both parts */
    s_item(&items[0], "oms.1", "e3", NULL);
    assert_int_equal(ob_store_commit(fx->store, items, 1, &del, 1), 0);
    assert_int_equal(items[0].seq, 3);
    static const char *const none[] = {NULL};
    s_assert_loaded(fx->store, none);

    /* names and values at their limits are fine (a position's topic need not exist) */
    static char max_sub[OB_SUB_NAME_MAX + 1], max_topic[OB_TOPIC_MAX + 1];
    memset(max_sub, 'm', OB_SUB_NAME_MAX);
    memset(max_topic, 'x', OB_TOPIC_MAX);
    uint8_t *big = malloc(OB_BODY_MAX);
    assert_non_null(big);
    memset(big, 'B', OB_BODY_MAX);
    ob_store_op_t max_ops[] = {
        {OB_STORE_PUT_SUB, max_sub, NULL, big, OB_BODY_MAX},
        {OB_STORE_PUT_POS, max_sub, max_topic, big, OB_BODY_MAX},
    };
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, max_ops, 2), 0);
    free(big);
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    assert_int_equal(ob_store_load_subs(fx->store, s_on_sub, s_on_pos, lines), 0);
    assert_int_equal(lines->count, 2);
    char expect[T_LINE];
    snprintf(expect, sizeof expect, "P %s %s=%.40s", max_sub, max_topic,
             "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    assert_string_equal(lines->lines[1], expect);
    free(lines);
}

static void
test_del_sub_prefix(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_POSITIONS = 300 }; /* positions of "ab": several pages of them */
    static char topics[T_POSITIONS][16];
    static ob_store_op_t ops[T_POSITIONS + 8];
    static uint8_t value[100];
    memset(value, 'v', sizeof value);
    size_t n = 0;
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_SUB, "a", NULL, value, 1};
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_SUB, "ab", NULL, value, 1};
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_SUB, "abc", NULL, value, 1};
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_POS, "a", "oms.1", value, 1};
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_POS, "abc", "oms.1", value, 1};
    ops[n++] = (ob_store_op_t){OB_STORE_PUT_POS, "abc", "oms.2", value, 1};
    for (int i = 0; i < T_POSITIONS; i++) {
        snprintf(topics[i], sizeof topics[i], "t.%03d", i);
        ops[n++] = (ob_store_op_t){OB_STORE_PUT_POS, "ab", topics[i], value, sizeof value};
    }
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, ops, n), 0);
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    assert_int_equal(ob_store_load_subs(fx->store, s_on_sub, s_on_pos, lines), 0);
    assert_int_equal(lines->count, 3 + 3 + T_POSITIONS);
    free(lines);

    /* "ab" goes with its positions; "a" and "abc", whose names share its bytes, stay */
    ob_store_op_t del = {OB_STORE_DEL_SUB, "ab", NULL, NULL, 0};
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, &del, 1), 0);
    static const char *const want[] = {"S a=v",         "S abc=v",       "P a oms.1=v",
                                       "P abc oms.1=v", "P abc oms.2=v", NULL};
    s_assert_loaded(fx->store, want);
    /* deleting an absent subscription is no error */
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, &del, 1), 0);

    /* ops apply in order: a position put then its subscription deleted is gone; a
       subscription deleted then put again has what came after */
    ob_store_op_t order[] = {
        {OB_STORE_PUT_POS, "x", "oms.1", value, 1}, {OB_STORE_DEL_SUB, "x", NULL, NULL, 0},
        {OB_STORE_DEL_SUB, "a", NULL, NULL, 0},     {OB_STORE_PUT_SUB, "a", NULL, value, 2},
        {OB_STORE_PUT_POS, "a", "oms.3", value, 2},
    };
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, order, 5), 0);
    static const char *const want2[] = {"S a=vv",        "S abc=v",       "P a oms.3=vv",
                                        "P abc oms.1=v", "P abc oms.2=v", NULL};
    s_assert_loaded(fx->store, want2);
}

static void
test_load_subs_reopen(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_op_t ops[] = {
        {OB_STORE_PUT_SUB, "billing", NULL, (const uint8_t *)"B", 1},
        {OB_STORE_PUT_SUB, "audit", NULL, (const uint8_t *)"A", 1},
        {OB_STORE_PUT_POS, "billing", "oms.2", (const uint8_t *)"b2", 2},
        {OB_STORE_PUT_POS, "audit", "oms.1", (const uint8_t *)"a1", 2},
        {OB_STORE_PUT_POS, "billing", "oms.1", (const uint8_t *)"b1", 2},
    };
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, ops, 5), 0);
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    /* definitions by name, then positions by subscription, then topic */
    static const char *const want[] = {"S audit=A",          "S billing=B",
                                       "P audit oms.1=a1",   "P billing oms.1=b1",
                                       "P billing oms.2=b2", NULL};
    s_assert_loaded(fx->store, want);

    /* a callback stops the load with its code, in either part */
    t_lines_t lines = {.stop_at = 1};
    assert_int_equal(ob_store_load_subs(fx->store, s_on_sub, s_on_pos, &lines), 42);
    assert_int_equal(lines.count, 1);
    lines = (t_lines_t){.stop_at = 4};
    assert_int_equal(ob_store_load_subs(fx->store, s_on_sub, s_on_pos, &lines), 42);
    assert_int_equal(lines.count, 4);
    assert_string_equal(lines.lines[3], "P billing oms.1=b1");
    /* a NULL callback skips its part */
    lines = (t_lines_t){0};
    assert_int_equal(ob_store_load_subs(fx->store, NULL, s_on_pos, &lines), 0);
    assert_int_equal(lines.count, 3);
    assert_string_equal(lines.lines[0], "P audit oms.1=a1");
}

static void
test_scan(void **state)
{
    t_fixture_t *fx = *state;
    static char ids[10][8], texts[10][16];
    ob_store_item_t items[10];
    /* a topic on each side of oms.s in id order: a scan stays within its own */
    s_item(&items[0], "oms.r", "r1", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);
    uint64_t bytes = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "id%d", i);
        snprintf(texts[i], sizeof texts[i], "event-%d%s", i, i % 2 ? "!" : "");
        s_item(&items[i], "oms.s", ids[i], texts[i]);
        items[i].time_us = 1000 + (uint64_t)i * 10;
        bytes += strlen(texts[i]);
    }
    assert_int_equal(ob_store_append(fx->store, items, 10), 0);
    uint32_t id = items[0].topic_id;
    s_item(&items[0], "oms.t", "t1", NULL);
    assert_int_equal(ob_store_append(fx->store, items, 1), 0);

    /* all of it, from 0 (read as 1), with the figures */
    t_scan_t scan = {0};
    ob_topic_stat_t stat = {0};
    size_t count = 99;
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 0, 100, s_on_event, &scan, &stat, &count),
                     0);
    assert_int_equal(count, 10);
    assert_int_equal(scan.count, 10);
    assert_int_equal(scan.topic_id, id);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(scan.seqs[i], (uint64_t)i + 1);
        assert_int_equal(scan.times[i], 1000 + (uint64_t)i * 10);
        assert_string_equal(scan.events[i], texts[i]);
    }
    assert_int_equal(stat.first_seq, 1);
    assert_int_equal(stat.last_seq, 10);
    assert_int_equal(stat.events, 10);
    assert_int_equal(stat.bytes, bytes);

    /* a window */
    scan = (t_scan_t){0};
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 4, 3, s_on_event, &scan, NULL, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(scan.seqs[0], 4);
    assert_int_equal(scan.seqs[2], 6);
    /* the callback stops it: that event counts */
    scan = (t_scan_t){.stop_after = 2};
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 9, 100, s_on_event, &scan, NULL, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(scan.seqs[1], 10);
    /* nothing at or after from_seq, or max 0: no events, still the figures */
    scan = (t_scan_t){0};
    stat = (ob_topic_stat_t){0};
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 11, 100, s_on_event, &scan, &stat, &count),
                     0);
    assert_int_equal(count, 0);
    assert_int_equal(scan.count, 0);
    assert_int_equal(stat.last_seq, 10);
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 1, 0, s_on_event, &scan, NULL, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(scan.count, 0);
    /* unknown and invalid topics; outputs untouched */
    count = 99;
    assert_int_equal(ob_store_scan(fx->store, "oms.x", 1, 10, s_on_event, &scan, NULL, &count),
                     OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(ob_store_scan(fx->store, "Bad Topic", 1, 10, s_on_event, &scan, NULL, &count),
                     OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(count, 99);

    /* after retention removed the first six, a scan from 1 begins at 7, and the figures
       tell the caller that it missed some */
    t_policy_t policy = {.topics = {"oms.s"}, .limits = {{.max_events = 4}}};
    s_retain(fx->store, &policy, 1000000, 100, 6);
    scan = (t_scan_t){0};
    assert_int_equal(ob_store_scan(fx->store, "oms.s", 1, 100, s_on_event, &scan, &stat, &count),
                     0);
    assert_int_equal(count, 4);
    assert_int_equal(scan.seqs[0], 7);
    assert_int_equal(scan.seqs[3], 10);
    assert_int_equal(stat.first_seq, 7);
    assert_int_equal(stat.events, 4);
    assert_int_equal(stat.bytes,
                     strlen(texts[6]) + strlen(texts[7]) + strlen(texts[8]) + strlen(texts[9]));
}

static void
test_seq_at_time(void **state)
{
    t_fixture_t *fx = *state;
    static const uint64_t times[] = {100, 200, 200, 300, 500};
    static const char *ids[] = {"a", "b", "c", "d", "e"};
    ob_store_item_t items[5];
    for (int i = 0; i < 5; i++) {
        s_item(&items[i], "oms.1", ids[i], NULL);
        items[i].time_us = times[i];
    }
    assert_int_equal(ob_store_append(fx->store, items, 5), 0);
    static const struct {
        uint64_t time_us, seq;
    } cases[] = {
        {0, 1},   {99, 1},  {100, 1}, {101, 2}, {200, 2},        {201, 4},
        {300, 4}, {301, 5}, {500, 5}, {501, 6}, {UINT64_MAX, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t seq = 0;
        assert_int_equal(ob_store_seq_at_time(fx->store, "oms.1", cases[c].time_us, &seq), 0);
        if (seq != cases[c].seq)
            fail_msg("time %" PRIu64 ": seq %" PRIu64 ", want %" PRIu64, cases[c].time_us, seq,
                     cases[c].seq);
    }
    uint64_t seq = 77;
    assert_int_equal(ob_store_seq_at_time(fx->store, "oms.2", 0, &seq), OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(seq, 77);

    /* retention removed the first two: the earliest answer is the first stored */
    t_policy_t policy = {.topics = {"oms.1"}, .limits = {{.max_events = 3}}};
    s_retain(fx->store, &policy, 1000, 10, 2);
    assert_int_equal(ob_store_seq_at_time(fx->store, "oms.1", 0, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(ob_store_seq_at_time(fx->store, "oms.1", 250, &seq), 0);
    assert_int_equal(seq, 4);
    /* and then all of them (each older than 1 ms at 1 s): every time is after the last */
    policy.limits[0] = (ob_retention_t){.max_age_ms = 1};
    s_retain(fx->store, &policy, 1000000, 10, 3);
    assert_int_equal(ob_store_seq_at_time(fx->store, "oms.1", 0, &seq), 0);
    assert_int_equal(seq, 6);
}

static void
test_topics_list(void **state)
{
    t_fixture_t *fx = *state;
    static const char *names[] = {"b.1", "a.1", "b.2", "c", "b", "b.2"};
    static const char *ids[] = {"1", "2", "3", "4", "5", "6"};
    ob_store_item_t items[6];
    for (int i = 0; i < 6; i++)
        s_item(&items[i], names[i], ids[i], NULL);
    assert_int_equal(ob_store_append(fx->store, items, 6), 0);

    static const struct {
        const char *after;
        const char *first; /* first line, NULL for none */
        size_t count;
    } cases[] = {
        {NULL, "T a.1 1-1 1 1", 5},
        {"", "T a.1 1-1 1 1", 5},
        {"a", "T a.1 1-1 1 1", 5},
        {"b", "T b.1 1-1 1 1", 3},
        {"b.", "T b.1 1-1 1 1", 3},
        {"b.1", "T b.2 1-2 2 2", 2},
        {"c", NULL, 0},
        {"zzz", NULL, 0},
    };
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memset(lines, 0, sizeof *lines);
        assert_int_equal(ob_store_topics(fx->store, cases[c].after, s_on_topic, lines), 0);
        if (lines->count != cases[c].count)
            fail_msg("after \"%s\": %zu topics, want %zu", cases[c].after ? cases[c].after : "",
                     lines->count, cases[c].count);
        if (cases[c].first)
            assert_string_equal(lines->lines[0], cases[c].first);
    }
    /* the whole list: bytewise order, ids as appended */
    memset(lines, 0, sizeof *lines);
    assert_int_equal(ob_store_topics(fx->store, NULL, s_on_topic, lines), 0);
    assert_string_equal(lines->lines[0], "T a.1 1-1 1 1");
    assert_string_equal(lines->lines[1], "T b 1-1 1 1");
    assert_string_equal(lines->lines[2], "T b.1 1-1 1 1");
    assert_string_equal(lines->lines[3], "T b.2 1-2 2 2");
    assert_string_equal(lines->lines[4], "T c 1-1 1 1");
    assert_int_equal(lines->ids[0], items[1].topic_id);
    assert_int_equal(lines->ids[3], items[2].topic_id);

    /* an `after` longer than any name: what follows its first OB_TOPIC_MAX bytes */
    char long_after[OB_TOPIC_MAX + 50];
    memset(long_after, 'x', sizeof long_after - 1);
    long_after[sizeof long_after - 1] = '\0';
    memcpy(long_after, "b.1", 3);
    memset(lines, 0, sizeof *lines);
    assert_int_equal(ob_store_topics(fx->store, long_after, s_on_topic, lines), 0);
    assert_int_equal(lines->count, 2);
    assert_string_equal(lines->lines[0], "T b.2 1-2 2 2");

    /* the callback stops the listing with its code */
    memset(lines, 0, sizeof *lines);
    lines->stop_at = 2;
    assert_int_equal(ob_store_topics(fx->store, NULL, s_on_topic, lines), 42);
    assert_int_equal(lines->count, 2);
    free(lines);
}

static void
test_retain_max_events(void **state)
{
    t_fixture_t *fx = *state;
    size_t size = s_publish(fx->store, "oms.a", 0, 20, 1000, 1);
    s_publish(fx->store, "oms.b", 0, 5, 1000, 1);
    s_publish(fx->store, "oms.c", 0, 10, 1000, 1);
    t_policy_t policy = {.topics = {"oms.a", "oms.c"},
                         .limits = {{.max_events = 8}, {.max_events = 10}}};

    /* twelve over, a budget of five: three calls, then nothing */
    s_retain(fx->store, &policy, 5000, 5, 5);
    s_assert_stat(fx->store, "oms.a", 6, 20, 15, 15 * size);
    s_retain(fx->store, &policy, 5000, 5, 5);
    s_retain(fx->store, &policy, 5000, 5, 2);
    s_retain(fx->store, &policy, 5000, 5, 0);
    s_assert_stat(fx->store, "oms.a", 13, 20, 8, 8 * size);
    s_assert_stat(fx->store, "oms.b", 1, 5, 5, 5 * size);
    s_assert_stat(fx->store, "oms.c", 1, 10, 10, 10 * size);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.removed, 12);
    assert_int_equal(stats.removed_bytes, 12 * size);
    assert_int_equal(stats.events, 8 + 5 + 10);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.a", 12, &buf, &len, NULL), -ENOENT);

    /* a removed id is free again: a new event; a stored one is still a duplicate */
    ob_store_item_t items[2];
    uint8_t *b0 = s_event_item(&items[0], "oms.a", "oms.a-000000", 9000);
    uint8_t *b1 = s_event_item(&items[1], "oms.a", "oms.a-000012", 9000);
    assert_int_equal(ob_store_append(fx->store, items, 2), 0);
    assert_int_equal(items[0].dup, 0);
    assert_int_equal(items[0].seq, 21);
    assert_int_equal(items[1].dup, 1);
    assert_int_equal(items[1].seq, 13);
    free(b0);
    free(b1);

    /* exactly one dedup entry per stored event is left */
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_entries(fx->dir, "dedup"), 9 + 5 + 10);
    assert_int_equal(s_raw_entries(fx->dir, "events"), 9 + 5 + 10);
}

static void
test_retain_round_robin(void **state)
{
    t_fixture_t *fx = *state;
    size_t size = s_publish(fx->store, "oms.a", 0, 6, 1000, 1);
    s_publish(fx->store, "oms.b", 0, 6, 1000, 1);
    s_publish(fx->store, "oms.c", 0, 6, 1000, 1);
    t_policy_t policy = {.topics = {"oms.a", "oms.b"},
                         .limits = {{.max_events = 2}, {.max_events = 2}}};
    /* four over in each of a and b: a call ends where its budget does, the next goes on */
    s_retain(fx->store, &policy, 5000, 3, 3);
    s_assert_stat(fx->store, "oms.a", 4, 6, 3, 3 * size);
    s_assert_stat(fx->store, "oms.b", 1, 6, 6, 6 * size);
    s_retain(fx->store, &policy, 5000, 3, 3);
    s_assert_stat(fx->store, "oms.a", 5, 6, 2, 2 * size);
    s_assert_stat(fx->store, "oms.b", 3, 6, 4, 4 * size);
    s_retain(fx->store, &policy, 5000, 3, 2);
    s_assert_stat(fx->store, "oms.b", 5, 6, 2, 2 * size);
    /* one call looks at each topic once: three topics, three questions */
    policy.calls = 0;
    s_retain(fx->store, &policy, 5000, 3, 0);
    assert_int_equal(policy.calls, 3);

    /* a topic before the last one looked at gets its turn after wrapping round */
    s_publish(fx->store, "oms.a", 6, 3, 2000, 1);
    s_retain(fx->store, &policy, 5000, 100, 3);
    s_assert_stat(fx->store, "oms.a", 8, 9, 2, 2 * size);
    s_assert_stat(fx->store, "oms.c", 1, 6, 6, 6 * size);
}

static void
test_retain_max_bytes(void **state)
{
    t_fixture_t *fx = *state;
    size_t size = s_publish(fx->store, "oms.a", 0, 10, 1000, 1);
    s_publish(fx->store, "oms.b", 0, 2, 1000, 1);
    t_policy_t policy = {.topics = {"oms.a", "oms.b"},
                         .limits = {{.max_bytes = 3 * size + size / 2}, {.max_bytes = 1}}};
    s_retain(fx->store, &policy, 5000, 100, 7 + 2);
    s_assert_stat(fx->store, "oms.a", 8, 10, 3, 3 * size);
    /* a limit below one event's size empties the topic, which keeps its sequence */
    s_assert_stat(fx->store, "oms.b", 0, 2, 0, 0);
    policy.limits[0].max_bytes = 1;
    s_retain(fx->store, &policy, 5000, 100, 3);
    s_assert_stat(fx->store, "oms.a", 0, 10, 0, 0);
    t_scan_t scan = {0};
    ob_topic_stat_t stat;
    size_t count = 9;
    assert_int_equal(ob_store_scan(fx->store, "oms.a", 0, 10, s_on_event, &scan, &stat, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(stat.last_seq, 10);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.removed, 12);
    assert_int_equal(stats.removed_bytes, 12 * size);
    assert_int_equal(stats.events, 0);

    /* the writer's cached record of oms.b went with its events: the next one is 3 */
    s_publish(fx->store, "oms.b", 2, 1, 2000, 1);
    s_assert_stat(fx->store, "oms.b", 3, 3, 1, size);

    /* oms.a's sequence survives a reopen too, and its removed ids are free again */
    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_assert_stat(fx->store, "oms.a", 0, 10, 0, 0);
    s_publish(fx->store, "oms.a", 0, 2, 3000, 1);
    s_assert_stat(fx->store, "oms.a", 11, 12, 2, 2 * size);
    /* the figures go on from the recorded total: bytes are the new events' only */
    policy.limits[0].max_bytes = size;
    policy.limits[1].max_bytes = 0; /* leave oms.b alone */
    s_retain(fx->store, &policy, 5000, 100, 1);
    s_assert_stat(fx->store, "oms.a", 12, 12, 1, size);
}

static void
test_retain_max_age(void **state)
{
    t_fixture_t *fx = *state;
    const uint64_t t0 = 1700000000000000ull;
    size_t size = s_publish(fx->store, "oms.a", 0, 10, t0, 1000); /* one per ms */
    t_policy_t policy = {.topics = {"oms.a"}, .limits = {{.max_age_ms = 10}}};
    /* now is t0 + 14 ms: older than t0 + 4 ms goes (0..3); the one at exactly 4 ms stays */
    s_retain(fx->store, &policy, t0 + 14000, 3, 3);
    s_retain(fx->store, &policy, t0 + 14000, 3, 1);
    s_retain(fx->store, &policy, t0 + 14000, 3, 0);
    s_assert_stat(fx->store, "oms.a", 5, 10, 6, 6 * size);
    /* an age reaching back before the epoch removes nothing */
    policy.limits[0].max_age_ms = UINT64_MAX / 100;
    s_retain(fx->store, &policy, t0 + 14000, 100, 0);
    /* long after, all of it goes */
    policy.limits[0].max_age_ms = 10;
    s_retain(fx->store, &policy, t0 + 100000, 100, 6);
    s_assert_stat(fx->store, "oms.a", 0, 10, 0, 0);
    s_retain(fx->store, &policy, t0 + 100000, 100, 0);
}

static void
test_retain_many(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_EVENTS = 3000 };
    size_t size = s_publish(fx->store, "oms.big", 0, T_EVENTS, 1000, 1);
    s_publish(fx->store, "oms.small", 0, 3, 1000, 1);
    t_policy_t policy = {.topics = {"oms.big"}, .limits = {{.max_events = 10}}};
    /* many pages of events and dedup entries deleted with one cursor each */
    s_retain(fx->store, &policy, 5000, 100000, T_EVENTS - 10);
    s_assert_stat(fx->store, "oms.big", T_EVENTS - 9, T_EVENTS, 10, 10 * size);
    t_scan_t scan = {0};
    size_t count = 0;
    assert_int_equal(ob_store_scan(fx->store, "oms.big", 1, 100, s_on_event, &scan, NULL, &count),
                     0);
    assert_int_equal(count, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(scan.seqs[i], (uint64_t)T_EVENTS - 9 + (uint64_t)i);
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_entries(fx->dir, "dedup"), 10 + 3);
    assert_int_equal(s_raw_entries(fx->dir, "events"), 10 + 3);
}

static void
test_retain_commit_failure(void **state)
{
    t_fixture_t *fx = *state;
    size_t size = s_publish(fx->store, "oms.a", 0, 10, 1000, 1);
    t_policy_t policy = {.topics = {"oms.a"}, .limits = {{.max_bytes = 1}}};
    s_fail_commits = 1;
    uint64_t removed = 0, bytes = 0;
    assert_int_equal(ob_store_retain(fx->store, s_limits, &policy, 5000, 100, &removed, &bytes),
                     OB_ERR_STORAGE);
    assert_int_equal(removed, 0);
    assert_int_equal(bytes, 0);
    s_assert_stat(fx->store, "oms.a", 1, 10, 10, 10 * size);
    /* nothing happened: the next append goes on from 10, the old ids still duplicates */
    s_publish(fx->store, "oms.a", 10, 1, 2000, 1);
    ob_store_item_t item;
    uint8_t *buf = s_event_item(&item, "oms.a", "oms.a-000000", 3000);
    assert_int_equal(ob_store_append(fx->store, &item, 1), 0);
    assert_int_equal(item.dup, 1);
    free(buf);
    /* and the pass runs again in full; NULL outputs are fine */
    assert_int_equal(ob_store_retain(fx->store, s_limits, &policy, 5000, 100, NULL, NULL), 0);
    s_assert_stat(fx->store, "oms.a", 0, 11, 0, 0);
    s_publish(fx->store, "oms.a", 20, 1, 4000, 1);
    s_assert_stat(fx->store, "oms.a", 12, 12, 1, size);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.removed, 11);
    /* a zero budget does nothing */
    assert_int_equal(ob_store_retain(fx->store, s_limits, &policy, 5000, 0, NULL, NULL), 0);
    s_assert_stat(fx->store, "oms.a", 12, 12, 1, size);
}

static void
test_ops_map_growth(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_BATCHES = 20, T_OPS = 8 }; /* 160 records of OB_BODY_MAX bytes: about 10 MB */
    ob_store_close(&fx->store);
    s_remove_dir(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    uint8_t *value = malloc(OB_BODY_MAX);
    assert_non_null(value);
    static char subs[T_BATCHES][16];
    static char topics[T_OPS][16];
    ob_store_op_t ops[T_OPS + 1];
    for (int t = 0; t < T_OPS; t++)
        snprintf(topics[t], sizeof topics[t], "oms.%d", t);
    for (int b = 0; b < T_BATCHES; b++) {
        snprintf(subs[b], sizeof subs[b], "sub-%02d", b);
        memset(value, 'a' + b % 26, OB_BODY_MAX);
        ops[0] = (ob_store_op_t){OB_STORE_PUT_SUB, subs[b], NULL, value, OB_BODY_MAX};
        for (int t = 0; t < T_OPS; t++)
            ops[t + 1] = (ob_store_op_t){OB_STORE_PUT_POS, subs[b], topics[t], value, OB_BODY_MAX};
        assert_int_equal(ob_store_commit(fx->store, NULL, 0, ops, T_OPS + 1), 0);
    }
    free(value);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_true(stats.growths >= 4);
    assert_int_equal(stats.commits, T_BATCHES);

    ob_store_close(&fx->store);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    t_lines_t *lines = calloc(1, sizeof *lines);
    assert_non_null(lines);
    assert_int_equal(ob_store_load_subs(fx->store, s_on_sub, NULL, lines), 0);
    assert_int_equal(lines->count, T_BATCHES);
    assert_string_equal(lines->lines[1], "S sub-01=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    memset(lines, 0, sizeof *lines);
    assert_int_equal(ob_store_load_subs(fx->store, NULL, s_on_pos, lines), 0);
    assert_int_equal(lines->count, T_BATCHES * T_OPS);
    free(lines);
}

/* Rewrites the closed store in dir as a version-`version` one; for version 2 also drops the
   databases version 3 added. */
static void
s_raw_set_version(const char *dir, uint32_t version)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    uint8_t buf[4] = {(uint8_t)(version >> 24), (uint8_t)(version >> 16), (uint8_t)(version >> 8),
                      (uint8_t)version};
    char name[] = "version";
    MDB_val key = {sizeof name - 1, name}, value = {sizeof buf, buf};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &key, &value, 0), 0);
    if (version == 2) {
        assert_int_equal(mdb_dbi_open(txn, "subs", 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 1), 0);
        assert_int_equal(mdb_dbi_open(txn, "positions", 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Returns the format version of the closed store in dir. */
static uint32_t
s_raw_version(const char *dir)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    char name[] = "version";
    MDB_val key = {sizeof name - 1, name}, value;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &key, &value), 0);
    assert_int_equal(value.mv_size, 4);
    const uint8_t *p = value.mv_data;
    uint32_t version = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

static void
test_format_versions(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t item;
    s_item(&item, "oms.1", "e1", "kept");
    assert_int_equal(ob_store_append(fx->store, &item, 1), 0);
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_version(fx->dir), 5);

    /* a version-3 store (0.5's: its records are read by the broker's codecs) is upgraded
       in place, so that 0.5 refuses it from then on */
    s_raw_set_version(fx->dir, 3);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_assert_event(fx->store, "oms.1", 1, "kept");
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_version(fx->dir), 5);

    /* a version-2 store (no subscription databases) is upgraded in place */
    s_raw_set_version(fx->dir, 2);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_assert_event(fx->store, "oms.1", 1, "kept");
    static const char *const none[] = {NULL};
    s_assert_loaded(fx->store, none);
    ob_store_op_t op = {OB_STORE_PUT_SUB, "s", NULL, (const uint8_t *)"x", 1};
    assert_int_equal(ob_store_commit(fx->store, NULL, 0, &op, 1), 0);
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_version(fx->dir), 5);

    /* a version-4 store (0.6's: no journal yet) is upgraded in place */
    s_raw_set_version(fx->dir, 4);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    s_assert_event(fx->store, "oms.1", 1, "kept");
    ob_store_close(&fx->store);
    assert_int_equal(s_raw_version(fx->dir), 5);

    /* any other version is refused */
    s_raw_set_version(fx->dir, 6);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), OB_ERR_STORAGE);
    assert_null(fx->store);
    s_raw_set_version(fx->dir, 1);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), OB_ERR_STORAGE);
    s_raw_set_version(fx->dir, 4);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    static const char *const one[] = {"S s=x", NULL};
    s_assert_loaded(fx->store, one);
}

/* --- one writer per data directory ----------------------------------------------------------- */

#define T_CHILD_MS 10000 /* wait for a child process's word */
#define T_EXIT_BUSY 42   /* a child's exit status: its open was refused with -EBUSY */
#define T_EXIT_OTHER 43  /* a child's exit status: its open returned something else */

/* Forks a child that opens the store in dir. With hold = 0 it exits at once with T_EXIT_BUSY,
   T_EXIT_OTHER or 0 (it opened and closed the store). With hold = 1 it writes the open's
   result byte ('0' opened, 'B' busy, 'E' other) to *ret_ready's pipe and, if it opened the
   store, keeps it until it is killed. Returns the child's pid. */
static pid_t
s_fork_opener(const char *dir, int hold, int *ret_ready)
{
    int fds[2] = {-1, -1};
    if (hold)
        assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ob_store_t *store = NULL;
        int rc = ob_store_open(dir, OB_MAP_SIZE_DEFAULT, &store);
        if (!hold) {
            ob_store_close(&store);
            _exit(rc == 0 ? 0 : rc == -EBUSY ? T_EXIT_BUSY : T_EXIT_OTHER);
        }
        char word = rc == 0 ? '0' : rc == -EBUSY ? 'B' : 'E';
        if (write(fds[1], &word, 1) != 1 || rc != 0)
            _exit(T_EXIT_OTHER);
        for (;;)
            pause(); /* holds the store until SIGKILL */
    }
    if (hold) {
        close(fds[1]);
        *ret_ready = fds[0];
    }
    return pid;
}

/* Reads the child's word from fd (up to T_CHILD_MS) and closes fd. Returns it, or 0. */
static char
s_child_word(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char word = 0;
    if (poll(&pfd, 1, T_CHILD_MS) != 1 || read(fd, &word, 1) != 1)
        word = 0;
    close(fd);
    return word;
}

/* Returns the exit status of pid, which must exit by itself (0..255), or -1. */
static int
s_child_exit(pid_t pid)
{
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void
test_single_writer(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_t *second = NULL;
    long holder = 0;

    /* The fixture's store holds the directory: a second open here, and in another process,
       is refused with -EBUSY, and the lock file names this process. */
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &second), -EBUSY);
    assert_null(second);
    assert_int_equal(ob_store_holder(fx->dir, &holder), 0);
    assert_int_equal(holder, (long)getpid());
    assert_int_equal(s_child_exit(s_fork_opener(fx->dir, 0, NULL)), T_EXIT_BUSY);

    /* The refused opens changed nothing: the holder still appends. */
    ob_store_item_t item = {.topic = "oms.lock",
                            .topic_len = 8,
                            .event_id = "a",
                            .event_id_len = 1,
                            .event = (const uint8_t *)"x",
                            .event_len = 1};
    assert_int_equal(ob_store_append(fx->store, &item, 1), 0);
    assert_int_equal(item.seq, 1);

    /* Closed: another process opens it (and closes it again). */
    ob_store_close(&fx->store);
    assert_int_equal(s_child_exit(s_fork_opener(fx->dir, 0, NULL)), 0);

    /* A child that holds it: refused here, the lock file names the child; kill -9 of the
       child releases it, with no cleanup of any kind, and the event is still there. */
    int ready = -1;
    pid_t child = s_fork_opener(fx->dir, 1, &ready);
    assert_int_equal(s_child_word(ready), '0');
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &second), -EBUSY);
    assert_int_equal(ob_store_holder(fx->dir, &holder), 0);
    assert_int_equal(holder, (long)child);
    assert_int_equal(kill(child, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    assert_int_equal(ob_store_holder(fx->dir, &holder), 0);
    assert_int_equal(holder, (long)getpid());
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(fx->store, "oms.lock", &stat), 0);
    assert_int_equal(stat.last_seq, 1);

    /* A directory that was never opened has no holder; garbage in the file is no pid. */
    char other[T_DIR_MAX * 2], file[T_DIR_MAX * 3];
    snprintf(other, sizeof other, "%s/never", fx->dir);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(ob_store_holder(other, &holder), -ENOENT);
    snprintf(file, sizeof file, "%s/broker.lock", other);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("12x\n", f);
    fclose(f);
    holder = 7;
    assert_int_equal(ob_store_holder(other, &holder), -ENOENT);
    assert_int_equal(holder, 7);
    unlink(file);
    rmdir(other);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_append_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_last_sync_us, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_disk_full, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_per_topic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dedup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_item_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readers_during_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_topics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_get_time_and_topic_id, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_ops_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_atomic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_del_sub_prefix, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_load_subs_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_at_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_topics_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_max_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_round_robin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_max_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_max_age, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_many, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retain_commit_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ops_map_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_format_versions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_single_writer, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
