/*  ob_rate_limit: requests per second per client of the REST API (issue 15: 429 with
    Retry-After), a token bucket per client.

    Each client's bucket holds up to burst tokens and gains rate tokens per second; a request
    takes one, or is refused with the whole seconds until one is there (Retry-After, at least
    1). Counting is in millionths of a token, so that any rate from 1 to OB_GW_RATE_MAX per
    second is exact to the microsecond. The clock is the caller's (now_us): tests inject it,
    the gateway passes a monotonic clock (czmq's zclock_usecs). A clock that goes back is
    taken as standing still.

    Bounded: at most capacity buckets are held; a new client beyond that reuses the bucket
    of the client idle the longest (least recently used). That is lossless when that client
    has been idle for burst / rate seconds, since its bucket would be full again; size the
    capacity to the number of clients in the tokens file (ob_tokens_size) and it is always
    so. Every operation is O(1): a hash table by name and an LRU list.

    Not thread-safe: the gateway keeps one per thread or guards it. */
#ifndef OB_GW_RATE_LIMIT_H
#define OB_GW_RATE_LIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "gw_limits.h"

typedef struct ob_rate_limit ob_rate_limit_t;

/* Creates a limiter of rate requests per second and bursts of burst (each
   1..OB_GW_RATE_MAX) holding at most capacity buckets (1..OB_GW_TOKEN_CLIENTS_MAX). Returns
   a new limiter that the caller destroys, or NULL for an argument out of range or no
   memory. */
ob_rate_limit_t *ob_rate_limit_new(uint32_t rate, uint32_t burst, size_t capacity);

/* Destroys the limiter and its buckets; sets *self_p to NULL; accepts NULL. */
void ob_rate_limit_destroy(ob_rate_limit_t **self_p);

/* Takes one token from the bucket of client (a name, NUL-terminated, borrowed; at most
   OB_GW_CLIENT_NAME_MAX bytes) at time now_us. A client not seen yet starts with a full
   bucket. Returns 0 (allowed); OB_ERR_LIMIT (refused: *ret_retry_after_s is the seconds
   until a token is there, >= 1); OB_ERR_INVALID_ARGUMENT for a NULL, empty or too long
   name; -ENOMEM. ret_retry_after_s may be NULL. */
int ob_rate_limit_take(ob_rate_limit_t *self, const char *client, uint64_t now_us,
                       uint32_t *ret_retry_after_s);

/* Returns the number of buckets held (<= capacity). */
size_t ob_rate_limit_size(const ob_rate_limit_t *self);

#endif
