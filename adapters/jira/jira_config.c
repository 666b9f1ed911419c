/*  ob_jira_config: the adapter's option table and its own checks. See jira_config.h.

    The `status` rows of the table point into cfg->status[0]: that is where the --status-*
    flags write. A file's `status` sections are the table's repeated section (options.h):
    each goes into its own slot at the same offsets, as orderbus-webhook's targets. */
#include "jira_config.h"

#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"

#define S_ADAPTER "adapter"
#define S_BROKER "broker"
#define S_JIRA "jira"
#define S_FIELDS "fields"
#define S_OPTIONS_SECTION "options"
#define S_STATUS "status"
#define S_BLANKS " \t\r\n"
#define S_FIELD(name) offsetof(ob_jira_config_t, name), sizeof(((ob_jira_config_t *)0)->name)
#define S_STATUS_FIELD(name)                                                                       \
    offsetof(ob_jira_config_t, status[0].name), sizeof(((ob_jira_config_t *)0)->status[0].name)
#define S_X_FIELD_ROW(e, key, flag, help)                                                          \
    {S_FIELDS, key, flag, OB_OPTION_OPTSTRING, S_FIELD(field[e]), 0, 0, "Jira field id: " help "."},
#define S_X_OPTION_ROW(e, key, flag, value)                                                        \
    {S_OPTIONS_SECTION,                                                                            \
     key,                                                                                          \
     flag,                                                                                         \
     OB_OPTION_OPTSTRING,                                                                          \
     S_FIELD(option[e]),                                                                           \
     0,                                                                                            \
     0,                                                                                            \
     "Jira option id of the select for the Marketplace value '" value "'."},

/* The Marketplace's status types an OMS may set (COMMANDS.md 1.1: not "created"). */
static const char *const s_status_types[] = {
    "registered", "in_progress", "waiting_for_response", "approved", "rejected", "closed", "ready",
};

static const ob_option_t s_options[] = {
    {S_ADAPTER, "oms_id", "--oms-id", OB_OPTION_COUNT, S_FIELD(oms_id), 0, OB_JIRA_OMS_ID_MAX,
     "The OMS whose orders the project keeps: events of topic oms.ID come in,\n"
     "commands go to mp.ID. Required."},
    {S_ADAPTER, "listen", "--listen", OB_OPTION_STRING, S_FIELD(listen), 0, 0,
     "HTTP address of the Jira webhook endpoint (POST /jira/webhook), /metrics and\n"
     "/healthz: IPV4:PORT. Port 0 takes a free one (see --listen-file)."},
    {S_ADAPTER, "listen_file", "--listen-file", OB_OPTION_STRING, S_FIELD(listen_file), 0, 0,
     "File to which the adapter writes the address it bound (IPV4:PORT, a line) once it\n"
     "serves: written to FILE.tmp and renamed. Unset: no file."},
    {S_ADAPTER, "data_dir", "--data-dir", OB_OPTION_STRING, S_FIELD(data_dir), 0, 0,
     "Directory of the adapter's LMDB: the Marketplace-to-Jira id map. Required."},
    {S_ADAPTER, "secret_file", "--secret-file", OB_OPTION_STRING, S_FIELD(secret_file), 0, 0,
     "File of the webhook secret (a line, at least 16 bytes): Jira signs its webhooks\n"
     "with it (X-Hub-Signature: sha256=...), or, for a Jira that cannot sign, the\n"
     "webhook URL carries it as ?secret=... Required."},
    {S_ADAPTER, "author_email", "--author-email", OB_OPTION_OPTSTRING, S_FIELD(author_email), 0, 0,
     "E-mail sent as the author of a Jira comment whose author shows no e-mail (the\n"
     "Marketplace requires one). Unset: such a comment is not sent."},
    {S_BROKER, "endpoint", "--broker", OB_OPTION_STRING, S_FIELD(endpoint), 0, 0,
     "The broker's ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)."},
    {S_BROKER, "cert", "--cert", OB_OPTION_STRING, S_FIELD(cert), 0, 0,
     "CURVE: the adapter's certificate (zcert; FILE_secret holds the secret key). With\n"
     "--broker-cert; neither for plaintext. Its key needs subscribe = oms.ID and\n"
     "publish = mp.ID in the broker's permissions file."},
    {S_BROKER, "broker_cert", "--broker-cert", OB_OPTION_STRING, S_FIELD(broker_cert), 0, 0,
     "CURVE: the broker's public certificate."},
    {S_JIRA, "url", "--jira-url", OB_OPTION_STRING, S_FIELD(url), 0, 0,
     "Jira's base URL, http(s)://HOST[:PORT][/CONTEXT], without /rest/api/2. Required."},
    {S_JIRA, "user", "--jira-user", OB_OPTION_STRING, S_FIELD(user), 0, 0,
     "The Jira user the adapter acts as (its name). Its writes are never sent back to\n"
     "the Marketplace. Required, with a PAT too."},
    {S_JIRA, "token_file", "--jira-token-file", OB_OPTION_STRING, S_FIELD(token_file), 0, 0,
     "File of the user's API token or password (a line): basic auth. Or --jira-pat-file."},
    {S_JIRA, "pat_file", "--jira-pat-file", OB_OPTION_STRING, S_FIELD(pat_file), 0, 0,
     "File of the user's personal access token (a line): bearer auth."},
    {S_JIRA, "project", "--jira-project", OB_OPTION_STRING, S_FIELD(project), 0, 0,
     "The Jira project's key. Required."},
    {S_JIRA, "epic_type", "--jira-epic-type", OB_OPTION_STRING, S_FIELD(epic_type), 0, 0,
     "Issue type id of a Marketplace project's epic. Required."},
    {S_JIRA, "item_type", "--jira-item-type", OB_OPTION_STRING, S_FIELD(item_type), 0, 0,
     "Issue type id of a project item's issue. Required."},
    {S_JIRA, "epic_name_field", "--jira-epic-name-field", OB_OPTION_STRING,
     S_FIELD(epic_name_field), 0, 0, "Field id of Epic Name (customfield_N). Required."},
    {S_JIRA, "epic_link_field", "--jira-epic-link-field", OB_OPTION_STRING,
     S_FIELD(epic_link_field), 0, 0, "Field id of Epic Link (customfield_N). Required."},
    {S_JIRA, "internal_role", "--jira-internal-role", OB_OPTION_OPTSTRING, S_FIELD(internal_role),
     0, 0,
     "Project role an internal Marketplace message's comment is restricted to. Unset:\n"
     "internal messages are not copied."},
    {S_JIRA, "timeout", "--jira-timeout", OB_OPTION_DURATION, S_FIELD(timeout_ms),
     OB_JIRA_TIMEOUT_MS_MIN, OB_JIRA_TIMEOUT_MS_MAX,
     "Longest Jira request, connecting included; a request over it is retried."},
    {S_JIRA, "backoff", "--jira-backoff", OB_OPTION_DURATION, S_FIELD(backoff_ms),
     OB_JIRA_BACKOFF_MS_MIN, OB_JIRA_BACKOFF_MAX_MS_MAX,
     "Delay after the first failed request (5xx, 429, timeout), doubled after each."},
    {S_JIRA, "backoff_max", "--jira-backoff-max", OB_OPTION_DURATION, S_FIELD(backoff_max_ms),
     OB_JIRA_BACKOFF_MS_MIN, OB_JIRA_BACKOFF_MAX_MS_MAX,
     "Longest delay between two requests, a Retry-After included."},
    OB_JIRA_FIELDS(S_X_FIELD_ROW) OB_JIRA_OPTIONS(S_X_OPTION_ROW){
        S_STATUS, "type", "--status-type", OB_OPTION_STRING, S_STATUS_FIELD(type), 0, 0,
        "A Marketplace status type: registered, in_progress, waiting_for_response,\n"
        "approved, rejected, closed or ready. One 'status' section per type; the\n"
        "--status-* options set the first."},
    {S_STATUS, "value", "--status-value", OB_OPTION_OPTSTRING, S_STATUS_FIELD(value), 0, 0,
     "The status value sent with it. Unset: the Jira status's name."},
    {S_STATUS, "jira_status", "--status-jira-status", OB_OPTION_OPTSTRING,
     S_STATUS_FIELD(jira_status), 0, 0,
     "The Jira status id that means this type: an issue moved to it by a person sets\n"
     "the item's status. Unset: not sent back."},
    {S_STATUS, "transition", "--status-transition", OB_OPTION_OPTSTRING, S_STATUS_FIELD(transition),
     0, 0,
     "The Jira transition id applied when the item gets this type in the Marketplace.\n"
     "Unset: the issue is left as it is."},
};

#define S_OPTION_COUNT (sizeof s_options / sizeof s_options[0])
#define S_TYPE_COUNT (sizeof s_status_types / sizeof s_status_types[0])

static const ob_options_repeat_t s_statuses = {S_STATUS, offsetof(ob_jira_config_t, status[0]),
                                               sizeof(ob_jira_status_t), OB_JIRA_STATUSES_MAX,
                                               offsetof(ob_jira_config_t, status_count)};

static const ob_options_t s_spec = {.table = s_options,
                                    .count = S_OPTION_COUNT,
                                    .file_max = OB_JIRA_CONFIG_FILE_MAX,
                                    .repeat = &s_statuses};

void
ob_jira_config_defaults(ob_jira_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "%s", OB_JIRA_LISTEN_DEFAULT);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", OB_ENDPOINT_DEFAULT);
    cfg->timeout_ms = OB_JIRA_TIMEOUT_MS_DEFAULT;
    cfg->backoff_ms = OB_JIRA_BACKOFF_MS_DEFAULT;
    cfg->backoff_max_ms = OB_JIRA_BACKOFF_MAX_MS_DEFAULT;
}

int
ob_jira_config_listen(const ob_jira_config_t *cfg, char host[OB_JIRA_ADDR_MAX], uint16_t *ret_port)
{
    return ob_options_listen(cfg->listen, host, OB_JIRA_ADDR_MAX, ret_port);
}

/* Returns 1 if url (borrowed) is http(s)://, a host, and no byte that cannot be sent in a
   request line (controls, spaces, non-ASCII), and does not end with '/'. */
static int
s_url_valid(const char *url)
{
    size_t scheme = !strncmp(url, "http://", 7) ? 7 : !strncmp(url, "https://", 8) ? 8 : 0;
    size_t len = strlen(url);
    if (!scheme || !url[scheme] || url[scheme] == '/' || url[len - 1] == '/')
        return 0;
    for (const char *p = url; *p; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    return 1;
}

/* Returns 1 if text (borrowed) is 1.. bytes of [A-Za-z0-9_-]: an id or key that goes into a
   URL path, a JSON body and JQL unquoted. */
static int
s_token_valid(const char *text)
{
    if (!*text)
        return 0;
    for (const char *p = text; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '_' && *p != '-')
            return 0;
    return 1;
}

/* Checks the id-like values: each required one given, each given one a token. */
static int
s_check_tokens(const ob_jira_config_t *cfg, char *errbuf, size_t errlen)
{
    const struct {
        const char *key;
        const char *value;
        int required;
    } ids[] = {
        {"jira/project", cfg->project, 1},
        {"jira/epic_type", cfg->epic_type, 1},
        {"jira/item_type", cfg->item_type, 1},
        {"jira/epic_name_field", cfg->epic_name_field, 1},
        {"jira/epic_link_field", cfg->epic_link_field, 1},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if ((ids[i].required || ids[i].value[0]) && !s_token_valid(ids[i].value))
            return ob_options_fail(errbuf, errlen, "%s: %s", ids[i].key,
                                   ids[i].value[0] ? "not [A-Za-z0-9_-]" : "required");
    for (size_t i = 0; i < OB_JIRA_FIELD_COUNT; i++)
        if (cfg->field[i][0] && !s_token_valid(cfg->field[i]))
            return ob_options_fail(errbuf, errlen, "fields: '%s' is not a field id", cfg->field[i]);
    for (size_t i = 0; i < OB_JIRA_OPTION_COUNT; i++)
        if (cfg->option[i][0] && !s_token_valid(cfg->option[i]))
            return ob_options_fail(errbuf, errlen, "options: '%s' is not an option id",
                                   cfg->option[i]);
    return 0;
}

/* Checks the workflow map: known types, each once, each row doing something, ids tokens,
   a Jira status meaning one type only. */
static int
s_check_statuses(const ob_jira_config_t *cfg, char *errbuf, size_t errlen)
{
    if (cfg->status_count > OB_JIRA_STATUSES_MAX)
        return ob_options_fail(errbuf, errlen, "more than %d statuses", OB_JIRA_STATUSES_MAX);
    for (size_t i = 0; i < cfg->status_count; i++) {
        const ob_jira_status_t *row = &cfg->status[i];
        size_t t = 0;
        while (t < S_TYPE_COUNT && strcmp(row->type, s_status_types[t]))
            t++;
        if (t == S_TYPE_COUNT)
            return ob_options_fail(errbuf, errlen,
                                   "status %zu: type '%s' is not a status type an OMS may set",
                                   i + 1, row->type);
        if (!row->jira_status[0] && !row->transition[0])
            return ob_options_fail(errbuf, errlen, "status %s: neither jira_status nor transition",
                                   row->type);
        if ((row->jira_status[0] && !s_token_valid(row->jira_status)) ||
            (row->transition[0] && !s_token_valid(row->transition)))
            return ob_options_fail(errbuf, errlen, "status %s: an id is not [A-Za-z0-9_-]",
                                   row->type);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(cfg->status[j].type, row->type))
                return ob_options_fail(errbuf, errlen, "status %s: given twice", row->type);
            if (row->jira_status[0] && !strcmp(cfg->status[j].jira_status, row->jira_status))
                return ob_options_fail(errbuf, errlen, "status %s: Jira status %s already means %s",
                                       row->type, row->jira_status, cfg->status[j].type);
        }
    }
    return 0;
}

int
ob_jira_config_validate(ob_jira_config_t *cfg, char *errbuf, size_t errlen)
{
    char host[OB_JIRA_ADDR_MAX];
    uint16_t port = 0;
    int rc = 0;
    if (cfg->oms_id == 0)
        return ob_options_fail(errbuf, errlen, "adapter/oms_id: required (1 or more)");
    if (ob_jira_config_listen(cfg, host, &port))
        return ob_options_fail(errbuf, errlen, "listen '%s': not IPV4:PORT (port 0..65535)",
                               cfg->listen);
    if (!cfg->cert[0] != !cfg->broker_cert[0])
        return ob_options_fail(errbuf, errlen, "broker: cert and broker_cert go together");
    if (!cfg->data_dir[0])
        return ob_options_fail(errbuf, errlen, "adapter/data_dir: required");
    if (!cfg->secret_file[0])
        return ob_options_fail(errbuf, errlen, "adapter/secret_file: required");
    if (!s_url_valid(cfg->url))
        return ob_options_fail(errbuf, errlen,
                               "jira/url '%s': not http(s)://HOST... of printable ASCII without "
                               "a trailing /",
                               cfg->url);
    if (!cfg->user[0])
        return ob_options_fail(errbuf, errlen, "jira/user: required");
    if (!cfg->token_file[0] == !cfg->pat_file[0])
        return ob_options_fail(errbuf, errlen, "jira: give one of token_file and pat_file");
    if ((rc = ob_options_check_all(&s_spec, cfg, errbuf, errlen)))
        return rc;
    if (cfg->backoff_ms > cfg->backoff_max_ms)
        return ob_options_fail(errbuf, errlen, "jira: backoff is longer than backoff_max");
    if ((rc = s_check_tokens(cfg, errbuf, errlen)))
        return rc;
    return s_check_statuses(cfg, errbuf, errlen);
}

int
ob_jira_config_parse(ob_jira_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    ob_jira_config_defaults(cfg);
    int rc = ob_options_parse(&s_spec, cfg, argc, argv, &cfg->help, &cfg->version, cfg->config_file,
                              sizeof cfg->config_file, errbuf, errlen);
    if (rc || cfg->help || cfg->version)
        return rc;
    if (cfg->status_count == 0 && cfg->status[0].type[0]) /* a status from the flags alone */
        cfg->status_count = 1;
    return ob_jira_config_validate(cfg, errbuf, errlen);
}

/* Reads the one-line secret of path into buf (size bytes): trailing blanks dropped, no
   other line. Returns 0 with *ret_len, or an error with a message naming what and path. */
static int
s_read_line(const char *what, const char *path, char *buf, size_t size, size_t *ret_len,
            char *errbuf, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ob_file_read(path, size - 1, &text, &len);
    if (rc) {
        ob_options_fail(errbuf, errlen, "%s %s: %s", what, path,
                        rc == OB_ERR_TOO_LARGE ? "too large" : ob_strerror(rc));
        return rc;
    }
    while (len && strchr(S_BLANKS, text[len - 1]))
        len--;
    rc = OB_ERR_INVALID_ARGUMENT;
    if (len == 0 || memchr(text, '\n', len) || memchr(text, '\0', len))
        ob_options_fail(errbuf, errlen, "%s %s: not one non-empty line", what, path);
    else {
        memcpy(buf, text, len);
        buf[len] = '\0';
        *ret_len = len;
        rc = 0;
    }
    sodium_memzero(text, len);
    free(text);
    return rc;
}

int
ob_jira_config_read_secrets(const ob_jira_config_t *cfg, ob_jira_secrets_t *ret_secrets,
                            char *errbuf, size_t errlen)
{
    char token[OB_JIRA_SECRET_FILE_MAX];
    char pair[OB_JIRA_SECRET_FILE_MAX + OB_JIRA_NAME_MAX];
    size_t len = 0;
    int rc = 0;
    int pat = cfg->pat_file[0] != '\0';
    if ((rc = s_read_line(pat ? "jira/pat_file" : "jira/token_file",
                          pat ? cfg->pat_file : cfg->token_file, token, sizeof token, &len, errbuf,
                          errlen)))
        goto out;
    if (pat)
        snprintf(ret_secrets->auth, sizeof ret_secrets->auth, "Bearer %s", token);
    else {
        /* user (< OB_JIRA_NAME_MAX) and token (< OB_JIRA_SECRET_FILE_MAX) fit pair, and the
           base64 of pair fits auth after "Basic " (OB_JIRA_AUTH_MAX) */
        int n = snprintf(pair, sizeof pair, "%s:%s", cfg->user, token);
        memcpy(ret_secrets->auth, "Basic ", 6);
        sodium_bin2base64(ret_secrets->auth + 6, sizeof ret_secrets->auth - 6,
                          (const unsigned char *)pair, (size_t)n, sodium_base64_VARIANT_ORIGINAL);
    }
    if ((rc = s_read_line("adapter/secret_file", cfg->secret_file, (char *)ret_secrets->hook,
                          sizeof ret_secrets->hook, &ret_secrets->hook_len, errbuf, errlen)))
        goto out;
    if (ret_secrets->hook_len < OB_JIRA_SECRET_MIN) {
        rc = ob_options_fail(errbuf, errlen, "adapter/secret_file %s: shorter than %d bytes",
                             cfg->secret_file, OB_JIRA_SECRET_MIN);
        goto out;
    }
out:
    sodium_memzero(token, sizeof token);
    sodium_memzero(pair, sizeof pair);
    if (rc)
        ob_jira_secrets_wipe(ret_secrets);
    return rc;
}

void
ob_jira_secrets_wipe(ob_jira_secrets_t *secrets)
{
    sodium_memzero(secrets, sizeof *secrets);
}

const ob_jira_status_t *
ob_jira_config_status_by_type(const ob_jira_config_t *cfg, const char *type)
{
    for (size_t i = 0; i < cfg->status_count; i++)
        if (!strcmp(cfg->status[i].type, type))
            return &cfg->status[i];
    return NULL;
}

const ob_jira_status_t *
ob_jira_config_status_by_jira(const ob_jira_config_t *cfg, const char *jira_status)
{
    for (size_t i = 0; i < cfg->status_count; i++)
        if (cfg->status[i].jira_status[0] && !strcmp(cfg->status[i].jira_status, jira_status))
            return &cfg->status[i];
    return NULL;
}

void
ob_jira_config_usage(FILE *out, const char *prog)
{
    static ob_jira_config_t defaults; /* large: not on the stack */
    ob_jira_config_defaults(&defaults);
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    fprintf(out,
            "NAME\n"
            "    %s - the orderbus Jira adapter: one OMS's orders kept in step with\n"
            "    a Jira project, both ways\n\n"
            "SYNOPSIS\n"
            "    %s [--config FILE] [OPTION]...\n\n"
            "DESCRIPTION\n"
            "    A durable subscription to oms.ID: project.created makes an epic,\n"
            "    project_item.created an issue linked to it with the mapped fields,\n"
            "    project_item.status_changed applies the mapped transition, message.posted\n"
            "    and message.edited add or edit a comment (a user_direct message's content\n"
            "    is never copied; an internal one only as a comment restricted to\n"
            "    jira/internal_role). Jira's webhooks, POSTed to /jira/webhook, turn a\n"
            "    person's status change into an update_project_item command, a person's\n"
            "    comment into a post_message command and its edit into an edit_message\n"
            "    command on mp.ID; the adapter's own writes are never sent back.\n\n"
            "OPTIONS\n"
            "    --config FILE\n"
            "        Read settings from FILE, a ZPL file with the sections '%s', '%s',\n"
            "        '%s', '%s', '%s' and one '%s' section per status type\n"
            "        (deploy/orderbus-jira.cfg); options given on the command line\n"
            "        override it.\n\n",
            prog, prog, S_ADAPTER, S_BROKER, S_JIRA, S_FIELDS, S_OPTIONS_SECTION, S_STATUS);
    ob_options_print(out, &s_spec, &defaults);
    fprintf(out,
            "    -h, --help\n"
            "        Print this text and exit.\n\n"
            "    --version\n"
            "        Print the version (%s) and exit.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure, 2 on a usage error.\n",
            OB_VERSION_STRING);
}
