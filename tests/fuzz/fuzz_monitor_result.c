/*  fuzz_monitor_result: orderbus-monitor's reader of admin results (monitor/result.h) on
    arbitrary bytes, as a broker (or anything at its endpoint) could send them.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is one of the codes result.h documents and leaves *ret_value alone;
    - a value read prints as JSON (every string in it is UTF-8, every number in range), and
      the field readers take it whatever its shape. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "orderbus/error.h"
#include "result.h"

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
    json_t *value = (json_t *)&value; /* a sentinel: must stay as it is on error */
    int rc = ob_mon_result_decode(data, size, &value);
    if (rc) {
        s_require(rc == OB_ERR_TRUNCATED || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE ||
                  rc == OB_ERR_FIELD_TYPE || rc == -ENOMEM);
        s_require(value == (json_t *)&value);
        return 0;
    }
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    s_require(text != NULL);
    free(text);
    /* What the commands do with a TOPICS or SUB_INFO answer. */
    json_t *first = json_is_array(value) ? json_array_get(value, 0) : value;
    (void)ob_mon_get_uint(first, "last_seq", 0);
    (void)ob_mon_get_str(first, "name", "");
    (void)ob_mon_get_bool(first, "ephemeral", 0);
    json_decref(value);
    return 0;
}
