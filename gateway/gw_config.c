/*  ob_gw_config: the gateway's option table and its own checks. See gw_config.h.

    The `oms` rows of the table point into cfg->oms[0]: that is where the --oms-* flags
    write, and where --help reads the defaults. A file's `oms` sections are the table's
    repeated section (options.h): each goes into its own slot at the same offsets. */
#include "gw_config.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"

#define S_GATEWAY "gateway"
#define S_BROKER "broker"
#define S_OMS "oms"
#define S_FIELD(name) offsetof(ob_gw_config_t, name), sizeof(((ob_gw_config_t *)0)->name)
#define S_OMS_FIELD(name)                                                                          \
    offsetof(ob_gw_config_t, oms[0].name), sizeof(((ob_gw_config_t *)0)->oms[0].name)

static const ob_option_t s_options[] = {
    {S_GATEWAY, "listen", "--listen", OB_OPTION_STRING, S_FIELD(listen), 0, 0,
     "HTTP address of /trigger/OMS_ID, /healthz, /readyz and /metrics: IPV4:PORT. Port 0\n"
     "takes a free one (see --listen-file). HTTPS with --tls-cert and --tls-key."},
    {S_GATEWAY, "listen_file", "--listen-file", OB_OPTION_STRING, S_FIELD(listen_file), 0, 0,
     "File to which the gateway writes the address it bound (IPV4:PORT, a line) once it\n"
     "serves: written to FILE.tmp and renamed. Unset: no file."},
    {S_GATEWAY, "data_dir", "--data-dir", OB_OPTION_STRING, S_FIELD(data_dir), 0, 0,
     "Directory of the gateway's LMDB environment: the feed cursors, the projects\n"
     "announced on the bus, the upstream connectors' command records and the owners\n"
     "of HTTP subscriptions (and the key of their handles, rest-handles.key), and\n"
     "the facade's view (its own LMDB environment in DATA_DIR/facade);\n"
     "created with mode 0700. One gateway per directory."},
    {S_GATEWAY, "max_connections", "--max-connections", OB_OPTION_UINT, S_FIELD(max_connections), 1,
     OB_GW_HTTP_CONNECTIONS_MAX,
     "Most HTTP connections at once; more wait unaccepted until one closes."},
    {S_GATEWAY, "http_timeout", "--http-timeout", OB_OPTION_UINT, S_FIELD(http_timeout_s), 1,
     OB_GW_HTTP_TIMEOUT_S_MAX, "Seconds an idle or slow HTTP connection is kept."},
    {S_GATEWAY, "tls_cert", "--tls-cert", OB_OPTION_STRING, S_FIELD(tls_cert), 0, 0,
     "HTTPS (GnuTLS): the PEM certificate, with its chain, that the gateway serves with\n"
     "--tls-key. Unset: plain HTTP."},
    {S_GATEWAY, "tls_key", "--tls-key", OB_OPTION_STRING, S_FIELD(tls_key), 0, 0,
     "HTTPS: the certificate's PEM private key (unencrypted; mode 0600), read once."},
    {S_GATEWAY, "tokens_file", "--tokens-file", OB_OPTION_STRING, S_FIELD(tokens_file), 0, 0,
     "REST API under /v1/: the bearer tokens file (ZPL: per client the hash of its\n"
     "token and its publish and subscribe patterns; orderbus-keys token NAME prints an\n"
     "entry). Read at start and again on SIGHUP. Unset: /v1/ answers 404."},
    {S_GATEWAY, "rest_body_max", "--rest-body-max", OB_OPTION_SIZE, S_FIELD(rest_body_max),
     OB_GW_REST_BODY_MIN, OB_GW_REST_BODY_MAX,
     "Largest body of a REST request (an event or a batch); more is answered 413."},
    {S_GATEWAY, "rest_rate", "--rest-rate", OB_OPTION_UINT, S_FIELD(rest_rate), 1, OB_GW_RATE_MAX,
     "REST requests per second one client (token) may sustain; more is answered 429\n"
     "with Retry-After."},
    {S_GATEWAY, "rest_burst", "--rest-burst", OB_OPTION_UINT, S_FIELD(rest_burst), 1,
     OB_GW_RATE_MAX, "REST requests one client may make at once after a pause."},
    {S_GATEWAY, "rest_streams_max", "--rest-streams-max", OB_OPTION_UINT, S_FIELD(rest_streams_max),
     1, OB_GW_STREAMS_MAX,
     "Server-Sent Event streams (GET /v1/topics/TOPIC/stream) one client may hold open\n"
     "at once; more are answered 429 with Retry-After."},
    {S_GATEWAY, "rest_waits_max", "--rest-waits-max", OB_OPTION_UINT, S_FIELD(rest_waits_max), 1,
     OB_GW_REST_WAITS_MAX,
     "Long-polls (subscription fetches with wait_ms) one client may have waiting at\n"
     "once; more are answered 429 with Retry-After."},
    {S_GATEWAY, "facade", "--facade", OB_OPTION_BOOL, S_FIELD(facade), 0, 0,
     "The Ordering API facade: the Marketplace's GET /api/v1/oms/OMS_ID/events,\n"
     "projects, project_items and messages, served from oms.OMS_ID, and its PATCH and\n"
     "POST of items and messages, made commands on mp.OMS_ID (README \"Ordering API\n"
     "facade\"), for each registered OMS; X-User-Token is a token of tokens_file whose\n"
     "subscribe patterns cover oms.OMS_ID (reads) and whose publish patterns match\n"
     "mp.OMS_ID (writes). Its view is kept in DATA_DIR/facade. Needs tokens_file."},
    {S_GATEWAY, "facade_wait", "--facade-wait", OB_OPTION_DURATION, S_FIELD(facade_wait_ms), 0,
     OB_GW_FACADE_WAIT_MS_MAX,
     "Ordering API facade (PATCH and POST under /api/v1/oms/, with --facade): how\n"
     "long a write waits for its command's outcome to answer as the Marketplace did;\n"
     "later, 202 with the command id (its outcome comes on oms.OMS_ID). 0: 202 at once."},
    {S_BROKER, "endpoint", "--broker", OB_OPTION_STRING, S_FIELD(endpoint), 0, 0,
     "The broker's ZeroMQ endpoint (tcp://HOST:PORT or ipc://PATH)."},
    {S_BROKER, "cert", "--cert", OB_OPTION_STRING, S_FIELD(cert), 0, 0,
     "CURVE: the gateway's certificate (zcert; FILE_secret holds the secret key). With\n"
     "--broker-cert; neither for plaintext. Its key needs publish = oms.* and\n"
     "subscribe = mp.* in the broker's permissions file."},
    {S_BROKER, "broker_cert", "--broker-cert", OB_OPTION_STRING, S_FIELD(broker_cert), 0, 0,
     "CURVE: the broker's public certificate."},
    {S_OMS, "id", "--oms-id", OB_OPTION_COUNT, S_OMS_FIELD(id), 1, OB_GW_OMS_ID_MAX,
     "The OMS's id in the Marketplace; its events go to topic oms.ID and its trigger\n"
     "URL is http://LISTEN/trigger/ID. The --oms-* options set the first OMS."},
    {S_OMS, "url", "--oms-url", OB_OPTION_STRING, S_OMS_FIELD(url), 0, 0,
     "Base URL of the Marketplace (http[s]://HOST[:PORT]), without /api/v1."},
    {S_OMS, "token_file", "--oms-token-file", OB_OPTION_STRING, S_OMS_FIELD(token_file), 0, 0,
     "File holding the OMS administrator's X-User-Token (one line), read once at start."},
    {S_OMS, "trigger_user", "--oms-trigger-user", OB_OPTION_STRING, S_OMS_FIELD(trigger_user), 0, 0,
     "User of the basic credentials the Marketplace's trigger carries (the OMS's\n"
     "trigger settings there). Unset: triggers need no credentials."},
    {S_OMS, "trigger_password_file", "--oms-trigger-password-file", OB_OPTION_STRING,
     S_OMS_FIELD(trigger_password_file), 0, 0,
     "File holding the trigger's password (one line), read once at start."},
    {S_OMS, "poll_interval", "--oms-poll-interval", OB_OPTION_DURATION, S_OMS_FIELD(poll_ms),
     OB_GW_POLL_MS_MIN, OB_GW_POLL_MS_MAX,
     "The feed is read this often even without a trigger (a lost trigger loses\n"
     "nothing): ms, s, m, h or d."},
    {S_OMS, "page_size", "--oms-page-size", OB_OPTION_UINT, S_OMS_FIELD(page_size), 1,
     OB_GW_PAGE_LIMIT_MAX,
     "Events asked for in one read of the feed (limit); a second holding more is\n"
     "read with a larger limit."},
    {S_OMS, "overlap", "--oms-overlap", OB_OPTION_DURATION, S_OMS_FIELD(overlap_ms),
     OB_GW_OVERLAP_S_MIN * 1000ull, OB_GW_OVERLAP_S_MAX * 1000ull,
     "Window re-read behind the cursor, for events the Marketplace commits late with\n"
     "an older timestamp (whole seconds; rounded up)."},
    {S_OMS, "timeout", "--oms-timeout", OB_OPTION_DURATION, S_OMS_FIELD(timeout_ms),
     OB_GW_MP_TIMEOUT_MS_MIN, OB_GW_MP_TIMEOUT_MS_MAX,
     "Longest Marketplace request, connecting included, of the feed and of the\n"
     "upstream connector; a request over it is retried with backoff."},
    {S_OMS, "facade_trigger_url", "--oms-facade-trigger-url", OB_OPTION_STRING, S_OMS_FIELD(ft_url),
     0, 0,
     "Ordering API facade, triggers out (needs facade = 1): the URL the gateway calls,\n"
     "as the Marketplace calls an OMS's trigger, once the facade serves new events of\n"
     "oms.ID, and once at start if it holds any (coalesced: one call at a time, one\n"
     "more if events came meanwhile; a failure or a non-2xx answer is retried with\n"
     "backoff). Unset: no call."},
    {S_OMS, "facade_trigger_method", "--oms-facade-trigger-method", OB_OPTION_STRING,
     S_OMS_FIELD(ft_method), 0, 0, "Its method: GET, POST or PUT (no body)."},
    {S_OMS, "facade_trigger_user", "--oms-facade-trigger-user", OB_OPTION_STRING,
     S_OMS_FIELD(ft_user), 0, 0,
     "User of the basic credentials sent with it (Authorization: Basic, the\n"
     "Marketplace's URL-safe Base64 of USER:PASSWORD). Unset: none."},
    {S_OMS, "facade_trigger_password_file", "--oms-facade-trigger-password-file", OB_OPTION_STRING,
     S_OMS_FIELD(ft_password_file), 0, 0,
     "File holding that password (one line), read once at start, never logged."},
};

#define S_OPTIONS (sizeof s_options / sizeof s_options[0])

static const ob_options_repeat_t s_omses = {S_OMS, offsetof(ob_gw_config_t, oms[0]),
                                            sizeof(ob_gw_oms_t), OB_GW_OMS_MAX,
                                            offsetof(ob_gw_config_t, oms_count)};

static const ob_options_t s_spec = {
    .table = s_options, .count = S_OPTIONS, .file_max = OB_GW_CONFIG_FILE_MAX, .repeat = &s_omses};

/* The defaults of one OMS. */
static void
s_oms_defaults(ob_gw_oms_t *oms)
{
    memset(oms, 0, sizeof *oms);
    oms->poll_ms = OB_GW_POLL_MS_DEFAULT;
    oms->page_size = OB_GW_PAGE_SIZE_DEFAULT;
    oms->overlap_ms = OB_GW_OVERLAP_S_DEFAULT * 1000ull;
    oms->timeout_ms = OB_GW_MP_TIMEOUT_MS_DEFAULT;
    snprintf(oms->ft_method, sizeof oms->ft_method, "%s", OB_GW_FT_METHOD_DEFAULT);
}

void
ob_gw_config_defaults(ob_gw_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->listen, sizeof cfg->listen, "%s", OB_GW_LISTEN_DEFAULT);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", OB_GW_DATA_DIR_DEFAULT);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", OB_ENDPOINT_DEFAULT);
    cfg->max_connections = OB_GW_HTTP_CONNECTIONS_DEFAULT;
    cfg->http_timeout_s = OB_GW_HTTP_TIMEOUT_S_DEFAULT;
    cfg->rest_body_max = OB_GW_REST_BODY_DEFAULT;
    cfg->rest_rate = OB_GW_RATE_DEFAULT;
    cfg->rest_burst = OB_GW_BURST_DEFAULT;
    cfg->rest_streams_max = OB_GW_STREAMS_DEFAULT;
    cfg->rest_waits_max = OB_GW_REST_WAITS_DEFAULT;
    cfg->facade_wait_ms = OB_GW_FACADE_WAIT_MS_DEFAULT;
    for (size_t i = 0; i < OB_GW_OMS_MAX; i++)
        s_oms_defaults(&cfg->oms[i]);
}

int
ob_gw_config_listen(const ob_gw_config_t *cfg, char host[OB_GW_ADDR_MAX], uint16_t *ret_port)
{
    return ob_options_listen(cfg->listen, host, OB_GW_ADDR_MAX, ret_port);
}

/* Checks the facade trigger of oms. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_check_facade_trigger(const ob_gw_config_t *cfg, const ob_gw_oms_t *oms, char *errbuf,
                       size_t errlen)
{
    if (strcmp(oms->ft_method, "GET") && strcmp(oms->ft_method, "POST") &&
        strcmp(oms->ft_method, "PUT"))
        return ob_options_fail(
            errbuf, errlen, "oms %" PRIu64 ": facade_trigger_method '%s' is not GET, POST or PUT",
            oms->id, oms->ft_method);
    if (oms->ft_url[0] && strncmp(oms->ft_url, "http://", 7) && strncmp(oms->ft_url, "https://", 8))
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": facade_trigger_url is not http(s)://...", oms->id);
    if (!oms->ft_user[0] != !oms->ft_password_file[0])
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": facade_trigger_user and "
                               "facade_trigger_password_file go together",
                               oms->id);
    if (oms->ft_user[0] && !oms->ft_url[0])
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": facade_trigger_user without facade_trigger_url",
                               oms->id);
    if (strchr(oms->ft_user, ':'))
        return ob_options_fail(
            errbuf, errlen,
            "oms %" PRIu64 ": facade_trigger_user cannot hold ':' (basic credentials)", oms->id);
    if (oms->ft_url[0] && !cfg->facade)
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": facade_trigger_url needs facade = 1 (the "
                               "trigger follows the facade's view)",
                               oms->id);
    return 0;
}

/* Checks OMS number i of cfg. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_check_oms(const ob_gw_config_t *cfg, size_t i, char *errbuf, size_t errlen)
{
    const ob_gw_oms_t *oms = &cfg->oms[i];
    size_t n = i + 1;
    if (!oms->id)
        return ob_options_fail(errbuf, errlen, "oms %zu: no id", n);
    for (size_t j = 0; j < i; j++)
        if (cfg->oms[j].id == oms->id)
            return ob_options_fail(errbuf, errlen, "oms %zu: id %" PRIu64 " repeats oms %zu's", n,
                                   oms->id, j + 1);
    if (strncmp(oms->url, "http://", 7) && strncmp(oms->url, "https://", 8))
        return ob_options_fail(errbuf, errlen, "oms %" PRIu64 ": url '%s' is not http(s)://...",
                               oms->id, oms->url);
    if (oms->url[strlen(oms->url) - 1] == '/')
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": url '%s' ends with '/' (give the base only)",
                               oms->id, oms->url);
    if (!oms->token_file[0])
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": no token_file (the file of its X-User-Token)",
                               oms->id);
    if (!oms->trigger_user[0] != !oms->trigger_password_file[0])
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": trigger_user and trigger_password_file go "
                               "together",
                               oms->id);
    if (strchr(oms->trigger_user, ':'))
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": trigger_user cannot hold ':' (basic credentials)",
                               oms->id);
    return s_check_facade_trigger(cfg, oms, errbuf, errlen);
}

int
ob_gw_config_validate(const ob_gw_config_t *cfg, char *errbuf, size_t errlen)
{
    char host[OB_GW_ADDR_MAX];
    uint16_t port = 0;
    if (ob_gw_config_listen(cfg, host, &port))
        return ob_options_fail(errbuf, errlen, "listen '%s': not IPV4:PORT (port 0..65535)",
                               cfg->listen);
    if (!cfg->data_dir[0])
        return ob_options_fail(errbuf, errlen, "data_dir: empty");
    if (!cfg->tls_cert[0] != !cfg->tls_key[0])
        return ob_options_fail(errbuf, errlen, "gateway: tls_cert and tls_key go together");
    if (!cfg->cert[0] != !cfg->broker_cert[0])
        return ob_options_fail(errbuf, errlen, "broker: cert and broker_cert go together");
    if (cfg->facade && !cfg->tokens_file[0])
        return ob_options_fail(errbuf, errlen,
                               "gateway: facade needs tokens_file (its X-User-Tokens)");
    if (cfg->oms_count > OB_GW_OMS_MAX)
        return ob_options_fail(errbuf, errlen, "more than %d OMSes", OB_GW_OMS_MAX);
    int rc = 0;
    /* Each OMS complete first, so that a missing id is called that, not a range error. */
    for (size_t i = 0; i < cfg->oms_count; i++)
        if ((rc = s_check_oms(cfg, i, errbuf, errlen)))
            return rc;
    /* Ranges: the gateway's rows once, the oms rows for each OMS in use (the unused slots
       hold defaults with no id). */
    return ob_options_check_all(&s_spec, cfg, errbuf, errlen);
}

int
ob_gw_config_parse(ob_gw_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    ob_gw_config_defaults(cfg);
    int rc = ob_options_parse(&s_spec, cfg, argc, argv, &cfg->help, &cfg->version, cfg->config_file,
                              sizeof cfg->config_file, errbuf, errlen);
    if (rc || cfg->help || cfg->version)
        return rc;
    if (cfg->oms_count == 0 && cfg->oms[0].id) /* an OMS from the flags alone */
        cfg->oms_count = 1;
    const ob_gw_oms_t *first = &cfg->oms[0];
    if (cfg->oms_count == 0 && (first->url[0] || first->token_file[0] || first->trigger_user[0] ||
                                first->trigger_password_file[0]))
        return ob_options_fail(errbuf, errlen,
                               "--oms-* options without --oms-id (or an oms section) register "
                               "nothing");
    return ob_gw_config_validate(cfg, errbuf, errlen);
}

/* Reads the one-line secret in path into buf (OB_GW_SECRET_MAX + 1 bytes). Returns 0 or an
   error with a message naming path (never the content). */
static int
s_read_secret(const char *path, const char *what, uint64_t oms_id, char *buf, char *errbuf,
              size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ob_file_read(path, OB_GW_SECRET_MAX + 1, &text, &len);
    if (rc) {
        ob_options_fail(errbuf, errlen, "oms %" PRIu64 ": %s %s: %s", oms_id, what, path,
                        ob_strerror(rc));
        return rc;
    }
    if (len && text[len - 1] == '\n')
        len--;
    if (len && text[len - 1] == '\r')
        len--;
    if (len == 0 || len > OB_GW_SECRET_MAX || memchr(text, '\0', len) || memchr(text, '\n', len)) {
        memset(text, 0, len);
        free(text);
        return ob_options_fail(errbuf, errlen,
                               "oms %" PRIu64 ": %s %s: not one line of 1 to %d bytes", oms_id,
                               what, path, OB_GW_SECRET_MAX);
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(text, 0, len);
    free(text);
    return 0;
}

int
ob_gw_config_read_secrets(ob_gw_config_t *cfg, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < cfg->oms_count; i++) {
        ob_gw_oms_t *oms = &cfg->oms[i];
        int rc = s_read_secret(oms->token_file, "token_file", oms->id, oms->token, errbuf, errlen);
        if (!rc && oms->trigger_password_file[0])
            rc = s_read_secret(oms->trigger_password_file, "trigger_password_file", oms->id,
                               oms->trigger_password, errbuf, errlen);
        if (!rc && oms->ft_password_file[0])
            rc = s_read_secret(oms->ft_password_file, "facade_trigger_password_file", oms->id,
                               oms->ft_password, errbuf, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

void
ob_gw_config_usage(FILE *out, const char *prog)
{
    ob_gw_config_t defaults;
    ob_gw_config_defaults(&defaults);
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    fprintf(out,
            "NAME\n"
            "    %s - the orderbus gateway: Marketplace events onto the bus, exactly once,\n"
            "    and OMS commands back to the Marketplace\n\n"
            "SYNOPSIS\n"
            "    %s [--config FILE] [OPTION]...\n\n"
            "DESCRIPTION\n"
            "    For each registered OMS, reads the Marketplace's events feed (on its\n"
            "    trigger, and every poll interval), fetches what each event names and\n"
            "    publishes enriched events to topic oms.OMS_ID of the broker, in order,\n"
            "    each once (ids derived from the content). The feed cursor advances only\n"
            "    after the broker confirmed. HTTP: /trigger/OMS_ID (GET, POST, PUT; basic\n"
            "    credentials in the Authorization header, or authorization=Basic... in the\n"
            "    query or a form body, as the Marketplace sends them), /healthz, /readyz,\n"
            "    /metrics.\n\n"
            "    Upstream connector, one per OMS: subscribes to mp.OMS_ID (durable\n"
            "    subscription gateway-mp-OMS_ID, from the topic's start) and executes each\n"
            "    command published there (update_project_item, post_message, edit_message;\n"
            "    gateway/COMMANDS.md) against the Marketplace with the OMS's token, those of\n"
            "    one project item in order; its outcome, command.completed or\n"
            "    command.failed with the Marketplace's answer, goes to oms.OMS_ID before the\n"
            "    command is acked. A 5xx, a timeout or a failed connection is retried with\n"
            "    backoff. Its state, the commands done and the message posts in progress\n"
            "    (so that a restart after a crash neither repeats nor loses one), lives in\n"
            "    the LMDB environment of --data-dir, database connector.OMS_ID.\n\n"
            "    REST, with --tokens-file: /v1/topics/TOPIC/events (POST one event, GET a\n"
            "    range from a seq or a time), /v1/topics/TOPIC/events/SEQ, /v1/topics/\n"
            "    TOPIC/batch (JSON array or NDJSON) and /v1/oms/OMS_ID/commands, each with\n"
            "    Authorization: Bearer TOKEN (orderbus-keys token); publishes are answered\n"
            "    after the broker's durable confirm. SIGHUP reloads the tokens file.\n\n"
            "    Ordering API facade, with --tokens-file: PATCH .../project_items/IID,\n"
            "    POST .../messages and PATCH .../messages/ID under /api/v1/oms/OMS_ID/, with\n"
            "    X-User-Token, become commands on mp.OMS_ID and are answered with the\n"
            "    Marketplace's status and body from their outcome (202 after --facade-wait);\n"
            "    --oms-facade-trigger-url is called when oms.OMS_ID has new events.\n\n"
            "    SIGINT or SIGTERM stops it after the poll in flight; commands not yet\n"
            "    acked are delivered again at the next start.\n\n"
            "OPTIONS\n"
            "    --config FILE\n"
            "        Read settings from FILE, a ZPL file with the sections '%s', '%s'\n"
            "        and one '%s' section per OMS (deploy/orderbus-gateway.cfg);\n"
            "        options given on the command line override it.\n\n",
            prog, prog, S_GATEWAY, S_BROKER, S_OMS);
    ob_options_print(out, &s_spec, &defaults);
    fprintf(out,
            "    -h, --help\n"
            "        Print this text and exit.\n\n"
            "    --version\n"
            "        Print the version (%s) and exit.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure (the data directory is in\n"
            "    use, the address cannot be bound, a secret file cannot be read), 2 on a\n"
            "    usage error.\n\n"
            "EXAMPLE\n"
            "    %s --oms-id 2 --oms-url https://marketplace.example.org \\\n"
            "        --oms-token-file /etc/orderbus/oms-2.token\n",
            OB_VERSION_STRING, prog);
}
