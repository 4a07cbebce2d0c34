#!/usr/bin/env python3
"""Failover benchmark: this daemon (A) against Flink's built-in ZooKeeper HA (B: defaults, C: the
session timeout of A), on loopback, one real ZooKeeper server, the real Flink 2.3 distribution and
a running streaming job (tests/flink_job/RecoveryProbeJob.java). Run it through bench/run.

Per round it writes one JSON line to the results file (appending; a rerun only does the rounds
that are missing, so an interrupted run resumes). bench/report.py renders the tables.

Setups
  A     two `flink-ha-supervisor run` daemons with [flink] enabled: the leader's daemon cold-starts
        its JobManager; Flink's HA keys are rendered by the daemon (session timeout = the daemon's).
  A+cds the same with `jobmanager.cds_archive` (a JVM class-data-sharing archive).
  B     two JobManagers, both running, Flink's ZooKeeper HA with its default timeouts.
  C     B with high-availability.zookeeper.client.session-timeout = A's session timeout.
  All have one TaskManager (2 slots) that follows the leader through ZooKeeper, and the job.

Faults (t0 = the signal)
  kill  SIGKILL of the leader host: A: its JobManager, fence guard and daemon at once; B/C: its JobManager.
  term  SIGTERM: A: to the leader's daemon (graceful handover); B/C: to the leader's JobManager.
  pause SIGSTOP of the leader's JobManager, SIGCONT after --pause seconds (a long GC pause).

Measured per round: `overview_s` (t0 to the new leader's GET /overview 200; for pause: to the first
200 of any JobManager), `running_s` (t0 to the job listed RUNNING with every task running on the
serving JobManager), `leader_changed`, `job_restarted` (the job was seen not fully running, or it
restored a checkpoint since t0), and for A the daemon's own `failover_completed` parts.
Standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from jsonl import read_jsonl  # noqa: E402 (scripts/jsonl.py)

POLL = 0.1
ROUND_LIMIT = 120.0  # a round that takes longer is recorded as failed
A_SESSION_TIMEOUT_MS = 10000  # the daemon's default zookeeper.session_timeout
A_STOP_GRACE = "3s"
ALL_SETUPS = ["A", "B", "C", "A+cds"]
ALL_FAULTS = ["kill", "term", "pause"]

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


class RoundFailed(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# processes, ports, HTTP


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(argv, log_path, env=None, cwd=None):
    log = open(log_path, "ab")
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=cwd, start_new_session=True)


def pids_mentioning(needle):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if needle.encode() in f.read():
                    out.append(int(name))
        except OSError:
            pass
    return out


def children_of(parent):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == parent:
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            pass
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def sig(pid, s):
    try:
        os.kill(pid, s)
    except ProcessLookupError:
        pass


def http_get(port, path, timeout=1.0):
    """(status, parsed JSON or None), or (None, None) when nothing answers in time."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, None
    except (OSError, http.client.HTTPException):
        return None, None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def wait_for(what, timeout, fn, poll=POLL):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(poll)
    raise RoundFailed(f"timed out after {timeout:.0f}s waiting for {what}")


# ---------------------------------------------------------------------------------------------
# ZooKeeper, Flink configuration, the job


class ZooKeeper:
    """One real server with ZooKeeper's default tickTime (2000 ms: sessions 4 s..40 s)."""

    def __init__(self, root):
        self.dir = os.path.join(root, "zk")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write(f"tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={self.dir}/data\n"
                    f"clientPort={self.port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                    "4lw.commands.whitelist=*\n")
        cp = os.environ.get("ZK_CLASSPATH", "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf")
        if os.path.exists("/usr/share/java/slf4j-simple.jar"):
            cp += ":/usr/share/java/slf4j-simple.jar"
        self.proc = spawn(["java", "-Xmx256m", "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg],
                          os.path.join(self.dir, "zk.log"))
        wait_for("ZooKeeper", 60, lambda: self.four("ruok") == "imok")

    def four(self, word):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(word.encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                return data.decode(errors="replace")
        except OSError:
            return ""

    def quorum(self):
        return f"127.0.0.1:{self.port}"

    def version(self):
        for line in self.four("mntr").splitlines():
            if line.startswith("zk_version"):
                return line.split("\t", 1)[1].split(",")[0].split("-")[0].strip()
        return "unknown"

    def stop(self):
        sig(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def drop_top_level(yaml, keys):
    out, skipping = [], False
    for line in yaml.splitlines():
        if line and not line.startswith((" ", "\t", "#")):
            key = line.split(":", 1)[0].strip()
            skipping = key.split(".", 1)[0] in keys
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def write_conf_dir(flink, d, extra):
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(os.path.join(flink, "conf")):
        p = os.path.join(flink, "conf", name)
        if os.path.isfile(p):
            shutil.copy(p, os.path.join(d, name))
    with open(os.path.join(flink, "conf/config.yaml")) as f:
        yaml = drop_top_level(f.read(), ["jobmanager", "taskmanager", "rest", "io", "web", "execution",
                                         "high-availability"])
    with open(os.path.join(d, "config.yaml"), "w") as f:
        f.write(yaml + "\n# --- bench/failover.py ---\n" + extra)


def build_job_jar(repo, flink, work):
    jar = os.path.join(work, "probe.jar")
    if os.path.exists(jar):
        return jar
    classes = os.path.join(work, "classes")
    os.makedirs(classes, exist_ok=True)
    subprocess.run(["javac", "-d", classes, "-cp", os.path.join(flink, "lib", "*"),
                    os.path.join(repo, "tests/flink_job/RecoveryProbeJob.java")], check=True)
    subprocess.run(["jar", "cfe", jar, "RecoveryProbeJob", "-C", classes, "."], check=True)
    return jar


def make_cds_archive(ctx):
    """A dynamic CDS archive of the JobManager: one start of a plain (non-HA) JobManager with
    -XX:ArchiveClassesAtExit, stopped with SIGTERM; the JVM writes the archive as it exits."""
    archive = os.path.join(ctx.work, "jm.jsa")
    if os.path.exists(archive):
        return archive
    d = os.path.join(ctx.work, "cds-trial")
    conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
    for x in (log, tmp):
        os.makedirs(x, exist_ok=True)
    rest, rpc = free_port(), free_port()
    write_conf_dir(ctx.flink, conf, f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                   f"jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc}\nrest.address: 127.0.0.1\n"
                   f"rest.bind-address: 127.0.0.1\nrest.port: {rest}\nio.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n")
    env = dict(os.environ, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=log, FLINK_PID_DIR=d,
               JVM_ARGS=f"-XX:ArchiveClassesAtExit={archive}.tmp")
    t0 = time.monotonic()
    p = spawn([os.path.join(ctx.flink, "bin/jobmanager.sh"), "start-foreground"], os.path.join(d, "jm.out"), env=env)
    wait_for("the CDS trial JobManager", 120, lambda: http_get(rest, "/overview")[0] == 200)
    ready = time.monotonic() - t0
    sig(p.pid, signal.SIGTERM)
    p.wait(timeout=300)
    os.rename(archive + ".tmp", archive)
    say(f"CDS archive {archive}: {os.path.getsize(archive) >> 20} MiB; trial start {ready:.1f}s, "
        f"stop and dump {time.monotonic() - t0 - ready:.1f}s")
    return archive


# ---------------------------------------------------------------------------------------------
# the setups


class Cluster:
    """Common parts: a TaskManager following the leader, the job, the round's observation."""

    def __init__(self, ctx, name):
        self.ctx, self.name = ctx, name
        ctx.instance += 1
        self.tag = f"{name.lower().replace('+', '-')}-{ctx.instance}"
        self.dir = os.path.join(ctx.work, self.tag)
        os.makedirs(self.dir, exist_ok=True)
        self.cluster_id = f"bench-{self.tag}"
        self.ha_dir = os.path.join(self.dir, "ha")
        self.checkpoint_dir = os.path.join(self.dir, "checkpoints")
        self.tm = None
        self.jid = None

    # -- subclasses: nodes (list of ids), rest_port(node), jm_pid(node), ha_keys(), start_nodes(),
    #    fault(node, kind), restore(node), standby_ready(node), standby_rss(node), cleanup_node(node)

    def base_extra(self, tmp):
        return (f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                f"jobmanager.execution.failover-strategy: region\nrest.bind-address: 127.0.0.1\n"
                f"io.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\nexecution.checkpointing.dir: file://{self.checkpoint_dir}\n")

    def start_tm(self):
        d = os.path.join(self.dir, "tm")
        conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
        for x in (log, tmp):
            os.makedirs(x, exist_ok=True)
        write_conf_dir(self.ctx.flink, conf,
                       "taskmanager.bind-host: 127.0.0.1\ntaskmanager.host: 127.0.0.1\n"
                       "taskmanager.numberOfTaskSlots: 2\ntaskmanager.memory.process.size: 1024m\n"
                       f"io.tmp.dirs: {tmp}\nexecution.checkpointing.dir: file://{self.checkpoint_dir}\n"
                       + self.ha_keys())
        self.tm_conf = conf
        env = dict(os.environ, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=log, FLINK_PID_DIR=d)
        self.tm = spawn([os.path.join(self.ctx.flink, "bin/taskmanager.sh"), "start-foreground"],
                        os.path.join(d, "tm.out"), env=env)

    def submit(self):
        log = os.path.join(self.dir, "client")
        os.makedirs(log, exist_ok=True)
        env = dict(os.environ, FLINK_CONF_DIR=self.tm_conf, FLINK_LOG_DIR=log)
        out = subprocess.run([os.path.join(self.ctx.flink, "bin/flink"), "run", "-d", self.ctx.jar, "fhs-bench-probe"],
                             env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        for line in (out.stdout + out.stderr).splitlines():
            if "JobID " in line:
                jid = line.split("JobID ", 1)[1].strip()
                if len(jid) == 32:
                    return jid
        raise RoundFailed(f"no job id from bin/flink run: {out.stdout[-2000:]} {out.stderr[-2000:]}")

    def overview(self, node, timeout=1.0):
        status, body = http_get(self.rest_port(node), "/overview", timeout)
        return body if status == 200 else None

    def job_state(self, node, timeout=1.0):
        """(state, running tasks, total tasks) of our job on node, or None."""
        status, body = http_get(self.rest_port(node), "/jobs/overview", timeout)
        if status != 200 or not body:
            return None
        for j in body.get("jobs", []):
            if j.get("jid") == self.jid:
                return j.get("state"), j["tasks"].get("running", 0), j["tasks"].get("total", 0)
        return None

    def job_running(self, node, timeout=1.0):
        s = self.job_state(node, timeout)
        return bool(s and s[0] == "RUNNING" and s[2] > 0 and s[1] == s[2])

    def checkpoints(self, node):
        status, body = http_get(self.rest_port(node), f"/jobs/{self.jid}/checkpoints")
        if status != 200 or not body:
            return None
        restored = ((body.get("latest") or {}).get("restored") or {}).get("id")
        return body.get("counts", {}).get("completed", 0), restored

    def serving(self, node, timeout=0.5):
        """node leads and its /overview answers 200."""
        return self.overview(node, timeout) is not None

    def leader(self):
        """The one node that serves, or None."""
        serving = [n for n in self.nodes if self.serving(n, 0.5)]
        return serving[0] if len(serving) == 1 else None

    def start(self):
        say(f"{self.name}: starting ({self.dir})")
        self.start_nodes()
        leader = wait_for(f"{self.name}: a leading JobManager", 90, self.leader)
        self.start_tm()
        wait_for(f"{self.name}: the TaskManager registered", 90,
                 lambda: (self.overview(leader) or {}).get("taskmanagers") == 1)
        self.jid = self.submit()
        self.steady()
        say(f"{self.name}: job {self.jid} RUNNING on {leader}")

    def steady(self):
        """Waits for: one leader, the job fully RUNNING on it with a completed checkpoint, a standby."""
        def ok():
            leader = self.leader()
            if leader is None or not self.job_running(leader):
                return None
            cp = self.checkpoints(leader)
            if not cp or cp[0] < 1:
                return None
            others = [n for n in self.nodes if n != leader]
            return leader if all(self.standby_ready(n) for n in others) else None
        return wait_for(f"{self.name}: steady state", 150, ok, poll=0.25)

    def round(self, fault, pause_s):
        leader = self.steady()
        time.sleep(1.5)  # a checkpoint or two more; the standby settles
        leader = self.steady()
        other = [n for n in self.nodes if n != leader][0]
        standby_rss = self.standby_rss(other)
        leader_rss = self.leader_rss(leader)
        jm_pid_before = self.jm_pid(leader)
        restored_before = (self.checkpoints(leader) or (0, None))[1]
        skip = self.log_marks()
        load = loadavg()
        t0 = time.monotonic()
        self.fault(leader, fault)
        if fault == "pause":
            # poll only once the JVM is stopped: a request answered by threads still running
            # between the kill() and the stop would count as "back at once"
            wait_for("the JobManager stopped", 2, lambda: proc_state(jm_pid_before) in ("T", "t", None), poll=0.01)
        overview_t = streak_start = served_by = None
        not_running_seen = False
        resumed = fault != "pause"
        poll_nodes = [other] if fault != "pause" else self.nodes
        while True:
            now = time.monotonic() - t0
            if now > ROUND_LIMIT:
                sig(jm_pid_before, signal.SIGCONT)
                raise RoundFailed(f"{self.name}/{fault}: no recovery within {ROUND_LIMIT:.0f}s "
                                  f"(overview {overview_t}, running since {streak_start})")
            if not resumed and now >= pause_s:
                sig(jm_pid_before, signal.SIGCONT)
                resumed = True
            serving = [n for n in poll_nodes if self.serving(n, 0.3)]
            if serving:
                n = serving[0]
                if overview_t is None:
                    overview_t = now
                st = self.job_state(n, 0.5)
                full = bool(st and st[0] == "RUNNING" and st[2] > 0 and st[1] == st[2])
                if not full:
                    not_running_seen = True
                    streak_start = None
                elif streak_start is None or served_by != n:
                    streak_start, served_by = now, n
            elif fault == "pause" and resumed:
                streak_start = None  # nothing serves after the pause: not settled
            if fault != "pause" and streak_start is not None:
                break
            # a pause: settled when the job has been RUNNING for 3 s, at least 8 s after SIGCONT
            # (the paused side may act late: a restart, a lost leadership)
            if fault == "pause" and resumed and now >= pause_s + 8 and streak_start is not None \
                    and now - streak_start >= 3:
                break
            time.sleep(POLL)
        cp = self.checkpoints(served_by)
        restored_after = cp[1] if cp else None
        result = {
            "overview_s": round(overview_t, 3),
            "running_s": round(streak_start, 3),
            "leader_before": leader,
            "leader_after": served_by,
            "leader_changed": served_by != leader,
            "job_not_running_seen": not_running_seen,
            "restored_before": restored_before,
            "restored_after": restored_after,
            "standby_rss_kib": standby_rss,
            "leader_rss_kib": leader_rss,
            "loadavg_before": load,
            "loadavg_after": loadavg(),
        }
        result["job_restarted"] = bool(not_running_seen or result["leader_changed"]
                                       or restored_after != restored_before)
        result.update(self.round_extra(skip, served_by, fault))
        self.restore(leader, fault)
        return result

    def log_marks(self):
        return None

    def round_extra(self, skip, new_leader, fault):
        return {}

    def leader_rss(self, node):
        pid = self.jm_pid(node)
        return rss_kib(pid) if pid else None

    def stop(self):
        for pid in pids_mentioning(self.dir):
            sig(pid, signal.SIGCONT)
            sig(pid, signal.SIGKILL)
        time.sleep(0.5)


class Daemons(Cluster):
    """Setup A (and A+cds): two flink-ha-supervisor daemons, cold start on leadership."""

    def __init__(self, ctx, name, cds=False):
        super().__init__(ctx, name)
        self.cds = cds
        self.nodes = ["jm-a", "jm-b"]
        self.node = {}
        for n in self.nodes:
            d = os.path.join(self.dir, n)
            base, conf, log, tmp = (os.path.join(d, x) for x in ("base-conf", "flink-conf", "flink-log", "tmp"))
            for x in (log, tmp):
                os.makedirs(x, exist_ok=True)
            rest, rpc = free_port(), free_port()
            write_conf_dir(ctx.flink, base, self.base_extra(tmp))
            # The CDS archive goes to the JobManager's JVM the way `jobmanager.cds_archive` does it:
            # JVM_ARGS (read by Flink's bin/flink-console.sh) gets -XX:SharedArchiveFile.
            cds_line = f'JVM_ARGS = "-XX:SharedArchiveFile={ctx.archive}"\n' if cds else ""
            toml = f'''[node]
id = "{n}"

[zookeeper]
quorum = "{ctx.zk.quorum()}"
session_timeout = "{A_SESSION_TIMEOUT_MS}ms"
connect_timeout = "3s"

[election]
path = "/bench/{self.tag}/leader"

[jobmanager]
command = ["{ctx.flink}/bin/jobmanager.sh", "start-foreground"]
workdir = "{d}"
ready_url = "http://127.0.0.1:{rest}/overview"
rpc_address = "127.0.0.1:{rpc}"
start_timeout = "30s"
stop_grace = "{A_STOP_GRACE}"

[jobmanager.env]
{cds_line}FLINK_LOG_DIR = "{log}"
FLINK_PID_DIR = "{d}"

[failover]
budget = "30s"

[http]
listen = "off"

[flink]
enabled = true
mode = "zookeeper"
zookeeper_path_root = "/flink"
cluster_id = "{self.cluster_id}"
storage_dir = "file://{self.ha_dir}"
jobmanager_count = 2
base_config = "{base}/config.yaml"
conf_dir = "{conf}"
'''
            cfg = os.path.join(d, "supervisor.toml")
            with open(cfg, "w") as f:
                f.write(toml)
            self.node[n] = {"dir": d, "rest": rest, "cfg": cfg, "log": os.path.join(d, "supervisor.log"),
                            "conf": conf, "proc": None}

    def rest_port(self, n):
        return self.node[n]["rest"]

    def start_daemon(self, n):
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FHS_") and k != "FLINK_HOME"}
        env["RUST_LOG"] = "info,zookeeper_client=warn"
        self.node[n]["proc"] = spawn([self.ctx.bin, "run", "--config", self.node[n]["cfg"]], self.node[n]["log"], env=env)

    def start_nodes(self):
        self.start_daemon("jm-a")
        wait_for("jm-a elected", 60, lambda: self.events("jm-a", "elected"))
        self.start_daemon("jm-b")

    def events(self, n, event, skip=0):
        return [r for r in read_jsonl(self.node[n]["log"])[skip:] if r.get("event") == event]

    def ha_keys(self):
        out = subprocess.run([self.ctx.bin, "render-flink-config", "--config", self.node["jm-a"]["cfg"]],
                             capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "FLINK_HOME"})
        if out.returncode != 0:
            raise RoundFailed(f"render-flink-config: {out.stderr}")
        return "".join(line + "\n" for line in out.stdout.splitlines()
                       if line.startswith("high-availability.") and not line.startswith("high-availability.jobmanager.port"))

    def jm_pid(self, n):
        spawned = self.events(n, "jobmanager_spawned")
        if not spawned:
            return None
        pid = spawned[-1].get("pid")
        return pid if pid and alive(pid) else None

    def standby_ready(self, n):
        p = self.node[n]["proc"]
        if p is None or p.poll() is not None:
            return False
        joined = read_jsonl(self.node[n]["log"])
        # the last session_started after the last (re)start of this daemon
        return any(r.get("event") == "session_started" for r in joined[self.node[n].get("start_mark", 0):])

    def standby_rss(self, n):
        p = self.node[n]["proc"]
        return rss_kib(p.pid) if p else None

    def log_marks(self):
        return {n: len(read_jsonl(self.node[n]["log"])) for n in self.nodes}

    def fault(self, n, kind):
        p = self.node[n]["proc"]
        jm = self.jm_pid(n)
        if kind == "kill":
            guards = children_of(p.pid)
            if jm:
                try:
                    os.killpg(jm, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for g in guards:
                sig(g, signal.SIGKILL)
            sig(p.pid, signal.SIGKILL)
        elif kind == "term":
            sig(p.pid, signal.SIGTERM)
        elif kind == "pause":
            sig(jm, signal.SIGSTOP)

    def round_extra(self, skip, new_leader, fault):
        extra = {}
        logs = {n: read_jsonl(self.node[n]["log"])[skip[n]:] for n in self.nodes}
        for n, recs in logs.items():
            fc = [r for r in recs if r.get("event") == "failover_completed"]
            if fc:
                r = fc[-1]
                extra["failover_completed"] = {k: r.get(k) for k in (
                    "cause", "outage_ms", "detection_ms", "election_ms", "start_ms", "readiness_ms", "error_bound_ms")}
            ready = [r for r in recs if r.get("event") == "jobmanager_ready"]
            if ready:
                extra["jm_startup_ms"] = ready[-1].get("startup_ms")
            spawned = [r for r in recs if r.get("event") == "jobmanager_spawned"]
            extra.setdefault("jm_spawns", 0)
            extra["jm_spawns"] += len(spawned)
            if spawned and n == new_leader:
                try:
                    with open(f"/proc/{spawned[-1].get('pid')}/cmdline", "rb") as f:
                        extra["jm_uses_cds_archive"] = b"-XX:SharedArchiveFile=" in f.read()
                except OSError:
                    pass
        return extra

    def restore(self, n, fault):
        p = self.node[n]["proc"]
        if fault in ("kill", "term"):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                sig(p.pid, signal.SIGKILL)
                p.wait()
            # leftovers of a crashed host (none expected: the guard and the JobManager died with it)
            for pid in pids_mentioning(self.node[n]["conf"]):
                sig(pid, signal.SIGKILL)
            self.node[n]["start_mark"] = len(read_jsonl(self.node[n]["log"]))
            self.start_daemon(n)


class FlinkHa(Cluster):
    """Setups B and C: two JobManagers running, Flink's own ZooKeeper leader election."""

    def __init__(self, ctx, name, session_timeout_ms=None):
        super().__init__(ctx, name)
        self.session_timeout_ms = session_timeout_ms
        self.nodes = ["jm-a", "jm-b"]
        self.node = {}
        for n in self.nodes:
            d = os.path.join(self.dir, n)
            conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
            for x in (log, tmp):
                os.makedirs(x, exist_ok=True)
            rest, rpc = free_port(), free_port()
            write_conf_dir(ctx.flink, conf, self.base_extra(tmp) + self.ha_keys() +
                           f"high-availability.jobmanager.port: '{rpc}'\njobmanager.rpc.address: 127.0.0.1\n"
                           f"jobmanager.rpc.port: {rpc}\nrest.address: 127.0.0.1\nrest.port: {rest}\n")
            self.node[n] = {"dir": d, "rest": rest, "conf": conf, "log": log, "proc": None}

    def ha_keys(self):
        keys = (f"high-availability.type: zookeeper\nhigh-availability.storageDir: file://{self.ha_dir}\n"
                f"high-availability.zookeeper.quorum: {self.ctx.zk.quorum()}\n"
                f"high-availability.zookeeper.path.root: /flink\nhigh-availability.cluster-id: /{self.cluster_id}\n")
        if self.session_timeout_ms:
            keys += f"high-availability.zookeeper.client.session-timeout: {self.session_timeout_ms}\n"
        return keys

    def rest_port(self, n):
        return self.node[n]["rest"]

    def leads(self, n):
        """Whether node n's JobManager holds Flink's leadership, from its log: the REST endpoint's
        last "was granted leadership" not followed by "lost leadership" (a standby's REST endpoint
        answers 200 too: it forwards to the leader)."""
        nd = self.node[n]
        try:
            with open(os.path.join(nd["dir"], "jm.out"), "rb") as f:
                f.seek(nd["offset"])
                data = f.read()
        except OSError:
            return False
        cut = data.rfind(b"\n") + 1
        nd["offset"] += cut
        for line in data[:cut].splitlines():
            if b"DispatcherRestEndpoint" in line:
                if b"was granted leadership" in line:
                    nd["leads"] = True
                elif b"lost leadership" in line or b"revoked leadership" in line.lower():
                    nd["leads"] = False
        return nd["leads"] and self.jm_pid(n) is not None

    def serving(self, n, timeout=0.5):
        return self.leads(n) and self.overview(n, timeout) is not None

    def start_jm(self, n):
        nd = self.node[n]
        out = os.path.join(nd["dir"], "jm.out")
        nd["offset"] = os.path.getsize(out) if os.path.exists(out) else 0
        nd["leads"] = False
        env = dict(os.environ, FLINK_CONF_DIR=nd["conf"], FLINK_LOG_DIR=nd["log"], FLINK_PID_DIR=nd["dir"])
        nd["proc"] = spawn([os.path.join(self.ctx.flink, "bin/jobmanager.sh"), "start-foreground"],
                           os.path.join(nd["dir"], "jm.out"), env=env)

    def start_nodes(self):
        self.start_jm("jm-a")
        wait_for("jm-a leading", 90, lambda: self.overview("jm-a"))
        self.start_jm("jm-b")

    def jm_pid(self, n):
        p = self.node[n]["proc"]
        return p.pid if p and p.poll() is None else None

    def standby_ready(self, n):
        # a standby JobManager is up when its REST endpoint answers at all (503 while not leading)
        return self.jm_pid(n) is not None and http_get(self.rest_port(n), "/overview", 0.5)[0] is not None

    def standby_rss(self, n):
        pid = self.jm_pid(n)
        return rss_kib(pid) if pid else None

    def fault(self, n, kind):
        pid = self.jm_pid(n)
        s = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "pause": signal.SIGSTOP}[kind]
        sig(pid, s)

    def restore(self, n, fault):
        p = self.node[n]["proc"]
        if fault in ("kill", "term"):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sig(p.pid, signal.SIGKILL)
                p.wait()
            self.start_jm(n)
        else:
            for m in self.nodes:  # a JobManager that died of the pause comes back as a standby
                if self.node[m]["proc"].poll() is not None:
                    self.start_jm(m)


def make_cluster(ctx, setup):
    if setup == "A":
        return Daemons(ctx, "A")
    if setup == "A+cds":
        return Daemons(ctx, "A+cds", cds=True)
    if setup == "B":
        return FlinkHa(ctx, "B")
    if setup == "C":
        return FlinkHa(ctx, "C", A_SESSION_TIMEOUT_MS)
    raise SystemExit(f"unknown setup {setup}")


# ---------------------------------------------------------------------------------------------


class Ctx:
    pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=int, default=5, help="rounds of each fault per start of a setup")
    ap.add_argument("--setups", default="A,B,C")
    ap.add_argument("--faults", default="kill,term,pause")
    ap.add_argument("--cds-faults", default="kill,term", help="faults of setup A+cds")
    ap.add_argument("--pause", type=float, default=10.0, help="seconds between SIGSTOP and SIGCONT")
    ap.add_argument("--run-id", default=None, help="tag of this run in the results (default: new)")
    ap.add_argument("--work", default=None)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--flink", required=True)
    ap.add_argument("--deadline", type=float, default=None, help="stop starting rounds after this many seconds")
    args = ap.parse_args()

    setups = args.setups.split(",")
    faults = args.faults.split(",")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ctx = Ctx()
    ctx.instance = 0
    ctx.flink = args.flink
    ctx.work = args.work or tempfile.mkdtemp(prefix="fhs-bench-")
    os.makedirs(ctx.work, exist_ok=True)
    # a private copy: a rebuild of the repository during the run does not change the daemon
    ctx.bin = os.path.join(ctx.work, "flink-ha-supervisor")
    shutil.copy(args.bin, ctx.bin)
    ctx.jar = build_job_jar(repo, args.flink, ctx.work)
    ctx.archive = make_cds_archive(ctx) if "A+cds" in setups else None
    ctx.zk = ZooKeeper(ctx.work)
    say(f"ZooKeeper {ctx.zk.version()} on {ctx.zk.quorum()}; work dir {ctx.work}")

    def done(setup, fault):
        return sum(1 for r in read_jsonl(args.results)
                   if r.get("type") == "round" and r.get("setup") == setup and r.get("fault") == fault
                   and r.get("ok") and (fault != "pause" or r.get("pause_s") == args.pause))

    def faults_of(setup):
        return args.cds_faults.split(",") if setup == "A+cds" else faults

    def append(rec):
        with open(args.results, "a") as f:
            f.write(json.dumps(rec) + "\n")

    failures = 0
    try:
        while True:
            todo = [(s, f) for s in setups for f in faults_of(s) if done(s, f) < args.rounds]
            if not todo:
                break
            if args.deadline and time.monotonic() - T0 > args.deadline:
                say("deadline reached; stopping")
                break
            for setup in setups:
                if not any(s == setup for s, _ in todo):
                    continue
                cluster = make_cluster(ctx, setup)
                try:
                    cluster.start()
                    append({"type": "rss", "setup": setup, "ts": time.time(),
                            **{f"standby_{n}": cluster.standby_rss(n) for n in cluster.nodes},
                            **{f"leader_{n}": cluster.leader_rss(n) for n in cluster.nodes}})
                    for fault in faults_of(setup):
                        for _ in range(min(args.block, args.rounds - done(setup, fault))):
                            if args.deadline and time.monotonic() - T0 > args.deadline:
                                break
                            say(f"{setup} {fault}: round {done(setup, fault) + 1}")
                            rec = {"type": "round", "setup": setup, "fault": fault, "ts": time.time(),
                                   "pause_s": args.pause if fault == "pause" else None, "run": args.run_id}
                            try:
                                rec.update(cluster.round(fault, args.pause))
                                rec["ok"] = True
                                say(f"{setup} {fault}: /overview {rec['overview_s']:.2f}s, RUNNING {rec['running_s']:.2f}s, "
                                    f"leader changed {rec['leader_changed']}, job restarted {rec['job_restarted']}")
                                append(rec)
                            except RoundFailed as e:
                                rec.update({"ok": False, "error": str(e)})
                                append(rec)
                                say(f"{setup} {fault}: FAILED: {e}")
                                failures += 1
                                raise
                except RoundFailed as e:
                    say(f"{setup}: setup abandoned: {e}")
                    if failures > 6:
                        raise SystemExit("too many failed rounds")
                finally:
                    cluster.stop()
    finally:
        ctx.zk.stop()
        # nothing of this run outlives it (a daemon restarted by a round's restore included)
        for pid in pids_mentioning(ctx.work + "/"):
            sig(pid, signal.SIGCONT)
            sig(pid, signal.SIGKILL)
    say("done")


if __name__ == "__main__":
    main()
