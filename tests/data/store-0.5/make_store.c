/*  make_store: fills a running 0.5 broker with the content of tests/data/store-0.5 (see the
    README there), in two runs on the same data directory:
        make_store ENDPOINT plain   (a broker with curve 0) three topics and their events,
                                    and "billing", which gets no owner
        make_store ENDPOINT curve   (the same store, curve 1; the client's certificates in
                                    ORDERBUS_CERT and ORDERBUS_BROKER_CERT) "audit", owned
                                    by the client the certificate names
    Each run takes every delivery of its subscription and acks some of them, leaving done
    ranges above the ack floors, then publishes one event to sync.1, whose confirmation
    proves the acks committed (the broker persists positions with its next group commit).
    Built against the 0.5 client library, not part of the build. Exit status 0 when every
    publish was confirmed and every delivery came, 1 otherwise, 2 usage. */
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "orderbus/orderbus.h"

#define M_TIMEOUT_MS 5000 /* each wait of the client */
#define M_DELIVERIES 10   /* billing: 10 (oms.*), audit: 10 (its types) */

typedef struct m_topic {
    const char *name;
    int events;
} m_topic_t;

static const m_topic_t m_topics[] = {{"oms.1", 6}, {"oms.2", 4}, {"mp.1", 3}};

/* The type of event seq of topic: oms.1 alternates, the others have one type. */
static const char *
m_type(const char *topic, int seq)
{
    if (!strcmp(topic, "mp.1"))
        return "command.submitted";
    if (!strcmp(topic, "oms.1") && seq % 2 == 0)
        return "order.updated";
    return "order.created";
}

/* 1 if the delivery d is one that make_store acks (README: the acks). */
static int
m_acked(const ob_delivery_t *d)
{
    if (!strcmp(d->sub, "billing"))
        return strcmp(d->topic, "oms.1") || (d->seq != 3 && d->seq != 5);
    if (!strcmp(d->topic, "oms.1"))
        return d->seq == 1 || d->seq == 5;
    if (!strcmp(d->topic, "oms.2"))
        return d->seq == 2 || d->seq == 3;
    return 0; /* mp.1 */
}

static int
m_publish(ob_client_t *client, const char *topic, int seq)
{
    char id[64], data[64];
    snprintf(id, sizeof id, "%s-e%d", topic, seq);
    snprintf(data, sizeof data, "%s event %d", topic, seq);
    ob_event_t ev = {.id = id,
                     .topic = topic,
                     .type = m_type(topic, seq),
                     .time_us = 1700000000000000ull + (uint64_t)seq,
                     .source = "make_store",
                     .data = (const uint8_t *)data,
                     .data_len = strlen(data)};
    ob_confirm_t confirm;
    int rc = ob_client_publish(client, &ev, &confirm);
    if (rc || confirm.seq != (uint64_t)seq) {
        fprintf(stderr, "make_store: publish %s: %s\n", id, ob_strerror(rc));
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int curve = argc == 3 && !strcmp(argv[2], "curve");
    if (argc != 3 || (!curve && strcmp(argv[2], "plain"))) {
        fprintf(stderr, "usage: make_store ENDPOINT plain|curve\n");
        return 2;
    }
    ob_client_config_t cfg = {.name = "make-store", .timeout_ms = M_TIMEOUT_MS};
    if (curve) {
        cfg.cert = getenv("ORDERBUS_CERT");
        cfg.broker_cert = getenv("ORDERBUS_BROKER_CERT");
    }
    ob_client_t *client = ob_client_new(argv[1], &cfg);
    if (!client || ob_client_connect(client, M_TIMEOUT_MS))
        return 1;
    if (!curve)
        for (size_t t = 0; t < sizeof m_topics / sizeof *m_topics; t++)
            for (int seq = 1; seq <= m_topics[t].events; seq++)
                if (m_publish(client, m_topics[t].name, seq))
                    return 1;

    static const char *const billing_patterns[] = {"oms.*"};
    ob_sub_options_t billing = {.patterns = billing_patterns,
                                .pattern_count = 1,
                                .start = OB_START_EARLIEST,
                                .credit = 100,
                                .ack_wait_ms = 600000,
                                .max_attempts = 7,
                                .backoff_ms = 250};
    static const char *const audit_patterns[] = {"oms.>", "mp.*"};
    static const char *const audit_types[] = {"order.created", "command.submitted"};
    ob_sub_options_t audit = {.patterns = audit_patterns,
                              .pattern_count = 2,
                              .types = audit_types,
                              .type_count = 2,
                              .start = OB_START_EARLIEST,
                              .credit = 50,
                              .ack_wait_ms = 300000,
                              .max_attempts = OB_ATTEMPTS_UNLIMITED,
                              .backoff_ms = 2000};
    if (ob_client_subscribe(client, curve ? "audit" : "billing", curve ? &audit : &billing, NULL,
                            NULL))
        return 1;
    for (int i = 0; i < M_DELIVERIES; i++) {
        ob_delivery_t *d = NULL;
        int rc = ob_client_receive(client, M_TIMEOUT_MS, &d);
        if (rc) {
            fprintf(stderr, "make_store: delivery %d: %s\n", i, ob_strerror(rc));
            return 1;
        }
        printf("%s %s #%llu%s\n", d->sub, d->topic, (unsigned long long)d->seq,
               m_acked(d) ? " acked" : "");
        if (m_acked(d) && ob_client_ack(client, d))
            return 1;
        ob_delivery_destroy(&d);
    }
    /* the acks were sent before this publish: its commit carries the positions */
    if (m_publish(client, "sync.1", curve ? 2 : 1))
        return 1;
    ob_client_destroy(&client);
    return 0;
}
