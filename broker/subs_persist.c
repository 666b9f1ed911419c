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

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "pos_record.h"
#include "sub_record.h"

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

/* Loads the record of subscription name (sub_record.h). */
int
ob_subs_on_sub(void *arg, const char *name, const uint8_t *value, size_t len)
{
    ob_subs_t *self = arg;
    ob_sub_record_t *record = calloc(1, sizeof *record);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    ob_subs_sub_t *sub = NULL;
    int rc = -ENOMEM;
    if (!record || !msg)
        goto out;
    if ((rc = ob_sub_record_decode(value, len, record))) {
        zsys_error("subs: the record of subscription %s cannot be decoded: %s", name,
                   ob_strerror(rc));
        rc = rc == -ENOMEM ? rc : OB_ERR_STORAGE;
        goto out;
    }
    /* ob_subs_sub_new takes its settings as a SUBSCRIBE brings them */
    msg->pattern_count = record->pattern_count;
    memcpy(msg->patterns, record->patterns, sizeof msg->patterns);
    msg->type_count = record->type_count;
    memcpy(msg->types, record->types, sizeof msg->types);
    msg->credit = record->credit;
    msg->ack_wait_ms = record->ack_wait_ms;
    msg->max_attempts = record->max_attempts;
    msg->backoff_ms = record->backoff_ms;
    rc = -ENOMEM;
    if (!(sub = ob_subs_sub_new(msg, name)))
        goto out;
    memcpy(sub->owner, record->owner, sizeof sub->owner);
    if (zhashx_insert(self->subs, sub->name, sub)) {
        ob_subs_sub_free(sub);
        goto out;
    }
    rc = 0;
out:
    free(record);
    free(msg);
    return rc;
}

/* Loads the position of subscription name on topic_name (pos_record.h). */
int
ob_subs_on_pos(void *arg, const char *name, const char *topic_name, const uint8_t *value,
               size_t len)
{
    ob_subs_t *self = arg;
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    ob_subs_topic_t *topic = zhashx_lookup(self->topics, topic_name);
    if (!sub || !topic)
        return 0; /* a position without its subscription or topic: ignored */
    ob_pos_record_t record;
    int rc = ob_pos_record_decode(value, len, &record);
    if (rc) {
        zsys_error("subs: the position of %s on %s cannot be decoded: %s", name, topic_name,
                   ob_strerror(rc));
        return OB_ERR_STORAGE;
    }
    ob_subs_range_t *done = NULL;
    if (record.count && !(done = calloc(record.count, sizeof *done)))
        return -ENOMEM;
    for (size_t i = 0; i < record.count; i++)
        done[i] = ob_pos_record_range(&record, i);
    ob_subs_pos_t *pos = ob_subs_pos_new(self, sub, topic, record.floor);
    if (!pos) {
        free(done);
        return -ENOMEM;
    }
    pos->done = done;
    pos->done_count = record.count;
    pos->done_cap = record.count;
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
    ob_sub_record_t *record = calloc(1, sizeof *record);
    uint8_t *buf = malloc(OB_SUB_RECORD_MAX);
    int rc = -ENOMEM;
    if (!record || !buf)
        goto out;
    memcpy(record->owner, sub->owner, sizeof record->owner);
    record->pattern_count = sub->pattern_count;
    for (size_t i = 0; i < sub->pattern_count; i++)
        snprintf(record->patterns[i], sizeof record->patterns[i], "%s", sub->patterns[i]);
    record->type_count = sub->type_count;
    for (size_t i = 0; i < sub->type_count; i++)
        snprintf(record->types[i], sizeof record->types[i], "%s", sub->types[i]);
    record->credit = sub->credit;
    record->ack_wait_ms = sub->ack_wait_ms;
    record->max_attempts = sub->max_attempts;
    record->backoff_ms = sub->backoff_ms;
    size_t len = 0;
    if ((rc = ob_sub_record_encode(record, buf, OB_SUB_RECORD_MAX, &len)) == 0)
        rc = s_op(batch, OB_STORE_PUT_SUB, sub->name, NULL, buf, len);
out:
    free(record);
    free(buf);
    return rc;
}

static int
s_collect_pos(ob_subs_batch_t *batch, const ob_subs_pos_t *pos)
{
    size_t n =
        pos->done_count < OB_POS_RECORD_RANGES_MAX ? pos->done_count : OB_POS_RECORD_RANGES_MAX;
    /* ranges beyond OB_POS_RECORD_RANGES_MAX are not persisted: after a crash those events
       are delivered again, which at-least-once allows */
    size_t len = ob_pos_record_size(n);
    uint8_t *value = malloc(len);
    if (!value)
        return -ENOMEM;
    int rc = ob_pos_record_encode(pos->floor, pos->done, n, value, len, &len);
    if (rc == 0)
        rc = s_op(batch, OB_STORE_PUT_POS, pos->sub->name, pos->topic->name, value, len);
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
