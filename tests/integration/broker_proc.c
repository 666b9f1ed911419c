/*  broker_proc: start and stop a real orderbus-broker process for integration tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "broker_proc.h"

#include <czmq.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orderbus/orderbus.h"

#define BROKER_PROC_ARGS_MAX 32    /* arguments passed to the broker */
#define BROKER_PROC_START_MS 10000 /* wait for a started broker to answer */

int
broker_proc_endpoint(char *buf, size_t len)
{
    /* A random free port below the kernel's range for outgoing connections (32768..), so that
       no client's own reconnect can take it while the broker restarts on it. Random from the
       kernel, not from czmq's "![a-b]", whose generator is seeded with the time in seconds:
       two test programs started in the same second (ctest -j) drew the same ports. */
    for (int tries = 0; tries < 100; tries++) {
        uint16_t r = 0;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return -1;
        snprintf(buf, len, "tcp://127.0.0.1:%u", 20000u + r % 12000u);
        zsock_t *probe = zsock_new_router(buf);
        if (probe) {
            zsock_destroy(&probe);
            return 0;
        }
    }
    return -1;
}

pid_t
broker_proc_start(const char *data_dir, const char *endpoint, ...)
{
    const char *broker = getenv("OB_BROKER");
    if (!broker)
        return -1;
    const char *argv[BROKER_PROC_ARGS_MAX];
    int argc = 0;
    argv[argc++] = broker;
    argv[argc++] = "--data-dir";
    argv[argc++] = data_dir;
    argv[argc++] = "--endpoint";
    argv[argc++] = endpoint;
    argv[argc++] = "--curve"; /* plaintext on the test's loopback or ipc endpoint; a later */
    argv[argc++] = "0";       /* --curve among the extra arguments wins */
    va_list ap;
    va_start(ap, endpoint);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) && argc < BROKER_PROC_ARGS_MAX - 1)
        argv[argc++] = arg;
    va_end(ap);
    argv[argc] = NULL;

    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test killed by its timeout */
        execv(broker, (char *const *)argv);
        _exit(127);
    }
    ob_client_t *client = ob_client_new(endpoint, NULL);
    int rc = client ? ob_client_connect(client, BROKER_PROC_START_MS) : -1;
    ob_client_destroy(&client);
    if (rc != 0) {
        broker_proc_stop(pid, SIGKILL);
        return -1;
    }
    return pid;
}

int
broker_proc_stop(pid_t pid, int sig)
{
    int status;
    if (pid <= 0 || kill(pid, sig) != 0)
        return -1;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

char *
broker_proc_scratch(const char *name)
{
    size_t len = strlen(name) + sizeof "/tmp/orderbus--XXXXXX";
    char *path = malloc(len);
    if (!path)
        return NULL;
    snprintf(path, len, "/tmp/orderbus-%s-XXXXXX", name);
    if (!mkdtemp(path)) {
        free(path);
        return NULL;
    }
    return path;
}

static int
s_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int
broker_proc_remove(const char *path)
{
    return nftw(path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}
