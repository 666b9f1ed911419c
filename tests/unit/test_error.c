/*  test_error: error names and wire codes (orderbus/error.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "orderbus/orderbus.h"

typedef struct t_error {
    int rc;           /* the OB_ERR_* value */
    unsigned wire;    /* its wire code */
    const char *text; /* its description */
} t_error_t;

static const t_error_t s_errors[] = {
#define T_X_ROW(name, code, text) {name, code, text},
    OB_ERRORS(T_X_ROW)
#undef T_X_ROW
};

#define T_COUNT (sizeof s_errors / sizeof s_errors[0])

static void
test_strerror_names_every_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < T_COUNT; i++) {
        assert_string_equal(ob_strerror(s_errors[i].rc), s_errors[i].text);
        assert_true(s_errors[i].rc < 0);
        assert_int_equal(s_errors[i].rc, OB_ERR_BASE - (int)s_errors[i].wire);
    }
    assert_string_equal(ob_strerror(0), "success");
}

static void
test_strerror_errno(void **state)
{
    (void)state;
    assert_string_equal(ob_strerror(-ENOMEM), "out of memory");
    assert_string_equal(ob_strerror(-EINVAL), "invalid argument");
    assert_string_equal(ob_strerror(-ENOSPC), "no space left on device");
    assert_string_equal(ob_strerror(-ETIMEDOUT), "connection timed out");
    /* an errno without its own text */
    assert_string_equal(ob_strerror(-4000), "system error");
    assert_string_equal(ob_strerror(-4095), "system error");
    assert_string_equal(ob_strerror(-4096), "unknown error code");
    /* neither ours nor an errno, including the values that cannot be negated */
    assert_string_equal(ob_strerror(1), "unknown error code");
    assert_string_equal(ob_strerror(INT_MAX), "unknown error code");
    assert_string_equal(ob_strerror(INT_MIN), "unknown error code");
    assert_string_equal(ob_strerror(OB_ERR_BASE), "unknown error code");
    assert_string_equal(ob_strerror(OB_ERR_BASE - 999), "unknown error code");
    for (int rc = -5000; rc <= 5000; rc++)
        assert_non_null(ob_strerror(rc));
}

static void
test_wire_codes(void **state)
{
    (void)state;
    for (size_t i = 0; i < T_COUNT; i++) {
        assert_int_equal(ob_error_to_wire(s_errors[i].rc), s_errors[i].wire);
        assert_int_equal(ob_error_from_wire(s_errors[i].wire), s_errors[i].rc);
        /* a wire code is never reused */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(s_errors[i].wire, s_errors[j].wire);
    }
    assert_int_equal(ob_error_to_wire(0), 0);
    assert_int_equal(ob_error_to_wire(-ENOMEM), 0);
    assert_int_equal(ob_error_to_wire(OB_ERR_BASE), 0);
    assert_int_equal(ob_error_to_wire(INT_MIN), 0);
    assert_int_equal(ob_error_from_wire(0), OB_ERR_MALFORMED);
    assert_int_equal(ob_error_from_wire(9999), OB_ERR_MALFORMED);
    assert_int_equal(ob_error_from_wire(UINT32_MAX), OB_ERR_MALFORMED);
}

/* Thread body: names every code many times and checks the texts stay right. */
static void *
s_hammer(void *arg)
{
    (void)arg;
    for (int round = 0; round < 2000; round++) {
        for (size_t i = 0; i < T_COUNT; i++)
            if (strcmp(ob_strerror(s_errors[i].rc), s_errors[i].text) != 0)
                return (void *)1;
        if (strcmp(ob_strerror(-EPIPE), "broken pipe") != 0 ||
            strcmp(ob_strerror(-(4000 + round % 50)), "system error") != 0)
            return (void *)1;
    }
    return NULL;
}

static void
test_strerror_threads(void **state)
{
    (void)state;
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, s_hammer, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *result = (void *)1;
        assert_int_equal(pthread_join(threads[i], &result), 0);
        assert_null(result);
    }
}

/* The version has one home (orderbus.h): its string is its numbers, and CMake's project
   version (OB_PROJECT_VERSION, from the build) was read from them. */
static void
test_version_one_place(void **state)
{
    (void)state;
    char numbers[32];
    snprintf(numbers, sizeof numbers, "%d.%d.%d", OB_VERSION_MAJOR, OB_VERSION_MINOR,
             OB_VERSION_PATCH);
    assert_string_equal(OB_VERSION_STRING, numbers);
    assert_string_equal(OB_VERSION_STRING, OB_PROJECT_VERSION);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_names_every_code),
        cmocka_unit_test(test_strerror_errno),
        cmocka_unit_test(test_wire_codes),
        cmocka_unit_test(test_strerror_threads),
        cmocka_unit_test(test_version_one_place),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
