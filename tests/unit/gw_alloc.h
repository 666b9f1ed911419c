/*  gw_alloc: failed allocations for the gateway's parser tests. A test linked with
    -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup (OB_GW_WRAP_ALLOC in
    gateway.cmake) and this file can fail the n-th allocation of our code (the gateway's and
    liborderbus's, linked statically) or of Jansson (through json_set_alloc_funcs). */
#ifndef T_GW_ALLOC_H
#define T_GW_ALLOC_H

enum { T_OURS, T_JANSSON }; /* whose allocations fail */

/* From now on, fails the n-th allocation (from 0) of side, and counts them; n = -1 stops
   failing. */
void t_alloc_fail(long n, int side);

/* While paused (1), nothing fails and nothing is counted: for a test's own work. */
void t_alloc_pause(int paused);

/* Allocations of the side given to t_alloc_fail since that call. */
long t_alloc_count(void);

/* Calls run(arg) failing the first, second, ... allocation of side until a run no longer
   reaches the failing one; that run must succeed. A run whose own allocation failed must
   return -ENOMEM. One whose Jansson allocation failed may give any refusal of the parsers, or
   succeed (a fallback): Jansson 2.14 reports some failed allocations as syntax errors, and
   its lexer ignores a failed growth of its string buffer, dropping a byte of the string
   (seen: "21:07:40Z" read as "21:7:40Z"). Under ASan, none leaks. Fails the cmocka test
   otherwise. Returns the allocations of side in a whole run. */
long t_alloc_each(int (*run)(const void *arg), const void *arg, int side);

#endif
