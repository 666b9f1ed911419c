/*  ob_subs: see subs.h.

    Model, per subscription:
    - a position (s_pos_t) per matched topic: the ack floor, the sorted done ranges above it,
      and `next`, the next seq to read for a first delivery (floor + 1 after a load);
    - flights (s_flight_t): events delivered at least once and not done, keyed by (position,
      seq) in a zhashx. A flight is in exactly one state list: `pending` (delivered, ack
      deadline in `due`; in delivery order, so deadlines are sorted), `waiting` (a NACK or
      backoff delay until `due`), `ready` (to be redelivered now) or `dead` (over
      max_attempts, its dead letter not yet collected). Credit bounds the number of
      flights: an event that waits for redelivery still holds its credit, so a subscriber
      that NACKs everything cannot make the broker hold unbounded state;
    - consumers: attached sessions, served round-robin, each with the bytes of DELIVERs sent
      to it and the bytes it showed it took (s_consumer_t, PROTOCOL.md 12.9): one that is over
      its unread limit, or slow, gets nothing until it shows it read;
    - `readable`: the positions that may have events to read (next <= the topic's last seq).

    Work lists of the engine: `active` holds the subscriptions that may deliver now (a pump
    takes them round-robin and drops those with nothing left to do); `dirty` those with
    something to persist. Everything that changes a subscription's state puts it on the
    lists it needs, so neither the pump nor the collector ever walks every subscription. */
#include "subs.h"

#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/pattern.h"
#include "pos_record.h"
#include "sub_record.h"

#define S_DELAY_MAX ((int64_t)OB_DELAY_MS_MAX)
#define S_EPH_HEX 16 /* hex digits in an ephemeral name */

typedef struct s_topic s_topic_t;
typedef struct s_pos s_pos_t;
typedef struct s_sub s_sub_t;

enum { F_NONE, F_PENDING, F_WAITING, F_READY, F_DEAD, F_STATES };

/* A delivered event that is not done. The key of sub->flights is the flight itself: its
   first two members. */
typedef struct s_flight s_flight_t;
typedef struct s_consumer s_consumer_t;
struct s_flight {
    s_pos_t *pos;           /* key: the position */
    uint64_t seq;           /* key: the event's seq */
    s_consumer_t *consumer; /* PENDING: the consumer it was delivered to, else NULL */
    s_consumer_t *sent_to;  /* the consumer of its last copy, NULL if none or it left */
    uint64_t mark;          /* sent_to's `sent` just after that copy */
    uint32_t attempt;       /* deliveries so far */
    int state;              /* F_*: the list it is in */
    int64_t due;            /* PENDING: ack deadline; WAITING: when it is ready (zclock_mono ms) */
    s_flight_t *prev;       /* in the list of its state (intrusive: moving a flight between */
    s_flight_t *next;       /* states, once per delivery and per ack, allocates nothing) */
};

/* A list of flights in one state. */
typedef struct s_list {
    s_flight_t *head, *tail;
    size_t size;
} s_list_t;

#define S_SPARE_MAX 65536 /* freed flights kept for reuse (one credit's worth) */

/* A consumer attached to one or more subscriptions (PROTOCOL.md 12.9). Marks are counts of
   bytes sent to it: ZeroMQ keeps a connection's order, so a consumer that took the DELIVER
   ending at mark m took every byte before m. */
struct s_consumer {
    void *id;        /* the server's session */
    zlistx_t *names; /* the subscriptions it is attached to, owned */
    uint64_t sent;   /* bytes of DELIVERs sent to it (OB_SUBS_DELIVER_COST each, and events) */
    uint64_t read;   /* the mark up to which it showed it took them (ACK, NACK) */
    uint64_t heard;  /* `sent` when its last PING, ACK or NACK came */
    uint64_t slow;   /* a copy ending here passed its ack deadline with nothing heard since */
    uint64_t orphan; /* the highest mark of its unread copies that were taken from it */
};

typedef ob_pos_range_t s_range_t; /* seqs lo..hi are done, as stored (pos_record.h) */

struct s_topic {
    uint32_t id;        /* store topic id, 0 until known */
    size_t name_len;    /* bytes in name */
    uint64_t woken;     /* the commit (self->commits) that last woke its readers */
    uint64_t last_seq;  /* last committed seq */
    zlistx_t *watchers; /* s_pos_t * of every subscription matching it, borrowed */
    char name[];
};

struct s_pos {
    s_sub_t *sub;     /* borrowed */
    s_topic_t *topic; /* borrowed */
    uint64_t floor;   /* ack floor */
    s_range_t *done;  /* done ranges above floor + 1, sorted, disjoint, not adjacent */
    size_t done_count;
    size_t done_cap;
    uint64_t next;    /* next seq to read for a first delivery */
    uint64_t skipped; /* removed by retention, to be reported in the next DELIVER */
    int dirty;        /* to be persisted */
    void *readable;   /* node in sub->readable, or NULL */
    void *watch;      /* node in topic->watchers */
};

struct s_sub {
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
    int dirty;                /* the record is to be persisted */
    zhashx_t *positions;      /* topic name -> s_pos_t, owned */
    zhashx_t *flights;        /* s_flight_t -> s_flight_t, owned (freed by us) */
    s_list_t lists[F_STATES]; /* flights by state; F_PENDING's by deadline */
    zlistx_t *readable;       /* s_pos_t * */
    zlistx_t *dirty_pos;      /* s_pos_t * with dirty set */
    s_consumer_t **consumers; /* attached consumers, borrowed from ob_subs.consumers */
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
typedef struct s_run {
    s_sub_t *sub;
    size_t count;                                /* entries used below */
    s_flight_t *flights[OB_DELIVER_RUN_MAX];     /* in seq order */
    ob_store_event_t events[OB_DELIVER_RUN_MAX]; /* event pointers set at the flush */
    size_t at[OB_DELIVER_RUN_MAX];               /* each event's offset in buf */
    uint8_t *buf;                                /* the events' bytes, owned */
    size_t len, cap;                             /* bytes used and allocated at buf */
} s_run_t;

struct ob_subs {
    ob_store_t *store;
    ob_subs_deliver_fn *deliver;
    ob_subs_gone_fn *gone;
    void *arg;
    zhashx_t *subs;      /* name -> s_sub_t, owned */
    zhashx_t *topics;    /* name -> s_topic_t, owned */
    zhashx_t *consumers; /* consumer pointer -> s_consumer_t, owned */
    size_t per_consumer; /* most subscriptions one consumer is attached to */
    uint64_t max_unread; /* bytes sent to a consumer and not shown taken, before it waits */
    zlistx_t *active;    /* s_sub_t * that may deliver */
    zlistx_t *dirty;     /* s_sub_t * with something to persist */
    zlistx_t *deleted;   /* names (owned) whose records are to be deleted */
    zlistx_t *letters;   /* ob_subs_letter_t * (owned) to be written again */
    ob_subs_stats_t stats;
    int64_t now;               /* time of the current pump, for callbacks */
    ob_wire_msg_t deliver_msg; /* DELIVER being sent: zeroed once, its fields set each time */
    s_run_t run;               /* first deliveries being gathered into runs (s_run_add) */
    uint64_t commits;          /* commits seen (ob_subs_on_commit) */
    s_flight_t *spare;         /* freed flights for reuse, linked by next */
    size_t spare_count;
};

/* ---- helpers for zhashx with pointer or flight keys ---- */

static size_t
s_ptr_hash(const void *key)
{
    uintptr_t v = (uintptr_t)key;
    return (size_t)(v ^ (v >> 17));
}

static int
s_ptr_cmp(const void *a, const void *b)
{
    return a == b ? 0 : (a < b ? -1 : 1);
}

static size_t
s_flight_hash(const void *key)
{
    const s_flight_t *f = key;
    return s_ptr_hash(f->pos) * 31 + (size_t)(f->seq * 0x9E3779B97F4A7C15ull >> 7);
}

static int
s_flight_cmp(const void *a, const void *b)
{
    const s_flight_t *x = a, *y = b;
    return !(x->pos == y->pos && x->seq == y->seq);
}

static uint64_t
s_now_us(void)
{
    return (uint64_t)zclock_time() * 1000;
}

/* ---- work lists ---- */

/* Returns 1 if c may be sent a DELIVER (PROTOCOL.md 12.9): it is not slow (it sent something
   after every copy whose ack deadline passed), and it holds less than max_unread bytes it
   has not shown it took. */
static int
s_consumer_open(const ob_subs_t *self, const s_consumer_t *c)
{
    return c->heard >= c->slow && c->sent - c->read < self->max_unread;
}

/* Returns 1 if one of sub's consumers may be sent a DELIVER. */
static int
s_sub_open(const ob_subs_t *self, const s_sub_t *sub)
{
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (s_consumer_open(self, sub->consumers[i]))
            return 1;
    return 0;
}

static int
s_sub_has_work(const ob_subs_t *self, const s_sub_t *sub)
{
    if (!s_sub_open(self, sub))
        return 0;
    return sub->lists[F_READY].size > 0 ||
           (zhashx_size(sub->flights) < sub->credit && zlistx_size(sub->readable) > 0);
}

static void
s_activate(ob_subs_t *self, s_sub_t *sub)
{
    if (!sub->active && s_sub_has_work(self, sub))
        sub->active = zlistx_add_end(self->active, sub);
}

static void
s_mark_dirty(ob_subs_t *self, s_sub_t *sub)
{
    if (!sub->dirty_node)
        sub->dirty_node = zlistx_add_end(self->dirty, sub);
}

static void
s_pos_dirty(ob_subs_t *self, s_pos_t *pos)
{
    if (pos->sub->ephemeral)
        return;
    if (!pos->dirty) {
        pos->dirty = 1;
        zlistx_add_end(pos->sub->dirty_pos, pos);
    }
    s_mark_dirty(self, pos->sub);
}

static void
s_pos_readable(ob_subs_t *self, s_pos_t *pos)
{
    if (!pos->readable && pos->next <= pos->topic->last_seq) {
        pos->readable = zlistx_add_end(pos->sub->readable, pos);
        s_activate(self, pos->sub);
    }
}

/* ---- positions ---- */

/* Marks seq done on pos: the floor advances over it or it joins the done ranges. */
static void
s_pos_done(ob_subs_t *self, s_pos_t *pos, uint64_t seq)
{
    if (seq <= pos->floor)
        return;
    if (seq == pos->floor + 1) {
        pos->floor = seq;
        if (pos->done_count && pos->done[0].lo == pos->floor + 1) {
            pos->floor = pos->done[0].hi;
            memmove(pos->done, pos->done + 1, (pos->done_count - 1) * sizeof *pos->done);
            pos->done_count--;
        }
        s_pos_dirty(self, pos);
        return;
    }
    /* binary search for the first range with hi >= seq - 1 */
    size_t lo = 0, hi = pos->done_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (pos->done[mid].hi + 1 < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    s_range_t *r = lo < pos->done_count ? &pos->done[lo] : NULL;
    if (r && seq >= r->lo && seq <= r->hi)
        return; /* already done */
    if (r && r->hi + 1 == seq) {
        r->hi = seq;
        if (lo + 1 < pos->done_count && pos->done[lo + 1].lo == seq + 1) {
            r->hi = pos->done[lo + 1].hi;
            memmove(&pos->done[lo + 1], &pos->done[lo + 2],
                    (pos->done_count - lo - 2) * sizeof *pos->done);
            pos->done_count--;
        }
    } else if (r && r->lo == seq + 1) {
        r->lo = seq;
    } else {
        if (pos->done_count == pos->done_cap) {
            size_t cap = pos->done_cap ? 2 * pos->done_cap : 4;
            s_range_t *grown = realloc(pos->done, cap * sizeof *grown);
            if (!grown)
                return; /* not recorded as done: delivered again later (at least once) */
            pos->done = grown;
            pos->done_cap = cap;
        }
        memmove(&pos->done[lo + 1], &pos->done[lo], (pos->done_count - lo) * sizeof *pos->done);
        pos->done[lo].lo = seq;
        pos->done[lo].hi = seq;
        pos->done_count++;
    }
    s_pos_dirty(self, pos);
}

/* Returns 1 if seq is done on pos. */
static int
s_pos_is_done(const s_pos_t *pos, uint64_t seq)
{
    if (seq <= pos->floor)
        return 1;
    for (size_t i = 0; i < pos->done_count && pos->done[i].lo <= seq; i++)
        if (seq <= pos->done[i].hi)
            return 1;
    return 0;
}

/* Events above the floor that are not done, up to the topic's last seq. */
static uint64_t
s_pos_lag(const s_pos_t *pos)
{
    if (pos->topic->last_seq <= pos->floor)
        return 0;
    uint64_t lag = pos->topic->last_seq - pos->floor;
    for (size_t i = 0; i < pos->done_count; i++)
        lag -= pos->done[i].hi - pos->done[i].lo + 1;
    return lag;
}

/* Sets the floor to floor and forgets the done ranges. */
static void
s_pos_set_floor(ob_subs_t *self, s_pos_t *pos, uint64_t floor)
{
    pos->floor = floor;
    pos->done_count = 0;
    pos->next = floor + 1;
    pos->skipped = 0;
    s_pos_dirty(self, pos);
    s_pos_readable(self, pos);
}

/* Moves the floor up to at least floor (retention removed what is below), keeping the
   done ranges above it. */
static void
s_pos_raise_floor(ob_subs_t *self, s_pos_t *pos, uint64_t floor)
{
    if (floor <= pos->floor)
        return;
    pos->floor = floor;
    size_t keep = 0;
    while (keep < pos->done_count && pos->done[keep].hi <= floor)
        keep++;
    if (keep) {
        memmove(pos->done, pos->done + keep, (pos->done_count - keep) * sizeof *pos->done);
        pos->done_count -= keep;
    }
    while (pos->done_count && pos->done[0].lo <= pos->floor + 1) {
        if (pos->done[0].hi > pos->floor)
            pos->floor = pos->done[0].hi;
        memmove(pos->done, pos->done + 1, (pos->done_count - 1) * sizeof *pos->done);
        pos->done_count--;
    }
    s_pos_dirty(self, pos);
}

/* The floor a position gets for start (PROTOCOL.md 12.5). */
static uint64_t
s_start_floor(ob_subs_t *self, const s_topic_t *topic, ob_start_t start, uint64_t start_seq,
              uint64_t start_time)
{
    ob_topic_stat_t stat;
    uint64_t seq = 0;
    switch (start) {
    case OB_START_EARLIEST:
        if (ob_store_topic_stat(self->store, topic->name, &stat) == 0)
            return stat.events ? stat.first_seq - 1 : stat.last_seq;
        return 0;
    case OB_START_SEQ:
        return start_seq ? start_seq - 1 : 0;
    case OB_START_TIME:
        if (ob_store_seq_at_time(self->store, topic->name, start_time, &seq) == 0 && seq)
            return seq - 1;
        return topic->last_seq;
    case OB_START_NEW:
    default:
        return topic->last_seq;
    }
}

static void
s_pos_free(s_pos_t *pos)
{
    if (!pos)
        return;
    free(pos->done);
    free(pos);
}

/* Creates sub's position on topic at floor. Returns it or NULL (out of memory). */
static s_pos_t *
s_pos_new(ob_subs_t *self, s_sub_t *sub, s_topic_t *topic, uint64_t floor)
{
    s_pos_t *pos = calloc(1, sizeof *pos);
    if (!pos)
        return NULL;
    pos->sub = sub;
    pos->topic = topic;
    pos->floor = floor;
    pos->next = floor + 1;
    if (zhashx_insert(sub->positions, topic->name, pos)) {
        free(pos);
        return NULL;
    }
    pos->watch = zlistx_add_end(topic->watchers, pos);
    s_pos_readable(self, pos);
    return pos;
}

/* ---- topics ---- */

static s_topic_t *
s_topic_add(ob_subs_t *self, const char *name, uint32_t id, uint64_t last_seq)
{
    size_t len = strlen(name);
    s_topic_t *topic = calloc(1, sizeof *topic + len + 1);
    if (!topic)
        return NULL;
    memcpy(topic->name, name, len + 1);
    topic->name_len = len;
    topic->id = id;
    topic->last_seq = last_seq;
    topic->watchers = zlistx_new();
    if (!topic->watchers || zhashx_insert(self->topics, topic->name, topic)) {
        zlistx_destroy(&topic->watchers);
        free(topic);
        return NULL;
    }
    return topic;
}

static void
s_topic_free(void **item_p)
{
    s_topic_t *topic = *item_p;
    if (topic) {
        zlistx_destroy(&topic->watchers);
        free(topic);
    }
    *item_p = NULL;
}

/* Returns 1 if sub follows topic: a pattern matches and it is not sub's own dead-letter
   topic. */
static int
s_sub_matches(const s_sub_t *sub, const char *topic)
{
    size_t len = strlen(topic);
    if (!strncmp(topic, OB_SUBS_DLQ_PREFIX, strlen(OB_SUBS_DLQ_PREFIX)) &&
        !strcmp(topic + strlen(OB_SUBS_DLQ_PREFIX), sub->name))
        return 0;
    for (size_t i = 0; i < sub->pattern_count; i++)
        if (ob_pattern_match(sub->patterns[i], strlen(sub->patterns[i]), topic, len))
            return 1;
    return 0;
}

/* ---- flights ---- */

/* Takes f out of the list of its state. */
static void
s_flight_unlink(s_sub_t *sub, s_flight_t *f)
{
    if (f->state == F_NONE)
        return;
    s_list_t *list = &sub->lists[f->state];
    if (f->prev)
        f->prev->next = f->next;
    else
        list->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        list->tail = f->prev;
    list->size--;
    f->prev = f->next = NULL;
    f->state = F_NONE;
}

/* Moves f into state (the end of its list), taking it out of the list it is in. */
static void
s_flight_move(s_sub_t *sub, s_flight_t *f, int state, int64_t due)
{
    s_flight_unlink(sub, f);
    s_list_t *list = &sub->lists[state];
    f->state = state;
    f->due = due;
    f->consumer = NULL;
    f->prev = list->tail;
    f->next = NULL;
    if (list->tail)
        list->tail->next = f;
    else
        list->head = f;
    list->tail = f;
    list->size++;
}

/* A zeroed flight, reused if one is spare. NULL: out of memory. */
static s_flight_t *
s_flight_new(ob_subs_t *self)
{
    s_flight_t *f = self->spare;
    if (!f)
        return calloc(1, sizeof *f);
    self->spare = f->next;
    self->spare_count--;
    memset(f, 0, sizeof *f);
    return f;
}

/* Frees f (out of every list and the index), keeping it for reuse. */
static void
s_flight_free(ob_subs_t *self, s_flight_t *f)
{
    if (self->spare_count >= S_SPARE_MAX) {
        free(f);
        return;
    }
    f->next = self->spare;
    self->spare = f;
    self->spare_count++;
}

/* f's last copy is taken from its consumer (f is done, sent to another or forgotten): if
   the consumer had not shown it took that copy, the copy's mark becomes an orphan. */
static void
s_flight_orphan(s_flight_t *f)
{
    s_consumer_t *c = f->sent_to;
    if (c && f->mark > c->read && f->mark > c->orphan)
        c->orphan = f->mark;
    f->sent_to = NULL;
}

/* f is done (acked, dead-lettered, removed): frees it and marks its seq done. */
static void
s_flight_done(ob_subs_t *self, s_flight_t *f)
{
    s_sub_t *sub = f->pos->sub;
    s_flight_orphan(f);
    s_flight_unlink(sub, f);
    zhashx_delete(sub->flights, f);
    s_pos_done(self, f->pos, f->seq);
    s_flight_free(self, f);
    s_activate(self, sub);
}

/* An attempt of f ended without an ack: dead-lettered if it had its last attempt, else
   redelivered after delay_ms (0: at once). */
static void
s_flight_unacked(ob_subs_t *self, s_flight_t *f, int64_t delay_ms, int64_t now)
{
    s_sub_t *sub = f->pos->sub;
    if (sub->max_attempts && f->attempt >= sub->max_attempts) {
        s_flight_move(sub, f, F_DEAD, 0);
        s_mark_dirty(self, sub);
        return;
    }
    if (delay_ms <= 0)
        s_flight_move(sub, f, F_READY, 0);
    else
        s_flight_move(sub, f, F_WAITING, now + delay_ms);
    s_activate(self, sub);
}

/* The redelivery delay before attempt n (PROTOCOL.md 12.5): backoff * 2^(n-2), capped. */
static int64_t
s_backoff(const s_sub_t *sub, uint32_t n)
{
    int64_t delay = sub->backoff_ms;
    for (uint32_t i = 2; i < n && delay < S_DELAY_MAX; i++)
        delay *= 2;
    return delay < S_DELAY_MAX ? delay : S_DELAY_MAX;
}

static void
s_flights_free(s_sub_t *sub)
{
    for (s_flight_t *f = zhashx_first(sub->flights); f; f = zhashx_next(sub->flights)) {
        s_flight_orphan(f);
        free(f);
    }
    zhashx_purge(sub->flights);
    memset(sub->lists, 0, sizeof sub->lists);
}

/* ---- subscriptions ---- */

static void
s_sub_free(s_sub_t *sub)
{
    if (!sub)
        return;
    if (sub->flights)
        s_flights_free(sub);
    zhashx_destroy(&sub->flights);
    zlistx_destroy(&sub->readable);
    zlistx_destroy(&sub->dirty_pos);
    if (sub->positions) {
        for (s_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions)) {
            zlistx_delete(pos->topic->watchers, pos->watch);
            s_pos_free(pos);
        }
        zhashx_destroy(&sub->positions);
    }
    for (size_t i = 0; i < sub->pattern_count; i++)
        free(sub->patterns[i]);
    for (size_t i = 0; i < sub->type_count; i++)
        free(sub->types[i]);
    free(sub->consumers);
    free(sub);
}

/* Creates a subscription from a decoded SUBSCRIBE (no positions yet). NULL: no memory. */
static s_sub_t *
s_sub_new(const ob_wire_msg_t *msg, const char *name)
{
    s_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return NULL;
    snprintf(sub->name, sizeof sub->name, "%s", name);
    sub->credit = msg->credit ? msg->credit : OB_CREDIT_DEFAULT;
    sub->ack_wait_ms = msg->ack_wait_ms ? msg->ack_wait_ms : OB_ACK_WAIT_MS_DEFAULT;
    sub->max_attempts = msg->max_attempts;
    sub->backoff_ms = msg->backoff_ms;
    sub->positions = zhashx_new();
    sub->flights = zhashx_new();
    sub->readable = zlistx_new();
    sub->dirty_pos = zlistx_new();
    int ok = sub->positions && sub->flights && sub->readable && sub->dirty_pos;
    if (ok) {
        zhashx_set_key_hasher(sub->flights, s_flight_hash);
        zhashx_set_key_comparator(sub->flights, s_flight_cmp);
        zhashx_set_key_duplicator(sub->flights, NULL);
        zhashx_set_key_destructor(sub->flights, NULL);
    }
    /* patterns and types as sets: duplicates dropped */
    for (size_t i = 0; ok && i < msg->pattern_count; i++) {
        int seen = 0;
        for (size_t j = 0; j < sub->pattern_count; j++)
            seen |= !strcmp(sub->patterns[j], msg->patterns[i]);
        if (!seen && !(sub->patterns[sub->pattern_count++] = strdup(msg->patterns[i])))
            ok = 0;
    }
    for (size_t i = 0; ok && i < msg->type_count; i++) {
        int seen = 0;
        for (size_t j = 0; j < sub->type_count; j++)
            seen |= !strcmp(sub->types[j], msg->types[i]);
        if (!seen && !(sub->types[sub->type_count++] = strdup(msg->types[i])))
            ok = 0;
    }
    if (!ok) {
        s_sub_free(sub);
        return NULL;
    }
    return sub;
}

/* Returns 1 if the list a (na entries) holds the same strings as the nb strings at base,
   `stride` bytes apart (a wire.h array of patterns or types), compared as sets. */
static int
s_same_set(char *const *a, size_t na, const char *base, size_t nb, size_t stride)
{
    for (size_t i = 0; i < nb; i++) {
        int found = 0;
        for (size_t j = 0; j < na && !found; j++)
            found = !strcmp(a[j], base + i * stride);
        if (!found)
            return 0;
    }
    for (size_t j = 0; j < na; j++) {
        int found = 0;
        for (size_t i = 0; i < nb && !found; i++)
            found = !strcmp(a[j], base + i * stride);
        if (!found)
            return 0;
    }
    return 1;
}

/* Returns 1 if type (type_len bytes) is one sub delivers. */
static int
s_type_wanted(const s_sub_t *sub, const char *type, size_t type_len)
{
    if (sub->type_count == 0)
        return 1;
    for (size_t i = 0; i < sub->type_count; i++)
        if (strlen(sub->types[i]) == type_len && !memcmp(sub->types[i], type, type_len))
            return 1;
    return 0;
}

/* Creates sub's positions on every known topic it matches, per start. */
static int
s_sub_positions(ob_subs_t *self, s_sub_t *sub, ob_start_t start, uint64_t start_seq,
                uint64_t start_time)
{
    for (s_topic_t *topic = zhashx_first(self->topics); topic; topic = zhashx_next(self->topics)) {
        if (!s_sub_matches(sub, topic->name) || zhashx_lookup(sub->positions, topic->name))
            continue;
        /* s_start_floor reads the store, not self->topics: the iteration is safe */
        s_pos_t *pos =
            s_pos_new(self, sub, topic, s_start_floor(self, topic, start, start_seq, start_time));
        if (!pos)
            return -ENOMEM;
        s_pos_dirty(self, pos);
    }
    return 0;
}

/* ---- consumers ---- */

/* The consumer id, created if create. NULL: not attached to anything (or out of memory). */
static s_consumer_t *
s_consumer(ob_subs_t *self, void *id, int create)
{
    s_consumer_t *c = zhashx_lookup(self->consumers, id);
    if (c || !create)
        return c;
    c = calloc(1, sizeof *c);
    if (!c || !(c->names = zlistx_new())) {
        free(c);
        return NULL;
    }
    c->id = id;
    zlistx_set_destructor(c->names, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_duplicator(c->names, (zlistx_duplicator_fn *)strdup);
    zlistx_set_comparator(c->names, (zlistx_comparator_fn *)strcmp);
    if (zhashx_insert(self->consumers, id, c)) {
        zlistx_destroy(&c->names);
        free(c);
        return NULL;
    }
    return c;
}

/* The names of the subscriptions consumer id is attached to, or NULL. */
static zlistx_t *
s_consumer_subs(ob_subs_t *self, void *id)
{
    s_consumer_t *c = s_consumer(self, id, 0);
    return c ? c->names : NULL;
}

static void
s_consumer_free(void **item_p)
{
    s_consumer_t *c = *item_p;
    if (c) {
        zlistx_destroy(&c->names);
        free(c);
    }
    *item_p = NULL;
}

/* c sent a PING, ACK or NACK, which showed it took every DELIVER sent to it up to mark (0:
   none; PROTOCOL.md 12.9). If that lets it be sent DELIVERs again, its subscriptions may
   deliver. */
static void
s_consumer_heard(ob_subs_t *self, s_consumer_t *c, uint64_t mark)
{
    int was_open = s_consumer_open(self, c);
    c->heard = c->sent;
    if (mark > c->read)
        c->read = mark < c->sent ? mark : c->sent;
    if (was_open || !s_consumer_open(self, c))
        return;
    for (const char *name = zlistx_first(c->names); name; name = zlistx_next(c->names)) {
        s_sub_t *sub = zhashx_lookup(self->subs, name);
        if (sub)
            s_activate(self, sub);
    }
}

/* Takes consumer c off sub: its pending deliveries end unacked (no delay), and no flight
   keeps it as the consumer of its last copy (an unread one becomes an orphan of c, which
   may stay attached to other subscriptions). */
static void
s_detach(ob_subs_t *self, s_sub_t *sub, s_consumer_t *c, int64_t now)
{
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (sub->consumers[i] == c) {
            sub->consumers[i] = sub->consumers[--sub->consumer_count];
            break;
        }
    for (int state = F_PENDING; state < F_STATES; state++) {
        s_flight_t *f = sub->lists[state].head;
        while (f) {
            s_flight_t *next = f->next;
            if (f->sent_to == c)
                s_flight_orphan(f);
            if (f->consumer == c)
                s_flight_unacked(self, f, 0, now);
            f = next;
        }
    }
}

/* Removes sub entirely: consumers told (if tell), records deleted at the next commit. */
static void
s_sub_remove(ob_subs_t *self, s_sub_t *sub, int tell)
{
    for (size_t i = 0; i < sub->consumer_count; i++) {
        zlistx_t *names = sub->consumers[i]->names;
        void *node = zlistx_find(names, sub->name);
        if (node)
            zlistx_delete(names, node);
        if (tell && self->gone)
            self->gone(self->arg, sub->consumers[i]->id, sub->name);
    }
    if (sub->active)
        zlistx_delete(self->active, sub->active);
    if (sub->dirty_node)
        zlistx_delete(self->dirty, sub->dirty_node);
    if (!sub->ephemeral)
        zlistx_add_end(self->deleted, sub->name); /* duplicated by the list */
    zhashx_delete(self->subs, sub->name);         /* frees it (destructor) */
}

static void
s_sub_destructor(void **item_p)
{
    s_sub_free(*item_p);
    *item_p = NULL;
}

/* ---- creation, loading ---- */

static int
s_on_topic(void *arg, const char *name, uint32_t topic_id, const ob_topic_stat_t *stat)
{
    ob_subs_t *self = arg;
    return s_topic_add(self, name, topic_id, stat->last_seq) ? 0 : -ENOMEM;
}

/* Loads the record of subscription name (sub_record.h). */
static int
s_on_sub(void *arg, const char *name, const uint8_t *value, size_t len)
{
    ob_subs_t *self = arg;
    ob_sub_record_t *record = calloc(1, sizeof *record);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    s_sub_t *sub = NULL;
    int rc = -ENOMEM;
    if (!record || !msg)
        goto out;
    if ((rc = ob_sub_record_decode(value, len, record))) {
        zsys_error("subs: the record of subscription %s cannot be decoded: %s", name,
                   ob_strerror(rc));
        rc = rc == -ENOMEM ? rc : OB_ERR_STORAGE;
        goto out;
    }
    /* s_sub_new takes its settings as a SUBSCRIBE brings them */
    msg->pattern_count = record->pattern_count;
    memcpy(msg->patterns, record->patterns, sizeof msg->patterns);
    msg->type_count = record->type_count;
    memcpy(msg->types, record->types, sizeof msg->types);
    msg->credit = record->credit;
    msg->ack_wait_ms = record->ack_wait_ms;
    msg->max_attempts = record->max_attempts;
    msg->backoff_ms = record->backoff_ms;
    rc = -ENOMEM;
    if (!(sub = s_sub_new(msg, name)))
        goto out;
    memcpy(sub->owner, record->owner, sizeof sub->owner);
    if (zhashx_insert(self->subs, sub->name, sub)) {
        s_sub_free(sub);
        goto out;
    }
    rc = 0;
out:
    free(record);
    free(msg);
    return rc;
}

/* Loads the position of subscription name on topic_name (pos_record.h). */
static int
s_on_pos(void *arg, const char *name, const char *topic_name, const uint8_t *value, size_t len)
{
    ob_subs_t *self = arg;
    s_sub_t *sub = zhashx_lookup(self->subs, name);
    s_topic_t *topic = zhashx_lookup(self->topics, topic_name);
    if (!sub || !topic)
        return 0; /* a position without its subscription or topic: ignored */
    ob_pos_record_t record;
    int rc = ob_pos_record_decode(value, len, &record);
    if (rc) {
        zsys_error("subs: the position of %s on %s cannot be decoded: %s", name, topic_name,
                   ob_strerror(rc));
        return OB_ERR_STORAGE;
    }
    s_range_t *done = NULL;
    if (record.count && !(done = calloc(record.count, sizeof *done)))
        return -ENOMEM;
    for (size_t i = 0; i < record.count; i++)
        done[i] = ob_pos_record_range(&record, i);
    s_pos_t *pos = s_pos_new(self, sub, topic, record.floor);
    if (!pos) {
        free(done);
        return -ENOMEM;
    }
    pos->done = done;
    pos->done_count = record.count;
    pos->done_cap = record.count;
    return 0;
}

int
ob_subs_new(ob_store_t *store, ob_subs_deliver_fn *deliver, ob_subs_gone_fn *gone, void *arg,
            ob_subs_t **ret_subs)
{
    ob_subs_t *self = calloc(1, sizeof *self);
    if (!self)
        return -ENOMEM;
    self->store = store;
    self->deliver = deliver;
    self->gone = gone;
    self->arg = arg;
    self->subs = zhashx_new();
    self->topics = zhashx_new();
    self->consumers = zhashx_new();
    self->per_consumer = OB_SUBS_PER_CLIENT_DEFAULT;
    self->max_unread = OB_UNREAD_BYTES_DEFAULT;
    self->active = zlistx_new();
    self->dirty = zlistx_new();
    self->deleted = zlistx_new();
    self->letters = zlistx_new();
    if (!self->subs || !self->topics || !self->consumers || !self->active || !self->dirty ||
        !self->deleted || !self->letters) {
        ob_subs_destroy(&self);
        return -ENOMEM;
    }
    zhashx_set_destructor(self->subs, s_sub_destructor);
    zhashx_set_destructor(self->topics, s_topic_free);
    zhashx_set_key_hasher(self->consumers, s_ptr_hash);
    zhashx_set_key_comparator(self->consumers, s_ptr_cmp);
    zhashx_set_key_duplicator(self->consumers, NULL);
    zhashx_set_key_destructor(self->consumers, NULL);
    zhashx_set_destructor(self->consumers, s_consumer_free);
    zlistx_set_duplicator(self->deleted, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor(self->deleted, (zlistx_destructor_fn *)zstr_free);

    int rc = ob_store_topics(store, NULL, s_on_topic, self);
    if (rc == 0)
        rc = ob_store_load_subs(store, s_on_sub, s_on_pos, self);
    if (rc) {
        ob_subs_destroy(&self);
        return rc;
    }
    /* A matching topic without a stored position was created after its subscription (a
       subscription's first positions are committed with its record): it starts at 0. */
    for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs)) {
        for (s_topic_t *topic = zhashx_first(self->topics); topic;
             topic = zhashx_next(self->topics)) {
            if (!s_sub_matches(sub, topic->name) || zhashx_lookup(sub->positions, topic->name))
                continue;
            s_pos_t *pos = s_pos_new(self, sub, topic, 0);
            if (!pos) {
                ob_subs_destroy(&self);
                return -ENOMEM;
            }
            s_pos_dirty(self, pos);
        }
        self->stats.subscriptions++;
    }
    *ret_subs = self;
    return 0;
}

void
ob_subs_destroy(ob_subs_t **self_p)
{
    ob_subs_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->active);
    zlistx_destroy(&self->dirty);
    free(self->run.buf);
    while (self->spare) {
        s_flight_t *next = self->spare->next;
        free(self->spare);
        self->spare = next;
    }
    zhashx_destroy(&self->subs); /* before topics: positions unlink from topic watchers */
    zhashx_destroy(&self->topics);
    zhashx_destroy(&self->consumers);
    zlistx_destroy(&self->deleted);
    if (self->letters) {
        for (ob_subs_letter_t *l = zlistx_first(self->letters); l; l = zlistx_next(self->letters)) {
            free(l->event);
            free(l);
        }
        zlistx_destroy(&self->letters);
    }
    free(self);
    *self_p = NULL;
}

/* ---- commits ---- */

void
ob_subs_on_commit(ob_subs_t *self, const ob_store_item_t *items, size_t count)
{
    char name[OB_TOPIC_MAX + 1];
    s_topic_t *topic = NULL; /* the last item's: batches hold runs of one topic */
    self->commits++;
    for (size_t i = 0; i < count; i++) {
        const ob_store_item_t *item = &items[i];
        if (item->rc || item->dup || item->topic_len > OB_TOPIC_MAX)
            continue;
        if (!topic || topic->name_len != item->topic_len ||
            memcmp(topic->name, item->topic, item->topic_len)) {
            memcpy(name, item->topic, item->topic_len);
            name[item->topic_len] = '\0';
            topic = zhashx_lookup(self->topics, name);
        }
        if (!topic) {
            topic = s_topic_add(self, name, item->topic_id, 0);
            if (!topic) {
                zsys_error("subs: out of memory for topic %s", name);
                continue;
            }
            for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
                if (s_sub_matches(sub, name)) {
                    s_pos_t *pos = s_pos_new(self, sub, topic, 0);
                    if (pos)
                        s_pos_dirty(self, pos);
                }
        }
        topic->id = item->topic_id;
        if (item->seq > topic->last_seq)
            topic->last_seq = item->seq;
        /* wake its readers once per commit: at its first item, next <= that seq already */
        if (topic->woken != self->commits) {
            topic->woken = self->commits;
            for (s_pos_t *pos = zlistx_first(topic->watchers); pos;
                 pos = zlistx_next(topic->watchers))
                s_pos_readable(self, pos);
        }
    }
}

/* ---- requests ---- */

int
ob_subs_subscribe(ob_subs_t *self, void *consumer, const char *owner, const ob_wire_msg_t *msg,
                  char ret_name[OB_SUB_NAME_MAX + 1], int *ret_created, int *ret_defer)
{
    *ret_created = 0;
    *ret_defer = 0;
    if (owner && (!*owner || strlen(owner) > OB_SUBS_OWNER_MAX))
        return OB_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < msg->pattern_count; i++)
        if (!ob_pattern_valid(msg->patterns[i], strlen(msg->patterns[i])))
            return OB_ERR_INVALID_PATTERN;
    char name[OB_SUB_NAME_MAX + 1];
    int ephemeral = msg->sub[0] == '\0';
    if (ephemeral) {
        zuuid_t *uuid = zuuid_new();
        if (!uuid)
            return -ENOMEM;
        size_t prefix = strlen(OB_SUBS_EPHEMERAL_PREFIX);
        memcpy(name, OB_SUBS_EPHEMERAL_PREFIX, prefix);
        const char *hex = zuuid_str(uuid); /* 32 upper-case hex digits */
        for (size_t i = 0; i < S_EPH_HEX; i++)
            name[prefix + i] = (char)tolower((unsigned char)hex[i]);
        name[prefix + S_EPH_HEX] = '\0';
        zuuid_destroy(&uuid);
    } else {
        if (!strncmp(msg->sub, OB_SUBS_EPHEMERAL_PREFIX, strlen(OB_SUBS_EPHEMERAL_PREFIX)))
            return OB_ERR_INVALID_ARGUMENT;
        snprintf(name, sizeof name, "%s", msg->sub);
    }
    snprintf(ret_name, OB_SUB_NAME_MAX + 1, "%s", name);

    /* Checked before anything is created; ob_subs_attach checks again, for SUBSCRIBEs
       deferred to the same commit. */
    zlistx_t *names = s_consumer_subs(self, consumer);
    if (names && zlistx_size(names) >= self->per_consumer && !zlistx_find(names, name))
        return OB_ERR_LIMIT;

    s_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub && msg->attach)
        return OB_ERR_NO_SUCH_SUBSCRIPTION; /* attach only: never (re-)created */
    if (sub) {
        if (owner && sub->owner[0] && strcmp(sub->owner, owner))
            return OB_ERR_FORBIDDEN; /* before anything is said of its settings */
        if (!s_same_set(sub->patterns, sub->pattern_count, msg->patterns[0], msg->pattern_count,
                        sizeof msg->patterns[0]) ||
            !s_same_set(sub->types, sub->type_count, msg->types[0], msg->type_count,
                        sizeof msg->types[0]))
            return OB_ERR_SUBSCRIPTION_EXISTS;
        return ob_subs_attach(self, consumer, name);
    }
    if (zhashx_size(self->subs) >= OB_SUBS_MAX)
        return OB_ERR_LIMIT;
    sub = s_sub_new(msg, name);
    if (!sub)
        return -ENOMEM;
    sub->ephemeral = ephemeral;
    if (owner)
        snprintf(sub->owner, sizeof sub->owner, "%s", owner);
    if (zhashx_insert(self->subs, sub->name, sub)) {
        s_sub_free(sub);
        return -ENOMEM;
    }
    self->stats.subscriptions++;
    int rc = s_sub_positions(self, sub, msg->start, msg->start_seq, msg->start_time);
    if (rc) {
        s_sub_remove(self, sub, 0);
        self->stats.subscriptions--;
        return rc;
    }
    *ret_created = 1;
    if (ephemeral)
        return ob_subs_attach(self, consumer, name);
    sub->dirty = 1;
    s_mark_dirty(self, sub);
    *ret_defer = 1;
    return 0;
}

void
ob_subs_set_max_per_consumer(ob_subs_t *self, size_t max)
{
    assert(max >= 1);
    self->per_consumer = max;
}

void
ob_subs_set_max_unread(ob_subs_t *self, uint64_t bytes)
{
    assert(bytes >= 1);
    self->max_unread = bytes;
}

int
ob_subs_attach(ob_subs_t *self, void *consumer, const char *name)
{
    s_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (sub->consumers[i]->id == consumer)
            return 0; /* already attached: SUBSCRIBED again, nothing else */
    s_consumer_t *c = s_consumer(self, consumer, 1);
    if (!c)
        return -ENOMEM;
    zlistx_t *names = c->names;
    if (zlistx_size(names) >= self->per_consumer)
        return OB_ERR_LIMIT;
    if (sub->consumer_count == sub->consumer_cap) {
        size_t cap = sub->consumer_cap ? 2 * sub->consumer_cap : 2;
        s_consumer_t **grown = realloc(sub->consumers, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        sub->consumers = grown;
        sub->consumer_cap = cap;
    }
    if (!zlistx_add_end(names, sub->name))
        return -ENOMEM;
    sub->consumers[sub->consumer_count++] = c;
    s_activate(self, sub);
    return 0;
}

int
ob_subs_unsubscribe(ob_subs_t *self, void *consumer, const char *name)
{
    s_consumer_t *c = s_consumer(self, consumer, 0);
    void *node = c ? zlistx_find(c->names, (void *)name) : NULL;
    s_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!node || !sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    zlistx_delete(c->names, node);
    s_detach(self, sub, c, zclock_mono());
    if (sub->ephemeral && sub->consumer_count == 0) {
        s_sub_remove(self, sub, 0);
        self->stats.subscriptions--;
    }
    return 0;
}

void
ob_subs_detach_all(ob_subs_t *self, void *consumer)
{
    s_consumer_t *c = s_consumer(self, consumer, 0);
    if (!c)
        return;
    zlistx_t *names = c->names;
    int64_t now = zclock_mono();
    for (const char *name = zlistx_first(names); name; name = zlistx_next(names)) {
        s_sub_t *sub = zhashx_lookup(self->subs, name);
        if (!sub)
            continue;
        s_detach(self, sub, c, now);
        if (sub->ephemeral && sub->consumer_count == 0) {
            /* not s_sub_remove, which would edit `names` while we walk it; with no
               consumer left and nothing persisted, this is all there is to remove */
            if (sub->active)
                zlistx_delete(self->active, sub->active);
            sub->active = NULL;
            if (sub->dirty_node)
                zlistx_delete(self->dirty, sub->dirty_node);
            sub->dirty_node = NULL;
            zhashx_delete(self->subs, name);
            self->stats.subscriptions--;
        }
    }
    zhashx_delete(self->consumers, consumer);
}

/* Finds the flight (sub, topic, seq) of msg, in whatever state, or NULL. */
static s_flight_t *
s_find(ob_subs_t *self, const ob_wire_msg_t *msg, s_sub_t **ret_sub, s_pos_t **ret_pos)
{
    s_sub_t *sub = zhashx_lookup(self->subs, msg->sub);
    s_pos_t *pos = sub ? zhashx_lookup(sub->positions, msg->topic) : NULL;
    *ret_sub = sub;
    *ret_pos = pos;
    if (!pos)
        return NULL;
    s_flight_t probe = {.pos = pos, .seq = msg->seq};
    return zhashx_lookup(sub->flights, &probe);
}

/* An ACK or NACK from c named flight f (NULL: none is held): c took the copy of f sent to it
   and every DELIVER before it. When that copy is no longer held (f done, or sent to another
   since), c is taken to have read up to its last orphan (PROTOCOL.md 12.9). */
static void
s_shown(ob_subs_t *self, s_consumer_t *c, const s_flight_t *f)
{
    s_consumer_heard(self, c, f && f->sent_to == c ? f->mark : c->orphan);
}

/* f, pending to c, is acked by c. */
static void
s_acked(ob_subs_t *self, s_consumer_t *c, s_flight_t *f)
{
    s_shown(self, c, f); /* before s_flight_done: the copy it took is not an orphan */
    s_flight_done(self, f);
    self->stats.acked++;
}

void
ob_subs_ack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg)
{
    s_consumer_t *c = s_consumer(self, consumer, 0);
    if (!c)
        return; /* attached to nothing: nothing was delivered to it */
    s_sub_t *sub = NULL;
    s_pos_t *pos = NULL;
    s_flight_t *f = s_find(self, msg, &sub, &pos);
    if (f && f->state == F_PENDING && f->consumer == c)
        s_acked(self, c, f);
    else
        s_shown(self, c, f);
    if (!msg->upto || !pos || msg->seq <= pos->floor)
        return;
    /* Cumulative: every flight of pos pending to c with seq <= msg->seq. Look the seqs above
       the floor up one by one when there are fewer of them than pending flights (the usual
       case: a consumer acking every N deliveries), else walk the pending list; either way
       the cost is bounded by the credit. */
    if (msg->seq - pos->floor <= sub->lists[F_PENDING].size) {
        for (uint64_t seq = pos->floor + 1; seq < msg->seq; seq++) {
            s_flight_t probe = {.pos = pos, .seq = seq};
            f = zhashx_lookup(sub->flights, &probe);
            if (f && f->state == F_PENDING && f->consumer == c)
                s_acked(self, c, f);
        }
        return;
    }
    f = sub->lists[F_PENDING].head;
    while (f) {
        s_flight_t *next = f->next;
        if (f->pos == pos && f->seq <= msg->seq && f->consumer == c)
            s_acked(self, c, f);
        f = next;
    }
}

void
ob_subs_ping(ob_subs_t *self, void *consumer)
{
    s_consumer_t *c = s_consumer(self, consumer, 0);
    if (c)
        s_consumer_heard(self, c, 0);
}

void
ob_subs_nack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg)
{
    s_consumer_t *c = s_consumer(self, consumer, 0);
    if (!c)
        return;
    s_sub_t *sub = NULL;
    s_pos_t *pos = NULL;
    s_flight_t *f = s_find(self, msg, &sub, &pos);
    s_shown(self, c, f);
    if (f && f->state == F_PENDING && f->consumer == c) {
        self->stats.nacked++;
        s_flight_unacked(self, f, msg->delay_ms, zclock_mono());
    }
}

int
ob_subs_reposition(ob_subs_t *self, const ob_wire_msg_t *msg)
{
    s_sub_t *sub = zhashx_lookup(self->subs, msg->sub);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    s_flights_free(sub);
    for (s_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        s_pos_set_floor(
            self, pos,
            s_start_floor(self, pos->topic, msg->start, msg->start_seq, msg->start_time));
    s_activate(self, sub);
    return 0;
}

int
ob_subs_delete(ob_subs_t *self, const char *name)
{
    s_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    s_sub_remove(self, sub, 1);
    self->stats.subscriptions--;
    return 0;
}

/* ---- delivery ---- */

typedef struct s_read {
    ob_subs_t *self;
    s_sub_t *sub;
    s_pos_t *pos;
    s_flight_t *flight; /* redelivery: the flight to deliver again */
    size_t made;        /* deliveries made */
    size_t budget;      /* deliveries allowed */
    int found;          /* redelivery: the event was there */
} s_read_t;

/* Sends the events (count of them, all of sub, one position, consecutive seqs, the same
   attempt) of flights to the next consumers, as few DELIVERs as they take: each sent one
   becomes pending. A consumer found gone is detached (its other deliveries become
   available) and the next one is tried, as is the next after a consumer whose queue is
   full; a consumer that is not open (s_consumer_open: slow, or at its unread limit) is
   passed over. With none left, the rest wait in `ready` until a consumer opens or
   attaches; when a consumer was full, they are tried again OB_SUBS_FULL_RETRY_MS later
   (they keep their credit meanwhile, so a full consumer soon stops the reading). */
static void
s_send(ob_subs_t *self, s_sub_t *sub, s_flight_t *const *flights, const ob_store_event_t *events,
       size_t count)
{
    ob_wire_msg_t *msg = &self->deliver_msg; /* 7 KB: never zeroed per delivery */
    msg->command = OB_CMD_DELIVER;
    memcpy(msg->sub, sub->name, sizeof sub->name);
    memcpy(msg->topic, flights[0]->pos->topic->name, strlen(flights[0]->pos->topic->name) + 1);
    size_t sent = 0;
    while (sent < count) {
        s_flight_t *first = flights[sent];
        size_t left = count - sent;
        msg->seq = first->seq;
        msg->attempt = first->attempt + 1;
        msg->time = events[sent].time_us;
        msg->skipped = first->pos->skipped;
        for (size_t i = 0; i < left; i++)
            msg->times[i] = events[sent + i].time_us;
        s_consumer_t *consumer = NULL;
        size_t tries = sub->consumer_count;
        int full = 0, rc = 0;
        while (sub->consumer_count && tries--) {
            consumer = sub->consumers[sub->rr++ % sub->consumer_count];
            if (!s_consumer_open(self, consumer)) {
                consumer = NULL;
                continue;
            }
            msg->count = (uint32_t)left; /* the sink lowers it to what it sends */
            rc = self->deliver(self->arg, consumer->id, msg, events + sent, left);
            if (rc > 0)
                break;
            if (rc == OB_SUBS_GONE)
                s_detach(self, sub, consumer, self->now);
            else
                full = 1;
            consumer = NULL;
        }
        if (!consumer) {
            for (size_t i = sent; i < count; i++) {
                if (full)
                    s_flight_move(sub, flights[i], F_WAITING, self->now + OB_SUBS_FULL_RETRY_MS);
                else
                    s_flight_move(sub, flights[i], F_READY, 0);
            }
            return;
        }
        first->pos->skipped = 0;
        consumer->sent += OB_SUBS_DELIVER_COST;
        for (size_t i = sent; i < sent + (size_t)rc; i++)
            consumer->sent += events[i].event_len;
        for (size_t i = sent; i < sent + (size_t)rc; i++) {
            s_flight_t *f = flights[i];
            s_flight_move(sub, f, F_PENDING, self->now + sub->ack_wait_ms);
            f->consumer = consumer;
            if (f->sent_to != consumer)
                s_flight_orphan(f); /* its earlier copy was read (the consumer is open) */
            f->sent_to = consumer;
            f->mark = consumer->sent;
            f->attempt++;
            self->stats.delivered++;
            sub->delivered++;
            if (f->attempt > 1) {
                self->stats.redelivered++;
                sub->redelivered++;
            }
        }
        sent += (size_t)rc;
    }
}

/* Sends the run gathered so far (s_run_t), if any. */
static void
s_run_flush(ob_subs_t *self)
{
    s_run_t *run = &self->run;
    if (run->count == 0)
        return;
    for (size_t i = 0; i < run->count; i++)
        run->events[i].event = run->buf + run->at[i];
    size_t count = run->count;
    run->count = 0;
    run->len = 0;
    s_send(self, run->sub, run->flights, run->events, count);
    if (run->cap > 4 * OB_DELIVER_RUN_BYTES) { /* after a large event: do not keep it */
        free(run->buf);
        run->buf = NULL;
        run->cap = 0;
    }
}

/* Adds the first delivery of f (new, in no state list), whose event is ev, to the run,
   sending the run first if f does not continue it or it is full. An event of
   OB_DELIVER_RUN_BYTES or more, or one that cannot be copied, is sent alone at once. */
static void
s_run_add(ob_subs_t *self, s_sub_t *sub, s_flight_t *f, const ob_store_event_t *ev)
{
    s_run_t *run = &self->run;
    if (run->count) {
        s_flight_t *last = run->flights[run->count - 1];
        if (run->sub != sub || last->pos != f->pos || last->seq + 1 != f->seq ||
            run->count == OB_DELIVER_RUN_MAX || run->len + ev->event_len > OB_DELIVER_RUN_BYTES)
            s_run_flush(self);
    }
    if (ev->event_len >= OB_DELIVER_RUN_BYTES) {
        s_send(self, sub, &f, ev, 1);
        return;
    }
    if (run->len + ev->event_len > run->cap) {
        size_t cap = run->cap ? run->cap : OB_DELIVER_RUN_BYTES;
        while (cap < run->len + ev->event_len)
            cap *= 2;
        uint8_t *grown = realloc(run->buf, cap);
        if (!grown) {
            s_run_flush(self);
            s_send(self, sub, &f, ev, 1);
            return;
        }
        run->buf = grown;
        run->cap = cap;
    }
    memcpy(run->buf + run->len, ev->event, ev->event_len);
    run->sub = sub;
    run->flights[run->count] = f;
    run->events[run->count] = *ev;
    run->at[run->count] = run->len;
    run->count++;
    run->len += ev->event_len;
}

/* Notes that retention removed the events of pos below first (never delivered ones count
   as skipped). */
static void
s_removed_below(ob_subs_t *self, s_pos_t *pos, uint64_t first)
{
    if (first > pos->next) {
        pos->skipped += first - pos->next;
        self->stats.skipped += first - pos->next;
        pos->next = first;
    }
    if (first > pos->floor + 1)
        s_pos_raise_floor(self, pos, first - 1);
}

static int
s_on_event(void *arg, const ob_store_event_t *ev)
{
    s_read_t *r = arg;
    s_pos_t *pos = r->pos;
    s_sub_t *sub = r->sub;
    pos->topic->id = ev->topic_id;
    if (ev->seq > pos->next)
        s_removed_below(r->self, pos, ev->seq);
    pos->next = ev->seq + 1;
    r->made++;
    if (s_pos_is_done(pos, ev->seq))
        return r->made >= r->budget;
    if (sub->type_count) {
        ob_event_envelope_t env;
        if (ob_event_peek(ev->event, ev->event_len, &env) == 0 &&
            !s_type_wanted(sub, env.type, env.type_len)) {
            s_pos_done(r->self, pos, ev->seq);
            return r->made >= r->budget;
        }
    }
    s_flight_t *f = s_flight_new(r->self);
    if (!f)
        return 1;
    f->pos = pos;
    f->seq = ev->seq;
    if (zhashx_insert(sub->flights, f, f)) {
        s_flight_free(r->self, f); /* already in flight (or no memory): leave it */
        return r->made >= r->budget;
    }
    s_run_add(r->self, sub, f, ev);
    return r->made >= r->budget || zhashx_size(sub->flights) >= sub->credit;
}

static int
s_on_redeliver(void *arg, const ob_store_event_t *ev)
{
    s_read_t *r = arg;
    if (ev->seq == r->flight->seq) {
        r->found = 1;
        s_send(r->self, r->sub, &r->flight, ev, 1);
    }
    return 1;
}

/* Delivers for sub, at most budget. Returns the number made. */
static size_t
s_sub_pump(ob_subs_t *self, s_sub_t *sub, size_t budget)
{
    size_t made = 0;
    s_flight_t *f;
    while (made < budget && s_sub_open(self, sub) && (f = sub->lists[F_READY].head)) {
        s_read_t r = {.self = self, .sub = sub, .pos = f->pos, .flight = f};
        int rc = ob_store_scan(self->store, f->pos->topic->name, f->seq, 1, s_on_redeliver, &r,
                               NULL, NULL);
        if (rc == 0 && !r.found) { /* removed by retention meanwhile */
            self->stats.skipped++;
            s_flight_done(self, f);
        } else if (rc) {
            zsys_error("subs: cannot read %s #%" PRIu64 ": %s", f->pos->topic->name, f->seq,
                       ob_strerror(rc));
            return made;
        }
        made++;
    }
    s_pos_t *pos;
    while (made < budget && s_sub_open(self, sub) && zhashx_size(sub->flights) < sub->credit &&
           (pos = zlistx_first(sub->readable))) {
        zlistx_delete(sub->readable, pos->readable);
        pos->readable = NULL;
        if (pos->next > pos->topic->last_seq)
            continue;
        size_t want = budget - made;
        if (want > OB_SUBS_QUANTUM)
            want = OB_SUBS_QUANTUM;
        s_read_t r = {.self = self, .sub = sub, .pos = pos, .budget = want};
        ob_topic_stat_t stat;
        int rc = ob_store_scan(self->store, pos->topic->name, pos->next, want, s_on_event, &r,
                               &stat, NULL);
        s_run_flush(self); /* what this read gathered */
        if (rc) {
            zsys_error("subs: cannot read %s from #%" PRIu64 ": %s", pos->topic->name, pos->next,
                       ob_strerror(rc));
            return made;
        }
        if (r.made == 0 && stat.last_seq >= pos->next) /* all removed by retention */
            s_removed_below(self, pos, stat.events ? stat.first_seq : stat.last_seq + 1);
        made += r.made ? r.made : 1;
        s_pos_readable(self, pos); /* back at the end if there is more */
    }
    return made;
}

size_t
ob_subs_pump(ob_subs_t *self, size_t budget, int64_t now)
{
    size_t made = 0;
    self->now = now;
    s_sub_t *sub;
    while (made < budget && (sub = zlistx_first(self->active))) {
        zlistx_delete(self->active, sub->active);
        sub->active = NULL;
        size_t share = budget - made;
        if (share > OB_SUBS_QUANTUM)
            share = OB_SUBS_QUANTUM;
        made += s_sub_pump(self, sub, share);
        s_activate(self, sub); /* to the end of the line, if it has more */
    }
    return made;
}

int
ob_subs_busy(const ob_subs_t *self)
{
    return zlistx_size(self->active) > 0;
}

void
ob_subs_tick(ob_subs_t *self, int64_t now)
{
    for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs)) {
        if (zhashx_size(sub->flights) == 0)
            continue;
        s_flight_t *f;
        while ((f = sub->lists[F_PENDING].head) && f->due <= now) {
            /* unacked in time: if its consumer sent nothing since this copy went, the copy
               may still wait in the socket; the consumer is slow (PROTOCOL.md 12.9) and gets
               nothing, this copy again included, until it sends something */
            s_consumer_t *c = f->consumer;
            if (c && f->mark > c->read && f->mark > c->heard && f->mark > c->slow)
                c->slow = f->mark;
            s_flight_unacked(self, f, s_backoff(sub, f->attempt + 1), now);
        }
        f = sub->lists[F_WAITING].head;
        while (f) {
            s_flight_t *next = f->next;
            if (f->due <= now) {
                s_flight_move(sub, f, F_READY, 0);
                s_activate(self, sub);
            }
            f = next;
        }
    }
}

/* ---- persistence ---- */

/* Reserves len bytes in the arena; returns the offset or SIZE_MAX. */
static size_t
s_arena(ob_subs_batch_t *batch, size_t len)
{
    if (batch->arena_len + len > batch->arena_cap) {
        size_t cap = batch->arena_cap ? batch->arena_cap : 65536;
        while (cap < batch->arena_len + len)
            cap *= 2;
        uint8_t *grown = realloc(batch->arena, cap);
        if (!grown)
            return SIZE_MAX;
        batch->arena = grown;
        batch->arena_cap = cap;
    }
    size_t at = batch->arena_len;
    batch->arena_len += len;
    return at;
}

/* Adds an op whose strings and value are copied into the arena (offsets now, pointers
   fixed at the end of the collect). */
static int
s_op(ob_subs_batch_t *batch, ob_store_op_kind_t kind, const char *sub, const char *topic,
     const uint8_t *value, size_t value_len)
{
    if (batch->op_count == batch->op_cap) {
        size_t cap = batch->op_cap ? 2 * batch->op_cap : 64;
        ob_store_op_t *grown = realloc(batch->ops, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        batch->ops = grown;
        batch->op_cap = cap;
    }
    size_t sub_len = strlen(sub) + 1, topic_len = topic ? strlen(topic) + 1 : 0;
    size_t at = s_arena(batch, sub_len + topic_len + value_len);
    if (at == SIZE_MAX)
        return -ENOMEM;
    memcpy(batch->arena + at, sub, sub_len);
    if (topic)
        memcpy(batch->arena + at + sub_len, topic, topic_len);
    if (value_len)
        memcpy(batch->arena + at + sub_len + topic_len, value, value_len);
    ob_store_op_t *op = &batch->ops[batch->op_count++];
    op->kind = kind;
    op->sub = (const char *)(uintptr_t)at;
    op->topic = topic ? (const char *)(uintptr_t)(at + sub_len) : NULL;
    op->value = value_len ? (const uint8_t *)(uintptr_t)(at + sub_len + topic_len) : NULL;
    op->value_len = value_len;
    return 0;
}

static int
s_collect_sub(ob_subs_batch_t *batch, const s_sub_t *sub)
{
    ob_sub_record_t *record = calloc(1, sizeof *record);
    uint8_t *buf = malloc(OB_SUB_RECORD_MAX);
    int rc = -ENOMEM;
    if (!record || !buf)
        goto out;
    memcpy(record->owner, sub->owner, sizeof record->owner);
    record->pattern_count = sub->pattern_count;
    for (size_t i = 0; i < sub->pattern_count; i++)
        snprintf(record->patterns[i], sizeof record->patterns[i], "%s", sub->patterns[i]);
    record->type_count = sub->type_count;
    for (size_t i = 0; i < sub->type_count; i++)
        snprintf(record->types[i], sizeof record->types[i], "%s", sub->types[i]);
    record->credit = sub->credit;
    record->ack_wait_ms = sub->ack_wait_ms;
    record->max_attempts = sub->max_attempts;
    record->backoff_ms = sub->backoff_ms;
    size_t len = 0;
    if ((rc = ob_sub_record_encode(record, buf, OB_SUB_RECORD_MAX, &len)) == 0)
        rc = s_op(batch, OB_STORE_PUT_SUB, sub->name, NULL, buf, len);
out:
    free(record);
    free(buf);
    return rc;
}

static int
s_collect_pos(ob_subs_batch_t *batch, const s_pos_t *pos)
{
    size_t n =
        pos->done_count < OB_POS_RECORD_RANGES_MAX ? pos->done_count : OB_POS_RECORD_RANGES_MAX;
    /* ranges beyond OB_POS_RECORD_RANGES_MAX are not persisted: after a crash those events
       are delivered again, which at-least-once allows */
    size_t len = ob_pos_record_size(n);
    uint8_t *value = malloc(len);
    if (!value)
        return -ENOMEM;
    int rc = ob_pos_record_encode(pos->floor, pos->done, n, value, len, &len);
    if (rc == 0)
        rc = s_op(batch, OB_STORE_PUT_POS, pos->sub->name, pos->topic->name, value, len);
    free(value);
    return rc;
}

/* Builds the dead letter of f (PROTOCOL.md 12.6) into letter. Returns 0, or an error (the
   original is gone or too large to wrap: the event is then only marked done). */
static int
s_letter(ob_subs_t *self, const s_flight_t *f, ob_subs_letter_t *letter)
{
    const s_sub_t *sub = f->pos->sub;
    uint8_t *original = NULL;
    size_t original_len = 0;
    int rc = ob_store_get(self->store, f->pos->topic->name, f->seq, &original, &original_len, NULL);
    if (rc)
        return rc;
    ob_event_envelope_t env;
    memset(&env, 0, sizeof env);
    ob_event_peek(original, original_len, &env);
    char attempts[24], seq[24], id[OB_EVENT_ID_MAX + 1], type[OB_EVENT_TYPE_MAX + 1];
    snprintf(attempts, sizeof attempts, "%" PRIu32, f->attempt);
    snprintf(seq, sizeof seq, "%" PRIu64, f->seq);
    snprintf(id, sizeof id, "%.*s", (int)env.id_len, env.id ? env.id : "");
    snprintf(type, sizeof type, "%.*s", (int)env.type_len, env.type ? env.type : "");
    snprintf(letter->topic, sizeof letter->topic, "%s%s", OB_SUBS_DLQ_PREFIX, sub->name);
    snprintf(letter->id, sizeof letter->id, "dl-%" PRIu32 "-%" PRIu64, f->pos->topic->id, f->seq);
    ob_change_t changes[] = {
        {"reason", NULL, "max_attempts"},
        {"attempts", NULL, attempts},
        {"subscription", NULL, sub->name},
        {"topic", NULL, f->pos->topic->name},
        {"seq", NULL, seq},
        {"id", NULL, id},
        {"type", NULL, type},
    };
    ob_event_t event = {
        .id = letter->id,
        .topic = letter->topic,
        .type = "dead_letter",
        .time_us = s_now_us(),
        .source = "orderbus-broker",
        .changes = changes,
        .changes_count = sizeof changes / sizeof changes[0],
        .data = original,
        .data_len = original_len,
    };
    rc = ob_event_encode(&event, &letter->event, &letter->event_len);
    free(original);
    return rc;
}

int
ob_subs_dirty(const ob_subs_t *self)
{
    return zlistx_size(self->dirty) || zlistx_size(self->deleted) || zlistx_size(self->letters);
}

int
ob_subs_collect(ob_subs_t *self, ob_subs_batch_t *batch)
{
    int rc = 0;
    batch->op_count = 0;
    batch->arena_len = 0;
    batch->letter_count = 0;

    ob_subs_letter_t *l;
    while (batch->letter_count < batch->letter_cap && (l = zlistx_first(self->letters))) {
        batch->letters[batch->letter_count++] = *l;
        free(l);
        zlistx_delete(self->letters, zlistx_cursor(self->letters));
    }
    for (const char *name = zlistx_first(self->deleted); name && !rc;
         name = zlistx_next(self->deleted))
        rc = s_op(batch, OB_STORE_DEL_SUB, name, NULL, NULL, 0);
    if (rc)
        goto fixup;
    zlistx_purge(self->deleted);

    s_sub_t *sub;
    while (!rc && (sub = zlistx_first(self->dirty))) {
        s_flight_t *f;
        while (batch->letter_count < batch->letter_cap && (f = sub->lists[F_DEAD].head)) {
            ob_subs_letter_t *letter = &batch->letters[batch->letter_count];
            memset(letter, 0, sizeof *letter);
            int lrc = s_letter(self, f, letter);
            if (lrc == 0)
                batch->letter_count++;
            else
                zsys_warning("subs: %s: no dead letter for %s #%" PRIu64 ": %s", sub->name,
                             f->pos->topic->name, f->seq, ob_strerror(lrc));
            self->stats.dead_lettered++;
            sub->dead_lettered++;
            s_flight_done(self, f);
        }
        if (sub->dirty && !sub->ephemeral && (rc = s_collect_sub(batch, sub)))
            break;
        sub->dirty = 0;
        s_pos_t *pos;
        while ((pos = zlistx_first(sub->dirty_pos))) {
            if ((rc = s_collect_pos(batch, pos)))
                break;
            pos->dirty = 0;
            zlistx_delete(sub->dirty_pos, zlistx_cursor(sub->dirty_pos));
        }
        if (rc)
            break;
        if (sub->lists[F_DEAD].size)
            break; /* letters full: the rest next time, with their positions */
        zlistx_delete(self->dirty, sub->dirty_node);
        sub->dirty_node = NULL;
    }
fixup:
    for (size_t i = 0; i < batch->op_count; i++) {
        ob_store_op_t *op = &batch->ops[i];
        op->sub = (const char *)batch->arena + (uintptr_t)op->sub;
        if (op->topic)
            op->topic = (const char *)batch->arena + (uintptr_t)op->topic;
        if (op->value)
            op->value = batch->arena + (uintptr_t)op->value;
    }
    return rc;
}

void
ob_subs_uncollect(ob_subs_t *self, ob_subs_batch_t *batch)
{
    for (size_t i = 0; i < batch->op_count; i++) {
        const ob_store_op_t *op = &batch->ops[i];
        s_sub_t *sub = zhashx_lookup(self->subs, op->sub);
        if (op->kind == OB_STORE_DEL_SUB) {
            if (!sub)
                zlistx_add_end(self->deleted, (void *)op->sub);
            continue;
        }
        if (!sub)
            continue;
        if (op->kind == OB_STORE_PUT_SUB) {
            sub->dirty = 1;
            s_mark_dirty(self, sub);
        } else if (op->kind == OB_STORE_PUT_POS) {
            s_pos_t *pos = zhashx_lookup(sub->positions, op->topic);
            if (pos)
                s_pos_dirty(self, pos);
        }
    }
    for (size_t i = 0; i < batch->letter_count; i++) {
        ob_subs_letter_t *l = malloc(sizeof *l);
        if (!l) {
            free(batch->letters[i].event);
            continue;
        }
        *l = batch->letters[i];
        zlistx_add_end(self->letters, l);
    }
    batch->letter_count = 0;
    batch->op_count = 0;
}

void
ob_subs_batch_free(ob_subs_batch_t *batch)
{
    for (size_t i = 0; i < batch->letter_count; i++)
        free(batch->letters[i].event);
    free(batch->ops);
    free(batch->arena);
    free(batch->letters);
    memset(batch, 0, sizeof *batch);
}

/* ---- admin ---- */

static int
s_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void
s_pack_strs(msgpack_packer *pk, char *const *list, size_t count)
{
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++)
        s_pack_str(pk, list[i]);
}

static uint64_t
s_sub_lag(const s_sub_t *sub)
{
    uint64_t lag = 0;
    for (s_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        lag += s_pos_lag(pos);
    return lag;
}

/* Writes an array header for count entries and the entries (sbuf) into buf. */
static int
s_emit_array(size_t count, const msgpack_sbuffer *entries, uint8_t *buf, size_t cap,
             size_t *ret_len)
{
    msgpack_sbuffer head;
    msgpack_sbuffer_init(&head);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, count);
    int rc = 0;
    if (head.size + entries->size > cap)
        rc = OB_ERR_TOO_LARGE;
    else {
        memcpy(buf, head.data, head.size);
        if (entries->size)
            memcpy(buf + head.size, entries->data, entries->size);
        *ret_len = head.size + entries->size;
    }
    msgpack_sbuffer_destroy(&head);
    return rc;
}

#define S_SUMMARY_KEYS 8 /* keys s_pack_summary writes */

/* Packs what SUBS says of a subscription (and SUB_INFO begins with). */
static void
s_pack_summary(msgpack_packer *pk, const s_sub_t *sub)
{
    s_pack_str(pk, "sub");
    s_pack_str(pk, sub->name);
    s_pack_str(pk, "patterns");
    s_pack_strs(pk, sub->patterns, sub->pattern_count);
    s_pack_str(pk, "types");
    s_pack_strs(pk, sub->types, sub->type_count);
    s_pack_str(pk, "ephemeral");
    sub->ephemeral ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    s_pack_str(pk, "owner");
    s_pack_str(pk, sub->owner);
    s_pack_str(pk, "consumers");
    msgpack_pack_uint64(pk, sub->consumer_count);
    s_pack_str(pk, "pending");
    msgpack_pack_uint64(pk, sub->lists[F_PENDING].size);
    s_pack_str(pk, "lag");
    msgpack_pack_uint64(pk, s_sub_lag(sub));
}

int
ob_subs_list(ob_subs_t *self, const char *after, uint8_t *buf, size_t cap, size_t *ret_len,
             int *ret_more)
{
    size_t n = zhashx_size(self->subs);
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names)
        return -ENOMEM;
    size_t count = 0;
    for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
        if (!after || strcmp(sub->name, after) > 0)
            names[count++] = sub->name;
    qsort(names, count, sizeof *names, s_strcmp_p);

    msgpack_sbuffer entries, one;
    msgpack_sbuffer_init(&entries);
    msgpack_sbuffer_init(&one);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &one, msgpack_sbuffer_write);
    size_t taken = 0;
    *ret_more = 0;
    for (size_t i = 0; i < count; i++) {
        const s_sub_t *sub = zhashx_lookup(self->subs, names[i]);
        msgpack_sbuffer_clear(&one);
        msgpack_pack_map(&pk, S_SUMMARY_KEYS);
        s_pack_summary(&pk, sub);
        if (entries.size + one.size + 5 > cap) {
            *ret_more = 1;
            break;
        }
        msgpack_sbuffer_write(&entries, one.data, one.size);
        taken++;
    }
    int rc = s_emit_array(taken, &entries, buf, cap, ret_len);
    msgpack_sbuffer_destroy(&entries);
    msgpack_sbuffer_destroy(&one);
    free(names);
    return rc;
}

int
ob_subs_info(ob_subs_t *self, const char *name, const char *after, uint8_t *buf, size_t cap,
             size_t *ret_len, int *ret_more)
{
    const s_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    size_t n = zhashx_size(sub->positions);
    const char **topics = calloc(n ? n : 1, sizeof *topics);
    if (!topics)
        return -ENOMEM;
    size_t count = 0;
    for (s_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        if (!after || strcmp(pos->topic->name, after) > 0)
            topics[count++] = pos->topic->name;
    qsort(topics, count, sizeof *topics, s_strcmp_p);

    msgpack_sbuffer head, entries, one;
    msgpack_sbuffer_init(&head);
    msgpack_sbuffer_init(&entries);
    msgpack_sbuffer_init(&one);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, S_SUMMARY_KEYS + 8);
    s_pack_summary(&pk, sub);
    s_pack_str(&pk, "credit");
    msgpack_pack_uint32(&pk, sub->credit);
    s_pack_str(&pk, "ack_wait_ms");
    msgpack_pack_uint32(&pk, sub->ack_wait_ms);
    s_pack_str(&pk, "max_attempts");
    msgpack_pack_uint32(&pk, sub->max_attempts);
    s_pack_str(&pk, "backoff_ms");
    msgpack_pack_uint32(&pk, sub->backoff_ms);
    s_pack_str(&pk, "waiting");
    msgpack_pack_uint64(&pk, sub->lists[F_WAITING].size + sub->lists[F_READY].size +
                                 sub->lists[F_DEAD].size);
    s_pack_str(&pk, "redelivered");
    msgpack_pack_uint64(&pk, sub->redelivered);
    s_pack_str(&pk, "dead_lettered");
    msgpack_pack_uint64(&pk, sub->dead_lettered);
    s_pack_str(&pk, "positions");

    msgpack_packer_init(&pk, &one, msgpack_sbuffer_write);
    size_t taken = 0;
    *ret_more = 0;
    for (size_t i = 0; i < count; i++) {
        const s_pos_t *pos = zhashx_lookup(sub->positions, topics[i]);
        msgpack_sbuffer_clear(&one);
        msgpack_pack_map(&pk, 2);
        s_pack_str(&pk, "topic");
        s_pack_str(&pk, pos->topic->name);
        s_pack_str(&pk, "ack_floor");
        msgpack_pack_uint64(&pk, pos->floor);
        if (head.size + entries.size + one.size + 5 > cap) {
            *ret_more = 1;
            break;
        }
        msgpack_sbuffer_write(&entries, one.data, one.size);
        taken++;
    }
    int rc = OB_ERR_TOO_LARGE;
    if (head.size <= cap) {
        memcpy(buf, head.data, head.size);
        size_t len = 0;
        rc = s_emit_array(taken, &entries, buf + head.size, cap - head.size, &len);
        *ret_len = head.size + len;
    }
    msgpack_sbuffer_destroy(&head);
    msgpack_sbuffer_destroy(&entries);
    msgpack_sbuffer_destroy(&one);
    free(topics);
    return rc;
}

void
ob_subs_stats(const ob_subs_t *self, ob_subs_stats_t *ret)
{
    *ret = self->stats;
}

void
ob_subs_each(ob_subs_t *self, ob_subs_each_fn *fn, void *arg)
{
    for (s_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
        fn(arg, sub->name, sub->ephemeral, s_sub_lag(sub), sub->lists[F_PENDING].size);
}
