/*  fuzz_journal: the journal's record parser (broker/journal.h) on arbitrary bytes, and a
    journal whose first segment is those bytes.

    Input: 8 bytes of salt, a big-endian u64 lsn, then the bytes.
    1. ob_journal_record_parse(salt, lsn, bytes): a record it accepts lies inside the bytes,
       is accepted again alone, and not one byte shorter.
    2. The bytes (at most S_SEG_BYTES_MAX) become seg-0000000000000000 of a journal in
       /dev/shm/ob-fuzz-journal-PID whose checkpoint carries the input's salt (a checkpoint
       made once by ob_journal_open, its salt replaced and its crc made again; the slot's
       layout is journal.c's head comment). Opening it must succeed; the records replayed
       have increasing lsns below the end; one more append goes after them, and a second
       open replays the same records and the new one. Seeds (gen_corpus.c) are segments
       written by the journal, with their salt, so the fuzzer starts from valid logs.
    The scratch directory is removed at exit (not after a crash). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bigendian.h"
#include "journal.h"
#include "orderbus/error.h"

#define S_SALT_BYTES 8
#define S_PREFIX_BYTES 16        /* salt and lsn before the bytes */
#define S_SEGMENT 4096           /* the journal's segment size */
#define S_SEG_BYTES_MAX 8192     /* bytes of input used as the segment */
#define S_RECORDS_MAX 1024       /* records one replay may yield (a 8 KiB segment: 481) */
#define S_SLOT_SALT 20           /* offset of the salt in a checkpoint slot */
#define S_SLOT_FIXED 56          /* bytes of a slot before its snapshot (and crc) */
#define S_APPENDED "fuzz-append" /* the payload appended after the replay */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char s_root[64];         /* /dev/shm/ob-fuzz-journal-PID */
static char s_dir[96];          /* s_root/j: the journal */
static uint8_t *s_checkpoint;   /* the checkpoint file made at the first input */
static size_t s_checkpoint_len; /* its bytes */

typedef struct s_log {
    uint64_t lsns[S_RECORDS_MAX]; /* replayed, in order */
    size_t count;                 /* records in lsns */
} s_log_t;

static s_log_t s_first, s_second; /* the two replays */

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

static int
s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
s_exit(void)
{
    nftw(s_root, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s_checkpoint);
}

/* Writes len bytes of data to s_dir/name. */
static void
s_write(const char *name, const uint8_t *data, size_t len)
{
    char path[160];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    s_require(fd >= 0);
    s_require(len == 0 || write(fd, data, len) == (ssize_t)len);
    close(fd);
}

/* At the first input: the scratch directory and a checkpoint file to copy. */
static void
s_init(void)
{
    ob_journal_t *journal = NULL;
    char path[160];
    snprintf(s_root, sizeof s_root, "/dev/shm/ob-fuzz-journal-%ld", (long)getpid());
    snprintf(s_dir, sizeof s_dir, "%s/j", s_root);
    s_require(mkdir(s_root, 0700) == 0);
    atexit(s_exit);
    s_require(ob_journal_open(s_dir, S_SEGMENT, &journal) == 0);
    ob_journal_close(&journal);
    snprintf(path, sizeof path, "%s/checkpoint", s_dir);
    FILE *file = fopen(path, "rb");
    s_require(file != NULL);
    s_checkpoint_len = 2 * OB_JOURNAL_SLOT_BYTES;
    s_checkpoint = malloc(s_checkpoint_len);
    s_require(s_checkpoint && fread(s_checkpoint, 1, s_checkpoint_len, file) == s_checkpoint_len);
    fclose(file);
}

static int
s_collect(void *arg, uint64_t lsn, const uint8_t *payload, size_t len)
{
    s_log_t *log = arg;
    (void)payload;
    (void)len;
    if (log->count == S_RECORDS_MAX)
        abort(); /* more records than the segment can hold */
    log->lsns[log->count++] = lsn;
    return 0;
}

/* Opens the journal and replays it into log; returns the open journal. */
static ob_journal_t *
s_open_replay(s_log_t *log)
{
    ob_journal_t *journal = NULL;
    uint64_t records = 0;
    s_require(ob_journal_open(s_dir, S_SEGMENT, &journal) == 0);
    log->count = 0;
    s_require(ob_journal_replay(journal, s_collect, log, &records, NULL) == 0);
    s_require(records == log->count);
    for (size_t i = 0; i < log->count; i++)
        s_require((i == 0 || log->lsns[i] > log->lsns[i - 1]) &&
                  log->lsns[i] < ob_journal_end(journal));
    return journal;
}

static void
s_parse(const uint8_t *salt, uint64_t lsn, const uint8_t *buf, size_t len)
{
    const uint8_t *payload = NULL, *again = NULL;
    size_t payload_len = 0, record_len = 0, n = 0, m = 0;
    int kind = 0;
    if (ob_journal_record_parse(salt, lsn, buf, len, &kind, &payload, &payload_len, &record_len))
        return;
    s_require(kind == OB_JOURNAL_DATA || kind == OB_JOURNAL_NEXT);
    s_require(record_len == OB_JOURNAL_HEADER_BYTES + payload_len && record_len <= len);
    s_require(payload == buf + OB_JOURNAL_HEADER_BYTES);
    s_require(ob_journal_record_parse(salt, lsn, buf, record_len, &kind, &again, &n, &m) == 0);
    s_require(again == payload && n == payload_len && m == record_len);
    s_require(ob_journal_record_parse(salt, lsn, buf, record_len - 1, &kind, &again, &n, &m) ==
              OB_ERR_TRUNCATED);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < S_PREFIX_BYTES)
        return 0;
    const uint8_t *salt = data, *bytes = data + S_PREFIX_BYTES;
    size_t len = size - S_PREFIX_BYTES;
    s_parse(salt, ob_get_u64(data + S_SALT_BYTES), bytes, len);

    if (!s_checkpoint)
        s_init();
    char seg[32];
    snprintf(seg, sizeof seg, "seg-%016x", 0);
    nftw(s_dir, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    s_require(mkdir(s_dir, 0700) == 0);
    memcpy(s_checkpoint + S_SLOT_SALT, salt, S_SALT_BYTES);
    ob_put_u32(s_checkpoint + S_SLOT_FIXED, (uint32_t)crc32(0, s_checkpoint, S_SLOT_FIXED));
    s_write("checkpoint", s_checkpoint, s_checkpoint_len);
    s_write(seg, bytes, len < S_SEG_BYTES_MAX ? len : S_SEG_BYTES_MAX);

    ob_journal_t *journal = s_open_replay(&s_first);
    uint64_t end = ob_journal_end(journal), lsn = 0;
    struct iovec iov = {.iov_base = (void *)S_APPENDED, .iov_len = strlen(S_APPENDED)};
    s_require(ob_journal_append(journal, &iov, 1, &lsn) == 0 && lsn >= end);
    ob_journal_close(&journal);
    journal = s_open_replay(&s_second);
    s_require(s_second.count == s_first.count + 1 && s_second.lsns[s_first.count] == lsn);
    s_require(!memcmp(s_first.lsns, s_second.lsns, s_first.count * sizeof *s_first.lsns));
    ob_journal_close(&journal);
    return 0;
}
