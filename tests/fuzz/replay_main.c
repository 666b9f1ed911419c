/*  replay_main: runs a fuzz target's LLVMFuzzerTestOneInput on saved inputs, for builds
    without libFuzzer (every CTest build). Usage: replay_<target> PATH...

    Each PATH is a file or a directory whose files (not subdirectories, not dot files) are
    replayed in name order. An empty directory is an error: a corpus that vanished must not
    pass silently. Each input is given in a buffer of exactly its size, so that a sanitizer
    build catches any read past the end. A failing input aborts inside the target; the name
    printed before it says which one. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replays the file at path. Returns 0, or -1 (reported) if it cannot be read. */
static int
s_replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    uint8_t *data = NULL;
    struct stat st;
    int rc = -1;

    if (!file || fstat(fileno(file), &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        goto out;
    }
    size_t size = (size_t)st.st_size;
    data = malloc(size ? size : 1);
    if (!data || (size && fread(data, 1, size, file) != size)) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        goto out;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    rc = 0;
out:
    free(data);
    if (file)
        fclose(file);
    return rc;
}

/* Replays every regular file in the directory dir; adds their number to *count.
   Returns 0 or -1 (reported). */
static int
s_replay_dir(const char *dir, size_t *count)
{
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        size_t len = strlen(dir) + 1 + strlen(name) + 1;
        char *path = malloc(len);
        struct stat st;
        if (!path) {
            rc = -1;
        } else if (name[0] != '.') {
            snprintf(path, len, "%s/%s", dir, name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (s_replay_file(path) == 0)
                    (*count)++;
                else
                    rc = -1;
            }
        }
        free(path);
        free(entries[i]);
    }
    free(entries);
    return rc;
}

int
main(int argc, char **argv)
{
    size_t total = 0;
    int failed = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        size_t count = 0;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            failed = 1;
        } else if (S_ISDIR(st.st_mode)) {
            if (s_replay_dir(argv[i], &count) != 0)
                failed = 1;
            if (count == 0) {
                fprintf(stderr, "replay: %s: no inputs\n", argv[i]);
                failed = 1;
            }
        } else if (s_replay_file(argv[i]) == 0) {
            count = 1;
        } else {
            failed = 1;
        }
        total += count;
    }
    printf("replayed %zu inputs%s\n", total, failed ? ", with errors" : "");
    return failed ? 1 : 0;
}
