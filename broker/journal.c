/*  ob_journal: the store's write-ahead log (journal.h), in plain POSIX file I/O.

    The checkpoint file holds two slots of OB_JOURNAL_SLOT_BYTES; a slot is (big-endian):
      8  magic "OBJRNL01"
      u32 format version (S_VERSION)
      u64 counter          the newest checkpoint is the valid slot with the highest counter;
                           0 is the one the journal is created with (no checkpoint yet)
      8  salt              the journal's salt, the same in every slot
      u64 lsn, u64 dev, u64 ino, u32 snapshot_len, snapshot_len bytes of snapshot
      u32 crc              CRC-32 of every byte of the slot before it
    A slot whose magic or crc does not match is ignored (a torn write); the file is created
    under another name and renamed into place, so a missing or empty file is a new journal.

    Segments: seg-X holds the lsns [X, X + its size). The size of a segment in use is the
    distance to the next segment's name (the last one: its file size, at least the journal's
    segment size), so a file found shorter than that (cut by an operator or a test) reads as
    zeros past its end and is extended with zeros when the writer reaches it. Segments
    wholly before the checkpoint's lsn are free: the writer renames the oldest of them to the
    next segment's name instead of making a file (recycling), and deletes all but
    OB_JOURNAL_SPARES_MAX of them.

    ob_journal_open walks the log from the checkpoint's lsn (journal.h, "Recovery rule"),
    then makes what follows the end safe to overwrite: the rest of the end's segment is
    zeroed if it is not zeros already (a record after a corrupted one could otherwise be
    valid again once new records of the same sizes reach it), and segments after it are
    removed (renamed to lost-X when they begin with a valid record, the rest of a log that a
    corruption cut, kept for the operator). */
#define _DEFAULT_SOURCE /* pwritev: one write of a record's header and payload */
#include "journal.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bigendian.h"
#include "orderbus/error.h"

#define S_MAGIC "OBJRNL01"
#define S_MAGIC_BYTES 8
#define S_VERSION 1u
#define S_SALT_BYTES 8
/* a checkpoint slot: offsets of its fields, then its length before the snapshot */
#define S_SLOT_VERSION 8
#define S_SLOT_COUNTER 12
#define S_SLOT_SALT 20
#define S_SLOT_LSN 28
#define S_SLOT_DEV 36
#define S_SLOT_INO 44
#define S_SLOT_SNAPSHOT_LEN 52
#define S_SLOT_FIXED 56
#define S_CRC_BYTES 4
/* a record's header: offsets of its fields after the crc */
#define S_REC_LEN 4
#define S_REC_LSN 8
#define S_REC_KIND 16
#define S_SLOTS 2
#define S_CHECKPOINT "checkpoint"
#define S_CHECKPOINT_NEW "checkpoint.new"
#define S_SEG_PREFIX "seg-"
#define S_LOST_PREFIX "lost-"
#define S_HEX_DIGITS 16
#define S_NAME_MAX 32        /* bytes of a file name of the journal's, with its NUL */
#define S_SEGMENT_MIN 4096u  /* the smallest segment size open accepts */
#define S_ALIGN 4096u        /* an oversized segment's size is a multiple of this */
#define S_INITIAL_SEGMENTS 8 /* slots of the segment array at first */

_Static_assert(S_SLOT_SNAPSHOT_LEN + 4 == S_SLOT_FIXED && S_REC_KIND + 1 == OB_JOURNAL_HEADER_BYTES,
               "the layouts above are contiguous");
_Static_assert(S_SLOT_FIXED + OB_JOURNAL_SNAPSHOT_MAX + S_CRC_BYTES <= OB_JOURNAL_SLOT_BYTES,
               "a checkpoint slot holds the largest snapshot");

typedef struct s_segment {
    uint64_t start; /* its first lsn (its name) */
    uint64_t size;  /* lsns it holds (see the head comment) */
    uint64_t bytes; /* its file's size */
    int fd;         /* open read-write */
} s_segment_t;

struct ob_journal {
    int dir_fd;                 /* the journal's directory */
    int cp_fd;                  /* the checkpoint file */
    uint64_t segment_bytes;     /* size of new segments */
    uint8_t salt[S_SALT_BYTES]; /* fixed at creation */
    s_segment_t *segs;          /* by start; the free ones first (writer's, or alone) */
    size_t seg_count;           /* segments in segs */
    size_t seg_cap;             /* slots of segs */
    size_t cur;                 /* index of the segment the next record goes into */
    int failed;                 /* a fdatasync of a segment failed: appends refused */
    _Atomic uint64_t end;       /* the next record's lsn */
    _Atomic uint64_t cp_lsn;    /* the newest checkpoint's lsn */
    pthread_mutex_t mutex;      /* guards the fields below (checkpoint_get and _put) */
    int cp_slot;                /* slot of the newest checkpoint */
    uint64_t cp_counter;        /* its counter (0: none yet) */
    uint64_t cp_dev;            /* its dev */
    uint64_t cp_ino;            /* its ino */
    size_t cp_snapshot_len;     /* bytes in cp_snapshot */
    uint8_t *cp_snapshot;       /* OB_JOURNAL_SNAPSHOT_MAX bytes */
    uint8_t *slot_buf;          /* OB_JOURNAL_SLOT_BYTES: a slot being written or read */
    uint8_t *read_buf;          /* OB_JOURNAL_IO_BYTES: the walk's window */
};

/* --- records --------------------------------------------------------------------------- */

/* Writes the header of a record of kind at lsn whose payload is iov into hdr. */
static void
s_header(const uint8_t *salt, uint64_t lsn, int kind, const struct iovec *iov, int iovcnt,
         size_t len, uint8_t *hdr)
{
    ob_put_u32(hdr + S_REC_LEN, (uint32_t)len);
    ob_put_u64(hdr + S_REC_LSN, lsn);
    hdr[S_REC_KIND] = (uint8_t)kind;
    uLong crc = crc32(0, salt, S_SALT_BYTES);
    crc = crc32(crc, hdr + S_REC_LEN, OB_JOURNAL_HEADER_BYTES - S_REC_LEN);
    for (int i = 0; i < iovcnt; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) { /* crc32 takes a uInt length */
            uInt n = left > UINT_MAX ? UINT_MAX : (uInt)left;
            crc = crc32(crc, p, n);
            p += n;
            left -= n;
        }
    }
    ob_put_u32(hdr, (uint32_t)crc);
}

int
ob_journal_record_parse(const uint8_t salt[8], uint64_t lsn, const uint8_t *buf, size_t len,
                        int *ret_kind, const uint8_t **ret_payload, size_t *ret_payload_len,
                        size_t *ret_record_len)
{
    if (len < OB_JOURNAL_HEADER_BYTES)
        return OB_ERR_TRUNCATED;
    uint32_t payload_len = ob_get_u32(buf + S_REC_LEN);
    int kind = buf[S_REC_KIND];
    if (payload_len > OB_JOURNAL_RECORD_MAX)
        return OB_ERR_TOO_LARGE;
    if (payload_len > len - OB_JOURNAL_HEADER_BYTES)
        return OB_ERR_TRUNCATED;
    if (ob_get_u64(buf + S_REC_LSN) != lsn ||
        (kind != OB_JOURNAL_DATA && kind != OB_JOURNAL_NEXT) ||
        (kind == OB_JOURNAL_NEXT && payload_len != 0))
        return OB_ERR_MALFORMED;
    struct iovec iov = {.iov_base = (void *)(buf + OB_JOURNAL_HEADER_BYTES),
                        .iov_len = payload_len};
    uint8_t hdr[OB_JOURNAL_HEADER_BYTES];
    s_header(salt, lsn, kind, &iov, 1, payload_len, hdr);
    if (memcmp(hdr, buf, 4) != 0)
        return OB_ERR_MALFORMED;
    *ret_kind = kind;
    *ret_payload = buf + OB_JOURNAL_HEADER_BYTES;
    *ret_payload_len = payload_len;
    *ret_record_len = OB_JOURNAL_HEADER_BYTES + (size_t)payload_len;
    return 0;
}

/* --- file helpers ---------------------------------------------------------------------- */

/* Reads up to len bytes at off of fd into buf, stopping at the end of the file; *ret_got
   gets the bytes read. Returns 0 or -errno. */
static int
s_pread_all(int fd, uint8_t *buf, size_t len, uint64_t off, size_t *ret_got)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *ret_got = got;
    return 0;
}

/* Writes len bytes of buf at off of fd. Returns 0 or -errno (-EIO for a short write). */
static int
s_pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        buf += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes zeros over [from, to) of fd, then fdatasync. Returns 0, -errno or -ENOMEM. */
static int
s_zero_fill(int fd, uint64_t from, uint64_t to)
{
    uint8_t *zeros = calloc(1, OB_JOURNAL_IO_BYTES);
    int rc = zeros ? 0 : -ENOMEM;
    while (!rc && from < to) {
        size_t n = to - from < OB_JOURNAL_IO_BYTES ? (size_t)(to - from) : OB_JOURNAL_IO_BYTES;
        rc = s_pwrite_all(fd, zeros, n, from);
        from += n;
    }
    if (!rc && fdatasync(fd) != 0)
        rc = -errno;
    free(zeros);
    return rc;
}

static int
s_fsync_dir(ob_journal_t *self)
{
    return fsync(self->dir_fd) == 0 ? 0 : -errno;
}

static void
s_seg_name(uint64_t start, const char *prefix, char *name)
{
    snprintf(name, S_NAME_MAX, "%s%016" PRIx64, prefix, start);
}

/* Returns 1 and sets *ret_start if name is a segment's (seg- and 16 lowercase hex digits). */
static int
s_seg_parse_name(const char *name, uint64_t *ret_start)
{
    size_t prefix = strlen(S_SEG_PREFIX);
    if (strncmp(name, S_SEG_PREFIX, prefix) != 0 || strlen(name) != prefix + S_HEX_DIGITS)
        return 0;
    uint64_t start = 0;
    for (const char *p = name + prefix; *p; p++) {
        int digit = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
        if (digit < 0)
            return 0;
        start = start << 4 | (uint64_t)digit;
    }
    *ret_start = start;
    return 1;
}

/* --- the segment array (the writer's, or open's) ---------------------------------------- */

/* Inserts seg at index i. Returns 0 or -ENOMEM. */
static int
s_segs_insert(ob_journal_t *self, size_t i, s_segment_t seg)
{
    if (self->seg_count == self->seg_cap) {
        size_t cap = self->seg_cap ? self->seg_cap * 2 : S_INITIAL_SEGMENTS;
        s_segment_t *segs = realloc(self->segs, cap * sizeof *segs);
        if (!segs)
            return -ENOMEM;
        self->segs = segs;
        self->seg_cap = cap;
    }
    memmove(self->segs + i + 1, self->segs + i, (self->seg_count - i) * sizeof *self->segs);
    self->segs[i] = seg;
    self->seg_count++;
    if (self->cur >= i && self->seg_count > 1)
        self->cur++;
    return 0;
}

/* Removes the segment at index i from the array (its file stays; its fd is closed). */
static void
s_segs_remove(ob_journal_t *self, size_t i)
{
    if (self->segs[i].fd >= 0)
        close(self->segs[i].fd);
    memmove(self->segs + i, self->segs + i + 1, (self->seg_count - i - 1) * sizeof *self->segs);
    self->seg_count--;
    if (self->cur > i)
        self->cur--;
}

/* Deletes the segment at index i (file and entry). Returns 0 or -errno. */
static int
s_segs_delete(ob_journal_t *self, size_t i)
{
    char name[S_NAME_MAX];
    s_seg_name(self->segs[i].start, S_SEG_PREFIX, name);
    if (unlinkat(self->dir_fd, name, 0) != 0 && errno != ENOENT)
        return -errno;
    s_segs_remove(self, i);
    return 0;
}

/* Returns how many segments at the front lie wholly before the checkpoint's lsn. */
static size_t
s_segs_free(ob_journal_t *self)
{
    uint64_t cp = atomic_load(&self->cp_lsn);
    size_t n = 0;
    while (n < self->cur && self->segs[n].start + self->segs[n].size <= cp)
        n++;
    return n;
}

/* Makes the segment of size bytes that follows the current one: the oldest free segment
   renamed, or a new file of zeros; deletes the free segments of another size (oversized
   ones) and those beyond OB_JOURNAL_SPARES_MAX, and a segment left at the new name (after a
   rewind or a failed append). Returns 0, -errno or -ENOMEM. */
static int
s_segment_next(ob_journal_t *self, uint64_t size)
{
    s_segment_t *cur = &self->segs[self->cur];
    uint64_t start = cur->start + cur->size;
    char name[S_NAME_MAX], old[S_NAME_MAX];
    int rc = 0;

    while (self->seg_count > self->cur + 1)
        if ((rc = s_segs_delete(self, self->seg_count - 1)))
            return rc;
    s_seg_name(start, S_SEG_PREFIX, name);
    s_segment_t seg = {.start = start, .size = size, .bytes = size, .fd = -1};
    size_t free_count = s_segs_free(self);
    for (size_t i = 0; i < free_count;) { /* only segments of the usual size are kept */
        if (self->segs[i].bytes == self->segment_bytes) {
            i++;
        } else if ((rc = s_segs_delete(self, i))) {
            return rc;
        } else {
            free_count--;
        }
    }
    if (free_count && size == self->segment_bytes) { /* the oldest free one, renamed */
        s_seg_name(self->segs[0].start, S_SEG_PREFIX, old);
        if (renameat(self->dir_fd, old, self->dir_fd, name) != 0)
            return -errno;
        seg.fd = self->segs[0].fd;
        self->segs[0].fd = -1;
        s_segs_remove(self, 0);
        free_count--;
    }
    if (seg.fd < 0) {
        seg.fd = openat(self->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (seg.fd < 0)
            return -errno;
        if ((rc = s_zero_fill(seg.fd, 0, size))) {
            close(seg.fd);
            unlinkat(self->dir_fd, name, 0);
            return rc;
        }
    }
    /* the new segment is in the array before anything else can fail: its file exists */
    if ((rc = s_segs_insert(self, self->seg_count, seg))) {
        close(seg.fd);
        unlinkat(self->dir_fd, name, 0);
        return rc;
    }
    while (free_count > OB_JOURNAL_SPARES_MAX) {
        if ((rc = s_segs_delete(self, 0)))
            return rc;
        free_count--;
    }
    return s_fsync_dir(self);
}

/* --- checkpoints ----------------------------------------------------------------------- */

/* Encodes a slot into self->slot_buf; returns its length. */
static size_t
s_slot_encode(ob_journal_t *self, uint64_t counter, const ob_journal_checkpoint_t *cp)
{
    uint8_t *p = self->slot_buf;
    memcpy(p, S_MAGIC, S_MAGIC_BYTES);
    ob_put_u32(p + S_SLOT_VERSION, S_VERSION);
    ob_put_u64(p + S_SLOT_COUNTER, counter);
    memcpy(p + S_SLOT_SALT, self->salt, S_SALT_BYTES);
    ob_put_u64(p + S_SLOT_LSN, cp->lsn);
    ob_put_u64(p + S_SLOT_DEV, cp->dev);
    ob_put_u64(p + S_SLOT_INO, cp->ino);
    ob_put_u32(p + S_SLOT_SNAPSHOT_LEN, (uint32_t)cp->snapshot_len);
    if (cp->snapshot_len)
        memcpy(p + S_SLOT_FIXED, cp->snapshot, cp->snapshot_len);
    size_t len = S_SLOT_FIXED + cp->snapshot_len;
    ob_put_u32(p + len, (uint32_t)crc32(0, p, (uInt)len));
    return len + S_CRC_BYTES;
}

/* Decodes the slot in buf (got bytes) into *ret_cp (its snapshot points into buf),
   *ret_counter and ret_salt. Returns 0, 1 for a slot to ignore (torn, never written), or
   OB_ERR_STORAGE (a valid slot of another version). */
static int
s_slot_decode(const uint8_t *buf, size_t got, ob_journal_checkpoint_t *ret_cp,
              uint64_t *ret_counter, uint8_t *ret_salt)
{
    if (got < S_SLOT_FIXED + S_CRC_BYTES || memcmp(buf, S_MAGIC, S_MAGIC_BYTES) != 0)
        return 1;
    size_t snapshot_len = ob_get_u32(buf + S_SLOT_SNAPSHOT_LEN);
    if (snapshot_len > OB_JOURNAL_SNAPSHOT_MAX || S_SLOT_FIXED + snapshot_len + S_CRC_BYTES > got)
        return 1;
    size_t len = S_SLOT_FIXED + snapshot_len;
    if (ob_get_u32(buf + len) != (uint32_t)crc32(0, buf, (uInt)len))
        return 1;
    if (ob_get_u32(buf + S_SLOT_VERSION) != S_VERSION)
        return OB_ERR_STORAGE;
    *ret_counter = ob_get_u64(buf + S_SLOT_COUNTER);
    memcpy(ret_salt, buf + S_SLOT_SALT, S_SALT_BYTES);
    ret_cp->lsn = ob_get_u64(buf + S_SLOT_LSN);
    ret_cp->dev = ob_get_u64(buf + S_SLOT_DEV);
    ret_cp->ino = ob_get_u64(buf + S_SLOT_INO);
    ret_cp->snapshot = buf + S_SLOT_FIXED;
    ret_cp->snapshot_len = snapshot_len;
    return 0;
}

/* Reads the newest valid slot of the checkpoint file. Returns 0, -ENOENT (no file, or an
   empty one: a new journal), OB_ERR_STORAGE (no valid slot, or one of another version) or
   -errno. */
static int
s_checkpoint_load(ob_journal_t *self)
{
    struct stat st;
    int found = 0;
    self->cp_fd = openat(self->dir_fd, S_CHECKPOINT, O_RDWR | O_CLOEXEC);
    if (self->cp_fd < 0)
        return -errno;
    if (fstat(self->cp_fd, &st) != 0)
        return -errno;
    if (st.st_size == 0)
        return -ENOENT;
    for (int slot = 0; slot < S_SLOTS; slot++) {
        ob_journal_checkpoint_t cp = {0};
        uint64_t counter = 0;
        uint8_t salt[S_SALT_BYTES] = {0};
        size_t got = 0;
        int rc = s_pread_all(self->cp_fd, self->slot_buf, OB_JOURNAL_SLOT_BYTES,
                             (uint64_t)slot * OB_JOURNAL_SLOT_BYTES, &got);
        if (!rc)
            rc = s_slot_decode(self->slot_buf, got, &cp, &counter, salt);
        if (rc < 0)
            return rc;
        if (rc == 1 || (found && counter <= self->cp_counter))
            continue;
        found = 1;
        self->cp_slot = slot;
        self->cp_counter = counter;
        memcpy(self->salt, salt, S_SALT_BYTES);
        atomic_store(&self->cp_lsn, cp.lsn);
        self->cp_dev = cp.dev;
        self->cp_ino = cp.ino;
        self->cp_snapshot_len = cp.snapshot_len;
        memcpy(self->cp_snapshot, cp.snapshot, cp.snapshot_len);
    }
    return found ? 0 : OB_ERR_STORAGE;
}

/* Creates the checkpoint file of a new journal: a fresh salt and slot 0 with counter 0,
   written under another name and renamed into place. Returns 0 or -errno. */
static int
s_checkpoint_create(ob_journal_t *self)
{
    ob_journal_checkpoint_t cp = {0};
    size_t got = 0;
    int rc = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    rc = s_pread_all(fd, self->salt, S_SALT_BYTES, 0, &got);
    close(fd);
    if (!rc && got != S_SALT_BYTES)
        rc = -EIO;
    if (rc)
        return rc;
    if (self->cp_fd >= 0)
        close(self->cp_fd);
    self->cp_fd =
        openat(self->dir_fd, S_CHECKPOINT_NEW, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (self->cp_fd < 0)
        return -errno;
    size_t len = s_slot_encode(self, 0, &cp);
    if ((rc = s_pwrite_all(self->cp_fd, self->slot_buf, len, 0)) ||
        (rc = s_zero_fill(self->cp_fd, len, (uint64_t)S_SLOTS * OB_JOURNAL_SLOT_BYTES)))
        return rc;
    if (renameat(self->dir_fd, S_CHECKPOINT_NEW, self->dir_fd, S_CHECKPOINT) != 0)
        return -errno;
    self->cp_slot = 0;
    self->cp_counter = 0;
    atomic_store(&self->cp_lsn, 0);
    return s_fsync_dir(self);
}

int
ob_journal_checkpoint_get(ob_journal_t *self, ob_journal_checkpoint_t *ret)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&self->mutex);
    if (self->cp_counter > 0) {
        ret->lsn = atomic_load(&self->cp_lsn);
        ret->dev = self->cp_dev;
        ret->ino = self->cp_ino;
        ret->snapshot = self->cp_snapshot;
        ret->snapshot_len = self->cp_snapshot_len;
        rc = 0;
    }
    pthread_mutex_unlock(&self->mutex);
    return rc;
}

int
ob_journal_checkpoint_put(ob_journal_t *self, const ob_journal_checkpoint_t *cp)
{
    if (cp->snapshot_len > OB_JOURNAL_SNAPSHOT_MAX || cp->lsn > atomic_load(&self->end) ||
        cp->lsn < atomic_load(&self->cp_lsn))
        return OB_ERR_INVALID_ARGUMENT;
    pthread_mutex_lock(&self->mutex);
    int slot = 1 - self->cp_slot;
    size_t len = s_slot_encode(self, self->cp_counter + 1, cp);
    int rc = s_pwrite_all(self->cp_fd, self->slot_buf, len, (uint64_t)slot * OB_JOURNAL_SLOT_BYTES);
    if (!rc && fdatasync(self->cp_fd) != 0)
        rc = -errno;
    if (!rc) {
        self->cp_slot = slot;
        self->cp_counter++;
        self->cp_dev = cp->dev;
        self->cp_ino = cp->ino;
        self->cp_snapshot_len = cp->snapshot_len;
        if (cp->snapshot_len)
            memcpy(self->cp_snapshot, cp->snapshot, cp->snapshot_len);
        atomic_store(&self->cp_lsn, cp->lsn);
    }
    pthread_mutex_unlock(&self->mutex);
    return rc;
}

/* --- the walk -------------------------------------------------------------------------- */

typedef struct s_walk {
    size_t seg;         /* index of the segment of pos */
    uint64_t pos;       /* the next record's lsn */
    uint64_t records;   /* data records read */
    uint64_t bytes;     /* their payload bytes */
    uint64_t win_start; /* lsn of self->read_buf[0] */
    size_t win_len;     /* bytes in self->read_buf (0: none) */
    uint8_t *big;       /* a record larger than the window (owned) */
} s_walk_t;

/* Returns the index of the segment holding lsn, or seg_count. */
static size_t
s_seg_find(ob_journal_t *self, uint64_t lsn)
{
    for (size_t i = self->seg_count; i-- > 0;)
        if (self->segs[i].start <= lsn && lsn - self->segs[i].start < self->segs[i].size)
            return i;
    return self->seg_count;
}

/* Points *ret_p at up to want bytes of the segment from w->pos (fewer at the end of the
   file) and sets *ret_have. Returns 0, -errno or -ENOMEM. */
static int
s_walk_bytes(ob_journal_t *self, s_walk_t *w, size_t want, const uint8_t **ret_p, size_t *ret_have)
{
    const s_segment_t *seg = &self->segs[w->seg];
    uint64_t off = w->pos - seg->start;
    if (w->win_len && w->pos >= w->win_start && w->pos - w->win_start + want <= w->win_len) {
        *ret_p = self->read_buf + (w->pos - w->win_start);
        *ret_have = want;
        return 0;
    }
    size_t got = 0;
    int rc;
    if (want > OB_JOURNAL_IO_BYTES) {
        free(w->big);
        if (!(w->big = malloc(want)))
            return -ENOMEM;
        rc = s_pread_all(seg->fd, w->big, want, off, &got);
        *ret_p = w->big;
    } else {
        uint64_t left = seg->size - off;
        size_t len = left < OB_JOURNAL_IO_BYTES ? (size_t)left : OB_JOURNAL_IO_BYTES;
        rc = s_pread_all(seg->fd, self->read_buf, len, off, &got);
        w->win_start = w->pos;
        w->win_len = got;
        *ret_p = self->read_buf;
    }
    *ret_have = got < want ? got : want;
    return rc;
}

/* Walks the log from w->pos in segment w->seg up to the first invalid record or stop,
   calling fn (may be NULL) for each data record; leaves w at the end. Returns 0, what fn
   returned, -errno or -ENOMEM. */
static int
s_walk(ob_journal_t *self, s_walk_t *w, uint64_t stop, ob_journal_record_fn *fn, void *arg)
{
    int rc = 0;
    while (w->pos < stop) {
        const s_segment_t *seg = &self->segs[w->seg];
        uint64_t left = seg->start + seg->size - w->pos;
        const uint8_t *p, *payload;
        size_t have, payload_len, record_len;
        int kind;
        if ((rc = s_walk_bytes(
                 self, w, left < OB_JOURNAL_HEADER_BYTES ? (size_t)left : OB_JOURNAL_HEADER_BYTES,
                 &p, &have)))
            break;
        if (have < OB_JOURNAL_HEADER_BYTES)
            break;
        uint64_t want = OB_JOURNAL_HEADER_BYTES + (uint64_t)ob_get_u32(p + S_REC_LEN);
        if (want > left || want > OB_JOURNAL_HEADER_BYTES + (uint64_t)OB_JOURNAL_RECORD_MAX)
            break;
        if ((rc = s_walk_bytes(self, w, (size_t)want, &p, &have)))
            break;
        if (ob_journal_record_parse(self->salt, w->pos, p, have, &kind, &payload, &payload_len,
                                    &record_len))
            break;
        if (kind == OB_JOURNAL_NEXT) {
            if (w->seg + 1 >= self->seg_count)
                break;
            w->seg++;
            w->pos = self->segs[w->seg].start;
            w->win_len = 0;
            continue;
        }
        if (record_len + OB_JOURNAL_HEADER_BYTES > left) /* no room for a NEXT: not ours */
            break;
        if (fn && (rc = fn(arg, w->pos, payload, payload_len)))
            break;
        w->records++;
        w->bytes += payload_len;
        w->pos += record_len;
    }
    free(w->big);
    w->big = NULL;
    return rc;
}

/* --- open and close -------------------------------------------------------------------- */

/* Fills self->segs with the directory's segments, by start, each open. Returns 0, -errno,
   -ENOMEM or OB_ERR_STORAGE (a segment that is not a regular file). */
static int
s_segs_scan(ob_journal_t *self)
{
    int fd = dup(self->dir_fd);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *entry;
    int rc = 0;
    if (!dir) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    rewinddir(dir);
    while (!rc && (entry = readdir(dir))) {
        s_segment_t seg = {.fd = -1};
        struct stat st;
        if (!s_seg_parse_name(entry->d_name, &seg.start))
            continue;
        seg.fd = openat(self->dir_fd, entry->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (seg.fd < 0) {
            rc = errno == ELOOP || errno == EISDIR ? OB_ERR_STORAGE : -errno;
            break;
        }
        if (fstat(seg.fd, &st) != 0)
            rc = -errno;
        else if (!S_ISREG(st.st_mode))
            rc = OB_ERR_STORAGE;
        if (rc) {
            close(seg.fd);
            break;
        }
        seg.bytes = (uint64_t)st.st_size;
        size_t i = self->seg_count;
        while (i > 0 && self->segs[i - 1].start > seg.start)
            i--;
        if ((rc = s_segs_insert(self, i, seg)))
            close(seg.fd);
    }
    closedir(dir);
    return rc;
}

/* Gives each segment its size (head comment) and finds the one holding the checkpoint's
   lsn. Returns 0 or OB_ERR_STORAGE (segments overlap, or none holds the lsn). */
static int
s_segs_size(ob_journal_t *self, size_t *ret_cp_seg)
{
    uint64_t cp = atomic_load(&self->cp_lsn);
    size_t c = 0;
    for (size_t i = 0; i < self->seg_count; i++) {
        s_segment_t *seg = &self->segs[i];
        if (seg->start <= cp)
            c = i;
        if (i + 1 < self->seg_count && self->segs[i + 1].start - seg->start < seg->bytes)
            return OB_ERR_STORAGE;
        if (seg->start > UINT64_MAX - seg->bytes - self->segment_bytes)
            return OB_ERR_STORAGE;
    }
    if (!self->seg_count || self->segs[c].start > cp)
        return OB_ERR_STORAGE;
    for (size_t i = 0; i < self->seg_count; i++) {
        s_segment_t *seg = &self->segs[i];
        if (i < c)
            seg->size = seg->bytes;
        else if (i + 1 < self->seg_count)
            seg->size = self->segs[i + 1].start - seg->start;
        else
            seg->size = seg->bytes > self->segment_bytes ? seg->bytes : self->segment_bytes;
    }
    if (cp - self->segs[c].start >= self->segs[c].size)
        return OB_ERR_STORAGE;
    *ret_cp_seg = c;
    return 0;
}

/* Removes the segment at index i, which follows the end of the log: renamed to lost-X if
   it begins with what looks like a record of its position, else deleted. Returns 0 or
   -errno. */
static int
s_segs_drop(ob_journal_t *self, size_t i)
{
    uint8_t hdr[OB_JOURNAL_HEADER_BYTES];
    char name[S_NAME_MAX], lost[S_NAME_MAX];
    size_t got = 0;
    int rc = s_pread_all(self->segs[i].fd, hdr, sizeof hdr, 0, &got);
    if (rc)
        return rc;
    if (got == sizeof hdr && ob_get_u64(hdr + S_REC_LSN) == self->segs[i].start) {
        s_seg_name(self->segs[i].start, S_SEG_PREFIX, name);
        s_seg_name(self->segs[i].start, S_LOST_PREFIX, lost);
        if (renameat(self->dir_fd, name, self->dir_fd, lost) != 0)
            return -errno;
        s_segs_remove(self, i);
        return 0;
    }
    return s_segs_delete(self, i);
}

/* Makes the segment at index i zeros from lsn pos to its end (head comment) and its file
   as long as its size. Returns 0, -errno or -ENOMEM. */
static int
s_tail_clean(ob_journal_t *self, size_t i, uint64_t pos)
{
    s_segment_t *seg = &self->segs[i];
    uint64_t off = pos - seg->start;
    int dirty = 0, rc = 0;
    while (!dirty && off < seg->bytes) {
        size_t got = 0;
        uint64_t left = seg->bytes - off;
        size_t len = left < OB_JOURNAL_IO_BYTES ? (size_t)left : OB_JOURNAL_IO_BYTES;
        if ((rc = s_pread_all(seg->fd, self->read_buf, len, off, &got)))
            return rc;
        if (!got)
            break;
        for (size_t k = 0; k < got && !dirty; k++)
            dirty = self->read_buf[k] != 0;
        off += got;
    }
    off = dirty ? pos - seg->start : seg->bytes;
    if (off < seg->size) {
        if ((rc = s_zero_fill(seg->fd, off, seg->size)))
            return rc;
        seg->bytes = seg->size > seg->bytes ? seg->size : seg->bytes;
    }
    return 0;
}

int
ob_journal_open(const char *dir, size_t segment_bytes, ob_journal_t **ret_journal)
{
    ob_journal_t *self = NULL;
    size_t cp_seg = 0;
    int rc = 0;

    if (segment_bytes == 0)
        segment_bytes = OB_JOURNAL_SEGMENT_BYTES;
    if (segment_bytes < S_SEGMENT_MIN)
        return OB_ERR_INVALID_ARGUMENT;
    if (!(self = calloc(1, sizeof *self)))
        return -ENOMEM;
    self->dir_fd = self->cp_fd = -1;
    self->segment_bytes = segment_bytes;
    pthread_mutex_init(&self->mutex, NULL);
    self->cp_snapshot = malloc(OB_JOURNAL_SNAPSHOT_MAX);
    self->slot_buf = calloc(1, OB_JOURNAL_SLOT_BYTES);
    self->read_buf = malloc(OB_JOURNAL_IO_BYTES);
    if (!self->cp_snapshot || !self->slot_buf || !self->read_buf) {
        rc = -ENOMEM;
        goto fail;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        goto fail;
    }
    self->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dir_fd < 0) {
        rc = -errno;
        goto fail;
    }
    int loaded = s_checkpoint_load(self);
    if (loaded && loaded != -ENOENT) {
        rc = loaded;
        goto fail;
    }
    if ((rc = s_segs_scan(self)))
        goto fail;
    if (loaded == -ENOENT) {
        /* a journal is created checkpoint first: segments without one are not ours */
        if (self->seg_count) {
            rc = OB_ERR_STORAGE;
            goto fail;
        }
        if ((rc = s_checkpoint_create(self)))
            goto fail;
    }
    if (!self->seg_count && self->cp_counter == 0) { /* created, its segment not yet */
        s_segment_t seg = {.start = 0, .size = segment_bytes, .bytes = 0, .fd = -1};
        seg.fd = openat(self->dir_fd, S_SEG_PREFIX "0000000000000000", O_RDWR | O_CREAT | O_CLOEXEC,
                        0600);
        if (seg.fd < 0) {
            rc = -errno;
            goto fail;
        }
        if ((rc = s_segs_insert(self, 0, seg))) {
            close(seg.fd);
            goto fail;
        }
    }
    if ((rc = s_segs_size(self, &cp_seg)))
        goto fail;

    s_walk_t w = {.seg = cp_seg, .pos = atomic_load(&self->cp_lsn)};
    if ((rc = s_walk(self, &w, UINT64_MAX, NULL, NULL)))
        goto fail;
    while (self->seg_count > w.seg + 1)
        if ((rc = s_segs_drop(self, self->seg_count - 1)))
            goto fail;
    if ((rc = s_tail_clean(self, w.seg, w.pos)) || (rc = s_fsync_dir(self)))
        goto fail;
    self->cur = w.seg;
    atomic_store(&self->end, w.pos);
    *ret_journal = self;
    return 0;
fail:
    ob_journal_close(&self);
    return rc;
}

void
ob_journal_close(ob_journal_t **self_p)
{
    ob_journal_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->seg_count; i++)
        if (self->segs[i].fd >= 0)
            close(self->segs[i].fd);
    free(self->segs);
    if (self->cp_fd >= 0)
        close(self->cp_fd);
    if (self->dir_fd >= 0)
        close(self->dir_fd);
    pthread_mutex_destroy(&self->mutex);
    free(self->cp_snapshot);
    free(self->slot_buf);
    free(self->read_buf);
    free(self);
    *self_p = NULL;
}

int
ob_journal_replay(ob_journal_t *self, ob_journal_record_fn *fn, void *arg, uint64_t *ret_records,
                  uint64_t *ret_bytes)
{
    uint64_t cp = atomic_load(&self->cp_lsn);
    s_walk_t w = {.seg = s_seg_find(self, cp), .pos = cp};
    int rc = w.seg < self->seg_count ? s_walk(self, &w, atomic_load(&self->end), fn, arg) : 0;
    if (ret_records)
        *ret_records = w.records;
    if (ret_bytes)
        *ret_bytes = w.bytes;
    return rc;
}

/* --- appending ------------------------------------------------------------------------- */

int
ob_journal_append(ob_journal_t *self, const struct iovec *iov, int iovcnt, uint64_t *ret_lsn)
{
    struct iovec vec[OB_JOURNAL_IOV_MAX + 1];
    uint8_t hdr[OB_JOURNAL_HEADER_BYTES], next[OB_JOURNAL_HEADER_BYTES];
    uint64_t len = 0;
    int rc = 0;

    if (self->failed)
        return -EIO;
    if (iovcnt < 0 || iovcnt > OB_JOURNAL_IOV_MAX)
        return -EINVAL;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > OB_JOURNAL_RECORD_MAX)
            return OB_ERR_TOO_LARGE;
        len += iov[i].iov_len;
    }
    if (len > OB_JOURNAL_RECORD_MAX)
        return OB_ERR_TOO_LARGE;

    uint64_t pos = atomic_load(&self->end);
    size_t seg = self->cur;
    uint64_t need = 2 * OB_JOURNAL_HEADER_BYTES + len; /* the record and a NEXT after it */
    if (self->segs[seg].start + self->segs[seg].size - pos < need) {
        uint64_t size = need <= self->segment_bytes ? self->segment_bytes
                                                    : (need + S_ALIGN - 1) / S_ALIGN * S_ALIGN;
        if ((rc = s_segment_next(self, size)))
            return rc;
        seg = self->cur; /* s_segment_next may have moved it down */
        s_header(self->salt, pos, OB_JOURNAL_NEXT, NULL, 0, 0, next);
        if ((rc = s_pwrite_all(self->segs[seg].fd, next, sizeof next, pos - self->segs[seg].start)))
            return rc;
        seg++;
        pos = self->segs[seg].start;
    }

    s_header(self->salt, pos, OB_JOURNAL_DATA, iov, iovcnt, (size_t)len, hdr);
    vec[0].iov_base = hdr;
    vec[0].iov_len = sizeof hdr;
    if (iovcnt)
        memcpy(vec + 1, iov, (size_t)iovcnt * sizeof *iov);
    ssize_t n;
    do
        n = pwritev(self->segs[seg].fd, vec, iovcnt + 1, (off_t)(pos - self->segs[seg].start));
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if ((uint64_t)n != sizeof hdr + len)
        return -EIO; /* a short write: the record is not whole, the next append overwrites */
    if (fdatasync(self->segs[seg].fd) != 0 ||
        (seg != self->cur && fdatasync(self->segs[self->cur].fd) != 0)) {
        rc = -errno;
        self->failed = 1;
        return rc;
    }
    self->cur = seg;
    atomic_store(&self->end, pos + sizeof hdr + len);
    if (ret_lsn)
        *ret_lsn = pos;
    return 0;
}

void
ob_journal_rewind(ob_journal_t *self, uint64_t lsn)
{
    assert(lsn <= atomic_load(&self->end) && lsn >= atomic_load(&self->cp_lsn));
    size_t i = s_seg_find(self, lsn);
    assert(i <= self->cur);
    if (i > self->cur)
        return; /* not a position of the log: nothing to take back */
    /* segments after it stay until the writer next needs one: s_segment_next drops them */
    self->cur = i;
    atomic_store(&self->end, lsn);
}

uint64_t
ob_journal_end(ob_journal_t *self)
{
    return atomic_load(&self->end);
}

uint64_t
ob_journal_pending(ob_journal_t *self)
{
    uint64_t end = atomic_load(&self->end);
    uint64_t cp = atomic_load(&self->cp_lsn);
    return end > cp ? end - cp : 0;
}
