/*  ob_options: one table gives a daemon's settings: the keys of its ZPL configuration file
    (czmq zconfig), its command-line flags and its --help text, so that the three cannot
    disagree about what exists. The daemon keeps its table (an array of ob_option_t over the
    fields of its configuration struct) and what is specific to it (cross-field checks,
    children of a section such as the broker's retention rules); this class does the rest:
    value parsing with range checks, the ZPL walk, the flags, the help text, the messages.

    Values, by kind (every number without sign, spaces or overflow):
        STRING    text into a char array of `size` bytes; empty is refused
        OPTSTRING the same, but empty is a value (it turns something off; --help says "off")
        SIZE      uint64_t, digits and an optional K, M, G or T (either case, powers of 1024)
        UINT      unsigned, digits
        COUNT     uint64_t, digits
        DURATION  uint64_t milliseconds: 0, or digits and one of ms, s, m, h, d (lowercase:
                  "M" would read as months); a bare number other than 0 is refused, as no unit
                  is obvious
        BOOL      int: 0, 1, false or true in a file; as a flag it takes no value and sets 1
    Numbers must lie in [min, max]. In --help, a SIZE, COUNT or DURATION option whose range
    starts at 0 shows a default of 0 as "0 (no limit)".

    Flags: "--flag VALUE" or "--flag=VALUE"; besides the table's, --config FILE, --help (-h)
    and --version. Messages are one line without a newline, written into the caller's errbuf
    (errlen bytes, may be 0), naming the flag or the file, section and key. Nothing is
    logged here, except that zconfig logs a ZPL syntax error's line through zsys_error. */
#ifndef OB_OPTIONS_H
#define OB_OPTIONS_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OB_OPTIONS_ERR_MAX 512   /* a useful size for the errbuf arguments */
#define OB_OPTIONS_NUMBER_MAX 32 /* bytes of a number as ob_options_format writes it */
#define OB_OPTIONS_NOT_MINE 1    /* an ob_options_item_fn leaves the item to the table */
#define OB_OPTIONS_FLAG_CONFIG "--config"
#define OB_OPTIONS_FLAG_HELP "--help"
#define OB_OPTIONS_FLAG_HELP_SHORT "-h"
#define OB_OPTIONS_FLAG_VERSION "--version"

typedef enum ob_option_kind {
    OB_OPTION_STRING,    /* char array of `size` bytes */
    OB_OPTION_OPTSTRING, /* the same, and empty is accepted (off) */
    OB_OPTION_SIZE,      /* uint64_t, accepts a K, M, G or T suffix (powers of 1024) */
    OB_OPTION_UINT,      /* unsigned, plain decimal */
    OB_OPTION_COUNT,     /* uint64_t, plain decimal */
    OB_OPTION_DURATION,  /* uint64_t milliseconds, written with a unit: ms, s, m, h or d */
    OB_OPTION_BOOL,      /* int 0/1; as a flag it takes no value and sets 1 */
} ob_option_kind_t;

/* One setting: a row of a daemon's table. */
typedef struct ob_option {
    const char *section;   /* file section */
    const char *key;       /* key in that section */
    const char *flag;      /* command-line flag, "--name" */
    ob_option_kind_t kind; /* how the value is parsed */
    size_t offset;         /* field in the daemon's configuration struct */
    size_t size;           /* OB_OPTION_[OPT]STRING: size of the field, with its NUL */
    uint64_t min;          /* numbers: smallest value */
    uint64_t max;          /* numbers: largest value (UINT: at most UINT_MAX) */
    const char *help;      /* --help text, lines split by \n, without the default */
} ob_option_t;

/* Called at the start of each section of a file, before its items, with the configuration
   struct base and the section's name (borrowed): for a daemon's own rules (a section that
   may appear once, state to reset). Returns 0 or an error with a message in errbuf. */
typedef int(ob_options_section_fn)(void *arg, void *base, const char *section, const char *path,
                                   char *errbuf, size_t errlen);

/* Called for each item of a section before the table is: returns 0 if it took the item (a
   child with keys of its own, such as the broker's retention rules), OB_OPTIONS_NOT_MINE to
   leave it to the table, or an error with a message in errbuf. */
typedef int(ob_options_item_fn)(void *arg, void *base, const char *section, zconfig_t *item,
                                const char *path, char *errbuf, size_t errlen);

/* A section that may repeat in a file (the gateway's `oms`, the webhook adapter's `target`,
   the Jira adapter's `status`): its rows in the table describe slot 0 of an array of slots
   in the configuration struct (where the flags write and --help reads the defaults); each
   occurrence of the section in a file is the next slot, and the count of slots in use is
   raised to it. */
typedef struct ob_options_repeat {
    const char *section; /* the section's name, as in its rows */
    size_t first;        /* offset of slot 0 in the configuration struct */
    size_t stride;       /* bytes from one slot to the next */
    size_t max;          /* slots in the array */
    size_t count;        /* offset of the size_t that counts the slots in use */
} ob_options_repeat_t;

/* A daemon's options: its table and hooks. */
typedef struct ob_options {
    const ob_option_t *table;          /* the settings */
    size_t count;                      /* rows in table */
    size_t file_max;                   /* largest configuration file, in bytes */
    ob_options_section_fn *on_section; /* may be NULL */
    ob_options_item_fn *on_item;       /* may be NULL */
    void *arg;                         /* the hooks' first argument */
    const ob_options_repeat_t *repeat; /* a repeated section, or NULL */
} ob_options_t;

/* Writes a formatted message into errbuf (errlen bytes, may be 0) and returns
   OB_ERR_INVALID_ARGUMENT, so that a parser can `return ob_options_fail(...)`. */
int ob_options_fail(char *errbuf, size_t errlen, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses decimal digits with, if suffix_ok, one K/M/G/T suffix (either case) into
 *ret_value. Returns 0 or -1 (no digits, another character, overflow). */
int ob_options_parse_number(const char *text, int suffix_ok, uint64_t *ret_value);

/* Writes value of kind (a number kind) into buf (len bytes) the way the flags accept it: a
   SIZE with its largest exact unit, a DURATION with its largest exact unit. */
void ob_options_format(ob_option_kind_t kind, uint64_t value, char *buf, size_t len);

/* Returns the number held at field (borrowed), the field of opt (a number kind). */
uint64_t ob_options_get(const ob_option_t *opt, const void *field);

/* Sets field (opt's field, in the caller's struct) from text (borrowed); where (borrowed)
   names the value's origin for the message ("--map-size", "config file F: key 'a/b'").
   The field is written only on success. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
int ob_options_set(const ob_option_t *opt, void *field, const char *text, const char *where,
                   char *errbuf, size_t errlen);

/* Checks that the number at field (opt's, a number kind) is in opt's range, for a struct a
   caller filled directly; where names it. Returns 0 or OB_ERR_INVALID_ARGUMENT. */
int ob_options_check(const ob_option_t *opt, const void *field, const char *where, char *errbuf,
                     size_t errlen);

/* Checks every number option of spec in base (the configuration struct, borrowed), each named
   "section/key" in a message; the rows of spec's repeated section in each slot in use, named
   "SECTION n: key". Returns 0 or OB_ERR_INVALID_ARGUMENT. */
int ob_options_check_all(const ob_options_t *spec, const void *base, char *errbuf, size_t errlen);

/* Returns the row of spec whose file key is key in section (both borrowed), or NULL. */
const ob_option_t *ob_options_find_key(const ob_options_t *spec, const char *section,
                                       const char *key);

/* Returns the row of spec whose flag is the len bytes at flag, or NULL. */
const ob_option_t *ob_options_find_flag(const ob_options_t *spec, const char *flag, size_t len);

/* Returns 1 if the len bytes at text hold nothing but blank lines and # comments (zconfig
   refuses such a text, which should change nothing), else 0. */
int ob_options_zpl_blank(const char *text, size_t len);

/* Applies the items of section (a child of a ZPL root named name; borrowed) to base: the
   on_item hook first, then the table. path names the file in messages. Returns 0 or
   OB_ERR_INVALID_ARGUMENT (an unknown key, a key with children, a bad value), or the hook's
   error. */
int ob_options_load_section(const ob_options_t *spec, void *base, zconfig_t *section,
                            const char *name, const char *path, char *errbuf, size_t errlen);

/* Applies one item (borrowed) of a file's section: its row of spec (by key), which must exist
   and have no children, sets the field at slot + opt->offset - slot_offset, so that a
   section that repeats (the gateway's oms, the webhook adapter's target) writes its own slot
   of an array whose rows describe slot 0 (slot_offset: the offset of slot 0 in the
   configuration struct; 0 and base for a section that does not repeat). index 0 names the
   item "config file PATH: key 'SECTION/KEY'" in a message, index n >= 1 "config file PATH:
   SECTION section n: key 'SECTION/KEY'". Returns 0 or OB_ERR_INVALID_ARGUMENT. */
int ob_options_load_item(const ob_options_t *spec, void *slot, size_t slot_offset,
                         const char *section, size_t index, zconfig_t *item, const char *path,
                         char *errbuf, size_t errlen);

/* Splits a listen address, text (borrowed) "IPV4:PORT", into host (a dotted IPv4 address,
   host_size bytes with its NUL) and *ret_port (0..65535). Returns 0 or
   OB_ERR_INVALID_ARGUMENT; nothing is written on failure. */
int ob_options_listen(const char *text, char *host, size_t host_size, uint16_t *ret_port);

/* Loads the ZPL file at path (borrowed; at most spec->file_max bytes) over base: every
   section must be one of the table's, each goes through on_section and then
   ob_options_load_section, but spec's repeated section (if any), whose occurrence n (from 1)
   goes into slot n - 1 (ob_options_load_item; more than max of them is an error) and raises
   the slot count to n. A blank file changes nothing. Returns 0 or
   OB_ERR_INVALID_ARGUMENT (unreadable, too large, a syntax error, an unknown section, or
   any error of the above). */
int ob_options_load_file(const ob_options_t *spec, void *base, const char *path, char *errbuf,
                         size_t errlen);

/* Pass 1 over argv (borrowed; argv[0] is the program): checks that every argument is a known
   flag, finds --help/-h (*ret_help = 1, and nothing more is looked at), --version
   (*ret_version = 1, likewise) and --config FILE (*ret_config = FILE, borrowed from argv, or
   NULL). *ret_help and *ret_version are written always, 0 if absent. Returns 0 or
   OB_ERR_INVALID_ARGUMENT (a positional argument, an unknown flag, a value missing or given
   to a flag that takes none). */
int ob_options_scan_args(const ob_options_t *spec, int argc, char **argv, int *ret_help,
                         int *ret_version, const char **ret_config, char *errbuf, size_t errlen);

/* Pass 2: applies every table flag of argv to base, in order (the last wins), skipping
   --config. Call after ob_options_scan_args accepted argv and the file is loaded. Returns 0
   or OB_ERR_INVALID_ARGUMENT. */
int ob_options_apply_args(const ob_options_t *spec, void *base, int argc, char **argv, char *errbuf,
                          size_t errlen);

/* A daemon's whole command line over base (its defaults already in it): pass 1
   (ob_options_scan_args; *ret_help and *ret_version written always), then, unless --help or
   --version, the file --config names (its name copied into config_file, config_file_size
   bytes with the NUL, "" if none; ob_options_load_file), then pass 2
   (ob_options_apply_args): the flags win over the file. Returns 0 or
   OB_ERR_INVALID_ARGUMENT (the message in errbuf). */
int ob_options_parse(const ob_options_t *spec, void *base, int argc, char **argv, int *ret_help,
                     int *ret_version, char *config_file, size_t config_file_size, char *errbuf,
                     size_t errlen);

/* Writes the --help entry of every option of spec to out: its flag and value word, its help
   text, its default (read in defaults, the configuration struct with its defaults) and its
   file key, indented for an OPTIONS section of a man-page-like text. */
void ob_options_print(FILE *out, const ob_options_t *spec, const void *defaults);

#ifdef __cplusplus
}
#endif
#endif
