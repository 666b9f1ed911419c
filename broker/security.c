/*  ob_server, security (see server_int.h for the parts): the glue between the server and
    auth.c (the ZAP handler) and perms.c (the permissions table). Here: CURVE at start, the
    permissions loaded for both threads, FORBIDDEN replies with their rate-limited log, and
    the reload on SIGHUP, which ends the sessions of removed keys. The per-message identity
    check runs in server.c's dispatch (s_read_one). */
#include "server_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "auth.h"

/* Answers ERROR FORBIDDEN with reason to rid (borrowed), counts it and logs it: at most one
   line per OB_SERVER_FORBIDDEN_LOG_MS, which carries the number of refusals left unlogged
   before it, so that a client hammering a forbidden topic cannot flood the log. */
void
ob_srv_forbidden(ob_srv_t *self, zmq_msg_t *rid, uint64_t req, const char *who, const char *reason)
{
    self->forbidden++;
    int64_t now = zclock_mono();
    if (self->forbidden_logged_at == 0 ||
        now - self->forbidden_logged_at >= OB_SERVER_FORBIDDEN_LOG_MS) {
        if (self->forbidden_unlogged)
            zsys_warning("server: FORBIDDEN to %s: %s (and %" PRIu64 " refusals not logged "
                         "before this one)",
                         who, reason, self->forbidden_unlogged);
        else
            zsys_warning("server: FORBIDDEN to %s: %s", who, reason);
        self->forbidden_logged_at = now;
        self->forbidden_unlogged = 0;
    } else
        self->forbidden_unlogged++;
    ob_srv_send_error(self, rid, req, OB_ERR_FORBIDDEN, "%s", reason);
}

/* Loads the permissions file twice from the same bytes (one table for us, one for the ZAP
   handler: threads share nothing) into *ret_mine and *ret_theirs. Returns 0 or an error with
   the reason in errbuf. */
static int
s_load_perms(const char *path, ob_perms_t **ret_mine, ob_perms_t **ret_theirs, char *errbuf,
             size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    ob_perms_t *mine = NULL, *theirs = NULL;
    int rc = ob_perms_read(path, &text, &len, errbuf, errlen);
    if (rc == 0)
        rc = ob_perms_load_text(text, len, path, &mine, errbuf, errlen);
    if (rc == 0)
        rc = ob_perms_load_text(text, len, path, &theirs, errbuf, errlen);
    free(text);
    if (rc) {
        ob_perms_destroy(&mine);
        return rc;
    }
    *ret_mine = mine;
    *ret_theirs = theirs;
    return 0;
}

/* Reloads the permissions file (SIGHUP): if it parses, the new table replaces the old one
   here and in the ZAP handler, and the sessions of keys no longer present get ERROR
   FORBIDDEN and end; else the old table stays. Returns 0 or the error, reason in errbuf. */
int
ob_srv_reload(ob_srv_t *self, char *errbuf, size_t errlen)
{
    ob_perms_t *mine = NULL, *theirs = NULL;
    snprintf(errbuf, errlen, "%s", "");
    if (!self->perms) {
        snprintf(errbuf, errlen, "plaintext mode (curve = 0): no permissions to reload");
        return OB_ERR_INVALID_ARGUMENT;
    }
    int rc = s_load_perms(self->cfg.permissions, &mine, &theirs, errbuf, errlen);
    if (rc) {
        zsys_error("server: permissions not reloaded, the old ones stay: %s", errbuf);
        return rc;
    }
    if (ob_auth_set_perms(self->auth, &theirs)) {
        snprintf(errbuf, errlen, "the ZAP handler does not answer");
        zsys_error("server: permissions not reloaded: %s", errbuf);
        ob_perms_destroy(&mine);
        return OB_ERR_SHUTDOWN;
    }
    ob_perms_destroy(&self->perms);
    self->perms = mine;

    zlistx_t *ended = zlistx_new();
    for (ob_srv_session_t *session = zhashx_first(self->sessions); session && ended;
         session = zhashx_next(self->sessions))
        if (!ob_perms_lookup(self->perms, session->user))
            zlistx_add_end(ended, session);
    size_t count = ended ? zlistx_size(ended) : 0;
    ob_srv_session_t *session;
    while (ended && (session = zlistx_detach(ended, NULL))) {
        ob_srv_send_error_to(self, session, 0, OB_ERR_FORBIDDEN,
                             "client %s: key removed from the permissions file; session ended",
                             session->name);
        self->forbidden++;
        ob_srv_end_session(self, session);
    }
    zlistx_destroy(&ended);
    zsys_info("server: permissions reloaded from %s: %zu clients; %zu sessions ended",
              self->cfg.permissions, ob_perms_size(self->perms), count);
    return 0;
}

/* CURVE mode: loads the broker's certificate and the permissions, starts the ZAP handler
   and makes the ROUTER a CURVE server. Returns 0 or the failure (recorded). */
int
ob_srv_start_curve(ob_srv_t *self)
{
    const ob_config_t *cfg = &self->cfg;
    char reason[OB_SRV_REASON_FAIL];
    ob_perms_t *theirs = NULL;
    static const uint8_t zero[32] = {0};
    zcert_t *cert = zcert_load(cfg->cert);
    if (!cert || !memcmp(zcert_secret_key(cert), zero, sizeof zero)) {
        zcert_destroy(&cert);
        ob_srv_start_failed(self, -ENOENT,
                            "cannot read the broker certificate %s (its secret key is in "
                            "%s_secret): create one with `orderbus-keys broker DIR` and set "
                            "security/cert = DIR/broker.cert",
                            cfg->cert, cfg->cert);
        return self->start_rc;
    }
    int rc = s_load_perms(cfg->permissions, &self->perms, &theirs, reason, sizeof reason);
    if (rc) {
        zcert_destroy(&cert);
        ob_srv_start_failed(self, rc, "%s", reason);
        return rc;
    }
    self->auth = ob_auth_start(&theirs);
    if (!self->auth) {
        zcert_destroy(&cert);
        ob_srv_start_failed(self, -EADDRINUSE,
                            "cannot start the ZAP handler: %s is taken (one CURVE broker per "
                            "process)",
                            OB_AUTH_ENDPOINT);
        return self->start_rc;
    }
    zcert_apply(cert, self->router);
    zcert_destroy(&cert);
    zsock_set_curve_server(self->router, 1);
    zsock_set_zap_domain(self->router, OB_SERVER_ZAP_DOMAIN);
    zsys_info("server: CURVE on, %zu clients in %s", ob_perms_size(self->perms), cfg->permissions);
    return 0;
}
