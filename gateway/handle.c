/*  ob_rest_handle: see handle.h. */
#include "handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "orderbus/error.h"
#include "orderbus/event.h" /* ob_topic_valid */

/* Returns 1 if name is a subscription name: 1..OB_SUB_NAME_MAX bytes of [a-z0-9_-]. */
static int
s_sub_valid(const char *name, size_t len)
{
    if (len == 0 || len > OB_SUB_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/* Writes the MAC of len bytes at data under key into ret_mac. */
static void
s_mac(const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const uint8_t *data, size_t len,
      uint8_t ret_mac[OB_GW_HANDLE_MAC_BYTES])
{
    crypto_generichash_state state;
    crypto_generichash_init(&state, key, OB_GW_HANDLE_KEY_BYTES, OB_GW_HANDLE_MAC_BYTES);
    crypto_generichash_update(&state, (const unsigned char *)OB_GW_HANDLE_DOMAIN,
                              sizeof OB_GW_HANDLE_DOMAIN);
    crypto_generichash_update(&state, data, len);
    crypto_generichash_final(&state, ret_mac, OB_GW_HANDLE_MAC_BYTES);
}

static void
s_put_be(uint8_t *out, uint64_t value, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, value >>= 8)
        out[i] = (uint8_t)value;
}

static uint64_t
s_get_be(const uint8_t *in, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = value << 8 | in[i];
    return value;
}

int
ob_rest_handle_keygen(uint8_t ret_key[OB_GW_HANDLE_KEY_BYTES])
{
    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(ret_key, OB_GW_HANDLE_KEY_BYTES);
    return 0;
}

/* The text of the longest handle, unpadded, fits ret_text. */
_Static_assert((OB_GW_HANDLE_BIN_MAX * 4 + 2) / 3 <= OB_GW_HANDLE_TEXT_MAX,
               "OB_GW_HANDLE_TEXT_MAX holds no longest handle");

int
ob_rest_handle_encode(const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const ob_rest_handle_t *handle,
                      char ret_text[OB_GW_HANDLE_TEXT_MAX + 1])
{
    size_t sub_len = strnlen(handle->sub, sizeof handle->sub);
    size_t topic_len = strnlen(handle->topic, sizeof handle->topic);
    if (!s_sub_valid(handle->sub, sub_len) || topic_len > OB_TOPIC_MAX ||
        !ob_topic_valid(handle->topic, topic_len) || handle->seq == 0 || handle->attempt == 0)
        return OB_ERR_INVALID_ARGUMENT;
    uint8_t bin[OB_GW_HANDLE_BIN_MAX];
    size_t n = 0;
    bin[n++] = OB_GW_HANDLE_VERSION;
    bin[n++] = (uint8_t)sub_len;
    memcpy(bin + n, handle->sub, sub_len);
    n += sub_len;
    bin[n++] = (uint8_t)topic_len;
    memcpy(bin + n, handle->topic, topic_len);
    n += topic_len;
    s_put_be(bin + n, handle->seq, 8);
    n += 8;
    s_put_be(bin + n, handle->attempt, 4);
    n += 4;
    s_mac(key, bin, n, bin + n);
    n += OB_GW_HANDLE_MAC_BYTES;
    /* into the caller's buffer: nothing to allocate or fail (libsodium's constant-time
       encoder was a tenth of a fetch's cost; a MAC is no secret) */
    ob_base64url_encode_into(ret_text, bin, n);
    return 0;
}

int
ob_rest_handle_decode(const uint8_t key[OB_GW_HANDLE_KEY_BYTES], const char *text, size_t len,
                      ob_rest_handle_t *ret_handle)
{
    uint8_t bin[OB_GW_HANDLE_BIN_MAX];
    size_t n = 0;
    const char *end = NULL;
    if (!text || len == 0 || len > OB_GW_HANDLE_TEXT_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    /* strict: the whole text, no padding, no spaces (ignore = NULL) */
    if (sodium_base642bin(bin, sizeof bin, text, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text + len)
        return OB_ERR_INVALID_ARGUMENT;
    /* the smallest: version, a 1-byte sub, a 1-byte topic, seq, attempt, MAC */
    if (n < 2 + 1 + 1 + 1 + 8 + 4 + OB_GW_HANDLE_MAC_BYTES || bin[0] != OB_GW_HANDLE_VERSION)
        return OB_ERR_INVALID_ARGUMENT;
    uint8_t mac[OB_GW_HANDLE_MAC_BYTES];
    size_t body = n - OB_GW_HANDLE_MAC_BYTES;
    s_mac(key, bin, body, mac);
    if (sodium_memcmp(mac, bin + body, OB_GW_HANDLE_MAC_BYTES) != 0)
        return OB_ERR_INVALID_ARGUMENT;
    /* authentic: the gateway made it, so what follows only guards against a bug */
    size_t sub_len = bin[1];
    if (2 + sub_len + 1 > body)
        return OB_ERR_INVALID_ARGUMENT;
    size_t topic_len = bin[2 + sub_len];
    size_t at = 2 + sub_len + 1;
    if (at + topic_len + 8 + 4 != body)
        return OB_ERR_INVALID_ARGUMENT;
    const char *sub = (const char *)bin + 2, *topic = (const char *)bin + at;
    uint64_t seq = s_get_be(bin + at + topic_len, 8);
    uint32_t attempt = (uint32_t)s_get_be(bin + at + topic_len + 8, 4);
    if (!s_sub_valid(sub, sub_len) || !ob_topic_valid(topic, topic_len) || seq == 0 || attempt == 0)
        return OB_ERR_INVALID_ARGUMENT;
    memcpy(ret_handle->sub, sub, sub_len);
    ret_handle->sub[sub_len] = '\0';
    memcpy(ret_handle->topic, topic, topic_len);
    ret_handle->topic[topic_len] = '\0';
    ret_handle->seq = seq;
    ret_handle->attempt = attempt;
    return 0;
}
