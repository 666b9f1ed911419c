/*  ob_tokens: the gateway's bearer tokens file (issue 15), the REST counterpart of the
    broker's permissions file (broker/perms.h), loaded from ZPL:

        client = oms-7                # name: 1..64 bytes [a-z0-9_.-], unique
            hash = <64 hex digits>    # ob_token_hash of its token (common/token.h); unique
            publish = mp.7            # a topic pattern; the key may repeat
            subscribe = oms.7         # a topic pattern; the key may repeat
            admin = none              # none (default) | read | write

    `orderbus-keys token NAME ...` makes a token and prints such an entry. The file holds no
    token, only hashes: reading it does not let anyone in (token.h says why the hash is a
    fast one and why that is sound for random tokens).

    Rules, the broker's (PROTOCOL.md 14.4), with its patterns (orderbus/pattern.h): publish
    to topic T iff a publish pattern matches T, and never to a dead-letter topic (dlq.*,
    which only the broker writes: refused here before the broker would); subscribe with
    P1..Pn iff each Pi is covered by a subscribe pattern; admin read: list topics and
    subscriptions, read a subscription's figures, and read (FETCH) a topic a subscribe
    pattern matches; admin write: read plus reposition and delete subscriptions. A client's
    own HTTP subscriptions (rest_subs.h) need no admin level for any route: getting,
    deleting, fetching, acking and nacking them.

    Lookup: ob_tokens_lookup hashes the presented token and finds its entry through a table
    sorted by hash, comparing whole hashes with sodium_memcmp (constant time). The presented
    token is neither kept nor logged.

    A table is immutable once loaded: a reload (SIGHUP) builds a new one with ob_tokens_load
    and the caller swaps it in, destroying the old one when no request uses it. Nothing is
    logged here; errors are written into errbuf, naming the file, the client and the fault,
    never a hash. */
#ifndef OB_GW_TOKENS_H
#define OB_GW_TOKENS_H

#include <stddef.h>

#include "gw_limits.h"
#include "rights.h"

#define OB_GW_DLQ_PREFIX "dlq." /* dead-letter topics (PROTOCOL.md 12.6): broker only */

typedef ob_rights_admin_t ob_tokens_admin_t;
#define OB_TOKENS_ADMIN_NONE OB_RIGHTS_ADMIN_NONE   /* no admin operation */
#define OB_TOKENS_ADMIN_READ OB_RIGHTS_ADMIN_READ   /* topics, subscriptions, figures, reading */
#define OB_TOKENS_ADMIN_WRITE OB_RIGHTS_ADMIN_WRITE /* read + reposition and delete */

typedef struct ob_tokens ob_tokens_t;
typedef ob_rights_client_t ob_tokens_client_t; /* one client's entry */

/* Reads the tokens file at path (borrowed) with ob_file_read (capped at
   OB_GW_TOKENS_FILE_MAX) and parses it into a new table, *ret_tokens (the caller destroys
   it). Returns 0; -errno if the file cannot be read; OB_ERR_TOO_LARGE over the cap;
   OB_ERR_INVALID_ARGUMENT for a ZPL syntax error, an unknown item or key, a bad or duplicate
   name or hash, a bad pattern, too many clients or patterns, a bad admin value; -ENOMEM.
   On failure a one-line message naming path and the client is in errbuf (errlen bytes). */
int ob_tokens_load(const char *path, ob_tokens_t **ret_tokens, char *errbuf, size_t errlen);

/* The same from len bytes at text (borrowed, need not be NUL-terminated); name (borrowed)
   stands for the file in messages. A NUL byte in text is an error. */
int ob_tokens_load_text(const char *text, size_t len, const char *name, ob_tokens_t **ret_tokens,
                        char *errbuf, size_t errlen);

/* Destroys the table and its entries; sets *self_p to NULL; accepts NULL. */
void ob_tokens_destroy(ob_tokens_t **self_p);

/* Returns the number of clients in the table. */
size_t ob_tokens_size(const ob_tokens_t *self);

/* Returns the index-th client in file order (index < ob_tokens_size), or NULL past the end;
   borrowed, lives as long as the table. */
const ob_tokens_client_t *ob_tokens_client_at(const ob_tokens_t *self, size_t index);

/* Returns the client whose token is token (len bytes, borrowed, the text after "Bearer "),
   or NULL if no client has it or it is not a token (ob_token_valid). Borrowed from the
   table, lives as long as it. O(log n); the stored hashes are compared whole in constant
   time (see the top). */
const ob_tokens_client_t *ob_tokens_lookup(const ob_tokens_t *self, const char *token, size_t len);

/* Returns the client named name (NUL-terminated, borrowed), or NULL. Borrowed from the
   table. */
const ob_tokens_client_t *ob_tokens_find(const ob_tokens_t *self, const char *name);

/* Returns the entry's name (borrowed, lives as long as the table). */
const char *ob_tokens_client_name(const ob_tokens_client_t *client);

/* Returns the entry's admin level. */
ob_tokens_admin_t ob_tokens_client_admin(const ob_tokens_client_t *client);

/* Returns 1 if client may publish to topic (len bytes): a publish pattern matches it and it
   is not a dead-letter topic; else 0. */
int ob_tokens_may_publish(const ob_tokens_client_t *client, const char *topic, size_t len);

/* Returns 1 if one of client's subscribe patterns covers pattern (len bytes), else 0. */
int ob_tokens_may_subscribe(const ob_tokens_client_t *client, const char *pattern, size_t len);

/* Returns 1 if client may read stored events of topic (len bytes) by sequence number or
   time (the broker's FETCH): admin read or write and a subscribe pattern matching topic;
   else 0. */
int ob_tokens_may_read(const ob_tokens_client_t *client, const char *topic, size_t len);

/* Returns 1 if client's admin level is at least need, else 0. */
int ob_tokens_may_admin(const ob_tokens_client_t *client, ob_tokens_admin_t need);

/* Returns "none", "read" or "write". */
const char *ob_tokens_admin_name(ob_tokens_admin_t admin);

/* Returns 1 if name (NUL-terminated) is a valid client name: 1..OB_GW_CLIENT_NAME_MAX bytes
   of [a-z0-9_.-], else 0. */
int ob_tokens_name_valid(const char *name);

#endif
