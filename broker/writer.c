/*  ob_writer: see writer.h. Library-like: it logs nothing but what retention removed; the
    server logs what the batch results say. */
#include "writer.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "orderbus/error.h"

/* Runs one retention step; returns 1 if it removed a full step (more may be due). */
static int
s_retain(const ob_writer_args_t *args, uint64_t *removed, uint64_t *bytes)
{
    uint64_t n = 0, b = 0;
    pthread_mutex_lock(&args->shared->lock);
    int rc = ob_store_retain(args->store, args->limits, args->limits_arg,
                             (uint64_t)zclock_time() * 1000, OB_WRITER_RETAIN_STEP, &n, &b);
    pthread_mutex_unlock(&args->shared->lock);
    if (rc) {
        zsys_error("writer: retention failed: %s", ob_strerror(rc));
        return 0;
    }
    *removed += n;
    *bytes += b;
    return n >= OB_WRITER_RETAIN_STEP;
}

int
ob_writer_shared_init(ob_writer_shared_t *self)
{
    memset(self, 0, sizeof *self);
    return pthread_mutex_init(&self->lock, NULL) ? -ENOMEM : 0;
}

void
ob_writer_shared_fini(ob_writer_shared_t *self)
{
    pthread_mutex_destroy(&self->lock);
}

/* Commits batch; the caller holds the lock. */
static void
s_commit(const ob_writer_args_t *args, ob_writer_batch_t *batch)
{
    int64_t started = zclock_usecs();
    batch->rc =
        ob_store_commit(args->store, batch->items, batch->count, batch->ops, batch->op_count);
    args->shared->last_commit_us = zclock_usecs() - started;
    ob_broker_metrics_commit(args->metrics, batch->count, batch->rc, args->shared->last_commit_us);
    ob_broker_metrics_sync(args->metrics, ob_store_last_sync_us(args->store));
}

int
ob_writer_try_commit(const ob_writer_args_t *args, ob_writer_batch_t *batch)
{
    if (batch->count > OB_WRITER_LONE_MAX || pthread_mutex_trylock(&args->shared->lock))
        return 0;
    int fast = args->shared->last_commit_us <= OB_WRITER_LONE_SLOW_US;
    if (fast)
        s_commit(args, batch);
    pthread_mutex_unlock(&args->shared->lock);
    return fast;
}

void
ob_writer_actor(zsock_t *pipe, void *arg)
{
    ob_writer_args_t args = *(ob_writer_args_t *)arg;
    int64_t next_maintain = zclock_mono() + OB_STORE_MAINTAIN_MS;
    int64_t next_retain = zclock_mono() + OB_WRITER_RETAIN_MS;
    int retaining = 0;                       /* a round of retention is under way */
    uint64_t removed = 0, removed_bytes = 0; /* by the round under way */

    zsock_signal(pipe, 0);
    while (1) {
        int64_t now = zclock_mono();
        if (now >= next_maintain) {
            pthread_mutex_lock(&args.shared->lock);
            ob_store_maintain(args.store, NULL); /* a failure here changes nothing: retried */
            pthread_mutex_unlock(&args.shared->lock);
            next_maintain = now + OB_STORE_MAINTAIN_MS;
        }
        if (args.limits && (retaining || now >= next_retain)) {
            retaining = s_retain(&args, &removed, &removed_bytes);
            if (!retaining) {
                if (removed)
                    zsys_info("writer: retention removed %" PRIu64 " events (%" PRIu64 " bytes)",
                              removed, removed_bytes);
                removed = removed_bytes = 0;
                next_retain = zclock_mono() + OB_WRITER_RETAIN_MS;
            }
        }
        int64_t until = next_maintain < next_retain ? next_maintain : next_retain;
        long wait = retaining ? 0 : (long)(until - zclock_mono());
        if (wait < 0)
            wait = 0;
        zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, wait) < 0) {
            if (errno == EINTR)
                continue; /* a signal: the owner decides when we stop */
            break;        /* the context is gone */
        }
        if (!(item.revents & ZMQ_POLLIN))
            continue;

        char *command = NULL;
        void *ptr = NULL;
        if (zsock_recv(pipe, "sp", &command, &ptr) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (command && !strcmp(command, "$TERM")) {
            zstr_free(&command);
            break;
        }
        if (command && !strcmp(command, OB_WRITER_BATCH) && ptr) {
            pthread_mutex_lock(&args.shared->lock);
            s_commit(&args, ptr);
            pthread_mutex_unlock(&args.shared->lock);
            zsock_send(pipe, "sp", OB_WRITER_DONE, ptr);
            ob_store_writeback(args.store); /* off the answer's path */
        }
        /* anything else is a programming error of the owner; ignore it */
        zstr_free(&command);
    }
}
