/*  ob_endpoint: see endpoint.h. Library code: it returns codes and reasons, and logs nothing. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "config.h"
#include "orderbus/error.h"

#define S_TCP "tcp://"
#define S_IPC "ipc://"
#define S_IPC_ABSTRACT '@'        /* first byte of an abstract ipc name: no file, no mode */
#define S_V4_LOOPBACK_NET 127u    /* 127.0.0.0/8 */
#define S_V4_NET_SHIFT 24         /* bits right of its first octet */
#define S_PORT_MAX sizeof "*****" /* bytes in a port, "*" or 1..65535, with its NUL */

/* Writes a reason into the caller's errbuf (errlen bytes) and yields rc. */
#define S_FAIL(rc, ...) (ob_config_fail(errbuf, errlen, __VA_ARGS__), (rc))

/* Appends endpoint to the list (len bytes), a newline before it unless it is the first.
   Returns 0 or OB_ERR_INVALID_ARGUMENT if it does not fit. */
static int
s_append(char *list, size_t len, const char *endpoint)
{
    size_t used = strlen(list);
    int n = snprintf(list + used, len - used, "%s%s", used ? "\n" : "", endpoint);
    return n < 0 || (size_t)n >= len - used ? OB_ERR_INVALID_ARGUMENT : 0;
}

/* Binds sock to one endpoint that libzmq understands as it is, and appends the endpoint
   bound to the list. Returns 0, -errno or OB_ERR_INVALID_ARGUMENT, with the reason. */
static int
s_bind_one(zsock_t *sock, const char *endpoint, char *list, size_t len, char *errbuf, size_t errlen)
{
    size_t ipc_len = strlen(S_IPC);
    int ipc_file = !strncmp(endpoint, S_IPC, ipc_len) && endpoint[ipc_len] != S_IPC_ABSTRACT;
    if (!strncmp(endpoint, S_TCP "[", strlen(S_TCP "[")))
        zsock_set_ipv6(sock, 1);
    /* The umask is the process's: the broker binds before it starts the writer, and any file
       another thread might create meanwhile only loses access for group and others. */
    mode_t old = ipc_file ? umask(OB_ENDPOINT_IPC_UMASK) : 0;
    /* libzmq's bind, not zsock_bind: czmq takes a port of * for "the first free one from
       49152", so a broker started after another stopped got its port, and a client of the
       stopped one reached the new one. libzmq asks the kernel, which picks at random. */
    int bound = zmq_bind(zsock_resolve(sock), endpoint);
    int err = errno;
    if (ipc_file)
        umask(old);
    if (bound < 0)
        return S_FAIL(-err, "cannot bind %s: %s", endpoint, zmq_strerror(err));
    char *last = zsock_last_endpoint(sock);
    if (!last)
        return S_FAIL(-ENOMEM, "cannot read the endpoint bound for %s", endpoint);
    int rc = 0;
    if (ipc_file && chmod(last + ipc_len, OB_ENDPOINT_IPC_MODE)) {
        err = errno;
        rc = S_FAIL(-err, "cannot set the mode of %s: %s", last + ipc_len, strerror(err));
    } else if (s_append(list, len, last))
        rc = S_FAIL(OB_ERR_INVALID_ARGUMENT, "the endpoints bound are too long");
    zstr_free(&last);
    return rc;
}

/* Writes the address of ai into host (INET6_ADDRSTRLEN bytes) and returns 1 if it is a
   loopback address, else 0. */
static int
s_loopback(const struct addrinfo *ai, char *host)
{
    if (ai->ai_family == AF_INET) {
        const struct in_addr *a =
            &((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_addr;
        inet_ntop(AF_INET, a, host, INET6_ADDRSTRLEN);
        return ntohl(a->s_addr) >> S_V4_NET_SHIFT == S_V4_LOOPBACK_NET;
    }
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)ai->ai_addr)->sin6_addr;
    inet_ntop(AF_INET6, a, host, INET6_ADDRSTRLEN);
    return IN6_IS_ADDR_LOOPBACK(a);
}

/* Binds every address localhost resolves to, IPv4 first, on port (a number or "*": then
   the port the first one got). Returns 0, -errno or OB_ERR_INVALID_ARGUMENT. */
static int
s_bind_localhost(zsock_t *sock, const char *port, char *list, size_t len, char *errbuf,
                 size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address */
    int gai = getaddrinfo(OB_ENDPOINT_LOCALHOST, NULL, &hints, &res);
    if (gai)
        return S_FAIL(OB_ERR_INVALID_ARGUMENT, "cannot resolve %s: %s", OB_ENDPOINT_LOCALHOST,
                      gai_strerror(gai));
    char now[S_PORT_MAX];
    snprintf(now, sizeof now, "%s", port);
    int rc = 0, bound = 0;
    static const int families[] = {AF_INET, AF_INET6};
    for (size_t f = 0; f < sizeof families / sizeof families[0] && rc == 0; f++)
        for (const struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
            char host[INET6_ADDRSTRLEN],
                endpoint[INET6_ADDRSTRLEN + sizeof S_TCP "[]:" + S_PORT_MAX];
            if (ai->ai_family != families[f])
                continue;
            if (!s_loopback(ai, host)) {
                rc = S_FAIL(OB_ERR_INVALID_ARGUMENT,
                            "%s resolves to %s, which is not a loopback address: bind "
                            "tcp://127.0.0.1:PORT instead",
                            OB_ENDPOINT_LOCALHOST, host);
                break;
            }
            if (bound == OB_ENDPOINT_ADDRS_MAX)
                break;
            int v6 = ai->ai_family == AF_INET6;
            snprintf(endpoint, sizeof endpoint, S_TCP "%s%s%s:%s", v6 ? "[" : "", host,
                     v6 ? "]" : "", now);
            rc = s_bind_one(sock, endpoint, list, len, errbuf, errlen);
            if (v6 && bound && (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)) {
                rc = 0; /* no IPv6 loopback here: the IPv4 one serves localhost */
                continue;
            }
            if (rc == 0 && bound++ == 0)
                snprintf(now, sizeof now, "%s", strrchr(list, ':') + 1);
        }
    freeaddrinfo(res);
    if (rc == 0 && !bound)
        rc = S_FAIL(OB_ERR_INVALID_ARGUMENT, "%s resolves to no address", OB_ENDPOINT_LOCALHOST);
    return rc;
}

int
ob_endpoint_bind(zsock_t *sock, const char *endpoint, char *ret_bound, size_t len, char *errbuf,
                 size_t errlen)
{
    static const char localhost[] = S_TCP OB_ENDPOINT_LOCALHOST ":";
    char *list = len ? calloc(1, len) : NULL;
    if (!list)
        return S_FAIL(-ENOMEM, "out of memory");
    int rc = 0;
    if (!strncmp(endpoint, localhost, strlen(localhost)))
        rc = s_bind_localhost(sock, endpoint + strlen(localhost), list, len, errbuf, errlen);
    else
        rc = s_bind_one(sock, endpoint, list, len, errbuf, errlen);
    if (rc == 0)
        memcpy(ret_bound, list, len);
    free(list);
    return rc;
}

int
ob_endpoint_write_file(const char *path, const char *text)
{
    char *tmp = zsys_sprintf("%s.tmp", path);
    if (!tmp)
        return -ENOMEM;
    int rc = 0;
    FILE *file = fopen(tmp, "w");
    if (!file)
        rc = -errno;
    else {
        errno = 0;
        int failed = fprintf(file, "%s\n", text) < 0;
        failed |= fclose(file) != 0; /* a full disk shows here */
        if (failed)
            rc = errno ? -errno : -EIO;
        else if (rename(tmp, path))
            rc = -errno;
        if (rc)
            remove(tmp);
    }
    zstr_free(&tmp);
    return rc;
}
