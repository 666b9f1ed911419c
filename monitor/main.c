/*  orderbus-monitor: the operators' command-line tool (DESIGN.md section 8). Thin: the
    global options, then the command (monitor/cmd_*.c), which connects through ob_mon. */
#include <czmq.h>
#include <string.h>

#include "daemon.h"
#include "monitor.h"

const ob_mon_cmd_t ob_mon_cmds[] = {
    {"topics", ob_mon_cmd_topics, "topics: events, sequence numbers, bytes, rate, retention",
     ob_mon_help_topics},
    {"subs", ob_mon_cmd_subs, "subscriptions: pending, redelivered, dead-lettered, lag",
     ob_mon_help_subs},
    {"sub", ob_mon_cmd_sub, "one subscription in detail, with its positions", ob_mon_help_sub},
    {"tail", ob_mon_cmd_tail, "follow the events of topic patterns, live", ob_mon_help_tail},
    {"show", ob_mon_cmd_show, "one stored event, whole", ob_mon_help_show},
    {"dlq", ob_mon_cmd_dlq, "dead-letter topics, their events, and re-publishing one",
     ob_mon_help_dlq},
    {"reposition", ob_mon_cmd_reposition, "move a subscription to a seq or a time",
     ob_mon_help_reposition},
    {"publish", ob_mon_cmd_publish, "publish one event given as JSON", ob_mon_help_publish},
    {"top", ob_mon_cmd_top, "a live view of rates and lag, every second", ob_mon_help_top},
    {NULL, NULL, NULL, NULL},
};

const char ob_mon_common_help[] =
    "\nGLOBAL OPTIONS (before or after the command)\n"
    "    --endpoint EP  the broker (default: $ORDERBUS_ENDPOINT, else " OB_ENDPOINT_DEFAULT ")\n"
    "    --timeout MS   how long to wait for the broker's answers (default 5000)\n"
    "    --json         JSON instead of tables, for scripts\n"
    "    --cert FILE    CURVE: this client's certificate (czmq zcert; FILE_secret is read\n"
    "                   too), default $ORDERBUS_CERT; with --broker-cert\n"
    "    --broker-cert FILE  CURVE: the broker's public certificate, default\n"
    "                   $ORDERBUS_BROKER_CERT. Neither: plaintext (a loopback broker\n"
    "                   with curve = 0). An admin's key needs the admin permission.\n"
    "    -h, --help     this page; COMMAND --help for a command's\n\n"
    "EXIT STATUS (the same for every command)\n"
    "    0  done\n"
    "    1  the broker answered with an error (refused, forbidden, ...), or a local failure\n"
    "    2  usage: a bad command line or JSON\n"
    "    3  not found: unknown topic, sequence number or subscription\n"
    "    4  broker unreachable, or it did not answer within the timeout\n"
    "    Errors go to standard error as: orderbus-monitor: CONTEXT: OB_ERR_NAME: reason\n\n"
    "SECURITY\n"
    "    A broker with CURVE (PROTOCOL.md 14) admits the monitor only with a known key,\n"
    "    and refuses commands it may not use with OB_ERR_FORBIDDEN (exit 1).\n";

int
main(int argc, char **argv)
{
    ob_mon_t m;
    ob_mon_init(&m);
    static const struct option longopts[] = {OB_MON_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    int c;
    /* "+": stop at the command; its own options are parsed by the command. */
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        int rc;
        if (c == 'h') {
            ob_mon_help(stdout, NULL);
            return OB_MON_EXIT_OK;
        }
        if ((rc = ob_mon_common_option(&m, c, optarg)) < 0)
            return ob_mon_usage(&m, NULL, "unknown option");
        if (rc)
            return rc;
    }
    if (optind == argc)
        return ob_mon_usage(&m, NULL, "a COMMAND expected");
    const char *name = argv[optind];
    if (!strcmp(name, "help")) {
        ob_mon_help(stdout, optind + 1 < argc ? argv[optind + 1] : NULL);
        return OB_MON_EXIT_OK;
    }
    const ob_mon_cmd_t *cmd = ob_mon_cmds;
    while (cmd->name && strcmp(cmd->name, name))
        cmd++;
    if (!cmd->name)
        return ob_mon_usage(&m, NULL, "unknown command \"%s\"", name);
    /* czmq: SIGINT/SIGTERM set zsys_interrupted, so tail and top end cleanly */
    ob_daemon_log_init("orderbus-monitor");
    int rc = cmd->run(&m, argc - optind, argv + optind);
    ob_mon_close(&m);
    fflush(stdout);
    return rc;
}
