/*  ob_subs, delivery (see subs_int.h for the parts and the model).

    Here: the work lists (which subscriptions may deliver now), flights and their state lists
    (pending, waiting, ready, dead), credit, the DELIVER runs read from the store, redelivery
    after an ack timeout, a NACK or a full consumer, backoff, the unread-bytes limit and slow
    consumers (PROTOCOL.md 12.9), and what ACK, NACK and PING tell. A flight that is done
    marks its seq done on its position (subs_position.c); one over max_attempts waits in
    `dead` for subs_persist.c to write its dead letter. */
#include "subs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_DELAY_MAX ((int64_t)OB_DELAY_MS_MAX)
#define S_SPARE_MAX 65536 /* freed flights kept for reuse (one credit's worth) */

/* ---- work lists ---- */

/* Returns 1 if c may be sent a DELIVER (PROTOCOL.md 12.9): it is not slow (it sent something
   after every copy whose ack deadline passed), and it holds less than max_unread bytes it
   has not shown it took. */
static int
s_consumer_open(const ob_subs_t *self, const ob_subs_consumer_t *c)
{
    return c->heard >= c->slow && c->sent - c->read < self->max_unread;
}

/* Returns 1 if one of sub's consumers may be sent a DELIVER. */
static int
s_sub_open(const ob_subs_t *self, const ob_subs_sub_t *sub)
{
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (s_consumer_open(self, sub->consumers[i]))
            return 1;
    return 0;
}

static int
s_sub_has_work(const ob_subs_t *self, const ob_subs_sub_t *sub)
{
    if (!s_sub_open(self, sub))
        return 0;
    return sub->lists[OB_SUBS_F_READY].size > 0 ||
           (zhashx_size(sub->flights) < sub->credit && zlistx_size(sub->readable) > 0);
}

void
ob_subs_activate(ob_subs_t *self, ob_subs_sub_t *sub)
{
    if (!sub->active && s_sub_has_work(self, sub))
        sub->active = zlistx_add_end(self->active, sub);
}

void
ob_subs_pos_readable(ob_subs_t *self, ob_subs_pos_t *pos)
{
    if (!pos->readable && pos->next <= pos->topic->last_seq) {
        pos->readable = zlistx_add_end(pos->sub->readable, pos);
        ob_subs_activate(self, pos->sub);
    }
}

/* ---- flights ---- */

/* Takes f out of the list of its state. */
static void
s_flight_unlink(ob_subs_sub_t *sub, ob_subs_flight_t *f)
{
    if (f->state == OB_SUBS_F_NONE)
        return;
    ob_subs_flight_list_t *list = &sub->lists[f->state];
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
    f->state = OB_SUBS_F_NONE;
}

/* Moves f into state (the end of its list), taking it out of the list it is in. */
static void
s_flight_move(ob_subs_sub_t *sub, ob_subs_flight_t *f, int state, int64_t due)
{
    s_flight_unlink(sub, f);
    ob_subs_flight_list_t *list = &sub->lists[state];
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
static ob_subs_flight_t *
s_flight_new(ob_subs_t *self)
{
    ob_subs_flight_t *f = self->spare;
    if (!f)
        return calloc(1, sizeof *f);
    self->spare = f->next;
    self->spare_count--;
    memset(f, 0, sizeof *f);
    return f;
}

/* Frees f (out of every list and the index), keeping it for reuse. */
static void
s_flight_free(ob_subs_t *self, ob_subs_flight_t *f)
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
s_flight_orphan(ob_subs_flight_t *f)
{
    ob_subs_consumer_t *c = f->sent_to;
    if (c && f->mark > c->read && f->mark > c->orphan)
        c->orphan = f->mark;
    f->sent_to = NULL;
}

/* f is done (acked, dead-lettered, removed): frees it and marks its seq done. */
void
ob_subs_flight_done(ob_subs_t *self, ob_subs_flight_t *f)
{
    ob_subs_sub_t *sub = f->pos->sub;
    s_flight_orphan(f);
    s_flight_unlink(sub, f);
    zhashx_delete(sub->flights, f);
    ob_subs_pos_done(self, f->pos, f->seq);
    s_flight_free(self, f);
    ob_subs_activate(self, sub);
}

/* An attempt of f ended without an ack: dead-lettered if it had its last attempt, else
   redelivered after delay_ms (0: at once). */
static void
s_flight_unacked(ob_subs_t *self, ob_subs_flight_t *f, int64_t delay_ms, int64_t now)
{
    ob_subs_sub_t *sub = f->pos->sub;
    if (sub->max_attempts && f->attempt >= sub->max_attempts) {
        s_flight_move(sub, f, OB_SUBS_F_DEAD, 0);
        ob_subs_mark_dirty(self, sub);
        return;
    }
    if (delay_ms <= 0)
        s_flight_move(sub, f, OB_SUBS_F_READY, 0);
    else
        s_flight_move(sub, f, OB_SUBS_F_WAITING, now + delay_ms);
    ob_subs_activate(self, sub);
}

/* The redelivery delay before attempt n (PROTOCOL.md 12.5): backoff * 2^(n-2), capped. */
static int64_t
s_backoff(const ob_subs_sub_t *sub, uint32_t n)
{
    int64_t delay = sub->backoff_ms;
    for (uint32_t i = 2; i < n && delay < S_DELAY_MAX; i++)
        delay *= 2;
    return delay < S_DELAY_MAX ? delay : S_DELAY_MAX;
}

void
ob_subs_flights_free(ob_subs_sub_t *sub)
{
    for (ob_subs_flight_t *f = zhashx_first(sub->flights); f; f = zhashx_next(sub->flights)) {
        s_flight_orphan(f);
        free(f);
    }
    zhashx_purge(sub->flights);
    memset(sub->lists, 0, sizeof sub->lists);
}

/* Returns 1 if type (type_len bytes) is one sub delivers. */
static int
s_type_wanted(const ob_subs_sub_t *sub, const char *type, size_t type_len)
{
    if (sub->type_count == 0)
        return 1;
    for (size_t i = 0; i < sub->type_count; i++)
        if (strlen(sub->types[i]) == type_len && !memcmp(sub->types[i], type, type_len))
            return 1;
    return 0;
}

/* ---- consumers' feedback: ACK, NACK, PING ---- */

/* c sent a PING, ACK or NACK, which showed it took every DELIVER sent to it up to mark (0:
   none; PROTOCOL.md 12.9). If that lets it be sent DELIVERs again, its subscriptions may
   deliver. */
static void
s_consumer_heard(ob_subs_t *self, ob_subs_consumer_t *c, uint64_t mark)
{
    int was_open = s_consumer_open(self, c);
    c->heard = c->sent;
    if (mark > c->read)
        c->read = mark < c->sent ? mark : c->sent;
    if (was_open || !s_consumer_open(self, c))
        return;
    for (const char *name = zlistx_first(c->names); name; name = zlistx_next(c->names)) {
        ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
        if (sub)
            ob_subs_activate(self, sub);
    }
}

/* Takes consumer c off sub: its pending deliveries end unacked (no delay), and no flight
   keeps it as the consumer of its last copy (an unread one becomes an orphan of c, which
   may stay attached to other subscriptions). */
void
ob_subs_detach(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_consumer_t *c, int64_t now)
{
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (sub->consumers[i] == c) {
            sub->consumers[i] = sub->consumers[--sub->consumer_count];
            break;
        }
    for (int state = OB_SUBS_F_PENDING; state < OB_SUBS_F_STATES; state++) {
        ob_subs_flight_t *f = sub->lists[state].head;
        while (f) {
            ob_subs_flight_t *next = f->next;
            if (f->sent_to == c)
                s_flight_orphan(f);
            if (f->consumer == c)
                s_flight_unacked(self, f, 0, now);
            f = next;
        }
    }
}

/* Finds the flight (sub, topic, seq) of msg, in whatever state, or NULL. */
static ob_subs_flight_t *
s_find(ob_subs_t *self, const ob_wire_msg_t *msg, ob_subs_sub_t **ret_sub, ob_subs_pos_t **ret_pos)
{
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, msg->sub);
    ob_subs_pos_t *pos = sub ? zhashx_lookup(sub->positions, msg->topic) : NULL;
    *ret_sub = sub;
    *ret_pos = pos;
    if (!pos)
        return NULL;
    ob_subs_flight_t probe = {.pos = pos, .seq = msg->seq};
    return zhashx_lookup(sub->flights, &probe);
}

/* An ACK or NACK from c named flight f (NULL: none is held): c took the copy of f sent to it
   and every DELIVER before it. When that copy is no longer held (f done, or sent to another
   since), c is taken to have read up to its last orphan (PROTOCOL.md 12.9). */
static void
s_shown(ob_subs_t *self, ob_subs_consumer_t *c, const ob_subs_flight_t *f)
{
    s_consumer_heard(self, c, f && f->sent_to == c ? f->mark : c->orphan);
}

/* f, pending to c, is acked by c. */
static void
s_acked(ob_subs_t *self, ob_subs_consumer_t *c, ob_subs_flight_t *f)
{
    s_shown(self, c, f); /* before ob_subs_flight_done: the copy it took is not an orphan */
    ob_subs_flight_done(self, f);
    self->stats.acked++;
}

void
ob_subs_ack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 0);
    if (!c)
        return; /* attached to nothing: nothing was delivered to it */
    ob_subs_sub_t *sub = NULL;
    ob_subs_pos_t *pos = NULL;
    ob_subs_flight_t *f = s_find(self, msg, &sub, &pos);
    if (f && f->state == OB_SUBS_F_PENDING && f->consumer == c)
        s_acked(self, c, f);
    else
        s_shown(self, c, f);
    if (!msg->upto || !pos || msg->seq <= pos->floor)
        return;
    /* Cumulative: every flight of pos pending to c with seq <= msg->seq. Look the seqs above
       the floor up one by one when there are fewer of them than pending flights (the usual
       case: a consumer acking every N deliveries), else walk the pending list; either way
       the cost is bounded by the credit. */
    if (msg->seq - pos->floor <= sub->lists[OB_SUBS_F_PENDING].size) {
        for (uint64_t seq = pos->floor + 1; seq < msg->seq; seq++) {
            ob_subs_flight_t probe = {.pos = pos, .seq = seq};
            f = zhashx_lookup(sub->flights, &probe);
            if (f && f->state == OB_SUBS_F_PENDING && f->consumer == c)
                s_acked(self, c, f);
        }
        return;
    }
    f = sub->lists[OB_SUBS_F_PENDING].head;
    while (f) {
        ob_subs_flight_t *next = f->next;
        if (f->pos == pos && f->seq <= msg->seq && f->consumer == c)
            s_acked(self, c, f);
        f = next;
    }
}

void
ob_subs_ping(ob_subs_t *self, void *consumer)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 0);
    if (c)
        s_consumer_heard(self, c, 0);
}

void
ob_subs_nack(ob_subs_t *self, void *consumer, const ob_wire_msg_t *msg)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 0);
    if (!c)
        return;
    ob_subs_sub_t *sub = NULL;
    ob_subs_pos_t *pos = NULL;
    ob_subs_flight_t *f = s_find(self, msg, &sub, &pos);
    s_shown(self, c, f);
    if (f && f->state == OB_SUBS_F_PENDING && f->consumer == c) {
        self->stats.nacked++;
        s_flight_unacked(self, f, msg->delay_ms, zclock_mono());
    }
}

/* ---- delivery ---- */

typedef struct s_read {
    ob_subs_t *self;
    ob_subs_sub_t *sub;
    ob_subs_pos_t *pos;
    ob_subs_flight_t *flight; /* redelivery: the flight to deliver again */
    size_t made;              /* deliveries made */
    size_t budget;            /* deliveries allowed */
    int found;                /* redelivery: the event was there */
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
s_send(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_flight_t *const *flights,
       const ob_store_event_t *events, size_t count)
{
    ob_wire_msg_t *msg = &self->deliver_msg; /* 7 KB: never zeroed per delivery */
    msg->command = OB_CMD_DELIVER;
    memcpy(msg->sub, sub->name, sizeof sub->name);
    memcpy(msg->topic, flights[0]->pos->topic->name, strlen(flights[0]->pos->topic->name) + 1);
    size_t sent = 0;
    while (sent < count) {
        ob_subs_flight_t *first = flights[sent];
        size_t left = count - sent;
        msg->seq = first->seq;
        msg->attempt = first->attempt + 1;
        msg->time = events[sent].time_us;
        msg->skipped = first->pos->skipped;
        for (size_t i = 0; i < left; i++)
            msg->times[i] = events[sent + i].time_us;
        ob_subs_consumer_t *consumer = NULL;
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
                ob_subs_detach(self, sub, consumer, self->now);
            else
                full = 1;
            consumer = NULL;
        }
        if (!consumer) {
            for (size_t i = sent; i < count; i++) {
                if (full)
                    s_flight_move(sub, flights[i], OB_SUBS_F_WAITING,
                                  self->now + OB_SUBS_FULL_RETRY_MS);
                else
                    s_flight_move(sub, flights[i], OB_SUBS_F_READY, 0);
            }
            return;
        }
        first->pos->skipped = 0;
        consumer->sent += OB_SUBS_DELIVER_COST;
        for (size_t i = sent; i < sent + (size_t)rc; i++)
            consumer->sent += events[i].event_len;
        for (size_t i = sent; i < sent + (size_t)rc; i++) {
            ob_subs_flight_t *f = flights[i];
            s_flight_move(sub, f, OB_SUBS_F_PENDING, self->now + sub->ack_wait_ms);
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

/* Sends the run gathered so far (ob_subs_run_t), if any. */
static void
s_run_flush(ob_subs_t *self)
{
    ob_subs_run_t *run = &self->run;
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
s_run_add(ob_subs_t *self, ob_subs_sub_t *sub, ob_subs_flight_t *f, const ob_store_event_t *ev)
{
    ob_subs_run_t *run = &self->run;
    if (run->count) {
        ob_subs_flight_t *last = run->flights[run->count - 1];
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
s_removed_below(ob_subs_t *self, ob_subs_pos_t *pos, uint64_t first)
{
    if (first > pos->next) {
        pos->skipped += first - pos->next;
        self->stats.skipped += first - pos->next;
        pos->next = first;
    }
    if (first > pos->floor + 1)
        ob_subs_pos_raise_floor(self, pos, first - 1);
}

static int
s_on_event(void *arg, const ob_store_event_t *ev)
{
    s_read_t *r = arg;
    ob_subs_pos_t *pos = r->pos;
    ob_subs_sub_t *sub = r->sub;
    pos->topic->id = ev->topic_id;
    if (ev->seq > pos->next)
        s_removed_below(r->self, pos, ev->seq);
    pos->next = ev->seq + 1;
    r->made++;
    if (ob_subs_pos_is_done(pos, ev->seq))
        return r->made >= r->budget;
    if (sub->type_count) {
        ob_event_envelope_t env;
        if (ob_event_peek(ev->event, ev->event_len, &env) == 0 &&
            !s_type_wanted(sub, env.type, env.type_len)) {
            ob_subs_pos_done(r->self, pos, ev->seq);
            return r->made >= r->budget;
        }
    }
    ob_subs_flight_t *f = s_flight_new(r->self);
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
s_sub_pump(ob_subs_t *self, ob_subs_sub_t *sub, size_t budget)
{
    size_t made = 0;
    ob_subs_flight_t *f;
    while (made < budget && s_sub_open(self, sub) && (f = sub->lists[OB_SUBS_F_READY].head)) {
        s_read_t r = {.self = self, .sub = sub, .pos = f->pos, .flight = f};
        int rc = ob_store_scan(self->store, f->pos->topic->name, f->seq, 1, s_on_redeliver, &r,
                               NULL, NULL);
        if (rc == 0 && !r.found) { /* removed by retention meanwhile */
            self->stats.skipped++;
            ob_subs_flight_done(self, f);
        } else if (rc) {
            zsys_error("subs: cannot read %s #%" PRIu64 ": %s", f->pos->topic->name, f->seq,
                       ob_strerror(rc));
            return made;
        }
        made++;
    }
    ob_subs_pos_t *pos;
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
        ob_subs_pos_readable(self, pos); /* back at the end if there is more */
    }
    return made;
}

size_t
ob_subs_pump(ob_subs_t *self, size_t budget, int64_t now)
{
    size_t made = 0;
    self->now = now;
    ob_subs_sub_t *sub;
    while (made < budget && (sub = zlistx_first(self->active))) {
        zlistx_delete(self->active, sub->active);
        sub->active = NULL;
        size_t share = budget - made;
        if (share > OB_SUBS_QUANTUM)
            share = OB_SUBS_QUANTUM;
        made += s_sub_pump(self, sub, share);
        ob_subs_activate(self, sub); /* to the end of the line, if it has more */
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
    for (ob_subs_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs)) {
        if (zhashx_size(sub->flights) == 0)
            continue;
        ob_subs_flight_t *f;
        while ((f = sub->lists[OB_SUBS_F_PENDING].head) && f->due <= now) {
            /* unacked in time: if its consumer sent nothing since this copy went, the copy
               may still wait in the socket; the consumer is slow (PROTOCOL.md 12.9) and gets
               nothing, this copy again included, until it sends something */
            ob_subs_consumer_t *c = f->consumer;
            if (c && f->mark > c->read && f->mark > c->heard && f->mark > c->slow)
                c->slow = f->mark;
            s_flight_unacked(self, f, s_backoff(sub, f->attempt + 1), now);
        }
        f = sub->lists[OB_SUBS_F_WAITING].head;
        while (f) {
            ob_subs_flight_t *next = f->next;
            if (f->due <= now) {
                s_flight_move(sub, f, OB_SUBS_F_READY, 0);
                ob_subs_activate(self, sub);
            }
            f = next;
        }
    }
}
