/*  test_jira_build: orderbus-jira's request bodies (adapters/jira/jira_build.h): the labels
    and marks, the search, an epic and an item's issue with every mapped field (reference 9.6),
    the typology rule, missing and mistyped values, single-line cuts, the transition of each
    mapped status, comments by scope (user_direct never copied, internal restricted or
    skipped), the failure notice, and malformed or oversized snapshots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jira_build.h"
#include "jira_json.h"
#include "orderbus/error.h"

static ob_jira_config_t s_cfg; /* large: not on the stack */

static const char s_project[] =
    "{\"id\":12,\"owner\":{\"uid\":\"u-1\",\"email\":\"ada@example.org\",\"name\":\"Ada "
    "Lovelace\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\"},\"project_items\":[1],"
    "\"attributes\":{\"name\":\"Engines\",\"customer_typology\":\"research\",\"organization\":"
    "\"Analytical Society\",\"department\":\"Maths\",\"department_webpage\":\"https://m.example\","
    "\"scientific_domains\":[\"Mathematics\",\"Computing\"],\"country\":\"United Kingdom\","
    "\"collaboration_countries\":[],\"user_group_name\":\"G1\"}}";

static const char s_item[] =
    "{\"id\":3,\"project_id\":12,\"status\":{\"value\":\"Registered\",\"type\":\"registered\"},"
    "\"attributes\":{\"category\":\"Compute\",\"service\":\"Cloud VM\",\"offer\":\"Small\","
    "\"offer_properties\":[{\"id\":\"cores\",\"label\":\"Cores\",\"value\":4}],\"platforms\":"
    "[\"EGI\",\"EOSC\"],\"request_voucher\":true,\"supplied_voucher_id\":\"V-9\"}}";

static void
s_config(void)
{
    ob_jira_config_defaults(&s_cfg);
    s_cfg.oms_id = 7;
    strcpy(s_cfg.project, "ORD");
    strcpy(s_cfg.user, "orderbus");
    strcpy(s_cfg.epic_type, "10000");
    strcpy(s_cfg.item_type, "10001");
    strcpy(s_cfg.epic_name_field, "customfield_10011");
    strcpy(s_cfg.epic_link_field, "customfield_10014");
    for (size_t i = 0; i < OB_JIRA_FIELD_COUNT; i++)
        snprintf(s_cfg.field[i], sizeof s_cfg.field[i], "cf_%zu", i);
    for (size_t i = 0; i < OB_JIRA_OPTION_COUNT; i++)
        snprintf(s_cfg.option[i], sizeof s_cfg.option[i], "%zu", 100 + i);
    s_cfg.status_count = 2;
    strcpy(s_cfg.status[0].type, "ready");
    strcpy(s_cfg.status[0].transition, "61");
    strcpy(s_cfg.status[1].type, "closed");
    strcpy(s_cfg.status[1].jira_status, "6");
}

static json_t *
s_load(const char *body)
{
    json_t *v = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(v);
    return v;
}

/* The string at fields[id] of an issue body. */
static const char *
s_field(json_t *body, const char *id)
{
    return json_string_value(json_object_get(json_object_get(body, "fields"), id));
}

static const char *
s_cf(json_t *body, ob_jira_field_t f)
{
    return s_field(body, s_cfg.field[f]);
}

static void
test_labels(void **state)
{
    (void)state;
    char label[OB_JIRA_LABEL_MAX];
    uint64_t p = 0, i = 0;
    ob_jira_label(7, 12, 0, label);
    assert_string_equal(label, "orderbus-7-p12");
    assert_int_equal(ob_jira_label_parse(7, label, &p, &i), 0);
    assert_int_equal(p, 12);
    assert_int_equal(i, 0);
    ob_jira_label(7, 12, 3, label);
    assert_string_equal(label, "orderbus-7-p12-i3");
    assert_int_equal(ob_jira_label_parse(7, label, &p, &i), 0);
    assert_int_equal(i, 3);
    static const char *const bad[] = {
        "orderbus-8-p12",
        "orderbus-7-p",
        "orderbus-7-p012",
        "orderbus-7-p12-i",
        "orderbus-7-p12x",
        "orderbus-7-p12-i3-",
        "ob-7-p12",
        "orderbus-7",
        "orderbus-7-p99999999999999999999",
        "",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (ob_jira_label_parse(7, bad[k], &p, &i) != OB_ERR_INVALID_ARGUMENT)
            fail_msg("accepted '%s'", bad[k]);
    char mark[OB_JIRA_MARK_MAX];
    ob_jira_mark(7, 55, mark);
    assert_string_equal(mark, "[orderbus:7:m55]");
    assert_true(ob_jira_marked("text\n\n[orderbus:7:m55]", 22));
    assert_false(ob_jira_marked("[orderbus", 9));
}

static void
test_search(void **state)
{
    (void)state;
    s_config();
    char *body = NULL;
    assert_int_equal(ob_jira_build_search(&s_cfg, "orderbus-7-p12", &body), 0);
    json_t *v = s_load(body);
    assert_string_equal(json_string_value(json_object_get(v, "jql")),
                        "project = ORD AND labels = orderbus-7-p12 ORDER BY id ASC");
    json_decref(v);
    free(body);
}

static void
test_epic(void **state)
{
    (void)state;
    s_config();
    char *body = NULL;
    assert_int_equal(ob_jira_build_epic(&s_cfg, 12, s_project, strlen(s_project), &body), 0);
    json_t *v = s_load(body);
    json_t *fields = json_object_get(v, "fields");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(fields, "project"), "key")), "ORD");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(fields, "issuetype"), "id")), "10000");
    assert_string_equal(s_field(v, "summary"), "Project Ada Lovelace");
    assert_string_equal(s_field(v, "customfield_10011"), "Engines");
    assert_string_equal(json_string_value(json_array_get(json_object_get(fields, "labels"), 0)),
                        "orderbus-7-p12");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_NAME), "Ada");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_SURNAME), "Lovelace");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_EMAIL), "ada@example.org");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_DISPLAY_NAME), "Ada Lovelace");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_UID), "u-1");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_INSTITUTION), "Analytical Society");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_DEPARTMENT), "Maths");
    assert_string_equal(s_cf(v, OB_JIRA_F_CI_WEBPAGE), "https://m.example");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_DISCIPLINE), "Mathematics, Computing");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_COUNTRY), "United Kingdom");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_COLLAB), "N/A");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_GROUP), "G1");
    assert_string_equal(s_cf(v, OB_JIRA_F_SO_PROJECT), "Engines (12)");
    json_t *typology = json_object_get(fields, s_cfg.field[OB_JIRA_F_CP_TYPOLOGY]);
    assert_string_equal(json_string_value(json_object_get(typology, "id")),
                        s_cfg.option[OB_JIRA_O_RESEARCH]);
    json_t *prop = json_array_get(json_object_get(v, "properties"), 0);
    assert_string_equal(json_string_value(json_object_get(prop, "key")), OB_JIRA_PROPERTY);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(prop, "value"), "project_id")), 12);
    json_decref(v);
    free(body);

    /* a company: no institution fields; an unconfigured field is not written; nulls and
       wrong types are absent; a name with a line break and over 254 bytes is one line, cut */
    char big[1024];
    char name[600];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    name[2] = '\\';
    name[3] = 'n'; /* an escaped line break */
    snprintf(big, sizeof big,
             "{\"owner\":{\"name\":\"%s\",\"email\":5},\"attributes\":{\"customer_typology\":"
             "\"private_company\",\"organization\":\"Acme\",\"country\":null}}",
             name);
    s_cfg.field[OB_JIRA_F_CP_GROUP][0] = '\0';
    assert_int_equal(ob_jira_build_epic(&s_cfg, 13, big, strlen(big), &body), 0);
    v = s_load(body);
    assert_null(s_cf(v, OB_JIRA_F_CI_INSTITUTION));
    assert_null(s_cf(v, OB_JIRA_F_CI_EMAIL));
    assert_null(json_object_get(json_object_get(v, "fields"), ""));
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_COUNTRY), "N/A");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_DISCIPLINE), "N/A");
    assert_string_equal(s_field(v, "customfield_10011"), "Project 13");
    const char *summary = s_field(v, "summary");
    assert_int_equal(strlen(summary), OB_JIRA_SUMMARY_MAX);
    assert_null(strchr(summary, '\n'));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(v, "fields"), s_cfg.field[OB_JIRA_F_CP_TYPOLOGY]),
            "id")),
        s_cfg.option[OB_JIRA_O_PRIVATE_COMPANY]);
    json_decref(v);
    free(body);
}

static void
test_item(void **state)
{
    (void)state;
    s_config();
    char *body = NULL;
    assert_int_equal(
        ob_jira_build_item(&s_cfg, 12, 3, "ORD-1", "Ada Lovelace", s_item, strlen(s_item), &body),
        0);
    json_t *v = s_load(body);
    json_t *fields = json_object_get(v, "fields");
    assert_string_equal(s_field(v, "summary"), "Service order, Ada Lovelace Cloud VM");
    assert_string_equal(s_field(v, "customfield_10014"), "ORD-1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(fields, "issuetype"), "id")), "10001");
    assert_string_equal(json_string_value(json_array_get(json_object_get(fields, "labels"), 0)),
                        "orderbus-7-p12-i3");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_PLATFORMS), "EGI, EOSC");
    assert_string_equal(s_cf(v, OB_JIRA_F_CP_VOUCHER_ID), "V-9");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(fields, s_cfg.field[OB_JIRA_F_CP_VOUCHER]), "id")),
                        s_cfg.option[OB_JIRA_O_VOUCHER_TRUE]);
    assert_string_equal(s_cf(v, OB_JIRA_F_SO_1),
                        "{\"attributes\":{\"Cores\":4},\"category\":\"Compute\",\"offer\":"
                        "\"Small\",\"service\":\"Cloud VM\"}");
    json_decref(v);
    free(body);
    char type[OB_JIRA_STATUS_TYPE_MAX];
    assert_int_equal(ob_jira_item_status(s_item, strlen(s_item), type), 0);
    assert_string_equal(type, "registered");
    assert_int_equal(ob_jira_item_status("{\"status\":{}}", 13, type), OB_ERR_MALFORMED);
}

static void
test_transition(void **state)
{
    (void)state;
    s_config();
    char *body = NULL;
    assert_int_equal(ob_jira_build_transition(&s_cfg, "ready", &body), 0);
    assert_string_equal(body, "{\"transition\":{\"id\":\"61\"}}");
    free(body);
    /* mapped back only, or not mapped at all: nothing to apply */
    assert_int_equal(ob_jira_build_transition(&s_cfg, "closed", &body), OB_JIRA_NOTHING);
    assert_int_equal(ob_jira_build_transition(&s_cfg, "approved", &body), OB_JIRA_NOTHING);
}

/* Builds the comment of a message with scope and content; returns the body or NULL. */
static json_t *
s_comment(const char *scope, const char *content, int *ret_rc)
{
    char msg[512];
    char *body = NULL;
    snprintf(msg, sizeof msg,
             "{\"id\":55,\"author\":{\"name\":\"Ada\",\"role\":\"user\",\"email\":\"a@x\"},"
             "\"content\":\"%s\",\"scope\":\"%s\"}",
             content, scope);
    *ret_rc = ob_jira_build_comment(&s_cfg, 55, msg, strlen(msg), &body);
    json_t *v = body ? s_load(body) : NULL;
    free(body);
    return v;
}

static void
test_comment(void **state)
{
    (void)state;
    s_config();
    int rc = 0;
    json_t *v = s_comment("public", "Hello\\nthere", &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(json_string_value(json_object_get(v, "body")),
                        "Ada (user) wrote in the Marketplace:\n\nHello\nthere\n\n[orderbus:7:m55]");
    assert_true(json_is_null(json_object_get(v, "visibility")));
    json_decref(v);
    /* user_direct: the content never reaches Jira, whatever the snapshot holds */
    v = s_comment("user_direct", "the secret password", &rc);
    assert_int_equal(rc, 0);
    const char *text = json_string_value(json_object_get(v, "body"));
    assert_null(strstr(text, "secret password"));
    assert_non_null(strstr(text, "content is not copied"));
    assert_non_null(strstr(text, "[orderbus:7:m55]"));
    json_decref(v);
    /* internal: skipped without a role, restricted with one */
    assert_null(s_comment("internal", "staff only", &rc));
    assert_int_equal(rc, OB_JIRA_NOTHING);
    strcpy(s_cfg.internal_role, "Developers");
    v = s_comment("internal", "staff only", &rc);
    assert_int_equal(rc, 0);
    json_t *vis = json_object_get(v, "visibility");
    assert_string_equal(json_string_value(json_object_get(vis, "type")), "role");
    assert_string_equal(json_string_value(json_object_get(vis, "value")), "Developers");
    json_decref(v);
    assert_null(s_comment("private", "x", &rc));
    assert_int_equal(rc, OB_ERR_MALFORMED);
    /* content over the cap is cut on a character boundary and says so */
    size_t n = OB_JIRA_CONTENT_MAX + 100;
    char *msg = malloc(n + 200);
    assert_non_null(msg);
    size_t at = (size_t)sprintf(msg, "{\"scope\":\"public\",\"content\":\"");
    for (size_t k = 0; k < n / 2; k++) {
        memcpy(msg + at, "\xc3\xa9", 2); /* é */
        at += 2;
    }
    strcpy(msg + at, "\"}");
    char *body = NULL;
    assert_int_equal(ob_jira_build_comment(&s_cfg, 1, msg, strlen(msg), &body), 0);
    v = s_load(body); /* valid JSON, so valid UTF-8: the cut fell between characters */
    assert_non_null(strstr(json_string_value(json_object_get(v, "body")), "[...]"));
    json_decref(v);
    free(body);
    free(msg);
}

static void
test_failure(void **state)
{
    (void)state;
    const char *outcome = "{\"command_id\":\"jira-c10001\",\"command\":\"post_message\","
                          "\"status\":404,\"error\":\"Project item not found\"}";
    char *body = NULL;
    assert_int_equal(ob_jira_build_failure(outcome, strlen(outcome), &body), 0);
    json_t *v = s_load(body);
    const char *text = json_string_value(json_object_get(v, "body"));
    assert_non_null(strstr(text, "post_message jira-c10001"));
    assert_non_null(strstr(text, "status 404"));
    assert_non_null(strstr(text, "Project item not found"));
    assert_true(ob_jira_marked(text, strlen(text))); /* never sent back as a message */
    json_decref(v);
    free(body);
    assert_int_equal(ob_jira_build_failure("{\"status\":1}", 12, &body), OB_ERR_MALFORMED);
}

static void
test_malformed(void **state)
{
    (void)state;
    s_config();
    static const char *const bad[] = {"", "[]", "{", "{\"a\":1,\"a\":2}", "null", "\"x\""};
    char *body = NULL;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ob_jira_build_epic(&s_cfg, 1, bad[i], strlen(bad[i]), &body),
                         OB_ERR_MALFORMED);
        assert_int_equal(
            ob_jira_build_item(&s_cfg, 1, 1, "ORD-1", "", bad[i], strlen(bad[i]), &body),
            OB_ERR_MALFORMED);
        assert_int_equal(ob_jira_build_comment(&s_cfg, 1, bad[i], strlen(bad[i]), &body),
                         OB_ERR_MALFORMED);
    }
    char deep[2 * OB_JIRA_JSON_DEPTH_MAX + 8];
    size_t at = 0;
    for (int i = 0; i <= OB_JIRA_JSON_DEPTH_MAX; i++)
        deep[at++] = '[';
    deep[0] = '{';
    at = 1;
    memcpy(deep + at, "\"a\":", 4);
    at += 4;
    for (int i = 0; i < OB_JIRA_JSON_DEPTH_MAX; i++)
        deep[at++] = '[';
    for (int i = 0; i < OB_JIRA_JSON_DEPTH_MAX; i++)
        deep[at++] = ']';
    deep[at++] = '}';
    assert_int_equal(ob_jira_build_epic(&s_cfg, 1, deep, at, &body), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_jira_build_epic(&s_cfg, 1, s_project, OB_JIRA_SNAPSHOT_MAX + 1, &body),
                     OB_ERR_TOO_LARGE);
    assert_null(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_labels),     cmocka_unit_test(test_search),
        cmocka_unit_test(test_epic),       cmocka_unit_test(test_item),
        cmocka_unit_test(test_transition), cmocka_unit_test(test_comment),
        cmocka_unit_test(test_failure),    cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
