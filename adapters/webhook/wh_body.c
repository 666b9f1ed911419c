/*  ob_wh_body: a delivery's body and a dead letter. See wh_body.h. */
#include "wh_body.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"
#include "wh_sign.h"

#define S_SOURCE "orderbus-webhook" /* source of the dead letters */

int
ob_wh_target_valid(const char *name)
{
    size_t len = strnlen(name, OB_WH_NAME_MAX + 1);
    if (len == 0 || len > OB_WH_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Returns 1 if meta (borrowed) describes a delivery: a target name, a valid topic, seq and
   attempt from 1. */
static int
s_meta_valid(const ob_wh_meta_t *meta)
{
    return meta->target && ob_wh_target_valid(meta->target) && meta->topic &&
           ob_topic_valid(meta->topic, strlen(meta->topic)) && meta->seq && meta->attempt;
}

int
ob_wh_body(const ob_event_t *event, const ob_wh_meta_t *meta, char **ret_body, size_t *ret_len)
{
    if (!s_meta_valid(meta) || !event->topic || strcmp(event->topic, meta->topic))
        return OB_ERR_INVALID_ARGUMENT;
    char time[OB_TIME_TEXT_MAX];
    if (ob_time_format(event->time_us, time))
        return OB_ERR_INVALID_EVENT;
    char *data = NULL;
    int rc = ob_event_to_json(event, &data);
    if (rc)
        return rc;
    /* type, target and topic need no JSON escaping: their characters are [a-z0-9_.-]
       (ob_event_to_json has checked the type; the rest s_meta_valid) */
    size_t len = strlen(data);
    size_t size = len + OB_WH_BODY_EXTRA + 2 * OB_TOPIC_MAX;
    char *body = malloc(size);
    if (!body) {
        free(data);
        return -ENOMEM;
    }
    int n = snprintf(body, size,
                     "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":%s,\"delivery\":{"
                     "\"target\":\"%s\",\"subscription\":\"" OB_WH_SUB_PREFIX "%s\","
                     "\"topic\":\"%s\",\"seq\":%" PRIu64 ",\"attempt\":%" PRIu32 "}}",
                     event->type, time, data, meta->target, meta->target, meta->topic, meta->seq,
                     meta->attempt);
    free(data);
    if (n < 0 || (size_t)n >= size) { /* cannot happen: the sizes above bound it */
        free(body);
        return OB_ERR_INVALID_EVENT;
    }
    *ret_body = body;
    *ret_len = (size_t)n;
    return 0;
}

int
ob_wh_dlq_topic(const char *target, char buf[OB_TOPIC_MAX + 1])
{
    if (!ob_wh_target_valid(target))
        return OB_ERR_INVALID_ARGUMENT;
    snprintf(buf, OB_TOPIC_MAX + 1, "%s%s", OB_WH_DLQ_PREFIX, target);
    return 0;
}

/* Returns how many of the first len bytes at text (at most OB_WH_ANSWER_KEEP) to keep so
   that no UTF-8 sequence is cut: backs off over continuation bytes at the cut. */
static size_t
s_answer_cut(const char *text, size_t len)
{
    if (len <= OB_WH_ANSWER_KEEP)
        return len;
    size_t cut = OB_WH_ANSWER_KEEP;
    /* at most 3 continuation bytes (10xxxxxx) follow a lead byte */
    for (int back = 0; back < 3 && cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80; back++)
        cut--;
    return cut;
}

/* Adds the answer of dead (borrowed) to object: "answer" as a string if it is UTF-8, else
   "answer_base64". Returns 0 or -ENOMEM. */
static int
s_add_answer(json_t *object, const ob_wh_dead_t *dead)
{
    if (!dead->answer)
        return json_object_set_new(object, "answer", json_string("")) ? -ENOMEM : 0;
    size_t keep = s_answer_cut(dead->answer, dead->answer_len);
    json_t *text = json_stringn(dead->answer, keep); /* NULL: not UTF-8 (or no memory) */
    if (text)
        return json_object_set_new(object, "answer", text) ? -ENOMEM : 0;
    keep = dead->answer_len < OB_WH_ANSWER_KEEP ? dead->answer_len : OB_WH_ANSWER_KEEP;
    char *b64 = ob_base64_encode(dead->answer, keep);
    if (!b64)
        return -ENOMEM;
    int rc = json_object_set_new(object, "answer_base64", json_string(b64)) ? -ENOMEM : 0;
    free(b64);
    return rc;
}

/* Returns the JSON of the event frame (borrowed): original (its decoding, borrowed) as
   ob_event_to_json writes it, or {"base64": ...} when original is NULL; NULL if out of
   memory. */
static json_t *
s_event_json(const uint8_t *frame, size_t frame_len, const ob_event_t *original)
{
    char *text = NULL;
    if (original && ob_event_to_json(original, &text) == 0) {
        json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
        free(text);
        return value;
    }
    char *b64 = ob_base64_encode(frame, frame_len);
    json_t *value = b64 ? json_pack("{s:s}", "base64", b64) : NULL;
    free(b64);
    return value;
}

int
ob_wh_dead_letter(const uint8_t *frame, size_t frame_len, const ob_wh_meta_t *meta,
                  const ob_wh_dead_t *dead, uint64_t time_us, uint8_t **ret_buf, size_t *ret_len)
{
    if (!s_meta_valid(meta) || !dead->reason)
        return OB_ERR_INVALID_ARGUMENT;
    int rc = -ENOMEM;
    ob_event_t *original = NULL;
    json_t *root = NULL;
    char *data = NULL;
    char topic[OB_TOPIC_MAX + 1];
    ob_wh_dlq_topic(meta->target, topic);

    /* The id: the original's webhook-id. A frame that does not decode (the broker stores
       only events that do) gets the webhook-id of "#<seq>" on its topic. */
    char id[OB_WH_ID_TEXT];
    ob_event_envelope_t envelope;
    if (ob_event_peek(frame, frame_len, &envelope) == 0)
        rc = ob_wh_id(meta->topic, envelope.id, envelope.id_len, id);
    else {
        char place[OB_WH_TIMESTAMP_TEXT + 1];
        int n = snprintf(place, sizeof place, "#%" PRIu64, meta->seq);
        rc = ob_wh_id(meta->topic, place, (size_t)n, id);
    }
    if (rc)
        goto fail;
    rc = -ENOMEM;
    if (ob_event_decode(frame, frame_len, &original) == -ENOMEM)
        goto fail;
    json_t *event = dead->omit_event ? json_null() : s_event_json(frame, frame_len, original);
    root =
        json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "target", meta->target, "topic",
                  meta->topic, "seq", (json_int_t)meta->seq, "attempts", (json_int_t)dead->attempts,
                  "webhook_id", id, "reason", dead->reason, "status", (json_int_t)dead->status);
    if (!root || !event || json_object_set_new(root, "event", event)) {
        if (!root)
            json_decref(event);
        goto fail;
    }
    if ((rc = s_add_answer(root, dead)))
        goto fail;
    rc = -ENOMEM;
    if (!(data = json_dumps(root, JSON_COMPACT)))
        goto fail;
    ob_event_t letter = {.id = id,
                         .topic = topic,
                         .type = OB_WH_TYPE_DEAD_LETTER,
                         .time_us = time_us,
                         .source = S_SOURCE,
                         .data = (const uint8_t *)data,
                         .data_len = strlen(data)};
    if (original) {
        letter.oms_id = original->oms_id;
        letter.project_id = original->project_id;
        letter.project_item_id = original->project_item_id;
        letter.message_id = original->message_id;
    }
    rc = ob_event_encode(&letter, ret_buf, ret_len);
fail:
    free(data);
    json_decref(root);
    ob_event_destroy(&original);
    return rc;
}
