/*  mp_compat_client: a compatibility client of the Ordering API for tests (issue 17), written
    from the reference's section 8 (marketplace-api-client: its endpoints, its request
    shapes, its models) and section 9.3 (the reference adapter's trigger flow: take a
    trigger, read the events from the last timestamp, fetch each resource an event names).
    It runs one scenario against an Ordering API (the Marketplace double, or the gateway's
    facade) and records the resources it sees, so that a test can require both to show the
    same.

    Where it departs from the reference's code, it does so where that code cannot work
    (8.2, 8.3, 9.3): from_timestamp is sent with its Z, and the events' timestamps are read.
    Like the reference adapter it reads one page of events per trigger (limit
    MPC_EVENTS_LIMIT), and, as 6.4 advises, re-reads the last second and deduplicates.

    The read and write base URLs are separate, so that the write side of the facade can be
    tested before its read side exists (reads from the double behind the gateway, writes
    through the gateway); with the read side, both are the gateway's. C with libcurl (easy,
    one request per call) and Jansson; the trigger receiver is libmicrohttpd. The caller
    calls curl_global_init once. For tests only: no caps beyond libcurl's timeout. */
#ifndef OB_MP_COMPAT_CLIENT_H
#define OB_MP_COMPAT_CLIENT_H

#include <jansson.h>

#define MPC_TIMEOUT_MS 20000 /* one request, and a trigger's wait */
#define MPC_EVENTS_LIMIT 100 /* events read per trigger */
#define MPC_TS_MAX 32        /* bytes of a timestamp with its NUL */
#define MPC_URL_MAX 256      /* bytes of a base URL or a path */
#define MPC_TOKEN_MAX 256    /* bytes of a token */
#define MPC_QUERY_MAX 48     /* bytes of one query parameter ("&project_item_id=" and an id) */

/* Where the client talks to and as whom. */
typedef struct mpc_config {
    const char *read_url;    /* base URL of the GETs (http://127.0.0.1:PORT), borrowed */
    const char *read_token;  /* their X-User-Token, borrowed */
    const char *write_url;   /* base URL of the PATCHes and POSTs, borrowed */
    const char *write_token; /* their X-User-Token, borrowed */
    long oms_id;             /* the OMS */
} mpc_config_t;

typedef struct mpc_client mpc_client_t;

/* A new client for cfg (copied), with its trigger receiver listening on 127.0.0.1 (any
   port: mpc_trigger_url). Returns it (mpc_destroy) or NULL. */
mpc_client_t *mpc_new(const mpc_config_t *cfg);

/* Sets the URLs, tokens and OMS of cfg (copied): a client's receiver URL may have to go
   into the configuration of the server it then talks to. */
void mpc_configure(mpc_client_t *self, const mpc_config_t *cfg);

/* Stops the receiver and frees the client; sets *self_p to NULL; accepts NULL. */
void mpc_destroy(mpc_client_t **self_p);

/* The receiver's URL, POST only (9.2: /mp/trigger, answered 204); borrowed. */
const char *mpc_trigger_url(const mpc_client_t *self);

/* Triggers received so far. */
long mpc_triggers(mpc_client_t *self);

/* The endpoints of section 8.2. Each returns the HTTP status (-1: no answer) and, if ret is
   not NULL, the answer parsed (a new reference, NULL if not JSON). */
long mpc_list_events(mpc_client_t *self, const char *from_timestamp, int limit, json_t **ret);
long mpc_list_messages(mpc_client_t *self, long project_id, long project_item_id, long from_id,
                       int limit, json_t **ret);
long mpc_get_message(mpc_client_t *self, long message_id, json_t **ret);
long mpc_create_message(mpc_client_t *self, const json_t *message, json_t **ret);
long mpc_update_message(mpc_client_t *self, long message_id, const char *content, json_t **ret);
long mpc_list_project_items(mpc_client_t *self, long project_id, json_t **ret);
long mpc_get_project_item(mpc_client_t *self, long project_id, long project_item_id, json_t **ret);
/* The body marketplace-api-client sends: {"status": {"value": status, "type": status},
   "user_secrets": {}}. */
long mpc_update_project_item(mpc_client_t *self, long project_id, long project_item_id,
                             const char *status, json_t **ret);
long mpc_list_projects(mpc_client_t *self, json_t **ret);
long mpc_get_project(mpc_client_t *self, long project_id, json_t **ret);

/* Checks value against a model of section 8.3 ("event", "project", "project_item",
   "message"): the fields it requires, with their types and enums. Returns NULL, or a
   static string naming the first field that does not fit. */
const char *mpc_check(const char *model, const json_t *value);

/* The scenario, against cfg's Ordering API, on project project_id (its items 1 and 2 exist,
   of this OMS):
   1. take a trigger (waits for one), read the events from 2000-01-01T00:00:00Z, fetch each
      resource an event names;
   2. update item 1's status to in_progress (8.2's body); post a public message on item 1 as
      its provider, then edit it;
   3. take triggers and read on until the events show the edit;
   4. list the projects, each project's items, the project's and each item's messages.
   Returns {"resources": {"project/P", "project_item/P/I", "message/M": the resource as last
   fetched, ...}, "writes": [the three answers, each {"status", "body"}], "lists": {...}},
   a new reference, or NULL with the reason in errbuf. Every resource is checked with
   mpc_check on the way. */
json_t *mpc_scenario(mpc_client_t *self, long project_id, char *errbuf, size_t errlen);

/* Replaces, in a copy of value (returned, a new reference), the values of the keys that
   differ between two Marketplaces by time alone ("timestamp", "created_at", "updated_at")
   with "<time>". */
json_t *mpc_mask_times(const json_t *value);

#endif
