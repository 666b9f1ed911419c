/*  ob_jira_http: orderbus-jira's HTTP server (libmicrohttpd, its internal polling thread):
        POST /jira/webhook  a Jira webhook: checked (jira_hook.h: X-Hub-Signature, or the
                            URL's ?secret=), read, and its command published on mp.<oms_id>
                            (event id = the command id: a webhook delivered twice is stored
                            once); an edited comment's command needs its message from the
                            id map (j/<comment id>); not known yet, the edit is marked
                            pending (e/<comment id>) for the engine to send later; 200 once the
   broker confirmed it, 200 for a webhook that asks nothing, 401 for a bad signature or secret, 400
   for a body that is not JSON, 413 over OB_JIRA_HOOK_MAX, 503 when the broker did not take the
   command (a Jira that retries sends it again) GET  /healthz       200 "ok" GET  /metrics 200, the
   Prometheus text of the registry At most OB_JIRA_HTTP_CONNECTIONS connections. The broker client
   lives in the server's one thread; a publish waits for its confirmation there (at most
   OB_JIRA_BROKER_MS): Jira sends its webhooks one at a time, and nothing else waits on this server
   but /metrics. The secret is never logged. */
#ifndef OB_JIRA_HTTP_H
#define OB_JIRA_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "jira_config.h"
#include "jira_engine.h"
#include "jira_map.h"
#include "metrics.h"

typedef struct ob_jira_http ob_jira_http_t;

/* Starts serving on cfg->listen; cfg, secrets, registry, metrics (may be NULL) and map (the
   id map, read for the messages of edited comments) are borrowed until ob_jira_http_stop. Writes
   cfg->listen_file (if set) once serving. Returns the server (owned) or NULL with a message in
   errbuf (errlen bytes). */
ob_jira_http_t *ob_jira_http_start(const ob_jira_config_t *cfg, const ob_jira_secrets_t *secrets,
                                   ob_metrics_t *registry, const ob_jira_metrics_t *metrics,
                                   ob_jira_map_t *map, char *errbuf, size_t errlen);

/* Returns the port bound. */
uint16_t ob_jira_http_port(const ob_jira_http_t *self);

/* Stops serving (requests in progress end first), frees the server, sets *self_p to NULL;
   accepts NULL. */
void ob_jira_http_stop(ob_jira_http_t **self_p);

#endif
