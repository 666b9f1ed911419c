/*  test_gw_config: the gateway's configuration (gateway/gw_config.h): defaults, repeated oms
    sections, the --oms-* flags, every check with its message, and the secrets' files. */
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

#include "gw_config.h"
#include "orderbus/error.h"

static ob_gw_config_t s_cfg; /* large: not on the stack */
static char s_dir[] = "/tmp/test-gw-config-XXXXXX";

/* Writes text to s_dir/name and returns the path (static buffer, one at a time per name). */
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
    static char prog[] = "orderbus-gateway";
    char *argv[32] = {prog};
    int argc = 1;
    va_list args;
    va_start(args, first);
    for (const char *a = first; a; a = va_arg(args, const char *))
        argv[argc++] = (char *)a;
    va_end(args);
    return ob_gw_config_parse(&s_cfg, argc, argv, errbuf, OB_GW_CONFIG_ERR_MAX);
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
test_defaults(void **state)
{
    (void)state;
    char err[OB_GW_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(err, NULL), 0);
    assert_int_equal(s_cfg.oms_count, 0); /* no OMS is a valid gateway */
    assert_string_equal(s_cfg.listen, OB_GW_LISTEN_DEFAULT);
    assert_string_equal(s_cfg.data_dir, OB_GW_DATA_DIR_DEFAULT);
    char host[OB_GW_ADDR_MAX];
    uint16_t port = 0;
    assert_int_equal(ob_gw_config_listen(&s_cfg, host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7460);
    assert_false(s_cfg.facade); /* off unless asked */
    assert_int_equal(s_parse(err, "--facade", "--tokens-file", "/tok", NULL), 0);
    assert_true(s_cfg.facade);
    assert_int_equal(s_cfg.facade_wait_ms, OB_GW_FACADE_WAIT_MS_DEFAULT);
    assert_int_equal(s_parse(err, "--facade-wait", "0", NULL), 0); /* 202 at once */
    assert_int_equal(s_cfg.facade_wait_ms, 0);
    assert_int_equal(s_parse(err, "--help", NULL), 0);
    assert_true(s_cfg.help);
    assert_int_equal(s_parse(err, "--version", NULL), 0);
    assert_true(s_cfg.version);
}

static void
test_sections(void **state)
{
    (void)state;
    char err[OB_GW_CONFIG_ERR_MAX];
    const char *cfg = s_file("two.cfg", "gateway\n    listen = 0.0.0.0:0\n"
                                        "    facade = 1\n    tokens_file = /tk\n"
                                        "oms\n    id = 2\n    url = http://mp:8080\n"
                                        "    token_file = /t2\n    page_size = 7\n"
                                        "    overlap = 5s\n    poll_interval = 250ms\n"
                                        "oms\n    id = 9\n    url = https://mp.example\n"
                                        "    token_file = /t9\n    trigger_user = mp\n"
                                        "    trigger_password_file = /p9\n"
                                        "    facade_trigger_url = http://oms/t?a=1\n"
                                        "    facade_trigger_method = PUT\n"
                                        "    facade_trigger_user = gw\n"
                                        "    facade_trigger_password_file = /f9\n");
    assert_int_equal(s_parse(err, "--config", cfg, NULL), 0);
    assert_int_equal(s_cfg.oms_count, 2);
    assert_int_equal(s_cfg.oms[0].id, 2);
    assert_int_equal(s_cfg.oms[0].page_size, 7);
    assert_int_equal(s_cfg.oms[0].overlap_ms, 5000);
    assert_int_equal(s_cfg.oms[0].poll_ms, 250);
    assert_int_equal(s_cfg.oms[1].id, 9);
    assert_int_equal(s_cfg.oms[1].page_size, OB_GW_PAGE_SIZE_DEFAULT); /* its own defaults */
    assert_string_equal(s_cfg.oms[1].trigger_user, "mp");
    assert_string_equal(s_cfg.oms[1].ft_url, "http://oms/t?a=1");
    assert_string_equal(s_cfg.oms[1].ft_method, "PUT");
    assert_string_equal(s_cfg.oms[1].ft_user, "gw");
    assert_string_equal(s_cfg.oms[0].ft_url, ""); /* none */
    assert_string_equal(s_cfg.oms[0].ft_method, OB_GW_FT_METHOD_DEFAULT);
    /* Flags amend the first OMS. */
    assert_int_equal(s_parse(err, "--config", cfg, "--oms-page-size", "3", NULL), 0);
    assert_int_equal(s_cfg.oms[0].page_size, 3);
    assert_int_equal(s_cfg.oms[1].page_size, OB_GW_PAGE_SIZE_DEFAULT);
    /* One OMS from the flags alone. */
    assert_int_equal(
        s_parse(err, "--oms-id", "4", "--oms-url", "http://x", "--oms-token-file", "/t", NULL), 0);
    assert_int_equal(s_cfg.oms_count, 1);
    assert_int_equal(s_cfg.oms[0].id, 4);
}

static void
test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text; /* a file, or NULL */
        const char *flag; /* a flag and its value, or NULL */
        const char *value;
        const char *says; /* in the message */
    } bad[] = {
        {"oms\n    url = http://x\n    token_file = /t\n", NULL, NULL, "no id"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\noms\n    id = 2\n"
         "    url = http://y\n    token_file = /t\n",
         NULL, NULL, "repeats"},
        {"oms\n    id = 2\n    url = ftp://x\n    token_file = /t\n", NULL, NULL, "http(s)"},
        {"oms\n    id = 2\n    url = http://x/\n    token_file = /t\n", NULL, NULL, "ends with"},
        {"oms\n    id = 2\n    url = http://x\n", NULL, NULL, "token_file"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n    trigger_user = u\n", NULL,
         NULL, "go together"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n    trigger_user = a:b\n"
         "    trigger_password_file = /p\n",
         NULL, NULL, "':'"},
        {"oms\n    id = 2\n    colour = red\n", NULL, NULL, "unknown key 'oms/colour'"},
        {"oms\n    id = 0\n", NULL, NULL, "out of range"},
        {"oms\n    id = 9223372036854775808\n", NULL, NULL, "out of range"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n    page_size = 0\n", NULL,
         NULL, "page_size"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n    overlap = 0\n", NULL, NULL,
         "overlap"},
        {"nonsense\n    a = 1\n", NULL, NULL, "unknown section"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_url = http://o\n    facade_trigger_method = DELETE\n",
         NULL, NULL, "GET, POST or PUT"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_url = ftp://o\n",
         NULL, NULL, "facade_trigger_url"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_url = http://o\n    facade_trigger_user = u\n",
         NULL, NULL, "go together"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_user = u\n    facade_trigger_password_file = /p\n",
         NULL, NULL, "without facade_trigger_url"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_url = http://o\n    facade_trigger_user = a:b\n"
         "    facade_trigger_password_file = /p\n",
         NULL, NULL, "':'"},
        {"oms\n    id = 2\n    url = http://x\n    token_file = /t\n"
         "    facade_trigger_url = http://o\n",
         NULL, NULL, "oms 2: facade_trigger_url needs facade = 1"},
        {NULL, "--facade-wait", "61s", "--facade-wait: 61s is out of range"},
        {NULL, "--listen", "localhost:80", "listen"},
        {NULL, "--listen", "127.0.0.1:70000", "listen"},
        {NULL, "--listen", "127.0.0.1", "listen"},
        {NULL, "--cert", "/c", "go together"},
        {NULL, "--tls-key", "/k", "tls_cert and tls_key"},
        {NULL, "--oms-url", "http://x", "without --oms-id"},
        {"gateway\n    facade = 1\n", NULL, NULL, "facade needs tokens_file"},
        {"gateway\n    facade = yes\n", NULL, NULL, "facade"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[OB_GW_CONFIG_ERR_MAX] = "";
        int rc = bad[i].text ? s_parse(err, "--config", s_file("bad.cfg", bad[i].text), NULL)
                             : s_parse(err, bad[i].flag, bad[i].value, NULL);
        assert_int_equal(rc, OB_ERR_INVALID_ARGUMENT);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].says);
    }
}

static void
test_secrets(void **state)
{
    (void)state;
    char err[OB_GW_CONFIG_ERR_MAX];
    const char *token = s_file("token", "the-token\n");
    const char *password = s_file("password", "pass word\r\n");
    assert_int_equal(s_parse(err, "--oms-id", "2", "--oms-url", "http://x", "--oms-token-file",
                             token, "--oms-trigger-user", "mp", "--oms-trigger-password-file",
                             password, NULL),
                     0);
    assert_int_equal(ob_gw_config_read_secrets(&s_cfg, err, sizeof err), 0);
    assert_string_equal(s_cfg.oms[0].token, "the-token");
    assert_string_equal(s_cfg.oms[0].trigger_password, "pass word");
    /* the facade trigger's password, read the same way */
    assert_int_equal(s_parse(err, "--oms-id", "2", "--oms-url", "http://x", "--oms-token-file",
                             token, "--facade", "--tokens-file", "/tk", "--oms-facade-trigger-url",
                             "http://o", "--oms-facade-trigger-user", "gw",
                             "--oms-facade-trigger-password-file", password, NULL),
                     0);
    assert_int_equal(ob_gw_config_read_secrets(&s_cfg, err, sizeof err), 0);
    assert_string_equal(s_cfg.oms[0].ft_password, "pass word");
    /* Empty, two lines, missing: refused, naming the file, never the content. */
    snprintf(s_cfg.oms[0].token_file, sizeof s_cfg.oms[0].token_file, "%s", s_file("empty", "\n"));
    assert_int_equal(ob_gw_config_read_secrets(&s_cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "empty"));
    snprintf(s_cfg.oms[0].token_file, sizeof s_cfg.oms[0].token_file, "%s",
             s_file("two", "secret-one\nsecret-two\n"));
    assert_int_equal(ob_gw_config_read_secrets(&s_cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_null(strstr(err, "secret-one"));
    snprintf(s_cfg.oms[0].token_file, sizeof s_cfg.oms[0].token_file, "%s/none", s_dir);
    assert_int_equal(ob_gw_config_read_secrets(&s_cfg, err, sizeof err), -ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
