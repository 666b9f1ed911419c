/*  rest_http: the HTTP client of the gateway's REST tests (libcurl easy, one request per
    call, with a deadline). Every answer it receives is also appended, when the environment
    variable OB_REST_RECORD names a file, as one JSON line {"method", "path", "status",
    "content_type", "headers", "body"} (headers: each name in lower case to its value; body:
    the text as received), so that tests/integration/openapi_check.py can validate each answer
    against gateway/openapi.json (CTest gw_openapi_answers, tests/integration/rest_record.cmake).
    Uses cmocka's asserts: for tests only. */
#ifndef OB_REST_HTTP_H
#define OB_REST_HTTP_H

#include <jansson.h>
#include <stddef.h>

#define REST_HTTP_MS 10000     /* one request, unless the call says otherwise */
#define REST_HTTP_TYPE_MAX 128 /* bytes of a Content-Type kept */

/* An HTTP answer. */
typedef struct rest_answer {
    long status;                           /* HTTP status, 0 if none (no answer in time) */
    char *text;                            /* the body, NUL-terminated, owned, or NULL */
    size_t len;                            /* its bytes */
    json_t *json;                          /* the body parsed, or NULL */
    long retry_after;                      /* Retry-After, or 0 */
    char content_type[REST_HTTP_TYPE_MAX]; /* Content-Type, "" if none */
    json_t *headers;                       /* every header: lower-case name -> value, or NULL */
} rest_answer_t;

/* A request: what rest_http sends. Fields left 0 or NULL are not sent. */
typedef struct rest_request {
    const char *method;       /* "GET", "POST", ... */
    const char *path;         /* from the first "/", query included */
    const char *token;        /* Authorization: Bearer <token>, or NULL */
    const char *content_type; /* Content-Type, or NULL for none */
    const char *body;         /* len bytes, or NULL */
    size_t len;               /* bytes at body */
    const char *header;       /* one more header line ("Last-Event-ID: 7"), or NULL */
    long timeout_ms;          /* 0 for REST_HTTP_MS */
} rest_request_t;

/* Sends req to base_url ("http://127.0.0.1:PORT") and writes the answer into *a (freed
   first). Returns a->status. */
long rest_http(const char *base_url, const rest_request_t *req, rest_answer_t *a);

/* Frees what a holds and zeroes it; accepts a zeroed answer. */
void rest_answer_free(rest_answer_t *a);

/* The error code of an error answer (borrowed from a); asserts that it has one. */
const char *rest_error_code(const rest_answer_t *a);

/* Writes text to the file path (created or truncated); asserts that it could. */
void rest_http_write_file(const char *path, const char *text);

/* Appends to out (size bytes, NUL-terminated) the tokens file entry (gateway/tokens.h) of
   client name with the hash of token and rules (lines "    key = value\n"). */
void rest_http_token_entry(char *out, size_t size, const char *name, const char *token,
                           const char *rules);

#endif
