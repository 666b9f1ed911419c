/*  test_crash: kill -9 of the broker during pipelined publishing from 4 publishers, and
    during synchronous publishing from one (test_kill9_during_lone_publish: lone publishes,
    which the broker commits in its server thread while its commits are fast).

    Four publisher threads, each with its own client and topic, publish CRASH_EVENTS events
    each with a window of CRASH_WINDOW. When a quarter of all events are confirmed, the broker
    is killed with SIGKILL and started again on the same data directory and endpoint. The
    clients reconnect and re-send what was unconfirmed. Afterwards the store must hold, per
    topic, every event exactly once and in publish order, and every confirmation any publisher
    received must name the sequence number its event really has (no confirmed event lost).

    test_kill9_resumes_at_ack_floor: a subscriber (liborderbus) acks part of a topic, makes
    sure its ack floor is durable, takes more deliveries without acking them, and the broker
    is killed with SIGKILL and restarted. The client re-attaches by itself; it must then get
    exactly the events above its floor, each once, and none at or below it. */

#include <czmq.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"
#include "store.h"

#define CRASH_NAME "crash" /* the publishers' client name: topics crash.<p> */
#define CRASH_PUBLISHERS 4
#define CRASH_EVENTS 20000 /* per publisher */
#define CRASH_WINDOW 256
#define CRASH_WAIT_MS 60000    /* a publisher's longest wait */
#define CRASH_LONE_NAME "lone" /* the synchronous publisher's client name: topic lone.0 */
#define CRASH_LONE_EVENTS 2000 /* its events */

typedef struct {
    broker_proc_pub_t *pub; /* the publisher's thread */
    uint64_t *seq;          /* CRASH_EVENTS entries: confirmed sequence number, 0 if none */
    long confirmed;         /* confirmations received */
    long dups;              /* of which flagged duplicate */
    long refused;           /* refusals (must stay 0) */
} publisher_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static long s_confirmed_total; /* guarded by s_lock */

/* broker_proc_record_fn: arg is the publisher_t. */
static int
s_record(void *arg, long i, const ob_confirm_t *c)
{
    publisher_t *self = arg;
    if (c->rc != 0) {
        self->refused++;
        return 0;
    }
    self->seq[i] = c->seq;
    self->confirmed++;
    self->dups += c->dup;
    pthread_mutex_lock(&s_lock);
    s_confirmed_total++;
    pthread_cond_broadcast(&s_cond);
    pthread_mutex_unlock(&s_lock);
    return 0;
}

/* The kill -9 test with n publishers of count events each, window window, on topics
   name.<p>: kill when a quarter is confirmed, restart, and check every event is stored once,
   in order, at the seq its confirmation named. */
static void
s_kill9_during_publish(const char *name, int n, uint32_t window, long count)
{
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "crash"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    assert_true(broker > 0);

    publisher_t pubs[CRASH_PUBLISHERS];
    assert_true(n <= CRASH_PUBLISHERS);
    ob_client_config_t cfg = {.name = name, .window = window, .timeout_ms = CRASH_WAIT_MS};
    pthread_mutex_lock(&s_lock);
    s_confirmed_total = 0;
    pthread_mutex_unlock(&s_lock);
    for (int p = 0; p < n; p++) {
        pubs[p] = (publisher_t){.seq = calloc((size_t)count, sizeof(uint64_t))};
        assert_non_null(pubs[p].seq);
        pubs[p].pub =
            broker_proc_pub_start(site.endpoint, &cfg, p, count, NULL, s_record, &pubs[p]);
        assert_non_null(pubs[p].pub);
    }
    /* Wait (on confirmations, not on time) until a quarter is confirmed, then crash. */
    long quarter = n * count / 4;
    long at_kill =
        broker_proc_wait_count(&s_lock, &s_cond, &s_confirmed_total, quarter, CRASH_WAIT_MS);
    if (at_kill < quarter)
        fail_msg("%ld of %ld publishes confirmed after %d ms", at_kill, quarter, CRASH_WAIT_MS);
    assert_int_equal(broker_proc_stop(broker, SIGKILL) & 0x7f, SIGKILL);
    broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    assert_true(broker > 0);

    long dups = 0;
    for (int p = 0; p < n; p++) {
        assert_int_equal(broker_proc_pub_join(&pubs[p].pub), 0);
        assert_int_equal(pubs[p].refused, 0);
        assert_int_equal(pubs[p].confirmed, count);
        dups += pubs[p].dups;
    }
    print_message("killed at %ld confirmed; %ld confirmations were duplicates after re-send\n",
                  at_kill, dups);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);

    /* Every event exactly once, in publish order, at the sequence its confirmation named. */
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(site.data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    for (int p = 0; p < n; p++) {
        char topic[32], want[64];
        snprintf(topic, sizeof topic, BROKER_PROC_TOPIC_FMT, name, p);
        ob_topic_stat_t stat;
        assert_int_equal(ob_store_topic_stat(store, topic, &stat), 0);
        assert_int_equal(stat.first_seq, 1);
        assert_int_equal(stat.last_seq, (uint64_t)count);
        assert_int_equal(stat.events, (uint64_t)count);
        for (long i = 0; i < count; i++) {
            uint8_t *buf;
            size_t len;
            ob_event_t *ev = NULL;
            assert_int_equal(pubs[p].seq[i], (uint64_t)i + 1);
            assert_int_equal(ob_store_get(store, topic, (uint64_t)i + 1, &buf, &len, NULL), 0);
            assert_int_equal(ob_event_decode(buf, len, &ev), 0);
            snprintf(want, sizeof want, BROKER_PROC_EVENT_ID_FMT, name, p, i);
            assert_string_equal(ev->id, want);
            ob_event_destroy(&ev);
            free(buf);
        }
        free(pubs[p].seq);
    }
    ob_store_close(&store);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

static void
test_kill9_during_pipelined_publish(void **state)
{
    (void)state;
    s_kill9_during_publish(CRASH_NAME, CRASH_PUBLISHERS, CRASH_WINDOW, CRASH_EVENTS);
}

/* One synchronous publisher: every publish is lone, and the broker commits it in its server
   thread (broker/writer.h), where the kill finds it; on a disk whose syncs take over
   OB_WRITER_LONE_SLOW_US they go to the writer instead, and this repeats the test above
   with one publisher (test_writer checks the choice itself). */
static void
test_kill9_during_lone_publish(void **state)
{
    (void)state;
    s_kill9_during_publish(CRASH_LONE_NAME, 1, 1, CRASH_LONE_EVENTS);
}

#define FLOOR_EVENTS 3000 /* events on the topic */
#define FLOOR_ACKED 1000  /* acked before the crash */
#define FLOOR_HELD 500    /* taken without an ack before the crash */

/* The subscription's ack floor on topic, from SUB_INFO through client. */
static uint64_t
s_floor(ob_client_t *client, const char *sub)
{
    ob_wire_msg_t *req = calloc(1, sizeof *req);
    assert_non_null(req);
    ob_wire_msg_init(req, OB_CMD_SUB_INFO);
    snprintf(req->sub, sizeof req->sub, "%s", sub);
    uint8_t *result = NULL;
    size_t len = 0;
    assert_int_equal(ob_client_request(client, req, &result, &len, NULL, NULL, NULL), 0);
    free(req);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)result, len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    uint64_t floor = UINT64_MAX;
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        if (kv->key.via.str.size != 9 || memcmp(kv->key.via.str.ptr, "positions", 9))
            continue;
        assert_int_equal(kv->val.via.array.size, 1);
        const msgpack_object *pos = &kv->val.via.array.ptr[0];
        for (uint32_t j = 0; j < pos->via.map.size; j++)
            if (pos->via.map.ptr[j].key.via.str.size == 9 &&
                !memcmp(pos->via.map.ptr[j].key.via.str.ptr, "ack_floor", 9))
                floor = pos->via.map.ptr[j].val.via.u64;
    }
    msgpack_unpacked_destroy(&u);
    free(result);
    assert_true(floor != UINT64_MAX);
    return floor;
}

static void
s_publish_one(ob_client_t *client, const char *topic, const char *id)
{
    ob_event_t ev = {.id = id, .topic = topic, .type = "project_item.created", .time_us = 1};
    ob_confirm_t c;
    assert_int_equal(ob_client_publish(client, &ev, &c), 0);
}

static void
test_kill9_resumes_at_ack_floor(void **state)
{
    (void)state;
    char id[64];
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "crash-floor"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    assert_true(broker > 0);

    ob_client_config_t cfg = {.name = "crash-floor", .timeout_ms = 30000, .heartbeat_ms = 100};
    ob_client_t *pub = ob_client_new(site.endpoint, &cfg);
    ob_client_t *sub = ob_client_new(site.endpoint, &cfg);
    assert_non_null(pub);
    assert_non_null(sub);
    for (int i = 0; i < FLOOR_EVENTS; i++) {
        snprintf(id, sizeof id, "floor-%d", i);
        s_publish_one(pub, "oms.floor", id);
    }
    const char *patterns[] = {"oms.floor"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    char name[OB_SUB_NAME_MAX + 1];
    int created = 0;
    assert_int_equal(ob_client_subscribe(sub, "floor", &opts, name, &created), 0);
    assert_int_equal(created, 1);

    /* ack the first FLOOR_ACKED, in order */
    uint64_t generation = 0;
    for (uint64_t seq = 1; seq <= FLOOR_ACKED; seq++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(sub, 10000, &d), 0);
        assert_int_equal(d->seq, seq);
        generation = d->generation;
        assert_int_equal(ob_client_ack(sub, d), 0);
        ob_delivery_destroy(&d);
    }
    /* The broker has handled the acks (SUB_INFO on the same connection comes after them);
       a publish confirmed after that was committed with or after the position: durable. */
    assert_int_equal(s_floor(sub, "floor"), FLOOR_ACKED);
    s_publish_one(pub, "barrier.x", "barrier");
    /* more deliveries, not acked */
    for (int i = 0; i < FLOOR_HELD; i++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(sub, 10000, &d), 0);
        assert_int_equal(d->seq, (uint64_t)FLOOR_ACKED + 1 + (uint64_t)i);
        ob_delivery_destroy(&d);
    }

    assert_int_equal(broker_proc_stop(broker, SIGKILL) & 0x7f, SIGKILL);
    broker = broker_proc_start(site.data_dir, site.endpoint, NULL);
    assert_true(broker > 0);

    /* After the client re-attached: every event above the floor once, none at or below */
    char *seen = calloc(FLOOR_EVENTS + 1, 1);
    assert_non_null(seen);
    int missing = FLOOR_EVENTS - FLOOR_ACKED, old = 0;
    while (missing > 0) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(sub, 30000, &d), 0);
        if (d->generation == generation) { /* taken from the old session's queue */
            old++;
            ob_delivery_destroy(&d);
            continue;
        }
        assert_true(d->seq > FLOOR_ACKED && d->seq <= FLOOR_EVENTS);
        assert_int_equal(d->attempt, 1); /* attempt counters start again */
        assert_int_equal(seen[d->seq]++, 0);
        missing--;
        assert_int_equal(ob_client_ack(sub, d), 0);
        ob_delivery_destroy(&d);
    }
    ob_delivery_t *d = NULL;
    assert_int_equal(ob_client_receive(sub, 300, &d), OB_ERR_TIMEOUT);
    assert_int_equal(s_floor(sub, "floor"), FLOOR_EVENTS);
    print_message("resumed at floor %d; %d deliveries of the old session dropped\n", FLOOR_ACKED,
                  old);
    free(seen);
    ob_client_destroy(&pub);
    ob_client_destroy(&sub);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_during_pipelined_publish),
        cmocka_unit_test(test_kill9_during_lone_publish),
        cmocka_unit_test(test_kill9_resumes_at_ack_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
