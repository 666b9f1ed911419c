/*  mp_double_store: the Marketplace double's state, its scope rules and its JSON views.
    Everything here runs with store->lock held (mp_double_api.c takes it per request). The
    facts it models are cited by section of the Marketplace reference (see README.md). */
#include "mp_double.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
mpd_vec_push(mpd_vec_t *self, void *p)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        void **v = realloc(self->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        self->v = v;
        self->cap = cap;
    }
    self->v[self->n++] = p;
    return 0;
}

static char *
s_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* A deep copy of an object, or a new empty object for NULL or a non-object. */
static json_t *
s_object_copy(const json_t *obj)
{
    return json_is_object(obj) ? json_deep_copy(obj) : json_object();
}

/* The keys the Marketplace's serializers always emit (reference 4.5, 4.7), with the value a
   test that leaves them out gets. */
static const char s_owner_keys[] =
    "{\"uid\":\"\",\"email\":\"\",\"name\":\"\",\"first_name\":\"\",\"last_name\":\"\"}";
static const char s_project_keys[] =
    "{\"name\":null,\"customer_typology\":null,\"organization\":null,\"department\":null,"
    "\"department_webpage\":null,\"scientific_domains\":[],\"country\":null,"
    "\"collaboration_countries\":[],\"user_group_name\":null}";
static const char s_item_keys[] =
    "{\"category\":null,\"service\":\"\",\"offer\":\"\",\"offer_properties\":[],"
    "\"platforms\":[],\"request_voucher\":false,\"order_type\":\"order_required\"}";

/* A new object with the keys of template_text in its order, each from given if there, then
   the other keys of given; NULL on no memory. */
static json_t *
s_with_keys(const json_t *given, const char *template_text)
{
    json_t *obj = json_loads(template_text, 0, NULL);
    if (!obj || !json_is_object(given))
        return obj;
    if (json_object_update(obj, (json_t *)given) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

static void
s_oms_free(mpd_oms_t *oms)
{
    if (!oms)
        return;
    free(oms->name);
    free(oms->type);
    free(oms->token);
    json_decref(oms->custom_params);
    free(oms->trig_url);
    free(oms->trig_user);
    free(oms->trig_password);
    free(oms);
}

static void
s_item_free(mpd_item_t *item)
{
    if (!item)
        return;
    free(item->status);
    free(item->status_type);
    json_decref(item->attributes);
    json_decref(item->oms_params);
    json_decref(item->user_secrets);
    free(item);
}

static void
s_project_free(mpd_project_t *project)
{
    if (!project)
        return;
    for (size_t i = 0; i < project->n_items; i++)
        s_item_free(project->items[i]);
    free(project->items);
    json_decref(project->owner);
    json_decref(project->attributes);
    free(project);
}

static void
s_message_free(mpd_message_t *msg)
{
    if (!msg)
        return;
    json_decref(msg->author);
    free(msg->role);
    free(msg->content);
    free(msg->scope);
    free(msg);
}

static void
s_event_free(mpd_event_t *event)
{
    if (!event)
        return;
    json_decref(event->changes);
    free(event);
}

mpd_store_t *
mpd_store_new(mpd_trigger_t *trigger)
{
    mpd_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    self->trigger = trigger;
    self->faults.fail_status = 500;
    self->seed = (unsigned)time(NULL);
    return self;
}

void
mpd_store_destroy(mpd_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mpd_store_t *self = *self_p;
    for (size_t i = 0; i < self->omses.n; i++)
        s_oms_free(self->omses.v[i]);
    for (size_t i = 0; i < self->projects.n; i++)
        s_project_free(self->projects.v[i]);
    for (size_t i = 0; i < self->messages.n; i++)
        s_message_free(self->messages.v[i]);
    for (size_t i = 0; i < self->events.n; i++)
        s_event_free(self->events.v[i]);
    for (size_t i = 0; i < self->held.n; i++)
        s_event_free(self->held.v[i]);
    for (size_t i = 0; i < self->users.n; i++)
        free(self->users.v[i]);
    free(self->users.v);
    free(self->omses.v);
    free(self->projects.v);
    free(self->messages.v);
    free(self->events.v);
    free(self->held.v);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int64_t
mpd_store_now(mpd_store_t *self)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = (int64_t)ts.tv_sec * MPD_USEC + ts.tv_nsec / 1000;
    if (us <= self->last_us)
        us = self->last_us + 1;
    self->last_us = us;
    return us;
}

/* ---- lookups and authorization (reference 3) ---- */

mpd_oms_t *
mpd_oms_find(mpd_store_t *self, long id)
{
    for (size_t i = 0; i < self->omses.n; i++) {
        mpd_oms_t *oms = self->omses.v[i];
        if (oms->id == id)
            return oms;
    }
    return NULL;
}

mpd_oms_t *
mpd_oms_default(mpd_store_t *self)
{
    for (size_t i = 0; i < self->omses.n; i++) {
        mpd_oms_t *oms = self->omses.v[i];
        if (oms->is_default)
            return oms;
    }
    return NULL;
}

mpd_project_t *
mpd_project_find(mpd_store_t *self, long id)
{
    if (id < 1 || (size_t)id > self->projects.n)
        return NULL;
    return self->projects.v[id - 1];
}

mpd_item_t *
mpd_item_find(mpd_project_t *project, long iid)
{
    if (!project || iid < 1 || (size_t)iid > project->n_items)
        return NULL;
    return project->items[iid - 1];
}

mpd_message_t *
mpd_message_find(mpd_store_t *self, long id)
{
    if (id < 1 || (size_t)id > self->messages.n)
        return NULL;
    return self->messages.v[id - 1];
}

bool
mpd_token_known(mpd_store_t *self, const char *token)
{
    if (!token || !*token)
        return false;
    for (size_t i = 0; i < self->omses.n; i++) {
        mpd_oms_t *oms = self->omses.v[i];
        if (strcmp(oms->token, token) == 0)
            return true;
    }
    for (size_t i = 0; i < self->users.n; i++)
        if (strcmp(self->users.v[i], token) == 0)
            return true;
    return false;
}

bool
mpd_token_admins(mpd_store_t *self, const char *token, long oms_id)
{
    mpd_oms_t *oms = mpd_oms_find(self, oms_id);
    return oms && token && strcmp(oms->token, token) == 0;
}

long
mpd_item_current_oms(mpd_store_t *self, const mpd_item_t *item)
{
    if (item->primary_oms_id)
        return item->primary_oms_id;
    mpd_oms_t *def = mpd_oms_default(self);
    return def ? def->id : 0;
}

/* ---- scopes (reference 3.4, 4.6, 6.4 point 4): primary_oms_id, evaluated now ---- */

bool
mpd_scope_item(const mpd_oms_t *oms, const mpd_item_t *item)
{
    return oms->is_default || item->primary_oms_id == oms->id;
}

bool
mpd_scope_project(mpd_store_t *self, const mpd_oms_t *oms, const mpd_project_t *project)
{
    (void)self;
    if (oms->is_default)
        return true;
    for (size_t i = 0; i < project->n_items; i++)
        if (project->items[i]->primary_oms_id == oms->id)
            return true;
    return false;
}

bool
mpd_scope_message(mpd_store_t *self, const mpd_oms_t *oms, const mpd_message_t *msg)
{
    mpd_project_t *project = mpd_project_find(self, msg->project_id);
    if (!project)
        return false;
    if (!msg->item_iid)
        return mpd_scope_project(self, oms, project);
    mpd_item_t *item = mpd_item_find(project, msg->item_iid);
    return item && mpd_scope_item(oms, item);
}

bool
mpd_scope_event(mpd_store_t *self, const mpd_oms_t *oms, const mpd_event_t *event)
{
    if (oms->is_default)
        return true;
    mpd_project_t *project = mpd_project_find(self, event->project_id);
    switch (event->resource) {
    case MPD_R_PROJECT:
        return project && mpd_scope_project(self, oms, project);
    case MPD_R_ITEM: {
        mpd_item_t *item = mpd_item_find(project, event->item_iid);
        return item && mpd_scope_item(oms, item);
    }
    case MPD_R_MESSAGE: {
        mpd_message_t *msg = mpd_message_find(self, event->message_id);
        return msg && mpd_scope_message(self, oms, msg);
    }
    }
    return false;
}

/* ---- events and triggers (reference 5.5, 6.1) ---- */

/* Fires the trigger of oms_id once, if not already in fired[0..*n). */
static void
s_fire_once(mpd_store_t *self, long oms_id, long *fired, size_t *n, size_t cap)
{
    if (!oms_id)
        return;
    for (size_t i = 0; i < *n; i++)
        if (fired[i] == oms_id)
            return;
    if (*n < cap)
        fired[(*n)++] = oms_id;
    mpd_oms_t *oms = mpd_oms_find(self, oms_id);
    if (oms && self->trigger)
        mpd_trigger_fire(self->trigger, oms);
}

/* Event#omses: the eventable's OMSes (an item's primary OMS; a project's items' primary OMSes;
   a message's messageable's) plus the default OMS, each called once per event. */
static void
s_fire_triggers(mpd_store_t *self, const mpd_event_t *event)
{
    mpd_project_t *project = mpd_project_find(self, event->project_id);
    size_t cap = (project ? project->n_items : 0) + 1;
    long *fired = calloc(cap, sizeof *fired);
    size_t n = 0;
    if (!fired)
        return;
    long item_iid = event->item_iid;
    if (project && (item_iid || event->resource == MPD_R_ITEM)) {
        mpd_item_t *item = mpd_item_find(project, item_iid);
        if (item)
            s_fire_once(self, item->primary_oms_id, fired, &n, cap);
    } else if (project) {
        for (size_t i = 0; i < project->n_items; i++)
            s_fire_once(self, project->items[i]->primary_oms_id, fired, &n, cap);
    }
    mpd_oms_t *def = mpd_oms_default(self);
    if (def)
        s_fire_once(self, def->id, fired, &n, cap);
    free(fired);
}

size_t
mpd_events_after(mpd_store_t *self, int64_t after_us)
{
    size_t lo = 0, hi = self->events.n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const mpd_event_t *e = self->events.v[mid];
        if (e->created_us <= after_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Makes the event visible at its created_at (after any of the same time) and fires triggers,
   as after_commit does. */
static int
s_commit(mpd_store_t *self, mpd_event_t *event)
{
    size_t at = mpd_events_after(self, event->created_us);
    if (mpd_vec_push(&self->events, event) != 0)
        return -ENOMEM;
    memmove(&self->events.v[at + 1], &self->events.v[at],
            (self->events.n - 1 - at) * sizeof(void *));
    self->events.v[at] = event;
    event->committed = true;
    s_fire_triggers(self, event);
    return 0;
}

/* Creates an event (takes changes). created_us 0: now. */
static int
s_event_add(mpd_store_t *self, mpd_action_t action, mpd_resource_t resource, long project_id,
            long item_iid, long message_id, json_t *changes, int64_t created_us)
{
    mpd_event_t *event = calloc(1, sizeof *event);
    if (!event) {
        json_decref(changes);
        return -ENOMEM;
    }
    event->seq = ++self->event_seq;
    event->created_us = created_us ? created_us : mpd_store_now(self);
    event->action = action;
    event->resource = resource;
    event->project_id = project_id;
    event->item_iid = item_iid;
    event->message_id = message_id;
    event->changes = changes;
    int rc;
    if (self->hold_next > 0) {
        self->hold_next--;
        rc = mpd_vec_push(&self->held, event);
    } else {
        rc = s_commit(self, event);
    }
    if (rc != 0)
        s_event_free(event);
    return rc;
}

void
mpd_store_release(mpd_store_t *self)
{
    self->hold_next = 0;
    for (size_t i = 0; i < self->held.n; i++)
        if (s_commit(self, self->held.v[i]) != 0)
            s_event_free(self->held.v[i]);
    self->held.n = 0;
}

static json_t *
s_change(const char *field, json_t *before, json_t *after)
{
    return json_pack("{s:s, s:o, s:o}", "field", field, "before", before, "after", after);
}

/* ---- changes ---- */

mpd_oms_t *
mpd_oms_add(mpd_store_t *self, const json_t *spec, const char **ret_error)
{
    const char *name = json_string_value(json_object_get(spec, "name"));
    const char *type = json_string_value(json_object_get(spec, "type"));
    const char *token = json_string_value(json_object_get(spec, "token"));
    json_int_t id = json_integer_value(json_object_get(spec, "id"));
    bool is_default = json_is_true(json_object_get(spec, "default"));
    const json_t *trigger = json_object_get(spec, "trigger");
    const char *url = json_string_value(json_object_get(trigger, "url"));
    const char *method = json_string_value(json_object_get(trigger, "method"));
    const char *user = json_string_value(json_object_get(trigger, "user"));
    const char *password = json_string_value(json_object_get(trigger, "password"));
    if (!type)
        type = "global";
    if (!name || !token || !*token) {
        *ret_error = "name and token are required";
        return NULL;
    }
    if (strcmp(type, "global") && strcmp(type, "provider_group") &&
        strcmp(type, "resource_dedicated")) {
        *ret_error = "type must be global, provider_group or resource_dedicated";
        return NULL;
    }
    if (trigger && !url) {
        *ret_error = "trigger.url is required";
        return NULL;
    }
    mpd_method_t m = MPD_POST; /* the model's default */
    if (method && strcmp(method, "get") == 0)
        m = MPD_GET;
    else if (method && strcmp(method, "put") == 0)
        m = MPD_PUT;
    else if (method && strcmp(method, "post") != 0) {
        *ret_error = "trigger.method must be get, post or put";
        return NULL;
    }
    if (!user != !password) {
        *ret_error = "trigger.user and trigger.password go together";
        return NULL;
    }
    for (size_t i = 0; i < self->omses.n; i++) {
        mpd_oms_t *o = self->omses.v[i];
        if (strcmp(o->name, name) == 0 || (id && o->id == id) || (is_default && o->is_default)) {
            *ret_error = "id, name and default must be unique";
            return NULL;
        }
    }
    if (!id) {
        for (size_t i = 0; i < self->omses.n; i++) {
            mpd_oms_t *o = self->omses.v[i];
            if (o->id > id)
                id = o->id;
        }
        id++;
    }
    mpd_oms_t *oms = calloc(1, sizeof *oms);
    if (!oms)
        goto nomem;
    oms->id = (long)id;
    oms->name = s_strdup(name);
    oms->type = s_strdup(type);
    oms->is_default = is_default;
    oms->token = s_strdup(token);
    const json_t *custom = json_object_get(spec, "custom_params");
    oms->custom_params = json_is_object(custom) ? json_deep_copy(custom) : NULL;
    oms->trig_url = s_strdup(url);
    oms->trig_method = m;
    oms->trig_user = s_strdup(user);
    oms->trig_password = s_strdup(password);
    if (!oms->name || !oms->type || !oms->token || (url && !oms->trig_url) ||
        (user && (!oms->trig_user || !oms->trig_password)) || mpd_vec_push(&self->omses, oms) != 0)
        goto nomem;
    return oms;
nomem:
    s_oms_free(oms);
    *ret_error = "out of memory";
    return NULL;
}

mpd_project_t *
mpd_project_add(mpd_store_t *self, const json_t *owner, const json_t *attributes)
{
    mpd_project_t *project = calloc(1, sizeof *project);
    if (!project)
        return NULL;
    project->id = (long)self->projects.n + 1;
    project->owner = s_with_keys(owner, s_owner_keys);
    project->attributes = s_with_keys(attributes, s_project_keys);
    if (!project->owner || !project->attributes || mpd_vec_push(&self->projects, project) != 0) {
        s_project_free(project);
        return NULL;
    }
    s_event_add(self, MPD_CREATE, MPD_R_PROJECT, project->id, 0, 0, NULL, 0);
    return project;
}

mpd_item_t *
mpd_item_add(mpd_store_t *self, mpd_project_t *project, const json_t *spec)
{
    const json_t *status = json_object_get(spec, "status");
    const char *value = json_string_value(json_object_get(status, "value"));
    const char *type = json_string_value(json_object_get(status, "type"));
    const json_t *oms_params = json_object_get(spec, "oms_params");
    mpd_item_t *item = calloc(1, sizeof *item);
    if (!item)
        return NULL;
    if (project->n_items == project->cap_items) {
        size_t cap = project->cap_items ? project->cap_items * 2 : 4;
        mpd_item_t **items = realloc(project->items, cap * sizeof *items);
        if (!items)
            goto fail;
        project->items = items;
        project->cap_items = cap;
    }
    item->iid = (long)project->n_items + 1; /* max(iid in project) + 1: no item is deleted */
    item->project_id = project->id;
    item->primary_oms_id = (long)json_integer_value(json_object_get(spec, "primary_oms_id"));
    item->status = s_strdup(value ? value : "created");
    item->status_type = s_strdup(type ? type : "created");
    item->attributes = s_with_keys(json_object_get(spec, "attributes"), s_item_keys);
    item->oms_params = json_is_object(oms_params) && json_object_size(oms_params)
                           ? json_deep_copy(oms_params)
                           : NULL;
    item->user_secrets = s_object_copy(json_object_get(spec, "user_secrets"));
    if (!item->status || !item->status_type || !item->attributes || !item->user_secrets ||
        (oms_params && json_object_size(oms_params) && !item->oms_params))
        goto fail;
    project->items[project->n_items++] = item;
    s_event_add(self, MPD_CREATE, MPD_R_ITEM, project->id, item->iid, 0, NULL, 0);
    return item;
fail:
    s_item_free(item);
    return NULL;
}

static bool
s_blank(const json_t *value)
{
    const char *s = json_string_value(value);
    return !s || !*s;
}

/* ProjectItem#create_voucher_id_message (reference 4.8): a provider, user_direct message. */
static int
s_voucher_message(mpd_store_t *self, mpd_item_t *item, const json_t *before, const json_t *after)
{
    const char *prefix = s_blank(after)    ? "Voucher has been revoked"
                         : s_blank(before) ? "Voucher has been granted to you, ID: "
                                           : "Voucher ID has been updated: ";
    const char *id = s_blank(after) ? "" : json_string_value(after);
    char *text = malloc(strlen(prefix) + strlen(id) + 1);
    if (!text)
        return -ENOMEM;
    strcpy(text, prefix);
    strcat(text, id);
    json_t *author = json_object();
    mpd_message_t *msg = author ? mpd_message_add(self, item->project_id, item->iid, author,
                                                  "provider", text, "user_direct")
                                : NULL;
    json_decref(author);
    free(text);
    return msg ? 0 : -ENOMEM;
}

int
mpd_item_update(mpd_store_t *self, mpd_item_t *item, const char *value, const char *type,
                const json_t *secrets, int64_t created_us)
{
    json_t *changes = json_array();
    json_t *old_secrets = json_deep_copy(item->user_secrets);
    int rc = -ENOMEM;
    if (!changes || !old_secrets)
        goto out;
    if (value && strcmp(value, item->status) != 0) {
        char *copy = strdup(value);
        if (!copy)
            goto out;
        json_array_append_new(changes,
                              s_change("status", json_string(item->status), json_string(value)));
        free(item->status);
        item->status = copy;
    }
    if (type && strcmp(type, item->status_type) != 0) {
        char *copy = strdup(type);
        if (!copy)
            goto out;
        json_array_append_new(
            changes, s_change("status_type", json_string(item->status_type), json_string(type)));
        free(item->status_type);
        item->status_type = copy;
    }
    if (secrets && json_object_update(item->user_secrets, (json_t *)secrets) != 0)
        goto out;
    if (!json_equal(old_secrets, item->user_secrets))
        json_array_append_new(changes, s_change("user_secrets", json_incref(old_secrets),
                                                json_deep_copy(item->user_secrets)));
    rc = 0;
    if (json_array_size(changes) > 0) {
        rc = s_event_add(self, MPD_UPDATE, MPD_R_ITEM, item->project_id, item->iid, 0,
                         json_incref(changes), created_us);
        const json_t *v0 = json_object_get(old_secrets, "voucher_id");
        const json_t *v1 = json_object_get(item->user_secrets, "voucher_id");
        if (rc == 0 && !json_equal((json_t *)v0, (json_t *)v1) && (v0 || v1))
            rc = s_voucher_message(self, item, v0, v1);
    }
out:
    json_decref(changes);
    json_decref(old_secrets);
    return rc;
}

mpd_message_t *
mpd_message_add(mpd_store_t *self, long project_id, long item_iid, const json_t *author,
                const char *role, const char *content, const char *scope)
{
    mpd_message_t *msg = calloc(1, sizeof *msg);
    if (!msg)
        return NULL;
    msg->id = (long)self->messages.n + 1;
    msg->project_id = project_id;
    msg->item_iid = item_iid;
    msg->author = s_object_copy(author);
    msg->role = s_strdup(role);
    msg->content = s_strdup(content);
    msg->scope = s_strdup(scope);
    msg->created_us = msg->updated_us = mpd_store_now(self);
    if (!msg->author || !msg->role || !msg->content || !msg->scope ||
        mpd_vec_push(&self->messages, msg) != 0) {
        s_message_free(msg);
        return NULL;
    }
    s_event_add(self, MPD_CREATE, MPD_R_MESSAGE, project_id, item_iid, msg->id, NULL, 0);
    return msg;
}

int
mpd_message_edit(mpd_store_t *self, mpd_message_t *msg, const char *content)
{
    msg->edited = true;
    msg->updated_us = mpd_store_now(self);
    if (strcmp(content, msg->content) == 0)
        return 0; /* no tracked attribute changed: no event */
    char *copy = strdup(content);
    json_t *changes =
        json_pack("[o]", s_change("message", json_string(msg->content), json_string(content)));
    if (!copy || !changes) {
        free(copy);
        json_decref(changes);
        return -ENOMEM;
    }
    free(msg->content);
    msg->content = copy;
    return s_event_add(self, MPD_UPDATE, MPD_R_MESSAGE, msg->project_id, msg->item_iid, msg->id,
                       changes, msg->updated_us);
}

/* ---- timestamps (reference 2.6) ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t
s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
mpd_format_ts(int64_t us, bool micro, char *buf, size_t len)
{
    time_t secs = (time_t)(us / MPD_USEC);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (micro)
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (long long)(us % MPD_USEC));
    else
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int
mpd_parse_ts(const char *text, int64_t *ret_us)
{
    /* ^20\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$, then a real calendar date */
    static const char shape[] = "20dd-dd-ddTdd:dd:dd";
    size_t len = strlen(text);
    if (len < sizeof shape)
        return -1;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != shape[i])
            return -1;
    }
    const char *p = text + sizeof shape - 1;
    int64_t frac = 0;
    if (*p == '.') {
        int n = 0;
        p++;
        while (p[n] >= '0' && p[n] <= '9')
            n++;
        if (n < 1 || n > 6)
            return -1;
        frac = s_digits(p, n);
        for (int i = n; i < 6; i++)
            frac *= 10;
        p += n;
    }
    if (strcmp(p, "Z") != 0)
        return -1;
    int year = s_digits(text, 4), mon = s_digits(text + 5, 2), day = s_digits(text + 8, 2);
    int hour = s_digits(text + 11, 2), min = s_digits(text + 14, 2), sec = s_digits(text + 17, 2);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        (mon == 2 && day == 29 && !leap) || hour > 23 || min > 59 || sec > 59)
        return -1;
    int64_t secs = s_days(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
    *ret_us = secs * MPD_USEC + frac;
    return 0;
}

/* ---- JSON views (reference 4.2, 4.5, 4.7, 4.11, 4.3) ---- */

static const char *const s_methods[] = {"get", "post", "put"};

json_t *
mpd_json_oms(const mpd_oms_t *oms)
{
    json_t *obj = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)oms->id, "name", oms->name,
                            "type", oms->type, "default", oms->is_default);
    if (obj && oms->custom_params && json_object_size(oms->custom_params))
        json_object_set(obj, "custom_params", oms->custom_params);
    if (obj && oms->trig_url) {
        /* the serializer emits {user, password} without the schema's type (4.2) */
        json_t *trig =
            json_pack("{s:s, s:s}", "url", oms->trig_url, "method", s_methods[oms->trig_method]);
        if (trig && oms->trig_user)
            json_object_set_new(
                trig, "authorization",
                json_pack("{s:s, s:s}", "user", oms->trig_user, "password", oms->trig_password));
        json_object_set_new(obj, "trigger", trig);
    }
    return obj;
}

json_t *
mpd_json_project(const mpd_project_t *project)
{
    json_t *iids = json_array();
    for (size_t i = 0; iids && i < project->n_items; i++)
        json_array_append_new(iids, json_integer(project->items[i]->iid));
    return json_pack("{s:I, s:O, s:o, s:O}", "id", (json_int_t)project->id, "owner", project->owner,
                     "project_items", iids, "attributes", project->attributes);
}

json_t *
mpd_json_item(const mpd_item_t *item, const json_t *clear)
{
    json_t *secrets = json_object();
    const char *key;
    json_t *value;
    json_object_foreach(item->user_secrets, key, value)
    {
        bool show = clear && json_object_get(clear, key);
        json_object_set_new(secrets, key,
                            show ? json_deep_copy(value) : json_string(MPD_OBFUSCATED));
    }
    json_t *obj =
        json_pack("{s:I, s:I, s:{s:s, s:s}, s:O}", "id", (json_int_t)item->iid, "project_id",
                  (json_int_t)item->project_id, "status", "value", item->status, "type",
                  item->status_type, "attributes", item->attributes);
    if (obj && item->oms_params)
        json_object_set(obj, "oms_params", item->oms_params);
    if (obj)
        json_object_set(obj, "user_secrets", secrets);
    json_decref(secrets);
    return obj;
}

json_t *
mpd_json_message(const mpd_message_t *msg, bool keep_content)
{
    char created[MPD_TS_LEN], updated[MPD_TS_LEN];
    mpd_format_ts(msg->created_us, false, created, sizeof created);
    mpd_format_ts(msg->updated_us, false, updated, sizeof updated);
    json_t *author = json_object();
    static const char *const keys[] = {"uid", "email", "name"};
    for (size_t i = 0; author && i < sizeof keys / sizeof *keys; i++) {
        const char *v = json_string_value(json_object_get(msg->author, keys[i]));
        if (v && *v) /* empty fields are dropped */
            json_object_set_new(author, keys[i], json_string(v));
    }
    if (author)
        json_object_set_new(author, "role", json_string(msg->role));
    bool hide = !keep_content && strcmp(msg->scope, "user_direct") == 0;
    return json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "id", (json_int_t)msg->id, "author", author,
                     "content", hide ? MPD_OBFUSCATED : msg->content, "scope", msg->scope,
                     "created_at", created, "updated_at", updated);
}

/* The API name of a changed field, and whether its values are obfuscated (event_serializer). */
static const char *
s_api_field(mpd_store_t *self, const mpd_event_t *event, const char *field, bool *ret_hide)
{
    *ret_hide = false;
    if (strcmp(field, "status") == 0)
        return "status.value";
    if (strcmp(field, "status_type") == 0)
        return "status.type";
    if (strcmp(field, "user_secrets") == 0) {
        *ret_hide = true;
        return "user_secrets";
    }
    if (strcmp(field, "message") == 0) {
        mpd_message_t *msg = mpd_message_find(self, event->message_id);
        *ret_hide = msg && strcmp(msg->scope, "user_direct") == 0;
        return "content";
    }
    return field;
}

json_t *
mpd_json_event(mpd_store_t *self, const mpd_event_t *event)
{
    static const char *const resources[] = {"project", "project_item", "message"};
    char ts[MPD_TS_LEN];
    mpd_format_ts(event->created_us, false, ts, sizeof ts);
    json_t *obj = json_pack("{s:s, s:s, s:s}", "timestamp", ts, "type",
                            event->action == MPD_CREATE ? "create" : "update", "resource",
                            resources[event->resource]);
    if (!obj)
        return NULL;
    if (event->action == MPD_UPDATE && event->changes) {
        json_t *changes = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(event->changes, i, c)
        {
            bool hide;
            const char *field =
                s_api_field(self, event, json_string_value(json_object_get(c, "field")), &hide);
            json_t *before = json_object_get(c, "before"), *after = json_object_get(c, "after");
            json_array_append_new(
                changes,
                hide ? s_change(field, json_string(MPD_OBFUSCATED), json_string(MPD_OBFUSCATED))
                     : s_change(field, json_incref(before), json_incref(after)));
        }
        json_object_set_new(obj, "changes", changes);
    }
    json_object_set_new(obj, "project_id", json_integer(event->project_id));
    if (event->item_iid)
        json_object_set_new(obj, "project_item_id", json_integer(event->item_iid));
    if (event->message_id)
        json_object_set_new(obj, "message_id", json_integer(event->message_id));
    return obj;
}

/* The control view of an event: its API form plus what the API hides. */
static json_t *
s_dump_event(mpd_store_t *self, const mpd_event_t *event)
{
    char ts[MPD_TS_LEN];
    mpd_format_ts(event->created_us, true, ts, sizeof ts);
    json_t *obj = mpd_json_event(self, event);
    if (obj) {
        json_object_set_new(obj, "created_at", json_string(ts));
        json_object_set_new(obj, "seq", json_integer(event->seq));
        json_object_set_new(obj, "committed", json_boolean(event->committed));
    }
    return obj;
}

json_t *
mpd_store_dump(mpd_store_t *self)
{
    json_t *omses = json_array(), *projects = json_array(), *messages = json_array();
    json_t *events = json_array();
    for (size_t i = 0; i < self->omses.n; i++) {
        mpd_oms_t *oms = self->omses.v[i];
        json_t *o = mpd_json_oms(oms);
        json_object_set_new(o, "token", json_string(oms->token));
        json_array_append_new(omses, o);
    }
    for (size_t i = 0; i < self->projects.n; i++) {
        mpd_project_t *project = self->projects.v[i];
        json_t *p = mpd_json_project(project);
        json_t *items = json_array();
        for (size_t k = 0; k < project->n_items; k++) {
            mpd_item_t *item = project->items[k];
            json_t *it = mpd_json_item(item, item->user_secrets); /* all in clear */
            json_object_set_new(it, "primary_oms_id",
                                item->primary_oms_id ? json_integer(item->primary_oms_id)
                                                     : json_null());
            json_array_append_new(items, it);
        }
        json_object_set_new(p, "items", items);
        json_array_append_new(projects, p);
    }
    for (size_t i = 0; i < self->messages.n; i++) {
        mpd_message_t *msg = self->messages.v[i];
        json_t *m = mpd_json_message(msg, true);
        json_object_set_new(m, "project_id", json_integer(msg->project_id));
        json_object_set_new(m, "project_item_id",
                            msg->item_iid ? json_integer(msg->item_iid) : json_null());
        json_object_set_new(m, "edited", json_boolean(msg->edited));
        json_array_append_new(messages, m);
    }
    for (size_t i = 0; i < self->events.n; i++)
        json_array_append_new(events, s_dump_event(self, self->events.v[i]));
    for (size_t i = 0; i < self->held.n; i++)
        json_array_append_new(events, s_dump_event(self, self->held.v[i]));
    char now[MPD_TS_LEN];
    mpd_format_ts(self->last_us, true, now, sizeof now);
    return json_pack("{s:o, s:o, s:o, s:o, s:I, s:I, s:s, s:o}", "omses", omses, "projects",
                     projects, "messages", messages, "events", events, "hold_next",
                     (json_int_t)self->hold_next, "requests", (json_int_t)self->requests, "clock",
                     now, "raw_events", json_integer((json_int_t)self->event_seq));
}
