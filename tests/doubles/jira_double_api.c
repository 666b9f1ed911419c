/*  jira_double_api: the HTTP side of the Jira double (libmicrohttpd, a thread per connection
    so that a slow answer holds only its own connection).

    /rest/api/2/... the REST API subset (README.md), after injected faults and authentication.
    /_control/...   the test control interface (no authentication, never faulted):
        POST fields, projects, users, webhooks, config   configure
        POST faults                                      fault the next /rest/ requests
        POST transition, comment, edit                   what a person does in Jira's UI
        GET  state                                       everything, for tests to assert on

    Each request runs with the store's mutex held, except for an injected slow answer. */
#include "double_http.h"
#include "jira_double.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Texts of the reference (3, 11). */
#define E_AUTH "You are not authenticated. Authentication required to perform this operation."
#define E_BASIC_OFF "Basic Authentication has been disabled on this instance."
/* Ours (README.md). */
#define E_RATE "Rate limit exceeded."
#define E_UNAVAILABLE "Service unavailable (injected fault)."
#define S_CREDS_MAX 512 /* bytes of decoded basic credentials */

/* One request's body (double_http.h). */
typedef double_upload_t s_req_t;

typedef struct s_ctx {
    jd_store_t *store;             /* borrowed */
    struct MHD_Connection *conn;   /* borrowed */
    const char *method;            /* borrowed */
    const char *url;               /* the full path, borrowed */
    const char *segs[JD_SEGS_MAX]; /* path segments after the prefix */
    int n_segs;                    /* used */
    const s_req_t *req;            /* body */
    json_t *query;                 /* query parameters, strings (the last of a repeated one) */
    json_t *user;                  /* the authenticated user, borrowed from the store */
} s_ctx_t;

/* What the handler sends: a reply plus headers. */
typedef struct s_out {
    jd_reply_t r;          /* status and body (its JSON may share the store's: see s_seal) */
    char *text;            /* the body as text once sealed, owned, or NULL */
    bool is_json;          /* sealed: the body was JSON */
    const char *h_name[2]; /* extra headers */
    char h_value[2][64];   /* their values */
    int n_headers;         /* used */
    bool drop;             /* close the connection without an answer */
    long slow_ms;          /* answer after this */
} s_out_t;

static bool
s_is(const s_ctx_t *c, const char *method)
{
    return strcmp(c->method, method) == 0;
}

static void
s_header(s_out_t *o, const char *name, const char *value)
{
    if (o->n_headers == 2)
        return;
    o->h_name[o->n_headers] = name;
    snprintf(o->h_value[o->n_headers], sizeof o->h_value[0], "%s", value);
    o->n_headers++;
}

static enum MHD_Result
s_query_cb(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    json_object_set_new(arg, key, json_string(value ? value : ""));
    return MHD_YES;
}

static json_t *
s_body(const s_ctx_t *c)
{
    return c->req->len ? json_loadb(c->req->body, c->req->len, JSON_REJECT_DUPLICATES, NULL) : NULL;
}

/* ---- authentication (reference 3) ---- */

/* Returns 0 with c->user set, or -1 with o the refusal. */
static int
s_auth(s_ctx_t *c, s_out_t *o)
{
    const char *h = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncmp(h, "Basic ", 6) == 0) {
        if (!c->store->basic_enabled) {
            o->r = (jd_reply_t){403, json_pack("{s:s}", "message", E_BASIC_OFF)};
            return -1;
        }
        unsigned char creds[S_CREDS_MAX];
        size_t len = 0;
        if (sodium_base642bin(creds, sizeof creds - 1, h + 6, strlen(h + 6), NULL, &len, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0) {
            creds[len] = '\0';
            char *colon = strchr((char *)creds, ':');
            if (colon) {
                *colon = '\0';
                c->user = jd_user_by_basic(c->store, (char *)creds, colon + 1);
            }
        }
        sodium_memzero(creds, sizeof creds);
    } else if (h && strncmp(h, "Bearer ", 7) == 0) {
        c->user = jd_user_by_token(c->store, h + 7);
    }
    if (c->user)
        return 0;
    o->r = jd_error(401, E_AUTH, NULL, NULL);
    if (h) /* credentials given and refused */
        s_header(o, "X-Seraph-LoginReason", "AUTHENTICATED_FAILED");
    return -1;
}

/* ---- the REST API ---- */

static jd_reply_t
s_no_route(const s_ctx_t *c)
{
    char msg[JD_URL_MAX + 64];
    snprintf(msg, sizeof msg, "null for uri: %s%s", c->store->base, c->url);
    return (jd_reply_t){404, json_pack("{s:s, s:i}", "message", msg, "status-code", 404)};
}

static jd_reply_t
s_no_method(void)
{
    return (jd_reply_t){405, NULL};
}

static jd_reply_t
s_issue_routes(s_ctx_t *c)
{
    jd_store_t *st = c->store;
    const char **s = c->segs;
    int n = c->n_segs;
    json_t *body = NULL;
    jd_reply_t r;
    if (n == 1) {
        if (!s_is(c, "POST"))
            return s_no_method();
        body = s_body(c);
        r = jd_issue_create(st, c->user, body);
    } else if (strcmp(s[1], "createmeta") == 0) {
        if (n == 2)
            return jd_createmeta(st, NULL, NULL);
        if ((n != 4 && n != 5) || strcmp(s[3], "issuetypes") != 0)
            return s_no_route(c);
        return jd_createmeta(st, s[2], n == 5 ? s[4] : NULL);
    } else if (n == 2) {
        if (s_is(c, "GET"))
            return jd_issue_get(st, c->user, s[1], c->query);
        if (s_is(c, "DELETE"))
            return jd_issue_delete(st, c->user, s[1]);
        if (!s_is(c, "PUT"))
            return s_no_method();
        body = s_body(c);
        r = jd_issue_edit(st, c->user, s[1], body);
    } else if (strcmp(s[2], "transitions") == 0 && n == 3) {
        if (s_is(c, "GET"))
            return jd_transitions_get(st, c->user, s[1]);
        if (!s_is(c, "POST"))
            return s_no_method();
        body = s_body(c);
        r = jd_transition_do(st, c->user, s[1], body);
    } else if (strcmp(s[2], "comment") == 0 && n == 3) {
        if (s_is(c, "GET"))
            return jd_comments_list(st, c->user, s[1], c->query);
        if (!s_is(c, "POST"))
            return s_no_method();
        body = s_body(c);
        r = jd_comment_add(st, c->user, s[1], body);
    } else if (strcmp(s[2], "comment") == 0 && n == 4) {
        if (s_is(c, "GET"))
            return jd_comment_get(st, c->user, s[1], s[3]);
        if (!s_is(c, "PUT"))
            return s_no_method();
        body = s_body(c);
        r = jd_comment_edit(st, c->user, s[1], s[3], body);
    } else if (strcmp(s[2], "properties") == 0 && n == 3) {
        return s_is(c, "GET") ? jd_properties_list(st, s[1]) : s_no_method();
    } else if (strcmp(s[2], "properties") == 0 && n == 4) {
        if (s_is(c, "GET"))
            return jd_property_get(st, s[1], s[3]);
        if (s_is(c, "DELETE"))
            return jd_property_delete(st, s[1], s[3]);
        if (!s_is(c, "PUT"))
            return s_no_method();
        return jd_property_put(st, c->user, s[1], s[3], c->req->body ? c->req->body : "",
                               c->req->len);
    } else {
        return s_no_route(c);
    }
    json_decref(body);
    return r;
}

static jd_reply_t
s_rest(s_ctx_t *c)
{
    jd_store_t *st = c->store;
    if (c->n_segs == 0)
        return s_no_route(c);
    const char *top = c->segs[0];
    if (strcmp(top, "issue") == 0)
        return s_issue_routes(c);
    if (strcmp(top, "search") == 0 && c->n_segs == 1) {
        if (s_is(c, "GET"))
            return jd_search(st, c->user, c->query);
        if (!s_is(c, "POST"))
            return s_no_method();
        json_t *body = s_body(c);
        jd_reply_t r = json_is_object(body)
                           ? jd_search(st, c->user, body)
                           : jd_error(400, "The request body is not valid JSON.", NULL, NULL);
        json_decref(body);
        return r;
    }
    if (strcmp(top, "issueLink") == 0 && c->n_segs == 1) {
        if (!s_is(c, "POST"))
            return s_no_method();
        json_t *body = s_body(c);
        jd_reply_t r = jd_link_create(st, c->user, body);
        json_decref(body);
        return r;
    }
    static const struct {
        const char *name; /* first segment */
        int n_segs;       /* with its argument, if any */
    } reads[] = {{"issueLinkType", 1}, {"field", 1},  {"project", 2},
                 {"status", 2},        {"myself", 1}, {"serverInfo", 1}};
    size_t i = 0;
    while (i < sizeof reads / sizeof reads[0] &&
           (strcmp(top, reads[i].name) != 0 || c->n_segs != reads[i].n_segs))
        i++;
    if (i == sizeof reads / sizeof reads[0])
        return s_no_route(c);
    if (!s_is(c, "GET"))
        return s_no_method();
    if (strcmp(top, "issueLinkType") == 0)
        return jd_link_types(st);
    if (strcmp(top, "field") == 0)
        return jd_fields_list(st);
    if (strcmp(top, "project") == 0)
        return jd_project_get(st, c->segs[1]);
    if (strcmp(top, "status") == 0)
        return jd_status_get(st, c->segs[1]);
    if (strcmp(top, "myself") == 0)
        return (jd_reply_t){200, jd_json_user(st, c->user)};
    return (jd_reply_t){200, json_pack("{s:s, s:s, s:[i, i, i], s:s, s:i, s:s}", "baseUrl",
                                       st->base, "version", "9.12.0", "versionNumbers", 9, 12, 0,
                                       "deploymentType", "Server", "buildNumber", 9120000,
                                       "serverTitle", "orderbus Jira double")};
}

/* ---- the control interface ---- */

static jd_reply_t
s_ctl_error(const char *text)
{
    return (jd_reply_t){400, json_pack("{s:s}", "error", text)};
}

static jd_reply_t
s_ctl_faults(jd_store_t *st, const json_t *in)
{
    static const char *const keys[] = {"status_next", "status",  "retry_after", "drop_next",
                                       "slow_next",   "slow_ms", "lose_next"};
    jd_faults_t f = st->faults;
    long *slots[] = {&f.status_next, &f.status,  &f.retry_after, &f.drop_next,
                     &f.slow_next,   &f.slow_ms, &f.lose_next};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const json_t *v = json_object_get(in, keys[i]);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < -1 ||
            json_integer_value(v) > JD_FAULT_COUNT_MAX)
            return s_ctl_error("faults are integers: status_next, status (400..599), "
                               "retry_after (-1: none), drop_next, slow_next, slow_ms, "
                               "lose_next");
        *slots[i] = (long)json_integer_value(v);
    }
    const json_t *method = json_object_get(in, "method"), *path = json_object_get(in, "path");
    if ((method && (!json_is_string(method) || json_string_length(method) >= sizeof f.method)) ||
        (path && (!json_is_string(path) || json_string_length(path) >= sizeof f.path)))
        return s_ctl_error("method and path are strings (\"\": any request)");
    if (method)
        snprintf(f.method, sizeof f.method, "%s", json_string_value(method));
    if (path)
        snprintf(f.path, sizeof f.path, "%s", json_string_value(path));
    if (f.status < 400 || f.status > 599 || f.slow_ms < 0 || f.slow_ms > JD_FAULT_MS_MAX)
        return s_ctl_error("status is 400..599 and slow_ms 0..600000");
    st->faults = f;
    return (jd_reply_t){200,
                        json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s}", "status_next",
                                  (int)f.status_next, "status", (int)f.status, "retry_after",
                                  (int)f.retry_after, "drop_next", (int)f.drop_next, "slow_next",
                                  (int)f.slow_next, "slow_ms", (int)f.slow_ms, "lose_next",
                                  (int)f.lose_next, "method", f.method, "path", f.path)};
}

/* transition, comment, edit: as the named user would in Jira's UI; the answer is Jira's. */
static jd_reply_t
s_ctl_action(jd_store_t *st, const char *what, const json_t *in)
{
    json_t *user = jd_user_by_name(st, json_string_value(json_object_get(in, "user")));
    const char *issue = json_string_value(json_object_get(in, "issue"));
    if (!user || !issue)
        return s_ctl_error("an action needs a known user and an issue");
    if (strcmp(what, "transition") == 0) {
        json_t *body = json_pack(
            "{s:{s:O}}", "transition", "id",
            json_object_get(in, "transition") ? json_object_get(in, "transition") : json_null());
        if (body && json_object_get(in, "fields"))
            json_object_set(body, "fields", json_object_get(in, "fields"));
        jd_reply_t r = jd_transition_do(st, user, issue, body);
        json_decref(body);
        return r;
    }
    if (strcmp(what, "comment") == 0)
        return jd_comment_add(st, user, issue, in);
    return jd_issue_edit(st, user, issue, in);
}

static jd_reply_t
s_control(s_ctx_t *c)
{
    jd_store_t *st = c->store;
    if (c->n_segs != 1)
        return s_ctl_error("no such control call (README.md)");
    const char *what = c->segs[0];
    if (s_is(c, "GET") && strcmp(what, "state") == 0)
        return (jd_reply_t){200, jd_store_dump(st)};
    if (!s_is(c, "POST"))
        return s_ctl_error("no such control call (README.md)");
    json_t *in = c->req->len ? json_loadb(c->req->body, c->req->len, 0, NULL) : json_object();
    jd_reply_t r;
    if (!json_is_object(in))
        r = s_ctl_error("the body must be a JSON object");
    else if (strcmp(what, "fields") == 0)
        r = jd_ctl_field(st, in);
    else if (strcmp(what, "projects") == 0)
        r = jd_ctl_project(st, in);
    else if (strcmp(what, "users") == 0)
        r = jd_ctl_user(st, in);
    else if (strcmp(what, "webhooks") == 0)
        r = jd_ctl_webhook(st, in);
    else if (strcmp(what, "config") == 0)
        r = jd_ctl_config(st, in);
    else if (strcmp(what, "faults") == 0)
        r = s_ctl_faults(st, in);
    else if (!strcmp(what, "transition") || !strcmp(what, "comment") || !strcmp(what, "edit"))
        r = s_ctl_action(st, what, in);
    else
        r = s_ctl_error("no such control call (README.md)");
    json_decref(in);
    return r;
}

/* ---- libmicrohttpd glue ---- */

/* Writes o's JSON as text and drops it. A reply's JSON may hold the store's own values (by
   reference), which other connections change under the store's lock: call this under it. */
static void
s_seal(s_out_t *o)
{
    if (o->text)
        return;
    o->is_json = o->r.json != NULL;
    o->text = o->r.json ? json_dumps(o->r.json, JSON_COMPACT) : strdup("");
    json_decref(o->r.json); /* its references to the store's values go under the lock too */
    o->r.json = NULL;
}

static enum MHD_Result
s_send(struct MHD_Connection *conn, s_out_t *o)
{
    s_seal(o); /* a reply made without the store (413, 414) */
    char *text = o->text;
    o->text = NULL;
    if (!text)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (o->is_json)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json;charset=UTF-8");
    for (int i = 0; i < o->n_headers; i++)
        MHD_add_response_header(resp, o->h_name[i], o->h_value[i]);
    enum MHD_Result ret = MHD_queue_response(conn, o->r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Splits url after prefix into the context's segments. */
static bool
s_split(char *url, const char *prefix, s_ctx_t *c)
{
    return double_http_split(url, prefix, c->segs, JD_SEGS_MAX, &c->n_segs);
}

/* Faults, then authentication, then the route. */
static void
s_serve_rest(s_ctx_t *c, char *path, s_out_t *o)
{
    jd_store_t *st = c->store;
    jd_faults_t *f = &st->faults, idle = {0};
    st->requests++;
    if ((*f->method && strcmp(f->method, c->method) != 0) ||
        strncmp(c->url, f->path, strlen(f->path)) != 0)
        f = &idle; /* the pending faults are not for this request */
    if (f->drop_next > 0) {
        f->drop_next--;
        o->drop = true;
        return;
    }
    if (f->slow_next > 0) {
        f->slow_next--;
        o->slow_ms = f->slow_ms;
    }
    if (f->status_next > 0) {
        f->status_next--;
        o->r = jd_error((unsigned)f->status, f->status == 429 ? E_RATE : E_UNAVAILABLE, NULL, NULL);
        char secs[32];
        snprintf(secs, sizeof secs, "%ld", f->retry_after);
        if (f->retry_after >= 0)
            s_header(o, "Retry-After", secs);
        return;
    }
    if (s_auth(c, o) != 0)
        return;
    if (s_split(path, "/rest/api/2", c))
        o->r = s_rest(c);
    else
        o->r = s_no_route(c);
    if (f->lose_next > 0) { /* done, but the client never hears of it */
        f->lose_next--;
        o->drop = true;
    }
}

static enum MHD_Result
s_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    jd_store_t *store = cls;
    int more = double_http_upload(con_cls, upload, upload_size, JD_BODY_MAX);
    if (more != 0)
        return more > 0 ? MHD_YES : MHD_NO;
    s_req_t *req = *con_cls;
    s_out_t o = {0};
    char path[JD_URL_MAX];
    if (strlen(url) >= sizeof path) {
        o.r = (jd_reply_t){414, NULL};
        return s_send(conn, &o);
    }
    if (req->too_big) {
        o.r = (jd_reply_t){413, NULL};
        return s_send(conn, &o);
    }
    strcpy(path, url);
    s_ctx_t c = {.store = store, .conn = conn, .method = method, .url = url, .req = req};
    c.query = json_object();
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_query_cb, c.query);
    pthread_mutex_lock(&store->lock);
    if (s_split(path, "/_control", &c))
        o.r = s_control(&c);
    else
        s_serve_rest(&c, path, &o);
    if (o.slow_ms > 0)
        double_pause(&store->lock, &store->wake, &store->stopping, o.slow_ms);
    if (o.drop) {
        json_decref(o.r.json);
        o.r.json = NULL;
    } else
        s_seal(&o);
    pthread_mutex_unlock(&store->lock);
    json_decref(c.query);
    if (o.drop)
        return MHD_NO; /* libmicrohttpd closes the connection without an answer */
    return s_send(conn, &o);
}

struct MHD_Daemon *
jd_api_start(jd_store_t *store, unsigned port, unsigned *ret_port)
{
    struct MHD_Daemon *d =
        double_http_start(port, s_handle, store, JD_CONN_MAX, JD_CONN_TIMEOUT_S, ret_port);
    if (d) {
        pthread_mutex_lock(&store->lock);
        snprintf(store->base, sizeof store->base, "http://127.0.0.1:%u", *ret_port);
        pthread_mutex_unlock(&store->lock);
    }
    return d;
}

void
jd_api_stop(jd_store_t *store, struct MHD_Daemon *daemon)
{
    if (!daemon)
        return;
    pthread_mutex_lock(&store->lock);
    store->stopping = true;
    pthread_cond_broadcast(&store->wake);
    pthread_mutex_unlock(&store->lock);
    MHD_stop_daemon(daemon);
}
