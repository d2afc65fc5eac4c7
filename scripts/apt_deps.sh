#!/usr/bin/env bash
# The Debian packages chute builds with (compiler, CMake, the native libraries' -dev packages), installed
# when missing. Used by bootstrap.sh (make build/test/demo) and build_wheel.sh (make wheel).
set -euo pipefail
APT_PACKAGES="cmake g++ ccache clang-format pkg-config python3-venv libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev liblz4-dev libzstd-dev nlohmann-json3-dev libgtest-dev libcurl4-openssl-dev libssl-dev"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "== installing Debian packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
