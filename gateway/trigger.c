/*  ob_trigger: see trigger.h. */
#include "trigger.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "orderbus/error.h"

#define S_FIELD "authorization" /* the query or form field the Marketplace sends */
#define S_SCHEME "Basic"        /* the only scheme */
#define S_FORM "application/x-www-form-urlencoded"
#define S_DIGITS_MAX 19                     /* digits of OB_GW_OMS_ID_MAX */
#define S_TAG "orderbus.gateway.trigger.v1" /* domain of the comparison hash */

int
ob_trigger_path(const char *path, uint64_t *ret_oms_id)
{
    size_t prefix = strlen(OB_TRIGGER_PREFIX);
    if (strncmp(path, OB_TRIGGER_PREFIX, prefix))
        return OB_ERR_INVALID_ARGUMENT;
    const char *digits = path + prefix;
    size_t len = strlen(digits);
    if (len == 0 || len > S_DIGITS_MAX || digits[0] == '0')
        return OB_ERR_FIELD_TYPE;
    uint64_t id = 0;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return OB_ERR_FIELD_TYPE;
        id = id * 10 + (uint64_t)(digits[i] - '0'); /* 19 digits cannot overflow a u64 */
    }
    if (id > OB_GW_OMS_ID_MAX)
        return OB_ERR_FIELD_TYPE;
    *ret_oms_id = id;
    return 0;
}

/* The value of hex digit c, or -1. */
static int
s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Form-decodes the len bytes at text ('+' is a space, %XX a byte) into out (at least len + 1
   bytes), NUL-terminated. Returns the decoded length, or -1 (a bad escape or a NUL). */
static long
s_form_decode(const char *text, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '+')
            c = ' ';
        else if (c == '%') {
            if (len - i < 3)
                return -1;
            int hi = s_hex(text[i + 1]), lo = s_hex(text[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0')
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Finds the authorization field of the form body (len bytes at body) and writes its decoded
   value into out (OB_GW_TRIGGER_AUTH_MAX + 1 bytes). Returns 0, OB_ERR_MISSING_FIELD,
   OB_ERR_MALFORMED or OB_ERR_TOO_LARGE. The first such field counts. */
static int
s_form_field(const char *body, size_t len, char *out)
{
    char key[sizeof S_FIELD + 1];
    size_t pos = 0;
    while (pos < len) {
        const char *pair = body + pos;
        const char *amp = memchr(pair, '&', len - pos);
        size_t pair_len = amp ? (size_t)(amp - pair) : len - pos;
        pos += pair_len + 1;
        const char *eq = memchr(pair, '=', pair_len);
        size_t key_len = eq ? (size_t)(eq - pair) : pair_len;
        if (key_len > 3 * (sizeof S_FIELD - 1))
            continue; /* longer than any encoding of the name */
        char decoded[3 * sizeof S_FIELD];
        long got = s_form_decode(pair, key_len, decoded);
        if (got < 0)
            return OB_ERR_MALFORMED;
        if ((size_t)got >= sizeof key || strcmp(decoded, S_FIELD))
            continue;
        if (!eq)
            return OB_ERR_MALFORMED;
        size_t value_len = pair_len - key_len - 1;
        if (value_len > 3 * OB_GW_TRIGGER_AUTH_MAX)
            return OB_ERR_TOO_LARGE;
        char *value = malloc(value_len + 1);
        if (!value)
            return -ENOMEM;
        got = s_form_decode(eq + 1, value_len, value);
        int rc = got < 0                                ? OB_ERR_MALFORMED
                 : (size_t)got > OB_GW_TRIGGER_AUTH_MAX ? OB_ERR_TOO_LARGE
                                                        : 0;
        if (!rc)
            memcpy(out, value, (size_t)got + 1);
        free(value);
        return rc;
    }
    return OB_ERR_MISSING_FIELD;
}

/* Decodes "Basic <base64>" (value, NUL-terminated) into *ret_creds. Returns 0,
   OB_ERR_MALFORMED or OB_ERR_TOO_LARGE. */
static int
s_basic(const char *value, ob_trigger_creds_t *ret_creds)
{
    size_t len = strlen(value);
    size_t scheme = strlen(S_SCHEME);
    if (len > OB_GW_TRIGGER_AUTH_MAX)
        return OB_ERR_TOO_LARGE;
    if (len <= scheme || strncasecmp(value, S_SCHEME, scheme) || value[scheme] != ' ')
        return OB_ERR_MALFORMED;
    const char *token = value + scheme;
    while (*token == ' ')
        token++;
    char text[OB_GW_TRIGGER_AUTH_MAX + 1];
    size_t token_len = strlen(token);
    for (size_t i = 0; i < token_len; i++)
        text[i] = token[i] == ' ' ? '+' : token[i];
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = ob_base64_decode(text, token_len, &plain, &plain_len);
    if (rc)
        return rc == -ENOMEM ? rc : OB_ERR_MALFORMED;
    const char *colon = memchr(plain, ':', plain_len);
    if (!colon || memchr(plain, '\0', plain_len)) {
        rc = OB_ERR_MALFORMED;
        goto out;
    }
    size_t user_len = (size_t)(colon - (const char *)plain);
    size_t password_len = plain_len - user_len - 1;
    if (user_len > OB_GW_USER_MAX || password_len > OB_GW_SECRET_MAX) {
        rc = OB_ERR_TOO_LARGE;
        goto out;
    }
    memcpy(ret_creds->user, plain, user_len);
    ret_creds->user[user_len] = '\0';
    memcpy(ret_creds->password, colon + 1, password_len);
    ret_creds->password[password_len] = '\0';
out:
    sodium_memzero(plain, plain_len);
    free(plain);
    return rc;
}

/* 1 if the form body of req may carry the credentials. */
static int
s_has_form(const ob_trigger_request_t *req)
{
    if (!req->body || !req->method || (strcmp(req->method, "POST") && strcmp(req->method, "PUT")))
        return 0;
    /* Faraday sends the form type; a body without a Content-Type is read as a form too. */
    return !req->content_type || !strncasecmp(req->content_type, S_FORM, strlen(S_FORM));
}

int
ob_trigger_credentials(const ob_trigger_request_t *req, ob_trigger_creds_t *ret_creds)
{
    ob_trigger_creds_t creds;
    int rc = 0;
    if (req->header)
        rc = s_basic(req->header, &creds);
    else if (req->query)
        rc = s_basic(req->query, &creds);
    else if (s_has_form(req)) {
        if (req->body_len > OB_GW_TRIGGER_BODY_MAX)
            return OB_ERR_TOO_LARGE;
        char value[OB_GW_TRIGGER_AUTH_MAX + 1];
        if ((rc = s_form_field(req->body, req->body_len, value)))
            return rc;
        rc = s_basic(value, &creds);
        sodium_memzero(value, sizeof value);
    } else
        return OB_ERR_MISSING_FIELD;
    if (!rc)
        *ret_creds = creds;
    sodium_memzero(&creds, sizeof creds);
    return rc;
}

/* BLAKE2b-256 of tag, user, ':' and password into out. */
static void
s_digest(const char *user, const char *password, uint8_t out[OB_GW_DIGEST_LEN])
{
    crypto_generichash_state state;
    crypto_generichash_init(&state, NULL, 0, OB_GW_DIGEST_LEN);
    crypto_generichash_update(&state, (const uint8_t *)S_TAG, sizeof S_TAG);
    crypto_generichash_update(&state, (const uint8_t *)user, strlen(user));
    crypto_generichash_update(&state, (const uint8_t *)":", 1);
    crypto_generichash_update(&state, (const uint8_t *)password, strlen(password));
    crypto_generichash_final(&state, out, OB_GW_DIGEST_LEN);
}

int
ob_trigger_check(const ob_trigger_creds_t *given, const char *user, const char *password)
{
    uint8_t a[OB_GW_DIGEST_LEN], b[OB_GW_DIGEST_LEN];
    s_digest(given->user, given->password, a);
    s_digest(user, password, b);
    /* Two strings that hash alike differ only in where the ':' goes: a user never holds
       one (gw_config refuses it, and the parser splits at the first). */
    return sodium_memcmp(a, b, OB_GW_DIGEST_LEN) == 0;
}
