#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs the single-node broker
# (127.0.0.1:9092, data in ./skiff-data). Extra arguments go to skiffd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
dir=$(scripts/build.sh release)
exec "$dir/skiffd" "$@"
