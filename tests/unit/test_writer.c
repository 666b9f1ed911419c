/*  test_writer: the writer actor and the commit of a lone batch in the caller's thread
    (broker/writer.h). The lock decides who writes the store: ob_writer_try_commit commits a
    batch of at most OB_WRITER_LONE_MAX items when the lock is free and leaves the store
    untouched otherwise, and commits made here and at the actor keep their order. Each test
    opens a store in its own scratch directory. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderbus/orderbus.h"
#include "peer.h"
#include "store.h"
#include "writer.h"

#define T_DIR_MAX 256            /* bytes in a scratch directory path */
#define T_MAP (64 * 1024 * 1024) /* the store's map: far more than the tests write */
#define T_TOPIC "oms.writer"     /* the one topic written */
#define T_ID_MAX 32              /* bytes in an event id */

typedef struct t_fixture {
    char dir[T_DIR_MAX];   /* scratch directory, the store's data directory */
    ob_store_t *store;     /* open store */
    pthread_mutex_t lock;  /* the store's write lock */
    ob_writer_args_t args; /* what the writer and ob_writer_try_commit borrow */
} t_fixture_t;

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-writer-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ob_store_open(fx->dir, T_MAP, &fx->store), 0);
    assert_int_equal(pthread_mutex_init(&fx->lock, NULL), 0);
    fx->args.store = fx->store;
    fx->args.lock = &fx->lock;
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    ob_store_close(&fx->store);
    pthread_mutex_destroy(&fx->lock);
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
    assert_int_equal(pthread_mutex_lock(&fx->lock), 0);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 0);
    assert_int_equal(pthread_mutex_unlock(&fx->lock), 0);
    assert_int_equal(batch.rc, -1);
    assert_int_equal(s_last_seq(fx), 0);
    assert_int_equal(ob_writer_try_commit(&fx->args, &batch), 1);
    assert_int_equal(item.seq, 1);
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
        assert_int_equal(zsock_send(writer, "sp", OB_WRITER_BATCH, &there), 0);
        char *command = NULL;
        void *ptr = NULL;
        assert_int_equal(zsock_recv(writer, "sp", &command, &ptr), 0);
        assert_string_equal(command, OB_WRITER_DONE);
        assert_ptr_equal(ptr, &there);
        zstr_free(&command);
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
        cmocka_unit_test_setup_teardown(test_commits_here_and_at_the_actor_keep_order, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
