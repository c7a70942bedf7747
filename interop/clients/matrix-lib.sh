# interop/clients/matrix-lib.sh: client installation, driver command lines, ports and
# the result table for interop/matrix.sh, which sources this file (bash, not run alone).
#
# Expects from the caller: HERE (interop/), REPO, CACHE, WORK, BUILD_DIR, CLIENTS,
# SCN_ORDER, SCN_DESC, RES/DETAIL (keys "<broker>,<scenario>,<client>"), log().
# Every install step is idempotent: a stamp file $CACHE/stamp-<client> holds the
# checksum of the files the client was installed and built from; while it matches,
# install_client does nothing. Install output goes to $CACHE/install-<client>.log.
# Pinned versions live in the files hashed here (requirements.txt, pom.xml, go.mod and
# go.sum, package.json and package-lock.json); Debian's kafka-python is 2.0.2.

CLIENTS_DIR="$HERE/clients"

client_sum() {   # <files...>: one checksum over their contents
    cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1
}

apt_ensure() {   # <packages...>: install the Debian packages that are missing
    local p miss=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || miss+=("$p")
    done
    [[ ${#miss[@]} -eq 0 ]] && return 0
    apt-get install -y "${miss[@]}" || { apt-get update && apt-get install -y "${miss[@]}"; }
}

venv_install() {   # <venv dir> <requirements file>
    rm -rf "$1"
    /usr/bin/python3 -m venv "$1" || return 1
    "$1/bin/pip" install -q --disable-pip-version-check -r "$2"
}

install_rdkafka() {
    apt_ensure librdkafka-dev || return 1
    mkdir -p "$CACHE/bin"
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$CACHE/bin/rdkafka-driver" \
        "$CLIENTS_DIR/rdkafka/driver.c" "$HERE/rdkafka/itest.c" -lrdkafka
}

install_java() {
    local d="$CACHE/java"
    command -v mvn >/dev/null 2>&1 || apt_ensure maven || return 1
    rm -rf "$d" && mkdir -p "$d/classes"
    cp "$CLIENTS_DIR/java/pom.xml" "$d/pom.xml"
    (cd "$d" && mvn -q -B \
        org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
        -DoutputDirectory="$d/lib" -DincludeScope=runtime) || return 1
    javac -d "$d/classes" -cp "$d/lib/*" "$CLIENTS_DIR/java/Driver.java"
}

install_franz_go() {
    mkdir -p "$CACHE/bin"
    (cd "$CLIENTS_DIR/franz-go" && GOPATH="$CACHE/gopath" GOFLAGS=-modcacherw \
        GOTOOLCHAIN=local go build -o "$CACHE/bin/franz-go-driver" .)
}

install_node() {   # <client dir name>
    local d="$CACHE/$1"
    rm -rf "$d" && mkdir -p "$d"
    cp "$CLIENTS_DIR/$1/package.json" "$CLIENTS_DIR/$1/package-lock.json" "$d/"
    (cd "$d" && npm ci --no-audit --no-fund)
}

client_files() {   # <client>: the files whose change means reinstalling
    local d="$CLIENTS_DIR"
    case "$1" in
        rdkafka) echo "$d/rdkafka/driver.c $HERE/rdkafka/itest.c $HERE/rdkafka/itest.h" ;;
        java) echo "$d/java/pom.xml $d/java/Driver.java" ;;
        confluent-python) echo "$d/confluent-python/requirements.txt" ;;
        kafka-python) echo "$d/kafka-python/requirements.txt" ;;
        kafka-python-deb) echo "$d/matrix-lib.sh" ;;
        franz-go) echo "$d/franz-go/go.mod $d/franz-go/go.sum $d/franz-go/main.go" ;;
        kafkajs|platformatic) echo "$d/$1/package.json $d/$1/package-lock.json" ;;
    esac
}

install_client() {   # <client>
    local c=$1 want files rc logf="$CACHE/install-$1.log"
    read -r -a files <<< "$(client_files "$c")"
    want=$(client_sum "${files[@]}")
    [[ -f "$CACHE/stamp-$c" && "$(cat "$CACHE/stamp-$c")" == "$want" ]] && return 0
    log "installing $c (log: $logf)"
    case "$c" in
        rdkafka) install_rdkafka ;;
        java) install_java ;;
        confluent-python) venv_install "$CACHE/py-confluent" \
            "$CLIENTS_DIR/confluent-python/requirements.txt" ;;
        kafka-python) venv_install "$CACHE/py-kafka" \
            "$CLIENTS_DIR/kafka-python/requirements.txt" ;;
        kafka-python-deb) apt_ensure python3-kafka python3-snappy python3-lz4 \
            python3-zstandard ;;
        franz-go) install_franz_go ;;
        kafkajs|platformatic) install_node "$c" ;;
    esac > "$logf" 2>&1
    rc=$?
    [[ $rc -eq 0 ]] || { tail -n 20 "$logf" >&2; return 1; }
    echo "$want" > "$CACHE/stamp-$c"
}

# driver_cmd <client>: fills the array DRIVER (the arguments follow it)
driver_cmd() {
    local d="$CLIENTS_DIR"
    case "$1" in
        rdkafka) DRIVER=("$CACHE/bin/rdkafka-driver") ;;
        java) DRIVER=(java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC
                      -cp "$CACHE/java/classes:$CACHE/java/lib/*" Driver) ;;
        confluent-python) DRIVER=("$CACHE/py-confluent/bin/python" "$d/confluent-python/driver.py") ;;
        kafka-python) DRIVER=("$CACHE/py-kafka/bin/python" "$d/kafka-python/driver.py") ;;
        # Debian's python3-kafka, by Debian's interpreter without user site-packages
        kafka-python-deb) DRIVER=(/usr/bin/python3 -s "$d/kafka-python/driver.py") ;;
        franz-go) DRIVER=("$CACHE/bin/franz-go-driver") ;;
        # ES modules resolve packages next to the importing file: run a fresh copy there
        kafkajs) cp "$d/kafkajs/driver.js" "$d/kafkajs/driver_group.js" "$CACHE/kafkajs/"
                 DRIVER=(node "$CACHE/kafkajs/driver.js") ;;
        platformatic) cp "$d/platformatic/driver.mjs" "$CACHE/platformatic/driver.mjs"
                      DRIVER=(node "$CACHE/platformatic/driver.mjs") ;;
    esac
}

# client_requires <client> <scenario>: APIs the client itself needs beyond the
# scenario's. KafkaJS and @platformatic/kafka consume only through a consumer group;
# the Java client (3.0 on) and kafka-python 3.x produce idempotently by default, so
# with default settings they cannot produce at all without InitProducerId.
client_requires() {
    local groups="FindCoordinator,JoinGroup,SyncGroup,Heartbeat,LeaveGroup,OffsetFetch"
    [[ "$2" == metadata_admin ]] && return 0
    case "$1" in
        platformatic) [[ "$2" == keyed_6p ]] && groups+=",InitProducerId"  # see driver.mjs
                      echo "$groups" ;;
        kafkajs) echo "$groups" ;;
        java|kafka-python) echo "InitProducerId" ;;
    esac
}

port_free() {   # true if 127.0.0.1:<port> can be bound
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
}

pick_ports() {   # SKIFF_PORT, and KAFKA_PORT whose successor (controller) is free too
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + RANDOM % 30000))
        port_free "$p" || continue
        if [[ -z "$SKIFF_PORT" ]]; then
            SKIFF_PORT=$p
        elif port_free $((p + 1)) && [[ $p -ne $SKIFF_PORT && $((p + 1)) -ne $SKIFF_PORT ]]; then
            KAFKA_PORT=$p
            return 0
        fi
    done
    die "no free ports"
}

cell_text() {   # <scenario> <client>: "Skiff / Kafka"
    local k s
    for b in skiff kafka; do
        case "${RES[$b,$1,$2]:-}" in
            PASS) s=pass ;; FAIL) s=FAIL ;; SKIP) s=n/a ;; NOTYET) s="not yet" ;; *) s="?" ;;
        esac
        k+="${k:+ / }$s"
    done
    echo "$k"
}

write_table() {
    local s c b rev
    rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)
    echo "# Interop matrix: Skiff / Apache Kafka 4.1.1"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') at commit ${rev:-unknown}" \
         "(skiffd from \`$BUILD_DIR\`)."
    echo "Each cell is \"Skiff / Apache Kafka\": pass, FAIL, not yet (skiffd does not"
    echo "advertise an API the scenario needs), n/a (the client library cannot do it)."
    echo
    printf '| scenario |'; for c in $CLIENTS; do printf ' %s |' "$c"; done; echo
    printf '| --- |'; for c in $CLIENTS; do printf ' --- |'; done; echo
    for s in "${SCN_ORDER[@]}"; do
        printf '| %s |' "$s"
        for c in $CLIENTS; do printf ' %s |' "$(cell_text "$s" "$c")"; done
        echo
    done
    echo
    echo "## Cells that are not pass"
    echo
    for s in "${SCN_ORDER[@]}"; do
        for c in $CLIENTS; do
            for b in skiff kafka; do
                [[ ${RES[$b,$s,$c]:-} == PASS || ${RES[$b,$s,$c]:-} == NOTYET ]] && continue
                echo "- $b $s $c: ${RES[$b,$s,$c]:-?}: ${DETAIL[$b,$s,$c]:-}"
            done
        done
    done
    echo
    echo "## Not yet on Skiff"
    echo
    local -A why
    local key
    for s in "${SCN_ORDER[@]}"; do
        for c in $CLIENTS; do
            [[ ${RES[skiff,$s,$c]:-} == NOTYET ]] || continue
            key="$s: ${DETAIL[skiff,$s,$c]}"
            why[$key]+="${why[$key]:+, }$c"
        done
    done
    for key in "${!why[@]}"; do echo "- ${key%%:*} (${why[$key]}):${key#*:}"; done | sort
}
