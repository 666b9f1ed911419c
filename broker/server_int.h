/*  server_int.h: what the parts of ob_server (server.h) share, private to them.

    The server is one actor in one thread, written in five files, one job each:
      server.c    the event loop: start and stop, the pipe, reading the ROUTER, checking and
                  dispatching each message, sending replies and ERRORs
      sessions.c  sessions: HELLO, the ROUTER's connection monitor, heartbeat expiry, the
                  subscriptions' sinks (deliveries to a session, a deleted subscription)
      commit.c    group commit: PUBLISH into the collecting batch, handover to the writer,
                  CONFIRMs and the answers that wait for a commit
      security.c  CURVE and permissions glue (auth.c, perms.c): start, FORBIDDEN, reload
      admin.c     subscription and admin requests: TOPICS, SUBS, SUB_INFO, FETCH (one event
                  or a range), SUBSCRIBE and the other subscription commands
    All of them work on the one ob_srv_t below; functions one part calls in another are
    declared here (their contracts are at their definitions). Nothing outside these five
    files includes this header. */
#ifndef OB_SERVER_INT_H
#define OB_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "broker_metrics.h"
#include "metrics_http.h"
#include "orderbus/orderbus.h"
#include "perms.h"
#include "server.h"
#include "store.h"
#include "subs.h"
#include "writer.h"

#define OB_SRV_RID_MAX 255                      /* bytes in a ZeroMQ routing id */
#define OB_SRV_RID_KEY (2 * OB_SRV_RID_MAX + 1) /* hex of a routing id, with its NUL */
#define OB_SRV_REASON_FAIL 512                  /* bytes in a start failure reason */
/* bytes in the bound endpoints (tcp ports resolved, one a line) */
#define OB_SRV_ENDPOINT_MAX 1024

/* A publish waiting for its commit. */
typedef struct ob_srv_pending {
    zmq_msg_t rid;           /* the client's routing id, owned (always initialised) */
    zmq_msg_t frame;         /* the event frame, owned; the store item points into it */
    ob_event_envelope_t env; /* the event's envelope, views into frame (as the item's) */
    uint64_t req;            /* the client's request id */
} ob_srv_pending_t;

/* A SUBSCRIBE that created a durable subscription: answered after the commit. */
typedef struct ob_srv_deferred {
    char key[OB_SRV_RID_KEY];      /* the session's key */
    uint64_t req;                  /* the request */
    char sub[OB_SUB_NAME_MAX + 1]; /* the subscription */
} ob_srv_deferred_t;

/* A group commit: items for the writer plus what is needed to answer them. The items are
   the publishes (pending[i] answers items[i]) followed by the dead letters of subs. */
typedef struct ob_srv_batch {
    ob_writer_batch_t wb;      /* what the writer sees: wb.items[i] belongs to pending[i] */
    ob_srv_pending_t *pending; /* batch_max entries */
    size_t publishes;          /* items that are publishes; the rest are dead letters */
    size_t bytes;              /* event bytes collected */
    ob_subs_batch_t subs;      /* subscription state to persist with it */
    zlistx_t *deferred;        /* ob_srv_deferred_t * answered after the commit, owned */
} ob_srv_batch_t;

/* One connection that said HELLO. Its address is the consumer identity in subs.h. */
typedef struct ob_srv_session {
    char name[OB_CLIENT_NAME_MAX + 1]; /* client name from HELLO */
    uint32_t heartbeat_ms;             /* agreed heartbeat interval */
    uint32_t max_run;                  /* deliveries it takes in one DELIVER, >= 1 (HELLO) */
    int64_t last_seen;                 /* zclock_mono of its last message */
    uint8_t rid[OB_SRV_RID_MAX];       /* its routing id, to send deliveries */
    size_t rid_len;                    /* bytes in rid */
    char key[OB_SRV_RID_KEY];          /* its key in sessions */
    char user[OB_PERMS_KEY_LEN + 1];   /* CURVE: the client's public key at HELLO; else "" */
    int gone;                          /* its connection was found gone (in self->gone) */
    unsigned pending;                  /* its publishes in a batch, not yet answered */
    int fd;                            /* its connection's socket (ZMQ_SRCFD of HELLO), or -1 */
} ob_srv_session_t;

/* What the ROUTER's monitor told of one socket descriptor (ob_srv_on_monitor). */
typedef struct ob_srv_conn {
    int open;                  /* connections accepted on it and not yet disconnected: 0 or 1 */
    ob_srv_session_t *session; /* the session bound to its connection, or NULL */
} ob_srv_conn_t;

typedef struct ob_srv {
    ob_config_t cfg;                     /* our copy of the configuration */
    zsock_t *pipe;                       /* actor pipe, borrowed */
    zsock_t *router;                     /* client socket, owned */
    ob_perms_t *perms;                   /* CURVE: the permissions, owned; NULL in plaintext */
    zactor_t *auth;                      /* CURVE: the ZAP handler (auth.h), owned */
    ob_broker_metrics_t *metrics;        /* Prometheus metrics, owned */
    ob_metrics_http_t *http;             /* their GET /metrics, owned; NULL if off */
    uint64_t forbidden;                  /* FORBIDDEN replies for permissions */
    uint64_t forbidden_unlogged;         /* refusals not logged since the last line */
    int64_t forbidden_logged_at;         /* zclock_mono of the last refusal logged */
    int storage_failing;                 /* the last commit failed (s_log_commit) */
    int64_t storage_logged_at;           /* zclock_mono of the last storage line */
    uint64_t storage_unlogged;           /* failed commits not logged since that line */
    uint64_t storage_unlogged_publishes; /* publishes they refused */
    ob_store_t *store;                   /* owned; written only by the writer */
    zactor_t *writer;                    /* owned */
    zhashx_t *sessions;                  /* hex(routing id) -> ob_srv_session_t, owned */
    ob_subs_t *subs;                     /* subscriptions, owned */
    ob_writer_args_t writer_args;        /* what the writer borrows */
    ob_writer_shared_t writer_shared;    /* writer_args.shared, initialised */
    int writeback_due;                   /* committed here: ob_store_writeback is due */
    zlistx_t *deferred;                  /* ob_srv_deferred_t * for the next batch, owned */
    zlistx_t *gone;                      /* ob_srv_session_t * found gone, borrowed */
    zsock_t *monitor;                    /* PAIR: the ROUTER's connection events, owned */
    ob_srv_conn_t *conns;                /* by socket descriptor, conn_cap entries, owned */
    size_t conn_cap;                     /* entries at conns */
    int64_t trim_at;                     /* zclock_mono when to give freed memory back, or 0 */
    uint8_t *reply;                      /* OB_BODY_MAX bytes for large OK bodies */
    uint8_t *result;                     /* OB_SERVER_RESULT_MAX bytes: OK results */
    ob_wire_msg_t msg;                   /* scratch for replies (7 KB: not stacked) */
    ob_wire_msg_t in;                    /* the message being handled */
    ob_wire_msg_t confirm;               /* scratch for CONFIRMs: zeroed once, only */
                                         /* its CONFIRM fields ever change */
    int store_failed;                    /* a commit failed while stopping */
    int64_t state_due;                   /* zclock_mono before which acks alone are not committed */
    ob_srv_batch_t batches[2];           /* the two batches, owned */
    ob_srv_batch_t *collecting;          /* the batch filling from the ROUTER */
    ob_srv_batch_t *in_flight;           /* the batch at the writer, or NULL */
    int terminating;                     /* $TERM received */
    int paused;                          /* the ROUTER was not polled (batch full) */
    int64_t resumed_at;                  /* when reading last resumed after a pause */
    int start_rc;                        /* 0 or why the start failed */
    char start_reason[OB_SRV_REASON_FAIL];      /* the start failure, "" if none */
    char endpoint[OB_SRV_ENDPOINT_MAX];         /* the endpoints bound, one a line */
    char session_id[OB_SERVER_SESSION_LEN + 1]; /* random, new at each start */
    /* counters */
    uint64_t received;                            /* messages read from the ROUTER */
    uint64_t published;                           /* publishes stored (new events) */
    uint64_t duplicates;                          /* publishes confirmed as duplicates */
    uint64_t errors;                              /* ERROR replies, all codes */
    uint64_t errors_by_code[OB_SERVER_CODES_MAX]; /* ERROR replies by wire code */
    uint64_t batches_done;                        /* batches committed or failed */
    uint64_t batched_items;                       /* publishes in those batches */
    uint64_t dropped; /* replies not sent: peer gone or its queue full */
} ob_srv_t;

/* server.c: replies (never block; counted) and start failures */
int ob_srv_send_to(ob_srv_t *self, const void *rid, size_t rid_len, const ob_wire_msg_t *msg,
                   const ob_store_event_t *events, size_t count);
int ob_srv_send(ob_srv_t *self, zmq_msg_t *rid, const ob_wire_msg_t *msg);
void ob_srv_send_error(ob_srv_t *self, zmq_msg_t *rid, uint64_t req, int rc, const char *format,
                       ...) CHECK_PRINTF(5);
void ob_srv_send_error_sub(ob_srv_t *self, ob_srv_session_t *session, int rc, const char *sub,
                           const char *format, ...) CHECK_PRINTF(5);
void ob_srv_send_error_to(ob_srv_t *self, ob_srv_session_t *session, uint64_t req, int rc,
                          const char *format, ...) CHECK_PRINTF(5);
void ob_srv_start_failed(ob_srv_t *self, int rc, const char *format, ...) CHECK_PRINTF(3);

/* sessions.c: sessions, their connections, and the sinks given to ob_subs_new */
void ob_srv_rid_key(zmq_msg_t *rid, char key[OB_SRV_RID_KEY]);
ob_srv_session_t *ob_srv_session_of(ob_srv_t *self, zmq_msg_t *rid);
void ob_srv_end_session(ob_srv_t *self, ob_srv_session_t *session);
void ob_srv_on_monitor(ob_srv_t *self);
void ob_srv_on_hello(ob_srv_t *self, zmq_msg_t *rid, zmq_msg_t *header, const char *key,
                     ob_srv_session_t *session, const ob_wire_msg_t *hello, const char *user);
int ob_srv_deliver(void *arg, void *consumer, ob_wire_msg_t *msg, const ob_store_event_t *events,
                   size_t count);
void ob_srv_end_gone(ob_srv_t *self);
void ob_srv_gone(void *arg, void *consumer, const char *sub);
void ob_srv_expire(ob_srv_t *self, int64_t now);

/* commit.c: the batches */
int ob_srv_batch_full(const ob_srv_t *self, const ob_srv_batch_t *batch);
void ob_srv_handover(ob_srv_t *self);
void ob_srv_on_publish(ob_srv_t *self, ob_srv_session_t *session, zmq_msg_t *rid, zmq_msg_t *frame,
                       const ob_wire_msg_t *msg, const ob_perms_client_t *client);
int ob_srv_on_writer(ob_srv_t *self);

/* security.c: CURVE and permissions */
void ob_srv_forbidden(ob_srv_t *self, zmq_msg_t *rid, uint64_t req, const char *who,
                      const char *reason);
int ob_srv_reload(ob_srv_t *self, char *errbuf, size_t errlen);
int ob_srv_start_curve(ob_srv_t *self);

/* admin.c: subscription and admin requests */
void ob_srv_on_request(ob_srv_t *self, zmq_msg_t *rid, ob_srv_session_t *session,
                       const ob_wire_msg_t *msg, const ob_perms_client_t *client);

#endif
