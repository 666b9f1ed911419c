#!/bin/sh
# Checks deploy/Containerfile's runtime stage without a container engine: installs the build
# into a scratch prefix (as the build stage does into /staging), collects the shared
# libraries (ELF NEEDED) of every installed program and library, and requires each one to
# be installed by the build itself or to come, on this Debian 12 machine, from a package
# named in the runtime stage's RUNTIME_PACKAGES (or from libc6, which every image has).
# It also checks that the install carries the systemd unit and the example configuration.
# The build stage is checked the same way: every pkg-config module that the top-level
# CMakeLists.txt requires comes from a package in BUILD_PACKAGES.
# Usage: test_container_libs.sh CONTAINERFILE BUILD_DIR
set -eu
containerfile=$1
build=$2
for tool in objdump ldd dpkg-query pkg-config; do
    command -v "$tool" >/dev/null || { echo "test_container_libs: $tool missing"; exit 1; }
done
packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' "$containerfile")
[ -n "$packages" ] || { echo "no ARG RUNTIME_PACKAGES=\"...\" line in $containerfile"; exit 1; }
build_packages=$(sed -n 's/^ARG BUILD_PACKAGES="\(.*\)"$/\1/p' "$containerfile")
[ -n "$build_packages" ] || { echo "no ARG BUILD_PACKAGES=\"...\" line in $containerfile"; exit 1; }
status=0

# The build stage: the package of each pkg-config module the top-level CMakeLists.txt asks
# for (the package owning its .pc file on this machine).
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
# shellcheck disable=SC2013 # one module name per line, no spaces
for module in $(sed -n 's/^pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET \([a-z0-9_.+-]*\)).*/\1/p' "$src/CMakeLists.txt"); do
    pc="$(pkg-config --variable=pcfiledir "$module")/$module.pc"
    pkg=$(dpkg-query -S "$pc" 2>/dev/null | head -n1 | cut -d: -f1) || pkg=""
    if [ -z "$pkg" ]; then
        echo "FAIL pkg-config $module: no Debian package owns $pc"
        status=1
    elif echo " $build_packages " | grep -q " $pkg "; then
        echo "ok   build: $module from $pkg"
    else
        echo "FAIL build: $module from $pkg, which BUILD_PACKAGES does not name"
        status=1
    fi
done
prefix=$(mktemp -d /tmp/orderbus-container-XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix/usr" >/dev/null
# The install also carries the deployment files (deploy/CMakeLists.txt).
for f in lib/systemd/system/orderbus-broker.service share/doc/orderbus/examples/orderbus-broker.cfg; do
    test -e "$prefix/usr/$f" || { echo "FAIL missing after install: $f"; exit 1; }
done

# The ELF files installed (programs and shared libraries).
find "$prefix/usr" -type f | while read -r f; do
    if head -c 4 "$f" | grep -q 'ELF'; then echo "$f"; fi
done >"$prefix/elf"
[ -s "$prefix/elf" ] || { echo "nothing installed"; exit 1; }
# Libraries the install provides itself (liborderbus.so.N ...).
own=$(find "$prefix/usr" -name '*.so*' -exec basename {} \; | sort -u)

needed_pkgs=""
for lib in $(xargs -n1 objdump -p <"$prefix/elf" | awk '$1 == "NEEDED" { print $2 }' | sort -u); do
    if echo "$own" | grep -qx "$lib"; then
        echo "ok   $lib (installed by the build)"
        continue
    fi
    # Where this machine resolves it (any binary that needs it will do), then its package.
    path=$(xargs -n1 ldd <"$prefix/elf" 2>/dev/null | awk -v l="$lib" '$1 == l && $3 ~ /^\// { print $3; exit }')
    [ -n "$path" ] || { echo "FAIL $lib: not found on this machine"; status=1; continue; }
    pkg=""
    for p in "$path" "$(readlink -f "$path")" "/usr$path" "/usr$(readlink -f "$path")"; do
        pkg=$(dpkg-query -S "$p" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || { echo "FAIL $lib ($path): no Debian package owns it"; status=1; continue; }
    needed_pkgs="$needed_pkgs $pkg"
    if [ "$pkg" = libc6 ] || echo " $packages " | grep -q " $pkg "; then
        echo "ok   $lib from $pkg"
    else
        echo "FAIL $lib from $pkg, which RUNTIME_PACKAGES does not name"
        status=1
    fi
done
for p in $packages; do
    echo " $needed_pkgs " | grep -q " $p " ||
        echo "note $p: in RUNTIME_PACKAGES, needed by no installed binary (a tool, or spare)"
done
[ $status -eq 0 ] && echo "the runtime stage's packages cover every installed binary"
exit $status
