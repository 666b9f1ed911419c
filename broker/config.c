/*  ob_config: defaults, ZPL file and flags. See config.h.

    One table (s_options) describes every setting once: its file section and key, its flag, its
    kind and range, and its help line, so that the file parser, the flag parser and --help
    cannot disagree about what exists. The retention options are also the keys of a retention
    rule (retention/topic), which parses them into the rule's ob_retention_t. */
#include "config.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/orderbus.h"
#include "orderbus/pattern.h"

/* ob_config_retention must stay callable as the store's policy lookup. */
_Static_assert(_Generic(&ob_config_retention, ob_store_limits_fn * : 1, default : 0),
               "ob_config_retention is not an ob_store_limits_fn");

typedef enum s_kind {
    S_KIND_STRING,   /* char array */
    S_KIND_SIZE,     /* uint64_t, accepts a K, M, G or T suffix (powers of 1024) */
    S_KIND_UINT,     /* unsigned, plain decimal */
    S_KIND_COUNT,    /* uint64_t, plain decimal */
    S_KIND_DURATION, /* uint64_t milliseconds, written with a unit: ms, s, m, h or d */
    S_KIND_BOOL,     /* int 0/1; as a flag it takes no value and sets 1 */
} s_kind_t;

/* The file's sections, and the retention section's rules. */
#define S_SECTION "broker"
#define S_RETENTION "retention"
#define S_SECURITY "security"
#define S_RULE "topic"
#define S_PATTERN "pattern"

typedef struct s_option {
    const char *section; /* file section: S_SECTION, S_SECURITY or S_RETENTION */
    const char *key;     /* key in that section */
    const char *flag;    /* command-line flag */
    s_kind_t kind;       /* how the value is parsed */
    size_t offset;       /* field in ob_config_t, or in ob_retention_t for S_RETENTION */
    size_t size;         /* S_KIND_STRING: size of the field, with its NUL */
    uint64_t min;        /* numbers: smallest value */
    uint64_t max;        /* numbers: largest value */
    const char *help;    /* usage text, after the flag */
} s_option_t;

#define S_FIELD(name) offsetof(ob_config_t, name), sizeof(((ob_config_t *)0)->name)
#define S_LIMIT(name) offsetof(ob_retention_t, name), sizeof(((ob_retention_t *)0)->name)

static const s_option_t s_options[] = {
    {S_SECTION, "endpoint", "--endpoint", S_KIND_STRING, S_FIELD(endpoint), 0, 0,
     "ZeroMQ endpoint the broker binds (tcp://HOST:PORT or ipc://PATH). With --curve 0\n"
     "only loopback and ipc endpoints are accepted."},
    {S_SECTION, "data_dir", "--data-dir", S_KIND_STRING, S_FIELD(data_dir), 0, 0,
     "Directory of the LMDB environment that holds every topic; created with mode 0700."},
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

/* Flags that are not settings. */
#define S_FLAG_CONFIG "--config"
#define S_FLAG_HELP "--help"
#define S_FLAG_VERSION "--version"

/* Endpoints only this machine can reach (prefixes). */
static const char *s_local_prefixes[] = {
    "tcp://127.0.0.1:", "tcp://[::1]:", "tcp://localhost:", "ipc://", "inproc://"};

/* Endpoint schemes ZeroMQ binds that the broker accepts. */
static const char *s_schemes[] = {"tcp://", "ipc://", "inproc://"};

int
ob_config_fail(char *errbuf, size_t errlen, const char *format, ...)
{
    if (errbuf && errlen) {
        va_list args;
        va_start(args, format);
        vsnprintf(errbuf, errlen, format, args);
        va_end(args);
    }
    return OB_ERR_INVALID_ARGUMENT;
}

void
ob_config_defaults(ob_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "%s", OB_ENDPOINT_DEFAULT);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", OB_DATA_DIR_DEFAULT);
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

/* Size units, largest first: the suffix (either case) and its power of 1024. */
static const struct {
    char suffix;    /* upper case */
    unsigned shift; /* the unit is 1 << shift bytes */
} s_size_units[] = {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}};

/* Duration units, largest first: the suffix (lowercase only: "M" would read as months) and
   its milliseconds. */
static const struct {
    const char *suffix; /* as written after the digits */
    uint64_t ms;        /* milliseconds in one unit */
} s_duration_units[] = {
    {"d", 24 * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1}};

#define S_COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* Parses the leading decimal digits of text into *ret_value and points *ret_end past them.
   No sign, no spaces. Returns 0, -1 (no digit) or -ERANGE (over UINT64_MAX). */
static int
s_parse_digits(const char *text, uint64_t *ret_value, const char **ret_end)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *ret_value = (uint64_t)value;
    *ret_end = end;
    return 0;
}

/* Parses a decimal number with, if suffix_ok, one K/M/G/T suffix (either case). No sign, no
   spaces, no overflow. Returns 0 or -1. */
static int
s_parse_number(const char *text, int suffix_ok, uint64_t *ret_value)
{
    uint64_t value = 0;
    const char *end = NULL;
    if (s_parse_digits(text, &value, &end))
        return -1;
    unsigned shift = 0;
    if (*end && suffix_ok) {
        size_t u = 0;
        while (u < S_COUNT(s_size_units) && s_size_units[u].suffix != toupper((unsigned char)*end))
            u++;
        if (u == S_COUNT(s_size_units))
            return -1;
        shift = s_size_units[u].shift;
        end++;
    }
    if (*end || value > UINT64_MAX >> shift)
        return -1;
    *ret_value = value << shift;
    return 0;
}

/* What s_parse_duration found wrong. */
#define S_DURATION_SYNTAX (-1)  /* not digits and a known unit */
#define S_DURATION_NO_UNIT (-2) /* digits alone, other than 0 */

/* Parses a duration: 0, or decimal digits and one unit of s_duration_units, into
   milliseconds. Returns 0, S_DURATION_SYNTAX, S_DURATION_NO_UNIT or -ERANGE (over
   UINT64_MAX milliseconds). */
static int
s_parse_duration(const char *text, uint64_t *ret_ms)
{
    const char *unit = text;
    while (*unit >= '0' && *unit <= '9')
        unit++;
    if (unit == text)
        return S_DURATION_SYNTAX;
    /* the unit is judged before the digits' overflow: "99999999999999999999x" is a typo */
    uint64_t value = 0;
    const char *end = NULL;
    int overflow = s_parse_digits(text, &value, &end) == -ERANGE;
    if (!*unit) {
        /* A bare number is refused because no unit is obvious (seconds? days?); 0 is 0 in
           every unit. */
        if (overflow || value)
            return S_DURATION_NO_UNIT;
        *ret_ms = 0;
        return 0;
    }
    for (size_t u = 0; u < S_COUNT(s_duration_units); u++) {
        if (strcmp(unit, s_duration_units[u].suffix))
            continue;
        if (overflow || value > UINT64_MAX / s_duration_units[u].ms)
            return -ERANGE;
        *ret_ms = value * s_duration_units[u].ms;
        return 0;
    }
    return S_DURATION_SYNTAX;
}

/* Parses a boolean: 0, 1, false, true. Returns 0 or -1. */
static int
s_parse_bool(const char *text, int *ret_value)
{
    if (!strcmp(text, "1") || !strcmp(text, "true")) {
        *ret_value = 1;
        return 0;
    }
    if (!strcmp(text, "0") || !strcmp(text, "false")) {
        *ret_value = 0;
        return 0;
    }
    return -1;
}

/* Writes a size the way the flags accept it: the largest exact K/M/G/T unit. */
static void
s_format_size(char *buf, size_t len, uint64_t value)
{
    for (size_t u = 0; u < S_COUNT(s_size_units); u++) {
        uint64_t unit = (uint64_t)1 << s_size_units[u].shift;
        if (value && value % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", value / unit, s_size_units[u].suffix);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, value);
}

/* Writes a duration in milliseconds the way the flags accept it: the largest exact unit. */
static void
s_format_duration(char *buf, size_t len, uint64_t ms)
{
    for (size_t u = 0; ms && u < S_COUNT(s_duration_units); u++) {
        if (ms % s_duration_units[u].ms == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", ms / s_duration_units[u].ms,
                     s_duration_units[u].suffix);
            return;
        }
    }
    snprintf(buf, len, "0");
}

/* Writes a number of kind (not S_KIND_STRING) the way the flags accept it. */
static void
s_format_number(char *buf, size_t len, s_kind_t kind, uint64_t value)
{
    if (kind == S_KIND_SIZE)
        s_format_size(buf, len, value);
    else if (kind == S_KIND_DURATION)
        s_format_duration(buf, len, value);
    else
        snprintf(buf, len, "%" PRIu64, value);
}

/* Returns the offset in ob_config_t of opt's field: the retention options are in
   cfg->retention. */
static size_t
s_offset(const s_option_t *opt)
{
    return (strcmp(opt->section, S_RETENTION) ? 0 : offsetof(ob_config_t, retention)) + opt->offset;
}

/* Reads the number of opt (a number kind) at field. */
static uint64_t
s_get_number(const s_option_t *opt, const char *field)
{
    uint64_t number = 0;
    if (opt->kind == S_KIND_UINT) {
        unsigned value = 0;
        memcpy(&value, field, sizeof value);
        number = value;
    } else
        memcpy(&number, field, sizeof number);
    return number;
}

/* Says that value (text, borrowed) of opt is out of its range; where names it. Returns
   OB_ERR_INVALID_ARGUMENT. */
static int
s_range_fail(const s_option_t *opt, const char *value, const char *where, char *errbuf,
             size_t errlen)
{
    char min[32], max[32];
    s_format_number(min, sizeof min, opt->kind, opt->min);
    s_format_number(max, sizeof max, opt->kind, opt->max);
    return ob_config_fail(errbuf, errlen, "%s: %s is out of range %s..%s", where, value, min, max);
}

/* Checks that the number of opt at field is in its range, for a struct a caller filled
   directly; where names it. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_check_range(const s_option_t *opt, const char *field, const char *where, char *errbuf,
              size_t errlen)
{
    uint64_t number = s_get_number(opt, field);
    if (number >= opt->min && number <= opt->max)
        return 0;
    char value[32];
    s_format_number(value, sizeof value, opt->kind, number);
    return s_range_fail(opt, value, where, errbuf, errlen);
}

/* Sets the field of opt (in an ob_config_t at s_offset, or in a rule's ob_retention_t at
   opt->offset) from text (borrowed); where says where it came from for the message ("flag
   --map-size", "key map_size in FILE"). The field is written only on success. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
static int
s_set(char *field, const s_option_t *opt, const char *text, const char *where, char *errbuf,
      size_t errlen)
{
    uint64_t number = 0;
    int flag = 0;
    int rc = 0;

    switch (opt->kind) {
    case S_KIND_STRING:
        if (!*text)
            return ob_config_fail(errbuf, errlen, "%s: empty value", where);
        if (strlen(text) >= opt->size)
            return ob_config_fail(errbuf, errlen, "%s: value longer than %zu bytes", where,
                                  opt->size - 1);
        memcpy(field, text, strlen(text) + 1);
        return 0;
    case S_KIND_SIZE:
    case S_KIND_UINT:
    case S_KIND_COUNT:
        if (s_parse_number(text, opt->kind == S_KIND_SIZE, &number))
            return ob_config_fail(
                errbuf, errlen, "%s: '%s' is not a number%s", where, text,
                opt->kind == S_KIND_SIZE ? " (digits, then optionally K, M, G or T)" : "");
        break;
    case S_KIND_DURATION:
        rc = s_parse_duration(text, &number);
        if (rc == S_DURATION_NO_UNIT)
            return ob_config_fail(errbuf, errlen,
                                  "%s: '%s' has no unit: write ms, s, m, h or d after the digits "
                                  "(500ms, 30s, 15m, 12h, 7d); 0 alone means no limit",
                                  where, text);
        if (rc == S_DURATION_SYNTAX)
            return ob_config_fail(
                errbuf, errlen,
                "%s: '%s' is not a duration: digits and one of the units ms, s, m, h "
                "or d (500ms, 30s, 15m, 12h, 7d), or 0 for no limit",
                where, text);
        if (rc == -ERANGE)
            return s_range_fail(opt, text, where, errbuf, errlen);
        break;
    case S_KIND_BOOL:
        if (s_parse_bool(text, &flag))
            return ob_config_fail(errbuf, errlen, "%s: '%s' is not 0, 1, false or true", where,
                                  text);
        memcpy(field, &flag, sizeof flag);
        return 0;
    }
    /* a number: check its range as written, then store it in the field's type */
    if (number < opt->min || number > opt->max)
        return s_range_fail(opt, text, where, errbuf, errlen);
    if (opt->kind == S_KIND_UINT) {
        unsigned value = (unsigned)number; /* max is below UINT_MAX */
        memcpy(field, &value, sizeof value);
    } else
        memcpy(field, &number, sizeof number);
    return 0;
}

/* Returns 1 if text holds nothing but blank lines and # comments. */
static int
s_blank(const char *text)
{
    int comment = 0;
    for (; *text; text++) {
        if (*text == '\n')
            comment = 0;
        else if (*text == '#')
            comment = 1;
        else if (!comment && *text != ' ' && *text != '\t' && *text != '\r')
            return 0;
    }
    return 1;
}

/* Reads the file at path into a new NUL-terminated string the caller frees. Returns 0,
   -errno, or OB_ERR_TOO_LARGE. */
static int
s_read_file(const char *path, char **ret_text)
{
    int rc = 0;
    char *text = NULL;
    FILE *file = fopen(path, "r");
    if (!file)
        return -errno;
    text = malloc(OB_CONFIG_FILE_MAX + 1);
    if (!text) {
        rc = -ENOMEM;
        goto fail;
    }
    size_t len = fread(text, 1, OB_CONFIG_FILE_MAX + 1, file);
    if (ferror(file)) {
        rc = -EIO;
        goto fail;
    }
    if (len > OB_CONFIG_FILE_MAX) {
        rc = OB_ERR_TOO_LARGE;
        goto fail;
    }
    text[len] = '\0';
    fclose(file);
    *ret_text = text;
    return 0;
fail:
    free(text);
    fclose(file);
    return rc;
}

/* Returns the option whose file key is key in section, or NULL. */
static const s_option_t *
s_find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < S_OPTIONS; i++)
        if (!strcmp(s_options[i].section, section) && !strcmp(s_options[i].key, key))
            return &s_options[i];
    return NULL;
}

/* Returns the option whose flag is flag (len bytes), or NULL. */
static const s_option_t *
s_find_flag(const char *flag, size_t len)
{
    for (size_t i = 0; i < S_OPTIONS; i++)
        if (strlen(s_options[i].flag) == len && !memcmp(s_options[i].flag, flag, len))
            return &s_options[i];
    return NULL;
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
        if (strcmp(name, S_PATTERN) && !s_find_key(S_RETENTION, name))
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
        const s_option_t *opt = s_find_key(S_RETENTION, name);
        char where[OB_CONFIG_PATH_MAX + OB_TOPIC_MAX + 96];
        snprintf(where, sizeof where, "%sretention rule %zu (%s): key '%s/%s/%s'", prefix, number,
                 pattern, S_RETENTION, S_RULE, name);
        value = zconfig_value(key);
        if ((rc = s_set((char *)&rule.retention + opt->offset, opt, value ? value : "", where,
                        errbuf, errlen)))
            return rc;
    }
    cfg->retention_rules[cfg->retention_rule_count++] = rule;
    return 0;
}

/* Applies the section named name (S_SECTION or S_RETENTION; borrowed) to cfg. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
static int
s_load_section(ob_config_t *cfg, zconfig_t *section, const char *name, const char *path,
               char *errbuf, size_t errlen)
{
    const char *value = zconfig_value(section);
    if (value && *value)
        return ob_config_fail(errbuf, errlen, "config file %s: section '%s' cannot have a value",
                              path, name);
    for (zconfig_t *item = zconfig_child(section); item; item = zconfig_next(item)) {
        const char *key = zconfig_name(item);
        int rc = 0;
        if (!strcmp(name, S_RETENTION) && !strcmp(key, S_RULE)) {
            if ((rc = s_load_rule(cfg, item, path, errbuf, errlen)))
                return rc;
            continue;
        }
        const s_option_t *opt = s_find_key(name, key);
        if (!opt)
            return ob_config_fail(errbuf, errlen, "config file %s: unknown key '%s/%s'", path, name,
                                  key);
        if (zconfig_child(item))
            return ob_config_fail(errbuf, errlen,
                                  "config file %s: key '%s/%s' cannot have children", path, name,
                                  key);
        char where[OB_CONFIG_PATH_MAX + 64];
        snprintf(where, sizeof where, "config file %s: key '%s/%s'", path, name, key);
        value = zconfig_value(item);
        if ((rc = s_set((char *)cfg + s_offset(opt), opt, value ? value : "", where, errbuf,
                        errlen)))
            return rc;
    }
    return 0;
}

int
ob_config_load(ob_config_t *cfg, const char *path, char *errbuf, size_t errlen)
{
    int rc = 0;
    char *text = NULL;
    zconfig_t *root = NULL;
    int retention_seen = 0;

    if (strlen(path) >= sizeof cfg->config_file)
        return ob_config_fail(errbuf, errlen, "config file name longer than %zu bytes",
                              sizeof cfg->config_file - 1);
    rc = s_read_file(path, &text);
    if (rc) {
        rc = ob_config_fail(errbuf, errlen, "cannot read config file %s: %s", path,
                            rc == OB_ERR_TOO_LARGE ? "larger than 1 MiB" : ob_strerror(rc));
        goto fail;
    }
    snprintf(cfg->config_file, sizeof cfg->config_file, "%s", path);
    if (s_blank(text))
        goto fail; /* rc == 0: an empty file changes nothing (zconfig refuses it) */
    root = zconfig_str_load(text);
    if (!root) {
        /* zconfig logged the line and the reason through zsys_error */
        rc = ob_config_fail(errbuf, errlen,
                            "config file %s: ZPL syntax error (see the line logged above)", path);
        goto fail;
    }
    for (zconfig_t *section = zconfig_child(root); section; section = zconfig_next(section)) {
        const char *name = zconfig_name(section);
        if (strcmp(name, S_SECTION) && strcmp(name, S_RETENTION) && strcmp(name, S_SECURITY)) {
            rc = ob_config_fail(
                errbuf, errlen,
                "config file %s: unknown section '%s' (settings belong in '%s', '%s' or "
                "'%s')",
                path, name, S_SECTION, S_SECURITY, S_RETENTION);
            goto fail;
        }
        if (!strcmp(name, S_RETENTION)) {
            /* One section, so the order of the rules is the order of the lines. */
            if (retention_seen++) {
                rc = ob_config_fail(errbuf, errlen, "config file %s: a second '%s' section", path,
                                    S_RETENTION);
                goto fail;
            }
            cfg->retention_rule_count = 0; /* the file's rules replace the ones before */
        }
        if ((rc = s_load_section(cfg, section, name, path, errbuf, errlen)))
            goto fail;
    }
fail:
    zconfig_destroy(&root);
    free(text);
    return rc;
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
    if (s_parse_number(port, 0, &value) || value < 1 || value > UINT16_MAX)
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

    /* Numbers and rules are checked when set, but a caller may fill the struct directly. */
    int rc = 0;
    for (size_t i = 0; i < S_OPTIONS; i++) {
        const s_option_t *opt = &s_options[i];
        if (opt->kind == S_KIND_STRING || opt->kind == S_KIND_BOOL)
            continue;
        char where[64];
        snprintf(where, sizeof where, "%s/%s", opt->section, opt->key);
        if ((rc = s_check_range(opt, (const char *)cfg + s_offset(opt), where, errbuf, errlen)))
            return rc;
    }
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
            if ((rc = s_check_range(opt, (const char *)&rule->retention + opt->offset, where,
                                    errbuf, errlen)))
                return rc;
        }
    }
    /* Security last: the values above are wrong whatever the mode. */
    if (cfg->curve > 1)
        return ob_config_fail(errbuf, errlen, "security/curve: %u is not 0 or 1", cfg->curve);
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

/* Splits argv[*index] into a flag and its value: "--flag=value", or "--flag" and (if
   takes_value) the next argument, advancing *index past what it used. *ret_flag_len is the
   flag's length. Returns 0, or OB_ERR_INVALID_ARGUMENT if a value is missing or given to a
   flag that takes none. */
static int
s_split(int argc, char **argv, int *index, int (*takes_value)(const char *, size_t),
        size_t *ret_flag_len, const char **ret_value, char *errbuf, size_t errlen)
{
    const char *arg = argv[*index];
    const char *eq = strchr(arg, '=');
    size_t flag_len = eq ? (size_t)(eq - arg) : strlen(arg);
    int wants = takes_value(arg, flag_len);
    const char *value = NULL;

    if (eq) {
        if (!wants)
            return ob_config_fail(errbuf, errlen, "%.*s takes no value", (int)flag_len, arg);
        value = eq + 1;
    } else if (wants) {
        if (*index + 1 >= argc)
            return ob_config_fail(errbuf, errlen, "%s needs a value", arg);
        value = argv[++*index];
    }
    (*index)++;
    *ret_flag_len = flag_len;
    *ret_value = value;
    return 0;
}

/* Returns 1 if flag (len bytes) is followed by a value, 0 if it is not, -1 if unknown. */
static int
s_takes_value(const char *flag, size_t len)
{
    if (len == strlen(S_FLAG_CONFIG) && !memcmp(flag, S_FLAG_CONFIG, len))
        return 1;
    const s_option_t *opt = s_find_flag(flag, len);
    if (opt)
        return opt->kind != S_KIND_BOOL;
    return 0; /* --help, --version, -h and unknown flags; unknown ones are refused later */
}

/* Returns 1 if the len bytes at arg are the string flag. */
static int
s_is(const char *arg, size_t len, const char *flag)
{
    return len == strlen(flag) && !memcmp(arg, flag, len);
}

int
ob_config_parse(ob_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
    int rc = 0;
    const char *config_file = NULL;
    ob_config_defaults(cfg);
    if (errbuf && errlen)
        errbuf[0] = '\0';

    /* Pass 1: --help, --version and --config, which decide what pass 2 starts from. */
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        size_t len = 0;
        const char *value = NULL;
        if (arg[0] != '-')
            return ob_config_fail(errbuf, errlen, "unexpected argument '%s' (see --help)", arg);
        const char *eq = strchr(arg, '=');
        len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (!s_find_flag(arg, len) && !s_is(arg, len, S_FLAG_CONFIG) &&
            !s_is(arg, len, S_FLAG_HELP) && !s_is(arg, len, "-h") &&
            !s_is(arg, len, S_FLAG_VERSION))
            return ob_config_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len,
                                  arg);
        if ((rc = s_split(argc, argv, &i, s_takes_value, &len, &value, errbuf, errlen)))
            return rc;
        if (s_is(arg, len, S_FLAG_HELP) || s_is(arg, len, "-h")) {
            cfg->help = 1;
            return 0;
        }
        if (s_is(arg, len, S_FLAG_VERSION)) {
            cfg->version = 1;
            return 0;
        }
        if (s_is(arg, len, S_FLAG_CONFIG))
            config_file = value;
    }
    if (config_file && (rc = ob_config_load(cfg, config_file, errbuf, errlen)))
        return rc;

    /* Pass 2: every other flag, over the file. */
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        size_t len = 0;
        const char *value = NULL;
        if ((rc = s_split(argc, argv, &i, s_takes_value, &len, &value, errbuf, errlen)))
            return rc;
        if (s_is(arg, len, S_FLAG_CONFIG))
            continue;
        const s_option_t *opt = s_find_flag(arg, len);
        if (!opt)
            return ob_config_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len,
                                  arg);
        char where[64];
        snprintf(where, sizeof where, "%s", opt->flag);
        if ((rc = s_set((char *)cfg + s_offset(opt), opt, opt->kind == S_KIND_BOOL ? "1" : value,
                        where, errbuf, errlen)))
            return rc;
    }
    return ob_config_validate(cfg, errbuf, errlen);
}

/* The word for an option's value in the usage text. */
static const char *
s_metavar(s_kind_t kind)
{
    switch (kind) {
    case S_KIND_STRING:
        return " VALUE";
    case S_KIND_SIZE:
        return " SIZE";
    case S_KIND_DURATION:
        return " DURATION";
    case S_KIND_UINT:
    case S_KIND_COUNT:
        return " N";
    case S_KIND_BOOL:
        break;
    }
    return "";
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
    for (size_t i = 0; i < S_OPTIONS; i++) {
        const s_option_t *opt = &s_options[i];
        const char *field = (const char *)&defaults + s_offset(opt);
        char value[OB_CONFIG_PATH_MAX];
        int flag = 0;
        if (opt->kind == S_KIND_STRING)
            snprintf(value, sizeof value, "%s", *field ? field : "none");
        else if (opt->kind == S_KIND_BOOL) {
            memcpy(&flag, field, sizeof flag);
            snprintf(value, sizeof value, "%s", flag ? "on" : "off");
        } else {
            uint64_t number = s_get_number(opt, field);
            s_format_number(value, sizeof value, opt->kind, number);
            if (!number && !strcmp(opt->section, S_RETENTION))
                snprintf(value, sizeof value, "0 (no limit)");
        }
        fprintf(out, "    %s%s\n        ", opt->flag, s_metavar(opt->kind));
        for (const char *c = opt->help; *c; c++) {
            fputc(*c, out);
            if (*c == '\n')
                fputs("        ", out);
        }
        fprintf(out, "\n        Default: %s. Config key: %s/%s", value, opt->section, opt->key);
        if (opt->kind == S_KIND_BOOL)
            fputs(" = 0|1", out);
        fputs(".\n\n", out);
    }
    char age_max[32];
    s_format_duration(age_max, sizeof age_max, OB_CONFIG_AGE_MAX_MS);
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
            "    and is accepted only on a loopback or ipc endpoint.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure (the data directory cannot be\n"
            "    opened, the endpoint cannot be bound), 2 on a usage error.\n\n"
            "EXAMPLE\n"
            "    %s --config /etc/orderbus/orderbus-broker.cfg --data-dir /var/lib/orderbus\n"
            "    orderbus-broker --curve 0 --endpoint tcp://127.0.0.1:7450   # development\n",
            OB_VERSION_STRING, S_RETENTION, OB_CONFIG_RETENTION_RULES_MAX, S_RULE, S_PATTERN,
            age_max, S_PATTERN, S_RETENTION, S_RULE, S_PATTERN, S_RULE, S_PATTERN, prog);
}
