/*  ob_subs: the broker's durable subscriptions (proto/PROTOCOL.md section 12).

    Owns every subscription's definition, its position on each topic it matches, the
    deliveries in flight, their timers, and which consumers are attached. It decides what to
    deliver, reads the events from the store at each subscription's own pace (ob_store_scan:
    nothing is buffered per subscriber, so a slow one costs memory only for its credit) and
    hands each delivery to the server's sink. It never writes to the store: the changes to
    persist (subscription records, positions, dead letters) are collected into the server's
    next group commit (ob_subs_collect), which keeps "a dead letter and the position that
    marks its original done" one transaction.

    Runs in the server's thread; not thread-safe. A consumer is an opaque pointer (the
    server's session) that stays valid until ob_subs_detach_all is called for it.

    Persistent records (store.h ops), written by the writer in the batch they come with,
    each with a codec of its own that documents its layout and versions and reads what 0.5
    wrote: the subscription record (sub_record.h: owner, patterns, types, settings) and the
    position record (pos_record.h: the ack floor and the ranges of seqs done above it). A
    record that does not decode stops the load (OB_ERR_STORAGE, the reason logged): a
    subscription is never dropped or repaired silently.
    What is not persisted: attempt counters, pending deliveries, ephemeral subscriptions.
    After a restart every event above a floor that is not in its done ranges is delivered
    again, attempt 1 (at-least-once). */
#ifndef OB_SUBS_H
#define OB_SUBS_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/wire.h"
#include "store.h"
#include "sub_record.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_SUBS_QUANTUM 256                /* deliveries one subscription makes per pump turn */
#define OB_SUBS_EPHEMERAL_PREFIX "eph-"    /* names the broker gives ephemeral subscriptions */
#define OB_SUBS_DLQ_PREFIX "dlq."          /* dead letters of sub S go to topic dlq.S */
#define OB_SUBS_POS_RECORD_MAX OB_BODY_MAX /* bytes in a persisted position */
#define OB_SUBS_OWNER_MAX OB_SUB_RECORD_OWNER_MAX /* bytes in an owner: a client name (perms.h) */
#define OB_SUBS_DELIVER_COST 1024 /* bytes a DELIVER counts beyond its events: its */
/* header and body (OB_SERVER_DELIVER_MAX at most, far less for one event) and libzmq's records
   of its frames, so that many small deliveries count for what they hold (PROTOCOL.md 12.9) */

typedef struct ob_subs ob_subs_t;

#define OB_SUBS_FULL (-1)         /* deliver: the consumer's queue is full; sent nothing */
#define OB_SUBS_FULL_RETRY_MS 100 /* a delivery every consumer was too full for waits */
#define OB_SUBS_GONE (-2)         /* deliver: the consumer is gone (disconnected); sent nothing */

/* Sends one DELIVER message to consumer: msg (borrowed; sub, topic, seq, attempt, time,
   skipped, and count and times for the count events, all filled in) with the events of
   seq .. seq + count - 1 of one topic (events, count >= 1 of them, borrowed). The sink
   sends the first k of them, 1 <= k <= count, as one run (PROTOCOL.md 12.3; k is what the
   consumer's HELLO accepts) and lowers msg->count to k. Returns k, OB_SUBS_FULL (nothing
   sent: the next consumer is tried; if all are full, the deliveries are tried again
   OB_SUBS_FULL_RETRY_MS later, without counting an attempt), or OB_SUBS_GONE (nothing
   sent): the consumer is detached from this subscription at once and the deliveries go to
   another; the sink should end the consumer's session (ob_subs_detach_all) once the pump
   is over. */
typedef int(ob_subs_deliver_fn)(void *arg, void *consumer, ob_wire_msg_t *msg,
                                const ob_store_event_t *events, size_t count);

/* Tells consumer that subscription sub (borrowed) was deleted (ERROR 17, PROTOCOL.md
   12.7); it has been detached. */
typedef void(ob_subs_gone_fn)(void *arg, void *consumer, const char *sub);

/* Creates the subscriptions engine over store (borrowed, outliving it) and loads the
   persisted subscriptions and positions and the topic list. Returns 0, OB_ERR_STORAGE (a
   record cannot be read or decoded: the reason is logged) or -ENOMEM. */
int ob_subs_new(ob_store_t *store, ob_subs_deliver_fn *deliver, ob_subs_gone_fn *gone, void *arg,
                ob_subs_t **ret_subs);

/* Destroys it; sets *self_p to NULL; accepts NULL. */
void ob_subs_destroy(ob_subs_t **self_p);

/* Learns the outcome of a committed batch: the new last seqs of its topics, and the topics
   new to the store (a subscription matching one starts there at floor 0). */
void ob_subs_on_commit(ob_subs_t *self, const ob_store_item_t *items, size_t count);

/* SUBSCRIBE from consumer (msg decoded by ob_wire_decode). Creates the subscription if it
   does not exist, then attaches consumer unless *ret_defer is set. Writes the name into
   ret_name, *ret_created. A new durable subscription is not attached at once (*ret_defer
   = 1): its record must be committed first; the caller answers SUBSCRIBED after the commit
   that holds it and then calls ob_subs_attach. With msg->attach nothing is created: a
   missing subscription is OB_ERR_NO_SUCH_SUBSCRIPTION. owner (borrowed) is the name of the
   consumer's client in the permissions, or NULL when the broker runs without them: a new
   subscription records it, and an existing one whose recorded owner is another client is
   OB_ERR_FORBIDDEN (one without an owner, made before owners were recorded or without
   permissions, admits every client). Returns 0, OB_ERR_FORBIDDEN, OB_ERR_INVALID_PATTERN,
   OB_ERR_INVALID_ARGUMENT (a name in the broker's own "eph-" space, a pattern that only
   matches dead-letter topics of itself), OB_ERR_SUBSCRIPTION_EXISTS, OB_ERR_LIMIT (the
   broker's OB_SUBS_MAX, or consumer's maximum: ob_subs_set_max_per_consumer),
   OB_ERR_STORAGE or -ENOMEM. */
int ob_subs_subscribe(ob_subs_t *self, void *consumer, const char *owner, const ob_wire_msg_t *msg,
                      char ret_name[OB_SUB_NAME_MAX + 1], int *ret_created, int *ret_defer);

/* Sets the most subscriptions one consumer may be attached to (>= 1; the default is
   OB_SUBS_PER_CLIENT_DEFAULT): a SUBSCRIBE or attach beyond it is OB_ERR_LIMIT. */
void ob_subs_set_max_per_consumer(ob_subs_t *self, size_t max);

/* Sets the bytes of DELIVERs sent to one consumer and not yet shown taken (ACK, NACK) beyond
   which it is sent nothing (>= 1; the default is OB_UNREAD_BYTES_DEFAULT; PROTOCOL.md 12.9).
   A consumer under it gets one more DELIVER, so it holds at most this plus one DELIVER. */
void ob_subs_set_max_unread(ob_subs_t *self, uint64_t bytes);

/* Attaches consumer to subscription sub (after a deferred SUBSCRIBE). Returns 0 or
   OB_ERR_NO_SUCH_SUBSCRIPTION (deleted meanwhile), OB_ERR_LIMIT (consumer attached to its
   maximum of subscriptions) or -ENOMEM. */
int ob_subs_attach(ob_subs_t *self, void *consumer, const char *sub);

/* Detaches consumer from sub: its pending deliveries become available to the others.
   Returns 0 or OB_ERR_NO_SUCH_SUBSCRIPTION (not attached). */
int ob_subs_unsubscribe(ob_subs_t *self, void *consumer, const char *sub);

/* Detaches consumer from every subscription (its session ended). */
void ob_subs_detach_all(ob_subs_t *self, void *consumer);

/* ACK and NACK from consumer; anything not pending to it is ignored (PROTOCOL.md 12.4),
   except as a sign of what it read (12.9). */
void ob_subs_ack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg);
void ob_subs_nack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg);

/* PING from consumer: it is alive, which ends its slowness (PROTOCOL.md 12.9). */
void ob_subs_ping(ob_subs_t *self, void *consumer);

/* SUB_REPOSITION. Returns 0, OB_ERR_NO_SUCH_SUBSCRIPTION or OB_ERR_STORAGE. */
int ob_subs_reposition(ob_subs_t *self, const ob_wire_msg_t *msg);

/* SUB_DELETE: tells each consumer (gone), forgets the subscription, and deletes its
   records at the next commit. Returns 0 or OB_ERR_NO_SUCH_SUBSCRIPTION. */
int ob_subs_delete(ob_subs_t *self, const char *sub);

/* Encodes the OK result of SUBS (after: names after it) or SUB_INFO (sub, after: topics
   after it) as one msgpack object into buf (cap bytes); sets *ret_len and *ret_more (the
   list was cut to fit). Returns 0, OB_ERR_NO_SUCH_SUBSCRIPTION or -ENOMEM. */
int ob_subs_list(ob_subs_t *self, const char *after, uint8_t *buf, size_t cap, size_t *ret_len,
                 int *ret_more);
int ob_subs_info(ob_subs_t *self, const char *sub, const char *after, uint8_t *buf, size_t cap,
                 size_t *ret_len, int *ret_more);

/* Runs the timers due at now (zclock_mono ms): ack timeouts, NACK and backoff delays. */
void ob_subs_tick(ob_subs_t *self, int64_t now);

/* Returns the zclock_mono time of the next timer, or INT64_MAX. */
int64_t ob_subs_next_timer(const ob_subs_t *self);

/* Delivers what credit allows, at most budget deliveries in all, fairly across the
   subscriptions with work. Returns the number made. */
size_t ob_subs_pump(ob_subs_t *self, size_t budget, int64_t now);

/* Returns 1 if a pump would deliver something now. */
int ob_subs_busy(const ob_subs_t *self);

/* What a commit must write for the subscriptions. Filled by ob_subs_collect: ops point into
   arena; each dead letter is an encoded event (malloc'ed, the caller frees it with free())
   with its topic and id as views into it. */
typedef struct ob_subs_letter {
    uint8_t *event; /* the dead-letter event, owned by the collector's caller */
    size_t event_len;
    char topic[OB_TOPIC_MAX + 1]; /* dlq.<sub> */
    char id[OB_EVENT_ID_MAX + 1]; /* "dl-<topic id>-<seq>" */
} ob_subs_letter_t;

typedef struct ob_subs_batch {
    ob_store_op_t *ops; /* op_cap entries */
    size_t op_count;    /* entries used */
    size_t op_cap;
    uint8_t *arena;   /* values and names of ops */
    size_t arena_len; /* bytes used */
    size_t arena_cap;
    ob_subs_letter_t *letters; /* letter_cap entries */
    size_t letter_count;
    size_t letter_cap;
} ob_subs_batch_t;

/* Moves what is to be persisted into batch (emptied first, allocations grown as needed):
   first the dead letters waiting (at most letter_cap; their originals are marked done
   now, so that both land in this commit), then deletions, then changed subscriptions and
   positions. Returns 0 or -ENOMEM (the state stays to be collected next time). */
int ob_subs_collect(ob_subs_t *self, ob_subs_batch_t *batch);

/* Returns 1 if something waits to be persisted. */
int ob_subs_dirty(const ob_subs_t *self);

/* The commit of batch failed: marks its subscriptions and positions to be written again
   and queues its dead letters again (taking their events). */
void ob_subs_uncollect(ob_subs_t *self, ob_subs_batch_t *batch);

/* Frees what batch holds. */
void ob_subs_batch_free(ob_subs_batch_t *batch);

/* Counters since start, for the server's summary and STATS. */
typedef struct ob_subs_stats {
    uint64_t subscriptions; /* current, ephemeral included */
    uint64_t delivered;     /* DELIVERs sent, redeliveries included */
    uint64_t redelivered;   /* DELIVERs with attempt > 1 */
    uint64_t acked;         /* deliveries acked */
    uint64_t nacked;        /* deliveries nacked */
    uint64_t dead_lettered; /* events sent to a dlq. topic */
    uint64_t skipped;       /* events removed by retention before delivery */
} ob_subs_stats_t;

void ob_subs_stats(const ob_subs_t *self, ob_subs_stats_t *ret);

/* What ob_subs_each tells of one subscription. */
typedef void(ob_subs_each_fn)(void *arg, const char *name, int ephemeral, uint64_t lag,
                              uint64_t pending);

/* Calls fn(arg, ...) for every subscription, in no particular order: its name (borrowed for
   the call), whether it is ephemeral, its lag (events of its topics not yet done: what SUBS
   reports) and its pending deliveries (delivered, not yet acked or nacked). fn must not
   change the subscriptions. Costs one step per position: a subscription matching a million
   topics takes a million. */
void ob_subs_each(ob_subs_t *self, ob_subs_each_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
