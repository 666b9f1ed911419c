/*  test_gw_mp_parse: the parsers of the Marketplace's responses (gateway/mp_parse.h): an
    events page, a project, a project item, a message and both forms of an error body, as the
    reference and its JSON Schemas show them; every prefix of a valid body refused; a table of
    malformed bodies, each with its code; the caps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_alloc.h"
#include "gw_limits.h"
#include "mp_parse.h"
#include "orderbus/error.h"

/* The feed of the reference's cassette (4.3), with a message and an unknown key added. */
static const char s_page[] =
    "{\"events\": ["
    "{\"timestamp\": \"2021-05-25T21:07:40Z\", \"type\": \"create\", \"resource\": "
    "\"project_item\", \"project_id\": 1436, \"project_item_id\": 3},"
    "{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": \"update\", \"resource\": "
    "\"project_item\", \"project_id\": 1436, \"project_item_id\": 3, \"changes\": ["
    "{\"field\": \"status.type\", \"before\": \"created\", \"after\": \"ready\"},"
    "{\"field\": \"status.value\", \"before\": \"created\", \"after\": \"ready\"}]},"
    "{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": \"create\", \"resource\": "
    "\"message\", \"project_id\": null, \"message_id\": 77, \"future\": [1, 2]},"
    "{\"timestamp\": \"2021-05-25T21:07:43Z\", \"type\": \"update\", \"resource\": "
    "\"project_item\", \"project_id\": 1436, \"project_item_id\": 3, \"changes\": ["
    "{\"field\": \"user_secrets\", \"before\": null, \"after\": {\"a\": 1}}]}"
    "]}";

static const char s_project[] =
    "{\"id\": 1436, \"owner\": {\"uid\": \"u@x\", \"email\": \"u@x.org\", \"name\": \"U X\", "
    "\"first_name\": \"U\", \"last_name\": \"X\"}, \"project_items\": [1, 2, 3], "
    "\"attributes\": {\"name\": \"p\", \"country\": null}}";

static const char s_item[] =
    "{\"id\": 3, \"project_id\": 1436, \"status\": {\"value\": \"Ready to use\", \"type\": "
    "\"ready\"}, \"attributes\": {\"service\": \"s\"}, \"user_secrets\": {\"k\": "
    "\"<OBFUSCATED>\"}}";

static const char s_message[] =
    "{\"id\": 77, \"author\": {\"email\": \"a@x.org\", \"name\": \"A\", \"role\": \"provider\"}, "
    "\"content\": \"hello\", \"scope\": \"public\", \"created_at\": \"2021-05-25T21:07:42Z\", "
    "\"updated_at\": \"2021-05-25T21:08:00Z\"}";

#define T_SECOND 1621976862ull /* 2021-05-25T21:07:42Z */

static void
test_page(void **state)
{
    (void)state;
    ob_mkt_page_t *page = NULL;
    assert_int_equal(ob_mkt_page_parse(s_page, strlen(s_page), &page), 0);
    assert_int_equal(page->count, 4);
    const ob_mkt_event_t *e = page->events;
    assert_int_equal(e[0].time_us, (T_SECOND - 2) * 1000000ull);
    assert_int_equal(e[0].action, OB_MKT_ACTION_CREATE);
    assert_int_equal(e[0].kind, OB_MKT_KIND_PROJECT_ITEM);
    assert_int_equal(e[0].project_id, 1436);
    assert_int_equal(e[0].project_item_id, 3);
    assert_int_equal(e[0].message_id, 0);
    assert_null(e[0].changes);
    assert_int_equal(e[1].time_us, T_SECOND * 1000000ull);
    assert_int_equal(e[1].changes_count, 2);
    assert_string_equal(e[1].changes[0].field, "status.type");
    assert_string_equal(e[1].changes[0].before, "created");
    assert_string_equal(e[1].changes[1].after, "ready");
    assert_int_equal(e[2].kind, OB_MKT_KIND_MESSAGE);
    assert_int_equal(e[2].project_id, 0); /* null: an approval request's message */
    assert_int_equal(e[2].message_id, 77);
    assert_null(e[3].changes[0].before);                     /* null is nil */
    assert_string_equal(e[3].changes[0].after, "{\"a\":1}"); /* other JSON: its text */
    ob_mkt_page_destroy(&page);
    assert_null(page);
    ob_mkt_page_destroy(&page);
    ob_mkt_page_destroy(NULL);

    assert_int_equal(ob_mkt_page_parse("{\"events\": []}", 14, &page), 0);
    assert_int_equal(page->count, 0);
    ob_mkt_page_destroy(&page);

    /* An unknown action or kind is kept, not refused (the poller skips it). */
    const char *other = "{\"events\": [{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": "
                        "\"archive\", \"resource\": \"offer\"}, {\"timestamp\": "
                        "\"2021-05-25T21:07:42Z\", \"type\": \"delete\", \"resource\": "
                        "\"project\", \"project_id\": 1}]}";
    assert_int_equal(ob_mkt_page_parse(other, strlen(other), &page), 0);
    assert_int_equal(page->events[0].action, OB_MKT_ACTION_OTHER);
    assert_int_equal(page->events[0].kind, OB_MKT_KIND_OTHER);
    assert_int_equal(page->events[1].action, OB_MKT_ACTION_DELETE);
    assert_string_equal(ob_mkt_action_name(page->events[0].action), "other");
    assert_string_equal(ob_mkt_kind_name(OB_MKT_KIND_PROJECT_ITEM), "project_item");
    ob_mkt_page_destroy(&page);
}

/* Every strict prefix of a valid body is refused as malformed, and leaves the output. */
static void
s_prefixes(const char *body, int (*parse)(const char *, size_t, void **))
{
    for (size_t len = 0; len < strlen(body); len++) {
        void *out = (void *)body;
        int rc = parse(body, len, &out);
        if (rc != OB_ERR_MALFORMED)
            fail_msg("prefix of %zu bytes: %d", len, rc);
        assert_ptr_equal(out, body);
    }
}

static int
s_page_parse(const char *b, size_t n, void **out)
{
    return ob_mkt_page_parse(b, n, (ob_mkt_page_t **)out);
}

static int
s_project_parse(const char *b, size_t n, void **out)
{
    return ob_mkt_project_parse(b, n, (ob_mkt_resource_t **)out);
}

static int
s_item_parse(const char *b, size_t n, void **out)
{
    return ob_mkt_project_item_parse(b, n, (ob_mkt_resource_t **)out);
}

static int
s_message_parse(const char *b, size_t n, void **out)
{
    return ob_mkt_message_parse(b, n, (ob_mkt_resource_t **)out);
}

static int
s_error_parse(const char *b, size_t n, void **out)
{
    return ob_mkt_error_parse(b, n, (ob_mkt_error_t **)out);
}

static void
test_prefixes(void **state)
{
    (void)state;
    s_prefixes(s_page, s_page_parse);
    s_prefixes(s_project, s_project_parse);
    s_prefixes(s_item, s_item_parse);
    s_prefixes(s_message, s_message_parse);
    s_prefixes("{\"error\": {\"user_secrets\": [\"values must be strings\"]}}", s_error_parse);
}

static void
test_resources(void **state)
{
    (void)state;
    ob_mkt_resource_t *r = NULL;
    assert_int_equal(ob_mkt_project_parse(s_project, strlen(s_project), &r), 0);
    assert_int_equal(r->kind, OB_MKT_KIND_PROJECT);
    assert_int_equal(r->id, 1436);
    assert_int_equal(r->project_id, 1436);
    assert_null(r->status_type);
    assert_int_equal(r->json_len, strlen(r->json));
    assert_non_null(strstr(r->json, "\"project_items\":[1,2,3]"));
    assert_non_null(strstr(r->json, "\"country\":null"));
    ob_mkt_resource_destroy(&r);
    assert_null(r);

    assert_int_equal(ob_mkt_project_item_parse(s_item, strlen(s_item), &r), 0);
    assert_int_equal(r->kind, OB_MKT_KIND_PROJECT_ITEM);
    assert_int_equal(r->id, 3);
    assert_int_equal(r->project_id, 1436);
    assert_string_equal(r->status_type, "ready");
    assert_string_equal(r->status_value, "Ready to use");
    assert_non_null(strstr(r->json, "\"user_secrets\":{\"k\":\"<OBFUSCATED>\"}"));
    ob_mkt_resource_destroy(&r);

    assert_int_equal(ob_mkt_message_parse(s_message, strlen(s_message), &r), 0);
    assert_int_equal(r->kind, OB_MKT_KIND_MESSAGE);
    assert_int_equal(r->id, 77);
    assert_int_equal(r->project_id, 0);
    assert_int_equal(r->created_at_us, T_SECOND * 1000000ull);
    assert_int_equal(r->updated_at_us, (T_SECOND + 18) * 1000000ull);
    ob_mkt_resource_destroy(&r);

    assert_int_equal(ob_mkt_resource_parse(OB_MKT_KIND_OTHER, s_item, strlen(s_item), &r),
                     OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_mkt_resource_parse(OB_MKT_KIND_MESSAGE, s_item, strlen(s_item), &r),
                     OB_ERR_MISSING_FIELD);
    assert_null(r);
    ob_mkt_resource_destroy(NULL);
}

static void
test_errors(void **state)
{
    (void)state;
    ob_mkt_error_t *err = NULL;
    const char *text = "{\"error\": \"Project item not found\"}";
    assert_int_equal(ob_mkt_error_parse(text, strlen(text), &err), 0);
    assert_int_equal(err->is_object, 0);
    assert_string_equal(err->text, "Project item not found");
    assert_string_equal(err->json, "\"Project item not found\"");
    ob_mkt_error_destroy(&err);
    assert_null(err);

    text = "{\"error\": {\"user_secrets\": [\"values must be strings\"], \"status\": [\"a\", "
           "\"b\"], \"x\": 1}}";
    assert_int_equal(ob_mkt_error_parse(text, strlen(text), &err), 0);
    assert_int_equal(err->is_object, 1);
    assert_string_equal(err->text, "user_secrets: values must be strings; status: a, b; x: 1");
    assert_string_equal(err->json,
                        "{\"user_secrets\":[\"values must be strings\"],\"status\":[\"a\",\"b\"],"
                        "\"x\":1}");
    assert_int_equal(err->json_len, strlen(err->json));
    ob_mkt_error_destroy(&err);

    /* A long text is cut on a character boundary: "é" is 2 bytes, and the cap is even. */
    size_t n = OB_GW_ERROR_TEXT_MAX + 20;
    char *big = malloc(n * 2 + 32);
    assert_non_null(big);
    strcpy(big, "{\"error\": \"x");
    for (size_t i = 0; i < n; i++)
        strcat(big, "\xc3\xa9");
    strcat(big, "\"}");
    assert_int_equal(ob_mkt_error_parse(big, strlen(big), &err), 0);
    assert_int_equal(strlen(err->text), OB_GW_ERROR_TEXT_MAX - 1);
    ob_mkt_error_destroy(&err);
    free(big);

    static const struct {
        const char *body;
        int rc;
    } bad[] = {
        {"{}", OB_ERR_MISSING_FIELD},
        {"{\"error\": 1}", OB_ERR_FIELD_TYPE},
        {"{\"error\": null}", OB_ERR_FIELD_TYPE},
        {"{\"error\": [\"a\"]}", OB_ERR_FIELD_TYPE},
        {"\"error\"", OB_ERR_MALFORMED},
        {"<html>502 Bad Gateway</html>", OB_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (ob_mkt_error_t *)bad;
        assert_int_equal(ob_mkt_error_parse(bad[i].body, strlen(bad[i].body), &err), bad[i].rc);
        assert_ptr_equal(err, bad);
    }
}

/* Wraps one event object in a page. */
static int
s_one(const char *event, ob_mkt_page_t **ret)
{
    char body[4096];
    snprintf(body, sizeof body, "{\"events\": [%s]}", event);
    return ob_mkt_page_parse(body, strlen(body), ret);
}

static void
test_page_malformed(void **state)
{
    (void)state;
#define T_TS "\"timestamp\": \"2021-05-25T21:07:42Z\""
#define T_ITEM "\"type\": \"create\", \"resource\": \"project_item\""
    static const struct {
        const char *event;
        int rc;
    } bad[] = {
        {"1", OB_ERR_FIELD_TYPE},
        {"{\"type\": \"create\", \"resource\": \"project\", \"project_id\": 1}",
         OB_ERR_MISSING_FIELD},
        {"{\"timestamp\": 1621976862, \"type\": \"create\", \"resource\": \"project\", "
         "\"project_id\": 1}",
         OB_ERR_FIELD_TYPE},
        {"{\"timestamp\": \"2021-05-25\", \"type\": \"create\", \"resource\": \"project\", "
         "\"project_id\": 1}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"resource\": \"project\", \"project_id\": 1}", OB_ERR_MISSING_FIELD},
        {"{" T_TS ", \"type\": 1, \"resource\": \"project\", \"project_id\": 1}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"project_id\": 1}", OB_ERR_MISSING_FIELD},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\"}", OB_ERR_MISSING_FIELD},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\", \"project_id\": null}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\", \"project_id\": \"1\"}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\", \"project_id\": 0}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\", \"project_id\": 1.5}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"project\", \"project_id\": -3}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1}", OB_ERR_MISSING_FIELD},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": null}", OB_ERR_FIELD_TYPE},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"message\", \"project_id\": 1}",
         OB_ERR_MISSING_FIELD},
        {"{" T_TS ", \"type\": \"create\", \"resource\": \"message\", \"message_id\": null}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": {}}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": [1]}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": "
         "[{\"field\": \"a\", \"before\": \"b\"}]}",
         OB_ERR_MISSING_FIELD},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": "
         "[{\"field\": 1, \"before\": \"b\", \"after\": \"c\"}]}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": "
         "[{\"field\": \"\", \"before\": \"b\", \"after\": \"c\"}]}",
         OB_ERR_FIELD_TYPE},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"changes\": "
         "[{\"field\": \"a\", \"before\": \"b\", \"after\": \"c\"}], \"changes\": []}",
         OB_ERR_MALFORMED}, /* duplicate key */
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 2, \"x\": \"a\\u0000\"}",
         OB_ERR_MALFORMED},
        {"{" T_TS ", " T_ITEM ", \"project_id\": 1, \"project_item_id\": 99999999999999999999}",
         OB_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_mkt_page_t *page = (ob_mkt_page_t *)bad;
        int rc = s_one(bad[i].event, &page);
        if (rc != bad[i].rc)
            fail_msg("case %zu: %d, expected %d", i, rc, bad[i].rc);
        assert_ptr_equal(page, bad);
    }
    static const struct {
        const char *body;
        int rc;
    } bad_page[] = {
        {"", OB_ERR_MALFORMED},
        {"[]", OB_ERR_MALFORMED},
        {"{}", OB_ERR_MISSING_FIELD},
        {"{\"events\": {}}", OB_ERR_FIELD_TYPE},
        {"{\"events\": []} x", OB_ERR_MALFORMED},
        {"{\"events\": [], \"x\": \"\xff\"}", OB_ERR_MALFORMED}, /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad_page / sizeof bad_page[0]; i++) {
        ob_mkt_page_t *page = NULL;
        assert_int_equal(ob_mkt_page_parse(bad_page[i].body, strlen(bad_page[i].body), &page),
                         bad_page[i].rc);
        assert_null(page);
    }
}

static void
test_resources_malformed(void **state)
{
    (void)state;
    static const struct {
        ob_mkt_kind_t kind;
        const char *body;
        int rc;
    } bad[] = {
        {OB_MKT_KIND_PROJECT, "{\"owner\": {}, \"project_items\": []}", OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_PROJECT, "{\"id\": 1, \"project_items\": []}", OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_PROJECT, "{\"id\": 1, \"owner\": [], \"project_items\": []}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_PROJECT, "{\"id\": 1, \"owner\": {}}", OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_PROJECT, "{\"id\": 1, \"owner\": {}, \"project_items\": [\"1\"]}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_PROJECT,
         "{\"id\": 1, \"owner\": {}, \"project_items\": [], "
         "\"attributes\": []}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_PROJECT_ITEM, "{\"id\": 1, \"project_id\": 2}", OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_PROJECT_ITEM, "{\"id\": 1, \"project_id\": 2, \"status\": \"ready\"}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_PROJECT_ITEM,
         "{\"id\": 1, \"project_id\": 2, \"status\": {\"type\": "
         "\"ready\"}}",
         OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_PROJECT_ITEM,
         "{\"id\": 1, \"project_id\": 2, \"status\": {\"type\": "
         "\"ready\", \"value\": 3}}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_PROJECT_ITEM,
         "{\"id\": 1, \"project_id\": 2, \"status\": {\"type\": "
         "\"ready\", \"value\": \"r\"}, \"user_secrets\": \"x\"}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_MESSAGE,
         "{\"id\": 1, \"author\": {\"role\": \"user\"}, \"content\": "
         "\"c\", \"scope\": \"public\", \"created_at\": "
         "\"2021-05-25T21:07:42Z\", \"updated_at\": \"yesterday\"}",
         OB_ERR_FIELD_TYPE},
        {OB_MKT_KIND_MESSAGE,
         "{\"id\": 1, \"author\": {}, \"content\": \"c\", \"scope\": "
         "\"public\", \"created_at\": \"2021-05-25T21:07:42Z\", "
         "\"updated_at\": \"2021-05-25T21:07:42Z\"}",
         OB_ERR_MISSING_FIELD},
        {OB_MKT_KIND_MESSAGE,
         "{\"id\": 1, \"author\": {\"role\": \"user\"}, \"content\": "
         "null, \"scope\": \"public\", \"created_at\": "
         "\"2021-05-25T21:07:42Z\", \"updated_at\": "
         "\"2021-05-25T21:07:42Z\"}",
         OB_ERR_FIELD_TYPE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ob_mkt_resource_t *r = NULL;
        int rc = ob_mkt_resource_parse(bad[i].kind, bad[i].body, strlen(bad[i].body), &r);
        if (rc != bad[i].rc)
            fail_msg("case %zu: %d, expected %d", i, rc, bad[i].rc);
        assert_null(r);
    }
}

/* Writes n nested arrays around 1 as "x" of an object. */
static char *
s_nested(size_t n)
{
    char *text = malloc(2 * n + 64);
    assert_non_null(text);
    size_t len = (size_t)sprintf(text, "{\"events\": [], \"x\": ");
    memset(text + len, '[', n);
    len += n;
    text[len++] = '1';
    memset(text + len, ']', n);
    len += n;
    strcpy(text + len, "}");
    return text;
}

static void
test_caps(void **state)
{
    (void)state;
    ob_mkt_page_t *page = NULL;
    /* Depth: the object is level 0, so the cap allows OB_GW_JSON_DEPTH_MAX - 1 arrays in it. */
    char *text = s_nested(OB_GW_JSON_DEPTH_MAX - 1);
    assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page), 0);
    ob_mkt_page_destroy(&page);
    free(text);
    text = s_nested(OB_GW_JSON_DEPTH_MAX);
    assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page), OB_ERR_TOO_LARGE);
    free(text);

    /* Body sizes: checked before parsing. */
    assert_int_equal(ob_mkt_page_parse(s_page, OB_GW_FEED_BODY_MAX + 1, &page), OB_ERR_TOO_LARGE);
    ob_mkt_resource_t *r = NULL;
    assert_int_equal(ob_mkt_project_parse(s_project, OB_GW_RESOURCE_BODY_MAX + 1, &r),
                     OB_ERR_TOO_LARGE);
    ob_mkt_error_t *err = NULL;
    assert_int_equal(ob_mkt_error_parse(s_project, OB_GW_ERROR_BODY_MAX + 1, &err),
                     OB_ERR_TOO_LARGE);

    /* Events per page, changes per event, a change's field and value. */
    const char *event = "{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": \"create\", "
                        "\"resource\": \"project\", \"project_id\": 1},";
    size_t n = OB_GW_PAGE_LIMIT_MAX + 1;
    text = malloc(n * strlen(event) + 32);
    assert_non_null(text);
    strcpy(text, "{\"events\": [");
    char *end = text + strlen(text);
    for (size_t i = 0; i < n; i++, end += strlen(event))
        memcpy(end, event, strlen(event));
    strcpy(end - 1, "]}");
    assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page), OB_ERR_TOO_LARGE);
    /* one fewer is fine */
    end -= strlen(event);
    strcpy(end - 1, "]}");
    assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page), 0);
    assert_int_equal(page->count, OB_GW_PAGE_LIMIT_MAX);
    ob_mkt_page_destroy(&page);
    free(text);

    const char *change = "{\"field\": \"f\", \"before\": \"b\", \"after\": \"a\"},";
    text = malloc((OB_CHANGES_MAX + 1) * strlen(change) + 256);
    assert_non_null(text);
    for (size_t count = OB_CHANGES_MAX; count <= OB_CHANGES_MAX + 1; count++) {
        strcpy(text, "{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": \"update\", "
                     "\"resource\": \"project\", \"project_id\": 1, \"changes\": [");
        for (size_t i = 0; i < count; i++)
            strcat(text, change);
        strcpy(text + strlen(text) - 1, "]}");
        assert_int_equal(s_one(text, &page), count > OB_CHANGES_MAX ? OB_ERR_TOO_LARGE : 0);
        ob_mkt_page_destroy(&page);
    }
    free(text);

    char *value = malloc(OB_CHANGE_VALUE_MAX + 2);
    text = malloc(OB_CHANGE_VALUE_MAX + 512);
    assert_non_null(value);
    assert_non_null(text);
    for (size_t len = OB_CHANGE_VALUE_MAX; len <= OB_CHANGE_VALUE_MAX + 1; len++) {
        memset(value, 'v', len);
        value[len] = '\0';
        snprintf(text, OB_CHANGE_VALUE_MAX + 512,
                 "{\"events\": [{\"timestamp\": \"2021-05-25T21:07:42Z\", \"type\": \"update\", "
                 "\"resource\": \"project\", \"project_id\": 1, \"changes\": [{\"field\": \"f\", "
                 "\"before\": \"%s\", \"after\": null}]}]}",
                 value);
        assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page),
                         len > OB_CHANGE_VALUE_MAX ? OB_ERR_TOO_LARGE : 0);
        ob_mkt_page_destroy(&page);
    }
    free(value);
    free(text);
}

/* --- allocation failures ------------------------------------------------------------------ */

typedef struct {
    ob_mkt_kind_t kind; /* OB_MKT_KIND_OTHER: a page; -1 below: an error body */
    const char *body;   /* what to parse */
} t_parse_t;

static int
s_parse_any(const void *arg)
{
    const t_parse_t *t = arg;
    size_t len = strlen(t->body);
    if (t->kind == OB_MKT_KIND_OTHER) {
        ob_mkt_page_t *page = NULL;
        int rc = ob_mkt_page_parse(t->body, len, &page);
        ob_mkt_page_destroy(&page);
        return rc;
    }
    if ((int)t->kind < 0) {
        ob_mkt_error_t *err = NULL;
        int rc = ob_mkt_error_parse(t->body, len, &err);
        ob_mkt_error_destroy(&err);
        return rc;
    }
    ob_mkt_resource_t *res = NULL;
    int rc = ob_mkt_resource_parse(t->kind, t->body, len, &res);
    ob_mkt_resource_destroy(&res);
    return rc;
}

static void
test_out_of_memory(void **state)
{
    (void)state;
    const t_parse_t cases[] = {
        {OB_MKT_KIND_OTHER, s_page},
        {OB_MKT_KIND_PROJECT, s_project},
        {OB_MKT_KIND_PROJECT_ITEM, s_item},
        {OB_MKT_KIND_MESSAGE, s_message},
        {(ob_mkt_kind_t)-1, "{\"error\": {\"a\": [\"b\", 1]}}"},
        {(ob_mkt_kind_t)-1, "{\"error\": \"x\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(t_alloc_each(s_parse_any, &cases[i], T_OURS) >= 1);
        assert_true(t_alloc_each(s_parse_any, &cases[i], T_JANSSON) > 2);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),           cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_resources),      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_page_malformed), cmocka_unit_test(test_resources_malformed),
        cmocka_unit_test(test_caps),           cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
