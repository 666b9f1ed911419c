/*  test_mp_compat: the compatibility check of the Ordering API facade (issue 17). The
    compatibility client (mp_compat_client.h, written from marketplace-api-client and the
    reference adapter's trigger flow) runs one scenario twice, on two Marketplace doubles
    seeded alike:
    - directly against double A, whose trigger calls the client;
    - through the gateway against double B: double B's trigger wakes the gateway's feed, the
      events go to oms.7, the gateway's facade trigger calls the client, the client reads
      through the facade (its view of oms.7) and writes through it (commands on mp.7,
      executed by the connector), with the gateway's token.
    The resources the client sees, the answers to its writes and the lists must be equal,
    the times masked. */
#include <curl/curl.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "mp_compat_client.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"
#include "rest_http.h"
#include "token.h"

#define S_OMS 7                /* the OMS */
#define S_MP_TOKEN "tok-oms-7" /* its administrator's token at the doubles */
#define S_PATH 1024            /* a path */
#define S_ERR 512              /* a scenario's failure */

/* Registers OMS 7 with the trigger url (method post) in mp, then a project with two items
   of it. Returns the project's id. */
static long
s_seed(mp_double_proc_t *mp, const char *url)
{
    json_t *body = json_pack("{s:i, s:s, s:s, s:{s:s, s:s}}", "id", S_OMS, "name", "compat",
                             "token", S_MP_TOKEN, "trigger", "url", url, "method", "post");
    json_t *answer = mp_double_proc_control(mp, "oms", body);
    json_decref(body);
    assert_non_null(answer);
    json_decref(answer);
    body = json_pack("{s:{s:s, s:s}}", "attributes", "name", "Compat", "country", "PL");
    answer = mp_double_proc_control(mp, "projects", body);
    json_decref(body);
    assert_non_null(answer);
    long project = (long)json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
    for (int i = 0; i < 2; i++) {
        body = json_pack("{s:i, s:i, s:{s:s, s:s}}", "project_id", (int)project, "primary_oms_id",
                         S_OMS, "attributes", "service", "Compute", "offer", "Small");
        answer = mp_double_proc_control(mp, "project_items", body);
        json_decref(body);
        assert_non_null(answer);
        json_decref(answer);
    }
    return project;
}

/* Runs the scenario with c on project; asserts it succeeds; returns its record, masked. */
static json_t *
s_run(mpc_client_t *c, long project)
{
    char err[S_ERR] = "";
    json_t *record = mpc_scenario(c, project, err, sizeof err);
    if (!record)
        fail_msg("scenario: %s", err);
    json_t *masked = mpc_mask_times(record);
    json_decref(record);
    return masked;
}

static void
s_assert_equal(const json_t *direct, const json_t *facade, const char *key)
{
    const json_t *a = json_object_get(direct, key), *b = json_object_get(facade, key);
    if (!a || !json_equal((json_t *)a, (json_t *)b)) {
        char *ta = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        char *tb = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("%s differ:\n  double %s\n  facade %s", key, ta ? ta : "-", tb ? tb : "-");
    }
}

static void
test_compat(void **state)
{
    (void)state;
    /* A: the double alone */
    mp_double_proc_t a;
    assert_int_equal(mp_double_proc_start(&a, "--trigger-retry-scale-ms", "10", (char *)NULL), 0);
    mpc_config_t ca = {.read_url = a.base_url,
                       .read_token = S_MP_TOKEN,
                       .write_url = a.base_url,
                       .write_token = S_MP_TOKEN,
                       .oms_id = S_OMS};
    mpc_client_t *client_a = mpc_new(&ca);
    assert_non_null(client_a);
    long project_a = s_seed(&a, mpc_trigger_url(client_a));
    json_t *direct = s_run(client_a, project_a);
    assert_true(mpc_triggers(client_a) > 0);

    /* B: a broker, double B, the gateway with the client's trigger */
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "mp-compat"), 0);
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--curve", "0", (char *)NULL);
    assert_true(broker > 0);
    mp_double_proc_t b;
    assert_int_equal(mp_double_proc_start(&b, "--trigger-retry-scale-ms", "10", (char *)NULL), 0);
    char token[OB_TOKEN_TEXT], tokens[1024] = "", path[S_PATH], mp_token[S_PATH], cfg[4096];
    assert_int_equal(ob_token_generate(token), 0);
    rest_http_token_entry(tokens, sizeof tokens, "oms-7", token,
                          "    publish = mp.7\n    subscribe = oms.7\n    admin = read\n");
    snprintf(path, sizeof path, "%s/tokens.zpl", site.dir);
    rest_http_write_file(path, tokens);
    snprintf(mp_token, sizeof mp_token, "%s/mp-token", site.dir);
    rest_http_write_file(mp_token, S_MP_TOKEN "\n");
    /* the client's receiver goes into the gateway's configuration, the gateway's URL into
       the client's */
    mpc_config_t cb = {.read_url = b.base_url,
                       .read_token = S_MP_TOKEN,
                       .write_url = b.base_url,
                       .write_token = token,
                       .oms_id = S_OMS};
    mpc_client_t *client_b = mpc_new(&cb);
    assert_non_null(client_b);
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n"
             "    tokens_file = %s\n    facade = 1\nbroker\n    endpoint = %s\n"
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 1s\n"
             "    facade_trigger_url = %s\n",
             site.dir, path, site.endpoint, S_OMS, b.base_url, mp_token, mpc_trigger_url(client_b));
    char cfg_path[S_PATH], gw_url[GW_PROC_URL_MAX], trigger[S_PATH];
    snprintf(cfg_path, sizeof cfg_path, "%s/gw.cfg", site.dir);
    rest_http_write_file(cfg_path, cfg);
    pid_t gw = gw_proc_start(site.dir, cfg_path, gw_url);
    assert_true(gw > 0);
    cb.write_url = gw_url;
    cb.read_url = gw_url;
    cb.read_token = token;
    mpc_configure(client_b, &cb);
    /* double B's trigger wakes the gateway's feed */
    snprintf(trigger, sizeof trigger, "%s/trigger/%d", gw_url, S_OMS);
    long project_b = s_seed(&b, trigger);
    assert_int_equal(project_b, project_a);
    json_t *facade = s_run(client_b, project_b);
    assert_true(mpc_triggers(client_b) > 0);
    /* the facade's events once more, through the recording client (rest_http.h): the answer
       is checked against gateway/openapi.json too (gw_openapi_answers) */
    char header[S_PATH];
    snprintf(header, sizeof header, "%s: %s", "X-User-Token", token);
    rest_request_t req = {.method = "GET",
                          .path = "/api/v1/oms/7/events?from_timestamp=2000-01-01T00:00:00Z",
                          .header = header};
    rest_answer_t events = {0};
    assert_int_equal(rest_http(gw_url, &req, &events), 200);
    assert_true(json_array_size(json_object_get(events.json, "events")) >= 4);
    rest_answer_free(&events);

    /* the project, its two items, the message: each seen through the events */
    assert_int_equal(json_object_size(json_object_get(direct, "resources")), 4);
    s_assert_equal(direct, facade, "writes");
    s_assert_equal(direct, facade, "resources");
    s_assert_equal(direct, facade, "lists");
    /* the writes went through the gateway: three commands on mp.7 */
    ob_client_config_t cc = {.name = "test", .timeout_ms = 5000};
    ob_client_t *client = ob_client_new(site.endpoint, &cc);
    assert_non_null(client);
    ob_fetch_t *f = NULL;
    assert_int_equal(ob_client_fetch(client, "mp.7", 1, 0, 100, &f), 0);
    assert_int_equal(f->count, 3);
    ob_fetch_destroy(&f);
    ob_client_destroy(&client);

    json_decref(direct);
    json_decref(facade);
    int status = gw_proc_stop(gw, SIGTERM);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mpc_destroy(&client_b);
    mpc_destroy(&client_a);
    mp_double_proc_stop(&b, SIGTERM);
    mp_double_proc_stop(&a, SIGTERM);
    broker_proc_stop(broker, SIGTERM);
    broker_proc_site_remove(&site);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compat),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
