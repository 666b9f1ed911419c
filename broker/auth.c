/*  ob_auth: see auth.h. */
#include "auth.h"

#include <inttypes.h>
#include <string.h>

#define S_ZAP_VERSION "1.0"  /* the only ZAP version (RFC 27) */
#define S_ZAP_FRAMES_MIN 6   /* version, request id, domain, address, identity, mechanism */
#define S_CURVE_KEY_BYTES 32 /* a CURVE public key, binary */
#define S_Z85_KEY_LEN 40     /* the same in Z85 */

typedef struct s_auth {
    zsock_t *pipe;     /* actor pipe, borrowed */
    zsock_t *handler;  /* REP bound to OB_AUTH_ENDPOINT, owned */
    ob_perms_t *perms; /* the current table, owned */
    uint64_t accepted; /* handshakes answered 200 (CURVE) */
    uint64_t refused;  /* handshakes answered 400 or 500 */
    uint64_t unlogged; /* refusals not logged since the last line */
    int64_t logged_at; /* zclock_mono of the last refusal logged, 0 if none */
} s_auth_t;

/* Logs a refused handshake: at most one line per OB_AUTH_LOG_MS, which carries the number of
   refusals left unlogged before it, so that a flood of handshakes cannot flood the log. */
static void
s_log_refusal(s_auth_t *self, const char *what, const char *peer)
{
    int64_t now = zclock_mono();
    if (self->logged_at && now - self->logged_at < OB_AUTH_LOG_MS) {
        self->unlogged++;
        return;
    }
    if (self->unlogged)
        zsys_warning("auth: refused %s from %s (and %" PRIu64 " refusals not logged before)", what,
                     peer ? peer : "?", self->unlogged);
    else
        zsys_warning("auth: refused %s from %s", what, peer ? peer : "?");
    self->logged_at = now;
    self->unlogged = 0;
}

/* Sends the ZAP reply: version, request_id (borrowed frame), status code and text, user
   id, empty metadata. */
static void
s_reply(s_auth_t *self, zframe_t *request_id, const char *code, const char *text,
        const char *user_id)
{
    zmsg_t *reply = zmsg_new();
    if (!reply)
        return;
    zmsg_addstr(reply, S_ZAP_VERSION);
    zframe_t *id = zframe_dup(request_id);
    zmsg_append(reply, &id);
    zmsg_addstr(reply, code);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user_id);
    zmsg_addmem(reply, "", 0);
    zmsg_send(&reply, self->handler);
}

/* Answers one ZAP request. */
static void
s_on_request(s_auth_t *self)
{
    zmsg_t *request = zmsg_recv(self->handler);
    if (!request)
        return;
    /* A REP must answer every request; a malformed one (libzmq never sends those) gets 500
       with whatever request id it has. */
    zframe_t *version = zmsg_first(request);
    zframe_t *request_id = zmsg_next(request);
    zframe_t *domain = request_id ? zmsg_next(request) : NULL;
    zframe_t *address = domain ? zmsg_next(request) : NULL;
    zframe_t *identity = address ? zmsg_next(request) : NULL;
    zframe_t *mechanism = identity ? zmsg_next(request) : NULL;
    zframe_t *credentials = mechanism ? zmsg_next(request) : NULL;
    if (zmsg_size(request) < S_ZAP_FRAMES_MIN || !version ||
        !zframe_streq(version, S_ZAP_VERSION)) {
        zframe_t *id = request_id ? request_id : zframe_new_empty();
        s_reply(self, id, "500", "malformed ZAP request", "");
        if (id != request_id)
            zframe_destroy(&id);
        self->refused++;
        zmsg_destroy(&request);
        return;
    }
    char *peer = zframe_strdup(address);
    if (zframe_streq(mechanism, "NULL"))
        s_reply(self, request_id, "200", "OK", "");
    else if (!zframe_streq(mechanism, "CURVE") || !credentials ||
             zframe_size(credentials) != S_CURVE_KEY_BYTES) {
        s_reply(self, request_id, "400", "only CURVE is accepted", "");
        self->refused++;
        s_log_refusal(self, "a non-CURVE handshake", peer);
    } else {
        char key[S_Z85_KEY_LEN + 1];
        zmq_z85_encode(key, zframe_data(credentials), S_CURVE_KEY_BYTES);
        const ob_perms_client_t *client = ob_perms_lookup(self->perms, key);
        if (client) {
            s_reply(self, request_id, "200", "OK", key);
            self->accepted++;
        } else {
            s_reply(self, request_id, "400", "unknown key", "");
            self->refused++;
            char what[S_Z85_KEY_LEN + 64];
            snprintf(what, sizeof what, "key %s (not in the permissions file)", key);
            s_log_refusal(self, what, peer);
        }
    }
    zstr_free(&peer);
    zmsg_destroy(&request);
}

/* Handles a command on the pipe; returns -1 on $TERM or a broken pipe. */
static int
s_on_pipe(s_auth_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg)
        return -1;
    char *command = zmsg_popstr(msg);
    int rc = 0;
    if (!command || !strcmp(command, "$TERM"))
        rc = -1;
    else if (!strcmp(command, OB_AUTH_PERMS)) {
        ob_perms_t *perms = NULL;
        zframe_t *frame = zmsg_pop(msg); /* zsock_send's "p": the pointer's bytes */
        if (frame && zframe_size(frame) == sizeof perms)
            memcpy(&perms, zframe_data(frame), sizeof perms);
        zframe_destroy(&frame);
        if (self->handler) {
            ob_perms_destroy(&self->perms);
            self->perms = perms;
        } else
            ob_perms_destroy(&perms); /* not bound: the owner destroys us */
        zsock_send(self->pipe, "i", self->handler ? 0 : -1);
    } else if (!strcmp(command, OB_AUTH_STATS))
        zsock_send(self->pipe, "88", self->accepted, self->refused);
    else
        zsys_error("auth: unknown command '%s'", command);
    zstr_free(&command);
    zmsg_destroy(&msg);
    return rc;
}

void
ob_auth_actor(zsock_t *pipe, void *args)
{
    (void)args;
    s_auth_t self;
    memset(&self, 0, sizeof self);
    self.pipe = pipe;
    self.handler = zsock_new(ZMQ_REP);
    if (!self.handler || zsock_bind(self.handler, OB_AUTH_ENDPOINT) < 0) {
        zsock_destroy(&self.handler);
        zsock_signal(pipe, 0); /* zactor_new drops the status: PERMS answers -1 */
        while (s_on_pipe(&self) == 0)
            ;
        return;
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, self.handler, NULL);
    /* SIGINT or SIGTERM must not end the handler before the server: while the server
       finishes its last batch, libzmq would admit any CURVE key without a handler (the
       server would still refuse its messages, having no user id for them). $TERM ends it. */
    if (poller)
        zpoller_set_nonstop(poller, true);
    while (poller) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            if (s_on_pipe(&self))
                break;
        } else if (which == self.handler)
            s_on_request(&self);
        else if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&self.handler);
    ob_perms_destroy(&self.perms);
}

zactor_t *
ob_auth_start(ob_perms_t **perms_p)
{
    zactor_t *auth = zactor_new(ob_auth_actor, NULL);
    if (!auth) {
        ob_perms_destroy(perms_p);
        return NULL;
    }
    /* zactor_new waited for the signal; the actor tells whether it bound */
    if (ob_auth_set_perms(auth, perms_p)) {
        zactor_destroy(&auth);
        return NULL;
    }
    return auth;
}

int
ob_auth_set_perms(zactor_t *auth, ob_perms_t **perms_p)
{
    ob_perms_t *perms = *perms_p;
    *perms_p = NULL;
    int rc = -1;
    if (zsock_send(auth, "sp", OB_AUTH_PERMS, perms)) {
        ob_perms_destroy(&perms);
        return -1;
    }
    zsock_set_rcvtimeo(auth, 5000);
    if (zsock_recv(auth, "i", &rc))
        rc = -1;
    zsock_set_rcvtimeo(auth, -1);
    return rc;
}
