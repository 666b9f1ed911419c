/*  wh_limits: every size, count and default of orderbus-webhook (adapters/webhook/). Caps on
    what comes from outside (a configuration file, a secret file, a receiver's answer) are
    hard limits: more is refused. A DEFAULT is a configurable value. No .c file of the
    adapter holds one of these as a magic number. */
#ifndef OB_WH_LIMITS_H
#define OB_WH_LIMITS_H

#include <limits.h>
#include <stdint.h>

#include "orderbus/limits.h"

/* Standard Webhooks signing (wh_sign) */
#define OB_WH_SECRET_PREFIX "whsec_"        /* a secret's text starts with it, then base64 */
#define OB_WH_SECRET_BYTES_MIN 24           /* 192 bits: the spec's smallest secret */
#define OB_WH_SECRET_BYTES_MAX 64           /* 512 bits: the spec's largest secret */
#define OB_WH_SECRET_TEXT_MAX 128           /* bytes of one secret's text (6 + 88 used) */
#define OB_WH_SECRETS_MAX 4                 /* secrets of one target (rotation: new + old ones) */
#define OB_WH_SECRET_FILE_MAX 4096          /* bytes of a secret file */
#define OB_WH_MAC_BYTES 32                  /* HMAC-SHA256 */
#define OB_WH_MAC_B64 44                    /* base64 characters of one MAC, padded */
#define OB_WH_SIG_TOKEN (3 + OB_WH_MAC_B64) /* "v1," + MAC */
/* webhook-signature: the tokens, space-separated, with a NUL */
#define OB_WH_SIGNATURE_TEXT (OB_WH_SECRETS_MAX * (OB_WH_SIG_TOKEN + 1))
#define OB_WH_ID_PREFIX "ob_" /* webhook-id: prefix, then hex */
#define OB_WH_ID_DIGEST 32    /* SHA-256 of topic \n event id */
#define OB_WH_ID_TEXT (sizeof OB_WH_ID_PREFIX + 2 * OB_WH_ID_DIGEST) /* with its NUL: 68 */
#define OB_WH_TIMESTAMP_TEXT 21 /* webhook-timestamp: a u64 in decimal, with its NUL */

/* The way back: requests an OMS signs (wh_verify) */
#define OB_WH_TOLERANCE_S 300       /* webhook-timestamp: at most this far from now (the spec's) */
#define OB_WH_IN_ID_MAX 255         /* bytes of a received webhook-id */
#define OB_WH_IN_SIGNATURE_MAX 1024 /* bytes of a received webhook-signature */
#define OB_WH_OMS_ID_MAX UINT_MAX   /* largest oms_id a target may command */

/* Delivery body and dead letters (wh_body) */
#define OB_WH_TYPE_DEAD_LETTER "webhook.dead_letter" /* type of a dead letter's event */
#define OB_WH_DLQ_PREFIX "webhook-dlq."              /* dead letters of target T: topic + T */
#define OB_WH_SUB_PREFIX "webhook-"                  /* subscription of target T: prefix + T */
#define OB_WH_ANSWER_KEEP 1024 /* bytes of a refusing answer's body kept in its dead letter */
#define OB_WH_REASON_MAX 255   /* bytes of a dead letter's reason text */
#define OB_WH_BODY_EXTRA 1024  /* bytes of a body beyond the event's JSON (the envelope) */

/* Answers (wh_answer) */
#define OB_WH_RETRY_AFTER_TEXT_MAX 64 /* bytes of a Retry-After value we read */
#define OB_WH_HTTP_STATUS_MIN 100     /* smallest HTTP status code */
#define OB_WH_HTTP_STATUS_MAX 599     /* largest HTTP status code */
#define OB_WH_BACKOFF_SHIFT_MAX 32    /* the doubling stops here whatever the attempt */

/* Configuration (wh_config) */
#define OB_WH_TARGETS_MAX 64                     /* target sections of one adapter */
#define OB_WH_NAME_MAX (OB_SUB_NAME_MAX - 8)     /* bytes of a target name: sub "webhook-NAME" */
#define OB_WH_URL_MAX 1024                       /* bytes of a target URL, with its NUL */
#define OB_WH_ADDR_MAX 64                        /* bytes of a listen address HOST:PORT */
#define OB_WH_LIST_TEXT_MAX 4096                 /* bytes of a patterns or types value */
#define OB_WH_CONFIG_FILE_MAX (1024 * 1024)      /* bytes of a configuration file */
#define OB_WH_LISTEN_DEFAULT "127.0.0.1:7470"    /* /metrics and /healthz: loopback */
#define OB_WH_TIMEOUT_MS_DEFAULT 15000           /* one POST, connecting included (spec: 15-30 s) */
#define OB_WH_TIMEOUT_MS_MIN 100                 /* shortest POST timeout */
#define OB_WH_TIMEOUT_MS_MAX 600000              /* longest POST timeout */
#define OB_WH_ATTEMPTS_DEFAULT 24                /* POSTs of one event before its dead letter */
#define OB_WH_BACKOFF_MS_DEFAULT 1000            /* first retry delay, doubled each attempt */
#define OB_WH_BACKOFF_MS_MIN 1                   /* smallest backoff base */
#define OB_WH_BACKOFF_MAX_MS_DEFAULT 3600000     /* longest retry delay, Retry-After included */
#define OB_WH_BACKOFF_MAX_MS_MAX OB_DELAY_MS_MAX /* a NACK's delay cannot be longer */

/* The daemon (wh_deliver, wh_http, main) */
#define OB_WH_INFLIGHT_MAX 64          /* POSTs in flight at once per target (topics beyond wait) */
#define OB_WH_CREDIT 1000              /* deliveries a target's subscription may have pending */
#define OB_WH_POLL_MS 250              /* longest wait of a target's loop: heartbeats are 1 s */
#define OB_WH_BROKER_MS 5000           /* connect and subscribe wait of a target's client */
#define OB_WH_SUBSCRIBE_RETRY_MS 1000  /* a refused or timed-out subscribe is tried again */
#define OB_WH_PUBLISH_RETRY_MS 1000    /* a dead letter the broker did not take, again */
#define OB_WH_UNBLOCK_SLACK_MS 10000   /* a NACKed event not back this late is given up on */
#define OB_WH_STOP_CONFIRM_MS 5000     /* at stop, the wait for dead letters' confirms */
#define OB_WH_ACK_WAIT_FACTOR 2        /* ack_wait_ms: this many POST timeouts, at least... */
#define OB_WH_ACK_WAIT_MS_MIN 300000   /* ...this long (held events, see wh_deliver.h) */
#define OB_WH_CONNECT_MS_MAX 10000     /* TCP and TLS connect of a POST, at most */
#define OB_WH_HTTP_CONNECTIONS 16      /* connections at once to /metrics and /healthz */
#define OB_WH_HTTP_TIMEOUT_S 10        /* idle connection of that server, seconds */
#define OB_WH_HTTP_MEMORY (32u * 1024) /* bytes of one of its connections' buffers */
#define OB_WH_COMMAND_CONFIRM_MS 5000  /* a command's publish: the broker's confirm, at most */
#define OB_WH_COMMAND_IDLE_MS 250      /* the commands thread's longest sleep (heartbeats) */
#define OB_WH_COMMAND_POLL_MS 1        /* its wait for confirms before it looks for new commands */
#define OB_WH_METRIC_SERIES                                                                        \
    (OB_WH_TARGETS_MAX * 8) /* series of one metric: targets x labels (at most 6) */

#endif
