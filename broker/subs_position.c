/*  ob_subs, positions (see subs_int.h for the parts and the model).

    A position is a subscription's place on one topic: the ack floor, the sorted done ranges
    above it, and `next`, the next seq to read for a first delivery. Here: marking a seq done,
    moving the floor (a reposition, retention), the floor a start asks for, the lag, and the
    creation of a subscription's positions. Every change marks the position for persistence
    (subs_persist.c) and, where it may have events to read, for delivery (subs_delivery.c). */
#include "subs_int.h"

#include <errno.h>
#include <string.h>

/* ---- positions ---- */

/* Marks seq done on pos: the floor advances over it or it joins the done ranges. */
void
ob_subs_pos_done(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t seq)
{
    if (seq <= pos->floor)
        return;
    if (seq == pos->floor + 1) {
        pos->floor = seq;
        if (pos->done_count && pos->done[0].lo == pos->floor + 1) {
            pos->floor = pos->done[0].hi;
            memmove(pos->done, pos->done + 1, (pos->done_count - 1) * sizeof *pos->done);
            pos->done_count--;
        }
        ob_subs_pos_dirty(self, pos);
        return;
    }
    /* binary search for the first range with hi >= seq - 1 */
    size_t lo = 0, hi = pos->done_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pos->done[mid].hi + 1 < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    ob_subs_range_t *r = lo < pos->done_count ? &pos->done[lo] : NULL;
    if (r && seq >= r->lo && seq <= r->hi)
        return; /* already done */
    if (r && r->hi + 1 == seq) {
        r->hi = seq;
        if (lo + 1 < pos->done_count && pos->done[lo + 1].lo == seq + 1) {
            r->hi = pos->done[lo + 1].hi;
            memmove(&pos->done[lo + 1], &pos->done[lo + 2],
                    (pos->done_count - lo - 2) * sizeof *pos->done);
            pos->done_count--;
        }
    } else if (r && r->lo == seq + 1) {
        r->lo = seq;
    } else {
        if (pos->done_count == pos->done_cap) {
            size_t cap = pos->done_cap ? 2 * pos->done_cap : 4;
            ob_subs_range_t *grown = realloc(pos->done, cap * sizeof *grown);
            if (!grown)
                return; /* not recorded as done: delivered again later (at least once) */
            pos->done = grown;
            pos->done_cap = cap;
        }
        memmove(&pos->done[lo + 1], &pos->done[lo], (pos->done_count - lo) * sizeof *pos->done);
        pos->done[lo].lo = seq;
        pos->done[lo].hi = seq;
        pos->done_count++;
    }
    ob_subs_pos_dirty(self, pos);
}

/* Returns 1 if seq is done on pos. */
int
ob_subs_pos_is_done(const ob_subs_pos_t *pos, uint64_t seq)
{
    if (seq <= pos->floor)
        return 1;
    for (size_t i = 0; i < pos->done_count && pos->done[i].lo <= seq; i++)
        if (seq <= pos->done[i].hi)
            return 1;
    return 0;
}

/* Events above the floor that are not done, up to the topic's last seq. */
uint64_t
ob_subs_pos_lag(const ob_subs_pos_t *pos)
{
    if (pos->topic->last_seq <= pos->floor)
        return 0;
    uint64_t lag = pos->topic->last_seq - pos->floor;
    for (size_t i = 0; i < pos->done_count; i++)
        lag -= pos->done[i].hi - pos->done[i].lo + 1;
    return lag;
}

/* Sets the floor to floor and forgets the done ranges. */
void
ob_subs_pos_set_floor(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t floor)
{
    pos->floor = floor;
    pos->done_count = 0;
    pos->next = floor + 1;
    pos->skipped = 0;
    ob_subs_pos_dirty(self, pos);
    ob_subs_pos_readable(self, pos);
}

/* Moves the floor up to at least floor (retention removed what is below), keeping the
   done ranges above it. */
void
ob_subs_pos_raise_floor(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t floor)
{
    if (floor <= pos->floor)
        return;
    pos->floor = floor;
    size_t keep = 0;
    while (keep < pos->done_count && pos->done[keep].hi <= floor)
        keep++;
    if (keep) {
        memmove(pos->done, pos->done + keep, (pos->done_count - keep) * sizeof *pos->done);
        pos->done_count -= keep;
    }
    while (pos->done_count && pos->done[0].lo <= pos->floor + 1) {
        if (pos->done[0].hi > pos->floor)
            pos->floor = pos->done[0].hi;
        memmove(pos->done, pos->done + 1, (pos->done_count - 1) * sizeof *pos->done);
        pos->done_count--;
    }
    ob_subs_pos_dirty(self, pos);
}

/* The floor a position gets for start (PROTOCOL.md 12.5). */
uint64_t
ob_subs_start_floor(ob_subs_t *self, const ob_subs_topic_t *topic, ob_start_t start,
                    uint64_t start_seq, uint64_t start_time)
{
    ob_topic_stat_t stat;
    uint64_t seq = 0;
    switch (start) {
    case OB_START_EARLIEST:
        if (ob_store_topic_stat(self->store, topic->name, &stat) == 0)
            return stat.events ? stat.first_seq - 1 : stat.last_seq;
        return 0;
    case OB_START_SEQ:
        return start_seq ? start_seq - 1 : 0;
    case OB_START_TIME:
        if (ob_store_seq_at_time(self->store, topic->name, start_time, &seq) == 0 && seq)
            return seq - 1;
        return topic->last_seq;
    case OB_START_NEW:
    default:
        return topic->last_seq;
    }
}

void
ob_subs_pos_free(ob_subs_pos_t *pos)
{
    if (!pos)
        return;
    free(pos->done);
    free(pos);
}

/* Creates sub's position on topic at floor. Returns it or NULL (out of memory). */
ob_subs_pos_t *
ob_subs_pos_new(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_topic_t *topic, uint64_t floor)
{
    ob_subs_pos_t *pos = calloc(1, sizeof *pos);
    if (!pos)
        return NULL;
    pos->sub = sub;
    pos->topic = topic;
    pos->floor = floor;
    pos->next = floor + 1;
    if (zhashx_insert(sub->positions, topic->name, pos)) {
        free(pos);
        return NULL;
    }
    pos->watch = zlistx_add_end(topic->watchers, pos);
    ob_subs_pos_readable(self, pos);
    return pos;
}

/* Creates sub's positions on every known topic it matches, per start. */
int
ob_subs_sub_positions(ob_subs_t *self, ob_subs_sub_t *sub, ob_start_t start, uint64_t start_seq,
                      uint64_t start_time)
{
    for (ob_subs_topic_t *topic = zhashx_first(self->topics); topic;
         topic = zhashx_next(self->topics)) {
        if (!ob_subs_sub_matches(sub, topic->name) || zhashx_lookup(sub->positions, topic->name))
            continue;
        /* ob_subs_start_floor reads the store, not self->topics: the iteration is safe */
        ob_subs_pos_t *pos = ob_subs_pos_new(
            self, sub, topic, ob_subs_start_floor(self, topic, start, start_seq, start_time));
        if (!pos)
            return -ENOMEM;
        ob_subs_pos_dirty(self, pos);
    }
    return 0;
}
