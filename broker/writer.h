/*  ob_writer: the actor that owns every write to the store (DESIGN.md section 4: one writer).

    The server hands it one batch at a time by pointer over the actor pipe and gets the same
    pointer back once the batch's transaction has committed (or failed). Nothing else is
    shared: while a batch is at the writer, the server does not touch it.

    Commands on the pipe (zsock_send pictures):
      "sp" "BATCH" batch   run ob_store_commit on the batch (ob_writer_batch_t *, borrowed);
                           the writer answers "sp" "DONE" batch with batch->rc filled in.
      "$TERM"              stop; a batch received earlier is answered first, as the pipe
                           delivers in order.
    Every OB_STORE_MAINTAIN_MS it runs ob_store_maintain. Every OB_WRITER_RETAIN_MS it
    applies retention (ob_store_retain) in steps of OB_WRITER_RETAIN_STEP events, one
    transaction each, going back to the pipe between steps so that a large removal never
    holds a batch up by more than one step; it logs what each round removed. Usage:

        ob_writer_args_t args = {store, ob_config_retention, &cfg};    // borrowed
        zactor_t *writer = zactor_new(ob_writer_actor, &args);
        zsock_send(writer, "sp", "BATCH", batch);
        ... zsock_recv(writer, "sp", &command, &batch) -> "DONE" ...
        zactor_destroy(&writer);                                  // then ob_store_close */
#ifndef OB_WRITER_H
#define OB_WRITER_H

#include <czmq.h>
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

typedef struct ob_writer_batch {
    ob_store_item_t *items;   /* items to append, outputs filled by the writer */
    size_t count;             /* entries used in items */
    const ob_store_op_t *ops; /* subscription state written in the same transaction */
    size_t op_count;          /* entries at ops */
    int rc;                   /* out: what ob_store_commit returned */
} ob_writer_batch_t;

typedef struct ob_writer_args {
    ob_store_t *store;            /* borrowed; outlives the actor; no other thread writes */
    ob_store_limits_fn *limits;   /* retention limits of a topic; NULL: no retention */
    void *limits_arg;             /* its argument, borrowed (read from the writer thread) */
    ob_broker_metrics_t *metrics; /* commits counted there, borrowed; NULL: not counted */
} ob_writer_args_t;

/* The actor function: args is an ob_writer_args_t * (borrowed, copied before the actor
   signals). Signals 0 once ready. */
void ob_writer_actor(zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif
#endif
