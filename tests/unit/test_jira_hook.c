/*  test_jira_hook: Jira's webhooks into commands (adapters/jira/jira_hook.h): the signature
    (the reference's self-check vector) and the URL secret, a person's status change into
    update_project_item, a person's comment into post_message (item and epic), and every
    ignored case: the adapter's own change or comment, an unmapped status, an epic's status,
    an issue of another OMS, a restricted comment, no e-mail, other events. */
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
#include "jira_hook.h"
#include "jira_json.h"
#include "orderbus/error.h"

static ob_jira_config_t s_cfg; /* large: not on the stack */

static void
s_config(void)
{
    ob_jira_config_defaults(&s_cfg);
    s_cfg.oms_id = 7;
    strcpy(s_cfg.user, "orderbus");
    s_cfg.status_count = 2;
    strcpy(s_cfg.status[0].type, "ready");
    strcpy(s_cfg.status[0].jira_status, "10005");
    strcpy(s_cfg.status[1].type, "waiting_for_response");
    strcpy(s_cfg.status[1].jira_status, "10002");
    strcpy(s_cfg.status[1].value, "Waiting for you");
}

/* A status change to status id `to` of the issue labelled label, by actor. */
static char *
s_status(const char *actor, const char *label, const char *to)
{
    return ob_jira_json_printf(
        "{\"timestamp\":1,\"webhookEvent\":\"jira:issue_updated\",\"issue_event_type_name\":"
        "\"issue_generic\",\"user\":{\"name\":\"%s\"},\"issue\":{\"id\":\"10042\",\"key\":"
        "\"ORD-2\",\"fields\":{\"labels\":[\"other\",\"%s\"]}},\"changelog\":{\"id\":\"10300\","
        "\"items\":[{\"field\":\"resolution\",\"to\":\"1\"},{\"field\":\"status\",\"fieldtype\":"
        "\"jira\",\"from\":\"1\",\"fromString\":\"Open\",\"to\":\"%s\",\"toString\":\"Done\"}]}}",
        actor, label, to);
}

/* A comment on the issue labelled label: author, its e-mail (or none), extra keys. */
static char *
s_comment(const char *author, const char *email, const char *label, const char *body,
          const char *extra)
{
    char mail[128] = "";
    if (email)
        snprintf(mail, sizeof mail, ",\"emailAddress\":\"%s\"", email);
    return ob_jira_json_printf(
        "{\"webhookEvent\":\"jira:issue_updated\",\"issue_event_type_name\":\"issue_commented\","
        "\"user\":{\"name\":\"%s\"},\"issue\":{\"id\":\"10042\",\"fields\":{\"labels\":"
        "[\"%s\"]}},\"comment\":{\"id\":\"10077\",\"author\":{\"name\":\"%s\",\"displayName\":"
        "\"Grace Hopper\"%s},\"body\":\"%s\"%s}}",
        author, label, author, mail, body, extra);
}

/* Parses text (taken) and returns the code; *cmd gets the command on 0. */
static int
s_parse(char *text, ob_jira_command_t *cmd, const char **why)
{
    assert_non_null(text);
    int rc = ob_jira_hook_parse(&s_cfg, text, strlen(text), cmd, why);
    free(text);
    return rc;
}

static void
test_verify(void **state)
{
    (void)state;
    const uint8_t *secret = (const uint8_t *)"It's a Secret to Everybody";
    size_t slen = strlen((const char *)secret);
    const char *body = "Hello World!";
    const char *good = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9";
    assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, good, NULL), 0);
    assert_int_equal(ob_jira_hook_verify(secret, slen, "Hello World?", 12, good, NULL),
                     OB_ERR_FORBIDDEN);
    static const char *const bad[] = {
        "sha256=A4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9x",
        "sha256=b4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9",
        "sha1=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9",
        "sha256=a4771c39",
        "sha256=",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, bad[i], NULL),
                         OB_ERR_FORBIDDEN);
    /* a wrong signature is not saved by a right URL secret */
    assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, bad[1], (const char *)secret),
                     OB_ERR_FORBIDDEN);
    assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, NULL, (const char *)secret), 0);
    assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, NULL, "It's a Secret to Everybod"),
                     OB_ERR_FORBIDDEN);
    assert_int_equal(ob_jira_hook_verify(secret, slen, body, 12, NULL, NULL), OB_ERR_FORBIDDEN);
}

static void
test_status(void **state)
{
    (void)state;
    s_config();
    ob_jira_command_t cmd;
    const char *why = NULL;
    assert_int_equal(s_parse(s_status("grace", "orderbus-7-p12-i3", "10005"), &cmd, &why), 0);
    assert_string_equal(cmd.id, "jira-10042-10300");
    assert_string_equal(cmd.type, "command.update_project_item");
    assert_int_equal(cmd.project_id, 12);
    assert_int_equal(cmd.project_item_id, 3);
    assert_string_equal(cmd.body,
                        "{\"id\":\"jira-10042-10300\",\"command\":\"update_project_item\","
                        "\"project_id\":12,\"project_item_id\":3,\"status\":{\"value\":"
                        "\"Done\",\"type\":\"ready\"}}");
    assert_int_equal(cmd.body_len, strlen(cmd.body));
    ob_jira_command_clear(&cmd);
    assert_null(cmd.body);
    /* the configured value wins over Jira's status name */
    assert_int_equal(s_parse(s_status("grace", "orderbus-7-p12-i3", "10002"), &cmd, &why), 0);
    assert_non_null(strstr(cmd.body, "{\"value\":\"Waiting for you\",\"type\":"
                                     "\"waiting_for_response\"}"));
    ob_jira_command_clear(&cmd);
    static const struct {
        const char *actor, *label, *to, *why;
    } ignored[] = {
        {"orderbus", "orderbus-7-p12-i3", "10005", "own change"},
        {"grace", "orderbus-7-p12-i3", "10001", "does not send"},
        {"grace", "orderbus-7-p12", "10005", "epic"},
        {"grace", "orderbus-8-p12-i3", "10005", "no label of its OMS"},
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        why = NULL;
        int rc = s_parse(s_status(ignored[i].actor, ignored[i].label, ignored[i].to), &cmd, &why);
        if (rc != OB_JIRA_IGNORED || !why || !strstr(why, ignored[i].why))
            fail_msg("case %zu: rc %d, why '%s'", i, rc, why ? why : "");
    }
}

static void
test_comment(void **state)
{
    (void)state;
    s_config();
    ob_jira_command_t cmd;
    const char *why = NULL;
    assert_int_equal(s_parse(s_comment("grace", "grace@oms.example", "orderbus-7-p12-i3",
                                       "Your VM is ready", ""),
                             &cmd, &why),
                     0);
    assert_string_equal(cmd.id, "jira-c10077");
    assert_string_equal(cmd.type, "command.post_message");
    json_t *v = json_loads(cmd.body, 0, NULL);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "scope")), "public");
    assert_string_equal(json_string_value(json_object_get(v, "content")), "Your VM is ready");
    assert_int_equal(json_integer_value(json_object_get(v, "project_item_id")), 3);
    json_t *author = json_object_get(v, "author");
    assert_string_equal(json_string_value(json_object_get(author, "role")), "provider");
    assert_string_equal(json_string_value(json_object_get(author, "name")), "Grace Hopper");
    assert_string_equal(json_string_value(json_object_get(author, "email")), "grace@oms.example");
    json_decref(v);
    ob_jira_command_clear(&cmd);
    /* on an epic: a message on the project; no e-mail: the configured one */
    strcpy(s_cfg.author_email, "desk@oms.example");
    assert_int_equal(s_parse(s_comment("grace", NULL, "orderbus-7-p12", "Hi", ""), &cmd, &why), 0);
    v = json_loads(cmd.body, 0, NULL);
    assert_null(json_object_get(v, "project_item_id"));
    assert_int_equal(json_integer_value(json_object_get(v, "project_id")), 12);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "author"), "email")),
                        "desk@oms.example");
    json_decref(v);
    ob_jira_command_clear(&cmd);
    static const struct {
        const char *author, *body, *extra, *why;
    } ignored[] = {
        {"orderbus", "Hi", "", "own comment"},
        {"grace", "Copied\\n\\n[orderbus:7:m5]", "", "own comment"},
        {"grace", "Hi", ",\"visibility\":{\"type\":\"role\",\"value\":\"Developers\"}",
         "restricted"},
        {"grace", "", "", "without id or body"},
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        why = NULL;
        int rc = s_parse(s_comment(ignored[i].author, "g@x", "orderbus-7-p12-i3", ignored[i].body,
                                   ignored[i].extra),
                         &cmd, &why);
        if (rc != OB_JIRA_IGNORED || !why || !strstr(why, ignored[i].why))
            fail_msg("case %zu: rc %d, why '%s'", i, rc, why ? why : "");
    }
    s_cfg.author_email[0] = '\0';
    assert_int_equal(s_parse(s_comment("grace", NULL, "orderbus-7-p12", "Hi", ""), &cmd, &why),
                     OB_JIRA_IGNORED);
    assert_non_null(strstr(why, "no e-mail"));
}

/* A comment_updated webhook (DC's: no issue) of comment 10077 by author, edited by editor. */
static char *
s_edit(const char *author, const char *editor, const char *body, const char *extra)
{
    return ob_jira_json_printf(
        "{\"timestamp\":1,\"webhookEvent\":\"comment_updated\",\"comment\":{\"self\":"
        "\"http://j/rest/api/2/issue/10042/comment/10077\",\"id\":\"10077\","
        "\"author\":{\"name\":\"%s\"},\"updateAuthor\":{\"name\":\"%s\"},"
        "\"body\":\"%s\",\"created\":\"2026-12-05T19:00:00.000+0000\","
        "\"updated\":\"2026-12-05T19:01:02.345+0000\"%s}}",
        author, editor, body, extra);
}

static void
test_edit(void **state)
{
    (void)state;
    s_config();
    ob_jira_command_t cmd;
    const char *why = NULL;
    assert_int_equal(s_parse(s_edit("grace", "grace", "Your VM is up, 4 cores", ""), &cmd, &why),
                     0);
    assert_string_equal(cmd.type, "command.edit_message");
    assert_string_equal(cmd.id, "jira-e10077-202612051901023450000");
    assert_string_equal(cmd.comment_id, "10077");
    assert_int_equal(ob_jira_hook_edit(&cmd, 0), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_jira_hook_edit(&cmd, 15), 0);
    json_t *v = json_loads(cmd.body, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_object_size(v), 4);
    assert_string_equal(json_string_value(json_object_get(v, "id")), cmd.id);
    assert_string_equal(json_string_value(json_object_get(v, "command")), "edit_message");
    assert_int_equal(json_integer_value(json_object_get(v, "message_id")), 15);
    assert_string_equal(json_string_value(json_object_get(v, "content")), "Your VM is up, 4 cores");
    json_decref(v);
    assert_int_equal(ob_jira_hook_edit(&cmd, 15), OB_ERR_INVALID_ARGUMENT); /* done already */
    ob_jira_command_clear(&cmd);
    /* the same comment as Jira's GET answers it (an edit sent late by the engine) */
    static const char got[] =
        "{\"id\":\"10077\",\"author\":{\"name\":\"grace\"},\"updateAuthor\":{\"name\":"
        "\"grace\"},\"body\":\"Your VM is up, 4 cores\",\"updated\":"
        "\"2026-12-05T19:01:02.345+0000\"}";
    assert_int_equal(ob_jira_hook_comment_edit(&s_cfg, got, strlen(got), &cmd, &why), 0);
    assert_string_equal(cmd.id, "jira-e10077-202612051901023450000");
    assert_string_equal(cmd.comment_id, "10077");
    ob_jira_command_clear(&cmd);
    assert_int_equal(ob_jira_hook_comment_edit(&s_cfg, "[]", 2, &cmd, &why), OB_ERR_MALFORMED);
    static const struct {
        const char *author, *editor, *body, *extra, *why;
    } ignored[] = {
        {"orderbus", "orderbus", "Hi", "", "own comment"},
        {"grace", "orderbus", "Hi", "", "own comment"}, /* an edit the adapter made */
        {"orderbus", "grace", "Hi", "", "own comment"}, /* a person edits a copied message */
        {"grace", "grace", "Copied\\n\\n[orderbus:7:m5]", "", "own comment"},
        {"grace", "grace", "Hi", ",\"visibility\":{\"type\":\"role\",\"value\":\"Devs\"}",
         "restricted"},
        {"grace", "grace", "", "", "without id"},
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        why = NULL;
        int rc =
            s_parse(s_edit(ignored[i].author, ignored[i].editor, ignored[i].body, ignored[i].extra),
                    &cmd, &why);
        if (rc != OB_JIRA_IGNORED || !why || !strstr(why, ignored[i].why))
            fail_msg("case %zu: rc %d, why '%s'", i, rc, why ? why : "");
    }
}

static void
test_other(void **state)
{
    (void)state;
    s_config();
    ob_jira_command_t cmd;
    const char *why = NULL;
    static const char *const ignored[] = {
        "{\"webhookEvent\":\"comment_created\",\"comment\":{\"id\":\"1\",\"body\":\"x\"}}",
        "{\"webhookEvent\":\"jira:issue_created\",\"issue\":{\"fields\":{\"labels\":"
        "[\"orderbus-7-p1-i1\"]}}}",
        "{\"webhookEvent\":\"jira:issue_updated\",\"issue\":{\"fields\":{\"labels\":"
        "[\"orderbus-7-p1-i1\"]}},\"changelog\":{\"id\":\"1\",\"items\":[]}}",
        "{\"webhookEvent\":\"jira:issue_updated\",\"issue\":{\"fields\":{\"labels\":3}}}",
        "{}",
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++)
        assert_int_equal(ob_jira_hook_parse(&s_cfg, ignored[i], strlen(ignored[i]), &cmd, &why),
                         OB_JIRA_IGNORED);
    assert_int_equal(ob_jira_hook_parse(&s_cfg, "[1]", 3, &cmd, &why), OB_ERR_MALFORMED);
    assert_int_equal(ob_jira_hook_parse(&s_cfg, "{\"a\":", 5, &cmd, &why), OB_ERR_MALFORMED);
    assert_int_equal(ob_jira_hook_parse(&s_cfg, "{}", OB_JIRA_HOOK_MAX + 1, &cmd, &why),
                     OB_ERR_TOO_LARGE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify),  cmocka_unit_test(test_status),
        cmocka_unit_test(test_comment), cmocka_unit_test(test_edit),
        cmocka_unit_test(test_other),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
