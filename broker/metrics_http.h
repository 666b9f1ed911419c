/*  ob_metrics_http: the broker's HTTP listener for Prometheus, and nothing else over HTTP.

    GET (or HEAD) /metrics answers 200 with the registry's text (ob_metrics_write, content
    type OB_METRICS_CONTENT_TYPE); another path is 404, another method 405 (with Allow), and
    out of memory is 500. Query strings are ignored, request bodies never read.

    libmicrohttpd with its internal polling thread (poll or epoll, never select, which fails
    on a descriptor above 1023 and a broker holds thousands), at most
    OB_METRICS_HTTP_CONNECTIONS connections, OB_METRICS_HTTP_MEMORY bytes for one
    connection's request (a larger header block is refused by libmicrohttpd) and
    OB_METRICS_HTTP_TIMEOUT_S seconds of idleness. The listening socket is made here, so that
    a bind failure has its errno, and a port of 0 gets a free one (tests).

    There is no authentication: the text names the durable subscriptions and shows traffic,
    so the default address is loopback; bind another one only behind a firewall. */
#ifndef OB_METRICS_HTTP_H
#define OB_METRICS_HTTP_H

#include <stddef.h>

#include "metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_METRICS_HTTP_DEFAULT "127.0.0.1:7459" /* the default listening address */
#define OB_METRICS_HTTP_PATH "/metrics"          /* the one path served */
#define OB_METRICS_HTTP_ADDRESS_MAX 64           /* bytes in an address, [v6]:port included */
#define OB_METRICS_HTTP_URL_MAX (OB_METRICS_HTTP_ADDRESS_MAX + 32) /* bytes in its URL */
#define OB_METRICS_HTTP_CONNECTIONS 16     /* connections at once; more wait in the backlog */
#define OB_METRICS_HTTP_BACKLOG 16         /* listen(2) backlog */
#define OB_METRICS_HTTP_MEMORY (16 * 1024) /* bytes of one connection's request buffer */
#define OB_METRICS_HTTP_TIMEOUT_S 10       /* an idle connection is closed after this */

typedef struct ob_metrics_http ob_metrics_http_t;

/* Checks that address (borrowed) is HOST:PORT with HOST an IPv4 address or a bracketed IPv6
   address (no names: a name can resolve to several addresses or to none at start) and PORT
   0..65535 (0: any free port). Returns 0, or OB_ERR_INVALID_ARGUMENT with a one-line reason
   in errbuf (errlen bytes, may be 0). */
int ob_metrics_http_check(const char *address, char *errbuf, size_t errlen);

/* Listens on address (borrowed, as ob_metrics_http_check) and serves registry (borrowed; it
   must outlive the listener) from libmicrohttpd's thread. On success *ret_http is the running
   listener (owned). Returns 0; OB_ERR_INVALID_ARGUMENT (a bad address); -errno (socket,
   bind, listen: -EADDRINUSE for a port taken); -ENOMEM (libmicrohttpd did not start); each
   with a one-line reason in errbuf. */
int ob_metrics_http_start(const char *address, ob_metrics_t *registry, ob_metrics_http_t **ret_http,
                          char *errbuf, size_t errlen);

/* Returns the URL served, http://HOST:PORT/metrics with the port bound (borrowed until
   ob_metrics_http_stop). */
const char *ob_metrics_http_url(const ob_metrics_http_t *self);

/* Stops the listener: waits for a request in progress, closes every connection and the
   socket; sets *self_p to NULL; accepts NULL. */
void ob_metrics_http_stop(ob_metrics_http_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
