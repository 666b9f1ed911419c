/*  broker_proc: start and stop a real orderbus-broker process for integration tests.
    The binary comes from the OB_BROKER environment variable, which CTest sets. */
#ifndef OB_BROKER_PROC_H
#define OB_BROKER_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Writes a free loopback endpoint "tcp://127.0.0.1:PORT" into buf. Returns 0 or -1. */
int broker_proc_endpoint(char *buf, size_t len);

/* Starts orderbus-broker with --data-dir data_dir --endpoint endpoint and any extra NULL-
   terminated arguments, and waits until it welcomes a client (up to 10 s).
   Returns the pid, or -1 (the process, if any, is killed). */
pid_t broker_proc_start(const char *data_dir, const char *endpoint, ...);

/* Sends sig to pid and reaps it. Returns the exit status from waitpid, or -1. */
int broker_proc_stop(pid_t pid, int sig);

/* Creates a fresh scratch directory under /tmp for the test named name; returns a path the
   caller frees, or NULL. */
char *broker_proc_scratch(const char *name);

/* Removes path and everything under it. Returns 0 or -1. */
int broker_proc_remove(const char *path);

#endif
