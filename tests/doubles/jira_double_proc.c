/*  jira_double_proc: start, stop and call orderbus-jira-double for tests. */
#include "jira_double_proc.h"

#include <stdio.h>
#include <stdlib.h>

#define S_HEADER_MAX 1024 /* bytes of the Authorization header line */

int
jira_double_proc_start(jira_double_proc_t *self)
{
    return double_proc_start(self, getenv("OB_JIRA_DOUBLE"), NULL);
}

int
jira_double_proc_stop(jira_double_proc_t *self, int sig)
{
    return double_proc_stop(self, sig);
}

long
jira_double_proc_call(const jira_double_proc_t *self, const char *method, const char *path,
                      const char *auth, const char *body, json_t **ret_json, char **ret_headers)
{
    char header[S_HEADER_MAX];
    const char *headers[] = {header, NULL};
    if (auth && snprintf(header, sizeof header, "Authorization: %s", auth) >= (int)sizeof header)
        return -1;
    char *text = NULL;
    long status =
        double_proc_request(self, method, path, auth ? headers : NULL, body, &text, ret_headers);
    if (ret_json)
        *ret_json = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return status;
}

json_t *
jira_double_proc_control(const jira_double_proc_t *self, const char *call, const json_t *body)
{
    char path[S_HEADER_MAX];
    snprintf(path, sizeof path, "/_control/%s", call);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *answer = NULL;
    long status = body && !text ? -1
                                : jira_double_proc_call(self, "POST", path, NULL,
                                                        text ? text : "{}", &answer, NULL);
    free(text);
    if (status < 200 || status > 299) {
        json_decref(answer);
        return NULL;
    }
    return answer ? answer : json_object(); /* a 204 (a transition) */
}

json_t *
jira_double_proc_state(const jira_double_proc_t *self)
{
    json_t *answer = NULL;
    if (jira_double_proc_call(self, "GET", "/_control/state", NULL, NULL, &answer, NULL) != 200) {
        json_decref(answer);
        return NULL;
    }
    return answer;
}
