/*  test_broker: the broker's server actor in-process (broker/server.h), spoken to over a real
    ipc socket by raw DEALER sockets using the codec (orderbus/wire.h, orderbus/event.h), so
    that every byte a client may send, valid or not, can be sent.

    Each test starts the server with the shipped example configuration
    (deploy/orderbus-broker.cfg) overridden by flags: its own scratch directory under /tmp,
    an ipc endpoint in it, and a small max_event_bytes. Replies are awaited with a poller and
    a timeout, never with sleeps. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>
#include <msgpack.h>

#include "config.h"
#include "orderbus/orderbus.h"
#include "peer.h"
#include "server.h"
#include "store.h"

#define T_MAX_EVENT "4K" /* max_event_bytes the tests configure */
#define T_MAX_EVENT_BYTES 4096
#define T_PIPELINE 500 /* publishes sent before reading their confirmations */

typedef struct t_fixture {
    char dir[T_PATH_MAX];          /* scratch directory */
    char data_dir[T_PATH_MAX * 2]; /* the broker's data directory in it */
    char endpoint[T_PATH_MAX * 2]; /* ipc endpoint in it */
    zactor_t *server;              /* the running server, or NULL */
    uint64_t next_req;             /* request ids, unique per fixture */
    int next_id;                   /* event ids, unique per fixture */
} t_fixture_t;

/* Starts the server on the fixture's directory and endpoint, with extra flags (a NULL-
   terminated list). */
static void
s_start(t_fixture_t *fx, ...)
{
    char *argv[24] = {(char *)"orderbus-broker",
                      (char *)"--config",
                      (char *)OB_SOURCE_DIR "/deploy/orderbus-broker.cfg",
                      (char *)"--data-dir",
                      fx->data_dir,
                      (char *)"--endpoint",
                      fx->endpoint,
                      (char *)"--max-event-bytes",
                      (char *)T_MAX_EVENT,
                      (char *)"--metrics="}; /* no fixed port in a test */
    int argc = 10;
    va_list args;
    va_start(args, fx);
    for (char *arg = va_arg(args, char *); arg && argc < 23; arg = va_arg(args, char *))
        argv[argc++] = arg;
    va_end(args);

    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    int rc = ob_config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc)
        print_error("config: %s\n", err);
    assert_int_equal(rc, 0);
    rc = ob_server_start(&cfg, &fx->server, err, sizeof err);
    if (rc)
        print_error("start: %s\n", err);
    assert_int_equal(rc, 0);
    assert_non_null(fx->server);
}

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-test-broker-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->data_dir, sizeof fx->data_dir, "%s/data", fx->dir);
    snprintf(fx->endpoint, sizeof fx->endpoint, "ipc://%s/broker.ipc", fx->dir);
    fx->next_req = 1;
    s_start(fx, NULL);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    zactor_destroy(&fx->server);
    t_remove_tree(fx->dir);
    free(fx);
    return 0;
}

/* Returns a new DEALER connected to the fixture's server. */
static zsock_t *
s_client(t_fixture_t *fx)
{
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    assert_non_null(dealer);
    zsock_set_linger(dealer, 0);
    assert_int_equal(zsock_connect(dealer, "%s", fx->endpoint), 0);
    return dealer;
}

/* Sends count raw frames. */
static void
s_send_frames(zsock_t *dealer, size_t count, const void *const *data, const size_t *len)
{
    zmsg_t *msg = zmsg_new();
    for (size_t i = 0; i < count; i++)
        assert_int_equal(zmsg_addmem(msg, data[i], len[i]), 0);
    assert_int_equal(zmsg_send(&msg, dealer), 0);
}

/* Sends msg (header and body), then the event frame if event is not NULL. */
static void
s_send_msg(zsock_t *dealer, const ob_wire_msg_t *msg, const uint8_t *event, size_t event_len)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t body[OB_SERVER_REPLY_MAX];
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    assert_int_equal(ob_wire_encode_body(msg, body, sizeof body, &body_len), 0);
    const void *data[3] = {header, body, event};
    size_t len[3] = {sizeof header, body_len, event_len};
    s_send_frames(dealer, event ? 3 : 2, data, len);
}

/* Waits for one reply and decodes it into *ret. */
static void
s_recv(zsock_t *dealer, ob_wire_msg_t *ret)
{
    zpoller_t *poller = zpoller_new(dealer, NULL);
    void *which = zpoller_wait(poller, T_TIMEOUT_MS);
    zpoller_destroy(&poller);
    if (!which)
        fail_msg("no reply within %d ms", T_TIMEOUT_MS);
    zmsg_t *msg = zmsg_recv(dealer);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 2);
    zframe_t *header = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    int rc = ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                            zframe_size(body), ret);
    assert_int_equal(rc, 0);
    zmsg_destroy(&msg);
}

/* Asserts that nothing arrives within timeout_ms. */
static void
s_expect_silence(zsock_t *dealer, int timeout_ms)
{
    zpoller_t *poller = zpoller_new(dealer, NULL);
    void *which = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    assert_null(which);
}

/* Waits for an ERROR and checks its request id and code. */
static void
s_expect_error(zsock_t *dealer, uint64_t req, int rc)
{
    ob_wire_msg_t reply;
    s_recv(dealer, &reply);
    if (reply.command != OB_CMD_ERROR || reply.code != ob_error_to_wire(rc) || reply.req != req)
        print_error("got %s code %u req %" PRIu64 " (%s), expected ERROR %u req %" PRIu64 "\n",
                    ob_command_name(reply.command), reply.code, reply.req, reply.reason,
                    ob_error_to_wire(rc), req);
    assert_int_equal(reply.command, OB_CMD_ERROR);
    assert_int_equal(reply.code, ob_error_to_wire(rc));
    assert_int_equal(reply.req, req);
    assert_true(strlen(reply.reason) > 0);
}

/* Says HELLO (heartbeat 0 for the default) and checks the WELCOME; returns it in *ret. */
static void
s_hello(zsock_t *dealer, uint32_t heartbeat_ms, ob_wire_msg_t *ret)
{
    ob_wire_msg_t hello;
    memset(&hello, 0, sizeof hello);
    hello.command = OB_CMD_HELLO;
    snprintf(hello.name, sizeof hello.name, "test");
    hello.heartbeat_ms = heartbeat_ms;
    s_send_msg(dealer, &hello, NULL, 0);
    s_recv(dealer, ret);
    assert_int_equal(ret->command, OB_CMD_WELCOME);
    assert_string_equal(ret->version, OB_VERSION_STRING);
    assert_int_equal(strlen(ret->session), OB_SERVER_SESSION_LEN);
    assert_int_equal(ret->heartbeat_ms, heartbeat_ms ? heartbeat_ms : OB_HEARTBEAT_MS_DEFAULT);
    assert_int_equal(ret->max_event, T_MAX_EVENT_BYTES);
}

/* Encodes an event of topic with id (both borrowed) and data_len bytes of data. */
static void
s_event(const char *topic, const char *id, size_t data_len, uint8_t **ret_buf, size_t *ret_len)
{
    uint8_t *data = calloc(1, data_len + 1);
    assert_non_null(data);
    memset(data, 'd', data_len);
    ob_event_t event;
    memset(&event, 0, sizeof event);
    event.id = id;
    event.topic = topic;
    event.type = "project_item.created";
    event.time_us = 1700000000000000ull;
    event.source = "test_broker";
    event.oms_id = 1;
    event.data = data;
    event.data_len = data_len;
    assert_int_equal(ob_event_encode(&event, ret_buf, ret_len), 0);
    free(data);
}

/* Sends PUBLISH of an event of topic and id with request id req. */
static void
s_send_publish(zsock_t *dealer, uint64_t req, const char *topic, const char *id)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    s_event(topic, id, 16, &buf, &len);
    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_PUBLISH;
    msg.req = req;
    s_send_msg(dealer, &msg, buf, len);
    free(buf);
}

/* The rest of a CONFIRM run (PROTOCOL.md: one CONFIRM may cover consecutive reqs) that a
   dealer received and the test has not yet expected, one per dealer in use. */
typedef struct {
    zsock_t *dealer;   /* whose run this is, or NULL */
    ob_wire_msg_t run; /* next req and seq still covered, count left */
} t_run_t;

#define T_RUNS 8
static t_run_t s_runs[T_RUNS];

/* Waits for the CONFIRM of req (possibly inside a run); returns its seq and sets *ret_dup. */
static uint64_t
s_expect_confirm(zsock_t *dealer, uint64_t req, int *ret_dup)
{
    t_run_t *slot = NULL;
    for (int i = 0; i < T_RUNS && !slot; i++)
        if (s_runs[i].dealer == dealer)
            slot = &s_runs[i];
    for (int i = 0; i < T_RUNS && !slot; i++)
        if (!s_runs[i].dealer)
            slot = &s_runs[i];
    assert_non_null(slot);
    if (!slot->dealer || slot->run.count == 0) {
        slot->dealer = dealer;
        s_recv(dealer, &slot->run);
        if (slot->run.command != OB_CMD_CONFIRM)
            print_error("got %s code %u (%s) for req %" PRIu64 "\n",
                        ob_command_name(slot->run.command), slot->run.code, slot->run.reason, req);
        assert_int_equal(slot->run.command, OB_CMD_CONFIRM);
        if (slot->run.count == 0)
            slot->run.count = 1;
    }
    ob_wire_msg_t *reply = &slot->run;
    assert_int_equal(reply->req, req);
    assert_true(reply->seq >= 1);
    if (ret_dup)
        *ret_dup = reply->dup;
    uint64_t seq = reply->seq;
    reply->req++, reply->seq++, reply->count--;
    if (reply->count == 0)
        slot->dealer = NULL;
    return seq;
}

/* Publishes one event with a fresh id and request id; returns its seq. */
static uint64_t
s_publish_new(t_fixture_t *fx, zsock_t *dealer, const char *topic)
{
    char id[32];
    snprintf(id, sizeof id, "fresh-%d", fx->next_id++);
    uint64_t req = fx->next_req++;
    s_send_publish(dealer, req, topic, id);
    int dup = -1;
    uint64_t seq = s_expect_confirm(dealer, req, &dup);
    assert_int_equal(dup, 0);
    return seq;
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_hello_welcome(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome_a, welcome_b;
    s_hello(a, 0, &welcome_a);
    s_hello(b, 500, &welcome_b);
    /* one session id per broker start */
    assert_string_equal(welcome_a.session, welcome_b.session);
    /* HELLO again resets the session */
    s_hello(a, 2000, &welcome_a);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

static void
test_hello_required(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    s_send_publish(a, 42, "oms.1", "early");
    s_expect_error(a, 42, OB_ERR_HELLO_REQUIRED);

    ob_wire_msg_t ping;
    memset(&ping, 0, sizeof ping);
    ping.command = OB_CMD_PING;
    s_send_msg(a, &ping, NULL, 0);
    s_expect_error(a, 0, OB_ERR_HELLO_REQUIRED);

    /* after HELLO the same publish goes through */
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    s_send_publish(a, 43, "oms.1", "early");
    int dup = -1;
    assert_int_equal(s_expect_confirm(a, 43, &dup), 1);
    assert_int_equal(dup, 0);
    zsock_destroy(&a);
}

static void
test_ping_pong(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    ob_wire_msg_t welcome, reply, ping;
    s_hello(a, 0, &welcome);
    memset(&ping, 0, sizeof ping);
    ping.command = OB_CMD_PING;
    for (int i = 0; i < 3; i++) {
        s_send_msg(a, &ping, NULL, 0);
        s_recv(a, &reply);
        assert_int_equal(reply.command, OB_CMD_PONG);
    }
    zsock_destroy(&a);
}

static void
test_publish_confirm(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    s_hello(b, 0, &welcome);

    for (uint64_t i = 1; i <= 5; i++)
        assert_int_equal(s_publish_new(fx, a, "oms.1"), i);

    /* pipelined from two clients on two topics: confirmations come in publish order per
       client, with sequence numbers in publish order per topic */
    char id[32];
    for (int i = 0; i < T_PIPELINE; i++) {
        snprintf(id, sizeof id, "a-%d", i);
        s_send_publish(a, 1000 + (uint64_t)i, "oms.1", id);
        snprintf(id, sizeof id, "b-%d", i);
        s_send_publish(b, 5000 + (uint64_t)i, "oms.2", id);
    }
    for (int i = 0; i < T_PIPELINE; i++) {
        int dup = -1;
        assert_int_equal(s_expect_confirm(a, 1000 + (uint64_t)i, &dup), 6 + (uint64_t)i);
        assert_int_equal(dup, 0);
        assert_int_equal(s_expect_confirm(b, 5000 + (uint64_t)i, &dup), 1 + (uint64_t)i);
        assert_int_equal(dup, 0);
    }

    uint64_t received, published, duplicates, errors, batches, batched, dropped;
    assert_int_equal(zstr_send(fx->server, OB_SERVER_STATS), 0);
    assert_int_equal(zsock_recv(fx->server, "8888888", &received, &published, &duplicates, &errors,
                                &batches, &batched, &dropped),
                     0);
    assert_int_equal(published, 5 + 2 * T_PIPELINE);
    assert_int_equal(batched, published);
    assert_int_equal(errors, 0);
    assert_int_equal(dropped, 0);
    assert_true(batches >= 1 && batches <= published);
    print_message("%" PRIu64 " publishes in %" PRIu64 " batches\n", published, batches);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

static void
test_dedup_over_wire(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    s_hello(b, 0, &welcome);
    int dup = -1;
    s_send_publish(a, 1, "oms.7", "same");
    assert_int_equal(s_expect_confirm(a, 1, &dup), 1);
    assert_int_equal(dup, 0);
    s_send_publish(a, 2, "oms.7", "other");
    assert_int_equal(s_expect_confirm(a, 2, &dup), 2);
    /* again, from the same and from another client */
    s_send_publish(a, 3, "oms.7", "same");
    assert_int_equal(s_expect_confirm(a, 3, &dup), 1);
    assert_int_equal(dup, 1);
    s_send_publish(b, 9, "oms.7", "same");
    assert_int_equal(s_expect_confirm(b, 9, &dup), 1);
    assert_int_equal(dup, 1);
    /* twice in a row, pipelined (likely in one batch) */
    s_send_publish(a, 4, "oms.7", "twin");
    s_send_publish(a, 5, "oms.7", "twin");
    assert_int_equal(s_expect_confirm(a, 4, &dup), 3);
    assert_int_equal(dup, 0);
    assert_int_equal(s_expect_confirm(a, 5, &dup), 3);
    assert_int_equal(dup, 1);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

/* One bad message: its frames, and the ERROR it must get. */
typedef struct t_bad {
    const char *name;    /* what is wrong */
    size_t frames;       /* frames to send */
    const void *data[4]; /* their bytes */
    size_t len[4];       /* their sizes */
    uint64_t req;        /* request id expected in the ERROR */
    int rc;              /* error expected */
} t_bad_t;

static void
test_bad_input(void **state)
{
    t_fixture_t *fx = *state;
    static const uint8_t hdr_short[] = {'O', 'B', 1};
    static const uint8_t hdr_sig[] = {'X', 'B', 1, OB_CMD_PING};
    static const uint8_t hdr_version[] = {'O', 'B', 9, OB_CMD_PING};
    static const uint8_t hdr_unknown[] = {'O', 'B', 1, 0x7f};
    static const uint8_t hdr_ping[] = {'O', 'B', 1, OB_CMD_PING};
    static const uint8_t hdr_pong[] = {'O', 'B', 1, OB_CMD_PONG};
    static const uint8_t hdr_welcome[] = {'O', 'B', 1, OB_CMD_WELCOME};
    static const uint8_t hdr_hello[] = {'O', 'B', 1, OB_CMD_HELLO};
    static const uint8_t hdr_publish[] = {'O', 'B', 1, OB_CMD_PUBLISH};
    static const uint8_t body_empty_map[] = {0x80};
    static const uint8_t body_never_used[] = {0xc1};
    static const uint8_t body_not_map[] = {0x01};
    static const uint8_t body_truncated[] = {0x81, 0xa3, 'r', 'e'};
    /* {"req": 77} */
    static const uint8_t body_req77[] = {0x81, 0xa3, 'r', 'e', 'q', 77};
    /* {"name": "x", "heartbeat_ms": 5}: heartbeat below OB_HEARTBEAT_MS_MIN */
    static const uint8_t body_hello_hb[] = {0x82, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x',
                                            0xac, 'h',  'e', 'a', 'r', 't', 'b',  'e',
                                            'a',  't',  '_', 'm', 's', 5};
    static const uint8_t event_garbage[] = {0xc1, 0xc1};

    /* an oversized but valid event, and an event with an invalid topic (the encoder refuses
       to build one, so it is packed by hand) */
    uint8_t *big = NULL;
    size_t big_len = 0;
    s_event("oms.1", "big", T_MAX_EVENT_BYTES + 100, &big, &big_len);
    /* far over max_event and over a body's cap, under the hard cap: still an ERROR, not a
       disconnect (PROTOCOL.md 3.1) */
    uint8_t *huge = NULL;
    size_t huge_len = 0;
    s_event("oms.1", "huge", 100 * 1024, &huge, &huge_len);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, "x1", 2);
    msgpack_pack_str_with_body(&pk, "topic", 5);
    msgpack_pack_str_with_body(&pk, "Bad Topic", 9);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "message.posted", 14);
    msgpack_pack_str_with_body(&pk, "time", 4);
    msgpack_pack_uint64(&pk, 1);

    const t_bad_t cases[] = {
        {"header frame of 3 bytes", 2, {hdr_short, body_empty_map}, {3, 1}, 0, OB_ERR_SIGNATURE},
        {"wrong signature", 2, {hdr_sig, body_empty_map}, {4, 1}, 0, OB_ERR_SIGNATURE},
        {"bad version", 2, {hdr_version, body_empty_map}, {4, 1}, 0, OB_ERR_VERSION},
        {"unknown command", 2, {hdr_unknown, body_empty_map}, {4, 1}, 0, OB_ERR_UNKNOWN_COMMAND},
        {"broker-only command", 2, {hdr_pong, body_empty_map}, {4, 1}, 0, OB_ERR_UNKNOWN_COMMAND},
        /* PROTOCOL.md 5.3: the command is checked before the body (WELCOME lacks fields) */
        {"broker-only command, bad body",
         2,
         {hdr_welcome, body_empty_map},
         {4, 1},
         0,
         OB_ERR_UNKNOWN_COMMAND},
        /* ... and the frame count before the body */
        {"PUBLISH without event frame, bad body",
         2,
         {hdr_publish, body_never_used},
         {4, 1},
         0,
         OB_ERR_MALFORMED},
        {"HELLO with a third frame, no name",
         3,
         {hdr_hello, body_empty_map, body_empty_map},
         {4, 1, 1},
         0,
         OB_ERR_MALFORMED},
        {"much oversized event",
         3,
         {hdr_publish, body_req77, huge},
         {4, sizeof body_req77, huge_len},
         77,
         OB_ERR_TOO_LARGE},
        {"one frame", 1, {hdr_ping}, {4}, 0, OB_ERR_MALFORMED},
        {"four frames",
         4,
         {hdr_ping, body_empty_map, body_empty_map, body_empty_map},
         {4, 1, 1, 1},
         0,
         OB_ERR_MALFORMED},
        {"PUBLISH without event frame",
         2,
         {hdr_publish, body_req77},
         {4, sizeof body_req77},
         77,
         OB_ERR_MALFORMED},
        {"PING with a third frame",
         3,
         {hdr_ping, body_empty_map, body_empty_map},
         {4, 1, 1},
         0,
         OB_ERR_MALFORMED},
        {"body not msgpack", 2, {hdr_ping, body_never_used}, {4, 1}, 0, OB_ERR_MALFORMED},
        {"body not a map", 2, {hdr_ping, body_not_map}, {4, 1}, 0, OB_ERR_MALFORMED},
        {"body truncated",
         2,
         {hdr_ping, body_truncated},
         {4, sizeof body_truncated},
         0,
         OB_ERR_TRUNCATED},
        {"PUBLISH without req",
         3,
         {hdr_publish, body_empty_map, event_garbage},
         {4, 1, 2},
         0,
         OB_ERR_MISSING_FIELD},
        {"HELLO with a bad heartbeat",
         2,
         {hdr_hello, body_hello_hb},
         {4, sizeof body_hello_hb},
         0,
         OB_ERR_FIELD_TYPE},
        {"event not msgpack",
         3,
         {hdr_publish, body_req77, event_garbage},
         {4, sizeof body_req77, sizeof event_garbage},
         77,
         OB_ERR_MALFORMED},
        {"oversized event",
         3,
         {hdr_publish, body_req77, big},
         {4, sizeof body_req77, big_len},
         77,
         OB_ERR_TOO_LARGE},
        {"invalid topic",
         3,
         {hdr_publish, body_req77, sbuf.data},
         {4, sizeof body_req77, sbuf.size},
         77,
         OB_ERR_INVALID_TOPIC},
    };

    zsock_t *a = s_client(fx);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    s_hello(b, 0, &welcome);
    uint64_t seq = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const t_bad_t *bad = &cases[i];
        print_message("%s\n", bad->name);
        s_send_frames(a, bad->frames, bad->data, bad->len);
        s_expect_error(a, bad->req, bad->rc);
        /* the broker keeps serving the same client and the others */
        assert_int_equal(s_publish_new(fx, a, "oms.1"), ++seq);
        assert_int_equal(s_publish_new(fx, b, "oms.1"), ++seq);
    }

    uint64_t received, published, duplicates, errors, batches, batched, dropped;
    assert_int_equal(zstr_send(fx->server, OB_SERVER_STATS), 0);
    assert_int_equal(zsock_recv(fx->server, "8888888", &received, &published, &duplicates, &errors,
                                &batches, &batched, &dropped),
                     0);
    assert_int_equal(errors, sizeof cases / sizeof cases[0]);
    assert_int_equal(published, seq);
    msgpack_sbuffer_destroy(&sbuf);
    free(big);
    free(huge);
    zsock_destroy(&a);
    zsock_destroy(&b);
}

static void
test_restart_keeps_events(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_ONE = 30, T_TWO = 20 };
    zsock_t *a = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    char first_session[OB_WIRE_SESSION_MAX + 1];
    snprintf(first_session, sizeof first_session, "%s", welcome.session);

    char id[32];
    for (int i = 0; i < T_ONE; i++) {
        snprintf(id, sizeof id, "one-%d", i);
        s_send_publish(a, 100 + (uint64_t)i, "oms.1", id);
        if (i < T_TWO) {
            snprintf(id, sizeof id, "two-%d", i);
            s_send_publish(a, 200 + (uint64_t)i, "oms.2", id);
        }
    }
    for (int i = 0; i < T_ONE; i++) {
        assert_int_equal(s_expect_confirm(a, 100 + (uint64_t)i, NULL), (uint64_t)i + 1);
        if (i < T_TWO)
            assert_int_equal(s_expect_confirm(a, 200 + (uint64_t)i, NULL), (uint64_t)i + 1);
    }
    zsock_destroy(&a);
    zactor_destroy(&fx->server);

    /* a new start: a new session id; the old session is unknown; old ids are duplicates */
    s_start(fx, NULL);
    a = s_client(fx);
    s_send_publish(a, 1, "oms.1", "one-9");
    s_expect_error(a, 1, OB_ERR_HELLO_REQUIRED);
    s_hello(a, 0, &welcome);
    assert_string_not_equal(welcome.session, first_session);
    int dup = -1;
    s_send_publish(a, 2, "oms.1", "one-9");
    assert_int_equal(s_expect_confirm(a, 2, &dup), 10);
    assert_int_equal(dup, 1);
    s_send_publish(a, 3, "oms.2", "two-19");
    assert_int_equal(s_expect_confirm(a, 3, &dup), 20);
    assert_int_equal(dup, 1);
    s_send_publish(a, 4, "oms.1", "one-new");
    assert_int_equal(s_expect_confirm(a, 4, &dup), T_ONE + 1);
    assert_int_equal(dup, 0);
    zsock_destroy(&a);
    zactor_destroy(&fx->server);

    /* the store holds every confirmed event, in order */
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(fx->data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    static const struct {
        const char *topic, *prefix;
        int count;
    } topics[] = {{"oms.1", "one", T_ONE}, {"oms.2", "two", T_TWO}};
    for (size_t t = 0; t < 2; t++) {
        ob_topic_stat_t stat;
        assert_int_equal(ob_store_topic_stat(store, topics[t].topic, &stat), 0);
        assert_int_equal(stat.first_seq, 1);
        assert_int_equal(stat.events, (uint64_t)topics[t].count + (t == 0));
        for (int i = 0; i < topics[t].count; i++) {
            uint8_t *buf = NULL;
            size_t len = 0;
            ob_event_t *event = NULL;
            assert_int_equal(
                ob_store_get(store, topics[t].topic, (uint64_t)i + 1, &buf, &len, NULL), 0);
            assert_int_equal(ob_event_decode(buf, len, &event), 0);
            snprintf(id, sizeof id, "%s-%d", topics[t].prefix, i);
            assert_string_equal(event->id, id);
            assert_string_equal(event->topic, topics[t].topic);
            ob_event_destroy(&event);
            free(buf);
        }
    }
    ob_store_close(&store);
    s_start(fx, NULL); /* for the teardown */
}

/* Returns how many events the stopped broker's store in data_dir holds in topic. */
static uint64_t
s_stored_events(const char *data_dir, const char *topic)
{
    ob_store_t *store = NULL;
    ob_topic_stat_t stat;
    memset(&stat, 0, sizeof stat);
    assert_int_equal(ob_store_open(data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    int rc = ob_store_topic_stat(store, topic, &stat);
    assert_true(rc == 0 || rc == OB_ERR_NO_SUCH_TOPIC);
    ob_store_close(&store);
    return stat.events;
}

/* Publishes T_COUNT events, stops the server while they arrive, and checks the replies
   against the store. over_tcp: restart the server on an ephemeral tcp port first, where
   ZMQ_LINGER holds, and require that every stored event was confirmed; over ipc, libzmq drops
   replies still queued when the socket closes (zeromq/libzmq#4660), which the protocol
   tolerates (a re-send gets dup), so only the contract is checked. */
static void
s_shutdown_check(t_fixture_t *fx, int over_tcp)
{
    enum { T_COUNT = 3000 };
    if (over_tcp) {
        zactor_destroy(&fx->server);
        snprintf(fx->endpoint, sizeof fx->endpoint, "tcp://127.0.0.1:*");
        s_start(fx, NULL);
        int rc = -1;
        char *reason = NULL, *endpoint = NULL;
        assert_int_equal(zstr_send(fx->server, OB_SERVER_STATUS), 0);
        assert_int_equal(zsock_recv(fx->server, "iss", &rc, &reason, &endpoint), 0);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(endpoint, "tcp://127.0.0.1:"));
        snprintf(fx->endpoint, sizeof fx->endpoint, "%s", endpoint);
        zstr_free(&reason);
        zstr_free(&endpoint);
    }
    zsock_t *a = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    char id[32];
    for (int i = 0; i < T_COUNT; i++) {
        snprintf(id, sizeof id, "stop-%d", i);
        s_send_publish(a, 1 + (uint64_t)i, "oms.1", id);
    }
    /* Stop while those are arriving: each is either stored and confirmed, or refused with
       SHUTDOWN and not stored, or (read after the broker stopped) not answered at all. */
    assert_int_equal(zstr_send(fx->server, "$TERM"), 0);
    static uint64_t seq_of[T_COUNT + 1];
    static int shut[T_COUNT + 1];
    memset(seq_of, 0, sizeof seq_of);
    memset(shut, 0, sizeof shut);
    long confirmed = 0, refused = 0;
    /* Read until the actor has ended (its pipe gets czmq's exit signal), however long the
       last commit takes; then, over tcp, until every stored event's confirmation is in (the
       ROUTER's linger delivers them: the store, closed by now, says how many), over ipc until
       a second passes without a reply. */
    zpoller_t *poller = zpoller_new(a, fx->server, NULL);
    int ended = 0;
    uint64_t stored = 0;
    int64_t deadline = 0;
    while (!ended || !over_tcp || (uint64_t)confirmed < stored) {
        int wait_ms = !ended ? T_TIMEOUT_MS * 4 : over_tcp ? (int)(deadline - zclock_mono()) : 1000;
        void *which = zpoller_wait(poller, wait_ms > 0 ? wait_ms : 0);
        if (!ended && which == fx->server) {
            /* the actor's exit signal: destroy it now, not later, as czmq's destructor
               waits for a second signal if the actor's end of the pipe is still there */
            zpoller_remove(poller, fx->server);
            zactor_destroy(&fx->server);
            ended = 1;
            stored = s_stored_events(fx->data_dir, "oms.1");
            deadline = zclock_mono() + T_TIMEOUT_MS * 4;
            continue;
        }
        if (which != a) {
            assert_true(ended); /* else the broker hung while stopping */
            break;
        }
        ob_wire_msg_t reply;
        s_recv(a, &reply);
        assert_true(reply.req >= 1 && reply.req <= T_COUNT);
        if (reply.command == OB_CMD_CONFIRM) {
            uint32_t run = reply.count > 1 ? reply.count : 1;
            assert_true(reply.req + run - 1 <= T_COUNT);
            assert_int_equal(reply.dup, 0);
            for (uint32_t k = 0; k < run; k++)
                seq_of[reply.req + k] = reply.seq + k;
            confirmed += run;
        } else {
            assert_int_equal(reply.command, OB_CMD_ERROR);
            assert_int_equal(reply.code, ob_error_to_wire(OB_ERR_SHUTDOWN));
            shut[reply.req] = 1;
            refused++;
        }
    }
    zpoller_destroy(&poller);
    print_message("%ld confirmed, %ld refused with SHUTDOWN, %ld unanswered\n", confirmed, refused,
                  T_COUNT - confirmed - refused);
    zsock_destroy(&a);

    /* The stored events are the first publishes, in order (a confirmation can still be lost
       on the way: PROTOCOL.md 15); each confirmed one is stored at the seq its confirmation
       named; none refused with SHUTDOWN is stored. */
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(fx->data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    ob_topic_stat_t stat;
    memset(&stat, 0, sizeof stat);
    int rc = ob_store_topic_stat(store, "oms.1", &stat);
    assert_true(rc == 0 || (rc == OB_ERR_NO_SUCH_TOPIC && confirmed == 0));
    assert_true(stat.events >= (uint64_t)confirmed);
    assert_int_equal(stat.last_seq, stat.events);
    for (uint64_t seq = 1; seq <= stat.events; seq++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ob_event_t *event = NULL;
        assert_int_equal(ob_store_get(store, "oms.1", seq, &buf, &len, NULL), 0);
        assert_int_equal(ob_event_decode(buf, len, &event), 0);
        snprintf(id, sizeof id, "stop-%d", (int)seq - 1);
        assert_string_equal(event->id, id);
        ob_event_destroy(&event);
        free(buf);
    }
    for (int req = 1; req <= T_COUNT; req++) {
        if (seq_of[req])
            assert_int_equal(seq_of[req], (uint64_t)req);
        if (shut[req])
            assert_true((uint64_t)req > stat.events);
    }
    print_message("%" PRIu64 " stored\n", stat.events);
    if (over_tcp)
        assert_int_equal(stat.events, (uint64_t)confirmed);
    ob_store_close(&store);

    /* A client re-sends what the stopped broker left unconfirmed (PROTOCOL.md 11.5: after
       SHUTDOWN or no answer); here it re-sends everything, as it would not know which
       confirmations were lost. Every publish is then answered by a CONFIRM: the ones stored
       before the stop as duplicates at their seq, the others stored now, in order. */
    s_start(fx, NULL);
    a = s_client(fx);
    s_hello(a, 0, &welcome);
    for (int i = 0; i < T_COUNT; i++) {
        snprintf(id, sizeof id, "stop-%d", i);
        s_send_publish(a, 1 + (uint64_t)i, "oms.1", id);
    }
    for (int req = 1; req <= T_COUNT; req++) {
        int dup = -1;
        assert_int_equal(s_expect_confirm(a, (uint64_t)req, &dup), (uint64_t)req);
        assert_int_equal(dup, (uint64_t)req <= stat.events);
    }
    zsock_destroy(&a); /* the server stays for the teardown */
}

static void
test_shutdown_answers(void **state)
{
    s_shutdown_check(*state, 0);
}

static void
test_shutdown_answers_tcp(void **state)
{
    s_shutdown_check(*state, 1);
}

static void
test_session_expiry(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    ob_wire_msg_t welcome, reply, ping;
    s_hello(a, OB_HEARTBEAT_MS_MIN, &welcome);
    memset(&ping, 0, sizeof ping);
    ping.command = OB_CMD_PING;
    s_send_msg(a, &ping, NULL, 0);
    s_recv(a, &reply);
    assert_int_equal(reply.command, OB_CMD_PONG);
    /* silent for well over OB_LIVENESS heartbeats plus one expiry tick */
    s_expect_silence(a, (OB_LIVENESS + 2) * OB_HEARTBEAT_MS_MIN + OB_SERVER_TICK_MS);
    s_send_msg(a, &ping, NULL, 0);
    s_expect_error(a, 0, OB_ERR_HELLO_REQUIRED);
    zsock_destroy(&a);
}

static void
test_start_failures(void **state)
{
    t_fixture_t *fx = *state;
    ob_config_t cfg;
    char err[OB_CONFIG_ERR_MAX] = "";
    char path[T_PATH_MAX * 2];
    zactor_t *server = NULL;

    /* a data directory that cannot be created: a file is in the way */
    snprintf(path, sizeof path, "%s/file", fx->dir);
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fclose(file);
    ob_config_defaults(&cfg);
    cfg.curve = 0; /* plaintext on ipc: no certificate needed */
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/file/data", fx->dir);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "ipc://%.200s/other.ipc", fx->dir);
    assert_int_equal(ob_server_start(&cfg, &server, err, sizeof err), -ENOTDIR);
    assert_null(server);
    assert_non_null(strstr(err, cfg.data_dir));

    /* an endpoint that cannot be bound */
    ob_config_defaults(&cfg);
    cfg.curve = 0;
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data2", fx->dir);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "tcp://127.0.0.1:notaport");
    assert_true(ob_server_start(&cfg, &server, err, sizeof err) < 0);
    assert_null(server);
    assert_non_null(strstr(err, "cannot bind tcp://127.0.0.1:notaport"));
}

/* Sends PUBLISH of a minimal event (VSM-sized: libzmq keeps it inside the zmq_msg_t). */
static void
s_send_tiny(zsock_t *dealer, uint64_t req, const char *topic, const char *id)
{
    ob_event_t event;
    memset(&event, 0, sizeof event);
    event.id = id;
    event.topic = topic;
    event.type = "x";
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(ob_event_encode(&event, &buf, &len), 0);
    assert_true(len <= 33);
    ob_wire_msg_t msg;
    memset(&msg, 0, sizeof msg);
    msg.command = OB_CMD_PUBLISH;
    msg.req = req;
    s_send_msg(dealer, &msg, buf, len);
    free(buf);
}

static void
test_tiny_events(void **state)
{
    t_fixture_t *fx = *state;
    zsock_t *a = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    static const char *topics[] = {"t1", "t2", "t1", "t2", "t3", "t1"};
    static const char *ids[] = {"a", "b", "c", "a", "z", "q"};
    static const uint64_t seqs[] = {1, 1, 2, 2, 1, 3};
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 6; i++)
            s_send_tiny(a, 100 * (uint64_t)round + (uint64_t)i + 1, topics[i], ids[i]);
        for (int i = 0; i < 6; i++) {
            int dup = -1;
            assert_int_equal(s_expect_confirm(a, 100 * (uint64_t)round + (uint64_t)i + 1, &dup),
                             seqs[i]);
            assert_int_equal(dup, round > 0);
        }
    }
    zsock_destroy(&a);
    zactor_destroy(&fx->server);
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(fx->data_dir, 1 << 20, &store), 0);
    for (int i = 0; i < 6; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ob_event_t *ev = NULL;
        assert_int_equal(ob_store_get(store, topics[i], seqs[i], &buf, &len, NULL), 0);
        assert_int_equal(ob_event_decode(buf, len, &ev), 0);
        assert_string_equal(ev->id, ids[i]);
        assert_string_equal(ev->topic, topics[i]);
        ob_event_destroy(&ev);
        free(buf);
    }
    ob_store_close(&store);
}

/* A slow peer: client A publishes and never reads a reply, its receive queue kept tiny. It
   must neither lose an event nor slow client B, who publishes meanwhile and is answered at
   once, one publish at a time. */
static void
test_slow_peer(void **state)
{
    t_fixture_t *fx = *state;
    enum { T_SLOW = 3000, T_FAST = 50 };
    zsock_t *a = s_client(fx);
    zsock_set_rcvhwm(a, 1);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);
    s_hello(b, 0, &welcome);
    char id[32];
    for (int i = 0; i < T_SLOW; i++) {
        snprintf(id, sizeof id, "slow-%d", i);
        s_send_publish(a, (uint64_t)i + 1, "oms.slow", id);
        if (i % (T_SLOW / T_FAST) == 0) { /* B interleaved, waiting on each confirmation */
            snprintf(id, sizeof id, "fast-%d", i);
            int dup = -1;
            s_send_publish(b, (uint64_t)i + 1, "oms.fast", id);
            assert_int_equal(s_expect_confirm(b, (uint64_t)i + 1, &dup),
                             (uint64_t)(i / (T_SLOW / T_FAST)) + 1);
            assert_int_equal(dup, 0);
        }
    }
    /* A's events are all stored, in order, whether or not its replies could be queued: a
       last publish from B confirms after every earlier one was committed. */
    s_send_publish(b, 100000, "oms.fast", "fast-last");
    assert_int_equal(s_expect_confirm(b, 100000, NULL), T_FAST + 1);
    zsock_destroy(&a);
    zsock_destroy(&b);
    zactor_destroy(&fx->server);
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(fx->data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    ob_topic_stat_t stat;
    assert_int_equal(ob_store_topic_stat(store, "oms.slow", &stat), 0);
    assert_int_equal(stat.events, T_SLOW);
    for (uint64_t seq = 1; seq <= T_SLOW; seq += T_SLOW / 10) {
        uint8_t *buf = NULL;
        size_t len = 0;
        ob_event_t *event = NULL;
        assert_int_equal(ob_store_get(store, "oms.slow", seq, &buf, &len, NULL), 0);
        assert_int_equal(ob_event_decode(buf, len, &event), 0);
        snprintf(id, sizeof id, "slow-%d", (int)seq - 1);
        assert_string_equal(event->id, id);
        ob_event_destroy(&event);
        free(buf);
    }
    ob_store_close(&store);
    s_start(fx, NULL); /* for the teardown */
}

/* Sends a message of command whose body was packed by hand into sbuf (borrowed): the
   encoder refuses the bodies some tests need. */
static void
s_send_packed(zsock_t *dealer, uint8_t command, const msgpack_sbuffer *sbuf)
{
    const uint8_t header[OB_HEADER_SIZE] = {0x4F, 0x42, OB_WIRE_VERSION, command};
    const void *data[2] = {header, sbuf->data};
    size_t len[2] = {sizeof header, sbuf->size};
    s_send_frames(dealer, 2, data, len);
}

/* Returns a new DEALER connected to the fixture's server, its session opened (HELLO). */
static zsock_t *
s_session(t_fixture_t *fx)
{
    zsock_t *dealer = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(dealer, 0, &welcome);
    return dealer;
}

/* Sends FETCH of topic, seq 1, with request id req. */
static void
s_send_fetch(zsock_t *dealer, uint64_t req, const char *topic)
{
    ob_wire_msg_t fetch;
    ob_wire_msg_init(&fetch, OB_CMD_FETCH);
    fetch.req = req;
    fetch.seq = 1;
    snprintf(fetch.topic, sizeof fetch.topic, "%s", topic);
    s_send_msg(dealer, &fetch, NULL, 0);
}

/* PROTOCOL.md 8 and 13: FETCH of a name that breaks 7.2 is INVALID_TOPIC, of a valid name
   never published to NO_SUCH_TOPIC; a name over OB_TOPIC_MAX is a body error (TOO_LARGE,
   5.2: the length limit of a body field wins over its syntax). */
static void
test_fetch_invalid_topic(void **state)
{
    zsock_t *a = s_session(*state);
    static const char *const invalid[] = {"Pub.A", "pub.*", "pub..a", "pub a", ".pub", "pub."};
    uint64_t req = 100;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        print_message("FETCH %s\n", invalid[i]);
        s_send_fetch(a, ++req, invalid[i]);
        s_expect_error(a, req, OB_ERR_INVALID_TOPIC);
    }
    s_send_fetch(a, ++req, "pub.a");
    s_expect_error(a, req, OB_ERR_NO_SUCH_TOPIC);

    /* 256 bytes: the encoder refuses it, so the body is packed by hand */
    char long_topic[OB_TOPIC_MAX + 2];
    memset(long_topic, 'A', sizeof long_topic - 1);
    long_topic[sizeof long_topic - 1] = '\0';
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "req", 3);
    msgpack_pack_uint64(&pk, ++req);
    msgpack_pack_str_with_body(&pk, "topic", 5);
    msgpack_pack_str_with_body(&pk, long_topic, strlen(long_topic));
    msgpack_pack_str_with_body(&pk, "seq", 3);
    msgpack_pack_uint64(&pk, 1);
    s_send_packed(a, OB_CMD_FETCH, &sbuf);
    s_expect_error(a, req, OB_ERR_TOO_LARGE);
    msgpack_sbuffer_destroy(&sbuf);
    zsock_destroy(&a);
}

/* Sends a SUBSCRIBE to pattern oms.* with one entry of types, packed by hand (the encoder
   refuses an invalid type). */
static void
s_send_subscribe_type(zsock_t *dealer, uint64_t req, const char *type)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "req", 3);
    msgpack_pack_uint64(&pk, req);
    msgpack_pack_str_with_body(&pk, "patterns", 8);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "oms.*", 5);
    msgpack_pack_str_with_body(&pk, "types", 5);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, type, strlen(type));
    s_send_packed(dealer, OB_CMD_SUBSCRIBE, &sbuf);
    msgpack_sbuffer_destroy(&sbuf);
}

/* PROTOCOL.md 12.2: a SUBSCRIBE `types` entry that breaks the event-type syntax (7.1) could
   never match: FIELD_TYPE; one over 64 bytes is TOO_LARGE (the length is checked first). The
   encoder refuses the same locally. */
static void
test_subscribe_invalid_type(void **state)
{
    zsock_t *a = s_session(*state);
    static const char *const invalid[] = {"Project.Created", "project item", "a*", "x/y"};
    uint64_t req = 200;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        print_message("types [%s]\n", invalid[i]);
        s_send_subscribe_type(a, ++req, invalid[i]);
        s_expect_error(a, req, OB_ERR_FIELD_TYPE);

        ob_wire_msg_t msg;
        ob_wire_msg_init(&msg, OB_CMD_SUBSCRIBE);
        msg.req = 1;
        msg.pattern_count = 1;
        snprintf(msg.patterns[0], sizeof msg.patterns[0], "oms.*");
        msg.type_count = 1;
        snprintf(msg.types[0], sizeof msg.types[0], "%s", invalid[i]);
        uint8_t body[OB_BODY_MAX];
        size_t body_len = 0;
        assert_int_equal(ob_wire_encode_body(&msg, body, sizeof body, &body_len),
                         OB_ERR_FIELD_TYPE);
    }
    char long_type[OB_EVENT_TYPE_MAX + 2];
    memset(long_type, 'A', sizeof long_type - 1); /* bad characters too: the length wins */
    long_type[sizeof long_type - 1] = '\0';
    s_send_subscribe_type(a, ++req, long_type);
    s_expect_error(a, req, OB_ERR_TOO_LARGE);

    /* a valid type is accepted (an ephemeral subscription) */
    s_send_subscribe_type(a, ++req, "project_item.status_changed");
    ob_wire_msg_t reply;
    s_recv(a, &reply);
    assert_int_equal(reply.command, OB_CMD_SUBSCRIBED);
    assert_int_equal(reply.req, req);
    zsock_destroy(&a);
}

/* PROTOCOL.md 6.1, 6.4: an ERROR refusing a HELLO that carried a req carries it too, so that
   it can be told from other ERRORs; a HELLO without req (liborderbus's, any before 0.6) gets
   its ERROR without one, as before. */
static void
test_hello_refusal_req(void **state)
{
    t_fixture_t *fx = *state;
    zactor_destroy(&fx->server);
    s_start(fx, "--max-clients", "1", NULL);
    zsock_t *a = s_client(fx);
    zsock_t *b = s_client(fx);
    ob_wire_msg_t welcome;
    s_hello(a, 0, &welcome);

    ob_wire_msg_t hello;
    ob_wire_msg_init(&hello, OB_CMD_HELLO);
    snprintf(hello.name, sizeof hello.name, "second");
    hello.req = 9;
    s_send_msg(b, &hello, NULL, 0);
    s_expect_error(b, 9, OB_ERR_LIMIT);
    hello.req = 0;
    s_send_msg(b, &hello, NULL, 0);
    s_expect_error(b, 0, OB_ERR_LIMIT);

    /* a HELLO with req that is accepted gets its WELCOME as before */
    zsock_destroy(&a);
    zactor_destroy(&fx->server);
    s_start(fx, NULL);
    zsock_t *c = s_client(fx);
    hello.req = 10;
    s_send_msg(c, &hello, NULL, 0);
    ob_wire_msg_t reply;
    s_recv(c, &reply);
    assert_int_equal(reply.command, OB_CMD_WELCOME);
    zsock_destroy(&b);
    zsock_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tiny_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_peer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hello_welcome, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hello_required, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ping_pong, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_publish_confirm, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_over_wire, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_events, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_answers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_answers_tcp, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_start_failures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_fetch_invalid_topic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_invalid_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_hello_refusal_req, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
