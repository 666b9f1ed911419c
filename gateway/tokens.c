/*  ob_tokens: see tokens.h.

    The file is parsed with czmq's zconfig (ZPL), like the broker's permissions file
    (broker/perms.c, whose checks and messages this follows). zconfig reports a syntax error
    through zsys with its line; everything after that is checked here and named by client. */
#include "tokens.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "file.h"
#include "options.h" /* ob_options_zpl_blank */
#include "orderbus/error.h"
#include "orderbus/pattern.h"
#include "token.h"

#define S_CLIENT "client"
#define S_HASH "hash"
#define S_PUBLISH "publish"
#define S_SUBSCRIBE "subscribe"
#define S_ADMIN "admin"
#define S_PREFIX_BYTES 8 /* bytes of a hash the sorted index compares in plain memcmp */

typedef char s_pattern_t[OB_TOPIC_MAX + 1];

struct ob_tokens_client {
    char name[OB_GW_CLIENT_NAME_MAX + 1]; /* unique in the table */
    uint8_t hash[OB_TOKEN_HASH_BYTES];    /* ob_token_hash of its token, unique */
    s_pattern_t *publish;                 /* publish_count patterns, owned */
    size_t publish_count;                 /* entries in publish */
    s_pattern_t *subscribe;               /* subscribe_count patterns, owned */
    size_t subscribe_count;               /* entries in subscribe */
    ob_tokens_admin_t admin;              /* admin level */
};

struct ob_tokens {
    ob_tokens_client_t *clients;  /* count entries in file order, owned */
    size_t count;                 /* clients loaded */
    ob_tokens_client_t **by_hash; /* count pointers into clients, sorted by hash, owned */
    zhashx_t *by_name;            /* name -> ob_tokens_client_t * (borrowed from clients) */
};

/* Writes a message into errbuf and returns OB_ERR_INVALID_ARGUMENT. */
static int s_fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return OB_ERR_INVALID_ARGUMENT;
}

int
ob_tokens_name_valid(const char *name)
{
    size_t len = name ? strnlen(name, OB_GW_CLIENT_NAME_MAX + 1) : 0;
    if (len == 0 || len > OB_GW_CLIENT_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

const char *
ob_tokens_admin_name(ob_tokens_admin_t admin)
{
    switch (admin) {
    case OB_TOKENS_ADMIN_READ:
        return "read";
    case OB_TOKENS_ADMIN_WRITE:
        return "write";
    case OB_TOKENS_ADMIN_NONE:
        break;
    }
    return "none";
}

void
ob_tokens_destroy(ob_tokens_t **self_p)
{
    ob_tokens_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->clients[i].publish);
        free(self->clients[i].subscribe);
    }
    free(self->clients);
    free(self->by_hash);
    zhashx_destroy(&self->by_name);
    free(self);
    *self_p = NULL;
}

/* Appends value (borrowed) to the patterns *list (count entries) after checking it; what and
   who name it in messages. Returns 0 or an error. */
static int
s_add_pattern(s_pattern_t **list, size_t *count, const char *value, const char *what,
              const char *file, const char *who, char *errbuf, size_t errlen)
{
    size_t len = strlen(value);
    if (!ob_pattern_valid(value, len))
        return s_fail(errbuf, errlen,
                      "tokens file %s: client %s: %s pattern '%.64s' is invalid "
                      "(dot-separated tokens of a-z, 0-9, _ and -, * for one token, a last > "
                      "for one or more)",
                      file, who, what, value);
    if (*count >= OB_GW_TOKEN_PATTERNS_MAX)
        return s_fail(errbuf, errlen, "tokens file %s: client %s: more than %d %s patterns", file,
                      who, OB_GW_TOKEN_PATTERNS_MAX, what);
    s_pattern_t *grown = realloc(*list, (*count + 1) * sizeof **list);
    if (!grown)
        return -ENOMEM;
    *list = grown;
    memcpy(grown[*count], value, len + 1);
    (*count)++;
    return 0;
}

/* Reads an admin level from value into *ret_admin. Returns 0 or an error. */
static int
s_admin(const char *value, ob_tokens_admin_t *ret_admin, const char *file, const char *who,
        char *errbuf, size_t errlen)
{
    for (int level = OB_TOKENS_ADMIN_NONE; level <= OB_TOKENS_ADMIN_WRITE; level++)
        if (!strcmp(value, ob_tokens_admin_name((ob_tokens_admin_t)level))) {
            *ret_admin = (ob_tokens_admin_t)level;
            return 0;
        }
    return s_fail(errbuf, errlen,
                  "tokens file %s: client %s: admin '%.32s' is not none, read or write", file, who,
                  value);
}

/* Fills client from item (a "client" child, borrowed), number being its place in the file
   (1-based). Returns 0 or an error. */
static int
s_load_client(ob_tokens_t *self, ob_tokens_client_t *client, zconfig_t *item, size_t number,
              const char *file, char *errbuf, size_t errlen)
{
    int rc = 0;
    const char *name = zconfig_value(item);
    if (!name || !ob_tokens_name_valid(name))
        return s_fail(errbuf, errlen,
                      "tokens file %s: client number %zu: name '%.64s' is invalid "
                      "(1..%d bytes of a-z, 0-9, _, . and -)",
                      file, number, name ? name : "", OB_GW_CLIENT_NAME_MAX);
    snprintf(client->name, sizeof client->name, "%s", name);
    if (zhashx_lookup(self->by_name, name))
        return s_fail(errbuf, errlen, "tokens file %s: client %s: name used twice", file, name);
    int have_hash = 0, have_admin = 0;
    for (zconfig_t *kv = zconfig_child(item); kv; kv = zconfig_next(kv)) {
        const char *key = zconfig_name(kv);
        const char *value = zconfig_value(kv);
        if (!value)
            value = "";
        if (zconfig_child(kv))
            return s_fail(errbuf, errlen, "tokens file %s: client %s: '%.32s' cannot have children",
                          file, name, key);
        if (!strcmp(key, S_HASH)) {
            if (have_hash++)
                return s_fail(errbuf, errlen, "tokens file %s: client %s: a second hash", file,
                              name);
            if (ob_token_hash_parse(value, client->hash))
                return s_fail(errbuf, errlen,
                              "tokens file %s: client %s: hash is not %d lowercase hex digits "
                              "(orderbus-keys token writes it)",
                              file, name, OB_TOKEN_HASH_HEX);
        } else if (!strcmp(key, S_PUBLISH)) {
            if ((rc = s_add_pattern(&client->publish, &client->publish_count, value, S_PUBLISH,
                                    file, name, errbuf, errlen)))
                return rc;
        } else if (!strcmp(key, S_SUBSCRIBE)) {
            if ((rc = s_add_pattern(&client->subscribe, &client->subscribe_count, value,
                                    S_SUBSCRIBE, file, name, errbuf, errlen)))
                return rc;
        } else if (!strcmp(key, S_ADMIN)) {
            if (have_admin++)
                return s_fail(errbuf, errlen, "tokens file %s: client %s: a second admin", file,
                              name);
            if ((rc = s_admin(value, &client->admin, file, name, errbuf, errlen)))
                return rc;
        } else
            return s_fail(errbuf, errlen,
                          "tokens file %s: client %s: unknown key '%.32s' (hash, publish, "
                          "subscribe, admin)",
                          file, name, key);
    }
    if (!have_hash)
        return s_fail(errbuf, errlen, "tokens file %s: client %s: no hash", file, name);
    if (zhashx_insert(self->by_name, client->name, client))
        return -ENOMEM;
    return 0;
}

/* Orders clients by hash, for qsort and the duplicate check (not secret-dependent timing:
   the stored hashes are compared with each other, at load). */
static int
s_compare_hash(const void *a, const void *b)
{
    const ob_tokens_client_t *ca = *(ob_tokens_client_t *const *)a;
    const ob_tokens_client_t *cb = *(ob_tokens_client_t *const *)b;
    return memcmp(ca->hash, cb->hash, OB_TOKEN_HASH_BYTES);
}

/* Builds the sorted index and refuses a hash two clients share. Returns 0 or an error. */
static int
s_index(ob_tokens_t *self, const char *file, char *errbuf, size_t errlen)
{
    if (self->count == 0)
        return 0;
    self->by_hash = calloc(self->count, sizeof *self->by_hash);
    if (!self->by_hash)
        return -ENOMEM;
    for (size_t i = 0; i < self->count; i++)
        self->by_hash[i] = &self->clients[i];
    qsort(self->by_hash, self->count, sizeof *self->by_hash, s_compare_hash);
    for (size_t i = 1; i < self->count; i++)
        if (s_compare_hash(&self->by_hash[i - 1], &self->by_hash[i]) == 0)
            return s_fail(errbuf, errlen, "tokens file %s: clients %s and %s have the same hash",
                          file, self->by_hash[i - 1]->name, self->by_hash[i]->name);
    return 0;
}

int
ob_tokens_load_text(const char *text, size_t len, const char *name, ob_tokens_t **ret_tokens,
                    char *errbuf, size_t errlen)
{
    int rc = 0;
    char *copy = NULL;
    zconfig_t *root = NULL;
    ob_tokens_t *self = NULL;

    if (len > OB_GW_TOKENS_FILE_MAX) {
        s_fail(errbuf, errlen, "tokens file %s: larger than %u bytes", name, OB_GW_TOKENS_FILE_MAX);
        return OB_ERR_TOO_LARGE;
    }
    if (memchr(text, '\0', len))
        return s_fail(errbuf, errlen, "tokens file %s: contains a NUL byte", name);
    if (sodium_init() < 0) { /* for ob_tokens_lookup's hashing, once */
        s_fail(errbuf, errlen, "tokens file %s: libsodium cannot start", name);
        return -EIO;
    }
    self = calloc(1, sizeof *self);
    copy = malloc(len + 1);
    if (!self || !copy || !(self->by_name = zhashx_new())) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';

    /* zconfig refuses a text without any item: an empty table is valid (nobody gets in) */
    if (ob_options_zpl_blank(copy, len))
        goto done;
    root = zconfig_str_load(copy);
    if (!root) {
        rc = s_fail(errbuf, errlen, "tokens file %s: ZPL syntax error (its line is logged above)",
                    name);
        goto fail;
    }
    size_t count = 0;
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        if (strcmp(zconfig_name(item), S_CLIENT)) {
            rc = s_fail(errbuf, errlen,
                        "tokens file %s: unknown item '%.32s' (only 'client' entries)", name,
                        zconfig_name(item));
            goto fail;
        }
        if (++count > OB_GW_TOKEN_CLIENTS_MAX) {
            rc = s_fail(errbuf, errlen, "tokens file %s: more than %d clients", name,
                        OB_GW_TOKEN_CLIENTS_MAX);
            goto fail;
        }
    }
    if (count && !(self->clients = calloc(count, sizeof *self->clients))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        ob_tokens_client_t *client = &self->clients[self->count++];
        if ((rc = s_load_client(self, client, item, self->count, name, errbuf, errlen)))
            goto fail;
    }
    if ((rc = s_index(self, name, errbuf, errlen)))
        goto fail;
done:
    zconfig_destroy(&root);
    free(copy);
    *ret_tokens = self;
    return 0;
fail:
    if (rc == -ENOMEM)
        s_fail(errbuf, errlen, "tokens file %s: out of memory", name);
    zconfig_destroy(&root);
    free(copy);
    ob_tokens_destroy(&self);
    return rc;
}

int
ob_tokens_load(const char *path, ob_tokens_t **ret_tokens, char *errbuf, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ob_file_read(path, OB_GW_TOKENS_FILE_MAX, &text, &len);
    if (rc == OB_ERR_TOO_LARGE)
        s_fail(errbuf, errlen, "tokens file %s: larger than %u bytes", path, OB_GW_TOKENS_FILE_MAX);
    else if (rc == -ENOMEM)
        s_fail(errbuf, errlen, "tokens file %s: out of memory", path);
    else if (rc)
        s_fail(errbuf, errlen, "cannot read tokens file %s: %s", path, strerror(-rc));
    else
        rc = ob_tokens_load_text(text, len, path, ret_tokens, errbuf, errlen);
    free(text);
    return rc;
}

size_t
ob_tokens_size(const ob_tokens_t *self)
{
    return self ? self->count : 0;
}

const ob_tokens_client_t *
ob_tokens_client_at(const ob_tokens_t *self, size_t index)
{
    return self && index < self->count ? &self->clients[index] : NULL;
}

const ob_tokens_client_t *
ob_tokens_lookup(const ob_tokens_t *self, const char *token, size_t len)
{
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    if (!self || self->count == 0 || ob_token_hash(token, len, hash))
        return NULL;
    /* Binary search on the first bytes of the presented hash: its timing depends on that
       hash only, which tells an observer nothing about any stored token (finding a token
       with a chosen hash prefix is a preimage search). The match is then confirmed on the
       whole hash in constant time. */
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(self->by_hash[mid]->hash, hash, S_PREFIX_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    const ob_tokens_client_t *found = NULL;
    for (; lo < self->count && !memcmp(self->by_hash[lo]->hash, hash, S_PREFIX_BYTES); lo++)
        if (sodium_memcmp(self->by_hash[lo]->hash, hash, OB_TOKEN_HASH_BYTES) == 0)
            found = self->by_hash[lo];
    sodium_memzero(hash, sizeof hash);
    return found;
}

const ob_tokens_client_t *
ob_tokens_find(const ob_tokens_t *self, const char *name)
{
    return self && name ? zhashx_lookup(self->by_name, name) : NULL;
}

const char *
ob_tokens_client_name(const ob_tokens_client_t *client)
{
    return client->name;
}

ob_tokens_admin_t
ob_tokens_client_admin(const ob_tokens_client_t *client)
{
    return client->admin;
}

int
ob_tokens_may_publish(const ob_tokens_client_t *client, const char *topic, size_t len)
{
    static const char dlq[] = OB_GW_DLQ_PREFIX;
    if (len >= sizeof dlq - 1 && !memcmp(topic, dlq, sizeof dlq - 1))
        return 0;
    for (size_t i = 0; i < client->publish_count; i++)
        if (ob_pattern_match(client->publish[i], strlen(client->publish[i]), topic, len))
            return 1;
    return 0;
}

int
ob_tokens_may_subscribe(const ob_tokens_client_t *client, const char *pattern, size_t len)
{
    for (size_t i = 0; i < client->subscribe_count; i++)
        if (ob_pattern_covers(client->subscribe[i], strlen(client->subscribe[i]), pattern, len))
            return 1;
    return 0;
}

int
ob_tokens_may_read(const ob_tokens_client_t *client, const char *topic, size_t len)
{
    return client->admin >= OB_TOKENS_ADMIN_READ && ob_tokens_may_subscribe(client, topic, len);
}

int
ob_tokens_may_admin(const ob_tokens_client_t *client, ob_tokens_admin_t need)
{
    return client->admin >= need;
}
