/*  test_mp_double: orderbus-mp-double as a real process on an ephemeral loopback port. Every
    Ordering API endpoint and error string, the from_timestamp rules, limit rules, per-project
    iids, the scope rule, triggers (with a receiver served by libmicrohttpd in this test), and
    the injected faults. Each test starts its own double with three OMSes:
    1 "SOMBO" (the default OMS, token T_DEF), 2 "X OMS" (T_X), 3 "Y OMS" (T_Y). */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mp_double_proc.h"

#define T_DEF "tok-default-admin"
#define T_X "tok-x-admin"
#define T_Y "tok-y-admin"
#define T_WAIT_MS 10000                      /* wait for a trigger or a state */
#define T_RECV_MAX 64                        /* requests a receiver records */
#define T_TEXT_MAX 512                       /* bytes of a recorded field */
#define T_HANG_MS 1500                       /* an injected hang */
#define T_CLIENT_MS 300                      /* a client that gives up before the hang ends */
#define T_SLOW_MS 800                        /* an injected slow answer */
#define T_PATH_MAX 512                       /* bytes of a request path */
#define T_SECOND_LEN 19                      /* bytes of 2021-05-25T21:07:42 */
#define T_CREDS "Basic bmFtZToxMjM0MTIzNA==" /* name:12341234, URL-safe alphabet */

/* ---- helpers ---- */

static long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A control call that must succeed; takes body. */
static json_t *
s_ctl(const mp_double_proc_t *mp, const char *call, json_t *body)
{
    assert_non_null(body);
    json_t *answer = mp_double_proc_control(mp, call, body);
    json_decref(body);
    assert_non_null(answer);
    return answer;
}

/* A control call that must fail; takes body. */
static void
s_ctl_fails(const mp_double_proc_t *mp, const char *call, json_t *body)
{
    assert_non_null(body);
    json_t *answer = mp_double_proc_control(mp, call, body);
    json_decref(body);
    assert_null(answer);
}

static void
s_ctl_drop(const mp_double_proc_t *mp, const char *call, json_t *body)
{
    json_decref(s_ctl(mp, call, body));
}

/* An API call; returns the status and the body (a new reference) in *ret. */
static long s_api(const mp_double_proc_t *mp, const char *method, const char *token,
                  const char *body, json_t **ret, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static long
s_api(const mp_double_proc_t *mp, const char *method, const char *token, const char *body,
      json_t **ret, const char *fmt, ...)
{
    char path[T_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    char *text = NULL;
    long status = mp_double_proc_raw(mp, method, path, token, body, &text);
    *ret = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return status;
}

/* Expects status and {"error": text}. */
static void
s_expect_error(const mp_double_proc_t *mp, const char *method, const char *token, const char *body,
               long status, const char *text, const char *path)
{
    json_t *answer = NULL;
    assert_int_equal(s_api(mp, method, token, body, &answer, "%s", path), status);
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(answer, "error")), text);
    json_decref(answer);
}

/* GET events of oms from from_ts (URL-ready) with limit (0: none); returns the array. */
static json_t *
s_events(const mp_double_proc_t *mp, int oms, const char *token, const char *from_ts, int limit)
{
    json_t *answer = NULL;
    char lim[32] = "";
    if (limit)
        snprintf(lim, sizeof lim, "&limit=%d", limit);
    assert_int_equal(s_api(mp, "GET", token, NULL, &answer,
                           "/api/v1/oms/%d/events?from_timestamp=%s%s", oms, from_ts, lim),
                     200);
    json_t *events = json_incref(json_object_get(answer, "events"));
    json_decref(answer);
    assert_true(json_is_array(events));
    return events;
}

static json_t *
s_project(const mp_double_proc_t *mp)
{
    return s_ctl(mp, "projects",
                 json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "owner", "uid", "u-1",
                           "email", "ann@example.org", "name", "Ann Lee", "first_name", "Ann",
                           "last_name", "Lee", "attributes", "name", "Project A",
                           "customer_typology", "research"));
}

static long
s_new_project(const mp_double_proc_t *mp)
{
    json_t *p = s_project(mp);
    long id = (long)json_integer_value(json_object_get(p, "id"));
    json_decref(p);
    return id;
}

/* Orders an item of project for primary OMS (0: none); returns its iid. */
static long
s_order(const mp_double_proc_t *mp, long project, long primary)
{
    json_t *spec =
        json_pack("{s:I, s:{s:s, s:s}, s:{s:s}}", "project_id", (json_int_t)project, "attributes",
                  "service", "Compute", "offer", "Small", "user_secrets", "password", "s3cret");
    if (primary)
        json_object_set_new(spec, "primary_oms_id", json_integer(primary));
    json_t *item = s_ctl(mp, "project_items", spec);
    long iid = (long)json_integer_value(json_object_get(item, "id"));
    json_decref(item);
    return iid;
}

/* The microsecond created_at of the event with this seq, from /_control/state. */
static char *
s_created_at(const mp_double_proc_t *mp, long seq)
{
    json_t *state = mp_double_proc_get(mp, "state");
    assert_non_null(state);
    char *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(state, "events"), i, e)
    {
        if (json_integer_value(json_object_get(e, "seq")) == seq)
            found = strdup(json_string_value(json_object_get(e, "created_at")));
    }
    json_decref(state);
    assert_non_null(found);
    return found;
}

static int
s_setup(void **state)
{
    mp_double_proc_t *mp = calloc(1, sizeof *mp);
    assert_non_null(mp);
    assert_int_equal(mp_double_proc_start(mp, "--trigger-retry-scale-ms", "1", NULL), 0);
    s_ctl_drop(mp, "oms",
               json_pack("{s:I, s:s, s:s, s:b, s:s, s:{s:{s:b}}}", "id", (json_int_t)1, "name",
                         "SOMBO", "type", "global", "default", 1, "token", T_DEF, "custom_params",
                         "order_target", "mandatory", 0));
    s_ctl_drop(
        mp, "oms",
        json_pack("{s:s, s:s, s:s}", "name", "X OMS", "type", "provider_group", "token", T_X));
    s_ctl_drop(mp, "oms",
               json_pack("{s:s, s:s, s:s}", "name", "Y OMS", "type", "global", "token", T_Y));
    *state = mp;
    return 0;
}

static int
s_teardown(void **state)
{
    mp_double_proc_t *mp = *state;
    int status = mp_double_proc_stop(mp, SIGTERM);
    free(mp);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* a clean stop */
    return 0;
}

/* ---- the process ---- */

static void
test_help(void **state)
{
    (void)state;
    char cmd[T_PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' --help", getenv("OB_MP_DOUBLE"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[T_TEXT_MAX];
    assert_non_null(fgets(line, sizeof line, p));
    assert_non_null(strstr(line, "usage: orderbus-mp-double"));
    while (fgets(line, sizeof line, p))
        ;
    assert_int_equal(pclose(p), 0);
    snprintf(cmd, sizeof cmd, "'%s' --port 70000 2>/dev/null", getenv("OB_MP_DOUBLE"));
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    /* --port-file: the bound port, written before the "listening" line */
    char dir[] = "/tmp/test_mp_double-XXXXXX", file[T_PATH_MAX];
    assert_non_null(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/port", dir);
    mp_double_proc_t mp;
    assert_int_equal(mp_double_proc_start(&mp, "--port-file", file, NULL), 0);
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    unsigned port = 0;
    assert_int_equal(fscanf(f, "%u", &port), 1);
    fclose(f);
    assert_int_equal(port, mp.port);
    json_t *faults = mp_double_proc_control(&mp, "faults", NULL); /* it answers there */
    assert_non_null(faults);
    json_decref(faults);
    int status = mp_double_proc_stop(&mp, SIGINT);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* ---- authentication, routing, OMS endpoints (2.1, 3.1, 4.1, 4.2, 4.13) ---- */

static void
test_auth_and_routes(void **state)
{
    mp_double_proc_t *mp = *state;
    s_expect_error(mp, "GET", NULL, NULL, 401, "You need to sign in or sign up before continuing.",
                   "/api/v1/oms");
    s_expect_error(mp, "GET", "nobody", NULL, 401,
                   "You need to sign in or sign up before continuing.", "/api/v1/oms/2");
    s_expect_error(mp, "GET", T_Y, NULL, 403, "You are not authorized to perform this action.",
                   "/api/v1/oms/2");
    s_expect_error(mp, "GET", T_DEF, NULL, 403, "You are not authorized to perform this action.",
                   "/api/v1/oms/2/projects");
    s_expect_error(mp, "GET", T_X, NULL, 404, "OMS not found", "/api/v1/oms/99");
    s_ctl_drop(mp, "users", json_pack("{s:s}", "token", "tok-user"));
    s_expect_error(mp, "GET", "tok-user", NULL, 403,
                   "You are not authorized to perform this action.", "/api/v1/oms/1/events");
    json_t *none = NULL;
    assert_int_equal(s_api(mp, "GET", "tok-user", NULL, &none, "/api/v1/oms"), 200);
    assert_int_equal(json_array_size(json_object_get(none, "omses")), 0);
    json_decref(none);
    s_expect_error(mp, "GET", T_X, NULL, 404, "OMS not found", "/api/v1/oms/abc/projects");
    /* unknown routes and the declared-but-missing update actions: 404, before the token */
    json_t *answer = NULL;
    assert_int_equal(s_api(mp, "GET", NULL, NULL, &answer, "/api/v1/omses"), 404);
    assert_int_equal(s_api(mp, "PATCH", T_X, "{}", &answer, "/api/v1/oms/2"), 404);
    assert_int_equal(s_api(mp, "PATCH", T_X, "{}", &answer, "/api/v1/oms/2/projects/1"), 404);
    assert_int_equal(s_api(mp, "DELETE", T_X, NULL, &answer, "/api/v1/oms/2/messages/1"), 404);
    assert_null(answer);
    /* the OMSes the caller administers, ordered by id, without the token */
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), 200);
    json_t *omses = json_object_get(answer, "omses");
    assert_int_equal(json_array_size(omses), 1);
    json_t *x = json_array_get(omses, 0);
    assert_int_equal(json_integer_value(json_object_get(x, "id")), 2);
    assert_string_equal(json_string_value(json_object_get(x, "type")), "provider_group");
    assert_true(json_is_false(json_object_get(x, "default")));
    assert_null(json_object_get(x, "custom_params")); /* only when non-empty */
    assert_null(json_object_get(x, "trigger"));
    assert_null(json_object_get(x, "token"));
    json_decref(answer);
    assert_int_equal(s_api(mp, "GET", T_DEF, NULL, &answer, "/api/v1/oms/1"), 200);
    assert_true(json_is_true(json_object_get(answer, "default")));
    assert_true(json_is_false(json_object_get(
        json_object_get(json_object_get(answer, "custom_params"), "order_target"), "mandatory")));
    json_decref(answer);
}

/* ---- the event feed: from_timestamp (2.6, 4.3) ---- */

static void
test_from_timestamp(void **state)
{
    mp_double_proc_t *mp = *state;
    static const char *const valid[] = {
        "2021-04-07T15:31:46Z", "2021-04-07T15:31:46.1Z", "2021-04-07T15:31:46.123456Z",
        "2024-02-29T00:00:00Z", "2000-01-01T23:59:59Z",
    };
    static const char *const invalid[] = {
        "2022-02-10T08:13:06",         /* no Z */
        "2022-02-10T08:13:06%2B07:00", /* an offset */
        "2022-02-10T08:13:06.000%2B07:00",
        "2022-02-30T08:13:06Z", /* February 30 */
        "2023-02-29T08:13:06Z", /* not a leap year */
        "2022-13-01T00:00:00Z",
        "2022-01-01T24:00:00Z",
        "2022-01-01T00:60:00Z",
        "2022-02-10T08:13:06.1234567Z", /* seven fractional digits */
        "2022-02-10T08:13:06.Z",
        "1999-12-31T23:59:59Z",
        "-100",
        "2022-02-10",
        "2022-02-10T08:13:06z",
        "2022-02-10%2008:13:06Z",
        "2022-2-10T08:13:06Z",
        "%202022-02-10T08:13:06Z",
        "2022-02-10T08:13:06Zjunk",
    };
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++)
        json_decref(s_events(mp, 2, T_X, valid[i], 0));
    char path[T_PATH_MAX];
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        snprintf(path, sizeof path, "/api/v1/oms/2/events?from_timestamp=%s", invalid[i]);
        s_expect_error(mp, "GET", T_X, NULL, 400, "invalid date", path);
    }
    static const char missing[] = "param is missing or the value is empty: from_timestamp";
    s_expect_error(mp, "GET", T_X, NULL, 400, missing, "/api/v1/oms/2/events");
    s_expect_error(mp, "GET", T_X, NULL, 400, missing, "/api/v1/oms/2/events?from_timestamp=");
    /* the last value of a repeated parameter counts, as in Rails */
    json_decref(s_events(mp, 2, T_X, "bad&from_timestamp=2021-01-01T00:00:00Z", 0));
}

/* Shown to the second, filtered to the microsecond, strictly after (2.6, 4.3, 6.4 point 1). */
static void
test_timestamp_precision(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp); /* event 1 */
    s_order(mp, p, 2);          /* event 2 */
    json_t *events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 2);
    const char *shown = json_string_value(json_object_get(json_array_get(events, 0), "timestamp"));
    assert_int_equal(strlen(shown), strlen("2021-05-25T21:07:42Z"));
    assert_int_equal(shown[strlen(shown) - 1], 'Z');
    char *first = s_created_at(mp, 1), *second = s_created_at(mp, 2);
    assert_int_equal(strlen(first), strlen("2021-05-25T21:07:42.123456Z"));
    assert_memory_equal(first, shown, strlen("2021-05-25T21:07:42")); /* truncated, same */
    json_t *after = s_events(mp, 2, T_X, first, 0);                   /* strictly after event 1 */
    assert_int_equal(json_array_size(after), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(after, 0), "resource")),
                        "project_item");
    json_decref(after);
    after = s_events(mp, 2, T_X, second, 0);
    assert_int_equal(json_array_size(after), 0);
    json_decref(after);
    free(first);
    free(second);
    json_decref(events);
}

/* ---- limit and from_id (2.4) ---- */

static void
test_limit_rules(void **state)
{
    mp_double_proc_t *mp = *state;
    for (int i = 0; i < 25; i++)
        s_new_project(mp);
    static const char *const bad_limits[] = {"0", "-1", "abc", "", "%20-5", "0x10"};
    char path[T_PATH_MAX];
    for (size_t i = 0; i < sizeof bad_limits / sizeof *bad_limits; i++) {
        snprintf(path, sizeof path, "/api/v1/oms/1/projects?limit=%s", bad_limits[i]);
        s_expect_error(mp, "GET", T_DEF, NULL, 400, "'limit' must be a positive integer", path);
        snprintf(path, sizeof path,
                 "/api/v1/oms/1/events?from_timestamp=2020-01-01T00:00:00Z&limit=%s",
                 bad_limits[i]);
        s_expect_error(mp, "GET", T_DEF, NULL, 400, "'limit' must be a positive integer", path);
    }
    s_expect_error(mp, "GET", T_DEF, NULL, 400, "'from_id' must be a non-negative integer",
                   "/api/v1/oms/1/projects?from_id=-1");
    /* to_i: default 20, no maximum, leading digits count, a non-number from_id is 0 */
    static const struct {
        const char *query;
        size_t count;
        long first;
    } cases[] = {
        {"", 20, 1},
        {"?limit=2abc", 2, 1},
        {"?limit=%203", 3, 1},
        {"?limit=1_0", 10, 1},
        {"?limit=1000", 25, 1},
        {"?from_id=20", 5, 21},
        {"?from_id=abc&limit=1", 1, 1},
        {"?from_id=24&limit=5", 1, 25},
        {"?from_id=25", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *answer = NULL;
        assert_int_equal(
            s_api(mp, "GET", T_DEF, NULL, &answer, "/api/v1/oms/1/projects%s", cases[i].query),
            200);
        json_t *list = json_object_get(answer, "projects");
        assert_int_equal(json_array_size(list), cases[i].count);
        if (cases[i].count)
            assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "id")),
                             cases[i].first);
        json_decref(answer);
    }
    json_t *events = s_events(mp, 1, T_DEF, "2020-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 20);
    json_decref(events);
}

/* ---- projects and project items: per-project iids, scopes (2.5, 3.4, 4.4-4.7) ---- */

static void
test_projects_and_iids(void **state)
{
    mp_double_proc_t *mp = *state;
    long p1 = s_new_project(mp), p2 = s_new_project(mp);
    assert_int_equal(s_order(mp, p1, 2), 1);
    assert_int_equal(s_order(mp, p1, 3), 2);
    assert_int_equal(s_order(mp, p2, 2), 1); /* iids restart per project */
    assert_int_equal(s_order(mp, p1, 0), 3); /* no primary OMS: the default OMS's */
    json_t *answer = NULL;
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/projects/%ld", p1), 200);
    json_t *iids = json_object_get(answer, "project_items"); /* all items, not only X's */
    assert_int_equal(json_array_size(iids), 3);
    assert_int_equal(json_integer_value(json_array_get(iids, 2)), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(answer, "owner"), "uid")),
                        "u-1");
    json_t *pattrs = json_object_get(answer, "attributes");
    assert_string_equal(json_string_value(json_object_get(pattrs, "customer_typology")),
                        "research");
    assert_true(json_is_null(json_object_get(pattrs, "country")));
    assert_true(json_is_array(json_object_get(pattrs, "scientific_domains")));
    json_decref(answer);
    assert_int_equal(
        s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/projects/%ld/project_items", p1), 200);
    json_t *items = json_object_get(answer, "project_items");
    assert_int_equal(json_array_size(items), 1); /* only X's item */
    json_t *item = json_array_get(items, 0);
    assert_int_equal(json_integer_value(json_object_get(item, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(item, "project_id")), p1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(item, "user_secrets"), "password")),
        "<OBFUSCATED>");
    assert_null(json_object_get(item, "oms_params"));
    json_t *attrs = json_object_get(item, "attributes"); /* the keys the serializer emits */
    assert_string_equal(json_string_value(json_object_get(attrs, "service")), "Compute");
    assert_int_equal(json_array_size(json_object_get(attrs, "platforms")), 0);
    assert_true(json_is_false(json_object_get(attrs, "request_voucher")));
    assert_string_equal(json_string_value(json_object_get(attrs, "order_type")), "order_required");
    json_decref(answer);
    assert_int_equal(
        s_api(mp, "GET", T_DEF, NULL, &answer, "/api/v1/oms/1/projects/%ld/project_items", p1),
        200);
    assert_int_equal(json_array_size(json_object_get(answer, "project_items")), 3);
    json_decref(answer);
    assert_int_equal(
        s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/projects/%ld/project_items/1", p2),
        200);
    assert_int_equal(json_integer_value(json_object_get(answer, "project_id")), p2);
    json_decref(answer);
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project item not found",
                   "/api/v1/oms/2/projects/1/project_items/2"); /* Y's */
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project item not found",
                   "/api/v1/oms/2/projects/1/project_items/9");
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project not found", "/api/v1/oms/2/projects/9");
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project not found",
                   "/api/v1/oms/2/projects/9/project_items");
    long p3 = s_new_project(mp);
    s_order(mp, p3, 3);
    char path[T_PATH_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/2/projects/%ld", p3);
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project not found", path); /* Y's only */
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/projects"), 200);
    assert_int_equal(json_array_size(json_object_get(answer, "projects")), 2);
    json_decref(answer);
}

/* A project's create event stays invisible to an OMS until the project has an item of it, and
   then appears behind the cursor (6.4 point 4). */
static void
test_scope_rule(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    json_t *events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    events = s_events(mp, 1, T_DEF, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 1); /* the default OMS sees all */
    json_decref(events);
    s_order(mp, p, 3); /* Y's item: still nothing for X */
    events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    s_order(mp, p, 2);
    events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 2);
    json_t *first = json_array_get(events, 0), *second = json_array_get(events, 1);
    assert_string_equal(json_string_value(json_object_get(first, "resource")), "project");
    assert_string_equal(json_string_value(json_object_get(first, "type")), "create");
    assert_null(json_object_get(first, "project_item_id"));
    assert_null(json_object_get(first, "changes"));
    assert_string_equal(json_string_value(json_object_get(second, "resource")), "project_item");
    assert_int_equal(json_integer_value(json_object_get(second, "project_item_id")), 2);
    json_decref(events);
    char *cursor = s_created_at(mp, 2); /* Y's item: X's cursor could have been past it */
    events = s_events(mp, 2, T_X, cursor, 0);
    assert_int_equal(json_array_size(events), 1); /* the project's create lies behind */
    json_decref(events);
    free(cursor);
}

/* ---- PATCH of a project item (4.8, 5.5) ---- */

static void
test_patch_item(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    s_order(mp, p, 2);
    const char *path = "/api/v1/oms/2/projects/1/project_items/1";
    static const struct {
        const char *body;
        const char *error;
    } bad[] = {
        {"{\"status\":{\"value\":\"x\",\"type\":\"LOL\"}}",
         "The property '#/status/type' value \"LOL\" did not match one of the following values: "
         "rejected, waiting_for_response, registered, in_progress, ready, closed, approved"},
        {"{\"status\":{\"value\":\"x\",\"type\":\"created\"}}",
         "The property '#/status/type' value \"created\" did not match one of the following "
         "values: rejected, waiting_for_response, registered, in_progress, ready, closed, "
         "approved"},
        {"{\"status\":{\"value\":5,\"type\":\"ready\"}}",
         "The property '#/status/value' of type integer did not match the following type: string"},
        {"{\"status\":{\"type\":\"ready\"}}",
         "The property '#/status' did not contain a required property of 'value'"},
        {"{}", "The property '#/' of type object did not match one or more of the required "
               "schemas"},
        {"{\"user_secrets\":{},\"id\":1}",
         "The property '#/' contains additional properties [\"id\"] outside of the schema when "
         "none are allowed"},
        {"{\"user_secrets\":\"a\"}",
         "The property '#/user_secrets' of type string did not match the following type: object"},
        {"[]", "The property '#/' of type array did not match the following type: object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        s_expect_error(mp, "PATCH", T_X, bad[i].body, 400, bad[i].error, path);
    json_t *answer = NULL;
    assert_int_equal(s_api(mp, "PATCH", T_X, "{\"user_secrets\":{\"a\":1}}", &answer, "%s", path),
                     400);
    json_t *field = json_object_get(json_object_get(answer, "error"), "user_secrets");
    assert_string_equal(json_string_value(json_array_get(field, 0)), "values must be strings");
    json_decref(answer);
    /* only the item's primary OMS writes it, not the default OMS (3.3) */
    s_expect_error(mp, "PATCH", T_DEF, "{\"status\":{\"value\":\"v\",\"type\":\"ready\"}}", 403,
                   "You are not authorized to perform this action.",
                   "/api/v1/oms/1/projects/1/project_items/1");
    /* no state machine: created -> ready is fine; sent secrets in clear, others obfuscated */
    assert_int_equal(s_api(mp, "PUT", T_X,
                           "{\"status\":{\"value\":\"Ready to use\",\"type\":\"ready\"},"
                           "\"user_secrets\":{\"voucher_id\":\"V-1\"}}",
                           &answer, "%s", path),
                     200);
    json_t *secrets = json_object_get(answer, "user_secrets");
    assert_string_equal(json_string_value(json_object_get(secrets, "voucher_id")), "V-1");
    assert_string_equal(json_string_value(json_object_get(secrets, "password")), "<OBFUSCATED>");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(answer, "status"), "type")), "ready");
    json_decref(answer);
    json_t *events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 4); /* project, item, update, voucher message */
    json_t *update = json_array_get(events, 2);
    assert_string_equal(json_string_value(json_object_get(update, "type")), "update");
    json_t *changes = json_object_get(update, "changes");
    assert_int_equal(json_array_size(changes), 3);
    json_t *c0 = json_array_get(changes, 0), *c2 = json_array_get(changes, 2);
    assert_string_equal(json_string_value(json_object_get(c0, "field")), "status.value");
    assert_string_equal(json_string_value(json_object_get(c0, "before")), "created");
    assert_string_equal(json_string_value(json_object_get(c0, "after")), "Ready to use");
    assert_string_equal(json_string_value(json_object_get(json_array_get(changes, 1), "field")),
                        "status.type");
    assert_string_equal(json_string_value(json_object_get(c2, "field")), "user_secrets");
    assert_string_equal(json_string_value(json_object_get(c2, "after")), "<OBFUSCATED>");
    json_t *voucher = json_array_get(events, 3);
    assert_string_equal(json_string_value(json_object_get(voucher, "resource")), "message");
    long mid = (long)json_integer_value(json_object_get(voucher, "message_id"));
    json_decref(events);
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/messages/%ld", mid), 200);
    assert_string_equal(json_string_value(json_object_get(answer, "content")), "<OBFUSCATED>");
    assert_string_equal(json_string_value(json_object_get(answer, "scope")), "user_direct");
    json_decref(answer);
    /* the same status again changes nothing and makes no event */
    assert_int_equal(s_api(mp, "PATCH", T_X,
                           "{\"status\":{\"value\":\"Ready to use\","
                           "\"type\":\"ready\"}}",
                           &answer, "%s", path),
                     200);
    json_decref(answer);
    events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 4);
    json_decref(events);
    json_t *st = mp_double_proc_get(mp, "state"); /* the state, secrets in clear */
    json_t *item = json_array_get(
        json_object_get(json_array_get(json_object_get(st, "projects"), 0), "items"), 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(item, "user_secrets"), "password")),
        "s3cret");
    json_t *msg = json_array_get(json_object_get(st, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(msg, "content")),
                        "Voucher has been granted to you, ID: V-1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(msg, "author"), "role")),
                        "provider");
    json_decref(st);
    /* a new voucher id, then an empty one: the two other texts */
    assert_int_equal(
        s_api(mp, "PATCH", T_X, "{\"user_secrets\":{\"voucher_id\":\"V-2\"}}", &answer, "%s", path),
        200);
    json_decref(answer);
    assert_int_equal(
        s_api(mp, "PATCH", T_X, "{\"user_secrets\":{\"voucher_id\":\"\"}}", &answer, "%s", path),
        200);
    json_decref(answer);
    st = mp_double_proc_get(mp, "state");
    json_t *msgs = json_object_get(st, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "Voucher ID has been updated: V-2");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 2), "content")),
                        "Voucher has been revoked");
    json_decref(st);
}

/* ---- messages (3.5, 4.9-4.12) ---- */

static void
test_messages(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    s_order(mp, p, 2);
    static const char author[] = "\"author\":{\"email\":\"ops@x.org\",\"name\":\"Ops\","
                                 "\"role\":\"%s\"}";
    char body[2 * T_PATH_MAX], who[T_PATH_MAX];
    json_t *answer = NULL;
    static const struct {
        const char *token;
        int oms;
        const char *role;
        const char *scope;
        bool item;
        long status;
    } cases[] = {
        {T_X, 2, "provider", "public", true, 201},
        {T_X, 2, "provider", "user_direct", true, 201},
        {T_X, 2, "provider", "internal", false, 201},
        {T_X, 2, "provider", "user_direct", false, 403},
        {T_X, 2, "mediator", "public", true, 403},
        {T_DEF, 1, "mediator", "user_direct", false, 201},
        {T_DEF, 1, "mediator", "public", true, 201},
        {T_DEF, 1, "mediator", "user_direct", true, 403},
        {T_DEF, 1, "provider", "public", true, 403},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(who, sizeof who, author, cases[i].role);
        snprintf(body, sizeof body,
                 "{\"project_id\":%ld,%s%s,\"content\":\"hello %zu\",\"scope\":\"%s\"}", p,
                 cases[i].item ? "\"project_item_id\":1," : "", who, i, cases[i].scope);
        long status = s_api(mp, "POST", cases[i].token, body, &answer, "/api/v1/oms/%d/messages",
                            cases[i].oms);
        assert_int_equal(status, cases[i].status);
        if (status == 201) /* the answer shows the content, user_direct too */
            assert_non_null(strstr(json_string_value(json_object_get(answer, "content")), "hello"));
        else
            assert_string_equal(json_string_value(json_object_get(answer, "error")),
                                "You are not authorized to perform this action.");
        json_decref(answer);
    }
    /* project-level and item-level lists; user_direct content obfuscated */
    assert_int_equal(
        s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/messages?project_id=%ld", p), 200);
    json_t *list = json_object_get(answer, "messages");
    assert_int_equal(json_array_size(list), 2); /* the internal one and the mediator's */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "content")),
                        "<OBFUSCATED>");
    json_decref(answer);
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer,
                           "/api/v1/oms/2/messages?project_id=%ld&project_item_id=1&limit=2", p),
                     200);
    list = json_object_get(answer, "messages");
    assert_int_equal(json_array_size(list), 2);
    json_t *m0 = json_array_get(list, 0);
    assert_int_equal(json_integer_value(json_object_get(m0, "id")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m0, "author"), "role")),
                        "provider");
    assert_null(json_object_get(json_object_get(m0, "author"), "uid")); /* empty: dropped */
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "content")),
                        "<OBFUSCATED>");
    json_decref(answer);
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project not found", "/api/v1/oms/2/messages");
    s_expect_error(mp, "GET", T_X, NULL, 404, "Project item not found",
                   "/api/v1/oms/2/messages?project_id=1&project_item_id=7");
    s_expect_error(mp, "GET", T_X, NULL, 404, "Message not found", "/api/v1/oms/2/messages/99");
    s_expect_error(mp, "POST", T_X,
                   "{\"project_id\":9,\"author\":{\"email\":\"e\",\"name\":\"n\","
                   "\"role\":\"provider\"},\"content\":\"c\",\"scope\":\"public\"}",
                   404, "Project not found", "/api/v1/oms/2/messages");
    s_expect_error(mp, "POST", T_X,
                   "{\"project_id\":1,\"author\":{\"email\":\"e\",\"name\":\"n\",\"role\":"
                   "\"provider\"},\"scope\":\"public\"}",
                   400, "The property '#/' did not contain a required property of 'content'",
                   "/api/v1/oms/2/messages");
    s_expect_error(mp, "POST", T_X,
                   "{\"project_id\":1,\"author\":{\"email\":\"e\",\"name\":\"n\",\"role\":"
                   "\"user\"},\"content\":\"c\",\"scope\":\"public\"}",
                   400,
                   "The property '#/author/role' value \"user\" did not match one of the "
                   "following values: provider, mediator",
                   "/api/v1/oms/2/messages");
    /* edit: content in clear in the answer, an update event obfuscated for user_direct */
    assert_int_equal(
        s_api(mp, "PATCH", T_X, "{\"content\":\"edited\"}", &answer, "/api/v1/oms/2/messages/2"),
        200);
    assert_string_equal(json_string_value(json_object_get(answer, "content")), "edited");
    json_decref(answer);
    s_expect_error(mp, "PATCH", T_X, "{\"content\":\"x\",\"scope\":\"public\"}", 400,
                   "The property '#/' contains additional properties [\"scope\"] outside of the "
                   "schema when none are allowed",
                   "/api/v1/oms/2/messages/2");
    json_t *events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    json_t *last = json_array_get(events, json_array_size(events) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "type")), "update");
    assert_int_equal(json_integer_value(json_object_get(last, "message_id")), 2);
    json_t *change = json_array_get(json_object_get(last, "changes"), 0);
    assert_string_equal(json_string_value(json_object_get(change, "field")), "content");
    assert_string_equal(json_string_value(json_object_get(change, "after")), "<OBFUSCATED>");
    json_decref(events);
    /* a user's message (posted on the Marketplace) cannot be edited by an OMS */
    s_ctl_drop(mp, "messages",
               json_pack("{s:I, s:I, s:{s:s, s:s, s:s}, s:s, s:s}", "project_id", (json_int_t)p,
                         "project_item_id", (json_int_t)1, "author", "email", "ann@example.org",
                         "name", "Ann Lee", "role", "user", "content", "question", "scope",
                         "public"));
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms/2/messages/6"), 200);
    assert_string_equal(json_string_value(json_object_get(answer, "content")), "question");
    json_decref(answer);
    s_expect_error(mp, "PATCH", T_X, "{\"content\":\"x\"}", 403,
                   "You are not authorized to perform this action.", "/api/v1/oms/2/messages/6");
}

/* ---- triggers (6.2, 6.3), with a receiver in this process ---- */

typedef struct s_recv {
    pthread_mutex_t lock;               /* guards all */
    pthread_cond_t cond;                /* on each request */
    int n;                              /* requests recorded */
    char method[T_RECV_MAX][8];         /* per request */
    char url[T_RECV_MAX][T_TEXT_MAX];   /* path */
    char auth[T_RECV_MAX][T_TEXT_MAX];  /* query authorization, decoded */
    char body[T_RECV_MAX][T_TEXT_MAX];  /* raw body */
    char type[T_RECV_MAX][T_TEXT_MAX];  /* Content-Type */
    char agent[T_RECV_MAX][T_TEXT_MAX]; /* User-Agent */
    bool hang;                          /* /hang requests wait until cleared */
} s_recv_t;

typedef struct s_upload {
    char body[T_TEXT_MAX]; /* accumulated */
    size_t len;            /* bytes */
} s_upload_t;

static void
s_copy(char *dst, const char *src)
{
    snprintf(dst, T_TEXT_MAX, "%s", src ? src : "");
}

static enum MHD_Result
s_recv_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    s_recv_t *r = cls;
    s_upload_t *up = *con_cls;
    if (!up) {
        *con_cls = calloc(1, sizeof(s_upload_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        size_t n = *upload_size < sizeof up->body - 1 - up->len ? *upload_size
                                                                : sizeof up->body - 1 - up->len;
        memcpy(up->body + up->len, upload, n);
        up->len += n;
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    if (r->n < T_RECV_MAX) {
        s_copy(r->method[r->n], method);
        s_copy(r->url[r->n], url);
        s_copy(r->auth[r->n],
               MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "authorization"));
        s_copy(r->body[r->n], up->body);
        s_copy(r->type[r->n],
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
        s_copy(r->agent[r->n],
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT));
        r->n++;
    }
    pthread_cond_broadcast(&r->cond);
    while (strcmp(url, "/hang") == 0 && r->hang)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    /* the Marketplace ignores the answer: a 500 is as good as a 204 */
    enum MHD_Result ret = MHD_queue_response(conn, strcmp(url, "/fail") == 0 ? 500 : 204, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
s_recv_done(void *cls, struct MHD_Connection *conn, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

/* Waits until the receiver has n requests, for up to ms. */
static bool
s_recv_wait_ms(s_recv_t *r, int n, long ms)
{
    long deadline = s_now_ms() + ms;
    pthread_mutex_lock(&r->lock);
    while (r->n < n && s_now_ms() < deadline) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &until);
    }
    bool ok = r->n >= n;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

static bool
s_recv_wait(s_recv_t *r, int n)
{
    return s_recv_wait_ms(r, n, T_WAIT_MS);
}

static int
s_recv_find(s_recv_t *r, const char *url)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->url[i], url) == 0)
            return i;
    return -1;
}

static void
s_trigger_oms(const mp_double_proc_t *mp, const char *name, unsigned port, const char *path,
              const char *method, bool creds)
{
    char url[T_PATH_MAX];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    json_t *trig = json_pack("{s:s, s:s}", "url", url, "method", method);
    if (creds) {
        json_object_set_new(trig, "user", json_string("name"));
        json_object_set_new(trig, "password", json_string("12341234"));
    }
    s_ctl_drop(mp, "oms",
               json_pack("{s:s, s:s, s:o}", "name", name, "token", "tok-trig", "trigger", trig));
}

/* Starts a receiver on an ephemeral loopback port; *ret_port gets it. */
static struct MHD_Daemon *
s_recv_start(s_recv_t *r, unsigned *ret_port)
{
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cond, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        s_recv_handle, r, MHD_OPTION_NOTIFY_COMPLETED, s_recv_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    *ret_port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return d;
}

static void
s_recv_unhang(s_recv_t *r)
{
    pthread_mutex_lock(&r->lock);
    r->hang = false;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void
test_triggers(void **state)
{
    mp_double_proc_t *mp = *state;
    s_recv_t r = {.hang = true};
    unsigned port;
    struct MHD_Daemon *d = s_recv_start(&r, &port);
    s_trigger_oms(mp, "G", port, "/get", "get", true);    /* OMS 4 */
    s_trigger_oms(mp, "P", port, "/post", "post", true);  /* OMS 5 */
    s_trigger_oms(mp, "U", port, "/put", "put", false);   /* OMS 6 */
    s_trigger_oms(mp, "H", port, "/hang", "post", false); /* OMS 7: its receiver hangs */
    json_t *answer = NULL;
    assert_int_equal(s_api(mp, "GET", "tok-trig", NULL, &answer, "/api/v1/oms/4"), 200);
    json_t *auth = json_object_get(json_object_get(answer, "trigger"), "authorization");
    assert_string_equal(json_string_value(json_object_get(auth, "password")), "12341234");
    assert_null(json_object_get(auth, "type")); /* the serializer omits it (4.2) */
    json_decref(answer);
    /* a new project triggers only the default OMS (no trigger here): nothing arrives; each
       item triggers its primary OMS once per event */
    long p = s_new_project(mp);
    s_order(mp, p, 7);
    assert_true(s_recv_wait(&r, 1)); /* /hang, held by the receiver */
    s_order(mp, p, 4);
    s_order(mp, p, 5);
    s_order(mp, p, 6);
    assert_true(s_recv_wait(&r, 4)); /* the hanging call blocks neither triggers nor the API */
    pthread_mutex_lock(&r.lock);
    int g = s_recv_find(&r, "/get"), po = s_recv_find(&r, "/post"), pu = s_recv_find(&r, "/put");
    assert_true(g >= 0 && po >= 0 && pu >= 0);
    assert_string_equal(r.method[g], "GET");
    assert_string_equal(r.auth[g], T_CREDS); /* ?authorization=Basic+...%3D%3D, decoded */
    assert_string_equal(r.body[g], "");
    assert_string_equal(r.agent[g], "Faraday v1.10.4");
    assert_string_equal(r.method[po], "POST");
    assert_string_equal(r.auth[po], "");
    assert_string_equal(r.body[po], "authorization=Basic+bmFtZToxMjM0MTIzNA%3D%3D");
    assert_string_equal(r.type[po], "application/x-www-form-urlencoded");
    assert_string_equal(r.method[pu], "PUT");
    assert_string_equal(r.body[pu], "");
    assert_string_equal(r.type[pu], "");
    int before = r.n;
    pthread_mutex_unlock(&r.lock);
    s_recv_unhang(&r);
    /* an update of the item of OMS 5: one more call of its trigger */
    assert_int_equal(s_api(mp, "PATCH", "tok-trig",
                           "{\"status\":{\"value\":\"r\",\"type\":"
                           "\"ready\"}}",
                           &answer, "/api/v1/oms/5/projects/%ld/project_items/3", p),
                     200);
    json_decref(answer);
    assert_true(s_recv_wait(&r, before + 1));
    pthread_mutex_lock(&r.lock);
    assert_string_equal(r.url[before], "/post");
    pthread_mutex_unlock(&r.lock);
    MHD_stop_daemon(d);
    /* a refused connection is retried (Sidekiq delays, scaled to ms); an HTTP error is not */
    s_trigger_oms(mp, "Dead", port, "/dead", "get", true); /* OMS 8: nobody listens now */
    s_order(mp, p, 8);
    long deadline = s_now_ms() + T_WAIT_MS;
    long attempts = 0;
    while (attempts < 3 && s_now_ms() < deadline) {
        json_t *log = mp_double_proc_get(mp, "triggers");
        size_t i;
        json_t *t;
        attempts = 0;
        json_array_foreach(json_object_get(log, "triggers"), i, t)
        {
            if (json_integer_value(json_object_get(t, "oms_id")) == 8) {
                assert_int_equal(json_integer_value(json_object_get(t, "attempt")), attempts);
                attempts++;
            }
        }
        json_decref(log);
    }
    assert_true(attempts >= 3);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* At most 5 trigger calls at once, as Sidekiq's 5 workers; the rest wait their turn. */
static void
test_trigger_workers(void **state)
{
    mp_double_proc_t *mp = *state;
    s_recv_t r = {.hang = true};
    unsigned port;
    struct MHD_Daemon *d = s_recv_start(&r, &port);
    s_trigger_oms(mp, "H", port, "/hang", "post", false); /* OMS 4 */
    long p = s_new_project(mp);
    for (int i = 0; i < 8; i++)
        s_order(mp, p, 4);
    assert_true(s_recv_wait(&r, 5));
    assert_false(s_recv_wait_ms(&r, 6, T_CLIENT_MS)); /* a sixth waits for a worker */
    s_recv_unhang(&r);
    assert_true(s_recv_wait(&r, 8));
    MHD_stop_daemon(d);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* ---- faults ---- */

static void
test_faults(void **state)
{
    mp_double_proc_t *mp = *state;
    json_t *answer = NULL;
    s_ctl_drop(mp, "faults", json_pack("{s:i, s:i}", "fail_next", 2, "fail_status", 503));
    char *text = NULL;
    assert_int_equal(mp_double_proc_raw(mp, "GET", "/api/v1/oms", T_X, NULL, &text), 503);
    assert_null(strstr(text, "{")); /* not JSON: a client must not expect a body */
    free(text);
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), 503);
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), 200);
    json_decref(answer);
    /* a hang: the client gives up, the control interface and other clients are served */
    s_ctl_drop(mp, "faults", json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", T_HANG_MS));
    mp->timeout_ms = T_CLIENT_MS;
    long t0 = s_now_ms();
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), -1);
    assert_true(s_now_ms() - t0 < T_HANG_MS);
    json_t *st = mp_double_proc_get(mp, "state");
    assert_non_null(st);
    json_decref(st);
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), 200);
    json_decref(answer);
    mp->timeout_ms = 0;
    /* a slow answer: whole, but over slow_ms */
    s_ctl_drop(mp, "faults", json_pack("{s:i, s:i}", "slow_next", 1, "slow_ms", T_SLOW_MS));
    t0 = s_now_ms();
    assert_int_equal(s_api(mp, "GET", T_X, NULL, &answer, "/api/v1/oms"), 200);
    assert_true(s_now_ms() - t0 >= T_SLOW_MS / 2);
    assert_int_equal(json_array_size(json_object_get(answer, "omses")), 1);
    json_decref(answer);
    s_ctl_fails(mp, "faults", json_pack("{s:i}", "fail_status", 404));
}

/* 100 events inside one second; paging by the shown second repeats them (6.4 points 1, 2). */
static void
test_burst(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    s_order(mp, p, 2);
    json_t *burst = s_ctl(mp, "burst",
                          json_pack("{s:I, s:i, s:i}", "project_id", (json_int_t)p,
                                    "project_item_id", 1, "count", 100));
    const char *first = json_string_value(json_object_get(burst, "first"));
    const char *last = json_string_value(json_object_get(burst, "last"));
    assert_memory_equal(first, last, strlen("2021-05-25T21:07:42")); /* one second */
    char *after_item = s_created_at(mp, 2);                          /* the item's create event */
    json_t *events = s_events(mp, 2, T_X, after_item, 1000);
    free(after_item);
    assert_int_equal(json_array_size(events), 100);
    char shown[T_SECOND_LEN + 2];
    snprintf(shown, sizeof shown, "%s",
             json_string_value(json_object_get(json_array_get(events, 0), "timestamp")));
    for (size_t i = 0; i < 100; i++) {
        json_t *e = json_array_get(events, i);
        assert_string_equal(json_string_value(json_object_get(e, "timestamp")), shown);
        char value[32];
        snprintf(value, sizeof value, "burst %zu", i + 1);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(e, "changes"), 0), "after")),
                            value);
    }
    json_decref(events);
    /* a client resuming from the shown timestamp with limit 20 gets the same page forever */
    events = s_events(mp, 2, T_X, shown, 20);
    json_t *again = s_events(mp, 2, T_X, shown, 20);
    assert_int_equal(json_array_size(events), 20);
    assert_true(json_equal(events, again));
    json_decref(events);
    json_decref(again);
    json_decref(burst);
    s_ctl_fails(mp, "burst",
                json_pack("{s:I, s:i, s:i, s:i}", "project_id", (json_int_t)p, "project_item_id", 1,
                          "count", 3, "spacing_us", 600000));
}

/* Events of one microsecond have no order: a page cut inside them varies between reads, unless
   stable_ties is set (4.3, 6.4 point 2). */
static void
test_ties(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    s_order(mp, p, 2);
    char *after_item = s_created_at(mp, 2);
    s_ctl_drop(mp, "burst",
               json_pack("{s:I, s:i, s:i, s:i}", "project_id", (json_int_t)p, "project_item_id", 1,
                         "count", 30, "spacing_us", 0));
    json_t *first = s_events(mp, 2, T_X, after_item, 10);
    assert_int_equal(json_array_size(first), 10);
    bool varied = false;
    for (int i = 0; i < 20 && !varied; i++) {
        json_t *again = s_events(mp, 2, T_X, after_item, 10);
        varied = !json_equal(first, again);
        json_decref(again);
    }
    assert_true(varied);
    json_decref(first);
    s_ctl_drop(mp, "faults", json_pack("{s:b}", "stable_ties", 1));
    first = s_events(mp, 2, T_X, after_item, 10);
    json_t *again = s_events(mp, 2, T_X, after_item, 10);
    assert_true(json_equal(first, again));
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(first, 0), "changes"), 0), "after")),
        "burst 1");
    json_decref(first);
    json_decref(again);
    free(after_item);
}

/* An event committed late with an older created_at (6.4 point 3). */
static void
test_late_commit(void **state)
{
    mp_double_proc_t *mp = *state;
    long p = s_new_project(mp);
    s_order(mp, p, 2); /* events 1, 2 */
    s_ctl_fails(mp, "update",
                json_pack("{s:i, s:i, s:{s:s}}", "project_id", 1, "project_item_id", 1, "status",
                          "type", "LOL"));
    s_ctl_drop(mp, "hold", json_pack("{s:i}", "count", 1));
    s_ctl_drop(mp, "update",
               json_pack("{s:I, s:i, s:{s:s, s:s}}", "project_id", (json_int_t)p, "project_item_id",
                         1, "status", "value", "late", "type", "registered")); /* event 3, held */
    s_ctl_drop(mp, "update",
               json_pack("{s:I, s:i, s:{s:s, s:s}}", "project_id", (json_int_t)p, "project_item_id",
                         1, "status", "value", "newer", "type", "in_progress")); /* event 4 */
    json_t *events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 3);
    json_decref(events);
    char *cursor = s_created_at(mp, 4);
    json_t *released = s_ctl(mp, "release", json_object());
    assert_int_equal(json_integer_value(json_object_get(released, "released")), 1);
    json_decref(released);
    events = s_events(mp, 2, T_X, cursor, 0);
    assert_int_equal(json_array_size(events), 0); /* behind a cursor past event 4: lost */
    json_decref(events);
    free(cursor);
    events = s_events(mp, 2, T_X, "2000-01-01T00:00:00Z", 0);
    assert_int_equal(json_array_size(events), 4);
    json_t *late = json_array_get(events, 2); /* in created_at order, before the newer one */
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(late, "changes"), 0), "after")),
                        "late");
    json_decref(events);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test_setup_teardown(test_auth_and_routes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_from_timestamp, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_timestamp_precision, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_limit_rules, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_projects_and_iids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_scope_rule, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_patch_item, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_messages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_triggers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_trigger_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_faults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ties, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_burst, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_late_commit, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
