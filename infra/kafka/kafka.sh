#!/usr/bin/env bash
# Single-node Apache Kafka broker (KRaft, combined broker+controller) from Maven Central jars. No Docker.
#
#   usage: infra/kafka/kafka.sh fetch|start|stop|status|reset     (works from any cwd, idempotent)
#
#   fetch   download the jars into infra/kafka/libs/ (only if missing or pom.xml changed)
#   start   fetch if needed, format storage if needed, start in the background, wait until ready.
#           Reuses a broker that is already running (ours via pid file, or any Kafka answering on the port).
#   stop    TERM, then KILL after KAFKA_STOP_TIMEOUT seconds (default 30)
#   status  exit 0 and print "running" if the broker answers on the port, else exit 1
#   reset   stop and wipe data + logs (jars kept)
#
# Env: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_STATE_DIR (infra/kafka/.state),
#      KAFKA_FRESH=1 (wipe data before start), KAFKA_START_TIMEOUT (60 s), KAFKA_STOP_TIMEOUT (30 s),
#      KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS, KAFKA_CDS=0 (no class-data archive), KAFKA_LOG_LEVEL (WARN),
#      KAFKA_CLUSTER_ID, JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
LIBS="$HERE/libs"
STAMP="$LIBS/.pom.sha256"
STATE="${KAFKA_STATE_DIR:-$HERE/.state}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
DATA="$STATE/data"
LOGS="$STATE/logs"
CONF="$STATE/server.properties"
PIDFILE="$STATE/kafka.pid"
OUT="$LOGS/kafka.out"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HOST=127.0.0.1
CLUSTER_ID="${KAFKA_CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" # 22-char base64url Uuid; must not start with '-'
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}"
JVM_OPTS="${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}"
LOG_OPTS=(-Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS")
READY_LINE='Kafka Server started'

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

pom_hash() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }
libs_ok() { [[ -f $STAMP && "$(cat "$STAMP")" == "$(pom_hash)" ]] && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null; }

# Serialise fetch/start/stop between concurrent invocations (e.g. parallel Nx targets).
lock() { command -v flock >/dev/null || return 0; exec 9>"$STATE/.lock"; flock -w 300 9 || die "could not lock $STATE/.lock"; }

# pid file names a live process that is a Kafka broker (guards against pid reuse)
pid_alive() {
  local pid
  [[ -f $PIDFILE ]] && pid=$(cat "$PIDFILE") && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'
}
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
# Is a Kafka broker answering on $1? Sends an ApiVersions v0 request (correlation id 7) and checks the reply.
kafka_answers() {
  local reply
  # shellcheck disable=SC2016 # expanded by the inner shell
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x0b\x00\x12\x00\x00\x00\x00\x00\x07\x00\x01k" >&3
    head -c 10 <&3 | od -An -tx1' "$HOST" "$1" 2>/dev/null | tr -d ' \n') || return 1
  # size(4) | correlation id = 7 | error_code = 0
  [[ $reply == ????????000000070000 ]]
}

check_java() {
  command -v "$JAVA" >/dev/null || die "java not found (need Java 17+)"
  local v
  v=$("$JAVA" -version 2>&1 | sed -E -n 's/.* version "([0-9]+).*/\1/p' | head -n1)
  [[ -n $v && $v -ge 17 ]] || die "Java 17+ required (found: ${v:-none})"
}

cmd_fetch() {
  if libs_ok; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found"
  log "fetching Kafka jars with Maven into $LIBS ..."
  local t0=$SECONDS
  rm -rf "$LIBS" # never mix two versions of a jar in libs/ (copy-dependencies never deletes)
  mkdir -p "$LOGS"
  # output to a log (shown on failure): keeps `start`'s stdout to the one "ready" line
  mvn -q -B -f "$HERE/pom.xml" package >"$LOGS/fetch.log" 2>&1 ||
    { sed 's/\x1b\[[0-9;]*m//g' "$LOGS/fetch.log" | tail -n 40 >&2; die "maven fetch failed (log: $LOGS/fetch.log)"; }
  compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null || die "fetch failed: no kafka_2.13 jar in $LIBS"
  pom_hash >"$STAMP"
  log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $((SECONDS - t0))s"
}

render_conf() {
  mkdir -p "$DATA" "$LOGS"
  sed -e "s#@DATA_DIR@#$DATA#g" -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$HERE/server.properties" >"$CONF"
}

# KRaft storage must be formatted before the first start. The formatted files (meta.properties,
# bootstrap.checkpoint) are kept as a template, so fresh starts copy them instead of running the ~1 s format JVM.
format_storage() {
  [[ -f $DATA/meta.properties ]] && return 0
  local tpl="$STATE/format-template" key
  key=$( (cat "$CONF" "$STAMP"; echo "$CLUSTER_ID") | sha256sum | cut -d' ' -f1)
  if [[ -f $tpl/.key && "$(cat "$tpl/.key")" == "$key" ]]; then
    cp -p "$tpl/meta.properties" "$tpl/bootstrap.checkpoint" "$DATA/"
    return 0
  fi
  local mode=()
  # static quorum (controller.quorum.voters) => format without flags; dynamic quorum => --standalone
  grep -q '^controller\.quorum\.voters=' "$CONF" || mode=(--standalone)
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${LOG_OPTS[@]}" -cp "$LIBS/*" \
    kafka.tools.StorageTool format "${mode[@]}" -t "$CLUSTER_ID" -c "$CONF" --ignore-formatted >>"$OUT" 2>&1 ||
    { tail -n 40 "$OUT" >&2; die "storage format failed"; }
  if [[ -f $DATA/meta.properties && -f $DATA/bootstrap.checkpoint ]]; then
    rm -rf "$tpl" && mkdir -p "$tpl" && cp -p "$DATA/meta.properties" "$DATA/bootstrap.checkpoint" "$tpl/" && echo "$key" >"$tpl/.key"
  fi
}

# AppCDS (JDK 13+ dynamic archive): the first run writes a class-data archive when the JVM exits cleanly
# (kafka.sh stop), later starts map it (~1 s faster). Keyed on jars + JDK; KAFKA_CDS=0 disables it.
cds_opts() {
  [[ ${KAFKA_CDS:-1} == 1 ]] || return 0
  local key jsa
  key=$( (cat "$STAMP"; "$JAVA" -version 2>&1) | sha256sum | cut -c1-16)
  jsa="$STATE/cds/kafka-$key.jsa"
  if [[ -s $jsa ]]; then
    echo "-Xlog:cds*=off -XX:SharedArchiveFile=$jsa"
  else
    rm -rf "$STATE/cds" && mkdir -p "$STATE/cds"
    echo "-Xlog:cds*=off -XX:ArchiveClassesAtExit=$jsa"
  fi
}

wait_ready() { # $1 = pid, $2 = log offset (bytes) where this start's output begins
  local timeout="${KAFKA_START_TIMEOUT:-60}" start=$SECONDS
  while :; do
    if tail -c +"$(($2 + 1))" "$OUT" 2>/dev/null | grep -q "$READY_LINE" && kafka_answers "$PORT"; then return 0; fi
    kill -0 "$1" 2>/dev/null || { tail -n 60 "$OUT" >&2; rm -f "$PIDFILE"; die "broker exited during start-up (log: $OUT)"; }
    ((SECONDS - start < timeout)) || { tail -n 60 "$OUT" >&2; die "not ready after ${timeout}s (pid $1, log: $OUT)"; }
    sleep 0.2
  done
}

cmd_start() {
  lock
  if pid_alive; then
    local pid; pid=$(cat "$PIDFILE")
    # ours, maybe still starting (another invocation launched it): wait for it
    if ! kafka_answers "$PORT"; then wait_ready "$pid" 0; fi
    echo "Kafka ready on $HOST:$PORT (already running, pid $pid)"
    return 0
  fi
  rm -f "$PIDFILE"
  if kafka_answers "$PORT"; then
    echo "Kafka ready on $HOST:$PORT (reusing a broker not started by this script)"
    return 0
  fi
  port_open "$PORT" && die "$HOST:$PORT is in use by something that is not a Kafka broker"
  port_open "$CONTROLLER_PORT" && die "$HOST:$CONTROLLER_PORT (controller port) is already in use"

  check_java
  cmd_fetch
  if [[ ${KAFKA_FRESH:-0} == 1 ]]; then rm -rf "$DATA"; fi
  render_conf
  touch "$OUT"
  local offset; offset=$(stat -c %s "$OUT")
  echo "=== start $(date -Is) ===" >>"$OUT"
  format_storage
  # setsid: own session/process group, so the broker outlives the calling shell / job control.
  # The inner shell writes its own pid and then execs java, so the pid file holds the JVM's pid.
  local cds; cds=$(cds_opts)
  # shellcheck disable=SC2086,SC2016 # word-split opts on purpose; $$/$0/$@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
    "$JAVA" $HEAP_OPTS $JVM_OPTS $cds "${LOG_OPTS[@]}" -cp "$LIBS/*" kafka.Kafka "$CONF" \
    >>"$OUT" 2>&1 </dev/null 9>&- &
  for _ in $(seq 50); do [[ -s $PIDFILE ]] && break; sleep 0.1; done
  [[ -s $PIDFILE ]] || die "broker process did not start"
  wait_ready "$(cat "$PIDFILE")" "$offset"
  echo "Kafka ready on $HOST:$PORT (pid $(cat "$PIDFILE"), log $OUT)"
}

cmd_stop() {
  lock
  if ! pid_alive; then
    rm -f "$PIDFILE"
    echo "Kafka not running (no live pid in $PIDFILE)"
    return 0
  fi
  local pid timeout="${KAFKA_STOP_TIMEOUT:-30}" start=$SECONDS
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid" 2>/dev/null || true # shutdown hook stops broker + controller cleanly
  while kill -0 "$pid" 2>/dev/null && ((SECONDS - start < timeout)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${timeout}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  echo "Kafka stopped (pid $pid)"
}

cmd_status() {
  local who="not started by this script"
  pid_alive && who="pid $(cat "$PIDFILE")"
  if kafka_answers "$PORT"; then
    echo "running on $HOST:$PORT ($who)"
  elif pid_alive; then
    echo "starting or unresponsive ($who, port $PORT not answering)"
    return 1
  else
    echo "stopped"
    return 1
  fi
}

case "${1:-}" in
  fetch) lock; cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_stop; rm -rf "$DATA" "$LOGS" "$CONF"; echo "Kafka data wiped ($STATE)" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
