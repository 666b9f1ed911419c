/*  orderbus-webhook: arguments, configuration, secrets, then the metrics server and one
    delivery actor per target (wh_deliver.h); wait for SIGINT or SIGTERM; stop the actors
    together (each lets its POSTs in flight end), then the server. Everything else lives in
    the classes of this folder.

    Exit status: 0 after a clean stop, 1 on a runtime failure (a secret file cannot be read,
    the address cannot be bound, an actor cannot start), 2 on a usage error. */
#include <curl/curl.h>
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>

#include "daemon.h"
#include "metrics.h"
#include "orderbus/orderbus.h"
#include "wh_config.h"
#include "wh_deliver.h"
#include "wh_http.h"

#define S_EXIT_RUNTIME 1 /* could not start */
#define S_EXIT_USAGE 2   /* bad arguments or configuration */
#define S_TICK_MS 100    /* longest sleep before looking at the signal flag again */

static ob_wh_config_t s_cfg;                  /* large (target slots): not on the stack */
static zactor_t *s_actors[OB_WH_TARGETS_MAX]; /* the delivery actor of each target */

int
main(int argc, char **argv)
{
    char errbuf[OB_WH_CONFIG_ERR_MAX];
    const char *prog = argc > 0 ? argv[0] : "orderbus-webhook";
    ob_wh_config_t *cfg = &s_cfg;

    if (ob_wh_config_parse(cfg, argc, argv, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_USAGE;
    }
    if (cfg->help) {
        ob_wh_config_usage(stdout, prog);
        return 0;
    }
    if (cfg->version) {
        printf("orderbus-webhook %s\n", OB_VERSION_STRING);
        return 0;
    }
    if (ob_wh_config_read_secrets(cfg, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        ob_wh_config_wipe(cfg);
        return S_EXIT_RUNTIME;
    }
    ob_daemon_log_init("orderbus-webhook");
    if (ob_daemon_signals())
        zsys_warning("cannot catch SIGHUP (nothing to reload)");
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        zsys_error("curl_global_init failed");
        ob_wh_config_wipe(cfg);
        return S_EXIT_RUNTIME;
    }

    int status = S_EXIT_RUNTIME;
    ob_wh_http_t *http = NULL;
    ob_wh_metrics_t metrics;
    ob_metrics_t *registry = ob_metrics_new();
    if (!registry || ob_wh_metrics_register(registry, &metrics)) {
        snprintf(errbuf, sizeof errbuf, "cannot make the metrics (no memory)");
        goto out;
    }
    if (!(http = ob_wh_http_start(cfg, registry, errbuf, sizeof errbuf)))
        goto out;
    for (size_t i = 0; i < cfg->target_count; i++) {
        ob_wh_deliver_config_t dc = {.target = &cfg->target[i],
                                     .endpoint = cfg->endpoint,
                                     .cert = cfg->cert[0] ? cfg->cert : NULL,
                                     .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL,
                                     .metrics = &metrics};
        if (!(s_actors[i] = ob_wh_deliver_start(&dc))) {
            snprintf(errbuf, sizeof errbuf, "target %s: its delivery actor did not start",
                     cfg->target[i].name);
            goto out;
        }
        zsys_info("target %s: %s, %zu patterns, %zu types, %zu secrets", cfg->target[i].name,
                  cfg->target[i].url, cfg->target[i].pattern_count, cfg->target[i].type_count,
                  cfg->target[i].secrets.count);
    }
    zsys_info("serving /metrics and /healthz on %s (port %u), %zu targets, broker %s", cfg->listen,
              (unsigned)ob_wh_http_port(http), cfg->target_count, cfg->endpoint);
    status = 0;
    while (!zsys_interrupted) {
        if (ob_daemon_reload_requested())
            zsys_info("SIGHUP: nothing to reload (restart to change the configuration)");
        zclock_sleep(S_TICK_MS);
    }
    zsys_info("stopping: letting the POSTs in flight end");
out:
    if (status) {
        zsys_error("%s", errbuf);
        fprintf(stderr, "%s: %s\n", prog, errbuf);
    }
    /* every actor starts stopping at once, then each is waited for */
    for (size_t i = 0; i < OB_WH_TARGETS_MAX; i++)
        if (s_actors[i])
            zstr_send(s_actors[i], "$TERM");
    for (size_t i = 0; i < OB_WH_TARGETS_MAX; i++)
        zactor_destroy(&s_actors[i]);
    ob_wh_http_stop(&http);
    ob_metrics_destroy(&registry);
    ob_wh_config_wipe(cfg);
    curl_global_cleanup();
    return status;
}
