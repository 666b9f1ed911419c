/*  ob_wh_commands: the way back's publisher. See wh_commands.h. */
#include "wh_commands.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderbus/error.h"
#include "wh_limits.h"

#define S_CLIENT_NAME "orderbus-webhook-commands"
#define S_MS_PER_S 1000      /* milliseconds in a second */
#define S_NS_PER_MS 1000000L /* nanoseconds in a millisecond */
#define S_NS_PER_S 1000000000L

typedef struct s_job {
    uint8_t *event;              /* the encoded command event, owned until it is sent */
    size_t event_len;            /* its bytes */
    ob_wh_command_done_fn *done; /* its outcome goes here */
    void *arg;                   /* ... with this */
    uint64_t token;              /* its publish, once sent */
    int64_t deadline_ms;         /* once sent: no confirm by then (zclock_mono) is a timeout */
    struct s_job *next;          /* queue link */
} s_job_t;

/* A FIFO of jobs. */
typedef struct s_list {
    s_job_t *head; /* the first */
    s_job_t *tail; /* the last */
} s_list_t;

struct ob_wh_commands {
    char *endpoint;       /* the broker, owned */
    char *cert;           /* CURVE: ours, owned, or NULL */
    char *broker_cert;    /* CURVE: the broker's, owned, or NULL */
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t wake;  /* a job queued, stop, or the thread ready */
    s_list_t queue;       /* jobs submitted, not yet sent */
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

static void
s_append(s_list_t *list, s_job_t *job)
{
    job->next = NULL;
    if (list->tail)
        list->tail->next = job;
    else
        list->head = job;
    list->tail = job;
}

/* Sends each job of batch without waiting (its frame goes to the client); the sent ones join
   flight, in the order sent, the others end with their error. */
static void
s_send(ob_client_t *client, s_job_t *batch, s_list_t *flight)
{
    while (batch) {
        s_job_t *job = batch;
        batch = job->next;
        int rc = ob_client_publish_frame_async(client, &job->event, job->event_len, &job->token);
        if (rc) {
            s_job_end(job, rc, NULL);
            continue;
        }
        job->deadline_ms = zclock_mono() + OB_WH_COMMAND_CONFIRM_MS;
        s_append(flight, job);
    }
}

/* Takes the confirms that come within wait_ms (then every one already there), each ending
   its job of flight, and ends with OB_ERR_TIMEOUT the jobs whose deadline passed (the
   client re-sends their publish after a reconnect: a later confirm of one is dropped). */
static void
s_confirm(ob_client_t *client, s_list_t *flight, int wait_ms)
{
    ob_confirm_t confirm;
    while (flight->head && ob_client_confirm_next(client, wait_ms, &confirm) == 0) {
        wait_ms = 0;
        s_job_t *prev = NULL, *job = flight->head;
        while (job && job->token != confirm.token)
            prev = job, job = job->next;
        if (!job)
            continue; /* a publish whose job timed out */
        if (prev)
            prev->next = job->next;
        else
            flight->head = job->next;
        if (flight->tail == job)
            flight->tail = prev;
        s_job_end(job, confirm.rc, confirm.rc ? NULL : &confirm);
    }
    int64_t now = zclock_mono();
    while (flight->head && flight->head->deadline_ms <= now) {
        s_job_t *job = flight->head;
        if (!(flight->head = job->next))
            flight->tail = NULL;
        s_job_end(job, OB_ERR_TIMEOUT, NULL);
    }
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
    s_list_t flight = {NULL, NULL}; /* sent, waiting for their confirms, in the order sent */
    for (;;) {
        pthread_mutex_lock(&self->lock);
        if (!self->queue.head && !flight.head && !self->stop) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long ns = until.tv_nsec + (long)(OB_WH_COMMAND_IDLE_MS % S_MS_PER_S) * S_NS_PER_MS;
            until.tv_sec += OB_WH_COMMAND_IDLE_MS / S_MS_PER_S + ns / S_NS_PER_S;
            until.tv_nsec = ns % S_NS_PER_S;
            pthread_cond_timedwait(&self->wake, &self->lock, &until);
        }
        s_job_t *batch = self->stop ? NULL : self->queue.head; /* every job queued */
        if (batch)
            self->queue.head = self->queue.tail = NULL;
        int stop = self->stop;
        pthread_mutex_unlock(&self->lock);
        if (stop && !flight.head)
            break;
        s_send(client, batch, &flight);
        if (flight.head) /* a short wait: a new request is sent without waiting for these */
            s_confirm(client, &flight, OB_WH_COMMAND_POLL_MS);
        else if (!batch) {
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
    *job = (s_job_t){.event = event, .event_len = event_len, .done = done, .arg = arg};
    pthread_mutex_lock(&self->lock);
    if (self->stop) {
        pthread_mutex_unlock(&self->lock);
        free(event);
        free(job);
        return OB_ERR_SHUTDOWN;
    }
    s_append(&self->queue, job);
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
    while (self->queue.head) {
        s_job_t *job = self->queue.head;
        self->queue.head = job->next;
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
