/*  ob_writer: see writer.h. Library-like: it logs nothing, the server logs what the batch
    results say. */
#include "writer.h"

#include <string.h>

void
ob_writer_actor(zsock_t *pipe, void *args)
{
    ob_store_t *store = args;
    int64_t next_maintain = zclock_mono() + OB_STORE_MAINTAIN_MS;

    zsock_signal(pipe, 0);
    while (1) {
        int64_t wait = next_maintain - zclock_mono();
        if (wait <= 0) {
            ob_store_maintain(store, NULL); /* a failure here changes nothing: retried */
            next_maintain = zclock_mono() + OB_STORE_MAINTAIN_MS;
            continue;
        }
        zmq_pollitem_t item = {zsock_resolve(pipe), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, (long)wait) < 0) {
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
            ob_writer_batch_t *batch = ptr;
            batch->rc = ob_store_append(store, batch->items, batch->count);
            zsock_send(pipe, "sp", OB_WRITER_DONE, batch);
        }
        /* anything else is a programming error of the owner; ignore it */
        zstr_free(&command);
    }
}
