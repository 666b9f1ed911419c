/*  ob_rights: see rights.h. */
#include "rights.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "options.h" /* ob_options_fail, ob_options_zpl_blank */
#include "orderbus/error.h"
#include "orderbus/limits.h"
#include "orderbus/pattern.h"

#define S_CLIENT "client"
#define S_PUBLISH "publish"
#define S_SUBSCRIBE "subscribe"
#define S_ADMIN "admin"

typedef char s_pattern_t[OB_TOPIC_MAX + 1];

struct ob_rights_client {
    char name[OB_RIGHTS_NAME_MAX + 1]; /* unique in the table */
    char id[OB_RIGHTS_ID_MAX + 1];     /* identity as written, unique in the table */
    s_pattern_t *publish;              /* publish_count patterns, owned */
    size_t publish_count;              /* entries in publish */
    s_pattern_t *subscribe;            /* subscribe_count patterns, owned */
    size_t subscribe_count;            /* entries in subscribe */
    ob_rights_admin_t admin;           /* admin level */
};

struct ob_rights {
    const ob_rights_spec_t *spec; /* borrowed */
    ob_rights_client_t *clients;  /* count entries in file order, owned */
    size_t count;                 /* clients loaded */
    zhashx_t *by_name;            /* name -> ob_rights_client_t * (borrowed from clients) */
    zhashx_t *by_id;              /* identity -> the same */
};

/* What the loader of one file knows. */
typedef struct {
    ob_rights_t *rights; /* the table being filled */
    const char *file;    /* the file's name in messages */
    char *errbuf;        /* the caller's message buffer */
    size_t errlen;       /* its size */
} s_load_t;

int
ob_rights_name_valid(const char *name)
{
    size_t len = name ? strnlen(name, OB_RIGHTS_NAME_MAX + 1) : 0;
    if (len == 0 || len > OB_RIGHTS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

const char *
ob_rights_admin_name(ob_rights_admin_t admin)
{
    switch (admin) {
    case OB_RIGHTS_ADMIN_READ:
        return "read";
    case OB_RIGHTS_ADMIN_WRITE:
        return "write";
    case OB_RIGHTS_ADMIN_NONE:
        break;
    }
    return "none";
}

void
ob_rights_destroy(ob_rights_t **self_p)
{
    ob_rights_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->clients[i].publish);
        free(self->clients[i].subscribe);
    }
    free(self->clients);
    zhashx_destroy(&self->by_name);
    zhashx_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

/* Appends value (borrowed) to the patterns *list (count entries) after checking it; what and
   who name it in messages. Returns 0 or an error. */
static int
s_add_pattern(const s_load_t *load, s_pattern_t **list, size_t *count, const char *value,
              const char *what, const char *who)
{
    size_t len = strlen(value);
    if (!ob_pattern_valid(value, len))
        return ob_options_fail(load->errbuf, load->errlen,
                               "%s %s: client %s: %s pattern '%.64s' is invalid "
                               "(dot-separated tokens of a-z, 0-9, _ and -, * for one token, a "
                               "last > for one or more)",
                               load->rights->spec->file, load->file, who, what, value);
    if (*count >= load->rights->spec->patterns_max)
        return ob_options_fail(
            load->errbuf, load->errlen, "%s %s: client %s: more than %zu %s patterns",
            load->rights->spec->file, load->file, who, load->rights->spec->patterns_max, what);
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
s_admin(const s_load_t *load, const char *value, ob_rights_admin_t *ret_admin, const char *who)
{
    for (int level = OB_RIGHTS_ADMIN_NONE; level <= OB_RIGHTS_ADMIN_WRITE; level++)
        if (!strcmp(value, ob_rights_admin_name((ob_rights_admin_t)level))) {
            *ret_admin = (ob_rights_admin_t)level;
            return 0;
        }
    return ob_options_fail(load->errbuf, load->errlen,
                           "%s %s: client %s: admin '%.32s' is not none, read or write",
                           load->rights->spec->file, load->file, who, value);
}

/* Reads the identity from value into client. Returns 0 or an error. */
static int
s_identity(const s_load_t *load, ob_rights_client_t *client, const char *value)
{
    const ob_rights_spec_t *spec = load->rights->spec;
    if (strlen(value) > OB_RIGHTS_ID_MAX || !spec->id_valid(value)) {
        if (spec->id_secret)
            return ob_options_fail(load->errbuf, load->errlen, "%s %s: client %s: %s %s",
                                   spec->file, load->file, client->name, spec->id_key,
                                   spec->id_format);
        return ob_options_fail(load->errbuf, load->errlen, "%s %s: client %s: %s '%.48s' %s",
                               spec->file, load->file, client->name, spec->id_key, value,
                               spec->id_format);
    }
    const ob_rights_client_t *other = zhashx_lookup(load->rights->by_id, value);
    if (other)
        return ob_options_fail(load->errbuf, load->errlen,
                               "%s %s: client %s: its %s is also client %s's", spec->file,
                               load->file, client->name, spec->id_key, other->name);
    snprintf(client->id, sizeof client->id, "%s", value);
    return 0;
}

/* Fills client from item (a "client" child, borrowed), number being its place in the file
   (1-based). Returns 0 or an error. */
static int
s_load_client(const s_load_t *load, ob_rights_client_t *client, zconfig_t *item, size_t number)
{
    const ob_rights_spec_t *spec = load->rights->spec;
    int rc = 0;
    const char *name = zconfig_value(item);
    if (!name || !ob_rights_name_valid(name))
        return ob_options_fail(load->errbuf, load->errlen,
                               "%s %s: client number %zu: name '%.64s' is invalid "
                               "(1..%d bytes of a-z, 0-9, _, . and -)",
                               spec->file, load->file, number, name ? name : "",
                               OB_RIGHTS_NAME_MAX);
    snprintf(client->name, sizeof client->name, "%s", name);
    if (zhashx_lookup(load->rights->by_name, name))
        return ob_options_fail(load->errbuf, load->errlen, "%s %s: client %s: name used twice",
                               spec->file, load->file, name);
    int have_id = 0, have_admin = 0;
    for (zconfig_t *kv = zconfig_child(item); kv; kv = zconfig_next(kv)) {
        const char *key = zconfig_name(kv);
        const char *value = zconfig_value(kv);
        if (!value)
            value = "";
        if (zconfig_child(kv))
            rc = ob_options_fail(load->errbuf, load->errlen,
                                 "%s %s: client %s: '%.32s' cannot have children", spec->file,
                                 load->file, name, key);
        else if (!strcmp(key, spec->id_key))
            rc = have_id++
                     ? ob_options_fail(load->errbuf, load->errlen, "%s %s: client %s: a second %s",
                                       spec->file, load->file, name, spec->id_key)
                     : s_identity(load, client, value);
        else if (!strcmp(key, S_PUBLISH))
            rc = s_add_pattern(load, &client->publish, &client->publish_count, value, S_PUBLISH,
                               name);
        else if (!strcmp(key, S_SUBSCRIBE))
            rc = s_add_pattern(load, &client->subscribe, &client->subscribe_count, value,
                               S_SUBSCRIBE, name);
        else if (!strcmp(key, S_ADMIN))
            rc = have_admin++ ? ob_options_fail(load->errbuf, load->errlen,
                                                "%s %s: client %s: a second admin", spec->file,
                                                load->file, name)
                              : s_admin(load, value, &client->admin, name);
        else
            rc = ob_options_fail(load->errbuf, load->errlen,
                                 "%s %s: client %s: unknown key '%.32s' (%s, publish, subscribe, "
                                 "admin)",
                                 spec->file, load->file, name, key, spec->id_key);
        if (rc)
            return rc;
    }
    if (!have_id)
        return ob_options_fail(load->errbuf, load->errlen, "%s %s: client %s: no %s", spec->file,
                               load->file, name, spec->id_key);
    if (zhashx_insert(load->rights->by_name, client->name, client) ||
        zhashx_insert(load->rights->by_id, client->id, client))
        return -ENOMEM;
    return 0;
}

/* Checks that root holds only "client" items, at most spec->clients_max; writes their
   number into *ret_count. Returns 0 or an error. */
static int
s_count_clients(const s_load_t *load, zconfig_t *root, size_t *ret_count)
{
    const ob_rights_spec_t *spec = load->rights->spec;
    size_t count = 0;
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        if (strcmp(zconfig_name(item), S_CLIENT))
            return ob_options_fail(load->errbuf, load->errlen,
                                   "%s %s: unknown item '%.32s' (only 'client' entries)",
                                   spec->file, load->file, zconfig_name(item));
        if (++count > spec->clients_max)
            return ob_options_fail(load->errbuf, load->errlen, "%s %s: more than %zu clients",
                                   spec->file, load->file, spec->clients_max);
    }
    *ret_count = count;
    return 0;
}

int
ob_rights_load_text(const ob_rights_spec_t *spec, const char *text, size_t len, const char *name,
                    ob_rights_t **ret_rights, char *errbuf, size_t errlen)
{
    int rc = 0;
    char *copy = NULL;
    zconfig_t *root = NULL;
    ob_rights_t *self = NULL;
    s_load_t load = {.file = name, .errbuf = errbuf, .errlen = errlen};

    if (len > spec->file_max) {
        ob_options_fail(errbuf, errlen, "%s %s: larger than %zu bytes", spec->file, name,
                        spec->file_max);
        return OB_ERR_TOO_LARGE;
    }
    if (memchr(text, '\0', len))
        return ob_options_fail(errbuf, errlen, "%s %s: contains a NUL byte", spec->file, name);
    self = calloc(1, sizeof *self);
    copy = malloc(len + 1);
    if (!self || !copy || !(self->by_name = zhashx_new()) || !(self->by_id = zhashx_new())) {
        rc = -ENOMEM;
        goto fail;
    }
    self->spec = spec;
    load.rights = self;
    memcpy(copy, text, len);
    copy[len] = '\0';

    /* zconfig refuses a text without any item: an empty table is valid (nobody gets in) */
    if (ob_options_zpl_blank(copy, len))
        goto done;
    root = zconfig_str_load(copy);
    if (!root) {
        rc = ob_options_fail(errbuf, errlen, "%s %s: ZPL syntax error (its line is logged above)",
                             spec->file, name);
        goto fail;
    }
    size_t count = 0;
    if ((rc = s_count_clients(&load, root, &count)))
        goto fail;
    if (count && !(self->clients = calloc(count, sizeof *self->clients))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        ob_rights_client_t *client = &self->clients[self->count++];
        if ((rc = s_load_client(&load, client, item, self->count)))
            goto fail;
    }
done:
    zconfig_destroy(&root);
    free(copy);
    *ret_rights = self;
    return 0;
fail:
    if (rc == -ENOMEM)
        ob_options_fail(errbuf, errlen, "%s %s: out of memory", spec->file, name);
    zconfig_destroy(&root);
    free(copy);
    ob_rights_destroy(&self);
    return rc;
}

int
ob_rights_read(const ob_rights_spec_t *spec, const char *path, char **ret_text, size_t *ret_len,
               char *errbuf, size_t errlen)
{
    int rc = ob_file_read(path, spec->file_max, ret_text, ret_len);
    if (rc == OB_ERR_TOO_LARGE)
        ob_options_fail(errbuf, errlen, "%s %s: larger than %zu bytes", spec->file, path,
                        spec->file_max);
    else if (rc == -ENOMEM)
        ob_options_fail(errbuf, errlen, "%s %s: out of memory", spec->file, path);
    else if (rc)
        ob_options_fail(errbuf, errlen, "cannot read %s %s: %s", spec->file, path, strerror(-rc));
    return rc;
}

size_t
ob_rights_size(const ob_rights_t *self)
{
    return self ? self->count : 0;
}

const ob_rights_client_t *
ob_rights_client_at(const ob_rights_t *self, size_t index)
{
    return self && index < self->count ? &self->clients[index] : NULL;
}

const ob_rights_client_t *
ob_rights_find(const ob_rights_t *self, const char *name)
{
    return self && name ? zhashx_lookup(self->by_name, name) : NULL;
}

const ob_rights_client_t *
ob_rights_find_id(const ob_rights_t *self, const char *id)
{
    return self && id ? zhashx_lookup(self->by_id, id) : NULL;
}

const char *
ob_rights_client_name(const ob_rights_client_t *client)
{
    return client->name;
}

const char *
ob_rights_client_id(const ob_rights_client_t *client)
{
    return client->id;
}

ob_rights_admin_t
ob_rights_client_admin(const ob_rights_client_t *client)
{
    return client->admin;
}

int
ob_rights_may_publish(const ob_rights_client_t *client, const char *topic, size_t len)
{
    for (size_t i = 0; i < client->publish_count; i++)
        if (ob_pattern_match(client->publish[i], strlen(client->publish[i]), topic, len))
            return 1;
    return 0;
}

int
ob_rights_may_subscribe(const ob_rights_client_t *client, const char *pattern, size_t len)
{
    for (size_t i = 0; i < client->subscribe_count; i++)
        if (ob_pattern_covers(client->subscribe[i], strlen(client->subscribe[i]), pattern, len))
            return 1;
    return 0;
}
