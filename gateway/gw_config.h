/*  ob_gw_config: orderbus-gateway's configuration: defaults, a ZPL file, then flags, through
    common/options.h (one table gives the file keys, the flags and --help).

    Sections: `gateway/` (HTTP listen address, data directory, HTTP limits), `broker/` (the
    endpoint and the CURVE certificates, as any client) and one `oms` section per registered
    OMS (repeated; at most OB_GW_OMS_MAX). The --oms-* flags set the first OMS, which is how a
    single OMS is registered from the command line; with a file they amend its first `oms`.
    An OMS section without an id is an error; a gateway without OMS sections serves only
    /healthz, /readyz and /metrics.

    Secrets are never in the file: `token_file` holds the OMS's X-User-Token and
    `trigger_password_file` the password of the trigger's basic credentials, and
    `facade_trigger_password_file` that of the trigger the gateway calls (facade_trigger.h),
    each read once
    by ob_gw_config_read_secrets (a trailing newline is dropped) and never logged. An OMS
    without trigger credentials accepts a trigger without any (a trigger only wakes a poll). */
#ifndef OB_GW_CONFIG_H
#define OB_GW_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gw_limits.h"
#include "options.h"

#define OB_GW_CONFIG_ERR_MAX OB_OPTIONS_ERR_MAX /* a useful size for errbuf arguments */
#define OB_GW_PATH_TEXT_MAX PATH_MAX            /* bytes of a path, with its NUL */

/* One registered OMS. */
typedef struct ob_gw_oms {
    uint64_t id;                                     /* the Marketplace's OMS id */
    char url[OB_GW_URL_MAX];                         /* Marketplace base URL, no trailing / */
    char token_file[OB_GW_PATH_TEXT_MAX];            /* file holding the X-User-Token */
    char trigger_user[OB_GW_USER_MAX + 1];           /* trigger basic user, "" for none */
    char trigger_password_file[OB_GW_PATH_TEXT_MAX]; /* file holding its password */
    uint64_t poll_ms;                                /* timer poll interval */
    unsigned page_size;                              /* limit of an ordinary events read */
    uint64_t overlap_ms;                             /* window re-read (whole seconds) */
    uint64_t timeout_ms;                             /* one Marketplace request */
    char token[OB_GW_SECRET_MAX + 1];                /* read from token_file; secret */
    char trigger_password[OB_GW_SECRET_MAX + 1];     /* read from its file; secret */
    char ft_url[OB_GW_URL_MAX];                      /* facade trigger out: URL, "" for none */
    char ft_method[OB_GW_FT_METHOD_MAX];             /* ... GET, POST (default) or PUT */
    char ft_user[OB_GW_USER_MAX + 1];                /* ... basic user, "" for none */
    char ft_password_file[OB_GW_PATH_TEXT_MAX];      /* ... file holding its password */
    char ft_password[OB_GW_SECRET_MAX + 1];          /* ... read from its file; secret */
} ob_gw_oms_t;

typedef struct ob_gw_config {
    char listen[OB_GW_ADDR_MAX];           /* HTTP listen address IPv4:PORT (0: any port) */
    char listen_file[OB_GW_PATH_TEXT_MAX]; /* where the bound address goes, "" if not */
    char data_dir[OB_GW_PATH_TEXT_MAX];    /* LMDB environment directory (created 0700) */
    unsigned max_connections;              /* HTTP connections at once */
    unsigned http_timeout_s;               /* idle HTTP connection timeout */
    char tls_cert[OB_GW_PATH_TEXT_MAX];    /* HTTPS: PEM certificate (chain), "" for HTTP */
    char tls_key[OB_GW_PATH_TEXT_MAX];     /* HTTPS: its PEM private key */
    char tokens_file[OB_GW_PATH_TEXT_MAX]; /* REST: bearer tokens (tokens.h), "" for no REST */
    uint64_t rest_body_max;                /* REST: bytes of a request body */
    unsigned rest_rate;                    /* REST: requests per second per client */
    unsigned rest_burst;                   /* REST: requests at once per client */
    unsigned rest_streams_max;             /* REST: streams at once per client */
    unsigned rest_waits_max;               /* REST: long-polls waiting at once per client */
    int facade;                            /* 1: the Ordering API facade under /api/v1/oms/ */
    uint64_t facade_wait_ms;               /* facade writes: wait for the outcome, then 202 */
    char endpoint[OB_GW_URL_MAX];          /* broker endpoint */
    char cert[OB_GW_PATH_TEXT_MAX];        /* CURVE: our certificate, "" for plaintext */
    char broker_cert[OB_GW_PATH_TEXT_MAX]; /* CURVE: the broker's public certificate */
    size_t oms_count;                      /* OMSes in oms */
    ob_gw_oms_t oms[OB_GW_OMS_MAX];        /* in file order */
    char config_file[OB_GW_PATH_TEXT_MAX]; /* the file loaded, "" if none */
    int help;                              /* 1: --help was given; nothing else parsed */
    int version;                           /* 1: --version was given */
} ob_gw_config_t;

/* Fills *cfg (borrowed, overwritten) with the defaults (gw_limits.h): no OMS. */
void ob_gw_config_defaults(ob_gw_config_t *cfg);

/* Parses argv (borrowed; argv[0] is the program) into *cfg: defaults, the file of --config,
   the flags, then validation (ob_gw_config_validate). With --help or --version sets
   cfg->help or cfg->version and returns 0 at once. Secrets are not read. On failure writes a
   one-line message into errbuf (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT. */
int ob_gw_config_parse(ob_gw_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Checks the whole of *cfg: the listen address, ranges, every OMS complete (id, url,
   token_file; a trigger user needs its password file and the reverse), ids distinct.
   Returns 0 or OB_ERR_INVALID_ARGUMENT with a message. */
int ob_gw_config_validate(const ob_gw_config_t *cfg, char *errbuf, size_t errlen);

/* Reads every OMS's token and trigger password from their files into cfg (at most
   OB_GW_SECRET_MAX bytes each, one line; a trailing newline is dropped; empty refused). The
   message names the file, never its content. Returns 0, OB_ERR_INVALID_ARGUMENT, or the
   reading error (-errno, OB_ERR_TOO_LARGE). */
int ob_gw_config_read_secrets(ob_gw_config_t *cfg, char *errbuf, size_t errlen);

/* Splits cfg->listen into host (a dotted IPv4 address) and port. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
int ob_gw_config_listen(const ob_gw_config_t *cfg, char host[OB_GW_ADDR_MAX], uint16_t *ret_port);

/* Writes --help to out; prog (borrowed) is argv[0]. */
void ob_gw_config_usage(FILE *out, const char *prog);

#endif
