/*  ob_daemon: the logging and signal set-up every orderbus daemon's main.c does, on czmq's
    zsys: the log ident, SIGINT and SIGTERM ending the main loop (zsys_interrupted), SIGHUP
    asking for a reload. Thin on purpose: logging itself is zsys_error/_warning/_info/_debug.

    SIGHUP is caught without SA_RESTART, so that a zpoller_wait or zmq_poll in progress
    returns at once (EINTR) and the main loop sees the request without waiting out its
    timeout. The flag is a sig_atomic_t: a main loop reads it with ob_daemon_reload_requested;
    other threads should not. */
#ifndef OB_DAEMON_H
#define OB_DAEMON_H

#ifdef __cplusplus
extern "C" {
#endif

/* Initialises czmq (zsys_init) and sets the log ident (borrowed; zsys copies it) that
   prefixes syslog lines. Also what a command-line tool calls before using czmq. */
void ob_daemon_log_init(const char *ident);

/* Installs the handlers: SIGINT and SIGTERM set zsys_interrupted (czmq's handler, so that
   czmq's blocking calls return), SIGHUP sets the reload flag. Returns 0 or -errno (from
   sigaction). */
int ob_daemon_signals(void);

/* Returns 1 once for each SIGHUP received since the last call (several close together
   count as one), else 0. */
int ob_daemon_reload_requested(void);

/* Writes "host:port" and a newline to path (borrowed), through path.tmp and a rename, so
   that a reader never sees half a line: how a daemon serving HTTP on port 0 says which port
   it bound (--listen-file). Returns 0, or -1 (the path too long, a write or the rename
   failed; the .tmp file is removed). */
int ob_daemon_write_listen_file(const char *path, const char *host, unsigned port);

#ifdef __cplusplus
}
#endif
#endif
