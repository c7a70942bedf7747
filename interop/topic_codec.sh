#!/usr/bin/env bash
# interop/topic_codec.sh: a topic's compression.type decides how its batches are stored,
# whatever the producer sent (Kafka recompresses on produce when they differ).
#
#   BOOTSTRAP=host:port interop/topic_codec.sh DATA_DIR [topic-prefix]
#
# DATA_DIR is the broker's log directory (read by raw/segment_codecs.py). Creates, with
# Kafka's kafka-topics (the tools jars of interop/kafka-ref.sh), one topic per case:
#   compression.type=gzip          kcat produces uncompressed  -> stored gzip
#   compression.type=uncompressed  kcat produces lz4           -> stored uncompressed
#   compression.type=producer      kcat produces snappy        -> stored snappy
# Each gets 200 keyed records, which must read back intact and in order. Ends with one
# line "PASS topic-codec: ..." or "FAIL topic-codec: ..." and exit status 0/1.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
B=${BOOTSTRAP:?env BOOTSTRAP is required}
DATA_DIR=${1:?usage: topic_codec.sh DATA_DIR [prefix]}
PREFIX=${2:-it-codec}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
FAILED=0
fail() { FAILED=$((FAILED + 1)); echo "  $*"; }

command -v java >/dev/null && command -v kcat >/dev/null || { echo "FAIL topic-codec: java and kcat are required"; exit 1; }
"$HERE/kafka-ref.sh" setup > "$WORK/setup.log" 2>&1 || { echo "FAIL topic-codec: kafka-ref.sh setup failed"; exit 1; }

one_case() {   # <topic config> <producer codec> <expected stored codec>
    local t="$PREFIX-$1-$2" n=200
    KAFKA_HEAP_OPTS="-Xmx256m" timeout 120 "$HERE/kafka-ref.sh" tool org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$B" --create --topic "$t" --partitions 1 --replication-factor 1 \
        --config "compression.type=$1" > "$WORK/create.out" 2>&1 ||
        { fail "create $t: $(tail -n 1 "$WORK/create.out")"; return; }
    seq 1 $n | awk '{ printf "k%d:value %d with some text to compress, some text to compress\n", $1, $1 }' > "$WORK/in"
    timeout 60 kcat -b "$B" -P -t "$t" -p 0 -K: -z "$2" -X linger.ms=50 < "$WORK/in" ||
        { fail "kcat produce to $t failed"; return; }
    timeout 60 kcat -b "$B" -C -t "$t" -p 0 -o beginning -e -f '%k:%s\n' > "$WORK/out" 2>/dev/null
    cmp -s "$WORK/in" "$WORK/out" || fail "$t: records read back differ ($(wc -l < "$WORK/out") of $n lines)"
    python3 "$HERE/raw/segment_codecs.py" "$DATA_DIR" "$t" "$3" > "$WORK/codecs" 2>&1 ||
        fail "$t (compression.type=$1, producer $2): $(tail -n 1 "$WORK/codecs"), want $3"
}

one_case gzip none gzip
one_case uncompressed lz4 none
one_case producer snappy snappy
if [[ $FAILED -ne 0 ]]; then
    echo "FAIL topic-codec: $FAILED problems"
    exit 1
fi
echo "PASS topic-codec: gzip and uncompressed topics recompress, producer keeps the producer's codec"
