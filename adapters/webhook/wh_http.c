/*  ob_wh_http: /healthz and /metrics. See wh_http.h. */
#include "wh_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "orderbus/error.h"

#define S_TEXT "text/plain; charset=utf-8"
#define S_ALLOW "GET, HEAD"

struct ob_wh_http {
    struct MHD_Daemon *daemon; /* the server */
    ob_metrics_t *registry;    /* borrowed */
    uint16_t port;             /* the port bound */
};

static enum MHD_Result
s_answer(struct MHD_Connection *c, unsigned status, const char *text, const char *type,
         const char *allow)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    ob_wh_http_t *self = cls;
    (void)version;
    (void)upload_data;
    static int s_seen; /* the address marks a request whose headers came */
    if (*con_cls != &s_seen) {
        *con_cls = &s_seen;
        return MHD_YES;
    }
    if (*upload_data_size)
        return s_answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "no body expected\n", S_TEXT, NULL);
    int healthz = !strcmp(url, "/healthz"), metrics = !strcmp(url, "/metrics");
    if (!healthz && !metrics)
        return s_answer(c, MHD_HTTP_NOT_FOUND, "not found\n", S_TEXT, NULL);
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return s_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n", S_TEXT, S_ALLOW);
    if (healthz)
        return s_answer(c, MHD_HTTP_OK, "ok\n", S_TEXT, NULL);
    char *text = NULL;
    size_t len = 0;
    if (ob_metrics_write(self->registry, &text, &len))
        return s_answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no memory\n", S_TEXT, NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, OB_METRICS_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

ob_wh_http_t *
ob_wh_http_start(const ob_wh_config_t *cfg, ob_metrics_t *registry, char *errbuf, size_t errlen)
{
    char host[OB_WH_ADDR_MAX];
    uint16_t port = 0;
    if (ob_wh_config_listen(cfg, host, &port)) {
        snprintf(errbuf, errlen, "listen '%s': not IPV4:PORT", cfg->listen);
        return NULL;
    }
    ob_wh_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->registry = registry;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    self->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                                    s_handle, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned)OB_WH_HTTP_CONNECTIONS,
                                    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OB_WH_HTTP_MEMORY,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)OB_WH_HTTP_TIMEOUT_S,
                                    MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(errbuf, errlen, "cannot listen on %s (in use, or not an address of this host)",
                 cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    if (cfg->listen_file[0] && ob_daemon_write_listen_file(cfg->listen_file, host, self->port)) {
        snprintf(errbuf, errlen, "cannot write listen_file %s", cfg->listen_file);
        goto fail;
    }
    return self;
fail:
    ob_wh_http_stop(&self);
    return NULL;
}

uint16_t
ob_wh_http_port(const ob_wh_http_t *self)
{
    return self->port;
}

void
ob_wh_http_stop(ob_wh_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_wh_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}
