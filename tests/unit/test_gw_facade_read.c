/*  test_gw_facade_read: gateway/facade_read.h without HTTP or storage: routes, Ruby's to_i,
    from_timestamp, every endpoint's answer from a table source (shapes and key order as
    exact text, every error string and status, the order of the checks, limits and
    from_id, from_timestamp strict to the microsecond with several events in one second, the
    from_seq extension), and what the view keeps of each kind of event (ob_facade_index),
    secrets obfuscated. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "facade_read.h"
#include "orderbus/error.h"

#define S_T0 1764950400000000ull /* 2025-12-05T16:00:00Z in µs */
#define S_T0_TEXT "2025-12-05T16:00:00Z"
#define S_EVENTS_MAX 1100 /* events of the table source */
#define S_TEXT 256

/* ---------------------------------------------------------------------------------------- */
/* A table source */

typedef struct s_rec {
    ob_facade_kind_t kind; /* what */
    uint64_t a, b, c;      /* project: id; item: project, iid; message: id, project, iid */
    const char *json;      /* snapshot */
} s_rec_t;

static const s_rec_t s_recs[] = {
    {OB_FACADE_PROJECT, 1, 0, 0, "{\"id\":1,\"project_items\":[1,2]}"},
    {OB_FACADE_PROJECT, 2, 0, 0, "{\"id\":2,\"project_items\":[]}"},
    {OB_FACADE_PROJECT, 5, 0, 0, "{\"id\":5,\"project_items\":[]}"},
    {OB_FACADE_ITEM, 1, 1, 0, "{\"id\":1,\"project_id\":1}"},
    {OB_FACADE_ITEM, 1, 2, 0, "{\"id\":2,\"project_id\":1}"},
    {OB_FACADE_MESSAGE, 10, 1, 0, "{\"id\":10}"},
    {OB_FACADE_MESSAGE, 11, 1, 1, "{\"id\":11}"},
    {OB_FACADE_MESSAGE, 12, 1, 0, "{\"id\":12}"},
    {OB_FACADE_MESSAGE, 13, 2, 0, "{\"id\":13}"},
};
#define S_RECS (sizeof s_recs / sizeof s_recs[0])

typedef struct s_table {
    size_t n_events;           /* events in the table */
    uint64_t seq0;             /* seq of events[0]; seqs step by 2 (outcomes between) */
    uint64_t ts[S_EVENTS_MAX]; /* their timestamps */
    int fail;                  /* 1: every call fails with -EIO */
} s_table_t;

static s_table_t s_tab;

static int
s_events(void *ctx, uint64_t after_seq, uint64_t after_ts, size_t limit, ob_facade_each_fn fn,
         void *arg)
{
    s_table_t *t = ctx;
    if (t->fail)
        return -EIO;
    size_t n = 0;
    for (size_t i = 0; i < t->n_events && n < limit; i++) {
        uint64_t seq = t->seq0 + 2 * i;
        if (seq <= after_seq || t->ts[i] <= after_ts)
            continue;
        char fields[S_TEXT];
        snprintf(fields, sizeof fields, "\"type\":\"create\",\"n\":%zu", i);
        ob_facade_record_t rec = {seq, t->ts[i], fields, strlen(fields)};
        int rc = fn(arg, &rec);
        if (rc)
            return rc;
        n++;
    }
    return 0;
}

static int
s_get(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, ob_facade_each_fn fn, void *arg)
{
    s_table_t *t = ctx;
    if (t->fail)
        return -EIO;
    for (size_t i = 0; i < S_RECS; i++) {
        const s_rec_t *r = &s_recs[i];
        if (r->kind == kind && r->a == a && (kind != OB_FACADE_ITEM || r->b == b)) {
            ob_facade_record_t rec = {0, 0, r->json, strlen(r->json)};
            return fn(arg, &rec);
        }
    }
    return -ENOENT;
}

static int
s_list(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, uint64_t after, size_t limit,
       ob_facade_each_fn fn, void *arg)
{
    (void)ctx;
    size_t n = 0;
    for (size_t i = 0; i < S_RECS && n < limit; i++) {
        const s_rec_t *r = &s_recs[i];
        uint64_t id = kind == OB_FACADE_ITEM ? r->b : r->a;
        if (r->kind != kind || id <= after)
            continue;
        if (kind == OB_FACADE_ITEM && r->a != a)
            continue;
        if (kind == OB_FACADE_MESSAGE && (r->b != a || r->c != b))
            continue;
        ob_facade_record_t rec = {0, 0, r->json, strlen(r->json)};
        int rc = fn(arg, &rec);
        if (rc)
            return rc;
        n++;
    }
    return 0;
}

static const ob_facade_source_t s_src = {&s_tab, s_events, s_get, s_list};

/* Fills the table with n events of timestamps ts0, ts0 + step, ... */
static void
s_fill(size_t n, uint64_t ts0, uint64_t step)
{
    memset(&s_tab, 0, sizeof s_tab);
    s_tab.n_events = n;
    s_tab.seq0 = 3;
    for (size_t i = 0; i < n; i++)
        s_tab.ts[i] = ts0 + i * step;
}

/* Routes GET path and answers query; checks status and, if body is not NULL, the body. */
static void
s_expect(const char *path, ob_facade_query_t q, unsigned status, const char *body)
{
    ob_facade_route_t route;
    assert_int_equal(ob_facade_route("GET", path, &route), 0);
    ob_facade_answer_t a;
    assert_int_equal(ob_facade_answer(&route, &q, &s_src, &a), 0);
    if (a.status != status || (body && strcmp(a.body, body)))
        fail_msg("%s: %u %s, expected %u %s", path, a.status, a.body, status, body ? body : "");
    assert_int_equal(a.len, strlen(a.body));
    assert_int_equal(a.html, 0);
    ob_facade_answer_clear(&a);
}

/* The error body of text. */
static const char *
s_err(const char *text)
{
    static char buf[S_TEXT];
    snprintf(buf, sizeof buf, "{\"error\":\"%s\"}", text);
    return buf;
}

/* The number of events in an events answer. */
static size_t
s_count_events(const char *path, ob_facade_query_t q)
{
    ob_facade_route_t route;
    assert_int_equal(ob_facade_route("GET", path, &route), 0);
    ob_facade_answer_t a;
    assert_int_equal(ob_facade_answer(&route, &q, &s_src, &a), 0);
    assert_int_equal(a.status, 200);
    size_t n = 0;
    for (const char *p = a.body; (p = strstr(p, "\"timestamp\"")); p++)
        n++;
    ob_facade_answer_clear(&a);
    return n;
}

#define S_EV "/api/v1/oms/7/events"

/* ---------------------------------------------------------------------------------------- */

static void
test_routes(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
        ob_facade_route_kind_t kind;
        uint64_t oms, p, i, m;
    } ok[] = {
        {"GET", "/api/v1/oms/7/events", OB_FACADE_R_EVENTS, 7, 0, 0, 0},
        {"HEAD", "/api/v1/oms/7/events", OB_FACADE_R_EVENTS, 7, 0, 0, 0},
        {"GET", "/api/v1/oms/7/projects", OB_FACADE_R_PROJECTS, 7, 0, 0, 0},
        {"GET", "/api/v1/oms/7/projects/3", OB_FACADE_R_PROJECT, 7, 3, 0, 0},
        {"GET", "/api/v1/oms/7/projects/3/project_items", OB_FACADE_R_ITEMS, 7, 3, 0, 0},
        {"GET", "/api/v1/oms/7/projects/3/project_items/2", OB_FACADE_R_ITEM, 7, 3, 2, 0},
        {"PATCH", "/api/v1/oms/7/projects/3/project_items/2", OB_FACADE_R_UPDATE_ITEM, 7, 3, 2, 0},
        {"PUT", "/api/v1/oms/7/projects/3/project_items/2", OB_FACADE_R_UPDATE_ITEM, 7, 3, 2, 0},
        {"GET", "/api/v1/oms/7/messages", OB_FACADE_R_MESSAGES, 7, 0, 0, 0},
        {"POST", "/api/v1/oms/7/messages", OB_FACADE_R_POST_MESSAGE, 7, 0, 0, 0},
        {"GET", "/api/v1/oms/7/messages/9", OB_FACADE_R_MESSAGE, 7, 0, 0, 9},
        {"PATCH", "/api/v1/oms/7/messages/9", OB_FACADE_R_EDIT_MESSAGE, 7, 0, 0, 9},
        {"GET", "/api/v1/oms/abc/projects/x2", OB_FACADE_R_PROJECT, 0, 0, 0, 0}, /* to_i */
        {"GET", "/api/v1/oms/07/projects/2abc", OB_FACADE_R_PROJECT, 7, 2, 0, 0},
        {"GET", "/api/v1/oms/-3/messages/-1", OB_FACADE_R_MESSAGE, 0, 0, 0, 0},
        {"GET", "/api/v1/oms/7/events/", OB_FACADE_R_EVENTS, 7, 0, 0, 0}, /* Rails ignores it */
        {"GET", "/api/v1/oms/7/projects/3.json", OB_FACADE_R_PROJECT, 7, 3, 0, 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ob_facade_route_t r;
        if (ob_facade_route(ok[i].method, ok[i].path, &r))
            fail_msg("%s %s: no route", ok[i].method, ok[i].path);
        assert_int_equal(r.kind, ok[i].kind);
        assert_int_equal(r.oms_id, ok[i].oms);
        assert_int_equal(r.project_id, ok[i].p);
        assert_int_equal(r.item_id, ok[i].i);
        assert_int_equal(r.message_id, ok[i].m);
    }
    static const char *const bad[][2] = {
        {"GET", "/api/v1/oms"},
        {"GET", "/api/v1/oms/"},
        {"GET", "/api/v1/oms/7"}, /* the OMS itself: not served */
        {"GET", "/api/v1/oms/7/"},
        {"GET", "/api/v1/oms/7/events//"},
        {"GET", "/api/v1/oms/7/events/1"},
        {"POST", "/api/v1/oms/7/events"},
        {"DELETE", "/api/v1/oms/7/messages/1"},
        {"PATCH", "/api/v1/oms/7/projects/3"}, /* declared, not implemented (4.13) */
        {"GET", "/api/v1/oms/7/projects/3/project_items/2/x"},
        {"GET", "/api/v1/oms/7/projects//project_items"},
        {"GET", "/api/v1/oms/7/things"},
        {"GET", "/api/v2/oms/7/events"},
        {"GET", "/api/v1/oms/7/projects/3/items"},
        {"GET",
         "/api/v1/oms/7/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_facade_route_t r;
        if (!ob_facade_route(bad[i][0], bad[i][1], &r))
            fail_msg("%s %s: routed", bad[i][0], bad[i][1]);
    }
    ob_facade_answer_t a;
    assert_int_equal(ob_facade_no_route(&a), 0);
    assert_int_equal(a.status, 404);
    assert_int_equal(a.html, 1);
    assert_string_equal(a.body, OB_FACADE_NO_ROUTE_HTML);
    ob_facade_answer_clear(&a);
    ob_facade_answer_clear(&a); /* twice: harmless */
    /* a write route is the caller's */
    ob_facade_route_t r;
    assert_int_equal(ob_facade_route("POST", "/api/v1/oms/7/messages", &r), 0);
    ob_facade_query_t q = {0};
    assert_int_equal(ob_facade_answer(&r, &q, &s_src, &a), -EINVAL);
}

static void
test_to_i(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t v;
    } cases[] = {
        {"12", 12},
        {"  12", 12},
        {"+12", 12},
        {"-12", -12},
        {"1_000", 1000},
        {"1__0", 1},
        {"_1", 0},
        {"2abc", 2},
        {"abc", 0},
        {"", 0},
        {"0x10", 0},
        {"\t\n7", 7},
        {"1_", 1},
        {"- 1", 0},
        {"99999999999999999999", INT64_MAX},
        {"-99999999999999999999", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (ob_facade_to_i(cases[i].text) != cases[i].v)
            fail_msg("to_i(%s) = %lld", cases[i].text, (long long)ob_facade_to_i(cases[i].text));
}

static void
test_time(void **state)
{
    (void)state;
    uint64_t us = 0;
    assert_int_equal(ob_facade_parse_time(S_T0_TEXT, &us), 0);
    assert_int_equal(us, S_T0);
    assert_int_equal(ob_facade_parse_time("2025-12-05T16:00:00.5Z", &us), 0);
    assert_int_equal(us, S_T0 + 500000);
    assert_int_equal(ob_facade_parse_time("2025-12-05T16:00:00.000001Z", &us), 0);
    assert_int_equal(us, S_T0 + 1);
    assert_int_equal(ob_facade_parse_time("2024-02-29T00:00:00Z", &us), 0); /* leap */
    assert_int_equal(ob_facade_parse_time("2000-01-01T00:00:00Z", &us), 0);
    assert_int_equal(us, 946684800ull * 1000000);
    char text[OB_GW_TIMESTAMP_TEXT_MAX];
    ob_facade_format_time(S_T0 + 999999, text);
    assert_string_equal(text, S_T0_TEXT); /* seconds, as the Marketplace shows them */
    static const char *const bad[] = {
        "2022-02-10T08:13:06",          /* no Z (the reference's own example) */
        "2022-02-10T08:13:06+07:00",    /* an offset */
        "2022-02-30T08:13:06Z",         /* February 30 */
        "2023-02-29T08:13:06Z",         /* not a leap year */
        "2022-02-10T24:00:00Z",         /* hour 24 */
        "2022-02-10T08:60:00Z",         /* minute 60 */
        "2022-02-10T08:13:60Z",         /* second 60 */
        "2022-13-10T08:13:06Z",         /* month 13 */
        "2022-00-10T08:13:06Z",         /* month 0 */
        "2022-02-00T08:13:06Z",         /* day 0 */
        "1999-12-31T23:59:59Z",         /* not 20xx */
        "2022-02-10T08:13:06.1234567Z", /* 7 fractional digits */
        "2022-02-10T08:13:06.Z",        /* none */
        "2022-02-10 08:13:06Z",         /* a blank */
        "2022-2-10T08:13:06Z",          /* one digit */
        "2022-02-10T08:13:06ZZ",        /* trailing */
        "2022-02-10T08:13:06z",         /* lower z */
        "",                             /* empty */
        "2022",                         /* short */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ob_facade_parse_time(bad[i], &us) != OB_ERR_FIELD_TYPE)
            fail_msg("%s: accepted", bad[i]);
}

static void
test_events_shape(void **state)
{
    (void)state;
    s_fill(2, S_T0 + 250000, 1);
    s_expect(S_EV, (ob_facade_query_t){.from_timestamp = "2025-12-05T15:59:59Z"}, 200,
             "{\"events\":[{\"timestamp\":\"" S_T0_TEXT "\",\"type\":\"create\",\"n\":0,"
             "\"seq\":3},{\"timestamp\":\"" S_T0_TEXT "\",\"type\":\"create\",\"n\":1,"
             "\"seq\":5}]}");
    s_expect(S_EV, (ob_facade_query_t){.from_timestamp = S_T0_TEXT, .from_seq = "5"}, 200,
             "{\"events\":[]}");
}

static void
test_events_strict(void **state)
{
    (void)state;
    /* three events in one second: T, T + 1 µs, T + 2 µs (the view's timestamps) */
    s_fill(3, S_T0, 1);
    ob_facade_query_t q = {.from_timestamp = "2025-12-05T15:59:59.999999Z"};
    assert_int_equal(s_count_events(S_EV, q), 3);
    q.from_timestamp = S_T0_TEXT; /* the first event's shown timestamp: the rest of it */
    assert_int_equal(s_count_events(S_EV, q), 2);
    q.from_timestamp = "2025-12-05T16:00:00.000001Z";
    assert_int_equal(s_count_events(S_EV, q), 1);
    q.from_timestamp = "2025-12-05T16:00:00.000002Z";
    assert_int_equal(s_count_events(S_EV, q), 0);
    q.from_timestamp = "2025-12-05T16:00:00.0000015Z"; /* 7 digits */
    s_expect(S_EV, q, 400, s_err(OB_FACADE_E_DATE));
    /* from_seq: exclusive; alone, or with a from_timestamp (both hold) */
    q = (ob_facade_query_t){.from_seq = "0"};
    assert_int_equal(s_count_events(S_EV, q), 3);
    q.from_seq = "3";
    assert_int_equal(s_count_events(S_EV, q), 2);
    q.from_seq = "4"; /* an outcome's seq between two events */
    assert_int_equal(s_count_events(S_EV, q), 2);
    q.from_seq = "7";
    assert_int_equal(s_count_events(S_EV, q), 0);
    q = (ob_facade_query_t){.from_seq = "3", .from_timestamp = "2025-12-05T16:00:00.000001Z"};
    assert_int_equal(s_count_events(S_EV, q), 1);
    q = (ob_facade_query_t){.from_seq = "0", .from_timestamp = ""}; /* empty: left out */
    assert_int_equal(s_count_events(S_EV, q), 3);
}

static void
test_events_limits(void **state)
{
    (void)state;
    s_fill(OB_GW_FACADE_LIMIT_MAX + 50, S_T0, 1000);
    const char *from = "2025-12-05T15:00:00Z";
    assert_int_equal(s_count_events(S_EV, (ob_facade_query_t){.from_timestamp = from}),
                     OB_GW_FACADE_LIMIT_DEFAULT);
    assert_int_equal(
        s_count_events(S_EV, (ob_facade_query_t){.from_timestamp = from, .limit = "5"}), 5);
    assert_int_equal(
        s_count_events(S_EV, (ob_facade_query_t){.from_timestamp = from, .limit = "2abc"}), 2);
    assert_int_equal(
        s_count_events(S_EV, (ob_facade_query_t){.from_timestamp = from, .limit = "1000000"}),
        OB_GW_FACADE_LIMIT_MAX);
    static const char *const bad[] = {"0", "-1", "abc", "", " ", "-99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect(S_EV, (ob_facade_query_t){.from_timestamp = from, .limit = bad[i]}, 400,
                 s_err(OB_FACADE_E_LIMIT));
    /* the order: limit, then from_timestamp, then from_seq */
    s_expect(S_EV, (ob_facade_query_t){.limit = "0"}, 400, s_err(OB_FACADE_E_LIMIT));
    s_expect(S_EV, (ob_facade_query_t){0}, 400, s_err(OB_FACADE_E_MISSING_TS));
    s_expect(S_EV, (ob_facade_query_t){.from_timestamp = ""}, 400, s_err(OB_FACADE_E_MISSING_TS));
    s_expect(S_EV, (ob_facade_query_t){.from_timestamp = "yesterday", .from_seq = "x"}, 400,
             s_err(OB_FACADE_E_DATE));
    static const char *const bad_seq[] = {
        "", "-1", "x", "1x", "+1", " 1", "18446744073709551616", "000000000000000000001"};
    for (size_t i = 0; i < sizeof bad_seq / sizeof bad_seq[0]; i++)
        s_expect(S_EV, (ob_facade_query_t){.from_timestamp = from, .from_seq = bad_seq[i]}, 400,
                 s_err(OB_FACADE_E_FROM_SEQ));
    s_expect(S_EV, (ob_facade_query_t){.from_seq = "18446744073709551615"}, 200, "{\"events\":[]}");
}

static void
test_projects(void **state)
{
    (void)state;
    s_fill(0, 0, 0);
    const char *path = "/api/v1/oms/7/projects";
    s_expect(path, (ob_facade_query_t){0}, 200,
             "{\"projects\":[{\"id\":1,\"project_items\":[1,2]},{\"id\":2,\"project_items\":[]},"
             "{\"id\":5,\"project_items\":[]}]}");
    s_expect(path, (ob_facade_query_t){.from_id = "1", .limit = "1"}, 200,
             "{\"projects\":[{\"id\":2,\"project_items\":[]}]}");
    s_expect(path, (ob_facade_query_t){.from_id = "abc"}, 200, NULL); /* to_i: 0 */
    s_expect(path, (ob_facade_query_t){.from_id = "5"}, 200, "{\"projects\":[]}");
    s_expect(path, (ob_facade_query_t){.from_id = "-1"}, 400, s_err(OB_FACADE_E_FROM_ID));
    s_expect(path, (ob_facade_query_t){.from_id = "-1", .limit = "0"}, 400,
             s_err(OB_FACADE_E_LIMIT));
    s_expect("/api/v1/oms/7/projects/5", (ob_facade_query_t){0}, 200,
             "{\"id\":5,\"project_items\":[]}");
    s_expect("/api/v1/oms/7/projects/4", (ob_facade_query_t){0}, 404, s_err(OB_FACADE_E_PROJECT));
    s_expect("/api/v1/oms/7/projects/abc", (ob_facade_query_t){0}, 404, s_err(OB_FACADE_E_PROJECT));
}

static void
test_items(void **state)
{
    (void)state;
    s_fill(0, 0, 0);
    s_expect("/api/v1/oms/7/projects/1/project_items", (ob_facade_query_t){0}, 200,
             "{\"project_items\":[{\"id\":1,\"project_id\":1},{\"id\":2,\"project_id\":1}]}");
    s_expect("/api/v1/oms/7/projects/1/project_items", (ob_facade_query_t){.from_id = "1"}, 200,
             "{\"project_items\":[{\"id\":2,\"project_id\":1}]}");
    s_expect("/api/v1/oms/7/projects/2/project_items", (ob_facade_query_t){0}, 200,
             "{\"project_items\":[]}");
    /* the project before the paging, as the Marketplace routes it */
    s_expect("/api/v1/oms/7/projects/9/project_items", (ob_facade_query_t){.limit = "0"}, 404,
             s_err(OB_FACADE_E_PROJECT));
    s_expect("/api/v1/oms/7/projects/1/project_items", (ob_facade_query_t){.limit = "0"}, 400,
             s_err(OB_FACADE_E_LIMIT));
    s_expect("/api/v1/oms/7/projects/1/project_items/2", (ob_facade_query_t){0}, 200,
             "{\"id\":2,\"project_id\":1}");
    s_expect("/api/v1/oms/7/projects/1/project_items/3", (ob_facade_query_t){0}, 404,
             s_err(OB_FACADE_E_ITEM));
    s_expect("/api/v1/oms/7/projects/9/project_items/1", (ob_facade_query_t){0}, 404,
             s_err(OB_FACADE_E_PROJECT));
}

static void
test_messages(void **state)
{
    (void)state;
    s_fill(0, 0, 0);
    const char *path = "/api/v1/oms/7/messages";
    s_expect(path, (ob_facade_query_t){.project_id = "1"}, 200,
             "{\"messages\":[{\"id\":10},{\"id\":12}]}");
    s_expect(path, (ob_facade_query_t){.project_id = "1", .from_id = "10"}, 200,
             "{\"messages\":[{\"id\":12}]}");
    s_expect(path, (ob_facade_query_t){.project_id = "1", .project_item_id = "1"}, 200,
             "{\"messages\":[{\"id\":11}]}");
    s_expect(path, (ob_facade_query_t){.project_id = "1", .project_item_id = "2"}, 200,
             "{\"messages\":[]}");
    s_expect(path, (ob_facade_query_t){0}, 404, s_err(OB_FACADE_E_PROJECT));
    s_expect(path, (ob_facade_query_t){.project_id = "9"}, 404, s_err(OB_FACADE_E_PROJECT));
    s_expect(path, (ob_facade_query_t){.project_id = "1", .project_item_id = "7"}, 404,
             s_err(OB_FACADE_E_ITEM));
    s_expect(path, (ob_facade_query_t){.project_id = "1", .project_item_id = ""}, 404,
             s_err(OB_FACADE_E_ITEM));
    /* paging first */
    s_expect(path, (ob_facade_query_t){.from_id = "-2"}, 400, s_err(OB_FACADE_E_FROM_ID));
    s_expect("/api/v1/oms/7/messages/13", (ob_facade_query_t){0}, 200, "{\"id\":13}");
    s_expect("/api/v1/oms/7/messages/14", (ob_facade_query_t){0}, 404, s_err(OB_FACADE_E_MESSAGE));
}

static void
test_source_fails(void **state)
{
    (void)state;
    s_fill(3, S_T0, 1);
    s_tab.fail = 1;
    ob_facade_route_t r;
    ob_facade_answer_t a = {0};
    ob_facade_query_t q = {.from_timestamp = S_T0_TEXT};
    assert_int_equal(ob_facade_route("GET", S_EV, &r), 0);
    assert_int_equal(ob_facade_answer(&r, &q, &s_src, &a), -EIO);
    assert_null(a.body);
    assert_int_equal(ob_facade_route("GET", "/api/v1/oms/7/projects/1", &r), 0);
    assert_int_equal(ob_facade_answer(&r, &q, &s_src, &a), -EIO);
    s_tab.fail = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* ob_facade_index */

static ob_event_t
s_event(const char *type, uint64_t p, uint64_t i, uint64_t m, const char *data)
{
    ob_event_t ev = {.id = "x",
                     .topic = "oms.7",
                     .type = type,
                     .time_us = S_T0,
                     .oms_id = 7,
                     .project_id = p,
                     .project_item_id = i,
                     .message_id = m,
                     .data = (const uint8_t *)data,
                     .data_len = data ? strlen(data) : 0};
    return ev;
}

static void
test_index_feed(void **state)
{
    (void)state;
    ob_facade_entry_t e;
    ob_event_t ev = s_event("project.created", 4, 0, 0,
                            "{\"id\":4,\"owner\":{\"uid\":\"u\"},\"project_items\":[],"
                            "\"attributes\":{}}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields, "\"type\":\"create\",\"resource\":\"project\",\"project_id\":4");
    assert_int_equal(e.fields_len, strlen(e.fields));
    assert_int_equal(e.kind, OB_FACADE_PROJECT);
    assert_int_equal(e.id, 4);
    assert_string_equal(e.json, "{\"id\":4,\"owner\":{\"uid\":\"u\"},\"project_items\":[],"
                                "\"attributes\":{}}");
    ob_facade_entry_clear(&e);

    ob_change_t changes[] = {{"status.value", "created", "ready"},
                             {"status.type", "created", "ready"},
                             {"user_secrets", NULL, "<OBFUSCATED>"}};
    ev = s_event("project_item.status_changed", 4, 2, 0,
                 "{\"id\":2,\"project_id\":4,\"status\":{\"value\":\"ready\",\"type\":\"ready\"},"
                 "\"attributes\":{},\"user_secrets\":{\"a\":\"<OBFUSCATED>\"}}");
    ev.changes = changes;
    ev.changes_count = 3;
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields,
                        "\"type\":\"update\",\"resource\":\"project_item\",\"changes\":["
                        "{\"field\":\"status.value\",\"before\":\"created\",\"after\":\"ready\"},"
                        "{\"field\":\"status.type\",\"before\":\"created\",\"after\":\"ready\"},"
                        "{\"field\":\"user_secrets\",\"before\":null,\"after\":\"<OBFUSCATED>\"}"
                        "],\"project_id\":4,\"project_item_id\":2");
    assert_int_equal(e.kind, OB_FACADE_ITEM);
    assert_int_equal(e.id, 2);
    assert_int_equal(e.project_id, 4);
    ob_facade_entry_clear(&e);

    ev = s_event("project_item.created", 4, 3, 0, NULL); /* no snapshot: fields only */
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields,
                        "\"type\":\"create\",\"resource\":\"project_item\",\"project_id\":4,"
                        "\"project_item_id\":3");
    assert_int_equal(e.kind, OB_FACADE_NONE);
    assert_null(e.json);
    ob_facade_entry_clear(&e);

    ev = s_event("project_item.updated", 4, 3, 0, NULL); /* an update without changes */
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields, "\"type\":\"update\",\"resource\":\"project_item\",\"changes\":"
                                  "[],\"project_id\":4,\"project_item_id\":3");
    ob_facade_entry_clear(&e);

    ev = s_event("message.posted", 4, 3, 12,
                 "{\"id\":12,\"author\":{\"role\":\"user\"},\"content\":\"<OBFUSCATED>\","
                 "\"scope\":\"user_direct\",\"created_at\":\"" S_T0_TEXT
                 "\",\"updated_at\":\"" S_T0_TEXT "\"}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields, "\"type\":\"create\",\"resource\":\"message\",\"project_id\":4,"
                                  "\"project_item_id\":3,\"message_id\":12");
    assert_int_equal(e.kind, OB_FACADE_MESSAGE);
    assert_int_equal(e.id, 12);
    assert_int_equal(e.project_id, 4);
    assert_int_equal(e.item_id, 3);
    ob_facade_entry_clear(&e);

    ob_change_t edit[] = {{"content", "a", "b"}};
    ev = s_event("message.edited", 0, 0, 12, NULL); /* approval request: project_id null */
    ev.changes = edit;
    ev.changes_count = 1;
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.fields, "\"type\":\"update\",\"resource\":\"message\",\"changes\":[{"
                                  "\"field\":\"content\",\"before\":\"a\",\"after\":\"b\"}],"
                                  "\"project_id\":null,\"message_id\":12");
    ob_facade_entry_clear(&e);
}

static void
test_index_snapshots(void **state)
{
    (void)state;
    ob_facade_entry_t e;
    /* an item's secrets obfuscated whatever the snapshot held */
    ob_event_t ev = s_event("project_item.updated", 4, 2, 0,
                            "{\"id\":2,\"project_id\":4,\"user_secrets\":{\"a\":\"clear\","
                            "\"b\":\"<OBFUSCATED>\"}}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_string_equal(e.json, "{\"id\":2,\"project_id\":4,\"user_secrets\":{\"a\":"
                                "\"<OBFUSCATED>\",\"b\":\"<OBFUSCATED>\"}}");
    ob_facade_entry_clear(&e);
    /* malformed snapshots: the fields stay, no snapshot */
    static const struct {
        const char *type;
        const char *data;
    } bad[] = {
        {"project_item.updated", "{\"id\":3,\"project_id\":4}"}, /* another item */
        {"project_item.updated", "{\"id\":2,\"project_id\":5}"}, /* another project */
        {"project_item.updated", "{\"id\":2}"},                  /* no project */
        {"project_item.updated", "[1]"},
        {"project_item.updated", "{\"id\":\"2\",\"project_id\":4}"},
        {"project_item.updated", "{\"id\":2,\"id\":2,\"project_id\":4}"}, /* duplicate key */
        {"project_item.updated", "not json"},
        {"project.created", "{\"id\":4}"}, /* no project_items */
        {"message.posted", "{\"id\":0}"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ev = s_event(bad[i].type, 4, 2, 9, bad[i].data);
        if (!strcmp(bad[i].type, "project.created"))
            ev.project_item_id = 0;
        assert_int_equal(ob_facade_index(&ev, &e), OB_ERR_MALFORMED);
        assert_non_null(e.fields);
        assert_null(e.json);
        assert_int_equal(e.kind, OB_FACADE_NONE);
        ob_facade_entry_clear(&e);
    }
    /* too large */
    size_t big = OB_GW_RESOURCE_BODY_MAX + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, ' ', big);
    text[big] = '\0';
    ev = s_event("project.created", 4, 0, 0, text);
    assert_int_equal(ob_facade_index(&ev, &e), OB_ERR_TOO_LARGE);
    assert_non_null(e.fields);
    ob_facade_entry_clear(&e);
    free(text);
}

static void
test_index_outcomes(void **state)
{
    (void)state;
    ob_facade_entry_t e;
    /* a PATCH's answer shows the secrets sent in clear: the view keeps none */
    ob_event_t ev =
        s_event("command.completed", 4, 2, 0,
                "{\"command_id\":\"c1\",\"command\":\"update_project_item\","
                "\"status\":200,\"response\":{\"id\":2,\"project_id\":4,\"status\":"
                "{\"value\":\"v\",\"type\":\"ready\"},\"user_secrets\":{\"k\":\"s\"}}}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_null(e.fields);
    assert_int_equal(e.kind, OB_FACADE_ITEM);
    assert_int_equal(e.id, 2);
    assert_int_equal(e.project_id, 4);
    assert_string_equal(e.json, "{\"id\":2,\"project_id\":4,\"status\":{\"value\":\"v\",\"type\":"
                                "\"ready\"},\"user_secrets\":{\"k\":\"<OBFUSCATED>\"}}");
    ob_facade_entry_clear(&e);
    /* a posted user_direct message: its content is shown obfuscated, as a GET would */
    ev = s_event("command.completed", 4, 0, 31,
                 "{\"command_id\":\"c2\",\"command\":\"post_message\",\"status\":201,"
                 "\"response\":{\"id\":31,\"author\":{\"role\":\"provider\"},\"content\":"
                 "\"secret\",\"scope\":\"user_direct\"}}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_int_equal(e.kind, OB_FACADE_MESSAGE);
    assert_int_equal(e.id, 31);
    assert_int_equal(e.project_id, 4);
    assert_int_equal(e.item_id, 0);
    assert_string_equal(e.json, "{\"id\":31,\"author\":{\"role\":\"provider\"},\"content\":"
                                "\"<OBFUSCATED>\",\"scope\":\"user_direct\"}");
    ob_facade_entry_clear(&e);
    /* an edit: placement unknown (0) */
    ev = s_event("command.completed", 0, 0, 31,
                 "{\"command_id\":\"c3\",\"command\":\"edit_message\",\"status\":200,"
                 "\"response\":{\"id\":31,\"content\":\"new\",\"scope\":\"public\"}}");
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_int_equal(e.kind, OB_FACADE_MESSAGE);
    assert_int_equal(e.project_id, 0);
    assert_string_equal(e.json, "{\"id\":31,\"content\":\"new\",\"scope\":\"public\"}");
    ob_facade_entry_clear(&e);
    /* nothing from a failure, a refusal, another type, or no data */
    static const char *const none[] = {
        ("{\"command_id\":\"c\",\"command\":\"update_project_item\",\"status\":404,"
         "\"error\":\"Project item not found\"}"),
        "{\"command_id\":\"c\",\"command\":null,\"status\":0,\"error\":\"bad\"}",
        "{\"command_id\":\"c\",\"command\":\"other\",\"status\":200,\"response\":{}}",
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        ev = s_event("command.completed", 4, 2, 0, none[i]);
        assert_int_equal(ob_facade_index(&ev, &e), 0);
        assert_int_equal(e.kind, OB_FACADE_NONE);
        assert_null(e.json);
        assert_null(e.fields);
    }
    ev = s_event("command.failed", 4, 2, 0, none[0]);
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    assert_null(e.fields);
    assert_int_equal(e.kind, OB_FACADE_NONE);
    ev = s_event("command.completed", 4, 2, 0, NULL);
    assert_int_equal(ob_facade_index(&ev, &e), 0);
    ev = s_event("command.completed", 4, 2, 0,
                 "{\"command\":\"update_project_item\",\"status\":200,\"response\":[]}");
    assert_int_equal(ob_facade_index(&ev, &e), OB_ERR_MALFORMED);
    assert_null(e.json);
}

static void
test_project_merge(void **state)
{
    (void)state;
    const char *p = "{\"id\":4,\"owner\":{},\"project_items\":[3,1],\"attributes\":{}}";
    uint64_t iids[] = {2, 3, 5};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(ob_facade_project_merge(p, strlen(p), iids, 3, &out, &len), 0);
    assert_string_equal(out, "{\"id\":4,\"owner\":{},\"project_items\":[1,2,3,5],"
                             "\"attributes\":{}}");
    assert_int_equal(len, strlen(out));
    free(out);
    static const char *const bad[] = {"{\"id\":4}", "{\"project_items\":[\"1\"]}",
                                      "{\"project_items\":[0]}", "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ob_facade_project_merge(bad[i], strlen(bad[i]), iids, 1, &out, &len),
                         OB_ERR_MALFORMED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),         cmocka_unit_test(test_to_i),
        cmocka_unit_test(test_time),           cmocka_unit_test(test_events_shape),
        cmocka_unit_test(test_events_strict),  cmocka_unit_test(test_events_limits),
        cmocka_unit_test(test_projects),       cmocka_unit_test(test_items),
        cmocka_unit_test(test_messages),       cmocka_unit_test(test_source_fails),
        cmocka_unit_test(test_index_feed),     cmocka_unit_test(test_index_snapshots),
        cmocka_unit_test(test_index_outcomes), cmocka_unit_test(test_project_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
