/*  test_wh_answer: the verdict on a receiver's answer (adapters/webhook/wh_answer.h): the
    status table, Retry-After in each of its forms and its malformed values, the backoff's
    bounds and growth, and the decision with attempts counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "wh_answer.h"

#define S_NOW 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example date) */
#define S_CAP 3600000   /* an hour */

static int
s_retry_after(const char *text, uint64_t *ret_ms)
{
    return ob_wh_retry_after(text, strlen(text), S_NOW, S_CAP, ret_ms);
}

static void
test_classify(void **state)
{
    (void)state;
    static const struct {
        long status;
        ob_wh_verdict_t verdict;
    } cases[] = {
        {200, OB_WH_ACK},   {201, OB_WH_ACK},   {204, OB_WH_ACK},   {299, OB_WH_ACK},
        {400, OB_WH_DEAD},  {401, OB_WH_DEAD},  {403, OB_WH_DEAD},  {404, OB_WH_DEAD},
        {410, OB_WH_DEAD},  {413, OB_WH_DEAD},  {499, OB_WH_DEAD},  {408, OB_WH_RETRY},
        {429, OB_WH_RETRY}, {500, OB_WH_RETRY}, {502, OB_WH_RETRY}, {503, OB_WH_RETRY},
        {504, OB_WH_RETRY}, {599, OB_WH_RETRY}, {0, OB_WH_RETRY},   {100, OB_WH_RETRY},
        {301, OB_WH_RETRY}, {302, OB_WH_RETRY}, {399, OB_WH_RETRY}, {600, OB_WH_RETRY},
        {199, OB_WH_RETRY}, {300, OB_WH_RETRY}, {-1, OB_WH_RETRY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        print_message("status %ld\n", cases[i].status);
        assert_int_equal(ob_wh_classify(cases[i].status), cases[i].verdict);
    }
}

static void
test_retry_after(void **state)
{
    (void)state;
    uint64_t ms = 0;
    assert_int_equal(s_retry_after("120", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(s_retry_after("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(s_retry_after(" \t7 ", &ms), 0); /* OWS around the value */
    assert_int_equal(ms, 7000);
    assert_int_equal(s_retry_after("3600", &ms), 0);
    assert_int_equal(ms, S_CAP);
    assert_int_equal(s_retry_after("3601", &ms), 0); /* capped */
    assert_int_equal(ms, S_CAP);
    assert_int_equal(s_retry_after("99999999999999999999999999999", &ms), 0); /* saturates */
    assert_int_equal(ms, S_CAP);

    /* the three HTTP-date forms of the same instant, 2 minutes after now */
    static const char *const dates[] = {
        "Sun, 06 Nov 1994 08:51:37 GMT",
        "Sunday, 06-Nov-94 08:51:37 GMT",
        "Sun Nov  6 08:51:37 1994",
    };
    for (size_t i = 0; i < 3; i++) {
        ms = 1;
        print_message("%s\n", dates[i]);
        assert_int_equal(s_retry_after(dates[i], &ms), 0);
        assert_int_equal(ms, 120000);
    }
    assert_int_equal(s_retry_after("Sun Nov 16 08:51:37 1994", &ms), 0); /* two-digit day */
    assert_int_equal(ms, S_CAP);
    assert_int_equal(s_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", &ms), 0); /* now */
    assert_int_equal(ms, 0);
    assert_int_equal(s_retry_after("Sat, 01 Jan 1994 00:00:00 GMT", &ms), 0); /* past */
    assert_int_equal(ms, 0);
    assert_int_equal(s_retry_after("Wed, 01 Jan 2053 00:00:00 GMT", &ms), 0); /* far */
    assert_int_equal(ms, S_CAP);
    /* RFC 850's two-digit year, now being 1994: 44 is 2044 (50 years ahead), 45 is 1945
       (2045 would be more than 50 years ahead), before 1970 and refused */
    assert_int_equal(s_retry_after("Sunday, 06-Nov-44 08:49:37 GMT", &ms), 0);
    assert_int_equal(ms, S_CAP);
    assert_int_equal(s_retry_after("Monday, 06-Nov-45 08:49:37 GMT", &ms), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(
        ob_wh_retry_after("Tuesday, 06-Nov-35 08:49:37 GMT", 31, 1767225600, S_CAP, &ms),
        0); /* now 2026: 2035 */
    assert_int_equal(ms, S_CAP);
    assert_int_equal(
        ob_wh_retry_after("Tuesday, 06-Nov-99 08:49:37 GMT", 31, 1767225600, S_CAP, &ms),
        0); /* now 2026: 1999, past */
    assert_int_equal(ms, 0);
    /* the weekday is not checked against the date (RFC 9110 does not ask it) */
    assert_int_equal(s_retry_after("Mon, 06 Nov 1994 08:50:37 GMT", &ms), 0);
    assert_int_equal(ms, 60000);

    static const char *const bad[] = {
        "",
        "   ",
        "-1",
        "+5",
        "1.5",
        "5s",
        "0x10",
        "1 2",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT x",
        "Sun, 31 Nov 1994 08:49:37 GMT", /* no such day */
        "Sun, 29 Feb 1995 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Thu, 01 Jan 1960 00:00:00 GMT", /* before 1970 */
        "Sun, 06 Xyz 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06 Nov 94 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun Nov 06 08:49:37 1994 GMT",
        "Sunday Nov  6 08:49:37 1994",
        "Funday, 06-Nov-94 08:49:37 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms = 42;
        print_message("bad: '%s'\n", bad[i]);
        assert_int_equal(s_retry_after(bad[i], &ms), OB_ERR_INVALID_ARGUMENT);
        assert_int_equal(ms, 42);
    }
    char long_text[OB_WH_RETRY_AFTER_TEXT_MAX + 2];
    memset(long_text, ' ', sizeof long_text - 1);
    long_text[sizeof long_text - 2] = '5';
    long_text[sizeof long_text - 1] = '\0';
    assert_int_equal(s_retry_after(long_text, &ms), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(s_retry_after(long_text + 1, &ms), 0);
    assert_int_equal(ms, 5000);
    /* only len bytes are read */
    assert_int_equal(ob_wh_retry_after("12345", 2, S_NOW, S_CAP, &ms), 0);
    assert_int_equal(ms, 12000);
}

static void
test_backoff(void **state)
{
    (void)state;
    ob_wh_policy_t policy = {5, 1000, 60000};
    /* attempt 1: [500, 1000]; the draw's extremes */
    assert_int_equal(ob_wh_backoff(&policy, 1, 0), 500);
    assert_int_equal(ob_wh_backoff(&policy, 1, 500), 1000);
    assert_int_equal(ob_wh_backoff(&policy, 1, 501), 500);
    assert_int_equal(ob_wh_backoff(&policy, 1, UINT32_MAX), 500 + UINT32_MAX % 501);
    assert_int_equal(ob_wh_backoff(&policy, 0, 500), 1000); /* attempt 0 reads as 1 */
    /* doubling, up to the cap */
    assert_int_equal(ob_wh_backoff(&policy, 2, 1000), 2000);
    assert_int_equal(ob_wh_backoff(&policy, 3, 0), 2000);
    assert_int_equal(ob_wh_backoff(&policy, 6, 16000), 32000);
    assert_int_equal(ob_wh_backoff(&policy, 7, 30000), 60000);
    assert_int_equal(ob_wh_backoff(&policy, 7, 0), 30000);
    assert_int_equal(ob_wh_backoff(&policy, UINT32_MAX, 30000), 60000);
    for (uint32_t attempt = 1; attempt < 100; attempt++)
        for (uint32_t r = 0; r < 70000; r += 997) {
            uint64_t d = ob_wh_backoff(&policy, attempt, r);
            assert_true(d >= 500 && d <= 60000);
        }
    /* a base over the cap is the cap; the largest values do not overflow */
    ob_wh_policy_t odd = {0, 90000, 60000};
    assert_int_equal(ob_wh_backoff(&odd, 1, 30000), 60000);
    ob_wh_policy_t huge = {0, UINT64_MAX / 3, UINT64_MAX};
    assert_true(ob_wh_backoff(&huge, 40, 0) >= UINT64_MAX / 2);
    ob_wh_policy_t tiny = {0, 1, 1};
    assert_int_equal(ob_wh_backoff(&tiny, 9, UINT32_MAX), 1);
}

static void
test_decide(void **state)
{
    (void)state;
    ob_wh_policy_t policy = {3, 1000, 60000};
    ob_wh_decision_t d;
    ob_wh_answer_t ok = {204, NULL, 0};
    ob_wh_decide(&policy, 3, &ok, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_ACK);

    ob_wh_answer_t refused = {400, NULL, 0};
    ob_wh_decide(&policy, 1, &refused, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_DEAD);
    assert_int_equal(d.exhausted, 0);

    ob_wh_answer_t down = {503, NULL, 0};
    ob_wh_decide(&policy, 1, &down, S_NOW, 500, &d);
    assert_int_equal(d.verdict, OB_WH_RETRY);
    assert_int_equal(d.delay_ms, 1000);
    ob_wh_decide(&policy, 2, &down, S_NOW, 1000, &d);
    assert_int_equal(d.verdict, OB_WH_RETRY);
    assert_int_equal(d.delay_ms, 2000);
    ob_wh_decide(&policy, 3, &down, S_NOW, 0, &d); /* the third failed POST is the last */
    assert_int_equal(d.verdict, OB_WH_DEAD);
    assert_int_equal(d.exhausted, 1);
    ob_wh_answer_t timeout = {0, NULL, 0};
    ob_wh_decide(&policy, 3, &timeout, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_DEAD);
    assert_int_equal(d.exhausted, 1);
    ob_wh_policy_t forever = {0, 1000, 60000};
    ob_wh_decide(&forever, UINT32_MAX, &timeout, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_RETRY);
    assert_int_equal(d.delay_ms, 30000);

    /* Retry-After wins over the backoff, shorter or longer, within the cap */
    const char *soon = "0";
    ob_wh_answer_t busy = {429, soon, strlen(soon)};
    ob_wh_decide(&policy, 2, &busy, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_RETRY);
    assert_int_equal(d.delay_ms, 0);
    const char *late = "Sun, 06 Nov 1994 09:49:37 GMT";
    ob_wh_answer_t later = {503, late, strlen(late)};
    ob_wh_decide(&policy, 1, &later, S_NOW, 0, &d);
    assert_int_equal(d.delay_ms, 60000);
    const char *junk = "soon";
    ob_wh_answer_t garbled = {503, junk, strlen(junk)};
    ob_wh_decide(&policy, 1, &garbled, S_NOW, 0, &d); /* ignored: the backoff */
    assert_int_equal(d.delay_ms, 500);
    /* a refusal is dead at once, Retry-After or not; a 200 with one is still an ack */
    ob_wh_answer_t gone = {410, soon, 1};
    ob_wh_decide(&policy, 1, &gone, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_DEAD);
    ob_wh_answer_t fine = {200, soon, 1};
    ob_wh_decide(&policy, 1, &fine, S_NOW, 0, &d);
    assert_int_equal(d.verdict, OB_WH_ACK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_decide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
