/*  gw_proc: start and stop a real orderbus-gateway process for integration tests and
    benchmarks, like broker_proc. The binary comes from the OB_GATEWAY environment variable,
    which CTest sets. */
#ifndef OB_GW_PROC_H
#define OB_GW_PROC_H

#include <sys/types.h>

#define GW_PROC_URL_MAX 64     /* bytes of "http://127.0.0.1:PORT" */
#define GW_PROC_START_MS 10000 /* wait for a started gateway to serve */

/* Starts the gateway with --config cfg and --listen-file dir/gw.listen, its standard error
   appended to dir/gw.log and its standard output to /dev/null; it dies with the calling
   process (PR_SET_PDEATHSIG), so that a failed test leaves none behind. Waits (up to
   GW_PROC_START_MS) until it has written its listen file, then writes its base URL into url.
   Returns the pid, or -1 (it exited or did not serve in time: killed and reaped). */
pid_t gw_proc_start(const char *dir, const char *cfg, char url[GW_PROC_URL_MAX]);

/* The same, with the gateway's standard output (zsys's log lines) appended to dir/gw.log
   too, for a test that reads what the gateway logged. */
pid_t gw_proc_start_logged(const char *dir, const char *cfg, char url[GW_PROC_URL_MAX]);

/* Sends sig to pid and reaps it. Returns the status from waitpid, or -1. */
int gw_proc_stop(pid_t pid, int sig);

#endif
