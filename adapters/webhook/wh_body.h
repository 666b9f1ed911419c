/*  ob_wh_body: what orderbus-webhook sends and what it keeps of a failure.

    The body of a delivery (ob_wh_body), one compact JSON object in the shape Standard
    Webhooks suggests, with the bus's own fields:
        {"type": "<event type>", "timestamp": "<event time, RFC 3339 UTC, microseconds>",
         "data": <the event as ob_event_to_json writes it (orderbus/event_json.h)>,
         "delivery": {"target": "<target>", "subscription": "webhook-<target>",
                      "topic": "<topic>", "seq": <seq in the topic>, "attempt": <1, 2, ...>}}
    The attempt changes between retries, so the body (and the signature) does; webhook-id
    does not (wh_sign.h).

    A dead letter (ob_wh_dead_letter) is an event for topic webhook-dlq.<target>, of type
    webhook.dead_letter, whose id is the original's webhook-id (so that publishing it again
    after a crash stores it once), which copies the original's Marketplace ids
    (oms_id, project_id, project_item_id, message_id), and whose data is one JSON object:
        {"target": ..., "topic": ..., "seq": ..., "attempts": <POSTs made>,
         "webhook_id": ..., "reason": "<one line>", "status": <last HTTP status, 0: none>,
         "answer": "<the first OB_WH_ANSWER_KEEP bytes of the last answer's body>",
         "event": <the event as JSON, or {"base64": ...} when it cannot be decoded, or null
                   when the letter with it would be too large (omit_event)>}
    "answer" is cut at a character boundary; an answer that is not UTF-8 is given as
    "answer_base64" instead. The adapter's own topic because the broker's dlq.* is reserved
    for the broker's dead letters. */
#ifndef OB_WH_BODY_H
#define OB_WH_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/event.h"
#include "wh_limits.h"

/* The delivery an event is sent in (all borrowed). */
typedef struct ob_wh_meta {
    const char *target; /* target name, [a-z0-9_-], 1..OB_WH_NAME_MAX bytes */
    const char *topic;  /* the event's topic */
    uint64_t seq;       /* its seq in the topic */
    uint32_t attempt;   /* 1 for the first POST, +1 for each retry */
} ob_wh_meta_t;

/* Why an event is dead-lettered (all borrowed). */
typedef struct ob_wh_dead {
    const char *reason; /* one line: "HTTP 400", "timed out after 24 attempts", ... */
    long status;        /* the last answer's HTTP status, 0 if none came */
    const char *answer; /* the last answer's body, NULL if none */
    size_t answer_len;  /* bytes at answer (only OB_WH_ANSWER_KEEP are kept) */
    uint32_t attempts;  /* POSTs made */
    int omit_event;     /* 1: "event" is null (the letter with it was too large) */
} ob_wh_dead_t;

/* Returns 1 if name (borrowed, NUL-terminated) is a valid target name: 1..OB_WH_NAME_MAX
   bytes of [a-z0-9_-] (so that webhook-<name> is a subscription name and
   webhook-dlq.<name> a topic), else 0. */
int ob_wh_target_valid(const char *name);

/* Writes the body of a delivery of event (borrowed, from ob_event_decode) described by meta
   (borrowed) into a new NUL-terminated text: on success *ret_body is the caller's to free()
   and *ret_len its length. Returns 0, OB_ERR_INVALID_ARGUMENT (a target name or topic not
   valid, a seq or attempt of 0, a topic other than the event's), OB_ERR_INVALID_EVENT
   (ob_event_to_json refuses the event) or -ENOMEM. */
int ob_wh_body(const ob_event_t *event, const ob_wh_meta_t *meta, char **ret_body, size_t *ret_len);

/* Writes the topic of target's dead letters (borrowed, a valid target name) into buf
   (OB_TOPIC_MAX + 1 bytes). Returns 0 or OB_ERR_INVALID_ARGUMENT (not a target name). */
int ob_wh_dlq_topic(const char *target, char buf[OB_TOPIC_MAX + 1]);

/* Encodes the dead letter of the event frame (frame_len bytes, borrowed: a delivery's event,
   which need not decode) delivered as meta (borrowed), for dead (borrowed), stamped time_us,
   as described at the top. On success *ret_buf is the encoded event (ob_event_encode), the
   caller's to free(), and *ret_len its size. Returns 0, OB_ERR_INVALID_ARGUMENT (meta as for
   ob_wh_body, a NULL reason), OB_ERR_TOO_LARGE (over OB_EVENT_MAX_CAP) or -ENOMEM. */
int ob_wh_dead_letter(const uint8_t *frame, size_t frame_len, const ob_wh_meta_t *meta,
                      const ob_wh_dead_t *dead, uint64_t time_us, uint8_t **ret_buf,
                      size_t *ret_len);

#endif
