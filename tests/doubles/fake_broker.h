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

    Counters (fake_broker_count, fake_broker_wait): hellos, pings, publishes, confirms, peers
    (distinct connections seen), repeat_hellos (HELLOs from a connection that said HELLO
    before). The log (fake_broker_log) lists HELLOs and PUBLISHes in
    arrival order: "H P1 P2 H P1 P2" (PINGs are left out, their timing is not the test's).

    Every call is synchronous: it returns once the actor has done it. Sessions are "fake-<n>",
    n counting incarnations from 1. */
#ifndef OB_FAKE_BROKER_H
#define OB_FAKE_BROKER_H

#include <stdint.h>

typedef struct fake_broker fake_broker_t;

/* Starts a fake broker. Returns NULL if it cannot bind. */
fake_broker_t *fake_broker_new(void);

/* Stops it and sets *self_p to NULL; accepts NULL. */
void fake_broker_destroy(fake_broker_t **self_p);

/* Returns the endpoint clients connect to; borrowed until destroy. */
const char *fake_broker_endpoint(const fake_broker_t *self);

/* Sets a knob (see above). */
void fake_broker_set(fake_broker_t *self, const char *knob, uint64_t value);

/* Answers every held publish, oldest first or, if reverse, newest first. */
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

#endif
