#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the bus in the
# foreground with its embedded defaults (loopback only, data in ./orderbus-data). Ctrl-C
# (or SIGTERM) stops every daemon it started, and so does any one of them exiting: the
# script then exits with that daemon's status (0 after a clean stop on Ctrl-C, or 130).
# Extra arguments go to orderbus-broker (see: build/dev/broker/orderbus-broker --help).
# The gateway runs with deploy/orderbus-gateway.cfg (loopback 127.0.0.1:7460, no OMS
# registered) and the words of OB_START_GATEWAY_ARGS, e.g.
#   OB_START_GATEWAY_ARGS="--oms-id 2 --oms-url http://127.0.0.1:8080 --oms-token-file tok"
# OB_START_WEBHOOK_CONFIG=FILE also runs orderbus-webhook with that configuration, and
# OB_START_JIRA_CONFIG=FILE orderbus-jira with its own.
# OB_START_BUILD=DIR runs the programs of an existing build directory instead of installing
# and building the dev preset (the tests use it).
set -eu
cd "$(dirname "$0")/.."
build=${OB_START_BUILD:-}
if [ -z "$build" ]; then
    deploy/install-deps.sh
    cmake --preset dev >/dev/null
    cmake --build --preset dev
    build=build/dev
fi

pids=()
# start PROGRAM ARGS...: runs one daemon of the bus in the background. A daemon added later
# (the gateway, an adapter) is one more `start` line below, with its deploy/ config.
start() {
    "$@" &
    pids+=("$!")
}
# Sends SIGTERM to every daemon still running and waits for them all (each finishes what it
# has in flight: the broker its last commit).
stop() {
    trap - INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    wait
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

start "$build/broker/orderbus-broker" --config deploy/orderbus-broker.cfg "$@"
# shellcheck disable=SC2086 # the gateway's extra arguments are words
start "$build/gateway/orderbus-gateway" --config deploy/orderbus-gateway.cfg \
    ${OB_START_GATEWAY_ARGS:-}

# The webhook adapter runs when OB_START_WEBHOOK_CONFIG names its configuration (it needs a
# target at least: deploy/orderbus-webhook.cfg documents the keys).
if [ -n "${OB_START_WEBHOOK_CONFIG:-}" ]; then
    start "$build/adapters/webhook/orderbus-webhook" --config "$OB_START_WEBHOOK_CONFIG"
fi
# The Jira adapter likewise (deploy/orderbus-jira.cfg documents the keys).
if [ -n "${OB_START_JIRA_CONFIG:-}" ]; then
    start "$build/adapters/jira/orderbus-jira" --config "$OB_START_JIRA_CONFIG"
fi

# Until Ctrl-C (the traps above), or until the first daemon exits by itself.
status=0
wait -n || status=$?
stop
exit "$status"
