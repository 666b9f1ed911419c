/*  ob_mdb: see mdb.h. */
#include "mdb.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "orderbus/error.h"

int
ob_mdb_rc(int mdb_rc)
{
    if (mdb_rc == 0)
        return 0;
    if (mdb_rc > 0)
        return -mdb_rc;
    return OB_ERR_STORAGE;
}

int
ob_mdb_lock_dir(const char *dir, const char *name, int *ret_fd)
{
    char path[PATH_MAX], pid[OB_MDB_PID_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, OB_MDB_LOCK_MODE);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        goto fail;
    }
    /* The pid is for people and error messages only: the lock is what counts. */
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len) {
        rc = -errno;
        goto fail;
    }
    *ret_fd = fd;
    return 0;
fail:
    close(fd);
    return rc;
}

int
ob_mdb_lock_holder(const char *dir, const char *name, long *ret_pid)
{
    char path[PATH_MAX], buf[OB_MDB_PID_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    /* The file is ours but its content is whatever is there: parse it strictly. */
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    int rc = got < 0 ? -errno : 0;
    close(fd);
    if (rc)
        return rc;
    buf[got] = '\0';
    char *end = NULL;
    errno = 0;
    long pid = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || errno || pid <= 0)
        return -ENOENT;
    *ret_pid = pid;
    return 0;
}

/* Sets env's map size to size (0: adopt the size in the file) under resize, if any. */
static int
s_set_mapsize(MDB_env *env, pthread_rwlock_t *resize, size_t size)
{
    if (resize)
        pthread_rwlock_wrlock(resize); /* no read transaction may be open */
    int rc = mdb_env_set_mapsize(env, size);
    if (resize)
        pthread_rwlock_unlock(resize);
    return rc;
}

int
ob_mdb_grow(MDB_env *env, pthread_rwlock_t *resize)
{
    MDB_envinfo info;
    int rc = mdb_env_info(env, &info);
    if (rc)
        return rc;
    if (info.me_mapsize > SIZE_MAX / 2)
        return MDB_MAP_FULL;
    return s_set_mapsize(env, resize, info.me_mapsize * 2);
}

int
ob_mdb_adopt(MDB_env *env, pthread_rwlock_t *resize)
{
    return s_set_mapsize(env, resize, 0);
}

int
ob_mdb_reader_check(MDB_env *env, int *ret_cleared)
{
    int dead = 0;
    if (mdb_reader_check(env, &dead))
        return OB_ERR_STORAGE;
    if (ret_cleared)
        *ret_cleared = dead;
    return 0;
}
