/*  gw_limits: every size, count and default of the gateway's pure logic (mp_parse, mp_event,
    poller, command). Caps on what the Marketplace or an OMS sends are hard limits: input
    over one is refused with OB_ERR_TOO_LARGE. A DEFAULT is a configurable value. No .c file
    of the gateway holds one of these as a magic number. The caps on what ends in an event
    (change fields and values, changes per event) are liborderbus's own (orderbus/limits.h),
    so that whatever the parsers accept can be encoded. */
#ifndef OB_GW_LIMITS_H
#define OB_GW_LIMITS_H

#include <stdint.h>

#include "orderbus/limits.h"

/* Marketplace responses (mp_parse) */
#define OB_GW_FEED_BODY_MAX (16u * 1024 * 1024) /* bytes of one events page */
/* Bytes of a project, item or message: its snapshot goes into an event, which must fit the
   broker's default largest event (OB_EVENT_MAX_DEFAULT). */
#define OB_GW_RESOURCE_BODY_MAX (512u * 1024)
#define OB_GW_ERROR_BODY_MAX (64u * 1024) /* bytes of an error body */
#define OB_GW_JSON_DEPTH_MAX 32           /* nesting of arrays and objects in any response */
#define OB_GW_PROJECT_ITEMS_MAX 100000    /* iids in a project's "project_items" */
#define OB_GW_STATUS_MAX 255      /* bytes of a status value or type, or an enum (role, scope) */
#define OB_GW_ERROR_TEXT_MAX 1024 /* bytes of an error's one-line text (longer: cut) */

/* Feed cursor (poller) */
#define OB_GW_PAGE_SIZE_DEFAULT 100  /* limit of an ordinary events read */
#define OB_GW_PAGE_LIMIT_MAX 10000   /* largest limit: a page full of one second grows to it */
#define OB_GW_OVERLAP_S_DEFAULT 60   /* seconds re-read behind the cursor (late commits) */
#define OB_GW_OVERLAP_S_MIN 1        /* the last second read may still be filling */
#define OB_GW_OVERLAP_S_MAX 86400    /* a day */
#define OB_GW_FEED_EPOCH_S 946684800 /* 2000-01-01: from_timestamp must match ^20\d{2}- */
#define OB_GW_FEED_END_S 4102444800  /* 2100-01-01: first second the regex cannot write */
#define OB_GW_TIMESTAMP_TEXT_MAX 32  /* bytes of a from_timestamp with its NUL (27 + 1 used) */

/* Event ids (mp_event, command) */
#define OB_GW_DIGEST_LEN 32                            /* BLAKE2b-256 (crypto_generichash) */
#define OB_GW_EVENT_ID_TEXT (2 * OB_GW_DIGEST_LEN + 1) /* hex id with its NUL */
#define OB_GW_TOPIC_TEXT 32                            /* "oms." + a u64 in decimal, with its NUL */
#define OB_GW_PATH_MAX 160 /* bytes of a Marketplace API path with its NUL */

/* OMS commands (command) */
#define OB_GW_COMMAND_MAX (512u * 1024) /* bytes of a command body: holds every other cap */
#define OB_GW_COMMAND_ID_MAX 64         /* bytes of a command id: [A-Za-z0-9._:-] */
#define OB_GW_SECRETS_MAX 64            /* keys in a command's user_secrets */
#define OB_GW_SECRET_KEY_MAX 255        /* bytes of a user_secrets key */
#define OB_GW_SECRET_VALUE_MAX 4096     /* bytes of a user_secrets value */
#define OB_GW_CONTENT_MAX (64u * 1024)  /* bytes of a message's content */
#define OB_GW_AUTHOR_FIELD_MAX 255      /* bytes of an author's email, name or uid */
#define OB_GW_ORDER_KEY_TEXT 48         /* "item.<u64>.<u64>" with its NUL */
#define OB_GW_ANSWER_MAX OB_GW_RESOURCE_BODY_MAX /* bytes of a Marketplace answer in an outcome */

/* The daemon (gw_config, trigger, gw_http, gw_store, feed) */
#define OB_GW_OMS_MAX 64                               /* OMS sections in one gateway */
#define OB_GW_OMS_ID_MAX INT64_MAX                     /* Marketplace ids: 1..2^63-1 */
#define OB_GW_URL_MAX 512                              /* bytes of a Marketplace base URL */
#define OB_GW_ADDR_MAX 64                              /* bytes of a listen address HOST:PORT */
#define OB_GW_SECRET_MAX 1024                          /* bytes of a token or a trigger password */
#define OB_GW_USER_MAX 255                             /* bytes of a trigger user */
#define OB_GW_CONFIG_FILE_MAX (1024 * 1024)            /* bytes of a configuration file */
#define OB_GW_LISTEN_DEFAULT "127.0.0.1:7460"          /* loopback only unless configured */
#define OB_GW_DATA_DIR_DEFAULT "orderbus-gateway-data" /* relative to the working directory */
#define OB_GW_POLL_MS_DEFAULT 30000                    /* timer poll of an OMS, triggers or not */
#define OB_GW_POLL_MS_MIN 100                          /* shortest timer poll */
#define OB_GW_POLL_MS_MAX (24u * 3600 * 1000)          /* longest timer poll: a day */
#define OB_GW_MP_TIMEOUT_MS_DEFAULT 10000     /* one Marketplace request, connect included */
#define OB_GW_MP_TIMEOUT_MS_MIN 100           /* shortest Marketplace request timeout */
#define OB_GW_MP_TIMEOUT_MS_MAX 600000        /* longest Marketplace request timeout */
#define OB_GW_BACKOFF_MS_MIN 100              /* first retry after a failed pass */
#define OB_GW_BACKOFF_MS_MAX 30000            /* retries never wait longer */
#define OB_GW_FETCHES_MAX 16                  /* resource fetches in flight per OMS */
#define OB_GW_MP_BODY_MAX OB_GW_FEED_BODY_MAX /* bytes read of any Marketplace answer */
#define OB_GW_HTTP_CONNECTIONS_DEFAULT 64     /* HTTP connections at once */
#define OB_GW_HTTP_CONNECTIONS_MAX 4096       /* largest connection limit */
#define OB_GW_HTTP_PER_IP_MAX 32              /* HTTP connections of one address */
#define OB_GW_HTTP_MEMORY_MAX                                                                      \
    (32u * 1024)                        /* bytes of one connection's buffers: the                  \
                                           request line and headers must fit */
#define OB_GW_HTTP_TIMEOUT_S_DEFAULT 10 /* idle HTTP connection, seconds */
#define OB_GW_HTTP_TIMEOUT_S_MAX 3600   /* longest idle timeout */
#define OB_GW_HTTP_HEADERS_MAX 64       /* headers of one request */
#define OB_GW_TRIGGER_BODY_MAX 4096     /* bytes of a trigger's (form) body */
#define OB_GW_TRIGGER_AUTH_MAX 2048     /* bytes of an authorization value */
#define OB_GW_TLS_FILE_MAX (64u * 1024) /* bytes of a PEM certificate chain or key */
#define OB_GW_CONFIRM_WAIT_MS 50        /* longest loop wait of the feed thread */
#define OB_GW_STOP_MS 10000             /* a stop waits this long for confirms */
#define OB_GW_BROKER_TIMEOUT_MS 10000   /* broker calls of the feed thread */

/* Tokens file (tokens), like the broker's permissions file */
#define OB_GW_TOKENS_FILE_MAX (16u << 20) /* bytes of a tokens file */
#define OB_GW_TOKEN_CLIENTS_MAX 100000    /* clients in one tokens file */
#define OB_GW_TOKEN_PATTERNS_MAX 256      /* publish or subscribe patterns of one client */
#define OB_GW_CLIENT_NAME_MAX 64          /* bytes of a client name: [a-z0-9_.-] */
#define OB_GW_TOKENS_ERR_MAX 512          /* a useful size for the loader's message buffer */

/* Requests per second per client (rate_limit): a token bucket */
#define OB_GW_RATE_DEFAULT 200  /* requests per second a client may sustain */
#define OB_GW_BURST_DEFAULT 400 /* requests a client may make at once after a pause */
#define OB_GW_RATE_MAX 1000000  /* largest rate or burst */
#define OB_GW_RATE_CLIENTS_DEFAULT OB_GW_TOKEN_CLIENTS_MAX /* buckets held at once */

/* REST request bodies (rest_parse): hard caps; the daemon's configured body limit may be
   lower. Over a cap: OB_ERR_TOO_LARGE, HTTP 413. */
#define OB_GW_REST_BODY_MAX (16u * 1024 * 1024) /* bytes of a publish or batch body */
#define OB_GW_REST_CONTROL_MAX (1024u * 1024)   /* bytes of a subscription, fetch, ack body */
#define OB_GW_BATCH_EVENTS_MAX 1000             /* events in one batch */
#define OB_GW_FETCH_MAX 1000                    /* deliveries one fetch may ask for */
#define OB_GW_FETCH_DEFAULT 100                 /* ... when it does not say */
#define OB_GW_WAIT_MS_MAX 60000                 /* longest long-poll wait of a fetch or command */
#define OB_GW_WAIT_MS_DEFAULT 0                 /* a fetch that does not say answers at once */
#define OB_GW_ACK_HANDLES_MAX OB_GW_FETCH_MAX   /* handles in one ack or nack */
#define OB_GW_CONTENT_TYPE_MAX 255              /* bytes of a Content-Type header we read */
#define OB_GW_READ_LIMIT_DEFAULT 100            /* events a topic read returns when not said */
#define OB_GW_DECIMAL_MAX 20                    /* digits of a number in a query or path: u64 */
#define OB_GW_REST_ERR_MAX 256                  /* a useful size for a parser's message buffer */

/* The daemon's REST side (rest) */
#define OB_GW_REST_BODY_DEFAULT (1024u * 1024) /* rest_body_max: bytes of a /v1/ body */
#define OB_GW_REST_BODY_MIN 1024               /* smallest rest_body_max */
#define OB_GW_REST_BROKER_MS 2000   /* the REST client's broker calls (fetch, a full window) */
#define OB_GW_REST_CONFIRM_MS 3000  /* a publish unconfirmed this long is answered 503 */
#define OB_GW_REST_IDLE_MS 1000     /* the REST thread's longest sleep: its client's heartbeat */
#define OB_GW_REST_PENDING_MIN 64   /* first size of its table of publishes in flight */
#define OB_GW_REST_LOOK_MS 20       /* a command's wait: looks for its outcome this often */
#define OB_GW_REST_LOOK_FIRST_MS 1  /* ... at first: the gap doubles up to OB_GW_REST_LOOK_MS */
#define OB_GW_REST_LOOK_PAGES 16    /* ... reading at most these FETCH ranges per look */
#define OB_GW_AUTH_SCHEME "Bearer " /* Authorization: Bearer <token> */
/* The REST client's window, unconfirmed publishes: wide, for the events of every connection's
   request at once (the broker's max_pending lowers it) */
#define OB_GW_REST_WINDOW OB_PENDING_DEFAULT

/* The Ordering API facade's writes (facade_write) and triggers out (facade_trigger) */
#define OB_GW_FACADE_WAIT_MS_DEFAULT 15000 /* facade_wait: an outcome later is answered 202 */
#define OB_GW_FACADE_WAIT_MS_MAX OB_GW_WAIT_MS_MAX /* longest facade_wait */
#define OB_GW_IDEMPOTENCY_KEY_MAX 255              /* bytes of an Idempotency-Key: visible ASCII */
#define OB_GW_FW_ID_BYTES 16           /* random or BLAKE2b bytes of a facade command id */
#define OB_GW_FW_ERROR_MAX 1024        /* bytes of a schema error message (longer: cut) */
#define OB_GW_FW_LIST_MAX 512          /* bytes of a list inside one (enum values, extra keys) */
#define OB_GW_FW_PATH_MAX 256          /* bytes of a property path ('#/status/type') */
#define OB_GW_FT_TIMEOUT_MS 10000      /* one trigger call out, connecting included */
#define OB_GW_FT_TICK_MS 1000          /* the trigger thread's longest sleep (a bound only) */
#define OB_GW_FT_METHOD_MAX 8          /* bytes of a trigger method ("POST") with its NUL */
#define OB_GW_FT_METHOD_DEFAULT "POST" /* the Marketplace's default trigger method (5.1) */

/* The REST streams (rest_stream) */
#define OB_GW_STREAMS_DEFAULT 8 /* rest_streams_max: streams of one client at once */
#define OB_GW_STREAMS_MAX OB_GW_HTTP_CONNECTIONS_MAX /* largest rest_streams_max */
#define OB_GW_STREAM_BUFFER_MAX (256u * 1024)        /* bytes waiting for one stream's reader */
#define OB_GW_STREAM_RESUME_BYTES (OB_GW_STREAM_BUFFER_MAX / 2) /* read for it at or below */
#define OB_GW_STREAM_BLOCK 8192         /* bytes libmicrohttpd takes of a stream at once */
#define OB_GW_STREAM_KEEPALIVE_MS 15000 /* a comment after this long with nothing written */
#define OB_GW_STREAM_TICK_MS 500        /* the stream thread's longest wait (heartbeats) */
#define OB_GW_STREAM_RETRY_MS 1000      /* after a read the broker did not answer */
#define OB_GW_STREAM_STOP_MS 1000       /* a stop waits this long for streams to end cleanly */
#define OB_GW_STREAM_RETRY_AFTER_S 5    /* Retry-After of a 429 over rest_streams_max */
#define OB_GW_STREAM_TABLE_MIN 16       /* first size of the thread's tables */
#define OB_GW_STREAM_DRAIN 64           /* bytes of its wake pipe read at once */
/* HTTP subscriptions (rest_subs) */
#define OB_GW_REST_WAITS_DEFAULT 16  /* rest_waits_max: long-polls waiting at once per client */
#define OB_GW_REST_WAITS_MAX 4096    /* largest rest_waits_max */
#define OB_GW_WAITS_RETRY_S 1        /* Retry-After of a long-poll over rest_waits_max */
#define OB_GW_SUBS_ATTACHED_MAX 4096 /* subscriptions the gateway is attached to at once */
/* A subscription with no fetch, ack or nack for 2 x ack_wait_ms, and at least this, is
   detached. */
#define OB_GW_SUBS_IDLE_MIN_MS 1000
#define OB_GW_FETCH_TEXT_MIN 4096 /* first size of a fetch's answer (grown as needed) */
#define OB_GW_U64_TEXT_MAX 20     /* decimal digits of a uint64_t */
#define OB_GW_SUBS_PAGE_MAX 100   /* subscriptions one GET /v1/subscriptions lists */
#define OB_GW_HANDLE_KEY_FILE "rest-handles.key" /* in data_dir: the handle key, mode 0600 */

/* Delivery handles (handle) */
#define OB_GW_HANDLE_KEY_BYTES 32 /* the gateway's secret key of handle MACs */
#define OB_GW_HANDLE_MAC_BYTES 16 /* BLAKE2b-128 keyed: a forgery succeeds with p = 2^-128 */
#define OB_GW_HANDLE_BIN_MAX                                                                       \
    (2 + OB_SUB_NAME_MAX + 1 + OB_TOPIC_MAX + 8 + 4 + OB_GW_HANDLE_MAC_BYTES) /* its bytes */
#define OB_GW_HANDLE_TEXT_MAX 512 /* base64url characters of a handle (4/3 of the bytes, +1) */

/* The Ordering API facade (facade_read, facade_view, facade) */
#define OB_GW_FACADE_LIMIT_DEFAULT 20 /* `limit` when absent (the Marketplace's, 2.4) */
#define OB_GW_FACADE_LIMIT_MAX 1000   /* most entries in one page (the Marketplace has no cap) */
#define OB_GW_FACADE_BODY_MIN 4096    /* first size of an answer's buffer (grown as needed) */
#define OB_GW_FACADE_DIR "facade"     /* in data_dir: the view's LMDB environment */
#define OB_GW_FACADE_MAP (64u * 1024 * 1024) /* the view's first map size; doubles when full */
#define OB_GW_FACADE_IDLE_MS 10000           /* the view reads every topic this often anyway */
#define OB_GW_FACADE_POLL_MS 100             /* ... this often when it cannot subscribe to them */
#define OB_GW_FACADE_RETRY_MS 1000           /* ... and after a failed read or write, this late */
#define OB_GW_FACADE_TICK_MS 500             /* the view thread's longest wait (heartbeats) */
#define OB_GW_FACADE_PROJECT_ITEMS_MAX OB_GW_PROJECT_ITEMS_MAX /* iids merged into a project */

#endif
