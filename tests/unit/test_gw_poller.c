/*  test_gw_poller: the feed cursor (gateway/poller.h) against a scripted Marketplace feed
    that keeps the feed's rules (4.3, 6.4): microsecond created_at filtered strictly after
    from_timestamp, shown to the second, ordered without a tie-breaker (exact ties come back in
    a random order on each read), limit, late commits, and projects hidden by the scope rule.
    Every page goes through the real parser (mp_parse) as JSON text; every emit is "published"
    to a bus that keeps the first event of each id, as the broker's idempotent publish does.
    Checked: every feed event reaches the bus exactly once and in feed order, for page sizes
    1, 2 and 20, 100 events in one second, a late commit inside the overlap window, re-reads
    and restarts (same ids), identical events, hidden projects, the limit cap, commits waiting
    for confirmations, aborted passes and broken pages. */
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
#include "mp_event.h"
#include "mp_parse.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"
#include "poller.h"

#define T_BASE 1795947000ull /* 2026-11-29T10:10:00Z, in seconds */
#define T_US 1000000ull
#define T_FEED_MAX 12000 /* events in a scripted feed */
#define T_BUS_MAX 24000  /* events on the test bus */
#define T_OMS 7

/* --- the scripted feed ------------------------------------------------------------------- */

typedef struct {
    uint64_t created_us;    /* created_at, microseconds */
    ob_mkt_action_t action; /* create or update */
    ob_mkt_kind_t kind;     /* resource */
    uint64_t project_id;    /* ids */
    uint64_t item;          /* iid */
    uint64_t message;       /* message id: unique per test event, the test's marker */
    const char *status;     /* update of an item: status.type after, or NULL */
    int visible;            /* 0: not committed yet, or hidden by the scope rule */
} t_ev_t;

typedef struct {
    t_ev_t ev[T_FEED_MAX]; /* in insertion order */
    size_t count;          /* events */
    size_t reads;          /* GETs served */
    unsigned seed;         /* rand_r state: order of exact ties */
} t_feed_t;

static t_feed_t *s_feed;

static size_t
s_add(uint64_t us, ob_mkt_action_t action, ob_mkt_kind_t kind, uint64_t project, uint64_t item,
      uint64_t message, const char *status)
{
    assert_true(s_feed->count < T_FEED_MAX);
    s_feed->ev[s_feed->count] = (t_ev_t){us, action, kind, project, item, message, status, 1};
    return s_feed->count++;
}

/* A message event: the marker is its message id. */
static size_t
s_msg(uint64_t us, uint64_t message)
{
    return s_add(us, OB_MKT_ACTION_CREATE, OB_MKT_KIND_MESSAGE, 1, 0, message, NULL);
}

static int
s_cmp_created(const void *a, const void *b)
{
    const t_ev_t *x = *(const t_ev_t *const *)a, *y = *(const t_ev_t *const *)b;
    return x->created_us < y->created_us ? -1 : x->created_us > y->created_us;
}

/* Serves GET events?from_timestamp=from&limit=limit as JSON text (new, the caller frees). */
static char *
s_serve(const ob_poller_read_t *read)
{
    uint64_t from = 0;
    /* The Marketplace's regex: ^20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$ */
    assert_int_equal(strlen(read->from_timestamp), 27);
    assert_memory_equal(read->from_timestamp, "20", 2);
    assert_int_equal(ob_time_parse(read->from_timestamp, &from), 0);
    assert_true(read->limit >= 1);
    s_feed->reads++;
    static const t_ev_t *sel[T_FEED_MAX];
    size_t n = 0;
    for (size_t i = 0; i < s_feed->count; i++)
        if (s_feed->ev[i].visible && s_feed->ev[i].created_us > from)
            sel[n++] = &s_feed->ev[i];
    qsort(sel, n, sizeof *sel, s_cmp_created);
    /* No tie-breaker: shuffle each run of equal created_at. */
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && sel[j]->created_us == sel[i]->created_us)
            j++;
        for (size_t k = j - 1; k > i; k--) {
            size_t r = i + (size_t)rand_r(&s_feed->seed) % (k - i + 1);
            const t_ev_t *tmp = sel[k];
            sel[k] = sel[r];
            sel[r] = tmp;
        }
        i = j;
    }
    if (n > read->limit)
        n = read->limit;
    size_t cap = 64 + n * 320;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = (size_t)snprintf(text, cap, "{\"events\": [");
    for (size_t i = 0; i < n; i++) {
        const t_ev_t *e = sel[i];
        char ts[OB_TIME_TEXT_MAX];
        assert_int_equal(ob_time_format(e->created_us, ts), 0);
        strcpy(ts + 19, "Z"); /* shown to the second */
        len += (size_t)snprintf(
            text + len, cap - len,
            "%s{\"timestamp\": \"%s\", \"type\": \"%s\", \"resource\": \"%s\", \"project_id\": "
            "%llu",
            i ? ", " : "", ts, ob_mkt_action_name(e->action), ob_mkt_kind_name(e->kind),
            (unsigned long long)e->project_id);
        if (e->item)
            len += (size_t)snprintf(text + len, cap - len, ", \"project_item_id\": %llu",
                                    (unsigned long long)e->item);
        if (e->kind == OB_MKT_KIND_MESSAGE)
            len += (size_t)snprintf(text + len, cap - len, ", \"message_id\": %llu",
                                    (unsigned long long)e->message);
        if (e->status)
            len += (size_t)snprintf(text + len, cap - len,
                                    ", \"changes\": [{\"field\": \"status.type\", \"before\": "
                                    "\"created\", \"after\": \"%s\"}]",
                                    e->status);
        len += (size_t)snprintf(text + len, cap - len, "}");
    }
    snprintf(text + len, cap - len, "]}");
    return text;
}

/* --- the bus and the daemon's loop ----------------------------------------------------------- */

typedef struct {
    char id[OB_GW_EVENT_ID_TEXT]; /* dedup key */
    ob_mkt_event_t ev;            /* what was published (changes not kept) */
    int synthetic;                /* a synthetic project.created */
} t_bus_ev_t;

typedef struct {
    t_bus_ev_t ev[T_BUS_MAX];        /* in publish order, first of each id */
    size_t count;                    /* events stored */
    size_t duplicates;               /* publishes absorbed */
    size_t emits;                    /* emits received from the poller (all passes) */
    uint64_t projects[64];           /* announced projects, persisted on confirmation */
    size_t project_count;            /* entries */
    uint64_t unconfirmed[T_BUS_MAX]; /* seqs held back when confirming is off */
    size_t unconfirmed_count;        /* entries */
    int hold;                        /* 1: do not confirm */
} t_bus_t;

static t_bus_t *s_bus;

static int
s_known(void *arg, uint64_t project_id)
{
    t_bus_t *bus = arg;
    for (size_t i = 0; i < bus->project_count; i++)
        if (bus->projects[i] == project_id)
            return 1;
    return 0;
}

static void
s_confirm(ob_poller_t *p, uint64_t seq)
{
    uint64_t project = 99;
    assert_int_equal(ob_poller_confirmed(p, seq, &project), 0);
    if (project) {
        assert_true(s_bus->project_count < 64);
        s_bus->projects[s_bus->project_count++] = project;
    }
}

/* Publishes an emit: checks its id against mp_event, keeps the first of each id. */
static void
s_publish(ob_poller_t *p, const ob_poller_emit_t *e)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char id[OB_GW_EVENT_ID_TEXT];
    assert_int_equal(ob_mkt_event_build(T_OMS, &e->event, e->rank, NULL, &buf, &len, id), 0);
    free(buf);
    assert_string_equal(id, e->id);
    s_bus->emits++;
    int dup = 0;
    for (size_t i = 0; i < s_bus->count && !dup; i++)
        dup = !strcmp(s_bus->ev[i].id, id);
    if (dup) {
        s_bus->duplicates++;
    } else {
        assert_true(s_bus->count < T_BUS_MAX);
        t_bus_ev_t *b = &s_bus->ev[s_bus->count++];
        memcpy(b->id, id, sizeof id);
        b->ev = e->event;
        b->ev.changes = NULL;
        b->synthetic = e->synthetic;
    }
    if (s_bus->hold)
        s_bus->unconfirmed[s_bus->unconfirmed_count++] = e->seq;
    else
        s_confirm(p, e->seq);
}

/* Runs one pass to its end, calling after_page (if not NULL) after each page with its
   number; returns the code of the last ob_poller_page. */
static int
s_pass_with(ob_poller_t *p, void (*after_page)(ob_poller_t *p, int page))
{
    ob_poller_read_t read;
    ob_poller_start(p, &read);
    for (int pages = 0; pages < 100000; pages++) {
        /* Only the poller's own allocations may fail (test_out_of_memory). */
        t_alloc_pause(1);
        char *text = s_serve(&read);
        ob_mkt_page_t *page = NULL;
        assert_int_equal(ob_mkt_page_parse(text, strlen(text), &page), 0);
        free(text);
        t_alloc_pause(0);
        ob_poller_step_t step;
        int rc = ob_poller_page(p, page, &step, &read);
        t_alloc_pause(1);
        if (rc) {
            ob_mkt_page_destroy(&page);
            t_alloc_pause(0);
            return rc;
        }
        for (size_t i = 0; i < step.count; i++)
            s_publish(p, &step.emits[i]);
        ob_mkt_page_destroy(&page);
        t_alloc_pause(0);
        if (after_page)
            after_page(p, pages);
        if (!step.more)
            return 0;
    }
    fail_msg("the pass does not end");
    return -1;
}

static int
s_pass(ob_poller_t *p)
{
    return s_pass_with(p, NULL);
}

static ob_poller_t *
s_poller(uint32_t page_size, uint32_t overlap_s, uint64_t cursor_s)
{
    ob_poller_config_t config = {.oms_id = T_OMS,
                                 .page_size = page_size,
                                 .overlap_s = overlap_s,
                                 .cursor_s = cursor_s,
                                 .known = s_known,
                                 .known_arg = s_bus};
    ob_poller_t *p = ob_poller_new(&config);
    assert_non_null(p);
    return p;
}

/* Checks that the bus holds exactly the visible feed events (message markers, or
   the given project creates) once each, in created_at order. */
static void
s_check_bus_messages(void)
{
    static const t_ev_t *sel[T_FEED_MAX];
    size_t n = 0;
    for (size_t i = 0; i < s_feed->count; i++)
        if (s_feed->ev[i].visible)
            sel[n++] = &s_feed->ev[i];
    qsort(sel, n, sizeof *sel, s_cmp_created);
    assert_int_equal(s_bus->count, n);
    for (size_t i = 0; i < n; i++) {
        /* Exact ties may come in any order: compare the set of each tie. */
        const t_bus_ev_t *b = &s_bus->ev[i];
        assert_int_equal(b->ev.time_us / T_US, sel[i]->created_us / T_US);
        size_t j = i;
        while (j > 0 && sel[j - 1]->created_us == sel[i]->created_us)
            j--;
        int found = 0;
        for (; j < n && sel[j]->created_us == sel[i]->created_us && !found; j++)
            found = sel[j]->message == b->ev.message_id && sel[j]->kind == b->ev.kind;
        if (!found)
            fail_msg("bus event %zu (message %llu) out of order", i,
                     (unsigned long long)b->ev.message_id);
    }
    for (size_t i = 0; i < s_bus->count; i++)
        for (size_t k = i + 1; k < s_bus->count; k++)
            if (s_bus->ev[i].ev.kind == OB_MKT_KIND_MESSAGE)
                assert_true(s_bus->ev[i].ev.message_id != s_bus->ev[k].ev.message_id);
}

static int
s_setup(void **state)
{
    (void)state;
    s_feed = calloc(1, sizeof *s_feed);
    s_bus = calloc(1, sizeof *s_bus);
    s_feed->seed = 12345;
    return s_feed && s_bus ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    free(s_feed);
    free(s_bus);
    return 0;
}

/* --- tests ------------------------------------------------------------------------------- */

/* A feed of 60 events over 30 seconds, a second of 100 events, and events sharing one
   microsecond; drained with each page size, and each event once on the bus, in order. */
static void
s_mixed_feed(void)
{
    uint64_t m = 1;
    for (uint64_t s = 0; s < 30; s++) {
        s_msg((T_BASE + s) * T_US + 10, m++);
        if (s % 3 == 0)
            s_msg((T_BASE + s) * T_US + 500000, m++);
    }
    for (uint64_t i = 0; i < 100; i++)
        s_msg((T_BASE + 40) * T_US + 1000 * i, m++);
    for (uint64_t i = 0; i < 5; i++)
        s_msg((T_BASE + 41) * T_US + 7, m++); /* one microsecond: unstable order */
    s_msg((T_BASE + 45) * T_US, m++);
}

static void
test_page_sizes(void **state)
{
    static const uint32_t sizes[] = {1, 2, 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        s_teardown(state);
        s_setup(state);
        s_mixed_feed();
        ob_poller_t *p = s_poller(sizes[k], 5, T_BASE);
        assert_int_equal(s_pass(p), 0);
        s_check_bus_messages();
        assert_int_equal(s_bus->duplicates, 0);
        assert_int_equal(s_bus->emits, s_bus->count);
        assert_int_equal(ob_poller_commit(p), T_BASE + 46);
        assert_int_equal(ob_poller_pending(p), 0);
        /* A second pass re-reads the window: nothing new is emitted. */
        size_t emits = s_bus->emits;
        assert_int_equal(s_pass(p), 0);
        assert_int_equal(s_bus->emits, emits);
        ob_poller_destroy(&p);
        assert_null(p);
    }
    ob_poller_destroy(NULL);
}

static void
test_dense_second(void **state)
{
    static const uint32_t sizes[] = {1, 2, 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        s_teardown(state);
        s_setup(state);
        for (uint64_t i = 0; i < 100; i++)
            s_msg((T_BASE + 3) * T_US + 7 * i, i + 1);
        ob_poller_t *p = s_poller(sizes[k], 5, T_BASE);
        assert_int_equal(s_pass(p), 0);
        s_check_bus_messages();
        assert_int_equal(s_bus->duplicates, 0);
        assert_int_equal(ob_poller_commit(p), T_BASE + 4);
        /* The limit grows by doubling: about log2(100 / size) + 1 reads, not 100. */
        assert_true(s_feed->reads <= 9);
        ob_poller_destroy(&p);
    }
}

/* An event committed late, with a timestamp behind the cursor but inside the window. */
static void
test_late_commit(void **state)
{
    (void)state;
    for (uint64_t s = 0; s < 10; s++)
        s_msg((T_BASE + s) * T_US + 100, s + 1);
    size_t late = s_msg((T_BASE + 7) * T_US + 50, 100);
    s_feed->ev[late].visible = 0;
    ob_poller_t *p = s_poller(2, 5, T_BASE);
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, 10);
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
    s_feed->ev[late].visible = 1; /* its transaction commits now */
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, 11);
    assert_int_equal(s_bus->emits, 11);
    assert_int_equal(s_bus->ev[10].ev.message_id, 100);
    assert_int_equal(s_bus->ev[10].ev.time_us, (T_BASE + 7) * T_US);
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
    /* Behind the window it is lost to any reader of this feed: the window is the bound. */
    ob_poller_destroy(&p);
}

/* A restart re-reads the window: the same ids, absorbed by the bus. */
static void
test_restart_same_ids(void **state)
{
    (void)state;
    uint64_t m = 1;
    for (uint64_t s = 0; s < 20; s++)
        for (uint64_t i = 0; i < 3; i++)
            s_msg((T_BASE + s) * T_US + i, m++);
    ob_poller_t *p = s_poller(4, 10, T_BASE);
    assert_int_equal(s_pass(p), 0);
    uint64_t cursor = ob_poller_commit(p);
    assert_int_equal(cursor, T_BASE + 20);
    ob_poller_destroy(&p);
    size_t count = s_bus->count;
    p = s_poller(4, 10, cursor);
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, count);
    assert_int_equal(s_bus->duplicates, 30); /* the 10 seconds of the window, 3 each */
    s_check_bus_messages();
    ob_poller_destroy(&p);
}

/* Identical events in one second (the same change twice) get ranks 0 and 1: two events,
   and the same two ids on every re-read, whatever order the feed gives them in. */
static void
test_identical_events(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        s_add((T_BASE + 1) * T_US + 100 * (uint64_t)i, OB_MKT_ACTION_UPDATE,
              OB_MKT_KIND_PROJECT_ITEM, 4, 2, 0, "ready");
    s_add((T_BASE + 1) * T_US + 400, OB_MKT_ACTION_UPDATE, OB_MKT_KIND_PROJECT, 4, 0, 0, NULL);
    s_bus->projects[s_bus->project_count++] = 4;
    ob_poller_t *p = s_poller(20, 5, T_BASE);
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, 3); /* the update of a project has no mapping */
    char ids[3][OB_GW_EVENT_ID_TEXT];
    for (int i = 0; i < 3; i++)
        memcpy(ids[i], s_bus->ev[i].id, OB_GW_EVENT_ID_TEXT);
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[1], ids[2]);
    ob_poller_destroy(&p);
    for (int round = 0; round < 3; round++) {
        p = s_poller(round + 1, 5, T_BASE);
        assert_int_equal(s_pass(p), 0);
        assert_int_equal(s_bus->count, 3);
        ob_poller_destroy(&p);
    }
    assert_int_equal(s_bus->duplicates, 9);
}

/* 6.4 point 4: the project's create is hidden until it has an item for this OMS, and then
   lies behind the cursor. A synthetic project.created precedes the first item, once. */
static void
test_hidden_project(void **state)
{
    (void)state;
    size_t project =
        s_add((T_BASE + 1) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT, 9, 0, 0, NULL);
    s_feed->ev[project].visible = 0;
    s_msg((T_BASE + 30) * T_US, 1);
    ob_poller_t *p = s_poller(2, 5, T_BASE);
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(ob_poller_commit(p), T_BASE + 31);
    s_add((T_BASE + 40) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 9, 1, 0, NULL);
    s_add((T_BASE + 40) * T_US + 5, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 9, 2, 0, NULL);
    s_add((T_BASE + 41) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 8, 1, 0, NULL);
    s_add((T_BASE + 41) * T_US + 1, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT, 8, 0, 0, NULL);
    s_feed->ev[project].visible = 1; /* now in scope, behind the cursor */
    assert_int_equal(s_pass(p), 0);
    /* message 1; project 9 (synthetic), items 9/1 and 9/2; project 8 (synthetic, its own
       create follows it in the same second and is skipped), item 8/1. */
    assert_int_equal(s_bus->count, 6);
    assert_int_equal(s_bus->ev[1].ev.kind, OB_MKT_KIND_PROJECT);
    assert_int_equal(s_bus->ev[1].ev.project_id, 9);
    assert_int_equal(s_bus->ev[1].ev.time_us, (T_BASE + 40) * T_US);
    assert_true(s_bus->ev[1].synthetic);
    assert_int_equal(s_bus->ev[2].ev.project_item_id, 1);
    assert_int_equal(s_bus->ev[3].ev.project_item_id, 2);
    assert_int_equal(s_bus->ev[4].ev.project_id, 8);
    assert_true(s_bus->ev[4].synthetic);
    assert_int_equal(s_bus->ev[5].ev.kind, OB_MKT_KIND_PROJECT_ITEM);
    assert_int_equal(s_bus->project_count, 2);
    assert_int_equal(s_bus->duplicates, 0);
    /* A pass whose window reaches the real create of 9: not emitted again. */
    uint64_t cursor = ob_poller_commit(p);
    ob_poller_destroy(&p);
    p = s_poller(2, (uint32_t)(cursor - T_BASE), cursor);
    size_t emits = s_bus->emits;
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, 6);
    /* Only message 1 again: the items' projects are known, their creates skipped, and the
       items' re-publishes are duplicates. */
    assert_int_equal(s_bus->emits - emits, 4);
    assert_int_equal(s_bus->duplicates, 4);
    ob_poller_destroy(&p);
}

/* A project announced by an unconfirmed emit: no second synthetic; abandoned: emitted again. */
static void
test_hidden_project_abort(void **state)
{
    (void)state;
    s_add((T_BASE + 1) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 9, 1, 0, NULL);
    s_add((T_BASE + 2) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 9, 2, 0, NULL);
    ob_poller_t *p = s_poller(20, 5, T_BASE);
    s_bus->hold = 1;
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->count, 3); /* one synthetic for two items */
    assert_int_equal(ob_poller_pending(p), 3);
    assert_int_equal(ob_poller_commit(p), T_BASE + 1); /* held by the oldest unconfirmed */
    ob_poller_abort(p);
    uint64_t project = 0;
    assert_int_equal(ob_poller_confirmed(p, s_bus->unconfirmed[0], &project),
                     OB_ERR_INVALID_ARGUMENT);
    s_bus->hold = 0;
    s_bus->unconfirmed_count = 0;
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->emits, 6);
    assert_int_equal(s_bus->duplicates, 3);
    assert_int_equal(s_bus->project_count, 1);
    assert_int_equal(ob_poller_commit(p), T_BASE + 3);
    ob_poller_destroy(&p);
}

/* A feed of one message in each of 10 seconds, read by a pass whose emits are not
   confirmed yet: the cursor stays. */
static ob_poller_t *
s_held_pass(uint32_t page_size, uint32_t overlap_s)
{
    for (uint64_t s = 0; s < 10; s++)
        s_msg((T_BASE + s) * T_US, s + 1);
    ob_poller_t *p = s_poller(page_size, overlap_s, T_BASE);
    s_bus->hold = 1;
    assert_int_equal(s_pass(p), 0);
    assert_int_equal(s_bus->unconfirmed_count, 10);
    assert_int_equal(ob_poller_commit(p), T_BASE);
    return p;
}

/* The cursor waits for the oldest unconfirmed emit, and never goes back. */
static void
test_commit_waits(void **state)
{
    (void)state;
    ob_poller_t *p = s_held_pass(3, 2);
    uint64_t project = 1;
    /* Confirm out of order: 1, 2 and 4..10; 3 (second T_BASE + 2) holds the cursor. */
    for (size_t i = 0; i < 10; i++)
        if (i != 2)
            s_confirm(p, s_bus->unconfirmed[i]);
    assert_int_equal(ob_poller_confirmed(p, s_bus->unconfirmed[0], &project),
                     OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_poller_confirmed(p, 999999, &project), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(project, 1);
    assert_int_equal(ob_poller_pending(p), 1);
    assert_int_equal(ob_poller_commit(p), T_BASE + 2);
    s_confirm(p, s_bus->unconfirmed[2]);
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
    ob_poller_abort(p); /* nothing unconfirmed: the cursor stays */
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
    ob_poller_destroy(&p);
}

/* Confirmations of the previous pass arrive while a pass re-reads the window: the commit
   must not forget what the pass has still to read, or it would emit it again. */
static void
s_confirm_all_after_page_1(ob_poller_t *p, int page)
{
    if (page != 1)
        return;
    for (size_t i = 0; i < s_bus->unconfirmed_count; i++)
        s_confirm(p, s_bus->unconfirmed[i]);
    s_bus->unconfirmed_count = 0;
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
}

static void
test_commit_during_pass(void **state)
{
    (void)state;
    ob_poller_t *p = s_held_pass(2, 3);
    assert_int_equal(s_pass_with(p, s_confirm_all_after_page_1), 0);
    assert_int_equal(s_bus->emits, 10); /* none again */
    ob_poller_destroy(&p);
}

/* More events in one second than the largest limit: the pass ends with OB_ERR_LIMIT, nothing
   is skipped, and the cursor stays. */
static void
test_limit_cap(void **state)
{
    (void)state;
    s_msg((T_BASE + 1) * T_US, 1);
    for (uint64_t i = 0; i < OB_GW_PAGE_LIMIT_MAX + 1; i++)
        s_msg((T_BASE + 2) * T_US + i % 1000000, i + 2);
    ob_poller_t *p = s_poller(OB_GW_PAGE_LIMIT_MAX / 2, 5, T_BASE);
    assert_int_equal(s_pass(p), OB_ERR_LIMIT);
    assert_int_equal(s_bus->count, 1);
    assert_int_equal(ob_poller_commit(p), T_BASE + 2);
    assert_int_equal(s_pass(p), OB_ERR_LIMIT); /* again, at the next pass: no loop, no skip */
    assert_int_equal(s_bus->count, 1);
    ob_poller_step_t step;
    ob_poller_read_t read;
    ob_mkt_page_t empty = {0};
    assert_int_equal(ob_poller_page(p, &empty, &step, &read), OB_ERR_INVALID_ARGUMENT);
    ob_poller_destroy(&p);
}

/* Pages that break the feed's contract. */
static void
test_broken_pages(void **state)
{
    (void)state;
    ob_poller_t *p = s_poller(2, 5, T_BASE + 10);
    ob_poller_read_t read;
    ob_poller_step_t step;
    ob_mkt_event_t ev[3] = {
        {.time_us = (T_BASE + 9) * T_US,
         .action = OB_MKT_ACTION_CREATE,
         .kind = OB_MKT_KIND_MESSAGE,
         .message_id = 1},
        {.time_us = (T_BASE + 8) * T_US,
         .action = OB_MKT_ACTION_CREATE,
         .kind = OB_MKT_KIND_MESSAGE,
         .message_id = 2},
        {.time_us = (T_BASE + 9) * T_US,
         .action = OB_MKT_ACTION_CREATE,
         .kind = OB_MKT_KIND_MESSAGE,
         .message_id = 3},
    };
    ob_poller_start(p, &read);
    assert_string_equal(read.from_timestamp, "2026-11-29T10:10:04.999999Z");
    assert_int_equal(read.limit, 2);
    ob_mkt_page_t page = {ev, 3}; /* over the limit */
    assert_int_equal(ob_poller_page(p, &page, &step, &read), OB_ERR_MALFORMED);
    ob_poller_start(p, &read);
    page = (ob_mkt_page_t){ev, 2}; /* out of order */
    assert_int_equal(ob_poller_page(p, &page, &step, &read), OB_ERR_MALFORMED);
    ob_poller_start(p, &read);
    page = (ob_mkt_page_t){ev + 1, 1};
    ev[1].time_us = (T_BASE + 4) * T_US; /* before the read's second */
    assert_int_equal(ob_poller_page(p, &page, &step, &read), OB_ERR_MALFORMED);
    assert_int_equal(ob_poller_commit(p), T_BASE + 10);
    ob_poller_destroy(&p);

    /* The from_timestamp stays inside what the Marketplace's regex accepts. */
    p = s_poller(1, 5, 0);
    ob_poller_start(p, &read);
    assert_string_equal(read.from_timestamp, "2000-01-01T00:00:00.999999Z");
    ob_poller_destroy(&p);
}

/* A pass whose n-th allocation fails ends with -ENOMEM and abandons what it emitted; passes
   again until one completes; the bus then holds every event once, in order. */
static void
test_out_of_memory(void **state)
{
    (void)state;
    uint64_t m = 1;
    for (uint64_t s = 0; s < 12; s++)
        for (uint64_t i = 0; i <= s % 3; i++)
            s_msg((T_BASE + s) * T_US + i, m++);
    s_add((T_BASE + 13) * T_US, OB_MKT_ACTION_CREATE, OB_MKT_KIND_PROJECT_ITEM, 9, 1, 0, NULL);
    ob_poller_t *p = s_poller(4, 5, T_BASE);
    long n = 0;
    for (;; n++) {
        t_alloc_fail(n, T_OURS);
        int rc = s_pass(p);
        long reached = t_alloc_count() > n;
        t_alloc_fail(-1, T_OURS);
        if (!reached) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, -ENOMEM);
    }
    assert_true(n > 3);
    assert_int_equal(s_bus->count, m - 1 + 2); /* the messages, project 9 and its item */
    assert_int_equal(s_bus->ev[m - 1].ev.kind, OB_MKT_KIND_PROJECT);
    assert_int_equal(s_bus->ev[m].ev.kind, OB_MKT_KIND_PROJECT_ITEM);
    assert_int_equal(ob_poller_commit(p), T_BASE + 14);
    assert_int_equal(ob_poller_pending(p), 0);
    ob_poller_destroy(&p);
}

static void
test_config(void **state)
{
    (void)state;
    ob_poller_config_t config = {.oms_id = 1, .page_size = 0, .overlap_s = 5};
    assert_null(ob_poller_new(&config));
    config.page_size = OB_GW_PAGE_LIMIT_MAX + 1;
    assert_null(ob_poller_new(&config));
    config.page_size = OB_GW_PAGE_SIZE_DEFAULT;
    config.overlap_s = OB_GW_OVERLAP_S_MIN - 1;
    assert_null(ob_poller_new(&config));
    config.overlap_s = OB_GW_OVERLAP_S_MAX + 1;
    assert_null(ob_poller_new(&config));
    config.overlap_s = OB_GW_OVERLAP_S_DEFAULT;
    ob_poller_t *p = ob_poller_new(&config); /* no known callback: no project persisted */
    assert_non_null(p);
    ob_poller_destroy(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_sizes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dense_second, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_late_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_same_ids, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_identical_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hidden_project, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hidden_project_abort, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_waits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_commit_during_pass, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_limit_cap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broken_pages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, s_setup, s_teardown),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
