/*  ob_event_json: see orderbus/event_json.h. Jansson builds and reads the JSON; the event's
    rules stay ob_event_encode's, so that JSON cannot make an event the codec would refuse. */
#include "orderbus/event_json.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "event_json_read.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"

#define S_YEAR_MAX 9999            /* RFC 3339 has four-digit years */
#define S_US_PER_S 1000000ull      /* microseconds per second */
#define S_DAYS_TO_YEAR_MAX 2932897 /* days from 1970-01-01 to 10000-01-01 */

_Static_assert(OB_EVENT_JSON_ID_TEXT == 2 * ZUUID_LEN + 1, "a generated id is a UUID in hex");

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
s_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: the date of days since 1970-01-01 (days >= 0). */
static void
s_civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    z += 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    *ret_y = y + (m <= 2);
    *ret_m = m;
    *ret_d = d;
}

int
ob_time_format(uint64_t time_us, char buf[OB_TIME_TEXT_MAX])
{
    uint64_t secs = time_us / S_US_PER_S;
    uint64_t days = secs / 86400;
    buf[0] = '\0';
    if (days >= S_DAYS_TO_YEAR_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    int64_t y;
    unsigned m, d;
    s_civil_from_days((int64_t)days, &y, &m, &d);
    unsigned sod = (unsigned)(secs % 86400);
    /* The moduli change nothing (every value is in range) but tell the compiler so. */
    snprintf(buf, OB_TIME_TEXT_MAX, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", (unsigned)y % 10000u,
             m % 100u, d % 100u, sod / 3600 % 100u, sod / 60 % 60, sod % 60,
             (unsigned)(time_us % S_US_PER_S));
    return 0;
}

/* Reads exactly n digits at *p into *ret, moving *p. Returns 0 or -1. */
static int
s_digits(const char **p, int n, unsigned *ret)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (unsigned)(c - '0');
    }
    *p += n;
    *ret = v;
    return 0;
}

int
ob_time_parse(const char *text, uint64_t *ret_us)
{
    const char *p = text;
    unsigned y, mo, d, h, mi, s, oh = 0, om = 0;
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) || *p++ != '-' ||
        s_digits(&p, 2, &d))
        return OB_ERR_INVALID_ARGUMENT;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return OB_ERR_INVALID_ARGUMENT;
    p++;
    if (s_digits(&p, 2, &h) || *p++ != ':' || s_digits(&p, 2, &mi) || *p++ != ':' ||
        s_digits(&p, 2, &s))
        return OB_ERR_INVALID_ARGUMENT;
    uint64_t frac = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        uint64_t scale = 100000;
        while (*p >= '0' && *p <= '9' && n < 9) {
            frac += (uint64_t)(*p - '0') * scale;
            scale /= 10;
            p++;
            n++;
        }
        if (n == 0 || (*p >= '0' && *p <= '9'))
            return OB_ERR_INVALID_ARGUMENT;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (s_digits(&p, 2, &oh) || *p++ != ':' || s_digits(&p, 2, &om) || oh > 23 || om > 59)
            return OB_ERR_INVALID_ARGUMENT;
    } else
        return OB_ERR_INVALID_ARGUMENT;
    if (*p)
        return OB_ERR_INVALID_ARGUMENT;
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) ||
        h > 23 || mi > 59 || s > 60) /* 60: a leap second, read as the next second */
        return OB_ERR_INVALID_ARGUMENT;
    int64_t secs = s_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    secs -= sign * (int64_t)(oh * 3600 + om * 60);
    if (secs < 0)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_us = (uint64_t)secs * S_US_PER_S + frac;
    return 0;
}

/* --- event -> JSON ------------------------------------------------------------------------ */

/* A JSON string of len bytes at s (NULL: "" or, if null_ok, null), or NULL if not UTF-8. */
static json_t *
s_string(const char *s, size_t len, int null_ok)
{
    if (!s)
        return null_ok ? json_null() : json_string("");
    return json_stringn(s, len);
}

/* Sets key of obj to value (stolen); returns 0, or -1 if value is NULL. */
static int
s_set(json_t *obj, const char *key, json_t *value)
{
    return value ? json_object_set_new(obj, key, value) : -1;
}

int
ob_event_to_json(const ob_event_t *event, char **ret_text)
{
    assert(event && ret_text);
    int rc = OB_ERR_INVALID_EVENT;
    char *text = NULL;
    json_t *obj = json_object();
    json_t *changes = json_array();
    char when[OB_TIME_TEXT_MAX];
    if (!obj || !changes) {
        rc = -ENOMEM;
        goto out;
    }
    /* JSON numbers are read back as signed 64-bit integers (Jansson): larger ids would
       come back negative. */
    if (!event->id || !event->topic || !event->type || ob_time_format(event->time_us, when) ||
        event->oms_id > INT64_MAX || event->project_id > INT64_MAX ||
        event->project_item_id > INT64_MAX || event->message_id > INT64_MAX)
        goto out;
    const char *source = event->source ? event->source : "";
    if (s_set(obj, "id", s_string(event->id, strlen(event->id), 0)) ||
        s_set(obj, "topic", s_string(event->topic, strlen(event->topic), 0)) ||
        s_set(obj, "type", s_string(event->type, strlen(event->type), 0)) ||
        s_set(obj, "time", json_string(when)) ||
        s_set(obj, "time_us", json_integer((json_int_t)event->time_us)) ||
        s_set(obj, "source", s_string(source, strlen(source), 0)) ||
        s_set(obj, "oms_id", json_integer((json_int_t)event->oms_id)) ||
        s_set(obj, "project_id", json_integer((json_int_t)event->project_id)) ||
        s_set(obj, "project_item_id", json_integer((json_int_t)event->project_item_id)) ||
        s_set(obj, "message_id", json_integer((json_int_t)event->message_id)))
        goto out;
    for (size_t i = 0; i < event->changes_count; i++) {
        const ob_change_t *c = &event->changes[i];
        json_t *entry = json_object();
        if (!entry || json_array_append_new(changes, entry) ||
            s_set(entry, "field", s_string(c->field, strlen(c->field), 0)) ||
            s_set(entry, "before", s_string(c->before, c->before ? strlen(c->before) : 0, 1)) ||
            s_set(entry, "after", s_string(c->after, c->after ? strlen(c->after) : 0, 1)))
            goto out;
    }
    if (json_object_set(obj, "changes", changes))
        goto out;

    json_t *data = NULL;
    if (event->data_len == 0)
        data = json_null();
    else {
        /* JSON data as itself; anything else (binary, text that is not JSON) as base64. */
        data = json_loadb((const char *)event->data, event->data_len, JSON_DECODE_ANY, NULL);
        if (!data) {
            char *b64 = ob_json_b64_encode(event->data, event->data_len);
            data = b64 ? json_pack("{s:s}", "base64", b64) : NULL;
            free(b64);
            if (!data) {
                rc = -ENOMEM;
                goto out;
            }
        }
    }
    if (s_set(obj, "data", data))
        goto out;
    text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = -ENOMEM;
        goto out;
    }
    *ret_text = text;
    rc = 0;
out:
    json_decref(changes);
    json_decref(obj);
    return rc;
}

/* --- JSON -> event ------------------------------------------------------------------------ */

static int s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Sets *ret to the string value of key in obj (NULL if absent). Returns 0 or
   OB_ERR_FIELD_TYPE. A string with a NUL byte is refused: the event's strings cannot hold
   one. */
static int
s_get_string(json_t *obj, const char *key, const char **ret)
{
    json_t *v = json_object_get(obj, key);
    *ret = NULL;
    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return OB_ERR_FIELD_TYPE;
    *ret = json_string_value(v);
    return 0;
}

/* Sets *ret to the non-negative integer of key in obj (0 if absent or null). */
static int
s_get_uint(json_t *obj, const char *key, uint64_t *ret)
{
    json_t *v = json_object_get(obj, key);
    *ret = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return OB_ERR_FIELD_TYPE;
    *ret = (uint64_t)json_integer_value(v);
    return 0;
}

static const char *const s_keys[] = {
    "id",         "topic",           "type",       "time",    "time_us", "source", "oms_id",
    "project_id", "project_item_id", "message_id", "changes", "data"};

int
ob_event_json_new_id(char id[OB_EVENT_JSON_ID_TEXT])
{
    zuuid_t *uuid = zuuid_new();
    if (!uuid)
        return -ENOMEM;
    const char *hex = zuuid_str(uuid); /* upper case: ids read better in lower */
    for (size_t i = 0; i < OB_EVENT_JSON_ID_TEXT; i++)
        id[i] = (char)tolower((unsigned char)hex[i]);
    zuuid_destroy(&uuid);
    return 0;
}

uint64_t
ob_event_json_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * S_US_PER_S + (uint64_t)ts.tv_nsec / 1000;
}

int
ob_event_from_json(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                   size_t *ret_len, char *errbuf, size_t errlen)
{
    assert(text && ret_buf && ret_len);
    if (errlen)
        errbuf[0] = '\0';
    /* The tree-free reader answers what it is sure of (nearly every valid event); the tree
       reader everything else, refusals included, so that their words are its own. */
    int rc = ob_event_json_read(text, len, topic, ret_buf, ret_len);
    if (rc != OB_EVENT_JSON_DECLINED)
        return rc == -ENOMEM ? s_fail(errbuf, errlen, rc, "out of memory") : rc;
    return ob_event_json_read_tree(text, len, topic, ret_buf, ret_len, errbuf, errlen);
}

int
ob_event_json_read_tree(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                        size_t *ret_len, char *errbuf, size_t errlen)
{
    assert(text && ret_buf && ret_len);
    if (errlen)
        errbuf[0] = '\0';
    if (len > OB_EVENT_JSON_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "JSON over %u bytes", OB_EVENT_JSON_MAX);
    int rc = 0;
    ob_change_t *changes = NULL;
    uint8_t *data = NULL;
    char *data_text = NULL;
    json_error_t jerr;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        rc = s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not JSON: %s (line %d, column %d)",
                    jerr.text, jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(obj)) {
        rc = s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not a JSON object");
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        size_t k = 0;
        while (k < sizeof s_keys / sizeof s_keys[0] && strcmp(key, s_keys[k]))
            k++;
        if (k == sizeof s_keys / sizeof s_keys[0]) {
            rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "unknown key \"%.64s\"", key);
            goto out;
        }
    }

    ob_event_t e;
    memset(&e, 0, sizeof e);
    const char *time_text = NULL;
    uint64_t time_us = 0;
    static const char *const str_keys[] = {"id", "topic", "type", "time", "source"};
    const char **str_dst[] = {&e.id, &e.topic, &e.type, &time_text, &e.source};
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++)
        if (s_get_string(obj, str_keys[i], str_dst[i])) {
            rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not a string (without NUL)",
                        str_keys[i]);
            goto out;
        }
    static const char *const uint_keys[] = {"time_us", "oms_id", "project_id", "project_item_id",
                                            "message_id"};
    uint64_t *uint_dst[] = {&time_us, &e.oms_id, &e.project_id, &e.project_item_id, &e.message_id};
    for (size_t i = 0; i < sizeof uint_keys / sizeof uint_keys[0]; i++)
        if (s_get_uint(obj, uint_keys[i], uint_dst[i])) {
            rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an integer >= 0", uint_keys[i]);
            goto out;
        }

    if (topic && *topic) {
        if (e.topic && strcmp(e.topic, topic)) {
            rc = s_fail(errbuf, errlen, OB_ERR_INVALID_TOPIC,
                        "topic: \"%.64s\" in the event, \"%.64s\" given", e.topic, topic);
            goto out;
        }
        e.topic = topic;
    }
    if (!e.topic) {
        rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "topic: missing");
        goto out;
    }
    if (!e.type) {
        rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "type: missing");
        goto out;
    }
    char id[OB_EVENT_JSON_ID_TEXT];
    if (!e.id) {
        if ((rc = ob_event_json_new_id(id)))
            goto out;
        e.id = id;
    }
    if (time_text) {
        uint64_t parsed = 0;
        if (ob_time_parse(time_text, &parsed)) {
            rc = s_fail(errbuf, errlen, OB_ERR_INVALID_EVENT, "time: not RFC 3339: \"%.40s\"",
                        time_text);
            goto out;
        }
        if (json_object_get(obj, "time_us") && parsed != time_us) {
            rc = s_fail(errbuf, errlen, OB_ERR_INVALID_EVENT, "time and time_us disagree");
            goto out;
        }
        time_us = parsed;
    } else if (!json_object_get(obj, "time_us"))
        time_us = ob_event_json_now();
    e.time_us = time_us;

    json_t *jchanges = json_object_get(obj, "changes");
    if (jchanges && !json_is_null(jchanges)) {
        if (!json_is_array(jchanges)) {
            rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "changes: not an array");
            goto out;
        }
        size_t n = json_array_size(jchanges);
        if (n > OB_CHANGES_MAX) {
            rc = s_fail(errbuf, errlen, OB_ERR_INVALID_EVENT, "changes: more than %d",
                        OB_CHANGES_MAX);
            goto out;
        }
        changes = calloc(n ? n : 1, sizeof *changes);
        if (!changes) {
            rc = -ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *c = json_array_get(jchanges, i);
            json_t *jb = json_is_object(c) ? json_object_get(c, "before") : NULL;
            json_t *ja = json_is_object(c) ? json_object_get(c, "after") : NULL;
            if (!json_is_object(c) || json_object_size(c) > (size_t)1 + !!jb + !!ja ||
                s_get_string(c, "field", &changes[i].field) ||
                (jb && !json_is_null(jb) && s_get_string(c, "before", &changes[i].before)) ||
                (ja && !json_is_null(ja) && s_get_string(c, "after", &changes[i].after))) {
                rc = s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE,
                            "changes[%zu]: an object of field, before, after (strings or null)", i);
                goto out;
            }
            if (!changes[i].field) {
                rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "changes[%zu]: no field", i);
                goto out;
            }
        }
        e.changes = changes;
        e.changes_count = n;
    }

    json_t *jdata = json_object_get(obj, "data");
    if (jdata && !json_is_null(jdata)) {
        json_t *b64 = json_is_object(jdata) && json_object_size(jdata) == 1
                          ? json_object_get(jdata, "base64")
                          : NULL;
        if (b64 && json_is_string(b64)) {
            rc = ob_json_b64_decode(json_string_value(b64), json_string_length(b64), &data,
                                    &e.data_len);
            if (rc) {
                rc = s_fail(errbuf, errlen, rc, "data.base64: %s",
                            rc == -ENOMEM ? "out of memory" : "not padded base64");
                goto out;
            }
            e.data = data;
        } else {
            data_text = json_dumps(jdata, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            if (!data_text) {
                rc = -ENOMEM;
                goto out;
            }
            e.data = (const uint8_t *)data_text;
            e.data_len = strlen(data_text);
        }
    }

    rc = ob_event_encode(&e, ret_buf, ret_len);
    if (rc)
        s_fail(errbuf, errlen, rc, "%s", ob_strerror(rc));
out:
    free(changes);
    free(data);
    free(data_text);
    json_decref(obj);
    return rc;
}
