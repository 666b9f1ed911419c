/*  ob_jira_json: see jira_json.h. */
#include "jira_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jira_limits.h"
#include "orderbus/error.h"

#define S_DEL 0x7f /* ASCII DEL, a control character */

/* Returns 1 if no array or object of v nests deeper than OB_JIRA_JSON_DEPTH_MAX (v at
   depth). */
static int
s_depth_ok(json_t *v, size_t depth)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 1;
    if (depth >= OB_JIRA_JSON_DEPTH_MAX)
        return 0;
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) if (!s_depth_ok(child, depth + 1)) return 0;
    } else {
        json_array_foreach(v, i, child) if (!s_depth_ok(child, depth + 1)) return 0;
    }
    return 1;
}

int
ob_jira_json_load(const char *text, size_t len, size_t max, json_t **ret_root)
{
    if (len > max)
        return OB_ERR_TOO_LARGE;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return OB_ERR_MALFORMED;
    }
    if (!s_depth_ok(root, 0)) {
        json_decref(root);
        return OB_ERR_TOO_LARGE;
    }
    *ret_root = root;
    return 0;
}

size_t
ob_jira_json_utf8_cut(const char *text, size_t max)
{
    size_t len = strlen(text);
    if (len <= max)
        return len;
    /* Back off continuation bytes (10xxxxxx) so that the cut falls before a lead byte. */
    while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
        max--;
    return max;
}

void
ob_jira_json_line(const char *text, char *buf, size_t size)
{
    size_t len = ob_jira_json_utf8_cut(text, size - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        buf[i] = (c < ' ' || c == S_DEL) ? ' ' : (char)c;
    }
    buf[len] = '\0';
}

char *
ob_jira_json_printf(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(NULL, 0, format, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *text = malloc((size_t)n + 1);
    if (!text)
        return NULL;
    va_start(ap, format);
    vsnprintf(text, (size_t)n + 1, format, ap);
    va_end(ap);
    return text;
}

const char *
ob_jira_json_str(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}
