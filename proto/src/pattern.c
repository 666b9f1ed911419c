/*  ob_pattern: see pattern.h. */
#include "orderbus/pattern.h"

#include "orderbus/event.h"
#include "orderbus/limits.h"

#include <string.h>

/* Returns the length of the token starting at s (up to end or the next '.'). */
static size_t
s_token_len(const char *s, const char *end)
{
    const char *p = s;
    while (p < end && *p != '.')
        p++;
    return (size_t)(p - s);
}

/* Returns 1 if the token of len bytes is made of [a-z0-9_-] only. */
static int
s_plain_token(const char *token, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = token[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return len > 0;
}

int
ob_pattern_valid(const char *pattern, size_t len)
{
    if (!pattern || len == 0 || len > OB_TOPIC_MAX)
        return 0;
    const char *p = pattern, *end = pattern + len;
    for (;;) {
        size_t n = s_token_len(p, end);
        int last = p + n == end;
        if (n == 1 && *p == '>') {
            if (!last)
                return 0; /* ">" only as the last token */
        } else if (!(n == 1 && *p == '*') && !s_plain_token(p, n))
            return 0; /* empty token, bad character, or a partial wildcard */
        if (last)
            return 1;
        p += n + 1; /* past the '.'; a trailing '.' leaves an empty token, refused above */
    }
}

int
ob_pattern_match(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len)
{
    if (!ob_pattern_valid(pattern, pattern_len) || !ob_topic_valid(topic, topic_len))
        return 0;
    const char *p = pattern, *p_end = pattern + pattern_len;
    const char *t = topic, *t_end = topic + topic_len;
    for (;;) {
        size_t pn = s_token_len(p, p_end), tn = s_token_len(t, t_end);
        if (pn == 1 && *p == '>')
            return 1; /* the rest, at least one token: t is at a token */
        if (!(pn == 1 && *p == '*') && (pn != tn || memcmp(p, t, pn) != 0))
            return 0;
        int p_last = p + pn == p_end, t_last = t + tn == t_end;
        if (p_last || t_last)
            return p_last && t_last;
        p += pn + 1;
        t += tn + 1;
    }
}

int
ob_pattern_covers(const char *allowed, size_t allowed_len, const char *requested,
                  size_t requested_len)
{
    if (!ob_pattern_valid(allowed, allowed_len) || !ob_pattern_valid(requested, requested_len))
        return 0;
    const char *a = allowed, *a_end = allowed + allowed_len;
    const char *r = requested, *r_end = requested + requested_len;
    for (;;) {
        size_t an = s_token_len(a, a_end), rn = s_token_len(r, r_end);
        int a_any = an == 1 && *a == '*', r_any = rn == 1 && *r == '*';
        if (an == 1 && *a == '>')
            return 1; /* one or more of anything: r is at a token, ">" and "*" included */
        if (rn == 1 && *r == '>')
            return 0; /* r matches topics of any length from here; a has a fixed length */
        if (!a_any && (r_any || an != rn || memcmp(a, r, an) != 0))
            return 0; /* a plain token covers only the same plain token */
        int a_last = a + an == a_end, r_last = r + rn == r_end;
        if (a_last || r_last)
            return a_last && r_last; /* the same number of tokens, or r matches longer topics */
        a += an + 1;
        r += rn + 1;
    }
}
