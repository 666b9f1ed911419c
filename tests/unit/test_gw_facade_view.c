/*  test_gw_facade_view: gateway/facade_view.h without a broker: ranges of encoded events
    applied to a real LMDB environment in a scratch directory, read back through
    ob_facade_view_answer: timestamps moved forward to keep them strictly increasing, the
    events index and from_seq, the latest snapshot of each resource (a feed event's, then an
    outcome's), a project's iids, messages in their scopes, retention counted as lost, the
    position kept across a reopen, a reset. The broker side is test_gateway_facade. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "facade_view.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_OMS 7
#define S_T0 1764950400000000ull /* 2025-12-05T16:00:00Z */
#define S_EVENTS_MAX 16
#define S_ERR 256

static char s_dir[] = "/tmp/test-gw-facade-view-XXXXXX";

static int
s_setup(void **state)
{
    (void)state;
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[sizeof s_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd);
}

/* A range being built: encoded events with their seqs. */
typedef struct s_range {
    ob_fetched_t f[S_EVENTS_MAX]; /* the events */
    uint8_t *bufs[S_EVENTS_MAX];  /* their frames, owned */
    size_t n;                     /* used */
} s_range_t;

static void
s_add(s_range_t *r, uint64_t seq, const char *type, uint64_t time_us, uint64_t p, uint64_t i,
      uint64_t m, const char *data)
{
    char id[32];
    snprintf(id, sizeof id, "e%llu", (unsigned long long)seq);
    ob_event_t ev = {.id = id,
                     .topic = "oms.7",
                     .type = type,
                     .time_us = time_us,
                     .oms_id = S_OMS,
                     .project_id = p,
                     .project_item_id = i,
                     .message_id = m,
                     .data = (const uint8_t *)data,
                     .data_len = data ? strlen(data) : 0};
    size_t len = 0;
    assert_int_equal(ob_event_encode(&ev, &r->bufs[r->n], &len), 0);
    r->f[r->n] = (ob_fetched_t){seq, time_us, r->bufs[r->n], len};
    r->n++;
}

static void
s_free(s_range_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->bufs[i]);
    r->n = 0;
}

/* GET path?query from the view: checks status and body (NULL: any). */
static void
s_expect(ob_facade_view_t *v, const char *path, ob_facade_query_t q, unsigned status,
         const char *body)
{
    ob_facade_route_t route;
    assert_int_equal(ob_facade_route("GET", path, &route), 0);
    ob_facade_answer_t a;
    assert_int_equal(ob_facade_view_answer(v, &route, &q, &a), 0);
    if (a.status != status || (body && strcmp(a.body, body)))
        fail_msg("%s: %u %s\nexpected %u %s", path, a.status, a.body, status, body ? body : "");
    ob_facade_answer_clear(&a);
}

#define P4 "{\"id\":4,\"owner\":{},\"project_items\":[],\"attributes\":{}}"
#define I1 "{\"id\":1,\"project_id\":4,\"status\":{\"value\":\"created\",\"type\":\"created\"}}"
#define I1R "{\"id\":1,\"project_id\":4,\"status\":{\"value\":\"ready\",\"type\":\"ready\"}}"
#define I2 "{\"id\":2,\"project_id\":4,\"status\":{\"value\":\"created\",\"type\":\"created\"}}"
#define M9 "{\"id\":9,\"content\":\"hi\",\"scope\":\"public\"}"

static void
test_apply_and_read(void **state)
{
    (void)state;
    char err[S_ERR];
    ob_facade_view_t *v = ob_facade_view_open(s_dir, NULL, err, sizeof err);
    assert_non_null(v);
    uint64_t next = 0, lost = 9;
    assert_int_equal(ob_facade_view_position(v, S_OMS, &next, &lost), 0);
    assert_int_equal(next, 1);
    assert_int_equal(lost, 0);
    s_range_t r = {0};
    s_add(&r, 1, "project.created", S_T0, 4, 0, 0, P4);
    s_add(&r, 2, "project_item.created", S_T0, 4, 1, 0, I1);
    s_add(&r, 3, "command.accepted", S_T0, 4, 1, 0, NULL);             /* not mirrored */
    s_add(&r, 4, "project_item.created", S_T0 - 5000000, 4, 2, 0, I2); /* an older time */
    s_add(&r, 5, "message.posted", S_T0 + 3000000, 4, 1, 9, M9);
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 1, r.f, r.n, 6), 0);
    s_free(&r);
    assert_int_equal(ob_facade_view_position(v, S_OMS, &next, &lost), 0);
    assert_int_equal(next, 6);
    assert_int_equal(lost, 0);
    /* timestamps: T, T + 1 µs, T + 2 µs (moved forward), T + 3 s */
    s_expect(v, "/api/v1/oms/7/events",
             (ob_facade_query_t){.from_timestamp = "2025-12-05T15:00:00Z"}, 200,
             "{\"events\":[{\"timestamp\":\"2025-12-05T16:00:00Z\",\"type\":\"create\","
             "\"resource\":\"project\",\"project_id\":4,\"seq\":1},"
             "{\"timestamp\":\"2025-12-05T16:00:00Z\",\"type\":\"create\",\"resource\":"
             "\"project_item\",\"project_id\":4,\"project_item_id\":1,\"seq\":2},"
             "{\"timestamp\":\"2025-12-05T16:00:00Z\",\"type\":\"create\",\"resource\":"
             "\"project_item\",\"project_id\":4,\"project_item_id\":2,\"seq\":4},"
             "{\"timestamp\":\"2025-12-05T16:00:03Z\",\"type\":\"create\",\"resource\":"
             "\"message\",\"project_id\":4,\"project_item_id\":1,\"message_id\":9,\"seq\":5}]}");
    ob_facade_query_t q = {.from_timestamp = "2025-12-05T16:00:00.000001Z"};
    s_expect(v, "/api/v1/oms/7/events", q, 200, NULL);
    q = (ob_facade_query_t){.from_seq = "2", .limit = "1"};
    s_expect(v, "/api/v1/oms/7/events", q, 200,
             "{\"events\":[{\"timestamp\":\"2025-12-05T16:00:00Z\",\"type\":\"create\","
             "\"resource\":\"project_item\",\"project_id\":4,\"project_item_id\":2,\"seq\":4}]}");
    q = (ob_facade_query_t){.from_timestamp = "2025-12-05T16:00:00.000002Z"};
    s_expect(v, "/api/v1/oms/7/events", q, 200, NULL);
    q = (ob_facade_query_t){.from_timestamp = "2025-12-05T16:00:03Z"};
    s_expect(v, "/api/v1/oms/7/events", q, 200, "{\"events\":[]}");
    q = (ob_facade_query_t){.from_seq = "5"};
    s_expect(v, "/api/v1/oms/7/events", q, 200, "{\"events\":[]}");
    /* the project learnt its items from their events */
    s_expect(v, "/api/v1/oms/7/projects/4", (ob_facade_query_t){0}, 200,
             "{\"id\":4,\"owner\":{},\"project_items\":[1,2],\"attributes\":{}}");
    s_expect(v, "/api/v1/oms/7/projects", (ob_facade_query_t){0}, 200,
             "{\"projects\":[{\"id\":4,\"owner\":{},\"project_items\":[1,2],\"attributes\":{}}]}");
    s_expect(v, "/api/v1/oms/7/projects/4/project_items", (ob_facade_query_t){.from_id = "1"}, 200,
             "{\"project_items\":[" I2 "]}");
    s_expect(v, "/api/v1/oms/7/messages",
             (ob_facade_query_t){.project_id = "4", .project_item_id = "1"}, 200,
             "{\"messages\":[" M9 "]}");
    s_expect(v, "/api/v1/oms/7/messages", (ob_facade_query_t){.project_id = "4"}, 200,
             "{\"messages\":[]}");
    s_expect(v, "/api/v1/oms/7/messages/9", (ob_facade_query_t){0}, 200, M9);
    /* another OMS sees nothing of it */
    s_expect(v, "/api/v1/oms/8/projects/4", (ob_facade_query_t){0}, 404,
             "{\"error\":\"Project not found\"}");

    /* an outcome updates the item; a later feed event with the same state; an edit keeps
       the message where it is */
    s_add(&r, 6, "command.completed", S_T0 + 4000000, 4, 1, 0,
          "{\"command_id\":\"c\",\"command\":\"update_project_item\",\"status\":200,"
          "\"response\":" I1R "}");
    s_add(&r, 7, "command.completed", S_T0 + 4000000, 0, 0, 9,
          "{\"command_id\":\"d\",\"command\":\"edit_message\",\"status\":200,"
          "\"response\":{\"id\":9,\"content\":\"ho\",\"scope\":\"public\"}}");
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 6, r.f, r.n, 8), 0);
    s_free(&r);
    s_expect(v, "/api/v1/oms/7/projects/4/project_items/1", (ob_facade_query_t){0}, 200, I1R);
    s_expect(v, "/api/v1/oms/7/messages",
             (ob_facade_query_t){.project_id = "4", .project_item_id = "1"}, 200,
             "{\"messages\":[{\"id\":9,\"content\":\"ho\",\"scope\":\"public\"}]}");
    ob_facade_view_destroy(&v);

    /* reopened: all still there; retention removed 8..10 before they were read */
    v = ob_facade_view_open(s_dir, NULL, err, sizeof err);
    assert_non_null(v);
    s_add(&r, 11, "project_item.status_changed", S_T0 + 1, 4, 2, 0, I2);
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 8, r.f, r.n, 12), 0);
    s_free(&r);
    assert_int_equal(ob_facade_view_position(v, S_OMS, &next, &lost), 0);
    assert_int_equal(next, 12);
    assert_int_equal(lost, 3);
    q = (ob_facade_query_t){.from_seq = "7"};
    s_expect(v, "/api/v1/oms/7/events", q, 200,
             "{\"events\":[{\"timestamp\":\"2025-12-05T16:00:03Z\",\"type\":\"update\","
             "\"resource\":\"project_item\",\"changes\":[],\"project_id\":4,"
             "\"project_item_id\":2,\"seq\":11}]}");
    /* an empty range after more removals still moves the position */
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 12, NULL, 0, 15), 0);
    assert_int_equal(ob_facade_view_position(v, S_OMS, &next, &lost), 0);
    assert_int_equal(next, 15);
    assert_int_equal(lost, 6);
    /* reset: nothing left of OMS 7 */
    assert_int_equal(ob_facade_view_reset(v, S_OMS), 0);
    assert_int_equal(ob_facade_view_position(v, S_OMS, &next, &lost), 0);
    assert_int_equal(next, 1);
    s_expect(v, "/api/v1/oms/7/projects", (ob_facade_query_t){0}, 200, "{\"projects\":[]}");
    s_expect(v, "/api/v1/oms/7/events", (ob_facade_query_t){.from_seq = "0"}, 200,
             "{\"events\":[]}");
    ob_facade_view_destroy(&v);
    ob_facade_view_destroy(&v); /* NULL: harmless */
}

static void
test_many(void **state)
{
    (void)state;
    /* enough events to grow past one LMDB page per index and to fill several ranges */
    char err[S_ERR], dir[sizeof s_dir + 8];
    snprintf(dir, sizeof dir, "%s/many", s_dir);
    ob_facade_view_t *v = ob_facade_view_open(dir, NULL, err, sizeof err);
    assert_non_null(v);
    uint64_t seq = 1;
    for (int round = 0; round < 20; round++) {
        s_range_t r = {0};
        for (int i = 0; i < S_EVENTS_MAX; i++, seq++)
            s_add(&r, seq, "project_item.updated", S_T0, 4, 1, 0, I1);
        assert_int_equal(ob_facade_view_apply(v, S_OMS, seq - S_EVENTS_MAX, r.f, r.n, seq), 0);
        s_free(&r);
    }
    /* 320 events in one second: from_seq pages through each once, in order */
    uint64_t after = 0, seen = 0;
    for (;;) {
        char from[32];
        snprintf(from, sizeof from, "%llu", (unsigned long long)after);
        ob_facade_route_t route;
        assert_int_equal(ob_facade_route("GET", "/api/v1/oms/7/events", &route), 0);
        ob_facade_query_t q = {.from_seq = from, .limit = "100"};
        ob_facade_answer_t a;
        assert_int_equal(ob_facade_view_answer(v, &route, &q, &a), 0);
        assert_int_equal(a.status, 200);
        size_t n = 0;
        for (const char *p = a.body; (p = strstr(p, "\"seq\":")); p++) {
            unsigned long long s = strtoull(p + 6, NULL, 10);
            assert_int_equal(s, after + 1);
            after = s;
            n++;
        }
        ob_facade_answer_clear(&a);
        seen += n;
        if (n < 100)
            break;
    }
    assert_int_equal(seen, 20 * S_EVENTS_MAX);
    ob_facade_view_destroy(&v);
}

/* What the notify callback saw. */
typedef struct s_seen {
    ob_facade_view_t *v; /* the view, read from the callback */
    int calls;           /* callbacks */
    uint64_t oms;        /* the last one's OMS */
    int served;          /* 1: GET .../events answered seq 4 when it came */
} s_seen_t;

static void
s_notified(void *arg, uint64_t oms_id)
{
    s_seen_t *seen = arg;
    seen->calls++;
    seen->oms = oms_id;
    ob_facade_route_t route;
    ob_facade_answer_t a = {0};
    ob_facade_query_t q = {.from_seq = "0"};
    seen->served = !ob_facade_route("GET", "/api/v1/oms/7/events", &route) &&
                   !ob_facade_view_answer(seen->v, &route, &q, &a) && a.status == 200 &&
                   strstr(a.body, "\"seq\":4") != NULL;
    ob_facade_answer_clear(&a);
}

/* The callback of ob_facade_view_on_events: after a commit that added events to the events
   index (they are served when it comes), not for ranges that add none. */
static void
test_notify(void **state)
{
    (void)state;
    char err[S_ERR], dir[sizeof s_dir + 8];
    snprintf(dir, sizeof dir, "%s/notify", s_dir);
    ob_facade_view_t *v = ob_facade_view_open(dir, NULL, err, sizeof err);
    assert_non_null(v);
    s_seen_t seen = {.v = v};
    ob_facade_view_on_events(v, s_notified, &seen);
    s_range_t r = {0};
    /* none: an empty range, one not mirrored, one that does not decode */
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 1, NULL, 0, 1), 0);
    s_add(&r, 1, "command.accepted", S_T0, 4, 1, 0, NULL);
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 1, r.f, r.n, 2), 0);
    s_free(&r);
    uint8_t junk[] = {0xc1};
    ob_fetched_t bad = {2, S_T0, junk, sizeof junk};
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 2, &bad, 1, 3), 0);
    assert_int_equal(seen.calls, 0);
    /* a feed event: one call, for its OMS, once it is served */
    s_add(&r, 3, "project.created", S_T0, 4, 0, 0, P4);
    s_add(&r, 4, "project_item.created", S_T0, 4, 1, 0, I1);
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 3, r.f, r.n, 5), 0);
    s_free(&r);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(seen.oms, S_OMS);
    assert_true(seen.served);
    /* an outcome alone changes an item, not the events: none */
    s_add(&r, 5, "command.completed", S_T0, 4, 1, 0,
          "{\"command_id\":\"c\",\"command\":\"update_project_item\",\"status\":200,"
          "\"response\":" I1R "}");
    assert_int_equal(ob_facade_view_apply(v, S_OMS, 5, r.f, r.n, 6), 0);
    s_free(&r);
    assert_int_equal(seen.calls, 1);
    ob_facade_view_destroy(&v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply_and_read),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_notify),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
