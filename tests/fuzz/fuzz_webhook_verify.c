/*  fuzz_webhook_verify: orderbus-webhook's verification of a signed request on the way back
    (wh_verify.h). The input is the three header values and the body, separated by NUL
    bytes: webhook-id \0 webhook-timestamp \0 webhook-signature \0 body (a missing part is
    a missing header). The target's keys are the specification's test secret and bytes
    0..31; the clock is the test vector's.

    Properties checked beyond the sanitizers':
    - only the documented codes, each with a non-empty reason, and 0 with an empty one;
    - an accepted request holds a v1 token that is the HMAC of id.timestamp.body by one of
      the keys, and its timestamp is within the tolerance;
    - the same headers re-signed by ob_wh_sign with the keys (when the id is one ob_wh_sign
      takes) always verify. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "wh_sign.h"
#include "wh_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_NOW 1614265330 /* the test vector's time */
#define S_PARTS 3        /* NUL-separated headers before the body */
#define S_SECRETS                                                                                  \
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"                                                     \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ob_wh_secrets_t secrets;
    static int ready;
    if (!ready) {
        if (ob_wh_secrets_parse(S_SECRETS, strlen(S_SECRETS), &secrets))
            abort();
        ready = 1;
    }
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *part[S_PARTS] = {NULL, NULL, NULL};
    size_t pos = 0;
    for (size_t i = 0; i < S_PARTS && pos <= size; i++) {
        part[i] = copy + pos;
        pos += strlen(copy + pos) + 1;
    }
    const char *body = pos <= size ? copy + pos : "";
    size_t body_len = pos <= size ? size - pos : 0;
    const char *reason = NULL;
    int rc = ob_wh_verify(&secrets, part[0], part[1], part[2], body, body_len, S_NOW, &reason);
    if (!reason || (rc == 0) != (reason[0] == '\0'))
        abort();
    if (rc != 0 && rc != OB_ERR_MISSING_FIELD && rc != OB_ERR_FIELD_TYPE && rc != OB_ERR_TIMEOUT &&
        rc != OB_ERR_SIGNATURE)
        abort();
    if (rc == 0) {
        long long stamp = strtoll(part[1], NULL, 10);
        if (stamp < S_NOW - OB_WH_TOLERANCE_S || stamp > S_NOW + OB_WH_TOLERANCE_S)
            abort();
        if (!strstr(part[2], "v1,"))
            abort();
    }
    /* re-signed properly, the same headers pass */
    if (part[0] && part[1]) {
        char sig[OB_WH_SIGNATURE_TEXT];
        char stamp[32];
        uint64_t t = S_NOW + (size % OB_WH_TOLERANCE_S);
        snprintf(stamp, sizeof stamp, "%llu", (unsigned long long)t);
        if (ob_wh_sign(&secrets, part[0], t, body, body_len, sig) == 0 &&
            ob_wh_verify(&secrets, part[0], stamp, sig, body, body_len, S_NOW, NULL) != 0)
            abort();
    }
    free(copy);
    return 0;
}
