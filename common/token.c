/*  ob_token: see token.h. */
#include "token.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base64.h"
#include "orderbus/error.h"

/* Returns 1 if c is a base64url character. */
static int
s_b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int
ob_token_generate(char ret_token[OB_TOKEN_TEXT])
{
    if (sodium_init() < 0)
        return -EIO;
    uint8_t raw[OB_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    char *text = ob_base64url_encode(raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    if (!text)
        return -ENOMEM;
    memcpy(ret_token, OB_TOKEN_PREFIX, OB_TOKEN_PREFIX_LEN);
    memcpy(ret_token + OB_TOKEN_PREFIX_LEN, text, OB_TOKEN_B64_LEN + 1);
    sodium_memzero(text, OB_TOKEN_B64_LEN);
    free(text);
    return 0;
}

int
ob_token_valid(const char *text, size_t len)
{
    if (!text || len != OB_TOKEN_LEN || memcmp(text, OB_TOKEN_PREFIX, OB_TOKEN_PREFIX_LEN))
        return 0;
    for (size_t i = OB_TOKEN_PREFIX_LEN; i < len; i++)
        if (!s_b64url_char(text[i]))
            return 0;
    return 1;
}

int
ob_token_hash(const char *text, size_t len, uint8_t ret_hash[OB_TOKEN_HASH_BYTES])
{
    if (!ob_token_valid(text, len))
        return OB_ERR_INVALID_ARGUMENT;
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, OB_TOKEN_HASH_BYTES);
    crypto_generichash_update(&state, (const unsigned char *)OB_TOKEN_DOMAIN,
                              sizeof OB_TOKEN_DOMAIN);
    crypto_generichash_update(&state, (const unsigned char *)text, len);
    crypto_generichash_final(&state, ret_hash, OB_TOKEN_HASH_BYTES);
    sodium_memzero(&state, sizeof state);
    return 0;
}

void
ob_token_hash_format(const uint8_t hash[OB_TOKEN_HASH_BYTES], char ret_text[OB_TOKEN_HASH_TEXT])
{
    sodium_bin2hex(ret_text, OB_TOKEN_HASH_TEXT, hash, OB_TOKEN_HASH_BYTES);
}

int
ob_token_hash_parse(const char *text, uint8_t ret_hash[OB_TOKEN_HASH_BYTES])
{
    if (!text || strnlen(text, OB_TOKEN_HASH_HEX + 1) != OB_TOKEN_HASH_HEX)
        return OB_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < OB_TOKEN_HASH_HEX; i++)
        if (!((text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f')))
            return OB_ERR_INVALID_ARGUMENT;
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    size_t bin_len = 0;
    if (sodium_hex2bin(hash, sizeof hash, text, OB_TOKEN_HASH_HEX, NULL, &bin_len, NULL) != 0 ||
        bin_len != OB_TOKEN_HASH_BYTES)
        return OB_ERR_INVALID_ARGUMENT;
    memcpy(ret_hash, hash, sizeof hash);
    return 0;
}
