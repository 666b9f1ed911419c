/*  t_peer: an in-process broker (broker/server.h) in a scratch directory, and raw protocol
    peers (DEALER sockets speaking orderbus/wire.h byte by byte) for the broker's tests.

    Every wait has a timeout and fails the test when it passes; nothing sleeps. The broker
    is started with the shipped example configuration (deploy/orderbus-broker.cfg) and
    flags: its own data directory, an ipc endpoint in the scratch directory, and whatever
    the test adds. */
#ifndef T_PEER_H
#define T_PEER_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "orderbus/orderbus.h"

#define T_PATH_MAX 256 /* bytes in a scratch path */
#ifdef OB_TEST_SLOW
#define T_TIMEOUT_MS 20000 /* longest wait for one message: a sanitizer build */
#else
#define T_TIMEOUT_MS 5000 /* longest wait for one message */
#endif

typedef struct t_broker {
    char dir[T_PATH_MAX];          /* scratch directory */
    char data_dir[T_PATH_MAX * 2]; /* the broker's data directory in it */
    char endpoint[T_PATH_MAX * 2]; /* ipc endpoint in it */
    zactor_t *server;              /* the running server, or NULL */
    uint64_t next_req;             /* request ids, unique per broker fixture */
} t_broker_t;

/* A received message: its decoded header and body, and its event frames if any (one, or
   a DELIVER run's count). */
typedef struct t_msg {
    ob_wire_msg_t wire;
    uint8_t *event; /* the first event frame, owned (t_msg_clear), NULL if none */
    size_t event_len;
    size_t event_count;                    /* event frames: 0, 1, or a run's */
    uint8_t *events[OB_DELIVER_RUN_MAX];   /* each of them, owned; events[0] == event */
    size_t event_lens[OB_DELIVER_RUN_MAX]; /* their sizes */
} t_msg_t;

/* Creates the scratch directory (prefix names the test) and starts a broker with the
   extra flags (NULL-terminated). */
t_broker_t *t_broker_new(const char *prefix, ...);

/* Starts the broker again (after t_broker_stop) with extra flags (NULL-terminated). */
void t_broker_start(t_broker_t *fx, ...);

/* Stops the broker cleanly (SIGTERM path: what it received is committed). */
void t_broker_stop(t_broker_t *fx);

/* Stops it, removes the scratch directory, frees fx. */
void t_broker_destroy(t_broker_t **fx_p);

/* A new DEALER connected to the broker, that said HELLO with heartbeat_ms (0: default). */
zsock_t *t_peer(t_broker_t *fx, uint32_t heartbeat_ms);
/* The same, with HELLO max_run (PROTOCOL.md 12.3: DELIVER runs of up to max_run). */
zsock_t *t_peer_run(t_broker_t *fx, uint32_t heartbeat_ms, uint32_t max_run);

/* Sends msg, with an event frame if event. */
void t_send(zsock_t *peer, const ob_wire_msg_t *msg, const uint8_t *event, size_t event_len);

/* Waits up to timeout_ms for one message; returns 0, or -1 if none came. */
int t_recv(zsock_t *peer, t_msg_t *ret, int timeout_ms);

/* Waits for one message (T_TIMEOUT_MS) and fails the test unless it is of command. */
void t_expect(zsock_t *peer, int command, t_msg_t *ret);

/* Waits for ERROR with req and rc. */
void t_expect_error(zsock_t *peer, uint64_t req, int rc);

/* Fails the test if a message arrives within timeout_ms. */
void t_expect_silence(zsock_t *peer, int timeout_ms);

void t_msg_clear(t_msg_t *msg);

/* Encodes an event (data: data_len 'd' bytes); *ret_buf is the caller's to free. */
void t_event(const char *topic, const char *id, const char *type, size_t data_len,
             uint8_t **ret_buf, size_t *ret_len);

/* Publishes an event and waits for its CONFIRM (peer must not be a subscriber); returns
   its seq. */
uint64_t t_publish(t_broker_t *fx, zsock_t *peer, const char *topic, const char *id,
                   const char *type);

/* Removes path and everything under it. */
void t_remove_tree(const char *path);

/* Writes the path of the file open on fd (/proc/self/fd) into path, NUL-terminated, as a
   wrapped system call tells which file it is called on; returns its length, or 0 if it
   cannot be read. */
size_t t_fd_path(int fd, char *path, size_t size);

#endif
