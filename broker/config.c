/*  ob_config: defaults, ZPL file and flags. See config.h.

    One table (s_options) describes every setting once: its file key, its flag, its kind and
    range, and its help line, so that the file parser, the flag parser and --help cannot
    disagree about what exists. */
#include "config.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/orderbus.h"

typedef enum s_kind {
    S_KIND_STRING, /* char array in ob_config_t */
    S_KIND_SIZE,   /* uint64_t, accepts a K, M or G suffix (powers of 1024) */
    S_KIND_UINT,   /* unsigned, plain decimal */
    S_KIND_BOOL,   /* int 0/1; as a flag it takes no value and sets 1 */
} s_kind_t;

typedef struct s_option {
    const char *key;  /* key in the file's broker/ section */
    const char *flag; /* command-line flag */
    s_kind_t kind;    /* how the value is parsed */
    size_t offset;    /* field in ob_config_t */
    size_t size;      /* S_KIND_STRING: size of the field, with its NUL */
    uint64_t min;     /* numbers: smallest value */
    uint64_t max;     /* numbers: largest value */
    const char *help; /* usage text, after the flag */
} s_option_t;

#define S_FIELD(name) offsetof(ob_config_t, name), sizeof(((ob_config_t *)0)->name)

static const s_option_t s_options[] = {
    {"endpoint", "--endpoint", S_KIND_STRING, S_FIELD(endpoint), 0, 0,
     "ZeroMQ endpoint the broker binds (tcp://HOST:PORT or ipc://PATH). Only loopback\n"
     "and ipc endpoints are accepted unless --allow-remote is given: there is no\n"
     "authentication yet."},
    {"data_dir", "--data-dir", S_KIND_STRING, S_FIELD(data_dir), 0, 0,
     "Directory of the LMDB environment that holds every topic; created with mode 0700."},
    {"map_size", "--map-size", S_KIND_SIZE, S_FIELD(map_size), OB_MAP_SIZE_MIN,
     OB_CONFIG_MAP_SIZE_MAX,
     "Initial LMDB map size in bytes, with an optional K, M or G suffix (powers of\n"
     "1024). The map doubles whenever it is full, so this is a starting point."},
    {"max_event_bytes", "--max-event-bytes", S_KIND_SIZE, S_FIELD(max_event_bytes),
     OB_CONFIG_EVENT_MIN, OB_EVENT_MAX_CAP,
     "Largest event frame accepted, with an optional K or M suffix; larger publishes\n"
     "are refused with TOO_LARGE."},
    {"batch_max", "--batch-max", S_KIND_UINT, S_FIELD(batch_max), 1, OB_BATCH_MAX,
     "Most publishes committed in one LMDB transaction (group commit)."},
    {"verbose", "--verbose", S_KIND_BOOL, S_FIELD(verbose), 0, 1,
     "Log every refused message (at debug level)."},
    {"allow_remote", "--allow-remote", S_KIND_BOOL, S_FIELD(allow_remote), 0, 1,
     "Allow an endpoint that other machines can reach."},
};

#define S_OPTIONS (sizeof s_options / sizeof s_options[0])

/* Flags that are not settings. */
#define S_FLAG_CONFIG "--config"
#define S_FLAG_HELP "--help"
#define S_FLAG_VERSION "--version"

/* The file's only section. */
#define S_SECTION "broker"

/* Endpoints only this machine can reach (prefixes). */
static const char *s_local_prefixes[] = {
    "tcp://127.0.0.1:", "tcp://[::1]:", "tcp://localhost:", "ipc://", "inproc://"};

/* Endpoint schemes ZeroMQ binds that the broker accepts. */
static const char *s_schemes[] = {"tcp://", "ipc://", "inproc://"};

/* Writes a formatted message into errbuf (errlen bytes, may be 0) and returns
   OB_ERR_INVALID_ARGUMENT, so that callers can `return s_fail(...)`. */
static int s_fail(char *errbuf, size_t errlen, const char *format, ...) CHECK_PRINTF(3);

static int
s_fail(char *errbuf, size_t errlen, const char *format, ...)
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
}

/* Parses a decimal number with, if suffix_ok, one K/M/G suffix (either case). No sign, no
   spaces, no overflow. Returns 0 or -1. */
static int
s_parse_number(const char *text, int suffix_ok, uint64_t *ret_value)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -1;
    uint64_t unit = 1;
    if (*end && suffix_ok) {
        switch (*end) {
        case 'k':
        case 'K':
            unit = 1024;
            break;
        case 'm':
        case 'M':
            unit = 1024 * 1024;
            break;
        case 'g':
        case 'G':
            unit = 1024 * 1024 * 1024;
            break;
        default:
            return -1;
        }
        end++;
    }
    if (*end || value > UINT64_MAX / unit)
        return -1;
    *ret_value = (uint64_t)value * unit;
    return 0;
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

/* Sets opt in cfg from text (borrowed); where says where it came from for the message
   ("flag --map-size", "key map_size in FILE"). Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_set(ob_config_t *cfg, const s_option_t *opt, const char *text, const char *where, char *errbuf,
      size_t errlen)
{
    char *field = (char *)cfg + opt->offset;
    uint64_t number = 0;
    int flag = 0;

    switch (opt->kind) {
    case S_KIND_STRING:
        if (!*text)
            return s_fail(errbuf, errlen, "%s: empty value", where);
        if (strlen(text) >= opt->size)
            return s_fail(errbuf, errlen, "%s: value longer than %zu bytes", where, opt->size - 1);
        memcpy(field, text, strlen(text) + 1);
        return 0;
    case S_KIND_SIZE:
    case S_KIND_UINT:
        if (s_parse_number(text, opt->kind == S_KIND_SIZE, &number))
            return s_fail(errbuf, errlen, "%s: '%s' is not a number%s", where, text,
                          opt->kind == S_KIND_SIZE ? " (digits, then optionally K, M or G)" : "");
        if (number < opt->min || number > opt->max)
            return s_fail(errbuf, errlen, "%s: %s is out of range %" PRIu64 "..%" PRIu64, where,
                          text, opt->min, opt->max);
        if (opt->kind == S_KIND_SIZE)
            memcpy(field, &number, sizeof number);
        else {
            unsigned value = (unsigned)number; /* max is below UINT_MAX */
            memcpy(field, &value, sizeof value);
        }
        return 0;
    case S_KIND_BOOL:
        if (s_parse_bool(text, &flag))
            return s_fail(errbuf, errlen, "%s: '%s' is not 0, 1, false or true", where, text);
        memcpy(field, &flag, sizeof flag);
        return 0;
    }
    return s_fail(errbuf, errlen, "%s: internal error", where);
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

/* Returns the option whose file key is key, or NULL. */
static const s_option_t *
s_find_key(const char *key)
{
    for (size_t i = 0; i < S_OPTIONS; i++)
        if (!strcmp(s_options[i].key, key))
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

/* Applies the broker/ section (borrowed) to cfg. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
static int
s_load_section(ob_config_t *cfg, zconfig_t *section, const char *path, char *errbuf, size_t errlen)
{
    const char *value = zconfig_value(section);
    if (value && *value)
        return s_fail(errbuf, errlen, "config file %s: section '%s' cannot have a value", path,
                      S_SECTION);
    for (zconfig_t *item = zconfig_child(section); item; item = zconfig_next(item)) {
        const char *key = zconfig_name(item);
        const s_option_t *opt = s_find_key(key);
        if (!opt)
            return s_fail(errbuf, errlen, "config file %s: unknown key '%s/%s'", path, S_SECTION,
                          key);
        if (zconfig_child(item))
            return s_fail(errbuf, errlen, "config file %s: key '%s/%s' cannot have children", path,
                          S_SECTION, key);
        char where[OB_CONFIG_PATH_MAX + 64];
        snprintf(where, sizeof where, "config file %s: key '%s/%s'", path, S_SECTION, key);
        value = zconfig_value(item);
        int rc = s_set(cfg, opt, value ? value : "", where, errbuf, errlen);
        if (rc)
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

    if (strlen(path) >= sizeof cfg->config_file)
        return s_fail(errbuf, errlen, "config file name longer than %zu bytes",
                      sizeof cfg->config_file - 1);
    rc = s_read_file(path, &text);
    if (rc) {
        rc = s_fail(errbuf, errlen, "cannot read config file %s: %s", path,
                    rc == OB_ERR_TOO_LARGE ? "larger than 1 MiB" : ob_strerror(rc));
        goto fail;
    }
    snprintf(cfg->config_file, sizeof cfg->config_file, "%s", path);
    if (s_blank(text))
        goto fail; /* rc == 0: an empty file changes nothing (zconfig refuses it) */
    root = zconfig_str_load(text);
    if (!root) {
        /* zconfig logged the line and the reason through zsys_error */
        rc = s_fail(errbuf, errlen, "config file %s: ZPL syntax error (see the line logged above)",
                    path);
        goto fail;
    }
    for (zconfig_t *section = zconfig_child(root); section; section = zconfig_next(section)) {
        const char *name = zconfig_name(section);
        if (strcmp(name, S_SECTION)) {
            rc = s_fail(errbuf, errlen,
                        "config file %s: unknown section '%s' (settings belong in '%s')", path,
                        name, S_SECTION);
            goto fail;
        }
        if ((rc = s_load_section(cfg, section, path, errbuf, errlen)))
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
        return s_fail(errbuf, errlen, "endpoint: empty or longer than %d bytes",
                      OB_CONFIG_ENDPOINT_MAX);
    int scheme_ok = 0;
    for (size_t i = 0; i < sizeof s_schemes / sizeof s_schemes[0]; i++) {
        size_t len = strlen(s_schemes[i]);
        if (!strncmp(cfg->endpoint, s_schemes[i], len) && cfg->endpoint[len])
            scheme_ok = 1;
    }
    if (!scheme_ok)
        return s_fail(errbuf, errlen,
                      "endpoint %s: not tcp://HOST:PORT, ipc://PATH or inproc://NAME",
                      cfg->endpoint);
    if (!strncmp(cfg->endpoint, "tcp://", 6) && s_check_port(cfg->endpoint))
        return s_fail(errbuf, errlen, "endpoint %s: the port must be 1..65535 or *", cfg->endpoint);
    if (!cfg->allow_remote && !ob_config_endpoint_local(cfg->endpoint))
        return s_fail(errbuf, errlen,
                      "endpoint %s is reachable from other machines and the broker has no "
                      "authentication yet: bind tcp://127.0.0.1:PORT or ipc://, or set "
                      "allow_remote = 1 (--allow-remote) if the network is trusted",
                      cfg->endpoint);
    size_t dir_len = strnlen(cfg->data_dir, sizeof cfg->data_dir);
    if (dir_len == 0 || dir_len == sizeof cfg->data_dir)
        return s_fail(errbuf, errlen, "data_dir: empty or too long");

    /* Numbers are checked when set, but a caller may fill the struct directly. */
    for (size_t i = 0; i < S_OPTIONS; i++) {
        const s_option_t *opt = &s_options[i];
        const char *field = (const char *)cfg + opt->offset;
        uint64_t number = 0;
        if (opt->kind == S_KIND_SIZE)
            memcpy(&number, field, sizeof number);
        else if (opt->kind == S_KIND_UINT) {
            unsigned value = 0;
            memcpy(&value, field, sizeof value);
            number = value;
        } else
            continue;
        if (number < opt->min || number > opt->max)
            return s_fail(errbuf, errlen, "%s: %" PRIu64 " is out of range %" PRIu64 "..%" PRIu64,
                          opt->key, number, opt->min, opt->max);
    }
    return 0;
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
            return s_fail(errbuf, errlen, "%.*s takes no value", (int)flag_len, arg);
        value = eq + 1;
    } else if (wants) {
        if (*index + 1 >= argc)
            return s_fail(errbuf, errlen, "%s needs a value", arg);
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
            return s_fail(errbuf, errlen, "unexpected argument '%s' (see --help)", arg);
        const char *eq = strchr(arg, '=');
        len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (!s_find_flag(arg, len) && !s_is(arg, len, S_FLAG_CONFIG) &&
            !s_is(arg, len, S_FLAG_HELP) && !s_is(arg, len, "-h") &&
            !s_is(arg, len, S_FLAG_VERSION))
            return s_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len, arg);
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
            return s_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len, arg);
        char where[64];
        snprintf(where, sizeof where, "%s", opt->flag);
        if ((rc = s_set(cfg, opt, opt->kind == S_KIND_BOOL ? "1" : value, where, errbuf, errlen)))
            return rc;
    }
    return ob_config_validate(cfg, errbuf, errlen);
}

/* Writes a size the way the flags accept it: the largest exact K/M/G unit. */
static void
s_format_size(char *buf, size_t len, uint64_t value)
{
    static const char units[] = "GMK";
    for (int shift = 30, u = 0; shift > 0; shift -= 10, u++) {
        uint64_t unit = (uint64_t)1 << shift;
        if (value && value % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", value / unit, units[u]);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, value);
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
            "        Read settings from FILE, a ZPL file (czmq zconfig) with one section,\n"
            "        '%s'; options given on the command line override it.\n\n",
            prog, prog, S_SECTION);
    for (size_t i = 0; i < S_OPTIONS; i++) {
        const s_option_t *opt = &s_options[i];
        const char *field = (const char *)&defaults + opt->offset;
        char value[OB_CONFIG_PATH_MAX];
        uint64_t number = 0;
        unsigned uvalue = 0;
        int flag = 0;
        switch (opt->kind) {
        case S_KIND_STRING:
            snprintf(value, sizeof value, "%s", field);
            break;
        case S_KIND_SIZE:
            memcpy(&number, field, sizeof number);
            s_format_size(value, sizeof value, number);
            break;
        case S_KIND_UINT:
            memcpy(&uvalue, field, sizeof uvalue);
            snprintf(value, sizeof value, "%u", uvalue);
            break;
        case S_KIND_BOOL:
            memcpy(&flag, field, sizeof flag);
            snprintf(value, sizeof value, "%s", flag ? "on" : "off");
            break;
        }
        fprintf(out, "    %s%s\n        ", opt->flag,
                opt->kind == S_KIND_BOOL ? "" : (opt->kind == S_KIND_STRING ? " VALUE" : " N"));
        for (const char *c = opt->help; *c; c++) {
            fputc(*c, out);
            if (*c == '\n')
                fputs("        ", out);
        }
        fprintf(out, "\n        Default: %s. Config key: %s/%s", value, S_SECTION, opt->key);
        if (opt->kind == S_KIND_BOOL)
            fputs(" = 0|1", out);
        fputs(".\n\n", out);
    }
    fprintf(out,
            "    -h, --help\n"
            "        Print this text and exit.\n\n"
            "    --version\n"
            "        Print the version (%s) and exit.\n\n"
            "EXIT STATUS\n"
            "    0 after a clean stop, 1 on a runtime failure (the data directory cannot be\n"
            "    opened, the endpoint cannot be bound), 2 on a usage error.\n\n"
            "EXAMPLE\n"
            "    %s --config /etc/orderbus/orderbus-broker.cfg --data-dir /var/lib/orderbus\n",
            OB_VERSION_STRING, prog);
}
