/*  ob_pos_record: see pos_record.h. */
#include "pos_record.h"

#include <string.h>

#include "bigendian.h"
#include "orderbus/error.h"

#define S_LO_AT 0 /* offset of lo in a range */
#define S_HI_AT 8 /* offset of hi in a range */

_Static_assert(OB_POS_RECORD_RANGES_MAX <= UINT32_MAX, "a count fits its u32");
_Static_assert(OB_POS_RECORD_V1 != OB_POS_RECORD_V1_TAG && OB_POS_RECORD_V2 != OB_POS_RECORD_V1_TAG,
               "a version byte is no version-1 first byte");

/* The rules of pos_record.h for the ranges: each above the one before by more than one (the
   first: above floor + 1), each hi >= lo. Returns 0 or OB_ERR_FIELD_TYPE. */
static int
s_check(uint64_t floor, const ob_pos_record_t *view, const ob_pos_range_t *ranges, size_t count)
{
    uint64_t last = floor; /* the last done seq so far */
    for (size_t i = 0; i < count; i++) {
        ob_pos_range_t r = ranges ? ranges[i] : ob_pos_record_range(view, i);
        /* lo > last + 1, written so that it cannot wrap */
        if (r.lo <= last || r.lo - last < 2 || r.hi < r.lo)
            return OB_ERR_FIELD_TYPE;
        last = r.hi;
    }
    return 0;
}

size_t
ob_pos_record_size(size_t count)
{
    return OB_POS_RECORD_V2_HEAD + OB_POS_RECORD_RANGE_SIZE * count;
}

int
ob_pos_record_encode(uint64_t floor, const ob_pos_range_t *ranges, size_t count, uint8_t *buf,
                     size_t cap, size_t *ret_len)
{
    if (count > OB_POS_RECORD_RANGES_MAX || cap < ob_pos_record_size(count))
        return OB_ERR_TOO_LARGE;
    int rc = s_check(floor, NULL, ranges, count);
    if (rc)
        return rc;
    buf[OB_POS_RECORD_V2_VERSION_AT] = OB_POS_RECORD_V2;
    memset(buf + OB_POS_RECORD_V2_RESERVED_AT, 0,
           OB_POS_RECORD_V2_COUNT_AT - OB_POS_RECORD_V2_RESERVED_AT);
    ob_put_u32(buf + OB_POS_RECORD_V2_COUNT_AT, (uint32_t)count);
    ob_put_u64(buf + OB_POS_RECORD_V2_FLOOR_AT, floor);
    for (size_t i = 0; i < count; i++) {
        uint8_t *at = buf + OB_POS_RECORD_V2_RANGES_AT + OB_POS_RECORD_RANGE_SIZE * i;
        ob_put_u64(at + S_LO_AT, ranges[i].lo);
        ob_put_u64(at + S_HI_AT, ranges[i].hi);
    }
    *ret_len = ob_pos_record_size(count);
    return 0;
}

int
ob_pos_record_decode(const uint8_t *buf, size_t len, ob_pos_record_t *ret_record)
{
    if (len == 0)
        return OB_ERR_TRUNCATED;
    size_t head, count_at, floor_at;
    ob_pos_record_t record = {0};
    if (buf[0] == OB_POS_RECORD_V2) {
        record.version = OB_POS_RECORD_V2;
        head = OB_POS_RECORD_V2_HEAD;
        count_at = OB_POS_RECORD_V2_COUNT_AT;
        floor_at = OB_POS_RECORD_V2_FLOOR_AT;
    } else if (buf[0] == OB_POS_RECORD_V1_TAG) {
        record.version = OB_POS_RECORD_V1;
        head = OB_POS_RECORD_V1_HEAD;
        count_at = OB_POS_RECORD_V1_COUNT_AT;
        floor_at = OB_POS_RECORD_V1_FLOOR_AT;
    } else {
        return OB_ERR_VERSION;
    }
    if (len < head)
        return OB_ERR_TRUNCATED;
    if (record.version == OB_POS_RECORD_V2) {
        for (size_t i = OB_POS_RECORD_V2_RESERVED_AT; i < OB_POS_RECORD_V2_COUNT_AT; i++)
            if (buf[i])
                return OB_ERR_MALFORMED;
    }
    uint32_t count = ob_get_u32(buf + count_at);
    if (count > OB_POS_RECORD_RANGES_MAX)
        return OB_ERR_TOO_LARGE;
    /* no overflow: count is at most OB_POS_RECORD_RANGES_MAX */
    size_t want = head + (size_t)count * OB_POS_RECORD_RANGE_SIZE;
    if (len < want)
        return OB_ERR_TRUNCATED;
    if (len > want)
        return OB_ERR_MALFORMED;
    record.floor = ob_get_u64(buf + floor_at);
    record.count = count;
    record.ranges = buf + head;
    int rc = s_check(record.floor, &record, NULL, count);
    if (rc)
        return rc;
    *ret_record = record;
    return 0;
}

ob_pos_range_t
ob_pos_record_range(const ob_pos_record_t *record, size_t i)
{
    const uint8_t *at = record->ranges + OB_POS_RECORD_RANGE_SIZE * i;
    return (ob_pos_range_t){ob_get_u64(at + S_LO_AT), ob_get_u64(at + S_HI_AT)};
}
