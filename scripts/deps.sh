#!/usr/bin/env bash
# Installs the Debian packages Skiff needs to build, test and run its interop suite.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config python3 clang
      libev-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev libcmocka-dev
      librdkafka-dev kcat python3-kafka lz4 zstd)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "deps: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
