/*  ob_oms_command: see command.h and COMMANDS.md. */
#include "command.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "mp_event.h"
#include "mp_parse.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

#define S_DOMAIN "orderbus.gateway.outcome.v1" /* the outcome id's first bytes, with its NUL */

static const char *const s_names[] = {"update_project_item", "post_message", "edit_message"};
#define S_KINDS (sizeof s_names / sizeof s_names[0])

/* Keys each command may have (NULL-terminated), besides "id" and "command". */
static const char *const s_update_keys[] = {"project_id", "project_item_id", "status",
                                            "user_secrets", NULL};
static const char *const s_post_keys[] = {"project_id", "project_item_id", "author",
                                          "content",    "scope",           NULL};
static const char *const s_edit_keys[] = {"message_id", "content", NULL};
static const char *const *const s_keys[] = {s_update_keys, s_post_keys, s_edit_keys};

/* The Marketplace's enums (4.8, 4.10). */
static const char *const s_status_types[] = {
    "rejected", "waiting_for_response", "registered", "in_progress", "ready", "closed", "approved",
    NULL};
static const char *const s_roles[] = {"provider", "mediator", NULL};
static const char *const s_scopes[] = {"public", "internal", "user_direct", NULL};
static const char *const s_status_keys[] = {"value", "type", NULL};
static const char *const s_author_keys[] = {"email", "name", "role", "uid", NULL};

const char *
ob_oms_command_name(ob_oms_command_kind_t kind)
{
    return (unsigned)kind < S_KINDS ? s_names[kind] : "unknown";
}

int
ob_oms_command_check_type(const ob_oms_command_t *command, const char *type)
{
    const char *prefix = "command.";
    size_t n = strlen(prefix);
    return strncmp(type, prefix, n) == 0 &&
                   strcmp(type + n, ob_oms_command_name(command->kind)) == 0
               ? 0
               : OB_ERR_FIELD_TYPE;
}

/* Writes a message into errbuf and returns rc. */
static int s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_fail(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Returns 1 if text is one of list (NULL-terminated). */
static int
s_in(const char *text, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(text, *list))
            return 1;
    return 0;
}

/* Checks that every key of root but "id" and "command" is in list (NULL-terminated). The
   message does not repeat the key: it comes from outside and may end in a log line. */
static int
s_only_keys(const json_t *root, const char *const *list, char *errbuf, size_t errlen)
{
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value)
    {
        if (strcmp(key, "id") != 0 && strcmp(key, "command") != 0 && !s_in(key, list))
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "a key that this command has not");
    }
    return 0;
}

/* Reads the id at obj.key into *ret_id: an integer >= 1; absent is 0 unless required. */
static int
s_id(const json_t *obj, const char *key, int required, uint64_t *ret_id, char *errbuf,
     size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "%s: missing", key);
        *ret_id = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an integer >= 1", key);
    *ret_id = (uint64_t)json_integer_value(v);
    return 0;
}

/* Checks the string at obj.key (named name in messages): required, at most max bytes, and
   one of list when list is not NULL. */
static int
s_string(const json_t *obj, const char *key, const char *name, size_t max, const char *const *list,
         char *errbuf, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "%s: missing", name);
    if (!json_is_string(v))
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not a string", name);
    if (json_string_length(v) > max)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s: over %zu bytes", name, max);
    if (list && !s_in(json_string_value(v), list))
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an allowed value", name);
    return 0;
}

/* Checks the object at obj.key: only keys of list (NULL: any key, each at most
   OB_GW_SECRET_KEY_MAX bytes, at most OB_GW_SECRETS_MAX of them), each value a string of at
   most max bytes; the keys of required (NULL-terminated) must be there. */
static int
s_object(const json_t *obj, const char *key, const char *const *list, const char *const *required,
         size_t max, char *errbuf, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_object(v))
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: not an object", key);
    if (!list && json_object_size(v) > OB_GW_SECRETS_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s: over %d keys", key, OB_GW_SECRETS_MAX);
    const char *k;
    const json_t *value;
    json_object_foreach((json_t *)v, k, value)
    {
        if (list && !s_in(k, list))
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: unknown key", key);
        if (!list && strlen(k) > OB_GW_SECRET_KEY_MAX)
            return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s: a key over %d bytes", key,
                          OB_GW_SECRET_KEY_MAX);
        if (!json_is_string(value))
            return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "%s: a value is not a string", key);
        if (json_string_length(value) > max)
            return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "%s: a value over %zu bytes", key, max);
    }
    for (size_t i = 0; required[i]; i++)
        if (!json_object_get(v, required[i]))
            return s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "%s.%s: missing", key, required[i]);
    return 0;
}

/* Reads "id" of root into ret_id. */
static int
s_command_id(const json_t *root, char ret_id[OB_GW_COMMAND_ID_MAX + 1], char *errbuf, size_t errlen)
{
    int rc = s_string(root, "id", "id", OB_GW_COMMAND_ID_MAX, NULL, errbuf, errlen);
    if (rc)
        return rc;
    const char *id = json_string_value(json_object_get(root, "id"));
    size_t len = strlen(id);
    if (len == 0 || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789._:-") != len)
        return s_fail(errbuf, errlen, OB_ERR_FIELD_TYPE, "id: not 1..%d of [A-Za-z0-9._:-]",
                      OB_GW_COMMAND_ID_MAX);
    memcpy(ret_id, id, len + 1);
    return 0;
}

/* Loads text as one JSON object. */
static int
s_load(const char *text, size_t len, json_t **ret_root, char *errbuf, size_t errlen)
{
    if (len > OB_GW_COMMAND_MAX)
        return s_fail(errbuf, errlen, OB_ERR_TOO_LARGE, "command over %u bytes", OB_GW_COMMAND_MAX);
    json_error_t err;
    json_t *root = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        /* Jansson names a syntax error, but returns from most failed allocations without a
           word (no text, code unknown). */
        enum json_error_code code = json_error_code(&err);
        if (code == json_error_out_of_memory || (code == json_error_unknown && !err.text[0]))
            return s_fail(errbuf, errlen, -ENOMEM, "out of memory");
        /* Not Jansson's text: it quotes the input near the error, which may be a secret. */
        return s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not JSON (error at byte %d)",
                      err.position);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return s_fail(errbuf, errlen, OB_ERR_MALFORMED, "not a JSON object");
    }
    *ret_root = root;
    return 0;
}

int
ob_oms_command_id(const char *text, size_t len, char ret_id[OB_GW_COMMAND_ID_MAX + 1])
{
    json_t *root = NULL;
    int rc = s_load(text, len, &root, NULL, 0);
    if (rc == 0)
        rc = s_command_id(root, ret_id, NULL, 0);
    json_decref(root);
    return rc;
}

/* Sets body.key to a copy of root.key when root has it. */
static int
s_copy(json_t *body, const json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && json_object_set(body, key, v) ? -ENOMEM : 0;
}

/* Checks an update_project_item (4.8) and fills body. */
static int
s_update(const json_t *root, ob_oms_command_t *cmd, json_t *body, char *errbuf, size_t errlen)
{
    int rc = s_id(root, "project_id", 1, &cmd->project_id, errbuf, errlen);
    if (rc == 0)
        rc = s_id(root, "project_item_id", 1, &cmd->project_item_id, errbuf, errlen);
    const json_t *status = json_object_get(root, "status");
    const json_t *secrets = json_object_get(root, "user_secrets");
    if (rc == 0 && !status && !secrets)
        rc = s_fail(errbuf, errlen, OB_ERR_MISSING_FIELD, "status or user_secrets: missing");
    if (rc == 0 && status)
        rc = s_object(root, "status", s_status_keys, s_status_keys, OB_GW_STATUS_MAX, errbuf,
                      errlen);
    if (rc == 0 && status)
        rc = s_string(status, "type", "status.type", OB_GW_STATUS_MAX, s_status_types, errbuf,
                      errlen);
    if (rc == 0 && secrets)
        rc = s_object(root, "user_secrets", NULL, (const char *const[]){NULL},
                      OB_GW_SECRET_VALUE_MAX, errbuf, errlen);
    if (rc == 0)
        rc = s_copy(body, root, "status");
    if (rc == 0)
        rc = s_copy(body, root, "user_secrets");
    return rc;
}

/* Checks a post_message (4.10) and fills body. */
static int
s_post(const json_t *root, ob_oms_command_t *cmd, json_t *body, char *errbuf, size_t errlen)
{
    static const char *const required[] = {"email", "name", "role", NULL};
    int rc = s_id(root, "project_id", 1, &cmd->project_id, errbuf, errlen);
    if (rc == 0)
        rc = s_id(root, "project_item_id", 0, &cmd->project_item_id, errbuf, errlen);
    if (rc == 0)
        rc = s_object(root, "author", s_author_keys, required, OB_GW_AUTHOR_FIELD_MAX, errbuf,
                      errlen);
    if (rc == 0)
        rc = s_string(json_object_get(root, "author"), "role", "author.role",
                      OB_GW_AUTHOR_FIELD_MAX, s_roles, errbuf, errlen);
    if (rc == 0)
        rc = s_string(root, "content", "content", OB_GW_CONTENT_MAX, NULL, errbuf, errlen);
    if (rc == 0)
        rc = s_string(root, "scope", "scope", OB_GW_STATUS_MAX, s_scopes, errbuf, errlen);
    static const char *const keys[] = {"project_id", "project_item_id", "author", "content",
                                       "scope"};
    for (size_t i = 0; rc == 0 && i < sizeof keys / sizeof keys[0]; i++)
        rc = s_copy(body, root, keys[i]);
    return rc;
}

/* Checks an edit_message (4.12) and fills body. */
static int
s_edit(const json_t *root, ob_oms_command_t *cmd, json_t *body, char *errbuf, size_t errlen)
{
    int rc = s_id(root, "message_id", 1, &cmd->message_id, errbuf, errlen);
    if (rc == 0)
        rc = s_string(root, "content", "content", OB_GW_CONTENT_MAX, NULL, errbuf, errlen);
    if (rc == 0)
        rc = s_copy(body, root, "content");
    return rc;
}

int
ob_oms_command_parse(const char *text, size_t len, ob_oms_command_t **ret_command, char *errbuf,
                     size_t errlen)
{
    static int (*const checks[])(const json_t *, ob_oms_command_t *, json_t *, char *, size_t) = {
        [OB_OMS_COMMAND_UPDATE_PROJECT_ITEM] = s_update,
        [OB_OMS_COMMAND_POST_MESSAGE] = s_post,
        [OB_OMS_COMMAND_EDIT_MESSAGE] = s_edit,
    };
    json_t *root = NULL, *body = NULL;
    ob_oms_command_t *cmd = NULL;
    int rc = s_load(text, len, &root, errbuf, errlen);
    if (rc)
        return rc;
    if (!(cmd = calloc(1, sizeof *cmd)) || !(body = json_object())) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = s_command_id(root, cmd->id, errbuf, errlen)) != 0)
        goto fail;
    if ((rc = s_string(root, "command", "command", OB_EVENT_TYPE_MAX,
                       (const char *const[]){s_names[0], s_names[1], s_names[2], NULL}, errbuf,
                       errlen)) != 0)
        goto fail;
    const char *name = json_string_value(json_object_get(root, "command"));
    for (unsigned k = 0; k < S_KINDS; k++)
        if (!strcmp(name, s_names[k]))
            cmd->kind = (ob_oms_command_kind_t)k;
    if ((rc = s_only_keys(root, s_keys[cmd->kind], errbuf, errlen)) != 0 ||
        (rc = checks[cmd->kind](root, cmd, body, errbuf, errlen)) != 0)
        goto fail;
    if (!(cmd->body = json_dumps(body, JSON_COMPACT))) {
        rc = -ENOMEM;
        goto fail;
    }
    cmd->body_len = strlen(cmd->body);
    json_decref(body);
    json_decref(root);
    *ret_command = cmd;
    return 0;
fail:
    if (rc == -ENOMEM)
        s_fail(errbuf, errlen, rc, "out of memory");
    ob_oms_command_destroy(&cmd);
    json_decref(body);
    json_decref(root);
    return rc;
}

void
ob_oms_command_destroy(ob_oms_command_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->body);
    free(*self_p);
    *self_p = NULL;
}

void
ob_oms_command_order_key(const ob_oms_command_t *command, char ret_key[OB_GW_ORDER_KEY_TEXT])
{
    if (command->kind == OB_OMS_COMMAND_EDIT_MESSAGE)
        snprintf(ret_key, OB_GW_ORDER_KEY_TEXT, "message.%" PRIu64, command->message_id);
    else if (command->project_item_id)
        snprintf(ret_key, OB_GW_ORDER_KEY_TEXT, "item.%" PRIu64 ".%" PRIu64, command->project_id,
                 command->project_item_id);
    else
        snprintf(ret_key, OB_GW_ORDER_KEY_TEXT, "project.%" PRIu64, command->project_id);
}

void
ob_oms_command_request(uint64_t oms_id, const ob_oms_command_t *command,
                       ob_oms_command_request_t *ret_request)
{
    ob_mkt_event_t target = {.project_id = command->project_id,
                             .project_item_id = command->project_item_id,
                             .message_id = command->message_id};
    ret_request->method = command->kind == OB_OMS_COMMAND_POST_MESSAGE ? "POST" : "PATCH";
    if (command->kind == OB_OMS_COMMAND_POST_MESSAGE) {
        snprintf(ret_request->path, sizeof ret_request->path, "/api/v1/oms/%" PRIu64 "/messages",
                 oms_id);
    } else {
        target.kind = command->kind == OB_OMS_COMMAND_UPDATE_PROJECT_ITEM ? OB_MKT_KIND_PROJECT_ITEM
                                                                          : OB_MKT_KIND_MESSAGE;
        ob_mkt_event_path(oms_id, &target, ret_request->path); /* a known kind: cannot fail */
    }
    ret_request->body = command->body;
    ret_request->body_len = command->body_len;
}

/* --- outcomes ------------------------------------------------------------------------------- */

/* A JSON string of text (len bytes) cut at OB_GW_ANSWER_MAX on a UTF-8 boundary, or null
   when it is not UTF-8. New reference, or NULL for no memory. */
static json_t *
s_text_value(const char *text, size_t len)
{
    if (len > OB_GW_ANSWER_MAX) {
        len = OB_GW_ANSWER_MAX;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
    }
    json_t *v = json_stringn(text ? text : "", len);
    return v ? v : json_null();
}

/* The answer as a JSON value (new reference), or as a string when it is not JSON. */
static json_t *
s_answer_value(const char *body, size_t len)
{
    json_t *v = NULL;
    if (len <= OB_GW_ANSWER_MAX)
        v = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    return v ? v : s_text_value(body, len);
}

/* Lets libsodium pick its fastest BLAKE2b. The result does not matter: without it,
   crypto_generichash uses the reference implementation, which gives the same bytes. */
static void
s_sodium_init(void)
{
    if (sodium_init() < 0) {
        /* nothing to do: the reference implementation is used */
    }
}

void
ob_oms_outcome_id(uint64_t oms_id, const char *command_id, char ret_id[OB_GW_EVENT_ID_TEXT])
{
    uint8_t digest[OB_GW_DIGEST_LEN];
    uint8_t prefix[sizeof S_DOMAIN + 8];
    s_sodium_init();
    memcpy(prefix, S_DOMAIN, sizeof S_DOMAIN);
    for (int i = 0; i < 8; i++)
        prefix[sizeof S_DOMAIN + i] = (uint8_t)(oms_id >> (56 - 8 * i));
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof digest);
    crypto_generichash_update(&st, prefix, sizeof prefix);
    crypto_generichash_update(&st, (const uint8_t *)command_id, strlen(command_id));
    crypto_generichash_final(&st, digest, sizeof digest);
    sodium_bin2hex(ret_id, OB_GW_EVENT_ID_TEXT, digest, sizeof digest);
}

/* Encodes the outcome event of command_id with data (stolen) and the ids of cmd (NULL:
   none). */
static int
s_outcome(uint64_t oms_id, const char *command_id, const char *type, const ob_oms_command_t *cmd,
          uint64_t message_id, json_t *data, uint64_t time_us, uint8_t **ret_buf, size_t *ret_len)
{
    char topic[OB_GW_TOPIC_TEXT];
    char id[OB_GW_EVENT_ID_TEXT];
    char *text = NULL;
    int rc = -ENOMEM;
    if (!data || !(text = json_dumps(data, JSON_COMPACT)))
        goto out;
    ob_oms_outcome_id(oms_id, command_id, id);
    ob_mkt_topic(oms_id, topic);
    ob_event_t event = {
        .id = id,
        .topic = topic,
        .type = type,
        .time_us = time_us,
        .source = OB_MKT_EVENT_SOURCE,
        .oms_id = oms_id,
        .project_id = cmd ? cmd->project_id : 0,
        .project_item_id = cmd ? cmd->project_item_id : 0,
        .message_id = message_id,
        .data = (const uint8_t *)text,
        .data_len = strlen(text),
    };
    rc = ob_event_encode(&event, ret_buf, ret_len);
out:
    free(text);
    json_decref(data);
    return rc;
}

/* {"command_id", "command", "status"}: new reference, or NULL for no memory. */
static json_t *
s_outcome_data(const char *command_id, const char *name, int status)
{
    json_t *data = json_object();
    if (data && (json_object_set_new(data, "command_id", json_string(command_id)) ||
                 json_object_set_new(data, "command", name ? json_string(name) : json_null()) ||
                 json_object_set_new(data, "status", json_integer(status)))) {
        json_decref(data);
        return NULL;
    }
    return data;
}

int
ob_oms_command_outcome(uint64_t oms_id, const ob_oms_command_t *command, int status,
                       const char *body, size_t len, uint64_t time_us, uint8_t **ret_buf,
                       size_t *ret_len)
{
    int ok = status >= 200 && status < 300;
    json_t *data = s_outcome_data(command->id, ob_oms_command_name(command->kind), status);
    json_t *value = NULL;
    uint64_t message_id = command->message_id;
    if (ok) {
        value = s_answer_value(body, len);
        json_t *answer_id = json_object_get(value, "id");
        if (command->kind == OB_OMS_COMMAND_POST_MESSAGE && json_is_integer(answer_id) &&
            json_integer_value(answer_id) > 0)
            message_id = (uint64_t)json_integer_value(answer_id);
    } else {
        ob_mkt_error_t *err = NULL;
        int rc = ob_mkt_error_parse(body, len, &err);
        if (rc == 0)
            value = json_loadb(err->json, err->json_len, JSON_DECODE_ANY, NULL);
        else if (rc != -ENOMEM) /* no error body: its text; out of memory: no outcome */
            value = s_text_value(body, len);
        ob_mkt_error_destroy(&err);
    }
    if (data && (!value || json_object_set_new(data, ok ? "response" : "error", value))) {
        json_decref(data);
        data = NULL;
    } else if (!data) {
        json_decref(value);
    }
    return s_outcome(oms_id, command->id, ok ? "command.completed" : "command.failed", command,
                     message_id, data, time_us, ret_buf, ret_len);
}

int
ob_oms_command_refusal(uint64_t oms_id, const char *command_id, const char *reason,
                       uint64_t time_us, uint8_t **ret_buf, size_t *ret_len)
{
    json_t *data = s_outcome_data(command_id, NULL, 0);
    if (data && json_object_set_new(data, "error", json_string(reason))) {
        json_decref(data);
        data = NULL;
    }
    return s_outcome(oms_id, command_id, "command.failed", NULL, 0, data, time_us, ret_buf,
                     ret_len);
}
