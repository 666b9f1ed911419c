/*  ob_rights: a file of clients and their rights on the bus, loaded from ZPL. Two files have
    this format and differ only in how a client proves who it is: the broker's permissions
    file (broker/perms.h: a CURVE public key, `key`) and the gateway's tokens file
    (gateway/tokens.h: a bearer token's hash, `hash`):

        client = oms-7                # name: 1..OB_RIGHTS_NAME_MAX bytes [a-z0-9_.-], unique
            <id_key> = <identity>     # exactly one; unique in the file
            publish = mp.7            # a topic pattern (orderbus/pattern.h); may repeat
            subscribe = oms.7         # a topic pattern; may repeat
            admin = none              # none (default) | read | write

    The rules both apply (PROTOCOL.md 14.4): publish to topic T iff a publish pattern
    matches T; subscribe with P iff a subscribe pattern covers P; admin read: list topics
    and subscriptions, their figures, and read (FETCH) a topic a subscribe pattern matches;
    admin write: read plus reposition and delete subscriptions. What else a daemon refuses
    (dead-letter topics) is its own.

    The file is parsed with czmq's zconfig, which reports a syntax error through zsys with its
    line; everything after that is checked here and named by client (its name, or its number
    in the file when the name is the fault). A table is immutable once loaded: a reload builds
    a new one and the caller swaps it in. Nothing is logged here. */
#ifndef OB_RIGHTS_H
#define OB_RIGHTS_H

#include <stddef.h>

#define OB_RIGHTS_NAME_MAX 64 /* bytes of a client name */
#define OB_RIGHTS_ID_MAX 64   /* bytes of an identity (a Z85 key: 40; a hash in hex: 64) */
#define OB_RIGHTS_ERR_MAX 512 /* a useful size for a loader's message buffer */

typedef enum ob_rights_admin {
    OB_RIGHTS_ADMIN_NONE = 0, /* no admin operation */
    OB_RIGHTS_ADMIN_READ,     /* topics, subscriptions, figures, reading a topic */
    OB_RIGHTS_ADMIN_WRITE,    /* read + reposition and delete subscriptions */
} ob_rights_admin_t;

/* What tells one rights file from the other. */
typedef struct ob_rights_spec {
    const char *file;                   /* the file in messages: "permissions file" */
    const char *id_key;                 /* the identity's key: "key", "hash" */
    int (*id_valid)(const char *value); /* 1 if value is a valid identity, else 0 */
    const char *id_format;              /* what a valid identity is, for a refusal */
    int id_secret;                      /* 1: no message ever shows an identity */
    size_t file_max;                    /* bytes of the file */
    size_t clients_max;                 /* clients in the file */
    size_t patterns_max;                /* publish or subscribe patterns of one client */
} ob_rights_spec_t;

typedef struct ob_rights ob_rights_t;
typedef struct ob_rights_client ob_rights_client_t;

/* Reads the file at path (borrowed) with ob_file_read, capped at spec->file_max, into
   *ret_text (NUL-terminated, the caller frees it) and *ret_len. Returns 0, -errno,
   OB_ERR_TOO_LARGE or -ENOMEM, with a message naming path in errbuf (errlen bytes). */
int ob_rights_read(const ob_rights_spec_t *spec, const char *path, char **ret_text, size_t *ret_len,
                   char *errbuf, size_t errlen);

/* Parses len bytes at text (borrowed, need not be NUL-terminated) into a new table,
   *ret_rights (the caller destroys it); name (borrowed) stands for the file in messages and
   spec (borrowed) must outlive the table. Returns 0; OB_ERR_TOO_LARGE over spec->file_max;
   OB_ERR_INVALID_ARGUMENT for a NUL byte, a ZPL syntax error, an unknown item or key, a bad
   or duplicate name or identity, a missing identity, a bad pattern, too many clients or
   patterns, a bad admin value; -ENOMEM. On failure a one-line message naming the file and
   the client is in errbuf (errlen bytes). */
int ob_rights_load_text(const ob_rights_spec_t *spec, const char *text, size_t len,
                        const char *name, ob_rights_t **ret_rights, char *errbuf, size_t errlen);

/* Destroys the table and its entries; sets *self_p to NULL; accepts NULL. */
void ob_rights_destroy(ob_rights_t **self_p);

/* Returns the number of clients in the table (0 for NULL). */
size_t ob_rights_size(const ob_rights_t *self);

/* Returns the index-th client in file order, or NULL past the end; borrowed, lives as long
   as the table. */
const ob_rights_client_t *ob_rights_client_at(const ob_rights_t *self, size_t index);

/* Returns the client named name (NUL-terminated, borrowed), or NULL; borrowed. */
const ob_rights_client_t *ob_rights_find(const ob_rights_t *self, const char *name);

/* Returns the client whose identity is id (NUL-terminated, borrowed), or NULL; borrowed. A
   hash lookup: not for secret identities, whose caller compares in constant time. */
const ob_rights_client_t *ob_rights_find_id(const ob_rights_t *self, const char *id);

/* Returns the entry's name, or its identity as written in the file (borrowed, live as long
   as the table). */
const char *ob_rights_client_name(const ob_rights_client_t *client);
const char *ob_rights_client_id(const ob_rights_client_t *client);

/* Returns the entry's admin level. */
ob_rights_admin_t ob_rights_client_admin(const ob_rights_client_t *client);

/* Returns 1 if a publish pattern of client matches topic (len bytes), else 0. */
int ob_rights_may_publish(const ob_rights_client_t *client, const char *topic, size_t len);

/* Returns 1 if a subscribe pattern of client covers pattern (len bytes), else 0. */
int ob_rights_may_subscribe(const ob_rights_client_t *client, const char *pattern, size_t len);

/* Returns "none", "read" or "write". */
const char *ob_rights_admin_name(ob_rights_admin_t admin);

/* Returns 1 if name (NUL-terminated) is a valid client name: 1..OB_RIGHTS_NAME_MAX bytes of
   [a-z0-9_.-], else 0. */
int ob_rights_name_valid(const char *name);

#endif
