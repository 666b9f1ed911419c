#!/bin/sh
# deploy/start.sh, the README's first command, with the programs of BUILD_DIR
# (OB_START_BUILD: no install, no build):
#  1. Ctrl-C, typed into a real terminal (script(1) gives start.sh a pty; ETX on it is the
#     terminal's SIGINT to the foreground process group), stops the broker and the gateway it
#     started: start.sh exits 0 or 130 and their pids (from broker.lock, gateway.lock) are
#     gone. The gateway serves on a free port (its listen file), connected to the broker.
#  2. A daemon that exits by itself (the broker, refusing a bad flag with status 2) ends
#     start.sh with its status.
# Every wait is on an observable condition (a socket file, a process) with a deadline.
# Usage: test_start.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
scratch=$(mktemp -d /tmp/orderbus-start-XXXXXX)
holder=""
cleanup() {
    exec 3>&- 2>/dev/null || true
    [ -z "$holder" ] || kill -KILL "$holder" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

# until SECONDS COMMAND...: runs COMMAND every 50 ms until it succeeds; fails after SECONDS.
until_ok() {
    limit=$(($1 * 20))
    shift
    n=0
    while ! "$@"; do
        n=$((n + 1))
        [ "$n" -lt "$limit" ] || return 1
        sleep 0.05
    done
}
gone() { ! kill -0 "$1" 2>/dev/null; }

# The gateway: a free port and a scratch data directory, so that runs cannot collide.
export OB_START_GATEWAY_ARGS="--listen 127.0.0.1:0 --listen-file $scratch/gw.listen --data-dir $scratch/gw-data --broker ipc://$scratch/broker.sock"

# 1. Ctrl-C
mkfifo "$scratch/tty-in"
OB_START_BUILD="$build" script -qfec \
    "'$src/deploy/start.sh' --data-dir '$scratch/data' --endpoint 'ipc://$scratch/broker.sock' --metrics ''" \
    /dev/null <"$scratch/tty-in" >"$scratch/out" 2>&1 &
script_pid=$!
exec 3>"$scratch/tty-in"
# started NAME TEST FILE LOCK: waits until `test TEST FILE` holds (the daemon serves) or
# start.sh is gone, fails unless it holds, then prints the pid in LOCK, which must run.
started() {
    up_or_gone() { test "$2" "$3" || gone "$script_pid"; }
    if ! until_ok 30 up_or_gone "$@" || ! test "$2" "$3"; then
        echo "FAIL: the $1 did not start" >&2
        cat "$scratch/out" >&2
        exit 1
    fi
    pid=$(cat "$4")
    kill -0 "$pid" || { echo "FAIL: no $1 at pid $pid" >&2; exit 1; }
    echo "$pid"
}
holder=$(started broker -S "$scratch/broker.sock" "$scratch/data/broker.lock")
gateway=$(started gateway -s "$scratch/gw.listen" "$scratch/gw-data/gateway.lock")
printf '\003' >&3
until_ok 30 gone "$script_pid" || { echo "FAIL: start.sh still running after Ctrl-C"; cat "$scratch/out"; exit 1; }
status=0
wait "$script_pid" || status=$?
gone "$holder" || { echo "FAIL: broker $holder still running after Ctrl-C"; exit 1; }
holder=""
gone "$gateway" || { echo "FAIL: gateway $gateway still running after Ctrl-C"; kill -KILL "$gateway"; exit 1; }
# 0: the broker took the terminal's SIGINT and stopped cleanly first (bash then lets its own
# SIGINT go); 130: start.sh's trap ran first. Either way everything stopped.
[ "$status" -eq 0 ] || [ "$status" -eq 130 ] ||
    { echo "FAIL: start.sh exited $status after Ctrl-C, not 0 or 130"; cat "$scratch/out"; exit 1; }
grep -q 'stopping' "$scratch/out" || { echo "FAIL: the broker did not stop cleanly"; cat "$scratch/out"; exit 1; }
grep -q 'stopping: finishing the poll' "$scratch/out" || { echo "FAIL: the gateway did not stop cleanly"; cat "$scratch/out"; exit 1; }
echo "ok   Ctrl-C stopped start.sh ($status), its broker and its gateway (pids gone, clean stops logged)"

# 2. a daemon exiting ends start.sh with its status
status=0
OB_START_BUILD="$build" "$src/deploy/start.sh" --no-such-flag >"$scratch/out2" 2>&1 </dev/null || status=$?
[ "$status" -eq 2 ] || { echo "FAIL: start.sh exited $status when the broker refused a flag, not 2"; cat "$scratch/out2"; exit 1; }
echo "ok   a daemon's exit (2, usage) ends start.sh with its status"
echo "2 passed, 0 failed"
