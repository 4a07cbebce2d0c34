#!/bin/bash
# Entry point of the fhs-flink image: `jm`, `tm` or `submit` (docker-compose.yml).
#
#   jm      flink-ha-supervisor is the container's main process; it runs the Flink JobManager
#           when this host wins the election (docker/flink/supervisor.toml)
#   tm      a Flink TaskManager with the HA keys the daemons render, so it follows the leader
#   submit  submits the long-running SQL job (docker/flink/job/) once, unless it already runs
set -euo pipefail

SUPERVISOR_CONFIG=${SUPERVISOR_CONFIG:-/etc/flink-ha-supervisor/supervisor.toml}
JOB_NAME=fhs-datagen-blackhole
export FLINK_HOME=/opt/flink

log() { printf '%s %s: %s\n' "$(date -u +%FT%T.%3NZ)" "$role" "$*" >&2; }

# The configuration of a Flink process that is not a JobManager (TaskManager, client): the
# shared base plus the high-availability keys of the daemons' [flink] section, from
# `render-flink-config --for taskmanager` (without the JobManager's own port and addresses).
client_conf() {
  local dir=$1 rendered
  mkdir -p "$dir"
  cp "$FLINK_HOME"/conf/* "$dir"/
  rendered=$(flink-ha-supervisor render-flink-config --config "$SUPERVISOR_CONFIG" --for taskmanager 2>/dev/null) \
    || { flink-ha-supervisor render-flink-config --config "$SUPERVISOR_CONFIG" --for taskmanager >/dev/null; exit 2; }
  # The keys the daemon generates: high-availability.* that the base does not set already.
  {
    echo
    echo "# --- high-availability keys from flink-ha-supervisor render-flink-config ---"
    awk -F: 'NR == FNR { if ($0 ~ /^[a-z]/) base[$1] = 1; next }
             /^high-availability\./ && !($1 in base) && $1 != "high-availability.jobmanager.port"' \
      "$FLINK_HOME/conf/config.yaml" - <<<"$rendered"
  } >>"$dir/config.yaml"
}

# First REST address of jm1..3 that answers /overview (Flink serves REST only on the leader).
leader_rest() {
  local host
  for host in ${JOBMANAGER_HOSTS:-jm1 jm2 jm3}; do
    if curl -fsS -m 2 "http://$host:8081/overview" >/dev/null 2>&1; then
      echo "$host:8081"
      return 0
    fi
  done
  return 1
}

role=${1:-jm}
case "$role" in
  jm)
    mkdir -p /var/lib/flink-ha-supervisor /var/log/flink /var/log/flink-ha-supervisor
    export FHS_LOG__AUDIT_FILE=${FHS_LOG__AUDIT_FILE:-/var/log/flink-ha-supervisor/$(hostname).jsonl}
    exec flink-ha-supervisor run --config "$SUPERVISOR_CONFIG"
    ;;
  tm)
    conf=/var/lib/flink/tm-conf
    client_conf "$conf"
    echo "taskmanager.host: $(hostname)" >>"$conf/config.yaml"
    mkdir -p /var/log/flink
    export FLINK_CONF_DIR=$conf FLINK_LOG_DIR=/var/log/flink FLINK_PID_DIR=/tmp
    exec "$FLINK_HOME/bin/taskmanager.sh" start-foreground
    ;;
  submit)
    conf=/var/lib/flink/client-conf
    client_conf "$conf"
    export FLINK_CONF_DIR=$conf FLINK_LOG_DIR=/tmp
    deadline=$((SECONDS + ${SUBMIT_TIMEOUT:-300}))
    # A leading JobManager with a registered TaskManager that has a free slot.
    until rest=$(leader_rest) && curl -fsS -m 2 "http://$rest/overview" | grep -qE '"slots-available":[1-9]'; do
      [ "$SECONDS" -lt "$deadline" ] || { log "no leading JobManager with a free slot within ${SUBMIT_TIMEOUT:-300}s"; exit 1; }
      sleep 2
    done
    # A JobManager that took over recovers the jobs of the HA store shortly after it serves:
    # wait for that before deciding whether the job is missing.
    if compgen -G "/ha/flink/*" >/dev/null; then
      sleep "${RECOVERY_GRACE:-10}"
      rest=$(leader_rest) || rest=jm1:8081
    fi
    # /jobs/overview lists "name" before "state" in each job's object.
    if curl -fsS -m 5 "http://$rest/jobs/overview" | tr '{' '\n' \
        | grep "\"name\":\"$JOB_NAME\"" | grep -qE '"state":"(CREATED|INITIALIZING|RUNNING|RESTARTING|RECONCILING)"'; then
      log "the job $JOB_NAME already runs on $rest; nothing to submit"
    else
      log "submitting $JOB_NAME through the HA client (leader $rest)"
      "$FLINK_HOME/bin/flink" run -d /opt/fhs/job/fhs-sql-job.jar /opt/fhs/job/datagen-blackhole.sql
    fi
    touch /tmp/submitted
    ;;
  *)
    echo "usage: entrypoint.sh jm|tm|submit" >&2
    exit 2
    ;;
esac
