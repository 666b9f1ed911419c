/*  ob_event_json: the ordering event as JSON, for people and HTTP (the monitor, the gateway).

    ob_event_to_json writes one JSON object with the fields of ob_event_t:
        {"id": "...", "topic": "...", "type": "...",
         "time": "2026-11-29T00:44:53.123456Z", "time_us": 1795913093123456,
         "source": "...", "oms_id": 1, "project_id": 2, "project_item_id": 3, "message_id": 4,
         "changes": [{"field": "status", "before": "a", "after": null}],
         "data": <the data as a JSON value if it is valid JSON, else {"base64": "..."}>}
    Every key is always written (0, "", [] and null for absent values), so that a reader
    never has to guess.

    ob_event_from_json reads such an object back into an encoded event (event.h), strictly:
    unknown keys, wrong JSON types, numbers out of range and every rule of ob_event_encode are
    errors with a message. "time" may be RFC 3339 text or, as "time_us", microseconds; "data"
    is stored as compact JSON text, except an object whose only key is "base64", which is
    decoded. So the output of ob_event_to_json reads back to the same encoded event, byte for
    byte, when its data is not JSON or is compact JSON (as ob_event_from_json stores it);
    other JSON data comes back compact. The JSON library
    (Jansson) is an implementation detail: nothing of it appears here. */
#ifndef OB_EVENT_JSON_H
#define OB_EVENT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/event.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_TIME_TEXT_MAX 32       /* bytes of ob_time_format's text with its NUL: 27 + 1 used */
#define OB_EVENT_JSON_ERR_MAX 160 /* useful size of ob_event_from_json's message buffer */

/* Writes time_us (µs since the epoch, UTC) as RFC 3339 UTC with microseconds,
   "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", into buf (OB_TIME_TEXT_MAX bytes). Returns 0, or
   OB_ERR_INVALID_ARGUMENT for a time past year 9999 (buf then holds ""). */
int ob_time_format(uint64_t time_us, char buf[OB_TIME_TEXT_MAX]);

/* Parses RFC 3339 text (borrowed, NUL-terminated): "YYYY-MM-DDTHH:MM:SS" with an optional
   fraction of 1..9 digits (kept to the microsecond) and "Z" or "+HH:MM"/"-HH:MM" ("t", "z"
   and a space for "T" accepted, as RFC 3339 allows). On success *ret_us is microseconds
   since the epoch. Returns 0 or OB_ERR_INVALID_ARGUMENT (syntax, a field out of range, a
   time before 1970). */
int ob_time_parse(const char *text, uint64_t *ret_us);

/* Writes event (borrowed) as one compact JSON object, described at the top of this file,
   into a new NUL-terminated string: on success *ret_text is the caller's to free() (its
   length is strlen). Returns 0, OB_ERR_INVALID_EVENT (a string that is not UTF-8, a time
   past year 9999, an id over 2^63-1, a NULL id, topic or type) or -ENOMEM. */
int ob_event_to_json(const ob_event_t *event, char **ret_text);

/* Reads JSON text (len bytes, borrowed; at most OB_EVENT_JSON_MAX) holding one event
   object, described at the top of this file, and encodes it with ob_event_encode. topic
   (borrowed; NULL or "" for none) is the event's topic; the object's "topic", if any, must
   then be the same. A missing "id" is generated (a random UUID as 32 lowercase hex digits), a
   missing time is now, a missing "source" is "". On success *ret_buf is the caller's to free() and
   *ret_len its size. On failure writes a one-line message (no newline) into errbuf (errlen
   bytes, may be 0): which field and why. Returns 0, OB_ERR_MALFORMED (not JSON, or not
   one object), OB_ERR_TOO_LARGE (over OB_EVENT_JSON_MAX, or the encoded event over
   OB_EVENT_MAX_CAP), OB_ERR_MISSING_FIELD (no topic, no type), OB_ERR_FIELD_TYPE (a value
   of the wrong JSON type or out of range, an unknown key), OB_ERR_INVALID_TOPIC,
   OB_ERR_INVALID_EVENT (any other rule of ob_event_encode: lengths, character sets, bad
   base64 or time text) or -ENOMEM. */
int ob_event_from_json(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                       size_t *ret_len, char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
