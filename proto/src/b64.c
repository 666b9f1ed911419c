/*  ob_json_b64: see b64.h. */
#include "b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
ob_json_b64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[o++] = s_b64[v >> 18 & 63];
        out[o++] = s_b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? s_b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? s_b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Returns the value of c in the alphabet, or -1. */
static int
s_b64_value(char c)
{
    const char *p = c ? strchr(s_b64, c) : NULL;
    return p ? (int)(p - s_b64) : -1;
}

int
ob_json_b64_decode(const char *text, size_t len, uint8_t **ret_buf, size_t *ret_len)
{
    if (len % 4)
        return OB_ERR_INVALID_EVENT;
    uint8_t *out = malloc(len / 4 * 3 + 1);
    if (!out)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = s_b64_value(c)) < 0) {
                free(out);
                return OB_ERR_INVALID_EVENT;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)w;
    }
    *ret_buf = out;
    *ret_len = o;
    return 0;
}
