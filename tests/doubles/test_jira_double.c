/*  test_jira_double: orderbus-jira-double as a real process on an ephemeral loopback port,
    driven through its HTTP API with libcurl. Every endpoint and error string of the REST
    subset, both auth schemes and the basic-disabled mode, the JQL subset, the control
    interface, webhooks (with a receiver served by libmicrohttpd in this test, signatures
    checked with libsodium) and the injected faults. Each test starts its own double with the
    fixture of s_setup: project ORD (Epic, Task), project OPS (Task), users bot (basic and PAT)
    and ann (a person in group staff, not in role Administrators). */
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "jira_double_proc.h"

#define T_BOT "Basic Ym90OmFwaS10b2tlbg=="  /* bot:api-token */
#define T_ANN "Basic YW5uOmFubi10b2tlbg=="  /* ann:ann-token */
#define T_PAT_AS_BASIC "Basic Ym90OnBhdC0x" /* bot:pat-1, a PAT as a password */
#define T_BEARER "Bearer pat-1"             /* bot's personal access token */
#define T_EPIC_NAME "customfield_10011"
#define T_EPIC_LINK "customfield_10014"
#define T_SELECT "customfield_10300"
#define T_PATH_MAX 512       /* bytes of a request path */
#define T_WAIT_MS 10000      /* wait for webhooks */
#define T_RECV_MAX 32        /* requests a receiver records */
#define T_BODY_MAX 16384     /* bytes of a recorded body */
#define T_SLOW_MS 600        /* an injected slow answer */
#define T_PROPERTY_MAX 32768 /* characters of a property value (reference 8) */
#define E_AUTH "You are not authenticated. Authentication required to perform this operation."
#define E_NOT_FOUND "Issue does not exist or you do not have permission to see it."
#define E_CANNOT_SET "Field '%s' cannot be set. It is not on the appropriate screen, or unknown."

/* ---- helpers ---- */

static long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A control call that must succeed; takes body. */
static void
s_ctl(const jira_double_proc_t *jd, const char *call, json_t *body)
{
    assert_non_null(body);
    json_t *answer = jira_double_proc_control(jd, call, body);
    json_decref(body);
    assert_non_null(answer);
    json_decref(answer);
}

/* A control call that must fail; takes body. */
static void
s_ctl_fails(const jira_double_proc_t *jd, const char *call, json_t *body)
{
    assert_non_null(body);
    json_t *answer = jira_double_proc_control(jd, call, body);
    json_decref(body);
    assert_null(answer);
}

/* An API call; returns the status and the body (a new reference or NULL) in *ret. */
static long s_api(const jira_double_proc_t *jd, const char *method, const char *auth,
                  const char *body, json_t **ret, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static long
s_api(const jira_double_proc_t *jd, const char *method, const char *auth, const char *body,
      json_t **ret, const char *fmt, ...)
{
    char path[T_PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    json_t *answer = NULL;
    long status = jira_double_proc_call(jd, method, path, auth, body, &answer, NULL);
    if (ret)
        *ret = answer;
    else
        json_decref(answer);
    return status;
}

/* Expects Jira's error body with exactly one general message and no field errors; takes j. */
static void
s_expect_message(json_t *j, const char *message)
{
    assert_non_null(j);
    json_t *msgs = json_object_get(j, "errorMessages"), *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(msgs), 1);
    assert_string_equal(json_string_value(json_array_get(msgs, 0)), message);
    assert_true(json_is_object(errs) && json_object_size(errs) == 0);
    assert_int_equal(json_object_size(j), 2);
    json_decref(j);
}

/* Expects errors[field] == text (and an empty errorMessages); borrows j. */
static void
s_expect_field(const json_t *j, const char *field, const char *text)
{
    assert_non_null(j);
    assert_true(json_is_array(json_object_get(j, "errorMessages")));
    assert_int_equal(json_array_size(json_object_get(j, "errorMessages")), 0);
    const char *got = json_string_value(json_object_get(json_object_get(j, "errors"), field));
    assert_non_null(got);
    assert_string_equal(got, text);
}

/* Expects a JQL error: errorMessages [text] and warningMessages [], no errors; takes j. */
static void
s_expect_jql(json_t *j, const char *text)
{
    assert_non_null(j);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "errorMessages"), 0)),
                        text);
    assert_true(json_is_array(json_object_get(j, "warningMessages")));
    assert_null(json_object_get(j, "errors"));
    json_decref(j);
}

static const char *
s_s(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* Creates an issue from fields (JSON text) as bot; returns its key (static buffer). */
static const char *
s_create(const jira_double_proc_t *jd, const char *fields)
{
    static char key[64];
    char body[T_BODY_MAX];
    snprintf(body, sizeof body, "{\"fields\":%s}", fields);
    json_t *j = NULL;
    assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issue"), 201);
    snprintf(key, sizeof key, "%s", s_s(j, "key"));
    json_decref(j);
    return key;
}

static const char *
s_epic(const jira_double_proc_t *jd, const char *summary)
{
    char fields[T_PATH_MAX];
    snprintf(fields, sizeof fields,
             "{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"name\":\"Epic\"},\"summary\":\"%s\","
             "\"" T_EPIC_NAME "\":\"%s\"}",
             summary, summary);
    return s_create(jd, fields);
}

static const char *
s_task(const jira_double_proc_t *jd, const char *epic, const char *labels)
{
    char fields[T_PATH_MAX];
    snprintf(fields, sizeof fields,
             "{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":\"10001\"},\"summary\":\"Item\","
             "\"" T_SELECT "\":{\"id\":\"10401\"},\"labels\":%s%s%s%s}",
             labels ? labels : "[]", epic ? ",\"" T_EPIC_LINK "\":\"" : "", epic ? epic : "",
             epic ? "\"" : "");
    return s_create(jd, fields);
}

static int
s_setup(void **state)
{
    jira_double_proc_t *jd = calloc(1, sizeof *jd);
    assert_non_null(jd);
    assert_int_equal(jira_double_proc_start(jd), 0);
    s_ctl(
        jd, "fields",
        json_pack("{s:s, s:s, s:s}", "id", T_EPIC_NAME, "name", "Epic Name", "type", "epic_name"));
    s_ctl(
        jd, "fields",
        json_pack("{s:s, s:s, s:s}", "id", T_EPIC_LINK, "name", "Epic Link", "type", "epic_link"));
    s_ctl(jd, "fields",
          json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "id", T_SELECT, "name",
                    "Customer typology", "type", "select", "options", "id", "10401", "value",
                    "Research", "id", "10402", "value", "Industry"));
    s_ctl(jd, "fields",
          json_pack("{s:s, s:s, s:s}", "id", "customfield_10500", "name", "Voucher", "type",
                    "string"));
    const char *workflow = "{\"statuses\":[{\"id\":\"1\",\"name\":\"Open\",\"category\":\"new\"},"
                           "{\"id\":\"3\",\"name\":\"In Progress\",\"category\":\"indeterminate\"},"
                           "{\"id\":\"6\",\"name\":\"Closed\",\"category\":\"done\"}],"
                           "\"transitions\":[{\"id\":\"11\",\"name\":\"Start "
                           "Progress\",\"from\":[\"1\"],\"to\":\"3\"},"
                           "{\"id\":\"21\",\"name\":\"Close\",\"from\":[\"1\",\"3\"],\"to\":\"6\","
                           "\"screen\":[\"customfield_10500\"]},"
                           "{\"id\":\"31\",\"name\":\"Reopen\",\"from\":[\"6\"],\"to\":\"1\"}]}";
    json_t *ord = json_loads(workflow, 0, NULL);
    json_object_set_new(ord, "key", json_string("ORD"));
    json_object_set_new(
        ord, "issue_types",
        json_pack("[{s:s, s:s, s:[s, s, s, s]}, {s:s, s:s, s:[s, s, s, s, s], s:[s, s, s, s], "
                  "s:[s]}]",
                  "id", "10000", "name", "Epic", "create", "summary", "description", "labels",
                  T_EPIC_NAME, "id", "10001", "name", "Task", "create", "summary", "description",
                  "labels", T_EPIC_LINK, T_SELECT, "edit", "summary", "description", "labels",
                  T_EPIC_LINK, "required", T_SELECT));
    s_ctl(jd, "projects", ord);
    json_t *ops = json_loads(workflow, 0, NULL);
    json_object_set_new(ops, "key", json_string("OPS"));
    json_object_set_new(ops, "issue_types",
                        json_pack("[{s:s, s:s}]", "id", "10001", "name", "Task"));
    s_ctl(jd, "projects", ops);
    s_ctl(jd, "users",
          json_pack("{s:s, s:s, s:s, s:s, s:[s]}", "name", "bot", "display_name", "Orders Bot",
                    "password", "api-token", "token", "pat-1", "roles", "Administrators"));
    s_ctl(jd, "users",
          json_pack("{s:s, s:s, s:s, s:[s]}", "name", "ann", "display_name", "Ann Lee", "password",
                    "ann-token", "groups", "staff"));
    *state = jd;
    return 0;
}

static int
s_teardown(void **state)
{
    jira_double_proc_t *jd = *state;
    int status = jira_double_proc_stop(jd, SIGTERM);
    free(jd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* a clean stop */
    return 0;
}

/* ---- the process ---- */

static void
test_help(void **state)
{
    (void)state;
    char cmd[T_PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' --help", getenv("OB_JIRA_DOUBLE"));
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[T_PATH_MAX];
    assert_non_null(fgets(line, sizeof line, p));
    assert_non_null(strstr(line, "usage: orderbus-jira-double"));
    while (fgets(line, sizeof line, p))
        ;
    assert_int_equal(pclose(p), 0);
    snprintf(cmd, sizeof cmd, "'%s' --port 70000 2>/dev/null", getenv("OB_JIRA_DOUBLE"));
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "'%s' --bogus 2>/dev/null", getenv("OB_JIRA_DOUBLE"));
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
}

/* ---- authentication (reference 3) ---- */

static void
test_auth(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char *headers = NULL;
    /* none: 401 with the exact text, and no login reason */
    assert_int_equal(
        jira_double_proc_call(jd, "GET", "/rest/api/2/myself", NULL, NULL, &j, &headers), 401);
    s_expect_message(j, E_AUTH);
    assert_null(strstr(headers, "X-Seraph-LoginReason"));
    free(headers);
    /* wrong password; a PAT is not a basic password; an unknown bearer token */
    const char *refused[] = {"Basic Ym90Om5vcGU=", T_PAT_AS_BASIC, "Bearer nope", "Token x"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(
            jira_double_proc_call(jd, "GET", "/rest/api/2/myself", refused[i], NULL, &j, &headers),
            401);
        s_expect_message(j, E_AUTH);
        assert_non_null(strstr(headers, "X-Seraph-LoginReason: AUTHENTICATED_FAILED"));
        free(headers);
    }
    /* basic and bearer act as the user */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/myself"), 200);
    assert_string_equal(s_s(j, "name"), "bot");
    assert_string_equal(s_s(j, "displayName"), "Orders Bot");
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BEARER, NULL, &j, "/rest/api/2/myself"), 200);
    assert_string_equal(s_s(j, "name"), "bot");
    json_decref(j);
    /* basic disabled (DC 8.16+): 403 {"message": ...} even with good credentials; PAT works */
    s_ctl(jd, "config", json_pack("{s:b}", "basic_auth", 0));
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/myself"), 403);
    assert_string_equal(s_s(j, "message"),
                        "Basic Authentication has been disabled on this instance.");
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BEARER, NULL, NULL, "/rest/api/2/myself"), 200);
    /* an unknown resource, once authenticated: Jersey's 404 */
    assert_int_equal(s_api(jd, "GET", T_BEARER, NULL, &j, "/rest/api/2/nothing"), 404);
    assert_non_null(strstr(s_s(j, "message"), "null for uri: "));
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BEARER, "{}", &j, "/rest/api/2/nothing"), 404);
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BEARER, "{}", &j, "/rest/api/2/myself"), 405);
    assert_null(j);
    assert_int_equal(s_api(jd, "GET", T_BEARER, NULL, &j, "/rest/api/2/serverInfo"), 200);
    assert_string_equal(s_s(j, "baseUrl"), jd->base_url);
    json_decref(j);
}

/* ---- create (reference 4) ---- */

static void
test_create_errors(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char msg[T_PATH_MAX];
    /* nothing: project and issue type are required, both reported */
    assert_int_equal(s_api(jd, "POST", T_BOT, "{\"fields\":{}}", &j, "/rest/api/2/issue"), 400);
    s_expect_field(j, "project", "project is required");
    s_expect_field(j, "issuetype", "issue type is required");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"NOPE\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"x\"}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, "project", "valid project is required");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":"
                           "\"999\"},\"summary\":\"x\"}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, "issuetype", "valid issue type is required");
    json_decref(j);
    /* an Epic without summary and Epic Name, a label with a space, a field not on the screen
       (Epic Link is on Task's only) and an unknown one: all reported at once */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"name\":"
                           "\"Epic\"},\"labels\":[\"mp-1\",\"Severity: high\"],\"" T_EPIC_LINK
                           "\":\"ORD-1\",\"customfield_99\":1}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, "summary", "You must specify a summary of the issue.");
    s_expect_field(j, T_EPIC_NAME, "Epic Name is required.");
    s_expect_field(j, "labels", "The label 'Severity: high' contains spaces which is invalid.");
    snprintf(msg, sizeof msg, E_CANNOT_SET, T_EPIC_LINK);
    s_expect_field(j, T_EPIC_LINK, msg);
    snprintf(msg, sizeof msg, E_CANNOT_SET, "customfield_99");
    s_expect_field(j, "customfield_99", msg);
    assert_int_equal(json_object_size(json_object_get(j, "errors")), 5);
    json_decref(j);
    /* a Task: its required select, an Epic Link that is not a string, unknown options */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"x\",\"" T_EPIC_LINK "\":{\"key\":\"ORD-1\"}}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, T_SELECT, "Customer typology is required.");
    s_expect_field(j, T_EPIC_LINK, "String value expected as the Epic Key.");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"x\",\"" T_SELECT "\":{\"id\":\"1\"}}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, T_SELECT, "Option id '1' is not valid");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"x\",\"" T_SELECT "\":{\"value\":\"Art\"}}}",
                           &j, "/rest/api/2/issue"),
                     400);
    s_expect_field(j, T_SELECT, "Option value 'Art' is not valid");
    json_decref(j);
    /* an Epic Link to an issue that is not an epic */
    const char *task = s_task(jd, NULL, NULL);
    char body[T_PATH_MAX];
    snprintf(body, sizeof body,
             "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"id\":\"10001\"},"
             "\"summary\":\"x\",\"" T_SELECT "\":{\"id\":\"10401\"},\"" T_EPIC_LINK "\":\"%s\"}}",
             task);
    assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issue"), 400);
    snprintf(msg, sizeof msg, "Could not find an Epic with the key '%s'.", task);
    s_expect_field(j, T_EPIC_LINK, msg);
    json_decref(j);
    /* not JSON */
    assert_int_equal(s_api(jd, "POST", T_BOT, "{", &j, "/rest/api/2/issue"), 400);
    s_expect_message(j, "The request body is not valid JSON.");
    /* nothing was created but the one task */
    json_t *st = jira_double_proc_state(jd);
    assert_int_equal(json_array_size(json_object_get(st, "issues")), 1);
    json_decref(st);
}

static void
test_create(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"ORD\"},\"issuetype\":{\"name\":"
                           "\"Epic\"},\"summary\":\"Project 42\",\"" T_EPIC_NAME
                           "\":\"P42\",\"labels\":[\"mp-project-42\"]},\"properties\":[{\"key\":"
                           "\"mp\",\"value\":{\"event\":\"e-1\"}}]}",
                           &j, "/rest/api/2/issue"),
                     201);
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(s_s(j, "id"), "10000");
    assert_string_equal(s_s(j, "key"), "ORD-1");
    char url[T_PATH_MAX];
    snprintf(url, sizeof url, "%s/rest/api/2/issue/10000", jd->base_url);
    assert_string_equal(s_s(j, "self"), url);
    json_decref(j);
    /* per-project keys, global numeric ids; a select by value is stored with its id */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"OPS\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"Ops\"}}",
                           &j, "/rest/api/2/issue"),
                     201);
    assert_string_equal(s_s(j, "key"), "OPS-1");
    assert_string_equal(s_s(j, "id"), "10001");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"id\":\"10000\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"Item\",\"" T_SELECT
                           "\":{\"value\":\"Industry\"},\"" T_EPIC_LINK "\":\"ORD-1\"}}",
                           &j, "/rest/api/2/issue"),
                     201);
    assert_string_equal(s_s(j, "key"), "ORD-2");
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BEARER, NULL, &j, "/rest/api/2/issue/ord-2"), 200);
    json_t *f = json_object_get(j, "fields");
    assert_string_equal(s_s(j, "key"), "ORD-2"); /* the current key, whatever the case asked */
    assert_string_equal(s_s(json_object_get(f, T_SELECT), "id"), "10402");
    assert_string_equal(s_s(f, T_EPIC_LINK), "ORD-1");
    assert_string_equal(s_s(json_object_get(f, "status"), "name"), "Open");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(f, "status"), "statusCategory"), "id")),
                     2);
    assert_string_equal(s_s(json_object_get(f, "reporter"), "name"), "bot");
    assert_true(json_is_null(json_object_get(f, "description")));
    assert_true(json_is_null(json_object_get(f, T_EPIC_NAME)));
    assert_int_equal(strlen(s_s(f, "created")), strlen("2019-06-04T00:15:17.234+0000"));
    assert_string_equal(s_s(f, "created") + 23, "+0000");
    json_decref(j);
    /* properties given at create, shown with ?properties= */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/10000?properties=mp"),
                     200);
    assert_string_equal(s_s(json_object_get(json_object_get(j, "properties"), "mp"), "event"),
                        "e-1");
    json_decref(j);
    /* ?fields= limits the fields */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/ORD-1?fields=labels"),
                     200);
    assert_int_equal(json_object_size(json_object_get(j, "fields")), 1);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(j, "fields"), "labels"), 0)),
                        "mp-project-42");
    assert_null(json_object_get(j, "properties"));
    json_decref(j);
    /* 404s */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/ORD-99"), 404);
    s_expect_message(j, E_NOT_FOUND);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/createmeta"), 404);
    s_expect_message(j, "Issue Does Not Exist");
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/project/NOPE"), 404);
    s_expect_message(j, "No project could be found with key 'NOPE'.");
    /* createmeta per type: the select's options and what is required */
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/createmeta/ORD/issuetypes/10001"),
        200);
    json_t *values = json_object_get(j, "values");
    bool seen = false;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) if (strcmp(s_s(v, "fieldId"), T_SELECT) == 0)
    {
        seen = true;
        assert_true(json_is_true(json_object_get(v, "required")));
        assert_string_equal(s_s(json_array_get(json_object_get(v, "allowedValues"), 1), "id"),
                            "10402");
    }
    assert_true(seen);
    json_decref(j);
    /* GET /field resolves the epic fields by schema.custom */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/field"), 200);
    json_array_foreach(j, i, v) if (strcmp(s_s(v, "id"), T_EPIC_LINK) == 0) assert_string_equal(
        s_s(json_object_get(v, "schema"), "custom"), "com.pyxis.greenhopper.jira:gh-epic-link");
    json_decref(j);
}

/* Each field type's refusals: a table of {issue type, extra fields, field, text}. */
static void
test_field_values(void **state)
{
    jira_double_proc_t *jd = *state;
    s_ctl(
        jd, "fields",
        json_pack("{s:s, s:s, s:s}", "id", "customfield_10600", "name", "Hours", "type", "number"));
    s_ctl(jd, "fields",
          json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}]}", "id", "customfield_10700", "name",
                    "Platforms", "type", "multiselect", "options", "id", "1", "value", "EGI"));
    s_ctl(jd, "projects",
          json_pack("{s:s, s:[{s:s, s:s, s:[s, s, s, s, s, s]}], s:[{s:s, s:s, s:s}]}", "key",
                    "ALL", "issue_types", "id", "1", "name", "Task", "create", "summary", "labels",
                    "duedate", "description", "customfield_10600", "customfield_10700", "statuses",
                    "id", "1", "name", "Open", "category", "new"));
    static const struct {
        const char *fields; /* JSON members added to project, issue type and summary */
        const char *field;  /* the field in errors */
        const char *text;   /* its message */
    } cases[] = {
        {"\"description\":5", "description", "Operation value must be a string"},
        {"\"labels\":\"one\"", "labels", "data was not an array"},
        {"\"labels\":[\"tab\\tin\"]", "labels",
         "The label 'tab\tin' contains spaces which is invalid."},
        {"\"duedate\":\"2026-13-01\"", "duedate", "Error parsing date string: 2026-13-01"},
        {"\"customfield_10600\":\"3\"", "customfield_10600", "Operation value must be a number"},
        {"\"customfield_10700\":{\"id\":\"1\"}", "customfield_10700", "data was not an array"},
        {"\"customfield_10700\":[\"EGI\"]", "customfield_10700",
         "Could not find valid 'id' or 'value' in the Parent Option object."},
        {"\"customfield_10700\":[{\"value\":\"EGI\"},{\"value\":\"X\"}]", "customfield_10700",
         "Option value 'X' is not valid"},
    };
    char body[T_BODY_MAX];
    json_t *j = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"fields\":{\"project\":{\"key\":\"ALL\"},\"issuetype\":{\"id\":\"1\"},"
                 "\"summary\":\"s\",%s}}",
                 cases[i].fields);
        assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issue"), 400);
        s_expect_field(j, cases[i].field, cases[i].text);
        json_decref(j);
    }
    /* the summary's own rules */
    char long_summary[300];
    memset(long_summary, 'a', 255);
    long_summary[255] = '\0';
    const char *summaries[][2] = {
        {"a\\nb", "The summary is invalid because it contains newline characters."},
        {long_summary, "Summary must be less than 255 characters."}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(body, sizeof body,
                 "{\"fields\":{\"project\":{\"key\":\"ALL\"},\"issuetype\":{\"id\":\"1\"},"
                 "\"summary\":\"%s\"}}",
                 summaries[i][0]);
        assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issue"), 400);
        s_expect_field(j, "summary", summaries[i][1]);
        json_decref(j);
    }
    long_summary[254] = '\0'; /* 254 characters pass */
    snprintf(body, sizeof body,
             "{\"project\":{\"key\":\"ALL\"},\"issuetype\":{\"id\":\"1\"},\"summary\":\"%s\","
             "\"customfield_10600\":2.5,\"duedate\":\"2026-12-31\",\"customfield_10700\":"
             "[{\"id\":\"1\"}]}",
             long_summary);
    const char *key = s_create(jd, body);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s", key), 200);
    json_t *f = json_object_get(j, "fields");
    assert_true(json_number_value(json_object_get(f, "customfield_10600")) == 2.5);
    assert_string_equal(s_s(f, "duedate"), "2026-12-31");
    assert_string_equal(s_s(json_array_get(json_object_get(f, "customfield_10700"), 0), "value"),
                        "EGI");
    json_decref(j);
    /* what the double does not model says so; an unsupported operation */
    assert_int_equal(
        s_api(jd, "POST", T_BOT, "{\"fields\":{},\"update\":{}}", &j, "/rest/api/2/issue"), 400);
    s_expect_message(j, "The Jira double does not model 'update' here.");
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"update\":{\"summary\":[{\"add\":\"x\"}]}}", &j,
                           "/rest/api/2/issue/%s", key),
                     400);
    s_expect_field(j, "summary", "Field 'summary' does not support operation 'add'");
    json_decref(j);
    /* comment visibility of another type; a link without its parts; metadata 404s */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"body\":\"x\",\"visibility\":{\"type\":\"user\",\"value\":\"a\"}}",
                           &j, "/rest/api/2/issue/%s/comment", key),
                     400);
    s_expect_field(j, "commentLevel", "Visibility type must be 'role' or 'group' with a value.");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "POST", T_BOT, "{\"type\":{\"name\":\"Blocks\"}}", &j, "/rest/api/2/issueLink"),
        400);
    s_expect_message(j, "An issue link needs a 'type', an 'inwardIssue' and an 'outwardIssue'.");
    char prop[T_PATH_MAX];
    memset(prop, 'k', 256);
    prop[256] = '\0';
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, "1", &j, "/rest/api/2/issue/%s/properties/%s", key, prop), 400);
    s_expect_message(j, "The property key is too long. The maximum length is 255 characters.");
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/status/99"), 404);
    s_expect_message(j, "The status with id '99' does not exist");
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/createmeta/NOPE/issuetypes"), 400);
    s_expect_message(j, "No project could be found with key 'NOPE'.");
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/search?maxResults=-1"), 400);
    s_expect_message(j, "'maxResults' must be a non-negative integer");
}

/* ---- edit and delete (reference 5) ---- */

static void
test_edit_delete(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char msg[T_PATH_MAX];
    char epic[64], task[64];
    snprintf(epic, sizeof epic, "%s", s_epic(jd, "E"));
    snprintf(task, sizeof task, "%s", s_task(jd, NULL, "[\"a\",\"b\"]"));
    /* 204 and an empty body */
    char *text = NULL;
    char path[T_PATH_MAX];
    snprintf(path, sizeof path, "/rest/api/2/issue/%s", task);
    char body[T_PATH_MAX];
    snprintf(body, sizeof body,
             "{\"fields\":{\"summary\":\"Renamed\",\"" T_EPIC_LINK "\":\"%s\"},\"update\":"
             "{\"labels\":[{\"add\":\"c\"},{\"remove\":\"a\"}]}}",
             epic);
    const char *headers[] = {"Authorization: " T_BOT, NULL};
    assert_int_equal(double_proc_request(jd, "PUT", path, headers, body, &text, NULL), 204);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "%s", path), 200);
    json_t *f = json_object_get(j, "fields");
    assert_string_equal(s_s(f, "summary"), "Renamed");
    assert_string_equal(s_s(f, T_EPIC_LINK), epic);
    assert_int_equal(json_array_size(json_object_get(f, "labels")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "labels"), 0)), "b");
    assert_string_equal(json_string_value(json_array_get(json_object_get(f, "labels"), 1)), "c");
    json_decref(j);
    /* the select is on Task's create screen, not on its edit screen */
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"fields\":{\"" T_SELECT "\":{\"id\":\"10402\"}}}",
                           &j, "%s", path),
                     400);
    snprintf(msg, sizeof msg, E_CANNOT_SET, T_SELECT);
    s_expect_field(j, T_SELECT, msg);
    json_decref(j);
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"fields\":{\"summary\":\"\"}}", &j, "%s", path),
                     400);
    s_expect_field(j, "summary", "You must specify a summary of the issue.");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, "{\"update\":{\"labels\":[{\"add\":\"x y\"}]}}", &j, "%s", path),
        400);
    s_expect_field(j, "labels", "The label 'x y' contains spaces which is invalid.");
    json_decref(j);
    assert_int_equal(s_api(jd, "PUT", T_BOT,
                           "{\"fields\":{\"summary\":\"a\"},\"update\":"
                           "{\"summary\":[{\"set\":\"b\"}]}}",
                           &j, "%s", path),
                     400);
    s_expect_field(j, "summary", "Field 'summary' cannot be set in both 'fields' and 'update'.");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, "{\"fields\":{\"summary\":\"x\"}}", &j, "/rest/api/2/issue/ORD-99"),
        404);
    s_expect_message(j, E_NOT_FOUND);
    /* delete: 204, then 404 */
    assert_int_equal(s_api(jd, "DELETE", T_BOT, NULL, NULL, "%s", path), 204);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "%s", path), 404);
    s_expect_message(j, E_NOT_FOUND);
    assert_int_equal(s_api(jd, "DELETE", T_BOT, NULL, &j, "%s", path), 404);
    s_expect_message(j, E_NOT_FOUND);
}

/* ---- transitions (reference 6) ---- */

static void
test_transitions(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    const char *task = s_task(jd, NULL, NULL);
    char path[T_PATH_MAX];
    snprintf(path, sizeof path, "/rest/api/2/issue/%s/transitions", task);
    /* from Open: Start Progress and Close, not Reopen */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "%s", path), 200);
    json_t *list = json_object_get(j, "transitions");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(s_s(json_array_get(list, 0), "id"), "11");
    assert_string_equal(s_s(json_object_get(json_array_get(list, 0), "to"), "id"), "3");
    assert_string_equal(s_s(json_object_get(json_array_get(list, 0), "to"), "name"), "In Progress");
    assert_string_equal(s_s(json_array_get(list, 1), "id"), "21");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT, "{\"transition\":{\"id\":\"abc\"}}", &j, "%s", path),
                     400);
    s_expect_message(j, "'transition' identifier must be an integer");
    assert_int_equal(s_api(jd, "POST", T_BOT, "{\"transition\":{\"id\":\"31\"}}", &j, "%s", path),
                     400);
    char msg[T_BODY_MAX];
    snprintf(msg, sizeof msg,
             "It seems that you have tried to perform a workflow operation (Reopen) that is not "
             "valid for the current state of this issue (%s). The likely cause is that somebody "
             "has changed the issue recently, please look at the issue history for details.",
             task);
    s_expect_message(j, msg);
    assert_int_equal(s_api(jd, "POST", T_BOT, "{}", &j, "%s", path), 400);
    s_expect_message(j, "Missing 'transition' identifier");
    /* 204, empty; the status moves; the list follows it */
    assert_int_equal(s_api(jd, "POST", T_BOT, "{\"transition\":{\"id\":11}}", &j, "%s", path), 204);
    assert_null(j);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "%s", path), 200);
    list = json_object_get(j, "transitions");
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(s_s(json_array_get(list, 0), "id"), "21");
    json_decref(j);
    /* a field on the transition's screen, and one that is not */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"transition\":{\"id\":\"21\"},\"fields\":{\"summary\":\"x\"}}", &j,
                           "%s", path),
                     400);
    s_expect_field(j, "summary",
                   "Field 'summary' cannot be set. It is not on the appropriate screen, or "
                   "unknown.");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"transition\":{\"id\":\"21\"},\"fields\":{\"customfield_10500\":"
                           "\"V-1\"}}",
                           NULL, "%s", path),
                     204);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s", task), 200);
    json_t *f = json_object_get(j, "fields");
    assert_string_equal(s_s(json_object_get(f, "status"), "id"), "6");
    assert_string_equal(s_s(f, "customfield_10500"), "V-1");
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/NOPE-1/transitions"),
                     404);
    s_expect_message(j, E_NOT_FOUND);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/status/3"), 200);
    assert_string_equal(s_s(j, "name"), "In Progress");
    json_decref(j);
}

/* ---- comments (reference 7) ---- */

static void
test_comments(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char task[64];
    snprintf(task, sizeof task, "%s", s_task(jd, NULL, NULL));
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"body\":\"internal\",\"visibility\":{\"type\":\"role\",\"value\":"
                           "\"Administrators\"}}",
                           &j, "/rest/api/2/issue/%s/comment", task),
                     201);
    char id[32];
    snprintf(id, sizeof id, "%s", s_s(j, "id"));
    assert_string_equal(s_s(j, "body"), "internal");
    assert_string_equal(s_s(json_object_get(j, "author"), "name"), "bot");
    assert_string_equal(s_s(json_object_get(j, "visibility"), "type"), "role");
    assert_string_equal(s_s(json_object_get(j, "visibility"), "value"), "Administrators");
    json_decref(j);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_api(jd, "POST", T_ANN, "{\"body\":\"public\"}", NULL,
                               "/rest/api/2/issue/%s/comment", task),
                         201);
    /* bot sees 4, paged; ann (not in the role) sees 3 */
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j,
                           "/rest/api/2/issue/%s/comment?startAt=1&maxResults=2", task),
                     200);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 4);
    assert_int_equal(json_integer_value(json_object_get(j, "startAt")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "maxResults")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "comments")), 2);
    assert_string_equal(
        s_s(json_object_get(json_array_get(json_object_get(j, "comments"), 0), "author"), "name"),
        "ann");
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_ANN, NULL, &j, "/rest/api/2/issue/%s/comment", task), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "maxResults")), 50);
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_ANN, NULL, &j, "/rest/api/2/issue/%s/comment/%s", task, id),
                     404);
    char msg[T_PATH_MAX];
    snprintf(msg, sizeof msg, "Can not find a comment for the id: %s.", id);
    s_expect_message(j, msg);
    /* errors */
    assert_int_equal(
        s_api(jd, "POST", T_BOT, "{\"body\":\"\"}", &j, "/rest/api/2/issue/%s/comment", task), 400);
    s_expect_field(j, "comment", "Comment body can not be empty!");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_ANN,
                           "{\"body\":\"x\",\"visibility\":{\"type\":\"role\",\"value\":"
                           "\"Administrators\"}}",
                           &j, "/rest/api/2/issue/%s/comment", task),
                     400);
    s_expect_field(j, "commentLevel",
                   "You are currently not a member of the project role: Administrators.");
    json_decref(j);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"body\":\"x\",\"visibility\":{\"type\":\"group\",\"value\":"
                           "\"staff\"}}",
                           &j, "/rest/api/2/issue/%s/comment", task),
                     400);
    s_expect_field(j, "commentLevel", "You are currently not a member of the group: staff.");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "POST", T_BOT, "{\"body\":\"x\"}", &j, "/rest/api/2/issue/ORD-99/comment"), 404);
    s_expect_message(j, E_NOT_FOUND);
    /* edit: 200 with the comment; visibility kept unless given */
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"body\":\"edited\"}", &j,
                           "/rest/api/2/issue/%s/comment/%s", task, id),
                     200);
    assert_string_equal(s_s(j, "body"), "edited");
    assert_string_equal(s_s(json_object_get(j, "visibility"), "value"), "Administrators");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, "{\"body\":\"x\"}", &j, "/rest/api/2/issue/%s/comment/99999", task),
        404);
    s_expect_message(j, "Can not find a comment for the id: 99999.");
    /* GET issue shows the comments its caller may see */
    assert_int_equal(s_api(jd, "GET", T_ANN, NULL, &j, "/rest/api/2/issue/%s", task), 200);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(j, "fields"), "comment"), "total")),
                     3);
    json_decref(j);
}

/* ---- properties (reference 8) ---- */

static void
test_properties(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char task[64];
    snprintf(task, sizeof task, "%s", s_task(jd, NULL, NULL));
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"event\":\"e-1\"}", NULL,
                           "/rest/api/2/issue/%s/properties/mp", task),
                     201);
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"event\":\"e-2\"}", NULL,
                           "/rest/api/2/issue/%s/properties/mp", task),
                     200);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s/properties/mp", task),
                     200);
    assert_string_equal(s_s(j, "key"), "mp");
    assert_string_equal(s_s(json_object_get(j, "value"), "event"), "e-2");
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s/properties", task),
                     200);
    assert_string_equal(s_s(json_array_get(json_object_get(j, "keys"), 0), "key"), "mp");
    json_decref(j);
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s/properties/none", task), 404);
    s_expect_message(j, "The property with key 'none' does not exist.");
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/ORD-99/properties/mp"),
                     404);
    s_expect_message(j, E_NOT_FOUND);
    /* 32 768 characters (a JSON string of 32 766 + its quotes) pass; one more does not */
    char *big = malloc(T_PROPERTY_MAX + 2);
    assert_non_null(big);
    memset(big, 'x', T_PROPERTY_MAX + 1);
    big[0] = '"';
    big[T_PROPERTY_MAX - 1] = '"';
    big[T_PROPERTY_MAX] = '\0';
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, big, NULL, "/rest/api/2/issue/%s/properties/big", task), 201);
    big[T_PROPERTY_MAX - 1] = 'x';
    big[T_PROPERTY_MAX] = '"';
    big[T_PROPERTY_MAX + 1] = '\0';
    assert_int_equal(s_api(jd, "PUT", T_BOT, big, &j, "/rest/api/2/issue/%s/properties/big", task),
                     400);
    s_expect_message(j, "The property value is too long. The maximum length is 32768 characters.");
    free(big);
    assert_int_equal(
        s_api(jd, "PUT", T_BOT, "{nope", &j, "/rest/api/2/issue/%s/properties/bad", task), 400);
    s_expect_message(j, "The property value is not valid JSON.");
    assert_int_equal(
        s_api(jd, "DELETE", T_BOT, NULL, NULL, "/rest/api/2/issue/%s/properties/big", task), 204);
}

/* ---- issue links (reference 9) ---- */

static void
test_links(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char epic[64], task[64];
    snprintf(epic, sizeof epic, "%s", s_epic(jd, "E"));
    snprintf(task, sizeof task, "%s", s_task(jd, NULL, NULL));
    char body[T_PATH_MAX];
    snprintf(body, sizeof body,
             "{\"type\":{\"name\":\"Relates\"},\"inwardIssue\":{\"key\":\"%s\"},"
             "\"outwardIssue\":{\"key\":\"%s\"}}",
             epic, task);
    char *text = NULL;
    const char *headers[] = {"Authorization: " T_BOT, NULL};
    assert_int_equal(
        double_proc_request(jd, "POST", "/rest/api/2/issueLink", headers, body, &text, NULL), 201);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s?fields=issuelinks", epic), 200);
    json_t *link = json_array_get(json_object_get(json_object_get(j, "fields"), "issuelinks"), 0);
    assert_string_equal(s_s(json_object_get(link, "type"), "name"), "Relates");
    assert_string_equal(s_s(json_object_get(link, "outwardIssue"), "key"), task);
    json_decref(j);
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/%s?fields=issuelinks", task), 200);
    link = json_array_get(json_object_get(json_object_get(j, "fields"), "issuelinks"), 0);
    assert_string_equal(s_s(json_object_get(link, "inwardIssue"), "key"), epic);
    json_decref(j);
    snprintf(body, sizeof body,
             "{\"type\":{\"name\":\"Nope\"},\"inwardIssue\":{\"key\":\"%s\"},"
             "\"outwardIssue\":{\"key\":\"%s\"}}",
             epic, task);
    assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issueLink"), 404);
    s_expect_message(j, "No issue link type with name 'Nope' found.");
    snprintf(body, sizeof body,
             "{\"type\":{\"name\":\"Blocks\"},\"inwardIssue\":{\"key\":\"%s\"},"
             "\"outwardIssue\":{\"key\":\"ORD-99\"}}",
             epic);
    assert_int_equal(s_api(jd, "POST", T_BOT, body, &j, "/rest/api/2/issueLink"), 404);
    s_expect_message(j, E_NOT_FOUND);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issueLinkType"), 200);
    assert_int_equal(json_array_size(json_object_get(j, "issueLinkTypes")), 4);
    json_decref(j);
}

/* ---- search (reference 8, 15 item 9) ---- */

/* GET /search with jql (URL-encoded by the caller) and extra; returns total, *ret the body. */
static long
s_search(const jira_double_proc_t *jd, const char *jql, const char *extra, json_t **ret)
{
    char *esc = curl_easy_escape(NULL, jql, 0);
    json_t *j = NULL;
    assert_int_equal(
        s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/search?jql=%s%s", esc, extra ? extra : ""),
        200);
    curl_free(esc);
    long total = (long)json_integer_value(json_object_get(j, "total"));
    if (ret)
        *ret = j;
    else
        json_decref(j);
    return total;
}

static json_t *
s_search_fails(const jira_double_proc_t *jd, const char *jql)
{
    char *esc = curl_easy_escape(NULL, jql, 0);
    json_t *j = NULL;
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/search?jql=%s", esc), 400);
    curl_free(esc);
    return j;
}

static void
test_search(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char epic[64];
    snprintf(epic, sizeof epic, "%s", s_epic(jd, "E"));
    for (int i = 0; i < 5; i++)
        s_task(jd, i < 3 ? epic : NULL, i % 2 ? "[\"odd\",\"mp-x\"]" : "[\"mp-x\"]");
    s_create(jd, "{\"project\":{\"key\":\"OPS\"},\"issuetype\":{\"id\":\"10001\"},\"summary\":"
                 "\"Ops thing\"}");
    assert_int_equal(s_search(jd, "project = ORD", NULL, NULL), 6);
    assert_int_equal(s_search(jd, "project = ORD AND labels = odd", NULL, NULL), 2);
    assert_int_equal(s_search(jd, "labels = mp-x", NULL, NULL), 5);
    assert_int_equal(s_search(jd, "labels != odd", NULL, NULL), 3); /* not the unlabelled ones */
    assert_int_equal(s_search(jd, "labels in (odd, nothing)", NULL, NULL), 2);
    assert_int_equal(s_search(jd, "\"Epic Link\" = ORD-1", NULL, NULL), 3);
    assert_int_equal(s_search(jd, "cf[10014] = ORD-1 AND labels = odd", NULL, NULL), 1);
    assert_int_equal(s_search(jd, "key = ORD-2 OR key = OPS-1", NULL, NULL), 2);
    assert_int_equal(s_search(jd, "status = 1", NULL, NULL), 7);
    assert_int_equal(s_search(jd, "status = \"In Progress\"", NULL, NULL), 0);
    assert_int_equal(s_search(jd, "issuetype = Epic", NULL, NULL), 1);
    assert_int_equal(s_search(jd, "summary ~ \"ops\"", NULL, NULL), 1);
    assert_int_equal(s_search(jd, "\"Customer typology\" = Research", NULL, NULL), 5);
    /* paging: startAt, maxResults read back (capped), total; newest first by default */
    assert_int_equal(s_search(jd, "project = ORD", "&startAt=1&maxResults=2", &j), 6);
    assert_int_equal(json_integer_value(json_object_get(j, "startAt")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "maxResults")), 2);
    assert_int_equal(json_array_size(json_object_get(j, "issues")), 2);
    assert_string_equal(s_s(json_array_get(json_object_get(j, "issues"), 0), "key"), "ORD-5");
    json_decref(j);
    assert_int_equal(s_search(jd, "project = ORD ORDER BY key ASC", "&maxResults=100000", &j), 6);
    assert_int_equal(json_integer_value(json_object_get(j, "maxResults")), 1000);
    assert_string_equal(s_s(json_array_get(json_object_get(j, "issues"), 0), "key"), "ORD-1");
    json_decref(j);
    s_ctl(jd, "config", json_pack("{s:i}", "search_max", 3));
    assert_int_equal(s_search(jd, "", NULL, &j), 7);
    assert_int_equal(json_integer_value(json_object_get(j, "maxResults")), 3);
    assert_int_equal(json_array_size(json_object_get(j, "issues")), 3);
    json_decref(j);
    /* POST, with the same keys in a body */
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"jql\":\"project = OPS\",\"startAt\":0,\"maxResults\":10,"
                           "\"fields\":[\"summary\"]}",
                           &j, "/rest/api/2/search"),
                     200);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
    json_t *fields = json_object_get(json_array_get(json_object_get(j, "issues"), 0), "fields");
    assert_int_equal(json_object_size(fields), 1);
    assert_string_equal(s_s(fields, "summary"), "Ops thing");
    json_decref(j);
    /* properties: only for keys an app indexes */
    assert_int_equal(s_api(jd, "PUT", T_BOT, "{\"event\":\"e-7\",\"n\":3}", NULL,
                           "/rest/api/2/issue/ORD-3/properties/mp"),
                     201);
    assert_int_equal(s_search(jd, "issue.property[mp].event = e-7", NULL, NULL), 0);
    s_ctl(jd, "config", json_pack("{s:[s]}", "indexed_properties", "mp"));
    assert_int_equal(s_search(jd, "issue.property[mp].event = e-7", NULL, &j), 1);
    assert_string_equal(s_s(json_array_get(json_object_get(j, "issues"), 0), "key"), "ORD-3");
    json_decref(j);
    assert_int_equal(s_search(jd, "issue.property[mp].n = 3", NULL, NULL), 1);
    assert_int_equal(s_search(jd, "issue.property[mp].event = e-8", NULL, NULL), 0);
    /* errors: JQL's shape, warningMessages and no errors */
    s_expect_jql(s_search_fails(jd, "project = NOPE"),
                 "The value 'NOPE' does not exist for the field 'project'.");
    s_expect_jql(s_search_fails(jd, "key = ORD-99"),
                 "An issue with key 'ORD-99' does not exist for field 'key'.");
    s_expect_jql(s_search_fails(jd, "colour = red"),
                 "Field 'colour' does not exist or you do not have permission to view it.");
    s_expect_jql(s_search_fails(jd, "summary = x"),
                 "The operator '=' is not supported by the 'summary' field.");
    s_expect_jql(s_search_fails(jd, "project = ORD ORDER BY Rank"),
                 "Not able to sort using field 'Rank'.");
    j = s_search_fails(jd, "project = ORD labels = x");
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(j, "errorMessages"), 0)),
               "Error in the JQL Query: "));
    json_decref(j);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/search?jql=&startAt=x"), 400);
    s_expect_message(j, "'startAt' must be a non-negative integer");
}

/* ---- webhooks (reference 12), with a receiver in this process ---- */

typedef struct s_recv {
    pthread_mutex_t lock;             /* guards all */
    pthread_cond_t cond;              /* on each request */
    int n;                            /* requests recorded */
    char url[T_RECV_MAX][T_PATH_MAX]; /* path and query */
    char sig[T_RECV_MAX][T_PATH_MAX]; /* X-Hub-Signature */
    char *body[T_RECV_MAX];           /* raw body, owned */
} s_recv_t;

typedef struct s_upload {
    char *body; /* accumulated, NUL-terminated */
    size_t len; /* bytes */
} s_upload_t;

static enum MHD_Result
s_recv_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    char *url = cls;
    size_t used = strlen(url);
    snprintf(url + used, T_PATH_MAX - used, "%c%s=%s", strchr(url, '?') ? '&' : '?', key,
             value ? value : "");
    return MHD_YES;
}

static enum MHD_Result
s_recv_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)method;
    s_recv_t *r = cls;
    s_upload_t *up = *con_cls;
    if (!up) {
        *con_cls = calloc(1, sizeof(s_upload_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size) {
        char *grown = realloc(up->body, up->len + *upload_size + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + up->len, upload, *upload_size);
        up->body = grown;
        up->len += *upload_size;
        up->body[up->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    if (r->n < T_RECV_MAX) {
        snprintf(r->url[r->n], T_PATH_MAX, "%s", url);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_recv_query, r->url[r->n]);
        const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Hub-Signature");
        snprintf(r->sig[r->n], T_PATH_MAX, "%s", sig ? sig : "");
        r->body[r->n] = up->body ? up->body : strdup("");
        up->body = NULL;
        r->n++;
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 204, resp);
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
    s_upload_t *up = *con_cls;
    if (up)
        free(up->body);
    free(up);
    *con_cls = NULL;
}

/* Waits until the receiver has n requests. */
static bool
s_recv_wait(s_recv_t *r, int n)
{
    long deadline = s_now_ms() + T_WAIT_MS;
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

/* "sha256=" + the hex HMAC-SHA256 of body keyed by secret, computed here with libsodium. */
static void
s_hub_signature(const char *secret, const char *body, char *out, size_t len)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * sizeof mac + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, len, "sha256=%s", hex);
}

/* The i-th delivery's body as JSON (a new reference); checks its signature with secret. */
static json_t *
s_delivery(s_recv_t *r, int i, const char *secret)
{
    pthread_mutex_lock(&r->lock);
    assert_true(i < r->n);
    char want[T_PATH_MAX];
    s_hub_signature(secret, r->body[i], want, sizeof want);
    assert_string_equal(r->sig[i], want);
    json_t *j = json_loads(r->body[i], 0, NULL);
    pthread_mutex_unlock(&r->lock);
    assert_non_null(j);
    return j;
}

static void
test_webhooks(void **state)
{
    jira_double_proc_t *jd = *state;
    assert_true(sodium_init() >= 0);
    /* the reference's self-check value for X-Hub-Signature (section 12) */
    char sig[T_PATH_MAX];
    s_hub_signature("It's a Secret to Everybody", "Hello World!", sig, sizeof sig);
    assert_string_equal(sig,
                        "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9");
    s_recv_t r = {.n = 0};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        s_recv_handle, &r, MHD_OPTION_NOTIFY_COMPLETED, s_recv_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    char url[T_PATH_MAX];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%u/hook?issue_id=${issue.id}&key=${issue.key}&p=${project.key}",
             port);
    s_ctl(jd, "webhooks",
          json_pack("{s:s, s:s, s:s}", "url", url, "secret", "s3cret", "jql", "project = ORD"));
    s_create(jd, "{\"project\":{\"key\":\"OPS\"},\"issuetype\":{\"id\":\"10001\"},\"summary\":"
                 "\"filtered out\"}");
    char task[64];
    snprintf(task, sizeof task, "%s", s_task(jd, NULL, NULL)); /* ORD-1, id 10001 */
    /* 0: created */
    assert_true(s_recv_wait(&r, 1));
    json_t *j = s_delivery(&r, 0, "s3cret");
    assert_string_equal(r.url[0], "/hook?issue_id=10001&key=ORD-1&p=ORD");
    assert_string_equal(s_s(j, "webhookEvent"), "jira:issue_created");
    assert_string_equal(s_s(j, "issue_event_type_name"), "issue_created");
    assert_string_equal(s_s(json_object_get(j, "issue"), "key"), "ORD-1");
    assert_string_equal(s_s(json_object_get(j, "user"), "name"), "bot");
    assert_true(json_is_integer(json_object_get(j, "timestamp")));
    json_decref(j);
    /* 1, 2: a person's comment, DC style: comment_created without issue, then issue_commented */
    s_ctl(jd, "comment",
          json_pack("{s:s, s:s, s:s}", "issue", task, "user", "ann", "body", "Please hurry"));
    assert_true(s_recv_wait(&r, 3));
    j = s_delivery(&r, 1, "s3cret");
    assert_string_equal(s_s(j, "webhookEvent"), "comment_created");
    assert_null(json_object_get(j, "issue"));
    assert_null(json_object_get(j, "user"));
    assert_int_equal(json_object_size(j), 3);
    assert_string_equal(s_s(json_object_get(j, "comment"), "body"), "Please hurry");
    assert_string_equal(s_s(json_object_get(json_object_get(j, "comment"), "author"), "name"),
                        "ann");
    assert_non_null(strstr(s_s(json_object_get(j, "comment"), "self"), "/issue/10001/comment/"));
    assert_string_equal(r.url[1], "/hook?issue_id=10001&key=ORD-1&p=ORD");
    json_decref(j);
    j = s_delivery(&r, 2, "s3cret");
    assert_string_equal(s_s(j, "webhookEvent"), "jira:issue_updated");
    assert_string_equal(s_s(j, "issue_event_type_name"), "issue_commented");
    assert_string_equal(s_s(json_object_get(j, "comment"), "body"), "Please hurry");
    assert_string_equal(s_s(json_object_get(j, "user"), "name"), "ann");
    json_decref(j);
    /* 3: a person's transition: the status item with string ids, fields already updated */
    /* Reopen is not offered from Open: Jira's 400 */
    s_ctl_fails(jd, "transition",
                json_pack("{s:s, s:s, s:s}", "issue", task, "user", "ann", "transition", "31"));
    s_ctl(jd, "transition",
          json_pack("{s:s, s:s, s:s}", "issue", task, "user", "ann", "transition", "11"));
    assert_true(s_recv_wait(&r, 4));
    j = s_delivery(&r, 3, "s3cret");
    assert_string_equal(s_s(j, "webhookEvent"), "jira:issue_updated");
    assert_string_equal(s_s(json_object_get(j, "user"), "name"), "ann");
    json_t *item = json_array_get(json_object_get(json_object_get(j, "changelog"), "items"), 0);
    assert_string_equal(s_s(item, "field"), "status");
    assert_string_equal(s_s(item, "fieldtype"), "jira");
    assert_string_equal(s_s(item, "from"), "1");
    assert_string_equal(s_s(item, "fromString"), "Open");
    assert_string_equal(s_s(item, "to"), "3");
    assert_string_equal(s_s(item, "toString"), "In Progress");
    assert_string_equal(
        s_s(json_object_get(json_object_get(json_object_get(j, "issue"), "fields"), "status"),
            "id"),
        "3");
    json_decref(j);
    /* 4: an edit through the API: custom field items name the field, with fieldId */
    char epic[64];
    snprintf(epic, sizeof epic, "%s", s_epic(jd, "E")); /* 4: created */
    char body[T_PATH_MAX];
    snprintf(body, sizeof body,
             "{\"fields\":{\"" T_EPIC_LINK "\":\"%s\"},\"update\":{\"labels\":[{\"add\":\"x\"}]}}",
             epic);
    assert_int_equal(s_api(jd, "PUT", T_BOT, body, NULL, "/rest/api/2/issue/%s", task), 204);
    assert_true(s_recv_wait(&r, 6));
    j = s_delivery(&r, 5, "s3cret");
    assert_string_equal(s_s(j, "issue_event_type_name"), "issue_updated");
    json_t *items = json_object_get(json_object_get(j, "changelog"), "items");
    assert_int_equal(json_array_size(items), 2);
    item = json_array_get(items, 0);
    assert_string_equal(s_s(item, "field"), "Epic Link");
    assert_string_equal(s_s(item, "fieldtype"), "custom");
    assert_string_equal(s_s(item, "fieldId"), T_EPIC_LINK);
    assert_true(json_is_null(json_object_get(item, "from")));
    assert_string_equal(s_s(item, "to"), "10002");
    assert_string_equal(s_s(item, "toString"), epic);
    item = json_array_get(items, 1);
    assert_string_equal(s_s(item, "field"), "labels");
    assert_string_equal(s_s(item, "toString"), "x");
    json_decref(j);
    /* the deliveries are in the state, in order */
    json_t *st = jira_double_proc_state(jd);
    json_t *log = json_object_get(st, "deliveries");
    assert_int_equal(json_array_size(log), 6);
    assert_string_equal(s_s(json_array_get(log, 1), "event"), "comment_created");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 1), "http_status")),
                     204);
    json_decref(st);
    MHD_stop_daemon(d);
    for (int i = 0; i < r.n; i++)
        free(r.body[i]);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* A receiver that never answers (a listening socket nobody accepts on) holds the webhook
   thread, never the API; the double still stops at once. */
static void
test_webhook_hang(void **state)
{
    jira_double_proc_t *jd = *state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(fd, T_RECV_MAX), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    char url[T_PATH_MAX];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/silent", ntohs(addr.sin_port));
    s_ctl(jd, "webhooks", json_pack("{s:s}", "url", url));
    long start = s_now_ms();
    for (int i = 0; i < 3; i++)
        s_task(jd, NULL, NULL);
    assert_true(s_now_ms() - start < T_SLOW_MS);
    json_t *st = jira_double_proc_state(jd);
    assert_int_equal(json_array_size(json_object_get(st, "deliveries")), 0); /* still waiting */
    json_decref(st);
    start = s_now_ms();
    int status = jira_double_proc_stop(jd, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_true(s_now_ms() - start < T_WAIT_MS / 2); /* not the delivery's 10 s timeout */
    assert_int_equal(jira_double_proc_start(jd), 0); /* for s_teardown */
    close(fd);
}

/* ---- faults (reference 11, 15 item 13) ---- */

static void
test_faults(void **state)
{
    jira_double_proc_t *jd = *state;
    json_t *j = NULL;
    char *headers = NULL;
    s_ctl(jd, "faults",
          json_pack("{s:i, s:i, s:i}", "status_next", 2, "status", 429, "retry_after", 7));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(
            jira_double_proc_call(jd, "GET", "/rest/api/2/myself", T_BOT, NULL, &j, &headers), 429);
        assert_non_null(strstr(headers, "Retry-After: 7"));
        s_expect_message(j, "Rate limit exceeded.");
        free(headers);
    }
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, NULL, "/rest/api/2/myself"), 200);
    /* before authentication: even an anonymous request gets the fault */
    s_ctl(jd, "faults",
          json_pack("{s:i, s:i, s:i}", "status_next", 1, "status", 503, "retry_after", -1));
    assert_int_equal(
        jira_double_proc_call(jd, "GET", "/rest/api/2/myself", NULL, NULL, &j, &headers), 503);
    assert_null(strstr(headers, "Retry-After"));
    free(headers);
    json_decref(j);
    /* a dropped connection: no answer at all; a create is then not made */
    s_ctl(jd, "faults", json_pack("{s:i}", "drop_next", 1));
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, NULL, "/rest/api/2/myself"), -1);
    /* a slow answer */
    s_ctl(jd, "faults", json_pack("{s:i, s:i}", "slow_next", 1, "slow_ms", T_SLOW_MS));
    long start = s_now_ms();
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, NULL, "/rest/api/2/myself"), 200);
    assert_true(s_now_ms() - start >= T_SLOW_MS);
    start = s_now_ms();
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, NULL, "/rest/api/2/myself"), 200);
    assert_true(s_now_ms() - start < T_SLOW_MS);
    /* only for POST /rest/api/2/issue: the GET passes; the create is made but its answer is
       lost, as when a connection breaks after Jira committed (a retry would duplicate it) */
    s_ctl(jd, "faults",
          json_pack("{s:i, s:s, s:s}", "lose_next", 1, "method", "POST", "path",
                    "/rest/api/2/issue"));
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, NULL, "/rest/api/2/myself"), 200);
    assert_int_equal(s_api(jd, "POST", T_BOT,
                           "{\"fields\":{\"project\":{\"key\":\"OPS\"},\"issuetype\":{\"id\":"
                           "\"10001\"},\"summary\":\"lost\"}}",
                           NULL, "/rest/api/2/issue"),
                     -1);
    assert_int_equal(s_api(jd, "GET", T_BOT, NULL, &j, "/rest/api/2/issue/OPS-1"), 200);
    assert_string_equal(s_s(json_object_get(j, "fields"), "summary"), "lost");
    json_decref(j);
    s_ctl(jd, "faults", json_pack("{s:s, s:s}", "method", "", "path", ""));
    /* the control interface is never faulted; bad faults are refused */
    s_ctl(jd, "faults", json_pack("{s:i}", "status_next", 5));
    json_t *st = jira_double_proc_state(jd);
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "requests")), 10);
    json_decref(st);
    s_ctl_fails(jd, "faults", json_pack("{s:i}", "status", 200));
    s_ctl_fails(jd, "faults", json_pack("{s:i}", "method", 1));
    s_ctl_fails(jd, "comment",
                json_pack("{s:s, s:s, s:s}", "issue", "ORD-1", "user", "nobody", "body", "x"));
    s_ctl_fails(jd, "projects", json_pack("{s:s}", "key", "lower"));
    s_ctl_fails(jd, "fields",
                json_pack("{s:s, s:s, s:s}", "id", "summary2", "name", "x", "type", "string"));
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test_setup_teardown(test_auth, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_create, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_field_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_edit_delete, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_transitions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_comments, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_properties, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_links, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_search, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_webhooks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_webhook_hang, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_faults, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
