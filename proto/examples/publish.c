/*  orderbus-publish: the smallest useful client of liborderbus, and its usage example.

    Publishes one event and prints its confirmation:
        orderbus-publish [--endpoint E] [--cert F --broker-cert F] [--id ID] TOPIC TYPE
                         [JSON-DATA]
    TOPIC, TYPE and JSON-DATA are checked before anything is sent. A refusal prints the
    broker's reason; no answer prints what is likely wrong.
    Exit status: 0 confirmed (also as a duplicate), 1 refused or failed, 2 usage. */

#include <czmq.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "orderbus/orderbus.h"

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: orderbus-publish [--endpoint E] [--cert F --broker-cert F] [--id ID]\n"
                 "                        TOPIC TYPE [JSON-DATA]\n"
                 "Publishes one event to an orderbus broker and waits for its confirmation.\n\n"
                 "  -e, --endpoint E  broker endpoint (" OB_ENDPOINT_DEFAULT ")\n"
                 "  -i, --id ID       event id, the dedup key (default: a new random id)\n"
                 "      --cert FILE        this client's CURVE certificate (FILE_secret is read;\n"
                 "                         default $ORDERBUS_CERT)\n"
                 "      --broker-cert FILE the broker's public certificate (default\n"
                 "                         $ORDERBUS_BROKER_CERT); both or neither: without\n"
                 "                         them the connection is plaintext, which only a\n"
                 "                         broker with curve = 0 accepts\n"

                 "  -h, --help        this text\n\n"
                 "TOPIC is a topic name (dot-separated tokens of [a-z0-9_-], e.g. oms.7), TYPE\n"
                 "an event type (1..64 bytes of [a-z0-9_.-]), JSON-DATA one JSON value stored\n"
                 "as the event's data (default: none); any other is a usage error. Waits up to\n"
                 "5 s for the broker's answer.\n"
                 "Exit status: 0 confirmed (also as a duplicate), 1 refused by the broker (its\n"
                 "reason is printed) or no answer, 2 usage.\n");
}

int
main(int argc, char **argv)
{
    const char *endpoint = OB_ENDPOINT_DEFAULT;
    const char *id = NULL;
    const char *cert = getenv("ORDERBUS_CERT"), *broker_cert = getenv("ORDERBUS_BROKER_CERT");
    static const struct option longopts[] = {
        {"endpoint", required_argument, NULL, 'e'}, {"id", required_argument, NULL, 'i'},
        {"cert", required_argument, NULL, 'C'},     {"broker-cert", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "e:i:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'B':
            broker_cert = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (argc - optind < 2 || argc - optind > 3) {
        s_usage(stderr);
        return 2;
    }
    const char *topic = argv[optind], *type = argv[optind + 1];
    const char *data = argc - optind == 3 ? argv[optind + 2] : "";
    if (!ob_topic_valid(topic, strlen(topic))) {
        fprintf(stderr,
                "orderbus-publish: TOPIC '%s' is not a topic name: dot-separated tokens of "
                "[a-z0-9_-], at most %d bytes (e.g. oms.7)\n",
                topic, OB_TOPIC_MAX);
        return 2;
    }
    if (!ob_event_type_valid(type, strlen(type))) {
        fprintf(stderr,
                "orderbus-publish: TYPE '%s' is not an event type: 1..%d bytes of [a-z0-9_.-] "
                "(e.g. project_item.created)\n",
                type, OB_EVENT_TYPE_MAX);
        return 2;
    }
    json_error_t jerr;
    json_t *json = *data ? json_loads(data, JSON_DECODE_ANY, &jerr) : NULL;
    if (*data && !json) {
        fprintf(stderr, "orderbus-publish: JSON-DATA is not JSON: %s (column %d)\n", jerr.text,
                jerr.column);
        return 2;
    }
    json_decref(json);
    zsys_init();
    char *uuid = NULL;
    if (!id) {
        zuuid_t *u = zuuid_new();
        uuid = strdup(zuuid_str_canonical(u));
        zuuid_destroy(&u);
        id = uuid;
    }
    ob_event_t ev = {.id = id,
                     .topic = topic,
                     .type = type,
                     .time_us = (uint64_t)zclock_time() * 1000,
                     .source = "orderbus-publish",
                     .data = (const uint8_t *)data,
                     .data_len = strlen(data)};
    ob_client_config_t cfg = {
        .name = "orderbus-publish", .timeout_ms = 5000, .cert = cert, .broker_cert = broker_cert};
    ob_client_t *client = ob_client_new(endpoint, &cfg);
    if (!client) {
        fprintf(stderr,
                "orderbus-publish: invalid endpoint %s, or certificates that cannot be read "
                "(--cert and --broker-cert go together)\n",
                endpoint);
        free(uuid);
        return 2;
    }
    ob_confirm_t confirm;
    int rc = ob_client_publish(client, &ev, &confirm);
    if (rc == 0)
        printf("confirmed: topic %s seq %llu (id %s)%s\n", ev.topic,
               (unsigned long long)confirm.seq, id,
               confirm.dup ? " duplicate: already stored, nothing written" : "");
    else if (rc == OB_ERR_TIMEOUT)
        fprintf(stderr,
                "orderbus-publish: no answer from %s within %d ms: is a broker running there?%s\n",
                endpoint, cfg.timeout_ms,
                cert ? " (or it does not know this client's key: see its log)"
                     : " (without --cert and --broker-cert the connection is plaintext, which a "
                       "broker that requires CURVE never answers)");
    else if (*ob_client_last_reason(client)) /* the broker's words */
        fprintf(stderr, "orderbus-publish: %s (%s): %s\n", ob_strerror(rc), ev.topic,
                ob_client_last_reason(client));
    else
        fprintf(stderr, "orderbus-publish: %s (%s)\n", ob_strerror(rc), ev.topic);
    ob_client_destroy(&client);
    free(uuid);
    return rc == 0 ? 0 : 1;
}
