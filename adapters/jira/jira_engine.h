/*  ob_jira_engine: orderbus-jira's way in: a CZMQ actor with its own broker client and
    libcurl multi handle, the one writer of the id map (jira_map.h, opened by main and read
    by the HTTP server too), that keeps the Jira project in step with the events of
    oms.<oms_id>.

    Its durable subscription jira-<oms_id> (from the topic's start when new, never
    dead-lettered by the broker) takes project.created, project_item.created,
    project_item.status_changed, message.posted, message.edited and the outcomes
    command.completed and command.failed. Events are applied one at a time in seq order,
    which keeps every project's order. One event:
        project.created             the project's epic (jira_build.h), unless it exists
        project_item.created        the item's issue, linked to the epic (made if missing)
        project_item.status_changed the configured transition; none configured: nothing
        message.posted / .edited    the comment added, or edited (added if not found)
        command.failed of ours      a comment on the issue saying what the Marketplace refused
        command.completed of ours   a post_message's message id is recorded as come from
                                    Jira, so that its message.posted (and .edited) is not
                                    copied back, and as its comment's (map key j/), so that
                                    the comment's edits become edit_message commands; an
                                    edit that came before (map key e/, jira_http.h) is sent
                                    now, the comment as Jira holds it (GET), on mp.<oms_id>
    (a provider's message.posted whose content is a person's comment on the issue is taken
    as that comment too, for when it comes before the outcome).
    Before any create, the map, then Jira (a JQL search by label; the comments for a
    mark) is asked whether it exists: a kill -9 between Jira's answer and the map's commit,
    or an event delivered twice, never creates a second epic, issue or comment.
    Jira's answers: 2xx go on; 5xx, 408, 429 (after its Retry-After), a timeout or a failed
    connection are retried, the whole event again, after an exponential backoff with jitter
    (jira/backoff .. backoff_max) while the event is held unacked; any other answer is a
    refusal the adapter cannot fix: logged with its status and the start of Jira's message,
    counted in orderbus_jira_events_total{outcome="lost"}, and acked.

    Commands on the actor's pipe: $TERM (a request in flight is abandoned: its event is
    not acked and comes again at the next start, harmlessly); "STATUS", answered "ready"
    once subscribed, else "connecting". */
#ifndef OB_JIRA_ENGINE_H
#define OB_JIRA_ENGINE_H

#include <czmq.h>

#include "jira_config.h"
#include "jira_hook.h"
#include "jira_map.h"
#include "metrics.h"
#include "orderbus/client.h"

/* The adapter's metrics. */
typedef struct ob_jira_metrics {
    ob_metric_t *events;   /* counter {outcome}: applied, skipped, lost */
    ob_metric_t *requests; /* counter {status}: 2xx .. 5xx, or none */
    ob_metric_t *retries;  /* counter {}: events tried again after a retryable answer */
    ob_metric_t *webhooks; /* counter {outcome}: command, ignored, refused, failed */
} ob_jira_metrics_t;

/* Creates the adapter's metrics in registry (borrowed). Returns 0 and fills *ret_metrics,
   or OB_ERR_INVALID_ARGUMENT. */
int ob_jira_metrics_register(ob_metrics_t *registry, ob_jira_metrics_t *ret_metrics);

/* What the actor needs; everything borrowed until the actor is destroyed. */
typedef struct ob_jira_engine_config {
    const ob_jira_config_t *cfg;      /* the settings */
    const ob_jira_secrets_t *secrets; /* the Authorization header's value */
    const ob_jira_metrics_t *metrics; /* may be NULL */
    ob_jira_map_t *map;               /* the id map (jira_map.h), shared with the HTTP server */
} ob_jira_engine_config_t;

/* Publishes cmd (borrowed) on mp.<oms_id> with client (borrowed, connected), as a command
   event of source orderbus-jira whose id is the command's, and waits for the broker's
   confirm. Returns 0 or ob_client_publish's error. */
int ob_jira_command_publish(ob_client_t *client, uint64_t oms_id, const ob_jira_command_t *cmd);

/* Starts the actor (config borrowed, as said above). Returns the actor (owned:
   zactor_destroy sends $TERM and waits for it to end) or NULL (no broker client, no
   memory: logged). */
zactor_t *ob_jira_engine_start(const ob_jira_engine_config_t *config);

#endif
