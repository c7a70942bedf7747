#!/usr/bin/env bash
# interop/kcat.sh: kcat (librdkafka's command-line client) against a running broker.
#
#   BOOTSTRAP=host:port interop/kcat.sh [topic-prefix]
#
# Broker expectations: auto.create.topics.enable=true, num.partitions=4, one broker.
# Checks: -L lists the broker (plain and -J); producing -P with keys (-K) and headers
# (-H) to a new topic auto-creates it; -C -e reads back exactly what was written (keys,
# values, headers, offsets 0..n-1); -o absolute, -o negative (from the end) and -c count
# select the right records; -J output carries topic, partition, offset, key, payload,
# headers and a CreateTime timestamp; -Z produces a null value that reads back as null;
# keyed records spread over all partitions come back complete. Ends with one line
# "PASS kcat: ..." or "FAIL kcat: ..." and exit status 0/1.
set -uo pipefail

B=${BOOTSTRAP:?env BOOTSTRAP is required}
PREFIX=${1:-skiff-interop-kcat}
T="$PREFIX-p0"
TK="$PREFIX-keyed"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
CHECKS=0

check() {   # <description> <command...>: the command must succeed
    local what=$1
    shift
    CHECKS=$((CHECKS + 1))
    if ! "$@" > "$WORK/out" 2>&1; then
        FAILED=$((FAILED + 1))
        echo "  check failed: $what"
        sed 's/^/    /' "$WORK/out" | head -20
    fi
}

same() {    # <expected-file> <actual-file>
    diff -u "$1" "$2"
}

kc() { timeout 60 kcat -b "$B" -X topic.metadata.refresh.interval.ms=1000 "$@"; }

N=20
for i in $(seq 0 $((N - 1))); do echo "key-$i:value-$i with spaces and = signs"; done \
    > "$WORK/in.txt"

step_list() {
    check "kcat -L lists a broker" bash -c "kcat -b '$B' -L -m 10 | grep -q ' brokers:'"
    check "kcat -L -J has one broker" python3 -c '
import json, subprocess, sys
md = json.loads(subprocess.check_output(["kcat", "-b", sys.argv[1], "-L", "-J", "-m", "10"]))
assert len(md["brokers"]) == 1, md["brokers"]
' "$B"
}

step_produce() {
    check "kcat -P -K -H to a new topic" kc -P -t "$T" -p 0 -K: \
        -H h1=alpha -H "h2=beta gamma" -l "$WORK/in.txt"
    check "metadata shows the auto-created topic with 4 partitions" python3 -c '
import json, subprocess, sys, time
for _ in range(30):
    md = json.loads(subprocess.check_output(
        ["kcat", "-b", sys.argv[1], "-L", "-J", "-t", sys.argv[2], "-m", "10"]))
    t = [t for t in md["topics"] if t["topic"] == sys.argv[2]]
    if t and not t[0].get("error") and len(t[0]["partitions"]) == 4:
        sys.exit(0)
    time.sleep(1)
sys.exit("topic metadata: %r" % (t,))
' "$B" "$T"
}

step_consume() {
    local i
    for i in $(seq 0 $((N - 1))); do
        echo "$i|key-$i|value-$i with spaces and = signs|h1=alpha,h2=beta gamma"
    done > "$WORK/want_all.txt"
    check "-C -e reads back exactly what was written" bash -c \
        "kcat -b '$B' -C -t '$T' -p 0 -o beginning -e -q -f '%o|%k|%s|%h\n' \
         > '$WORK/got_all.txt' && diff -u '$WORK/want_all.txt' '$WORK/got_all.txt'"
    sed -n '6,8p' "$WORK/want_all.txt" > "$WORK/want_mid.txt"
    check "-o 5 -c 3 reads offsets 5..7" bash -c \
        "kcat -b '$B' -C -t '$T' -p 0 -o 5 -c 3 -e -q -f '%o|%k|%s|%h\n' \
         > '$WORK/got_mid.txt' && diff -u '$WORK/want_mid.txt' '$WORK/got_mid.txt'"
    tail -n 4 "$WORK/want_all.txt" > "$WORK/want_tail.txt"
    check "-o -4 reads the last 4 records" bash -c \
        "kcat -b '$B' -C -t '$T' -p 0 -o -4 -e -q -f '%o|%k|%s|%h\n' \
         > '$WORK/got_tail.txt' && diff -u '$WORK/want_tail.txt' '$WORK/got_tail.txt'"
    check "-o end -e reads nothing" bash -c \
        "out=\$(kcat -b '$B' -C -t '$T' -p 0 -o end -e -q) && [ -z \"\$out\" ]"
}

step_json() {
    check "-J consumer output" python3 -c '
import json, subprocess, sys, time
b, t, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = subprocess.check_output(["kcat", "-b", b, "-C", "-t", t, "-p", "0", "-o", "beginning",
                               "-e", "-q", "-J"], text=True)
recs = [json.loads(l) for l in out.splitlines() if l.strip()]
assert len(recs) == n, "%d records, want %d" % (len(recs), n)
now = time.time() * 1000
for i, r in enumerate(recs):
    assert r["topic"] == t and r["partition"] == 0 and r["offset"] == i, r
    assert r["key"] == "key-%d" % i, r
    assert r["payload"] == "value-%d with spaces and = signs" % i, r
    assert r["headers"] == ["h1", "alpha", "h2", "beta gamma"], r
    assert r["tstype"] == "create", r
    assert abs(r["ts"] - now) < 600000, "timestamp %r far from now" % r["ts"]
' "$B" "$T" "$N"
}

step_null() {
    check "-Z produces a null value" bash -c \
        "printf 'nullkey:\n' | kcat -b '$B' -P -t '$T' -p 0 -K: -Z"
    check "the null value reads back as null (-J)" python3 -c '
import json, subprocess, sys
out = subprocess.check_output(["kcat", "-b", sys.argv[1], "-C", "-t", sys.argv[2], "-p", "0",
                               "-o", sys.argv[3], "-e", "-q", "-J"], text=True)
recs = [json.loads(l) for l in out.splitlines() if l.strip()]
assert len(recs) == 1 and recs[0]["key"] == "nullkey" and recs[0]["payload"] is None, recs
' "$B" "$T" "$N"
}

step_keyed() {
    local i
    for i in $(seq 0 199); do echo "k$i:v$i"; done > "$WORK/keyed.txt"
    check "-P keyed records to all partitions" kc -P -t "$TK" -K: -l "$WORK/keyed.txt"
    check "all partitions together hold every keyed record once" bash -c \
        "kcat -b '$B' -C -t '$TK' -o beginning -e -q -f '%k:%s\n' | sort > '$WORK/got_keyed.txt' \
         && sort '$WORK/keyed.txt' | diff -u - '$WORK/got_keyed.txt' \
         && [ \$(kcat -b '$B' -C -t '$TK' -o beginning -e -q -f '%p\n' | sort -u | wc -l) -gt 1 ]"
}

step_list
step_produce
step_consume
step_json
step_null
step_keyed
if [ "$FAILED" -eq 0 ]; then
    echo "PASS kcat: $CHECKS checks, topics $T $TK"
    exit 0
fi
echo "FAIL kcat: $FAILED of $CHECKS checks failed, topics $T $TK"
exit 1
