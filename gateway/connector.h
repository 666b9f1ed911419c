/*  ob_connector: the gateway's upstream connector for one OMS (issue 14 item 4, DESIGN.md
    section 6, gateway/COMMANDS.md). A CZMQ actor that holds a durable subscription of
    mp.<oms_id>, executes each command against the Marketplace with the OMS's X-User-Token
    through libcurl's multi interface, and publishes its outcome (command.completed or
    command.failed, ob_oms_command_outcome) to oms.<oms_id>.

    - Order: commands of one ordering key (ob_oms_command_order_key) run one at a time, in
      delivery order; different keys run concurrently, up to `inflight` requests at once.
      Delivery order is seq order for first deliveries (PROTOCOL.md 12.3); the connector
      never NACKs a command it will execute, and the broker (0.5) hands a lost consumer's
      pending deliveries back in the order it delivered them, so a restart keeps the order.
      The subscription's credit bounds the commands held: a key whose head keeps failing
      holds its queued commands, and if they fill the credit the other keys wait too.
    - Success (2xx) and every other answer but those retried below (4xx, and 3xx: the API
      never redirects): the outcome is published (command.completed for 2xx, else
      command.failed), and the command acked only after the broker confirmed the outcome.
    - 5xx, 408, 429, a timeout or a failed connection: retried inside the connector with an
      exponential backoff (retry_min_ms doubling up to retry_max_ms). Not a NACK: a NACKed
      command would be redelivered after the later commands of its key, which the broker
      delivers meanwhile, and the order would be lost; the connector keeps the delivery and
      the later commands of its key wait behind it, while other keys go on.
    - A command the parser refuses: command.failed with status 0 and the reason
      (ob_oms_command_refusal), then ack. A command without a valid id, or an event that
      does not decode, cannot have an outcome: NACKed at once until the broker dead-letters
      it (max_attempts) to dlq.<sub>.
    - Crash safety: the outcome id is derived from the command id, so a command executed
      again has one outcome on the bus. A command whose outcome the broker confirmed is
      recorded done in LMDB before its ack, and a redelivered done command is acked without
      running again (a late redelivery must not undo a later command of its key). A
      post_message is not idempotent at the Marketplace: before its first POST the connector
      reads the highest message id of the message's scope, records it with the command
      ("posting"), and whenever the command runs again after that (a retry after a timeout
      or a 5xx, a restart after a crash) it first lists the scope's messages above that id
      and takes a message with the same author, scope and content as the one it posted
      (COMMANDS.md section 3.1 has the rule and its limits).

    Its small state lives in the named database "connector.<oms_id>" of an LMDB environment
    the daemon opens (one per process; mdb_env_set_maxdbs must leave a slot per connector):
        "c:" + command id -> 17 bytes: u8 state (1 posting, 2 done), u64 time (µs, when
                             written), u64 the highest message id seen in the scope (posting)
        "h:" + ordering key -> u64: the highest message id the connector has seen there
    Command records older than retention_s are removed at start and every hour.

    Commands on the actor's pipe (strings):
        $TERM         stop: requests in flight are dropped, unacked commands come again
        STATUS        replies "ready" (subscribed to mp.<oms_id>) or "connecting"
    Logs (zsys) name the OMS, the command id, kind and ordering key, HTTP statuses and
    errors; never the token, a command body, or an answer. */
#ifndef OB_GW_CONNECTOR_H
#define OB_GW_CONNECTOR_H

#include <czmq.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>

#include "metrics.h"

/* Defaults (0 in the configuration) and caps of the connector. */
#define OB_CONNECTOR_INFLIGHT_DEFAULT 16        /* Marketplace requests at once */
#define OB_CONNECTOR_INFLIGHT_MAX 256           /* largest inflight */
#define OB_CONNECTOR_CREDIT_DEFAULT 256         /* commands held at once (running or waiting) */
#define OB_CONNECTOR_TIMEOUT_MS_DEFAULT 30000   /* whole Marketplace request */
#define OB_CONNECTOR_CONNECT_MS_DEFAULT 5000    /* connection to the Marketplace */
#define OB_CONNECTOR_RETRY_MIN_MS_DEFAULT 500   /* first retry delay */
#define OB_CONNECTOR_RETRY_MAX_MS_DEFAULT 60000 /* largest retry delay */
#define OB_CONNECTOR_ACK_WAIT_MS_DEFAULT                                                           \
    3600000                                         /* subscription's ack_wait_ms: an hour, as a   \
                                                       command may wait long behind retries */
#define OB_CONNECTOR_ATTEMPTS_DEFAULT 100           /* subscription's max_attempts */
#define OB_CONNECTOR_RETENTION_S_DEFAULT 604800     /* done records are kept a week */
#define OB_CONNECTOR_BROKER_MS_DEFAULT 2000         /* broker calls: connect, subscribe, publish */
#define OB_CONNECTOR_URL_MAX 512                    /* bytes of the Marketplace base URL */
#define OB_CONNECTOR_TOKEN_MAX 1024                 /* bytes of an X-User-Token */
#define OB_CONNECTOR_ANSWER_MAX (16u * 1024 * 1024) /* bytes of an answer kept (more: cut) */
#define OB_CONNECTOR_LIST_LIMIT 100                 /* messages per page when listing a scope */
#define OB_CONNECTOR_PRUNE_MS 3600000               /* done records are pruned this often */
#define OB_CONNECTOR_SUB_PREFIX "gateway-mp-"       /* default subscription: prefix + oms_id */
#define OB_CONNECTOR_DB_PREFIX "connector."         /* LMDB database: prefix + oms_id */
#define OB_CONNECTOR_CLIENT_NAME "orderbus-gateway-connector" /* default HELLO name */

/* The connector's metrics, registered once per registry (ob_connector_metrics_register) and
   shared by the connectors of every OMS, labelled by oms_id. */
typedef struct ob_connector_metrics {
    ob_metric_t *commands; /* orderbus_gateway_commands_total{oms, command, outcome} */
    ob_metric_t *retries;  /* orderbus_gateway_command_retries_total{oms, command, reason} */
    ob_metric_t *latency;  /* orderbus_gateway_marketplace_request_seconds{oms, method} */
} ob_connector_metrics_t;

typedef struct ob_connector_config {
    uint64_t oms_id;          /* the OMS, >= 1 */
    const char *base_url;     /* Marketplace, e.g. "https://mp.example.org" (no path) */
    const char *token;        /* the OMS's X-User-Token: copied, wiped at the end, never logged */
    const char *endpoint;     /* broker endpoint */
    const char *cert;         /* CURVE: this client's certificate, or NULL */
    const char *broker_cert;  /* CURVE: the broker's public certificate, or NULL */
    const char *client_name;  /* HELLO name, NULL for OB_CONNECTOR_CLIENT_NAME */
    const char *sub_name;     /* durable subscription, NULL for "gateway-mp-<oms_id>" */
    MDB_env *env;             /* the daemon's LMDB environment, borrowed until the actor ends */
    pthread_rwlock_t *resize; /* held for reading around each transaction, so that the
                                 daemon can grow env's map (NULL: nobody does); borrowed */
    unsigned inflight;        /* requests at once, 0 for the default, at most the MAX */
    unsigned credit;          /* subscription credit (a new one), 0 for the default */
    unsigned timeout_ms;      /* one Marketplace request, 0 for the default */
    unsigned connect_ms;      /* connecting to the Marketplace, 0 for the default */
    unsigned retry_min_ms;    /* first retry delay, 0 for the default */
    unsigned retry_max_ms;    /* largest retry delay, 0 for the default */
    unsigned ack_wait_ms;     /* subscription ack_wait_ms (a new one), 0 for the default */
    unsigned max_attempts;    /* subscription max_attempts (a new one), 0 for the default */
    unsigned retention_s;     /* done records, 0 for the default */
    unsigned broker_ms;       /* broker call timeout, 0 for the default */
    const ob_connector_metrics_t *metrics; /* NULL for none; borrowed until the actor ends */
} ob_connector_config_t;

/* Registers the connector's metrics in registry (borrowed) and fills *ret_metrics with
   pointers borrowed from it. Returns 0, or OB_ERR_INVALID_ARGUMENT if a metric could not be
   created (the names exist already, or the registry is full). */
int ob_connector_metrics_register(ob_metrics_t *registry, ob_connector_metrics_t *ret_metrics);

/* Checks config (borrowed) without starting anything. On failure writes a one-line reason
   (never the token) to errbuf (errlen bytes, may be 0). Returns 0 or
   OB_ERR_INVALID_ARGUMENT. */
int ob_connector_config_check(const ob_connector_config_t *config, char *errbuf, size_t errlen);

/* Starts the connector actor: config is checked and copied (config->env and
   config->metrics stay borrowed until the actor is destroyed). The actor opens its database
   and its broker client before signalling; it subscribes (and re-subscribes) on its own,
   so the broker need not be up yet. Returns the actor, destroyed with zactor_destroy
   (which sends $TERM), or NULL (a bad configuration, the database or the broker client
   could not be made: the reason is logged). curl_global_init must have been called. */
zactor_t *ob_connector_start(const ob_connector_config_t *config);

#endif
