/*  ob_wh_verify: Standard Webhooks verification, the receiver's side, for the way back: an
    OMS POSTs a command to the adapter and signs it with its target's secrets (wh_sign.h),
    exactly as the adapter signs what it sends:
        webhook-id         1..OB_WH_IN_ID_MAX bytes of printable ASCII, no space
        webhook-timestamp  Unix seconds in decimal, within OB_WH_TOLERANCE_S of now either way
        webhook-signature  space-separated tokens VERSION,BASE64, at most
                           OB_WH_IN_SIGNATURE_MAX bytes; a "v1" token whose standard base64
                           is HMAC-SHA256(key, id.timestamp.body) for one of the keys passes
                           (rotation: any key, any token); other versions are skipped.
    MACs are compared in constant time (sodium_memcmp). A replay within the tolerance passes
    here: the caller makes it harmless (the command's id is its event id, and the broker
    stores one event per id). Pure: no I/O, no allocation. */
#ifndef OB_WH_VERIFY_H
#define OB_WH_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "wh_sign.h"

/* Checks one request: msg_id, timestamp and signature are its three header values
   (borrowed, NUL-terminated, NULL when absent), body its body_len bytes (borrowed), now_s
   the current Unix time, secrets the target's keys (borrowed). Returns 0 if it checks, else
   OB_ERR_MISSING_FIELD (a header absent), OB_ERR_FIELD_TYPE (a header malformed or too
   long), OB_ERR_TIMEOUT (the timestamp too old or in the future), OB_ERR_SIGNATURE (no v1
   token matches a key; also without keys), and sets *ret_reason (may be NULL) to a static
   one-line reason that names the header and never echoes a value. */
int ob_wh_verify(const ob_wh_secrets_t *secrets, const char *msg_id, const char *timestamp,
                 const char *signature, const void *body, size_t body_len, int64_t now_s,
                 const char **ret_reason);

#endif
