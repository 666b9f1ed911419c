/*  fuzz_wire: ob_wire_decode on arbitrary bytes, the first 4 (or fewer) taken as the header
    frame and the rest as the body frame.

    Properties checked beyond the sanitizers':
    - a refusal is one of the codes wire.h documents, and ret_msg->command holds the command
      exactly when the header was valid;
    - decoded strings are terminated in their arrays, counts within their caps, and an OK's
      result lies inside the body;
    - whatever decodes re-encodes (header and body) and decodes again to the same message,
      an OK's result to the same bytes. */
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

/* A CONFIRM's or DELIVER's count: 0 (absent) and 1 both mean one, and the encoder writes
   neither. */
static uint32_t
s_count(const ob_wire_msg_t *msg)
{
    return msg->count > 1 ? msg->count : 1;
}

/* Returns 1 if two decoded messages hold the same fields (result: the same bytes). */
static int
s_msg_same(const ob_wire_msg_t *a, const ob_wire_msg_t *b)
{
    if (!(a->command == b->command && a->req == b->req && a->seq == b->seq && a->dup == b->dup &&
          s_count(a) == s_count(b) && a->max_run == b->max_run && a->code == b->code &&
          a->heartbeat_ms == b->heartbeat_ms && a->max_event == b->max_event &&
          strcmp(a->name, b->name) == 0 && strcmp(a->reason, b->reason) == 0 &&
          strcmp(a->session, b->session) == 0 && strcmp(a->version, b->version) == 0))
        return 0;
    if (!(strcmp(a->sub, b->sub) == 0 && a->pattern_count == b->pattern_count &&
          a->type_count == b->type_count && a->start == b->start && a->start_seq == b->start_seq &&
          a->start_time == b->start_time && a->credit == b->credit &&
          a->ack_wait_ms == b->ack_wait_ms && a->max_attempts == b->max_attempts &&
          a->backoff_ms == b->backoff_ms && a->created == b->created &&
          strcmp(a->topic, b->topic) == 0 && a->attempt == b->attempt && a->time == b->time &&
          a->skipped == b->skipped && a->upto == b->upto && a->delay_ms == b->delay_ms &&
          strcmp(a->after, b->after) == 0 && a->more == b->more))
        return 0;
    for (size_t i = 0; i < a->pattern_count; i++)
        if (strcmp(a->patterns[i], b->patterns[i]) != 0)
            return 0;
    for (size_t i = 0; i < a->type_count; i++)
        if (strcmp(a->types[i], b->types[i]) != 0)
            return 0;
    if (a->command == OB_CMD_DELIVER && s_count(a) > 1 &&
        memcmp(a->times, b->times, s_count(a) * sizeof a->times[0]) != 0)
        return 0;
    return a->result_len == b->result_len && (a->result == NULL) == (b->result == NULL) &&
           (a->result_len == 0 || memcmp(a->result, b->result, a->result_len) == 0);
}

/* Returns 1 if the C strings of msg are terminated within their arrays and its counts are
   within their caps (so that reading msg is safe). */
static int
s_msg_sound(const ob_wire_msg_t *msg)
{
    if (!(memchr(msg->name, 0, sizeof msg->name) && memchr(msg->reason, 0, sizeof msg->reason) &&
          memchr(msg->session, 0, sizeof msg->session) &&
          memchr(msg->version, 0, sizeof msg->version) && memchr(msg->sub, 0, sizeof msg->sub) &&
          memchr(msg->topic, 0, sizeof msg->topic) && memchr(msg->after, 0, sizeof msg->after)))
        return 0;
    if (msg->pattern_count > OB_SUB_PATTERNS_MAX || msg->type_count > OB_SUB_TYPES_MAX)
        return 0;
    for (size_t i = 0; i < msg->pattern_count; i++)
        if (!memchr(msg->patterns[i], 0, sizeof msg->patterns[i]))
            return 0;
    for (size_t i = 0; i < msg->type_count; i++)
        if (!memchr(msg->types[i], 0, sizeof msg->types[i]))
            return 0;
    return 1;
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

    s_require(s_msg_sound(&msg));
    /* An OK's result points into the body, anything else has none. */
    if (msg.result_len > 0)
        s_require(msg.command == OB_CMD_OK && msg.result >= body &&
                  msg.result_len <= body_len - (size_t)(msg.result - body));
    else
        s_require(msg.result == NULL);

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
