/*  fuzz_tokens: the gateway's tokens file parser (gateway/tokens.c) on arbitrary bytes,
    loaded from the buffer (ob_tokens_load_text).

    Properties checked beyond the sanitizers':
    - a failure is a negative code with a non-empty, terminated message naming the file, and
      no table;
    - a table that loads has at most OB_GW_TOKEN_CLIENTS_MAX clients, each with a valid name,
      found again by it, with an admin level in range;
    - the rules are consistent for every client: whoever may subscribe ">" may subscribe
      anything; whoever may subscribe "oms.>" may subscribe "oms.7" and "oms.*"; reading
      needs admin read; nobody may publish to a dead-letter topic;
    - a token the file cannot hold (a fixed one, whose hash no input holds by chance) and
      malformed tokens find no client. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "orderbus/error.h"
#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libFuzzer only (replay_main does not call it): zconfig reports a syntax error with
   zclock_log, straight to stdout, which zsys_set_logstream does not silence. */
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
s_check_client(const ob_tokens_t *tokens, const ob_tokens_client_t *client)
{
    s_require(ob_tokens_name_valid(ob_tokens_client_name(client)));
    s_require(ob_tokens_find(tokens, ob_tokens_client_name(client)) == client);
    s_require(ob_tokens_client_admin(client) <= OB_TOKENS_ADMIN_WRITE);
    if (ob_tokens_may_subscribe(client, ">", 1))
        s_require(ob_tokens_may_subscribe(client, "oms.*.x", 7) &&
                  ob_tokens_may_subscribe(client, "a", 1));
    if (ob_tokens_may_subscribe(client, "oms.>", 5))
        s_require(ob_tokens_may_subscribe(client, "oms.7", 5) &&
                  ob_tokens_may_subscribe(client, "oms.*", 5));
    if (ob_tokens_may_read(client, "oms.7", 5))
        s_require(ob_tokens_may_admin(client, OB_TOKENS_ADMIN_READ) &&
                  ob_tokens_may_subscribe(client, "oms.7", 5));
    s_require(!ob_tokens_may_publish(client, "dlq.x", 5));
    s_require(ob_tokens_may_admin(client, OB_TOKENS_ADMIN_NONE));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        initialised = 1;
        zsys_set_logstream(NULL); /* czmq's own logs (see LLVMFuzzerInitialize too) */
    }
    ob_tokens_t *tokens = NULL;
    char err[OB_GW_TOKENS_ERR_MAX];
    memset(err, 'x', sizeof err);
    int rc = ob_tokens_load_text((const char *)data, size, "fuzz.cfg", &tokens, err, sizeof err);
    if (rc) {
        s_require(rc < 0 && tokens == NULL);
        s_require(memchr(err, 0, sizeof err) != NULL && strstr(err, "fuzz.cfg"));
        return 0;
    }
    s_require(tokens != NULL);
    size_t count = ob_tokens_size(tokens);
    s_require(count <= OB_GW_TOKEN_CLIENTS_MAX);
    for (size_t i = 0; i < count; i++)
        s_check_client(tokens, ob_tokens_client_at(tokens, i));
    s_require(ob_tokens_client_at(tokens, count) == NULL);
    static const char fixed[] = "obt_fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuz";
    s_require(ob_tokens_lookup(tokens, fixed, sizeof fixed - 1) == NULL);
    s_require(ob_tokens_lookup(tokens, (const char *)data, size) == NULL || size == 47);
    s_require(ob_tokens_lookup(tokens, "not a token", 11) == NULL);
    ob_tokens_destroy(&tokens);
    s_require(tokens == NULL);
    return 0;
}
