/*  ob_wh_http: orderbus-webhook's HTTP server (libmicrohttpd, its internal polling thread):
        GET  /healthz   200 "ok": the process serves
        GET  /metrics   200, the Prometheus text of the adapter's registry (common/metrics.h)
        POST /targets/NAME/commands/OMS_ID
                        the way back (when target NAME has `commands` = OMS_ID): a command
                        body of gateway/COMMANDS.md, signed with the target's secrets the
                        Standard Webhooks way (wh_verify.h), published on mp.OMS_ID with the
                        command's id as its event id, and answered once the broker confirmed
                        it: 200 {"id", "topic", "seq", "dup"}; dup is true for a request
                        replayed or retried (the broker holds that id already).
    Errors of the way back are JSON, {"error": {"code", "message"}} (gateway/rest_parse.h):
    400 (malformed, missing_field, invalid_field...: not a command body), 401 unauthorized
    (a webhook-* header missing or malformed, a timestamp over 5 minutes old or ahead, no
    signature by a secret of the target), 403 forbidden (OMS_ID is not the target's), 404
    not_found (no such target, or its way back off), 405, 413 too_large (a body over
    OB_GW_COMMAND_MAX), 415 unsupported_media_type (not application/json), 503 unavailable
    (no confirm from the broker in OB_WH_COMMAND_CONFIRM_MS, or stopping: a retry with the
    same body is safe); each answer is counted in orderbus_webhook_commands_total{target,
    status}, target "-" when the path names none. Other paths 404; another method 405 with Allow; a
   body elsewhere 413. At most OB_WH_HTTP_CONNECTIONS connections, OB_WH_HTTP_MEMORY bytes of one
   connection's buffers, OB_WH_HTTP_TIMEOUT_S seconds idle. /metrics and /healthz need no
   authentication: the default address is loopback (put a TLS proxy in front to open the way back).
 */
#ifndef OB_WH_HTTP_H
#define OB_WH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "wh_config.h"

typedef struct ob_wh_http ob_wh_http_t;

/* Starts serving on cfg->listen the registry (borrowed until ob_wh_http_stop); cfg is
   borrowed until then too (the targets' secrets and `commands`). When a target has
   `commands`, starts the way back's publisher (wh_commands.h) with cfg's broker settings.
   Writes cfg->listen_file (if set) once serving, through FILE.tmp and a rename. Returns the
   server (owned) or NULL with a message in errbuf (errlen bytes): the address cannot be
   bound, the file cannot be written, no publisher, no memory. */
ob_wh_http_t *ob_wh_http_start(const ob_wh_config_t *cfg, ob_metrics_t *registry, char *errbuf,
                               size_t errlen);

/* Returns the port bound. */
uint16_t ob_wh_http_port(const ob_wh_http_t *self);

/* Stops the publisher (commands not yet published are answered 503), then serving (requests
   in progress end first), frees the server, sets *self_p to NULL; accepts NULL. */
void ob_wh_http_stop(ob_wh_http_t **self_p);

#endif
