/*  ob_writer: the actor that owns every write to the store (DESIGN.md section 4: one writer).

    The server hands it one batch at a time by pointer over the actor pipe and gets the same
    pointer back once the batch's transaction has committed (or failed). Nothing else is
    shared: while a batch is at the writer, the server does not touch it.

    Commands on the pipe (zsock_send pictures):
      "sp" "BATCH" batch   run ob_store_append on the batch (ob_writer_batch_t *, borrowed);
                           the writer answers "sp" "DONE" batch with batch->rc filled in.
      "$TERM"              stop; a batch received earlier is answered first, as the pipe
                           delivers in order.
    Every OB_STORE_MAINTAIN_MS it runs ob_store_maintain. Usage:

        zactor_t *writer = zactor_new(ob_writer_actor, store);   // store borrowed
        zsock_send(writer, "sp", "BATCH", batch);
        ... zsock_recv(writer, "sp", &command, &batch) -> "DONE" ...
        zactor_destroy(&writer);                                  // then ob_store_close */
#ifndef OB_WRITER_H
#define OB_WRITER_H

#include <czmq.h>
#include <stddef.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_WRITER_BATCH "BATCH" /* command: append this batch */
#define OB_WRITER_DONE "DONE"   /* reply: this batch is done */

typedef struct ob_writer_batch {
    ob_store_item_t *items; /* items to append, outputs filled by the writer */
    size_t count;           /* entries used in items */
    int rc;                 /* out: what ob_store_append returned */
} ob_writer_batch_t;

/* The actor function: args is the ob_store_t * (borrowed; it must outlive the actor and no
   other thread may append to it). Signals 0 once ready. */
void ob_writer_actor(zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif
#endif
