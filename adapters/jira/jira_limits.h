/*  jira_limits: every size, count and default of orderbus-jira (adapters/jira/). Caps on what
    comes from outside (a configuration file, a secret file, a Marketplace snapshot, a Jira
    webhook) are hard limits: more is refused. A DEFAULT is a configurable value. No .c file
    of the adapter holds one of these as a magic number. */
#ifndef OB_JIRA_LIMITS_H
#define OB_JIRA_LIMITS_H

#include <stdint.h>

#include "orderbus/limits.h"

/* Configuration (jira_config) */
#define OB_JIRA_CONFIG_FILE_MAX (1024 * 1024) /* bytes of a configuration file */
#define OB_JIRA_ADDR_MAX 64                   /* bytes of a listen address HOST:PORT */
#define OB_JIRA_URL_MAX 1024                  /* bytes of the Jira base URL, with its NUL */
#define OB_JIRA_NAME_MAX 256                  /* bytes of a Jira user name, with its NUL */
#define OB_JIRA_KEY_MAX 64                    /* bytes of a project key, with its NUL */
#define OB_JIRA_ID_MAX 64                     /* bytes of a Jira id (field, type, option...) */
#define OB_JIRA_STATUS_VALUE_MAX 256          /* bytes of a Marketplace status value + NUL */
#define OB_JIRA_STATUS_TYPE_MAX 32            /* bytes of a Marketplace status type + NUL */
#define OB_JIRA_STATUSES_MAX 16               /* `status` sections of one adapter */
#define OB_JIRA_SECRET_FILE_MAX 4096          /* bytes of a token or webhook secret file */
#define OB_JIRA_SECRET_MIN 16                 /* bytes of the webhook secret, at least */
/* The Authorization header's value: "Basic " and base64 of user:token, with its NUL (a
   bearer token is shorter) */
#define OB_JIRA_AUTH_MAX (8 + 4 * ((OB_JIRA_NAME_MAX + OB_JIRA_SECRET_FILE_MAX + 2) / 3))
#define OB_JIRA_LISTEN_DEFAULT "127.0.0.1:7480"    /* webhooks, /metrics, /healthz: loopback */
#define OB_JIRA_TIMEOUT_MS_DEFAULT 30000           /* one Jira request, connecting included */
#define OB_JIRA_TIMEOUT_MS_MIN 100                 /* shortest request timeout */
#define OB_JIRA_TIMEOUT_MS_MAX 600000              /* longest request timeout */
#define OB_JIRA_BACKOFF_MS_DEFAULT 1000            /* first retry delay, doubled each attempt */
#define OB_JIRA_BACKOFF_MS_MIN 1                   /* smallest backoff base */
#define OB_JIRA_BACKOFF_MAX_MS_DEFAULT 300000      /* longest retry delay, Retry-After included */
#define OB_JIRA_BACKOFF_MAX_MS_MAX OB_DELAY_MS_MAX /* a NACK's delay cannot be longer */
#define OB_JIRA_OMS_ID_MAX 0x7fffffffffffffffULL   /* Marketplace ids are JSON integers */

/* Request builders (jira_build) */
#define OB_JIRA_SNAPSHOT_MAX (512 * 1024)      /* bytes of a Marketplace snapshot (event data) */
#define OB_JIRA_JSON_DEPTH_MAX 32              /* nesting of a snapshot or a webhook, at most */
#define OB_JIRA_SUMMARY_MAX 254                /* characters of a summary (Jira: < 255) */
#define OB_JIRA_TEXT_MAX (32 * 1024)           /* bytes of a text field's value we write */
#define OB_JIRA_COMMENT_MAX (64 * 1024 + 1024) /* bytes of a comment body: content + frame */
#define OB_JIRA_LABEL_MAX 96                   /* bytes of an adapter label, with its NUL */
#define OB_JIRA_LABEL_PREFIX "orderbus-"       /* the adapter's labels: prefix, oms, ids */
#define OB_JIRA_MARK_MAX 96                    /* bytes of a comment's mark, with its NUL */
#define OB_JIRA_MARK_PREFIX "[orderbus:"       /* a comment's mark: prefix, ids, "]" */
#define OB_JIRA_PROPERTY "orderbus"            /* entity property of the adapter's issues */
#define OB_JIRA_NA "N/A"                       /* what the reference writes for no value */

/* Webhooks (jira_hook) */
#define OB_JIRA_HOOK_MAX (1024 * 1024)  /* bytes of a webhook body */
#define OB_JIRA_SIG_PREFIX "sha256="    /* X-Hub-Signature: prefix, then hex */
#define OB_JIRA_MAC_BYTES 32            /* HMAC-SHA256 */
#define OB_JIRA_JIRA_ID_MAX 20          /* digits of a Jira numeric id (issue, comment...) */
#define OB_JIRA_COMMAND_ID_MAX 64       /* bytes of a command id (gateway COMMANDS.md) */
#define OB_JIRA_COMMAND_PREFIX "jira-"  /* the adapter's command ids start with it */
#define OB_JIRA_CONTENT_MAX (64 * 1024) /* bytes of a message's content (COMMANDS.md) */
#define OB_JIRA_AUTHOR_MAX 255          /* bytes of an author's name or email (COMMANDS.md) */

/* The id map (jira_map) */
#define OB_JIRA_MAP_SIZE (16u * 1024 * 1024)  /* first LMDB map size; doubled when full */
#define OB_JIRA_MAP_LOCK "orderbus-jira.lock" /* the data directory's lock file */
#define OB_JIRA_MAP_KEY_MAX 64                /* bytes of a map key, with its NUL */
#define OB_JIRA_MAP_VALUE_MAX 512             /* bytes of a map value, with its NUL */
#define OB_JIRA_MAP_ORIGIN "j/"  /* map key prefix: a Jira comment's Marketplace message */
#define OB_JIRA_MAP_PENDING "e/" /* map key prefix: a comment edited before that was known */

/* The daemon (jira_engine, jira_http, main) */
#define OB_JIRA_SUB_PREFIX "jira-"          /* the durable subscription: prefix + oms_id */
#define OB_JIRA_CREDIT 64                   /* deliveries the subscription may have pending */
#define OB_JIRA_ACK_WAIT_MS OB_DELAY_MS_MAX /* events are held while Jira is retried */
#define OB_JIRA_POLL_MS 250                 /* longest wait of the engine's loop: heartbeats 1 s */
#define OB_JIRA_BROKER_MS 5000              /* connect, subscribe and publish wait */
#define OB_JIRA_SUBSCRIBE_RETRY_MS 1000     /* a refused or timed-out subscribe is tried again */
#define OB_JIRA_CONNECT_MS_MAX 10000        /* TCP and TLS connect of a Jira request, at most */
#define OB_JIRA_ANSWER_MAX (4u * 1024 * 1024) /* bytes of a Jira answer we read */
#define OB_JIRA_COMMENT_PAGE 100              /* comments per page when a mark is looked for */
#define OB_JIRA_COMMENT_PAGES_MAX 100         /* pages looked at, at most (10 000 comments) */
#define OB_JIRA_HTTP_CONNECTIONS 16           /* connections at once to the HTTP endpoint */
#define OB_JIRA_HTTP_TIMEOUT_S 10             /* idle connection of that server, seconds */
#define OB_JIRA_HTTP_MEMORY (32u * 1024)      /* bytes of one of its connections' buffers */
#define OB_JIRA_WEBHOOK_PATH "/jira/webhook"  /* where Jira POSTs */
#define OB_JIRA_METRIC_SERIES 16              /* series of one metric */
#define OB_JIRA_SOURCE "orderbus-jira"        /* the source of the commands it publishes */

#endif
