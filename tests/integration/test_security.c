/*  test_security: CURVE and permissions end to end (PROTOCOL.md 14) through the in-process
    server actor, with raw CURVE peers (DEALER sockets with their own certificates).

    Refusals are measured, not inferred from silence: a refused handshake is seen on the
    client's socket monitor (HANDSHAKE_FAILED_* or DISCONNECTED, never HANDSHAKE_SUCCEEDED)
    and, for a CURVE client with an unknown key, in the ZAP handler's refusal counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker_proc.h"
#include "peer.h"
#include "server.h"
#include "store.h"
#include "subs.h"

#define T_REFUSE_MS 1500 /* a refused client must not be welcomed within this */
#define T_CLOSE_MS 1000  /* a closed client's place is free within this */
#define T_LENGTHY "oms-with-a-rather-long-client-name-012345" /* over 31 bytes */

typedef struct {
    char dir[T_PATH_MAX];        /* scratch directory for keys and the permissions */
    char perms[T_PATH_MAX * 2];  /* the permissions file */
    char broker[T_PATH_MAX * 2]; /* the broker's certificate */
    zcert_t *broker_cert;        /* its keys */
    zcert_t *oms7, *ops, *root;  /* clients in the file */
    zcert_t *lengthy;            /* one more, whose name needs a msgpack str 8 */
    zcert_t *stranger;           /* a client not in the file */
    t_broker_t *fx;              /* the broker */
} t_sec_t;

/* Writes the permissions file with the clients whose flag is set. */
static void
s_write_perms(t_sec_t *sec, int with_oms7)
{
    FILE *file = fopen(sec->perms, "w");
    assert_non_null(file);
    if (with_oms7)
        fprintf(file,
                "client = oms-7\n"
                "    key = \"%s\"\n"
                "    publish = mp.7\n"
                "    subscribe = oms.7\n",
                zcert_public_txt(sec->oms7));
    fprintf(file,
            "client = ops\n"
            "    key = \"%s\"\n"
            "    subscribe = oms.>\n"
            "    admin = read\n"
            "client = %s\n"
            "    key = \"%s\"\n"
            "    subscribe = oms.7\n"
            "client = root\n"
            "    key = \"%s\"\n"
            "    publish = >\n"
            "    subscribe = >\n"
            "    admin = write\n",
            zcert_public_txt(sec->ops), T_LENGTHY, zcert_public_txt(sec->lengthy),
            zcert_public_txt(sec->root));
    assert_int_equal(fclose(file), 0);
}

static int
s_setup(void **state)
{
    t_sec_t *sec = calloc(1, sizeof *sec);
    assert_non_null(sec);
    snprintf(sec->dir, sizeof sec->dir, "/tmp/ob-sec-keys-XXXXXX");
    assert_non_null(mkdtemp(sec->dir));
    snprintf(sec->perms, sizeof sec->perms, "%s/permissions.cfg", sec->dir);
    snprintf(sec->broker, sizeof sec->broker, "%s/broker.cert", sec->dir);
    sec->broker_cert = zcert_new();
    assert_int_equal(zcert_save(sec->broker_cert, sec->broker), 0);
    sec->oms7 = zcert_new();
    sec->ops = zcert_new();
    sec->root = zcert_new();
    sec->lengthy = zcert_new();
    sec->stranger = zcert_new();
    s_write_perms(sec, 1);
    sec->fx = t_broker_new("sec", "--curve", "1", "--cert", sec->broker, "--permissions",
                           sec->perms, NULL);
    *state = sec;
    return 0;
}

static int
s_teardown(void **state)
{
    t_sec_t *sec = *state;
    t_broker_destroy(&sec->fx);
    zcert_destroy(&sec->broker_cert);
    zcert_destroy(&sec->oms7);
    zcert_destroy(&sec->ops);
    zcert_destroy(&sec->root);
    zcert_destroy(&sec->lengthy);
    zcert_destroy(&sec->stranger);
    t_remove_tree(sec->dir);
    free(sec);
    return 0;
}

/* The broker's security counters. */
typedef struct {
    uint64_t forbidden, accepted, refused, clients;
} t_counters_t;

static t_counters_t
s_counters(t_sec_t *sec)
{
    t_counters_t c;
    memset(&c, 0, sizeof c);
    assert_int_equal(zstr_send(sec->fx->server, OB_SERVER_SECURITY), 0);
    assert_int_equal(
        zsock_recv(sec->fx->server, "8888", &c.forbidden, &c.accepted, &c.refused, &c.clients), 0);
    return c;
}

/* Waits until the broker has refused more than before handshakes; fails after
   T_TIMEOUT_MS. */
static void
s_wait_refused(t_sec_t *sec, uint64_t before)
{
    int64_t deadline = zclock_mono() + T_TIMEOUT_MS;
    while (s_counters(sec).refused <= before) {
        if (zclock_mono() > deadline)
            fail_msg("the broker refused no handshake within %d ms", T_TIMEOUT_MS);
        zclock_sleep(10); /* polling an observable counter, not hiding a race */
    }
}

/* A DEALER to the broker with cert (NULL: plaintext), not connected yet; *ret_monitor
   watches its handshakes if not NULL. */
static zsock_t *
s_peer_new(t_sec_t *sec, zcert_t *cert, zactor_t **ret_monitor)
{
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    assert_non_null(peer);
    zsock_set_linger(peer, 0);
    if (cert) {
        zcert_apply(cert, peer);
        zsock_set_curve_serverkey(peer, zcert_public_txt(sec->broker_cert));
    }
    if (ret_monitor) {
        zactor_t *monitor = zactor_new(zmonitor, peer);
        assert_non_null(monitor);
        zstr_sendx(monitor, "LISTEN", "ALL", NULL);
        zstr_send(monitor, "START");
        zsock_wait(monitor);
        *ret_monitor = monitor;
    }
    assert_int_equal(zsock_connect(peer, "%s", sec->fx->endpoint), 0);
    return peer;
}

static void
s_send_hello(zsock_t *peer)
{
    ob_wire_msg_t *hello = calloc(1, sizeof *hello);
    assert_non_null(hello);
    hello->command = OB_CMD_HELLO;
    snprintf(hello->name, sizeof hello->name, "sec");
    t_send(peer, hello, NULL, 0);
    free(hello);
}

/* A CURVE peer with cert that said HELLO and was welcomed. */
static zsock_t *
s_peer(t_sec_t *sec, zcert_t *cert)
{
    zsock_t *peer = s_peer_new(sec, cert, NULL);
    s_send_hello(peer);
    t_msg_t welcome;
    t_expect(peer, OB_CMD_WELCOME, &welcome);
    t_msg_clear(&welcome);
    return peer;
}

/* Waits on monitor for a handshake failure or a disconnection; fails the test on a
   successful handshake or after T_TIMEOUT_MS. Returns the event's name (static). */
static const char *
s_expect_handshake_refused(zactor_t *monitor)
{
    zsock_set_rcvtimeo(monitor, T_TIMEOUT_MS);
    int64_t deadline = zclock_mono() + T_TIMEOUT_MS;
    while (zclock_mono() < deadline) {
        zmsg_t *event = zmsg_recv(monitor);
        if (!event)
            break;
        char *name = zmsg_popstr(event);
        zmsg_destroy(&event);
        assert_non_null(name);
        const char *verdict = NULL;
        if (!strcmp(name, "HANDSHAKE_SUCCEEDED"))
            fail_msg("the handshake succeeded");
        if (!strncmp(name, "HANDSHAKE_FAILED", 16))
            verdict = "HANDSHAKE_FAILED";
        else if (!strcmp(name, "DISCONNECTED"))
            verdict = "DISCONNECTED";
        zstr_free(&name);
        if (verdict)
            return verdict;
    }
    fail_msg("no handshake failure seen within %d ms", T_TIMEOUT_MS);
    return NULL;
}

/* A client without a certificate cannot talk to a CURVE broker: the handshake fails (the
   mechanisms differ) and HELLO is never answered; a known key on the same broker works. */
static void
test_plaintext_refused(void **state)
{
    t_sec_t *sec = *state;
    zactor_t *monitor = NULL;
    zsock_t *peer = s_peer_new(sec, NULL, &monitor);
    s_send_hello(peer);
    s_expect_handshake_refused(monitor);
    t_expect_silence(peer, T_REFUSE_MS);
    zactor_destroy(&monitor);
    zsock_destroy(&peer);

    zsock_t *good = s_peer(sec, sec->oms7);
    zsock_destroy(&good);
}

/* A CURVE client whose key is not in the permissions is refused by the ZAP handler. */
static void
test_unknown_key_refused(void **state)
{
    t_sec_t *sec = *state;
    t_counters_t before = s_counters(sec);
    zactor_t *monitor = NULL;
    zsock_t *peer = s_peer_new(sec, sec->stranger, &monitor);
    s_send_hello(peer);
    s_expect_handshake_refused(monitor);
    s_wait_refused(sec, before.refused);
    t_expect_silence(peer, T_REFUSE_MS);
    zactor_destroy(&monitor);
    zsock_destroy(&peer);
    /* a known key is accepted and counted */
    zsock_t *good = s_peer(sec, sec->ops);
    assert_true(s_counters(sec).accepted > before.accepted);
    zsock_destroy(&good);
}

/* Sends a PUBLISH of an event on topic; returns its req. */
static uint64_t
s_send_publish(t_sec_t *sec, zsock_t *peer, const char *topic, const char *id)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    t_event(topic, id, NULL, 16, &buf, &len);
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_PUBLISH);
    msg.req = sec->fx->next_req++;
    t_send(peer, &msg, buf, len);
    free(buf);
    return msg.req;
}

/* Sends a request (SUBSCRIBE with the space-separated patterns in arg, FETCH of arg #1 (a
   range of count events from it if count is not 0), or an admin command on subscription
   arg); returns its req. */
static uint64_t
s_send_request(t_sec_t *sec, zsock_t *peer, int command, const char *arg, uint32_t count)
{
    ob_wire_msg_t *msg = malloc(sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, command);
    msg->req = sec->fx->next_req++;
    if (command == OB_CMD_SUBSCRIBE) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", arg);
        for (char *p = strtok(copy, " "); p; p = strtok(NULL, " "))
            snprintf(msg->patterns[msg->pattern_count++], sizeof msg->patterns[0], "%s", p);
        /* a durable name per request: two allowed SUBSCRIBEs never clash */
        snprintf(msg->sub, sizeof msg->sub, "s%" PRIu64, msg->req);
    } else if (command == OB_CMD_FETCH) {
        snprintf(msg->topic, sizeof msg->topic, "%s", arg);
        msg->seq = 1;
        msg->count = count;
    } else if (command == OB_CMD_SUB_INFO || command == OB_CMD_SUB_DELETE ||
               command == OB_CMD_SUB_REPOSITION)
        snprintf(msg->sub, sizeof msg->sub, "%s", arg);
    t_send(peer, msg, NULL, 0);
    uint64_t req = msg->req;
    free(msg);
    return req;
}

/* The table of permissions over real commands: FORBIDDEN where the file says so, the
   normal answer elsewhere, and a refusal never ends the session. */
static void
test_permissions_table(void **state)
{
    t_sec_t *sec = *state;
    zsock_t *oms7 = s_peer(sec, sec->oms7);
    zsock_t *ops = s_peer(sec, sec->ops);
    zsock_t *root = s_peer(sec, sec->root);
    t_counters_t before = s_counters(sec);
    uint64_t forbidden = 0;

    /* data to fetch: root may publish anywhere */
    t_publish(sec->fx, root, "oms.7", "e-oms7-1", NULL);
    t_publish(sec->fx, root, "mp.7", "e-mp7-1", NULL);

    struct {
        zsock_t *peer;
        int command; /* OB_CMD_PUBLISH: arg is the topic */
        const char *arg;
        int expect;     /* the answer's command, or OB_CMD_ERROR for FORBIDDEN */
        uint32_t count; /* FETCH: a range of this many (0: the one event) */
    } rows[] = {
        /* the example */
        {oms7, OB_CMD_PUBLISH, "mp.7", OB_CMD_CONFIRM, 0},
        {oms7, OB_CMD_PUBLISH, "oms.7", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_PUBLISH, "mp.8", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBSCRIBE, "oms.7", OB_CMD_SUBSCRIBED, 0},
        {oms7, OB_CMD_SUBSCRIBE, "oms.8", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBSCRIBE, "oms.*", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBSCRIBE, "oms.>", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBSCRIBE, ">", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBSCRIBE, "oms.7 mp.7", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_TOPICS, NULL, OB_CMD_ERROR, 0},
        {oms7, OB_CMD_SUBS, NULL, OB_CMD_ERROR, 0},
        {oms7, OB_CMD_FETCH, "oms.7", OB_CMD_ERROR, 0},
        {oms7, OB_CMD_FETCH, "oms.7", OB_CMD_ERROR, OB_FETCH_RANGE_MAX},
        {oms7, OB_CMD_SUB_DELETE, "x", OB_CMD_ERROR, 0},
        /* admin read with subscribe oms.> */
        {ops, OB_CMD_SUBSCRIBE, "oms.*", OB_CMD_SUBSCRIBED, 0},
        {ops, OB_CMD_SUBSCRIBE, "oms.7.x", OB_CMD_SUBSCRIBED, 0},
        {ops, OB_CMD_SUBSCRIBE, ">", OB_CMD_ERROR, 0},
        {ops, OB_CMD_PUBLISH, "oms.7", OB_CMD_ERROR, 0},
        {ops, OB_CMD_TOPICS, NULL, OB_CMD_OK, 0},
        {ops, OB_CMD_SUBS, NULL, OB_CMD_OK, 0},
        {ops, OB_CMD_FETCH, "oms.7", OB_CMD_OK, 0},
        {ops, OB_CMD_FETCH, "mp.7", OB_CMD_ERROR, 0},
        {ops, OB_CMD_FETCH, "oms.7", OB_CMD_OK, 2}, /* a range, as FETCH */
        {ops, OB_CMD_FETCH, "mp.7", OB_CMD_ERROR, 2},
        {ops, OB_CMD_SUB_REPOSITION, "x", OB_CMD_ERROR, 0},
        {ops, OB_CMD_SUB_DELETE, "x", OB_CMD_ERROR, 0},
        /* admin write */
        {root, OB_CMD_FETCH, "mp.7", OB_CMD_OK, 0},
        {root, OB_CMD_SUB_DELETE, "no-such-sub", OB_CMD_ERROR, 0}, /* NO_SUCH_SUBSCRIPTION */
        /* dead-letter topics stay the broker's, whatever the patterns */
        {root, OB_CMD_PUBLISH, "dlq.x", OB_CMD_ERROR, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "row-%zu", i);
        uint64_t req =
            rows[i].command == OB_CMD_PUBLISH
                ? s_send_publish(sec, rows[i].peer, rows[i].arg, id)
                : s_send_request(sec, rows[i].peer, rows[i].command, rows[i].arg, rows[i].count);
        t_msg_t reply;
        t_expect(rows[i].peer, rows[i].expect, &reply);
        assert_int_equal(reply.wire.req, req);
        if (rows[i].expect == OB_CMD_OK && rows[i].command == OB_CMD_FETCH)
            assert_int_equal(reply.event_count, 1); /* oms.7 and mp.7 hold one event */
        if (rows[i].expect == OB_CMD_ERROR) {
            int sub_delete = rows[i].peer == root && rows[i].command == OB_CMD_SUB_DELETE;
            int rc = sub_delete ? OB_ERR_NO_SUCH_SUBSCRIPTION : OB_ERR_FORBIDDEN;
            if (reply.wire.code != ob_error_to_wire(rc))
                fail_msg("row %zu: ERROR %u (%s), expected %u", i, reply.wire.code,
                         reply.wire.reason, ob_error_to_wire(rc));
            /* the reason names the command (or the topic, for dead letters) */
            if (rc == OB_ERR_FORBIDDEN && rows[i].peer != root) {
                forbidden++;
                if (!strstr(reply.wire.reason, ob_command_name(rows[i].command)))
                    fail_msg("row %zu: reason '%s' does not name %s", i, reply.wire.reason,
                             ob_command_name(rows[i].command));
            }
        }
        t_msg_clear(&reply);
    }
    /* the sessions survived every refusal */
    t_publish(sec->fx, oms7, "mp.7", "after-refusals", NULL);
    ob_wire_msg_t ping;
    ob_wire_msg_init(&ping, OB_CMD_PING);
    t_send(ops, &ping, NULL, 0);
    t_msg_t pong;
    t_expect(ops, OB_CMD_PONG, &pong);
    t_msg_clear(&pong);
    /* counted (the dlq refusal is not a permissions refusal) */
    assert_int_equal(s_counters(sec).forbidden - before.forbidden, forbidden);
    zsock_destroy(&oms7);
    zsock_destroy(&ops);
    zsock_destroy(&root);
}

/* Waits for a DELIVER on peer, skipping nothing else; returns its topic's seq. */
static void
s_expect_deliver(zsock_t *peer, const char *topic)
{
    t_msg_t msg;
    t_expect(peer, OB_CMD_DELIVER, &msg);
    assert_string_equal(msg.wire.topic, topic);
    t_msg_clear(&msg);
}

/* Sends SUBSCRIBE sub with pattern (attach: attach only) from peer; returns its req. */
static uint64_t
s_subscribe(t_sec_t *sec, zsock_t *peer, const char *sub, const char *pattern, int attach)
{
    ob_wire_msg_t *msg = malloc(sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = sec->fx->next_req++;
    snprintf(msg->sub, sizeof msg->sub, "%s", sub);
    snprintf(msg->patterns[0], sizeof msg->patterns[0], "%s", pattern);
    msg->pattern_count = 1;
    msg->attach = attach;
    t_send(peer, msg, NULL, 0);
    uint64_t req = msg->req;
    free(msg);
    return req;
}

/* Expects SUBSCRIBED to req with created. */
static void
s_expect_subscribed(zsock_t *peer, uint64_t req, int created)
{
    t_msg_t reply;
    t_expect(peer, OB_CMD_SUBSCRIBED, &reply);
    assert_int_equal(reply.wire.req, req);
    assert_int_equal(reply.wire.created, created);
    t_msg_clear(&reply);
}

/* Expects ERROR FORBIDDEN to req, for a subscription of another client. */
static void
s_expect_not_owner(zsock_t *peer, uint64_t req)
{
    t_msg_t reply;
    t_expect(peer, OB_CMD_ERROR, &reply);
    assert_int_equal(reply.wire.req, req);
    assert_int_equal(reply.wire.code, ob_error_to_wire(OB_ERR_FORBIDDEN));
    if (!strstr(reply.wire.reason, "SUBSCRIBE") || !strstr(reply.wire.reason, "another client"))
        fail_msg("reason '%s'", reply.wire.reason);
    t_msg_clear(&reply);
}

/* Returns 1 if SUB_INFO of sub, asked by peer (admin read), says owner (msgpack bytes of
   the pair, so that a near miss does not match). */
static int
s_info_says_owner(t_sec_t *sec, zsock_t *peer, const char *sub, const char *owner)
{
    s_send_request(sec, peer, OB_CMD_SUB_INFO, sub, 0);
    t_msg_t reply;
    t_expect(peer, OB_CMD_OK, &reply);
    uint8_t pair[2 + 5 + 1 + OB_SUBS_OWNER_MAX];
    size_t n = strlen(owner);
    assert_true(n < 32); /* a fixstr */
    pair[0] = 0xa5;      /* fixstr "owner" */
    memcpy(pair + 1, "owner", 5);
    pair[6] = (uint8_t)(0xa0 | n);
    memcpy(pair + 7, owner, n);
    int found = 0;
    for (size_t i = 0; !found && i + 7 + n <= reply.wire.result_len; i++)
        found = !memcmp(reply.wire.result + i, pair, 7 + n);
    t_msg_clear(&reply);
    return found;
}

/* Stops the broker and starts it again on the same data, with CURVE and the permissions. */
static void
s_restart_curve(t_sec_t *sec)
{
    t_broker_stop(sec->fx);
    t_broker_start(sec->fx, "--curve", "1", "--cert", sec->broker, "--permissions", sec->perms,
                   NULL);
}

/* A durable subscription belongs to the client that made it (PROTOCOL.md 12.2, 14.4): no
   other client may attach to it, even one whose subscribe rights cover its patterns; more
   connections of the owner may (competing consumers of one client). Ownership survives a
   restart. A subscription made without permissions has no owner and admits every client
   whose rights cover it. */
static void
test_subscription_owner(void **state)
{
    t_sec_t *sec = *state;
    zsock_t *oms7 = s_peer(sec, sec->oms7);
    zsock_t *root = s_peer(sec, sec->root);
    uint64_t forbidden = s_counters(sec).forbidden;

    s_expect_subscribed(oms7, s_subscribe(sec, oms7, "owned", "oms.7", 0), 1);
    /* root's subscribe = > covers oms.7, but "owned" is oms-7's: create-or-attach, attach
       only, and other settings (which would be SUBSCRIPTION_EXISTS) are all FORBIDDEN */
    s_expect_not_owner(root, s_subscribe(sec, root, "owned", "oms.7", 0));
    s_expect_not_owner(root, s_subscribe(sec, root, "owned", "oms.7", 1));
    s_expect_not_owner(root, s_subscribe(sec, root, "owned", "oms.8", 0));
    assert_int_equal(s_counters(sec).forbidden - forbidden, 3);
    zsock_t *lengthy = s_peer(sec, sec->lengthy);
    s_expect_subscribed(lengthy, s_subscribe(sec, lengthy, "long", "oms.7", 0), 1);
    zsock_destroy(&lengthy);
    /* a second connection of oms-7 is a competing consumer */
    zsock_t *oms7b = s_peer(sec, sec->oms7);
    s_expect_subscribed(oms7b, s_subscribe(sec, oms7b, "owned", "oms.7", 1), 0);
    /* operators see the owner */
    assert_true(s_info_says_owner(sec, root, "owned", "oms-7"));
    /* root's own subscription on the same pattern is root's */
    s_expect_subscribed(root, s_subscribe(sec, root, "roots", "oms.7", 0), 1);
    s_expect_not_owner(oms7, s_subscribe(sec, oms7, "roots", "oms.7", 1));
    zsock_destroy(&oms7);
    zsock_destroy(&oms7b);
    zsock_destroy(&root);

    /* after a restart (the owner comes back from the store) */
    s_restart_curve(sec);
    root = s_peer(sec, sec->root);
    oms7 = s_peer(sec, sec->oms7);
    s_expect_not_owner(root, s_subscribe(sec, root, "owned", "oms.7", 1));
    s_expect_subscribed(oms7, s_subscribe(sec, oms7, "owned", "oms.7", 1), 0);
    assert_true(s_info_says_owner(sec, root, "owned", "oms-7"));
    s_expect_not_owner(oms7, s_subscribe(sec, oms7, "long", "oms.7", 1));
    lengthy = s_peer(sec, sec->lengthy);
    s_expect_subscribed(lengthy, s_subscribe(sec, lengthy, "long", "oms.7", 1), 0);
    zsock_destroy(&lengthy);
    zsock_destroy(&oms7);
    zsock_destroy(&root);

    /* made on a broker without permissions (a record without an owner, as every record
       before owners existed): nobody's, so any client covered by its patterns attaches */
    t_broker_stop(sec->fx);
    t_broker_start(sec->fx, "--curve", "0", NULL);
    zsock_t *plain = t_peer(sec->fx, 0);
    s_expect_subscribed(plain, s_subscribe(sec, plain, "shared", "oms.7", 0), 1);
    zsock_destroy(&plain);
    s_restart_curve(sec);
    root = s_peer(sec, sec->root);
    oms7 = s_peer(sec, sec->oms7);
    s_expect_subscribed(root, s_subscribe(sec, root, "shared", "oms.7", 1), 0);
    s_expect_subscribed(oms7, s_subscribe(sec, oms7, "shared", "oms.7", 1), 0);
    assert_true(s_info_says_owner(sec, root, "shared", ""));
    zsock_destroy(&oms7);
    zsock_destroy(&root);

    /* A record whose owner is not a str of 1..64 bytes (here an empty one, then the body
       of "shared") stops the start, naming the subscriptions, rather than load it ownerless */
    t_broker_stop(sec->fx);
    ob_store_t *store = NULL;
    assert_int_equal(ob_store_open(sec->fx->data_dir, OB_MAP_SIZE_DEFAULT, &store), 0);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    ob_wire_msg_init(msg, OB_CMD_SUBSCRIBE);
    msg->req = 1;
    snprintf(msg->sub, sizeof msg->sub, "shared");
    snprintf(msg->patterns[0], sizeof msg->patterns[0], "oms.7");
    msg->pattern_count = 1;
    uint8_t record[1024] = {0xa0}; /* fixstr of 0 bytes */
    size_t len = 0;
    assert_int_equal(ob_wire_encode_body(msg, record + 1, sizeof record - 1, &len), 0);
    free(msg);
    ob_store_op_t op = {OB_STORE_PUT_SUB, "shared", NULL, record, 1 + len};
    assert_int_equal(ob_store_commit(store, NULL, 0, &op, 1), 0);
    ob_store_close(&store);
    char *argv[] = {
        (char *)"orderbus-broker", (char *)"--data-dir", sec->fx->data_dir, (char *)"--endpoint",
        sec->fx->endpoint,         (char *)"--curve",    (char *)"0"};
    ob_config_t *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    char err[OB_CONFIG_ERR_MAX] = "";
    assert_int_equal(ob_config_parse(cfg, 7, argv, err, sizeof err), 0);
    zactor_t *server = NULL;
    assert_int_not_equal(ob_server_start(cfg, &server, err, sizeof err), 0);
    assert_null(server);
    if (!strstr(err, "cannot load the subscriptions"))
        fail_msg("start error '%s'", err);
    free(cfg);
}

/* A client removed from the file is refused after the reload, while another keeps
   publishing and receiving; a file that does not parse leaves the old table. */
static void
test_reload(void **state)
{
    t_sec_t *sec = *state;
    zsock_t *oms7 = s_peer(sec, sec->oms7);
    zsock_t *root = s_peer(sec, sec->root);
    /* root consumes mp.> through an ephemeral subscription */
    ob_wire_msg_t *sub = malloc(sizeof *sub);
    assert_non_null(sub);
    ob_wire_msg_init(sub, OB_CMD_SUBSCRIBE);
    sub->req = sec->fx->next_req++;
    snprintf(sub->patterns[0], sizeof sub->patterns[0], "mp.>");
    sub->pattern_count = 1;
    t_send(root, sub, NULL, 0);
    free(sub);
    t_msg_t reply;
    t_expect(root, OB_CMD_SUBSCRIBED, &reply);
    t_msg_clear(&reply);
    t_publish(sec->fx, oms7, "mp.7", "before-reload", NULL);
    s_expect_deliver(root, "mp.7");

    /* a broken file: refused, the old table stays */
    FILE *file = fopen(sec->perms, "w");
    assert_non_null(file);
    fputs("client = oms-7\n    key = \"short\"\n", file);
    fclose(file);
    char err[512] = "";
    assert_int_equal(ob_server_reload(sec->fx->server, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, sec->perms));
    t_publish(sec->fx, oms7, "mp.7", "after-bad-reload", NULL);
    s_expect_deliver(root, "mp.7");

    /* oms-7 removed */
    s_write_perms(sec, 0);
    assert_int_equal(ob_server_reload(sec->fx->server, err, sizeof err), 0);
    assert_int_equal(s_counters(sec).clients, 3); /* ops, the lengthy one, root */
    /* its session is ended at once, with FORBIDDEN ... */
    t_expect_error(oms7, 0, OB_ERR_FORBIDDEN);
    /* ... and so is anything it sends on that connection */
    uint64_t req = s_send_publish(sec, oms7, "mp.7", "after-removal");
    t_expect_error(oms7, req, OB_ERR_FORBIDDEN);
    s_send_hello(oms7);
    t_expect_error(oms7, 0, OB_ERR_FORBIDDEN);
    /* a new connection with its key is refused at the handshake */
    t_counters_t before = s_counters(sec);
    zactor_t *monitor = NULL;
    zsock_t *again = s_peer_new(sec, sec->oms7, &monitor);
    s_send_hello(again);
    s_expect_handshake_refused(monitor);
    s_wait_refused(sec, before.refused);
    t_expect_silence(again, T_REFUSE_MS);
    zactor_destroy(&monitor);
    zsock_destroy(&again);

    /* root never noticed */
    t_publish(sec->fx, root, "mp.8", "root-after-reload", NULL);
    s_expect_deliver(root, "mp.8");

    /* restored: oms-7 connects again */
    s_write_perms(sec, 1);
    assert_int_equal(ob_server_reload(sec->fx->server, err, sizeof err), 0);
    zsock_t *back = s_peer(sec, sec->oms7);
    t_publish(sec->fx, back, "mp.7", "back", NULL);
    s_expect_deliver(root, "mp.7");
    zsock_destroy(&back);
    zsock_destroy(&oms7);
    zsock_destroy(&root);
}

/* A CURVE session ends when its connection closes (PROTOCOL.md 10), as a plaintext one does:
   with max_clients 1, a client that closes its socket without a word lets another in at
   once. The monitor's descriptor binding works the same under CURVE. */
static void
test_session_ends_at_close(void **state)
{
    t_sec_t *sec = *state;
    t_broker_stop(sec->fx);
    t_broker_start(sec->fx, "--curve", "1", "--cert", sec->broker, "--permissions", sec->perms,
                   "--max-clients", "1", NULL);
    zsock_t *first = s_peer(sec, sec->oms7);
    zsock_t *second = s_peer_new(sec, sec->ops, NULL);
    s_send_hello(second);
    t_expect_error(second, 0, OB_ERR_LIMIT);
    zsock_destroy(&first);
    int64_t closed = zclock_mono();
    int welcomed = 0;
    while (!welcomed && zclock_mono() - closed < T_CLOSE_MS) {
        s_send_hello(second); /* LIMIT until the broker read the close, then WELCOME */
        t_msg_t reply;
        assert_int_equal(t_recv(second, &reply, T_TIMEOUT_MS), 0);
        welcomed = reply.wire.command == OB_CMD_WELCOME;
        if (!welcomed)
            assert_int_equal(reply.wire.code, ob_error_to_wire(OB_ERR_LIMIT));
        t_msg_clear(&reply);
    }
    assert_true(welcomed);
    zsock_destroy(&second);
}

/* liborderbus with cert and broker_cert: a known key publishes; one of the two alone, or an
   unreadable certificate, is refused by ob_client_new; an unknown key never connects. */
static void
test_client_library(void **state)
{
    t_sec_t *sec = *state;
    char client_cert[T_PATH_MAX * 2], stranger_cert[T_PATH_MAX * 2], missing[T_PATH_MAX * 2];
    snprintf(client_cert, sizeof client_cert, "%s/oms7.cert", sec->dir);
    snprintf(stranger_cert, sizeof stranger_cert, "%s/stranger.cert", sec->dir);
    snprintf(missing, sizeof missing, "%s/missing.cert", sec->dir);
    assert_int_equal(zcert_save(sec->oms7, client_cert), 0);
    assert_int_equal(zcert_save(sec->stranger, stranger_cert), 0);

    ob_client_config_t cfg = {.name = "oms-7", .timeout_ms = T_TIMEOUT_MS};
    cfg.cert = client_cert;
    cfg.broker_cert = sec->broker;
    ob_client_t *client = ob_client_new(sec->fx->endpoint, &cfg);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, T_TIMEOUT_MS), 0);
    ob_event_t ev = {.id = "lib-1", .topic = "mp.7", .type = "order.created"};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(client, &ev, &confirm), 0);
    ev.id = "lib-2";
    ev.topic = "oms.7";
    assert_int_equal(ob_client_publish(client, &ev, &confirm), OB_ERR_FORBIDDEN);
    ob_client_destroy(&client);

    /* misconfigurations are refused at once */
    ob_client_config_t half = {.cert = client_cert};
    assert_null(ob_client_new(sec->fx->endpoint, &half));
    half = (ob_client_config_t){.broker_cert = sec->broker};
    assert_null(ob_client_new(sec->fx->endpoint, &half));
    ob_client_config_t bad = {.cert = missing, .broker_cert = sec->broker};
    assert_null(ob_client_new(sec->fx->endpoint, &bad));
    bad = (ob_client_config_t){.cert = client_cert, .broker_cert = missing};
    assert_null(ob_client_new(sec->fx->endpoint, &bad));
    /* a public certificate alone has no secret key: not usable as the client's own */
    char public_only[T_PATH_MAX * 2];
    snprintf(public_only, sizeof public_only, "%s/public-only.cert", sec->dir);
    assert_int_equal(zcert_save_public(sec->oms7, public_only), 0);
    bad = (ob_client_config_t){.cert = public_only, .broker_cert = sec->broker};
    assert_null(ob_client_new(sec->fx->endpoint, &bad));

    /* an unknown key: refused at the handshake, so the connect times out, and counted */
    t_counters_t before = s_counters(sec);
    ob_client_config_t unknown = {.cert = stranger_cert, .broker_cert = sec->broker};
    client = ob_client_new(sec->fx->endpoint, &unknown);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, T_REFUSE_MS), OB_ERR_TIMEOUT);
    s_wait_refused(sec, before.refused);
    ob_client_destroy(&client);
}

/* The same reload through the real signal: a broker process (main.c's SIGHUP handler), two
   liborderbus clients with certificates. After SIGHUP with oms-7 removed from the file, a
   new connection with its key is refused at the handshake (bounded wait for the reload to
   land, observed as that refusal), the connection it had can no longer publish, and root
   keeps publishing throughout. */
static void
test_sighup_process(void **state)
{
    t_sec_t *sec = *state;
    char data[T_PATH_MAX * 2], endpoint[BROKER_PROC_ENDPOINT_MAX], oms7_cert[T_PATH_MAX * 2],
        root_cert[T_PATH_MAX * 2];
    snprintf(data, sizeof data, "%s/proc-data", sec->dir);
    snprintf(oms7_cert, sizeof oms7_cert, "%s/oms7-proc.cert", sec->dir);
    snprintf(root_cert, sizeof root_cert, "%s/root-proc.cert", sec->dir);
    assert_int_equal(zcert_save(sec->oms7, oms7_cert), 0);
    assert_int_equal(zcert_save(sec->root, root_cert), 0);
    char file[T_PATH_MAX * 2 + sizeof BROKER_PROC_FILE_SUFFIX];
    assert_int_equal(broker_proc_file(data, file, sizeof file), 0);
    const char *broker = getenv("OB_BROKER");
    assert_non_null(broker);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(broker, broker, "--data-dir", data, "--endpoint", BROKER_PROC_EPHEMERAL,
              "--endpoint-file", file, "--curve", "1", "--cert", sec->broker, "--permissions",
              sec->perms, "--metrics=", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(
        broker_proc_wait_file(pid, file, T_TIMEOUT_MS, endpoint, sizeof endpoint, NULL), 0);

    ob_client_config_t cfg = {.name = "oms-7", .timeout_ms = T_TIMEOUT_MS};
    cfg.cert = oms7_cert;
    cfg.broker_cert = sec->broker;
    ob_client_t *oms7 = ob_client_new(endpoint, &cfg);
    cfg.name = "root";
    cfg.cert = root_cert;
    ob_client_t *root = ob_client_new(endpoint, &cfg);
    assert_non_null(oms7);
    assert_non_null(root);
    assert_int_equal(ob_client_connect(oms7, 2 * T_TIMEOUT_MS), 0); /* the broker is up */
    assert_int_equal(ob_client_connect(root, T_TIMEOUT_MS), 0);
    ob_event_t ev = {.id = "sighup-0", .topic = "mp.7", .type = "order.created"};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(oms7, &ev, &confirm), 0);

    s_write_perms(sec, 0);
    assert_int_equal(kill(pid, SIGHUP), 0);
    int refused = 0, round = 0;
    char id[32];
    int64_t deadline = zclock_mono() + 2 * T_TIMEOUT_MS;
    while (!refused && zclock_mono() < deadline) {
        snprintf(id, sizeof id, "root-%d", round++);
        ob_event_t ev_root = {.id = id, .topic = "mp.8", .type = "order.created"};
        assert_int_equal(ob_client_publish(root, &ev_root, &confirm), 0);
        ob_client_config_t again_cfg = {.cert = oms7_cert, .broker_cert = sec->broker};
        ob_client_t *again = ob_client_new(endpoint, &again_cfg);
        assert_non_null(again);
        refused = ob_client_connect(again, T_REFUSE_MS / 3) == OB_ERR_TIMEOUT;
        ob_client_destroy(&again);
    }
    assert_true(refused);
    ev.id = "sighup-1";
    assert_int_not_equal(ob_client_publish(oms7, &ev, &confirm), 0);
    ob_event_t ev_root = {.id = "root-last", .topic = "mp.8", .type = "order.created"};
    assert_int_equal(ob_client_publish(root, &ev_root, &confirm), 0);

    ob_client_destroy(&oms7);
    ob_client_destroy(&root);
    int status = broker_proc_stop(pid, SIGTERM);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The broker does not start with a missing certificate or permissions file, and says how
   to make one. */
static void
test_start_errors(void **state)
{
    t_sec_t *sec = *state;
    char missing[T_PATH_MAX * 2];
    snprintf(missing, sizeof missing, "%s/nope.cert", sec->dir);
    char data_dir[T_PATH_MAX * 2], endpoint[T_PATH_MAX * 2];
    snprintf(data_dir, sizeof data_dir, "%s/data2", sec->dir);
    snprintf(endpoint, sizeof endpoint, "ipc://%s/b2.ipc", sec->dir);
    struct {
        const char *cert, *perms, *needle;
    } cases[] = {
        {missing, sec->perms, "orderbus-keys broker"},
        {sec->broker, missing, "cannot read permissions file"},
    };
    for (size_t i = 0; i < 2; i++) {
        char *argv[] = {(char *)"orderbus-broker",
                        (char *)"--data-dir",
                        data_dir,
                        (char *)"--endpoint",
                        endpoint,
                        (char *)"--cert",
                        (char *)cases[i].cert,
                        (char *)"--permissions",
                        (char *)cases[i].perms,
                        (char *)"--metrics="};
        ob_config_t *cfg = calloc(1, sizeof *cfg);
        assert_non_null(cfg);
        char err[OB_CONFIG_ERR_MAX] = "";
        assert_int_equal(ob_config_parse(cfg, 9, argv, err, sizeof err), 0);
        zactor_t *server = NULL;
        assert_int_not_equal(ob_server_start(cfg, &server, err, sizeof err), 0);
        assert_null(server);
        if (!strstr(err, cases[i].needle) || !strstr(err, missing))
            fail_msg("case %zu: '%s' lacks '%s' or the path", i, err, cases[i].needle);
        free(cfg);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plaintext_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_permissions_table, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_subscription_owner, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reload, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_session_ends_at_close, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_client_library, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sighup_process, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_start_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
