/*  fuzz_mp_parse: the parsers of the Marketplace's responses (gateway/mp_parse.h) on arbitrary
    bytes, and what the gateway does next with whatever they accept.

    The first byte chooses the parser (its value modulo 5): events page, project, project item,
    message, error body; the rest is the body. Properties checked beyond "no crash, no leak,
    no over-read" (the sanitizers' part):
    - a refusal is one of the codes mp_parse.h documents and leaves the output alone;
    - an accepted page holds events with the ids their kind needs, at most OB_CHANGES_MAX
      changes with non-empty fields; each event with a mapping encodes as our event (so the
      parser's caps fit the event's), with the id the digest and rank give, and one without a
      mapping is refused with OB_ERR_INVALID_EVENT; the page through a poller gives a step, a
      broken-contract code or the limit code, and every emit builds;
    - an accepted resource's snapshot is JSON text of its length; an accepted error body has a
      text within OB_GW_ERROR_TEXT_MAX bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_limits.h"
#include "mp_event.h"
#include "mp_parse.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "poller.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* What the outputs point at before a call: a refusal must leave them so. */
static ob_mkt_page_t s_page_mark;
static ob_mkt_resource_t s_resource_mark;
static ob_mkt_error_t s_error_mark;

static int
s_refusal(int rc)
{
    return rc == OB_ERR_MALFORMED || rc == OB_ERR_MISSING_FIELD || rc == OB_ERR_FIELD_TYPE ||
           rc == OB_ERR_TOO_LARGE || rc == -ENOMEM;
}

/* Builds ev (rank) and checks it as the header promises. */
static void
s_check_build(const ob_mkt_event_t *ev, uint32_t rank, const char *expected_id)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char id[OB_GW_EVENT_ID_TEXT];
    const char *type = NULL;
    int mapped = ob_mkt_event_type(ev, &type) == 0;
    int rc = ob_mkt_event_build(3, ev, rank, NULL, &buf, &len, id);
    if (!mapped) {
        s_require(rc == OB_ERR_INVALID_EVENT);
        return;
    }
    s_require(rc == 0 || rc == -ENOMEM);
    if (rc)
        return;
    ob_event_t *e = NULL;
    rc = ob_event_decode(buf, len, &e);
    s_require(rc == 0 || rc == -ENOMEM);
    if (e) {
        s_require(!strcmp(e->id, id) && !strcmp(e->type, type));
        s_require(e->changes_count == ev->changes_count);
    }
    if (expected_id)
        s_require(!strcmp(id, expected_id));
    uint8_t digest[OB_GW_DIGEST_LEN];
    char again[OB_GW_EVENT_ID_TEXT];
    s_require(ob_mkt_event_digest(3, ev, digest) == 0);
    ob_mkt_event_id(digest, rank, again);
    s_require(!strcmp(again, id));
    ob_event_destroy(&e);
    free(buf);
}

static void
s_page(const char *body, size_t len)
{
    ob_mkt_page_t *page = &s_page_mark;
    int rc = ob_mkt_page_parse(body, len, &page);
    if (rc) {
        s_require(s_refusal(rc) && page == &s_page_mark);
        return;
    }
    s_require(page->count <= OB_GW_PAGE_LIMIT_MAX);
    for (size_t i = 0; i < page->count; i++) {
        const ob_mkt_event_t *ev = &page->events[i];
        if (ev->kind == OB_MKT_KIND_PROJECT || ev->kind == OB_MKT_KIND_PROJECT_ITEM)
            s_require(ev->project_id != 0);
        if (ev->kind == OB_MKT_KIND_PROJECT_ITEM)
            s_require(ev->project_item_id != 0);
        if (ev->kind == OB_MKT_KIND_MESSAGE)
            s_require(ev->message_id != 0);
        s_require(ev->changes_count <= OB_CHANGES_MAX);
        for (size_t c = 0; c < ev->changes_count; c++)
            s_require(ev->changes[c].field[0] != '\0');
        s_check_build(ev, (uint32_t)i, NULL);
    }
    /* The page through a poller whose read it answers (page size = its count). */
    ob_poller_config_t config = {.oms_id = 3,
                                 .page_size = page->count ? (uint32_t)page->count : 1,
                                 .overlap_s = 1,
                                 .cursor_s = 0};
    ob_poller_t *poller = ob_poller_new(&config);
    if (poller) {
        ob_poller_read_t read;
        ob_poller_step_t step;
        ob_poller_start(poller, &read);
        rc = ob_poller_page(poller, page, &step, &read);
        s_require(rc == 0 || rc == OB_ERR_MALFORMED || rc == OB_ERR_LIMIT || rc == -ENOMEM);
        for (size_t i = 0; rc == 0 && i < step.count; i++) {
            s_check_build(&step.emits[i].event, step.emits[i].rank, step.emits[i].id);
            uint64_t project = 0;
            s_require(ob_poller_confirmed(poller, step.emits[i].seq, &project) == 0);
        }
        ob_poller_destroy(&poller);
    }
    ob_mkt_page_destroy(&page);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    unsigned which = data[0] % 5;
    if (which == 0) {
        s_page(body, len);
    } else if (which <= 3) {
        static const ob_mkt_kind_t kinds[] = {OB_MKT_KIND_PROJECT, OB_MKT_KIND_PROJECT_ITEM,
                                              OB_MKT_KIND_MESSAGE};
        ob_mkt_resource_t *res = &s_resource_mark;
        int rc = ob_mkt_resource_parse(kinds[which - 1], body, len, &res);
        if (rc) {
            s_require(s_refusal(rc) && res == &s_resource_mark);
            return 0;
        }
        s_require(res->kind == kinds[which - 1] && res->id != 0);
        s_require(res->json && strlen(res->json) == res->json_len && res->json[0] == '{');
        s_require((res->kind == OB_MKT_KIND_PROJECT_ITEM) == (res->status_type != NULL));
        ob_mkt_resource_destroy(&res);
    } else {
        ob_mkt_error_t *err = &s_error_mark;
        int rc = ob_mkt_error_parse(body, len, &err);
        if (rc) {
            s_require(s_refusal(rc) && err == &s_error_mark);
            return 0;
        }
        s_require(strlen(err->text) <= OB_GW_ERROR_TEXT_MAX);
        s_require(strlen(err->json) == err->json_len);
        s_require(err->json[0] == (err->is_object ? '{' : '"'));
        ob_mkt_error_destroy(&err);
    }
    return 0;
}
