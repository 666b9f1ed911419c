/*  ob_base64: base64 (RFC 4648) for the daemons: HTTP bodies, tokens, binary data in JSON.

    Encoding writes the standard alphabet (A-Z a-z 0-9 + /) with padding, or, with
    ob_base64url_encode, the URL-safe one (- _ instead of + /) without padding (RFC 4648
    section 5, as in JWTs). Decoding takes either alphabet, but one per text, and is strict
    otherwise: no spaces or line breaks, padding either absent or complete (the length a
    multiple of 4, '=' only at the end), and the unused low bits of the last character zero,
    so that every byte string has exactly one accepted text per alphabet and padding choice.
    liborderbus has its own (it depends on nothing of ours). */
#ifndef OB_BASE64_H
#define OB_BASE64_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns a new NUL-terminated text of the len bytes at data (borrowed; NULL only with len
   0) in the standard alphabet, padded; the caller frees it. NULL if out of memory. */
char *ob_base64_encode(const void *data, size_t len);

/* Characters of the padded standard text of len bytes (without its NUL). */
#define OB_BASE64_LEN(len) (((len) + 2) / 3 * 4)

/* Writes the padded standard text of the len bytes at data (borrowed) and a NUL into out,
   which has room for OB_BASE64_LEN(len) + 1 characters (the caller's, so that a writer of
   a larger text need not allocate). Returns OB_BASE64_LEN(len). */
size_t ob_base64_encode_into(char *out, const void *data, size_t len);

/* The same in the URL-safe alphabet, without padding. */
char *ob_base64url_encode(const void *data, size_t len);

/* ob_base64_encode_into in the URL-safe alphabet, without padding: writes at most
   OB_BASE64_LEN(len) characters and a NUL. Returns the characters written before the NUL. */
size_t ob_base64url_encode_into(char *out, const void *data, size_t len);

/* Decodes len bytes of text (borrowed, need not be NUL-terminated) as described at the top.
   On success *ret_data is a new buffer of *ret_len bytes (plus a NUL not counted, so that
   decoded text can be used as a string) that the caller frees. Returns 0,
   OB_ERR_INVALID_ARGUMENT (not base64 as described above) or -ENOMEM; nothing is written
   on failure. */
int ob_base64_decode(const char *text, size_t len, uint8_t **ret_data, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
