/*  ob_poller: see poller.h. */
#include "poller.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "mp_event.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"

#define S_US 1000000ull /* microseconds in a second */

/* An event this poller emitted, kept by id for the overlap window. */
typedef struct {
    char id[OB_GW_EVENT_ID_TEXT]; /* its id (the hash key) */
    uint64_t second;              /* its feed second */
    uint64_t seq;                 /* its emit number */
    uint64_t project_id;          /* for a project.created: its project; else 0 */
    int confirmed;                /* 1 once the broker confirmed it */
} s_seen_t;

/* One event of a page with its digest, for ranking. */
typedef struct {
    uint8_t digest[OB_GW_DIGEST_LEN]; /* ob_mkt_event_digest */
    uint64_t second;                  /* its second */
    size_t index;                     /* its place in the page */
    uint32_t rank;                    /* computed */
    int mapped;                       /* 0: no mapping, skipped */
} s_ranked_t;

struct ob_poller {
    ob_poller_config_t config; /* copy of the caller's */
    uint64_t committed_s;      /* committed cursor */
    uint64_t read_end_s;       /* every second before it has been read completely */
    int reading;               /* 1: a read is in progress */
    uint64_t read_s;           /* second the read in progress starts at */
    uint32_t limit;            /* its limit */
    zhashx_t *seen;            /* id -> s_seen_t, owned */
    s_seen_t **flight;         /* unconfirmed or not yet compacted emits, by seq; borrowed */
    size_t flight_count;       /* entries in flight */
    size_t flight_cap;         /* allocated entries */
    uint64_t *pending;         /* projects announced by an unconfirmed emit */
    size_t pending_count;      /* entries in pending */
    size_t pending_cap;        /* allocated entries */
    uint64_t next_seq;         /* seq of the next emit */
    ob_poller_emit_t *emits;   /* the last step's emits */
    size_t emits_cap;          /* allocated entries */
    s_ranked_t *ranked;        /* scratch for ranking a page */
    size_t ranked_cap;         /* allocated entries */
};

static void
s_seen_destroy(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

ob_poller_t *
ob_poller_new(const ob_poller_config_t *config)
{
    if (config->page_size < 1 || config->page_size > OB_GW_PAGE_LIMIT_MAX ||
        config->overlap_s < OB_GW_OVERLAP_S_MIN || config->overlap_s > OB_GW_OVERLAP_S_MAX)
        return NULL;
    ob_poller_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->committed_s = config->cursor_s;
    self->read_end_s = config->cursor_s;
    self->next_seq = 1;
    if (!(self->seen = zhashx_new())) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->seen, s_seen_destroy);
    return self;
}

void
ob_poller_destroy(ob_poller_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_poller_t *self = *self_p;
    zhashx_destroy(&self->seen);
    free(self->flight);
    free(self->pending);
    free(self->emits);
    free(self->ranked);
    free(self);
    *self_p = NULL;
}

/* Grows the array at *array_p (of elem bytes, *cap_p entries) to hold need entries. */
static int
s_reserve(void **array_p, size_t *cap_p, size_t need, size_t elem)
{
    if (need <= *cap_p)
        return 0;
    size_t cap = *cap_p ? *cap_p : 16;
    while (cap < need)
        cap *= 2;
    void *array = realloc(*array_p, cap * elem);
    if (!array)
        return -ENOMEM;
    *array_p = array;
    *cap_p = cap;
    return 0;
}

/* Writes the read of the second self->read_s with self->limit. */
static void
s_read(ob_poller_t *self, ob_poller_read_t *ret_read)
{
    /* from_timestamp must match ^20\d{2}-...: read from 2000-01-01T00:00:01 at the earliest
       (its from_timestamp is 2000-01-01T00:00:00.999999Z), and before 2100. */
    uint64_t s = self->read_s;
    if (s <= OB_GW_FEED_EPOCH_S)
        s = OB_GW_FEED_EPOCH_S + 1;
    if (s >= OB_GW_FEED_END_S)
        s = OB_GW_FEED_END_S - 1;
    ob_time_format(s * S_US - 1, ret_read->from_timestamp); /* within range: cannot fail */
    ret_read->limit = self->limit;
}

/* Returns 1 if project is announced: persisted (known callback) or emitted and unconfirmed. */
static int
s_known(const ob_poller_t *self, uint64_t project_id)
{
    for (size_t i = 0; i < self->pending_count; i++)
        if (self->pending[i] == project_id)
            return 1;
    return self->config.known && self->config.known(self->config.known_arg, project_id);
}

void
ob_poller_abort(ob_poller_t *self)
{
    /* Forget every unconfirmed emit (the next pass emits it again), and what was read since
       the cursor: the cursor must not pass an event that is now emitted by nobody. */
    for (size_t i = 0; i < self->flight_count; i++)
        if (!self->flight[i]->confirmed)
            zhashx_delete(self->seen, self->flight[i]->id);
    self->flight_count = 0;
    self->pending_count = 0;
    self->read_end_s = self->committed_s;
    self->reading = 0;
}

void
ob_poller_start(ob_poller_t *self, ob_poller_read_t *ret_read)
{
    if (self->reading)
        ob_poller_abort(self);
    uint64_t window = self->config.overlap_s;
    self->read_s = self->committed_s > window ? self->committed_s - window : 0;
    self->limit = self->config.page_size;
    self->reading = 1;
    s_read(self, ret_read);
}

/* Orders by second, then digest, then place in the page. */
static int
s_rank_cmp(const void *a, const void *b)
{
    const s_ranked_t *x = a, *y = b;
    if (x->second != y->second)
        return x->second < y->second ? -1 : 1;
    int c = memcmp(x->digest, y->digest, OB_GW_DIGEST_LEN);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Computes digests and ranks of the first count events of page into self->ranked, indexed
   by place in the page. */
static int
s_rank(ob_poller_t *self, const ob_mkt_page_t *page, size_t count)
{
    if (count == 0)
        return 0; /* and self->ranked may be NULL, which qsort must not get */
    if (s_reserve((void **)&self->ranked, &self->ranked_cap, count, sizeof *self->ranked))
        return -ENOMEM;
    s_ranked_t *r = self->ranked;
    for (size_t i = 0; i < count; i++) {
        r[i] = (s_ranked_t){.second = page->events[i].time_us / S_US, .index = i};
        r[i].mapped = ob_mkt_event_digest(self->config.oms_id, &page->events[i], r[i].digest) == 0;
    }
    qsort(r, count, sizeof *r, s_rank_cmp);
    for (size_t i = 0; i < count; i++) {
        int same = i > 0 && r[i].second == r[i - 1].second &&
                   !memcmp(r[i].digest, r[i - 1].digest, OB_GW_DIGEST_LEN);
        r[i].rank = same ? r[i - 1].rank + 1 : 0;
    }
    /* Back to page order: index is a permutation of 0..count-1. */
    for (size_t i = 0; i < count; i++) {
        while (r[i].index != i) {
            s_ranked_t tmp = r[r[i].index];
            r[r[i].index] = r[i];
            r[i] = tmp;
        }
    }
    return 0;
}

/* Records an emit of ev with id and rank in the step's array and the seen set. */
static int
s_emit(ob_poller_t *self, size_t *count, const ob_mkt_event_t *ev, uint32_t rank, const char *id,
       int synthetic)
{
    s_seen_t *seen = calloc(1, sizeof *seen);
    if (!seen || s_reserve((void **)&self->flight, &self->flight_cap, self->flight_count + 1,
                           sizeof *self->flight)) {
        free(seen);
        return -ENOMEM;
    }
    int is_project = ev->kind == OB_MKT_KIND_PROJECT && ev->action == OB_MKT_ACTION_CREATE;
    if (is_project && s_reserve((void **)&self->pending, &self->pending_cap,
                                self->pending_count + 1, sizeof *self->pending)) {
        free(seen);
        return -ENOMEM;
    }
    memcpy(seen->id, id, OB_GW_EVENT_ID_TEXT);
    seen->second = ev->time_us / S_US;
    seen->seq = self->next_seq++;
    seen->project_id = is_project ? ev->project_id : 0;
    if (zhashx_insert(self->seen, seen->id, seen) != 0) {
        free(seen); /* cannot happen: the caller looked the id up */
        return OB_ERR_INVALID_ARGUMENT;
    }
    self->flight[self->flight_count++] = seen;
    if (is_project)
        self->pending[self->pending_count++] = ev->project_id;
    self->emits[(*count)++] =
        (ob_poller_emit_t){.seq = seen->seq, .event = *ev, .rank = rank, .synthetic = synthetic};
    memcpy(self->emits[*count - 1].id, id, OB_GW_EVENT_ID_TEXT);
    return 0;
}

/* Emits the first count events of page (complete seconds) into *step. */
static int
s_emit_complete(ob_poller_t *self, const ob_mkt_page_t *page, size_t count, ob_poller_step_t *step)
{
    /* At most two emits per event: a synthetic project.created and the event. */
    if (s_reserve((void **)&self->emits, &self->emits_cap, 2 * count + 1, sizeof *self->emits) ||
        s_rank(self, page, count))
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const ob_mkt_event_t *ev = &page->events[i];
        char id[OB_GW_EVENT_ID_TEXT];
        if (!self->ranked[i].mapped) {
            step->skipped++;
            continue;
        }
        ob_mkt_event_id(self->ranked[i].digest, self->ranked[i].rank, id);
        if (zhashx_lookup(self->seen, id)) {
            step->repeated++;
            continue;
        }
        int create = ev->action == OB_MKT_ACTION_CREATE;
        if (create && ev->kind == OB_MKT_KIND_PROJECT && s_known(self, ev->project_id)) {
            step->repeated++; /* announced already, by a synthetic one: same id */
            continue;
        }
        if (create && ev->kind == OB_MKT_KIND_PROJECT_ITEM && !s_known(self, ev->project_id)) {
            ob_mkt_event_t project;
            uint8_t digest[OB_GW_DIGEST_LEN];
            char project_id[OB_GW_EVENT_ID_TEXT];
            int rc = ob_mkt_event_project_of(ev, &project);
            if (rc == 0)
                rc = ob_mkt_event_digest(self->config.oms_id, &project, digest);
            if (rc)
                return rc; /* cannot happen: the parser requires an item's project */
            ob_mkt_event_id(digest, 0, project_id);
            if (!zhashx_lookup(self->seen, project_id) &&
                (rc = s_emit(self, &n, &project, 0, project_id, 1)) != 0)
                return rc;
        }
        int rc = s_emit(self, &n, ev, self->ranked[i].rank, id, 0);
        if (rc)
            return rc;
    }
    step->emits = self->emits;
    step->count = n;
    return 0;
}

int
ob_poller_page(ob_poller_t *self, const ob_mkt_page_t *page, ob_poller_step_t *ret_step,
               ob_poller_read_t *ret_read)
{
    if (!self->reading)
        return OB_ERR_INVALID_ARGUMENT;
    size_t n = page->count;
    uint64_t prev = self->read_s;
    if (n > self->limit) {
        self->reading = 0;
        return OB_ERR_MALFORMED;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t s = page->events[i].time_us / S_US;
        if (s < prev) {
            self->reading = 0;
            return OB_ERR_MALFORMED;
        }
        prev = s;
    }
    ob_poller_step_t step = {0};
    uint64_t first_s = n ? page->events[0].time_us / S_US : self->read_s;
    uint64_t last_s = prev;
    if (n == self->limit && first_s == last_s) {
        /* A page full of one second: none of it is complete. Read it again, whole. */
        if (self->limit >= OB_GW_PAGE_LIMIT_MAX) {
            self->reading = 0;
            return OB_ERR_LIMIT;
        }
        self->limit =
            self->limit > OB_GW_PAGE_LIMIT_MAX / 2 ? OB_GW_PAGE_LIMIT_MAX : 2 * self->limit;
        self->read_s = first_s;
        step.more = 1;
        s_read(self, ret_read);
        *ret_step = step;
        return 0;
    }
    size_t complete = n;
    if (n == self->limit)
        while (complete > 0 && page->events[complete - 1].time_us / S_US == last_s)
            complete--;
    int rc = s_emit_complete(self, page, complete, &step);
    if (rc) {
        ob_poller_abort(self);
        return rc;
    }
    if (n < self->limit) {
        uint64_t end = n ? last_s + 1 : self->read_s;
        self->read_end_s = end > self->read_end_s ? end : self->read_end_s;
        self->reading = 0;
    } else {
        self->read_end_s = last_s > self->read_end_s ? last_s : self->read_end_s;
        self->read_s = last_s;
        self->limit = self->config.page_size;
        step.more = 1;
        s_read(self, ret_read);
    }
    *ret_step = step;
    return 0;
}

/* Index in flight of seq, or flight_count. */
static size_t
s_flight_find(const ob_poller_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->flight_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->flight[mid]->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->flight_count && self->flight[lo]->seq == seq ? lo : self->flight_count;
}

int
ob_poller_confirmed(ob_poller_t *self, uint64_t seq, uint64_t *ret_project_id)
{
    size_t i = s_flight_find(self, seq);
    if (i == self->flight_count || self->flight[i]->confirmed)
        return OB_ERR_INVALID_ARGUMENT;
    s_seen_t *seen = self->flight[i];
    seen->confirmed = 1;
    if (seen->project_id) {
        for (size_t j = 0; j < self->pending_count; j++) {
            if (self->pending[j] == seen->project_id) {
                self->pending[j] = self->pending[--self->pending_count];
                break;
            }
        }
    }
    /* Drop the confirmed prefix, so that flight holds little more than the unconfirmed. */
    size_t done = 0;
    while (done < self->flight_count && self->flight[done]->confirmed)
        done++;
    memmove(self->flight, self->flight + done, (self->flight_count - done) * sizeof *self->flight);
    self->flight_count -= done;
    *ret_project_id = seen->project_id;
    return 0;
}

size_t
ob_poller_pending(const ob_poller_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->flight_count; i++)
        n += !self->flight[i]->confirmed;
    return n;
}

uint64_t
ob_poller_commit(ob_poller_t *self)
{
    uint64_t point = self->read_end_s;
    for (size_t i = 0; i < self->flight_count; i++)
        if (!self->flight[i]->confirmed && self->flight[i]->second < point)
            point = self->flight[i]->second;
    if (point <= self->committed_s)
        return self->committed_s;
    self->committed_s = point;
    /* Forget the confirmed emits no pass will read again: before the window, and before the
       pass in progress, which may have started from an older cursor. Unconfirmed ones are
       never older than the cursor. */
    uint64_t window = self->config.overlap_s;
    uint64_t oldest = point > window ? point - window : 0;
    if (self->reading && self->read_s < oldest)
        oldest = self->read_s;
    zlistx_t *old = zlistx_new();
    if (!old)
        return point; /* pruning is only an economy: try again at the next commit */
    for (s_seen_t *seen = zhashx_first(self->seen); seen; seen = zhashx_next(self->seen))
        if (seen->confirmed && seen->second < oldest)
            zlistx_add_end(old, seen->id);
    /* Compact flight first: it may point at confirmed entries about to be freed. */
    size_t keep = 0;
    for (size_t i = 0; i < self->flight_count; i++)
        if (!self->flight[i]->confirmed)
            self->flight[keep++] = self->flight[i];
    self->flight_count = keep;
    for (const char *id = zlistx_first(old); id; id = zlistx_next(old))
        zhashx_delete(self->seen, id);
    zlistx_destroy(&old);
    return point;
}
