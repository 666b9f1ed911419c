/*  ob_wire: header and body frames of protocol messages. See wire.h and proto/PROTOCOL.md,
    "Messages".

    As in event.c, one rule check (s_check) serves both directions: the encoder refuses what
    the decoder would refuse, so a peer never receives a message we would not accept. The
    decoder (s_read_body) only checks what it needs to read a field safely (its type, and the
    caps of the arrays it copies into) and the rules that depend on whether a field was
    present at all, which the flat struct cannot show s_check.

    The encoder packs with msgpack-c; the decoder reads with the cursor readers of mpscan.h
    and allocates nothing (see "decoding" below): it runs for every message a broker or a
    subscriber receives. */
#include "orderbus/wire.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "command_table.h"
#include "mpscan.h"
#include "orderbus/error.h"
#include "orderbus/event.h"
#include "orderbus/limits.h"

/* Every body key of every command, the encoder's table. The decoder looks up only the keys
   of the message's command (s_command_keys): a key that belongs to another command is
   unknown there and ignored like any other, and ob_mp_read_fields catches a duplicate of
   any key, known or not, so the keys looked up change nothing but the speed. */
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
    S_KEY_SUB,
    S_KEY_RESULT,
    S_KEY_MORE,
    S_KEY_PATTERNS,
    S_KEY_TYPES,
    S_KEY_START,
    S_KEY_START_SEQ,
    S_KEY_START_TIME,
    S_KEY_CREDIT,
    S_KEY_ACK_WAIT_MS,
    S_KEY_MAX_ATTEMPTS,
    S_KEY_BACKOFF_MS,
    S_KEY_CREATED,
    S_KEY_TOPIC,
    S_KEY_ATTEMPT,
    S_KEY_TIME,
    S_KEY_SKIPPED,
    S_KEY_UPTO,
    S_KEY_DELAY_MS,
    S_KEY_AFTER,
    S_KEY_MAX_PENDING,
    S_KEY_ATTACH,
    S_KEY_MAX_RUN,
    S_KEY_TIMES,
    S_WIRE_KEYS
};

static const ob_mp_key_t s_wire_keys[S_WIRE_KEYS] = {
    [S_KEY_NAME] = OB_MP_KEY("name"),
    [S_KEY_HEARTBEAT_MS] = OB_MP_KEY("heartbeat_ms"),
    [S_KEY_VERSION] = OB_MP_KEY("version"),
    [S_KEY_SESSION] = OB_MP_KEY("session"),
    [S_KEY_MAX_EVENT] = OB_MP_KEY("max_event"),
    [S_KEY_MAX_PENDING] = OB_MP_KEY("max_pending"),
    [S_KEY_ATTACH] = OB_MP_KEY("attach"),
    [S_KEY_MAX_RUN] = OB_MP_KEY("max_run"),
    [S_KEY_TIMES] = OB_MP_KEY("times"),
    [S_KEY_REQ] = OB_MP_KEY("req"),
    [S_KEY_CODE] = OB_MP_KEY("code"),
    [S_KEY_REASON] = OB_MP_KEY("reason"),
    [S_KEY_SEQ] = OB_MP_KEY("seq"),
    [S_KEY_DUP] = OB_MP_KEY("dup"),
    [S_KEY_COUNT] = OB_MP_KEY("count"),
    [S_KEY_SUB] = OB_MP_KEY("sub"),
    [S_KEY_RESULT] = OB_MP_KEY("result"),
    [S_KEY_MORE] = OB_MP_KEY("more"),
    [S_KEY_PATTERNS] = OB_MP_KEY("patterns"),
    [S_KEY_TYPES] = OB_MP_KEY("types"),
    [S_KEY_START] = OB_MP_KEY("start"),
    [S_KEY_START_SEQ] = OB_MP_KEY("start_seq"),
    [S_KEY_START_TIME] = OB_MP_KEY("start_time"),
    [S_KEY_CREDIT] = OB_MP_KEY("credit"),
    [S_KEY_ACK_WAIT_MS] = OB_MP_KEY("ack_wait_ms"),
    [S_KEY_MAX_ATTEMPTS] = OB_MP_KEY("max_attempts"),
    [S_KEY_BACKOFF_MS] = OB_MP_KEY("backoff_ms"),
    [S_KEY_CREATED] = OB_MP_KEY("created"),
    [S_KEY_TOPIC] = OB_MP_KEY("topic"),
    [S_KEY_ATTEMPT] = OB_MP_KEY("attempt"),
    [S_KEY_TIME] = OB_MP_KEY("time"),
    [S_KEY_SKIPPED] = OB_MP_KEY("skipped"),
    [S_KEY_UPTO] = OB_MP_KEY("upto"),
    [S_KEY_DELAY_MS] = OB_MP_KEY("delay_ms"),
    [S_KEY_AFTER] = OB_MP_KEY("after"),
};

/* The keys one command's body can carry: indexes into s_wire_keys. */
typedef struct s_keyset {
    const uint8_t *index; /* S_KEY_* of each key, NULL when count is 0 */
    size_t count;         /* entries at index */
} s_keyset_t;

#define S_KEYSET(...)                                                                              \
    {                                                                                              \
        (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})                     \
    }

/* The keys of each command, in the order ob_wire_encode_body writes them: ob_mp_read_fields
   tries the table entry after the last key found first, so a body from our encoder costs
   about one comparison per key. Must hold every key s_read_body reads for the command (a key
   left out would read as absent). Indexed by the header's command byte, whatever it is;
   PING, PONG and the bytes that are no command have no keys. */
static const s_keyset_t s_command_keys[UINT8_MAX + 1] = {
    [OB_CMD_HELLO] = S_KEYSET(S_KEY_REQ, S_KEY_NAME, S_KEY_HEARTBEAT_MS, S_KEY_MAX_RUN),
    [OB_CMD_WELCOME] = S_KEYSET(S_KEY_VERSION, S_KEY_SESSION, S_KEY_HEARTBEAT_MS, S_KEY_MAX_EVENT,
                                S_KEY_MAX_PENDING),
    [OB_CMD_ERROR] = S_KEYSET(S_KEY_REQ, S_KEY_CODE, S_KEY_REASON, S_KEY_SUB),
    [OB_CMD_OK] = S_KEYSET(S_KEY_REQ, S_KEY_RESULT, S_KEY_MORE),
    [OB_CMD_PUBLISH] = S_KEYSET(S_KEY_REQ),
    [OB_CMD_CONFIRM] = S_KEYSET(S_KEY_REQ, S_KEY_SEQ, S_KEY_COUNT, S_KEY_DUP),
    [OB_CMD_SUBSCRIBE] =
        S_KEYSET(S_KEY_REQ, S_KEY_SUB, S_KEY_PATTERNS, S_KEY_TYPES, S_KEY_START, S_KEY_START_SEQ,
                 S_KEY_START_TIME, S_KEY_CREDIT, S_KEY_ACK_WAIT_MS, S_KEY_MAX_ATTEMPTS,
                 S_KEY_BACKOFF_MS, S_KEY_ATTACH),
    [OB_CMD_SUBSCRIBED] = S_KEYSET(S_KEY_REQ, S_KEY_SUB, S_KEY_CREATED),
    [OB_CMD_DELIVER] = S_KEYSET(S_KEY_SUB, S_KEY_TOPIC, S_KEY_SEQ, S_KEY_ATTEMPT, S_KEY_TIME,
                                S_KEY_SKIPPED, S_KEY_COUNT, S_KEY_TIMES),
    [OB_CMD_ACK] = S_KEYSET(S_KEY_SUB, S_KEY_TOPIC, S_KEY_SEQ, S_KEY_UPTO),
    [OB_CMD_NACK] = S_KEYSET(S_KEY_SUB, S_KEY_TOPIC, S_KEY_SEQ, S_KEY_DELAY_MS),
    [OB_CMD_UNSUBSCRIBE] = S_KEYSET(S_KEY_REQ, S_KEY_SUB),
    [OB_CMD_TOPICS] = S_KEYSET(S_KEY_REQ, S_KEY_AFTER),
    [OB_CMD_SUBS] = S_KEYSET(S_KEY_REQ, S_KEY_AFTER),
    [OB_CMD_SUB_INFO] = S_KEYSET(S_KEY_REQ, S_KEY_SUB, S_KEY_AFTER),
    [OB_CMD_SUB_REPOSITION] =
        S_KEYSET(S_KEY_REQ, S_KEY_SUB, S_KEY_START, S_KEY_START_SEQ, S_KEY_START_TIME),
    [OB_CMD_SUB_DELETE] = S_KEYSET(S_KEY_REQ, S_KEY_SUB),
    [OB_CMD_FETCH] = S_KEYSET(S_KEY_REQ, S_KEY_TOPIC, S_KEY_SEQ, S_KEY_COUNT, S_KEY_TIME),
};

/* ob_command_name's answer for a byte that is no command. */
static const char s_unknown_name[] = "UNKNOWN";

const char *
ob_command_name(int command)
{
    const ob_command_info_t *info = ob_command_info(command);
    return info ? info->name : s_unknown_name;
}

const char *
ob_start_name(ob_start_t start)
{
    switch (start) {
    case OB_START_NEW:
        return "new";
    case OB_START_EARLIEST:
        return "earliest";
    case OB_START_SEQ:
        return "seq";
    case OB_START_TIME:
        return "time";
    default:
        return NULL;
    }
}

/* Returns 1 if command is one of ob_command_t (command_table.h). */
static int
s_command_known(int command)
{
    return ob_command_info(command) != NULL;
}

/* Returns 1 if command's body must carry req: every request and every reply to one, but
   ERROR (optional there: 0 = not tied to a request). */
static int
s_command_has_req(int command)
{
    const ob_command_info_t *info = ob_command_info(command);
    return info && info->req;
}

void
ob_wire_msg_init(ob_wire_msg_t *msg, int command)
{
    assert(msg);
    memset(msg, 0, sizeof *msg);
    msg->command = (uint8_t)command;
    if (command == OB_CMD_SUBSCRIBE) {
        msg->start = OB_START_NEW;
        msg->credit = OB_CREDIT_DEFAULT;
        msg->ack_wait_ms = OB_ACK_WAIT_MS_DEFAULT;
        msg->max_attempts = OB_MAX_ATTEMPTS_DEFAULT;
        msg->backoff_ms = OB_BACKOFF_MS_DEFAULT;
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

/* Checks a subscription name in msg->sub: min..OB_SUB_NAME_MAX bytes of [a-z0-9_-] (min 0
   where "" means none). Returns 0, OB_ERR_TOO_LARGE or OB_ERR_FIELD_TYPE. */
static int
s_check_sub(const ob_wire_msg_t *msg, size_t min)
{
    int rc = s_check_str(msg->sub, sizeof msg->sub, min, OB_SUB_NAME_MAX);
    if (rc)
        return rc;
    for (const char *p = msg->sub; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return OB_ERR_FIELD_TYPE;
    return 0;
}

/* Checks msg->topic: 1..OB_TOPIC_MAX bytes. Its syntax (PROTOCOL.md 7.2) is the broker's
   business: a bad one is INVALID_TOPIC, not a body error. */
static int
s_check_topic(const ob_wire_msg_t *msg)
{
    return s_check_str(msg->topic, sizeof msg->topic, 1, OB_TOPIC_MAX);
}

/* Checks start and, for OB_START_SEQ, start_seq. (A missing start_time cannot be seen in
   the struct, where 0 is a valid time: the decoder checks its presence, the encoder always
   writes it for OB_START_TIME.) */
static int
s_check_start(const ob_wire_msg_t *msg)
{
    if (!ob_start_name(msg->start))
        return OB_ERR_FIELD_TYPE;
    return msg->start == OB_START_SEQ && msg->start_seq == 0 ? OB_ERR_FIELD_TYPE : 0;
}

/* The rules of SUBSCRIBE (PROTOCOL.md 12.2), req and sub aside. */
static int
s_check_subscribe(const ob_wire_msg_t *msg)
{
    int rc = 0;
    if (msg->pattern_count > OB_SUB_PATTERNS_MAX)
        return OB_ERR_TOO_LARGE;
    if (msg->pattern_count == 0)
        return OB_ERR_FIELD_TYPE;
    for (size_t i = 0; i < msg->pattern_count; i++)
        if ((rc = s_check_str(msg->patterns[i], sizeof msg->patterns[i], 1, OB_TOPIC_MAX)))
            return rc;
    if (msg->type_count > OB_SUB_TYPES_MAX)
        return OB_ERR_TOO_LARGE;
    /* the length first (TOO_LARGE), then the event-type syntax (FIELD_TYPE, as a sub name
       with another byte): a filter no event could match is refused, PROTOCOL.md 12.2 */
    for (size_t i = 0; i < msg->type_count; i++) {
        if ((rc = s_check_str(msg->types[i], sizeof msg->types[i], 1, OB_EVENT_TYPE_MAX)))
            return rc;
        if (!ob_event_type_valid(msg->types[i], strlen(msg->types[i])))
            return OB_ERR_FIELD_TYPE;
    }
    if ((rc = s_check_start(msg)))
        return rc;
    if (msg->credit < 1 || msg->credit > OB_CREDIT_MAX || msg->ack_wait_ms < OB_ACK_WAIT_MS_MIN ||
        msg->ack_wait_ms > OB_DELAY_MS_MAX || msg->max_attempts > OB_MAX_ATTEMPTS_MAX ||
        msg->backoff_ms > OB_DELAY_MS_MAX)
        return OB_ERR_FIELD_TYPE;
    return 0;
}

/* The value rules of every command, for both directions. Returns 0, OB_ERR_UNKNOWN_COMMAND,
   OB_ERR_FIELD_TYPE (a value out of range) or OB_ERR_TOO_LARGE (a string or array over its
   cap). An ERROR's reason is not checked: the encoder truncates it, the decoder refuses a
   long one. An OK's result is checked by the encoder alone (s_check_result): the decoder
   takes it from a body the pre-scan passed. */
static int
s_check(const ob_wire_msg_t *msg)
{
    int rc = 0;
    /* 0 is "no request" in ERROR: a refusal of req 0 could not name its request. CONFIRM
       takes any req, as it always has: it echoes a PUBLISH's, which is never 0. */
    if (s_command_has_req(msg->command) && msg->command != OB_CMD_CONFIRM && msg->req == 0)
        return OB_ERR_FIELD_TYPE;

    switch (msg->command) {
    case OB_CMD_HELLO:
        if ((rc = s_check_str(msg->name, sizeof msg->name, 0, OB_CLIENT_NAME_MAX)))
            return rc;
        /* 0 asks for the broker's default */
        if (msg->heartbeat_ms != 0 &&
            (msg->heartbeat_ms < OB_HEARTBEAT_MS_MIN || msg->heartbeat_ms > OB_HEARTBEAT_MS_MAX))
            return OB_ERR_FIELD_TYPE;
        return msg->max_run > OB_DELIVER_RUN_MAX ? OB_ERR_FIELD_TYPE : 0;
    case OB_CMD_WELCOME:
        if ((rc = s_check_str(msg->version, sizeof msg->version, 1, OB_WIRE_VERSION_MAX)) ||
            (rc = s_check_str(msg->session, sizeof msg->session, 1, OB_WIRE_SESSION_MAX)))
            return rc;
        if (msg->heartbeat_ms < OB_HEARTBEAT_MS_MIN || msg->heartbeat_ms > OB_HEARTBEAT_MS_MAX)
            return OB_ERR_FIELD_TYPE;
        if (msg->max_event < 1 || msg->max_event > OB_EVENT_MAX_CAP)
            return OB_ERR_FIELD_TYPE;
        if (msg->max_pending > OB_WINDOW_MAX) /* 0: absent, no limit announced */
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_ERROR:
        if (msg->code == 0) /* wire codes start at 1 */
            return OB_ERR_FIELD_TYPE;
        return s_check_sub(msg, 0); /* "" = not about a subscription */
    case OB_CMD_OK:
        return msg->result_len > 0 && !msg->result ? OB_ERR_FIELD_TYPE : 0;
    case OB_CMD_CONFIRM:
        /* sequence numbers start at 1; a run covers up to OB_CONFIRM_RUN_MAX publishes (0
           is 1) whose last req and seq must not wrap */
        if (msg->seq == 0 || msg->count > OB_CONFIRM_RUN_MAX ||
            (msg->count > 1 && (msg->seq > UINT64_MAX - (msg->count - 1) ||
                                msg->req > UINT64_MAX - (msg->count - 1))))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_SUBSCRIBE:
        if ((rc = s_check_sub(msg, 0))) /* "" = ephemeral: the broker names it */
            return rc;
        if (msg->attach && msg->sub[0] == '\0') /* only a named one can exist already */
            return OB_ERR_FIELD_TYPE;
        return s_check_subscribe(msg);
    case OB_CMD_SUBSCRIBED:
    case OB_CMD_UNSUBSCRIBE:
    case OB_CMD_SUB_DELETE:
        return s_check_sub(msg, 1);
    case OB_CMD_DELIVER:
        if ((rc = s_check_sub(msg, 1)) || (rc = s_check_topic(msg)))
            return rc;
        if (msg->seq == 0 || msg->attempt == 0 || msg->count > OB_DELIVER_RUN_MAX)
            return OB_ERR_FIELD_TYPE;
        /* a run's last seq must not wrap; its first time is `time` */
        if (msg->count > 1 &&
            (msg->seq > UINT64_MAX - (msg->count - 1) || msg->times[0] != msg->time))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_ACK:
    case OB_CMD_NACK:
        if ((rc = s_check_sub(msg, 1)) || (rc = s_check_topic(msg)))
            return rc;
        if (msg->seq == 0 || (msg->command == OB_CMD_NACK && msg->delay_ms > OB_DELAY_MS_MAX))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_TOPICS:
    case OB_CMD_SUBS:
        return s_check_str(msg->after, sizeof msg->after, 0, OB_TOPIC_MAX);
    case OB_CMD_SUB_INFO:
        if ((rc = s_check_sub(msg, 1)))
            return rc;
        return s_check_str(msg->after, sizeof msg->after, 0, OB_TOPIC_MAX);
    case OB_CMD_SUB_REPOSITION:
        if ((rc = s_check_sub(msg, 1)))
            return rc;
        return s_check_start(msg);
    case OB_CMD_FETCH:
        if ((rc = s_check_topic(msg)))
            return rc;
        /* a range is 1..OB_FETCH_RANGE_MAX events; a start time needs a range (13) */
        if (msg->seq == 0 || msg->count > OB_FETCH_RANGE_MAX || (msg->time && !msg->count))
            return OB_ERR_FIELD_TYPE;
        return 0;
    case OB_CMD_PUBLISH: /* req only */
    case OB_CMD_PING:
    case OB_CMD_PONG:
        return 0;
    default:
        return OB_ERR_UNKNOWN_COMMAND;
    }
}

/* --- decoding ------------------------------------------------------------------------------

   The body is read without msgpack-c and without allocating. ob_mp_prescan checks the whole
   frame first, so that a structural fault anywhere wins over any field error (as when
   msgpack-c unpacked the frame before the fields were read); ob_mp_read_fields then finds
   the command's keys in one pass over the map, and the cursor readers of mpscan.h read the
   values in the fixed order of s_read_body, so that the first failure, and so the code
   returned, does not depend on the order of the keys on the wire. The cursor readers report
   types as msgpack-c does (mpscan.h), so every value is accepted or refused as before. */

/* The values of one command's keys in a body. */
typedef struct s_fields {
    const s_keyset_t *set;          /* the command's keys */
    ob_mp_cursor_t at[S_WIRE_KEYS]; /* at[i]: the value of set->index[i]; pos NULL if absent
                                      (entries past set->count are not set) */
} s_fields_t;

/* Returns a cursor at the value of key (an S_KEY_*), or NULL if the body has none. */
static ob_mp_cursor_t *
s_field(s_fields_t *f, int key)
{
    for (size_t i = 0; i < f->set->count; i++)
        if (f->set->index[i] == key)
            return f->at[i].pos ? &f->at[i] : NULL;
    return NULL; /* not a key of the command: s_command_keys lists every key it reads */
}

/* Reads a uint that must fit in 32 bits. Returns 0 or OB_ERR_FIELD_TYPE. */
static int
s_read_u32(ob_mp_cursor_t *cur, uint32_t *ret_value)
{
    uint64_t value = 0;
    int rc = ob_mp_read_uint(cur, &value);
    if (rc)
        return rc;
    if (value > UINT32_MAX)
        return OB_ERR_FIELD_TYPE;
    *ret_value = (uint32_t)value;
    return 0;
}

/* Copies the str at cur into buf (max + 1 bytes) and NUL-terminates it. Returns 0,
   OB_ERR_FIELD_TYPE (not a str, or it holds a NUL byte, which a C string cannot) or
   OB_ERR_TOO_LARGE (over max bytes). buf is untouched on error. */
static int
s_copy_str(ob_mp_cursor_t *cur, size_t max, char *buf)
{
    ob_mp_str_t s;
    int rc = ob_mp_read_str(cur, 0, &s);
    if (rc)
        return rc;
    if (s.len > max)
        return OB_ERR_TOO_LARGE;
    if (ob_mp_has_nul(s.ptr, s.len))
        return OB_ERR_FIELD_TYPE;
    memcpy(buf, s.ptr, s.len); /* ptr is never NULL: nil is refused */
    buf[s.len] = '\0';
    return 0;
}

/* Reads an array of str at cur into the rows of stride bytes at base (a whole 2-D array, as
   char *, so that the arithmetic stays inside one object): at most max_count entries (else
   OB_ERR_TOO_LARGE, before anything is copied), each of at most max_len bytes; sets
   *ret_count. Returns 0, OB_ERR_FIELD_TYPE or OB_ERR_TOO_LARGE; on error the rows before
   the faulty entry hold their copies. Lower bounds are s_check's. */
static int
s_read_str_array(ob_mp_cursor_t *cur, size_t max_count, size_t max_len, char *base, size_t stride,
                 size_t *ret_count)
{
    size_t count = 0;
    int rc = ob_mp_read_array(cur, &count);
    if (rc)
        return rc;
    if (count > max_count)
        return OB_ERR_TOO_LARGE;
    for (size_t i = 0; i < count; i++)
        if ((rc = s_copy_str(cur, max_len, base + i * stride)))
            return rc;
    *ret_count = count;
    return 0;
}

/* Reads a start str ("new", "earliest", "seq", "time"); anything else is FIELD_TYPE. */
static int
s_read_start(ob_mp_cursor_t *cur, ob_start_t *ret_start)
{
    static const ob_start_t starts[] = {OB_START_NEW, OB_START_EARLIEST, OB_START_SEQ,
                                        OB_START_TIME};
    ob_mp_str_t s;
    int rc = ob_mp_read_str(cur, 0, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        const char *name = ob_start_name(starts[i]);
        if (strlen(name) == s.len && memcmp(name, s.ptr, s.len) == 0) {
            *ret_start = starts[i];
            return 0;
        }
    }
    return OB_ERR_FIELD_TYPE;
}

/* Reads start (required or not), start_seq and start_time (SUBSCRIBE, SUB_REPOSITION).
   start_seq and start_time are read whenever present, whatever start says; each is
   MISSING_FIELD when its start needs it and it is absent. */
static int
s_read_position(s_fields_t *f, int start_required, ob_wire_msg_t *msg)
{
    ob_mp_cursor_t *c = NULL;
    int rc = 0;
    if ((c = s_field(f, S_KEY_START))) {
        if ((rc = s_read_start(c, &msg->start)))
            return rc;
    } else if (start_required)
        return OB_ERR_MISSING_FIELD;
    if ((c = s_field(f, S_KEY_START_SEQ))) {
        if ((rc = ob_mp_read_uint(c, &msg->start_seq)))
            return rc;
        if (msg->start_seq == 0) /* present: 1 or more, whatever start is */
            return OB_ERR_FIELD_TYPE;
    } else if (msg->start == OB_START_SEQ)
        return OB_ERR_MISSING_FIELD;
    if ((c = s_field(f, S_KEY_START_TIME)))
        return ob_mp_read_uint(c, &msg->start_time);
    return msg->start == OB_START_TIME ? OB_ERR_MISSING_FIELD : 0;
}

/* Reads the uint32 value of key into *ret_value if the body has one; else leaves it (the
   default ob_wire_msg_init set). Returns 0 or OB_ERR_FIELD_TYPE. */
static int
s_read_opt_u32(s_fields_t *f, int key, uint32_t *ret_value)
{
    ob_mp_cursor_t *c = s_field(f, key);
    return c ? s_read_u32(c, ret_value) : 0;
}

/* Reads the optional fields of SUBSCRIBE past sub and patterns; absent ones keep the
   defaults ob_wire_msg_init set. */
static int
s_read_subscribe(s_fields_t *f, ob_wire_msg_t *msg)
{
    ob_mp_cursor_t *c = NULL;
    int rc = 0;
    if ((c = s_field(f, S_KEY_TYPES)) &&
        (rc = s_read_str_array(c, OB_SUB_TYPES_MAX, OB_EVENT_TYPE_MAX, (char *)msg->types,
                               sizeof msg->types[0], &msg->type_count)))
        return rc;
    if ((rc = s_read_position(f, 0, msg)) || (rc = s_read_opt_u32(f, S_KEY_CREDIT, &msg->credit)) ||
        (rc = s_read_opt_u32(f, S_KEY_ACK_WAIT_MS, &msg->ack_wait_ms)) ||
        (rc = s_read_opt_u32(f, S_KEY_MAX_ATTEMPTS, &msg->max_attempts)) ||
        (rc = s_read_opt_u32(f, S_KEY_BACKOFF_MS, &msg->backoff_ms)))
        return rc;
    if ((c = s_field(f, S_KEY_ATTACH)))
        return ob_mp_read_bool(c, &msg->attach);
    return 0;
}

/* Reads sub (required) and topic, seq: the fields DELIVER, ACK and NACK share. */
static int
s_read_delivery(s_fields_t *f, ob_wire_msg_t *msg)
{
    ob_mp_cursor_t *sub = s_field(f, S_KEY_SUB);
    ob_mp_cursor_t *topic = s_field(f, S_KEY_TOPIC);
    ob_mp_cursor_t *seq = s_field(f, S_KEY_SEQ);
    int rc = 0;
    if (!sub || !topic || !seq)
        return OB_ERR_MISSING_FIELD;
    if ((rc = s_copy_str(sub, OB_SUB_NAME_MAX, msg->sub)) ||
        (rc = s_copy_str(topic, OB_TOPIC_MAX, msg->topic)))
        return rc;
    return ob_mp_read_uint(seq, &msg->seq);
}

/* Reads a DELIVER's count and, for a run (count >= 2), its times: an array of exactly count
   uints. Returns 0, OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE or OB_ERR_TOO_LARGE. */
static int
s_read_run(s_fields_t *f, ob_wire_msg_t *msg)
{
    ob_mp_cursor_t *c = s_field(f, S_KEY_COUNT);
    int rc = 0;
    if (!c) /* absent: one delivery, count stays 0 */
        return 0;
    if ((rc = s_read_u32(c, &msg->count)))
        return rc;
    if (msg->count == 0)
        return OB_ERR_FIELD_TYPE; /* on the wire, a run is 1 or more */
    if (msg->count == 1)
        return 0;
    if (msg->count > OB_DELIVER_RUN_MAX)
        return OB_ERR_TOO_LARGE;
    if (!(c = s_field(f, S_KEY_TIMES)))
        return OB_ERR_MISSING_FIELD;
    size_t n = 0;
    if ((rc = ob_mp_read_array(c, &n)))
        return rc;
    if (n != msg->count)
        return OB_ERR_FIELD_TYPE;
    for (size_t i = 0; i < n; i++)
        if ((rc = ob_mp_read_uint(c, &msg->times[i])))
            return rc;
    return 0;
}

/* Reads the fields of msg->command from the body's values f into msg. Returns 0,
   OB_ERR_MISSING_FIELD, OB_ERR_FIELD_TYPE or OB_ERR_TOO_LARGE. */
static int
s_read_body(s_fields_t *f, ob_wire_msg_t *msg)
{
    ob_mp_cursor_t *c = NULL;
    int rc = 0;

    /* req first, and into msg at once, so that the broker can tie an error in a later field
       to the request. */
    int req_optional = msg->command == OB_CMD_ERROR || msg->command == OB_CMD_HELLO;
    if (s_command_has_req(msg->command) || req_optional) {
        if ((c = s_field(f, S_KEY_REQ))) {
            if ((rc = ob_mp_read_uint(c, &msg->req)))
                return rc;
        } else if (!req_optional) /* optional in ERROR and HELLO: 0 = no request */
            return OB_ERR_MISSING_FIELD;
    }

    /* sub, where the command requires it (SUBSCRIBE and ERROR: optional) */
    switch (msg->command) {
    case OB_CMD_SUBSCRIBED:
    case OB_CMD_UNSUBSCRIBE:
    case OB_CMD_SUB_INFO:
    case OB_CMD_SUB_REPOSITION:
    case OB_CMD_SUB_DELETE:
        if (!(c = s_field(f, S_KEY_SUB)))
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_copy_str(c, OB_SUB_NAME_MAX, msg->sub)))
            return rc;
        break;
    default:
        break;
    }

    switch (msg->command) {
    case OB_CMD_HELLO:
        if (!(c = s_field(f, S_KEY_NAME)))
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_copy_str(c, OB_CLIENT_NAME_MAX, msg->name)) ||
            (rc = s_read_opt_u32(f, S_KEY_HEARTBEAT_MS, &msg->heartbeat_ms)))
            return rc;
        return s_read_opt_u32(f, S_KEY_MAX_RUN, &msg->max_run);
    case OB_CMD_WELCOME: {
        ob_mp_cursor_t *version = s_field(f, S_KEY_VERSION);
        ob_mp_cursor_t *session = s_field(f, S_KEY_SESSION);
        ob_mp_cursor_t *heartbeat = s_field(f, S_KEY_HEARTBEAT_MS);
        ob_mp_cursor_t *max_event = s_field(f, S_KEY_MAX_EVENT);
        if (!version || !session || !heartbeat || !max_event)
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_copy_str(version, OB_WIRE_VERSION_MAX, msg->version)) ||
            (rc = s_copy_str(session, OB_WIRE_SESSION_MAX, msg->session)) ||
            (rc = s_read_u32(heartbeat, &msg->heartbeat_ms)) ||
            (rc = ob_mp_read_uint(max_event, &msg->max_event)))
            return rc;
        return s_read_opt_u32(f, S_KEY_MAX_PENDING, &msg->max_pending);
    }
    case OB_CMD_ERROR: {
        ob_mp_cursor_t *code = s_field(f, S_KEY_CODE);
        ob_mp_cursor_t *reason = s_field(f, S_KEY_REASON);
        if (!code || !reason)
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_read_u32(code, &msg->code)) ||
            (rc = s_copy_str(reason, OB_REASON_MAX, msg->reason)))
            return rc;
        if (!(c = s_field(f, S_KEY_SUB)))
            return 0;
        if ((rc = s_copy_str(c, OB_SUB_NAME_MAX, msg->sub)))
            return rc;
        return msg->sub[0] ? 0 : OB_ERR_FIELD_TYPE; /* present: 1 or more bytes */
    }
    case OB_CMD_OK:
        /* result: any one object, which the pre-scan has checked; ob_wire_decode takes its
           bytes once the rest has passed */
        if ((c = s_field(f, S_KEY_MORE)))
            return ob_mp_read_bool(c, &msg->more);
        return 0;
    case OB_CMD_CONFIRM: {
        ob_mp_cursor_t *seq = s_field(f, S_KEY_SEQ);
        ob_mp_cursor_t *dup = s_field(f, S_KEY_DUP);
        if (!seq || !dup)
            return OB_ERR_MISSING_FIELD;
        if ((rc = ob_mp_read_uint(seq, &msg->seq)) || (rc = ob_mp_read_bool(dup, &msg->dup)))
            return rc;
        if (!(c = s_field(f, S_KEY_COUNT))) /* absent: one publish, count stays 0 */
            return 0;
        if ((rc = s_read_u32(c, &msg->count)))
            return rc;
        return msg->count == 0 ? OB_ERR_FIELD_TYPE : 0; /* on the wire, a run is 1 or more */
    }
    case OB_CMD_SUBSCRIBE: {
        ob_mp_cursor_t *patterns = s_field(f, S_KEY_PATTERNS);
        if (!patterns)
            return OB_ERR_MISSING_FIELD;
        if (((c = s_field(f, S_KEY_SUB)) && (rc = s_copy_str(c, OB_SUB_NAME_MAX, msg->sub))) ||
            (rc = s_read_str_array(patterns, OB_SUB_PATTERNS_MAX, OB_TOPIC_MAX,
                                   (char *)msg->patterns, sizeof msg->patterns[0],
                                   &msg->pattern_count)))
            return rc;
        return s_read_subscribe(f, msg);
    }
    case OB_CMD_SUBSCRIBED:
        if (!(c = s_field(f, S_KEY_CREATED)))
            return OB_ERR_MISSING_FIELD;
        return ob_mp_read_bool(c, &msg->created);
    case OB_CMD_DELIVER: {
        if ((rc = s_read_delivery(f, msg)))
            return rc;
        ob_mp_cursor_t *attempt = s_field(f, S_KEY_ATTEMPT);
        ob_mp_cursor_t *time = s_field(f, S_KEY_TIME);
        if (!attempt || !time)
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_read_u32(attempt, &msg->attempt)) || (rc = ob_mp_read_uint(time, &msg->time)))
            return rc;
        if ((c = s_field(f, S_KEY_SKIPPED)) && (rc = ob_mp_read_uint(c, &msg->skipped)))
            return rc;
        return s_read_run(f, msg);
    }
    case OB_CMD_ACK:
        if ((rc = s_read_delivery(f, msg)))
            return rc;
        if ((c = s_field(f, S_KEY_UPTO)))
            return ob_mp_read_bool(c, &msg->upto);
        return 0;
    case OB_CMD_NACK:
        if ((rc = s_read_delivery(f, msg)))
            return rc;
        return s_read_opt_u32(f, S_KEY_DELAY_MS, &msg->delay_ms);
    case OB_CMD_TOPICS:
    case OB_CMD_SUBS:
    case OB_CMD_SUB_INFO:
        if ((c = s_field(f, S_KEY_AFTER)))
            return s_copy_str(c, OB_TOPIC_MAX, msg->after);
        return 0;
    case OB_CMD_SUB_REPOSITION:
        return s_read_position(f, 1, msg);
    case OB_CMD_FETCH: {
        ob_mp_cursor_t *topic = s_field(f, S_KEY_TOPIC);
        ob_mp_cursor_t *seq = s_field(f, S_KEY_SEQ);
        if (!topic || !seq)
            return OB_ERR_MISSING_FIELD;
        if ((rc = s_copy_str(topic, OB_TOPIC_MAX, msg->topic)) ||
            (rc = ob_mp_read_uint(seq, &msg->seq)))
            return rc;
        ob_mp_cursor_t *time = s_field(f, S_KEY_TIME);
        if (!(c = s_field(f, S_KEY_COUNT))) /* absent: the one event at seq, count stays 0 */
            return time ? OB_ERR_MISSING_FIELD : 0; /* a start time needs a range */
        if ((rc = s_read_u32(c, &msg->count)))
            return rc;
        if (msg->count == 0 || msg->count > OB_FETCH_RANGE_MAX)
            return OB_ERR_FIELD_TYPE;
        return time ? ob_mp_read_uint(time, &msg->time) : 0;
    }
    default: /* PING, PONG: an empty map, extra keys ignored; PUBLISH: req only; UNSUBSCRIBE,
                SUB_DELETE: req and sub only */
        return 0;
    }
}

/* ob_wire_msg_init(msg, command) for decoding, but for the rows of patterns and types,
   which only SUBSCRIBE carries (wire.h): they are 6 KB of the 7.8 KB struct, and zeroing
   the whole struct took ~65 ns a message, longer than reading a DELIVER (~20 ns without
   them; GCC 12, AMD EPYC); and for times (512 bytes), which only a DELIVER run fills, as
   far as its count. Every other byte, padding included, is as ob_wire_msg_init leaves it,
   so every other field reads the same to the byte (callers copy whole string arrays), and
   pattern_count and type_count are 0. */
static void
s_decode_init(ob_wire_msg_t *msg, int command)
{
    _Static_assert(offsetof(ob_wire_msg_t, patterns) < offsetof(ob_wire_msg_t, types) &&
                       offsetof(ob_wire_msg_t, types) < offsetof(ob_wire_msg_t, times),
                   "s_decode_init skips patterns, then types, then times");
    if (command == OB_CMD_SUBSCRIBE) {
        ob_wire_msg_init(msg, command);
        return;
    }
    char *base = (char *)msg;
    size_t patterns = offsetof(ob_wire_msg_t, patterns);
    size_t after_patterns = patterns + sizeof msg->patterns;
    size_t types = offsetof(ob_wire_msg_t, types);
    size_t after_types = types + sizeof msg->types;
    size_t times = offsetof(ob_wire_msg_t, times);
    size_t after_times = times + sizeof msg->times;
    memset(base, 0, patterns);
    memset(base + after_patterns, 0, types - after_patterns);
    memset(base + after_types, 0, times - after_types);
    memset(base + after_times, 0, sizeof *msg - after_times);
    msg->command = (uint8_t)command;
}

/* Returns 0 if the header frame (header_len bytes at header, NULL allowed) is a valid
   header, else OB_ERR_SIGNATURE, OB_ERR_VERSION or OB_ERR_UNKNOWN_COMMAND. */
static int
s_check_header(const uint8_t *header, size_t header_len)
{
    if (!header || header_len != OB_HEADER_SIZE || header[0] != OB_WIRE_SIGNATURE_0 ||
        header[1] != OB_WIRE_SIGNATURE_1)
        return OB_ERR_SIGNATURE;
    if (header[2] != OB_WIRE_VERSION)
        return OB_ERR_VERSION;
    return s_command_known(header[3]) ? 0 : OB_ERR_UNKNOWN_COMMAND;
}

int
ob_wire_decode(const uint8_t *header, size_t header_len, const uint8_t *body, size_t body_len,
               ob_wire_msg_t *ret_msg)
{
    assert(ret_msg);
    int rc = s_check_header(header, header_len);
    if (rc) {
        memset(ret_msg, 0, sizeof *ret_msg); /* command 0: no valid header */
        return rc;
    }
    s_decode_init(ret_msg, header[3]);

    if (body_len > OB_BODY_MAX)
        return OB_ERR_TOO_LARGE;
    size_t used = 0;
    if ((rc = ob_mp_prescan(body, body_len, &used)))
        return rc;
    if (used != body_len)
        return OB_ERR_MALFORMED; /* trailing bytes */

    s_fields_t f;
    ob_mp_key_t keys[S_WIRE_KEYS];
    f.set = &s_command_keys[ret_msg->command];
    for (size_t i = 0; i < f.set->count; i++)
        keys[i] = s_wire_keys[f.set->index[i]];
    ob_mp_cursor_t map = {body, body + body_len};
    rc = ob_mp_read_fields(&map, keys, f.set->count, f.at);
    if (rc == OB_ERR_FIELD_TYPE)
        return OB_ERR_MALFORMED; /* the root is not a map */
    if (rc || (rc = s_read_body(&f, ret_msg)) || (rc = s_check(ret_msg)))
        return rc;

    /* An OK's result: the bytes of its one object, which the pre-scan has checked. s_check
       has seen the OK without it, as it always has. */
    ob_mp_cursor_t *result = ret_msg->command == OB_CMD_OK ? s_field(&f, S_KEY_RESULT) : NULL;
    if (result) {
        const uint8_t *start = result->pos;
        if ((rc = ob_mp_skip(result)))
            return rc; /* cannot happen after the pre-scan */
        ret_msg->result = start;
        ret_msg->result_len = (size_t)(result->pos - start);
    }
    return 0;
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

/* Packs a key from s_wire_keys and a C string value (one s_check passed). */
static int
s_pack_cstr_field(msgpack_packer *pk, int key, const char *s)
{
    return s_pack_str_field(pk, key, s, strlen(s));
}

/* Packs a key from s_wire_keys and a uint value. */
static int
s_pack_uint_field(msgpack_packer *pk, int key, uint64_t value)
{
    S_TRY(ob_mp_pack_key(pk, &s_wire_keys[key]));
    return msgpack_pack_uint64(pk, value);
}

/* Packs a key from s_wire_keys and a bool value: true for any non-zero value. */
static int
s_pack_bool_field(msgpack_packer *pk, int key, int value)
{
    S_TRY(ob_mp_pack_key(pk, &s_wire_keys[key]));
    return value ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

/* Packs a key from s_wire_keys and an array of count C strings in rows of stride bytes. */
static int
s_pack_str_array_field(msgpack_packer *pk, int key, const char *base, size_t stride, size_t count)
{
    S_TRY(ob_mp_pack_key(pk, &s_wire_keys[key]));
    S_TRY(msgpack_pack_array(pk, count));
    for (size_t i = 0; i < count; i++)
        S_TRY(ob_mp_pack_str(pk, base + i * stride, strlen(base + i * stride)));
    return 0;
}

/* Packs SUBSCRIBE: req, patterns, and each other field that differs from its default. */
static int
s_pack_subscribe(msgpack_packer *pk, const ob_wire_msg_t *msg)
{
    int has_sub = msg->sub[0] != '\0';
    int has_types = msg->type_count > 0;
    int has_start = msg->start != OB_START_NEW;
    int has_start_seq = msg->start_seq != 0;
    /* 0 is a valid time, and the decoder needs the field for "time" */
    int has_start_time = msg->start_time != 0 || msg->start == OB_START_TIME;
    int has_credit = msg->credit != OB_CREDIT_DEFAULT;
    int has_ack_wait = msg->ack_wait_ms != OB_ACK_WAIT_MS_DEFAULT;
    int has_max_attempts = msg->max_attempts != OB_MAX_ATTEMPTS_DEFAULT;
    int has_backoff = msg->backoff_ms != OB_BACKOFF_MS_DEFAULT;
    int has_attach = msg->attach != 0;

    S_TRY(msgpack_pack_map(pk, (size_t)(2 + has_sub + has_types + has_start + has_start_seq +
                                        has_start_time + has_credit + has_ack_wait +
                                        has_max_attempts + has_backoff + has_attach)));
    S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
    if (has_sub)
        S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
    S_TRY(s_pack_str_array_field(pk, S_KEY_PATTERNS, (const char *)msg->patterns,
                                 sizeof msg->patterns[0], msg->pattern_count));
    if (has_types)
        S_TRY(s_pack_str_array_field(pk, S_KEY_TYPES, (const char *)msg->types,
                                     sizeof msg->types[0], msg->type_count));
    if (has_start)
        S_TRY(s_pack_cstr_field(pk, S_KEY_START, ob_start_name(msg->start)));
    if (has_start_seq)
        S_TRY(s_pack_uint_field(pk, S_KEY_START_SEQ, msg->start_seq));
    if (has_start_time)
        S_TRY(s_pack_uint_field(pk, S_KEY_START_TIME, msg->start_time));
    if (has_credit)
        S_TRY(s_pack_uint_field(pk, S_KEY_CREDIT, msg->credit));
    if (has_ack_wait)
        S_TRY(s_pack_uint_field(pk, S_KEY_ACK_WAIT_MS, msg->ack_wait_ms));
    if (has_max_attempts)
        S_TRY(s_pack_uint_field(pk, S_KEY_MAX_ATTEMPTS, msg->max_attempts));
    if (has_backoff)
        S_TRY(s_pack_uint_field(pk, S_KEY_BACKOFF_MS, msg->backoff_ms));
    if (has_attach)
        S_TRY(s_pack_bool_field(pk, S_KEY_ATTACH, 1));
    return 0;
}

/* Packs SUB_REPOSITION: req, sub, start, and start_seq, start_time where needed or set. */
static int
s_pack_reposition(msgpack_packer *pk, const ob_wire_msg_t *msg)
{
    int has_start_seq = msg->start_seq != 0;
    int has_start_time = msg->start_time != 0 || msg->start == OB_START_TIME;

    S_TRY(msgpack_pack_map(pk, (size_t)(3 + has_start_seq + has_start_time)));
    S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
    S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
    S_TRY(s_pack_cstr_field(pk, S_KEY_START, ob_start_name(msg->start)));
    if (has_start_seq)
        S_TRY(s_pack_uint_field(pk, S_KEY_START_SEQ, msg->start_seq));
    if (has_start_time)
        S_TRY(s_pack_uint_field(pk, S_KEY_START_TIME, msg->start_time));
    return 0;
}

/* Packs OK: req, and result (copied verbatim) and more when present. */
static int
s_pack_ok(msgpack_packer *pk, const ob_wire_msg_t *msg)
{
    int has_result = msg->result_len > 0;
    int has_more = msg->more != 0;

    S_TRY(msgpack_pack_map(pk, (size_t)(1 + has_result + has_more)));
    S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
    if (has_result) {
        S_TRY(ob_mp_pack_key(pk, &s_wire_keys[S_KEY_RESULT]));
        S_TRY(pk->callback(pk->data, (const char *)msg->result, msg->result_len));
    }
    if (has_more)
        S_TRY(s_pack_bool_field(pk, S_KEY_MORE, 1));
    return 0;
}

/* Packs sub, topic and seq, the start of DELIVER, ACK and NACK, in a map of n pairs. */
static int
s_pack_delivery(msgpack_packer *pk, const ob_wire_msg_t *msg, size_t n)
{
    S_TRY(msgpack_pack_map(pk, n));
    S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
    S_TRY(s_pack_cstr_field(pk, S_KEY_TOPIC, msg->topic));
    return s_pack_uint_field(pk, S_KEY_SEQ, msg->seq);
}

/* Packs msg's body, which passed s_check. Returns 0 or the writer's error. */
static int
s_pack_body(msgpack_packer *pk, const ob_wire_msg_t *msg)
{
    switch (msg->command) {
    case OB_CMD_HELLO:
        S_TRY(msgpack_pack_map(
            pk, (size_t)(1 + (msg->req != 0) + (msg->heartbeat_ms != 0) + (msg->max_run != 0))));
        if (msg->req) /* optional: echoed by an ERROR refusing the HELLO (PROTOCOL.md 6.1) */
            S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_cstr_field(pk, S_KEY_NAME, msg->name));
        if (msg->heartbeat_ms)
            S_TRY(s_pack_uint_field(pk, S_KEY_HEARTBEAT_MS, msg->heartbeat_ms));
        if (msg->max_run)
            S_TRY(s_pack_uint_field(pk, S_KEY_MAX_RUN, msg->max_run));
        return 0;
    case OB_CMD_WELCOME:
        S_TRY(msgpack_pack_map(pk, msg->max_pending ? 5 : 4));
        S_TRY(s_pack_cstr_field(pk, S_KEY_VERSION, msg->version));
        S_TRY(s_pack_cstr_field(pk, S_KEY_SESSION, msg->session));
        S_TRY(s_pack_uint_field(pk, S_KEY_HEARTBEAT_MS, msg->heartbeat_ms));
        S_TRY(s_pack_uint_field(pk, S_KEY_MAX_EVENT, msg->max_event));
        if (msg->max_pending)
            S_TRY(s_pack_uint_field(pk, S_KEY_MAX_PENDING, msg->max_pending));
        return 0;
    case OB_CMD_ERROR:
        S_TRY(msgpack_pack_map(pk, (size_t)(2 + (msg->req != 0) + (msg->sub[0] != '\0'))));
        if (msg->req)
            S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_uint_field(pk, S_KEY_CODE, msg->code));
        S_TRY(s_pack_str_field(pk, S_KEY_REASON, msg->reason, s_reason_len(msg->reason)));
        if (msg->sub[0])
            S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
        return 0;
    case OB_CMD_OK:
        return s_pack_ok(pk, msg);
    case OB_CMD_PUBLISH:
        S_TRY(msgpack_pack_map(pk, 1));
        return s_pack_uint_field(pk, S_KEY_REQ, msg->req);
    case OB_CMD_CONFIRM:
        S_TRY(msgpack_pack_map(pk, msg->count > 1 ? 4 : 3));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_uint_field(pk, S_KEY_SEQ, msg->seq));
        if (msg->count > 1)
            S_TRY(s_pack_uint_field(pk, S_KEY_COUNT, msg->count));
        return s_pack_bool_field(pk, S_KEY_DUP, msg->dup);
    case OB_CMD_SUBSCRIBE:
        return s_pack_subscribe(pk, msg);
    case OB_CMD_SUBSCRIBED:
        S_TRY(msgpack_pack_map(pk, 3));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
        return s_pack_bool_field(pk, S_KEY_CREATED, msg->created);
    case OB_CMD_DELIVER:
        S_TRY(s_pack_delivery(pk, msg, 5 + (msg->skipped != 0) + (msg->count > 1 ? 2 : 0)));
        S_TRY(s_pack_uint_field(pk, S_KEY_ATTEMPT, msg->attempt));
        S_TRY(s_pack_uint_field(pk, S_KEY_TIME, msg->time));
        if (msg->skipped)
            S_TRY(s_pack_uint_field(pk, S_KEY_SKIPPED, msg->skipped));
        if (msg->count > 1) {
            S_TRY(s_pack_uint_field(pk, S_KEY_COUNT, msg->count));
            S_TRY(ob_mp_pack_key(pk, &s_wire_keys[S_KEY_TIMES]));
            S_TRY(msgpack_pack_array(pk, msg->count));
            for (uint32_t i = 0; i < msg->count; i++)
                S_TRY(msgpack_pack_uint64(pk, msg->times[i]));
        }
        return 0;
    case OB_CMD_ACK:
        S_TRY(s_pack_delivery(pk, msg, msg->upto ? 4 : 3));
        if (msg->upto)
            S_TRY(s_pack_bool_field(pk, S_KEY_UPTO, 1));
        return 0;
    case OB_CMD_NACK:
        S_TRY(s_pack_delivery(pk, msg, msg->delay_ms ? 4 : 3));
        if (msg->delay_ms)
            S_TRY(s_pack_uint_field(pk, S_KEY_DELAY_MS, msg->delay_ms));
        return 0;
    case OB_CMD_UNSUBSCRIBE:
    case OB_CMD_SUB_DELETE:
        S_TRY(msgpack_pack_map(pk, 2));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        return s_pack_cstr_field(pk, S_KEY_SUB, msg->sub);
    case OB_CMD_TOPICS:
    case OB_CMD_SUBS:
    case OB_CMD_SUB_INFO: {
        int has_sub = msg->command == OB_CMD_SUB_INFO;
        int has_after = msg->after[0] != '\0';
        S_TRY(msgpack_pack_map(pk, (size_t)(1 + has_sub + has_after)));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        if (has_sub)
            S_TRY(s_pack_cstr_field(pk, S_KEY_SUB, msg->sub));
        if (has_after)
            S_TRY(s_pack_cstr_field(pk, S_KEY_AFTER, msg->after));
        return 0;
    }
    case OB_CMD_SUB_REPOSITION:
        return s_pack_reposition(pk, msg);
    case OB_CMD_FETCH:
        S_TRY(msgpack_pack_map(pk, 3 + (msg->count != 0) + (msg->time != 0)));
        S_TRY(s_pack_uint_field(pk, S_KEY_REQ, msg->req));
        S_TRY(s_pack_cstr_field(pk, S_KEY_TOPIC, msg->topic));
        S_TRY(s_pack_uint_field(pk, S_KEY_SEQ, msg->seq));
        if (msg->count)
            S_TRY(s_pack_uint_field(pk, S_KEY_COUNT, msg->count));
        if (msg->time)
            S_TRY(s_pack_uint_field(pk, S_KEY_TIME, msg->time));
        return 0;
    default: /* PING, PONG */
        return msgpack_pack_map(pk, 0);
    }
}

/* Checks an OK's result bytes as ob_wire_decode will see them: exactly one msgpack object
   that passes the pre-scan (OB_ERR_FIELD_TYPE if not one object, OB_ERR_TOO_LARGE over a
   cap). A structural check only, linear in result_len: what the object holds is the
   command's business. */
static int
s_check_result(const ob_wire_msg_t *msg)
{
    size_t used = 0;
    int rc = ob_mp_prescan(msg->result, msg->result_len, &used);
    if (rc == OB_ERR_TOO_LARGE)
        return rc;
    return rc || used != msg->result_len ? OB_ERR_FIELD_TYPE : 0;
}

int
ob_wire_encode_body(const ob_wire_msg_t *msg, uint8_t *buf, size_t cap, size_t *ret_len)
{
    assert(msg && ret_len);
    int rc = s_check(msg);
    if (rc)
        return rc;
    if (msg->command == OB_CMD_OK && msg->result_len > 0 && (rc = s_check_result(msg)))
        return rc;

    /* A body over OB_BODY_MAX would be refused whatever the caller's buffer (an OK's result
       is the only field that can get there). */
    s_fixbuf_t fb = {buf, buf ? (cap < OB_BODY_MAX ? cap : OB_BODY_MAX) : 0, 0, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, s_fixbuf_write);
    if (s_pack_body(&pk, msg) || fb.full)
        return OB_ERR_TOO_LARGE;
    if (msg->command == OB_CMD_OK && msg->result_len > 0) {
        /* The result sits one level down in the body: a result nested to the full
           OB_MP_DEPTH_MAX on its own is one level too deep there. */
        size_t used = 0;
        if ((rc = ob_mp_prescan(fb.buf, fb.len, &used)))
            return rc;
    }
    *ret_len = fb.len;
    return 0;
}
