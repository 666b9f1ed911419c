/*  ob_rest: see rest_parse.h. */
#include "rest_parse.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "command.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"
#include "orderbus/pattern.h"

#define S_TOPIC_MP "mp."          /* commands go to mp.<oms_id> (COMMANDS.md) */
#define S_TYPE_COMMAND "command." /* their type: command.<name> */

/* --- errors ------------------------------------------------------------------------------- */

/* HTTP status and code of each refusal (rest_parse.h, openapi.json's ErrorCode). */
static const struct {
    int rc;           /* the code */
    int status;       /* its HTTP status */
    const char *code; /* its "code" */
} s_errors[] = {
    {0, 200, "ok"},
    {OB_ERR_MALFORMED, 400, "malformed"},
    {OB_ERR_TRUNCATED, 400, "malformed"},
    {OB_ERR_MISSING_FIELD, 400, "missing_field"},
    {OB_ERR_FIELD_TYPE, 400, "invalid_field"},
    {OB_ERR_INVALID_TOPIC, 400, "invalid_topic"},
    {OB_ERR_INVALID_EVENT, 400, "invalid_event"},
    {OB_ERR_INVALID_PATTERN, 400, "invalid_pattern"},
    {OB_ERR_INVALID_ARGUMENT, 400, "invalid_argument"},
    {OB_GW_ERR_UNAUTHORIZED, 401, "unauthorized"},
    {OB_ERR_FORBIDDEN, 403, "forbidden"},
    {OB_ERR_NO_SUCH_SUBSCRIPTION, 404, "no_such_subscription"},
    {OB_ERR_NO_SUCH_TOPIC, 404, "no_such_topic"},
    {OB_GW_ERR_NOT_FOUND, 404, "not_found"},
    {OB_GW_ERR_METHOD, 405, "method_not_allowed"},
    {OB_ERR_SUBSCRIPTION_EXISTS, 409, "subscription_exists"},
    {OB_ERR_TOO_LARGE, 413, "too_large"},
    {OB_GW_ERR_MEDIA_TYPE, 415, "unsupported_media_type"},
    {OB_ERR_LIMIT, 429, "rate_limited"},
    {OB_ERR_BUSY, 503, "unavailable"},
    {OB_ERR_CLOSED, 503, "unavailable"},
    {OB_ERR_SHUTDOWN, 503, "unavailable"},
    {OB_ERR_HELLO_REQUIRED, 503, "unavailable"},
    {OB_ERR_STORAGE, 503, "unavailable"},
    {OB_ERR_TIMEOUT, 504, "timeout"},
};
#define S_ERRORS (sizeof s_errors / sizeof s_errors[0])
#define S_STATUS_INTERNAL 500      /* anything else */
#define S_CODE_INTERNAL "internal" /* its code */

int
ob_rest_status(int rc)
{
    for (size_t i = 0; i < S_ERRORS; i++)
        if (s_errors[i].rc == rc)
            return s_errors[i].status;
    return S_STATUS_INTERNAL;
}

const char *
ob_rest_code(int rc)
{
    for (size_t i = 0; i < S_ERRORS; i++)
        if (s_errors[i].rc == rc)
            return s_errors[i].code;
    return S_CODE_INTERNAL;
}

const char *
ob_rest_strerror(int rc)
{
    switch (rc) {
    case OB_GW_ERR_UNAUTHORIZED:
        return "no valid bearer token";
    case OB_GW_ERR_MEDIA_TYPE:
        return "unsupported media type";
    case OB_GW_ERR_NOT_FOUND:
        return "not found";
    case OB_GW_ERR_METHOD:
        return "method not allowed";
    default:
        return ob_strerror(rc);
    }
}

char *
ob_rest_error_json(int rc, const char *message)
{
    if (!message || !message[0])
        message = ob_rest_strerror(rc);
    json_t *text = json_string(message);
    if (!text) /* not UTF-8 (or no memory): the generic text */
        text = json_string(ob_rest_strerror(rc));
    json_t *root = json_pack("{s:{s:s,s:o*}}", "error", "code", ob_rest_code(rc), "message", text);
    char *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return out;
}

/* Writes a message into errbuf and returns rc. */
static int s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* --- media type ----------------------------------------------------------------------------- */

/* Returns text without leading and trailing spaces and tabs, as start and *len. */
static const char *
s_trim(const char *text, size_t *len)
{
    while (*len && (*text == ' ' || *text == '\t'))
        text++, (*len)--;
    while (*len && (text[*len - 1] == ' ' || text[*len - 1] == '\t'))
        (*len)--;
    return text;
}

/* Returns 1 if the len bytes at text are word, ignoring case. */
static int
s_is(const char *text, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(text, word, len) == 0;
}

int
ob_rest_media_type(const char *content_type, ob_rest_media_t *ret_media, char *errbuf,
                   size_t errlen)
{
    if (!content_type || !content_type[0])
        return s_fail(errbuf, errlen, OB_GW_ERR_MEDIA_TYPE,
                      "Content-Type missing: send application/json (or application/x-ndjson "
                      "for a batch)");
    size_t total = strnlen(content_type, OB_GW_CONTENT_TYPE_MAX + 1);
    if (total > OB_GW_CONTENT_TYPE_MAX)
        return s_fail(errbuf, errlen, OB_GW_ERR_MEDIA_TYPE, "Content-Type over %d bytes",
                      OB_GW_CONTENT_TYPE_MAX);
    const char *semi = memchr(content_type, ';', total);
    size_t len = semi ? (size_t)(semi - content_type) : total;
    const char *type = s_trim(content_type, &len);
    ob_rest_media_t media;
    if (s_is(type, len, "application/json"))
        media = OB_REST_MEDIA_JSON;
    else if (s_is(type, len, "application/x-ndjson") || s_is(type, len, "application/ndjson"))
        media = OB_REST_MEDIA_NDJSON;
    else
        return s_fail(errbuf, errlen, OB_GW_ERR_MEDIA_TYPE,
                      "Content-Type '%.*s' is not application/json or application/x-ndjson",
                      (int)(len > 64 ? 64 : len), type);
    /* parameters: ; name=value ...; only charset means anything to us */
    while (semi) {
        const char *param = semi + 1;
        const char *end = content_type + total;
        semi = memchr(param, ';', (size_t)(end - param));
        size_t plen = (size_t)((semi ? semi : end) - param);
        param = s_trim(param, &plen);
        const char *eq = memchr(param, '=', plen);
        if (!eq || !s_is(param, (size_t)(eq - param), "charset"))
            continue;
        size_t vlen = plen - (size_t)(eq + 1 - param);
        const char *value = eq + 1;
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"')
            value++, vlen -= 2;
        if (!s_is(value, vlen, "utf-8") && !s_is(value, vlen, "utf8"))
            return s_fail(errbuf, errlen, OB_GW_ERR_MEDIA_TYPE,
                          "charset '%.*s' is not utf-8 (JSON is UTF-8, RFC 8259)",
                          (int)(vlen > 32 ? 32 : vlen), value);
    }
    *ret_media = media;
    return 0;
}

/* --- JSON helpers --------------------------------------------------------------------------- */

/* Loads text (len bytes, at most max) as one JSON value (any kind with any != 0, else an
   object). On success *ret_root is a new reference. */
static int
s_load(const char *text, size_t len, size_t max, int any, json_t **ret_root, char *errbuf,
       size_t errlen)
{
    if (len > max)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "body over %zu bytes", max);
    json_error_t err;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        /* Jansson names a syntax error, but returns from most failed allocations without a
           word (no text, code unknown). Its text quotes the input: not repeated. */
        enum json_error_code code = json_error_code(&err);
        if (code == json_error_out_of_memory || (code == json_error_unknown && !err.text[0]))
            return s_fail(errbuf, errlen, -ENOMEM, "out of memory");
        if (code == json_error_duplicate_key)
            return s_fail(errbuf, errlen, OB_ERR_MALFORMED, "a key is repeated (at byte %d)",
                          err.position);
        return s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not JSON (error at byte %d)",
                      err.position);
    }
    if (!any && !json_is_object(root)) {
        json_decref(root);
        return s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not a JSON object");
    }
    *ret_root = root;
    return 0;
}

/* Checks that every key of obj is one of keys (NULL-terminated). */
static int
s_known_keys(json_t *obj, const char *const *keys, char *errbuf, size_t errlen)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        const char *const *k = keys;
        while (*k && strcmp(*k, key))
            k++;
        if (!*k)
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "unknown key '%.64s'", key);
    }
    return 0;
}

/* Reads obj.key, an integer min..max, into *ret_value; absent: def. */
static int
s_get_uint(json_t *obj, const char *key, uint64_t min, uint64_t max, uint64_t def,
           uint64_t *ret_value, char *errbuf, size_t errlen)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *ret_value = def;
        return 0;
    }
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : -1;
    if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an integer %" PRIu64 "..%" PRIu64,
                      key, min, max);
    *ret_value = (uint64_t)i;
    return 0;
}

/* --- query and path values ----------------------------------------------------------------- */

int
ob_rest_parse_uint(const char *text, const char *name, uint64_t min, uint64_t max,
                   uint64_t *ret_value, char *errbuf, size_t errlen)
{
    if (!text)
        return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "%s: required", name);
    size_t len = strnlen(text, OB_GW_DECIMAL_MAX + 1);
    int ok = len >= 1 && len <= OB_GW_DECIMAL_MAX && (text[0] != '0' || len == 1);
    uint64_t value = 0;
    for (size_t i = 0; ok && i < len; i++) {
        unsigned digit = (unsigned)(text[i] - '0');
        if (text[i] < '0' || text[i] > '9' || value > (UINT64_MAX - digit) / 10)
            ok = 0;
        else
            value = value * 10 + digit;
    }
    if (!ok || value < min || value > max)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE,
                      "%s: not a decimal integer %" PRIu64 "..%" PRIu64, name, min, max);
    *ret_value = value;
    return 0;
}

int
ob_rest_parse_read(const char *from_seq, const char *from_time, const char *limit,
                   ob_rest_read_t *ret_read, char *errbuf, size_t errlen)
{
    uint64_t seq = 1, time_us = 0, count = OB_GW_READ_LIMIT_DEFAULT;
    int rc = 0;
    if (from_seq)
        rc = ob_rest_parse_uint(from_seq, "from_seq", 1, INT64_MAX, &seq, errbuf, errlen);
    if (!rc && limit)
        rc = ob_rest_parse_uint(limit, "limit", 1, OB_FETCH_RANGE_MAX, &count, errbuf, errlen);
    if (!rc && from_time && (ob_time_parse(from_time, &time_us) || time_us == 0))
        rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE,
                    "from_time: not RFC 3339 text after 1970 (\"2026-11-29T00:00:00Z\")");
    if (rc)
        return rc;
    ret_read->from_seq = seq;
    ret_read->from_time = time_us;
    ret_read->limit = (uint32_t)count;
    return 0;
}

/* --- events and batches --------------------------------------------------------------------- */

int
ob_rest_parse_event(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                    size_t *ret_len, char *errbuf, size_t errlen)
{
    if (len > OB_GW_REST_BODY_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "body over %u bytes", OB_GW_REST_BODY_MAX);
    return ob_event_from_json(text ? text : "", len, topic, ret_buf, ret_len, errbuf, errlen);
}

void
ob_rest_batch_destroy(ob_rest_batch_t **self_p)
{
    ob_rest_batch_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        free(self->events[i]);
    free(self->events);
    free(self->lens);
    free(self);
    *self_p = NULL;
}

/* Appends the event in text (len bytes) to batch (room for it allocated), number being its
   place (1-based) for messages. */
static int
s_batch_add(ob_rest_batch_t *batch, const char *text, size_t len, const char *topic, char *errbuf,
            size_t errlen)
{
    char message[OB_GW_REST_ERR_MAX] = "";
    size_t number = batch->count + 1;
    if (batch->count >= OB_GW_BATCH_EVENTS_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "more than %d events in a batch",
                      OB_GW_BATCH_EVENTS_MAX);
    int rc = ob_event_from_json(text, len, topic, &batch->events[batch->count],
                                &batch->lens[batch->count], message, sizeof message);
    if (rc)
        return s_fail(errbuf, errlen, rc, "event %zu: %s", number, message);
    batch->count++;
    return 0;
}

/* Returns 1 if c is JSON whitespace (RFC 8259). */
static int
s_json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Returns the end of the array element that starts at p (before end): the first ',' or ']'
   outside strings and brackets, or end if there is none. Whatever it skips is checked by
   ob_event_from_json, which reads the element in full: this only finds where it stops, so
   a wrong guess in malformed text ends in a refusal, never in an accepted event. */
static const char *
s_element_end(const char *p, const char *end)
{
    size_t depth = 0;
    int in_string = 0;
    for (; p < end; p++) {
        char c = *p;
        if (in_string) {
            while (c != '"' && c != '\\' && ++p < end) /* the bulk of an event's bytes */
                c = *p;
            if (p == end)
                break;
            if (c == '\\')
                p++; /* the escaped character, whatever it is */
            else
                in_string = 0;
        } else if (c == '"')
            in_string = 1;
        else if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && depth)
            depth--;
        else if (depth == 0 && (c == ',' || c == ']'))
            return p;
    }
    return end;
}

/* Fills batch from a JSON array, reading each element once: the array's text is split into
   its elements (s_element_end), each of which ob_event_from_json reads, rather than being
   loaded as a whole and each element written out again for it (three passes over every
   byte). Returns 0, OB_ERR_MALFORMED when the array's own syntax is wrong (no '[', a
   missing ',' or ']', text after it), or the first bad event's code. */
static int
s_batch_split(ob_rest_batch_t *batch, const char *text, size_t len, const char *topic, char *errbuf,
              size_t errlen)
{
    const char *p = text, *end = text + len;
    while (p < end && s_json_space(*p))
        p++;
    if (p == end || *p != '[')
        return OB_ERR_MALFORMED;
    p++;
    while (p < end && s_json_space(*p))
        p++;
    if (p < end && *p == ']') /* [] */
        p++;
    else
        for (;;) {
            const char *stop = s_element_end(p, end);
            if (stop == end)
                return OB_ERR_MALFORMED;
            const char *last = stop;
            while (last > p && s_json_space(last[-1]))
                last--;
            int rc = s_batch_add(batch, p, (size_t)(last - p), topic, errbuf, errlen);
            if (rc)
                return rc;
            p = stop + 1;
            if (*stop == ']')
                break;
        }
    while (p < end && s_json_space(*p))
        p++;
    return p == end ? 0 : OB_ERR_MALFORMED;
}

/* Fills batch from a JSON array. */
static int
s_batch_array(ob_rest_batch_t *batch, const char *text, size_t len, const char *topic, char *errbuf,
              size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    int rc = s_batch_split(batch, text, len, topic, errbuf, errlen);
    if (rc != OB_ERR_MALFORMED)
        return rc;
    /* Refused as malformed: the message comes from loading the whole body, as it says where
       the JSON breaks (and, unlike Jansson's text, quotes nothing of it). An array that
       loads has a malformed element: its message (event N: ...) stands. */
    char message[OB_GW_REST_ERR_MAX] = "";
    json_t *root = NULL;
    if ((rc = s_load(text, len, OB_GW_REST_BODY_MAX, 1, &root, message, sizeof message)))
        return s_fail(errbuf, errlen, rc, "%s", message);
    rc = OB_ERR_MALFORMED;
    if (!json_is_array(root))
        s_fail(errbuf, errlen, rc,
               "a batch is a JSON array of events (or NDJSON, application/x-ndjson)");
    else if (!errbuf || errlen == 0 || !errbuf[0])
        s_fail(errbuf, errlen, rc, "not a JSON array of events");
    json_decref(root);
    return rc;
}

/* Fills batch from NDJSON. */
static int
s_batch_ndjson(ob_rest_batch_t *batch, const char *text, size_t len, const char *topic,
               char *errbuf, size_t errlen)
{
    const char *end = text + len;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - line);
        if (n && line[n - 1] == '\r')
            n--;
        size_t blank = 0;
        while (blank < n && (line[blank] == ' ' || line[blank] == '\t'))
            blank++;
        if (blank < n) {
            int rc = s_batch_add(batch, line, n, topic, errbuf, errlen);
            if (rc)
                return rc;
        }
        line = nl ? nl + 1 : end;
    }
    return 0;
}

int
ob_rest_parse_batch(const char *text, size_t len, ob_rest_media_t media, const char *topic,
                    ob_rest_batch_t **ret_batch, char *errbuf, size_t errlen)
{
    if (len > OB_GW_REST_BODY_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "body over %u bytes", OB_GW_REST_BODY_MAX);
    if (!text)
        text = "";
    ob_rest_batch_t *batch = calloc(1, sizeof *batch);
    if (batch) {
        batch->events = calloc(OB_GW_BATCH_EVENTS_MAX, sizeof *batch->events);
        batch->lens = calloc(OB_GW_BATCH_EVENTS_MAX, sizeof *batch->lens);
    }
    int rc = 0;
    if (!batch || !batch->events || !batch->lens)
        rc = s_fail(errbuf, errlen, -ENOMEM, "out of memory");
    else if (media == OB_REST_MEDIA_NDJSON)
        rc = s_batch_ndjson(batch, text, len, topic, errbuf, errlen);
    else
        rc = s_batch_array(batch, text, len, topic, errbuf, errlen);
    if (rc == 0 && batch->count == 0)
        rc = s_fail(errbuf, errlen, OB_ERR_MALFORMED, "an empty batch");
    if (rc) {
        ob_rest_batch_destroy(&batch);
        return rc;
    }
    *ret_batch = batch;
    return 0;
}

/* --- subscriptions -------------------------------------------------------------------------- */

static const char *const s_sub_keys[] = {"name",         "patterns",   "types",  "start",
                                         "start_seq",    "start_time", "credit", "ack_wait_ms",
                                         "max_attempts", "backoff_ms", NULL};

/* Returns 1 if name is a subscription name: [a-z0-9_-]+. */
static int
s_sub_name_valid(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return len > 0;
}

/* Reads obj.key, an array of at most max strings of at most size - 1 bytes each, into rows
   (size bytes each), checking each with valid; *ret_count their number. bad is the code of
   a string valid refuses. */
static int
s_get_strings(json_t *obj, const char *key, size_t max, char *rows, size_t size,
              int (*valid)(const char *, size_t), int bad, size_t *ret_count, char *errbuf,
              size_t errlen)
{
    json_t *array = json_object_get(obj, key);
    *ret_count = 0;
    if (!array)
        return 0;
    if (!json_is_array(array))
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an array of strings", key);
    if (json_array_size(array) > max)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s: more than %zu", key, max);
    for (size_t i = 0; i < json_array_size(array); i++) {
        json_t *v = json_array_get(array, i);
        if (!json_is_string(v))
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s[%zu]: not a string", key, i);
        size_t len = json_string_length(v);
        if (len >= size)
            return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s[%zu]: over %zu bytes", key, i,
                          size - 1);
        if (memchr(json_string_value(v), '\0', len) || !valid(json_string_value(v), len))
            return s_fail(errbuf, errlen, bad, "%s[%zu]: invalid", key, i);
        memcpy(rows + i * size, json_string_value(v), len + 1);
    }
    *ret_count = json_array_size(array);
    return 0;
}

/* Reads the start of a subscription into opts. */
static int
s_get_start(json_t *root, ob_sub_options_t *opts, char *errbuf, size_t errlen)
{
    json_t *start = json_object_get(root, "start");
    json_t *seq = json_object_get(root, "start_seq");
    json_t *time = json_object_get(root, "start_time");
    opts->start = OB_START_NEW;
    if (start) {
        int found = 0;
        for (int s = OB_START_NEW; s <= OB_START_TIME && !found; s++)
            if (json_is_string(start) && !strcmp(json_string_value(start), ob_start_name(s))) {
                opts->start = (ob_start_t)s;
                found = 1;
            }
        if (!found)
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE,
                          "start: not \"new\", \"earliest\", \"seq\" or \"time\"");
    }
    if (opts->start == OB_START_SEQ && !seq)
        return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "start_seq: required by \"seq\"");
    if (opts->start == OB_START_TIME && !time)
        return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "start_time: required by \"time\"");
    if (seq && opts->start != OB_START_SEQ)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "start_seq: only with start \"seq\"");
    if (time && opts->start != OB_START_TIME)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "start_time: only with start \"time\"");
    if (seq)
        return s_get_uint(root, "start_seq", 1, INT64_MAX, 0, &opts->start_seq, errbuf, errlen);
    if (time &&
        (!json_is_string(time) || ob_time_parse(json_string_value(time), &opts->start_time)))
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE,
                      "start_time: not RFC 3339 text (\"2026-11-29T00:00:00Z\")");
    return 0;
}

/* Returns the valid() of patterns and types for s_get_strings. */
static int
s_pattern_valid(const char *text, size_t len)
{
    return ob_pattern_valid(text, len);
}

static int
s_type_valid(const char *text, size_t len)
{
    return ob_event_type_valid(text, len);
}

/* Reads the settings of a subscription into opts (0: the broker's default). */
static int
s_get_settings(json_t *root, ob_sub_options_t *opts, char *errbuf, size_t errlen)
{
    uint64_t credit, ack_wait, attempts, backoff;
    int rc = s_get_uint(root, "credit", 1, OB_CREDIT_MAX, 0, &credit, errbuf, errlen);
    if (!rc)
        rc = s_get_uint(root, "ack_wait_ms", OB_ACK_WAIT_MS_MIN, OB_DELAY_MS_MAX, 0, &ack_wait,
                        errbuf, errlen);
    if (!rc)
        rc = s_get_uint(root, "max_attempts", 0, OB_MAX_ATTEMPTS_MAX, OB_MAX_ATTEMPTS_DEFAULT,
                        &attempts, errbuf, errlen);
    if (!rc)
        rc = s_get_uint(root, "backoff_ms", 1, OB_DELAY_MS_MAX, 0, &backoff, errbuf, errlen);
    if (rc)
        return rc;
    opts->credit = (uint32_t)credit;
    opts->ack_wait_ms = (uint32_t)ack_wait;
    opts->max_attempts = attempts == 0 ? OB_ATTEMPTS_UNLIMITED : (uint32_t)attempts;
    opts->backoff_ms = (uint32_t)backoff;
    return 0;
}

int
ob_rest_parse_sub(const char *text, size_t len, ob_rest_sub_t **ret_sub, char *errbuf,
                  size_t errlen)
{
    json_t *root = NULL;
    ob_rest_sub_t *sub = NULL;
    int rc = s_load(text, len, OB_GW_REST_CONTROL_MAX, 0, &root, errbuf, errlen);
    if (rc)
        return rc;
    if ((rc = s_known_keys(root, s_sub_keys, errbuf, errlen)))
        goto out;
    if (!(sub = calloc(1, sizeof *sub))) {
        rc = s_fail(errbuf, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    json_t *name = json_object_get(root, "name");
    if (!name) {
        rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "name: required");
        goto out;
    }
    if (!json_is_string(name) ||
        !s_sub_name_valid(json_string_value(name), json_string_length(name))) {
        rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "name: not a string of a-z, 0-9, _ and -");
        goto out;
    }
    if (json_string_length(name) > OB_SUB_NAME_MAX) {
        rc = s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "name: over %d bytes", OB_SUB_NAME_MAX);
        goto out;
    }
    memcpy(sub->name, json_string_value(name), json_string_length(name) + 1);
    ob_sub_options_t *opts = &sub->options;
    if (!json_object_get(root, "patterns")) {
        rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "patterns: required");
        goto out;
    }
    if ((rc = s_get_strings(root, "patterns", OB_SUB_PATTERNS_MAX, &sub->patterns[0][0],
                            sizeof sub->patterns[0], s_pattern_valid, OB_ERR_INVALID_PATTERN,
                            &opts->pattern_count, errbuf, errlen)) ||
        (rc =
             s_get_strings(root, "types", OB_SUB_TYPES_MAX, &sub->types[0][0], sizeof sub->types[0],
                           s_type_valid, OB_ERR_FIELD_TYPE, &opts->type_count, errbuf, errlen)))
        goto out;
    if (opts->pattern_count == 0) {
        rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "patterns: none");
        goto out;
    }
    if ((rc = s_get_start(root, opts, errbuf, errlen)) ||
        (rc = s_get_settings(root, opts, errbuf, errlen)))
        goto out;
    for (size_t i = 0; i < OB_SUB_PATTERNS_MAX; i++)
        sub->pattern_ptrs[i] = sub->patterns[i];
    for (size_t i = 0; i < OB_SUB_TYPES_MAX; i++)
        sub->type_ptrs[i] = sub->types[i];
    opts->patterns = sub->pattern_ptrs;
    opts->types = opts->type_count ? sub->type_ptrs : NULL;
    *ret_sub = sub;
    sub = NULL;
out:
    free(sub);
    json_decref(root);
    return rc;
}

/* --- fetch, ack, nack ----------------------------------------------------------------------- */

int
ob_rest_parse_fetch(const char *text, size_t len, ob_rest_fetch_t *ret_fetch, char *errbuf,
                    size_t errlen)
{
    static const char *const keys[] = {"max", "wait_ms", NULL};
    uint64_t max = OB_GW_FETCH_DEFAULT, wait_ms = OB_GW_WAIT_MS_DEFAULT;
    if (len > 0) {
        json_t *root = NULL;
        int rc = s_load(text, len, OB_GW_REST_CONTROL_MAX, 0, &root, errbuf, errlen);
        if (rc)
            return rc;
        if (!(rc = s_known_keys(root, keys, errbuf, errlen)) &&
            !(rc = s_get_uint(root, "max", 1, OB_GW_FETCH_MAX, OB_GW_FETCH_DEFAULT, &max, errbuf,
                              errlen)))
            rc = s_get_uint(root, "wait_ms", 0, OB_GW_WAIT_MS_MAX, OB_GW_WAIT_MS_DEFAULT, &wait_ms,
                            errbuf, errlen);
        json_decref(root);
        if (rc)
            return rc;
    }
    ret_fetch->max = (uint32_t)max;
    ret_fetch->wait_ms = (uint32_t)wait_ms;
    return 0;
}

void
ob_rest_ack_destroy(ob_rest_ack_t **self_p)
{
    ob_rest_ack_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    free(self->handles);
    free(self);
    *self_p = NULL;
}

/* Decodes the handles array of root into ack. */
static int
s_get_handles(json_t *root, const uint8_t *key, const char *sub, ob_rest_ack_t *ack, char *errbuf,
              size_t errlen)
{
    json_t *array = json_object_get(root, "handles");
    if (!array)
        return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "handles: required");
    if (!json_is_array(array) || json_array_size(array) == 0)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "handles: not an array of handles");
    size_t count = json_array_size(array);
    if (count > OB_GW_ACK_HANDLES_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "handles: more than %d",
                      OB_GW_ACK_HANDLES_MAX);
    if (!(ack->handles = calloc(count, sizeof *ack->handles)))
        return s_fail(errbuf, errlen, -ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *v = json_array_get(array, i);
        if (!json_is_string(v))
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "handles[%zu]: not a string", i);
        if (ob_rest_handle_decode(key, json_string_value(v), json_string_length(v),
                                  &ack->handles[i]))
            return s_fail(errbuf, errlen, OB_ERR_INVALID_ARGUMENT,
                          "handles[%zu]: not a delivery handle of this gateway", i);
        if (sub && strcmp(ack->handles[i].sub, sub))
            return s_fail(errbuf, errlen, OB_ERR_INVALID_ARGUMENT,
                          "handles[%zu]: a delivery of another subscription", i);
        ack->count++;
    }
    return 0;
}

int
ob_rest_parse_ack(const char *text, size_t len, int nack, const uint8_t key[OB_GW_HANDLE_KEY_BYTES],
                  const char *sub, ob_rest_ack_t **ret_ack, char *errbuf, size_t errlen)
{
    static const char *const ack_keys[] = {"handles", NULL};
    static const char *const nack_keys[] = {"handles", "delay_ms", NULL};
    json_t *root = NULL;
    ob_rest_ack_t *ack = NULL;
    uint64_t delay = 0;
    int rc = s_load(text, len, OB_GW_REST_CONTROL_MAX, 0, &root, errbuf, errlen);
    if (rc)
        return rc;
    if ((rc = s_known_keys(root, nack ? nack_keys : ack_keys, errbuf, errlen)) ||
        (rc = s_get_uint(root, "delay_ms", 0, OB_DELAY_MS_MAX, 0, &delay, errbuf, errlen)))
        goto out;
    if (!(ack = calloc(1, sizeof *ack))) {
        rc = s_fail(errbuf, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    ack->delay_ms = (uint32_t)delay;
    if ((rc = s_get_handles(root, key, sub, ack, errbuf, errlen)))
        goto out;
    *ret_ack = ack;
    ack = NULL;
out:
    ob_rest_ack_destroy(&ack);
    json_decref(root);
    return rc;
}

/* --- commands ------------------------------------------------------------------------------- */

int
ob_rest_command_event(const char *text, size_t len, uint64_t oms_id, const char *source,
                      uint64_t time_us, uint8_t **ret_buf, size_t *ret_len,
                      char ret_id[OB_GW_COMMAND_ID_MAX + 1], char *errbuf, size_t errlen)
{
    if (oms_id == 0)
        return s_fail(errbuf, errlen, OB_ERR_INVALID_ARGUMENT, "oms_id: not an id from 1");
    ob_oms_command_t *cmd = NULL;
    int rc = ob_oms_command_parse(text, len, &cmd, errbuf, errlen);
    if (rc)
        return rc;
    char topic[OB_GW_TOPIC_TEXT], type[OB_EVENT_TYPE_MAX + 1];
    snprintf(topic, sizeof topic, S_TOPIC_MP "%" PRIu64, oms_id);
    snprintf(type, sizeof type, S_TYPE_COMMAND "%s", ob_oms_command_name(cmd->kind));
    ob_event_t event = {
        .id = cmd->id,
        .topic = topic,
        .type = type,
        .time_us = time_us,
        .source = source,
        .oms_id = oms_id,
        .project_id = cmd->project_id,
        .project_item_id = cmd->project_item_id,
        .message_id = cmd->message_id,
        .data = (const uint8_t *)text,
        .data_len = len,
    };
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    rc = ob_event_encode(&event, &buf, &buf_len);
    if (rc)
        s_fail(errbuf, errlen, rc, "the command event: %s", ob_strerror(rc));
    else {
        memcpy(ret_id, cmd->id, strlen(cmd->id) + 1);
        *ret_buf = buf;
        *ret_len = buf_len;
    }
    ob_oms_command_destroy(&cmd);
    return rc;
}
