/*  ob_jira_build: the Jira REST v2 request bodies of orderbus-jira, built from the events of
    oms.<oms_id> (their data is the Marketplace snapshot: a Project, a ProjectItem or a
    Message as the gateway fetched it) and the configuration. Pure: no I/O, no clock.

    Identity marks, which make every write findable again (idempotence after a crash
    between Jira's answer and the adapter's commit) and recognisable (no echo):
      - an issue carries the label orderbus-<oms>-p<P> (the project's epic) or
        orderbus-<oms>-p<P>-i<I> (the item's issue), searched with JQL before a create, and
        the entity property `orderbus` {oms_id, project_id, project_item_id};
      - a comment ends with the line [orderbus:<oms>:m<message id>], looked for in the
        issue's comments before a create.
    Every snapshot is untrusted: at most OB_JIRA_SNAPSHOT_MAX bytes and OB_JIRA_JSON_DEPTH_MAX
    deep; a missing or mistyped value is written as absent, never guessed. Single-line values
    have control characters replaced by spaces and are cut to OB_JIRA_SUMMARY_MAX bytes on a
    UTF-8 boundary (Jira refuses longer or multi-line string fields). */
#ifndef OB_JIRA_BUILD_H
#define OB_JIRA_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "jira_config.h"

#define OB_JIRA_NOTHING 1 /* a builder's "nothing to write" (not an error) */

/* Writes the label of the epic of project_id (item_id 0) or of the issue of item_id. */
void ob_jira_label(uint64_t oms_id, uint64_t project_id, uint64_t item_id,
                   char ret_label[OB_JIRA_LABEL_MAX]);

/* Reads label (borrowed) as one of oms_id's labels: *ret_project_id and *ret_item_id (0 for
   an epic). Returns 0, or OB_ERR_INVALID_ARGUMENT (not one of oms_id's labels). */
int ob_jira_label_parse(uint64_t oms_id, const char *label, uint64_t *ret_project_id,
                        uint64_t *ret_item_id);

/* Writes the mark that ends the comment of message_id. */
void ob_jira_mark(uint64_t oms_id, uint64_t message_id, char ret_mark[OB_JIRA_MARK_MAX]);

/* Returns 1 if text (borrowed, len bytes) holds a mark of this adapter's kind (any OMS). */
int ob_jira_marked(const char *text, size_t len);

/* Builds the POST search body that finds the issue labelled label (borrowed) in cfg's
   project. *ret_body is the caller's to free. Returns 0 or -ENOMEM. */
int ob_jira_build_search(const ob_jira_config_t *cfg, const char *label, char **ret_body);

/* Reads the owner's full name (owner.name) of a Project snapshot (borrowed, len bytes), for
   the summaries of its items. *ret_name is the caller's to free ("" if it has none).
   Returns 0, OB_ERR_MALFORMED (not a JSON object), OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_jira_owner_name(const char *snapshot, size_t len, char **ret_name);

/* Builds the POST issue body of project_id's epic from its Project snapshot (borrowed, len
   bytes): section 9.6 of the reference, the label and the property. *ret_body is the
   caller's to free. Returns 0, OB_ERR_MALFORMED, OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_jira_build_epic(const ob_jira_config_t *cfg, uint64_t project_id, const char *snapshot,
                       size_t len, char **ret_body);

/* Builds the POST issue body of item_id's issue from its ProjectItem snapshot (borrowed),
   linked to epic_key (borrowed) through the Epic Link field, its summary naming owner
   (borrowed, may be "") and the service. Returns as ob_jira_build_epic. */
int ob_jira_build_item(const ob_jira_config_t *cfg, uint64_t project_id, uint64_t item_id,
                       const char *epic_key, const char *owner, const char *snapshot, size_t len,
                       char **ret_body);

/* Reads status.type of a ProjectItem snapshot (borrowed) into ret_type. Returns 0,
   OB_ERR_MALFORMED (no such string, or too long) or OB_ERR_TOO_LARGE. */
int ob_jira_item_status(const char *snapshot, size_t len, char ret_type[OB_JIRA_STATUS_TYPE_MAX]);

/* Builds the POST transitions body that applies the transition configured for status type
   (borrowed). Returns 0, OB_JIRA_NOTHING (no transition configured for it) or -ENOMEM. */
int ob_jira_build_transition(const ob_jira_config_t *cfg, const char *type, char **ret_body);

/* Builds the POST (or PUT) comment body of message_id from its Message snapshot (borrowed):
   the author, the content (a user_direct message's never: a notice instead), the mark; an
   internal message restricted to cfg->internal_role. Returns 0, OB_JIRA_NOTHING (an
   internal message and no role configured), OB_ERR_MALFORMED (no scope or an unknown one),
   OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_jira_build_comment(const ob_jira_config_t *cfg, uint64_t message_id, const char *snapshot,
                          size_t len, char **ret_body);

/* Builds the comment body that shows a failed command on its issue, from the data of a
   command.failed outcome (borrowed, len bytes: command_id, command, status, error). Returns
   0, OB_ERR_MALFORMED, OB_ERR_TOO_LARGE or -ENOMEM. */
int ob_jira_build_failure(const char *outcome, size_t len, char **ret_body);

#endif
