#!/usr/bin/env bash
# interop/java/eos.sh: builds and runs the Java exactly-once copy (src/EosCopy.java)
# against a running broker.
#
#   BOOTSTRAP=host:port interop/java/eos.sh [tag] [records]
#
# Jars as in run.sh (kafka-clients from pom.xml, copied once to the build dir, env
# JAVA_BUILD_DIR, default ~/.cache/skiff-interop-java). Prints what the test prints;
# exit status 0 = PASS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BOOTSTRAP:?env BOOTSTRAP is not set}"
REPO_DIR=${MAVEN_REPO:-$HOME/.m2/repository}
OUT=${JAVA_BUILD_DIR:-$HOME/.cache/skiff-interop-java}
TAG=${1:-it-java-eos-$$}
RECORDS=${2:-50000}
mkdir -p "$OUT/lib" "$OUT/classes"
if [[ ! -f "$OUT/lib/.done" || "$HERE/pom.xml" -nt "$OUT/lib/.done" ]]; then
    rm -f "$OUT"/lib/*.jar
    mvn -B -q -f "$HERE/pom.xml" -Dmaven.repo.local="$REPO_DIR" dependency:copy-dependencies \
        -DoutputDirectory="$OUT/lib" -DincludeScope=runtime >&2
    touch "$OUT/lib/.done"
fi
javac -d "$OUT/classes" -cp "$OUT/lib/*" "$HERE/src/EosCopy.java" >&2
exec java -cp "$OUT/lib/*:$OUT/classes" EosCopy "$BOOTSTRAP" "$TAG" "$RECORDS"
