/*  double_http: the libmicrohttpd glue the doubles' servers share (orderbus-mp-double,
    orderbus-jira-double): a loopback server with a thread per connection (so that an
    injected wait holds only its own connection), request bodies gathered under a cap, path
    segments, and a wait that a stopping server cuts short. */
#ifndef OB_DOUBLE_HTTP_H
#define OB_DOUBLE_HTTP_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* One request's body across libmicrohttpd's calls (the connection's con_cls). */
typedef struct double_upload {
    char *body;   /* uploaded bytes, NUL-terminated, or NULL */
    size_t len;   /* bytes in body */
    bool too_big; /* more than the cap arrived (the rest was dropped) */
} double_upload_t;

/* Call first in an access handler. Gathers the body into *con_cls (a double_upload_t the
   server frees when the request ends), up to max bytes. Returns 1 when the handler must return
   MHD_YES now (the request has just begun, or a chunk was taken), 0 when the whole request is
   in and can be answered, -1 when the handler must return MHD_NO (out of memory). */
int double_http_upload(void **con_cls, const char *upload, size_t *upload_size, size_t max);

/* Starts a server on 127.0.0.1:port (0: ephemeral) calling handler with cls (borrowed until
   stop), at most conn_max connections, idle ones closed after timeout_s. Returns the daemon
   (stop it with MHD_stop_daemon) or NULL; *ret_port gets the bound port. */
struct MHD_Daemon *double_http_start(unsigned port, MHD_AccessHandlerCallback handler, void *cls,
                                     unsigned conn_max, unsigned timeout_s, unsigned *ret_port);

/* Splits url (modified in place) after prefix into at most max segments in segs (pointers
   into url; a trailing slash is ignored). Returns false when url is not under prefix or has
   more segments. *ret_n gets the count. */
bool double_http_split(char *url, const char *prefix, const char **segs, int max, int *ret_n);

/* Waits up to ms on cond, with lock held by the caller, or until *stopping (read under lock)
   is true and cond is broadcast. */
void double_pause(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stopping, long ms);

#endif
