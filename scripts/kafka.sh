#!/usr/bin/env bash
# Runs a real Apache Kafka broker (KRaft, one node that is both broker and controller) on loopback,
# for tests and single-machine use. The version is the one in scripts/kafka/pom.xml.
#
#   scripts/kafka.sh start  [--dir DIR]   start the broker in DIR, wait until it serves (at most
#                                         90 s) and print its address 127.0.0.1:PORT
#   scripts/kafka.sh stop   [--dir DIR]   stop it: SIGTERM, SIGKILL after 30 s
#   scripts/kafka.sh status [--dir DIR]   prints "running ADDR (pid N)" (exit 0), "not running"
#                                         (exit 3) or "starting (pid N)" (exit 4: a start waits)
#   scripts/kafka.sh fetch                only fetch the broker's jars into the cache
#   scripts/kafka.sh --help
#
# Exit status: 0 done (start when already running, stop when nothing ran), 1 failure (start prints
# the broker's errors), 2 unknown command or option, 130 start interrupted (nothing left running).
#
# DIR defaults to $SPOTLINE_KAFKA_DIR, else <repo>/build/kafka. The first start in a DIR picks
# two free ports on 127.0.0.1, writes DIR/server.properties and formats DIR/data; later starts
# reuse both, so a broker stopped and started again has the same address and keeps its messages.
# Delete DIR for a fresh broker. Also in DIR: log4j2.properties, broker.log (the broker's log),
# broker.out (the JVM's own output), and while running broker.pid and address (written once the
# broker serves). Only the address goes to stdout, so `addr=$(scripts/kafka.sh start)` works.
# A restart after a crash (SIGKILL) takes about 4 s longer: the controller waits out the old
# session.
#
# Jars: copied by Maven from Maven Central into a cache outside the repository,
# ${SPOTLINE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spotline}/kafka-<version>/libs,
# fetched again when the pom changes; an interrupted fetch is never taken as complete.
# SPOTLINE_KAFKA_JAVA_OPTS replaces the JVM's heap, collector and compiler flags;
# SPOTLINE_KAFKA_CDS=0 turns off the class data sharing archive (built by the first broker that
# stops cleanly; each later start is about a second faster).
#
# Needs java (17+), mvn (to fetch), python3 (first start in a DIR); kcat, when present, confirms
# that the broker serves (otherwise its log saying it started is taken as ready).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pom="$root/scripts/kafka/pom.xml"

# Seconds since $1 (an $EPOCHREALTIME), to a tenth.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
die() { echo "kafka.sh: $*" >&2; exit 1; }
usage_error() { echo "kafka.sh: $* (see scripts/kafka.sh --help)" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# --- arguments ---------------------------------------------------------------------------------
command=""
dir="${SPOTLINE_KAFKA_DIR:-$root/build/kafka}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help|help) usage; exit 0 ;;
    --dir) [[ $# -ge 2 && -n "$2" ]] || usage_error "--dir needs a directory"; dir="$2"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; [[ -n "$dir" ]] || usage_error "--dir needs a directory"; shift ;;
    start|stop|status|fetch)
      [[ -z "$command" ]] || usage_error "more than one command: '$command' and '$1'"
      command="$1"; shift ;;
    -*) usage_error "unknown option '$1'" ;;
    *) usage_error "unknown command '$1'" ;;
  esac
done
[[ -n "$command" ]] || usage_error "no command given (start, stop, status or fetch)"

# The one place the version is written down is the pom.
version=$(sed -n 's:.*<kafka\.version>\([^<]*\)</kafka\.version>.*:\1:p' "$pom" | head -n 1)
[[ -n "$version" ]] || die "no <kafka.version> in $pom"
cache="${SPOTLINE_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/spotline}/kafka-$version"
libs="$cache/libs"

# --- jars ----------------------------------------------------------------------------------------
# libs/ only ever appears by a rename of a complete copy, which holds the pom's checksum in
# .pom.sha256: a changed pom fetches again. Fetches into one cache take turns.
pom_sum=$(sha256sum "$pom" | cut -d' ' -f1)
fetched() { [[ "$(cat "$libs/.pom.sha256" 2>/dev/null)" == "$pom_sum" ]]; }

fetch() {
  fetched && return 0
  command -v mvn >/dev/null || die "mvn missing (scripts/install-deps.sh installs it)"
  mkdir -p "$cache"
  exec 8>"$cache/.lock"
  flock -w 600 8 || die "$cache is locked by another fetch for over 600 s"
  if ! fetched; then
    local tmp started=$EPOCHREALTIME
    rm -rf "$cache"/libs.partial.*   # left by an interrupted fetch (we hold the lock)
    tmp=$(mktemp -d "$cache/libs.partial.XXXXXX")
    echo "kafka.sh: fetching Kafka $version jars into $libs" >&2
    # Maven's output is kept in fetch.log and shown only when the fetch fails.
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
         -DoutputDirectory="$tmp" >"$cache/fetch.log" 2>&1 ||
       [[ ! -f "$tmp/kafka_2.13-$version.jar" ]]; then
      rm -rf "$tmp"
      tail -n 40 "$cache/fetch.log" >&2
      die "fetching the jars failed (Maven's output above, all of it in $cache/fetch.log)"
    fi
    echo "$pom_sum" >"$tmp/.pom.sha256"
    rm -rf "$libs"
    mv -T "$tmp" "$libs"
    echo "kafka.sh: fetched $(find "$libs" -name '*.jar' | wc -l) jars in $(since "$started") s" >&2
  fi
  exec 8>&-
}

if [[ "$command" == fetch ]]; then
  fetch
  exit 0
fi

# --- the broker's directory --------------------------------------------------------------------
if [[ "$command" == start ]]; then
  mkdir -p "$dir"
elif [[ ! -d "$dir" ]]; then
  [[ "$command" == stop ]] && { echo "kafka.sh: not running in $dir" >&2; exit 0; }
  echo "not running"; exit 3
fi
dir=$(cd "$dir" && pwd)
props="$dir/server.properties"
log4j="$dir/log4j2.properties"
pidfile="$dir/broker.pid"
addrfile="$dir/address"
logfile="$dir/broker.log"
outfile="$dir/broker.out"

# Start and stop on one DIR take turns (the lock is released when this script exits).
exec 9>"$dir/.lock"
if [[ "$command" != status ]]; then
  flock -w 120 9 || die "$dir is locked by another kafka.sh for over 120 s"
fi

# Prints the pid of the broker running in DIR, or fails. A stale pid file (process gone, a zombie,
# or the pid reused by something else) counts as not running.
broker_pid() {
  local pid state
  [[ -s "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $props" || return 1
  echo "$pid"
}

# True while the process exists and is not a zombie (the broker is not our child, and whoever
# adopted it may be slow to reap it).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ "$state" != Z ]]
}

# Stops the broker with pid $1: SIGTERM (controlled shutdown), SIGKILL after $2 seconds. Fails if
# it took SIGKILL.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + $2))
  kill -TERM "$pid" 2>/dev/null || true
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
  alive "$pid" || return 0
  echo "kafka.sh: broker (pid $pid) still running after $2 s, sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.1; done
  return 1
}

# --- class data sharing ------------------------------------------------------------------------
# A CDS archive of the classes the broker loads takes 1-1.5 s off every start (about 40 %). The
# first broker started without one dumps it when it exits (that stop takes about 3 s longer); stop
# checks the dump and installs it in libs/ for every later start. The name holds the java in use,
# so a new JDK makes a new archive; a new pom makes a new libs/. An archive that does not match is
# ignored by the JVM, but a truncated one crashes it, hence the check. SPOTLINE_KAFKA_CDS=0 turns
# this off.
cds_new="$dir/classes.jsa.new"
cds_archive() {
  local java_id
  java_id=$(stat -L -c '%n %s %Y' "$(command -v java)" | sha256sum | cut -c1-12)
  echo "$libs/.broker-$java_id.jsa"
}
cds_opts() {
  [[ "${SPOTLINE_KAFKA_CDS:-1}" != 0 ]] || return 0
  local archive
  archive=$(cds_archive)
  if [[ -f "$archive" ]]; then
    echo "-XX:SharedArchiveFile=$archive"
  else
    rm -f "$cds_new"
    echo "-XX:ArchiveClassesAtExit=$cds_new"
  fi
  echo "-Xlog:cds=off"
  echo "-Xlog:cds+dynamic=off"
}
# After a clean exit: if the broker dumped an archive and it loads, install it.
cds_install() {
  [[ -s "$cds_new" ]] || return 0
  local archive
  archive=$(cds_archive)
  if [[ ! -f "$archive" ]] &&
     (cd "$dir" && java -Xshare:on -XX:SharedArchiveFile="$cds_new" -XX:ErrorFile=/dev/null \
        -cp "$libs/*" kafka.tools.StorageTool random-uuid) >/dev/null 2>&1; then
    cp "$cds_new" "$archive.tmp.$$" && mv -f "$archive.tmp.$$" "$archive"
    echo "kafka.sh: class data sharing archive installed in $libs" >&2
  fi
  rm -f "$cds_new"
}

port_of() { sed -n "s|^listeners=.*PLAINTEXT://127\.0\.0\.1:\([0-9]*\).*|\1|p" "$props"; }

# First start in DIR: ports, configuration, formatted storage.
configure() {
  command -v python3 >/dev/null || die "python3 missing (needed to pick free ports)"
  local ports port cport cluster_id
  # Both sockets stay bound until both ports are known, so the two differ.
  ports=$(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
  read -r port cport <<<"$ports"
  # The same form as Kafka's own ids (base64url of 16 random bytes, no padding, no leading '-').
  cluster_id=$(python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break')

  cat >"$props.tmp" <<EOF
# Written by scripts/kafka.sh on first start; reused on every later start in this directory.
# Cluster id: $cluster_id
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# One node: every internal topic has one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Quick to start and to serve the first consumer group (the defaults, 50 partitions per
# internal topic, cost seconds when the topic is first created).
offsets.topic.num.partitions=3
transaction.state.log.num.partitions=3
share.coordinator.state.topic.num.partitions=3
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the controller refuses the restarted broker until the old registration's
# session expires: 9 s by default. Heartbeats stay frequent enough that a pause of a few seconds on
# a busy machine does not fence the broker.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2

auto.create.topics.enable=true
num.partitions=3
EOF
  mv "$props.tmp" "$props"
  format_storage "$cluster_id"
}

write_log4j() {
  cat >"$log4j" <<EOF
# Written by scripts/kafka.sh on every start: INFO to $logfile, nothing on the console.
status = warn
shutdownHook = disable
appender.file.type = File
appender.file.name = file
appender.file.fileName = $logfile
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
EOF
}

format_storage() {
  echo "kafka.sh: formatting $dir/data (cluster id $1)" >&2
  local -a cds
  mapfile -t cds < <(cds_opts | grep -v ArchiveClassesAtExit)
  if ! java -XX:TieredStopAtLevel=1 "${cds[@]}" -Dlog4j2.configurationFile="$log4j" \
       -cp "$libs/*" kafka.tools.StorageTool format -t "$1" -c "$props" >>"$outfile" 2>&1; then
    tail -n 20 "$outfile" >&2
    die "formatting the storage failed (see $outfile)"
  fi
}

# True once the broker says it started (in the part of its log written since byte $2) and, with
# kcat, answers on address $1 and lists itself (so it is unfenced and serves). The log is read first
# because kcat waits out its whole timeout while the listener is not yet open.
ready() {
  tail -c +"$(($2 + 1))" "$logfile" 2>/dev/null | grep -q "Kafka Server started" || return 1
  if command -v kcat >/dev/null; then
    kcat -L -b "$1" -m 5 2>/dev/null | grep -q "broker 1 at 127.0.0.1:"
  fi
}

# What went wrong in this start: the errors in the broker's log since byte $1, its last lines, and
# the end of the JVM's own output.
show_log() {
  local new
  new=$(tail -c +"$(($1 + 1))" "$logfile" 2>/dev/null || true)
  {
    echo "--- errors in $logfile:"
    grep -A 2 -E '^\[[^]]*\] (ERROR|FATAL) ' <<<"$new" | head -n 30 || true
    echo "--- end of $logfile:"
    tail -n 15 <<<"$new"
    echo "--- end of $outfile:"
    tail -n 5 "$outfile"
  } >&2
}

start() {
  local pid
  if pid=$(broker_pid); then
    if [[ -s "$addrfile" ]]; then
      echo "kafka.sh: already running in $dir (pid $pid)" >&2
      cat "$addrfile"
      return 0
    fi
    die "a broker (pid $pid) runs in $dir but has no address; stop it first"
  fi
  rm -f "$pidfile" "$addrfile"
  fetch
  command -v java >/dev/null || die "java missing (scripts/install-deps.sh installs it)"

  write_log4j   # ours, not state: rewritten every start
  if [[ ! -f "$props" ]]; then
    configure
  elif [[ ! -f "$dir/data/meta.properties" ]]; then
    # An earlier first start stopped between writing the configuration and formatting.
    format_storage "$(sed -n 's/^# Cluster id: //p' "$props")"
  fi
  local port addr
  port=$(port_of)
  [[ -n "$port" ]] || die "no PLAINTEXT listener on 127.0.0.1 in $props"
  addr="127.0.0.1:$port"

  # JVM flags: a small heap, the serial collector and the C1 compiler only. Start until ready,
  # measured on 2 cores, idle / busy with a C++ build: 3.2-3.8 / 5-9 s with the JVM's defaults
  # (G1, C2), 2.6-3.4 / 3.4-4.4 s with these, 1.3-2.0 / 2.0-3.3 s adding the CDS archive.
  # A test broker carries little load, so C2's peak speed is not missed.
  local -a jvm_opts cds
  local default_opts="-Xms256m -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
  read -r -a jvm_opts <<<"${SPOTLINE_KAFKA_JAVA_OPTS:-$default_opts}"
  mapfile -t cds < <(cds_opts)

  # The broker runs in a session of its own in DIR, detached from this terminal and from the lock.
  # The inner shell writes its pid and becomes java, so the pid file holds the JVM's pid; setsid
  # does not fork here (a background job of a script leads no process group), so $! is it too.
  local started=$EPOCHREALTIME log_offset
  log_offset=$(stat -c %s "$logfile" 2>/dev/null || echo 0)
  echo "=== start $(date -Is)" >>"$outfile"
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  KAFKA_DIR="$dir" KAFKA_PIDFILE="$pidfile" setsid bash -c 'cd "$KAFKA_DIR" &&
      echo $$ >"$KAFKA_PIDFILE.tmp" && mv "$KAFKA_PIDFILE.tmp" "$KAFKA_PIDFILE" &&
      exec "$@"' kafka \
    java "${jvm_opts[@]}" "${cds[@]}" -Djava.awt.headless=true -Dlog4j2.configurationFile="$log4j" \
      -cp "$libs/*" kafka.Kafka "$props" \
    </dev/null >>"$outfile" 2>&1 9>&- &
  local launcher=$!
  # An interrupted start leaves nothing running.
  trap 'stop_pid "$launcher" 10 || true; rm -f "$pidfile" "$cds_new"; exit 130' INT TERM HUP

  local deadline=$((SECONDS + 90))
  while :; do
    if ready "$addr" "$log_offset"; then break; fi
    if ! alive "$launcher"; then
      echo "kafka.sh: the broker exited during start" >&2
      show_log "$log_offset"
      rm -f "$pidfile" "$cds_new"
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      echo "kafka.sh: the broker did not answer on $addr within 90 s" >&2
      show_log "$log_offset"
      stop_pid "$launcher" 10 || true
      rm -f "$pidfile" "$cds_new"
      exit 1
    fi
    sleep 0.2
  done
  trap - INT TERM HUP
  echo "$addr" >"$addrfile.tmp" && mv "$addrfile.tmp" "$addrfile"
  echo "kafka.sh: broker ready on $addr in $(since "$started") s (pid $(<"$pidfile"), dir $dir)" >&2
  echo "$addr"
}

stop() {
  local pid
  if ! pid=$(broker_pid); then
    rm -f "$pidfile" "$addrfile"
    echo "kafka.sh: not running in $dir" >&2
    return 0
  fi
  local started=$EPOCHREALTIME
  if stop_pid "$pid" 30; then
    echo "kafka.sh: stopped (pid $pid) in $(since "$started") s" >&2
    cds_install
  else
    echo "kafka.sh: killed (pid $pid) after $(since "$started") s" >&2
    rm -f "$cds_new"
  fi
  rm -f "$pidfile" "$addrfile"
}

status() {
  local pid
  if ! pid=$(broker_pid); then
    echo "not running"
    exit 3
  fi
  if [[ -s "$addrfile" ]]; then
    echo "running $(<"$addrfile") (pid $pid)"
  else
    echo "starting (pid $pid)"
    exit 4
  fi
}

"$command"
