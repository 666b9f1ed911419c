/*  ob_event_json_read: see event_json_read.h. The tree-free reader.

    Every rule here is Jansson's (2.14: json_loadb with JSON_REJECT_DUPLICATES, json_dumps
    with JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) or ob_event_json_read_tree's,
    so that what this reader accepts the tree reader accepts with the same bytes; whatever
    either would refuse, this one declines rather than refuses, and the tree reader words
    the refusal. fuzz_event_json_diff holds the two to that. */
#include "event_json_read.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/limits.h"

/* The reader's own bounds. None of them caps what is accepted: beyond one it declines, and
   the tree reader (with Jansson's limits) answers. */
#define S_DEPTH_MAX 32       /* nesting of arrays and objects in "data" */
#define S_OBJECT_KEYS_MAX 64 /* keys of one object in "data" (repeats are looked for in pairs) */
#define S_KEYS_OPEN_MAX 256  /* keys of all the objects open at once in "data" */
#define S_NUMBER_MAX 64      /* characters of a real number in "data" */
#define S_REAL_TEXT 48       /* room for "%.17g" of a double, ".0" and the NUL */
#define S_OUT_MIN 256        /* first allocation of the "data" text */
#define S_UTF16_HIGH 0xD800u /* the first high surrogate */
#define S_UTF16_LOW 0xDC00u  /* the first low surrogate */
#define S_UTF16_END 0xE000u  /* just past the last low surrogate */
#define S_UNICODE_MAX 0x10FFFFu
#define S_DECLINE OB_EVENT_JSON_DECLINED

/* Where a key of an open "data" object was written in the text of "data". */
typedef struct s_span {
    size_t from; /* offset of its quoted, escaped text */
    size_t len;  /* bytes of it */
} s_span_t;

typedef struct s_reader {
    const char *p;                  /* next byte */
    const char *end;                /* end of the text */
    char *arena;                    /* decoded strings with their NULs (len + 1 bytes) */
    size_t used;                    /* bytes of arena taken */
    char *out;                      /* "data" as compact JSON, or NULL */
    size_t out_len;                 /* bytes written at out */
    size_t out_size;                /* bytes allocated at out */
    s_span_t keys[S_KEYS_OPEN_MAX]; /* the keys of the open objects of "data", outermost first */
    size_t key_count;               /* entries used */
    int nomem;                      /* 1: an allocation failed (-ENOMEM, not a decline) */
} s_reader_t;

/* The event object's keys, in the order of ob_event_json_read_tree's table. */
enum {
    S_ID,
    S_TOPIC,
    S_TYPE,
    S_TIME,
    S_TIME_US,
    S_SOURCE,
    S_OMS_ID,
    S_PROJECT_ID,
    S_PROJECT_ITEM_ID,
    S_MESSAGE_ID,
    S_CHANGES,
    S_DATA,
    S_KEYS
};
static const char *const s_keys[S_KEYS] = {
    "id",         "topic",           "type",       "time",    "time_us", "source", "oms_id",
    "project_id", "project_item_id", "message_id", "changes", "data"};

/* A change's keys. */
enum { S_FIELD, S_BEFORE, S_AFTER, S_CHANGE_KEYS };
static const char *const s_change_keys[S_CHANGE_KEYS] = {"field", "before", "after"};

static int
s_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skips JSON whitespace (Jansson's: space, tab, newline, carriage return). */
static void
s_space(s_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

/* Takes the byte c if it is next. Returns 1 if it was. */
static int
s_take(s_reader_t *r, char c)
{
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

/* Returns 1 if the byte c is next (not taken). */
static int
s_next(const s_reader_t *r, char c)
{
    return r->p < r->end && *r->p == c;
}

static int s_put(s_reader_t *r, const char *bytes, size_t n);
static int s_value(s_reader_t *r, int depth);

/* Reads one member of a container (a value, or a key and its value) into arg. */
typedef int(s_member_fn)(s_reader_t *r, void *arg);

/* Reads the members of the container whose opening byte was taken, up to its closing byte
   close: member for each, ',' between them (written to "data" if put). */
static int
s_members(s_reader_t *r, char close, int put, s_member_fn *member, void *arg)
{
    s_space(r);
    if (s_take(r, close))
        return 0;
    for (;;) {
        if (member(r, arg))
            return S_DECLINE;
        s_space(r);
        if (s_take(r, close))
            return 0;
        if (!s_take(r, ',') || (put && s_put(r, ",", 1)))
            return S_DECLINE;
        s_space(r);
    }
}

/* Returns the length (2..4) of the UTF-8 sequence at p (before end) whose first byte is not
   ASCII, or 0 if it is not one (RFC 3629: no overlong forms, no surrogates, at most
   U+10FFFF; Jansson's utf8_check_first and utf8_check_full). */
static size_t
s_utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t n;
    uint32_t v;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        v = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        v = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        v = p[0] & 0x07u;
    } else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0u) != 0x80u)
            return 0;
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    if (v > S_UNICODE_MAX || (v >= S_UTF16_HIGH && v < S_UTF16_END) || (n == 3 && v < 0x800u) ||
        (n == 4 && v < 0x10000u))
        return 0;
    return n;
}

/* Reads the 4 hex digits of a \u escape at p (before end) into *ret. Returns 0 or -1. */
static int
s_hex4(const char *p, const char *end, uint32_t *ret)
{
    if (end - p < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *ret = v;
    return 0;
}

/* Writes code point cp (valid, not a surrogate) as UTF-8 at w; returns the end. */
static char *
s_utf8_put(char *w, uint32_t cp)
{
    if (cp < 0x80u)
        *w++ = (char)cp;
    else if (cp < 0x800u) {
        *w++ = (char)(0xC0u | cp >> 6);
        *w++ = (char)(0x80u | (cp & 0x3Fu));
    } else if (cp < 0x10000u) {
        *w++ = (char)(0xE0u | cp >> 12);
        *w++ = (char)(0x80u | (cp >> 6 & 0x3Fu));
        *w++ = (char)(0x80u | (cp & 0x3Fu));
    } else {
        *w++ = (char)(0xF0u | cp >> 18);
        *w++ = (char)(0x80u | (cp >> 12 & 0x3Fu));
        *w++ = (char)(0x80u | (cp >> 6 & 0x3Fu));
        *w++ = (char)(0x80u | (cp & 0x3Fu));
    }
    return w;
}

/* Reads the \u escape whose 'u' is at *pp (before end) and, for a high surrogate, the low
   one that must follow, moving *pp past them. Returns the code point, or 0 for anything
   Jansson refuses: a bad digit, a lone surrogate, and \u0000 (refused without
   JSON_ALLOW_NUL). */
static uint32_t
s_unicode_escape(const char **pp, const char *end)
{
    const char *p = *pp + 1;
    uint32_t cp, low;
    if (s_hex4(p, end, &cp))
        return 0;
    p += 4;
    if (cp >= S_UTF16_HIGH && cp < S_UTF16_LOW) {
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u' || s_hex4(p + 2, end, &low) ||
            low < S_UTF16_LOW || low >= S_UTF16_END)
            return 0;
        p += 6;
        cp = ((cp - S_UTF16_HIGH) << 10) + (low - S_UTF16_LOW) + 0x10000u;
    } else if (cp >= S_UTF16_LOW && cp < S_UTF16_END)
        return 0;
    *pp = p;
    return cp;
}

/* Returns the end of the text at p (before end) that stands in a JSON string as itself and
   that json_dumps writes as itself: printable ASCII but '"' and '\\', and UTF-8 sequences. */
static const char *
s_plain(const char *p, const char *end)
{
    for (;;) {
        while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
               *p != '\\')
            p++;
        size_t n = p < end && (unsigned char)*p >= 0x80
                       ? s_utf8_len((const unsigned char *)p, (const unsigned char *)end)
                       : 0;
        if (!n)
            return p;
        p += n;
    }
}

/* Reads the JSON string whose opening quote is next, decoding it into out (room for as many
   bytes as its text has: decoding never grows a string), and moves past its closing quote.
   *ret_len is the decoded length (no NUL written). Returns 0 or S_DECLINE: a raw control
   character, a bad escape, a lone surrogate, bytes that are not UTF-8, \u0000, no end. */
static int
s_string(s_reader_t *r, char *out, size_t *ret_len)
{
    const char *p = r->p + 1, *end = r->end;
    char *w = out;
    for (;;) {
        const char *plain = s_plain(p, end);
        memcpy(w, p, (size_t)(plain - p));
        w += plain - p;
        p = plain;
        if (p >= end || (unsigned char)*p < 0x20 || (unsigned char)*p >= 0x80)
            return S_DECLINE; /* no end, a control character, or not UTF-8 */
        if (*p == '"')
            break;
        /* a backslash: an escape */
        if (end - p < 2)
            return S_DECLINE;
        char e = p[1];
        p++; /* at the escape's letter */
        switch (e) {
        case '"':
        case '\\':
        case '/':
            *w++ = e;
            break;
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case 'u': {
            uint32_t cp = s_unicode_escape(&p, end);
            if (!cp)
                return S_DECLINE;
            w = s_utf8_put(w, cp);
            continue; /* p is past the escape */
        }
        default:
            return S_DECLINE;
        }
        p++;
    }
    r->p = p + 1;
    *ret_len = (size_t)(w - out);
    return 0;
}

/* Reads the string that must be next into the arena as a C string, *ret pointing at it. */
static int
s_field_string(s_reader_t *r, const char **ret)
{
    size_t n;
    if (!s_next(r, '"') || s_string(r, r->arena + r->used, &n))
        return S_DECLINE;
    *ret = r->arena + r->used;
    r->arena[r->used + n] = '\0';
    r->used += n + 1;
    return 0;
}

/* Reads the key that must be next, and the ':' after it, into the arena's free room without
   taking it: *ret_key is valid until the next string is read. */
static int
s_key(s_reader_t *r, const char **ret_key, size_t *ret_len)
{
    if (!s_next(r, '"') || s_string(r, r->arena + r->used, ret_len))
        return S_DECLINE;
    *ret_key = r->arena + r->used;
    s_space(r);
    if (!s_take(r, ':'))
        return S_DECLINE;
    s_space(r);
    return 0;
}

/* Returns the index of the len bytes at key in names (count of them), or count. */
static size_t
s_lookup(const char *key, size_t len, const char *const *names, size_t count)
{
    size_t i = 0;
    while (i < count && (strlen(names[i]) != len || memcmp(names[i], key, len)))
        i++;
    return i;
}

/* Takes the literal word if it is next (what follows is checked by the caller's grammar). */
static int
s_literal(s_reader_t *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
        return 0;
    r->p += n;
    return 1;
}

/* Reads null or an integer 0..INT64_MAX (as Jansson reads it: no sign, no leading zero, no
   fraction or exponent, which would make a real) into *ret (null: 0). */
static int
s_field_uint(s_reader_t *r, uint64_t *ret)
{
    if (s_literal(r, "null")) {
        *ret = 0;
        return 0;
    }
    if (r->p >= r->end || !s_digit(*r->p))
        return S_DECLINE;
    uint64_t v = 0;
    if (s_take(r, '0')) {
        if (r->p < r->end && s_digit(*r->p))
            return S_DECLINE;
    } else
        while (r->p < r->end && s_digit(*r->p)) {
            uint64_t d = (uint64_t)(*r->p++ - '0');
            if (v > ((uint64_t)INT64_MAX - d) / 10)
                return S_DECLINE;
            v = v * 10 + d;
        }
    if (s_next(r, '.') || s_next(r, 'e') || s_next(r, 'E'))
        return S_DECLINE;
    *ret = v;
    return 0;
}

/* --- "data" as compact JSON, written as it is read ---------------------------------------- */

/* Makes room for n more bytes at r->out. Returns 0 or S_DECLINE (no memory). */
static int
s_reserve(s_reader_t *r, size_t n)
{
    if (n <= r->out_size - r->out_len)
        return 0;
    size_t size = r->out_size ? r->out_size : S_OUT_MIN;
    while (size - r->out_len < n)
        size *= 2;
    char *out = realloc(r->out, size);
    if (!out) {
        r->nomem = 1;
        return S_DECLINE;
    }
    r->out = out;
    r->out_size = size;
    return 0;
}

/* Appends n bytes. */
static int
s_put(s_reader_t *r, const char *bytes, size_t n)
{
    if (s_reserve(r, n))
        return S_DECLINE;
    memcpy(r->out + r->out_len, bytes, n);
    r->out_len += n;
    return 0;
}

/* Returns the escape of the control character c as json_dumps writes it ("\n", or "\u001F"
   with upper-case digits), in buf (7 bytes), and its length in *ret_len. */
static const char *
s_control(unsigned char c, char buf[7], size_t *ret_len)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *two = c == '\b'   ? "\\b"
                      : c == '\f' ? "\\f"
                      : c == '\n' ? "\\n"
                      : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t"
                                  : NULL;
    if (two) {
        *ret_len = 2;
        return two;
    }
    memcpy(buf, "\\u00", 4);
    buf[4] = hex[c >> 4];
    buf[5] = hex[c & 15];
    buf[6] = '\0';
    *ret_len = 6;
    return buf;
}

/* Reads the string that must be next and appends it quoted as json_dumps writes strings:
   '"' and '\\' and control characters escaped, every other byte (UTF-8 included) as it is. */
static int
s_data_string(s_reader_t *r)
{
    /* Mostly a string is written as it was given: then it is copied. */
    const char *plain = s_plain(r->p + 1, r->end);
    if (plain < r->end && *plain == '"') {
        size_t len = (size_t)(plain + 1 - r->p);
        if (s_put(r, r->p, len))
            return S_DECLINE;
        r->p += len;
        return 0;
    }
    size_t n, need = 2;
    char *text = r->arena + r->used; /* free room: the string is not kept */
    if (s_string(r, text, &n))
        return S_DECLINE;
    char esc[7];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        size_t len = 1;
        if (c == '"' || c == '\\')
            len = 2;
        else if (c < 0x20)
            s_control(c, esc, &len);
        need += len;
    }
    if (s_reserve(r, need))
        return S_DECLINE;
    char *w = r->out + r->out_len;
    *w++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c < 0x20) {
            size_t len;
            const char *seq = s_control(c, esc, &len);
            memcpy(w, seq, len);
            w += len;
        } else
            *w++ = (char)c;
    }
    *w++ = '"';
    r->out_len = (size_t)(w - r->out);
    return 0;
}

/* Appends the real number of the text at p (n bytes, JSON's grammar) as json_dumps writes
   it: "%.17g", ".0" added when that has neither '.' nor 'e', the exponent without '+' or
   leading zeros (Jansson's jsonp_dtostr). Declines an overflow (Jansson refuses it) and, to
   be sure of the bytes, any text but digits, '.', 'e', '+' and '-' (another locale). */
static int
s_real(s_reader_t *r, const char *p, size_t n)
{
    char num[S_NUMBER_MAX + 1], text[S_REAL_TEXT];
    if (n > S_NUMBER_MAX)
        return S_DECLINE;
    memcpy(num, p, n);
    num[n] = '\0';
    char *stop = NULL;
    errno = 0;
    double v = strtod(num, &stop);
    if (stop != num + n || ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE) || !isfinite(v))
        return S_DECLINE;
    int len = snprintf(text, sizeof text - 2, "%.17g", v);
    if (len < 0 || (size_t)len >= sizeof text - 2 || strspn(text, "0123456789.e+-") != (size_t)len)
        return S_DECLINE;
    size_t used = (size_t)len;
    if (!strchr(text, '.') && !strchr(text, 'e')) {
        memcpy(text + used, ".0", 3);
        used += 2;
    }
    char *e = strchr(text, 'e');
    if (e) {
        char *from = e + 1, *to = from + 1; /* drop [from, to) */
        if (*from == '-')
            from++;
        while (*to == '0')
            to++;
        memmove(from, to, used - (size_t)(to - text) + 1);
        used -= (size_t)(to - from);
    }
    return s_put(r, text, used);
}

/* Reads the number that must be next (JSON's grammar, as Jansson's lexer: no leading zero)
   and appends it: an integer within int64 as it is ("-0" as "0"), a real by s_real. */
static int
s_number(s_reader_t *r)
{
    const char *start = r->p, *end = r->end, *p = r->p;
    int real = 0;
    if (p < end && *p == '-')
        p++;
    const char *digits = p;
    if (p >= end || !s_digit(*p))
        return S_DECLINE;
    if (*p == '0') {
        if (++p < end && s_digit(*p))
            return S_DECLINE;
    } else
        while (p < end && s_digit(*p))
            p++;
    size_t int_digits = (size_t)(p - digits);
    if (p < end && *p == '.') {
        real = 1;
        if (++p >= end || !s_digit(*p))
            return S_DECLINE;
        while (p < end && s_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !s_digit(*p))
            return S_DECLINE;
        while (p < end && s_digit(*p))
            p++;
    }
    r->p = p;
    size_t n = (size_t)(p - start);
    if (real)
        return s_real(r, start, n);
    /* Within int64 (strtoll's ERANGE is Jansson's "too big integer"): at most 19 digits, and
       with 19 no more than 2^63 - 1, or 2^63 for a negative one. */
    static const char max_pos[] = "9223372036854775807", max_neg[] = "9223372036854775808";
    if (int_digits > sizeof max_pos - 1 ||
        (int_digits == sizeof max_pos - 1 &&
         memcmp(digits, start == digits ? max_pos : max_neg, int_digits) > 0))
        return S_DECLINE;
    if (n == 2 && start[0] == '-' && start[1] == '0')
        return s_put(r, "0", 1);
    return s_put(r, start, n);
}

/* The depth of a container of "data" and, for an object, where its keys start in
   r->keys. */
typedef struct s_container {
    int depth;    /* of the containers around its members */
    size_t first; /* an object's first key in r->keys */
} s_container_t;

/* s_member_fn of an object of "data": a key that it does not repeat (compared as written:
   json_dumps's escaping is one-to-one), ':' and a value. */
static int
s_object_member(s_reader_t *r, void *arg)
{
    const s_container_t *o = arg;
    if (!s_next(r, '"') || r->key_count - o->first >= S_OBJECT_KEYS_MAX ||
        r->key_count >= S_KEYS_OPEN_MAX)
        return S_DECLINE;
    s_span_t key = {r->out_len, 0};
    if (s_data_string(r))
        return S_DECLINE;
    key.len = r->out_len - key.from;
    for (size_t i = o->first; i < r->key_count; i++)
        if (r->keys[i].len == key.len &&
            !memcmp(r->out + r->keys[i].from, r->out + key.from, key.len))
            return S_DECLINE;
    r->keys[r->key_count++] = key;
    s_space(r);
    if (!s_take(r, ':') || s_put(r, ":", 1))
        return S_DECLINE;
    s_space(r);
    return s_value(r, o->depth);
}

/* s_member_fn of an array of "data": a value. */
static int
s_array_member(s_reader_t *r, void *arg)
{
    const s_container_t *a = arg;
    return s_value(r, a->depth);
}

/* Reads the object ('{', object 1) or array that must be next, within depth containers, and
   appends it. */
static int
s_container(s_reader_t *r, int depth, int object)
{
    s_container_t c = {depth, r->key_count};
    const char *open = object ? "{" : "[", *close = object ? "}" : "]";
    if (depth > S_DEPTH_MAX || s_put(r, open, 1))
        return S_DECLINE;
    r->p++;
    if (s_members(r, *close, 1, object ? s_object_member : s_array_member, &c))
        return S_DECLINE;
    r->key_count = c.first; /* the object's keys are closed with it */
    return s_put(r, close, 1);
}

/* Reads the value that must be next (depth: of the containers around it) and appends it. */
static int
s_value(s_reader_t *r, int depth)
{
    if (r->p >= r->end)
        return S_DECLINE;
    static const char *const words[] = {"true", "false", "null"};
    switch (*r->p) {
    case '{':
    case '[':
        return s_container(r, depth + 1, *r->p == '{');
    case '"':
        return s_data_string(r);
    case 't':
    case 'f':
    case 'n':
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (s_literal(r, words[i]))
                return s_put(r, words[i], strlen(words[i]));
        return S_DECLINE;
    default:
        return s_number(r);
    }
}

/* Reads "data"'s value: null (no data); an object whose only key is "base64", with a string,
   decoded into *ret_bin (the caller's to free); anything else as its compact text at
   r->out. */
static int
s_data(s_reader_t *r, uint8_t **ret_bin, size_t *ret_bin_len)
{
    if (s_literal(r, "null"))
        return 0;
    if (s_next(r, '{')) {
        const char *start = r->p, *key, *text = NULL;
        size_t key_len, text_len = 0;
        r->p++;
        s_space(r);
        if (!s_key(r, &key, &key_len) && key_len == strlen("base64") &&
            !memcmp(key, "base64", key_len) && s_next(r, '"') &&
            !s_string(r, r->arena + r->used, &text_len)) {
            text = r->arena + r->used;
            s_space(r);
            if (s_take(r, '}')) {
                int rc = ob_json_b64_decode(text, text_len, ret_bin, ret_bin_len);
                r->nomem = rc == -ENOMEM;
                return rc ? S_DECLINE : 0;
            }
        }
        r->p = start; /* not that shape: an object like any other */
    }
    return s_value(r, 0);
}

/* One change being read, and the changes read. */
typedef struct s_change_read {
    ob_change_t *changes; /* OB_CHANGES_MAX entries */
    size_t count;         /* entries read */
    unsigned seen;        /* the current change: bit per key of s_change_keys given */
} s_change_read_t;

/* s_member_fn of a change: "field" (a string), "before" or "after" (strings or null). */
static int
s_change_member(s_reader_t *r, void *arg)
{
    s_change_read_t *cr = arg;
    ob_change_t *c = &cr->changes[cr->count];
    const char **dst[S_CHANGE_KEYS] = {&c->field, &c->before, &c->after};
    const char *key;
    size_t len;
    if (s_key(r, &key, &len))
        return S_DECLINE;
    size_t k = s_lookup(key, len, s_change_keys, S_CHANGE_KEYS);
    if (k == S_CHANGE_KEYS || (cr->seen & 1u << k))
        return S_DECLINE;
    cr->seen |= 1u << k;
    if (k != S_FIELD && s_literal(r, "null"))
        return 0;
    return s_field_string(r, dst[k]);
}

/* s_member_fn of "changes": one change object, with its "field". */
static int
s_change(s_reader_t *r, void *arg)
{
    s_change_read_t *cr = arg;
    if (cr->count == OB_CHANGES_MAX || !s_take(r, '{'))
        return S_DECLINE;
    memset(&cr->changes[cr->count], 0, sizeof cr->changes[cr->count]);
    cr->seen = 0;
    if (s_members(r, '}', 0, s_change_member, cr) || !(cr->seen & 1u << S_FIELD))
        return S_DECLINE;
    cr->count++;
    return 0;
}

/* Reads "changes" (not null): an array of change objects, into changes (OB_CHANGES_MAX
   entries); *ret_count of them. */
static int
s_changes(s_reader_t *r, ob_change_t *changes, size_t *ret_count)
{
    s_change_read_t cr = {changes, 0, 0};
    if (!s_take(r, '[') || s_members(r, ']', 0, s_change, &cr))
        return S_DECLINE;
    *ret_count = cr.count;
    return 0;
}

/* The event's values as read. */
typedef struct s_fields {
    ob_event_t e;                        /* strings point into the arena */
    const char *time_text;               /* "time", or NULL */
    uint64_t time_us;                    /* "time_us" (null: 0) */
    unsigned seen;                       /* bit per key of s_keys given */
    ob_change_t changes[OB_CHANGES_MAX]; /* "changes" */
    uint8_t *bin;                        /* "data" given as base64, decoded; owned */
    char id[OB_EVENT_JSON_ID_TEXT];      /* a generated id */
} s_fields_t;

/* Reads the value of key k into f. */
static int
s_field(s_reader_t *r, size_t k, s_fields_t *f)
{
    static const size_t uint_keys[] = {S_TIME_US, S_OMS_ID, S_PROJECT_ID, S_PROJECT_ITEM_ID,
                                       S_MESSAGE_ID};
    uint64_t *uint_dst[] = {&f->time_us, &f->e.oms_id, &f->e.project_id, &f->e.project_item_id,
                            &f->e.message_id};
    switch (k) {
    case S_ID:
        return s_field_string(r, &f->e.id);
    case S_TOPIC:
        return s_field_string(r, &f->e.topic);
    case S_TYPE:
        return s_field_string(r, &f->e.type);
    case S_TIME:
        return s_field_string(r, &f->time_text);
    case S_SOURCE:
        return s_field_string(r, &f->e.source);
    case S_CHANGES:
        if (s_literal(r, "null"))
            return 0;
        f->e.changes = f->changes;
        return s_changes(r, f->changes, &f->e.changes_count);
    case S_DATA:
        return s_data(r, &f->bin, &f->e.data_len);
    default:
        for (size_t i = 0; i < sizeof uint_keys / sizeof uint_keys[0]; i++)
            if (uint_keys[i] == k)
                return s_field_uint(r, uint_dst[i]);
        return S_DECLINE;
    }
}

/* s_member_fn of the event object: a key of s_keys, once, and its value. */
static int
s_event_member(s_reader_t *r, void *arg)
{
    s_fields_t *f = arg;
    const char *key;
    size_t len;
    if (s_key(r, &key, &len))
        return S_DECLINE;
    size_t k = s_lookup(key, len, s_keys, S_KEYS);
    if (k == S_KEYS || (f->seen & 1u << k))
        return S_DECLINE;
    f->seen |= 1u << k;
    return s_field(r, k, f);
}

/* Reads the event object, the whole text. */
static int
s_event(s_reader_t *r, s_fields_t *f)
{
    s_space(r);
    if (!s_take(r, '{') || s_members(r, '}', 0, s_event_member, f))
        return S_DECLINE;
    s_space(r);
    return r->p == r->end ? 0 : S_DECLINE;
}

/* Applies ob_event_json_read_tree's rules beyond the JSON to the fields read. */
static int
s_complete(s_fields_t *f, const char *topic, s_reader_t *r)
{
    ob_event_t *e = &f->e;
    if (topic && *topic) {
        if (e->topic && strcmp(e->topic, topic))
            return S_DECLINE;
        e->topic = topic;
    }
    if (!e->topic || !e->type)
        return S_DECLINE;
    if (!e->id) {
        if (ob_event_json_new_id(f->id)) {
            r->nomem = 1;
            return S_DECLINE;
        }
        e->id = f->id;
    }
    int has_time_us = (f->seen & 1u << S_TIME_US) != 0;
    if (f->time_text) {
        uint64_t parsed = 0;
        if (ob_time_parse(f->time_text, &parsed) || (has_time_us && parsed != f->time_us))
            return S_DECLINE;
        e->time_us = parsed;
    } else
        e->time_us = has_time_us ? f->time_us : ob_event_json_now();
    if (f->bin)
        e->data = f->bin;
    else if (r->out_len) {
        e->data = (const uint8_t *)r->out;
        e->data_len = r->out_len;
    }
    return 0;
}

int
ob_event_json_read(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                   size_t *ret_len)
{
    if (!text || len > OB_EVENT_JSON_MAX)
        return S_DECLINE;
    int rc = S_DECLINE;
    s_reader_t r = {.p = text, .end = text + len, .arena = malloc(len + 1)};
    s_fields_t f = {.time_text = NULL};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    if (!r.arena)
        r.nomem = 1;
    else if (!s_event(&r, &f) && !s_complete(&f, topic, &r)) {
        rc = ob_event_encode(&f.e, &buf, &buf_len);
        r.nomem = rc == -ENOMEM;
        if (rc == 0) {
            *ret_buf = buf;
            *ret_len = buf_len;
        } else
            rc = S_DECLINE;
    }
    if (r.nomem)
        rc = -ENOMEM;
    free(r.arena);
    free(r.out);
    free(f.bin);
    return rc;
}
