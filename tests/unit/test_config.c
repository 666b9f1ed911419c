/*  test_config: the broker's configuration (broker/config.h): defaults, the ZPL file, flags,
    validation messages, the loopback rule and --help. */
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

#define T_ARGS_MAX 16  /* arguments in one parse */
#define T_PATH_MAX 256 /* bytes in a scratch path */

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

static void
test_defaults(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    assert_int_equal(s_parse(&cfg, err, sizeof err, NULL), 0);
    assert_string_equal(err, "");
    assert_string_equal(cfg.endpoint, OB_ENDPOINT_DEFAULT);
    assert_string_equal(cfg.data_dir, OB_DATA_DIR_DEFAULT);
    assert_string_equal(cfg.config_file, "");
    assert_int_equal(cfg.map_size, OB_MAP_SIZE_DEFAULT);
    assert_int_equal(cfg.max_event_bytes, OB_EVENT_MAX_DEFAULT);
    assert_int_equal(cfg.batch_max, OB_BATCH_MAX);
    assert_int_equal(cfg.verbose, 0);
    assert_int_equal(cfg.allow_remote, 0);
    assert_int_equal(cfg.help, 0);
    assert_int_equal(cfg.version, 0);

    ob_config_t defaults;
    ob_config_defaults(&defaults);
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
                "    data_dir = \"/srv/orderbus data\"\n"
                "    map_size = 2G\n"
                "    max_event_bytes = 512K\n"
                "    batch_max = 128\n"
                "    verbose = 1\n"
                "    allow_remote = 0\n");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_string_equal(cfg.config_file, fx->file);
    assert_string_equal(cfg.endpoint, "tcp://127.0.0.1:9999");
    assert_string_equal(cfg.data_dir, "/srv/orderbus data");
    assert_int_equal(cfg.map_size, 2ull << 30);
    assert_int_equal(cfg.max_event_bytes, 512 * 1024);
    assert_int_equal(cfg.batch_max, 128);
    assert_int_equal(cfg.verbose, 1);

    /* flags override the file, before or after --config */
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--batch-max", "7", "--config", fx->file,
                             "--endpoint", "ipc:///tmp/x.ipc", NULL),
                     0);
    assert_int_equal(cfg.batch_max, 7);
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
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    int rc = s_parse(&cfg, err, sizeof err, "--config", OB_SOURCE_DIR "/deploy/orderbus-broker.cfg",
                     NULL);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.endpoint, OB_ENDPOINT_DEFAULT);
    assert_int_equal(cfg.batch_max, OB_BATCH_MAX);
}

/* One invalid command line and a piece of the message it must produce. */
typedef struct t_bad {
    const char *args[4]; /* arguments after the program name, NULL-terminated */
    const char *message; /* expected substring of the error */
} t_bad_t;

static void
test_invalid_flags(void **state)
{
    (void)state;
    static char long_dir[OB_CONFIG_PATH_MAX + 10];
    memset(long_dir, 'd', sizeof long_dir - 1);
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
        {{"--batch-max", "1K"}, "--batch-max: '1K' is not a number"},
        {{"--batch-max", "+5"}, "not a number"},
        {{"--endpoint", ""}, "--endpoint: empty value"},
        {{"--endpoint", "foo"}, "endpoint foo: not tcp://"},
        {{"--endpoint", "tcp://"}, "not tcp://"},
        {{"--endpoint", "tcp://0.0.0.0:7450"}, "allow_remote"},
        {{"--endpoint", "tcp://127.0.0.1:99999"}, "the port must be 1..65535 or *"},
        {{"--endpoint", "tcp://127.0.0.1:0"}, "the port must be"},
        {{"--endpoint", "tcp://127.0.0.1:"}, "the port must be"},
        {{"--endpoint", "tcp://127.0.0.1"}, "the port must be"},
        {{"--endpoint", "tcp://localhost:http"}, "the port must be"},
        {{"--data-dir", ""}, "--data-dir: empty value"},
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
        char *argv[6] = {(char *)"orderbus-broker"};
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
        {"broker\n    verbose = maybe\n", "key 'broker/verbose': 'maybe' is not 0, 1"},
        {"broker\n    endpoint\n", "key 'broker/endpoint': empty value"},
        {"broker\n    endpoint = tcp://*:7450\n", "allow_remote"},
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
        assert_int_equal(
            s_parse(&cfg, err, sizeof err, "--endpoint", remote[i], "--allow-remote", NULL), 0);
        assert_int_equal(cfg.allow_remote, 1);
    }
    /* allow_remote from the file */
    s_write(fx, "broker\n    endpoint = tcp://*:7450\n    allow_remote = true\n");
    assert_int_equal(s_parse(&cfg, err, sizeof err, "--config", fx->file, NULL), 0);
    assert_int_equal(cfg.allow_remote, 1);
    assert_string_equal(cfg.endpoint, "tcp://*:7450");
}

static void
test_validate_direct(void **state)
{
    (void)state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX];
    ob_config_defaults(&cfg);
    cfg.batch_max = 0;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "batch_max"));
    ob_config_defaults(&cfg);
    cfg.max_event_bytes = OB_EVENT_MAX_CAP + 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "max_event_bytes"));
    ob_config_defaults(&cfg);
    cfg.map_size = OB_MAP_SIZE_MIN - 1;
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "map_size"));
    ob_config_defaults(&cfg);
    cfg.data_dir[0] = '\0';
    assert_int_equal(ob_config_validate(&cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "data_dir"));
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
                                    "--allow-remote",
                                    "--help",
                                    "--version",
                                    "broker/endpoint",
                                    "broker/data_dir",
                                    "broker/map_size",
                                    "broker/max_event_bytes",
                                    "broker/batch_max",
                                    "broker/verbose",
                                    "broker/allow_remote",
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
        cmocka_unit_test(test_shipped_example),
        cmocka_unit_test(test_invalid_flags),
        cmocka_unit_test_setup_teardown(test_invalid_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_loopback_rule, s_setup, s_teardown),
        cmocka_unit_test(test_validate_direct),
        cmocka_unit_test(test_help_and_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
