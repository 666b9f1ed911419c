/*  test_gw_mp_event: a feed event and its resource as our enriched event
    (gateway/mp_event.h): the type mapping, the id derivation as the header specifies it
    (recomputed here independently with libsodium), what changes an id and what does not, the
    synthetic project.created sharing the real one's id, the encoded event's fields, paths. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "mp_event.h"
#include "mp_parse.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define T_US 1621976862000000ull /* 2021-05-25T21:07:42Z */

static ob_change_t s_status[] = {{"status.type", "created", "ready"},
                                 {"status.value", "created", "Ready"}};
static ob_change_t s_secrets[] = {{"user_secrets", "<OBFUSCATED>", "<OBFUSCATED>"}};

static ob_mkt_event_t
s_event(ob_mkt_action_t action, ob_mkt_kind_t kind)
{
    return (ob_mkt_event_t){.time_us = T_US,
                            .action = action,
                            .kind = kind,
                            .project_id = 10,
                            .project_item_id = kind == OB_MKT_KIND_PROJECT ? 0 : 3,
                            .message_id = kind == OB_MKT_KIND_MESSAGE ? 77 : 0};
}

static void
test_type(void **state)
{
    (void)state;
    static const struct {
        ob_mkt_action_t action;
        ob_mkt_kind_t kind;
        ob_change_t *changes;
        size_t count;
        const char *type; /* NULL: no mapping */
    } cases[] = {
        {OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT, NULL, 0, "project.created"},
        {OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, NULL, 0, "project_item.created"},
        {OB_MKT_ACTION_CREATE, OB_MKT_KIND_MESSAGE, NULL, 0, "message.posted"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM, s_status, 2,
         "project_item.status_changed"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM, s_status + 1, 1,
         "project_item.status_changed"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM, s_secrets, 1, "project_item.updated"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM, NULL, 0, "project_item.updated"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_MESSAGE, NULL, 0, "message.edited"},
        {OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT, NULL, 0, NULL},
        {OB_MKT_ACTION_DELETE, OB_MKT_KIND_PROJECT_ITEM, NULL, 0, NULL},
        {OB_MKT_ACTION_OTHER, OB_MKT_KIND_MESSAGE, NULL, 0, NULL},
        {OB_MKT_ACTION_CREATE, OB_MKT_KIND_OTHER, NULL, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ob_mkt_event_t ev = s_event(cases[i].action, cases[i].kind);
        ev.changes = cases[i].changes;
        ev.changes_count = cases[i].count;
        const char *type = "untouched";
        int rc = ob_mkt_event_type(&ev, &type);
        if (cases[i].type) {
            assert_int_equal(rc, 0);
            assert_string_equal(type, cases[i].type);
        } else {
            assert_int_equal(rc, OB_ERR_INVALID_EVENT);
            assert_string_equal(type, "untouched");
            uint8_t digest[OB_GW_DIGEST_LEN];
            assert_int_equal(ob_mkt_event_digest(1, &ev, digest), OB_ERR_INVALID_EVENT);
        }
    }
}

static void
s_u64(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void
s_u32(uint8_t *out, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Appends a str (u32 length, bytes) at *p. */
static void
s_str(uint8_t **p, const char *text)
{
    s_u32(*p, (uint32_t)strlen(text));
    memcpy(*p + 4, text, strlen(text));
    *p += 4 + strlen(text);
}

/* The id derivation of mp_event.h, written out as one buffer. */
static void
s_expected_id(uint64_t oms, const ob_mkt_event_t *ev, const char *kind, const char *type,
              uint64_t time_us, uint32_t rank, char out[OB_GW_EVENT_ID_TEXT])
{
    uint8_t buf[1024], *p = buf;
    memcpy(p, "orderbus.gateway.event.v1", 26);
    p += 26;
    uint64_t nums[] = {oms, ev->project_id, ev->project_item_id, ev->message_id, time_us};
    for (size_t i = 0; i < 5; i++, p += 8)
        s_u64(p, nums[i]);
    s_str(&p, kind);
    s_str(&p, type);
    s_u32(p, (uint32_t)ev->changes_count);
    p += 4;
    for (size_t i = 0; i < ev->changes_count; i++) {
        s_str(&p, ev->changes[i].field);
        const char *vals[] = {ev->changes[i].before, ev->changes[i].after};
        for (int j = 0; j < 2; j++) {
            *p++ = vals[j] ? 1 : 0;
            if (vals[j])
                s_str(&p, vals[j]);
        }
    }
    uint8_t digest[32], second[36], id[32];
    crypto_generichash(digest, 32, buf, (size_t)(p - buf), NULL, 0);
    memcpy(second, digest, 32);
    s_u32(second + 32, rank);
    crypto_generichash(id, 32, second, 36, NULL, 0);
    sodium_bin2hex(out, OB_GW_EVENT_ID_TEXT, id, 32);
}

static void
s_id(uint64_t oms, const ob_mkt_event_t *ev, uint32_t rank, char out[OB_GW_EVENT_ID_TEXT])
{
    uint8_t digest[OB_GW_DIGEST_LEN];
    assert_int_equal(ob_mkt_event_digest(oms, ev, digest), 0);
    ob_mkt_event_id(digest, rank, out);
}

static void
test_id(void **state)
{
    (void)state;
    char id[OB_GW_EVENT_ID_TEXT], expected[OB_GW_EVENT_ID_TEXT], other[OB_GW_EVENT_ID_TEXT];
    ob_mkt_event_t ev = s_event(OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM);
    ev.changes = s_status;
    ev.changes_count = 2;
    s_id(5, &ev, 0, id);
    s_expected_id(5, &ev, "project_item", "project_item.status_changed", T_US, 0, expected);
    assert_string_equal(id, expected);
    assert_int_equal(strlen(id), 64);
    s_id(5, &ev, 3, id);
    s_expected_id(5, &ev, "project_item", "project_item.status_changed", T_US, 3, expected);
    assert_string_equal(id, expected);

    /* A nil value differs from the empty string and from "null". */
    ob_change_t nil[] = {{"status.type", NULL, "ready"}};
    ob_change_t empty[] = {{"status.type", "", "ready"}};
    ev.changes = nil;
    ev.changes_count = 1;
    s_id(5, &ev, 0, id);
    s_expected_id(5, &ev, "project_item", "project_item.status_changed", T_US, 0, expected);
    assert_string_equal(id, expected);
    ev.changes = empty;
    s_id(5, &ev, 0, other);
    assert_string_not_equal(id, other);

    /* Each input changes the id. */
    ev = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_MESSAGE);
    s_id(5, &ev, 0, id);
    s_expected_id(5, &ev, "message", "message.posted", T_US, 0, expected);
    assert_string_equal(id, expected);
    s_id(6, &ev, 0, other);
    assert_string_not_equal(id, other);
    s_id(5, &ev, 1, other);
    assert_string_not_equal(id, other);
    ob_mkt_event_t changed = ev;
    changed.time_us += 1000000;
    s_id(5, &changed, 0, other);
    assert_string_not_equal(id, other);
    changed = ev;
    changed.message_id++;
    s_id(5, &changed, 0, other);
    assert_string_not_equal(id, other);
    changed = ev;
    changed.action = OB_MKT_ACTION_UPDATE;
    s_id(5, &changed, 0, other);
    assert_string_not_equal(id, other);

    /* project.created: the time does not count, so the synthetic one has the real one's id. */
    ob_mkt_event_t project = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT);
    s_id(5, &project, 0, id);
    s_expected_id(5, &project, "project", "project.created", 0, 0, expected);
    assert_string_equal(id, expected);
    ob_mkt_event_t item = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM);
    item.time_us = T_US + 3600000000ull;
    ob_mkt_event_t synthetic;
    assert_int_equal(ob_mkt_event_project_of(&item, &synthetic), 0);
    assert_int_equal(synthetic.time_us, item.time_us);
    assert_int_equal(synthetic.kind, OB_MKT_KIND_PROJECT);
    assert_int_equal(synthetic.action, OB_MKT_ACTION_CREATE);
    assert_int_equal(synthetic.project_id, 10);
    assert_int_equal(synthetic.project_item_id, 0);
    s_id(5, &synthetic, 0, other);
    assert_string_equal(id, other);
    item.project_id = 0;
    assert_int_equal(ob_mkt_event_project_of(&item, &synthetic), OB_ERR_INVALID_ARGUMENT);
}

static void
test_build(void **state)
{
    (void)state;
    const char *body = "{\"id\": 3, \"project_id\": 10, \"status\": {\"value\": \"Ready\", "
                       "\"type\": \"ready\"}}";
    ob_mkt_resource_t *item = NULL;
    assert_int_equal(ob_mkt_project_item_parse(body, strlen(body), &item), 0);
    ob_mkt_event_t ev = s_event(OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT_ITEM);
    ev.changes = s_status;
    ev.changes_count = 2;
    uint8_t *buf = NULL;
    size_t len = 0;
    char id[OB_GW_EVENT_ID_TEXT], expected[OB_GW_EVENT_ID_TEXT];
    assert_int_equal(ob_mkt_event_build(42, &ev, 1, item, &buf, &len, id), 0);
    s_id(42, &ev, 1, expected);
    assert_string_equal(id, expected);
    ob_event_t *e = NULL;
    assert_int_equal(ob_event_decode(buf, len, &e), 0);
    assert_string_equal(e->id, expected);
    assert_string_equal(e->topic, "oms.42");
    assert_string_equal(e->type, "project_item.status_changed");
    assert_int_equal(e->time_us, T_US);
    assert_string_equal(e->source, OB_MKT_EVENT_SOURCE);
    assert_int_equal(e->oms_id, 42);
    assert_int_equal(e->project_id, 10);
    assert_int_equal(e->project_item_id, 3);
    assert_int_equal(e->message_id, 0);
    assert_int_equal(e->changes_count, 2);
    assert_string_equal(e->changes[1].field, "status.value");
    assert_string_equal(e->changes[1].after, "Ready");
    assert_int_equal(e->data_len, item->json_len);
    assert_memory_equal(e->data, item->json, item->json_len);
    ob_event_destroy(&e);
    free(buf);

    /* No snapshot (the resource is gone): no data; the id does not depend on it. */
    buf = NULL;
    assert_int_equal(ob_mkt_event_build(42, &ev, 1, NULL, &buf, &len, NULL), 0);
    assert_int_equal(ob_event_decode(buf, len, &e), 0);
    assert_string_equal(e->id, expected);
    assert_int_equal(e->data_len, 0);
    ob_event_destroy(&e);
    free(buf);

    /* A resource that is not the one the event names. */
    buf = (uint8_t *)"untouched";
    ev.project_item_id = 4;
    assert_int_equal(ob_mkt_event_build(42, &ev, 0, item, &buf, &len, id), OB_ERR_INVALID_ARGUMENT);
    ev.project_item_id = 3;
    ev.project_id = 11;
    assert_int_equal(ob_mkt_event_build(42, &ev, 0, item, &buf, &len, id), OB_ERR_INVALID_ARGUMENT);
    ob_mkt_event_t msg = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_MESSAGE);
    assert_int_equal(ob_mkt_event_build(42, &msg, 0, item, &buf, &len, id),
                     OB_ERR_INVALID_ARGUMENT);
    ob_mkt_event_t upd = s_event(OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT);
    assert_int_equal(ob_mkt_event_build(42, &upd, 0, NULL, &buf, &len, id), OB_ERR_INVALID_EVENT);
    assert_string_equal((const char *)buf, "untouched");
    ob_mkt_resource_destroy(&item);
}

static void
test_paths(void **state)
{
    (void)state;
    char path[OB_GW_PATH_MAX], topic[OB_GW_TOPIC_TEXT];
    ob_mkt_event_t ev = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT);
    assert_int_equal(ob_mkt_event_path(7, &ev, path), 0);
    assert_string_equal(path, "/api/v1/oms/7/projects/10");
    ev = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM);
    assert_int_equal(ob_mkt_event_path(7, &ev, path), 0);
    assert_string_equal(path, "/api/v1/oms/7/projects/10/project_items/3");
    ev = s_event(OB_MKT_ACTION_CREATE, OB_MKT_KIND_MESSAGE);
    assert_int_equal(ob_mkt_event_path(7, &ev, path), 0);
    assert_string_equal(path, "/api/v1/oms/7/messages/77");
    ev.kind = OB_MKT_KIND_OTHER;
    assert_int_equal(ob_mkt_event_path(7, &ev, path), OB_ERR_INVALID_ARGUMENT);
    ev = (ob_mkt_event_t){
        .kind = OB_MKT_KIND_PROJECT_ITEM, .project_id = UINT64_MAX, .project_item_id = UINT64_MAX};
    assert_int_equal(ob_mkt_event_path(UINT64_MAX, &ev, path), 0);
    assert_string_equal(path, "/api/v1/oms/18446744073709551615/projects/18446744073709551615"
                              "/project_items/18446744073709551615");
    ob_mkt_topic(UINT64_MAX, topic);
    assert_string_equal(topic, "oms.18446744073709551615");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type),
        cmocka_unit_test(test_id),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
