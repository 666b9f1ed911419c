/*  ob_facade: see facade.h. */
#include "facade.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facade_read.h"
#include "facade_trigger.h"
#include "facade_view.h"
#include "mp_event.h"
#include "orderbus/error.h"

#define S_JSON "application/json; charset=utf-8"
#define S_HTML "text/html; charset=utf-8"
#define S_ENDPOINT "facade" /* the label of orderbus_gateway_http_requests_total */
#define S_STATUS_TEXT 8     /* an HTTP status in decimal with its NUL */
#define S_NOT_SERVED "writes are not served here" /* gw_http sends them to ob_rest_facade_serve */
#define S_INTERNAL "internal error"

struct ob_facade {
    const ob_gw_config_t *cfg; /* borrowed */
    ob_rest_t *rest;           /* borrowed: the tokens */
    ob_gw_stats_t *stats;      /* borrowed */
    ob_facade_view_t *view;    /* owned */
    ob_ftrigger_t *trigger;    /* owned: the triggers out, told by the view */
};

/* ob_facade_view_notify_fn: the view serves new events of oms_id; its trigger is due. */
static void
s_notify(void *arg, uint64_t oms_id)
{
    ob_ftrigger_notify(arg, oms_id);
}

ob_facade_t *
ob_facade_new(const ob_gw_config_t *cfg, ob_rest_t *rest, ob_gw_stats_t *stats, char *errbuf,
              size_t errlen)
{
    ob_facade_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(errbuf, errlen, "no memory");
        return NULL;
    }
    self->cfg = cfg;
    self->rest = rest;
    self->stats = stats;
    char dir[OB_GW_PATH_TEXT_MAX];
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", cfg->data_dir, OB_GW_FACADE_DIR) >= sizeof dir) {
        snprintf(errbuf, errlen, "facade: data_dir too long");
        goto fail;
    }
    if (!(self->trigger = ob_ftrigger_new(cfg, stats, errbuf, errlen)) ||
        !(self->view = ob_facade_view_open(dir, stats->registry, errbuf, errlen)))
        goto fail;
    ob_facade_view_on_events(self->view, s_notify, self->trigger);
    return self;
fail:
    ob_facade_destroy(&self);
    return NULL;
}

int
ob_facade_start(ob_facade_t *self, char *errbuf, size_t errlen)
{
    return ob_facade_view_start(self->view, self->cfg, errbuf, errlen);
}

void
ob_facade_destroy(ob_facade_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_facade_view_destroy(&(*self_p)->view); /* its thread ends: no more notifications */
    ob_ftrigger_destroy(&(*self_p)->trigger);
    free(*self_p);
    *self_p = NULL;
}

/* Queues answer (its body freed here). */
static enum MHD_Result
s_queue(ob_facade_t *self, struct MHD_Connection *c, ob_facade_answer_t *answer)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(answer->len, answer->body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        ob_facade_answer_clear(answer);
        return MHD_NO;
    }
    answer->body = NULL; /* the response's now */
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, answer->html ? S_HTML : S_JSON);
    enum MHD_Result ret = MHD_queue_response(c, answer->status, r);
    MHD_destroy_response(r);
    char code[S_STATUS_TEXT];
    snprintf(code, sizeof code, "%u", answer->status);
    ob_gw_stats_inc(self->stats->http, S_ENDPOINT, code);
    return ret;
}

/* Queues {"error": text} with status. */
static enum MHD_Result
s_error(ob_facade_t *self, struct MHD_Connection *c, unsigned status, const char *text)
{
    ob_facade_answer_t answer;
    if (ob_facade_error(status, text, &answer))
        return MHD_NO;
    return s_queue(self, c, &answer);
}

/* MHD_KeyValueIterator: keeps the last value of each parameter a route reads. */
static enum MHD_Result
s_query_cb(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    ob_facade_query_t *q = arg;
    const char *v = value ? value : "";
    if (!strcmp(key, "limit"))
        q->limit = v;
    else if (!strcmp(key, "from_id"))
        q->from_id = v;
    else if (!strcmp(key, "from_timestamp"))
        q->from_timestamp = v;
    else if (!strcmp(key, "from_seq"))
        q->from_seq = v;
    else if (!strcmp(key, "project_id"))
        q->project_id = v;
    else if (!strcmp(key, "project_item_id"))
        q->project_item_id = v;
    return MHD_YES;
}

enum MHD_Result
ob_facade_serve(ob_facade_t *self, struct MHD_Connection *c, const char *url, const char *method)
{
    ob_facade_route_t route;
    ob_facade_answer_t answer;
    if (ob_facade_route(method, url, &route)) {
        if (ob_facade_no_route(&answer))
            return MHD_NO;
        return s_queue(self, c, &answer);
    }
    const char *token = MHD_lookup_connection_value(c, MHD_HEADER_KIND, OB_FACADE_TOKEN_HEADER);
    char name[OB_GW_CLIENT_NAME_MAX + 1];
    uint32_t retry_after = 0;
    int rc = ob_rest_facade_authorize(self->rest, token, token ? strlen(token) : 0, route.oms_id, 0,
                                      name, &retry_after);
    if (rc)
        return ob_rest_facade_refuse(self->rest, c, rc, retry_after);
    if (route.kind >= OB_FACADE_R_UPDATE_ITEM)
        return s_error(self, c, MHD_HTTP_METHOD_NOT_ALLOWED, S_NOT_SERVED);
    ob_facade_query_t query = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_query_cb, &query);
    rc = ob_facade_view_answer(self->view, &route, &query, &answer);
    if (rc) {
        zsys_error("facade: GET %s: the view cannot be read: %s", url, ob_strerror(rc));
        return s_error(self, c, MHD_HTTP_INTERNAL_SERVER_ERROR, S_INTERNAL);
    }
    return s_queue(self, c, &answer);
}
