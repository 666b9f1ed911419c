/*  ob_subs, persistence (see subs_int.h for the parts; subs.h for the record layouts).

    Here: what is dirty (a subscription's record, its positions), the ops and dead letters
    collected into the server's next group commit (ob_subs_collect) and put back when that
    commit fails (ob_subs_uncollect), and the reading of the records at load (the callbacks
    ob_subs_new gives ob_store_load_subs). It never writes to the store itself. */
#include "subs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

#include "bigendian.h"
#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_RANGES_PERSIST ((OB_SUBS_POS_RECORD_MAX - 12) / 16) /* ranges a record holds */
#define S_RECORD_OWNER_MAX (2 + OB_SUBS_OWNER_MAX) /* bytes of the owner in a record (str 8) */

static uint64_t
s_now_us(void)
{
    return (uint64_t)zclock_time() * 1000;
}

/* ---- what is dirty ---- */

void
ob_subs_mark_dirty(ob_subs_t *self, ob_subs_sub_t *sub)
{
    if (!sub->dirty_node)
        sub->dirty_node = zlistx_add_end(self->dirty, sub);
}

void
ob_subs_pos_dirty(ob_subs_t *self, ob_subs_pos_t *pos)
{
    if (pos->sub->ephemeral)
        return;
    if (!pos->dirty) {
        pos->dirty = 1;
        zlistx_add_end(pos->sub->dirty_pos, pos);
    }
    ob_subs_mark_dirty(self, pos->sub);
}

/* ---- loading ---- */

/* Reads the owner that may begin a subscription record (subs.h) into owner. Returns the
   bytes it took (0: none, the record is the body alone, a map), or SIZE_MAX if they are not
   a msgpack str of 1..OB_SUBS_OWNER_MAX bytes without NUL. */
static size_t
s_record_owner(const uint8_t *value, size_t len, char owner[OB_SUBS_OWNER_MAX + 1])
{
    ob_mp_cursor_t cur = {value, value + len};
    ob_mp_str_t str;
    int rc = ob_mp_read_str(&cur, 0, &str);
    if (rc == OB_ERR_FIELD_TYPE)
        return 0;
    if (rc || str.len == 0 || str.len > OB_SUBS_OWNER_MAX || memchr(str.ptr, 0, str.len))
        return SIZE_MAX;
    memcpy(owner, str.ptr, str.len);
    owner[str.len] = '\0';
    return (size_t)(cur.pos - value);
}

int
ob_subs_on_sub(void *arg, const char *name, const uint8_t *value, size_t len)
{
    ob_subs_t *self = arg;
    static const uint8_t header[OB_HEADER_SIZE] = {OB_WIRE_SIGNATURE_0, OB_WIRE_SIGNATURE_1,
                                                   OB_WIRE_VERSION, OB_CMD_SUBSCRIBE};
    char owner[OB_SUBS_OWNER_MAX + 1] = "";
    size_t skip = s_record_owner(value, len, owner);
    if (skip == SIZE_MAX) {
        zsys_error("subs: the record of subscription %s has a bad owner", name);
        return OB_ERR_STORAGE;
    }
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg)
        return -ENOMEM;
    int rc = ob_wire_decode(header, sizeof header, value + skip, len - skip, msg);
    if (rc) {
        zsys_error("subs: the record of subscription %s cannot be decoded: %s", name,
                   ob_strerror(rc));
        free(msg);
        return OB_ERR_STORAGE;
    }
    ob_subs_sub_t *sub = ob_subs_sub_new(msg, name);
    free(msg);
    if (sub)
        memcpy(sub->owner, owner, sizeof owner);
    if (!sub || zhashx_insert(self->subs, sub->name, sub)) {
        ob_subs_sub_free(sub);
        return -ENOMEM;
    }
    return 0;
}

int
ob_subs_on_pos(void *arg, const char *name, const char *topic_name, const uint8_t *value,
               size_t len)
{
    ob_subs_t *self = arg;
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    ob_subs_topic_t *topic = zhashx_lookup(self->topics, topic_name);
    if (!sub || !topic)
        return 0; /* a position without its subscription or topic: ignored */
    if (len < 12 || (len - 12) / 16 < ob_get_u32(value + 8) || (len - 12) % 16) {
        zsys_error("subs: the position of %s on %s is %zu bytes of nonsense", name, topic_name,
                   len);
        return OB_ERR_STORAGE;
    }
    uint64_t floor = ob_get_u64(value);
    size_t n = ob_get_u32(value + 8);
    ob_subs_range_t *done = NULL;
    size_t count = 0;
    if (n && !(done = calloc(n, sizeof *done)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t lo = ob_get_u64(value + 12 + 16 * i), hi = ob_get_u64(value + 20 + 16 * i);
        /* ranges must be sorted, disjoint, not adjacent, above floor + 1 */
        uint64_t after = count ? done[count - 1].hi + 1 : floor + 1;
        if (lo > after && hi >= lo)
            done[count++] = (ob_subs_range_t){lo, hi};
    }
    ob_subs_pos_t *pos = ob_subs_pos_new(self, sub, topic, floor);
    if (!pos) {
        free(done);
        return -ENOMEM;
    }
    pos->done = done;
    pos->done_count = count;
    pos->done_cap = n;
    return 0;
}

/* ---- collecting for the writer ---- */

/* Reserves len bytes in the arena; returns the offset or SIZE_MAX. */
static size_t
s_arena(ob_subs_batch_t *batch, size_t len)
{
    if (batch->arena_len + len > batch->arena_cap) {
        size_t cap = batch->arena_cap ? batch->arena_cap : 65536;
        while (cap < batch->arena_len + len)
            cap *= 2;
        uint8_t *grown = realloc(batch->arena, cap);
        if (!grown)
            return SIZE_MAX;
        batch->arena = grown;
        batch->arena_cap = cap;
    }
    size_t at = batch->arena_len;
    batch->arena_len += len;
    return at;
}

/* Adds an op whose strings and value are copied into the arena (offsets now, pointers
   fixed at the end of the collect). */
static int
s_op(ob_subs_batch_t *batch, ob_store_op_kind_t kind, const char *sub, const char *topic,
     const uint8_t *value, size_t value_len)
{
    if (batch->op_count == batch->op_cap) {
        size_t cap = batch->op_cap ? 2 * batch->op_cap : 64;
        ob_store_op_t *grown = realloc(batch->ops, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        batch->ops = grown;
        batch->op_cap = cap;
    }
    size_t sub_len = strlen(sub) + 1, topic_len = topic ? strlen(topic) + 1 : 0;
    size_t at = s_arena(batch, sub_len + topic_len + value_len);
    if (at == SIZE_MAX)
        return -ENOMEM;
    memcpy(batch->arena + at, sub, sub_len);
    if (topic)
        memcpy(batch->arena + at + sub_len, topic, topic_len);
    if (value_len)
        memcpy(batch->arena + at + sub_len + topic_len, value, value_len);
    ob_store_op_t *op = &batch->ops[batch->op_count++];
    op->kind = kind;
    op->sub = (const char *)(uintptr_t)at;
    op->topic = topic ? (const char *)(uintptr_t)(at + sub_len) : NULL;
    op->value = value_len ? (const uint8_t *)(uintptr_t)(at + sub_len + topic_len) : NULL;
    op->value_len = value_len;
    return 0;
}

static int
s_collect_sub(ob_subs_batch_t *batch, const ob_subs_sub_t *sub)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    uint8_t *body = malloc(OB_BODY_MAX);
    int rc = -ENOMEM;
    if (!msg || !body)
        goto out;
    msg->command = OB_CMD_SUBSCRIBE;
    msg->req = 1;
    snprintf(msg->sub, sizeof msg->sub, "%s", sub->name);
    msg->pattern_count = sub->pattern_count;
    for (size_t i = 0; i < sub->pattern_count; i++)
        snprintf(msg->patterns[i], sizeof msg->patterns[i], "%s", sub->patterns[i]);
    msg->type_count = sub->type_count;
    for (size_t i = 0; i < sub->type_count; i++)
        snprintf(msg->types[i], sizeof msg->types[i], "%s", sub->types[i]);
    msg->credit = sub->credit;
    msg->ack_wait_ms = sub->ack_wait_ms;
    msg->max_attempts = sub->max_attempts;
    msg->backoff_ms = sub->backoff_ms;
    /* [owner] body (subs.h), within the store's OB_BODY_MAX: the owner's str takes at most
       S_RECORD_OWNER_MAX bytes, and the largest SUBSCRIBE body (16 patterns, 32 types) about
       9 KB */
    size_t len = 0;
    rc = ob_wire_encode_body(msg, body, OB_BODY_MAX - S_RECORD_OWNER_MAX, &len);
    if (rc)
        goto out;
    msgpack_sbuffer record;
    msgpack_sbuffer_init(&record);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &record, msgpack_sbuffer_write);
    size_t owner_len = strlen(sub->owner);
    int failed = owner_len && (msgpack_pack_str(&pk, owner_len) ||
                               msgpack_pack_str_body(&pk, sub->owner, owner_len));
    if (failed || msgpack_sbuffer_write(&record, (const char *)body, len))
        rc = -ENOMEM;
    else
        rc = s_op(batch, OB_STORE_PUT_SUB, sub->name, NULL, (const uint8_t *)record.data,
                  record.size);
    msgpack_sbuffer_destroy(&record);
out:
    free(msg);
    free(body);
    return rc;
}

static int
s_collect_pos(ob_subs_batch_t *batch, const ob_subs_pos_t *pos)
{
    size_t n = pos->done_count < S_RANGES_PERSIST ? pos->done_count : S_RANGES_PERSIST;
    /* ranges beyond S_RANGES_PERSIST are not persisted: after a crash those events are
       delivered again, which at-least-once allows */
    uint8_t *value = malloc(12 + 16 * n);
    if (!value)
        return -ENOMEM;
    ob_put_u64(value, pos->floor);
    ob_put_u32(value + 8, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        ob_put_u64(value + 12 + 16 * i, pos->done[i].lo);
        ob_put_u64(value + 20 + 16 * i, pos->done[i].hi);
    }
    int rc = s_op(batch, OB_STORE_PUT_POS, pos->sub->name, pos->topic->name, value, 12 + 16 * n);
    free(value);
    return rc;
}

/* Builds the dead letter of f (PROTOCOL.md 12.6) into letter. Returns 0, or an error (the
   original is gone or too large to wrap: the event is then only marked done). */
static int
s_letter(ob_subs_t *self, const ob_subs_flight_t *f, ob_subs_letter_t *letter)
{
    const ob_subs_sub_t *sub = f->pos->sub;
    uint8_t *original = NULL;
    size_t original_len = 0;
    int rc = ob_store_get(self->store, f->pos->topic->name, f->seq, &original, &original_len, NULL);
    if (rc)
        return rc;
    ob_event_envelope_t env;
    memset(&env, 0, sizeof env);
    ob_event_peek(original, original_len, &env);
    char attempts[24], seq[24], id[OB_EVENT_ID_MAX + 1], type[OB_EVENT_TYPE_MAX + 1];
    snprintf(attempts, sizeof attempts, "%" PRIu32, f->attempt);
    snprintf(seq, sizeof seq, "%" PRIu64, f->seq);
    snprintf(id, sizeof id, "%.*s", (int)env.id_len, env.id ? env.id : "");
    snprintf(type, sizeof type, "%.*s", (int)env.type_len, env.type ? env.type : "");
    snprintf(letter->topic, sizeof letter->topic, "%s%s", OB_SUBS_DLQ_PREFIX, sub->name);
    snprintf(letter->id, sizeof letter->id, "dl-%" PRIu32 "-%" PRIu64, f->pos->topic->id, f->seq);
    ob_change_t changes[] = {
        {"reason", NULL, "max_attempts"},
        {"attempts", NULL, attempts},
        {"subscription", NULL, sub->name},
        {"topic", NULL, f->pos->topic->name},
        {"seq", NULL, seq},
        {"id", NULL, id},
        {"type", NULL, type},
    };
    ob_event_t event = {
        .id = letter->id,
        .topic = letter->topic,
        .type = "dead_letter",
        .time_us = s_now_us(),
        .source = "orderbus-broker",
        .changes = changes,
        .changes_count = sizeof changes / sizeof changes[0],
        .data = original,
        .data_len = original_len,
    };
    rc = ob_event_encode(&event, &letter->event, &letter->event_len);
    free(original);
    return rc;
}

int
ob_subs_dirty(const ob_subs_t *self)
{
    return zlistx_size(self->dirty) || zlistx_size(self->deleted) || zlistx_size(self->letters);
}

int
ob_subs_collect(ob_subs_t *self, ob_subs_batch_t *batch)
{
    int rc = 0;
    batch->op_count = 0;
    batch->arena_len = 0;
    batch->letter_count = 0;

    ob_subs_letter_t *l;
    while (batch->letter_count < batch->letter_cap && (l = zlistx_first(self->letters))) {
        batch->letters[batch->letter_count++] = *l;
        free(l);
        zlistx_delete(self->letters, zlistx_cursor(self->letters));
    }
    for (const char *name = zlistx_first(self->deleted); name && !rc;
         name = zlistx_next(self->deleted))
        rc = s_op(batch, OB_STORE_DEL_SUB, name, NULL, NULL, 0);
    if (rc)
        goto fixup;
    zlistx_purge(self->deleted);

    ob_subs_sub_t *sub;
    while (!rc && (sub = zlistx_first(self->dirty))) {
        ob_subs_flight_t *f;
        while (batch->letter_count < batch->letter_cap && (f = sub->lists[OB_SUBS_F_DEAD].head)) {
            ob_subs_letter_t *letter = &batch->letters[batch->letter_count];
            memset(letter, 0, sizeof *letter);
            int lrc = s_letter(self, f, letter);
            if (lrc == 0)
                batch->letter_count++;
            else
                zsys_warning("subs: %s: no dead letter for %s #%" PRIu64 ": %s", sub->name,
                             f->pos->topic->name, f->seq, ob_strerror(lrc));
            self->stats.dead_lettered++;
            sub->dead_lettered++;
            ob_subs_flight_done(self, f);
        }
        if (sub->dirty && !sub->ephemeral && (rc = s_collect_sub(batch, sub)))
            break;
        sub->dirty = 0;
        ob_subs_pos_t *pos;
        while ((pos = zlistx_first(sub->dirty_pos))) {
            if ((rc = s_collect_pos(batch, pos)))
                break;
            pos->dirty = 0;
            zlistx_delete(sub->dirty_pos, zlistx_cursor(sub->dirty_pos));
        }
        if (rc)
            break;
        if (sub->lists[OB_SUBS_F_DEAD].size)
            break; /* letters full: the rest next time, with their positions */
        zlistx_delete(self->dirty, sub->dirty_node);
        sub->dirty_node = NULL;
    }
fixup:
    for (size_t i = 0; i < batch->op_count; i++) {
        ob_store_op_t *op = &batch->ops[i];
        op->sub = (const char *)batch->arena + (uintptr_t)op->sub;
        if (op->topic)
            op->topic = (const char *)batch->arena + (uintptr_t)op->topic;
        if (op->value)
            op->value = batch->arena + (uintptr_t)op->value;
    }
    return rc;
}

void
ob_subs_uncollect(ob_subs_t *self, ob_subs_batch_t *batch)
{
    for (size_t i = 0; i < batch->op_count; i++) {
        const ob_store_op_t *op = &batch->ops[i];
        ob_subs_sub_t *sub = zhashx_lookup(self->subs, op->sub);
        if (op->kind == OB_STORE_DEL_SUB) {
            if (!sub)
                zlistx_add_end(self->deleted, (void *)op->sub);
            continue;
        }
        if (!sub)
            continue;
        if (op->kind == OB_STORE_PUT_SUB) {
            sub->dirty = 1;
            ob_subs_mark_dirty(self, sub);
        } else if (op->kind == OB_STORE_PUT_POS) {
            ob_subs_pos_t *pos = zhashx_lookup(sub->positions, op->topic);
            if (pos)
                ob_subs_pos_dirty(self, pos);
        }
    }
    for (size_t i = 0; i < batch->letter_count; i++) {
        ob_subs_letter_t *l = malloc(sizeof *l);
        if (!l) {
            free(batch->letters[i].event);
            continue;
        }
        *l = batch->letters[i];
        zlistx_add_end(self->letters, l);
    }
    batch->letter_count = 0;
    batch->op_count = 0;
}

void
ob_subs_batch_free(ob_subs_batch_t *batch)
{
    for (size_t i = 0; i < batch->letter_count; i++)
        free(batch->letters[i].event);
    free(batch->ops);
    free(batch->arena);
    free(batch->letters);
    memset(batch, 0, sizeof *batch);
}
