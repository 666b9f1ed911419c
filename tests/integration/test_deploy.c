/*  test_deploy: the production configuration (deploy/etc/orderbus-broker.cfg, the one the
    systemd unit and the container image use) starts a real broker, so it cannot rot: every
    key in it must still be known to config.c and every value valid.

    The file's data_dir (/var/lib/orderbus), endpoint (every interface) and security
    (curve = 1 with a certificate under /etc/orderbus) are for a server; the test overrides
    those by flags, as an operator could: a scratch data directory, a loopback endpoint, and
    curve 0 (plaintext is accepted on loopback only). Everything else (map size, batch size,
    retention defaults and rules) is the file's. */
#include <czmq.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "orderbus/orderbus.h"

#define DEP_CONFIG OB_SOURCE_DIR "/deploy/etc/orderbus-broker.cfg"
#define DEP_WAIT_MS 10000 /* a publish's confirmation */

static void
test_production_config_starts(void **state)
{
    (void)state;
    broker_proc_site_t site;
    assert_int_equal(broker_proc_site_make(&site, "deploy"), 0);
    /* broker_proc_start's --data-dir, --endpoint and --curve 0 override the file's. */
    pid_t broker = broker_proc_start(site.data_dir, site.endpoint, "--config", DEP_CONFIG, NULL);
    assert_true(broker > 0);

    /* It serves: a publish is stored (retention rules of the file included: dlq.> is a
       dead-letter topic, refused to clients, so publish elsewhere). */
    ob_client_config_t cfg = {.name = "deploy", .timeout_ms = DEP_WAIT_MS};
    ob_client_t *client = ob_client_new(site.endpoint, &cfg);
    assert_non_null(client);
    ob_event_t ev = {.id = "deploy-1", .topic = "oms.deploy", .type = "project_item.created"};
    ob_confirm_t c;
    assert_int_equal(ob_client_publish(client, &ev, &c), 0);
    assert_int_equal(c.seq, 1);
    assert_int_equal(c.dup, 0);
    ob_client_destroy(&client);

    assert_int_equal(broker_proc_stop(broker, SIGTERM), 0);
    assert_int_equal(broker_proc_site_remove(&site), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_production_config_starts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
