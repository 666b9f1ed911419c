/*  ob_server: the broker's protocol engine (DESIGN.md section 3; proto/PROTOCOL.md).

    An actor that binds a ROUTER socket, keeps a session per connection, decodes every
    message and answers it, and feeds publishes to the writer actor (writer.h) in batches:
    group commit with at most one batch at the writer and one being collected. A publish is
    confirmed only after the transaction holding it has committed. Subscriptions (subs.h)
    deliver from the store between reads of the ROUTER; what they must persist (positions,
    new and deleted subscriptions, dead letters) rides in the next batch, and a new durable
    subscription is answered SUBSCRIBED only after the commit that holds it.

    Start-up: the actor opens the store and binds before it signals, and it always signals
    (zactor_new cannot carry a status). The creator then asks STATUS; ob_server_start does
    both and destroys a failed actor.

    Commands on the pipe (zsock_send pictures):
      "STATUS"   -> "iss" rc, reason, endpoints: rc 0 and the endpoints bound (one a line:
                    `localhost` binds each of its addresses) once running;
                    else the start failure (-errno or OB_ERR_*) and a one-line reason, after
                    which the actor only waits for $TERM.
      "STATS"    -> "8888888" received, published, duplicates, errors, batches, batched
                    items, replies dropped (counters since start).
      "RELOAD"   -> "is" rc, reason: reloads the permissions file (CURVE mode; SIGHUP in
                    orderbus-broker): 0 once the new table is in force here and in the ZAP
                    handler and the sessions of removed keys are ended; else the error, the
                    old table staying.
      "SECURITY" -> "8888" forbidden (FORBIDDEN replies), handshakes accepted, handshakes
                    refused (by the ZAP handler), clients in the permissions (all 0 in
                    plaintext mode).
      "$TERM"    -> commit and confirm the publishes already received; until that is done,
                    answer new PUBLISH and HELLO with ERROR SHUTDOWN (nothing stored:
                    PROTOCOL.md 11.1); then log a summary and exit. Messages that arrive
                    after that are not read: clients re-send them to the next broker.

    The actor sends "FAILED" on the pipe if it stops on its own (a socket failed); its owner
    should then destroy it and exit with an error.

    Usage:
        zactor_t *server = NULL;
        if (ob_server_start(&cfg, &server, errbuf, sizeof errbuf)) ...
        ...
        zactor_destroy(&server); */
#ifndef OB_SERVER_H
#define OB_SERVER_H

#include <czmq.h>
#include <stddef.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_SERVER_SNDHWM 1000 /* ROUTER send queue per connection beyond max_pending: room for */
/* deliveries and admin answers on top of one reply per publish a client may have pending */
#define OB_SERVER_TRIM_MS 1000   /* after a session ends, memory is given back within this */
#define OB_SERVER_CONNS_MIN 1024 /* socket descriptors followed at first (ob_srv_conn_t) */
#define OB_SERVER_LINGER_MS 1000 /* time given to the last replies at shutdown */
#define OB_SERVER_TICK_MS OB_HEARTBEAT_MS_MIN         /* session expiry check interval */
#define OB_SERVER_BATCH_BYTES_MAX (64u * 1024 * 1024) /* event bytes in one batch: bounds */
                                                      /* memory and LMDB dirty pages */
#define OB_SERVER_DRAIN_MAX OB_BATCH_MAX /* messages read in one go before looking at the */
                                         /* pipe and the writer again */
#define OB_SERVER_RUNS_OPEN 16           /* clients whose CONFIRM runs are open at once */
#define OB_SERVER_REPLY_MAX 1024         /* bytes in a reply body (ERROR is the largest) */
#define OB_SERVER_DELIVER_MAX 2048       /* bytes in a DELIVER body (a run's times) */
#define OB_SERVER_SESSION_LEN 16         /* hex characters in the WELCOME session id */
#define OB_SERVER_CODES_MAX 64           /* wire error codes counted one by one */
#define OB_SERVER_RESULT_MAX (OB_BODY_MAX - OB_SERVER_REPLY_MAX) /* bytes in an OK result */
#define OB_SERVER_LETTERS_MAX 256 /* dead letters written in one group commit */
#define OB_SERVER_STATE_MS 10     /* most time acks alone wait for their commit */
#define OB_SERVER_PUMP_MAX 1024   /* deliveries made before reading the ROUTER again */

#define OB_SERVER_STATUS "STATUS"       /* command: start status */
#define OB_SERVER_STATS "STATS"         /* command: counters */
#define OB_SERVER_FAILED "FAILED"       /* message to the owner: stopped on its own */
#define OB_SERVER_RELOAD "RELOAD"       /* command: reload the permissions */
#define OB_SERVER_SECURITY "SECURITY"   /* command: security counters */
#define OB_SERVER_ZAP_DOMAIN "orderbus" /* ZAP domain of the ROUTER (RFC 27) */
#define OB_SERVER_FORBIDDEN_LOG_MS 1000 /* at most one FORBIDDEN log line per this */
#define OB_SERVER_STORAGE_LOG_MS 10000  /* at most one failed-commit log line per this */

/* The actor function. args is an ob_config_t * the actor takes ownership of (malloc'd; it
   copies and frees it before it signals), already validated by ob_config_validate. */
void ob_server_actor(zsock_t *pipe, void *args);

/* Starts the server actor with cfg (borrowed) and checks that it opened the store and bound
   its endpoint. On success *ret_actor is the running actor (the caller destroys it, which
   stops the server cleanly). On failure writes the reason (naming the path or endpoint)
   into errbuf and returns -errno, OB_ERR_STORAGE or OB_ERR_INVALID_ARGUMENT. */
int ob_server_start(const ob_config_t *cfg, zactor_t **ret_actor, char *errbuf, size_t errlen);

/* Asks the running server actor (borrowed) to reload its permissions file and waits.
   Returns 0, or the error (OB_ERR_INVALID_ARGUMENT in plaintext mode or for a bad file,
   -errno for an unreadable one) with the reason in errbuf; the old table then stays. */
int ob_server_reload(zactor_t *server, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
