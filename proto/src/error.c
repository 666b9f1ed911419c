/*  orderbus error codes: names and wire codes. See error.h. */
#include "orderbus/error.h"

#include <errno.h>

/* Largest errno we name as a system error; anything more negative than -S_ERRNO_MAX that is
   not ours is "unknown". Linux errnos stay below 4096 (the kernel's MAX_ERRNO). */
#define S_ERRNO_MAX 4095

/* Returns static text for the common errnos. strerror() is not guaranteed thread-safe (it may
   format unknown numbers into a shared buffer), and strerror_r's two flavours differ between
   POSIX and GNU, so the handful of errnos this codebase meets are named here. */
static const char *
s_errno_text(int err)
{
    switch (err) {
    case EPERM:
        return "operation not permitted";
    case ENOENT:
        return "no such file or directory";
    case EINTR:
        return "interrupted system call";
    case EIO:
        return "input/output error";
    case EBADF:
        return "bad file descriptor";
    case EAGAIN:
        return "resource temporarily unavailable";
    case ENOMEM:
        return "out of memory";
    case EACCES:
        return "permission denied";
    case EFAULT:
        return "bad address";
    case EBUSY:
        return "device or resource busy";
    case EEXIST:
        return "file exists";
    case ENOTDIR:
        return "not a directory";
    case EISDIR:
        return "is a directory";
    case EINVAL:
        return "invalid argument";
    case ENFILE:
        return "too many open files in system";
    case EMFILE:
        return "too many open files";
    case EFBIG:
        return "file too large";
    case ENOSPC:
        return "no space left on device";
    case EROFS:
        return "read-only file system";
    case EPIPE:
        return "broken pipe";
    case ERANGE:
        return "result out of range";
    case ENAMETOOLONG:
        return "file name too long";
    case ENOSYS:
        return "function not implemented";
    case ENOTSUP:
        return "operation not supported";
    case EPROTO:
        return "protocol error";
    case EMSGSIZE:
        return "message too long";
    case EADDRINUSE:
        return "address already in use";
    case EADDRNOTAVAIL:
        return "cannot assign requested address";
    case ENETUNREACH:
        return "network is unreachable";
    case ECONNABORTED:
        return "connection aborted";
    case ECONNRESET:
        return "connection reset by peer";
    case ENOTCONN:
        return "transport endpoint is not connected";
    case ETIMEDOUT:
        return "connection timed out";
    case ECONNREFUSED:
        return "connection refused";
    case EHOSTUNREACH:
        return "no route to host";
    default:
        return "system error";
    }
}

const char *
ob_strerror(int rc)
{
    if (rc == 0)
        return "success";
    switch (rc) {
#define OB_X_CASE(name, wire, text)                                                                \
    case name:                                                                                     \
        return text;
        OB_ERRORS(OB_X_CASE)
#undef OB_X_CASE
    default:
        break;
    }
    /* Checked before negating: -INT_MIN would overflow. */
    if (rc < 0 && rc >= -S_ERRNO_MAX)
        return s_errno_text(-rc);
    return "unknown error code";
}

unsigned
ob_error_to_wire(int rc)
{
    switch (rc) {
#define OB_X_CASE(name, wire, text)                                                                \
    case name:                                                                                     \
        return wire;
        OB_ERRORS(OB_X_CASE)
#undef OB_X_CASE
    default:
        return 0;
    }
}

int
ob_error_from_wire(unsigned code)
{
    switch (code) {
#define OB_X_CASE(name, wire, text)                                                                \
    case wire:                                                                                     \
        return name;
        OB_ERRORS(OB_X_CASE)
#undef OB_X_CASE
    default:
        return OB_ERR_MALFORMED;
    }
}
