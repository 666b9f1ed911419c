/*  fuzz_config: the broker's configuration parser (broker/config.c).

    Input: the bytes up to the first NUL are a ZPL file, written to a scratch file (one per
    process, in /dev/shm, or /tmp without it); the bytes after it are extra command-line
    arguments, separated by NUL bytes (an empty piece is an empty argument; at most
    S_ARGS_MAX). They run as
        orderbus-broker --config FILE ARG...
    through ob_config_parse (defaults, the file, the flags, ob_config_validate); the file alone
    also goes through ob_config_load over the defaults, then ob_config_validate. An input with
    an argument that starts with --config is skipped: the parser would read whatever path the
    fuzzer spelled, such as /dev/stdin. (--cert and --permissions only store their path.)
    czmq prints ZPL syntax errors on stdout; -close_fd_mask=1 silences them.

    Properties checked beyond the sanitizers':
    - a failure is OB_ERR_INVALID_ARGUMENT with a non-empty, terminated message;
    - a configuration that validates holds every value in its documented range (config.h:
      endpoint, data_dir, map_size, max_event_bytes, batch_max, verbose, the security rule:
      curve 0 only on a local endpoint, curve 1 with a cert and a permissions file; the
      retention limits and rules), and ob_config_validate agrees with itself when called again;
    - ob_config_retention answers every rule's own pattern (as a topic, when it is one) with
      the limits of the first rule that matches it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_ARGS_MAX 32 /* extra arguments taken from one input */

static char s_path[64]; /* the scratch ZPL file, "" until the first input */

/* Aborts (which the fuzzer reports with the input) unless cond holds. */
static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Removes the scratch file at exit. */
static void
s_cleanup(void)
{
    if (s_path[0])
        unlink(s_path);
}

/* Writes len bytes at text to the scratch file (created on first use). */
static void
s_write_file(const uint8_t *text, size_t len)
{
    if (!s_path[0]) {
        snprintf(s_path, sizeof s_path, "%s/ob-fuzz-config-%ld.cfg",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        atexit(s_cleanup);
    }
    FILE *file = fopen(s_path, "wb");
    s_require(file != NULL);
    s_require(len == 0 || fwrite(text, 1, len, file) == len);
    s_require(fclose(file) == 0);
}

/* Returns 1 if a string of its field of size bytes is terminated and not empty. */
static int
s_string_ok(const char *field, size_t size)
{
    size_t len = strnlen(field, size);
    return len > 0 && len < size;
}

/* Checks the invariants of a configuration that ob_config_validate accepted. */
static void
s_check_valid(const ob_config_t *cfg)
{
    char err[OB_CONFIG_ERR_MAX];
    s_require(s_string_ok(cfg->endpoint, sizeof cfg->endpoint));
    s_require(!strncmp(cfg->endpoint, "tcp://", 6) || !strncmp(cfg->endpoint, "ipc://", 6) ||
              !strncmp(cfg->endpoint, "inproc://", 9));
    s_require(cfg->curve == 0 || cfg->curve == 1);
    s_require(cfg->curve || ob_config_endpoint_local(cfg->endpoint));
    s_require(cfg->curve || strncmp(cfg->endpoint, "ipc://@", 7)); /* no file, no permissions */
    s_require(memchr(cfg->endpoint_file, 0, sizeof cfg->endpoint_file) != NULL);
    s_require(memchr(cfg->cert, 0, sizeof cfg->cert) != NULL);
    s_require(memchr(cfg->permissions, 0, sizeof cfg->permissions) != NULL);
    s_require(!cfg->curve || (cfg->cert[0] && cfg->permissions[0]));
    s_require(s_string_ok(cfg->data_dir, sizeof cfg->data_dir));
    s_require(memchr(cfg->config_file, 0, sizeof cfg->config_file) != NULL);
    s_require(cfg->map_size >= OB_MAP_SIZE_MIN && cfg->map_size <= OB_CONFIG_MAP_SIZE_MAX);
    s_require(cfg->max_event_bytes >= OB_CONFIG_EVENT_MIN &&
              cfg->max_event_bytes <= OB_EVENT_MAX_ACCEPT);
    s_require(cfg->batch_max >= 1 && cfg->batch_max <= OB_BATCH_MAX);
    s_require(cfg->verbose == 0 || cfg->verbose == 1);
    s_require(cfg->retention.max_age_ms <= OB_CONFIG_AGE_MAX_MS);
    s_require(cfg->retention_rule_count <= OB_CONFIG_RETENTION_RULES_MAX);
    for (size_t r = 0; r < cfg->retention_rule_count; r++) {
        const ob_config_rule_t *rule = &cfg->retention_rules[r];
        s_require(s_string_ok(rule->pattern, sizeof rule->pattern));
        s_require(ob_pattern_valid(rule->pattern, strlen(rule->pattern)));
        s_require(rule->retention.max_age_ms <= OB_CONFIG_AGE_MAX_MS);
        for (size_t q = 0; q < r; q++)
            s_require(strcmp(rule->pattern, cfg->retention_rules[q].pattern) != 0);
    }
    s_require(ob_config_validate(cfg, err, sizeof err) == 0);

    /* The policy lookup: a rule's pattern, read as a topic, gets the first matching rule. */
    for (size_t r = 0; r < cfg->retention_rule_count; r++) {
        const char *topic = cfg->retention_rules[r].pattern;
        if (!ob_topic_valid(topic, strlen(topic)))
            continue;
        ob_retention_t got;
        ob_config_retention((void *)(uintptr_t)cfg, topic, &got);
        size_t first = 0;
        while (first < r &&
               !ob_pattern_match(cfg->retention_rules[first].pattern,
                                 strlen(cfg->retention_rules[first].pattern), topic, strlen(topic)))
            first++;
        s_require(memcmp(&got, &cfg->retention_rules[first].retention, sizeof got) == 0);
    }
}

/* Checks a failure's code and message. */
static void
s_check_failed(int rc, const char *err, size_t errlen)
{
    s_require(rc == OB_ERR_INVALID_ARGUMENT);
    s_require(s_string_ok(err, errlen));
}

/* Returns 1 if arg could make the parser open a file the fuzzer named: --config, alone or
   as --config=PATH. */
static int
s_names_file(const char *arg)
{
    return !strncmp(arg, "--config", 8);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t file_len = nul ? (size_t)(nul - data) : size;
    char *args = NULL;
    char *argv[S_ARGS_MAX + 4];
    int argc = 0;
    char err[OB_CONFIG_ERR_MAX];
    ob_config_t *cfg = malloc(sizeof *cfg);
    s_require(cfg != NULL);

    s_write_file(data, file_len);
    argv[argc++] = (char *)"orderbus-broker";
    argv[argc++] = (char *)"--config";
    argv[argc++] = s_path;
    if (nul) {
        /* the arguments, a terminated copy so that the last one ends too */
        size_t args_len = size - file_len - 1;
        args = malloc(args_len + 1);
        s_require(args != NULL);
        memcpy(args, nul + 1, args_len);
        args[args_len] = '\0';
        for (char *arg = args; argc < S_ARGS_MAX + 3 && arg <= args + args_len;
             arg += strlen(arg) + 1) {
            if (s_names_file(arg))
                goto out;
            argv[argc++] = arg;
        }
    }
    argv[argc] = NULL;

    /* The file alone, over the defaults. */
    ob_config_defaults(cfg);
    err[0] = '\0';
    int rc = ob_config_load(cfg, s_path, err, sizeof err);
    if (rc) {
        s_check_failed(rc, err, sizeof err);
    } else {
        s_require(!strcmp(cfg->config_file, s_path));
        err[0] = '\0';
        rc = ob_config_validate(cfg, err, sizeof err);
        if (rc)
            s_check_failed(rc, err, sizeof err);
        else
            s_check_valid(cfg);
    }

    /* The whole command line. */
    memset(cfg, 0xa5, sizeof *cfg); /* ob_config_parse must not read what was there */
    rc = ob_config_parse(cfg, argc, argv, err, sizeof err);
    if (rc)
        s_check_failed(rc, err, sizeof err);
    else if (!cfg->help && !cfg->version)
        s_check_valid(cfg);

out:
    free(args);
    free(cfg);
    return 0;
}
