/*  orderbus-keys: creates CURVE certificates for the broker and its clients, and prints the
    permissions entry of a new client (proto/PROTOCOL.md 14); makes the gateway's bearer
    tokens and prints their tokens-file entries (common/token.h, gateway/tokens.h).

        orderbus-keys broker DIR
        orderbus-keys client NAME DIR [--publish P]... [--subscribe P]... [--admin LEVEL]
        orderbus-keys token NAME [--publish P]... [--subscribe P]... [--admin LEVEL]

    Certificates are czmq zcert files: DIR/X.cert holds the public key (give it to the other
    side), DIR/X.cert_secret both keys (mode 0600: keep it where only its owner reads it).
    An existing file is never overwritten. The client entry printed on stdout is exactly
    what the broker's permissions parser accepts (tests/unit/test_perms.c feeds it back).
    A token is shown once, on stderr, and never stored: the entry on stdout holds only its
    hash (tests/unit/test_gw_tokens.c feeds both back to the gateway's parser).

    Exit status: 0 on success, 1 if a file cannot be written or exists, 2 on a usage error. */
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "orderbus/orderbus.h"
#include "perms.h"
#include "token.h"

#define S_EXIT_FAIL 1   /* a file exists or cannot be written */
#define S_EXIT_USAGE 2  /* bad arguments */
#define S_PATH_MAX 4096 /* bytes in a certificate path */
#define S_DIR_MODE 0700 /* mode of a directory made for certificates */
#define S_DIR_UMASK 077 /* umask while making it: no access for group and others */

static void
s_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "NAME\n"
            "    %s - create CURVE certificates for orderbus and print permissions entries\n\n"
            "SYNOPSIS\n"
            "    %s broker DIR\n"
            "    %s client NAME DIR [--publish PATTERN]... [--subscribe PATTERN]...\n"
            "                       [--admin none|read|write]\n"
            "    %s token NAME [--publish PATTERN]... [--subscribe PATTERN]...\n"
            "                  [--admin none|read|write]\n\n"
            "DESCRIPTION\n"
            "    broker DIR\n"
            "        Writes DIR/broker.cert (the public key: give it to every client, as\n"
            "        --broker-cert or ORDERBUS_BROKER_CERT) and DIR/broker.cert_secret\n"
            "        (both keys, mode 0600: the broker's security/cert = DIR/broker.cert).\n\n"
            "    client NAME DIR\n"
            "        Writes DIR/NAME.cert and DIR/NAME.cert_secret (mode 0600) for the client\n"
            "        NAME (1..64 bytes of a-z, 0-9, _, . and -; its programs take\n"
            "        --cert DIR/NAME.cert), and prints on stdout the entry to append to the\n"
            "        broker's permissions file, then reload the broker (SIGHUP).\n"
            "        --publish PATTERN     a topic pattern it may publish to (repeatable)\n"
            "        --subscribe PATTERN   a topic pattern it may subscribe to (repeatable);\n"
            "                              it may subscribe to any pattern this one covers\n"
            "        --admin LEVEL         none (default), read (TOPICS, SUBS, SUB_INFO,\n"
            "                              FETCH) or write (read + SUB_REPOSITION, SUB_DELETE)\n"
            "        Patterns: dot-separated tokens of a-z, 0-9, _ and -, * for any one\n"
            "        token, a last > for one or more.\n\n"
            "    token NAME\n"
            "        Makes a random bearer token for the gateway's REST API (obt_ and 32\n"
            "        random bytes in base64url), shows it once on stderr (give it to the\n"
            "        client NAME: it sends `Authorization: Bearer TOKEN`), and prints on\n"
            "        stdout the entry to append to the gateway's tokens file, which holds\n"
            "        only the token's hash; then reload the gateway (SIGHUP). The same\n"
            "        --publish, --subscribe and --admin as above, with the same rules. A\n"
            "        lost token cannot be recovered: make a new one and replace the entry.\n\n"
            "    DIR is created (mode 0700, whatever the umask; missing parents too) if\n"
            "    missing. An existing certificate is never overwritten.\n\n"
            "EXAMPLE\n"
            "    %s broker /etc/orderbus/keys\n"
            "    %s client oms-7 keys --publish mp.7 --subscribe oms.7 >> permissions.cfg\n"
            "    %s token oms-7 --publish mp.7 --subscribe oms.7 >> tokens.cfg\n\n"
            "EXIT STATUS\n"
            "    0 on success, 1 if a file exists or cannot be written, 2 on a usage error.\n",
            prog, prog, prog, prog, prog, prog, prog);
}

/* Creates dir and its missing parents with mode S_DIR_MODE whatever the umask (they hold
   secret keys); an existing directory is left as it is. Returns 0, or -1 with errno set. */
static int
s_make_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    /* zsys_dir_create makes every missing component with mode 0775 less the umask */
    mode_t old = umask(S_DIR_UMASK);
    int rc = zsys_dir_create("%s", dir);
    umask(old);
    return rc ? -1 : chmod(dir, S_DIR_MODE);
}

/* Writes a new certificate as DIR/NAME.cert(+_secret). Returns 0 or S_EXIT_FAIL (said). */
static int
s_write_cert(const char *prog, const char *dir, const char *name, zcert_t **ret_cert)
{
    char path[S_PATH_MAX], secret[S_PATH_MAX + 8];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.cert", dir, name) >= sizeof path) {
        fprintf(stderr, "%s: path too long\n", prog);
        return S_EXIT_FAIL;
    }
    snprintf(secret, sizeof secret, "%s_secret", path);
    struct stat st;
    if (stat(path, &st) == 0 || stat(secret, &st) == 0) {
        fprintf(stderr, "%s: %s already exists: not overwritten (remove it first)\n", prog,
                stat(path, &st) == 0 ? path : secret);
        return S_EXIT_FAIL;
    }
    if (s_make_dir(dir)) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dir, strerror(errno));
        return S_EXIT_FAIL;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        fprintf(stderr, "%s: cannot create a key pair\n", prog);
        return S_EXIT_FAIL;
    }
    zcert_set_meta(cert, "name", "%s", name);
    /* the secret file is written 0600 from the start: umask for the duration */
    mode_t old = umask(077);
    int rc = zcert_save(cert, path);
    umask(old);
    if (rc || chmod(path, 0644)) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        zcert_destroy(&cert);
        return S_EXIT_FAIL;
    }
    fprintf(stderr, "%s: wrote %s (public) and %s (secret, mode 0600)\n", prog, path, secret);
    *ret_cert = cert;
    return 0;
}

/* Returns 1 if flag is arg or arg starts with "flag=", setting *ret_value; advances *i past
   the value. */
static int
s_flag(int argc, char **argv, int *i, const char *flag, const char **ret_value)
{
    const char *arg = argv[*i];
    size_t len = strlen(flag);
    if (strncmp(arg, flag, len))
        return 0;
    if (arg[len] == '=') {
        *ret_value = arg + len + 1;
        return 1;
    }
    if (arg[len] || *i + 1 >= argc)
        return 0;
    *ret_value = argv[++*i];
    return 1;
}

/* Reads the --publish, --subscribe and --admin arguments argv[first..argc) into lines (the
   entry's pattern lines, in order) and *ret_admin, checking each. Returns 0 or S_EXIT_USAGE
   (said). */
static int
s_entry_args(const char *prog, int argc, char **argv, int first, zlistx_t *lines,
             const char **ret_admin)
{
    const char *admin = "none";
    for (int i = first; i < argc; i++) {
        const char *value = NULL, *kind = NULL;
        if (s_flag(argc, argv, &i, "--publish", &value))
            kind = "publish";
        else if (s_flag(argc, argv, &i, "--subscribe", &value))
            kind = "subscribe";
        else if (s_flag(argc, argv, &i, "--admin", &value)) {
            admin = value;
            continue;
        } else {
            fprintf(stderr, "%s: unknown or incomplete argument '%s' (see --help)\n", prog,
                    argv[i]);
            return S_EXIT_USAGE;
        }
        if (!ob_pattern_valid(value, strlen(value))) {
            fprintf(stderr,
                    "%s: --%s pattern '%s' is invalid: dot-separated tokens of a-z, 0-9, _ and "
                    "-, * for one token, a last > for one or more\n",
                    prog, kind, value);
            return S_EXIT_USAGE;
        }
        zlistx_add_end(lines, zsys_sprintf("    %s = %s\n", kind, value));
    }
    if (strcmp(admin, "none") && strcmp(admin, "read") && strcmp(admin, "write")) {
        fprintf(stderr, "%s: --admin '%s' is not none, read or write\n", prog, admin);
        return S_EXIT_USAGE;
    }
    *ret_admin = admin;
    return 0;
}

/* Prints the entry's pattern lines and admin level on stdout. */
static void
s_print_entry_rest(zlistx_t *lines, const char *admin)
{
    for (char *line = zlistx_first(lines); line; line = zlistx_next(lines))
        fputs(line, stdout);
    printf("    admin = %s\n", admin);
}

/* orderbus-keys token NAME ...: a new token on stderr, its tokens-file entry on stdout. */
static int
s_token(const char *prog, const char *name, zlistx_t *lines, const char *admin)
{
    char token[OB_TOKEN_TEXT];
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    char hex[OB_TOKEN_HASH_TEXT];
    int rc = ob_token_generate(token);
    if (rc == 0)
        rc = ob_token_hash(token, strlen(token), hash);
    if (rc) {
        fprintf(stderr, "%s: cannot make a token: %s\n", prog, ob_strerror(rc));
        return S_EXIT_FAIL;
    }
    ob_token_hash_format(hash, hex);
    printf("client = %s\n", name);
    printf("    hash = %s\n", hex);
    s_print_entry_rest(lines, admin);
    fflush(stdout);
    /* stderr: the entry on stdout goes to the tokens file (>> tokens.cfg), the token to
       the person who runs this, once */
    fprintf(stderr, "%s: the token of %s (shown once; the tokens file holds only its hash):\n%s\n",
            prog, name, token);
    sodium_memzero(token, sizeof token);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *prog = argc > 0 ? argv[0] : "orderbus-keys";
    const char *slash = strrchr(prog, '/');
    if (slash)
        prog = slash + 1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout, prog);
            return 0;
        }
    if (argc == 3 && !strcmp(argv[1], "broker")) {
        zcert_t *cert = NULL;
        int rc = s_write_cert(prog, argv[2], "broker", &cert);
        zcert_destroy(&cert);
        return rc;
    }
    int is_token = argc >= 3 && !strcmp(argv[1], "token");
    if (!is_token && (argc < 4 || strcmp(argv[1], "client"))) {
        fprintf(stderr,
                "%s: expected `broker DIR`, `client NAME DIR ...` or `token NAME ...` (see "
                "--help)\n",
                prog);
        return S_EXIT_USAGE;
    }
    const char *name = argv[2], *dir = is_token ? NULL : argv[3];
    if (!ob_perms_name_valid(name)) {
        fprintf(stderr, "%s: client name '%s' is invalid: 1..%d bytes of a-z, 0-9, _, . and -\n",
                prog, name, OB_PERMS_NAME_MAX);
        return S_EXIT_USAGE;
    }
    /* The entry is built and its patterns checked before anything is written, so that a
       bad argument leaves no certificate behind. */
    zlistx_t *lines = zlistx_new();
    zlistx_set_destructor(lines, (zlistx_destructor_fn *)zstr_free);
    const char *admin = "none";
    int rc = s_entry_args(prog, argc, argv, is_token ? 3 : 4, lines, &admin);
    if (rc)
        goto out;
    if (is_token) {
        rc = s_token(prog, name, lines, admin);
        goto out;
    }
    zcert_t *cert = NULL;
    if ((rc = s_write_cert(prog, dir, name, &cert)))
        goto out;
    printf("client = %s\n", name);
    printf("    key = \"%s\"\n", zcert_public_txt(cert));
    s_print_entry_rest(lines, admin);
    zcert_destroy(&cert);
out:
    zlistx_destroy(&lines);
    return rc;
}
