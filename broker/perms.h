/*  ob_perms: the broker's permissions table (proto/PROTOCOL.md 14.4), loaded from a ZPL file.

    One entry per client, found by the client's CURVE public key (Z85, 40 characters), which
    is the ZAP user id the broker sees on every message (auth.h):

        client = oms-7                        # name: 1..64 bytes [a-z0-9_.-], unique
            key = "<40-char Z85 public key>"  # unique; quoted (Z85 may contain '#')
            publish = mp.7                    # a topic pattern; the key may repeat
            subscribe = oms.7                 # a topic pattern; the key may repeat
            admin = none                      # none (default) | read | write

    The format, its checks and the rules are common/rights.h's (the identity key is `key`);
    the broker adds: dead-letter topics are refused to everyone elsewhere, whatever the
    patterns; attaching to an existing subscription needs the same pattern set
    (ob_subs_subscribe), so its patterns are the ones checked; HELLO, PING, ACK, NACK and
    UNSUBSCRIBE concern the client's own session and are always allowed. */
#ifndef OB_PERMS_H
#define OB_PERMS_H

#include <stddef.h>

#include "orderbus/limits.h"
#include "orderbus/wire.h"
#include "rights.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_PERMS_KEY_LEN 40                  /* Z85 characters of a CURVE public key */
#define OB_PERMS_NAME_MAX OB_RIGHTS_NAME_MAX /* bytes in a client name */
#define OB_PERMS_CLIENTS_MAX 100000          /* clients in one file */
#define OB_PERMS_PATTERNS_MAX 256            /* publish or subscribe patterns of one client */
#define OB_PERMS_FILE_MAX (16 << 20)         /* bytes in a permissions file */
#define OB_PERMS_ERR_MAX OB_RIGHTS_ERR_MAX   /* a useful size for errbuf */

typedef ob_rights_admin_t ob_perms_admin_t;
#define OB_PERMS_ADMIN_NONE OB_RIGHTS_ADMIN_NONE   /* no admin command */
#define OB_PERMS_ADMIN_READ OB_RIGHTS_ADMIN_READ   /* TOPICS, SUBS, SUB_INFO, FETCH */
#define OB_PERMS_ADMIN_WRITE OB_RIGHTS_ADMIN_WRITE /* read + SUB_REPOSITION, SUB_DELETE */

typedef ob_rights_t ob_perms_t;               /* the table */
typedef ob_rights_client_t ob_perms_client_t; /* one client's entry */

/* Parses the permissions file at path (borrowed) into a new table, *ret_perms (the caller
   destroys it). Returns 0; -errno if the file cannot be read; OB_ERR_TOO_LARGE over
   OB_PERMS_FILE_MAX; OB_ERR_INVALID_ARGUMENT for a syntax error, an unknown key, a bad or
   duplicate name or key, a bad pattern, too many clients or patterns, a bad admin value.
   On failure a one-line message naming path and the client is in errbuf (errlen bytes). */
int ob_perms_load(const char *path, ob_perms_t **ret_perms, char *errbuf, size_t errlen);

/* Reads the file at path (borrowed) into *ret_text (NUL-terminated, the caller frees it) and
   *ret_len, for loading it more than once (the broker gives the ZAP handler its own table,
   built from the same bytes). Returns 0, -errno or OB_ERR_TOO_LARGE, with a message. */
int ob_perms_read(const char *path, char **ret_text, size_t *ret_len, char *errbuf, size_t errlen);

/* The same from len bytes at text (borrowed, need not be NUL-terminated); name (borrowed)
   stands for the file in messages. A NUL byte in text is an error. */
int ob_perms_load_text(const char *text, size_t len, const char *name, ob_perms_t **ret_perms,
                       char *errbuf, size_t errlen);

/* Destroys the table and the entries it holds; sets *self_p to NULL; accepts NULL. */
void ob_perms_destroy(ob_perms_t **self_p);

/* Returns the number of clients in the table. */
size_t ob_perms_size(const ob_perms_t *self);

/* Returns the index-th client of the table in file order (index < ob_perms_size), or NULL
   past the end; borrowed, lives as long as the table. */
const ob_perms_client_t *ob_perms_client_at(const ob_perms_t *self, size_t index);

/* Returns the entry's public key (Z85, borrowed, lives as long as the table). */
const char *ob_perms_client_key(const ob_perms_client_t *client);

/* Returns the client whose public key is key (a Z85 string, borrowed), or NULL. The entry
   is borrowed from the table and lives as long as it. */
const ob_perms_client_t *ob_perms_lookup(const ob_perms_t *self, const char *key);

/* Returns the entry's name (borrowed, lives as long as the table). */
const char *ob_perms_client_name(const ob_perms_client_t *client);

/* Returns the entry's admin level. */
ob_perms_admin_t ob_perms_client_admin(const ob_perms_client_t *client);

/* Returns 1 if client may publish to topic (len bytes), else 0. */
int ob_perms_may_publish(const ob_perms_client_t *client, const char *topic, size_t len);

/* Returns 1 if one of client's subscribe patterns covers pattern (len bytes), else 0. */
int ob_perms_may_subscribe(const ob_perms_client_t *client, const char *pattern, size_t len);

/* Checks a decoded request (msg, borrowed) of client against the rules above; PUBLISH is
   checked on its topic with ob_perms_may_publish instead (its topic is in the event).
   Returns 0, or OB_ERR_FORBIDDEN with a reason naming the command and the pattern, topic
   or admin level written into reason (reason_len bytes). */
int ob_perms_check(const ob_perms_client_t *client, const ob_wire_msg_t *msg, char *reason,
                   size_t reason_len);

/* Returns "none", "read" or "write". */
const char *ob_perms_admin_name(ob_perms_admin_t admin);

/* Returns 1 if name (NUL-terminated) is a valid client name: 1..OB_PERMS_NAME_MAX bytes of
   [a-z0-9_.-]. */
int ob_perms_name_valid(const char *name);

/* Returns 1 if key (NUL-terminated) is a valid Z85 CURVE public key (40 characters). */
int ob_perms_key_valid(const char *key);

#ifdef __cplusplus
}
#endif
#endif
