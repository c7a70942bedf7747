#!/usr/bin/env bash
# tests/crash/recovery_time.sh: builds tests/crash/recovery_time.c against the storage
# libraries of a build dir and runs it on a fresh directory (removed afterwards).
#
#   tests/crash/recovery_time.sh [--build-dir DIR] [size MiB (1024)] [batch bytes (16384)]
#
# Use a release build (cmake -DCMAKE_BUILD_TYPE=Release) for meaningful figures. Prints
# what recovery_time prints (see its header comment); docs/recovery.md has results.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD_DIR="$REPO/build"
if [[ "${1:-}" == --build-dir ]]; then BUILD_DIR=$2; shift 2; fi
ninja -C "$BUILD_DIR" sk_storage sk_protocol sk_common >/dev/null
WORK=$(mktemp -d /tmp/skiff-recovery-time.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cc -std=c11 -D_GNU_SOURCE -O2 -I"$REPO/src" -I"$BUILD_DIR/gen" -o "$WORK/recovery_time" \
    "$HERE/recovery_time.c" "$BUILD_DIR/libsk_storage.a" "$BUILD_DIR/libsk_protocol.a" \
    "$BUILD_DIR/libsk_common.a" -lz -llz4 -lzstd -lsnappy -lm
"$WORK/recovery_time" "$WORK/data" "${1:-1024}" "${2:-16384}"
