/*  orderbus-mp-double: a Marketplace (EOSC Ordering API) double for tests. It serves the
    Ordering API under /api/v1/ and a control interface under /_control/ on 127.0.0.1 only,
    fires OMS triggers, and keeps its whole state in memory. See tests/doubles/README.md.

    Once it listens it prints "listening 127.0.0.1:PORT" on stdout (one line, flushed) and,
    with --port-file, writes PORT to that file atomically (a temporary file renamed). SIGTERM
    or SIGINT stop it cleanly (exit 0). */
#include "double_main.h"
#include "mp_double.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_RETRY_SCALE_MS 1000  /* a Sidekiq second, by default a real one */
#define S_RETRY_SCALE_MAX 1000 /* --trigger-retry-scale-ms cap */

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: orderbus-mp-double [--port N] [--port-file FILE] "
        "[--trigger-retry-scale-ms MS]\n"
        "A Marketplace Ordering API double for tests, on 127.0.0.1 only.\n"
        "  --port N                    TCP port (default 0: an ephemeral port)\n"
        "  --port-file FILE            write the bound port to FILE (atomically) when ready\n"
        "  --trigger-retry-scale-ms MS a trigger retry waits Sidekiq's delay in seconds\n"
        "                              times MS milliseconds (default %d; 1..%d)\n"
        "  --help                      this text\n"
        "Serves /api/v1/... (the Ordering API) and /_control/... (see tests/doubles/README.md).\n"
        "Prints \"listening 127.0.0.1:PORT\" when ready; stops on SIGTERM or SIGINT.\n",
        S_RETRY_SCALE_MS, S_RETRY_SCALE_MAX);
}

int
main(int argc, char **argv)
{
    long port = 0, scale = S_RETRY_SCALE_MS;
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
        } else if (strcmp(a, "--trigger-retry-scale-ms") == 0) {
            if (double_number(argv[++i], 1, S_RETRY_SCALE_MAX, &scale) != 0)
                goto usage;
        } else {
            goto usage;
        }
    }
    double_block_signals(); /* before any thread starts */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "mp-double: curl_global_init failed\n");
        return 1;
    }
    int rc = 1;
    unsigned bound = 0;
    mpd_trigger_t *trigger = mpd_trigger_new(scale);
    mpd_store_t *store = trigger ? mpd_store_new(trigger) : NULL;
    struct MHD_Daemon *daemon = store ? mpd_api_start(store, (unsigned)port, &bound) : NULL;
    if (!daemon) {
        fprintf(stderr, "mp-double: cannot start on 127.0.0.1:%ld\n", port);
        goto out;
    }
    rc = double_serve("mp-double", port_file, bound) == 0 ? 0 : 1;
out:
    mpd_api_stop(store, daemon);
    mpd_trigger_destroy(&trigger);
    mpd_store_destroy(&store);
    curl_global_cleanup();
    return rc;
usage:
    s_usage(stderr);
    return 2;
}
