/*  ob_jira_config: orderbus-jira's configuration: defaults, a ZPL file, then flags, through
    common/options.h (one table gives the file keys, the flags and --help).

    Sections:
      adapter/  oms_id, the loopback address of the webhook endpoint, /metrics and /healthz,
                the LMDB data directory, the webhook secret file, the fallback e-mail
      broker/   the endpoint and the CURVE certificates, as any client
      jira/     the base URL, the user and its token file or a PAT file, the project key,
                the epic and item issue type ids, the Epic Name and Epic Link field ids, the
                project role of restricted comments, timeouts and backoff
      fields/   Jira field ids of the Marketplace values the reference maps (its section
                9.6); an empty or absent key is not written
      options/  select option ids of the customer typology and of "I need a voucher"
      status    one section per Marketplace status type (repeated; its section 9.7): the
                Jira status id that means it (Jira -> Marketplace), the transition id that
                reaches it (Marketplace -> Jira), the status value sent with it
    No secret is in this file: the token, PAT and webhook secret are read from their files
    by ob_jira_config_read_secrets and never logged. */
#ifndef OB_JIRA_CONFIG_H
#define OB_JIRA_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jira_limits.h"
#include "options.h"

#define OB_JIRA_CONFIG_ERR_MAX OB_OPTIONS_ERR_MAX /* a useful size for errbuf arguments */
#define OB_JIRA_PATH_TEXT_MAX PATH_MAX            /* bytes of a path, with its NUL */

/* The Marketplace values the reference adapter maps to Jira fields (X: enum, file key, flag,
   what it holds). */
#define OB_JIRA_FIELDS(X)                                                                          \
    X(OB_JIRA_F_CI_NAME, "ci_name", "--field-ci-name", "owner's first name")                       \
    X(OB_JIRA_F_CI_SURNAME, "ci_surname", "--field-ci-surname", "owner's last name")               \
    X(OB_JIRA_F_CI_EMAIL, "ci_email", "--field-ci-email", "owner's e-mail")                        \
    X(OB_JIRA_F_CI_DISPLAY_NAME, "ci_display_name", "--field-ci-display-name",                     \
      "owner's full name")                                                                         \
    X(OB_JIRA_F_CI_UID, "ci_eosc_unique_id", "--field-ci-eosc-unique-id", "owner's EOSC uid")      \
    X(OB_JIRA_F_CI_INSTITUTION, "ci_institution", "--field-ci-institution",                        \
      "organization (single_user and research projects only)")                                     \
    X(OB_JIRA_F_CI_DEPARTMENT, "ci_department", "--field-ci-department",                           \
      "department (single_user and research projects only)")                                       \
    X(OB_JIRA_F_CI_WEBPAGE, "ci_departmental_web_page", "--field-ci-departmental-web-page",        \
      "department's web page (single_user and research projects only)")                            \
    X(OB_JIRA_F_CP_DISCIPLINE, "cp_scientific_discipline", "--field-cp-scientific-discipline",     \
      "scientific domains, comma-joined, or N/A")                                                  \
    X(OB_JIRA_F_CP_TYPOLOGY, "cp_customer_typology", "--field-cp-customer-typology",               \
      "customer typology (a select: options/typology_*)")                                          \
    X(OB_JIRA_F_CP_COUNTRY, "cp_customer_country", "--field-cp-customer-country",                  \
      "country, or N/A")                                                                           \
    X(OB_JIRA_F_CP_COLLAB, "cp_collaboration_country", "--field-cp-collaboration-country",         \
      "collaboration countries, comma-joined, or N/A")                                             \
    X(OB_JIRA_F_CP_GROUP, "cp_user_group_name", "--field-cp-user-group-name", "user group name")   \
    X(OB_JIRA_F_SO_PROJECT, "so_project_name", "--field-so-project-name",                          \
      "\"NAME (PROJECT ID)\" of the project")                                                      \
    X(OB_JIRA_F_CP_PLATFORMS, "cp_platforms", "--field-cp-platforms",                              \
      "the item's platforms, comma-joined")                                                        \
    X(OB_JIRA_F_CP_VOUCHER, "cp_i_need_a_voucher", "--field-cp-i-need-a-voucher",                  \
      "request_voucher (a select: options/voucher_*)")                                             \
    X(OB_JIRA_F_CP_VOUCHER_ID, "cp_voucher_id", "--field-cp-voucher-id",                           \
      "the voucher id the user supplied")                                                          \
    X(OB_JIRA_F_SO_1, "so_1", "--field-so-1",                                                      \
      "the order as JSON: category, service, offer, attributes {label: value}")

#define OB_JIRA_X_ENUM(e, key, flag, help) e,
typedef enum ob_jira_field { OB_JIRA_FIELDS(OB_JIRA_X_ENUM) OB_JIRA_FIELD_COUNT } ob_jira_field_t;
#undef OB_JIRA_X_ENUM

/* Select options (X: enum, file key, flag, the Marketplace value). */
#define OB_JIRA_OPTIONS(X)                                                                         \
    X(OB_JIRA_O_SINGLE_USER, "typology_single_user", "--option-typology-single-user",              \
      "single_user")                                                                               \
    X(OB_JIRA_O_RESEARCH, "typology_research", "--option-typology-research", "research")           \
    X(OB_JIRA_O_PRIVATE_COMPANY, "typology_private_company", "--option-typology-private-company",  \
      "private_company")                                                                           \
    X(OB_JIRA_O_PROJECT, "typology_project", "--option-typology-project", "project")               \
    X(OB_JIRA_O_VOUCHER_TRUE, "voucher_true", "--option-voucher-true", "true")                     \
    X(OB_JIRA_O_VOUCHER_FALSE, "voucher_false", "--option-voucher-false", "false")

#define OB_JIRA_X_ENUM(e, key, flag, value) e,
typedef enum ob_jira_option {
    OB_JIRA_OPTIONS(OB_JIRA_X_ENUM) OB_JIRA_OPTION_COUNT
} ob_jira_option_t;
#undef OB_JIRA_X_ENUM

/* One row of the workflow map. */
typedef struct ob_jira_status {
    char type[OB_JIRA_STATUS_TYPE_MAX];   /* Marketplace status.type (not "created") */
    char value[OB_JIRA_STATUS_VALUE_MAX]; /* status.value sent; "": Jira's status name */
    char jira_status[OB_JIRA_ID_MAX];     /* Jira status id meaning it; "": not sent back */
    char transition[OB_JIRA_ID_MAX];      /* transition id reaching it; "": not applied */
} ob_jira_status_t;

typedef struct ob_jira_config {
    uint64_t oms_id;                           /* the OMS: events of oms.<id>, commands mp.<id> */
    char listen[OB_JIRA_ADDR_MAX];             /* webhooks, /metrics, /healthz: IPV4:PORT */
    char listen_file[OB_JIRA_PATH_TEXT_MAX];   /* where the bound address goes, "" if not */
    char data_dir[OB_JIRA_PATH_TEXT_MAX];      /* the LMDB of the id map */
    char secret_file[OB_JIRA_PATH_TEXT_MAX];   /* file of the webhook secret */
    char author_email[OB_JIRA_AUTHOR_MAX + 1]; /* e-mail of a Jira author who shows none */
    char endpoint[OB_JIRA_URL_MAX];            /* broker endpoint */
    char cert[OB_JIRA_PATH_TEXT_MAX];          /* CURVE: our certificate, "" for plaintext */
    char broker_cert[OB_JIRA_PATH_TEXT_MAX];   /* CURVE: the broker's public certificate */
    char url[OB_JIRA_URL_MAX];                 /* Jira base URL, without /rest/api/2 */
    char user[OB_JIRA_NAME_MAX];               /* the Jira user the adapter acts as */
    char token_file[OB_JIRA_PATH_TEXT_MAX];    /* its API token or password: basic auth */
    char pat_file[OB_JIRA_PATH_TEXT_MAX];      /* or its personal access token: bearer */
    char project[OB_JIRA_KEY_MAX];             /* the Jira project key */
    char epic_type[OB_JIRA_ID_MAX];            /* issue type id of a project's epic */
    char item_type[OB_JIRA_ID_MAX];            /* issue type id of an item's issue */
    char epic_name_field[OB_JIRA_ID_MAX];      /* Epic Name field id (customfield_N) */
    char epic_link_field[OB_JIRA_ID_MAX];      /* Epic Link field id (customfield_N) */
    char internal_role[OB_JIRA_NAME_MAX];      /* role of internal messages' comments; "": skip */
    uint64_t timeout_ms;                       /* longest Jira request */
    uint64_t backoff_ms;                       /* first retry delay */
    uint64_t backoff_max_ms;                   /* longest retry delay */
    char field[OB_JIRA_FIELD_COUNT][OB_JIRA_ID_MAX];   /* Jira field ids, "": not written */
    char option[OB_JIRA_OPTION_COUNT][OB_JIRA_ID_MAX]; /* select option ids, "": none */
    size_t status_count;                               /* rows in status */
    ob_jira_status_t status[OB_JIRA_STATUSES_MAX];     /* the workflow map, in file order */
    char config_file[OB_JIRA_PATH_TEXT_MAX];           /* the file loaded, "" if none */
    int help;                                          /* 1: --help was given */
    int version;                                       /* 1: --version was given */
} ob_jira_config_t;

/* The secrets, read from their files; never logged. */
typedef struct ob_jira_secrets {
    char auth[OB_JIRA_AUTH_MAX];           /* Authorization header value */
    uint8_t hook[OB_JIRA_SECRET_FILE_MAX]; /* the webhook secret */
    size_t hook_len;                       /* its bytes */
} ob_jira_secrets_t;

/* Fills *cfg (borrowed, overwritten) with the defaults (jira_limits.h). */
void ob_jira_config_defaults(ob_jira_config_t *cfg);

/* Parses argv (borrowed; argv[0] is the program) into *cfg: defaults, the file of --config,
   the flags, then ob_jira_config_validate. With --help or --version sets cfg->help or
   cfg->version and returns 0 at once. On failure writes a one-line message into errbuf
   (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT. */
int ob_jira_config_parse(ob_jira_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Checks the whole of *cfg (borrowed): oms_id, listen, the certificates together, an
   http(s) url, user, exactly one of token_file and pat_file, secret_file, data_dir, the
   project and issue types, the epic fields, the numbers in range, and each status row (a
   known type other than created, given once, with a transition or a Jira status). Returns 0
   or OB_ERR_INVALID_ARGUMENT with a message naming the key. */
int ob_jira_config_validate(ob_jira_config_t *cfg, char *errbuf, size_t errlen);

/* Reads the token or PAT file and the webhook secret file into *ret_secrets (the caller's,
   to wipe with ob_jira_secrets_wipe): one line each, trailing newline and blanks dropped;
   the webhook secret at least OB_JIRA_SECRET_MIN bytes. The message names the file, never a
   secret. Returns 0, OB_ERR_INVALID_ARGUMENT, OB_ERR_TOO_LARGE or -errno. */
int ob_jira_config_read_secrets(const ob_jira_config_t *cfg, ob_jira_secrets_t *ret_secrets,
                                char *errbuf, size_t errlen);

/* Overwrites *secrets with zeros. */
void ob_jira_secrets_wipe(ob_jira_secrets_t *secrets);

/* Returns the status row of Marketplace type (borrowed), or NULL; borrowed from cfg. */
const ob_jira_status_t *ob_jira_config_status_by_type(const ob_jira_config_t *cfg,
                                                      const char *type);

/* Returns the status row whose Jira status id is jira_status (borrowed), or NULL. */
const ob_jira_status_t *ob_jira_config_status_by_jira(const ob_jira_config_t *cfg,
                                                      const char *jira_status);

/* Splits cfg->listen into host (a dotted IPv4 address) and port. Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
int ob_jira_config_listen(const ob_jira_config_t *cfg, char host[OB_JIRA_ADDR_MAX],
                          uint16_t *ret_port);

/* Writes --help to out; prog (borrowed) is argv[0]. */
void ob_jira_config_usage(FILE *out, const char *prog);

#endif
