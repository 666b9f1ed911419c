/*  ob_mon_table: see table.h. */
#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define S_COLUMN_GAP 2 /* spaces between columns */

struct ob_mon_table {
    size_t cols;    /* columns */
    char **headers; /* cols header strings, owned */
    char *align;    /* cols of 'l' or 'r', owned */
    char **cells;   /* rows * cols cells, owned, row-major */
    size_t rows;    /* rows added */
    size_t alloc;   /* rows the cells array has room for */
};

size_t
ob_mon_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            w++;
    return w;
}

ob_mon_table_t *
ob_mon_table_new(size_t cols, const char *const *headers, const char *align)
{
    ob_mon_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cols = cols;
    self->headers = calloc(cols, sizeof *self->headers);
    self->align = strdup(align);
    if (!self->headers || !self->align)
        goto fail;
    for (size_t i = 0; i < cols; i++)
        if (!(self->headers[i] = strdup(headers[i])))
            goto fail;
    return self;
fail:
    ob_mon_table_destroy(&self);
    return NULL;
}

void
ob_mon_table_destroy(ob_mon_table_t **self_p)
{
    ob_mon_table_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    for (size_t i = 0; self->headers && i < self->cols; i++)
        free(self->headers[i]);
    for (size_t i = 0; i < self->rows * self->cols; i++)
        free(self->cells[i]);
    free(self->headers);
    free(self->align);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

int
ob_mon_table_add(ob_mon_table_t *self, const char *const *cells)
{
    if (self->rows == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 16;
        char **grown = realloc(self->cells, alloc * self->cols * sizeof *grown);
        if (!grown)
            return -ENOMEM;
        self->cells = grown;
        self->alloc = alloc;
    }
    char **row = self->cells + self->rows * self->cols;
    for (size_t i = 0; i < self->cols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "-");
        if (!row[i]) {
            while (i > 0)
                free(row[--i]);
            return -ENOMEM;
        }
    }
    self->rows++;
    return 0;
}

size_t
ob_mon_table_rows(const ob_mon_table_t *self)
{
    return self->rows;
}

/* Appends text to line (at *len of cap bytes) padded to width columns, then a gap unless last. */
static void
s_cell(char *line, size_t cap, size_t *len, const char *text, size_t width, char align, int last)
{
    size_t w = ob_mon_text_width(text);
    size_t pad = width > w ? width - w : 0;
    size_t tlen = strlen(text);
    size_t need = pad + tlen + (last ? 0 : S_COLUMN_GAP);
    if (*len + need + 1 > cap)
        return;
    if (align == 'r') {
        memset(line + *len, ' ', pad);
        *len += pad;
    }
    memcpy(line + *len, text, tlen);
    *len += tlen;
    if (align != 'r' && !last) {
        memset(line + *len, ' ', pad);
        *len += pad;
    }
    if (!last) {
        memset(line + *len, ' ', S_COLUMN_GAP);
        *len += S_COLUMN_GAP;
    }
    line[*len] = '\0';
}

/* Prints line cut to width display columns (0: whole), without trailing spaces. */
static void
s_put_line(FILE *out, char *line, size_t width)
{
    size_t cols = 0, i = 0;
    for (; line[i]; i++) {
        if (((unsigned char)line[i] & 0xc0) != 0x80) {
            if (width && cols == width)
                break;
            cols++;
        }
    }
    line[i] = '\0';
    while (i > 0 && line[i - 1] == ' ')
        line[--i] = '\0';
    fprintf(out, "%s\n", line);
}

size_t
ob_mon_table_print(const ob_mon_table_t *self, FILE *out, size_t width, size_t max_rows)
{
    size_t *widths = calloc(self->cols, sizeof *widths);
    size_t rows = max_rows < self->rows ? max_rows : self->rows;
    size_t cap = 1;
    if (!widths)
        return 0;
    for (size_t c = 0; c < self->cols; c++) {
        widths[c] = ob_mon_text_width(self->headers[c]);
        size_t bytes = strlen(self->headers[c]);
        for (size_t r = 0; r < rows; r++) {
            const char *cell = self->cells[r * self->cols + c];
            size_t w = ob_mon_text_width(cell);
            if (w > widths[c])
                widths[c] = w;
            if (strlen(cell) > bytes)
                bytes = strlen(cell);
        }
        cap += widths[c] + bytes + S_COLUMN_GAP;
    }
    char *line = malloc(cap);
    size_t printed = 0;
    if (!line)
        goto out;
    for (size_t r = 0; r <= rows; r++) {
        size_t len = 0;
        line[0] = '\0';
        for (size_t c = 0; c < self->cols; c++) {
            const char *text = r == 0 ? self->headers[c] : self->cells[(r - 1) * self->cols + c];
            s_cell(line, cap, &len, text, widths[c], self->align[c], c + 1 == self->cols);
        }
        s_put_line(out, line, width);
        printed++;
    }
out:
    free(line);
    free(widths);
    return printed;
}
