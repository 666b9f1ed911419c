/*  ob_store_record: the codec of a commit's journal record (store.h, "Durability"; the
    record's frame is journal.h's). No LMDB here: store_lmdb.c encodes what a commit stored
    and decodes it again when it replays the journal.

    A record holds a commit's effects, not its requests: only the items that were stored
    (not the duplicates, not the refused), each with the seq and the stored time it got, and
    every subscription-state op. Replaying it therefore needs no configuration and makes no
    decision: it writes the same events at the same seqs, whatever the limits are then.

    Payload, every integer big-endian:
      u8  OB_STORE_RECORD_VERSION
      u64 now_us               the commit's time (a topic it created was created then)
      u32 item count | u32 op count
      per item: u16 topic_len | topic | u16 id_len | id | u32 event_len |
                u64 seq | u64 stored_us | event
      per op:   u8 kind (ob_store_op_kind_t) | u16 sub_len | sub | u16 topic_len | topic |
                u32 value_len | value
    An op's topic is empty (0 bytes) for the SUB kinds, its value for the DEL kinds.

    Records come from the disk: the decoder checks every length, count, name and kind
    against the bytes it is given and the limits of store.h, and refuses rather than
    repairs (tests/fuzz/fuzz_records.c). */
#ifndef OB_STORE_RECORD_H
#define OB_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_STORE_RECORD_VERSION 1    /* the payload's first byte */
#define OB_STORE_RECORD_HEAD 17      /* version, now_us, item count, op count */
#define OB_STORE_RECORD_ITEM_HEAD 28 /* an item's lengths, seq and time, without its bytes */
#define OB_STORE_RECORD_OP_HEAD 9    /* an op's kind and lengths, without its bytes */

/* A growable byte buffer; zero it before the first use, ob_store_record_buf_free after. */
typedef struct ob_store_record_buf {
    uint8_t *data; /* owned */
    size_t len;    /* bytes used */
    size_t cap;    /* bytes allocated */
} ob_store_record_buf_t;

/* A decoded record. Items and ops point into the payload and into the record's own arena;
   they are valid until the next decode into it, or ob_store_record_free. Zero it before
   the first decode. */
typedef struct ob_store_record {
    uint64_t now_us;             /* the commit's time */
    ob_store_item_t *items;      /* count items: topic, event_id, event, seq (the one it got), and
                                    time_us (its stored time); owned */
    size_t count;                /* items */
    ob_store_op_t *ops;          /* op_count ops, names NUL-terminated in the arena; owned */
    size_t op_count;             /* ops */
    size_t items_cap;            /* entries allocated at items */
    size_t ops_cap;              /* entries allocated at ops */
    ob_store_record_buf_t arena; /* the ops' names, NUL-terminated */
} ob_store_record_t;

/* Encodes into *buf (its len set to the payload's) the record of a commit at now_us:
   every item of items (count, borrowed) with rc 0 and dup 0, with stamps[i] its stored time,
   and every op of ops (op_count, borrowed, checked by the store). Writes to *ret_stored how
   many items it took. Returns 0 or -ENOMEM. */
int ob_store_record_encode(ob_store_record_buf_t *buf, uint64_t now_us,
                           const ob_store_item_t *items, const uint64_t *stamps, size_t count,
                           const ob_store_op_t *ops, size_t op_count, size_t *ret_stored);

/* Decodes payload (len bytes, borrowed; must outlive the use of rec's items) into rec.
   Returns 0, OB_ERR_TRUNCATED (the payload ends inside a field), OB_ERR_MALFORMED (a bad
   version, kind, name, length or trailing bytes) or -ENOMEM. */
int ob_store_record_decode(const uint8_t *payload, size_t len, ob_store_record_t *rec);

/* Frees what rec owns and zeroes it; accepts NULL. */
void ob_store_record_free(ob_store_record_t *rec);

/* Frees what buf owns and zeroes it; accepts NULL. */
void ob_store_record_buf_free(ob_store_record_buf_t *buf);

#ifdef __cplusplus
}
#endif
#endif
