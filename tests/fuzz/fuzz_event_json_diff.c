/*  fuzz_event_json_diff: the two readers of event JSON (proto/src/event_json_read.h) on the
    same text, compared.

    Properties checked, on every input:
    - the tree-free reader answers 0, OB_EVENT_JSON_DECLINED or -ENOMEM, and writes nothing
      unless it answers 0;
    - whatever it accepts, the tree reader (Jansson, the reference) accepts too, with the very
      same encoded bytes; the only freedom is what each makes up itself: a generated id (32
      lowercase hex digits that the text does not hold) and the current time for an event
      without one (within S_NOW_SLACK_US of now). Such events are compared after taking the
      tree reader's id and time into the other's event and encoding it again;
    - ob_event_from_json answers as the tree reader whenever the fast one declines.
    The first byte chooses whether a topic argument is given (odd) or the object's is used. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event_json_read.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/event_json.h"

#define S_NOW_SLACK_US 60000000ull /* a made-up time: this close to now (one minute) */
#define S_ID_HEX 32                /* digits of a generated id */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Returns 1 if id is a generated id (32 lowercase hex digits) that text does not hold. */
static int
s_made_up_id(const char *id, const char *text, size_t len)
{
    if (strlen(id) != S_ID_HEX || strspn(id, "0123456789abcdef") != S_ID_HEX)
        return 0;
    for (size_t i = 0; i + S_ID_HEX <= len; i++)
        if (!memcmp(text + i, id, S_ID_HEX))
            return 0;
    return 1;
}

/* Returns 1 if us is within S_NOW_SLACK_US of now. */
static int
s_made_up_time(uint64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
    return us + S_NOW_SLACK_US > now && us < now + S_NOW_SLACK_US;
}

/* Requires the fast reader's event (fast, fast_len) to be the tree reader's (tree,
   tree_len) but for a made-up id and time. */
static void
s_require_same(const uint8_t *fast, size_t fast_len, const uint8_t *tree, size_t tree_len,
               const char *text, size_t len)
{
    if (fast_len == tree_len && !memcmp(fast, tree, fast_len))
        return;
    ob_event_t *a = NULL, *b = NULL;
    s_require(ob_event_decode(fast, fast_len, &a) == 0);
    s_require(ob_event_decode(tree, tree_len, &b) == 0);
    ob_event_t moved = *a; /* a's fields, borrowed, with b's made-up ones */
    if (strcmp(a->id, b->id)) {
        s_require(s_made_up_id(a->id, text, len) && s_made_up_id(b->id, text, len));
        moved.id = b->id;
    }
    if (a->time_us != b->time_us) {
        s_require(s_made_up_time(a->time_us) && s_made_up_time(b->time_us));
        moved.time_us = b->time_us;
    }
    uint8_t *again = NULL;
    size_t again_len = 0;
    s_require(ob_event_encode(&moved, &again, &again_len) == 0);
    s_require(again_len == tree_len && !memcmp(again, tree, tree_len));
    free(again);
    ob_event_destroy(&a);
    ob_event_destroy(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *topic = data[0] & 1 ? "oms.1" : NULL;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    uint8_t *fast = (uint8_t *)"untouched", *tree = NULL, *both = NULL;
    size_t fast_len = 12345, tree_len = 0, both_len = 0;
    char err[OB_EVENT_JSON_ERR_MAX] = "", both_err[OB_EVENT_JSON_ERR_MAX] = "";

    int rc_fast = ob_event_json_read(text, len, topic, &fast, &fast_len);
    int rc_tree = ob_event_json_read_tree(text, len, topic, &tree, &tree_len, err, sizeof err);
    int rc_both = ob_event_from_json(text, len, topic, &both, &both_len, both_err, sizeof both_err);
    s_require(rc_fast == 0 || rc_fast == OB_EVENT_JSON_DECLINED || rc_fast == -ENOMEM);
    if (rc_fast) {
        s_require(fast_len == 12345 && !strcmp((const char *)fast, "untouched"));
        fast = NULL;
    }
    if (rc_fast == 0 && rc_tree != -ENOMEM) {
        s_require(rc_tree == 0);
        s_require_same(fast, fast_len, tree, tree_len, text, len);
    }
    if (rc_fast == OB_EVENT_JSON_DECLINED && rc_tree != -ENOMEM && rc_both != -ENOMEM) {
        s_require(rc_both == rc_tree);
        s_require(rc_tree != 0 || both_len == tree_len);
        s_require(!strcmp(err, both_err));
    }
    free(fast);
    free(tree);
    free(both);
    return 0;
}
