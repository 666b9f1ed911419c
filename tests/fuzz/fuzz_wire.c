/*  fuzz_wire: ob_wire_decode on arbitrary bytes, the first 4 (or fewer) taken as the header
    frame and the rest as the body frame.

    Properties checked beyond the sanitizers':
    - a refusal is one of the codes wire.h documents, and ret_msg->command holds the command
      exactly when the header was valid;
    - whatever decodes re-encodes (header and body) and decodes again to the same message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (which the fuzzer reports with the input) unless cond holds. */
static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Returns 1 if two decoded messages hold the same fields. */
static int
s_msg_same(const ob_wire_msg_t *a, const ob_wire_msg_t *b)
{
    return a->command == b->command && a->req == b->req && a->seq == b->seq && a->dup == b->dup &&
           a->code == b->code && a->heartbeat_ms == b->heartbeat_ms &&
           a->max_event == b->max_event && strcmp(a->name, b->name) == 0 &&
           strcmp(a->reason, b->reason) == 0 && strcmp(a->session, b->session) == 0 &&
           strcmp(a->version, b->version) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t header_len = size < OB_HEADER_SIZE ? size : OB_HEADER_SIZE;
    const uint8_t *body = data + header_len;
    size_t body_len = size - header_len;
    ob_wire_msg_t msg;

    int rc = ob_wire_decode(data, header_len, body, body_len, &msg);
    if (rc) {
        s_require(rc == OB_ERR_SIGNATURE || rc == OB_ERR_VERSION || rc == OB_ERR_UNKNOWN_COMMAND ||
                  rc == OB_ERR_TOO_LARGE || rc == OB_ERR_TRUNCATED || rc == OB_ERR_MALFORMED ||
                  rc == OB_ERR_MISSING_FIELD || rc == OB_ERR_FIELD_TYPE || rc == -ENOMEM);
        int header_ok =
            rc != OB_ERR_SIGNATURE && rc != OB_ERR_VERSION && rc != OB_ERR_UNKNOWN_COMMAND;
        s_require(msg.command == (header_ok ? data[3] : 0));
        return 0;
    }

    /* Decoded strings are NUL-terminated within their arrays. */
    s_require(memchr(msg.name, 0, sizeof msg.name) && memchr(msg.reason, 0, sizeof msg.reason) &&
              memchr(msg.session, 0, sizeof msg.session) &&
              memchr(msg.version, 0, sizeof msg.version));

    uint8_t header[OB_HEADER_SIZE];
    uint8_t *out = malloc(OB_BODY_MAX);
    size_t out_len = 0;
    ob_wire_msg_t again;
    s_require(out != NULL);
    ob_wire_encode_header(&msg, header);
    s_require(memcmp(header, data, OB_HEADER_SIZE) == 0);
    s_require(ob_wire_encode_body(&msg, out, OB_BODY_MAX, &out_len) == 0);
    s_require(ob_wire_decode(header, sizeof header, out, out_len, &again) == 0);
    s_require(s_msg_same(&msg, &again));
    free(out);
    return 0;
}
