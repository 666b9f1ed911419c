/*  orderbus-monitor subs, sub and reposition: who is behind, and moving a subscription. */
#include <czmq.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

const char ob_mon_help_subs[] =
    "NAME\n"
    "    orderbus-monitor subs - the subscriptions and how far behind they are\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor subs [--json]\n\n"
    "DESCRIPTION\n"
    "    Lists every subscription (SUBS, then SUB_INFO for each, PROTOCOL.md 13) with its\n"
    "    delivery state and lag. The lag in seconds is the age of the oldest event not yet\n"
    "    done (acked, dead-lettered or filtered): the broker's stored time of the event\n"
    "    after each position's ack floor (FETCH), compared with now.\n\n"
    "OUTPUT COLUMNS\n"
    "    SUB        name (ephemeral ones start with eph-)\n"
    "    PATTERNS   topic patterns, comma-separated\n"
    "    TYPES      event types delivered, * for all\n"
    "    CONS       consumers attached now\n"
    "    PENDING    deliveries awaiting an ack\n"
    "    WAITING    in flight, waiting for a redelivery\n"
    "    REDELIV    redeliveries since the broker started\n"
    "    DEAD       events dead-lettered since the broker started (to dlq.<sub>)\n"
    "    LAG        events above the ack floors not yet done\n"
    "    LAG_S      age of the oldest of them in seconds, - when none\n"
    "    --json: an array of the objects `sub NAME --json` prints.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor subs\n"
    "    orderbus-monitor subs --json | jq '.[] | select(.lag > 0) | .sub'\n";

const char ob_mon_help_sub[] =
    "NAME\n"
    "    orderbus-monitor sub - one subscription in detail\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor sub NAME [--json]\n\n"
    "DESCRIPTION\n"
    "    Shows the subscription's settings, delivery state and lag, and its position on\n"
    "    each topic it matches (SUB_INFO, PROTOCOL.md 13).\n\n"
    "OUTPUT\n"
    "    name: value lines (patterns, types, owner (- when none), credit, ack_wait_ms,\n"
    "    max_attempts, backoff_ms, consumers, pending, waiting, redelivered,\n"
    "    dead_lettered, lag, lag_seconds), then a table of positions:\n"
    "    TOPIC      a matched topic\n"
    "    FLOOR      ack floor: every seq up to it is done\n"
    "    LAST       the topic's last seq\n"
    "    LAG        LAST - FLOOR (events not yet done, acked ones above the floor included)\n"
    "    AGE        age of the oldest event not done, - when none\n"
    "    --json: {sub, patterns, types, ephemeral, owner (\"\" when none), credit,\n"
    "    ack_wait_ms, max_attempts, backoff_ms, consumers, pending, waiting, redelivered,\n"
    "    dead_lettered, lag, lag_seconds (seconds to the millisecond, null when nothing\n"
    "    is behind), positions: [{topic, ack_floor, last_seq, lag, lag_seconds}]}.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor sub billing\n";

const char ob_mon_help_reposition[] =
    "NAME\n"
    "    orderbus-monitor reposition - move a subscription's position\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor reposition SUB (--seq N | --time T | --earliest | --new) [--yes]\n\n"
    "DESCRIPTION\n"
    "    Moves the subscription's position on every topic it matches (SUB_REPOSITION,\n"
    "    PROTOCOL.md 12.5 and 13): events after the new position are delivered again, to\n"
    "    the consumers attached, even those already acked; events before it are skipped.\n"
    "    In-flight deliveries are forgotten. Asks for confirmation on a terminal; without\n"
    "    a terminal it refuses unless --yes is given.\n\n"
    "OPTIONS\n"
    "    --seq N      from sequence number N on each topic\n"
    "    --time T     from the first event stored at or after T: RFC 3339\n"
    "                 (2026-11-29T10:00:00Z) or relative to now (-90s, -5m, -2h, -1d)\n"
    "    --earliest   from the first stored event\n"
    "    --new        only events stored from now on\n"
    "    --yes        do not ask\n\n"
    "OUTPUT\n"
    "    repositioned SUB on N topics to WHERE\n"
    "    --json: {sub, topics, start, start_seq, start_time}\n"
    "    Answering anything but y at the prompt changes nothing and exits with 1.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor reposition billing --time -15m\n"
    "    orderbus-monitor reposition billing --seq 1 --yes\n";

/* Parses the options of subs and sub: only the common ones. Returns 0, -1 after --help, or
   an exit status. *ret_first is the first operand's index. */
static int
s_options(ob_mon_t *m, int argc, char **argv, int *ret_first)
{
    static const struct option longopts[] = {OB_MON_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    optind = 0; /* 0: GNU getopt starts afresh (main has parsed argv before) */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc;
        if (c == 'h') {
            ob_mon_help(m->out, argv[0]);
            return -1;
        }
        if ((rc = ob_mon_common_option(m, c, optarg)) < 0)
            return ob_mon_usage(m, argv[0], "unknown option");
        if (rc)
            return rc;
    }
    *ret_first = optind;
    return 0;
}

/* Returns "a,b,c" of a JSON array of strings into buf, or fallback for an empty one. */
static char *
s_join(char *buf, const json_t *arr, const char *fallback)
{
    size_t len = 0, i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && len < OB_MON_TEXT_MAX)
            len += (size_t)snprintf(buf + len, OB_MON_TEXT_MAX - len, "%s%s", len ? "," : "",
                                    json_string_value(v));
    }
    if (!buf[0])
        snprintf(buf, OB_MON_TEXT_MAX, "%s", fallback);
    return buf;
}

/* The detail of one subscription: SUB_INFO, with each position's topic (from topics, the
   TOPICS list) and the age of its oldest not-done event (FETCH). */
static int
s_detail(ob_mon_t *m, const char *name, json_t *topics, json_t **ret)
{
    json_t *info = NULL;
    int rc = ob_mon_sub_info(m, name, &info);
    if (rc)
        return rc;
    json_t *positions = json_array();
    uint64_t now = ob_mon_now_us();
    double worst = -1;
    size_t i, j;
    json_t *p, *t;
    json_array_foreach(json_object_get(info, "positions"), i, p)
    {
        const char *topic = ob_mon_get_str(p, "topic", "");
        uint64_t floor = ob_mon_get_uint(p, "ack_floor", 0);
        json_t *found = NULL;
        json_array_foreach(topics, j, t)
        {
            if (!strcmp(ob_mon_get_str(t, "name", ""), topic)) {
                found = t;
                break;
            }
        }
        uint64_t last = found ? ob_mon_get_uint(found, "last_seq", 0) : floor;
        uint64_t first = found ? ob_mon_get_uint(found, "first_seq", 1) : 1;
        uint64_t lag = last > floor ? last - floor : 0;
        json_t *age = json_null();
        if (lag && strlen(topic) <= OB_TOPIC_MAX) {
            ob_wire_msg_t req;
            ob_wire_msg_init(&req, OB_CMD_FETCH);
            snprintf(req.topic, sizeof req.topic, "%s", topic);
            req.seq = floor + 1 < first ? first : floor + 1;
            json_t *res = NULL;
            uint8_t *event = NULL;
            size_t event_len = 0;
            /* The event may be gone meanwhile (retention): then the age stays unknown. */
            if (ob_mon_request(m, &req, &res, NULL, &event, &event_len) == 0) {
                uint64_t stored = ob_mon_get_uint(res, "time", now);
                /* in whole milliseconds: finer is noise (the FETCH's own round trip) */
                double secs = stored < now ? (double)((now - stored + 500) / 1000) / 1e3 : 0.0;
                age = json_real(secs);
                if (secs > worst)
                    worst = secs;
            }
            json_decref(res);
            free(event);
        }
        json_array_append_new(positions,
                              json_pack("{s:s, s:I, s:I, s:I, s:o}", "topic", topic, "ack_floor",
                                        (json_int_t)floor, "last_seq", (json_int_t)last, "lag",
                                        (json_int_t)lag, "lag_seconds", age));
    }
    json_t *out = json_pack(
        "{s:s, s:O, s:O, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
        "sub", ob_mon_get_str(info, "sub", name), "patterns", json_object_get(info, "patterns"),
        "types", json_object_get(info, "types"), "ephemeral", ob_mon_get_bool(info, "ephemeral", 0),
        "owner", ob_mon_get_str(info, "owner", ""), "credit",
        (json_int_t)ob_mon_get_uint(info, "credit", 0), "ack_wait_ms",
        (json_int_t)ob_mon_get_uint(info, "ack_wait_ms", 0), "max_attempts",
        (json_int_t)ob_mon_get_uint(info, "max_attempts", 0), "backoff_ms",
        (json_int_t)ob_mon_get_uint(info, "backoff_ms", 0), "consumers",
        (json_int_t)ob_mon_get_uint(info, "consumers", 0), "pending",
        (json_int_t)ob_mon_get_uint(info, "pending", 0), "waiting",
        (json_int_t)ob_mon_get_uint(info, "waiting", 0), "redelivered",
        (json_int_t)ob_mon_get_uint(info, "redelivered", 0), "dead_lettered",
        (json_int_t)ob_mon_get_uint(info, "dead_lettered", 0), "lag",
        (json_int_t)ob_mon_get_uint(info, "lag", 0), "lag_seconds",
        worst < 0 ? json_null() : json_real(worst), "positions", positions);
    json_decref(info);
    if (!out)
        return OB_ERR_FIELD_TYPE; /* patterns or types missing from the broker's answer */
    *ret = out;
    return 0;
}

/* Formats lag_seconds (a number or null) into buf. */
static char *
s_secs(char *buf, const json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, OB_MON_TEXT_MAX, "%.1f", json_number_value(v));
    else
        snprintf(buf, OB_MON_TEXT_MAX, "-");
    return buf;
}

int
ob_mon_cmd_subs(ob_mon_t *m, int argc, char **argv)
{
    int first = 0;
    int rc = s_options(m, argc, argv, &first);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    if (first < argc)
        return ob_mon_usage(m, argv[0], "unexpected argument \"%s\" (for one: sub NAME)",
                            argv[first]);
    if ((rc = ob_mon_connect(m)))
        return rc;
    json_t *subs = NULL, *topics = NULL, *out = json_array();
    ob_mon_table_t *table = NULL;
    int err = ob_mon_list(m, OB_CMD_SUBS, &subs);
    if (!err)
        err = ob_mon_list(m, OB_CMD_TOPICS, &topics);
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s)
    {
        json_t *d = NULL;
        if (err)
            break;
        err = s_detail(m, ob_mon_get_str(s, "sub", ""), topics, &d);
        if (err == OB_ERR_NO_SUCH_SUBSCRIPTION) /* deleted since SUBS: not one to show */
            err = 0;
        else if (!err)
            json_array_append_new(out, d);
    }
    if (err) {
        rc = ob_mon_fail(m, err, "subs");
        goto done;
    }
    if (m->json) {
        rc = ob_mon_print_json(m, out);
        goto done;
    }
    static const char *const headers[] = {"SUB",     "PATTERNS", "TYPES", "CONS", "PENDING",
                                          "WAITING", "REDELIV",  "DEAD",  "LAG",  "LAG_S"};
    table = ob_mon_table_new(10, headers, "lllrrrrrrr");
    if (!table) {
        rc = ob_mon_fail(m, -ENOMEM, "subs");
        goto done;
    }
    json_array_foreach(out, i, s)
    {
        char pa[OB_MON_TEXT_MAX], ty[OB_MON_TEXT_MAX], co[OB_MON_TEXT_MAX], pe[OB_MON_TEXT_MAX],
            wa[OB_MON_TEXT_MAX], re[OB_MON_TEXT_MAX], de[OB_MON_TEXT_MAX], la[OB_MON_TEXT_MAX],
            ls[OB_MON_TEXT_MAX];
        const char *cells[] = {ob_mon_get_str(s, "sub", ""),
                               s_join(pa, json_object_get(s, "patterns"), "-"),
                               s_join(ty, json_object_get(s, "types"), "*"),
                               ob_mon_fmt_uint(co, ob_mon_get_uint(s, "consumers", 0)),
                               ob_mon_fmt_uint(pe, ob_mon_get_uint(s, "pending", 0)),
                               ob_mon_fmt_uint(wa, ob_mon_get_uint(s, "waiting", 0)),
                               ob_mon_fmt_uint(re, ob_mon_get_uint(s, "redelivered", 0)),
                               ob_mon_fmt_uint(de, ob_mon_get_uint(s, "dead_lettered", 0)),
                               ob_mon_fmt_uint(la, ob_mon_get_uint(s, "lag", 0)),
                               s_secs(ls, json_object_get(s, "lag_seconds"))};
        ob_mon_table_add(table, cells);
    }
    ob_mon_table_print(table, m->out, 0, SIZE_MAX);
    rc = OB_MON_EXIT_OK;
done:
    ob_mon_table_destroy(&table);
    json_decref(subs);
    json_decref(topics);
    json_decref(out);
    return rc;
}

int
ob_mon_cmd_sub(ob_mon_t *m, int argc, char **argv)
{
    int first = 0;
    int rc = s_options(m, argc, argv, &first);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    if (argc - first != 1)
        return ob_mon_usage(m, argv[0], "one subscription NAME expected");
    const char *name = argv[first];
    if ((rc = ob_mon_connect(m)))
        return rc;
    json_t *topics = NULL, *d = NULL;
    int err = ob_mon_list(m, OB_CMD_TOPICS, &topics);
    if (!err)
        err = s_detail(m, name, topics, &d);
    json_decref(topics);
    if (err)
        return ob_mon_fail(m, err, "sub %s", name);
    if (m->json) {
        rc = ob_mon_print_json(m, d);
        json_decref(d);
        return rc;
    }
    char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX];
    FILE *o = m->out;
    fprintf(o, "sub:           %s%s\n", ob_mon_get_str(d, "sub", ""),
            ob_mon_get_bool(d, "ephemeral", 0) ? " (ephemeral)" : "");
    fprintf(o, "patterns:      %s\n", s_join(a, json_object_get(d, "patterns"), "-"));
    fprintf(o, "types:         %s\n", s_join(b, json_object_get(d, "types"), "* (all)"));
    const char *owner = ob_mon_get_str(d, "owner", "");
    fprintf(o, "owner:         %s\n", *owner ? owner : "-");
    static const char *const keys[] = {
        "credit",  "ack_wait_ms", "max_attempts", "backoff_ms",    "consumers",
        "pending", "waiting",     "redelivered",  "dead_lettered", "lag"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(a, sizeof a, "%s:", keys[i]);
        fprintf(o, "%-14s %" PRIu64 "\n", a, ob_mon_get_uint(d, keys[i], 0));
    }
    fprintf(o, "lag_seconds:   %s\n\n", s_secs(a, json_object_get(d, "lag_seconds")));
    static const char *const headers[] = {"TOPIC", "FLOOR", "LAST", "LAG", "AGE"};
    ob_mon_table_t *table = ob_mon_table_new(5, headers, "lrrrr");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(d, "positions"), i, p)
    {
        char f[OB_MON_TEXT_MAX], l[OB_MON_TEXT_MAX], g[OB_MON_TEXT_MAX], s[OB_MON_TEXT_MAX];
        const char *cells[] = {ob_mon_get_str(p, "topic", ""),
                               ob_mon_fmt_uint(f, ob_mon_get_uint(p, "ack_floor", 0)),
                               ob_mon_fmt_uint(l, ob_mon_get_uint(p, "last_seq", 0)),
                               ob_mon_fmt_uint(g, ob_mon_get_uint(p, "lag", 0)),
                               s_secs(s, json_object_get(p, "lag_seconds"))};
        if (table)
            ob_mon_table_add(table, cells);
    }
    if (table)
        ob_mon_table_print(table, o, 0, SIZE_MAX);
    ob_mon_table_destroy(&table);
    json_decref(d);
    return OB_MON_EXIT_OK;
}

int
ob_mon_cmd_reposition(ob_mon_t *m, int argc, char **argv)
{
    static const struct option longopts[] = {OB_MON_COMMON_LONGOPTS,
                                             {"seq", required_argument, NULL, 's'},
                                             {"time", required_argument, NULL, 't'},
                                             {"earliest", no_argument, NULL, 'e'},
                                             {"new", no_argument, NULL, 'n'},
                                             {"yes", no_argument, NULL, 'y'},
                                             {NULL, 0, NULL, 0}};
    ob_wire_msg_t req;
    ob_wire_msg_init(&req, OB_CMD_SUB_REPOSITION);
    int c, given = 0, yes = 0;
    char where[OB_MON_TEXT_MAX] = "";
    optind = 0; /* 0: GNU getopt starts afresh (main has parsed argv before) */
    while ((c = getopt_long(argc, argv, "hy", longopts, NULL)) != -1) {
        int rc;
        ob_start_t start;
        uint64_t v = 0;
        switch (c) {
        case 'h':
            ob_mon_help(m->out, argv[0]);
            return OB_MON_EXIT_OK;
        case 's':
            if (ob_mon_parse_uint(optarg, 1, &req.start_seq))
                return ob_mon_usage(m, argv[0], "--seq: a sequence number >= 1, not \"%s\"",
                                    optarg);
            req.start = OB_START_SEQ;
            snprintf(where, sizeof where, "seq %" PRIu64, req.start_seq);
            given++;
            break;
        case 't':
            if (ob_mon_parse_from(optarg, &start, &v) || start != OB_START_TIME)
                return ob_mon_usage(m, argv[0], "--time: RFC 3339 or -N(s|m|h|d), not \"%s\"",
                                    optarg);
            req.start = OB_START_TIME;
            req.start_time = v;
            ob_mon_fmt_time(where, v);
            memmove(where + 5, where, strlen(where) + 1);
            memcpy(where, "time ", 5);
            given++;
            break;
        case 'e':
            req.start = OB_START_EARLIEST;
            snprintf(where, sizeof where, "earliest");
            given++;
            break;
        case 'n':
            req.start = OB_START_NEW;
            snprintf(where, sizeof where, "new");
            given++;
            break;
        case 'y':
            yes = 1;
            break;
        default:
            if ((rc = ob_mon_common_option(m, c, optarg)) < 0)
                return ob_mon_usage(m, argv[0], "unknown option");
            if (rc)
                return rc;
        }
    }
    if (argc - optind != 1)
        return ob_mon_usage(m, argv[0], "one subscription SUB expected");
    if (given != 1)
        return ob_mon_usage(m, argv[0], "exactly one of --seq, --time, --earliest, --new");
    const char *name = argv[optind];
    if (!yes && !isatty(STDIN_FILENO))
        return ob_mon_usage(m, argv[0],
                            "not a terminal: cannot ask for confirmation; add --yes to proceed");
    int rc = ob_mon_connect(m);
    if (rc)
        return rc;
    json_t *info = NULL;
    int err = ob_mon_sub_info(m, name, &info);
    if (err)
        return ob_mon_fail(m, err, "reposition %s", name);
    size_t ntopics = json_array_size(json_object_get(info, "positions"));
    json_decref(info);
    if (!yes) {
        char answer[16] = "";
        fprintf(m->err, "reposition sub %s on %zu topics to %s? [y/N] ", name, ntopics, where);
        fflush(m->err);
        if (!fgets(answer, sizeof answer, stdin) ||
            (strcmp(answer, "y\n") && strcmp(answer, "yes\n") && strcmp(answer, "Y\n"))) {
            fprintf(m->err, "orderbus-monitor: reposition %s: not confirmed, nothing changed\n",
                    name);
            return OB_MON_EXIT_REFUSED;
        }
    }
    snprintf(req.sub, sizeof req.sub, "%s", name);
    json_t *res = NULL;
    err = ob_mon_request(m, &req, &res, NULL, NULL, NULL);
    json_decref(res);
    if (err)
        return ob_mon_fail(m, err, "reposition %s", name);
    if (m->json) {
        json_t *o = json_pack("{s:s, s:I, s:s, s:I, s:I}", "sub", name, "topics",
                              (json_int_t)ntopics, "start", ob_start_name(req.start), "start_seq",
                              (json_int_t)req.start_seq, "start_time", (json_int_t)req.start_time);
        rc = ob_mon_print_json(m, o);
        json_decref(o);
        return rc;
    }
    fprintf(m->out, "repositioned %s on %zu topics to %s\n", name, ntopics, where);
    return OB_MON_EXIT_OK;
}
