/*  fuzz_broker: the broker's command handling (broker/server.c, subs.c, the store) fed
    sequences of messages from a few DEALER peers.

    Input format (seeds: ob_gen_corpus writes corpus/broker/ok-* from the encoders):

        input   = *message                  at most S_MESSAGES_MAX; the rest is ignored
        message = control *frame            exactly n frames
        control = 1 byte: bits 0-1 the peer (value % S_PEERS), bits 2-3 n - 1 (1..4 frames),
                  bits 4-7 unused
        frame   = length (2 bytes, big-endian) data (length bytes; a frame cut short by the
                  end of the input takes what is left, and the frames after it are empty)

    A real message is header, body (and the event for PUBLISH): n = 2 or 3; n = 1 and 4
    reach the frame-count checks. Each message goes to its peer in input order. Then every
    peer sends SUB_INFO for the subscription "fuzz-sync" with a req the input cannot know (a
    counter from 2^62), and the harness reads every peer until each has its answer (OK, or
    ERROR: HELLO_REQUIRED, NOT_FOUND...), within S_WAIT_MS: a missing answer is a finding
    (abort). So every message of an input has been read and handled before the next input
    (replies that wait for a commit, CONFIRM and a durable SUBSCRIBED, may arrive during the
    next one). The brief asked for PING: its answer, PONG or an ERROR without req, cannot be
    told apart from the answer to a PING of the input; a request with an unguessable req can.

    Every message the broker sends is checked: 2 or 3 frames (a DELIVER run, to a peer whose
    HELLO asked for runs, and the OK of a FETCH of a range: 2 + count), ob_wire_decode
    accepts it, a command the broker may send, event frames only on DELIVER (always: one, or
    count) and OK (FETCH: one; a range: its result's count), and each event passes
    ob_event_peek. Anything else aborts.

    The broker: one server actor (ob_server_start) per process, started on the first input,
    on inproc:// without CURVE (curve 0), its LMDB directory in /dev/shm (commits are cheap),
    a 64 KiB initial map (so that it grows), batch_max 16, max_event_bytes 2K (so that
    TOO_LARGE is reachable) and a retention of 32 events per topic (so that retention runs
    and DELIVER reports skipped events). Every S_RESTART_EVERY inputs the actor and peers are
    destroyed, the directory removed and a fresh one started, so that the store stays small
    over millions of inputs. At exit (libFuzzer's -runs and -max_total_time end with exit)
    an atexit handler does the same, so that LeakSanitizer sees nothing alive. The broker's
    logs are silenced unless OB_FUZZ_LOG is set in the environment. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <czmq.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"
#include "orderbus/wire.h"
#include "server.h"

#include "mpscan.h" /* the count of a FETCH range's result */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_PEERS 3               /* DEALER peers */
#define S_MESSAGES_MAX 64       /* messages taken from one input */
#define S_RESTART_EVERY 2000    /* inputs before a fresh actor and store */
#define S_WAIT_MS 10000         /* longest wait for the answers of one input */
#define S_SYNC_REQ (1ull << 62) /* first req of the sync requests */
#define S_SYNC_SUB "fuzz-sync"

static char s_root[64];                  /* /dev/shm/ob-fuzz-broker-PID */
static char s_data_dir[128];             /* s_root/gN, the current actor's */
static zactor_t *s_server;               /* the running server, NULL before the first input */
static zsock_t *s_peers[S_PEERS];        /* connected to s_server */
static unsigned s_generation;            /* actors started */
static unsigned s_inputs;                /* inputs run on the current actor */
static uint64_t s_next_req = S_SYNC_REQ; /* req of the next sync request */

/* Aborts (which the fuzzer reports with the input) unless cond holds. */
static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* nftw callback: removes one entry (children come first). */
static int
s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Stops the actor and the peers and removes the data directory. */
static void
s_stop(void)
{
    for (size_t i = 0; i < S_PEERS; i++)
        zsock_destroy(&s_peers[i]);
    zactor_destroy(&s_server);
    if (s_data_dir[0])
        nftw(s_data_dir, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* At exit: stops everything and removes s_root. */
static void
s_exit(void)
{
    s_stop();
    rmdir(s_root);
}

/* Starts generation s_generation of the actor, with a fresh directory, and its peers. */
static void
s_start(void)
{
    char endpoint[96], err[OB_CONFIG_ERR_MAX];
    snprintf(s_data_dir, sizeof s_data_dir, "%s/g%u", s_root, s_generation);
    snprintf(endpoint, sizeof endpoint, "inproc://ob-fuzz-broker-%u", s_generation);
    s_generation++;
    char *argv[] = {(char *)"fuzz_broker",
                    (char *)"--curve=0",
                    (char *)"--endpoint",
                    endpoint,
                    (char *)"--data-dir",
                    s_data_dir,
                    (char *)"--map-size=64K",
                    (char *)"--batch-max=16",
                    (char *)"--max-event-bytes=2K",
                    (char *)"--retention-max-events=32",
                    (char *)"--metrics="};
    ob_config_t *cfg = calloc(1, sizeof *cfg);
    s_require(cfg != NULL);
    int rc = ob_config_parse(cfg, (int)(sizeof argv / sizeof argv[0]), argv, err, sizeof err);
    if (rc == 0)
        rc = ob_server_start(cfg, &s_server, err, sizeof err);
    free(cfg);
    if (rc) {
        fprintf(stderr, "fuzz_broker: cannot start the broker: %s\n", err);
        abort();
    }
    for (size_t i = 0; i < S_PEERS; i++) {
        s_peers[i] = zsock_new(ZMQ_DEALER);
        s_require(s_peers[i] != NULL);
        zsock_set_linger(s_peers[i], 0);
        zsock_set_rcvhwm(s_peers[i], 0);
        zsock_set_sndhwm(s_peers[i], 0);
        s_require(zsock_connect(s_peers[i], "%s", endpoint) == 0);
    }
    s_inputs = 0;
}

/* Runs once, on the first input. */
static void
s_setup(void)
{
    if (!getenv("OB_FUZZ_LOG"))
        zsys_set_logstream(NULL); /* the broker logs every start and stop */
    /* tmpfs, where commits cost no disk write; /tmp on a system without it */
    snprintf(s_root, sizeof s_root, "%s/ob-fuzz-broker-%ld",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid());
    s_require(mkdir(s_root, 0700) == 0);
    s_start();
    /* after czmq's own atexit (zsys_init ran above), so that this one runs first */
    atexit(s_exit);
}

/* Returns the `count` of an OK's result (a FETCH range's), or -1 if it has none. */
static long long
s_result_count(const ob_wire_msg_t *msg)
{
    static const ob_mp_key_t keys[] = {OB_MP_KEY("count")};
    if (!msg->result)
        return -1; /* none (and NULL + 0 is undefined) */
    ob_mp_cursor_t cur = {msg->result, msg->result + msg->result_len}, value;
    uint64_t count = 0;
    if (ob_mp_read_fields(&cur, keys, 1, &value) || !value.pos)
        return -1; /* not a map (TOPICS, SUBS: arrays) */
    s_require(ob_mp_read_uint(&value, &count) == 0 && count <= OB_FETCH_RANGE_MAX);
    return (long long)count;
}

/* Checks one message the broker sent. Returns its req if it is an OK or ERROR, else 0. */
static uint64_t
s_check_reply(zmsg_t *reply)
{
    static ob_wire_msg_t msg; /* 7 KB */
    size_t frames = zmsg_size(reply);
    _Static_assert(OB_FETCH_FRAMES_MAX >= OB_DELIVER_FRAMES_MAX, "the longest message");
    s_require(frames >= 2 && frames <= OB_FETCH_FRAMES_MAX);
    zframe_t *header = zmsg_first(reply);
    zframe_t *body = zmsg_next(reply);
    zframe_t *event = zmsg_next(reply);
    int rc = ob_wire_decode(zframe_data(header), zframe_size(header), zframe_data(body),
                            zframe_size(body), &msg);
    if (rc) {
        fprintf(stderr, "fuzz_broker: the broker sent a malformed %s: %s\n",
                ob_command_name(zframe_size(header) == OB_HEADER_SIZE ? zframe_data(header)[3] : 0),
                ob_strerror(rc));
        abort();
    }
    switch (msg.command) {
    case OB_CMD_WELCOME:
    case OB_CMD_PONG:
    case OB_CMD_ERROR:
    case OB_CMD_CONFIRM:
    case OB_CMD_SUBSCRIBED:
        s_require(event == NULL);
        break;
    case OB_CMD_DELIVER: /* one event frame, or a run's count (PROTOCOL.md 12.3) */
        s_require(frames - 2 == (msg.count > 1 ? msg.count : 1));
        break;
    case OB_CMD_OK: { /* a range has its count of event frames (PROTOCOL.md 13) */
        long long count = s_result_count(&msg);
        s_require(count < 0 ? frames <= OB_FRAMES_MAX : (long long)frames - 2 == count);
        break;
    }
    default:
        fprintf(stderr, "fuzz_broker: the broker sent a %s\n", ob_command_name(msg.command));
        abort();
    }
    if (msg.command != OB_CMD_DELIVER && msg.command != OB_CMD_OK) /* both checked above */
        s_require(frames <= OB_FRAMES_MAX);
    for (; event; event = zmsg_next(reply)) {
        ob_event_envelope_t envelope;
        rc = ob_event_peek(zframe_data(event), zframe_size(event), &envelope);
        if (rc) {
            fprintf(stderr, "fuzz_broker: %s carries a bad event: %s\n",
                    ob_command_name(msg.command), ob_strerror(rc));
            abort();
        }
    }
    return msg.command == OB_CMD_OK || msg.command == OB_CMD_ERROR ? msg.req : 0;
}

/* Sends the sync request on every peer and reads them all until each has its answer. */
static void
s_sync(void)
{
    uint64_t want[S_PEERS];
    size_t waiting = S_PEERS;
    static uint8_t body[OB_BODY_MAX];
    uint8_t header[OB_HEADER_SIZE];
    ob_wire_msg_t *msg = calloc(1, sizeof *msg);
    s_require(msg != NULL);
    ob_wire_msg_init(msg, OB_CMD_SUB_INFO);
    snprintf(msg->sub, sizeof msg->sub, "%s", S_SYNC_SUB);
    for (size_t i = 0; i < S_PEERS; i++) {
        size_t body_len = 0;
        msg->req = want[i] = s_next_req++;
        ob_wire_encode_header(msg, header);
        s_require(ob_wire_encode_body(msg, body, sizeof body, &body_len) == 0);
        zmsg_t *out = zmsg_new();
        s_require(out && zmsg_addmem(out, header, sizeof header) == 0 &&
                  zmsg_addmem(out, body, body_len) == 0 && zmsg_send(&out, s_peers[i]) == 0);
    }
    free(msg);

    zpoller_t *poller = zpoller_new(NULL);
    s_require(poller != NULL);
    for (size_t i = 0; i < S_PEERS; i++)
        s_require(zpoller_add(poller, s_peers[i]) == 0);
    int64_t deadline = zclock_mono() + S_WAIT_MS;
    while (waiting > 0) {
        int64_t left = deadline - zclock_mono();
        zsock_t *which = left > 0 ? zpoller_wait(poller, (int)left) : NULL;
        if (!which && left > 0 && !zpoller_expired(poller))
            continue; /* a signal (libFuzzer's SIGALRM every -timeout/2 s): wait on */
        if (!which) {
            fprintf(stderr,
                    "fuzz_broker: %zu peers had no answer to their sync request within "
                    "%d ms\n",
                    waiting, S_WAIT_MS);
            abort();
        }
        /* read everything waiting on that peer */
        for (;;) {
            zmsg_t *reply = zmsg_recv_nowait(which);
            if (!reply)
                break;
            uint64_t req = s_check_reply(reply);
            zmsg_destroy(&reply);
            for (size_t i = 0; i < S_PEERS; i++)
                if (which == s_peers[i] && req == want[i] && want[i] != 0) {
                    want[i] = 0;
                    waiting--;
                }
        }
    }
    zpoller_destroy(&poller);
}

/* Reads a big-endian 16-bit length at *pos, advancing it; 0 past the end. */
static size_t
s_length(const uint8_t *data, size_t size, size_t *pos)
{
    size_t len = 0;
    for (int i = 0; i < 2; i++)
        len = (len << 8) | (*pos < size ? data[(*pos)++] : 0);
    return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_server)
        s_setup();
    else if (s_inputs >= S_RESTART_EVERY) {
        s_stop();
        s_start();
    }
    s_inputs++;

    size_t pos = 0;
    for (int m = 0; m < S_MESSAGES_MAX && pos < size; m++) {
        uint8_t control = data[pos++];
        zsock_t *peer = s_peers[(control & 3) % S_PEERS];
        size_t frames = ((control >> 2) & 3) + 1;
        zmsg_t *out = zmsg_new();
        s_require(out != NULL);
        for (size_t f = 0; f < frames; f++) {
            size_t len = s_length(data, size, &pos);
            if (len > size - pos)
                len = size - pos;
            s_require(zmsg_addmem(out, data + pos, len) == 0);
            pos += len;
        }
        s_require(zmsg_send(&out, peer) == 0);
    }
    s_sync();
    return 0;
}
