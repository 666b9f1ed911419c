/*  test_gw_store: the gateway's LMDB state (gateway/gw_store.h): the feed's cursors and
    announced projects, and the owners of HTTP subscriptions, across a close and reopen, in
    a scratch directory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_store.h"
#include "orderbus/error.h"

#define S_NAMES 4 /* rows a list asks for */

static char s_dir[] = "/tmp/test-gw-store-XXXXXX";

static int
s_setup(void **state)
{
    (void)state;
    return mkdtemp(s_dir) ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    char cmd[sizeof s_dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Cursors and announced projects survive a reopen; a second open of the directory is
   refused while the first holds it. */
static void
test_feed_state(void **state)
{
    (void)state;
    ob_gw_store_t *store = NULL, *second = NULL;
    assert_int_equal(ob_gw_store_open(s_dir, &store), 0);
    assert_int_equal(ob_gw_store_open(s_dir, &second), -EBUSY);
    assert_non_null(ob_gw_store_env(store));
    assert_non_null(ob_gw_store_resize_lock(store));
    uint64_t cursor = 1;
    assert_int_equal(ob_gw_store_cursor(store, 7, &cursor), 0);
    assert_int_equal(cursor, 0);
    assert_int_equal(ob_gw_store_set_cursor(store, 7, 1764000000), 0);
    assert_int_equal(ob_gw_store_announced(store, 7, 12), 0);
    assert_int_equal(ob_gw_store_announce(store, 7, 12), 0);
    ob_gw_store_close(&store);
    assert_null(store);
    assert_int_equal(ob_gw_store_open(s_dir, &store), 0);
    assert_int_equal(ob_gw_store_cursor(store, 7, &cursor), 0);
    assert_int_equal(cursor, 1764000000);
    assert_int_equal(ob_gw_store_announced(store, 7, 12), 1);
    assert_int_equal(ob_gw_store_announced(store, 8, 12), 0);
    ob_gw_store_close(&store);
    ob_gw_store_close(&store); /* NULL: nothing */
}

/* Owners of HTTP subscriptions: set, read, list by owner in pages, delete; kept across a
   reopen; lengths out of range refused. */
static void
test_sub_owners(void **state)
{
    (void)state;
    ob_gw_store_t *store = NULL;
    char owner[OB_GW_CLIENT_NAME_MAX + 1];
    char names[S_NAMES][OB_SUB_NAME_MAX + 1];
    size_t count = 0;
    int more = -1;
    assert_int_equal(ob_gw_store_open(s_dir, &store), 0);
    assert_int_equal(ob_gw_store_sub_owner(store, "billing", owner), -ENOENT);
    assert_int_equal(ob_gw_store_sub_list(store, "oms-7", "", names, S_NAMES, &count, &more), 0);
    assert_int_equal(count, 0);
    assert_int_equal(more, 0);
    const char *mine[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(ob_gw_store_set_sub_owner(store, mine[i], "oms-7"), 0);
    assert_int_equal(ob_gw_store_set_sub_owner(store, "bb", "oms-8"), 0);
    assert_int_equal(ob_gw_store_set_sub_owner(store, "", "oms-8"), -EINVAL);
    assert_int_equal(ob_gw_store_set_sub_owner(store, "x", ""), -EINVAL);
    char longname[OB_SUB_NAME_MAX + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(ob_gw_store_set_sub_owner(store, longname, "oms-8"), -EINVAL);
    ob_gw_store_close(&store);

    assert_int_equal(ob_gw_store_open(s_dir, &store), 0);
    assert_int_equal(ob_gw_store_sub_owner(store, "bb", owner), 0);
    assert_string_equal(owner, "oms-8");
    assert_int_equal(ob_gw_store_sub_list(store, "oms-7", "", names, S_NAMES, &count, &more), 0);
    assert_int_equal(count, 4);
    assert_int_equal(more, 1);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b"); /* not oms-8's bb */
    assert_string_equal(names[3], "d");
    assert_int_equal(ob_gw_store_sub_list(store, "oms-7", "d", names, S_NAMES, &count, &more), 0);
    assert_int_equal(count, 1);
    assert_int_equal(more, 0);
    assert_string_equal(names[0], "e");
    /* after a name that is not a key: from the next one */
    assert_int_equal(ob_gw_store_sub_list(store, "oms-8", "ba", names, S_NAMES, &count, &more), 0);
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "bb");
    /* replace, delete (twice: no error) */
    assert_int_equal(ob_gw_store_set_sub_owner(store, "bb", "oms-9"), 0);
    assert_int_equal(ob_gw_store_sub_owner(store, "bb", owner), 0);
    assert_string_equal(owner, "oms-9");
    assert_int_equal(ob_gw_store_del_sub_owner(store, "bb"), 0);
    assert_int_equal(ob_gw_store_del_sub_owner(store, "bb"), 0);
    assert_int_equal(ob_gw_store_sub_owner(store, "bb", owner), -ENOENT);
    ob_gw_store_close(&store);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_state),
        cmocka_unit_test(test_sub_owners),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
