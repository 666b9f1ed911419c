/*  A session ends when its connection ends (PROTOCOL.md 5.4, 9, 15): a real orderbus-broker
    process (broker_proc.h) with max_clients 10, raw protocol peers (peer.h) and one consumer
    in a child process that is killed with SIGKILL.

    Ten clients connect with 60 s heartbeats (none can expire during the test); five close
    their sockets without a word and the child is killed (the kernel closes its socket).
    Within a second, six new clients get WELCOME, and the deliveries the killed consumer held
    go to the other consumer of its subscription at once, not after its ack_wait_ms (60 s)
    nor its heartbeats (180 s). */
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "peer.h"

#define S_CLIENTS 10        /* max_clients */
#define S_CLOSED 5          /* clients that close their sockets */
#define S_HB_MS 60000       /* heartbeat of every client */
#define S_ACK_WAIT_MS 60000 /* ack_wait_ms of the subscription: never passes here */
#define S_EVENTS 10         /* events published to the subscription */
#define S_AT_ONCE_MS 1000   /* "at once": what the test allows */
#define S_SUB "shared"      /* the subscription of both consumers */
#define S_TOPIC "ses.a"     /* its topic */
#define S_READY 'R'         /* the child's word: subscribed */

/* A DEALER connected to endpoint that sent HELLO, not waiting for the answer. NULL if
   something failed (the child cannot use cmocka). */
static zsock_t *
s_hello(const char *endpoint, const char *name)
{
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    if (!peer)
        return NULL;
    zsock_set_linger(peer, 0);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg || zsock_connect(peer, "%s", endpoint)) {
        free(msg);
        zsock_destroy(&peer);
        return NULL;
    }
    msg->command = OB_CMD_HELLO;
    snprintf(msg->name, sizeof msg->name, "%s", name);
    msg->heartbeat_ms = S_HB_MS;
    t_send(peer, msg, NULL, 0);
    free(msg);
    return peer;
}

/* Sends SUBSCRIBE S_SUB to S_TOPIC. */
static void
s_subscribe(zsock_t *peer)
{
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg)
        return;
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = 1;
    snprintf(msg->sub, sizeof msg->sub, "%s", S_SUB);
    msg->pattern_count = 1;
    snprintf(msg->patterns[0], sizeof msg->patterns[0], "%s", S_TOPIC);
    msg->ack_wait_ms = S_ACK_WAIT_MS;
    t_send(peer, msg, NULL, 0);
    free(msg);
}

/* The child: reads the endpoint from in, says HELLO, attaches to S_SUB, writes S_READY to
   out, then the seq of every delivery it gets (never acked), until it is killed. */
static void
s_child(int in, int out)
{
    char endpoint[BROKER_PROC_ENDPOINT_MAX] = "";
    ssize_t n = read(in, endpoint, sizeof endpoint - 1);
    if (n <= 0)
        _exit(2);
    endpoint[n] = '\0';
    zsock_t *peer = s_hello(endpoint, "killed");
    if (!peer)
        _exit(2);
    s_subscribe(peer);
    while (1) {
        zmsg_t *msg = zmsg_recv(peer);
        if (!msg)
            _exit(2);
        zframe_t *header = zmsg_first(msg), *body = zmsg_next(msg);
        ob_wire_msg_t *wire = calloc(1, sizeof *wire);
        if (!wire || !header || !body ||
            ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                           zframe_size(body), wire))
            _exit(2);
        char ready = S_READY;
        if (wire->command == OB_CMD_SUBSCRIBED && write(out, &ready, 1) != 1)
            _exit(2);
        if (wire->command == OB_CMD_DELIVER &&
            write(out, &wire->seq, sizeof wire->seq) != (ssize_t)sizeof wire->seq)
            _exit(2);
        free(wire);
        zmsg_destroy(&msg);
    }
}

/* Waits for the answer to a HELLO; returns its command (0: none in time), and its error
   code into *ret_code. */
static int
s_answer(zsock_t *peer, int timeout_ms, uint32_t *ret_code)
{
    t_msg_t reply;
    if (t_recv(peer, &reply, timeout_ms))
        return 0;
    int command = reply.wire.command;
    *ret_code = reply.wire.code;
    t_msg_clear(&reply);
    return command;
}

/* A client WELCOMEd. */
static zsock_t *
s_client(const char *endpoint)
{
    zsock_t *peer = s_hello(endpoint, "client");
    assert_non_null(peer);
    uint32_t code = 0;
    assert_int_equal(s_answer(peer, T_TIMEOUT_MS, &code), OB_CMD_WELCOME);
    return peer;
}

static void
test_session_ends_with_connection(void **state)
{
    (void)state;
    /* The child is forked before this process makes any ZeroMQ context, which it must
       not share. */
    int down[2], up[2];
    assert_int_equal(pipe(down), 0);
    assert_int_equal(pipe(up), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(down[1]);
        close(up[0]);
        s_child(down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);

    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "test-sessions"), 0);
    pid_t pid = broker_proc_start(site.data_dir, site.endpoint, "--max-clients", "10", NULL);
    assert_true(pid > 0);

    /* 10 clients: a publisher, a consumer b, the child, five that close, two that stay */
    zsock_t *publisher = s_client(site.endpoint);
    zsock_t *b = s_client(site.endpoint);
    s_subscribe(b);
    t_msg_t msg;
    t_expect(b, OB_CMD_SUBSCRIBED, &msg);
    t_msg_clear(&msg);
    assert_int_equal(write(down[1], site.endpoint, strlen(site.endpoint)),
                     (ssize_t)strlen(site.endpoint));
    struct pollfd from_child = {.fd = up[0], .events = POLLIN};
    char ready = 0;
    assert_int_equal(poll(&from_child, 1, T_TIMEOUT_MS), 1);
    assert_int_equal(read(up[0], &ready, 1), 1);
    assert_int_equal(ready, S_READY);
    zsock_t *closing[S_CLOSED], *staying[S_CLIENTS - 3 - S_CLOSED];
    for (int i = 0; i < S_CLOSED; i++)
        closing[i] = s_client(site.endpoint);
    for (size_t i = 0; i < sizeof staying / sizeof staying[0]; i++)
        staying[i] = s_client(site.endpoint);
    zsock_t *extra = s_hello(site.endpoint, "extra");
    uint32_t code = 0;
    assert_int_equal(s_answer(extra, T_TIMEOUT_MS, &code), OB_CMD_ERROR);
    assert_int_equal(code, ob_error_to_wire(OB_ERR_LIMIT));
    zsock_destroy(&extra);

    /* events shared by b and the child, round robin; each keeps what it got, unacked */
    for (int i = 0; i < S_EVENTS; i++) {
        char id[16];
        snprintf(id, sizeof id, "s-%d", i);
        uint8_t *event = NULL;
        size_t len = 0;
        t_event(S_TOPIC, id, "sessions.test", 16, &event, &len);
        ob_wire_msg_t *pub = calloc(1, sizeof *pub);
        assert_non_null(pub);
        pub->command = OB_CMD_PUBLISH;
        pub->req = (uint64_t)i + 1;
        t_send(publisher, pub, event, len);
        free(pub);
        free(event);
        t_expect(publisher, OB_CMD_CONFIRM, &msg);
        t_msg_clear(&msg);
    }
    int held[S_EVENTS + 1] = {0}; /* by seq: 1 b, 2 the child */
    int got = 0, child_got = 0;
    int64_t deadline = zclock_mono() + T_TIMEOUT_MS;
    while (got < S_EVENTS && zclock_mono() < deadline) {
        zmq_pollitem_t items[2] = {{zsock_resolve(b), 0, ZMQ_POLLIN, 0},
                                   {NULL, up[0], ZMQ_POLLIN, 0}};
        assert_true(zmq_poll(items, 2, deadline - zclock_mono()) >= 0);
        if (items[0].revents & ZMQ_POLLIN) {
            assert_int_equal(t_recv(b, &msg, 0), 0);
            assert_int_equal(msg.wire.command, OB_CMD_DELIVER);
            for (uint32_t i = 0; i < (msg.wire.count ? msg.wire.count : 1); i++) {
                assert_true(msg.wire.seq + i <= S_EVENTS);
                held[msg.wire.seq + i] = 1;
                got++;
            }
            t_msg_clear(&msg);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t seq = 0;
            assert_int_equal(read(up[0], &seq, sizeof seq), (ssize_t)sizeof seq);
            assert_true(seq >= 1 && seq <= S_EVENTS);
            held[seq] = 2;
            got++;
            child_got++;
        }
    }
    assert_int_equal(got, S_EVENTS);
    assert_true(child_got >= 1);

    /* five close without a word, the child is killed */
    for (int i = 0; i < S_CLOSED; i++)
        zsock_destroy(&closing[i]);
    assert_int_equal(kill(child, SIGKILL), 0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    int64_t gone = zclock_mono();

    /* b gets the child's deliveries again, at once */
    int redelivered = 0;
    while (redelivered < child_got && zclock_mono() - gone < S_AT_ONCE_MS) {
        if (t_recv(b, &msg, (int)(S_AT_ONCE_MS - (zclock_mono() - gone))))
            break;
        assert_int_equal(msg.wire.command, OB_CMD_DELIVER);
        assert_int_equal(msg.wire.attempt, 2);
        for (uint32_t i = 0; i < (msg.wire.count ? msg.wire.count : 1); i++) {
            assert_true(msg.wire.seq + i <= S_EVENTS);
            assert_int_equal(held[msg.wire.seq + i], 2);
            held[msg.wire.seq + i] = 1;
            redelivered++;
        }
        t_msg_clear(&msg);
    }
    int64_t redelivered_ms = zclock_mono() - gone;
    assert_int_equal(redelivered, child_got);

    /* six new clients get WELCOME within the second: each HELLO is answered, LIMIT while
       the broker has not yet read the closes (tried again), then WELCOME */
    zsock_t *fresh[S_CLOSED + 1];
    int welcomed = 0;
    for (int i = 0; i < S_CLOSED + 1; i++) {
        fresh[i] = NULL;
        while (!fresh[i] && zclock_mono() - gone < S_AT_ONCE_MS) {
            zsock_t *peer = s_hello(site.endpoint, "fresh");
            assert_non_null(peer);
            int command = s_answer(peer, T_TIMEOUT_MS, &code);
            if (command == OB_CMD_WELCOME)
                fresh[i] = peer;
            else {
                assert_int_equal(command, OB_CMD_ERROR);
                assert_int_equal(code, ob_error_to_wire(OB_ERR_LIMIT));
                zsock_destroy(&peer);
            }
        }
        welcomed += fresh[i] != NULL;
    }
    int64_t welcomed_ms = zclock_mono() - gone;
    printf("after the closes and the kill: %d deliveries again to the other consumer in "
           "%" PRId64 " ms, %d new clients welcomed in %" PRId64 " ms\n",
           redelivered, redelivered_ms, welcomed, welcomed_ms);
    assert_int_equal(welcomed, S_CLOSED + 1);
    assert_true(welcomed_ms < S_AT_ONCE_MS);

    /* and the broker is full again */
    extra = s_hello(site.endpoint, "extra");
    assert_int_equal(s_answer(extra, T_TIMEOUT_MS, &code), OB_CMD_ERROR);
    assert_int_equal(code, ob_error_to_wire(OB_ERR_LIMIT));
    zsock_destroy(&extra);

    for (int i = 0; i < S_CLOSED + 1; i++)
        zsock_destroy(&fresh[i]);
    for (size_t i = 0; i < sizeof staying / sizeof staying[0]; i++)
        zsock_destroy(&staying[i]);
    zsock_destroy(&b);
    zsock_destroy(&publisher);
    close(down[1]);
    close(up[0]);
    assert_int_equal(broker_proc_stop(pid, SIGTERM), 0);
    broker_proc_site_remove(&site);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_ends_with_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
