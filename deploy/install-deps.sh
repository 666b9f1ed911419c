#!/bin/sh
# Installs the Debian 12 packages orderbus needs to build, run and test, if any is missing.
# Used by deploy/start.sh (the README's first command) and by CI, so both install the same.
# systemd is here for systemd-analyze (test_systemd checks the units); nothing runs it.
# prometheus is here for promtool (common_metrics_promtool checks the metrics text).
# openssl is here for the certificate test_gateway_feed makes for the gateway's HTTPS.
# python3-jsonschema checks gateway/openapi.json's schemas (gw_openapi); python3-requests runs
# the README's Python REST client (test_rest_python). iproute2 brings up the loopback of
# test_readme_security's network namespace.
set -eu
pkgs="build-essential cmake pkg-config clang libclang-rt-14-dev
      libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev lmdb-utils libcurl4-openssl-dev
      libcmocka-dev libjansson-dev libmicrohttpd-dev libsodium-dev clang-format systemd prometheus
      zlib1g-dev openssl python3-jsonschema python3-requests iproute2"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
