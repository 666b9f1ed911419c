/*  ob_wh_sign: Standard Webhooks signing. See wh_sign.h. */
#include "wh_sign.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_PREFIX_LEN (sizeof OB_WH_SECRET_PREFIX - 1)

int
ob_wh_secret_parse(const char *text, size_t len, uint8_t key[OB_WH_SECRET_BYTES_MAX],
                   size_t *ret_len)
{
    if (len <= S_PREFIX_LEN || len > OB_WH_SECRET_TEXT_MAX ||
        memcmp(text, OB_WH_SECRET_PREFIX, S_PREFIX_LEN))
        return OB_ERR_INVALID_ARGUMENT;
    const char *b64 = text + S_PREFIX_LEN;
    size_t b64_len = len - S_PREFIX_LEN;
    /* ob_base64_decode takes either alphabet; a secret is written in the standard one */
    for (size_t i = 0; i < b64_len; i++)
        if (b64[i] == '-' || b64[i] == '_')
            return OB_ERR_INVALID_ARGUMENT;
    uint8_t *bytes = NULL;
    size_t bytes_len = 0;
    int rc = ob_base64_decode(b64, b64_len, &bytes, &bytes_len);
    if (rc)
        return rc == -ENOMEM ? rc : OB_ERR_INVALID_ARGUMENT;
    if (bytes_len < OB_WH_SECRET_BYTES_MIN || bytes_len > OB_WH_SECRET_BYTES_MAX)
        rc = OB_ERR_INVALID_ARGUMENT;
    else {
        memcpy(key, bytes, bytes_len);
        *ret_len = bytes_len;
    }
    sodium_memzero(bytes, bytes_len);
    free(bytes);
    return rc;
}

int
ob_wh_secrets_parse(const char *text, size_t len, ob_wh_secrets_t *ret_secrets)
{
    if (len > OB_WH_SECRET_FILE_MAX)
        return OB_ERR_TOO_LARGE;
    if (memchr(text, '\0', len))
        return OB_ERR_INVALID_ARGUMENT;
    if (sodium_init() < 0)
        return -ENOMEM;
    ob_wh_secrets_t secrets;
    memset(&secrets, 0, sizeof secrets);
    int rc = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *newline = memchr(line, '\n', len - pos);
        size_t line_len = newline ? (size_t)(newline - line) : len - pos;
        pos += line_len + (newline ? 1 : 0);
        if (line_len && line[line_len - 1] == '\r')
            line_len--;
        if (line_len == 0 || line[0] == '#')
            continue;
        if (line_len > OB_WH_SECRET_TEXT_MAX || secrets.count == OB_WH_SECRETS_MAX) {
            rc = OB_ERR_TOO_LARGE;
            goto fail;
        }
        size_t key_len = 0;
        if ((rc = ob_wh_secret_parse(line, line_len, secrets.key[secrets.count], &key_len)))
            goto fail;
        secrets.len[secrets.count++] = key_len;
    }
    if (secrets.count == 0) {
        rc = OB_ERR_MISSING_FIELD;
        goto fail;
    }
    memcpy(ret_secrets, &secrets, sizeof secrets);
fail:
    sodium_memzero(&secrets, sizeof secrets);
    return rc;
}

void
ob_wh_secrets_wipe(ob_wh_secrets_t *secrets)
{
    sodium_memzero(secrets, sizeof *secrets);
}

int
ob_wh_id(const char *topic, const char *event_id, size_t event_id_len, char ret_id[OB_WH_ID_TEXT])
{
    if (!ob_topic_valid(topic, strlen(topic)))
        return OB_ERR_INVALID_TOPIC;
    if (event_id_len == 0 || event_id_len > OB_EVENT_ID_MAX)
        return OB_ERR_INVALID_EVENT;
    /* A topic holds no '\n' (ob_topic_valid): topic "\n" id names one (topic, id) pair. */
    crypto_hash_sha256_state state;
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, (const uint8_t *)topic, strlen(topic));
    crypto_hash_sha256_update(&state, (const uint8_t *)"\n", 1);
    crypto_hash_sha256_update(&state, (const uint8_t *)event_id, event_id_len);
    crypto_hash_sha256_final(&state, digest);
    memcpy(ret_id, OB_WH_ID_PREFIX, sizeof OB_WH_ID_PREFIX - 1);
    sodium_bin2hex(ret_id + sizeof OB_WH_ID_PREFIX - 1, 2 * OB_WH_ID_DIGEST + 1, digest,
                   OB_WH_ID_DIGEST);
    return 0;
}

/* Returns 1 if id (NUL-terminated) may be a webhook-id: 1..OB_WH_ID_TEXT - 1 bytes of
   printable ASCII without space or '.' (the separator of the signed content). */
static int
s_id_valid(const char *id)
{
    size_t len = strnlen(id, OB_WH_ID_TEXT);
    if (len == 0 || len == OB_WH_ID_TEXT)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= ' ' || id[i] > '~' || id[i] == '.')
            return 0;
    return 1;
}

void
ob_wh_mac(const uint8_t *key, size_t key_len, const char *msg_id, const char *stamp,
          const void *body, size_t body_len, uint8_t ret_mac[OB_WH_MAC_BYTES])
{
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key, key_len);
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)stamp, strlen(stamp));
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&state, body, body_len);
    crypto_auth_hmacsha256_final(&state, ret_mac);
    sodium_memzero(&state, sizeof state); /* it holds the padded key */
}

int
ob_wh_sign(const ob_wh_secrets_t *secrets, const char *msg_id, uint64_t timestamp, const void *body,
           size_t body_len, char ret_signature[OB_WH_SIGNATURE_TEXT])
{
    if (secrets->count == 0 || secrets->count > OB_WH_SECRETS_MAX || !s_id_valid(msg_id))
        return OB_ERR_INVALID_ARGUMENT;
    for (size_t k = 0; k < secrets->count; k++)
        if (secrets->len[k] < OB_WH_SECRET_BYTES_MIN || secrets->len[k] > OB_WH_SECRET_BYTES_MAX)
            return OB_ERR_INVALID_ARGUMENT;
    char stamp[OB_WH_TIMESTAMP_TEXT];
    snprintf(stamp, sizeof stamp, "%" PRIu64, timestamp);
    char text[OB_WH_SIGNATURE_TEXT];
    size_t pos = 0;
    for (size_t k = 0; k < secrets->count; k++) {
        uint8_t mac[OB_WH_MAC_BYTES];
        ob_wh_mac(secrets->key[k], secrets->len[k], msg_id, stamp, body, body_len, mac);
        if (k)
            text[pos++] = ' ';
        memcpy(text + pos, "v1,", 3);
        pos += 3;
        sodium_bin2base64(text + pos, OB_WH_MAC_B64 + 1, mac, sizeof mac,
                          sodium_base64_VARIANT_ORIGINAL);
        pos += OB_WH_MAC_B64;
    }
    text[pos] = '\0';
    memcpy(ret_signature, text, pos + 1);
    return 0;
}
