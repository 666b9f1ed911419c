/*  gen_corpus: writes the seed corpora of the fuzz targets. Usage: ob_gen_corpus DIR

    Writes DIR/event/, DIR/wire/, DIR/mpscan/, DIR/broker/ and DIR/journal/ (which must
    exist or be creatable). Valid seeds ("ok-*") come from the encoders, so they follow the
    codec; malformed seeds ("bad-*") are written out byte by byte here. The journal's seeds
    are segments a journal (broker/journal.h) wrote in a scratch directory, each after its
    salt and an lsn (fuzz_journal.c); its salt is random, so they differ at every run. The
    outputs are committed under tests/fuzz/corpus/; run this again after a format change:
        build/codec/tests/ob_gen_corpus tests/fuzz/corpus */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"

static const char *s_root; /* the output directory */
static int s_failed;       /* set when a write failed */

/* Writes len bytes at data to s_root/target/name. */
static void
s_write(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: %s: %s\n", path, strerror(errno));
        s_failed = 1;
        return;
    }
    snprintf(path, sizeof path, "%s/%s/%s", s_root, target, name);
    FILE *file = fopen(path, "wb");
    if (!file || (len && fwrite(data, 1, len, file) != len) || fclose(file) != 0) {
        fprintf(stderr, "gen_corpus: %s: cannot write\n", path);
        s_failed = 1;
    }
}

/* Encodes event and writes it as an event seed and an mpscan seed. */
static void
s_event(const char *name, const ob_event_t *event)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_event_encode(event, &buf, &len);
    if (rc) {
        fprintf(stderr, "gen_corpus: %s: %s\n", name, ob_strerror(rc));
        s_failed = 1;
        return;
    }
    s_write("event", name, buf, len);
    s_write("mpscan", name, buf, len);
    free(buf);
}

/* Encodes msg (header then body, as fuzz_wire reads them) and writes it as a wire seed and
   its body as an mpscan seed. */
static void
s_wire(const char *name, const ob_wire_msg_t *msg)
{
    static uint8_t buf[OB_HEADER_SIZE + OB_BODY_MAX];
    size_t len = 0;
    ob_wire_encode_header(msg, buf);
    int rc = ob_wire_encode_body(msg, buf + OB_HEADER_SIZE, sizeof buf - OB_HEADER_SIZE, &len);
    if (rc) {
        fprintf(stderr, "gen_corpus: %s: %s\n", name, ob_strerror(rc));
        s_failed = 1;
        return;
    }
    s_write("wire", name, buf, OB_HEADER_SIZE + len);
    s_write("mpscan", name, buf + OB_HEADER_SIZE, len);
}

#define S_BYTES(target, name, literal) s_write((target), (name), (literal), sizeof(literal) - 1)

static void
s_events(void)
{
    static const ob_change_t changes[] = {
        {"status", "pending", "approved"},
        {"comment", NULL, "ok \xc3\xa9t\xc3\xa9"},
        {"assignee", "alice", NULL},
        {"note", NULL, NULL},
    };
    static const char data[] = "{\"id\":4242,\"status\":\"approved\",\"items\":[1,2,3]}";
    ob_event_t e = {
        .id = "01HF8Z3K6V2N6W0Q4S8T2Y5R7C",
        .topic = "oms.7.project_item",
        .type = "project_item.updated",
        .time_us = 1700000000123456ull,
        .source = "marketplace",
        .oms_id = 7,
        .project_id = 4242,
        .project_item_id = 3,
        .message_id = 99999,
        .changes = changes,
        .changes_count = 4,
        .data = (const uint8_t *)data,
        .data_len = sizeof data - 1,
    };
    s_event("ok-full", &e);

    ob_event_t minimal = {.id = "e1", .topic = "t", .type = "x", .time_us = 0};
    s_event("ok-minimal", &minimal);

    ob_event_t created = {.id = "oms-7-project-4242-created",
                          .topic = "oms.7",
                          .type = "project.created",
                          .time_us = 1700000000000000ull,
                          .project_id = 4242,
                          .oms_id = 7};
    s_event("ok-ids", &created);

    static char big_data[600];
    memset(big_data, '{', sizeof big_data);
    ob_event_t big = minimal;
    big.topic = "dlq.sub-1_x";
    big.type = "message.created";
    big.data = (const uint8_t *)big_data;
    big.data_len = sizeof big_data; /* bin 16 */
    big.message_id = UINT64_MAX;
    big.time_us = UINT32_MAX + 1ull;
    s_event("ok-bin16", &big);

    static char long_value[300];
    memset(long_value, 'v', sizeof long_value - 1);
    static ob_change_t long_changes[1] = {{"description", NULL, NULL}};
    long_changes[0].before = long_value; /* str 16 */
    ob_event_t long_change = minimal;
    long_change.changes = long_changes;
    long_change.changes_count = 1;
    long_change.source = "a source of thirty-two bytes...."; /* str 8 */
    s_event("ok-str16", &long_change);

    /* Hand-written: valid but not canonical, and malformed. */
    S_BYTES("event", "ok-unknown-keys",
            "\x86\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\xd0\x05\xa6"
            "future\x81\xa1k\x92\x01\xc0\xa6oms_id\x00");
    S_BYTES("event", "bad-reserved", "\xc1");
    S_BYTES("event", "bad-huge-array", "\xdd\xff\xff\xff\xff\x00\x00\x00\x00");
    S_BYTES("event", "bad-huge-map", "\xdf\xff\xff\xff\xff");
    S_BYTES("event", "bad-trailing", "\x84\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\x00\x00");
    S_BYTES("event", "bad-duplicate-key",
            "\x85\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\x00\xa2id\xa1z");
    S_BYTES("event", "bad-missing-time", "\x83\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y");
    S_BYTES("event", "bad-time-type", "\x84\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\xa1z");
    S_BYTES("event", "bad-topic",
            "\x84\xa2id\xa1x\xa5topic\xa3"
            "a.*\xa4type\xa1y\xa4time\x00");
    S_BYTES("event", "bad-deep",
            "\x85\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\x00\xa1z"
            "\x91\x91\x91\x91\x91\x91\x91\x91\xc0");
    S_BYTES("event", "bad-change-type",
            "\x85\xa2id\xa1x\xa5topic\xa1t\xa4type\xa1y\xa4time\x00\xa7"
            "changes\x91\x81\xa5"
            "field\x01");
    S_BYTES("event", "bad-nul-in-id", "\x84\xa2id\xa2x\x00\xa5topic\xa1t\xa4type\xa1y\xa4time\x00");
}

static void
s_wires(void)
{
    ob_wire_msg_t msg;

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_HELLO;
    strcpy(msg.name, "webhook-adapter");
    msg.heartbeat_ms = 2500;
    s_wire("ok-hello", &msg);
    msg.heartbeat_ms = 0;
    s_wire("ok-hello-default-heartbeat", &msg);
    msg.heartbeat_ms = OB_HEARTBEAT_MS_DEFAULT; /* as liborderbus says it */
    msg.max_run = OB_DELIVER_RUN_MAX;
    s_wire("ok-hello-max-run", &msg);

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_WELCOME;
    strcpy(msg.version, "0.1.0");
    strcpy(msg.session, "5f1c0e6a9b3d4e21");
    msg.heartbeat_ms = OB_HEARTBEAT_MS_DEFAULT;
    msg.max_event = OB_EVENT_MAX_DEFAULT;
    s_wire("ok-welcome", &msg);

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_PING;
    s_wire("ok-ping", &msg);
    msg.command = OB_CMD_PONG;
    s_wire("ok-pong", &msg);

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_ERROR;
    msg.req = 42;
    msg.code = ob_error_to_wire(OB_ERR_INVALID_TOPIC);
    strcpy(msg.reason, "invalid topic name");
    s_wire("ok-error", &msg);
    msg.req = 0;
    msg.code = ob_error_to_wire(OB_ERR_HELLO_REQUIRED);
    s_wire("ok-error-no-req", &msg);

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_PUBLISH;
    msg.req = 1ull << 40;
    s_wire("ok-publish", &msg);

    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_CONFIRM;
    msg.req = 7;
    msg.seq = 123456789;
    msg.dup = 1;
    s_wire("ok-confirm", &msg);

    ob_wire_msg_init(&msg, OB_CMD_ERROR);
    msg.code = ob_error_to_wire(OB_ERR_NO_SUCH_SUBSCRIPTION);
    strcpy(msg.reason, "subscription deleted");
    strcpy(msg.sub, "orders");
    s_wire("ok-error-sub", &msg);

    /* {"name": "oms.7", "first_seq": 1, "last_seq": 42} in an array, as TOPICS answers */
    static const uint8_t topics_result[] = {
        0x91, 0x83, 0xa4, 'n', 'a', 'm', 'e',  0xa5, 'o', 'm', 's', '.', '7', 0xa9, 'f', 'i', 'r',
        's',  't',  '_',  's', 'e', 'q', 0x01, 0xa8, 'l', 'a', 's', 't', '_', 's',  'e', 'q', 0x2a};
    static const uint8_t fetch_result[] = {0x83, 0xa5, 't', 'o',  'p',  'i', 'c', 0xa1, 't', 0xa3,
                                           's',  'e',  'q', 0x05, 0xa4, 't', 'i', 'm',  'e', 0x00};
    ob_wire_msg_init(&msg, OB_CMD_OK);
    msg.req = 3;
    s_wire("ok-ok", &msg);
    msg.result = topics_result;
    msg.result_len = sizeof topics_result;
    msg.more = 1;
    s_wire("ok-ok-array-more", &msg);
    msg.result = fetch_result;
    msg.result_len = sizeof fetch_result;
    msg.more = 0;
    s_wire("ok-ok-map", &msg);
    /* {topic: "t", seq: 4, count: 2, times: [5, 6], next: 6, last_seq: 9}, a range's */
    static const uint8_t range_result[] = {
        0x86, 0xa5, 't', 'o',  'p',  'i',  'c', 0xa1, 't', 0xa3, 's', 'e',  'q',  0x04, 0xa5, 'c',
        'o',  'u',  'n', 't',  0x02, 0xa5, 't', 'i',  'm', 'e',  's', 0x92, 0x05, 0x06, 0xa4, 'n',
        'e',  'x',  't', 0x06, 0xa8, 'l',  'a', 's',  't', '_',  's', 'e',  'q',  0x09};
    msg.result = range_result;
    msg.result_len = sizeof range_result;
    s_wire("ok-ok-fetch-range", &msg);

    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
    msg.req = 4;
    msg.pattern_count = 1;
    strcpy(msg.patterns[0], "oms.>");
    s_wire("ok-subscribe-minimal", &msg);
    strcpy(msg.sub, "orders-east_1");
    msg.pattern_count = 2;
    strcpy(msg.patterns[1], "crm.*.customer");
    msg.type_count = 2;
    strcpy(msg.types[0], "project.created");
    strcpy(msg.types[1], "project_item.updated");
    msg.start = OB_START_SEQ;
    msg.start_seq = 100;
    msg.credit = 64;
    msg.ack_wait_ms = 5000;
    msg.max_attempts = 0;
    msg.backoff_ms = 250;
    s_wire("ok-subscribe", &msg);
    msg.start = OB_START_TIME;
    msg.start_seq = 0;
    msg.start_time = 0;
    s_wire("ok-subscribe-time", &msg);
    msg.start = OB_START_EARLIEST;
    msg.credit = OB_CREDIT_MAX;
    msg.ack_wait_ms = OB_DELAY_MS_MAX;
    msg.max_attempts = OB_MAX_ATTEMPTS_MAX;
    msg.backoff_ms = OB_DELAY_MS_MAX;
    s_wire("ok-subscribe-earliest-max", &msg);

    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBED);
    msg.req = 4;
    strcpy(msg.sub, "eph-0123456789abcdef");
    msg.created = 1;
    s_wire("ok-subscribed", &msg);

    ob_wire_msg_init(&msg, OB_CMD_DELIVER);
    strcpy(msg.sub, "orders");
    strcpy(msg.topic, "oms.7.project_item");
    msg.seq = 42;
    msg.attempt = 1;
    msg.time = 1700000000123456ull;
    s_wire("ok-deliver", &msg);
    msg.attempt = 3;
    msg.skipped = 17;
    s_wire("ok-deliver-skipped", &msg);
    /* runs: seq 42..44 (skipped concerns the first), and the longest, 42..105 */
    msg.count = 3;
    msg.times[0] = msg.time;
    msg.times[1] = msg.time;
    msg.times[2] = msg.time + 1000;
    s_wire("ok-deliver-run", &msg);
    msg.skipped = 0;
    msg.count = OB_DELIVER_RUN_MAX;
    for (uint32_t i = 0; i < msg.count; i++)
        msg.times[i] = msg.time + 100ull * i;
    s_wire("ok-deliver-run-max", &msg);
    msg.count = 0;

    msg.command = OB_CMD_ACK;
    s_wire("ok-ack", &msg);
    msg.upto = 1;
    s_wire("ok-ack-upto", &msg);
    msg.command = OB_CMD_NACK;
    msg.delay_ms = 1500;
    s_wire("ok-nack", &msg);

    ob_wire_msg_init(&msg, OB_CMD_UNSUBSCRIBE);
    msg.req = 5;
    strcpy(msg.sub, "orders");
    s_wire("ok-unsubscribe", &msg);
    msg.command = OB_CMD_SUB_DELETE;
    s_wire("ok-sub-delete", &msg);
    msg.command = OB_CMD_SUB_INFO;
    strcpy(msg.after, "oms.7");
    s_wire("ok-sub-info", &msg);
    msg.command = OB_CMD_SUB_REPOSITION;
    msg.after[0] = '\0';
    msg.start = OB_START_TIME;
    msg.start_time = 1699999999000000ull;
    s_wire("ok-sub-reposition", &msg);

    ob_wire_msg_init(&msg, OB_CMD_TOPICS);
    msg.req = 6;
    s_wire("ok-topics", &msg);
    msg.command = OB_CMD_SUBS;
    strcpy(msg.after, "orders");
    s_wire("ok-subs-after", &msg);

    ob_wire_msg_init(&msg, OB_CMD_FETCH);
    msg.req = 7;
    strcpy(msg.topic, "oms.7");
    msg.seq = 99;
    s_wire("ok-fetch", &msg);
    msg.count = OB_FETCH_RANGE_MAX;
    msg.time = 1700000000000000ull;
    s_wire("ok-fetch-range", &msg);

    S_BYTES("wire", "bad-signature", "XB\x01\x03\x80");
    S_BYTES("wire", "bad-version", "OB\x02\x03\x80");
    S_BYTES("wire", "bad-command", "OB\x01\x7f\x80");
    S_BYTES("wire", "bad-short-header", "OB\x01");
    S_BYTES("wire", "bad-empty-body", "OB\x01\x03");
    S_BYTES("wire", "bad-huge-array", "OB\x01\x03\xdd\xff\xff\xff\xff\x00\x00\x00\x00");
    S_BYTES("wire", "bad-not-a-map", "OB\x01\x03\x90");
    S_BYTES("wire", "bad-trailing", "OB\x01\x03\x80\x80");
    S_BYTES("wire", "bad-confirm-seq-0",
            "OB\x01\x11\x83\xa3req\x01\xa3seq\x00\xa3"
            "dup\xc2");
    S_BYTES("wire", "bad-hello-heartbeat", "OB\x01\x01\x82\xa4name\xa1n\xacheartbeat_ms\x05");
    S_BYTES("wire", "bad-hello-max-run", "OB\x01\x01\x82\xa4name\xa1n\xa7max_run\x41");
    S_BYTES("wire", "bad-duplicate-req", "OB\x01\x10\x82\xa3req\x01\xa3req\x02");
    S_BYTES("wire", "bad-subscribe-no-pattern", "OB\x01\x20\x82\xa3req\x01\xa8patterns\x90");
    S_BYTES("wire", "bad-subscribe-17-patterns",
            "OB\x01\x20\x82\xa3req\x01\xa8patterns\xdc\x00\x11"
            "\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x\xa1x"
            "\xa1x");
    S_BYTES("wire", "bad-subscribe-seq-missing",
            "OB\x01\x20\x83\xa3req\x01\xa8patterns\x91\xa1x\xa5start\xa3seq");
    S_BYTES("wire", "bad-subscribe-start",
            "OB\x01\x20\x83\xa3req\x01\xa8patterns\x91\xa1x\xa5start\xa4last");
    S_BYTES("wire", "bad-subscribe-credit-0",
            "OB\x01\x20\x83\xa3req\x01\xa8patterns\x91\xa1x\xa6"
            "credit\x00");
    S_BYTES("wire", "bad-unsubscribe-sub-uppercase", "OB\x01\x25\x82\xa3req\x01\xa3sub\xa1X");
    S_BYTES("wire", "bad-deliver-attempt-0",
            "OB\x01\x22\x85\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa7"
            "attempt\x00\xa4time\x00");
    S_BYTES("wire", "bad-deliver-run-no-times",
            "OB\x01\x22\x86\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa7"
            "attempt\x01\xa4time\x05\xa5"
            "count\x02");
    S_BYTES("wire", "bad-deliver-run-times-length",
            "OB\x01\x22\x87\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa7"
            "attempt\x01\xa4time\x05\xa5"
            "count\x03\xa5times\x92\x05\x06");
    S_BYTES("wire", "bad-deliver-run-first-time",
            "OB\x01\x22\x87\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa7"
            "attempt\x01\xa4time\x05\xa5"
            "count\x02\xa5times\x92\x06\x06");
    S_BYTES("wire", "bad-deliver-run-wraps",
            "OB\x01\x22\x87\xa3sub\xa1s\xa5topic\xa1t\xa3seq\xcf\xff\xff\xff\xff\xff\xff\xff"
            "\xff\xa7"
            "attempt\x01\xa4time\x05\xa5"
            "count\x02\xa5times\x92\x05\x05");
    S_BYTES("wire", "bad-deliver-count-65",
            "OB\x01\x22\x86\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa7"
            "attempt\x01\xa4time\x05\xa5"
            "count\x41");
    S_BYTES("wire", "bad-nack-delay",
            "OB\x01\x24\x84\xa3sub\xa1s\xa5topic\xa1t\xa3seq\x01\xa8"
            "delay_ms\xce\x00\x36\xee\x81");
    S_BYTES("wire", "bad-ok-req-0", "OB\x01\x06\x81\xa3req\x00");
    S_BYTES("wire", "bad-ok-duplicate-result",
            "OB\x01\x06\x83\xa3req\x01\xa6result\x90\xa6result\x80");
    S_BYTES("wire", "bad-ok-result-truncated", "OB\x01\x06\x82\xa3req\x01\xa6result\x92\x01");
    S_BYTES("wire", "bad-fetch-seq-0", "OB\x01\x35\x83\xa3req\x01\xa5topic\xa1t\xa3seq\x00");
    S_BYTES("wire", "bad-fetch-range-count-0",
            "OB\x01\x35\x84\xa3req\x01\xa5topic\xa1t\xa3seq\x01\xa5"
            "count\x00");
    S_BYTES("wire", "bad-fetch-range-over-cap",
            "OB\x01\x35\x84\xa3req\x01\xa5topic\xa1t\xa3seq\x01\xa5"
            "count\xcd\x01\x01");
    S_BYTES("wire", "bad-fetch-time-without-count",
            "OB\x01\x35\x84\xa3req\x01\xa5topic\xa1t\xa3seq\x01\xa4time\x05");
}

static void
s_objects(void)
{
    /* One of each msgpack type, including those the decoders refuse. */
    S_BYTES("mpscan", "ok-scalars",
            "\xdc\x00\x10\xc0\xc2\xc3\x7f\xe0\xcc\xff\xcd\xff\xff\xce\x01\x02\x03"
            "\x04\xcf\x01\x02\x03\x04\x05\x06\x07\x08\xd0\x80\xd1\x80\x00"
            "\xd2\x80\x00\x00\x00\xd3\x80\x00\x00\x00\x00\x00\x00\x00\xca"
            "\x3f\x80\x00\x00\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00\xa0");
    S_BYTES("mpscan", "ok-strings",
            "\x96\xa3"
            "abc\xd9\x02"
            "ab\xda\x00\x02"
            "ab\xdb\x00\x00\x00\x02"
            "ab\xc4\x01\x00\xc5\x00\x01\x00");
    S_BYTES("mpscan", "ok-containers",
            "\x83\xa1"
            "a\x92\x91\x80\xa0\xa1"
            "b\x81\xc0\x90\xa1"
            "c\xdc\x00\x02\xde\x00\x01\x01\x02\xdf\x00\x00\x00\x00");
    S_BYTES("mpscan", "ok-depth-8", "\x91\x91\x91\x91\x91\x91\x91\x81\xa1k\xc0");
    S_BYTES("mpscan", "bad-depth-9", "\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0");
    S_BYTES("mpscan", "bad-reserved", "\x92\x01\xc1");
    S_BYTES("mpscan", "bad-ext", "\x92\xd4\x01\x00\xc7\x01\x05\x00");
    S_BYTES("mpscan", "bad-huge-array", "\xdd\xff\xff\xff\xff\x00\x00\x00\x00");
    S_BYTES("mpscan", "bad-huge-str", "\xdb\xff\xff\xff\xff");
    S_BYTES("mpscan", "bad-map-over-cap", "\xde\x00\x41");
    S_BYTES("mpscan", "bad-count-beyond-bytes", "\xdc\x00\x10\xc0\xc0");
    /* valid msgpack, which ob_mp_map_fields refuses */
    S_BYTES("mpscan", "ok-duplicate-keys", "\x82\xa1k\x01\xa1k\x02");
}

/* fuzz_broker seeds: sequences of messages in fuzz_broker.c's format (control byte: peer and
   frame count, then each frame as a 2-byte big-endian length and its bytes). */
static uint8_t s_seq[16384]; /* the sequence being built */
static size_t s_seq_len;     /* bytes used in s_seq */

/* Appends one frame to s_seq. */
static void
s_seq_frame(const void *data, size_t len)
{
    if (len > 0xffff || s_seq_len + 2 + len > sizeof s_seq) {
        fprintf(stderr, "gen_corpus: broker sequence too long\n");
        s_failed = 1;
        return;
    }
    s_seq[s_seq_len++] = (uint8_t)(len >> 8);
    s_seq[s_seq_len++] = (uint8_t)len;
    memcpy(s_seq + s_seq_len, data, len);
    s_seq_len += len;
}

/* Appends msg from peer (0..2) to s_seq: header, body and, if event is not NULL, the event
   frame. */
static void
s_seq_msg(unsigned peer, const ob_wire_msg_t *msg, const uint8_t *event, size_t event_len)
{
    static uint8_t body[OB_BODY_MAX];
    uint8_t header[OB_HEADER_SIZE];
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    int rc = ob_wire_encode_body(msg, body, sizeof body, &body_len);
    if (rc) {
        fprintf(stderr, "gen_corpus: broker %s: %s\n", ob_command_name(msg->command),
                ob_strerror(rc));
        s_failed = 1;
        return;
    }
    if (s_seq_len >= sizeof s_seq) {
        s_failed = 1;
        return;
    }
    s_seq[s_seq_len++] = (uint8_t)(peer | (event ? 2u << 2 : 1u << 2));
    s_seq_frame(header, sizeof header);
    s_seq_frame(body, body_len);
    if (event)
        s_seq_frame(event, event_len);
}

/* Appends a message of n raw frames (1..4) from peer. */
static void
s_seq_raw(unsigned peer, size_t n, const char *const *frames, const size_t *lens)
{
    s_seq[s_seq_len++] = (uint8_t)(peer | (unsigned)(n - 1) << 2);
    for (size_t i = 0; i < n; i++)
        s_seq_frame(frames[i], lens[i]);
}

/* Appends HELLO from peer, asking for DELIVER runs of up to max_run (0: none). */
static void
s_seq_hello_run(unsigned peer, uint32_t heartbeat_ms, uint32_t max_run)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_HELLO);
    snprintf(msg.name, sizeof msg.name, "peer-%u", peer);
    msg.heartbeat_ms = heartbeat_ms;
    msg.max_run = max_run;
    s_seq_msg(peer, &msg, NULL, 0);
}

/* Appends HELLO from peer. */
static void
s_seq_hello(unsigned peer, uint32_t heartbeat_ms)
{
    s_seq_hello_run(peer, heartbeat_ms, 0);
}

/* Appends PUBLISH req from peer of an event on topic with id and data_len bytes of data. */
static void
s_seq_publish(unsigned peer, uint64_t req, const char *topic, const char *id, size_t data_len)
{
    static uint8_t data[4096];
    memset(data, 'x', sizeof data);
    ob_event_t e = {.id = id,
                    .topic = topic,
                    .type = "project.updated",
                    .time_us = 1700000000000000ull + req,
                    .oms_id = 7,
                    .data = data,
                    .data_len = data_len < sizeof data ? data_len : sizeof data};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = ob_event_encode(&e, &buf, &len);
    if (rc) {
        fprintf(stderr, "gen_corpus: broker event: %s\n", ob_strerror(rc));
        s_failed = 1;
        return;
    }
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_PUBLISH);
    msg.req = req;
    s_seq_msg(peer, &msg, buf, len);
    free(buf);
}

/* Appends a SUBSCRIBE from peer. */
static void
s_seq_subscribe(unsigned peer, uint64_t req, const char *sub, const char *pattern, ob_start_t start,
                uint32_t credit, uint32_t max_attempts)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
    msg.req = req;
    snprintf(msg.sub, sizeof msg.sub, "%s", sub);
    msg.pattern_count = 1;
    snprintf(msg.patterns[0], sizeof msg.patterns[0], "%s", pattern);
    msg.start = start;
    if (start == OB_START_SEQ)
        msg.start_seq = 1;
    msg.credit = credit;
    msg.max_attempts = max_attempts;
    msg.ack_wait_ms = OB_ACK_WAIT_MS_MIN;
    msg.backoff_ms = 0;
    s_seq_msg(peer, &msg, NULL, 0);
}

/* Appends an ACK (or a NACK if nack) from peer. */
static void
s_seq_ack(unsigned peer, int nack, const char *sub, const char *topic, uint64_t seq, int upto)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, nack ? OB_CMD_NACK : OB_CMD_ACK);
    snprintf(msg.sub, sizeof msg.sub, "%s", sub);
    snprintf(msg.topic, sizeof msg.topic, "%s", topic);
    msg.seq = seq;
    msg.upto = nack ? 0 : upto;
    s_seq_msg(peer, &msg, NULL, 0);
}

/* Appends an admin request (TOPICS, SUBS, SUB_INFO, SUB_REPOSITION, SUB_DELETE,
   UNSUBSCRIBE, FETCH) from peer. */
static void
s_seq_admin(unsigned peer, int command, uint64_t req, const char *sub, const char *topic,
            uint64_t seq)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, command);
    msg.req = req;
    snprintf(msg.sub, sizeof msg.sub, "%s", sub);
    if (command == OB_CMD_FETCH) {
        snprintf(msg.topic, sizeof msg.topic, "%s", topic);
        msg.seq = seq;
    }
    if (command == OB_CMD_SUB_REPOSITION) {
        msg.start = OB_START_SEQ;
        msg.start_seq = seq;
    }
    s_seq_msg(peer, &msg, NULL, 0);
}

/* Writes s_seq as broker seed name and empties it. */
static void
s_seq_write(const char *name)
{
    s_write("broker", name, s_seq, s_seq_len);
    s_seq_len = 0;
}

static void
s_brokers(void)
{
    ob_wire_msg_t msg;

    s_seq_hello(0, 0);
    s_seq_write("ok-hello");

    s_seq_hello(0, OB_HEARTBEAT_MS_MIN);
    s_seq_publish(0, 1, "oms.7", "e-1", 40);
    s_seq_write("ok-hello-publish");

    /* a batch, a duplicate id, a second topic, an event over max_event_bytes (2K) */
    s_seq_hello(0, 0);
    s_seq_publish(0, 1, "oms.7", "e-1", 10);
    s_seq_publish(0, 2, "oms.7", "e-2", 10);
    s_seq_publish(0, 3, "oms.7", "e-1", 10);
    s_seq_publish(0, 4, "oms.8.project_item", "e-3", 500);
    s_seq_publish(0, 5, "oms.8.project_item", "e-4", 3000);
    s_seq_write("ok-publish-batch");

    /* over the retention limit of 32 events: a later subscriber sees skipped events */
    s_seq_hello(0, 0);
    for (uint64_t i = 0; i < 40; i++) {
        char id[16];
        snprintf(id, sizeof id, "r-%02u", (unsigned)i);
        s_seq_publish(0, i + 1, "retained", id, 1);
    }
    s_seq_write("ok-publish-retention");

    s_seq_hello(1, 0);
    s_seq_subscribe(1, 1, "orders", "oms.>", OB_START_EARLIEST, 4, 3);
    s_seq_hello(0, 0);
    s_seq_publish(0, 1, "oms.7", "s-1", 20);
    s_seq_publish(0, 2, "oms.7", "s-2", 20);
    s_seq_ack(1, 0, "orders", "oms.7", 1, 0);
    s_seq_ack(1, 1, "orders", "oms.7", 2, 0);
    s_seq_ack(1, 0, "orders", "oms.7", 2, 1);
    s_seq_write("ok-subscribe-publish-ack");

    /* a stored backlog read by a subscriber taking runs of 8 and one taking single
       DELIVERs, competing (PROTOCOL.md 12.3) */
    s_seq_hello(0, 0);
    for (uint64_t i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof id, "b-%02u", (unsigned)i);
        s_seq_publish(0, i + 1, "backlog", id, 30);
    }
    s_seq_hello_run(1, 0, 8);
    s_seq_subscribe(1, 1, "runs", "backlog", OB_START_EARLIEST, 16, 0);
    s_seq_hello(2, 0);
    s_seq_subscribe(2, 1, "runs", "backlog", OB_START_EARLIEST, 16, 0);
    s_seq_ack(1, 0, "runs", "backlog", 5, 1);
    s_seq_ack(2, 0, "runs", "backlog", 20, 1);
    s_seq_write("ok-subscribe-runs");

    /* an ephemeral subscriber from the start of the topic (its name is the broker's) */
    s_seq_hello(2, 0);
    s_seq_subscribe(2, 1, "", "retained", OB_START_SEQ, 64, 0);
    s_seq_write("ok-subscribe-ephemeral");

    /* one attempt, a NACK: the event goes to dlq.<sub>; a second peer reads the dead
       letters */
    s_seq_hello(1, 0);
    s_seq_subscribe(1, 1, "once", "mp.>", OB_START_NEW, 1, 1);
    s_seq_hello(0, 0);
    s_seq_publish(0, 1, "mp.7", "d-1", 5);
    s_seq_ack(1, 1, "once", "mp.7", 1, 0);
    s_seq_hello(2, 0);
    s_seq_subscribe(2, 1, "letters", "dlq.>", OB_START_EARLIEST, 8, 0);
    s_seq_write("ok-dead-letter");

    s_seq_hello(0, 0);
    s_seq_publish(0, 1, "oms.7", "a-1", 5);
    s_seq_subscribe(0, 2, "admin-sub", "oms.*", OB_START_NEW, 2, 0);
    ob_wire_msg_init(&msg, OB_CMD_TOPICS);
    msg.req = 3;
    s_seq_msg(0, &msg, NULL, 0);
    strcpy(msg.after, "oms");
    msg.req = 4;
    s_seq_msg(0, &msg, NULL, 0);
    s_seq_admin(0, OB_CMD_SUBS, 5, "", NULL, 0);
    s_seq_admin(0, OB_CMD_SUB_INFO, 6, "admin-sub", NULL, 0);
    s_seq_admin(0, OB_CMD_FETCH, 7, "", "oms.7", 1);
    s_seq_admin(0, OB_CMD_SUB_REPOSITION, 8, "admin-sub", NULL, 1);
    s_seq_admin(0, OB_CMD_UNSUBSCRIBE, 9, "admin-sub", NULL, 0);
    s_seq_admin(0, OB_CMD_SUB_DELETE, 10, "admin-sub", NULL, 0);
    s_seq_write("ok-admin");

    /* FETCH of ranges: from 1, from a time, past the end, beyond it (INVALID_ARGUMENT) */
    s_seq_hello(0, 0);
    s_seq_publish(0, 1, "oms.7", "f-1", 5);
    s_seq_publish(0, 2, "oms.7", "f-2", 5);
    static const struct {
        uint64_t seq, time;
        uint32_t count;
    } ranges[] = {{1, 0, 2}, {1, 1, OB_FETCH_RANGE_MAX}, {3, 0, 1}, {4, 0, 1}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        ob_wire_msg_init(&msg, OB_CMD_FETCH);
        msg.req = 3 + i;
        strcpy(msg.topic, "oms.7");
        msg.seq = ranges[i].seq;
        msg.time = ranges[i].time;
        msg.count = ranges[i].count;
        s_seq_msg(0, &msg, NULL, 0);
    }
    s_seq_write("ok-fetch-range");

    /* refusals: no session, frame counts, bad header, a PUBLISH whose event is not one */
    ob_wire_msg_init(&msg, OB_CMD_PING);
    s_seq_msg(1, &msg, NULL, 0);
    s_seq_publish(1, 1, "oms.7", "n-1", 1);
    s_seq_admin(1, OB_CMD_TOPICS, 2, "", NULL, 0);
    static const char *const one[] = {"OB\x01\x03"};
    static const size_t one_len[] = {4};
    s_seq_raw(1, 1, one, one_len);
    static const char *const four[] = {"OB\x01\x03", "\x80", "", ""};
    static const size_t four_len[] = {4, 1, 0, 0};
    s_seq_raw(1, 4, four, four_len);
    static const char *const bad_header[] = {"OB\x02\x03", "\x80"};
    static const size_t bad_header_len[] = {4, 1};
    s_seq_raw(1, 2, bad_header, bad_header_len);
    s_seq_hello(1, 0);
    static const char *const bad_event[] = {"OB\x01\x10", "\x81\xa3req\x01", "\x80"};
    static const size_t bad_event_len[] = {4, 5, 1};
    s_seq_raw(1, 3, bad_event, bad_event_len);
    s_seq_write("bad-refusals");
}

#define S_JOURNAL_SEGMENT 4096 /* the journal seeds' segment size */
#define S_JOURNAL_PREFIX 16    /* salt and lsn before a journal seed's bytes */

/* Reads up to len bytes of the file dir/name into buf; returns how many. */
static size_t
s_read(const char *dir, const char *name, uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen(path, "rb");
    size_t got = file ? fread(buf, 1, len, file) : 0;
    if (file)
        fclose(file);
    return got;
}

/* Removes dir/name. */
static void
s_remove(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
}

/* Writes a journal seed: salt, lsn, then len bytes at data. */
static void
s_journal_seed(const char *name, const uint8_t *salt, uint64_t lsn, const uint8_t *data, size_t len)
{
    static uint8_t buf[S_JOURNAL_PREFIX + S_JOURNAL_SEGMENT];
    memcpy(buf, salt, 8);
    for (int i = 0; i < 8; i++)
        buf[8 + i] = (uint8_t)(lsn >> (56 - 8 * i));
    memcpy(buf + S_JOURNAL_PREFIX, data, len);
    s_write("journal", name, buf, S_JOURNAL_PREFIX + len);
}

/* Seeds of fuzz_journal from a journal of 4 KiB segments: records of 0, 1 and 40 bytes,
   then of 100 until one goes into the second segment after a NEXT. */
static void
s_journals(void)
{
    static uint8_t seg0[S_JOURNAL_SEGMENT], seg1[S_JOURNAL_SEGMENT], payload[100];
    static const uint8_t other[8] = {0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78};
    static const size_t sizes[] = {0, 1, 40};
    char root[] = "/tmp/ob-gen-corpus-XXXXXX", dir[64], seg1_name[32];
    uint8_t salt[8];
    uint64_t next = 0, lsn = 0;
    ob_journal_t *journal = NULL;
    if (!mkdtemp(root)) {
        fprintf(stderr, "gen_corpus: %s: %s\n", root, strerror(errno));
        s_failed = 1;
        return;
    }
    snprintf(dir, sizeof dir, "%s/j", root);
    snprintf(seg1_name, sizeof seg1_name, "seg-%016x", S_JOURNAL_SEGMENT);
    int rc = ob_journal_open(dir, S_JOURNAL_SEGMENT, &journal);
    for (size_t i = 0; !rc && lsn < S_JOURNAL_SEGMENT; i++) {
        memset(payload, (int)i, sizeof payload);
        struct iovec iov = {.iov_base = payload,
                            .iov_len = i < sizeof sizes / sizeof *sizes ? sizes[i] : 100};
        next = ob_journal_end(journal); /* where the NEXT goes, at the last record */
        rc = ob_journal_append(journal, &iov, 1, &lsn);
    }
    ob_journal_close(&journal);
    if (rc || s_read(dir, "checkpoint", seg0, 28) != 28) {
        fprintf(stderr, "gen_corpus: journal: %s\n", ob_strerror(rc));
        s_failed = 1;
    } else {
        memcpy(salt, seg0 + 20, sizeof salt); /* journal.c's checkpoint slot layout */
        s_read(dir, "seg-0000000000000000", seg0, sizeof seg0);
        s_read(dir, seg1_name, seg1, sizeof seg1);
        s_journal_seed("ok-segment", salt, 0, seg0, sizeof seg0);
        s_journal_seed("ok-records", salt, 0, seg0, (size_t)next);
        s_journal_seed("ok-one", salt, 0, seg0, OB_JOURNAL_HEADER_BYTES);
        s_journal_seed("ok-next", salt, next, seg0 + next, OB_JOURNAL_HEADER_BYTES);
        s_journal_seed("ok-second", salt, S_JOURNAL_SEGMENT, seg1, 200);
        s_journal_seed("bad-other-salt", other, 0, seg0, 400);
        seg0[2 * OB_JOURNAL_HEADER_BYTES + 1 + 10] ^= 4; /* in the third record's payload */
        s_journal_seed("bad-flipped", salt, 0, seg0, 400);
    }
    s_remove(dir, "checkpoint");
    s_remove(dir, "seg-0000000000000000");
    s_remove(dir, seg1_name);
    s_remove(root, "j");
    remove(root);
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    s_root = argv[1];
    if (mkdir(s_root, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gen_corpus: %s: %s\n", s_root, strerror(errno));
        return 1;
    }
    s_events();
    s_wires();
    s_objects();
    s_brokers();
    s_journals();
    return s_failed ? 1 : 0;
}
