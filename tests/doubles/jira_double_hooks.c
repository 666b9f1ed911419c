/*  jira_double_hooks: the webhook sender of the Jira double. One thread POSTs the queued
    payloads one at a time, in the order they were queued (the order of the mutations), with
    one reused libcurl handle (keep-alive), so that the API never waits for a receiver. Like DC
    (reference 12: no retry policy found), a delivery is tried once: a failure is logged, not
    retried. With a secret, X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body> (reference
    12, DC and Cloud admin webhooks). */
#include "jira_double.h"

#include <curl/curl.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_HEADER_MAX 128 /* bytes of the signature header */

typedef struct s_item {
    struct s_item *next; /* queue link */
    char *url;           /* target */
    char *body;          /* JSON text */
    char *event;         /* webhookEvent, for the log */
    char *secret;        /* or NULL */
} s_item_t;

struct jd_hooks {
    pthread_t thread;     /* the sender */
    pthread_mutex_t lock; /* guards the queue, the log and stopping */
    pthread_cond_t cond;  /* on a new item or stop */
    s_item_t *head;       /* queue */
    s_item_t *tail;       /* last queued */
    size_t queued;        /* items in the queue */
    bool stopping;        /* stop asked */
    json_t *log;          /* deliveries made */
    long dropped;         /* refused for a full queue */
};

static void
s_item_free(s_item_t *item)
{
    if (!item)
        return;
    free(item->url);
    free(item->body);
    free(item->event);
    free(item->secret);
    free(item);
}

static size_t
s_discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

/* Aborts a delivery in progress when the double stops (a receiver may never answer). */
static int
s_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    jd_hooks_t *self = arg;
    pthread_mutex_lock(&self->lock);
    bool stop = self->stopping;
    pthread_mutex_unlock(&self->lock);
    return stop ? 1 : 0;
}

/* "sha256=" + hex HMAC-SHA256 of body keyed by secret. */
static void
s_sign(const char *secret, const char *body, char *out, size_t len)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, strlen(body));
    crypto_auth_hmacsha256_final(&st, mac);
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    snprintf(out, len, "X-Hub-Signature: sha256=%s", hex);
}

static void
s_deliver(jd_hooks_t *self, CURL *curl, s_item_t *item)
{
    char sig[S_HEADER_MAX];
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (item->secret) {
        s_sign(item->secret, item->body, sig, sizeof sig);
        h = curl_slist_append(h, sig);
    }
    curl_easy_setopt(curl, CURLOPT_URL, item->url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, item->body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(item->body));
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    pthread_mutex_lock(&self->lock);
    if (json_array_size(self->log) < JD_HOOK_LOG_MAX)
        json_array_append_new(self->log,
                              json_pack("{s:s, s:s, s:b, s:i, s:i, s:s}", "url", item->url, "event",
                                        item->event, "signed", item->secret != NULL, "http_status",
                                        (int)status, "curl_code", (int)rc, "error",
                                        rc == CURLE_OK ? "" : curl_easy_strerror(rc)));
    pthread_mutex_unlock(&self->lock);
}

static void *
s_run(void *arg)
{
    jd_hooks_t *self = arg;
    CURL *curl = curl_easy_init();
    if (curl) {
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)JD_HOOK_TIMEOUT_S);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, s_discard);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, s_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, self);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "Atlassian HttpClient (orderbus Jira double)");
    }
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        if (!self->head) {
            pthread_cond_wait(&self->cond, &self->lock);
            continue;
        }
        s_item_t *item = self->head;
        self->head = item->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        pthread_mutex_unlock(&self->lock);
        if (curl)
            s_deliver(self, curl, item);
        s_item_free(item);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    curl_easy_cleanup(curl);
    return NULL;
}

jd_hooks_t *
jd_hooks_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    jd_hooks_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->log = json_array();
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    if (!self->log || pthread_create(&self->thread, NULL, s_run, self) != 0) {
        json_decref(self->log);
        pthread_cond_destroy(&self->cond);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void
jd_hooks_destroy(jd_hooks_t **self_p)
{
    jd_hooks_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    while (self->head) {
        s_item_t *next = self->head->next;
        s_item_free(self->head);
        self->head = next;
    }
    json_decref(self->log);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int
jd_hooks_post(jd_hooks_t *self, const char *url, const json_t *payload, const char *secret)
{
    s_item_t *item = calloc(1, sizeof *item);
    if (!item)
        return -ENOMEM;
    item->url = strdup(url);
    item->body = json_dumps(payload, JSON_COMPACT);
    const char *event = json_string_value(json_object_get(payload, "webhookEvent"));
    item->event = strdup(event ? event : "");
    item->secret = secret ? strdup(secret) : NULL;
    if (!item->url || !item->body || !item->event || (secret && !item->secret)) {
        s_item_free(item);
        return -ENOMEM;
    }
    pthread_mutex_lock(&self->lock);
    int rc = 0;
    if (self->queued >= JD_HOOK_QUEUE_MAX) {
        self->dropped++;
        rc = -ENOSPC;
        s_item_free(item);
    } else {
        if (self->tail)
            self->tail->next = item;
        else
            self->head = item;
        self->tail = item;
        self->queued++;
        pthread_cond_signal(&self->cond);
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

json_t *
jd_hooks_log(jd_hooks_t *self)
{
    pthread_mutex_lock(&self->lock);
    json_t *copy = json_deep_copy(self->log);
    pthread_mutex_unlock(&self->lock);
    return copy;
}
