/*  ob_perms: see perms.h.

    The file and its rules are common/rights.h's, with a CURVE public key as the identity;
    this adds the broker's checks of a decoded request. */
#include "perms.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/orderbus.h"

static const ob_rights_spec_t s_spec = {
    .file = "permissions file",
    .id_key = "key",
    .id_valid = ob_perms_key_valid,
    .id_format = "is not a 40-character Z85 public key (quote it: Z85 may contain '#')",
    .id_secret = 0,
    .file_max = OB_PERMS_FILE_MAX,
    .clients_max = OB_PERMS_CLIENTS_MAX,
    .patterns_max = OB_PERMS_PATTERNS_MAX,
};

int
ob_perms_name_valid(const char *name)
{
    return ob_rights_name_valid(name);
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
    return ob_rights_admin_name(admin);
}

void
ob_perms_destroy(ob_perms_t **self_p)
{
    ob_rights_destroy(self_p);
}

int
ob_perms_load_text(const char *text, size_t len, const char *name, ob_perms_t **ret_perms,
                   char *errbuf, size_t errlen)
{
    return ob_rights_load_text(&s_spec, text, len, name, ret_perms, errbuf, errlen);
}

int
ob_perms_read(const char *path, char **ret_text, size_t *ret_len, char *errbuf, size_t errlen)
{
    return ob_rights_read(&s_spec, path, ret_text, ret_len, errbuf, errlen);
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
    return ob_rights_size(self);
}

const ob_perms_client_t *
ob_perms_lookup(const ob_perms_t *self, const char *key)
{
    return ob_rights_find_id(self, key);
}

const ob_perms_client_t *
ob_perms_client_at(const ob_perms_t *self, size_t index)
{
    return ob_rights_client_at(self, index);
}

const char *
ob_perms_client_key(const ob_perms_client_t *client)
{
    return ob_rights_client_id(client);
}

const char *
ob_perms_client_name(const ob_perms_client_t *client)
{
    return ob_rights_client_name(client);
}

ob_perms_admin_t
ob_perms_client_admin(const ob_perms_client_t *client)
{
    return ob_rights_client_admin(client);
}

int
ob_perms_may_publish(const ob_perms_client_t *client, const char *topic, size_t len)
{
    return ob_rights_may_publish(client, topic, len);
}

int
ob_perms_may_subscribe(const ob_perms_client_t *client, const char *pattern, size_t len)
{
    return ob_rights_may_subscribe(client, pattern, len);
}

/* Says that client lacks admin level need for command. */
static int
s_admin_fail(const ob_perms_client_t *client, const char *command, ob_perms_admin_t need,
             char *reason, size_t reason_len)
{
    snprintf(reason, reason_len, "%s: client %s has admin %s, needs %s", command,
             ob_rights_client_name(client), ob_perms_admin_name(ob_rights_client_admin(client)),
             ob_perms_admin_name(need));
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
                         OB_SUB_NAME_MAX, msg->sub, ob_rights_client_name(client),
                         msg->patterns[i]);
                return OB_ERR_FORBIDDEN;
            }
        return 0;
    case OB_CMD_TOPICS:
    case OB_CMD_SUBS:
    case OB_CMD_SUB_INFO:
        if (ob_rights_client_admin(client) < OB_PERMS_ADMIN_READ)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_READ, reason, reason_len);
        return 0;
    case OB_CMD_FETCH:
        if (ob_rights_client_admin(client) < OB_PERMS_ADMIN_READ)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_READ, reason, reason_len);
        if (!ob_perms_may_subscribe(client, msg->topic, strnlen(msg->topic, OB_TOPIC_MAX + 1))) {
            snprintf(reason, reason_len, "FETCH %s: client %s may not subscribe to it", msg->topic,
                     ob_rights_client_name(client));
            return OB_ERR_FORBIDDEN;
        }
        return 0;
    case OB_CMD_SUB_REPOSITION:
    case OB_CMD_SUB_DELETE:
        if (ob_rights_client_admin(client) < OB_PERMS_ADMIN_WRITE)
            return s_admin_fail(client, command, OB_PERMS_ADMIN_WRITE, reason, reason_len);
        return 0;
    default: /* HELLO, PING, ACK, NACK, UNSUBSCRIBE: the session's own; PUBLISH: its topic */
        return 0;
    }
}
