/*  ob_gw_http: see gw_http.h. */
#include "gw_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "facade.h"
#include "facade_write.h"
#include "file.h"
#include "orderbus/error.h"
#include "rest.h"
#include "trigger.h"

#define S_TEXT "text/plain; charset=utf-8"
#define S_REALM "Basic realm=\"orderbus-gateway\""
#define S_READY_MAX 2048 /* bytes of /readyz's answer */

struct ob_gw_http {
    struct MHD_Daemon *daemon; /* the server */
    const ob_gw_config_t *cfg; /* borrowed */
    ob_feed_t *feed;           /* borrowed */
    ob_gw_stats_t *stats;      /* borrowed */
    ob_rest_t *rest;           /* the REST API under /v1/, owned */
    ob_facade_t *facade;       /* the Ordering API facade, owned; NULL when off */
    uint16_t port;             /* bound */
    char *tls_cert;            /* HTTPS: the PEM certificate, or NULL */
    char *tls_key;             /* HTTPS: its key (zeroed when freed), or NULL */
    size_t tls_key_len;        /* bytes at tls_key */
};

/* One request's state across the handler's calls. */
typedef struct s_conn {
    size_t headers;     /* header count */
    char *body;         /* the body so far (NUL-terminated), or NULL */
    size_t len;         /* bytes in body */
    size_t size;        /* bytes allocated at body */
    size_t cap;         /* most bytes taken: the trigger's, or rest_body_max under /v1/ */
    int too_large;      /* 1: the body went over cap (the rest is dropped) */
    ob_rest_job_t *job; /* a /v1/ request's job, or NULL */
} s_conn_t;

#define S_V1 "/v1/"

/* Adds n bytes at data to conn's body, or marks it too large. Returns 0 or -ENOMEM. */
static int
s_body_add(s_conn_t *conn, const char *data, size_t n)
{
    if (conn->too_large || n > conn->cap - conn->len) {
        conn->too_large = 1;
        return 0;
    }
    if (conn->len + n + 1 > conn->size) {
        size_t size = conn->size ? conn->size : n + 1;
        while (size < conn->len + n + 1)
            size *= 2;
        char *body = realloc(conn->body, size);
        if (!body)
            return -ENOMEM;
        conn->body = body;
        conn->size = size;
    }
    memcpy(conn->body + conn->len, data, n);
    conn->len += n;
    conn->body[conn->len] = '\0';
    return 0;
}

/* Queues a text answer; returns MHD's result. */
static enum MHD_Result
s_answer(ob_gw_http_t *self, struct MHD_Connection *c, const char *endpoint, unsigned status,
         const char *text, const char *header, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_TEXT);
    if (header)
        MHD_add_response_header(r, header, value);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    char code[8];
    snprintf(code, sizeof code, "%u", status);
    ob_gw_stats_inc(self->stats->http, endpoint, code);
    return ret;
}

/* /readyz */
static enum MHD_Result
s_readyz(ob_gw_http_t *self, struct MHD_Connection *c)
{
    char text[S_READY_MAX];
    size_t used = 0;
    int ready = 1;
    if (!ob_feed_broker_ok(self->feed)) {
        ready = 0;
        used += (size_t)snprintf(text + used, sizeof text - used, "broker: not ready\n");
    }
    for (size_t i = 0; i < self->cfg->oms_count && used < sizeof text; i++)
        if (!ob_feed_mp_ok(self->feed, i)) {
            ready = 0;
            used += (size_t)snprintf(text + used, sizeof text - used,
                                     "oms %llu: marketplace not answering\n",
                                     (unsigned long long)self->cfg->oms[i].id);
        }
    if (ready)
        snprintf(text, sizeof text, "ready\n");
    return s_answer(self, c, "readyz", ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, text,
                    NULL, NULL);
}

/* /metrics */
static enum MHD_Result
s_metrics(ob_gw_http_t *self, struct MHD_Connection *c)
{
    char *text = NULL;
    size_t len = 0;
    if (ob_metrics_write(self->stats->registry, &text, &len))
        return s_answer(self, c, "metrics", MHD_HTTP_INTERNAL_SERVER_ERROR, "no memory\n", NULL,
                        NULL);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, OB_METRICS_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    ob_gw_stats_inc(self->stats->http, "metrics", "200");
    return ret;
}

/* /trigger/ID */
static enum MHD_Result
s_trigger(ob_gw_http_t *self, struct MHD_Connection *c, const char *url, const char *method,
          const s_conn_t *conn)
{
    uint64_t id = 0;
    size_t index = 0;
    if (ob_trigger_path(url, &id) == 0)
        while (index < self->cfg->oms_count && self->cfg->oms[index].id != id)
            index++;
    if (!id || index == self->cfg->oms_count) {
        ob_gw_stats_inc(self->stats->triggers, "unknown", "unknown_oms");
        return s_answer(self, c, "trigger", MHD_HTTP_NOT_FOUND, "no such OMS\n", NULL, NULL);
    }
    if (strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT"))
        return s_answer(self, c, "trigger", MHD_HTTP_METHOD_NOT_ALLOWED, "GET, POST or PUT\n",
                        MHD_HTTP_HEADER_ALLOW, "GET, POST, PUT");
    if (conn->too_large)
        return s_answer(self, c, "trigger", MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n", NULL,
                        NULL);
    const ob_gw_oms_t *oms = &self->cfg->oms[index];
    char label[24];
    snprintf(label, sizeof label, "%llu", (unsigned long long)oms->id);
    if (oms->trigger_user[0]) {
        ob_trigger_request_t req = {
            .method = method,
            .header =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
            .query = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "authorization"),
            .content_type =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
            .body = conn->len ? conn->body : NULL,
            .body_len = conn->len};
        ob_trigger_creds_t creds;
        int ok = ob_trigger_credentials(&req, &creds) == 0 &&
                 ob_trigger_check(&creds, oms->trigger_user, oms->trigger_password);
        memset(&creds, 0, sizeof creds);
        if (!ok) {
            ob_gw_stats_inc(self->stats->triggers, label, "unauthorized");
            ob_gw_stats_inc(self->stats->auth_fail, label, NULL);
            return s_answer(self, c, "trigger", MHD_HTTP_UNAUTHORIZED, "unauthorized\n",
                            MHD_HTTP_HEADER_WWW_AUTHENTICATE, S_REALM);
        }
    }
    ob_feed_wake(self->feed, index);
    ob_gw_stats_inc(self->stats->triggers, label, "accepted");
    return s_answer(self, c, "trigger", MHD_HTTP_ACCEPTED, "accepted\n", NULL, NULL);
}

/* An endpoint that takes GET (and HEAD) only. Returns 1 if method is one of them. */
static int
s_get(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    ob_gw_http_t *self = cls;
    (void)version;
    s_conn_t *conn = *con_cls;
    if (!conn) {
        if (!(conn = calloc(1, sizeof *conn)))
            return MHD_NO;
        conn->headers = (size_t)MHD_get_connection_values(c, MHD_HEADER_KIND, NULL, NULL);
        int rest = !strncmp(url, S_V1, strlen(S_V1)) ||
                   !strncmp(url, OB_FACADE_PREFIX, strlen(OB_FACADE_PREFIX));
        conn->cap = rest ? (size_t)self->cfg->rest_body_max : OB_GW_TRIGGER_BODY_MAX;
        *con_cls = conn;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (s_body_add(conn, upload_data, *upload_data_size))
            return MHD_NO;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (conn->headers > OB_GW_HTTP_HEADERS_MAX)
        return s_answer(self, c, "other", MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
                        "too many headers\n", NULL, NULL);
    if (!strncmp(url, OB_TRIGGER_PREFIX, strlen(OB_TRIGGER_PREFIX)))
        return s_trigger(self, c, url, method, conn);
    if (!strncmp(url, S_V1, strlen(S_V1)))
        return ob_rest_serve(self->rest, c, url, method, conn->body, conn->len, conn->too_large,
                             &conn->job);
    if (self->facade && !strncmp(url, OB_FACADE_PREFIX, strlen(OB_FACADE_PREFIX))) {
        if (!s_get(method)) /* the facade's writes: commands, through the REST thread */
            return ob_rest_facade_serve(self->rest, c, url, method, conn->body, conn->len,
                                        conn->too_large, &conn->job);
        return ob_facade_serve(self->facade, c, url, method);
    }
    const char *endpoint = !strcmp(url, "/healthz")   ? "healthz"
                           : !strcmp(url, "/readyz")  ? "readyz"
                           : !strcmp(url, "/metrics") ? "metrics"
                                                      : NULL;
    if (!endpoint)
        return s_answer(self, c, "other", MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
    if (!s_get(method))
        return s_answer(self, c, endpoint, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n",
                        MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (conn->too_large || conn->len)
        return s_answer(self, c, endpoint, MHD_HTTP_CONTENT_TOO_LARGE, "no body expected\n", NULL,
                        NULL);
    if (!strcmp(endpoint, "readyz"))
        return s_readyz(self, c);
    if (!strcmp(endpoint, "metrics"))
        return s_metrics(self, c);
    return s_answer(self, c, endpoint, MHD_HTTP_OK, "ok\n", NULL, NULL);
}

static void
s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    s_conn_t *conn = *con_cls;
    if (conn) {
        ob_rest_job_destroy(&conn->job);
        free(conn->body);
        free(conn);
    }
    *con_cls = NULL;
}

ob_gw_http_t *
ob_gw_http_start(const ob_gw_config_t *cfg, ob_feed_t *feed, ob_gw_store_t *store,
                 ob_gw_stats_t *stats, char *errbuf, size_t errlen)
{
    char host[OB_GW_ADDR_MAX];
    uint16_t port = 0;
    if (ob_gw_config_listen(cfg, host, &port)) {
        snprintf(errbuf, errlen, "listen '%s': not IPV4:PORT", cfg->listen);
        return NULL;
    }
    ob_gw_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->feed = feed;
    self->stats = stats;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (!(self->rest = ob_rest_new(cfg, store, stats, errbuf, errlen)))
        goto fail;
    if (cfg->facade && !(self->facade = ob_facade_new(cfg, self->rest, stats, errbuf, errlen)))
        goto fail;
    /* Suspend and resume: a /v1/ request waits for the REST thread (rest.h). poll(2), not
       MHD_USE_AUTO's epoll: libmicrohttpd 0.9.75's epoll loop, once one epoll_wait returned
       128 ready connections, waited in the next for the idle timeout before serving any of
       them (test_gateway_rest's test_many_ready); poll was as fast at 64 connections. */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (cfg->tls_cert[0]) {
        size_t len = 0;
        int rc = ob_file_read(cfg->tls_cert, OB_GW_TLS_FILE_MAX, &self->tls_cert, &len);
        if (!rc)
            rc = ob_file_read(cfg->tls_key, OB_GW_TLS_FILE_MAX, &self->tls_key, &self->tls_key_len);
        if (rc) {
            snprintf(errbuf, errlen, "cannot read tls_cert or tls_key: %s", ob_strerror(rc));
            goto fail;
        }
        flags |= MHD_USE_TLS;
    }
    /* The TLS options are read only with MHD_USE_TLS; NULL ends nothing early as they come
       last before MHD_OPTION_END. */
    self->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, s_handle, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)OB_GW_HTTP_PER_IP_MAX,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OB_GW_HTTP_MEMORY_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->http_timeout_s, MHD_OPTION_NOTIFY_COMPLETED,
        s_completed, NULL, self->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
        self->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, self->tls_key, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(errbuf, errlen,
                 "cannot listen on %s (in use, not an address of this host, or a TLS "
                 "certificate and key that do not load)",
                 cfg->listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    if (cfg->listen_file[0] && ob_daemon_write_listen_file(cfg->listen_file, host, self->port)) {
        snprintf(errbuf, errlen, "cannot write listen_file %s", cfg->listen_file);
        goto fail;
    }
    /* the view's thread last: its triggers out tell OMSes to read a facade that answers */
    if (self->facade && ob_facade_start(self->facade, errbuf, errlen))
        goto fail;
    return self;
fail:
    ob_gw_http_stop(&self);
    return NULL;
}

int
ob_gw_http_reload(ob_gw_http_t *self, char *errbuf, size_t errlen)
{
    return ob_rest_reload(self->rest, errbuf, errlen);
}

uint16_t
ob_gw_http_port(const ob_gw_http_t *self)
{
    return self->port;
}

void
ob_gw_http_stop(ob_gw_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_gw_http_t *self = *self_p;
    ob_rest_close(self->rest); /* resumes every suspended connection */
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    ob_facade_destroy(&self->facade);
    ob_rest_destroy(&self->rest);
    free(self->tls_cert);
    if (self->tls_key)
        memset(self->tls_key, 0, self->tls_key_len);
    free(self->tls_key);
    free(self);
    *self_p = NULL;
}
