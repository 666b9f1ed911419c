/*  ob_rest_streams: GET /v1/topics/{topic}/stream, a topic's stored events as Server-Sent
    Events (text/event-stream), for rest.c, which routes the request and checks its token and
    rights (a subscribe pattern and admin read, as for reading the topic) first.

    The stream's text, in the order written:
        : orderbus stream of <topic> from seq <seq>     (a comment, once, at the start)

        id: <seq>
        event: <the event's type>
        data: {"seq", "time", "event"}                  (the JSON of GET .../events/{seq},
                                                         on one line)

        id: <the last seq removed>                      (retention removed events the
        event: skipped                                   stream had not sent yet: the seqs
        data: {"from_seq": <first>, "to_seq": <last>}    from_seq..to_seq are gone)

        : keepalive                                     (after OB_GW_STREAM_KEEPALIVE_MS
                                                         with nothing else written)
    Within one stream the ids ascend by one: every seq is sent once, in order, but for the
    seqs a `skipped` event names. Where it starts: after the Last-Event-ID header's seq (what
    an EventSource sends when it reconnects), else from the from_seq query parameter, else
    after the topic's last seq when the stream opened (new events only). The start is fixed
    before the 200 is sent: an event published after the client saw the 200 is in the
    stream. Refusals: 400 for a Last-Event-ID that is not a decimal seq (0 allowed) or a
    from_seq that is not one >= 1, and for a start beyond the topic's last seq + 1; 429 with
    Retry-After over cfg->rest_streams_max streams of one client at once; 503 when the broker
    does not answer while the stream opens. Rights are checked when a stream opens: a
    SIGHUP that takes them away ends no stream already open.

    Broker down: an open stream stays open (keepalives go on) and continues from its next
    seq when the broker is back, with no gap; it ends (after a comment saying why) only if
    the broker refuses a read (its seqs went back: a broker whose data was lost; or the
    gateway's own rights changed). A client that loses the connection resumes with
    Last-Event-ID and misses nothing that is still stored. ob_rest_streams_close (the
    gateway stopping) ends every stream at once.

    Design: one stream thread with its own broker client (clients are not thread-safe) reads
    for every stream with ob_client_fetch of ranges from the stream's next seq. It learns of
    new events without polling the topics: one ephemeral subscription per streamed topic
    (pattern = the topic), whose deliveries it acks at once; a delivery of seq S says that
    the topic holds S, so its streams read up to S. In a new broker session (a broker
    restart, whose re-created ephemeral subscriptions start at its end) and after a read that
    failed, it asks each topic's last seq again. Each stream has a buffer of at most
    OB_GW_STREAM_BUFFER_MAX bytes (or one event, if larger) waiting for its reader; the thread
    reads for a stream only while its buffer is at most OB_GW_STREAM_RESUME_BYTES, so a slow
    reader stops its reads, never others', and loses nothing (its position is a seq).
    libmicrohttpd sends the buffer through MHD_create_response_from_callback; a callback
    with nothing to send suspends its connection (MHD_suspend_connection, the documented way
    in the internal polling thread's mode, where returning 0 would spin) and the thread
    resumes it when it has written more. A suspended connection is not watched by
    libmicrohttpd: a client gone away is noticed at the next write (a keepalive at the
    latest), and its stream counts towards rest_streams_max until then. */
#ifndef OB_GW_REST_STREAM_H
#define OB_GW_REST_STREAM_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"

#define OB_GW_LAST_EVENT_ID "Last-Event-ID" /* the header an EventSource resumes with */

typedef struct ob_rest_streams ob_rest_streams_t;
typedef struct ob_rest_stream ob_rest_stream_t;

/* Starts the stream thread for cfg (borrowed until destroyed), which makes its broker client
   (connecting in the background; if it cannot, every stream is answered 503). Returns the
   object (owned, ob_rest_streams_destroy) or NULL with a message in errbuf (no memory, no
   pipe, no thread). */
ob_rest_streams_t *ob_rest_streams_new(const ob_gw_config_t *cfg, char *errbuf, size_t errlen);

/* Opens a stream of topic for client (both borrowed, copied) on connection c, from
   libmicrohttpd's access handler, once the request's token and rights are checked:
   last_event_id and from_seq (borrowed, NUL-terminated, NULL when absent) are the
   Last-Event-ID header and the from_seq query value. On success c is suspended and
   *ret_stream is the caller's reference (ob_rest_stream_release when the request
   completes); when c is resumed, call ob_rest_stream_answer. Returns 0, or with nothing
   suspended and a message: OB_ERR_FIELD_TYPE (a bad Last-Event-ID or from_seq), OB_ERR_LIMIT
   (the client has rest_streams_max streams: *ret_retry_after says the seconds to wait),
   OB_ERR_SHUTDOWN (closed), -ENOMEM. */
int ob_rest_stream_open(ob_rest_streams_t *self, struct MHD_Connection *c, const char *topic,
                        const char *client, const char *last_event_id, const char *from_seq,
                        ob_rest_stream_t **ret_stream, uint32_t *ret_retry_after, char *errbuf,
                        size_t errlen);

/* On stream's connection c, resumed: queues the 200 text/event-stream response and returns
   MHD's result, with 0 in *ret_rc; or, if the stream could not open, queues nothing and
   writes the refusal to *ret_rc with a message in errbuf (OB_ERR_INVALID_ARGUMENT: a start
   beyond the topic's end; OB_ERR_BUSY: the broker did not answer; OB_ERR_SHUTDOWN; a
   refusal of the broker) for the caller to answer. */
enum MHD_Result ob_rest_stream_answer(ob_rest_stream_t *stream, struct MHD_Connection *c,
                                      int *ret_rc, char *errbuf, size_t errlen);

/* Drops the caller's reference to a stream (its request completed: the stream ends and no
   longer counts for its client); sets *stream_p to NULL; accepts NULL. */
void ob_rest_stream_release(ob_rest_stream_t **stream_p);

/* Ends every stream (each connection sends what it holds and ends), answers 503 to streams
   still opening, refuses new ones, and stops the thread. Call before stopping the HTTP
   server: no connection stays suspended. Idempotent; accepts NULL. */
void ob_rest_streams_close(ob_rest_streams_t *self);

/* Closes (ob_rest_streams_close) and frees; call after the HTTP server stopped (every
   stream released). Sets *self_p to NULL; accepts NULL. */
void ob_rest_streams_destroy(ob_rest_streams_t **self_p);

#endif
