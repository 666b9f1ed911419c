#!/bin/sh
# The README's first command: install what is missing, build, and run the bus in the
# foreground with its embedded defaults (loopback only, data in ./orderbus-data).
# Extra arguments go to orderbus-broker (see: build/dev/broker/orderbus-broker --help).
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
exec build/dev/broker/orderbus-broker --config deploy/orderbus-broker.cfg "$@"
