/*  ob_trigger: the pure part of the trigger endpoint, /trigger/<oms_id>: which OMS a path
    names, where the request's basic credentials are, and whether they are the expected ones.
    No HTTP server here: gw_http hands in what libmicrohttpd parsed, and the fuzz target and
    the unit test hand in anything.

    Where the credentials are (marketplace-ordering-api.md 6.2): the Marketplace's code passes
    `authorization: "Basic " + Base64.urlsafe_encode64("user:password")` where Faraday takes
    query parameters (GET) or a form body (POST, PUT), not a header. So, in this order:
    the `Authorization` header; else the query's `authorization` parameter (as the server
    decoded it); else, for POST and PUT, the `authorization` field of a form body
    (application/x-www-form-urlencoded: '&'-separated, '+' and %XX decoded here). The value is
    `Basic`, one or more spaces, then Base64 of `user:password` in the standard or the
    URL-safe alphabet (common/base64.h); a space inside it is read as '+', which a form
    encoding turns into a space when the sender did not escape it. The user ends at the first
    ':' (RFC 7617).

    Comparison: ob_trigger_check hashes the given and the expected `user:password` with
    BLAKE2b and compares the digests with sodium_memcmp, so that its time depends neither on
    where they differ nor on the expected lengths. */
#ifndef OB_GW_TRIGGER_H
#define OB_GW_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"

#define OB_TRIGGER_PREFIX "/trigger/" /* the path of OMS n is OB_TRIGGER_PREFIX n */

/* What the server parsed of one trigger request; every pointer borrowed. */
typedef struct ob_trigger_request {
    const char *method;       /* "GET", "POST", "PUT" (others never carry a form) */
    const char *header;       /* the Authorization header's value, or NULL */
    const char *query;        /* the query's authorization value, decoded, or NULL */
    const char *content_type; /* the Content-Type header, or NULL */
    const char *body;         /* the request body, body_len bytes, or NULL */
    size_t body_len;          /* at most OB_GW_TRIGGER_BODY_MAX */
} ob_trigger_request_t;

/* Basic credentials, NUL-terminated. */
typedef struct ob_trigger_creds {
    char user[OB_GW_USER_MAX + 1];       /* before the first ':' */
    char password[OB_GW_SECRET_MAX + 1]; /* after it */
} ob_trigger_creds_t;

/* Parses path (borrowed, NUL-terminated, no query) as OB_TRIGGER_PREFIX and a decimal OMS id
   (1..OB_GW_OMS_ID_MAX, no sign, no leading zero). Returns 0 with *ret_oms_id,
   OB_ERR_INVALID_ARGUMENT (not a trigger path) or OB_ERR_FIELD_TYPE (a trigger path whose
   id is not a valid one). */
int ob_trigger_path(const char *path, uint64_t *ret_oms_id);

/* Finds and decodes the credentials of req (borrowed) as described at the top into
   *ret_creds (written only on success). Returns 0; OB_ERR_MISSING_FIELD (none anywhere);
   OB_ERR_MALFORMED (not "Basic <base64 of user:password>", a bad form encoding, a NUL
   byte); OB_ERR_TOO_LARGE (a value over OB_GW_TRIGGER_AUTH_MAX, a body over
   OB_GW_TRIGGER_BODY_MAX, a user or password over its cap); -ENOMEM. */
int ob_trigger_credentials(const ob_trigger_request_t *req, ob_trigger_creds_t *ret_creds);

/* Returns 1 if given (borrowed) holds exactly user and password (borrowed), else 0, in time
   independent of the secrets (see the top). */
int ob_trigger_check(const ob_trigger_creds_t *given, const char *user, const char *password);

#endif
