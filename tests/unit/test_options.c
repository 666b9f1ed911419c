/*  test_options: common/options.h through a small table of every kind over a struct of the
    test's own, as a daemon would use it: values and their errors, ranges, the ZPL file with
    the hooks, the two passes over flags, and the exact --help entries. */
#include <czmq.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "options.h"
#include "orderbus/error.h"

#define T_FILE_MAX 256 /* the table's file cap */

typedef struct t_cfg {
    char name[8];     /* STRING */
    uint64_t size;    /* SIZE */
    unsigned workers; /* UINT */
    uint64_t events;  /* COUNT */
    uint64_t timeout; /* DURATION */
    int verbose;      /* BOOL */
    int children;     /* items the on_item hook took */
    int sections;     /* sections the on_section hook saw */
} t_cfg_t;

#define T_FIELD(name) offsetof(t_cfg_t, name), sizeof(((t_cfg_t *)0)->name)

static const ob_option_t s_table[] = {
    {"main", "name", "--name", OB_OPTION_STRING, T_FIELD(name), 0, 0, "The name."},
    {"main", "size", "--size", OB_OPTION_SIZE, T_FIELD(size), 1024, 1ull << 30,
     "A size.\nTwo lines."},
    {"main", "workers", "--workers", OB_OPTION_UINT, T_FIELD(workers), 1, 64, "Workers."},
    {"limits", "events", "--events", OB_OPTION_COUNT, T_FIELD(events), 0, 1000, "Events."},
    {"limits", "timeout", "--timeout", OB_OPTION_DURATION, T_FIELD(timeout), 0,
     7ull * 24 * 3600 * 1000, "A timeout."},
    {"main", "verbose", "--verbose", OB_OPTION_BOOL, T_FIELD(verbose), 0, 1, "Chatty."},
};

/* on_item: takes "limits/child" items. */
static int
s_on_item(void *arg, void *base, const char *section, zconfig_t *item, const char *path,
          char *errbuf, size_t errlen)
{
    (void)arg;
    if (strcmp(section, "limits") || strcmp(zconfig_name(item), "child"))
        return OB_OPTIONS_NOT_MINE;
    if (zconfig_value(item) && !strcmp(zconfig_value(item), "bad"))
        return ob_options_fail(errbuf, errlen, "%s: a bad child", path);
    ((t_cfg_t *)base)->children++;
    return 0;
}

/* on_section: counts sections, refuses a second "limits". */
static int
s_on_section(void *arg, void *base, const char *section, const char *path, char *errbuf,
             size_t errlen)
{
    int *limits_seen = arg;
    t_cfg_t *cfg = base;
    cfg->sections++;
    if (!strcmp(section, "limits") && (*limits_seen)++)
        return ob_options_fail(errbuf, errlen, "%s: limits twice", path);
    return 0;
}

static int s_limits_seen; /* s_on_section's state */

static const ob_options_t s_spec = {.table = s_table,
                                    .count = sizeof s_table / sizeof s_table[0],
                                    .file_max = T_FILE_MAX,
                                    .on_section = s_on_section,
                                    .on_item = s_on_item,
                                    .arg = &s_limits_seen};

static char s_path[] = "/tmp/ob-test-options-XXXXXX"; /* the file of the file tests */

/* Defaults of the table's struct. */
static void
s_defaults(t_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->name, sizeof cfg->name, "x");
    cfg->size = 4096;
    cfg->workers = 2;
    cfg->timeout = 30000;
}

/* Writes text to s_path. */
static void
s_write(const char *text)
{
    FILE *file = fopen(s_path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static int
s_setup(void **state)
{
    (void)state;
    int fd = mkstemp(s_path);
    if (fd < 0)
        return -1;
    close(fd);
    zsys_init();
    zsys_set_logstream(NULL); /* zconfig's syntax errors are expected here */
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    return unlink(s_path);
}

static void
test_numbers(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(ob_options_parse_number("42", 0, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(ob_options_parse_number("2k", 1, &v), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(ob_options_parse_number("3T", 1, &v), 0);
    assert_int_equal(v, 3ull << 40);
    assert_int_equal(ob_options_parse_number("2k", 0, &v), -1);
    assert_int_equal(ob_options_parse_number("-1", 0, &v), -1);
    assert_int_equal(ob_options_parse_number(" 1", 0, &v), -1);
    assert_int_equal(ob_options_parse_number("", 0, &v), -1);
    assert_int_equal(ob_options_parse_number("18446744073709551616", 0, &v), -1);
    assert_int_equal(ob_options_parse_number("16777216T", 1, &v), -1); /* 2^64 */

    char buf[OB_OPTIONS_NUMBER_MAX];
    ob_options_format(OB_OPTION_SIZE, 3ull << 30, buf, sizeof buf);
    assert_string_equal(buf, "3G");
    ob_options_format(OB_OPTION_SIZE, 1536, buf, sizeof buf);
    assert_string_equal(buf, "1536");
    ob_options_format(OB_OPTION_DURATION, 90000, buf, sizeof buf);
    assert_string_equal(buf, "90s");
    ob_options_format(OB_OPTION_DURATION, 7200000, buf, sizeof buf);
    assert_string_equal(buf, "2h");
    ob_options_format(OB_OPTION_DURATION, 0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    ob_options_format(OB_OPTION_COUNT, 1024, buf, sizeof buf);
    assert_string_equal(buf, "1024");
}

/* Sets the option with flag to text in cfg; returns the code, the message in errbuf. */
static int
s_set(t_cfg_t *cfg, const char *flag, const char *text, char *errbuf)
{
    const ob_option_t *opt = ob_options_find_flag(&s_spec, flag, strlen(flag));
    assert_non_null(opt);
    return ob_options_set(opt, (char *)cfg + opt->offset, text, flag, errbuf, OB_OPTIONS_ERR_MAX);
}

static void
test_set_and_errors(void **state)
{
    (void)state;
    t_cfg_t cfg;
    char err[OB_OPTIONS_ERR_MAX];
    s_defaults(&cfg);
    assert_int_equal(s_set(&cfg, "--name", "abcdefg", err), 0);
    assert_string_equal(cfg.name, "abcdefg");
    assert_int_equal(s_set(&cfg, "--size", "2M", err), 0);
    assert_int_equal(cfg.size, 2u << 20);
    assert_int_equal(s_set(&cfg, "--workers", "64", err), 0);
    assert_int_equal(cfg.workers, 64);
    assert_int_equal(s_set(&cfg, "--events", "0", err), 0);
    assert_int_equal(s_set(&cfg, "--timeout", "1500ms", err), 0);
    assert_int_equal(cfg.timeout, 1500);
    assert_int_equal(s_set(&cfg, "--timeout", "2d", err), 0);
    assert_int_equal(cfg.timeout, 2ull * 24 * 3600 * 1000);
    assert_int_equal(s_set(&cfg, "--verbose", "true", err), 0);
    assert_int_equal(cfg.verbose, 1);

    static const struct {
        const char *flag;    /* the option */
        const char *text;    /* a bad value */
        const char *message; /* the whole message */
    } bad[] = {
        {"--name", "", "--name: empty value"},
        {"--name", "abcdefgh", "--name: value longer than 7 bytes"},
        {"--size", "1x", "--size: '1x' is not a number (digits, then optionally K, M, G or T)"},
        {"--size", "1023", "--size: 1023 is out of range 1K..1G"},
        {"--size", "2G", "--size: 2G is out of range 1K..1G"},
        {"--workers", "0", "--workers: 0 is out of range 1..64"},
        {"--workers", "4k", "--workers: '4k' is not a number"},
        {"--events", "1001", "--events: 1001 is out of range 0..1000"},
        {"--timeout", "5",
         "--timeout: '5' has no unit: write ms, s, m, h or d after the digits "
         "(500ms, 30s, 15m, 12h, 7d); 0 alone means no limit"},
        {"--timeout", "5M",
         "--timeout: '5M' is not a duration: digits and one of the units ms, "
         "s, m, h or d (500ms, 30s, 15m, 12h, 7d), or 0 for no limit"},
        {"--timeout", "8d", "--timeout: 8d is out of range 0..7d"},
        {"--timeout", "99999999999999999999d",
         "--timeout: 99999999999999999999d is out of range 0..7d"},
        {"--verbose", "yes", "--verbose: 'yes' is not 0, 1, false or true"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t_cfg_t before = cfg;
        assert_int_equal(s_set(&cfg, bad[i].flag, bad[i].text, err), OB_ERR_INVALID_ARGUMENT);
        assert_string_equal(err, bad[i].message);
        assert_memory_equal(&cfg, &before, sizeof cfg); /* nothing written */
    }

    /* a struct filled directly is checked too */
    assert_int_equal(ob_options_check_all(&s_spec, &cfg, err, sizeof err), 0);
    cfg.workers = 65;
    assert_int_equal(ob_options_check_all(&s_spec, &cfg, err, sizeof err), OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "main/workers: 65 is out of range 1..64");
    const ob_option_t *opt = ob_options_find_key(&s_spec, "main", "workers");
    assert_ptr_equal(opt, &s_table[2]);
    assert_int_equal(ob_options_get(opt, &cfg.workers), 65);
    assert_int_equal(ob_options_check(opt, &cfg.workers, "w", err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "w: 65 is out of range 1..64");
    assert_null(ob_options_find_key(&s_spec, "limits", "workers")); /* other section */
    assert_null(ob_options_find_flag(&s_spec, "--work", 6));

    /* errbuf may be absent */
    assert_int_equal(ob_options_fail(NULL, 0, "x %d", 1), OB_ERR_INVALID_ARGUMENT);
}

/* Loads text as the file over defaults; returns the code, the message in err. */
static int
s_load(const char *text, t_cfg_t *cfg, char *err)
{
    s_write(text);
    s_defaults(cfg);
    s_limits_seen = 0;
    return ob_options_load_file(&s_spec, cfg, s_path, err, OB_OPTIONS_ERR_MAX);
}

static void
test_file(void **state)
{
    (void)state;
    t_cfg_t cfg;
    char err[OB_OPTIONS_ERR_MAX], expect[OB_OPTIONS_ERR_MAX + 64];
    assert_int_equal(s_load("main\n"
                            "    name = \"y\"\n"
                            "    size = 8K\n"
                            "    verbose = 1\n"
                            "limits\n"
                            "    timeout = 1m\n"
                            "    child = a\n"
                            "    child = b\n",
                            &cfg, err),
                     0);
    assert_string_equal(cfg.name, "y");
    assert_int_equal(cfg.size, 8192);
    assert_int_equal(cfg.verbose, 1);
    assert_int_equal(cfg.timeout, 60000);
    assert_int_equal(cfg.workers, 2); /* not in the file: the default stays */
    assert_int_equal(cfg.children, 2);
    assert_int_equal(cfg.sections, 2);

    /* blank: nothing changes */
    assert_int_equal(s_load("# only a comment\n\n   \n", &cfg, err), 0);
    assert_int_equal(cfg.sections, 0);
    assert_true(ob_options_zpl_blank(" \t\r\n# x y\n", 10));
    assert_false(ob_options_zpl_blank("# x\nmain\n", 9));

    static const struct {
        const char *text;    /* the file */
        const char *message; /* after "config file PATH: " */
    } bad[] = {
        {"other\n    x = 1\n", "unknown section 'other' (settings belong in 'main' or 'limits')"},
        {"main\n    bogus = 1\n", "unknown key 'main/bogus'"},
        {"main = 1\n", "section 'main' cannot have a value"},
        {"main\n    size = 8K\n        deeper = 1\n", "key 'main/size' cannot have children"},
        {"main\n    workers = 99\n", "key 'main/workers': 99 is out of range 1..64"},
        {"limits\n    child = bad\n", "a bad child"},
        {"limits\nlimits\n", "limits twice"},
        {"main\n  x\n    y = \"unterminated\n", "ZPL syntax error (see the line logged above)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_load(bad[i].text, &cfg, err), OB_ERR_INVALID_ARGUMENT);
        if (!strcmp(bad[i].message, "a bad child") || !strcmp(bad[i].message, "limits twice"))
            snprintf(expect, sizeof expect, "%s: %s", s_path, bad[i].message);
        else
            snprintf(expect, sizeof expect, "config file %s: %s", s_path, bad[i].message);
        assert_string_equal(err, expect);
    }

    /* over the cap, and missing */
    char big[T_FILE_MAX + 2];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(s_load(big, &cfg, err), OB_ERR_INVALID_ARGUMENT);
    snprintf(expect, sizeof expect, "cannot read config file %s: larger than %d bytes", s_path,
             T_FILE_MAX);
    assert_string_equal(err, expect);
    assert_int_equal(ob_options_load_file(&s_spec, &cfg, "/nonexistent/x.cfg", err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "cannot read config file /nonexistent/x.cfg: no such file or "
                             "directory");
}

/* Runs both passes over the NULL-terminated args (after a program name) into cfg. Returns
   the first code, the message in err. */
static int
s_args(const char *const *args, t_cfg_t *cfg, int *help, int *version, const char **config,
       char *err)
{
    static char prog[] = "prog";
    char *argv[16] = {prog};
    int argc = 1;
    while (*args)
        argv[argc++] = (char *)*args++;
    s_defaults(cfg);
    int rc =
        ob_options_scan_args(&s_spec, argc, argv, help, version, config, err, OB_OPTIONS_ERR_MAX);
    if (rc || *help || *version)
        return rc;
    return ob_options_apply_args(&s_spec, cfg, argc, argv, err, OB_OPTIONS_ERR_MAX);
}

static void
test_args(void **state)
{
    (void)state;
    t_cfg_t cfg;
    int help = -1, version = -1;
    const char *config = "sentinel";
    char err[OB_OPTIONS_ERR_MAX];

    const char *ok[] = {"--workers", "3",     "--size=2K",   "--verbose",
                        "--config",  "f.cfg", "--workers=4", NULL};
    assert_int_equal(s_args(ok, &cfg, &help, &version, &config, err), 0);
    assert_int_equal(help, 0);
    assert_int_equal(version, 0);
    assert_string_equal(config, "f.cfg");
    assert_int_equal(cfg.workers, 4); /* the last wins */
    assert_int_equal(cfg.size, 2048);
    assert_int_equal(cfg.verbose, 1);

    const char *h[] = {"--workers", "3", "-h", "--bogus", NULL};
    assert_int_equal(s_args(h, &cfg, &help, &version, &config, err), 0);
    assert_int_equal(help, 1);
    assert_int_equal(cfg.workers, 2); /* --help stops before any flag is applied */
    const char *v[] = {"--version", NULL};
    assert_int_equal(s_args(v, &cfg, &help, &version, &config, err), 0);
    assert_int_equal(version, 1);
    const char *none[] = {NULL};
    assert_int_equal(s_args(none, &cfg, &help, &version, &config, err), 0);
    assert_null(config);

    static const struct {
        const char *args[4]; /* a bad command line */
        const char *message; /* its message */
    } bad[] = {
        {{"file", NULL}, "unexpected argument 'file' (see --help)"},
        {{"--bogus", NULL}, "unknown flag '--bogus' (see --help)"},
        {{"--bogus=1", NULL}, "unknown flag '--bogus' (see --help)"},
        {{"--workers", NULL}, "--workers needs a value"},
        {{"--verbose=1", NULL}, "--verbose takes no value"},
        {{"--help=1", NULL}, "--help takes no value"},
        {{"--workers", "0", NULL}, "--workers: 0 is out of range 1..64"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_args(bad[i].args, &cfg, &help, &version, &config, err),
                         OB_ERR_INVALID_ARGUMENT);
        assert_string_equal(err, bad[i].message);
    }
}

/* ob_options_parse: the file, then the flags over it; the file's name kept; --help reads
   no file; a missing file and a name too long for the buffer are errors. */
static void
test_parse(void **state)
{
    (void)state;
    static char prog[] = "prog", config_flag[] = "--config", workers[] = "--workers=5",
                help_flag[] = "--help", missing[] = "/nonexistent/x.cfg";
    t_cfg_t cfg;
    int help = -1, version = -1;
    char err[OB_OPTIONS_ERR_MAX], name[T_FILE_MAX], tiny[4];
    s_limits_seen = 0;
    s_write("main\n    workers = 3\n    size = 8K\n");

    char *argv[] = {prog, config_flag, s_path, workers};
    s_defaults(&cfg);
    assert_int_equal(ob_options_parse(&s_spec, &cfg, 4, argv, &help, &version, name, sizeof name,
                                      err, sizeof err),
                     0);
    assert_int_equal(help, 0);
    assert_int_equal(version, 0);
    assert_string_equal(name, s_path);
    assert_int_equal(cfg.size, 8192); /* from the file */
    assert_int_equal(cfg.workers, 5); /* the flag over the file */

    char *no_file[] = {prog, workers};
    s_defaults(&cfg);
    assert_int_equal(ob_options_parse(&s_spec, &cfg, 2, no_file, &help, &version, name, sizeof name,
                                      err, sizeof err),
                     0);
    assert_string_equal(name, "");
    assert_int_equal(cfg.workers, 5);
    assert_int_equal(cfg.size, 4096);

    char *with_help[] = {prog, config_flag, missing, help_flag};
    s_defaults(&cfg);
    assert_int_equal(ob_options_parse(&s_spec, &cfg, 4, with_help, &help, &version, name,
                                      sizeof name, err, sizeof err),
                     0);
    assert_int_equal(help, 1); /* and the missing file was not read */

    char *bad_file[] = {prog, config_flag, missing};
    assert_int_equal(ob_options_parse(&s_spec, &cfg, 3, bad_file, &help, &version, name,
                                      sizeof name, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_options_parse(&s_spec, &cfg, 4, argv, &help, &version, tiny, sizeof tiny,
                                      err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "config file name too long");
}

static void
test_print(void **state)
{
    (void)state;
    t_cfg_t defaults;
    s_defaults(&defaults);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    ob_options_print(out, &s_spec, &defaults);
    fclose(out);
    assert_string_equal(text, "    --name VALUE\n"
                              "        The name.\n"
                              "        Default: x. Config key: main/name.\n\n"
                              "    --size SIZE\n"
                              "        A size.\n"
                              "        Two lines.\n"
                              "        Default: 4K. Config key: main/size.\n\n"
                              "    --workers N\n"
                              "        Workers.\n"
                              "        Default: 2. Config key: main/workers.\n\n"
                              "    --events N\n"
                              "        Events.\n"
                              "        Default: 0 (no limit). Config key: limits/events.\n\n"
                              "    --timeout DURATION\n"
                              "        A timeout.\n"
                              "        Default: 30s. Config key: limits/timeout.\n\n"
                              "    --verbose\n"
                              "        Chatty.\n"
                              "        Default: off. Config key: main/verbose = 0|1.\n\n");
    free(text);
}

/* OPTSTRING: empty is a value (off), which --help shows as "off"; too long still fails. */
static void
test_optstring(void **state)
{
    (void)state;
    char listen[8] = "x:1";
    const ob_option_t opt = {"main", "listen", "--listen", OB_OPTION_OPTSTRING, 0, sizeof listen,
                             0,      0,        "Where."};
    const ob_options_t spec = {&opt, 1, T_FILE_MAX, NULL, NULL, NULL, NULL};
    char err[OB_OPTIONS_ERR_MAX];
    assert_int_equal(ob_options_set(&opt, listen, "", "--listen", err, sizeof err), 0);
    assert_string_equal(listen, "");
    assert_int_equal(ob_options_set(&opt, listen, "12345678", "--listen", err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_string_equal(err, "--listen: value longer than 7 bytes");
    assert_int_equal(ob_options_check_all(&spec, listen, err, sizeof err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    ob_options_print(out, &spec, listen);
    fclose(out);
    assert_string_equal(text, "    --listen VALUE\n"
                              "        Where.\n"
                              "        Default: off. Config key: main/listen.\n\n");
    free(text);
}

/* ob_options_listen: IPV4:PORT, and what it refuses, leaving the outputs alone. */
/* A struct with a repeated section: slots of a name and a number. */
typedef struct t_slot {
    char name[8];  /* STRING */
    unsigned port; /* UINT */
} t_slot_t;

typedef struct t_rcfg {
    unsigned workers;  /* UINT, not repeated */
    t_slot_t slot[3];  /* the repeated section's slots */
    size_t slot_count; /* slots in use */
} t_rcfg_t;

#define T_RFIELD(name) offsetof(t_rcfg_t, name), sizeof(((t_rcfg_t *)0)->name)

static const ob_option_t s_rtable[] = {
    {"main", "workers", "--workers", OB_OPTION_UINT, T_RFIELD(workers), 1, 64, "Workers."},
    {"peer", "name", "--peer-name", OB_OPTION_STRING, T_RFIELD(slot[0].name), 0, 0, "Name."},
    {"peer", "port", "--peer-port", OB_OPTION_UINT, T_RFIELD(slot[0].port), 1, 9, "Port."},
};

static const ob_options_repeat_t s_peers = {"peer", offsetof(t_rcfg_t, slot[0]), sizeof(t_slot_t),
                                            3, offsetof(t_rcfg_t, slot_count)};

static const ob_options_t s_rspec = {.table = s_rtable,
                                     .count = sizeof s_rtable / sizeof s_rtable[0],
                                     .file_max = T_FILE_MAX,
                                     .repeat = &s_peers};

/* Each `peer` section fills the next slot and raises the count; a fourth is refused, as is
   a value out of range in any slot (named by its slot), a section with a value or an
   unknown key (named by its occurrence); the flags write slot 0. */
static void
test_repeat(void **state)
{
    (void)state;
    char err[OB_OPTIONS_ERR_MAX];
    t_rcfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.workers = 2;
    s_write("main\n    workers = 3\npeer\n    name = a\n    port = 1\n"
            "peer\n    name = b\npeer\n    port = 7\n");
    assert_int_equal(ob_options_load_file(&s_rspec, &cfg, s_path, err, sizeof err), 0);
    assert_int_equal(cfg.workers, 3);
    assert_int_equal(cfg.slot_count, 3);
    assert_string_equal(cfg.slot[0].name, "a");
    assert_int_equal(cfg.slot[0].port, 1);
    assert_string_equal(cfg.slot[1].name, "b");
    assert_int_equal(cfg.slot[1].port, 0);
    assert_string_equal(cfg.slot[2].name, "");
    assert_int_equal(cfg.slot[2].port, 7);
    /* ranges of every slot in use: slot 2 has port 0 */
    assert_int_equal(ob_options_check_all(&s_rspec, &cfg, err, sizeof err),
                     OB_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "peer 2: port"));
    cfg.slot[1].port = 2;
    assert_int_equal(ob_options_check_all(&s_rspec, &cfg, err, sizeof err), 0);
    cfg.slot_count = 2; /* a slot not in use is not checked */
    cfg.slot[2].port = 0;
    assert_int_equal(ob_options_check_all(&s_rspec, &cfg, err, sizeof err), 0);
    /* the flags write slot 0 */
    char prog[] = "prog", flag[] = "--peer-port", nine[] = "9";
    char *argv[] = {prog, flag, nine, NULL};
    assert_int_equal(ob_options_apply_args(&s_rspec, &cfg, 3, argv, err, sizeof err), 0);
    assert_int_equal(cfg.slot[0].port, 9);
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"peer\n    port = 1\npeer\npeer\npeer\n", "more than 3 'peer' sections"},
        {"peer\npeer\n    port = 10\n", "peer section 2: key 'peer/port'"},
        {"peer\n    colour = red\n", "unknown key 'peer/colour'"},
        {"peer = 1\n    port = 1\n", "section 'peer' cannot have a value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&cfg, 0, sizeof cfg);
        s_write(bad[i].text);
        assert_int_equal(ob_options_load_file(&s_rspec, &cfg, s_path, err, sizeof err),
                         OB_ERR_INVALID_ARGUMENT);
        if (!strstr(err, bad[i].error))
            fail_msg("case %zu: '%s'", i, err);
    }
}

static void
test_listen(void **state)
{
    (void)state;
    char host[64];
    uint16_t port = 0;
    assert_int_equal(ob_options_listen("127.0.0.1:7460", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7460);
    assert_int_equal(ob_options_listen("0.0.0.0:0", host, sizeof host, &port), 0);
    assert_int_equal(port, 0);
    assert_int_equal(ob_options_listen("10.1.2.3:65535", host, sizeof host, &port), 0);
    assert_int_equal(port, 65535);
    static const char *const bad[] = {"",
                                      ":80",
                                      "127.0.0.1",
                                      "127.0.0.1:",
                                      "127.0.0.1:x",
                                      "127.0.0.1:65536",
                                      "localhost:80",
                                      "::1:80",
                                      "127.0.0.1:-1",
                                      "127.0.0.1:+1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(host, "same", 5);
        port = 9;
        assert_int_equal(ob_options_listen(bad[i], host, sizeof host, &port),
                         OB_ERR_INVALID_ARGUMENT);
        assert_string_equal(host, "same");
        assert_int_equal(port, 9);
    }
    /* a host buffer too small for the address */
    assert_int_equal(ob_options_listen("127.0.0.1:80", host, 9, &port), OB_ERR_INVALID_ARGUMENT);
    assert_int_equal(ob_options_listen("127.0.0.1:80", host, 10, &port), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_set_and_errors),
        cmocka_unit_test(test_file),    cmocka_unit_test(test_args),
        cmocka_unit_test(test_print),   cmocka_unit_test(test_optstring),
        cmocka_unit_test(test_listen),  cmocka_unit_test(test_repeat),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
