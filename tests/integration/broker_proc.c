/*  broker_proc: start and stop a real orderbus-broker process for integration tests. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "broker_proc.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orderbus/orderbus.h"

#define BROKER_PROC_ARGS_MAX 32    /* arguments passed to the broker */
#define BROKER_PROC_START_MS 10000 /* wait for a started broker to answer */
#define BROKER_PROC_POLL_MS 5      /* look for the endpoint file this often */
#define BROKER_PROC_BIND_TRIES 20  /* starts on an explicit port that cannot be bound */
#define BROKER_PROC_RETRY_MS 250   /* between them */

int
broker_proc_file(const char *data_dir, char *path, size_t len)
{
    int n = snprintf(path, len, "%s" BROKER_PROC_FILE_SUFFIX, data_dir);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
broker_proc_wait_file(pid_t pid, const char *path, int timeout_ms, char *endpoint, size_t len,
                      int *ret_status)
{
    int64_t deadline = zclock_mono() + timeout_ms;
    while (1) {
        /* The broker renames a whole file into place: present means complete. */
        FILE *file = fopen(path, "r");
        if (file) {
            int rc = fgets(endpoint, (int)len, file) ? 0 : -1;
            fclose(file);
            endpoint[strcspn(endpoint, "\n")] = '\0';
            return rc;
        }
        int status = -1;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            if (ret_status)
                *ret_status = status;
            return -1;
        }
        if (zclock_mono() >= deadline)
            return -1;
        /* No event to wait on for a file appearing short of inotify: look again soon. */
        zclock_sleep(BROKER_PROC_POLL_MS);
    }
}

/* Runs the broker with argv (NULL-terminated, argv[0] the binary) and waits for its
   endpoint file path. Returns the pid, with the first endpoint bound in endpoint (len
   bytes); or -1 (nothing left running), with *ret_exited set if the broker exited before it
   served, else 0. */
static pid_t
s_spawn(const char **argv, const char *path, char *endpoint, size_t len, int *ret_exited)
{
    remove(path); /* a file left by an earlier broker of this data directory is not ours */
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test killed by its timeout */
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = -1;
    if (broker_proc_wait_file(pid, path, BROKER_PROC_START_MS, endpoint, len, &status) == 0)
        return pid;
    *ret_exited = status != -1;
    if (!*ret_exited)
        broker_proc_stop(pid, SIGKILL);
    return -1;
}

int
broker_proc_metrics_url(const char *data_dir, char *url, size_t len)
{
    static const char scheme[] = "http://";
    char path[BROKER_PROC_PATH_MAX + sizeof BROKER_PROC_FILE_SUFFIX];
    char line[BROKER_PROC_URL_MAX];
    if (broker_proc_file(data_dir, path, sizeof path))
        return -1;
    FILE *file = fopen(path, "r");
    if (!file)
        return -1;
    int rc = -1;
    while (rc && fgets(line, sizeof line, file)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, scheme, sizeof scheme - 1) && strlen(line) < len) {
            snprintf(url, len, "%s", line);
            rc = 0;
        }
    }
    fclose(file);
    return rc;
}

int
broker_proc_http(const char *url, const char *method, const char *path, char **ret_text)
{
    char host[INET_ADDRSTRLEN];
    unsigned port = 0;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    if (sscanf(url, "http://%15[0-9.]:%u/", host, &port) != 2 || port > UINT16_MAX ||
        inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return -1;
    addr.sin_port = htons((uint16_t)port);
    char request[BROKER_PROC_URL_MAX + BROKER_PROC_PATH_MAX];
    int n = snprintf(request, sizeof request, "%s %s HTTP/1.0\r\nHost: %s:%u\r\n\r\n", method, path,
                     host, port);
    if (n < 0 || (size_t)n >= sizeof request)
        return -1;
    char *text = calloc(1, BROKER_PROC_HTTP_MAX + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (!text || fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) ||
        send(fd, request, (size_t)n, 0) != n)
        goto fail;
    size_t len = 0;
    while (len < BROKER_PROC_HTTP_MAX) {
        struct pollfd item = {.fd = fd, .events = POLLIN};
        if (poll(&item, 1, BROKER_PROC_HTTP_WAIT_MS) != 1)
            goto fail;
        ssize_t got = recv(fd, text + len, BROKER_PROC_HTTP_MAX - len, 0);
        if (got < 0)
            goto fail;
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    *ret_text = text;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    free(text);
    return -1;
}

double
broker_proc_metric(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (!strncmp(line, series, len) && line[len] == ' ')
            return strtod(line + len + 1, NULL);
    return BROKER_PROC_MISSING;
}

/* broker_proc_start with the extra arguments in ap; probe may be NULL (plaintext). */
static pid_t
s_start(const char *data_dir, char *endpoint, const ob_client_config_t *probe, va_list ap)
{
    const char *broker = getenv("OB_BROKER");
    char path[BROKER_PROC_PATH_MAX + sizeof BROKER_PROC_FILE_SUFFIX];
    if (!broker || broker_proc_file(data_dir, path, sizeof path))
        return -1;
    char asked[BROKER_PROC_ENDPOINT_MAX];
    snprintf(asked, sizeof asked, "%s", endpoint);
    const char *argv[BROKER_PROC_ARGS_MAX];
    int argc = 0;
    argv[argc++] = broker;
    argv[argc++] = "--data-dir";
    argv[argc++] = data_dir;
    argv[argc++] = "--endpoint";
    argv[argc++] = asked;
    argv[argc++] = "--endpoint-file";
    argv[argc++] = path;
    argv[argc++] = "--curve";   /* plaintext on the test's loopback or ipc endpoint; a later */
    argv[argc++] = "0";         /* --curve among the extra arguments wins */
    argv[argc++] = "--metrics"; /* never the default port, which tests running at once */
    argv[argc++] = BROKER_PROC_METRICS; /* would share */
    const char *arg;
    while ((arg = va_arg(ap, const char *)) && argc < BROKER_PROC_ARGS_MAX - 1)
        argv[argc++] = arg;
    argv[argc] = NULL;

    /* An ephemeral port is the kernel's pick: free. An explicit one (a restart) was free
       when the broker before bound it, and is its own again once that broker is gone, but
       a client's outgoing connection may hold it as its local port for a while: try again. */
    int explicit_port = !strchr(asked, '*');
    pid_t pid = -1;
    int exited = 0;
    char bound[BROKER_PROC_ENDPOINT_MAX];
    for (int tries = 0; pid < 0 && tries < (explicit_port ? BROKER_PROC_BIND_TRIES : 1); tries++) {
        if (tries)
            zclock_sleep(BROKER_PROC_RETRY_MS);
        exited = 0;
        pid = s_spawn(argv, path, bound, sizeof bound, &exited);
        if (pid < 0 && !exited)
            return -1; /* no start or no answer: not a port taken */
    }
    if (pid < 0)
        return -1;
    ob_client_t *client = ob_client_new(bound, probe);
    int rc = client ? ob_client_connect(client, BROKER_PROC_START_MS) : -1;
    ob_client_destroy(&client);
    if (rc != 0) {
        broker_proc_stop(pid, SIGKILL);
        return -1;
    }
    snprintf(endpoint, BROKER_PROC_ENDPOINT_MAX, "%s", bound);
    return pid;
}

pid_t
broker_proc_start(const char *data_dir, char *endpoint, ...)
{
    va_list ap;
    va_start(ap, endpoint);
    pid_t pid = s_start(data_dir, endpoint, NULL, ap);
    va_end(ap);
    return pid;
}

pid_t
broker_proc_start_probed(const char *data_dir, char *endpoint, const ob_client_config_t *probe, ...)
{
    va_list ap;
    va_start(ap, probe);
    pid_t pid = s_start(data_dir, endpoint, probe, ap);
    va_end(ap);
    return pid;
}

int
broker_proc_stop(pid_t pid, int sig)
{
    int status;
    if (pid <= 0 || kill(pid, sig) != 0)
        return -1;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ; /* a signal to this process (czmq's handlers do not restart) is not its end */
    return got == pid ? status : -1;
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

int
broker_proc_site_make(broker_proc_site_t *self, const char *name)
{
    self->dir = broker_proc_scratch(name);
    if (!self->dir)
        return -1;
    snprintf(self->data_dir, sizeof self->data_dir, "%s/data", self->dir);
    snprintf(self->endpoint, sizeof self->endpoint, "%s", BROKER_PROC_EPHEMERAL);
    return 0;
}

int
broker_proc_site_remove(broker_proc_site_t *self)
{
    int rc = broker_proc_remove(self->dir);
    free(self->dir);
    self->dir = NULL;
    return rc;
}

struct broker_proc_pub {
    const char *endpoint;             /* the broker's, borrowed */
    const ob_client_config_t *client; /* the client's configuration, borrowed */
    int index;                        /* the publisher's number, p */
    long events;                      /* to publish, at most */
    const atomic_int *stop;           /* set: stop publishing; borrowed, or NULL */
    broker_proc_record_fn *record;    /* records every outcome */
    void *arg;                        /* record's, borrowed */
    pthread_t thread;                 /* runs s_publisher */
    int failed;                       /* the first error, 0 if none; read after the join */
};

static void *
s_publisher(void *arg)
{
    broker_proc_pub_t *self = arg;
    ob_client_t *client = ob_client_new(self->endpoint, self->client);
    /* Tokens are per client and start at 1; map them back to event numbers. */
    long *index_of_token = calloc((size_t)self->events + 1, sizeof *index_of_token);
    int rc = !client ? OB_ERR_INVALID_ARGUMENT : !index_of_token ? -ENOMEM : 0;
    char id[OB_EVENT_ID_MAX + 1], topic[OB_TOPIC_MAX + 1];
    snprintf(topic, sizeof topic, BROKER_PROC_TOPIC_FMT, self->client->name, self->index);
    static const uint8_t data[BROKER_PROC_PAYLOAD];
    ob_confirm_t c;
    for (long i = 0; rc == 0 && i < self->events && !(self->stop && atomic_load(self->stop)); i++) {
        snprintf(id, sizeof id, BROKER_PROC_EVENT_ID_FMT, self->client->name, self->index, i);
        ob_event_t ev = {.id = id,
                         .topic = topic,
                         .type = "project_item.created",
                         .time_us = (uint64_t)zclock_time() * 1000,
                         .source = self->client->name,
                         .data = data,
                         .data_len = sizeof data};
        uint64_t token;
        rc = ob_client_publish_async(client, &ev, &token);
        if (rc == 0 && token > (uint64_t)self->events)
            rc = OB_ERR_INVALID_ARGUMENT;
        if (rc == 0)
            index_of_token[token] = i;
        while (rc == 0 && ob_client_confirm_next(client, 0, &c) == 0)
            rc = self->record(self->arg, index_of_token[c.token], &c);
    }
    /* Every outcome, so that the test's record holds every event the broker stored. */
    while (rc == 0 && ob_client_pending(client) > 0)
        if ((rc = ob_client_confirm_next(client, self->client->timeout_ms, &c)) == 0)
            rc = self->record(self->arg, index_of_token[c.token], &c);
    self->failed = rc;
    ob_client_destroy(&client);
    free(index_of_token);
    return NULL;
}

broker_proc_pub_t *
broker_proc_pub_start(const char *endpoint, const ob_client_config_t *client, int p, long events,
                      const atomic_int *stop, broker_proc_record_fn *record, void *arg)
{
    broker_proc_pub_t *self = client->name && client->timeout_ms > 0 ? malloc(sizeof *self) : NULL;
    if (!self)
        return NULL;
    *self = (broker_proc_pub_t){.endpoint = endpoint,
                                .client = client,
                                .index = p,
                                .events = events,
                                .stop = stop,
                                .record = record,
                                .arg = arg};
    if (pthread_create(&self->thread, NULL, s_publisher, self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

int
broker_proc_pub_join(broker_proc_pub_t **self_p)
{
    broker_proc_pub_t *self = *self_p;
    pthread_join(self->thread, NULL);
    int rc = self->failed;
    free(self);
    *self_p = NULL;
    return rc;
}

long
broker_proc_wait_count(pthread_mutex_t *lock, pthread_cond_t *cond, const long *count, long target,
                       int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* the clock of a default condition variable */
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(lock);
    int rc = 0;
    while (*count < target && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(cond, lock, &deadline);
    long now = *count;
    pthread_mutex_unlock(lock);
    return now;
}
