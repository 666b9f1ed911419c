/*  ob_wh_verify: Standard Webhooks verification. See wh_verify.h. */
#include "wh_verify.h"

#include <sodium.h>
#include <string.h>

#include "orderbus/error.h"

#define S_V1 "v1,"                 /* the only version verified */
#define S_V1_LEN (sizeof S_V1 - 1) /* its bytes */
#define S_STAMP_DIGITS_MAX 18      /* decimal digits of a timestamp: no overflow of an int64_t */
#define S_DECIMAL 10               /* the timestamp's base */

/* Sets *ret_reason and returns rc. */
static int
s_fail(const char **ret_reason, int rc, const char *reason)
{
    if (ret_reason)
        *ret_reason = reason;
    return rc;
}

/* Reads a timestamp: 1..S_STAMP_DIGITS_MAX decimal digits, nothing else. Returns 0 or -1. */
static int
s_stamp(const char *text, int64_t *ret_value)
{
    size_t len = strnlen(text, S_STAMP_DIGITS_MAX + 1);
    if (len == 0 || len > S_STAMP_DIGITS_MAX)
        return -1;
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * S_DECIMAL + (text[i] - '0');
    }
    *ret_value = value;
    return 0;
}

/* Returns 1 if id is 1..OB_WH_IN_ID_MAX bytes of printable ASCII without a space. */
static int
s_id_valid(const char *id)
{
    size_t len = strnlen(id, OB_WH_IN_ID_MAX + 1);
    if (len == 0 || len > OB_WH_IN_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] <= ' ' || id[i] > '~')
            return 0;
    return 1;
}

int
ob_wh_verify(const ob_wh_secrets_t *secrets, const char *msg_id, const char *timestamp,
             const char *signature, const void *body, size_t body_len, int64_t now_s,
             const char **ret_reason)
{
    if (!msg_id)
        return s_fail(ret_reason, OB_ERR_MISSING_FIELD, "no webhook-id header");
    if (!timestamp)
        return s_fail(ret_reason, OB_ERR_MISSING_FIELD, "no webhook-timestamp header");
    if (!signature)
        return s_fail(ret_reason, OB_ERR_MISSING_FIELD, "no webhook-signature header");
    if (!s_id_valid(msg_id))
        return s_fail(ret_reason, OB_ERR_FIELD_TYPE,
                      "webhook-id: not 1 to 255 bytes of printable ASCII without spaces");
    int64_t stamp = 0;
    if (s_stamp(timestamp, &stamp))
        return s_fail(ret_reason, OB_ERR_FIELD_TYPE,
                      "webhook-timestamp: not Unix seconds in decimal");
    size_t sig_len = strnlen(signature, OB_WH_IN_SIGNATURE_MAX + 1);
    if (sig_len > OB_WH_IN_SIGNATURE_MAX)
        return s_fail(ret_reason, OB_ERR_FIELD_TYPE, "webhook-signature: too long");
    if (stamp < now_s - OB_WH_TOLERANCE_S)
        return s_fail(ret_reason, OB_ERR_TIMEOUT,
                      "webhook-timestamp: older than the tolerance (5 minutes)");
    if (stamp > now_s + OB_WH_TOLERANCE_S)
        return s_fail(ret_reason, OB_ERR_TIMEOUT,
                      "webhook-timestamp: in the future beyond the tolerance (5 minutes)");
    if (secrets->count == 0 || secrets->count > OB_WH_SECRETS_MAX)
        return s_fail(ret_reason, OB_ERR_SIGNATURE, "webhook-signature: no key to check it");

    /* The MAC of each key over id.timestamp.body, made once. */
    uint8_t macs[OB_WH_SECRETS_MAX][OB_WH_MAC_BYTES];
    for (size_t k = 0; k < secrets->count; k++)
        ob_wh_mac(secrets->key[k], secrets->len[k], msg_id, timestamp, body, body_len, macs[k]);
    int match = 0;
    const char *p = signature, *end = signature + sig_len;
    while (p < end) {
        size_t n = strcspn(p, " ");
        if (n > S_V1_LEN && !memcmp(p, S_V1, S_V1_LEN)) {
            uint8_t mac[OB_WH_MAC_BYTES];
            size_t mac_len = 0;
            if (sodium_base642bin(mac, sizeof mac, p + S_V1_LEN, n - S_V1_LEN, NULL, &mac_len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) == 0 &&
                mac_len == sizeof mac)
                for (size_t k = 0; k < secrets->count; k++)
                    match |= sodium_memcmp(mac, macs[k], sizeof mac) == 0;
        }
        p += n;
        p += strspn(p, " ");
    }
    sodium_memzero(macs, sizeof macs);
    if (!match)
        return s_fail(ret_reason, OB_ERR_SIGNATURE,
                      "webhook-signature: no v1 signature matches a secret of the target");
    return s_fail(ret_reason, 0, "");
}
