#!/usr/bin/env bash
# interop/kafka-ref.sh: Apache Kafka (the reference broker) on demand, from the jars of
# interop/kafka-ref/pom.xml, for differential tests against skiffd.
#
#   kafka-ref.sh setup                         download the jars once (idempotent)
#   kafka-ref.sh start <port> <datadir> [--override k=v ...]
#                                              single-node KRaft broker+controller on
#                                              127.0.0.1:<port>, controller on <port>+1
#   kafka-ref.sh stop <datadir>                SIGTERM, wait, SIGKILL as a last resort
#   kafka-ref.sh tool <Class> [args...]        run a Kafka CLI class from the same jars
#
# Jars live outside git in ${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}/lib; a stamp
# holding the pom's checksum makes setup a no-op while the pom is unchanged. The data
# dir holds server.properties, data/ (log.dirs), kafka.log (stdout+stderr) and
# kafka.pid; it is created if missing and formatted on first start only.
# Invariant: a pid file exists only while the broker it names was started by us.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM_DIR="$HERE/kafka-ref"
KREF_HOME=${SKIFF_KREF_HOME:-$HOME/.cache/skiff-kref}
LIB="$KREF_HOME/lib"
START_TIMEOUT_S=${KREF_START_TIMEOUT_S:-120}
STOP_TIMEOUT_S=${KREF_STOP_TIMEOUT_S:-60}

die() { echo "kafka-ref: $*" >&2; exit 1; }

pom_sum() { sha256sum "$POM_DIR/pom.xml" | cut -d' ' -f1; }

# java with kafka-run-class.sh's flags; heap from KAFKA_HEAP_OPTS (default 1 GiB)
java_cmd() {   # fills the array JAVA_CMD
    local heap
    read -r -a heap <<< "${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
    JAVA_CMD=(java "${heap[@]}" -server -XX:+UseG1GC
        -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
        -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$POM_DIR/config/log4j2.properties"
        "-Dkafka.logs.dir=${KREF_LOGS_DIR:-$KREF_HOME/logs}"
        -cp "$LIB/*")
}

kr() { java_cmd; "${JAVA_CMD[@]}" "$@"; }

cmd_setup() {
    local want
    want=$(pom_sum)
    if [[ -f "$LIB/.stamp" && "$(cat "$LIB/.stamp")" == "$want" ]]; then
        return 0
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        echo "kafka-ref: mvn missing, installing maven" >&2
        apt-get install -y maven >&2 || die "cannot install maven"
    fi
    command -v java >/dev/null 2>&1 || die "java (17+) is required"
    mkdir -p "$KREF_HOME"
    rm -rf "$LIB.tmp"
    cp "$POM_DIR/pom.xml" "$KREF_HOME/pom.xml"
    echo "kafka-ref: fetching Kafka jars into $LIB" >&2
    (cd "$KREF_HOME" && mvn -q -B \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DoutputDirectory="$LIB.tmp" -DincludeScope=runtime) >&2 \
        || die "mvn copy-dependencies failed"
    ls "$LIB.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka_2.13 jar missing"
    ls "$LIB.tmp"/log4j-slf4j-impl-*.jar >/dev/null 2>&1 || die "log4j binding missing"
    rm -rf "$LIB"
    mv "$LIB.tmp" "$LIB"
    echo "$want" > "$LIB/.stamp"
}

write_props() {   # <port> <datadir>
    local port=$1 dir=$2 cport=$(($1 + 1))
    cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

# true once the broker answers a Metadata request on 127.0.0.1:<port>
answers() {
    local port=$1
    if command -v kcat >/dev/null 2>&1; then
        kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
    fi
}

cmd_start() {
    [[ $# -ge 2 ]] || die "usage: start <port> <datadir> [--override k=v ...]"
    local port=$1 dir=$2 pid cid i
    shift 2
    [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
    cmd_setup
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [[ -f "$dir/kafka.pid" ]] && kill -0 "$(cat "$dir/kafka.pid")" 2>/dev/null; then
        die "already running in $dir (pid $(cat "$dir/kafka.pid"))"
    fi
    write_props "$port" "$dir"
    mkdir -p "$dir/logs"
    export KREF_LOGS_DIR="$dir/logs"
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        cid=$(KAFKA_HEAP_OPTS=-Xmx256M kr -Dkref.loglevel=WARN \
            kafka.tools.StorageTool random-uuid)
        KAFKA_HEAP_OPTS=-Xmx256M kr -Dkref.loglevel=WARN kafka.tools.StorageTool \
            format -t "$cid" -c "$dir/server.properties" --standalone \
            >> "$dir/kafka.log" 2>&1 || die "storage format failed (see $dir/kafka.log)"
    fi
    # setsid: the broker must not share the caller's process group (a Ctrl-C there is
    # handled by the caller's trap, which stops the broker cleanly). The child writes
    # its own pid, which stays the broker's pid across exec.
    rm -f "$dir/kafka.pid"
    java_cmd
    setsid bash -c 'echo $$ > "$0"; exec "$@"' "$dir/kafka.pid" \
        "${JAVA_CMD[@]}" kafka.Kafka "$dir/server.properties" "$@" \
        >> "$dir/kafka.log" 2>&1 < /dev/null &
    for ((i = 0; i < 100; i++)); do
        [[ -s "$dir/kafka.pid" ]] && break
        sleep 0.1
    done
    pid=$(cat "$dir/kafka.pid" 2>/dev/null) || die "broker did not start"
    for ((i = 0; i < START_TIMEOUT_S * 2; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$dir/kafka.pid"
            tail -n 30 "$dir/kafka.log" >&2
            die "broker exited during start-up (log: $dir/kafka.log)"
        fi
        if answers "$port"; then
            echo "kafka-ref: up on 127.0.0.1:$port pid $pid (log $dir/kafka.log)" >&2
            return 0
        fi
        sleep 0.5
    done
    cmd_stop "$dir" || true
    die "broker did not answer within ${START_TIMEOUT_S}s (log: $dir/kafka.log)"
}

cmd_stop() {
    [[ $# -eq 1 ]] || die "usage: stop <datadir>"
    local dir=$1 pid i
    [[ -f "$dir/kafka.pid" ]] || { echo "kafka-ref: not running in $dir" >&2; return 0; }
    pid=$(cat "$dir/kafka.pid")
    if kill -TERM "$pid" 2>/dev/null; then
        for ((i = 0; i < STOP_TIMEOUT_S * 2; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "kafka-ref: pid $pid ignored SIGTERM, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$dir/kafka.pid"
}

cmd_tool() {
    [[ $# -ge 1 ]] || die "usage: tool <Class> [args...]"
    cmd_setup
    KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M} kr -Dkref.loglevel="${KREF_TOOL_LOGLEVEL:-WARN}" "$@"
}

main() {
    local sub=${1:-}
    [[ $# -gt 0 ]] && shift
    case "$sub" in
        setup) cmd_setup ;;
        start) cmd_start "$@" ;;
        stop)  cmd_stop "$@" ;;
        tool)  cmd_tool "$@" ;;
        *) sed -n '2,12p' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
    esac
}

main "$@"
