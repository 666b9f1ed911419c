/*  mp_double_proc: start, stop and call orderbus-mp-double for tests. */
#include "mp_double_proc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define MP_DOUBLE_PROC_PATH_MAX 1024 /* bytes in a URL */

int
mp_double_proc_start(mp_double_proc_t *self, ...)
{
    const char *extra[DOUBLE_PROC_ARGS_MAX];
    int n = 0;
    va_list ap;
    va_start(ap, self);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) && n < DOUBLE_PROC_ARGS_MAX - 1)
        extra[n++] = arg;
    va_end(ap);
    extra[n] = NULL;
    return double_proc_start(self, getenv("OB_MP_DOUBLE"), extra);
}

int
mp_double_proc_stop(mp_double_proc_t *self, int sig)
{
    return double_proc_stop(self, sig);
}

long
mp_double_proc_raw(const mp_double_proc_t *self, const char *method, const char *path,
                   const char *token, const char *body, char **ret_text)
{
    char header[MP_DOUBLE_PROC_PATH_MAX];
    const char *headers[] = {header, NULL};
    if (token)
        snprintf(header, sizeof header, "X-User-Token: %s", token);
    return double_proc_request(self, method, path, token ? headers : NULL, body, ret_text, NULL);
}

long
mp_double_proc_http(const mp_double_proc_t *self, const char *method, const char *path,
                    const char *token, const json_t *body, json_t **ret_json)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char *answer = NULL;
    if (body && !text)
        return -1;
    long status = mp_double_proc_raw(self, method, path, token, text, &answer);
    free(text);
    if (ret_json)
        *ret_json = answer ? json_loads(answer, 0, NULL) : NULL;
    free(answer);
    return status;
}

json_t *
mp_double_proc_control(const mp_double_proc_t *self, const char *call, const json_t *body)
{
    char path[MP_DOUBLE_PROC_PATH_MAX];
    snprintf(path, sizeof path, "/_control/%s", call);
    json_t *empty = body ? NULL : json_object();
    json_t *answer = NULL;
    long status = mp_double_proc_http(self, "POST", path, NULL, body ? body : empty, &answer);
    json_decref(empty);
    if (status < 200 || status > 299) {
        json_decref(answer);
        return NULL;
    }
    return answer;
}

json_t *
mp_double_proc_get(const mp_double_proc_t *self, const char *what)
{
    char path[MP_DOUBLE_PROC_PATH_MAX];
    snprintf(path, sizeof path, "/_control/%s", what);
    json_t *answer = NULL;
    long status = mp_double_proc_http(self, "GET", path, NULL, NULL, &answer);
    if (status != 200) {
        json_decref(answer);
        return NULL;
    }
    return answer;
}
