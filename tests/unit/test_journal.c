/*  test_journal: the store's write-ahead log (broker/journal.h, broker/journal.c).

    Each test opens journals in its own scratch directory under /tmp with small segments
    (T_SEG bytes), so that a few hundred records cross segments, and checks what a replay
    yields against what was appended (each record's lsn, length and CRC-32). The files are
    then damaged the way a crash, an operator or the disk would (cut at every byte offset of
    the last records, zeroed, one bit flipped, a checkpoint slot torn) and reopened.
    fdatasync and pwritev are wrapped at link time to inject their failures. The checkpoint
    file's layout (journal.c's head comment) is known here: tests read the salt from it and
    corrupt its slots. */
#define _DEFAULT_SOURCE /* pwritev, for its wrapper */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "bigendian.h"
#include "journal.h"
#include "orderbus/error.h"

#define T_SEG 4096u         /* segment size of most tests */
#define T_ROOT_MAX 64       /* bytes of the scratch directory's path */
#define T_DIR_MAX 128       /* bytes of the journal directory's path */
#define T_NAME_MAX 256      /* bytes of a file name (a dirent's d_name) */
#define T_PATH_MAX 512      /* bytes of a path: a directory and a name */
#define T_RECORDS_MAX 4096  /* records one test appends, at most */
#define T_PAYLOAD_MAX 16384 /* bytes of one test payload */
#define T_SLOT_SALT 20      /* offset of the salt in a checkpoint slot */
#define T_SLOT_VERSION 8    /* offset of the format version in a slot */
#define T_SLOT_FIXED 56     /* bytes of a slot before its snapshot */
#define T_H OB_JOURNAL_HEADER_BYTES

/* --- fdatasync and pwritev, wrapped ---------------------------------------------------- */

static int s_fail_fdatasync; /* calls still to fail with EIO */
static int s_fail_pwritev;   /* calls still to fail with ENOSPC */

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
ssize_t __real_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off);

int
__wrap_fdatasync(int fd)
{
    if (s_fail_fdatasync > 0) {
        s_fail_fdatasync--;
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

ssize_t
__wrap_pwritev(int fd, const struct iovec *iov, int iovcnt, off_t off)
{
    if (s_fail_pwritev > 0) {
        s_fail_pwritev--;
        errno = ENOSPC;
        return -1;
    }
    return __real_pwritev(fd, iov, iovcnt, off);
}

/* --- helpers --------------------------------------------------------------------------- */

typedef struct t_rec {
    uint64_t lsn; /* where it was appended */
    size_t len;   /* payload bytes */
    uint32_t crc; /* CRC-32 of the payload */
} t_rec_t;

typedef struct t_log {
    t_rec_t recs[T_RECORDS_MAX]; /* in log order */
    size_t count;                /* records in recs */
} t_log_t;

typedef struct t_fx {
    char root[T_ROOT_MAX]; /* scratch directory */
    char dir[T_DIR_MAX];   /* the journal's directory, root/journal */
    ob_journal_t *journal; /* open journal, or NULL */
    t_log_t appended;      /* what was appended, in order */
    t_log_t replayed;      /* what the last replay yielded */
} t_fx_t;

/* Removes the flat directory path and its files. */
static void
s_remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            char file[T_PATH_MAX * 2];
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
                continue;
            snprintf(file, sizeof file, "%s/%s", path, entry->d_name);
            if (unlink(file) != 0)
                rmdir(file);
        }
        closedir(dir);
    }
    rmdir(path);
}

static int
s_setup(void **state)
{
    t_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->root, sizeof fx->root, "/tmp/ob-test-journal-XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->dir, sizeof fx->dir, "%s/journal", fx->root);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fx_t *fx = *state;
    ob_journal_close(&fx->journal);
    s_remove_dir(fx->dir);
    s_remove_dir(fx->root);
    free(fx);
    return 0;
}

/* Fills buf with len bytes that depend on seed. */
static void
s_fill(uint8_t *buf, size_t len, size_t seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seed * 131 + i * 7 + 1);
}

static void
s_open(t_fx_t *fx, size_t segment_bytes)
{
    ob_journal_close(&fx->journal);
    int rc = ob_journal_open(fx->dir, segment_bytes, &fx->journal);
    if (rc)
        fail_msg("ob_journal_open: %s", ob_strerror(rc));
}

/* Appends a record of len bytes (payload s_fill(seed)) as two buffers; returns its lsn. */
static uint64_t
s_append(t_fx_t *fx, size_t len, size_t seed)
{
    static uint8_t buf[T_PAYLOAD_MAX];
    assert_true(len <= sizeof buf && fx->appended.count < T_RECORDS_MAX);
    s_fill(buf, len, seed);
    struct iovec iov[2] = {{.iov_base = buf, .iov_len = len / 2},
                           {.iov_base = buf + len / 2, .iov_len = len - len / 2}};
    uint64_t lsn = UINT64_MAX;
    uint64_t end = ob_journal_end(fx->journal);
    int rc = ob_journal_append(fx->journal, iov, 2, &lsn);
    if (rc)
        fail_msg("ob_journal_append: %s", ob_strerror(rc));
    assert_true(lsn >= end);
    assert_int_equal(ob_journal_end(fx->journal), lsn + T_H + len);
    fx->appended.recs[fx->appended.count++] =
        (t_rec_t){.lsn = lsn, .len = len, .crc = (uint32_t)crc32(0, buf, (uInt)len)};
    return lsn;
}

static int
s_collect(void *arg, uint64_t lsn, const uint8_t *payload, size_t len)
{
    t_log_t *log = arg;
    if (log->count == T_RECORDS_MAX)
        return -ENOSPC;
    log->recs[log->count++] =
        (t_rec_t){.lsn = lsn, .len = len, .crc = (uint32_t)crc32(0, payload, (uInt)len)};
    return 0;
}

/* Replays into fx->replayed and checks the counts the replay reports. */
static void
s_replay(t_fx_t *fx)
{
    uint64_t records = 0, bytes = 0, sum = 0;
    fx->replayed.count = 0;
    assert_int_equal(ob_journal_replay(fx->journal, s_collect, &fx->replayed, &records, &bytes), 0);
    assert_int_equal(records, fx->replayed.count);
    for (size_t i = 0; i < fx->replayed.count; i++)
        sum += fx->replayed.recs[i].len;
    assert_int_equal(bytes, sum);
}

/* Checks that the last replay yielded exactly appended records from..to-1. */
static void
s_expect(t_fx_t *fx, size_t from, size_t to)
{
    if (fx->replayed.count != to - from)
        fail_msg("replayed %zu records, expected %zu", fx->replayed.count, to - from);
    for (size_t i = from; i < to; i++) {
        const t_rec_t *want = &fx->appended.recs[i], *got = &fx->replayed.recs[i - from];
        if (got->lsn != want->lsn || got->len != want->len || got->crc != want->crc)
            fail_msg("record %zu: lsn %llu len %zu, expected lsn %llu len %zu", i,
                     (unsigned long long)got->lsn, got->len, (unsigned long long)want->lsn,
                     want->len);
    }
}

/* Returns how many files in the journal's directory begin with prefix. */
static size_t
s_count_files(t_fx_t *fx, const char *prefix)
{
    DIR *dir = opendir(fx->dir);
    struct dirent *entry;
    size_t n = 0;
    assert_non_null(dir);
    while ((entry = readdir(dir)))
        n += !strncmp(entry->d_name, prefix, strlen(prefix));
    closedir(dir);
    return n;
}

static void
s_path(t_fx_t *fx, const char *name, char *path)
{
    snprintf(path, T_PATH_MAX, "%s/%s", fx->dir, name);
}

static void
s_seg_path(t_fx_t *fx, uint64_t start, char *path)
{
    snprintf(path, T_PATH_MAX, "%s/seg-%016llx", fx->dir, (unsigned long long)start);
}

/* Reads the whole file at path into a new buffer (the caller's); sets *ret_len. */
static uint8_t *
s_read_file(const char *path, size_t *ret_len)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0 && fstat(fd, &st) == 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *ret_len = (size_t)st.st_size;
    return buf;
}

static void
s_write_file(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
    close(fd);
}

/* Writes len bytes of buf at off of the file at path. */
static void
s_patch_file(const char *path, uint64_t off, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

/* Reads the journal's salt from the first slot of its checkpoint file. */
static void
s_salt(t_fx_t *fx, uint8_t *salt)
{
    char path[T_PATH_MAX];
    size_t len = 0;
    s_path(fx, "checkpoint", path);
    uint8_t *buf = s_read_file(path, &len);
    assert_true(len > T_SLOT_SALT + 8);
    memcpy(salt, buf + T_SLOT_SALT, 8);
    free(buf);
}

/* Writes a valid record of kind at lsn with payload (len bytes) and salt into out. */
static size_t
s_forge(const uint8_t *salt, uint64_t lsn, int kind, const uint8_t *payload, size_t len,
        uint8_t *out)
{
    ob_put_u32(out + 4, (uint32_t)len);
    ob_put_u64(out + 8, lsn);
    out[16] = (uint8_t)kind;
    memcpy(out + T_H, payload, len);
    uLong crc = crc32(0, salt, 8);
    crc = crc32(crc, out + 4, (uInt)(T_H - 4 + len));
    ob_put_u32(out, (uint32_t)crc);
    return T_H + len;
}

/* --- the record parser ----------------------------------------------------------------- */

static void
test_parse(void **state)
{
    (void)state;
    static const uint8_t salt[8] = {1, 2, 3, 4, 5, 6, 7, 8}, other[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    uint8_t rec[T_H + 64], payload[64];
    const uint8_t *p = NULL;
    size_t plen = 0, rlen = 0;
    int kind = 0;
    s_fill(payload, sizeof payload, 3);
    size_t len = s_forge(salt, 4096, OB_JOURNAL_DATA, payload, sizeof payload, rec);
    assert_int_equal(ob_journal_record_parse(salt, 4096, rec, len, &kind, &p, &plen, &rlen), 0);
    assert_int_equal(kind, OB_JOURNAL_DATA);
    assert_ptr_equal(p, rec + T_H);
    assert_int_equal(plen, sizeof payload);
    assert_int_equal(rlen, len);
    /* every prefix is truncated, never valid */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(ob_journal_record_parse(salt, 4096, rec, cut, &kind, &p, &plen, &rlen),
                         OB_ERR_TRUNCATED);
    assert_int_equal(ob_journal_record_parse(salt, 4097, rec, len, &kind, &p, &plen, &rlen),
                     OB_ERR_MALFORMED);
    assert_int_equal(ob_journal_record_parse(other, 4096, rec, len, &kind, &p, &plen, &rlen),
                     OB_ERR_MALFORMED);
    /* every single bit flipped */
    for (size_t bit = 0; bit < len * 8; bit++) {
        rec[bit / 8] ^= (uint8_t)(1u << bit % 8);
        int rc = ob_journal_record_parse(salt, 4096, rec, len, &kind, &p, &plen, &rlen);
        assert_true(rc == OB_ERR_MALFORMED || rc == OB_ERR_TRUNCATED || rc == OB_ERR_TOO_LARGE);
        rec[bit / 8] ^= (uint8_t)(1u << bit % 8);
    }
    /* a NEXT has no payload; unknown kinds are refused, with a valid crc too */
    len = s_forge(salt, 0, OB_JOURNAL_NEXT, payload, 0, rec);
    assert_int_equal(ob_journal_record_parse(salt, 0, rec, len, &kind, &p, &plen, &rlen), 0);
    assert_int_equal(kind, OB_JOURNAL_NEXT);
    len = s_forge(salt, 0, OB_JOURNAL_NEXT, payload, 1, rec);
    assert_int_equal(ob_journal_record_parse(salt, 0, rec, len, &kind, &p, &plen, &rlen),
                     OB_ERR_MALFORMED);
    len = s_forge(salt, 0, 3, payload, 1, rec);
    assert_int_equal(ob_journal_record_parse(salt, 0, rec, len, &kind, &p, &plen, &rlen),
                     OB_ERR_MALFORMED);
    /* zeros are not a record; a length over the cap is refused before anything else */
    memset(rec, 0, sizeof rec);
    assert_int_equal(ob_journal_record_parse(salt, 0, rec, T_H, &kind, &p, &plen, &rlen),
                     OB_ERR_MALFORMED);
    ob_put_u32(rec + 4, OB_JOURNAL_RECORD_MAX + 1u);
    assert_int_equal(ob_journal_record_parse(salt, 0, rec, T_H, &kind, &p, &plen, &rlen),
                     OB_ERR_TOO_LARGE);
}

/* --- open, append, replay -------------------------------------------------------------- */

static void
test_new_journal(void **state)
{
    t_fx_t *fx = *state;
    ob_journal_checkpoint_t cp;
    char path[T_PATH_MAX];
    struct stat st;
    assert_int_equal(ob_journal_open(fx->dir, 100, &fx->journal), OB_ERR_INVALID_ARGUMENT);
    assert_null(fx->journal);
    for (int pass = 0; pass < 2; pass++) {
        s_open(fx, T_SEG);
        assert_int_equal(ob_journal_checkpoint_get(fx->journal, &cp), -ENOENT);
        assert_int_equal(ob_journal_end(fx->journal), 0);
        assert_int_equal(ob_journal_pending(fx->journal), 0);
        s_replay(fx);
        s_expect(fx, 0, 0);
        s_seg_path(fx, 0, path);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, T_SEG);
        assert_int_equal(stat(fx->dir, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
    }
    /* a checkpoint file cut to nothing is a new journal; segments without one are not */
    ob_journal_close(&fx->journal);
    s_path(fx, "checkpoint", path);
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);
}

static void
test_round_trip(void **state)
{
    t_fx_t *fx = *state;
    char path[T_PATH_MAX];
    struct stat st;
    s_open(fx, T_SEG);
    size_t big = 0;
    for (size_t i = 0; i < 300; i++) {
        size_t len = i == 150 ? 10000 : (i * 37) % 700;
        uint64_t lsn = s_append(fx, len, i);
        if (len == 10000)
            big = i;
        if (i)
            assert_true(lsn > fx->appended.recs[i - 1].lsn);
        s_replay(fx); /* also in the session that wrote them */
        s_expect(fx, 0, i + 1);
    }
    /* the oversized record has a segment of its own, a multiple of 4096 */
    s_seg_path(fx, fx->appended.recs[big].lsn, path);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size % 4096, 0);
    assert_true((size_t)st.st_size >= 10000 + 2 * T_H && (size_t)st.st_size > T_SEG);
    assert_true(s_count_files(fx, "seg-") > 20);
    uint64_t end = ob_journal_end(fx->journal);
    assert_int_equal(ob_journal_pending(fx->journal), end);

    s_open(fx, T_SEG);
    assert_int_equal(ob_journal_end(fx->journal), end);
    s_replay(fx);
    s_expect(fx, 0, 300);
    assert_int_equal(s_append(fx, 200, 300), end);
    for (size_t i = 301; i < 310; i++)
        s_append(fx, 200, i);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 0, 310);
    /* all of it checkpointed: when the writer next needs a segment, it recycles one, keeps
       the spares and deletes the others, the oversized one first */
    ob_journal_checkpoint_t cp = {.lsn = ob_journal_end(fx->journal)};
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    uint64_t last = fx->appended.recs[309].lsn;
    while (fx->appended.recs[fx->appended.count - 1].lsn - last < T_SEG)
        s_append(fx, 200, fx->appended.count);
    assert_int_equal(s_count_files(fx, "seg-"), 2 + OB_JOURNAL_SPARES_MAX);
    s_seg_path(fx, fx->appended.recs[big].lsn, path);
    assert_int_not_equal(access(path, F_OK), 0);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 310, fx->appended.count);
}

static void
test_append_errors(void **state)
{
    t_fx_t *fx = *state;
    uint8_t byte = 0;
    struct iovec iov[OB_JOURNAL_IOV_MAX + 1];
    for (size_t i = 0; i < OB_JOURNAL_IOV_MAX + 1; i++)
        iov[i] = (struct iovec){.iov_base = &byte, .iov_len = 1};
    s_open(fx, T_SEG);
    s_append(fx, 10, 1);
    uint64_t end = ob_journal_end(fx->journal);
    assert_int_equal(ob_journal_append(fx->journal, iov, OB_JOURNAL_IOV_MAX + 1, NULL), -EINVAL);
    assert_int_equal(ob_journal_append(fx->journal, iov, OB_JOURNAL_IOV_MAX, NULL), 0);
    end += T_H + OB_JOURNAL_IOV_MAX;
    /* lengths are checked before a byte is read */
    struct iovec huge[2] = {{.iov_base = &byte, .iov_len = OB_JOURNAL_RECORD_MAX},
                            {.iov_base = &byte, .iov_len = 1}};
    assert_int_equal(ob_journal_append(fx->journal, huge, 2, NULL), OB_ERR_TOO_LARGE);
    huge[0].iov_len = (size_t)OB_JOURNAL_RECORD_MAX + 1;
    assert_int_equal(ob_journal_append(fx->journal, huge, 1, NULL), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_journal_end(fx->journal), end);
    /* a failed write leaves the position; the next append takes it */
    s_fail_pwritev = 1;
    assert_int_equal(ob_journal_append(fx->journal, iov, 1, NULL), -ENOSPC);
    assert_int_equal(ob_journal_end(fx->journal), end);
    fx->appended.count = 0;
    s_append(fx, 30, 2);
    assert_int_equal(fx->appended.recs[0].lsn, end);
    /* a failed fdatasync is final for this open */
    s_fail_fdatasync = 1;
    assert_int_equal(ob_journal_append(fx->journal, iov, 1, NULL), -EIO);
    assert_int_equal(ob_journal_end(fx->journal), end + T_H + 30);
    assert_int_equal(ob_journal_append(fx->journal, iov, 1, NULL), -EIO);
    assert_int_equal(s_fail_fdatasync, 0);
    /* a new open reads the disk: the records before are there (the one whose sync failed
       may be too: its bytes may have reached the disk) */
    s_open(fx, T_SEG);
    s_replay(fx);
    assert_true(fx->replayed.count == 3 || fx->replayed.count == 4);
    assert_int_equal(fx->replayed.recs[2].lsn, end);
    s_append(fx, 40, 3);
}

/* --- checkpoints ----------------------------------------------------------------------- */

static void
test_checkpoint(void **state)
{
    t_fx_t *fx = *state;
    static uint8_t big[OB_JOURNAL_SNAPSHOT_MAX + 1];
    ob_journal_checkpoint_t cp = {0}, got;
    s_open(fx, T_SEG);
    for (size_t i = 0; i < 50; i++)
        s_append(fx, 100 + i, i);
    uint64_t end = ob_journal_end(fx->journal);
    cp.lsn = end + 1;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), OB_ERR_INVALID_ARGUMENT);
    cp.lsn = 0;
    cp.snapshot = big;
    cp.snapshot_len = sizeof big;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), -ENOENT);

    s_fill(big, OB_JOURNAL_SNAPSHOT_MAX, 9);
    cp = (ob_journal_checkpoint_t){.lsn = fx->appended.recs[20].lsn,
                                   .dev = 7,
                                   .ino = UINT64_MAX,
                                   .snapshot = big,
                                   .snapshot_len = OB_JOURNAL_SNAPSHOT_MAX};
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), 0);
        assert_int_equal(got.lsn, cp.lsn);
        assert_int_equal(got.dev, 7);
        assert_int_equal(got.ino, UINT64_MAX);
        assert_int_equal(got.snapshot_len, OB_JOURNAL_SNAPSHOT_MAX);
        assert_memory_equal(got.snapshot, big, OB_JOURNAL_SNAPSHOT_MAX);
        assert_int_equal(ob_journal_pending(fx->journal), end - cp.lsn);
        s_replay(fx);
        s_expect(fx, 20, 50);
        s_open(fx, T_SEG);
    }
    /* a checkpoint never goes back; a failed one leaves the previous */
    cp.lsn = fx->appended.recs[19].lsn;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), OB_ERR_INVALID_ARGUMENT);
    cp = (ob_journal_checkpoint_t){.lsn = end};
    s_fail_fdatasync = 1;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), -EIO);
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), 0);
    assert_int_equal(got.lsn, fx->appended.recs[20].lsn);
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    assert_int_equal(ob_journal_pending(fx->journal), 0);
    s_open(fx, T_SEG);
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), 0);
    assert_int_equal(got.lsn, end);
    assert_int_equal(got.snapshot_len, 0);
    s_replay(fx);
    s_expect(fx, 50, 50);
}

static void
test_checkpoint_torn(void **state)
{
    t_fx_t *fx = *state;
    ob_journal_checkpoint_t cp = {0}, got;
    char path[T_PATH_MAX];
    s_open(fx, T_SEG);
    for (size_t i = 0; i < 30; i++)
        s_append(fx, 100, i);
    /* the new journal's checkpoint is in slot 0: these go to slot 1, then slot 0 */
    cp.lsn = fx->appended.recs[10].lsn;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    cp.lsn = fx->appended.recs[20].lsn;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    ob_journal_close(&fx->journal);
    s_path(fx, "checkpoint", path);
    size_t len = 0;
    uint8_t *pristine = s_read_file(path, &len);
    assert_int_equal(len, 2 * OB_JOURNAL_SLOT_BYTES);

    /* a byte of the newest slot torn: the older one holds */
    uint8_t torn = pristine[T_SLOT_FIXED - 1] ^ 0x40;
    s_patch_file(path, T_SLOT_FIXED - 1, &torn, 1);
    s_open(fx, T_SEG);
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), 0);
    assert_int_equal(got.lsn, fx->appended.recs[10].lsn);
    s_replay(fx);
    s_expect(fx, 10, 30);
    /* the next checkpoint goes over the torn slot, not the valid one */
    cp.lsn = fx->appended.recs[25].lsn;
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    s_open(fx, T_SEG);
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &got), 0);
    assert_int_equal(got.lsn, fx->appended.recs[25].lsn);
    ob_journal_close(&fx->journal);

    /* both slots torn */
    s_write_file(path, pristine, len);
    s_patch_file(path, T_SLOT_FIXED - 1, &torn, 1);
    torn = pristine[OB_JOURNAL_SLOT_BYTES + 3] ^ 1;
    s_patch_file(path, OB_JOURNAL_SLOT_BYTES + 3, &torn, 1);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);

    /* a valid slot of another version */
    s_write_file(path, pristine, len);
    uint8_t slot[T_SLOT_FIXED + 4];
    memcpy(slot, pristine, sizeof slot);
    ob_put_u32(slot + T_SLOT_VERSION, 2);
    ob_put_u32(slot + T_SLOT_FIXED, (uint32_t)crc32(0, slot, T_SLOT_FIXED));
    s_patch_file(path, 0, slot, sizeof slot);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);
    free(pristine);
}

/* --- recycling ------------------------------------------------------------------------- */

static void
test_recycling_bounded(void **state)
{
    t_fx_t *fx = *state;
    ob_journal_checkpoint_t cp = {0};
    s_open(fx, T_SEG);
    size_t most = 0;
    /* 600 KiB written through 4 KiB segments, a checkpoint every 100 records (several
       segments freed at once), then every 10 (less than a segment): at most the segments in
       use between a checkpoint and the end, the spares, and the one being made; once the
       writer has needed a few segments after the change, the free ones beyond the spares
       are gone */
    for (size_t i = 0; i < 2000; i++) {
        size_t every = i < 1000 ? 100 : 10;
        s_append(fx, 300, i);
        if (i % every == every - 1) {
            cp.lsn = ob_journal_end(fx->journal);
            assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
        }
        size_t in_use = (every * (T_H + 300) + T_SEG - 2 * T_H - 1) / (T_SEG - 2 * T_H) + 1;
        size_t n = s_count_files(fx, "seg-");
        if ((i < 1000 || i >= 1100) && n > in_use + OB_JOURNAL_SPARES_MAX + 1)
            fail_msg("record %zu: %zu segments", i, n);
        most = n > most ? n : most;
    }
    s_open(fx, T_SEG);
    assert_true(s_count_files(fx, "seg-") <= most);
    s_replay(fx);
    s_expect(fx, 2000, 2000);
    for (size_t i = 2000; i < 2100; i++)
        s_append(fx, 300, i);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 2000, 2100);
}

/* A recycled segment keeps the records of its earlier pass: written at the same offsets
   with the same sizes, the next position after the first new record holds an old record
   whose lsn is not its position's. It is not replayed. */
static void
test_recycled_old_pass(void **state)
{
    t_fx_t *fx = *state;
    ob_journal_checkpoint_t cp = {0};
    char path[T_PATH_MAX];
    s_open(fx, T_SEG);
    size_t i = 0;
    while (ob_journal_end(fx->journal) < T_SEG) /* fill segment 0, go on into segment 1 */
        s_append(fx, 300, i++);
    cp.lsn = ob_journal_end(fx->journal);
    assert_int_equal(ob_journal_checkpoint_put(fx->journal, &cp), 0);
    size_t first = i;
    while (ob_journal_end(fx->journal) < 2 * T_SEG) /* segment 0, free, becomes segment 2 */
        s_append(fx, 300, i++);
    s_seg_path(fx, 0, path);
    assert_int_not_equal(access(path, F_OK), 0);
    s_seg_path(fx, 2 * T_SEG, path);
    size_t len = 0;
    uint8_t *seg = s_read_file(path, &len);
    assert_int_equal(len, T_SEG);
    assert_int_equal(ob_get_u64(seg + 8), 2 * T_SEG);             /* the new record */
    assert_int_equal(ob_get_u64(seg + T_H + 300 + 8), T_H + 300); /* an old one after it */
    free(seg);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, first, i);
    assert_int_equal(ob_journal_end(fx->journal), 2 * T_SEG + T_H + 300);
}

/* --- damage ---------------------------------------------------------------------------- */

/* The files of a journal, as saved. */
typedef struct t_saved {
    char names[8][T_NAME_MAX]; /* file names */
    uint8_t *data[8];          /* their bytes (owned) */
    size_t len[8];             /* their lengths */
    size_t count;              /* files */
} t_saved_t;

static void
s_save(t_fx_t *fx, t_saved_t *saved)
{
    DIR *dir = opendir(fx->dir);
    struct dirent *entry;
    char path[T_PATH_MAX];
    assert_non_null(dir);
    saved->count = 0;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.')
            continue;
        assert_true(saved->count < 8);
        snprintf(saved->names[saved->count], T_NAME_MAX, "%s", entry->d_name);
        s_path(fx, entry->d_name, path);
        saved->data[saved->count] = s_read_file(path, &saved->len[saved->count]);
        saved->count++;
    }
    closedir(dir);
}

static void
s_restore(t_fx_t *fx, const t_saved_t *saved)
{
    char path[T_PATH_MAX];
    ob_journal_close(&fx->journal);
    s_remove_dir(fx->dir);
    assert_int_equal(mkdir(fx->dir, 0700), 0);
    for (size_t i = 0; i < saved->count; i++) {
        s_path(fx, saved->names[i], path);
        s_write_file(path, saved->data[i], saved->len[i]);
    }
}

static void
s_saved_free(t_saved_t *saved)
{
    for (size_t i = 0; i < saved->count; i++)
        free(saved->data[i]);
    saved->count = 0;
}

/* Appends 100-byte records until one goes into segment 1 after a NEXT; returns how many. */
static size_t
s_build_crossing(t_fx_t *fx)
{
    s_open(fx, T_SEG);
    size_t i = 0;
    while (i == 0 || fx->appended.recs[i - 1].lsn < T_SEG)
        s_append(fx, 100, i++);
    assert_int_equal(fx->appended.recs[i - 1].lsn, T_SEG);
    ob_journal_close(&fx->journal);
    return i;
}

/* Cuts the log at lsn cut: the segment holding it truncated there (zero: zeroed from
   there), segments after it truncated to nothing (zero: zeroed). */
static void
s_cut(t_fx_t *fx, const t_saved_t *saved, uint64_t cut, int zero)
{
    static const uint8_t zeros[2 * T_SEG];
    char path[T_PATH_MAX];
    for (size_t i = 0; i < saved->count; i++) {
        if (strncmp(saved->names[i], "seg-", 4) != 0)
            continue;
        uint64_t start = strtoull(saved->names[i] + 4, NULL, 16);
        if (start + saved->len[i] <= cut)
            continue;
        uint64_t off = cut > start ? cut - start : 0;
        s_path(fx, saved->names[i], path);
        if (zero)
            s_patch_file(path, off, zeros, saved->len[i] - off);
        else
            assert_int_equal(truncate(path, (off_t)off), 0);
    }
}

/* Reopens a damaged journal whose appended records are n and checks: exactly the first
   keep are replayed, appending goes on after them (a payload of seed), and a second open
   sees old and new. */
static void
s_check_damage(t_fx_t *fx, size_t n, size_t keep, size_t seed)
{
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 0, keep);
    fx->appended.count = keep;
    s_append(fx, 100, seed);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 0, keep + 1);
    fx->appended.count = n;
}

/* Reopens after a cut at lsn cut: the records wholly before it are the log. */
static void
s_check_cut(t_fx_t *fx, size_t n, uint64_t cut)
{
    size_t keep = 0;
    while (keep < n && fx->appended.recs[keep].lsn + T_H + fx->appended.recs[keep].len <= cut)
        keep++;
    s_check_damage(fx, n, keep, 1000 + cut);
}

static void
s_cut_all(t_fx_t *fx, int zero)
{
    t_saved_t saved = {0};
    size_t n = s_build_crossing(fx);
    s_save(fx, &saved);
    t_log_t log = fx->appended;
    /* every byte of the last 3 records, and of the NEXT between the last two (not the
       zeros after it, which belong to no record) */
    uint64_t next = log.recs[n - 2].lsn + T_H + 100;
    uint64_t end = log.recs[n - 1].lsn + T_H + log.recs[n - 1].len;
    for (uint64_t cut = log.recs[n - 3].lsn; cut < end; cut++) {
        if (cut >= next + T_H && cut < log.recs[n - 1].lsn)
            continue;
        s_restore(fx, &saved);
        fx->appended = log;
        s_cut(fx, &saved, cut, zero);
        s_check_cut(fx, n, cut);
    }
    s_saved_free(&saved);
}

static void
test_cut_truncated(void **state)
{
    s_cut_all(*state, 0);
}

static void
test_cut_zeroed(void **state)
{
    s_cut_all(*state, 1);
}

static void
test_flipped_bit(void **state)
{
    t_fx_t *fx = *state;
    t_saved_t saved = {0};
    char path[T_PATH_MAX];
    size_t n = s_build_crossing(fx);
    s_save(fx, &saved);
    t_log_t log = fx->appended;
    /* each byte of the last record with one bit flipped (every bit of its header), and a
       byte of each of the two before: the log ends before the record hit; a record of the
       same size written there next is not followed by the old records after it */
    for (size_t r = n - 3; r < n; r++) {
        const t_rec_t *rec = &log.recs[r];
        uint64_t start = rec->lsn < T_SEG ? 0 : T_SEG;
        s_seg_path(fx, start, path);
        for (uint64_t lsn = rec->lsn; lsn < rec->lsn + T_H + rec->len; lsn++) {
            int bits = r == n - 1 && lsn < rec->lsn + T_H ? 8 : 1;
            for (int b = 0; b < bits; b++) {
                if (r < n - 1 && lsn != rec->lsn + T_H + 50)
                    continue;
                s_restore(fx, &saved);
                fx->appended = log;
                uint8_t byte;
                int fd = open(path, O_RDWR);
                assert_true(fd >= 0);
                assert_int_equal(pread(fd, &byte, 1, (off_t)(lsn - start)), 1);
                byte ^= (uint8_t)(1u << (bits == 8 ? b : (int)(lsn % 8)));
                assert_int_equal(pwrite(fd, &byte, 1, (off_t)(lsn - start)), 1);
                close(fd);
                s_check_damage(fx, n, r, 2000 + lsn);
            }
        }
    }
    s_saved_free(&saved);
}

/* Event bytes that hold a record header are not taken for one: a record taken back
   (rewind) and overwritten by a shorter one leaves the bytes of its payload where the next
   record would be. Only a copy with this journal's salt and that very position would be
   read (the control case). */
static void
test_imitation(void **state)
{
    t_fx_t *fx = *state;
    uint8_t salt[8], other[8] = {0x5a, 1, 2, 3, 4, 5, 6, 7}, payload[T_H + 40], inner[40];
    s_fill(inner, sizeof inner, 77);
    for (int variant = 0; variant < 4; variant++) {
        ob_journal_close(&fx->journal);
        s_remove_dir(fx->dir);
        fx->appended.count = 0;
        s_open(fx, T_SEG);
        s_salt(fx, salt);
        s_append(fx, 50, 1);
        uint64_t lsn = ob_journal_end(fx->journal);
        uint64_t inside = lsn + T_H; /* where the payload starts, and the next record goes */
        if (variant == 0)            /* a copy of a real record of this journal: another lsn */
            s_forge(salt, 0, OB_JOURNAL_DATA, inner, sizeof inner, payload);
        else if (variant == 1) { /* the right lsn, the crc of another lsn */
            s_forge(salt, 0, OB_JOURNAL_DATA, inner, sizeof inner, payload);
            ob_put_u64(payload + 8, inside);
        } else if (variant == 2) /* another journal's record at that very position */
            s_forge(other, inside, OB_JOURNAL_DATA, inner, sizeof inner, payload);
        else
            s_forge(salt, inside, OB_JOURNAL_DATA, inner, sizeof inner, payload);
        struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload};
        uint64_t got = 0;
        assert_int_equal(ob_journal_append(fx->journal, &iov, 1, &got), 0);
        assert_int_equal(got, lsn);
        ob_journal_rewind(fx->journal, lsn);
        assert_int_equal(ob_journal_end(fx->journal), lsn);
        assert_int_equal(s_append(fx, 0, 2), lsn); /* ends where the payload began */
        s_open(fx, T_SEG);
        s_replay(fx);
        if (variant < 3) {
            s_expect(fx, 0, 2);
            assert_int_equal(ob_journal_end(fx->journal), inside);
        } else {
            assert_int_equal(fx->replayed.count, 3);
            assert_int_equal(fx->replayed.recs[2].lsn, inside);
        }
    }
}

/* A valid record that leaves no room for a NEXT after it is not one the journal wrote: it
   ends the log, so that the next append never puts a NEXT past the segment's end. */
static void
test_no_room_for_next(void **state)
{
    t_fx_t *fx = *state;
    static uint8_t payload[T_SEG], rec[T_SEG];
    char path[T_PATH_MAX];
    uint8_t salt[8];
    s_open(fx, T_SEG);
    ob_journal_close(&fx->journal);
    s_salt(fx, salt);
    s_seg_path(fx, 0, path);
    for (size_t room = T_H - 1; room <= T_H; room++) {
        size_t len = s_forge(salt, 0, OB_JOURNAL_DATA, payload, T_SEG - T_H - room, rec);
        s_patch_file(path, 0, rec, len);
        s_open(fx, T_SEG);
        s_replay(fx);
        assert_int_equal(fx->replayed.count, room == T_H ? 1 : 0);
        fx->appended.count = 0;
        if (room == T_H) /* the journal's own: the next record goes after a NEXT */
            fx->appended.recs[fx->appended.count++] = fx->replayed.recs[0];
        assert_int_equal(s_append(fx, 100, 5), room == T_H ? T_SEG : 0);
        s_open(fx, T_SEG);
        s_replay(fx);
        s_expect(fx, 0, fx->appended.count);
        ob_journal_close(&fx->journal);
    }
}

/* --- names and threads ----------------------------------------------------------------- */

static void
test_names(void **state)
{
    t_fx_t *fx = *state;
    char path[T_PATH_MAX];
    s_open(fx, T_SEG);
    s_append(fx, 10, 1);
    ob_journal_close(&fx->journal);
    /* other files are ignored */
    s_path(fx, "notes.txt", path);
    s_write_file(path, (const uint8_t *)"x", 1);
    s_path(fx, "seg-00000000000000zz", path);
    s_write_file(path, (const uint8_t *)"x", 1);
    s_path(fx, "seg-0", path);
    s_write_file(path, (const uint8_t *)"x", 1);
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, 0, 1);
    ob_journal_close(&fx->journal);
    /* a segment inside another's lsns */
    s_seg_path(fx, 2048, path);
    s_write_file(path, (const uint8_t *)"x", 1);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);
    assert_int_equal(unlink(path), 0);
    /* a segment that is a directory */
    s_seg_path(fx, 8 * T_SEG, path);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(ob_journal_open(fx->dir, T_SEG, &fx->journal), OB_ERR_STORAGE);
    assert_int_equal(rmdir(path), 0);
    /* a segment after the end of the log that holds nothing is removed; one that begins
       with a record of its position (the rest of a log cut by a corruption) is kept as
       lost-X */
    s_seg_path(fx, 8 * T_SEG, path);
    s_write_file(path, (const uint8_t *)"zzzz", 4);
    s_open(fx, T_SEG);
    assert_int_not_equal(access(path, F_OK), 0);
    ob_journal_close(&fx->journal);
    uint8_t salt[8], rec[T_H + 4];
    s_salt(fx, salt);
    s_write_file(path, rec,
                 s_forge(salt, 8 * T_SEG, OB_JOURNAL_DATA, (const uint8_t *)"abcd", 4, rec));
    s_open(fx, T_SEG);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(s_count_files(fx, "lost-"), 1);
    s_replay(fx);
    s_expect(fx, 0, 1);
}

typedef struct t_cp_thread {
    ob_journal_t *journal; /* shared */
    atomic_int stop;       /* set by the main thread */
    int failures;          /* checkpoint_put errors */
    size_t puts;           /* checkpoints written */
} t_cp_thread_t;

static void *
s_checkpointer(void *arg)
{
    t_cp_thread_t *t = arg;
    while (!atomic_load(&t->stop)) {
        ob_journal_checkpoint_t cp = {.lsn = ob_journal_end(t->journal)};
        if (ob_journal_checkpoint_put(t->journal, &cp) != 0)
            t->failures++;
        else
            t->puts++;
        (void)ob_journal_pending(t->journal);
    }
    return NULL;
}

/* The checkpointer's thread puts checkpoints while the writer appends and recycles. */
static void
test_concurrent_checkpoints(void **state)
{
    t_fx_t *fx = *state;
    pthread_t thread;
    s_open(fx, T_SEG);
    t_cp_thread_t t = {.journal = fx->journal};
    assert_int_equal(pthread_create(&thread, NULL, s_checkpointer, &t), 0);
    for (size_t i = 0; i < 1000; i++)
        s_append(fx, 200, i);
    atomic_store(&t.stop, 1);
    pthread_join(thread, NULL);
    assert_int_equal(t.failures, 0);
    assert_true(t.puts > 0);
    ob_journal_checkpoint_t cp;
    assert_int_equal(ob_journal_checkpoint_get(fx->journal, &cp), 0);
    size_t first = 0;
    while (first < 1000 && fx->appended.recs[first].lsn < cp.lsn)
        first++;
    s_open(fx, T_SEG);
    s_replay(fx);
    s_expect(fx, first, 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_new_journal, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_torn, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recycling_bounded, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_recycled_old_pass, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cut_truncated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_cut_zeroed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_flipped_bit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_imitation, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_no_room_for_next, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_checkpoints, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
