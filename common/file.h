/*  ob_file: reading a whole small file (a configuration, a permissions file, a key) with a cap
    on its size, so that a file that is not what it should be (a log, a device, /dev/zero)
    cannot make a daemon allocate without bound. */
#ifndef OB_FILE_H
#define OB_FILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the file at path (borrowed) into a new buffer of at most max bytes plus a NUL, which
   is added (the text may hold other NUL bytes: *ret_len is its length). On success
   *ret_text is the caller's to free() and *ret_len its length. Returns 0; -errno if it
   cannot be opened (-ENOENT, -EACCES, ...); -EIO if reading fails (a directory too);
   OB_ERR_TOO_LARGE if it holds more than max bytes; -ENOMEM. Nothing is written on failure. */
int ob_file_read(const char *path, size_t max, char **ret_text, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
