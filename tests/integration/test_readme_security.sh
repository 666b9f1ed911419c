#!/bin/sh
# The README's "Security: keys and permissions" commands, run as written after the Quick
# start's first command, in a fresh directory laid out like a clone (deploy/, build/dev):
#  1. deploy/start.sh runs the quick start's broker (tcp://127.0.0.1:7450, ./orderbus-data)
#     and gateway, with the programs of BUILD_DIR (OB_START_BUILD: the build it would make
#     is already made; the second Quick start command is the suite this test is part of).
#  2. The README's sh block, taken from README.md, runs as one bash script in that directory,
#     an ERR trap naming each command that fails: only the second publish may (status 1).
#     Its output must say what the README says it does (a confirmed publish, a refusal with
#     the broker's reason), the secured broker must stop cleanly (status 0), and the files
#     it made must have their modes (keys 0700, the secret 0600).
#  3. The quick start's broker still serves, untouched (the next event on oms.7 is seq 2).
# The README's ports are fixed (7450, 7451, 7459, 7460, 7461): the test runs in a network
# namespace of its own (unshare -rn), so that no other process on the machine can hold them
# and no run of it can disturb another. Without user and network namespaces it is skipped
# (exit 77, CTest's SKIP_RETURN_CODE).
# Usage: test_readme_security.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
skip=77
if [ "${OB_README_NETNS:-}" != 1 ]; then
    if ! unshare -rn true 2>/dev/null; then
        echo "no user and network namespaces here (unshare -rn): skipped"
        exit "$skip"
    fi
    OB_README_NETNS=1 exec unshare -rn "$0" "$@"
fi
if ! ip link set lo up 2>/dev/null; then
    echo "cannot bring up the namespace's loopback (ip, iproute2): skipped"
    exit "$skip"
fi

scratch=$(mktemp -d /tmp/orderbus-readme-XXXXXX)
start_pid=""
cleanup() {
    if [ -n "$start_pid" ]; then
        kill -TERM "$start_pid" 2>/dev/null || true
        wait "$start_pid" 2>/dev/null || true
    fi
    # the secured broker, if the block failed before it stopped it: its lock is still held
    # (after a stop the file stays, its pid stale)
    lock=$scratch/orderbus-secure-data/broker.lock
    if [ -s "$lock" ] && ! flock -n "$lock" true; then
        kill -KILL "$(cat "$lock")" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    for f in start.out block.out; do
        [ ! -f "$scratch/$f" ] || { echo "--- $f:"; cat "$scratch/$f"; }
    done
    exit 1
}

gone() { ! kill -0 "$1" 2>/dev/null; }

# The clone: the README's paths are relative to its top directory.
ln -s "$src/deploy" "$scratch/deploy"
mkdir -p "$scratch/build"
ln -s "$build" "$scratch/build/dev"
cd "$scratch"
unset ORDERBUS_CERT ORDERBUS_BROKER_CERT

# 1. The quick start's bus. The publish (idempotent: --id; it waits 5 s for an answer) is
#    tried until the broker answers, up to 6 times.
OB_START_BUILD=build/dev ./deploy/start.sh >start.out 2>&1 &
start_pid=$!
tries=0
until build/dev/proto/orderbus-publish --id ready-1 oms.7 project_item.created \
    '{"status":"ready"}' >ready.out 2>&1; do
    gone "$start_pid" && fail "deploy/start.sh exited"
    tries=$((tries + 1))
    [ "$tries" -lt 6 ] || fail "the quick start's broker does not answer"
done
grep -qF "confirmed: topic oms.7 seq 1" ready.out || fail "$(cat ready.out)"

# 2. The README's block, as written.
awk '/^### Security: keys and permissions/ { section = 1 }
     section && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside' "$src/README.md" >block.sh
grep -q 'orderbus-broker' block.sh || fail "no sh block in the README's security section"
# shellcheck disable=SC2016 # the lines are for run.sh, which expands them
{
    echo "trap 'echo \"exit \$?: \$BASH_COMMAND\"' ERR"
    cat block.sh
    # the block stops the secured broker: it must be gone within 10 s, else it is killed
    echo 'n=0; while kill -0 "$secure" 2>/dev/null && [ "$n" -lt 200 ]; do sleep 0.05; n=$((n + 1)); done'
    echo 'kill -0 "$secure" 2>/dev/null && { echo "secured broker still running"; kill -KILL "$secure"; }'
    echo 'wait "$secure"'
    echo 'echo "secured broker exit status $?"'
} >run.sh
bash run.sh >block.out 2>&1 || fail "the block's script exited $?"
grep -qF "confirmed: topic mp.7 seq 1" block.out || fail "the first publish was not confirmed"
grep -qF "orderbus-publish: forbidden (oms.7): PUBLISH oms.7: client oms-7 may not publish to it" \
    block.out || fail "the second publish was not refused with the broker's reason"
[ "$(grep -c '^exit ' block.out)" -eq 1 ] || fail "a command other than one publish failed"
grep -q '^exit 1: .* oms\.7 order\.created' block.out || fail "the refused publish did not exit 1"
grep -qF "secured broker exit status 0" block.out || fail "the secured broker did not stop cleanly"
[ "$(stat -c %a keys)" = 700 ] || fail "keys is $(stat -c %a keys), not 700"
[ "$(stat -c %a keys/broker.cert_secret)" = 600 ] || fail "the broker's secret is not 600"
[ -f orderbus-secure-data/data.mdb ] || fail "the secured broker's data is not in ./orderbus-secure-data"
echo "ok   the README's security commands ran as written beside the quick start's bus"

# 3. The quick start's broker is untouched.
build/dev/proto/orderbus-publish --id after-1 oms.7 project_item.created '{}' >after.out 2>&1 ||
    fail "the quick start's broker no longer answers: $(cat after.out)"
grep -qF "confirmed: topic oms.7 seq 2" after.out || fail "$(cat after.out)"
echo "ok   the quick start's broker still serves on 7450, its data in ./orderbus-data"

broker=$(cat orderbus-data/broker.lock)
kill -TERM "$start_pid"
status=0
wait "$start_pid" || status=$?
start_pid=""
[ "$status" -eq 143 ] || fail "deploy/start.sh exited $status after SIGTERM, not 143"
gone "$broker" || fail "the quick start's broker $broker still runs after start.sh stopped"
echo "2 passed, 0 failed"
