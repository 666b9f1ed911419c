/*  The limits that protect the broker from one client (PROTOCOL.md 5.4): max_clients,
    max_pending, max_subs_per_client and max_topics, each refused with LIMIT while the broker
    keeps serving, and liborderbus keeping its window within the max_pending WELCOME
    announces. Raw protocol peers on an in-process broker (peer.h). */
#include <errno.h>
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

#include "peer.h"
#include "writer.h" /* OB_WRITER_LONE_SLOW_US */

/* --- fdatasync, wrapped: a slow disk for test_max_pending ----------------------------------
   A lone publish is committed and answered in the server thread before it reads the next
   one (writer.h), so on a fast disk a client never has two publishes outstanding. While
   s_held is set, the journal's syncs stand for a slow disk: the first sleeps
   2 * OB_WRITER_LONE_SLOW_US, which sends the next commits to the writer; each later one
   waits until s_release, so that the server reads publishes while one is at the writer. A
   wait longer than T_TIMEOUT_MS (the test failed) releases them all. */

static atomic_int s_held;  /* 1: the journal's syncs are held */
static atomic_int s_syncs; /* journal syncs made while held */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_released = PTHREAD_COND_INITIALIZER;

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* 1 if fd is a journal segment's (broker/journal.c names them seg-<lsn>). */
static int
s_is_segment(int fd)
{
    char path[T_PATH_MAX];
    const char *base = t_fd_path(fd, path, sizeof path) ? strrchr(path, '/') : NULL;
    return base && strncmp(base + 1, "seg-", 4) == 0;
}

int
__wrap_fdatasync(int fd)
{
    if (atomic_load(&s_held) && s_is_segment(fd)) {
        if (atomic_fetch_add(&s_syncs, 1) == 0)
            nanosleep(&(struct timespec){0, 2 * OB_WRITER_LONE_SLOW_US * 1000L}, NULL);
        else {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += T_TIMEOUT_MS / 1000;
            pthread_mutex_lock(&s_lock);
            while (atomic_load(&s_held))
                if (pthread_cond_timedwait(&s_released, &s_lock, &until) == ETIMEDOUT)
                    atomic_store(&s_held, 0); /* the test failed: the broker may stop */
            pthread_mutex_unlock(&s_lock);
        }
    }
    return __real_fdatasync(fd);
}

/* Lets every held sync go, and the next ones through. */
static void
s_release(void)
{
    pthread_mutex_lock(&s_lock);
    atomic_store(&s_held, 0);
    pthread_cond_broadcast(&s_released);
    pthread_mutex_unlock(&s_lock);
}

/* A HELLO from a new raw peer, without waiting for the answer. */
static zsock_t *
s_raw_hello(t_broker_t *fx, uint32_t heartbeat_ms)
{
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    assert_non_null(peer);
    zsock_set_linger(peer, 0);
    assert_int_equal(zsock_connect(peer, "%s", fx->endpoint), 0);
    ob_wire_msg_t *hello = calloc(1, sizeof *hello);
    assert_non_null(hello);
    hello->command = OB_CMD_HELLO;
    snprintf(hello->name, sizeof hello->name, "limits");
    hello->heartbeat_ms = heartbeat_ms;
    t_send(peer, hello, NULL, 0);
    free(hello);
    return peer;
}

/* Publishes without waiting; returns the request id. */
static uint64_t
s_send_publish(t_broker_t *fx, zsock_t *peer, const char *topic, const char *id)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    t_event(topic, id, "limits.test", 16, &buf, &len);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    msg->command = OB_CMD_PUBLISH;
    msg->req = fx->next_req++;
    uint64_t req = msg->req;
    t_send(peer, msg, buf, len);
    free(msg);
    free(buf);
    return req;
}

/* Sends an ephemeral SUBSCRIBE to pattern; returns the request id. */
static uint64_t
s_send_subscribe(t_broker_t *fx, zsock_t *peer, const char *pattern)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = fx->next_req++;
    msg->pattern_count = 1;
    snprintf(msg->patterns[0], sizeof msg->patterns[0], "%s", pattern);
    uint64_t req = msg->req;
    t_send(peer, msg, NULL, 0);
    free(msg);
    return req;
}

/* max_clients: a HELLO beyond is refused with LIMIT; a session that ends frees its place. */
static void
test_max_clients(void **state)
{
    (void)state;
    t_broker_t *fx = t_broker_new("test-limits", "--max-clients", "2", NULL);
    zsock_t *a = t_peer(fx, OB_HEARTBEAT_MS_MIN);
    zsock_t *b = t_peer(fx, 0);
    zsock_t *c = s_raw_hello(fx, 0);
    t_expect_error(c, 0, OB_ERR_LIMIT);
    t_publish(fx, b, "limits.clients", "b-1", "limits.test"); /* the others are served */

    /* a closes its connection: its session ends as soon as the broker reads the close (or,
       were the close missed, after 3 heartbeats of 100 ms), and c gets in. Bounded wait on
       the observable outcome, no sleep. */
    zsock_destroy(&a);
    int64_t deadline = zclock_mono() + T_TIMEOUT_MS;
    int welcomed = 0;
    while (!welcomed && zclock_mono() < deadline) {
        zsock_destroy(&c);
        c = s_raw_hello(fx, 0);
        t_msg_t reply;
        assert_int_equal(t_recv(c, &reply, T_TIMEOUT_MS), 0);
        if (reply.wire.command == OB_CMD_WELCOME)
            welcomed = 1;
        else {
            assert_int_equal(reply.wire.command, OB_CMD_ERROR);
            assert_int_equal(reply.wire.code, ob_error_to_wire(OB_ERR_LIMIT));
            zclock_sleep(OB_HEARTBEAT_MS_MIN); /* pacing the retries only, not a sync */
        }
        t_msg_clear(&reply);
    }
    assert_true(welcomed);
    zsock_destroy(&b);
    zsock_destroy(&c);
    t_broker_destroy(&fx);
}

/* max_pending: publishes beyond it, sent without waiting, get LIMIT; each publish is
   answered exactly once, and what was confirmed is stored with contiguous seqs. WELCOME
   announces the limit. The disk is slow (s_held) until the first LIMIT: without it, a fast
   disk answers each publish before the next is read, and none is beyond the limit. */
static void
test_max_pending(void **state)
{
    (void)state;
    enum { N = 300 };
    t_broker_t *fx = t_broker_new("test-limits", "--max-pending", "1", NULL);
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    assert_non_null(peer);
    zsock_set_linger(peer, 0);
    assert_int_equal(zsock_connect(peer, "%s", fx->endpoint), 0);
    ob_wire_msg_t *hello = calloc(1, sizeof *hello);
    assert_non_null(hello);
    hello->command = OB_CMD_HELLO;
    t_send(peer, hello, NULL, 0);
    free(hello);
    t_msg_t welcome;
    t_expect(peer, OB_CMD_WELCOME, &welcome);
    assert_int_equal(welcome.wire.max_pending, 1);
    t_msg_clear(&welcome);

    atomic_store(&s_syncs, 0);
    atomic_store(&s_held, 1);
    uint64_t first = 0;
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "p-%d", i);
        uint64_t req = s_send_publish(fx, peer, "limits.pending", id);
        if (i == 0)
            first = req;
    }
    static int answered[N];
    memset(answered, 0, sizeof answered);
    size_t confirmed = 0, refused = 0;
    uint64_t next_seq = 1;
    while (confirmed + refused < N) {
        t_msg_t reply;
        assert_int_equal(t_recv(peer, &reply, T_TIMEOUT_MS), 0);
        uint64_t count =
            reply.wire.command == OB_CMD_CONFIRM && reply.wire.count > 1 ? reply.wire.count : 1;
        for (uint64_t k = 0; k < count; k++) {
            uint64_t i = reply.wire.req + k - first;
            assert_true(i < N);
            assert_int_equal(answered[i], 0);
            answered[i] = 1;
        }
        if (reply.wire.command == OB_CMD_CONFIRM) {
            assert_int_equal(reply.wire.seq, next_seq);
            next_seq += count;
            confirmed += count;
        } else {
            assert_int_equal(reply.wire.command, OB_CMD_ERROR);
            assert_int_equal(reply.wire.code, ob_error_to_wire(OB_ERR_LIMIT));
            refused++;
            s_release();
        }
        t_msg_clear(&reply);
    }
    assert_true(confirmed >= 1);
    assert_true(refused >= 1); /* 300 at once against a limit of 1 and a slow disk */
    /* the refused are not stored: the next new event takes the next seq */
    assert_int_equal(t_publish(fx, peer, "limits.pending", "after", "limits.test"), next_seq);
    zsock_destroy(&peer);
    t_broker_destroy(&fx);
}

/* liborderbus keeps its window within max_pending: a window of 64 against a limit of 2
   publishes everything without a single LIMIT. */
static void
test_client_window_clamped(void **state)
{
    (void)state;
    enum { N = 500 };
    t_broker_t *fx = t_broker_new("test-limits", "--max-pending", "2", NULL);
    ob_client_config_t cfg = {.name = "clamped", .window = 64};
    ob_client_t *client = ob_client_new(fx->endpoint, &cfg);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, T_TIMEOUT_MS), 0);
    char id[32];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "w-%d", i);
        ob_event_t event = {.id = id, .topic = "limits.window", .type = "limits.test"};
        uint64_t token = 0;
        assert_int_equal(ob_client_publish_async(client, &event, &token), 0);
    }
    for (int i = 0; i < N; i++) {
        ob_confirm_t confirm;
        assert_int_equal(ob_client_confirm_next(client, T_TIMEOUT_MS, &confirm), 0);
        assert_int_equal(confirm.rc, 0);
        assert_int_equal(confirm.seq, (uint64_t)i + 1);
    }
    ob_client_destroy(&client);
    t_broker_destroy(&fx);
}

/* max_subs_per_client: the SUBSCRIBE beyond gets LIMIT; one UNSUBSCRIBE makes room. */
static void
test_max_subs_per_client(void **state)
{
    (void)state;
    t_broker_t *fx = t_broker_new("test-limits", "--max-subs-per-client", "2", NULL);
    zsock_t *peer = t_peer(fx, 0);
    char names[2][OB_SUB_NAME_MAX + 1];
    for (int i = 0; i < 2; i++) {
        uint64_t req = s_send_subscribe(fx, peer, "limits.subs.>");
        t_msg_t reply;
        t_expect(peer, OB_CMD_SUBSCRIBED, &reply);
        assert_int_equal(reply.wire.req, req);
        snprintf(names[i], sizeof names[i], "%s", reply.wire.sub);
        t_msg_clear(&reply);
    }
    uint64_t req = s_send_subscribe(fx, peer, "limits.subs.>");
    t_expect_error(peer, req, OB_ERR_LIMIT);

    /* another client is not affected */
    zsock_t *other = t_peer(fx, 0);
    req = s_send_subscribe(fx, other, "limits.subs.>");
    t_msg_t reply;
    t_expect(other, OB_CMD_SUBSCRIBED, &reply);
    t_msg_clear(&reply);

    ob_wire_msg_t *unsub = calloc(1, sizeof *unsub);
    assert_non_null(unsub);
    ob_wire_msg_init(unsub, OB_CMD_UNSUBSCRIBE);
    unsub->req = fx->next_req++;
    snprintf(unsub->sub, sizeof unsub->sub, "%s", names[0]);
    t_send(peer, unsub, NULL, 0);
    t_expect(peer, OB_CMD_OK, &reply);
    assert_int_equal(reply.wire.req, unsub->req);
    t_msg_clear(&reply);
    free(unsub);

    req = s_send_subscribe(fx, peer, "limits.subs.>");
    t_expect(peer, OB_CMD_SUBSCRIBED, &reply);
    assert_int_equal(reply.wire.req, req);
    t_msg_clear(&reply);
    zsock_destroy(&other);
    zsock_destroy(&peer);
    t_broker_destroy(&fx);
}

/* max_topics: a publish that would create one topic more gets LIMIT; the existing topics
   keep taking events, also after a restart. */
static void
test_max_topics(void **state)
{
    (void)state;
    t_broker_t *fx = t_broker_new("test-limits", "--max-topics", "2", NULL);
    zsock_t *peer = t_peer(fx, 0);
    assert_int_equal(t_publish(fx, peer, "limits.t1", "a", "limits.test"), 1);
    assert_int_equal(t_publish(fx, peer, "limits.t2", "b", "limits.test"), 1);
    uint64_t req = s_send_publish(fx, peer, "limits.t3", "c");
    t_expect_error(peer, req, OB_ERR_LIMIT);
    assert_int_equal(t_publish(fx, peer, "limits.t1", "d", "limits.test"), 2);
    zsock_destroy(&peer);

    t_broker_stop(fx);
    t_broker_start(fx, "--max-topics", "2", NULL);
    peer = t_peer(fx, 0);
    req = s_send_publish(fx, peer, "limits.t3", "c");
    t_expect_error(peer, req, OB_ERR_LIMIT);
    assert_int_equal(t_publish(fx, peer, "limits.t2", "e", "limits.test"), 2);
    zsock_destroy(&peer);
    t_broker_destroy(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_clients),
        cmocka_unit_test(test_max_pending),
        cmocka_unit_test(test_client_window_clamped),
        cmocka_unit_test(test_max_subs_per_client),
        cmocka_unit_test(test_max_topics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
