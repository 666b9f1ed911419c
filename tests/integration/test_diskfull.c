/*  test_diskfull: a full disk through the server actor (issue 12): every publish of a failed
    commit gets ERROR STORAGE whose reason names the cause, and the log says it once, then at
    most a line per OB_SERVER_STORAGE_LOG_MS that counts the failures since the last, and
    once more when commits succeed again; not a line per failed commit.

    mdb_txn_commit is wrapped (-Wl,--wrap): while s_disk_full is set it fails with ENOSPC,
    what LMDB returns when the data file cannot grow. zclock_mono is wrapped too, so that the
    test can move the server's clock past OB_SERVER_STORAGE_LOG_MS instead of waiting. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "orderbus/orderbus.h"
#include "peer.h"
#include "server.h"

#define T_PUBLISHES 300 /* publishes while the disk is full, each its own commit */
#define T_LINE_MAX 1024 /* bytes in a log line */
#define T_FAILED "server: commit failed, "
#define T_AGAIN "server: storage works again ("
#define T_AND "(and "

static atomic_int s_disk_full;    /* set: every commit fails with ENOSPC */
static atomic_llong s_clock_skew; /* ms added to zclock_mono */

int64_t __real_zclock_mono(void);
int64_t __wrap_zclock_mono(void);

int64_t
__wrap_zclock_mono(void)
{
    return __real_zclock_mono() + atomic_load(&s_clock_skew);
}

int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);

int
__wrap_mdb_txn_commit(MDB_txn *txn)
{
    if (atomic_load(&s_disk_full)) {
        mdb_txn_abort(txn); /* a failed commit frees the transaction, as LMDB's does */
        return ENOSPC;
    }
    return __real_mdb_txn_commit(txn);
}

static void
test_disk_full(void **state)
{
    (void)state;
    t_broker_t *fx = t_broker_new("diskfull", NULL);
    char log_path[T_PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/log", fx->dir);
    FILE *log = fopen(log_path, "w");
    assert_non_null(log);
    /* The longest heartbeat: the clock skew below must not make the server's session
       expiry think the peer has been silent for OB_LIVENESS heartbeats (HELLO_REQUIRED). */
    zsock_t *peer = t_peer(fx, OB_HEARTBEAT_MS_MAX);
    t_publish(fx, peer, "oms.1", "before", "x"); /* a commit that works, before the log */

    zsys_set_logstream(log);
    int64_t start = zclock_mono();
    atomic_store(&s_disk_full, 1);
    uint8_t *event = NULL;
    size_t event_len = 0;
    for (int i = 0; i < T_PUBLISHES; i++) {
        if (i == T_PUBLISHES / 2) /* half-way, the log's interval passes */
            atomic_fetch_add(&s_clock_skew, OB_SERVER_STORAGE_LOG_MS);
        char id[32];
        snprintf(id, sizeof id, "full-%d", i);
        t_event("oms.1", id, "x", 16, &event, &event_len);
        ob_wire_msg_t msg = {.command = OB_CMD_PUBLISH, .req = fx->next_req++};
        t_send(peer, &msg, event, event_len);
        free(event);
        t_msg_t reply;
        t_expect(peer, OB_CMD_ERROR, &reply);
        assert_int_equal(reply.wire.req, msg.req);
        assert_int_equal(reply.wire.code, ob_error_to_wire(OB_ERR_STORAGE));
        if (!strstr(reply.wire.reason, "no space left on device"))
            fail_msg("ERROR reason without the cause: %s", reply.wire.reason);
        t_msg_clear(&reply);
    }
    atomic_store(&s_disk_full, 0);
    t_publish(fx, peer, "oms.1", "after", "x"); /* space is back: it is stored */
    int64_t elapsed = __real_zclock_mono() - start;
    zsys_set_logstream(stdout);
    assert_int_equal(fclose(log), 0);

    /* Every failed commit is counted in exactly one line; the lines are few. */
    log = fopen(log_path, "r");
    assert_non_null(log);
    char line[T_LINE_MAX];
    uint64_t counted = 0, failed_lines = 0, again_lines = 0, summaries = 0;
    while (fgets(line, sizeof line, log)) {
        const char *at = NULL;
        uint64_t n = 0;
        if (strstr(line, T_FAILED) || strstr(line, T_AGAIN))
            print_message("log: %s", line);
        if (strstr(line, T_FAILED)) {
            failed_lines++;
            counted++;
            if (!strstr(line, "no space left on device"))
                fail_msg("log line without the cause: %s", line);
            if ((at = strstr(line, T_AND))) {
                summaries++;
                assert_int_equal(sscanf(at + strlen(T_AND), "%" SCNu64, &n), 1);
            }
        } else if ((at = strstr(line, T_AGAIN))) {
            again_lines++;
            assert_int_equal(sscanf(at + strlen(T_AGAIN), "%" SCNu64, &n), 1);
        }
        counted += n;
    }
    fclose(log);
    print_message("%" PRIu64 " failure lines and %" PRIu64 " recovery line for %d failed "
                  "commits in %" PRId64 " ms\n",
                  failed_lines, again_lines, T_PUBLISHES, elapsed);
    assert_int_equal(counted, T_PUBLISHES);
    assert_int_equal(again_lines, 1);
    /* the first failure, then the summary when the interval had passed; a slower machine
       than OB_SERVER_STORAGE_LOG_MS for the whole loop may add as many lines as intervals */
    uint64_t intervals = 1 + (uint64_t)(elapsed / OB_SERVER_STORAGE_LOG_MS);
    assert_true(failed_lines >= 2 && failed_lines <= 1 + intervals);
    assert_true(summaries >= 1 && summaries <= intervals);
    zsock_destroy(&peer);
    t_broker_destroy(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
