/*  ob_wh_http: /healthz, /metrics and the way back. See wh_http.h. */
#include "wh_http.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"
#include "rest_parse.h"
#include "wh_commands.h"
#include "wh_verify.h"

#define S_TEXT "text/plain; charset=utf-8"
#define S_JSON "application/json"
#define S_ALLOW "GET, HEAD"
#define S_ALLOW_POST "POST"
#define S_TARGETS "/targets/" /* the way back: /targets/NAME/commands/OMS_ID */
#define S_COMMANDS "/commands/"
#define S_TOPIC_MP "mp."  /* where commands go */
#define S_US_PER_MS 1000  /* microseconds in a millisecond */
#define S_MESSAGE_MAX 256 /* bytes of an error message we write */
#define S_STATUS_TEXT 8   /* an HTTP status in decimal, with its NUL */

struct ob_wh_http {
    struct MHD_Daemon *daemon;    /* the server */
    ob_metrics_t *registry;       /* borrowed */
    ob_metric_t *commands_metric; /* counter {target, status}: the way back's answers */
    const ob_wh_config_t *cfg;    /* borrowed: the targets */
    ob_wh_commands_t *commands;   /* the way back's publisher, NULL when no target has it */
    uint16_t port;                /* the port bound */
};

/* One request of the way back, from its headers to its answer. */
typedef struct s_request {
    char *body;                                /* bytes so far, owned */
    size_t len;                                /* their count */
    int too_large;                             /* over OB_GW_COMMAND_MAX: the rest is dropped */
    const ob_wh_target_t *target;              /* the target it was published for */
    char topic[OB_GW_TOPIC_TEXT];              /* mp.<oms_id> */
    char command_id[OB_GW_COMMAND_ID_MAX + 1]; /* the command's id: its event id */
    struct MHD_Connection *conn;               /* suspended while published */
    unsigned status;                           /* the answer, once known: HTTP status */
    char *answer;                              /* ... and its JSON, owned */
} s_request_t;

static int s_seen; /* its address marks a request of /healthz or /metrics whose headers came */

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

/* Queues a JSON answer of the way back (body: owned, freed here; NULL: no memory, answered
   500) and counts it for req's target ("-" when none matched: never a name from the URL). */
static enum MHD_Result
s_json(ob_wh_http_t *self, const s_request_t *req, struct MHD_Connection *c, unsigned status,
       char *body)
{
    if (!body) {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        if (!(body = ob_rest_error_json(-ENOMEM, NULL)))
            return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_JSON);
    if (self->commands_metric) {
        char code[S_STATUS_TEXT];
        snprintf(code, sizeof code, "%u", status);
        ob_metric_add(self->commands_metric,
                      (const char *const[]){req->target ? req->target->name : "-", code}, 1);
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, S_ALLOW_POST);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Answers the error rc with message (borrowed; NULL for the code's own). */
static enum MHD_Result
s_error(ob_wh_http_t *self, const s_request_t *req, struct MHD_Connection *c, int rc,
        const char *message)
{
    return s_json(self, req, c, (unsigned)ob_rest_status(rc), ob_rest_error_json(rc, message));
}

/* ob_wh_command_done_fn: the broker's word on a request's command; resumes its connection. */
static void
s_command_done(void *arg, int rc, const ob_confirm_t *confirm)
{
    s_request_t *req = arg;
    const char *target = req->target->name;
    if (rc == 0) {
        zsys_info("target %s: command %s on %s: seq %" PRIu64 "%s", target, req->command_id,
                  req->topic, confirm->seq, confirm->dup ? " (a duplicate)" : "");
        json_t *answer =
            json_pack("{s:s, s:s, s:I, s:b}", "id", req->command_id, "topic", req->topic, "seq",
                      (json_int_t)confirm->seq, "dup", confirm->dup);
        req->status = MHD_HTTP_OK;
        req->answer = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        json_decref(answer);
    } else {
        char message[S_MESSAGE_MAX];
        int code = rc;
        if (ob_rest_status(rc) == MHD_HTTP_BAD_REQUEST || rc == OB_ERR_TOO_LARGE)
            snprintf(message, sizeof message, "the broker refuses the command: %s",
                     ob_strerror(rc));
        else {
            /* a timeout, a stop, a refused permission: the adapter's trouble, not the OMS's */
            code = OB_ERR_BUSY;
            snprintf(message, sizeof message,
                     "the broker did not confirm the command (%s): it may or may not be "
                     "stored; retrying the same request is safe",
                     ob_strerror(rc));
        }
        zsys_warning("target %s: command %s on %s: %s", target, req->command_id, req->topic,
                     message);
        req->status = (unsigned)ob_rest_status(code);
        req->answer = ob_rest_error_json(code, message);
        if (!req->answer)
            req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!req->status)
        req->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    MHD_resume_connection(req->conn);
}

/* Finds the target of a way-back path, "NAME/commands/OMS_ID" after S_TARGETS, with its
   way back on, and the OMS id. Returns the target (borrowed) or NULL. */
static const ob_wh_target_t *
s_route(const ob_wh_http_t *self, const char *path, uint64_t *ret_oms_id)
{
    const char *slash = strchr(path, '/');
    if (!slash || strncmp(slash, S_COMMANDS, sizeof S_COMMANDS - 1))
        return NULL;
    size_t name_len = (size_t)(slash - path);
    uint64_t oms_id = 0;
    if (ob_rest_parse_uint(slash + sizeof S_COMMANDS - 1, "oms_id", 1, OB_WH_OMS_ID_MAX, &oms_id,
                           NULL, 0))
        return NULL;
    for (size_t i = 0; i < self->cfg->target_count; i++) {
        const ob_wh_target_t *t = &self->cfg->target[i];
        if (t->commands_oms && strlen(t->name) == name_len && !memcmp(t->name, path, name_len)) {
            *ret_oms_id = oms_id;
            return t;
        }
    }
    return NULL;
}

/* Checks a whole request of the way back and submits its command. Returns the answer to an
   error, or MHD_YES with the connection suspended. */
static enum MHD_Result
s_command(ob_wh_http_t *self, struct MHD_Connection *c, s_request_t *req, const char *url,
          const char *method)
{
    uint64_t oms_id = 0;
    const ob_wh_target_t *target = s_route(self, url + sizeof S_TARGETS - 1, &oms_id);
    req->target = target;
    if (!target || !self->commands)
        return s_error(self, req, c, OB_GW_ERR_NOT_FOUND,
                       "no such target, or its way back is off (its `commands`)");
    if (strcmp(method, "POST"))
        return s_error(self, req, c, OB_GW_ERR_METHOD, "POST only");
    if (req->too_large) {
        char message[S_MESSAGE_MAX];
        snprintf(message, sizeof message, "a command body is at most %u bytes",
                 (unsigned)OB_GW_COMMAND_MAX);
        return s_error(self, req, c, OB_ERR_TOO_LARGE, message);
    }
    char errbuf[S_MESSAGE_MAX];
    ob_rest_media_t media;
    int rc = ob_rest_media_type(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE), &media,
        errbuf, sizeof errbuf);
    if (rc == 0 && media != OB_REST_MEDIA_JSON) {
        rc = OB_GW_ERR_MEDIA_TYPE;
        snprintf(errbuf, sizeof errbuf, "a command is application/json");
    }
    if (rc)
        return s_error(self, req, c, rc, errbuf);
    const char *reason = NULL;
    rc = ob_wh_verify(&target->secrets,
                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id"),
                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp"),
                      MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature"),
                      req->body ? req->body : "", req->len, (int64_t)time(NULL), &reason);
    if (rc) {
        zsys_info("target %s: command request refused (401): %s", target->name, reason);
        return s_error(self, req, c, OB_GW_ERR_UNAUTHORIZED, reason);
    }
    if (oms_id != target->commands_oms)
        return s_error(self, req, c, OB_ERR_FORBIDDEN, "the target may not command this OMS");
    char source[OB_SUB_NAME_MAX + 1];
    snprintf(source, sizeof source, OB_WH_SUB_PREFIX "%s", target->name);
    uint8_t *event = NULL;
    size_t event_len = 0;
    rc = ob_rest_command_event(req->body ? req->body : "", req->len, oms_id, source,
                               (uint64_t)zclock_time() * S_US_PER_MS, &event, &event_len,
                               req->command_id, errbuf, sizeof errbuf);
    if (rc)
        return s_error(self, req, c, rc, errbuf);
    snprintf(req->topic, sizeof req->topic, S_TOPIC_MP "%" PRIu64, oms_id);
    req->conn = c;
    MHD_suspend_connection(c);
    rc = ob_wh_commands_submit(self->commands, &event, event_len, s_command_done, req);
    if (rc) {
        MHD_resume_connection(c);
        req->status = (unsigned)ob_rest_status(rc == -ENOMEM ? rc : OB_ERR_SHUTDOWN);
        req->answer = ob_rest_error_json(rc == -ENOMEM ? rc : OB_ERR_SHUTDOWN,
                                         rc == -ENOMEM ? NULL : "the adapter is stopping");
    }
    return MHD_YES;
}

/* A request of the way back: its body gathered, then checked and submitted, then, once
   resumed, its answer. */
static enum MHD_Result
s_handle_command(ob_wh_http_t *self, struct MHD_Connection *c, const char *url, const char *method,
                 const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    s_request_t *req = *con_cls;
    if (!req) {
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->len + n > OB_GW_COMMAND_MAX) {
            req->too_large = 1; /* read and dropped: the answer comes at the end */
            free(req->body);
            req->body = NULL;
            req->len = 0;
            return MHD_YES;
        }
        char *body = realloc(req->body, req->len + n);
        if (!body)
            return MHD_NO;
        memcpy(body + req->len, upload_data, n);
        req->body = body;
        req->len += n;
        return MHD_YES;
    }
    if (req->status) { /* resumed: the publisher's answer */
        unsigned status = req->status;
        char *answer = req->answer;
        req->answer = NULL;
        return s_json(self, req, c, status, answer);
    }
    return s_command(self, c, req, url, method);
}

/* MHD_RequestCompletedCallback: frees a way-back request's state. */
static void
s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    s_request_t *req = *con_cls;
    if (!req || *con_cls == (void *)&s_seen)
        return;
    free(req->body);
    free(req->answer);
    free(req);
    *con_cls = NULL;
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    ob_wh_http_t *self = cls;
    (void)version;
    if (!strncmp(url, S_TARGETS, sizeof S_TARGETS - 1))
        return s_handle_command(self, c, url, method, upload_data, upload_data_size, con_cls);
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
    self->cfg = cfg;
    static const char *const labels[] = {"target", "status"};
    if (!(self->commands_metric = ob_metrics_counter(
              registry, "orderbus_webhook_commands_total",
              "Requests of the way back (POST /targets/NAME/commands/ID) answered, by target "
              "(- for none) and HTTP status",
              labels, 2, OB_WH_METRIC_SERIES))) {
        snprintf(errbuf, errlen, "cannot make the metrics (no memory)");
        goto fail;
    }
    for (size_t i = 0; i < cfg->target_count && !self->commands; i++)
        if (cfg->target[i].commands_oms &&
            !(self->commands = ob_wh_commands_new(cfg->endpoint, cfg->cert[0] ? cfg->cert : NULL,
                                                  cfg->broker_cert[0] ? cfg->broker_cert : NULL))) {
            snprintf(errbuf, errlen, "cannot start the way back's publisher (broker %s)",
                     cfg->endpoint);
            goto fail;
        }
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        s_handle, self, MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)OB_WH_HTTP_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OB_WH_HTTP_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)OB_WH_HTTP_TIMEOUT_S, MHD_OPTION_END);
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
    ob_wh_commands_destroy(&self->commands); /* resumes every request it held */
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}
