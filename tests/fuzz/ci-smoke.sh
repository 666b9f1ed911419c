#!/bin/sh
# Runs every libFuzzer target for SECONDS (default 60) on a scratch copy of its corpus, with
# the regressions as extra seeds. Fails on any crash, leak or sanitizer report, and leaves the
# scratch directory (with libFuzzer's crash-* input and fuzz.log) for a regression file.
# The targets' stdout is closed (-close_fd_mask=1): czmq prints every ZPL syntax error that
# fuzz_config provokes there; libFuzzer and the targets report on stderr.
# Usage: tests/fuzz/ci-smoke.sh BUILD_DIR [SECONDS]
set -eu
build=$(cd "$1" && pwd)
seconds=${2:-60}
src=$(cd "$(dirname "$0")" && pwd)
found=0
for bin in "$build"/tests/fuzz_*; do
    [ -x "$bin" ] || continue
    found=$((found + 1))
    target=${bin##*/fuzz_}
    work=$(mktemp -d "/tmp/orderbus-fuzz-$target-XXXXXX")
    cp "$src/corpus/$target"/* "$work/"
    if (cd "$work" && "$bin" -max_total_time="$seconds" -print_final_stats=1 -close_fd_mask=1 "$work" \
            "$src/regressions/$target" >fuzz.log 2>&1); then
        echo "fuzz_$target: ${seconds}s, $(grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' \
            "$work/fuzz.log" | tr -s ' ' | tr '\n' ' ')"
        rm -rf "$work"
    else
        tail -40 "$work/fuzz.log"
        echo "fuzz_$target FAILED: inputs and log kept in $work"
        exit 1
    fi
done
[ "$found" -gt 0 ] || { echo "no fuzz targets in $build/tests"; exit 1; }
