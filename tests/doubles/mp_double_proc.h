/*  mp_double_proc: start and stop orderbus-mp-double (the Marketplace double) for tests, and
    talk to it: the Ordering API and the control interface, JSON in and JSON out, with libcurl.
    The binary comes from the OB_MP_DOUBLE environment variable, which CTest sets. The caller
    calls curl_global_init once before using it. */
#ifndef OB_MP_DOUBLE_PROC_H
#define OB_MP_DOUBLE_PROC_H

#include <jansson.h>

#include "double_proc.h"

/* The shared helper's process handle: pid, out_fd, port, base_url, timeout_ms. */
typedef double_proc_t mp_double_proc_t;

/* Starts the double on an ephemeral loopback port with any extra NULL-terminated arguments
   and waits (up to DOUBLE_PROC_START_MS) for its "listening" line. Fills *self.
   Returns 0, or -1 with the process, if any, killed. */
int mp_double_proc_start(mp_double_proc_t *self, ...);

/* Sends sig to the double and reaps it. Returns the status from waitpid, or -1. */
int mp_double_proc_stop(mp_double_proc_t *self, int sig);

/* One HTTP request to base_url + path (path starts with '/', query included): method, the
   X-User-Token header when token is not NULL, body sent as is when not NULL (with
   Content-Type: application/json). Returns the HTTP status, or -1 (no answer, e.g. a
   timeout). *ret_text (if ret_text) gets the body, NUL-terminated, for the caller to free. */
long mp_double_proc_raw(const mp_double_proc_t *self, const char *method, const char *path,
                        const char *token, const char *body, char **ret_text);

/* Like mp_double_proc_raw with a JSON body (borrowed; NULL for none). *ret_json (if ret_json)
   gets the parsed answer (a new reference), or NULL when the body is not JSON. */
long mp_double_proc_http(const mp_double_proc_t *self, const char *method, const char *path,
                         const char *token, const json_t *body, json_t **ret_json);

/* A control call: POST /_control/<call> with body (borrowed; NULL for {}). Returns the
   answer (a new reference) when the status is 2xx, else NULL. */
json_t *mp_double_proc_control(const mp_double_proc_t *self, const char *call, const json_t *body);

/* GET /_control/<what> ("state" or "triggers"): the answer (a new reference), or NULL. */
json_t *mp_double_proc_get(const mp_double_proc_t *self, const char *what);

#endif
