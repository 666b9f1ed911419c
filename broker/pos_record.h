/*  ob_pos_record: the codec of a subscription's stored position on one topic (store.h
    OB_STORE_PUT_POS, the value under "subscription 0x00 topic" in `positions`).

    A position is the ack floor (every seq up to it is done) and the ranges of seqs done
    above it: sorted, disjoint, not adjacent to each other, the first above floor + 1 (a
    range that touched the floor would have raised it). Every integer is big-endian. The
    first byte tells the versions apart: version 2 begins with its number, and a version-1
    record with the top byte of a floor below 2^56, which is 0 (a topic would need 2^56
    events, 72 quadrillion, to write another).

    Version 2 (written since 0.6), OB_POS_RECORD_V2_HEAD + 16 * count bytes exactly:
      offset 0   u8   OB_POS_RECORD_V2                      (OB_POS_RECORD_V2_VERSION_AT)
      offset 1   3 x u8 reserved, 0                         (OB_POS_RECORD_V2_RESERVED_AT)
      offset 4   u32  count, 0..OB_POS_RECORD_RANGES_MAX    (OB_POS_RECORD_V2_COUNT_AT)
      offset 8   u64  floor                                 (OB_POS_RECORD_V2_FLOOR_AT)
      offset 16  count x (u64 lo | u64 hi): range i at 16 + 16 * i (OB_POS_RECORD_V2_RANGES_AT)

    Version 1 (0.5 and earlier; read, never written), OB_POS_RECORD_V1_HEAD + 16 * count:
      offset 0   u64  floor, below 2^56                     (OB_POS_RECORD_V1_FLOOR_AT)
      offset 8   u32  count                                 (OB_POS_RECORD_V1_COUNT_AT)
      offset 12  count x (u64 lo | u64 hi)                  (OB_POS_RECORD_V1_RANGES_AT)

    Records come from the store: the decoder checks every length, count and range against
    the bytes it is given and these rules, and refuses rather than repairs. */
#ifndef OB_POS_RECORD_H
#define OB_POS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_POS_RECORD_V1 1 /* 0.5's record: floor | count | ranges */
#define OB_POS_RECORD_V2 2 /* version byte | reserved | count | floor | ranges */
#define OB_POS_RECORD_VERSION OB_POS_RECORD_V2 /* the version ob_pos_record_encode writes */
#define OB_POS_RECORD_RANGE_SIZE 16            /* bytes in a range: u64 lo | u64 hi */
#define OB_POS_RECORD_V2_VERSION_AT 0          /* offset of version 2's version byte */
#define OB_POS_RECORD_V2_RESERVED_AT 1         /* offset of its reserved bytes, 0 */
#define OB_POS_RECORD_V2_COUNT_AT 4            /* offset of its u32 count */
#define OB_POS_RECORD_V2_FLOOR_AT 8            /* offset of its u64 floor */
#define OB_POS_RECORD_V2_RANGES_AT 16          /* offset of its first range */
#define OB_POS_RECORD_V2_HEAD OB_POS_RECORD_V2_RANGES_AT /* bytes before the ranges */
#define OB_POS_RECORD_V1_FLOOR_AT 0                      /* offset of version 1's u64 floor */
#define OB_POS_RECORD_V1_COUNT_AT 8                      /* offset of its u32 count */
#define OB_POS_RECORD_V1_RANGES_AT 12                    /* offset of its first range */
#define OB_POS_RECORD_V1_HEAD OB_POS_RECORD_V1_RANGES_AT /* bytes before the ranges */
#define OB_POS_RECORD_V1_TAG 0        /* the first byte of every version-1 record */
#define OB_POS_RECORD_MAX OB_BODY_MAX /* bytes in a record (what the store takes) */
#define OB_POS_RECORD_RANGES_MAX                                                                   \
    ((OB_POS_RECORD_MAX - OB_POS_RECORD_V2_HEAD) / OB_POS_RECORD_RANGE_SIZE) /* ranges in one */

/* Seqs lo..hi, both included, are done. */
typedef struct ob_pos_range {
    uint64_t lo; /* first seq */
    uint64_t hi; /* last seq, >= lo */
} ob_pos_range_t;

/* A decoded position: a view of the record's bytes, valid as long as they are. */
typedef struct ob_pos_record {
    int version;           /* the version read */
    uint64_t floor;        /* the ack floor */
    size_t count;          /* ranges, 0..OB_POS_RECORD_RANGES_MAX */
    const uint8_t *ranges; /* the first range's bytes (ob_pos_record_range), borrowed */
} ob_pos_record_t;

/* Returns the bytes of a record of count ranges, as ob_pos_record_encode writes it. */
size_t ob_pos_record_size(size_t count);

/* Encodes floor and the count ranges at ranges (borrowed) as OB_POS_RECORD_VERSION into buf
   (cap bytes, borrowed); *ret_len is the size written (ob_pos_record_size). Returns 0,
   OB_ERR_TOO_LARGE (over OB_POS_RECORD_RANGES_MAX ranges, or cap too small) or
   OB_ERR_FIELD_TYPE (the ranges break the rules of the header comment). */
int ob_pos_record_encode(uint64_t floor, const ob_pos_range_t *ranges, size_t count, uint8_t *buf,
                         size_t cap, size_t *ret_len);

/* Decodes the len bytes at buf (borrowed; any bytes) of either version into *ret_record, a
   view into buf, written only on success. Returns 0; OB_ERR_TRUNCATED (shorter than its
   head and count say); OB_ERR_VERSION (a first byte that is neither version's);
   OB_ERR_MALFORMED (longer than they say, or reserved bytes not 0); OB_ERR_TOO_LARGE (over
   OB_POS_RECORD_RANGES_MAX ranges); OB_ERR_FIELD_TYPE (ranges that break the rules). */
int ob_pos_record_decode(const uint8_t *buf, size_t len, ob_pos_record_t *ret_record);

/* Returns range i (< record->count) of a decoded record (borrowed). */
ob_pos_range_t ob_pos_record_range(const ob_pos_record_t *record, size_t i);

#ifdef __cplusplus
}
#endif

#endif
