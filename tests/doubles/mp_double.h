/*  mp_double: the internals of orderbus-mp-double, a Marketplace (EOSC Ordering API) double
    for tests. See tests/doubles/README.md for what it serves and its control interface.

    Three parts, one job each:
    - mp_double_store.c: the whole state in memory behind one mutex (projects, items, messages,
      events, OMSes), the Marketplace's scope rules and its JSON views;
    - mp_double_api.c: the HTTP side (libmicrohttpd handler): the Ordering API under /api/v1/
      and the control interface under /_control/;
    - mp_double_trigger.c: a thread that calls trigger URLs with libcurl's multi interface and
      retries them as Sidekiq would.
    mp_double_main.c parses the arguments and wires them together. */
#ifndef OB_MP_DOUBLE_H
#define OB_MP_DOUBLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the double (caps on what a request may ask for). */
#define MPD_BODY_MAX (1024 * 1024)       /* bytes in a request body */
#define MPD_CONN_MAX 256                 /* simultaneous HTTP connections */
#define MPD_CONN_TIMEOUT_S 120           /* idle HTTP connection, seconds */
#define MPD_BURST_MAX 100000             /* events made by one /_control/burst */
#define MPD_TRIGGER_LOG_MAX 100000       /* trigger attempts kept for /_control/triggers */
#define MPD_TRIGGER_RETRIES 25           /* Sidekiq's default retry count (reference 6.3) */
#define MPD_TRIGGER_WORKERS 5            /* calls at once: Sidekiq's concurrency (reference 6.3) */
#define MPD_TRIGGER_TIMEOUT_S 60         /* Net::HTTP's default open and read timeouts */
#define MPD_FAULT_MS_MAX 600000          /* a hang or a slow answer, ms */
#define MPD_SLOW_CHUNK 16                /* bytes per chunk of a slow answer */
#define MPD_URL_MAX 2048                 /* bytes in a request path; longer: 414 */
#define MPD_SCHEMA_ERROR_MAX 1024        /* bytes of a schema error message */
#define MPD_SCHEMA_LIST_MAX 512          /* bytes of a list inside one (enum values, extra keys) */
#define MPD_SCHEMA_PATH_MAX 256          /* bytes of a property path ('#/status/type') */
#define MPD_LIMIT_DEFAULT 20             /* `limit` when absent (reference 2.4) */
#define MPD_TS_LEN 40                    /* bytes of a formatted timestamp */
#define MPD_USEC 1000000LL               /* microseconds in a second */
#define MPD_OBFUSCATED "<OBFUSCATED>"    /* what the Marketplace shows for a secret */
#define MPD_USER_AGENT "Faraday v1.10.4" /* Faraday's default User-Agent (reference 6.2) */

typedef struct mpd_trigger mpd_trigger_t;

/* A trigger method (reference 5.1). */
typedef enum { MPD_GET = 0, MPD_POST = 1, MPD_PUT = 2 } mpd_method_t;

/* An OMS and the one administrator token the double knows for it. */
typedef struct mpd_oms {
    long id;                  /* global id */
    char *name;               /* unique name */
    char *type;               /* global | provider_group | resource_dedicated */
    bool is_default;          /* the default OMS (SOMBO) */
    char *token;              /* X-User-Token of its administrator */
    json_t *custom_params;    /* object or NULL */
    char *trig_url;           /* trigger URL or NULL */
    mpd_method_t trig_method; /* trigger method */
    char *trig_user;          /* basic credentials or NULL */
    char *trig_password;      /* basic credentials or NULL */
} mpd_oms_t;

/* A project item; its API id is the per-project iid. */
typedef struct mpd_item {
    long iid;             /* per-project id, 1, 2, ... */
    long project_id;      /* its project */
    long primary_oms_id;  /* the offer's primary OMS, 0 for none (then the default OMS) */
    char *status;         /* status.value, free text */
    char *status_type;    /* status.type */
    json_t *attributes;   /* object */
    json_t *oms_params;   /* object or NULL */
    json_t *user_secrets; /* object of strings */
} mpd_item_t;

typedef struct mpd_project {
    long id;            /* global id */
    json_t *owner;      /* object */
    json_t *attributes; /* object */
    mpd_item_t **items; /* items[iid - 1] */
    size_t n_items;     /* items */
    size_t cap_items;   /* allocated */
} mpd_project_t;

typedef struct mpd_message {
    long id;            /* global id */
    long project_id;    /* messageable: the project ... */
    long item_iid;      /* ... or this item of it; 0 for the project */
    json_t *author;     /* {uid?, email?, name?} as stored */
    char *role;         /* user | provider | mediator */
    char *content;      /* clear text */
    char *scope;        /* public | internal | user_direct */
    int64_t created_us; /* microseconds since the epoch */
    int64_t updated_us; /* microseconds since the epoch */
    bool edited;        /* set by an edit */
} mpd_message_t;

typedef enum { MPD_CREATE = 0, MPD_UPDATE = 1 } mpd_action_t;
typedef enum { MPD_R_PROJECT = 0, MPD_R_ITEM = 1, MPD_R_MESSAGE = 2 } mpd_resource_t;

/* An event row: one for all OMSes, filtered per OMS when read (reference 5.5). */
typedef struct mpd_event {
    long seq;                /* creation order, for the control view only */
    int64_t created_us;      /* created_at, microseconds */
    mpd_action_t action;     /* create | update */
    mpd_resource_t resource; /* what changed */
    long project_id;         /* identity */
    long item_iid;           /* identity, 0 for none */
    long message_id;         /* identity, 0 for none */
    json_t *changes;         /* [{field, before, after}] with model field names, or NULL */
    bool committed;          /* visible to readers */
} mpd_event_t;

/* A growable array of pointers. */
typedef struct mpd_vec {
    void **v;   /* elements */
    size_t n;   /* used */
    size_t cap; /* allocated */
} mpd_vec_t;

/* Faults the control interface injects into the next /api/ requests. */
typedef struct mpd_faults {
    long fail_next;   /* answer this many with fail_status */
    int fail_status;  /* 5xx */
    long hang_next;   /* hold this many for hang_ms before answering */
    long hang_ms;     /* ms */
    long slow_next;   /* send this many bodies slowly over slow_ms */
    long slow_ms;     /* ms */
    bool stable_ties; /* false (default): events of one created_at come in any order */
} mpd_faults_t;

typedef struct mpd_store {
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t wake;    /* broadcast on stop (ends hangs) */
    bool stopping;          /* the process is stopping */
    mpd_vec_t omses;        /* mpd_oms_t *, by registration */
    mpd_vec_t users;        /* char *: tokens of users who administer no OMS */
    mpd_vec_t projects;     /* mpd_project_t *, projects[id - 1] */
    mpd_vec_t messages;     /* mpd_message_t *, messages[id - 1] */
    mpd_vec_t events;       /* committed mpd_event_t *, sorted by created_us, stable */
    mpd_vec_t held;         /* events held back, not yet committed */
    long hold_next;         /* hold back this many of the next events */
    long event_seq;         /* events made */
    int64_t last_us;        /* the clock never goes back */
    mpd_faults_t faults;    /* pending faults */
    long requests;          /* /api/ requests served */
    mpd_trigger_t *trigger; /* borrowed: where events fire triggers */
    unsigned seed;          /* rand_r state: the order of ties */
} mpd_store_t;

/* Store (mp_double_store.c). Callers hold store->lock around every call but new/destroy. */

/* Returns a new empty store that fires triggers through trigger (borrowed until destroy), or
   NULL. */
mpd_store_t *mpd_store_new(mpd_trigger_t *trigger);
/* Frees the store and all it holds; accepts NULL; sets *self_p to NULL. */
void mpd_store_destroy(mpd_store_t **self_p);

/* Appends p to the vector. Returns 0 or -ENOMEM. */
int mpd_vec_push(mpd_vec_t *self, void *p);

/* The current time in microseconds, never below a time given before. */
int64_t mpd_store_now(mpd_store_t *self);

/* Lookups: borrowed pointers valid while the lock is held, or NULL. */
mpd_oms_t *mpd_oms_find(mpd_store_t *self, long id);
mpd_oms_t *mpd_oms_default(mpd_store_t *self);
mpd_project_t *mpd_project_find(mpd_store_t *self, long id);
mpd_item_t *mpd_item_find(mpd_project_t *project, long iid);
mpd_message_t *mpd_message_find(mpd_store_t *self, long id);

/* Authorization (reference 3): whether token names a known user, administers oms. */
bool mpd_token_known(mpd_store_t *self, const char *token);
bool mpd_token_admins(mpd_store_t *self, const char *token, long oms_id);
/* The item's current OMS (primary, else the default OMS's id, else 0). */
long mpd_item_current_oms(mpd_store_t *self, const mpd_item_t *item);

/* Scopes of an OMS (reference 3.4, 4.6): as evaluated at query time. */
bool mpd_scope_project(mpd_store_t *self, const mpd_oms_t *oms, const mpd_project_t *project);
bool mpd_scope_item(const mpd_oms_t *oms, const mpd_item_t *item);
bool mpd_scope_message(mpd_store_t *self, const mpd_oms_t *oms, const mpd_message_t *msg);
bool mpd_scope_event(mpd_store_t *self, const mpd_oms_t *oms, const mpd_event_t *event);

/* Changes that make events. Each returns the new or changed object (borrowed) or NULL (out of
   memory, or an argument the caller should have checked). created_us: 0 for now. */
mpd_oms_t *mpd_oms_add(mpd_store_t *self, const json_t *spec, const char **ret_error);
mpd_project_t *mpd_project_add(mpd_store_t *self, const json_t *owner, const json_t *attributes);
mpd_item_t *mpd_item_add(mpd_store_t *self, mpd_project_t *project, const json_t *spec);
/* Sets the status (NULLs leave it) and merges secrets (NULL: none); an update event when a
   tracked attribute changed, and the voucher message of reference 4.8. Returns 0 or -ENOMEM. */
int mpd_item_update(mpd_store_t *self, mpd_item_t *item, const char *value, const char *type,
                    const json_t *secrets, int64_t created_us);
mpd_message_t *mpd_message_add(mpd_store_t *self, long project_id, long item_iid,
                               const json_t *author, const char *role, const char *content,
                               const char *scope);
int mpd_message_edit(mpd_store_t *self, mpd_message_t *msg, const char *content);
/* Commits the held events, in creation order, and holds no more. */
void mpd_store_release(mpd_store_t *self);

/* Index of the first committed event with created_us > after_us. */
size_t mpd_events_after(mpd_store_t *self, int64_t after_us);

/* JSON views as the Marketplace serializes them; new references, NULL on no memory. */
json_t *mpd_json_oms(const mpd_oms_t *oms);
json_t *mpd_json_project(const mpd_project_t *project);
/* clear: the keys of user_secrets to show in clear (the PATCH response), or NULL. */
json_t *mpd_json_item(const mpd_item_t *item, const json_t *clear);
json_t *mpd_json_message(const mpd_message_t *msg, bool keep_content);
json_t *mpd_json_event(mpd_store_t *self, const mpd_event_t *event);
/* The whole state, secrets and microseconds included, for /_control/state. */
json_t *mpd_store_dump(mpd_store_t *self);

/* Formats us as 2021-05-25T21:07:42Z (seconds) or with .123456 (micro true) into buf. */
void mpd_format_ts(int64_t us, bool micro, char *buf, size_t len);
/* Parses from_timestamp strictly (reference 2.6). Returns 0 and *ret_us, or -1. */
int mpd_parse_ts(const char *text, int64_t *ret_us);

/* Trigger (mp_double_trigger.c). */

/* Starts the trigger thread; retry delays are Sidekiq's seconds times scale_ms ms. Returns it or
   NULL. */
mpd_trigger_t *mpd_trigger_new(long scale_ms);
/* Stops the thread (abandoning calls in flight) and frees it; accepts NULL. */
void mpd_trigger_destroy(mpd_trigger_t **self_p);
/* Queues one call of oms's trigger (a no-op without one); copies what it needs. Returns 0 or
   -ENOMEM. */
int mpd_trigger_fire(mpd_trigger_t *self, const mpd_oms_t *oms);
/* The attempts made so far, as a JSON array (new reference) or NULL. */
json_t *mpd_trigger_log(mpd_trigger_t *self);
/* Encodes "user:password" in Base64, URL-safe alphabet, padded, into a new string or NULL. */
char *mpd_base64_urlsafe(const char *user, const char *password);

/* API (mp_double_api.c). */
struct MHD_Daemon;
/* Starts the HTTP server on 127.0.0.1:port (0: ephemeral) serving store (borrowed until
   stop). Returns the daemon or NULL; *ret_port gets the bound port. */
struct MHD_Daemon *mpd_api_start(mpd_store_t *store, unsigned port, unsigned *ret_port);
/* Ends hangs in progress and stops the server; accepts NULL. */
void mpd_api_stop(mpd_store_t *store, struct MHD_Daemon *daemon);

#endif
