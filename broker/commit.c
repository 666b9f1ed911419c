/*  ob_server, group commit (see server_int.h for the parts).

    The per-publish path allocates nothing of its own: the event is validated by
    ob_event_peek, which allocates nothing and gives its envelope as views into the frame;
    frames are received into zmq_msg_t values (no czmq zframe_t allocations); the routing id
    and the event frame of a publish are moved into the batch as they are (zero-copy; the
    store item points into the event frame); batch arrays are allocated once; replies are
    encoded on the stack and sent with zmq_send (small frames are copied inline by libzmq).

    Throughput is the number of publishes in flight divided by the commit time, so the writer
    must never wait for us: when it returns a batch, the batch collected meanwhile is handed
    over first, and only then is the returned one answered.

    Here: PUBLISH into the collecting batch, the handover to the writer, its return, the
    CONFIRMs and the answers to SUBSCRIBEs that waited for a commit. It sends through
    server.c and touches sessions only to count their publishes in flight. */
#include "server_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define S_COMMIT_REASON_MAX 128 /* bytes in a failed commit's reason */

/* Frees what a pending publish owns. */
static void
s_pending_clear(ob_srv_pending_t *pending)
{
    /* closing and re-initialising leaves both ready for the next publish */
    zmq_msg_close(&pending->rid);
    zmq_msg_init(&pending->rid);
    zmq_msg_close(&pending->frame);
    zmq_msg_init(&pending->frame);
    memset(&pending->env, 0, sizeof pending->env); /* its views died with the frame */
}

/* Returns 1 if batch can take no more publishes. */
int
ob_srv_batch_full(const ob_srv_t *self, const ob_srv_batch_t *batch)
{
    return batch->wb.count >= self->cfg.batch_max || batch->bytes >= OB_SERVER_BATCH_BYTES_MAX;
}

/* A run of confirmations for one client: consecutive reqs on one topic that got consecutive
   sequence numbers with the same dup flag. It goes out as one CONFIRM with a count, so that
   a pipelining client gets one message per batch instead of one per event. */
typedef struct s_run {
    zmq_msg_t *rid;    /* the client's routing id, borrowed from the batch */
    const char *topic; /* the run's topic, topic_len bytes, borrowed from the batch */
    size_t topic_len;  /* bytes at topic */
    struct {
        uint64_t req, seq; /* the first of the run */
        int dup;
        uint32_t count;
    } msg; /* the CONFIRM so far */
} s_run_t;

/* count publishes of the peer rid were answered: they no longer count towards its
   max_pending. A session that said HELLO again meanwhile started from 0. */
static void
s_answered(ob_srv_t *self, zmq_msg_t *rid, uint32_t count)
{
    ob_srv_session_t *session = ob_srv_session_of(self, rid);
    if (session)
        session->pending = session->pending > count ? session->pending - count : 0;
}

/* Sends run's CONFIRM and closes it. */
static void
s_run_flush(ob_srv_t *self, s_run_t *run)
{
    if (run->rid) {
        s_answered(self, run->rid, run->msg.count);
        ob_wire_msg_t *msg = &self->confirm;
        msg->command = OB_CMD_CONFIRM;
        msg->req = run->msg.req;
        msg->seq = run->msg.seq;
        msg->dup = run->msg.dup;
        msg->count = run->msg.count;
        ob_srv_send(self, run->rid, msg);
    }
    run->rid = NULL;
}

/* Returns 1 if the routing ids a and b are the same. */
static int
s_rid_equal(zmq_msg_t *a, zmq_msg_t *b)
{
    return zmq_msg_size(a) == zmq_msg_size(b) &&
           memcmp(zmq_msg_data(a), zmq_msg_data(b), zmq_msg_size(a)) == 0;
}

/* The error a client gets for rc, a failed commit's code (store.h) or another: a full disk
   (-ENOSPC) is STORAGE like any storage failure (PROTOCOL.md 8); s_commit_reason names it. */
static int
s_commit_rc(int rc)
{
    return rc == -ENOSPC ? OB_ERR_STORAGE : rc;
}

/* Writes the reason for rc (as s_commit_rc) into buf (len bytes) and returns buf: for a
   full disk "storage failure: no space left on device", else ob_strerror(rc). */
static const char *
s_commit_reason(int rc, char *buf, size_t len)
{
    if (s_commit_rc(rc) != rc)
        snprintf(buf, len, "%s: %s", ob_strerror(s_commit_rc(rc)), ob_strerror(rc));
    else
        snprintf(buf, len, "%s", ob_strerror(rc));
    return buf;
}

/* Logs the outcome of batch's commit if it failed, or if it is the first to succeed after
   failures: the first failure of a series at once, then at most one line per
   OB_SERVER_STORAGE_LOG_MS, which counts the failures left unlogged before it, so that a
   full disk under load (a failed commit every few milliseconds) cannot flood the log. */
static void
s_log_commit(ob_srv_t *self, const ob_srv_batch_t *batch)
{
    char reason[S_COMMIT_REASON_MAX];
    int rc = batch->wb.rc;
    if (rc == 0 && !self->storage_failing)
        return;
    int64_t now = zclock_mono();
    if (rc && self->storage_failing && now - self->storage_logged_at < OB_SERVER_STORAGE_LOG_MS) {
        self->storage_unlogged++;
        self->storage_unlogged_publishes += batch->publishes;
        return;
    }
    if (rc == 0)
        zsys_info("server: storage works again (%" PRIu64 " failed commits, %" PRIu64
                  " publishes refused, since the last storage line)",
                  self->storage_unlogged, self->storage_unlogged_publishes);
    else if (self->storage_unlogged)
        zsys_error("server: commit failed, %zu publishes refused: %s (and %" PRIu64
                   " failed commits, %" PRIu64 " publishes refused, since the last line)",
                   batch->publishes, s_commit_reason(rc, reason, sizeof reason),
                   self->storage_unlogged, self->storage_unlogged_publishes);
    else
        zsys_error("server: commit failed, %zu publishes refused: %s", batch->publishes,
                   s_commit_reason(rc, reason, sizeof reason));
    self->storage_failing = rc != 0;
    self->storage_logged_at = now;
    self->storage_unlogged = self->storage_unlogged_publishes = 0;
}

/* After the commit of batch: tells subs what was stored (or that the commit failed, so that
   its state is written again), frees the dead letters, and answers the SUBSCRIBEs that
   waited for this commit. */
static void
s_subs_committed(ob_srv_t *self, ob_srv_batch_t *batch)
{
    int rc = batch->wb.rc;
    if (rc == 0) {
        ob_subs_on_commit(self->subs, batch->wb.items, batch->wb.count);
        for (size_t i = batch->publishes; i < batch->wb.count; i++)
            if (batch->wb.items[i].rc == 0 && !batch->wb.items[i].dup) {
                self->published++;
                ob_broker_metrics_stored(self->metrics, batch->wb.items[i].event_len);
            }
        for (size_t i = 0; i < batch->subs.letter_count; i++)
            free(batch->subs.letters[i].event);
        batch->subs.letter_count = 0;
    } else {
        ob_subs_uncollect(self->subs, &batch->subs);
        if (self->terminating)
            self->store_failed = 1;
    }
    ob_srv_deferred_t *d;
    char reason[S_COMMIT_REASON_MAX];
    while ((d = zlistx_detach(batch->deferred, NULL))) {
        ob_srv_session_t *session = zhashx_lookup(self->sessions, d->key);
        if (session) {
            int arc = rc ? rc : ob_subs_attach(self->subs, session, d->sub);
            if (arc)
                ob_srv_send_error_to(self, session, d->req, s_commit_rc(arc), "SUBSCRIBE %s: %s",
                                     d->sub, s_commit_reason(arc, reason, sizeof reason));
            else {
                ob_wire_msg_t *msg = &self->msg;
                memset(msg, 0, sizeof *msg);
                msg->command = OB_CMD_SUBSCRIBED;
                msg->req = d->req;
                snprintf(msg->sub, sizeof msg->sub, "%s", d->sub);
                msg->created = 1;
                ob_srv_send_to(self, session->rid, session->rid_len, msg, NULL, 0);
            }
        }
        free(d);
    }
}

/* Answers every publish of the batch the writer returned, then empties it. Per client, the
   answers keep the order of its publishes. */
static void
s_confirm(ob_srv_t *self, ob_srv_batch_t *batch)
{
    s_run_t runs[OB_SERVER_RUNS_OPEN];
    size_t next_victim = 0;
    char reason[S_COMMIT_REASON_MAX];
    memset(runs, 0, sizeof runs);
    s_log_commit(self, batch);
    for (size_t i = 0; i < batch->publishes; i++) {
        const ob_store_item_t *item = &batch->wb.items[i];
        ob_srv_pending_t *pending = &batch->pending[i];
        s_run_t *run = NULL;
        for (size_t r = 0; r < OB_SERVER_RUNS_OPEN && !run; r++)
            if (runs[r].rid && s_rid_equal(runs[r].rid, &pending->rid))
                run = &runs[r];
        if (item->rc) {
            if (run)
                s_run_flush(self, run); /* the client's earlier answers go first */
            s_answered(self, &pending->rid, 1);
            ob_srv_send_error(self, &pending->rid, pending->req, s_commit_rc(item->rc), "%.*s: %s",
                              (int)pending->env.topic_len, pending->env.topic,
                              s_commit_reason(item->rc, reason, sizeof reason));
            continue;
        }
        if (item->dup)
            self->duplicates++;
        else
            self->published++;
        ob_broker_metrics_confirm(self->metrics, item->dup, item->event_len);
        if (run && run->msg.req + run->msg.count == pending->req &&
            run->msg.seq + run->msg.count == item->seq && run->msg.dup == item->dup &&
            run->msg.count < OB_CONFIRM_RUN_MAX && run->topic_len == pending->env.topic_len &&
            memcmp(run->topic, pending->env.topic, run->topic_len) == 0) {
            run->msg.count++;
            continue;
        }
        if (run)
            s_run_flush(self, run);
        else {
            for (size_t r = 0; r < OB_SERVER_RUNS_OPEN && !run; r++)
                if (!runs[r].rid)
                    run = &runs[r];
            if (!run) { /* more clients than open runs: close one, round robin */
                run = &runs[next_victim];
                next_victim = (next_victim + 1) % OB_SERVER_RUNS_OPEN;
                s_run_flush(self, run);
            }
        }
        run->rid = &pending->rid;
        run->topic = pending->env.topic;
        run->topic_len = pending->env.topic_len;
        memset(&run->msg, 0, sizeof run->msg);
        run->msg.req = pending->req;
        run->msg.seq = item->seq;
        run->msg.dup = item->dup;
        run->msg.count = 1;
    }
    for (size_t r = 0; r < OB_SERVER_RUNS_OPEN; r++)
        s_run_flush(self, &runs[r]);
    s_subs_committed(self, batch);
    for (size_t i = 0; i < batch->publishes; i++)
        s_pending_clear(&batch->pending[i]);
    self->batches_done++;
    self->batched_items += batch->publishes;
    batch->wb.count = 0;
    batch->publishes = 0;
    batch->wb.rc = 0;
    batch->wb.op_count = 0;
    batch->bytes = 0;
}

/* Hands the collecting batch to the writer if the writer is idle and there is something:
   publishes, or subscription state to persist; if may_commit, a lone publish is committed
   and answered here instead when the store is free (writer.h). The subscription state is
   collected now, at the last moment, so that it holds everything up to this instant. */
static void
s_handover(ob_srv_t *self, int may_commit)
{
    ob_srv_batch_t *batch = self->collecting;
    if (self->in_flight ||
        (batch->wb.count == 0 && !ob_subs_dirty(self->subs) && zlistx_size(self->deferred) == 0))
        return;
    if (self->store_failed)
        return; /* stopping after a failed commit: what is left stays for the next start */
    /* A commit of acks alone waits up to OB_SERVER_STATE_MS, so that a consumer acking
       steadily costs a few commits a second, not one per turn of the loop. */
    int64_t now = zclock_mono();
    if (batch->wb.count == 0 && zlistx_size(self->deferred) == 0 && !self->terminating &&
        now < self->state_due)
        return;
    self->state_due = now + OB_SERVER_STATE_MS;
    batch->publishes = batch->wb.count;
    if (ob_subs_collect(self->subs, &batch->subs))
        zsys_error("server: out of memory collecting subscription state (retried)");
    for (size_t i = 0; i < batch->subs.letter_count; i++) {
        const ob_subs_letter_t *letter = &batch->subs.letters[i];
        ob_store_item_t *item = &batch->wb.items[batch->wb.count++];
        memset(item, 0, sizeof *item);
        item->topic = letter->topic;
        item->topic_len = strlen(letter->topic);
        item->event_id = letter->id;
        item->event_id_len = strlen(letter->id);
        item->event = letter->event;
        item->event_len = letter->event_len;
    }
    batch->wb.ops = batch->subs.ops;
    batch->wb.op_count = batch->subs.op_count;
    void *d;
    while ((d = zlistx_detach(self->deferred, NULL)))
        zlistx_add_end(batch->deferred, d);
    /* Only a publish waits for its answer: a commit of state alone runs at the writer,
       beside the server, not in its way. */
    if (may_commit && batch->publishes && ob_writer_try_commit(&self->writer_args, &batch->wb)) {
        s_confirm(self, batch); /* committed here: it stays the collecting batch, emptied */
        self->writeback_due = 1;
        return;
    }
    if (zsock_send(self->writer, "sp", OB_WRITER_BATCH, &batch->wb)) {
        zsys_error("server: cannot reach the writer");
        ob_subs_uncollect(self->subs, &batch->subs);
        while ((d = zlistx_detach(batch->deferred, NULL)))
            zlistx_add_end(self->deferred, d);
        batch->wb.count = batch->publishes;
        batch->wb.op_count = 0;
        return; /* retried on the next turn of the loop */
    }
    self->in_flight = self->collecting;
    self->collecting = self->in_flight == &self->batches[0] ? &self->batches[1] : &self->batches[0];
}

void
ob_srv_handover(ob_srv_t *self)
{
    s_handover(self, 1);
}

/* Handles PUBLISH from session: checks the event and adds it to the collecting batch,
   moving rid and frame (both received, owned by the caller) into it; they are left empty
   then. */
void
ob_srv_on_publish(ob_srv_t *self, ob_srv_session_t *session, zmq_msg_t *rid, zmq_msg_t *frame,
                  const ob_wire_msg_t *msg, const ob_perms_client_t *client)
{
    ob_broker_metrics_publish(self->metrics);
    size_t size = zmq_msg_size(frame);
    if (size > self->cfg.max_event_bytes) {
        ob_srv_send_error(self, rid, msg->req, OB_ERR_TOO_LARGE,
                          "event of %zu bytes over max_event_bytes %" PRIu64, size,
                          self->cfg.max_event_bytes);
        return;
    }
    /* Validated whole, as ob_event_decode would, but only the envelope is kept: views into
       the frame, nothing allocated. */
    const char *data = zmq_msg_data(frame);
    ob_event_envelope_t env;
    int rc = ob_event_peek((const uint8_t *)data, size, &env);
    if (rc) {
        ob_srv_send_error(self, rid, msg->req, rc, "event: %s", ob_strerror(rc));
        return;
    }

    static const char dlq[] = OB_SUBS_DLQ_PREFIX;
    if (env.topic_len >= sizeof dlq - 1 && !memcmp(env.topic, dlq, sizeof dlq - 1)) {
        ob_srv_send_error(self, rid, msg->req, OB_ERR_FORBIDDEN,
                          "%.*s: only the broker publishes to dead-letter topics",
                          (int)env.topic_len, env.topic);
        return;
    }
    if (client && !ob_perms_may_publish(client, env.topic, env.topic_len)) {
        char reason[OB_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "PUBLISH %.*s: client %s may not publish to it",
                 (int)env.topic_len, env.topic, ob_perms_client_name(client));
        ob_srv_forbidden(self, rid, msg->req, ob_perms_client_name(client), reason);
        return;
    }
    if (session->pending >= self->cfg.max_pending) {
        ob_srv_send_error(self, rid, msg->req, OB_ERR_LIMIT,
                          "max_pending (%u) publishes already await their answer",
                          self->cfg.max_pending);
        return;
    }

    ob_srv_batch_t *batch = self->collecting;
    size_t i = batch->wb.count++;
    ob_srv_pending_t *pending = &batch->pending[i];
    ob_store_item_t *item = &batch->wb.items[i];
    zmq_msg_move(&pending->rid, rid);
    zmq_msg_move(&pending->frame, frame);
    pending->req = msg->req;

    /* After the move the views must be taken again from the moved frame: a small frame's
       bytes live inside the zmq_msg_t itself (libzmq's VSM), so they moved with it, and
       env still points into the old one. Same offsets, new base. */
    const char *moved = zmq_msg_data(&pending->frame);
    pending->env = env;
    pending->env.id = moved + (env.id - data);
    pending->env.topic = moved + (env.topic - data);
    pending->env.type = moved + (env.type - data);

    memset(item, 0, sizeof *item);
    item->topic = pending->env.topic;
    item->topic_len = pending->env.topic_len;
    item->event_id = pending->env.id;
    item->event_id_len = pending->env.id_len;
    item->event = (const uint8_t *)moved;
    item->event_len = size;
    batch->bytes += size;
    session->pending++;
}

/* Takes back the batch the writer finished and answers it. Returns 0 or -1. */
int
ob_srv_on_writer(ob_srv_t *self)
{
    char *command = NULL;
    void *ptr = NULL;
    if (zsock_recv(self->writer, "sp", &command, &ptr))
        return -1;
    int ok = command && !strcmp(command, OB_WRITER_DONE) && self->in_flight &&
             ptr == &self->in_flight->wb;
    zstr_free(&command);
    if (!ok) {
        zsys_error("server: unexpected message from the writer");
        return 0;
    }
    ob_srv_batch_t *done = self->in_flight;
    self->in_flight = NULL;
    /* Keep the writer busy: what arrived during its commit goes to it now, before the
       answers. s_handover makes `done` the collecting batch; it is emptied right below,
       before anything is read into it. Not committed here even if lone: its answers would
       go out before those of `done`. */
    s_handover(self, 0);
    s_confirm(self, done);
    return 0;
}
