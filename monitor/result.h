/*  ob_mon_result: the monitor's reader of admin results (PROTOCOL.md section 13).

    A result is msgpack from the broker, so it is untrusted input: liborderbus's
    ob_result_to_json (orderbus/result_json.h) checks and converts it, with the library's
    pre-scan and caps, into JSON text, which is loaded here into a Jansson value that the
    commands read and that --json prints. Only the types the broker sends are accepted: maps
    with str keys, arrays, str (UTF-8), bin, non-negative integers up to 2^63-1, bool and
    nil. */
#ifndef OB_MON_RESULT_H
#define OB_MON_RESULT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Reads the one msgpack object occupying all len bytes of buf (borrowed; nothing kept).
   On success *ret_value is a new Jansson value the caller releases with json_decref (a bin
   becomes {"base64": "..."}). Returns 0; OB_ERR_TRUNCATED, OB_ERR_MALFORMED (trailing bytes,
   0xc1, ext, a duplicate or non-str map key), OB_ERR_TOO_LARGE (a pre-scan cap); or
   OB_ERR_FIELD_TYPE (a negative integer, an integer over 2^63-1, a float, a str that is not
   UTF-8 or holds a NUL byte); -ENOMEM. */
int ob_mon_result_decode(const uint8_t *buf, size_t len, json_t **ret_value);

/* Readers of a decoded result's fields. Each returns the value of key in obj (borrowed), or
   its fallback when obj is not an object, key is absent or of another type. */
uint64_t ob_mon_get_uint(const json_t *obj, const char *key, uint64_t fallback);
const char *ob_mon_get_str(const json_t *obj, const char *key, const char *fallback);
int ob_mon_get_bool(const json_t *obj, const char *key, int fallback);

#endif
