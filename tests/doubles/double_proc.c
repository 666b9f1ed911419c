/*  double_proc: start, stop and call a double's process for tests. */
#include "double_proc.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_LINE_MAX 128  /* bytes of the "listening" line */
#define S_PATH_MAX 1024 /* bytes in a URL */

static long
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the first line of fd within the deadline. Returns 0 or -1. */
static int
s_read_line(int fd, char *line, size_t len, long deadline)
{
    size_t used = 0;
    while (used + 1 < len) {
        long left = deadline - s_now_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return -1;
        ssize_t n = read(fd, line + used, 1);
        if (n <= 0)
            return -1;
        if (line[used] == '\n') {
            line[used] = '\0';
            return 0;
        }
        used++;
    }
    return -1;
}

int
double_proc_start(double_proc_t *self, const char *binary, const char *const *extra)
{
    memset(self, 0, sizeof *self);
    self->pid = -1;
    self->out_fd = -1;
    if (!binary)
        return -1;
    const char *argv[DOUBLE_PROC_ARGS_MAX];
    int argc = 0;
    argv[argc++] = binary;
    argv[argc++] = "--port";
    argv[argc++] = "0";
    for (; extra && *extra && argc < DOUBLE_PROC_ARGS_MAX - 1; extra++)
        argv[argc++] = *extra;
    argv[argc] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a test killed by its timeout */
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    self->pid = pid;
    self->out_fd = fds[0];
    char line[S_LINE_MAX];
    unsigned port = 0;
    if (s_read_line(self->out_fd, line, sizeof line, s_now_ms() + DOUBLE_PROC_START_MS) != 0 ||
        sscanf(line, "listening 127.0.0.1:%u", &port) != 1 || port == 0) {
        double_proc_stop(self, SIGKILL);
        return -1;
    }
    self->port = port;
    snprintf(self->base_url, sizeof self->base_url, "http://127.0.0.1:%u", port);
    return 0;
}

int
double_proc_stop(double_proc_t *self, int sig)
{
    int status = -1;
    if (self->pid > 0) {
        kill(self->pid, sig);
        if (waitpid(self->pid, &status, 0) != self->pid)
            status = -1;
    }
    if (self->out_fd >= 0)
        close(self->out_fd);
    self->pid = -1;
    self->out_fd = -1;
    return status;
}

typedef struct s_buf {
    char *data; /* NUL-terminated */
    size_t len; /* bytes */
} s_buf_t;

static size_t
s_collect(char *data, size_t size, size_t nmemb, void *arg)
{
    s_buf_t *buf = arg;
    size_t n = size * nmemb;
    char *grown = realloc(buf->data, buf->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + buf->len, data, n);
    buf->data = grown;
    buf->len += n;
    buf->data[buf->len] = '\0';
    return n;
}

long
double_proc_request(const double_proc_t *self, const char *method, const char *path,
                    const char *const *headers, const char *body, char **ret_text,
                    char **ret_headers)
{
    char url[S_PATH_MAX];
    if (snprintf(url, sizeof url, "%s%s", self->base_url, path) >= (int)sizeof url)
        return -1;
    CURL *curl = curl_easy_init();
    if (!curl)
        return -1;
    s_buf_t buf = {NULL, 0}, head = {NULL, 0};
    struct curl_slist *list = curl_slist_append(NULL, "Expect:");
    for (int i = 0; headers && headers[i] && i < DOUBLE_PROC_HEADERS_MAX; i++)
        list = curl_slist_append(list, headers[i]);
    if (body)
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     self->timeout_ms > 0 ? self->timeout_ms : (long)DOUBLE_PROC_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, s_collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &head);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    long status = -1;
    if (curl_easy_perform(curl) == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (status > 0 && ret_text)
        *ret_text = buf.data ? buf.data : strdup("");
    else
        free(buf.data);
    if (status > 0 && ret_headers)
        *ret_headers = head.data ? head.data : strdup("");
    else
        free(head.data);
    return status;
}
