/*  ob_metrics_http: see metrics_http.h. */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "options.h"
#include "orderbus/error.h"

#define S_PORT_MAX 65535
#define S_PORT_DIGITS 5
#define S_ALLOW "GET, HEAD"

struct ob_metrics_http {
    struct MHD_Daemon *daemon;         /* owned; owns the socket once started */
    int fd;                            /* the listening socket until then, else -1 */
    ob_metrics_t *registry;            /* borrowed */
    char url[OB_METRICS_HTTP_URL_MAX]; /* http://HOST:PORT/metrics */
};

/* An address split and parsed. */
typedef struct s_addr {
    struct sockaddr_storage sa;             /* the socket address, port included */
    socklen_t len;                          /* bytes of sa used */
    char host[OB_METRICS_HTTP_ADDRESS_MAX]; /* the host as written, brackets included */
} s_addr_t;

/* Parses address into *ret. Returns 0 or OB_ERR_INVALID_ARGUMENT with a reason. */
static int
s_parse(const char *address, s_addr_t *ret, char *errbuf, size_t errlen)
{
    size_t len = strnlen(address, OB_METRICS_HTTP_ADDRESS_MAX);
    if (len == OB_METRICS_HTTP_ADDRESS_MAX)
        return ob_options_fail(errbuf, errlen, "metrics address longer than %d bytes",
                               OB_METRICS_HTTP_ADDRESS_MAX - 1);
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address)
        return ob_options_fail(errbuf, errlen,
                               "metrics %s: not HOST:PORT (127.0.0.1:7459, [::1]:7459)", address);
    const char *port_text = colon + 1;
    size_t digits = strspn(port_text, "0123456789");
    unsigned long port = digits ? strtoul(port_text, NULL, 10) : 0;
    if (digits == 0 || digits != strlen(port_text) || digits > S_PORT_DIGITS || port > S_PORT_MAX)
        return ob_options_fail(errbuf, errlen, "metrics %s: the port must be 0..65535", address);
    memset(ret, 0, sizeof *ret);
    size_t host_len = (size_t)(colon - address);
    memcpy(ret->host, address, host_len);
    ret->host[host_len] = '\0';
    if (address[0] == '[') {
        char inner[OB_METRICS_HTTP_ADDRESS_MAX];
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ret->sa;
        if (host_len < 3 || address[host_len - 1] != ']')
            goto bad_host;
        memcpy(inner, address + 1, host_len - 2);
        inner[host_len - 2] = '\0';
        if (inet_pton(AF_INET6, inner, &in6->sin6_addr) != 1)
            goto bad_host;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        ret->len = sizeof *in6;
        return 0;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ret->sa;
    if (inet_pton(AF_INET, ret->host, &in4->sin_addr) != 1)
        goto bad_host;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    ret->len = sizeof *in4;
    return 0;
bad_host:
    return ob_options_fail(errbuf, errlen,
                           "metrics %s: the host must be an IPv4 address or a bracketed "
                           "IPv6 one (127.0.0.1, [::1]), not a name",
                           address);
}

int
ob_metrics_http_check(const char *address, char *errbuf, size_t errlen)
{
    s_addr_t addr;
    return s_parse(address, &addr, errbuf, errlen);
}

/* Queues a response of status with body (len bytes, copied by libmicrohttpd, or taken
   with MHD_RESPMEM_MUST_FREE when owned). */
static enum MHD_Result
s_reply(struct MHD_Connection *connection, unsigned status, void *body, size_t len,
        enum MHD_ResponseMemoryMode mode, const char *content_type)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(len, body, mode);
    if (!response) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO; /* libmicrohttpd closes the connection */
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, S_ALLOW);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

/* Answers every request at its first call, once its headers are in: a body, if any, is
   never read (libmicrohttpd then closes the connection after the answer). */
static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    static char not_found[] = "404 not found: only GET " OB_METRICS_HTTP_PATH "\n";
    static char not_allowed[] = "405 method not allowed: only GET " OB_METRICS_HTTP_PATH "\n";
    static char no_memory[] = "500 out of memory\n";
    const char *text_type = "text/plain; charset=utf-8";
    ob_metrics_http_t *self = cls;
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
        return s_reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, sizeof not_allowed - 1,
                       MHD_RESPMEM_PERSISTENT, text_type);
    if (strcmp(url, OB_METRICS_HTTP_PATH))
        return s_reply(connection, MHD_HTTP_NOT_FOUND, not_found, sizeof not_found - 1,
                       MHD_RESPMEM_PERSISTENT, text_type);
    char *text = NULL;
    size_t len = 0;
    if (ob_metrics_write(self->registry, &text, &len))
        return s_reply(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, no_memory, sizeof no_memory - 1,
                       MHD_RESPMEM_PERSISTENT, text_type);
    return s_reply(connection, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE,
                   OB_METRICS_CONTENT_TYPE);
}

/* Makes the listening socket of addr. Returns the descriptor, or -errno with a reason. */
static int
s_listen(const s_addr_t *addr, const char *address, char *errbuf, size_t errlen)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int rc = -errno;
        snprintf(errbuf, errlen, "metrics %s: socket: %s", address, strerror(-rc));
        return rc;
    }
    /* Non-blocking: another thread of libmicrohttpd's may take a connection first, and an
       accept must then fail at once, not wait for the next one. */
    int on = 1;
    /* A restart binds again at once, despite the last scrape's connection in TIME_WAIT. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (addr->sa.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (bind(fd, (const struct sockaddr *)&addr->sa, addr->len) < 0 ||
        listen(fd, OB_METRICS_HTTP_BACKLOG) < 0) {
        int rc = -errno;
        snprintf(errbuf, errlen, "metrics %s: cannot listen: %s", address, strerror(-rc));
        close(fd);
        return rc;
    }
    return fd;
}

int
ob_metrics_http_start(const char *address, ob_metrics_t *registry, ob_metrics_http_t **ret_http,
                      char *errbuf, size_t errlen)
{
    s_addr_t addr;
    int rc = s_parse(address, &addr, errbuf, errlen);
    if (rc)
        return rc;
    ob_metrics_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "metrics %s: out of memory", address);
        return -ENOMEM;
    }
    self->registry = registry;
    self->fd = s_listen(&addr, address, errbuf, errlen);
    if (self->fd < 0) {
        rc = self->fd;
        self->fd = -1;
        goto fail;
    }
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    if (getsockname(self->fd, (struct sockaddr *)&bound, &bound_len) < 0) {
        rc = -errno;
        snprintf(errbuf, errlen, "metrics %s: getsockname: %s", address, strerror(-rc));
        goto fail;
    }
    unsigned port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                      : ((struct sockaddr_in *)&bound)->sin_port);
    snprintf(self->url, sizeof self->url, "http://%s:%u%s", addr.host, port, OB_METRICS_HTTP_PATH);

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
    if (addr.sa.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_LISTEN_SOCKET, self->fd,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)OB_METRICS_HTTP_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OB_METRICS_HTTP_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)OB_METRICS_HTTP_TIMEOUT_S, MHD_OPTION_END);
    if (!self->daemon) {
        rc = -ENOMEM;
        snprintf(errbuf, errlen, "metrics %s: libmicrohttpd did not start", address);
        goto fail;
    }
    self->fd = -1; /* the daemon's now: MHD_stop_daemon closes it */
    *ret_http = self;
    return 0;
fail:
    ob_metrics_http_stop(&self);
    return rc;
}

const char *
ob_metrics_http_url(const ob_metrics_http_t *self)
{
    return self->url;
}

void
ob_metrics_http_stop(ob_metrics_http_t **self_p)
{
    ob_metrics_http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    if (self->fd >= 0)
        close(self->fd);
    free(self);
    *self_p = NULL;
}
