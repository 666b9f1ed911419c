/*  double_proc: what the test helpers of the doubles share (mp_double_proc, jira_double_proc):
    start a double's binary on an ephemeral loopback port and wait for its "listening" line,
    stop and reap it, and make one HTTP request to it with libcurl. The caller calls
    curl_global_init once before using it. */
#ifndef OB_DOUBLE_PROC_H
#define OB_DOUBLE_PROC_H

#include <sys/types.h>

#define DOUBLE_PROC_URL_MAX 64       /* bytes in base_url */
#define DOUBLE_PROC_START_MS 10000   /* wait for a started double to listen */
#define DOUBLE_PROC_TIMEOUT_MS 10000 /* default timeout of one HTTP call */
#define DOUBLE_PROC_ARGS_MAX 16      /* arguments passed to a double */
#define DOUBLE_PROC_HEADERS_MAX 4    /* extra request headers of one call */

typedef struct double_proc {
    pid_t pid;                          /* the double, or -1 */
    int out_fd;                         /* read end of its stdout, or -1 */
    unsigned port;                      /* its port on 127.0.0.1 */
    char base_url[DOUBLE_PROC_URL_MAX]; /* "http://127.0.0.1:PORT" */
    long timeout_ms;                    /* per HTTP call; 0 for the default */
} double_proc_t;

/* Starts binary (borrowed; NULL fails) with "--port 0" and the NULL-terminated extra arguments
   (borrowed; NULL for none), and waits (up to DOUBLE_PROC_START_MS) for its "listening
   127.0.0.1:PORT" line. Fills *self. Returns 0, or -1 with the process, if any, killed. */
int double_proc_start(double_proc_t *self, const char *binary, const char *const *extra);

/* Sends sig to the double and reaps it. Returns the status from waitpid, or -1. */
int double_proc_stop(double_proc_t *self, int sig);

/* One HTTP request to base_url + path (path starts with '/', query included): method, the
   NULL-terminated header lines (borrowed; NULL for none, at most DOUBLE_PROC_HEADERS_MAX),
   body sent as is when not NULL (with Content-Type: application/json). Returns the HTTP
   status, or -1 (no answer, e.g. a timeout or a dropped connection). *ret_text (if ret_text)
   gets the body, NUL-terminated, for the caller to free; *ret_headers (if ret_headers) the
   response's header lines, NUL-terminated, for the caller to free. */
long double_proc_request(const double_proc_t *self, const char *method, const char *path,
                         const char *const *headers, const char *body, char **ret_text,
                         char **ret_headers);

#endif
