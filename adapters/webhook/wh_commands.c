/*  ob_wh_commands: the way back's publisher. See wh_commands.h. */
#include "wh_commands.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderbus/error.h"
#include "orderbus/event.h"
#include "wh_limits.h"

#define S_CLIENT_NAME "orderbus-webhook-commands"
#define S_MS_PER_S 1000      /* milliseconds in a second */
#define S_NS_PER_MS 1000000L /* nanoseconds in a millisecond */
#define S_NS_PER_S 1000000000L

typedef struct s_job {
    uint8_t *event;              /* the encoded command event, owned */
    size_t event_len;            /* its bytes */
    ob_wh_command_done_fn *done; /* its outcome goes here */
    void *arg;                   /* ... with this */
    struct s_job *next;          /* queue link */
} s_job_t;

struct ob_wh_commands {
    char *endpoint;       /* the broker, owned */
    char *cert;           /* CURVE: ours, owned, or NULL */
    char *broker_cert;    /* CURVE: the broker's, owned, or NULL */
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t wake;  /* a job queued, stop, or the thread ready */
    s_job_t *head;        /* jobs queued */
    s_job_t *tail;        /* ... the last */
    int stop;             /* 1: the thread ends; no new jobs */
    int ready;            /* 0 while the thread starts, 1 with its client, -1 without */
    int started;          /* 1: the thread runs (joinable) */
    pthread_t thread;     /* the publisher */
};

static void
s_job_end(s_job_t *job, int rc, const ob_confirm_t *confirm)
{
    job->done(job->arg, rc, confirm);
    free(job->event);
    free(job);
}

/* Publishes one job and waits for its confirm (the client's timeout). */
static void
s_publish(ob_client_t *client, s_job_t *job)
{
    ob_event_t *event = NULL;
    ob_confirm_t confirm;
    memset(&confirm, 0, sizeof confirm);
    int rc = ob_event_decode(job->event, job->event_len, &event);
    if (rc == 0)
        rc = ob_client_publish(client, event, &confirm);
    if (rc == 0 && confirm.rc)
        rc = confirm.rc;
    ob_event_destroy(&event);
    s_job_end(job, rc, rc ? NULL : &confirm);
}

static void *
s_thread(void *arg)
{
    ob_wh_commands_t *self = arg;
    ob_client_config_t cc = {.name = S_CLIENT_NAME,
                             .timeout_ms = OB_WH_COMMAND_CONFIRM_MS,
                             .cert = self->cert,
                             .broker_cert = self->broker_cert};
    ob_client_t *client = ob_client_new(self->endpoint, &cc);
    pthread_mutex_lock(&self->lock);
    self->ready = client ? 1 : -1;
    pthread_cond_broadcast(&self->wake);
    pthread_mutex_unlock(&self->lock);
    if (!client)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&self->lock);
        if (!self->head && !self->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + (long)(OB_WH_COMMAND_IDLE_MS % S_MS_PER_S) * S_NS_PER_MS;
            until.tv_sec += OB_WH_COMMAND_IDLE_MS / S_MS_PER_S + ns / S_NS_PER_S;
            until.tv_nsec = ns % S_NS_PER_S;
            pthread_cond_timedwait(&self->wake, &self->lock, &until);
        }
        s_job_t *job = self->stop ? NULL : self->head;
        if (job && !(self->head = job->next))
            self->tail = NULL;
        int stop = self->stop;
        pthread_mutex_unlock(&self->lock);
        if (stop)
            break;
        if (job)
            s_publish(client, job);
        else {
            /* idle: keeps the session (heartbeats) so that the next command need not wait */
            ob_confirm_t none;
            ob_client_confirm_next(client, 0, &none);
        }
    }
    ob_client_destroy(&client);
    return NULL;
}

ob_wh_commands_t *
ob_wh_commands_new(const char *endpoint, const char *cert, const char *broker_cert)
{
    ob_wh_commands_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    self->endpoint = strdup(endpoint);
    self->cert = cert ? strdup(cert) : NULL;
    self->broker_cert = broker_cert ? strdup(broker_cert) : NULL;
    if (!self->endpoint || (cert && !self->cert) || (broker_cert && !self->broker_cert))
        goto fail;
    if (pthread_create(&self->thread, NULL, s_thread, self))
        goto fail;
    self->started = 1;
    pthread_mutex_lock(&self->lock);
    while (!self->ready)
        pthread_cond_wait(&self->wake, &self->lock);
    int ready = self->ready;
    pthread_mutex_unlock(&self->lock);
    if (ready < 0)
        goto fail;
    return self;
fail:
    ob_wh_commands_destroy(&self);
    return NULL;
}

int
ob_wh_commands_submit(ob_wh_commands_t *self, uint8_t **event_p, size_t event_len,
                      ob_wh_command_done_fn *done, void *arg)
{
    uint8_t *event = *event_p;
    *event_p = NULL;
    s_job_t *job = calloc(1, sizeof *job);
    if (!job) {
        free(event);
        return -ENOMEM;
    }
    *job = (s_job_t){event, event_len, done, arg, NULL};
    pthread_mutex_lock(&self->lock);
    if (self->stop) {
        pthread_mutex_unlock(&self->lock);
        free(event);
        free(job);
        return OB_ERR_SHUTDOWN;
    }
    if (self->tail)
        self->tail->next = job;
    else
        self->head = job;
    self->tail = job;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

void
ob_wh_commands_destroy(ob_wh_commands_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_wh_commands_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stop = 1;
    pthread_cond_broadcast(&self->wake);
    pthread_mutex_unlock(&self->lock);
    if (self->started)
        pthread_join(self->thread, NULL);
    while (self->head) {
        s_job_t *job = self->head;
        self->head = job->next;
        s_job_end(job, OB_ERR_SHUTDOWN, NULL);
    }
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self->endpoint);
    free(self->cert);
    free(self->broker_cert);
    free(self);
    *self_p = NULL;
}
