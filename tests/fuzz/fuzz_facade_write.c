/*  fuzz_facade_write: the facade's writes (gateway/facade_write.h) on arbitrary input. The
    first byte picks the route (update an item, post or edit a message); the rest is the
    request body, which also serves as an outcome's data and an Idempotency-Key.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - ob_fw_command either makes a command that the connector's parser takes, or refuses
      with an answer that is a JSON object with an "error", with a 400 or 404 status, and
      makes nothing;
    - a keyed command id is stable for the same input and one the parser takes;
    - ob_fw_outcome either answers with a status of 200..599 and a body that is JSON, or
      refuses with OB_ERR_MALFORMED and leaves the answer alone. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "facade_write.h"
#include "orderbus/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

static const char *const s_methods[] = {"PATCH", "POST", "PUT"};
static const char *const s_paths[] = {"/api/v1/oms/9/projects/2/project_items/3",
                                      "/api/v1/oms/9/messages", "/api/v1/oms/9/messages/4"};

/* A JSON text that is an object holding "error". */
static int
s_error_body(const char *text)
{
    json_t *root = json_loads(text, 0, NULL);
    int ok = json_is_object(root) && json_object_get(root, "error");
    json_decref(root);
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned pick = data[0] % 3;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    ob_fw_route_t route;
    s_require(ob_fw_route(s_methods[pick], s_paths[pick], &route) == 0);
    s_require((unsigned)route.kind == pick);

    /* a keyed id: the body's first bytes as the key, when they make one */
    char key[OB_GW_IDEMPOTENCY_KEY_MAX + 1];
    size_t klen = len < 16 ? len : 16;
    memcpy(key, body, klen);
    key[klen] = '\0';
    char id[OB_GW_COMMAND_ID_MAX + 1], again[OB_GW_COMMAND_ID_MAX + 1];
    int rc = ob_fw_command_id(&route, "c", key, body, len, id);
    if (rc == 0) {
        s_require(ob_fw_command_id(&route, "c", key, body, len, again) == 0);
        s_require(!strcmp(id, again));
    } else {
        s_require(rc == OB_ERR_FIELD_TYPE);
        s_require(ob_fw_command_id(&route, "c", NULL, body, len, id) == 0);
    }

    char *text = NULL;
    size_t text_len = 0;
    ob_fw_answer_t refusal = {0};
    rc = ob_fw_command(&route, id, body, len, &text, &text_len, &refusal);
    if (rc == 0) {
        s_require(text && strlen(text) == text_len && !refusal.body);
        ob_oms_command_t *cmd = NULL;
        char err[OB_OMS_COMMAND_ERR_MAX];
        int prc = ob_oms_command_parse(text, text_len, &cmd, err, sizeof err);
        s_require(prc == 0 || prc == -ENOMEM);
        s_require(!cmd || !strcmp(cmd->id, id));
        ob_oms_command_destroy(&cmd);
        free(text);
    } else if (rc == OB_ERR_INVALID_ARGUMENT) {
        s_require(!text && refusal.body);
        s_require(refusal.status == 400 || refusal.status == 404);
        s_require(s_error_body(refusal.body));
        ob_fw_answer_clear(&refusal);
    } else
        s_require(rc == -ENOMEM && !text && !refusal.body);

    ob_fw_answer_t answer = {.status = 1};
    rc = ob_fw_outcome(body, len, &answer);
    if (rc == 0) {
        s_require(answer.status >= 200 && answer.status <= 599 && answer.body);
        json_t *root = json_loads(answer.body, JSON_DECODE_ANY, NULL);
        s_require(root != NULL);
        json_decref(root);
        ob_fw_answer_clear(&answer);
    } else
        s_require((rc == OB_ERR_MALFORMED || rc == -ENOMEM) && answer.status == 1 && !answer.body);
    return 0;
}
