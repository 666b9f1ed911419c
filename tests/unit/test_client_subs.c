/*  test_client_subs: the subscriber side of liborderbus's ob_client (subscribe, receive,
    ack, nack, re-attach, admin requests, the event-loop fd) against the fake broker
    (tests/doubles/fake_broker.h), which each test scripts.

    Nothing waits on a sleep: the test waits in the client's own calls (which also drive its
    heartbeats and reconnects) or on the fake broker's counters. t_drive waits in the client
    without taking anything from it, so that deliveries pile up in its queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>

#include "fake_broker.h"
#include "orderbus/client.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

#define T_WAIT_MS 5000     /* patience for anything that should happen soon */
#define T_SHORT_MS 300     /* how long to wait for something that must not happen */
#define T_HEARTBEAT_MS 100 /* fast heartbeats, for the tests that need a reconnect */
#define T_SMALL_EVENT 64   /* a small max_event, to send frames around the cap cheaply */
#define T_EPH_1 "eph-0000000000000001" /* the fake's first ephemeral name */
#define T_EPH_2 "eph-0000000000000002" /* and its second */

/* Failure injection: client.cmake links this test with -Wl,--wrap for these, which
   reroutes the calls made by our own objects (liborderbus, this file), not those inside
   shared libraries. Armed per thread, so that the fake broker's thread is never affected.
   Each counter fails the n-th next call when set to n, and then disarms itself. */
static _Thread_local int t_fail_malloc; /* malloc */
static _Thread_local int t_fail_calloc; /* calloc */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__wrap_calloc(size_t count, size_t size);

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

static const char *const t_orders_patterns[] = {"oms.*", "mp.>"};
static const char *const t_all_patterns[] = {">"};
static const char *const t_types[] = {"project_item.created"};

/* Options following every topic and type, with default settings. */
static const ob_sub_options_t t_all = {.patterns = t_all_patterns, .pattern_count = 1};

/* Returns a new client of the test's broker with the given timeout and heartbeat. */
static ob_client_t *
t_client(fake_broker_fixture_t *state, int timeout_ms, unsigned heartbeat_ms)
{
    ob_client_config_t config = {
        .name = "test-subs", .timeout_ms = timeout_ms, .heartbeat_ms = heartbeat_ms};
    state->client = ob_client_new(fake_broker_endpoint(state->broker), &config);
    assert_non_null(state->client);
    return state->client;
}

/* Returns a valid event with id "ev-<n>" on topic (borrowed until the next call). */
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
                         .source = "test_client_subs"};
    return &event;
}

/* Subscribes client to name with opts and asserts success, the name and created. */
static void
t_subscribe(ob_client_t *client, const char *name, const ob_sub_options_t *opts,
            const char *expect_name, int expect_created)
{
    char got[OB_SUB_NAME_MAX + 1] = "";
    int created = -1;
    assert_int_equal(ob_client_subscribe(client, name, opts, got, &created), 0);
    assert_string_equal(got, expect_name);
    assert_int_equal(created, expect_created);
}

/* Lets the client work for ms without taking a delivery or a confirmation (it has no
   asynchronous publish pending), so that what arrives is queued. */
static void
t_drive(ob_client_t *client, int ms)
{
    ob_confirm_t confirm;
    assert_int_equal(ob_client_confirm_next(client, ms, &confirm), OB_ERR_TIMEOUT);
}

/* Drives the client until its session is session; fails after T_WAIT_MS. */
static void
t_drive_until_session(ob_client_t *client, const char *session)
{
    for (int i = 0; i < T_WAIT_MS / T_HEARTBEAT_MS && strcmp(ob_client_session(client), session);
         i++)
        t_drive(client, T_HEARTBEAT_MS);
    assert_string_equal(ob_client_session(client), session);
}

/* Drives the client until it has exactly n deliveries queued; fails after T_WAIT_MS. */
static void
t_drive_until_queued(ob_client_t *client, size_t n)
{
    for (int i = 0; i < T_WAIT_MS / T_HEARTBEAT_MS && ob_client_queued(client) != n; i++)
        t_drive(client, T_HEARTBEAT_MS);
    assert_int_equal(ob_client_queued(client), n);
}

/* Receives one delivery and asserts its subscription, topic, seq and attempt. */
static ob_delivery_t *
t_receive(ob_client_t *client, const char *sub, const char *topic, uint64_t seq, uint32_t attempt)
{
    ob_delivery_t *delivery = NULL;
    assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), 0);
    assert_non_null(delivery);
    assert_string_equal(delivery->sub, sub);
    assert_string_equal(delivery->topic, topic);
    assert_int_equal(delivery->seq, seq);
    assert_int_equal(delivery->attempt, attempt);
    return delivery;
}

/* Receives one delivery of a run the fake broker sent (fake_broker_deliver_run from
   run_seq) and asserts, beyond t_receive, its time, skipped and event ("ev-<seq>" on
   topic). */
static ob_delivery_t *
t_receive_run(ob_client_t *client, const char *topic, uint64_t run_seq, uint64_t seq,
              uint32_t attempt, uint64_t skipped)
{
    ob_delivery_t *delivery = t_receive(client, "orders", topic, seq, attempt);
    if (delivery->time_us != FAKE_BROKER_RUN_TIME(run_seq, seq - run_seq))
        fail_msg("seq %" PRIu64 ": time_us %" PRIu64, seq, delivery->time_us);
    if (delivery->skipped != skipped)
        fail_msg("seq %" PRIu64 ": skipped %" PRIu64, seq, delivery->skipped);
    char id[32];
    snprintf(id, sizeof id, "ev-%" PRIu64, seq);
    ob_event_t *event = NULL;
    assert_int_equal(ob_delivery_decode(delivery, &event), 0);
    assert_string_equal(event->id, id);
    assert_string_equal(event->topic, topic);
    ob_event_destroy(&event);
    return delivery;
}

/* Asserts that the fake broker received exactly these lines for command. */
static void
t_assert_messages(fake_broker_t *broker, const char *command, const char *expected)
{
    char *lines = fake_broker_messages(broker, command);
    assert_non_null(lines);
    assert_string_equal(lines, expected);
    zstr_free(&lines);
}

/* The tests' fixture: the fake broker's (fake_broker.h), after disarming the failure
   injection a failed test may have left armed. */
static int
t_setup(void **state_p)
{
    t_fail_malloc = t_fail_calloc = 0;
    return fake_broker_setup(state_p);
}

static int (*const t_teardown)(void **state_p) = fake_broker_teardown;

/* ---------------------------------------------------------------------------------------- */

static void
test_subscribe_durable_and_ephemeral(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    /* before connecting: the SUBSCRIBE waits for WELCOME */
    ob_sub_options_t opts = {.patterns = t_orders_patterns,
                             .pattern_count = 2,
                             .types = t_types,
                             .type_count = 1,
                             .start = OB_START_EARLIEST,
                             .credit = 10,
                             .max_attempts = OB_ATTEMPTS_UNLIMITED};
    t_subscribe(client, "orders", &opts, "orders", 1);
    fake_broker_assert_log_ends(state->broker, "H S");
    /* again: attached already, the broker says so, and the client keeps one record */
    t_subscribe(client, "orders", &opts, "orders", 0);
    /* ephemeral, by NULL and by "": the broker names them; settings at their defaults */
    t_subscribe(client, NULL, &t_all, T_EPH_1, 1);
    opts = (ob_sub_options_t){.patterns = t_all_patterns,
                              .pattern_count = 1,
                              .start = OB_START_SEQ,
                              .start_seq = 7,
                              .ack_wait_ms = 100,
                              .max_attempts = 1,
                              .backoff_ms = 1};
    t_subscribe(client, "", &opts, T_EPH_2, 1);
    /* outputs are optional */
    assert_int_equal(ob_client_subscribe(client, "audit", &t_all, NULL, NULL), 0);
    t_assert_messages(
        state->broker, "SUBSCRIBE",
        "SUBSCRIBE sub=orders patterns=oms.*,mp.> types=project_item.created start=earliest "
        "start_seq=0 start_time=0 credit=10 ack_wait_ms=30000 max_attempts=0 backoff_ms=1000 "
        "attach=0\n"
        "SUBSCRIBE sub=orders patterns=oms.*,mp.> types=project_item.created start=earliest "
        "start_seq=0 start_time=0 credit=10 ack_wait_ms=30000 max_attempts=0 backoff_ms=1000 "
        "attach=0\n"
        "SUBSCRIBE sub= patterns=> types= start=new start_seq=0 start_time=0 credit=1000 "
        "ack_wait_ms=30000 max_attempts=5 backoff_ms=1000 attach=0\n"
        "SUBSCRIBE sub= patterns=> types= start=seq start_seq=7 start_time=0 credit=1000 "
        "ack_wait_ms=100 max_attempts=1 backoff_ms=1 attach=0\n"
        "SUBSCRIBE sub=audit patterns=> types= start=new start_seq=0 start_time=0 credit=1000 "
        "ack_wait_ms=30000 max_attempts=5 backoff_ms=1000 attach=0\n");
    assert_int_equal(ob_client_queued(client), 0);
}

static void
test_subscribe_rejected_locally(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);

    char long_name[OB_SUB_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    char long_pattern[OB_TOPIC_MAX + 2];
    memset(long_pattern, 'p', sizeof long_pattern - 1);
    long_pattern[sizeof long_pattern - 1] = '\0';
    const char *many[OB_SUB_TYPES_MAX + 1];
    for (size_t i = 0; i < OB_SUB_TYPES_MAX + 1; i++)
        many[i] = "oms.1";
    const char *const bad_pattern[] = {"oms.a*"};
    const char *const too_long[] = {long_pattern};
    const char *const null_entry[] = {NULL};
    const char *const empty_type[] = {""};
    const char *const bad_type[] = {"Project.Created"}; /* no event has it: 7.1 */

    const struct {
        const char *name;
        ob_sub_options_t opts;
        int rc;
    } cases[] = {
        {"orders", {.patterns = bad_pattern, .pattern_count = 1}, OB_ERR_INVALID_PATTERN},
        {"orders", {.patterns = t_all_patterns, .pattern_count = 0}, OB_ERR_FIELD_TYPE},
        {"orders", {.patterns = NULL, .pattern_count = 1}, OB_ERR_FIELD_TYPE},
        {"orders", {.patterns = null_entry, .pattern_count = 1}, OB_ERR_FIELD_TYPE},
        {"orders", {.patterns = many, .pattern_count = OB_SUB_PATTERNS_MAX + 1}, OB_ERR_TOO_LARGE},
        {"orders", {.patterns = too_long, .pattern_count = 1}, OB_ERR_TOO_LARGE},
        {"Orders", t_all, OB_ERR_FIELD_TYPE},
        {"or.ders", t_all, OB_ERR_FIELD_TYPE},
        {long_name, t_all, OB_ERR_TOO_LARGE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .credit = OB_CREDIT_MAX + 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .ack_wait_ms = OB_ACK_WAIT_MS_MIN - 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .backoff_ms = OB_DELAY_MS_MAX + 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .max_attempts = OB_MAX_ATTEMPTS_MAX + 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .start = OB_START_SEQ},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .start = (ob_start_t)42},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .types = many, .type_count = 33},
         OB_ERR_TOO_LARGE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .types = NULL, .type_count = 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .types = bad_type, .type_count = 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .types = null_entry, .type_count = 1},
         OB_ERR_FIELD_TYPE},
        {"orders",
         {.patterns = t_all_patterns, .pattern_count = 1, .types = empty_type, .type_count = 1},
         OB_ERR_FIELD_TYPE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[OB_SUB_NAME_MAX + 1] = "untouched";
        int created = 42;
        int rc = ob_client_subscribe(client, cases[i].name, &cases[i].opts, name, &created);
        if (rc != cases[i].rc)
            fail_msg("case %zu: %s, expected %s", i, ob_strerror(rc), ob_strerror(cases[i].rc));
        assert_string_equal(name, "untouched");
        assert_int_equal(created, 42);
    }
    /* and the other calls' local checks */
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_int_equal(ob_client_unsubscribe(client, long_name), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_int_equal(ob_client_ack_upto(client, "orders", "oms.1", 0), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_ack_upto(client, "", "oms.1", 1), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_ack_upto(client, "orders", "", 1), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_ack_upto(client, long_name, "oms.1", 1), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_client_ack_upto(client, "orders", long_pattern, 1), OB_ERR_TOO_LARGE);
    /* nothing reached the broker */
    t_drive(client, T_SHORT_MS);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 0);
    assert_int_equal(fake_broker_count(state->broker, "unsubscribes"), 0);
    assert_int_equal(fake_broker_count(state->broker, "acks"), 0);
}

static void
test_subscribe_refused_by_broker(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, T_HEARTBEAT_MS);
    fake_broker_set(state->broker, "subscribe_error", ob_error_to_wire(OB_ERR_SUBSCRIPTION_EXISTS));
    char name[OB_SUB_NAME_MAX + 1] = "untouched";
    assert_int_equal(ob_client_subscribe(client, "orders", &t_all, name, NULL),
                     OB_ERR_SUBSCRIPTION_EXISTS);
    assert_string_equal(name, "untouched");
    /* a broker without subscriptions (0.1) answers UNKNOWN_COMMAND */
    fake_broker_set(state->broker, "subscribe_error", ob_error_to_wire(OB_ERR_UNKNOWN_COMMAND));
    assert_int_equal(ob_client_subscribe(client, NULL, &t_all, name, NULL), OB_ERR_UNKNOWN_COMMAND);
    /* the real check: other patterns for an existing name */
    fake_broker_set(state->broker, "subscribe_error", 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    ob_sub_options_t other = {.patterns = t_orders_patterns, .pattern_count = 2};
    assert_int_equal(ob_client_subscribe(client, "orders", &other, NULL, NULL),
                     OB_ERR_SUBSCRIPTION_EXISTS);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 4);

    /* only the accepted one is re-attached in the next session */
    fake_broker_must_restart(state->broker);
    t_drive_until_session(client, "fake-2");
    assert_int_equal(fake_broker_wait(state->broker, "subscribes", 5, T_WAIT_MS), 0);
    t_drive(client, T_SHORT_MS);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 5);
    fake_broker_assert_log_ends(state->broker, "H S");
}

static void
test_receive_timeout_and_deliveries(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    ob_delivery_t *delivery = NULL;
    assert_int_equal(ob_client_receive(client, 0, &delivery), OB_ERR_TIMEOUT);
    int64_t start = zclock_mono();
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    assert_true(zclock_mono() - start >= T_SHORT_MS);
    assert_null(delivery);
    assert_string_equal(ob_client_lost_sub(client), "");

    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 2, 3), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "mp.7", 1, 1), 0);
    delivery = t_receive(client, "orders", "oms.1", 1, 1);
    assert_true(delivery->time_us > 1700000000000000ull);
    assert_int_equal(delivery->skipped, 0);
    ob_event_t *event = NULL;
    assert_int_equal(ob_delivery_decode(delivery, &event), 0);
    assert_string_equal(event->id, "ev-1");
    assert_string_equal(event->topic, "oms.1");
    assert_string_equal(event->type, "project_item.created");
    ob_event_destroy(&event);
    ob_delivery_destroy(&delivery);
    assert_null(delivery);
    ob_delivery_destroy(&delivery);
    ob_delivery_destroy(NULL);

    delivery = t_receive(client, "orders", "oms.1", 2, 3);
    /* the caller may take the event frame */
    uint8_t *frame = delivery->event;
    delivery->event = NULL;
    assert_int_equal(ob_delivery_decode(delivery, &event), OB_ERR_TRUNCATED);
    ob_delivery_destroy(&delivery);
    free(frame);
    delivery = t_receive(client, "orders", "mp.7", 1, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_queued(client), 0);
    assert_int_equal(ob_client_receive(client, 0, &delivery), OB_ERR_TIMEOUT);
}

static void
test_ack_nack_on_the_wire(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 2, 1), 0);
    ob_delivery_t *first = t_receive(client, "orders", "oms.1", 1, 1);
    ob_delivery_t *second = t_receive(client, "orders", "oms.1", 2, 1);

    assert_int_equal(ob_client_ack(client, first), 0);
    assert_int_equal(ob_client_nack(client, second, OB_DELAY_MS_MAX + 1), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_nack(client, second, 500), 0);
    assert_int_equal(ob_client_nack(client, second, 0), 0);
    assert_int_equal(ob_client_ack_upto(client, "orders", "oms.1", 7), 0);
    assert_int_equal(fake_broker_wait(state->broker, "acks", 2, T_WAIT_MS), 0);
    assert_int_equal(fake_broker_wait(state->broker, "nacks", 2, T_WAIT_MS), 0);
    t_assert_messages(state->broker, "ACK",
                      "ACK sub=orders topic=oms.1 seq=1 upto=0\n"
                      "ACK sub=orders topic=oms.1 seq=7 upto=1\n");
    t_assert_messages(state->broker, "NACK",
                      "NACK sub=orders topic=oms.1 seq=2 delay_ms=500\n"
                      "NACK sub=orders topic=oms.1 seq=2 delay_ms=0\n");
    fake_broker_assert_log_ends(state->broker, "S A N N A");
    ob_delivery_destroy(&first);
    ob_delivery_destroy(&second);
}

static void
test_unsubscribe(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    t_subscribe(client, "audit", &t_all, "audit", 1);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "audit", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 2, 1), 0);
    t_drive_until_queued(client, 3);

    /* its queued deliveries go with it; the others stay, in order */
    assert_int_equal(ob_client_unsubscribe(client, "orders"), 0);
    assert_int_equal(ob_client_queued(client), 1);
    t_assert_messages(state->broker, "UNSUBSCRIBE", "UNSUBSCRIBE sub=orders\n");
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 3, 1), -1);
    ob_delivery_t *delivery = t_receive(client, "audit", "oms.1", 1, 1);
    ob_delivery_destroy(&delivery);

    /* an ephemeral one */
    t_subscribe(client, NULL, &t_all, T_EPH_1, 1);
    assert_int_equal(ob_client_unsubscribe(client, T_EPH_1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, T_EPH_1, "oms.1", 1, 1), -1);
    assert_int_equal(fake_broker_count(state->broker, "unsubscribes"), 2);

    /* the broker's refusal is the caller's: the fake detached "audit" behind our back */
    fake_broker_forget(state->broker);
    assert_int_equal(ob_client_unsubscribe(client, "audit"), 0); /* HELLO_REQUIRED: moot */
    assert_int_equal(ob_client_queued(client), 0);
}

static void
test_deliveries_interleaved_with_confirms(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    enum { N = 50 };
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, NULL, &t_all, T_EPH_1, 1);
    ob_confirm_t confirm = {0};
    uint64_t token = 0;
    ob_delivery_t *delivery = NULL;

    /* publishing, the deliveries of what we publish arrive between the confirms: queued */
    for (unsigned i = 1; i <= N; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    for (unsigned i = 1; i <= N; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
    }
    for (unsigned i = 1; i <= N; i++) {
        delivery = t_receive(client, T_EPH_1, "oms.1", i, 1);
        ob_delivery_destroy(&delivery);
    }

    /* receiving, the confirms arrive between the deliveries: kept */
    for (unsigned i = N + 1; i <= 2 * N; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("oms.1", i), &token), 0);
    for (unsigned i = N + 1; i <= 2 * N; i++) {
        delivery = t_receive(client, T_EPH_1, "oms.1", i, 1);
        ob_delivery_destroy(&delivery);
    }
    for (unsigned i = N + 1; i <= 2 * N; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
        assert_int_equal(confirm.seq, i);
    }

    /* a synchronous publish, and an admin request, keep deliveries too */
    assert_int_equal(ob_client_publish(client, t_event("oms.2", 1), &confirm), 0);
    ob_wire_msg_t topics;
    ob_wire_msg_init(&topics, OB_CMD_TOPICS);
    assert_int_equal(fake_broker_deliver(state->broker, T_EPH_1, "oms.3", 1, 1), 0);
    assert_int_equal(ob_client_request(client, &topics, NULL, NULL, NULL, NULL, NULL), 0);
    delivery = t_receive(client, T_EPH_1, "oms.2", 1, 1);
    ob_delivery_destroy(&delivery);
    delivery = t_receive(client, T_EPH_1, "oms.3", 1, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_pending(client), 0);
    assert_int_equal(ob_client_queued(client), 0);
}

static void
test_reattach_after_restart(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_WAIT_MS, T_HEARTBEAT_MS);
    ob_sub_options_t opts = {
        .patterns = t_orders_patterns, .pattern_count = 2, .types = t_types, .type_count = 1};
    t_subscribe(client, "orders", &opts, "orders", 1);
    for (uint64_t seq = 1; seq <= 3; seq++)
        assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", seq, 1), 0);
    t_drive_until_queued(client, 3);
    ob_delivery_t *old = t_receive(client, "orders", "oms.1", 1, 1);
    assert_int_equal(ob_client_queued(client), 2);

    /* the broker restarts: the client notices (PING), says HELLO, re-sends SUBSCRIBE, and
       drops what the old session had queued */
    fake_broker_must_restart(state->broker);
    t_drive_until_session(client, "fake-2");
    assert_int_equal(ob_client_queued(client), 0);
    assert_int_equal(fake_broker_wait(state->broker, "subscribes", 2, T_WAIT_MS), 0);
    /* the second time attach only: a subscription deleted meanwhile is not re-created */
#define T_ORDERS_LINE(attach)                                                                      \
    "SUBSCRIBE sub=orders patterns=oms.*,mp.> types=project_item.created start=new start_seq=0 "   \
    "start_time=0 credit=1000 ack_wait_ms=30000 max_attempts=5 backoff_ms=1000 attach=" attach     \
    "\n"
    t_assert_messages(state->broker, "SUBSCRIBE", T_ORDERS_LINE("0") T_ORDERS_LINE("1"));
#undef T_ORDERS_LINE

    /* the ack of the old delivery is moot: not sent */
    assert_int_equal(ob_client_ack(client, old), 0);
    assert_int_equal(ob_client_nack(client, old, 0), 0);
    /* the broker redelivers in the new session; that ack goes */
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    ob_delivery_t *again = t_receive(client, "orders", "oms.1", 1, 1);
    assert_true(again->generation > old->generation);
    assert_int_equal(ob_client_ack(client, again), 0);
    assert_int_equal(fake_broker_wait(state->broker, "acks", 1, T_WAIT_MS), 0);
    assert_int_equal(fake_broker_count(state->broker, "nacks"), 0);
    t_assert_messages(state->broker, "ACK", "ACK sub=orders topic=oms.1 seq=1 upto=0\n");
    fake_broker_assert_log_ends(state->broker, "H S H S A");
    ob_delivery_destroy(&old);
    ob_delivery_destroy(&again);
}

static void
test_reattach_ephemeral_gets_a_new_name(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_WAIT_MS, T_HEARTBEAT_MS);
    ob_sub_options_t opts = {.patterns = t_orders_patterns, .pattern_count = 2};
    t_subscribe(client, NULL, &opts, T_EPH_1, 1);
    fake_broker_must_restart(state->broker);
    t_drive_until_session(client, "fake-2");
    assert_int_equal(fake_broker_wait(state->broker, "subscribes", 2, T_WAIT_MS), 0);
    const char *line = "SUBSCRIBE sub= patterns=oms.*,mp.> types= start=new start_seq=0 "
                       "start_time=0 credit=1000 ack_wait_ms=30000 max_attempts=5 "
                       "backoff_ms=1000 attach=0\n";
    char expected[1024];
    snprintf(expected, sizeof expected, "%s%s", line, line);
    t_assert_messages(state->broker, "SUBSCRIBE", expected);
    /* the old one is gone with the old broker; the new one delivers */
    assert_int_equal(fake_broker_deliver(state->broker, T_EPH_1, "oms.1", 1, 1), -1);
    assert_int_equal(fake_broker_deliver(state->broker, T_EPH_2, "oms.1", 1, 1), 0);
    ob_delivery_t *delivery = t_receive(client, T_EPH_2, "oms.1", 1, 1);
    ob_delivery_destroy(&delivery);
    /* and it is unsubscribed under its new name */
    assert_int_equal(ob_client_unsubscribe(client, T_EPH_1), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_int_equal(ob_client_unsubscribe(client, T_EPH_2), 0);
}

static void
test_reattach_after_publishes_and_on_hello_required(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_WAIT_MS, T_HEARTBEAT_MS);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    fake_broker_set(state->broker, "hold", 1);
    uint64_t token = 0;
    for (unsigned i = 1; i <= 2; i++)
        assert_int_equal(ob_client_publish_async(client, t_event("mp.1", i), &token), 0);
    assert_int_equal(fake_broker_wait(state->broker, "publishes", 2, T_WAIT_MS), 0);
    fake_broker_set(state->broker, "hold", 0);
    fake_broker_must_restart(state->broker);
    /* publishes first, then the subscription (PROTOCOL.md 10) */
    ob_confirm_t confirm = {0};
    for (unsigned i = 1; i <= 2; i++) {
        assert_int_equal(ob_client_confirm_next(client, T_WAIT_MS, &confirm), 0);
        assert_int_equal(confirm.token, i);
    }
    assert_int_equal(fake_broker_wait(state->broker, "subscribes", 2, T_WAIT_MS), 0);
    fake_broker_assert_log_ends(state->broker, "H P1 P2 S");

    /* the broker forgets the session (expiry): the next PING gets HELLO_REQUIRED, and the
       client says HELLO on the same connection and re-attaches */
    int64_t peers = fake_broker_count(state->broker, "peers");
    fake_broker_forget(state->broker);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), -1);
    for (int i = 0;
         i < T_WAIT_MS / T_HEARTBEAT_MS && fake_broker_count(state->broker, "subscribes") < 3; i++)
        t_drive(client, T_HEARTBEAT_MS);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 3);
    assert_int_equal(fake_broker_count(state->broker, "peers"), peers);
    /* the fake attached the consumer when it counted the SUBSCRIBE */
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    ob_delivery_t *delivery = t_receive(client, "orders", "oms.1", 1, 1);
    ob_delivery_destroy(&delivery);
}

static void
test_reattach_refused_is_reported_once(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_WAIT_MS, T_HEARTBEAT_MS);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    t_subscribe(client, "audit", &t_all, "audit", 1);
    fake_broker_set(state->broker, "subscribe_error",
                    ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION));
    fake_broker_must_restart(state->broker);
    ob_delivery_t *delivery = NULL;
    /* both fail to re-attach; each is reported once, in the order they were made */
    assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_string_equal(ob_client_lost_sub(client), "orders");
    assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_string_equal(ob_client_lost_sub(client), "audit");
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    assert_string_equal(ob_client_lost_sub(client), "");
    assert_null(delivery);
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);

    /* forgotten: the next session does not re-attach them */
    fake_broker_set(state->broker, "subscribe_error", 0);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 4);
    fake_broker_must_restart(state->broker);
    t_drive_until_session(client, "fake-3");
    t_drive(client, T_SHORT_MS);
    assert_int_equal(fake_broker_count(state->broker, "subscribes"), 4);
}

static void
test_deleted_subscription_is_reported_once(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_WAIT_MS, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    t_subscribe(client, "audit", &t_all, "audit", 1);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "audit", "oms.1", 1, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 2, 1), 0);
    t_drive_until_queued(client, 3);

    /* ERROR {code 17, sub}, no req: the sub's queued deliveries are dropped when it arrives
       (a receive would take queued ones first: the client reads only when it must wait)... */
    assert_int_equal(fake_broker_delete(state->broker, "orders"), 0);
    t_drive_until_queued(client, 1);
    /* ...and it is reported once */
    ob_delivery_t *delivery = NULL;
    assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_string_equal(ob_client_lost_sub(client), "orders");
    delivery = t_receive(client, "audit", "oms.1", 1, 1);
    assert_string_equal(ob_client_lost_sub(client), "");
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);

    /* our own SUB_DELETE: OK to the request, and the ERROR 17 to us as a consumer */
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_SUB_DELETE);
    snprintf(request.sub, sizeof request.sub, "audit");
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_string_equal(ob_client_lost_sub(client), "audit");
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    /* an ERROR 17 about a subscription we do not have is ignored */
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL),
                     OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
}

static void
test_request_ok_with_result(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    static const uint8_t result[] = {0x93, 0x01, 0x02, 0xa1, 'x'}; /* [1, 2, "x"] */
    fake_broker_set_result(state->broker, result, sizeof result);

    /* before connecting: sent after WELCOME */
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_TOPICS);
    uint8_t *got = NULL;
    size_t got_len = 0;
    int more = -1;
    uint8_t *event = (uint8_t *)"untouched";
    size_t event_len = 42;
    assert_int_equal(ob_client_request(client, &request, &got, &got_len, &more, &event, &event_len),
                     0);
    assert_non_null(got);
    assert_int_equal(got_len, sizeof result);
    assert_memory_equal(got, result, sizeof result);
    assert_int_equal(more, 0);
    assert_null(event); /* no event frame in an OK to TOPICS */
    assert_int_equal(event_len, 0);
    free(got);

    /* more, after */
    fake_broker_set(state->broker, "more", 1);
    ob_wire_msg_init(&request, OB_CMD_SUBS);
    snprintf(request.after, sizeof request.after, "orders");
    assert_int_equal(ob_client_request(client, &request, &got, &got_len, &more, NULL, NULL), 0);
    assert_int_equal(more, 1);
    free(got);

    /* no result: NULL, 0 */
    fake_broker_set(state->broker, "more", 0);
    fake_broker_set_result(state->broker, NULL, 0);
    ob_wire_msg_init(&request, OB_CMD_SUB_REPOSITION);
    snprintf(request.sub, sizeof request.sub, "orders");
    request.start = OB_START_EARLIEST;
    assert_int_equal(ob_client_request(client, &request, &got, &got_len, &more, NULL, NULL), 0);
    assert_null(got);
    assert_int_equal(got_len, 0);
    ob_wire_msg_init(&request, OB_CMD_SUB_INFO);
    snprintf(request.sub, sizeof request.sub, "orders");
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), 0);
    t_assert_messages(state->broker, "TOPICS", "TOPICS sub= topic= seq=0 after=\n");
    t_assert_messages(state->broker, "SUBS", "SUBS sub= topic= seq=0 after=orders\n");
    t_assert_messages(state->broker, "SUB_REPOSITION",
                      "SUB_REPOSITION sub=orders topic= seq=0 after=\n");
    t_assert_messages(state->broker, "SUB_INFO", "SUB_INFO sub=orders topic= seq=0 after=\n");
}

static void
test_request_fetch_returns_the_event(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    static const uint8_t result[] = {0x81, 0xa3, 's', 'e', 'q', 0x05}; /* {seq: 5} */
    fake_broker_set_result(state->broker, result, sizeof result);
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_FETCH);
    snprintf(request.topic, sizeof request.topic, "oms.1");
    request.seq = 5;
    uint8_t *got = NULL, *event = NULL;
    size_t got_len = 0, event_len = 0;
    assert_int_equal(ob_client_request(client, &request, &got, &got_len, NULL, &event, &event_len),
                     0);
    assert_int_equal(got_len, sizeof result);
    assert_memory_equal(got, result, sizeof result);
    ob_event_t *decoded = NULL;
    assert_int_equal(ob_event_decode(event, event_len, &decoded), 0);
    assert_string_equal(decoded->id, "ev-5");
    assert_string_equal(decoded->topic, "oms.1");
    ob_event_destroy(&decoded);
    free(got);
    free(event);
    t_assert_messages(state->broker, "FETCH", "FETCH sub= topic=oms.1 seq=5 after=\n");
}

/* What a range's OK result holds (PROTOCOL.md 13), each value a fixint (< 128). */
typedef struct t_range {
    unsigned seq, count, times, next, last_seq; /* times: entries of the times array */
    int no_count;                               /* 1: leave count out (broker 0.5) */
    int no_last_seq;                            /* 1: leave last_seq out */
} t_range_t;

/* Writes the result r describes, on topic "oms.1", times 10, 11, ..., into buf (at least
   T_RANGE_RESULT_MAX bytes); returns its size. */
#define T_RANGE_RESULT_MAX 256
static size_t
t_range_result(const t_range_t *r, uint8_t *buf)
{
    size_t n = 0;
    buf[n++] = (uint8_t)(0x80 | (6 - r->no_count - r->no_last_seq));
#define T_KEY(k)                                                                                   \
    do {                                                                                           \
        buf[n++] = (uint8_t)(0xa0 | strlen(k));                                                    \
        memcpy(buf + n, k, strlen(k));                                                             \
        n += strlen(k);                                                                            \
    } while (0)
    T_KEY("topic");
    T_KEY("oms.1");
    T_KEY("seq");
    buf[n++] = (uint8_t)r->seq;
    if (!r->no_count) {
        T_KEY("count");
        buf[n++] = (uint8_t)r->count;
    }
    T_KEY("times");
    buf[n++] = (uint8_t)(0x90 | r->times);
    for (unsigned i = 0; i < r->times; i++)
        buf[n++] = (uint8_t)(10 + i);
    T_KEY("next");
    buf[n++] = (uint8_t)r->next;
    if (!r->no_last_seq) {
        T_KEY("last_seq");
        buf[n++] = (uint8_t)r->last_seq;
    }
#undef T_KEY
    return n;
}

/* Scripts the fake broker's answer to the next FETCH of a range: r's result, frames events. */
static void
t_script_range(fake_broker_t *broker, const t_range_t *r, unsigned frames)
{
    uint8_t buf[T_RANGE_RESULT_MAX];
    fake_broker_set_result(broker, buf, t_range_result(r, buf));
    fake_broker_set(broker, "fetch_frames", frames);
}

static void
test_fetch_range(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);

    /* retention removed 1..3: asked from 1, the range starts at 4 */
    t_script_range(state->broker,
                   &(t_range_t){.seq = 4, .count = 2, .times = 2, .next = 6, .last_seq = 9}, 2);
    ob_fetch_t *fetch = NULL;
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 2, &fetch), 0);
    assert_string_equal(fetch->topic, "oms.1");
    assert_int_equal(fetch->seq, 4);
    assert_int_equal(fetch->count, 2);
    assert_int_equal(fetch->next, 6);
    assert_int_equal(fetch->last_seq, 9);
    for (size_t i = 0; i < fetch->count; i++) {
        char id[32];
        snprintf(id, sizeof id, "ev-%zu", 1 + i); /* the fake counts from the seq asked */
        assert_int_equal(fetch->events[i].seq, 4 + i);
        assert_int_equal(fetch->events[i].time_us, 10 + i);
        ob_event_t *decoded = NULL;
        assert_int_equal(
            ob_event_decode(fetch->events[i].event, fetch->events[i].event_len, &decoded), 0);
        assert_string_equal(decoded->id, id);
        ob_event_destroy(&decoded);
    }
    ob_fetch_destroy(&fetch);
    assert_null(fetch);
    ob_fetch_destroy(&fetch); /* accepts NULL */

    /* from a time, the largest range; past the end: empty, no events */
    t_script_range(state->broker, &(t_range_t){.seq = 10, .next = 10, .last_seq = 9}, 0);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 77, OB_FETCH_RANGE_MAX, &fetch), 0);
    assert_int_equal(fetch->count, 0);
    assert_null(fetch->events);
    assert_true(fetch->next > fetch->last_seq);
    ob_fetch_destroy(&fetch);
    t_assert_messages(state->broker, "FETCH",
                      "FETCH sub= topic=oms.1 seq=1 after= count=2 time=0\n"
                      "FETCH sub= topic=oms.1 seq=1 after= count=256 time=77\n");
}

static void
test_fetch_range_refusals(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_SHORT_MS, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    ob_fetch_t *fetch = (ob_fetch_t *)&fetch; /* must stay untouched */
    ob_fetch_t *const untouched = fetch;

    /* locally, nothing sent */
    char long_topic[OB_TOPIC_MAX + 2];
    memset(long_topic, 't', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    assert_int_equal(ob_client_fetch(client, "oms.1", 0, 0, 1, &fetch), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 0, &fetch), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, OB_FETCH_RANGE_MAX + 1, &fetch),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_fetch(client, "", 1, 0, 1, &fetch), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_client_fetch(client, long_topic, 1, 0, 1, &fetch), OB_ERR_TOO_LARGE);
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_FETCH);
    snprintf(request.topic, sizeof request.topic, "oms.1");
    request.seq = 1;
    request.count = 2;
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(fake_broker_count(state->broker, "requests"), 0);

    /* answers that do not hold together, each dropped whole */
    static const struct {
        const char *what;
        t_range_t range;
        unsigned frames;
        uint32_t max;
        int rc;
    } cases[] = {
        {"broker 0.5: no count",
         {.seq = 1, .times = 0, .next = 2, .last_seq = 9, .no_count = 1},
         1,
         2,
         -ENOTSUP},
        {"fewer frames than count",
         {.seq = 1, .count = 2, .times = 2, .next = 3, .last_seq = 9},
         1,
         2,
         OB_ERR_MALFORMED},
        {"more frames than count",
         {.seq = 1, .count = 1, .times = 1, .next = 2, .last_seq = 9},
         2,
         2,
         OB_ERR_MALFORMED},
        {"more than asked for",
         {.seq = 1, .count = 2, .times = 2, .next = 3, .last_seq = 9},
         2,
         1,
         OB_ERR_MALFORMED},
        {"times not count",
         {.seq = 1, .count = 2, .times = 1, .next = 3, .last_seq = 9},
         2,
         2,
         OB_ERR_MALFORMED},
        {"next not seq + count",
         {.seq = 1, .count = 2, .times = 2, .next = 4, .last_seq = 9},
         2,
         2,
         OB_ERR_MALFORMED},
        {"seq 0",
         {.seq = 0, .count = 1, .times = 1, .next = 1, .last_seq = 9},
         1,
         2,
         OB_ERR_MALFORMED},
        {"no last_seq",
         {.seq = 1, .count = 1, .times = 1, .next = 2, .no_last_seq = 1},
         1,
         2,
         OB_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_script_range(state->broker, &cases[i].range, cases[i].frames);
        int rc = ob_client_fetch(client, "oms.1", 1, 0, cases[i].max, &fetch);
        if (rc != cases[i].rc)
            fail_msg("%s: %s", cases[i].what, ob_strerror(rc));
        assert_ptr_equal(fetch, untouched);
    }
    /* no result at all */
    fake_broker_set_result(state->broker, NULL, 0);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 1, &fetch), OB_ERR_MALFORMED);
    /* the broker's refusal */
    fake_broker_set(state->broker, "request_error", ob_error_to_wire(OB_ERR_INVALID_ARGUMENT));
    assert_int_equal(ob_client_fetch(client, "oms.1", 99, 0, 1, &fetch), OB_ERR_INVALID_ARGUMENT);
    fake_broker_set(state->broker, "request_error", 0);
    /* no memory for the range */
    t_script_range(state->broker,
                   &(t_range_t){.seq = 1, .count = 1, .times = 1, .next = 2, .last_seq = 9}, 1);
    t_fail_calloc = 1;
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 1, &fetch), -ENOMEM);
    assert_ptr_equal(fetch, untouched);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 1, &fetch), 0);
    ob_fetch_destroy(&fetch);
}

static void
test_request_errors(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_SHORT_MS, 0);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    ob_wire_msg_t request;
    uint8_t *got = (uint8_t *)"untouched";

    /* locally: not an admin command, or one the encoder refuses */
    ob_wire_msg_init(&request, OB_CMD_PUBLISH);
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_UNKNOWN_COMMAND);
    ob_wire_msg_init(&request, OB_CMD_SUBSCRIBE);
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_UNKNOWN_COMMAND);
    ob_wire_msg_init(&request, OB_CMD_FETCH);
    snprintf(request.topic, sizeof request.topic, "oms.1");
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_FIELD_TYPE); /* seq 0 */
    ob_wire_msg_init(&request, OB_CMD_SUB_INFO);
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_FIELD_TYPE); /* no sub */
    assert_int_equal(fake_broker_count(state->broker, "requests"), 0);

    /* the broker's ERROR */
    fake_broker_set(state->broker, "request_error", ob_error_to_wire(OB_ERR_NO_SUCH_TOPIC));
    ob_wire_msg_init(&request, OB_CMD_FETCH);
    snprintf(request.topic, sizeof request.topic, "oms.1");
    request.seq = 1;
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_NO_SUCH_TOPIC);
    fake_broker_set(state->broker, "request_error", 0);
    ob_wire_msg_init(&request, OB_CMD_SUB_DELETE);
    snprintf(request.sub, sizeof request.sub, "nothing");
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_NO_SUCH_SUBSCRIPTION);
    assert_string_equal((const char *)got, "untouched");

    /* no answer: TIMEOUT; the client goes on */
    fake_broker_set(state->broker, "silent", 1);
    ob_wire_msg_init(&request, OB_CMD_TOPICS);
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL),
                     OB_ERR_TIMEOUT);
    fake_broker_set(state->broker, "silent", 0);
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), 0);
}

static void
test_fd_becomes_readable_on_deliver(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, OB_HEARTBEAT_MS_MAX);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    ob_delivery_t *delivery = NULL;
    for (int round = 1; round <= 3; round++) {
        /* drained: the fd is quiet */
        while (ob_client_receive(client, 0, &delivery) == 0)
            ob_delivery_destroy(&delivery);
        struct pollfd item = {.fd = ob_client_fd(client), .events = POLLIN};
        assert_true(item.fd >= 0);
        assert_int_equal(poll(&item, 1, 0), 0);
        /* a DELIVER arrives: readable, and receive(0) finds it */
        assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", (uint64_t)round, 1),
                         0);
        assert_int_equal(poll(&item, 1, T_WAIT_MS), 1);
        assert_true(item.revents & POLLIN);
        int rc = OB_ERR_TIMEOUT;
        for (int i = 0; i < T_WAIT_MS / T_HEARTBEAT_MS && rc == OB_ERR_TIMEOUT; i++) {
            rc = ob_client_receive(client, 0, &delivery);
            if (rc == OB_ERR_TIMEOUT) /* the fd fired for the message's first frame */
                poll(&item, 1, T_HEARTBEAT_MS);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(delivery->seq, (uint64_t)round);
        ob_delivery_destroy(&delivery);
    }
}

static void
test_bad_deliveries_are_dropped(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    fake_broker_set(state->broker, "max_event", T_SMALL_EVENT);
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    assert_int_equal(fake_broker_deliver_junk(state->broker, "orders"), 0);
    /* the largest event frame a consumer must take: max_event + OB_DEAD_LETTER_EXTRA */
    assert_int_equal(fake_broker_deliver_raw(state->broker, "orders", "dlq.orders", 9,
                                             T_SMALL_EVENT + OB_DEAD_LETTER_EXTRA),
                     0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 10, 1), 0);

    ob_delivery_t *delivery = t_receive(client, "orders", "dlq.orders", 9, 1);
    assert_int_equal(delivery->event_len, T_SMALL_EVENT + OB_DEAD_LETTER_EXTRA);
    ob_event_t *event = NULL;
    assert_int_not_equal(ob_delivery_decode(delivery, &event), 0); /* zeros are no event */
    assert_null(event);
    ob_delivery_destroy(&delivery);
    delivery = t_receive(client, "orders", "oms.1", 10, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_count(state->broker, "deliveries"), 9);
    /* the connection is fine */
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_TOPICS);
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(fake_broker_count(state->broker, "peers"), 1);
}

static void
test_delivery_runs(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    /* liborderbus takes runs as long as the protocol allows */
    char hello[128];
    snprintf(hello, sizeof hello, "HELLO name=test-subs heartbeat_ms=%u max_run=%u\n",
             OB_HEARTBEAT_MS_DEFAULT, OB_DELIVER_RUN_MAX);
    t_assert_messages(state->broker, "HELLO", hello);

    /* A run of 3 is 3 deliveries, in seq order, each with its own time and event, all with
       the run's attempt; skipped is the first's. A single DELIVER after it comes after. */
    assert_int_equal(fake_broker_deliver_run(state->broker, "orders", "oms.1", 10, 3, 2, 5), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 13, 1), 0);
    t_drive_until_queued(client, 4);
    ob_delivery_t *delivery = t_receive_run(client, "oms.1", 10, 10, 2, 5);
    ob_delivery_destroy(&delivery);
    delivery = t_receive_run(client, "oms.1", 10, 11, 2, 0);
    assert_int_equal(ob_client_ack(client, delivery), 0); /* each is acked on its own */
    ob_delivery_destroy(&delivery);
    delivery = t_receive_run(client, "oms.1", 10, 12, 2, 0);
    ob_delivery_destroy(&delivery);
    delivery = t_receive(client, "orders", "oms.1", 13, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(fake_broker_wait(state->broker, "acks", 1, T_WAIT_MS), 0);
    t_assert_messages(state->broker, "ACK", "ACK sub=orders topic=oms.1 seq=11 upto=0\n");

    /* The longest run, behind 2 queued deliveries: the queue grows while it is queued. */
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 14, 1), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 15, 1), 0);
    assert_int_equal(
        fake_broker_deliver_run(state->broker, "orders", "mp.7", 100, OB_DELIVER_RUN_MAX, 1, 0), 0);
    t_drive_until_queued(client, 2 + OB_DELIVER_RUN_MAX);
    for (uint64_t seq = 14; seq <= 15; seq++) {
        delivery = t_receive(client, "orders", "oms.1", seq, 1);
        ob_delivery_destroy(&delivery);
    }
    for (uint64_t seq = 100; seq < 100 + OB_DELIVER_RUN_MAX; seq++) {
        delivery = t_receive_run(client, "mp.7", 100, seq, 1, 0);
        ob_delivery_destroy(&delivery);
    }

    /* A run of 1 is a single delivery. */
    assert_int_equal(fake_broker_deliver_run(state->broker, "orders", "oms.2", 7, 1, 4, 3), 0);
    delivery = t_receive_run(client, "oms.2", 7, 7, 4, 3);
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_receive(client, 0, &delivery), OB_ERR_TIMEOUT);
    assert_int_equal(ob_client_queued(client), 0);
}

static void
test_bad_delivery_runs_are_dropped(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    assert_int_equal(fake_broker_deliver_junk_run(state->broker, "orders"), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1000, 1), 0);

    /* nothing of the junk is queued, not even the events it carried: the first delivery is
       the single one sent after it */
    ob_delivery_t *delivery = t_receive(client, "orders", "oms.1", 1000, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
    assert_int_equal(fake_broker_count(state->broker, "deliveries"), 5);

    /* the connection is fine: a valid run, and a request */
    assert_int_equal(fake_broker_deliver_run(state->broker, "orders", "oms.1", 21, 2, 1, 0), 0);
    delivery = t_receive_run(client, "oms.1", 21, 21, 1, 0);
    ob_delivery_destroy(&delivery);
    delivery = t_receive_run(client, "oms.1", 21, 22, 1, 0);
    ob_delivery_destroy(&delivery);
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_TOPICS);
    assert_int_equal(ob_client_request(client, &request, NULL, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(fake_broker_count(state->broker, "peers"), 1);
    assert_int_equal(fake_broker_count(state->broker, "hellos"), 1);
}

static void
test_subscribe_timeout_then_late_answer_unsubscribes(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_SHORT_MS, 0);
    fake_broker_set(state->broker, "hold_subscribe", 1);
    char name[OB_SUB_NAME_MAX + 1] = "untouched";
    assert_int_equal(ob_client_subscribe(client, "orders", &t_all, name, NULL), OB_ERR_TIMEOUT);
    assert_string_equal(name, "untouched");
    assert_int_equal(ob_client_subscribe(client, NULL, &t_all, name, NULL), OB_ERR_TIMEOUT);
    /* the broker attaches us after all: the client detaches, and drops what comes */
    fake_broker_set(state->broker, "hold_subscribe", 0);
    fake_broker_release(state->broker, 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    t_drive(client, T_SHORT_MS);
    assert_int_equal(fake_broker_wait(state->broker, "unsubscribes", 2, T_WAIT_MS), 0);
    t_assert_messages(state->broker, "UNSUBSCRIBE",
                      "UNSUBSCRIBE sub=orders\nUNSUBSCRIBE sub=" T_EPH_1 "\n");
    assert_int_equal(ob_client_queued(client), 0);
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);
    /* subscribing again works: the durable one exists at the broker now */
    t_subscribe(client, "orders", &t_all, "orders", 0);
}

static void
test_subscribe_again_while_the_abandoned_answer_is_late(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, T_SHORT_MS, 0);
    /* the fake answers both SUBSCRIBEs once it holds two: the late SUBSCRIBED of the first
       arrives while the second waits, and must not make the client unsubscribe */
    fake_broker_set(state->broker, "hold_subscribe", 2);
    assert_int_equal(ob_client_subscribe(client, "orders", &t_all, NULL, NULL), OB_ERR_TIMEOUT);
    t_subscribe(client, "orders", &t_all, "orders", 0);
    t_drive(client, T_SHORT_MS);
    assert_int_equal(fake_broker_count(state->broker, "unsubscribes"), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 1, 1), 0);
    ob_delivery_t *delivery = t_receive(client, "orders", "oms.1", 1, 1);
    ob_delivery_destroy(&delivery);
    /* one record: one UNSUBSCRIBE detaches it */
    assert_int_equal(ob_client_unsubscribe(client, "orders"), 0);
    assert_int_equal(ob_client_unsubscribe(client, "orders"), OB_ERR_NO_SUCH_SUBSCRIPTION);
}

static void
test_allocation_failures(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    /* the subscription record */
    t_fail_calloc = 1;
    assert_int_equal(ob_client_subscribe(client, "orders", &t_all, NULL, NULL), -ENOMEM);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    ob_delivery_t *delivery = NULL;

    /* a delivery that cannot be held is dropped (the broker redelivers it): first the
       queue, then the delivery, then its event */
    int *arm[] = {&t_fail_malloc, &t_fail_calloc, &t_fail_malloc};
    for (uint64_t i = 0; i < 3; i++) {
        *arm[i] = 1;
        assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", i + 1, 1), 0);
        assert_int_equal(ob_client_receive(client, T_SHORT_MS, &delivery), OB_ERR_TIMEOUT);
        assert_int_equal(*arm[i], 0);
        if (i == 0) { /* now the queue has room: the next failures are the delivery's */
            assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 100, 1), 0);
            delivery = t_receive(client, "orders", "oms.1", 100, 1);
            ob_delivery_destroy(&delivery);
        }
    }
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", 4, 1), 0);
    delivery = t_receive(client, "orders", "oms.1", 4, 1);
    ob_delivery_destroy(&delivery);

    /* in a run, a delivery that cannot be held (the second: its calloc fails) is dropped,
       the one before it is not; whatever follows comes in seq order */
    t_fail_calloc = 2;
    assert_int_equal(fake_broker_deliver_run(state->broker, "orders", "mp.1", 10, 3, 1, 0), 0);
    assert_int_equal(fake_broker_deliver(state->broker, "orders", "mp.1", 20, 1), 0);
    delivery = t_receive(client, "orders", "mp.1", 10, 1);
    ob_delivery_destroy(&delivery);
    assert_int_equal(t_fail_calloc, 0);
    uint64_t last = 10;
    do {
        assert_int_equal(ob_client_receive(client, T_WAIT_MS, &delivery), 0);
        if (delivery->seq == 11 || delivery->seq <= last)
            fail_msg("seq %" PRIu64 " after %" PRIu64, delivery->seq, last);
        last = delivery->seq;
        ob_delivery_destroy(&delivery);
    } while (last != 20);

    /* the copy of an OK's result */
    static const uint8_t result[] = {0x90};
    fake_broker_set_result(state->broker, result, sizeof result);
    ob_wire_msg_t request;
    ob_wire_msg_init(&request, OB_CMD_TOPICS);
    uint8_t *got = NULL;
    t_fail_malloc = 1;
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL), -ENOMEM);
    assert_null(got);
    t_fail_malloc = 0;
    assert_int_equal(ob_client_request(client, &request, &got, NULL, NULL, NULL, NULL), 0);
    free(got);
}

static void
test_destroy_with_everything_pending(void **state_p)
{
    fake_broker_fixture_t *state = *state_p;
    ob_client_t *client = t_client(state, 0, 0);
    t_subscribe(client, "orders", &t_all, "orders", 1);
    t_subscribe(client, NULL, &t_all, T_EPH_1, 1);
    assert_int_equal(fake_broker_delete(state->broker, T_EPH_1), 0); /* arrives first */
    for (uint64_t seq = 1; seq <= 20; seq++)
        assert_int_equal(fake_broker_deliver(state->broker, "orders", "oms.1", seq, 1), 0);
    t_drive_until_queued(client, 20);
    ob_delivery_t *delivery = NULL;
    /* one taken and still held by us, 19 queued, a lost subscription not yet reported */
    assert_int_equal(ob_client_receive(client, 0, &delivery), OB_ERR_NO_SUCH_SUBSCRIPTION);
    delivery = t_receive(client, "orders", "oms.1", 1, 1);
    assert_int_equal(fake_broker_delete(state->broker, "orders"), 0);
    t_drive(client, T_SHORT_MS);
    ob_client_destroy(&state->client);
    assert_null(state->client);
    /* a delivery outlives its client; its ack would need the client */
    assert_int_equal(delivery->seq, 1);
    ob_delivery_destroy(&delivery);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_durable_and_ephemeral, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_rejected_locally, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_refused_by_broker, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_receive_timeout_and_deliveries, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_ack_nack_on_the_wire, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_unsubscribe, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_interleaved_with_confirms, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_reattach_after_restart, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_reattach_ephemeral_gets_a_new_name, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_reattach_after_publishes_and_on_hello_required,
                                        t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_reattach_refused_is_reported_once, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_deleted_subscription_is_reported_once, t_setup,
                                        t_teardown),
        cmocka_unit_test_setup_teardown(test_request_ok_with_result, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_request_fetch_returns_the_event, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_range, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_range_refusals, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_request_errors, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_fd_becomes_readable_on_deliver, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_bad_deliveries_are_dropped, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_delivery_runs, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_bad_delivery_runs_are_dropped, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_timeout_then_late_answer_unsubscribes,
                                        t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_again_while_the_abandoned_answer_is_late,
                                        t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, t_setup, t_teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_everything_pending, t_setup, t_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    zsys_shutdown();
    return failed;
}
