/*  test_client: liborderbus's ob_client against a fake broker (tests/doubles/fake_broker.h)
    that each test scripts, so that every session and reconnect path is deterministic.

    Nothing waits on a sleep: the test waits in the client's own calls (which are also what
    drives the client's heartbeats and reconnects) or on the fake broker's counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_broker.h"
#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

#define T_EVENT_DATA 512   /* bytes of data in a test event, as in the throughput target */
#define T_WAIT_MS 5000     /* patience for anything that should happen soon */
#define T_SHORT_MS 300     /* how long to wait for something that must not happen */
#define T_HEARTBEAT_MS 100 /* fast heartbeats for the liveness tests: OB_HEARTBEAT_MS_MIN */

/* Failure injection: client.cmake links with -Wl,--wrap for these, which reroutes the calls
   made by our own objects (liborderbus, this file), not those inside shared libraries. Armed
   per thread, so that the fake broker's thread is never affected. Each counter fails the
   n-th next call when set to n, and then disarms itself. */
static _Thread_local int t_fail_malloc;   /* malloc */
static _Thread_local int t_fail_calloc;   /* calloc */
static _Thread_local int t_fail_zmq_send; /* zmq_send, with EAGAIN: a full queue */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__wrap_calloc(size_t count, size_t size);
int __real_zmq_send(void *socket, const void *buf, size_t len, int flags);
int __wrap_zmq_send(void *socket, const void *buf, size_t len, int flags);

void *
__wrap_malloc(size_t size)
{
    if (t_fail_malloc > 0 && --t_fail_malloc == 0)
        return NULL;
    return __real_malloc(size);
}

void *
__wrap_calloc(size_t count, size_t size)
{
    if (t_fail_calloc > 0 && --t_fail_calloc == 0)
        return NULL;
    return __real_calloc(count, size);
}

int
__wrap_zmq_send(void *socket, const void *buf, size_t len, int flags)
{
    if (t_fail_zmq_send > 0 && --t_fail_zmq_send == 0) {
        errno = EAGAIN;
        return -1;
    }
    return __real_zmq_send(socket, buf, len, flags);
}

static uint8_t s_data[T_EVENT_DATA];

/* Fills *event with a valid event with id "ev-<n>" on topic (borrowed until the next call). */
static const ob_event_t *
t_event(const char *topic, unsigned n)
{
    static char id[32];
    static ob_event_t event;
    snprintf(id, sizeof id, "ev-%u", n);
    event = (ob_event_t){.id = id,
                         .topic = topic,
                         .type = "project_item.created",
                         .time_us = 1700000000000000ull + n,
                         .source = "test_client",
                         .oms_id = 1,
                         .project_id = 2,
                         .project_item_id = n,
                         .data = s_data,
                         .data_len = sizeof s_data};
    return &event;
}

/* Returns a new client of broker with the given window, timeout and heartbeat. */
static ob_client_t *
t_client(fake_broker_fixture_t *state, unsigned window, int timeout_ms, unsigned heartbeat_ms)
{
    ob_client_config_t config = {
        .name = "test", .window = window, .timeout_ms = timeout_ms, .heartbeat_ms = heartbeat_ms};
    state->client = ob_client_new(fake_broker_endpoint(state->broker), &config);
    assert_non_null(state->client);
    return state->client;
}

/* The tests' fixture: the fake broker's (fake_broker.h). */
static int (*const t_setup)(void **state_p) = fake_broker_setup;
static int (*const t_teardown)(void **state_p) = fake_broker_teardown;

/* ---------------------------------------------------------------------------------------- */

static void
test_new_rejects_bad_arguments(void **state_p)
{
    (void)state_p;
    char long_name[OB_CLIENT_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';

    assert_null(ob_client_new(NULL, NULL));
    assert_null(ob_client_new("", NULL));
    assert_null(ob_client_new("tcp://", NULL));
    assert_null(ob_client_new("inproc://x", NULL));
    assert_null(ob_client_new("udp://127.0.0.1:1", NULL));
    assert_null(ob_client_new("tcp://no-port-here", NULL)); /* zmq_connect refuses */
    const ob_client_config_t bad[] = {
        {.name = long_name},
        {.window = OB_WINDOW_MAX + 1},
        {.timeout_ms = -2},
        {.heartbeat_ms = OB_HEARTBEAT_MS_MIN - 1},
        {.heartbeat_ms = OB_HEARTBEAT_MS_MAX + 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(ob_client_new("tcp://127.0.0.1:1", &bad[i]));

    ob_client_t *client = ob_client_new("ipc:///nonexistent/orderbus.sock", NULL);
    assert_non_null(client);
    assert_string_equal(ob_client_session(client), "");
    assert_int_equal(ob_client_pending(client), 0);
    ob_client_destroy(&client);
    assert_null(client);
    ob_client_destroy(&client);
    ob_client_destroy(NULL);
}

static void
test_connect_and_publish(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    assert_string_equal(ob_client_session(client), "fake-1");
    assert_int_equal(ob_client_connect(client, 0), 0); /* already welcomed */

    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(confirm.token, 1);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 0);
    assert_int_equal(confirm.rc, 0);
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 2), &confirm), 0);
    assert_int_equal(confirm.token, 2);
    assert_int_equal(confirm.seq, 2);
    /* the same event id again: the broker's deduplication answers with the original seq */
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(confirm.token, 3);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 1);
    /* another topic has its own sequence */
    assert_int_equal(ob_client_publish(client, t_event("oms.2", 1), &confirm), 0);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(ob_client_confirm_next(client, 0, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_count(state->broker, "hellos"), 1);
}

static void
test_publish_before_connect_is_sent_after_welcome(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    uint64_t token = 0;
    /* no connect: the publish is kept until WELCOME, then sent */
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 1), &token), 0);
    assert_int_equal(token, 1);
    assert_int_equal(ob_client_pending(client), 1);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, 1);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(ob_client_pending(client), 0);
    fake_broker_assert_log_ends(state->broker, "H P1");
}

static void
test_encoding_errors(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);

    ob_event_t bad = *t_event("Not A Topic", 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    int expected = ob_event_encode(&bad, &buf, &len);
    assert_int_not_equal(expected, 0);
    uint64_t token = 0;
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_publish_async(client, &bad, &token), expected);
    assert_int_equal(ob_client_publish(client, &bad, &confirm), expected);
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 0);
}

/* Returns a new encoded frame of t_event(topic, n) (the caller frees it), its size in *len. */
static uint8_t *
t_frame(const char *topic, unsigned n, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(ob_event_encode(t_event(topic, n), &buf, len), 0);
    return buf;
}

static void
test_publish_frame_async(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    size_t len = 0;
    uint8_t *frame = t_frame("oms.1", 1, &len);
    uint64_t token = 0;
    assert_int_equal(ob_client_publish_frame_async(client, &frame, len, &token), 0);
    assert_null(frame); /* taken */
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, token);
    assert_int_equal(confirm.rc, 0);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 0);
    /* the broker got the frame as it was: the same event published as a struct is its
       duplicate */
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 1);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 2);

    /* refused locally, with ob_event_peek's code, the frame freed (ASan would see a leak) and
       nothing sent */
    frame = t_frame("oms.1", 2, &len);
    assert_int_equal(ob_client_publish_frame_async(client, &frame, len - 1, &token),
                     OB_ERR_TRUNCATED);
    assert_null(frame);
    frame = t_frame("oms.1", 3, &len);
    frame[0] = 0xc1; /* never used in msgpack */
    assert_int_equal(ob_client_publish_frame_async(client, &frame, len, &token), OB_ERR_MALFORMED);
    assert_null(frame);
    assert_int_equal(ob_client_publish_frame_async(client, &frame, 0, &token), OB_ERR_TRUNCATED);
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 2);
}

static void
test_event_over_max_event(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "max_event", T_EVENT_DATA / 2);
    ob_client_t *client = t_client(state, 0, 0, 0);
    /* made before WELCOME told the limit: refused when it would be sent */
    uint64_t token = 0;
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 1), &token), 0);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, token);
    assert_int_equal(confirm.rc, OB_ERR_TOO_LARGE);
    /* after WELCOME: refused at once */
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 2), &token),
                     OB_ERR_TOO_LARGE);
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 2), &confirm), OB_ERR_TOO_LARGE);
    size_t len = 0;
    uint8_t *frame = t_frame("oms.1", 3, &len);
    assert_int_equal(ob_client_publish_frame_async(client, &frame, len, &token), OB_ERR_TOO_LARGE);
    assert_null(frame);
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 0);
}

static void
test_hello_refused(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "hello_error", ob_error_to_wire(OB_ERR_FORBIDDEN));
    ob_client_t *client = t_client(state, 0, 0, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), OB_ERR_FORBIDDEN);
    assert_string_equal(ob_client_session(client), "");
    /* the client says HELLO again OB_LIVENESS heartbeats later, and this time it is welcome */
    fake_broker_set(state->broker, "hello_error", 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    assert_string_equal(ob_client_session(client), "fake-1");
}

static void
test_silent_broker_times_out(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "silent", 1);
    ob_client_t *client = t_client(state, 4, T_SHORT_MS, 0);
    assert_int_equal(ob_client_connect(client, T_SHORT_MS), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_connect(client, 0), OB_ERR_TIMEOUT);

    ob_confirm_t confirm = {.token = 42};
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 1), &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(confirm.token, 42);            /* output untouched on failure */
    assert_int_equal(ob_client_pending(client), 0); /* a timed-out sync publish is dropped */

    uint64_t token = 0;
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 10 + i), &token), 0);
    assert_int_equal(token, 5);
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 20), &token), OB_ERR_TIMEOUT);
    assert_int_equal(token, 5);
    assert_int_equal(ob_client_pending(client), 4);
    assert_int_equal(ob_client_confirm_next(client, T_SHORT_MS, &confirm), OB_ERR_TIMEOUT);
    /* never welcomed, so nothing was sent: no publish reached the broker */
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 0);
    /* teardown destroys the client with 4 publishes pending */
}

static void
test_window_full_then_out_of_order_confirms(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    enum { W = 4 };
    ob_client_t *client = t_client(state, W, T_SHORT_MS, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "hold", 1);

    uint64_t token = 0;
    for (unsigned i = 1; i <= W; i++) {
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
        assert_int_equal(token, i);
    }
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 99), &token), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_pending(client), W);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", W, T_WAIT_MS), 0);

    /* newest first: seq 1 goes to token 4, and so on */
    fake_broker_set(state->broker, "hold", 0);
    fake_broker_release(state->broker, 1);
    ob_confirm_t confirm = {0};
    for (unsigned i = 0; i < W; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, W - i);
        assert_int_equal(confirm.seq, i + 1);
        assert_int_equal(confirm.rc, 0);
    }
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 5), &token), 0);
    assert_int_equal(token, W + 1);
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, W + 1);
    assert_int_equal(confirm.seq, W + 1);
}

static void
test_window_wraps_many_times(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    enum { W = 8, N = 1000 };
    ob_client_t *client = t_client(state, W, T_WAIT_MS, 0);
    uint64_t token = 0, expected = 1;
    ob_confirm_t confirm = {0};
    for (unsigned i = 1; i <= N; i++) {
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
        assert_int_equal(token, i);
        while (ob_client_confirm_next(client, 0, &confirm) == 0) {
            assert_int_equal(confirm.token, expected);
            assert_int_equal(confirm.seq, expected);
            expected++;
        }
        assert_true(ob_client_pending(client) <= W);
    }
    while (expected <= N) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, expected);
        expected++;
    }
    assert_int_equal(ob_client_pending(client), 0);
}

static void
test_refusal_is_a_confirmation_with_rc(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "refuse_req", 2);
    fake_broker_set(state->broker, "refuse_code", ob_error_to_wire(OB_ERR_STORAGE));
    ob_client_t *client = t_client(state, 0, 0, 0);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 3; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, 1);
    assert_int_equal(confirm.rc, 0);
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, 2);
    assert_int_equal(confirm.rc, OB_ERR_STORAGE);
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, 3);
    assert_int_equal(confirm.rc, 0);
    assert_int_equal(confirm.seq, 2);

    /* the synchronous call returns the refusal, and leaves its output alone */
    fake_broker_set(state->broker, "refuse_req", 4);
    confirm = (ob_confirm_t){.token = 42};
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 4), &confirm), OB_ERR_STORAGE);
    assert_int_equal(confirm.token, 42);
    assert_int_equal(ob_client_pending(client), 0);
}

static void
test_shutdown_refusal_is_resent_to_the_next_broker(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_WAIT_MS, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "refuse_req", 2);
    fake_broker_set(state->broker, "refuse_code", ob_error_to_wire(OB_ERR_SHUTDOWN));
    uint64_t token = 0;
    for (unsigned i = 1; i <= 3; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", 3, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "refuse_req", 0); /* the successor stores it */
    ob_confirm_t confirm = {0};
    const uint64_t expect[3][2] = {{1, 1}, {3, 2}, {2, 3}}; /* token, seq */
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, expect[i][0]);
        assert_int_equal(confirm.seq, expect[i][1]);
        assert_int_equal(confirm.rc, 0);
    }
    /* no HELLO to the stopping broker at once, a new one later, then only 2 again */
    fake_broker_assert_log_ends(state->broker, "H P1 P2 P3 H P2");
}

static void
test_sync_publish_keeps_async_confirms(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 3; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 4), &confirm), 0);
    assert_int_equal(confirm.token, 4);
    assert_int_equal(confirm.seq, 4);
    /* confirmed by the broker, not yet taken by us: still counted, so that a drain loop on
       ob_client_pending takes them all */
    assert_int_equal(ob_client_pending(client), 3);
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(ob_client_confirm_next(client, 0, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
    }
    assert_int_equal(ob_client_confirm_next(client, 0, &confirm), OB_ERR_TIMEOUT);
}

static void
test_hello_required_resends_pending_in_order(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "forget_at", 3);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 5; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    ob_confirm_t confirm = {0};
    for (unsigned i = 1; i <= 5; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
        assert_int_equal(confirm.rc, 0); /* HELLO_REQUIRED never reaches the caller */
    }
    assert_int_equal(ob_client_confirm_next(client, 0, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_pending(client), 0);
    /* Whether 4 and 5 first went out before the HELLO_REQUIRED came back is a race; what is
       not: one HELLO for all three refusals, then 3, 4, 5 in order. */
    assert_int_equal(fake_broker_count(state->broker, "hellos"), 2);
    assert_int_equal(fake_broker_count(state->broker, "repeat_hellos"), 1);
    fake_broker_assert_log_ends(state->broker, "H P3 P4 P5");
}

static void
test_broker_restart_with_pending(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_WAIT_MS, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    assert_string_equal(ob_client_session(client), "fake-1");
    fake_broker_set(state->broker, "hold", 1);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 5; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", 5, T_WAIT_MS), 0);

    /* the held publishes die with the old ROUTER; the client must notice and re-send */
    fake_broker_set(state->broker, "hold", 0);
    fake_broker_must_restart(state->broker);
    ob_confirm_t confirm = {0};
    for (unsigned i = 1; i <= 5; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
        assert_int_equal(confirm.dup, 0);
    }
    assert_string_equal(ob_client_session(client), "fake-2");
    assert_int_equal(ob_client_pending(client), 0);
    fake_broker_assert_log_ends(state->broker, "H P1 P2 P3 P4 P5");

    /* a second restart while idle: the next PING finds out */
    fake_broker_must_restart(state->broker);
    for (int i = 0; i < T_WAIT_MS / T_HEARTBEAT_MS && strcmp(ob_client_session(client), "fake-3");
         i++)
        ob_client_confirm_next(client, T_HEARTBEAT_MS, &confirm);
    assert_string_equal(ob_client_session(client), "fake-3");
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 6), &confirm), 0);
    assert_int_equal(confirm.seq, 6);
}

static void
test_restart_after_store_confirms_dup(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_WAIT_MS, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    /* the broker stores the event but its CONFIRM is lost with the connection */
    fake_broker_set(state->broker, "drop", 1);
    uint64_t token = 0;
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 1), &token), 0);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", 1, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "drop", 0);
    fake_broker_must_restart(state->broker);
    /* re-sent in the new session, and confirmed as the duplicate it is */
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, 1);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 1);
    assert_string_equal(ob_client_session(client), "fake-2");
}

static void
test_heartbeat_pings_when_idle(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    ob_confirm_t confirm = {0};
    /* the client only works inside its calls: wait in one while the broker counts */
    assert_int_equal(ob_client_confirm_next(client, 5 * T_HEARTBEAT_MS, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_wait(state->broker, "pings", 3, T_WAIT_MS), 0);
    /* answered PINGs keep the connection: one socket, one HELLO */
    assert_int_equal(fake_broker_count(state->broker, "peers"), 1);
    assert_int_equal(fake_broker_count(state->broker, "hellos"), 1);

    /* a broker that forgets us answers the next PING with HELLO_REQUIRED: one HELLO again */
    fake_broker_forget(state->broker);
    assert_int_equal(ob_client_confirm_next(client, 3 * T_HEARTBEAT_MS, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_wait(state->broker, "hellos", 2, T_WAIT_MS), 0);
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(fake_broker_count(state->broker, "hellos"), 2);
    assert_int_equal(fake_broker_count(state->broker, "peers"), 1);
}

static void
test_liveness_reconnects_a_silent_broker(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_WAIT_MS, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "silent", 1);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 3; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    /* PING after a heartbeat, new socket after OB_LIVENESS heartbeats of silence */
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, (OB_LIVENESS + 3) * T_HEARTBEAT_MS, &confirm),
                     OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_wait(state->broker, "peers", 2, T_WAIT_MS), 0);
    /* one unanswered HELLO per connection, never repeated on it: no storm */
    assert_int_equal(fake_broker_count(state->broker, "repeat_hellos"), 0);

    fake_broker_set(state->broker, "silent", 0);
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
    }
    assert_int_equal(ob_client_pending(client), 0);
    fake_broker_assert_log_ends(state->broker, "H P1 P2 P3");
}

static void
test_unanswered_pings_reconnect(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "pong", 0);
    ob_client_t *client = t_client(state, 0, 0, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, (OB_LIVENESS + 3) * T_HEARTBEAT_MS, &confirm),
                     OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_wait(state->broker, "peers", 2, T_WAIT_MS), 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
}

static void
test_stale_duplicate_and_malformed_answers_ignored(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "double", 1);
    ob_client_t *client = t_client(state, 0, 0, 0);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 3; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    ob_confirm_t confirm = {0};
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
    }
    fake_broker_set(state->broker, "double", 0);
    /* a CONFIRM and an ERROR for a resolved token and for one never issued */
    fake_broker_stray(state->broker, 2);
    fake_broker_stray(state->broker, 1000000);
    fake_broker_junk(state->broker); /* malformed messages are ignored too */
    /* the strays arrive before this publish's CONFIRM, on the same connection */
    assert_int_equal(ob_client_publish(client, t_event("oms.1", 4), &confirm), 0);
    assert_int_equal(confirm.token, 4);
    assert_int_equal(confirm.seq, 4);
    assert_int_equal(ob_client_confirm_next(client, 0, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_pending(client), 0);
}

static void
test_destroy_with_pending(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "hold", 1);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 10; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", 10, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "hold", 0);
    fake_broker_release(state->broker, 0);
    /* some confirmations queued, some maybe not yet read: destroy frees both */
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    fake_broker_set(state->broker, "hold", 1);
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 11), &token), 0);
    ob_client_destroy(&state->client);
    assert_null(state->client);
}

static void
test_allocation_failures(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    const char *endpoint = fake_broker_endpoint(state->broker);
    /* the client itself, then its ring: NULL, and nothing leaked from the half-built one */
    for (int n = 1; n <= 2; n++) {
        t_fail_calloc = n;
        assert_null(ob_client_new(endpoint, NULL));
        t_fail_calloc = 0;
    }
    ob_client_t *client = t_client(state, 0, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);

    /* every allocation of an asynchronous publish in turn (encoding, FIFO room) */
    uint64_t token = 0;
    int n = 1, rc = 0;
    for (; n < 100; n++) {
        t_fail_malloc = n;
        rc = ob_client_publish_async(client, t_event("oms.1", 1), &token);
        t_fail_malloc = 0;
        if (rc == 0)
            break;
        assert_int_equal(rc, -ENOMEM);
        assert_int_equal(ob_client_pending(client), 0);
    }
    assert_int_equal(rc, 0);
    assert_true(n > 1); /* at least one allocation was failed */
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
    assert_int_equal(confirm.token, token);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 1);
}

static void
test_send_failure_replaces_the_socket(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_WAIT_MS, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    uint64_t token = 0;
    ob_confirm_t confirm = {0};
    /* a full queue on the header frame, then on the event frame (after two frames went):
       either way the socket is replaced, so no half message can reach the broker */
    for (int n = 1; n <= 3; n += 2) {
        t_fail_zmq_send = n;
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", (unsigned)n), &token), 0);
        assert_int_equal(t_fail_zmq_send, 0);
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, token);
        assert_int_equal(confirm.rc, 0);
    }
    assert_int_equal(fake_broker_count(state->broker, "peers"), 3);
    assert_int_equal(fake_broker_count(state->broker, "publishes"), 2);
    fake_broker_assert_log_ends(state->broker, "H P2");
}

static void
test_unreachable_broker(void **state_p)
{
    (void)state_p;
    ob_client_config_t config = {.timeout_ms = T_SHORT_MS, .heartbeat_ms = T_HEARTBEAT_MS};
    ob_client_t *client = ob_client_new("ipc:///nonexistent/dir/orderbus.sock", &config);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, T_SHORT_MS), OB_ERR_TIMEOUT);
    uint64_t token = 0;
    assert_int_equal(ob_client_publish_async(client, t_event("oms.1", 1), &token), 0);
    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_confirm_next(client, T_SHORT_MS, &confirm), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_pending(client), 1);
    ob_client_destroy(&client);
}

/* ---------------------------------------------------------------------------------------- */
/* Against the real orderbus-broker (OB_BROKER, set by CTest), on an ipc:// endpoint in a
   scratch directory: no port to collide with across restarts. */

#define T_PATH_MAX 256   /* bytes in a scratch path */
#define T_REAL_BATCH 200 /* publishes in flight when the broker is stopped */

/* A real broker in a scratch directory, and a client of it. */
typedef struct t_real {
    const char *broker;        /* the orderbus-broker binary, from OB_BROKER */
    char dir[T_PATH_MAX];      /* scratch directory, removed by teardown */
    char data_dir[T_PATH_MAX]; /* the broker's LMDB directory, in dir */
    char endpoint[T_PATH_MAX]; /* ipc:// socket in dir */
    pid_t pid;                 /* the broker process, 0 if none */
    ob_client_t *client;       /* the client under test */
} t_real_t;

/* Starts the broker; fails the test if it cannot. */
static void
t_real_start(t_real_t *real)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(real->broker, real->broker, "--data-dir", real->data_dir, "--endpoint",
              real->endpoint, "--curve", "0", "--metrics=", (char *)NULL); /* plaintext on ipc */
        _exit(127);
    }
    real->pid = pid;
}

/* Stops the broker with sig and reaps it. */
static void
t_real_stop(t_real_t *real, int sig)
{
    int status = 0;
    pid_t pid = real->pid;
    real->pid = 0;
    if (pid > 0 && kill(pid, sig) == 0)
        waitpid(pid, &status, 0);
}

/* Removes path and everything under it (no symlinks are made here). */
static void
t_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (streq(entry->d_name, ".") || streq(entry->d_name, ".."))
                continue;
            char child[T_PATH_MAX];
            if (snprintf(child, sizeof child, "%s/%s", path, entry->d_name) < (int)sizeof child)
                t_remove_tree(child);
        }
        closedir(dir);
        rmdir(path);
    } else
        unlink(path);
}

static int
t_real_setup(void **state_p)
{
    t_real_t *real = calloc(1, sizeof *real);
    assert_non_null(real);
    *state_p = real;
    /* CTest always sets OB_BROKER (tests/CMakeLists.txt): without a broker this test would
       pass without testing anything, so it fails instead. */
    real->broker = getenv("OB_BROKER");
    if (!real->broker || access(real->broker, X_OK) != 0)
        fail_msg("OB_BROKER (%s) is not an executable orderbus-broker: run this test through "
                 "ctest, or set OB_BROKER",
                 real->broker ? real->broker : "unset");
    snprintf(real->dir, sizeof real->dir, "/tmp/orderbus-test-client-XXXXXX");
    assert_non_null(mkdtemp(real->dir));
    snprintf(real->data_dir, sizeof real->data_dir, "%.200s/data", real->dir);
    snprintf(real->endpoint, sizeof real->endpoint, "ipc://%.200s/broker.sock", real->dir);
    return 0;
}

/* Runs after a failed assertion too: a broker left running would outlive the test and keep
   CTest waiting on its output. */
static int
t_real_teardown(void **state_p)
{
    t_real_t *real = *state_p;
    ob_client_destroy(&real->client);
    t_real_stop(real, SIGKILL);
    if (real->dir[0])
        t_remove_tree(real->dir);
    free(real);
    return 0;
}

/* Publishes T_REAL_BATCH events ev-<first>.. asynchronously, stops the broker with sig at
   once, starts a new one, and checks that every publish is confirmed exactly once with the
   sequence number of its first storing (event ev-k has seq k). Then one more, ev-<first +
   T_REAL_BATCH>, synchronously, which must find the new broker's session. */
static void
t_publish_through_restart(t_real_t *real, int sig, unsigned first)
{
    ob_client_t *client = real->client;
    char session[OB_WIRE_SESSION_MAX + 1];
    snprintf(session, sizeof session, "%s", ob_client_session(client));
    uint64_t token = 0, first_token = 0;
    for (unsigned i = 0; i < T_REAL_BATCH; i++) {
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", first + i), &token), 0);
        if (i == 0)
            first_token = token;
    }
    t_real_stop(real, sig);
    t_real_start(real);

    /* Some were confirmed by the old broker, maybe all (a clean stop finishes its commit);
       the others are re-sent to the new one. */
    uint8_t seen[T_REAL_BATCH] = {0};
    ob_confirm_t confirm = {0};
    while (ob_client_pending(client) > 0) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.rc, 0);
        assert_in_range(confirm.token, first_token, first_token + T_REAL_BATCH - 1);
        uint64_t k = confirm.token - first_token;
        assert_int_equal(seen[k], 0);
        seen[k] = 1;
        assert_int_equal(confirm.seq, first + k);
    }
    for (unsigned k = 0; k < T_REAL_BATCH; k++)
        assert_int_equal(seen[k], 1);

    assert_int_equal(ob_client_publish(client, t_event("oms.1", first + T_REAL_BATCH), &confirm),
                     0);
    assert_int_equal(confirm.seq, first + T_REAL_BATCH);
    assert_string_not_equal(ob_client_session(client), session);
}

static void
test_real_broker_restarts(void **state_p)
{
    t_real_t *real = *state_p;
    t_real_start(real);
    ob_client_config_t config = {.name = "test_client",
                                 .window = 64,
                                 .timeout_ms = T_WAIT_MS,
                                 .heartbeat_ms = T_HEARTBEAT_MS};
    real->client = ob_client_new(real->endpoint, &config);
    assert_non_null(real->client);
    assert_int_equal(ob_client_connect(real->client, T_WAIT_MS), 0);

    ob_confirm_t confirm = {0};
    assert_int_equal(ob_client_publish(real->client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 0);
    assert_int_equal(ob_client_publish(real->client, t_event("oms.1", 1), &confirm), 0);
    assert_int_equal(confirm.seq, 1);
    assert_int_equal(confirm.dup, 1);

    /* a crash, then a clean stop, each with publishes in flight */
    t_publish_through_restart(real, SIGKILL, 2);
    t_publish_through_restart(real, SIGTERM, 2 + T_REAL_BATCH + 1);
}

int
main(void)
{
    memset(s_data, 'x', sizeof s_data);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_arguments),
        cmocka_unit_test_setup_teardown(test_connect_and_publish, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_publish_before_connect_is_sent_after_welcome, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_encoding_errors, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_publish_frame_async, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_event_over_max_event, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_hello_refused, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_silent_broker_times_out, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_window_full_then_out_of_order_confirms, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_window_wraps_many_times, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_is_a_confirmation_with_rc, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_refusal_is_resent_to_the_next_broker, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_sync_publish_keeps_async_confirms, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_hello_required_resends_pending_in_order, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart_with_pending, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_restart_after_store_confirms_dup, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_pings_when_idle, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_liveness_reconnects_a_silent_broker, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_pings_reconnect, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_stale_duplicate_and_malformed_answers_ignored, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_pending, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_send_failure_replaces_the_socket, t_setup, t_teardown),
        cmocka_unit_test(test_unreachable_broker),
        cmocka_unit_test_setup_teardown(test_real_broker_restarts, t_real_setup, t_real_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    zsys_shutdown();
    return failed;
}
