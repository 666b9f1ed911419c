/*  gen_corpus: writes the seed corpora of the fuzz targets. Usage: ob_gen_corpus DIR

    Writes DIR/event/, DIR/wire/ and DIR/mpscan/ (which must exist or be creatable). Valid
    seeds ("ok-*") come from the encoders, so they follow the codec; malformed seeds ("bad-*")
    are written out byte by byte here. The outputs are committed under tests/fuzz/corpus/;
    run this again after a format change:
        build/codec/tests/ob_gen_corpus tests/fuzz/corpus */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    uint8_t buf[OB_HEADER_SIZE + 1024];
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
    S_BYTES("wire", "bad-duplicate-req", "OB\x01\x10\x82\xa3req\x01\xa3req\x02");
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
    return s_failed ? 1 : 0;
}
