/*  test_writer: the writer actor and the commit of a lone batch in the caller's thread
    (broker/writer.h). The lock decides who writes the store: ob_writer_try_commit commits a
    batch of at most OB_WRITER_LONE_MAX items when the lock is free and the last commit was
    fast, and leaves the store untouched otherwise; commits made here and at the actor keep
    their order. Each test opens a store in its own scratch directory. Where a test expects
    a commit here, it first records the last commit as fast (s_fast), so that a slow disk
    (a CI machine's fsync can take milliseconds) does not decide the outcome. */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderbus/orderbus.h"
#include "peer.h" /* t_remove_tree, T_PATH_MAX */
#include "store.h"
#include "writer.h"

#define T_MAP (64 * 1024 * 1024) /* the store's map: far more than the tests write */
#define T_TOPIC "oms.writer"     /* the one topic written */
#define T_ID_MAX 32              /* bytes in an event id */
#define T_FAST_TRIES 100         /* commits at the actor until one is fast */
#define T_BIG 4096               /* bytes of an event that fills the smallest map soon */
#define T_BIG_MAX 10000          /* such events at most before the map must have grown */

/* --- fdatasync, wrapped: the journal's syncs are slow while s_slow_syncs is set ---------- */

static atomic_int s_slow_syncs; /* 1: each sync first sleeps 2 * OB_WRITER_LONE_SLOW_US */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

int
__wrap_fdatasync(int fd)
{
    if (atomic_load(&s_slow_syncs))
        nanosleep(&(struct timespec){0, 2 * OB_WRITER_LONE_SLOW_US * 1000L}, NULL);
    return __real_fdatasync(fd);
}

typedef struct t_fixture {
    char dir[T_PATH_MAX];      /* scratch directory, the store's data directory */
    ob_store_t *store;         /* open store */
    ob_writer_shared_t shared; /* the store's write lock and the last commit's time */
    ob_writer_args_t args;     /* what the writer and ob_writer_try_commit borrow */
} t_fixture_t;

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-writer-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ob_store_open(fx->dir, T_MAP, &fx->store), 0);
    assert_int_equal(ob_writer_shared_init(&fx->shared), 0);
    fx->args.store = fx->store;
    fx->args.shared = &fx->shared;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_close(&fx->store);
    ob_writer_shared_fini(&fx->shared);
    t_remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* Fills item with the event "id" on T_TOPIC; the bytes are the id itself. */
static void
s_item(ob_store_item_t *item, const char *id)
{
    memset(item, 0, sizeof *item);
    item->topic = T_TOPIC;
    item->topic_len = strlen(T_TOPIC);
    item->event_id = id;
    item->event_id_len = strlen(id);
    item->event = (const uint8_t *)id;
    item->event_len = strlen(id);
}

/* Records the last commit as taking us µs, under the lock as the writer does. */
static void
s_last_commit(t_fixture_t *fx, int64_t us)
{
    assert_int_equal(pthread_mutex_lock(&fx->shared.lock), 0);
    fx->shared.last_commit_us = us;
    assert_int_equal(pthread_mutex_unlock(&fx->shared.lock), 0);
}

/* Records the last commit as fast. */
static void
s_fast(t_fixture_t *fx)
{
    s_last_commit(fx, 0);
}

/* The newest seq of T_TOPIC, 0 if the topic does not exist. */
static uint64_t
s_last_seq(t_fixture_t *fx)
{
    ob_topic_stat_t stat;
    if (ob_store_topic_stat(fx->store, T_TOPIC, &stat))
        return 0;
    return stat.last_seq;
}

/* A lone batch with the lock free is committed in the caller's thread, durable at return. */
static void
test_lone_batch_commits_here(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t item;
    s_item(&item, "e-1");
    ob_writer_batch_t batch = {.items = &item, .count = 1};
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
    assert_int_equal(batch.rc, 0);
    assert_int_equal(item.rc, 0);
    assert_int_equal(item.seq, 1);
    assert_int_equal(s_last_seq(fx), 1);
    /* the lock is free again: the next lone batch commits here too */
    s_fast(fx);
    s_item(&item, "e-2");
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
    assert_int_equal(item.seq, 2);
}

/* A batch of more than OB_WRITER_LONE_MAX items is left to the writer, the store untouched. */
static void
test_larger_batch_goes_to_the_writer(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t items[OB_WRITER_LONE_MAX + 1];
    char ids[OB_WRITER_LONE_MAX + 1][T_ID_MAX];
    for (size_t i = 0; i < OB_WRITER_LONE_MAX + 1; i++) {
        snprintf(ids[i], sizeof ids[i], "e-%zu", i);
        s_item(&items[i], ids[i]);
    }
    ob_writer_batch_t batch = {.items = items, .count = OB_WRITER_LONE_MAX + 1, .rc = -1};
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(batch.rc, -1);
    assert_int_equal(s_last_seq(fx), 0);
}

/* While the lock is held (the writer's retention, say), a lone batch is not committed here:
   the store is untouched and the batch goes to the writer. */
static void
test_held_lock_leaves_the_store(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t item;
    s_item(&item, "e-1");
    ob_writer_batch_t batch = {.items = &item, .count = 1, .rc = -1};
    assert_int_equal(pthread_mutex_lock(&fx->shared.lock), 0);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(pthread_mutex_unlock(&fx->shared.lock), 0);
    assert_int_equal(batch.rc, -1);
    assert_int_equal(s_last_seq(fx), 0);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
    assert_int_equal(item.seq, 1);
}

/* After a slow commit, lone batches go to the writer, the store untouched, until a commit
   is fast again: a stalling disk holds the caller up for one commit at most. */
static void
test_slow_commit_sends_lone_batches_to_the_writer(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_item_t item;
    s_item(&item, "e-1");
    ob_writer_batch_t batch = {.items = &item, .count = 1, .rc = -1};
    s_last_commit(fx, OB_WRITER_LONE_SLOW_US + 1);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(batch.rc, -1);
    assert_int_equal(s_last_seq(fx), 0);
    s_last_commit(fx, OB_WRITER_LONE_SLOW_US); /* as slow as allowed: still here */
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
    assert_int_equal(item.seq, 1);
}

/* Sends batch to the actor writer and waits for its answer. */
static void
s_at_actor(zactor_t *writer, ob_writer_batch_t *batch)
{
    assert_int_equal(zsock_send(writer, "sp", OB_WRITER_BATCH, batch), 0);
    char *command = NULL;
    void *ptr = NULL;
    assert_int_equal(zsock_recv(writer, "sp", &command, &ptr), 0);
    assert_string_equal(command, OB_WRITER_DONE);
    assert_ptr_equal(ptr, batch);
    zstr_free(&command);
}

/* The actor's commits set the gate too: after one slowed down (the journal's sync held up
   by twice OB_WRITER_LONE_SLOW_US), a lone batch is refused here; after a fast one, taken. */
static void
test_actor_commits_set_the_gate(void **state)
{
    t_fixture_t *fx = *state;
    zactor_t *writer = zactor_new(ob_writer_actor, &fx->args);
    assert_non_null(writer);
    ob_store_item_t item;
    s_item(&item, "e-1");
    ob_writer_batch_t batch = {.items = &item, .count = 1, .rc = -1};
    atomic_store(&s_slow_syncs, 1);
    s_at_actor(writer, &batch);
    atomic_store(&s_slow_syncs, 0);
    assert_int_equal(batch.rc, 0);
    s_item(&item, "e-2");
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(s_last_seq(fx), 1);

    /* a fast commit at the actor opens it again: retried until one is (a CI disk may be
       slow now and then), at most T_FAST_TRIES times */
    int taken = 0;
    for (int i = 0; i < T_FAST_TRIES && !taken; i++) {
        char id[T_ID_MAX];
        ob_store_item_t other;
        snprintf(id, sizeof id, "actor-%d", i);
        s_item(&other, id);
        ob_writer_batch_t there = {.items = &other, .count = 1, .rc = -1};
        s_at_actor(writer, &there);
        assert_int_equal(there.rc, 0);
        taken = ob_writer_try_commit(&fx->args, &batch);
    }
    assert_true(taken);
    assert_int_equal(batch.rc, 0);
    assert_int_equal(item.seq, s_last_seq(fx));
    zactor_destroy(&writer);
}

/* A commit in the caller's thread grows a full map as the writer's would (store.h): a store
   opened at OB_MAP_SIZE_MIN takes lone events of T_BIG bytes here until it has grown, each
   at the next seq, and holds them all. */
static void
test_lone_commits_grow_the_map(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_close(&fx->store);
    t_remove_tree(fx->dir);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-writer-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_MIN, &fx->store), 0);
    fx->args.store = fx->store;
    uint8_t *big = malloc(T_BIG);
    assert_non_null(big);
    ob_store_stats_t stats;
    uint64_t n = 0;
    do {
        char id[T_ID_MAX];
        ob_store_item_t item;
        snprintf(id, sizeof id, "big-%" PRIu64, n);
        memset(big, 'a' + (int)(n % 26), T_BIG);
        s_item(&item, id);
        item.event = big;
        item.event_len = T_BIG;
        ob_writer_batch_t batch = {.items = &item, .count = 1, .rc = -1};
        s_fast(fx);
        assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
        assert_int_equal(batch.rc, 0);
        assert_int_equal(item.seq, ++n);
        assert_int_equal(ob_store_stats(fx->store, &stats), 0);
    } while (stats.growths == 0 && n < T_BIG_MAX);
    assert_true(stats.growths >= 1);
    for (uint64_t seq = 1; seq <= n; seq++) {
        uint8_t *event = NULL;
        size_t len = 0;
        assert_int_equal(ob_store_get(fx->store, T_TOPIC, seq, &event, &len, NULL), 0);
        assert_int_equal(len, T_BIG);
        assert_int_equal(event[0], 'a' + (int)((seq - 1) % 26));
        free(event);
    }
    free(big);
}

/* Commits here and at the actor, alternating, number the topic's events in their order. */
static void
test_commits_here_and_at_the_actor_keep_order(void **state)
{
    t_fixture_t *fx = *state;
    zactor_t *writer = zactor_new(ob_writer_actor, &fx->args);
    assert_non_null(writer);
    uint64_t seq = 0;
    for (int round = 0; round < 3; round++) {
        char id[T_ID_MAX];
        ob_store_item_t lone;
        snprintf(id, sizeof id, "here-%d", round);
        s_item(&lone, id);
        ob_writer_batch_t here = {.items = &lone, .count = 1};
        s_fast(fx);
        assert_int_equal(ob_writer_try_commit(&fx->args, &here), 1);
        assert_int_equal(here.rc, 0);
        assert_int_equal(lone.seq, ++seq);

        ob_store_item_t pair[2];
        char ids[2][T_ID_MAX];
        for (int i = 0; i < 2; i++) {
            snprintf(ids[i], sizeof ids[i], "actor-%d-%d", round, i);
            s_item(&pair[i], ids[i]);
        }
        ob_writer_batch_t there = {.items = pair, .count = 2, .rc = -1};
        assert_int_equal(ob_writer_try_commit(&fx->args, &there), 0);
        s_at_actor(writer, &there);
        assert_int_equal(there.rc, 0);
        assert_int_equal(pair[0].seq, ++seq);
        assert_int_equal(pair[1].seq, ++seq);
    }
    zactor_destroy(&writer);
    assert_int_equal(s_last_seq(fx), seq);
    uint8_t *event = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(fx->store, T_TOPIC, 1, &event, &len, NULL), 0);
    assert_memory_equal(event, "here-0", len);
    free(event);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lone_batch_commits_here, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_larger_batch_goes_to_the_writer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_held_lock_leaves_the_store, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_commit_sends_lone_batches_to_the_writer, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_actor_commits_set_the_gate, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lone_commits_grow_the_map, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commits_here_and_at_the_actor_keep_order, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
