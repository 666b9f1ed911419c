/*  orderbus limits: every size and count that arrives from outside has its cap here.
    A cap is a hard protocol limit (proto/PROTOCOL.md quotes each one); a DEFAULT is a
    configurable value and its default. No .c file may hold one of these as a magic number. */
#ifndef OB_LIMITS_H
#define OB_LIMITS_H

/* Names */
#define OB_TOPIC_MAX 255         /* bytes in a topic name or pattern */
#define OB_TOKEN_MAX 255         /* bytes in one dot-separated token of a topic */
#define OB_EVENT_ID_MAX 128      /* bytes in an event id (the dedup key) */
#define OB_EVENT_TYPE_MAX 64     /* bytes in an event type */
#define OB_SOURCE_MAX 255        /* bytes in an event source */
#define OB_CLIENT_NAME_MAX 64    /* bytes in the client name given in HELLO */
#define OB_REASON_MAX 255        /* bytes in an ERROR reason */
#define OB_FIELD_NAME_MAX 64     /* bytes in a change's field name */
#define OB_CHANGE_VALUE_MAX 4096 /* bytes in a change's before or after value */
#define OB_CHANGES_MAX 64        /* changes in one event */

/* Messages */
#define OB_HEADER_SIZE 4  /* bytes in the header frame: 'O' 'B' version command */
#define OB_BODY_MAX 65536 /* bytes in a body frame */
#define OB_EVENT_MAX_CAP (16u * 1024 * 1024) /* hard cap on an event frame, whatever the config */
#define OB_EVENT_MAX_DEFAULT                                                                       \
    (1024u * 1024) /* default max event frame (broker: max_event_bytes)                            \
                    */
#define OB_FRAMES_MAX                                                                              \
    3 /* frames in one message, after the ROUTER identity; a DELIVER run                           \
         has more: OB_DELIVER_FRAMES_MAX */
#define OB_EVENT_JSON_MAX (2u * OB_EVENT_MAX_CAP) /* bytes of an event as JSON (event_json.h) */

/* msgpack pre-scan caps (STYLE.md "Untrusted input") */
#define OB_MP_DEPTH_MAX 8              /* nesting of arrays and maps */
#define OB_MP_ARRAY_MAX 1024           /* elements declared by one array */
#define OB_MP_MAP_MAX 64               /* pairs declared by one map */
#define OB_MP_STR_MAX OB_EVENT_MAX_CAP /* bytes declared by one str, bin or ext */

/* Session */
#define OB_HEARTBEAT_MS_DEFAULT 1000 /* client PING interval when idle */
#define OB_HEARTBEAT_MS_MIN 100      /* smallest heartbeat a client may ask for */
#define OB_HEARTBEAT_MS_MAX 60000    /* largest heartbeat a client may ask for */
#define OB_LIVENESS 3                /* missed heartbeats before a peer is considered dead */

/* Client library */
#define OB_WINDOW_DEFAULT 256            /* unconfirmed pipelined publishes per client */
#define OB_WINDOW_MAX 65536              /* largest window a client may configure */
#define OB_TIMEOUT_MS_DEFAULT 5000       /* default wait for a confirmation */
#define OB_CONFIRM_RUN_MAX OB_WINDOW_MAX /* publishes one CONFIRM may cover (its count) */

/* Subscriptions (PROTOCOL.md section 12) */
#define OB_SUB_NAME_MAX 64           /* bytes in a subscription name, [a-z0-9_-] */
#define OB_SUB_PATTERNS_MAX 16       /* topic patterns of one subscription */
#define OB_SUB_TYPES_MAX 32          /* event types of one subscription */
#define OB_CREDIT_DEFAULT 1000       /* events delivered and not yet done, per sub */
#define OB_CREDIT_MAX 65536          /* largest credit a subscription may ask for */
#define OB_ACK_WAIT_MS_DEFAULT 30000 /* time a consumer has to ack a delivery */
#define OB_ACK_WAIT_MS_MIN 100       /* smallest ack_wait_ms */
#define OB_DELAY_MS_MAX 3600000      /* largest ack_wait_ms, backoff_ms, NACK delay_ms */
#define OB_MAX_ATTEMPTS_DEFAULT 5    /* deliveries before dead-lettering; 0 unlimited */
#define OB_MAX_ATTEMPTS_MAX 65535    /* largest max_attempts */
#define OB_BACKOFF_MS_DEFAULT 1000   /* base of the exponential redelivery delay */
#define OB_SUBS_MAX 100000           /* subscriptions one broker holds (LIMIT beyond) */
#define OB_DELIVER_RUN_MAX 64        /* deliveries in one DELIVER (HELLO max_run, count) */
#define OB_DELIVER_FRAMES_MAX (2 + OB_DELIVER_RUN_MAX) /* frames of a DELIVER run */
#define OB_DELIVER_RUN_BYTES 65536 /* event bytes a broker puts in one run (but >= 1 event) */
#define OB_DEAD_LETTER_EXTRA 2048  /* a dead letter's bytes beyond the original's */
#define OB_FETCH_RANGE_MAX 256     /* events one FETCH of a range asks for (its count) */
#define OB_FETCH_FRAMES_MAX (2 + OB_FETCH_RANGE_MAX) /* frames of the OK answering one */
#define OB_FETCH_RANGE_BYTES (1024u * 1024) /* event bytes a broker puts in one (>= 1 event) */
#define OB_EVENT_MAX_ACCEPT (OB_EVENT_MAX_CAP - OB_DEAD_LETTER_EXTRA) /* largest max_event: */
/* its dead letter must fit OB_EVENT_MAX_CAP */

/* Broker */
#define OB_ENDPOINT_DEFAULT "tcp://127.0.0.1:7450" /* loopback only unless configured */
#define OB_DATA_DIR_DEFAULT "orderbus-data"        /* relative to the working directory */
#define OB_MAP_SIZE_DEFAULT                                                                        \
    (1024ull * 1024 * 1024)            /* initial LMDB map size; it grows on demand                \
                                        */
#define OB_MAP_SIZE_MIN (64ull * 1024) /* smallest map size accepted */
#define OB_BATCH_MAX 4096              /* publishes in one group commit */
#define OB_TOPICS_MAX 1000000          /* topics one broker stores: the largest max_topics */
/* Limits that protect the broker from one client (PROTOCOL.md 5.4); each is a broker
   setting with this default, refused with LIMIT beyond it. */
#define OB_CLIENTS_DEFAULT 1024       /* sessions at once (max_clients) */
#define OB_CLIENTS_MAX 1000000        /* largest max_clients */
#define OB_SUBS_PER_CLIENT_DEFAULT 64 /* subscriptions one session is attached to */
#define OB_PENDING_DEFAULT 4096       /* publishes of one session awaiting their answer */
#define OB_UNREAD_BYTES_DEFAULT (4ull * 1024 * 1024) /* DELIVER bytes a consumer has not */
/* shown it took (ACK, NACK) beyond which it is sent nothing (max_unread_bytes, 12.9) */
#define OB_UNREAD_BYTES_MIN 1024                    /* smallest max_unread_bytes */
#define OB_UNREAD_BYTES_MAX (1024ull * 1024 * 1024) /* largest max_unread_bytes */

#endif
