/*  ob_subs, reports (see subs_int.h for the parts): the results of SUBS and SUB_INFO
    (PROTOCOL.md 13), the counters (ob_subs_stats) and the per-subscription figures the
    metrics read (ob_subs_each). It only reads the subscriptions. */
#include "subs_int.h"

#include <errno.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"

/* ---- admin ---- */

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void
s_pack_strs(msgpack_packer *pk, char *const *list, size_t count)
{
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++)
        s_pack_str(pk, list[i]);
}

static uint64_t
s_sub_lag(const ob_subs_sub_t *sub)
{
    uint64_t lag = 0;
    for (ob_subs_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        lag += ob_subs_pos_lag(pos);
    return lag;
}

/* Writes an array header for count entries and the entries (sbuf) into buf. */
static int
s_emit_array(size_t count, const msgpack_sbuffer *entries, uint8_t *buf, size_t cap,
             size_t *ret_len)
{
    msgpack_sbuffer head;
    msgpack_sbuffer_init(&head);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, count);
    int rc = 0;
    if (head.size + entries->size > cap)
        rc = OB_ERR_TOO_LARGE;
    else {
        memcpy(buf, head.data, head.size);
        if (entries->size)
            memcpy(buf + head.size, entries->data, entries->size);
        *ret_len = head.size + entries->size;
    }
    msgpack_sbuffer_destroy(&head);
    return rc;
}

#define S_SUMMARY_KEYS 8 /* keys s_pack_summary writes */

/* Packs what SUBS says of a subscription (and SUB_INFO begins with). */
static void
s_pack_summary(msgpack_packer *pk, const ob_subs_sub_t *sub)
{
    s_pack_str(pk, "sub");
    s_pack_str(pk, sub->name);
    s_pack_str(pk, "patterns");
    s_pack_strs(pk, sub->patterns, sub->pattern_count);
    s_pack_str(pk, "types");
    s_pack_strs(pk, sub->types, sub->type_count);
    s_pack_str(pk, "ephemeral");
    sub->ephemeral ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    s_pack_str(pk, "owner");
    s_pack_str(pk, sub->owner);
    s_pack_str(pk, "consumers");
    msgpack_pack_uint64(pk, sub->consumer_count);
    s_pack_str(pk, "pending");
    msgpack_pack_uint64(pk, sub->lists[OB_SUBS_F_PENDING].size);
    s_pack_str(pk, "lag");
    msgpack_pack_uint64(pk, s_sub_lag(sub));
}

int
ob_subs_list(ob_subs_t *self, const char *after, uint8_t *buf, size_t cap, size_t *ret_len,
             int *ret_more)
{
    size_t n = zhashx_size(self->subs);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return -ENOMEM;
    size_t count = 0;
    for (ob_subs_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
        if (!after || strcmp(sub->name, after) > 0)
            names[count++] = sub->name;
    qsort(names, count, sizeof *names, s_strcmp_p);

    msgpack_sbuffer entries, one;
    msgpack_sbuffer_init(&entries);
    msgpack_sbuffer_init(&one);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &one, msgpack_sbuffer_write);
    size_t taken = 0;
    *ret_more = 0;
    for (size_t i = 0; i < count; i++) {
        const ob_subs_sub_t *sub = zhashx_lookup(self->subs, names[i]);
        msgpack_sbuffer_clear(&one);
        msgpack_pack_map(&pk, S_SUMMARY_KEYS);
        s_pack_summary(&pk, sub);
        if (entries.size + one.size + 5 > cap) {
            *ret_more = 1;
            break;
        }
        msgpack_sbuffer_write(&entries, one.data, one.size);
        taken++;
    }
    int rc = s_emit_array(taken, &entries, buf, cap, ret_len);
    msgpack_sbuffer_destroy(&entries);
    msgpack_sbuffer_destroy(&one);
    free(names);
    return rc;
}

int
ob_subs_info(ob_subs_t *self, const char *name, const char *after, uint8_t *buf, size_t cap,
             size_t *ret_len, int *ret_more)
{
    const ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    size_t n = zhashx_size(sub->positions);
    const char **topics = calloc(n ? n : 1, sizeof *topics);
    if (!topics)
        return -ENOMEM;
    size_t count = 0;
    for (ob_subs_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        if (!after || strcmp(pos->topic->name, after) > 0)
            topics[count++] = pos->topic->name;
    qsort(topics, count, sizeof *topics, s_strcmp_p);

    msgpack_sbuffer head, entries, one;
    msgpack_sbuffer_init(&head);
    msgpack_sbuffer_init(&entries);
    msgpack_sbuffer_init(&one);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, S_SUMMARY_KEYS + 8);
    s_pack_summary(&pk, sub);
    s_pack_str(&pk, "credit");
    msgpack_pack_uint32(&pk, sub->credit);
    s_pack_str(&pk, "ack_wait_ms");
    msgpack_pack_uint32(&pk, sub->ack_wait_ms);
    s_pack_str(&pk, "max_attempts");
    msgpack_pack_uint32(&pk, sub->max_attempts);
    s_pack_str(&pk, "backoff_ms");
    msgpack_pack_uint32(&pk, sub->backoff_ms);
    s_pack_str(&pk, "waiting");
    msgpack_pack_uint64(&pk, sub->lists[OB_SUBS_F_WAITING].size + sub->lists[OB_SUBS_F_READY].size +
                                 sub->lists[OB_SUBS_F_DEAD].size);
    s_pack_str(&pk, "redelivered");
    msgpack_pack_uint64(&pk, sub->redelivered);
    s_pack_str(&pk, "dead_lettered");
    msgpack_pack_uint64(&pk, sub->dead_lettered);
    s_pack_str(&pk, "positions");

    msgpack_packer_init(&pk, &one, msgpack_sbuffer_write);
    size_t taken = 0;
    *ret_more = 0;
    for (size_t i = 0; i < count; i++) {
        const ob_subs_pos_t *pos = zhashx_lookup(sub->positions, topics[i]);
        msgpack_sbuffer_clear(&one);
        msgpack_pack_map(&pk, 2);
        s_pack_str(&pk, "topic");
        s_pack_str(&pk, pos->topic->name);
        s_pack_str(&pk, "ack_floor");
        msgpack_pack_uint64(&pk, pos->floor);
        if (head.size + entries.size + one.size + 5 > cap) {
            *ret_more = 1;
            break;
        }
        msgpack_sbuffer_write(&entries, one.data, one.size);
        taken++;
    }
    int rc = OB_ERR_TOO_LARGE;
    if (head.size <= cap) {
        memcpy(buf, head.data, head.size);
        size_t len = 0;
        rc = s_emit_array(taken, &entries, buf + head.size, cap - head.size, &len);
        *ret_len = head.size + len;
    }
    msgpack_sbuffer_destroy(&head);
    msgpack_sbuffer_destroy(&entries);
    msgpack_sbuffer_destroy(&one);
    free(topics);
    return rc;
}

void
ob_subs_stats(const ob_subs_t *self, ob_subs_stats_t *ret)
{
    *ret = self->stats;
}

void
ob_subs_each(ob_subs_t *self, ob_subs_each_fn *fn, void *arg)
{
    for (ob_subs_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
        fn(arg, sub->name, sub->ephemeral, s_sub_lag(sub), sub->lists[OB_SUBS_F_PENDING].size);
}
