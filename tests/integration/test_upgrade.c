/*  test_upgrade: a store written by the 0.5 broker (tests/data/store-0.5, see its README)
    loads in this one, as README "Upgrading" promises.

    The data file is copied to a scratch data directory and a real broker is started on it.
    Then, through a client:
    - events: an ephemeral subscription from the earliest event of every topic gets each of
      the 15 events 0.5 stored, with its seq, id, type and data;
    - subscriptions: SUB_INFO of "billing" and "audit" gives the owner ("alice" for audit,
      made over CURVE; none for billing), patterns, types and settings 0.5 stored, and the
      ack floor of every position; subscribing with other
      patterns is refused (SUBSCRIPTION_EXISTS: the stored definition holds);
    - positions: attached again, each subscription gets exactly the events above its floor
      that are not in its done ranges (the ones 0.5 had acked out of order are not
      delivered again), then nothing but a new event published after them;
    - after a restart (which writes the new forms of the records the acks changed), the same
      holds: nothing is delivered again but what was left unacked. */
#include <czmq.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"

#define UP_DATA OB_SOURCE_DIR "/tests/data/store-0.5/data.mdb"
#define UP_WAIT_MS 10000 /* any single wait */
#define UP_EVENTS 15     /* events in the 0.5 store, all topics */
#define UP_PLAIN "--curve", "0"
#define UP_COPY_MAX (1024 * 1024) /* bytes of the data file, at most */

/* A delivery the test expects: subscription, topic, seq. */
typedef struct up_want {
    const char *sub;
    const char *topic;
    uint64_t seq;
} up_want_t;

/* Copies the 0.5 data file into dir (created, 0700) as data.mdb. */
static void
s_copy_store(const char *dir)
{
    assert_int_equal(mkdir(dir, 0700), 0);
    FILE *in = fopen(UP_DATA, "rb");
    assert_non_null(in);
    char *buf = malloc(UP_COPY_MAX);
    assert_non_null(buf);
    size_t len = fread(buf, 1, UP_COPY_MAX, in);
    assert_true(len > 0 && len < UP_COPY_MAX);
    fclose(in);
    char path[BROKER_PROC_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(buf, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(path, 0600), 0);
    free(buf);
}

/* The type 0.5's make_store gave event seq of topic. */
static const char *
s_type(const char *topic, uint64_t seq)
{
    if (!strcmp(topic, "mp.1"))
        return "command.submitted";
    if (!strcmp(topic, "oms.1") && seq % 2 == 0)
        return "order.updated";
    return "order.created";
}

/* Every event of the store, through an ephemeral subscription from the earliest. */
static void
s_check_events(ob_client_t *client)
{
    static const char *const patterns[] = {"oms.*", "mp.*", "sync.*"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 3, .start = OB_START_EARLIEST};
    char name[OB_SUB_NAME_MAX + 1];
    assert_int_equal(ob_client_subscribe(client, NULL, &opts, name, NULL), 0);
    int seen[UP_EVENTS] = {0};
    for (int i = 0; i < UP_EVENTS; i++) {
        ob_delivery_t *d = NULL;
        ob_event_t *ev = NULL;
        assert_int_equal(ob_client_receive(client, UP_WAIT_MS, &d), 0);
        assert_int_equal(ob_delivery_decode(d, &ev), 0);
        char id[OB_TOPIC_MAX + 32], data[OB_TOPIC_MAX + 32];
        snprintf(id, sizeof id, "%s-e%llu", d->topic, (unsigned long long)d->seq);
        snprintf(data, sizeof data, "%s event %llu", d->topic, (unsigned long long)d->seq);
        assert_string_equal(ev->id, id);
        assert_string_equal(ev->topic, d->topic);
        assert_string_equal(ev->type, !strcmp(d->topic, "sync.1") ? "order.created"
                                                                  : s_type(d->topic, d->seq));
        assert_int_equal(ev->data_len, strlen(data));
        assert_memory_equal(ev->data, data, ev->data_len);
        assert_int_equal(ev->time_us, 1700000000000000ull + d->seq);
        /* topics oms.1 (6), oms.2 (4), mp.1 (3), sync.1 (2): slot by topic and seq */
        int base = !strcmp(d->topic, "oms.1")   ? 0
                   : !strcmp(d->topic, "oms.2") ? 6
                   : !strcmp(d->topic, "mp.1")  ? 10
                                                : 13;
        seen[base + (int)d->seq - 1]++;
        assert_int_equal(ob_client_ack(client, d), 0);
        ob_event_destroy(&ev);
        ob_delivery_destroy(&d);
    }
    for (int i = 0; i < UP_EVENTS; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(ob_client_unsubscribe(client, name), 0);
}

/* SUB_INFO of sub as parsed JSON (the caller decrefs). */
static json_t *
s_sub_info(ob_client_t *client, const char *sub)
{
    ob_wire_msg_t *req = calloc(1, sizeof *req);
    assert_non_null(req);
    ob_wire_msg_init(req, OB_CMD_SUB_INFO);
    snprintf(req->sub, sizeof req->sub, "%s", sub);
    uint8_t *result = NULL;
    size_t len = 0;
    assert_int_equal(ob_client_request(client, req, &result, &len, NULL, NULL, NULL), 0);
    free(req);
    char *text = NULL;
    assert_int_equal(ob_result_to_json(result, len, &text), 0);
    free(result);
    json_t *info = json_loads(text, 0, NULL);
    assert_non_null(info);
    free(text);
    return info;
}

/* Checks that the JSON array holds exactly the strings of want (count of them), in order. */
static void
s_assert_strs(const json_t *array, const char *const *want, size_t count)
{
    assert_true(json_is_array(array));
    assert_int_equal(json_array_size(array), count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal(json_string_value(json_array_get(array, i)), want[i]);
}

/* Checks sub's owner ("" for none) and settings and the ack floor of each of its positions
   (floors: topic, floor pairs sorted by topic, count of them). */
static void
s_check_info(ob_client_t *client, const char *sub, const char *owner, const char *const *patterns,
             size_t pattern_count, const char *const *types, size_t type_count, uint64_t credit,
             uint64_t ack_wait_ms, uint64_t max_attempts, uint64_t backoff_ms,
             const char *const *topics, const uint64_t *floors, size_t count)
{
    json_t *info = s_sub_info(client, sub);
    assert_string_equal(json_string_value(json_object_get(info, "owner")), owner);
    s_assert_strs(json_object_get(info, "patterns"), patterns, pattern_count);
    s_assert_strs(json_object_get(info, "types"), types, type_count);
    assert_int_equal(json_integer_value(json_object_get(info, "credit")), credit);
    assert_int_equal(json_integer_value(json_object_get(info, "ack_wait_ms")), ack_wait_ms);
    assert_int_equal(json_integer_value(json_object_get(info, "max_attempts")), max_attempts);
    assert_int_equal(json_integer_value(json_object_get(info, "backoff_ms")), backoff_ms);
    json_t *positions = json_object_get(info, "positions");
    assert_int_equal(json_array_size(positions), count);
    for (size_t i = 0; i < count; i++) {
        json_t *pos = json_array_get(positions, i);
        assert_string_equal(json_string_value(json_object_get(pos, "topic")), topics[i]);
        assert_int_equal(json_integer_value(json_object_get(pos, "ack_floor")), floors[i]);
    }
    json_decref(info);
}

static const char *const s_billing_patterns[] = {"oms.*"};
static const char *const s_audit_patterns[] = {"oms.>", "mp.*"};
static const char *const s_audit_types[] = {"order.created", "command.submitted"};

/* Attaches client to billing and audit (their settings as 0.5 stored them). */
static void
s_attach(ob_client_t *client)
{
    ob_sub_options_t billing = {.patterns = s_billing_patterns, .pattern_count = 1};
    ob_sub_options_t audit = {
        .patterns = s_audit_patterns, .pattern_count = 2, .types = s_audit_types, .type_count = 2};
    int created = -1;
    assert_int_equal(ob_client_subscribe(client, "billing", &billing, NULL, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(ob_client_subscribe(client, "audit", &audit, NULL, &created), 0);
    assert_int_equal(created, 0);
}

/* Receives exactly the count deliveries of want (in any order), acking those with ack set
   in acks (NULL: none), then publishes the sentinel event oms.1 #sentinel and requires the
   next deliveries to be that event, once to each subscription: nothing else was due. */
static void
s_expect(ob_client_t *client, const up_want_t *want, size_t count, const int *acks,
         uint64_t sentinel)
{
    int *seen = calloc(count + 1, sizeof *seen);
    assert_non_null(seen);
    for (size_t i = 0; i < count; i++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(client, UP_WAIT_MS, &d), 0);
        size_t j = 0;
        while (j < count && (strcmp(want[j].sub, d->sub) || strcmp(want[j].topic, d->topic) ||
                             want[j].seq != d->seq))
            j++;
        if (j == count || seen[j]++)
            fail_msg("unexpected delivery: %s %s #%llu", d->sub, d->topic,
                     (unsigned long long)d->seq);
        if (acks && acks[j])
            assert_int_equal(ob_client_ack(client, d), 0);
        ob_delivery_destroy(&d);
    }
    free(seen);
    char id[64];
    snprintf(id, sizeof id, "oms.1-e%llu", (unsigned long long)sentinel);
    ob_event_t ev = {.id = id, .topic = "oms.1", .type = "order.created", .time_us = 1};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(client, &ev, &confirm), 0);
    assert_int_equal(confirm.seq, sentinel);
    int billing = 0, audit = 0;
    for (int i = 0; i < 2; i++) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(client, UP_WAIT_MS, &d), 0);
        if (strcmp(d->topic, "oms.1") || d->seq != sentinel)
            fail_msg("unexpected delivery: %s %s #%llu", d->sub, d->topic,
                     (unsigned long long)d->seq);
        billing += !strcmp(d->sub, "billing");
        audit += !strcmp(d->sub, "audit");
        assert_int_equal(ob_client_ack(client, d), 0);
        ob_delivery_destroy(&d);
    }
    assert_int_equal(billing, 1);
    assert_int_equal(audit, 1);
    /* ACK has no answer: a publish sent after the acks, once confirmed, has carried them
       into a commit (the broker persists positions with the next group commit) */
    snprintf(id, sizeof id, "sync.1-e%llu", (unsigned long long)sentinel);
    ob_event_t sync = {.id = id, .topic = "sync.1", .type = "order.created", .time_us = 1};
    assert_int_equal(ob_client_publish(client, &sync, &confirm), 0);
}

static void
test_store_05_loads(void **state)
{
    (void)state;
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "upgrade"), 0);
    s_copy_store(site.data_dir);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, UP_PLAIN, NULL);
    assert_true(broker > 0);
    ob_client_config_t cfg = {.name = "upgrade", .timeout_ms = UP_WAIT_MS};
    ob_client_t *client = ob_client_new(site.endpoint, &cfg);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, UP_WAIT_MS), 0);

    s_check_events(client);

    /* the definitions and floors 0.5 stored (tests/data/store-0.5/README) */
    static const char *const billing_topics[] = {"oms.1", "oms.2"};
    static const uint64_t billing_floors[] = {2, 4};
    s_check_info(client, "billing", "", s_billing_patterns, 1, NULL, 0, 100, 600000, 7, 250,
                 billing_topics, billing_floors, 2);
    static const char *const audit_topics[] = {"mp.1", "oms.1", "oms.2"};
    static const uint64_t audit_floors[] = {0, 2, 0};
    s_check_info(client, "audit", "alice", s_audit_patterns, 2, s_audit_types, 2, 50, 300000, 0,
                 2000, audit_topics, audit_floors, 3);
    static const char *const other[] = {"oms.1"};
    ob_sub_options_t changed = {.patterns = other, .pattern_count = 1};
    assert_int_equal(ob_client_subscribe(client, "billing", &changed, NULL, NULL),
                     OB_ERR_SUBSCRIPTION_EXISTS);

    /* resume: everything above the floors that 0.5 had not acked, and nothing else */
    s_attach(client);
    static const up_want_t due[] = {
        {"billing", "oms.1", 3}, {"billing", "oms.1", 5}, {"audit", "oms.1", 3},
        {"audit", "oms.2", 1},   {"audit", "oms.2", 4},   {"audit", "mp.1", 1},
        {"audit", "mp.1", 2},    {"audit", "mp.1", 3},
    };
    static const int acks[] = {1, 0, 1, 1, 0, 1, 1, 1}; /* left: billing oms.1 #5, audit oms.2 #4 */
    s_expect(client, due, sizeof due / sizeof *due, acks, 7);
    ob_client_destroy(&client);

    /* a restart reads what this broker wrote: only the unacked two come again */
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    broker = broker_proc_start(site.data_dir, site.endpoint, UP_PLAIN, NULL);
    assert_true(broker > 0);
    client = ob_client_new(site.endpoint, &cfg);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, UP_WAIT_MS), 0);
    s_attach(client);
    static const up_want_t left[] = {{"billing", "oms.1", 5}, {"audit", "oms.2", 4}};
    s_expect(client, left, 2, NULL, 8);
    static const uint64_t billing_after[] = {4, 4}, audit_after[] = {3, 8, 3};
    s_check_info(client, "billing", "", s_billing_patterns, 1, NULL, 0, 100, 600000, 7, 250,
                 billing_topics, billing_after, 2);
    s_check_info(client, "audit", "alice", s_audit_patterns, 2, s_audit_types, 2, 50, 300000, 0,
                 2000, audit_topics, audit_after, 3);
    ob_client_destroy(&client);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_05_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
