#!/bin/sh
# The README's second Quick start command (cmake --workflow --preset dev) after the first
# (deploy/start.sh, which configured the same preset) recompiles nothing: a second configure
# of the dev preset writes the same compile flags as the first. (CMake 3.25's FindPkgConfig
# once moved libzmq's -isystem /usr/include/mit-krb5 between C_INCLUDES and C_FLAGS, and
# every object was rebuilt; CMakeLists.txt's ob_pkg_isystem_to_includes.) The preset is
# configured into a scratch directory (-B), twice, and every flags.make is compared.
# Usage: test_reconfigure.sh SOURCE_DIR
set -eu
src=$1
scratch=$(mktemp -d /tmp/orderbus-reconfigure-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# flags OUT: the checksum of every flags.make of the scratch build, by path, into OUT.
flags() {
    (cd "$scratch/build" && find . -name flags.make -exec md5sum {} + | sort -k 2) >"$1"
}
cmake -S "$src" -B "$scratch/build" --preset dev >"$scratch/first.log" 2>&1 ||
    { echo "FAIL: the first configure failed"; cat "$scratch/first.log"; exit 1; }
flags "$scratch/first"
cmake -S "$src" -B "$scratch/build" --preset dev >"$scratch/second.log" 2>&1 ||
    { echo "FAIL: the second configure failed"; cat "$scratch/second.log"; exit 1; }
flags "$scratch/second"
count=$(wc -l <"$scratch/first")
[ "$count" -gt 0 ] || { echo "FAIL: no flags.make written"; exit 1; }
if ! diff "$scratch/first" "$scratch/second" >"$scratch/diff"; then
    echo "FAIL: a second configure changes the compile flags of:"
    cat "$scratch/diff"
    exit 1
fi
echo "ok   a second configure of the dev preset writes the same flags ($count flags.make files)"
