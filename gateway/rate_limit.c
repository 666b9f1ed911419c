/*  ob_rate_limit: see rate_limit.h. */
#include "rate_limit.h"

#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/error.h"

#define S_UNIT 1000000ull   /* millionths of a token in one token */
#define S_US_PER_S 1000000u /* microseconds in a second */

typedef struct s_bucket s_bucket_t;
struct s_bucket {
    char name[OB_GW_CLIENT_NAME_MAX + 1]; /* the client, the key in by_name */
    uint64_t tokens;                      /* millionths of a token, <= burst * S_UNIT */
    uint64_t last_us;                     /* when tokens was last brought up to date */
    s_bucket_t *newer;                    /* LRU list: next more recently used, or NULL */
    s_bucket_t *older;                    /* next less recently used, or NULL */
};

struct ob_rate_limit {
    uint64_t rate;     /* tokens per second */
    uint64_t full;     /* burst * S_UNIT */
    size_t capacity;   /* most buckets held */
    zhashx_t *by_name; /* name -> s_bucket_t * (owned: the table's destructor frees) */
    s_bucket_t *lru;   /* least recently used, the first to be reused */
    s_bucket_t *mru;   /* most recently used */
};

static void
s_bucket_free(void **item_p)
{
    free(*item_p);
    *item_p = NULL;
}

ob_rate_limit_t *
ob_rate_limit_new(uint32_t rate, uint32_t burst, size_t capacity)
{
    if (rate < 1 || rate > OB_GW_RATE_MAX || burst < 1 || burst > OB_GW_RATE_MAX || capacity < 1 ||
        capacity > OB_GW_TOKEN_CLIENTS_MAX)
        return NULL;
    ob_rate_limit_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->rate = rate;
    self->full = (uint64_t)burst * S_UNIT;
    self->capacity = capacity;
    self->by_name = zhashx_new();
    if (!self->by_name) {
        free(self);
        return NULL;
    }
    zhashx_set_destructor(self->by_name, s_bucket_free);
    return self;
}

void
ob_rate_limit_destroy(ob_rate_limit_t **self_p)
{
    ob_rate_limit_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhashx_destroy(&self->by_name);
    free(self);
    *self_p = NULL;
}

size_t
ob_rate_limit_size(const ob_rate_limit_t *self)
{
    return zhashx_size(self->by_name);
}

/* Takes bucket out of the LRU list. */
static void
s_unlink(ob_rate_limit_t *self, s_bucket_t *bucket)
{
    if (bucket->newer)
        bucket->newer->older = bucket->older;
    else
        self->mru = bucket->older;
    if (bucket->older)
        bucket->older->newer = bucket->newer;
    else
        self->lru = bucket->newer;
    bucket->newer = bucket->older = NULL;
}

/* Puts bucket at the most recently used end. */
static void
s_push_mru(ob_rate_limit_t *self, s_bucket_t *bucket)
{
    bucket->older = self->mru;
    bucket->newer = NULL;
    if (self->mru)
        self->mru->newer = bucket;
    self->mru = bucket;
    if (!self->lru)
        self->lru = bucket;
}

/* Returns the bucket of name, new and full if there was none (reusing the least recently
   used one at capacity), or NULL without memory. */
static s_bucket_t *
s_bucket(ob_rate_limit_t *self, const char *name, size_t len, uint64_t now_us)
{
    s_bucket_t *bucket = zhashx_lookup(self->by_name, name);
    if (bucket) {
        s_unlink(self, bucket);
        s_push_mru(self, bucket);
        return bucket;
    }
    if (zhashx_size(self->by_name) >= self->capacity) {
        s_bucket_t *old = self->lru;
        s_unlink(self, old);
        zhashx_delete(self->by_name, old->name); /* frees it */
    }
    bucket = calloc(1, sizeof *bucket);
    if (!bucket)
        return NULL;
    memcpy(bucket->name, name, len + 1);
    bucket->tokens = self->full;
    bucket->last_us = now_us;
    if (zhashx_insert(self->by_name, bucket->name, bucket)) {
        free(bucket);
        return NULL;
    }
    s_push_mru(self, bucket);
    return bucket;
}

int
ob_rate_limit_take(ob_rate_limit_t *self, const char *client, uint64_t now_us,
                   uint32_t *ret_retry_after_s)
{
    size_t len = client ? strnlen(client, OB_GW_CLIENT_NAME_MAX + 1) : 0;
    if (len == 0 || len > OB_GW_CLIENT_NAME_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    s_bucket_t *bucket = s_bucket(self, client, len, now_us);
    if (!bucket)
        return -ENOMEM;
    if (now_us > bucket->last_us) {
        /* elapsed is capped at the time to fill an empty bucket, so that rate * elapsed
           cannot overflow (at most OB_GW_RATE_MAX * S_UNIT * ... < 2^64) */
        uint64_t elapsed = now_us - bucket->last_us;
        uint64_t to_fill = (self->full - bucket->tokens) / self->rate + 1;
        if (elapsed > to_fill)
            elapsed = to_fill;
        bucket->tokens += elapsed * self->rate;
        if (bucket->tokens > self->full)
            bucket->tokens = self->full;
        bucket->last_us = now_us;
    }
    if (bucket->tokens >= S_UNIT) {
        bucket->tokens -= S_UNIT;
        return 0;
    }
    if (ret_retry_after_s) {
        uint64_t wait_us = (S_UNIT - bucket->tokens + self->rate - 1) / self->rate;
        uint64_t seconds = (wait_us + S_US_PER_S - 1) / S_US_PER_S;
        *ret_retry_after_s = seconds < 1 ? 1 : (uint32_t)seconds;
    }
    return OB_ERR_LIMIT;
}
