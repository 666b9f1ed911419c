/*  test_config: the broker's configuration (broker/config.h): defaults, the ZPL file, flags,
    validation messages, the loopback rule, retention (durations, sizes, rules and the
    lookup ob_config_retention) and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "orderbus/orderbus.h"

#define T_ARGS_MAX 16          /* arguments in one parse */
#define T_PATH_MAX 256         /* bytes in a scratch path */
#define T_TEXT_MAX (64 * 1024) /* bytes in a generated config file */

#define T_SECOND 1000ull         /* milliseconds */
#define T_MINUTE (60 * T_SECOND) /* milliseconds */
#define T_HOUR (60 * T_MINUTE)   /* milliseconds */
#define T_DAY (24 * T_HOUR)      /* milliseconds */
#define T_KIB 1024ull            /* bytes */
#define T_MIB (1024 * T_KIB)     /* bytes */
#define T_GIB (1024 * T_MIB)     /* bytes */
#define T_TIB (1024 * T_GIB)     /* bytes */

typedef struct t_fixture {
    char dir[T_PATH_MAX];      /* scratch directory */
    char file[T_PATH_MAX * 2]; /* config file in it */
} t_fixture_t;

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-config-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->file, sizeof fx->file, "%s/broker.cfg", fx->dir);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    unlink(fx->file);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Writes text into the fixture's config file. */
static void
s_write(const t_fixture_t *fx, const char *text)
{
    FILE *file = fopen(fx->file, "w");
    assert_non_null(file);
    assert_int_equal(fputs(text, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
}

/* Parses a NULL-terminated list of arguments (after the program name). */
static int
s_parse(ob_config_t *cfg, char *errbuf, size_t errlen, ...)
{
    /* Development mode (plaintext), as deploy/orderbus-broker.cfg: most tests are about
       other settings. A later --curve wins; s_parse_raw has no such default. */
    char *argv[T_ARGS_MAX + 1] = {(char *)"orderbus-broker", (char *)"--curve", (char *)"0"};
    int argc = 3;
    va_list args;
    va_start(args, errlen);
    for (char *arg = va_arg(args, char *); arg; arg = va_arg(args, char *)) {
        assert_true(argc < T_ARGS_MAX);
        argv[argc++] = arg;
    }
    va_end(args);
    argv[argc] = NULL;
    return ob_config_parse(cfg, argc, argv, errbuf, errlen);
}

/* Parses the NULL-terminated flags after argv[0] as given. */
static int
s_parse_raw(ob_config_t *cfg, char *errbuf, size_t errlen, ...)
{
    char *argv[T_ARGS_MAX + 1] = {(char *)"orderbus-broker"};
    int argc = 1;
    va_list args;
    va_start(args, errlen);
    for (char *arg = va_arg(args, char *); arg; arg = va_arg(args, char *)) {
        assert_true(argc < T_ARGS_MAX);
        argv[argc++] = arg;
    }
    va_end(args);
    argv[argc] = NULL;
    return ob_config_parse(cfg, argc, argv, errbuf, errlen);
}

/* The defaults with curve = 0, which validate without certificate files. */
static void
s_dev_defaults(ob_config_t *cfg)
{
    ob_config_defaults(cfg);
    cfg->curve = 0;
}

static void
test_defaults(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    /* CURVE is the default, and it needs the broker's certificate and permissions */
    assert_int_equal(s_parse_raw(&cfg, err, sizeof err, NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "security/cert"));
    assert_non_null(strstr(err, "orderbus-keys broker"));
    ob_config_defaults(&cfg);
    assert_int_equal(cfg.curve, 1);
    assert_string_equal(cfg.cert, "");
    assert_string_equal(cfg.permissions, "");
    assert_int_equal(s_parse(&cfg, err, sizeof err, NULL), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.endpoint, OB_ENDPOINT_DEFAULT);
    assert_string_equal(cfg.data_dir, OB_DATA_DIR_DEFAULT);
    assert_string_equal(cfg.metrics, OB_METRICS_HTTP_DEFAULT);
    assert_string_equal(cfg.config_file, "");
    assert_int_equal(cfg.map_size, OB_MAP_SIZE_DEFAULT);
    assert_int_equal(cfg.max_event_bytes, OB_EVENT_MAX_DEFAULT);
    assert_int_equal(cfg.batch_max, OB_BATCH_MAX);
    assert_int_equal(cfg.max_clients, OB_CLIENTS_DEFAULT);
    assert_int_equal(cfg.max_subs_per_client, OB_SUBS_PER_CLIENT_DEFAULT);
    assert_int_equal(cfg.max_pending, OB_PENDING_DEFAULT);
    assert_int_equal(cfg.max_topics, OB_TOPICS_MAX);
    assert_int_equal(cfg.verbose, 0);
    assert_int_equal(cfg.curve, 0);
    assert_int_equal(cfg.help, 0);
    assert_int_equal(cfg.version, 0);

    ob_config_t defaults;
    s_dev_defaults(&defaults);
    assert_memory_equal(&cfg, &defaults, sizeof cfg);
    assert_int_equal(ob_config_validate(&defaults, err, sizeof err), 0);
}

static void
test_flags(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", "ipc:///tmp/ob.ipc",
                             "--data-dir=/var/lib/ob", "--map-size", "64K", "--max-event-bytes=2m",
                             "--batch-max", "100", "--verbose", NULL),
                     0);
    assert_string_equal(cfg.endpoint, "ipc:///tmp/ob.ipc");
    assert_string_equal(cfg.data_dir, "/var/lib/ob");
    assert_int_equal(cfg.map_size, 64 * 1024);
    assert_int_equal(cfg.max_event_bytes, 2 * 1024 * 1024);
    assert_int_equal(cfg.batch_max, 100);
    assert_int_equal(cfg.verbose, 1);

    assert_int_equal(
        s_parse(&cfg, err, sizeof err, "--map-size", "3G", "--max-event-bytes", "65536", NULL), 0);
    assert_int_equal(cfg.map_size, 3ull << 30);
    assert_int_equal(cfg.max_event_bytes, 65536);

    /* the last of a repeated flag wins */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--batch-max", "1", "--batch-max", "2", NULL),
                     0);
    assert_int_equal(cfg.batch_max, 2);

    /* metrics: IPv4 or bracketed IPv6, port 0 for a free one, empty for off */
    const char *metrics[] = {"127.0.0.1:0", "0.0.0.0:9100", "[::1]:7459", "[::]:65535", ""};
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        assert_int_equal(s_parse(&cfg, err, sizeof err, "--metrics", metrics[i], NULL), 0);
        assert_string_equal(cfg.metrics, metrics[i]);
    }
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--metrics=", NULL), 0);
    assert_string_equal(cfg.metrics, "");
}

static void
test_file_and_override(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    s_write(fx, "# a comment\n"
                "broker\n"
                "    endpoint = tcp://127.0.0.1:9999   # trailing comment\n"
                "    endpoint_file = /run/orderbus/endpoint\n"
                "    data_dir = \"/srv/orderbus data\"\n"
                "    map_size = 2G\n"
                "    max_event_bytes = 512K\n"
                "    batch_max = 128\n"
                "    verbose = 1\n"
                "    metrics = \"\"\n"
                "security\n"
                "    curve = 0\n");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_string_equal(cfg.metrics, ""); /* off */
    assert_string_equal(cfg.config_file, fx->file);
    assert_string_equal(cfg.endpoint, "tcp://127.0.0.1:9999");
    assert_string_equal(cfg.endpoint_file, "/run/orderbus/endpoint");
    assert_string_equal(cfg.data_dir, "/srv/orderbus data");
    assert_int_equal(cfg.map_size, 2ull << 30);
    assert_int_equal(cfg.max_event_bytes, 512 * 1024);
    assert_int_equal(cfg.batch_max, 128);
    assert_int_equal(cfg.verbose, 1);

    /* flags override the file, before or after --config */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--batch-max", "7", "--config", fx->file,
                             "--endpoint", "ipc:///tmp/x.ipc", "--endpoint-file", "ep", NULL),
                     0);
    assert_int_equal(cfg.batch_max, 7);
    assert_string_equal(cfg.endpoint_file, "ep");
    assert_string_equal(cfg.metrics, "");
    assert_string_equal(cfg.endpoint, "ipc:///tmp/x.ipc");
    assert_int_equal(cfg.map_size, 2ull << 30);

    /* an empty file (or comments only) changes nothing */
    s_write(fx, "# nothing here\n\n");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_string_equal(cfg.endpoint, OB_ENDPOINT_DEFAULT);
    s_write(fx, "");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
}

static void
test_shipped_example(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    const char *shipped = OB_SOURCE_DIR "/deploy/orderbus-broker.cfg";
    int rc = s_parse(&cfg, err, sizeof err, "--config", shipped, NULL);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.endpoint, OB_ENDPOINT_DEFAULT);
    assert_int_equal(cfg.batch_max, OB_BATCH_MAX);
    /* retention is unlimited there too, and its example rule is commented out */
    assert_int_equal(cfg.retention.max_age_ms, 0);
    assert_int_equal(cfg.retention.max_events, 0);
    assert_int_equal(cfg.retention.max_bytes, 0);
    assert_int_equal(cfg.retention_rule_count, 0);

    /* its commented-out example rule works once uncommented */
    static char text[T_TEXT_MAX];
    FILE *file = fopen(shipped, "r");
    assert_non_null(file);
    size_t len = fread(text, 1, sizeof text - 1, file);
    assert_int_equal(fclose(file), 0);
    text[len] = '\0';
    static const char *commented = "    #   topic\n"
                                   "    #       pattern = dlq.>\n"
                                   "    #       max_age = 30d\n";
    static const char *rule = "    topic\n"
                              "        pattern = dlq.>\n"
                              "        max_age = 30d\n";
    char *at = strstr(text, commented);
    assert_non_null(at);
    memmove(at + strlen(rule), at + strlen(commented), strlen(at + strlen(commented)) + 1);
    memcpy(at, rule, strlen(rule));
    s_write(fx, text);
    rc = s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.retention_rule_count, 1);
    assert_string_equal(cfg.retention_rules[0].pattern, "dlq.>");
    assert_int_equal(cfg.retention_rules[0].retention.max_age_ms, 30 * T_DAY);
    assert_int_equal(cfg.retention_rules[0].retention.max_bytes, 0);
}

/* One invalid command line and a piece of the message it must produce. */
typedef struct t_bad {
    const char *args[6]; /* arguments after the program name, NULL-terminated */
    const char *message; /* expected substring of the error */
} t_bad_t;

static void
test_invalid_flags(void **state)
{
    (void)state;
    static char long_dir[OB_CONFIG_PATH_MAX + 10];
    memset(long_dir, 'd', sizeof long_dir - 1);
    static char long_metrics[OB_METRICS_HTTP_ADDRESS_MAX + 1];
    memset(long_metrics, '1', sizeof long_metrics - 1);
    static const t_bad_t cases[] = {
        {{"--map-size", "12X"}, "--map-size: '12X' is not a number"},
        {{"--map-size", "1K"}, "--map-size: 1K is out of range"},
        {{"--map-size", "2048G"}, "out of range"},
        {{"--map-size", "99999999999999999999"}, "not a number"},
        {{"--map-size", "-1"}, "not a number"},
        {{"--map-size", " 1G"}, "not a number"},
        {{"--map-size", "1GB"}, "not a number"},
        {{"--map-size", ""}, "not a number"},
        {{"--max-event-bytes", "17M"}, "--max-event-bytes: 17M is out of range"},
        {{"--max-event-bytes", "10"}, "out of range"},
        {{"--batch-max", "0"}, "--batch-max: 0 is out of range 1..4096"},
        {{"--batch-max", "5000"}, "out of range"},
        {{"--max-clients", "0"}, "--max-clients: 0 is out of range 1..1000000"},
        {{"--max-subs-per-client", "100001"}, "out of range"},
        {{"--max-pending", "0"}, "out of range"},
        {{"--max-pending", "65537"}, "--max-pending: 65537 is out of range 1..65536"},
        {{"--max-topics", "1000001"}, "out of range"},
        {{"--batch-max", "1K"}, "--batch-max: '1K' is not a number"},
        {{"--batch-max", "+5"}, "not a number"},
        {{"--endpoint", ""}, "--endpoint: empty value"},
        {{"--endpoint", "foo"}, "endpoint foo: not tcp://"},
        {{"--endpoint", "tcp://"}, "not tcp://"},
        {{"--curve", "0", "--endpoint", "tcp://0.0.0.0:7450"}, "curve = 0 (plaintext"},
        {{"--curve", "2"}, "--curve: 2 is out of range 0..1"},
        {{"--curve", "1"}, "security/cert: required"},
        {{"--curve", "1", "--cert", "/k/broker.cert"}, "security/permissions: required"},
        {{"--allow-remote", NULL}, "unknown flag '--allow-remote'"},
        {{"--endpoint", "tcp://127.0.0.1:99999"}, "the port must be 1..65535 or *"},
        {{"--endpoint", "tcp://127.0.0.1:0"}, "the port must be"},
        {{"--endpoint", "tcp://127.0.0.1:"}, "the port must be"},
        {{"--endpoint", "tcp://127.0.0.1"}, "the port must be"},
        {{"--endpoint", "tcp://localhost:http"}, "the port must be"},
        {{"--data-dir", ""}, "--data-dir: empty value"},
        {{"--metrics", "localhost:7459"}, "metrics localhost:7459: the host must be an IPv4"},
        {{"--metrics", "7459"}, "metrics 7459: not HOST:PORT"},
        {{"--metrics", ":7459"}, "not HOST:PORT"},
        {{"--metrics", "127.0.0.1:"}, "metrics 127.0.0.1:: the port must be 0..65535"},
        {{"--metrics", "127.0.0.1:65536"}, "the port must be 0..65535"},
        {{"--metrics", "127.0.0.1:-1"}, "the port must be"},
        {{"--metrics", "127.0.0.1:123456"}, "the port must be"},
        {{"--metrics", "[::1:7459"}, "the host must be"},
        {{"--metrics", "::1:7459"}, "the host must be"},
        {{"--metrics", "[nothost]:7459"}, "the host must be"},
        {{"--metrics", "1.2.3.4.5:80"}, "the host must be"},
        {{"--metrics", long_metrics}, "--metrics: value longer than 63 bytes"},
        {{"--data-dir", long_dir}, "--data-dir: value longer than"},
        {{"--bogus"}, "unknown flag '--bogus'"},
        {{"--bogus=1"}, "unknown flag '--bogus'"},
        {{"--endpoint"}, "--endpoint needs a value"},
        {{"--verbose=1"}, "--verbose takes no value"},
        {{"extra"}, "unexpected argument 'extra'"},
        {{"--config", "/nonexistent/orderbus.cfg"}, "cannot read config file /nonexistent"},
        {{"--config"}, "--config needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const t_bad_t *bad = &cases[i];
        char *argv[8] = {(char *)"orderbus-broker"};
        int argc = 1;
        for (int a = 0; bad->args[a]; a++)
            argv[argc++] = (char *)bad->args[a];
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = ob_config_parse(&cfg, argc, argv, err, sizeof err);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, bad->message))
            print_error("case %zu (%s %s): rc %d, message '%s', expected '%s'\n", i, bad->args[0],
                        bad->args[1] ? bad->args[1] : "", rc, err, bad->message);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, bad->message));
    }
    /* a NULL or zero-sized errbuf is fine */
    char *argv[] = {(char *)"orderbus-broker", (char *)"--bogus", NULL};
    ob_config_t cfg;
    assert_int_equal(ob_config_parse(&cfg, 2, argv, NULL, 0), OB_ERR_INVALID_ARGUMENT);
}

/* One invalid config file and a piece of the message it must produce. */
typedef struct t_bad_file {
    const char *text;    /* file contents */
    const char *message; /* expected substring of the error */
} t_bad_file_t;

static void
test_invalid_file(void **state)
{
    t_fixture_t *fx = *state;
    static const t_bad_file_t cases[] = {
        {"broker\n    endpont = tcp://127.0.0.1:1\n", "unknown key 'broker/endpont'"},
        {"broker\n    map_size = lots\n", "key 'broker/map_size': 'lots' is not a number"},
        {"broker\n    map_size = 1\n", "key 'broker/map_size': 1 is out of range"},
        {"broker\n    batch_max = 99999\n", "key 'broker/batch_max': 99999 is out of range"},
        {"broker\n    max_clients = 0\n", "key 'broker/max_clients': 0 is out of range"},
        {"broker\n    verbose = maybe\n", "key 'broker/verbose': 'maybe' is not 0, 1"},
        {"broker\n    endpoint\n", "key 'broker/endpoint': empty value"},
        {"broker\n    endpoint = tcp://*:7450\n", "curve = 0 (plaintext"},
        {"broker\n    allow_remote = 1\n", "unknown key 'broker/allow_remote'"},
        {"security\n    curve = yes\n", "key 'security/curve': 'yes' is not a number"},
        {"security\n    keys = x\n", "unknown key 'security/keys'"},
        {"broker\n    endpoint\n        deeper = 1\n", "cannot have children"},
        {"gateway\n    endpoint = tcp://127.0.0.1:1\n", "unknown section 'gateway'"},
        {"endpoint = tcp://127.0.0.1:1\n", "unknown section 'endpoint'"},
        {"broker = 1\n", "section 'broker' cannot have a value"},
        {"broker\n    endpoint = tcp://127.0.0.1:1\n  bad = indent\n", "ZPL syntax error"},
        {"broker\n    data_dir = \"unterminated\n", "ZPL syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write(fx, cases[i].text);
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, cases[i].message))
            print_error("case %zu: rc %d, message '%s', expected '%s'\n", i, rc, err,
                        cases[i].message);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, cases[i].message));
    }
}

static void
test_loopback_rule(void **state)
{
    t_fixture_t *fx = *state;
    static const char *local[] = {"tcp://127.0.0.1:7450",    "tcp://127.0.0.1:*",
                                  "tcp://[::1]:7450",        "tcp://localhost:7450",
                                  "ipc:///tmp/orderbus.ipc", "inproc://orderbus"};
    static const char *remote[] = {"tcp://0.0.0.0:7450",  "tcp://*:7450",
                                   "tcp://10.0.0.1:7450", "tcp://127.0.0.1.example.org:7450",
                                   "tcp://eth0:7450",     "tcp://localhost.example.org:7450"};
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++) {
        assert_int_equal(ob_config_endpoint_local(local[i]), 1);
        assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", local[i], NULL), 0);
    }
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++) {
        assert_int_equal(ob_config_endpoint_local(remote[i]), 0);
        assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", remote[i], NULL),
                         OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, remote[i]));
        /* with CURVE any endpoint goes (the files are read when the server starts) */
        assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", remote[i], "--curve", "1",
                                 "--cert", "/k/broker.cert", "--permissions", "/k/perms.cfg", NULL),
                         0);
        assert_int_equal(cfg.curve, 1);
        assert_string_equal(cfg.cert, "/k/broker.cert");
        assert_string_equal(cfg.permissions, "/k/perms.cfg");
    }
    /* an abstract ipc name is local but has no file permissions: any local user could
       connect, so plaintext refuses it; CURVE authenticates, so it may */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", "ipc://@orderbus", NULL),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "abstract"));
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--endpoint", "ipc://@orderbus", "--curve", "1",
                             "--cert", "/k/broker.cert", "--permissions", "/k/perms.cfg", NULL),
                     0);
    /* the security section of the file; a flag overrides it */
    s_write(fx, "broker\n    endpoint = tcp://*:7450\nsecurity\n    curve = 1\n"
                "    cert = \"/etc/orderbus/keys/broker.cert\"\n"
                "    permissions = /etc/orderbus/permissions.cfg\n");
    assert_int_equal(s_parse_raw(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_int_equal(cfg.curve, 1);
    assert_string_equal(cfg.endpoint, "tcp://*:7450");
    assert_string_equal(cfg.cert, "/etc/orderbus/keys/broker.cert");
    assert_string_equal(cfg.permissions, "/etc/orderbus/permissions.cfg");
    assert_int_equal(s_parse_raw(&cfg, err, sizeof err, "--config", fx->file, "--curve", "0", NULL),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "tcp://*:7450 is reachable from other machines"));
}

static void
test_validate_direct(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    s_dev_defaults(&cfg);
    cfg.batch_max = 0;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "batch_max"));
    s_dev_defaults(&cfg);
    cfg.max_event_bytes = OB_EVENT_MAX_ACCEPT + 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "max_event_bytes"));
    s_dev_defaults(&cfg);
    cfg.map_size = OB_MAP_SIZE_MIN - 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "map_size"));
    s_dev_defaults(&cfg);
    cfg.data_dir[0] = '\0';
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "data_dir"));

    /* retention: the defaults, the rules' patterns, limits and count */
    s_dev_defaults(&cfg);
    cfg.retention.max_age_ms = OB_CONFIG_AGE_MAX_MS + 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "retention/max_age: "));
    assert_non_null(strstr(err, "out of range 0..36500d"));
    s_dev_defaults(&cfg);
    cfg.retention_rule_count = 1;
    snprintf(cfg.retention_rules[0].pattern, sizeof cfg.retention_rules[0].pattern, "oms.a*");
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "retention rule 1: invalid pattern 'oms.a*'"));
    memset(cfg.retention_rules[0].pattern, 'a', sizeof cfg.retention_rules[0].pattern);
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "is longer than 255 bytes"));
    snprintf(cfg.retention_rules[0].pattern, sizeof cfg.retention_rules[0].pattern, "oms.>");
    cfg.retention_rules[0].retention.max_age_ms = UINT64_MAX;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "retention rule 1 (oms.>): max_age"));
    cfg.retention_rules[0].retention.max_age_ms = 7 * T_DAY;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), 0);
    cfg.retention_rule_count = 2;
    cfg.retention_rules[1] = cfg.retention_rules[0];
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "retention rule 2: pattern 'oms.>' repeats rule 1's"));
    cfg.retention_rule_count = OB_CONFIG_RETENTION_RULES_MAX + 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "65 retention rules, more than 64"));
}

/* One duration and the milliseconds it means. */
typedef struct t_duration {
    const char *text; /* as written */
    uint64_t ms;      /* expected value */
} t_duration_t;

static void
test_retention_durations(void **state)
{
    t_fixture_t *fx = *state;
    static const t_duration_t good[] = {
        {"0", 0},
        {"0ms", 0},
        {"0d", 0},
        {"1ms", 1},
        {"500ms", 500},
        {"30s", 30 * T_SECOND},
        {"15m", 15 * T_MINUTE},
        {"90m", 90 * T_MINUTE},
        {"12h", 12 * T_HOUR},
        {"7d", 7 * T_DAY},
        {"007d", 7 * T_DAY},
        {"36500d", OB_CONFIG_AGE_MAX_MS},
        {"876000h", OB_CONFIG_AGE_MAX_MS},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = s_parse(&cfg, err, sizeof err, "--retention-max-age", good[i].text, NULL);
        if (rc)
            print_error("'%s': %s\n", good[i].text, err);
        assert_int_equal(rc, 0);
        assert_int_equal(cfg.retention.max_age_ms, good[i].ms);

        /* the same in the file, for the defaults and in a rule */
        char text[256];
        snprintf(text, sizeof text,
                 "retention\n    max_age = %s\n    topic\n        pattern = a\n"
                 "        max_age = %s\n",
                 good[i].text, good[i].text);
        s_write(fx, text);
        assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
        assert_int_equal(cfg.retention.max_age_ms, good[i].ms);
        assert_int_equal(cfg.retention_rules[0].retention.max_age_ms, good[i].ms);
    }

    static const t_bad_t bad[] = {
        /* no unit: the message says which units exist */
        {{"--retention-max-age", "30"},
         "--retention-max-age: '30' has no unit: write ms, s, m, h or d after the digits"},
        {{"--retention-max-age", "1"}, "has no unit"},
        {{"--retention-max-age", "99999999999999999999"}, "has no unit"},
        /* an unknown unit, or not digits and one unit */
        {{"--retention-max-age", "5x"},
         "--retention-max-age: '5x' is not a duration: digits and one of the units ms, s, m, h "
         "or d"},
        {{"--retention-max-age", "5S"}, "'5S' is not a duration"},
        {{"--retention-max-age", "5M"}, "is not a duration"},
        {{"--retention-max-age", "5sec"}, "is not a duration"},
        {{"--retention-max-age", "5mss"}, "is not a duration"},
        {{"--retention-max-age", "1h30m"}, "is not a duration"},
        {{"--retention-max-age", "1.5h"}, "is not a duration"},
        {{"--retention-max-age", "5 s"}, "is not a duration"},
        {{"--retention-max-age", " 5s"}, "is not a duration"},
        {{"--retention-max-age", "-5s"}, "is not a duration"},
        {{"--retention-max-age", "+5s"}, "is not a duration"},
        {{"--retention-max-age", "s"}, "is not a duration"},
        {{"--retention-max-age", ""}, "is not a duration"},
        {{"--retention-max-age", "99999999999999999999x"}, "is not a duration"},
        /* overflow: over the cap, over 64 bits after the unit, over 64 bits as digits */
        {{"--retention-max-age", "36501d"},
         "--retention-max-age: 36501d is out of range 0..36500d"},
        {{"--retention-max-age", "3153600000001ms"}, "out of range 0..36500d"},
        {{"--retention-max-age", "213503982334602d"}, "out of range 0..36500d"},
        {{"--retention-max-age", "18446744073709551615ms"}, "out of range"},
        {{"--retention-max-age", "99999999999999999999d"}, "out of range 0..36500d"},
        {{"--retention-max-age"}, "--retention-max-age needs a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[6] = {(char *)"orderbus-broker"};
        int argc = 1;
        for (int a = 0; bad[i].args[a]; a++)
            argv[argc++] = (char *)bad[i].args[a];
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = ob_config_parse(&cfg, argc, argv, err, sizeof err);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, bad[i].message))
            print_error("case %zu (%s): rc %d, message '%s', expected '%s'\n", i,
                        bad[i].args[1] ? bad[i].args[1] : "", rc, err, bad[i].message);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, bad[i].message));
    }
}

/* One size or count and its value. */
typedef struct t_number {
    const char *flag; /* the flag */
    const char *text; /* as written */
    uint64_t value;   /* expected value */
} t_number_t;

static void
test_retention_sizes(void **state)
{
    (void)state;
    static const t_number_t good[] = {
        {"--retention-max-bytes", "0", 0},
        {"--retention-max-bytes", "123", 123},
        {"--retention-max-bytes", "512k", 512 * T_KIB},
        {"--retention-max-bytes", "64M", 64 * T_MIB},
        {"--retention-max-bytes", "10G", 10 * T_GIB},
        {"--retention-max-bytes", "2t", 2 * T_TIB},
        {"--retention-max-bytes", "16777215T", 16777215 * T_TIB},
        {"--retention-max-bytes", "18446744073709551615", UINT64_MAX},
        {"--retention-max-events", "0", 0},
        {"--retention-max-events", "1000000", 1000000},
        {"--retention-max-events", "18446744073709551615", UINT64_MAX},
        {"--map-size", "1T", T_TIB}, /* T is new for map_size too */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = s_parse(&cfg, err, sizeof err, good[i].flag, good[i].text, NULL);
        if (rc)
            print_error("%s %s: %s\n", good[i].flag, good[i].text, err);
        assert_int_equal(rc, 0);
        uint64_t value = !strcmp(good[i].flag, "--retention-max-bytes") ? cfg.retention.max_bytes
                         : !strcmp(good[i].flag, "--retention-max-events")
                             ? cfg.retention.max_events
                             : cfg.map_size;
        assert_int_equal(value, good[i].value);
    }

    static const t_bad_t bad[] = {
        {{"--retention-max-bytes", "10GB"},
         "--retention-max-bytes: '10GB' is not a number (digits, then optionally K, M, G or T)"},
        {{"--retention-max-bytes", "10X"}, "not a number"},
        {{"--retention-max-bytes", "1P"}, "not a number"},
        {{"--retention-max-bytes", "16777216T"}, "not a number"}, /* over 64 bits */
        {{"--retention-max-bytes", "18446744073709551616"}, "not a number"},
        {{"--retention-max-bytes", "-1"}, "not a number"},
        {{"--retention-max-bytes", "7d"}, "not a number"},
        {{"--retention-max-events", "1K"}, "--retention-max-events: '1K' is not a number"},
        {{"--retention-max-events", "1e6"}, "not a number"},
        {{"--retention-max-events", ""}, "not a number"},
        {{"--map-size", "2T"}, "--map-size: 2T is out of range 64K..1T"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {(char *)"orderbus-broker", (char *)bad[i].args[0], (char *)bad[i].args[1],
                        NULL};
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = ob_config_parse(&cfg, 3, argv, err, sizeof err);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, bad[i].message))
            print_error("case %zu (%s %s): rc %d, message '%s', expected '%s'\n", i, bad[i].args[0],
                        bad[i].args[1], rc, err, bad[i].message);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, bad[i].message));
    }
}

/* A file with defaults and five rules, the example of config.h and --help among them. */
static const char *s_rules_file = "broker\n"
                                  "    batch_max = 64\n"
                                  "retention\n"
                                  "    max_age = 7d\n"
                                  "    max_bytes = 10G\n"
                                  "    topic\n"
                                  "        pattern = dlq.>         # no byte limit\n"
                                  "        max_age = 30d\n"
                                  "    topic\n"
                                  "        max_events = 1000000    # pattern after a limit\n"
                                  "        pattern = \"oms.*.audit\"\n"
                                  "    topic\n"
                                  "        pattern = oms.orders.audit  # after oms.*.audit\n"
                                  "        max_events = 5\n"
                                  "    topic\n"
                                  "        pattern = oms.>\n"
                                  "        max_age = 12h\n"
                                  "        max_events = 100\n"
                                  "        max_bytes = 1M\n"
                                  "    topic\n"
                                  "        pattern = scratch   # keeps everything\n";

static void
test_retention_rules(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    s_write(fx, s_rules_file);
    int rc = s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.batch_max, 64);
    assert_int_equal(cfg.retention.max_age_ms, 7 * T_DAY);
    assert_int_equal(cfg.retention.max_events, 0); /* absent from the defaults: no limit */
    assert_int_equal(cfg.retention.max_bytes, 10 * T_GIB);

    /* in file order, each with only the limits it sets */
    static const ob_config_rule_t expected[] = {
        {"dlq.>", {30 * T_DAY, 0, 0}},   {"oms.*.audit", {0, 1000000, 0}},
        {"oms.orders.audit", {0, 5, 0}}, {"oms.>", {12 * T_HOUR, 100, T_MIB}},
        {"scratch", {0, 0, 0}},
    };
    assert_int_equal(cfg.retention_rule_count, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < cfg.retention_rule_count; i++) {
        assert_string_equal(cfg.retention_rules[i].pattern, expected[i].pattern);
        assert_memory_equal(&cfg.retention_rules[i].retention, &expected[i].retention,
                            sizeof(ob_retention_t));
    }
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), 0);

    /* flags override the file's defaults, and leave its rules alone */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--retention-max-age", "1h", "--config",
                             fx->file, "--retention-max-events=50", "--retention-max-bytes", "0",
                             NULL),
                     0);
    assert_int_equal(cfg.retention.max_age_ms, T_HOUR);
    assert_int_equal(cfg.retention.max_events, 50);
    assert_int_equal(cfg.retention.max_bytes, 0);
    assert_int_equal(cfg.retention_rule_count, sizeof expected / sizeof expected[0]);
    assert_int_equal(cfg.retention_rules[0].retention.max_age_ms, 30 * T_DAY);
    assert_int_equal(cfg.retention_rules[0].retention.max_events, 0); /* not the flag's 50 */

    /* ob_config_load: a file's rules replace the ones before; a file without keeps them */
    s_write(fx, "retention\n    topic\n        pattern = only.>\n");
    assert_int_equal(ob_config_load(&cfg, fx->file, err, sizeof err), 0);
    assert_int_equal(cfg.retention_rule_count, 1);
    assert_string_equal(cfg.retention_rules[0].pattern, "only.>");
    assert_int_equal(cfg.retention.max_age_ms, T_HOUR); /* the defaults stay where not set */
    s_write(fx, "broker\n    verbose = 1\n");
    assert_int_equal(ob_config_load(&cfg, fx->file, err, sizeof err), 0);
    assert_int_equal(cfg.retention_rule_count, 1);

    /* an empty retention section is fine */
    s_write(fx, "retention\n");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_int_equal(cfg.retention_rule_count, 0);
}

/* One topic and the limits ob_config_retention must give it. */
typedef struct t_lookup {
    const char *topic;        /* topic name */
    ob_retention_t retention; /* expected limits */
} t_lookup_t;

static void
test_retention_lookup(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    s_write(fx, s_rules_file);
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);

    const ob_retention_t defaults = {7 * T_DAY, 0, 10 * T_GIB};
    const t_lookup_t cases[] = {
        {"dlq.oms.orders", {30 * T_DAY, 0, 0}}, /* no byte limit: not the default 10G */
        {"dlq.x", {30 * T_DAY, 0, 0}},
        {"dlq", defaults},                     /* > needs one token or more */
        {"oms.orders.audit", {0, 1000000, 0}}, /* oms.*.audit comes first and wins */
        {"oms.trades.audit", {0, 1000000, 0}},
        {"oms.orders", {12 * T_HOUR, 100, T_MIB}}, /* oms.> */
        {"oms.orders.audit.old", {12 * T_HOUR, 100, T_MIB}},
        {"oms", defaults},
        {"scratch", {0, 0, 0}}, /* a rule without limits keeps everything */
        {"scratch.x", defaults},
        {"crm.contacts", defaults},
        {"x", defaults},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ob_retention_t ret;
        memset(&ret, 0xa5, sizeof ret);
        ob_config_retention(&cfg, cases[i].topic, &ret);
        if (memcmp(&ret, &cases[i].retention, sizeof ret))
            print_error("topic %s: got %llu/%llu/%llu\n", cases[i].topic,
                        (unsigned long long)ret.max_age_ms, (unsigned long long)ret.max_events,
                        (unsigned long long)ret.max_bytes);
        assert_memory_equal(&ret, &cases[i].retention, sizeof ret);
    }

    /* usable where the store wants its policy lookup */
    ob_store_limits_fn *limits = ob_config_retention;
    ob_retention_t ret;
    limits(&cfg, "dlq.a", &ret);
    assert_int_equal(ret.max_age_ms, 30 * T_DAY);

    /* without rules every topic gets the defaults, all unlimited out of the box */
    ob_config_defaults(&cfg);
    ob_config_retention(&cfg, "oms.orders", &ret);
    assert_int_equal(ret.max_age_ms, 0);
    assert_int_equal(ret.max_events, 0);
    assert_int_equal(ret.max_bytes, 0);
}

static void
test_retention_invalid_file(void **state)
{
    t_fixture_t *fx = *state;
    static char long_pattern[1024];
    snprintf(long_pattern, sizeof long_pattern, "retention\n    topic\n        pattern = ");
    size_t at = strlen(long_pattern);
    memset(long_pattern + at, 'a', 300);
    memcpy(long_pattern + at + 300, "\n", 2);

    static const t_bad_file_t cases[] = {
        /* the retention section's own keys */
        {"retention\n    max_age = 30\n", "key 'retention/max_age': '30' has no unit"},
        {"retention\n    max_age = 30q\n", "key 'retention/max_age': '30q' is not a duration"},
        {"retention\n    max_bytes = 1Q\n", "key 'retention/max_bytes': '1Q' is not a number"},
        {"retention\n    max_events = many\n", "key 'retention/max_events': 'many'"},
        {"retention\n    max_size = 1G\n", "unknown key 'retention/max_size'"},
        {"retention\n    max_age = 1d\n        deeper = 1\n",
         "key 'retention/max_age' cannot have children"},
        {"retention = 7d\n", "section 'retention' cannot have a value"},
        {"retention\n    max_age = 1d\nretention\n    max_age = 2d\n",
         "a second 'retention' section"},
        /* max_age belongs in retention/, not broker/ */
        {"broker\n    max_age = 1d\n", "unknown key 'broker/max_age'"},
        {"retentions\n    max_age = 1d\n", "unknown section 'retentions'"},
        /* rules */
        {"retention\n    topic\n        pattern = oms.a*\n",
         "retention rule 1: invalid pattern 'oms.a*' (dot-separated tokens"},
        {"retention\n    topic\n        pattern = a\n    topic\n        pattern = OMS.Orders\n",
         "retention rule 2: invalid pattern 'OMS.Orders'"},
        {"retention\n    topic\n        pattern = >.x\n", "invalid pattern '>.x'"},
        {"retention\n    topic\n        pattern = a.\n", "invalid pattern 'a.'"},
        {"retention\n    topic\n        pattern\n", "invalid pattern ''"},
        {long_pattern, "retention rule 1: pattern 'aaaaaaaa"},
        {long_pattern, "...' is longer than 255 bytes"},
        {"retention\n    topic\n        max_age = 1d\n",
         "retention rule 1: no pattern (each 'topic' needs pattern = PATTERN)"},
        {"retention\n    topic\n", "retention rule 1: no pattern"},
        {"retention\n    topic\n        pattern = a\n        max_age = 1d\n"
         "        pattern = b\n",
         "retention rule 1: two patterns"},
        {"retention\n    topic\n        pattern = a\n    topic\n        pattern = a\n",
         "retention rule 2: pattern 'a' repeats rule 1's, so it would never match"},
        {"retention\n    topic\n        pattern = dlq.>\n        max_size = 1G\n",
         "retention rule 1: unknown key 'retention/topic/max_size' (a rule takes pattern, "
         "max_age, max_events and max_bytes)"},
        {"retention\n    topic\n        pattern = dlq.>\n        endpoint = x\n",
         "unknown key 'retention/topic/endpoint'"},
        {"retention\n    topic\n        pattern = dlq.>\n        max_age = 30\n",
         "retention rule 1 (dlq.>): key 'retention/topic/max_age': '30' has no unit"},
        {"retention\n    topic\n        max_bytes = lots\n        pattern = dlq.>\n",
         "retention rule 1 (dlq.>): key 'retention/topic/max_bytes': 'lots' is not a number"},
        {"retention\n    topic = dlq.>\n        max_age = 1d\n",
         "retention rule 1: 'retention/topic' cannot have a value"},
        {"retention\n    topic\n        pattern = dlq.>\n            deeper = 1\n",
         "key 'retention/topic/pattern' cannot have children"},
        {"broker\n    topic\n        pattern = dlq.>\n", "unknown key 'broker/topic'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_write(fx, cases[i].text);
        ob_config_t cfg;
        char err[OB_CONFIG_ERR_MAX] = "";
        int rc = s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, cases[i].message) ||
            !strstr(err, fx->file))
            print_error("case %zu: rc %d, message '%s', expected '%s'\n", i, rc, err,
                        cases[i].message);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err, cases[i].message));
        assert_non_null(strstr(err, fx->file)); /* every message names the file */
    }
    /* the valid rule the cases above break */
    s_write(fx, "retention\n    topic\n        pattern = dlq.>\n");
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
}

/* Writes a retention section of count rules, topic0 .. topic<count-1>, into the fixture. */
static void
s_write_rules(const t_fixture_t *fx, size_t count)
{
    static char text[T_TEXT_MAX];
    size_t len = (size_t)snprintf(text, sizeof text, "retention\n    max_age = 1d\n");
    for (size_t i = 0; i < count; i++) {
        int n = snprintf(text + len, sizeof text - len,
                         "    topic\n        pattern = topic%zu.>\n        max_events = %zu\n", i,
                         i + 1);
        assert_true(n > 0 && (size_t)n < sizeof text - len);
        len += (size_t)n;
    }
    s_write(fx, text);
}

static void
test_retention_too_many_rules(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    s_write_rules(fx, OB_CONFIG_RETENTION_RULES_MAX);
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_int_equal(cfg.retention_rule_count, OB_CONFIG_RETENTION_RULES_MAX);
    ob_retention_t ret;
    ob_config_retention(&cfg, "topic63.x", &ret);
    assert_int_equal(ret.max_events, 64);
    assert_int_equal(ret.max_age_ms, 0);
    ob_config_retention(&cfg, "topic64.x", &ret);
    assert_int_equal(ret.max_events, 0);
    assert_int_equal(ret.max_age_ms, T_DAY);

    s_write_rules(fx, OB_CONFIG_RETENTION_RULES_MAX + 1);
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, fx->file));
    assert_non_null(strstr(err, "more than 64 retention rules ('retention/topic')"));
}

static void
test_help_and_version(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--help", NULL), 0);
    assert_int_equal(cfg.help, 1);
    /* --help wins over anything else, even invalid values */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--map-size", "bad", "-h", NULL), 0);
    assert_int_equal(cfg.help, 1);
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--version", NULL), 0);
    assert_int_equal(cfg.version, 1);
    assert_int_equal(cfg.help, 0);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    ob_config_usage(out, "/usr/bin/orderbus-broker");
    assert_int_equal(fclose(out), 0);
    static const char *needles[] = {"--config FILE",
                                    "--endpoint",
                                    "--data-dir",
                                    "--map-size",
                                    "--max-event-bytes",
                                    "--batch-max",
                                    "--verbose",
                                    "--curve N",
                                    "--cert VALUE",
                                    "--permissions VALUE",
                                    "security/curve",
                                    "SECURITY",
                                    "orderbus-keys client",
                                    "SIGHUP",
                                    "--retention-max-age DURATION",
                                    "--retention-max-events N",
                                    "--retention-max-bytes SIZE",
                                    "--map-size SIZE",
                                    "retention/max_age",
                                    "retention/max_events",
                                    "retention/max_bytes",
                                    "Default: 0 (no limit)",
                                    "RETENTION",
                                    "ms, s, m, h or d",
                                    "K, M, G or T",
                                    "first whose pattern matches",
                                    "not the default",
                                    "rules come from FILE alone",
                                    "at most 36500d",
                                    "pattern = dlq.>",
                                    "max_age = 30d",
                                    "--help",
                                    "--version",
                                    "broker/endpoint",
                                    "broker/data_dir",
                                    "broker/map_size",
                                    "broker/max_event_bytes",
                                    "broker/batch_max",
                                    "broker/verbose",
                                    "broker/metrics",
                                    "--metrics VALUE",
                                    "Default: " OB_METRICS_HTTP_DEFAULT,
                                    OB_ENDPOINT_DEFAULT,
                                    OB_DATA_DIR_DEFAULT,
                                    "Default: 1G",
                                    "Default: 1M",
                                    "Default: 4096",
                                    "EXIT STATUS",
                                    "orderbus-broker - ",
                                    OB_VERSION_STRING};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        if (!strstr(text, needles[i]))
            print_error("usage lacks '%s'\n", needles[i]);
        assert_non_null(strstr(text, needles[i]));
    }
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
        cmocka_unit_test_setup_teardown(test_file_and_override, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shipped_example, s_setup, s_teardown),
        cmocka_unit_test(test_invalid_flags),
        cmocka_unit_test_setup_teardown(test_invalid_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_loopback_rule, s_setup, s_teardown),
        cmocka_unit_test(test_validate_direct),
        cmocka_unit_test_setup_teardown(test_retention_durations, s_setup, s_teardown),
        cmocka_unit_test(test_retention_sizes),
        cmocka_unit_test_setup_teardown(test_retention_rules, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_lookup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_invalid_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_too_many_rules, s_setup, s_teardown),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
