#!/bin/bash
# Entry point of the fhs-flink image: `secrets`, `jm`, `tm` or `submit` (docker-compose.yml).
#
#   secrets writes the cluster's ZooKeeper credentials, when missing, with random passwords:
#           the daemons' password file (user flinkha), Flink's JAAS file (user flink) and the
#           ZooKeeper servers' JAAS file (both users), each in a directory of its own (a volume
#           each in docker-compose.yml, so that a TaskManager gets Flink's identity only)
#   jm      flink-ha-supervisor is the container's main process; it runs the Flink JobManager
#           when this host wins the election (docker/flink/supervisor.toml)
#   tm      a Flink TaskManager with the HA keys the daemons render, so it follows the leader
#   submit  submits the long-running SQL job (docker/flink/job/) once, unless it already runs
set -euo pipefail

SUPERVISOR_CONFIG=${SUPERVISOR_CONFIG:-/etc/flink-ha-supervisor/supervisor.toml}
JOB_NAME=fhs-datagen-blackhole
export FLINK_HOME=/opt/flink

log() { printf '%s %s: %s\n' "$(date -u +%FT%T.%3NZ)" "$role" "$*" >&2; }

# Where the secrets role writes, and the other roles find, the ZooKeeper credentials (the
# paths docker/flink/supervisor.toml and docker-compose.yml name).
DAEMON_SECRETS=/secrets/daemons
FLINK_SECRETS=/secrets/flink
ZOOKEEPER_SECRETS=/secrets/zookeeper

# The configuration of a Flink process that is not a JobManager (TaskManager, client): the
# shared base plus the keys the daemons' [flink] section generates, from `render-flink-config
# --for taskmanager` (without the JobManager's own port and addresses). That command reads
# Flink's JAAS file but not the daemons' password, which these containers do not have.
client_conf() {
  local dir=$1 rendered generated
  mkdir -p "$dir"
  cp "$FLINK_HOME"/conf/* "$dir"/
  rendered=$(flink-ha-supervisor render-flink-config --config "$SUPERVISOR_CONFIG" --for taskmanager 2>/dev/null) \
    || { flink-ha-supervisor render-flink-config --config "$SUPERVISOR_CONFIG" --for taskmanager >/dev/null; exit 2; }
  # The keys the daemon generates: high-availability.* that the base does not set already, and
  # the login of Flink's ZooKeeper client: zookeeper.sasl.* and env.java.default-opts.all (the
  # JVM option naming Flink's JAAS file; its rendered value already ends with the base's own).
  generated=$(awk -F: 'NR == FNR { if ($0 ~ /^[a-z]/) base[$1] = 1; next }
                       (/^high-availability\./ && !($1 in base) && $1 != "high-availability.jobmanager.port") ||
                       /^zookeeper\.sasl\./ || $1 == "env.java.default-opts.all"' \
    "$FLINK_HOME/conf/config.yaml" - <<<"$rendered")
  # The base without the lines the generated ones replace, then the generated ones.
  awk -F: 'NR == FNR { if ($0 ~ /^[a-z]/) gen[$1] = 1; next } !($0 ~ /^[a-z]/ && ($1 in gen))' \
    - "$FLINK_HOME/conf/config.yaml" <<<"$generated" >"$dir/config.yaml"
  {
    echo
    echo "# --- keys from flink-ha-supervisor render-flink-config --for taskmanager ---"
    echo "$generated"
  } >>"$dir/config.yaml"
}

# A random password: 32 letters and digits from /dev/urandom (nothing a JAAS file must quote).
random_password() {
  local pw=""
  while [ "${#pw}" -lt 32 ]; do
    pw+=$(head -c 48 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  done
  echo "${pw:0:32}"
}

# Writes stdin to the file $1 with mode 600, through a temporary file and a rename.
write_private() {
  local file=$1
  (umask 077 && cat >"$file.partial")
  chmod 600 "$file.partial"
  mv -f "$file.partial" "$file"
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
  secrets)
    daemon_pw=$DAEMON_SECRETS/zookeeper-password
    flink_jaas=$FLINK_SECRETS/zookeeper-jaas.conf
    server_jaas=$ZOOKEEPER_SECRETS/jaas.conf
    if [ -s "$daemon_pw" ] && [ -s "$flink_jaas" ] && [ -s "$server_jaas" ]; then
      log "the ZooKeeper credentials exist; kept"
      exit 0
    fi
    # One missing file makes all three new: the servers' file must match the other two.
    mkdir -p "$DAEMON_SECRETS" "$FLINK_SECRETS" "$ZOOKEEPER_SECRETS"
    flinkha=$(random_password)
    flink=$(random_password)
    write_private "$daemon_pw" <<<"$flinkha"
    write_private "$flink_jaas" <<JAAS
Client {
  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required
  username="flink"
  password="$flink";
};
JAAS
    write_private "$server_jaas" <<JAAS
Server {
  org.apache.zookeeper.server.auth.DigestLoginModule required
  user_flinkha="$flinkha"
  user_flink="$flink";
};
JAAS
    log "wrote new ZooKeeper credentials (users flinkha and flink): $daemon_pw, $flink_jaas, $server_jaas"
    ;;
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
    echo "usage: entrypoint.sh secrets|jm|tm|submit" >&2
    exit 2
    ;;
esac
