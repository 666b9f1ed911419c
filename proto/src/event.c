/*  ob_event: the event codec. See event.h and proto/PROTOCOL.md, "Event".

    Both directions go through the same intermediate form, s_event_t, a set of views: the
    encoder builds it from the caller's ob_event_t, the decoder from the msgpack map, and both
    then run the one rule check, s_check. So the encoder never produces what the decoder
    refuses, and a change of rule changes both.

    ob_event_peek builds the same s_event_t straight from the buffer, with the cursor readers
    of mpscan.h instead of msgpack-c's unpacker (s_from_fields, which mirrors s_from_map step
    by step so that both report the same first error), and runs the same s_check. What it
    saves is the unpacking into a zone and the copy out: nothing is allocated. fuzz_event
    checks on every input that peek and decode return the same code. */
#include "orderbus/event.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"

/* The event map's keys, in the order ob_event_encode writes them. */
enum {
    S_KEY_ID,
    S_KEY_TOPIC,
    S_KEY_TYPE,
    S_KEY_TIME,
    S_KEY_SOURCE,
    S_KEY_OMS_ID,
    S_KEY_PROJECT_ID,
    S_KEY_PROJECT_ITEM_ID,
    S_KEY_MESSAGE_ID,
    S_KEY_CHANGES,
    S_KEY_DATA,
    S_EVENT_KEYS
};

static const ob_mp_key_t s_event_keys[S_EVENT_KEYS] = {
    [S_KEY_ID] = OB_MP_KEY("id"),
    [S_KEY_TOPIC] = OB_MP_KEY("topic"),
    [S_KEY_TYPE] = OB_MP_KEY("type"),
    [S_KEY_TIME] = OB_MP_KEY("time"),
    [S_KEY_SOURCE] = OB_MP_KEY("source"),
    [S_KEY_OMS_ID] = OB_MP_KEY("oms_id"),
    [S_KEY_PROJECT_ID] = OB_MP_KEY("project_id"),
    [S_KEY_PROJECT_ITEM_ID] = OB_MP_KEY("project_item_id"),
    [S_KEY_MESSAGE_ID] = OB_MP_KEY("message_id"),
    [S_KEY_CHANGES] = OB_MP_KEY("changes"),
    [S_KEY_DATA] = OB_MP_KEY("data"),
};

/* The keys of one change map, in the order they are written; also the index into the
   per-change view triple of s_event_t. */
enum { S_KEY_FIELD, S_KEY_BEFORE, S_KEY_AFTER, S_CHANGE_KEYS };

static const ob_mp_key_t s_change_keys[S_CHANGE_KEYS] = {
    [S_KEY_FIELD] = OB_MP_KEY("field"),
    [S_KEY_BEFORE] = OB_MP_KEY("before"),
    [S_KEY_AFTER] = OB_MP_KEY("after"),
};

/* The four optional Marketplace ids share their rule (omitted when 0) and keys are
   consecutive from S_KEY_OMS_ID. */
#define S_IDS 4

/* An event as views, borrowed from an ob_event_t (encode) or from the input buffer (decode). */
typedef struct s_event {
    ob_mp_str_t id;                                     /* required */
    ob_mp_str_t topic;                                  /* required */
    ob_mp_str_t type;                                   /* required */
    uint64_t time_us;                                   /* required */
    ob_mp_str_t source;                                 /* ptr NULL when absent */
    uint64_t ids[S_IDS];                                /* oms, project, project item, message */
    ob_mp_str_t changes[OB_CHANGES_MAX][S_CHANGE_KEYS]; /* field, before, after; NULL = nil */
    size_t changes_count;                               /* entries used in changes */
    const uint8_t *data;                                /* opaque bytes, NULL when none */
    size_t data_len;                                    /* bytes at data */
} s_event_t;

/* Returns 1 if c may appear in a topic token: [a-z0-9_-]. */
static int
s_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int
ob_topic_valid(const char *name, size_t len)
{
    if (!name || len == 0 || len > OB_TOPIC_MAX)
        return 0;
    size_t token = 0; /* bytes in the current token */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == '.') {
            if (token == 0)
                return 0;
            token = 0;
        } else if (s_token_char(c) && token < OB_TOKEN_MAX)
            token++;
        else
            return 0;
    }
    return token > 0;
}

int
ob_event_type_valid(const char *type, size_t len)
{
    if (!type || len == 0 || len > OB_EVENT_TYPE_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (type[i] != '.' && !s_token_char((unsigned char)type[i]))
            return 0;
    return 1;
}

/* ob_event_type_valid of a decoded view. */
static int
s_type_valid(ob_mp_str_t type)
{
    return ob_event_type_valid(type.ptr, type.len);
}

/* Returns 1 if s is present and holds min..max bytes and no NUL byte (decoded strings are
   handed out as C strings, which could not carry one). */
static int
s_str_valid(ob_mp_str_t s, size_t min, size_t max)
{
    return s.ptr && s.len >= min && s.len <= max && !ob_mp_has_nul(s.ptr, s.len);
}

/* The event rules, for both directions. Returns 0, OB_ERR_INVALID_TOPIC or
   OB_ERR_INVALID_EVENT. Counts were checked when e was filled in (they bound its arrays). */
static int
s_check(const s_event_t *e)
{
    if (!s_str_valid(e->id, 1, OB_EVENT_ID_MAX))
        return OB_ERR_INVALID_EVENT;
    if (!e->topic.ptr || !ob_topic_valid(e->topic.ptr, e->topic.len))
        return OB_ERR_INVALID_TOPIC;
    if (!s_type_valid(e->type))
        return OB_ERR_INVALID_EVENT;
    if (e->source.ptr && !s_str_valid(e->source, 0, OB_SOURCE_MAX))
        return OB_ERR_INVALID_EVENT;
    for (size_t i = 0; i < e->changes_count; i++) {
        const ob_mp_str_t *c = e->changes[i];
        if (!s_str_valid(c[S_KEY_FIELD], 1, OB_FIELD_NAME_MAX))
            return OB_ERR_INVALID_EVENT;
        for (int k = S_KEY_BEFORE; k <= S_KEY_AFTER; k++)
            if (c[k].ptr && !s_str_valid(c[k], 0, OB_CHANGE_VALUE_MAX))
                return OB_ERR_INVALID_EVENT;
    }
    return 0;
}

/* Returns a view of the C string s (NULL allowed), measuring at most max + 1 bytes: enough
   to tell that it is over max without walking a long or runaway string. */
static ob_mp_str_t
s_view(const char *s, size_t max)
{
    ob_mp_str_t view = {s, s ? strnlen(s, max + 1) : 0};
    return view;
}

/* Fills e from the caller's event. Returns 0, OB_ERR_INVALID_EVENT (inconsistent counts and
   pointers, too many changes) or OB_ERR_TOO_LARGE (data over the event cap on its own). */
static int
s_from_struct(const ob_event_t *event, s_event_t *e)
{
    e->id = s_view(event->id, OB_EVENT_ID_MAX);
    e->topic = s_view(event->topic, OB_TOPIC_MAX);
    e->type = s_view(event->type, OB_EVENT_TYPE_MAX);
    e->time_us = event->time_us;
    e->source = s_view(event->source, OB_SOURCE_MAX);
    e->ids[0] = event->oms_id;
    e->ids[1] = event->project_id;
    e->ids[2] = event->project_item_id;
    e->ids[3] = event->message_id;

    if (event->changes_count > OB_CHANGES_MAX || (event->changes_count && !event->changes))
        return OB_ERR_INVALID_EVENT;
    e->changes_count = event->changes_count;
    for (size_t i = 0; i < event->changes_count; i++) {
        const ob_change_t *c = &event->changes[i];
        e->changes[i][S_KEY_FIELD] = s_view(c->field, OB_FIELD_NAME_MAX);
        e->changes[i][S_KEY_BEFORE] = s_view(c->before, OB_CHANGE_VALUE_MAX);
        e->changes[i][S_KEY_AFTER] = s_view(c->after, OB_CHANGE_VALUE_MAX);
    }

    if (event->data_len && !event->data)
        return OB_ERR_INVALID_EVENT;
    if (event->data_len > OB_EVENT_MAX_CAP)
        return OB_ERR_TOO_LARGE;
    e->data = event->data_len ? event->data : NULL;
    e->data_len = event->data_len;
    return 0;
}

/* Returns the exact size s_pack will write for e (which passed s_check, so every length is
   bounded and the sum cannot overflow). */
static size_t
s_encoded_size(const s_event_t *e)
{
    size_t pairs = 4;
    size_t size = ob_mp_str_size(s_event_keys[S_KEY_ID].len) + ob_mp_str_size(e->id.len) +
                  ob_mp_str_size(s_event_keys[S_KEY_TOPIC].len) + ob_mp_str_size(e->topic.len) +
                  ob_mp_str_size(s_event_keys[S_KEY_TYPE].len) + ob_mp_str_size(e->type.len) +
                  ob_mp_str_size(s_event_keys[S_KEY_TIME].len) + ob_mp_uint_size(e->time_us);

    if (e->source.len) {
        pairs++;
        size += ob_mp_str_size(s_event_keys[S_KEY_SOURCE].len) + ob_mp_str_size(e->source.len);
    }
    for (int i = 0; i < S_IDS; i++) {
        if (e->ids[i]) {
            pairs++;
            size += ob_mp_str_size(s_event_keys[S_KEY_OMS_ID + i].len) + ob_mp_uint_size(e->ids[i]);
        }
    }
    if (e->changes_count) {
        pairs++;
        size += ob_mp_str_size(s_event_keys[S_KEY_CHANGES].len) +
                ob_mp_container_size(e->changes_count);
        for (size_t i = 0; i < e->changes_count; i++) {
            size += ob_mp_container_size(S_CHANGE_KEYS);
            for (int k = 0; k < S_CHANGE_KEYS; k++) {
                const ob_mp_str_t *v = &e->changes[i][k];
                size +=
                    ob_mp_str_size(s_change_keys[k].len) + (v->ptr ? ob_mp_str_size(v->len) : 1);
            }
        }
    }
    if (e->data_len) {
        pairs++;
        size += ob_mp_str_size(s_event_keys[S_KEY_DATA].len) + ob_mp_bin_size(e->data_len);
    }
    return size + ob_mp_container_size(pairs);
}

/* Evaluates a msgpack-c pack call and returns its error from the enclosing function. */
#define S_TRY(expr)                                                                                \
    do {                                                                                           \
        int s_rc_ = (expr);                                                                        \
        if (s_rc_)                                                                                 \
            return s_rc_;                                                                          \
    } while (0)

/* Packs a str, or nil when v->ptr is NULL. */
static int
s_pack_str_or_nil(msgpack_packer *pk, const ob_mp_str_t *v)
{
    return v->ptr ? ob_mp_pack_str(pk, v->ptr, v->len) : msgpack_pack_nil(pk);
}

/* Packs e, which passed s_check. Returns 0 or the writer's error. */
static int
s_pack(msgpack_packer *pk, const s_event_t *e)
{
    size_t pairs = 4 + (e->source.len > 0) + (e->changes_count > 0) + (e->data_len > 0);
    for (int i = 0; i < S_IDS; i++)
        pairs += e->ids[i] != 0;

    S_TRY(msgpack_pack_map(pk, pairs));
    S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_ID]));
    S_TRY(ob_mp_pack_str(pk, e->id.ptr, e->id.len));
    S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_TOPIC]));
    S_TRY(ob_mp_pack_str(pk, e->topic.ptr, e->topic.len));
    S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_TYPE]));
    S_TRY(ob_mp_pack_str(pk, e->type.ptr, e->type.len));
    S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_TIME]));
    S_TRY(msgpack_pack_uint64(pk, e->time_us));
    if (e->source.len) {
        S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_SOURCE]));
        S_TRY(ob_mp_pack_str(pk, e->source.ptr, e->source.len));
    }
    for (int i = 0; i < S_IDS; i++) {
        if (e->ids[i]) {
            S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_OMS_ID + i]));
            S_TRY(msgpack_pack_uint64(pk, e->ids[i]));
        }
    }
    if (e->changes_count) {
        S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_CHANGES]));
        S_TRY(msgpack_pack_array(pk, e->changes_count));
        for (size_t i = 0; i < e->changes_count; i++) {
            S_TRY(msgpack_pack_map(pk, S_CHANGE_KEYS));
            for (int k = 0; k < S_CHANGE_KEYS; k++) {
                S_TRY(ob_mp_pack_key(pk, &s_change_keys[k]));
                S_TRY(s_pack_str_or_nil(pk, &e->changes[i][k]));
            }
        }
    }
    if (e->data_len) {
        S_TRY(ob_mp_pack_key(pk, &s_event_keys[S_KEY_DATA]));
        S_TRY(msgpack_pack_bin(pk, e->data_len));
        S_TRY(msgpack_pack_bin_body(pk, e->data, e->data_len));
    }
    return 0;
}

int
ob_event_encode(const ob_event_t *event, uint8_t **ret_buf, size_t *ret_len)
{
    assert(event && ret_buf && ret_len);
    s_event_t e;
    int rc = s_from_struct(event, &e);
    if (rc)
        return rc;
    rc = s_check(&e);
    if (rc)
        return rc;
    size_t size = s_encoded_size(&e);
    if (size > OB_EVENT_MAX_CAP)
        return OB_ERR_TOO_LARGE;

    /* The sbuffer starts at the exact size, so packing never reallocates (its default
       would be 8 KiB, then doubling). */
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    sbuf.data = malloc(size);
    if (!sbuf.data)
        return -ENOMEM;
    sbuf.alloc = size;

    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    if (s_pack(&pk, &e)) {
        msgpack_sbuffer_destroy(&sbuf); /* only a failed realloc can get here */
        return -ENOMEM;
    }
    assert(sbuf.size == size);
    *ret_len = sbuf.size;
    *ret_buf = (uint8_t *)msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* Reads a str or nil change value; absent is nil too (the encoder always writes both). */
static int
s_read_value(const msgpack_object *obj, ob_mp_str_t *ret_str)
{
    if (!obj) {
        ret_str->ptr = NULL;
        ret_str->len = 0;
        return 0;
    }
    return ob_mp_get_str(obj, 1, ret_str);
}

/* Fills e from the decoded map's values (v from ob_mp_map_fields). Returns 0,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_MALFORMED (a change map with a duplicate
   or non-str key) or OB_ERR_INVALID_EVENT (too many changes). */
static int
s_from_map(const msgpack_object *const *v, s_event_t *e)
{
    int rc = 0;
    if (!v[S_KEY_ID] || !v[S_KEY_TOPIC] || !v[S_KEY_TYPE] || !v[S_KEY_TIME])
        return OB_ERR_MISSING_FIELD;
    if ((rc = ob_mp_get_str(v[S_KEY_ID], 0, &e->id)) ||
        (rc = ob_mp_get_str(v[S_KEY_TOPIC], 0, &e->topic)) ||
        (rc = ob_mp_get_str(v[S_KEY_TYPE], 0, &e->type)) ||
        (rc = ob_mp_get_uint(v[S_KEY_TIME], &e->time_us)))
        return rc;

    e->source.ptr = NULL;
    e->source.len = 0;
    if (v[S_KEY_SOURCE] && (rc = ob_mp_get_str(v[S_KEY_SOURCE], 0, &e->source)))
        return rc;
    /* A present 0 reads as absent: lenient towards senders that always write the ids. */
    for (int i = 0; i < S_IDS; i++) {
        e->ids[i] = 0;
        if (v[S_KEY_OMS_ID + i] && (rc = ob_mp_get_uint(v[S_KEY_OMS_ID + i], &e->ids[i])))
            return rc;
    }

    e->changes_count = 0;
    if (v[S_KEY_CHANGES]) {
        const msgpack_object *changes = v[S_KEY_CHANGES];
        if (changes->type != MSGPACK_OBJECT_ARRAY)
            return OB_ERR_FIELD_TYPE;
        if (changes->via.array.size > OB_CHANGES_MAX)
            return OB_ERR_INVALID_EVENT;
        for (uint32_t i = 0; i < changes->via.array.size; i++) {
            const msgpack_object *change = &changes->via.array.ptr[i];
            const msgpack_object *cv[S_CHANGE_KEYS];
            ob_mp_str_t *out = e->changes[i];
            if (change->type != MSGPACK_OBJECT_MAP)
                return OB_ERR_FIELD_TYPE;
            if ((rc = ob_mp_map_fields(change, s_change_keys, S_CHANGE_KEYS, cv)))
                return rc;
            if (!cv[S_KEY_FIELD])
                return OB_ERR_MISSING_FIELD;
            if ((rc = ob_mp_get_str(cv[S_KEY_FIELD], 0, &out[S_KEY_FIELD])) ||
                (rc = s_read_value(cv[S_KEY_BEFORE], &out[S_KEY_BEFORE])) ||
                (rc = s_read_value(cv[S_KEY_AFTER], &out[S_KEY_AFTER])))
                return rc;
        }
        e->changes_count = changes->via.array.size;
    }

    e->data = NULL;
    e->data_len = 0;
    if (v[S_KEY_DATA]) {
        if (v[S_KEY_DATA]->type != MSGPACK_OBJECT_BIN)
            return OB_ERR_FIELD_TYPE;
        if (v[S_KEY_DATA]->via.bin.size) {
            e->data = (const uint8_t *)v[S_KEY_DATA]->via.bin.ptr;
            e->data_len = v[S_KEY_DATA]->via.bin.size;
        }
    }
    return 0;
}

/* Reads a str or nil change value at v; absent (v->pos NULL) is nil too, as s_read_value. */
static int
s_read_value_at(ob_mp_cursor_t *v, ob_mp_str_t *ret_str)
{
    if (!v->pos) {
        ret_str->ptr = NULL;
        ret_str->len = 0;
        return 0;
    }
    return ob_mp_read_str(v, 1, ret_str);
}

/* Fills e from the values of an event map found by ob_mp_read_fields, in a buffer that
   passed ob_mp_prescan. The twin of s_from_map, for ob_event_peek: the same steps in the
   same order, so that the first failure, and so the code returned, is the same for every
   input (a missing field before a mistyped one, the top-level fields before the changes,
   the changes before data, and every type before any rule of s_check). Returns 0,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE, OB_ERR_MALFORMED (a change map with a duplicate
   or non-str key) or OB_ERR_INVALID_EVENT (too many changes). */
static int
s_from_fields(ob_mp_cursor_t *v, s_event_t *e)
{
    int rc = 0;
    if (!v[S_KEY_ID].pos || !v[S_KEY_TOPIC].pos || !v[S_KEY_TYPE].pos || !v[S_KEY_TIME].pos)
        return OB_ERR_MISSING_FIELD;
    if ((rc = ob_mp_read_str(&v[S_KEY_ID], 0, &e->id)) ||
        (rc = ob_mp_read_str(&v[S_KEY_TOPIC], 0, &e->topic)) ||
        (rc = ob_mp_read_str(&v[S_KEY_TYPE], 0, &e->type)) ||
        (rc = ob_mp_read_uint(&v[S_KEY_TIME], &e->time_us)))
        return rc;

    e->source.ptr = NULL;
    e->source.len = 0;
    if (v[S_KEY_SOURCE].pos && (rc = ob_mp_read_str(&v[S_KEY_SOURCE], 0, &e->source)))
        return rc;
    for (int i = 0; i < S_IDS; i++) {
        e->ids[i] = 0;
        if (v[S_KEY_OMS_ID + i].pos && (rc = ob_mp_read_uint(&v[S_KEY_OMS_ID + i], &e->ids[i])))
            return rc;
    }

    e->changes_count = 0;
    if (v[S_KEY_CHANGES].pos) {
        ob_mp_cursor_t *changes = &v[S_KEY_CHANGES];
        size_t count = 0;
        if ((rc = ob_mp_read_array(changes, &count)))
            return rc; /* OB_ERR_FIELD_TYPE: not an array */
        if (count > OB_CHANGES_MAX)
            return OB_ERR_INVALID_EVENT;
        for (size_t i = 0; i < count; i++) {
            ob_mp_cursor_t cv[S_CHANGE_KEYS];
            ob_mp_str_t *out = e->changes[i];
            /* OB_ERR_FIELD_TYPE if the change is not a map, OB_ERR_MALFORMED for its keys */
            if ((rc = ob_mp_read_fields(changes, s_change_keys, S_CHANGE_KEYS, cv)))
                return rc;
            if (!cv[S_KEY_FIELD].pos)
                return OB_ERR_MISSING_FIELD;
            if ((rc = ob_mp_read_str(&cv[S_KEY_FIELD], 0, &out[S_KEY_FIELD])) ||
                (rc = s_read_value_at(&cv[S_KEY_BEFORE], &out[S_KEY_BEFORE])) ||
                (rc = s_read_value_at(&cv[S_KEY_AFTER], &out[S_KEY_AFTER])))
                return rc;
        }
        e->changes_count = count;
    }

    e->data = NULL;
    e->data_len = 0;
    if (v[S_KEY_DATA].pos) {
        ob_mp_str_t data;
        if ((rc = ob_mp_read_bin(&v[S_KEY_DATA], &data)))
            return rc;
        if (data.len) {
            e->data = (const uint8_t *)data.ptr;
            e->data_len = data.len;
        }
    }
    return 0;
}

/* Copies s to *cursor, NUL-terminates it and advances the cursor; returns the copy. A view
   with ptr NULL is copied as "" (the caller decides whether NULL was nil). */
static const char *
s_put(char **cursor, ob_mp_str_t s)
{
    char *copy = *cursor;
    if (s.len)
        memcpy(copy, s.ptr, s.len);
    copy[s.len] = '\0';
    *cursor = copy + s.len + 1;
    return copy;
}

/* Returns a new event holding copies of everything in e, in one allocation laid out as
   the struct, the change array, then the strings and the data; or NULL if out of memory. */
static ob_event_t *
s_copy_out(const s_event_t *e)
{
    size_t size = sizeof(ob_event_t) + e->changes_count * sizeof(ob_change_t) + e->id.len + 1 +
                  e->topic.len + 1 + e->type.len + 1 + e->source.len + 1 + e->data_len;
    for (size_t i = 0; i < e->changes_count; i++)
        for (int k = 0; k < S_CHANGE_KEYS; k++)
            if (e->changes[i][k].ptr)
                size += e->changes[i][k].len + 1;

    ob_event_t *event = malloc(size);
    if (!event)
        return NULL;
    ob_change_t *changes = (ob_change_t *)(event + 1);
    char *cursor = (char *)(changes + e->changes_count);

    event->id = s_put(&cursor, e->id);
    event->topic = s_put(&cursor, e->topic);
    event->type = s_put(&cursor, e->type);
    event->time_us = e->time_us;
    event->source = s_put(&cursor, e->source);
    event->oms_id = e->ids[0];
    event->project_id = e->ids[1];
    event->project_item_id = e->ids[2];
    event->message_id = e->ids[3];
    for (size_t i = 0; i < e->changes_count; i++) {
        const ob_mp_str_t *c = e->changes[i];
        changes[i].field = s_put(&cursor, c[S_KEY_FIELD]);
        changes[i].before = c[S_KEY_BEFORE].ptr ? s_put(&cursor, c[S_KEY_BEFORE]) : NULL;
        changes[i].after = c[S_KEY_AFTER].ptr ? s_put(&cursor, c[S_KEY_AFTER]) : NULL;
    }
    event->changes = e->changes_count ? changes : NULL;
    event->changes_count = e->changes_count;
    event->data = NULL;
    event->data_len = e->data_len;
    if (e->data_len) {
        memcpy(cursor, e->data, e->data_len);
        event->data = (const uint8_t *)cursor;
    }
    return event;
}

int
ob_event_decode(const uint8_t *buf, size_t len, ob_event_t **ret_event)
{
    assert(ret_event);
    if (len > OB_EVENT_MAX_CAP)
        return OB_ERR_TOO_LARGE;

    msgpack_unpacked unpacked;
    const msgpack_object *map = NULL;
    const msgpack_object *v[S_EVENT_KEYS];
    s_event_t e;
    ob_event_t *event = NULL;

    msgpack_unpacked_init(&unpacked);
    int rc = ob_mp_unpack_map(buf, len, &unpacked, &map);
    if (rc)
        goto out;
    if ((rc = ob_mp_map_fields(map, s_event_keys, S_EVENT_KEYS, v)) || (rc = s_from_map(v, &e)) ||
        (rc = s_check(&e)))
        goto out;
    /* The views point into buf and the zone: copy before the zone goes. */
    event = s_copy_out(&e);
    if (!event) {
        rc = -ENOMEM;
        goto out;
    }
    *ret_event = event;
out:
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

int
ob_event_peek(const uint8_t *buf, size_t len, ob_event_envelope_t *ret_envelope)
{
    assert(ret_envelope);
    /* The steps of ob_event_decode and ob_mp_unpack_map, in their order. */
    if (len > OB_EVENT_MAX_CAP)
        return OB_ERR_TOO_LARGE;
    size_t used = 0;
    int rc = ob_mp_prescan(buf, len, &used);
    if (rc)
        return rc;
    if (used != len)
        return OB_ERR_MALFORMED;

    ob_mp_cursor_t map = {buf, buf + len};
    ob_mp_cursor_t v[S_EVENT_KEYS];
    s_event_t e;
    rc = ob_mp_read_fields(&map, s_event_keys, S_EVENT_KEYS, v);
    if (rc == OB_ERR_FIELD_TYPE)
        return OB_ERR_MALFORMED; /* the root is not a map, as ob_mp_unpack_map says */
    if (rc || (rc = s_from_fields(v, &e)) || (rc = s_check(&e)))
        return rc;

    ret_envelope->id = e.id.ptr;
    ret_envelope->id_len = e.id.len;
    ret_envelope->topic = e.topic.ptr;
    ret_envelope->topic_len = e.topic.len;
    ret_envelope->type = e.type.ptr;
    ret_envelope->type_len = e.type.len;
    ret_envelope->time_us = e.time_us;
    return 0;
}

void
ob_event_destroy(ob_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p); /* one block: struct, changes, strings and data */
    *self_p = NULL;
}
