/*  ob_config: defaults, ZPL file and flags. See config.h.

    One table (s_options) describes every setting once: its file section and key, its flag, its
    kind and range, and its help line, so that the file parser, the flag parser and --help
    cannot disagree about what exists. The retention options are also the keys of a retention
    rule (retention/topic), which parses them into the rule's ob_retention_t. The machinery
    (value parsing and ranges, the ZPL walk, the flags, the help entries) is common/options.h;
    this file keeps the broker's table and what is the broker's own: the retention rules, the
    endpoint and security checks, the text of --help around the table's entries. */
#include "config.h"

#include <czmq.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"
#include "orderbus/pattern.h"

/* ob_config_retention must stay callable as the store's policy lookup. */
_Static_assert(_Generic(&ob_config_retention, ob_store_limits_fn * : 1, default : 0),
               "ob_config_retention is not an ob_store_limits_fn");

/* Short names for the table below (common/options.h). */
typedef ob_option_t s_option_t;
#define S_KIND_STRING OB_OPTION_STRING
#define S_KIND_OPTSTRING OB_OPTION_OPTSTRING
#define S_KIND_SIZE OB_OPTION_SIZE
#define S_KIND_UINT OB_OPTION_UINT
#define S_KIND_COUNT OB_OPTION_COUNT
#define S_KIND_DURATION OB_OPTION_DURATION
#define S_KIND_BOOL OB_OPTION_BOOL

/* The file's sections, and the retention section's rules. */
#define S_SECTION "broker"
#define S_RETENTION "retention"
#define S_SECURITY "security"
#define S_RULE "topic"
#define S_PATTERN "pattern"

#define S_FIELD(name) offsetof(ob_config_t, name), sizeof(((ob_config_t *)0)->name)
/* A retention option's field is in cfg->retention; in a rule's ob_retention_t it is at the
   same place relative to the struct (s_rule_offset). */
#define S_LIMIT(name)                                                                              \
    offsetof(ob_config_t, retention.name), sizeof(((ob_config_t *)0)->retention.name)

static const s_option_t s_options[] = {
    {S_SECTION, "endpoint", "--endpoint", S_KIND_STRING, S_FIELD(endpoint), 0, 0,
     "ZeroMQ endpoint the broker binds (tcp://HOST:PORT or ipc://PATH). With --curve 0\n"
     "only loopback (tcp://127.0.0.1, tcp://[::1], tcp://localhost: each of its\n"
     "addresses) and ipc socket files are accepted, not abstract ones (ipc://@NAME): a\n"
     "socket file is made mode 0600, so only the broker's user can connect to it."},
    {S_SECTION, "endpoint_file", "--endpoint-file", S_KIND_STRING, S_FIELD(endpoint_file), 0, 0,
     "File to which the broker writes the endpoints it bound, one a line with the port\n"
     "resolved (tcp://127.0.0.1:* binds a free port), once it is ready to serve: written\n"
     "to FILE.tmp and renamed, so a reader sees all of it or nothing. It stays after\n"
     "the broker stops: a starter removes it before it starts one. Unset: no file.\n"
     "With metrics on, its last line is their URL (http://HOST:PORT/metrics)."},
    {S_SECTION, "metrics", "--metrics", S_KIND_OPTSTRING, S_FIELD(metrics), 0, 0,
     "HOST:PORT on which GET /metrics serves the broker's Prometheus metrics (README\n"
     "\"Metrics\"); the host an IPv4 or bracketed IPv6 address, port 0 a free one.\n"
     "Nothing else is served over HTTP, and without authentication: keep it on\n"
     "loopback or behind a firewall. Empty (--metrics '') turns it off. If the port\n"
     "cannot be bound, the broker logs why and serves its clients without metrics."},
    {S_SECTION, "data_dir", "--data-dir", S_KIND_STRING, S_FIELD(data_dir), 0, 0,
     "Directory of the store, created with mode 0700: LMDB's data.mdb and the journal\n"
     "(journal/) that makes each commit durable, replayed at start after a crash. Back it\n"
     "up hot with mdb_copy; restore a copy into an empty directory (README, \"Backup\n"
     "and restore\")."},
    {S_SECTION, "map_size", "--map-size", S_KIND_SIZE, S_FIELD(map_size), OB_MAP_SIZE_MIN,
     OB_CONFIG_MAP_SIZE_MAX,
     "Initial LMDB map size in bytes, with an optional K, M, G or T suffix (powers of\n"
     "1024). The map doubles whenever it is full, so this is a starting point."},
    {S_SECTION, "max_event_bytes", "--max-event-bytes", S_KIND_SIZE, S_FIELD(max_event_bytes),
     OB_CONFIG_EVENT_MIN, OB_EVENT_MAX_ACCEPT,
     "Largest event frame accepted, with an optional K or M suffix; larger publishes\n"
     "are refused with TOO_LARGE. At most 16M - 2K, so that a dead letter, which wraps\n"
     "an event in up to 2K more, stays within the 16M frame cap."},
    {S_SECTION, "batch_max", "--batch-max", S_KIND_UINT, S_FIELD(batch_max), 1, OB_BATCH_MAX,
     "Most publishes committed in one LMDB transaction (group commit)."},
    {S_SECTION, "max_clients", "--max-clients", S_KIND_UINT, S_FIELD(max_clients), 1,
     OB_CLIENTS_MAX,
     "Most sessions (clients that said HELLO) at once; a HELLO beyond gets LIMIT.\n"
     "A session ends as soon as its connection closes, or after 3 missed heartbeats\n"
     "while the connection stays open but silent."},
    {S_SECTION, "max_subs_per_client", "--max-subs-per-client", S_KIND_UINT,
     S_FIELD(max_subs_per_client), 1, OB_SUBS_MAX,
     "Most subscriptions one session is attached to; a SUBSCRIBE beyond gets LIMIT."},
    {S_SECTION, "max_pending", "--max-pending", S_KIND_UINT, S_FIELD(max_pending), 1, OB_WINDOW_MAX,
     "Most publishes of one session awaiting their CONFIRM or ERROR; one beyond gets\n"
     "LIMIT. WELCOME tells clients, and liborderbus keeps its window within it."},
    {S_SECTION, "max_unread_bytes", "--max-unread-bytes", S_KIND_SIZE, S_FIELD(max_unread_bytes),
     OB_UNREAD_BYTES_MIN, OB_UNREAD_BYTES_MAX,
     "Bytes of deliveries sent to one consumer that it has not yet shown it read (by an\n"
     "ACK or NACK), with an optional K, M or G suffix. A consumer at this limit is sent\n"
     "nothing more until it acks or nacks; one that sent nothing since a delivery that\n"
     "passed its ack_wait_ms, nothing until it sends something. Its deliveries go to the\n"
     "subscription's other consumers or wait in the store, not in memory (PROTOCOL.md 12.9)."},
    {S_SECTION, "max_topics", "--max-topics", S_KIND_UINT, S_FIELD(max_topics), 1, OB_TOPICS_MAX,
     "Most topics stored; a publish that would create one more gets LIMIT."},
    {S_SECTION, "verbose", "--verbose", S_KIND_BOOL, S_FIELD(verbose), 0, 1,
     "Log every refused message (at debug level)."},
    {S_SECURITY, "curve", "--curve", S_KIND_UINT, S_FIELD(curve), 0, 1,
     "1: every connection is CURVE-encrypted and authenticated: a client's public key\n"
     "must be in the permissions file, which also says what it may do. 0: plaintext,\n"
     "no authentication, every client may do everything; accepted only when the\n"
     "endpoint is loopback or ipc (development, the quick start)."},
    {S_SECURITY, "cert", "--cert", S_KIND_STRING, S_FIELD(cert), 0, 0,
     "The broker's certificate (czmq zcert: FILE holds the public key, FILE_secret the\n"
     "secret key). Required with --curve 1. Create one with: orderbus-keys broker DIR"},
    {S_SECURITY, "permissions", "--permissions", S_KIND_STRING, S_FIELD(permissions), 0, 0,
     "The permissions file: which client keys may connect and what each may publish,\n"
     "subscribe and administer (PROTOCOL.md 14). Required with --curve 1. SIGHUP reloads\n"
     "it without dropping connections. orderbus-keys client prints its entries."},
    {S_RETENTION, "max_age", "--retention-max-age", S_KIND_DURATION, S_LIMIT(max_age_ms), 0,
     OB_CONFIG_AGE_MAX_MS,
     "Default retention age: events stored longer ago than this are removed. Digits\n"
     "and a unit, ms, s, m, h or d (500ms, 30s, 15m, 12h, 7d); 0 is no limit. Topics\n"
     "that a retention rule of the file matches take the rule's limits instead."},
    {S_RETENTION, "max_events", "--retention-max-events", S_KIND_COUNT, S_LIMIT(max_events), 0,
     UINT64_MAX,
     "Default most events kept per topic; the oldest go first. 0 is no limit. Topics\n"
     "that a retention rule of the file matches take the rule's limits instead."},
    {S_RETENTION, "max_bytes", "--retention-max-bytes", S_KIND_SIZE, S_LIMIT(max_bytes), 0,
     UINT64_MAX,
     "Default most bytes of events kept per topic, with an optional K, M, G or T suffix;\n"
     "the oldest go first. 0 is no limit. Topics that a retention rule of the file\n"
     "matches take the rule's limits instead."},
};

#define S_OPTIONS (sizeof s_options / sizeof s_options[0])

/* Endpoints only this machine can reach (prefixes). */
static const char *s_local_prefixes[] = {
    "tcp://127.0.0.1:", "tcp://[::1]:", "tcp://localhost:", "ipc://", "inproc://"};

/* An abstract ipc endpoint (Linux): a name, not a file, so no permissions guard it. */
#define S_IPC_ABSTRACT "ipc://@"

/* Endpoint schemes ZeroMQ binds that the broker accepts. */
static const char *s_schemes[] = {"tcp://", "ipc://", "inproc://"};

void
ob_config_defaults(ob_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", OB_ENDPOINT_DEFAULT);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", OB_DATA_DIR_DEFAULT);
    snprintf(cfg->metrics, sizeof cfg->metrics, "%s", OB_METRICS_HTTP_DEFAULT);
    cfg->map_size = OB_MAP_SIZE_DEFAULT;
    cfg->max_event_bytes = OB_EVENT_MAX_DEFAULT;
    cfg->batch_max = OB_BATCH_MAX;
    cfg->curve = 1;
    cfg->max_clients = OB_CLIENTS_DEFAULT;
    cfg->max_subs_per_client = OB_SUBS_PER_CLIENT_DEFAULT;
    cfg->max_pending = OB_PENDING_DEFAULT;
    cfg->max_unread_bytes = OB_UNREAD_BYTES_DEFAULT;
    cfg->max_topics = OB_TOPICS_MAX;
}

/* What one ob_config_load is in the middle of, for the hooks. */
typedef struct s_load {
    int retention_seen; /* sections named S_RETENTION so far */
} s_load_t;

static ob_options_item_fn s_on_item;
static ob_options_section_fn s_on_section;

/* The broker's options; load is the state of a load in progress, or NULL. */
static ob_options_t
s_spec(s_load_t *load)
{
    ob_options_t spec = {s_options, S_OPTIONS, OB_CONFIG_FILE_MAX, s_on_section, s_on_item,
                         load,      NULL};
    return spec;
}

/* The offset of the retention option opt's field in an ob_retention_t (a rule's). */
static size_t
s_rule_offset(const s_option_t *opt)
{
    return opt->offset - offsetof(ob_config_t, retention);
}

/* What a valid pattern looks like, for messages. */
#define S_PATTERN_HELP                                                                             \
    "dot-separated tokens of a-z, 0-9, _ and -, where * is any one token and a last > is "         \
    "one or more"

/* Checks the pattern of rule number (1-based) against the patterns before it in cfg: valid,
   and not a repeat (which could never match, as the earlier rule always wins). prefix
   starts the message ("config file F: "). Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_check_pattern(const ob_config_t *cfg, size_t number, const char *pattern, const char *prefix,
                char *errbuf, size_t errlen)
{
    size_t len = strnlen(pattern, OB_TOPIC_MAX + 1);
    if (len > OB_TOPIC_MAX)
        return ob_config_fail(errbuf, errlen,
                              "%sretention rule %zu: pattern '%.32s...' is longer than %d bytes",
                              prefix, number, pattern, OB_TOPIC_MAX);
    if (!ob_pattern_valid(pattern, len))
        return ob_config_fail(errbuf, errlen, "%sretention rule %zu: invalid pattern '%s' (%s)",
                              prefix, number, pattern, S_PATTERN_HELP);
    for (size_t i = 0; i + 1 < number; i++)
        if (!strcmp(cfg->retention_rules[i].pattern, pattern))
            return ob_config_fail(
                errbuf, errlen,
                "%sretention rule %zu: pattern '%s' repeats rule %zu's, so it would "
                "never match (the first matching rule wins)",
                prefix, number, pattern, i + 1);
    return 0;
}

/* Appends the rule in item (a retention/topic child, borrowed) to cfg's rules. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
static int
s_load_rule(ob_config_t *cfg, zconfig_t *item, const char *path, char *errbuf, size_t errlen)
{
    size_t number = cfg->retention_rule_count + 1; /* for messages */
    ob_options_t spec = s_spec(NULL);
    char prefix[OB_CONFIG_PATH_MAX + 32];
    snprintf(prefix, sizeof prefix, "config file %s: ", path);

    if (cfg->retention_rule_count == OB_CONFIG_RETENTION_RULES_MAX)
        return ob_config_fail(errbuf, errlen, "%smore than %d retention rules ('%s/%s')", prefix,
                              OB_CONFIG_RETENTION_RULES_MAX, S_RETENTION, S_RULE);
    const char *value = zconfig_value(item);
    if (value && *value)
        return ob_config_fail(
            errbuf, errlen,
            "%sretention rule %zu: '%s/%s' cannot have a value (write the pattern "
            "below it: %s = PATTERN)",
            prefix, number, S_RETENTION, S_RULE, S_PATTERN);

    /* Pass 1: the keys exist and there is one pattern, so later messages can name it. */
    const char *pattern = NULL;
    for (zconfig_t *key = zconfig_child(item); key; key = zconfig_next(key)) {
        const char *name = zconfig_name(key);
        if (strcmp(name, S_PATTERN) && !ob_options_find_key(&spec, S_RETENTION, name))
            return ob_config_fail(errbuf, errlen,
                                  "%sretention rule %zu: unknown key '%s/%s/%s' (a rule takes %s, "
                                  "max_age, max_events and max_bytes)",
                                  prefix, number, S_RETENTION, S_RULE, name, S_PATTERN);
        if (zconfig_child(key))
            return ob_config_fail(errbuf, errlen,
                                  "%sretention rule %zu: key '%s/%s/%s' cannot have children",
                                  prefix, number, S_RETENTION, S_RULE, name);
        if (strcmp(name, S_PATTERN))
            continue;
        if (pattern) /* most likely a missing 'topic' line between two rules */
            return ob_config_fail(
                errbuf, errlen,
                "%sretention rule %zu: two patterns (each rule is its own '%s' with "
                "one %s)",
                prefix, number, S_RULE, S_PATTERN);
        value = zconfig_value(key);
        pattern = value ? value : "";
    }
    if (!pattern)
        return ob_config_fail(errbuf, errlen,
                              "%sretention rule %zu: no %s (each '%s' needs %s = PATTERN)", prefix,
                              number, S_PATTERN, S_RULE, S_PATTERN);
    int rc = s_check_pattern(cfg, number, pattern, prefix, errbuf, errlen);
    if (rc)
        return rc;

    /* Pass 2: the limits; one the rule does not set stays 0, no limit. */
    ob_config_rule_t rule;
    memset(&rule, 0, sizeof rule);
    memcpy(rule.pattern, pattern, strlen(pattern) + 1); /* checked: at most OB_TOPIC_MAX */
    for (zconfig_t *key = zconfig_child(item); key; key = zconfig_next(key)) {
        const char *name = zconfig_name(key);
        if (!strcmp(name, S_PATTERN))
            continue;
        const s_option_t *opt = ob_options_find_key(&spec, S_RETENTION, name);
        char where[OB_CONFIG_PATH_MAX + OB_TOPIC_MAX + 96];
        snprintf(where, sizeof where, "%sretention rule %zu (%s): key '%s/%s/%s'", prefix, number,
                 pattern, S_RETENTION, S_RULE, name);
        value = zconfig_value(key);
        if ((rc = ob_options_set(opt, (char *)&rule.retention + s_rule_offset(opt),
                                 value ? value : "", where, errbuf, errlen)))
            return rc;
    }
    cfg->retention_rules[cfg->retention_rule_count++] = rule;
    return 0;
}

/* ob_options_item_fn: takes the rules of the retention section (S_RULE children). */
static int
s_on_item(void *arg, void *base, const char *section, zconfig_t *item, const char *path,
          char *errbuf, size_t errlen)
{
    (void)arg;
    if (strcmp(section, S_RETENTION) || strcmp(zconfig_name(item), S_RULE))
        return OB_OPTIONS_NOT_MINE;
    return s_load_rule(base, item, path, errbuf, errlen);
}

/* ob_options_section_fn: one retention section, whose rules replace those before it. */
static int
s_on_section(void *arg, void *base, const char *section, const char *path, char *errbuf,
             size_t errlen)
{
    s_load_t *load = arg;
    ob_config_t *cfg = base;
    if (strcmp(section, S_RETENTION))
        return 0;
    /* One section, so the order of the rules is the order of the lines. */
    if (load->retention_seen++)
        return ob_config_fail(errbuf, errlen, "config file %s: a second '%s' section", path,
                              S_RETENTION);
    cfg->retention_rule_count = 0; /* the file's rules replace the ones before */
    return 0;
}

int
ob_config_load(ob_config_t *cfg, const char *path, char *errbuf, size_t errlen)
{
    if (strlen(path) >= sizeof cfg->config_file)
        return ob_config_fail(errbuf, errlen, "config file name longer than %zu bytes",
                              sizeof cfg->config_file - 1);
    snprintf(cfg->config_file, sizeof cfg->config_file, "%s", path);
    s_load_t load = {0};
    ob_options_t spec = s_spec(&load);
    return ob_options_load_file(&spec, cfg, path, errbuf, errlen);
}

int
ob_config_endpoint_local(const char *endpoint)
{
    for (size_t i = 0; i < sizeof s_local_prefixes / sizeof s_local_prefixes[0]; i++)
        if (!strncmp(endpoint, s_local_prefixes[i], strlen(s_local_prefixes[i])))
            return 1;
    return 0;
}

/* Checks the port of a tcp:// endpoint: after the last ':', '*' or a decimal 1..65535
   (libzmq would silently truncate 99999 to 16 bits). Returns 0 or -1. */
static int
s_check_port(const char *endpoint)
{
    const char *colon = strrchr(endpoint + strlen("tcp://"), ':');
    if (!colon)
        return -1;
    const char *port = colon + 1;
    if (!strcmp(port, "*"))
        return 0;
    uint64_t value = 0;
    if (ob_options_parse_number(port, 0, &value) || value < 1 || value > UINT16_MAX)
        return -1;
    return 0;
}

int
ob_config_validate(const ob_config_t *cfg, char *errbuf, size_t errlen)
{
    size_t endpoint_len = strnlen(cfg->endpoint, sizeof cfg->endpoint);
    if (endpoint_len == 0 || endpoint_len == sizeof cfg->endpoint)
        return ob_config_fail(errbuf, errlen, "endpoint: empty or longer than %d bytes",
                              OB_CONFIG_ENDPOINT_MAX);
    int scheme_ok = 0;
    for (size_t i = 0; i < sizeof s_schemes / sizeof s_schemes[0]; i++) {
        size_t len = strlen(s_schemes[i]);
        if (!strncmp(cfg->endpoint, s_schemes[i], len) && cfg->endpoint[len])
            scheme_ok = 1;
    }
    if (!scheme_ok)
        return ob_config_fail(errbuf, errlen,
                              "endpoint %s: not tcp://HOST:PORT, ipc://PATH or inproc://NAME",
                              cfg->endpoint);
    if (!strncmp(cfg->endpoint, "tcp://", 6) && s_check_port(cfg->endpoint))
        return ob_config_fail(errbuf, errlen, "endpoint %s: the port must be 1..65535 or *",
                              cfg->endpoint);
    size_t dir_len = strnlen(cfg->data_dir, sizeof cfg->data_dir);
    if (dir_len == 0 || dir_len == sizeof cfg->data_dir)
        return ob_config_fail(errbuf, errlen, "data_dir: empty or too long");
    if (cfg->metrics[0] && ob_metrics_http_check(cfg->metrics, errbuf, errlen))
        return OB_ERR_INVALID_ARGUMENT;

    /* Numbers and rules are checked when set, but a caller may fill the struct directly. */
    ob_options_t spec = s_spec(NULL);
    int rc = ob_options_check_all(&spec, cfg, errbuf, errlen);
    if (rc)
        return rc;
    if (cfg->retention_rule_count > OB_CONFIG_RETENTION_RULES_MAX)
        return ob_config_fail(errbuf, errlen, "%zu retention rules, more than %d",
                              cfg->retention_rule_count, OB_CONFIG_RETENTION_RULES_MAX);
    for (size_t r = 0; r < cfg->retention_rule_count; r++) {
        const ob_config_rule_t *rule = &cfg->retention_rules[r];
        if ((rc = s_check_pattern(cfg, r + 1, rule->pattern, "", errbuf, errlen)))
            return rc;
        for (size_t i = 0; i < S_OPTIONS; i++) {
            const s_option_t *opt = &s_options[i];
            if (strcmp(opt->section, S_RETENTION))
                continue;
            char where[OB_TOPIC_MAX + 64];
            snprintf(where, sizeof where, "retention rule %zu (%s): %s", r + 1, rule->pattern,
                     opt->key);
            if ((rc = ob_options_check(opt, (const char *)&rule->retention + s_rule_offset(opt),
                                       where, errbuf, errlen)))
                return rc;
        }
    }
    /* Security last: the values above are wrong whatever the mode. */
    if (cfg->curve > 1)
        return ob_config_fail(errbuf, errlen, "security/curve: %u is not 0 or 1", cfg->curve);
    if (!cfg->curve && !strncmp(cfg->endpoint, S_IPC_ABSTRACT, strlen(S_IPC_ABSTRACT)))
        return ob_config_fail(
            errbuf, errlen,
            "endpoint %s is an abstract ipc socket and curve = 0 (plaintext, no "
            "authentication): it has no file permissions, so every local user could connect "
            "with every right: bind a socket file (ipc:///PATH, mode 0600) or "
            "tcp://127.0.0.1:PORT, or set curve = 1",
            cfg->endpoint);
    if (!cfg->curve && !ob_config_endpoint_local(cfg->endpoint))
        return ob_config_fail(
            errbuf, errlen,
            "endpoint %s is reachable from other machines and curve = 0 (plaintext, "
            "no authentication): set curve = 1 with a cert and a permissions file "
            "(--curve 1 --cert FILE --permissions FILE), or bind tcp://127.0.0.1:PORT "
            "or ipc://",
            cfg->endpoint);
    if (cfg->curve && !cfg->cert[0])
        return ob_config_fail(
            errbuf, errlen,
            "security/cert: required with curve = 1: the broker's certificate; create "
            "one with `orderbus-keys broker DIR` and set cert = DIR/broker.cert "
            "(--cert), or set curve = 0 on a loopback or ipc endpoint");
    if (cfg->curve && !cfg->permissions[0])
        return ob_config_fail(
            errbuf, errlen,
            "security/permissions: required with curve = 1: the file of client keys "
            "and rights (--permissions FILE; `orderbus-keys client` prints entries)");
    return 0;
}

void
ob_config_retention(void *cfg, const char *topic, ob_retention_t *ret)
{
    const ob_config_t *self = cfg;
    size_t topic_len = strlen(topic);
    for (size_t r = 0; r < self->retention_rule_count; r++) {
        const ob_config_rule_t *rule = &self->retention_rules[r];
        if (ob_pattern_match(rule->pattern, strlen(rule->pattern), topic, topic_len)) {
            *ret = rule->retention;
            return;
        }
    }
    *ret = self->retention;
}

int
ob_config_parse(ob_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    const char *config_file = NULL;
    ob_options_t spec = s_spec(NULL);
    ob_config_defaults(cfg);
    if (errbuf && errlen)
        errbuf[0] = '\0';

    /* Pass 1: --help, --version and --config, which decide what pass 2 starts from. */
    int rc = ob_options_scan_args(&spec, argc, argv, &cfg->help, &cfg->version, &config_file,
                                  errbuf, errlen);
    if (rc || cfg->help || cfg->version)
        return rc;
    if (config_file && (rc = ob_config_load(cfg, config_file, errbuf, errlen)))
        return rc;
    /* Pass 2: every other flag, over the file. */
    if ((rc = ob_options_apply_args(&spec, cfg, argc, argv, errbuf, errlen)))
        return rc;
    return ob_config_validate(cfg, errbuf, errlen);
}

void
ob_config_usage(FILE *out, const char *prog)
{
    ob_config_t defaults;
    ob_config_defaults(&defaults);
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;

    fprintf(out,
            "NAME\n"
            "    %s - the orderbus broker: persisted topics over ZeroMQ, stored in LMDB\n\n"
            "SYNOPSIS\n"
            "    %s [--config FILE] [OPTION]...\n\n"
            "DESCRIPTION\n"
            "    Binds a ZeroMQ ROUTER socket, stores every published event in an LMDB\n"
            "    environment and confirms a publish once its transaction is on disk.\n"
            "    Settings come from the defaults, then FILE, then the options below.\n"
            "    SIGINT or SIGTERM stops the broker after the commit in flight.\n\n"
            "OPTIONS\n"
            "    --config FILE\n"
            "        Read settings from FILE, a ZPL file (czmq zconfig) with the sections\n"
            "        '%s', '%s' and '%s' (see SECURITY and RETENTION); options given on\n"
            "        the command line override it.\n\n",
            prog, prog, S_SECTION, S_SECURITY, S_RETENTION);
    ob_options_t spec = s_spec(NULL);
    ob_options_print(out, &spec, &defaults);
    char age_max[OB_OPTIONS_NUMBER_MAX];
    ob_options_format(OB_OPTION_DURATION, OB_CONFIG_AGE_MAX_MS, age_max, sizeof age_max);
    fprintf(out,
            "    -h, --help\n"
            "        Print this text and exit.\n\n"
            "    --version\n"
            "        Print the version (%s) and exit.\n\n"
            "RETENTION\n"
            "    Retention removes the oldest events of a topic while it is over any of its\n"
            "    limits. Every limit is 0 by default: no limit, events are kept forever.\n"
            "    The section '%s' of FILE holds the defaults of every topic and up to %d\n"
            "    rules, children named '%s', each with a %s (required) and its own\n"
            "    limits. Rules are tried in file order and the first whose pattern matches\n"
            "    a topic gives its limits: a rule replaces the defaults for its topics, so\n"
            "    a limit it does not set is unlimited for them, not the default. The\n"
            "    --retention-* options change the defaults only; rules come from FILE alone.\n\n"
            "    max_age     DURATION: digits and a unit, ms, s, m, h or d (500ms, 30s,\n"
            "                15m, 12h, 7d); 0 alone is no limit; at most %s. A number\n"
            "                without a unit is an error.\n"
            "    max_events  N: most events kept in the topic.\n"
            "    max_bytes   SIZE: most bytes of events kept in the topic; K, M, G or T\n"
            "                (powers of 1024).\n"
            "    %s     a topic pattern: dot-separated tokens of a-z, 0-9, _ and -,\n"
            "                where * is any one token and a last > is one or more.\n\n"
            "    Example: keep 7 days and at most 10 GiB of every topic, dead letters\n"
            "    (dlq.>) 30 days without a size limit, audit topics 1000000 events:\n\n"
            "        %s\n"
            "            max_age = 7d\n"
            "            max_bytes = 10G\n"
            "            %s\n"
            "                %s = dlq.>\n"
            "                max_age = 30d\n"
            "            %s\n"
            "                %s = oms.*.audit\n"
            "                max_events = 1000000\n\n"
            "SECURITY\n"
            "    By default (curve = 1) every connection uses CURVE: encrypted, and the\n"
            "    client's public key must be in the permissions file, which says what it may\n"
            "    publish, subscribe and administer (proto/PROTOCOL.md section 14). Other\n"
            "    clients are refused during the handshake. SIGHUP reloads the permissions\n"
            "    file: if it parses, it replaces the old table at once (a removed client's\n"
            "    session ends and its key is refused from then on); if not, the error is\n"
            "    logged and the old table stays. Keys: `orderbus-keys broker DIR` creates\n"
            "    the broker's certificate, `orderbus-keys client NAME DIR --publish P\n"
            "    --subscribe P` a client's, and prints the entry to add to the file:\n\n"
            "        client = oms-7\n"
            "            key = \"<the client's Z85 public key>\"\n"
            "            publish = mp.7\n"
            "            subscribe = oms.7\n"
            "            admin = none                # none | read | write\n\n"
            "    curve = 0 turns all of that off (plaintext; every client may do everything)\n"
            "    and is accepted only on a loopback endpoint or an ipc socket file, which the\n"
            "    broker makes mode 0600 (its own user only). An abstract ipc endpoint\n"
            "    (ipc://@NAME) has no permissions, any local user could connect: refused.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure (the data directory cannot be\n"
            "    opened, the endpoint cannot be bound), 2 on a usage error.\n\n"
            "EXAMPLE\n"
            "    %s --config /etc/orderbus/orderbus-broker.cfg --data-dir /var/lib/orderbus\n"
            "    orderbus-broker --curve 0 --endpoint tcp://127.0.0.1:7450   # development\n",
            OB_VERSION_STRING, S_RETENTION, OB_CONFIG_RETENTION_RULES_MAX, S_RULE, S_PATTERN,
            age_max, S_PATTERN, S_RETENTION, S_RULE, S_PATTERN, S_RULE, S_PATTERN, prog);
}
