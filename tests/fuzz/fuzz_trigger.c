/*  fuzz_trigger: the trigger request parser (gateway/trigger.h) on arbitrary requests. The
    input is split at NUL bytes into: the path, the Authorization header, the query's
    authorization value, the Content-Type, and the body (the rest, NULs included); a missing
    part is absent (NULL). The first byte picks the method (GET, POST, PUT or DELETE).

    Properties checked beyond "no crash, no leak, no over-read":
    - every refusal is one of the documented codes;
    - accepted credentials respect the caps, the user holds no ':', and they check against
      themselves (ob_trigger_check) and not against a different password;
    - the credentials re-encoded in Base64 in a header parse back to the same ones;
    - an accepted path names an id from 1 to OB_GW_OMS_ID_MAX. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "orderbus/error.h"
#include "trigger.h"

#define S_PARTS 4 /* NUL-terminated parts before the body */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    if (size == 0)
        return 0;
    const char *method = methods[data[0] % 4];
    char *copy = malloc(size);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, size - 1);
    size_t len = size - 1;
    const char *parts[S_PARTS] = {NULL, NULL, NULL, NULL};
    size_t pos = 0;
    for (size_t p = 0; p < S_PARTS && pos < len; p++) {
        char *nul = memchr(copy + pos, '\0', len - pos);
        if (!nul)
            break;
        parts[p] = copy + pos;
        pos = (size_t)(nul - copy) + 1;
    }
    const char *body = pos < len && parts[S_PARTS - 1] ? copy + pos : NULL;
    size_t body_len = body ? len - pos : 0;

    uint64_t id = 0;
    if (parts[0]) {
        int rc = ob_trigger_path(parts[0], &id);
        s_require(rc == 0 || rc == OB_ERR_INVALID_ARGUMENT || rc == OB_ERR_FIELD_TYPE);
        s_require(rc || (id >= 1 && id <= OB_GW_OMS_ID_MAX));
    }
    ob_trigger_request_t req = {.method = method,
                                .header = parts[1] && parts[1][0] ? parts[1] : NULL,
                                .query = parts[2] && parts[2][0] ? parts[2] : NULL,
                                .content_type = parts[3] && parts[3][0] ? parts[3] : NULL,
                                .body = body,
                                .body_len = body_len};
    ob_trigger_creds_t creds;
    int rc = ob_trigger_credentials(&req, &creds);
    s_require(rc == 0 || rc == OB_ERR_MISSING_FIELD || rc == OB_ERR_MALFORMED ||
              rc == OB_ERR_TOO_LARGE || rc == -ENOMEM);
    if (rc == 0) {
        s_require(strlen(creds.user) <= OB_GW_USER_MAX && !strchr(creds.user, ':'));
        s_require(strlen(creds.password) <= OB_GW_SECRET_MAX);
        s_require(ob_trigger_check(&creds, creds.user, creds.password) == 1);
        s_require(ob_trigger_check(&creds, creds.user, "") == (creds.password[0] == '\0'));
        char plain[OB_GW_USER_MAX + OB_GW_SECRET_MAX + 2];
        int n = snprintf(plain, sizeof plain, "%s:%s", creds.user, creds.password);
        char *b64 = ob_base64_encode(plain, (size_t)n);
        if (b64 && strlen(b64) + 7 <= OB_GW_TRIGGER_AUTH_MAX) {
            char header[OB_GW_TRIGGER_AUTH_MAX + 1];
            snprintf(header, sizeof header, "Basic %s", b64);
            ob_trigger_request_t again = {.method = "GET", .header = header};
            ob_trigger_creds_t back;
            s_require(ob_trigger_credentials(&again, &back) == 0);
            s_require(!strcmp(back.user, creds.user) && !strcmp(back.password, creds.password));
        }
        free(b64);
    }
    free(copy);
    return 0;
}
