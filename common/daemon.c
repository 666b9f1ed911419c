/*  ob_daemon: see daemon.h. */
#include "daemon.h"

#include <czmq.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t s_reload; /* set by SIGHUP, cleared by the main loop */

static void
s_on_sighup(int sig)
{
    (void)sig;
    s_reload = 1;
}

void
ob_daemon_log_init(const char *ident)
{
    zsys_init();
    zsys_set_logident(ident);
}

int
ob_daemon_signals(void)
{
    zsys_catch_interrupts();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_sighup; /* no SA_RESTART: a poll in progress returns at once */
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGHUP, &action, NULL))
        return -errno;
    return 0;
}

int
ob_daemon_reload_requested(void)
{
    if (!s_reload)
        return 0;
    s_reload = 0;
    return 1;
}

int
ob_daemon_write_listen_file(const char *path, const char *host, unsigned port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int bad = fprintf(f, "%s:%u\n", host, port) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        remove(tmp);
        return -1;
    }
    return 0;
}
