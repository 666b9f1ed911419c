/*  ob_mkt_event: see mp_event.h. */
#include "mp_event.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "orderbus/error.h"

#define S_DOMAIN "orderbus.gateway.event.v1" /* the digest's first bytes, with its NUL */

static const char *const s_status_fields[] = {"status", "status.value", "status.type"};

int
ob_mkt_event_type(const ob_mkt_event_t *ev, const char **ret_type)
{
    const char *type = NULL;
    if (ev->action == OB_MKT_ACTION_CREATE) {
        static const char *const created[] = {
            [OB_MKT_KIND_PROJECT] = "project.created",
            [OB_MKT_KIND_PROJECT_ITEM] = "project_item.created",
            [OB_MKT_KIND_MESSAGE] = "message.posted",
        };
        if ((unsigned)ev->kind < OB_MKT_KIND_OTHER)
            type = created[ev->kind];
    } else if (ev->action == OB_MKT_ACTION_UPDATE && ev->kind == OB_MKT_KIND_MESSAGE) {
        type = "message.edited";
    } else if (ev->action == OB_MKT_ACTION_UPDATE && ev->kind == OB_MKT_KIND_PROJECT_ITEM) {
        type = "project_item.updated";
        for (size_t i = 0; i < ev->changes_count; i++)
            for (size_t j = 0; j < sizeof s_status_fields / sizeof s_status_fields[0]; j++)
                if (!strcmp(ev->changes[i].field, s_status_fields[j]))
                    type = "project_item.status_changed";
    }
    if (!type)
        return OB_ERR_INVALID_EVENT;
    *ret_type = type;
    return 0;
}

/* --- digest --------------------------------------------------------------------------------- */

static void
s_put_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

static void
s_put_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(st, b, sizeof b);
}

static void
s_put_str(crypto_generichash_state *st, const char *text)
{
    size_t len = strlen(text);
    s_put_u32(st, (uint32_t)len); /* every string here is capped far below 4 GiB */
    crypto_generichash_update(st, (const uint8_t *)text, len);
}

static void
s_put_val(crypto_generichash_state *st, const char *text)
{
    uint8_t tag = text ? 1 : 0;
    crypto_generichash_update(st, &tag, 1);
    if (text)
        s_put_str(st, text);
}

int
ob_mkt_event_digest(uint64_t oms_id, const ob_mkt_event_t *ev, uint8_t ret_digest[OB_GW_DIGEST_LEN])
{
    const char *type = NULL;
    int rc = ob_mkt_event_type(ev, &type);
    if (rc)
        return rc;
    /* Lets libsodium pick its fastest BLAKE2b; whatever it returns, crypto_generichash
       gives the same bytes (the reference implementation otherwise). */
    if (sodium_init() < 0) {
        /* nothing to do: the reference implementation is used */
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, OB_GW_DIGEST_LEN);
    crypto_generichash_update(&st, (const uint8_t *)S_DOMAIN, sizeof S_DOMAIN);
    s_put_u64(&st, oms_id);
    s_put_u64(&st, ev->project_id);
    s_put_u64(&st, ev->project_item_id);
    s_put_u64(&st, ev->message_id);
    s_put_u64(&st, strcmp(type, "project.created") ? ev->time_us : 0);
    s_put_str(&st, ob_mkt_kind_name(ev->kind));
    s_put_str(&st, type);
    s_put_u32(&st, (uint32_t)ev->changes_count);
    for (size_t i = 0; i < ev->changes_count; i++) {
        s_put_str(&st, ev->changes[i].field);
        s_put_val(&st, ev->changes[i].before);
        s_put_val(&st, ev->changes[i].after);
    }
    crypto_generichash_final(&st, ret_digest, OB_GW_DIGEST_LEN);
    return 0;
}

void
ob_mkt_event_id(const uint8_t digest[OB_GW_DIGEST_LEN], uint32_t rank,
                char ret_id[OB_GW_EVENT_ID_TEXT])
{
    uint8_t input[OB_GW_DIGEST_LEN + 4];
    uint8_t out[OB_GW_DIGEST_LEN];
    memcpy(input, digest, OB_GW_DIGEST_LEN);
    for (int i = 0; i < 4; i++)
        input[OB_GW_DIGEST_LEN + i] = (uint8_t)(rank >> (24 - 8 * i));
    /* Cannot fail with these sizes, initialised or not (see ob_mkt_event_digest). */
    crypto_generichash(out, sizeof out, input, sizeof input, NULL, 0);
    sodium_bin2hex(ret_id, OB_GW_EVENT_ID_TEXT, out, sizeof out);
}

void
ob_mkt_topic(uint64_t oms_id, char ret_topic[OB_GW_TOPIC_TEXT])
{
    snprintf(ret_topic, OB_GW_TOPIC_TEXT, "oms.%" PRIu64, oms_id);
}

int
ob_mkt_event_project_of(const ob_mkt_event_t *item_ev, ob_mkt_event_t *ret_ev)
{
    if (item_ev->project_id == 0)
        return OB_ERR_INVALID_ARGUMENT;
    *ret_ev = (ob_mkt_event_t){
        .time_us = item_ev->time_us,
        .action = OB_MKT_ACTION_CREATE,
        .kind = OB_MKT_KIND_PROJECT,
        .project_id = item_ev->project_id,
    };
    return 0;
}

int
ob_mkt_event_path(uint64_t oms_id, const ob_mkt_event_t *ev, char ret_path[OB_GW_PATH_MAX])
{
    switch (ev->kind) {
    case OB_MKT_KIND_PROJECT:
        snprintf(ret_path, OB_GW_PATH_MAX, "/api/v1/oms/%" PRIu64 "/projects/%" PRIu64, oms_id,
                 ev->project_id);
        return 0;
    case OB_MKT_KIND_PROJECT_ITEM:
        snprintf(ret_path, OB_GW_PATH_MAX,
                 "/api/v1/oms/%" PRIu64 "/projects/%" PRIu64 "/project_items/%" PRIu64, oms_id,
                 ev->project_id, ev->project_item_id);
        return 0;
    case OB_MKT_KIND_MESSAGE:
        snprintf(ret_path, OB_GW_PATH_MAX, "/api/v1/oms/%" PRIu64 "/messages/%" PRIu64, oms_id,
                 ev->message_id);
        return 0;
    case OB_MKT_KIND_OTHER:
        break;
    }
    return OB_ERR_INVALID_ARGUMENT;
}

/* Returns 1 if resource is the one ev names. */
static int
s_matches(const ob_mkt_event_t *ev, const ob_mkt_resource_t *resource)
{
    if (resource->kind != ev->kind)
        return 0;
    switch (ev->kind) {
    case OB_MKT_KIND_PROJECT:
        return resource->id == ev->project_id;
    case OB_MKT_KIND_PROJECT_ITEM:
        return resource->id == ev->project_item_id && resource->project_id == ev->project_id;
    case OB_MKT_KIND_MESSAGE:
        return resource->id == ev->message_id;
    case OB_MKT_KIND_OTHER:
        break;
    }
    return 0;
}

int
ob_mkt_event_build(uint64_t oms_id, const ob_mkt_event_t *ev, uint32_t rank,
                   const ob_mkt_resource_t *resource, uint8_t **ret_buf, size_t *ret_len,
                   char ret_id[OB_GW_EVENT_ID_TEXT])
{
    const char *type = NULL;
    uint8_t digest[OB_GW_DIGEST_LEN];
    char id[OB_GW_EVENT_ID_TEXT];
    char topic[OB_GW_TOPIC_TEXT];
    int rc = ob_mkt_event_type(ev, &type);
    if (rc)
        return rc;
    if (resource && !s_matches(ev, resource))
        return OB_ERR_INVALID_ARGUMENT;
    if ((rc = ob_mkt_event_digest(oms_id, ev, digest)) != 0)
        return rc;
    ob_mkt_event_id(digest, rank, id);
    ob_mkt_topic(oms_id, topic);
    ob_event_t event = {
        .id = id,
        .topic = topic,
        .type = type,
        .time_us = ev->time_us,
        .source = OB_MKT_EVENT_SOURCE,
        .oms_id = oms_id,
        .project_id = ev->project_id,
        .project_item_id = ev->project_item_id,
        .message_id = ev->message_id,
        .changes = ev->changes,
        .changes_count = ev->changes_count,
        .data = resource ? (const uint8_t *)resource->json : NULL,
        .data_len = resource ? resource->json_len : 0,
    };
    if ((rc = ob_event_encode(&event, ret_buf, ret_len)) != 0)
        return rc;
    if (ret_id)
        memcpy(ret_id, id, sizeof id);
    return 0;
}
