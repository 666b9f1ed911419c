/*  test_backup: the hot backup and restore of README "Backup and restore", with real broker
    processes, and the single writer per data directory.

    test_hot_backup_restore: BK_PUBLISHERS threads publish continuously with confirmations,
    each on its own topic, to a broker started with a small map so that it grows while they
    run. Once BK_BEFORE events are confirmed, every confirmed (id, seq) is recorded and
    `mdb_copy -c DATA_DIR BACKUP_DIR` runs while the publishers go on (the copy must neither
    stop them nor be stopped by the broker's lock). After it, the publishers are stopped, the
    original broker is killed with SIGKILL, and a broker is started on the backup. There,
    every event recorded before the copy began must be served (an earliest subscription)
    with its seq, in order, each once; re-publishing a recorded id must give dup = 1 with the
    original seq; and a new publish on each topic must continue its sequence.

    test_second_broker_refused: a second broker on a data directory that a running broker
    holds exits with status 1 and an error that names the directory and the holder's pid;
    once the holder is killed with SIGKILL, a broker starts on the directory.

    mdb_copy comes from OB_MDB_COPY (a compile-time path, found by CMake: package
    lmdb-utils). */
#include <czmq.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"

#define BK_NAME "bk" /* the publishers' client name: topics bk.<p> */
#define BK_PUBLISHERS 3
#define BK_EVENTS_MAX 200000 /* per publisher: a bound, never reached in a normal run */
#define BK_BEFORE 6000       /* events confirmed (all publishers) before the backup */
#define BK_DURING 3000       /* events confirmed after the backup began, before the stop */
#define BK_WINDOW 128        /* each publisher's window of unconfirmed publishes */
#define BK_MAP_SIZE "1M"     /* the original broker's initial map: it grows during the run */
#define BK_WAIT_MS 30000     /* any single wait in the test */
#define BK_EXIT_MS 10000     /* a refused broker must exit by then */
#define BK_REPUBLISH 4       /* recorded ids re-published per topic */
#define BK_STDERR_MAX 4096   /* bytes of a refused broker's stderr read back */

/* plaintext on loopback (security/curve 0): these tests are about storage, not CURVE */
#define BK_PLAIN "--curve", "0"

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static long s_confirmed;  /* confirmations, all publishers; guarded by s_lock */
static atomic_int s_stop; /* publishers stop publishing */

/* broker_proc_record_fn: arg is the publisher's array of BK_EVENTS_MAX seqs, that of event i
   or 0 if none, guarded by s_lock. A refusal or a duplicate fails the publisher. */
static int
s_record(void *arg, long i, const ob_confirm_t *c)
{
    if (c->rc != 0 || c->dup)
        return c->rc ? c->rc : OB_ERR_INVALID_ARGUMENT;
    uint64_t *seq = arg;
    pthread_mutex_lock(&s_lock);
    seq[i] = c->seq;
    s_confirmed++;
    pthread_cond_broadcast(&s_cond);
    pthread_mutex_unlock(&s_lock);
    return 0;
}

/* Runs argv (NULL-terminated) and returns its exit status (0..255), or -1 if it could not
   run or was killed. */
static int
s_run(const char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* Waits (on confirmations, not on time) until s_confirmed >= target, failing the test if
   that takes BK_WAIT_MS (a publisher failed); returns the count then. */
static long
s_wait_confirmed(long target)
{
    long now = broker_proc_wait_count(&s_lock, &s_cond, &s_confirmed, target, BK_WAIT_MS);
    if (now < target)
        fail_msg("%ld of %ld publishes confirmed after %d ms", now, target, BK_WAIT_MS);
    return now;
}

static void
test_hot_backup_restore(void **state)
{
    (void)state;
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "backup"), 0);
    char backup_dir[512], path[600];
    snprintf(backup_dir, sizeof backup_dir, "%s/backup", site.dir);
    pid_t broker =
        broker_proc_start(site.data_dir, site.endpoint, BK_PLAIN, "--map-size", BK_MAP_SIZE, NULL);
    assert_true(broker > 0);

    broker_proc_pub_t *pubs[BK_PUBLISHERS];
    uint64_t *seq[BK_PUBLISHERS];      /* s_record's */
    uint64_t *recorded[BK_PUBLISHERS]; /* the confirmed seqs when the backup began */
    ob_client_config_t pub_cfg = {.name = BK_NAME, .window = BK_WINDOW, .timeout_ms = BK_WAIT_MS};
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        seq[p] = calloc(BK_EVENTS_MAX, sizeof(uint64_t));
        recorded[p] = calloc(BK_EVENTS_MAX, sizeof(uint64_t));
        assert_non_null(seq[p]);
        assert_non_null(recorded[p]);
        pubs[p] = broker_proc_pub_start(site.endpoint, &pub_cfg, p, BK_EVENTS_MAX, &s_stop,
                                        s_record, seq[p]);
        assert_non_null(pubs[p]);
    }

    /* Record every confirmed (id, seq) before the backup starts: the guarantee covers these. */
    s_wait_confirmed(BK_BEFORE);
    pthread_mutex_lock(&s_lock);
    long at_backup = s_confirmed;
    uint64_t recorded_max[BK_PUBLISHERS] = {0};
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        memcpy(recorded[p], seq[p], BK_EVENTS_MAX * sizeof(uint64_t));
        for (long i = 0; i < BK_EVENTS_MAX; i++)
            if (recorded[p][i] > recorded_max[p])
                recorded_max[p] = recorded[p][i];
    }
    pthread_mutex_unlock(&s_lock);

    /* The documented command, while the publishers go on. mdb_copy wants the target
       directory to exist and hold no data.mdb. */
    assert_int_equal(mkdir(backup_dir, 0700), 0);
    const char *copy[] = {OB_MDB_COPY, "-c", site.data_dir, backup_dir, NULL};
    assert_int_equal(s_run(copy), 0);
    pthread_mutex_lock(&s_lock);
    long after_copy = s_confirmed;
    pthread_mutex_unlock(&s_lock);

    /* The broker kept confirming while and after the copy ran: a hot backup. */
    s_wait_confirmed(after_copy + BK_DURING);
    atomic_store(&s_stop, 1);
    for (int p = 0; p < BK_PUBLISHERS; p++)
        assert_int_equal(broker_proc_pub_join(&pubs[p]), 0);
    /* every event published is confirmed, or its publisher failed: s_confirmed counts them */
    print_message("%ld confirmed when the copy began, %ld when it ended, %ld published\n",
                  at_backup, after_copy, s_confirmed);
    assert_int_equal(broker_proc_stop(broker, SIGKILL) & 0x7f, SIGKILL);

    /* The original's data file outgrew its initial 1 MiB map: the map grew during the run
       (LMDB's file is never larger than its map). */
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", site.data_dir);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1024 * 1024);

    /* The backup is a bare environment: no broker.lock (nor lock.mdb) to block the restore. */
    snprintf(path, sizeof path, "%s/broker.lock", backup_dir);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/lock.mdb", backup_dir);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/data.mdb", backup_dir);
    assert_int_equal(stat(path, &st), 0);

    /* Restore: a broker on the backup, on a new endpoint. */
    snprintf(site.endpoint, sizeof site.endpoint, "%s", BROKER_PROC_EPHEMERAL);
    broker = broker_proc_start(backup_dir, site.endpoint, BK_PLAIN, NULL);
    assert_true(broker > 0);
    ob_client_config_t cfg = {.name = "restore", .timeout_ms = BK_WAIT_MS};
    ob_client_t *client = ob_client_new(site.endpoint, &cfg);
    assert_non_null(client);

    /* A new event on each topic continues its sequence: past every recorded seq. */
    uint64_t next_seq[BK_PUBLISHERS];
    char id[64], topic[32];
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        snprintf(topic, sizeof topic, BROKER_PROC_TOPIC_FMT, BK_NAME, p);
        ob_event_t ev = {.id = "bk-after-restore", .topic = topic, .type = "project_item.created"};
        ob_confirm_t c;
        assert_int_equal(ob_client_publish(client, &ev, &c), 0);
        assert_int_equal(c.dup, 0);
        assert_true(c.seq > recorded_max[p]);
        next_seq[p] = c.seq;
    }

    /* Every stored event, from an earliest subscription: each topic's seqs 1.. in order,
       each once; the event at seq s is the publisher's s-th, so no id is stored twice; and
       every recorded (id, seq) is among them. Events the copy took after it began (seq above
       recorded_max) are the publisher's too. */
    const char *patterns[] = {"bk.>"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(client, "verify", &opts, NULL, NULL), 0);
    uint64_t expect[BK_PUBLISHERS];
    int done = 0;
    for (int p = 0; p < BK_PUBLISHERS; p++)
        expect[p] = 1;
    long served = 0;
    while (done < BK_PUBLISHERS) {
        ob_delivery_t *d = NULL;
        assert_int_equal(ob_client_receive(client, BK_WAIT_MS, &d), 0);
        int p = -1;
        assert_int_equal(sscanf(d->topic, "bk.%d", &p), 1);
        assert_true(p >= 0 && p < BK_PUBLISHERS);
        assert_int_equal(d->attempt, 1);
        assert_int_equal(d->seq, expect[p]);
        ob_event_t *ev = NULL;
        assert_int_equal(ob_delivery_decode(d, &ev), 0);
        if (d->seq == next_seq[p]) {
            assert_string_equal(ev->id, "bk-after-restore");
            done++;
        } else {
            snprintf(id, sizeof id, BROKER_PROC_EVENT_ID_FMT, BK_NAME, p, (long)d->seq - 1);
            assert_string_equal(ev->id, id);
            uint64_t want = recorded[p][d->seq - 1];
            assert_true(want == 0 || want == d->seq);
            served++;
        }
        expect[p]++;
        ob_event_destroy(&ev);
        assert_int_equal(ob_client_ack(client, d), 0);
        ob_delivery_destroy(&d);
    }
    long recorded_count = 0;
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        /* each recorded seq s <= recorded_max was served (seqs are contiguous up to
           next_seq), and recorded event i has seq i + 1 */
        for (long i = 0; i < BK_EVENTS_MAX; i++)
            if (recorded[p][i]) {
                assert_int_equal(recorded[p][i], (uint64_t)i + 1);
                recorded_count++;
            }
        assert_true(next_seq[p] > recorded_max[p]);
    }
    assert_int_equal(recorded_count, at_backup);
    print_message("restored: %ld events served, %ld recorded before the copy\n", served,
                  recorded_count);

    /* Re-publishing recorded ids: duplicates, with their original seqs. */
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        snprintf(topic, sizeof topic, BROKER_PROC_TOPIC_FMT, BK_NAME, p);
        for (int k = 0; k < BK_REPUBLISH; k++) {
            long i = (long)(recorded_max[p] - 1) * k / (BK_REPUBLISH - 1);
            assert_int_not_equal(recorded[p][i], 0);
            snprintf(id, sizeof id, BROKER_PROC_EVENT_ID_FMT, BK_NAME, p, i);
            ob_event_t ev = {.id = id, .topic = topic, .type = "project_item.created"};
            ob_confirm_t c;
            assert_int_equal(ob_client_publish(client, &ev, &c), 0);
            assert_int_equal(c.dup, 1);
            assert_int_equal(c.seq, recorded[p][i]);
        }
    }

    ob_client_destroy(&client);
    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    for (int p = 0; p < BK_PUBLISHERS; p++) {
        free(seq[p]);
        free(recorded[p]);
    }
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

/* Starts a broker on data_dir that is expected to fail, with its stderr in err_file, and
   waits up to BK_EXIT_MS for it to exit. Returns its exit status (0..255), or -1 (it was
   still running, and is killed, or it died of a signal). */
static int
s_start_refused(const char *data_dir, const char *endpoint, const char *err_file)
{
    const char *broker = getenv("OB_BROKER");
    if (!broker)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(err_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        execl(broker, broker, "--data-dir", data_dir, "--endpoint", endpoint, BK_PLAIN,
              "--metrics=", (char *)NULL);
        _exit(127);
    }
    /* Polls the observable condition (the child's exit) with a deadline. */
    int64_t deadline = zclock_mono() + BK_EXIT_MS;
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && zclock_mono() < deadline)
        zclock_sleep(10);
    if (got != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_second_broker_refused(void **state)
{
    (void)state;
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "backup-lock"), 0);
    char other[BROKER_PROC_ENDPOINT_MAX], err_file[600], want[600];
    snprintf(err_file, sizeof err_file, "%s/second.err", site.dir);
    snprintf(other, sizeof other, "%s", BROKER_PROC_EPHEMERAL);
    pid_t first = broker_proc_start(site.data_dir, site.endpoint, BK_PLAIN, NULL);
    assert_true(first > 0);

    assert_int_equal(s_start_refused(site.data_dir, other, err_file), 1);
    char text[BK_STDERR_MAX] = "";
    FILE *f = fopen(err_file, "r");
    assert_non_null(f);
    size_t got = fread(text, 1, sizeof text - 1, f);
    text[got] = '\0';
    fclose(f);
    print_message("the second broker said: %s", text);
    snprintf(want, sizeof want, "the data directory %s is in use by another broker (pid %ld,",
             site.data_dir, (long)first);
    assert_non_null(strstr(text, want));

    /* The first is unharmed: it still welcomes clients. */
    ob_client_t *client = ob_client_new(site.endpoint, NULL);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, BK_WAIT_MS), 0);
    ob_client_destroy(&client);

    /* kill -9 releases the directory: no stale lock. */
    assert_int_equal(broker_proc_stop(first, SIGKILL) & 0x7f, SIGKILL);
    pid_t second = broker_proc_start(site.data_dir, other, BK_PLAIN, NULL);
    assert_true(second > 0);
    assert_int_equal(broker_proc_stop(second, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_broker_refused),
        cmocka_unit_test(test_hot_backup_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
