/*  test_gw_facade_trigger: the pure part of the facade's triggers out (gateway/
    facade_trigger.h): coalescing (one call in flight, one more for the events that came
    meanwhile, none without events), the backoff after failures (doubling, capped, reset by
    a success, events kept), and the Authorization header as the Marketplace documents it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "facade_trigger.h"
#include "gw_limits.h"

static void
test_coalesce(void **state)
{
    (void)state;
    ob_ft_state_t s = {0};
    assert_int_equal(ob_ft_state_start(&s, 0), 0); /* no events, no call */
    assert_true(ob_ft_state_due(&s) == INT64_MAX);
    ob_ft_state_events(&s);
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_due(&s), 0);
    assert_int_equal(ob_ft_state_start(&s, 0), 1); /* one call for both */
    assert_int_equal(ob_ft_state_start(&s, 0), 0);
    ob_ft_state_events(&s); /* during the call */
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_start(&s, 1), 0); /* one in flight at most */
    assert_true(ob_ft_state_due(&s) == INT64_MAX);
    ob_ft_state_done(&s, 1, 2);
    assert_int_equal(ob_ft_state_start(&s, 2), 1); /* one more, for those */
    ob_ft_state_done(&s, 1, 3);
    assert_int_equal(ob_ft_state_start(&s, 3), 0); /* and no more */
}

static void
test_backoff(void **state)
{
    (void)state;
    ob_ft_state_t s = {0};
    ob_ft_state_events(&s);
    int64_t now = 1000, want = OB_GW_BACKOFF_MS_MIN;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ob_ft_state_start(&s, now), 1);
        ob_ft_state_done(&s, 0, now); /* failed: the events stay pending */
        assert_int_equal(s.backoff_ms, want);
        assert_int_equal(ob_ft_state_due(&s), now + want);
        assert_int_equal(ob_ft_state_start(&s, now + want - 1), 0);
        now += want;
        want = want * 2 > OB_GW_BACKOFF_MS_MAX ? OB_GW_BACKOFF_MS_MAX : want * 2;
    }
    assert_int_equal(s.backoff_ms, OB_GW_BACKOFF_MS_MAX);
    assert_int_equal(ob_ft_state_start(&s, now), 1);
    ob_ft_state_done(&s, 1, now); /* a success resets it */
    assert_int_equal(s.backoff_ms, 0);
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_start(&s, now), 1);
    ob_ft_state_done(&s, 0, now);
    assert_int_equal(s.backoff_ms, OB_GW_BACKOFF_MS_MIN);
}

static void
test_auth_header(void **state)
{
    (void)state;
    /* the Marketplace's own example (reference 6.2): name:12341234 */
    char *h = ob_ft_auth_header("name", "12341234");
    assert_string_equal(h, "Authorization: Basic bmFtZToxMjM0MTIzNA==");
    free(h);
    /* URL-safe alphabet, padded: "?:?>" is Pzo_Pg== (Pzo/Pg== in the standard one) */
    h = ob_ft_auth_header("?", "?>");
    assert_string_equal(h, "Authorization: Basic Pzo_Pg==");
    free(h);
    h = ob_ft_auth_header("ab", "c");
    assert_string_equal(h, "Authorization: Basic YWI6Yw==");
    free(h);
    h = ob_ft_auth_header("abc", "de");
    assert_string_equal(h, "Authorization: Basic YWJjOmRl");
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_auth_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
