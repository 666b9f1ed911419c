/*  fuzz_event: ob_event_decode and ob_event_peek on arbitrary bytes.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is one of the codes event.h documents, and leaves *ret_event alone;
    - ob_event_peek returns the same code as ob_event_decode (unless decode ran out of
      memory), leaves its envelope alone on error, and on success gives the decoded event's
      id, topic, type and time, as views inside the input;
    - whatever decodes re-encodes, decodes again to the same event, and re-encodes to the
      same bytes (the encoding of a decoded event is canonical). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (which the fuzzer reports with the input) unless cond holds. */
static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Returns 1 if a and b are both NULL or hold the same string. */
static int
s_str_same(const char *a, const char *b)
{
    return (!a || !b) ? a == b : strcmp(a, b) == 0;
}

/* Returns 1 if two decoded events carry the same content. */
static int
s_event_same(const ob_event_t *a, const ob_event_t *b)
{
    if (!s_str_same(a->id, b->id) || !s_str_same(a->topic, b->topic) ||
        !s_str_same(a->type, b->type) || !s_str_same(a->source, b->source) ||
        a->time_us != b->time_us || a->oms_id != b->oms_id || a->project_id != b->project_id ||
        a->project_item_id != b->project_item_id || a->message_id != b->message_id ||
        a->changes_count != b->changes_count || a->data_len != b->data_len)
        return 0;
    for (size_t i = 0; i < a->changes_count; i++)
        if (!s_str_same(a->changes[i].field, b->changes[i].field) ||
            !s_str_same(a->changes[i].before, b->changes[i].before) ||
            !s_str_same(a->changes[i].after, b->changes[i].after))
            return 0;
    return a->data_len == 0 || memcmp(a->data, b->data, a->data_len) == 0;
}

/* Returns 1 if the view (ptr, len) lies inside the input and holds the C string s. */
static int
s_view_same(const uint8_t *data, size_t size, const char *ptr, size_t len, const char *s)
{
    const uint8_t *p = (const uint8_t *)ptr;
    return p >= data && len <= size && (size_t)(p - data) <= size - len && strlen(s) == len &&
           memcmp(ptr, s, len) == 0;
}

static ob_event_t s_sentinel; /* what *ret_event holds before decoding: untouched on error */

/* Peeks at the input and requires what decode said: the same code (decode_rc), and on
   success the envelope of event. */
static void
s_check_peek(const uint8_t *data, size_t size, int decode_rc, const ob_event_t *event)
{
    ob_event_envelope_t env;
    ob_event_envelope_t untouched;
    memset(&env, 0xa5, sizeof env);
    memset(&untouched, 0xa5, sizeof untouched);
    int rc = ob_event_peek(data, size, &env);
    if (decode_rc == -ENOMEM) /* peek allocates nothing, so cannot fail that way */
        return;
    s_require(rc == decode_rc);
    if (rc) {
        s_require(memcmp(&env, &untouched, sizeof env) == 0);
        return;
    }
    s_require(s_view_same(data, size, env.id, env.id_len, event->id));
    s_require(s_view_same(data, size, env.topic, env.topic_len, event->topic));
    s_require(s_view_same(data, size, env.type, env.type_len, event->type));
    s_require(env.time_us == event->time_us);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ob_event_t *event = &s_sentinel;
    int rc = ob_event_decode(data, size, &event);
    s_check_peek(data, size, rc, event);
    if (rc) {
        s_require(event == &s_sentinel);
        s_require(rc == OB_ERR_TRUNCATED || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE ||
                  rc == OB_ERR_MISSING_FIELD || rc == OB_ERR_FIELD_TYPE ||
                  rc == OB_ERR_INVALID_TOPIC || rc == OB_ERR_INVALID_EVENT || rc == -ENOMEM);
        return 0;
    }

    uint8_t *buf = NULL;
    size_t len = 0;
    s_require(ob_event_encode(event, &buf, &len) == 0);

    ob_event_t *again = NULL;
    s_require(ob_event_decode(buf, len, &again) == 0);
    s_require(s_event_same(event, again));

    uint8_t *buf2 = NULL;
    size_t len2 = 0;
    s_require(ob_event_encode(again, &buf2, &len2) == 0);
    s_require(len2 == len && memcmp(buf, buf2, len) == 0);

    free(buf2);
    free(buf);
    ob_event_destroy(&again);
    ob_event_destroy(&event);
    s_require(event == NULL);
    return 0;
}
