/*  ob_journal: the store's write-ahead log (store.h, "Durability"). Plain files, no LMDB:
    the store writes each commit's effects here as one record and makes it durable with one
    sequential fdatasync before it commits the same effects to LMDB without a sync.

    Files, in the journal's directory (DATA_DIR/journal, mode 0700):
      seg-<16 hex digits>   a segment: records from that log position (lsn) on. A segment is
                            OB_JOURNAL_SEGMENT_BYTES long (longer only when one record needs
                            more), and is written in full (zeros) when it is created, so
                            that appending overwrites allocated blocks and each fdatasync
                            writes the record's blocks alone, not the file's metadata.
                            Segments the last checkpoint no longer needs are renamed to the
                            next position and overwritten (recycled), never truncated.
      checkpoint            two slots of OB_JOURNAL_SLOT_BYTES; a checkpoint goes into the
                            slot that does not hold the newest one, then fdatasync, so a torn
                            write leaves the other slot valid.

    A record (every integer big-endian):
      u32 crc | u32 len | u64 lsn | u8 kind | len bytes of payload
    crc is CRC-32 (zlib) of the journal's salt (8 random bytes fixed when the journal is
    created, kept in every checkpoint), then len, lsn, kind and the payload. lsn is the
    record's own position in the log (a byte count from the journal's creation, never
    reused); a record is valid when its crc matches, its lsn is the position it is read at,
    len is at most OB_JOURNAL_RECORD_MAX and it lies wholly inside its segment. kind is
    OB_JOURNAL_DATA (the store's payload) or OB_JOURNAL_NEXT (no payload: the log goes on
    at the start of the next segment). Zeros, a torn write, a record of an earlier pass
    over a recycled segment, and event bytes that imitate a record (without the salt they
    cannot get its crc but by chance, 1 in 2^32) are all invalid.

    Recovery rule: the log is the valid records read from the checkpoint's lsn on, one after
    another, following OB_JOURNAL_NEXT records into the next segment; the first invalid
    record ends it. Every record that ob_journal_append returned 0 for lies before that
    end (it was on stable storage before the call returned, and everything before it was
    too), unless the disk itself corrupted it: a bit flipped in a synced record ends the log
    there, and the records after it are lost with it. ob_journal_open then places the next
    append at the end, overwriting whatever follows (it first zeroes the rest of that
    segment and removes the segments after it, so that no old record is found again).

    Threads: one thread calls ob_journal_append, ob_journal_rewind and ob_journal_end (the
    store's writer); ob_journal_checkpoint_put may run on another thread at the same time
    (the store's checkpointer), and only marks segments as free: the appending thread
    recycles them. open, replay and close are called alone. */
#ifndef OB_JOURNAL_H
#define OB_JOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_JOURNAL_SEGMENT_BYTES (16u * 1024 * 1024) /* a segment's size */
#define OB_JOURNAL_HEADER_BYTES 17                   /* crc, len, lsn, kind */
#define OB_JOURNAL_RECORD_MAX (1u << 30)             /* payload bytes in one record */
#define OB_JOURNAL_SNAPSHOT_MAX 65536                /* bytes of a checkpoint's snapshot */
#define OB_JOURNAL_SLOT_BYTES (OB_JOURNAL_SNAPSHOT_MAX + 4096) /* a checkpoint slot */
#define OB_JOURNAL_DATA 1              /* record kind: a payload of the store's */
#define OB_JOURNAL_NEXT 2              /* record kind: go on at the next segment */
#define OB_JOURNAL_IOV_MAX 64          /* buffers of one ob_journal_append */
#define OB_JOURNAL_SPARES_MAX 2        /* free segments kept for recycling */
#define OB_JOURNAL_IO_BYTES (1u << 20) /* bytes of one read or zero-filling write */

typedef struct ob_journal ob_journal_t;

/* What a checkpoint says: the log up to lsn is in the store's synced files, which the
   store identifies by (dev, ino) and describes with an opaque snapshot (the store's LMDB
   meta page). */
typedef struct ob_journal_checkpoint {
    uint64_t lsn;            /* replay starts here: records before it are not needed */
    uint64_t dev;            /* st_dev of the store's data file */
    uint64_t ino;            /* st_ino of the store's data file */
    const uint8_t *snapshot; /* snapshot_len bytes (borrowed; from checkpoint_get: the
                                journal's, valid until the next put or close) */
    size_t snapshot_len;     /* 0..OB_JOURNAL_SNAPSHOT_MAX */
} ob_journal_checkpoint_t;

/* Called by ob_journal_replay for each valid record, in log order: payload (len bytes) is
   valid only during the call. Returns 0 to go on, or an error that stops the replay. */
typedef int(ob_journal_record_fn)(void *arg, uint64_t lsn, const uint8_t *payload, size_t len);

/* Reads the record at the start of buf (len bytes: what the segment holds from there on),
   expected at position lsn of the journal whose salt is salt (borrowed). Pure: the journal's
   replay reads every record through it, and tests and fuzzers call it on any bytes. On
   success *ret_kind is OB_JOURNAL_DATA or OB_JOURNAL_NEXT, *ret_payload points at the
   *ret_payload_len bytes of payload inside buf (borrowed from buf) and *ret_record_len is
   the record's length, header included. Returns 0, OB_ERR_TRUNCATED (buf ends inside the
   record), OB_ERR_TOO_LARGE (len over OB_JOURNAL_RECORD_MAX) or OB_ERR_MALFORMED (another
   lsn, an unknown kind, a NEXT with a payload, or a crc that does not match). */
int ob_journal_record_parse(const uint8_t salt[8], uint64_t lsn, const uint8_t *buf, size_t len,
                            int *ret_kind, const uint8_t **ret_payload, size_t *ret_payload_len,
                            size_t *ret_record_len);

/* Opens the journal in directory dir (borrowed; created with mode 0700, and its first
   segment, if missing), reads its newest valid checkpoint and finds the end of the log from
   it. segment_bytes is the size of new segments (0: OB_JOURNAL_SEGMENT_BYTES; tests use
   less; at least 4096). On success *ret_journal is the caller's to close. Returns 0, -errno
   (the directory or a file cannot be made or read: -ENOSPC, -EACCES, ...), OB_ERR_STORAGE (a
   file of the journal is not one: no valid checkpoint slot, or one of an unknown version;
   segments whose names overlap, one that is not a regular file, none that holds the
   checkpoint's lsn, segments without a checkpoint file), OB_ERR_INVALID_ARGUMENT
   (segment_bytes under 4096) or -ENOMEM. */
int ob_journal_open(const char *dir, size_t segment_bytes, ob_journal_t **ret_journal);

/* Closes the journal and sets *self_p to NULL; accepts NULL. */
void ob_journal_close(ob_journal_t **self_p);

/* Fills *ret with the newest checkpoint. Returns 0, or -ENOENT when the journal has none
   (it was just created). */
int ob_journal_checkpoint_get(ob_journal_t *self, ob_journal_checkpoint_t *ret);

/* Writes checkpoint cp (borrowed) into the older slot and syncs it; from then on the
   segments wholly before cp->lsn are free for recycling. cp->lsn is at most
   ob_journal_end. Returns 0, -errno (then the previous checkpoint still holds) or
   OB_ERR_INVALID_ARGUMENT (snapshot too long, lsn beyond the end or before the newest
   checkpoint's lsn). */
int ob_journal_checkpoint_put(ob_journal_t *self, const ob_journal_checkpoint_t *cp);

/* Calls fn for every valid record from the checkpoint's lsn (or from the start of a
   journal without one) to the end of the log. Writes how many records and payload bytes it
   read to *ret_records and *ret_bytes (may be NULL). Returns 0, what fn returned to stop,
   -errno or -ENOMEM. */
int ob_journal_replay(ob_journal_t *self, ob_journal_record_fn *fn, void *arg,
                      uint64_t *ret_records, uint64_t *ret_bytes);

/* Appends one OB_JOURNAL_DATA record whose payload is the iovcnt buffers of iov
   (borrowed) and returns once it is on stable storage (write, then fdatasync). *ret_lsn
   (may be NULL) gets the record's lsn. Returns 0, OB_ERR_TOO_LARGE (payload over
   OB_JOURNAL_RECORD_MAX), -EINVAL (iovcnt over OB_JOURNAL_IOV_MAX), -ENOSPC, -EIO or
   another -errno: then the record is not part of the log and the next append overwrites
   it. After a failed fdatasync the journal refuses every later append (-EIO): what the
   kernel holds of the file is no longer known, and only a new open, which reads the disk,
   may go on; that open may find the record whole (its bytes may have reached the disk),
   so a record whose append failed is either replayed whole or not at all. */
int ob_journal_append(ob_journal_t *self, const struct iovec *iov, int iovcnt, uint64_t *ret_lsn);

/* Takes back every record from lsn on (a record ob_journal_append just wrote, whose
   effects the store could not commit): the next append is written at lsn. A record taken
   back may still be read by a replay until it is overwritten (it was durable). lsn lies
   between the newest checkpoint's lsn and the end (a programmer's error otherwise). */
void ob_journal_rewind(ob_journal_t *self, uint64_t lsn);

/* Returns the lsn the next record gets: the end of the log. */
uint64_t ob_journal_end(ob_journal_t *self);

/* Returns the bytes of log written since the newest checkpoint's lsn. */
uint64_t ob_journal_pending(ob_journal_t *self);

#ifdef __cplusplus
}
#endif
#endif
