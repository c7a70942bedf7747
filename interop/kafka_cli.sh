#!/usr/bin/env bash
# interop/kafka_cli.sh: Kafka's own command-line tools (the Java tools jar, 4.1.1) against
# the broker under test and against Apache Kafka started beside it, with the same steps
# on both and their outputs compared after normalisation.
#
#   BOOTSTRAP=host:port [KAFKA_CLI_KEEP=dir] interop/kafka_cli.sh [topic-prefix]
#
# Needs java and the jars of `interop/kafka-ref.sh setup` (it runs setup when they are
# missing). Steps, each a tool run (kafka-topics = TopicCommand, kafka-configs =
# ConfigCommand, kafka-delete-records = DeleteRecordsCommand, kafka-get-offsets =
# GetOffsetShell):
#   kafka-topics --create (2 partitions, retention.ms) / --describe / --alter
#   --partitions 3 / --describe (also two partitions per DescribeTopicPartitions
#   response, paging with its cursor) / --list; kafka-configs --alter --add-config
#   (retention.ms, cleanup.policy=compact) / --describe; keyed records produced with
#   kcat; kafka-delete-records on the compact topic (refused: POLICY_VIOLATION);
#   kafka-configs --alter cleanup.policy=delete; kafka-delete-records to offset 2;
#   kafka-get-offsets --time -2 (earliest = 2); kafka-topics --delete / --describe
#   (gone).
# Normalised before comparing: topic ids; min.insync.replicas=1, which the reference broker sets in its
# server.properties (a static broker config that kafka-topics lists); and config
# synonyms beyond the first (Kafka also lists some broker defaults). Ends with one line
# "PASS kafka-cli: ..." or "FAIL kafka-cli: ..." and exit status 0/1.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=${BOOTSTRAP:?env BOOTSTRAP is required}
PREFIX=${1:-it-cli}
T="$PREFIX-a"
KREF="$HERE/kafka-ref.sh"
WORK=$(mktemp -d)
REF_DATA="$WORK/kafka"
REF_STARTED=0
FAILED=0

cleanup() {
    [[ $REF_STARTED -eq 1 ]] && "$KREF" stop "$REF_DATA" >/dev/null 2>&1
    [[ -n "${KAFKA_CLI_KEEP:-}" ]] && mkdir -p "$KAFKA_CLI_KEEP" && cp "$WORK"/*.out* "$KAFKA_CLI_KEEP"/
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() { FAILED=$((FAILED + 1)); echo "  $*"; }

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

tool() {    # <class> [args...]: stdout+stderr without the JVM's logging noise
    KAFKA_HEAP_OPTS="-Xmx256m" timeout 120 "$KREF" tool "$@" 2>&1 |
        grep -v -E '^(SLF4J|\[[0-9-]+ [0-9:,]+\] (WARN|INFO))|^\s+at |log4j'
}

normalise() {
    sed -E -e 's/TopicId: [A-Za-z0-9_-]{22}/TopicId: <id>/' \
        -e 's/min\.insync\.replicas=1,?//; s/Configs: ,/Configs: /; s/,$//' \
        -e 's/synonyms=\{([^,}]*)(, [^}]*)?\}/synonyms={\1}/' \
        -e 's/^\[[0-9-]+ [0-9:,]+\] //' \
        -e 's/\(org\.apache\.kafka[^)]*\)$//' -e 's/[[:space:]]+$//'
}

# run_steps <bootstrap> <outfile>: the whole sequence against one broker
run_steps() {
    local bs=$1 out=$2 dr="$WORK/dr.json"
    printf '{"partitions":[{"topic":"%s","partition":0,"offset":2}],"version":1}\n' "$T" > "$dr"
    {
        echo "## create"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --topic "$T" \
            --partitions 2 --replication-factor 1 --config retention.ms=3600000
        echo "## describe"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$T"
        echo "## alter partitions"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --alter --topic "$T" --partitions 3
        echo "## describe after alter"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$T"
        echo "## describe two partitions per response (DescribeTopicPartitions cursor)"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$T" \
            --partition-size-limit-per-response 2
        echo "## list (this test's topics)"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --list | grep -F -- "$PREFIX"
        echo "## configs alter"
        tool kafka.admin.ConfigCommand --bootstrap-server "$bs" --entity-type topics --entity-name "$T" \
            --alter --add-config retention.ms=7200000,cleanup.policy=compact
        echo "## configs describe"
        tool kafka.admin.ConfigCommand --bootstrap-server "$bs" --entity-type topics --entity-name "$T" --describe
        echo "## produce 5 keyed records to partition 0"
        for i in 1 2 3 4 5; do echo "k$i:v$i"; done |
            timeout 60 kcat -b "$bs" -P -K: -t "$T" -p 0 2>&1
        echo "## delete-records on a compact topic"
        tool org.apache.kafka.tools.DeleteRecordsCommand --bootstrap-server "$bs" --offset-json-file "$dr" |
            grep -E 'partition:|completed' | sed -E 's/(PolicyViolationException): .*/\1/'
        echo "## configs alter to delete"
        tool kafka.admin.ConfigCommand --bootstrap-server "$bs" --entity-type topics --entity-name "$T" \
            --alter --add-config cleanup.policy=delete
        echo "## delete-records"
        tool org.apache.kafka.tools.DeleteRecordsCommand --bootstrap-server "$bs" --offset-json-file "$dr"
        echo "## earliest offsets"
        tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$bs" --topic "$T" --time -2
        echo "## latest offsets"
        tool org.apache.kafka.tools.GetOffsetShell --bootstrap-server "$bs" --topic "$T" --time -1
        echo "## delete topic"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --delete --topic "$T"
        sleep 1
        echo "## describe deleted"
        tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$T" |
            grep -E '^Error|does not exist' | head -n 1
    } > "$out.raw" 2>&1
    normalise < "$out.raw" > "$out"
}

expect() {  # <file> <description> <extended regex>: a line must match
    grep -qE -- "$3" "$1" || fail "$2: no line matches /$3/"
}

if ! command -v java >/dev/null || ! command -v kcat >/dev/null; then
    echo "FAIL kafka-cli: java and kcat are required"
    exit 1
fi
"$KREF" setup > "$WORK/setup.log" 2>&1 || { echo "FAIL kafka-cli: kafka-ref.sh setup failed"; exit 1; }

run_steps "$B" "$WORK/skiff.out"
S="$WORK/skiff.out"
expect "$S" "create" '^Created topic '"$T"'\.$'
expect "$S" "describe" "^Topic: $T	TopicId: <id>	PartitionCount: 2	ReplicationFactor: 1	Configs: retention.ms=3600000$"
expect "$S" "alter --partitions" "^Topic: $T	TopicId: <id>	PartitionCount: 3	"
expect "$S" "third partition" "^	Topic: $T	Partition: 2	Leader: [0-9]+	Replicas: [0-9]+	Isr: [0-9]+	Elr: 	LastKnownElr:$"
expect "$S" "configs describe" "^  cleanup.policy=compact sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact\}$"
expect "$S" "configs describe" "^  retention.ms=7200000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention.ms=7200000\}$"
expect "$S" "delete-records on a compact topic" "^partition: $T-0	error: .*PolicyViolationException$"
expect "$S" "delete-records" "^partition: $T-0	low_watermark: 2$"
expect "$S" "earliest offsets" "^$T:0:2$"
expect "$S" "latest offsets" "^$T:0:5$"
expect "$S" "deleted topic" "does not exist"

REF_PORT=$(free_port)
if "$KREF" start "$REF_PORT" "$REF_DATA" > "$WORK/kref.log" 2>&1; then
    REF_STARTED=1
    run_steps "127.0.0.1:$REF_PORT" "$WORK/kafka.out"
    if ! diff -u "$WORK/kafka.out" "$S" > "$WORK/diff"; then
        fail "output differs from Apache Kafka's (- kafka, + skiff):"
        sed 's/^/    /' "$WORK/diff" | head -n 60
    fi
else
    fail "the reference Kafka did not start ($(tail -n 1 "$WORK/kref.log"))"
fi

if [[ $FAILED -ne 0 ]]; then
    echo "  skiff output:"
    sed 's/^/    /' "$WORK/skiff.out.raw" | head -n 60
    echo "FAIL kafka-cli: $FAILED problems"
    exit 1
fi
echo "PASS kafka-cli: kafka-topics, kafka-configs, kafka-delete-records and kafka-get-offsets give Kafka 4.1's output"
