/*  ob_rest: the REST API under /v1/ (issue 15) in the daemon, behind gw_http:

        POST /v1/topics/{topic}/events     publish one event (the JSON of `orderbus-monitor
                                           publish`): 200 {"id", "topic", "seq", "dup"}
        POST /v1/topics/{topic}/batch      a JSON array or NDJSON of events: 200 {"results":
                                           [...]}, one result per event, in order
        GET  /v1/topics/{topic}/events     stored events from_seq, or from from_time, up to
                                           limit (the broker's FETCH of a range)
        GET  /v1/topics/{topic}/events/{seq}  one stored event
        GET  /v1/topics                    the topics the client may read, with the
                                           broker's figures: a page of TOPICS after `after`
        POST /v1/oms/{oms_id}/commands     a command (COMMANDS.md) published on mp.<oms_id>:
                                           202 {"id", "topic", "seq", "dup"}; with wait_ms
                                           (1..OB_GW_WAIT_MS_MAX) 200 with its "outcome"
                                           event too, or 504 when the wait runs out
        GET  /v1/topics/{topic}/stream     the topic's events as Server-Sent Events, from
                                           Last-Event-ID or from_seq, else new ones only
                                           (rest_stream.h)
        GET  /v1/openapi.json              the OpenAPI document (openapi.json, compiled in),
                                           to any client with a token
        /v1/subscriptions...               HTTP subscriptions: rest_subs.h

    A publish is answered only after the broker's durable confirm. A batch is answered when
    every event of it is confirmed; if the broker refuses one (over its max_event, say),
    the answer is that refusal naming the event, and the events it did not refuse are
    stored (a retry of the batch is safe: they are duplicates then). Every request needs
    `Authorization: Bearer <token>` of a client of the tokens file (tokens.h): 401 without
    one or with an unknown one, 429 with Retry-After over the client's rate (rate_limit.h),
    403 for a topic outside its patterns (publish patterns for publishing and commands;
    admin read and a subscribe pattern for reading); then 415 for a Content-Type other than
    JSON (or NDJSON for a batch), 413 for a body over rest_body_max, 400 for a body that
    does not parse (rest_parse.h). Every refusal is decided before anything is sent to the
    broker, so that it changes nothing. Errors are {"error": {"code", "message"}}
    (ob_rest_error_json). Without a tokens file REST is off: every /v1/ path answers 404
    with code not_found and a message saying so (the API is not there, rather than there
    and failing: 503 would tell clients to retry).

    Design: libmicrohttpd's polling thread never waits for the broker. A handler checks the
    request and, if it needs the broker, queues a job for the REST thread and suspends its
    connection (MHD_suspend_connection); the REST thread owns its own liborderbus client
    (clients are not thread-safe), serves the jobs and resumes each connection
    (MHD_resume_connection) when its answer is ready. Between rounds it sleeps in poll(2) on
    its client's socket (ob_client_fd, drained first) and an eventfd that queuing a job
    signals, until the next deadline at most (a fetch's wait, a detach, a publish's 503, a
    command wait's next look, the client's heartbeat), so a request or a delivery is taken
    as it comes. One thread and one client suffice:
    publishes of all concurrent requests are pipelined on it (ob_client_publish_async, up to
    the client's window), and their confirms are matched back by token. Reads
    (ob_client_fetch) are synchronous on that thread: a read holds the publishes queued
    behind it for one broker round trip (at most OB_GW_REST_BROKER_MS when the broker does
    not answer). A pool of clients with thread-per-connection would block a thread per
    request and pipeline nothing. A command with wait_ms, once confirmed, waits on that
    thread without blocking it: every OB_GW_REST_LOOK_MS (sooner at first: 1, 2, 4 ... ms
    after the confirm) the thread reads what oms.<oms_id> stored since its last look
    (FETCH of ranges, from the command's stored time) for the
    outcome's derived id (ob_oms_outcome_id), so an outcome stored before the wait (a
    duplicate command) is found too (rest.c, "A command's wait").

    The broker unreachable: a publish not confirmed within OB_GW_REST_CONFIRM_MS, and a read
    not answered within OB_GW_REST_BROKER_MS, are answered 503 (code unavailable). Such a
    publish may still be stored later (the client re-sends it in its next session): a
    retry with the same event id is answered as a duplicate, so clients that retry should
    give their events ids. The gateway goes on serving, and its client reconnects by
    itself.

    Tokens: the table is swapped whole on ob_rest_reload (SIGHUP); a request's checks run
    under the lock, so no request sees a table being destroyed. No token is logged. */
#ifndef OB_GW_REST_H
#define OB_GW_REST_H

#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

#include "gw_config.h"
#include "gw_stats.h"
#include "gw_store.h"
#include "orderbus/client.h"

typedef struct ob_rest ob_rest_t;
typedef struct ob_rest_job ob_rest_job_t;

/* Creates the REST side for cfg (borrowed until destroyed; store and stats too): loads
   cfg->tokens_file if set, and the handle key of cfg->data_dir (rest_subs.h), and starts the
   REST thread with its broker client (which connects in the background); HTTP subscription
   owners are kept in store. With no tokens_file it answers every request with 404.
   Returns the object (owned, ob_rest_destroy) or NULL with a message in errbuf (the tokens
   file does not load, the handle key cannot be read or made, no memory, the client cannot
   be made). */
ob_rest_t *ob_rest_new(const ob_gw_config_t *cfg, ob_gw_store_t *store, ob_gw_stats_t *stats,
                       char *errbuf, size_t errlen);

/* Reads the tokens file again and swaps the new table in; on failure keeps the old one.
   Returns 0, or the loader's error with a message in errbuf; 0 with REST off. */
int ob_rest_reload(ob_rest_t *self, char *errbuf, size_t errlen);

/* Serves the /v1/ request url (borrowed, the path) with method and its whole body (body:
   len bytes, borrowed for the call; too_large 1 if it went over cfg->rest_body_max and was
   cut) on connection c, from libmicrohttpd's access handler, whose con_cls *job_p is (NULL
   at first). Either queues the answer at once, or queues a job for the REST thread,
   stores it in *job_p and suspends c; when c is resumed, call again with the same *job_p:
   it queues the job's answer. Returns libmicrohttpd's result. */
enum MHD_Result ob_rest_serve(ob_rest_t *self, struct MHD_Connection *c, const char *url,
                              const char *method, const char *body, size_t len, int too_large,
                              ob_rest_job_t **job_p);

/* The Ordering API facade's checks (facade.h for its reads; its writes are served here),
   in the Marketplace's order, under the tokens table's lock so that a SIGHUP swap is seen:
   the token (len bytes at token, borrowed; the X-User-Token header, looked up as a bearer
   token is: whole hashes compared in constant time), oms_id a registered OMS, the right
   (write 0: a subscribe pattern covering oms.<oms_id>; write 1: a publish pattern matching
   mp.<oms_id>), then one request from the client's rate, as under /v1/. Writes the client's
   name into name. Returns 0; OB_GW_ERR_UNAUTHORIZED (no token, no client has it, REST
   off); OB_GW_ERR_NOT_FOUND (the OMS); OB_ERR_FORBIDDEN; OB_ERR_LIMIT with the seconds to
   wait in *ret_retry_after; -ENOMEM. */
int ob_rest_facade_authorize(ob_rest_t *self, const char *token, size_t len, uint64_t oms_id,
                             int write, char name[OB_GW_CLIENT_NAME_MAX + 1],
                             uint32_t *ret_retry_after);

/* Answers rc, a refusal of ob_rest_facade_authorize, on c as the Marketplace would: 401,
   404 and 403 with its strings ({"error": ...}); OB_ERR_LIMIT 429 with Retry-After:
   retry_after (at least 1); anything else 500. Returns libmicrohttpd's result. */
enum MHD_Result ob_rest_facade_refuse(ob_rest_t *self, struct MHD_Connection *c, int rc,
                                      uint32_t retry_after);
/* Serves a write of the Ordering API facade (facade_write.h: PATCH or PUT of a project item
   or a message, POST of a message, under /api/v1/oms/) as ob_rest_serve serves /v1/: url
   (the path, borrowed), method, the whole body (len bytes; too_large 1 if it went over
   cfg->rest_body_max and was cut), on connection c, with *job_p as its con_cls. The answers
   are the Marketplace's: 401, 404 "OMS not found" (an OMS this gateway does not serve) and
   403 (no publish right on mp.<oms_id>) for the X-User-Token, checked against the tokens
   file; the body's 400 or 404 at once; else the command is published and, within
   cfg->facade_wait_ms, answered with the Marketplace's status and body from its outcome,
   later 202 {"command_id", "outcome_topic"}. Also 413, 429 and 503 with {"error": ...};
   404 for every route while REST is off. Returns libmicrohttpd's result. */
enum MHD_Result ob_rest_facade_serve(ob_rest_t *self, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *body, size_t len,
                                     int too_large, ob_rest_job_t **job_p);

/* Returns the JSON {"seq", "time", "event"} of a fetched event f (borrowed), as GET
   /v1/topics/{topic}/events/{seq} answers it: a new reference the caller decrefs, or NULL
   (no memory, an event that does not decode). */
json_t *ob_rest_stored_json(const ob_fetched_t *f);

/* Frees a job (the request completed); sets *job_p to NULL; accepts NULL. Only for a job
   whose connection was resumed, or none (libmicrohttpd's completion callback). */
void ob_rest_job_destroy(ob_rest_job_t **job_p);

/* Stops the REST thread: jobs still waiting are answered 503 and their connections
   resumed; requests from now on are answered 503 at once. Call before stopping the HTTP
   server (libmicrohttpd must not stop with suspended connections). Idempotent. */
void ob_rest_close(ob_rest_t *self);

/* Closes (ob_rest_close) and frees; sets *self_p to NULL; accepts NULL. */
void ob_rest_destroy(ob_rest_t **self_p);

#endif
