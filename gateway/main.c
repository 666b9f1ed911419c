/*  orderbus-gateway: arguments, configuration, secrets, then the store, the feed actor (the
    Marketplace-to-bus direction), the HTTP server; wait for a signal; stop in the reverse
    order. Everything else lives in the classes of this folder.

    Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 on a runtime failure (the data
    directory is held by another gateway, the address cannot be bound, a secret cannot be
    read), 2 on a usage error. */
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>

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

static ob_gw_config_t s_cfg; /* large (OMS slots): not on the stack */

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

    /* The upstream connector (mp.<oms_id> -> Marketplace, gateway/connector.[ch]) starts
       here, beside the feed, with the same cfg, stats and broker settings; it is stopped
       after the HTTP server, before the feed. */

    if (!(http = ob_gw_http_start(cfg, feed, stats, errbuf, sizeof errbuf)))
        goto out;
    zsys_info("serving on %s (port %u), %zu OMS registered, broker %s", cfg->listen,
              (unsigned)ob_gw_http_port(http), cfg->oms_count, cfg->endpoint);
    for (size_t i = 0; i < cfg->oms_count; i++)
        zsys_info("oms %llu: %s, trigger /trigger/%llu%s", (unsigned long long)cfg->oms[i].id,
                  cfg->oms[i].url, (unsigned long long)cfg->oms[i].id,
                  cfg->oms[i].trigger_user[0] ? " (basic credentials)" : " (no credentials)");
    status = 0;
    while (!zsys_interrupted) {
        if (ob_daemon_reload_requested())
            zsys_info("SIGHUP: nothing to reload (restart to change the configuration)");
        zclock_sleep(S_TICK_MS);
    }
    zsys_info("stopping: finishing the poll in flight");
out:
    if (status) {
        zsys_error("%s", errbuf);
        fprintf(stderr, "%s: %s\n", prog, errbuf);
    }
    ob_gw_http_stop(&http);
    ob_feed_destroy(&feed);
    ob_gw_stats_destroy(&stats);
    ob_gw_store_close(&store);
    curl_global_cleanup();
    return status;
}
