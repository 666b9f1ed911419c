/*  mp_compat_client: see mp_compat_client.h. */
#include "mp_compat_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_EPOCH "2000-01-01T00:00:00Z" /* before any event: the adapter's seeded cursor */
#define S_TRIGGER_PATH "/mp/trigger"   /* the reference adapter's endpoint (9.2) */
#define S_MASK "<time>"
#define S_MS_PER_S 1000
#define S_NS_PER_MS 1000000L

struct mpc_client {
    char read_url[MPC_URL_MAX];      /* GETs */
    char read_token[MPC_TOKEN_MAX];  /* their token */
    char write_url[MPC_URL_MAX];     /* PATCH, POST */
    char write_token[MPC_TOKEN_MAX]; /* their token */
    long oms_id;                     /* the OMS */
    struct MHD_Daemon *daemon;       /* the trigger receiver */
    char trigger_url[MPC_URL_MAX];   /* its URL */
    pthread_mutex_t lock;            /* guards triggers */
    pthread_cond_t cond;             /* broadcast on a trigger */
    long triggers;                   /* received */
};

/* ---- HTTP ---- */

typedef struct s_buf {
    char *text; /* NUL-terminated, owned */
    size_t len; /* bytes */
} s_buf_t;

static size_t
s_write(char *data, size_t size, size_t nmemb, void *arg)
{
    s_buf_t *b = arg;
    size_t n = size * nmemb;
    char *grown = realloc(b->text, b->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->len, data, n);
    b->len += n;
    grown[b->len] = '\0';
    b->text = grown;
    return n;
}

/* One request: method base path, the token, body (NULL: none). */
static long
s_http(const char *base, const char *token, const char *method, const char *path,
       const json_t *body, json_t **ret)
{
    char url[2 * MPC_URL_MAX], auth[MPC_TOKEN_MAX + 32];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(auth, sizeof auth, "X-User-Token: %s", token);
    CURL *easy = curl_easy_init();
    if (!easy)
        return -1;
    /* 8.1: the token, JSON in and out */
    struct curl_slist *headers = curl_slist_append(NULL, auth);
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    s_buf_t b = {0};
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)MPC_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
    if (text)
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, text);
    long status = -1;
    if (curl_easy_perform(easy) == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (ret)
        *ret = b.text ? json_loads(b.text, JSON_DECODE_ANY, NULL) : NULL;
    free(b.text);
    free(text);
    curl_slist_free_all(headers);
    curl_easy_cleanup(easy);
    return status;
}

static long
s_get(mpc_client_t *self, const char *path, json_t **ret)
{
    return s_http(self->read_url, self->read_token, "GET", path, NULL, ret);
}

static long
s_send(mpc_client_t *self, const char *method, const char *path, const json_t *body, json_t **ret)
{
    return s_http(self->write_url, self->write_token, method, path, body, ret);
}

/* ---- the endpoints (8.2) ---- */

long
mpc_list_events(mpc_client_t *self, const char *from_timestamp, int limit, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/events?from_timestamp=%s&limit=%d", self->oms_id,
             from_timestamp, limit);
    return s_get(self, path, ret);
}

long
mpc_list_messages(mpc_client_t *self, long project_id, long project_item_id, long from_id,
                  int limit, json_t **ret)
{
    char path[MPC_URL_MAX], item[MPC_QUERY_MAX] = "";
    if (project_item_id)
        snprintf(item, sizeof item, "&project_item_id=%ld", project_item_id);
    snprintf(path, sizeof path, "/api/v1/oms/%ld/messages?project_id=%ld%s&from_id=%ld&limit=%d",
             self->oms_id, project_id, item, from_id, limit);
    return s_get(self, path, ret);
}

long
mpc_get_message(mpc_client_t *self, long message_id, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/messages/%ld", self->oms_id, message_id);
    return s_get(self, path, ret);
}

long
mpc_create_message(mpc_client_t *self, const json_t *message, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/messages", self->oms_id);
    return s_send(self, "POST", path, message, ret);
}

long
mpc_update_message(mpc_client_t *self, long message_id, const char *content, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/messages/%ld", self->oms_id, message_id);
    json_t *body = json_pack("{s:s}", "content", content);
    long status = s_send(self, "PATCH", path, body, ret);
    json_decref(body);
    return status;
}

long
mpc_list_project_items(mpc_client_t *self, long project_id, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/projects/%ld/project_items", self->oms_id,
             project_id);
    return s_get(self, path, ret);
}

long
mpc_get_project_item(mpc_client_t *self, long project_id, long project_item_id, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/projects/%ld/project_items/%ld", self->oms_id,
             project_id, project_item_id);
    return s_get(self, path, ret);
}

long
mpc_update_project_item(mpc_client_t *self, long project_id, long project_item_id,
                        const char *status, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/projects/%ld/project_items/%ld", self->oms_id,
             project_id, project_item_id);
    json_t *body = json_pack("{s:{s:s, s:s}, s:{}}", "status", "value", status, "type", status,
                             "user_secrets");
    long code = s_send(self, "PATCH", path, body, ret);
    json_decref(body);
    return code;
}

long
mpc_list_projects(mpc_client_t *self, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/projects", self->oms_id);
    return s_get(self, path, ret);
}

long
mpc_get_project(mpc_client_t *self, long project_id, json_t **ret)
{
    char path[MPC_URL_MAX];
    snprintf(path, sizeof path, "/api/v1/oms/%ld/projects/%ld", self->oms_id, project_id);
    return s_get(self, path, ret);
}

/* ---- the models (8.3) ---- */

/* A required field of a model: its key, JSON type, and enum (NULL-terminated) or NULL. */
typedef struct s_field {
    const char *key;           /* the field */
    json_type type;            /* its JSON type */
    const char *const *values; /* its enum, NULL-terminated, or NULL for any value */
} s_field_t;

static const char *const s_types[] = {"create", "update", "delete", NULL};
static const char *const s_resources[] = {"project", "project_item", "message", NULL};
static const char *const s_statuses[] = {"created",    "rejected",    "waiting_for_response",
                                         "registered", "in_progress", "ready",
                                         "closed",     "approved",    NULL};
static const char *const s_scopes[] = {"public", "internal", "user_direct", NULL};

static const s_field_t s_event[] = {{"type", JSON_STRING, s_types},
                                    {"resource", JSON_STRING, s_resources},
                                    {"timestamp", JSON_STRING, NULL},
                                    {NULL, JSON_NULL, NULL}};
static const s_field_t s_project[] = {{"id", JSON_INTEGER, NULL},
                                      {"owner", JSON_OBJECT, NULL},
                                      {"project_items", JSON_ARRAY, NULL},
                                      {"attributes", JSON_OBJECT, NULL},
                                      {NULL, JSON_NULL, NULL}};
static const s_field_t s_item[] = {
    {"id", JSON_INTEGER, NULL},          {"project_id", JSON_INTEGER, NULL},
    {"status", JSON_OBJECT, NULL},       {"attributes", JSON_OBJECT, NULL},
    {"user_secrets", JSON_OBJECT, NULL}, {NULL, JSON_NULL, NULL}};
static const s_field_t s_message[] = {{"id", JSON_INTEGER, NULL},
                                      {"author", JSON_OBJECT, NULL},
                                      {"content", JSON_STRING, NULL},
                                      {"scope", JSON_STRING, s_scopes},
                                      {"created_at", JSON_STRING, NULL},
                                      {"updated_at", JSON_STRING, NULL},
                                      {NULL, JSON_NULL, NULL}};

static const char *
s_check_fields(const s_field_t *fields, const json_t *value)
{
    if (!json_is_object(value))
        return "not an object";
    for (const s_field_t *f = fields; f->key; f++) {
        const json_t *v = json_object_get(value, f->key);
        if (!v || json_typeof(v) != f->type)
            return f->key;
        int found = !f->values;
        for (const char *const *e = f->values; e && *e && !found; e++)
            found = !strcmp(*e, json_string_value(v));
        if (!found)
            return f->key;
    }
    return NULL;
}

const char *
mpc_check(const char *model, const json_t *value)
{
    if (!strcmp(model, "event"))
        return s_check_fields(s_event, value);
    if (!strcmp(model, "project"))
        return s_check_fields(s_project, value);
    if (!strcmp(model, "message"))
        return s_check_fields(s_message, value);
    const char *why = s_check_fields(s_item, value);
    if (why)
        return why;
    const json_t *status = json_object_get(value, "status");
    const json_t *type = json_object_get(status, "type");
    if (!json_is_string(json_object_get(status, "value")) || !json_is_string(type))
        return "status";
    for (const char *const *e = s_statuses; *e; e++)
        if (!strcmp(*e, json_string_value(type)))
            return NULL;
    return "status.type";
}

/* ---- the trigger receiver (9.2) ---- */

static enum MHD_Result
s_receive(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    mpc_client_t *self = cls;
    (void)version;
    (void)upload;
    static int first;
    if (!*con_cls) {
        *con_cls = &first;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    unsigned status = MHD_HTTP_NO_CONTENT;
    if (strcmp(url, S_TRIGGER_PATH))
        status = MHD_HTTP_NOT_FOUND;
    else if (strcmp(method, "POST"))
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
    else {
        pthread_mutex_lock(&self->lock);
        self->triggers++;
        pthread_cond_broadcast(&self->cond);
        pthread_mutex_unlock(&self->lock);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

const char *
mpc_trigger_url(const mpc_client_t *self)
{
    return self->trigger_url;
}

long
mpc_triggers(mpc_client_t *self)
{
    pthread_mutex_lock(&self->lock);
    long n = self->triggers;
    pthread_mutex_unlock(&self->lock);
    return n;
}

/* Waits up to MPC_TIMEOUT_MS for a trigger after the first seen ones. Returns 0 or -1. */
static int
s_take_trigger(mpc_client_t *self, long *seen)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += MPC_TIMEOUT_MS / S_MS_PER_S;
    pthread_mutex_lock(&self->lock);
    while (self->triggers <= *seen && pthread_cond_timedwait(&self->cond, &self->lock, &until) == 0)
        ;
    int ok = self->triggers > *seen;
    *seen = self->triggers;
    pthread_mutex_unlock(&self->lock);
    return ok ? 0 : -1;
}

void
mpc_configure(mpc_client_t *self, const mpc_config_t *cfg)
{
    snprintf(self->read_url, sizeof self->read_url, "%s", cfg->read_url);
    snprintf(self->read_token, sizeof self->read_token, "%s", cfg->read_token);
    snprintf(self->write_url, sizeof self->write_url, "%s", cfg->write_url);
    snprintf(self->write_token, sizeof self->write_token, "%s", cfg->write_token);
    self->oms_id = cfg->oms_id;
}

mpc_client_t *
mpc_new(const mpc_config_t *cfg)
{
    mpc_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    mpc_configure(self, cfg);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    self->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, s_receive,
                         self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_END);
    if (!self->daemon) {
        mpc_destroy(&self);
        return NULL;
    }
    snprintf(self->trigger_url, sizeof self->trigger_url, "http://127.0.0.1:%u" S_TRIGGER_PATH,
             (unsigned)MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT)->port);
    return self;
}

void
mpc_destroy(mpc_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mpc_client_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* ---- the scenario ---- */

typedef struct s_run {
    mpc_client_t *c;         /* the client */
    json_t *resources;       /* key -> resource */
    char cursor[MPC_TS_MAX]; /* the last event's timestamp */
    char *errbuf;            /* where a failure is said */
    size_t errlen;           /* its bytes */
} s_run_t;

static int
s_fail(s_run_t *run, const char *what, long status)
{
    snprintf(run->errbuf, run->errlen, "%s: HTTP %ld", what, status);
    return -1;
}

/* Fetches and records the resource of event (9.3 point 5). Returns 0 or -1. */
static int
s_fetch(s_run_t *run, const json_t *event)
{
    const char *resource = json_string_value(json_object_get(event, "resource"));
    long p = (long)json_integer_value(json_object_get(event, "project_id"));
    long i = (long)json_integer_value(json_object_get(event, "project_item_id"));
    long m = (long)json_integer_value(json_object_get(event, "message_id"));
    char key[MPC_URL_MAX];
    json_t *got = NULL;
    long status;
    const char *model = resource;
    if (!strcmp(resource, "project")) {
        snprintf(key, sizeof key, "project/%ld", p);
        status = mpc_get_project(run->c, p, &got);
    } else if (!strcmp(resource, "project_item")) {
        snprintf(key, sizeof key, "project_item/%ld/%ld", p, i);
        status = mpc_get_project_item(run->c, p, i, &got);
    } else {
        snprintf(key, sizeof key, "message/%ld", m);
        status = mpc_get_message(run->c, m, &got);
    }
    const char *why = status == 200 ? mpc_check(model, got) : "HTTP status";
    if (why) {
        snprintf(run->errbuf, run->errlen, "%s: %s (HTTP %ld)", key, why, status);
        json_decref(got);
        return -1;
    }
    json_object_set_new(run->resources, key, got);
    return 0;
}

/* Reads one page of events from the cursor (9.3 point 3), fetches each resource. Sets
   *ret_found if an event matched want (resource, type, message_id; NULL resource: none).
   Returns 0 or -1. */
static int
s_read_events(s_run_t *run, const char *want_resource, const char *want_type, long want_message,
              int *ret_found)
{
    json_t *page = NULL;
    long status = mpc_list_events(run->c, run->cursor, MPC_EVENTS_LIMIT, &page);
    json_t *events = json_object_get(page, "events");
    if (status != 200 || !json_is_array(events)) {
        json_decref(page);
        return s_fail(run, "events", status);
    }
    size_t k;
    json_t *event;
    int rc = 0;
    json_array_foreach(events, k, event)
    {
        const char *why = mpc_check("event", event);
        if (why) {
            snprintf(run->errbuf, run->errlen, "event: %s", why);
            rc = -1;
            break;
        }
        if ((rc = s_fetch(run, event)))
            break;
        const char *ts = json_string_value(json_object_get(event, "timestamp"));
        if (strcmp(ts, run->cursor) > 0) /* same format, so the order of the text is time's */
            snprintf(run->cursor, sizeof run->cursor, "%s", ts);
        if (want_resource &&
            !strcmp(json_string_value(json_object_get(event, "resource")), want_resource) &&
            !strcmp(json_string_value(json_object_get(event, "type")), want_type) &&
            json_integer_value(json_object_get(event, "message_id")) == want_message)
            *ret_found = 1;
    }
    json_decref(page);
    return rc;
}

/* Records a write's answer into writes. */
static void
s_write_answer(json_t *writes, long status, json_t *body)
{
    json_array_append_new(writes, json_pack("{s:I, s:o}", "status", (json_int_t)status, "body",
                                            body ? body : json_null()));
}

/* Lists the projects, items and messages into lists. Returns 0 or -1. */
static int
s_lists(s_run_t *run, long project_id, json_t *lists)
{
    json_t *got = NULL;
    long status = mpc_list_projects(run->c, &got);
    if (status != 200)
        return s_fail(run, "projects", status);
    json_object_set_new(lists, "projects", got);
    status = mpc_list_project_items(run->c, project_id, &got);
    json_t *items = json_object_get(got, "project_items");
    if (status != 200 || !json_is_array(items)) {
        json_decref(got);
        return s_fail(run, "project_items", status);
    }
    json_object_set_new(lists, "project_items", got);
    for (size_t i = 0; i <= json_array_size(items); i++) {
        long iid =
            i ? (long)json_integer_value(json_object_get(json_array_get(items, i - 1), "id")) : 0;
        status = mpc_list_messages(run->c, project_id, iid, 0, MPC_EVENTS_LIMIT, &got);
        if (status != 200)
            return s_fail(run, "messages", status);
        char key[MPC_URL_MAX];
        snprintf(key, sizeof key, "messages/%ld/%ld", project_id, iid);
        json_object_set_new(lists, key, got);
    }
    return 0;
}

json_t *
mpc_scenario(mpc_client_t *self, long project_id, char *errbuf, size_t errlen)
{
    s_run_t run = {.c = self, .resources = json_object(), .errbuf = errbuf, .errlen = errlen};
    snprintf(run.cursor, sizeof run.cursor, "%s", S_EPOCH);
    json_t *writes = json_array(), *lists = json_object();
    long seen = 0, status;
    int found = 0;
    /* 1: a trigger, the events, their resources */
    if (s_take_trigger(self, &seen)) {
        snprintf(errbuf, errlen, "no first trigger");
        goto fail;
    }
    if (s_read_events(&run, NULL, NULL, 0, &found))
        goto fail;
    /* 2: the writes */
    json_t *body = NULL;
    status = mpc_update_project_item(self, project_id, 1, "in_progress", &body);
    s_write_answer(writes, status, body);
    if (status != 200) {
        s_fail(&run, "update_project_item", status);
        goto fail;
    }
    json_t *message = json_pack(
        "{s:I, s:i, s:{s:s, s:s, s:s}, s:s, s:s}", "project_id", (json_int_t)project_id,
        "project_item_id", 1, "author", "email", "provider@example.org", "name", "Provider", "role",
        "provider", "content", "Hello from the compatibility client", "scope", "public");
    status = mpc_create_message(self, message, &body);
    json_decref(message);
    long message_id = (long)json_integer_value(json_object_get(body, "id"));
    s_write_answer(writes, status, body);
    if (status != 201 || !message_id) {
        s_fail(&run, "create_message", status);
        goto fail;
    }
    status = mpc_update_message(self, message_id, "Hello again", &body);
    s_write_answer(writes, status, body);
    if (status != 200) {
        s_fail(&run, "update_message", status);
        goto fail;
    }
    /* 3: triggers until the events show the edit */
    while (!found) {
        if (s_take_trigger(self, &seen)) {
            snprintf(errbuf, errlen, "no trigger after the writes (cursor %s)", run.cursor);
            goto fail;
        }
        if (s_read_events(&run, "message", "update", message_id, &found))
            goto fail;
    }
    /* 4: the lists */
    if (s_lists(&run, project_id, lists))
        goto fail;
    return json_pack("{s:o, s:o, s:o}", "resources", run.resources, "writes", writes, "lists",
                     lists);
fail:
    json_decref(run.resources);
    json_decref(writes);
    json_decref(lists);
    return NULL;
}

json_t *
mpc_mask_times(const json_t *value)
{
    json_t *copy = json_deep_copy(value);
    json_t *stack[2 * MPC_EVENTS_LIMIT] = {copy};
    size_t n = copy ? 1 : 0;
    while (n) {
        json_t *v = stack[--n];
        if (json_is_object(v)) {
            const char *key;
            json_t *sub;
            json_object_foreach(v, key, sub)
            {
                if (!strcmp(key, "timestamp") || !strcmp(key, "created_at") ||
                    !strcmp(key, "updated_at"))
                    json_object_set_new(v, key, json_string(S_MASK));
                else if ((json_is_object(sub) || json_is_array(sub)) &&
                         n < sizeof stack / sizeof stack[0])
                    stack[n++] = sub;
            }
        } else if (json_is_array(v)) {
            size_t i;
            json_t *sub;
            json_array_foreach(v, i, sub)
            {
                if ((json_is_object(sub) || json_is_array(sub)) &&
                    n < sizeof stack / sizeof stack[0])
                    stack[n++] = sub;
            }
        }
    }
    return copy;
}
