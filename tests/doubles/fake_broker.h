/*  fake_broker: a scriptable stand-in for orderbus-broker, for client tests.

    A zactor that owns a ROUTER bound to tcp://127.0.0.1:<ephemeral port> and speaks the
    client side of the protocol like the real broker: HELLO -> WELCOME, PING -> PONG, PUBLISH
    -> CONFIRM with per-topic sequence numbers and deduplication by event id (kept across
    restarts, like the real store), and ERROR HELLO_REQUIRED to a connection that has not said
    HELLO in this incarnation. Knobs (fake_broker_set) make it misbehave on purpose:

      silent        1: receive and count everything, answer nothing
      hold          1: keep publishes unanswered until fake_broker_release
      pong          0: do not answer PING (default 1)
      double        1: send every CONFIRM twice
      drop          1: store publishes but send no CONFIRM (as if lost on the way)
      hello_error   wire code: refuse every HELLO with this ERROR (0: welcome)
      forget_at     req: on the first PUBLISH with this req, forget the sender's session and
                    answer HELLO_REQUIRED (then 0 again)
      refuse_req    req: answer the PUBLISH with this req with ERROR refuse_code
      refuse_code   wire code for refuse_req
      max_event     max_event announced in WELCOME (default OB_EVENT_MAX_DEFAULT)
      subscribe_error  wire code: refuse every SUBSCRIBE with this ERROR (0: answer)
      hold_subscribe   n: keep SUBSCRIBEs unanswered until fake_broker_release, or (n > 1)
                       until n are held, then answer them all in order
      request_error    wire code: refuse every admin request with this ERROR (0: OK)
      more             1: admin OKs say more = true
      fetch_frames     n: event frames in the OK of a FETCH of a range (default 0)

    Subscriptions, as the real broker keeps them (PROTOCOL.md 12), simplified: SUBSCRIBE
    creates a subscription (an empty name makes an ephemeral "eph-<16 hex digits>", counting
    from 1 across restarts) or attaches to an existing one with the same patterns and types
    (as sets; else SUBSCRIPTION_EXISTS), answering SUBSCRIBED. One consumer per subscription:
    the last connection that subscribed. UNSUBSCRIBE detaches (OK) or answers
    NO_SUCH_SUBSCRIPTION. Every event stored by a publish is delivered, after its CONFIRM, to
    each subscription with a consumer whose patterns match its topic (and types, its type),
    attempt 1. Durable subscriptions survive restarts, without consumers (a restart or
    fake_broker_forget detaches everything, and deletes the ephemeral ones). ACK and NACK are
    recorded, never answered. Admin requests get OK with the bytes of
    fake_broker_set_result as result, FETCH also an event frame (id "ev-<seq>" on its topic),
    a FETCH of a range fetch_frames of them (ids from "ev-<seq>" up);
    SUB_DELETE deletes, sending ERROR 17 {sub} to the consumer first.

    Counters (fake_broker_count, fake_broker_wait): hellos, pings, publishes, confirms, peers
    (distinct connections seen), repeat_hellos (HELLOs from a connection that said HELLO
    before), subscribes, unsubscribes, acks, nacks, requests (admin), deliveries (DELIVERs
    sent, junk included). The log (fake_broker_log) lists HELLOs, PUBLISHes and the
    subscription commands in arrival order: "H P1 P2 S A N U R H P1 P2" (S SUBSCRIBE, U
    UNSUBSCRIBE, A ACK, N NACK, R admin; PINGs are left out, their timing is not the test's).
    fake_broker_messages gives the decoded fields of every HELLO, SUBSCRIBE, UNSUBSCRIBE, ACK,
    NACK and admin request received, one line each:
      HELLO name=<name> heartbeat_ms=<n> max_run=<n>
      SUBSCRIBE sub=<name> patterns=<p1,p2> types=<t1,t2> start=<new> start_seq=<n>
                start_time=<n> credit=<n> ack_wait_ms=<n> max_attempts=<n> backoff_ms=<n>
      UNSUBSCRIBE sub=<name>
      ACK sub=<name> topic=<topic> seq=<n> upto=<0|1>
      NACK sub=<name> topic=<topic> seq=<n> delay_ms=<n>
      <COMMAND> sub=<name> topic=<topic> seq=<n> after=<name>     (admin)
                [count=<n> time=<n>]                                (a FETCH of a range)

    Every call is synchronous: it returns once the actor has done it. Sessions are "fake-<n>",
    n counting incarnations from 1. */
#ifndef OB_FAKE_BROKER_H
#define OB_FAKE_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "orderbus/client.h"

typedef struct fake_broker fake_broker_t;

/* Starts a fake broker. Returns NULL if it cannot bind. */
fake_broker_t *fake_broker_new(void);

/* Stops it and sets *self_p to NULL; accepts NULL. */
void fake_broker_destroy(fake_broker_t **self_p);

/* Returns the endpoint clients connect to; borrowed until destroy. */
const char *fake_broker_endpoint(const fake_broker_t *self);

/* Sets a knob (see above). */
void fake_broker_set(fake_broker_t *self, const char *knob, uint64_t value);

/* Answers every held publish, oldest first or, if reverse, newest first; then every held
   SUBSCRIBE, oldest first. */
void fake_broker_release(fake_broker_t *self, int reverse);

/* Simulates a restart: destroys the ROUTER (dropping connections and held publishes), binds a
   new one on the same port, and starts a new session; the store survives. Returns 0, or -1
   if the port could not be bound again, with the reason in *ret_error (the caller frees it)
   if ret_error is not NULL. */
int fake_broker_restart(fake_broker_t *self, char **ret_error);

/* Forgets every connection's session (the next PING or PUBLISH gets HELLO_REQUIRED). */
void fake_broker_forget(fake_broker_t *self);

/* Sends CONFIRM and ERROR for req to every connection with a session, as a stale or stray
   answer would arrive. */
void fake_broker_stray(fake_broker_t *self, uint64_t req);

/* Sends malformed messages to every connection with a session: a single frame, a bad
   signature, too many frames, and a CONFIRM whose body is not msgpack. */
void fake_broker_junk(fake_broker_t *self);

/* Returns a counter (see above). */
int64_t fake_broker_count(fake_broker_t *self, const char *counter);

/* Waits until counter >= value, up to timeout_ms. Returns 0 or -1 on timeout. */
int fake_broker_wait(fake_broker_t *self, const char *counter, int64_t value, int timeout_ms);

/* Returns the log; the caller frees it. */
char *fake_broker_log(fake_broker_t *self);

/* cmocka helpers for the tests that use the fake (fail the running test):
   fake_broker_assert_log_ends asserts that the log ends with suffix;
   fake_broker_must_restart restarts the broker (fake_broker_restart) or fails. */
void fake_broker_assert_log_ends(fake_broker_t *self, const char *suffix);
void fake_broker_must_restart(fake_broker_t *self);

/* A client test's cmocka state: its fake broker and the client under test. */
typedef struct fake_broker_fixture {
    fake_broker_t *broker; /* the test's broker, owned */
    ob_client_t *client;   /* the client under test, made by the test (or NULL), owned */
} fake_broker_fixture_t;

/* cmocka setup and teardown of a fake_broker_fixture_t: the setup starts the broker (or
   fails the test), the teardown destroys the client, if any, and the broker. Return 0. */
int fake_broker_setup(void **state_p);
int fake_broker_teardown(void **state_p);

/* Returns the lines of fake_broker_messages for command ("SUBSCRIBE", "ACK", "FETCH", ...,
   as ob_command_name names it), in arrival order, each ending with '\n' ("" if none); the
   caller frees it. */
char *fake_broker_messages(fake_broker_t *self, const char *command);

/* Sets the result the OK of admin requests carries: len bytes at result (copied; one msgpack
   object), or none if len is 0. */
void fake_broker_set_result(fake_broker_t *self, const uint8_t *result, size_t len);

/* Sends the consumer of sub a DELIVER of a valid event (id "ev-<seq>", type
   "project_item.created") on topic. Returns 0, or -1 if sub has no consumer. */
int fake_broker_deliver(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                        uint32_t attempt);

/* The time fake_broker_deliver_run gives event i of a run from seq: µs, as DELIVER's times. */
#define FAKE_BROKER_RUN_TIME(seq, i) ((uint64_t)(seq)*1000 + (uint64_t)(i))

/* Sends the consumer of sub a DELIVER run (PROTOCOL.md 12.3) of count (1..OB_DELIVER_RUN_MAX)
   valid events on topic, seq .. seq + count - 1, made as fake_broker_deliver makes them, one
   event frame each: all with attempt, the first reporting skipped (0: none), event i stored
   at FAKE_BROKER_RUN_TIME(seq, i). count 1 is a single DELIVER. Counts one delivery. Returns
   0, or -1 if sub has no consumer or count is out of range. */
int fake_broker_deliver_run(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                            uint32_t count, uint32_t attempt, uint64_t skipped);

/* As fake_broker_deliver, with an event frame of event_len bytes of junk instead (the client
   does not look into it). */
int fake_broker_deliver_raw(fake_broker_t *self, const char *sub, const char *topic, uint64_t seq,
                            size_t event_len);

/* Sends the consumer of sub bad DELIVERs: no event frame, an event frame one byte over
   max_event + OB_DEAD_LETTER_EXTRA, a body that is not msgpack, an empty event frame, a
   body without seq, four frames, and a valid one for a subscription named "nobody". Returns
   0, or -1 if sub has no consumer. */
int fake_broker_deliver_junk(fake_broker_t *self, const char *sub);

/* Sends the consumer of sub four DELIVER runs on "oms.1", valid but for their number of event
   frames (valid events): count 3 with 2 (seqs 1-3), count 3 with 4 (seqs 11-13), count 2
   with none (seqs 21-22), and count OB_DELIVER_RUN_MAX with one more, a message longer than
   OB_DELIVER_FRAMES_MAX (seqs 31-94). Returns 0, or -1 if sub has no consumer. */
int fake_broker_deliver_junk_run(fake_broker_t *self, const char *sub);

/* Deletes the subscription sub as SUB_DELETE does: ERROR {code 17, sub} to its consumer.
   Returns 0, or -1 if there is no such subscription. */
int fake_broker_delete(fake_broker_t *self, const char *sub);

#endif
