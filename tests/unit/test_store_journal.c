/*  test_store_journal: the store's durability path (store.h, "Durability"): a commit is
    durable once its journal record is synced; LMDB is written without a sync and
    checkpointed; after an unclean stop the store goes back to its last checkpoint and replays
    the journal.

    An unclean stop is a child process that opens the store, commits, tells the parent what
    each commit returned, and ends with _exit (or is killed) without closing it: its LMDB
    writes are in the page cache, as after a kill -9, and the open that follows takes the
    same path as after a power loss (it cannot tell them apart). Cutting and flipping bits in
    the journal's last records stands for what a power loss leaves of writes in flight. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "orderbus/orderbus.h"
#include "peer.h" /* t_remove_tree, T_PATH_MAX */
#include "store.h"

#define T_TOPICS 3        /* topics the commits spread over */
#define T_EVENT_MAX 512   /* bytes of a test event */
#define T_COMMITS 12      /* commits before the unclean stop of the cut tests */
#define T_CUT_RECORDS 3   /* last records cut at every byte offset */
#define T_RECORDS_MAX 256 /* records a test lists */

/* --- fdatasync, wrapped: the journal's syncs of its checkpoint file fail on demand ----------- */

#define T_CHECKPOINT_FILE "/checkpoint" /* the end of its path (journal.c) */
#define T_WAIT_US (10 * 1000 * 1000)    /* longest a child waits for a checkpoint's outcome */
#define T_POLL_US 1000                  /* how often it looks */
#define T_TAIL 3                        /* commits after the last checkpoint asked for */

static atomic_int s_fail_checkpoints; /* 1: every sync of the checkpoint file fails (EIO) */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* Returns 1 if fd is the journal's checkpoint file. */
static int
s_is_checkpoint_file(int fd)
{
    char path[T_PATH_MAX];
    size_t n = t_fd_path(fd, path, sizeof path), tail = strlen(T_CHECKPOINT_FILE);
    return n > tail && strcmp(path + n - tail, T_CHECKPOINT_FILE) == 0;
}

int
__wrap_fdatasync(int fd)
{
    if (atomic_load(&s_fail_checkpoints) && s_is_checkpoint_file(fd)) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

/* --- helpers ------------------------------------------------------------------------------- */

/* Makes a scratch directory into dir (T_PATH_MAX bytes) and returns the store's data
   directory inside it in data (T_PATH_MAX bytes). */
static void
s_scratch(char *dir, char *data)
{
    snprintf(dir, T_PATH_MAX, "/tmp/ob-test-journal-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_true(snprintf(data, T_PATH_MAX, "%s/data", dir) < T_PATH_MAX);
}

/* The event of commit c, item i: its id and bytes (deterministic, so the parent knows what
   each commit stored). Writes the topic name into topic (OB_TOPIC_MAX + 1 bytes). */
static void
s_event(int c, int i, char *topic, char *id, size_t id_size, uint8_t *event, size_t *event_len)
{
    snprintf(topic, OB_TOPIC_MAX + 1, "oms.%d", (c + i) % T_TOPICS);
    snprintf(id, id_size, "c%d-i%d", c, i);
    size_t len = 40 + (size_t)((c * 37 + i * 11) % 200);
    for (size_t b = 0; b < len; b++)
        event[b] = (uint8_t)(c * 7 + i * 13 + b);
    *event_len = len;
}

/* Items in commit c: 1 to 3. */
static int
s_items_of(int c)
{
    return 1 + c % 3;
}

/* Commits commit number c (its items, and a position of subscription "sub" on its first
   topic) to store. Returns what ob_store_commit returned; the seqs go to seqs (3 entries). */
static int
s_commit(ob_store_t *store, int c, uint64_t *seqs)
{
    char topics[3][OB_TOPIC_MAX + 1], ids[3][32];
    uint8_t events[3][T_EVENT_MAX];
    size_t lens[3];
    ob_store_item_t items[3];
    int n = s_items_of(c);
    for (int i = 0; i < n; i++) {
        s_event(c, i, topics[i], ids[i], sizeof ids[i], events[i], &lens[i]);
        items[i] = (ob_store_item_t){.topic = topics[i],
                                     .topic_len = strlen(topics[i]),
                                     .event_id = ids[i],
                                     .event_id_len = strlen(ids[i]),
                                     .event = events[i],
                                     .event_len = lens[i]};
    }
    char pos[16];
    snprintf(pos, sizeof pos, "pos-%d", c);
    ob_store_op_t op = {.kind = OB_STORE_PUT_POS,
                        .sub = "sub",
                        .topic = topics[0],
                        .value = (const uint8_t *)pos,
                        .value_len = strlen(pos)};
    int rc = ob_store_commit(store, items, (size_t)n, &op, 1);
    for (int i = 0; i < n && seqs; i++)
        seqs[i] = items[i].rc ? 0 : items[i].seq;
    return rc;
}

/* What a scan of one topic found. */
typedef struct s_seen {
    uint64_t count;    /* events read */
    uint64_t last_seq; /* seq of the last one */
    int bad;           /* an event out of order, or not one the commits made */
} s_seen_t;

static int
s_on_event(void *arg, const ob_store_event_t *event)
{
    s_seen_t *seen = arg;
    if (event->seq != seen->last_seq + 1)
        seen->bad = 1;
    seen->last_seq = event->seq;
    seen->count++;
    return 0;
}

/* Checks that the store in data holds exactly the events of commits 0..commits-1, each
   once, in order, with its bytes, and the position the last of them wrote. */
static void
s_expect_commits(const char *data, int commits)
{
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), 0);
    uint64_t expect[T_TOPICS] = {0};
    for (int c = 0; c < commits; c++)
        for (int i = 0; i < s_items_of(c); i++) {
            char topic[OB_TOPIC_MAX + 1], id[32];
            uint8_t event[T_EVENT_MAX];
            size_t len;
            s_event(c, i, topic, id, sizeof id, event, &len);
            uint64_t seq = ++expect[(c + i) % T_TOPICS];
            uint8_t *got = NULL;
            size_t got_len = 0;
            assert_int_equal(ob_store_get(store, topic, seq, &got, &got_len, NULL), 0);
            assert_int_equal(got_len, len);
            assert_memory_equal(got, event, len);
            free(got);
        }
    for (int t = 0; t < T_TOPICS; t++) {
        char topic[OB_TOPIC_MAX + 1];
        snprintf(topic, sizeof topic, "oms.%d", t);
        s_seen_t seen = {0};
        ob_topic_stat_t stat;
        int rc = ob_store_scan(store, topic, 1, SIZE_MAX, s_on_event, &seen, &stat, NULL);
        if (expect[t] == 0) {
            /* no event: the topic is absent, or (created by a later, lost commit) it is not */
            assert_true(rc == OB_ERR_NO_SUCH_TOPIC || (rc == 0 && seen.count == 0));
            continue;
        }
        assert_int_equal(rc, 0);
        assert_false(seen.bad);
        assert_int_equal(seen.count, expect[t]); /* nothing of a later commit */
    }
    ob_store_close(&store);
}

/* What a child does with the store it opened (data, with arg); returns its exit status,
   0 when everything went as the test expects. */
typedef int(s_child_fn)(ob_store_t *store, const void *arg);

/* Runs fn in a child that opens the store in data with a map of map_size bytes and then
   ends without closing it (an unclean stop: LMDB's writes are in the page cache, not
   synced); asserts that fn returned 0. */
static void
s_in_child(const char *data, uint64_t map_size, s_child_fn *fn, const void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ob_store_t *store = NULL;
        _exit(ob_store_open(data, map_size, &store) ? 2 : fn(store, arg));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Commits of a child: [from, to), whether the map must have grown meanwhile, and whether
   checkpoints are held off (then the journal holds one record per commit, whatever the
   machine's speed). */
typedef struct s_range {
    int from, to;
    int grows;
    int no_checkpoints;
} s_range_t;

static int
s_commits(ob_store_t *store, const void *arg)
{
    const s_range_t *range = arg;
    ob_store_stats_t stats;
    if (range->no_checkpoints)
        ob_store_set_checkpoint(store, UINT64_MAX, UINT64_MAX);
    for (int c = range->from; c < range->to; c++)
        if (s_commit(store, c, NULL))
            return 3;
    if (range->grows && (ob_store_stats(store, &stats) || stats.growths == 0))
        return 4;
    return 0;
}

/* Runs commits 0..commits-1, with checkpoints held off, in a child that then ends without
   closing the store: its journal holds one record per commit after the open's checkpoint. */
static void
s_unclean_child(const char *data, int commits)
{
    s_in_child(data, 1 << 20, s_commits, &(s_range_t){0, commits, 0, 1});
}

/* A whole file's bytes. */
typedef struct s_file {
    char path[T_PATH_MAX];
    uint8_t *bytes;
    size_t len;
} s_file_t;

static void
s_file_save(s_file_t *file, const char *dir, const char *name)
{
    snprintf(file->path, sizeof file->path, "%s/%s", dir, name);
    FILE *f = fopen(file->path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    file->len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    file->bytes = malloc(file->len ? file->len : 1);
    assert_non_null(file->bytes);
    assert_int_equal(fread(file->bytes, 1, file->len, f), file->len);
    fclose(f);
}

/* Writes the saved bytes back, the file's length included. */
static void
s_file_restore(const s_file_t *file)
{
    int fd = open(file->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, file->bytes, file->len), (ssize_t)file->len);
    close(fd);
}

/* Writes back the bytes of a saved segment from from to to (and a page beyond), and its
   length: what lies further was zeros when it was saved (a segment is written with zeros
   when it is made, and these tests fill far less than one), which the length restores. */
static void
s_segment_restore(const s_file_t *file, uint64_t from, uint64_t to)
{
    uint64_t end = to + 4096 < file->len ? to + 4096 : file->len;
    int fd = open(file->path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)file->len), 0);
    assert_int_equal(pwrite(fd, file->bytes + from, (size_t)(end - from), (off_t)from),
                     (ssize_t)(end - from));
    close(fd);
}

/* The journal's one segment file in data's journal directory: its name into name. */
static void
s_segment_name(const char *data, char *name, size_t size)
{
    char dir[T_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/journal", data);
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *entry;
    int found = 0;
    while ((entry = readdir(d)))
        if (!strncmp(entry->d_name, "seg-", 4)) {
            assert_true(snprintf(name, size, "journal/%s", entry->d_name) < (int)size);
            found++;
        }
    closedir(d);
    assert_int_equal(found, 1);
}

/* The records of a journal: lsn and payload bytes of each. */
typedef struct s_records {
    uint64_t lsn[T_RECORDS_MAX];
    size_t len[T_RECORDS_MAX];
    size_t count;
} s_records_t;

static int
s_on_record(void *arg, uint64_t lsn, const uint8_t *payload, size_t len)
{
    (void)payload;
    s_records_t *records = arg;
    assert_true(records->count < T_RECORDS_MAX);
    records->lsn[records->count] = lsn;
    records->len[records->count] = len;
    records->count++;
    return 0;
}

/* Lists the records of the journal of data (from its checkpoint on) into records. */
static void
s_list_records(const char *data, s_records_t *records)
{
    char dir[T_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/journal", data);
    ob_journal_t *journal = NULL;
    memset(records, 0, sizeof *records);
    assert_int_equal(ob_journal_open(dir, 0, &journal), 0);
    assert_int_equal(ob_journal_replay(journal, s_on_record, records, NULL, NULL), 0);
    ob_journal_close(&journal);
}

/* --- tests --------------------------------------------------------------------------------- */

/* Every commit that returned 0 before an unclean stop is there after it, once, in order;
   the store goes on from there; and a clean stop leaves nothing to replay. */
static void
test_unclean_stop_keeps_commits(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX];
    s_scratch(dir, data);
    s_unclean_child(data, 50);
    s_expect_commits(data, 50);

    /* the store goes on after the replay, and again after a second unclean stop */
    s_in_child(data, 1 << 20, s_commits, &(s_range_t){50, 80, 0, 0});
    s_expect_commits(data, 80);

    s_records_t records;
    s_list_records(data, &records);
    assert_int_equal(records.count, 0); /* s_expect_commits closed it cleanly */
    t_remove_tree(dir);
}

/* A commit killed with SIGKILL at a random point: every commit the child reported done is
   there, and at most the one in flight besides. */
static void
test_kill_during_commits(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX];
    s_scratch(dir, data);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        ob_store_t *store = NULL;
        if (ob_store_open(data, 1 << 20, &store))
            _exit(2);
        for (int c = 0;; c++) {
            if (s_commit(store, c, NULL))
                _exit(3);
            if (write(fds[1], &c, sizeof c) != (ssize_t)sizeof c)
                _exit(4);
        }
    }
    close(fds[1]);
    int done = -1, c;
    srand((unsigned)getpid());
    int stop_after = 200 + rand() % 300;
    while (done < stop_after && read(fds[0], &c, sizeof c) == (ssize_t)sizeof c)
        done = c;
    kill(pid, SIGKILL);
    while (read(fds[0], &c, sizeof c) == (ssize_t)sizeof c)
        done = c; /* reported before it died */
    close(fds[0]);
    waitpid(pid, NULL, 0);

    /* done + 1 commits were reported; the one in flight may be there too */
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), 0);
    uint64_t events = 0;
    for (int t = 0; t < T_TOPICS; t++) {
        char topic[OB_TOPIC_MAX + 1];
        ob_topic_stat_t stat;
        snprintf(topic, sizeof topic, "oms.%d", t);
        assert_int_equal(ob_store_topic_stat(store, topic, &stat), 0);
        events += stat.events;
    }
    ob_store_close(&store);
    uint64_t reported = 0;
    for (int k = 0; k <= done; k++)
        reported += (uint64_t)s_items_of(k);
    assert_true(events == reported || events == reported + (uint64_t)s_items_of(done + 1));
    s_expect_commits(data, events == reported ? done + 1 : done + 2);
    t_remove_tree(dir);
}

/* The journal cut at every byte offset of its last records (a power loss in the middle of
   their writes), by truncating the segment or by zeros from the offset on: the store holds
   exactly the commits whose records lie wholly before the cut. */
static void
test_cut_at_every_offset(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX], segment[T_PATH_MAX];
    s_scratch(dir, data);
    s_unclean_child(data, T_COMMITS);
    s_segment_name(data, segment, sizeof segment);
    s_records_t records;
    s_list_records(data, &records);
    assert_int_equal(records.count, T_COMMITS); /* one record a commit, after the checkpoint */

    s_file_t saved[3];
    s_file_save(&saved[0], data, "data.mdb");
    s_file_save(&saved[1], data, "journal/checkpoint");
    s_file_save(&saved[2], data, segment);
    uint64_t seg_lsn = strtoull(strrchr(segment, '-') + 1, NULL, 16);
    size_t first = T_COMMITS - T_CUT_RECORDS;
    uint64_t from = records.lsn[first] - seg_lsn;
    uint64_t to =
        records.lsn[T_COMMITS - 1] + OB_JOURNAL_HEADER_BYTES + records.len[T_COMMITS - 1] - seg_lsn;

    for (int zeros = 0; zeros <= 1; zeros++)
        for (uint64_t cut = from; cut <= to; cut++) {
            s_file_restore(&saved[0]);
            s_file_restore(&saved[1]);
            s_segment_restore(&saved[2], from, to);
            if (zeros) {
                int fd = open(saved[2].path, O_WRONLY);
                assert_true(fd >= 0);
                static const uint8_t zero[4096];
                assert_int_equal(pwrite(fd, zero, (size_t)(to - cut), (off_t)cut),
                                 (ssize_t)(to - cut));
                close(fd);
            } else
                assert_int_equal(truncate(saved[2].path, (off_t)cut), 0);
            /* the commits whose records end at or before the cut */
            int whole = (int)first;
            while (whole < T_COMMITS &&
                   records.lsn[whole] + OB_JOURNAL_HEADER_BYTES + records.len[whole] - seg_lsn <=
                       cut)
                whole++;
            s_expect_commits(data, whole);
        }
    for (int f = 0; f < 3; f++)
        free(saved[f].bytes);
    t_remove_tree(dir);
}

/* A bit flipped anywhere in the last record: that record is not applied, at all; every
   earlier one is. */
static void
test_flipped_bit_in_tail(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX], segment[T_PATH_MAX];
    s_scratch(dir, data);
    s_unclean_child(data, T_COMMITS);
    s_segment_name(data, segment, sizeof segment);
    s_records_t records;
    s_list_records(data, &records);
    assert_int_equal(records.count, T_COMMITS);

    s_file_t saved[3];
    s_file_save(&saved[0], data, "data.mdb");
    s_file_save(&saved[1], data, "journal/checkpoint");
    s_file_save(&saved[2], data, segment);
    uint64_t seg_lsn = strtoull(strrchr(segment, '-') + 1, NULL, 16);
    uint64_t from = records.lsn[T_COMMITS - 1] - seg_lsn;
    uint64_t to = from + OB_JOURNAL_HEADER_BYTES + records.len[T_COMMITS - 1];
    for (uint64_t at = from; at < to; at++) {
        s_file_restore(&saved[0]);
        s_file_restore(&saved[1]);
        s_segment_restore(&saved[2], from, to);
        int fd = open(saved[2].path, O_RDWR);
        assert_true(fd >= 0);
        uint8_t byte = (uint8_t)(saved[2].bytes[at] ^ (1u << (at % 8)));
        assert_int_equal(pwrite(fd, &byte, 1, (off_t)at), 1);
        close(fd);
        s_expect_commits(data, T_COMMITS - 1);
    }
    for (int f = 0; f < 3; f++)
        free(saved[f].bytes);
    t_remove_tree(dir);
}

/* A data file that is not the one the journal's checkpoint names (a backup copied in next
   to the journal of an unclean stop) is refused rather than mixed with it; in an empty
   directory the same copy opens, with everything it held. */
static void
test_other_data_file_refused(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX], copy[T_PATH_MAX];
    s_scratch(dir, data);
    s_unclean_child(data, 5);
    s_expect_commits(data, 5); /* a clean stop */
    s_file_t file;
    s_file_save(&file, data, "data.mdb");
    /* later sessions: one unclean, whose replay ends in a checkpoint newer than the copy,
       then another unclean one */
    s_unclean_child(data, 8); /* commits 0..4 again (duplicates), then 5..7 */
    s_expect_commits(data, 8);
    s_unclean_child(data, 10);

    /* the saved copy, as a new file, next to the journal of the unclean stop */
    char path[T_PATH_MAX];
    assert_true(snprintf(path, sizeof path, "%s/data.mdb", data) < (int)sizeof path);
    assert_int_equal(unlink(path), 0);
    s_file_restore(&file);
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), OB_ERR_STORAGE);

    /* the same copy alone in a new directory: a backup restored as the README says */
    assert_true(snprintf(copy, sizeof copy, "%s/restored", dir) < (int)sizeof copy);
    assert_int_equal(mkdir(copy, 0700), 0);
    assert_true(snprintf(file.path, sizeof file.path, "%s/data.mdb", copy) < (int)sizeof file.path);
    s_file_restore(&file);
    s_expect_commits(copy, 5);
    free(file.bytes);
    t_remove_tree(dir);
}

/* A checkpoint whose snapshot is not an LMDB meta page, though its slot's CRC is right (a
   bug, not the disk: the CRC covers the disk), is refused at the open after an unclean
   stop, before anything is written into data.mdb; put right again, the store opens with
   every commit. */
static void
test_bad_snapshot_refused(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX], journal_dir[T_PATH_MAX];
    s_scratch(dir, data);
    s_unclean_child(data, T_COMMITS);
    assert_true(snprintf(journal_dir, sizeof journal_dir, "%s/journal", data) <
                (int)sizeof journal_dir);

    ob_journal_t *journal = NULL;
    ob_journal_checkpoint_t cp;
    assert_int_equal(ob_journal_open(journal_dir, 0, &journal), 0);
    assert_int_equal(ob_journal_checkpoint_get(journal, &cp), 0);
    assert_true(cp.snapshot_len > 0);
    uint8_t *good = malloc(cp.snapshot_len), *bad = malloc(cp.snapshot_len);
    assert_non_null(good);
    assert_non_null(bad);
    memcpy(good, cp.snapshot, cp.snapshot_len);
    for (size_t i = 0; i < cp.snapshot_len; i++)
        bad[i] = good[i] ^ 0x5a; /* every byte changed: not a meta page of any kind */
    cp.snapshot = bad;
    assert_int_equal(ob_journal_checkpoint_put(journal, &cp), 0);
    ob_journal_close(&journal);

    s_file_t before, after;
    s_file_save(&before, data, "data.mdb");
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), OB_ERR_STORAGE);
    assert_null(store);
    s_file_save(&after, data, "data.mdb");
    assert_int_equal(after.len, before.len);
    assert_memory_equal(after.bytes, before.bytes, before.len); /* untouched */

    assert_int_equal(ob_journal_open(journal_dir, 0, &journal), 0);
    assert_int_equal(ob_journal_checkpoint_get(journal, &cp), 0);
    cp.snapshot = good;
    assert_int_equal(ob_journal_checkpoint_put(journal, &cp), 0);
    ob_journal_close(&journal);
    s_expect_commits(data, T_COMMITS);
    free(before.bytes);
    free(after.bytes);
    free(good);
    free(bad);
    t_remove_tree(dir);
}

/* Retention removed events after the checkpoint, and an id of a removed event was stored
   again; an unclean stop undoes the removal (retention is not journaled), and the replay
   still stores the new event at its seq. */
static void
s_keep_two(void *arg, const char *name, ob_retention_t *ret)
{
    (void)arg;
    (void)name;
    *ret = (ob_retention_t){.max_events = 2};
}

/* The child of test_replay_after_retention: a, b, c, d; retention keeps c and d; a again. */
static int
s_retain_then_again(ob_store_t *store, const void *arg)
{
    (void)arg;
    const char *ids[] = {"a", "b", "c", "d", "a"}; /* "a" again once retention took it */
    for (int i = 0; i < 5; i++) {
        /* retention reads the id from the stored event: a real one */
        ob_event_t event = {.id = ids[i], .topic = "oms.1", .type = "t.x", .time_us = 1};
        uint8_t *buf = NULL;
        size_t len = 0;
        if (ob_event_encode(&event, &buf, &len))
            return 5;
        ob_store_item_t item = {.topic = "oms.1",
                                .topic_len = 5,
                                .event_id = ids[i],
                                .event_id_len = 1,
                                .event = buf,
                                .event_len = len};
        int rc = ob_store_append(store, &item, 1);
        free(buf);
        if (rc || item.rc || item.dup || item.seq != (uint64_t)i + 1)
            return 3;
        uint64_t removed = 0;
        if (i == 3 &&
            (ob_store_retain(store, s_keep_two, NULL, 0, 100, &removed, NULL) || removed != 2))
            return 4;
    }
    return 0;
}

static void
test_replay_after_retention(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX];
    s_scratch(dir, data);
    s_in_child(data, 1 << 20, s_retain_then_again, NULL);

    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), 0);
    uint8_t *got = NULL;
    size_t len = 0;
    assert_int_equal(ob_store_get(store, "oms.1", 5, &got, &len, NULL), 0);
    ob_event_t *event = NULL;
    assert_int_equal(ob_event_decode(got, len, &event), 0);
    assert_string_equal(event->id, "a");
    ob_event_destroy(&event);
    free(got);
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(store, "oms.1", &stat), 0);
    assert_int_equal(stat.last_seq, 5);
    /* the id now names seq 5: publishing it again is a duplicate of that one */
    ob_store_item_t item = {.topic = "oms.1",
                            .topic_len = 5,
                            .event_id = "a",
                            .event_id_len = 1,
                            .event = (const uint8_t *)"a",
                            .event_len = 1};
    assert_int_equal(ob_store_append(store, &item, 1), 0);
    assert_int_equal(item.dup, 1);
    assert_int_equal(item.seq, 5);
    ob_store_close(&store);
    t_remove_tree(dir);
}

/* A child whose checkpoints fail for a while, work, then fail again: each phase commits
   until the checkpointer reports the outcome it is in (a checkpoint after every commit),
   then the child ends without closing the store. Returns 0, or the phase that went wrong. */
static int
s_failing_checkpoints(ob_store_t *store, const void *arg)
{
    const char *count_path = arg; /* where the child writes how many commits it made */
    ob_store_stats_t stats;
    ob_store_set_checkpoint(store, UINT64_MAX, 0);
    int c = 0;
    for (int phase = 0; phase < 3; phase++) {
        int failing = phase != 1;
        atomic_store(&s_fail_checkpoints, failing);
        if (ob_store_stats(store, &stats))
            return 10 + phase;
        uint64_t before = failing ? stats.checkpoint_failures : stats.checkpoints;
        uint64_t now = before;
        for (int64_t waited = 0; now == before && waited < T_WAIT_US; waited += T_POLL_US) {
            if (s_commit(store, c++, NULL))
                return 20 + phase;
            nanosleep(&(struct timespec){0, T_POLL_US * 1000L}, NULL);
            if (ob_store_stats(store, &stats))
                return 10 + phase;
            now = failing ? stats.checkpoint_failures : stats.checkpoints;
        }
        if (now == before)
            return 30 + phase; /* the outcome never came */
    }
    /* a tail no checkpoint was asked for: whichever attempt the open finds newest (a failed
       one's slot may be in the page cache, as after a kill -9), these are replayed */
    ob_store_set_checkpoint(store, UINT64_MAX, UINT64_MAX);
    for (int t = 0; t < T_TAIL; t++)
        if (s_commit(store, c++, NULL))
            return 35;
    FILE *out = fopen(count_path, "w");
    if (!out)
        return 40;
    int ok = fprintf(out, "%d\n", c) > 0;
    return fclose(out) == 0 && ok ? 0 : 41;
}

/* A checkpoint that fails (its file's sync, EIO) leaves the previous one in force: the
   journal keeps every record since it, commits go on, a later checkpoint succeeds, and
   after an unclean stop during failing checkpoints every commit is back, once, in order.
   The failed attempt's slot may survive in the page cache and be the one the open finds
   newest: its tree is whole all the same, as the previous checkpoint's pin, older, kept
   every page of it, and data.mdb was synced before the slot was written. */
static void
test_failed_checkpoints_keep_commits(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX];
    s_scratch(dir, data);
    char count_path[T_PATH_MAX];
    assert_true(snprintf(count_path, sizeof count_path, "%s/commits", dir) < T_PATH_MAX);
    s_in_child(data, 1 << 20, s_failing_checkpoints, count_path);
    int commits = 0;
    FILE *in = fopen(count_path, "r");
    assert_non_null(in);
    assert_int_equal(fscanf(in, "%d", &commits), 1);
    fclose(in);
    assert_true(commits >= 3); /* one per phase at least */

    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(data, 1 << 20, &store), 0);
    ob_store_stats_t stats;
    assert_int_equal(ob_store_stats(store, &stats), 0);
    assert_true(stats.replayed >= T_TAIL);
    ob_store_close(&store);
    s_expect_commits(data, commits);
    t_remove_tree(dir);
}

/* The map grows many times while commits go on (each growth takes a checkpoint of its
   own), then an unclean stop: everything is there. */
static void
test_growth_then_unclean_stop(void **state)
{
    (void)state;
    char dir[T_PATH_MAX], data[T_PATH_MAX];
    s_scratch(dir, data);
    s_in_child(data, 64 * 1024, s_commits, &(s_range_t){0, 600, 1, 0});
    s_expect_commits(data, 600);
    t_remove_tree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unclean_stop_keeps_commits),
        cmocka_unit_test(test_kill_during_commits),
        cmocka_unit_test(test_cut_at_every_offset),
        cmocka_unit_test(test_flipped_bit_in_tail),
        cmocka_unit_test(test_other_data_file_refused),
        cmocka_unit_test(test_replay_after_retention),
        cmocka_unit_test(test_growth_then_unclean_stop),
        cmocka_unit_test(test_failed_checkpoints_keep_commits),
        cmocka_unit_test(test_bad_snapshot_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
