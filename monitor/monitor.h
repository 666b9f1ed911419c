/*  ob_mon: orderbus-monitor's shared state and helpers (monitor/mon.c), and its commands
    (monitor/cmd_*.c). Each command is `int ob_mon_cmd_<name>(ob_mon_t *m, int argc,
    char **argv)` where argv[0] is the command's name; it returns the process exit status. */
#ifndef OB_MON_H
#define OB_MON_H

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "orderbus/orderbus.h"
#include "result.h"
#include "table.h"

/* Exit status, the same for every command (documented in every --help). */
#define OB_MON_EXIT_OK 0          /* done */
#define OB_MON_EXIT_REFUSED 1     /* the broker answered with an error, or a local failure */
#define OB_MON_EXIT_USAGE 2       /* bad command line */
#define OB_MON_EXIT_NOT_FOUND 3   /* unknown topic, sequence number or subscription */
#define OB_MON_EXIT_UNREACHABLE 4 /* broker unreachable or timed out */

#define OB_MON_INTERVAL_MS_DEFAULT 1000 /* topics' rate sample, top's refresh */
#define OB_MON_SCREEN_COLS_DEFAULT 80   /* top's screen when not a terminal */
#define OB_MON_SCREEN_ROWS_DEFAULT 24
#define OB_MON_DLQ_LIMIT_DEFAULT 100 /* dead letters `dlq TOPIC` lists */
#define OB_MON_SUMMARY_MAX 60        /* display columns of tail's event summary */
#define OB_MON_POLL_MS 100           /* how often waits look at SIGINT/SIGTERM */
#define OB_MON_TEXT_MAX 512          /* a formatted cell or message */
#define OB_MON_JSON_PRECISION                                                                      \
    15 /* significant digits of a JSON number: 2.778, not                                          \
          2.7780000000000002 */

/* Options every command accepts (their getopt codes). */
enum {
    OB_MON_OPT_ENDPOINT = 1000,
    OB_MON_OPT_TIMEOUT,
    OB_MON_OPT_JSON,
    OB_MON_OPT_CERT,
    OB_MON_OPT_BROKER_CERT,
};

#define OB_MON_COMMON_LONGOPTS                                                                     \
    {"endpoint", required_argument, NULL, OB_MON_OPT_ENDPOINT},                                    \
        {"timeout", required_argument, NULL, OB_MON_OPT_TIMEOUT},                                  \
        {"json", no_argument, NULL, OB_MON_OPT_JSON},                                              \
        {"cert", required_argument, NULL, OB_MON_OPT_CERT},                                        \
        {"broker-cert", required_argument, NULL, OB_MON_OPT_BROKER_CERT},                          \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

typedef struct ob_mon {
    const char *endpoint;    /* broker endpoint, borrowed from argv or the environment */
    int timeout_ms;          /* each request's wait (and the connect's) */
    int json;                /* 1: --json output */
    const char *cert;        /* CURVE: this client's certificate (--cert, $ORDERBUS_CERT) */
    const char *broker_cert; /* CURVE: the broker's public certificate (--broker-cert,
                                $ORDERBUS_BROKER_CERT) */
    FILE *out;               /* results (stdout) */
    FILE *err;               /* errors (stderr) */
    ob_client_t *client;     /* connected by ob_mon_connect, owned */
} ob_mon_t;

/* One command: its name, its entry point, a one-line summary and its manual page. */
typedef struct ob_mon_cmd {
    const char *name;                               /* as typed */
    int (*run)(ob_mon_t *m, int argc, char **argv); /* returns the exit status */
    const char *summary;                            /* one line for the global help */
    const char *help;                               /* the man-page-like text */
} ob_mon_cmd_t;

extern const ob_mon_cmd_t ob_mon_cmds[]; /* every command, NULL-name terminated */
extern const char ob_mon_common_help[];  /* the options and exit status every page ends with */

/* Sets m's defaults: endpoint from ORDERBUS_ENDPOINT else OB_ENDPOINT_DEFAULT, certificates
   from ORDERBUS_CERT and ORDERBUS_BROKER_CERT (none if unset), the default timeout, human
   output, stdout and stderr. */
void ob_mon_init(ob_mon_t *m);

/* Handles an option of OB_MON_COMMON_LONGOPTS (c from getopt_long, arg its argument). Returns
   0 if taken, OB_MON_EXIT_USAGE (message printed) for a bad value, -1 if c is not common. */
int ob_mon_common_option(ob_mon_t *m, int c, const char *arg);

/* Prints the manual page of the command named name (the global one for NULL) to out. */
void ob_mon_help(FILE *out, const char *name);

/* Prints "orderbus-monitor CMD: <message>" and "see --help" to m->err; returns
   OB_MON_EXIT_USAGE. */
int ob_mon_usage(ob_mon_t *m, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Connects m->client (all the client's setup is here) and waits for the broker's WELCOME
   up to m->timeout_ms. Returns OB_MON_EXIT_OK or the exit status, message printed. */
int ob_mon_connect(ob_mon_t *m);

/* Releases what m holds (the client). */
void ob_mon_close(ob_mon_t *m);

/* Maps an ob_client error rc to the exit status. */
int ob_mon_exit_code(int rc);

/* Returns "OB_ERR_NO_SUCH_TOPIC" and so on for rc, "E<errno>" names for -errno ("ENOMEM"),
   "OB_ERR_UNKNOWN" else; static. */
const char *ob_mon_error_name(int rc);

/* Prints "orderbus-monitor: <context>: <OB error name>: <reason>" to m->err and returns
   ob_mon_exit_code(rc). */
int ob_mon_fail(ob_mon_t *m, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends request (filled in by the caller, borrowed) with ob_client_request. On success
   *ret_result is the decoded result (new reference, json_null() when the OK had none),
   *ret_more the more flag (may be NULL), and the FETCH event frame goes to *ret_event
   (malloc'd, caller frees; may be NULL). Returns 0, an ob_client_request error or an
   ob_mon_result_decode error. */
int ob_mon_request(ob_mon_t *m, const ob_wire_msg_t *request, json_t **ret_result, int *ret_more,
                   uint8_t **ret_event, size_t *ret_event_len);

/* Lists every entry of TOPICS or SUBS (command), following `more` pages. On success
 *ret_list is a new array. Returns as ob_mon_request. */
int ob_mon_list(ob_mon_t *m, int command, json_t **ret_list);

/* SUB_INFO of sub (borrowed), every page of positions merged. Returns as ob_mon_request. */
int ob_mon_sub_info(ob_mon_t *m, const char *sub, json_t **ret_info);

/* Parses a start position for --from and reposition: "earliest", "new", a seq >= 1, RFC 3339
   text or a relative time "-90s", "-5m", "-2h", "-1d" (before now). Fills *ret_start and
   *ret_value (the seq or the µs). Returns 0 or -1. */
int ob_mon_parse_from(const char *text, ob_start_t *ret_start, uint64_t *ret_value);

/* Parses a decimal integer >= min into *ret. Returns 0 or -1. */
int ob_mon_parse_uint(const char *text, uint64_t min, uint64_t *ret);

/* Returns the current time in µs since the epoch. */
uint64_t ob_mon_now_us(void);

/* Sleeps ms, waking early on SIGINT/SIGTERM. Returns 0, or -EINTR if interrupted. */
int ob_mon_sleep(int ms);

/* Returns 1 once SIGINT or SIGTERM has arrived. */
int ob_mon_interrupted(void);

/* Formatters into buf (OB_MON_TEXT_MAX bytes); each returns buf. */
char *ob_mon_fmt_uint(char *buf, uint64_t value);           /* decimal */
char *ob_mon_fmt_bytes(char *buf, uint64_t value);          /* 512B, 1.5K, 3.0M, ... */
char *ob_mon_fmt_duration(char *buf, uint64_t ms);          /* 950ms, 12s, 5m, 3h, 7d */
char *ob_mon_fmt_rate(char *buf, double per_s);             /* "12.5/s", "-" below 0 */
char *ob_mon_fmt_time(char *buf, uint64_t time_us);         /* RFC 3339, second precision */
char *ob_mon_fmt_retention(char *buf, const json_t *topic); /* "age 7d, 1000 ev", "none" */

/* Prints value (borrowed) as indented JSON and a newline to m->out. Returns the exit status
   (OB_MON_EXIT_REFUSED without memory). */
int ob_mon_print_json(ob_mon_t *m, const json_t *value);

/* The commands. */
int ob_mon_cmd_topics(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_top(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_subs(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_sub(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_reposition(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_tail(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_show(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_publish(ob_mon_t *m, int argc, char **argv);
int ob_mon_cmd_dlq(ob_mon_t *m, int argc, char **argv);

/* Help texts (cmd_*.c). */
extern const char ob_mon_help_topics[], ob_mon_help_top[], ob_mon_help_subs[], ob_mon_help_sub[],
    ob_mon_help_reposition[], ob_mon_help_tail[], ob_mon_help_show[], ob_mon_help_publish[],
    ob_mon_help_dlq[];

#endif
