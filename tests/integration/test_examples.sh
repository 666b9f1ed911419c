#!/bin/sh
# The example clients orderbus-publish and orderbus-subscribe (proto/examples/) against real
# brokers on ipc endpoints in a scratch directory (no port to race for): their exit statuses
# (0 done, 1 refused or no answer, 2 usage), the broker's reason on a refusal, what a timeout
# says, and how long --timeout makes orderbus-subscribe wait.
# Usage: test_examples.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
pub=$build/proto/orderbus-publish
sub=$build/proto/orderbus-subscribe
dir=$(mktemp -d /tmp/orderbus-examples-XXXXXX)
pids=""
cleanup() {
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT
unset ORDERBUS_CERT ORDERBUS_BROKER_CERT

fail() {
    echo "FAIL: $*"
    echo "--- stdout:"
    cat "$dir/out"
    echo "--- stderr:"
    cat "$dir/err"
    exit 1
}

# expect STATUS TEXT CMD...: runs CMD with its output in $dir/out and $dir/err, and checks
# its exit status and that TEXT ("" for none) is in its standard output or error.
expect() {
    want=$1
    text=$2
    shift 2
    status=0
    "$@" >"$dir/out" 2>"$dir/err" || status=$?
    [ "$status" -eq "$want" ] || fail "$* exited $status, expected $want"
    [ -z "$text" ] || cat "$dir/out" "$dir/err" | grep -qF -- "$text" ||
        fail "$*: no '$text' in its output"
}

# now_ms: milliseconds of the monotonic-enough wall clock, for elapsed times.
now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# A plaintext broker (the quick start's configuration) on an ipc endpoint.
plain=ipc://$dir/plain.ipc
"$build/broker/orderbus-broker" --config "$src/deploy/orderbus-broker.cfg" \
    --data-dir "$dir/plain-data" --endpoint "$plain" --metrics '' >"$dir/plain.log" 2>&1 &
pids="$pids $!"

# The first publish also waits for the broker to be up (up to its 5 s timeout).
expect 0 "confirmed: topic oms.7 seq 1" "$pub" -e "$plain" oms.7 project_item.created '{"a":1}'

# Usage errors: nothing is sent, status 2, the message says what is wrong.
expect 2 "is not a topic name" "$pub" -e "$plain" Pub.A x.y '{}'
expect 2 "is not a topic name" "$pub" -e "$plain" 'pub..a' x.y '{}'
expect 2 "is not an event type" "$pub" -e "$plain" oms.7 'Bad Type' '{}'
expect 2 "JSON-DATA is not JSON" "$pub" -e "$plain" oms.7 x.y 'not json'
expect 2 "is not a subscription name" "$sub" -e "$plain" 'Bad' 'oms.*'
expect 2 "is not a topic pattern" "$sub" -e "$plain" ok 'oms.a*'
expect 2 "" "$sub" -e "$plain" --timeout x ok 'oms.*'
# none of those was stored: the next publish is seq 2
expect 0 "confirmed: topic oms.7 seq 2" "$pub" -e "$plain" oms.7 x.y '"text"'

# A refusal prints the broker's reason after the code.
expect 1 "forbidden (dlq.7): dlq.7: " "$pub" -e "$plain" dlq.7 x.y '{}'

# --help: status 0, on standard output, naming what the arguments must be.
expect 0 "JSON-DATA one JSON value" "$pub" --help
expect 0 "bounds the wait for the broker's answer" "$sub" --help

# --timeout 1000 returns after about 1 s, with a broker (no delivery) and without one (the
# SUBSCRIBE is not answered); the timeout names the endpoint and the likely cause.
start=$(now_ms)
expect 0 "subscribed: s1 (created)" "$sub" -e "$plain" --timeout 1000 s1 'none.*'
elapsed=$(($(now_ms) - start))
if [ "$elapsed" -lt 1000 ] || [ "$elapsed" -ge 3000 ]; then fail "--timeout 1000 took $elapsed ms"; fi
none=ipc://$dir/none.ipc
start=$(now_ms)
expect 1 "no answer from $none within 1000 ms" "$sub" -e "$none" --timeout 1000 s1 'oms.*'
elapsed=$(($(now_ms) - start))
[ "$elapsed" -lt 3000 ] || fail "--timeout 1000 without a broker took $elapsed ms"
grep -qF "plaintext" "$dir/err" || fail "the timeout does not mention plaintext"

# A CURVE broker: a plaintext client gets no answer, and is told that CURVE may be why; a
# client with its certificate is refused with the broker's reason.
"$build/broker/orderbus-keys" broker "$dir/keys" >/dev/null
"$build/broker/orderbus-keys" client oms-7 "$dir/keys" --publish mp.7 >"$dir/permissions.cfg"
curve=ipc://$dir/curve.ipc
"$build/broker/orderbus-broker" --config "$src/deploy/orderbus-broker.cfg" \
    --data-dir "$dir/curve-data" --endpoint "$curve" --curve 1 --cert "$dir/keys/broker.cert" \
    --permissions "$dir/permissions.cfg" --metrics '' >"$dir/curve.log" 2>&1 &
pids="$pids $!"
certs="--cert $dir/keys/oms-7.cert --broker-cert $dir/keys/broker.cert"
# shellcheck disable=SC2086
expect 0 "confirmed: topic mp.7 seq 1" "$pub" -e "$curve" $certs mp.7 x.y '{}'
# shellcheck disable=SC2086
expect 1 "forbidden (oms.7): PUBLISH oms.7: client oms-7 may not publish" \
    "$pub" -e "$curve" $certs oms.7 x.y '{}'
expect 1 "requires CURVE" "$sub" -e "$curve" --timeout 1000 s1 'oms.*'
echo "ok"
