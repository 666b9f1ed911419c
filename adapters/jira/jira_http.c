/*  ob_jira_http: the webhook endpoint, /healthz and /metrics. See jira_http.h. */
#include "jira_http.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jira_hook.h"
#include "orderbus/client.h"
#include "orderbus/error.h"

#define S_TEXT "text/plain; charset=utf-8"
#define S_SIGNATURE "X-Hub-Signature"
#define S_SECRET_ARG "secret"
#define S_CLIENT_NAME "orderbus-jira-hooks"

struct ob_jira_http {
    struct MHD_Daemon *daemon;        /* the server */
    const ob_jira_config_t *cfg;      /* borrowed */
    const ob_jira_secrets_t *secrets; /* borrowed */
    ob_metrics_t *registry;           /* borrowed */
    const ob_jira_metrics_t *metrics; /* borrowed, may be NULL */
    ob_jira_map_t *map;               /* borrowed: the messages of edited comments */
    ob_client_t *client;              /* made and used in the server's thread only */
    char topic[OB_TOPIC_MAX + 1];     /* mp.<oms_id> */
    uint16_t port;                    /* the port bound */
};

/* A request's body as it arrives. */
typedef struct s_upload {
    char *body;    /* owned */
    size_t len;    /* bytes at body */
    int too_large; /* over OB_JIRA_HOOK_MAX: the rest is dropped */
} s_upload_t;

static void
s_count(ob_jira_http_t *self, const char *outcome)
{
    if (self->metrics && self->metrics->webhooks)
        ob_metric_add(self->metrics->webhooks, (const char *const[]){outcome}, 1);
}

static enum MHD_Result
s_answer(struct MHD_Connection *c, unsigned status, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_TEXT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Publishes cmd on mp.<oms_id>. Returns 0 or an error code. */
static int
s_publish(ob_jira_http_t *self, const ob_jira_command_t *cmd)
{
    if (!self->client) {
        ob_client_config_t cc = {.name = S_CLIENT_NAME,
                                 .timeout_ms = OB_JIRA_BROKER_MS,
                                 .cert = self->cfg->cert[0] ? self->cfg->cert : NULL,
                                 .broker_cert =
                                     self->cfg->broker_cert[0] ? self->cfg->broker_cert : NULL};
        if (!(self->client = ob_client_new(self->cfg->endpoint, &cc)))
            return -ENOMEM;
    }
    int rc = ob_client_connect(self->client, OB_JIRA_BROKER_MS);
    if (rc)
        return rc;
    return ob_jira_command_publish(self->client, self->cfg->oms_id, cmd);
}

/* Completes the edit_message command cmd with the message its comment became (the id map).
   When that is not known yet (its post_message not completed), marks the edit pending
   (e/<comment id>), for the engine to send once it records the message; then looks again,
   so that a message recorded meanwhile is not missed (both may then send the edit: the
   same command id, stored once). Returns 0, OB_JIRA_IGNORED (pending, or a comment that did
   not become a message: logged) or an error code. */
static int
s_edited(ob_jira_http_t *self, ob_jira_command_t *cmd)
{
    char key[OB_JIRA_MAP_KEY_MAX];
    char pending[OB_JIRA_MAP_KEY_MAX];
    char value[OB_JIRA_MAP_VALUE_MAX];
    snprintf(key, sizeof key, OB_JIRA_MAP_ORIGIN "%s", cmd->comment_id);
    snprintf(pending, sizeof pending, OB_JIRA_MAP_PENDING "%s", cmd->comment_id);
    int rc = ob_jira_map_get(self->map, key, value);
    if (rc == -ENOENT && !(rc = ob_jira_map_put(self->map, pending, "1")) &&
        (rc = ob_jira_map_get(self->map, key, value)) == -ENOENT) {
        zsys_info("jira webhook: comment %s edited before its Marketplace message is known "
                  "(not a person's comment, or its post_message not completed yet): pending",
                  cmd->comment_id);
        return OB_JIRA_IGNORED;
    }
    char *end = NULL;
    unsigned long long id = rc ? 0 : strtoull(value, &end, 10);
    if (rc || !end || *end || !id)
        return rc ? rc : OB_ERR_STORAGE;
    return ob_jira_hook_edit(cmd, (uint64_t)id);
}

/* A whole webhook arrived. */
static enum MHD_Result
s_webhook(ob_jira_http_t *self, struct MHD_Connection *c, const s_upload_t *up)
{
    if (up->too_large) {
        s_count(self, "refused");
        return s_answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
    }
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, S_SIGNATURE);
    const char *secret = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, S_SECRET_ARG);
    if (ob_jira_hook_verify(self->secrets->hook, self->secrets->hook_len, up->body, up->len, sig,
                            secret)) {
        zsys_warning("jira webhook: refused (%s)", sig      ? "bad signature"
                                                   : secret ? "bad secret"
                                                            : "no signature, no secret");
        s_count(self, "refused");
        return s_answer(c, MHD_HTTP_UNAUTHORIZED, "not authenticated\n");
    }
    ob_jira_command_t cmd;
    const char *why = NULL;
    int rc = ob_jira_hook_parse(self->cfg, up->body, up->len, &cmd, &why);
    if (rc == OB_JIRA_IGNORED) {
        zsys_debug("jira webhook: ignored: %s", why);
        s_count(self, "ignored");
        return s_answer(c, MHD_HTTP_OK, "ignored\n");
    }
    if (rc) {
        s_count(self, "refused");
        return s_answer(c, rc == -ENOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_BAD_REQUEST,
                        "not a Jira webhook\n");
    }
    if (cmd.comment_id[0] && (rc = s_edited(self, &cmd)) != 0) {
        ob_jira_command_clear(&cmd);
        s_count(self, rc == OB_JIRA_IGNORED ? "ignored" : "failed");
        return rc == OB_JIRA_IGNORED
                   ? s_answer(c, MHD_HTTP_OK, "ignored\n")
                   : s_answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "cannot read the id map\n");
    }
    rc = s_publish(self, &cmd);
    if (rc) {
        zsys_warning("jira webhook: command %s not published: %s", cmd.id, ob_strerror(rc));
        s_count(self, "failed");
        ob_jira_command_clear(&cmd);
        return s_answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "broker unavailable\n");
    }
    zsys_info("jira webhook: %s %s published on %s", cmd.type, cmd.id, self->topic);
    s_count(self, "command");
    ob_jira_command_clear(&cmd);
    return s_answer(c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    ob_jira_http_t *self = cls;
    (void)version;
    int hook = !strcmp(url, OB_JIRA_WEBHOOK_PATH);
    if (!*con_cls) { /* the headers came */
        s_upload_t *up = calloc(1, sizeof *up);
        if (!up)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    s_upload_t *up = *con_cls;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!hook || up->too_large || up->len + n > OB_JIRA_HOOK_MAX) {
            up->too_large = 1;
            return MHD_YES;
        }
        char *grown = realloc(up->body, up->len + n + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + up->len, upload_data, n); /* copied: the chunk is MHD's */
        up->body = grown;
        up->len += n;
        up->body[up->len] = '\0';
        return MHD_YES;
    }
    if (hook) {
        if (strcmp(method, "POST"))
            return s_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
        return s_webhook(self, c, up);
    }
    if (strcmp(url, "/healthz") && strcmp(url, "/metrics"))
        return s_answer(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return s_answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (up->too_large)
        return s_answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "no body expected\n");
    if (!strcmp(url, "/healthz"))
        return s_answer(c, MHD_HTTP_OK, "ok\n");
    char *text = NULL;
    size_t len = 0;
    if (ob_metrics_write(self->registry, &text, &len))
        return s_answer(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no memory\n");
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

/* Frees a request's upload when it ends. */
static void
s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    s_upload_t *up = *con_cls;
    if (up) {
        free(up->body);
        free(up);
        *con_cls = NULL;
    }
}

ob_jira_http_t *
ob_jira_http_start(const ob_jira_config_t *cfg, const ob_jira_secrets_t *secrets,
                   ob_metrics_t *registry, const ob_jira_metrics_t *metrics, ob_jira_map_t *map,
                   char *errbuf, size_t errlen)
{
    char host[OB_JIRA_ADDR_MAX];
    uint16_t port = 0;
    if (ob_jira_config_listen(cfg, host, &port)) {
        snprintf(errbuf, errlen, "listen '%s': not IPV4:PORT", cfg->listen);
        return NULL;
    }
    ob_jira_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->secrets = secrets;
    self->registry = registry;
    self->metrics = metrics;
    self->map = map;
    snprintf(self->topic, sizeof self->topic, "mp.%" PRIu64, cfg->oms_id);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, s_handle, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, s_completed,
        NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)OB_JIRA_HTTP_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OB_JIRA_HTTP_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)OB_JIRA_HTTP_TIMEOUT_S, MHD_OPTION_END);
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
    ob_jira_http_stop(&self);
    return NULL;
}

uint16_t
ob_jira_http_port(const ob_jira_http_t *self)
{
    return self->port;
}

void
ob_jira_http_stop(ob_jira_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_jira_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon); /* its thread has ended: the client is ours now */
    ob_client_destroy(&self->client);
    free(self);
    *self_p = NULL;
}
