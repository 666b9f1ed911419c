/*  ob_jira_hook: see jira_hook.h. */
#include "jira_hook.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jira_build.h"
#include "jira_json.h"
#include "orderbus/error.h"

#define S_HEX_TEXT (2 * OB_JIRA_MAC_BYTES + 1) /* hex of a MAC, with its NUL */

int
ob_jira_hook_verify(const uint8_t *secret, size_t secret_len, const char *body, size_t len,
                    const char *signature, const char *query_secret)
{
    if (signature) {
        size_t plen = strlen(OB_JIRA_SIG_PREFIX);
        uint8_t mac[OB_JIRA_MAC_BYTES];
        uint8_t given[OB_JIRA_MAC_BYTES];
        size_t given_len = 0;
        if (strncmp(signature, OB_JIRA_SIG_PREFIX, plen) ||
            strlen(signature + plen) != 2 * OB_JIRA_MAC_BYTES ||
            sodium_hex2bin(given, sizeof given, signature + plen, 2 * OB_JIRA_MAC_BYTES, NULL,
                           &given_len, NULL) ||
            given_len != sizeof given)
            return OB_ERR_FORBIDDEN;
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, secret, secret_len);
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)(body ? body : ""), len);
        crypto_auth_hmacsha256_final(&st, mac);
        return sodium_memcmp(mac, given, sizeof mac) ? OB_ERR_FORBIDDEN : 0;
    }
    if (!query_secret || strlen(query_secret) != secret_len)
        return OB_ERR_FORBIDDEN;
    return sodium_memcmp(query_secret, secret, secret_len) ? OB_ERR_FORBIDDEN : 0;
}

void
ob_jira_command_clear(ob_jira_command_t *cmd)
{
    free(cmd->body);
    cmd->body = NULL;
    cmd->body_len = 0;
}

/* Reads a Jira numeric id (a string of digits, or an integer) at key of obj into buf.
   Returns 0 or -1. */
static int
s_jira_id(json_t *obj, const char *key, char buf[OB_JIRA_JIRA_ID_MAX + 1])
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        snprintf(buf, OB_JIRA_JIRA_ID_MAX + 1, "%" PRId64, (int64_t)json_integer_value(v));
        return 0;
    }
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > OB_JIRA_JIRA_ID_MAX || strspn(s, "0123456789") != n)
        return -1;
    memcpy(buf, s, n + 1);
    return 0;
}

/* Finds the issue's label of this OMS. Returns 0 or -1. */
static int
s_issue_ids(const ob_jira_config_t *cfg, json_t *issue, uint64_t *ret_project, uint64_t *ret_item)
{
    size_t i;
    json_t *label;
    json_t *fields = json_object_get(issue, "fields");
    json_array_foreach(json_object_get(fields, "labels"), i, label)
    {
        if (json_is_string(label) &&
            !ob_jira_label_parse(cfg->oms_id, json_string_value(label), ret_project, ret_item))
            return 0;
    }
    return -1;
}

/* Serialises body (taken) into cmd. Returns 0 or -ENOMEM. */
static int
s_finish(ob_jira_command_t *cmd, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return -ENOMEM;
    cmd->body = text;
    cmd->body_len = strlen(text);
    return 0;
}

/* A status change to a mapped status, on an item's issue. */
static int
s_status(const ob_jira_config_t *cfg, json_t *root, json_t *issue, ob_jira_command_t *cmd,
         const char **ret_why)
{
    json_t *changelog = json_object_get(root, "changelog");
    json_t *item;
    size_t i;
    char issue_id[OB_JIRA_JIRA_ID_MAX + 1];
    char change_id[OB_JIRA_JIRA_ID_MAX + 1];
    json_array_foreach(json_object_get(changelog, "items"), i, item)
    {
        const char *field = ob_jira_json_str(item, "field");
        const char *to = ob_jira_json_str(item, "to");
        if (!field || strcmp(field, "status") || !to)
            continue;
        const ob_jira_status_t *row = ob_jira_config_status_by_jira(cfg, to);
        if (!row) {
            *ret_why = "a status the workflow map does not send";
            return OB_JIRA_IGNORED;
        }
        if (cmd->project_item_id == 0) {
            *ret_why = "a status change of a project's epic";
            return OB_JIRA_IGNORED;
        }
        if (s_jira_id(issue, "id", issue_id) || s_jira_id(changelog, "id", change_id)) {
            *ret_why = "no issue id or changelog id";
            return OB_JIRA_IGNORED;
        }
        char value[OB_JIRA_STATUS_VALUE_MAX];
        const char *name = ob_jira_json_str(item, "toString");
        ob_jira_json_line(row->value[0] ? row->value
                          : name        ? name
                                        : row->type,
                          value, sizeof value);
        snprintf(cmd->id, sizeof cmd->id, OB_JIRA_COMMAND_PREFIX "%s-%s", issue_id, change_id);
        snprintf(cmd->type, sizeof cmd->type, "command.update_project_item");
        return s_finish(cmd,
                        json_pack("{s:s, s:s, s:I, s:I, s:{s:s, s:s}}", "id", cmd->id, "command",
                                  "update_project_item", "project_id", (json_int_t)cmd->project_id,
                                  "project_item_id", (json_int_t)cmd->project_item_id, "status",
                                  "value", value, "type", row->type));
    }
    *ret_why = "no status change";
    return OB_JIRA_IGNORED;
}

/* A person's comment. */
static int
s_comment(const ob_jira_config_t *cfg, json_t *comment, ob_jira_command_t *cmd,
          const char **ret_why)
{
    json_t *author = json_object_get(comment, "author");
    const char *body = ob_jira_json_str(comment, "body");
    const char *name = ob_jira_json_str(author, "name");
    const char *display = ob_jira_json_str(author, "displayName");
    const char *email = ob_jira_json_str(author, "emailAddress");
    json_t *visibility = json_object_get(comment, "visibility");
    char comment_id[OB_JIRA_JIRA_ID_MAX + 1];
    if (!body || !*body || s_jira_id(comment, "id", comment_id)) {
        *ret_why = "a comment without id or body";
        return OB_JIRA_IGNORED;
    }
    if ((name && !strcmp(name, cfg->user)) || ob_jira_marked(body, strlen(body))) {
        *ret_why = "the adapter's own comment";
        return OB_JIRA_IGNORED;
    }
    if (visibility && !json_is_null(visibility)) {
        *ret_why = "a restricted comment";
        return OB_JIRA_IGNORED;
    }
    if (!email || !*email)
        email = cfg->author_email;
    if (!*email) {
        *ret_why = "a comment whose author shows no e-mail, and no adapter/author_email";
        return OB_JIRA_IGNORED;
    }
    char who[OB_JIRA_AUTHOR_MAX + 1];
    char mail[OB_JIRA_AUTHOR_MAX + 1];
    ob_jira_json_line(display ? display : name ? name : "Jira", who, sizeof who);
    ob_jira_json_line(email, mail, sizeof mail);
    size_t clen = ob_jira_json_utf8_cut(body, OB_JIRA_CONTENT_MAX);
    snprintf(cmd->id, sizeof cmd->id, OB_JIRA_COMMAND_PREFIX "c%s", comment_id);
    snprintf(cmd->type, sizeof cmd->type, "command.post_message");
    json_t *out =
        json_pack("{s:s, s:s, s:I, s:{s:s, s:s, s:s}, s:s%, s:s}", "id", cmd->id, "command",
                  "post_message", "project_id", (json_int_t)cmd->project_id, "author", "name", who,
                  "email", mail, "role", "provider", "content", body, clen, "scope", "public");
    if (out && cmd->project_item_id &&
        json_object_set_new(out, "project_item_id", json_integer((json_int_t)cmd->project_item_id)))
        out = (json_decref(out), NULL);
    return s_finish(cmd, out);
}

/* A person's edit of a comment (comment_updated): the command into *ret_cmd (on 0 only), its
   body the content alone until ob_jira_hook_edit. */
static int
s_edit(const ob_jira_config_t *cfg, json_t *comment, ob_jira_command_t *ret_cmd,
       const char **ret_why)
{
    ob_jira_command_t c;
    ob_jira_command_t *cmd = &c;
    memset(cmd, 0, sizeof *cmd);
    const char *body = ob_jira_json_str(comment, "body");
    const char *author = ob_jira_json_str(json_object_get(comment, "author"), "name");
    const char *editor = ob_jira_json_str(json_object_get(comment, "updateAuthor"), "name");
    const char *updated = ob_jira_json_str(comment, "updated");
    json_t *visibility = json_object_get(comment, "visibility");
    char comment_id[OB_JIRA_JIRA_ID_MAX + 1];
    if (!body || !*body || s_jira_id(comment, "id", comment_id) || !updated) {
        *ret_why = "a comment without id, body or update time";
        return OB_JIRA_IGNORED;
    }
    if ((author && !strcmp(author, cfg->user)) || (editor && !strcmp(editor, cfg->user)) ||
        ob_jira_marked(body, strlen(body))) {
        *ret_why = "the adapter's own comment or edit";
        return OB_JIRA_IGNORED;
    }
    if (visibility && !json_is_null(visibility)) {
        *ret_why = "a restricted comment";
        return OB_JIRA_IGNORED;
    }
    int n = snprintf(cmd->id, sizeof cmd->id, OB_JIRA_COMMAND_PREFIX "e%s-", comment_id);
    for (const char *p = updated; *p && (size_t)n + 1 < sizeof cmd->id; p++)
        if (*p >= '0' && *p <= '9')
            cmd->id[n++] = *p;
    cmd->id[n] = '\0';
    snprintf(cmd->type, sizeof cmd->type, "command.edit_message");
    memcpy(cmd->comment_id, comment_id, sizeof comment_id);
    size_t clen = ob_jira_json_utf8_cut(body, OB_JIRA_CONTENT_MAX);
    if (!(cmd->body = strndup(body, clen)))
        return -ENOMEM;
    cmd->body_len = clen;
    *ret_cmd = c;
    return 0;
}

int
ob_jira_hook_comment_edit(const ob_jira_config_t *cfg, const char *text, size_t len,
                          ob_jira_command_t *ret_cmd, const char **ret_why)
{
    json_t *comment = NULL;
    int rc = ob_jira_json_load(text, len, OB_JIRA_HOOK_MAX, &comment);
    if (rc == 0)
        rc = s_edit(cfg, comment, ret_cmd, ret_why);
    json_decref(comment);
    return rc;
}

int
ob_jira_hook_edit(ob_jira_command_t *cmd, uint64_t message_id)
{
    if (!cmd->comment_id[0] || !cmd->body || message_id == 0 || message_id > OB_JIRA_OMS_ID_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    json_t *out =
        json_pack("{s:s, s:s, s:I, s:s%}", "id", cmd->id, "command", "edit_message", "message_id",
                  (json_int_t)message_id, "content", cmd->body, cmd->body_len);
    char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    if (!text)
        return -ENOMEM;
    free(cmd->body);
    cmd->body = text;
    cmd->body_len = strlen(text);
    cmd->comment_id[0] = '\0'; /* complete */
    return 0;
}

int
ob_jira_hook_parse(const ob_jira_config_t *cfg, const char *body, size_t len,
                   ob_jira_command_t *ret_cmd, const char **ret_why)
{
    json_t *root = NULL;
    ob_jira_command_t cmd;
    memset(&cmd, 0, sizeof cmd);
    int rc = ob_jira_json_load(body, len, OB_JIRA_HOOK_MAX, &root);
    if (rc)
        return rc;
    const char *event = ob_jira_json_str(root, "webhookEvent");
    const char *type = ob_jira_json_str(root, "issue_event_type_name");
    json_t *issue = json_object_get(root, "issue");
    json_t *comment = json_object_get(root, "comment");
    const char *actor = ob_jira_json_str(json_object_get(root, "user"), "name");
    rc = OB_JIRA_IGNORED;
    if (event && !strcmp(event, "comment_updated") && json_is_object(comment)) {
        rc = s_edit(cfg, comment, &cmd, ret_why);
        goto out;
    }
    if (!event || strcmp(event, "jira:issue_updated")) {
        *ret_why = "not an issue update";
        goto out;
    }
    if (s_issue_ids(cfg, issue, &cmd.project_id, &cmd.project_item_id)) {
        *ret_why = "not an issue of this adapter (no label of its OMS)";
        goto out;
    }
    if (type && !strcmp(type, "issue_commented") && json_is_object(comment))
        rc = s_comment(cfg, comment, &cmd, ret_why);
    else if (actor && !strcmp(actor, cfg->user))
        *ret_why = "the adapter's own change";
    else
        rc = s_status(cfg, root, issue, &cmd, ret_why);
out:
    if (rc == 0)
        *ret_cmd = cmd;
    else
        ob_jira_command_clear(&cmd);
    json_decref(root);
    return rc;
}
