/*  fuzz_facade: the Ordering API facade's parsers of outside input (gateway/facade_read.h):
    a request's path and query, and an event of oms.<oms_id> as the view indexes it.

    The first byte picks the mode. Below 0x80, a request: its low two bits pick the method
    (GET, HEAD, PATCH, POST) and the rest of the input is split at NUL bytes into the path,
    then the values of limit, from_id, from_timestamp, from_seq, project_id and
    project_item_id (a missing part is absent). From 0x80, an event: the byte picks its type
    (the mirrored ones, command.completed, another), the next three bytes its project, item
    and message ids (0..255), and the rest is its data.

    Properties checked beyond "no crash, no leak, no over-read":
    - a route is 0 or OB_ERR_INVALID_ARGUMENT; a read route is answered (from a small table)
      with 200, 400 or 404, a body that is one JSON object of exactly its length, with
      "error" a string when the status is not 200; an events page holds at most
      OB_GW_FACADE_LIMIT_MAX events, seqs strictly increasing;
    - a from_timestamp that parses formats to a time that parses back to its second;
    - an indexed event's fields make one JSON object with braces around them, its snapshot
      is JSON, an item's user_secrets values are all "<OBFUSCATED>". */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facade_read.h"
#include "orderbus/error.h"

#define S_PARTS 7         /* the path and six query values */
#define S_EVENT_MODE 0x80 /* a first byte from here: an event */
#define S_TABLE_EVENTS 5  /* events of the table source */
#define S_USEC 1000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* A small fixed source: events 2, 4, ... in one second; project 1 with item 1; message 1. */
static int
s_events(void *ctx, uint64_t after_seq, uint64_t after_ts, size_t limit, ob_facade_each_fn fn,
         void *arg)
{
    (void)ctx;
    size_t n = 0;
    for (uint64_t i = 0; i < S_TABLE_EVENTS && n < limit; i++) {
        uint64_t seq = 2 * (i + 1), ts = 1700000000 * S_USEC + i;
        if (seq <= after_seq || ts <= after_ts)
            continue;
        const char *f = "\"type\":\"create\",\"resource\":\"project\",\"project_id\":1";
        ob_facade_record_t rec = {seq, ts, f, strlen(f)};
        int rc = fn(arg, &rec);
        if (rc)
            return rc;
        n++;
    }
    return 0;
}

static int
s_get(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, ob_facade_each_fn fn, void *arg)
{
    (void)ctx;
    if (a != 1 || (kind == OB_FACADE_ITEM && b != 1))
        return -ENOENT;
    const char *j = "{\"id\":1}";
    ob_facade_record_t rec = {0, 0, j, strlen(j)};
    return fn(arg, &rec);
}

static int
s_list(void *ctx, ob_facade_kind_t kind, uint64_t a, uint64_t b, uint64_t after, size_t limit,
       ob_facade_each_fn fn, void *arg)
{
    (void)kind;
    (void)a;
    (void)b;
    return after >= 1 || !limit ? 0 : s_get(ctx, OB_FACADE_PROJECT, 1, 1, fn, arg);
}

static void
s_request(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "PATCH", "POST"};
    const char *method = methods[data[0] & 3];
    char *copy = malloc(size);
    if (!copy)
        return;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    const char *parts[S_PARTS] = {NULL};
    size_t pos = 0;
    for (size_t p = 0; p < S_PARTS && pos < size; p++) {
        parts[p] = copy + pos;
        char *nul = memchr(copy + pos, '\0', size - pos);
        pos = (size_t)(nul - copy) + 1;
    }
    if (!parts[0])
        goto out;
    ob_facade_route_t route;
    int rc = ob_facade_route(method, parts[0], &route);
    s_require(rc == 0 || rc == OB_ERR_INVALID_ARGUMENT);
    ob_facade_query_t q = {parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]};
    uint64_t us = 0;
    if (q.from_timestamp && !ob_facade_parse_time(q.from_timestamp, &us)) {
        char text[OB_GW_TIMESTAMP_TEXT_MAX];
        uint64_t back = 0;
        ob_facade_format_time(us, text);
        s_require(ob_facade_parse_time(text, &back) == 0 && back == us - us % S_USEC);
    }
    (void)ob_facade_to_i(parts[1] ? parts[1] : "");
    if (rc || route.kind >= OB_FACADE_R_UPDATE_ITEM)
        goto out;
    ob_facade_source_t src = {NULL, s_events, s_get, s_list};
    ob_facade_answer_t a;
    rc = ob_facade_answer(&route, &q, &src, &a);
    if (rc) {
        s_require(rc == -ENOMEM);
        goto out;
    }
    s_require(a.status == 200 || a.status == 400 || a.status == 404);
    s_require(a.len == strlen(a.body));
    json_t *root = json_loadb(a.body, a.len, 0, NULL);
    s_require(json_is_object(root));
    if (a.status != 200)
        s_require(json_is_string(json_object_get(root, "error")));
    json_t *events = json_object_get(root, "events");
    s_require(json_array_size(events) <= OB_GW_FACADE_LIMIT_MAX);
    json_int_t last = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
        s_require(seq > last);
        last = seq;
    }
    json_decref(root);
    ob_facade_answer_clear(&a);
out:
    free(copy);
}

static void
s_event(const uint8_t *data, size_t size)
{
    static const char *const types[] = {
        "project.created",      "project_item.created", "project_item.status_changed",
        "project_item.updated", "message.posted",       "message.edited",
        "command.completed",    "command.failed",
    };
    if (size < 4)
        return;
    ob_change_t change = {"status", "a", NULL};
    ob_event_t ev = {.id = "x",
                     .topic = "oms.1",
                     .type = types[data[0] % (sizeof types / sizeof types[0])],
                     .time_us = 1,
                     .project_id = data[1],
                     .project_item_id = data[2],
                     .message_id = data[3],
                     .changes = &change,
                     .changes_count = data[0] & 1,
                     .data = data + 4,
                     .data_len = size - 4};
    ob_facade_entry_t e;
    int rc = ob_facade_index(&ev, &e);
    s_require(rc == 0 || rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE || rc == -ENOMEM);
    if (rc == -ENOMEM)
        return;
    if (e.fields) {
        size_t n = e.fields_len + 2;
        char *obj = malloc(n + 1);
        if (obj) {
            snprintf(obj, n + 1, "{%s}", e.fields);
            json_t *root = json_loads(obj, 0, NULL);
            s_require(json_is_object(root));
            json_decref(root);
            free(obj);
        }
    }
    if (e.json) {
        json_t *root = json_loads(e.json, 0, NULL);
        s_require(json_is_object(root));
        if (e.kind == OB_FACADE_ITEM) {
            const char *key;
            json_t *v;
            json_object_foreach(json_object_get(root, "user_secrets"), key, v)
                s_require(!strcmp(json_string_value(v), OB_FACADE_OBFUSCATED));
        }
        if (e.kind == OB_FACADE_PROJECT) {
            uint64_t iids[] = {data[2], 3};
            char *merged = NULL;
            size_t len = 0;
            rc = ob_facade_project_merge(e.json, e.json_len, iids, 2, &merged, &len);
            s_require(rc == 0 || rc == OB_ERR_MALFORMED || rc == -ENOMEM);
            free(merged);
        }
        json_decref(root);
    }
    ob_facade_entry_clear(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] >= S_EVENT_MODE)
        s_event(data, size);
    else
        s_request(data, size);
    return 0;
}
