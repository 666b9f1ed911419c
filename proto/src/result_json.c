/*  ob_result_json: see orderbus/result_json.h. The reader goes through the pre-scan and the
    cursor readers of mpscan.h, as ob_wire_decode reads bodies, into a Jansson value that is
    then printed. */
#include "orderbus/result_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"

/* Reads one value at cur into *ret (new reference). depth counts the enclosing containers;
   the pre-scan has checked it already, this is only the guard of the recursion. */
static int
s_read(ob_mp_cursor_t *cur, int depth, json_t **ret)
{
    if (depth > OB_MP_DEPTH_MAX)
        return OB_ERR_TOO_LARGE;
    size_t count = 0;
    ob_mp_str_t str;
    uint64_t u = 0;
    int b = 0;
    int rc = ob_mp_read_map(cur, &count);
    if (rc == 0) {
        json_t *obj = json_object();
        if (!obj)
            return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
            char key[OB_TOPIC_MAX + 1];
            json_t *value = NULL;
            if ((rc = ob_mp_read_str(cur, 0, &str)) != 0) {
                rc = rc == OB_ERR_FIELD_TYPE ? OB_ERR_MALFORMED : rc;
                goto fail_obj;
            }
            if (str.len > OB_TOPIC_MAX || ob_mp_has_nul(str.ptr, str.len)) {
                rc = OB_ERR_MALFORMED; /* no result key is longer than a topic name */
                goto fail_obj;
            }
            memcpy(key, str.ptr, str.len);
            key[str.len] = '\0';
            if (json_object_get(obj, key)) {
                rc = OB_ERR_MALFORMED;
                goto fail_obj;
            }
            if ((rc = s_read(cur, depth + 1, &value)) != 0)
                goto fail_obj;
            if (json_object_set_new(obj, key, value)) {
                rc = OB_ERR_FIELD_TYPE; /* a key that is not UTF-8 */
                goto fail_obj;
            }
        }
        *ret = obj;
        return 0;
    fail_obj:
        json_decref(obj);
        return rc;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_array(cur, &count)) == 0) {
        json_t *arr = json_array();
        if (!arr)
            return -ENOMEM;
        for (size_t i = 0; i < count; i++) {
            json_t *value = NULL;
            if ((rc = s_read(cur, depth + 1, &value)) != 0 ||
                (rc = json_array_append_new(arr, value) ? -ENOMEM : 0) != 0) {
                json_decref(arr);
                return rc;
            }
        }
        *ret = arr;
        return 0;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_str(cur, 0, &str)) == 0) {
        if (ob_mp_has_nul(str.ptr, str.len))
            return OB_ERR_FIELD_TYPE;
        json_t *s = json_stringn(str.ptr, str.len);
        if (!s)
            return OB_ERR_FIELD_TYPE; /* not UTF-8 (or no memory: the same to a reader) */
        *ret = s;
        return 0;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_uint(cur, &u)) == 0) {
        if (u > (uint64_t)INT64_MAX) /* Jansson holds signed 64-bit integers */
            return OB_ERR_FIELD_TYPE;
        *ret = json_integer((json_int_t)u);
        return *ret ? 0 : -ENOMEM;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_bool(cur, &b)) == 0) {
        *ret = json_boolean(b);
        return 0;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_nil(cur)) == 0) {
        *ret = json_null();
        return 0;
    }
    if (rc != OB_ERR_FIELD_TYPE)
        return rc;
    if ((rc = ob_mp_read_bin(cur, &str)) == 0) {
        /* The broker sends no bin in a result; keep it visible rather than refuse it. */
        char *out = ob_json_b64_encode((const uint8_t *)str.ptr, str.len);
        if (!out)
            return -ENOMEM;
        *ret = json_pack("{s:s}", "base64", out);
        free(out);
        return *ret ? 0 : -ENOMEM;
    }
    /* Anything else (negative integers, floats) is of a type no result holds. */
    return rc;
}

int
ob_result_to_json(const uint8_t *buf, size_t len, char **ret_text)
{
    size_t used = 0;
    int rc = ob_mp_prescan(buf, len, &used);
    if (rc)
        return rc;
    if (used != len)
        return OB_ERR_MALFORMED;
    ob_mp_cursor_t cur = {buf, buf + len};
    json_t *value = NULL;
    rc = s_read(&cur, 0, &value);
    if (rc)
        return rc;
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(value);
    if (!text)
        return -ENOMEM;
    *ret_text = text;
    return 0;
}
