/*  ob_wh_sign: Standard Webhooks signing, the sender's side (standard-webhooks 1.0.0,
    symmetric scheme).

    A target's secrets are `whsec_` followed by the standard base64 of 24 to 64 random bytes;
    the key is the decoded bytes. A delivery carries three headers:
        webhook-id         ob_wh_id: "ob_" and the lowercase hex of SHA-256(topic "\n" event
                           id), the same for every attempt of an event (and across restarts
                           of the adapter and replays of its subscription), so that a receiver
                           deduplicates on it; unique per stored event, since the broker
                           stores one event per (topic, event id). No '.' in it.
        webhook-timestamp  the attempt's time, Unix seconds, in decimal
        webhook-signature  ob_wh_sign: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", one
                           token per secret, separated by one space (key rotation: a receiver
                           accepts a delivery when any token matches one of its keys).
    Pure: no I/O, no allocation but inside libsodium's base64 helpers (none). */
#ifndef OB_WH_SIGN_H
#define OB_WH_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "wh_limits.h"

/* The keys of one target, decoded: secret material, wiped by ob_wh_secrets_wipe. */
typedef struct ob_wh_secrets {
    uint8_t key[OB_WH_SECRETS_MAX][OB_WH_SECRET_BYTES_MAX]; /* the keys, in file order */
    size_t len[OB_WH_SECRETS_MAX];                          /* bytes of each key */
    size_t count;                                           /* keys in use */
} ob_wh_secrets_t;

/* Decodes one secret, the len bytes of text (borrowed, need not be NUL-terminated):
   "whsec_" and the standard base64 (padded or not) of OB_WH_SECRET_BYTES_MIN to
   OB_WH_SECRET_BYTES_MAX bytes, nothing else (no spaces). On success writes the key to key
   and its length to *ret_len. Returns 0 or OB_ERR_INVALID_ARGUMENT (no prefix, not base64,
   too short or too long); key is untouched on failure. */
int ob_wh_secret_parse(const char *text, size_t len, uint8_t key[OB_WH_SECRET_BYTES_MAX],
                       size_t *ret_len);

/* Parses a secret file's text (len bytes, borrowed; at most OB_WH_SECRET_FILE_MAX): one
   secret per line (ob_wh_secret_parse), the first the current one and the others older
   ones still accepted during a rotation; blank lines and lines starting with '#' are
   skipped, a '\r' before a newline dropped. On success fills *ret_secrets (at least one
   key). Returns 0, OB_ERR_TOO_LARGE (a text over OB_WH_SECRET_FILE_MAX, a line over
   OB_WH_SECRET_TEXT_MAX, more than OB_WH_SECRETS_MAX secrets), OB_ERR_MISSING_FIELD (no
   secret), OB_ERR_INVALID_ARGUMENT (a line that is not a secret, a NUL byte), or -ENOMEM
   (libsodium could not start). Nothing of a key is left behind on failure; *ret_secrets is
   then untouched. Calls sodium_init. */
int ob_wh_secrets_parse(const char *text, size_t len, ob_wh_secrets_t *ret_secrets);

/* Overwrites the keys of secrets (borrowed) with zeros; count becomes 0. */
void ob_wh_secrets_wipe(ob_wh_secrets_t *secrets);

/* Writes the webhook-id of the event event_id (event_id_len bytes, borrowed) on topic
   (borrowed, NUL-terminated) into ret_id, described at the top. Returns 0,
   OB_ERR_INVALID_TOPIC (ob_topic_valid refuses topic) or OB_ERR_INVALID_EVENT (an id empty
   or over OB_EVENT_ID_MAX bytes); ret_id is untouched on failure. */
int ob_wh_id(const char *topic, const char *event_id, size_t event_id_len,
             char ret_id[OB_WH_ID_TEXT]);

/* Writes HMAC-SHA256(key, msg_id "." stamp "." body) into ret_mac: key is key_len bytes,
   msg_id and stamp NUL-terminated, body body_len bytes (all borrowed). The signed content of
   both sides (ob_wh_sign, ob_wh_verify); checks nothing. */
void ob_wh_mac(const uint8_t *key, size_t key_len, const char *msg_id, const char *stamp,
               const void *body, size_t body_len, uint8_t ret_mac[OB_WH_MAC_BYTES]);

/* Signs body (body_len bytes, borrowed, exactly the bytes sent) for the webhook-id msg_id
   (borrowed) and the webhook-timestamp timestamp with every key of secrets (borrowed), and
   writes the webhook-signature value into ret_signature. Returns 0 or
   OB_ERR_INVALID_ARGUMENT (no key, a key of a wrong size, msg_id empty, over
   OB_WH_ID_TEXT - 1 bytes, or holding a '.', a space or a byte that is not printable
   ASCII: it goes into a header); ret_signature is untouched on failure. */
int ob_wh_sign(const ob_wh_secrets_t *secrets, const char *msg_id, uint64_t timestamp,
               const void *body, size_t body_len, char ret_signature[OB_WH_SIGNATURE_TEXT]);

#endif
