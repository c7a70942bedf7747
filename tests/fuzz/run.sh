#!/bin/sh
# tests/fuzz/run.sh: run fuzz targets from a -DSK_FUZZ=ON build, each for a fixed time,
# at the lowest CPU priority, a few at a time. New corpus entries go to
# <build>/fuzz-work/<target> (the committed seeds in tests/fuzz/corpus/<target> are read,
# never written); findings go to <build>/fuzz-artifacts/ and make the run fail. A summary
# line per target (seconds, executions, coverage) is appended to <build>/fuzz-runs.log.
# Usage: tests/fuzz/run.sh BUILD_DIR [SECONDS=60] [JOBS=2] [TARGET...]
#   CI regression: tests/fuzz/run.sh build-fuzz 60 2     nightly: ... 1200 2
set -eu
build=$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS] [JOBS] [TARGET...]}" && pwd)
secs=${2:-60}
jobs=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    set -- $(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
fi
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
for t in "$@"; do
    [ -x "$build/$t" ] || { echo "missing $build/$t (build with -DSK_FUZZ=ON)" >&2; exit 2; }
done
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c '
    t={}; build="$1"; secs="$2"; here="$3"
    mkdir -p "$build/fuzz-work/$t" "$here/corpus/$t"
    start=$(date +%s)
    if nice -n 19 "$build/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-" \
        "$build/fuzz-work/$t" "$here/corpus/$t" >"$build/fuzz-logs/$t.log" 2>&1; then rc=ok; else rc=FINDING; fi
    end=$(date +%s)
    execs=$(sed -n "s/^stat::number_of_executed_units: *//p" "$build/fuzz-logs/$t.log")
    cov=$(grep -o "cov: [0-9]*" "$build/fuzz-logs/$t.log" | tail -1)
    line="$(date -u +%FT%TZ) $t $rc seconds=$((end - start)) execs=${execs:-?} ${cov:-}"
    echo "$line" | tee -a "$build/fuzz-runs.log"
    [ "$rc" = ok ]
' _ "$build" "$secs" "$here"
