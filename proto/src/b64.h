/*  ob_json_b64: base64 (RFC 4648, standard alphabet, padded) for the JSON forms of events and
    admin results (internal to liborderbus; not installed). The daemons have their own in
    common/base64.h: liborderbus depends on nothing of ours, and the two names differ so that
    a program can link both. */
#ifndef OB_JSON_B64_H
#define OB_JSON_B64_H

#include <stddef.h>
#include <stdint.h>

/* Returns a new NUL-terminated base64 text of len bytes at data (borrowed), the caller's to
   free(), or NULL if out of memory. */
char *ob_json_b64_encode(const uint8_t *data, size_t len);

/* Decodes strict, padded base64 text (len bytes, borrowed) into a new buffer: on success
   *ret_buf is the caller's to free() and *ret_len its size. Returns 0, OB_ERR_INVALID_EVENT
   (not padded base64) or -ENOMEM. */
int ob_json_b64_decode(const char *text, size_t len, uint8_t **ret_buf, size_t *ret_len);

#endif
