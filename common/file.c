/*  ob_file: see file.h. */
#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "orderbus/error.h"

int
ob_file_read(const char *path, size_t max, char **ret_text, size_t *ret_len)
{
    int rc = 0;
    char *text = NULL;
    FILE *file = fopen(path, "r");
    if (!file)
        return -errno;
    text = malloc(max + 1);
    if (!text) {
        rc = -ENOMEM;
        goto fail;
    }
    /* One byte more than max tells a file of exactly max bytes from a larger one. */
    size_t len = fread(text, 1, max + 1, file);
    if (ferror(file)) {
        rc = -EIO;
        goto fail;
    }
    if (len > max) {
        rc = OB_ERR_TOO_LARGE;
        goto fail;
    }
    text[len] = '\0';
    fclose(file);
    *ret_text = text;
    *ret_len = len;
    return 0;
fail:
    free(text);
    fclose(file);
    return rc;
}
