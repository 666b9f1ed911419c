/*  test_gateway_rest: the gateway's REST API (gateway/rest.h) end to end, with real
    processes: a broker (broker_proc) and the gateway (gw_proc), each on an ephemeral
    loopback port in the test's scratch directory, and libcurl as the HTTP client. The
    tokens file is written here from tokens made with common/token.h. A direct liborderbus
    client checks what reached the broker (FETCH of the topic, a subscriber of mp.<id>), so
    that "changes nothing" is a fact about the store. Every wait is on an answer, a
    delivery or a process, with a deadline; none is a sleep. Under CTest every answer is also
    recorded (rest_http, OB_REST_RECORD) and validated against gateway/openapi.json by
    gw_openapi_answers (rest_record.cmake). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker_proc.h"
#include "gw_proc.h"
#include "mp_double_proc.h"
#include "orderbus/orderbus.h"
#include "rest_http.h"
#include "token.h"

#define S_TOPIC "orders.eu" /* the topic the test publishes to */
#define S_OMS 7             /* the OMS of the command test */
#define S_BODY_MAX 4096     /* the gateway's rest_body_max here */
#define S_RECOVER_MS 20000  /* the gateway publishes again after a broker restart */
#define S_RELOAD_MS 10000   /* a SIGHUP takes effect */
#define S_PATH 1024         /* a path */
#define S_CONTENT_JSON "application/json"
#define S_CONTENT_NDJSON "application/x-ndjson"
#define S_KILL9_EVENTS 20   /* publishes confirmed before a kill -9 of the gateway */
#define S_BURST 128         /* connections ready at once: libmicrohttpd 0.9.75 takes 128 a call */
#define S_BURST_PER_IP 28   /* ... from one address (the gateway allows 32) */
#define S_BURST_ROUNDS 50   /* requests on each */
#define S_BURST_MS 10000    /* all of them answered within (its http_timeout is 60 s) */
#define S_BURST_ANSWER 1024 /* bytes of one publish answer, head included */

typedef struct s_site {
    broker_proc_site_t broker;        /* scratch dir, broker data and endpoint */
    pid_t broker_pid;                 /* the broker, or -1 */
    pid_t gw_pid;                     /* the gateway, or -1 */
    char gw_url[GW_PROC_URL_MAX + 1]; /* http://127.0.0.1:PORT */
    char cfg[S_PATH];                 /* the gateway's configuration */
    char tokens[S_PATH];              /* its tokens file */
    char token[OB_TOKEN_TEXT];        /* client "oms-7": orders.>, mp.7, admin read */
    char other[OB_TOKEN_TEXT];        /* a token in no file */
    ob_client_t *client;              /* a direct broker client */
} s_site_t;

static void
s_gw_start(s_site_t *s)
{
    s->gw_pid = gw_proc_start(s->broker.dir, s->cfg, s->gw_url);
    assert_true(s->gw_pid > 0);
}

/* Starts a broker and a gateway with REST (rest 1) or without, extra (NULL for none) more
   lines of its gateway section. */
static s_site_t *
s_site_new_with(const char *name, int rest, const char *extra)
{
    s_site_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->gw_pid = -1;
    assert_int_equal(broker_proc_site_make(&s->broker, name), 0);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    assert_int_equal(ob_token_generate(s->token), 0);
    assert_int_equal(ob_token_generate(s->other), 0);
    char entry[1024] = "", line[S_PATH + 64];
    rest_http_token_entry(entry, sizeof entry, "oms-7", s->token,
                          "    publish = orders.>\n    publish = mp.7\n    subscribe = orders.>\n"
                          "    admin = read\n");
    snprintf(s->tokens, sizeof s->tokens, "%s/tokens.zpl", s->broker.dir);
    rest_http_write_file(s->tokens, entry);
    char cfg[4096];
    snprintf(line, sizeof line, "    tokens_file = %s\n    rest_body_max = %d\n%s", s->tokens,
             S_BODY_MAX, extra ? extra : "");
    snprintf(cfg, sizeof cfg,
             "gateway\n    listen = 127.0.0.1:0\n    data_dir = %s/gw-data\n%s"
             "broker\n    endpoint = %s\n",
             s->broker.dir, rest ? line : "", s->broker.endpoint);
    snprintf(s->cfg, sizeof s->cfg, "%s/gw.cfg", s->broker.dir);
    rest_http_write_file(s->cfg, cfg);
    s_gw_start(s);
    ob_client_config_t cc = {.name = "test", .timeout_ms = 5000};
    s->client = ob_client_new(s->broker.endpoint, &cc);
    assert_non_null(s->client);
    assert_int_equal(ob_client_connect(s->client, 5000), 0);
    return s;
}

static s_site_t *
s_site_new(const char *name, int rest)
{
    return s_site_new_with(name, rest, NULL);
}

static void
s_site_destroy(s_site_t **s_p)
{
    s_site_t *s = *s_p;
    if (s->gw_pid > 0) {
        int status = gw_proc_stop(s->gw_pid, SIGTERM);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ob_client_destroy(&s->client);
    if (s->broker_pid > 0)
        broker_proc_stop(s->broker_pid, SIGTERM);
    broker_proc_site_remove(&s->broker);
    free(s);
    *s_p = NULL;
}

/* Sends method path with token (NULL: no Authorization), content_type (NULL: none) and
   body (len bytes; NULL for none) into *a (freed first). Returns a->status. */
static long
s_http(const s_site_t *s, const char *method, const char *path, const char *token,
       const char *content_type, const char *body, size_t len, rest_answer_t *a)
{
    rest_request_t req = {.method = method,
                          .path = path,
                          .token = token,
                          .content_type = content_type,
                          .body = body,
                          .len = len};
    return rest_http(s->gw_url, &req, a);
}

/* POSTs JSON text to path with the site's token. */
static long
s_post(const s_site_t *s, const char *path, const char *text, rest_answer_t *a)
{
    return s_http(s, "POST", path, s->token, S_CONTENT_JSON, text, strlen(text), a);
}

/* GETs path with the site's token. */
static long
s_get(const s_site_t *s, const char *path, rest_answer_t *a)
{
    return s_http(s, "GET", path, s->token, NULL, NULL, 0, a);
}

static uint64_t
s_int(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (uint64_t)json_integer_value(v);
}

/* The newest seq of topic in the broker, 0 if the topic does not exist. */
static uint64_t
s_last_seq(s_site_t *s, const char *topic)
{
    ob_fetch_t *f = NULL;
    int rc = ob_client_fetch(s->client, topic, 1, 0, 1, &f);
    if (rc == OB_ERR_NO_SUCH_TOPIC)
        return 0;
    assert_int_equal(rc, 0);
    uint64_t last = f->last_seq;
    ob_fetch_destroy(&f);
    return last;
}

/* Sends request i (a publish) on fd; asserts that it was written whole. */
static void
s_burst_send(const s_site_t *s, int fd, int i)
{
    char body[64], req[512];
    int len = snprintf(body, sizeof body, "{\"id\":\"burst-%d\",\"type\":\"t.x\"}", i);
    int n = snprintf(req, sizeof req,
                     "POST /v1/topics/orders.burst/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nContent-Type: " S_CONTENT_JSON "\r\n"
                     "Content-Length: %d\r\n\r\n%s",
                     s->token, len, body);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
}

/* Waits until every one of the count connections at fds has a whole 200 answer (head and
   Content-Length bytes of body), at most ms. Returns how many have. */
static int
s_burst_answers(const int *fds, int count, int ms)
{
    static char got[S_BURST][S_BURST_ANSWER];
    size_t used[S_BURST] = {0};
    int done[S_BURST] = {0}, answered = 0;
    int64_t deadline = zclock_mono() + ms;
    while (answered < count && zclock_mono() < deadline) {
        struct pollfd pfds[S_BURST];
        for (int i = 0; i < count; i++)
            pfds[i] = (struct pollfd){.fd = done[i] ? -1 : fds[i], .events = POLLIN};
        if (poll(pfds, (nfds_t)count, (int)(deadline - zclock_mono())) <= 0)
            continue;
        for (int i = 0; i < count; i++) {
            if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = recv(fds[i], got[i] + used[i], S_BURST_ANSWER - 1 - used[i], 0);
            assert_true(n > 0); /* an answer, not a closed connection */
            used[i] += (size_t)n;
            got[i][used[i]] = '\0';
            const char *end = strstr(got[i], "\r\n\r\n");
            const char *field = strstr(got[i], "Content-Length: ");
            size_t length = 0;
            if (end && field && sscanf(field, "Content-Length: %zu", &length) == 1 &&
                used[i] >= (size_t)(end + 4 - got[i]) + length) {
                if (strncmp(got[i], "HTTP/1.1 200", strlen("HTTP/1.1 200")))
                    fail_msg("connection %d: %s", i, got[i]);
                done[i] = 1;
                answered++;
            }
        }
    }
    return answered;
}

/* S_BURST keep-alive connections each send a publish in every one of S_BURST_ROUNDS rounds,
   all at once, and every round is answered within S_BURST_MS: libmicrohttpd 0.9.75's epoll
   loop, whenever one epoll_wait returned 128 ready connections, waited in the next for the
   connections' idle timeout before serving any of them (so this failed within a few rounds;
   the gateway now uses the poll loop). */
static void
test_many_ready(void **state)
{
    (void)state;
    s_site_t *s = s_site_new_with("rest-burst", 1,
                                  "    max_connections = 200\n    http_timeout = 60\n"
                                  "    rest_rate = 1000000\n    rest_burst = 1000000\n");
    unsigned port = 0;
    assert_int_equal(sscanf(s->gw_url, "http://127.0.0.1:%u", &port), 1);
    int fds[S_BURST];
    for (int i = 0; i < S_BURST; i++) {
        struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
        from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 + (uint32_t)(i / S_BURST_PER_IP));
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons((uint16_t)port);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(bind(fds[i], (struct sockaddr *)&from, sizeof from), 0);
        assert_int_equal(connect(fds[i], (struct sockaddr *)&to, sizeof to), 0);
    }
    for (int round = 0; round < S_BURST_ROUNDS; round++) {
        for (int i = 0; i < S_BURST; i++)
            s_burst_send(s, fds[i], round * S_BURST + i);
        assert_int_equal(s_burst_answers(fds, S_BURST, S_BURST_MS), S_BURST);
    }
    for (int i = 0; i < S_BURST; i++)
        close(fds[i]);
    assert_int_equal(s_last_seq(s, "orders.burst"), S_BURST_ROUNDS * S_BURST);
    s_site_destroy(&s);
}

/* Publish one, with and without an id; a duplicate; a batch as a JSON array and as
   NDJSON; answers after the confirm, checked against the store. */
static void
test_publish(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-publish", 1);
    rest_answer_t a = {0};
    const char *path = "/v1/topics/" S_TOPIC "/events";
    assert_int_equal(s_post(s, path, "{\"type\": \"order.created\", \"data\": {\"n\": 1}}", &a),
                     200);
    const char *id = json_string_value(json_object_get(a.json, "id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 32); /* generated */
    assert_string_equal(json_string_value(json_object_get(a.json, "topic")), S_TOPIC);
    assert_int_equal(s_int(a.json, "seq"), 1);
    assert_true(json_is_false(json_object_get(a.json, "dup")));

    assert_int_equal(s_post(s, path, "{\"id\": \"o-1\", \"type\": \"order.created\"}", &a), 200);
    assert_string_equal(json_string_value(json_object_get(a.json, "id")), "o-1");
    assert_int_equal(s_int(a.json, "seq"), 2);
    assert_true(json_is_false(json_object_get(a.json, "dup")));
    /* The same id again: a duplicate, at the same seq, nothing stored. */
    assert_int_equal(s_post(s, path, "{\"id\": \"o-1\", \"type\": \"order.created\"}", &a), 200);
    assert_int_equal(s_int(a.json, "seq"), 2);
    assert_true(json_is_true(json_object_get(a.json, "dup")));
    assert_int_equal(s_last_seq(s, S_TOPIC), 2);

    const char *array = "[{\"id\": \"b-1\", \"type\": \"t\"}, {\"id\": \"o-1\", \"type\": "
                        "\"order.created\"}, {\"type\": \"t\"}]";
    assert_int_equal(s_post(s, "/v1/topics/" S_TOPIC "/batch", array, &a), 200);
    json_t *results = json_object_get(a.json, "results");
    assert_int_equal(json_array_size(results), 3);
    assert_int_equal(s_int(json_array_get(results, 0), "seq"), 3);
    assert_int_equal(s_int(json_array_get(results, 1), "seq"), 2);
    assert_true(json_is_true(json_object_get(json_array_get(results, 1), "dup")));
    assert_int_equal(s_int(json_array_get(results, 2), "seq"), 4);

    const char *nd = "{\"id\": \"n-1\", \"type\": \"t\"}\n\n{\"id\": \"n-2\", \"type\": \"t\"}\n";
    assert_int_equal(s_http(s, "POST", "/v1/topics/" S_TOPIC "/batch", s->token, S_CONTENT_NDJSON,
                            nd, strlen(nd), &a),
                     200);
    results = json_object_get(a.json, "results");
    assert_int_equal(json_array_size(results), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(results, 1), "id")),
                        "n-2");
    assert_int_equal(s_int(json_array_get(results, 1), "seq"), 6);
    assert_int_equal(s_last_seq(s, S_TOPIC), 6);
    /* An id that needs escaping in the answer comes back as it was sent. */
    assert_int_equal(s_post(s, path, "{\"id\": \"q\\\"b\\\\s\\u0001\u00e9\", \"type\": \"t\"}", &a),
                     200);
    assert_string_equal(json_string_value(json_object_get(a.json, "id")), "q\"b\\s\001\u00e9");
    assert_int_equal(s_int(a.json, "seq"), 7);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* GET /v1/openapi.json serves gateway/openapi.json, byte for byte, to any client. */
static void
test_openapi(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-openapi", 1);
    rest_answer_t a = {0};
    assert_int_equal(s_get(s, "/v1/openapi.json", &a), 200);
    FILE *f = fopen(OB_SOURCE_DIR "/gateway/openapi.json", "rb");
    assert_non_null(f);
    char *text = calloc(1, a.len + 2);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, a.len + 1, f), a.len);
    fclose(f);
    assert_memory_equal(text, a.text, a.len);
    free(text);
    /* It holds 2^64-1 (a maximum), which Jansson reads only as a real. */
    json_t *doc = json_loadb(a.text, a.len, JSON_DECODE_INT_AS_REAL, NULL);
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/v1/topics/{topic}/events"));
    json_decref(doc);
    assert_int_equal(s_http(s, "POST", "/v1/openapi.json", s->token, S_CONTENT_JSON, "{}", 2, &a),
                     405);
    assert_string_equal(json_string_value(json_object_get(a.headers, "allow")), "GET");
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* Reads from a seq, from a time, one event; limits and the end of the topic. */
static void
test_read(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-read", 1);
    rest_answer_t a = {0};
    char body[128], path[256];
    for (int i = 1; i <= 5; i++) {
        snprintf(body, sizeof body, "{\"id\": \"r-%d\", \"type\": \"t\", \"data\": {\"i\": %d}}", i,
                 i);
        assert_int_equal(s_post(s, "/v1/topics/" S_TOPIC "/events", body, &a), 200);
    }
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events?from_seq=2&limit=2", &a), 200);
    json_t *events = json_object_get(a.json, "events");
    assert_int_equal(json_array_size(events), 2);
    assert_int_equal(s_int(json_array_get(events, 0), "seq"), 2);
    json_t *ev = json_object_get(json_array_get(events, 1), "event");
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "r-3");
    assert_int_equal(s_int(json_object_get(ev, "data"), "i"), 3);
    assert_int_equal(s_int(a.json, "next"), 4);
    assert_int_equal(s_int(a.json, "last_seq"), 5);

    /* From the time event 4 was stored: events 4 and 5. */
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events/4", &a), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a.json, "event"), "id")),
                        "r-4");
    snprintf(path, sizeof path, "/v1/topics/" S_TOPIC "/events?from_time=%s",
             json_string_value(json_object_get(a.json, "time")));
    assert_int_equal(s_get(s, path, &a), 200);
    events = json_object_get(a.json, "events");
    assert_int_equal(json_array_size(events), 2);
    assert_int_equal(s_int(json_array_get(events, 0), "seq"), 4);

    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events/6", &a), 404);
    assert_string_equal(rest_error_code(&a), "not_found");
    assert_int_equal(s_get(s, "/v1/topics/orders.none/events", &a), 404);
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events?limit=0", &a), 400);
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events?from_time=yesterday", &a), 400);
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events/x", &a), 400);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* A command reaches mp.<oms_id> as command.<name> with the command's id; a retry is a
   duplicate. */
static void
test_command(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-command", 1);
    const char *patterns[] = {"mp.7"};
    ob_sub_options_t opts = {.patterns = patterns, .pattern_count = 1, .start = OB_START_EARLIEST};
    assert_int_equal(ob_client_subscribe(s->client, NULL, &opts, NULL, NULL), 0);
    rest_answer_t a = {0};
    const char *cmd = "{\"id\": \"jira-4711-1\", \"command\": \"update_project_item\", "
                      "\"project_id\": 12, \"project_item_id\": 3, \"status\": {\"value\": "
                      "\"Ready to use\", \"type\": \"ready\"}}";
    assert_int_equal(s_post(s, "/v1/oms/7/commands", cmd, &a), 202);
    assert_string_equal(json_string_value(json_object_get(a.json, "id")), "jira-4711-1");
    assert_string_equal(json_string_value(json_object_get(a.json, "topic")), "mp.7");
    assert_int_equal(s_int(a.json, "seq"), 1);
    assert_int_equal(s_post(s, "/v1/oms/7/commands", cmd, &a), 202);
    assert_true(json_is_true(json_object_get(a.json, "dup")));

    ob_delivery_t *d = NULL;
    assert_int_equal(ob_client_receive(s->client, REST_HTTP_MS, &d), 0);
    ob_event_t *ev = NULL;
    assert_int_equal(ob_delivery_decode(d, &ev), 0);
    assert_string_equal(ev->topic, "mp.7");
    assert_string_equal(ev->type, "command.update_project_item");
    assert_string_equal(ev->id, "jira-4711-1");
    assert_string_equal(ev->source, "oms-7"); /* the token's client */
    assert_int_equal(ev->project_id, 12);
    ob_event_destroy(&ev);
    ob_delivery_destroy(&d);

    /* Another OMS, a bad command. */
    assert_int_equal(s_post(s, "/v1/oms/8/commands", cmd, &a), 403);
    assert_int_equal(s_post(s, "/v1/oms/7/commands", "{\"command\": \"reboot\"}", &a), 400);
    assert_int_equal(s_post(s, "/v1/oms/0/commands", cmd, &a), 400);
    assert_int_equal(s_post(s, "/v1/oms/7/commands?wait_ms=60001", cmd, &a), 400);
    assert_int_equal(s_post(s, "/v1/oms/7/commands?wait_ms=1s", cmd, &a), 400);
    assert_int_equal(s_last_seq(s, "mp.7"), 1);
    assert_int_equal(s_last_seq(s, "mp.8"), 0);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* Every refusal gets its status and code, and stores nothing. */
static void
test_refusals(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-refusals", 1);
    rest_answer_t a = {0};
    const char *path = "/v1/topics/" S_TOPIC "/events";
    const char *ev = "{\"type\": \"t\"}";
    size_t n = strlen(ev);
    assert_int_equal(s_http(s, "POST", path, NULL, S_CONTENT_JSON, ev, n, &a), 401);
    assert_string_equal(rest_error_code(&a), "unauthorized");
    assert_string_equal(json_string_value(json_object_get(a.headers, "www-authenticate")),
                        "Bearer realm=\"orderbus-gateway\"");
    assert_int_equal(s_http(s, "POST", path, s->other, S_CONTENT_JSON, ev, n, &a), 401);
    assert_int_equal(s_http(s, "POST", path, "obt_short", S_CONTENT_JSON, ev, n, &a), 401);
    assert_int_equal(s_http(s, "GET", path, s->other, NULL, NULL, 0, &a), 401);
    assert_int_equal(s_post(s, "/v1/topics/billing.eu/events", ev, &a), 403);
    assert_string_equal(rest_error_code(&a), "forbidden");
    assert_int_equal(s_post(s, "/v1/topics/dlq.orders/events", ev, &a), 403);
    assert_int_equal(s_post(s, "/v1/topics/billing.eu/batch", "[]", &a), 403);
    assert_int_equal(s_get(s, "/v1/topics/billing.eu/events", &a), 403);
    assert_int_equal(s_post(s, path, "{\"type\": ", &a), 400);
    assert_string_equal(rest_error_code(&a), "malformed");
    assert_int_equal(s_post(s, path, "{\"type\": \"t\", \"colour\": 1}", &a), 400);
    assert_int_equal(s_post(s, "/v1/topics/" S_TOPIC "/batch", "[{\"type\": \"t\"}, 1]", &a), 400);
    assert_int_equal(s_post(s, "/v1/topics/Bad..topic/events", ev, &a), 400);
    /* {"type": "t", "source": "aaa...a"}: one byte over the cap */
    const char *head = "{\"type\": \"t\", \"source\": \"", *tail = "\"}";
    char *big = malloc(S_BODY_MAX + 2);
    assert_non_null(big);
    memset(big, 'a', S_BODY_MAX + 1);
    memcpy(big, head, strlen(head));
    memcpy(big + S_BODY_MAX + 1 - strlen(tail), tail, strlen(tail));
    big[S_BODY_MAX + 1] = '\0';
    assert_int_equal(s_post(s, path, big, &a), 413);
    assert_string_equal(rest_error_code(&a), "too_large");
    free(big);
    assert_int_equal(s_http(s, "POST", path, s->token, "text/plain", ev, n, &a), 415);
    assert_string_equal(rest_error_code(&a), "unsupported_media_type");
    assert_int_equal(s_http(s, "POST", path, s->token, NULL, ev, n, &a), 415);
    assert_int_equal(s_http(s, "POST", path, s->token, S_CONTENT_NDJSON, ev, n, &a), 415);
    assert_int_equal(s_http(s, "DELETE", path, s->token, NULL, NULL, 0, &a), 405);
    assert_string_equal(rest_error_code(&a), "method_not_allowed");
    assert_string_equal(json_string_value(json_object_get(a.headers, "allow")), "GET, POST");
    assert_int_equal(s_http(s, "GET", "/v1/topics/" S_TOPIC "/batch", s->token, NULL, NULL, 0, &a),
                     405);
    assert_string_equal(json_string_value(json_object_get(a.headers, "allow")), "POST");
    assert_int_equal(
        s_http(s, "PUT", "/v1/topics/" S_TOPIC "/events/1", s->token, NULL, NULL, 0, &a), 405);
    assert_string_equal(json_string_value(json_object_get(a.headers, "allow")), "GET");
    assert_int_equal(s_get(s, "/v1/nothing", &a), 404);
    assert_int_equal(s_http(s, "GET", "/v1/openapi.json", NULL, NULL, NULL, 0, &a), 401);
    assert_int_equal(s_last_seq(s, S_TOPIC), 0);
    assert_int_equal(s_last_seq(s, "billing.eu"), 0);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* Without tokens_file REST is off: 404 with a message, the rest of the gateway serves. */
static void
test_off(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-off", 0);
    rest_answer_t a = {0};
    assert_int_equal(s_post(s, "/v1/topics/" S_TOPIC "/events", "{\"type\": \"t\"}", &a), 404);
    assert_string_equal(rest_error_code(&a), "not_found");
    assert_non_null(strstr(a.text, "tokens_file"));
    assert_int_equal(s_http(s, "GET", "/healthz", NULL, NULL, NULL, 0, &a), 200);
    assert_int_equal(s_last_seq(s, S_TOPIC), 0);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* The broker down: 503 for publishes and reads, the gateway goes on serving and publishes
   again once the broker is back. */
static void
test_broker_down(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-down", 1);
    rest_answer_t a = {0};
    const char *path = "/v1/topics/" S_TOPIC "/events";
    assert_int_equal(s_post(s, path, "{\"id\": \"d-1\", \"type\": \"t\"}", &a), 200);
    broker_proc_stop(s->broker_pid, SIGKILL);
    s->broker_pid = -1;
    assert_int_equal(s_post(s, path, "{\"id\": \"d-2\", \"type\": \"t\"}", &a), 503);
    assert_string_equal(rest_error_code(&a), "unavailable");
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events/1", &a), 503);
    assert_int_equal(s_http(s, "GET", "/healthz", NULL, NULL, NULL, 0, &a), 200);
    /* Refusals need no broker. */
    assert_int_equal(s_post(s, path, "{\"type\": ", &a), 400);
    s->broker_pid =
        broker_proc_start(s->broker.data_dir, s->broker.endpoint, "--curve", "0", (char *)NULL);
    assert_true(s->broker_pid > 0);
    int64_t deadline = zclock_mono() + S_RECOVER_MS;
    long status = 0;
    while ((status = s_post(s, path, "{\"id\": \"d-3\", \"type\": \"t\"}", &a)) == 503 &&
           zclock_mono() < deadline)
        ;
    assert_int_equal(status, 200);
    /* d-2 was answered 503: it may or may not be stored (rest.h); d-1 and d-3 are. */
    uint64_t seq3 = s_int(a.json, "seq");
    assert_true(seq3 == 2 || seq3 == 3);
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events/1", &a), 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a.json, "event"), "id")),
                        "d-1");
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* kill -9 of the gateway between requests loses no confirmed publish. */
static void
test_kill9(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-kill9", 1);
    rest_answer_t a = {0};
    char body[128];
    uint64_t seqs[S_KILL9_EVENTS];
    for (int i = 0; i < S_KILL9_EVENTS; i++) {
        snprintf(body, sizeof body, "{\"id\": \"k-%d\", \"type\": \"t\"}", i);
        assert_int_equal(s_post(s, "/v1/topics/" S_TOPIC "/events", body, &a), 200);
        seqs[i] = s_int(a.json, "seq");
    }
    gw_proc_stop(s->gw_pid, SIGKILL);
    s->gw_pid = -1;
    s_gw_start(s);
    assert_int_equal(s_get(s, "/v1/topics/" S_TOPIC "/events?limit=100", &a), 200);
    json_t *events = json_object_get(a.json, "events");
    assert_int_equal(json_array_size(events), S_KILL9_EVENTS);
    for (int i = 0; i < S_KILL9_EVENTS; i++) {
        json_t *one = json_array_get(events, (size_t)i);
        snprintf(body, sizeof body, "k-%d", i);
        assert_int_equal(s_int(one, "seq"), seqs[i]);
        assert_string_equal(json_string_value(json_object_get(json_object_get(one, "event"), "id")),
                            body);
    }
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* Over the client's rate: 429 with Retry-After, and nothing stored; another client is not
   held back. */
static void
test_rate(void **state)
{
    (void)state;
    s_site_t *s = s_site_new_with("gw-rest-rate", 1, "    rest_rate = 1\n    rest_burst = 2\n");
    rest_answer_t a = {0};
    const char *path = "/v1/topics/" S_TOPIC "/events";
    assert_int_equal(s_post(s, path, "{\"id\": \"q-1\", \"type\": \"t\"}", &a), 200);
    assert_int_equal(s_post(s, path, "{\"id\": \"q-2\", \"type\": \"t\"}", &a), 200);
    /* A bucket of 2 refilled at 1 per second: the third within a second is refused (the
       two before took well under one, or the bucket would hold a token again: then the
       fourth is). */
    long status = s_post(s, path, "{\"id\": \"q-3\", \"type\": \"t\"}", &a);
    if (status == 200)
        status = s_post(s, path, "{\"id\": \"q-4\", \"type\": \"t\"}", &a);
    assert_int_equal(status, 429);
    assert_string_equal(rest_error_code(&a), "rate_limited");
    assert_true(a.retry_after >= 1);
    uint64_t stored = s_last_seq(s, S_TOPIC);
    assert_true(stored == 2 || stored == 3);
    /* Unauthenticated requests do not use up the client's bucket, nor are they limited by
       it: they are refused before it is looked at. */
    assert_int_equal(s_http(s, "GET", path, s->other, NULL, NULL, 0, &a), 401);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* POSTs command text to OMS S_OMS with wait_ms wait; returns the status. */
static long
s_command(const s_site_t *s, const char *text, int wait, rest_answer_t *a)
{
    char path[64];
    snprintf(path, sizeof path, "/v1/oms/%d/commands?wait_ms=%d", S_OMS, wait);
    return s_post(s, path, text, a);
}

/* Writes an update_project_item command id for item iid of project into out. */
static void
s_update(char *out, size_t size, const char *id, long long project, int iid)
{
    snprintf(out, size,
             "{\"id\": \"%s\", \"command\": \"update_project_item\", \"project_id\": %lld, "
             "\"project_item_id\": %d, \"status\": {\"value\": \"Ready\", \"type\": \"ready\"}}",
             id, project, iid);
}

/* The outcome of a 200 answer to a command with wait_ms: its type, its data.command_id
   checked against id. */
static const char *
s_outcome(const rest_answer_t *a, const char *id)
{
    json_t *outcome = json_object_get(a->json, "outcome");
    assert_non_null(outcome);
    json_t *data = json_object_get(outcome, "data");
    assert_string_equal(json_string_value(json_object_get(data, "command_id")), id);
    char topic[32];
    snprintf(topic, sizeof topic, "oms.%d", S_OMS);
    assert_string_equal(json_string_value(json_object_get(outcome, "topic")), topic);
    return json_string_value(json_object_get(outcome, "type"));
}

/* A command with wait_ms against the Marketplace double, executed by the gateway's own
   connector: its outcome (completed on a 2xx, failed on a 4xx) comes in the answer; a
   Marketplace that hangs makes the wait run out (504, the command stands); the same command
   again, a duplicate, gets the outcome it had. */
static void
test_command_wait(void **state)
{
    (void)state;
    mp_double_proc_t mp;
    assert_int_equal(mp_double_proc_start(&mp, (char *)NULL), 0);
    json_t *body = json_pack("{s:i, s:s, s:b, s:s}", "id", S_OMS, "name", "rest", "default", 1,
                             "token", "tok-oms-7");
    json_t *answer = mp_double_proc_control(&mp, "oms", body);
    json_decref(body);
    assert_non_null(answer);
    json_decref(answer);
    body = json_pack("{}");
    answer = mp_double_proc_control(&mp, "projects", body);
    json_decref(body);
    json_int_t project = json_integer_value(json_object_get(answer, "id"));
    json_decref(answer);
    body = json_pack("{s:I, s:i}", "project_id", project, "primary_oms_id", S_OMS);
    answer = mp_double_proc_control(&mp, "project_items", body);
    json_decref(body);
    assert_non_null(answer);
    json_decref(answer);

    char extra[4 * S_PATH], token_file[S_PATH];
    char *scratch = broker_proc_scratch("gw-rest-wait-mp");
    assert_non_null(scratch);
    snprintf(token_file, sizeof token_file, "%.*s/mp-token", S_PATH / 2, scratch);
    rest_http_write_file(token_file, "tok-oms-7\n");
    snprintf(extra, sizeof extra,
             "oms\n    id = %d\n    url = %s\n    token_file = %s\n    poll_interval = 60s\n",
             S_OMS, mp.base_url, token_file);
    s_site_t *s = s_site_new_with("gw-rest-wait", 1, extra);
    rest_answer_t a = {0};
    char cmd[512];
    /* completed */
    s_update(cmd, sizeof cmd, "w-1", project, 1);
    assert_int_equal(s_command(s, cmd, 15000, &a), 200);
    assert_string_equal(s_outcome(&a, "w-1"), "command.completed");
    assert_true(json_is_false(json_object_get(a.json, "dup")));
    json_t *first = json_incref(json_object_get(a.json, "outcome"));
    /* the same command again: a duplicate, answered with the outcome it had */
    assert_int_equal(s_command(s, cmd, 15000, &a), 200);
    assert_true(json_is_true(json_object_get(a.json, "dup")));
    assert_true(json_equal(json_object_get(a.json, "outcome"), first));
    json_decref(first);

    /* failed: the Marketplace answers 404 */
    s_update(cmd, sizeof cmd, "w-2", project, 99);
    assert_int_equal(s_command(s, cmd, 15000, &a), 200);
    assert_string_equal(s_outcome(&a, "w-2"), "command.failed");
    assert_int_equal(s_int(json_object_get(json_object_get(a.json, "outcome"), "data"), "status"),
                     404);

    /* the Marketplace hangs beyond the wait: 504 naming the command, which stands */
    body = json_pack("{s:i, s:i}", "hang_next", 1, "hang_ms", 3000);
    json_decref(mp_double_proc_control(&mp, "faults", body));
    json_decref(body);
    s_update(cmd, sizeof cmd, "w-3", project, 1);
    int64_t t0 = zclock_mono();
    assert_int_equal(s_command(s, cmd, 500, &a), 504);
    assert_true(zclock_mono() - t0 >= 500);
    const char *message =
        json_string_value(json_object_get(json_object_get(a.json, "error"), "message"));
    assert_non_null(strstr(message, "w-3"));
    assert_int_equal(s_command(s, cmd, 15000, &a), 200); /* retried: its outcome */
    assert_true(json_is_true(json_object_get(a.json, "dup")));
    assert_string_equal(s_outcome(&a, "w-3"), "command.completed");
    /* without wait_ms (or 0): 202 at the confirm, as before */
    s_update(cmd, sizeof cmd, "w-4", project, 1);
    assert_int_equal(s_command(s, cmd, 0, &a), 202);
    assert_null(json_object_get(a.json, "outcome"));

    rest_answer_free(&a);
    s_site_destroy(&s);
    mp_double_proc_stop(&mp, SIGTERM);
    broker_proc_remove(scratch);
    free(scratch);
}

/* Publishes one event on topic with the site's direct client. */
static void
s_publish_direct(s_site_t *s, const char *topic, const char *id)
{
    ob_event_t ev = {.id = id, .topic = topic, .type = "t", .time_us = 1};
    ob_confirm_t confirm;
    assert_int_equal(ob_client_publish(s->client, &ev, &confirm), 0);
}

/* GET /v1/topics: the topics the token may read (admin read, a subscribe pattern), with the
   broker's figures; after pages; a token without admin read is refused. */
static void
test_topics(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-topics", 1);
    rest_answer_t a = {0};
    assert_int_equal(s_get(s, "/v1/topics", &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "topics")), 0);
    assert_true(json_is_false(json_object_get(a.json, "more")));
    assert_true(json_is_null(json_object_get(a.json, "after")));
    s_publish_direct(s, "orders.eu", "e-1");
    s_publish_direct(s, "orders.eu", "e-2");
    s_publish_direct(s, "orders.us", "u-1");
    s_publish_direct(s, "billing.eu", "b-1"); /* not the token's to read */
    s_publish_direct(s, "mp.7", "m-1");       /* publish only */
    assert_int_equal(s_get(s, "/v1/topics", &a), 200);
    json_t *topics = json_object_get(a.json, "topics");
    assert_int_equal(json_array_size(topics), 2);
    json_t *eu = json_array_get(topics, 0), *us = json_array_get(topics, 1);
    assert_string_equal(json_string_value(json_object_get(eu, "name")), "orders.eu");
    assert_int_equal(s_int(eu, "first_seq"), 1);
    assert_int_equal(s_int(eu, "last_seq"), 2);
    assert_int_equal(s_int(eu, "events"), 2);
    assert_true(s_int(eu, "bytes") > 0);
    assert_int_equal(s_int(eu, "removed"), 0);
    assert_string_equal(json_string_value(json_object_get(us, "name")), "orders.us");
    assert_int_equal(s_int(us, "events"), 1);
    assert_true(json_is_false(json_object_get(a.json, "more")));
    /* after: the page after a name */
    assert_int_equal(s_get(s, "/v1/topics?after=orders.eu", &a), 200);
    topics = json_object_get(a.json, "topics");
    assert_int_equal(json_array_size(topics), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(topics, 0), "name")),
                        "orders.us");
    assert_int_equal(s_get(s, "/v1/topics?after=orders.us", &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "topics")), 0);
    assert_int_equal(s_get(s, "/v1/topics?after=Not%20a%20topic", &a), 400);
    assert_int_equal(s_http(s, "POST", "/v1/topics", s->token, S_CONTENT_JSON, "{}", 2, &a), 405);
    assert_int_equal(s_http(s, "GET", "/v1/topics", s->other, NULL, NULL, 0, &a), 401);
    /* without admin read: refused */
    char entry[1024] = "";
    rest_http_token_entry(entry, sizeof entry, "oms-7", s->token, "    subscribe = orders.>\n");
    rest_http_write_file(s->tokens, entry);
    assert_int_equal(kill(s->gw_pid, SIGHUP), 0);
    int64_t deadline = zclock_mono() + S_RELOAD_MS;
    long status = 0;
    while ((status = s_get(s, "/v1/topics", &a)) == 200 && zclock_mono() < deadline)
        ;
    assert_int_equal(status, 403);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a.json, "error"), "code")), "forbidden");
    rest_answer_free(&a);
    s_site_destroy(&s);
}

/* SIGHUP reloads the tokens file: a new client gets in, a removed one is out. */
static void
test_reload(void **state)
{
    (void)state;
    s_site_t *s = s_site_new("gw-rest-reload", 1);
    rest_answer_t a = {0};
    const char *path = "/v1/topics/" S_TOPIC "/events";
    assert_int_equal(s_get(s, path, &a), 404); /* no such topic yet: but let in */
    assert_int_equal(s_http(s, "GET", path, s->other, NULL, NULL, 0, &a), 401);
    char entry[1024] = "";
    rest_http_token_entry(entry, sizeof entry, "other", s->other,
                          "    subscribe = orders.>\n    admin = read\n");
    rest_http_write_file(s->tokens, entry);
    assert_int_equal(kill(s->gw_pid, SIGHUP), 0);
    int64_t deadline = zclock_mono() + S_RELOAD_MS;
    long status = 0;
    while ((status = s_http(s, "GET", path, s->other, NULL, NULL, 0, &a)) == 401 &&
           zclock_mono() < deadline)
        ;
    assert_int_equal(status, 404);
    assert_int_equal(s_get(s, path, &a), 401);
    /* A file that does not load keeps the old table. */
    rest_http_write_file(s->tokens, "client = \n");
    assert_int_equal(kill(s->gw_pid, SIGHUP), 0);
    deadline = zclock_mono() + S_RELOAD_MS;
    int refused = 0;
    while (!refused && zclock_mono() < deadline) {
        assert_int_equal(s_http(s, "GET", "/metrics", NULL, NULL, NULL, 0, &a), 200);
        refused =
            strstr(a.text, "orderbus_gateway_token_reloads_total{result=\"failed\"} 1") != NULL;
    }
    assert_true(refused);
    assert_int_equal(s_http(s, "GET", path, s->other, NULL, NULL, 0, &a), 404);
    rest_answer_free(&a);
    s_site_destroy(&s);
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish),    cmocka_unit_test(test_read),
        cmocka_unit_test(test_command),    cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_off),        cmocka_unit_test(test_broker_down),
        cmocka_unit_test(test_kill9),      cmocka_unit_test(test_reload),
        cmocka_unit_test(test_rate),       cmocka_unit_test(test_openapi),
        cmocka_unit_test(test_topics),     cmocka_unit_test(test_command_wait),
        cmocka_unit_test(test_many_ready),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
