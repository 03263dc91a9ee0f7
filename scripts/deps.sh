#!/bin/sh
# Installs what M31 needs, and only what is missing.
#   scripts/deps.sh run   what building and running a node needs
#   scripts/deps.sh       that, plus what the tests and benchmarks need
#                         (Debian packages, then npm ci in tests/http and
#                         tests/browser: playwright-core drives Debian's
#                         chromium; it downloads no browser)
set -eu
cd "$(dirname "$0")/.."

build_pkgs="build-essential pkg-config libmicrohttpd-dev libjansson-dev
            libcurl4-openssl-dev libleveldb-dev libmruby-dev libseccomp-dev
            libzip-dev libedit-dev"
test_pkgs="libcmocka-dev mruby curl nodejs npm wrk etcd-server etcd-client
           clang-format erlang-base chromium"
pkgs=$build_pkgs
[ "${1:-all}" = run ] || pkgs="$build_pkgs $test_pkgs"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing="$missing $p"
done
# A node from elsewhere (nvm, a tarball) is as good as Debian's.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm |
    tr '\n' ' ')
fi
if [ -n "$(echo $missing)" ]; then
  echo "deps: installing$missing"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

[ "${1:-all}" = run ] && exit 0
for d in tests/http tests/browser; do
  if [ ! -d $d/node_modules ] || [ $d/package-lock.json -nt $d/node_modules ]; then
    (cd $d && npm ci --no-audit --no-fund --loglevel=error)
    touch $d/node_modules
  fi
done
