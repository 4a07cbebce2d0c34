#!/bin/bash
# Run once while the fhs-flink-dist image is built (Dockerfile.dist): the JDK's default
# class-data-sharing archive (`java -Xshare:dump`, which Debian's package leaves out), then a
# dynamic archive of one JobManager start on top of it, /opt/flink/jm.jsa. The daemons pass it to
# their JobManager (`jobmanager.cds_archive` in supervisor.toml), which then loads its classes
# pre-parsed: about a second off every failover's cold start here, more on a busy host. The same
# start writes the list of the classes it loaded, /opt/flink/jm.jsa.classes, which a parked
# JobManager's gate loads while it waits (what `flink-ha-supervisor make-cds-archive` writes too).
set -euo pipefail
java -Xshare:dump >/dev/null
export FLINK_CONF_DIR=/tmp/cds-conf FLINK_LOG_DIR=/tmp/cds-log
mkdir -p "$FLINK_CONF_DIR" "$FLINK_LOG_DIR"
cp /opt/flink/conf/* "$FLINK_CONF_DIR/"
JVM_ARGS="-XX:ArchiveClassesAtExit=/opt/flink/jm.jsa -XX:DumpLoadedClassList=/opt/flink/jm.jsa.classes" /opt/flink/bin/jobmanager.sh start-foreground \
  >"$FLINK_LOG_DIR/out" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  curl -fs -m 1 -o /dev/null http://127.0.0.1:8081/overview && break
  sleep 0.5
done
curl -fs -m 1 -o /dev/null http://127.0.0.1:8081/overview || { tail -30 "$FLINK_LOG_DIR/out" >&2; exit 1; }
# The JVM writes the archive while it exits.
kill -TERM "$pid"
wait "$pid" || true
test -s /opt/flink/jm.jsa || { tail -30 "$FLINK_LOG_DIR/out" >&2; echo "no archive written" >&2; exit 1; }
rm -rf "$FLINK_CONF_DIR" "$FLINK_LOG_DIR" /tmp/flink-* /tmp/jm_* 2>/dev/null || true
