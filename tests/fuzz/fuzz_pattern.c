/*  fuzz_pattern: ob_pattern_valid and ob_pattern_match on arbitrary bytes. The input is a
    pattern and a topic separated by the first NUL byte. Checks the properties of
    proto/PROTOCOL.md 7.2 that hold for every input: a match implies both are valid; a valid
    topic is a pattern matching itself; a pattern without wildcards matches only itself; ">"
    matches every valid topic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/orderbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *pattern = (const char *)data;
    const char *nul = memchr(data, 0, size);
    size_t pattern_len = nul ? (size_t)(nul - pattern) : size;
    const char *topic = nul ? nul + 1 : "";
    size_t topic_len = nul ? size - pattern_len - 1 : 0;

    int pattern_valid = ob_pattern_valid(pattern, pattern_len);
    int topic_valid = ob_topic_valid(topic, topic_len);
    int match = ob_pattern_match(pattern, pattern_len, topic, topic_len);
    if (match && (!pattern_valid || !topic_valid))
        abort();
    if (topic_valid && (!ob_pattern_valid(topic, topic_len) ||
                        !ob_pattern_match(topic, topic_len, topic, topic_len) ||
                        !ob_pattern_match(">", 1, topic, topic_len)))
        abort();
    if (pattern_valid && topic_valid && !memchr(pattern, '*', pattern_len) &&
        !memchr(pattern, '>', pattern_len) &&
        match != (pattern_len == topic_len && memcmp(pattern, topic, topic_len) == 0))
        abort();
    return 0;
}
