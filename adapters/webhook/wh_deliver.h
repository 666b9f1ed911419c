/*  ob_wh_deliver: the delivery engine of one target, a CZMQ actor with its own broker client
    and libcurl multi handle, so that a slow or failing target never delays another.

    The target's durable subscription webhook-<name> (its patterns and types, from the
    topics' start when it is new, no broker dead-lettering: max_attempts unlimited, as the
    adapter dead-letters itself) is consumed in order per topic: the deliveries of a topic
    wait in seq order and only the lowest is worked on, while topics go on concurrently (at
    most OB_WH_INFLIGHT_MAX POSTs at once, the others wait for a slot in order). One event:
        POST   the body (wh_body.h), signed (wh_sign.h), to the URL, within the target's
               timeout; keep-alive connections are reused by the multi handle
        2xx    ACK
        retry  NACK with the delay (wh_answer.h); the topic waits for that seq to come back
               (redelivered by the broker after the delay), then POSTs it again; past
               delay + ack_wait + OB_WH_UNBLOCK_SLACK_MS without it (a subscription
               repositioned by an operator) the topic goes on with what it holds
        dead   publish the dead letter to webhook-dlq.<name> (its id is the event's
               webhook-id: stored once however often it is published), ACK once the broker
               confirmed it; a dead letter too large for the broker goes again without the
               event
    At least once: an event is acked only after its 2xx or its confirmed dead letter; a crash
    or a new broker session brings back whatever was not acked, and receivers deduplicate
    on webhook-id. The subscription's ack_wait_ms is OB_WH_ACK_WAIT_FACTOR POST timeouts, at
    least OB_WH_ACK_WAIT_MS_MIN: an event held behind a retried one for longer is redelivered
    by the broker (the newest delivery replaces the held one), and one whose ack comes while
    the broker has it waiting for that redelivery is ignored by the broker (PROTOCOL.md 12.4)
    and POSTed once more: a duplicate, which the contract allows. A crashed adapter's
    deliveries come back at once (its session ends), whatever ack_wait_ms is. The attempt count
   (max_attempts, the body's attempt) is of POSTs since the adapter started.

    Commands on the actor's pipe: $TERM (stops taking events, lets the POSTs in flight end
    and the dead letters in flight be confirmed, up to OB_WH_STOP_CONFIRM_MS more, then
    ends); "STATUS", answered "ready" once subscribed, else "connecting". */
#ifndef OB_WH_DELIVER_H
#define OB_WH_DELIVER_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "wh_config.h"

/* The adapter's metrics, shared by every target's actor (each series is the target's). */
typedef struct ob_wh_metrics {
    ob_metric_t *deliveries; /* counter {target, outcome}: acked, retried, dead_lettered */
    ob_metric_t *requests;   /* counter {target, status}: 2xx .. 5xx, or none */
    ob_metric_t *latency;    /* histogram {target}: seconds of a POST */
    ob_metric_t *held;       /* gauge {target}: events received and not yet done */
} ob_wh_metrics_t;

/* Creates the adapter's metrics in registry (borrowed). Returns 0 and fills *ret_metrics,
   or OB_ERR_INVALID_ARGUMENT (a metric could not be created: a name taken, no memory). */
int ob_wh_metrics_register(ob_metrics_t *registry, ob_wh_metrics_t *ret_metrics);

/* What one target's actor needs; everything borrowed until the actor is destroyed. */
typedef struct ob_wh_deliver_config {
    const ob_wh_target_t *target;   /* its settings, with its secrets read */
    const char *endpoint;           /* the broker */
    const char *cert;               /* CURVE: our certificate, NULL for plaintext */
    const char *broker_cert;        /* CURVE: the broker's, NULL for plaintext */
    const ob_wh_metrics_t *metrics; /* may be NULL */
} ob_wh_deliver_config_t;

/* Starts the actor of config's target (config borrowed, as said above). Returns the actor
   (owned: zactor_destroy sends $TERM and waits for it to end) or NULL (no memory, a broker
   client that cannot be made: logged). */
zactor_t *ob_wh_deliver_start(const ob_wh_deliver_config_t *config);

#endif
