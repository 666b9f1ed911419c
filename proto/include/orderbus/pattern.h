/*  ob_pattern: topic patterns of subscriptions (proto/PROTOCOL.md 7.2).

    A pattern is 1..OB_TOPIC_MAX bytes of dot-separated tokens, where a token is a topic token
    ([a-z0-9_-]+), or "*" (exactly one token), or ">" (one or more tokens, last token only).
    Partial wildcards ("oms.a*") are invalid. Every topic name is also a pattern that matches
    only itself. Neither function allocates or keeps anything. */
#ifndef OB_PATTERN_H
#define OB_PATTERN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns 1 if pattern (len bytes, not necessarily NUL-terminated) is a valid pattern, else 0. */
int ob_pattern_valid(const char *pattern, size_t len);

/* Returns 1 if the valid pattern (pattern_len bytes) matches the valid topic name
   (topic_len bytes), else 0. Returns 0 if either is invalid. */
int ob_pattern_match(const char *pattern, size_t pattern_len, const char *topic, size_t topic_len);

/* Returns 1 if the pattern allowed (allowed_len bytes) covers the pattern requested
   (requested_len bytes): every topic that requested matches is also matched by allowed (the
   permission rule of PROTOCOL.md 14.4: "oms.>" covers "oms.7.x" and "oms.*", "oms.7" covers
   neither "oms.*" nor "oms.>", "*" never covers ">"). A topic name is a pattern, so this is
   also "allowed matches the topic". Returns 0 if either is invalid. */
int ob_pattern_covers(const char *allowed, size_t allowed_len, const char *requested,
                      size_t requested_len);

#ifdef __cplusplus
}
#endif
#endif
