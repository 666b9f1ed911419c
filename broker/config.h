/*  ob_config: the broker's configuration: defaults, a ZPL file, then command-line flags.

    Precedence, lowest first: the defaults (limits.h), the file named by --config (section
    `broker/`, parsed with czmq's zconfig), the flags. Every value is validated with a message
    that names the key or flag and says what is wrong; nothing is logged here (main prints).

    Security by default: there is no authentication yet, so an endpoint that is reachable from
    another machine (anything but tcp://127.0.0.1, tcp://[::1], tcp://localhost, ipc://,
    inproc://) is refused unless allow_remote is set. */
#ifndef OB_CONFIG_H
#define OB_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderbus/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_CONFIG_ENDPOINT_MAX 255          /* bytes in an endpoint */
#define OB_CONFIG_PATH_MAX PATH_MAX         /* bytes in a path, with its NUL */
#define OB_CONFIG_MAP_SIZE_MAX (1ull << 40) /* largest initial map size (1 TiB) */
#define OB_CONFIG_EVENT_MIN 64              /* smallest max_event_bytes: below this no */
                                            /* real event fits, surely a missing suffix */
#define OB_CONFIG_FILE_MAX (1024 * 1024)    /* bytes in a config file */
#define OB_CONFIG_ERR_MAX 512               /* a useful size for the errbuf argument */

typedef struct ob_config {
    char endpoint[OB_CONFIG_ENDPOINT_MAX + 1]; /* ZeroMQ endpoint the ROUTER binds */
    char data_dir[OB_CONFIG_PATH_MAX];         /* LMDB environment directory (created 0700) */
    char config_file[OB_CONFIG_PATH_MAX];      /* the file loaded, "" if none */
    uint64_t map_size;                         /* initial LMDB map size; it grows on demand */
    uint64_t max_event_bytes;                  /* largest event frame accepted */
    unsigned batch_max;                        /* publishes in one group commit */
    int verbose;                               /* 1: log every refused message (zsys_debug) */
    int allow_remote;                          /* 1: a non-loopback endpoint is allowed */
    int help;                                  /* 1: --help was given; nothing else parsed */
    int version;                               /* 1: --version was given */
} ob_config_t;

/* Fills *cfg with the defaults of limits.h (borrowed, overwritten). */
void ob_config_defaults(ob_config_t *cfg);

/* Parses argv (borrowed; argv[0] is the program name) into *cfg: defaults, then the file of
   --config FILE if given, then the other flags, then validation of the whole. Flags take
   "--flag VALUE" or "--flag=VALUE". With --help or --version, sets cfg->help or
   cfg->version and returns 0 at once. On failure writes a one-line message (no newline) into
   errbuf (errlen bytes, may be 0) and returns OB_ERR_INVALID_ARGUMENT; *cfg then holds a mix
   of values and must not be used. */
int ob_config_parse(ob_config_t *cfg, int argc, char **argv, char *errbuf, size_t errlen);

/* Loads the ZPL file at path (borrowed) over *cfg, without the final validation that
   ob_config_parse does. Returns 0 or OB_ERR_INVALID_ARGUMENT with a message in errbuf (an
   unreadable file, a syntax error, an unknown section or key, a bad value). */
int ob_config_load(ob_config_t *cfg, const char *path, char *errbuf, size_t errlen);

/* Checks the whole of *cfg (ranges, the loopback rule). Returns 0 or OB_ERR_INVALID_ARGUMENT
   with a message in errbuf. */
int ob_config_validate(const ob_config_t *cfg, char *errbuf, size_t errlen);

/* Returns 1 if endpoint (borrowed) can only be reached from this machine, else 0. */
int ob_config_endpoint_local(const char *endpoint);

/* Writes the man-page-like usage (every flag, its default, the config file keys) to out. */
void ob_config_usage(FILE *out, const char *prog);

#ifdef __cplusplus
}
#endif
#endif
