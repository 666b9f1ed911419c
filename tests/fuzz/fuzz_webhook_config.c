/*  fuzz_webhook_config: orderbus-webhook's parsers of outside input (adapters/webhook/): its
    configuration file (wh_config.h), a secret file (wh_sign.h) and a receiver's Retry-After
    value (wh_answer.h). The first byte picks the parser (its value modulo 3), the rest is
    its input:
        0  a ZPL file, written to a scratch file (one per process, in /dev/shm, or /tmp
           without it), run as `orderbus-webhook --config FILE`; czmq prints ZPL syntax errors
           on stdout (-close_fd_mask=1 silences them)
        1  the text of a secret file
        2  a Retry-After value, with the current time and the cap taken from the input's
           length (so that the corpus reaches both sides of the RFC 850 century pivot)

    Properties checked beyond the sanitizers':
    - config: a failure is OB_ERR_INVALID_ARGUMENT with a non-empty message; an accepted
      configuration holds 1..OB_WH_TARGETS_MAX targets, each with a valid distinct name, an
      http(s) URL, a secret file, 1..16 valid patterns and 0..32 valid types, its numbers in
      range, and validates again to the same lists;
    - secrets: only the documented codes; an accepted file holds 1..OB_WH_SECRETS_MAX keys of
      24..64 bytes, each of which, written back as whsec_ and base64, parses to itself, and
      which sign (a header of one v1 token per key);
    - Retry-After: only 0 or OB_ERR_INVALID_ARGUMENT; a delay never over the cap; a value of
      digits alone is accepted, and is the number of seconds (capped). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/pattern.h"
#include "wh_answer.h"
#include "wh_body.h"
#include "wh_config.h"
#include "wh_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_NOW_BASE 1700000000 /* 2023-11-14: the Retry-After clock, plus a part of the input */
#define S_NOW_SPAN 3000000000 /* seconds over which the clock moves (to 2118) */

static char s_path[64];       /* the scratch ZPL file, "" until the first input */
static ob_wh_config_t s_cfg;  /* large: not on the stack */
static ob_wh_config_t s_copy; /* validated again */

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

static void
s_cleanup(void)
{
    if (s_path[0])
        unlink(s_path);
}

static void
s_write_file(const uint8_t *text, size_t len)
{
    if (!s_path[0]) {
        snprintf(s_path, sizeof s_path, "%s/ob-fuzz-webhook-%ld.cfg",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
        atexit(s_cleanup);
    }
    FILE *file = fopen(s_path, "wb");
    s_require(file != NULL);
    s_require(len == 0 || fwrite(text, 1, len, file) == len);
    s_require(fclose(file) == 0);
}

static void
s_config(const uint8_t *data, size_t size)
{
    s_write_file(data, size);
    char prog[] = "orderbus-webhook", flag[] = "--config";
    char *argv[] = {prog, flag, s_path, NULL};
    char err[OB_WH_CONFIG_ERR_MAX] = "";
    int rc = ob_wh_config_parse(&s_cfg, 3, argv, err, sizeof err);
    if (rc) {
        s_require(rc == OB_ERR_INVALID_ARGUMENT);
        s_require(err[0] && strnlen(err, sizeof err) < sizeof err);
        return;
    }
    s_require(s_cfg.target_count >= 1 && s_cfg.target_count <= OB_WH_TARGETS_MAX);
    for (size_t i = 0; i < s_cfg.target_count; i++) {
        const ob_wh_target_t *t = &s_cfg.target[i];
        s_require(ob_wh_target_valid(t->name));
        for (size_t j = 0; j < i; j++)
            s_require(strcmp(t->name, s_cfg.target[j].name) != 0);
        s_require(!strncmp(t->url, "http://", 7) || !strncmp(t->url, "https://", 8));
        s_require(t->secret_file[0] != '\0');
        s_require(t->pattern_count >= 1 && t->pattern_count <= OB_SUB_PATTERNS_MAX);
        for (size_t p = 0; p < t->pattern_count; p++)
            s_require(ob_pattern_valid(t->patterns[p], strlen(t->patterns[p])));
        s_require(t->type_count <= OB_SUB_TYPES_MAX);
        for (size_t p = 0; p < t->type_count; p++)
            s_require(ob_event_type_valid(t->types[p], strlen(t->types[p])));
        s_require(t->timeout_ms >= OB_WH_TIMEOUT_MS_MIN && t->timeout_ms <= OB_WH_TIMEOUT_MS_MAX);
        s_require(t->max_attempts <= OB_MAX_ATTEMPTS_MAX);
        s_require(t->backoff_ms >= OB_WH_BACKOFF_MS_MIN && t->backoff_ms <= t->backoff_max_ms &&
                  t->backoff_max_ms <= OB_WH_BACKOFF_MAX_MS_MAX);
    }
    memcpy(&s_copy, &s_cfg, sizeof s_copy);
    s_require(ob_wh_config_validate(&s_copy, err, sizeof err) == 0);
    s_require(memcmp(&s_copy, &s_cfg, sizeof s_copy) == 0);
}

static void
s_secrets(const uint8_t *data, size_t size)
{
    ob_wh_secrets_t secrets;
    int rc = ob_wh_secrets_parse((const char *)data, size, &secrets);
    s_require(rc == 0 || rc == OB_ERR_TOO_LARGE || rc == OB_ERR_MISSING_FIELD ||
              rc == OB_ERR_INVALID_ARGUMENT || rc == -ENOMEM);
    if (rc)
        return;
    s_require(secrets.count >= 1 && secrets.count <= OB_WH_SECRETS_MAX);
    for (size_t k = 0; k < secrets.count; k++) {
        s_require(secrets.len[k] >= OB_WH_SECRET_BYTES_MIN &&
                  secrets.len[k] <= OB_WH_SECRET_BYTES_MAX);
        char *b64 = ob_base64_encode(secrets.key[k], secrets.len[k]);
        if (!b64)
            continue;
        char text[OB_WH_SECRET_TEXT_MAX + 1];
        int n = snprintf(text, sizeof text, "%s%s", OB_WH_SECRET_PREFIX, b64);
        free(b64);
        uint8_t key[OB_WH_SECRET_BYTES_MAX];
        size_t len = 0;
        s_require(ob_wh_secret_parse(text, (size_t)n, key, &len) == 0);
        s_require(len == secrets.len[k] && !memcmp(key, secrets.key[k], len));
    }
    char sig[OB_WH_SIGNATURE_TEXT];
    s_require(ob_wh_sign(&secrets, "ob_fuzz", 1, data, size, sig) == 0);
    s_require(strlen(sig) == secrets.count * (OB_WH_SIG_TOKEN + 1) - 1);
    ob_wh_secrets_wipe(&secrets);
}

static void
s_retry_after(const uint8_t *data, size_t size)
{
    int64_t now = S_NOW_BASE + (int64_t)(size * 7919u % S_NOW_SPAN);
    uint64_t cap = 1 + (uint64_t)size * 1000u;
    uint64_t ms = UINT64_MAX;
    int rc = ob_wh_retry_after((const char *)data, size, now, cap, &ms);
    s_require(rc == 0 || rc == OB_ERR_INVALID_ARGUMENT);
    s_require(rc || ms <= cap);
    s_require(!rc || ms == UINT64_MAX);
    int digits = size > 0 && size <= OB_WH_RETRY_AFTER_TEXT_MAX;
    uint64_t seconds = 0;
    for (size_t i = 0; digits && i < size; i++) {
        digits = data[i] >= '0' && data[i] <= '9';
        if (seconds < UINT64_MAX / 100)
            seconds = seconds * 10 + (uint64_t)(data[i] - '0');
    }
    if (digits) {
        s_require(rc == 0);
        uint64_t want = seconds > cap / 1000 ? cap : seconds * 1000;
        s_require(ms == (want < cap ? want : cap));
    }
    ob_wh_policy_t policy = {3, 1000, cap};
    ob_wh_answer_t answer = {503, (const char *)data, size};
    ob_wh_decision_t decision;
    ob_wh_decide(&policy, 1, &answer, now, (uint32_t)size, &decision);
    s_require(decision.verdict == OB_WH_RETRY && decision.delay_ms <= cap);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        s_config(data + 1, size - 1);
        break;
    case 1:
        s_secrets(data + 1, size - 1);
        break;
    default:
        s_retry_after(data + 1, size - 1);
        break;
    }
    return 0;
}
