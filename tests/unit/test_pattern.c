/*  test_pattern: ob_pattern_valid, ob_pattern_match and ob_pattern_covers, table-tested against
    proto/PROTOCOL.md 7.2 (every row of its table is a row here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/orderbus.h"

typedef struct {
    const char *pattern; /* NUL-terminated */
    const char *topic;   /* NUL-terminated */
    int match;           /* expected */
} t_case_t;

static const t_case_t s_cases[] = {
    /* PROTOCOL.md 7.2 */
    {"oms.1", "oms.1", 1},
    {"oms.1", "oms.10", 0},
    {"oms.1", "oms.1.x", 0},
    {"oms.*", "oms.1", 1},
    {"oms.*", "oms.42", 1},
    {"oms.*", "oms", 0},
    {"oms.*", "oms.1.x", 0},
    {"oms.*", "mp.1", 0},
    {"oms.>", "oms.1", 1},
    {"oms.>", "oms.1.x", 1},
    {"oms.>", "oms", 0},
    {"*.1", "oms.1", 1},
    {"*.1", "mp.1", 1},
    {"*.1", "oms.10", 0},
    {"*.1", "oms.1.x", 0},
    {">", "oms.1", 1},
    {">", "dlq.sub-1_x", 1},
    {">", "x", 1},
    /* more */
    {"*", "oms", 1},
    {"*", "oms.1", 0},
    {"*.*", "oms.1", 1},
    {"*.*", "oms", 0},
    {"*.>", "oms", 0},
    {"*.>", "oms.1.2.3", 1},
    {"oms.*.x", "oms.1.x", 1},
    {"oms.*.x", "oms.1.y", 0},
    {"oms.1", "oms.2", 0},
    {"oms.10", "oms.1", 0},
    {"om", "oms", 0},
    {"oms", "om", 0},
    {"a-b_c.9", "a-b_c.9", 1},
};

static const char *s_invalid[] = {
    "",       ".",      "..",     "oms.",   ".oms",  "oms..1", "OMS.1",  "oms.>.x", ">.x",
    "oms.a*", "oms.*a", "oms.>>", "oms.**", "oms 1", "oms/1",  "oms.>x", "é",       "oms.\t",
};

static void
test_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const t_case_t *c = &s_cases[i];
        if (ob_pattern_match(c->pattern, strlen(c->pattern), c->topic, strlen(c->topic)) !=
            c->match)
            fail_msg("pattern '%s' vs topic '%s': expected %d", c->pattern, c->topic, c->match);
        assert_true(ob_pattern_valid(c->pattern, strlen(c->pattern)));
        /* every topic name is a pattern matching itself only */
        assert_true(ob_pattern_valid(c->topic, strlen(c->topic)));
        assert_true(ob_pattern_match(c->topic, strlen(c->topic), c->topic, strlen(c->topic)));
    }
}

static void
test_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_invalid / sizeof s_invalid[0]; i++) {
        const char *p = s_invalid[i];
        if (ob_pattern_valid(p, strlen(p)))
            fail_msg("'%s' accepted as a pattern", p);
        assert_false(ob_pattern_match(p, strlen(p), "oms.1", 5));
    }
    /* a pattern never matches an invalid topic */
    assert_false(ob_pattern_match(">", 1, "OMS.1", 5));
    assert_false(ob_pattern_match(">", 1, "oms.*", 5));
    assert_false(ob_pattern_match("*", 1, "", 0));
    assert_false(ob_pattern_valid(NULL, 0));
}

/* ob_pattern_covers: (allowed, requested, covered). */
static const struct {
    const char *allowed, *requested;
    int covers;
} s_covers[] = {
    /* the example: oms-7 is allowed oms.7 only */
    {"oms.7", "oms.7", 1},
    {"oms.7", "oms.8", 0},
    {"oms.7", "oms.*", 0},
    {"oms.7", "oms.>", 0},
    {"oms.7", ">", 0},
    {"oms.7", "*.7", 0},
    {"oms.7", "oms.7.x", 0},
    {"oms.7", "oms", 0},
    /* > covers everything below it, wildcards included */
    {"oms.>", "oms.7", 1},
    {"oms.>", "oms.7.x", 1},
    {"oms.>", "oms.*", 1},
    {"oms.>", "oms.>", 1},
    {"oms.>", "oms.*.x", 1},
    {"oms.>", "oms.7.>", 1},
    {"oms.>", "oms", 0},
    {"oms.>", ">", 0},
    {"oms.>", "*.7", 0},
    {"oms.>", "mp.7", 0},
    {">", ">", 1},
    {">", "*", 1},
    {">", "oms.>", 1},
    {">", "*.*.>", 1},
    /* * covers exactly one token of anything, never > */
    {"oms.*", "oms.7", 1},
    {"oms.*", "oms.*", 1},
    {"oms.*", "oms.>", 0}, /* oms.> also matches oms.7.x */
    {"oms.*", "oms.7.x", 0},
    {"oms.*", "oms", 0},
    {"*", ">", 0},
    {"*", "*", 1},
    {"*", "oms", 1},
    {"*.*", "*.>", 0},
    {"*.>", "*.*", 1},
    {"*.>", "oms.>", 1},
    {"*.>", ">", 0}, /* > matches one-token topics, *.> does not */
    {"*.7", "oms.7", 1},
    {"*.7", "*.7", 1},
    {"*.7", "*.*", 0},
    {"oms.*.x", "oms.7.x", 1},
    {"oms.*.x", "oms.*.y", 0},
    {"oms.7.>", "oms.>", 0},
    {"oms.7.>", "oms.7.*", 1},
};

static void
test_covers_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_covers / sizeof s_covers[0]; i++) {
        const char *a = s_covers[i].allowed, *r = s_covers[i].requested;
        if (ob_pattern_covers(a, strlen(a), r, strlen(r)) != s_covers[i].covers)
            fail_msg("allowed '%s' covers requested '%s': expected %d", a, r, s_covers[i].covers);
    }
    /* consistent with the matcher: a topic is covered iff it is matched */
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++) {
        const t_case_t *c = &s_cases[i];
        if (ob_pattern_covers(c->pattern, strlen(c->pattern), c->topic, strlen(c->topic)) !=
            c->match)
            fail_msg("covers '%s' '%s' disagrees with the matcher", c->pattern, c->topic);
    }
    /* invalid on either side covers nothing */
    for (size_t i = 0; i < sizeof s_invalid / sizeof s_invalid[0]; i++) {
        const char *p = s_invalid[i];
        assert_false(ob_pattern_covers(p, strlen(p), "oms.1", 5));
        assert_false(ob_pattern_covers(">", 1, p, strlen(p)));
    }
    assert_false(ob_pattern_covers(NULL, 0, "oms", 3));
    assert_false(ob_pattern_covers(">", 1, NULL, 0));
}

static void
test_lengths(void **state)
{
    (void)state;
    char name[OB_TOPIC_MAX + 2];
    memset(name, 'a', sizeof name);
    assert_true(ob_pattern_valid(name, OB_TOPIC_MAX));
    assert_false(ob_pattern_valid(name, OB_TOPIC_MAX + 1));
    assert_true(ob_pattern_match(name, OB_TOPIC_MAX, name, OB_TOPIC_MAX));
    /* lengths are honoured: no reading past len, no NUL needed */
    assert_true(ob_pattern_match("oms.1xyz", 5, "oms.1abc", 5));
    assert_false(ob_pattern_valid("oms.*", 4)); /* "oms." */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_covers_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
