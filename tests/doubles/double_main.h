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

/* Blocks SIGTERM and SIGINT in the calling thread and in every thread it starts afterwards
   (they are taken by double_serve), and ignores SIGPIPE. Call first in main. */
void double_block_signals(void);

/* A started double: writes port to port_file (when not NULL; see double_write_port), prints
   "listening 127.0.0.1:PORT" on stdout, flushed, then waits for SIGTERM or SIGINT. name
   prefixes the messages on stderr. Returns 0 after the signal, or -errno when the port file
   cannot be written (then nothing is printed). */
int double_serve(const char *name, const char *port_file, unsigned port);

#endif
