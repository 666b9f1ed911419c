/*  test_wh_config: orderbus-webhook's configuration (adapters/webhook/wh_config.h): defaults,
    repeated target sections, the --target-* flags, the lists, every check with its message,
    the secret files, and the example files deploy/orderbus-webhook.cfg and
    deploy/etc/orderbus-webhook.cfg. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "wh_config.h"

#define S_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static ob_wh_config_t s_cfg; /* large: not on the stack */
static char s_dir[] = "/tmp/test-wh-config-XXXXXX";

/* Writes text to s_dir/name and returns the path (static buffer, one of 4 in turn). */
static const char *
s_file(const char *name, const char *text)
{
    static char path[4][256];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 256, "%s/%s", s_dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Parses argv (NULL-terminated after the program name). */
static int
s_parse(char *errbuf, const char *first, ...)
{
    static char prog[] = "orderbus-webhook";
    char *argv[32] = {prog};
    int argc = 1;
    va_list args;
    va_start(args, first);
    for (const char *a = first; a; a = va_arg(args, const char *))
        argv[argc++] = (char *)a;
    va_end(args);
    return ob_wh_config_parse(&s_cfg, argc, argv, errbuf, OB_WH_CONFIG_ERR_MAX);
}

/* Parses the ZPL text as a config file, with no flags. */
static int
s_parse_text(char *errbuf, const char *text)
{
    return s_parse(errbuf, "--config", s_file("c.cfg", text), NULL);
}

static int
s_setup(void **state)
{
    (void)state;
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd);
}

static void
test_flags(void **state)
{
    (void)state;
    char err[OB_WH_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(err, NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "no target"));
    assert_int_equal(s_parse(err, "--target-name", "oms1", "--target-url", "http://127.0.0.1:9/x",
                             "--target-secret-file", "s", "--target-patterns", "oms.1,oms.2 mp.*",
                             "--target-timeout", "2s", NULL),
                     0);
    assert_int_equal(s_cfg.target_count, 1);
    const ob_wh_target_t *t = &s_cfg.target[0];
    assert_string_equal(t->name, "oms1");
    assert_int_equal(t->pattern_count, 3);
    assert_string_equal(t->patterns[0], "oms.1");
    assert_string_equal(t->patterns[1], "oms.2");
    assert_string_equal(t->patterns[2], "mp.*");
    assert_int_equal(t->type_count, 0);
    assert_int_equal(t->timeout_ms, 2000);
    assert_int_equal(t->max_attempts, OB_WH_ATTEMPTS_DEFAULT);
    assert_int_equal(t->backoff_ms, OB_WH_BACKOFF_MS_DEFAULT);
    assert_int_equal(t->backoff_max_ms, OB_WH_BACKOFF_MAX_MS_DEFAULT);
    assert_int_equal(t->commands_oms, 0); /* the way back is off by default */
    assert_string_equal(s_cfg.listen, OB_WH_LISTEN_DEFAULT);
    char host[OB_WH_ADDR_MAX];
    uint16_t port = 0;
    assert_int_equal(ob_wh_config_listen(&s_cfg, host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7470);
    ob_wh_policy_t policy = ob_wh_config_policy(t);
    assert_int_equal(policy.max_attempts, OB_WH_ATTEMPTS_DEFAULT);
    assert_int_equal(policy.backoff_ms, OB_WH_BACKOFF_MS_DEFAULT);
    assert_int_equal(policy.backoff_max_ms, OB_WH_BACKOFF_MAX_MS_DEFAULT);
    /* --help and --version stop the parse */
    assert_int_equal(s_parse(err, "--help", NULL), 0);
    assert_true(s_cfg.help);
    assert_int_equal(s_parse(err, "--version", NULL), 0);
    assert_true(s_cfg.version);
    assert_int_equal(s_parse(err, "--target-max-attempts", "65536", NULL), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_parse(err, "--target-timeout", "5", NULL), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_parse(err, "--nope", NULL), OB_ERR_INVALID_ARGUMENT);
    /* the way back: an OMS id */
    assert_int_equal(s_parse(err, "--target-name", "oms1", "--target-url", "http://127.0.0.1:9/x",
                             "--target-secret-file", "s", "--target-patterns", "oms.1",
                             "--target-commands", "7", NULL),
                     0);
    assert_int_equal(s_cfg.target[0].commands_oms, 7);
    assert_int_equal(s_parse(err, "--target-commands", "-1", NULL), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_parse(err, "--target-commands", "4294967296", NULL),
                     OB_ERR_INVALID_ARGUMENT);
}

static void
test_sections(void **state)
{
    (void)state;
    char err[OB_WH_CONFIG_ERR_MAX];
    const char *text = "webhook\n"
                       "    listen = 127.0.0.1:0\n"
                       "broker\n"
                       "    endpoint = tcp://127.0.0.1:9999\n"
                       "target\n"
                       "    name = a\n"
                       "    url = https://a.example.org/hook\n"
                       "    secret_file = a.whsec\n"
                       "    patterns = \"oms.1\"\n"
                       "    types = \"project.created, message.posted\"\n"
                       "    max_attempts = 0\n"
                       "    backoff = 50ms\n"
                       "    backoff_max = 2s\n"
                       "target\n"
                       "    name = b\n"
                       "    url = http://127.0.0.1:8080\n"
                       "    secret_file = b.whsec\n"
                       "    patterns = \"oms.>\"\n";
    assert_int_equal(s_parse_text(err, text), 0);
    assert_int_equal(s_cfg.target_count, 2);
    assert_string_equal(s_cfg.endpoint, "tcp://127.0.0.1:9999");
    assert_string_equal(s_cfg.target[0].name, "a");
    assert_int_equal(s_cfg.target[0].type_count, 2);
    assert_string_equal(s_cfg.target[0].types[1], "message.posted");
    assert_int_equal(s_cfg.target[0].max_attempts, 0);
    assert_int_equal(s_cfg.target[0].backoff_ms, 50);
    assert_int_equal(s_cfg.target[0].backoff_max_ms, 2000);
    assert_string_equal(s_cfg.target[1].name, "b");
    assert_string_equal(s_cfg.target[1].patterns[0], "oms.>");
    assert_int_equal(s_cfg.target[1].backoff_ms, OB_WH_BACKOFF_MS_DEFAULT); /* defaults */
    /* a flag amends the first target */
    assert_int_equal(s_parse(err, "--config", s_file("c2.cfg", text), "--target-url",
                             "http://127.0.0.1:1/", NULL),
                     0);
    assert_string_equal(s_cfg.target[0].url, "http://127.0.0.1:1/");
    assert_string_equal(s_cfg.target[1].url, "http://127.0.0.1:8080");
}

static void
test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *target; /* the lines of one target section */
        const char *message;
    } cases[] = {
        {"    url = http://x\n    secret_file = s\n    patterns = a\n", "no name"},
        {"    name = A\n    url = http://x\n    secret_file = s\n    patterns = a\n", "[a-z0-9_-]"},
        {"    name = a.b\n    url = http://x\n    secret_file = s\n    patterns = a\n",
         "[a-z0-9_-]"},
        {"    name = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    url = "
         "http://x\n"
         "    secret_file = s\n    patterns = a\n",
         "longer than 56 bytes"},
        {"    name = a\n    secret_file = s\n    patterns = a\n", "url"},
        {"    name = a\n    url = ftp://x\n    secret_file = s\n    patterns = a\n", "url"},
        {"    name = a\n    url = http://\n    secret_file = s\n    patterns = a\n", "url"},
        {"    name = a\n    url = \"http://x/a b\"\n    secret_file = s\n    patterns = a\n",
         "url"},
        {"    name = a\n    url = http://x\n    patterns = a\n", "no secret_file"},
        {"    name = a\n    url = http://x\n    secret_file = s\n", "no patterns"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = \" , \"\n",
         "no patterns"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = \"oms..1\"\n",
         "pattern 'oms..1' is not valid"},
        {"    name = a\n    url = http://x\n    secret_file = s\n"
         "    patterns = \"a b c d e f g h i j k l m n o p q\"\n",
         "more than 16 patterns"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = a\n"
         "    types = \"Project.created\"\n",
         "type 'Project.created' is not valid"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = a\n"
         "    types = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
         "a type over 64 bytes"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = a\n"
         "    backoff = 2m\n    backoff_max = 1m\n",
         "backoff is longer than backoff_max"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = a\n"
         "    backoff_max = 2h\n",
         "backoff_max"},
        {"    name = a\n    url = http://x\n    secret_file = s\n    patterns = a\n"
         "    colour = red\n",
         "unknown key 'target/colour'"},
    };
    char err[OB_WH_CONFIG_ERR_MAX];
    char text[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "target\n%s", cases[i].target);
        print_message("case %zu: expecting '%s'\n", i, cases[i].message);
        assert_int_equal(s_parse_text(err, text), OB_ERR_INVALID_ARGUMENT);
        print_message("  got: %s\n", err);
        assert_non_null(strstr(err, cases[i].message));
    }
    /* two targets of one name; the listen address; the certificates; an unknown section */
    assert_int_equal(s_parse_text(err, "target\n    name = a\n    url = http://x\n"
                                       "    secret_file = s\n    patterns = a\n"
                                       "target\n    name = a\n    url = http://y\n"
                                       "    secret_file = s\n    patterns = b\n"),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "repeats target 1"));
    const char *one = "target\n    name = a\n    url = http://x\n    secret_file = s\n"
                      "    patterns = a\n";
    assert_int_equal(
        s_parse(err, "--config", s_file("one.cfg", one), "--listen", "localhost:80", NULL),
        OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "listen"));
    assert_int_equal(s_parse(err, "--config", s_file("one.cfg", one), "--cert", "c", NULL),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "go together"));
    assert_int_equal(s_parse_text(err, "targets\n    name = a\n"), OB_ERR_INVALID_ARGUMENT);
    /* at most OB_WH_TARGETS_MAX sections */
    static char many[(OB_WH_TARGETS_MAX + 1) * 100];
    size_t pos = 0;
    for (int i = 0; i <= OB_WH_TARGETS_MAX; i++)
        pos += (size_t)snprintf(many + pos, sizeof many - pos,
                                "target\n    name = t%d\n    url = http://x\n"
                                "    secret_file = s\n    patterns = a\n",
                                i);
    assert_int_equal(s_parse_text(err, many), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "more than 64 'target' sections"));
}

static void
test_secrets(void **state)
{
    (void)state;
    char err[OB_WH_CONFIG_ERR_MAX];
    char text[1024];
    snprintf(text, sizeof text,
             "target\n    name = a\n    url = http://x\n    secret_file = %s\n    patterns = a\n",
             s_file("a.whsec", "# current\n" S_SECRET "\n"));
    assert_int_equal(s_parse_text(err, text), 0);
    assert_int_equal(ob_wh_config_read_secrets(&s_cfg, err, sizeof err), 0);
    assert_int_equal(s_cfg.target[0].secrets.count, 1);
    assert_int_equal(s_cfg.target[0].secrets.len[0], 24);
    ob_wh_config_wipe(&s_cfg);
    assert_int_equal(s_cfg.target[0].secrets.count, 0);

    /* a bad secret: the message names the file, never the content */
    snprintf(text, sizeof text,
             "target\n    name = a\n    url = http://x\n    secret_file = %s\n    patterns = a\n",
             s_file("bad.whsec", "whsec_c2VjcmV0LXZhbHVl\n"));
    assert_int_equal(s_parse_text(err, text), 0);
    assert_int_equal(ob_wh_config_read_secrets(&s_cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "bad.whsec"));
    assert_null(strstr(err, "c2VjcmV0"));
    snprintf(text, sizeof text,
             "target\n    name = a\n    url = http://x\n    secret_file = %s/none\n"
             "    patterns = a\n",
             s_dir);
    assert_int_equal(s_parse_text(err, text), 0);
    assert_int_equal(ob_wh_config_read_secrets(&s_cfg, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "none"));
}

static void
test_example(void **state)
{
    (void)state;
    char err[OB_WH_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(err, "--config", OB_WH_EXAMPLE_CFG, NULL), 0);
    assert_int_equal(s_cfg.target_count, 2);
    assert_string_equal(s_cfg.target[0].name, "oms1");
    assert_int_equal(s_cfg.target[0].type_count, 4);
    assert_int_equal(s_cfg.target[0].timeout_ms, 15000);
    assert_string_equal(s_cfg.target[1].patterns[1], "mp.*");
    /* the production one (deploy/etc/, read by the systemd unit) */
    assert_int_equal(s_parse(err, "--config", OB_WH_ETC_CFG, NULL), 0);
    assert_int_equal(s_cfg.target_count, 1);
    assert_string_equal(s_cfg.target[0].secret_file,
                        "/run/credentials/orderbus-webhook.service/oms1.whsec");
    /* --help names every key */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    ob_wh_config_usage(out, "/usr/bin/orderbus-webhook");
    fclose(out);
    static const char *const keys[] = {
        "--target-name",    "--target-url",         "--target-patterns",
        "--target-types",   "--target-timeout",     "--target-max-attempts",
        "--target-backoff", "--target-backoff-max", "--listen",
        "--broker",         "--target-commands"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(strstr(text, keys[i]));
    assert_non_null(strstr(text, "NAME\n    orderbus-webhook - "));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),   cmocka_unit_test(test_sections),
        cmocka_unit_test(test_errors),  cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_example),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
