/*  double_main: argument and port-file helpers of the doubles' mains. */
#include "double_main.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
double_number(const char *text, long lo, long hi, long *ret)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return -1;
    *ret = v;
    return 0;
}

int
double_write_port(const char *file, unsigned port)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", file) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    int ok = fprintf(f, "%u\n", port) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, file) != 0) {
        int rc = -errno;
        unlink(tmp);
        return rc ? rc : -EIO;
    }
    return 0;
}

static void
s_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void
double_block_signals(void)
{
    sigset_t stop;
    s_stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
double_serve(const char *name, const char *port_file, unsigned port)
{
    if (port_file) {
        int err = double_write_port(port_file, port);
        if (err != 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", name, port_file, strerror(-err));
            return err;
        }
    }
    printf("listening 127.0.0.1:%u\n", port);
    fflush(stdout);
    sigset_t stop;
    s_stop_signals(&stop);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "%s: signal %d, stopping\n", name, sig);
    return 0;
}
