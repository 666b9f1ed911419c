/*  orderbus error codes.

    Every function that can fail returns int: 0 on success, -errno for a system error, or one
    of the OB_ERR_* codes below, which live in a reserved range like LMDB's. On the wire an
    ERROR carries the positive code (OB_ERR_BASE - rc), so that a client in another language
    needs only the table in proto/PROTOCOL.md. ob_strerror names every code of both kinds. */
#ifndef OB_ERROR_H
#define OB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#define OB_ERR_BASE (-30000)

/* X-macro: name, wire code, text. The wire code is the number in PROTOCOL.md; never reuse one. */
#define OB_ERRORS(X)                                                                               \
    X(OB_ERR_MALFORMED, 1, "malformed message")                                                    \
    X(OB_ERR_TRUNCATED, 2, "truncated input")                                                      \
    X(OB_ERR_TOO_LARGE, 3, "size or count over its limit")                                         \
    X(OB_ERR_SIGNATURE, 4, "bad protocol signature")                                               \
    X(OB_ERR_VERSION, 5, "unsupported protocol version")                                           \
    X(OB_ERR_UNKNOWN_COMMAND, 6, "unknown command")                                                \
    X(OB_ERR_MISSING_FIELD, 7, "required field missing")                                           \
    X(OB_ERR_FIELD_TYPE, 8, "field has the wrong type or value")                                   \
    X(OB_ERR_INVALID_TOPIC, 9, "invalid topic name")                                               \
    X(OB_ERR_INVALID_EVENT, 10, "invalid event")                                                   \
    X(OB_ERR_HELLO_REQUIRED, 11, "session unknown: send HELLO")                                    \
    X(OB_ERR_STORAGE, 12, "storage failure")                                                       \
    X(OB_ERR_TIMEOUT, 13, "timed out")                                                             \
    X(OB_ERR_CLOSED, 14, "connection closed")                                                      \
    X(OB_ERR_BUSY, 15, "broker busy, retry later")                                                 \
    X(OB_ERR_INVALID_PATTERN, 16, "invalid topic pattern")                                         \
    X(OB_ERR_NO_SUCH_SUBSCRIPTION, 17, "no such subscription")                                     \
    X(OB_ERR_SUBSCRIPTION_EXISTS, 18, "subscription exists with other settings")                   \
    X(OB_ERR_NO_SUCH_TOPIC, 19, "no such topic")                                                   \
    X(OB_ERR_FORBIDDEN, 20, "forbidden")                                                           \
    X(OB_ERR_LIMIT, 21, "resource limit reached")                                                  \
    X(OB_ERR_INVALID_ARGUMENT, 22, "invalid argument")                                             \
    X(OB_ERR_SHUTDOWN, 23, "broker shutting down")

enum {
#define OB_X_ENUM(name, code, text) name = OB_ERR_BASE - (code),
    OB_ERRORS(OB_X_ENUM)
#undef OB_X_ENUM
};

/* Returns a static, never-NULL description of rc: an OB_ERR_* code, -errno, or 0. */
const char *ob_strerror(int rc);

/* Returns the wire code (1..) of an OB_ERR_* rc, or 0 if rc is not one. */
unsigned ob_error_to_wire(int rc);

/* Returns the OB_ERR_* rc of a wire code; an unknown code maps to OB_ERR_MALFORMED. */
int ob_error_from_wire(unsigned code);

#ifdef __cplusplus
}
#endif
#endif
