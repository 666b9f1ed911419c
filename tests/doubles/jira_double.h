/*  jira_double: the internals of orderbus-jira-double, a Jira Server/Data Center double (REST
    API v2 subset, webhooks) for tests. tests/doubles/README.md says what it serves, what it
    models, the choices made where the reference is silent, and its control interface.

    Three parts, one job each:
    - jira_double_store.c: the whole state in memory behind one mutex (fields, projects with
      their screens and workflows, users, issues with comments and properties, links, webhooks)
      and everything Jira decides: validation of fields with Jira's error strings, workflows,
      comment visibility, the JQL subset, the JSON views and the webhook payloads;
    - jira_double_api.c: the HTTP side (libmicrohttpd): authentication, injected faults, the
      REST API under /rest/api/2/ and the control interface under /_control/;
    - jira_double_jql.c: the JQL subset (search and webhook filters);
    - jira_double_hooks.c: a thread that POSTs webhook payloads in order with libcurl.
    jira_double_main.c parses the arguments and wires them together.

    The state is Jansson values: the double mostly shows JSON, and /_control/state shows it. */
#ifndef OB_JIRA_DOUBLE_H
#define OB_JIRA_DOUBLE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the double (caps on what a request may ask for) and Jira's own figures. */
#define JD_BODY_MAX (1024 * 1024)   /* bytes in a request body */
#define JD_CONN_MAX 256             /* simultaneous HTTP connections */
#define JD_CONN_TIMEOUT_S 120       /* idle HTTP connection, seconds */
#define JD_URL_MAX 2048             /* bytes in a request path; longer: 414 */
#define JD_SEGS_MAX 8               /* path segments routed */
#define JD_BASE_MAX 64              /* bytes of the base URL */
#define JD_TS_LEN 40                /* bytes of a formatted timestamp */
#define JD_MSG_MAX 512              /* bytes of one error message */
#define JD_PROPERTY_VALUE_MAX 32768 /* characters of a property's JSON value (reference 8) */
#define JD_PROPERTY_KEY_MAX 255     /* characters of a property key (reference 8) */
#define JD_SUMMARY_MAX 255          /* characters a summary must stay under (Jira's text) */
#define JD_PAGE_DEFAULT 50          /* maxResults when absent: search and comments (7, 8) */
#define JD_SEARCH_MAX 1000          /* DC's default cap on a search's maxResults */
#define JD_JQL_MAX 4096             /* bytes of a JQL query */
#define JD_JQL_CLAUSES_MAX 32       /* clauses in one JQL query */
#define JD_JQL_VALUES_MAX 32        /* values in one IN list */
#define JD_HOOK_TIMEOUT_S 10        /* one webhook POST */
#define JD_HOOK_LOG_MAX 100000      /* deliveries kept for /_control/state */
#define JD_HOOK_QUEUE_MAX 100000    /* deliveries waiting; more are dropped and counted */
#define JD_FAULT_MS_MAX 600000      /* a slow answer, ms */
#define JD_METHOD_MAX 16            /* bytes of a method in a fault filter */
#define JD_FAULT_PATH_MAX 256       /* bytes of a path prefix in a fault filter */
#define JD_FAULT_COUNT_MAX 1000000  /* requests one fault may cover */
#define JD_ID_FIRST 10000           /* first issue, comment and link id, as in Jira */

typedef struct jd_hooks jd_hooks_t;

/* Faults injected into the next /rest/ requests that match method and path (in this order:
   drop, slow, status, lose). */
typedef struct jd_faults {
    long status_next; /* requests answered with status */
    long status;      /* 429, 503, ... */
    long retry_after; /* Retry-After seconds with status; <0: no header */
    long drop_next;   /* requests whose connection is closed without an answer */
    long slow_next;   /* requests answered after slow_ms */
    long slow_ms;     /* delay */
    long lose_next;   /* requests carried out, then closed without an answer (a lost answer) */
    char method[JD_METHOD_MAX];   /* only requests with this method ("": any) */
    char path[JD_FAULT_PATH_MAX]; /* only requests whose path starts with this ("": any) */
} jd_faults_t;

typedef struct jd_store {
    pthread_mutex_t lock;   /* guards everything below */
    pthread_cond_t wake;    /* broadcast on stop (ends slow answers) */
    bool stopping;          /* the server is stopping */
    char base[JD_BASE_MAX]; /* "http://127.0.0.1:PORT", for self URLs */
    json_t *fields;         /* array of field definitions, system ones first */
    json_t *projects;       /* array of projects (screens, workflow, key counter) */
    json_t *users;          /* array of users with their credentials */
    json_t *issues;         /* array of issue records, in creation order */
    json_t *links;          /* array of issue links */
    json_t *link_types;     /* array of issue link types */
    json_t *webhooks;       /* array of webhooks */
    json_t *indexed;        /* array of property keys that JQL can search */
    bool basic_enabled;     /* false: basic auth answers 403 (DC 8.16+ option) */
    long next_id;           /* next issue id */
    long next_comment;      /* next comment id */
    long next_link;         /* next issue link id */
    long next_changelog;    /* next changelog id */
    long search_max;        /* cap on maxResults */
    long requests;          /* /rest/ requests seen */
    jd_faults_t faults;     /* pending faults */
    jd_hooks_t *hooks;      /* webhook sender, borrowed */
} jd_store_t;

/* The outcome of an operation: an HTTP status and a body (owned; NULL for none). */
typedef struct jd_reply {
    unsigned status; /* HTTP status */
    json_t *json;    /* body or NULL (204) */
} jd_reply_t;

/* Store (jira_double_store.c). Every function but new and destroy is called with the lock
   held; bodies and users are borrowed; replies are the caller's. */

/* A new store with the system fields and Jira's default link types, sending webhooks through
   hooks (borrowed, outlives the store). Returns it or NULL. */
jd_store_t *jd_store_new(jd_hooks_t *hooks);
/* Frees the store; accepts NULL. */
void jd_store_destroy(jd_store_t **self_p);

/* {"errorMessages": [message or none], "errors": {field: text} or {}}: Jira's error body. */
jd_reply_t jd_error(unsigned status, const char *message, const char *field, const char *text);

/* The user named name, or whose credentials match (basic password or bearer token). */
json_t *jd_user_by_name(jd_store_t *self, const char *name);
json_t *jd_user_by_basic(jd_store_t *self, const char *name, const char *password);
json_t *jd_user_by_token(jd_store_t *self, const char *token);

/* The REST API (reference sections 4 to 10). user is the caller (a user object); query is the
   request's query parameters as a JSON object of strings; body is the parsed body or NULL
   (not JSON). */
jd_reply_t jd_issue_create(jd_store_t *self, json_t *user, const json_t *body);
jd_reply_t jd_issue_get(jd_store_t *self, json_t *user, const char *ref, const json_t *query);
jd_reply_t jd_issue_edit(jd_store_t *self, json_t *user, const char *ref, const json_t *body);
jd_reply_t jd_issue_delete(jd_store_t *self, json_t *user, const char *ref);
jd_reply_t jd_transitions_get(jd_store_t *self, json_t *user, const char *ref);
jd_reply_t jd_transition_do(jd_store_t *self, json_t *user, const char *ref, const json_t *body);
jd_reply_t jd_comment_add(jd_store_t *self, json_t *user, const char *ref, const json_t *body);
jd_reply_t jd_comment_edit(jd_store_t *self, json_t *user, const char *ref, const char *id,
                           const json_t *body);
jd_reply_t jd_comment_get(jd_store_t *self, json_t *user, const char *ref, const char *id);
jd_reply_t jd_comments_list(jd_store_t *self, json_t *user, const char *ref, const json_t *query);
jd_reply_t jd_property_put(jd_store_t *self, json_t *user, const char *ref, const char *key,
                           const char *raw, size_t len);
jd_reply_t jd_property_get(jd_store_t *self, const char *ref, const char *key);
jd_reply_t jd_property_delete(jd_store_t *self, const char *ref, const char *key);
jd_reply_t jd_properties_list(jd_store_t *self, const char *ref);
jd_reply_t jd_link_create(jd_store_t *self, json_t *user, const json_t *body);
jd_reply_t jd_link_types(jd_store_t *self);
jd_reply_t jd_search(jd_store_t *self, json_t *user, const json_t *params);
jd_reply_t jd_fields_list(jd_store_t *self);
jd_reply_t jd_project_get(jd_store_t *self, const char *ref);
jd_reply_t jd_status_get(jd_store_t *self, const char *ref);
jd_reply_t jd_createmeta(jd_store_t *self, const char *project, const char *type);
json_t *jd_json_user(jd_store_t *self, const json_t *user);

/* Control (configuration and state). Each returns 2xx or 400 {"error": text}. */
jd_reply_t jd_ctl_field(jd_store_t *self, const json_t *in);
jd_reply_t jd_ctl_project(jd_store_t *self, const json_t *in);
jd_reply_t jd_ctl_user(jd_store_t *self, const json_t *in);
jd_reply_t jd_ctl_webhook(jd_store_t *self, const json_t *in);
jd_reply_t jd_ctl_config(jd_store_t *self, const json_t *in);
json_t *jd_store_dump(jd_store_t *self);

/* Lookups and small helpers shared by the store and the JQL (borrowed results; NULL when
   absent). */
const char *jd_str(const json_t *obj, const char *key);                   /* obj[key] as a string */
json_t *jd_find(const json_t *array, const char *key, const char *value); /* first with key */
bool jd_in_list(const json_t *array, const char *value);      /* a string of the array? */
bool jd_empty(const json_t *v);                               /* absent, null, "" or [] */
json_t *jd_field(jd_store_t *self, const char *id);           /* field definition by id */
json_t *jd_project(jd_store_t *self, const char *ref);        /* by key or id */
json_t *jd_project_of(jd_store_t *self, const json_t *issue); /* an issue's project */
json_t *jd_issuetype(const json_t *project, const char *id);  /* by id */
json_t *jd_status(const json_t *project, const char *id);     /* by id */
json_t *jd_issue(jd_store_t *self, const char *ref);          /* by id, or key in any case */

/* JQL (jira_double_jql.c). */
typedef struct jd_query jd_query_t;

/* Compiles jql (borrowed) against the store. Returns the query, or NULL with *ret the 400
   (`{"errorMessages":[...],"warningMessages":[]}`). */
jd_query_t *jd_query_new(jd_store_t *self, const char *jql, jd_reply_t *ret);
/* Frees a query; accepts NULL. */
void jd_query_free(jd_query_t **self_p);
/* Does issue (borrowed) match q? */
bool jd_query_matches(jd_store_t *self, const jd_query_t *q, const json_t *issue);
/* Sorts n issues by q's ORDER BY (newest first without one). */
void jd_query_sort(const jd_query_t *q, json_t **issues, size_t n);
/* Does issue match jql (a webhook's filter)? An invalid jql matches nothing. */
bool jd_jql_filter(jd_store_t *self, const char *jql, const json_t *issue);
/* A JQL error body: errorMessages [the formatted text] and warningMessages []. */
jd_reply_t jd_jql_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Hooks (jira_double_hooks.c). */

/* Starts the sender thread. Returns it or NULL. */
jd_hooks_t *jd_hooks_new(void);
/* Stops the thread (abandoning what is queued) and frees it; accepts NULL. */
void jd_hooks_destroy(jd_hooks_t **self_p);
/* Queues one POST of payload (borrowed; serialized now) to url (borrowed), signed with secret
   (borrowed; NULL: unsigned). Deliveries go out one at a time in queue order. Returns 0 or
   -ENOMEM, or -ENOSPC when JD_HOOK_QUEUE_MAX are waiting. */
int jd_hooks_post(jd_hooks_t *self, const char *url, const json_t *payload, const char *secret);
/* The deliveries made so far, as a JSON array (new reference) or NULL. */
json_t *jd_hooks_log(jd_hooks_t *self);

/* API (jira_double_api.c). */
struct MHD_Daemon;
/* Starts the HTTP server on 127.0.0.1:port (0: ephemeral) serving store (borrowed until
   stop), and writes the base URL into the store. Returns the daemon or NULL; *ret_port gets
   the bound port. */
struct MHD_Daemon *jd_api_start(jd_store_t *store, unsigned port, unsigned *ret_port);
/* Ends slow answers in progress and stops the server; accepts NULL. */
void jd_api_stop(jd_store_t *store, struct MHD_Daemon *daemon);

#endif
