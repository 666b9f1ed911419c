/*  ob_mon_table: the monitor's table renderer.

    Columns have a header and an alignment; rows are copied cells. Printing sizes each column
    to its widest cell, separates columns by two spaces, and can cut the output to a screen
    (a number of columns and of rows), as `top` needs. Widths count display columns of UTF-8
    text (one per character: names are ASCII, anything else is approximated). */
#ifndef OB_MON_TABLE_H
#define OB_MON_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct ob_mon_table ob_mon_table_t;

/* Creates a table of cols columns with headers (borrowed, copied) and align, a string of
   cols characters, 'l' or 'r' for each column. Returns NULL without memory. */
ob_mon_table_t *ob_mon_table_new(size_t cols, const char *const *headers, const char *align);

/* Destroys the table and its cells, sets *self_p to NULL; accepts NULL. */
void ob_mon_table_destroy(ob_mon_table_t **self_p);

/* Appends a row of the table's cols cells (borrowed, copied; NULL prints "-").
   Returns 0 or -ENOMEM. */
int ob_mon_table_add(ob_mon_table_t *self, const char *const *cells);

/* Returns the number of rows added. */
size_t ob_mon_table_rows(const ob_mon_table_t *self);

/* Prints the header and at most max_rows rows (SIZE_MAX: all) to out, every line cut to width
   display columns (0: no cut). Returns the number of lines printed. */
size_t ob_mon_table_print(const ob_mon_table_t *self, FILE *out, size_t width, size_t max_rows);

/* Returns the display width of the NUL-terminated UTF-8 text s (continuation bytes do not
   count). */
size_t ob_mon_text_width(const char *s);

#endif
