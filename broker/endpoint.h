/*  ob_endpoint: binds the broker's ROUTER as proto/PROTOCOL.md 3.1 says, and tells a starter
    where it listens.

    libzmq binds a tcp:// host only if it is an address or an interface name: it takes
    `localhost` for an interface and fails with ENODEV, and it binds `[::1]` only on a socket
    with ZMQ_IPV6. ob_endpoint_bind resolves `localhost` to its addresses (each must be a
    loopback address: a hosts file that maps it elsewhere is refused, since plaintext mode
    trusts it to be local) and binds them all on one port, and sets ZMQ_IPV6 for a bracketed
    host. An ipc:// socket file gets mode OB_ENDPOINT_IPC_MODE: it is created under a umask
    that gives nobody else access, so no other user can connect between the bind and the
    chmod.

    ob_endpoint_write_file writes the bound endpoints to a file atomically, so that a starter
    that asked for an ephemeral port (tcp://127.0.0.1:*) learns which one it got. */
#ifndef OB_ENDPOINT_H
#define OB_ENDPOINT_H

#include <czmq.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_ENDPOINT_IPC_MODE 0600  /* mode of an ipc:// socket file: the broker's user only */
#define OB_ENDPOINT_IPC_UMASK 0077 /* umask while it is created */
#define OB_ENDPOINT_LOCALHOST "localhost" /* the host name resolved before binding */
#define OB_ENDPOINT_ADDRS_MAX 8           /* addresses of localhost bound */

/* Binds sock (borrowed) to endpoint (borrowed), as the header comment says. Writes the
   endpoints bound (ports resolved, one per line, no final newline) into ret_bound (len
   bytes). An IPv6 address of localhost that the machine cannot bind (no IPv6 loopback) is
   skipped if another address was bound. Returns 0; or -errno (the bind's, e.g.
   -EADDRINUSE), OB_ERR_INVALID_ARGUMENT (localhost does not resolve, or to an address that
   is not loopback; a bound list longer than len) with a one-line reason in errbuf (errlen
   bytes). On failure some endpoints may stay bound: the caller destroys the socket. */
int ob_endpoint_bind(zsock_t *sock, const char *endpoint, char *ret_bound, size_t len, char *errbuf,
                     size_t errlen);

/* Writes text (borrowed) and a newline to path (borrowed) atomically: to path.tmp, which
   is then renamed, so that a reader sees the whole file or none. Returns 0 or -errno. */
int ob_endpoint_write_file(const char *path, const char *text);

#ifdef __cplusplus
}
#endif
#endif
