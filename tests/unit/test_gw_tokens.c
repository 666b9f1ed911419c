/*  test_gw_tokens: the gateway's tokens file and rules (gateway/tokens.h): loading, lookup by
    presented token (found, unknown, malformed, one character off, among a thousand), the
    rules of PROTOCOL.md 14.4 as a table, a table of malformed files with their messages, a
    reload as a new table, and `orderbus-keys token` entries fed back to the parser. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "orderbus/error.h"
#include "token.h"
#include "tokens.h"

#define T_TEXT_MAX 8192 /* bytes of a test file */
#define T_MANY 1000     /* clients of the big table */
#define T_ENTRY_MAX 160 /* bytes of one generated entry */

static char s_token[3][OB_TOKEN_TEXT];     /* fresh tokens */
static char s_hash[3][OB_TOKEN_HASH_TEXT]; /* their hashes in hex */

static int
s_setup(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        uint8_t hash[OB_TOKEN_HASH_BYTES];
        assert_int_equal(ob_token_generate(s_token[i]), 0);
        assert_int_equal(ob_token_hash(s_token[i], strlen(s_token[i]), hash), 0);
        ob_token_hash_format(hash, s_hash[i]);
    }
    return 0;
}

/* PROTOCOL.md 14.4's example as tokens: an OMS, an operator, an administrator. */
static void
s_example(char *text, size_t len)
{
    snprintf(text, len,
             "#   orderbus-gateway tokens\n"
             "client = oms-7\n"
             "    hash = %s\n"
             "    publish = mp.7\n"
             "    subscribe = oms.7\n"
             "client = ops\n"
             "    hash = \"%s\"   # quoting is allowed\n"
             "    subscribe = oms.>\n"
             "    subscribe = mp.*\n"
             "    admin = read\n"
             "client = root.admin_1\n"
             "    hash = %s\n"
             "    publish = >\n"
             "    subscribe = >\n"
             "    admin = write\n",
             s_hash[0], s_hash[1], s_hash[2]);
}

static ob_tokens_t *
s_load(const char *text)
{
    ob_tokens_t *tokens = NULL;
    char err[OB_GW_TOKENS_ERR_MAX] = "";
    int rc = ob_tokens_load_text(text, strlen(text), "t.cfg", &tokens, err, sizeof err);
    if (rc)
        fail_msg("load failed: %s", err);
    return tokens;
}

static const ob_tokens_client_t *
s_lookup(const ob_tokens_t *tokens, const char *token)
{
    return ob_tokens_lookup(tokens, token, strlen(token));
}

static void
test_lookup(void **state)
{
    (void)state;
    char text[T_TEXT_MAX];
    s_example(text, sizeof text);
    ob_tokens_t *tokens = s_load(text);
    assert_int_equal(ob_tokens_size(tokens), 3);
    const char *names[] = {"oms-7", "ops", "root.admin_1"};
    const ob_tokens_admin_t admins[] = {OB_TOKENS_ADMIN_NONE, OB_TOKENS_ADMIN_READ,
                                        OB_TOKENS_ADMIN_WRITE};
    for (size_t i = 0; i < 3; i++) {
        const ob_tokens_client_t *client = s_lookup(tokens, s_token[i]);
        assert_non_null(client);
        assert_ptr_equal(client, ob_tokens_client_at(tokens, i)); /* file order */
        assert_ptr_equal(client, ob_tokens_find(tokens, names[i]));
        assert_string_equal(ob_tokens_client_name(client), names[i]);
        assert_int_equal(ob_tokens_client_admin(client), admins[i]);
    }
    assert_null(ob_tokens_client_at(tokens, 3));
    assert_null(ob_tokens_find(tokens, "nobody"));
    assert_null(ob_tokens_find(tokens, NULL));
    /* one character off, a fresh token, not a token, a prefix, the hash itself */
    char off[OB_TOKEN_TEXT];
    memcpy(off, s_token[0], sizeof off);
    off[OB_TOKEN_LEN - 1] = off[OB_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    assert_null(s_lookup(tokens, off));
    char fresh[OB_TOKEN_TEXT];
    assert_int_equal(ob_token_generate(fresh), 0);
    assert_null(s_lookup(tokens, fresh));
    assert_null(s_lookup(tokens, ""));
    assert_null(ob_tokens_lookup(tokens, NULL, 0));
    assert_null(ob_tokens_lookup(tokens, s_token[0], OB_TOKEN_LEN - 1));
    assert_null(s_lookup(tokens, s_hash[0]));
    ob_tokens_destroy(&tokens);
    assert_null(tokens);
    ob_tokens_destroy(&tokens);
    ob_tokens_destroy(NULL);

    /* an empty file is a valid table that lets nobody in */
    tokens = s_load("# nobody yet\n\n");
    assert_int_equal(ob_tokens_size(tokens), 0);
    assert_null(s_lookup(tokens, s_token[0]));
    ob_tokens_destroy(&tokens);
}

/* A thousand clients: each found by its token through the sorted index. */
static void
test_many(void **state)
{
    (void)state;
    char(*token)[OB_TOKEN_TEXT] = calloc(T_MANY, sizeof *token);
    char *text = malloc((size_t)T_MANY * T_ENTRY_MAX);
    assert_non_null(token);
    assert_non_null(text);
    size_t used = 0;
    for (int i = 0; i < T_MANY; i++) {
        uint8_t hash[OB_TOKEN_HASH_BYTES];
        char hex[OB_TOKEN_HASH_TEXT];
        assert_int_equal(ob_token_generate(token[i]), 0);
        assert_int_equal(ob_token_hash(token[i], OB_TOKEN_LEN, hash), 0);
        ob_token_hash_format(hash, hex);
        used += (size_t)snprintf(text + used, T_ENTRY_MAX,
                                 "client = c%d\n    hash = %s\n    publish = oms.%d\n", i, hex, i);
    }
    ob_tokens_t *tokens = s_load(text);
    assert_int_equal(ob_tokens_size(tokens), T_MANY);
    for (int i = 0; i < T_MANY; i++) {
        const ob_tokens_client_t *client = s_lookup(tokens, token[i]);
        char name[16], topic[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(topic, sizeof topic, "oms.%d", i);
        assert_non_null(client);
        assert_string_equal(ob_tokens_client_name(client), name);
        assert_true(ob_tokens_may_publish(client, topic, strlen(topic)));
    }
    ob_tokens_destroy(&tokens);
    free(text);
    free(token);
}

/* Each malformed file (HASH0 and HASH1 stand for the hashes) and a word of its message. */
static void
test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;   /* the file */
        const char *needle; /* in the message */
    } cases[] = {
        {"client = a\n    publish = mp.7\n", "no hash"},
        {"client = a\n    hash = HASH0\nclient = a\n    hash = HASH1\n", "name used twice"},
        {"client = a\n    hash = HASH0\nclient = b\n    hash = HASH0\n", "also client a"},
        {"client = Oms\n    hash = HASH0\n", "client number 1"},
        {"client = \n    hash = HASH0\n", "invalid"},
        {"client = a\n    hash = abc\n", "64 lowercase hex"},
        {"client = a\n    hash = HASH0\n    hash = HASH1\n", "a second hash"},
        {"client = a\n    hash = HASH0\n    publish = oms.>.x\n", "publish pattern 'oms.>.x'"},
        {"client = a\n    hash = HASH0\n    subscribe = OMS\n", "subscribe pattern"},
        {"client = a\n    hash = HASH0\n    subscribe = \n", "subscribe pattern"},
        {"client = a\n    hash = HASH0\n    admin = root\n", "admin 'root'"},
        {"client = a\n    hash = HASH0\n    admin = read\n    admin = read\n", "second admin"},
        {"client = a\n    hash = HASH0\n    token = x\n", "unknown key 'token'"},
        {"client = a\n    hash = HASH0\n    publish = x\n        deep = 1\n", "children"},
        {"user = a\n    hash = HASH0\n", "unknown item 'user'"},
        {"client = a\n  hash = HASH0\n", "syntax"}, /* two-space indent: not ZPL */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[T_TEXT_MAX];
        size_t used = 0;
        for (const char *p = cases[i].text; *p;) {
            if (!strncmp(p, "HASH", 4)) {
                memcpy(text + used, s_hash[p[4] - '0'], OB_TOKEN_HASH_HEX);
                used += OB_TOKEN_HASH_HEX;
                p += 5;
            } else
                text[used++] = *p++;
        }
        text[used] = '\0';
        ob_tokens_t *tokens = NULL;
        char err[OB_GW_TOKENS_ERR_MAX] = "";
        int rc = ob_tokens_load_text(text, used, "t.cfg", &tokens, err, sizeof err);
        if (rc != OB_ERR_INVALID_ARGUMENT || tokens)
            fail_msg("case %zu accepted (rc %d):\n%s", i, rc, text);
        if (!strstr(err, cases[i].needle) || !strstr(err, "t.cfg"))
            fail_msg("case %zu: message '%s' lacks '%s' or the file name", i, err, cases[i].needle);
        /* a message never holds a hash */
        for (int h = 0; h < 3; h++)
            assert_null(strstr(err, s_hash[h]));
    }
    ob_tokens_t *tokens = NULL;
    char err[OB_GW_TOKENS_ERR_MAX] = "";
    assert_int_equal(ob_tokens_load_text("client = a\0x", 12, "t.cfg", &tokens, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "NUL"));
    /* the cap is checked before the bytes are read */
    assert_int_equal(ob_tokens_load_text("", (size_t)OB_GW_TOKENS_FILE_MAX + 1, "t.cfg", &tokens,
                                         err, sizeof err),
                     OB_ERR_TOO_LARGE);
    assert_int_equal(ob_tokens_load("/nonexistent/tokens.cfg", &tokens, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/tokens.cfg"));
    assert_null(tokens);
}

/* One row: client, what, its topic or pattern, allowed or not. */
enum { T_PUBLISH, T_SUBSCRIBE, T_READ, T_ADMIN_READ, T_ADMIN_WRITE };
static const struct {
    const char *client; /* by name */
    int what;           /* T_* */
    const char *arg;    /* topic or pattern */
    int allowed;        /* expected */
} s_rows[] = {
    {"oms-7", T_SUBSCRIBE, "oms.7", 1},
    {"oms-7", T_PUBLISH, "mp.7", 1},
    {"oms-7", T_SUBSCRIBE, "oms.8", 0},
    {"oms-7", T_SUBSCRIBE, "oms.*", 0},
    {"oms-7", T_SUBSCRIBE, "oms.>", 0},
    {"oms-7", T_SUBSCRIBE, ">", 0},
    {"oms-7", T_PUBLISH, "oms.7", 0},
    {"oms-7", T_PUBLISH, "mp.8", 0},
    {"oms-7", T_PUBLISH, "mp.7.x", 0},
    {"oms-7", T_READ, "oms.7", 0}, /* admin none */
    {"oms-7", T_ADMIN_READ, NULL, 0},
    {"oms-7", T_ADMIN_WRITE, NULL, 0},
    {"ops", T_SUBSCRIBE, "oms.7.x", 1},
    {"ops", T_SUBSCRIBE, "oms.*", 1},
    {"ops", T_SUBSCRIBE, "mp.>", 0},
    {"ops", T_SUBSCRIBE, "oms", 0},
    {"ops", T_PUBLISH, "oms.7", 0},
    {"ops", T_READ, "oms.7", 1},
    {"ops", T_READ, "mp.7", 1},
    {"ops", T_READ, "mp.7.x", 0}, /* admin read, but no subscribe right on it */
    {"ops", T_ADMIN_READ, NULL, 1},
    {"ops", T_ADMIN_WRITE, NULL, 0},
    {"root.admin_1", T_SUBSCRIBE, ">", 1},
    {"root.admin_1", T_PUBLISH, "oms.7", 1},
    {"root.admin_1", T_PUBLISH, "dlq.billing", 0}, /* the broker's only */
    {"root.admin_1", T_PUBLISH, "dlq", 1},         /* a topic like any other */
    {"root.admin_1", T_READ, "dlq.billing", 1},
    {"root.admin_1", T_ADMIN_WRITE, NULL, 1},
};

static void
test_rules(void **state)
{
    (void)state;
    char text[T_TEXT_MAX];
    s_example(text, sizeof text);
    ob_tokens_t *tokens = s_load(text);
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const ob_tokens_client_t *c = ob_tokens_find(tokens, s_rows[i].client);
        const char *arg = s_rows[i].arg;
        assert_non_null(c);
        int allowed = -1;
        switch (s_rows[i].what) {
        case T_PUBLISH:
            allowed = ob_tokens_may_publish(c, arg, strlen(arg));
            break;
        case T_SUBSCRIBE:
            allowed = ob_tokens_may_subscribe(c, arg, strlen(arg));
            break;
        case T_READ:
            allowed = ob_tokens_may_read(c, arg, strlen(arg));
            break;
        case T_ADMIN_READ:
            allowed = ob_tokens_may_admin(c, OB_TOKENS_ADMIN_READ);
            break;
        default:
            allowed = ob_tokens_may_admin(c, OB_TOKENS_ADMIN_WRITE);
            break;
        }
        if (allowed != s_rows[i].allowed)
            fail_msg("row %zu: %s %d %s: expected %d", i, s_rows[i].client, s_rows[i].what,
                     arg ? arg : "", s_rows[i].allowed);
    }
    assert_string_equal(ob_tokens_admin_name(OB_TOKENS_ADMIN_NONE), "none");
    assert_string_equal(ob_tokens_admin_name(OB_TOKENS_ADMIN_READ), "read");
    assert_string_equal(ob_tokens_admin_name(OB_TOKENS_ADMIN_WRITE), "write");
    assert_true(ob_tokens_name_valid("a.b_c-9"));
    assert_false(ob_tokens_name_valid("A"));
    assert_false(ob_tokens_name_valid(""));
    assert_false(ob_tokens_name_valid(NULL));
    ob_tokens_destroy(&tokens);
}

/* A reload reads the file into a new table; the old one stays valid until destroyed. */
static void
test_reload(void **state)
{
    (void)state;
    char path[] = "/tmp/test_gw_tokens.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char text[T_TEXT_MAX];
    int len = snprintf(text, sizeof text, "client = a\n    hash = %s\n", s_hash[0]);
    assert_int_equal(write(fd, text, (size_t)len), len);
    ob_tokens_t *old = NULL, *fresh = NULL;
    char err[OB_GW_TOKENS_ERR_MAX] = "";
    assert_int_equal(ob_tokens_load(path, &old, err, sizeof err), 0);
    const ob_tokens_client_t *a = s_lookup(old, s_token[0]);
    assert_non_null(a);
    /* the token of a is revoked, b's added */
    assert_int_equal(ftruncate(fd, 0), 0);
    len = snprintf(text, sizeof text, "client = b\n    hash = %s\n", s_hash[1]);
    assert_int_equal(pwrite(fd, text, (size_t)len, 0), len);
    close(fd);
    assert_int_equal(ob_tokens_load(path, &fresh, err, sizeof err), 0);
    assert_null(s_lookup(fresh, s_token[0]));
    assert_non_null(s_lookup(fresh, s_token[1]));
    assert_string_equal(ob_tokens_client_name(a), "a"); /* still the old table's */
    ob_tokens_destroy(&old);
    ob_tokens_destroy(&fresh);
    unlink(path);
}

/* Runs orderbus-keys (OB_KEYS) with args; its stdout into out, its stderr into err (each
   size bytes). Returns its exit status. */
static int
s_keys(const char *args, char *out, char *err, size_t size)
{
    const char *keys = getenv("OB_KEYS");
    if (!keys)
        fail_msg("OB_KEYS (the orderbus-keys binary) is not set");
    char err_path[] = "/tmp/test_gw_tokens.err.XXXXXX";
    int fd = mkstemp(err_path);
    assert_true(fd >= 0);
    close(fd);
    char command[1024];
    snprintf(command, sizeof command, "%s %s 2>%s", keys, args, err_path);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    size_t len = fread(out, 1, size - 1, pipe);
    out[len] = '\0';
    int status = pclose(pipe);
    FILE *file = fopen(err_path, "r");
    assert_non_null(file);
    len = fread(err, 1, size - 1, file);
    err[len] = '\0';
    fclose(file);
    unlink(err_path);
    return status;
}

/* `orderbus-keys token` prints an entry the parser accepts and, apart, the token that the
   entry lets in; the entry does not hold the token. */
static void
test_keys_token(void **state)
{
    (void)state;
    char out[T_TEXT_MAX], err[T_TEXT_MAX];
    assert_int_equal(s_keys("token oms-7 --publish mp.7 --subscribe oms.7 --subscribe "
                            "'oms.*.audit' --admin=read",
                            out, err, sizeof out),
                     0);
    const char *token = strstr(err, OB_TOKEN_PREFIX);
    assert_non_null(token);
    assert_true(ob_token_valid(token, OB_TOKEN_LEN));
    assert_null(strstr(out, token + OB_TOKEN_PREFIX_LEN)); /* not even its random part */
    ob_tokens_t *tokens = s_load(out);
    assert_int_equal(ob_tokens_size(tokens), 1);
    const ob_tokens_client_t *client = ob_tokens_lookup(tokens, token, OB_TOKEN_LEN);
    assert_non_null(client);
    assert_string_equal(ob_tokens_client_name(client), "oms-7");
    assert_int_equal(ob_tokens_client_admin(client), OB_TOKENS_ADMIN_READ);
    assert_true(ob_tokens_may_publish(client, "mp.7", 4));
    assert_true(ob_tokens_may_subscribe(client, "oms.x.audit", 11));
    assert_false(ob_tokens_may_subscribe(client, "oms.>", 5));
    ob_tokens_destroy(&tokens);

    /* two runs, two tokens */
    char out2[T_TEXT_MAX], err2[T_TEXT_MAX];
    assert_int_equal(s_keys("token oms-7", out2, err2, sizeof out2), 0);
    assert_string_not_equal(strstr(err2, OB_TOKEN_PREFIX), token);
    /* usage errors: exit 2, nothing on stdout */
    static const char *const bad[] = {"token",
                                      "token Bad",
                                      "token a --publish 'oms.>.x'",
                                      "token a --admin root",
                                      "token a --frobnicate",
                                      "token a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int status = s_keys(bad[i], out, err, sizeof out);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || out[0])
            fail_msg("'%s': status %d, stdout '%s'", bad[i], status, out);
    }
    /* --help describes it */
    assert_int_equal(s_keys("--help", out, err, sizeof out), 0);
    assert_non_null(strstr(out, "token NAME"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup), cmocka_unit_test(test_many),
        cmocka_unit_test(test_errors), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_reload), cmocka_unit_test(test_keys_token),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
