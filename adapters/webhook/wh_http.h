/*  ob_wh_http: orderbus-webhook's HTTP server (libmicrohttpd, its internal polling thread):
        GET  /healthz   200 "ok": the process serves
        GET  /metrics   200, the Prometheus text of the adapter's registry (common/metrics.h)
    Other paths 404; another method 405 with Allow; a request with a body 413. At most
    OB_WH_HTTP_CONNECTIONS connections, OB_WH_HTTP_MEMORY bytes of one connection's buffers,
    OB_WH_HTTP_TIMEOUT_S seconds idle. No authentication: the default address is loopback. */
#ifndef OB_WH_HTTP_H
#define OB_WH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "wh_config.h"

typedef struct ob_wh_http ob_wh_http_t;

/* Starts serving on cfg->listen (borrowed for the call) the registry (borrowed until
   ob_wh_http_stop); writes cfg->listen_file (if set) once serving, through FILE.tmp and a
   rename. Returns the server (owned) or NULL with a message in errbuf (errlen bytes): the
   address cannot be bound, the file cannot be written, no memory. */
ob_wh_http_t *ob_wh_http_start(const ob_wh_config_t *cfg, ob_metrics_t *registry, char *errbuf,
                               size_t errlen);

/* Returns the port bound. */
uint16_t ob_wh_http_port(const ob_wh_http_t *self);

/* Stops serving (requests in progress end first), frees the server, sets *self_p to NULL;
   accepts NULL. */
void ob_wh_http_stop(ob_wh_http_t **self_p);

#endif
