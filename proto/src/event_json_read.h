/*  ob_event_json_read: the two readers behind ob_event_from_json (orderbus/event_json.h),
    internal to liborderbus (not installed).

    ob_event_json_read is a tree-free reader of exactly the event JSON schema: one pass over
    the text, strings decoded into one scratch buffer, "data" written as compact JSON while it
    is read (no Jansson tree, no second dump), then ob_event_encode. It answers only what it
    is sure of: when it returns 0, ob_event_json_read_tree would have returned 0 with the very
    same bytes (but for a generated id or a current time); for everything else (any error,
    and rare shapes it leaves alone: numbers that are not plain, deep or wide data, very long
    numbers) it declines, and ob_event_from_json asks the tree reader, whose answer (code and
    message) stands. So both readers' strictness, codes and caps are one: the tree reader's.
    tests/fuzz/fuzz_event_json_diff.c compares the two on every input.

    ob_event_json_read_tree is the reference: Jansson's json_loadb (duplicate keys refused),
    the checks of each field, and json_dumps of "data" (compact, in its order). */
#ifndef OB_EVENT_JSON_READ_H
#define OB_EVENT_JSON_READ_H

#include <stddef.h>
#include <stdint.h>

#define OB_EVENT_JSON_DECLINED 1 /* ob_event_json_read: not answered, ask the tree reader */
#define OB_EVENT_JSON_ID_TEXT 33 /* bytes of a generated id with its NUL: 32 hex digits */

/* Reads text (len bytes, borrowed) as ob_event_from_json does, for topic (borrowed, NULL or
   "" for none). On success *ret_buf is the caller's to free() and *ret_len its size. Returns
   0, OB_EVENT_JSON_DECLINED or -ENOMEM; on failure nothing is written. */
int ob_event_json_read(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                       size_t *ret_len);

/* ob_event_from_json with Jansson's tree, as documented in orderbus/event_json.h. */
int ob_event_json_read_tree(const char *text, size_t len, const char *topic, uint8_t **ret_buf,
                            size_t *ret_len, char *errbuf, size_t errlen);

/* Writes a new event id into id: a random UUID as 32 lowercase hex digits. Returns 0 or
   -ENOMEM. */
int ob_event_json_new_id(char id[OB_EVENT_JSON_ID_TEXT]);

/* Returns the current time in µs since the epoch (CLOCK_REALTIME): the time of an event
   that gives none. */
uint64_t ob_event_json_now(void);

#endif
