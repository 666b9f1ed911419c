/*  daemon_proc: see daemon_proc.h. */
#include "daemon_proc.h"

#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_PATH 1024  /* bytes of a path */
#define S_POLL_MS 10 /* between two looks at the listen file */

pid_t
daemon_proc_start(const char *binary, const char *name, const char *dir, const char *prefix,
                  const char *cfg, int log_stdout, char url[DAEMON_PROC_URL_MAX])
{
    char listen_file[S_PATH], log[S_PATH];
    snprintf(listen_file, sizeof listen_file, "%s/%s.listen", dir, prefix);
    snprintf(log, sizeof log, "%s/%s.log", dir, prefix);
    unlink(listen_file);
    if (!binary)
        return -1;
    /* The child's freopen would write out what the parent's stdio buffers hold: empty them. */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(log, "a", stderr) ||
            !(log_stdout ? freopen(log, "a", stdout) : freopen("/dev/null", "w", stdout)))
            _exit(127);
        execl(binary, name, "--config", cfg, "--listen-file", listen_file, (char *)NULL);
        _exit(127);
    }
    int64_t deadline = zclock_mono() + DAEMON_PROC_START_MS;
    for (;;) {
        FILE *f = fopen(listen_file, "r");
        if (f) {
            char addr[DAEMON_PROC_URL_MAX] = "";
            int ok = fgets(addr, sizeof addr, f) != NULL;
            fclose(f);
            addr[strcspn(addr, "\n")] = '\0';
            if (ok && (!url ||
                       snprintf(url, DAEMON_PROC_URL_MAX, "http://%s", addr) < DAEMON_PROC_URL_MAX))
                return pid;
            break;
        }
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) != 0)
            return -1; /* exited (reaped), or waitpid failed */
        if (zclock_mono() >= deadline)
            break;
        zclock_sleep(S_POLL_MS); /* the file appears when the daemon serves */
    }
    daemon_proc_stop(pid, SIGKILL);
    return -1;
}

int
daemon_proc_stop(pid_t pid, int sig)
{
    if (pid <= 0 || kill(pid, sig))
        return -1;
    int status = 0;
    pid_t got;
    while ((got = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ; /* a signal to this process (czmq's handlers do not restart) is not its end */
    return got == pid ? status : -1;
}

int
daemon_proc_run(const char *binary, const char *const *argv, const char *out_path, char **ret_out)
{
    *ret_out = NULL;
    if (!binary)
        return -1;
    fflush(stdout); /* the child would write out what these buffers hold */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || dup2(fileno(stdout), fileno(stderr)) < 0)
            _exit(127);
        execv(binary, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    FILE *f = fopen(out_path, "r");
    size_t len = 0;
    if (!f || getdelim(ret_out, &len, '\0', f) < 0) {
        free(*ret_out);
        *ret_out = strdup("");
    }
    if (f)
        fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Collects a GET's body. */
static size_t
s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    return fwrite(data, size, nmemb, (FILE *)arg);
}

long
daemon_proc_get(const char *url, char **ret_body)
{
    char *body = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    CURL *curl = out ? curl_easy_init() : NULL;
    long status = -1;
    if (curl) {
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)DAEMON_PROC_START_MS);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
    }
    if (out)
        fclose(out);
    if (status < 0)
        free(body);
    else
        *ret_body = body;
    return status;
}

int
daemon_proc_wait_text(const char *url, const char *text, int poll_ms, int64_t until_ms)
{
    for (;;) {
        char *body = NULL;
        int found = daemon_proc_get(url, &body) == 200 && strstr(body, text);
        free(body);
        if (found)
            return 1;
        if (zclock_mono() >= until_ms)
            return 0;
        zclock_sleep(poll_ms);
    }
}
