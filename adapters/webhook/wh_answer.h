/*  ob_wh_answer: what a receiver's answer means, and when to try again.

    A POST ends with an HTTP status, or with none (a timeout, a refused or broken
    connection, a TLS failure: status 0). ob_wh_decide turns it into a verdict:
        2xx                                   ACK: delivered
        4xx but 408 and 429                   DEAD: refused for good, dead-lettered at once
        anything else (5xx, 408, 429, 1xx,    RETRY after a delay, or DEAD once the target's
        3xx, which is never followed, 0)      max_attempts POSTs have been made
    The delay of a retry is the answer's Retry-After when it has a valid one (delta-seconds
    or an HTTP-date, RFC 9110 10.2.3; a date in the past is 0), else an exponential backoff
    with jitter: d = min(backoff_max, backoff * 2^(attempt - 1)), then a uniform draw in
    [d/2, d] ("equal jitter": retries of many events spread out, none comes sooner than half
    its step). Either is capped at backoff_max. Pure: the caller gives the time and the
    random number. */
#ifndef OB_WH_ANSWER_H
#define OB_WH_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "wh_limits.h"

typedef enum ob_wh_verdict {
    OB_WH_ACK,   /* delivered: ack */
    OB_WH_RETRY, /* failed for now: try again after delay_ms */
    OB_WH_DEAD,  /* refused for good, or attempts used up: dead-letter, then ack */
} ob_wh_verdict_t;

/* A target's retry policy (from its configuration). */
typedef struct ob_wh_policy {
    uint32_t max_attempts;   /* POSTs of one event before its dead letter, 0 unlimited */
    uint64_t backoff_ms;     /* delay after the first failed attempt, >= 1 */
    uint64_t backoff_max_ms; /* longest delay, Retry-After included */
} ob_wh_policy_t;

/* One answer, as the transport saw it (borrowed). */
typedef struct ob_wh_answer {
    long status;             /* HTTP status, 0 if no answer came (timeout, connection) */
    const char *retry_after; /* the Retry-After header's value, NULL if none */
    size_t retry_after_len;  /* bytes at retry_after */
} ob_wh_answer_t;

typedef struct ob_wh_decision {
    ob_wh_verdict_t verdict; /* what to do */
    uint64_t delay_ms;       /* OB_WH_RETRY: wait this long before the next attempt */
    int exhausted;           /* OB_WH_DEAD because max_attempts were made (else refused) */
} ob_wh_decision_t;

/* Returns the verdict of status alone, before attempts are counted: OB_WH_ACK for 2xx,
   OB_WH_DEAD for 4xx other than 408 and 429, OB_WH_RETRY for everything else (0 included). */
ob_wh_verdict_t ob_wh_classify(long status);

/* Parses a Retry-After value (len bytes at text, borrowed; surrounding spaces and tabs
   ignored): delta-seconds (digits; a large number saturates) or an HTTP-date in any of
   RFC 9110's three forms (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850
   "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994"), given now_s,
   the current Unix time in seconds. On success *ret_delay_ms is the wait in milliseconds,
   at most cap_ms (0 for a date not in the future). Returns 0 or OB_ERR_INVALID_ARGUMENT
   (empty, over OB_WH_RETRY_AFTER_TEXT_MAX bytes, not one of the forms, a field out of
   range, a date before 1970). */
int ob_wh_retry_after(const char *text, size_t len, int64_t now_s, uint64_t cap_ms,
                      uint64_t *ret_delay_ms);

/* Returns the backoff delay of the failed attempt attempt (1 for the first) under policy
   (borrowed), drawn in [d/2, d] with random (any 32-bit value, from randombytes_random)
   as described at the top. */
uint64_t ob_wh_backoff(const ob_wh_policy_t *policy, uint32_t attempt, uint32_t random);

/* Decides what to do after attempt attempt (1 for the first POST) ended with answer
   (borrowed) under policy (borrowed), at now_s with random for the jitter, as described at
   the top, into *ret_decision. */
void ob_wh_decide(const ob_wh_policy_t *policy, uint32_t attempt, const ob_wh_answer_t *answer,
                  int64_t now_s, uint32_t random, ob_wh_decision_t *ret_decision);

#endif
