/*  ob_options: see options.h. */
#include "options.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "orderbus/error.h"

#define S_COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define S_WHERE_MAX 64      /* bytes of a "section/key" or a flag named in a message */
#define S_SECTIONS_MAX 16   /* distinct sections a table may name */
#define S_INDENT "        " /* the help text under a flag */

/* Size units, largest first: the suffix (either case) and its power of 1024. */
static const struct {
    char suffix;    /* upper case */
    unsigned shift; /* the unit is 1 << shift bytes */
} s_size_units[] = {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}};

/* Duration units, largest first: the suffix (lowercase only: "M" would read as months) and
   its milliseconds. */
static const struct {
    const char *suffix; /* as written after the digits */
    uint64_t ms;        /* milliseconds in one unit */
} s_duration_units[] = {
    {"d", 24 * 3600 * 1000}, {"h", 3600 * 1000}, {"m", 60 * 1000}, {"s", 1000}, {"ms", 1}};

int
ob_options_fail(char *errbuf, size_t errlen, const char *format, ...)
{
    if (errbuf && errlen) {
        va_list args;
        va_start(args, format);
        vsnprintf(errbuf, errlen, format, args);
        va_end(args);
    }
    return OB_ERR_INVALID_ARGUMENT;
}

/* Parses the leading decimal digits of text into *ret_value and points *ret_end past them.
   No sign, no spaces. Returns 0, -1 (no digit) or -ERANGE (over UINT64_MAX). */
static int
s_parse_digits(const char *text, uint64_t *ret_value, const char **ret_end)
{
    if (!text || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *ret_value = (uint64_t)value;
    *ret_end = end;
    return 0;
}

int
ob_options_parse_number(const char *text, int suffix_ok, uint64_t *ret_value)
{
    uint64_t value = 0;
    const char *end = NULL;
    if (s_parse_digits(text, &value, &end))
        return -1;
    unsigned shift = 0;
    if (*end && suffix_ok) {
        size_t u = 0;
        while (u < S_COUNT(s_size_units) && s_size_units[u].suffix != toupper((unsigned char)*end))
            u++;
        if (u == S_COUNT(s_size_units))
            return -1;
        shift = s_size_units[u].shift;
        end++;
    }
    if (*end || value > UINT64_MAX >> shift)
        return -1;
    *ret_value = value << shift;
    return 0;
}

/* What s_parse_duration found wrong. */
#define S_DURATION_SYNTAX (-1)  /* not digits and a known unit */
#define S_DURATION_NO_UNIT (-2) /* digits alone, other than 0 */

/* Parses a duration: 0, or decimal digits and one unit of s_duration_units, into
   milliseconds. Returns 0, S_DURATION_SYNTAX, S_DURATION_NO_UNIT or -ERANGE (over
   UINT64_MAX milliseconds). */
static int
s_parse_duration(const char *text, uint64_t *ret_ms)
{
    const char *unit = text;
    while (*unit >= '0' && *unit <= '9')
        unit++;
    if (unit == text)
        return S_DURATION_SYNTAX;
    /* the unit is judged before the digits' overflow: "99999999999999999999x" is a typo */
    uint64_t value = 0;
    const char *end = NULL;
    int overflow = s_parse_digits(text, &value, &end) == -ERANGE;
    if (!*unit) {
        /* A bare number is refused because no unit is obvious (seconds? days?); 0 is 0 in
           every unit. */
        if (overflow || value)
            return S_DURATION_NO_UNIT;
        *ret_ms = 0;
        return 0;
    }
    for (size_t u = 0; u < S_COUNT(s_duration_units); u++) {
        if (strcmp(unit, s_duration_units[u].suffix))
            continue;
        if (overflow || value > UINT64_MAX / s_duration_units[u].ms)
            return -ERANGE;
        *ret_ms = value * s_duration_units[u].ms;
        return 0;
    }
    return S_DURATION_SYNTAX;
}

/* Parses a boolean: 0, 1, false, true. Returns 0 or -1. */
static int
s_parse_bool(const char *text, int *ret_value)
{
    if (!strcmp(text, "1") || !strcmp(text, "true")) {
        *ret_value = 1;
        return 0;
    }
    if (!strcmp(text, "0") || !strcmp(text, "false")) {
        *ret_value = 0;
        return 0;
    }
    return -1;
}

/* Writes a size the way the flags accept it: the largest exact K/M/G/T unit. */
static void
s_format_size(char *buf, size_t len, uint64_t value)
{
    for (size_t u = 0; u < S_COUNT(s_size_units); u++) {
        uint64_t unit = (uint64_t)1 << s_size_units[u].shift;
        if (value && value % unit == 0) {
            snprintf(buf, len, "%" PRIu64 "%c", value / unit, s_size_units[u].suffix);
            return;
        }
    }
    snprintf(buf, len, "%" PRIu64, value);
}

/* Writes a duration in milliseconds the way the flags accept it: the largest exact unit. */
static void
s_format_duration(char *buf, size_t len, uint64_t ms)
{
    for (size_t u = 0; ms && u < S_COUNT(s_duration_units); u++) {
        if (ms % s_duration_units[u].ms == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", ms / s_duration_units[u].ms,
                     s_duration_units[u].suffix);
            return;
        }
    }
    snprintf(buf, len, "0");
}

void
ob_options_format(ob_option_kind_t kind, uint64_t value, char *buf, size_t len)
{
    if (kind == OB_OPTION_SIZE)
        s_format_size(buf, len, value);
    else if (kind == OB_OPTION_DURATION)
        s_format_duration(buf, len, value);
    else
        snprintf(buf, len, "%" PRIu64, value);
}

uint64_t
ob_options_get(const ob_option_t *opt, const void *field)
{
    uint64_t number = 0;
    if (opt->kind == OB_OPTION_UINT) {
        unsigned value = 0;
        memcpy(&value, field, sizeof value);
        number = value;
    } else
        memcpy(&number, field, sizeof number);
    return number;
}

/* Says that value (text, borrowed) of opt is out of its range; where names it. Returns
   OB_ERR_INVALID_ARGUMENT. */
static int
s_range_fail(const ob_option_t *opt, const char *value, const char *where, char *errbuf,
             size_t errlen)
{
    char min[OB_OPTIONS_NUMBER_MAX], max[OB_OPTIONS_NUMBER_MAX];
    ob_options_format(opt->kind, opt->min, min, sizeof min);
    ob_options_format(opt->kind, opt->max, max, sizeof max);
    return ob_options_fail(errbuf, errlen, "%s: %s is out of range %s..%s", where, value, min, max);
}

int
ob_options_check(const ob_option_t *opt, const void *field, const char *where, char *errbuf,
                 size_t errlen)
{
    uint64_t number = ob_options_get(opt, field);
    if (number >= opt->min && number <= opt->max)
        return 0;
    char value[OB_OPTIONS_NUMBER_MAX];
    ob_options_format(opt->kind, number, value, sizeof value);
    return s_range_fail(opt, value, where, errbuf, errlen);
}

/* Returns 1 if opt is a row of spec's repeated section. */
static int
s_repeated(const ob_options_t *spec, const ob_option_t *opt)
{
    return spec->repeat && !strcmp(opt->section, spec->repeat->section);
}

int
ob_options_check_all(const ob_options_t *spec, const void *base, char *errbuf, size_t errlen)
{
    const ob_options_repeat_t *r = spec->repeat;
    for (size_t i = 0; i < spec->count; i++) {
        const ob_option_t *opt = &spec->table[i];
        if (opt->kind == OB_OPTION_STRING || opt->kind == OB_OPTION_OPTSTRING ||
            opt->kind == OB_OPTION_BOOL)
            continue;
        char where[S_WHERE_MAX];
        int rc = 0;
        if (!s_repeated(spec, opt)) {
            snprintf(where, sizeof where, "%s/%s", opt->section, opt->key);
            rc = ob_options_check(opt, (const char *)base + opt->offset, where, errbuf, errlen);
        }
        size_t used = 0;
        if (s_repeated(spec, opt))
            memcpy(&used, (const char *)base + r->count, sizeof used);
        for (size_t n = 0; !rc && n < used && n < r->max; n++) {
            snprintf(where, sizeof where, "%s %zu: %s", r->section, n + 1, opt->key);
            rc = ob_options_check(opt, (const char *)base + opt->offset + n * r->stride, where,
                                  errbuf, errlen);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int
ob_options_set(const ob_option_t *opt, void *field, const char *text, const char *where,
               char *errbuf, size_t errlen)
{
    uint64_t number = 0;
    int flag = 0;
    int rc = 0;

    switch (opt->kind) {
    case OB_OPTION_STRING:
    case OB_OPTION_OPTSTRING:
        if (!*text && opt->kind == OB_OPTION_STRING)
            return ob_options_fail(errbuf, errlen, "%s: empty value", where);
        if (strlen(text) >= opt->size)
            return ob_options_fail(errbuf, errlen, "%s: value longer than %zu bytes", where,
                                   opt->size - 1);
        memcpy(field, text, strlen(text) + 1);
        return 0;
    case OB_OPTION_SIZE:
    case OB_OPTION_UINT:
    case OB_OPTION_COUNT:
        if (ob_options_parse_number(text, opt->kind == OB_OPTION_SIZE, &number))
            return ob_options_fail(
                errbuf, errlen, "%s: '%s' is not a number%s", where, text,
                opt->kind == OB_OPTION_SIZE ? " (digits, then optionally K, M, G or T)" : "");
        break;
    case OB_OPTION_DURATION:
        rc = s_parse_duration(text, &number);
        if (rc == S_DURATION_NO_UNIT)
            return ob_options_fail(errbuf, errlen,
                                   "%s: '%s' has no unit: write ms, s, m, h or d after the digits "
                                   "(500ms, 30s, 15m, 12h, 7d); 0 alone means no limit",
                                   where, text);
        if (rc == S_DURATION_SYNTAX)
            return ob_options_fail(
                errbuf, errlen,
                "%s: '%s' is not a duration: digits and one of the units ms, s, m, h "
                "or d (500ms, 30s, 15m, 12h, 7d), or 0 for no limit",
                where, text);
        if (rc == -ERANGE)
            return s_range_fail(opt, text, where, errbuf, errlen);
        break;
    case OB_OPTION_BOOL:
        if (s_parse_bool(text, &flag))
            return ob_options_fail(errbuf, errlen, "%s: '%s' is not 0, 1, false or true", where,
                                   text);
        memcpy(field, &flag, sizeof flag);
        return 0;
    }
    /* a number: check its range as written, then store it in the field's type */
    if (number < opt->min || number > opt->max)
        return s_range_fail(opt, text, where, errbuf, errlen);
    if (opt->kind == OB_OPTION_UINT) {
        unsigned value = (unsigned)number; /* max is below UINT_MAX */
        memcpy(field, &value, sizeof value);
    } else
        memcpy(field, &number, sizeof number);
    return 0;
}

const ob_option_t *
ob_options_find_key(const ob_options_t *spec, const char *section, const char *key)
{
    for (size_t i = 0; i < spec->count; i++)
        if (!strcmp(spec->table[i].section, section) && !strcmp(spec->table[i].key, key))
            return &spec->table[i];
    return NULL;
}

const ob_option_t *
ob_options_find_flag(const ob_options_t *spec, const char *flag, size_t len)
{
    for (size_t i = 0; i < spec->count; i++)
        if (strlen(spec->table[i].flag) == len && !memcmp(spec->table[i].flag, flag, len))
            return &spec->table[i];
    return NULL;
}

int
ob_options_zpl_blank(const char *text, size_t len)
{
    int comment = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n')
            comment = 0;
        else if (text[i] == '#')
            comment = 1;
        else if (!comment && text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return 0;
    }
    return 1;
}

int
ob_options_load_item(const ob_options_t *spec, void *slot, size_t slot_offset, const char *section,
                     size_t index, zconfig_t *item, const char *path, char *errbuf, size_t errlen)
{
    const char *key = zconfig_name(item);
    const ob_option_t *opt = ob_options_find_key(spec, section, key);
    if (!opt)
        return ob_options_fail(errbuf, errlen, "config file %s: unknown key '%s/%s'", path, section,
                               key);
    if (zconfig_child(item))
        return ob_options_fail(errbuf, errlen, "config file %s: key '%s/%s' cannot have children",
                               path, section, key);
    char where[PATH_MAX + 2 * S_WHERE_MAX];
    if (index)
        snprintf(where, sizeof where, "config file %s: %s section %zu: key '%s/%s'", path, section,
                 index, section, key);
    else
        snprintf(where, sizeof where, "config file %s: key '%s/%s'", path, section, key);
    const char *value = zconfig_value(item);
    return ob_options_set(opt, (char *)slot + (opt->offset - slot_offset), value ? value : "",
                          where, errbuf, errlen);
}

/* Loads the items of section (named name; borrowed) into slot, as ob_options_load_item:
   index 0 for a section that does not repeat (the on_item hook first; slot is base), n >= 1
   for occurrence n of the repeated one (slot_offset the offset of its slot 0). */
static int
s_load_items(const ob_options_t *spec, void *slot, size_t slot_offset, zconfig_t *section,
             const char *name, size_t index, const char *path, char *errbuf, size_t errlen)
{
    const char *value = zconfig_value(section);
    if (value && *value)
        return ob_options_fail(errbuf, errlen, "config file %s: section '%s' cannot have a value",
                               path, name);
    for (zconfig_t *item = zconfig_child(section); item; item = zconfig_next(item)) {
        int rc = !index && spec->on_item
                     ? spec->on_item(spec->arg, slot, name, item, path, errbuf, errlen)
                     : OB_OPTIONS_NOT_MINE;
        if (rc == OB_OPTIONS_NOT_MINE)
            rc = ob_options_load_item(spec, slot, slot_offset, name, index, item, path, errbuf,
                                      errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int
ob_options_load_section(const ob_options_t *spec, void *base, zconfig_t *section, const char *name,
                        const char *path, char *errbuf, size_t errlen)
{
    return s_load_items(spec, base, 0, section, name, 0, path, errbuf, errlen);
}

/* Loads occurrence n (from 1) of the repeated section (borrowed) into its slot n - 1 of
   base, and raises the count of slots in use to n. */
static int
s_load_repeat(const ob_options_t *spec, void *base, zconfig_t *section, size_t n, const char *path,
              char *errbuf, size_t errlen)
{
    const ob_options_repeat_t *r = spec->repeat;
    if (n > r->max)
        return ob_options_fail(errbuf, errlen, "config file %s: more than %zu '%s' sections", path,
                               r->max, r->section);
    size_t used;
    memcpy(&used, (char *)base + r->count, sizeof used);
    if (used < n)
        memcpy((char *)base + r->count, &n, sizeof n);
    return s_load_items(spec, (char *)base + r->first + (n - 1) * r->stride, r->first, section,
                        r->section, n, path, errbuf, errlen);
}

int
ob_options_listen(const char *text, char *host, size_t host_size, uint16_t *ret_port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= host_size ||
        (size_t)(colon - text) >= INET_ADDRSTRLEN)
        return OB_ERR_INVALID_ARGUMENT;
    char address[INET_ADDRSTRLEN];
    memcpy(address, text, (size_t)(colon - text));
    address[colon - text] = '\0';
    struct in_addr addr;
    uint64_t port = 0;
    if (inet_pton(AF_INET, address, &addr) != 1 || ob_options_parse_number(colon + 1, 0, &port) ||
        port > UINT16_MAX)
        return OB_ERR_INVALID_ARGUMENT;
    memcpy(host, address, strlen(address) + 1);
    *ret_port = (uint16_t)port;
    return 0;
}

/* Collects the distinct sections of spec's table, in table order, into sections (at most
   S_SECTIONS_MAX). Returns how many. */
static size_t
s_sections(const ob_options_t *spec, const char *sections[S_SECTIONS_MAX])
{
    size_t count = 0;
    for (size_t i = 0; i < spec->count; i++) {
        size_t s = 0;
        while (s < count && strcmp(sections[s], spec->table[i].section))
            s++;
        if (s == count && count < S_SECTIONS_MAX)
            sections[count++] = spec->table[i].section;
    }
    return count;
}

/* Says that section name of path is unknown, listing the known ones: "'a', 'b' or 'c'". */
static int
s_unknown_section(const ob_options_t *spec, const char *name, const char *path, char *errbuf,
                  size_t errlen)
{
    const char *sections[S_SECTIONS_MAX];
    size_t count = s_sections(spec, sections);
    char list[S_SECTIONS_MAX * S_WHERE_MAX] = "";
    size_t used = 0;
    for (size_t s = 0; s < count && used < sizeof list; s++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s'%s'",
                                 s == 0           ? ""
                                 : s + 1 == count ? " or "
                                                  : ", ",
                                 sections[s]);
    return ob_options_fail(errbuf, errlen,
                           "config file %s: unknown section '%s' (settings belong in %s)", path,
                           name, list);
}

int
ob_options_load_file(const ob_options_t *spec, void *base, const char *path, char *errbuf,
                     size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    zconfig_t *root = NULL;
    int rc = ob_file_read(path, spec->file_max, &text, &len);
    if (rc) {
        char reason[S_WHERE_MAX];
        if (rc == OB_ERR_TOO_LARGE)
            snprintf(reason, sizeof reason, "larger than %zu bytes", spec->file_max);
        else
            snprintf(reason, sizeof reason, "%s", ob_strerror(rc));
        return ob_options_fail(errbuf, errlen, "cannot read config file %s: %s", path, reason);
    }
    if (ob_options_zpl_blank(text, len))
        goto fail; /* rc == 0: an empty file changes nothing (zconfig refuses it) */
    root = zconfig_str_load(text);
    if (!root) {
        /* zconfig logged the line and the reason through zsys_error */
        rc = ob_options_fail(errbuf, errlen,
                             "config file %s: ZPL syntax error (see the line logged above)", path);
        goto fail;
    }
    size_t repeats = 0; /* occurrences of spec->repeat's section so far */
    for (zconfig_t *section = zconfig_child(root); section; section = zconfig_next(section)) {
        const char *name = zconfig_name(section);
        size_t i = 0;
        while (i < spec->count && strcmp(spec->table[i].section, name))
            i++;
        if (i == spec->count) {
            rc = s_unknown_section(spec, name, path, errbuf, errlen);
            goto fail;
        }
        if (spec->on_section &&
            (rc = spec->on_section(spec->arg, base, name, path, errbuf, errlen)))
            goto fail;
        if (spec->repeat && !strcmp(name, spec->repeat->section))
            rc = s_load_repeat(spec, base, section, ++repeats, path, errbuf, errlen);
        else
            rc = ob_options_load_section(spec, base, section, name, path, errbuf, errlen);
        if (rc)
            goto fail;
    }
fail:
    zconfig_destroy(&root);
    free(text);
    return rc;
}

/* Returns 1 if the len bytes at arg are the string flag. */
static int
s_is(const char *arg, size_t len, const char *flag)
{
    return len == strlen(flag) && !memcmp(arg, flag, len);
}

/* Returns 1 if flag (len bytes) is followed by a value, else 0 (unknown flags included,
   which are refused elsewhere). */
static int
s_takes_value(const ob_options_t *spec, const char *flag, size_t len)
{
    if (s_is(flag, len, OB_OPTIONS_FLAG_CONFIG))
        return 1;
    const ob_option_t *opt = ob_options_find_flag(spec, flag, len);
    return opt && opt->kind != OB_OPTION_BOOL;
}

/* Splits argv[*index] into a flag and its value: "--flag=value", or "--flag" and (if it
   takes a value) the next argument, advancing *index past what it used. *ret_flag_len is
   the flag's length. Returns 0, or OB_ERR_INVALID_ARGUMENT if a value is missing or given
   to a flag that takes none. */
static int
s_split(const ob_options_t *spec, int argc, char **argv, int *index, size_t *ret_flag_len,
        const char **ret_value, char *errbuf, size_t errlen)
{
    const char *arg = argv[*index];
    const char *eq = strchr(arg, '=');
    size_t flag_len = eq ? (size_t)(eq - arg) : strlen(arg);
    int wants = s_takes_value(spec, arg, flag_len);
    const char *value = NULL;

    if (eq) {
        if (!wants)
            return ob_options_fail(errbuf, errlen, "%.*s takes no value", (int)flag_len, arg);
        value = eq + 1;
    } else if (wants) {
        if (*index + 1 >= argc)
            return ob_options_fail(errbuf, errlen, "%s needs a value", arg);
        value = argv[++*index];
    }
    (*index)++;
    *ret_flag_len = flag_len;
    *ret_value = value;
    return 0;
}

int
ob_options_scan_args(const ob_options_t *spec, int argc, char **argv, int *ret_help,
                     int *ret_version, const char **ret_config, char *errbuf, size_t errlen)
{
    int rc = 0;
    *ret_help = 0;
    *ret_version = 0;
    *ret_config = NULL;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        size_t len = 0;
        const char *value = NULL;
        if (arg[0] != '-')
            return ob_options_fail(errbuf, errlen, "unexpected argument '%s' (see --help)", arg);
        const char *eq = strchr(arg, '=');
        len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (!ob_options_find_flag(spec, arg, len) && !s_is(arg, len, OB_OPTIONS_FLAG_CONFIG) &&
            !s_is(arg, len, OB_OPTIONS_FLAG_HELP) && !s_is(arg, len, OB_OPTIONS_FLAG_HELP_SHORT) &&
            !s_is(arg, len, OB_OPTIONS_FLAG_VERSION))
            return ob_options_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len,
                                   arg);
        if ((rc = s_split(spec, argc, argv, &i, &len, &value, errbuf, errlen)))
            return rc;
        if (s_is(arg, len, OB_OPTIONS_FLAG_HELP) || s_is(arg, len, OB_OPTIONS_FLAG_HELP_SHORT)) {
            *ret_help = 1;
            return 0;
        }
        if (s_is(arg, len, OB_OPTIONS_FLAG_VERSION)) {
            *ret_version = 1;
            return 0;
        }
        if (s_is(arg, len, OB_OPTIONS_FLAG_CONFIG))
            *ret_config = value;
    }
    return 0;
}

int
ob_options_apply_args(const ob_options_t *spec, void *base, int argc, char **argv, char *errbuf,
                      size_t errlen)
{
    int rc = 0;
    for (int i = 1; i < argc;) {
        const char *arg = argv[i];
        size_t len = 0;
        const char *value = NULL;
        if ((rc = s_split(spec, argc, argv, &i, &len, &value, errbuf, errlen)))
            return rc;
        if (s_is(arg, len, OB_OPTIONS_FLAG_CONFIG))
            continue;
        const ob_option_t *opt = ob_options_find_flag(spec, arg, len);
        if (!opt)
            return ob_options_fail(errbuf, errlen, "unknown flag '%.*s' (see --help)", (int)len,
                                   arg);
        if ((rc = ob_options_set(opt, (char *)base + opt->offset,
                                 opt->kind == OB_OPTION_BOOL ? "1" : value, opt->flag, errbuf,
                                 errlen)))
            return rc;
    }
    return 0;
}

int
ob_options_parse(const ob_options_t *spec, void *base, int argc, char **argv, int *ret_help,
                 int *ret_version, char *config_file, size_t config_file_size, char *errbuf,
                 size_t errlen)
{
    const char *file = NULL;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (config_file_size)
        config_file[0] = '\0';
    int rc = ob_options_scan_args(spec, argc, argv, ret_help, ret_version, &file, errbuf, errlen);
    if (rc || *ret_help || *ret_version)
        return rc;
    if (file) {
        if (strlen(file) >= config_file_size)
            return ob_options_fail(errbuf, errlen, "config file name too long");
        snprintf(config_file, config_file_size, "%s", file);
        if ((rc = ob_options_load_file(spec, base, file, errbuf, errlen)))
            return rc;
    }
    return ob_options_apply_args(spec, base, argc, argv, errbuf, errlen);
}

/* The word for an option's value in the usage text. */
static const char *
s_metavar(ob_option_kind_t kind)
{
    switch (kind) {
    case OB_OPTION_STRING:
    case OB_OPTION_OPTSTRING:
        return " VALUE";
    case OB_OPTION_SIZE:
        return " SIZE";
    case OB_OPTION_DURATION:
        return " DURATION";
    case OB_OPTION_UINT:
    case OB_OPTION_COUNT:
        return " N";
    case OB_OPTION_BOOL:
        break;
    }
    return "";
}

void
ob_options_print(FILE *out, const ob_options_t *spec, const void *defaults)
{
    for (size_t i = 0; i < spec->count; i++) {
        const ob_option_t *opt = &spec->table[i];
        const char *field = (const char *)defaults + opt->offset;
        char value[PATH_MAX];
        int flag = 0;
        if (opt->kind == OB_OPTION_STRING)
            snprintf(value, sizeof value, "%s", *field ? field : "none");
        else if (opt->kind == OB_OPTION_OPTSTRING)
            snprintf(value, sizeof value, "%s", *field ? field : "off");
        else if (opt->kind == OB_OPTION_BOOL) {
            memcpy(&flag, field, sizeof flag);
            snprintf(value, sizeof value, "%s", flag ? "on" : "off");
        } else {
            uint64_t number = ob_options_get(opt, field);
            ob_options_format(opt->kind, number, value, sizeof value);
            if (!number && !opt->min && opt->kind != OB_OPTION_UINT)
                snprintf(value, sizeof value, "0 (no limit)");
        }
        fprintf(out, "    %s%s\n" S_INDENT, opt->flag, s_metavar(opt->kind));
        for (const char *c = opt->help; *c; c++) {
            fputc(*c, out);
            if (*c == '\n')
                fputs(S_INDENT, out);
        }
        fprintf(out, "\n" S_INDENT "Default: %s. Config key: %s/%s", value, opt->section, opt->key);
        if (opt->kind == OB_OPTION_BOOL)
            fputs(" = 0|1", out);
        fputs(".\n\n", out);
    }
}
