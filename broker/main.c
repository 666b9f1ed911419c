/*  orderbus-broker: arguments, configuration, start the server actor, wait, destroy.
    Everything else lives in the classes of this folder (config, store, writer, server).

    SIGHUP reloads the permissions file (CURVE mode): the server keeps the old table if the
    new one does not parse, and logs why.

    Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 on a runtime failure (the store
    cannot be opened, the endpoint cannot be bound, a socket failed), 2 on a usage error. */
#include <czmq.h>
#include <stdio.h>

#include "config.h"
#include "daemon.h"
#include "orderbus/orderbus.h"
#include "server.h"

#define S_EXIT_RUNTIME 1 /* could not start or failed while running */
#define S_EXIT_USAGE 2   /* bad arguments or configuration */
#define S_POLL_MS 1000   /* longest wait before looking at the signal flags again */

int
main(int argc, char **argv)
{
    ob_config_t cfg;
    char errbuf[OB_CONFIG_ERR_MAX];
    const char *prog = argc > 0 ? argv[0] : "orderbus-broker";

    if (ob_config_parse(&cfg, argc, argv, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_USAGE;
    }
    if (cfg.help) {
        ob_config_usage(stdout, prog);
        return 0;
    }
    if (cfg.version) {
        printf("orderbus-broker %s\n", OB_VERSION_STRING);
        return 0;
    }

    /* SIGINT and SIGTERM set zsys_interrupted; SIGHUP interrupts the poll below. */
    ob_daemon_log_init("orderbus-broker");
    if (ob_daemon_signals())
        zsys_warning("cannot catch SIGHUP: the permissions file cannot be reloaded");

    zactor_t *server = NULL;
    if (ob_server_start(&cfg, &server, errbuf, sizeof errbuf)) {
        zsys_error("%s", errbuf);
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_RUNTIME;
    }

    int status = 0;
    zpoller_t *poller = zpoller_new(server, NULL);
    while (!zsys_interrupted) {
        if (ob_daemon_reload_requested()) {
            zsys_info("SIGHUP: reloading the permissions file");
            if (ob_server_reload(server, errbuf, sizeof errbuf))
                zsys_error("reload failed, the old permissions stay: %s", errbuf);
        }
        if (zpoller_wait(poller, S_POLL_MS) == server) {
            char *message = zstr_recv(server);
            if (message && !strcmp(message, OB_SERVER_FAILED)) {
                zsys_error("the server stopped on its own");
                status = S_EXIT_RUNTIME;
            }
            zstr_free(&message);
            if (status)
                break;
        }
    }
    zpoller_destroy(&poller);
    zsys_info("stopping: finishing the commit in flight");
    zactor_destroy(&server); /* commits and confirms what was received, then returns */
    return status;
}
