/*  ob_mon_result: see result.h. */
#include "result.h"

#include <errno.h>
#include <stdlib.h>

#include "orderbus/result_json.h"

int
ob_mon_result_decode(const uint8_t *buf, size_t len, json_t **ret_value)
{
    char *text = NULL;
    int rc = ob_result_to_json(buf, len, &text);
    if (rc)
        return rc;
    /* The library's own output: only memory can make it fail to load. */
    json_t *value = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    if (!value)
        return -ENOMEM;
    *ret_value = value;
    return 0;
}

uint64_t
ob_mon_get_uint(const json_t *obj, const char *key, uint64_t fallback)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v)
                                                            : fallback;
}

const char *
ob_mon_get_str(const json_t *obj, const char *key, const char *fallback)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : fallback;
}

int
ob_mon_get_bool(const json_t *obj, const char *key, int fallback)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_boolean(v) ? json_is_true(v) : fallback;
}
