/*  t_peer: see peer.h. */
#include "peer.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "server.h"

#define T_ARGS_MAX 32 /* command-line arguments of a started broker */

void
t_remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            char child[T_PATH_MAX * 4];
            struct stat st;
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
                continue;
            snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
            if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
                t_remove_tree(child);
            else
                unlink(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

size_t
t_fd_path(int fd, char *path, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = size ? readlink(link, path, size - 1) : -1;
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return (size_t)n;
}

static void
s_start(t_broker_t *fx, va_list args)
{
    char *argv[T_ARGS_MAX] = {(char *)"orderbus-broker",
                              (char *)"--config",
                              (char *)OB_SOURCE_DIR "/deploy/orderbus-broker.cfg",
                              (char *)"--data-dir",
                              fx->data_dir,
                              (char *)"--endpoint",
                              fx->endpoint,
                              (char *)"--metrics="}; /* no fixed port in a test */
    int argc = 8;
    for (char *arg = va_arg(args, char *); arg && argc < T_ARGS_MAX - 1; arg = va_arg(args, char *))
        argv[argc++] = arg;
    ob_config_t *cfg = calloc(1, sizeof *cfg);
    assert_non_null(cfg);
    char err[OB_CONFIG_ERR_MAX] = "";
    int rc = ob_config_parse(cfg, argc, argv, err, sizeof err);
    if (rc)
        print_error("config: %s\n", err);
    assert_int_equal(rc, 0);
    rc = ob_server_start(cfg, &fx->server, err, sizeof err);
    if (rc)
        print_error("start: %s\n", err);
    free(cfg);
    assert_int_equal(rc, 0);
}

t_broker_t *
t_broker_new(const char *prefix, ...)
{
    t_broker_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/ob-%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->data_dir, sizeof fx->data_dir, "%s/data", fx->dir);
    snprintf(fx->endpoint, sizeof fx->endpoint, "ipc://%s/broker.ipc", fx->dir);
    fx->next_req = 1;
    va_list args;
    va_start(args, prefix);
    s_start(fx, args);
    va_end(args);
    return fx;
}

void
t_broker_start(t_broker_t *fx, ...)
{
    va_list args;
    va_start(args, fx);
    s_start(fx, args);
    va_end(args);
}

void
t_broker_stop(t_broker_t *fx)
{
    zactor_destroy(&fx->server);
}

void
t_broker_destroy(t_broker_t **fx_p)
{
    t_broker_t *fx = *fx_p;
    if (!fx)
        return;
    t_broker_stop(fx);
    t_remove_tree(fx->dir);
    free(fx);
    *fx_p = NULL;
}

void
t_send(zsock_t *peer, const ob_wire_msg_t *msg, const uint8_t *event, size_t event_len)
{
    uint8_t header[OB_HEADER_SIZE];
    uint8_t *body = malloc(OB_BODY_MAX);
    assert_non_null(body);
    size_t body_len = 0;
    ob_wire_encode_header(msg, header);
    assert_int_equal(ob_wire_encode_body(msg, body, OB_BODY_MAX, &body_len), 0);
    zmsg_t *out = zmsg_new();
    zmsg_addmem(out, header, sizeof header);
    zmsg_addmem(out, body, body_len);
    if (event)
        zmsg_addmem(out, event, event_len);
    assert_int_equal(zmsg_send(&out, peer), 0);
    free(body);
}

void
t_msg_clear(t_msg_t *msg)
{
    for (size_t i = 0; i < msg->event_count; i++)
        free(msg->events[i]);
    free((void *)(uintptr_t)msg->wire.result); /* t_recv's copy */
    memset(msg, 0, sizeof *msg);
}

int
t_recv(zsock_t *peer, t_msg_t *ret, int timeout_ms)
{
    memset(ret, 0, sizeof *ret);
    zpoller_t *poller = zpoller_new(peer, NULL);
    void *which = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    if (!which)
        return -1;
    zmsg_t *msg = zmsg_recv(peer);
    assert_non_null(msg);
    assert_true(zmsg_size(msg) >= 2 && zmsg_size(msg) <= OB_DELIVER_FRAMES_MAX);
    zframe_t *header = zmsg_first(msg);
    zframe_t *body = zmsg_next(msg);
    int rc = ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                            zframe_size(body), &ret->wire);
    assert_int_equal(rc, 0);
    /* an OK's result points into the body: keep a copy as the "event" if there is no
       event frame, so that it outlives the message */
    for (zframe_t *event = zmsg_next(msg); event; event = zmsg_next(msg)) {
        size_t i = ret->event_count++;
        ret->event_lens[i] = zframe_size(event);
        ret->events[i] = malloc(ret->event_lens[i] ? ret->event_lens[i] : 1);
        assert_non_null(ret->events[i]);
        memcpy(ret->events[i], zframe_data(event), ret->event_lens[i]);
    }
    if (ret->event_count) {
        ret->event = ret->events[0];
        ret->event_len = ret->event_lens[0];
    }
    /* a message has the event frames its command says: one, or a DELIVER run's count */
    size_t run = ret->wire.command == OB_CMD_DELIVER && ret->wire.count > 1 ? ret->wire.count : 1;
    assert_true(ret->event_count == 0 || ret->event_count == run);
    if (ret->wire.result) {
        uint8_t *copy = malloc(ret->wire.result_len);
        assert_non_null(copy);
        memcpy(copy, ret->wire.result, ret->wire.result_len);
        ret->wire.result = copy; /* freed by t_msg_clear */
    }
    zmsg_destroy(&msg);
    return 0;
}

void
t_expect(zsock_t *peer, int command, t_msg_t *ret)
{
    if (t_recv(peer, ret, T_TIMEOUT_MS))
        fail_msg("no %s within %d ms", ob_command_name(command), T_TIMEOUT_MS);
    if (ret->wire.command != command)
        fail_msg("got %s (code %u: %s), expected %s", ob_command_name(ret->wire.command),
                 ret->wire.code, ret->wire.reason, ob_command_name(command));
}

void
t_expect_error(zsock_t *peer, uint64_t req, int rc)
{
    t_msg_t msg;
    t_expect(peer, OB_CMD_ERROR, &msg);
    if (msg.wire.code != ob_error_to_wire(rc) || msg.wire.req != req)
        fail_msg("got ERROR %u req %" PRIu64 " (%s), expected %u req %" PRIu64, msg.wire.code,
                 msg.wire.req, msg.wire.reason, ob_error_to_wire(rc), req);
    assert_true(strlen(msg.wire.reason) > 0);
    t_msg_clear(&msg);
}

void
t_expect_silence(zsock_t *peer, int timeout_ms)
{
    zpoller_t *poller = zpoller_new(peer, NULL);
    void *which = zpoller_wait(poller, timeout_ms);
    zpoller_destroy(&poller);
    assert_null(which);
}

zsock_t *
t_peer(t_broker_t *fx, uint32_t heartbeat_ms)
{
    return t_peer_run(fx, heartbeat_ms, 0);
}

zsock_t *
t_peer_run(t_broker_t *fx, uint32_t heartbeat_ms, uint32_t max_run)
{
    zsock_t *peer = zsock_new(ZMQ_DEALER);
    assert_non_null(peer);
    zsock_set_linger(peer, 0);
    zsock_set_rcvhwm(peer, 0);
    assert_int_equal(zsock_connect(peer, "%s", fx->endpoint), 0);
    ob_wire_msg_t *hello = calloc(1, sizeof *hello);
    assert_non_null(hello);
    hello->command = OB_CMD_HELLO;
    snprintf(hello->name, sizeof hello->name, "test");
    hello->heartbeat_ms = heartbeat_ms;
    hello->max_run = max_run;
    t_send(peer, hello, NULL, 0);
    free(hello);
    t_msg_t welcome;
    t_expect(peer, OB_CMD_WELCOME, &welcome);
    t_msg_clear(&welcome);
    return peer;
}

void
t_event(const char *topic, const char *id, const char *type, size_t data_len, uint8_t **ret_buf,
        size_t *ret_len)
{
    uint8_t *data = calloc(1, data_len + 1);
    assert_non_null(data);
    memset(data, 'd', data_len);
    ob_event_t event;
    memset(&event, 0, sizeof event);
    event.id = id;
    event.topic = topic;
    event.type = type ? type : "project_item.created";
    event.time_us = 1700000000000000ull;
    event.source = "test";
    event.data = data;
    event.data_len = data_len;
    assert_int_equal(ob_event_encode(&event, ret_buf, ret_len), 0);
    free(data);
}

uint64_t
t_publish(t_broker_t *fx, zsock_t *peer, const char *topic, const char *id, const char *type)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    t_event(topic, id, type, 16, &buf, &len);
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    assert_non_null(msg);
    msg->command = OB_CMD_PUBLISH;
    msg->req = fx->next_req++;
    t_send(peer, msg, buf, len);
    free(buf);
    t_msg_t reply;
    t_expect(peer, OB_CMD_CONFIRM, &reply);
    assert_int_equal(reply.wire.req, msg->req);
    uint64_t seq = reply.wire.seq;
    free(msg);
    t_msg_clear(&reply);
    return seq;
}
