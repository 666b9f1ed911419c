/*  fuzz_base64: the daemons' base64 decoder (common/base64.h) on arbitrary text, as an HTTP
    body or a header could carry it.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is OB_ERR_INVALID_ARGUMENT (or -ENOMEM) and leaves the outputs alone;
    - the decoder is strict, so an accepted text is the one encoding of its bytes: the text
      with the URL-safe characters mapped to the standard ones and its padding completed is
      exactly ob_base64_encode of the bytes decoded; and ob_base64url_encode of them is the
      text mapped the other way without its padding. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "orderbus/error.h"

#define S_GROUP_CHARS 4 /* characters per group of 3 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Writes text (len bytes) into out with '-' '_' as '+' '/' (to_std) or the reverse, without
   its '=' padding; pads to a multiple of 4 if pad. Returns the length written. */
static size_t
s_normalize(const char *text, size_t len, int to_std, int pad, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len && text[i] != '='; i++) {
        char c = text[i];
        if (to_std)
            c = c == '-' ? '+' : c == '_' ? '/' : c;
        else
            c = c == '+' ? '-' : c == '/' ? '_' : c;
        out[o++] = c;
    }
    while (pad && o % S_GROUP_CHARS)
        out[o++] = '=';
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    uint8_t *bytes = (uint8_t *)&bytes; /* a sentinel: must stay as it is on error */
    size_t len = (size_t)-1;
    int rc = ob_base64_decode(text, size, &bytes, &len);
    if (rc) {
        s_require(rc == OB_ERR_INVALID_ARGUMENT || rc == -ENOMEM);
        s_require(bytes == (uint8_t *)&bytes && len == (size_t)-1);
        return 0;
    }
    s_require(len <= size / S_GROUP_CHARS * 3 + 2);
    char *std = ob_base64_encode(bytes, len);
    char *url = ob_base64url_encode(bytes, len);
    char *expect = malloc(size + S_GROUP_CHARS);
    s_require(std && url && expect);
    size_t n = s_normalize(text, size, 1, 1, expect);
    s_require(n == strlen(std) && !memcmp(expect, std, n));
    n = s_normalize(text, size, 0, 0, expect);
    s_require(n == strlen(url) && !memcmp(expect, url, n));
    free(expect);
    free(std);
    free(url);
    free(bytes);
    return 0;
}
