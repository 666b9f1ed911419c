/*  test_jira_config: orderbus-jira's configuration (adapters/jira/jira_config.h): defaults,
    the flags, the repeated status sections, every check with its message, the secret files
    (basic and bearer), and the example file deploy/orderbus-jira.cfg with --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jira_config.h"
#include "orderbus/error.h"

static ob_jira_config_t s_cfg; /* large: not on the stack */
static char s_dir[] = "/tmp/test-jira-config-XXXXXX";

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

/* Parses the required flags, then the NULL-terminated extra arguments. */
static int
s_parse(char *errbuf, const char *first, ...)
{
    static const char *const base[] = {"orderbus-jira",
                                       "--oms-id",
                                       "7",
                                       "--data-dir",
                                       "/tmp/x",
                                       "--secret-file",
                                       "/tmp/s",
                                       "--jira-url",
                                       "http://127.0.0.1:8080/jira",
                                       "--jira-user",
                                       "orderbus",
                                       "--jira-token-file",
                                       "/tmp/t",
                                       "--jira-project",
                                       "ORD",
                                       "--jira-epic-type",
                                       "10000",
                                       "--jira-epic-name-field",
                                       "customfield_10011",
                                       "--jira-epic-link-field",
                                       "customfield_10014",
                                       "--jira-item-type",
                                       "10001"};
    char *argv[64];
    int argc = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        argv[argc++] = (char *)base[i];
    va_list args;
    va_start(args, first);
    for (const char *a = first; a; a = va_arg(args, const char *))
        argv[argc++] = (char *)a;
    va_end(args);
    return ob_jira_config_parse(&s_cfg, argc, argv, errbuf, OB_JIRA_CONFIG_ERR_MAX);
}

static void
test_flags(void **state)
{
    (void)state;
    char err[OB_JIRA_CONFIG_ERR_MAX];
    assert_int_equal(s_parse(err, NULL), 0);
    assert_int_equal(s_cfg.oms_id, 7);
    assert_string_equal(s_cfg.listen, OB_JIRA_LISTEN_DEFAULT);
    assert_int_equal(s_cfg.timeout_ms, OB_JIRA_TIMEOUT_MS_DEFAULT);
    assert_int_equal(s_cfg.status_count, 0);
    assert_string_equal(s_cfg.field[OB_JIRA_F_CI_NAME], "");
    assert_int_equal(s_parse(err, "--field-ci-name", "customfield_1", "--option-voucher-true", "42",
                             "--status-type", "ready", "--status-transition", "61",
                             "--jira-timeout", "5s", NULL),
                     0);
    assert_string_equal(s_cfg.field[OB_JIRA_F_CI_NAME], "customfield_1");
    assert_string_equal(s_cfg.option[OB_JIRA_O_VOUCHER_TRUE], "42");
    assert_int_equal(s_cfg.status_count, 1);
    assert_string_equal(ob_jira_config_status_by_type(&s_cfg, "ready")->transition, "61");
    assert_null(ob_jira_config_status_by_type(&s_cfg, "closed"));
    assert_null(ob_jira_config_status_by_jira(&s_cfg, "61")); /* no jira_status given */
    assert_int_equal(s_cfg.timeout_ms, 5000);
    /* --help and --version stop at once */
    char *argv[] = {(char *)"orderbus-jira", (char *)"--help"};
    assert_int_equal(ob_jira_config_parse(&s_cfg, 2, argv, err, sizeof err), 0);
    assert_int_equal(s_cfg.help, 1);
}

static void
test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *flag;
        const char *value;
        const char *message;
    } cases[] = {
        {"--oms-id", "0", "oms_id: required"},
        {"--listen", "localhost:1", "listen 'localhost:1'"},
        {"--jira-url", "ftp://x", "jira/url"},
        {"--jira-url", "http://x/", "jira/url"},
        {"--jira-pat-file", "/tmp/p", "one of token_file and pat_file"},
        {"--jira-project", "OR D", "jira/project: not"},
        {"--field-so-1", "custom field", "'custom field' is not a field id"},
        {"--option-typology-project", "1;2", "not an option id"},
        {"--status-type", "created", "type 'created' is not"},
        {"--cert", "/tmp/c", "cert and broker_cert go together"},
        {"--jira-backoff", "10m", "backoff is longer than backoff_max"},
        {"--jira-timeout", "10ms", "timeout"},
    };
    char err[OB_JIRA_CONFIG_ERR_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = s_parse(err, cases[i].flag, cases[i].value, NULL);
        if (rc != OB_ERR_INVALID_ARGUMENT || !strstr(err, cases[i].message))
            fail_msg("%s %s: rc %d, '%s'", cases[i].flag, cases[i].value, rc, err);
    }
    /* a status row must do something */
    assert_int_equal(s_parse(err, "--status-type", "ready", NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "neither jira_status nor transition"));
}

static void
test_status_sections(void **state)
{
    (void)state;
    char err[OB_JIRA_CONFIG_ERR_MAX];
    const char *ok = s_file("ok.cfg", "status\n    type = ready\n    jira_status = 5\n"
                                      "status\n    type = closed\n    transition = 71\n"
                                      "    value = Done\n");
    assert_int_equal(s_parse(err, "--config", ok, NULL), 0);
    assert_int_equal(s_cfg.status_count, 2);
    assert_string_equal(ob_jira_config_status_by_jira(&s_cfg, "5")->type, "ready");
    assert_string_equal(ob_jira_config_status_by_type(&s_cfg, "closed")->value, "Done");
    const char *twice = s_file("twice.cfg", "status\n    type = ready\n    jira_status = 5\n"
                                            "status\n    type = ready\n    jira_status = 6\n");
    assert_int_equal(s_parse(err, "--config", twice, NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "status ready: given twice"));
    const char *same = s_file("same.cfg", "status\n    type = ready\n    jira_status = 5\n"
                                          "status\n    type = closed\n    jira_status = 5\n");
    assert_int_equal(s_parse(err, "--config", same, NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "Jira status 5 already means ready"));
    const char *unknown = s_file("unknown.cfg", "status\n    colour = red\n");
    assert_int_equal(s_parse(err, "--config", unknown, NULL), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "unknown key 'status/colour'"));
    /* more sections than OB_JIRA_STATUSES_MAX */
    char text[4096] = "";
    for (int i = 0; i <= OB_JIRA_STATUSES_MAX; i++)
        strcat(text, "status\n    type = ready\n");
    assert_int_equal(s_parse(err, "--config", s_file("many.cfg", text), NULL),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "more than 16 'status' sections"));
}

static void
test_secrets(void **state)
{
    (void)state;
    char err[OB_JIRA_CONFIG_ERR_MAX];
    ob_jira_secrets_t secrets;
    const char *token = s_file("token", "tok3n\n");
    const char *hook = s_file("hook", "0123456789abcdef-secret\n");
    assert_int_equal(s_parse(err, "--jira-token-file", token, "--secret-file", hook, NULL), 0);
    assert_int_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err), 0);
    /* base64("orderbus:tok3n") */
    assert_string_equal(secrets.auth, "Basic b3JkZXJidXM6dG9rM24=");
    assert_int_equal(secrets.hook_len, strlen("0123456789abcdef-secret"));
    assert_memory_equal(secrets.hook, "0123456789abcdef-secret", secrets.hook_len);
    ob_jira_secrets_wipe(&secrets);
    assert_int_equal(secrets.hook_len, 0);
    /* the longest token fits the header: "Basic " and the base64 of "orderbus:" + token */
    char *big = malloc(OB_JIRA_SECRET_FILE_MAX);
    assert_non_null(big);
    memset(big, 't', OB_JIRA_SECRET_FILE_MAX - 2);
    big[OB_JIRA_SECRET_FILE_MAX - 2] = '\n';
    big[OB_JIRA_SECRET_FILE_MAX - 1] = '\0';
    snprintf(s_cfg.token_file, sizeof s_cfg.token_file, "%s", s_file("big", big));
    free(big);
    assert_int_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err), 0);
    size_t pair = strlen("orderbus:") + OB_JIRA_SECRET_FILE_MAX - 2;
    assert_int_equal(strlen(secrets.auth), 6 + 4 * ((pair + 2) / 3));
    ob_jira_secrets_wipe(&secrets);
    /* a PAT is sent as bearer */
    const char *pat = s_file("pat", "NjQ0MzQ1:pat\n");
    s_cfg.token_file[0] = '\0';
    snprintf(s_cfg.pat_file, sizeof s_cfg.pat_file, "%s", pat);
    assert_int_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err), 0);
    assert_string_equal(secrets.auth, "Bearer NjQ0MzQ1:pat");
    /* a short webhook secret, two lines, a missing file: the message names the file only */
    snprintf(s_cfg.secret_file, sizeof s_cfg.secret_file, "%s", s_file("short", "abc\n"));
    assert_int_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "shorter than 16 bytes"));
    assert_null(strstr(err, "abc"));
    assert_int_equal(secrets.auth[0], '\0'); /* wiped on failure */
    snprintf(s_cfg.secret_file, sizeof s_cfg.secret_file, "%s",
             s_file("two", "0123456789abcdef\nsecond line\n"));
    assert_int_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "not one non-empty line"));
    snprintf(s_cfg.secret_file, sizeof s_cfg.secret_file, "%s/absent", s_dir);
    assert_int_not_equal(ob_jira_config_read_secrets(&s_cfg, &secrets, err, sizeof err), 0);
    assert_non_null(strstr(err, "absent"));
}

static void
test_example(void **state)
{
    (void)state;
    char err[OB_JIRA_CONFIG_ERR_MAX];
    char *argv[] = {(char *)"orderbus-jira", (char *)"--config", (char *)OB_JIRA_EXAMPLE_CFG};
    assert_int_equal(ob_jira_config_parse(&s_cfg, 3, argv, err, sizeof err), 0);
    assert_int_equal(s_cfg.oms_id, 7);
    assert_int_equal(s_cfg.status_count, 7);
    assert_string_equal(s_cfg.field[OB_JIRA_F_SO_1], "customfield_10117");
    assert_string_equal(s_cfg.option[OB_JIRA_O_VOUCHER_FALSE], "10211");
    assert_string_equal(ob_jira_config_status_by_jira(&s_cfg, "10002")->value,
                        "Waiting for your answer");
    for (size_t i = 0; i < OB_JIRA_FIELD_COUNT; i++)
        assert_true(s_cfg.field[i][0] != '\0'); /* the example maps every field */
    /* the production one (deploy/etc/, read by the systemd unit) */
    char *etc[] = {(char *)"orderbus-jira", (char *)"--config", (char *)OB_JIRA_ETC_CFG};
    assert_int_equal(ob_jira_config_parse(&s_cfg, 3, etc, err, sizeof err), 0);
    assert_string_equal(s_cfg.token_file, "/run/credentials/orderbus-jira.service/jira.token");
    assert_int_equal(s_cfg.status_count, 3);
    assert_int_equal(ob_jira_config_parse(&s_cfg, 3, argv, err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    ob_jira_config_usage(out, "/usr/bin/orderbus-jira");
    fclose(out);
    static const char *const keys[] = {"--oms-id",
                                       "--jira-url",
                                       "--jira-pat-file",
                                       "--field-so-1",
                                       "--status-type",
                                       "--listen",
                                       "--option-voucher-true",
                                       "--broker",
                                       "Config key: status/type"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strstr(text, keys[i]))
            fail_msg("--help lacks %s", keys[i]);
    assert_non_null(strstr(text, "NAME\n    orderbus-jira - "));
    free(text);
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),           cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_status_sections), cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_example),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
