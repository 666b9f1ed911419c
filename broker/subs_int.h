/*  subs_int.h: what the parts of ob_subs (subs.h) share, private to them.

    ob_subs is written in five files, one job each:
      subs.c           the API's registry: creation and loading, topics, subscriptions and
                       consumers, the requests that make, attach, detach, reposition and
                       delete them, and what a commit tells (ob_subs_on_commit)
      subs_position.c  positions: ack floors, the done ranges above them, start floors
      subs_delivery.c  delivery: the work lists, flights and their states, credit, DELIVER
                       runs, redelivery and backoff, the unread-bytes limit and slow
                       consumers, ACK, NACK and PING
      subs_persist.c   persistence: what is dirty, the records and ops for the writer, dead
                       letters, and reading the records back at load
      subs_admin.c     what subscriptions report: SUBS and SUB_INFO results, stats, metrics
    All of them work on the structs below; functions one part calls in another are declared
    here (their contracts are at their definitions). Nothing outside these files includes
    this header.

    Model, per subscription:
    - a position (ob_subs_pos_t) per matched topic: the ack floor, the sorted done ranges
      above it, and `next`, the next seq to read for a first delivery (floor + 1 after a
      load);
    - flights (ob_subs_flight_t): events delivered at least once and not done, keyed by
      (position, seq) in a zhashx. A flight is in exactly one state list: `pending` (delivered, ack
      deadline in `due`; in delivery order, so deadlines are sorted), `waiting` (a NACK or
      backoff delay until `due`), `ready` (to be redelivered now) or `dead` (over
      max_attempts, its dead letter not yet collected). Credit bounds the number of
      flights: an event that waits for redelivery still holds its credit, so a subscriber
      that NACKs everything cannot make the broker hold unbounded state;
    - consumers: attached sessions, served round-robin, each with the bytes of DELIVERs sent
      to it and the bytes it showed it took (ob_subs_consumer_t, PROTOCOL.md 12.9): one that
      is over its unread limit, or slow, gets nothing until it shows it read;
    - `readable`: the positions that may have events to read (next <= the topic's last seq).

    Work lists of the engine: `active` holds the subscriptions that may deliver now (a pump
    takes them round-robin and drops those with nothing left to do); `dirty` those with
    something to persist. Everything that changes a subscription's state puts it on the
    lists it needs, so neither the pump nor the collector ever walks every subscription. */
#ifndef OB_SUBS_INT_H
#define OB_SUBS_INT_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "pos_record.h"
#include "subs.h"

typedef struct ob_subs_topic ob_subs_topic_t;
typedef struct ob_subs_pos ob_subs_pos_t;
typedef struct ob_subs_sub ob_subs_sub_t;

enum {
    OB_SUBS_F_NONE,
    OB_SUBS_F_PENDING,
    OB_SUBS_F_WAITING,
    OB_SUBS_F_READY,
    OB_SUBS_F_DEAD,
    OB_SUBS_F_STATES
};

/* A delivered event that is not done. The key of sub->flights is the flight itself: its
   first two members. */
typedef struct ob_subs_flight ob_subs_flight_t;
typedef struct ob_subs_consumer ob_subs_consumer_t;
struct ob_subs_flight {
    ob_subs_pos_t *pos;           /* key: the position */
    uint64_t seq;                 /* key: the event's seq */
    ob_subs_consumer_t *consumer; /* PENDING: the consumer it was delivered to, else NULL */
    ob_subs_consumer_t *sent_to;  /* the consumer of its last copy, NULL if none or it left */
    uint64_t mark;                /* sent_to's `sent` just after that copy */
    uint32_t attempt;             /* deliveries so far */
    int state;                    /* F_*: the list it is in */
    int64_t due;            /* PENDING: ack deadline; WAITING: when it is ready (zclock_mono ms) */
    ob_subs_flight_t *prev; /* in the list of its state (intrusive: moving a flight between */
    ob_subs_flight_t *next; /* states, once per delivery and per ack, allocates nothing) */
};

/* A list of flights in one state. */
typedef struct ob_subs_flight_list {
    ob_subs_flight_t *head, *tail;
    size_t size;
} ob_subs_flight_list_t;

/* A consumer attached to one or more subscriptions (PROTOCOL.md 12.9). Marks are counts of
   bytes sent to it: ZeroMQ keeps a connection's order, so a consumer that took the DELIVER
   ending at mark m took every byte before m. */
struct ob_subs_consumer {
    void *id;        /* the server's session */
    zlistx_t *names; /* the subscriptions it is attached to, owned */
    uint64_t sent;   /* bytes of DELIVERs sent to it (OB_SUBS_DELIVER_COST each, and events) */
    uint64_t read;   /* the mark up to which it showed it took them (ACK, NACK) */
    uint64_t heard;  /* `sent` when its last PING, ACK or NACK came */
    uint64_t slow;   /* a copy ending here passed its ack deadline with nothing heard since */
    uint64_t orphan; /* the highest mark of its unread copies that were taken from it */
};

typedef ob_pos_range_t ob_subs_range_t; /* seqs lo..hi are done, as stored (pos_record.h) */

struct ob_subs_topic {
    uint32_t id;        /* store topic id, 0 until known */
    size_t name_len;    /* bytes in name */
    uint64_t woken;     /* the commit (self->commits) that last woke its readers */
    uint64_t last_seq;  /* last committed seq */
    zlistx_t *watchers; /* ob_subs_pos_t * of every subscription matching it, borrowed */
    char name[];
};

struct ob_subs_pos {
    ob_subs_sub_t *sub;     /* borrowed */
    ob_subs_topic_t *topic; /* borrowed */
    uint64_t floor;         /* ack floor */
    ob_subs_range_t *done;  /* done ranges above floor + 1, sorted, disjoint, not adjacent */
    size_t done_count;
    size_t done_cap;
    uint64_t next;    /* next seq to read for a first delivery */
    uint64_t skipped; /* removed by retention, to be reported in the next DELIVER */
    int dirty;        /* to be persisted */
    void *readable;   /* node in sub->readable, or NULL */
    void *watch;      /* node in topic->watchers */
};

struct ob_subs_sub {
    char name[OB_SUB_NAME_MAX + 1];
    char owner[OB_SUBS_OWNER_MAX + 1]; /* the client that made it, or "" (ob_subs_subscribe) */
    size_t pattern_count;
    char *patterns[OB_SUB_PATTERNS_MAX];
    size_t type_count;
    char *types[OB_SUB_TYPES_MAX];
    uint32_t credit;
    uint32_t ack_wait_ms;
    uint32_t max_attempts;
    uint32_t backoff_ms;
    int ephemeral;
    int dirty;           /* the record is to be persisted */
    zhashx_t *positions; /* topic name -> ob_subs_pos_t, owned */
    zhashx_t *flights;   /* ob_subs_flight_t -> ob_subs_flight_t, owned (freed by us) */
    ob_subs_flight_list_t
        lists[OB_SUBS_F_STATES];    /* flights by state; OB_SUBS_F_PENDING's by deadline */
    zlistx_t *readable;             /* ob_subs_pos_t * */
    zlistx_t *dirty_pos;            /* ob_subs_pos_t * with dirty set */
    ob_subs_consumer_t **consumers; /* attached consumers, borrowed from ob_subs.consumers */
    size_t consumer_count;
    size_t consumer_cap;
    size_t rr;                                      /* next consumer, round-robin */
    void *active;                                   /* node in self->active, or NULL */
    void *dirty_node;                               /* node in self->dirty, or NULL */
    uint64_t delivered, redelivered, dead_lettered; /* since start */
};

/* First deliveries gathered while reading (s_on_event) to be sent as DELIVER runs
   (PROTOCOL.md 12.3): consecutive seqs of one position, at most OB_DELIVER_RUN_MAX events
   and OB_DELIVER_RUN_BYTES bytes (one larger event goes alone). A read hands out pointers
   that die with its transaction, so the events are copied into buf; the run is sent
   (s_run_flush) before the next one starts and after every read. Its flights are in no
   state list until then. */
typedef struct ob_subs_run {
    ob_subs_sub_t *sub;
    size_t count;                                  /* entries used below */
    ob_subs_flight_t *flights[OB_DELIVER_RUN_MAX]; /* in seq order */
    ob_store_event_t events[OB_DELIVER_RUN_MAX];   /* event pointers set at the flush */
    size_t at[OB_DELIVER_RUN_MAX];                 /* each event's offset in buf */
    uint8_t *buf;                                  /* the events' bytes, owned */
    size_t len, cap;                               /* bytes used and allocated at buf */
} ob_subs_run_t;

struct ob_subs {
    ob_store_t *store;
    ob_subs_deliver_fn *deliver;
    ob_subs_gone_fn *gone;
    void *arg;
    zhashx_t *subs;      /* name -> ob_subs_sub_t, owned */
    zhashx_t *topics;    /* name -> ob_subs_topic_t, owned */
    zhashx_t *consumers; /* consumer pointer -> ob_subs_consumer_t, owned */
    size_t per_consumer; /* most subscriptions one consumer is attached to */
    uint64_t max_unread; /* bytes sent to a consumer and not shown taken, before it waits */
    zlistx_t *active;    /* ob_subs_sub_t * that may deliver */
    zlistx_t *dirty;     /* ob_subs_sub_t * with something to persist */
    zlistx_t *deleted;   /* names (owned) whose records are to be deleted */
    zlistx_t *letters;   /* ob_subs_letter_t * (owned) to be written again */
    ob_subs_stats_t stats;
    int64_t now;               /* time of the current pump, for callbacks */
    ob_wire_msg_t deliver_msg; /* DELIVER being sent: zeroed once, its fields set each time */
    ob_subs_run_t run;         /* first deliveries being gathered into runs (s_run_add) */
    uint64_t commits;          /* commits seen (ob_subs_on_commit) */
    ob_subs_flight_t *spare;   /* freed flights for reuse, linked by next */
    size_t spare_count;
};

/* subs.c: the registry */
int ob_subs_sub_matches(const ob_subs_sub_t *sub, const char *topic);
void ob_subs_sub_free(ob_subs_sub_t *sub);
ob_subs_sub_t *ob_subs_sub_new(const ob_wire_msg_t *msg, const char *name);
ob_subs_consumer_t *ob_subs_consumer(ob_subs_t *self, void *id, int create);

/* subs_position.c: positions */
void ob_subs_pos_done(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t seq);
int ob_subs_pos_is_done(const ob_subs_pos_t *pos, uint64_t seq);
uint64_t ob_subs_pos_lag(const ob_subs_pos_t *pos);
void ob_subs_pos_set_floor(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t floor);
void ob_subs_pos_raise_floor(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t floor);
uint64_t ob_subs_start_floor(ob_subs_t *self, const ob_subs_topic_t *topic, ob_start_t start,
                             uint64_t start_seq, uint64_t start_time);
void ob_subs_pos_free(ob_subs_pos_t *pos);
ob_subs_pos_t *ob_subs_pos_new(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_topic_t *topic,
                               uint64_t floor);
int ob_subs_sub_positions(ob_subs_t *self, ob_subs_sub_t *sub, ob_start_t start, uint64_t start_seq,
                          uint64_t start_time);

/* subs_delivery.c: the work lists, flights, consumers' feedback */
void ob_subs_activate(ob_subs_t *self, ob_subs_sub_t *sub);
void ob_subs_pos_readable(ob_subs_t *self, ob_subs_pos_t *pos);
void ob_subs_flight_done(ob_subs_t *self, ob_subs_flight_t *f);
void ob_subs_flights_free(ob_subs_sub_t *sub);
void ob_subs_detach(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_consumer_t *c, int64_t now);

/* subs_persist.c: what to persist, and loading */
void ob_subs_mark_dirty(ob_subs_t *self, ob_subs_sub_t *sub);
void ob_subs_pos_dirty(ob_subs_t *self, ob_subs_pos_t *pos);
int ob_subs_on_sub(void *arg, const char *name, const uint8_t *value, size_t len);
int ob_subs_on_pos(void *arg, const char *name, const char *topic_name, const uint8_t *value,
                   size_t len);

#endif
