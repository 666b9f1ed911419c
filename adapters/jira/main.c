/*  orderbus-jira: arguments, configuration, secrets, then the HTTP server (webhooks,
    /metrics, /healthz: jira_http.h) and the engine (jira_engine.h); wait for SIGINT or
    SIGTERM; stop the engine (a Jira request in flight is abandoned: its event comes again at
    the next start), then the server. Everything else lives in the classes of this folder.

    Exit status: 0 after a clean stop, 1 on a runtime failure (a secret file cannot be read,
    the address cannot be bound, the data directory is held by another process), 2 on a
    usage error. */
#include <curl/curl.h>
#include <czmq.h>
#include <stdio.h>

#include "daemon.h"
#include "jira_config.h"
#include "jira_engine.h"
#include "jira_http.h"
#include "metrics.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"

#define S_EXIT_RUNTIME 1 /* could not start */
#define S_EXIT_USAGE 2   /* bad arguments or configuration */
#define S_TICK_MS 100    /* longest sleep before looking at the signal flag again */

static ob_jira_config_t s_cfg;      /* large: not on the stack */
static ob_jira_secrets_t s_secrets; /* wiped at exit */

int
main(int argc, char **argv)
{
    char errbuf[OB_JIRA_CONFIG_ERR_MAX];
    const char *prog = argc > 0 ? argv[0] : "orderbus-jira";
    ob_jira_config_t *cfg = &s_cfg;

    if (ob_jira_config_parse(cfg, argc, argv, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_USAGE;
    }
    if (cfg->help) {
        ob_jira_config_usage(stdout, prog);
        return 0;
    }
    if (cfg->version) {
        printf("orderbus-jira %s\n", OB_VERSION_STRING);
        return 0;
    }
    if (ob_jira_config_read_secrets(cfg, &s_secrets, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_RUNTIME;
    }
    ob_daemon_log_init("orderbus-jira");
    if (ob_daemon_signals())
        zsys_warning("cannot catch SIGHUP (nothing to reload)");
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        zsys_error("curl_global_init failed");
        ob_jira_secrets_wipe(&s_secrets);
        return S_EXIT_RUNTIME;
    }

    int status = S_EXIT_RUNTIME;
    ob_jira_http_t *http = NULL;
    zactor_t *engine = NULL;
    ob_jira_map_t *map = NULL;
    ob_jira_metrics_t metrics;
    ob_metrics_t *registry = ob_metrics_new();
    if (!registry || ob_jira_metrics_register(registry, &metrics)) {
        snprintf(errbuf, sizeof errbuf, "cannot make the metrics (no memory)");
        goto out;
    }
    int rc = ob_jira_map_open(cfg->data_dir, &map);
    if (rc) {
        snprintf(errbuf, sizeof errbuf, "cannot open the id map in %.300s: %s", cfg->data_dir,
                 ob_strerror(rc));
        goto out;
    }
    ob_jira_engine_config_t ec = {
        .cfg = cfg, .secrets = &s_secrets, .metrics = &metrics, .map = map};
    if (!(engine = ob_jira_engine_start(&ec))) {
        snprintf(errbuf, sizeof errbuf, "the engine did not start (see the log)");
        goto out;
    }
    if (!(http =
              ob_jira_http_start(cfg, &s_secrets, registry, &metrics, map, errbuf, sizeof errbuf)))
        goto out;
    zsys_info("oms %" PRIu64 " <-> Jira %s project %s; webhooks, /metrics and /healthz on %s "
              "(port %u); broker %s",
              cfg->oms_id, cfg->url, cfg->project, cfg->listen, (unsigned)ob_jira_http_port(http),
              cfg->endpoint);
    status = 0;
    while (!zsys_interrupted) {
        if (ob_daemon_reload_requested())
            zsys_info("SIGHUP: nothing to reload (restart to change the configuration)");
        zclock_sleep(S_TICK_MS);
    }
    zsys_info("stopping");
out:
    if (status) {
        zsys_error("%s", errbuf);
        fprintf(stderr, "%s: %s\n", prog, errbuf);
    }
    zactor_destroy(&engine);
    ob_jira_http_stop(&http);
    ob_jira_map_close(&map); /* after both of its users */
    ob_metrics_destroy(&registry);
    ob_jira_secrets_wipe(&s_secrets);
    curl_global_cleanup();
    return status;
}
