/*  ob_result_json: an admin result (PROTOCOL.md section 13) as JSON text, for people and
    scripts (orderbus-monitor --json, the gateway).

    An admin result is msgpack from the broker, so it is untrusted input: it goes through the
    library's non-allocating pre-scan (caps on every count, length and nesting depth, limits.h)
    and is then read with bounds-checked cursors, never with msgpack-c's allocating unpacker.
    Only the types the broker sends are accepted: maps with str keys (at most OB_TOPIC_MAX
    bytes, no NUL, no key twice), arrays, str (UTF-8 without NUL), bin, non-negative integers
    up to 2^63-1, bool and nil. A map becomes an object with its keys in the same order, an
    array an array, an integer a JSON integer, nil null, a bin the object
    {"base64": "<padded standard base64>"} (the broker sends none today; it stays visible
    rather than refused). The JSON library (Jansson) is an implementation detail: nothing of
    it appears here. */
#ifndef OB_RESULT_JSON_H
#define OB_RESULT_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the one msgpack object occupying all len bytes of buf (borrowed; nothing kept) and
   writes it as compact JSON: on success *ret_text is a new NUL-terminated string the caller
   frees with free(). Returns 0; OB_ERR_TRUNCATED, OB_ERR_MALFORMED (trailing bytes, 0xc1,
   ext, a duplicate, overlong or non-str map key), OB_ERR_TOO_LARGE (a pre-scan cap),
   OB_ERR_FIELD_TYPE (a negative integer, an integer over 2^63-1, a float, a str that is not
   UTF-8 or holds a NUL byte); or -ENOMEM. *ret_text is written only on success. */
int ob_result_to_json(const uint8_t *buf, size_t len, char **ret_text);

#ifdef __cplusplus
}
#endif
#endif
