/*  ob_rest_subs: HTTP subscriptions (issue 15), Google Pub/Sub's pull model over the broker's
    durable subscriptions (PROTOCOL.md 12), behind ob_rest (rest.h):

        POST   /v1/subscriptions               create (201) or attach to (200) a durable
                                               subscription: ob_rest_parse_sub's body;
                                               {"name", "created"}
        GET    /v1/subscriptions?after=NAME    the token's client's subscriptions with the
                                               broker's figures (SUB_INFO), by name, at most
                                               OB_GW_SUBS_PAGE_MAX: {"subscriptions", "more"}
        GET    /v1/subscriptions/{name}        one of them
        DELETE /v1/subscriptions/{name}        SUB_DELETE: 204
        POST   /v1/subscriptions/{name}/fetch  {"max", "wait_ms"}: 200 {"deliveries": [{"handle",
                                               "topic", "seq", "attempt", "time", "event"}]}
        POST   /v1/subscriptions/{name}/ack    {"handles"}: 200 {"count"}
        POST   /v1/subscriptions/{name}/nack   {"handles", "delay_ms"}: 200 {"count"}

    Ownership. An HTTP subscription belongs to the token's client that created it. The gateway
    speaks to the broker as one client, so the broker's owner (PROTOCOL.md 14.4) is the
    gateway's; the gateway keeps the owner of each name in its LMDB (gw_store.h), written
    before the broker's SUBSCRIBE, so that it survives restarts. A name recorded for another
    client is refused 403 before the broker sees anything. A broker subscription without a
    record here (made by a ZeroMQ client) is 403 too; an unknown name is 404. A record whose
    broker subscription is gone (deleted by an admin, or a create the broker never answered)
    keeps the name for its client until it deletes it. Patterns are checked against the
    token's subscribe patterns at create (in libmicrohttpd's thread, ob_rest_subs_check) and
    again whenever the gateway attaches (a reloaded tokens file that narrows them is 403).
    Owners need no admin level for any of these routes: the subscriptions are their own.

    Attaching. The gateway attaches its broker client (ob_client_subscribe) at create and at a
    fetch when it is not attached, and detaches (UNSUBSCRIBE) a subscription that has no fetch,
    ack or nack for 2 x its ack_wait_ms (at least OB_GW_SUBS_IDLE_MIN_MS): by then every
    delivery it handed out is past its ack deadline. Deliveries received and not yet fetched are
    held per subscription; the broker's credit bounds them (a redelivery replaces the copy held
    of the same topic and seq). A held copy past its ack_wait_ms since it arrived is dropped
    (the broker redelivers it). A delivery the gateway held but no fetch took counts an attempt
    all the same (PROTOCOL.md 12.5: its attempt ends unacked at its ack timeout or when the
    gateway detaches), so a subscription whose credit is far above its fetches' max may see
    attempts, and dead letters, of events no client was shown: keep credit near max.

    Fetch. Answered at once with what is held (up to max); with none held it asks the broker for
    SUB_INFO (the subscription exists; the broker answers), attaches if needed, and waits up to
    wait_ms for deliveries: an empty list when the wait ends with none. At most rest_waits_max
    fetches of one client wait at once (429 with Retry-After beyond). The REST thread sleeps in
    poll(2) on its broker client's socket and its job queue, so a delivery is handed to a
    waiting fetch, and a request served, as soon as it arrives.

    Ack and nack: durability contract. The gateway sends the ACKs (NACKs) of the handles, then a
    SUB_INFO of the subscription on the same connection (one for all the acks and nacks of a
    subscription that the REST thread takes in one round), and answers 200 only after the
    broker's reply to it. The broker handles one connection's messages in order, so a 200 means the
    broker has read and applied every ACK of the request: the acked deliveries will not be
    delivered again, even if the gateway is then killed. An ack is durable at the broker's next
    group commit (PROTOCOL.md 12.4; acks alone are committed within about 10 ms, and any publish
    confirmed after the 200 proves a commit after them): a broker crash before that commit
    delivers the event again (at-least-once, never lost). An ACK applies only to a delivery
    pending to the gateway's broker session (PROTOCOL.md 12.4): a handle of an earlier gateway
    process or broker session is moot (answered 200 and counted, changing nothing unless that
    event has been delivered to the gateway again): the broker redelivers such events by
    itself, with their next attempt. A 503 (the broker did not answer) leaves it open whether
    the acks were applied: retrying is safe.

    The broker unreachable: requests that need its answer are 503 after OB_GW_REST_BROKER_MS;
    the gateway keeps serving, and its client re-attaches what it was attached to.

    Handles (handle.h) are sealed with a key kept in data_dir (OB_GW_HANDLE_KEY_FILE, made on
    first start with mode 0600), so that they stay valid across a gateway restart.

    Threads: ob_rest_subs_parse and ob_rest_subs_check run in libmicrohttpd's thread; the
    object (ob_rest_subs_new ... ob_rest_subs_destroy) belongs to the REST thread, with the
    broker client it borrows. Nothing is logged here; no handle or token is ever logged. */
#ifndef OB_GW_REST_SUBS_H
#define OB_GW_REST_SUBS_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"
#include "gw_store.h"
#include "orderbus/client.h"
#include "tokens.h"

#define OB_REST_SUBS_PATH "subscriptions" /* under /v1/ */

typedef struct ob_rest_subs ob_rest_subs_t;
typedef struct ob_rest_subs_req ob_rest_subs_req_t;

/* Hands the answer of the request whose job is job to the caller: status and body (a
   NUL-terminated JSON text, or "" for 204; owned, passed on; NULL without memory). */
typedef void(ob_rest_subs_done_fn)(void *job, unsigned status, char *body);

/* Returns 1 if client (borrowed) may subscribe with pattern (borrowed) now, else 0. */
typedef int(ob_rest_subs_may_fn)(void *arg, const char *client, const char *pattern);

/* Reads the handle key from data_dir/OB_GW_HANDLE_KEY_FILE into ret_key, making the file
   (random, mode 0600, synced) if it does not exist. Returns 0, or -errno, -EIO (libsodium),
   OB_ERR_MALFORMED (a file not of OB_GW_HANDLE_KEY_BYTES bytes) with a message in errbuf. */
int ob_rest_subs_key_load(const char *data_dir, uint8_t ret_key[OB_GW_HANDLE_KEY_BYTES],
                          char *errbuf, size_t errlen);

/* Returns the methods the route at path (what follows /v1/subscriptions, borrowed) takes, as
   a 405's Allow says them ("GET, POST"), or NULL if path is no route of these (static). */
const char *ob_rest_subs_allow(const char *path);

/* Parses a request in libmicrohttpd's thread: path is what follows /v1/subscriptions (""
   or "/NAME..."; borrowed), method the HTTP method, client the token's client name,
   content_type the header (NULL when absent), body (len bytes; too_large 1 if it went over
   body_max), after the query value of a list (NULL when absent), key the handle key; all
   borrowed for the call. On success *ret_req is the caller's (ob_rest_subs_req_destroy).
   Returns 0, or with a message: OB_GW_ERR_NOT_FOUND (no such route), OB_GW_ERR_METHOD,
   OB_GW_ERR_MEDIA_TYPE, OB_ERR_TOO_LARGE, OB_ERR_MALFORMED (a body on GET or DELETE), the
   codes of ob_rest_parse_sub, _fetch and _ack, -ENOMEM. */
int ob_rest_subs_parse(const char *path, const char *method, const char *client,
                       const char *content_type, const char *body, size_t len, int too_large,
                       uint64_t body_max, const char *after,
                       const uint8_t key[OB_GW_HANDLE_KEY_BYTES], ob_rest_subs_req_t **ret_req,
                       char *errbuf, size_t errlen);

/* Checks req (borrowed) against client's rights (borrowed; the caller holds the tokens
   table): a create's patterns must be covered by its subscribe patterns. Returns 0 or
   OB_ERR_FORBIDDEN with a message naming the pattern. */
int ob_rest_subs_check(const ob_rest_subs_req_t *req, const ob_tokens_client_t *client,
                       char *errbuf, size_t errlen);

/* Destroys a request; sets *req_p to NULL; accepts NULL. Only once its answer was handed
   over (or it was never served). */
void ob_rest_subs_req_destroy(ob_rest_subs_req_t **req_p);

/* Creates the REST thread's subscriptions over client and store (borrowed until destroy),
   with key (copied), waits_max long-polls per client, done to hand answers over and may
   (with may_arg) to check patterns at attach. Returns the object (owned) or NULL (no
   memory). */
ob_rest_subs_t *ob_rest_subs_new(ob_client_t *client, ob_gw_store_t *store,
                                 const uint8_t key[OB_GW_HANDLE_KEY_BYTES], unsigned waits_max,
                                 ob_rest_subs_done_fn *done, ob_rest_subs_may_fn *may,
                                 void *may_arg);

/* Serves req (borrowed until its answer is handed over) of job: calls done(job, ...) now,
   or later: from ob_rest_subs_poll for a fetch that waits, from ob_rest_subs_flush for an
   ack or nack. Uses the broker client synchronously (at most its timeout per round
   trip). */
void ob_rest_subs_serve(ob_rest_subs_t *self, ob_rest_subs_req_t *req, void *job);

/* Answers the acks and nacks served since the last call: one SUB_INFO round trip per
   subscription proves all of its applied (the durability contract above). The REST thread
   calls it after each round of requests, so that acks arriving together share it. Uses the
   broker client synchronously (at most its timeout per subscription). */
void ob_rest_subs_flush(ob_rest_subs_t *self);

/* Returns the monotonic ms (zclock_mono) at which ob_rest_subs_poll has work without a
   delivery: a waiting fetch's wait ends, or an idle subscription is detached; INT64_MAX if
   none. */
int64_t ob_rest_subs_due(const ob_rest_subs_t *self);

/* Takes the deliveries the broker client has received (without waiting), answers the fetches
   they make ready and those whose wait ran out, and detaches idle subscriptions. */
void ob_rest_subs_poll(ob_rest_subs_t *self);

/* Answers every waiting fetch 503 (the gateway stops), detaches nothing (the client goes),
   frees all; sets *self_p to NULL; accepts NULL. */
void ob_rest_subs_destroy(ob_rest_subs_t **self_p);

#endif
