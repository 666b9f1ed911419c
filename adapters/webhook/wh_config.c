/*  ob_wh_config: the adapter's option table and its own checks. See wh_config.h.

    The `target` rows of the table point into cfg->target[0]: that is where the --target-*
    flags write, and where --help reads the defaults. A file's `target` sections are the
    table's repeated section (options.h): each goes into its own slot at the same offsets. */
#include "wh_config.h"

#include <czmq.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/orderbus.h"
#include "orderbus/pattern.h"
#include "wh_body.h"

#define S_WEBHOOK "webhook"
#define S_BROKER "broker"
#define S_TARGET "target"
#define S_SEPARATORS " \t,"
#define S_FIELD(name) offsetof(ob_wh_config_t, name), sizeof(((ob_wh_config_t *)0)->name)
#define S_TARGET_FIELD(name)                                                                       \
    offsetof(ob_wh_config_t, target[0].name), sizeof(((ob_wh_config_t *)0)->target[0].name)

static const ob_option_t s_options[] = {
    {S_WEBHOOK, "listen", "--listen", OB_OPTION_STRING, S_FIELD(listen), 0, 0,
     "HTTP address of /metrics and /healthz: IPV4:PORT, loopback unless the metrics\n"
     "are to be read from elsewhere. Port 0 takes a free one (see --listen-file)."},
    {S_WEBHOOK, "listen_file", "--listen-file", OB_OPTION_STRING, S_FIELD(listen_file), 0, 0,
     "File to which the adapter writes the address it bound (IPV4:PORT, a line) once it\n"
     "serves: written to FILE.tmp and renamed. Unset: no file."},
    {S_BROKER, "endpoint", "--broker", OB_OPTION_STRING, S_FIELD(endpoint), 0, 0,
     "The broker's ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)."},
    {S_BROKER, "cert", "--cert", OB_OPTION_STRING, S_FIELD(cert), 0, 0,
     "CURVE: the adapter's certificate (zcert; FILE_secret holds the secret key). With\n"
     "--broker-cert; neither for plaintext. Its key needs subscribe = the targets'\n"
     "patterns and publish = webhook-dlq.* in the broker's permissions file."},
    {S_BROKER, "broker_cert", "--broker-cert", OB_OPTION_STRING, S_FIELD(broker_cert), 0, 0,
     "CURVE: the broker's public certificate."},
    {S_TARGET, "name", "--target-name", OB_OPTION_STRING, S_TARGET_FIELD(name), 0, 0,
     "The target's name, [a-z0-9_-]: its durable subscription is webhook-NAME and its\n"
     "dead letters go to topic webhook-dlq.NAME. The --target-* options set the first\n"
     "target."},
    {S_TARGET, "url", "--target-url", OB_OPTION_STRING, S_TARGET_FIELD(url), 0, 0,
     "URL the target's events are POSTed to: http://... or https://..."},
    {S_TARGET, "secret_file", "--target-secret-file", OB_OPTION_STRING, S_TARGET_FIELD(secret_file),
     0, 0,
     "File of the target's signing secrets, whsec_ and base64 of 24 to 64 bytes, one a\n"
     "line, the current one first: each delivery carries a signature by each (key\n"
     "rotation). Read once at start."},
    {S_TARGET, "patterns", "--target-patterns", OB_OPTION_STRING, S_TARGET_FIELD(patterns_text), 0,
     0,
     "Topic patterns of the target's subscription, separated by spaces or commas (in\n"
     "a file, quote a value with spaces): oms.1, oms.*, mp.>."},
    {S_TARGET, "types", "--target-types", OB_OPTION_OPTSTRING, S_TARGET_FIELD(types_text), 0, 0,
     "Event types the target receives, separated by spaces or commas; off: every\n"
     "type."},
    {S_TARGET, "timeout", "--target-timeout", OB_OPTION_DURATION, S_TARGET_FIELD(timeout_ms),
     OB_WH_TIMEOUT_MS_MIN, OB_WH_TIMEOUT_MS_MAX,
     "Longest POST, connecting included; a POST over it is retried."},
    {S_TARGET, "max_attempts", "--target-max-attempts", OB_OPTION_UINT,
     S_TARGET_FIELD(max_attempts), 0, OB_MAX_ATTEMPTS_MAX,
     "POSTs of one event (5xx, 408, 429, timeouts) before it is dead-lettered; 0 never\n"
     "gives up."},
    {S_TARGET, "backoff", "--target-backoff", OB_OPTION_DURATION, S_TARGET_FIELD(backoff_ms),
     OB_WH_BACKOFF_MS_MIN, OB_WH_BACKOFF_MAX_MS_MAX,
     "Delay after the first failed POST of an event, doubled after each further one\n"
     "(with jitter: a draw between half and all of it)."},
    {S_TARGET, "backoff_max", "--target-backoff-max", OB_OPTION_DURATION,
     S_TARGET_FIELD(backoff_max_ms), OB_WH_BACKOFF_MS_MIN, OB_WH_BACKOFF_MAX_MS_MAX,
     "Longest delay between two POSTs of an event, a Retry-After included."},
    {S_TARGET, "commands", "--target-commands", OB_OPTION_UINT, S_TARGET_FIELD(commands_oms), 0,
     OB_WH_OMS_ID_MAX,
     "The way back: an OMS id whose topic mp.<id> the target may post commands to\n"
     "(gateway/COMMANDS.md), as POST /targets/NAME/commands/ID on the listen address,\n"
     "signed with the target's secrets the Standard Webhooks way. 0: off. With CURVE\n"
     "the adapter's key needs publish = mp.<id>."},
};

#define S_OPTIONS (sizeof s_options / sizeof s_options[0])

static const ob_options_repeat_t s_targets = {S_TARGET, offsetof(ob_wh_config_t, target[0]),
                                              sizeof(ob_wh_target_t), OB_WH_TARGETS_MAX,
                                              offsetof(ob_wh_config_t, target_count)};

static const ob_options_t s_spec = {.table = s_options,
                                    .count = S_OPTIONS,
                                    .file_max = OB_WH_CONFIG_FILE_MAX,
                                    .repeat = &s_targets};

/* The defaults of one target. */
static void
s_target_defaults(ob_wh_target_t *target)
{
    memset(target, 0, sizeof *target);
    target->timeout_ms = OB_WH_TIMEOUT_MS_DEFAULT;
    target->max_attempts = OB_WH_ATTEMPTS_DEFAULT;
    target->backoff_ms = OB_WH_BACKOFF_MS_DEFAULT;
    target->backoff_max_ms = OB_WH_BACKOFF_MAX_MS_DEFAULT;
}

void
ob_wh_config_defaults(ob_wh_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "%s", OB_WH_LISTEN_DEFAULT);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", OB_ENDPOINT_DEFAULT);
    for (size_t i = 0; i < OB_WH_TARGETS_MAX; i++)
        s_target_defaults(&cfg->target[i]);
}

int
ob_wh_config_listen(const ob_wh_config_t *cfg, char host[OB_WH_ADDR_MAX], uint16_t *ret_port)
{
    return ob_options_listen(cfg->listen, host, OB_WH_ADDR_MAX, ret_port);
}

/* Splits text (borrowed) at spaces, tabs and commas into at most max items of at most
   item_size - 1 bytes each, written item_size apart from items. Returns the count, or -1
   (more than max items), or -2 (an item too long). */
static long
s_split(const char *text, char *items, size_t max, size_t item_size)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, S_SEPARATORS);
        if (!*p)
            break;
        size_t len = strcspn(p, S_SEPARATORS);
        if (count == max)
            return -1;
        if (len >= item_size)
            return -2;
        memcpy(items + count * item_size, p, len);
        items[count * item_size + len] = '\0';
        count++;
        p += len;
    }
    return (long)count;
}

/* Splits and checks the patterns and types of target number n (1-based). Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
static int
s_target_lists(ob_wh_target_t *target, size_t n, char *errbuf, size_t errlen)
{
    long count = s_split(target->patterns_text, &target->patterns[0][0], OB_SUB_PATTERNS_MAX,
                         sizeof target->patterns[0]);
    if (count == -1)
        return ob_options_fail(errbuf, errlen, "target %s: more than %d patterns", target->name,
                               OB_SUB_PATTERNS_MAX);
    if (count == -2)
        return ob_options_fail(errbuf, errlen, "target %s: a pattern over %d bytes", target->name,
                               OB_TOPIC_MAX);
    if (count == 0)
        return ob_options_fail(errbuf, errlen, "target %zu (%s): no patterns", n, target->name);
    target->pattern_count = (size_t)count;
    for (size_t i = 0; i < target->pattern_count; i++)
        if (!ob_pattern_valid(target->patterns[i], strlen(target->patterns[i])))
            return ob_options_fail(errbuf, errlen, "target %s: pattern '%s' is not valid",
                                   target->name, target->patterns[i]);
    count = s_split(target->types_text, &target->types[0][0], OB_SUB_TYPES_MAX,
                    sizeof target->types[0]);
    if (count == -1)
        return ob_options_fail(errbuf, errlen, "target %s: more than %d types", target->name,
                               OB_SUB_TYPES_MAX);
    if (count == -2)
        return ob_options_fail(errbuf, errlen, "target %s: a type over %d bytes", target->name,
                               OB_EVENT_TYPE_MAX);
    target->type_count = (size_t)count;
    for (size_t i = 0; i < target->type_count; i++)
        if (!ob_event_type_valid(target->types[i], strlen(target->types[i])))
            return ob_options_fail(errbuf, errlen,
                                   "target %s: type '%s' is not valid ([a-z0-9_.-])", target->name,
                                   target->types[i]);
    return 0;
}

/* Returns 1 if url (borrowed) is http(s)://, a host, and no byte that cannot be sent in a
   request line (controls, spaces, non-ASCII). */
static int
s_url_valid(const char *url)
{
    size_t scheme = !strncmp(url, "http://", 7) ? 7 : !strncmp(url, "https://", 8) ? 8 : 0;
    if (!scheme || !url[scheme] || url[scheme] == '/')
        return 0;
    for (const char *p = url; *p; p++)
        if (*p <= ' ' || *p > '~')
            return 0;
    return 1;
}

/* Checks target number i of cfg (0-based) and splits its lists. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
static int
s_check_target(ob_wh_config_t *cfg, size_t i, char *errbuf, size_t errlen)
{
    ob_wh_target_t *target = &cfg->target[i];
    size_t n = i + 1;
    if (!target->name[0])
        return ob_options_fail(errbuf, errlen, "target %zu: no name", n);
    if (!ob_wh_target_valid(target->name))
        return ob_options_fail(errbuf, errlen,
                               "target %zu: name '%s' is not 1 to %d bytes of [a-z0-9_-]", n,
                               target->name, OB_WH_NAME_MAX);
    for (size_t j = 0; j < i; j++)
        if (!strcmp(cfg->target[j].name, target->name))
            return ob_options_fail(errbuf, errlen, "target %zu: name '%s' repeats target %zu's", n,
                                   target->name, j + 1);
    if (!s_url_valid(target->url))
        return ob_options_fail(errbuf, errlen,
                               "target %s: url '%s' is not http(s)://HOST... of printable ASCII",
                               target->name, target->url);
    if (!target->secret_file[0])
        return ob_options_fail(errbuf, errlen, "target %s: no secret_file", target->name);
    if (target->backoff_ms > target->backoff_max_ms)
        return ob_options_fail(errbuf, errlen, "target %s: backoff is longer than backoff_max",
                               target->name);
    return s_target_lists(target, n, errbuf, errlen);
}

int
ob_wh_config_validate(ob_wh_config_t *cfg, char *errbuf, size_t errlen)
{
    char host[OB_WH_ADDR_MAX];
    uint16_t port = 0;
    if (ob_wh_config_listen(cfg, host, &port))
        return ob_options_fail(errbuf, errlen, "listen '%s': not IPV4:PORT (port 0..65535)",
                               cfg->listen);
    if (!cfg->cert[0] != !cfg->broker_cert[0])
        return ob_options_fail(errbuf, errlen, "broker: cert and broker_cert go together");
    if (cfg->target_count == 0)
        return ob_options_fail(errbuf, errlen,
                               "no target: give a 'target' section or --target-name");
    if (cfg->target_count > OB_WH_TARGETS_MAX)
        return ob_options_fail(errbuf, errlen, "more than %d targets", OB_WH_TARGETS_MAX);
    /* Ranges first (the flags and ob_options_set check them, a caller filling the struct
       may not), then each target complete. */
    int rc = ob_options_check_all(&s_spec, cfg, errbuf, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < cfg->target_count; i++)
        if ((rc = s_check_target(cfg, i, errbuf, errlen)))
            return rc;
    return 0;
}

int
ob_wh_config_parse(ob_wh_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    ob_wh_config_defaults(cfg);
    int rc = ob_options_parse(&s_spec, cfg, argc, argv, &cfg->help, &cfg->version, cfg->config_file,
                              sizeof cfg->config_file, errbuf, errlen);
    if (rc || cfg->help || cfg->version)
        return rc;
    if (cfg->target_count == 0 && cfg->target[0].name[0]) /* a target from the flags alone */
        cfg->target_count = 1;
    return ob_wh_config_validate(cfg, errbuf, errlen);
}

int
ob_wh_config_read_secrets(ob_wh_config_t *cfg, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < cfg->target_count; i++) {
        ob_wh_target_t *target = &cfg->target[i];
        char *text = NULL;
        size_t len = 0;
        int rc = ob_file_read(target->secret_file, OB_WH_SECRET_FILE_MAX, &text, &len);
        if (rc == 0) {
            rc = ob_wh_secrets_parse(text, len, &target->secrets);
            sodium_memzero(text, len);
            free(text);
        }
        if (rc == 0)
            continue;
        char reason[OB_OPTIONS_ERR_MAX / 2];
        if (rc == OB_ERR_TOO_LARGE)
            snprintf(reason, sizeof reason, "over %d bytes, a line over %d or more than %d secrets",
                     OB_WH_SECRET_FILE_MAX, OB_WH_SECRET_TEXT_MAX, OB_WH_SECRETS_MAX);
        else if (rc == OB_ERR_INVALID_ARGUMENT || rc == OB_ERR_MISSING_FIELD)
            snprintf(reason, sizeof reason,
                     "not whsec_ secrets (base64 of %d to %d bytes), one a line",
                     OB_WH_SECRET_BYTES_MIN, OB_WH_SECRET_BYTES_MAX);
        else
            snprintf(reason, sizeof reason, "%s", ob_strerror(rc));
        ob_options_fail(errbuf, errlen, "target %s: secret_file %s: %s", target->name,
                        target->secret_file, reason);
        return rc;
    }
    return 0;
}

void
ob_wh_config_wipe(ob_wh_config_t *cfg)
{
    for (size_t i = 0; i < OB_WH_TARGETS_MAX; i++)
        ob_wh_secrets_wipe(&cfg->target[i].secrets);
}

ob_wh_policy_t
ob_wh_config_policy(const ob_wh_target_t *target)
{
    ob_wh_policy_t policy = {target->max_attempts, target->backoff_ms, target->backoff_max_ms};
    return policy;
}

void
ob_wh_config_usage(FILE *out, const char *prog)
{
    static ob_wh_config_t defaults; /* large: not on the stack */
    ob_wh_config_defaults(&defaults);
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    fprintf(out,
            "NAME\n"
            "    %s - the orderbus webhook adapter: events of the bus POSTed to\n"
            "    HTTP receivers, signed the Standard Webhooks way\n\n"
            "SYNOPSIS\n"
            "    %s [--config FILE] [OPTION]...\n\n"
            "DESCRIPTION\n"
            "    For each target, a durable subscription webhook-NAME (its patterns and\n"
            "    types) whose events are POSTed as JSON to the target's URL, in order per\n"
            "    topic, with the headers webhook-id (the same for every attempt of an\n"
            "    event: receivers deduplicate on it), webhook-timestamp and\n"
            "    webhook-signature (v1,BASE64 of HMAC-SHA256 over id.timestamp.body, one\n"
            "    per secret). A 2xx answer acks the event; a 5xx, 408, 429, timeout or\n"
            "    failed connection is retried with exponential backoff and jitter (or\n"
            "    after the answer's Retry-After); another 4xx, or max_attempts failed\n"
            "    POSTs, publishes a dead letter to topic webhook-dlq.NAME (status and the\n"
            "    start of the answer) and acks. Delivery is at least once.\n\n"
            "    The way back: a target with `commands` = OMS_ID lets its OMS POST command\n"
            "    bodies (gateway/COMMANDS.md) to /targets/NAME/commands/OMS_ID on the listen\n"
            "    address, signed with the target's secrets the same way; each is published on\n"
            "    mp.OMS_ID (event id: the command's id) and answered once stored.\n\n"
            "OPTIONS\n"
            "    --config FILE\n"
            "        Read settings from FILE, a ZPL file with the sections '%s', '%s'\n"
            "        and one '%s' section per target (deploy/orderbus-webhook.cfg);\n"
            "        options given on the command line override it.\n\n",
            prog, prog, S_WEBHOOK, S_BROKER, S_TARGET);
    ob_options_print(out, &s_spec, &defaults);
    fprintf(out,
            "    -h, --help\n"
            "        Print this text and exit.\n\n"
            "    --version\n"
            "        Print the version (%s) and exit.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure, 2 on a usage error.\n\n"
            "EXAMPLE\n"
            "    %s --target-name oms1 --target-url https://oms.example.org/hooks \\\n"
            "        --target-secret-file /etc/orderbus/oms1.whsec --target-patterns oms.1\n",
            OB_VERSION_STRING, prog);
}
