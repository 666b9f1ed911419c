/*  fuzz_jira: orderbus-jira's parsers of outside input (adapters/jira/): its configuration
    file (jira_config.h), the Marketplace snapshots its builders read (jira_build.h) and the
    webhooks Jira POSTs to it (jira_hook.h). The first byte picks the parser (its value
    modulo 3), the rest is its input:
        0  a ZPL file, written to a scratch file (one per process, in /dev/shm, or /tmp
           without it), run as `orderbus-jira --config FILE`
        1  a snapshot, given to every builder (epic, item, comment, failure notice, status,
           owner)
        2  a webhook body, parsed, and verified against a signature taken from its first
           bytes

    Properties checked beyond the sanitizers':
    - config: a failure is OB_ERR_INVALID_ARGUMENT with a non-empty message; an accepted one
      has an oms_id, at most OB_JIRA_STATUSES_MAX status rows of distinct types, and
      validates again unchanged;
    - builders: only the documented codes; a body built is a JSON object; a comment's body
      holds its mark; no single-line field holds a control character;
    - webhooks: only the documented codes; a command's id is jira-..., at most 64 bytes of
      [A-Za-z0-9._:-], and its body (an edit's once ob_jira_hook_edit completed it) a JSON
      object whose id is that id. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jira_build.h"
#include "jira_config.h"
#include "jira_hook.h"
#include "orderbus/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_SIG_TAKE 71 /* bytes of a webhook input read as its X-Hub-Signature */

static char s_path[64];         /* the scratch ZPL file, "" until the first input */
static ob_jira_config_t s_cfg;  /* large: not on the stack */
static ob_jira_config_t s_copy; /* validated again */

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

static void
s_cleanup(void)
{
    if (s_path[0])
        unlink(s_path);
}

static void
s_config(const uint8_t *data, size_t size)
{
    if (!s_path[0]) {
        snprintf(s_path, sizeof s_path, "%s/ob-fuzz-jira-%ld.cfg",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        atexit(s_cleanup);
    }
    FILE *file = fopen(s_path, "wb");
    s_require(file != NULL);
    s_require(size == 0 || fwrite(data, 1, size, file) == size);
    s_require(fclose(file) == 0);
    char prog[] = "orderbus-jira", flag[] = "--config";
    char *argv[] = {prog, flag, s_path, NULL};
    char err[OB_JIRA_CONFIG_ERR_MAX] = "";
    int rc = ob_jira_config_parse(&s_cfg, 3, argv, err, sizeof err);
    if (rc) {
        s_require(rc == OB_ERR_INVALID_ARGUMENT);
        s_require(err[0] && strnlen(err, sizeof err) < sizeof err);
        return;
    }
    s_require(s_cfg.oms_id >= 1 && s_cfg.status_count <= OB_JIRA_STATUSES_MAX);
    for (size_t i = 0; i < s_cfg.status_count; i++)
        for (size_t j = 0; j < i; j++)
            s_require(strcmp(s_cfg.status[i].type, s_cfg.status[j].type) != 0);
    memcpy(&s_copy, &s_cfg, sizeof s_copy);
    s_require(ob_jira_config_validate(&s_copy, err, sizeof err) == 0);
    s_require(memcmp(&s_copy, &s_cfg, sizeof s_copy) == 0);
}

/* A configuration that maps everything, for the builders and the parser. */
static void
s_fixed(void)
{
    ob_jira_config_defaults(&s_cfg);
    s_cfg.oms_id = 7;
    strcpy(s_cfg.project, "ORD");
    strcpy(s_cfg.user, "orderbus");
    strcpy(s_cfg.epic_type, "1");
    strcpy(s_cfg.item_type, "2");
    strcpy(s_cfg.epic_name_field, "customfield_1");
    strcpy(s_cfg.epic_link_field, "customfield_2");
    strcpy(s_cfg.internal_role, "Developers");
    strcpy(s_cfg.author_email, "desk@example.org");
    for (size_t i = 0; i < OB_JIRA_FIELD_COUNT; i++)
        snprintf(s_cfg.field[i], sizeof s_cfg.field[i], "cf_%zu", i);
    for (size_t i = 0; i < OB_JIRA_OPTION_COUNT; i++)
        snprintf(s_cfg.option[i], sizeof s_cfg.option[i], "%zu", i);
    s_cfg.status_count = 1;
    strcpy(s_cfg.status[0].type, "ready");
    strcpy(s_cfg.status[0].jira_status, "3");
    strcpy(s_cfg.status[0].transition, "31");
}

/* Checks a built body: 0 gives a JSON object whose string fields are single lines (the
   summary at least). */
static void
s_check_body(int rc, char *body, int issue)
{
    if (rc) {
        s_require(rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE || rc == -ENOMEM ||
                  rc == OB_JIRA_NOTHING);
        s_require(body == NULL);
        return;
    }
    json_t *v = json_loads(body, 0, NULL);
    s_require(json_is_object(v));
    if (issue) {
        const char *summary =
            json_string_value(json_object_get(json_object_get(v, "fields"), "summary"));
        s_require(summary && strlen(summary) <= OB_JIRA_SUMMARY_MAX);
        for (const char *p = summary; *p; p++)
            s_require((unsigned char)*p >= ' ');
    }
    json_decref(v);
    free(body);
}

static void
s_builders(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char *body = NULL;
    int rc = ob_jira_build_epic(&s_cfg, 1, text, size, &body);
    s_check_body(rc, body, 1);
    body = NULL;
    rc = ob_jira_build_item(&s_cfg, 1, 2, "ORD-1", "Ada", text, size, &body);
    s_check_body(rc, body, 1);
    body = NULL;
    rc = ob_jira_build_comment(&s_cfg, 9, text, size, &body);
    if (rc == 0)
        s_require(strstr(body, "[orderbus:7:m9]") != NULL);
    s_check_body(rc, body, 0);
    body = NULL;
    rc = ob_jira_build_failure(text, size, &body);
    s_check_body(rc, body, 0);
    char type[OB_JIRA_STATUS_TYPE_MAX];
    rc = ob_jira_item_status(text, size, type);
    s_require(rc == 0 || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE);
    char *owner = NULL;
    rc = ob_jira_owner_name(text, size, &owner);
    s_require(rc == 0 || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE);
    free(owner);
}

static void
s_hook(const uint8_t *data, size_t size)
{
    char sig[S_SIG_TAKE + 1] = "";
    size_t take = size < S_SIG_TAKE ? size : S_SIG_TAKE;
    memcpy(sig, data, take);
    sig[take] = '\0';
    const uint8_t secret[] = "0123456789abcdef";
    int rc = ob_jira_hook_verify(secret, sizeof secret - 1, (const char *)data, size, sig, sig);
    s_require(rc == 0 || rc == OB_ERR_FORBIDDEN);
    ob_jira_command_t cmd;
    const char *why = NULL;
    rc = ob_jira_hook_parse(&s_cfg, (const char *)data, size, &cmd, &why);
    if (rc == OB_JIRA_IGNORED) {
        s_require(why != NULL && why[0]);
        return;
    }
    if (rc) {
        s_require(rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE || rc == -ENOMEM);
        return;
    }
    size_t idlen = strlen(cmd.id);
    s_require(idlen <= OB_JIRA_COMMAND_ID_MAX && !strncmp(cmd.id, "jira-", 5));
    s_require(
        strspn(cmd.id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") ==
        idlen);
    if (cmd.comment_id[0]) { /* an edit: completed with its message, as jira_http.c does */
        s_require(!strcmp(cmd.type, "command.edit_message") && cmd.project_id == 0);
        rc = ob_jira_hook_edit(&cmd, 1);
        if (rc) {
            s_require(rc == -ENOMEM);
            ob_jira_command_clear(&cmd);
            return;
        }
    } else
        s_require(cmd.project_id >= 1);
    json_t *v = json_loadb(cmd.body, cmd.body_len, JSON_REJECT_DUPLICATES, NULL);
    s_require(json_is_object(v));
    s_require(!strcmp(json_string_value(json_object_get(v, "id")), cmd.id));
    json_decref(v);
    ob_jira_command_clear(&cmd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        s_config(data + 1, size - 1);
        break;
    case 1:
        s_fixed();
        s_builders(data + 1, size - 1);
        break;
    default:
        s_fixed();
        s_hook(data + 1, size - 1);
        break;
    }
    return 0;
}
