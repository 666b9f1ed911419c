/*  ob_wh_config: orderbus-webhook's configuration: defaults, a ZPL file, then flags, through
    common/options.h (one table gives the file keys, the flags and --help).

    Sections: `webhook/` (the loopback address of /metrics and /healthz), `broker/` (the
    endpoint and the CURVE certificates, as any client) and one `target` section per receiver
    (repeated; 1 to OB_WH_TARGETS_MAX). The --target-* flags set the first target, which is
    how a single target is given on the command line; with a file they amend its first
    `target`. A target has:
        name          [a-z0-9_-], 1..OB_WH_NAME_MAX bytes, distinct: its durable subscription
                      is webhook-NAME and its dead letters go to topic webhook-dlq.NAME
        url           http:// or https:// URL the events are POSTed to
        secret_file   file of its whsec_ secrets, one a line (wh_sign.h), read at start
        patterns      topic patterns, separated by spaces or commas (1..OB_SUB_PATTERNS_MAX)
        types         event types, likewise (0..OB_SUB_TYPES_MAX; none: every type)
        timeout       longest POST, connecting included
        max_attempts  POSTs of one event before its dead letter (0: never give up)
        backoff       delay after the first failed POST, doubled after each one
        backoff_max   longest delay between two POSTs, Retry-After included
        commands      the way back: the oms_id whose topic mp.<oms_id> the target may post
                      commands to, signed with its secrets (wh_http.h); 0, the default: off
    The secrets are never in this file and never logged. */
#ifndef OB_WH_CONFIG_H
#define OB_WH_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "options.h"
#include "wh_answer.h"
#include "wh_limits.h"
#include "wh_sign.h"

#define OB_WH_CONFIG_ERR_MAX OB_OPTIONS_ERR_MAX /* a useful size for errbuf arguments */
#define OB_WH_PATH_TEXT_MAX PATH_MAX            /* bytes of a path, with its NUL */

/* One receiver. */
typedef struct ob_wh_target {
    char name[OB_WH_NAME_MAX + 1];           /* [a-z0-9_-]: subscription webhook-NAME */
    char url[OB_WH_URL_MAX];                 /* where events are POSTed */
    char secret_file[OB_WH_PATH_TEXT_MAX];   /* file of its whsec_ secrets */
    char patterns_text[OB_WH_LIST_TEXT_MAX]; /* patterns as given, space/comma-separated */
    char types_text[OB_WH_LIST_TEXT_MAX];    /* types as given, "" for every type */
    uint64_t timeout_ms;                     /* longest POST */
    unsigned max_attempts;                   /* POSTs before the dead letter, 0 unlimited */
    uint64_t backoff_ms;                     /* first retry delay */
    uint64_t backoff_max_ms;                 /* longest retry delay */
    unsigned commands_oms;                   /* the way back: mp.<this> may be commanded, 0 off */
    char patterns[OB_SUB_PATTERNS_MAX][OB_TOPIC_MAX + 1]; /* split by validate */
    size_t pattern_count;                                 /* 1..OB_SUB_PATTERNS_MAX */
    char types[OB_SUB_TYPES_MAX][OB_EVENT_TYPE_MAX + 1];  /* split by validate */
    size_t type_count;                                    /* 0..OB_SUB_TYPES_MAX */
    ob_wh_secrets_t secrets; /* read by ob_wh_config_read_secrets; secret */
} ob_wh_target_t;

typedef struct ob_wh_config {
    char listen[OB_WH_ADDR_MAX];              /* /metrics and /healthz: IPV4:PORT (0: any port) */
    char listen_file[OB_WH_PATH_TEXT_MAX];    /* where the bound address goes, "" if not */
    char endpoint[OB_WH_URL_MAX];             /* broker endpoint */
    char cert[OB_WH_PATH_TEXT_MAX];           /* CURVE: our certificate, "" for plaintext */
    char broker_cert[OB_WH_PATH_TEXT_MAX];    /* CURVE: the broker's public certificate */
    size_t target_count;                      /* targets in target */
    ob_wh_target_t target[OB_WH_TARGETS_MAX]; /* in file order */
    char config_file[OB_WH_PATH_TEXT_MAX];    /* the file loaded, "" if none */
    int help;                                 /* 1: --help was given; nothing else parsed */
    int version;                              /* 1: --version was given */
} ob_wh_config_t;

/* Fills *cfg (borrowed, overwritten) with the defaults (wh_limits.h): no target. */
void ob_wh_config_defaults(ob_wh_config_t *cfg);

/* Parses argv (borrowed; argv[0] is the program) into *cfg: defaults, the file of --config,
   the flags, then ob_wh_config_validate. With --help or --version sets cfg->help or
   cfg->version and returns 0 at once. Secrets are not read. On failure writes a one-line
   message into errbuf (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT. */
int ob_wh_config_parse(ob_wh_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Checks the whole of *cfg (borrowed): the listen address, the broker's certificates, one
   target at least, each complete (name, http(s) url, secret_file, patterns) and in range,
   names distinct; and splits each target's patterns_text and types_text into its patterns
   and types (each valid: ob_pattern_valid, ob_event_type_valid). Returns 0 or
   OB_ERR_INVALID_ARGUMENT with a message naming the target and the key. */
int ob_wh_config_validate(ob_wh_config_t *cfg, char *errbuf, size_t errlen);

/* Reads every target's secret file (at most OB_WH_SECRET_FILE_MAX bytes) into its secrets
   (ob_wh_secrets_parse). The message names the target and the file, never a secret.
   Returns 0, OB_ERR_INVALID_ARGUMENT (a file whose content is not secrets), or the reading
   error (-errno, OB_ERR_TOO_LARGE, -ENOMEM). */
int ob_wh_config_read_secrets(ob_wh_config_t *cfg, char *errbuf, size_t errlen);

/* Overwrites every target's secrets with zeros (before cfg is freed or left). */
void ob_wh_config_wipe(ob_wh_config_t *cfg);

/* Returns target's retry policy (borrowed target; the policy holds no pointer). */
ob_wh_policy_t ob_wh_config_policy(const ob_wh_target_t *target);

/* Splits cfg->listen into host (a dotted IPv4 address) and port. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
int ob_wh_config_listen(const ob_wh_config_t *cfg, char host[OB_WH_ADDR_MAX], uint16_t *ret_port);

/* Writes --help to out; prog (borrowed) is argv[0]. */
void ob_wh_config_usage(FILE *out, const char *prog);

#endif
