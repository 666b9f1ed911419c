/*  ob_jira_json: the small text helpers of orderbus-jira's builders and webhook parser:
    loading untrusted JSON with caps, single-line values, UTF-8-safe cuts, formatting into an
    allocated string. Pure. */
#ifndef OB_JIRA_JSON_H
#define OB_JIRA_JSON_H

#include <jansson.h>
#include <stddef.h>

/* Parses len bytes at text (borrowed) as one JSON object: at most max bytes, no duplicate
   key, nesting at most OB_JIRA_JSON_DEPTH_MAX. *ret_root is the caller's (json_decref).
   Returns 0, OB_ERR_TOO_LARGE (over max, or too deep) or OB_ERR_MALFORMED. */
int ob_jira_json_load(const char *text, size_t len, size_t max, json_t **ret_root);

/* Returns the longest prefix of text (borrowed, NUL-terminated) of at most max bytes that
   ends on a UTF-8 character boundary. */
size_t ob_jira_json_utf8_cut(const char *text, size_t max);

/* Copies text (borrowed) into buf (size bytes, at least 1) as one line: every byte below
   0x20 or 0x7f becomes a space, cut on a UTF-8 boundary to size - 1 bytes. */
void ob_jira_json_line(const char *text, char *buf, size_t size);

/* Returns the string at key of obj (both borrowed; obj may be NULL or not an object), or NULL
   if absent or not a string; borrowed from obj. */
const char *ob_jira_json_str(json_t *obj, const char *key);

/* Returns the printf-formatted text, the caller's to free, or NULL (no memory). */
char *ob_jira_json_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));

#endif
