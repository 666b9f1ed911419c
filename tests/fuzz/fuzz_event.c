/*  fuzz_event: ob_event_decode on arbitrary bytes.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is one of the codes event.h documents, and leaves *ret_event alone;
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

static ob_event_t s_sentinel; /* what *ret_event holds before decoding: untouched on error */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ob_event_t *event = &s_sentinel;
    int rc = ob_event_decode(data, size, &event);
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
