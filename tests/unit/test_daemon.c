/*  test_daemon: common/daemon.h. Signals are raised at the test process itself: SIGHUP sets
    the reload flag once, SIGTERM and SIGINT set zsys_interrupted, and SIGHUP interrupts a
    blocking poll at once (no SA_RESTART) instead of letting it wait out its timeout. */
#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

#define T_POLL_MS 5000 /* a poll the SIGHUP must cut short */
#define T_ALARM_S 1    /* when the SIGHUP comes */

static void
test_reload_flag(void **state)
{
    (void)state;
    assert_int_equal(ob_daemon_reload_requested(), 0);
    raise(SIGHUP);
    raise(SIGHUP); /* two close together are one request */
    assert_int_equal(ob_daemon_reload_requested(), 1);
    assert_int_equal(ob_daemon_reload_requested(), 0);
}

static void
test_interrupts(void **state)
{
    (void)state;
    assert_int_equal(zsys_interrupted, 0);
    raise(SIGTERM);
    assert_int_equal(zsys_interrupted, 1);
    zsys_interrupted = 0;
    raise(SIGINT);
    assert_int_equal(zsys_interrupted, 1);
    zsys_interrupted = 0;
}

/* SIGALRM's handler: sends the SIGHUP during the poll. */
static void
s_on_alarm(int sig)
{
    (void)sig;
    raise(SIGHUP);
}

static void
test_sighup_interrupts_poll(void **state)
{
    (void)state;
    zsock_t *pull = zsock_new_pull("inproc://test-daemon");
    assert_non_null(pull);
    zpoller_t *poller = zpoller_new(pull, NULL);
    signal(SIGALRM, s_on_alarm);
    alarm(T_ALARM_S);
    int64_t start = zclock_mono();
    void *which = zpoller_wait(poller, T_POLL_MS);
    int64_t took = zclock_mono() - start;
    assert_null(which);
    assert_true(took < T_POLL_MS / 2); /* the signal, not the timeout, ended the wait */
    assert_int_equal(ob_daemon_reload_requested(), 1);
    assert_int_equal(zsys_interrupted, 0); /* a SIGHUP is no interrupt */
    zpoller_destroy(&poller);
    zsock_destroy(&pull);
}

/* The listen file: one line, written whole (no .tmp left); a path that cannot be written. */
static void
test_listen_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-daemon-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64], tmp[sizeof path + 4], line[64] = "";
    snprintf(path, sizeof path, "%s/listen", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(ob_daemon_write_listen_file(path, "127.0.0.1", 7470), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "127.0.0.1:7470\n");
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(ob_daemon_write_listen_file(path, "127.0.0.1", 1), 0); /* replaced */
    f = fopen(path, "r");
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "127.0.0.1:1\n");
    unlink(path);
    snprintf(path, sizeof path, "%s/no/such/dir/listen", dir);
    assert_int_equal(ob_daemon_write_listen_file(path, "127.0.0.1", 1), -1);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    ob_daemon_log_init("test_daemon");
    if (ob_daemon_signals())
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_flag),
        cmocka_unit_test(test_interrupts),
        cmocka_unit_test(test_sighup_interrupts_poll),
        cmocka_unit_test(test_listen_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
