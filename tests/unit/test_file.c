/*  test_file: common/file.h, the capped reader, on files of the test's own scratch
    directory: sizes around the cap, an empty file, NUL bytes, a missing file, a directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "orderbus/error.h"

#define T_CAP 16 /* the cap these tests read with */

static char s_dir[] = "/tmp/ob-test-file-XXXXXX"; /* the scratch directory */
static char s_path[sizeof s_dir + 32];            /* the file of the current test */

/* Writes len bytes of data to s_path. */
static void
s_write(const void *data, size_t len)
{
    FILE *file = fopen(s_path, "w");
    assert_non_null(file);
    assert_int_equal(fwrite(data, 1, len, file), len);
    assert_int_equal(fclose(file), 0);
}

static int
s_setup(void **state)
{
    (void)state;
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_path, sizeof s_path, "%s/file", s_dir);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    unlink(s_path);
    return rmdir(s_dir);
}

static void
test_sizes(void **state)
{
    (void)state;
    const char data[] = "0123456789abcdefXYZ"; /* 19 bytes, over T_CAP */
    for (size_t len = 0; len <= T_CAP + 2; len++) {
        s_write(data, len);
        char *text = NULL;
        size_t got = 0;
        int rc = ob_file_read(s_path, T_CAP, &text, &got);
        if (len > T_CAP) {
            assert_int_equal(rc, OB_ERR_TOO_LARGE);
            assert_null(text);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(got, len);
        assert_memory_equal(text, data, len);
        assert_int_equal(text[len], '\0');
        free(text);
    }
}

static void
test_nul_bytes_kept(void **state)
{
    (void)state;
    s_write("a\0b", 3);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ob_file_read(s_path, T_CAP, &text, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(text, "a\0b", 4);
    free(text);
}

static void
test_errors(void **state)
{
    (void)state;
    char *text = (char *)&text; /* a sentinel: must stay as it is */
    size_t len = 7;
    char missing[sizeof s_dir + 32];
    snprintf(missing, sizeof missing, "%s/missing", s_dir);
    assert_int_equal(ob_file_read(missing, T_CAP, &text, &len), -ENOENT);
    assert_int_equal(ob_file_read(s_dir, T_CAP, &text, &len), -EIO); /* a directory */
    assert_ptr_equal(text, (char *)&text);
    assert_int_equal(len, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_nul_bytes_kept),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
