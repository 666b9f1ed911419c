/*  ob_wire: the frames of one protocol message (proto/PROTOCOL.md, "Messages").

    A message is, after the ROUTER identity frame on the broker side:
      frame 1, header: 4 bytes: 'O' 'B' version command
      frame 2, body:   one msgpack map, at most OB_BODY_MAX bytes
      frame 3, event:  the encoded event (PUBLISH and DELIVER only)
    This codec handles frames 1 and 2 into a flat ob_wire_msg_t that holds every field of
    every command (as czmq's zproto codecs do); frame 3 is an ob_event (event.h).
    Decoding copies every string into the struct: nothing points into the input. */
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
    OB_CMD_HELLO = 0x01,   /* C->B  name, heartbeat_ms */
    OB_CMD_WELCOME = 0x02, /* B->C  version, session, heartbeat_ms, max_event */
    OB_CMD_PING = 0x03,    /* C->B  (empty) */
    OB_CMD_PONG = 0x04,    /* B->C  (empty) */
    OB_CMD_ERROR = 0x05,   /* B->C  req, code, reason */
    OB_CMD_PUBLISH = 0x10, /* C->B  req, + event frame */
    OB_CMD_CONFIRM = 0x11, /* B->C  req, seq, dup, count */
} ob_command_t;

typedef struct ob_wire_msg {
    uint8_t command;                       /* an ob_command_t */
    uint64_t req;                          /* client's request id (PUBLISH, CONFIRM, ERROR) */
    uint64_t seq;                          /* topic sequence number (CONFIRM) */
    int dup;                               /* 1 if the publish was a duplicate (CONFIRM) */
    uint32_t count;                        /* CONFIRM covers req..req+n-1 with seq..seq+n-1,
                                              all with dup, n = count; 0 and 1 mean one */
    uint32_t code;                         /* wire error code (ERROR) */
    uint32_t heartbeat_ms;                 /* heartbeat interval (HELLO, WELCOME) */
    uint64_t max_event;                    /* largest event frame accepted (WELCOME) */
    char name[OB_CLIENT_NAME_MAX + 1];     /* client name (HELLO) */
    char reason[OB_REASON_MAX + 1];        /* human-readable reason (ERROR) */
    char session[OB_WIRE_SESSION_MAX + 1]; /* broker session id, new at each start (WELCOME) */
    char version[OB_WIRE_VERSION_MAX + 1]; /* broker software version (WELCOME) */
} ob_wire_msg_t;

/* Returns the command's name ("PUBLISH"), or "UNKNOWN". */
const char *ob_command_name(int command);

/* Decodes a header frame and a body frame (both borrowed) into *ret_msg.
   Returns 0; OB_ERR_SIGNATURE, OB_ERR_VERSION, OB_ERR_UNKNOWN_COMMAND for the header;
   OB_ERR_TOO_LARGE, OB_ERR_TRUNCATED, OB_ERR_MALFORMED, OB_ERR_MISSING_FIELD,
   OB_ERR_FIELD_TYPE for the body. Unknown body keys are ignored (forward compatibility).
   On error *ret_msg->command still holds the command if the header was valid, so the
   broker can answer with the request id if it got that far (*ret_msg->req, else 0). */
int ob_wire_decode(const uint8_t *header, size_t header_len, const uint8_t *body, size_t body_len,
                   ob_wire_msg_t *ret_msg);

/* Writes the 4-byte header of msg->command into header. */
void ob_wire_encode_header(const ob_wire_msg_t *msg, uint8_t header[OB_HEADER_SIZE]);

/* Encodes msg's body into buf (cap bytes); *ret_len is the size written.
   Returns 0, OB_ERR_UNKNOWN_COMMAND, or OB_ERR_TOO_LARGE if cap is too small. Refuses what
   ob_wire_decode would refuse: OB_ERR_FIELD_TYPE for a value out of range (heartbeat_ms,
   max_event, code 0, seq 0, empty session or version), OB_ERR_TOO_LARGE for a string over its
   cap or not NUL-terminated in its array. An ERROR reason is cut to OB_REASON_MAX bytes at a
   UTF-8 character boundary instead. */
int ob_wire_encode_body(const ob_wire_msg_t *msg, uint8_t *buf, size_t cap, size_t *ret_len);

#ifdef __cplusplus
}
#endif
#endif
