/*  orderbus-gateway: arguments, configuration, secrets, then the store, the feed actor (the
    Marketplace-to-bus direction), an upstream connector per OMS (the bus-to-Marketplace
    direction), the HTTP server; wait for a signal; stop in the reverse order. Everything else lives
   in the classes of this folder.

    Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 on a runtime failure (the data
    directory is held by another gateway, the address cannot be bound, a secret cannot be
    read), 2 on a usage error. */
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>

#include "connector.h"
#include "daemon.h"
#include "feed.h"
#include "gw_config.h"
#include "gw_http.h"
#include "gw_stats.h"
#include "gw_store.h"
#include "mdb.h"
#include "orderbus/error.h"
#include "orderbus/orderbus.h"

#define S_EXIT_RUNTIME 1 /* could not start */
#define S_EXIT_USAGE 2   /* bad arguments or configuration */
#define S_TICK_MS 100    /* longest sleep before looking at the signal flags again */

static ob_gw_config_t s_cfg;                  /* large (OMS slots): not on the stack */
static zactor_t *s_connectors[OB_GW_OMS_MAX]; /* the upstream connector of each OMS */

/* Starts the upstream connector (mp.<oms_id> -> Marketplace, connector.h) of every OMS, with
   the broker settings of the feed, its records in the gateway's LMDB environment and its
   metrics in the gateway's registry. Returns 0, or -1 with the reason in errbuf. */
static int
s_start_connectors(const ob_gw_config_t *cfg, ob_gw_store_t *store, ob_gw_stats_t *stats,
                   ob_connector_metrics_t *metrics, char *errbuf, size_t errlen)
{
    if (cfg->oms_count && ob_connector_metrics_register(stats->registry, metrics)) {
        snprintf(errbuf, errlen, "cannot register the connector's metrics");
        return -1;
    }
    for (size_t i = 0; i < cfg->oms_count; i++) {
        /* The OMS's `timeout` bounds every Marketplace request, commands included. */
        unsigned timeout_ms = (unsigned)cfg->oms[i].timeout_ms;
        ob_connector_config_t c = {.oms_id = cfg->oms[i].id,
                                   .base_url = cfg->oms[i].url,
                                   .token = cfg->oms[i].token,
                                   .endpoint = cfg->endpoint,
                                   .cert = cfg->cert[0] ? cfg->cert : NULL,
                                   .broker_cert = cfg->broker_cert[0] ? cfg->broker_cert : NULL,
                                   .env = ob_gw_store_env(store),
                                   .resize = ob_gw_store_resize_lock(store),
                                   .metrics = metrics,
                                   .timeout_ms = timeout_ms,
                                   .connect_ms = timeout_ms < OB_CONNECTOR_CONNECT_MS_DEFAULT
                                                     ? timeout_ms
                                                     : OB_CONNECTOR_CONNECT_MS_DEFAULT};
        if (ob_connector_config_check(&c, errbuf, errlen))
            return -1;
        if (!(s_connectors[i] = ob_connector_start(&c))) {
            snprintf(errbuf, errlen, "oms %llu: the upstream connector did not start",
                     (unsigned long long)cfg->oms[i].id);
            return -1;
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    char errbuf[OB_GW_CONFIG_ERR_MAX];
    const char *prog = argc > 0 ? argv[0] : "orderbus-gateway";
    ob_gw_config_t *cfg = &s_cfg;

    if (ob_gw_config_parse(cfg, argc, argv, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_USAGE;
    }
    if (cfg->help) {
        ob_gw_config_usage(stdout, prog);
        return 0;
    }
    if (cfg->version) {
        printf("orderbus-gateway %s\n", OB_VERSION_STRING);
        return 0;
    }
    if (ob_gw_config_read_secrets(cfg, errbuf, sizeof errbuf)) {
        fprintf(stderr, "%s: %s\n", prog, errbuf);
        return S_EXIT_RUNTIME;
    }
    ob_daemon_log_init("orderbus-gateway");
    if (ob_daemon_signals())
        zsys_warning("cannot catch SIGHUP (nothing to reload)");
    if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
        zsys_error("curl_global_init failed");
        return S_EXIT_RUNTIME;
    }

    int status = S_EXIT_RUNTIME;
    ob_gw_store_t *store = NULL;
    ob_gw_stats_t *stats = NULL;
    ob_feed_t *feed = NULL;
    ob_gw_http_t *http = NULL;
    ob_connector_metrics_t connector_metrics;
    int rc = ob_gw_store_open(cfg->data_dir, &store);
    if (rc) {
        long holder = 0;
        if (rc == -EBUSY && !ob_mdb_lock_holder(cfg->data_dir, OB_GW_STORE_LOCK, &holder))
            snprintf(errbuf, sizeof errbuf, "data_dir %.400s is in use by pid %ld", cfg->data_dir,
                     holder);
        else
            snprintf(errbuf, sizeof errbuf, "data_dir %.400s: %s", cfg->data_dir, ob_strerror(rc));
        goto out;
    }
    if (!(stats = ob_gw_stats_new())) {
        snprintf(errbuf, sizeof errbuf, "no memory");
        goto out;
    }
    if (!(feed = ob_feed_new(cfg, store, stats, errbuf, sizeof errbuf)))
        goto out;

    if (s_start_connectors(cfg, store, stats, &connector_metrics, errbuf, sizeof errbuf))
        goto out;

    if (!(http = ob_gw_http_start(cfg, feed, store, stats, errbuf, sizeof errbuf)))
        goto out;
    zsys_info("serving on %s (port %u), %zu OMS registered, broker %s, REST %s", cfg->listen,
              (unsigned)ob_gw_http_port(http), cfg->oms_count, cfg->endpoint,
              cfg->tokens_file[0] ? "on" : "off (no tokens_file)");
    for (size_t i = 0; i < cfg->oms_count; i++)
        zsys_info("oms %llu: %s, trigger /trigger/%llu%s", (unsigned long long)cfg->oms[i].id,
                  cfg->oms[i].url, (unsigned long long)cfg->oms[i].id,
                  cfg->oms[i].trigger_user[0] ? " (basic credentials)" : " (no credentials)");
    for (size_t i = 0; i < cfg->oms_count; i++) /* not the URL: it may hold credentials */
        if (cfg->oms[i].ft_url[0])
            zsys_info("oms %llu: facade trigger out, %s%s", (unsigned long long)cfg->oms[i].id,
                      cfg->oms[i].ft_method,
                      cfg->oms[i].ft_user[0] ? " with basic credentials" : "");
    status = 0;
    while (!zsys_interrupted) {
        if (ob_daemon_reload_requested()) {
            if (!cfg->tokens_file[0])
                zsys_info("SIGHUP: no tokens_file to reload (restart to change the "
                          "configuration)");
            else if (ob_gw_http_reload(http, errbuf, sizeof errbuf)) {
                zsys_error("SIGHUP: tokens not reloaded, the old ones stay: %s", errbuf);
                ob_gw_stats_inc(stats->reloads, "failed", NULL);
            } else {
                zsys_info("SIGHUP: tokens reloaded from %s", cfg->tokens_file);
                ob_gw_stats_inc(stats->reloads, "ok", NULL);
            }
        }
        zclock_sleep(S_TICK_MS);
    }
    zsys_info("stopping: finishing the poll in flight");
out:
    if (status) {
        zsys_error("%s", errbuf);
        fprintf(stderr, "%s: %s\n", prog, errbuf);
    }
    ob_gw_http_stop(&http);
    for (size_t i = 0; i < OB_GW_OMS_MAX; i++)
        zactor_destroy(&s_connectors[i]); /* each finishes the request in flight */
    ob_feed_destroy(&feed);
    ob_gw_stats_destroy(&stats);
    ob_gw_store_close(&store);
    curl_global_cleanup();
    return status;
}
