/*  ob_rest_handle: the delivery handles of HTTP subscriptions (issue 15), Pub/Sub's ack ids.

    A fetch answers each delivery with a handle; the client acks or nacks by handle. The
    handle names what the broker's ACK and NACK need (subscription, topic, seq) and the
    attempt it was delivered at, and is sealed with a MAC under a key only the gateway holds,
    so that a client cannot make a handle of another subscription, topic or seq (the server
    still checks that the subscription is the client's). Layout, version 1:

        u8 version (1) | u8 sub length | sub | u8 topic length | topic | u64 seq (big-endian)
        | u32 attempt (big-endian) | 16-byte MAC

    MAC = BLAKE2b-128 keyed with the gateway's 32-byte key (crypto_generichash) over
    OB_GW_HANDLE_DOMAIN with its NUL, then every byte before the MAC; checked in constant
    time. The text is base64url without padding (at most OB_GW_HANDLE_TEXT_MAX characters):
    opaque to clients, and safe in JSON and URLs. The key should persist across restarts
    (a file the daemon reads): with a key made at start, handles given out before a restart
    are refused after it, and their deliveries come again after ack_wait_ms. Nothing is
    encrypted: the client already knows the topic and seq of what it was delivered. */
#ifndef OB_GW_HANDLE_H
#define OB_GW_HANDLE_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"

#define OB_GW_HANDLE_VERSION 1                           /* first byte of a handle */
#define OB_GW_HANDLE_DOMAIN "orderbus.gateway.handle.v1" /* MAC'd first, with its NUL */

typedef struct ob_rest_handle {
    char sub[OB_SUB_NAME_MAX + 1]; /* the subscription: 1.. bytes of [a-z0-9_-] */
    char topic[OB_TOPIC_MAX + 1];  /* the event's topic (ob_topic_valid) */
    uint64_t seq;                  /* its sequence number, >= 1 */
    uint32_t attempt;              /* the delivery's attempt, >= 1 */
} ob_rest_handle_t;

/* Makes a new random key into ret_key (randombytes_buf). Returns 0, or -EIO if libsodium
   cannot be initialised. */
int ob_rest_handle_keygen(uint8_t ret_key[OB_GW_HANDLE_KEY_BYTES]);

/* Encodes handle (borrowed) sealed with key (borrowed) into ret_text (NUL-terminated).
   Returns 0, or OB_ERR_INVALID_ARGUMENT (nothing written) for a handle whose sub, topic,
   seq or attempt breaks the rules above. */
int ob_rest_handle_encode(const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const ob_rest_handle_t *handle,
                          char ret_text[OB_GW_HANDLE_TEXT_MAX + 1]);

/* Decodes text (len bytes, borrowed, need not be NUL-terminated) sealed with key into
   *ret_handle. Returns 0, or OB_ERR_INVALID_ARGUMENT (nothing written): not base64url, too
   long, another version, lengths that do not add up, a bad MAC (forged, altered, or sealed
   with another key), or fields that break the rules above. */
int ob_rest_handle_decode(const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const char *text, size_t len,
                          ob_rest_handle_t *ret_handle);

#endif
