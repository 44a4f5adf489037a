#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft: one JVM is broker and controller) on 127.0.0.1, for the
# tests, the benchmarks and trying `hamon serve --bus kafka://` on one machine.
#
#   scripts/kafka/broker.sh fetch              # the broker's jars from Maven Central (once)
#   scripts/kafka/broker.sh start DIR [PORT]   # format DIR, start, wait until it answers (default 9092)
#   scripts/kafka/broker.sh stop DIR           # stop it (SIGTERM, then SIGKILL after 20 s)
#   scripts/kafka/broker.sh kill DIR           # kill -9 (what a machine loss looks like)
#
# Jars: $HAMON_KAFKA_LIBS (default ~/.cache/hamon/kafka-<version>/libs). Needs Java 17 and Maven.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<artifactId>kafka_2.13</artifactId><version>\(.*\)</version>.*:\1:p' "$here/pom.xml")
libs=${HAMON_KAFKA_LIBS:-$HOME/.cache/hamon/kafka-$version/libs}

fetch() {
  if [ -f "$libs/.complete" ]; then return; fi
  command -v mvn >/dev/null || { echo "kafka broker: Maven (mvn) is needed to fetch the broker's jars" >&2; exit 2; }
  command -v java >/dev/null || { echo "kafka broker: Java 17 is needed to run the broker" >&2; exit 2; }
  mkdir -p "$libs"
  if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$libs" >"$libs.fetch.log" 2>&1; then
    echo "kafka broker: fetching the jars from Maven Central failed:" >&2
    cat "$libs.fetch.log" >&2
    exit 1
  fi
  touch "$libs/.complete"
}

start() {
  local dir=$1 port=${2:-9092}
  fetch
  mkdir -p "$dir/data"
  local controller=$((port + 1))
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=8
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
auto.create.topics.enable=false
PROPS
  if [ ! -f "$dir/data/meta.properties" ]; then
    local id
    # A cluster id as Kafka makes them (base64url of a UUID), never starting with "-": the storage
    # tool would read it as an option (1 in 64 ids did, and the broker did not start).
    id=$(python3 -c 'import base64, uuid
while True:
    i = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not i.startswith("-"):
        break
print(i)')
    java -cp "$libs/*" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >"$dir/format.log" 2>&1
  fi
  # A small heap and the quick JIT: a test broker, ready in seconds.
  nohup java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    >"$dir/broker.log" 2>&1 &
  echo $! >"$dir/broker.pid"
  for _ in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "kafka broker on 127.0.0.1:$port (pid $(cat "$dir/broker.pid"), data $dir)"
      return
    fi
    if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
      echo "kafka broker did not start; its log:" >&2
      tail -n 30 "$dir/broker.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "kafka broker not answering on 127.0.0.1:$port after 60 s" >&2
  exit 1
}

stop() {
  local dir=$1 sig=${2:-TERM} pid
  [ -f "$dir/broker.pid" ] || return 0
  pid=$(cat "$dir/broker.pid")
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/broker.pid"; return 0; }
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/broker.pid"
}

case ${1:-} in
  fetch) fetch; echo "$libs" ;;
  start) start "${2:?start DIR [PORT]}" "${3:-9092}" ;;
  stop) stop "${2:?stop DIR}" ;;
  kill) stop "${2:?kill DIR}" KILL ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
