/*  orderbus-monitor tail, show, publish and dlq: events themselves. */
#include <czmq.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

const char ob_mon_help_tail[] =
    "NAME\n"
    "    orderbus-monitor tail - follow the events of topics, live\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor tail [--from WHERE] [--type T]... [--count N] [--json] PATTERN...\n\n"
    "DESCRIPTION\n"
    "    Creates an ephemeral subscription to the topic PATTERNs (oms.*, oms.>, >: see\n"
    "    PROTOCOL.md 7.2), prints each event delivered on one line and acks it. Runs until\n"
    "    Ctrl-C (SIGINT) or SIGTERM, or until N events were printed. The subscription is\n"
    "    deleted when the monitor exits; durable subscriptions are not affected.\n"
    "    With --from other than new, the events already stored (the backlog) are read\n"
    "    first, topic by topic in name order, by FETCH of ranges (256 events a request;\n"
    "    this needs admin read, PROTOCOL.md 14.4), then the events stored since come live.\n"
    "    Without admin read, or from a broker 0.5, the subscription starts at WHERE and\n"
    "    the backlog comes as deliveries, one ack each.\n\n"
    "OPTIONS\n"
    "    --from WHERE  where to start: new (default: events stored from now on), earliest,\n"
    "                  a sequence number (on each topic), RFC 3339 time\n"
    "                  (2026-11-29T10:00:00Z) or a time relative to now (-30s, -5m, -2h, -1d)\n"
    "    --type T      only events of type T (repeat for more)\n"
    "    --count N     exit after N events\n\n"
    "OUTPUT\n"
    "    TIME TOPIC #SEQ TYPE ID SUMMARY: the event's time of occurrence, where it is\n"
    "    stored, its type and id, and a summary: its changes (field: before -> after) or\n"
    "    the start of its data.\n"
    "    --json: one JSON object per line (NDJSON): {topic, seq, stored, stored_us,\n"
    "    attempt (1 for the backlog), event: {the event, as `show --json` prints it}}.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor tail 'oms.>'\n"
    "    orderbus-monitor tail --from -5m --type project_item.created oms.1\n"
    "    orderbus-monitor tail --from earliest --count 10 --json '>' | jq .event.id\n";

const char ob_mon_help_show[] =
    "NAME\n"
    "    orderbus-monitor show - one stored event, whole\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor show TOPIC SEQ [--json]\n\n"
    "DESCRIPTION\n"
    "    Fetches event SEQ of TOPIC (FETCH, PROTOCOL.md 13) and prints every field: the\n"
    "    envelope, the Marketplace ids, the changes and the data (as JSON when it is JSON,\n"
    "    else base64).\n\n"
    "OUTPUT\n"
    "    name: value lines, then changes and data.\n"
    "    --json: {topic, seq, stored, stored_us, event: {id, topic, type, time (RFC 3339),\n"
    "    time_us, source, oms_id, project_id, project_item_id, message_id, changes:\n"
    "    [{field, before, after}], data}}.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor show oms.1 42\n";

const char ob_mon_help_publish[] =
    "NAME\n"
    "    orderbus-monitor publish - publish one event given as JSON\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor publish TOPIC [JSON]\n\n"
    "DESCRIPTION\n"
    "    Publishes the event given as a JSON object on the command line or, without JSON,\n"
    "    on standard input (like `nats pub`), and waits for the broker's confirmation.\n"
    "    Keys: type (required), id (default: a new random id), time (RFC 3339) or time_us\n"
    "    (default: now), source, oms_id, project_id, project_item_id, message_id, changes\n"
    "    ([{field, before, after}]), data (any JSON value, stored as JSON text; or\n"
    "    {\"base64\": \"...\"} for bytes), topic (if given, it must be TOPIC). Unknown keys\n"
    "    are refused. The broker stores an id once per topic: publishing the same id again\n"
    "    is confirmed as a duplicate, with the original's seq.\n\n"
    "OUTPUT COLUMNS\n"
    "    TOPIC, SEQ (its sequence number), DUP (yes: the id was already stored), ID\n"
    "    --json: {topic, seq, dup, id}\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor publish oms.1 '{\"type\": \"project_item.created\", \"oms_id\": 1,\n"
    "        \"project_id\": 7, \"project_item_id\": 3, \"data\": {\"status\": \"ready\"}}'\n"
    "    echo '{\"type\": \"message.posted\"}' | orderbus-monitor publish oms.1\n";

const char ob_mon_help_dlq[] =
    "NAME\n"
    "    orderbus-monitor dlq - dead letters, and re-publishing one\n\n"
    "SYNOPSIS\n"
    "    orderbus-monitor dlq [--json]\n"
    "    orderbus-monitor dlq TOPIC [--limit N] [--json]\n"
    "    orderbus-monitor dlq republish DLQ_TOPIC SEQ [--json]\n\n"
    "DESCRIPTION\n"
    "    An event that a subscription failed to process max_attempts times is moved to\n"
    "    the topic dlq.<subscription> (PROTOCOL.md 12.6). Without arguments, lists the\n"
    "    dlq.* topics and their counts. With TOPIC, lists its last N (default 100) dead\n"
    "    letters and why each is there.\n"
    "    `republish` publishes the original event of dead letter SEQ of DLQ_TOPIC again to\n"
    "    its original topic, as a new event with the id retry-<DLQ_TOPIC>-<SEQ>: a new id,\n"
    "    because the broker deduplicates by id while the original is retained\n"
    "    (PROTOCOL.md 15), so the original id would be confirmed as a duplicate and not\n"
    "    delivered again. The id is deterministic, so re-publishing the same dead letter\n"
    "    twice stores it once: the second time is reported as a duplicate. Consumers see\n"
    "    a new id and seq; the rest of the event is unchanged. (To retry events still in\n"
    "    the original topic for one subscription only, use `reposition` instead.)\n\n"
    "OPTIONS\n"
    "    --limit N  dead letters to list (default 100), the most recent\n\n"
    "OUTPUT COLUMNS\n"
    "    dlq:          DLQ (topic), EVENTS, FIRST, LAST, BYTES\n"
    "    dlq TOPIC:    SEQ (in the dlq topic), TIME (dead-lettered), SUB, TOPIC and\n"
    "                  ORIG_SEQ (of the original), ID, TYPE, REASON, ATTEMPTS\n"
    "    republish:    TOPIC, SEQ, DUP, ID as `publish`\n"
    "    --json: arrays of objects with those fields (lower case; seq, time, sub, topic,\n"
    "    orig_seq, id, type, reason, attempts), and {topic, seq, dup, id}.\n\n"
    "EXAMPLES\n"
    "    orderbus-monitor dlq\n"
    "    orderbus-monitor dlq dlq.billing\n"
    "    orderbus-monitor dlq republish dlq.billing 3\n";

/* Returns a new JSON object of the event frame (len bytes, borrowed), or NULL with *ret_rc. */
static json_t *
s_event_json(const uint8_t *frame, size_t len, int *ret_rc)
{
    ob_event_t *e = NULL;
    char *text = NULL;
    json_t *obj = NULL;
    int rc = ob_event_decode(frame, len, &e);
    if (!rc)
        rc = ob_event_to_json(e, &text);
    if (!rc && !(obj = json_loads(text, 0, NULL)))
        rc = -ENOMEM;
    free(text);
    ob_event_destroy(&e);
    *ret_rc = rc;
    return obj;
}

/* Writes a one-line summary of event (a JSON object from s_event_json) into buf. */
static char *
s_summary(char *buf, const json_t *event)
{
    size_t len = 0, i;
    json_t *c;
    buf[0] = '\0';
    json_array_foreach(json_object_get(event, "changes"), i, c)
    {
        if (len >= OB_MON_TEXT_MAX)
            break;
        len += (size_t)snprintf(buf + len, OB_MON_TEXT_MAX - len, "%s%s: %s -> %s", len ? "; " : "",
                                ob_mon_get_str(c, "field", "?"), ob_mon_get_str(c, "before", "-"),
                                ob_mon_get_str(c, "after", "-"));
    }
    json_t *data = json_object_get(event, "data");
    if (!buf[0] && data && !json_is_null(data)) {
        char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        snprintf(buf, OB_MON_TEXT_MAX, "%s", text ? text : "");
        free(text);
    }
    /* One line, at most OB_MON_SUMMARY_MAX columns. */
    size_t cols = 0;
    for (i = 0; buf[i]; i++) {
        if ((unsigned char)buf[i] < 0x20)
            buf[i] = ' ';
        if (((unsigned char)buf[i] & 0xc0) != 0x80 && ++cols > OB_MON_SUMMARY_MAX) {
            snprintf(buf + i, OB_MON_TEXT_MAX - i, "...");
            break;
        }
    }
    return buf;
}

/* zhashx destructor of tail's ends: a malloc'd value. */
static void
s_free_item(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

/* The wrapper of tail --json and show --json; takes event (stolen). */
static json_t *
s_stored_json(const char *topic, uint64_t seq, uint64_t stored_us, json_t *event)
{
    char when[OB_TIME_TEXT_MAX];
    ob_time_format(stored_us, when);
    return json_pack("{s:s, s:I, s:s, s:I, s:o}", "topic", topic, "seq", (json_int_t)seq, "stored",
                     when, "stored_us", (json_int_t)stored_us, "event", event);
}

/* Prints one event of tail (frame: len bytes, borrowed) on topic at seq, stored at
   stored_us, unless opts' types leave it out. Returns 1 if printed, 0 if left out. */
static int
s_tail_print(ob_mon_t *m, const ob_sub_options_t *opts, const char *topic, uint64_t seq,
             uint64_t stored_us, uint32_t attempt, const uint8_t *frame, size_t len)
{
    int drc = 0;
    json_t *event = s_event_json(frame, len, &drc);
    if (event && opts->type_count) { /* the backlog's filter: the subscription has its own */
        const char *type = ob_mon_get_str(event, "type", "");
        size_t i = 0;
        while (i < opts->type_count && strcmp(opts->types[i], type))
            i++;
        if (i == opts->type_count) {
            json_decref(event);
            return 0;
        }
    }
    if (m->json) {
        json_t *line = event ? s_stored_json(topic, seq, stored_us, event) : NULL;
        if (line)
            json_object_set_new(line, "attempt", json_integer(attempt));
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            fprintf(m->out, "%s\n", text);
        else
            fprintf(m->err, "orderbus-monitor: tail: %s #%" PRIu64 ": undecodable: %s\n", topic,
                    seq, ob_mon_error_name(drc));
        free(text);
        json_decref(line);
    } else {
        char when[OB_MON_TEXT_MAX], summary[OB_MON_TEXT_MAX];
        if (event)
            fprintf(m->out, "%s %s #%" PRIu64 " %s %s %s\n",
                    ob_mon_fmt_time(when, ob_mon_get_uint(event, "time_us", 0)), topic, seq,
                    ob_mon_get_str(event, "type", "?"), ob_mon_get_str(event, "id", "?"),
                    s_summary(summary, event));
        else
            fprintf(m->out, "%s %s #%" PRIu64 " (undecodable: %s)\n",
                    ob_mon_fmt_time(when, stored_us), topic, seq, ob_mon_error_name(drc));
        json_decref(event);
    }
    fflush(m->out);
    return 1;
}

/* Returns 1 if one of opts' patterns matches topic. */
static int
s_tail_matches(const ob_sub_options_t *opts, const char *topic)
{
    for (size_t i = 0; i < opts->pattern_count; i++)
        if (ob_pattern_match(opts->patterns[i], strlen(opts->patterns[i]), topic, strlen(topic)))
            return 1;
    return 0;
}

/* tail's backlog: the events stored before its subscription (made with start "new"), read
   by FETCH of ranges, OB_FETCH_RANGE_MAX events a request, topic by topic in name order,
   from opts' start up to the last_seq each topic had when listed (after the subscription
   was made: what follows it is delivered live). Records that last_seq by topic in ends
   (topic -> uint64_t *), so that the live part skips the deliveries the backlog printed.
   Stops once *printed reaches count (0: no limit). Returns 0 or an ob_client error. */
static int
s_tail_backlog(ob_mon_t *m, const ob_sub_options_t *opts, uint64_t count, uint64_t *printed,
               zhashx_t *ends)
{
    json_t *list = NULL, *t;
    size_t i;
    int err = ob_mon_list(m, OB_CMD_TOPICS, &list);
    json_array_foreach(list, i, t)
    {
        const char *topic = ob_mon_get_str(t, "name", "");
        uint64_t last = ob_mon_get_uint(t, "last_seq", 0);
        uint64_t *end = malloc(sizeof *end);
        if (!end) {
            err = -ENOMEM;
            break;
        }
        *end = last;
        if (!s_tail_matches(opts, topic) || zhashx_insert(ends, topic, end) != 0) {
            free(end);
            continue;
        }
        /* the start time only for the first range: from there on, next is past it */
        uint64_t seq = opts->start == OB_START_SEQ ? opts->start_seq : 1;
        uint64_t time_us = opts->start == OB_START_TIME ? opts->start_time : 0;
        while (!err && seq <= last && (!count || *printed < count) && !ob_mon_interrupted()) {
            ob_fetch_t *fetch = NULL;
            if ((err = ob_client_fetch(m->client, topic, seq, time_us, OB_FETCH_RANGE_MAX, &fetch)))
                break;
            for (size_t k = 0; k < fetch->count && (!count || *printed < count); k++) {
                const ob_fetched_t *e = &fetch->events[k];
                if (e->seq <= last)
                    *printed += (uint64_t)s_tail_print(m, opts, topic, e->seq, e->time_us, 1,
                                                       e->event, e->event_len);
            }
            seq = fetch->count ? fetch->next : last + 1; /* empty: nothing more to read */
            time_us = 0;
            ob_fetch_destroy(&fetch);
        }
        if (err || (count && *printed >= count))
            break;
    }
    json_decref(list);
    return err;
}

int
ob_mon_cmd_tail(ob_mon_t *m, int argc, char **argv)
{
    static const struct option longopts[] = {OB_MON_COMMON_LONGOPTS,
                                             {"from", required_argument, NULL, 'f'},
                                             {"type", required_argument, NULL, 't'},
                                             {"count", required_argument, NULL, 'c'},
                                             {NULL, 0, NULL, 0}};
    const char *types[OB_SUB_TYPES_MAX];
    ob_sub_options_t opts = {.start = OB_START_NEW, .types = types};
    uint64_t count = 0, v = 0;
    int c, rc;
    optind = 0; /* 0: GNU getopt starts afresh (main has parsed argv before) */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            ob_mon_help(m->out, argv[0]);
            return OB_MON_EXIT_OK;
        case 'f':
            if (ob_mon_parse_from(optarg, &opts.start, &v))
                return ob_mon_usage(m, argv[0],
                                    "--from: new, earliest, a seq, RFC 3339 or -N(s|m|h|d), "
                                    "not \"%s\"",
                                    optarg);
            opts.start_seq = opts.start == OB_START_SEQ ? v : 0;
            opts.start_time = opts.start == OB_START_TIME ? v : 0;
            break;
        case 't':
            if (opts.type_count == OB_SUB_TYPES_MAX)
                return ob_mon_usage(m, argv[0], "--type: at most %d", OB_SUB_TYPES_MAX);
            types[opts.type_count++] = optarg;
            break;
        case 'c':
            if (ob_mon_parse_uint(optarg, 1, &count))
                return ob_mon_usage(m, argv[0], "--count: a number >= 1, not \"%s\"", optarg);
            break;
        default:
            if ((rc = ob_mon_common_option(m, c, optarg)) < 0)
                return ob_mon_usage(m, argv[0], "unknown option");
            if (rc)
                return rc;
        }
    }
    if (optind == argc)
        return ob_mon_usage(m, argv[0], "at least one topic PATTERN expected");
    if (argc - optind > OB_SUB_PATTERNS_MAX)
        return ob_mon_usage(m, argv[0], "at most %d patterns", OB_SUB_PATTERNS_MAX);
    for (int i = optind; i < argc; i++)
        if (!ob_pattern_valid(argv[i], strlen(argv[i])))
            return ob_mon_usage(m, argv[0], "invalid topic pattern \"%s\" (PROTOCOL.md 7.2)",
                                argv[i]);
    opts.patterns = (const char *const *)&argv[optind];
    opts.pattern_count = (size_t)(argc - optind);
    if ((rc = ob_mon_connect(m)))
        return rc;
    /* A backlog is read by FETCH of ranges, under a subscription from now on that gives
       the rest: one request per OB_FETCH_RANGE_MAX events rather than a delivery and an
       ack each. A broker that cannot (0.5, or no admin read: PROTOCOL.md 14.4) lets the
       subscription start where asked instead, and replay the backlog one delivery at a
       time. */
    char name[OB_SUB_NAME_MAX + 1];
    ob_sub_options_t live = opts;
    if (opts.start != OB_START_NEW)
        live.start = OB_START_NEW;
    zhashx_t *ends = opts.start != OB_START_NEW ? zhashx_new() : NULL;
    if (ends)
        zhashx_set_destructor(ends, s_free_item);
    uint64_t printed = 0;
    int err = ob_client_subscribe(m->client, NULL, &live, name, NULL);
    if (!err && ends) {
        err = s_tail_backlog(m, &opts, count, &printed, ends);
        if (printed == 0 && (err == OB_ERR_FORBIDDEN || err == -ENOTSUP)) {
            zhashx_destroy(&ends);
            ob_client_unsubscribe(m->client, name);
            err = ob_client_subscribe(m->client, NULL, &opts, name, NULL);
        }
    }
    if (err) {
        zhashx_destroy(&ends);
        return ob_mon_fail(m, err, "tail: subscribe");
    }
    while (!count || printed < count) {
        ob_delivery_t *d = NULL;
        err = ob_client_receive(m->client, OB_MON_POLL_MS, &d);
        if (err == OB_ERR_TIMEOUT) {
            if (ob_mon_interrupted())
                break;
            continue;
        }
        if (err == -EINTR) {
            err = 0;
            break;
        }
        if (err)
            break;
        const uint64_t *end = ends ? zhashx_lookup(ends, d->topic) : NULL;
        if (!end || d->seq > *end) /* else the backlog printed it */
            printed += (uint64_t)s_tail_print(m, &opts, d->topic, d->seq, d->time_us, d->attempt,
                                              d->event, d->event_len);
        err = ob_client_ack(m->client, d);
        ob_delivery_destroy(&d);
        if (err)
            break;
    }
    zhashx_destroy(&ends);
    /* Detaching deletes the ephemeral subscription at once, rather than at session expiry. */
    ob_client_unsubscribe(m->client, name);
    if (err)
        return ob_mon_fail(m, err, "tail");
    return OB_MON_EXIT_OK;
}

/* Parses the options of show, publish and dlq: the common ones and --limit (dlq only, when
   limit is not NULL). Returns 0, -1 after --help, or an exit status. */
static int
s_options(ob_mon_t *m, int argc, char **argv, uint64_t *limit)
{
    static const struct option longopts[] = {
        OB_MON_COMMON_LONGOPTS, {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 0; /* 0: GNU getopt starts afresh (main has parsed argv before) */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int rc;
        if (c == 'h') {
            ob_mon_help(m->out, argv[0]);
            return -1;
        }
        if (c == 'l' && limit) {
            if (ob_mon_parse_uint(optarg, 1, limit))
                return ob_mon_usage(m, argv[0], "--limit: a number >= 1, not \"%s\"", optarg);
            continue;
        }
        if ((rc = ob_mon_common_option(m, c, optarg)) < 0)
            return ob_mon_usage(m, argv[0], "unknown option");
        if (rc)
            return rc;
    }
    return 0;
}

/* FETCH seq of topic: *ret_event is the decoded event as JSON, *ret_stored its stored time.
   Returns 0 or an error; a seq not stored is OB_ERR_INVALID_ARGUMENT from the broker. */
static int
s_fetch(ob_mon_t *m, const char *topic, uint64_t seq, json_t **ret_event, uint64_t *ret_stored,
        uint8_t **ret_frame, size_t *ret_frame_len)
{
    if (strlen(topic) > OB_TOPIC_MAX || !ob_topic_valid(topic, strlen(topic)))
        return OB_ERR_INVALID_TOPIC;
    ob_wire_msg_t req;
    ob_wire_msg_init(&req, OB_CMD_FETCH);
    snprintf(req.topic, sizeof req.topic, "%s", topic);
    req.seq = seq;
    json_t *res = NULL;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    int rc = ob_mon_request(m, &req, &res, NULL, &frame, &frame_len);
    if (rc)
        return rc;
    json_t *event = frame ? s_event_json(frame, frame_len, &rc) : NULL;
    if (!frame)
        rc = OB_ERR_MISSING_FIELD;
    if (!rc) {
        *ret_event = event;
        *ret_stored = ob_mon_get_uint(res, "time", 0);
        if (ret_frame) {
            *ret_frame = frame;
            *ret_frame_len = frame_len;
            frame = NULL;
        }
    }
    json_decref(res);
    free(frame);
    return rc;
}

int
ob_mon_cmd_show(ob_mon_t *m, int argc, char **argv)
{
    int rc = s_options(m, argc, argv, NULL);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    uint64_t seq = 0;
    if (argc - optind != 2)
        return ob_mon_usage(m, argv[0], "TOPIC and SEQ expected");
    const char *topic = argv[optind];
    if (ob_mon_parse_uint(argv[optind + 1], 1, &seq))
        return ob_mon_usage(m, argv[0], "SEQ: a sequence number >= 1, not \"%s\"",
                            argv[optind + 1]);
    if (!ob_topic_valid(topic, strlen(topic)))
        return ob_mon_usage(m, argv[0], "invalid topic name \"%s\"", topic);
    if ((rc = ob_mon_connect(m)))
        return rc;
    json_t *event = NULL;
    uint64_t stored = 0;
    int err = s_fetch(m, topic, seq, &event, &stored, NULL, NULL);
    if (err == OB_ERR_INVALID_ARGUMENT) {
        fprintf(m->err,
                "orderbus-monitor: show %s %" PRIu64 ": %s: no event %" PRIu64
                " stored in %s (never published, or removed by retention)\n",
                topic, seq, ob_mon_error_name(err), seq, topic);
        return OB_MON_EXIT_NOT_FOUND;
    }
    if (err)
        return ob_mon_fail(m, err, "show %s %" PRIu64, topic, seq);
    if (m->json) {
        json_t *o = s_stored_json(topic, seq, stored, event);
        rc = ob_mon_print_json(m, o);
        json_decref(o);
        return rc;
    }
    char when[OB_TIME_TEXT_MAX];
    FILE *o = m->out;
    ob_time_format(stored, when);
    fprintf(o, "topic:           %s\nseq:             %" PRIu64 "\nstored:          %s\n", topic,
            seq, when);
    static const char *const strs[] = {"id", "type", "time", "source"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        const char *value = ob_mon_get_str(event, strs[i], "");
        fprintf(o, "%s:%*s%s\n", strs[i], (int)(16 - strlen(strs[i])), "",
                *value ? value : "(none)");
    }
    static const char *const ids[] = {"oms_id", "project_id", "project_item_id", "message_id"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        fprintf(o, "%s:%*s%" PRIu64 "\n", ids[i], (int)(16 - strlen(ids[i])), "",
                ob_mon_get_uint(event, ids[i], 0));
    size_t i;
    json_t *c;
    json_t *changes = json_object_get(event, "changes");
    fprintf(o, "changes:%s\n", json_array_size(changes) ? "" : "         none");
    json_array_foreach(changes, i, c)
    {
        json_t *b = json_object_get(c, "before"), *a = json_object_get(c, "after");
        fprintf(o, "  %s: %s -> %s\n", ob_mon_get_str(c, "field", "?"),
                json_is_string(b) ? json_string_value(b) : "(none)",
                json_is_string(a) ? json_string_value(a) : "(none)");
    }
    json_t *data = json_object_get(event, "data");
    if (json_is_null(data))
        fprintf(o, "data:            none\n");
    else {
        char *text = json_dumps(data, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        fprintf(o, "data:\n%s\n", text ? text : "?");
        free(text);
    }
    json_decref(event);
    return OB_MON_EXIT_OK;
}

/* Publishes the encoded event (frame, len bytes, borrowed) and prints the confirmation. */
static int
s_publish(ob_mon_t *m, const char *what, const uint8_t *frame, size_t len)
{
    ob_event_t *e = NULL;
    ob_confirm_t confirm;
    int err = ob_event_decode(frame, len, &e);
    if (!err)
        err = ob_client_publish(m->client, e, &confirm);
    if (err) {
        ob_event_destroy(&e);
        return ob_mon_fail(m, err, "%s", what);
    }
    int rc = OB_MON_EXIT_OK;
    if (m->json) {
        json_t *o = json_pack("{s:s, s:I, s:b, s:s}", "topic", e->topic, "seq",
                              (json_int_t)confirm.seq, "dup", confirm.dup, "id", e->id);
        rc = ob_mon_print_json(m, o);
        json_decref(o);
    } else {
        static const char *const headers[] = {"TOPIC", "SEQ", "DUP", "ID"};
        ob_mon_table_t *t = ob_mon_table_new(4, headers, "lrll");
        char seq[OB_MON_TEXT_MAX];
        const char *cells[] = {e->topic, ob_mon_fmt_uint(seq, confirm.seq),
                               confirm.dup ? "yes" : "no", e->id};
        if (t && ob_mon_table_add(t, cells) == 0)
            ob_mon_table_print(t, m->out, 0, SIZE_MAX);
        ob_mon_table_destroy(&t);
    }
    if (confirm.dup)
        fprintf(m->err,
                "orderbus-monitor: %s: duplicate: %s already holds id %s (seq %" PRIu64
                "); nothing was stored\n",
                what, e->topic, e->id, confirm.seq);
    ob_event_destroy(&e);
    return rc;
}

int
ob_mon_cmd_publish(ob_mon_t *m, int argc, char **argv)
{
    int rc = s_options(m, argc, argv, NULL);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    if (argc - optind < 1 || argc - optind > 2)
        return ob_mon_usage(m, argv[0], "TOPIC and, or else on standard input, JSON expected");
    const char *topic = argv[optind];
    if (!ob_topic_valid(topic, strlen(topic)))
        return ob_mon_usage(m, argv[0], "invalid topic name \"%s\"", topic);
    char *text = NULL;
    size_t len = 0;
    if (argc - optind == 2) {
        text = strdup(argv[optind + 1]);
        len = text ? strlen(text) : 0;
    } else {
        size_t cap = 4096;
        text = malloc(cap);
        while (text) {
            size_t n = fread(text + len, 1, cap - len, stdin);
            len += n;
            if (n == 0 || len > OB_EVENT_JSON_MAX)
                break;
            if (len == cap) {
                char *grown = realloc(text, cap * 2);
                if (!grown) {
                    free(text);
                    text = NULL;
                }
                text = grown;
                cap *= 2;
            }
        }
    }
    if (!text)
        return ob_mon_fail(m, -ENOMEM, "publish");
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    char msg[OB_EVENT_JSON_ERR_MAX];
    int err = ob_event_from_json(text, len, topic, &frame, &frame_len, msg, sizeof msg);
    free(text);
    if (err) {
        /* The event is the command line's (or its input's): a usage error. */
        fprintf(m->err,
                "orderbus-monitor publish: %s: %s\n(see: orderbus-monitor publish --help)\n",
                ob_mon_error_name(err), msg);
        return err == -ENOMEM ? OB_MON_EXIT_REFUSED : OB_MON_EXIT_USAGE;
    }
    rc = ob_mon_connect(m);
    if (!rc)
        rc = s_publish(m, "publish", frame, frame_len);
    free(frame);
    return rc;
}

/* The value of change `field` of a dead letter (JSON event), or "-". */
static const char *
s_change(const json_t *event, const char *field)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(event, "changes"), i, c)
    {
        if (!strcmp(ob_mon_get_str(c, "field", ""), field))
            return ob_mon_get_str(c, "after", "-");
    }
    return "-";
}

/* dlq republish DLQ_TOPIC SEQ */
static int
s_republish(ob_mon_t *m, const char *dlq, const char *seq_text)
{
    uint64_t seq = 0;
    if (ob_mon_parse_uint(seq_text, 1, &seq))
        return ob_mon_usage(m, "dlq", "SEQ: a sequence number >= 1, not \"%s\"", seq_text);
    if (strncmp(dlq, "dlq.", 4) || !ob_topic_valid(dlq, strlen(dlq)))
        return ob_mon_usage(m, "dlq", "\"%s\" is not a dead-letter topic (dlq.<sub>)", dlq);
    int rc = ob_mon_connect(m);
    if (rc)
        return rc;
    json_t *letter = NULL;
    uint64_t stored = 0;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    int err = s_fetch(m, dlq, seq, &letter, &stored, &frame, &frame_len);
    if (err == OB_ERR_INVALID_ARGUMENT) {
        fprintf(m->err, "orderbus-monitor: dlq republish: %s: no dead letter %" PRIu64 " in %s\n",
                ob_mon_error_name(err), seq, dlq);
        return OB_MON_EXIT_NOT_FOUND;
    }
    if (err)
        return ob_mon_fail(m, err, "dlq republish %s %" PRIu64, dlq, seq);
    ob_event_t *dead = NULL, *orig = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    char id[OB_MON_TEXT_MAX];
    err = ob_event_decode(frame, frame_len, &dead);
    if (!err && strcmp(dead->type, "dead_letter"))
        err = OB_ERR_INVALID_EVENT;
    if (!err)
        err = ob_event_decode(dead->data, dead->data_len, &orig);
    if (err) {
        rc = ob_mon_fail(m, err, "dlq republish %s %" PRIu64 ": not a dead letter", dlq, seq);
        goto done;
    }
    snprintf(id, sizeof id, "retry-%s-%" PRIu64, dlq, seq);
    orig->id = id; /* the decoded event's strings are its own; id is only borrowed here */
    err = ob_event_encode(orig, &out, &out_len);
    if (err) {
        rc = ob_mon_fail(m, err, "dlq republish %s %" PRIu64 ": id %s", dlq, seq, id);
        goto done;
    }
    char what[OB_MON_TEXT_MAX];
    snprintf(what, sizeof what, "dlq republish %s %" PRIu64, dlq, seq);
    rc = s_publish(m, what, out, out_len);
done:
    free(out);
    ob_event_destroy(&orig);
    ob_event_destroy(&dead);
    json_decref(letter);
    free(frame);
    return rc;
}

int
ob_mon_cmd_dlq(ob_mon_t *m, int argc, char **argv)
{
    uint64_t limit = OB_MON_DLQ_LIMIT_DEFAULT;
    int rc = s_options(m, argc, argv, &limit);
    if (rc)
        return rc < 0 ? OB_MON_EXIT_OK : rc;
    int nargs = argc - optind;
    if (nargs >= 1 && !strcmp(argv[optind], "republish")) {
        if (nargs != 3)
            return ob_mon_usage(m, argv[0], "republish DLQ_TOPIC SEQ expected");
        return s_republish(m, argv[optind + 1], argv[optind + 2]);
    }
    if (nargs > 1)
        return ob_mon_usage(m, argv[0], "at most one TOPIC expected");
    const char *want = nargs ? argv[optind] : NULL;
    if (want && !ob_topic_valid(want, strlen(want)))
        return ob_mon_usage(m, argv[0], "invalid topic name \"%s\"", want);
    if ((rc = ob_mon_connect(m)))
        return rc;
    json_t *topics = NULL, *out = json_array();
    ob_mon_table_t *table = NULL;
    int err = ob_mon_list(m, OB_CMD_TOPICS, &topics);
    if (err) {
        rc = ob_mon_fail(m, err, "dlq");
        goto done;
    }
    size_t i;
    json_t *t, *found = NULL;
    json_array_foreach(topics, i, t)
    {
        const char *name = ob_mon_get_str(t, "name", "");
        if (want && !strcmp(name, want))
            found = t;
        if (!want && !strncmp(name, "dlq.", 4))
            json_array_append_new(
                out, json_pack("{s:s, s:I, s:I, s:I, s:I}", "topic", name, "events",
                               (json_int_t)ob_mon_get_uint(t, "events", 0), "first_seq",
                               (json_int_t)ob_mon_get_uint(t, "first_seq", 0), "last_seq",
                               (json_int_t)ob_mon_get_uint(t, "last_seq", 0), "bytes",
                               (json_int_t)ob_mon_get_uint(t, "bytes", 0)));
    }
    if (want && !found) {
        fprintf(m->err, "orderbus-monitor: dlq %s: %s: no such topic\n", want,
                ob_mon_error_name(OB_ERR_NO_SUCH_TOPIC));
        rc = OB_MON_EXIT_NOT_FOUND;
        goto done;
    }
    if (want) {
        uint64_t first = ob_mon_get_uint(found, "first_seq", 1);
        uint64_t last = ob_mon_get_uint(found, "last_seq", 0);
        if (last >= first && last - first + 1 > limit)
            first = last - limit + 1;
        for (uint64_t seq = first; seq <= last && seq >= 1; seq++) {
            json_t *letter = NULL;
            uint64_t stored = 0;
            err = s_fetch(m, want, seq, &letter, &stored, NULL, NULL);
            if (err == OB_ERR_INVALID_ARGUMENT) /* removed by retention meanwhile */
                continue;
            if (err) {
                rc = ob_mon_fail(m, err, "dlq %s: seq %" PRIu64, want, seq);
                goto done;
            }
            uint64_t orig_seq = 0, attempts = 0;
            ob_mon_parse_uint(s_change(letter, "seq"), 0, &orig_seq);
            ob_mon_parse_uint(s_change(letter, "attempts"), 0, &attempts);
            json_array_append_new(
                out, json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "seq",
                               (json_int_t)seq, "time", ob_mon_get_str(letter, "time", ""), "sub",
                               s_change(letter, "subscription"), "topic", s_change(letter, "topic"),
                               "orig_seq", (json_int_t)orig_seq, "id", s_change(letter, "id"),
                               "type", s_change(letter, "type"), "reason",
                               s_change(letter, "reason"), "attempts", (json_int_t)attempts));
            json_decref(letter);
        }
    }
    if (m->json) {
        rc = ob_mon_print_json(m, out);
        goto done;
    }
    if (!want) {
        static const char *const headers[] = {"DLQ", "EVENTS", "FIRST", "LAST", "BYTES"};
        table = ob_mon_table_new(5, headers, "lrrrr");
        json_array_foreach(out, i, t)
        {
            char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX], c[OB_MON_TEXT_MAX], d[OB_MON_TEXT_MAX];
            const char *cells[] = {ob_mon_get_str(t, "topic", ""),
                                   ob_mon_fmt_uint(a, ob_mon_get_uint(t, "events", 0)),
                                   ob_mon_fmt_uint(b, ob_mon_get_uint(t, "first_seq", 0)),
                                   ob_mon_fmt_uint(c, ob_mon_get_uint(t, "last_seq", 0)),
                                   ob_mon_fmt_bytes(d, ob_mon_get_uint(t, "bytes", 0))};
            if (table)
                ob_mon_table_add(table, cells);
        }
    } else {
        static const char *const headers[] = {"SEQ", "TIME", "SUB",    "TOPIC",   "ORIG_SEQ",
                                              "ID",  "TYPE", "REASON", "ATTEMPTS"};
        table = ob_mon_table_new(9, headers, "rllllllll");
        json_array_foreach(out, i, t)
        {
            char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX], c[OB_MON_TEXT_MAX], d[OB_MON_TEXT_MAX];
            uint64_t tu = 0;
            ob_time_parse(ob_mon_get_str(t, "time", ""), &tu);
            const char *cells[] = {ob_mon_fmt_uint(a, ob_mon_get_uint(t, "seq", 0)),
                                   ob_mon_fmt_time(b, tu),
                                   ob_mon_get_str(t, "sub", ""),
                                   ob_mon_get_str(t, "topic", ""),
                                   ob_mon_fmt_uint(c, ob_mon_get_uint(t, "orig_seq", 0)),
                                   ob_mon_get_str(t, "id", ""),
                                   ob_mon_get_str(t, "type", ""),
                                   ob_mon_get_str(t, "reason", ""),
                                   ob_mon_fmt_uint(d, ob_mon_get_uint(t, "attempts", 0))};
            if (table)
                ob_mon_table_add(table, cells);
        }
    }
    if (table)
        ob_mon_table_print(table, m->out, 0, SIZE_MAX);
    rc = OB_MON_EXIT_OK;
done:
    ob_mon_table_destroy(&table);
    json_decref(topics);
    json_decref(out);
    return rc;
}
