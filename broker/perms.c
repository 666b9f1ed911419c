/*  ob_perms: see perms.h.

    The file is parsed with czmq's zconfig (ZPL), like the configuration. zconfig reports a
    syntax error through zsys_error with its line; everything after that is checked here and
    named by client (its name, or its number in the file when the name is the fault). */
#include "perms.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* ob_config_fail */
#include "file.h"
#include "orderbus/orderbus.h"

#define S_CLIENT "client"
#define S_KEY "key"
#define S_PUBLISH "publish"
#define S_SUBSCRIBE "subscribe"
#define S_ADMIN "admin"

typedef char s_pattern_t[OB_TOPIC_MAX + 1];

struct ob_perms_client {
    char name[OB_PERMS_NAME_MAX + 1]; /* unique in the table */
    char key[OB_PERMS_KEY_LEN + 1];   /* Z85 public key, unique in the table */
    s_pattern_t *publish;             /* publish_count patterns, owned */
    size_t publish_count;             /* entries in publish */
    s_pattern_t *subscribe;           /* subscribe_count patterns, owned */
    size_t subscribe_count;           /* entries in subscribe */
    ob_perms_admin_t admin;           /* admin level */
};

struct ob_perms {
    ob_perms_client_t *clients; /* count entries, owned */
    size_t count;               /* clients loaded */
    zhashx_t *by_key;           /* key -> ob_perms_client_t * (borrowed from clients) */
    zhashx_t *by_name;          /* name -> the same, for duplicate detection */
};

int
ob_perms_name_valid(const char *name)
{
    size_t len = name ? strnlen(name, OB_PERMS_NAME_MAX + 1) : 0;
    if (len == 0 || len > OB_PERMS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

int
ob_perms_key_valid(const char *key)
{
    if (!key || strnlen(key, OB_PERMS_KEY_LEN + 1) != OB_PERMS_KEY_LEN)
        return 0;
    uint8_t binary[32];
    /* zmq_z85_decode checks every character against the alphabet */
    return zmq_z85_decode(binary, key) != NULL;
}

const char *
ob_perms_admin_name(ob_perms_admin_t admin)
{
    switch (admin) {
    case OB_PERMS_ADMIN_READ:
        return "read";
    case OB_PERMS_ADMIN_WRITE:
        return "write";
    case OB_PERMS_ADMIN_NONE:
        break;
    }
    return "none";
}

void
ob_perms_destroy(ob_perms_t **self_p)
{
    ob_perms_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        free(self->clients[i].publish);
        free(self->clients[i].subscribe);
    }
    free(self->clients);
    zhashx_destroy(&self->by_key);
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
        return ob_config_fail(
            errbuf, errlen,
            "permissions file %s: client %s: %s pattern '%.64s' is invalid "
            "(dot-separated tokens of a-z, 0-9, _ and -, * for one token, a last > "
            "for one or more)",
            file, who, what, value);
    if (*count >= OB_PERMS_PATTERNS_MAX)
        return ob_config_fail(errbuf, errlen,
                              "permissions file %s: client %s: more than %d %s patterns", file, who,
                              OB_PERMS_PATTERNS_MAX, what);
    s_pattern_t *grown = realloc(*list, (*count + 1) * sizeof **list);
    if (!grown)
        return -ENOMEM;
    *list = grown;
    memcpy(grown[*count], value, len + 1);
    (*count)++;
    return 0;
}

/* Fills client from item (a "client" child, borrowed), number being its place in the file
   (1-based). Returns 0 or an error. */
static int
s_load_client(ob_perms_t *self, ob_perms_client_t *client, zconfig_t *item, size_t number,
              const char *file, char *errbuf, size_t errlen)
{
    int rc = 0;
    const char *name = zconfig_value(item);
    if (!name || !ob_perms_name_valid(name))
        return ob_config_fail(errbuf, errlen,
                              "permissions file %s: client number %zu: name '%.64s' is invalid "
                              "(1..%d bytes of a-z, 0-9, _, . and -)",
                              file, number, name ? name : "", OB_PERMS_NAME_MAX);
    snprintf(client->name, sizeof client->name, "%s", name);
    if (zhashx_lookup(self->by_name, name))
        return ob_config_fail(errbuf, errlen, "permissions file %s: client %s: name used twice",
                              file, name);
    int have_key = 0, have_admin = 0;
    for (zconfig_t *kv = zconfig_child(item); kv; kv = zconfig_next(kv)) {
        const char *key = zconfig_name(kv);
        const char *value = zconfig_value(kv);
        if (!value)
            value = "";
        if (zconfig_child(kv))
            return ob_config_fail(errbuf, errlen,
                                  "permissions file %s: client %s: '%.32s' cannot have "
                                  "children",
                                  file, name, key);
        if (!strcmp(key, S_KEY)) {
            if (have_key++)
                return ob_config_fail(errbuf, errlen,
                                      "permissions file %s: client %s: a second key", file, name);
            if (!ob_perms_key_valid(value))
                return ob_config_fail(
                    errbuf, errlen,
                    "permissions file %s: client %s: key '%.48s' is not a 40-character "
                    "Z85 public key (quote it: Z85 may contain '#')",
                    file, name, value);
            if (zhashx_lookup(self->by_key, value))
                return ob_config_fail(
                    errbuf, errlen, "permissions file %s: client %s: its key is also client %s's",
                    file, name, ((ob_perms_client_t *)zhashx_lookup(self->by_key, value))->name);
            snprintf(client->key, sizeof client->key, "%s", value);
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
                return ob_config_fail(errbuf, errlen,
                                      "permissions file %s: client %s: a second admin", file, name);
            if (!strcmp(value, "none"))
                client->admin = OB_PERMS_ADMIN_NONE;
            else if (!strcmp(value, "read"))
                client->admin = OB_PERMS_ADMIN_READ;
            else if (!strcmp(value, "write"))
                client->admin = OB_PERMS_ADMIN_WRITE;
            else
                return ob_config_fail(
                    errbuf, errlen,
                    "permissions file %s: client %s: admin '%.32s' is not none, read "
                    "or write",
                    file, name, value);
        } else
            return ob_config_fail(
                errbuf, errlen,
                "permissions file %s: client %s: unknown key '%.32s' (key, publish, "
                "subscribe, admin)",
                file, name, key);
    }
    if (!have_key)
        return ob_config_fail(errbuf, errlen, "permissions file %s: client %s: no key", file, name);
    if (zhashx_insert(self->by_key, client->key, client) ||
        zhashx_insert(self->by_name, client->name, client))
        return -ENOMEM;
    return 0;
}

int
ob_perms_load_text(const char *text, size_t len, const char *name, ob_perms_t **ret_perms,
                   char *errbuf, size_t errlen)
{
    int rc = 0;
    char *copy = NULL;
    zconfig_t *root = NULL;
    ob_perms_t *self = NULL;

    if (len > OB_PERMS_FILE_MAX)
        return ob_config_fail(errbuf, errlen, "permissions file %s: larger than %d bytes", name,
                              OB_PERMS_FILE_MAX);
    if (memchr(text, '\0', len))
        return ob_config_fail(errbuf, errlen, "permissions file %s: contains a NUL byte", name);
    self = calloc(1, sizeof *self);
    copy = malloc(len + 1);
    if (!self || !copy) {
        rc = -ENOMEM;
        goto fail;
    }
    self->by_key = zhashx_new();
    self->by_name = zhashx_new();
    if (!self->by_key || !self->by_name) {
        rc = -ENOMEM;
        goto fail;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';

    /* zconfig refuses a text without any item: an empty table is valid (nobody may connect) */
    if (ob_options_zpl_blank(copy, len))
        goto done;
    root = zconfig_str_load(copy);
    if (!root) {
        rc = ob_config_fail(errbuf, errlen,
                            "permissions file %s: ZPL syntax error (its line is logged above)",
                            name);
        goto fail;
    }
    size_t count = 0;
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        if (strcmp(zconfig_name(item), S_CLIENT)) {
            rc = ob_config_fail(errbuf, errlen,
                                "permissions file %s: unknown item '%.32s' (only 'client' entries)",
                                name, zconfig_name(item));
            goto fail;
        }
        if (++count > OB_PERMS_CLIENTS_MAX) {
            rc = ob_config_fail(errbuf, errlen, "permissions file %s: more than %d clients", name,
                                OB_PERMS_CLIENTS_MAX);
            goto fail;
        }
    }
    if (count) {
        self->clients = calloc(count, sizeof *self->clients);
        if (!self->clients) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    for (zconfig_t *item = zconfig_child(root); item; item = zconfig_next(item)) {
        ob_perms_client_t *client = &self->clients[self->count++];
        if ((rc = s_load_client(self, client, item, self->count, name, errbuf, errlen))) {
            if (rc == -ENOMEM)
                ob_config_fail(errbuf, errlen, "permissions file %s: out of memory", name);
            goto fail;
        }
    }
done:
    zconfig_destroy(&root);
    free(copy);
    *ret_perms = self;
    return 0;
fail:
    zconfig_destroy(&root);
    free(copy);
    ob_perms_destroy(&self);
    return rc;
}

int
ob_perms_read(const char *path, char **ret_text, size_t *ret_len, char *errbuf, size_t errlen)
{
    int rc = ob_file_read(path, OB_PERMS_FILE_MAX, ret_text, ret_len);
    if (rc == OB_ERR_TOO_LARGE)
        ob_config_fail(errbuf, errlen, "permissions file %s: larger than %d bytes", path,
                       OB_PERMS_FILE_MAX);
    else if (rc == -ENOMEM)
        ob_config_fail(errbuf, errlen, "permissions file %s: out of memory", path);
    else if (rc)
        ob_config_fail(errbuf, errlen, "cannot read permissions file %s: %s", path, strerror(-rc));
    return rc;
}

int
ob_perms_load(const char *path, ob_perms_t **ret_perms, char *errbuf, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = ob_perms_read(path, &text, &len, errbuf, errlen);
    if (rc == 0)
        rc = ob_perms_load_text(text, len, path, ret_perms, errbuf, errlen);
    free(text);
    return rc;
}

size_t
ob_perms_size(const ob_perms_t *self)
{
    return self->count;
}

const ob_perms_client_t *
ob_perms_lookup(const ob_perms_t *self, const char *key)
{
    if (!self || !key)
        return NULL;
    return zhashx_lookup(self->by_key, key);
}

const ob_perms_client_t *
ob_perms_client_at(const ob_perms_t *self, size_t index)
{
    return self && index < self->count ? &self->clients[index] : NULL;
}

const char *
ob_perms_client_key(const ob_perms_client_t *client)
{
    return client->key;
}

const char *
ob_perms_client_name(const ob_perms_client_t *client)
{
    return client->name;
}

ob_perms_admin_t
ob_perms_client_admin(const ob_perms_client_t *client)
{
    return client->admin;
}

int
ob_perms_may_publish(const ob_perms_client_t *client, const char *topic, size_t len)
{
    for (size_t i = 0; i < client->publish_count; i++)
        if (ob_pattern_match(client->publish[i], strlen(client->publish[i]), topic, len))
            return 1;
    return 0;
}

int
ob_perms_may_subscribe(const ob_perms_client_t *client, const char *pattern, size_t len)
{
    for (size_t i = 0; i < client->subscribe_count; i++)
        if (ob_pattern_covers(client->subscribe[i], strlen(client->subscribe[i]), pattern, len))
            return 1;
    return 0;
}

/* Says that client lacks admin level need for command. */
static int
s_admin_fail(const ob_perms_client_t *client, const char *command, ob_perms_admin_t need,
             char *reason, size_t reason_len)
{
    snprintf(reason, reason_len, "%s: client %s has admin %s, needs %s", command, client->name,
             ob_perms_admin_name(client->admin), ob_perms_admin_name(need));
    return OB_ERR_FORBIDDEN;
}

int
ob_perms_check(const ob_perms_client_t *client, const ob_wire_msg_t *msg, char *reason,
               size_t reason_len)
{
    const char *command = ob_command_name(msg->command);
    switch (msg->command) {
    case OB_CMD_SUBSCRIBE:
        for (size_t i = 0; i < msg->pattern_count && i < OB_SUB_PATTERNS_MAX; i++)
            if (!ob_perms_may_subscribe(client, msg->patterns[i],
                                        strnlen(msg->patterns[i], OB_TOPIC_MAX + 1))) {
                snprintf(reason, reason_len, "SUBSCRIBE %.*s: client %s may not subscribe to %s",
                         OB_SUB_NAME_MAX, msg->sub, client->name, msg->patterns[i]);
                return OB_ERR_FORBIDDEN;
            }
        return 0;
    case OB_CMD_TOPICS:
    case OB_CMD_SUBS:
    case OB_CMD_SUB_INFO:
        if (client->admin < OB_PERMS_ADMIN_READ)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_READ, reason, reason_len);
        return 0;
    case OB_CMD_FETCH:
        if (client->admin < OB_PERMS_ADMIN_READ)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_READ, reason, reason_len);
        if (!ob_perms_may_subscribe(client, msg->topic, strnlen(msg->topic, OB_TOPIC_MAX + 1))) {
            snprintf(reason, reason_len, "FETCH %s: client %s may not subscribe to it", msg->topic,
                     client->name);
            return OB_ERR_FORBIDDEN;
        }
        return 0;
    case OB_CMD_SUB_REPOSITION:
    case OB_CMD_SUB_DELETE:
        if (client->admin < OB_PERMS_ADMIN_WRITE)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_WRITE, reason, reason_len);
        return 0;
    default: /* HELLO, PING, ACK, NACK, UNSUBSCRIBE: the session's own; PUBLISH: its topic */
        return 0;
    }
}
