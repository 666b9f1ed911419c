/*  ob_server, sessions (see server_int.h for the parts).

    A session ends as soon as its connection closes: a socket monitor on the ROUTER reports
    each closed connection by its descriptor, and each session is bound to the descriptor
    its HELLO came from (ob_srv_on_monitor, s_hello_fd). Only an open, silent connection waits
    for heartbeat expiry (ob_srv_expire).

    Here: HELLO, the ROUTER's connection monitor and the binding of sessions to their
    connections, heartbeat expiry, the end of a session, and the sinks subs.h calls to
    deliver to a session or tell it its subscription was deleted. */
#include "server_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>

/* Writes the routing id as a hex key into key. */
void
ob_srv_rid_key(zmq_msg_t *rid, char key[OB_SRV_RID_KEY])
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *data = zmq_msg_data(rid);
    size_t size = zmq_msg_size(rid);
    if (size > OB_SRV_RID_MAX)
        size = OB_SRV_RID_MAX; /* libzmq caps routing ids at 255 bytes */
    for (size_t i = 0; i < size; i++) {
        key[2 * i] = hex[data[i] >> 4];
        key[2 * i + 1] = hex[data[i] & 15];
    }
    key[2 * size] = '\0';
}

/* The session of the peer rid (borrowed), or NULL. */
ob_srv_session_t *
ob_srv_session_of(ob_srv_t *self, zmq_msg_t *rid)
{
    char key[OB_SRV_RID_KEY];
    ob_srv_rid_key(rid, key);
    return zhashx_lookup(self->sessions, key);
}

/* Ends session (borrowed, freed here): detaches it from its subscriptions, whose deliveries
   become available to other consumers at once, unbinds its connection and forgets it. What
   it held is given back to the system at the next tick after OB_SERVER_TRIM_MS. */
void
ob_srv_end_session(ob_srv_t *self, ob_srv_session_t *session)
{
    void *handle = session->gone ? zlistx_find(self->gone, session) : NULL;
    if (handle)
        zlistx_delete(self->gone, handle);
    if (session->fd >= 0 && (size_t)session->fd < self->conn_cap &&
        self->conns[session->fd].session == session)
        self->conns[session->fd].session = NULL;
    ob_subs_detach_all(self->subs, session);
    zhashx_delete(self->sessions, session->key); /* frees it */
    if (!self->trim_at)
        self->trim_at = zclock_mono() + OB_SERVER_TRIM_MS;
}

/* The entry of socket descriptor fd (>= 0) in conns, grown to hold it. NULL: out of memory
   (the connection is then not followed: its session ends by heartbeat expiry). */
static ob_srv_conn_t *
s_conn(ob_srv_t *self, int fd)
{
    if ((size_t)fd >= self->conn_cap) {
        size_t cap = self->conn_cap ? self->conn_cap : OB_SERVER_CONNS_MIN;
        while (cap <= (size_t)fd)
            cap *= 2;
        ob_srv_conn_t *grown = realloc(self->conns, cap * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + self->conn_cap, 0, (cap - self->conn_cap) * sizeof *grown);
        self->conns = grown;
        self->conn_cap = cap;
    }
    return &self->conns[fd];
}

/* Reads the ROUTER monitor's waiting events (libzmq 4.3: a frame of u16 event and u32 value,
   the socket descriptor, then the endpoint) and ends the session of each connection that
   closed. Why a DISCONNECTED event is never taken for a later connection on the same
   descriptor: libzmq sends it before it closes the descriptor, so before the kernel can
   give the number to a new connection, whose ACCEPTED event follows it; and a session is
   bound to its descriptor only after every event waiting then was read (s_bind). */
void
ob_srv_on_monitor(ob_srv_t *self)
{
    void *handle = zsock_resolve(self->monitor);
    while (1) {
        zmq_msg_t event, address;
        zmq_msg_init(&event);
        zmq_msg_init(&address);
        int rc = zmq_msg_recv(&event, handle, ZMQ_DONTWAIT);
        if (rc >= 0 && zmq_msg_more(&event))
            rc = zmq_msg_recv(&address, handle, 0);
        uint16_t id = 0;
        uint32_t fd = 0;
        if (rc >= 0 && zmq_msg_size(&event) == sizeof id + sizeof fd) {
            memcpy(&id, zmq_msg_data(&event), sizeof id);
            memcpy(&fd, (const uint8_t *)zmq_msg_data(&event) + sizeof id, sizeof fd);
        }
        zmq_msg_close(&event);
        zmq_msg_close(&address);
        if (rc < 0)
            return; /* none left (EAGAIN), or the monitor is gone */
        ob_srv_conn_t *conn = fd <= INT_MAX ? s_conn(self, (int)fd) : NULL;
        if (!conn)
            continue;
        if (id == ZMQ_EVENT_ACCEPTED) {
            /* a DISCONNECTED lost (monitor queue): what was bound here is closed */
            if (conn->session)
                ob_srv_end_session(self, conn->session);
            conn->open = 1;
        } else if (id == ZMQ_EVENT_DISCONNECTED) {
            conn->open = 0;
            if (conn->session) {
                if (self->cfg.verbose)
                    zsys_debug("server: session of peer %s ended: disconnected",
                               conn->session->key);
                ob_srv_end_session(self, conn->session);
            }
        }
    }
}

/* The socket descriptor of the connection a HELLO (header, borrowed) came from, its
   ZMQ_SRCFD, into *ret_fd (-1 if it cannot be told: its session then ends by heartbeat
   expiry only). Returns 0, or -1 if that connection is already closed: its client is gone,
   no session is to be made for it. */
static int
s_hello_fd(ob_srv_t *self, zmq_msg_t *header, int *ret_fd)
{
    int fd = zmq_msg_get(header, ZMQ_SRCFD);
    ob_srv_on_monitor(self); /* every event up to now: see ob_srv_on_monitor */
    ob_srv_conn_t *conn = fd >= 0 ? s_conn(self, fd) : NULL;
    *ret_fd = conn ? fd : -1;
    return conn && !conn->open ? -1 : 0;
}

/* Binds session to the connection of descriptor fd (-1: none), so that its DISCONNECTED
   event ends it. */
static void
s_bind(ob_srv_t *self, ob_srv_session_t *session, int fd)
{
    if (session->fd == fd)
        return;
    if (session->fd >= 0 && (size_t)session->fd < self->conn_cap &&
        self->conns[session->fd].session == session)
        self->conns[session->fd].session = NULL;
    session->fd = fd;
    if (fd < 0)
        return;
    ob_srv_conn_t *conn = &self->conns[fd]; /* s_hello_fd made it */
    /* A session still bound here said HELLO from an earlier connection of this descriptor,
       read late: that connection is closed, but its event was taken before the binding.
       It is left to heartbeat expiry rather than ended on a guess. */
    if (conn->session)
        conn->session->fd = -1;
    conn->session = session;
}

/* Handles HELLO: a new session, or a reset one, for rid. */
void
ob_srv_on_hello(ob_srv_t *self, zmq_msg_t *rid, zmq_msg_t *header, const char *key,
                ob_srv_session_t *session, const ob_wire_msg_t *hello, const char *user)
{
    int fd = -1;
    int closed = s_hello_fd(self, header, &fd);
    session = zhashx_lookup(self->sessions, key); /* the events read may have ended it */
    if (closed) {
        if (self->cfg.verbose)
            zsys_debug("server: HELLO of peer %s not answered: its connection closed", key);
        if (session)
            ob_srv_end_session(self, session);
        return;
    }
    if (!session) {
        if (zhashx_size(self->sessions) >= self->cfg.max_clients) {
            ob_srv_send_error(self, rid, hello->req, OB_ERR_LIMIT,
                              "max_clients (%u) sessions already", self->cfg.max_clients);
            return;
        }
        session = calloc(1, sizeof *session);
        if (!session) {
            ob_srv_send_error(self, rid, hello->req, -ENOMEM, "out of memory for a session");
            return;
        }
        zhashx_insert(self->sessions, key, session); /* key is new: cannot fail */
        session->fd = -1;
        session->rid_len = zmq_msg_size(rid) < OB_SRV_RID_MAX ? zmq_msg_size(rid) : OB_SRV_RID_MAX;
        snprintf(session->key, sizeof session->key, "%s", key);
        memcpy(session->rid, zmq_msg_data(rid), session->rid_len);
    } else
        ob_subs_detach_all(self->subs, session); /* a restarted session: 12.5 */
    snprintf(session->name, sizeof session->name, "%s", hello->name);
    snprintf(session->user, sizeof session->user, "%s", user ? user : "");
    session->heartbeat_ms = hello->heartbeat_ms ? hello->heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT;
    session->max_run = hello->max_run ? hello->max_run : 1; /* <= OB_DELIVER_RUN_MAX: decoded */
    session->last_seen = zclock_mono();
    session->pending = 0; /* answers to the old session's publishes still count down */
    s_bind(self, session, fd);

    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_WELCOME;
    snprintf(msg.version, sizeof msg.version, "%s", OB_VERSION_STRING);
    snprintf(msg.session, sizeof msg.session, "%s", self->session_id);
    msg.heartbeat_ms = session->heartbeat_ms;
    msg.max_event = self->cfg.max_event_bytes;
    msg.max_pending = self->cfg.max_pending;
    ob_srv_send(self, rid, &msg);
}

/* subs.h sink: a DELIVER to a session, a run of up to its max_run. */
int
ob_srv_deliver(void *arg, void *consumer, ob_wire_msg_t *msg, const ob_store_event_t *events,
               size_t count)
{
    ob_srv_t *self = arg;
    ob_srv_session_t *session = consumer;
    if (count > session->max_run)
        count = session->max_run;
    msg->count = (uint32_t)count;
    int rc = ob_srv_send_to(self, session->rid, session->rid_len, msg, events, count);
    if (rc == -EHOSTUNREACH) {
        /* the connection is gone: its session ends after this pump (ob_srv_end_gone) */
        if (!session->gone) {
            session->gone = 1;
            zlistx_add_end(self->gone, session);
        }
        return OB_SUBS_GONE;
    }
    return rc ? OB_SUBS_FULL : (int)count;
}

/* Ends the sessions whose connection was found gone while delivering. */
void
ob_srv_end_gone(ob_srv_t *self)
{
    ob_srv_session_t *session;
    while ((session = zlistx_first(self->gone))) {
        if (self->cfg.verbose)
            zsys_debug("server: session of peer %s ended: connection gone", session->key);
        ob_srv_end_session(self, session); /* takes it off the list */
    }
}

/* subs.h sink: the subscription a session was attached to was deleted (12.7). */
void
ob_srv_gone(void *arg, void *consumer, const char *sub)
{
    ob_srv_send_error_sub(arg, consumer, OB_ERR_NO_SUCH_SUBSCRIPTION, sub,
                          "subscription %s was deleted", sub);
}

/* Forgets the sessions that sent nothing for OB_LIVENESS heartbeats. Time during which the
   ROUTER was not read (backpressure) does not count against a client. */
void
ob_srv_expire(ob_srv_t *self, int64_t now)
{
    if (zhashx_size(self->sessions) == 0)
        return;
    zlistx_t *expired = NULL;
    for (ob_srv_session_t *session = zhashx_first(self->sessions); session;
         session = zhashx_next(self->sessions)) {
        int64_t since =
            session->last_seen > self->resumed_at ? session->last_seen : self->resumed_at;
        if (now - since <= (int64_t)OB_LIVENESS * session->heartbeat_ms)
            continue;
        if (!expired) {
            expired = zlistx_new();
            if (!expired)
                return; /* try again at the next tick */
            zlistx_set_destructor(expired, (zlistx_destructor_fn *)zstr_free);
        }
        zlistx_add_end(expired, strdup(zhashx_cursor(self->sessions)));
    }
    if (!expired)
        return;
    for (char *key = zlistx_first(expired); key; key = zlistx_next(expired)) {
        if (self->cfg.verbose)
            zsys_debug("server: session of peer %s expired", key);
        ob_srv_session_t *session = zhashx_lookup(self->sessions, key);
        if (session)
            ob_srv_end_session(self, session);
    }
    zlistx_destroy(&expired);
}
