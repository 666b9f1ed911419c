/*  fuzz_perms: the broker's permissions file parser (broker/perms.c) on arbitrary bytes,
    loaded from the buffer (ob_perms_load_text).

    Properties checked beyond the sanitizers':
    - a failure is a negative code with a non-empty, terminated message naming the file;
    - a table that loads has at most OB_PERMS_CLIENTS_MAX clients, each with a valid name and
      key, found again by its key (keys are unique);
    - the rules are consistent for every client: whoever may subscribe ">" may subscribe
      anything, whoever may subscribe "oms.>" may subscribe "oms.7" and "oms.*"; every
      command of a fixed set gets 0 or OB_ERR_FORBIDDEN with a terminated reason; ACK and
      PING are always allowed; SUB_DELETE exactly with admin write. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "orderbus/orderbus.h"
#include "perms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer only (replay_main does not call it): zconfig reports a syntax error with
   zclock_log, straight to stdout, which zsys_set_logstream does not silence; libFuzzer
   itself writes to stderr. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!freopen("/dev/null", "w", stdout))
        return 0; /* only slower */
    return 0;
}

static void
s_require(int condition)
{
    if (!condition)
        abort();
}

static void
s_check_client(const ob_perms_t *perms, const ob_perms_client_t *client, ob_wire_msg_t *msg)
{
    s_require(ob_perms_name_valid(ob_perms_client_name(client)));
    s_require(ob_perms_key_valid(ob_perms_client_key(client)));
    s_require(ob_perms_lookup(perms, ob_perms_client_key(client)) == client);
    s_require(ob_perms_client_admin(client) <= OB_PERMS_ADMIN_WRITE);
    /* covering is monotonic: whoever may subscribe ">" may subscribe anything */
    if (ob_perms_may_subscribe(client, ">", 1))
        s_require(ob_perms_may_subscribe(client, "oms.*.x", 7) &&
                  ob_perms_may_subscribe(client, "a", 1));
    /* a topic may be subscribed iff one of its covering patterns is allowed: oms.> implies
       oms.7 */
    if (ob_perms_may_subscribe(client, "oms.>", 5))
        s_require(ob_perms_may_subscribe(client, "oms.7", 5) &&
                  ob_perms_may_subscribe(client, "oms.*", 5));
    static const int commands[] = {
        OB_CMD_SUBSCRIBE,  OB_CMD_TOPICS, OB_CMD_SUBS, OB_CMD_SUB_INFO, OB_CMD_SUB_REPOSITION,
        OB_CMD_SUB_DELETE, OB_CMD_FETCH,  OB_CMD_ACK,  OB_CMD_PING};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        ob_wire_msg_init(msg, commands[i]);
        snprintf(msg->topic, sizeof msg->topic, "oms.7");
        snprintf(msg->patterns[0], sizeof msg->patterns[0], "oms.>");
        snprintf(msg->patterns[1], sizeof msg->patterns[1], "mp.*");
        msg->pattern_count = 2;
        char reason[OB_REASON_MAX + 1];
        memset(reason, 'x', sizeof reason);
        int rc = ob_perms_check(client, msg, reason, sizeof reason);
        s_require(rc == 0 || rc == OB_ERR_FORBIDDEN);
        if (rc)
            s_require(memchr(reason, 0, sizeof reason) != NULL && reason[0]);
        if (commands[i] == OB_CMD_ACK || commands[i] == OB_CMD_PING)
            s_require(rc == 0);
        if (commands[i] == OB_CMD_SUB_DELETE)
            s_require((rc == 0) == (ob_perms_client_admin(client) == OB_PERMS_ADMIN_WRITE));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    static ob_wire_msg_t *msg;
    if (!initialised) {
        initialised = 1;
        zsys_set_logstream(NULL); /* czmq's own logs (see LLVMFuzzerInitialize too) */
        msg = malloc(sizeof *msg);
        s_require(msg != NULL);
    }
    ob_perms_t *perms = NULL;
    char err[OB_PERMS_ERR_MAX];
    memset(err, 'x', sizeof err);
    int rc = ob_perms_load_text((const char *)data, size, "fuzz.cfg", &perms, err, sizeof err);
    if (rc) {
        s_require(rc < 0 && perms == NULL);
        s_require(memchr(err, 0, sizeof err) != NULL && strstr(err, "fuzz.cfg"));
        return 0;
    }
    s_require(perms != NULL);
    size_t count = ob_perms_size(perms);
    s_require(count <= OB_PERMS_CLIENTS_MAX);
    for (size_t i = 0; i < count; i++)
        s_check_client(perms, ob_perms_client_at(perms, i), msg);
    s_require(ob_perms_client_at(perms, count) == NULL);
    s_require(ob_perms_lookup(perms, "not a key") == NULL);
    ob_perms_destroy(&perms);
    s_require(perms == NULL);
    return 0;
}
