/*  fuzz_event_json: ob_event_from_json on arbitrary text, and ob_event_to_json of whatever it
    accepts.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is one of the codes event_json.h documents, with a message, and leaves the
      outputs alone;
    - what is accepted is a valid event (ob_event_decode takes it);
    - its JSON reads back to a valid event, and from the second round on to the very same
      encoded bytes (ob_event_to_json and ob_event_from_json are inverse on what
      ob_event_from_json produces).
    The first byte chooses whether a topic argument is given (odd) or the object's is used. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *topic = data[0] & 1 ? "oms.1" : NULL;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    uint8_t *buf = (uint8_t *)"untouched";
    size_t buf_len = 12345;
    char err[OB_EVENT_JSON_ERR_MAX] = "";
    int rc = ob_event_from_json(text, len, topic, &buf, &buf_len, err, sizeof err);
    if (rc) {
        s_require(rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE || rc == OB_ERR_MISSING_FIELD ||
                  rc == OB_ERR_FIELD_TYPE || rc == OB_ERR_INVALID_TOPIC ||
                  rc == OB_ERR_INVALID_EVENT || rc == -ENOMEM);
        s_require(err[0] != '\0');
        s_require(buf_len == 12345 && !strcmp((const char *)buf, "untouched"));
        return 0;
    }
    ob_event_t *e = NULL;
    s_require(ob_event_decode(buf, buf_len, &e) == 0);
    ob_event_destroy(&e);
    /* JSON data comes back as its parsed value, so only the second round is byte-exact: the
       first may make non-compact JSON data compact. */
    uint8_t *round[3] = {buf, NULL, NULL};
    size_t round_len[3] = {buf_len, 0, 0};
    int done = 1;
    for (int i = 1; i < 3; i++) {
        char *json = NULL;
        s_require(ob_event_decode(round[i - 1], round_len[i - 1], &e) == 0);
        rc = ob_event_to_json(e, &json);
        /* Only a time past year 9999 cannot be written (strings from JSON are UTF-8). */
        s_require(rc == 0 || rc == -ENOMEM ||
                  (rc == OB_ERR_INVALID_EVENT && e->time_us >= 253402300800000000ull));
        ob_event_destroy(&e);
        if (rc)
            break;
        rc = ob_event_from_json(json, strlen(json), NULL, &round[i], &round_len[i], NULL, 0);
        free(json);
        s_require(rc == 0 || rc == -ENOMEM);
        if (rc)
            break;
        done = i + 1;
    }
    if (done == 3)
        s_require(round_len[1] == round_len[2] && !memcmp(round[1], round[2], round_len[1]));
    for (int i = 0; i < 3; i++)
        free(round[i]);
    return 0;
}
