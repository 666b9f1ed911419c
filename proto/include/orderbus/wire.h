/*  ob_wire: the frames of one protocol message (proto/PROTOCOL.md, "Messages").

    A message is, after the ROUTER identity frame on the broker side:
      frame 1, header: 4 bytes: 'O' 'B' version command
      frame 2, body:   one msgpack map, at most OB_BODY_MAX bytes
      frame 3, event:  the encoded event (PUBLISH, DELIVER, and the OK answering FETCH;
                       a DELIVER run and the OK answering a FETCH of a range carry several)
    This codec handles frames 1 and 2 into a flat ob_wire_msg_t that holds every field of
    every command (as czmq's zproto codecs do); frame 3 is an ob_event (event.h).
    Decoding copies every string into the struct; only an OK's `result` points into the
    body frame given to ob_wire_decode. */
#ifndef OB_WIRE_H
#define OB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OB_WIRE_SIGNATURE_0 'O' /* first header byte */
#define OB_WIRE_SIGNATURE_1 'B' /* second header byte */
#define OB_WIRE_VERSION 1       /* third header byte */
#define OB_WIRE_SESSION_MAX 32  /* bytes in a WELCOME session id */
#define OB_WIRE_VERSION_MAX 32  /* bytes in a WELCOME broker version string */

typedef enum ob_command {
    OB_CMD_HELLO = 0x01,          /* C->B  req (optional), name, heartbeat_ms, max_run */
    OB_CMD_WELCOME = 0x02,        /* B->C  version, session, heartbeat_ms, max_event,
                                              max_pending */
    OB_CMD_PING = 0x03,           /* C->B  (empty) */
    OB_CMD_PONG = 0x04,           /* B->C  (empty) */
    OB_CMD_ERROR = 0x05,          /* B->C  req, code, reason, sub */
    OB_CMD_OK = 0x06,             /* B->C  req, result, more (+ event frame after FETCH) */
    OB_CMD_PUBLISH = 0x10,        /* C->B  req, + event frame */
    OB_CMD_CONFIRM = 0x11,        /* B->C  req, seq, dup, count */
    OB_CMD_SUBSCRIBE = 0x20,      /* C->B  req, sub, patterns, types, start, start_seq,
                                           start_time, credit, ack_wait_ms, max_attempts,
                                           backoff_ms */
    OB_CMD_SUBSCRIBED = 0x21,     /* B->C  req, sub, created */
    OB_CMD_DELIVER = 0x22,        /* B->C  sub, topic, seq, attempt, time, skipped, count,
                                           times, + count event frames */
    OB_CMD_ACK = 0x23,            /* C->B  sub, topic, seq, upto */
    OB_CMD_NACK = 0x24,           /* C->B  sub, topic, seq, delay_ms */
    OB_CMD_UNSUBSCRIBE = 0x25,    /* C->B  req, sub */
    OB_CMD_TOPICS = 0x30,         /* C->B  req, after */
    OB_CMD_SUBS = 0x31,           /* C->B  req, after */
    OB_CMD_SUB_INFO = 0x32,       /* C->B  req, sub, after */
    OB_CMD_SUB_REPOSITION = 0x33, /* C->B  req, sub, start, start_seq, start_time */
    OB_CMD_SUB_DELETE = 0x34,     /* C->B  req, sub */
    OB_CMD_FETCH = 0x35,          /* C->B  req, topic, seq, count, time */
} ob_command_t;

/* Where a subscription starts (SUBSCRIBE and SUB_REPOSITION `start`). */
typedef enum ob_start {
    OB_START_NEW = 0,  /* "new": events stored after the subscription is created (default) */
    OB_START_EARLIEST, /* "earliest": every stored event */
    OB_START_SEQ,      /* "seq": from start_seq on each topic */
    OB_START_TIME,     /* "time": from the first event stored at or after start_time */
} ob_start_t;

typedef struct ob_wire_msg {
    uint8_t command;                       /* an ob_command_t */
    uint64_t req;                          /* client's request id (every request and reply
                                              but PING, PONG, DELIVER, ACK, NACK) */
    uint64_t seq;                          /* topic sequence number (CONFIRM, DELIVER, ACK,
                                              NACK, FETCH) */
    int dup;                               /* 1 if the publish was a duplicate (CONFIRM) */
    uint32_t count;                        /* CONFIRM covers req..req+n-1 with seq..seq+n-1,
                                              all with dup; DELIVER carries the events of
                                              seq..seq+n-1 (a run); n = count, 0 and 1
                                              mean one. FETCH: a range of at most count
                                              events, 1..OB_FETCH_RANGE_MAX; 0 = absent,
                                              the one event at seq */
    uint32_t code;                         /* wire error code (ERROR) */
    uint32_t heartbeat_ms;                 /* heartbeat interval (HELLO, WELCOME) */
    uint32_t max_run;                      /* HELLO: most deliveries the client takes in
                                              one DELIVER, 0..OB_DELIVER_RUN_MAX; 0 and 1
                                              mean one */
    uint64_t max_event;                    /* largest event frame accepted (WELCOME) */
    uint32_t max_pending;                  /* unanswered publishes allowed per session
                                              (WELCOME; 0 = absent) */
    char name[OB_CLIENT_NAME_MAX + 1];     /* client name (HELLO) */
    char reason[OB_REASON_MAX + 1];        /* human-readable reason (ERROR) */
    char session[OB_WIRE_SESSION_MAX + 1]; /* broker session id, new at each start (WELCOME) */
    char version[OB_WIRE_VERSION_MAX + 1]; /* broker software version (WELCOME) */

    /* Subscriptions (PROTOCOL.md section 12) and admin (section 13). Decoding fills the
       documented default of every optional field that is absent. */
    char sub[OB_SUB_NAME_MAX + 1]; /* subscription name (SUBSCRIBE: "" = ephemeral;
                                      SUBSCRIBED, DELIVER, ACK, NACK, UNSUBSCRIBE,
                                      SUB_INFO, SUB_REPOSITION, SUB_DELETE; ERROR 17) */
    size_t pattern_count;          /* entries used in patterns (SUBSCRIBE: 1..) */
    char patterns[OB_SUB_PATTERNS_MAX][OB_TOPIC_MAX + 1]; /* topic patterns, syntax
                                                             unchecked (ob_pattern_valid) */
    size_t type_count; /* entries used in types (SUBSCRIBE), 0 = all */
    char types[OB_SUB_TYPES_MAX][OB_EVENT_TYPE_MAX + 1]; /* event types */
    ob_start_t start;                   /* SUBSCRIBE, SUB_REPOSITION; default OB_START_NEW */
    uint64_t start_seq;                 /* >= 1; required when start is OB_START_SEQ */
    uint64_t start_time;                /* µs; required when start is OB_START_TIME */
    uint32_t credit;                    /* 1..OB_CREDIT_MAX, default OB_CREDIT_DEFAULT */
    uint32_t ack_wait_ms;               /* OB_ACK_WAIT_MS_MIN..OB_DELAY_MS_MAX, default
                                           OB_ACK_WAIT_MS_DEFAULT */
    uint32_t max_attempts;              /* 0..OB_MAX_ATTEMPTS_MAX, default
                                           OB_MAX_ATTEMPTS_DEFAULT; 0 = unlimited */
    uint32_t backoff_ms;                /* 0..OB_DELAY_MS_MAX, default OB_BACKOFF_MS_DEFAULT */
    int attach;                         /* SUBSCRIBE: 1 = attach only, never create (12.2) */
    int created;                        /* SUBSCRIBED: 1 if the subscription was created */
    char topic[OB_TOPIC_MAX + 1];       /* DELIVER, ACK, NACK, FETCH */
    uint32_t attempt;                   /* DELIVER: 1 for the first delivery */
    uint64_t time;                      /* DELIVER: µs the event was stored; FETCH of a
                                           range: start at the first event stored at or
                                           after this µs time (0 = absent) */
    uint64_t skipped;                   /* DELIVER: events removed by retention before
                                           delivery; 0 = absent */
    uint64_t times[OB_DELIVER_RUN_MAX]; /* DELIVER run (count >= 2): the stored time of
                                           each event, times[0] == time; unused else */
    int upto;                           /* ACK: 1 for cumulative */
    uint32_t delay_ms;                  /* NACK: 0..OB_DELAY_MS_MAX, default 0 */
    char after[OB_TOPIC_MAX + 1];       /* TOPICS, SUBS, SUB_INFO: list after this name;
                                           "" = from the start */
    const uint8_t *result;              /* OK: one msgpack object (borrowed; encode copies it,
                                           decode points into the body given), NULL = none */
    size_t result_len;                  /* bytes at result */
    int more;                           /* OK: 1 if a list was cut (13) */
} ob_wire_msg_t;

/* Returns the command's name as PROTOCOL.md's tables write it ("PUBLISH", "SUB_INFO"), or
   "UNKNOWN". Static, never NULL. */
const char *ob_command_name(int command);

/* Returns the wire name of start ("new", "earliest", "seq", "time"), static, or NULL if
   start is not an ob_start_t. */
const char *ob_start_name(ob_start_t start);

/* Zeroes *msg, sets its command and, for OB_CMD_SUBSCRIBE, the defaults of the optional
   settings (credit, ack_wait_ms, max_attempts, backoff_ms; start is OB_START_NEW, 0).
   Start every message to encode here: a zeroed SUBSCRIBE has credit 0 and ack_wait_ms 0,
   which are out of range. Fields a command does not carry stay 0, as after decoding. */
void ob_wire_msg_init(ob_wire_msg_t *msg, int command);

/* Decodes a header frame and a body frame (both borrowed) into *ret_msg, as
   ob_wire_msg_init(ret_msg, command) and then the body's fields: absent optional fields
   hold their defaults, fields the command does not carry are 0. Two exceptions, for speed:
   unless the command is SUBSCRIBE, the rows of patterns and types (6 KB of the 7.8 KB
   struct, which only SUBSCRIBE carries) are left as they were, and pattern_count and
   type_count are 0; read no row past those counts; and times is written only for a
   DELIVER run (count >= 2), and only its first count entries. Every other byte is as after
   ob_wire_msg_init. Strings are copied; an OK's result points into body (result_len bytes,
   one msgpack object) and is valid as long as body is. Allocates nothing. Returns 0;
   OB_ERR_SIGNATURE, OB_ERR_VERSION, OB_ERR_UNKNOWN_COMMAND for the header;
   OB_ERR_TOO_LARGE, OB_ERR_TRUNCATED, OB_ERR_MALFORMED, OB_ERR_MISSING_FIELD,
   OB_ERR_FIELD_TYPE for the body. Unknown body keys are ignored (forward compatibility). On
   error ret_msg->command still holds the command if the header was valid, and ret_msg->req
   the request id if the command has one and it was read (it is read first), so that the
   broker can answer with it; else 0. */
int ob_wire_decode(const uint8_t *header, size_t header_len, const uint8_t *body, size_t body_len,
                   ob_wire_msg_t *ret_msg);

/* Writes the 4-byte header of msg->command into header. */
void ob_wire_encode_header(const ob_wire_msg_t *msg, uint8_t header[OB_HEADER_SIZE]);

/* Encodes msg's body into buf (cap bytes, borrowed); *ret_len is the size written. Optional
   fields at their default are left out; an OK's result (result_len bytes at result,
   borrowed) is copied verbatim, and none is sent when result_len is 0.
   Returns 0, OB_ERR_UNKNOWN_COMMAND, or OB_ERR_TOO_LARGE if cap is too small or the body
   would exceed OB_BODY_MAX. Refuses what ob_wire_decode would refuse: OB_ERR_FIELD_TYPE for
   a value out of range (heartbeat_ms, max_event, code 0, seq 0, req 0 where req is
   required, a subscription setting out of its range, start_seq 0 with OB_START_SEQ, an
   attempt of 0, a FETCH count over OB_FETCH_RANGE_MAX or a FETCH time without a count, an
   empty session, version, topic, pattern, type or required sub, a sub not of [a-z0-9_-],
   no pattern, an OK whose result_len > 0 with result NULL or whose result is
   not exactly one msgpack object), OB_ERR_TOO_LARGE for a string over its cap or not
   NUL-terminated in its array, pattern_count or type_count over its cap, or a result over
   a pre-scan cap. An ERROR reason is cut to OB_REASON_MAX bytes at a UTF-8 character
   boundary instead. */
int ob_wire_encode_body(const ob_wire_msg_t *msg, uint8_t *buf, size_t cap, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
