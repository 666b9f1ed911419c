/*  ob_config: the broker's configuration: defaults, a ZPL file, then command-line flags.

    Precedence, lowest first: the defaults (limits.h), the file named by --config (sections
    `broker/` and `retention/`, parsed with czmq's zconfig), the flags. Every value is
    validated with a message that names the key or flag and says what is wrong; nothing is
    logged here (main prints).

    Retention: section `retention/` holds the default limits of every topic (max_age,
    max_events, max_bytes; 0 or absent = no limit, the default) and up to
    OB_CONFIG_RETENTION_RULES_MAX rules, children named `topic`, each a `pattern` and its own
    limits. Rules are tried in file order; the first whose pattern matches a topic gives that
    topic's limits, and a limit the rule does not set is unlimited for it (a rule replaces
    the defaults, it does not amend them). The --retention-* flags set the defaults only;
    rules come from the file alone. ob_config_retention answers for one topic:

        retention
            max_age = 7d            # ms, s, m, h or d; a bare number other than 0 is an error
            max_bytes = 10G         # K, M, G or T (powers of 1024)
            topic
                pattern = dlq.>     # dead letters: 30 days, and no byte limit
                max_age = 30d

    Security (section `security/`, PROTOCOL.md 14): curve = 1 (the default) makes the ROUTER a
    CURVE server with the certificate `cert`, and only the keys of the `permissions` file
    (perms.h) may connect; both paths are then required (the files themselves are read when
    the server starts). curve = 0 is plaintext without authentication, accepted only if the
    endpoint cannot be reached from another machine (tcp://127.0.0.1, tcp://[::1],
    tcp://localhost, ipc://, inproc://). */
#ifndef OB_CONFIG_H
#define OB_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metrics_http.h"
#include "options.h"
#include "orderbus/limits.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_CONFIG_ENDPOINT_MAX 255           /* bytes in an endpoint */
#define OB_CONFIG_PATH_MAX PATH_MAX          /* bytes in a path, with its NUL */
#define OB_CONFIG_MAP_SIZE_MAX (1ull << 40)  /* largest initial map size (1 TiB) */
#define OB_CONFIG_EVENT_MIN 64               /* smallest max_event_bytes: below this no */
                                             /* real event fits, surely a missing suffix */
#define OB_CONFIG_FILE_MAX (1024 * 1024)     /* bytes in a config file */
#define OB_CONFIG_ERR_MAX OB_OPTIONS_ERR_MAX /* a useful size for the errbuf argument */
#define OB_CONFIG_RETENTION_RULES_MAX 64     /* retention rules (retention/topic) in a file */
/* The longest max_age, 36500d (100 years): its microseconds stay far below UINT64_MAX. */
#define OB_CONFIG_AGE_MAX_MS (36500ull * 24 * 3600 * 1000)

/* One retention rule: the limits of the topics its pattern matches. */
typedef struct ob_config_rule {
    char pattern[OB_TOPIC_MAX + 1]; /* topic pattern (orderbus/pattern.h), NUL-terminated */
    ob_retention_t retention;       /* its limits; 0 = no limit (not "the default") */
} ob_config_rule_t;

typedef struct ob_config {
    char endpoint[OB_CONFIG_ENDPOINT_MAX + 1]; /* ZeroMQ endpoint the ROUTER binds */
    char data_dir[OB_CONFIG_PATH_MAX];         /* LMDB environment directory (created 0700) */
    char config_file[OB_CONFIG_PATH_MAX];      /* the file loaded, "" if none */
    char endpoint_file[OB_CONFIG_PATH_MAX];    /* where the bound endpoints go, "" if not */
    char metrics[OB_METRICS_HTTP_ADDRESS_MAX]; /* HOST:PORT of GET /metrics, "" if none */
    uint64_t map_size;                         /* initial LMDB map size; it grows on demand */
    uint64_t max_event_bytes;                  /* largest event frame accepted */
    unsigned batch_max;                        /* publishes in one group commit */
    unsigned max_clients;                      /* sessions at once */
    unsigned max_subs_per_client;              /* subscriptions one session is attached to */
    unsigned max_pending;                      /* publishes of one session awaiting answers */
    uint64_t max_unread_bytes;     /* DELIVER bytes a consumer has not shown it took (12.9) */
    unsigned max_topics;           /* topics stored */
    int verbose;                   /* 1: log every refused message (zsys_debug) */
    unsigned curve;                /* 1: CURVE + permissions; 0: plaintext */
    char cert[OB_CONFIG_PATH_MAX]; /* broker certificate (zcert), "" if none */
    char permissions[OB_CONFIG_PATH_MAX]; /* permissions file (perms.h), "" if none */
    int help;                             /* 1: --help was given; nothing else parsed */
    int version;                          /* 1: --version was given */
    ob_retention_t retention;             /* limits of topics no rule matches; 0 = none */
    size_t retention_rule_count;          /* rules in use in retention_rules */
    ob_config_rule_t retention_rules[OB_CONFIG_RETENTION_RULES_MAX]; /* in file order */
} ob_config_t;

/* Fills *cfg with the defaults of limits.h (borrowed, overwritten). */
void ob_config_defaults(ob_config_t *cfg);

/* Parses argv (borrowed; argv[0] is the program name) into *cfg: defaults, then the file of
   --config FILE if given, then the other flags, then validation of the whole. Flags take
   "--flag VALUE" or "--flag=VALUE". With --help or --version, sets cfg->help or
   cfg->version and returns 0 at once. On failure writes a one-line message (no newline) into
   errbuf (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT; *cfg then holds a mix
   of values and must not be used. */
int ob_config_parse(ob_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Loads the ZPL file at path (borrowed) over *cfg, without the final validation that
   ob_config_parse does. The rules of the file's retention section replace those in *cfg (a
   file without one keeps them). Returns 0 or OB_ERR_INVALID_ARGUMENT with a message in
   errbuf (an unreadable file, a syntax error, an unknown section or key, a bad value, a bad
   or repeated pattern, more than OB_CONFIG_RETENTION_RULES_MAX rules, a second retention
   section). */
int ob_config_load(ob_config_t *cfg, const char *path, char *errbuf, size_t errlen);

/* Checks the whole of *cfg (ranges, the security rule (curve needs cert and permissions,
   plaintext needs a local endpoint), the retention rules: count, patterns,
   limits). Returns 0 or OB_ERR_INVALID_ARGUMENT with a message in errbuf. */
int ob_config_validate(const ob_config_t *cfg, char *errbuf, size_t errlen);

/* The broker's retention policy, an ob_store_limits_fn for ob_store_retain: fills *ret with
   the limits of topic (a NUL-terminated topic name, borrowed): those of the first retention
   rule whose pattern matches it, else the defaults (cfg->retention). cfg is the
   const ob_config_t * (borrowed), already validated; it is only read, so any number of
   threads may call this at once. */
void ob_config_retention(void *cfg, const char *topic, ob_retention_t *ret);

/* Returns 1 if endpoint (borrowed) can only be reached from this machine, else 0. */
int ob_config_endpoint_local(const char *endpoint);

/* Writes the man-page-like usage (every flag, its default, the config file keys) to out. */
void ob_config_usage(FILE *out, const char *prog);

/* The broker's parsers' name for ob_options_fail (common/options.h): writes a formatted
   message into errbuf (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT. */
#define ob_config_fail ob_options_fail

#ifdef __cplusplus
}
#endif
#endif
