#!/usr/bin/env bash
# Sets everything up on a fresh Debian machine and runs every test: unit and property
# tests in a release build and again under AddressSanitizer + UBSan, then the interop
# suite (real clients against a real skiffd), in full against the release build and in
# its quick form against the sanitizer build. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
status=0
for kind in release asan; do
    dir=$(scripts/build.sh "$kind")
    echo "== unit tests ($kind)"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir "$dir" --output-on-failure -j2 || status=1
done
echo "== interop (release build)"
interop/run.sh --build-dir build ${SKIFF_INTEROP_ARGS:-} || status=1
echo "== interop matrix, librdkafka column (Skiff beside Apache Kafka)"
interop/matrix.sh --clients rdkafka --build-dir build || status=1
echo "== interop (ASan/UBSan build, quick)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    interop/run.sh --build-dir build-asan --quick || status=1
exit $status
