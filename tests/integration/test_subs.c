/*  test_subs: durable subscriptions (proto/PROTOCOL.md section 12 and 13) against the broker's
    server actor in-process, spoken to by raw protocol peers (peer.h), so that every field of
    every DELIVER can be checked: start positions, type filters, credit, acks, NACK delays,
    ack timeouts with backoff, dead letters, competing consumers, session expiry, restart,
    retention, deletion, repositioning, ephemeral subscriptions, DELIVER runs and the admin
    commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>

#include "orderbus/orderbus.h"
#include "peer.h"

#define T_QUIET_MS 200 /* how long "nothing more arrives" is watched */

/* What a test subscribes with; zero fields take the protocol defaults. */
typedef struct t_sub {
    const char *name;
    const char *patterns[4];
    const char *types[4];
    ob_start_t start;
    uint64_t start_seq, start_time;
    uint32_t credit, ack_wait_ms, max_attempts, backoff_ms;
    int attach; /* attach only, never create (12.2) */
} t_sub_t;

static ob_wire_msg_t *
s_msg(int command, uint64_t req)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    msg->command = (uint8_t)command;
    msg->req = req;
    return msg;
}

/* Sends SUBSCRIBE; returns the request id. */
static uint64_t
s_send_subscribe(t_broker_t *fx, zsock_t *peer, const t_sub_t *sub)
{
    uint64_t req = fx->next_req++;
    ob_wire_msg_t *msg = s_msg(OB_CMD_SUBSCRIBE, req);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub->name ? sub->name : "");
    for (size_t i = 0; i < 4 && sub->patterns[i]; i++)
        snprintf(msg->patterns[msg->pattern_count++], sizeof msg->patterns[0], "%s",
                 sub->patterns[i]);
    for (size_t i = 0; i < 4 && sub->types[i]; i++)
        snprintf(msg->types[msg->type_count++], sizeof msg->types[0], "%s", sub->types[i]);
    msg->start = sub->start;
    msg->start_seq = sub->start_seq;
    msg->start_time = sub->start_time;
    msg->credit = sub->credit ? sub->credit : OB_CREDIT_DEFAULT;
    msg->ack_wait_ms = sub->ack_wait_ms ? sub->ack_wait_ms : OB_ACK_WAIT_MS_DEFAULT;
    msg->max_attempts = sub->max_attempts;
    msg->backoff_ms = sub->backoff_ms;
    msg->attach = sub->attach;
    t_send(peer, msg, NULL, 0);
    free(msg);
    return req;
}

/* Subscribes and checks SUBSCRIBED; returns created; the name goes to ret_name if given. */
static int
s_subscribe(t_broker_t *fx, zsock_t *peer, const t_sub_t *sub, char *ret_name)
{
    uint64_t req = s_send_subscribe(fx, peer, sub);
    t_msg_t reply;
    t_expect(peer, OB_CMD_SUBSCRIBED, &reply);
    assert_int_equal(reply.wire.req, req);
    if (sub->name && sub->name[0])
        assert_string_equal(reply.wire.sub, sub->name);
    if (ret_name)
        strcpy(ret_name, reply.wire.sub);
    int created = reply.wire.created;
    t_msg_clear(&reply);
    return created;
}

/* Waits for a DELIVER and checks its sub, topic and seq (0: any); returns it. */
static void
s_deliver(zsock_t *peer, const char *sub, const char *topic, uint64_t seq, t_msg_t *ret)
{
    t_expect(peer, OB_CMD_DELIVER, ret);
    if (sub)
        assert_string_equal(ret->wire.sub, sub);
    if (topic)
        assert_string_equal(ret->wire.topic, topic);
    if (seq && ret->wire.seq != seq)
        fail_msg("DELIVER of seq %" PRIu64 ", expected %" PRIu64, ret->wire.seq, seq);
    assert_true(ret->wire.attempt >= 1);
    assert_non_null(ret->event);
}

/* Receives a DELIVER and returns its seq and attempt. */
static uint64_t
s_next(zsock_t *peer, const char *sub, uint32_t *ret_attempt)
{
    t_msg_t msg;
    s_deliver(peer, sub, NULL, 0, &msg);
    uint64_t seq = msg.wire.seq;
    if (ret_attempt)
        *ret_attempt = msg.wire.attempt;
    t_msg_clear(&msg);
    return seq;
}

/* PING, and its PONG: a consumer that sends nothing after a delivery is slow once its ack
   deadline passes, and is not sent it again until it does (PROTOCOL.md 12.9). */
static void
s_ping(zsock_t *peer)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_PING, 0);
    t_send(peer, msg, NULL, 0);
    free(msg);
    t_msg_t pong;
    t_expect(peer, OB_CMD_PONG, &pong);
    t_msg_clear(&pong);
}

static void
s_ack(zsock_t *peer, const char *sub, const char *topic, uint64_t seq, int upto)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_ACK, 0);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    snprintf(msg->topic, sizeof msg->topic, "%s", topic);
    msg->seq = seq;
    msg->upto = upto;
    t_send(peer, msg, NULL, 0);
    free(msg);
}

static void
s_nack(zsock_t *peer, const char *sub, const char *topic, uint64_t seq, uint32_t delay_ms)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_NACK, 0);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    snprintf(msg->topic, sizeof msg->topic, "%s", topic);
    msg->seq = seq;
    msg->delay_ms = delay_ms;
    t_send(peer, msg, NULL, 0);
    free(msg);
}

/* Sends UNSUBSCRIBE of sub from peer and waits for its OK; returns the request (the
   caller's to free), for a test that sends it again. */
static ob_wire_msg_t *
s_unsubscribe(t_broker_t *fx, zsock_t *peer, const char *sub)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_UNSUBSCRIBE, fx->next_req++);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    t_send(peer, msg, NULL, 0);
    t_msg_t ok;
    t_expect(peer, OB_CMD_OK, &ok);
    assert_int_equal(ok.wire.req, msg->req);
    t_msg_clear(&ok);
    return msg;
}

/* An OK and its result unpacked (whose strings point into the reply). */
typedef struct t_result {
    t_msg_t reply;
    msgpack_unpacked data; /* data.data is the result */
} t_result_t;

static void
s_result_clear(t_result_t *result)
{
    msgpack_unpacked_destroy(&result->data);
    t_msg_clear(&result->reply);
}

/* Sends an admin request (its req is set here) and waits for its OK, unpacking the
   result (if any) into *ret; the caller clears it with s_result_clear. */
static void
s_admin(t_broker_t *fx, zsock_t *peer, ob_wire_msg_t *request, t_result_t *ret)
{
    request->req = fx->next_req++;
    t_send(peer, request, NULL, 0);
    t_expect(peer, OB_CMD_OK, &ret->reply);
    assert_int_equal(ret->reply.wire.req, request->req);
    msgpack_unpacked_init(&ret->data);
    if (ret->reply.wire.result)
        assert_int_equal(msgpack_unpack_next(&ret->data, (const char *)ret->reply.wire.result,
                                             ret->reply.wire.result_len, NULL),
                         MSGPACK_UNPACK_SUCCESS);
}

/* The value of key in map (NULL if absent). */
static const msgpack_object *
s_get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            !memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size))
            return &kv->val;
    }
    return NULL;
}

static uint64_t
s_uint(const msgpack_object *map, const char *key)
{
    const msgpack_object *value = s_get(map, key);
    if (!value)
        fail_msg("no key %s", key);
    assert_int_equal(value->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return value->via.u64;
}

/* SUB_INFO of sub into *ret (the caller clears it). */
static void
s_info(t_broker_t *fx, zsock_t *admin, const char *sub, t_result_t *ret)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_SUB_INFO, 0);
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    s_admin(fx, admin, msg, ret);
    free(msg);
}

/* The ack floor of sub on topic, from SUB_INFO. */
static uint64_t
s_floor(t_broker_t *fx, zsock_t *admin, const char *sub, const char *topic)
{
    t_result_t info;
    s_info(fx, admin, sub, &info);
    const msgpack_object *positions = s_get(&info.data.data, "positions");
    assert_non_null(positions);
    uint64_t floor = UINT64_MAX;
    for (uint32_t i = 0; i < positions->via.array.size; i++) {
        const msgpack_object *t = s_get(&positions->via.array.ptr[i], "topic");
        if (t->via.str.size == strlen(topic) && !memcmp(t->via.str.ptr, topic, strlen(topic)))
            floor = s_uint(&positions->via.array.ptr[i], "ack_floor");
    }
    s_result_clear(&info);
    assert_true(floor != UINT64_MAX);
    return floor;
}

static uint64_t
s_info_uint(t_broker_t *fx, zsock_t *admin, const char *sub, const char *key)
{
    t_result_t info;
    s_info(fx, admin, sub, &info);
    uint64_t value = s_uint(&info.data.data, key);
    s_result_clear(&info);
    return value;
}

/* Publishes count events with ids prefix-N to topic; returns the first seq. */
static uint64_t
s_publish_n(t_broker_t *fx, zsock_t *pub, const char *topic, const char *prefix, int count)
{
    uint64_t first = 0;
    for (int i = 0; i < count; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        uint64_t seq = t_publish(fx, pub, topic, id, NULL);
        if (i == 0)
            first = seq;
    }
    return first;
}

static int
s_setup(void **state)
{
    *state = t_broker_new("test-subs", NULL);
    return 0;
}

static int
s_teardown(void **state)
{
    t_broker_t *fx = *state;
    t_broker_destroy(&fx);
    return 0;
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_deliver_and_ack(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "s1", .patterns = {"oms.*"}};
    assert_int_equal(s_subscribe(fx, sub, &s, NULL), 1);
    assert_int_equal(s_subscribe(fx, sub, &s, NULL), 0); /* again: attached already */

    uint8_t *event = NULL;
    size_t len = 0;
    t_event("oms.1", "e-0", NULL, 16, &event, &len);
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "e-%d", i);
        assert_int_equal(t_publish(fx, pub, "oms.1", id, NULL), (uint64_t)i + 1);
    }
    t_publish(fx, pub, "other.1", "x-0", NULL); /* not matched */
    for (uint64_t seq = 1; seq <= 3; seq++) {
        t_msg_t d;
        s_deliver(sub, "s1", "oms.1", seq, &d);
        assert_int_equal(d.wire.attempt, 1);
        assert_true(d.wire.time > 0);
        assert_int_equal(d.wire.skipped, 0);
        if (seq == 1) { /* the stored event, byte for byte */
            assert_int_equal(d.event_len, len);
            assert_memory_equal(d.event, event, len);
        }
        t_msg_clear(&d);
    }
    t_expect_silence(sub, T_QUIET_MS);
    assert_int_equal(s_info_uint(fx, pub, "s1", "pending"), 3);
    s_ack(sub, "s1", "oms.1", 1, 0);
    s_ack(sub, "s1", "oms.1", 3, 1); /* cumulative: 2 and 3 */
    assert_int_equal(s_floor(fx, sub, "s1", "oms.1"), 3);
    assert_int_equal(s_info_uint(fx, pub, "s1", "pending"), 0);
    assert_int_equal(s_info_uint(fx, pub, "s1", "lag"), 0);
    /* a cumulative ack over a span wider than what is pending (5 and 6 acked already) */
    s_publish_n(fx, pub, "oms.1", "more", 4);
    for (uint64_t seq = 4; seq <= 7; seq++)
        assert_int_equal(s_next(sub, "s1", NULL), seq);
    s_ack(sub, "s1", "oms.1", 5, 0);
    s_ack(sub, "s1", "oms.1", 6, 0);
    assert_int_equal(s_floor(fx, sub, "s1", "oms.1"), 3);
    s_ack(sub, "s1", "oms.1", 7, 1);
    assert_int_equal(s_floor(fx, sub, "s1", "oms.1"), 7);
    free(event);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

static void
test_start_positions(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    s_publish_n(fx, pub, "oms.1", "p", 5);

    /* the stored time of seq 3, by FETCH */
    ob_wire_msg_t *fetch = s_msg(OB_CMD_FETCH, 0);
    snprintf(fetch->topic, sizeof fetch->topic, "oms.1");
    fetch->seq = 3;
    t_result_t result;
    s_admin(fx, pub, fetch, &result);
    uint64_t time3 = s_uint(&result.data.data, "time");
    assert_int_equal(s_uint(&result.data.data, "seq"), 3);
    assert_non_null(result.reply.event);
    s_result_clear(&result);
    free(fetch);

    struct {
        t_sub_t sub;
        uint64_t first; /* first seq delivered; 6 for "new" (published below) */
    } cases[] = {
        {{.name = "earliest", .patterns = {"oms.1"}, .start = OB_START_EARLIEST}, 1},
        {{.name = "seq4", .patterns = {"oms.1"}, .start = OB_START_SEQ, .start_seq = 4}, 4},
        {{.name = "time3", .patterns = {"oms.1"}, .start = OB_START_TIME, .start_time = time3}, 3},
        {{.name = "new", .patterns = {"oms.1"}, .start = OB_START_NEW}, 6},
    };
    zsock_t *subs[4];
    for (size_t i = 0; i < 4; i++) {
        subs[i] = t_peer(fx, 0); /* one each: SUBSCRIBED and DELIVERs would interleave */
        assert_int_equal(s_subscribe(fx, subs[i], &cases[i].sub, NULL), 1);
    }
    t_publish(fx, pub, "oms.1", "p-5", NULL);
    for (size_t i = 0; i < 4; i++) {
        for (uint64_t seq = cases[i].first; seq <= 6; seq++)
            assert_int_equal(s_next(subs[i], cases[i].sub.name, NULL), seq);
        t_expect_silence(subs[i], i == 0 ? T_QUIET_MS : 0);
        zsock_destroy(&subs[i]);
    }
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

static void
test_types_filter(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "typed", .patterns = {"oms.>"}, .types = {"a"}};
    s_subscribe(fx, sub, &s, NULL);
    t_publish(fx, pub, "oms.1.x", "t-1", "a");
    t_publish(fx, pub, "oms.1.x", "t-2", "b");
    t_publish(fx, pub, "oms.1.x", "t-3", "a");
    assert_int_equal(s_next(sub, "typed", NULL), 1);
    assert_int_equal(s_next(sub, "typed", NULL), 3);
    t_expect_silence(sub, T_QUIET_MS);
    s_ack(sub, "typed", "oms.1.x", 1, 0);
    s_ack(sub, "typed", "oms.1.x", 3, 0);
    assert_int_equal(s_floor(fx, sub, "typed", "oms.1.x"), 3); /* 2 is done unseen */
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

static void
test_credit(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "credit", .patterns = {"oms.1"}, .credit = 2};
    s_subscribe(fx, sub, &s, NULL);
    s_publish_n(fx, pub, "oms.1", "c", 5);
    assert_int_equal(s_next(sub, "credit", NULL), 1);
    assert_int_equal(s_next(sub, "credit", NULL), 2);
    t_expect_silence(sub, T_QUIET_MS);
    s_ack(sub, "credit", "oms.1", 1, 0);
    assert_int_equal(s_next(sub, "credit", NULL), 3);
    t_expect_silence(sub, T_QUIET_MS);
    /* a NACKed event still holds its credit until it is done */
    s_nack(sub, "credit", "oms.1", 2, 60000);
    t_expect_silence(sub, T_QUIET_MS);
    s_ack(sub, "credit", "oms.1", 3, 0);
    assert_int_equal(s_next(sub, "credit", NULL), 4);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

static void
test_nack_and_ack_timeout(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "redo",
                 .patterns = {"oms.1"},
                 .ack_wait_ms = 200,
                 .backoff_ms = 100,
                 .max_attempts = 0 /* unlimited */};
    s_subscribe(fx, sub, &s, NULL);
    t_publish(fx, pub, "oms.1", "r-1", NULL);
    uint32_t attempt = 0;
    assert_int_equal(s_next(sub, "redo", &attempt), 1);
    assert_int_equal(attempt, 1);
    s_nack(sub, "redo", "oms.1", 1, 0); /* at once */
    assert_int_equal(s_next(sub, "redo", &attempt), 1);
    assert_int_equal(attempt, 2);
    int64_t nacked = zclock_mono();
    s_nack(sub, "redo", "oms.1", 1, 300);
    assert_int_equal(s_next(sub, "redo", &attempt), 1);
    assert_int_equal(attempt, 3);
    assert_true(zclock_mono() - nacked >= 300);
    /* no ack: after ack_wait_ms (200), then backoff D(4) = 100 * 2^2 = 400 ms, counted from
       when the broker sent attempt 3, which the test only knows was at least 300 ms after
       `nacked` (a clock read on receipt would be late by the delivery's own latency); the
       PING shows the consumer alive since the copy went, so the copy comes to it again */
    s_ping(sub);
    assert_int_equal(s_next(sub, "redo", &attempt), 1);
    assert_int_equal(attempt, 4);
    assert_true(zclock_mono() - nacked >= 300 + 600);
    s_ack(sub, "redo", "oms.1", 1, 0);
    assert_int_equal(s_info_uint(fx, pub, "redo", "redelivered"), 3);
    t_expect_silence(sub, T_QUIET_MS);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

/* The after-value of change field in a decoded event (NULL if absent). */
static const char *
s_change(const ob_event_t *event, const char *field)
{
    for (size_t i = 0; i < event->changes_count; i++)
        if (!strcmp(event->changes[i].field, field))
            return event->changes[i].after;
    return NULL;
}

static void
test_dead_letter(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0), *watch = t_peer(fx, 0);
    t_sub_t dl = {.name = "dl-watch", .patterns = {"dlq.fail"}};
    s_subscribe(fx, watch, &dl, NULL);
    t_sub_t s = {.name = "fail", .patterns = {"oms.>"}, .ack_wait_ms = 100, .max_attempts = 2};
    s_subscribe(fx, sub, &s, NULL);
    t_publish(fx, pub, "oms.9", "poison", NULL);
    t_msg_t first;
    s_deliver(sub, "fail", "oms.9", 1, &first);
    s_ping(sub); /* alive, not acking: redelivered to it */
    uint32_t attempt = 0;
    assert_int_equal(s_next(sub, "fail", &attempt), 1); /* timed out once */
    assert_int_equal(attempt, 2);
    s_ping(sub);
    /* timed out again: max_attempts reached, dead-lettered */
    t_msg_t letter;
    s_deliver(watch, "dl-watch", "dlq.fail", 1, &letter);
    ob_event_t *event = NULL;
    assert_int_equal(ob_event_decode(letter.event, letter.event_len, &event), 0);
    assert_string_equal(event->type, "dead_letter");
    assert_string_equal(event->topic, "dlq.fail");
    assert_string_equal(event->source, "orderbus-broker");
    assert_string_equal(s_change(event, "reason"), "max_attempts");
    assert_string_equal(s_change(event, "attempts"), "2");
    assert_string_equal(s_change(event, "subscription"), "fail");
    assert_string_equal(s_change(event, "topic"), "oms.9");
    assert_string_equal(s_change(event, "seq"), "1");
    assert_string_equal(s_change(event, "id"), "poison");
    assert_string_equal(s_change(event, "type"), "project_item.created");
    /* those seven changes, none with an old value: `before` nil (PROTOCOL.md 12.6) */
    assert_int_equal(event->changes_count, 7);
    for (size_t i = 0; i < event->changes_count; i++)
        assert_null(event->changes[i].before);
    assert_int_equal(event->data_len, first.event_len); /* the original, byte for byte */
    assert_memory_equal(event->data, first.event, first.event_len);
    ob_event_destroy(&event);
    t_msg_clear(&letter);
    t_msg_clear(&first);
    /* the subscription moved on */
    assert_int_equal(s_floor(fx, pub, "fail", "oms.9"), 1);
    assert_int_equal(s_info_uint(fx, pub, "fail", "dead_lettered"), 1);
    t_publish(fx, pub, "oms.9", "fine", NULL);
    assert_int_equal(s_next(sub, "fail", NULL), 2);
    /* nobody publishes to a dead-letter topic */
    uint8_t *buf = NULL;
    size_t len = 0;
    t_event("dlq.fail", "forged", NULL, 4, &buf, &len);
    ob_wire_msg_t *msg = s_msg(OB_CMD_PUBLISH, fx->next_req++);
    t_send(pub, msg, buf, len);
    t_expect_error(pub, msg->req, OB_ERR_FORBIDDEN);
    free(msg);
    free(buf);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    zsock_destroy(&watch);
}

static void
test_competing_consumers(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *a = t_peer(fx, 0), *b = t_peer(fx, 0);
    t_sub_t s = {.name = "shared", .patterns = {"oms.1"}};
    assert_int_equal(s_subscribe(fx, a, &s, NULL), 1);
    assert_int_equal(s_subscribe(fx, b, &s, NULL), 0);
    s_publish_n(fx, pub, "oms.1", "cc", 10);
    int seen[11] = {0}, of_a[11] = {0};
    for (int i = 0; i < 5; i++) {
        uint64_t seq = s_next(a, "shared", NULL);
        seen[seq]++;
        of_a[seq] = 1;
        seen[s_next(b, "shared", NULL)]++;
    }
    for (int seq = 1; seq <= 10; seq++)
        assert_int_equal(seen[seq], 1);
    t_expect_silence(a, T_QUIET_MS);
    /* a leaves without acking: its five go to b, attempt 2 */
    ob_wire_msg_t *msg = s_unsubscribe(fx, a, "shared");
    t_send(a, msg, NULL, 0); /* not attached any more */
    t_expect_error(a, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION);
    free(msg);
    for (int i = 0; i < 5; i++) {
        uint32_t attempt = 0;
        uint64_t seq = s_next(b, "shared", &attempt);
        assert_int_equal(attempt, 2);
        assert_true(of_a[seq]);
        seen[seq]++;
    }
    for (int seq = 1; seq <= 10; seq++)
        assert_int_equal(seen[seq], 1 + of_a[seq]);
    s_ack(b, "shared", "oms.1", 10, 1);
    /* asked on b's connection: messages of one connection are handled in order */
    assert_int_equal(s_floor(fx, b, "shared", "oms.1"), 10);
    zsock_destroy(&pub);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

static void
test_session_expiry_redelivers(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *gone = t_peer(fx, 100), *live = t_peer(fx, 0);
    t_sub_t s = {.name = "exp", .patterns = {"oms.1"}};
    s_subscribe(fx, gone, &s, NULL);
    s_subscribe(fx, live, &s, NULL);
    s_publish_n(fx, pub, "oms.1", "x", 4);
    /* `gone` never reads nor pings again: after 3 x 100 ms its deliveries move to `live` */
    int seen[5] = {0};
    for (int i = 0; i < 4; i++) {
        uint32_t attempt = 0;
        uint64_t seq = s_next(live, "exp", &attempt);
        seen[seq]++;
        s_ack(live, "exp", "oms.1", seq, 0);
    }
    for (int seq = 1; seq <= 4; seq++)
        assert_int_equal(seen[seq], 1);
    assert_int_equal(s_floor(fx, live, "exp", "oms.1"), 4);
    zsock_destroy(&pub);
    zsock_destroy(&gone);
    zsock_destroy(&live);
}

static void
test_disconnected_consumer(void **state)
{
    t_broker_t *fx = *state;
    /* `gone` asks for a 60 s heartbeat: its session would expire only after 3 minutes */
    zsock_t *pub = t_peer(fx, 0), *gone = t_peer(fx, 60000), *live = t_peer(fx, 0);
    t_sub_t s = {.name = "disc", .patterns = {"oms.1"}};
    s_subscribe(fx, gone, &s, NULL);
    s_subscribe(fx, live, &s, NULL);
    s_publish_n(fx, pub, "oms.1", "a", 2); /* one each */
    assert_int_equal(s_next(gone, "disc", NULL), 1);
    assert_int_equal(s_next(live, "disc", NULL), 2);
    zsock_destroy(&gone); /* its connection closes; the broker learns it at the next send */
    s_ack(live, "disc", "oms.1", 2, 0);
    /* The next deliveries find `gone` gone: its pending seq 1 and both new ones go to
       `live` at once, long before any timeout. The close reaches the broker's ROUTER
       asynchronously, so publish until a delivery shows it was seen. */
    uint32_t attempt = 0;
    uint64_t seq = 0;
    int seen[16] = {0};
    for (int i = 0; i < 8 && !seen[1]; i++) {
        char id[16];
        snprintf(id, sizeof id, "b-%d", i);
        t_publish(fx, pub, "oms.1", id, NULL);
        seq = s_next(live, "disc", &attempt);
        seen[seq]++;
        if (seq != 1) /* a new one: was this the turn that found `gone` gone? */
            continue;
        assert_int_equal(attempt, 2);
    }
    assert_int_equal(seen[1], 1);
    zsock_destroy(&pub);
    zsock_destroy(&live);
}

static void
test_restart_resumes_at_floor(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "durable", .patterns = {"oms.*"}};
    s_subscribe(fx, sub, &s, NULL);
    s_publish_n(fx, pub, "oms.1", "d", 6);
    for (uint64_t seq = 1; seq <= 6; seq++)
        assert_int_equal(s_next(sub, "durable", NULL), seq);
    s_ack(sub, "durable", "oms.1", 2, 1);
    s_ack(sub, "durable", "oms.1", 4, 0);
    assert_int_equal(s_floor(fx, pub, "durable", "oms.1"), 2); /* the acks are in */
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    t_broker_stop(fx);
    t_broker_start(fx, NULL);

    pub = t_peer(fx, 0);
    sub = t_peer(fx, 0);
    assert_int_equal(s_subscribe(fx, sub, &s, NULL), 0); /* it survived */
    uint64_t expect[] = {3, 5, 6};
    for (size_t i = 0; i < 3; i++) {
        uint32_t attempt = 0;
        assert_int_equal(s_next(sub, "durable", &attempt), expect[i]);
        assert_int_equal(attempt, 1); /* attempt counters are not persisted */
    }
    t_expect_silence(sub, T_QUIET_MS);
    /* a topic created after the subscription starts at its first event */
    t_publish(fx, pub, "oms.2", "new-topic", NULL);
    t_msg_t d;
    s_deliver(sub, "durable", "oms.2", 1, &d);
    t_msg_clear(&d);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

/* SUBSCRIBE with attach: a missing subscription is NO_SUCH_SUBSCRIPTION and nothing is
   created (what liborderbus sends when it re-attaches after a new session, so that one
   deleted meanwhile is not created again from its start); an existing one is attached. */
static void
test_attach_only(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0);
    s_publish_n(fx, pub, "oms.a", "a", 3);
    zsock_t *peer = t_peer(fx, 0);
    t_sub_t s = {
        .name = "attach-me", .patterns = {"oms.a"}, .start = OB_START_EARLIEST, .attach = 1};
    uint64_t req = s_send_subscribe(fx, peer, &s);
    t_expect_error(peer, req, OB_ERR_NO_SUCH_SUBSCRIPTION);
    ob_wire_msg_t *info = s_msg(OB_CMD_SUB_INFO, fx->next_req++);
    snprintf(info->sub, sizeof info->sub, "attach-me");
    t_send(peer, info, NULL, 0);
    t_expect_error(peer, info->req, OB_ERR_NO_SUCH_SUBSCRIPTION); /* not created */
    free(info);
    t_expect_silence(peer, T_QUIET_MS); /* and nothing delivered */

    s.attach = 0;
    assert_int_equal(s_subscribe(fx, peer, &s, NULL), 1);
    zsock_t *other = t_peer(fx, 0);
    s.attach = 1;
    assert_int_equal(s_subscribe(fx, other, &s, NULL), 0); /* attached, not created */
    zsock_destroy(&other);
    zsock_destroy(&peer);
    zsock_destroy(&pub);
}

static void
test_errors(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *peer = t_peer(fx, 0);
    t_sub_t s = {.name = "taken", .patterns = {"a.*"}};
    s_subscribe(fx, peer, &s, NULL);
    t_sub_t other = {.name = "taken", .patterns = {"b.*"}};
    uint64_t req = s_send_subscribe(fx, peer, &other);
    t_expect_error(peer, req, OB_ERR_SUBSCRIPTION_EXISTS);
    t_sub_t bad = {.name = "bad", .patterns = {"a.b*"}};
    req = s_send_subscribe(fx, peer, &bad);
    t_expect_error(peer, req, OB_ERR_INVALID_PATTERN);
    t_sub_t eph = {.name = "eph-0123", .patterns = {"a.*"}};
    req = s_send_subscribe(fx, peer, &eph);
    t_expect_error(peer, req, OB_ERR_INVALID_ARGUMENT);

    ob_wire_msg_t *msg = s_msg(OB_CMD_SUB_INFO, fx->next_req++);
    snprintf(msg->sub, sizeof msg->sub, "nope");
    t_send(peer, msg, NULL, 0);
    t_expect_error(peer, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION);
    free(msg);
    msg = s_msg(OB_CMD_FETCH, fx->next_req++);
    snprintf(msg->topic, sizeof msg->topic, "no.such");
    msg->seq = 1;
    t_send(peer, msg, NULL, 0);
    t_expect_error(peer, msg->req, OB_ERR_NO_SUCH_TOPIC);
    free(msg);
    t_publish(fx, peer, "a.x", "one", NULL);
    t_msg_t d;
    s_deliver(peer, "taken", "a.x", 1, &d);
    t_msg_clear(&d);
    msg = s_msg(OB_CMD_FETCH, fx->next_req++);
    snprintf(msg->topic, sizeof msg->topic, "a.x");
    msg->seq = 2;
    t_send(peer, msg, NULL, 0);
    t_expect_error(peer, msg->req, OB_ERR_INVALID_ARGUMENT);
    free(msg);
    /* acks of what is not pending are ignored silently, and change nothing */
    s_ack(peer, "nope", "a.x", 1, 0);
    s_ack(peer, "taken", "a.x", 7, 0);
    s_ack(peer, "taken", "b.x", 1, 1);
    t_expect_silence(peer, T_QUIET_MS);
    assert_int_equal(s_floor(fx, peer, "taken", "a.x"), 0);
    zsock_destroy(&peer);
}

static void
test_delete_reposition_list(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0), *admin = t_peer(fx, 0);
    t_sub_t del = {.name = "to-delete", .patterns = {"oms.1"}};
    t_sub_t pos = {.name = "to-move", .patterns = {"oms.1"}};
    s_subscribe(fx, sub, &del, NULL);
    s_subscribe(fx, sub, &pos, NULL);
    s_publish_n(fx, pub, "oms.1", "m", 3);
    for (int i = 0; i < 6; i++) {
        t_msg_t d;
        s_deliver(sub, NULL, "oms.1", 0, &d);
        s_ack(sub, d.wire.sub, "oms.1", d.wire.seq, 0);
        t_msg_clear(&d);
    }
    assert_int_equal(s_floor(fx, sub, "to-move", "oms.1"), 3);

    /* SUBS lists both, sorted */
    ob_wire_msg_t *msg = s_msg(OB_CMD_SUBS, 0);
    t_result_t list;
    s_admin(fx, admin, msg, &list);
    const msgpack_object *array = &list.data.data;
    assert_int_equal(array->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(array->via.array.size, 2);
    const msgpack_object *name = s_get(&array->via.array.ptr[0], "sub");
    assert_int_equal(name->via.str.size, strlen("to-delete"));
    assert_memory_equal(name->via.str.ptr, "to-delete", strlen("to-delete"));
    assert_int_equal(s_uint(&array->via.array.ptr[1], "consumers"), 1);
    s_result_clear(&list);
    free(msg);

    /* deletion: the consumer is told (ERROR 17 with sub, no req) */
    msg = s_msg(OB_CMD_SUB_DELETE, 0);
    snprintf(msg->sub, sizeof msg->sub, "to-delete");
    t_result_t done;
    s_admin(fx, admin, msg, &done);
    s_result_clear(&done);
    t_msg_t gone;
    t_expect(sub, OB_CMD_ERROR, &gone);
    assert_int_equal(gone.wire.code, ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION));
    assert_string_equal(gone.wire.sub, "to-delete");
    assert_int_equal(gone.wire.req, 0);
    t_msg_clear(&gone);
    msg->req = fx->next_req++;
    t_send(admin, msg, NULL, 0);
    t_expect_error(admin, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION);
    free(msg);

    /* repositioning to seq 2 delivers 2 and 3 again, as first attempts */
    msg = s_msg(OB_CMD_SUB_REPOSITION, 0);
    snprintf(msg->sub, sizeof msg->sub, "to-move");
    msg->start = OB_START_SEQ;
    msg->start_seq = 2;
    s_admin(fx, admin, msg, &done);
    s_result_clear(&done);
    free(msg);
    for (uint64_t seq = 2; seq <= 3; seq++) {
        uint32_t attempt = 0;
        assert_int_equal(s_next(sub, "to-move", &attempt), seq);
        assert_int_equal(attempt, 1);
    }
    t_expect_silence(sub, T_QUIET_MS);

    /* TOPICS */
    msg = s_msg(OB_CMD_TOPICS, 0);
    s_admin(fx, admin, msg, &list);
    array = &list.data.data;
    assert_int_equal(array->via.array.size, 1);
    assert_int_equal(s_uint(&array->via.array.ptr[0], "last_seq"), 3);
    assert_int_equal(s_uint(&array->via.array.ptr[0], "events"), 3);
    s_result_clear(&list);
    free(msg);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
    zsock_destroy(&admin);
}

static void
test_ephemeral(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.patterns = {"oms.1"}};
    char name[OB_SUB_NAME_MAX + 1];
    assert_int_equal(s_subscribe(fx, sub, &s, name), 1);
    assert_int_equal(strncmp(name, "eph-", 4), 0);
    assert_int_equal(strlen(name), 4 + 16);
    t_publish(fx, pub, "oms.1", "e", NULL);
    assert_int_equal(s_next(sub, name, NULL), 1);
    free(s_unsubscribe(fx, sub, name));
    ob_wire_msg_t *msg = s_msg(OB_CMD_SUB_INFO, fx->next_req++);
    snprintf(msg->sub, sizeof msg->sub, "%s", name);
    t_send(sub, msg, NULL, 0);
    t_expect_error(sub, msg->req, OB_ERR_NO_SUCH_SUBSCRIPTION); /* gone with its consumer */
    free(msg);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

/* TOPICS' entry for topic: its first_seq (waits until it is at least want). */
static uint64_t
s_wait_first_seq(t_broker_t *fx, zsock_t *admin, uint64_t want)
{
    int64_t deadline = zclock_mono() + T_TIMEOUT_MS;
    uint64_t first = 0;
    while (zclock_mono() < deadline) {
        ob_wire_msg_t *msg = s_msg(OB_CMD_TOPICS, 0);
        t_result_t list;
        s_admin(fx, admin, msg, &list);
        const msgpack_object *topic = &list.data.data.via.array.ptr[0];
        first = s_uint(topic, "first_seq");
        if (first >= want)
            assert_int_equal(s_uint(topic, "removed"), first - 1);
        s_result_clear(&list);
        free(msg);
        if (first >= want)
            return first;
        t_expect_silence(admin, 50); /* retention runs every second: look again shortly */
    }
    fail_msg("retention did not reach first_seq %" PRIu64 " (at %" PRIu64 ")", want, first);
    return 0;
}

static void
test_retention_skips(void **state)
{
    t_broker_t *fx = *state;
    t_broker_stop(fx);
    t_broker_start(fx, "--retention-max-events", "5", NULL);
    zsock_t *pub = t_peer(fx, 0), *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "behind", .patterns = {"oms.1"}, .credit = 1};
    s_subscribe(fx, sub, &s, NULL);
    s_publish_n(fx, pub, "oms.1", "r", 20);
    assert_int_equal(s_next(sub, "behind", NULL), 1);
    assert_int_equal(s_wait_first_seq(fx, pub, 16), 16); /* the last 5 are kept */
    s_ack(sub, "behind", "oms.1", 1, 0);
    t_msg_t d;
    s_deliver(sub, "behind", "oms.1", 16, &d);
    assert_int_equal(d.wire.skipped, 14); /* 2..15 were never delivered */
    t_msg_clear(&d);
    assert_int_equal(s_floor(fx, pub, "behind", "oms.1"), 15);
    s_ack(sub, "behind", "oms.1", 16, 0);
    assert_int_equal(s_next(sub, "behind", NULL), 17);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

/* Publishes one event of data_len bytes of data to topic and waits for its CONFIRM. */
static void
s_publish_big(t_broker_t *fx, zsock_t *pub, const char *topic, const char *id, size_t data_len)
{
    uint8_t *event = NULL;
    size_t len = 0;
    t_event(topic, id, NULL, data_len, &event, &len);
    ob_wire_msg_t *msg = s_msg(OB_CMD_PUBLISH, fx->next_req++);
    t_send(pub, msg, event, len);
    t_msg_t reply;
    t_expect(pub, OB_CMD_CONFIRM, &reply);
    assert_int_equal(reply.wire.req, msg->req);
    t_msg_clear(&reply);
    free(msg);
    free(event);
}

/* Asserts that fetch holds count events from seq, their ids prefix-<first_id + i>, with
   stored times that never decrease. */
static void
s_assert_range(const ob_fetch_t *fetch, uint64_t seq, size_t count, const char *prefix,
               int first_id)
{
    assert_int_equal(fetch->seq, seq);
    assert_int_equal(fetch->count, count);
    assert_int_equal(fetch->next, seq + count);
    for (size_t i = 0; i < count; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, first_id + (int)i);
        ob_event_t *event = NULL;
        assert_int_equal(fetch->events[i].seq, seq + i);
        assert_int_equal(
            ob_event_decode(fetch->events[i].event, fetch->events[i].event_len, &event), 0);
        assert_string_equal(event->id, id);
        ob_event_destroy(&event);
        if (i > 0)
            assert_true(fetch->events[i].time_us >= fetch->events[i - 1].time_us);
    }
}

/* FETCH of a range through liborderbus: retention below the start, the end, a start time,
   the count and byte caps, and the refusals. */
static void
test_fetch_range(void **state)
{
    t_broker_t *fx = *state;
    t_broker_stop(fx);
    t_broker_start(fx, "--retention-max-events", "5", "--max-event-bytes", "2000000", NULL);
    zsock_t *pub = t_peer(fx, 0);
    s_publish_n(fx, pub, "oms.1", "r", 20);
    assert_int_equal(s_wait_first_seq(fx, pub, 16), 16); /* 16..20 are kept */
    ob_client_config_t config = {.name = "fetcher", .timeout_ms = T_TIMEOUT_MS};
    ob_client_t *client = ob_client_new(fx->endpoint, &config);
    assert_non_null(client);

    /* from 1: retention removed 1..15, so the range starts at 16; capped at the count */
    ob_fetch_t *fetch = NULL;
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, 0, 3, &fetch), 0);
    assert_string_equal(fetch->topic, "oms.1");
    s_assert_range(fetch, 16, 3, "r", 15);
    assert_int_equal(fetch->last_seq, 20);
    uint64_t times[3];
    for (size_t i = 0; i < 3; i++)
        times[i] = fetch->events[i].time_us;
    ob_fetch_destroy(&fetch);
    /* to the end, then past it: empty, next = last_seq + 1 */
    assert_int_equal(ob_client_fetch(client, "oms.1", 19, 0, OB_FETCH_RANGE_MAX, &fetch), 0);
    s_assert_range(fetch, 19, 2, "r", 18);
    assert_true(fetch->next > fetch->last_seq);
    ob_fetch_destroy(&fetch);
    assert_int_equal(ob_client_fetch(client, "oms.1", 21, 0, 5, &fetch), 0);
    s_assert_range(fetch, 21, 0, "r", 0);
    assert_null(fetch->events);
    ob_fetch_destroy(&fetch);

    /* from a time: the first event stored at or after it (events may share a time) */
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, times[2], 10, &fetch), 0);
    assert_true(fetch->seq >= 16 && fetch->seq <= 18);
    assert_true(fetch->events[0].time_us == times[2]);
    assert_int_equal(fetch->next, 21);
    ob_fetch_destroy(&fetch);
    /* never below seq; after the last event: empty */
    assert_int_equal(ob_client_fetch(client, "oms.1", 19, times[0], 10, &fetch), 0);
    assert_int_equal(fetch->seq, 19);
    ob_fetch_destroy(&fetch);
    assert_int_equal(ob_client_fetch(client, "oms.1", 1, UINT64_MAX, 10, &fetch), 0);
    s_assert_range(fetch, 21, 0, "r", 0);
    ob_fetch_destroy(&fetch);

    /* refusals */
    assert_int_equal(ob_client_fetch(client, "oms.1", 22, 0, 1, &fetch), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_client_fetch(client, "oms.2", 1, 0, 1, &fetch), OB_ERR_NO_SUCH_TOPIC);
    assert_int_equal(ob_client_fetch(client, "oms..1", 1, 0, 1, &fetch), OB_ERR_INVALID_TOPIC);

    /* the byte budget: 300 KB events, three to an answer; an event over the budget goes
       alone */
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "b-%d", i);
        s_publish_big(fx, pub, "big.1", id, 300000);
    }
    assert_int_equal(ob_client_fetch(client, "big.1", 1, 0, OB_FETCH_RANGE_MAX, &fetch), 0);
    s_assert_range(fetch, 1, 3, "b", 0);
    ob_fetch_destroy(&fetch);
    s_publish_big(fx, pub, "big.2", "h-0", OB_FETCH_RANGE_BYTES + 1000);
    s_publish_big(fx, pub, "big.2", "h-1", 10);
    assert_int_equal(ob_client_fetch(client, "big.2", 1, 0, OB_FETCH_RANGE_MAX, &fetch), 0);
    s_assert_range(fetch, 1, 1, "h", 0);
    assert_true(fetch->events[0].event_len > OB_FETCH_RANGE_BYTES);
    ob_fetch_destroy(&fetch);
    assert_int_equal(ob_client_fetch(client, "big.2", 2, 0, OB_FETCH_RANGE_MAX, &fetch), 0);
    s_assert_range(fetch, 2, 1, "h", 1);
    ob_fetch_destroy(&fetch);

    /* a FETCH without count is answered as before: one event, no count in the result */
    ob_wire_msg_t *msg = s_msg(OB_CMD_FETCH, 0);
    snprintf(msg->topic, sizeof msg->topic, "oms.1");
    msg->seq = 20;
    t_result_t single;
    s_admin(fx, pub, msg, &single);
    assert_int_equal(single.reply.event_count, 1);
    assert_null(s_get(&single.data.data, "count"));
    assert_int_equal(s_uint(&single.data.data, "seq"), 20);
    s_result_clear(&single);
    free(msg);
    ob_client_destroy(&client);
    zsock_destroy(&pub);
}

/* The child of test_subscriber_killed: a subscriber process of its own ZeroMQ context (the
   parent's context and threads do not exist after fork), speaking the protocol with the
   codec only, asking for DELIVER runs of up to max_run (0: single DELIVERs; more: it fails
   unless at least one run came). It takes `window` deliveries, acks the first `acked`, makes sure
   the broker has handled the acks (a SUB_INFO on the same connection is answered after them), waits
   for the `total` - `window` deliveries the freed credit lets through (before or after that
   answer: the broker pumps when it likes), tells the parent through fd, and waits to be
   killed. So every event it was given went to it at attempt 1. Exits non-zero on any
   surprise. */
static void
s_child_subscriber(const char *endpoint, int window, int acked, int total, uint32_t max_run, int fd)
{
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    if (!ctx || !dealer || zmq_connect(dealer, endpoint))
        _exit(2);
    static ob_wire_msg_t msg; /* 7 KB each: not on the stack */
    static uint8_t body[OB_BODY_MAX], frame[OB_BODY_MAX];
    uint8_t header[OB_HEADER_SIZE];
    size_t len = 0;
#define SEND(m)                                                                                    \
    do {                                                                                           \
        ob_wire_encode_header(&(m), header);                                                       \
        if (ob_wire_encode_body(&(m), body, sizeof body, &len) ||                                  \
            zmq_send(dealer, header, sizeof header, ZMQ_SNDMORE) < 0 ||                            \
            zmq_send(dealer, body, len, 0) < 0)                                                    \
            _exit(3);                                                                              \
    } while (0)
    ob_wire_msg_init(&msg, OB_CMD_HELLO);
    /* It never PINGs: its session expires 3 heartbeats after its last message. 500 ms
       leaves 1.5 s for the deliveries and its acks on a loaded machine (100 ms did not),
       and the new consumer below still gets the unacked events well within T_TIMEOUT_MS. */
    msg.heartbeat_ms = 500;
    msg.max_run = max_run;
    SEND(msg);
    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
    msg.req = 1;
    snprintf(msg.sub, sizeof msg.sub, "killed");
    msg.pattern_count = 1;
    snprintf(msg.patterns[0], sizeof msg.patterns[0], "oms.k");
    msg.start = OB_START_EARLIEST;
    msg.credit = (uint32_t)window;
    SEND(msg);
    int delivered = 0, answered = 0, acks_sent = 0, runs = 0;
    uint64_t seqs[64];
    while (!answered || delivered < total) {
        int n = zmq_recv(dealer, header, sizeof header, 0);
        int m = zmq_recv(dealer, frame, sizeof frame, 0);
        int events = 0, more = 1;
        for (size_t more_len = sizeof more; more; events++) { /* the event frames */
            more = 0;
            zmq_getsockopt(dealer, ZMQ_RCVMORE, &more, &more_len);
            if (more)
                zmq_recv(dealer, body, sizeof body, 0);
        }
        events--; /* the last turn found no more */
        if (n != OB_HEADER_SIZE || m < 0 ||
            ob_wire_decode(header, (size_t)n, frame, (size_t)m, &msg))
            _exit(4);
        if (msg.command == OB_CMD_DELIVER) {
            int count = msg.count > 1 ? (int)msg.count : 1;
            if (events != count || (uint32_t)count > (max_run > 1 ? max_run : 1))
                _exit(9); /* a run it did not ask for, or frames that do not match */
            /* it acks at `window`: from then on the credit is window + acked */
            if (delivered + count > window + acked || delivered + count > total ||
                delivered + count > 64)
                _exit(5); /* more than the credit, or than was published */
            for (int i = 0; i < count; i++)
                seqs[delivered++] = msg.seq + (uint64_t)i;
            runs += count > 1;
            if (delivered >= window && !acks_sent) {
                acks_sent = 1;
                for (int i = 0; i < acked; i++) {
                    ob_wire_msg_init(&msg, OB_CMD_ACK);
                    snprintf(msg.sub, sizeof msg.sub, "killed");
                    snprintf(msg.topic, sizeof msg.topic, "oms.k");
                    msg.seq = seqs[i];
                    SEND(msg);
                }
                ob_wire_msg_init(&msg, OB_CMD_SUB_INFO);
                msg.req = 2;
                snprintf(msg.sub, sizeof msg.sub, "killed");
                SEND(msg);
            }
        } else if (msg.command == OB_CMD_OK && msg.req == 2)
            answered = 1;
        else if (msg.command != OB_CMD_WELCOME && msg.command != OB_CMD_SUBSCRIBED)
            _exit(6);
    }
#undef SEND
    if (max_run > 1 && runs == 0)
        _exit(10); /* asked for runs, the backlog was there, and none came */
    if (write(fd, "k", 1) != 1)
        _exit(7);
    pause(); /* until SIGKILL */
    _exit(8);
}

/* kill -9 of a subscriber mid-window (taking DELIVER runs of up to max_run, or single
   ones for 0): a new consumer gets exactly its unacked events again. */
static void
s_subscriber_killed(t_broker_t *fx, uint32_t max_run)
{
    enum { WINDOW = 16, ACKED = 5 };
    zsock_t *pub = t_peer(fx, 0);
    s_publish_n(fx, pub, "oms.k", "k", WINDOW + 4); /* 4 more than the child's credit */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        s_child_subscriber(fx->endpoint, WINDOW, ACKED, WINDOW + 4, max_run, fds[1]);
    }
    close(fds[1]);
    char c = 0;
    assert_int_equal(read(fds[0], &c, 1), 1); /* it got all 20, acked 5, all handled */
    close(fds[0]);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));

    /* The acks freed 5 credits, so the broker delivered 17..20 to the child too (it waited
       for them before it let itself be killed). A new consumer gets
       exactly the 15 unacked ones again, attempt 2: nothing acked comes back, nothing is
       lost. */
    zsock_t *sub = t_peer(fx, 0);
    t_sub_t s = {.name = "killed", .patterns = {"oms.k"}};
    assert_int_equal(s_subscribe(fx, sub, &s, NULL), 0);
    int seen[WINDOW + 5] = {0};
    for (int i = 0; i < WINDOW - ACKED + 4; i++) {
        uint32_t attempt = 0;
        uint64_t seq = s_next(sub, "killed", &attempt);
        assert_true(seq > ACKED && seq <= WINDOW + 4);
        assert_int_equal(attempt, 2);
        assert_int_equal(seen[seq]++, 0);
        s_ack(sub, "killed", "oms.k", seq, 0);
    }
    t_expect_silence(sub, T_QUIET_MS);
    assert_int_equal(s_floor(fx, sub, "killed", "oms.k"), WINDOW + 4);
    zsock_destroy(&pub);
    zsock_destroy(&sub);
}

static void
test_subscriber_killed(void **state)
{
    s_subscriber_killed(*state, 0);
}

/* The same with DELIVER runs of up to 8: the child gets 16 in two runs, then 4 in one. */
static void
test_subscriber_killed_runs(void **state)
{
    s_subscriber_killed(*state, 8);
}

/* Publishes count events with ids prefix-N to topic without waiting between them (one
   group commit or a few, so that a subscriber reading later finds them together), then
   waits for every confirmation; returns the first seq. */
static uint64_t
s_publish_burst(t_broker_t *fx, zsock_t *pub, const char *topic, const char *prefix, int count)
{
    ob_wire_msg_t *msg = s_msg(OB_CMD_PUBLISH, 0);
    uint64_t first_req = fx->next_req;
    for (int i = 0; i < count; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        uint8_t *buf = NULL;
        size_t len = 0;
        t_event(topic, id, NULL, 16, &buf, &len);
        msg->req = fx->next_req++;
        t_send(pub, msg, buf, len);
        free(buf);
    }
    free(msg);
    uint64_t first = 0;
    for (int confirmed = 0; confirmed < count;) {
        t_msg_t reply;
        t_expect(pub, OB_CMD_CONFIRM, &reply);
        assert_false(reply.wire.dup);
        if (reply.wire.req == first_req)
            first = reply.wire.seq;
        confirmed += reply.wire.count > 1 ? (int)reply.wire.count : 1;
        t_msg_clear(&reply);
    }
    assert_true(first > 0);
    return first;
}

/* Checks DELIVER m (single or a run, PROTOCOL.md 12.3) of sub on topic, first attempts of
   events published with ids prefix-(seq - first): at most max_run events (0: single), one
   event frame each, in seq order, times non-decreasing and the first equal to `time`.
   Counts each seq in seen (seen_len entries). Returns the number of events. */
static size_t
s_check_run(const t_msg_t *m, const char *sub, const char *topic, uint32_t max_run,
            const char *prefix, uint64_t first, int *seen, size_t seen_len)
{
    assert_int_equal(m->wire.command, OB_CMD_DELIVER);
    assert_string_equal(m->wire.sub, sub);
    assert_string_equal(m->wire.topic, topic);
    assert_int_equal(m->wire.attempt, 1);
    size_t n = m->wire.count > 1 ? m->wire.count : 1;
    assert_true(n <= (max_run > 1 ? max_run : 1));
    assert_int_equal(m->event_count, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = m->wire.seq + i;
        assert_true(seq >= first && seq - first < seen_len);
        seen[seq - first]++;
        char id[64];
        snprintf(id, sizeof id, "%s-%" PRIu64, prefix, seq - first);
        ob_event_envelope_t env;
        assert_int_equal(ob_event_peek(m->events[i], m->event_lens[i], &env), 0);
        assert_int_equal(env.id_len, strlen(id));
        assert_memory_equal(env.id, id, env.id_len);
        if (n > 1 && i > 0)
            assert_true(m->wire.times[i] >= m->wire.times[i - 1]);
    }
    if (n > 1)
        assert_true(m->wire.times[0] == m->wire.time);
    return n;
}

/* DELIVER runs (12.3): a client that asked for runs of 16 gets 100 stored events in runs of
   at most 16, in order, each event the right one; acks apply to single events of a run,
   and the two left unacked come again alone, attempt 2, after ack_wait. */
static void
test_runs(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0);
    uint64_t first = s_publish_burst(fx, pub, "runs.1", "r", 100);
    zsock_t *r = t_peer_run(fx, 0, 16);
    t_sub_t s = {
        .name = "runs", .patterns = {"runs.1"}, .start = OB_START_EARLIEST, .ack_wait_ms = 300};
    assert_int_equal(s_subscribe(fx, r, &s, NULL), 1);
    int seen[100] = {0};
    size_t got = 0, messages = 0, largest = 0;
    while (got < 100) {
        t_msg_t m;
        t_expect(r, OB_CMD_DELIVER, &m);
        assert_true(m.wire.seq == first + got); /* in order, no gap, no repeat */
        size_t n = s_check_run(&m, "runs", "runs.1", 16, "r", first, seen, 100);
        got += n;
        messages++;
        largest = n > largest ? n : largest;
        t_msg_clear(&m);
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(largest, 16); /* all stored before: full runs */
    assert_true(messages <= 100 / 16 + 1 + 2);
    t_expect_silence(r, T_QUIET_MS);

    /* ack all but the 5th and the 37th: cumulatively below the 5th, one by one after */
    s_ack(r, "runs", "runs.1", first + 3, 1);
    for (uint64_t i = 5; i < 100; i++)
        if (i != 36)
            s_ack(r, "runs", "runs.1", first + i, 0);
    uint64_t again[2];
    for (int k = 0; k < 2; k++) {
        t_msg_t m;
        t_expect(r, OB_CMD_DELIVER, &m);
        assert_int_equal(m.wire.attempt, 2);
        assert_true(m.wire.count <= 1); /* a redelivery goes alone */
        assert_int_equal(m.event_count, 1);
        again[k] = m.wire.seq;
        t_msg_clear(&m);
    }
    assert_true((again[0] == first + 4 && again[1] == first + 36) ||
                (again[1] == first + 4 && again[0] == first + 36));
    s_ack(r, "runs", "runs.1", first + 4, 0);
    s_ack(r, "runs", "runs.1", first + 36, 0);
    assert_int_equal(s_floor(fx, r, "runs", "runs.1"), first + 99);
    assert_int_equal(s_info_uint(fx, r, "runs", "redelivered"), 2);
    zsock_destroy(&pub);
    zsock_destroy(&r);
}

/* Competing consumers, one taking runs of 8 and one single DELIVERs only (a client older
   than runs): every event goes to exactly one of them, each gets what it asked for; the
   one taking runs leaves without acking and exactly its events go to the other, attempt 2. */
static void
test_runs_competing(void **state)
{
    t_broker_t *fx = *state;
    zsock_t *pub = t_peer(fx, 0), *single = t_peer(fx, 0), *multi = t_peer_run(fx, 0, 8);
    t_sub_t s = {.name = "mixed", .patterns = {"runs.2"}};
    assert_int_equal(s_subscribe(fx, single, &s, NULL), 1);
    assert_int_equal(s_subscribe(fx, multi, &s, NULL), 0);
    uint64_t first = s_publish_burst(fx, pub, "runs.2", "m", 200);
    int seen[200] = {0}, of_multi[200] = {0};
    size_t got = 0, largest = 0, of_single = 0;
    while (got < 200) {
        zpoller_t *poller = zpoller_new(single, multi, NULL);
        zsock_t *which = zpoller_wait(poller, T_TIMEOUT_MS);
        zpoller_destroy(&poller);
        if (!which)
            fail_msg("%zu of 200 events delivered", got);
        t_msg_t m;
        t_expect(which, OB_CMD_DELIVER, &m);
        size_t n =
            s_check_run(&m, "mixed", "runs.2", which == multi ? 8 : 0, "m", first, seen, 200);
        for (size_t i = 0; which == multi && i < n; i++)
            of_multi[m.wire.seq + i - first] = 1;
        if (which == single) {
            of_single += n;
            s_ack(single, "mixed", "runs.2", m.wire.seq, 0);
        } else
            largest = n > largest ? n : largest;
        got += n;
        t_msg_clear(&m);
    }
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1);
    assert_true(of_single > 0);
    assert_true(largest > 1); /* multi got at least one real run */
    t_expect_silence(multi, T_QUIET_MS);

    free(s_unsubscribe(fx, multi, "mixed"));
    for (size_t k = 0; k < 200 - of_single; k++) {
        t_msg_t m;
        t_expect(single, OB_CMD_DELIVER, &m);
        assert_int_equal(m.wire.attempt, 2);
        assert_int_equal(m.event_count, 1);
        assert_true(of_multi[m.wire.seq - first]);
        seen[m.wire.seq - first]++;
        t_msg_clear(&m);
    }
    for (int i = 0; i < 200; i++)
        assert_int_equal(seen[i], 1 + of_multi[i]);
    t_expect_silence(single, T_QUIET_MS);
    s_ack(single, "mixed", "runs.2", first + 199, 1);
    assert_int_equal(s_floor(fx, single, "mixed", "runs.2"), first + 199);
    zsock_destroy(&pub);
    zsock_destroy(&single);
    zsock_destroy(&multi);
}

int
main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_deliver_and_ack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_start_positions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_types_filter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_credit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_nack_and_ack_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_competing_consumers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry_redelivers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_disconnected_consumer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_at_floor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_attach_only, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_delete_reposition_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ephemeral, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_skips, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_range, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_killed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_killed_runs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_runs, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_runs_competing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
