/*  ob_gw_http: the gateway's HTTP server (libmicrohttpd, its internal polling thread):
        GET  /healthz            200 "ok": the process serves
        GET  /readyz             200, or 503 naming what is not ready: the broker has not
                                 welcomed the gateway or leaves a publish unconfirmed, or an
                                 OMS's last feed read was not answered
        GET  /metrics            200, the Prometheus text (common/metrics.h)
        /v1/...                  the REST API (rest.h), with cfg->tokens_file
        GET|POST|PUT /trigger/ID 202 at once (the OMS's poller is woken; triggers coalesce),
                                 401 with WWW-Authenticate for missing or wrong credentials,
                                 404 for an OMS not registered (trigger.h says where the
                                 credentials may be)
    Other paths 404; another method 405 with Allow. Limits (gw_limits.h): connections at once
    (cfg->max_connections: more wait unaccepted; OB_GW_HTTP_PER_IP_MAX per address: more
    closed at accept), a
    connection's buffers (OB_GW_HTTP_MEMORY_MAX: a longer request line or header block gets
    libmicrohttpd's 414 or 431), headers per request (OB_GW_HTTP_HEADERS_MAX: 431), body
    bytes (OB_GW_TRIGGER_BODY_MAX: 413), idle time (cfg->http_timeout_s). No request line,
    header or body is logged: a trigger's credentials are in them. With cfg->tls_cert and
    cfg->tls_key (PEM files of at most OB_GW_TLS_FILE_MAX bytes, read once) it serves HTTPS
    only (libmicrohttpd with GnuTLS). */
#ifndef OB_GW_HTTP_H
#define OB_GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "feed.h"
#include "gw_config.h"
#include "gw_stats.h"

typedef struct ob_gw_http ob_gw_http_t;

/* Starts serving on cfg->listen; cfg, feed, store (the REST side's, rest.h) and stats are
   borrowed until ob_gw_http_stop.
   Writes cfg->listen_file (if set) once serving. Returns the server (owned) or NULL with a
   message in errbuf (the address cannot be bound, the file cannot be written). */
ob_gw_http_t *ob_gw_http_start(const ob_gw_config_t *cfg, ob_feed_t *feed, ob_gw_store_t *store,
                               ob_gw_stats_t *stats, char *errbuf, size_t errlen);

/* Reloads what SIGHUP reloads: the REST tokens file (ob_rest_reload). Returns 0, or an
   error with a message in errbuf (the old tokens stay). */
int ob_gw_http_reload(ob_gw_http_t *self, char *errbuf, size_t errlen);

/* The port bound. */
uint16_t ob_gw_http_port(const ob_gw_http_t *self);

/* Stops serving (requests in progress end first), frees the server, sets *self_p to NULL;
   accepts NULL. */
void ob_gw_http_stop(ob_gw_http_t **self_p);

#endif
