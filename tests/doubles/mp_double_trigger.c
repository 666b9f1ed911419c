/*  mp_double_trigger: calls OMS trigger URLs the way the Marketplace's code does (reference
    6.2): the trigger's method, the URL verbatim, no body; with basic credentials, Faraday's
    second positional argument `{authorization: "Basic " + urlsafe_base64("user:password")}`,
    which Faraday turns into the query `?authorization=Basic+...` for GET and into a form body
    `authorization=Basic+...` (application/x-www-form-urlencoded) for POST and PUT. The answer
    is ignored (4xx and 5xx count as done); a transport error (refused, timeout) is retried as
    Sidekiq retries a raised job (6.3): up to 25 times, after count^4 + 15 + rand(10) * (count +
    1) seconds, each second scaled to scale_ms milliseconds so that tests need not wait.

    One thread runs a libcurl multi handle with at most MPD_TRIGGER_WORKERS calls in flight, as
    Sidekiq runs that many jobs at once (config/sidekiq.yml, reference 6.3): a receiver that
    hangs holds only its own call (one worker), never the API; the others queue in order. */
#include "mp_double.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct s_job {
    long oms_id;                /* whose trigger */
    char *url;                  /* the URL as called (GET: with the query) */
    mpd_method_t method;        /* get | post | put */
    char *form;                 /* POST/PUT body, or NULL */
    int attempt;                /* 0 for the first call */
    int64_t due_ms;             /* monotonic time to start */
    CURL *easy;                 /* while in flight */
    struct curl_slist *headers; /* while in flight */
    struct s_job *next;         /* in the queue, the retries or the in-flight list */
} s_job_t;

struct mpd_trigger {
    pthread_mutex_t lock; /* guards waiting, log, stop */
    s_job_t *head;        /* new jobs, first in first out */
    s_job_t *tail;        /* last of the queue */
    s_job_t *retries;     /* jobs waiting for their retry time, any order (thread only) */
    s_job_t *inflight;    /* jobs in the multi handle (thread only) */
    int n_inflight;       /* at most MPD_TRIGGER_WORKERS (thread only) */
    json_t *log;          /* attempts made */
    bool stop;            /* the thread ends */
    long scale_ms;        /* ms per Sidekiq second */
    CURLM *multi;         /* the calls in flight */
    pthread_t thread;     /* runs s_run */
    bool started;         /* thread is joinable */
    unsigned seed;        /* rand_r state for the retry jitter */
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_job_free(s_job_t *job)
{
    if (!job)
        return;
    if (job->easy)
        curl_easy_cleanup(job->easy);
    curl_slist_free_all(job->headers);
    free(job->url);
    free(job->form);
    free(job);
}

char *
mpd_base64_urlsafe(const char *user, const char *password)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t ulen = strlen(user), plen = strlen(password), n = ulen + 1 + plen;
    unsigned char *in = malloc(n);
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    memcpy(in, user, ulen);
    in[ulen] = ':';
    memcpy(in + ulen + 1, password, plen);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    free(in);
    return out;
}

/* The form field as Faraday's encoder writes it: space as '+', '=' as %3D (the URL-safe
   alphabet needs no other escape). */
static char *
s_auth_field(const char *user, const char *password)
{
    char *b64 = mpd_base64_urlsafe(user, password);
    if (!b64)
        return NULL;
    static const char prefix[] = "authorization=Basic+";
    size_t len = strlen(b64);
    char *field = malloc(sizeof prefix + len * 3);
    if (field) {
        char *p = field + sizeof prefix - 1;
        memcpy(field, prefix, sizeof prefix - 1);
        for (size_t i = 0; i < len; i++) {
            if (b64[i] == '=') {
                memcpy(p, "%3D", 3);
                p += 3;
            } else {
                *p++ = b64[i];
            }
        }
        *p = '\0';
    }
    free(b64);
    return field;
}

int
mpd_trigger_fire(mpd_trigger_t *self, const mpd_oms_t *oms)
{
    if (!oms->trig_url)
        return 0;
    s_job_t *job = calloc(1, sizeof *job);
    char *field = NULL;
    if (!job)
        return -ENOMEM;
    job->oms_id = oms->id;
    job->method = oms->trig_method;
    if (oms->trig_user) {
        field = s_auth_field(oms->trig_user, oms->trig_password);
        if (!field)
            goto nomem;
    }
    if (field && oms->trig_method == MPD_GET) {
        size_t len = strlen(oms->trig_url) + strlen(field) + 2;
        job->url = malloc(len);
        if (!job->url)
            goto nomem;
        strcpy(job->url, oms->trig_url);
        strcat(job->url, strchr(oms->trig_url, '?') ? "&" : "?");
        strcat(job->url, field);
    } else {
        job->url = strdup(oms->trig_url);
        job->form = field;
        field = NULL;
        if (!job->url)
            goto nomem;
    }
    free(field);
    job->due_ms = s_now_ms();
    pthread_mutex_lock(&self->lock);
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    pthread_mutex_unlock(&self->lock);
    curl_multi_wakeup(self->multi);
    return 0;
nomem:
    free(field);
    s_job_free(job);
    return -ENOMEM;
}

static size_t
s_discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

static int
s_start(mpd_trigger_t *self, s_job_t *job)
{
    static const char *const names[] = {"GET", "POST", "PUT"};
    job->easy = curl_easy_init();
    if (!job->easy)
        return -ENOMEM;
    CURL *e = job->easy;
    curl_easy_setopt(e, CURLOPT_URL, job->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, MPD_USER_AGENT);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)MPD_TRIGGER_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)MPD_TRIGGER_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    if (job->method != MPD_GET) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->form ? job->form : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, names[job->method]);
    }
    /* Faraday sends no Expect; a form body carries its content type, no body carries none */
    job->headers = curl_slist_append(NULL, "Expect:");
    if (job->headers && !job->form)
        job->headers = curl_slist_append(job->headers, "Content-Type:");
    if (!job->headers)
        return -ENOMEM;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers);
    if (curl_multi_add_handle(self->multi, e) != CURLM_OK)
        return -ENOMEM;
    job->next = self->inflight;
    self->inflight = job;
    self->n_inflight++;
    return 0;
}

/* Records an attempt; the log is capped. */
static void
s_log(mpd_trigger_t *self, const s_job_t *job, CURLcode res, long status)
{
    static const char *const names[] = {"get", "post", "put"};
    json_t *entry = json_pack(
        "{s:I, s:s, s:s, s:s?, s:i, s:i, s:s, s:I}", "oms_id", (json_int_t)job->oms_id, "method",
        names[job->method], "url", job->url, "body", job->form, "attempt", job->attempt,
        "curl_code", (int)res, "error", curl_easy_strerror(res), "http_status", (json_int_t)status);
    pthread_mutex_lock(&self->lock);
    if (entry && json_array_size(self->log) < MPD_TRIGGER_LOG_MAX)
        json_array_append(self->log, entry);
    pthread_mutex_unlock(&self->lock);
    json_decref(entry);
}

/* Sidekiq's default delay before retry `count` (0-based), in its seconds. */
static int64_t
s_retry_delay(mpd_trigger_t *self, int count)
{
    int64_t c = count;
    return c * c * c * c + 15 + (int64_t)(rand_r(&self->seed) % 10) * (c + 1);
}

static void
s_finish(mpd_trigger_t *self, CURLMsg *msg)
{
    s_job_t *job = NULL;
    long status = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    CURLcode res = msg->data.result;
    s_log(self, job, res, status);
    curl_multi_remove_handle(self->multi, job->easy);
    for (s_job_t **pp = &self->inflight; *pp; pp = &(*pp)->next) {
        if (*pp == job) {
            *pp = job->next;
            self->n_inflight--;
            break;
        }
    }
    curl_easy_cleanup(job->easy);
    job->easy = NULL;
    curl_slist_free_all(job->headers);
    job->headers = NULL;
    if (res == CURLE_OK || job->attempt >= MPD_TRIGGER_RETRIES) {
        s_job_free(job);
        return;
    }
    job->due_ms = s_now_ms() + s_retry_delay(self, job->attempt) * self->scale_ms;
    job->attempt++;
    job->next = self->retries;
    self->retries = job;
}

/* Starts job, or drops it when libcurl cannot take it. */
static void
s_start_or_drop(mpd_trigger_t *self, s_job_t *job)
{
    job->next = NULL;
    if (s_start(self, job) != 0) {
        if (job->easy)
            curl_multi_remove_handle(self->multi, job->easy);
        s_job_free(job);
    }
}

static void *
s_run(void *arg)
{
    mpd_trigger_t *self = arg;
    for (;;) {
        int64_t now = s_now_ms(), wait_ms = 1000;
        pthread_mutex_lock(&self->lock);
        if (self->stop) {
            pthread_mutex_unlock(&self->lock);
            break;
        }
        pthread_mutex_unlock(&self->lock);
        /* due retries first, then new jobs, while a Sidekiq worker is free */
        for (s_job_t **pp = &self->retries; *pp;) {
            s_job_t *job = *pp;
            if (job->due_ms <= now && self->n_inflight < MPD_TRIGGER_WORKERS) {
                *pp = job->next;
                s_start_or_drop(self, job);
            } else {
                if (job->due_ms > now && job->due_ms - now < wait_ms)
                    wait_ms = job->due_ms - now;
                pp = &job->next;
            }
        }
        while (self->n_inflight < MPD_TRIGGER_WORKERS) {
            pthread_mutex_lock(&self->lock);
            s_job_t *job = self->head;
            if (job) {
                self->head = job->next;
                if (!self->head)
                    self->tail = NULL;
            }
            pthread_mutex_unlock(&self->lock);
            if (!job)
                break;
            s_start_or_drop(self, job);
        }
        int running = 0;
        curl_multi_perform(self->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(self->multi, &left)))
            if (msg->msg == CURLMSG_DONE)
                s_finish(self, msg);
        curl_multi_poll(self->multi, NULL, 0, (int)wait_ms, NULL);
    }
    return NULL;
}

mpd_trigger_t *
mpd_trigger_new(long scale_ms)
{
    mpd_trigger_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->scale_ms = scale_ms;
    self->seed = (unsigned)time(NULL);
    self->log = json_array();
    self->multi = curl_multi_init();
    if (!self->log || !self->multi || pthread_create(&self->thread, NULL, s_run, self) != 0) {
        mpd_trigger_destroy(&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void
mpd_trigger_destroy(mpd_trigger_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mpd_trigger_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock(&self->lock);
        self->stop = true;
        pthread_mutex_unlock(&self->lock);
        curl_multi_wakeup(self->multi);
        pthread_join(self->thread, NULL);
    }
    /* calls in flight are abandoned */
    while (self->inflight) {
        s_job_t *job = self->inflight;
        self->inflight = job->next;
        curl_multi_remove_handle(self->multi, job->easy);
        s_job_free(job);
    }
    if (self->multi)
        curl_multi_cleanup(self->multi);
    while (self->head) {
        s_job_t *job = self->head;
        self->head = job->next;
        s_job_free(job);
    }
    while (self->retries) {
        s_job_t *job = self->retries;
        self->retries = job->next;
        s_job_free(job);
    }
    json_decref(self->log);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

json_t *
mpd_trigger_log(mpd_trigger_t *self)
{
    pthread_mutex_lock(&self->lock);
    json_t *copy = json_deep_copy(self->log);
    pthread_mutex_unlock(&self->lock);
    return copy;
}
