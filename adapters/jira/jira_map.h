/*  ob_jira_map: orderbus-jira's Marketplace-to-Jira id map, in its own LMDB (one process
    per data directory: common/mdb.h's lock). Keys and values are short texts:
        p/<project>            the epic's key, a newline, the project owner's name
        i/<project>/<item>     the item issue's key
        m/<message>            the comment's id, a newline, its issue's key
        c/<command id>         the failure comment of a command, likewise
        j/<comment id>         the Marketplace message a person's Jira comment became
        e/<comment id>         "1": the comment was edited before j/ was known ("" once sent)
    The map is a cache of what Jira holds: every create is preceded by a search in Jira
    (labels, comment marks), so a map that lost its last write (a kill -9 between Jira's
    answer and the commit) is completed from Jira, never by a second create. The engine
    writes it; the HTTP server's thread reads j/ keys and writes e/ keys: each call holds a
    mutex. */
#ifndef OB_JIRA_MAP_H
#define OB_JIRA_MAP_H

#include <stddef.h>

#include "jira_limits.h"

typedef struct ob_jira_map ob_jira_map_t;

/* Opens (creating) the map in dir (borrowed; made 0700 if absent) and takes its lock.
   *ret_map is the caller's (ob_jira_map_close). Returns 0, -EBUSY (another process holds
   the directory), -errno or OB_ERR_STORAGE. */
int ob_jira_map_open(const char *dir, ob_jira_map_t **ret_map);

/* Closes the map and releases the lock; accepts NULL. */
void ob_jira_map_close(ob_jira_map_t **self_p);

/* Copies the value of key (borrowed) into value (OB_JIRA_MAP_VALUE_MAX bytes, with its NUL).
   Returns 0, -ENOENT (absent) or OB_ERR_STORAGE. */
int ob_jira_map_get(ob_jira_map_t *self, const char *key, char value[OB_JIRA_MAP_VALUE_MAX]);

/* Sets key to value (both borrowed; value shorter than OB_JIRA_MAP_VALUE_MAX), committed
   before it returns; grows the map when full. Returns 0, OB_ERR_TOO_LARGE or
   OB_ERR_STORAGE. */
int ob_jira_map_put(ob_jira_map_t *self, const char *key, const char *value);

#endif
