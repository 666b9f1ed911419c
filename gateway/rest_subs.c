/*  ob_rest_subs: see rest_subs.h. */
#include "rest_subs.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "gw_config.h"
#include "handle.h"
#include "orderbus/error.h"
#include "orderbus/event_json.h"
#include "orderbus/result_json.h"
#include "orderbus/wire.h"
#include "rest_parse.h"

#define S_FETCH "/fetch"
#define S_ACK "/ack"
#define S_NACK "/nack"
#define S_KEY_TMP ".tmp"
#define S_BUSY "the broker did not answer: retry"
#define S_OK 200            /* HTTP statuses */
#define S_CREATED 201       /* ... */
#define S_NO_CONTENT 204    /* ... */
#define S_US_PER_S 1000000u /* ob_time_format's text: microseconds in a second */
#define S_TIME_SECS 19      /* ... "YYYY-MM-DDTHH:MM:SS", then ".", 6 digits and "Z" */
#define S_TIME_US_DIGITS 6  /* ... */

typedef enum s_op {
    S_CREATE,   /* POST /v1/subscriptions */
    S_LIST,     /* GET /v1/subscriptions */
    S_GET,      /* GET /v1/subscriptions/{name} */
    S_DELETE,   /* DELETE /v1/subscriptions/{name} */
    S_FETCH_OP, /* POST .../fetch */
    S_ACK_OP,   /* POST .../ack */
    S_NACK_OP,  /* POST .../nack */
} s_op_t;

struct ob_rest_subs_req {
    s_op_t op;                              /* what */
    char client[OB_GW_CLIENT_NAME_MAX + 1]; /* the token's client */
    char name[OB_SUB_NAME_MAX + 1];         /* the subscription ("" for a list) */
    char after[OB_SUB_NAME_MAX + 1];        /* a list: after this name */
    ob_rest_sub_t *sub;                     /* S_CREATE: the body, owned */
    ob_rest_fetch_t fetch;                  /* S_FETCH_OP: the body */
    ob_rest_ack_t *ack;                     /* S_ACK_OP, S_NACK_OP: the body, owned */
    void *job;                              /* the caller's, while served */
    int64_t deadline;                       /* a waiting fetch: monotonic ms it ends */
    ob_rest_subs_req_t *next;               /* the waiting list of its subscription */
};

/* A delivery received and not yet fetched. */
typedef struct s_held {
    ob_delivery_t *delivery; /* owned */
    int64_t until;           /* monotonic ms past which its ack deadline has passed */
} s_held_t;

/* A subscription the gateway is attached to. */
typedef struct s_sub {
    char name[OB_SUB_NAME_MAX + 1];        /* its name */
    char owner[OB_GW_CLIENT_NAME_MAX + 1]; /* its client */
    uint32_t ack_wait_ms;                  /* its setting */
    int64_t idle_at;                       /* monotonic ms it is detached without activity */
    s_held_t *held;                        /* deliveries held, in arrival order */
    size_t held_count;                     /* used */
    size_t again;                          /* held ones with attempt > 1 (see s_unhold) */
    size_t held_size;                      /* allocated */
    ob_rest_subs_req_t *head;              /* fetches waiting, oldest first */
    ob_rest_subs_req_t *tail;              /* ... the newest */
} s_sub_t;

struct ob_rest_subs {
    ob_client_t *client;                 /* borrowed: the REST thread's */
    ob_gw_store_t *store;                /* borrowed: the owners */
    uint8_t key[OB_GW_HANDLE_KEY_BYTES]; /* the handle key */
    unsigned waits_max;                  /* long-polls per client */
    ob_rest_subs_done_fn *done;          /* hands answers over */
    ob_rest_subs_may_fn *may;            /* checks patterns at attach */
    void *may_arg;                       /* ... its argument */
    s_sub_t **subs;                      /* attached subscriptions */
    size_t count;                        /* used */
    size_t size;                         /* allocated */
    uint64_t generation;                 /* newest client session a delivery came in */
    ob_rest_subs_req_t *settling;        /* acks and nacks sent, awaiting the round trip that
                                            proves them applied (ob_rest_subs_flush) */
};

/* ---------------------------------------------------------------------------------------- */
/* The handle key */

/* Writes a new random key to path through path.tmp (mode 0600, synced, renamed). */
static int
s_key_make(const char *path, char *errbuf, size_t errlen)
{
    uint8_t key[OB_GW_HANDLE_KEY_BYTES];
    char tmp[OB_GW_PATH_TEXT_MAX + sizeof "/" OB_GW_HANDLE_KEY_FILE S_KEY_TMP];
    snprintf(tmp, sizeof tmp, "%s" S_KEY_TMP, path);
    int rc = ob_rest_handle_keygen(key);
    if (rc) {
        snprintf(errbuf, errlen, "handle key: libsodium cannot start");
        return rc;
    }
    errno = 0; /* a short write sets none */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd) ||
        rename(tmp, path))
        rc = errno ? -errno : -EIO;
    sodium_memzero(key, sizeof key);
    if (fd >= 0)
        close(fd);
    if (rc) {
        unlink(tmp);
        snprintf(errbuf, errlen, "handle key %.400s: cannot write it: %s", path, strerror(-rc));
    }
    return rc;
}

int
ob_rest_subs_key_load(const char *data_dir, uint8_t ret_key[OB_GW_HANDLE_KEY_BYTES], char *errbuf,
                      size_t errlen)
{
    char path[OB_GW_PATH_TEXT_MAX + sizeof "/" OB_GW_HANDLE_KEY_FILE];
    snprintf(path, sizeof path, "%s/" OB_GW_HANDLE_KEY_FILE, data_dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        int rc = s_key_make(path, errbuf, errlen);
        if (rc)
            return rc;
        fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (fd < 0) {
        int rc = -errno;
        snprintf(errbuf, errlen, "handle key %.400s: %s", path, strerror(errno));
        return rc;
    }
    uint8_t buf[OB_GW_HANDLE_KEY_BYTES + 1]; /* one more: a longer file is refused */
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n != OB_GW_HANDLE_KEY_BYTES) {
        sodium_memzero(buf, sizeof buf);
        snprintf(errbuf, errlen,
                 "handle key %.400s: not a file of %d bytes (remove it to make a "
                 "new key: handles given out so far become invalid)",
                 path, OB_GW_HANDLE_KEY_BYTES);
        return n < 0 ? -EIO : OB_ERR_MALFORMED;
    }
    memcpy(ret_key, buf, OB_GW_HANDLE_KEY_BYTES);
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Requests, in libmicrohttpd's thread */

/* Writes a message and returns rc. */
static int s_refuse(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
s_refuse(char *errbuf, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Routes path (after /v1/subscriptions) with method into req->op and req->name. Returns 0,
   OB_GW_ERR_NOT_FOUND, OB_ERR_FIELD_TYPE (not a name) or OB_GW_ERR_METHOD, with a
   message. */
static int
s_route(const char *path, const char *method, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    int post = !strcmp(method, "POST"), get = !strcmp(method, "GET");
    const char *need = NULL;
    if (!*path) {
        req->op = post ? S_CREATE : S_LIST;
        need = post || get ? NULL : ob_rest_subs_allow(path);
    } else {
        if (*path != '/')
            return s_refuse(errbuf, errlen, OB_GW_ERR_NOT_FOUND, "no such route");
        const char *name = path + 1;
        size_t n = strcspn(name, "/");
        if (!n || n > OB_SUB_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") < n)
            return s_refuse(errbuf, errlen, OB_ERR_FIELD_TYPE,
                            "name: not a subscription name (1..%d bytes of [a-z0-9_-])",
                            OB_SUB_NAME_MAX);
        memcpy(req->name, name, n);
        req->name[n] = '\0';
        const char *tail = name + n;
        if (!*tail) {
            req->op = get ? S_GET : S_DELETE;
            need = get || !strcmp(method, "DELETE") ? NULL : ob_rest_subs_allow(path);
        } else {
            if (!strcmp(tail, S_FETCH))
                req->op = S_FETCH_OP;
            else if (!strcmp(tail, S_ACK))
                req->op = S_ACK_OP;
            else if (!strcmp(tail, S_NACK))
                req->op = S_NACK_OP;
            else
                return s_refuse(errbuf, errlen, OB_GW_ERR_NOT_FOUND, "no such route");
            need = post ? NULL : ob_rest_subs_allow(path);
        }
    }
    if (need)
        return s_refuse(errbuf, errlen, OB_GW_ERR_METHOD, "%s: use %s", method, need);
    return 0;
}

const char *
ob_rest_subs_allow(const char *path)
{
    if (!*path)
        return "GET, POST";
    if (*path != '/')
        return NULL;
    const char *tail = strchr(path + 1, '/');
    if (!tail)
        return "GET, DELETE";
    return !strcmp(tail, S_FETCH) || !strcmp(tail, S_ACK) || !strcmp(tail, S_NACK) ? "POST" : NULL;
}

int
ob_rest_subs_parse(const char *path, const char *method, const char *client,
                   const char *content_type, const char *body, size_t len, int too_large,
                   uint64_t body_max, const char *after, const uint8_t key[OB_GW_HANDLE_KEY_BYTES],
                   ob_rest_subs_req_t **ret_req, char *errbuf, size_t errlen)
{
    ob_rest_subs_req_t *req = calloc(1, sizeof *req);
    if (!req)
        return -ENOMEM;
    snprintf(req->client, sizeof req->client, "%s", client);
    int rc = s_route(path, method, req, errbuf, errlen);
    if (rc)
        goto fail;
    if (req->op == S_LIST || req->op == S_GET || req->op == S_DELETE) {
        if (len || too_large) {
            rc = s_refuse(errbuf, errlen, OB_ERR_MALFORMED, "a %s takes no body", method);
            goto fail;
        }
        if (req->op == S_LIST && after) {
            if (strlen(after) > OB_SUB_NAME_MAX) {
                rc = s_refuse(errbuf, errlen, OB_ERR_FIELD_TYPE, "after: over %d bytes",
                              OB_SUB_NAME_MAX);
                goto fail;
            }
            strcpy(req->after, after);
        }
        *ret_req = req;
        return 0;
    }
    if (too_large) {
        rc = s_refuse(errbuf, errlen, OB_ERR_TOO_LARGE, "body over %" PRIu64 " bytes", body_max);
        goto fail;
    }
    ob_rest_media_t media = OB_REST_MEDIA_JSON;
    if ((len || req->op != S_FETCH_OP) &&
        (rc = ob_rest_media_type(content_type, &media, errbuf, errlen)))
        goto fail;
    if (media != OB_REST_MEDIA_JSON) {
        rc = s_refuse(errbuf, errlen, OB_GW_ERR_MEDIA_TYPE, "send application/json");
        goto fail;
    }
    if (req->op == S_CREATE) {
        if (!(rc = ob_rest_parse_sub(body, len, &req->sub, errbuf, errlen)))
            strcpy(req->name, req->sub->name);
    } else if (req->op == S_FETCH_OP)
        rc = ob_rest_parse_fetch(body, len, &req->fetch, errbuf, errlen);
    else
        rc = ob_rest_parse_ack(body, len, req->op == S_NACK_OP, key, req->name, &req->ack, errbuf,
                               errlen);
    if (rc)
        goto fail;
    *ret_req = req;
    return 0;
fail:
    ob_rest_subs_req_destroy(&req);
    return rc;
}

int
ob_rest_subs_check(const ob_rest_subs_req_t *req, const ob_tokens_client_t *client, char *errbuf,
                   size_t errlen)
{
    if (req->op != S_CREATE)
        return 0;
    for (size_t i = 0; i < req->sub->options.pattern_count; i++) {
        const char *p = req->sub->patterns[i];
        if (!ob_tokens_may_subscribe(client, p, strlen(p)))
            return s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN, "client %s may not subscribe to %s",
                            ob_tokens_client_name(client), p);
    }
    return 0;
}

void
ob_rest_subs_req_destroy(ob_rest_subs_req_t **req_p)
{
    if (!req_p || !*req_p)
        return;
    ob_rest_subs_req_t *req = *req_p;
    free(req->sub);
    ob_rest_ack_destroy(&req->ack);
    free(req);
    *req_p = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Answers, in the REST thread */

/* Answers req with root (a reference taken; NULL: no memory) and status. */
static void
s_answer(ob_rest_subs_t *self, ob_rest_subs_req_t *req, unsigned status, json_t *root)
{
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        self->done(req->job, (unsigned)ob_rest_status(-ENOMEM), ob_rest_error_json(-ENOMEM, NULL));
    else
        self->done(req->job, status, text);
}

/* Answers req with the error rc and message (borrowed; NULL for the code's text). */
static void
s_fail(ob_rest_subs_t *self, ob_rest_subs_req_t *req, int rc, const char *message)
{
    self->done(req->job, (unsigned)ob_rest_status(rc), ob_rest_error_json(rc, message));
}

/* The code of a broker call's failure: no answer in time is 503 (retry), not 504. */
static int
s_broker_rc(int rc)
{
    return rc == OB_ERR_TIMEOUT || rc == -EINTR || rc == OB_ERR_CLOSED ? OB_ERR_BUSY : rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Attached subscriptions */

static s_sub_t *
s_find(ob_rest_subs_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (!strcmp(self->subs[i]->name, name))
            return self->subs[i];
    return NULL;
}

/* How long sub may go without a fetch, ack or nack before it is detached. */
static int64_t
s_idle_ms(const s_sub_t *sub)
{
    int64_t ms = 2 * (int64_t)sub->ack_wait_ms;
    return ms < OB_GW_SUBS_IDLE_MIN_MS ? OB_GW_SUBS_IDLE_MIN_MS : ms;
}

/* Counts the held deliveries with attempt > 1 into sub->again. */
static void
s_count_again(s_sub_t *sub)
{
    sub->again = 0;
    for (size_t i = 0; i < sub->held_count; i++)
        sub->again += sub->held[i].delivery->attempt > 1;
}

/* Returns the index of the held copy of topic and seq, or held_count if none. */
static size_t
s_held_find(const s_sub_t *sub, const char *topic, uint64_t seq)
{
    size_t i = 0;
    while (i < sub->held_count &&
           (sub->held[i].delivery->seq != seq || strcmp(sub->held[i].delivery->topic, topic)))
        i++;
    return i;
}

/* Drops held copy i (< held_count). */
static void
s_held_drop(s_sub_t *sub, size_t i)
{
    sub->again -= sub->held[i].delivery->attempt > 1;
    ob_delivery_destroy(&sub->held[i].delivery);
    memmove(&sub->held[i], &sub->held[i + 1], (sub->held_count - i - 1) * sizeof *sub->held);
    sub->held_count--;
}

/* Drops the held copy of topic and seq, acked or nacked, if any. A copy of an event
   delivered before (held, handed out or acked) is a redelivery, so attempt > 1: with none
   such held, nothing is looked at (else the ack of a batch would scan all held per
   handle). */
static void
s_unhold(s_sub_t *sub, const char *topic, uint64_t seq)
{
    size_t i = sub->again ? s_held_find(sub, topic, seq) : sub->held_count;
    if (i < sub->held_count)
        s_held_drop(sub, i);
}

/* Holds delivery (taken) for sub; a copy of the same event held already is replaced. */
static void
s_hold(s_sub_t *sub, ob_delivery_t **delivery_p)
{
    ob_delivery_t *d = *delivery_p;
    *delivery_p = NULL;
    /* a first delivery repeats nothing; a redelivery may repeat a held copy of any attempt */
    size_t i = d->attempt > 1 ? s_held_find(sub, d->topic, d->seq) : sub->held_count;
    if (i < sub->held_count)
        s_held_drop(sub, i);
    if (sub->held_count == sub->held_size) {
        size_t n = sub->held_size ? sub->held_size * 2 : OB_GW_REST_PENDING_MIN;
        s_held_t *p = realloc(sub->held, n * sizeof *p);
        if (!p) {
            ob_delivery_destroy(&d); /* the broker redelivers it */
            return;
        }
        sub->held = p;
        sub->held_size = n;
    }
    sub->again += d->attempt > 1;
    sub->held[sub->held_count++] = (s_held_t){d, zclock_mono() + sub->ack_wait_ms};
}

/* Drops held copies past their ack deadline, or of an earlier broker session. */
static void
s_prune(ob_rest_subs_t *self, s_sub_t *sub, int64_t now)
{
    size_t kept = 0;
    for (size_t i = 0; i < sub->held_count; i++) {
        if (sub->held[i].until <= now || sub->held[i].delivery->generation < self->generation)
            ob_delivery_destroy(&sub->held[i].delivery);
        else
            sub->held[kept++] = sub->held[i];
    }
    sub->held_count = kept;
    s_count_again(sub);
}

/* Removes sub from the table: answers its waiting fetches with rc and message, frees it. */
static void
s_drop(ob_rest_subs_t *self, s_sub_t *sub, int rc, const char *message)
{
    while (sub->head) {
        ob_rest_subs_req_t *req = sub->head;
        sub->head = req->next;
        req->next = NULL;
        s_fail(self, req, rc, message);
    }
    for (size_t i = 0; i < sub->held_count; i++)
        ob_delivery_destroy(&sub->held[i].delivery);
    free(sub->held);
    for (size_t i = 0; i < self->count; i++)
        if (self->subs[i] == sub) {
            self->subs[i] = self->subs[--self->count];
            break;
        }
    free(sub);
}

/* Detaches the broker client from sub and drops it (its waiting fetches get rc). */
static void
s_detach(ob_rest_subs_t *self, s_sub_t *sub, int rc, const char *message)
{
    /* Whatever the answer: the client has forgotten it, and a failed UNSUBSCRIBE ends with
       the session that would have kept it. */
    ob_client_unsubscribe(self->client, sub->name);
    s_drop(self, sub, rc, message);
}

/* Takes what the broker client has received, without waiting. */
static void
s_drain(ob_rest_subs_t *self)
{
    for (;;) {
        ob_delivery_t *d = NULL;
        int rc = ob_client_receive(self->client, 0, &d);
        if (rc && *ob_client_lost_sub(self->client)) {
            s_sub_t *sub = s_find(self, ob_client_lost_sub(self->client));
            if (sub)
                s_drop(self, sub, OB_ERR_NO_SUCH_SUBSCRIPTION, "the subscription was deleted");
            continue;
        }
        if (rc)
            return;
        if (d->generation > self->generation)
            self->generation = d->generation;
        s_sub_t *sub = s_find(self, d->sub);
        if (sub)
            s_hold(sub, &d);
        ob_delivery_destroy(&d); /* detached meanwhile: the broker redelivers it */
    }
}

/* The last second of a time formatted (ob_time_format), for the times of a fetch's
   answer: most fall in a few seconds. */
typedef struct s_clock {
    uint64_t sec;                /* the second */
    char text[OB_TIME_TEXT_MAX]; /* its text, "" before the first */
} s_clock_t;

/* A fetch's answer being written: JSON text, grown as it goes. */
typedef struct s_text {
    char *data;         /* the text, NUL-terminated once done; NULL after a failure */
    size_t len;         /* bytes used */
    size_t size;        /* bytes allocated */
    s_clock_t stored;   /* the deliveries' stored times */
    s_clock_t occurred; /* the events' times */
} s_text_t;

/* Makes room for len more bytes and a NUL in t and counts them as used. Returns where they
   go, or NULL (no memory: t fails, and everything after is a no-op). */
static char *
s_grow_text(s_text_t *t, size_t len)
{
    if (!t->data)
        return NULL;
    if (t->len + len + 1 > t->size) {
        size_t n = t->size * 2;
        while (n < t->len + len + 1)
            n *= 2;
        char *p = realloc(t->data, n);
        if (!p) {
            free(t->data);
            t->data = NULL;
            return NULL;
        }
        t->data = p;
        t->size = n;
    }
    t->len += len;
    return t->data + t->len - len;
}

/* Appends len bytes at bytes to t. */
static void
s_put(s_text_t *t, const char *bytes, size_t len)
{
    char *at = s_grow_text(t, len);
    if (at)
        memcpy(at, bytes, len);
}

/* Appends the NUL-terminated text to t. */
static void
s_puts(s_text_t *t, const char *text)
{
    s_put(t, text, strlen(text));
}

/* Appends the decimal digits of value to t. */
static void
s_put_u64(s_text_t *t, uint64_t value)
{
    char digits[OB_GW_U64_TEXT_MAX];
    size_t at = sizeof digits;
    do {
        digits[--at] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    s_put(t, digits + at, sizeof digits - at);
}

/* Appends key (text up to the value, such as ,"seq":) and the decimal value to t. */
static void
s_put_number(s_text_t *t, const char *key, uint64_t value)
{
    s_puts(t, key);
    s_put_u64(t, value);
}

/* Appends time_us in quotes to t as ob_time_format writes it, formatting only a second
   that clock does not hold. Returns 0 or -1 (a time ob_time_format refuses). */
static int
s_put_time(s_text_t *t, s_clock_t *clock, uint64_t time_us)
{
    uint64_t sec = time_us / S_US_PER_S;
    if (!clock->text[0] || clock->sec != sec) {
        if (ob_time_format(time_us, clock->text))
            return -1; /* text is "" again */
        clock->sec = sec;
    }
    char *at = s_grow_text(t, 1 + S_TIME_SECS + 1 + S_TIME_US_DIGITS + 2);
    if (!at)
        return 0; /* t failed: the caller sees it */
    *at++ = '"';
    memcpy(at, clock->text, S_TIME_SECS);
    at += S_TIME_SECS;
    *at++ = '.';
    uint64_t us = time_us % S_US_PER_S;
    for (int k = S_TIME_US_DIGITS - 1; k >= 0; k--, us /= 10)
        at[k] = (char)('0' + us % 10);
    at += S_TIME_US_DIGITS;
    memcpy(at, "Z\"", 2);
    return 0;
}

/* Appends value as a JSON string to t: escaped as Jansson writes it, after checking that it
   is UTF-8 (json_stringn's rule, which ob_event_to_json applies). Returns 0, or -1 (not
   UTF-8). */
static int
s_put_string(s_text_t *t, const char *value, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)value, *end = p + len, *run = p;
    s_put(t, "\"", 1);
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x80) { /* one UTF-8 sequence: no overlong form, surrogate or > U+10FFFF */
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            if (!n || c > 0xf4 || (size_t)(end - p) < n)
                return -1;
            for (size_t k = 1; k < n; k++)
                if ((p[k] & 0xc0) != 0x80)
                    return -1;
            if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
                (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
                return -1;
            p += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            p++;
            continue;
        }
        s_put(t, (const char *)run, (size_t)(p - run));
        char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t n = 2;
        if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t')
            esc[1] = c == '\b' ? 'b' : c == '\f' ? 'f' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        else if (c < 0x20) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        s_put(t, esc, n);
        run = ++p;
    }
    s_put(t, (const char *)run, (size_t)(p - run));
    s_put(t, "\"", 1);
    return 0;
}

/* Appends "key": and the string value (NULL: "", or null if null_ok) to t. Returns 0 or -1
   (not UTF-8). */
static int
s_put_member(s_text_t *t, const char *key, const char *value, int null_ok)
{
    s_puts(t, key);
    if (!value && null_ok) {
        s_puts(t, "null");
        return 0;
    }
    return value ? s_put_string(t, value, strlen(value)) : s_put_string(t, "", 0);
}

/* Appends an event's data to t as ob_event_to_json writes it: null when empty, JSON data as
   itself (compact), anything else as {"base64": ...}. Only data that can start a JSON text
   goes through Jansson's parser. Returns 0 or -1 (no memory). */
static int
s_put_data(s_text_t *t, const uint8_t *data, size_t len)
{
    if (!len) {
        s_puts(t, "null");
        return 0;
    }
    size_t i = 0;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
        i++;
    if (i < len && data[i] && strchr("{[\"-0123456789tfn", data[i])) {
        json_t *value = json_loadb((const char *)data, len, JSON_DECODE_ANY, NULL);
        char *text =
            value ? json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
        json_decref(value);
        if (text) {
            s_puts(t, text);
            free(text);
            return 0;
        }
        if (value)
            return -1;
    }
    s_puts(t, "{\"base64\":\"");
    char *at = s_grow_text(t, OB_BASE64_LEN(len)); /* room for its NUL too */
    if (!at)
        return -1;
    ob_base64_encode_into(at, data, len);
    s_puts(t, "\"}");
    return 0;
}

/* Appends the event JSON of ev (borrowed) to t: what ob_event_to_json makes, written
   directly (Jansson's object model and its dump were most of a fetch's cost). Returns 0,
   or -1 for an event ob_event_to_json refuses (a string not UTF-8, an id over INT64_MAX)
   or no memory. */
static int
s_put_event(s_text_t *t, const ob_event_t *ev)
{
    if (!ev->id || !ev->topic || !ev->type || ev->oms_id > INT64_MAX ||
        ev->project_id > INT64_MAX || ev->project_item_id > INT64_MAX ||
        ev->message_id > INT64_MAX || ev->time_us > INT64_MAX)
        return -1;
    if (s_put_member(t, "{\"id\":", ev->id, 0) || s_put_member(t, ",\"topic\":", ev->topic, 0) ||
        s_put_member(t, ",\"type\":", ev->type, 0))
        return -1;
    s_puts(t, ",\"time\":");
    if (s_put_time(t, &t->occurred, ev->time_us))
        return -1;
    s_put_number(t, ",\"time_us\":", ev->time_us);
    if (s_put_member(t, ",\"source\":", ev->source, 0))
        return -1;
    s_put_number(t, ",\"oms_id\":", ev->oms_id);
    s_put_number(t, ",\"project_id\":", ev->project_id);
    s_put_number(t, ",\"project_item_id\":", ev->project_item_id);
    s_put_number(t, ",\"message_id\":", ev->message_id);
    s_puts(t, ",\"changes\":[");
    for (size_t i = 0; i < ev->changes_count; i++) {
        const ob_change_t *c = &ev->changes[i];
        if (s_put_member(t, i ? ",{\"field\":" : "{\"field\":", c->field, 0) ||
            s_put_member(t, ",\"before\":", c->before, 1) ||
            s_put_member(t, ",\"after\":", c->after, 1))
            return -1;
        s_puts(t, "}");
    }
    s_puts(t, "],\"data\":");
    if (s_put_data(t, ev->data, ev->data_len))
        return -1;
    s_puts(t, "}");
    return t->data ? 0 : -1;
}

/* Appends the JSON of a delivery (borrowed) with its handle to t, after a comma unless it
   is the first. Returns 0, or -1 for a delivery left out: its event does not decode (never
   stored so by this broker), or its topic is not one (what the broker sent is written into
   the JSON as it is, so it is checked). */
static int
s_delivery_json(ob_rest_subs_t *self, const ob_delivery_t *d, int first, s_text_t *t)
{
    ob_rest_handle_t h = {.seq = d->seq, .attempt = d->attempt};
    memcpy(h.sub, d->sub, sizeof h.sub);
    memcpy(h.topic, d->topic, sizeof h.topic);
    char handle[OB_GW_HANDLE_TEXT_MAX + 1];
    ob_event_t *ev = NULL;
    /* the handle checks the topic (ob_topic_valid: no character JSON would escape) */
    if (ob_rest_handle_encode(self->key, &h, handle) || ob_delivery_decode(d, &ev))
        return -1;
    size_t mark = t->len;
    s_puts(t, first ? "{\"handle\":\"" : ",{\"handle\":\"");
    s_puts(t, handle);
    s_puts(t, "\",\"topic\":\"");
    s_puts(t, d->topic);
    s_put_number(t, "\",\"seq\":", d->seq);
    s_put_number(t, ",\"attempt\":", d->attempt);
    s_puts(t, ",\"time\":");
    int rc = s_put_time(t, &t->stored, d->time_us);
    s_puts(t, ",\"event\":");
    rc = rc ? rc : s_put_event(t, ev);
    ob_event_destroy(&ev);
    if (rc) {
        t->len = mark; /* left out (or no memory: t->data is NULL) */
        return -1;
    }
    if (d->skipped)
        s_put_number(t, ",\"skipped\":", d->skipped);
    s_put(t, "}", 1);
    return 0;
}

/* Answers fetch req with up to its max deliveries held for sub (maybe none):
   {"deliveries": [...]}, written without Jansson's object model (the event JSON of each is
   ob_event_to_json's text). */
static void
s_hand_out(ob_rest_subs_t *self, s_sub_t *sub, ob_rest_subs_req_t *req)
{
    size_t n = sub->held_count < req->fetch.max ? sub->held_count : req->fetch.max;
    s_text_t t = {.data = malloc(OB_GW_FETCH_TEXT_MIN), .size = OB_GW_FETCH_TEXT_MIN};
    int first = 1;
    s_puts(&t, "{\"deliveries\":[");
    for (size_t i = 0; t.data && i < n; i++)
        if (!s_delivery_json(self, sub->held[i].delivery, first, &t))
            first = 0;
    s_put(&t, "]}", sizeof "]}"); /* with the NUL */
    if (!t.data) {
        /* no memory: nothing handed out, all still held */
        self->done(req->job, (unsigned)ob_rest_status(-ENOMEM), ob_rest_error_json(-ENOMEM, NULL));
        return;
    }
    for (size_t i = 0; i < n; i++)
        ob_delivery_destroy(&sub->held[i].delivery);
    if (n) /* held may be NULL then */
        memmove(sub->held, sub->held + n, (sub->held_count - n) * sizeof *sub->held);
    sub->held_count -= n;
    s_count_again(sub);
    sub->idle_at = zclock_mono() + s_idle_ms(sub);
    self->done(req->job, S_OK, t.data);
}

/* ---------------------------------------------------------------------------------------- */
/* The broker */

/* Asks the broker for SUB_INFO of name: on success *ret_info is its result as a JSON object
   (a reference the caller owns). Returns 0, the broker's refusal, OB_ERR_BUSY (no answer),
   OB_ERR_MALFORMED (a result that is not one object) or -ENOMEM. */
static int
s_info(ob_rest_subs_t *self, const char *name, json_t **ret_info)
{
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_SUB_INFO);
    snprintf(msg.sub, sizeof msg.sub, "%s", name);
    uint8_t *result = NULL;
    size_t len = 0;
    int rc = ob_client_request(self->client, &msg, &result, &len, NULL, NULL, NULL);
    if (rc)
        return s_broker_rc(rc);
    char *text = NULL;
    rc = result ? ob_result_to_json(result, len, &text) : OB_ERR_MALFORMED;
    free(result);
    json_t *info = rc ? NULL : json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(info)) {
        json_decref(info);
        return rc ? rc : OB_ERR_MALFORMED;
    }
    *ret_info = info;
    return 0;
}

/* Copies the strings of the array key of info into rows (max rows of stride bytes at base)
   and pointers to them into ptrs. Returns the count, or -1 if they do not fit. */
static long
s_strings(json_t *info, const char *key, char *base, size_t stride, size_t max, const char **ptrs)
{
    json_t *array = json_object_get(info, key), *v;
    size_t i;
    if (!json_is_array(array) || json_array_size(array) > max)
        return -1;
    json_array_foreach(array, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) >= stride)
            return -1;
        memcpy(base + i * stride, json_string_value(v), json_string_length(v) + 1);
        ptrs[i] = base + i * stride;
    }
    return (long)json_array_size(array);
}

/* Returns 1 if the array key of info holds the same set of strings as the count strings
   at ptrs, else 0. */
static int
s_same_set(json_t *info, const char *key, const char *const *ptrs, size_t count)
{
    json_t *array = json_object_get(info, key), *v;
    size_t i;
    if (!json_is_array(array))
        return 0;
    json_array_foreach(array, i, v)
    {
        size_t j = 0;
        while (j < count && (!json_is_string(v) || strcmp(json_string_value(v), ptrs[j])))
            j++;
        if (j == count)
            return 0;
    }
    for (size_t j = 0; j < count; j++) {
        int found = 0;
        json_array_foreach(array, i, v) found |= !strcmp(json_string_value(v), ptrs[j]);
        if (!found)
            return 0;
    }
    return 1;
}

/* Adds name of owner (ack_wait_ms) to the table of attached subscriptions, after its
   SUBSCRIBE. Returns 0 or -ENOMEM. */
static int
s_add(ob_rest_subs_t *self, const char *name, const char *owner, uint32_t ack_wait_ms)
{
    if (self->count == self->size) {
        size_t n = self->size ? self->size * 2 : OB_GW_REST_PENDING_MIN;
        s_sub_t **p = realloc(self->subs, n * sizeof *p);
        if (!p)
            return -ENOMEM;
        self->subs = p;
        self->size = n;
    }
    s_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub)
        return -ENOMEM;
    snprintf(sub->name, sizeof sub->name, "%s", name);
    snprintf(sub->owner, sizeof sub->owner, "%s", owner);
    sub->ack_wait_ms = ack_wait_ms ? ack_wait_ms : OB_ACK_WAIT_MS_DEFAULT;
    sub->idle_at = zclock_mono() + s_idle_ms(sub);
    self->subs[self->count++] = sub;
    return 0;
}

/* Sends SUBSCRIBE of name with opts (borrowed) and records it for owner. On success writes
   1 to *ret_created if the broker created it. Returns 0, OB_ERR_LIMIT, the broker's refusal,
   OB_ERR_BUSY, -ENOMEM; with a message. */
static int
s_subscribe(ob_rest_subs_t *self, const char *name, const char *owner, const ob_sub_options_t *opts,
            uint32_t ack_wait_ms, int *ret_created, char *errbuf, size_t errlen)
{
    if (self->count == OB_GW_SUBS_ATTACHED_MAX)
        return s_refuse(errbuf, errlen, OB_ERR_LIMIT,
                        "the gateway is attached to %d subscriptions: retry later",
                        OB_GW_SUBS_ATTACHED_MAX);
    int created = 0;
    int rc = ob_client_subscribe(self->client, name, opts, NULL, &created);
    if (rc) {
        rc = s_broker_rc(rc);
        return s_refuse(errbuf, errlen, rc, "%s",
                        rc == OB_ERR_BUSY ? S_BUSY : ob_client_last_reason(self->client));
    }
    if ((rc = s_add(self, name, owner, ack_wait_ms))) {
        ob_client_unsubscribe(self->client, name);
        return rc;
    }
    *ret_created = created;
    return 0;
}

/* Attaches the broker client to name of owner, as info (SUB_INFO's) describes it, unless it
   is attached. Returns 0, OB_ERR_FORBIDDEN (a pattern no longer the owner's),
   OB_ERR_MALFORMED (info is not usable), or s_subscribe's codes; with a message. */
static int
s_attach(ob_rest_subs_t *self, const char *name, const char *owner, json_t *info, char *errbuf,
         size_t errlen)
{
    if (s_find(self, name))
        return 0;
    ob_rest_sub_t *desc = calloc(1, sizeof *desc);
    if (!desc)
        return -ENOMEM;
    int rc = 0, created = 0;
    long np = s_strings(info, "patterns", &desc->patterns[0][0], sizeof desc->patterns[0],
                        OB_SUB_PATTERNS_MAX, desc->pattern_ptrs);
    long nt = s_strings(info, "types", &desc->types[0][0], sizeof desc->types[0], OB_SUB_TYPES_MAX,
                        desc->type_ptrs);
    json_t *wait = json_object_get(info, "ack_wait_ms");
    if (np < 1 || nt < 0 || !json_is_integer(wait) || json_integer_value(wait) < 0 ||
        json_integer_value(wait) > OB_DELAY_MS_MAX) {
        rc = s_refuse(errbuf, errlen, OB_ERR_MALFORMED, "the broker's SUB_INFO of %s is not usable",
                      name);
        goto out;
    }
    for (long i = 0; i < np; i++)
        if (!self->may(self->may_arg, owner, desc->pattern_ptrs[i])) {
            rc = s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN, "client %s may not subscribe to %s",
                          owner, desc->pattern_ptrs[i]);
            goto out;
        }
    ob_sub_options_t opts = {.patterns = desc->pattern_ptrs,
                             .pattern_count = (size_t)np,
                             .types = nt ? desc->type_ptrs : NULL,
                             .type_count = (size_t)nt};
    rc = s_subscribe(self, name, owner, &opts, (uint32_t)json_integer_value(wait), &created, errbuf,
                     errlen);
out:
    free(desc);
    return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Serving */

/* Checks that req's subscription is its client's: a record of it in the store. Without one,
   asks the broker whether it exists (403: not an HTTP subscription; 404). Returns 0 or the
   refusal with a message. */
static int
s_own(ob_rest_subs_t *self, const ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    char owner[OB_GW_CLIENT_NAME_MAX + 1];
    int rc = ob_gw_store_sub_owner(self->store, req->name, owner);
    if (!rc)
        return strcmp(owner, req->client)
                   ? s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN,
                              "subscription %s belongs to another client", req->name)
                   : 0;
    if (rc != -ENOENT)
        return s_refuse(errbuf, errlen, OB_ERR_STORAGE, "the gateway's store: %s", ob_strerror(rc));
    json_t *info = NULL;
    rc = s_info(self, req->name, &info);
    json_decref(info);
    if (!rc)
        return s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN,
                        "subscription %s is not an HTTP subscription of this gateway", req->name);
    if (rc == OB_ERR_NO_SUCH_SUBSCRIPTION)
        return s_refuse(errbuf, errlen, rc, "no such subscription");
    return s_refuse(errbuf, errlen, rc, "%s", rc == OB_ERR_BUSY ? S_BUSY : ob_strerror(rc));
}

/* Asks SUB_INFO of req's subscription into *ret_info; on a refusal writes its message (and
   forgets the subscription if the broker has none). */
static int
s_info_of(ob_rest_subs_t *self, const ob_rest_subs_req_t *req, json_t **ret_info, char *errbuf,
          size_t errlen)
{
    int rc = s_info(self, req->name, ret_info);
    if (rc == OB_ERR_NO_SUCH_SUBSCRIPTION) {
        s_sub_t *sub = s_find(self, req->name);
        if (sub)
            s_detach(self, sub, rc, "the subscription was deleted");
        return s_refuse(errbuf, errlen, rc, "no such subscription (deleted at the broker)");
    }
    if (rc)
        return s_refuse(errbuf, errlen, rc, "%s", rc == OB_ERR_BUSY ? S_BUSY : ob_strerror(rc));
    return 0;
}

/* POST /v1/subscriptions. */
static int
s_serve_create(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    char owner[OB_GW_CLIENT_NAME_MAX + 1];
    int rc = ob_gw_store_sub_owner(self->store, req->name, owner);
    int recorded = rc == 0;
    if (rc && rc != -ENOENT)
        return s_refuse(errbuf, errlen, OB_ERR_STORAGE, "the gateway's store: %s", ob_strerror(rc));
    if (recorded && strcmp(owner, req->client))
        return s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN,
                        "subscription %s belongs to another client", req->name);
    json_t *info = NULL;
    rc = s_info(self, req->name, &info);
    if (!rc) {
        const ob_sub_options_t *o = &req->sub->options;
        if (!recorded)
            rc = s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN,
                          "subscription %s is not an HTTP subscription of this gateway", req->name);
        else if (!s_same_set(info, "patterns", o->patterns, o->pattern_count) ||
                 !s_same_set(info, "types", o->types, o->type_count))
            rc = s_refuse(errbuf, errlen, OB_ERR_SUBSCRIPTION_EXISTS,
                          "subscription %s exists with other patterns or types", req->name);
        else
            rc = s_attach(self, req->name, req->client, info, errbuf, errlen);
        json_decref(info);
        if (!rc)
            s_answer(self, req, S_OK, json_pack("{s:s, s:b}", "name", req->name, "created", 0));
        return rc;
    }
    if (rc != OB_ERR_NO_SUCH_SUBSCRIPTION)
        return s_refuse(errbuf, errlen, rc, "%s", rc == OB_ERR_BUSY ? S_BUSY : ob_strerror(rc));
    /* New: the owner is recorded before the broker sees the SUBSCRIBE, so that a
       subscription the broker has is never without its owner here. */
    s_sub_t *stale = s_find(self, req->name);
    if (stale)
        s_detach(self, stale, OB_ERR_NO_SUCH_SUBSCRIPTION, "the subscription was deleted");
    if (!recorded && (rc = ob_gw_store_set_sub_owner(self->store, req->name, req->client)))
        return s_refuse(errbuf, errlen, OB_ERR_STORAGE, "the gateway's store: %s", ob_strerror(rc));
    int created = 0;
    if ((rc = s_subscribe(self, req->name, req->client, &req->sub->options,
                          req->sub->options.ack_wait_ms, &created, errbuf, errlen)))
        return rc; /* the record stays: the broker may have made it */
    if (!created && !recorded) {
        /* Made meanwhile by a ZeroMQ client: not ours. */
        s_detach(self, s_find(self, req->name), 0, NULL);
        ob_gw_store_del_sub_owner(self->store, req->name);
        return s_refuse(errbuf, errlen, OB_ERR_FORBIDDEN,
                        "subscription %s is not an HTTP subscription of this gateway", req->name);
    }
    s_answer(self, req, created ? S_CREATED : S_OK,
             json_pack("{s:s, s:b}", "name", req->name, "created", created));
    return 0;
}

/* The JSON of a subscription from its SUB_INFO (a reference taken), its owner set to the
   HTTP client. */
static json_t *
s_sub_json(json_t *info, const char *owner)
{
    if (json_object_set_new(info, "owner", json_string(owner))) {
        json_decref(info);
        return NULL;
    }
    return info;
}

/* GET /v1/subscriptions. */
static int
s_serve_list(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    char(*names)[OB_SUB_NAME_MAX + 1] = calloc(OB_GW_SUBS_PAGE_MAX, sizeof *names);
    json_t *list = json_array();
    size_t count = 0;
    int more = 0, rc = -ENOMEM;
    if (!names || !list)
        goto out;
    if ((rc = ob_gw_store_sub_list(self->store, req->client, req->after, names, OB_GW_SUBS_PAGE_MAX,
                                   &count, &more))) {
        rc = s_refuse(errbuf, errlen, OB_ERR_STORAGE, "the gateway's store: %s", ob_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *info = NULL;
        rc = s_info(self, names[i], &info);
        if (rc == OB_ERR_NO_SUCH_SUBSCRIPTION)
            continue; /* a record whose subscription is gone: see rest_subs.h */
        if (rc) {
            rc = s_refuse(errbuf, errlen, rc, "%s", rc == OB_ERR_BUSY ? S_BUSY : ob_strerror(rc));
            goto out;
        }
        json_t *one = s_sub_json(info, req->client);
        if (!one || json_array_append_new(list, one)) {
            rc = -ENOMEM;
            goto out;
        }
    }
    s_answer(self, req, S_OK, json_pack("{s:O, s:b}", "subscriptions", list, "more", more));
    rc = 0;
out:
    json_decref(list);
    free(names);
    return rc;
}

/* GET /v1/subscriptions/{name}. */
static int
s_serve_get(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    json_t *info = NULL;
    int rc = s_own(self, req, errbuf, errlen);
    if (!rc && !(rc = s_info_of(self, req, &info, errbuf, errlen)))
        s_answer(self, req, S_OK, s_sub_json(info, req->client));
    return rc;
}

/* DELETE /v1/subscriptions/{name}. */
static int
s_serve_delete(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    int rc = s_own(self, req, errbuf, errlen);
    if (rc)
        return rc;
    s_sub_t *sub = s_find(self, req->name);
    if (sub)
        s_detach(self, sub, OB_ERR_NO_SUCH_SUBSCRIPTION, "the subscription was deleted");
    ob_wire_msg_t msg;
    ob_wire_msg_init(&msg, OB_CMD_SUB_DELETE);
    snprintf(msg.sub, sizeof msg.sub, "%s", req->name);
    rc = ob_client_request(self->client, &msg, NULL, NULL, NULL, NULL, NULL);
    if (rc && rc != OB_ERR_NO_SUCH_SUBSCRIPTION) {
        rc = s_broker_rc(rc);
        return s_refuse(errbuf, errlen, rc, "%s",
                        rc == OB_ERR_BUSY ? S_BUSY : ob_client_last_reason(self->client));
    }
    if ((rc = ob_gw_store_del_sub_owner(self->store, req->name)))
        return s_refuse(errbuf, errlen, OB_ERR_STORAGE, "the gateway's store: %s", ob_strerror(rc));
    char *empty = strdup("");
    if (empty)
        self->done(req->job, S_NO_CONTENT, empty);
    else
        s_answer(self, req, 0, NULL);
    return 0;
}

/* Returns the fetches of client waiting. */
static size_t
s_waits_of(const ob_rest_subs_t *self, const char *client)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        for (const ob_rest_subs_req_t *r = self->subs[i]->head; r; r = r->next)
            n += !strcmp(r->client, client);
    return n;
}

/* POST /v1/subscriptions/{name}/fetch. */
static int
s_serve_fetch(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    int rc = s_own(self, req, errbuf, errlen);
    if (rc)
        return rc;
    s_drain(self);
    s_sub_t *sub = s_find(self, req->name);
    if (sub)
        s_prune(self, sub, zclock_mono());
    if (!sub || !sub->held_count) {
        /* None held: the broker says the subscription exists (and that it answers). */
        json_t *info = NULL;
        if ((rc = s_info_of(self, req, &info, errbuf, errlen)))
            return rc;
        rc = s_attach(self, req->name, req->client, info, errbuf, errlen);
        json_decref(info);
        if (rc)
            return rc;
        s_drain(self);
        sub = s_find(self, req->name);
    }
    if (sub->held_count || !req->fetch.wait_ms) {
        s_hand_out(self, sub, req);
        return 0;
    }
    if (s_waits_of(self, req->client) >= self->waits_max)
        return s_refuse(errbuf, errlen, OB_ERR_LIMIT,
                        "client %s has %u fetches waiting (rest_waits_max): retry later",
                        req->client, self->waits_max);
    req->deadline = zclock_mono() + req->fetch.wait_ms;
    req->next = NULL;
    if (sub->tail)
        sub->tail->next = req;
    else
        sub->head = req;
    sub->tail = req;
    sub->idle_at = zclock_mono() + s_idle_ms(sub);
    return 0;
}

/* POST /v1/subscriptions/{name}/ack and /nack. */
static int
s_serve_ack(ob_rest_subs_t *self, ob_rest_subs_req_t *req, char *errbuf, size_t errlen)
{
    int rc = s_own(self, req, errbuf, errlen);
    if (rc)
        return rc;
    s_drain(self); /* the newest session's deliveries: self->generation */
    s_sub_t *sub = s_find(self, req->name);
    const ob_rest_ack_t *ack = req->ack;
    for (size_t i = 0; i < ack->count; i++) {
        const ob_rest_handle_t *h = &ack->handles[i];
        /* Sent in the broker client's newest session: a handle of an earlier one names an
           event that is pending to this session only if it was delivered again, and then
           the ack is still the client's (rest_subs.h). */
        ob_delivery_t d = {.seq = h->seq, .attempt = h->attempt, .generation = self->generation};
        memcpy(d.sub, h->sub, sizeof d.sub);
        memcpy(d.topic, h->topic, sizeof d.topic);
        rc = req->op == S_ACK_OP ? ob_client_ack(self->client, &d)
                                 : ob_client_nack(self->client, &d, ack->delay_ms);
        if (rc)
            return s_refuse(errbuf, errlen, OB_ERR_BUSY,
                            "the broker connection failed after %zu of the handles: retry", i);
        if (sub)
            s_unhold(sub, h->topic, h->seq);
    }
    /* Answered by ob_rest_subs_flush, after a request on the same connection that the broker
       answers once it has applied these ACKs (rest_subs.h, the durability contract). */
    req->next = self->settling;
    self->settling = req;
    return 0;
}

void
ob_rest_subs_flush(ob_rest_subs_t *self)
{
    while (self->settling) {
        /* One SUB_INFO per subscription, for every ack and nack of it sent so far: the
           broker reads one connection's messages in order. */
        char name[OB_SUB_NAME_MAX + 1], errbuf[OB_GW_REST_ERR_MAX] = "";
        memcpy(name, self->settling->name, sizeof name); /* answered requests go */
        json_t *info = NULL;
        int rc = s_info_of(self, self->settling, &info, errbuf, sizeof errbuf);
        json_decref(info);
        s_sub_t *sub = rc ? NULL : s_find(self, name);
        if (sub)
            sub->idle_at = zclock_mono() + s_idle_ms(sub);
        for (ob_rest_subs_req_t **link = &self->settling; *link;) {
            ob_rest_subs_req_t *req = *link;
            if (strcmp(req->name, name)) {
                link = &req->next;
                continue;
            }
            *link = req->next;
            req->next = NULL;
            if (rc == OB_ERR_BUSY)
                snprintf(errbuf, sizeof errbuf,
                         "the broker did not answer: the %ss may or may not be applied; retrying "
                         "is safe",
                         req->op == S_ACK_OP ? "ack" : "nack");
            if (rc)
                s_fail(self, req, rc, errbuf);
            else
                s_answer(self, req, S_OK, json_pack("{s:I}", "count", (json_int_t)req->ack->count));
        }
    }
}

void
ob_rest_subs_serve(ob_rest_subs_t *self, ob_rest_subs_req_t *req, void *job)
{
    char errbuf[OB_GW_REST_ERR_MAX] = "";
    req->job = job;
    int rc = 0;
    switch (req->op) {
    case S_CREATE:
        rc = s_serve_create(self, req, errbuf, sizeof errbuf);
        break;
    case S_LIST:
        rc = s_serve_list(self, req, errbuf, sizeof errbuf);
        break;
    case S_GET:
        rc = s_serve_get(self, req, errbuf, sizeof errbuf);
        break;
    case S_DELETE:
        ob_rest_subs_flush(self); /* acks before it are answered as they were applied */
        rc = s_serve_delete(self, req, errbuf, sizeof errbuf);
        break;
    case S_FETCH_OP:
        rc = s_serve_fetch(self, req, errbuf, sizeof errbuf);
        break;
    case S_ACK_OP:
    case S_NACK_OP:
        rc = s_serve_ack(self, req, errbuf, sizeof errbuf);
        break;
    }
    if (rc)
        s_fail(self, req, rc, errbuf[0] ? errbuf : NULL);
}

int64_t
ob_rest_subs_due(const ob_rest_subs_t *self)
{
    int64_t due = INT64_MAX;
    for (size_t i = 0; i < self->count; i++) {
        const s_sub_t *sub = self->subs[i];
        if (!sub->head && sub->idle_at < due)
            due = sub->idle_at;
        for (const ob_rest_subs_req_t *r = sub->head; r; r = r->next)
            if (r->deadline < due)
                due = r->deadline;
    }
    return due;
}

void
ob_rest_subs_poll(ob_rest_subs_t *self)
{
    s_drain(self);
    int64_t now = zclock_mono();
    for (size_t i = self->count; i-- > 0;) {
        s_sub_t *sub = self->subs[i];
        s_prune(self, sub, now);
        while (sub->head && sub->held_count) {
            ob_rest_subs_req_t *req = sub->head;
            if (!(sub->head = req->next))
                sub->tail = NULL;
            s_hand_out(self, sub, req);
        }
        for (ob_rest_subs_req_t **link = &sub->head; *link;) {
            ob_rest_subs_req_t *req = *link;
            if (req->deadline > now) {
                sub->tail = req;
                link = &req->next;
                continue;
            }
            *link = req->next;
            s_hand_out(self, sub, req); /* none held: an empty list */
        }
        if (!sub->head) {
            sub->tail = NULL;
            if (now >= sub->idle_at)
                s_detach(self, sub, 0, NULL);
        }
    }
}

ob_rest_subs_t *
ob_rest_subs_new(ob_client_t *client, ob_gw_store_t *store,
                 const uint8_t key[OB_GW_HANDLE_KEY_BYTES], unsigned waits_max,
                 ob_rest_subs_done_fn *done, ob_rest_subs_may_fn *may, void *may_arg)
{
    ob_rest_subs_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->client = client;
    self->store = store;
    memcpy(self->key, key, sizeof self->key);
    self->waits_max = waits_max;
    self->done = done;
    self->may = may;
    self->may_arg = may_arg;
    return self;
}

void
ob_rest_subs_destroy(ob_rest_subs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ob_rest_subs_t *self = *self_p;
    while (self->settling) {
        ob_rest_subs_req_t *req = self->settling;
        self->settling = req->next;
        s_fail(self, req, OB_ERR_SHUTDOWN, "the gateway is stopping: retrying is safe");
    }
    while (self->count)
        s_drop(self, self->subs[0], OB_ERR_SHUTDOWN, "the gateway is stopping");
    free(self->subs);
    sodium_memzero(self->key, sizeof self->key);
    free(self);
    *self_p = NULL;
}
