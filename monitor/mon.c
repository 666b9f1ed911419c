/*  ob_mon: see monitor.h. */
#include "monitor.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_PROG "orderbus-monitor"

void
ob_mon_init(ob_mon_t *m)
{
    memset(m, 0, sizeof *m);
    const char *env = getenv("ORDERBUS_ENDPOINT");
    m->endpoint = env && *env ? env : OB_ENDPOINT_DEFAULT;
    const char *cert = getenv("ORDERBUS_CERT");
    const char *broker_cert = getenv("ORDERBUS_BROKER_CERT");
    m->cert = cert && *cert ? cert : NULL;
    m->broker_cert = broker_cert && *broker_cert ? broker_cert : NULL;
    m->timeout_ms = OB_TIMEOUT_MS_DEFAULT;
    m->out = stdout;
    m->err = stderr;
}

int
ob_mon_parse_uint(const char *text, uint64_t min, uint64_t *ret)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min)
        return -1;
    *ret = v;
    return 0;
}

int
ob_mon_common_option(ob_mon_t *m, int c, const char *arg)
{
    uint64_t v = 0;
    switch (c) {
    case OB_MON_OPT_ENDPOINT:
        m->endpoint = arg;
        return 0;
    case OB_MON_OPT_TIMEOUT:
        if (ob_mon_parse_uint(arg, 1, &v) || v > INT32_MAX)
            return ob_mon_usage(m, NULL, "--timeout: milliseconds >= 1, not \"%s\"", arg);
        m->timeout_ms = (int)v;
        return 0;
    case OB_MON_OPT_JSON:
        m->json = 1;
        return 0;
    case OB_MON_OPT_CERT:
        m->cert = arg;
        return 0;
    case OB_MON_OPT_BROKER_CERT:
        m->broker_cert = arg;
        return 0;
    default:
        return -1;
    }
}

int
ob_mon_usage(ob_mon_t *m, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(m->err, "%s%s%s: ", S_PROG, cmd ? " " : "", cmd ? cmd : "");
    vfprintf(m->err, fmt, ap);
    va_end(ap);
    fprintf(m->err, "\n(see: %s %s%s--help)\n", S_PROG, cmd ? cmd : "", cmd ? " " : "");
    return OB_MON_EXIT_USAGE;
}

void
ob_mon_help(FILE *out, const char *name)
{
    for (const ob_mon_cmd_t *c = ob_mon_cmds; name && c->name; c++)
        if (!strcmp(c->name, name)) {
            fputs(c->help, out);
            fputs(ob_mon_common_help, out);
            return;
        }
    fputs("NAME\n"
          "    orderbus-monitor - inspect and operate an orderbus broker\n\n"
          "SYNOPSIS\n"
          "    orderbus-monitor [OPTIONS] COMMAND [ARGS]\n"
          "    orderbus-monitor COMMAND --help\n\n"
          "DESCRIPTION\n"
          "    Shows what the broker stores (topics), who is behind (subscriptions), what\n"
          "    was dead-lettered and what an event held, and operates on it: repositions a\n"
          "    subscription, re-publishes a dead letter, publishes an event. Every result\n"
          "    is a table for people, or JSON with --json for scripts.\n\n"
          "COMMANDS\n",
          out);
    for (const ob_mon_cmd_t *c = ob_mon_cmds; c->name; c++)
        fprintf(out, "    %-11s %s\n", c->name, c->summary);
    fputs(ob_mon_common_help, out);
}

/* The one place a client is configured: endpoint, name, timeout and the CURVE certificates. */
int
ob_mon_connect(ob_mon_t *m)
{
    if (m->client)
        return OB_MON_EXIT_OK;
    ob_client_config_t cfg = {.name = S_PROG,
                              .timeout_ms = m->timeout_ms,
                              .cert = m->cert,
                              .broker_cert = m->broker_cert};
    if (!m->cert != !m->broker_cert)
        return ob_mon_usage(m, NULL, "--cert and --broker-cert go together (CURVE), or neither");
    m->client = ob_client_new(m->endpoint, &cfg);
    if (!m->client)
        return ob_mon_usage(m, NULL,
                            "invalid endpoint \"%s\", or a certificate that cannot be read "
                            "(--cert needs its _secret file too)",
                            m->endpoint);
    int rc = ob_client_connect(m->client, m->timeout_ms);
    if (rc == OB_ERR_TIMEOUT) {
        fprintf(m->err,
                "%s: broker at %s unreachable: %s: no answer within %d ms (is it running?%s)\n",
                S_PROG, m->endpoint, ob_mon_error_name(rc), m->timeout_ms,
                m->cert ? " does it know this client's key?" : "");
        return OB_MON_EXIT_UNREACHABLE;
    }
    if (rc)
        return ob_mon_fail(m, rc, "connect to %s", m->endpoint);
    return OB_MON_EXIT_OK;
}

void
ob_mon_close(ob_mon_t *m)
{
    ob_client_destroy(&m->client);
}

int
ob_mon_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return OB_MON_EXIT_OK;
    case OB_ERR_NO_SUCH_TOPIC:
    case OB_ERR_NO_SUCH_SUBSCRIPTION:
        return OB_MON_EXIT_NOT_FOUND;
    case OB_ERR_TIMEOUT:
    case OB_ERR_CLOSED:
    case OB_ERR_SHUTDOWN:
        return OB_MON_EXIT_UNREACHABLE;
    default:
        return OB_MON_EXIT_REFUSED;
    }
}

const char *
ob_mon_error_name(int rc)
{
    switch (rc) {
#define OB_X_NAME(name, code, text)                                                                \
    case name:                                                                                     \
        return #name;
        OB_ERRORS(OB_X_NAME)
#undef OB_X_NAME
    case -ENOMEM:
        return "ENOMEM";
    case -EINTR:
        return "EINTR";
    case -EAGAIN:
        return "EAGAIN";
    case -EPIPE:
        return "EPIPE";
    default:
        return "OB_ERR_UNKNOWN";
    }
}

int
ob_mon_fail(ob_mon_t *m, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(m->err, "%s: ", S_PROG);
    vfprintf(m->err, fmt, ap);
    va_end(ap);
    if (rc == OB_ERR_TIMEOUT)
        fprintf(m->err, ": %s: no answer from %s within %d ms\n", ob_mon_error_name(rc),
                m->endpoint, m->timeout_ms);
    else {
        /* The broker's own words when it refused (they name the limit, pattern or name),
           else the code's description. */
        const char *reason = m->client ? ob_client_last_reason(m->client) : "";
        fprintf(m->err, ": %s: %s\n", ob_mon_error_name(rc), reason[0] ? reason : ob_strerror(rc));
    }
    return ob_mon_exit_code(rc);
}

int
ob_mon_request(ob_mon_t *m, const ob_wire_msg_t *request, json_t **ret_result, int *ret_more,
               uint8_t **ret_event, size_t *ret_event_len)
{
    uint8_t *result = NULL;
    size_t result_len = 0;
    int more = 0;
    int rc = ob_client_request(m->client, request, &result, &result_len, &more, ret_event,
                               ret_event_len);
    if (rc)
        return rc;
    json_t *value = NULL;
    if (result)
        rc = ob_mon_result_decode(result, result_len, &value);
    else
        value = json_null();
    free(result);
    if (rc) {
        if (ret_event) {
            free(*ret_event);
            *ret_event = NULL;
        }
        return rc;
    }
    *ret_result = value;
    if (ret_more)
        *ret_more = more;
    return 0;
}

int
ob_mon_list(ob_mon_t *m, int command, json_t **ret_list)
{
    json_t *all = json_array();
    if (!all)
        return -ENOMEM;
    ob_wire_msg_t req;
    ob_wire_msg_init(&req, command);
    for (;;) {
        json_t *page = NULL;
        int more = 0;
        int rc = ob_mon_request(m, &req, &page, &more, NULL, NULL);
        if (rc == 0 && !json_is_array(page))
            rc = OB_ERR_FIELD_TYPE;
        if (rc) {
            json_decref(page);
            json_decref(all);
            return rc;
        }
        size_t n = json_array_size(page);
        json_array_extend(all, page);
        const char *last = n ? ob_mon_get_str(json_array_get(page, n - 1),
                                              command == OB_CMD_SUBS ? "sub" : "name", NULL)
                             : NULL;
        /* A page that does not move forward would loop forever: stop at it. */
        int again = more && last && strlen(last) <= OB_TOPIC_MAX && strcmp(last, req.after) > 0;
        if (again)
            snprintf(req.after, sizeof req.after, "%s", last);
        json_decref(page);
        if (!again)
            break;
    }
    *ret_list = all;
    return 0;
}

int
ob_mon_sub_info(ob_mon_t *m, const char *sub, json_t **ret_info)
{
    ob_wire_msg_t req;
    ob_wire_msg_init(&req, OB_CMD_SUB_INFO);
    if (strlen(sub) > OB_SUB_NAME_MAX)
        return OB_ERR_NO_SUCH_SUBSCRIPTION; /* no subscription has so long a name */
    snprintf(req.sub, sizeof req.sub, "%s", sub);
    json_t *info = NULL;
    for (;;) {
        json_t *page = NULL;
        int more = 0;
        int rc = ob_mon_request(m, &req, &page, &more, NULL, NULL);
        if (rc == 0 &&
            (!json_is_object(page) || !json_is_array(json_object_get(page, "positions"))))
            rc = OB_ERR_FIELD_TYPE;
        if (rc) {
            json_decref(page);
            json_decref(info);
            return rc;
        }
        json_t *positions = json_object_get(page, "positions");
        size_t n = json_array_size(positions);
        const char *last =
            n ? ob_mon_get_str(json_array_get(positions, n - 1), "topic", NULL) : NULL;
        int again = more && last && strlen(last) <= OB_TOPIC_MAX && strcmp(last, req.after) > 0;
        if (again)
            snprintf(req.after, sizeof req.after, "%s", last);
        if (!info)
            info = page;
        else {
            json_array_extend(json_object_get(info, "positions"), positions);
            json_decref(page);
        }
        if (!again)
            break;
    }
    *ret_info = info;
    return 0;
}

uint64_t
ob_mon_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

int
ob_mon_interrupted(void)
{
    return zsys_interrupted != 0;
}

int
ob_mon_sleep(int ms)
{
    int64_t deadline = zclock_mono() + ms;
    while (!zsys_interrupted) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            return 0;
        zclock_sleep((int)(left < OB_MON_POLL_MS ? left : OB_MON_POLL_MS));
    }
    return -EINTR;
}

int
ob_mon_parse_from(const char *text, ob_start_t *ret_start, uint64_t *ret_value)
{
    uint64_t v = 0;
    if (!strcmp(text, "earliest")) {
        *ret_start = OB_START_EARLIEST;
        *ret_value = 0;
        return 0;
    }
    if (!strcmp(text, "new")) {
        *ret_start = OB_START_NEW;
        *ret_value = 0;
        return 0;
    }
    if (ob_mon_parse_uint(text, 1, &v) == 0) {
        *ret_start = OB_START_SEQ;
        *ret_value = v;
        return 0;
    }
    if (text[0] == '-') {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(text + 1, &end, 10);
        uint64_t unit_us = 0;
        if (end == text + 1 || errno)
            return -1;
        if (!strcmp(end, "s"))
            unit_us = 1000000ull;
        else if (!strcmp(end, "m"))
            unit_us = 60 * 1000000ull;
        else if (!strcmp(end, "h"))
            unit_us = 3600 * 1000000ull;
        else if (!strcmp(end, "d"))
            unit_us = 86400 * 1000000ull;
        else if (!strcmp(end, "ms"))
            unit_us = 1000ull;
        uint64_t now = ob_mon_now_us();
        if (!unit_us || n > now / unit_us)
            return -1;
        *ret_start = OB_START_TIME;
        *ret_value = now - n * unit_us;
        return 0;
    }
    if (ob_time_parse(text, &v) == 0) {
        *ret_start = OB_START_TIME;
        *ret_value = v;
        return 0;
    }
    return -1;
}

char *
ob_mon_fmt_uint(char *buf, uint64_t value)
{
    snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64, value);
    return buf;
}

char *
ob_mon_fmt_bytes(char *buf, uint64_t value)
{
    static const char units[] = "KMGTPE";
    if (value < 1024) {
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "B", value);
        return buf;
    }
    double v = (double)value;
    int u = -1;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    snprintf(buf, OB_MON_TEXT_MAX, "%.1f%c", v, units[u]);
    return buf;
}

char *
ob_mon_fmt_duration(char *buf, uint64_t ms)
{
    if (ms < 1000)
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "ms", ms);
    else if (ms < 60000 * 2)
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "s", ms / 1000);
    else if (ms < 3600000 * 2)
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "m", ms / 60000);
    else if (ms < 86400000ull * 2)
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "h", ms / 3600000);
    else
        snprintf(buf, OB_MON_TEXT_MAX, "%" PRIu64 "d", ms / (uint64_t)86400000);
    return buf;
}

char *
ob_mon_fmt_rate(char *buf, double per_s)
{
    if (per_s < 0)
        snprintf(buf, OB_MON_TEXT_MAX, "-");
    else
        snprintf(buf, OB_MON_TEXT_MAX, "%.1f/s", per_s);
    return buf;
}

char *
ob_mon_fmt_time(char *buf, uint64_t time_us)
{
    char full[OB_TIME_TEXT_MAX];
    if (ob_time_format(time_us, full))
        snprintf(buf, OB_MON_TEXT_MAX, "-");
    else /* 2026-11-29T00:44:53.123456Z -> 2026-11-29T00:44:53Z */
        snprintf(buf, OB_MON_TEXT_MAX, "%.19sZ", full);
    return buf;
}

char *
ob_mon_fmt_retention(char *buf, const json_t *topic)
{
    char a[OB_MON_TEXT_MAX], b[OB_MON_TEXT_MAX];
    uint64_t age = ob_mon_get_uint(topic, "max_age_ms", 0);
    uint64_t events = ob_mon_get_uint(topic, "max_events", 0);
    uint64_t bytes = ob_mon_get_uint(topic, "max_bytes", 0);
    size_t len = 0;
    buf[0] = '\0';
    if (age)
        len += (size_t)snprintf(buf + len, OB_MON_TEXT_MAX - len, "age %s",
                                ob_mon_fmt_duration(a, age));
    if (events && len < OB_MON_TEXT_MAX)
        len += (size_t)snprintf(buf + len, OB_MON_TEXT_MAX - len, "%s%" PRIu64 " ev",
                                len ? ", " : "", events);
    if (bytes && len < OB_MON_TEXT_MAX)
        snprintf(buf + len, OB_MON_TEXT_MAX - len, "%s%s", len ? ", " : "",
                 ob_mon_fmt_bytes(b, bytes));
    if (!buf[0])
        snprintf(buf, OB_MON_TEXT_MAX, "none");
    return buf;
}

int
ob_mon_print_json(ob_mon_t *m, const json_t *value)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                       JSON_REAL_PRECISION(OB_MON_JSON_PRECISION));
    if (!text) {
        fprintf(m->err, "%s: out of memory\n", S_PROG);
        return OB_MON_EXIT_REFUSED;
    }
    fprintf(m->out, "%s\n", text);
    free(text);
    return OB_MON_EXIT_OK;
}
