/*  ob_store_record: see store_record.h. */
#include "store_record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bigendian.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"

#define S_U16_MAX 0xffffu /* largest u16 length */

/* Makes room for need more bytes in buf. Returns 0 or -ENOMEM. */
static int
s_reserve(ob_store_record_buf_t *buf, size_t need)
{
    if (buf->cap - buf->len >= need)
        return 0;
    size_t cap = buf->cap ? buf->cap : 4096;
    while (cap - buf->len < need) {
        if (cap > SIZE_MAX / 2)
            return -ENOMEM;
        cap *= 2;
    }
    uint8_t *data = realloc(buf->data, cap);
    if (!data)
        return -ENOMEM;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

/* Appends len bytes at p (reserved by the caller). */
static void
s_put(ob_store_record_buf_t *buf, const void *p, size_t len)
{
    if (len)
        memcpy(buf->data + buf->len, p, len);
    buf->len += len;
}

static void
s_put_u16(ob_store_record_buf_t *buf, size_t v)
{
    buf->data[buf->len++] = (uint8_t)(v >> 8);
    buf->data[buf->len++] = (uint8_t)v;
}

static void
s_put_u32(ob_store_record_buf_t *buf, uint64_t v)
{
    ob_put_u32(buf->data + buf->len, (uint32_t)v);
    buf->len += 4;
}

static void
s_put_u64(ob_store_record_buf_t *buf, uint64_t v)
{
    ob_put_u64(buf->data + buf->len, v);
    buf->len += 8;
}

int
ob_store_record_encode(ob_store_record_buf_t *buf, uint64_t now_us, const ob_store_item_t *items,
                       const uint64_t *stamps, size_t count, const ob_store_op_t *ops,
                       size_t op_count, size_t *ret_stored)
{
    size_t need = OB_STORE_RECORD_HEAD, stored = 0;
    for (size_t i = 0; i < count; i++)
        if (items[i].rc == 0 && !items[i].dup) {
            need += OB_STORE_RECORD_ITEM_HEAD + items[i].topic_len + items[i].event_id_len +
                    items[i].event_len;
            stored++;
        }
    for (size_t i = 0; i < op_count; i++)
        need += OB_STORE_RECORD_OP_HEAD + strlen(ops[i].sub) +
                (ops[i].topic ? strlen(ops[i].topic) : 0) + ops[i].value_len;
    buf->len = 0;
    if (s_reserve(buf, need))
        return -ENOMEM;

    buf->data[buf->len++] = OB_STORE_RECORD_VERSION;
    s_put_u64(buf, now_us);
    s_put_u32(buf, stored);
    s_put_u32(buf, op_count);
    for (size_t i = 0; i < count; i++) {
        const ob_store_item_t *item = &items[i];
        if (item->rc || item->dup)
            continue;
        s_put_u16(buf, item->topic_len);
        s_put(buf, item->topic, item->topic_len);
        s_put_u16(buf, item->event_id_len);
        s_put(buf, item->event_id, item->event_id_len);
        s_put_u32(buf, item->event_len);
        s_put_u64(buf, item->seq);
        s_put_u64(buf, stamps[i]);
        s_put(buf, item->event, item->event_len);
    }
    for (size_t i = 0; i < op_count; i++) {
        const ob_store_op_t *op = &ops[i];
        size_t sub_len = strlen(op->sub), topic_len = op->topic ? strlen(op->topic) : 0;
        buf->data[buf->len++] = (uint8_t)op->kind;
        s_put_u16(buf, sub_len);
        s_put(buf, op->sub, sub_len);
        s_put_u16(buf, topic_len);
        s_put(buf, op->topic, topic_len);
        s_put_u32(buf, op->value ? op->value_len : 0);
        s_put(buf, op->value, op->value ? op->value_len : 0);
    }
    *ret_stored = stored;
    return 0;
}

/* A cursor over the payload being decoded. */
typedef struct s_reader {
    const uint8_t *p; /* next byte */
    size_t left;      /* bytes left */
} s_reader_t;

/* Takes n bytes from r into *ret (a view). Returns 0 or OB_ERR_TRUNCATED. */
static int
s_take(s_reader_t *r, size_t n, const uint8_t **ret)
{
    if (r->left < n)
        return OB_ERR_TRUNCATED;
    *ret = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

/* Reads a big-endian integer of width bytes (1, 2, 4 or 8) into *ret. */
static int
s_uint(s_reader_t *r, size_t width, uint64_t *ret)
{
    const uint8_t *p;
    if (s_take(r, width, &p))
        return OB_ERR_TRUNCATED;
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = v << 8 | p[i];
    *ret = v;
    return 0;
}

/* Reads a u16-prefixed name of 1..max bytes (0 allowed if may_be_empty) without a NUL
   byte; *ret is a view, *ret_len its bytes. */
static int
s_name(s_reader_t *r, size_t max, int may_be_empty, const uint8_t **ret, size_t *ret_len)
{
    uint64_t len;
    int rc = s_uint(r, 2, &len);
    if (rc || (rc = s_take(r, (size_t)len, ret)))
        return rc;
    if ((len == 0 && !may_be_empty) || len > max || memchr(*ret, 0, (size_t)len))
        return OB_ERR_MALFORMED;
    *ret_len = (size_t)len;
    return 0;
}

/* Copies a name into rec's arena (room reserved), NUL-terminated, and returns the copy. */
static const char *
s_arena_add(ob_store_record_t *rec, const uint8_t *name, size_t len)
{
    const char *copy = (const char *)rec->arena.data + rec->arena.len;
    s_put(&rec->arena, name, len);
    rec->arena.data[rec->arena.len++] = 0;
    return copy;
}

/* Makes room for n entries of size each at *array (capacity *cap). */
static int
s_grow_array(void **array, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return 0;
    void *p = realloc(*array, n * size);
    if (!p)
        return -ENOMEM;
    *array = p;
    *cap = n;
    return 0;
}

/* Decodes one item into item. */
static int
s_decode_item(s_reader_t *r, ob_store_item_t *item)
{
    const uint8_t *topic, *id, *event;
    size_t topic_len, id_len;
    uint64_t event_len, seq, stamp;
    int rc;
    if ((rc = s_name(r, OB_TOPIC_MAX, 0, &topic, &topic_len)) ||
        (rc = s_name(r, OB_EVENT_ID_MAX, 0, &id, &id_len)) || (rc = s_uint(r, 4, &event_len)) ||
        (rc = s_uint(r, 8, &seq)) || (rc = s_uint(r, 8, &stamp)) ||
        (rc = s_take(r, (size_t)event_len, &event)))
        return rc;
    if (!ob_topic_valid((const char *)topic, topic_len) || event_len == 0 ||
        event_len > OB_EVENT_MAX_CAP || seq == 0)
        return OB_ERR_MALFORMED;
    *item = (ob_store_item_t){
        .topic = (const char *)topic,
        .topic_len = topic_len,
        .event_id = (const char *)id,
        .event_id_len = id_len,
        .event = event,
        .event_len = (size_t)event_len,
        .time_us = stamp,
        .seq = seq,
    };
    return 0;
}

/* Decodes one op into op, its names copied into rec's arena. */
static int
s_decode_op(s_reader_t *r, ob_store_record_t *rec, ob_store_op_t *op)
{
    const uint8_t *sub, *topic, *value;
    size_t sub_len, topic_len;
    uint64_t kind, value_len;
    int rc;
    if ((rc = s_uint(r, 1, &kind)) || (rc = s_name(r, OB_SUB_NAME_MAX, 0, &sub, &sub_len)) ||
        (rc = s_name(r, OB_TOPIC_MAX, 1, &topic, &topic_len)) || (rc = s_uint(r, 4, &value_len)) ||
        (rc = s_take(r, (size_t)value_len, &value)))
        return rc;
    int pos = kind == OB_STORE_PUT_POS || kind == OB_STORE_DEL_POS;
    int put = kind == OB_STORE_PUT_SUB || kind == OB_STORE_PUT_POS;
    if (kind < OB_STORE_PUT_SUB || kind > OB_STORE_DEL_POS || pos != (topic_len > 0) ||
        put != (value_len > 0) || value_len > OB_BODY_MAX)
        return OB_ERR_MALFORMED;
    *op = (ob_store_op_t){.kind = (ob_store_op_kind_t)kind,
                          .value = put ? value : NULL,
                          .value_len = (size_t)value_len};
    op->sub = s_arena_add(rec, sub, sub_len);
    op->topic = pos ? s_arena_add(rec, topic, topic_len) : NULL;
    return 0;
}

int
ob_store_record_decode(const uint8_t *payload, size_t len, ob_store_record_t *rec)
{
    s_reader_t r = {payload, len};
    uint64_t version, now_us, count, op_count;
    int rc;
    if ((rc = s_uint(&r, 1, &version)) || (rc = s_uint(&r, 8, &now_us)) ||
        (rc = s_uint(&r, 4, &count)) || (rc = s_uint(&r, 4, &op_count)))
        return rc;
    if (version != OB_STORE_RECORD_VERSION)
        return OB_ERR_MALFORMED;
    /* Every entry takes at least its head: counts beyond what the bytes hold are lies. */
    if (count > r.left / OB_STORE_RECORD_ITEM_HEAD || op_count > r.left / OB_STORE_RECORD_OP_HEAD)
        return OB_ERR_TRUNCATED;
    if (s_grow_array((void **)&rec->items, &rec->items_cap, (size_t)count, sizeof *rec->items) ||
        s_grow_array((void **)&rec->ops, &rec->ops_cap, (size_t)op_count, sizeof *rec->ops))
        return -ENOMEM;
    rec->count = rec->op_count = 0;
    rec->now_us = now_us;
    for (size_t i = 0; i < count; i++)
        if ((rc = s_decode_item(&r, &rec->items[i])))
            return rc;
    /* The ops' names are copied, NUL-terminated, into the arena, reserved once so that it
       does not move: they take at most the payload's bytes left, plus two NULs an op. */
    rec->arena.len = 0;
    if (s_reserve(&rec->arena, r.left + 2 * (size_t)op_count))
        return -ENOMEM;
    for (size_t i = 0; i < op_count; i++)
        if ((rc = s_decode_op(&r, rec, &rec->ops[i])))
            return rc;
    if (r.left)
        return OB_ERR_MALFORMED;
    rec->count = (size_t)count;
    rec->op_count = (size_t)op_count;
    return 0;
}

void
ob_store_record_free(ob_store_record_t *rec)
{
    if (!rec)
        return;
    free(rec->items);
    free(rec->ops);
    ob_store_record_buf_free(&rec->arena);
    memset(rec, 0, sizeof *rec);
}

void
ob_store_record_buf_free(ob_store_record_buf_t *buf)
{
    if (!buf)
        return;
    free(buf->data);
    memset(buf, 0, sizeof *buf);
}
