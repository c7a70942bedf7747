#!/usr/bin/env bash
# interop/java/run.sh: builds and runs the Java client test (src/IdempotentAssign.java)
# against a running broker.
#
#   BOOTSTRAP=host:port interop/java/run.sh [topic] [records]
#
# Maven resolves org.apache.kafka:kafka-clients (version in pom.xml) from Maven Central
# into the local Maven repository (env MAVEN_REPO, default ~/.m2/repository: outside git)
# and copies the jars to the build dir (env JAVA_BUILD_DIR, default
# ~/.cache/skiff-interop-java); javac compiles the test there. Later runs reuse both.
# Prints what the test prints; exit status 0 = PASS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BOOTSTRAP:?env BOOTSTRAP is not set}"
REPO_DIR=${MAVEN_REPO:-$HOME/.m2/repository}
OUT=${JAVA_BUILD_DIR:-$HOME/.cache/skiff-interop-java}
TOPIC=${1:-it-java-idem}
RECORDS=${2:-20000}
mkdir -p "$OUT/lib" "$OUT/classes"
if [[ ! -f "$OUT/lib/.done" || "$HERE/pom.xml" -nt "$OUT/lib/.done" ]]; then
    rm -f "$OUT"/lib/*.jar
    mvn -B -q -f "$HERE/pom.xml" -Dmaven.repo.local="$REPO_DIR" dependency:copy-dependencies \
        -DoutputDirectory="$OUT/lib" -DincludeScope=runtime >&2
    touch "$OUT/lib/.done"
fi
javac -d "$OUT/classes" -cp "$OUT/lib/*" "$HERE/src/IdempotentAssign.java" >&2
exec java -cp "$OUT/lib/*:$OUT/classes" IdempotentAssign "$BOOTSTRAP" "$TOPIC" "$RECORDS"
