/*  double_main: what the mains of the doubles (orderbus-mp-double, orderbus-jira-double)
    share: reading a numeric argument and writing the bound port to a file atomically. */
#ifndef OB_DOUBLE_MAIN_H
#define OB_DOUBLE_MAIN_H

#define DOUBLE_PORT_MAX 65535 /* TCP */

/* Parses text (borrowed) as a whole decimal number in [lo, hi]. Returns 0 and *ret, or -1. */
int double_number(const char *text, long lo, long hi, long *ret);

/* Writes "PORT\n" to file (borrowed) through a temporary file renamed into place, so that a
   reader never sees it half written. Returns 0 or -errno. */
int double_write_port(const char *file, unsigned port);

#endif
