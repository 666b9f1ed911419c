/*  ob_facade: the Ordering API facade (issue 17) in the daemon, behind gw_http: the
    Marketplace's Ordering API under /api/v1/oms/{oms_id}/ served from the bus, so that an
    OMS integrated with the Marketplace joins the bus by changing its base URL (README
    "Ordering API facade").

    Read side: the GET routes of facade_read.h, answered from the view (facade_view.h) in
    libmicrohttpd's thread (a short LMDB read transaction; no broker call). Write side
    (PATCH and POST): answered 405 here for now. Triggers out (facade_trigger.h): owned
    here and told by the view's thread what it adds (ob_facade_view_on_events).

    Checks, in the Marketplace's order: the route (else its 404 page, HTML), the
    X-User-Token header (else 401 {"error": "You need to sign in or sign up before
    continuing."}), the OMS (one registered with this gateway, else 404 "OMS not found"), the
    token's right (a subscribe pattern of its client in the REST tokens file that covers
    oms.<oms_id>, else 403 "You are not authorized to perform this action."), the client's
    rate as under /v1/ (else 429 {"error": ...} with Retry-After), then the route's query
    rules and resources (facade_read.h). Tokens are those of the REST API (tokens.h;
    ob_rest_facade_authorize, which the writes use too), so the facade needs a tokens_file,
    and a SIGHUP that reloads them holds for the facade too. No token is logged. */
#ifndef OB_GW_FACADE_H
#define OB_GW_FACADE_H

#include <microhttpd.h>
#include <stddef.h>

#include "facade_read.h"
#include "gw_config.h"
#include "gw_stats.h"
#include "rest.h"

typedef struct ob_facade ob_facade_t;

/* Starts the triggers out (facade_trigger.h) and opens the view in <cfg->data_dir>/facade;
   rest (borrowed until
   destroyed; cfg and stats too) holds the tokens. Returns the facade (owned,
   ob_facade_destroy) or NULL with a message in errbuf. */
ob_facade_t *ob_facade_new(const ob_gw_config_t *cfg, ob_rest_t *rest, ob_gw_stats_t *stats,
                           char *errbuf, size_t errlen);

/* Starts the view's thread, which tells the triggers out what the view adds: once the
   facade is served (its HTTP listener up), since a trigger tells an OMS to read it now.
   Returns 0, or -1 with a message in errbuf. */
int ob_facade_start(ob_facade_t *self, char *errbuf, size_t errlen);

/* Answers the request url (the path, borrowed) with method on connection c, from
   libmicrohttpd's access handler once the whole request is in. Returns libmicrohttpd's
   result. */
enum MHD_Result ob_facade_serve(ob_facade_t *self, struct MHD_Connection *c, const char *url,
                                const char *method);

/* Stops the view's thread, then the triggers out (calls in flight are abandoned), and
   frees; sets *self_p to NULL; accepts NULL. */
void ob_facade_destroy(ob_facade_t **self_p);

#endif
