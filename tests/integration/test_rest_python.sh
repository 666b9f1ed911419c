#!/bin/sh
# The README's Python REST client (gateway/examples/rest_client.py, shown in the README "REST
# API") against a real broker and gateway in a scratch directory: it publishes three events,
# consumes them through an HTTP subscription and acks them; afterwards nothing is left to
# fetch, and the file is the one the README shows.
# Usage: test_rest_python.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
src=$2
example=$src/gateway/examples/rest_client.py
dir=$(mktemp -d /tmp/orderbus-rest-python-XXXXXX)
pids=""
cleanup() {
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for f in out gw.log broker.log; do
        [ -f "$dir/$f" ] && { echo "--- $f:"; cat "$dir/$f"; }
    done
    exit 1
}
# wait_file FILE: until FILE is not empty, for up to 10 s
wait_file() {
    i=0
    while [ ! -s "$1" ]; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "$1 did not appear"
        sleep 0.05
    done
}

# The README shows the program as it is in the file, line for line.
awk '/^```python$/ {on = 1; next} on && /^```$/ {exit} on' "$src/README.md" >"$dir/readme.py"
cmp -s "$dir/readme.py" "$example" || fail "the README's Python example is not $example"

"$build/broker/orderbus-broker" --curve 0 --data-dir "$dir/data" --endpoint 'tcp://127.0.0.1:*' \
    --endpoint-file "$dir/endpoint" --metrics '' 2>"$dir/broker.log" &
pids="$pids $!"
wait_file "$dir/endpoint"
"$build/broker/orderbus-keys" token oms-7 --publish 'orders.>' --subscribe 'orders.>' \
    >"$dir/tokens.zpl" 2>"$dir/token.txt"
token=$(tail -n 1 "$dir/token.txt")
cat >"$dir/gw.cfg" <<CFG
gateway
    listen = 127.0.0.1:0
    data_dir = $dir/gw-data
    tokens_file = $dir/tokens.zpl
broker
    endpoint = "$(head -n 1 "$dir/endpoint")"
CFG
"$build/gateway/orderbus-gateway" --config "$dir/gw.cfg" --listen-file "$dir/gw.listen" \
    2>"$dir/gw.log" &
pids="$pids $!"
wait_file "$dir/gw.listen"
url="http://$(cat "$dir/gw.listen")"

ORDERBUS_URL=$url ORDERBUS_TOKEN=$token timeout 60 python3 "$example" >"$dir/out" 2>&1 ||
    fail "the example failed"
[ "$(grep -c '^published ' "$dir/out")" -eq 3 ] || fail "not three publishes"
for n in 0 1 2; do
    grep -q "^got orders.eu $((n + 1)) order-$n attempt 1$" "$dir/out" || fail "order-$n not got"
done
# Everything was acked: the broker holds nothing pending or unread for the subscription.
ORDERBUS_URL=$url ORDERBUS_TOKEN=$token python3 -c '
import os, requests
r = requests.get(os.environ["ORDERBUS_URL"] + "/v1/subscriptions/billing",
                 headers={"Authorization": "Bearer " + os.environ["ORDERBUS_TOKEN"]})
r.raise_for_status()
info = r.json()
assert info["pending"] == 0 and info["lag"] == 0, info
' >"$dir/out" 2>&1 || fail "not everything was acked"
echo "ok: the README's Python client published, consumed and acked"
