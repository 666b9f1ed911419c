/*  test_sub_record: the codecs of the broker's stored records, the subscription record
    (broker/sub_record.h) and the position record (broker/pos_record.h). Round trips; the
    exact bytes of each version (version 1 as a 0.5 broker wrote them, taken from the store
    in tests/data/store-0.5, and version 2 as written now); every refusal with its code; and
    every cut of a valid record, which must be refused, never read past or misread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "orderbus/error.h"
#include "pos_record.h"
#include "sub_record.h"

#define T_HEX_MAX 1024 /* bytes a hex constant of this file decodes to, at most */

/* ---- helpers ---- */

/* Decodes the hex digits of hex (spaces ignored) into buf; returns the bytes written. */
static size_t
s_hex(const char *hex, uint8_t *buf, size_t cap)
{
    size_t len = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned byte = 0;
        assert_int_equal(sscanf(p, "%2x", &byte), 1);
        assert_true(len < cap);
        buf[len++] = (uint8_t)byte;
        p += 2;
    }
    return len;
}

/* Returns the first place of the n bytes at what in the len bytes at buf, or NULL. */
static uint8_t *
s_find(uint8_t *buf, size_t len, const char *what, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(buf + i, what, n))
            return buf + i;
    return NULL;
}

/* A valid record: the settings of "billing" in tests/data/store-0.5. */
static void
s_billing(ob_sub_record_t *r)
{
    memset(r, 0, sizeof *r);
    r->pattern_count = 1;
    snprintf(r->patterns[0], sizeof r->patterns[0], "oms.*");
    r->credit = 100;
    r->ack_wait_ms = 600000;
    r->max_attempts = 7;
    r->backoff_ms = 250;
}

/* A valid record with an owner and types: "audit" of tests/data/store-0.5, owned. */
static void
s_audit(ob_sub_record_t *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->owner, sizeof r->owner, "alice");
    r->pattern_count = 2;
    snprintf(r->patterns[0], sizeof r->patterns[0], "oms.>");
    snprintf(r->patterns[1], sizeof r->patterns[1], "mp.*");
    r->type_count = 1;
    snprintf(r->types[0], sizeof r->types[0], "order.created");
    r->credit = 50;
    r->ack_wait_ms = 300000;
    r->max_attempts = 0;
    r->backoff_ms = 2000;
}

static void
s_assert_same(const ob_sub_record_t *a, const ob_sub_record_t *b)
{
    assert_string_equal(a->owner, b->owner);
    assert_int_equal(a->pattern_count, b->pattern_count);
    for (size_t i = 0; i < a->pattern_count; i++)
        assert_string_equal(a->patterns[i], b->patterns[i]);
    assert_int_equal(a->type_count, b->type_count);
    for (size_t i = 0; i < a->type_count; i++)
        assert_string_equal(a->types[i], b->types[i]);
    assert_int_equal(a->credit, b->credit);
    assert_int_equal(a->ack_wait_ms, b->ack_wait_ms);
    assert_int_equal(a->max_attempts, b->max_attempts);
    assert_int_equal(a->backoff_ms, b->backoff_ms);
}

/* Every cut of the len bytes at buf (0..len-1 bytes) is refused: with want if not 0. The
   cut is copied into a buffer of its own size, so that ASan sees any read past it. */
static void
s_assert_cuts(const uint8_t *buf, size_t len, int (*decode)(const uint8_t *, size_t), int want)
{
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, buf, n);
        int rc = decode(cut, n);
        if (want ? rc != want : rc == 0)
            fail_msg("a cut of %zu of %zu bytes: %s", n, len, ob_strerror(rc));
        free(cut);
    }
}

static int
s_decode_sub(const uint8_t *buf, size_t len)
{
    ob_sub_record_t *r = malloc(sizeof *r);
    assert_non_null(r);
    int rc = ob_sub_record_decode(buf, len, r);
    free(r);
    return rc;
}

static int
s_decode_pos(const uint8_t *buf, size_t len)
{
    ob_pos_record_t r;
    return ob_pos_record_decode(buf, len, &r);
}

/* Bytes given in hex and what decoding them must return. */
typedef struct t_hex_case {
    const char *hex;
    int rc;
} t_hex_case_t;

/* Decodes each case with decode and checks its result. */
static void
s_run_cases(const t_hex_case_t *cases, size_t count, int (*decode)(const uint8_t *, size_t))
{
    uint8_t buf[T_HEX_MAX];
    for (size_t i = 0; i < count; i++) {
        size_t len = s_hex(cases[i].hex, buf, sizeof buf);
        int rc = decode(buf, len);
        if (rc != cases[i].rc)
            fail_msg("%s: %s, not %s", cases[i].hex, ob_strerror(rc), ob_strerror(cases[i].rc));
    }
}

/* ---- subscription records: golden bytes ---- */

/* Version 2 of s_billing, field by field. */
static const char s_v2_billing[] = "02 86"
                                   " a8 7061747465726e73 91 a5 6f6d732e2a"  /* patterns */
                                   " a5 7479706573 90"                      /* types */
                                   " a6 637265646974 64"                    /* credit 100 */
                                   " ab 61636b5f776169745f6d73 ce 000927c0" /* ack_wait_ms */
                                   " ac 6d61785f617474656d707473 07"        /* max_attempts */
                                   " aa 6261636b6f66665f6d73 cc fa";        /* backoff_ms */
/* Version 2 of s_audit. */
static const char s_v2_audit[] = "02 87"
                                 " a5 6f776e6572 a5 616c696365" /* owner alice */
                                 " a8 7061747465726e73 92 a5 6f6d732e3e a4 6d702e2a" /* patterns */
                                 " a5 7479706573 91 ad 6f726465722e63726561746564"   /* types */
                                 " a6 637265646974 32"                               /* credit 50 */
                                 " ab 61636b5f776169745f6d73 ce 000493e0"            /* 300000 */
                                 " ac 6d61785f617474656d707473 00"                   /* unlimited */
                                 " aa 6261636b6f66665f6d73 cd 07d0";                 /* 2000 */

/* Version 1, as the 0.5 broker of tests/data/store-0.5 wrote "billing" (mdb_dump): a
   SUBSCRIBE body with req 1 and sub. */
static const char s_v1_billing[] =
    "87a372657101a3737562a762696c6c696e67a87061747465726e7391a56f6d732e2aa663726564697464ab61"
    "636b5f776169745f6d73ce000927c0ac6d61785f617474656d70747307aa6261636b6f66665f6d73ccfa";
/* ... and "audit" (two types, where s_audit has one), owned: the owner's str, "alice" (the
   client whose CURVE key made it), then the body. */
static const char s_v1_owner[] = "a5616c696365";
static const char s_v1_audit[] =
    "88a372657101a3737562a56175646974a87061747465726e7392a56f6d732e3ea46d702e2aa5747970657392"
    "ad6f726465722e63726561746564b1636f6d6d616e642e7375626d6974746564a663726564697432ab61636b"
    "5f776169745f6d73ce000493e0ac6d61785f617474656d70747300aa6261636b6f66665f6d73cd07d0";

static void
test_sub_golden_v2(void **state)
{
    (void)state;
    const char *hex[] = {s_v2_billing, s_v2_audit};
    void (*make[])(ob_sub_record_t *) = {s_billing, s_audit};
    for (size_t i = 0; i < 2; i++) {
        uint8_t want[T_HEX_MAX], got[OB_SUB_RECORD_MAX];
        size_t want_len = s_hex(hex[i], want, sizeof want), got_len = 0;
        ob_sub_record_t r, back;
        make[i](&r);
        assert_int_equal(ob_sub_record_encode(&r, got, sizeof got, &got_len), 0);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        assert_int_equal(ob_sub_record_decode(want, want_len, &back), 0);
        assert_int_equal(back.version, OB_SUB_RECORD_V2);
        s_assert_same(&r, &back);
        s_assert_cuts(want, want_len, s_decode_sub, OB_ERR_TRUNCATED);
    }
}

static void
test_sub_golden_v1(void **state)
{
    (void)state;
    uint8_t buf[T_HEX_MAX];
    ob_sub_record_t r, want;

    size_t len = s_hex(s_v1_billing, buf, sizeof buf);
    assert_int_equal(ob_sub_record_decode(buf, len, &r), 0);
    assert_int_equal(r.version, OB_SUB_RECORD_V1);
    s_billing(&want);
    s_assert_same(&r, &want);
    s_assert_cuts(buf, len, s_decode_sub, 0);

    /* with the owner ahead of it */
    size_t owner_len = s_hex(s_v1_owner, buf, sizeof buf);
    len = owner_len + s_hex(s_v1_audit, buf + owner_len, sizeof buf - owner_len);
    assert_int_equal(ob_sub_record_decode(buf, len, &r), 0);
    assert_int_equal(r.version, OB_SUB_RECORD_V1);
    s_audit(&want);
    want.type_count = 2;
    snprintf(want.types[1], sizeof want.types[1], "command.submitted");
    s_assert_same(&r, &want);
    s_assert_cuts(buf, len, s_decode_sub, 0);

    /* written again, it is version 2 and reads back the same */
    uint8_t out[OB_SUB_RECORD_MAX];
    size_t out_len = 0;
    ob_sub_record_t back;
    assert_int_equal(ob_sub_record_encode(&r, out, sizeof out, &out_len), 0);
    assert_int_equal(out[OB_SUB_RECORD_VERSION_AT], OB_SUB_RECORD_V2);
    assert_int_equal(ob_sub_record_decode(out, out_len, &back), 0);
    s_assert_same(&r, &back);
}

/* The largest record: every string and count at its cap. */
static void
test_sub_largest(void **state)
{
    (void)state;
    ob_sub_record_t *r = calloc(1, sizeof *r), *back = calloc(1, sizeof *back);
    uint8_t *buf = malloc(OB_SUB_RECORD_MAX);
    assert_true(r && back && buf);
    memset(r->owner, 'o', OB_SUB_RECORD_OWNER_MAX);
    r->pattern_count = OB_SUB_PATTERNS_MAX;
    for (size_t i = 0; i < OB_SUB_PATTERNS_MAX; i++) {
        memset(r->patterns[i], 'p', OB_TOPIC_MAX);
        r->patterns[i][0] = (char)('a' + i);
    }
    r->type_count = OB_SUB_TYPES_MAX;
    for (size_t i = 0; i < OB_SUB_TYPES_MAX; i++) {
        memset(r->types[i], 't', OB_EVENT_TYPE_MAX);
        r->types[i][0] = (char)('a' + i % 26);
    }
    r->credit = OB_CREDIT_MAX;
    r->ack_wait_ms = OB_DELAY_MS_MAX;
    r->max_attempts = OB_MAX_ATTEMPTS_MAX;
    r->backoff_ms = OB_DELAY_MS_MAX;
    size_t len = 0;
    assert_int_equal(ob_sub_record_encode(r, buf, OB_SUB_RECORD_MAX, &len), 0);
    assert_int_equal(ob_sub_record_decode(buf, len, back), 0);
    s_assert_same(r, back);
    /* a buffer one byte short */
    assert_int_equal(ob_sub_record_encode(r, buf, len - 1, &len), OB_ERR_TOO_LARGE);
    free(r);
    free(back);
    free(buf);
}

/* Encoding refuses what decoding would refuse. */
static void
test_sub_encode_refusals(void **state)
{
    (void)state;
    uint8_t buf[OB_SUB_RECORD_MAX];
    size_t len = 0;
    ob_sub_record_t r;
    s_billing(&r);
    r.pattern_count = 0;
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_FIELD_TYPE);
    s_billing(&r);
    r.pattern_count = OB_SUB_PATTERNS_MAX + 1;
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_TOO_LARGE);
    s_billing(&r);
    snprintf(r.patterns[0], sizeof r.patterns[0], "oms..x");
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_INVALID_PATTERN);
    s_billing(&r);
    r.type_count = 1;
    snprintf(r.types[0], sizeof r.types[0], "no spaces");
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_FIELD_TYPE);
    s_billing(&r);
    memset(r.owner, 'o', sizeof r.owner); /* not terminated */
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_TOO_LARGE);
    s_billing(&r);
    r.credit = 0;
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_FIELD_TYPE);
    s_billing(&r);
    r.ack_wait_ms = OB_ACK_WAIT_MS_MIN - 1;
    assert_int_equal(ob_sub_record_encode(&r, buf, sizeof buf, &len), OB_ERR_FIELD_TYPE);
    s_billing(&r);
    assert_int_equal(ob_sub_record_encode(&r, buf, 0, &len), OB_ERR_TOO_LARGE);
    assert_int_equal(ob_sub_record_encode(&r, buf, 10, &len), OB_ERR_TOO_LARGE);
}

/* ---- subscription records: refusals ---- */

enum { V_UINT, V_NEG, V_STR, V_STRS, V_NIL };

/* One pair of a version-2 map. */
typedef struct t_kv {
    const char *key;
    int kind;        /* V_* */
    uint64_t u;      /* V_UINT */
    const char *str; /* V_STR, and each entry of V_STRS */
    size_t len;      /* bytes at str */
    size_t count;    /* V_STRS: entries */
} t_kv_t;

#define T_U(key, u)                                                                                \
    {                                                                                              \
        key, V_UINT, u, NULL, 0, 0                                                                 \
    }
#define T_S(key, s)                                                                                \
    {                                                                                              \
        key, V_STR, 0, s, sizeof(s) - 1, 0                                                         \
    }
#define T_A(key, n, s)                                                                             \
    {                                                                                              \
        key, V_STRS, 0, s, sizeof(s) - 1, n                                                        \
    }

/* The fields of s_billing. */
static const t_kv_t s_base[] = {
    T_A("patterns", 1, "oms.*"), T_A("types", 0, ""),    T_U("credit", 100),
    T_U("ack_wait_ms", 600000),  T_U("max_attempts", 7), T_U("backoff_ms", 250),
};
#define T_BASE (sizeof s_base / sizeof *s_base)

/* s_base with kv in place of the pair of its key (added if none), or without it (drop). */
typedef struct t_case {
    const char *name;
    t_kv_t kv;
    int drop;
    int rc; /* expected */
} t_case_t;

static msgpack_sbuffer s_sbuf;

static void
s_pack(msgpack_packer *pk, const t_kv_t *kv)
{
    msgpack_pack_str(pk, strlen(kv->key));
    msgpack_pack_str_body(pk, kv->key, strlen(kv->key));
    switch (kv->kind) {
    case V_UINT:
        msgpack_pack_uint64(pk, kv->u);
        break;
    case V_NEG:
        msgpack_pack_int64(pk, -1);
        break;
    case V_STR:
        msgpack_pack_str(pk, kv->len);
        msgpack_pack_str_body(pk, kv->str, kv->len);
        break;
    case V_STRS:
        msgpack_pack_array(pk, kv->count);
        for (size_t i = 0; i < kv->count; i++) {
            msgpack_pack_str(pk, kv->len);
            msgpack_pack_str_body(pk, kv->str, kv->len);
        }
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

/* Builds the version-2 record of c in s_sbuf. */
static void
s_build(const t_case_t *c)
{
    msgpack_sbuffer_clear(&s_sbuf);
    msgpack_sbuffer_write(&s_sbuf, "\x02", 1);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &s_sbuf, msgpack_sbuffer_write);
    int found = 0;
    for (size_t i = 0; i < T_BASE; i++)
        found |= !strcmp(s_base[i].key, c->kv.key);
    msgpack_pack_map(&pk, T_BASE + (found ? -(size_t)c->drop : 1));
    for (size_t i = 0; i < T_BASE; i++) {
        if (strcmp(s_base[i].key, c->kv.key))
            s_pack(&pk, &s_base[i]);
        else if (!c->drop)
            s_pack(&pk, &c->kv);
    }
    if (!found)
        s_pack(&pk, &c->kv);
}

static char s_long[OB_TOPIC_MAX + 2]; /* OB_TOPIC_MAX + 1 letters */

static void
test_sub_refusals_v2(void **state)
{
    (void)state;
    const t_case_t cases[] = {
        {"valid", T_U("credit", 1), 0, 0},
        {"no patterns", T_A("patterns", 1, "x"), 1, OB_ERR_MISSING_FIELD},
        {"no credit", T_U("credit", 1), 1, OB_ERR_MISSING_FIELD},
        {"no ack_wait_ms", T_U("ack_wait_ms", 1), 1, OB_ERR_MISSING_FIELD},
        {"no max_attempts", T_U("max_attempts", 1), 1, OB_ERR_MISSING_FIELD},
        {"no backoff_ms", T_U("backoff_ms", 1), 1, OB_ERR_MISSING_FIELD},
        {"no types: every type", T_A("types", 0, ""), 1, 0},
        {"patterns empty", T_A("patterns", 0, "x"), 0, OB_ERR_FIELD_TYPE},
        {"17 patterns", T_A("patterns", OB_SUB_PATTERNS_MAX + 1, "x"), 0, OB_ERR_TOO_LARGE},
        {"patterns a str", T_S("patterns", "oms.*"), 0, OB_ERR_FIELD_TYPE},
        {"a pattern empty", T_A("patterns", 1, ""), 0, OB_ERR_FIELD_TYPE},
        {"a pattern with NUL", T_A("patterns", 1, "a\0b"), 0, OB_ERR_FIELD_TYPE},
        {"a pattern of no topic", T_A("patterns", 1, "oms..x"), 0, OB_ERR_INVALID_PATTERN},
        {"a pattern with > inside", T_A("patterns", 1, "a.>.b"), 0, OB_ERR_INVALID_PATTERN},
        {"33 types", T_A("types", OB_SUB_TYPES_MAX + 1, "t"), 0, OB_ERR_TOO_LARGE},
        {"a type with a space", T_A("types", 1, "a b"), 0, OB_ERR_FIELD_TYPE},
        {"types nil", {"types", V_NIL, 0, NULL, 0, 0}, 0, OB_ERR_FIELD_TYPE},
        {"owner empty", T_S("owner", ""), 0, OB_ERR_FIELD_TYPE},
        {"owner with NUL", T_S("owner", "a\0b"), 0, OB_ERR_FIELD_TYPE},
        {"owner a uint", T_U("owner", 1), 0, OB_ERR_FIELD_TYPE},
        {"owner 64 bytes",
         T_S("owner", "0123456789012345678901234567890123456789012345678901"
                      "234567890123"),
         0, 0},
        {"owner 65 bytes",
         T_S("owner", "0123456789012345678901234567890123456789012345678901"
                      "2345678901234"),
         0, OB_ERR_TOO_LARGE},
        {"credit 0", T_U("credit", 0), 0, OB_ERR_FIELD_TYPE},
        {"credit over", T_U("credit", OB_CREDIT_MAX + 1), 0, OB_ERR_FIELD_TYPE},
        {"credit 2^32", T_U("credit", 1ull << 32), 0, OB_ERR_FIELD_TYPE},
        {"credit a str", T_S("credit", "1"), 0, OB_ERR_FIELD_TYPE},
        {"credit negative", {"credit", V_NEG, 0, NULL, 0, 0}, 0, OB_ERR_FIELD_TYPE},
        {"ack_wait_ms short", T_U("ack_wait_ms", OB_ACK_WAIT_MS_MIN - 1), 0, OB_ERR_FIELD_TYPE},
        {"ack_wait_ms long", T_U("ack_wait_ms", OB_DELAY_MS_MAX + 1), 0, OB_ERR_FIELD_TYPE},
        {"max_attempts over", T_U("max_attempts", OB_MAX_ATTEMPTS_MAX + 1), 0, OB_ERR_FIELD_TYPE},
        {"backoff_ms over", T_U("backoff_ms", OB_DELAY_MS_MAX + 1), 0, OB_ERR_FIELD_TYPE},
        {"an unknown key", T_U("start", 1), 0, OB_ERR_MALFORMED},
    };
    ob_sub_record_t r;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        s_build(&cases[i]);
        int rc = ob_sub_record_decode((const uint8_t *)s_sbuf.data, s_sbuf.size, &r);
        if (rc != cases[i].rc)
            fail_msg("%s: %s, not %s", cases[i].name, ob_strerror(rc), ob_strerror(cases[i].rc));
    }
    /* a pattern of OB_TOPIC_MAX + 1 bytes */
    memset(s_long, 'a', OB_TOPIC_MAX + 1);
    t_case_t c = {"long pattern", {"patterns", V_STRS, 0, s_long, OB_TOPIC_MAX + 1, 1}, 0, 0};
    s_build(&c);
    assert_int_equal(ob_sub_record_decode((const uint8_t *)s_sbuf.data, s_sbuf.size, &r),
                     OB_ERR_TOO_LARGE);
    c.kv.len = OB_TOPIC_MAX;
    s_build(&c);
    assert_int_equal(ob_sub_record_decode((const uint8_t *)s_sbuf.data, s_sbuf.size, &r), 0);
    c = (t_case_t){"long type", {"types", V_STRS, 0, s_long, OB_EVENT_TYPE_MAX + 1, 1}, 0, 0};
    s_build(&c);
    assert_int_equal(ob_sub_record_decode((const uint8_t *)s_sbuf.data, s_sbuf.size, &r),
                     OB_ERR_TOO_LARGE);
}

/* Bytes that are no record of either version, or break a rule outside the map's fields. */
static void
test_sub_refusals_raw(void **state)
{
    (void)state;
    const t_hex_case_t cases[] = {
        {"", OB_ERR_TRUNCATED},
        {"00", OB_ERR_VERSION},
        {"01 80", OB_ERR_VERSION},
        {"03 80", OB_ERR_VERSION},
        {"7f", OB_ERR_VERSION},
        {"02", OB_ERR_TRUNCATED},
        {"02 90", OB_ERR_MALFORMED},                                     /* an array */
        {"02 c1", OB_ERR_MALFORMED},                                     /* never used */
        {"02 80", OB_ERR_MISSING_FIELD},                                 /* an empty map */
        {"02 80 00", OB_ERR_MALFORMED},                                  /* a byte after the map */
        {"02 81 01 01", OB_ERR_MALFORMED},                               /* a key not a str */
        {"02 82 a6637265646974 01 a6637265646974 01", OB_ERR_MALFORMED}, /* credit twice */
        {"02 8f", OB_ERR_TRUNCATED},                                     /* 15 pairs declared */
        {"02 df ffffffff", OB_ERR_TOO_LARGE},                            /* 4 billion declared */
        /* version 1 */
        {"a0", OB_ERR_FIELD_TYPE},          /* an empty owner */
        {"a5616c696365", OB_ERR_TRUNCATED}, /* an owner, no body */
        {"a5616c6963", OB_ERR_TRUNCATED},   /* a cut owner */
        {"dbffffffff", OB_ERR_TRUNCATED},   /* an owner of 4 GB declared */
        {"c1", OB_ERR_MALFORMED},           /* never used */
        {"90", OB_ERR_MALFORMED},           /* an array */
        {"80", OB_ERR_MISSING_FIELD},       /* a body without req */
    };
    s_run_cases(cases, sizeof cases / sizeof *cases, s_decode_sub);
    uint8_t buf[T_HEX_MAX];
    ob_sub_record_t r;

    /* version 1 records whose values break the rules: an owner of 65 bytes, credit 0, a
       pattern of no topic (spoiling s_v1_billing) */
    size_t len = s_hex(s_v1_billing, buf + 2 + OB_SUB_RECORD_OWNER_MAX + 1, 512);
    buf[0] = 0xd9;
    buf[1] = OB_SUB_RECORD_OWNER_MAX + 1;
    memset(buf + 2, 'a', OB_SUB_RECORD_OWNER_MAX + 1);
    assert_int_equal(ob_sub_record_decode(buf, len + 2 + OB_SUB_RECORD_OWNER_MAX + 1, &r),
                     OB_ERR_TOO_LARGE);
    buf[1] = OB_SUB_RECORD_OWNER_MAX;
    memmove(buf + 2 + OB_SUB_RECORD_OWNER_MAX, buf + 3 + OB_SUB_RECORD_OWNER_MAX, len);
    assert_int_equal(ob_sub_record_decode(buf, len + 2 + OB_SUB_RECORD_OWNER_MAX, &r), 0);
    assert_int_equal(strlen(r.owner), OB_SUB_RECORD_OWNER_MAX);

    len = s_hex(s_v1_billing, buf, sizeof buf);
    uint8_t *credit = s_find(buf, len, "credit\x64", 7);
    assert_non_null(credit);
    credit[6] = 0;
    assert_int_equal(ob_sub_record_decode(buf, len, &r), OB_ERR_FIELD_TYPE);
    len = s_hex(s_v1_billing, buf, sizeof buf);
    uint8_t *pattern = s_find(buf, len, "oms.*", 5);
    assert_non_null(pattern);
    pattern[4] = '.';
    assert_int_equal(ob_sub_record_decode(buf, len, &r), OB_ERR_INVALID_PATTERN);

    /* more than a record may hold */
    uint8_t *big = calloc(1, OB_SUB_RECORD_MAX + 1);
    assert_non_null(big);
    big[0] = OB_SUB_RECORD_V2;
    assert_int_equal(ob_sub_record_decode(big, OB_SUB_RECORD_MAX + 1, &r), OB_ERR_TOO_LARGE);
    free(big);
}

/* ---- position records ---- */

/* billing on oms.1 in tests/data/store-0.5: floor 2, done 4..4 and 6..6. */
static const char s_pos_v1[] = "0000000000000002 00000002"
                               " 0000000000000004 0000000000000004"
                               " 0000000000000006 0000000000000006";
static const char s_pos_v2[] = "02 000000 00000002 0000000000000002"
                               " 0000000000000004 0000000000000004"
                               " 0000000000000006 0000000000000006";
static const ob_pos_range_t s_pos_ranges[] = {{4, 4}, {6, 6}};

static void
s_assert_pos(const ob_pos_record_t *r, int version, uint64_t floor, const ob_pos_range_t *ranges,
             size_t count)
{
    assert_int_equal(r->version, version);
    assert_int_equal(r->floor, floor);
    assert_int_equal(r->count, count);
    for (size_t i = 0; i < count; i++) {
        ob_pos_range_t got = ob_pos_record_range(r, i);
        assert_int_equal(got.lo, ranges[i].lo);
        assert_int_equal(got.hi, ranges[i].hi);
    }
}

static void
test_pos_golden(void **state)
{
    (void)state;
    uint8_t want[T_HEX_MAX], got[T_HEX_MAX];
    size_t want_len = s_hex(s_pos_v2, want, sizeof want), got_len = 0;
    assert_int_equal(ob_pos_record_size(2), want_len);
    assert_int_equal(ob_pos_record_encode(2, s_pos_ranges, 2, got, sizeof got, &got_len), 0);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    ob_pos_record_t r;
    assert_int_equal(ob_pos_record_decode(want, want_len, &r), 0);
    s_assert_pos(&r, OB_POS_RECORD_V2, 2, s_pos_ranges, 2);
    s_assert_cuts(want, want_len, s_decode_pos, OB_ERR_TRUNCATED);

    size_t len = s_hex(s_pos_v1, want, sizeof want);
    assert_int_equal(ob_pos_record_decode(want, len, &r), 0);
    s_assert_pos(&r, OB_POS_RECORD_V1, 2, s_pos_ranges, 2);
    s_assert_cuts(want, len, s_decode_pos, OB_ERR_TRUNCATED);

    /* no ranges, in both versions */
    len = s_hex("0000000000000004 00000000", want, sizeof want);
    assert_int_equal(ob_pos_record_decode(want, len, &r), 0);
    s_assert_pos(&r, OB_POS_RECORD_V1, 4, NULL, 0);
    assert_int_equal(ob_pos_record_encode(4, NULL, 0, got, sizeof got, &got_len), 0);
    assert_int_equal(got_len, OB_POS_RECORD_V2_HEAD);
    assert_int_equal(ob_pos_record_decode(got, got_len, &r), 0);
    s_assert_pos(&r, OB_POS_RECORD_V2, 4, NULL, 0);
}

/* The most ranges a record holds, and one more. */
static void
test_pos_largest(void **state)
{
    (void)state;
    size_t n = OB_POS_RECORD_RANGES_MAX;
    ob_pos_range_t *ranges = calloc(n + 1, sizeof *ranges);
    uint8_t *buf = malloc(OB_POS_RECORD_MAX + OB_POS_RECORD_RANGE_SIZE);
    assert_true(ranges && buf);
    for (size_t i = 0; i <= n; i++)
        ranges[i] = (ob_pos_range_t){10 + 3 * i, 11 + 3 * i};
    size_t len = 0;
    assert_int_equal(ob_pos_record_encode(1, ranges, n, buf, OB_POS_RECORD_MAX, &len), 0);
    assert_int_equal(len, OB_POS_RECORD_MAX);
    ob_pos_record_t r;
    assert_int_equal(ob_pos_record_decode(buf, len, &r), 0);
    s_assert_pos(&r, OB_POS_RECORD_V2, 1, ranges, n);
    assert_int_equal(ob_pos_record_encode(1, ranges, n + 1, buf,
                                          OB_POS_RECORD_MAX + OB_POS_RECORD_RANGE_SIZE, &len),
                     OB_ERR_TOO_LARGE);
    assert_int_equal(ob_pos_record_encode(1, ranges, n, buf, OB_POS_RECORD_MAX - 1, &len),
                     OB_ERR_TOO_LARGE);
    free(ranges);
    free(buf);
}

static void
test_pos_refusals(void **state)
{
    (void)state;
    const t_hex_case_t cases[] = {
        {"", OB_ERR_TRUNCATED},
        {"01 000000 00000000 0000000000000000", OB_ERR_VERSION},
        {"03 000000 00000000 0000000000000000", OB_ERR_VERSION},
        {"ff 000000 00000000 0000000000000000", OB_ERR_VERSION},
        {"02 000100 00000000 0000000000000000", OB_ERR_MALFORMED},    /* reserved */
        {"02 000000 00000000 0000000000000000 00", OB_ERR_MALFORMED}, /* a byte more */
        {"02 000000 00001000 0000000000000000", OB_ERR_TOO_LARGE},    /* 4096 ranges */
        {"02 000000 ffffffff 0000000000000000", OB_ERR_TOO_LARGE},
        {"02 000000 00000001 0000000000000000", OB_ERR_TRUNCATED}, /* 1 range, none there */
        {"0000000000000000 00000000 00", OB_ERR_MALFORMED},        /* version 1, a byte more */
        {"0000000000000000 ffffffff", OB_ERR_TOO_LARGE},
        {"0000000000000000 00000001 00000000000000", OB_ERR_TRUNCATED},
        /* ranges: the first must start above floor + 1 */
        {"02 000000 00000001 0000000000000002 0000000000000003 0000000000000003",
         OB_ERR_FIELD_TYPE},
        {"02 000000 00000001 0000000000000002 0000000000000002 0000000000000002",
         OB_ERR_FIELD_TYPE},
        {"02 000000 00000001 0000000000000002 0000000000000004 0000000000000003",
         OB_ERR_FIELD_TYPE}, /* hi < lo */
        {"02 000000 00000002 0000000000000002 0000000000000004 0000000000000006"
         " 0000000000000007 0000000000000008",
         OB_ERR_FIELD_TYPE}, /* adjacent */
        {"02 000000 00000002 0000000000000002 0000000000000004 0000000000000006"
         " 0000000000000006 0000000000000008",
         OB_ERR_FIELD_TYPE}, /* overlapping */
        {"02 000000 00000002 0000000000000002 0000000000000008 0000000000000009"
         " 0000000000000004 0000000000000004",
         OB_ERR_FIELD_TYPE}, /* unsorted */
        {"02 000000 00000001 ffffffffffffffff ffffffffffffffff ffffffffffffffff",
         OB_ERR_FIELD_TYPE}, /* nothing is above the last seq */
        {"0000000000000002 00000001 0000000000000003 0000000000000003", OB_ERR_FIELD_TYPE},
        /* valid edges */
        {"02 000000 00000001 fffffffffffffffd ffffffffffffffff ffffffffffffffff", 0},
        {"02 000000 00000001 0000000000000000 0000000000000002 ffffffffffffffff", 0},
        {"00ffffffffffffff 00000000", 0}, /* the largest floor of version 1 */
    };
    s_run_cases(cases, sizeof cases / sizeof *cases, s_decode_pos);
    uint8_t buf[T_HEX_MAX];
    /* the encoder refuses the same ranges */
    size_t len = 0;
    const ob_pos_range_t touching[] = {{3, 3}}, reversed[] = {{5, 4}},
                         adjacent[] = {{4, 5}, {6, 7}}, unsorted[] = {{8, 9}, {4, 4}};
    assert_int_equal(ob_pos_record_encode(2, touching, 1, buf, sizeof buf, &len),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_pos_record_encode(2, reversed, 1, buf, sizeof buf, &len),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_pos_record_encode(2, adjacent, 2, buf, sizeof buf, &len),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_pos_record_encode(2, unsorted, 2, buf, sizeof buf, &len),
                     OB_ERR_FIELD_TYPE);
    assert_int_equal(ob_pos_record_encode(2, touching, 0, buf, OB_POS_RECORD_V2_HEAD - 1, &len),
                     OB_ERR_TOO_LARGE);
}

int
main(void)
{
    msgpack_sbuffer_init(&s_sbuf);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sub_golden_v2),   cmocka_unit_test(test_sub_golden_v1),
        cmocka_unit_test(test_sub_largest),     cmocka_unit_test(test_sub_encode_refusals),
        cmocka_unit_test(test_sub_refusals_v2), cmocka_unit_test(test_sub_refusals_raw),
        cmocka_unit_test(test_pos_golden),      cmocka_unit_test(test_pos_largest),
        cmocka_unit_test(test_pos_refusals),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    msgpack_sbuffer_destroy(&s_sbuf);
    return failed;
}
