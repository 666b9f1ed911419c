/*  orderbus-monitor topics and top: what the broker stores, and a live view of it. */
#include <czmq.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "monitor.h"

const char ob_mon_help_topics[] =
    "NAME\n"
    "    orderbus-monitor topics - the topics the broker stores\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor topics [--interval MS] [--json]\n\n"
    "DESCRIPTION\n"
    "    Lists every topic with its stored events and retention. The rate is measured by\n"
    "    asking twice, MS apart (TOPICS, PROTOCOL.md 13): new events per second.\n\n"
    "OPTIONS\n"
    "    --interval MS  the rate's sample (default 1000); 0: no sample, rate shown as -\n\n"
    "OUTPUT COLUMNS\n"
    "    TOPIC      the topic's name\n"
    "    EVENTS     events stored now\n"
    "    FIRST      first stored sequence number (LAST + 1 when retention removed all)\n"
    "    LAST       last sequence number given\n"
    "    BYTES      bytes of the stored event frames\n"
    "    RATE       events published per second during the sample\n"
    "    REMOVED    events retention removed\n"
    "    RETENTION  the topic's limits: age, events (ev), bytes; none for no limit\n"
    "    --json: an array of {name, events, first_seq, last_seq, bytes, rate (null without\n"
    "    a sample), removed, max_age_ms, max_events, max_bytes} (0: no limit).\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor topics\n"
    "    orderbus-monitor topics --interval 0 --json | jq '.[].name'\n";

const char ob_mon_help_top[] =
    "NAME\n"
    "    orderbus-monitor top - a live view of rates and lag\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor top [--interval MS] [--iterations N]\n\n"
    "DESCRIPTION\n"
    "    Every MS (default 1000) redraws a screen of the busiest topics (publish rate)\n"
    "    and subscriptions (ack rate, lag), most active first, cut to the terminal's size\n"
    "    (80x24 when the output is not a terminal). On a terminal the screen is cleared\n"
    "    with plain ANSI codes; otherwise the screens follow each other. Ctrl-C quits.\n"
    "    The ack rate of a subscription is derived: events published to the topics it\n"
    "    matches, minus the growth of its lag, per second.\n\n"
    "OPTIONS\n"
    "    --interval MS    refresh period (default 1000)\n"
    "    --iterations N   draw N screens and exit (for scripts); default: until Ctrl-C\n\n"
    "OUTPUT COLUMNS\n"
    "    TOPIC, RATE, EVENTS, LAST     as in `topics`\n"
    "    SUB, ACKS, LAG, PENDING, CONS ack rate, lag in events, deliveries awaiting an\n"
    "                                  ack, connected consumers\n"
    "    --json: each screen as one JSON object per line {topics: [...], subs: [...]}.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor top\n"
    "    orderbus-monitor top --iterations 1\n";

/* Reads the rate sample option shared by topics and top. */
static int
s_options(ob_mon_t *m, int argc, char **argv, uint64_t *interval, uint64_t *iterations)
{
    static const struct option longopts[] = {OB_MON_COMMON_LONGOPTS,
                                             {"interval", required_argument, NULL, 'i'},
                                             {"iterations", required_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    int c;
    optind = 0; /* 0: GNU getopt starts afresh (main has parsed argv before) */
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        int rc;
        if (c == 'h') {
            ob_mon_help(m->out, argv[0]);
            return -1;
        }
        if (c == 'i') {
            if (ob_mon_parse_uint(optarg, 0, interval) || *interval > INT32_MAX ||
                (iterations && *interval == 0))
                return ob_mon_usage(m, argv[0], "--interval: milliseconds%s, not \"%s\"",
                                    iterations ? " >= 1" : " >= 0", optarg);
        } else if (c == 'n' && iterations) {
            if (ob_mon_parse_uint(optarg, 1, iterations))
                return ob_mon_usage(m, argv[0], "--iterations: a number >= 1, not \"%s\"", optarg);
        } else if ((rc = ob_mon_common_option(m, c, optarg)) >= 0) {
            if (rc)
                return rc;
        } else
            return ob_mon_usage(m, argv[0], "unknown option");
    }
    if (optind < argc)
        return ob_mon_usage(m, argv[0], "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* Returns the entry of list named name (key "name" or "sub"), or NULL. */
static json_t *
s_find(json_t *list, const char *key, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        const char *n = ob_mon_get_str(item, key, NULL);
        if (n && !strcmp(n, name))
            return item;
    }
    return NULL;
}

/* Sets "rate" on every topic of now: (last_seq - earlier's) per second over ms, or null. */
static void
s_topic_rates(json_t *now, json_t *before, uint64_t ms)
{
    size_t i;
    json_t *t;
    json_array_foreach(now, i, t)
    {
        json_t *rate = json_null();
        if (before && ms) {
            json_t *old = s_find(before, "name", ob_mon_get_str(t, "name", ""));
            uint64_t a = old ? ob_mon_get_uint(old, "last_seq", 0) : 0;
            uint64_t b = ob_mon_get_uint(t, "last_seq", 0);
            rate = json_real(b >= a ? (double)(b - a) * 1000.0 / (double)ms : 0.0);
        }
        json_object_set_new(t, "rate", rate);
    }
}

int
ob_mon_cmd_topics(ob_mon_t *m, int argc, char **argv)
{
    uint64_t interval = OB_MON_INTERVAL_MS_DEFAULT;
    int rc = s_options(m, argc, argv, &interval, NULL);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    if ((rc = ob_mon_connect(m)))
        return rc;
    json_t *first = NULL, *list = NULL;
    ob_mon_table_t *table = NULL;
    int err = ob_mon_list(m, OB_CMD_TOPICS, &list);
    if (err == 0 && interval) {
        first = list;
        list = NULL;
        uint64_t t0 = ob_mon_now_us();
        if (ob_mon_sleep((int)interval) == 0)
            err = ob_mon_list(m, OB_CMD_TOPICS, &list);
        else
            list = json_incref(first), interval = 0;
        interval = interval ? (ob_mon_now_us() - t0) / 1000 : 0;
    }
    if (err) {
        rc = ob_mon_fail(m, err, "topics");
        goto out;
    }
    s_topic_rates(list, first, interval);
    /* Keys in a stable, documented order for --json. */
    json_t *out_list = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        json_t *o = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:I, s:I}", "name",
            ob_mon_get_str(t, "name", ""), "events", (json_int_t)ob_mon_get_uint(t, "events", 0),
            "first_seq", (json_int_t)ob_mon_get_uint(t, "first_seq", 0), "last_seq",
            (json_int_t)ob_mon_get_uint(t, "last_seq", 0), "bytes",
            (json_int_t)ob_mon_get_uint(t, "bytes", 0), "rate", json_object_get(t, "rate"),
            "removed", (json_int_t)ob_mon_get_uint(t, "removed", 0), "max_age_ms",
            (json_int_t)ob_mon_get_uint(t, "max_age_ms", 0), "max_events",
            (json_int_t)ob_mon_get_uint(t, "max_events", 0), "max_bytes",
            (json_int_t)ob_mon_get_uint(t, "max_bytes", 0));
        if (o)
            json_array_append_new(out_list, o);
    }
    json_decref(list);
    list = out_list;
    if (m->json) {
        rc = ob_mon_print_json(m, list);
        goto out;
    }
    static const char *const headers[] = {"TOPIC", "EVENTS", "FIRST",   "LAST",
                                          "BYTES", "RATE",   "REMOVED", "RETENTION"};
    table = ob_mon_table_new(8, headers, "lrrrrrrl");
    if (!table) {
        rc = ob_mon_fail(m, -ENOMEM, "topics");
        goto out;
    }
    json_array_foreach(list, i, t)
    {
        char ev[OB_MON_TEXT_MAX], fs[OB_MON_TEXT_MAX], ls[OB_MON_TEXT_MAX], by[OB_MON_TEXT_MAX],
            ra[OB_MON_TEXT_MAX], rm[OB_MON_TEXT_MAX], re[OB_MON_TEXT_MAX];
        json_t *rate = json_object_get(t, "rate");
        const char *cells[] = {
            ob_mon_get_str(t, "name", ""),
            ob_mon_fmt_uint(ev, ob_mon_get_uint(t, "events", 0)),
            ob_mon_fmt_uint(fs, ob_mon_get_uint(t, "first_seq", 0)),
            ob_mon_fmt_uint(ls, ob_mon_get_uint(t, "last_seq", 0)),
            ob_mon_fmt_bytes(by, ob_mon_get_uint(t, "bytes", 0)),
            ob_mon_fmt_rate(ra, json_is_number(rate) ? json_number_value(rate) : -1.0),
            ob_mon_fmt_uint(rm, ob_mon_get_uint(t, "removed", 0)),
            ob_mon_fmt_retention(re, t)};
        ob_mon_table_add(table, cells);
    }
    ob_mon_table_print(table, m->out, 0, SIZE_MAX);
    rc = OB_MON_EXIT_OK;
out:
    ob_mon_table_destroy(&table);
    json_decref(first);
    json_decref(list);
    return rc;
}

/* --- top ---------------------------------------------------------------------------------- */

/* The terminal's size, or 80x24 when the output is not one. */
static void
s_screen(size_t *cols, size_t *rows)
{
    struct winsize ws;
    *cols = OB_MON_SCREEN_COLS_DEFAULT;
    *rows = OB_MON_SCREEN_ROWS_DEFAULT;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
        ws.ws_row > 0) {
        *cols = ws.ws_col;
        *rows = ws.ws_row;
    }
}

/* Orders by "activity" (a number) descending, then by "name". */
static int
s_by_activity(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    double ax = json_number_value(json_object_get(x, "activity"));
    double ay = json_number_value(json_object_get(y, "activity"));
    if (ax != ay)
        return ax > ay ? -1 : 1;
    return strcmp(ob_mon_get_str(x, "name", ""), ob_mon_get_str(y, "name", ""));
}

/* Returns list's entries sorted by activity (a new array of borrowed references). */
static json_t *
s_sorted(json_t *list)
{
    size_t n = json_array_size(list);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    json_t *sorted = json_array();
    if (!items || !sorted) {
        free(items);
        return sorted;
    }
    for (size_t i = 0; i < n; i++)
        items[i] = json_array_get(list, i);
    qsort(items, n, sizeof *items, s_by_activity);
    for (size_t i = 0; i < n; i++)
        json_array_append(sorted, items[i]);
    free(items);
    return sorted;
}

/* One screen from the topics and subs lists now and before (NULL at first), ms apart. */
static json_t *
s_top_screen(json_t *topics, json_t *subs, json_t *old_topics, json_t *old_subs, uint64_t ms)
{
    json_t *tl = json_array(), *sl = json_array();
    size_t i, j;
    json_t *t, *s;
    s_topic_rates(topics, old_topics, ms);
    json_array_foreach(topics, i, t)
    {
        json_t *rate = json_object_get(t, "rate");
        json_array_append_new(
            tl, json_pack("{s:s, s:O, s:I, s:I, s:f}", "name", ob_mon_get_str(t, "name", ""),
                          "rate", rate, "events", (json_int_t)ob_mon_get_uint(t, "events", 0),
                          "last_seq", (json_int_t)ob_mon_get_uint(t, "last_seq", 0), "activity",
                          json_is_number(rate) ? json_number_value(rate) : 0.0));
    }
    json_array_foreach(subs, i, s)
    {
        const char *name = ob_mon_get_str(s, "sub", "");
        uint64_t lag = ob_mon_get_uint(s, "lag", 0);
        json_t *acks = json_null();
        json_t *old = old_subs ? s_find(old_subs, "sub", name) : NULL;
        if (old && ms) {
            /* Acks = events that arrived on matched topics - growth of the lag. */
            double arrived = 0;
            json_t *pats = json_object_get(s, "patterns");
            json_array_foreach(topics, j, t)
            {
                const char *tn = ob_mon_get_str(t, "name", "");
                size_t k;
                json_t *p;
                int match = 0;
                json_array_foreach(pats, k, p)
                {
                    if (json_is_string(p) &&
                        ob_pattern_match(json_string_value(p), json_string_length(p), tn,
                                         strlen(tn)))
                        match = 1;
                }
                json_t *ot = match ? s_find(old_topics, "name", tn) : NULL;
                if (match) {
                    uint64_t a = ot ? ob_mon_get_uint(ot, "last_seq", 0) : 0;
                    uint64_t b = ob_mon_get_uint(t, "last_seq", 0);
                    arrived += b >= a ? (double)(b - a) : 0;
                }
            }
            double done = arrived - ((double)lag - (double)ob_mon_get_uint(old, "lag", 0));
            acks = json_real(done > 0 ? done * 1000.0 / (double)ms : 0.0);
        }
        json_array_append_new(
            sl, json_pack("{s:s, s:O, s:I, s:I, s:I, s:f}", "name", name, "acks", acks, "lag",
                          (json_int_t)lag, "pending", (json_int_t)ob_mon_get_uint(s, "pending", 0),
                          "consumers", (json_int_t)ob_mon_get_uint(s, "consumers", 0), "activity",
                          (json_is_number(acks) ? json_number_value(acks) : 0.0) + (double)lag));
        json_decref(acks);
    }
    json_t *screen = json_pack("{s:o, s:o}", "topics", s_sorted(tl), "subs", s_sorted(sl));
    json_decref(tl);
    json_decref(sl);
    if (screen) { /* "activity" is the sort key, not output */
        json_array_foreach(json_object_get(screen, "topics"), i, t) json_object_del(t, "activity");
        json_array_foreach(json_object_get(screen, "subs"), i, s) json_object_del(s, "activity");
    }
    return screen;
}

/* Draws screen within cols x rows; returns 0. */
static void
s_top_draw(ob_mon_t *m, json_t *screen, size_t cols, size_t rows, int tty)
{
    char head[OB_MON_TEXT_MAX], now[OB_MON_TEXT_MAX];
    json_t *topics = json_object_get(screen, "topics"), *subs = json_object_get(screen, "subs");
    if (tty)
        fputs("\033[H\033[2J", m->out); /* home, clear */
    snprintf(head, sizeof head, "orderbus top  %s  %s  topics %zu  subs %zu", m->endpoint,
             ob_mon_fmt_time(now, ob_mon_now_us()), json_array_size(topics), json_array_size(subs));
    head[cols < sizeof head ? cols : sizeof head - 1] = '\0';
    fprintf(m->out, "%s\n", head);
    size_t used = 1;
    /* Rows left after the header: a blank line and a table header for each table. */
    size_t body = rows > 6 ? rows - 6 : 0;
    size_t n_subs = json_array_size(subs);
    size_t n_topics = json_array_size(topics);
    size_t topic_rows = n_topics, sub_rows = n_subs;
    if (topic_rows + sub_rows > body) {
        size_t half = body / 2;
        if (topic_rows > half && sub_rows > body - half) {
            topic_rows = half;
            sub_rows = body - half;
        } else if (topic_rows > half)
            topic_rows = body - sub_rows;
        else
            sub_rows = body - topic_rows;
    }
    static const char *const th[] = {"TOPIC", "RATE", "EVENTS", "LAST"};
    static const char *const sh[] = {"SUB", "ACKS", "LAG", "PENDING", "CONS"};
    ob_mon_table_t *tt = ob_mon_table_new(4, th, "lrrr");
    ob_mon_table_t *st = ob_mon_table_new(5, sh, "lrrrr");
    size_t i;
    json_t *t;
    json_array_foreach(topics, i, t)
    {
        char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX], c[OB_MON_TEXT_MAX];
        json_t *rate = json_object_get(t, "rate");
        const char *cells[] = {
            ob_mon_get_str(t, "name", ""),
            ob_mon_fmt_rate(a, json_is_number(rate) ? json_number_value(rate) : -1.0),
            ob_mon_fmt_uint(b, ob_mon_get_uint(t, "events", 0)),
            ob_mon_fmt_uint(c, ob_mon_get_uint(t, "last_seq", 0))};
        if (tt)
            ob_mon_table_add(tt, cells);
    }
    json_array_foreach(subs, i, t)
    {
        char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX], c[OB_MON_TEXT_MAX], d[OB_MON_TEXT_MAX];
        json_t *acks = json_object_get(t, "acks");
        const char *cells[] = {
            ob_mon_get_str(t, "name", ""),
            ob_mon_fmt_rate(a, json_is_number(acks) ? json_number_value(acks) : -1.0),
            ob_mon_fmt_uint(b, ob_mon_get_uint(t, "lag", 0)),
            ob_mon_fmt_uint(c, ob_mon_get_uint(t, "pending", 0)),
            ob_mon_fmt_uint(d, ob_mon_get_uint(t, "consumers", 0))};
        if (st)
            ob_mon_table_add(st, cells);
    }
    if (tt && rows > used + 2) {
        fputs("\n", m->out);
        used++;
        used += ob_mon_table_print(tt, m->out, cols, topic_rows);
    }
    if (st && rows > used + 2) {
        fputs("\n", m->out);
        used++;
        ob_mon_table_print(st, m->out, cols, sub_rows);
    }
    ob_mon_table_destroy(&tt);
    ob_mon_table_destroy(&st);
    fflush(m->out);
}

int
ob_mon_cmd_top(ob_mon_t *m, int argc, char **argv)
{
    uint64_t interval = OB_MON_INTERVAL_MS_DEFAULT, iterations = 0;
    int rc = s_options(m, argc, argv, &interval, &iterations);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    if ((rc = ob_mon_connect(m)))
        return rc;
    int tty = isatty(STDOUT_FILENO);
    json_t *old_topics = NULL, *old_subs = NULL;
    uint64_t t_old = 0;
    /* A first sample, so that the first screen already has rates. */
    int err = ob_mon_list(m, OB_CMD_TOPICS, &old_topics);
    if (!err)
        err = ob_mon_list(m, OB_CMD_SUBS, &old_subs);
    t_old = ob_mon_now_us();
    for (uint64_t n = 0; !err && (iterations == 0 || n < iterations); n++) {
        if (ob_mon_sleep((int)interval))
            break;
        json_t *topics = NULL, *subs = NULL;
        err = ob_mon_list(m, OB_CMD_TOPICS, &topics);
        if (!err)
            err = ob_mon_list(m, OB_CMD_SUBS, &subs);
        uint64_t t_now = ob_mon_now_us();
        if (!err) {
            json_t *screen =
                s_top_screen(topics, subs, old_topics, old_subs, (t_now - t_old) / 1000);
            size_t cols, rows;
            s_screen(&cols, &rows);
            if (screen && m->json) {
                char *text = json_dumps(screen, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                                    JSON_REAL_PRECISION(OB_MON_JSON_PRECISION));
                if (text)
                    fprintf(m->out, "%s\n", text);
                free(text);
                fflush(m->out);
            } else if (screen)
                s_top_draw(m, screen, cols, rows, tty);
            json_decref(screen);
        }
        json_decref(old_topics);
        json_decref(old_subs);
        old_topics = topics;
        old_subs = subs;
        t_old = t_now;
    }
    json_decref(old_topics);
    json_decref(old_subs);
    if (err)
        return ob_mon_fail(m, err, "top");
    return OB_MON_EXIT_OK;
}
