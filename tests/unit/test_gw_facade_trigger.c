/*  test_gw_facade_trigger: the pure part of the facade's triggers out (gateway/
    facade_trigger.h): coalescing (one call in flight, one more for the events that came
    meanwhile, none without events), the backoff after failures (doubling, capped, reset by
    a success, events kept), and the Authorization header as the Marketplace documents it;
    and ob_ftrigger_notify against a real receiver: a call per notification of an OMS with
    a trigger, from another thread, coalesced, none for others. */
#include <curl/curl.h>
#include <czmq.h>
#include <microhttpd.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "double_http.h"
#include "facade_trigger.h"
#include "gw_limits.h"
#include "gw_stats.h"

#define S_WAIT_MS 10000 /* a call: the longest wait */
#define S_QUIET_MS 300  /* no call more: how long it is waited for */
#define S_BURST 100     /* notifications at once */
#define S_BODY_MAX 16   /* bytes of a call's body kept (none is sent) */
#define S_CONN_MAX 8    /* the receiver's connections */
#define S_IDLE_S 5      /* its idle connections' timeout */

static void
test_coalesce(void **state)
{
    (void)state;
    ob_ft_state_t s = {0};
    assert_int_equal(ob_ft_state_start(&s, 0), 0); /* no events, no call */
    assert_true(ob_ft_state_due(&s) == INT64_MAX);
    ob_ft_state_events(&s);
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_due(&s), 0);
    assert_int_equal(ob_ft_state_start(&s, 0), 1); /* one call for both */
    assert_int_equal(ob_ft_state_start(&s, 0), 0);
    ob_ft_state_events(&s); /* during the call */
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_start(&s, 1), 0); /* one in flight at most */
    assert_true(ob_ft_state_due(&s) == INT64_MAX);
    ob_ft_state_done(&s, 1, 2);
    assert_int_equal(ob_ft_state_start(&s, 2), 1); /* one more, for those */
    ob_ft_state_done(&s, 1, 3);
    assert_int_equal(ob_ft_state_start(&s, 3), 0); /* and no more */
}

static void
test_backoff(void **state)
{
    (void)state;
    ob_ft_state_t s = {0};
    ob_ft_state_events(&s);
    int64_t now = 1000, want = OB_GW_BACKOFF_MS_MIN;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ob_ft_state_start(&s, now), 1);
        ob_ft_state_done(&s, 0, now); /* failed: the events stay pending */
        assert_int_equal(s.backoff_ms, want);
        assert_int_equal(ob_ft_state_due(&s), now + want);
        assert_int_equal(ob_ft_state_start(&s, now + want - 1), 0);
        now += want;
        want = want * 2 > OB_GW_BACKOFF_MS_MAX ? OB_GW_BACKOFF_MS_MAX : want * 2;
    }
    assert_int_equal(s.backoff_ms, OB_GW_BACKOFF_MS_MAX);
    assert_int_equal(ob_ft_state_start(&s, now), 1);
    ob_ft_state_done(&s, 1, now); /* a success resets it */
    assert_int_equal(s.backoff_ms, 0);
    ob_ft_state_events(&s);
    assert_int_equal(ob_ft_state_start(&s, now), 1);
    ob_ft_state_done(&s, 0, now);
    assert_int_equal(s.backoff_ms, OB_GW_BACKOFF_MS_MIN);
}

static void
test_auth_header(void **state)
{
    (void)state;
    /* the Marketplace's own example (reference 6.2): name:12341234 */
    char *h = ob_ft_auth_header("name", "12341234");
    assert_string_equal(h, "Authorization: Basic bmFtZToxMjM0MTIzNA==");
    free(h);
    /* URL-safe alphabet, padded: "?:?>" is Pzo_Pg== (Pzo/Pg== in the standard one) */
    h = ob_ft_auth_header("?", "?>");
    assert_string_equal(h, "Authorization: Basic Pzo_Pg==");
    free(h);
    h = ob_ft_auth_header("ab", "c");
    assert_string_equal(h, "Authorization: Basic YWI6Yw==");
    free(h);
    h = ob_ft_auth_header("abc", "de");
    assert_string_equal(h, "Authorization: Basic YWJjOmRl");
    free(h);
}

/* A receiver of trigger calls: counts them. */
typedef struct s_recv {
    struct MHD_Daemon *daemon; /* the server */
    pthread_mutex_t lock;      /* guards calls */
    pthread_cond_t cond;       /* broadcast on a call */
    long calls;                /* calls answered */
} s_recv_t;

static enum MHD_Result
s_recv_handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    s_recv_t *r = cls;
    (void)url;
    (void)method;
    (void)version;
    int step = double_http_upload(con_cls, upload, upload_size, S_BODY_MAX);
    if (step)
        return step > 0 ? MHD_YES : MHD_NO;
    pthread_mutex_lock(&r->lock);
    r->calls++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Waits up to ms for the calls to reach n. Returns the calls then. */
static long
s_recv_wait(s_recv_t *r, long n, int ms)
{
    int64_t deadline = zclock_mono() + ms;
    pthread_mutex_lock(&r->lock);
    while (r->calls < n && zclock_mono() < deadline) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 10 * 1000 * 1000; /* a look every 10 ms, to the deadline */
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cond, &r->lock, &until);
    }
    long calls = r->calls;
    pthread_mutex_unlock(&r->lock);
    return calls;
}

static void *
s_notify_thread(void *arg)
{
    ob_ftrigger_notify(arg, 7);
    return NULL;
}

static void
test_notify(void **state)
{
    (void)state;
    s_recv_t r = {0};
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    unsigned port = 0;
    r.daemon = double_http_start(0, s_recv_handle, &r, S_CONN_MAX, S_IDLE_S, &port);
    assert_non_null(r.daemon);
    static ob_gw_config_t cfg;
    ob_gw_config_defaults(&cfg);
    cfg.oms_count = 2;
    cfg.oms[0].id = 7;
    snprintf(cfg.oms[0].ft_url, sizeof cfg.oms[0].ft_url, "http://127.0.0.1:%u/t", port);
    cfg.oms[1].id = 8; /* no trigger */
    ob_gw_stats_t *stats = ob_gw_stats_new();
    assert_non_null(stats);
    char err[OB_GW_CONFIG_ERR_MAX];
    ob_ftrigger_notify(NULL, 7); /* nothing */
    ob_ftrigger_t *t = ob_ftrigger_new(&cfg, stats, err, sizeof err);
    assert_non_null(t);
    /* none without a notification, none for an OMS without a trigger or unknown */
    ob_ftrigger_notify(t, 8);
    ob_ftrigger_notify(t, 99);
    assert_int_equal(s_recv_wait(&r, 1, S_QUIET_MS), 0);
    /* one from another thread (the view's) */
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, s_notify_thread, t), 0);
    pthread_join(thread, NULL);
    assert_int_equal(s_recv_wait(&r, 1, S_WAIT_MS), 1);
    assert_int_equal(s_recv_wait(&r, 2, S_QUIET_MS), 1);
    /* a burst: coalesced, one call in flight and one more at most */
    for (int i = 0; i < S_BURST; i++)
        ob_ftrigger_notify(t, 7);
    assert_int_equal(s_recv_wait(&r, 2, S_WAIT_MS), 2);
    assert_true(s_recv_wait(&r, 4, S_QUIET_MS) <= 3);
    ob_ftrigger_destroy(&t);
    ob_ftrigger_destroy(&t); /* NULL: harmless */
    /* no OMS with a trigger: an idle object that calls nothing */
    cfg.oms[0].ft_url[0] = '\0';
    assert_non_null(t = ob_ftrigger_new(&cfg, stats, err, sizeof err));
    ob_ftrigger_notify(t, 7);
    ob_ftrigger_destroy(&t);
    ob_gw_stats_destroy(&stats);
    MHD_stop_daemon(r.daemon);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_auth_header),
        cmocka_unit_test(test_notify),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
