/*  orderbus-subscribe: the smallest useful subscriber of liborderbus, and its usage example.

    Attaches to a subscription (created if needed), prints each delivery on one line and
    acks it after printing (at-least-once: a crash before the ack means a redelivery):
        orderbus-subscribe [--endpoint E] [--cert F --broker-cert F]
                           [--start new|earliest|SEQ] [--count N]
                           [--timeout MS] [--nack] NAME PATTERN...
    NAME "" makes an ephemeral subscription. NAME and the PATTERNs are checked before anything
    is sent. Exit status: 0 after --count deliveries or when --timeout passed without one, 1
    refused or failed, 2 usage, 130 interrupted. */

#include <czmq.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderbus/orderbus.h"

/* The longest wait for the broker's answer to SUBSCRIBE, and the shortest once --timeout
   shortens it (a new durable subscription is answered after a group commit). */
#define S_ANSWER_MS_MAX OB_TIMEOUT_MS_DEFAULT
#define S_ANSWER_MS_MIN 1000

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: orderbus-subscribe [options] NAME PATTERN...\n"
            "Attaches to the durable subscription NAME (created with the PATTERNs if it does\n"
            "not exist; \"\" for an ephemeral one), prints each delivery on one line and acks\n"
            "it after printing.\n\n"
            "  -e, --endpoint E   broker endpoint (" OB_ENDPOINT_DEFAULT ")\n"
            "      --cert FILE    this client's CURVE certificate (FILE_secret is read;\n"
            "                     default $ORDERBUS_CERT)\n"
            "      --broker-cert FILE  the broker's public certificate (default\n"
            "                     $ORDERBUS_BROKER_CERT); both or neither: without them the\n"
            "                     connection is plaintext, which only a broker with\n"
            "                     curve = 0 accepts\n"
            "  -s, --start S      where a new subscription starts: new (default), earliest,\n"
            "                     or a sequence number\n"
            "  -c, --count N      exit after N deliveries (default: run until interrupted)\n"
            "  -t, --timeout MS   exit when no delivery came for MS milliseconds; also\n"
            "                     bounds the wait for the broker's answer to SUBSCRIBE\n"
            "                     (1000 to 5000 ms; 5000 without --timeout)\n"
            "  -n, --nack         NACK every delivery instead (to see redelivery and dead\n"
            "                     letters)\n"
            "  -h, --help         this text\n\n"
            "NAME is up to 64 bytes of [a-z0-9_-]; each PATTERN a topic pattern (tokens of\n"
            "[a-z0-9_-], `*` one token, `>` the rest, e.g. 'oms.*'); any other is a usage\n"
            "error.\n"
            "Output: TOPIC #SEQ attempt A TYPE id=ID (skipped K), then the event's data.\n"
            "Exit status: 0 done (count reached, or timeout without a delivery), 1 refused by\n"
            "the broker (its reason is printed) or no answer, 2 usage, 130 interrupted.\n");
}

int
main(int argc, char **argv)
{
    const char *endpoint = OB_ENDPOINT_DEFAULT;
    ob_sub_options_t opts = {.start = OB_START_NEW};
    long count = -1;
    int timeout_ms = -1, nack = 0;
    const char *cert = getenv("ORDERBUS_CERT"), *broker_cert = getenv("ORDERBUS_BROKER_CERT");
    static const struct option longopts[] = {{"endpoint", required_argument, NULL, 'e'},
                                             {"cert", required_argument, NULL, 'C'},
                                             {"broker-cert", required_argument, NULL, 'B'},
                                             {"start", required_argument, NULL, 's'},
                                             {"count", required_argument, NULL, 'c'},
                                             {"timeout", required_argument, NULL, 't'},
                                             {"nack", no_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "e:s:c:t:nh", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'B':
            broker_cert = optarg;
            break;
        case 's':
            if (!strcmp(optarg, "new"))
                opts.start = OB_START_NEW;
            else if (!strcmp(optarg, "earliest"))
                opts.start = OB_START_EARLIEST;
            else {
                opts.start = OB_START_SEQ;
                opts.start_seq = strtoull(optarg, &end, 10);
                if (!*optarg || *end || opts.start_seq == 0) {
                    fprintf(stderr, "orderbus-subscribe: --start: new, earliest or a seq >= 1\n");
                    return 2;
                }
            }
            break;
        case 'c':
            count = strtol(optarg, &end, 10);
            if (!*optarg || *end || count < 1) {
                fprintf(stderr, "orderbus-subscribe: --count: a number >= 1\n");
                return 2;
            }
            break;
        case 't':
            timeout_ms = (int)strtol(optarg, &end, 10);
            if (!*optarg || *end || timeout_ms < 0) {
                fprintf(stderr, "orderbus-subscribe: --timeout: milliseconds >= 0\n");
                return 2;
            }
            break;
        case 'n':
            nack = 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (argc - optind < 2) {
        s_usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    size_t name_len = strlen(name);
    if (name_len > OB_SUB_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") < name_len) {
        fprintf(stderr,
                "orderbus-subscribe: NAME '%s' is not a subscription name: up to %d bytes of "
                "[a-z0-9_-]\n",
                name, OB_SUB_NAME_MAX);
        return 2;
    }
    opts.patterns = (const char *const *)&argv[optind + 1];
    opts.pattern_count = (size_t)(argc - optind - 1);
    for (size_t i = 0; i < opts.pattern_count; i++)
        if (!ob_pattern_valid(opts.patterns[i], strlen(opts.patterns[i]))) {
            fprintf(stderr,
                    "orderbus-subscribe: PATTERN '%s' is not a topic pattern: dot-separated "
                    "tokens of [a-z0-9_-], `*` or a last `>` (e.g. 'oms.*')\n",
                    opts.patterns[i]);
            return 2;
        }

    zsys_init();
    int answer_ms = timeout_ms < 0 || timeout_ms > S_ANSWER_MS_MAX ? S_ANSWER_MS_MAX
                    : timeout_ms < S_ANSWER_MS_MIN                 ? S_ANSWER_MS_MIN
                                                                   : timeout_ms;
    ob_client_config_t cfg = {.name = "orderbus-subscribe",
                              .timeout_ms = answer_ms,
                              .cert = cert,
                              .broker_cert = broker_cert};
    ob_client_t *client = ob_client_new(endpoint, &cfg);
    if (!client) {
        fprintf(stderr,
                "orderbus-subscribe: invalid endpoint %s, or certificates that cannot be read "
                "(--cert and --broker-cert go together)\n",
                endpoint);
        return 2;
    }
    char sub[OB_SUB_NAME_MAX + 1];
    int created = 0;
    int rc = ob_client_subscribe(client, name, &opts, sub, &created);
    if (rc == OB_ERR_TIMEOUT)
        fprintf(stderr,
                "orderbus-subscribe: no answer from %s within %d ms: is a broker running "
                "there?%s\n",
                endpoint, answer_ms,
                cert ? " (or it does not know this client's key: see its log)"
                     : " (without --cert and --broker-cert the connection is plaintext, which a "
                       "broker that requires CURVE never answers)");
    else if (rc)
        fprintf(stderr, "orderbus-subscribe: %s: %s%s%s\n", name[0] ? name : "(ephemeral)",
                ob_strerror(rc), *ob_client_last_reason(client) ? ": " : "",
                ob_client_last_reason(client));
    if (rc) {
        ob_client_destroy(&client);
        return 1;
    }
    fprintf(stderr, "subscribed: %s (%s)\n", sub, created ? "created" : "attached");
    fflush(stderr);
    long received = 0;
    while (count < 0 || received < count) {
        ob_delivery_t *d = NULL;
        rc = ob_client_receive(client, timeout_ms, &d);
        if (rc == OB_ERR_TIMEOUT && timeout_ms >= 0) {
            rc = 0;
            break;
        }
        if (rc)
            break;
        ob_event_t *event = NULL;
        int drc = ob_delivery_decode(d, &event);
        printf("%s #%" PRIu64 " attempt %" PRIu32 " %s id=%s", d->topic, d->seq, d->attempt,
               drc ? "(undecodable)" : event->type, drc ? "-" : event->id);
        if (d->skipped)
            printf(" (skipped %" PRIu64 ")", d->skipped);
        if (!drc && event->data_len)
            printf(" %.*s", (int)event->data_len, (const char *)event->data);
        printf("\n");
        fflush(stdout);
        ob_event_destroy(&event);
        rc = nack ? ob_client_nack(client, d, 0) : ob_client_ack(client, d);
        ob_delivery_destroy(&d);
        if (rc)
            break;
        received++;
    }
    if (rc && rc != -EINTR)
        fprintf(stderr, "orderbus-subscribe: %s%s%s\n", ob_strerror(rc),
                *ob_client_last_reason(client) ? ": " : "", ob_client_last_reason(client));
    ob_client_destroy(&client);
    return rc == -EINTR ? 130 : rc ? 1 : 0;
}
