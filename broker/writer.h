/*  ob_writer: the actor that makes the store's writes (DESIGN.md section 4: one writer at a
    time; a lone publish may be committed by the server itself, below).

    The server hands it one batch at a time by pointer over the actor pipe and gets the same
    pointer back once the batch's transaction has committed (or failed). While a batch is at
    the writer, the server does not touch it.

    A lone batch skips the hand-off: when none of its batches is at the writer, the server
    may commit one itself with ob_writer_try_commit, which saves two thread wake-ups (the
    writer's and the server's again: tens of microseconds each on a VM) on the path of a
    lone event (README, "Performance"). The store is written by one thread at a time: the
    lock of args.shared is held around every store write, by the writer and by
    ob_writer_try_commit, which only tries it; when the writer holds it (retention,
    maintenance) the batch goes to the writer as usual. Order is kept because the server
    commits itself only while nothing of its own is at the writer. The price is that the
    server serves nobody while it commits, so it does so only while commits are fast: after
    one that took longer than OB_WRITER_LONE_SLOW_US, lone batches go to the writer until a
    commit is fast again, and a disk that stalls holds the server up for one commit at most.

    Commands on the pipe (zsock_send pictures):
      "sp" "BATCH" batch   run ob_store_commit on the batch (ob_writer_batch_t *, borrowed);
                           the writer answers "sp" "DONE" batch with batch->rc filled in.
      "$TERM"              stop; a batch received earlier is answered first, as the pipe
                           delivers in order.
    Every OB_STORE_MAINTAIN_MS it runs ob_store_maintain. Every OB_WRITER_RETAIN_MS it
    applies retention (ob_store_retain) in steps of OB_WRITER_RETAIN_STEP events, one
    transaction each, going back to the pipe between steps so that a large removal never
    holds a batch up by more than one step; it logs what each round removed. Usage:

        ob_writer_shared_t shared;
        ob_writer_shared_init(&shared);
        ob_writer_args_t args = {store, &shared, ob_config_retention, &cfg};    // borrowed
        zactor_t *writer = zactor_new(ob_writer_actor, &args);
        zsock_send(writer, "sp", "BATCH", batch);
        ... zsock_recv(writer, "sp", &command, &batch) -> "DONE" ...
        zactor_destroy(&writer);            // then ob_writer_shared_fini, ob_store_close */
#ifndef OB_WRITER_H
#define OB_WRITER_H

#include <czmq.h>
#include <pthread.h>
#include <stddef.h>

#include "broker_metrics.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_WRITER_BATCH "BATCH" /* command: append this batch */
#define OB_WRITER_DONE "DONE"   /* reply: this batch is done */

#define OB_WRITER_RETAIN_MS 1000    /* how often retention runs */
#define OB_WRITER_RETAIN_STEP 10000 /* events removed in one retention transaction */
#define OB_WRITER_LONE_MAX 1        /* items in a batch that ob_writer_try_commit takes */
#define OB_WRITER_LONE_SLOW_US 1000 /* a commit this slow sends lone batches to the writer */

typedef struct ob_writer_batch {
    ob_store_item_t *items;   /* items to append, outputs filled by the writer */
    size_t count;             /* entries used in items */
    const ob_store_op_t *ops; /* subscription state written in the same transaction */
    size_t op_count;          /* entries at ops */
    int rc;                   /* out: what ob_store_commit returned */
} ob_writer_batch_t;

/* What the writer shares with the thread that may commit lone batches. */
typedef struct ob_writer_shared {
    pthread_mutex_t lock;   /* held around every store write */
    int64_t last_commit_us; /* how long the last commit took (read and written under lock) */
} ob_writer_shared_t;

typedef struct ob_writer_args {
    ob_store_t *store;            /* borrowed; outlives the actor; written under the lock only */
    ob_writer_shared_t *shared;   /* borrowed, initialised; outlives the actor */
    ob_store_limits_fn *limits;   /* retention limits of a topic; NULL: no retention */
    void *limits_arg;             /* its argument, borrowed (read from the writer thread) */
    ob_broker_metrics_t *metrics; /* commits counted there, borrowed; NULL: not counted */
} ob_writer_args_t;

/* Initialises self (the caller's). Returns 0 or -ENOMEM. */
int ob_writer_shared_init(ob_writer_shared_t *self);

/* Frees what self holds; no thread may use it any more. */
void ob_writer_shared_fini(ob_writer_shared_t *self);

/* The actor function: args is an ob_writer_args_t * (borrowed, copied before the actor
   signals). Signals 0 once ready. */
void ob_writer_actor(zsock_t *pipe, void *args);

/* Commits batch (borrowed) in the calling thread as the writer would (ob_store_commit, then
   the metrics) if it is lone (at most OB_WRITER_LONE_MAX items), no store write is under
   way and the last commit was fast (OB_WRITER_LONE_SLOW_US). Returns 1 once batch->rc is
   filled in, or 0 without touching the store: the batch then goes to the writer. The caller must
   have no batch at the writer, and calls ob_store_writeback once the batch's answers and deliveries
   are out (the writer does so after "DONE"). */
int ob_writer_try_commit(const ob_writer_args_t *args, ob_writer_batch_t *batch);

#ifdef __cplusplus
}
#endif
#endif
