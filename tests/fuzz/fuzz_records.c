/*  fuzz_records: the decoders of the broker's stored records (broker/sub_record.h,
    broker/pos_record.h, and the journal's commit records, broker/store_record.h) on
    arbitrary bytes, all on every input. Whatever decodes must encode, and decode again to
    the same values (what the broker reads it can write back); a version-2 position record
    and a commit record, whose layouts have one form each, must encode to their own bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pos_record.h"
#include "store_record.h"
#include "sub_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_sub(const uint8_t *data, size_t size)
{
    static ob_sub_record_t r, back;
    static uint8_t buf[OB_SUB_RECORD_MAX];
    size_t len = 0;
    if (ob_sub_record_decode(data, size, &r))
        return;
    if (ob_sub_record_encode(&r, buf, sizeof buf, &len) || ob_sub_record_decode(buf, len, &back))
        abort();
    int same = back.version == OB_SUB_RECORD_VERSION && !strcmp(r.owner, back.owner) &&
               r.pattern_count == back.pattern_count && r.type_count == back.type_count &&
               r.credit == back.credit && r.ack_wait_ms == back.ack_wait_ms &&
               r.max_attempts == back.max_attempts && r.backoff_ms == back.backoff_ms;
    for (size_t i = 0; same && i < r.pattern_count; i++)
        same = !strcmp(r.patterns[i], back.patterns[i]);
    for (size_t i = 0; same && i < r.type_count; i++)
        same = !strcmp(r.types[i], back.types[i]);
    if (!same)
        abort();
}

static void
s_pos(const uint8_t *data, size_t size)
{
    static ob_pos_range_t ranges[OB_POS_RECORD_RANGES_MAX];
    static uint8_t buf[OB_POS_RECORD_MAX];
    ob_pos_record_t r, back;
    size_t len = 0;
    if (ob_pos_record_decode(data, size, &r))
        return;
    for (size_t i = 0; i < r.count; i++)
        ranges[i] = ob_pos_record_range(&r, i);
    if (ob_pos_record_encode(r.floor, ranges, r.count, buf, sizeof buf, &len) ||
        ob_pos_record_decode(buf, len, &back) || back.floor != r.floor || back.count != r.count)
        abort();
    for (size_t i = 0; i < r.count; i++) {
        ob_pos_range_t got = ob_pos_record_range(&back, i);
        if (got.lo != ranges[i].lo || got.hi != ranges[i].hi)
            abort();
    }
    if (r.version == OB_POS_RECORD_V2 && (len != size || memcmp(buf, data, size)))
        abort();
}

static void
s_commit(const uint8_t *data, size_t size)
{
    static ob_store_record_t r;
    static ob_store_record_buf_t buf;
    size_t stored = 0;
    if (ob_store_record_decode(data, size, &r))
        return;
    uint64_t *stamps = malloc((r.count ? r.count : 1) * sizeof *stamps);
    if (!stamps)
        abort();
    for (size_t i = 0; i < r.count; i++)
        stamps[i] = r.items[i].time_us;
    if (ob_store_record_encode(&buf, r.now_us, r.items, stamps, r.count, r.ops, r.op_count,
                               &stored) ||
        stored != r.count || buf.len != size || memcmp(buf.data, data, size))
        abort();
    free(stamps);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_sub(data, size);
    s_pos(data, size);
    s_commit(data, size);
    return 0;
}
