/*  ob_mkt_event: one Marketplace feed event, with the resource it names, as our enriched event
    (DESIGN.md section 2, orderbus/event.h).

    Type mapping (feed "type" and "resource" -> our type):
        create  project       -> project.created
        create  project_item  -> project_item.created
        create  message       -> message.posted
        update  project_item  -> project_item.status_changed if a change's field is "status",
                                 "status.value" or "status.type", else project_item.updated
        update  message       -> message.edited
    Anything else (update of a project, which the Marketplace never emits; delete; an OTHER
    action or kind) has no mapping: OB_ERR_INVALID_EVENT, and the poller skips it.

    The enriched event: topic "oms.<oms_id>", the type above, time = the feed's timestamp
    (whole seconds, in µs), source OB_MKT_EVENT_SOURCE, oms_id, project_id, project_item_id
    (the per-project iid), message_id as the feed gives them (0 when absent), changes as the
    feed gives them, data = the fetched resource as compact JSON (the Marketplace's snapshot;
    empty when the caller has none, e.g. the resource is gone: 404).

    Event id (the broker's dedup key), exactly:
        digest = BLAKE2b-256 (libsodium crypto_generichash, 32-byte output, no key) of
            "orderbus.gateway.event.v1" and its NUL (26 bytes), then
            u64 oms_id, u64 project_id, u64 project_item_id, u64 message_id, u64 time_us,
            str kind name ("project", "project_item", "message"),
            str our event type ("project_item.status_changed", ...),
            u32 changes_count, then per change: str field, val before, val after,
        where u64/u32 are big-endian, str is a u32 big-endian byte length then the bytes, and
        val is the byte 0 for nil, or the byte 1 then a str;
        for project.created, time_us is written as 0 (a project is created once, and the
        synthetic project.created the poller makes for a project the feed hid, 6.4 point 4,
        must get the id of the real one, whose time it cannot know);
        id = lowercase hex of BLAKE2b-256 of the 32 digest bytes then u32 rank,
        where rank is the event's index among the events of the same second with the same
        digest, in feed order (0 for the first). Identical events are indistinguishable, so
        which of them gets which rank does not matter; a re-read of the same feed gives the
        same ids, and a late-committed twin gets the next rank, a new id.
    The resource snapshot is not hashed: it is fetched later and may have changed by a
    re-read; the first publish wins. */
#ifndef OB_GW_MP_EVENT_H
#define OB_GW_MP_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"
#include "mp_parse.h"

#define OB_MKT_EVENT_SOURCE "orderbus-gateway" /* the source of every event we make */

/* Writes the type ev maps to (a static string) into *ret_type. Returns 0 or
   OB_ERR_INVALID_EVENT (no mapping, see above). */
int ob_mkt_event_type(const ob_mkt_event_t *ev, const char **ret_type);

/* Computes the digest of ev (borrowed) for OMS oms_id, as specified above, into ret_digest.
   Returns 0 or OB_ERR_INVALID_EVENT (no mapping). */
int ob_mkt_event_digest(uint64_t oms_id, const ob_mkt_event_t *ev,
                        uint8_t ret_digest[OB_GW_DIGEST_LEN]);

/* Writes the id of the event with digest and rank, 64 lowercase hex digits and a NUL, into
   ret_id. Cannot fail. */
void ob_mkt_event_id(const uint8_t digest[OB_GW_DIGEST_LEN], uint32_t rank,
                     char ret_id[OB_GW_EVENT_ID_TEXT]);

/* Writes the topic "oms.<oms_id>" into ret_topic. Cannot fail. */
void ob_mkt_topic(uint64_t oms_id, char ret_topic[OB_GW_TOPIC_TEXT]);

/* Fills *ret_ev with the create event of the project of item_ev (borrowed, a project item
   event): the project.created to publish before it when the feed hid the project's own
   (6.4 point 4); same time, no changes. Returns 0 or OB_ERR_INVALID_ARGUMENT (item_ev names
   no project). */
int ob_mkt_event_project_of(const ob_mkt_event_t *item_ev, ob_mkt_event_t *ret_ev);

/* Writes the Marketplace API path of the resource ev names (4.5, 4.7, 4.11) into ret_path:
   /api/v1/oms/<oms>/projects/<p>, .../projects/<p>/project_items/<iid> or
   /api/v1/oms/<oms>/messages/<m>. Returns 0 or OB_ERR_INVALID_ARGUMENT (OTHER kind). */
int ob_mkt_event_path(uint64_t oms_id, const ob_mkt_event_t *ev, char ret_path[OB_GW_PATH_MAX]);

/* Encodes the enriched event of ev (borrowed) with its rank, for OMS oms_id, with resource
   (borrowed; NULL for no snapshot) as its data, into a new buffer: on success *ret_buf is the
   caller's to free() and *ret_len its size, and ret_id (may be NULL) holds its id. The
   resource must be the one ev names: same kind and id (and project for an item).
   Returns 0, OB_ERR_INVALID_EVENT (no mapping, or a field ob_event_encode refuses),
   OB_ERR_INVALID_ARGUMENT (the resource is not the one ev names),
   OB_ERR_TOO_LARGE (over OB_EVENT_MAX_CAP) or -ENOMEM. */
int ob_mkt_event_build(uint64_t oms_id, const ob_mkt_event_t *ev, uint32_t rank,
                       const ob_mkt_resource_t *resource, uint8_t **ret_buf, size_t *ret_len,
                       char ret_id[OB_GW_EVENT_ID_TEXT]);

#endif
