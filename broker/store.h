/*  ob_store: the broker's topic store (DESIGN.md sections 3, 4 and 9).

    This header is the storage interface; the rest of the broker knows nothing else about
    storage. The embedded default is LMDB (store_lmdb.c, chosen at link time); a replicated
    backend such as NATS JetStream would implement the same functions in its own file:
    - a topic is an append-only log; sequence numbers are per topic, strictly increasing,
      from 1, without gaps;
    - ob_store_append is all-or-nothing for a batch and durable when it returns 0: every item
      with rc == 0 is on stable storage (or, for a replicated backend, acknowledged by a
      quorum) with its seq;
    - an event id is stored once per topic: appending it again stores nothing and yields the
      first seq with dup = 1.

    Threads: one thread (the broker's writer) calls ob_store_append, ob_store_maintain and
    ob_store_stats; ob_store_open and ob_store_close are called when no other thread uses the
    store. ob_store_get, ob_store_topic_stat and ob_store_topics_count may run on any thread
    at any time, also while the writer grows the map. */
#ifndef OB_STORE_H
#define OB_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_STORE_MAINTAIN_MS 10000 /* how often the writer calls ob_store_maintain */

typedef struct ob_store ob_store_t;

/* One event to append, and what became of it. All input pointers are borrowed for the
   duration of ob_store_append. */
typedef struct ob_store_item {
    const char *topic;    /* topic name, topic_len bytes, need not be NUL-terminated */
    size_t topic_len;     /* bytes at topic */
    const char *event_id; /* the event's id (dedup key), event_id_len bytes */
    size_t event_id_len;  /* 1..OB_EVENT_ID_MAX */
    const uint8_t *event; /* the encoded event, stored verbatim */
    size_t event_len;     /* 1..OB_EVENT_MAX_CAP */
    uint64_t time_us;     /* stored time (µs since the epoch); 0 for "now" */
    /* out: */
    uint64_t seq; /* the event's sequence number in its topic (rc == 0) */
    int dup;      /* 1 if the id was already stored on the topic (rc == 0) */
    int rc;       /* 0 or the item's OB_ERR_* code */
} ob_store_item_t;

/* A topic's figures. */
typedef struct ob_topic_stat {
    uint64_t first_seq; /* oldest stored sequence number, 0 if the topic is empty */
    uint64_t last_seq;  /* newest sequence number given out, 0 if none */
    uint64_t events;    /* events stored */
    uint64_t bytes;     /* bytes of the stored events */
} ob_topic_stat_t;

/* The store's figures since open (map_size, topics and events are current values). */
typedef struct ob_store_stats {
    uint64_t map_size;   /* current map size in bytes */
    uint64_t growths;    /* times the map was grown because it was full */
    uint64_t commits;    /* write transactions committed */
    uint64_t appended;   /* events stored */
    uint64_t duplicates; /* appends refused as duplicates */
    uint64_t topics;     /* topics stored */
    uint64_t events;     /* events stored, all topics */
} ob_store_stats_t;

/* Opens (creating with mode 0700 if needed) the store in directory dir (borrowed), with an
   initial map of map_size bytes (a larger existing store keeps its size). Clears stale reader
   slots left by dead processes. On success *ret_store is a new store the caller closes with
   ob_store_close. Returns 0, -errno (the directory cannot be created or opened: -EACCES,
   -ENOENT for a missing parent, ...), OB_ERR_STORAGE (not an orderbus store, an unknown
   format version, or an LMDB failure) or -ENOMEM. */
int ob_store_open(const char *dir, uint64_t map_size, ob_store_t **ret_store);

/* Closes the store and sets *self_p to NULL; accepts NULL. */
void ob_store_close(ob_store_t **self_p);

/* Appends count items (borrowed; their outputs written) in one durable transaction: each
   item gets rc 0 with its seq and dup, or its own error: OB_ERR_INVALID_TOPIC,
   OB_ERR_INVALID_EVENT (id empty or over OB_EVENT_ID_MAX, empty event), OB_ERR_TOO_LARGE
   (event over OB_EVENT_MAX_CAP) or OB_ERR_LIMIT (OB_TOPICS_MAX topics exist). An item whose
   (topic, id) appeared earlier in the same batch is a duplicate of that one. A full map is
   grown and the batch retried, invisibly. Returns 0 (the items are durable), or
   OB_ERR_STORAGE or -ENOMEM: then nothing of the batch is stored and every item's rc is
   that code. */
int ob_store_append(ob_store_t *self, ob_store_item_t *items, size_t count);

/* Copies out the event at seq of topic (borrowed, NUL-terminated): *ret_event is the
   caller's to free(), *ret_len its size. Returns 0, OB_ERR_NO_SUCH_TOPIC, -ENOENT (no event
   at seq), OB_ERR_STORAGE or -ENOMEM. */
int ob_store_get(ob_store_t *self, const char *topic, uint64_t seq, uint8_t **ret_event,
                 size_t *ret_len);

/* Fills *ret with the figures of topic (borrowed, NUL-terminated). Returns 0,
   OB_ERR_NO_SUCH_TOPIC or OB_ERR_STORAGE. */
int ob_store_topic_stat(ob_store_t *self, const char *topic, ob_topic_stat_t *ret);

/* Writes the number of topics to *ret_count. Returns 0 or OB_ERR_STORAGE. */
int ob_store_topics_count(ob_store_t *self, uint64_t *ret_count);

/* Fills *ret with the store's figures. Returns 0 or OB_ERR_STORAGE. */
int ob_store_stats(ob_store_t *self, ob_store_stats_t *ret);

/* Housekeeping the writer runs every OB_STORE_MAINTAIN_MS: releases reader slots of dead
   processes (mdb_reader_check). Writes how many were released to *ret_cleared (may be
   NULL). Returns 0 or OB_ERR_STORAGE. */
int ob_store_maintain(ob_store_t *self, int *ret_cleared);

#ifdef __cplusplus
}
#endif
#endif
