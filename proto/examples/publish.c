/*  orderbus-publish: the smallest useful client of liborderbus, and its usage example.

    Publishes one event and prints its confirmation:
        orderbus-publish [--endpoint E] [--cert F --broker-cert F] [--id ID] TOPIC TYPE
                         [JSON-DATA]
    Exit status: 0 confirmed (also as a duplicate), 1 refused or failed, 2 usage. */

#include <czmq.h>
#include <getopt.h>
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
                 "Exit status: 0 confirmed (also as a duplicate), 1 refused or failed, 2 usage.\n");
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
    zsys_init();
    char *uuid = NULL;
    if (!id) {
        zuuid_t *u = zuuid_new();
        uuid = strdup(zuuid_str_canonical(u));
        zuuid_destroy(&u);
        id = uuid;
    }
    const char *data = argc - optind == 3 ? argv[optind + 2] : "";
    ob_event_t ev = {.id = id,
                     .topic = argv[optind],
                     .type = argv[optind + 1],
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
    else
        fprintf(stderr, "orderbus-publish: %s (%s)\n", ob_strerror(rc),
                rc == OB_ERR_TIMEOUT ? endpoint : ev.topic);
    ob_client_destroy(&client);
    free(uuid);
    return rc == 0 ? 0 : 1;
}
