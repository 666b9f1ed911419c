/*  ob_base64: see base64.h. */
#include "base64.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"

#define S_BITS 6           /* bits per character */
#define S_MASK 0x3f        /* one character's bits */
#define S_GROUP_CHARS 4    /* characters per group of 3 bytes */
#define S_GROUP_BYTES 3    /* bytes per group */
#define S_ALPHABET_SIZE 64 /* characters in an alphabet */
#define S_INVALID 0xff     /* s_value: not in the alphabet */
#define S_ALPHABET_STD 1   /* s_value: only in the standard alphabet */
#define S_ALPHABET_URL 2   /* s_value: only in the URL-safe alphabet */

static const char s_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Writes the text of len bytes at data with alphabet (64 characters), padding with '=' if
   pad, and a NUL, into out. Returns the characters written before the NUL. */
static size_t
s_encode_into(char *out, const uint8_t *data, size_t len, const char *alphabet, int pad)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += S_GROUP_BYTES) {
        size_t left = len - i;
        uint32_t v = (uint32_t)data[i] << 16;
        if (left > 1)
            v |= (uint32_t)data[i + 1] << 8;
        if (left > 2)
            v |= data[i + 2];
        out[o++] = alphabet[v >> 3 * S_BITS & S_MASK];
        out[o++] = alphabet[v >> 2 * S_BITS & S_MASK];
        if (left > 1)
            out[o++] = alphabet[v >> S_BITS & S_MASK];
        else if (pad)
            out[o++] = '=';
        if (left > 2)
            out[o++] = alphabet[v & S_MASK];
        else if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Encodes with alphabet (64 characters), padding with '=' if pad, into a new text. */
static char *
s_encode(const uint8_t *data, size_t len, const char *alphabet, int pad)
{
    if (len > (SIZE_MAX - 1) / S_GROUP_CHARS * S_GROUP_BYTES - S_GROUP_BYTES)
        return NULL; /* its text would not fit in a size_t */
    char *out = malloc(OB_BASE64_LEN(len) + 1);
    if (out)
        s_encode_into(out, data, len, alphabet, pad);
    return out;
}

size_t
ob_base64_encode_into(char *out, const void *data, size_t len)
{
    return s_encode_into(out, data, len, s_std, 1);
}

char *
ob_base64_encode(const void *data, size_t len)
{
    return s_encode(data, len, s_std, 1);
}

char *
ob_base64url_encode(const void *data, size_t len)
{
    return s_encode(data, len, s_url, 0);
}

size_t
ob_base64url_encode_into(char *out, const void *data, size_t len)
{
    return s_encode_into(out, data, len, s_url, 0);
}

/* Returns the value of c (0..63) and, in *ret_alphabets, the alphabets it belongs to (a bit
   set of S_ALPHABET_*), or S_INVALID. */
static unsigned
s_value(char c, unsigned *ret_alphabets)
{
    const char *std = memchr(s_std, c, S_ALPHABET_SIZE);
    const char *url = memchr(s_url, c, S_ALPHABET_SIZE);
    *ret_alphabets = (std ? S_ALPHABET_STD : 0) | (url ? S_ALPHABET_URL : 0);
    if (std)
        return (unsigned)(std - s_std);
    return url ? (unsigned)(url - s_url) : S_INVALID;
}

int
ob_base64_decode(const char *text, size_t len, uint8_t **ret_data, size_t *ret_len)
{
    /* Padding: absent, or complete (one or two '=' that end a multiple of 4). */
    size_t chars = len;
    if (len && len % S_GROUP_CHARS == 0 && text[len - 1] == '=') {
        chars--;
        if (text[len - 2] == '=')
            chars--;
    }
    if (chars % S_GROUP_CHARS == 1)
        return OB_ERR_INVALID_ARGUMENT; /* one character holds 6 bits: less than a byte */
    uint8_t *out = malloc(chars / S_GROUP_CHARS * S_GROUP_BYTES + S_GROUP_BYTES);
    if (!out)
        return -ENOMEM;
    unsigned alphabets = S_ALPHABET_STD | S_ALPHABET_URL; /* those every character fits */
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < chars; i++) {
        unsigned in = 0;
        unsigned v = s_value(text[i], &in);
        alphabets &= in;
        if (v == S_INVALID || !alphabets)
            goto fail;           /* also a '=' before the end, and a mix of '+' and '-' */
        acc = acc << S_BITS | v; /* only the low bits + S_BITS matter: wrapping is fine */
        bits += S_BITS;
        if (bits >= CHAR_BIT) {
            bits -= CHAR_BIT;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        goto fail; /* the last character's unused bits must be zero */
    out[o] = '\0';
    *ret_data = out;
    *ret_len = o;
    return 0;
fail:
    free(out);
    return OB_ERR_INVALID_ARGUMENT;
}
