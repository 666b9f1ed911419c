/*  ob_wh_answer: verdicts, Retry-After and backoff. See wh_answer.h. */
#include "wh_answer.h"

#include <stdio.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event_json.h"

#define S_MS 1000u        /* milliseconds in a second */
#define S_RFC850_PIVOT 50 /* RFC 9110 5.6.7: a two-digit year over 50 years ahead is past */
#define S_SECONDS_PER_YEAR 31556952 /* Gregorian mean year: enough for the pivot's year */
#define S_EPOCH_YEAR 1970
#define S_DATE_TEXT 64 /* RFC 3339 text of the date: room for any int the compiler imagines */

static const char *const s_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const s_weekdays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};
static const char *const s_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
#define S_COUNT(a) (sizeof(a) / sizeof(a)[0])

ob_wh_verdict_t
ob_wh_classify(long status)
{
    if (status >= 200 && status <= 299)
        return OB_WH_ACK;
    if (status >= 400 && status <= 499 && status != 408 && status != 429)
        return OB_WH_DEAD;
    return OB_WH_RETRY;
}

/* A cursor over the value being parsed. */
typedef struct s_cur {
    const char *p;   /* next byte */
    const char *end; /* one past the last */
} s_cur_t;

/* Consumes the literal lit if it comes next. Returns 1 if it did. */
static int
s_lit(s_cur_t *cur, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(cur->end - cur->p) < n || memcmp(cur->p, lit, n))
        return 0;
    cur->p += n;
    return 1;
}

/* Consumes exactly n digits into *ret (n <= 4). Returns 1 if it did. */
static int
s_digits(s_cur_t *cur, int n, int *ret)
{
    if (cur->end - cur->p < n)
        return 0;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (cur->p[i] < '0' || cur->p[i] > '9')
            return 0;
        v = v * 10 + (cur->p[i] - '0');
    }
    cur->p += n;
    *ret = v;
    return 1;
}

/* Consumes one of the count names (the longest that matches, so "Sunday" is not "Sun").
   Returns its index, or -1. */
static int
s_name(s_cur_t *cur, const char *const *names, size_t count)
{
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if (n > best_len && (size_t)(cur->end - cur->p) >= n && !memcmp(cur->p, names[i], n)) {
            best = (int)i;
            best_len = n;
        }
    }
    cur->p += best_len;
    return best;
}

/* Consumes "HH:MM:SS". */
static int
s_clock(s_cur_t *cur, int *h, int *mi, int *s)
{
    return s_digits(cur, 2, h) && s_lit(cur, ":") && s_digits(cur, 2, mi) && s_lit(cur, ":") &&
           s_digits(cur, 2, s);
}

/* Parses an HTTP-date at cur (the whole rest) into Unix seconds. Returns 0 or -1. */
static int
s_http_date(s_cur_t *cur, int64_t now_s, int64_t *ret_s)
{
    int y = 0, mo = -1, d = 0, h = 0, mi = 0, s = 0;
    s_cur_t start = *cur;
    if (s_name(cur, s_days, S_COUNT(s_days)) >= 0 && s_lit(cur, ", ")) {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        if (!(s_digits(cur, 2, &d) && s_lit(cur, " ") &&
              (mo = s_name(cur, s_months, S_COUNT(s_months))) >= 0 && s_lit(cur, " ") &&
              s_digits(cur, 4, &y) && s_lit(cur, " ") && s_clock(cur, &h, &mi, &s) &&
              s_lit(cur, " GMT")))
            return -1;
    } else if ((*cur = start, s_name(cur, s_weekdays, S_COUNT(s_weekdays)) >= 0) &&
               s_lit(cur, ", ")) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        int yy = 0;
        if (!(s_digits(cur, 2, &d) && s_lit(cur, "-") &&
              (mo = s_name(cur, s_months, S_COUNT(s_months))) >= 0 && s_lit(cur, "-") &&
              s_digits(cur, 2, &yy) && s_lit(cur, " ") && s_clock(cur, &h, &mi, &s) &&
              s_lit(cur, " GMT")))
            return -1;
        /* the year ending in yy in (now - 50, now + 50]: one more than 50 years ahead is
           the most recent past year ending so */
        int now_year = S_EPOCH_YEAR + (int)(now_s / S_SECONDS_PER_YEAR);
        y = now_year - now_year % 100 + yy;
        if (y > now_year + S_RFC850_PIVOT)
            y -= 100;
        else if (y <= now_year - S_RFC850_PIVOT)
            y += 100;
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        *cur = start;
        if (!(s_name(cur, s_days, S_COUNT(s_days)) >= 0 && s_lit(cur, " ") &&
              (mo = s_name(cur, s_months, S_COUNT(s_months))) >= 0 && s_lit(cur, " ")))
            return -1;
        if (!(s_lit(cur, " ") ? s_digits(cur, 1, &d) : s_digits(cur, 2, &d)))
            return -1;
        if (!(s_lit(cur, " ") && s_clock(cur, &h, &mi, &s) && s_lit(cur, " ") &&
              s_digits(cur, 4, &y)))
            return -1;
    }
    if (cur->p != cur->end)
        return -1;
    /* ob_time_parse checks the ranges (the day of the month, leap years, 1970 on) */
    char text[S_DATE_TEXT];
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo + 1, d, h, mi, s);
    uint64_t us = 0;
    if (ob_time_parse(text, &us))
        return -1;
    *ret_s = (int64_t)(us / (S_MS * S_MS));
    return 0;
}

int
ob_wh_retry_after(const char *text, size_t len, int64_t now_s, uint64_t cap_ms,
                  uint64_t *ret_delay_ms)
{
    if (len > OB_WH_RETRY_AFTER_TEXT_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    s_cur_t cur = {text, text + len};
    while (cur.p < cur.end && (*cur.p == ' ' || *cur.p == '\t'))
        cur.p++;
    while (cur.end > cur.p && (cur.end[-1] == ' ' || cur.end[-1] == '\t'))
        cur.end--;
    if (cur.p == cur.end)
        return OB_ERR_INVALID_ARGUMENT;
    uint64_t delay_ms = 0;
    if (*cur.p >= '0' && *cur.p <= '9') {
        uint64_t seconds = 0;
        for (const char *p = cur.p; p < cur.end; p++) {
            if (*p < '0' || *p > '9')
                return OB_ERR_INVALID_ARGUMENT;
            if (seconds <= cap_ms / S_MS) /* saturate: past the cap the value is moot */
                seconds = seconds * 10 + (uint64_t)(*p - '0');
        }
        delay_ms = seconds > cap_ms / S_MS ? cap_ms : seconds * S_MS;
    } else {
        int64_t date_s = 0;
        if (s_http_date(&cur, now_s, &date_s))
            return OB_ERR_INVALID_ARGUMENT;
        uint64_t ahead = date_s > now_s ? (uint64_t)(date_s - now_s) : 0;
        delay_ms = ahead > cap_ms / S_MS ? cap_ms : ahead * S_MS;
    }
    *ret_delay_ms = delay_ms < cap_ms ? delay_ms : cap_ms;
    return 0;
}

uint64_t
ob_wh_backoff(const ob_wh_policy_t *policy, uint32_t attempt, uint32_t random)
{
    uint64_t max = policy->backoff_max_ms;
    uint64_t step = policy->backoff_ms < max ? policy->backoff_ms : max;
    unsigned shift = attempt > 1 ? attempt - 1 : 0;
    if (shift > OB_WH_BACKOFF_SHIFT_MAX)
        shift = OB_WH_BACKOFF_SHIFT_MAX;
    /* step << shift without overflow: stop doubling at max */
    for (unsigned i = 0; i < shift && step < max; i++)
        step = step > max / 2 ? max : step * 2;
    uint64_t half = step / 2;
    return step - half + (uint64_t)random % (half + 1);
}

void
ob_wh_decide(const ob_wh_policy_t *policy, uint32_t attempt, const ob_wh_answer_t *answer,
             int64_t now_s, uint32_t random, ob_wh_decision_t *ret_decision)
{
    ob_wh_decision_t decision = {ob_wh_classify(answer->status), 0, 0};
    if (decision.verdict == OB_WH_RETRY && policy->max_attempts &&
        attempt >= policy->max_attempts) {
        decision.verdict = OB_WH_DEAD;
        decision.exhausted = 1;
    }
    if (decision.verdict == OB_WH_RETRY) {
        uint64_t delay = 0;
        if (!answer->retry_after || ob_wh_retry_after(answer->retry_after, answer->retry_after_len,
                                                      now_s, policy->backoff_max_ms, &delay))
            delay = ob_wh_backoff(policy, attempt, random);
        decision.delay_ms = delay;
    }
    *ret_decision = decision;
}
