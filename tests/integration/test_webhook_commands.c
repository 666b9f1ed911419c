/*  test_webhook_commands: orderbus-webhook's way back end to end: a real orderbus-broker and
    the adapter as processes on ephemeral loopback ports in a scratch directory; the test
    plays the OMS, signing its requests itself with libsodium's HMAC (not the adapter's
    code), and reads mp.<oms_id> back from the broker with FETCH. A signed command arrives
    once; a replay of the same request is answered as a duplicate and stores nothing more; a
    bad signature, an old timestamp, another OMS, another target, a wrong type or a body too
    large change nothing and are answered with their codes; a broker that does not confirm
    gets 503. */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "broker_proc.h"
#include "daemon_proc.h"
#include "orderbus/client.h"
#include "orderbus/orderbus.h"

#define T_WAIT_MS 20000    /* longest wait for an answer */
#define T_PATH_MAX 1024    /* bytes of a path */
#define T_KEY_BYTES 32     /* the target's key */
#define T_SIG_MAX 128      /* bytes of a signature header */
#define T_HEADER_MAX 256   /* bytes of one request header */
#define T_OMS 7            /* the OMS the target may command */
#define T_BIG (600 * 1024) /* a body over the command cap (512 KiB) */
#define T_CONFIRM_MS 5000  /* the adapter's wait for a confirm (OB_WH_COMMAND_CONFIRM_MS) */
#define T_CONCURRENT 12    /* requests at once (under the adapter's connection limit) */
/* the target's secrets: a new one first, then the old one, the base64 of bytes 0..31 */
#define T_SECRETS                                                                                  \
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"                                                     \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
#define T_COMMAND                                                                                  \
    "{\"id\": \"cmd-1\", \"command\": \"update_project_item\", \"project_id\": 12, "               \
    "\"project_item_id\": 3, \"status\": {\"value\": \"Ready\", \"type\": \"ready\"}}"

static const uint8_t T_KEY[T_KEY_BYTES] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                           11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                           22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
/* a key the target does not have */
static const uint8_t T_OTHER_KEY[T_KEY_BYTES] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
                                                 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};

static broker_proc_site_t s_site;       /* the scratch directory */
static pid_t s_broker = -1;             /* the broker */
static pid_t s_adapter = -1;            /* the adapter */
static ob_client_t *s_reader;           /* reads mp.<oms_id> */
static char s_url[DAEMON_PROC_URL_MAX]; /* the adapter's HTTP server */

/* One request as the OMS makes it. */
typedef struct t_req {
    const char *path;         /* after the adapter's URL */
    const char *method;       /* "POST" or another */
    const char *content_type; /* or NULL */
    const char *id;           /* webhook-id, or NULL for none */
    int64_t stamp;            /* webhook-timestamp */
    const uint8_t *key;       /* signing key, or NULL for no signature header */
    const char *body;         /* the body */
    size_t len;               /* its bytes */
    const char *sign_body;    /* what is signed, NULL: body (a body changed after signing) */
} t_req_t;

/* "v1,<base64 HMAC-SHA256(key, id.stamp.body)>" into sig. */
static void
s_sign(const uint8_t *key, const char *id, const char *stamp, const char *body, size_t len,
       char sig[T_SIG_MAX])
{
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init(&st, key, T_KEY_BYTES);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)stamp, strlen(stamp));
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)".", 1);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(sig, "v1,", 3);
    sodium_bin2base64(sig + 3, T_SIG_MAX - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
}

static size_t
s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    return fwrite(data, size, nmemb, arg);
}

/* One request in flight: its handle, headers and answer. */
typedef struct t_call {
    CURL *curl;                 /* the handle */
    struct curl_slist *headers; /* its headers */
    FILE *out;                  /* the answer, into ... */
    char *answer;               /* ... this */
    size_t answer_len;          /* its bytes */
} t_call_t;

/* Prepares the request r (borrowed until t_call_end) in call. */
static void
s_call_begin(const t_req_t *r, t_call_t *call)
{
    char url[DAEMON_PROC_URL_MAX + T_PATH_MAX], line[T_HEADER_MAX], stamp[32], sig[T_SIG_MAX];
    memset(call, 0, sizeof *call);
    snprintf(url, sizeof url, "%s%s", s_url, r->path);
    snprintf(stamp, sizeof stamp, "%" PRId64, r->stamp);
    struct curl_slist *headers = NULL;
    if (r->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", r->content_type);
        headers = curl_slist_append(headers, line);
    }
    if (r->id) {
        snprintf(line, sizeof line, "webhook-id: %s", r->id);
        headers = curl_slist_append(headers, line);
        snprintf(line, sizeof line, "webhook-timestamp: %s", stamp);
        headers = curl_slist_append(headers, line);
    }
    if (r->key && r->id) {
        const char *signed_body = r->sign_body ? r->sign_body : r->body;
        s_sign(r->key, r->id, stamp, signed_body, r->sign_body ? strlen(r->sign_body) : r->len,
               sig);
        snprintf(line, sizeof line, "webhook-signature: %s", sig);
        headers = curl_slist_append(headers, line);
    }
    call->headers = curl_slist_append(headers, "Expect:");
    call->out = open_memstream(&call->answer, &call->answer_len);
    assert_non_null(call->out);
    CURL *curl = call->curl = curl_easy_init();
    assert_non_null(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)T_WAIT_MS);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, call->headers);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, r->method);
    if (!strcmp(r->method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, call->out);
}

/* Ends a finished call; returns the status and the parsed JSON answer (*ret_json, the
   caller's; NULL if not JSON). */
static long
s_call_end(t_call_t *call, json_t **ret_json)
{
    long status = 0;
    curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(call->curl);
    curl_slist_free_all(call->headers);
    fclose(call->out);
    *ret_json = json_loadb(call->answer, call->answer_len, 0, NULL);
    free(call->answer);
    return status;
}

/* Makes the request; returns the status and the parsed JSON answer (*ret_json, the
   caller's; NULL if not JSON). */
static long
s_request(const t_req_t *r, json_t **ret_json)
{
    t_call_t call;
    s_call_begin(r, &call);
    assert_int_equal(curl_easy_perform(call.curl), CURLE_OK);
    return s_call_end(&call, ret_json);
}

/* Makes the n requests at once (curl multi, a connection each); statuses[i] and answers[i]
   (the caller's) get request i's outcome. */
static void
s_requests(const t_req_t *reqs, size_t n, long *statuses, json_t **answers)
{
    t_call_t *calls = calloc(n, sizeof *calls);
    CURLM *multi = curl_multi_init();
    assert_non_null(calls);
    assert_non_null(multi);
    for (size_t i = 0; i < n; i++) {
        s_call_begin(&reqs[i], &calls[i]);
        assert_int_equal(curl_multi_add_handle(multi, calls[i].curl), CURLM_OK);
    }
    int running = 1;
    while (running) {
        assert_int_equal(curl_multi_perform(multi, &running), CURLM_OK);
        if (running)
            assert_int_equal(curl_multi_poll(multi, NULL, 0, T_WAIT_MS, NULL), CURLM_OK);
    }
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(multi, &left)))
        assert_int_equal(msg->data.result, CURLE_OK);
    for (size_t i = 0; i < n; i++) {
        curl_multi_remove_handle(multi, calls[i].curl);
        statuses[i] = s_call_end(&calls[i], &answers[i]);
    }
    curl_multi_cleanup(multi);
    free(calls);
}

/* GETs the adapter's /metrics; returns the text (the caller frees it). */
static char *
s_metrics(void)
{
    char url[DAEMON_PROC_URL_MAX + 16];
    snprintf(url, sizeof url, "%s/metrics", s_url);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    CURL *curl = curl_easy_init();
    assert_non_null(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)T_WAIT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
    assert_int_equal(curl_easy_perform(curl), CURLE_OK);
    curl_easy_cleanup(curl);
    fclose(out);
    return text;
}

/* A well-signed POST of body to path, stamped now. */
static t_req_t
s_good(const char *path, const char *id, const char *body)
{
    t_req_t r = {path,  "POST", "application/json", id,  (int64_t)time(NULL),
                 T_KEY, body,   strlen(body),       NULL};
    return r;
}

/* Checks an error answer: status and code. */
static void
s_expect_error(const t_req_t *r, long status, const char *code)
{
    json_t *answer = NULL;
    long got = s_request(r, &answer);
    if (got != status)
        print_error("%s: %ld, not %ld\n", r->path, got, status);
    assert_int_equal(got, status);
    assert_non_null(answer);
    const char *c = json_string_value(json_object_get(json_object_get(answer, "error"), "code"));
    assert_non_null(c);
    assert_string_equal(c, code);
    json_decref(answer);
}

/* Returns how many events mp.<T_OMS> holds (its last seq: nothing is deleted there). */
static size_t
s_count(void)
{
    ob_fetch_t *fetch = NULL;
    assert_int_equal(ob_client_fetch(s_reader, "mp.7", 1, 0, 1, &fetch), 0);
    size_t count = (size_t)fetch->last_seq;
    ob_fetch_destroy(&fetch);
    return count;
}

/* Returns how many events mp.<T_OMS> holds, checking the first one is cmd-1's. */
static size_t
s_stored(void)
{
    ob_fetch_t *fetch = NULL;
    int rc = ob_client_fetch(s_reader, "mp.7", 1, 0, 16, &fetch);
    if (rc == OB_ERR_NO_SUCH_TOPIC)
        return 0;
    assert_int_equal(rc, 0);
    size_t count = fetch->count;
    if (count) {
        ob_event_t *ev = NULL;
        assert_int_equal(ob_event_decode(fetch->events[0].event, fetch->events[0].event_len, &ev),
                         0);
        assert_string_equal(ev->id, "cmd-1");
        assert_string_equal(ev->type, "command.update_project_item");
        assert_int_equal(ev->oms_id, T_OMS);
        assert_int_equal(ev->project_id, 12);
        assert_int_equal(ev->project_item_id, 3);
        assert_int_equal(ev->data_len, strlen(T_COMMAND));
        assert_memory_equal(ev->data, T_COMMAND, ev->data_len);
        ob_event_destroy(&ev);
    }
    ob_fetch_destroy(&fetch);
    return count;
}

/* A signed command arrives once; its replay is a duplicate; nothing else is stored. */
static void
test_command_once(void **state)
{
    (void)state;
    const char *path = "/targets/oms7/commands/7";
    t_req_t r = s_good(path, "msg_1", T_COMMAND);
    json_t *answer = NULL;
    assert_int_equal(s_request(&r, &answer), 200);
    assert_non_null(answer);
    assert_string_equal(json_string_value(json_object_get(answer, "id")), "cmd-1");
    assert_string_equal(json_string_value(json_object_get(answer, "topic")), "mp.7");
    assert_int_equal(json_integer_value(json_object_get(answer, "seq")), 1);
    assert_true(json_is_false(json_object_get(answer, "dup")));
    json_decref(answer);
    assert_int_equal(s_stored(), 1);

    /* the same request again (a replay within the tolerance, or a retry) */
    assert_int_equal(s_request(&r, &answer), 200);
    assert_int_equal(json_integer_value(json_object_get(answer, "seq")), 1);
    assert_true(json_is_true(json_object_get(answer, "dup")));
    json_decref(answer);
    assert_int_equal(s_stored(), 1);

    /* a bad signature: the body changed after signing, or another key */
    static const char other[] = "{\"id\": \"cmd-2\", \"command\": \"edit_message\", "
                                "\"message_id\": 5, \"content\": \"x\"}";
    t_req_t bad = s_good(path, "msg_2", other);
    bad.sign_body = T_COMMAND;
    s_expect_error(&bad, 401, "unauthorized");
    bad = s_good(path, "msg_2", other);
    bad.key = T_OTHER_KEY;
    s_expect_error(&bad, 401, "unauthorized");
    /* no signature, no headers at all */
    bad.key = NULL;
    s_expect_error(&bad, 401, "unauthorized");
    bad.id = NULL;
    s_expect_error(&bad, 401, "unauthorized");
    /* old and future timestamps, well signed */
    bad = s_good(path, "msg_2", other);
    bad.stamp -= 400;
    s_expect_error(&bad, 401, "unauthorized");
    bad.stamp += 800;
    s_expect_error(&bad, 401, "unauthorized");
    /* well signed, but for another OMS */
    bad = s_good("/targets/oms7/commands/8", "msg_2", other);
    s_expect_error(&bad, 403, "forbidden");
    /* a target without the way back, a target that does not exist, a path that is none */
    bad = s_good("/targets/quiet/commands/7", "msg_2", other);
    s_expect_error(&bad, 404, "not_found");
    bad = s_good("/targets/nobody/commands/7", "msg_2", other);
    s_expect_error(&bad, 404, "not_found");
    bad = s_good("/targets/oms7/commands/x7", "msg_2", other);
    s_expect_error(&bad, 404, "not_found");
    /* another method, another type, not a command, too large */
    bad = s_good(path, "msg_2", other);
    bad.method = "PUT";
    s_expect_error(&bad, 405, "method_not_allowed");
    bad = s_good(path, "msg_2", other);
    bad.content_type = "text/plain";
    s_expect_error(&bad, 415, "unsupported_media_type");
    bad = s_good(path, "msg_2", "{\"id\": \"cmd-3\", \"command\": \"launch\"}");
    s_expect_error(&bad, 400, "invalid_field");
    bad = s_good(path, "msg_2", "not json");
    s_expect_error(&bad, 400, "malformed");
    char *big = malloc(T_BIG + 1);
    assert_non_null(big);
    memset(big, ' ', T_BIG);
    big[T_BIG] = '\0';
    bad = s_good(path, "msg_2", big);
    s_expect_error(&bad, 413, "too_large");
    free(big);
    assert_int_equal(s_stored(), 1);

    /* every answer counted by target and status; unknown targets as "-", never the URL's */
    char *metrics = s_metrics();
    static const char *const series[] = {
        "orderbus_webhook_commands_total{target=\"oms7\",status=\"200\"} 2",
        "orderbus_webhook_commands_total{target=\"oms7\",status=\"401\"} 6",
        "orderbus_webhook_commands_total{target=\"oms7\",status=\"403\"} 1",
        "orderbus_webhook_commands_total{target=\"-\",status=\"404\"} 3",
        "orderbus_webhook_commands_total{target=\"oms7\",status=\"413\"} 1",
    };
    for (size_t i = 0; i < sizeof series / sizeof series[0]; i++) {
        if (!strstr(metrics, series[i]))
            print_error("no '%s' in:\n%s\n", series[i], metrics);
        assert_non_null(strstr(metrics, series[i]));
    }
    assert_null(strstr(metrics, "nobody"));
    free(metrics);
}

/* A broker that does not confirm (stopped): 503, and the same request later stores it. */
static void
test_broker_stalled(void **state)
{
    (void)state;
    static const char body[] = "{\"id\": \"cmd-9\", \"command\": \"edit_message\", "
                               "\"message_id\": 5, \"content\": \"later\"}";
    t_req_t r = s_good("/targets/oms7/commands/7", "msg_9", body);
    assert_int_equal(kill(s_broker, SIGSTOP), 0);
    int64_t start = zclock_mono();
    s_expect_error(&r, 503, "unavailable");
    assert_true(zclock_mono() - start >= T_CONFIRM_MS - 100);
    assert_int_equal(kill(s_broker, SIGCONT), 0);
    /* the publish was sent before the timeout: it may or may not be stored; a retry is safe */
    json_t *answer = NULL;
    r.stamp = (int64_t)time(NULL);
    assert_int_equal(s_request(&r, &answer), 200);
    assert_string_equal(json_string_value(json_object_get(answer, "id")), "cmd-9");
    assert_int_equal(json_integer_value(json_object_get(answer, "seq")), 2);
    json_decref(answer);
}

/* Concurrent requests share the publisher's round trips (pipelined publishes): with the
   broker stopped, T_CONCURRENT requests all get their 503 after one confirm wait, not one
   after the other; with the broker back, the same requests at once are all stored, once
   each, every one answered with its own seq. */
static void
test_concurrent(void **state)
{
    (void)state;
    t_req_t reqs[T_CONCURRENT];
    char ids[T_CONCURRENT][32], bodies[T_CONCURRENT][128];
    long statuses[T_CONCURRENT];
    json_t *answers[T_CONCURRENT];
    for (int i = 0; i < T_CONCURRENT; i++) {
        snprintf(ids[i], sizeof ids[i], "msg_c%d", i);
        snprintf(bodies[i], sizeof bodies[i],
                 "{\"id\": \"cmd-c%d\", \"command\": \"edit_message\", \"message_id\": %d, "
                 "\"content\": \"c\"}",
                 i, i + 1);
        reqs[i] = s_good("/targets/oms7/commands/7", ids[i], bodies[i]);
    }
    size_t before = s_count();
    assert_int_equal(kill(s_broker, SIGSTOP), 0);
    int64_t start = zclock_mono();
    s_requests(reqs, T_CONCURRENT, statuses, answers);
    int64_t took = zclock_mono() - start;
    assert_int_equal(kill(s_broker, SIGCONT), 0);
    print_message("%d requests at once, the broker stopped: all answered in %" PRId64 " ms\n",
                  T_CONCURRENT, took);
    for (int i = 0; i < T_CONCURRENT; i++) {
        assert_int_equal(statuses[i], 503);
        json_decref(answers[i]);
    }
    assert_true(took < 2 * T_CONFIRM_MS); /* one after the other: T_CONCURRENT times that */
    /* again, the broker running: each stored once (those sent before the timeouts may be
       there already: then dup) */
    start = zclock_mono();
    s_requests(reqs, T_CONCURRENT, statuses, answers);
    print_message("%d requests at once: all stored in %" PRId64 " ms\n", T_CONCURRENT,
                  zclock_mono() - start);
    json_int_t seqs[T_CONCURRENT];
    for (int i = 0; i < T_CONCURRENT; i++) {
        assert_int_equal(statuses[i], 200);
        char want[32];
        snprintf(want, sizeof want, "cmd-c%d", i);
        assert_string_equal(json_string_value(json_object_get(answers[i], "id")), want);
        seqs[i] = json_integer_value(json_object_get(answers[i], "seq"));
        assert_true(seqs[i] > (json_int_t)before && seqs[i] <= (json_int_t)before + T_CONCURRENT);
        for (int j = 0; j < i; j++)
            assert_true(seqs[j] != seqs[i]);
        json_decref(answers[i]);
    }
    assert_int_equal(s_count(), before + T_CONCURRENT);
}

static int
s_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || broker_proc_site_make(&s_site, "test_webhook_commands"))
        return -1;
    s_broker = broker_proc_start(s_site.data_dir, s_site.endpoint, NULL);
    if (s_broker < 0)
        return -1;
    ob_client_config_t cc = {.name = "test-webhook-commands", .timeout_ms = T_WAIT_MS};
    s_reader = ob_client_new(s_site.endpoint, &cc);
    if (!s_reader || ob_client_connect(s_reader, T_WAIT_MS))
        return -1;
    char secrets[T_PATH_MAX], cfg[T_PATH_MAX];
    snprintf(secrets, sizeof secrets, "%s/oms7.whsec", s_site.dir);
    FILE *f = fopen(secrets, "w");
    if (!f)
        return -1;
    fputs(T_SECRETS, f);
    fclose(f);
    snprintf(cfg, sizeof cfg, "%s/webhook.cfg", s_site.dir);
    if (!(f = fopen(cfg, "w")))
        return -1;
    /* nothing is published on oms.7: the targets deliver nothing */
    fprintf(f,
            "webhook\n    listen = 127.0.0.1:0\n"
            "broker\n    endpoint = %s\n"
            "target\n    name = oms7\n    url = http://127.0.0.1:1/hook\n"
            "    secret_file = %s\n    patterns = oms.7\n    commands = %d\n"
            "target\n    name = quiet\n    url = http://127.0.0.1:1/hook\n"
            "    secret_file = %s\n    patterns = oms.8\n",
            s_site.endpoint, secrets, T_OMS, secrets);
    fclose(f);
    s_adapter = daemon_proc_start(getenv("OB_WEBHOOK"), "orderbus-webhook", s_site.dir, "webhook",
                                  cfg, 1, s_url);
    return s_adapter > 0 ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    if (s_adapter > 0) {
        int status = daemon_proc_stop(s_adapter, SIGTERM);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            print_error("the adapter did not stop cleanly: %d\n", status);
    }
    ob_client_destroy(&s_reader);
    if (s_broker > 0)
        broker_proc_stop(s_broker, SIGTERM);
    broker_proc_site_remove(&s_site);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_once),
        cmocka_unit_test(test_broker_stalled),
        cmocka_unit_test(test_concurrent),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, s_setup, s_teardown);
    curl_global_cleanup();
    return rc;
}
