/*  fuzz_command: the OMS command parser (gateway/command.h) on arbitrary text, and the
    request and outcomes of whatever it accepts.

    Properties checked beyond "no crash, no leak, no over-read" (the sanitizers' part):
    - a refusal is one of the codes command.h documents, with a message, and leaves the output
      alone; ob_oms_command_id then agrees with the parser about the id when the refusal is
      not about the id;
    - an accepted command has a valid id (ob_oms_command_id reads the same), a request whose
      body is the JSON the parser made, an ordering key, and outcomes that encode as events
      for a 2xx and a 4xx answer (the answer being the input itself), with the same id. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "gw_limits.h"
#include "orderbus/error.h"
#include "orderbus/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
s_require(int cond)
{
    if (!cond)
        abort();
}

/* Encodes the outcome for status and returns its id in ret_id. */
static void
s_outcome(const ob_oms_command_t *cmd, int status, const char *answer, size_t len,
          char ret_id[OB_EVENT_ID_MAX + 1])
{
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    int rc = ob_oms_command_outcome(9, cmd, status, answer, len, 1, &buf, &buf_len);
    s_require(rc == 0 || rc == -ENOMEM);
    ret_id[0] = '\0';
    if (rc)
        return;
    ob_event_t *e = NULL;
    rc = ob_event_decode(buf, buf_len, &e);
    s_require(rc == 0 || rc == -ENOMEM);
    if (e) {
        s_require(!strcmp(e->type, status < 300 ? "command.completed" : "command.failed"));
        strcpy(ret_id, e->id);
    }
    ob_event_destroy(&e);
    free(buf);
}

static ob_oms_command_t s_mark; /* what the output points at: a refusal leaves it so */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    ob_oms_command_t *cmd = &s_mark;
    char err[OB_OMS_COMMAND_ERR_MAX] = "";
    char id[OB_GW_COMMAND_ID_MAX + 1] = "";
    int rc = ob_oms_command_parse(text, size, &cmd, err, sizeof err);
    int id_rc = ob_oms_command_id(text, size, id);
    if (rc) {
        s_require(rc == OB_ERR_MALFORMED || rc == OB_ERR_TOO_LARGE || rc == OB_ERR_MISSING_FIELD ||
                  rc == OB_ERR_FIELD_TYPE || rc == -ENOMEM);
        s_require(err[0] != '\0' && cmd == &s_mark);
        if (strncmp(err, "id:", 3) != 0 && rc != -ENOMEM && id_rc != -ENOMEM &&
            rc != OB_ERR_MALFORMED && !(rc == OB_ERR_TOO_LARGE && size > OB_GW_COMMAND_MAX))
            s_require(id_rc == 0);
        return 0;
    }
    s_require(id_rc == 0 || id_rc == -ENOMEM);
    s_require(id_rc != 0 || !strcmp(id, cmd->id));
    ob_oms_command_request_t req;
    char key[OB_GW_ORDER_KEY_TEXT];
    ob_oms_command_request(9, cmd, &req);
    s_require(req.body == cmd->body && strlen(req.body) == req.body_len && req.body[0] == '{');
    s_require(!strncmp(req.path, "/api/v1/oms/9/", 14));
    ob_oms_command_order_key(cmd, key);
    s_require(key[0] != '\0');
    char ok_id[OB_EVENT_ID_MAX + 1], failed_id[OB_EVENT_ID_MAX + 1];
    s_outcome(cmd, 200, text, size, ok_id);
    s_outcome(cmd, 422, text, size, failed_id);
    if (ok_id[0] && failed_id[0])
        s_require(!strcmp(ok_id, failed_id));
    ob_oms_command_destroy(&cmd);
    return 0;
}
