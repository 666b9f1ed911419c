/*  test_store: the broker's topic store (broker/store.h) on LMDB (broker/store_lmdb.c).

    Each test opens a store in its own scratch directory under /tmp and removes it at the end.
    Commit failures are injected by wrapping mdb_txn_commit at link time, which is why this
    file, unlike the broker outside store_lmdb.c, includes lmdb.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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
#include <lmdb.h>

#include "orderbus/orderbus.h"
#include "store.h"

#define T_DIR_MAX 256 /* bytes in a scratch directory path */

/* --- mdb_txn_commit, wrapped: fails the next s_fail_commits commits ------------------------ */

static int s_fail_commits; /* commits still to fail */

int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);

int
__wrap_mdb_txn_commit(MDB_txn *txn)
{
    if (s_fail_commits > 0) {
        s_fail_commits--;
        mdb_txn_abort(txn); /* a failed commit frees the transaction, as LMDB's does */
        return EIO;
    }
    return __real_mdb_txn_commit(txn);
}

/* --- helpers ------------------------------------------------------------------------------- */

typedef struct t_fixture {
    char dir[T_DIR_MAX]; /* scratch directory, the store's data directory */
    ob_store_t *store;   /* open store */
} t_fixture_t;

/* Removes the flat directory path and the files in it. */
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
            unlink(file);
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
    assert_int_equal(ob_store_get(store, topic, seq, &buf, &len), 0);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(buf, text, len);
    free(buf);
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
    assert_int_equal(ob_store_append(fx->store, items, 3), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].rc, 0);
        assert_int_equal(items[i].dup, 0);
        assert_int_equal(items[i].seq, (uint64_t)i + 1);
    }
    s_assert_event(fx->store, "oms.1", 1, "first event");
    s_assert_event(fx->store, "oms.1", 2, "second event");
    s_assert_event(fx->store, "oms.1", 3, "third event");

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(fx->store, "oms.1", 4, &buf, &len), -ENOENT);
    assert_int_equal(ob_store_get(fx->store, "oms.1", 0, &buf, &len), -ENOENT);
    assert_int_equal(ob_store_get(fx->store, "oms.2", 1, &buf, &len), OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(ob_store_get(fx->store, "Not A Topic", 1, &buf, &len), OB_ERR_NO_SUCH_TOPIC);
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

    /* an empty batch is a no-op */
    assert_int_equal(ob_store_append(fx->store, items, 0), 0);
    assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    assert_int_equal(stats.commits, 1);
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
        int rc = ob_store_topic_stat(reader->store, "oms.1", &stat);
        if (rc == 0)
            rc = ob_store_get(reader->store, "oms.1", stat.last_seq, &buf, &len);
        free(buf);
        if (rc != 0 && !reader->failed)
            reader->failed = rc;
        reader->reads++;
    }
    return NULL;
}

/* Another thread reads while the map grows several times (store.h: readers may run on any
   thread at any time). Without the store's resize lock, growth remaps the file under an
   open read transaction: a crash or an LMDB error here. */
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
    assert_int_equal(ob_store_get(fx->store, "oms.1", 3, &buf, &len), -ENOENT);

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_append_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_seq_per_topic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dedup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_item_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_map_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_readers_during_growth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_many_topics, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
