#!/usr/bin/env python3
"""Failover benchmark: this daemon (A setups) against Flink's built-in ZooKeeper HA (B, C, D), on
loopback, a real three-server ZooKeeper ensemble, the real Flink 2.3 distribution and a running
streaming job (tests/flink_job/RecoveryProbeJob.java). Run it through bench/run.

Per round it writes one JSON line to the results file (appending; a rerun only does the rounds
that are missing, so an interrupted run resumes). bench/report.py renders the tables.

Setups (every one on the same ensemble, tickTime 2000, unless it says otherwise)
  A-cold        two `flink-ha-supervisor run` daemons with [flink] enabled: the leader's daemon
                starts its JobManager on leadership; session timeout 10 s (the daemon's default),
                Flink's HA keys rendered by the daemon. `A` is accepted as its old name.
  A-parked      A-cold with `jobmanager.standby = "parked"` and `jobmanager.gate_jar` from
                $FLINK_HA_GATE_JAR: every standby holds a JobManager JVM parked at the gate.
  A+cds         A-cold with `jobmanager.cds_archive` (a JVM class-data-sharing archive).
  A-parked+cds  A-parked with `jobmanager.cds_archive` and its class list beside it: the parked
                JVM maps the archive and its gate preloads the listed classes while it waits.
  B             two JobManagers, both running, Flink's ZooKeeper HA with its default timeouts.
  C             B with high-availability.zookeeper.client.session-timeout = A's session timeout.
  D             B with the shortest session timeout at which a 10 s SIGSTOP of the leader
                JobManager restarts no job (found by --find-d, kept in the results file).
  A-parked-t500 A-parked with a 2 s session against a second ensemble with tickTime 500 ms and
                maxSessionTimeout 40 s, so that Flink gets its 30 s session (ZooKeeper's default
                cap there is 10 s) (`zookeeper.tick_time = "500ms"`,
                `zookeeper.max_session_timeout = "40000ms"`, stop_grace --t500-stop-grace).
  C-t500        C with a 2 s session against that same tickTime-500 ensemble.
  All have one TaskManager (2 slots) that follows the leader through ZooKeeper, and the job.

Faults (t0 = the signal or the command)
  kill      SIGKILL of the leader host: A: everything of the leader's daemon (its JobManager,
            fence guard, parked JVM) and the daemon at once; B/C/D: its JobManager.
  handover  a planned handover: A: `flink-ha-supervisor handover` (the next in line leads);
            B/C/D: SIGTERM of the leader's JobManager (Flink's graceful stop).
  term      (selectable) A: SIGTERM of the leader's daemon; B/C/D: as handover.
  pause     SIGSTOP of the leader's JobManager, SIGCONT after --pause seconds (a long GC pause).
  zk-leader the ensemble's leader (found with the `srvr` four-letter word) stopped with SIGKILL,
            started again after the round.

Measured per round: `overview_s` (t0 to the new leader's GET /overview 200; for pause and
zk-leader: to the first 200 of any leading JobManager), `running_s` (t0 to the job listed RUNNING
with every task running on the serving JobManager; for pause and zk-leader the start of the
final stable streak), `leader_changed`, `job_restarted` (the job was seen not fully running, or
it restored a checkpoint since t0, or leadership moved), the 1-minute load at t0, the standby's
RSS, and for A the daemon's own `failover_completed` parts.
Standard library only.
"""

import argparse
import http.client
import json
import math
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
DEFAULT_TICK_MS = 2000  # ZooKeeper's default tickTime: sessions 4 s..40 s
SHORT_TICK_MS = 500
# The t500 ensemble's maxSessionTimeout: room for the daemon's default Flink session (30 s), which
# ZooKeeper's default cap of 20 ticks (10 s) would clamp, so that a 10 s pause restarted its job.
SHORT_MAX_SESSION_MS = 40000
SHORT_SESSION_MS = 2000
PARK_READY_S = 4.0  # a parked JVM this old has reached its gate (1.9-2.3 s on an idle machine)
STABLE_S = 3.0  # pause and zk-leader rounds: the job RUNNING this long counts as settled

# name: kind, session timeout, ensemble, extra daemon keys
SETUPS = {
    "A-cold": {"kind": "daemons", "session_ms": A_SESSION_TIMEOUT_MS, "zk": "default"},
    "A-parked": {"kind": "daemons", "session_ms": A_SESSION_TIMEOUT_MS, "zk": "default", "parked": True},
    "A+cds": {"kind": "daemons", "session_ms": A_SESSION_TIMEOUT_MS, "zk": "default", "cds": True},
    "A-parked+cds": {"kind": "daemons", "session_ms": A_SESSION_TIMEOUT_MS, "zk": "default", "parked": True,
                     "cds": True},
    "B": {"kind": "flink", "session_ms": None, "zk": "default"},
    "C": {"kind": "flink", "session_ms": A_SESSION_TIMEOUT_MS, "zk": "default"},
    "D": {"kind": "flink", "session_ms": "find-d", "zk": "default"},
    "A-parked-t500": {"kind": "daemons", "session_ms": SHORT_SESSION_MS, "zk": "t500", "parked": True},
    "C-t500": {"kind": "flink", "session_ms": SHORT_SESSION_MS, "zk": "t500"},
}
ALIASES = {"A": "A-cold"}
DEFAULT_SETUPS = "A-cold,A-parked,C,D,A-parked-t500,C-t500"
ALL_FAULTS = ["kill", "handover", "term", "pause", "zk-leader"]
DEFAULT_FAULTS = "kill,handover,pause,zk-leader"
# name: tickTime, maxSessionTimeout (None: ZooKeeper's default, 20 ticks)
ENSEMBLES = {"default": (DEFAULT_TICK_MS, None), "t500": (SHORT_TICK_MS, SHORT_MAX_SESSION_MS)}

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


class RoundFailed(Exception):
    pass


class SetupUnavailable(Exception):
    """The setup cannot run with this build or environment; the message is one line."""


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


def parents():
    """pid -> parent pid of every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            out[int(name)] = int(rest[1])
        except (OSError, IndexError, ValueError):
            pass
    return out


def children_of(parent):
    return [p for p, pp in parents().items() if pp == parent]


def descendants(root):
    """Every live process below root (children, their children, ...)."""
    ppid = parents()
    out, frontier = [], [root]
    while frontier:
        nxt = [p for p, pp in ppid.items() if pp in frontier]
        out += nxt
        frontier = nxt
    return [p for p in out if alive(p)]


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def age_s(pid):
    """Seconds since the process started, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            up = float(f.read().split()[0])
        return up - start / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


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
    if not pid:
        return
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


def four_letter(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
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


class Ensemble:
    """Three real ZooKeeper servers on loopback with one tickTime (sessions 2 ticks to
    maxSessionTimeout, by default 20 ticks)."""

    def __init__(self, root, name, tick_ms, max_session_ms=None, size=3):
        self.name, self.tick_ms, self.max_session_ms = name, tick_ms, max_session_ms
        self.dir = os.path.join(root, f"zk-{name}")
        peers = [(free_port(), free_port()) for _ in range(size)]
        members = "".join(f"server.{i + 1}=127.0.0.1:{p}:{e}\n" for i, (p, e) in enumerate(peers))
        self.servers = []
        for i in range(size):
            d = os.path.join(self.dir, f"s{i + 1}")
            os.makedirs(os.path.join(d, "data"), exist_ok=True)
            with open(os.path.join(d, "data", "myid"), "w") as f:
                f.write(f"{i + 1}\n")
            port = free_port()
            cfg = os.path.join(d, "zoo.cfg")
            with open(cfg, "w") as f:
                f.write(f"tickTime={tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={d}/data\nclientPort={port}\n"
                        "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n" + members)
                if max_session_ms is not None:
                    f.write(f"maxSessionTimeout={max_session_ms}\n")
            self.servers.append({"dir": d, "port": port, "cfg": cfg, "proc": None})
        for i in range(size):
            self.start_server(i)
        self.wait_serving(90)

    def start_server(self, i):
        s = self.servers[i]
        cp = os.environ.get("ZK_CLASSPATH", "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf")
        if os.path.exists("/usr/share/java/slf4j-simple.jar"):
            cp += ":/usr/share/java/slf4j-simple.jar"
        s["proc"] = spawn(["java", "-Xmx256m", "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", s["cfg"]],
                          os.path.join(s["dir"], "zk.log"))

    def stop_server(self, i):
        p = self.servers[i]["proc"]
        sig(p.pid, signal.SIGKILL)
        p.wait()

    def mode(self, i):
        """`leader`, `follower`, or None (down, or not serving)."""
        for line in four_letter(self.servers[i]["port"], "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def leader(self):
        """Index of the server whose `srvr` says `Mode: leader`, or None."""
        modes = [self.mode(i) for i in range(len(self.servers))]
        return modes.index("leader") if modes.count("leader") == 1 else None

    def wait_serving(self, timeout):
        """Every server serving, one of them the leader."""
        def ok():
            modes = [self.mode(i) for i in range(len(self.servers))]
            return all(m in ("leader", "follower") for m in modes) and modes.count("leader") == 1
        wait_for(f"ZooKeeper ensemble {self.name} serving", timeout, ok, poll=0.25)

    def quorum(self):
        return ",".join(f"127.0.0.1:{s['port']}" for s in self.servers)

    def version(self):
        for line in four_letter(self.servers[0]["port"], "mntr").splitlines():
            if line.startswith("zk_version"):
                return line.split("\t", 1)[1].split(",")[0].split("-")[0].strip()
        return "unknown"

    def stop(self):
        for i in range(len(self.servers)):
            if self.servers[i]["proc"]:
                self.stop_server(i)


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
    -XX:ArchiveClassesAtExit, stopped with SIGTERM; the JVM writes the archive as it exits. Its
    class list (-XX:DumpLoadedClassList) beside it, `<archive>.classes`, as make-cds-archive does."""
    archive = os.path.join(ctx.work, "jm.jsa")
    if os.path.exists(archive) and os.path.exists(archive + ".classes"):
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
               JVM_ARGS=f"-XX:ArchiveClassesAtExit={archive}.tmp -XX:DumpLoadedClassList={archive}.classes.tmp")
    t0 = time.monotonic()
    p = spawn([os.path.join(ctx.flink, "bin/jobmanager.sh"), "start-foreground"], os.path.join(d, "jm.out"), env=env)
    wait_for("the CDS trial JobManager", 120, lambda: http_get(rest, "/overview")[0] == 200)
    ready = time.monotonic() - t0
    sig(p.pid, signal.SIGTERM)
    p.wait(timeout=300)
    os.rename(archive + ".tmp", archive)
    os.rename(archive + ".classes.tmp", archive + ".classes")
    say(f"CDS archive {archive}: {os.path.getsize(archive) >> 20} MiB; trial start {ready:.1f}s, "
        f"stop and dump {time.monotonic() - t0 - ready:.1f}s")
    return archive


# ---------------------------------------------------------------------------------------------
# the setups


class Cluster:
    """Common parts: a TaskManager following the leader, the job, the round's observation."""

    def __init__(self, ctx, name, zk, session_ms):
        self.ctx, self.name, self.zk, self.session_ms = ctx, name, zk, session_ms
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
    #    fault(node, kind), restore(node, kind), standby_ready(node), standby_rss(node)

    def session_s(self):
        """The session timeout Flink's client asks for (B: Flink's default, granted 40 s)."""
        return (self.session_ms or 40000) / 1000

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

    def settle_after(self, fault, args):
        """pause and zk-leader: the earliest time after t0 at which the round may end (the
        faulted side may act late: a lost leadership, a restart, a fencing)."""
        if fault == "pause":
            return args.pause + 8
        if args.zk_settle is not None:
            return args.zk_settle
        return self.session_s() + 5

    def round(self, fault, args):
        leader = self.steady()
        time.sleep(1.5)  # a checkpoint or two more; the standby settles
        leader = self.steady()
        other = [n for n in self.nodes if n != leader][0]
        standby_rss = self.standby_rss(other)
        standby_jvm_rss = self.standby_jvm_rss(other)
        leader_rss = self.leader_rss(leader)
        jm_pid_before = self.jm_pid(leader)
        restored_before = (self.checkpoints(leader) or (0, None))[1]
        skip = self.log_marks()
        zk_stopped = None
        extra = {}
        if fault == "zk-leader":
            zk_stopped = self.zk.leader()
            if zk_stopped is None:
                raise RoundFailed(f"{self.name}: no ZooKeeper leader found with srvr")
            extra["zk_leader_stopped"] = zk_stopped + 1
        load = loadavg()
        t0 = time.monotonic()
        if fault == "zk-leader":
            self.zk.stop_server(zk_stopped)
        else:
            self.fault(leader, fault)
        if fault == "pause":
            # poll only once the JVM is stopped: a request answered by threads still running
            # between the kill() and the stop would count as "back at once"
            wait_for("the JobManager stopped", 2, lambda: proc_state(jm_pid_before) in ("T", "t", None), poll=0.01)
        lingering = fault in ("pause", "zk-leader")
        settle = self.settle_after(fault, args) if lingering else None
        overview_t = streak_start = served_by = None
        not_running_seen = False
        resumed = fault != "pause"
        poll_nodes = self.nodes if lingering else [other]
        try:
            while True:
                now = time.monotonic() - t0
                if now > ROUND_LIMIT:
                    raise RoundFailed(f"{self.name}/{fault}: no recovery within {ROUND_LIMIT:.0f}s "
                                      f"(overview {overview_t}, running since {streak_start})")
                if not resumed and now >= args.pause:
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
                elif lingering and resumed:
                    streak_start = None  # nothing serves: not settled
                if not lingering and streak_start is not None:
                    break
                if lingering and resumed and now >= settle and streak_start is not None \
                        and now - streak_start >= STABLE_S:
                    break
                time.sleep(POLL)
        finally:
            if fault == "pause":
                sig(jm_pid_before, signal.SIGCONT)
            if fault == "zk-leader":
                self.zk.start_server(zk_stopped)
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
            "standby_jvm_rss_kib": standby_jvm_rss,
            "leader_rss_kib": leader_rss,
            "loadavg_before": load,
            "loadavg_after": loadavg(),
            "session_ms": self.session_ms,
            "tick_ms": self.zk.tick_ms,
            "max_session_ms": self.zk.max_session_ms,
            **extra,
        }
        result["job_restarted"] = bool(not_running_seen or result["leader_changed"]
                                       or restored_after != restored_before)
        result.update(self.round_extra(skip, served_by, fault))
        if fault == "zk-leader":
            self.zk.wait_serving(60)
            after = self.zk.leader()
            result["zk_leader_after"] = after + 1 if after is not None else None
        self.restore(leader, fault)
        return result

    def log_marks(self):
        return None

    def round_extra(self, skip, new_leader, fault):
        return {}

    def leader_rss(self, node):
        pid = self.jm_pid(node)
        return rss_kib(pid) if pid else None

    def standby_jvm_rss(self, node):
        return None

    def stop(self):
        for pid in pids_mentioning(self.dir):
            sig(pid, signal.SIGCONT)
            sig(pid, signal.SIGKILL)
        time.sleep(0.5)


class Daemons(Cluster):
    """A setups: two flink-ha-supervisor daemons; cold start on leadership, or a parked JVM."""

    def __init__(self, ctx, name, zk, session_ms, cds=False, parked=False, stop_grace=A_STOP_GRACE):
        super().__init__(ctx, name, zk, session_ms)
        self.parked = parked
        self.nodes = ["jm-a", "jm-b"]
        self.node = {}
        keys = f'cds_archive = "{ctx.archive}"\n' if cds else ""
        if parked:
            keys += f'standby = "parked"\ngate_jar = "{gate_jar(name)}"\n'
        tick = f'tick_time = "{zk.tick_ms}ms"\n' if zk.tick_ms != DEFAULT_TICK_MS else ""
        if zk.max_session_ms is not None:
            tick += f'max_session_timeout = "{zk.max_session_ms}ms"\n'
        for n in self.nodes:
            d = os.path.join(self.dir, n)
            base, conf, log, tmp = (os.path.join(d, x) for x in ("base-conf", "flink-conf", "flink-log", "tmp"))
            for x in (log, tmp):
                os.makedirs(x, exist_ok=True)
            rest, rpc = free_port(), free_port()
            write_conf_dir(ctx.flink, base, self.base_extra(tmp))
            toml = f'''[node]
id = "{n}"

[zookeeper]
quorum = "{zk.quorum()}"
session_timeout = "{session_ms}ms"
connect_timeout = "{min(3000, session_ms // 2)}ms"
{tick}
[election]
path = "/bench/{self.tag}/leader"

[jobmanager]
command = ["{ctx.flink}/bin/jobmanager.sh", "start-foreground"]
workdir = "{d}"
ready_url = "http://127.0.0.1:{rest}/overview"
rpc_address = "127.0.0.1:{rpc}"
start_timeout = "30s"
stop_grace = "{stop_grace}"
{keys}
[jobmanager.env]
FLINK_LOG_DIR = "{log}"
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
                            "conf": conf, "proc": None, "handover": None}
        self.check_config()

    def daemon_env(self):
        return {k: v for k, v in os.environ.items() if not k.upper().startswith("FHS_") and k != "FLINK_HOME"}

    def check_config(self):
        """The daemon's own validation of the setup's configuration; a refusal makes the setup
        unavailable with the daemon's first line (e.g. a key this build does not know yet)."""
        out = subprocess.run([self.ctx.bin, "check-config", "--config", self.node["jm-a"]["cfg"]],
                             capture_output=True, text=True, env=self.daemon_env())
        if out.returncode != 0:
            lines = [x.strip() for x in (out.stderr + out.stdout).splitlines() if x.strip()]
            raise SetupUnavailable(f"{self.name}: this build refuses its configuration (check-config exit "
                                   f"{out.returncode}): {lines[0] if lines else 'no message'}")

    def rest_port(self, n):
        return self.node[n]["rest"]

    def start_daemon(self, n):
        env = self.daemon_env()
        env["RUST_LOG"] = "info,zookeeper_client=warn"
        self.node[n]["proc"] = spawn([self.ctx.bin, "run", "--config", self.node[n]["cfg"]], self.node[n]["log"], env=env)

    def start_nodes(self):
        self.start_daemon("jm-a")
        wait_for("jm-a elected", 60, lambda: self.events("jm-a", "elected"))
        self.start_daemon("jm-b")

    def events(self, n, event, skip=0):
        return [r for r in read_jsonl(self.node[n]["log"])[skip:] if r.get("event") == event]

    def ha_keys(self):
        # the TaskManager gets Flink's own HA type even where the JobManager gets the gate's
        out = subprocess.run([self.ctx.bin, "render-flink-config", "--config", self.node["jm-a"]["cfg"],
                              "--for", "taskmanager"], capture_output=True, text=True, env=self.daemon_env())
        if out.returncode != 0:
            raise RoundFailed(f"render-flink-config: {out.stderr}")
        return "".join(line + "\n" for line in out.stdout.splitlines()
                       if line.startswith("high-availability.") and not line.startswith("high-availability.jobmanager.port"))

    def jvms(self, n):
        """The java processes below node n's daemon (its JobManager, running or parked), oldest first."""
        p = self.node[n]["proc"]
        if p is None or p.poll() is not None:
            return []
        js = [x for x in descendants(p.pid) if comm(x) == "java"]
        return sorted(js, key=lambda x: -(age_s(x) or 0))

    def jm_pid(self, n):
        """The leader's JobManager: the oldest JVM below its daemon (a parked one is younger);
        else the pid of the daemon's last `jobmanager_spawned`."""
        js = self.jvms(n)
        if js:
            return js[0]
        spawned = self.events(n, "jobmanager_spawned")
        pid = spawned[-1].get("pid") if spawned else None
        return pid if pid and alive(pid) else None

    def standby_ready(self, n):
        p = self.node[n]["proc"]
        if p is None or p.poll() is not None:
            return False
        joined = read_jsonl(self.node[n]["log"])[self.node[n].get("start_mark", 0):]
        # a session after the last (re)start of this daemon
        if not any(r.get("event") == "session_started" for r in joined):
            return False
        if not self.parked:
            return True
        # a parked JVM that reached its gate: the daemon said so (an event naming "parked"),
        # or it has lived longer than a JVM needs to get there
        js = self.jvms(n)
        if not js:
            return False
        newest = age_s(js[-1]) or 0
        return newest >= PARK_READY_S or any("parked" in str(r.get("event", "")) for r in joined[-20:])

    def standby_rss(self, n):
        """Everything the standby host runs: the daemon and all below it (guard, parked JVM)."""
        p = self.node[n]["proc"]
        if not p:
            return None
        parts = [rss_kib(x) for x in [p.pid] + descendants(p.pid)]
        return sum(x for x in parts if x) or None

    def standby_jvm_rss(self, n):
        js = self.jvms(n)
        return sum(rss_kib(x) or 0 for x in js) if js else None

    def log_marks(self):
        return {n: len(read_jsonl(self.node[n]["log"])) for n in self.nodes}

    def fault(self, n, kind):
        p = self.node[n]["proc"]
        if kind == "kill":
            below = descendants(p.pid)
            jm = self.jm_pid(n)
            if jm:
                try:
                    os.killpg(jm, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for x in below:
                sig(x, signal.SIGKILL)
            sig(p.pid, signal.SIGKILL)
        elif kind == "term":
            sig(p.pid, signal.SIGTERM)
        elif kind == "handover":
            self.node[n]["handover"] = subprocess.Popen(
                [self.ctx.bin, "handover", "--config", self.node[n]["cfg"]], stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.daemon_env())
        elif kind == "pause":
            sig(self.jm_pid(n), signal.SIGSTOP)

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
        if fault == "handover":
            h = self.node[n]["handover"]
            try:
                out, _ = h.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                h.kill()
                out, _ = h.communicate()
            if h.returncode != 0:
                raise RoundFailed(f"{self.name}: handover exited {h.returncode}: {out.decode(errors='replace').strip()[-300:]}")
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
    """Setups B, C and D: two JobManagers running, Flink's own ZooKeeper leader election."""

    def __init__(self, ctx, name, zk, session_ms=None):
        super().__init__(ctx, name, zk, session_ms)
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
                f"high-availability.zookeeper.quorum: {self.zk.quorum()}\n"
                f"high-availability.zookeeper.path.root: /flink\nhigh-availability.cluster-id: /{self.cluster_id}\n")
        if self.session_ms:
            keys += f"high-availability.zookeeper.client.session-timeout: {self.session_ms}\n"
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

    def standby_jvm_rss(self, n):
        return self.standby_rss(n)

    def fault(self, n, kind):
        pid = self.jm_pid(n)
        s = {"kill": signal.SIGKILL, "term": signal.SIGTERM, "handover": signal.SIGTERM, "pause": signal.SIGSTOP}[kind]
        sig(pid, s)

    def restore(self, n, fault):
        p = self.node[n]["proc"]
        if fault in ("kill", "term", "handover"):
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


def d_session_ms(results, pause):
    """D's session timeout: the last `find-d-result` for this pause length in the results, or None."""
    found = [r for r in read_jsonl(results) if r.get("type") == "find-d-result" and r.get("pause_s") == pause]
    return found[-1].get("session_ms") if found else None


def gate_jar(setup):
    """The gate jar of the parked setups, from $FLINK_HA_GATE_JAR."""
    gate = os.environ.get("FLINK_HA_GATE_JAR")
    if not gate or not os.path.isfile(gate):
        raise SetupUnavailable(f"{setup}: no gate jar: FLINK_HA_GATE_JAR is {gate!r} (scripts/install-test-deps "
                               "exports it when it can build the gate)")
    return gate


def make_cluster(ctx, setup, args):
    spec = SETUPS[setup]
    if spec.get("parked"):
        gate_jar(setup)  # before an ensemble is started for it
    zk = ctx.ensemble(spec["zk"])
    if spec["kind"] == "daemons":
        grace = args.t500_stop_grace if spec["zk"] == "t500" else A_STOP_GRACE
        return Daemons(ctx, setup, zk, spec["session_ms"], cds=spec.get("cds", False),
                       parked=spec.get("parked", False), stop_grace=grace)
    session = spec["session_ms"]
    if session == "find-d":
        session = args.d_session_ms or d_session_ms(args.results, args.pause)
        if not session:
            raise SetupUnavailable(f"D: no session timeout found for a {args.pause:g} s pause yet: run "
                                   "`bench/run --only find-d` first (or pass --d-session-ms)")
    return FlinkHa(ctx, setup, zk, session)


# ---------------------------------------------------------------------------------------------
# D: the shortest session timeout of Flink's hot standby that rides out a pause


def find_d(ctx, args, append):
    """Bisection over Flink's session timeout S (whole seconds) for the hot standby setup: a
    candidate passes when --d-trials rounds of the pause fault restart no job and move no
    leadership; it fails at the first round that does. The bracket: S <= the pause fails
    (the server expires a session it has not heard from for S, and it hears nothing during the
    pause); 20 x tickTime, the largest session the server grants, must pass. The result must then
    pass --d-confirm rounds; when one fails there, the search goes on above it. Trials are kept
    in the results (`find-d` records) and reused, so an interrupted search resumes."""
    tick_s = DEFAULT_TICK_MS / 1000
    top = int(20 * tick_s)
    lo = max(int(2 * tick_s), int(math.floor(args.pause)))
    if args.d_range:
        lo, top = (int(x) for x in args.d_range.split(","))
    lo0 = lo
    key = lambda r: r.get("type") == "find-d" and r.get("pause_s") == args.pause

    def trials(s):
        return [r for r in read_jsonl(args.results) if key(r) and r.get("session_ms") == s * 1000]

    def passes(s, n):
        rs = trials(s)
        if any(r.get("disturbed") for r in rs):
            return False
        if len(rs) < n:
            cluster = FlinkHa(ctx, f"D-probe-{s}s", ctx.ensemble("default"), s * 1000)
            try:
                cluster.start()
                for i in range(len(rs), n):
                    rec = cluster.round("pause", args)
                    disturbed = bool(rec["job_restarted"] or rec["leader_changed"])
                    append({"type": "find-d", "session_ms": s * 1000, "pause_s": args.pause, "trial": i + 1,
                            "disturbed": disturbed, "ts": time.time(), "run": args.run_id,
                            **{k: rec[k] for k in ("job_restarted", "leader_changed", "running_s", "loadavg_before")}})
                    say(f"find-d: session {s} s, trial {i + 1}: "
                        f"{'job restarted or leadership moved' if disturbed else 'undisturbed'}")
                    if disturbed:
                        return False
            finally:
                cluster.stop()
        return True

    say(f"find-d: bisection over Flink's session timeout in ({lo}, {top}] s, {args.d_trials} trials per "
        f"candidate, {args.d_confirm} to confirm; pause {args.pause:g} s")
    if not passes(top, args.d_trials):
        append({"type": "find-d-result", "session_ms": None, "pause_s": args.pause, "ts": time.time(),
                "note": f"even {top} s (20 x tickTime) was disturbed"})
        say(f"find-d: even {top} s is disturbed by a {args.pause:g} s pause: no D")
        return None
    hi = top
    while True:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if passes(mid, args.d_trials):
                hi = mid
            else:
                lo = mid
        if passes(hi, args.d_confirm):
            break
        lo, hi = hi, top  # the confirmation failed: search above it
        if lo >= top:
            hi = None
            break
    append({"type": "find-d-result", "session_ms": hi * 1000 if hi else None, "pause_s": args.pause, "ts": time.time(),
            "trials": args.d_trials, "confirm": args.d_confirm, "range": [lo0, top]})
    say(f"find-d: D's session timeout is {hi} s")
    return hi


# ---------------------------------------------------------------------------------------------
# estimate

START_S = 100  # a setup's start: JobManagers, TaskManager, the job, a checkpoint


def round_s(setup, fault, args):
    """A rough figure for one round, the restore and the next steady state included."""
    spec = SETUPS[setup]
    session = (spec["session_ms"] if isinstance(spec["session_ms"], int) else 25000) / 1000
    if spec["session_ms"] is None:
        session = 40
    hot = spec["kind"] == "flink" or spec.get("parked")
    jm = 2 if hot else 8
    restart = 20 if spec["kind"] == "daemons" else 12  # the faulted side back as a standby
    if fault == "kill":
        return 3 + session + jm + restart + 5
    if fault in ("handover", "term"):
        return 3 + jm + (12 if spec["kind"] == "flink" or fault == "term" else 8) + 5
    if fault == "pause":
        return 3 + args.pause + 8 + STABLE_S + 8
    return 3 + (args.zk_settle if args.zk_settle is not None else session + 5) + STABLE_S + 10


def estimate(setups, faults_of, done, args):
    total, cells = 0.0, 0
    for s in setups:
        missing = {f: max(0, args.rounds - done(s, f)) for f in faults_of(s)}
        if not any(missing.values()):
            continue
        blocks = max(math.ceil(m / max(1, args.block)) for m in missing.values())
        total += blocks * START_S + sum(m * round_s(s, f, args) for f, m in missing.items())
        cells += sum(1 for m in missing.values() if m)
    return cells, total


# ---------------------------------------------------------------------------------------------


class Ctx:
    def __init__(self, work):
        self.work = work
        self.instance = 0
        self.ensembles = {}
        self.archive = None

    def ensemble(self, name):
        """The named ensemble, started on first use."""
        if name not in self.ensembles:
            tick_ms, max_session_ms = ENSEMBLES[name]
            e = Ensemble(self.work, name, tick_ms, max_session_ms)
            cap = f", maxSessionTimeout {max_session_ms} ms" if max_session_ms is not None else ""
            say(f"ZooKeeper {e.version()} ensemble {name} (tickTime {e.tick_ms} ms{cap}) on {e.quorum()}")
            self.ensembles[name] = e
        return self.ensembles[name]

    def stop(self):
        for e in self.ensembles.values():
            e.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--block", type=int, default=5, help="rounds of each fault per start of a setup")
    ap.add_argument("--setups", default=DEFAULT_SETUPS, help=f"of {', '.join(SETUPS)}")
    ap.add_argument("--faults", default=DEFAULT_FAULTS, help=f"of {', '.join(ALL_FAULTS)}")
    ap.add_argument("--cds-faults", default="kill,handover", help="faults of setup A+cds")
    ap.add_argument("--pause", type=float, default=10.0, help="seconds between SIGSTOP and SIGCONT")
    ap.add_argument("--zk-settle", type=float, default=None,
                    help="zk-leader rounds end no earlier than this many seconds after t0 (default: session + 5 s)")
    ap.add_argument("--t500-stop-grace", default="100ms", help="jobmanager.stop_grace of A-parked-t500")
    ap.add_argument("--find-d", action="store_true", help="find D's session timeout (bisection), then stop")
    ap.add_argument("--d-trials", type=int, default=3, help="find-d: pause rounds per candidate")
    ap.add_argument("--d-confirm", type=int, default=10, help="find-d: pause rounds the result must pass")
    ap.add_argument("--d-range", default=None,
                    help="find-d: LO,HI in seconds, LO taken as failing, HI tried first (default: the pause, 20 x tickTime)")
    ap.add_argument("--d-session-ms", type=int, default=None, help="D's session timeout, instead of find-d's")
    ap.add_argument("--or-cold", action="store_true",
                    help="an unavailable parked setup is replaced by A-cold (the quick mode)")
    ap.add_argument("--estimate", action="store_true", help="print how long the missing rounds take, then stop")
    ap.add_argument("--run-id", default=None, help="tag of this run in the results (default: none)")
    ap.add_argument("--work", default=None)
    ap.add_argument("--bin")
    ap.add_argument("--flink")
    ap.add_argument("--deadline", type=float, default=None, help="stop starting rounds after this many seconds")
    args = ap.parse_args()

    setups = [ALIASES.get(s, s) for s in args.setups.split(",") if s]
    faults = args.faults.split(",")
    for s in setups:
        if s not in SETUPS:
            raise SystemExit(f"failover.py: unknown setup {s!r}; known: {', '.join(SETUPS)}")
    for f in faults + args.cds_faults.split(","):
        if f not in ALL_FAULTS:
            raise SystemExit(f"failover.py: unknown fault {f!r}; known: {', '.join(ALL_FAULTS)}")

    def done(setup, fault):
        return sum(1 for r in read_jsonl(args.results)
                   if r.get("type") == "round" and ALIASES.get(r.get("setup"), r.get("setup")) == setup
                   and r.get("fault") == fault and r.get("ok")
                   and (fault != "pause" or r.get("pause_s") == args.pause))

    def faults_of(setup):
        return args.cds_faults.split(",") if setup == "A+cds" else faults

    cells, secs = estimate(setups, faults_of, done, args)
    if not args.find_d:
        say(f"estimate: {cells} cells (setup x fault) missing rounds, up to {args.rounds} rounds each, in blocks of "
            f"{args.block}: about {secs / 3600:.1f} h ({secs / 60:.0f} min)")
    if args.estimate:
        return
    if not args.bin or not args.flink:
        raise SystemExit("failover.py: --bin and --flink are required")

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ctx = Ctx(args.work or tempfile.mkdtemp(prefix="fhs-bench-"))
    ctx.flink = args.flink
    os.makedirs(ctx.work, exist_ok=True)
    # a private copy: a rebuild of the repository during the run does not change the daemon
    ctx.bin = os.path.join(ctx.work, "flink-ha-supervisor")
    shutil.copy(args.bin, ctx.bin)
    ctx.jar = build_job_jar(repo, args.flink, ctx.work)
    ctx.archive = make_cds_archive(ctx) if any(SETUPS[x].get("cds") for x in setups) and not args.find_d else None
    say(f"work dir {ctx.work}")

    def append(rec):
        with open(args.results, "a") as f:
            f.write(json.dumps(rec) + "\n")

    failures = 0
    unavailable = {}
    try:
        if args.find_d:
            find_d(ctx, args, append)
            return
        while True:
            todo = [(s, f) for s in setups if s not in unavailable for f in faults_of(s) if done(s, f) < args.rounds]
            if not todo:
                break
            if args.deadline and time.monotonic() - T0 > args.deadline:
                say("deadline reached; stopping")
                break
            for setup in setups:
                if not any(s == setup for s, _ in todo):
                    continue
                try:
                    cluster = make_cluster(ctx, setup, args)
                except SetupUnavailable as e:
                    unavailable[setup] = str(e)
                    say(f"SKIPPED {e}")
                    append({"type": "skipped", "setup": setup, "reason": str(e), "ts": time.time(), "run": args.run_id})
                    if args.or_cold and SETUPS[setup].get("parked") and "A-cold" not in setups:
                        say(f"{setup} unavailable: A-cold runs in its place")
                        setups.insert(setups.index(setup) + 1, "A-cold")
                    continue
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
                                rec.update(cluster.round(fault, args))
                                rec["ok"] = True
                                say(f"{setup} {fault}: /overview {rec['overview_s']:.2f}s, RUNNING {rec['running_s']:.2f}s, "
                                    f"leader changed {rec['leader_changed']}, job restarted {rec['job_restarted']}, "
                                    f"load {rec['loadavg_before'][0]:.1f}")
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
        ctx.stop()
        # nothing of this run outlives it (a daemon restarted by a round's restore included)
        for pid in pids_mentioning(ctx.work + "/"):
            sig(pid, signal.SIGCONT)
            sig(pid, signal.SIGKILL)
    for s, why in unavailable.items():
        say(f"SKIPPED {why}")
    say("done")


if __name__ == "__main__":
    main()
