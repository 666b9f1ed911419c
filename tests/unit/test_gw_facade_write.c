/*  test_gw_facade_write: the facade's writes (gateway/facade_write.h): routing of the three
    writes (and of what is none of them); each valid body turned into the command COMMANDS.md
    specifies, which the connector's parser takes; every proper prefix of a valid body
    refused; a table of bodies the Marketplace refuses, each with its status and exact body
    (the schema messages of reference 4.8 and the Marketplace double's); the caps of the
    command parser; command ids, random and keyed; outcomes to answers; every allocation
    failed in turn. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "command.h"
#include "facade_write.h"
#include "gw_alloc.h"
#include "orderbus/error.h"
#include "rest_parse.h"

#define S_ITEM_PATH "/api/v1/oms/7/projects/12/project_items/3"
#define S_MESSAGES_PATH "/api/v1/oms/7/messages"
#define S_MESSAGE_PATH "/api/v1/oms/7/messages/77"

static const char s_update[] = "{\"status\": {\"value\": \"Ready to use\", \"type\": \"ready\"}, "
                               "\"user_secrets\": {\"voucher_id\": \"V-1\"}}";
static const char s_post[] =
    "{\"project_id\": 12, \"project_item_id\": 3, \"author\": {\"email\": \"p@x.org\", "
    "\"name\": \"P\", \"role\": \"provider\", \"uid\": \"u1\"}, \"content\": \"Hello\", "
    "\"scope\": \"public\"}";
static const char s_edit[] = "{\"content\": \"Bye\"}";

static ob_fw_route_t
s_route(const char *method, const char *path)
{
    ob_fw_route_t r;
    memset(&r, 0xff, sizeof r);
    assert_int_equal(ob_fw_route(method, path, &r), 0);
    return r;
}

static void
test_route(void **state)
{
    (void)state;
    ob_fw_route_t r = s_route("PATCH", S_ITEM_PATH);
    assert_int_equal(r.kind, OB_FW_UPDATE_ITEM);
    assert_int_equal(r.oms_id, 7);
    assert_int_equal(r.project_id, 12);
    assert_int_equal(r.item_id, 3);
    assert_int_equal(r.message_id, 0);
    r = s_route("PUT", S_ITEM_PATH); /* Rails routes update for both */
    assert_int_equal(r.kind, OB_FW_UPDATE_ITEM);
    r = s_route("POST", S_MESSAGES_PATH);
    assert_int_equal(r.kind, OB_FW_POST_MESSAGE);
    assert_int_equal(r.project_id + r.item_id + r.message_id, 0);
    r = s_route("PATCH", S_MESSAGE_PATH);
    assert_int_equal(r.kind, OB_FW_EDIT_MESSAGE);
    assert_int_equal(r.message_id, 77);
    r = s_route("POST", "/api/v1/oms/7/messages/"); /* Rails ignores a trailing slash */
    assert_int_equal(r.kind, OB_FW_POST_MESSAGE);
    /* ids as Rails casts them: to_i */
    r = s_route("PATCH", "/api/v1/oms/7abc/projects/x/project_items/0003");
    assert_int_equal(r.oms_id, 7);
    assert_int_equal(r.project_id, 0);
    assert_int_equal(r.item_id, 3);
    /* past 2^63 - 1 an id saturates (the read side's router): no row has it, and the
       Marketplace's 404 comes back as the command's outcome */
    r = s_route("PATCH", "/api/v1/oms/99999999999999999999/messages/9223372036854775807");
    assert_int_equal(r.oms_id, 9223372036854775807ull);
    assert_int_equal(r.message_id, 9223372036854775807ull);
    r = s_route("PATCH", "/api/v1/oms/1/messages/9223372036854775808");
    assert_int_equal(r.message_id, 9223372036854775807ull);

    const char *none[][2] = {
        {"GET", S_ITEM_PATH},
        {"POST", S_ITEM_PATH},
        {"DELETE", S_MESSAGE_PATH},
        {"PATCH", S_MESSAGES_PATH},
        {"POST", S_MESSAGE_PATH},
        {"PATCH", "/api/v1/oms/7/projects/12"},
        {"PATCH", "/api/v1/oms/7/projects/12/project_items/3/x"},
        {"PATCH", "/api/v1/oms/7/projects/12/items/3"},
        {"PATCH", "/api/v1/oms/7/projects//project_items/3"},
        {"POST", "/api/v1/oms//messages"},
        {"POST", "/api/v1/oms/7"},
        {"POST", "/api/v1/oms/"},
        {"POST", "/v1/oms/7/messages"},
        {"PATCH", "/api/v1/oms/7/messagesx/1"},
    };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        r.oms_id = 42;
        assert_int_equal(ob_fw_route(none[i][0], none[i][1], &r), OB_GW_ERR_NOT_FOUND);
        assert_int_equal(r.oms_id, 42); /* left alone */
    }
}

/* Makes the command of body for route; asserts success; returns it parsed. */
static json_t *
s_command(const ob_fw_route_t *r, const char *body)
{
    char *text = NULL;
    size_t len = 0;
    ob_fw_answer_t refusal = {0};
    int rc = ob_fw_command(r, "fr-1", body, strlen(body), &text, &len, &refusal);
    if (rc)
        fail_msg("%s: %d %u %s", body, rc, refusal.status, refusal.body);
    assert_int_equal(strlen(text), len);
    ob_oms_command_t *cmd = NULL;
    char err[OB_OMS_COMMAND_ERR_MAX];
    assert_int_equal(ob_oms_command_parse(text, len, &cmd, err, sizeof err), 0);
    ob_oms_command_destroy(&cmd);
    json_t *out = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(out);
    return out;
}

static void
s_assert_json(const json_t *got, const char *want_text)
{
    json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
    assert_non_null(want);
    if (!json_equal((json_t *)got, want)) {
        char *text = json_dumps(got, JSON_COMPACT);
        fail_msg("got %s, want %s", text, want_text);
    }
    json_decref(want);
}

static void
test_commands(void **state)
{
    (void)state;
    ob_fw_route_t r = s_route("PATCH", S_ITEM_PATH);
    json_t *cmd = s_command(&r, s_update);
    s_assert_json(cmd, "{\"id\": \"fr-1\", \"command\": \"update_project_item\", \"project_id\": "
                       "12, \"project_item_id\": 3, \"status\": {\"value\": \"Ready to use\", "
                       "\"type\": \"ready\"}, \"user_secrets\": {\"voucher_id\": \"V-1\"}}");
    /* key order: id, command, the path's ids, then the body's */
    assert_string_equal(json_object_iter_key(json_object_iter(cmd)), "id");
    json_decref(cmd);
    /* marketplace-api-client's own body: status with user_secrets {} */
    cmd = s_command(&r, "{\"status\": {\"value\": \"ready\", \"type\": \"ready\"}, "
                        "\"user_secrets\": {}}");
    assert_non_null(json_object_get(cmd, "user_secrets"));
    json_decref(cmd);
    cmd = s_command(&r, "{\"user_secrets\": {\"a\": \"b\"}}");
    assert_null(json_object_get(cmd, "status"));
    json_decref(cmd);

    r = s_route("POST", S_MESSAGES_PATH);
    cmd = s_command(&r, s_post);
    s_assert_json(cmd, "{\"id\": \"fr-1\", \"command\": \"post_message\", \"project_id\": 12, "
                       "\"project_item_id\": 3, \"author\": {\"email\": \"p@x.org\", \"name\": "
                       "\"P\", \"role\": \"provider\", \"uid\": \"u1\"}, \"content\": "
                       "\"Hello\", \"scope\": \"public\"}");
    json_decref(cmd);
    r = s_route("PATCH", S_MESSAGE_PATH);
    cmd = s_command(&r, s_edit);
    s_assert_json(cmd, "{\"id\": \"fr-1\", \"command\": \"edit_message\", \"message_id\": 77, "
                       "\"content\": \"Bye\"}");
    json_decref(cmd);
}

/* The refusal of body for route: asserts it is one, with status and body want. */
static void
s_refused(const ob_fw_route_t *r, const char *body, size_t len, unsigned status, const char *want)
{
    char *text = NULL;
    size_t text_len = 0;
    ob_fw_answer_t a = {0};
    int rc = ob_fw_command(r, "fr-1", body, len, &text, &text_len, &a);
    if (rc != OB_ERR_INVALID_ARGUMENT)
        fail_msg("%.*s: accepted (%d)", (int)len, body, rc);
    assert_null(text);
    assert_int_equal(a.status, status);
    if (want) {
        json_t *got = json_loads(a.body, 0, NULL);
        s_assert_json(got, want);
        json_decref(got);
    }
    ob_fw_answer_clear(&a);
    assert_null(a.body);
}

static void
test_prefixes(void **state)
{
    (void)state;
    const char *bodies[] = {s_update, s_post, s_edit};
    const char *methods[] = {"PATCH", "POST", "PATCH"};
    const char *paths[] = {S_ITEM_PATH, S_MESSAGES_PATH, S_MESSAGE_PATH};
    for (size_t k = 0; k < 3; k++) {
        ob_fw_route_t r = s_route(methods[k], paths[k]);
        for (size_t n = 0; n < strlen(bodies[k]); n++)
            s_refused(&r, bodies[k], n, 400, "{\"error\": \"" OB_FW_E_BAD_JSON "\"}");
    }
}

static void
test_refusals(void **state)
{
    (void)state;
    static const struct {
        int kind;         /* 0 update, 1 post, 2 edit */
        const char *body; /* the request */
        unsigned status;  /* the answer */
        const char *want; /* its body */
    } cases[] = {
        /* reference 4.8's own example */
        {0, "{\"status\": {\"value\": \"x\", \"type\": \"LOL\"}}", 400,
         "{\"error\": \"The property '#/status/type' value \\\"LOL\\\" did not match one of the "
         "following values: rejected, waiting_for_response, registered, in_progress, ready, "
         "closed, approved\"}"},
        {0, "{\"status\": {\"value\": \"x\", \"type\": \"created\"}}", 400, NULL},
        {0, "{\"user_secrets\": {\"a\": 1}}", 400,
         "{\"error\": {\"user_secrets\": [\"values must be strings\"]}}"},
        {0, "{}", 400,
         "{\"error\": \"The property '#/' of type object did not match one or more of the "
         "required schemas\"}"},
        {0, "{\"status\": {\"value\": \"x\"}}", 400,
         "{\"error\": \"The property '#/status' did not contain a required property of "
         "'type'\"}"},
        {0, "{\"status\": {\"value\": 1, \"type\": \"ready\"}}", 400,
         "{\"error\": \"The property '#/status/value' of type integer did not match the "
         "following type: string\"}"},
        {0, "{\"status\": {\"value\": \"x\", \"type\": \"ready\", \"extra\": 1}}", 400,
         "{\"error\": \"The property '#/status' contains additional properties [\\\"extra\\\"] "
         "outside of the schema when none are allowed\"}"},
        {0, "{\"user_secrets\": {}, \"a\": 1, \"b\": 2}", 400,
         "{\"error\": \"The property '#/' contains additional properties [\\\"a\\\", \\\"b\\\"] "
         "outside of the schema when none are allowed\"}"},
        {0, "[]", 400,
         "{\"error\": \"The property '#/' of type array did not match the following type: "
         "object\"}"},
        {0, "{\"user_secrets\": [\"a\"]}", 400,
         "{\"error\": \"The property '#/user_secrets' of type array did not match the "
         "following type: object\"}"},
        {0, "{\"status\": {\"value\": \"x\", \"type\": \"ready\"}, \"status\": {}}", 400,
         "{\"error\": \"" OB_FW_E_BAD_JSON "\"}"},
        /* the command parser's caps: a reason naming the key */
        {0,
         "{\"status\": {\"value\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"type\": \"ready\"}}",
         400, NULL},
        {1, "{\"project_id\": 1, \"content\": \"c\", \"scope\": \"public\"}", 400,
         "{\"error\": \"The property '#/' did not contain a required property of 'author'\"}"},
        {1,
         "{\"project_id\": 1, \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": \"user\"}, "
         "\"content\": \"c\", \"scope\": \"public\"}",
         400,
         "{\"error\": \"The property '#/author/role' value \\\"user\\\" did not match one of the "
         "following values: provider, mediator\"}"},
        {1,
         "{\"project_id\": \"1\", \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": "
         "\"provider\"}, \"content\": \"c\", \"scope\": \"public\"}",
         400,
         "{\"error\": \"The property '#/project_id' of type string did not match the following "
         "type: integer\"}"},
        {1,
         "{\"project_id\": 1.5, \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": "
         "\"provider\"}, \"content\": \"c\", \"scope\": \"public\"}",
         400,
         "{\"error\": \"The property '#/project_id' of type number did not match the following "
         "type: integer\"}"},
        {1,
         "{\"project_id\": 0, \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": "
         "\"provider\"}, \"content\": \"c\", \"scope\": \"public\"}",
         404, "{\"error\": \"Project not found\"}"},
        {1,
         "{\"project_id\": 2, \"project_item_id\": -1, \"author\": {\"email\": \"e\", \"name\": "
         "\"n\", \"role\": \"provider\"}, \"content\": \"c\", \"scope\": \"public\"}",
         404, "{\"error\": \"Project item not found\"}"},
        {1,
         "{\"project_id\": 2, \"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": "
         "\"provider\"}, \"content\": \"c\", \"scope\": \"secret\"}",
         400,
         "{\"error\": \"The property '#/scope' value \\\"secret\\\" did not match one of the "
         "following values: public, internal, user_direct\"}"},
        {2, "{}", 400,
         "{\"error\": \"The property '#/' did not contain a required property of 'content'\"}"},
        {2, "{\"content\": null}", 400,
         "{\"error\": \"The property '#/content' of type null did not match the following type: "
         "string\"}"},
        {2, "{\"content\": \"c\", \"content2\": true}", 400, NULL},
    };
    const char *methods[] = {"PATCH", "POST", "PATCH"};
    const char *paths[] = {S_ITEM_PATH, S_MESSAGES_PATH, S_MESSAGE_PATH};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ob_fw_route_t r = s_route(methods[cases[i].kind], paths[cases[i].kind]);
        s_refused(&r, cases[i].body, strlen(cases[i].body), cases[i].status, cases[i].want);
    }
    /* ids of the path that cannot exist: 404 before the body is read */
    ob_fw_route_t r = s_route("PATCH", "/api/v1/oms/7/projects/0/project_items/3");
    s_refused(&r, "not json", 8, 404, "{\"error\": \"Project not found\"}");
    r = s_route("PATCH", "/api/v1/oms/7/projects/1/project_items/abc");
    s_refused(&r, "not json", 8, 404, "{\"error\": \"Project item not found\"}");
    r = s_route("PATCH", "/api/v1/oms/7/messages/x");
    s_refused(&r, s_edit, strlen(s_edit), 404, "{\"error\": \"Message not found\"}");
    /* no body at all */
    r = s_route("PATCH", S_MESSAGE_PATH);
    s_refused(&r, NULL, 0, 400, "{\"error\": \"" OB_FW_E_BAD_JSON "\"}");
}

static void
test_command_id(void **state)
{
    (void)state;
    ob_fw_route_t r = s_route("POST", S_MESSAGES_PATH);
    char a[OB_GW_COMMAND_ID_MAX + 1], b[OB_GW_COMMAND_ID_MAX + 1];
    assert_int_equal(ob_fw_command_id(&r, "oms-7", NULL, s_post, strlen(s_post), a), 0);
    assert_int_equal(ob_fw_command_id(&r, "oms-7", NULL, s_post, strlen(s_post), b), 0);
    assert_int_equal(strlen(a), 3 + 2 * OB_GW_FW_ID_BYTES);
    assert_memory_equal(a, "fr-", 3);
    assert_string_not_equal(a, b); /* random: a retry is a new command */
    assert_int_equal(ob_fw_command_id(&r, "oms-7", "k-1", s_post, strlen(s_post), a), 0);
    assert_int_equal(ob_fw_command_id(&r, "oms-7", "k-1", s_post, strlen(s_post), b), 0);
    assert_memory_equal(a, "fk-", 3);
    assert_string_equal(a, b); /* keyed: the same command */
    /* every input of the derivation counts */
    assert_int_equal(ob_fw_command_id(&r, "oms-7", "k-2", s_post, strlen(s_post), b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(ob_fw_command_id(&r, "oms-8", "k-1", s_post, strlen(s_post), b), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(ob_fw_command_id(&r, "oms-7", "k-1", s_post, strlen(s_post) - 1, b), 0);
    assert_string_not_equal(a, b);
    ob_fw_route_t other = r;
    other.oms_id = 8;
    assert_int_equal(ob_fw_command_id(&other, "oms-7", "k-1", s_post, strlen(s_post), b), 0);
    assert_string_not_equal(a, b);
    /* the id is one the command parser takes */
    char *text = NULL;
    size_t len = 0;
    ob_fw_answer_t refusal = {0};
    assert_int_equal(ob_fw_command(&r, a, s_post, strlen(s_post), &text, &len, &refusal), 0);
    free(text);
    /* keys: 1..255 visible ASCII */
    char key[OB_GW_IDEMPOTENCY_KEY_MAX + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    assert_int_equal(ob_fw_command_id(&r, "c", key, "", 0, a), OB_ERR_FIELD_TYPE);
    key[OB_GW_IDEMPOTENCY_KEY_MAX] = '\0';
    assert_int_equal(ob_fw_command_id(&r, "c", key, "", 0, a), 0);
    assert_int_equal(ob_fw_command_id(&r, "c", "", "", 0, a), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_fw_command_id(&r, "c", "a b", "", 0, a), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_fw_command_id(&r, "c", "a\x7f", "", 0, a), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_fw_command_id(&r, "c", "\xc3\xa9", "", 0, a), OB_ERR_FIELD_TYPE);
}

/* The answer to outcome data text; asserts status and body. */
static void
s_outcome(const char *text, unsigned status, const char *want)
{
    ob_fw_answer_t a = {0};
    assert_int_equal(ob_fw_outcome(text, strlen(text), &a), 0);
    assert_int_equal(a.status, status);
    json_t *got = json_loads(a.body, JSON_DECODE_ANY, NULL);
    s_assert_json(got, want);
    json_decref(got);
    ob_fw_answer_clear(&a);
}

static void
test_outcomes(void **state)
{
    (void)state;
    s_outcome("{\"command_id\": \"c\", \"command\": \"update_project_item\", \"status\": 200, "
              "\"response\": {\"id\": 3, \"project_id\": 12, \"status\": {\"value\": \"R\", "
              "\"type\": \"ready\"}}}",
              200,
              "{\"id\": 3, \"project_id\": 12, \"status\": {\"value\": \"R\", \"type\": "
              "\"ready\"}}");
    s_outcome("{\"command_id\": \"c\", \"command\": \"post_message\", \"status\": 201, "
              "\"response\": {\"id\": 9}}",
              201, "{\"id\": 9}");
    s_outcome("{\"command_id\": \"c\", \"command\": \"update_project_item\", \"status\": 404, "
              "\"error\": \"Project item not found\"}",
              404, "{\"error\": \"Project item not found\"}");
    s_outcome("{\"command_id\": \"c\", \"command\": \"update_project_item\", \"status\": 400, "
              "\"error\": {\"user_secrets\": [\"values must be strings\"]}}",
              400, "{\"error\": {\"user_secrets\": [\"values must be strings\"]}}");
    s_outcome("{\"command_id\": \"c\", \"command\": null, \"status\": 0, \"error\": \"id: bad\"}",
              400, "{\"error\": \"id: bad\"}");
    s_outcome("{\"command_id\": \"c\", \"command\": \"edit_message\", \"status\": 200, "
              "\"response\": \"not json\"}",
              200, "\"not json\"");
    /* the response keeps the Marketplace's key order */
    ob_fw_answer_t a = {0};
    const char *ordered = "{\"status\": 200, \"response\": {\"z\": 1, \"a\": 2}}";
    assert_int_equal(ob_fw_outcome(ordered, strlen(ordered), &a), 0);
    assert_string_equal(a.body, "{\"z\":1,\"a\":2}");
    ob_fw_answer_clear(&a);
    const char *bad[] = {"",
                         "[]",
                         "{}",
                         "{\"status\": \"200\", \"response\": {}}",
                         "{\"status\": 200}",
                         "{\"status\": 404}",
                         "{\"status\": 700, \"error\": 1}",
                         "{\"status\": 200, \"error\": \"x\"}",
                         "{\"status\": -1, \"error\": \"x\"}",
                         "{\"status\": 302, \"response\": {}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a.status = 7;
        assert_int_equal(ob_fw_outcome(bad[i], strlen(bad[i]), &a), OB_ERR_MALFORMED);
        assert_int_equal(a.status, 7);
        assert_null(a.body);
    }
    assert_int_equal(ob_fw_accepted(7, "fr-1", &a), 0);
    assert_int_equal(a.status, 202);
    assert_string_equal(a.body, "{\"command_id\":\"fr-1\",\"outcome_topic\":\"oms.7\"}");
    ob_fw_answer_clear(&a);
    assert_int_equal(ob_fw_error(401, OB_FACADE_E_SIGN_IN, &a), 0);
    assert_int_equal(a.status, 401);
    assert_string_equal(a.body, "{\"error\":\"" OB_FACADE_E_SIGN_IN "\"}");
    ob_fw_answer_clear(&a);
}

/* t_alloc_each runs: a command, a refusal, an outcome. */
static int
s_run_command(const void *arg)
{
    const char *body = arg;
    ob_fw_route_t r;
    assert_int_equal(ob_fw_route("PATCH", S_ITEM_PATH, &r), 0);
    char *text = NULL;
    size_t len = 0;
    ob_fw_answer_t a = {0};
    int rc = ob_fw_command(&r, "fr-1", body, strlen(body), &text, &len, &a);
    free(text);
    ob_fw_answer_clear(&a);
    return rc == OB_ERR_INVALID_ARGUMENT ? 0 : rc;
}

static int
s_run_outcome(const void *arg)
{
    const char *data = arg;
    ob_fw_answer_t a = {0};
    int rc = ob_fw_outcome(data, strlen(data), &a);
    ob_fw_answer_clear(&a);
    return rc;
}

static void
test_alloc(void **state)
{
    (void)state;
    for (int side = T_OURS; side <= T_JANSSON; side++) {
        t_alloc_each(s_run_command, s_update, side);
        t_alloc_each(s_run_command, "{\"status\": {\"value\": \"x\", \"type\": \"LOL\"}}", side);
        t_alloc_each(s_run_command, "{\"user_secrets\": {\"a\": 1}}", side);
        t_alloc_each(s_run_outcome,
                     "{\"status\": 404, \"error\": {\"user_secrets\": [\"values must be "
                     "strings\"]}}",
                     side);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),      cmocka_unit_test(test_commands),
        cmocka_unit_test(test_prefixes),   cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_command_id), cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_alloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
