/*  test_store_replay: a restart after T_REPLAY_MB MiB written since the last checkpoint (1 GiB;
    64 MiB in sanitizer builds, tests/unit/broker.cmake): a child writes them through the store
    with checkpoints held off, then ends without closing it; the open that follows replays
    them all, and every event is there once, in order, with its bytes. It prints how long the
    open took: the README's figure for a restart after 1 GiB. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderbus/orderbus.h"
#include "peer.h" /* t_remove_tree, T_PATH_MAX */
#include "store.h"

#define T_EVENT 4096             /* bytes of an event */
#define T_BATCH 256              /* events a commit */
#define T_MAP (4ull << 30)       /* map size: no growth, so no checkpoint, on the way */
#define T_NEVER UINT64_MAX       /* checkpoint bytes and ms that never come */
#define T_REPLAY_MB_DEFAULT 1024 /* MiB written since the last checkpoint */

/* Fills event with the bytes of event number n. */
static void
s_fill(uint8_t *event, uint64_t n)
{
    for (size_t b = 0; b < T_EVENT; b += sizeof n)
        memcpy(event + b, &n, sizeof n);
}

static int
s_check(void *arg, const ob_store_event_t *event)
{
    uint64_t *next = arg;
    uint8_t want[T_EVENT];
    s_fill(want, *next);
    if (event->seq != *next + 1 || event->event_len != T_EVENT ||
        memcmp(event->event, want, T_EVENT))
        return 1;
    (*next)++;
    return 0;
}

static void
test_replay_after_many_bytes(void **state)
{
    (void)state;
    char dir[T_PATH_MAX] = "/tmp/ob-test-replay-XXXXXX", data[T_PATH_MAX];
    assert_non_null(mkdtemp(dir));
    assert_true(snprintf(data, sizeof data, "%s/data", dir) < (int)sizeof data);
    const char *env = getenv("T_REPLAY_MB");
    uint64_t mb = env ? strtoull(env, NULL, 10) : T_REPLAY_MB_DEFAULT;
    uint64_t events = mb * 1024 * 1024 / T_EVENT / T_BATCH * T_BATCH;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static uint8_t bufs[T_BATCH][T_EVENT];
        static char ids[T_BATCH][24];
        ob_store_item_t items[T_BATCH];
        ob_store_t *store = NULL;
        if (ob_store_open(data, T_MAP, &store))
            _exit(2);
        ob_store_set_checkpoint(store, T_NEVER, T_NEVER);
        for (uint64_t n = 0; n < events; n += T_BATCH) {
            for (int i = 0; i < T_BATCH; i++) {
                s_fill(bufs[i], n + (uint64_t)i);
                snprintf(ids[i], sizeof ids[i], "e%" PRIu64, n + (uint64_t)i);
                items[i] = (ob_store_item_t){.topic = "oms.1",
                                             .topic_len = 5,
                                             .event_id = ids[i],
                                             .event_id_len = strlen(ids[i]),
                                             .event = bufs[i],
                                             .event_len = T_EVENT};
            }
            if (ob_store_append(store, items, T_BATCH))
                _exit(3);
        }
        _exit(0); /* unclean: everything since the open's checkpoint is to be replayed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, T_MAP, &store), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("replayed %" PRIu64 " MiB (%" PRIu64 " events) in %.2f s\n", mb, events, s);

    uint64_t next = 0;
    size_t count = 0;
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_scan(store, "oms.1", 1, SIZE_MAX, s_check, &next, &stat, &count), 0);
    assert_int_equal(next, events); /* every one, once, in order, with its bytes */
    assert_int_equal(stat.last_seq, events);
    ob_store_close(&store);
    t_remove_tree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_after_many_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
