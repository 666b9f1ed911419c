/*  daemon_proc: start and stop a real orderbus daemon that serves HTTP (the gateway, the
    webhook adapter) for integration tests and benchmarks: it is started with --config and
    --listen-file, and has started once it has written the address it bound. gw_proc is this
    for the gateway. */
#ifndef OB_DAEMON_PROC_H
#define OB_DAEMON_PROC_H

#include <stdint.h>
#include <sys/types.h>

#define DAEMON_PROC_URL_MAX 64     /* bytes of "http://127.0.0.1:PORT" */
#define DAEMON_PROC_START_MS 10000 /* wait for a started daemon to serve */

/* Starts binary (borrowed; NULL fails) as argv[0] name with --config cfg and --listen-file
   dir/PREFIX.listen, its standard error appended to dir/PREFIX.log, and its standard output
   too if log_stdout (zsys logs there), else to /dev/null; it dies with the calling process
   (PR_SET_PDEATHSIG), so that a failed test leaves none behind. Waits (up to
   DAEMON_PROC_START_MS) until it has written its listen file, then writes its base URL into
   url (may be NULL). Returns the pid, or -1 (it exited or did not serve in time: killed and
   reaped). */
pid_t daemon_proc_start(const char *binary, const char *name, const char *dir, const char *prefix,
                        const char *cfg, int log_stdout, char url[DAEMON_PROC_URL_MAX]);

/* Runs binary (borrowed; argv is its NULL-terminated arguments, argv[0] its name) to its
   end, both of its streams into the file out_path. Returns its exit status, or -1 (it could
   not start, or died of a signal); *ret_out gets its output in a new string (the caller
   frees it; "" if none). */
int daemon_proc_run(const char *binary, const char *const *argv, const char *out_path,
                    char **ret_out);

/* Sends sig to pid and reaps it. Returns the status from waitpid, or -1. */
int daemon_proc_stop(pid_t pid, int sig);

/* GETs url (borrowed), waiting up to DAEMON_PROC_START_MS. Returns the HTTP status, or -1
   (no answer); *ret_body gets the body in a new string (the caller frees it) unless -1.
   The caller has called curl_global_init. */
long daemon_proc_get(const char *url, char **ret_body);

/* GETs url (a daemon's /metrics, say) every poll_ms until its body holds text (borrowed) or
   the monotonic clock (zclock_mono) passes until_ms. Returns 1 if it did, else 0. */
int daemon_proc_wait_text(const char *url, const char *text, int poll_ms, int64_t until_ms);

#endif
