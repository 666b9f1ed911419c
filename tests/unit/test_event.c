/*  test_event: the event codec and topic names (orderbus/event.h).

    ob_event_peek must return what ob_event_decode returns for every input: s_decode, through
    which every decoding test goes, also peeks at the same bytes and checks that it agrees
    (the code, and the envelope on success).

    Wrapped with -Wl,--wrap: malloc (to count our allocations and to fail them on demand) and
    msgpack_unpack_next (to count the frames that reach msgpack-c and to fail it). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"

/* --- dependency doubles ------------------------------------------------------------------ */

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);
msgpack_unpack_return __real_msgpack_unpack_next(msgpack_unpacked *result, const char *data,
                                                 size_t len, size_t *off);
msgpack_unpack_return __wrap_msgpack_unpack_next(msgpack_unpacked *result, const char *data,
                                                 size_t len, size_t *off);

static int s_malloc_fail;     /* when set, our next malloc fails (and clears it) */
static size_t s_malloc_calls; /* calls of malloc from our code */
static int s_unpack_calls;
static int s_unpack_nomem; /* when set, msgpack_unpack_next reports out of memory */

void *
__wrap_malloc(size_t size)
{
    s_malloc_calls++;
    if (s_malloc_fail) {
        s_malloc_fail = 0;
        return NULL;
    }
    return __real_malloc(size);
}

msgpack_unpack_return
__wrap_msgpack_unpack_next(msgpack_unpacked *result, const char *data, size_t len, size_t *off)
{
    s_unpack_calls++;
    if (s_unpack_nomem)
        return MSGPACK_UNPACK_NOMEM_ERROR;
    return __real_msgpack_unpack_next(result, data, len, off);
}

/* --- fixtures ---------------------------------------------------------------------------- */

static char s_long[OB_CHANGE_VALUE_MAX + 16]; /* 'a' repeated, NUL-terminated */

/* Returns a NUL-terminated run of n 'a' bytes (n < sizeof s_long), valid until the next call. */
static const char *
s_run(size_t n)
{
    static char run[sizeof s_long];
    assert_true(n < sizeof run);
    memset(run, 'a', n);
    run[n] = '\0';
    return run;
}

static const ob_change_t s_changes[] = {
    {"status", "pending", "approved"},
    {"comment", NULL, "looks good"},
    {"assignee", "alice", NULL},
    {"note", NULL, NULL},
    {"empty", "", ""},
};

static const uint8_t s_data[] = "{\"id\":7,\"status\":\"approved\",\"\\u0000\":[1,2]}";

static ob_event_t
s_full(void)
{
    ob_event_t e = {
        .id = "01HF8Z3K6V2N6W0Q4S8T2Y5R7C",
        .topic = "oms.7.project_item",
        .type = "project_item.updated",
        .time_us = 1700000000123456ull,
        .source = "marketplace",
        .oms_id = 7,
        .project_id = 4242,
        .project_item_id = 3,
        .message_id = UINT64_MAX,
        .changes = s_changes,
        .changes_count = sizeof s_changes / sizeof s_changes[0],
        .data = s_data,
        .data_len = sizeof s_data, /* with its final NUL: data is bytes, not a string */
    };
    return e;
}

static ob_event_t
s_minimal(void)
{
    ob_event_t e = {.id = "e1", .topic = "t", .type = "x", .time_us = 0};
    return e;
}

/* Asserts that two strings are both NULL or equal. */
static void
s_assert_str(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Asserts that decoded carries everything of original (source NULL reads back as ""). */
static void
s_assert_same(const ob_event_t *original, const ob_event_t *decoded)
{
    s_assert_str(original->id, decoded->id);
    s_assert_str(original->topic, decoded->topic);
    s_assert_str(original->type, decoded->type);
    assert_true(original->time_us == decoded->time_us);
    assert_non_null(decoded->source);
    s_assert_str(original->source ? original->source : "", decoded->source);
    assert_true(original->oms_id == decoded->oms_id);
    assert_true(original->project_id == decoded->project_id);
    assert_true(original->project_item_id == decoded->project_item_id);
    assert_true(original->message_id == decoded->message_id);
    assert_int_equal(original->changes_count, decoded->changes_count);
    if (original->changes_count == 0)
        assert_null(decoded->changes);
    for (size_t i = 0; i < original->changes_count; i++) {
        s_assert_str(original->changes[i].field, decoded->changes[i].field);
        s_assert_str(original->changes[i].before, decoded->changes[i].before);
        s_assert_str(original->changes[i].after, decoded->changes[i].after);
    }
    assert_int_equal(original->data_len, decoded->data_len);
    if (original->data_len == 0)
        assert_null(decoded->data);
    else
        assert_memory_equal(original->data, decoded->data, original->data_len);
}

static size_t s_peeks; /* inputs on which peek was checked against decode */

/* Asserts that the view (ptr, len) lies inside buf (size bytes) and holds the C string s. */
static void
s_assert_view(const uint8_t *buf, size_t size, const char *ptr, size_t len, const char *s)
{
    const uint8_t *p = (const uint8_t *)ptr;
    assert_true(p >= buf && len <= size && (size_t)(p - buf) <= size - len);
    assert_int_equal(len, strlen(s));
    assert_memory_equal(ptr, s, len);
}

/* Peeks at buf (len bytes) and asserts what decode said of the same bytes: the same code
   decode_rc (unless decode ran out of memory, which peek cannot: it allocates nothing,
   which is checked too, as is that it never reaches msgpack-c), an untouched envelope on
   error, and on success the envelope of decoded (if not NULL), as views into buf. */
static void
s_assert_peek(const uint8_t *buf, size_t len, int decode_rc, const ob_event_t *decoded)
{
    ob_event_envelope_t env;
    ob_event_envelope_t untouched;
    memset(&env, 0xa5, sizeof env);
    memset(&untouched, 0xa5, sizeof untouched);
    size_t mallocs = s_malloc_calls;
    int unpacks = s_unpack_calls;
    int rc = ob_event_peek(buf, len, &env);
    assert_int_equal(s_malloc_calls, mallocs);
    assert_int_equal(s_unpack_calls, unpacks);
    s_peeks++;
    if (decode_rc == -ENOMEM)
        return;
    if (rc != decode_rc)
        fail_msg("peek gives %d (%s), decode %d (%s)", rc, ob_strerror(rc), decode_rc,
                 ob_strerror(decode_rc));
    if (rc) {
        assert_memory_equal(&env, &untouched, sizeof env);
        return;
    }
    if (!decoded)
        return;
    s_assert_view(buf, len, env.id, env.id_len, decoded->id);
    s_assert_view(buf, len, env.topic, env.topic_len, decoded->topic);
    s_assert_view(buf, len, env.type, env.type_len, decoded->type);
    assert_true(env.time_us == decoded->time_us);
}

/* Decodes a private copy of len bytes (so that ASan sees any over-read), and peeks at the
   same copy: peek must agree (s_assert_peek). */
static int
s_decode(const void *data, size_t len, ob_event_t **ret_event)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len)
        memcpy(copy, data, len);
    int rc = ob_event_decode(copy, len, ret_event);
    s_assert_peek(copy, len, rc, rc == 0 ? *ret_event : NULL);
    free(copy);
    return rc;
}

/* Encodes e, decodes it, checks the result, re-encodes it and checks the bytes match. Every
   proper prefix of the encoding must decode as OB_ERR_TRUNCATED. Returns the size. */
static size_t
s_round_trip(const ob_event_t *e)
{
    uint8_t *buf = NULL;
    uint8_t *again = NULL;
    size_t len = 0;
    size_t again_len = 0;
    ob_event_t *decoded = NULL;

    assert_int_equal(ob_event_encode(e, &buf, &len), 0);
    assert_non_null(buf);
    assert_int_equal(s_decode(buf, len, &decoded), 0);
    assert_non_null(decoded);
    s_assert_same(e, decoded);

    assert_int_equal(ob_event_encode(decoded, &again, &again_len), 0);
    assert_int_equal(again_len, len);
    assert_memory_equal(again, buf, len);

    for (size_t n = 0; n < len; n++) {
        ob_event_t *none = NULL;
        int rc = s_decode(buf, n, &none);
        if (rc != OB_ERR_TRUNCATED)
            fail_msg("prefix of %zu/%zu bytes gives %d (%s)", n, len, rc, ob_strerror(rc));
        assert_null(none);
    }

    ob_event_destroy(&decoded);
    assert_null(decoded);
    free(again);
    free(buf);
    return len;
}

/* --- round trips ------------------------------------------------------------------------- */

static void
test_round_trip_full(void **state)
{
    (void)state;
    ob_event_t e = s_full();
    s_round_trip(&e);
}

static void
test_round_trip_minimal(void **state)
{
    (void)state;
    ob_event_t e = s_minimal();
    /* The encoding is the spec: four keys in order, nothing else. */
    static const uint8_t golden[] = {0x84, 0xa2, 'i',  'd',  0xa2, 'e',  '1', 0xa5, 't', 'o',
                                     'p',  'i',  'c',  0xa1, 't',  0xa4, 't', 'y',  'p', 'e',
                                     0xa1, 'x',  0xa4, 't',  'i',  'm',  'e', 0x00};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    assert_int_equal(len, sizeof golden);
    assert_memory_equal(buf, golden, len);
    free(buf);
    assert_int_equal(s_round_trip(&e), sizeof golden);

    /* An empty source, empty changes and empty data are omitted like absent ones. */
    e.source = "";
    e.changes = s_changes;
    e.changes_count = 0;
    e.data = s_data;
    e.data_len = 0;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    assert_int_equal(len, sizeof golden);
    assert_memory_equal(buf, golden, len);
    free(buf);
}

static void
test_round_trip_at_limits(void **state)
{
    (void)state;
    static ob_change_t changes[OB_CHANGES_MAX];
    static char id[OB_EVENT_ID_MAX + 1], type[OB_EVENT_TYPE_MAX + 1], topic[OB_TOPIC_MAX + 1],
        source[OB_SOURCE_MAX + 1], field[OB_FIELD_NAME_MAX + 1];

    memset(id, 'i', OB_EVENT_ID_MAX);
    memset(type, 't', OB_EVENT_TYPE_MAX);
    memset(topic, 'p', OB_TOPIC_MAX);
    memset(source, 's', OB_SOURCE_MAX);
    memset(field, 'f', OB_FIELD_NAME_MAX);
    for (size_t i = 0; i < OB_CHANGES_MAX; i++) {
        changes[i].field = field;
        changes[i].before = i % 3 ? s_long + sizeof s_long - 1 - OB_CHANGE_VALUE_MAX : NULL;
        changes[i].after = i % 2 ? "x" : NULL;
    }
    ob_event_t e = {
        .id = id,
        .topic = topic,
        .type = type,
        .time_us = UINT64_MAX,
        .source = source,
        .oms_id = 1,
        .project_id = 1u << 31,
        .project_item_id = 65536,
        .message_id = 255,
        .changes = changes,
        .changes_count = OB_CHANGES_MAX,
        .data = s_data,
        .data_len = 3,
    };
    assert_int_equal(strlen(changes[1].before), OB_CHANGE_VALUE_MAX);
    /* Prefix decoding is quadratic; one event of this size (~180 KiB) is enough elsewhere. */
    uint8_t *buf = NULL;
    size_t len = 0;
    ob_event_t *decoded = NULL;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    assert_int_equal(s_decode(buf, len, &decoded), 0);
    s_assert_same(&e, decoded);
    ob_event_destroy(&decoded);
    for (size_t n = 0; n < len; n += 97)
        assert_int_equal(s_decode(buf, n, &decoded), OB_ERR_TRUNCATED);
    free(buf);

    /* A smaller event with every value form, fed one byte at a time. */
    e.changes_count = 4;
    changes[1].before = "b";
    changes[2].before = "";
    e.source = NULL;
    s_round_trip(&e);
}

static void
test_size_cap(void **state)
{
    (void)state;
    ob_event_t e = s_minimal();
    uint8_t *data = calloc(1, OB_EVENT_MAX_CAP + 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    ob_event_t *decoded = NULL;
    assert_non_null(data);

    /* Find the data size that makes the event exactly OB_EVENT_MAX_CAP bytes. */
    e.data = data;
    e.data_len = 70000;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    free(buf);
    e.data_len = 70000 + (OB_EVENT_MAX_CAP - len);
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    assert_int_equal(len, OB_EVENT_MAX_CAP);
    assert_int_equal(ob_event_decode(buf, len, &decoded), 0);
    assert_int_equal(decoded->data_len, e.data_len);
    s_assert_peek(buf, len, 0, decoded);
    ob_event_destroy(&decoded);
    free(buf);

    e.data_len++;
    buf = NULL;
    assert_int_equal(ob_event_encode(&e, &buf, &len), OB_ERR_TOO_LARGE);
    assert_null(buf);
    e.data_len = SIZE_MAX;
    assert_int_equal(ob_event_encode(&e, &buf, &len), OB_ERR_TOO_LARGE);

    /* Over the cap is refused before anything is parsed. */
    s_unpack_calls = 0;
    assert_int_equal(ob_event_decode(data, OB_EVENT_MAX_CAP + 1, &decoded), OB_ERR_TOO_LARGE);
    assert_int_equal(s_unpack_calls, 0);
    s_assert_peek(data, OB_EVENT_MAX_CAP + 1, OB_ERR_TOO_LARGE, NULL);
    assert_null(decoded);
    free(data);
}

/* --- malformed input --------------------------------------------------------------------- */

/* How a test map entry's value is packed. */
typedef enum { K_STR, K_STRN, K_UINT, K_NEG, K_NIL, K_BIN, K_BOOL, K_FLOAT, K_RAW } t_kind_t;

typedef struct t_kv {
    const char *key; /* NULL: the key is the integer 1 */
    t_kind_t kind;   /* how to pack the value */
    const char *s;   /* K_STR: C string; K_STRN, K_BIN, K_RAW: n bytes */
    uint64_t n;      /* K_UINT, K_NEG (negated), K_BOOL: the value; else a length */
} t_kv_t;

typedef struct t_case {
    const char *name; /* what is wrong */
    const t_kv_t *kvs;
    size_t n;
    int rc; /* expected ob_event_decode result */
} t_case_t;

#define T_KVS(...)                                                                                 \
    (const t_kv_t[]){__VA_ARGS__}, sizeof((const t_kv_t[]){__VA_ARGS__}) / sizeof(t_kv_t)
#define T_RAW(key, literal)                                                                        \
    {                                                                                              \
        (key), K_RAW, (literal), sizeof(literal) - 1                                               \
    }
#define T_STRN(key, literal)                                                                       \
    {                                                                                              \
        (key), K_STRN, (literal), sizeof(literal) - 1                                              \
    }
#define T_LONG(key, len)                                                                           \
    {                                                                                              \
        (key), K_STRN, s_long, (len)                                                               \
    }
#define ID                                                                                         \
    {                                                                                              \
        "id", K_STR, "e1", 0                                                                       \
    }
#define TOPIC                                                                                      \
    {                                                                                              \
        "topic", K_STR, "oms.7", 0                                                                 \
    }
#define TYPE                                                                                       \
    {                                                                                              \
        "type", K_STR, "item.created", 0                                                           \
    }
#define TIME                                                                                       \
    {                                                                                              \
        "time", K_UINT, NULL, 1700000000000000ull                                                  \
    }

/* Appends raw bytes to an sbuffer through the packer. */
static void
s_raw(msgpack_packer *pk, const char *bytes, size_t len)
{
    assert_int_equal(msgpack_sbuffer_write(pk->data, bytes, len), 0);
}

/* Packs a map of the n entries kvs into sbuf, without any validation. */
static void
s_pack_kvs(msgpack_sbuffer *sbuf, const t_kv_t *kvs, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        const t_kv_t *kv = &kvs[i];
        if (kv->key)
            ob_mp_pack_str(&pk, kv->key, strlen(kv->key));
        else
            msgpack_pack_uint64(&pk, 1);
        switch (kv->kind) {
        case K_STR:
            ob_mp_pack_str(&pk, kv->s, strlen(kv->s));
            break;
        case K_STRN:
            ob_mp_pack_str(&pk, kv->s, kv->n);
            break;
        case K_UINT:
            msgpack_pack_uint64(&pk, kv->n);
            break;
        case K_NEG:
            msgpack_pack_int64(&pk, -(int64_t)kv->n);
            break;
        case K_NIL:
            msgpack_pack_nil(&pk);
            break;
        case K_BIN:
            msgpack_pack_bin(&pk, kv->n);
            msgpack_pack_bin_body(&pk, kv->s, kv->n);
            break;
        case K_BOOL:
            kv->n ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
            break;
        case K_FLOAT:
            msgpack_pack_double(&pk, 1.5);
            break;
        case K_RAW:
            s_raw(&pk, kv->s, kv->n);
            break;
        }
    }
}

static const t_case_t s_map_cases[] = {
    {"minimal", T_KVS(ID, TOPIC, TYPE, TIME), 0},
    {"fields in another order", T_KVS(TIME, TYPE, TOPIC, ID), 0},
    {"missing id", T_KVS(TOPIC, TYPE, TIME), OB_ERR_MISSING_FIELD},
    {"missing topic", T_KVS(ID, TYPE, TIME), OB_ERR_MISSING_FIELD},
    {"missing type", T_KVS(ID, TOPIC, TIME), OB_ERR_MISSING_FIELD},
    {"missing time", T_KVS(ID, TOPIC, TYPE), OB_ERR_MISSING_FIELD},
    {"empty map", T_KVS({"x", K_NIL, NULL, 0}), OB_ERR_MISSING_FIELD},
    {"id is a uint", T_KVS({"id", K_UINT, NULL, 1}, TOPIC, TYPE, TIME), OB_ERR_FIELD_TYPE},
    {"id is bin", T_KVS({"id", K_BIN, "e1", 2}, TOPIC, TYPE, TIME), OB_ERR_FIELD_TYPE},
    {"topic is bin", T_KVS(ID, {"topic", K_BIN, "oms", 3}, TYPE, TIME), OB_ERR_FIELD_TYPE},
    {"type is nil", T_KVS(ID, TOPIC, {"type", K_NIL, NULL, 0}, TIME), OB_ERR_FIELD_TYPE},
    {"time is a str", T_KVS(ID, TOPIC, TYPE, {"time", K_STR, "1", 0}), OB_ERR_FIELD_TYPE},
    {"time is negative", T_KVS(ID, TOPIC, TYPE, {"time", K_NEG, NULL, 1}), OB_ERR_FIELD_TYPE},
    {"time is a float", T_KVS(ID, TOPIC, TYPE, {"time", K_FLOAT, NULL, 0}), OB_ERR_FIELD_TYPE},
    {"time is a bool", T_KVS(ID, TOPIC, TYPE, {"time", K_BOOL, NULL, 1}), OB_ERR_FIELD_TYPE},
    {"time as int 8", T_KVS(ID, TOPIC, TYPE, T_RAW("time", "\xd0\x05")), 0},
    {"source is nil", T_KVS(ID, TOPIC, TYPE, TIME, {"source", K_NIL, NULL, 0}), OB_ERR_FIELD_TYPE},
    {"source is a uint", T_KVS(ID, TOPIC, TYPE, TIME, {"source", K_UINT, NULL, 0}),
     OB_ERR_FIELD_TYPE},
    {"oms_id is a str", T_KVS(ID, TOPIC, TYPE, TIME, {"oms_id", K_STR, "7", 0}), OB_ERR_FIELD_TYPE},
    {"project_id is negative", T_KVS(ID, TOPIC, TYPE, TIME, {"project_id", K_NEG, NULL, 7}),
     OB_ERR_FIELD_TYPE},
    {"project_item_id is a float",
     T_KVS(ID, TOPIC, TYPE, TIME, {"project_item_id", K_FLOAT, NULL, 0}), OB_ERR_FIELD_TYPE},
    {"message_id is nil", T_KVS(ID, TOPIC, TYPE, TIME, {"message_id", K_NIL, NULL, 0}),
     OB_ERR_FIELD_TYPE},
    {"ids present as 0",
     T_KVS(ID, TOPIC, TYPE, TIME, {"oms_id", K_UINT, NULL, 0}, {"project_id", K_UINT, NULL, 0},
           {"project_item_id", K_UINT, NULL, 0}, {"message_id", K_UINT, NULL, 0}),
     0},
    {"data is a str", T_KVS(ID, TOPIC, TYPE, TIME, {"data", K_STR, "{}", 0}), OB_ERR_FIELD_TYPE},
    {"data is a uint", T_KVS(ID, TOPIC, TYPE, TIME, {"data", K_UINT, NULL, 0}), OB_ERR_FIELD_TYPE},
    {"data is empty bin", T_KVS(ID, TOPIC, TYPE, TIME, {"data", K_BIN, "", 0}), 0},
    {"changes is a map", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("changes", "\x80")), OB_ERR_FIELD_TYPE},
    {"changes is empty", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("changes", "\x90")), 0},
    {"change is nil", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("changes", "\x91\xc0")),
     OB_ERR_FIELD_TYPE},
    {"change without field",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa6"
                            "before\xc0")),
     OB_ERR_MISSING_FIELD},
    {"change with field only",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa5"
                            "field\xa1"
                            "f")),
     0},
    {"change field is a uint",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa5"
                            "field\x01")),
     OB_ERR_FIELD_TYPE},
    {"change before is a uint",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa6"
                            "before\x01")),
     OB_ERR_FIELD_TYPE},
    {"change after is bin",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa5"
                            "after\xc4\x00")),
     OB_ERR_FIELD_TYPE},
    {"change with duplicate key",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa5"
                            "field\xa1"
                            "g")),
     OB_ERR_MALFORMED},
    {"change with a uint key", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("changes", "\x91\x81\x01\x01")),
     OB_ERR_MALFORMED},
    {"change field empty",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa5"
                            "field\xa0")),
     OB_ERR_INVALID_EVENT},
    {"change field with NUL",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa5"
                            "field\xa2"
                            "a\x00")),
     OB_ERR_INVALID_EVENT},
    {"change value with NUL",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa5"
                            "after\xa1\x00")),
     OB_ERR_INVALID_EVENT},
    {"change with unknown keys",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa1"
                            "z\x92\x01\x02")),
     0},
    {"duplicate id", T_KVS(ID, TOPIC, TYPE, TIME, ID), OB_ERR_MALFORMED},
    {"duplicate time, other value", T_KVS(ID, TOPIC, TYPE, TIME, {"time", K_UINT, NULL, 2}),
     OB_ERR_MALFORMED},
    {"duplicate unknown key",
     T_KVS(ID, {"x", K_NIL, NULL, 0}, TOPIC, TYPE, TIME, {"x", K_NIL, NULL, 0}), OB_ERR_MALFORMED},
    {"a uint key", T_KVS(ID, TOPIC, TYPE, TIME, {NULL, K_NIL, NULL, 0}), OB_ERR_MALFORMED},
    {"empty first key", T_KVS({"", K_NIL, NULL, 0}, ID, TOPIC, TYPE, TIME), 0},
    {"empty first key twice",
     T_KVS({"", K_NIL, NULL, 0}, {"", K_UINT, NULL, 1}, ID, TOPIC, TYPE, TIME), OB_ERR_MALFORMED},
    {"unknown keys",
     T_KVS(ID, {"zz", K_FLOAT, NULL, 0}, TOPIC, TYPE, TIME,
           T_RAW("future", "\x81\xa1k\x93\x01\xc0\x90")),
     0},
    {"id empty", T_KVS(T_STRN("id", ""), TOPIC, TYPE, TIME), OB_ERR_INVALID_EVENT},
    {"id at its cap", T_KVS(T_LONG("id", OB_EVENT_ID_MAX), TOPIC, TYPE, TIME), 0},
    {"id over its cap", T_KVS(T_LONG("id", OB_EVENT_ID_MAX + 1), TOPIC, TYPE, TIME),
     OB_ERR_INVALID_EVENT},
    {"id with NUL", T_KVS(T_STRN("id", "a\0b"), TOPIC, TYPE, TIME), OB_ERR_INVALID_EVENT},
    {"topic invalid", T_KVS(ID, {"topic", K_STR, "Oms.7", 0}, TYPE, TIME), OB_ERR_INVALID_TOPIC},
    {"topic empty", T_KVS(ID, {"topic", K_STR, "", 0}, TYPE, TIME), OB_ERR_INVALID_TOPIC},
    {"topic with NUL", T_KVS(ID, T_STRN("topic", "oms\0"), TYPE, TIME), OB_ERR_INVALID_TOPIC},
    {"topic is a pattern", T_KVS(ID, {"topic", K_STR, "oms.*", 0}, TYPE, TIME),
     OB_ERR_INVALID_TOPIC},
    {"type empty", T_KVS(ID, TOPIC, {"type", K_STR, "", 0}, TIME), OB_ERR_INVALID_EVENT},
    {"type upper case", T_KVS(ID, TOPIC, {"type", K_STR, "Item.created", 0}, TIME),
     OB_ERR_INVALID_EVENT},
    {"type with a space", T_KVS(ID, TOPIC, {"type", K_STR, "item created", 0}, TIME),
     OB_ERR_INVALID_EVENT},
    {"type with every allowed char", T_KVS(ID, TOPIC, {"type", K_STR, "a-z_0.9..x-", 0}, TIME), 0},
    {"type at its cap", T_KVS(ID, TOPIC, T_LONG("type", OB_EVENT_TYPE_MAX), TIME), 0},
    {"type over its cap", T_KVS(ID, TOPIC, T_LONG("type", OB_EVENT_TYPE_MAX + 1), TIME),
     OB_ERR_INVALID_EVENT},
    {"source empty", T_KVS(ID, TOPIC, TYPE, TIME, {"source", K_STR, "", 0}), 0},
    {"source at its cap", T_KVS(ID, TOPIC, TYPE, TIME, T_LONG("source", OB_SOURCE_MAX)), 0},
    {"source over its cap", T_KVS(ID, TOPIC, TYPE, TIME, T_LONG("source", OB_SOURCE_MAX + 1)),
     OB_ERR_INVALID_EVENT},
    {"source with NUL", T_KVS(ID, TOPIC, TYPE, TIME, T_STRN("source", "a\0")),
     OB_ERR_INVALID_EVENT},
    {"nesting over the cap in an unknown key",
     T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("deep", "\x91\x91\x91\x91\x91\x91\x91\x90")),
     OB_ERR_TOO_LARGE},
    {"nesting at the cap in an unknown key",
     T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("deep", "\x91\x91\x91\x91\x91\x91\x90")), 0},
    {"huge array in an unknown key",
     T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("big", "\xdd\xff\xff\xff\xff")), OB_ERR_TOO_LARGE},
    {"ext in an unknown key", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("x", "\xd4\x01\x00")),
     OB_ERR_MALFORMED},
    {"0xc1 as a value", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("x", "\xc1")), OB_ERR_MALFORMED},
    /* Which error comes first when there are several (ob_event_peek must agree): the keys,
       then the required fields' presence, then the types field by field in table order
       (changes before data), and only then the rules, field by field. */
    {"missing time, id is a uint", T_KVS({"id", K_UINT, NULL, 1}, TOPIC, TYPE),
     OB_ERR_MISSING_FIELD},
    {"id is a uint, then a duplicate unknown key",
     T_KVS({"id", K_UINT, NULL, 1}, TOPIC, TYPE, TIME, {"x", K_NIL, NULL, 0},
           {"x", K_NIL, NULL, 0}),
     OB_ERR_MALFORMED},
    {"missing id, then a uint key", T_KVS(TOPIC, TYPE, TIME, {NULL, K_NIL, NULL, 0}),
     OB_ERR_MALFORMED},
    {"id over its cap, time is a str",
     T_KVS(T_LONG("id", OB_EVENT_ID_MAX + 1), TOPIC, TYPE, {"time", K_STR, "1", 0}),
     OB_ERR_FIELD_TYPE},
    {"topic invalid, id over its cap",
     T_KVS(T_LONG("id", OB_EVENT_ID_MAX + 1), {"topic", K_STR, "Oms", 0}, TYPE, TIME),
     OB_ERR_INVALID_EVENT},
    {"topic invalid, type invalid",
     T_KVS(ID, {"topic", K_STR, "Oms", 0}, {"type", K_STR, "Item", 0}, TIME), OB_ERR_INVALID_TOPIC},
    {"change field empty, data is a str",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x81\xa5"
                            "field\xa0"),
           {"data", K_STR, "{}", 0}),
     OB_ERR_FIELD_TYPE},
    {"change without field, data is a str",
     T_KVS(ID, TOPIC, TYPE, TIME, {"data", K_STR, "{}", 0},
           T_RAW("changes", "\x91\x81\xa6"
                            "before\xc0")),
     OB_ERR_MISSING_FIELD},
    {"second change is nil, first has a duplicate key",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x92\x82\xa5"
                            "field\xa1"
                            "f\xa5"
                            "field\xa1"
                            "g\xc0")),
     OB_ERR_MALFORMED},
    {"change with a duplicate key, source is nil",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x82\xa5"
                            "field\xa1"
                            "f\xa5"
                            "field\xa1"
                            "g"),
           {"source", K_NIL, NULL, 0}),
     OB_ERR_FIELD_TYPE},
    {"source over its cap, change field empty",
     T_KVS(ID, TOPIC, TYPE, TIME, T_LONG("source", OB_SOURCE_MAX + 1),
           T_RAW("changes", "\x91\x81\xa5"
                            "field\xa0")),
     OB_ERR_INVALID_EVENT},
    /* Other encodings of valid values. */
    {"time as uint 64 max",
     T_KVS(ID, TOPIC, TYPE, T_RAW("time", "\xcf\xff\xff\xff\xff\xff\xff\xff\xff")), 0},
    {"time as int 64",
     T_KVS(ID, TOPIC, TYPE, T_RAW("time", "\xd3\x00\x00\x00\x00\x00\x00\x00\x07")), 0},
    {"time as negative int 64",
     T_KVS(ID, TOPIC, TYPE, T_RAW("time", "\xd3\xff\xff\xff\xff\xff\xff\xff\xff")),
     OB_ERR_FIELD_TYPE},
    {"time as negative fixint", T_KVS(ID, TOPIC, TYPE, T_RAW("time", "\xff")), OB_ERR_FIELD_TYPE},
    {"id as str 8 and topic as str 16",
     T_KVS(T_RAW("id", "\xd9\x02"
                       "e1"),
           T_RAW("topic", "\xda\x00\x01"
                          "t"),
           TYPE, TIME),
     0},
    {"explicit nil before and after",
     T_KVS(ID, TOPIC, TYPE, TIME,
           T_RAW("changes", "\x91\x83\xa5"
                            "after\xc0\xa6"
                            "before\xc0\xa5"
                            "field\xa1"
                            "f")),
     0},
    {"data as bin 16", T_KVS(ID, TOPIC, TYPE, TIME, T_RAW("data", "\xc5\x00\x01x")), 0},
};

static void
test_malformed_maps(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_map_cases / sizeof s_map_cases[0]; i++) {
        const t_case_t *c = &s_map_cases[i];
        msgpack_sbuffer sbuf;
        ob_event_t *event = NULL;
        msgpack_sbuffer_init(&sbuf);
        s_pack_kvs(&sbuf, c->kvs, c->n);
        int rc = s_decode(sbuf.data, sbuf.size, &event);
        if (rc != c->rc)
            fail_msg("%s: got %d (%s), expected %d (%s)", c->name, rc, ob_strerror(rc), c->rc,
                     ob_strerror(c->rc));
        if (rc == 0) {
            /* What decodes re-encodes (and the ids present as 0 read as absent). */
            uint8_t *buf = NULL;
            size_t len = 0;
            assert_non_null(event);
            assert_int_equal(ob_event_encode(event, &buf, &len), 0);
            free(buf);
            assert_int_equal(event->oms_id, 0);
        }
        assert_true(rc == 0 || event == NULL);
        ob_event_destroy(&event);
        msgpack_sbuffer_destroy(&sbuf);
    }
}

typedef struct t_frame {
    const char *name;    /* what is wrong */
    const char *data;    /* the frame */
    size_t len;          /* its size */
    int rc;              /* expected ob_event_decode result */
    int reaches_msgpack; /* 1 if msgpack_unpack_next may be called */
} t_frame_t;

#define T_FRAME(literal) (literal), sizeof(literal) - 1

static const t_frame_t s_frames[] = {
    {"reserved byte", T_FRAME("\xc1"), OB_ERR_MALFORMED, 0},
    {"root is an array", T_FRAME("\x91\x01"), OB_ERR_MALFORMED, 0},
    {"root is a str", T_FRAME("\xa1x"), OB_ERR_MALFORMED, 0},
    {"root is an int", T_FRAME("\x01"), OB_ERR_MALFORMED, 0},
    {"root is nil", T_FRAME("\xc0"), OB_ERR_MALFORMED, 0},
    {"huge array frame", T_FRAME("\xdd\xff\xff\xff\xff\x00\x00\x00\x00"), OB_ERR_TOO_LARGE, 0},
    {"huge array frame, 5 bytes", T_FRAME("\xdd\xff\xff\xff\xff"), OB_ERR_TOO_LARGE, 0},
    {"huge map frame", T_FRAME("\xdf\xff\xff\xff\xff"), OB_ERR_TOO_LARGE, 0},
    {"huge bin in a map", T_FRAME("\x81\xa1x\xc6\xff\xff\xff\xff"), OB_ERR_TOO_LARGE, 0},
    {"map count over the cap", T_FRAME("\xde\x00\x41"), OB_ERR_TOO_LARGE, 0},
    {"map count over the bytes", T_FRAME("\x8f\xc0\xc0"), OB_ERR_TRUNCATED, 0},
    {"str length beyond the buffer", T_FRAME("\x84\xa2id\xdb\x00\x00\xff\xff"), OB_ERR_TRUNCATED,
     0},
    {"ext value", T_FRAME("\x81\xa1x\xd4\x01\x00"), OB_ERR_MALFORMED, 0},
    {"nesting deeper than the cap", T_FRAME("\x81\xa1k\x91\x91\x91\x91\x91\x91\x91\x91\xc0"),
     OB_ERR_TOO_LARGE, 0},
    {"trailing byte", T_FRAME("\x80\x00"), OB_ERR_MALFORMED, 0},
    {"trailing map", T_FRAME("\x80\x80"), OB_ERR_MALFORMED, 0},
    {"empty map", T_FRAME("\x80"), OB_ERR_MISSING_FIELD, 1},
};

static void
test_malformed_frames(void **state)
{
    (void)state;
    ob_event_t *event = NULL;
    assert_int_equal(ob_event_decode(NULL, 0, &event), OB_ERR_TRUNCATED);
    s_assert_peek(NULL, 0, OB_ERR_TRUNCATED, NULL);
    for (size_t i = 0; i < sizeof s_frames / sizeof s_frames[0]; i++) {
        const t_frame_t *f = &s_frames[i];
        s_unpack_calls = 0;
        int rc = s_decode(f->data, f->len, &event);
        if (rc != f->rc)
            fail_msg("%s: got %d (%s), expected %d (%s)", f->name, rc, ob_strerror(rc), f->rc,
                     ob_strerror(f->rc));
        if (!f->reaches_msgpack && s_unpack_calls)
            fail_msg("%s: reached msgpack-c", f->name);
        assert_null(event);
    }

    /* A valid event with any byte appended is refused whole. */
    ob_event_t e = s_full();
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    for (int b = 0; b < 256; b += 51) {
        longer[len] = (uint8_t)b;
        assert_int_equal(ob_event_decode(longer, len + 1, &event), OB_ERR_MALFORMED);
        s_assert_peek(longer, len + 1, OB_ERR_MALFORMED, NULL);
    }
    free(longer);
    free(buf);
}

static void
test_too_many_changes(void **state)
{
    (void)state;
    /* 65 changes {"field": "f"} */
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    ob_event_t *event = NULL;
    const t_kv_t head[] = {ID, TOPIC, TYPE, TIME};

    for (size_t count = OB_CHANGES_MAX; count <= OB_CHANGES_MAX + 1; count++) {
        msgpack_sbuffer_init(&sbuf);
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 5);
        /* the first four entries, without the map header s_pack_kvs would write */
        msgpack_sbuffer tmp;
        msgpack_sbuffer_init(&tmp);
        s_pack_kvs(&tmp, head, 4);
        s_raw(&pk, tmp.data + 1, tmp.size - 1);
        msgpack_sbuffer_destroy(&tmp);
        ob_mp_pack_str(&pk, "changes", 7);
        msgpack_pack_array(&pk, count);
        for (size_t i = 0; i < count; i++) {
            msgpack_pack_map(&pk, 1);
            ob_mp_pack_str(&pk, "field", 5);
            ob_mp_pack_str(&pk, "f", 1);
        }
        int rc = s_decode(sbuf.data, sbuf.size, &event);
        assert_int_equal(rc, count > OB_CHANGES_MAX ? OB_ERR_INVALID_EVENT : 0);
        if (rc == 0)
            assert_int_equal(event->changes_count, OB_CHANGES_MAX);
        ob_event_destroy(&event);
        msgpack_sbuffer_destroy(&sbuf);
    }
}

/* --- encode refuses what decode refuses -------------------------------------------------- */

/* Packs e as the encoder would, but without any check, so that decode can be asked too. */
static void
s_pack_unchecked(msgpack_sbuffer *sbuf, const ob_event_t *e)
{
    msgpack_packer pk;
    const uint64_t ids[] = {e->oms_id, e->project_id, e->project_item_id, e->message_id};
    const char *id_keys[] = {"oms_id", "project_id", "project_item_id", "message_id"};
    size_t pairs = 4 + (e->source && *e->source) + (e->changes_count > 0) + (e->data_len > 0);
    for (int i = 0; i < 4; i++)
        pairs += ids[i] != 0;

    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, pairs);
    ob_mp_pack_str(&pk, "id", 2);
    ob_mp_pack_str(&pk, e->id, strlen(e->id));
    ob_mp_pack_str(&pk, "topic", 5);
    ob_mp_pack_str(&pk, e->topic, strlen(e->topic));
    ob_mp_pack_str(&pk, "type", 4);
    ob_mp_pack_str(&pk, e->type, strlen(e->type));
    ob_mp_pack_str(&pk, "time", 4);
    msgpack_pack_uint64(&pk, e->time_us);
    if (e->source && *e->source) {
        ob_mp_pack_str(&pk, "source", 6);
        ob_mp_pack_str(&pk, e->source, strlen(e->source));
    }
    for (int i = 0; i < 4; i++) {
        if (ids[i]) {
            ob_mp_pack_str(&pk, id_keys[i], strlen(id_keys[i]));
            msgpack_pack_uint64(&pk, ids[i]);
        }
    }
    if (e->changes_count) {
        ob_mp_pack_str(&pk, "changes", 7);
        msgpack_pack_array(&pk, e->changes_count);
        for (size_t i = 0; i < e->changes_count; i++) {
            const char *values[] = {e->changes[i].field, e->changes[i].before, e->changes[i].after};
            const char *keys[] = {"field", "before", "after"};
            msgpack_pack_map(&pk, 3);
            for (int k = 0; k < 3; k++) {
                ob_mp_pack_str(&pk, keys[k], strlen(keys[k]));
                if (values[k])
                    ob_mp_pack_str(&pk, values[k], strlen(values[k]));
                else
                    msgpack_pack_nil(&pk);
            }
        }
    }
    if (e->data_len) {
        ob_mp_pack_str(&pk, "data", 4);
        msgpack_pack_bin(&pk, e->data_len);
        msgpack_pack_bin_body(&pk, e->data, e->data_len);
    }
}

/* Asserts that encoding e fails with rc and, if on_wire (e can be packed at all), that its
   unchecked packing fails to decode with the same rc. */
static void
s_expect_refused(const char *name, const ob_event_t *e, int rc, int on_wire)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int got = ob_event_encode(e, &buf, &len);
    if (got != rc)
        fail_msg("encode %s: got %d (%s), expected %d (%s)", name, got, ob_strerror(got), rc,
                 ob_strerror(rc));
    assert_null(buf);
    if (!on_wire)
        return;

    msgpack_sbuffer sbuf;
    ob_event_t *event = NULL;
    msgpack_sbuffer_init(&sbuf);
    s_pack_unchecked(&sbuf, e);
    got = s_decode(sbuf.data, sbuf.size, &event);
    if (got != rc)
        fail_msg("decode %s: got %d (%s), expected %d (%s)", name, got, ob_strerror(got), rc,
                 ob_strerror(rc));
    assert_null(event);
    msgpack_sbuffer_destroy(&sbuf);
}

static void
test_encode_refuses_invalid(void **state)
{
    (void)state;
    ob_change_t changes[OB_CHANGES_MAX + 1];
    ob_event_t e;

    /* First check that the unchecked packer agrees with the encoder on a valid event. */
    {
        msgpack_sbuffer sbuf;
        uint8_t *buf = NULL;
        size_t len = 0;
        e = s_full();
        msgpack_sbuffer_init(&sbuf);
        s_pack_unchecked(&sbuf, &e);
        assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
        assert_int_equal(len, sbuf.size);
        assert_memory_equal(buf, sbuf.data, len);
        free(buf);
        msgpack_sbuffer_destroy(&sbuf);
    }

#define T_REFUSED(what, rc, on_wire)                                                               \
    do {                                                                                           \
        e = s_full();                                                                              \
        what;                                                                                      \
        s_expect_refused(#what, &e, rc, on_wire);                                                  \
    } while (0)

    T_REFUSED(e.id = NULL, OB_ERR_INVALID_EVENT, 0);
    T_REFUSED(e.id = "", OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.id = s_run(OB_EVENT_ID_MAX + 1), OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.id = s_long, OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.topic = NULL, OB_ERR_INVALID_TOPIC, 0);
    T_REFUSED(e.topic = "", OB_ERR_INVALID_TOPIC, 1);
    T_REFUSED(e.topic = "oms..7", OB_ERR_INVALID_TOPIC, 1);
    T_REFUSED(e.topic = "oms.>", OB_ERR_INVALID_TOPIC, 1);
    T_REFUSED(e.topic = s_run(OB_TOPIC_MAX + 1), OB_ERR_INVALID_TOPIC, 1);
    T_REFUSED(e.type = NULL, OB_ERR_INVALID_EVENT, 0);
    T_REFUSED(e.type = "", OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.type = "Created", OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.type = "item/created", OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.type = s_run(OB_EVENT_TYPE_MAX + 1), OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.source = s_run(OB_SOURCE_MAX + 1), OB_ERR_INVALID_EVENT, 1);
    T_REFUSED(e.changes = NULL, OB_ERR_INVALID_EVENT, 0);

    for (size_t i = 0; i <= OB_CHANGES_MAX; i++)
        changes[i] = s_changes[i % 5];
    T_REFUSED((e.changes = changes, e.changes_count = OB_CHANGES_MAX + 1), OB_ERR_INVALID_EVENT, 1);
    T_REFUSED((e.changes = changes, e.changes_count = SIZE_MAX), OB_ERR_INVALID_EVENT, 0);
    changes[0].field = NULL;
    T_REFUSED((e.changes = changes, e.changes_count = 1), OB_ERR_INVALID_EVENT, 0);
    changes[0].field = "";
    T_REFUSED((e.changes = changes, e.changes_count = 1), OB_ERR_INVALID_EVENT, 1);
    changes[0].field = s_run(OB_FIELD_NAME_MAX + 1);
    T_REFUSED((e.changes = changes, e.changes_count = 1), OB_ERR_INVALID_EVENT, 1);
    changes[0].field = "f";
    changes[0].before = s_run(OB_CHANGE_VALUE_MAX + 1);
    T_REFUSED((e.changes = changes, e.changes_count = 1), OB_ERR_INVALID_EVENT, 1);
    changes[0].before = NULL;
    changes[0].after = s_run(OB_CHANGE_VALUE_MAX + 1);
    T_REFUSED((e.changes = changes, e.changes_count = 1), OB_ERR_INVALID_EVENT, 1);
    T_REFUSED((e.data = NULL, e.data_len = 1), OB_ERR_INVALID_EVENT, 0);
#undef T_REFUSED

    /* The limits themselves are accepted. */
    e = s_full();
    char id[OB_EVENT_ID_MAX + 1];
    memcpy(id, s_run(OB_EVENT_ID_MAX), sizeof id);
    e.id = id;
    e.source = s_run(OB_SOURCE_MAX);
    s_round_trip(&e);
}

/* --- peek ------------------------------------------------------------------------------- */

static void
test_peek(void **state)
{
    (void)state;
    ob_event_t e = s_full();
    ob_event_envelope_t env;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);

    /* No allocation and no msgpack-c, even when an allocation would fail. */
    size_t mallocs = s_malloc_calls;
    s_unpack_calls = 0;
    s_malloc_fail = 1;
    memset(&env, 0, sizeof env);
    assert_int_equal(ob_event_peek(buf, len, &env), 0);
    assert_int_equal(s_malloc_calls, mallocs);
    assert_int_equal(s_malloc_fail, 1); /* not consumed: malloc was not called */
    assert_int_equal(s_unpack_calls, 0);
    s_malloc_fail = 0;

    /* Views into buf, not NUL-terminated: the id is followed by the next key's header. */
    s_assert_view(buf, len, env.id, env.id_len, e.id);
    s_assert_view(buf, len, env.topic, env.topic_len, e.topic);
    s_assert_view(buf, len, env.type, env.type_len, e.type);
    assert_true(env.time_us == e.time_us);
    assert_int_equal((uint8_t)env.id[env.id_len], 0xa5); /* fixstr "topic" */

    /* The envelope is written only on success. */
    memset(&env, 0x5a, sizeof env);
    ob_event_envelope_t untouched = env;
    assert_int_equal(ob_event_peek(buf, len - 1, &env), OB_ERR_TRUNCATED);
    assert_int_equal(ob_event_peek(buf + 1, len - 1, &env), OB_ERR_MALFORMED);
    assert_int_equal(ob_event_peek(NULL, 0, &env), OB_ERR_TRUNCATED);
    assert_memory_equal(&env, &untouched, sizeof env);

    /* Where decode runs out of memory, peek still validates. */
    ob_event_t *event = NULL;
    s_malloc_fail = 1;
    assert_int_equal(ob_event_decode(buf, len, &event), -ENOMEM);
    assert_int_equal(ob_event_peek(buf, len, &env), 0);
    s_unpack_nomem = 1;
    assert_int_equal(ob_event_decode(buf, len, &event), -ENOMEM);
    assert_int_equal(ob_event_peek(buf, len, &env), 0);
    s_unpack_nomem = 0;
    assert_null(event);
    free(buf);
}

/* --- topics, destroy, out of memory ------------------------------------------------------ */

static void
test_topic_valid(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int valid;
    } topics[] = {
        {"", 0},
        {".", 0},
        {"a..b", 0},
        {"A", 0},
        {"a.*", 0},
        {"a.>", 0},
        {"*", 0},
        {">", 0},
        {".a", 0},
        {"a.", 0},
        {"a b", 0},
        {"a/b", 0},
        {"oms.\xc3\xa9", 0},
        {"oms.7", 1},
        {"dlq.sub-1_x", 1},
        {"a", 1},
        {"0", 1},
        {"-", 1},
        {"_._", 1},
        {"a.b.c.d.e", 1},
        {"oms.7.x", 1},
        {"Oms.7", 0},
        {"oms.7\n", 0},
        {"oms..", 0},
        {"a.b.", 0},
    };
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        if (ob_topic_valid(topics[i].name, strlen(topics[i].name)) != topics[i].valid)
            fail_msg("topic \"%s\": expected %d", topics[i].name, topics[i].valid);

    assert_int_equal(ob_topic_valid(s_run(OB_TOPIC_MAX), OB_TOPIC_MAX), 1);
    assert_int_equal(ob_topic_valid(s_run(OB_TOPIC_MAX + 1), OB_TOPIC_MAX + 1), 0);
    assert_int_equal(ob_topic_valid(s_run(256), 256), 0);
    assert_int_equal(ob_topic_valid("a\0b", 3), 0);
    assert_int_equal(ob_topic_valid(NULL, 0), 0);
    assert_int_equal(ob_topic_valid(NULL, 5), 0);
    /* len bytes are the name: no terminator needed, and what follows is not looked at */
    assert_int_equal(ob_topic_valid("oms.7*>", 5), 1);
    assert_int_equal(ob_topic_valid("oms.", 3), 1);
}

static void
test_destroy(void **state)
{
    (void)state;
    ob_event_t *event = NULL;
    ob_event_destroy(NULL);
    ob_event_destroy(&event);
    assert_null(event);
}

static void
test_out_of_memory(void **state)
{
    (void)state;
    ob_event_t e = s_full();
    ob_event_t *event = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    s_malloc_fail = 1;
    assert_int_equal(ob_event_encode(&e, &buf, &len), -ENOMEM);
    assert_null(buf);

    assert_int_equal(ob_event_encode(&e, &buf, &len), 0);
    s_malloc_fail = 1;
    assert_int_equal(ob_event_decode(buf, len, &event), -ENOMEM);
    assert_null(event);

    s_unpack_nomem = 1;
    assert_int_equal(ob_event_decode(buf, len, &event), -ENOMEM);
    assert_null(event);
    s_unpack_nomem = 0;

    assert_int_equal(ob_event_decode(buf, len, &event), 0);
    ob_event_destroy(&event);
    free(buf);
}

int
main(void)
{
    memset(s_long, 'a', sizeof s_long - 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_full),      cmocka_unit_test(test_round_trip_minimal),
        cmocka_unit_test(test_round_trip_at_limits), cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_malformed_maps),       cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_too_many_changes),     cmocka_unit_test(test_encode_refuses_invalid),
        cmocka_unit_test(test_topic_valid),          cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_out_of_memory),        cmocka_unit_test(test_peek),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("ob_event_peek agreed with ob_event_decode on %zu inputs\n", s_peeks);
    return failed;
}
