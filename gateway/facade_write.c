/*  ob_fw: see facade_write.h. */
#include "facade_write.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "orderbus/error.h"
#include "rest_parse.h"

#define S_DOMAIN "orderbus.gateway.facade.v1"
#define S_RANDOM_PREFIX "fr-"
#define S_KEYED_PREFIX "fk-"
#define S_ROOT "#/"
/* HTTP statuses (RFC 9110): this class has no libmicrohttpd to name them */
#define S_ACCEPTED 202
#define S_BAD_REQUEST 400
#define S_NOT_FOUND 404
#define S_STATUS_MAX 599 /* the last status an outcome may carry */
#define S_OK_MIN 200     /* 2xx: the Marketplace did it */
#define S_OK_END 300
#define S_ERROR_MIN 400 /* 4xx: it refused */

/* The request schemas of the reference (swagger project_item_update.json,
   message_write.json, message_update.json), keys in the documents' order: the order in
   which the json-schema gem checks them, so the first error is the Marketplace's. */
static const char s_schema_update[] =
    "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"object\",\"properties\":"
    "{\"value\":{\"type\":\"string\"},\"type\":{\"type\":\"string\",\"enum\":[\"rejected\","
    "\"waiting_for_response\",\"registered\",\"in_progress\",\"ready\",\"closed\",\"approved\"]}},"
    "\"additionalProperties\":false,\"required\":[\"value\",\"type\"]},\"user_secrets\":"
    "{\"type\":\"object\"}},\"anyOf\":[{\"required\":[\"status\"]},{\"required\":"
    "[\"user_secrets\"]}],\"additionalProperties\":false}";
static const char s_schema_post[] =
    "{\"type\":\"object\",\"properties\":{\"project_id\":{\"type\":\"integer\"},"
    "\"project_item_id\":{\"type\":\"integer\"},\"author\":{\"type\":\"object\",\"properties\":"
    "{\"uid\":{\"type\":\"string\"},\"email\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"},"
    "\"role\":{\"type\":\"string\",\"enum\":[\"provider\",\"mediator\"]}},"
    "\"additionalProperties\":false,\"required\":[\"email\",\"name\",\"role\"]},\"content\":"
    "{\"type\":\"string\"},\"scope\":{\"type\":\"string\",\"enum\":[\"public\",\"internal\","
    "\"user_direct\"]}},\"additionalProperties\":false,\"required\":[\"project_id\",\"author\","
    "\"content\",\"scope\"]}";
static const char s_schema_edit[] =
    "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":\"string\"}},"
    "\"additionalProperties\":false,\"required\":[\"content\"]}";

/* ---------------------------------------------------------------------------------------- */
/* Routing */

/* The writes are routed by the read side's router (facade_read.h), ids as it casts them. */
int
ob_fw_route(const char *method, const char *path, ob_fw_route_t *ret_route)
{
    ob_facade_route_t r;
    if (ob_facade_route(method, path, &r) || r.kind < OB_FACADE_R_UPDATE_ITEM)
        return OB_GW_ERR_NOT_FOUND;
    *ret_route = (ob_fw_route_t){.kind = r.kind == OB_FACADE_R_UPDATE_ITEM    ? OB_FW_UPDATE_ITEM
                                         : r.kind == OB_FACADE_R_POST_MESSAGE ? OB_FW_POST_MESSAGE
                                                                              : OB_FW_EDIT_MESSAGE,
                                 .oms_id = r.oms_id,
                                 .project_id = r.project_id,
                                 .item_id = r.item_id,
                                 .message_id = r.message_id};
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Command ids */

/* Writes prefix and the hex of OB_GW_FW_ID_BYTES bytes into ret_id. */
static void
s_id_text(const char *prefix, const unsigned char *bytes, char ret_id[OB_GW_COMMAND_ID_MAX + 1])
{
    char hex[2 * OB_GW_FW_ID_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, OB_GW_FW_ID_BYTES);
    snprintf(ret_id, OB_GW_COMMAND_ID_MAX + 1, "%s%s", prefix, hex);
}

static void
s_hash_u64(crypto_generichash_state *st, uint64_t v)
{
    unsigned char be[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        be[i] = (unsigned char)(v & 0xff);
    crypto_generichash_update(st, be, sizeof be);
}

int
ob_fw_command_id(const ob_fw_route_t *route, const char *client, const char *key, const char *body,
                 size_t len, char ret_id[OB_GW_COMMAND_ID_MAX + 1])
{
    unsigned char bytes[OB_GW_FW_ID_BYTES];
    if (!key) {
        randombytes_buf(bytes, sizeof bytes);
        s_id_text(S_RANDOM_PREFIX, bytes, ret_id);
        return 0;
    }
    size_t klen = strlen(key);
    if (klen == 0 || klen > OB_GW_IDEMPOTENCY_KEY_MAX)
        return OB_ERR_FIELD_TYPE;
    for (size_t i = 0; i < klen; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return OB_ERR_FIELD_TYPE;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof bytes);
    crypto_generichash_update(&st, (const unsigned char *)S_DOMAIN, sizeof S_DOMAIN);
    s_hash_u64(&st, route->oms_id);
    unsigned char kind = (unsigned char)route->kind;
    crypto_generichash_update(&st, &kind, 1);
    s_hash_u64(&st, route->project_id);
    s_hash_u64(&st, route->item_id);
    s_hash_u64(&st, route->message_id);
    crypto_generichash_update(&st, (const unsigned char *)client, strlen(client) + 1);
    crypto_generichash_update(&st, (const unsigned char *)key, klen + 1);
    crypto_generichash_update(&st, (const unsigned char *)body, len);
    crypto_generichash_final(&st, bytes, sizeof bytes);
    s_id_text(S_KEYED_PREFIX, bytes, ret_id);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The json-schema gem's first error, in its words (the keywords the three schemas use).
   tests/doubles/mp_double_api.c has its own checker of the same schemas, on purpose: the
   double is the independent model the facade is tested against, so it shares no code with
   the gateway (a fault in one is then caught by the other). */

static const char *
s_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

/* Appends text to list (OB_GW_FW_LIST_MAX bytes), ", " between items; cut when full. */
static void
s_list_add(char *list, const char *before, const char *text, const char *after)
{
    size_t used = strlen(list);
    snprintf(list + used, OB_GW_FW_LIST_MAX - used, "%s%s%s%s", used ? ", " : "", before, text,
             after);
}

/* Checks v at path against schema (both borrowed). Returns 1, or 0 with the first error in
   err (OB_GW_FW_ERROR_MAX bytes). */
static int
s_check(const json_t *schema, const json_t *v, const char *path, char *err)
{
    const char *kw;
    json_t *arg;
    json_object_foreach((json_t *)schema, kw, arg)
    {
        if (!strcmp(kw, "type") && strcmp(s_type_of(v), json_string_value(arg))) {
            snprintf(err, OB_GW_FW_ERROR_MAX,
                     "The property '%s' of type %s did not match the following type: %s", path,
                     s_type_of(v), json_string_value(arg));
            return 0;
        }
        if (!strcmp(kw, "enum")) {
            size_t i;
            json_t *e;
            int found = 0;
            char values[OB_GW_FW_LIST_MAX] = "";
            json_array_foreach(arg, i, e)
            {
                found |= json_equal(e, (json_t *)v);
                s_list_add(values, "", json_string_value(e), "");
            }
            if (!found) {
                char *shown = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                snprintf(err, OB_GW_FW_ERROR_MAX,
                         "The property '%s' value %s did not match one of the following values: %s",
                         path, shown ? shown : "?", values);
                free(shown);
                return 0;
            }
        }
        if (!json_is_object(v))
            continue;
        if (!strcmp(kw, "required")) {
            size_t i;
            json_t *name;
            json_array_foreach(arg, i, name)
            {
                if (!json_object_get(v, json_string_value(name))) {
                    snprintf(err, OB_GW_FW_ERROR_MAX,
                             "The property '%s' did not contain a required property of '%s'", path,
                             json_string_value(name));
                    return 0;
                }
            }
        }
        if (!strcmp(kw, "properties")) {
            const char *name;
            json_t *sub;
            json_object_foreach(arg, name, sub)
            {
                const json_t *value = json_object_get(v, name);
                char subpath[OB_GW_FW_PATH_MAX];
                snprintf(subpath, sizeof subpath, "%s%s%s", path, strcmp(path, S_ROOT) ? "/" : "",
                         name);
                if (value && !s_check(sub, value, subpath, err))
                    return 0;
            }
        }
        if (!strcmp(kw, "additionalProperties") && json_is_false(arg)) {
            const json_t *props = json_object_get(schema, "properties");
            char extra[OB_GW_FW_LIST_MAX] = "";
            const char *name;
            json_t *value;
            json_object_foreach((json_t *)v, name, value)
            {
                if (!json_object_get(props, name))
                    s_list_add(extra, "\"", name, "\"");
            }
            if (extra[0]) {
                snprintf(err, OB_GW_FW_ERROR_MAX,
                         "The property '%s' contains additional properties [%s] outside of the "
                         "schema when none are allowed",
                         path, extra);
                return 0;
            }
        }
        if (!strcmp(kw, "anyOf")) {
            size_t i;
            json_t *sub;
            int any = 0;
            char ignored[OB_GW_FW_ERROR_MAX];
            json_array_foreach(arg, i, sub) any |= s_check(sub, v, path, ignored);
            if (!any) {
                snprintf(err, OB_GW_FW_ERROR_MAX,
                         "The property '%s' of type %s did not match one or more of the required "
                         "schemas",
                         path, s_type_of(v));
                return 0;
            }
        }
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------- */
/* Answers */

void
ob_fw_answer_clear(ob_fw_answer_t *answer)
{
    free(answer->body);
    answer->body = NULL;
    answer->status = 0;
}

/* Fills *ret with status and root dumped (a reference taken; NULL: no memory). */
static int
s_answer(unsigned status, json_t *root, ob_fw_answer_t *ret)
{
    char *text = root ? json_dumps(root, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return -ENOMEM;
    ret->status = status;
    ret->body = text;
    return 0;
}

int
ob_fw_error(unsigned status, const char *text, ob_fw_answer_t *ret_answer)
{
    return s_answer(status, json_pack("{s:s}", "error", text), ret_answer);
}

int
ob_fw_accepted(uint64_t oms_id, const char *command_id, ob_fw_answer_t *ret_answer)
{
    char topic[OB_GW_TOPIC_TEXT];
    snprintf(topic, sizeof topic, "oms.%" PRIu64, oms_id);
    return s_answer(S_ACCEPTED,
                    json_pack("{s:s, s:s}", "command_id", command_id, "outcome_topic", topic),
                    ret_answer);
}

/* A refusal: status and {"error": text}; OB_ERR_INVALID_ARGUMENT, or -ENOMEM. */
static int
s_refuse(unsigned status, const char *text, ob_fw_answer_t *ret)
{
    return ob_fw_error(status, text, ret) ? -ENOMEM : OB_ERR_INVALID_ARGUMENT;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests to commands */

static const char *const s_names[] = {"update_project_item", "post_message", "edit_message"};

/* An id of the body (an integer) that no row can have: 404. */
static int
s_bad_id(const json_t *v)
{
    return v && (json_integer_value(v) < 1);
}

int
ob_fw_command(const ob_fw_route_t *route, const char *command_id, const char *body, size_t len,
              char **ret_command, size_t *ret_len, ob_fw_answer_t *ret_refusal)
{
    /* The path's ids first: the Marketplace looks for them before it reads a PATCH. */
    if (route->kind == OB_FW_UPDATE_ITEM && !route->project_id)
        return s_refuse(S_NOT_FOUND, OB_FACADE_E_PROJECT, ret_refusal);
    if (route->kind == OB_FW_UPDATE_ITEM && !route->item_id)
        return s_refuse(S_NOT_FOUND, OB_FACADE_E_ITEM, ret_refusal);
    if (route->kind == OB_FW_EDIT_MESSAGE && !route->message_id)
        return s_refuse(S_NOT_FOUND, OB_FACADE_E_MESSAGE, ret_refusal);
    json_t *in = json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    if (!in)
        return s_refuse(S_BAD_REQUEST, OB_FW_E_BAD_JSON, ret_refusal);
    const char *schema_text = route->kind == OB_FW_UPDATE_ITEM    ? s_schema_update
                              : route->kind == OB_FW_POST_MESSAGE ? s_schema_post
                                                                  : s_schema_edit;
    json_t *schema = json_loads(schema_text, 0, NULL);
    json_t *cmd = NULL;
    char err[OB_GW_FW_ERROR_MAX];
    int rc = 0;
    if (!schema) {
        rc = -ENOMEM;
        goto out;
    }
    if (!s_check(schema, in, S_ROOT, err)) {
        rc = s_refuse(S_BAD_REQUEST, err, ret_refusal);
        goto out;
    }
    const char *key;
    json_t *value;
    json_object_foreach(json_object_get(in, "user_secrets"), key, value)
    {
        if (!json_is_string(value)) { /* ProjectItem#user_secrets_is_simple */
            rc = s_answer(S_BAD_REQUEST,
                          json_pack("{s:{s:[s]}}", "error", "user_secrets", OB_FW_E_SECRETS),
                          ret_refusal)
                     ? -ENOMEM
                     : OB_ERR_INVALID_ARGUMENT;
            goto out;
        }
    }
    if (route->kind == OB_FW_POST_MESSAGE && s_bad_id(json_object_get(in, "project_id"))) {
        rc = s_refuse(S_NOT_FOUND, OB_FACADE_E_PROJECT, ret_refusal);
        goto out;
    }
    if (route->kind == OB_FW_POST_MESSAGE && s_bad_id(json_object_get(in, "project_item_id"))) {
        rc = s_refuse(S_NOT_FOUND, OB_FACADE_E_ITEM, ret_refusal);
        goto out;
    }
    /* The command: id and name, the path's ids, then the body's keys as sent. */
    cmd = json_pack("{s:s, s:s}", "id", command_id, "command", s_names[route->kind]);
    if (cmd && route->kind == OB_FW_UPDATE_ITEM &&
        (json_object_set_new(cmd, "project_id", json_integer((json_int_t)route->project_id)) ||
         json_object_set_new(cmd, "project_item_id", json_integer((json_int_t)route->item_id))))
        json_decref(cmd), cmd = NULL;
    if (cmd && route->kind == OB_FW_EDIT_MESSAGE &&
        json_object_set_new(cmd, "message_id", json_integer((json_int_t)route->message_id)))
        json_decref(cmd), cmd = NULL;
    if (!cmd || json_object_update(cmd, in)) {
        rc = -ENOMEM;
        goto out;
    }
    char *text = json_dumps(cmd, JSON_COMPACT);
    if (!text) {
        rc = -ENOMEM;
        goto out;
    }
    /* The connector's parser has the last word (its caps): refused here, not there. */
    ob_oms_command_t *parsed = NULL;
    char why[OB_OMS_COMMAND_ERR_MAX] = "";
    int prc = ob_oms_command_parse(text, strlen(text), &parsed, why, sizeof why);
    ob_oms_command_destroy(&parsed);
    if (prc == -ENOMEM) {
        free(text);
        rc = -ENOMEM;
        goto out;
    }
    if (prc) {
        free(text);
        rc = s_refuse(S_BAD_REQUEST, why, ret_refusal);
        goto out;
    }
    *ret_len = strlen(text);
    *ret_command = text;
out:
    json_decref(cmd);
    json_decref(schema);
    json_decref(in);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Outcomes to answers */

int
ob_fw_outcome(const char *data, size_t len, ob_fw_answer_t *ret_answer)
{
    json_error_t jerr;
    json_t *root = json_loadb(data ? data : "", len, 0, &jerr);
    if (!root)
        return json_error_code(&jerr) == json_error_out_of_memory ? -ENOMEM : OB_ERR_MALFORMED;
    json_t *status = json_object_get(root, "status");
    json_t *response = json_object_get(root, "response");
    json_t *error = json_object_get(root, "error");
    json_int_t code = json_integer_value(status);
    int rc = OB_ERR_MALFORMED;
    if (!json_is_integer(status) || code < 0 || code > S_STATUS_MAX)
        goto out;
    if (response && code >= S_OK_MIN && code < S_OK_END)
        rc = s_answer((unsigned)code, json_incref(response), ret_answer);
    else if (error && code >= S_ERROR_MIN)
        rc = s_answer((unsigned)code, json_pack("{s:O}", "error", error), ret_answer);
    else if (error && code == 0) /* the gateway refused the command */
        rc = s_answer(S_BAD_REQUEST, json_pack("{s:O}", "error", error), ret_answer);
out:
    json_decref(root);
    return rc;
}
