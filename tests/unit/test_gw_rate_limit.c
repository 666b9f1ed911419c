/*  test_gw_rate_limit: the per-client token bucket (gateway/rate_limit.h) on an injected
    clock: a burst then the sustained rate, Retry-After values, independent clients, a clock
    going back, the bounded table reusing the least recently used bucket, bad arguments. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "rate_limit.h"

#define T_S 1000000ull /* microseconds in a second */
#define T_T0 (1000 * T_S)

/* Takes from client at now and returns the code; *retry is the Retry-After or 0. */
static int
s_take(ob_rate_limit_t *rl, const char *client, uint64_t now, uint32_t *retry)
{
    *retry = 0;
    return ob_rate_limit_take(rl, client, now, retry);
}

static void
test_burst_then_rate(void **state)
{
    (void)state;
    ob_rate_limit_t *rl = ob_rate_limit_new(10, 5, 4);
    assert_non_null(rl);
    uint32_t retry = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT);
    assert_int_equal(retry, 1); /* 100 ms to the next token: rounded up to a second */
    /* 99 ms: not yet; 100 ms: one token, and only one */
    assert_int_equal(s_take(rl, "a", T_T0 + 99999, &retry), OB_ERR_LIMIT);
    assert_int_equal(s_take(rl, "a", T_T0 + 100000, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0 + 100000, &retry), OB_ERR_LIMIT);
    /* sustained: 10 per second over 10 seconds, one every 100 ms */
    int allowed = 0;
    for (uint64_t t = T_T0 + 100000; t <= T_T0 + 10 * T_S + 100000; t += 10000)
        allowed += s_take(rl, "a", t, &retry) == 0;
    assert_int_equal(allowed, 100);
    /* a long pause refills to the burst, not beyond */
    uint64_t later = T_T0 + 1000 * T_S;
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_take(rl, "a", later, &retry), 0);
    assert_int_equal(s_take(rl, "a", later, &retry), OB_ERR_LIMIT);
    ob_rate_limit_destroy(&rl);
    assert_null(rl);
    ob_rate_limit_destroy(&rl);
}

static void
test_retry_after(void **state)
{
    (void)state;
    /* one request per second, no burst: the next is one second away */
    ob_rate_limit_t *rl = ob_rate_limit_new(1, 1, 1);
    uint32_t retry = 0;
    assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(s_take(rl, "a", T_T0 + T_S / 2, &retry), OB_ERR_LIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(s_take(rl, "a", T_T0 + T_S, &retry), 0);
    /* NULL ret_retry_after_s is allowed */
    assert_int_equal(ob_rate_limit_take(rl, "a", T_T0 + T_S, NULL), OB_ERR_LIMIT);
    ob_rate_limit_destroy(&rl);
    /* the slowest rate a burst allows: after a burst of 3 at 1/s, retry in 1 s; a
       refusal never says 0 */
    rl = ob_rate_limit_new(1, 3, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0 + 1, &retry), OB_ERR_LIMIT);
    assert_int_equal(retry, 1);
    ob_rate_limit_destroy(&rl);
    /* the fastest rate: a token every microsecond */
    rl = ob_rate_limit_new(OB_GW_RATE_MAX, 1, 1);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT);
    assert_int_equal(retry, 1);
    assert_int_equal(s_take(rl, "a", T_T0 + 1, &retry), 0);
    ob_rate_limit_destroy(&rl);
}

static void
test_clients_apart(void **state)
{
    (void)state;
    ob_rate_limit_t *rl = ob_rate_limit_new(1, 2, 8);
    uint32_t retry = 0;
    assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT);
    assert_int_equal(s_take(rl, "b", T_T0, &retry), 0); /* b has its own */
    assert_int_equal(ob_rate_limit_size(rl), 2);
    /* a clock that goes back is taken as standing still: no tokens, no underflow */
    assert_int_equal(s_take(rl, "a", T_T0 - T_S, &retry), OB_ERR_LIMIT);
    assert_int_equal(s_take(rl, "a", T_T0 + T_S, &retry), 0);
    ob_rate_limit_destroy(&rl);
}

/* At capacity, a new client takes the least recently used bucket: an active client keeps
   its (empty) bucket. */
static void
test_bounded(void **state)
{
    (void)state;
    ob_rate_limit_t *rl = ob_rate_limit_new(1, 1, 2);
    uint32_t retry = 0;
    assert_int_equal(s_take(rl, "a", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "b", T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT); /* a is now the newest */
    assert_int_equal(s_take(rl, "c", T_T0, &retry), 0);            /* reuses b's */
    assert_int_equal(ob_rate_limit_size(rl), 2);
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT); /* a kept its state */
    assert_int_equal(s_take(rl, "b", T_T0, &retry), 0);            /* b is new again: c goes */
    assert_int_equal(s_take(rl, "a", T_T0, &retry), OB_ERR_LIMIT);
    /* many clients through a small table */
    char name[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "c%d", i);
        assert_int_equal(s_take(rl, name, T_T0, &retry), 0);
        assert_true(ob_rate_limit_size(rl) <= 2);
    }
    ob_rate_limit_destroy(&rl);
}

static void
test_arguments(void **state)
{
    (void)state;
    assert_null(ob_rate_limit_new(0, 1, 1));
    assert_null(ob_rate_limit_new(1, 0, 1));
    assert_null(ob_rate_limit_new(1, 1, 0));
    assert_null(ob_rate_limit_new(OB_GW_RATE_MAX + 1, 1, 1));
    assert_null(ob_rate_limit_new(1, OB_GW_RATE_MAX + 1, 1));
    assert_null(ob_rate_limit_new(1, 1, (size_t)OB_GW_TOKEN_CLIENTS_MAX + 1));
    ob_rate_limit_t *rl =
        ob_rate_limit_new(OB_GW_RATE_DEFAULT, OB_GW_BURST_DEFAULT, OB_GW_RATE_CLIENTS_DEFAULT);
    assert_non_null(rl);
    char long_name[OB_GW_CLIENT_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    uint32_t retry = 0;
    assert_int_equal(s_take(rl, long_name, T_T0, &retry), OB_ERR_INVALID_ARGUMENT);
    long_name[OB_GW_CLIENT_NAME_MAX] = '\0';
    assert_int_equal(s_take(rl, long_name, T_T0, &retry), 0);
    assert_int_equal(s_take(rl, "", T_T0, &retry), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_rate_limit_take(rl, NULL, T_T0, &retry), OB_ERR_INVALID_ARGUMENT);
    ob_rate_limit_destroy(&rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_rate), cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_clients_apart),   cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
