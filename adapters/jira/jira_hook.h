/*  ob_jira_hook: Jira's webhooks, as orderbus-jira's HTTP endpoint receives them, checked and
    turned into commands for mp.<oms_id> (gateway/COMMANDS.md). Pure: no I/O, no clock.

    `jira:issue_updated` payloads are read (they carry the issue, hence its labels, hence
    the Marketplace ids: jira_build.h), and `comment_updated`; the Jira webhook is to be
    registered for issue updates and comment updates (or all events):
      - a changelog item of field `status` to a Jira status of the workflow map, on an item's
        issue, made by anyone but the adapter's user -> command.update_project_item with the
        mapped type and value; command id jira-<issue id>-<changelog id>;
      - issue_event_type_name `issue_commented` with a comment that is not restricted, not
        by the adapter's user and not marked by the adapter -> command.post_message, scope
        public, author role provider, on the item (or on the project for an epic); command
        id jira-c<comment id>;
      - `comment_updated` of a comment that is not restricted, not by the adapter's user, not
        edited by it (updateAuthor) and not marked by the adapter -> command.edit_message of
        the Marketplace message the comment became (found by the caller in the id map, then
        ob_jira_hook_edit); command id jira-e<comment id>-<digits of comment.updated>, so that
        each edit is a new command and a redelivered one the same. An edit made before the
        Marketplace confirmed the comment's message (its command.completed) has no message to
        edit yet: the caller marks it pending, and the engine sends the comment's edit once
        the message is known (ob_jira_hook_comment_edit).
    A redelivered webhook gives the same command id, so the same event id: the broker takes
    it as a duplicate. Everything else is ignored, with a reason. */
#ifndef OB_JIRA_HOOK_H
#define OB_JIRA_HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "jira_config.h"

#define OB_JIRA_IGNORED 2           /* ob_jira_hook_parse: a webhook that asks for nothing */
#define OB_JIRA_COMMAND_TYPE_MAX 48 /* bytes of a command event's type, with its NUL */

/* A command to publish on mp.<oms_id>. */
typedef struct ob_jira_command {
    char id[OB_JIRA_COMMAND_ID_MAX + 1];      /* the command's id, also its event's id */
    char type[OB_JIRA_COMMAND_TYPE_MAX];      /* command.update_project_item, .post_message,
                                                 .edit_message */
    uint64_t project_id;                      /* the Marketplace project */
    uint64_t project_item_id;                 /* its item, 0 for a message on the project */
    char *body;                               /* the JSON command body; owned, NUL-terminated */
    size_t body_len;                          /* its bytes */
    char comment_id[OB_JIRA_JIRA_ID_MAX + 1]; /* edit_message: the Jira comment, else "" */
} ob_jira_command_t;

/* Checks a webhook's authenticity against secret (borrowed, secret_len bytes): with a
   signature (the X-Hub-Signature value, borrowed, may be NULL), it must be sha256= and the
   hex HMAC-SHA256 of body keyed by the secret; without one, query_secret (the URL's secret
   parameter, borrowed, may be NULL) must equal the secret. Both compared in constant time.
   Returns 0 or OB_ERR_FORBIDDEN. */
int ob_jira_hook_verify(const uint8_t *secret, size_t secret_len, const char *body, size_t len,
                        const char *signature, const char *query_secret);

/* Turns the webhook body (borrowed, len bytes, at most OB_JIRA_HOOK_MAX) into *ret_cmd (the
   caller's, cleared with ob_jira_command_clear after a 0). Returns 0, OB_JIRA_IGNORED with
   *ret_why (a static text saying why), OB_ERR_TOO_LARGE, OB_ERR_MALFORMED (not a JSON
   object) or -ENOMEM. */
int ob_jira_hook_parse(const ob_jira_config_t *cfg, const char *body, size_t len,
                       ob_jira_command_t *ret_cmd, const char **ret_why);

/* The same command as a comment_updated webhook of the comment would give, from the comment
   as Jira's GET issue/{key}/comment/{id} answers it (text, borrowed, len bytes, at most
   OB_JIRA_HOOK_MAX): for an edit made before its message was known (jira_engine.h).
   Returns as ob_jira_hook_parse. */
int ob_jira_hook_comment_edit(const ob_jira_config_t *cfg, const char *text, size_t len,
                              ob_jira_command_t *ret_cmd, const char **ret_why);

/* Completes an edit_message command that ob_jira_hook_parse gave (cmd->comment_id set; its
   body then holds only the new content) with message_id, the Marketplace message that the
   comment became: the body becomes the command's JSON, and comment_id "". Returns 0,
   OB_ERR_INVALID_ARGUMENT (not such a command, or message_id 0) or -ENOMEM (cmd unchanged then). */
int ob_jira_hook_edit(ob_jira_command_t *cmd, uint64_t message_id);

/* Frees what cmd (borrowed) owns; accepts a zeroed command. */
void ob_jira_command_clear(ob_jira_command_t *cmd);

#endif
