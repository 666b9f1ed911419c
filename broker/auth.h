/*  ob_auth: the broker's ZAP handler (ZeroMQ RFC 27) for CURVE connections.

    Why not czmq's zauth: Debian's czmq 4.2.1 zauth does set the user id of a CURVE
    connection to the client's Z85 public key (checked with a test program), but it takes the
    allowed keys from a directory of certificates, while orderbus keeps them in one
    permissions file (perms.h) that SIGHUP reloads together with the rights. This actor
    answers ZAP requests from the table it is given: 200 with user id = the client's Z85
    public key if the key is in the table, else 400. libzmq then puts that user id on every
    message of the connection ("User-Id" metadata), which the server maps to the client's
    permissions per message.

    It binds inproc://zeromq.zap.01, so one process can hold one ob_auth actor at a time;
    it must be running before the CURVE socket binds. NULL-mechanism requests (plaintext
    sockets of the same process that ask) are answered 200 with an empty user id: CURVE
    servers never send them, and plaintext sockets are not authenticated by design.

    Commands on the pipe (zsock_send pictures):
      "PERMS" "p"  -> replaces the table by the ob_perms_t * sent (ownership passes to the
                      actor, which destroys the old one); answers "i" 0, or -1 if the
                      actor could not bind (it destroyed the table).
      "STATS"      -> "88" accepted, refused (handshakes since start).
      "$TERM"      -> stops. */
#ifndef OB_AUTH_H
#define OB_AUTH_H

#include <czmq.h>

#include "perms.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_AUTH_ENDPOINT "inproc://zeromq.zap.01" /* where libzmq sends ZAP requests */
#define OB_AUTH_PERMS "PERMS"                     /* command: new table */
#define OB_AUTH_STATS "STATS"                     /* command: counters */
#define OB_AUTH_LOG_MS 1000 /* at most one refused-handshake log line per this */

/* The actor function; args is ignored. If it cannot bind (another ZAP handler in the
   process) it answers PERMS with -1 (ob_auth_start returns NULL then). */
void ob_auth_actor(zsock_t *pipe, void *args);

/* Starts the actor and hands it *perms_p (ownership passes, *perms_p is set to NULL, even
   on failure). Returns the running actor, or NULL if it could not bind. */
zactor_t *ob_auth_start(ob_perms_t **perms_p);

/* Replaces the actor's table with *perms_p (ownership passes; *perms_p set to NULL even on
   failure) and waits until the actor has it. Returns 0 or -1 (the actor does not answer). */
int ob_auth_set_perms(zactor_t *auth, ob_perms_t **perms_p);

#ifdef __cplusplus
}
#endif
#endif
