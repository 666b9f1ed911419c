/*  double_http: libmicrohttpd glue of the doubles' servers. */
#include "double_http.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
double_http_upload(void **con_cls, const char *upload, size_t *upload_size, size_t max)
{
    double_upload_t *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof *req);
        *con_cls = req;
        return req ? 1 : -1;
    }
    if (!*upload_size)
        return 0;
    if (!req->too_big && req->len + *upload_size <= max) {
        char *body = realloc(req->body, req->len + *upload_size + 1);
        if (!body)
            return -1;
        memcpy(body + req->len, upload, *upload_size); /* the chunk lives until we return */
        req->body = body;
        req->len += *upload_size;
        req->body[req->len] = '\0';
    } else {
        req->too_big = true;
    }
    *upload_size = 0;
    return 1;
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    double_upload_t *req = *con_cls;
    if (req) {
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

struct MHD_Daemon *
double_http_start(unsigned port, MHD_AccessHandlerCallback handler, void *cls, unsigned conn_max,
                  unsigned timeout_s, unsigned *ret_port)
{
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        0, NULL, NULL, handler, cls, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, conn_max, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *ret_port = info ? info->port : port;
    return d;
}

bool
double_http_split(char *url, const char *prefix, const char **segs, int max, int *ret_n)
{
    size_t plen = strlen(prefix);
    if (strncmp(url, prefix, plen) != 0 || (url[plen] != '/' && url[plen] != '\0'))
        return false;
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(url + plen, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return false;
        segs[n++] = tok;
    }
    *ret_n = n;
    return true;
}

void
double_pause(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stopping, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!*stopping && pthread_cond_timedwait(cond, lock, &until) == 0)
        ;
}
