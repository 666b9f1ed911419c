/*  test_endpoint: the broker binds what PROTOCOL.md 3.1 accepts as local, guards its ipc
    socket file, refuses abstract ipc in plaintext, and writes its endpoints to a file.

    Runs the server actor in-process on a scratch directory. With the argument "ipv6" it runs
    only the tcp://[::1] test, and exits T_SKIP (CTest's SKIP_RETURN_CODE) on a machine that
    has no IPv6 loopback. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "config.h"
#include "endpoint.h"
#include "orderbus/orderbus.h"
#include "server.h"

#define T_SKIP 77       /* exit status CTest reports as skipped */
#define T_DIR_MAX 128   /* bytes in the scratch directory path */
#define T_PATH_MAX 256  /* bytes in a path in it */
#define T_FILE_MAX 1024 /* bytes read from an endpoint file */
#define T_WAIT_MS 5000  /* wait for a WELCOME */
#define T_LINES_MAX 8   /* endpoints in a file */

typedef struct t_fixture {
    char dir[T_DIR_MAX];   /* scratch directory */
    char file[T_PATH_MAX]; /* <dir>/endpoint: the endpoint file */
    ob_config_t cfg;       /* plaintext, data in <dir>/data, endpoint file set */
    zactor_t *server;      /* running server, or NULL */
} t_fixture_t;

static int
s_setup(void **state)
{
    t_fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_endpoint.XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->file, sizeof fx->file, "%s/endpoint", fx->dir);
    ob_config_defaults(&fx->cfg);
    fx->cfg.curve = 0;
    fx->cfg.metrics[0] = '\0'; /* the file then holds the ZeroMQ endpoints alone */
    snprintf(fx->cfg.data_dir, sizeof fx->cfg.data_dir, "%s/data", fx->dir);
    snprintf(fx->cfg.endpoint_file, sizeof fx->cfg.endpoint_file, "%s", fx->file);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    t_fixture_t *fx = *state;
    zactor_destroy(&fx->server);
    char command[T_PATH_MAX + 16];
    snprintf(command, sizeof command, "rm -rf %s", fx->dir);
    int rc = system(command);
    free(fx);
    return rc == 0 ? 0 : -1;
}

/* Starts the server on endpoint and reads its endpoint file into lines (T_LINES_MAX
   entries pointing into text). Returns the number of lines. */
static size_t
s_start(t_fixture_t *fx, const char *endpoint, char *text, char **lines)
{
    char err[OB_CONFIG_ERR_MAX];
    snprintf(fx->cfg.endpoint, sizeof fx->cfg.endpoint, "%s", endpoint);
    assert_int_equal(ob_config_validate(&fx->cfg, err, sizeof err), 0);
    if (ob_server_start(&fx->cfg, &fx->server, err, sizeof err))
        fail_msg("cannot start on %s: %s", endpoint, err);
    FILE *file = fopen(fx->file, "r");
    assert_non_null(file);
    size_t len = fread(text, 1, T_FILE_MAX - 1, file);
    fclose(file);
    text[len] = '\0';
    assert_true(len > 0 && text[len - 1] == '\n'); /* whole: written, then renamed */
    char tmp[T_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", fx->file);
    assert_int_equal(access(tmp, F_OK), -1); /* nothing left behind */
    size_t count = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && count < T_LINES_MAX;
         line = strtok_r(NULL, "\n", &save))
        lines[count++] = line;
    return count;
}

/* A client gets a WELCOME on endpoint. */
static void
s_assert_welcome(const char *endpoint)
{
    ob_client_t *client = ob_client_new(endpoint, NULL);
    assert_non_null(client);
    assert_int_equal(ob_client_connect(client, T_WAIT_MS), 0);
    ob_client_destroy(&client);
}

/* tcp://localhost:* binds each loopback address of localhost on one port (libzmq alone
   fails with ENODEV: it takes the name for an interface), and the file names them. */
static void
test_localhost(void **state)
{
    t_fixture_t *fx = *state;
    char text[T_FILE_MAX], *lines[T_LINES_MAX];
    size_t count = s_start(fx, "tcp://localhost:*", text, lines);
    assert_true(count >= 1);
    const char *port = strrchr(lines[0], ':');
    assert_non_null(port);
    assert_string_not_equal(port, ":*");
    for (size_t i = 0; i < count; i++) {
        assert_true(!strncmp(lines[i], "tcp://127.", strlen("tcp://127.")) ||
                    !strncmp(lines[i], "tcp://[::1]:", strlen("tcp://[::1]:")));
        assert_string_equal(strrchr(lines[i], ':'), port); /* one port for all */
        s_assert_welcome(lines[i]);
    }
}

/* An explicit port: the file repeats it, and a second broker on it fails with the reason. */
static void
test_explicit_port(void **state)
{
    t_fixture_t *fx = *state;
    char text[T_FILE_MAX], *lines[T_LINES_MAX];
    assert_int_equal(s_start(fx, "tcp://127.0.0.1:*", text, lines), 1);
    char endpoint[T_FILE_MAX];
    snprintf(endpoint, sizeof endpoint, "%s", lines[0]);
    ob_config_t other = fx->cfg;
    snprintf(other.data_dir, sizeof other.data_dir, "%s/data2", fx->dir);
    snprintf(other.endpoint, sizeof other.endpoint, "%.*s", OB_CONFIG_ENDPOINT_MAX, endpoint);
    snprintf(other.endpoint_file, sizeof other.endpoint_file, "%s/endpoint2", fx->dir);
    zactor_t *second = NULL;
    char err[OB_CONFIG_ERR_MAX];
    assert_int_equal(ob_server_start(&other, &second, err, sizeof err), -EADDRINUSE);
    assert_non_null(strstr(err, endpoint));
    assert_false(zsys_file_exists(other.endpoint_file)); /* never for a broker that failed */
    /* a restart on the port it had comes back there */
    zactor_destroy(&fx->server);
    assert_int_equal(s_start(fx, endpoint, text, lines), 1);
    assert_string_equal(lines[0], endpoint);
    s_assert_welcome(endpoint);
}

/* An endpoint file that cannot be written fails the start, naming it. */
static void
test_file_unwritable(void **state)
{
    t_fixture_t *fx = *state;
    snprintf(fx->cfg.endpoint, sizeof fx->cfg.endpoint, "tcp://127.0.0.1:*");
    snprintf(fx->cfg.endpoint_file, sizeof fx->cfg.endpoint_file, "%s/none/endpoint", fx->dir);
    char err[OB_CONFIG_ERR_MAX];
    assert_int_equal(ob_server_start(&fx->cfg, &fx->server, err, sizeof err), -ENOENT);
    assert_null(fx->server);
    assert_non_null(strstr(err, fx->cfg.endpoint_file));
}

/* An ipc socket file is 0600 whatever the umask: a umask of 000 would make it 0777, open to
   every local user, which plaintext mode would give every right. */
static void
test_ipc_mode(void **state)
{
    t_fixture_t *fx = *state;
    char endpoint[T_PATH_MAX + 16], path[T_PATH_MAX];
    snprintf(path, sizeof path, "%s/broker.ipc", fx->dir);
    snprintf(endpoint, sizeof endpoint, "ipc://%s", path);
    char text[T_FILE_MAX], *lines[T_LINES_MAX];
    mode_t old = umask(0);
    size_t count = s_start(fx, endpoint, text, lines);
    umask(old);
    assert_int_equal(count, 1);
    assert_string_equal(lines[0], endpoint);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, OB_ENDPOINT_IPC_MODE);
    assert_int_equal(OB_ENDPOINT_IPC_MODE, 0600);
    s_assert_welcome(endpoint);
}

/* Plaintext on an abstract ipc name is refused at validation, with the reason; CURVE on it
   is not (the handshake authenticates). */
static void
test_abstract_refused(void **state)
{
    t_fixture_t *fx = *state;
    char err[OB_CONFIG_ERR_MAX];
    snprintf(fx->cfg.endpoint, sizeof fx->cfg.endpoint, "ipc://@orderbus-test");
    assert_int_equal(ob_config_validate(&fx->cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "abstract"));
    assert_non_null(strstr(err, "ipc://@orderbus-test"));
    fx->cfg.curve = 1;
    snprintf(fx->cfg.cert, sizeof fx->cfg.cert, "/nonexistent.cert");
    snprintf(fx->cfg.permissions, sizeof fx->cfg.permissions, "/nonexistent.cfg");
    assert_int_equal(ob_config_validate(&fx->cfg, err, sizeof err), 0);
}

/* tcp://[::1]:* binds (ZMQ_IPV6) and a client reaches it. */
static void
test_ipv6_loopback(void **state)
{
    t_fixture_t *fx = *state;
    char text[T_FILE_MAX], *lines[T_LINES_MAX];
    assert_int_equal(s_start(fx, "tcp://[::1]:*", text, lines), 1);
    assert_int_equal(strncmp(lines[0], "tcp://[::1]:", strlen("tcp://[::1]:")), 0);
    s_assert_welcome(lines[0]);
}

/* Returns 1 if this machine can bind its IPv6 loopback address. */
static int
s_have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

int
main(int argc, char **argv)
{
    zsys_init();
    zsys_set_logstream(NULL); /* the server's start-up lines are not the test's output */
    if (argc > 1 && !strcmp(argv[1], "ipv6")) {
        if (!s_have_ipv6_loopback()) {
            printf("no IPv6 loopback (::1) on this machine: skipped\n");
            return T_SKIP;
        }
        const struct CMUnitTest ipv6[] = {
            cmocka_unit_test_setup_teardown(test_ipv6_loopback, s_setup, s_teardown),
        };
        return cmocka_run_group_tests(ipv6, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_localhost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_explicit_port, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_file_unwritable, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_ipc_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_abstract_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
