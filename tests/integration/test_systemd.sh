#!/bin/sh
# Checks systemd units with systemd-analyze, which needs no running systemd for either check:
#   verify: the unit parses with no warning at all (an unknown key or a bad value is only a
#           warning to systemd, so any output fails here), and ExecStart's binary exists;
#   security --offline: the hardening keeps the exposure at most 2.0 ("OK"), so a removed
#           protection fails the test.
# Usage: test_systemd.sh SYSTEMD_ANALYZE UNIT_FILE...
# The unit files are the test copies deploy/CMakeLists.txt generates (ExecStart = the built
# binary); each is checked under its own name in a scratch directory.
set -eu
analyze=$1
shift
command -v "$analyze" >/dev/null 2>&1 ||
    { echo "test_systemd: $analyze not found: install the systemd package (deploy/install-deps.sh)"; exit 1; }
[ $# -gt 0 ] || { echo "test_systemd: no unit given"; exit 1; }
scratch=$(mktemp -d /tmp/orderbus-systemd-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
status=0
for unit in "$@"; do
    name=$(basename "$unit")
    cp "$unit" "$scratch/$name"
    if ! "$analyze" verify --man=no "$scratch/$name" >"$scratch/out" 2>&1 || [ -s "$scratch/out" ]; then
        echo "FAIL verify $name:"
        cat "$scratch/out"
        status=1
    else
        echo "ok   verify $name"
    fi
    if ! "$analyze" security --offline=yes --threshold=20 --no-pager "$scratch/$name" \
        >"$scratch/out" 2>&1; then
        echo "FAIL security $name (exposure over 2.0):"
        grep -E '✗|Overall' "$scratch/out" || cat "$scratch/out"
        status=1
    else
        echo "ok   security $name: $(grep Overall "$scratch/out" | sed 's/.*: //')"
    fi
done
exit $status
