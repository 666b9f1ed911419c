#!/bin/sh
# Installs the build into a scratch prefix and builds a program against the installed
# liborderbus through its pkg-config file; then runs it.
# Usage: test_install.sh BUILD_DIR C_COMPILER
set -eu
build=$1
cc=$2
prefix=$(mktemp -d /tmp/orderbus-install-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/orderbus-broker bin/orderbus-publish bin/orderbus-subscribe bin/orderbus-keys \
    bin/orderbus-monitor include/orderbus/orderbus.h include/orderbus/client.h \
    include/orderbus/event_json.h; do
    test -e "$prefix/$f" || { echo "missing after install: $f"; exit 1; }
done
# Only the public API is installed: the headers are exactly those of proto/include/orderbus.
src=$(cd "$(dirname "$0")/../.." && pwd)
installed=$(cd "$prefix/include/orderbus" && ls)
public=$(cd "$src/proto/include/orderbus" && ls)
test "$installed" = "$public" || {
    echo "installed headers differ from proto/include/orderbus:"
    echo "$installed"
    exit 1
}
test "$(find "$prefix/include" -type f | wc -l)" -eq "$(echo "$public" | wc -l)" ||
    { echo "headers installed outside include/orderbus"; exit 1; }
pc=$(find "$prefix" -name liborderbus.pc)
test -n "$pc" || { echo "missing after install: liborderbus.pc"; exit 1; }
cat > "$prefix/use.c" <<'C'
#include <orderbus/orderbus.h>
#include <stdio.h>
#include <string.h>
int
main(void)
{
    return strcmp(ob_strerror(OB_ERR_TIMEOUT), "timed out") != 0;
}
C
export PKG_CONFIG_PATH="$(dirname "$pc")"
# shellcheck disable=SC2046
"$cc" "$prefix/use.c" $(pkg-config --cflags --libs liborderbus) -o "$prefix/use"
LD_LIBRARY_PATH="$(pkg-config --variable=libdir liborderbus)" "$prefix/use"
echo "installed and linked against liborderbus $(pkg-config --modversion liborderbus)"
