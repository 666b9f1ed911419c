/*  test_perms: the permissions file parser and the rules (broker/perms.h, PROTOCOL.md 14.4),
    and orderbus-keys' printed entries fed back to the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <czmq.h>

#include "orderbus/orderbus.h"
#include "perms.h"

#define T_TEXT_MAX 8192 /* bytes in a test file */

static char s_key_a[41], s_key_b[41], s_key_c[41]; /* fresh Z85 public keys */

static int
s_setup(void **state)
{
    (void)state;
    zcert_t *certs[3] = {zcert_new(), zcert_new(), zcert_new()};
    snprintf(s_key_a, sizeof s_key_a, "%s", zcert_public_txt(certs[0]));
    snprintf(s_key_b, sizeof s_key_b, "%s", zcert_public_txt(certs[1]));
    snprintf(s_key_c, sizeof s_key_c, "%s", zcert_public_txt(certs[2]));
    for (int i = 0; i < 3; i++)
        zcert_destroy(&certs[i]);
    return 0;
}

/* The example and two admins. */
static void
s_example(char *text, size_t len)
{
    snprintf(text, len,
             "#   orderbus permissions\n"
             "client = oms-7\n"
             "    key = \"%s\"   # quoted: Z85 may hold '#'\n"
             "    publish = mp.7\n"
             "    subscribe = oms.7\n"
             "client = ops\n"
             "    key = \"%s\"\n"
             "    subscribe = oms.>\n"
             "    subscribe = mp.*\n"
             "    admin = read\n"
             "client = root.admin_1\n"
             "    key = \"%s\"\n"
             "    publish = >\n"
             "    subscribe = >\n"
             "    admin = write\n",
             s_key_a, s_key_b, s_key_c);
}

static ob_perms_t *
s_load(const char *text)
{
    ob_perms_t *perms = NULL;
    char err[OB_PERMS_ERR_MAX] = "";
    int rc = ob_perms_load_text(text, strlen(text), "test.cfg", &perms, err, sizeof err);
    if (rc)
        fail_msg("load failed: %s", err);
    return perms;
}

static void
test_valid(void **state)
{
    (void)state;
    char text[T_TEXT_MAX];
    s_example(text, sizeof text);
    ob_perms_t *perms = s_load(text);
    assert_int_equal(ob_perms_size(perms), 3);
    const ob_perms_client_t *oms7 = ob_perms_lookup(perms, s_key_a);
    assert_non_null(oms7);
    assert_string_equal(ob_perms_client_name(oms7), "oms-7");
    assert_int_equal(ob_perms_client_admin(oms7), OB_PERMS_ADMIN_NONE);
    const ob_perms_client_t *ops = ob_perms_lookup(perms, s_key_b);
    assert_string_equal(ob_perms_client_name(ops), "ops");
    assert_int_equal(ob_perms_client_admin(ops), OB_PERMS_ADMIN_READ);
    assert_int_equal(ob_perms_client_admin(ob_perms_lookup(perms, s_key_c)), OB_PERMS_ADMIN_WRITE);
    /* an unknown key, and not a key at all */
    char other[41];
    snprintf(other, sizeof other, "%s", s_key_a);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_null(ob_perms_lookup(perms, other));
    assert_null(ob_perms_lookup(perms, ""));
    assert_null(ob_perms_lookup(perms, NULL));
    ob_perms_destroy(&perms);
    assert_null(perms);
    ob_perms_destroy(&perms); /* NULL is fine */

    /* an empty file (comments only) is a valid table where nobody may connect */
    perms = s_load("# nobody yet\n\n");
    assert_int_equal(ob_perms_size(perms), 0);
    assert_null(ob_perms_lookup(perms, s_key_a));
    ob_perms_destroy(&perms);
}

/* Writes template into text (len bytes) with KEY1 replaced by key1 and KEY2 by key2. */
static void
s_fill(char *text, size_t len, const char *template, const char *key1, const char *key2)
{
    size_t used = 0;
    for (const char *p = template; *p && used + 41 < len;) {
        if (!strncmp(p, "KEY1", 4) || !strncmp(p, "KEY2", 4)) {
            const char *key = p[3] == '1' ? key1 : key2;
            memcpy(text + used, key, 40);
            used += 40;
            p += 4;
        } else
            text[used++] = *p++;
    }
    text[used] = '\0';
}

/* Each malformed file, and a word its message must hold. */
static void
test_errors(void **state)
{
    (void)state;
    char key_hash[41];
    memset(key_hash, 'a', 40);
    key_hash[40] = '\0';
    key_hash[14] = '#'; /* valid Z85 (last of a 5-character group), cut short unquoted */
    struct {
        const char *text; /* KEY1 and KEY2 stand for keys */
        const char *needle;
    } cases[] = {
        {"client = oms-7\n    publish = mp.7\n", "no key"},
        {"client = oms-7\n    key = \"KEY1\"\nclient = oms-7\n    key = \"KEY2\"\n",
         "name used twice"},
        {"client = a\n    key = \"KEY1\"\nclient = b\n    key = \"KEY2\"\n", "also client a"},
        {"client = Oms\n    key = \"KEY1\"\n", "client number 1"},
        {"client = \n    key = \"KEY1\"\n", "invalid"},
        {"client = a\n    key = \"short\"\n", "Z85"},
        {"client = a\n    key = \"KEY1\"\n    key = \"KEY2\"\n", "a second key"},
        {"client = a\n    key = \"KEY1\"\n    publish = oms.>.x\n", "publish pattern 'oms.>.x'"},
        {"client = a\n    key = \"KEY1\"\n    subscribe = OMS\n", "subscribe pattern"},
        {"client = a\n    key = \"KEY1\"\n    subscribe = \n", "subscribe pattern"},
        {"client = a\n    key = \"KEY1\"\n    admin = root\n", "admin 'root'"},
        {"client = a\n    key = \"KEY1\"\n    admin = read\n    admin = read\n", "second admin"},
        {"client = a\n    key = \"KEY1\"\n    publsh = x\n", "unknown key 'publsh'"},
        {"client = a\n    key = \"KEY1\"\n    publish = x\n        deep = 1\n", "children"},
        {"user = a\n    key = \"KEY1\"\n", "unknown item 'user'"},
        {"client = a\n  key = \"KEY1\"\n", "syntax"}, /* two-space indent: not ZPL */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[T_TEXT_MAX];
        const char *b = strstr(cases[i].needle, "twice") ? s_key_b : s_key_a;
        s_fill(text, sizeof text, cases[i].text, s_key_a, b);
        ob_perms_t *perms = NULL;
        char err[OB_PERMS_ERR_MAX] = "";
        int rc = ob_perms_load_text(text, strlen(text), "p.cfg", &perms, err, sizeof err);
        if (rc != OB_ERR_INVALID_ARGUMENT || perms)
            fail_msg("case %zu accepted (rc %d):\n%s", i, rc, text);
        if (!strstr(err, cases[i].needle) || !strstr(err, "p.cfg"))
            fail_msg("case %zu: message '%s' lacks '%s' or the file name", i, err, cases[i].needle);
    }
    /* an unquoted key holding '#' is cut at the comment: refused, not misread */
    char text[T_TEXT_MAX];
    snprintf(text, sizeof text, "client = a\n    key = %s\n", key_hash);
    ob_perms_t *perms = NULL;
    char err[OB_PERMS_ERR_MAX] = "";
    assert_int_equal(ob_perms_load_text(text, strlen(text), "p.cfg", &perms, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "quote it"));
    /* quoted, it is accepted */
    snprintf(text, sizeof text, "client = a\n    key = \"%s\"\n", key_hash);
    perms = s_load(text);
    assert_non_null(ob_perms_lookup(perms, key_hash));
    ob_perms_destroy(&perms);
    /* a NUL byte, and an unreadable file */
    assert_int_equal(ob_perms_load_text("client = a\0x", 12, "p.cfg", &perms, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_perms_load("/nonexistent/perms.cfg", &perms, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "/nonexistent/perms.cfg"));
    assert_null(perms);
}

/* One row: client (by name), a command and its topic or pattern, allowed or not. */
typedef struct {
    const char *client;
    int command;
    const char *arg; /* PUBLISH, FETCH: topic; SUBSCRIBE: pattern(s) separated by ' ' */
    int allowed;
} t_row_t;

static const t_row_t s_rows[] = {
    /* the example: oms-7 may subscribe oms.7 and publish mp.7 only */
    {"oms-7", OB_CMD_SUBSCRIBE, "oms.7", 1},
    {"oms-7", OB_CMD_PUBLISH, "mp.7", 1},
    {"oms-7", OB_CMD_SUBSCRIBE, "oms.8", 0},
    {"oms-7", OB_CMD_SUBSCRIBE, "oms.*", 0},
    {"oms-7", OB_CMD_SUBSCRIBE, "oms.>", 0},
    {"oms-7", OB_CMD_SUBSCRIBE, ">", 0},
    {"oms-7", OB_CMD_SUBSCRIBE, "*.7", 0},
    {"oms-7", OB_CMD_SUBSCRIBE, "oms.7 oms.8", 0}, /* each pattern must be covered */
    {"oms-7", OB_CMD_PUBLISH, "oms.7", 0},
    {"oms-7", OB_CMD_PUBLISH, "mp.8", 0},
    {"oms-7", OB_CMD_PUBLISH, "mp.7.x", 0},
    {"oms-7", OB_CMD_TOPICS, NULL, 0},
    {"oms-7", OB_CMD_SUBS, NULL, 0},
    {"oms-7", OB_CMD_SUB_INFO, NULL, 0},
    {"oms-7", OB_CMD_FETCH, "oms.7", 0}, /* admin none */
    {"oms-7", OB_CMD_SUB_DELETE, NULL, 0},
    {"oms-7", OB_CMD_SUB_REPOSITION, NULL, 0},
    {"oms-7", OB_CMD_UNSUBSCRIBE, NULL, 1},
    {"oms-7", OB_CMD_ACK, NULL, 1},
    {"oms-7", OB_CMD_NACK, NULL, 1},
    {"oms-7", OB_CMD_PING, NULL, 1},
    {"oms-7", OB_CMD_HELLO, NULL, 1},
    /* ops: subscribe oms.> and mp.*, admin read, no publish */
    {"ops", OB_CMD_SUBSCRIBE, "oms.7.x", 1},
    {"ops", OB_CMD_SUBSCRIBE, "oms.*", 1},
    {"ops", OB_CMD_SUBSCRIBE, "oms.> mp.*", 1},
    {"ops", OB_CMD_SUBSCRIBE, "mp.>", 0},
    {"ops", OB_CMD_SUBSCRIBE, "oms", 0},
    {"ops", OB_CMD_SUBSCRIBE, ">", 0},
    {"ops", OB_CMD_PUBLISH, "oms.7", 0},
    {"ops", OB_CMD_TOPICS, NULL, 1},
    {"ops", OB_CMD_SUBS, NULL, 1},
    {"ops", OB_CMD_SUB_INFO, NULL, 1},
    {"ops", OB_CMD_FETCH, "oms.7", 1},
    {"ops", OB_CMD_FETCH, "mp.7", 1},
    {"ops", OB_CMD_FETCH, "mp.7.x", 0}, /* admin read, but no subscribe right on it */
    {"ops", OB_CMD_SUB_DELETE, NULL, 0},
    {"ops", OB_CMD_SUB_REPOSITION, NULL, 0},
    /* root.admin_1: everything */
    {"root.admin_1", OB_CMD_SUBSCRIBE, ">", 1},
    {"root.admin_1", OB_CMD_PUBLISH, "oms.7", 1},
    {"root.admin_1", OB_CMD_FETCH, "x", 1},
    {"root.admin_1", OB_CMD_SUB_DELETE, NULL, 1},
    {"root.admin_1", OB_CMD_SUB_REPOSITION, NULL, 1},
};

static void
test_rules_table(void **state)
{
    (void)state;
    char text[T_TEXT_MAX];
    s_example(text, sizeof text);
    ob_perms_t *perms = s_load(text);
    const char *keys[] = {s_key_a, s_key_b, s_key_c};
    ob_wire_msg_t *msg = malloc(sizeof *msg);
    assert_non_null(msg);
    for (size_t i = 0; i < sizeof s_rows / sizeof s_rows[0]; i++) {
        const t_row_t *row = &s_rows[i];
        const ob_perms_client_t *client = NULL;
        for (size_t k = 0; k < 3 && !client; k++) {
            const ob_perms_client_t *c = ob_perms_lookup(perms, keys[k]);
            if (!strcmp(ob_perms_client_name(c), row->client))
                client = c;
        }
        assert_non_null(client);
        int allowed = 0;
        char reason[OB_REASON_MAX + 1] = "";
        if (row->command == OB_CMD_PUBLISH)
            allowed = ob_perms_may_publish(client, row->arg, strlen(row->arg));
        else {
            ob_wire_msg_init(msg, row->command);
            snprintf(msg->sub, sizeof msg->sub, "s1");
            if (row->command == OB_CMD_FETCH)
                snprintf(msg->topic, sizeof msg->topic, "%s", row->arg);
            if (row->command == OB_CMD_SUBSCRIBE) {
                char copy[256];
                snprintf(copy, sizeof copy, "%s", row->arg);
                for (char *p = strtok(copy, " "); p; p = strtok(NULL, " "))
                    snprintf(msg->patterns[msg->pattern_count++], sizeof msg->patterns[0], "%s", p);
            }
            int rc = ob_perms_check(client, msg, reason, sizeof reason);
            assert_true(rc == 0 || rc == OB_ERR_FORBIDDEN);
            allowed = rc == 0;
            /* a refusal names the command and the client */
            if (!allowed &&
                (!strstr(reason, ob_command_name(row->command)) || !strstr(reason, row->client)))
                fail_msg("row %zu: reason '%s' does not name the command and client", i, reason);
        }
        if (allowed != row->allowed)
            fail_msg("row %zu: %s %s %s: expected %s", i, row->client,
                     ob_command_name(row->command), row->arg ? row->arg : "",
                     row->allowed ? "allowed" : "forbidden");
    }
    free(msg);
    ob_perms_destroy(&perms);
}

/* Returns the orderbus-keys binary (OB_KEYS) and makes the scratch directory dir (a
   mkdtemp template); fails the test without them. */
static const char *
s_keys(char *dir)
{
    const char *keys = getenv("OB_KEYS");
    if (!keys)
        fail_msg("OB_KEYS (the orderbus-keys binary) is not set");
    assert_non_null(mkdtemp(dir));
    return keys;
}

/* orderbus-keys client prints an entry that the parser accepts as written, with the key of
   the certificate it wrote. */
static void
test_keys_entry(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_perms.XXXXXX";
    const char *keys = s_keys(dir);
    char command[1024];
    snprintf(command, sizeof command,
             "%s client oms-7 %s --publish mp.7 --subscribe oms.7 --subscribe 'oms.*.audit' "
             "--admin read 2>/dev/null",
             keys, dir);
    FILE *out = popen(command, "r");
    assert_non_null(out);
    char text[T_TEXT_MAX];
    size_t len = fread(text, 1, sizeof text - 1, out);
    text[len] = '\0';
    assert_int_equal(pclose(out), 0);

    ob_perms_t *perms = s_load(text);
    assert_int_equal(ob_perms_size(perms), 1);
    char cert_path[512];
    snprintf(cert_path, sizeof cert_path, "%s/oms-7.cert", dir);
    zcert_t *cert = zcert_load(cert_path);
    assert_non_null(cert);
    const ob_perms_client_t *client = ob_perms_lookup(perms, zcert_public_txt(cert));
    assert_non_null(client);
    assert_string_equal(ob_perms_client_name(client), "oms-7");
    assert_int_equal(ob_perms_client_admin(client), OB_PERMS_ADMIN_READ);
    assert_true(ob_perms_may_publish(client, "mp.7", 4));
    assert_true(ob_perms_may_subscribe(client, "oms.7", 5));
    assert_true(ob_perms_may_subscribe(client, "oms.x.audit", 11));
    assert_false(ob_perms_may_subscribe(client, "oms.>", 5));
    zcert_destroy(&cert);
    ob_perms_destroy(&perms);

    /* never overwrites; refuses a bad pattern before writing anything */
    snprintf(command, sizeof command, "%s client oms-7 %s 2>/dev/null >/dev/null", keys, dir);
    assert_int_not_equal(system(command), 0);
    snprintf(command, sizeof command,
             "%s client oms-8 %s --publish 'oms.>.x' 2>/dev/null >/dev/null", keys, dir);
    assert_int_not_equal(system(command), 0);
    snprintf(cert_path, sizeof cert_path, "%s/oms-8.cert", dir);
    assert_false(zsys_file_exists(cert_path));
    /* the broker's pair, the secret one private */
    snprintf(command, sizeof command, "%s broker %s 2>/dev/null", keys, dir);
    assert_int_equal(system(command), 0);
    snprintf(cert_path, sizeof cert_path, "%s/broker.cert_secret", dir);
    assert_int_equal(zsys_file_mode(cert_path) & 0777, 0600);
    snprintf(command, sizeof command, "rm -rf %s", dir);
    assert_int_equal(system(command), 0);
}

/* orderbus-keys makes a missing directory, and its missing parents, 0700 under umask 000
   (the help says 0700; zsys_dir_create alone made them 0777 less the umask), and leaves
   the mode of an existing directory alone. */
static void
test_keys_dir_mode(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_perms.XXXXXX";
    const char *keys = s_keys(dir);
    char command[1024], path[512];
    snprintf(command, sizeof command, "umask 000 && %s broker %s/a/keys 2>/dev/null", keys, dir);
    assert_int_equal(system(command), 0);
    snprintf(path, sizeof path, "%s/a/keys", dir);
    assert_int_equal(zsys_file_mode(path) & 07777, 0700);
    snprintf(path, sizeof path, "%s/a", dir);
    assert_int_equal(zsys_file_mode(path) & 07777, 0700);
    snprintf(path, sizeof path, "%s/a/keys/broker.cert_secret", dir);
    assert_int_equal(zsys_file_mode(path) & 0777, 0600);
    /* an existing directory keeps its mode: it is the owner's choice */
    snprintf(path, sizeof path, "%s/shared", dir);
    assert_int_equal(mkdir(path, 0750), 0);
    assert_int_equal(chmod(path, 0750), 0);
    snprintf(command, sizeof command, "umask 000 && %s client c %s >/dev/null 2>&1", keys, path);
    assert_int_equal(system(command), 0);
    assert_int_equal(zsys_file_mode(path) & 07777, 0750);
    snprintf(command, sizeof command, "rm -rf %s", dir);
    assert_int_equal(system(command), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_rules_table),   cmocka_unit_test(test_keys_entry),
        cmocka_unit_test(test_keys_dir_mode),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
