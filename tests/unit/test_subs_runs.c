/*  test_subs_runs: the subscriptions engine (broker/subs.c) sending DELIVER runs
    (PROTOCOL.md 12.3) through a sink that stands in for the server (subs.h): consumers that
    take runs of different sizes, whose queues fill up, or whose connections go, in the
    middle of a run, and a run whose buffer cannot be allocated; and what a consumer may hold
    unread (PROTOCOL.md 12.9): its byte limit, slowness, orphaned copies. A real store in a scratch
    directory, no sockets, and a clock of the test's own, so that what is waiting is released
    exactly when the test says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <czmq.h>

#include "orderbus/orderbus.h"
#include "store.h"
#include "subs.h"

#define T_EVENTS 100  /* stored on topic "t" before the subscription, seqs 1..100 */
#define T_NOW 1000000 /* the test's clock (ms) */
#define T_PUMP 1024   /* deliveries per pump, as the server's OB_SERVER_PUMP_MAX */
#define T_TOPIC "t"
#define T_ID_FORMAT "e-%u" /* event ids: e-<seq> */

/* realloc, wrapped at link time (-Wl,--wrap=realloc, tests/unit/broker.cmake) for the code
   of this program and ob_broker_core: the next s_fail_realloc calls fail. */
void *__real_realloc(void *ptr, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
static int s_fail_realloc;

void *
__wrap_realloc(void *ptr, size_t size)
{
    if (s_fail_realloc > 0) {
        s_fail_realloc--;
        return NULL;
    }
    return __real_realloc(ptr, size);
}

/* A consumer as the sink sees it. */
typedef struct t_consumer {
    uint32_t max_run;               /* what its HELLO would have asked for (>= 1) */
    int takes;                      /* messages it takes before its queue is full; -1: any */
    int gone;                       /* 1: its connection is gone */
    int seen[T_EVENTS + 1];         /* deliveries of each seq */
    uint32_t attempt[T_EVENTS + 1]; /* attempt of the last delivery of each seq */
    size_t messages;                /* DELIVERs taken */
    size_t largest;                 /* most events in one of them */
} t_consumer_t;

typedef struct t_fixture {
    char dir[64];
    ob_store_t *store;
    ob_subs_t *subs;
    char name[OB_SUB_NAME_MAX + 1]; /* the ephemeral subscription's */
} t_fixture_t;

/* subs.h sink: takes the first max_run events of a DELIVER, checking each against the store. */
static int
s_sink(void *arg, void *consumer, ob_wire_msg_t *msg, const ob_store_event_t *events, size_t count)
{
    (void)arg;
    t_consumer_t *c = consumer;
    assert_int_equal(msg->command, OB_CMD_DELIVER);
    assert_true(count >= 1 && count <= OB_DELIVER_RUN_MAX);
    assert_int_equal(msg->count, count);
    if (c->gone)
        return OB_SUBS_GONE;
    if (c->takes == 0)
        return OB_SUBS_FULL;
    if (c->takes > 0)
        c->takes--;
    if (count > c->max_run)
        count = c->max_run;
    msg->count = (uint32_t)count;
    assert_int_equal(msg->time, events[0].time_us);
    for (size_t i = 0; i < count; i++) {
        uint64_t seq = msg->seq + i;
        assert_true(seq >= 1 && seq <= T_EVENTS);
        assert_int_equal(events[i].seq, seq);
        assert_int_equal(msg->times[i], events[i].time_us);
        ob_event_envelope_t env;
        assert_int_equal(ob_event_peek(events[i].event, events[i].event_len, &env), 0);
        char id[32];
        snprintf(id, sizeof id, T_ID_FORMAT, (unsigned)seq);
        assert_int_equal(env.id_len, strlen(id));
        assert_memory_equal(env.id, id, env.id_len);
        c->seen[seq]++;
        c->attempt[seq] = msg->attempt;
    }
    c->messages++;
    c->largest = count > c->largest ? count : c->largest;
    return (int)count;
}

static void
s_gone(void *arg, void *consumer, const char *sub)
{
    (void)arg, (void)consumer, (void)sub;
    fail_msg("no subscription is deleted here");
}

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test-subs-runs-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(ob_store_open(fx->dir, OB_MAP_SIZE_DEFAULT, &fx->store), 0);
    static uint8_t *bufs[T_EVENTS];
    static char ids[T_EVENTS][32];
    ob_store_item_t items[T_EVENTS];
    memset(items, 0, sizeof items);
    for (unsigned i = 0; i < T_EVENTS; i++) {
        snprintf(ids[i], sizeof ids[i], T_ID_FORMAT, i + 1);
        ob_event_t ev = {.id = ids[i],
                         .topic = T_TOPIC,
                         .type = "project_item.created",
                         .time_us = 1700000000000000ull,
                         .source = "test"};
        size_t len = 0;
        assert_int_equal(ob_event_encode(&ev, &bufs[i], &len), 0);
        items[i] = (ob_store_item_t){.topic = T_TOPIC,
                                     .topic_len = strlen(T_TOPIC),
                                     .event_id = ids[i],
                                     .event_id_len = strlen(ids[i]),
                                     .event = bufs[i],
                                     .event_len = len,
                                     .time_us = 1700000000000000ull + i};
    }
    assert_int_equal(ob_store_append(fx->store, items, T_EVENTS), 0);
    for (unsigned i = 0; i < T_EVENTS; i++) {
        assert_int_equal(items[i].seq, i + 1);
        free(bufs[i]);
    }
    assert_int_equal(ob_subs_new(fx->store, s_sink, s_gone, NULL, &fx->subs), 0);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    ob_subs_destroy(&fx->subs);
    ob_store_close(&fx->store);
    zdir_t *dir = zdir_new(fx->dir, NULL);
    if (dir)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
    free(fx);
    return 0;
}

/* Subscribes a (ephemeral, from the first event, with credit and ack_wait_ms, 0: the
   defaults; backoff 0), then attaches b. */
static void
s_subscribe_with(t_fixture_t *fx, t_consumer_t *a, t_consumer_t *b, uint32_t credit,
                 uint32_t ack_wait_ms)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = 1;
    msg->pattern_count = 1;
    snprintf(msg->patterns[0], sizeof msg->patterns[0], T_TOPIC);
    msg->start = OB_START_EARLIEST;
    msg->credit = credit;
    msg->ack_wait_ms = ack_wait_ms;
    msg->backoff_ms = 0; /* an unacked copy is ready again at once */
    msg->max_attempts = 0;
    int created = 0, defer = 1;
    assert_int_equal(ob_subs_subscribe(fx->subs, a, NULL, msg, fx->name, &created, &defer), 0);
    assert_true(created);
    assert_false(defer); /* ephemeral: attached at once */
    free(msg);
    if (b)
        assert_int_equal(ob_subs_attach(fx->subs, b, fx->name), 0);
}

/* The same with credit 1000 and ack_wait_ms 30 s. */
static void
s_subscribe(t_fixture_t *fx, t_consumer_t *a, t_consumer_t *b)
{
    s_subscribe_with(fx, a, b, 0, 0);
}

/* ACK (or NACK if nack) of seq from consumer c. */
static void
s_ack(t_fixture_t *fx, t_consumer_t *c, uint64_t seq, int nack)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, nack ? OB_CMD_NACK : OB_CMD_ACK);
    snprintf(msg->sub, sizeof msg->sub, "%s", fx->name);
    snprintf(msg->topic, sizeof msg->topic, T_TOPIC);
    msg->seq = seq;
    if (nack)
        ob_subs_nack(fx->subs, c, msg);
    else
        ob_subs_ack(fx->subs, c, msg);
    free(msg);
}

/* Pumps at now until nothing is left to deliver. */
static void
s_pump_all(t_fixture_t *fx, int64_t now)
{
    for (int turns = 0; ob_subs_busy(fx->subs); turns++) {
        assert_true(turns < 100);
        ob_subs_pump(fx->subs, T_PUMP, now);
    }
}

/* Each consumer gets runs of at most what it takes: 1 for a (a client that asked for no
   runs), 64 for b; together they get every event once, at attempt 1, in full runs. */
static void
test_run_sizes(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 1, .takes = -1}, b = {.max_run = 64, .takes = -1};
    s_subscribe(fx, &a, &b);
    s_pump_all(fx, T_NOW);
    for (int seq = 1; seq <= T_EVENTS; seq++) {
        assert_int_equal(a.seen[seq] + b.seen[seq], 1);
        assert_int_equal(a.attempt[seq] + b.attempt[seq], 1);
    }
    assert_int_equal(a.largest, 1);
    assert_true(b.largest > 1 && b.largest <= 64);
    assert_true(a.messages + b.messages < T_EVENTS / 2); /* b's runs carry most */
    ob_subs_stats_t stats;
    ob_subs_stats(fx->subs, &stats);
    assert_int_equal(stats.delivered, T_EVENTS);
    assert_int_equal(stats.redelivered, 0);
}

/* a takes one run of 8 and is then full, b is full from the start: the rest of what was read
   waits, holding its credit, and nothing counts as delivered; once the retry time has
   passed and both take again, every event arrives exactly once, still attempt 1. */
static void
test_full_in_a_run(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 8, .takes = 1}, b = {.max_run = 8, .takes = 0};
    s_subscribe(fx, &a, &b);
    s_pump_all(fx, T_NOW);
    assert_int_equal(a.messages, 1);
    assert_int_equal(b.messages, 0);
    for (int seq = 1; seq <= T_EVENTS; seq++)
        assert_int_equal(a.seen[seq], seq <= 8);
    ob_subs_stats_t stats;
    ob_subs_stats(fx->subs, &stats);
    assert_int_equal(stats.delivered, 8);

    a.takes = b.takes = -1;
    ob_subs_tick(fx->subs, T_NOW + OB_SUBS_FULL_RETRY_MS - 1);
    assert_false(ob_subs_busy(fx->subs)); /* not yet */
    ob_subs_tick(fx->subs, T_NOW + OB_SUBS_FULL_RETRY_MS);
    s_pump_all(fx, T_NOW + OB_SUBS_FULL_RETRY_MS);
    for (int seq = 1; seq <= T_EVENTS; seq++) {
        assert_int_equal(a.seen[seq] + b.seen[seq], 1);
        assert_int_equal(a.attempt[seq] + b.attempt[seq], 1);
    }
    ob_subs_stats(fx->subs, &stats);
    assert_int_equal(stats.delivered, T_EVENTS);
    assert_int_equal(stats.redelivered, 0);
}

/* a's connection goes after its first run of 4: the next run it was offered goes to b, and
   a's 4 pending deliveries go to b again, attempt 2; nothing else is delivered twice. */
static void
test_gone_in_a_run(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 4, .takes = -1}, b = {.max_run = 16, .takes = -1};
    s_subscribe(fx, &a, &b);
    ob_subs_pump(fx->subs, 4, T_NOW); /* a budget of 4: one run of 4, to a (attached first) */
    assert_int_equal(a.messages, 1);
    assert_int_equal(a.largest, 4);
    a.gone = 1;
    s_pump_all(fx, T_NOW);
    for (int seq = 1; seq <= T_EVENTS; seq++) {
        if (seq <= 4) {
            assert_int_equal(a.seen[seq], 1);
            assert_int_equal(b.seen[seq], 1);
            assert_int_equal(b.attempt[seq], 2);
        } else {
            assert_int_equal(a.seen[seq], 0);
            assert_int_equal(b.seen[seq], 1);
            assert_int_equal(b.attempt[seq], 1);
        }
    }
    ob_subs_stats_t stats;
    ob_subs_stats(fx->subs, &stats);
    assert_int_equal(stats.delivered, T_EVENTS + 4);
    assert_int_equal(stats.redelivered, 4);
}

/* The run's buffer cannot be allocated: the event that needed it goes alone, at once, and
   the runs after it are whole again; every event arrives once, in order. */
static void
test_no_memory_for_a_run(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 64, .takes = -1};
    s_subscribe(fx, &a, NULL);
    s_fail_realloc = 1; /* during the pump, only the run's buffer is allocated */
    s_pump_all(fx, T_NOW);
    assert_int_equal(s_fail_realloc, 0);
    for (int seq = 1; seq <= T_EVENTS; seq++) {
        assert_int_equal(a.seen[seq], 1);
        assert_int_equal(a.attempt[seq], 1);
    }
    assert_true(a.largest > 1);
    assert_true(a.messages >= 3); /* the first alone, then runs of at most 64 */
}

/* max_unread_bytes: a consumer is sent DELIVERs while what it has not shown it took is
   below the limit (3 DELIVERs' cost here: it gets 3), and an ACK shows it took every DELIVER
   up to the acked one's: 2 of them, so it gets 2 more. */
static void
test_unread_limit(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 1, .takes = -1};
    ob_subs_set_max_unread(fx->subs, 3 * OB_SUBS_DELIVER_COST);
    s_subscribe(fx, &a, NULL);
    s_pump_all(fx, T_NOW);
    assert_int_equal(a.messages, 3);
    ob_subs_ping(fx->subs, &a); /* alive, but a PING shows nothing read */
    s_pump_all(fx, T_NOW);
    assert_int_equal(a.messages, 3);
    s_ack(fx, &a, 2, 0);
    s_pump_all(fx, T_NOW);
    assert_int_equal(a.messages, 5);
    for (int seq = 1; seq <= 5; seq++)
        assert_int_equal(a.seen[seq], 1);
    assert_int_equal(a.seen[6], 0);
}

/* A copy whose ack deadline passes before its consumer sent anything after it makes the
   consumer slow: nothing is redelivered to it, the other consumer gets the copies, and
   only once it speaks (a PING) is it sent anything again. */
static void
test_slow_consumer(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 64, .takes = -1}, b = {.max_run = 64, .takes = -1};
    s_subscribe_with(fx, &a, NULL, 10, OB_ACK_WAIT_MS_MIN);
    s_pump_all(fx, T_NOW);
    for (int seq = 1; seq <= 10; seq++)
        assert_int_equal(a.seen[seq], 1);
    int64_t later = T_NOW + OB_ACK_WAIT_MS_MIN + 1;
    ob_subs_tick(fx->subs, later);
    s_pump_all(fx, later);
    assert_int_equal(a.seen[1], 1); /* slow: not again, though it is the only consumer */
    assert_int_equal(ob_subs_attach(fx->subs, &b, fx->name), 0);
    s_pump_all(fx, later);
    for (int seq = 1; seq <= 10; seq++) {
        assert_int_equal(a.seen[seq], 1);
        assert_int_equal(b.attempt[seq], 2);
    }
    /* b's copies time out too, b is slow as well; a speaks and gets them */
    int64_t last = later + OB_ACK_WAIT_MS_MIN + 1;
    ob_subs_tick(fx->subs, last);
    s_pump_all(fx, last);
    assert_int_equal(a.seen[1], 1);
    ob_subs_ping(fx->subs, &a);
    s_pump_all(fx, last);
    for (int seq = 1; seq <= 10; seq++)
        assert_int_equal(a.attempt[seq], 3);
    assert_int_equal(b.seen[11], 0);
}

/* Copies taken from a consumer unread (here acked by another) are orphans: the consumer's
   later ACK of one of them still shows what it read, so it is not stuck at its limit. */
static void
test_orphan_ack(void **state)
{
    t_fixture_t *fx = *state;
    static t_consumer_t a = {.max_run = 1, .takes = -1}, b = {.max_run = 1, .takes = -1};
    ob_subs_set_max_unread(fx->subs, 3 * OB_SUBS_DELIVER_COST);
    s_subscribe_with(fx, &a, NULL, 3, OB_ACK_WAIT_MS_MIN);
    s_pump_all(fx, T_NOW);
    assert_int_equal(a.messages, 3); /* at its limit, and its credit */
    int64_t later = T_NOW + OB_ACK_WAIT_MS_MIN + 1;
    ob_subs_tick(fx->subs, later);
    assert_int_equal(ob_subs_attach(fx->subs, &b, fx->name), 0);
    s_pump_all(fx, later);
    for (int seq = 1; seq <= 3; seq++) {
        assert_int_equal(b.attempt[seq], 2);
        s_ack(fx, &b, (uint64_t)seq, 0);
    }
    s_pump_all(fx, later);
    assert_int_equal(b.messages, 6); /* 4..6: a is slow and at its limit */
    assert_int_equal(a.messages, 3);
    s_ack(fx, &a, 1, 0); /* acked by b already: an orphan, and a speaks */
    int64_t last = later + OB_ACK_WAIT_MS_MIN + 1;
    ob_subs_tick(fx->subs, last); /* b sent nothing since 4..6: slow */
    s_pump_all(fx, last);
    for (int seq = 4; seq <= 6; seq++)
        assert_int_equal(a.attempt[seq], 2);
    assert_int_equal(a.messages, 6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_run_sizes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_full_in_a_run, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_gone_in_a_run, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_memory_for_a_run, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unread_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_consumer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_orphan_ack, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
