/*  ob_store: the broker's topic store (DESIGN.md sections 3, 4 and 9).

    This header is the storage interface; the rest of the broker knows nothing else about
    storage. The embedded default is LMDB (store_lmdb.c, chosen at link time); a replicated
    backend such as NATS JetStream would implement the same functions in its own file:
    - a topic is an append-only log; sequence numbers are per topic, strictly increasing,
      from 1, without gaps;
    - ob_store_append is all-or-nothing for a batch and durable when it returns 0: every item
      with rc == 0 is on stable storage (or, for a replicated backend, acknowledged by a
      quorum) with its seq (below, "Durability");
    - an event id is stored once per topic: appending it again stores nothing and yields the
      first seq with dup = 1.

    - subscription state (definitions and positions, PROTOCOL.md section 12) is stored as
      opaque records that the broker encodes; they are written in the same transaction as
      the batch they come with (ob_store_commit), so a dead letter and the position that
      marks its original done are one atomic step;
    - retention removes events from the front of a topic only; sequence numbers are never
      reused, and the dedup entry of a removed event goes with it (an id is deduplicated
      while its event is stored).

    Durability (the LMDB backend, since format 5; store_lmdb.c and journal.h have the
    details): a commit costs one sequential sync. The writer writes the batch into an LMDB
    write transaction, encodes what it stored (store_record.h: the events with the seqs and
    times they got, the ops) as one journal record, appends the record to the journal and
    fdatasyncs it, and only then commits the transaction, without a sync (MDB_NOSYNC):
    ob_store_commit returns 0 once the record is on stable storage, and no reader sees the
    batch before that. LMDB's file is made durable behind the writer by checkpoints: every
    OB_STORE_CHECKPOINT_BYTES of journal or OB_STORE_CHECKPOINT_MS, a thread of the store
    syncs data.mdb and writes the checkpoint (the journal position it covers and a copy of
    the LMDB meta page of that commit); a read transaction held at that commit (its "pin")
    keeps LMDB from reusing any page of its tree until the next checkpoint is durable.
    Recovery rule, at every open after an unclean stop (a kill -9 and a power loss look the
    same, so both take it): the checkpoint's meta page is written back into data.mdb, so
    LMDB opens the tree of the checkpoint, whole thanks to its pin whatever else reached the
    disk; then the journal's valid records from the checkpoint's position on are applied in
    order (each at exactly the seqs it records, or the open fails: the journal and the store
    disagree), and a new checkpoint is made. A record cut or corrupted ends the journal:
    it and what follows were never confirmed (a record is confirmed only after its sync, and
    the records before it were synced first). A clean close makes a clean checkpoint, after
    which data.mdb alone holds everything and is opened as it is. Not journaled: retention
    (a crash may undo the removals since the last checkpoint; the next round redoes them;
    replayed events then overwrite the dedup entry of their id) and the format upgrade at
    open (made durable by the checkpoint that ends the open). A batch whose LMDB commit
    fails after its record was synced is refused, and the record taken back; a crash before
    the next record overwrites it replays it, as if the crash had come before the refusal.

    Threads: one thread at a time calls ob_store_append, ob_store_commit,
    ob_store_last_sync_us, ob_store_retain and ob_store_maintain, the caller serializing
    them (the broker's writer thread, or its server thread for a lone publish: both under
    one lock, writer.h), so "the writer" below is whichever holds it; ob_store_open and
    ob_store_close are called when no other thread uses the store. The read functions
    (ob_store_get, ob_store_scan,
    ob_store_seq_at_time, ob_store_topic_stat, ob_store_topics, ob_store_topics_count,
    ob_store_load_subs) and ob_store_stats may run on any thread at any time, also while the
    writer grows the map or commits. A read callback must not call into the store. The store
    runs one thread of its own, the checkpointer, between ob_store_open and ob_store_close. */
#ifndef OB_STORE_H
#define OB_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_STORE_MAINTAIN_MS 10000 /* how often the writer calls ob_store_maintain */
#define OB_STORE_CHECKPOINT_BYTES (64u * 1024 * 1024) /* journal bytes between checkpoints */
/* Longest a commit waits for a checkpoint after it. Short on purpose: while a checkpoint's
   tree is pinned LMDB reuses no page, so every commit dirties fresh pages (about six for a
   lone event), and a checkpoint flushes all of them; small, frequent flushes keep each short,
   so that a journal sync never waits long behind one (README, "Performance"). */
#define OB_STORE_CHECKPOINT_MS 10

typedef struct ob_store ob_store_t;

/* One event to append, and what became of it. All input pointers are borrowed for the
   duration of ob_store_append. */
typedef struct ob_store_item {
    const char *topic;    /* topic name, topic_len bytes, need not be NUL-terminated */
    size_t topic_len;     /* bytes at topic */
    const char *event_id; /* the event's id (dedup key), event_id_len bytes */
    size_t event_id_len;  /* 1..OB_EVENT_ID_MAX */
    const uint8_t *event; /* the encoded event, stored verbatim */
    size_t event_len;     /* 1..OB_EVENT_MAX_CAP */
    uint64_t time_us;     /* stored time (µs since the epoch); 0 for "now" */
    /* out: */
    uint32_t topic_id; /* the topic's id, unique in this store, never reused (rc == 0) */
    uint64_t seq;      /* the event's sequence number in its topic (rc == 0) */
    int dup;           /* 1 if the id was already stored on the topic (rc == 0) */
    int rc;            /* 0 or the item's OB_ERR_* code */
} ob_store_item_t;

/* A topic's figures. */
typedef struct ob_topic_stat {
    uint64_t first_seq; /* oldest stored sequence number, 0 if the topic is empty */
    uint64_t last_seq;  /* newest sequence number given out, 0 if none */
    uint64_t events;    /* events stored */
    uint64_t bytes;     /* bytes of the stored events */
} ob_topic_stat_t;

/* The store's figures since open (map_size, topics and events are current values). */
typedef struct ob_store_stats {
    uint64_t map_size;            /* current map size in bytes */
    uint64_t growths;             /* times the map was grown because it was full */
    uint64_t commits;             /* write transactions committed */
    uint64_t appended;            /* events stored */
    uint64_t duplicates;          /* appends refused as duplicates */
    uint64_t topics;              /* topics stored */
    uint64_t events;              /* events stored, all topics */
    uint64_t removed;             /* events removed by retention since open */
    uint64_t removed_bytes;       /* their bytes */
    uint64_t checkpoints;         /* checkpoints made ("Durability") */
    uint64_t checkpoint_failures; /* checkpoints that failed (the next one is tried later) */
    uint64_t journal_pending;     /* journal bytes written since the last checkpoint */
    uint64_t replayed;            /* journal records the open replayed */
} ob_store_stats_t;

/* A change to the subscription state, written by ob_store_commit in the batch's
   transaction. Names and values are borrowed for the call. */
typedef enum ob_store_op_kind {
    OB_STORE_PUT_SUB = 1, /* subscription `sub` gets record value (created or replaced) */
    OB_STORE_DEL_SUB,     /* subscription `sub` and every position of it are deleted */
    OB_STORE_PUT_POS,     /* position of `sub` on `topic` gets record value */
    OB_STORE_DEL_POS,     /* position of `sub` on `topic` is deleted (absent: no error) */
} ob_store_op_kind_t;

typedef struct ob_store_op {
    ob_store_op_kind_t kind;
    const char *sub;      /* NUL-terminated, 1..OB_SUB_NAME_MAX bytes */
    const char *topic;    /* NUL-terminated topic name (POS kinds), else NULL */
    const uint8_t *value; /* the record (PUT kinds), 1..OB_BODY_MAX bytes */
    size_t value_len;
} ob_store_op_t;

/* One stored event as a read hands it to its callback: every pointer is valid only during
   the callback (it points into the database). */
typedef struct ob_store_event {
    uint32_t topic_id;    /* the topic's id */
    uint64_t seq;         /* its sequence number */
    uint64_t time_us;     /* when it was stored */
    const uint8_t *event; /* the event's bytes, as published */
    size_t event_len;
} ob_store_event_t;

/* Called for each event a scan reads; returns 0 to go on, non-zero to stop (that event is
   counted as read). */
typedef int(ob_store_scan_fn)(void *arg, const ob_store_event_t *event);

/* Called for each topic ob_store_topics lists; returns 0 to go on, non-zero to stop. */
typedef int(ob_store_topic_fn)(void *arg, const char *name, uint32_t topic_id,
                               const ob_topic_stat_t *stat);

/* Called for each stored subscription, then for each stored position, by
   ob_store_load_subs; value is valid only during the call. Returns 0 to go on, non-zero to
   stop the load (which then returns that value). */
typedef int(ob_store_sub_fn)(void *arg, const char *sub, const uint8_t *value, size_t len);
typedef int(ob_store_pos_fn)(void *arg, const char *sub, const char *topic, const uint8_t *value,
                             size_t len);

/* Retention limits of one topic; 0 means no limit. */
typedef struct ob_retention {
    uint64_t max_age_ms; /* remove events stored longer ago than this */
    uint64_t max_events; /* keep at most this many events */
    uint64_t max_bytes;  /* keep at most this many bytes of events */
} ob_retention_t;

/* Fills *ret with the retention limits of topic `name`; returns 0 (the writer's policy
   lookup, the broker's configuration). */
typedef void(ob_store_limits_fn)(void *arg, const char *name, ob_retention_t *ret);

/* Opens (creating with mode 0700 if needed) the store in directory dir (borrowed), with an
   initial map of map_size bytes (a larger existing store keeps its size). Clears stale reader
   slots left by dead processes. The store is the directory's only writer: it holds an
   exclusive lock on dir/broker.lock (with its pid written in) until ob_store_close, or until
   the process ends, however it ends. On success *ret_store is a new store the caller closes
   with ob_store_close. Returns 0, -EBUSY (another open store, in this process or another,
   holds the directory: ob_store_holder names it), -errno (the directory cannot be created or
   opened: -EACCES, -ENOENT for a missing parent, ...), OB_ERR_STORAGE (not an orderbus
   store, an unknown format version, an LMDB failure, a journal that does not belong to the
   data file or disagrees with it, both logged) or -ENOMEM. After an unclean stop it
   replays the journal first ("Durability" above; logged with what it replayed).
   Format versions: a store of this code's version is opened as it is; an older one that it
   can read is upgraded in place (its version raised, in one transaction, before anything
   else is written), after which older code refuses it; a newer one is refused. The version
   goes up whenever the layout of anything stored changes, the broker's opaque records
   included (store_lmdb.c; README, "Upgrading"). */
int ob_store_open(const char *dir, uint64_t map_size, ob_store_t **ret_store);

/* Writes to *ret_pid the pid that the last store opened on dir (borrowed) wrote into its
   lock file: after ob_store_open returned -EBUSY, the process holding the directory (it may
   have exited since). Returns 0, -ENOENT (no lock file, or no pid in it) or -errno. */
int ob_store_holder(const char *dir, long *ret_pid);

/* Closes the store and sets *self_p to NULL; accepts NULL. */
void ob_store_close(ob_store_t **self_p);

/* Sets the most topics the store holds (1..OB_TOPICS_MAX, the default): an item that would
   create one more gets OB_ERR_LIMIT. Topics already stored beyond it stay. Call it before
   the first ob_store_commit (the writer reads it without a lock). */
void ob_store_set_max_topics(ob_store_t *self, uint64_t max_topics);

/* Sets when checkpoints are made (see "Durability" above): once `bytes` of journal have
   been written since the last, or `ms` after a commit when anything has (defaults
   OB_STORE_CHECKPOINT_BYTES and OB_STORE_CHECKPOINT_MS). They bound what an open replays
   after an unclean stop; tests and benchmarks raise them to measure a long replay. Writer
   thread, or before the first commit. */
void ob_store_set_checkpoint(ob_store_t *self, uint64_t bytes, uint64_t ms);

/* Appends count items (borrowed; their outputs written) in one durable transaction: each
   item gets rc 0 with its seq and dup, or its own error: OB_ERR_INVALID_TOPIC,
   OB_ERR_INVALID_EVENT (id empty or over OB_EVENT_ID_MAX, empty event), OB_ERR_TOO_LARGE
   (event over OB_EVENT_MAX_CAP) or OB_ERR_LIMIT (OB_TOPICS_MAX topics exist). An item whose
   (topic, id) appeared earlier in the same batch is a duplicate of that one. A full map is
   grown and the batch retried, invisibly. Returns 0 (the items are durable), or
   OB_ERR_STORAGE, -ENOSPC (the disk is full: the file could not grow) or -ENOMEM: then
   nothing of the batch is stored and every item's rc is that code. */
int ob_store_append(ob_store_t *self, ob_store_item_t *items, size_t count);

/* As ob_store_append, and in the same transaction writes op_count subscription-state ops
   (borrowed), in order. An invalid op (bad kind, empty or long name, empty or oversized
   value) fails the whole call with OB_ERR_INVALID_ARGUMENT before anything is written.
   ob_store_append(s, i, n) is ob_store_commit(s, i, n, NULL, 0); a commit may hold ops and
   no items. */
int ob_store_commit(ob_store_t *self, ob_store_item_t *items, size_t count,
                    const ob_store_op_t *ops, size_t op_count);

/* Returns the microseconds the last ob_store_commit (or ob_store_append) spent in its
   durable write: the write of its journal record and its fdatasync ("Durability"). -1 if
   that call wrote nothing: it failed, or had nothing to write (duplicates only). For the metrics
   (orderbus_commit_sync_seconds); the writer only, like ob_store_commit. */
int64_t ob_store_last_sync_us(const ob_store_t *self);

/* Starts writing data.mdb's dirty pages, those of the commits so far, to the disk without
   waiting for them (sync_file_range, SYNC_FILE_RANGE_WRITE), so that the next checkpoint
   finds them written. Only a hint: durability is the journal's and the checkpoints'. It
   costs the caller tens of microseconds (the I/O is submitted), so the broker calls it
   after a commit's answers and deliveries are out, off their path. Any thread, any time
   between ob_store_open and ob_store_close; self may be NULL. */
void ob_store_writeback(ob_store_t *self);

/* Removes events of every topic over its retention limits (looked up with limits, whose
   arg is limits_arg) from the front, at most budget events in one durable transaction.
   Successive calls walk the topics round-robin, so a large backlog is removed in bounded
   steps; a topic's removal starts at its first event. When a topic's last stored event
   goes, its record keeps last_seq and the byte total so sequence numbers go on. Adds what
   it removed to *ret_removed and *ret_bytes (may be NULL). Returns 0, OB_ERR_STORAGE or
   -ENOMEM. */
int ob_store_retain(ob_store_t *self, ob_store_limits_fn *limits, void *limits_arg, uint64_t now_us,
                    size_t budget, uint64_t *ret_removed, uint64_t *ret_bytes);

/* Reads up to max events of topic (NUL-terminated) with seq >= from_seq, in order, in one
   read transaction, calling fn for each. *ret_stat (may be NULL) gets the topic's figures
   as of that transaction, so a caller learns whether retention removed events below
   from_seq (first_seq > from_seq). Writes the number of events read to *ret_count (may be
   NULL). Returns 0 (also when nothing is at or after from_seq), OB_ERR_NO_SUCH_TOPIC or
   OB_ERR_STORAGE. */
int ob_store_scan(ob_store_t *self, const char *topic, uint64_t from_seq, size_t max,
                  ob_store_scan_fn *fn, void *arg, ob_topic_stat_t *ret_stat, size_t *ret_count);

/* Writes to *ret_seq the first stored seq of topic whose stored time is >= time_us (stored
   times never decrease within a topic), or last_seq + 1 if none is. Returns 0,
   OB_ERR_NO_SUCH_TOPIC or OB_ERR_STORAGE. */
int ob_store_seq_at_time(ob_store_t *self, const char *topic, uint64_t time_us, uint64_t *ret_seq);

/* Lists topics in bytewise name order, starting after `after` (NUL-terminated; "" or NULL
   from the first), calling fn for each with its figures, in one read transaction. Returns
   0, OB_ERR_STORAGE, or what fn returned to stop. */
int ob_store_topics(ob_store_t *self, const char *after, ob_store_topic_fn *fn, void *arg);

/* Calls on_sub for every stored subscription (by name), then on_pos for every stored
   position (by subscription, then topic), in one read transaction. Returns 0,
   OB_ERR_STORAGE, or what a callback returned to stop. */
int ob_store_load_subs(ob_store_t *self, ob_store_sub_fn *on_sub, ob_store_pos_fn *on_pos,
                       void *arg);

/* Copies out the event at seq of topic (borrowed, NUL-terminated): *ret_event is the
   caller's to free(), *ret_len its size; *ret_time_us (may be NULL) its stored time.
   Returns 0, OB_ERR_NO_SUCH_TOPIC, -ENOENT (no event
   at seq), OB_ERR_STORAGE or -ENOMEM. */
int ob_store_get(ob_store_t *self, const char *topic, uint64_t seq, uint8_t **ret_event,
                 size_t *ret_len, uint64_t *ret_time_us);

/* Fills *ret with the figures of topic (borrowed, NUL-terminated). Returns 0,
   OB_ERR_NO_SUCH_TOPIC or OB_ERR_STORAGE. */
int ob_store_topic_stat(ob_store_t *self, const char *topic, ob_topic_stat_t *ret);

/* Writes the number of topics to *ret_count. Returns 0 or OB_ERR_STORAGE. */
int ob_store_topics_count(ob_store_t *self, uint64_t *ret_count);

/* Fills *ret with the store's figures; any thread may call it while the writer works (the
   counters are atomics). Returns 0 or OB_ERR_STORAGE. */
int ob_store_stats(ob_store_t *self, ob_store_stats_t *ret);

/* Housekeeping the writer runs every OB_STORE_MAINTAIN_MS: releases reader slots of dead
   processes (mdb_reader_check). Writes how many were released to *ret_cleared (may be
   NULL). Returns 0 or OB_ERR_STORAGE. */
int ob_store_maintain(ob_store_t *self, int *ret_cleared);

#ifdef __cplusplus
}
#endif
#endif
