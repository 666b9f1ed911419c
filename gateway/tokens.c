/*  ob_tokens: see tokens.h.

    The file, its checks and its messages are common/rights.h's, with a token's hash as the
    identity; this adds the index by hash and the gateway's own refusal of dead-letter
    topics. */
#include "tokens.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "options.h" /* ob_options_fail */
#include "token.h"

#define S_PREFIX_BYTES 8 /* bytes of a hash the sorted index compares in plain memcmp */

/* An entry of the sorted index: a client's hash in binary. */
typedef struct {
    uint8_t hash[OB_TOKEN_HASH_BYTES]; /* ob_token_hash of its token */
    const ob_rights_client_t *client;  /* borrowed from the table */
} s_by_hash_t;

struct ob_tokens {
    ob_rights_t *rights;  /* the clients in file order, owned */
    s_by_hash_t *by_hash; /* one entry per client, sorted by hash, owned */
};

/* 1 if value is a stored hash (64 lowercase hex digits), else 0. */
static int
s_hash_valid(const char *value)
{
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    return ob_token_hash_parse(value, hash) == 0;
}

_Static_assert(OB_TOKEN_HASH_HEX == 64, "s_spec's message says 64");
static const ob_rights_spec_t s_spec = {
    .file = "tokens file",
    .id_key = "hash",
    .id_valid = s_hash_valid,
    .id_format = "is not 64 lowercase hex digits (orderbus-keys token writes it)",
    .id_secret = 1,
    .file_max = OB_GW_TOKENS_FILE_MAX,
    .clients_max = OB_GW_TOKEN_CLIENTS_MAX,
    .patterns_max = OB_GW_TOKEN_PATTERNS_MAX,
};

int
ob_tokens_name_valid(const char *name)
{
    return ob_rights_name_valid(name);
}

const char *
ob_tokens_admin_name(ob_tokens_admin_t admin)
{
    return ob_rights_admin_name(admin);
}

void
ob_tokens_destroy(ob_tokens_t **self_p)
{
    ob_tokens_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    ob_rights_destroy(&self->rights);
    free(self->by_hash);
    free(self);
    *self_p = NULL;
}

/* Orders index entries by hash, for qsort (not secret-dependent timing: the stored hashes
   are compared with each other, at load). */
static int
s_compare_hash(const void *a, const void *b)
{
    return memcmp(((const s_by_hash_t *)a)->hash, ((const s_by_hash_t *)b)->hash,
                  OB_TOKEN_HASH_BYTES);
}

/* Builds the sorted index of self->rights. Returns 0 or -ENOMEM. (The table refused a hash
   two clients share.) */
static int
s_index(ob_tokens_t *self)
{
    size_t count = ob_rights_size(self->rights);
    if (count == 0)
        return 0;
    self->by_hash = calloc(count, sizeof *self->by_hash);
    if (!self->by_hash)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++) {
        const ob_rights_client_t *client = ob_rights_client_at(self->rights, i);
        self->by_hash[i].client = client;
        ob_token_hash_parse(ob_rights_client_id(client), self->by_hash[i].hash);
    }
    qsort(self->by_hash, count, sizeof *self->by_hash, s_compare_hash);
    return 0;
}

int
ob_tokens_load_text(const char *text, size_t len, const char *name, ob_tokens_t **ret_tokens,
                    char *errbuf, size_t errlen)
{
    int rc = 0;
    if (sodium_init() < 0) { /* for ob_tokens_lookup's hashing, once */
        ob_options_fail(errbuf, errlen, "tokens file %s: libsodium cannot start", name);
        return -EIO;
    }
    ob_tokens_t *self = calloc(1, sizeof *self);
    if (!self) {
        ob_options_fail(errbuf, errlen, "tokens file %s: out of memory", name);
        return -ENOMEM;
    }
    if ((rc = ob_rights_load_text(&s_spec, text, len, name, &self->rights, errbuf, errlen)))
        goto fail;
    if ((rc = s_index(self))) {
        ob_options_fail(errbuf, errlen, "tokens file %s: out of memory", name);
        goto fail;
    }
    *ret_tokens = self;
    return 0;
fail:
    ob_tokens_destroy(&self);
    return rc;
}

int
ob_tokens_load(const char *path, ob_tokens_t **ret_tokens, char *errbuf, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ob_rights_read(&s_spec, path, &text, &len, errbuf, errlen);
    if (rc == 0)
        rc = ob_tokens_load_text(text, len, path, ret_tokens, errbuf, errlen);
    free(text);
    return rc;
}

size_t
ob_tokens_size(const ob_tokens_t *self)
{
    return self ? ob_rights_size(self->rights) : 0;
}

const ob_tokens_client_t *
ob_tokens_client_at(const ob_tokens_t *self, size_t index)
{
    return self ? ob_rights_client_at(self->rights, index) : NULL;
}

const ob_tokens_client_t *
ob_tokens_lookup(const ob_tokens_t *self, const char *token, size_t len)
{
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    size_t count = ob_tokens_size(self);
    if (count == 0 || ob_token_hash(token, len, hash))
        return NULL;
    /* Binary search on the first bytes of the presented hash: its timing depends on that
       hash only, which tells an observer nothing about any stored token (finding a token
       with a chosen hash prefix is a preimage search). The match is then confirmed on the
       whole hash in constant time. */
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(self->by_hash[mid].hash, hash, S_PREFIX_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const ob_tokens_client_t *found = NULL;
    for (; lo < count && !memcmp(self->by_hash[lo].hash, hash, S_PREFIX_BYTES); lo++)
        if (sodium_memcmp(self->by_hash[lo].hash, hash, OB_TOKEN_HASH_BYTES) == 0)
            found = self->by_hash[lo].client;
    sodium_memzero(hash, sizeof hash);
    return found;
}

const ob_tokens_client_t *
ob_tokens_find(const ob_tokens_t *self, const char *name)
{
    return self ? ob_rights_find(self->rights, name) : NULL;
}

const char *
ob_tokens_client_name(const ob_tokens_client_t *client)
{
    return ob_rights_client_name(client);
}

ob_tokens_admin_t
ob_tokens_client_admin(const ob_tokens_client_t *client)
{
    return ob_rights_client_admin(client);
}

int
ob_tokens_may_publish(const ob_tokens_client_t *client, const char *topic, size_t len)
{
    static const char dlq[] = OB_GW_DLQ_PREFIX;
    if (len >= sizeof dlq - 1 && !memcmp(topic, dlq, sizeof dlq - 1))
        return 0;
    return ob_rights_may_publish(client, topic, len);
}

int
ob_tokens_may_subscribe(const ob_tokens_client_t *client, const char *pattern, size_t len)
{
    return ob_rights_may_subscribe(client, pattern, len);
}

int
ob_tokens_may_read(const ob_tokens_client_t *client, const char *topic, size_t len)
{
    return ob_rights_client_admin(client) >= OB_TOKENS_ADMIN_READ &&
           ob_rights_may_subscribe(client, topic, len);
}

int
ob_tokens_may_admin(const ob_tokens_client_t *client, ob_tokens_admin_t need)
{
    return ob_rights_client_admin(client) >= need;
}
