/*  orderbus-jira-double: a Jira Server/Data Center double for tests. It serves a subset of
    Jira's REST API v2 under /rest/api/2/ and a control interface under /_control/ on
    127.0.0.1 only, fires webhooks, and keeps its whole state in memory. See
    tests/doubles/README.md.

    Once it listens it prints "listening 127.0.0.1:PORT" on stdout (one line, flushed) and,
    with --port-file, writes PORT to that file atomically. SIGTERM or SIGINT stop it cleanly
    (exit 0); bad arguments exit 2. */
#include "double_main.h"
#include "jira_double.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: orderbus-jira-double [--port N] [--port-file FILE]\n"
                 "A Jira Server/Data Center double (REST API v2 subset, webhooks) for tests, on\n"
                 "127.0.0.1 only.\n"
                 "  --port N          TCP port (default 0: an ephemeral port)\n"
                 "  --port-file FILE  write the bound port to FILE (atomically) when ready\n"
                 "  --help            this text\n"
                 "Serves /rest/api/2/... and /_control/... (see tests/doubles/README.md).\n"
                 "Prints \"listening 127.0.0.1:PORT\" when ready; stops on SIGTERM or SIGINT.\n");
}

int
main(int argc, char **argv)
{
    long port = 0;
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc)
            goto usage;
        if (strcmp(a, "--port") == 0) {
            if (double_number(argv[++i], 0, DOUBLE_PORT_MAX, &port) != 0)
                goto usage;
        } else if (strcmp(a, "--port-file") == 0) {
            port_file = argv[++i];
        } else {
            goto usage;
        }
    }
    double_block_signals(); /* before any thread starts */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "jira-double: curl_global_init failed\n");
        return 1;
    }
    int rc = 1;
    unsigned bound = 0;
    jd_hooks_t *hooks = jd_hooks_new();
    jd_store_t *store = hooks ? jd_store_new(hooks) : NULL;
    struct MHD_Daemon *daemon = store ? jd_api_start(store, (unsigned)port, &bound) : NULL;
    if (!daemon) {
        fprintf(stderr, "jira-double: cannot start on 127.0.0.1:%ld\n", port);
        goto out;
    }
    rc = double_serve("jira-double", port_file, bound) == 0 ? 0 : 1;
out:
    jd_api_stop(store, daemon);
    jd_hooks_destroy(&hooks); /* before the store: nothing queues once the API is stopped */
    jd_store_destroy(&store);
    curl_global_cleanup();
    return rc;
usage:
    s_usage(stderr);
    return 2;
}
