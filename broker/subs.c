/*  ob_subs: see subs.h; the parts and the model are in subs_int.h. This file: the registry.

    Creation and loading (the records themselves are read by subs_persist.c), the topics a
    commit makes known and the positions they wake (ob_subs_on_commit), subscriptions and
    their consumers, and the requests that make, attach, detach, reposition and delete them.
    Positions are subs_position.c's, flights and deliveries subs_delivery.c's. */
#include "subs_int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "orderbus/error.h"
#include "orderbus/pattern.h"

#define S_EPH_HEX 16 /* hex digits in an ephemeral name */

/* ---- helpers for zhashx with pointer or flight keys ---- */

static size_t
s_ptr_hash(const void *key)
{
    uintptr_t v = (uintptr_t)key;
    return (size_t)(v ^ (v >> 17));
}

static int
s_ptr_cmp(const void *a, const void *b)
{
    return a == b ? 0 : (a < b ? -1 : 1);
}

static size_t
s_flight_hash(const void *key)
{
    const ob_subs_flight_t *f = key;
    return s_ptr_hash(f->pos) * 31 + (size_t)(f->seq * 0x9E3779B97F4A7C15ull >> 7);
}

static int
s_flight_cmp(const void *a, const void *b)
{
    const ob_subs_flight_t *x = a, *y = b;
    return !(x->pos == y->pos && x->seq == y->seq);
}

/* ---- topics ---- */

static ob_subs_topic_t *
s_topic_add(ob_subs_t *self, const char *name, uint32_t id, uint64_t last_seq)
{
    size_t len = strlen(name);
    ob_subs_topic_t *topic = calloc(1, sizeof *topic + len + 1);
    if (!topic)
        return NULL;
    memcpy(topic->name, name, len + 1);
    topic->name_len = len;
    topic->id = id;
    topic->last_seq = last_seq;
    topic->watchers = zlistx_new();
    if (!topic->watchers || zhashx_insert(self->topics, topic->name, topic)) {
        zlistx_destroy(&topic->watchers);
        free(topic);
        return NULL;
    }
    return topic;
}

static void
s_topic_free(void **item_p)
{
    ob_subs_topic_t *topic = *item_p;
    if (topic) {
        zlistx_destroy(&topic->watchers);
        free(topic);
    }
    *item_p = NULL;
}

/* Returns 1 if sub follows topic: a pattern matches and it is not sub's own dead-letter
   topic. */
int
ob_subs_sub_matches(const ob_subs_sub_t *sub, const char *topic)
{
    size_t len = strlen(topic);
    if (!strncmp(topic, OB_SUBS_DLQ_PREFIX, strlen(OB_SUBS_DLQ_PREFIX)) &&
        !strcmp(topic + strlen(OB_SUBS_DLQ_PREFIX), sub->name))
        return 0;
    for (size_t i = 0; i < sub->pattern_count; i++)
        if (ob_pattern_match(sub->patterns[i], strlen(sub->patterns[i]), topic, len))
            return 1;
    return 0;
}

/* ---- subscriptions ---- */

void
ob_subs_sub_free(ob_subs_sub_t *sub)
{
    if (!sub)
        return;
    if (sub->flights)
        ob_subs_flights_free(sub);
    zhashx_destroy(&sub->flights);
    zlistx_destroy(&sub->readable);
    zlistx_destroy(&sub->dirty_pos);
    if (sub->positions) {
        for (ob_subs_pos_t *pos = zhashx_first(sub->positions); pos;
             pos = zhashx_next(sub->positions)) {
            zlistx_delete(pos->topic->watchers, pos->watch);
            ob_subs_pos_free(pos);
        }
        zhashx_destroy(&sub->positions);
    }
    for (size_t i = 0; i < sub->pattern_count; i++)
        free(sub->patterns[i]);
    for (size_t i = 0; i < sub->type_count; i++)
        free(sub->types[i]);
    free(sub->consumers);
    free(sub);
}

/* Creates a subscription from a decoded SUBSCRIBE (no positions yet). NULL: no memory. */
ob_subs_sub_t *
ob_subs_sub_new(const ob_wire_msg_t *msg, const char *name)
{
    ob_subs_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return NULL;
    snprintf(sub->name, sizeof sub->name, "%s", name);
    sub->credit = msg->credit ? msg->credit : OB_CREDIT_DEFAULT;
    sub->ack_wait_ms = msg->ack_wait_ms ? msg->ack_wait_ms : OB_ACK_WAIT_MS_DEFAULT;
    sub->max_attempts = msg->max_attempts;
    sub->backoff_ms = msg->backoff_ms;
    sub->positions = zhashx_new();
    sub->flights = zhashx_new();
    sub->readable = zlistx_new();
    sub->dirty_pos = zlistx_new();
    int ok = sub->positions && sub->flights && sub->readable && sub->dirty_pos;
    if (ok) {
        zhashx_set_key_hasher(sub->flights, s_flight_hash);
        zhashx_set_key_comparator(sub->flights, s_flight_cmp);
        zhashx_set_key_duplicator(sub->flights, NULL);
        zhashx_set_key_destructor(sub->flights, NULL);
    }
    /* patterns and types as sets: duplicates dropped */
    for (size_t i = 0; ok && i < msg->pattern_count; i++) {
        int seen = 0;
        for (size_t j = 0; j < sub->pattern_count; j++)
            seen |= !strcmp(sub->patterns[j], msg->patterns[i]);
        if (!seen && !(sub->patterns[sub->pattern_count++] = strdup(msg->patterns[i])))
            ok = 0;
    }
    for (size_t i = 0; ok && i < msg->type_count; i++) {
        int seen = 0;
        for (size_t j = 0; j < sub->type_count; j++)
            seen |= !strcmp(sub->types[j], msg->types[i]);
        if (!seen && !(sub->types[sub->type_count++] = strdup(msg->types[i])))
            ok = 0;
    }
    if (!ok) {
        ob_subs_sub_free(sub);
        return NULL;
    }
    return sub;
}

/* Returns 1 if the list a (na entries) holds the same strings as the nb strings at base,
   `stride` bytes apart (a wire.h array of patterns or types), compared as sets. */
static int
s_same_set(char *const *a, size_t na, const char *base, size_t nb, size_t stride)
{
    for (size_t i = 0; i < nb; i++) {
        int found = 0;
        for (size_t j = 0; j < na && !found; j++)
            found = !strcmp(a[j], base + i * stride);
        if (!found)
            return 0;
    }
    for (size_t j = 0; j < na; j++) {
        int found = 0;
        for (size_t i = 0; i < nb && !found; i++)
            found = !strcmp(a[j], base + i * stride);
        if (!found)
            return 0;
    }
    return 1;
}

/* ---- consumers ---- */

/* The consumer id, created if create. NULL: not attached to anything (or out of memory). */
ob_subs_consumer_t *
ob_subs_consumer(ob_subs_t *self, void *id, int create)
{
    ob_subs_consumer_t *c = zhashx_lookup(self->consumers, id);
    if (c || !create)
        return c;
    c = calloc(1, sizeof *c);
    if (!c || !(c->names = zlistx_new())) {
        free(c);
        return NULL;
    }
    c->id = id;
    zlistx_set_destructor(c->names, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_duplicator(c->names, (zlistx_duplicator_fn *)strdup);
    zlistx_set_comparator(c->names, (zlistx_comparator_fn *)strcmp);
    if (zhashx_insert(self->consumers, id, c)) {
        zlistx_destroy(&c->names);
        free(c);
        return NULL;
    }
    return c;
}

/* The names of the subscriptions consumer id is attached to, or NULL. */
static zlistx_t *
s_consumer_subs(ob_subs_t *self, void *id)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, id, 0);
    return c ? c->names : NULL;
}

static void
s_consumer_free(void **item_p)
{
    ob_subs_consumer_t *c = *item_p;
    if (c) {
        zlistx_destroy(&c->names);
        free(c);
    }
    *item_p = NULL;
}

/* Removes sub entirely: consumers told (if tell), records deleted at the next commit. */
static void
s_sub_remove(ob_subs_t *self, ob_subs_sub_t *sub, int tell)
{
    for (size_t i = 0; i < sub->consumer_count; i++) {
        zlistx_t *names = sub->consumers[i]->names;
        void *node = zlistx_find(names, sub->name);
        if (node)
            zlistx_delete(names, node);
        if (tell && self->gone)
            self->gone(self->arg, sub->consumers[i]->id, sub->name);
    }
    if (sub->active)
        zlistx_delete(self->active, sub->active);
    if (sub->dirty_node)
        zlistx_delete(self->dirty, sub->dirty_node);
    if (!sub->ephemeral)
        zlistx_add_end(self->deleted, sub->name); /* duplicated by the list */
    zhashx_delete(self->subs, sub->name);         /* frees it (destructor) */
}

static void
s_sub_destructor(void **item_p)
{
    ob_subs_sub_free(*item_p);
    *item_p = NULL;
}

/* ---- creation, loading ---- */

static int
s_on_topic(void *arg, const char *name, uint32_t topic_id, const ob_topic_stat_t *stat)
{
    ob_subs_t *self = arg;
    return s_topic_add(self, name, topic_id, stat->last_seq) ? 0 : -ENOMEM;
}

int
ob_subs_new(ob_store_t *store, ob_subs_deliver_fn *deliver, ob_subs_gone_fn *gone, void *arg,
            ob_subs_t **ret_subs)
{
    ob_subs_t *self = calloc(1, sizeof *self);
    if (!self)
        return -ENOMEM;
    self->store = store;
    self->deliver = deliver;
    self->gone = gone;
    self->arg = arg;
    self->subs = zhashx_new();
    self->topics = zhashx_new();
    self->consumers = zhashx_new();
    self->per_consumer = OB_SUBS_PER_CLIENT_DEFAULT;
    self->max_unread = OB_UNREAD_BYTES_DEFAULT;
    self->active = zlistx_new();
    self->dirty = zlistx_new();
    self->deleted = zlistx_new();
    self->letters = zlistx_new();
    if (!self->subs || !self->topics || !self->consumers || !self->active || !self->dirty ||
        !self->deleted || !self->letters) {
        ob_subs_destroy(&self);
        return -ENOMEM;
    }
    zhashx_set_destructor(self->subs, s_sub_destructor);
    zhashx_set_destructor(self->topics, s_topic_free);
    zhashx_set_key_hasher(self->consumers, s_ptr_hash);
    zhashx_set_key_comparator(self->consumers, s_ptr_cmp);
    zhashx_set_key_duplicator(self->consumers, NULL);
    zhashx_set_key_destructor(self->consumers, NULL);
    zhashx_set_destructor(self->consumers, s_consumer_free);
    zlistx_set_duplicator(self->deleted, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor(self->deleted, (zlistx_destructor_fn *)zstr_free);

    int rc = ob_store_topics(store, NULL, s_on_topic, self);
    if (rc == 0)
        rc = ob_store_load_subs(store, ob_subs_on_sub, ob_subs_on_pos, self);
    if (rc) {
        ob_subs_destroy(&self);
        return rc;
    }
    /* A matching topic without a stored position was created after its subscription (a
       subscription's first positions are committed with its record): it starts at 0. */
    for (ob_subs_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs)) {
        for (ob_subs_topic_t *topic = zhashx_first(self->topics); topic;
             topic = zhashx_next(self->topics)) {
            if (!ob_subs_sub_matches(sub, topic->name) ||
                zhashx_lookup(sub->positions, topic->name))
                continue;
            ob_subs_pos_t *pos = ob_subs_pos_new(self, sub, topic, 0);
            if (!pos) {
                ob_subs_destroy(&self);
                return -ENOMEM;
            }
            ob_subs_pos_dirty(self, pos);
        }
        self->stats.subscriptions++;
    }
    *ret_subs = self;
    return 0;
}

void
ob_subs_destroy(ob_subs_t **self_p)
{
    ob_subs_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->active);
    zlistx_destroy(&self->dirty);
    free(self->run.buf);
    while (self->spare) {
        ob_subs_flight_t *next = self->spare->next;
        free(self->spare);
        self->spare = next;
    }
    zhashx_destroy(&self->subs); /* before topics: positions unlink from topic watchers */
    zhashx_destroy(&self->topics);
    zhashx_destroy(&self->consumers);
    zlistx_destroy(&self->deleted);
    if (self->letters) {
        for (ob_subs_letter_t *l = zlistx_first(self->letters); l; l = zlistx_next(self->letters)) {
            free(l->event);
            free(l);
        }
        zlistx_destroy(&self->letters);
    }
    free(self);
    *self_p = NULL;
}

/* ---- commits ---- */

void
ob_subs_on_commit(ob_subs_t *self, const ob_store_item_t *items, size_t count)
{
    char name[OB_TOPIC_MAX + 1];
    ob_subs_topic_t *topic = NULL; /* the last item's: batches hold runs of one topic */
    self->commits++;
    for (size_t i = 0; i < count; i++) {
        const ob_store_item_t *item = &items[i];
        if (item->rc || item->dup || item->topic_len > OB_TOPIC_MAX)
            continue;
        if (!topic || topic->name_len != item->topic_len ||
            memcmp(topic->name, item->topic, item->topic_len)) {
            memcpy(name, item->topic, item->topic_len);
            name[item->topic_len] = '\0';
            topic = zhashx_lookup(self->topics, name);
        }
        if (!topic) {
            topic = s_topic_add(self, name, item->topic_id, 0);
            if (!topic) {
                zsys_error("subs: out of memory for topic %s", name);
                continue;
            }
            for (ob_subs_sub_t *sub = zhashx_first(self->subs); sub; sub = zhashx_next(self->subs))
                if (ob_subs_sub_matches(sub, name)) {
                    ob_subs_pos_t *pos = ob_subs_pos_new(self, sub, topic, 0);
                    if (pos)
                        ob_subs_pos_dirty(self, pos);
                }
        }
        topic->id = item->topic_id;
        if (item->seq > topic->last_seq)
            topic->last_seq = item->seq;
        /* wake its readers once per commit: at its first item, next <= that seq already */
        if (topic->woken != self->commits) {
            topic->woken = self->commits;
            for (ob_subs_pos_t *pos = zlistx_first(topic->watchers); pos;
                 pos = zlistx_next(topic->watchers))
                ob_subs_pos_readable(self, pos);
        }
    }
}

/* ---- requests ---- */

int
ob_subs_subscribe(ob_subs_t *self, void *consumer, const char *owner, const ob_wire_msg_t *msg,
                  char ret_name[OB_SUB_NAME_MAX + 1], int *ret_created, int *ret_defer)
{
    *ret_created = 0;
    *ret_defer = 0;
    if (owner && (!*owner || strlen(owner) > OB_SUBS_OWNER_MAX))
        return OB_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < msg->pattern_count; i++)
        if (!ob_pattern_valid(msg->patterns[i], strlen(msg->patterns[i])))
            return OB_ERR_INVALID_PATTERN;
    char name[OB_SUB_NAME_MAX + 1];
    int ephemeral = msg->sub[0] == '\0';
    if (ephemeral) {
        zuuid_t *uuid = zuuid_new();
        if (!uuid)
            return -ENOMEM;
        size_t prefix = strlen(OB_SUBS_EPHEMERAL_PREFIX);
        memcpy(name, OB_SUBS_EPHEMERAL_PREFIX, prefix);
        const char *hex = zuuid_str(uuid); /* 32 upper-case hex digits */
        for (size_t i = 0; i < S_EPH_HEX; i++)
            name[prefix + i] = (char)tolower((unsigned char)hex[i]);
        name[prefix + S_EPH_HEX] = '\0';
        zuuid_destroy(&uuid);
    } else {
        if (!strncmp(msg->sub, OB_SUBS_EPHEMERAL_PREFIX, strlen(OB_SUBS_EPHEMERAL_PREFIX)))
            return OB_ERR_INVALID_ARGUMENT;
        snprintf(name, sizeof name, "%s", msg->sub);
    }
    snprintf(ret_name, OB_SUB_NAME_MAX + 1, "%s", name);

    /* Checked before anything is created; ob_subs_attach checks again, for SUBSCRIBEs
       deferred to the same commit. */
    zlistx_t *names = s_consumer_subs(self, consumer);
    if (names && zlistx_size(names) >= self->per_consumer && !zlistx_find(names, name))
        return OB_ERR_LIMIT;

    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub && msg->attach)
        return OB_ERR_NO_SUCH_SUBSCRIPTION; /* attach only: never (re-)created */
    if (sub) {
        if (owner && sub->owner[0] && strcmp(sub->owner, owner))
            return OB_ERR_FORBIDDEN; /* before anything is said of its settings */
        if (!s_same_set(sub->patterns, sub->pattern_count, msg->patterns[0], msg->pattern_count,
                        sizeof msg->patterns[0]) ||
            !s_same_set(sub->types, sub->type_count, msg->types[0], msg->type_count,
                        sizeof msg->types[0]))
            return OB_ERR_SUBSCRIPTION_EXISTS;
        return ob_subs_attach(self, consumer, name);
    }
    if (zhashx_size(self->subs) >= OB_SUBS_MAX)
        return OB_ERR_LIMIT;
    sub = ob_subs_sub_new(msg, name);
    if (!sub)
        return -ENOMEM;
    sub->ephemeral = ephemeral;
    if (owner)
        snprintf(sub->owner, sizeof sub->owner, "%s", owner);
    if (zhashx_insert(self->subs, sub->name, sub)) {
        ob_subs_sub_free(sub);
        return -ENOMEM;
    }
    self->stats.subscriptions++;
    int rc = ob_subs_sub_positions(self, sub, msg->start, msg->start_seq, msg->start_time);
    if (rc) {
        s_sub_remove(self, sub, 0);
        self->stats.subscriptions--;
        return rc;
    }
    *ret_created = 1;
    if (ephemeral)
        return ob_subs_attach(self, consumer, name);
    sub->dirty = 1;
    ob_subs_mark_dirty(self, sub);
    *ret_defer = 1;
    return 0;
}

void
ob_subs_set_max_per_consumer(ob_subs_t *self, size_t max)
{
    assert(max >= 1);
    self->per_consumer = max;
}

void
ob_subs_set_max_unread(ob_subs_t *self, uint64_t bytes)
{
    assert(bytes >= 1);
    self->max_unread = bytes;
}

int
ob_subs_attach(ob_subs_t *self, void *consumer, const char *name)
{
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    for (size_t i = 0; i < sub->consumer_count; i++)
        if (sub->consumers[i]->id == consumer)
            return 0; /* already attached: SUBSCRIBED again, nothing else */
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 1);
    if (!c)
        return -ENOMEM;
    zlistx_t *names = c->names;
    if (zlistx_size(names) >= self->per_consumer)
        return OB_ERR_LIMIT;
    if (sub->consumer_count == sub->consumer_cap) {
        size_t cap = sub->consumer_cap ? 2 * sub->consumer_cap : 2;
        ob_subs_consumer_t **grown = realloc(sub->consumers, cap * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        sub->consumers = grown;
        sub->consumer_cap = cap;
    }
    if (!zlistx_add_end(names, sub->name))
        return -ENOMEM;
    sub->consumers[sub->consumer_count++] = c;
    ob_subs_activate(self, sub);
    return 0;
}

int
ob_subs_unsubscribe(ob_subs_t *self, void *consumer, const char *name)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 0);
    void *node = c ? zlistx_find(c->names, (void *)name) : NULL;
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!node || !sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    zlistx_delete(c->names, node);
    ob_subs_detach(self, sub, c, zclock_mono());
    if (sub->ephemeral && sub->consumer_count == 0) {
        s_sub_remove(self, sub, 0);
        self->stats.subscriptions--;
    }
    return 0;
}

void
ob_subs_detach_all(ob_subs_t *self, void *consumer)
{
    ob_subs_consumer_t *c = ob_subs_consumer(self, consumer, 0);
    if (!c)
        return;
    zlistx_t *names = c->names;
    int64_t now = zclock_mono();
    for (const char *name = zlistx_first(names); name; name = zlistx_next(names)) {
        ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
        if (!sub)
            continue;
        ob_subs_detach(self, sub, c, now);
        if (sub->ephemeral && sub->consumer_count == 0) {
            /* not s_sub_remove, which would edit `names` while we walk it; with no
               consumer left and nothing persisted, this is all there is to remove */
            if (sub->active)
                zlistx_delete(self->active, sub->active);
            sub->active = NULL;
            if (sub->dirty_node)
                zlistx_delete(self->dirty, sub->dirty_node);
            sub->dirty_node = NULL;
            zhashx_delete(self->subs, name);
            self->stats.subscriptions--;
        }
    }
    zhashx_delete(self->consumers, consumer);
}

int
ob_subs_reposition(ob_subs_t *self, const ob_wire_msg_t *msg)
{
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, msg->sub);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    ob_subs_flights_free(sub);
    for (ob_subs_pos_t *pos = zhashx_first(sub->positions); pos; pos = zhashx_next(sub->positions))
        ob_subs_pos_set_floor(
            self, pos,
            ob_subs_start_floor(self, pos->topic, msg->start, msg->start_seq, msg->start_time));
    ob_subs_activate(self, sub);
    return 0;
}

int
ob_subs_delete(ob_subs_t *self, const char *name)
{
    ob_subs_sub_t *sub = zhashx_lookup(self->subs, name);
    if (!sub)
        return OB_ERR_NO_SUCH_SUBSCRIPTION;
    s_sub_remove(self, sub, 1);
    self->stats.subscriptions--;
    return 0;
}
