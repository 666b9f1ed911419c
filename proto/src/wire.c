/*  ob_wire: header and body frames of protocol messages. See wire.h and proto/PROTOCOL.md,
    "Messages".

    As in event.c, one rule check (s_check) serves both directions: the encoder refuses what
    the decoder would refuse, so a peer never receives a message we would not accept. */
#include "orderbus/wire.h"

#include <assert.h>
#include <string.h>

#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/limits.h"

/* Every body key of every command. One table for all commands: a key that belongs to
   another command is looked up like the rest and ignored, and duplicates are caught the
   same way for every key. */
enum {
    S_KEY_NAME,
    S_KEY_HEARTBEAT_MS,
    S_KEY_VERSION,
    S_KEY_SESSION,
    S_KEY_MAX_EVENT,
    S_KEY_REQ,
    S_KEY_CODE,
    S_KEY_REASON,
    S_KEY_SEQ,
    S_KEY_DUP,
    S_KEY_COUNT,
    S_WIRE_KEYS
};

static const ob_mp_key_t s_wire_keys[S_WIRE_KEYS] = {
    [S_KEY_NAME] = OB_MP_KEY("name"),
    [S_KEY_HEARTBEAT_MS] = OB_MP_KEY("heartbeat_ms"),
    [S_KEY_VERSION] = OB_MP_KEY("version"),
    [S_KEY_SESSION] = OB_MP_KEY("session"),
    [S_KEY_MAX_EVENT] = OB_MP_KEY("max_event"),
    [S_KEY_REQ] = OB_MP_KEY("req"),
    [S_KEY_CODE] = OB_MP_KEY("code"),
    [S_KEY_REASON] = OB_MP_KEY("reason"),
    [S_KEY_SEQ] = OB_MP_KEY("seq"),
    [S_KEY_DUP] = OB_MP_KEY("dup"),
    [S_KEY_COUNT] = OB_MP_KEY("count"),
};

const char *
ob_command_name(int command)
{
    switch (command) {
    case OB_CMD_HELLO:
        return "HELLO";
    case OB_CMD_WELCOME:
        return "WELCOME";
    case OB_CMD_PING:
        return "PING";
    case OB_CMD_PONG:
        return "PONG";
    case OB_CMD_ERROR:
        return "ERROR";
    case OB_CMD_PUBLISH:
        return "PUBLISH";
    case OB_CMD_CONFIRM:
        return "CONFIRM";
    default:
        return "UNKNOWN";
    }
}

/* Returns 1 if command is one of ob_command_t. */
static int
s_command_known(int command)
{
    switch (command) {
    case OB_CMD_HELLO:
    case OB_CMD_WELCOME:
    case OB_CMD_PING:
    case OB_CMD_PONG:
    case OB_CMD_ERROR:
    case OB_CMD_PUBLISH:
    case OB_CMD_CONFIRM:
        return 1;
    default:
        return 0;
    }
}

/* Returns an error unless the C string in an array of size bytes holds min..max bytes:
   OB_ERR_TOO_LARGE if longer (or not terminated within the array), OB_ERR_FIELD_TYPE if
   shorter. */
static int
s_check_str(const char *s, size_t size, size_t min, size_t max)
{
    size_t len = strnlen(s, size);
    if (len > max)
        return OB_ERR_TOO_LARGE;
    return len < min ? OB_ERR_FIELD_TYPE : 0;
}

/* The value rules of every command, for both directions. Returns 0, OB_ERR_UNKNOWN_COMMAND,
   OB_ERR_FIELD_TYPE (a value out of range) or OB_ERR_TOO_LARGE (a string over its cap). An
   ERROR's reason is not checked: the encoder truncates it, the decoder refuses a long one. */
static int
s_check(const ob_wire_msg_t *msg)
{
    int rc = 0;
    switch (msg->command) {
    case OB_CMD_HELLO:
        if ((rc = s_check_str(msg->name, sizeof msg->name, 0, OB_CLIENT_NAME_MAX)))
            return rc;
        /* 0 asks for the broker's default */
        if (msg->heartbeat_ms != 0 &&
            (msg->heartbeat_ms < OB_HEARTBEAT_MS_MIN || msg->heartbeat_ms > OB_HEARTBEAT_MS_MAX))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_WELCOME:
        if ((rc = s_check_str(msg->version, sizeof msg->version, 1, OB_WIRE_VERSION_MAX)) ||
            (rc = s_check_str(msg->session, sizeof msg->session, 1, OB_WIRE_SESSION_MAX)))
            return rc;
        if (msg->heartbeat_ms < OB_HEARTBEAT_MS_MIN || msg->heartbeat_ms > OB_HEARTBEAT_MS_MAX)
            return OB_ERR_FIELD_TYPE;
        if (msg->max_event < 1 || msg->max_event > OB_EVENT_MAX_CAP)
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_ERROR:
        return msg->code == 0 ? OB_ERR_FIELD_TYPE : 0; /* wire codes start at 1 */
    case OB_CMD_CONFIRM:
        /* sequence numbers start at 1; a run covers up to OB_CONFIRM_RUN_MAX publishes (0
           is 1) whose last req and seq must not wrap */
        if (msg->seq == 0 || msg->count > OB_CONFIRM_RUN_MAX ||
            (msg->count > 1 && (msg->seq > UINT64_MAX - (msg->count - 1) ||
                                msg->req > UINT64_MAX - (msg->count - 1))))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_PUBLISH:
        /* 0 is "no request" in ERROR: a refusal of req 0 could not name its publish */
        return msg->req == 0 ? OB_ERR_FIELD_TYPE : 0;
    case OB_CMD_PING:
    case OB_CMD_PONG:
        return 0;
    default:
        return OB_ERR_UNKNOWN_COMMAND;
    }
}

/* Reads a uint that must fit in 32 bits. Returns 0 or OB_ERR_FIELD_TYPE. */
static int
s_get_u32(const msgpack_object *obj, uint32_t *ret_value)
{
    uint64_t value = 0;
    int rc = ob_mp_get_uint(obj, &value);
    if (rc)
        return rc;
    if (value > UINT32_MAX)
        return OB_ERR_FIELD_TYPE;
    *ret_value = (uint32_t)value;
    return 0;
}

/* Reads the fields of msg->command from the body's values v into msg. Returns 0,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE or OB_ERR_TOO_LARGE. */
static int
s_read_body(const msgpack_object *const *v, ob_wire_msg_t *msg)
{
    int rc = 0;

    /* req first, and into msg at once, so that the broker can tie an error in a later field
       to the request. */
    if (msg->command == OB_CMD_PUBLISH || msg->command == OB_CMD_CONFIRM ||
        msg->command == OB_CMD_ERROR) {
        if (v[S_KEY_REQ]) {
            if ((rc = ob_mp_get_uint(v[S_KEY_REQ], &msg->req)))
                return rc;
        } else if (msg->command != OB_CMD_ERROR) /* optional in ERROR: 0 = no request */
            return OB_ERR_MISSING_FIELD;
    }

    switch (msg->command) {
    case OB_CMD_HELLO:
        if (!v[S_KEY_NAME])
            return OB_ERR_MISSING_FIELD;
        if ((rc = ob_mp_copy_str(v[S_KEY_NAME], OB_CLIENT_NAME_MAX, msg->name)))
            return rc;
        if (v[S_KEY_HEARTBEAT_MS])
            return s_get_u32(v[S_KEY_HEARTBEAT_MS], &msg->heartbeat_ms);
        return 0;
    case OB_CMD_WELCOME:
        if (!v[S_KEY_VERSION] || !v[S_KEY_SESSION] || !v[S_KEY_HEARTBEAT_MS] || !v[S_KEY_MAX_EVENT])
            return OB_ERR_MISSING_FIELD;
        if ((rc = ob_mp_copy_str(v[S_KEY_VERSION], OB_WIRE_VERSION_MAX, msg->version)) ||
            (rc = ob_mp_copy_str(v[S_KEY_SESSION], OB_WIRE_SESSION_MAX, msg->session)) ||
            (rc = s_get_u32(v[S_KEY_HEARTBEAT_MS], &msg->heartbeat_ms)))
            return rc;
        return ob_mp_get_uint(v[S_KEY_MAX_EVENT], &msg->max_event);
    case OB_CMD_ERROR:
        if (!v[S_KEY_CODE] || !v[S_KEY_REASON])
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_get_u32(v[S_KEY_CODE], &msg->code)))
            return rc;
        return ob_mp_copy_str(v[S_KEY_REASON], OB_REASON_MAX, msg->reason);
    case OB_CMD_CONFIRM:
        if (!v[S_KEY_SEQ] || !v[S_KEY_DUP])
            return OB_ERR_MISSING_FIELD;
        if ((rc = ob_mp_get_uint(v[S_KEY_SEQ], &msg->seq)) ||
            (rc = ob_mp_get_bool(v[S_KEY_DUP], &msg->dup)))
            return rc;
        if (!v[S_KEY_COUNT]) /* absent: the confirmation of one publish, count stays 0 */
            return 0;
        if ((rc = s_get_u32(v[S_KEY_COUNT], &msg->count)))
            return rc;
        return msg->count == 0 ? OB_ERR_FIELD_TYPE : 0; /* on the wire, a run is 1 or more */
    default: /* PING, PONG: an empty map, extra keys ignored; PUBLISH: req only */
        return 0;
    }
}

int
ob_wire_decode(const uint8_t *header, size_t header_len, const uint8_t *body, size_t body_len,
               ob_wire_msg_t *ret_msg)
{
    assert(ret_msg);
    memset(ret_msg, 0, sizeof *ret_msg);
    if (!header || header_len != OB_HEADER_SIZE || header[0] != OB_WIRE_SIGNATURE_0 ||
        header[1] != OB_WIRE_SIGNATURE_1)
        return OB_ERR_SIGNATURE;
    if (header[2] != OB_WIRE_VERSION)
        return OB_ERR_VERSION;
    if (!s_command_known(header[3]))
        return OB_ERR_UNKNOWN_COMMAND;
    ret_msg->command = header[3];

    if (body_len > OB_BODY_MAX)
        return OB_ERR_TOO_LARGE;

    msgpack_unpacked unpacked;
    const msgpack_object *map = NULL;
    const msgpack_object *v[S_WIRE_KEYS];

    msgpack_unpacked_init(&unpacked);
    int rc = ob_mp_unpack_map(body, body_len, &unpacked, &map);
    if (rc)
        goto out;
    if ((rc = ob_mp_map_fields(map, s_wire_keys, S_WIRE_KEYS, v)) ||
        (rc = s_read_body(v, ret_msg)) || (rc = s_check(ret_msg)))
        goto out;
out:
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

void
ob_wire_encode_header(const ob_wire_msg_t *msg, uint8_t header[OB_HEADER_SIZE])
{
    header[0] = OB_WIRE_SIGNATURE_0;
    header[1] = OB_WIRE_SIGNATURE_1;
    header[2] = OB_WIRE_VERSION;
    header[3] = msg->command;
}

/* A msgpack writer into the caller's fixed buffer. Once a write has not fitted, every later
   write fails too, so that a small write can never land after a missing one. */
typedef struct s_fixbuf {
    uint8_t *buf; /* the caller's buffer */
    size_t cap;   /* its size */
    size_t len;   /* bytes written */
    int full;     /* a write did not fit */
} s_fixbuf_t;

/* msgpack_packer_write callback for s_fixbuf_t: 0, or -1 when cap would be exceeded. */
static int
s_fixbuf_write(void *data, const char *src, size_t n)
{
    s_fixbuf_t *fb = data;
    if (fb->full || n > fb->cap - fb->len) {
        fb->full = 1;
        return -1;
    }
    if (n) {
        memcpy(fb->buf + fb->len, src, n);
        fb->len += n;
    }
    return 0;
}

/* Returns how many bytes of reason to send: at most OB_REASON_MAX, cut before a UTF-8
   character rather than inside one (at most 3 continuation bytes are given back, so
   arbitrary bytes cannot shrink it further). */
static size_t
s_reason_len(const char *reason)
{
    size_t len = strnlen(reason, OB_REASON_MAX + 1);
    if (len > OB_REASON_MAX) {
        len = OB_REASON_MAX;
        for (int back = 0; back < 3 && len > 0 && ((unsigned char)reason[len] & 0xc0) == 0x80;
             back++)
            len--;
    }
    return len;
}

/* Evaluates a msgpack-c pack call and returns its error from the enclosing function. */
#define S_TRY(expr)                                                                                \
    do {                                                                                           \
        int s_rc_ = (expr);                                                                        \
        if (s_rc_)                                                                                 \
            return s_rc_;                                                                          \
    } while (0)

/* Packs a key from s_wire_keys and a str value. */
static int
s_pack_str_field(msgpack_packer *pk, int key, const char *s, size_t len)
{
    S_TRY(ob_mp_pack_key(pk, &s_wire_keys[key]));
    return ob_mp_pack_str(pk, s, len);
}

/* Packs a key from s_wire_keys and a uint value. */
static int
s_pack_uint_field(msgpack_packer *pk, int key, uint64_t value)
{
    S_TRY(ob_mp_pack_key(pk, &s_wire_keys[key]));
    return msgpack_pack_uint64(pk, value);
}

/* Packs msg's body, which passed s_check. Returns 0 or the writer's error. */
static int
s_pack_body(msgpack_packer *pk, const ob_wire_msg_t *msg)
{
    switch (msg->command) {
    case OB_CMD_HELLO:
        S_TRY(msgpack_pack_map(pk, msg->heartbeat_ms ? 2 : 1));
        S_TRY(s_pack_str_field(pk, S_KEY_NAME, msg->name, strlen(msg->name)));
        if (msg->heartbeat_ms)
            S_TRY(s_pack_uint_field(pk, S_KEY_HEARTBEAT_MS, msg->heartbeat_ms));
        return 0;
    case OB_CMD_WELCOME:
        S_TRY(msgpack_pack_map(pk, 4));
        S_TRY(s_pack_str_field(pk, S_KEY_VERSION, msg->version, strlen(msg->version)));
        S_TRY(s_pack_str_field(pk, S_KEY_SESSION, msg->session, strlen(msg->session)));
        S_TRY(s_pack_uint_field(pk, S_KEY_HEARTBEAT_MS, msg->heartbeat_ms));
        return s_pack_uint_field(pk, S_KEY_MAX_EVENT, msg->max_event);
    case OB_CMD_ERROR:
        S_TRY(msgpack_pack_map(pk, msg->req ? 3 : 2));
        if (msg->req)
            S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_uint_field(pk, S_KEY_CODE, msg->code));
        return s_pack_str_field(pk, S_KEY_REASON, msg->reason, s_reason_len(msg->reason));
    case OB_CMD_PUBLISH:
        S_TRY(msgpack_pack_map(pk, 1));
        return s_pack_uint_field(pk, S_KEY_REQ, msg->req);
    case OB_CMD_CONFIRM:
        S_TRY(msgpack_pack_map(pk, msg->count > 1 ? 4 : 3));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_uint_field(pk, S_KEY_SEQ, msg->seq));
        if (msg->count > 1)
            S_TRY(s_pack_uint_field(pk, S_KEY_COUNT, msg->count));
        S_TRY(ob_mp_pack_key(pk, &s_wire_keys[S_KEY_DUP]));
        return msg->dup ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    default: /* PING, PONG */
        return msgpack_pack_map(pk, 0);
    }
}

int
ob_wire_encode_body(const ob_wire_msg_t *msg, uint8_t *buf, size_t cap, size_t *ret_len)
{
    assert(msg && ret_len);
    int rc = s_check(msg);
    if (rc)
        return rc;

    s_fixbuf_t fb = {buf, buf ? cap : 0, 0, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, s_fixbuf_write);
    if (s_pack_body(&pk, msg) || fb.full)
        return OB_ERR_TOO_LARGE;
    *ret_len = fb.len;
    return 0;
}
