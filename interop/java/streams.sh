#!/usr/bin/env bash
# interop/java/streams.sh: builds and runs the Kafka Streams exactly_once_v2 word count
# (streams/src/EosWordCount.java) against a running broker.
#
#   BOOTSTRAP=host:port interop/java/streams.sh [tag] [lines]
#
# Maven resolves kafka-streams (streams/pom.xml) into the local Maven repository (env
# MAVEN_REPO, default ~/.m2/repository: outside git) and copies the jars to the build
# dir (env STREAMS_BUILD_DIR, default ~/.cache/skiff-interop-streams); javac compiles the
# test there. Later runs reuse both. Prints what the test prints; exit status 0 = PASS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BOOTSTRAP:?env BOOTSTRAP is not set}"
REPO_DIR=${MAVEN_REPO:-$HOME/.m2/repository}
OUT=${STREAMS_BUILD_DIR:-$HOME/.cache/skiff-interop-streams}
TAG=${1:-it-streams-eos-$$}
LINES=${2:-20000}
mkdir -p "$OUT/lib" "$OUT/classes"
if [[ ! -f "$OUT/lib/.done" || "$HERE/streams/pom.xml" -nt "$OUT/lib/.done" ]]; then
    rm -f "$OUT"/lib/*.jar
    mvn -B -q -f "$HERE/streams/pom.xml" -Dmaven.repo.local="$REPO_DIR" dependency:copy-dependencies \
        -DoutputDirectory="$OUT/lib" -DincludeScope=runtime >&2
    touch "$OUT/lib/.done"
fi
javac -d "$OUT/classes" -cp "$OUT/lib/*" "$HERE/streams/src/EosWordCount.java" >&2
exec java -cp "$OUT/lib/*:$OUT/classes" EosWordCount "$BOOTSTRAP" "$TAG" "$LINES"
