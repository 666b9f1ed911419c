/*  test_gw_command: the OMS commands (gateway/command.h, gateway/COMMANDS.md): each command
    parsed into its Marketplace request (method, path, exact body), its ordering key; every
    prefix of a valid command refused; a table of malformed commands with their codes and
    messages; the caps; the outcome events (completed with the answer, failed with both forms
    of the error body or a non-JSON answer, a refusal) and their id. */
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
#include "gw_alloc.h"
#include "gw_limits.h"
#include "mp_event.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

static const char s_update[] =
    "{\"id\": \"c-1\", \"command\": \"update_project_item\", \"project_id\": 12, "
    "\"project_item_id\": 3, \"status\": {\"value\": \"Ready to use\", \"type\": \"ready\"}, "
    "\"user_secrets\": {\"voucher_id\": \"V-1\"}}";
static const char s_post[] =
    "{\"id\": \"c-2\", \"command\": \"post_message\", \"project_id\": 12, "
    "\"project_item_id\": 3, \"author\": {\"email\": \"p@x.org\", \"name\": \"P\", \"role\": "
    "\"provider\", \"uid\": \"u1\"}, \"content\": \"Hello\", \"scope\": \"public\"}";
static const char s_post_project[] =
    "{\"id\": \"c-3\", \"command\": \"post_message\", \"project_id\": 12, \"author\": "
    "{\"email\": \"m@x.org\", \"name\": \"M\", \"role\": \"mediator\"}, \"content\": \"Hi\", "
    "\"scope\": \"internal\"}";
static const char s_edit[] =
    "{\"id\": \"c-4\", \"command\": \"edit_message\", \"message_id\": 77, \"content\": \"Bye\"}";

static ob_oms_command_t *
s_parse(const char *text)
{
    ob_oms_command_t *cmd = NULL;
    char err[OB_OMS_COMMAND_ERR_MAX] = "";
    int rc = ob_oms_command_parse(text, strlen(text), &cmd, err, sizeof err);
    if (rc)
        fail_msg("%s: %d %s", text, rc, err);
    return cmd;
}

static void
test_commands(void **state)
{
    (void)state;
    ob_oms_command_request_t req;
    char key[OB_GW_ORDER_KEY_TEXT];

    ob_oms_command_t *cmd = s_parse(s_update);
    assert_int_equal(cmd->kind, OB_OMS_COMMAND_UPDATE_PROJECT_ITEM);
    assert_string_equal(cmd->id, "c-1");
    assert_int_equal(cmd->project_id, 12);
    assert_int_equal(cmd->project_item_id, 3);
    assert_int_equal(cmd->message_id, 0);
    ob_oms_command_request(5, cmd, &req);
    assert_string_equal(req.method, "PATCH");
    assert_string_equal(req.path, "/api/v1/oms/5/projects/12/project_items/3");
    assert_string_equal(req.body, "{\"status\":{\"value\":\"Ready to use\",\"type\":\"ready\"},"
                                  "\"user_secrets\":{\"voucher_id\":\"V-1\"}}");
    assert_int_equal(req.body_len, strlen(req.body));
    ob_oms_command_order_key(cmd, key);
    assert_string_equal(key, "item.12.3");
    assert_string_equal(ob_oms_command_name(cmd->kind), "update_project_item");
    assert_int_equal(ob_oms_command_check_type(cmd, "command.update_project_item"), 0);
    assert_int_equal(ob_oms_command_check_type(cmd, "command.post_message"), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_oms_command_check_type(cmd, "update_project_item"), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_oms_command_check_type(cmd, "command.update_project_item.x"),
                     OB_ERR_FIELD_TYPE);
    ob_oms_command_destroy(&cmd);
    assert_null(cmd);

    cmd = s_parse(s_post);
    assert_int_equal(cmd->kind, OB_OMS_COMMAND_POST_MESSAGE);
    ob_oms_command_request(5, cmd, &req);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/api/v1/oms/5/messages");
    assert_string_equal(req.body, "{\"project_id\":12,\"project_item_id\":3,\"author\":{\"email\":"
                                  "\"p@x.org\",\"name\":\"P\",\"role\":\"provider\",\"uid\":"
                                  "\"u1\"},\"content\":\"Hello\",\"scope\":\"public\"}");
    ob_oms_command_order_key(cmd, key);
    assert_string_equal(key, "item.12.3"); /* with the item's updates */
    ob_oms_command_destroy(&cmd);

    cmd = s_parse(s_post_project);
    assert_int_equal(cmd->project_item_id, 0);
    ob_oms_command_request(5, cmd, &req);
    assert_string_equal(req.body, "{\"project_id\":12,\"author\":{\"email\":\"m@x.org\",\"name\":"
                                  "\"M\",\"role\":\"mediator\"},\"content\":\"Hi\",\"scope\":"
                                  "\"internal\"}");
    ob_oms_command_order_key(cmd, key);
    assert_string_equal(key, "project.12");
    ob_oms_command_destroy(&cmd);

    cmd = s_parse(s_edit);
    assert_int_equal(cmd->kind, OB_OMS_COMMAND_EDIT_MESSAGE);
    assert_int_equal(cmd->message_id, 77);
    ob_oms_command_request(5, cmd, &req);
    assert_string_equal(req.method, "PATCH");
    assert_string_equal(req.path, "/api/v1/oms/5/messages/77");
    assert_string_equal(req.body, "{\"content\":\"Bye\"}");
    ob_oms_command_order_key(cmd, key);
    assert_string_equal(key, "message.77");
    ob_oms_command_destroy(&cmd);
    ob_oms_command_destroy(NULL);

    /* Secrets alone, and a status alone. */
    cmd = s_parse("{\"id\": \"a\", \"command\": \"update_project_item\", \"project_id\": 1, "
                  "\"project_item_id\": 1, \"user_secrets\": {}}");
    ob_oms_command_request(1, cmd, &req);
    assert_string_equal(req.body, "{\"user_secrets\":{}}");
    ob_oms_command_destroy(&cmd);
    char id[OB_GW_COMMAND_ID_MAX + 1];
    assert_int_equal(ob_oms_command_id(s_edit, strlen(s_edit), id), 0);
    assert_string_equal(id, "c-4");
}

static void
test_prefixes(void **state)
{
    (void)state;
    const char *all[] = {s_update, s_post, s_edit};
    for (size_t k = 0; k < 3; k++) {
        for (size_t len = 0; len < strlen(all[k]); len++) {
            ob_oms_command_t *cmd = (ob_oms_command_t *)all;
            char err[OB_OMS_COMMAND_ERR_MAX] = "";
            assert_int_equal(ob_oms_command_parse(all[k], len, &cmd, err, sizeof err),
                             OB_ERR_MALFORMED);
            assert_ptr_equal(cmd, all);
            assert_true(strncmp(err, "not JSON", 8) == 0);
        }
    }
}

static void
test_malformed(void **state)
{
    (void)state;
#define T_UPD "\"id\": \"x\", \"command\": \"update_project_item\", \"project_id\": 1, "
#define T_AUTHOR "\"author\": {\"email\": \"e\", \"name\": \"n\", \"role\": \"provider\"}"
    static const struct {
        const char *text;
        int rc;
        const char *err; /* start of the message */
    } bad[] = {
        {"[]", OB_ERR_MALFORMED, "not a JSON object"},
        {"{\"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\"}",
         OB_ERR_MISSING_FIELD, "id: missing"},
        {"{\"id\": \"\", \"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\"}",
         OB_ERR_FIELD_TYPE, "id: not 1..64"},
        {"{\"id\": \"a b\", \"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\"}",
         OB_ERR_FIELD_TYPE, "id: not"},
        {"{\"id\": 5, \"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\"}",
         OB_ERR_FIELD_TYPE, "id: not a string"},
        {"{\"id\": \"a\", \"message_id\": 1, \"content\": \"c\"}", OB_ERR_MISSING_FIELD,
         "command: missing"},
        {"{\"id\": \"a\", \"command\": \"delete_message\", \"message_id\": 1}", OB_ERR_FIELD_TYPE,
         "command: not an allowed value"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\", "
         "\"project_id\": 3}",
         OB_ERR_FIELD_TYPE, "a key that this command has not"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"content\": \"c\"}", OB_ERR_MISSING_FIELD,
         "message_id: missing"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": 0, \"content\": \"c\"}",
         OB_ERR_FIELD_TYPE, "message_id: not an integer >= 1"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": \"1\", \"content\": "
         "\"c\"}",
         OB_ERR_FIELD_TYPE, "message_id: not an integer"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": 1}", OB_ERR_MISSING_FIELD,
         "content: missing"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": 1, \"content\": 1}",
         OB_ERR_FIELD_TYPE, "content: not a string"},
        {"{" T_UPD "\"project_item_id\": 2}", OB_ERR_MISSING_FIELD,
         "status or user_secrets: missing"},
        {"{" T_UPD "\"status\": {\"value\": \"v\", \"type\": \"ready\"}}", OB_ERR_MISSING_FIELD,
         "project_item_id: missing"},
        {"{" T_UPD "\"project_item_id\": 2, \"status\": {\"value\": \"v\", \"type\": "
         "\"created\"}}",
         OB_ERR_FIELD_TYPE, "status.type: not an allowed value"},
        {"{" T_UPD "\"project_item_id\": 2, \"status\": {\"value\": \"v\"}}", OB_ERR_MISSING_FIELD,
         "status.type: missing"},
        {"{" T_UPD "\"project_item_id\": 2, \"status\": {\"value\": 1, \"type\": \"ready\"}}",
         OB_ERR_FIELD_TYPE, "status: a value is not a string"},
        {"{" T_UPD "\"project_item_id\": 2, \"status\": {\"value\": \"v\", \"type\": \"ready\", "
         "\"x\": \"y\"}}",
         OB_ERR_FIELD_TYPE, "status: unknown key"},
        {"{" T_UPD "\"project_item_id\": 2, \"status\": \"ready\"}", OB_ERR_FIELD_TYPE,
         "status: not an object"},
        {"{" T_UPD "\"project_item_id\": 2, \"user_secrets\": {\"a\": 1}}", OB_ERR_FIELD_TYPE,
         "user_secrets: a value is not a string"},
        {"{" T_UPD "\"project_item_id\": 2, \"user_secrets\": []}", OB_ERR_FIELD_TYPE,
         "user_secrets: not an object"},
        {"{\"id\": \"a\", \"command\": \"post_message\", \"project_id\": 1, " T_AUTHOR
         ", \"content\": \"c\", \"scope\": \"private\"}",
         OB_ERR_FIELD_TYPE, "scope: not an allowed value"},
        {"{\"id\": \"a\", \"command\": \"post_message\", \"project_id\": 1, " T_AUTHOR
         ", \"content\": \"c\"}",
         OB_ERR_MISSING_FIELD, "scope: missing"},
        {"{\"id\": \"a\", \"command\": \"post_message\", " T_AUTHOR
         ", \"content\": \"c\", \"scope\": \"public\"}",
         OB_ERR_MISSING_FIELD, "project_id: missing"},
        {"{\"id\": \"a\", \"command\": \"post_message\", \"project_id\": 1, \"author\": "
         "{\"email\": \"e\", \"name\": \"n\", \"role\": \"user\"}, \"content\": \"c\", \"scope\": "
         "\"public\"}",
         OB_ERR_FIELD_TYPE, "author.role: not an allowed value"},
        {"{\"id\": \"a\", \"command\": \"post_message\", \"project_id\": 1, \"author\": "
         "{\"email\": \"e\", \"role\": \"provider\"}, \"content\": \"c\", \"scope\": "
         "\"public\"}",
         OB_ERR_MISSING_FIELD, "author.name: missing"},
        {"{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": 1, \"content\": \"c\", "
         "\"content\": \"d\"}",
         OB_ERR_MALFORMED, "not JSON (error at byte "},
        {"{\"id\": \"a\", \"command\": \"post_message\", \"content\": \"sekrit\n\"}",
         OB_ERR_MALFORMED, "not JSON (error at byte "}, /* no quote of the input */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_oms_command_t *cmd = NULL;
        char err[OB_OMS_COMMAND_ERR_MAX] = "";
        int rc = ob_oms_command_parse(bad[i].text, strlen(bad[i].text), &cmd, err, sizeof err);
        if (rc != bad[i].rc || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
            fail_msg("case %zu: %d \"%s\", expected %d \"%s\"", i, rc, err, bad[i].rc, bad[i].err);
        assert_null(strstr(err, "sekrit"));
        assert_null(cmd);
    }
    ob_oms_command_t *cmd = NULL;
    assert_int_equal(ob_oms_command_parse("{}", 2, &cmd, NULL, 0), OB_ERR_MISSING_FIELD);
    char id[OB_GW_COMMAND_ID_MAX + 1] = "untouched";
    assert_int_equal(ob_oms_command_id("{\"id\": 3}", 9, id), OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_oms_command_id("x", 1, id), OB_ERR_MALFORMED);
    assert_string_equal(id, "untouched");
}

/* Builds an update with user_secrets of count keys, each key of key_len and value of
   value_len bytes. */
static char *
s_secrets(size_t count, size_t key_len, size_t value_len)
{
    size_t cap = 256 + count * (key_len + value_len + 16);
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap,
                                  "{" T_UPD "\"project_item_id\": 2, "
                                  "\"user_secrets\": {");
    for (size_t i = 0; i < count; i++) {
        len += (size_t)snprintf(text + len, cap - len, "%s\"%04zu", i ? ", " : "", i);
        memset(text + len, 'k', key_len - 4);
        len += key_len - 4;
        len += (size_t)snprintf(text + len, cap - len, "\": \"");
        memset(text + len, 'v', value_len);
        len += value_len;
        len += (size_t)snprintf(text + len, cap - len, "\"");
    }
    snprintf(text + len, cap - len, "}}");
    return text;
}

static void
test_caps(void **state)
{
    (void)state;
    static const struct {
        size_t count, key_len, value_len;
        int rc;
    } cases[] = {
        {OB_GW_SECRETS_MAX, OB_GW_SECRET_KEY_MAX, OB_GW_SECRET_VALUE_MAX, 0},
        {OB_GW_SECRETS_MAX + 1, 8, 8, OB_ERR_TOO_LARGE},
        {1, OB_GW_SECRET_KEY_MAX + 1, 8, OB_ERR_TOO_LARGE},
        {1, 8, OB_GW_SECRET_VALUE_MAX + 1, OB_ERR_TOO_LARGE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *text = s_secrets(cases[i].count, cases[i].key_len, cases[i].value_len);
        ob_oms_command_t *cmd = NULL;
        char err[OB_OMS_COMMAND_ERR_MAX] = "";
        assert_int_equal(ob_oms_command_parse(text, strlen(text), &cmd, err, sizeof err),
                         cases[i].rc);
        assert_null(strstr(err, "vvvv")); /* never a value in a message */
        ob_oms_command_destroy(&cmd);
        free(text);
    }
    /* content, id and the whole body */
    char *text = malloc(OB_GW_CONTENT_MAX + 128);
    assert_non_null(text);
    for (size_t n = OB_GW_CONTENT_MAX; n <= OB_GW_CONTENT_MAX + 1; n++) {
        int len = sprintf(text, "{\"id\": \"a\", \"command\": \"edit_message\", \"message_id\": "
                                "1, \"content\": \"");
        memset(text + len, 'c', n);
        strcpy(text + len + n, "\"}");
        ob_oms_command_t *cmd = NULL;
        assert_int_equal(ob_oms_command_parse(text, strlen(text), &cmd, NULL, 0),
                         n > OB_GW_CONTENT_MAX ? OB_ERR_TOO_LARGE : 0);
        ob_oms_command_destroy(&cmd);
    }
    for (size_t n = OB_GW_COMMAND_ID_MAX; n <= OB_GW_COMMAND_ID_MAX + 1; n++) {
        int len = sprintf(text, "{\"id\": \"");
        memset(text + len, '7', n);
        strcpy(text + len + n, "\", \"command\": \"edit_message\", \"message_id\": 1, "
                               "\"content\": \"c\"}");
        ob_oms_command_t *cmd = NULL;
        assert_int_equal(ob_oms_command_parse(text, strlen(text), &cmd, NULL, 0),
                         n > OB_GW_COMMAND_ID_MAX ? OB_ERR_TOO_LARGE : 0);
        ob_oms_command_destroy(&cmd);
    }
    free(text);
    ob_oms_command_t *cmd = NULL;
    char err[OB_OMS_COMMAND_ERR_MAX];
    assert_int_equal(ob_oms_command_parse(s_edit, OB_GW_COMMAND_MAX + 1, &cmd, err, sizeof err),
                     OB_ERR_TOO_LARGE);
}

/* Decodes an outcome and returns its data parsed (new reference). */
static json_t *
s_outcome(const uint8_t *buf, size_t len, const char *type, ob_event_t **ret_event)
{
    assert_int_equal(ob_event_decode(buf, len, ret_event), 0);
    assert_string_equal((*ret_event)->type, type);
    assert_string_equal((*ret_event)->topic, "oms.5");
    assert_string_equal((*ret_event)->source, OB_MKT_EVENT_SOURCE);
    assert_int_equal((*ret_event)->time_us, 1000);
    json_t *data = json_loadb((const char *)(*ret_event)->data, (*ret_event)->data_len, 0, NULL);
    assert_non_null(data);
    return data;
}

static void
test_outcomes(void **state)
{
    (void)state;
    ob_oms_command_t *cmd = s_parse(s_post);
    uint8_t *buf = NULL;
    size_t len = 0;
    ob_event_t *e = NULL;
    const char *answer = "{\"id\": 901, \"content\": \"Hello\", \"scope\": \"public\"}";
    assert_int_equal(ob_oms_command_outcome(5, cmd, 201, answer, strlen(answer), 1000, &buf, &len),
                     0);
    json_t *data = s_outcome(buf, len, "command.completed", &e);
    assert_string_equal(json_string_value(json_object_get(data, "command_id")), "c-2");
    assert_string_equal(json_string_value(json_object_get(data, "command")), "post_message");
    assert_int_equal(json_integer_value(json_object_get(data, "status")), 201);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(data, "response"), "id")),
                     901);
    assert_int_equal(e->oms_id, 5);
    assert_int_equal(e->project_id, 12);
    assert_int_equal(e->project_item_id, 3);
    assert_int_equal(e->message_id, 901); /* the posted message */
    char completed_id[OB_EVENT_ID_MAX + 1];
    strcpy(completed_id, e->id);
    assert_int_equal(strlen(completed_id), 64);
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);

    /* The object form of the error body, kept as an object. */
    const char *error = "{\"error\": {\"user_secrets\": [\"values must be strings\"]}}";
    assert_int_equal(ob_oms_command_outcome(5, cmd, 400, error, strlen(error), 1000, &buf, &len),
                     0);
    data = s_outcome(buf, len, "command.failed", &e);
    assert_int_equal(json_integer_value(json_object_get(data, "status")), 400);
    json_t *err = json_object_get(data, "error");
    assert_true(json_is_array(json_object_get(err, "user_secrets")));
    assert_null(json_object_get(data, "response"));
    assert_string_equal(e->id, completed_id); /* one outcome per command */
    /* ... whose id a waiter can derive (the REST wait_ms), distinct per OMS and command */
    char derived[OB_GW_EVENT_ID_TEXT];
    ob_oms_outcome_id(5, "c-2", derived);
    assert_string_equal(derived, completed_id);
    ob_oms_outcome_id(6, "c-2", derived);
    assert_string_not_equal(derived, completed_id);
    ob_oms_outcome_id(5, "c-3", derived);
    assert_string_not_equal(derived, completed_id);
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);

    /* The string form; and an answer that is no error body. */
    error = "{\"error\": \"You are not authorized to perform this action.\"}";
    assert_int_equal(ob_oms_command_outcome(5, cmd, 403, error, strlen(error), 1000, &buf, &len),
                     0);
    data = s_outcome(buf, len, "command.failed", &e);
    assert_string_equal(json_string_value(json_object_get(data, "error")),
                        "You are not authorized to perform this action.");
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);
    assert_int_equal(ob_oms_command_outcome(5, cmd, 404, "<html>no</html>", 15, 1000, &buf, &len),
                     0);
    data = s_outcome(buf, len, "command.failed", &e);
    assert_string_equal(json_string_value(json_object_get(data, "error")), "<html>no</html>");
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);
    assert_int_equal(ob_oms_command_outcome(5, cmd, 200, "\xff", 1, 1000, &buf, &len), 0);
    data = s_outcome(buf, len, "command.completed", &e);
    assert_true(json_is_null(json_object_get(data, "response"))); /* not UTF-8 */
    assert_int_equal(e->message_id, 0);
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);
    ob_oms_command_destroy(&cmd);

    /* A refusal: no call made, status 0. */
    assert_int_equal(
        ob_oms_command_refusal(5, "c-2", "status.type: not an allowed value", 1000, &buf, &len), 0);
    data = s_outcome(buf, len, "command.failed", &e);
    assert_int_equal(json_integer_value(json_object_get(data, "status")), 0);
    assert_true(json_is_null(json_object_get(data, "command")));
    assert_string_equal(json_string_value(json_object_get(data, "error")),
                        "status.type: not an allowed value");
    assert_string_equal(e->id, completed_id);
    json_decref(data);
    ob_event_destroy(&e);
    free(buf);
    assert_int_equal(ob_oms_command_refusal(6, "c-2", "x", 1000, &buf, &len), 0);
    assert_int_equal(ob_event_decode(buf, len, &e), 0);
    assert_string_not_equal(e->id, completed_id); /* another OMS */
    ob_event_destroy(&e);
    free(buf);
}

/* --- allocation failures ------------------------------------------------------------------ */

static int
s_parse_run(const void *arg)
{
    ob_oms_command_t *cmd = NULL;
    char err[OB_OMS_COMMAND_ERR_MAX] = "";
    int rc = ob_oms_command_parse(arg, strlen(arg), &cmd, err, sizeof err);
    if (rc == -ENOMEM)
        assert_string_equal(err, "out of memory");
    ob_oms_command_destroy(&cmd);
    return rc;
}

static int
s_outcome_run(const void *arg)
{
    const ob_oms_command_t *cmd = arg;
    const char *answers[] = {"{\"error\": {\"a\": [\"b\"]}}", "{\"id\": 3}", "<html>"};
    int statuses[] = {422, 201, 500};
    for (size_t i = 0; i < 3; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = ob_oms_command_outcome(5, cmd, statuses[i], answers[i], strlen(answers[i]), 1,
                                        &buf, &len);
        free(buf);
        if (rc)
            return rc;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_oms_command_refusal(5, "c", "why", 1, &buf, &len);
    free(buf);
    return rc;
}

static void
test_out_of_memory(void **state)
{
    (void)state;
    const char *all[] = {s_update, s_post, s_post_project, s_edit};
    for (size_t i = 0; i < 4; i++) {
        assert_true(t_alloc_each(s_parse_run, all[i], T_OURS) >= 1);
        assert_true(t_alloc_each(s_parse_run, all[i], T_JANSSON) > 2);
    }
    ob_oms_command_t *cmd = s_parse(s_post);
    assert_true(t_alloc_each(s_outcome_run, cmd, T_OURS) >= 4);
    assert_true(t_alloc_each(s_outcome_run, cmd, T_JANSSON) > 4);
    ob_oms_command_destroy(&cmd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands),  cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_outcomes),  cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
