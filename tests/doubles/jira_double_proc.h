/*  jira_double_proc: start and stop orderbus-jira-double (the Jira double) for tests, and call
    it: the REST API with basic or bearer credentials, and the control interface, JSON in and
    JSON out. The binary comes from the OB_JIRA_DOUBLE environment variable, which CTest sets.
    The caller calls curl_global_init once before using it. */
#ifndef OB_JIRA_DOUBLE_PROC_H
#define OB_JIRA_DOUBLE_PROC_H

#include <jansson.h>

#include "double_proc.h"

/* The shared helper's process handle: pid, out_fd, port, base_url, timeout_ms. */
typedef double_proc_t jira_double_proc_t;

/* Starts the double on an ephemeral loopback port and waits for it to listen. Returns 0 or
   -1. */
int jira_double_proc_start(jira_double_proc_t *self);

/* Sends sig to the double and reaps it. Returns the status from waitpid, or -1. */
int jira_double_proc_stop(jira_double_proc_t *self, int sig);

/* One request to the double: method, path (query included), the Authorization header value
   auth (borrowed; NULL: none, e.g. "Bearer t" or "Basic ..."), body sent as is when not NULL.
   Returns the HTTP status or -1; *ret_json (if ret_json) gets the parsed answer (a new
   reference) or NULL when the body is not JSON (or empty); *ret_headers (if ret_headers) the
   response's header lines, for the caller to free. */
long jira_double_proc_call(const jira_double_proc_t *self, const char *method, const char *path,
                           const char *auth, const char *body, json_t **ret_json,
                           char **ret_headers);

/* A control call: POST /_control/<call> with body (borrowed; NULL for {}). Returns the
   answer (a new reference; {} for an empty one) when the status is 2xx, else NULL. */
json_t *jira_double_proc_control(const jira_double_proc_t *self, const char *call,
                                 const json_t *body);

/* GET /_control/state: the answer (a new reference), or NULL. */
json_t *jira_double_proc_state(const jira_double_proc_t *self);

#endif
