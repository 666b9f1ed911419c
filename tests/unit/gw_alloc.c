/*  gw_alloc: see gw_alloc.h. */
#include "gw_alloc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "orderbus/error.h"

static long s_fail_at = -1; /* allocation to fail, or -1 */
static long s_allocs;       /* allocations of the chosen side since reset */
static int s_side;          /* T_OURS or T_JANSSON */
static int s_paused;        /* 1: neither fail nor count */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *text);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
char *__wrap_strdup(const char *text);

static int
s_fails(int side)
{
    return s_fail_at >= 0 && !s_paused && side == s_side && s_allocs++ == s_fail_at;
}

void *
__wrap_malloc(size_t size)
{
    return s_fails(T_OURS) ? NULL : __real_malloc(size);
}

void *
__wrap_calloc(size_t count, size_t size)
{
    return s_fails(T_OURS) ? NULL : __real_calloc(count, size);
}

void *
__wrap_realloc(void *ptr, size_t size)
{
    return s_fails(T_OURS) ? NULL : __real_realloc(ptr, size);
}

char *
__wrap_strdup(const char *text)
{
    return s_fails(T_OURS) ? NULL : __real_strdup(text);
}

static void *
s_json_malloc(size_t size)
{
    return s_fails(T_JANSSON) ? NULL : __real_malloc(size);
}

void
t_alloc_fail(long n, int side)
{
    json_set_alloc_funcs(s_json_malloc, free);
    s_allocs = 0;
    s_fail_at = n;
    s_side = side;
}

void
t_alloc_pause(int paused)
{
    s_paused = paused;
}

long
t_alloc_count(void)
{
    return s_allocs;
}

long
t_alloc_each(int (*run)(const void *arg), const void *arg, int side)
{
    for (long n = 0;; n++) {
        t_alloc_fail(n, side);
        int rc = run(arg);
        s_fail_at = -1;
        if (s_allocs <= n) {
            assert_int_equal(rc, 0);
            return n;
        }
        if (rc != -ENOMEM &&
            !(side == T_JANSSON && (rc == 0 || rc == OB_ERR_MALFORMED || rc == OB_ERR_FIELD_TYPE ||
                                    rc == OB_ERR_MISSING_FIELD || rc == OB_ERR_TOO_LARGE)))
            fail_msg("allocation %ld (%s) failed: %d", n, side == T_OURS ? "ours" : "Jansson", rc);
    }
}
