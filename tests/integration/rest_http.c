/*  rest_http: see rest_http.h. */
#include "rest_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "token.h"

#define S_URL_MAX 2048  /* bytes of a URL */
#define S_LINE_MAX 1024 /* bytes of a header line we send */
#define S_NAME_MAX 128  /* bytes of a header name kept */
#define S_TYPE_HEAD "Content-Type:"
#define S_TYPE_NAME "content-type"
#define S_RETRY_NAME "retry-after"
#define S_STATUS_HEAD "HTTP/"

static size_t
s_append(char *data, size_t size, size_t n, void *arg)
{
    rest_answer_t *a = arg;
    size_t len = size * n;
    char *text = realloc(a->text, a->len + len + 1);
    if (!text)
        return 0;
    memcpy(text + a->len, data, len);
    a->text = text;
    a->len += len;
    a->text[a->len] = '\0';
    return len;
}

/* One header line: Content-Type and Retry-After into their fields, every header into
   a->headers (a status line, as of a 100 Continue before the answer, starts them again). */
static size_t
s_header(char *data, size_t size, size_t n, void *arg)
{
    rest_answer_t *a = arg;
    size_t len = size * n;
    while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
        len--;
    if (len >= strlen(S_STATUS_HEAD) && !strncmp(data, S_STATUS_HEAD, strlen(S_STATUS_HEAD))) {
        json_decref(a->headers);
        a->headers = NULL;
        a->content_type[0] = '\0';
        a->retry_after = 0;
        return size * n;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon || colon == data)
        return size * n;
    char name[S_NAME_MAX];
    size_t name_len = (size_t)(colon - data);
    if (name_len >= sizeof name)
        return size * n;
    for (size_t i = 0; i < name_len; i++)
        name[i] = (char)tolower((unsigned char)data[i]);
    name[name_len] = '\0';
    const char *v = colon + 1;
    size_t vlen = len - name_len - 1;
    while (vlen && (*v == ' ' || *v == '\t'))
        v++, vlen--;
    if (!strcmp(name, S_TYPE_NAME))
        snprintf(a->content_type, sizeof a->content_type, "%.*s", (int)vlen, v);
    else if (!strcmp(name, S_RETRY_NAME))
        a->retry_after = strtol(v, NULL, 10);
    if (!a->headers)
        a->headers = json_object();
    assert_non_null(a->headers);
    assert_int_equal(json_object_set_new(a->headers, name, json_stringn(v, vlen)), 0);
    return size * n;
}

/* Appends the exchange to the file OB_REST_RECORD names, if any. */
static void
s_record(const rest_request_t *req, const rest_answer_t *a)
{
    const char *file = getenv("OB_REST_RECORD");
    if (!file || !*file || !a->status)
        return;
    json_t *line =
        json_pack("{s:s, s:s, s:I, s:s, s:o, s:s%}", "method", req->method, "path", req->path,
                  "status", (json_int_t)a->status, "content_type", a->content_type, "headers",
                  a->headers ? json_incref(a->headers) : json_object(), "body",
                  a->text ? a->text : "", a->len);
    assert_non_null(line);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    assert_non_null(text);
    FILE *f = fopen(file, "a");
    assert_non_null(f);
    fprintf(f, "%s\n", text);
    assert_int_equal(fclose(f), 0);
    free(text);
}

long
rest_http(const char *base_url, const rest_request_t *req, rest_answer_t *a)
{
    rest_answer_free(a);
    char url[S_URL_MAX], auth[S_LINE_MAX], type[S_LINE_MAX];
    snprintf(url, sizeof url, "%s%s", base_url, req->path);
    struct curl_slist *headers = NULL;
    if (req->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", req->token);
        headers = curl_slist_append(headers, auth);
    }
    snprintf(type, sizeof type, S_TYPE_HEAD " %s", req->content_type ? req->content_type : "");
    headers = curl_slist_append(headers, req->content_type ? type : S_TYPE_HEAD);
    if (req->header)
        headers = curl_slist_append(headers, req->header);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms ? req->timeout_ms : REST_HTTP_MS);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->len);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    if (a->text)
        a->json = json_loads(a->text, 0, NULL);
    s_record(req, a);
    return a->status;
}

void
rest_answer_free(rest_answer_t *a)
{
    free(a->text);
    json_decref(a->json);
    json_decref(a->headers);
    memset(a, 0, sizeof *a);
}

const char *
rest_error_code(const rest_answer_t *a)
{
    const char *code =
        json_string_value(json_object_get(json_object_get(a->json, "error"), "code"));
    assert_non_null(code);
    return code;
}

void
rest_http_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

void
rest_http_token_entry(char *out, size_t size, const char *name, const char *token,
                      const char *rules)
{
    uint8_t hash[OB_TOKEN_HASH_BYTES];
    char hex[OB_TOKEN_HASH_TEXT];
    assert_int_equal(ob_token_hash(token, strlen(token), hash), 0);
    ob_token_hash_format(hash, hex);
    size_t used = strlen(out);
    assert_true(used < size);
    snprintf(out + used, size - used, "client = %s\n    hash = %s\n%s", name, hex, rules);
}
