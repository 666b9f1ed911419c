/*  fuzz_rest_parse: the REST request body parsers (gateway/rest_parse.h) and delivery handles
    (gateway/handle.h) on arbitrary bytes. The first byte chooses what the rest is:
        0 one event    1 a JSON array batch   2 an NDJSON batch   3 a subscription
        4 a fetch      5 an ack               6 a nack            7 a command
        8 a Content-Type header               9 a delivery handle
        10 query values: from_seq, from_time and limit, separated by newlines (fewer: absent)
    Handles are sealed with a fixed key (every byte 0x01), so that the corpus can hold valid
    ones (tests/fuzz/corpus/rest_parse, made with Python's hashlib.blake2b).

    Properties checked beyond the sanitizers':
    - a refusal is a negative code with a message, leaves the output alone, and its status is
      400, 413 or 415 (500 for -ENOMEM); its error body is JSON with that code;
    - what is accepted holds together: each event of a batch decodes with the URL's topic and
      there are 1..OB_GW_BATCH_EVENTS_MAX of them (a JSON array batch is one array of that
      many elements for Jansson too); a subscription has a valid name, 1..16
      valid patterns, valid types and settings in range; a fetch is in range; every acked
      handle is of the URL's subscription and encodes back to a handle that decodes the same;
      a command event decodes on mp.9 with the command's id; a number read from a query is
      its canonical decimal text, and a topic read is in range. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "handle.h"
#include "orderbus/event.h"
#include "orderbus/pattern.h"
#include "rest_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_SUB "billing"             /* the subscription of the URL */
#define S_TOPIC "oms.7"             /* the topic of the URL */
#define S_SENTINEL ((void *)&s_key) /* what outputs hold until written */

static const uint8_t s_key[OB_GW_HANDLE_KEY_BYTES] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Checks a refusal: its code, message and error body. */
static void
s_refused(int rc, const char *err)
{
    s_require(rc < 0);
    s_require(err[0] != '\0' && memchr(err, '\0', OB_GW_REST_ERR_MAX));
    int status = ob_rest_status(rc);
    s_require(status == 400 || status == 413 || status == 415 || (rc == -ENOMEM && status == 500));
    char *body = ob_rest_error_json(rc, err);
    if (!body)
        return; /* no memory */
    json_t *root = json_loads(body, 0, NULL);
    if (root) {
        const char *code =
            json_string_value(json_object_get(json_object_get(root, "error"), "code"));
        s_require(code && !strcmp(code, ob_rest_code(rc)));
    }
    json_decref(root);
    free(body);
}

/* Checks an encoded event on topic. */
static void
s_event_ok(const uint8_t *buf, size_t len, const char *topic)
{
    ob_event_t *e = NULL;
    int rc = ob_event_decode(buf, len, &e);
    s_require(rc == 0 || rc == -ENOMEM);
    if (e)
        s_require(!strcmp(e->topic, topic) && e->id[0] && e->type[0]);
    ob_event_destroy(&e);
}

static void
s_batch(const char *text, size_t len, ob_rest_media_t media, char *err)
{
    ob_rest_batch_t *batch = S_SENTINEL;
    int rc = ob_rest_parse_batch(text, len, media, S_TOPIC, &batch, err, OB_GW_REST_ERR_MAX);
    if (rc) {
        s_require(batch == S_SENTINEL);
        s_refused(rc, err);
        return;
    }
    s_require(batch->count >= 1 && batch->count <= OB_GW_BATCH_EVENTS_MAX);
    for (size_t i = 0; i < batch->count; i++)
        s_event_ok(batch->events[i], batch->lens[i], S_TOPIC);
    if (media == OB_REST_MEDIA_JSON) {
        /* The array is split without being loaded whole: what is accepted must be one JSON
           array of as many elements as Jansson reads. */
        json_t *root = json_loadb(text, len, 0, NULL);
        s_require(json_is_array(root) && json_array_size(root) == batch->count);
        json_decref(root);
    }
    ob_rest_batch_destroy(&batch);
}

static void
s_sub(const char *text, size_t len, char *err)
{
    ob_rest_sub_t *sub = S_SENTINEL;
    int rc = ob_rest_parse_sub(text, len, &sub, err, OB_GW_REST_ERR_MAX);
    if (rc) {
        s_require(sub == S_SENTINEL);
        s_refused(rc, err);
        return;
    }
    const ob_sub_options_t *o = &sub->options;
    s_require(sub->name[0] && strlen(sub->name) <= OB_SUB_NAME_MAX);
    s_require(o->pattern_count >= 1 && o->pattern_count <= OB_SUB_PATTERNS_MAX);
    for (size_t i = 0; i < o->pattern_count; i++)
        s_require(ob_pattern_valid(o->patterns[i], strlen(o->patterns[i])));
    s_require(o->type_count <= OB_SUB_TYPES_MAX && (o->type_count == 0) == (o->types == NULL));
    for (size_t i = 0; i < o->type_count; i++)
        s_require(ob_event_type_valid(o->types[i], strlen(o->types[i])));
    s_require(o->start != OB_START_SEQ || o->start_seq >= 1);
    s_require(o->credit <= OB_CREDIT_MAX);
    s_require(o->ack_wait_ms == 0 ||
              (o->ack_wait_ms >= OB_ACK_WAIT_MS_MIN && o->ack_wait_ms <= OB_DELAY_MS_MAX));
    s_require(o->max_attempts <= OB_MAX_ATTEMPTS_MAX || o->max_attempts == OB_ATTEMPTS_UNLIMITED);
    s_require(o->backoff_ms <= OB_DELAY_MS_MAX);
    free(sub);
}

static void
s_ack(const char *text, size_t len, int nack, char *err)
{
    ob_rest_ack_t *ack = S_SENTINEL;
    int rc = ob_rest_parse_ack(text, len, nack, s_key, S_SUB, &ack, err, OB_GW_REST_ERR_MAX);
    if (rc) {
        s_require(ack == S_SENTINEL);
        s_refused(rc, err);
        return;
    }
    s_require(ack->count >= 1 && ack->count <= OB_GW_ACK_HANDLES_MAX);
    s_require(ack->delay_ms <= OB_DELAY_MS_MAX && (nack || ack->delay_ms == 0));
    for (size_t i = 0; i < ack->count; i++) {
        s_require(!strcmp(ack->handles[i].sub, S_SUB));
        char again[OB_GW_HANDLE_TEXT_MAX + 1];
        ob_rest_handle_t back;
        s_require(ob_rest_handle_encode(s_key, &ack->handles[i], again) == 0);
        s_require(ob_rest_handle_decode(s_key, again, strlen(again), &back) == 0);
        s_require(!strcmp(back.topic, ack->handles[i].topic) && back.seq == ack->handles[i].seq);
    }
    ob_rest_ack_destroy(&ack);
}

static void
s_other(int kind, const char *text, size_t len, char *err)
{
    uint8_t *buf = S_SENTINEL;
    size_t buf_len = 0;
    int rc = 0;
    if (kind == 0) {
        rc = ob_rest_parse_event(text, len, S_TOPIC, &buf, &buf_len, err, OB_GW_REST_ERR_MAX);
        if (rc == 0)
            s_event_ok(buf, buf_len, S_TOPIC);
    } else if (kind == 4) {
        ob_rest_fetch_t f = {7, 7};
        rc = ob_rest_parse_fetch(text, len, &f, err, OB_GW_REST_ERR_MAX);
        if (rc == 0)
            s_require(f.max >= 1 && f.max <= OB_GW_FETCH_MAX && f.wait_ms <= OB_GW_WAIT_MS_MAX);
        else
            s_require(f.max == 7 && f.wait_ms == 7);
    } else if (kind == 7) {
        char id[OB_GW_COMMAND_ID_MAX + 1] = "";
        rc = ob_rest_command_event(text, len, 9, "fuzz", 1, &buf, &buf_len, id, err,
                                   OB_GW_REST_ERR_MAX);
        if (rc == 0) {
            ob_event_t *e = NULL;
            int drc = ob_event_decode(buf, buf_len, &e);
            s_require(drc == 0 || drc == -ENOMEM);
            if (e)
                s_require(!strcmp(e->topic, "mp.9") && !strcmp(e->id, id));
            ob_event_destroy(&e);
        }
    } else if (kind == 8) {
        /* a header is a string: up to the first NUL */
        char header[OB_GW_CONTENT_TYPE_MAX + 8];
        size_t n = len < sizeof header - 1 ? len : sizeof header - 1;
        memcpy(header, text, n);
        header[n] = '\0';
        ob_rest_media_t media = (ob_rest_media_t)-1;
        rc = ob_rest_media_type(header, &media, err, OB_GW_REST_ERR_MAX);
        s_require(rc == 0 || rc == OB_GW_ERR_MEDIA_TYPE);
        s_require(rc ? media == (ob_rest_media_t)-1 : media <= OB_REST_MEDIA_NDJSON);
    } else {
        ob_rest_handle_t h;
        rc = ob_rest_handle_decode(s_key, text, len, &h);
        s_require(rc == 0 || rc == OB_ERR_INVALID_ARGUMENT);
        if (rc == 0) {
            char again[OB_GW_HANDLE_TEXT_MAX + 1];
            s_require(ob_rest_handle_encode(s_key, &h, again) == 0);
            s_require(strlen(again) == len && !memcmp(again, text, len)); /* canonical */
        }
        return;
    }
    if (rc) {
        s_require(kind == 4 || buf == S_SENTINEL);
        s_refused(rc, err);
    } else if (kind == 0 || kind == 7)
        free(buf);
}

/* Query values: each of text's first three lines, or NULL. */
static void
s_query(const char *text, size_t len, char *err)
{
    char buf[256];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, text, n);
    buf[n] = '\0';
    uint64_t value = 7;
    int rc = ob_rest_parse_uint(buf, "n", 0, UINT64_MAX, &value, err, OB_GW_REST_ERR_MAX);
    s_require(rc == 0 || (rc == OB_ERR_FIELD_TYPE && value == 7 && err[0]));
    if (rc == 0) {
        char again[32];
        snprintf(again, sizeof again, "%" PRIu64, value);
        s_require(!strcmp(again, buf)); /* one text per number */
    }
    const char *parts[3] = {NULL, NULL, NULL};
    char *line = buf;
    for (int i = 0; i < 3 && line; i++) {
        parts[i] = line;
        line = strchr(line, '\n');
        if (line)
            *line++ = '\0';
    }
    ob_rest_read_t r = {7, 7, 7};
    rc = ob_rest_parse_read(parts[0], parts[1], parts[2], &r, err, OB_GW_REST_ERR_MAX);
    if (rc == 0)
        s_require(r.from_seq >= 1 && r.limit >= 1 && r.limit <= OB_FETCH_RANGE_MAX);
    else
        s_require(rc == OB_ERR_FIELD_TYPE && r.from_seq == 7 && r.limit == 7);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[OB_GW_REST_ERR_MAX];
    memset(err, 0, sizeof err);
    switch (data[0] % 11) {
    case 1:
        s_batch(text, len, OB_REST_MEDIA_JSON, err);
        break;
    case 2:
        s_batch(text, len, OB_REST_MEDIA_NDJSON, err);
        break;
    case 3:
        s_sub(text, len, err);
        break;
    case 5:
    case 6:
        s_ack(text, len, data[0] % 11 == 6, err);
        break;
    case 10:
        s_query(text, len, err);
        break;
    default:
        s_other(data[0] % 11, text, len, err);
        break;
    }
    return 0;
}
