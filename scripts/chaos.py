#!/usr/bin/env python3
"""The chaos drill behind scripts/chaos (run that: it builds the images and cleans up).

Brings up the docker-compose cluster (docker-compose.yml) under its own project name, waits for
the long-running job, then runs rounds of one fault each against the current leader or the
ZooKeeper ensemble, and judges every round:

* when the fault hit, when a JobManager served again (REST /overview 200), when the job was
  RUNNING again with every task running (the same job id), and that outage against the budget;
* safety, continuously: an observer samples every JobManager host's Flink REST /overview (only
  the leading dispatcher answers 200) and the daemon's /status about 5 times a second, and at no
  sample may two hosts answer 200; after the drill `flink-ha-supervisor audit` rebuilds every
  host's JobManager-running intervals from all daemons' audit files and must find no overlap
  (except a frozen one, see pause below);
* what each fault kind must do (FAULTS below, README.md "The chaos drill");
* once per run, that ZooKeeper's authentication and ACLs are real (Drill.check_auth): from the
  TaskManager, which holds Flink's identity but not the daemons', neither an anonymous client
  nor one logged in as Flink may create the pause node or delete the leader's election node,
  while the daemons' identity (`flink-ha-supervisor status` on a JobManager host) reads the
  election and Flink's identity reads Flink's nodes.

It prints a table, writes everything as JSON (and the containers' logs, the audit files, the
audit report and its timeline) under the run directory, and exits 1 on any violation, 2 when the
drill could not run (no Docker, the cluster did not come up). Standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JMS = ["jm1", "jm2", "jm3"]
ZKS = ["zk1", "zk2", "zk3"]
OTHERS = ["tm1", "submit", "secrets"]

# Where the images keep the daemon's configuration and Flink (docker/flink/), and the secured
# layout it sets up (docker/flink/supervisor.toml).
SUPERVISOR_CONFIG = "/etc/flink-ha-supervisor/supervisor.toml"
FLINK_JAAS_FILE = "/secrets/flink/zookeeper-jaas.conf"
FLINK_ZK_NODE = "/flink/compose"
# ZooKeeper's command-line client from the base image (Debian's libzookeeper-java); with
# Flink's jar on the class path it can log in with Flink's JAAS file (Flink's shaded login module).
ZK_CLI = ("java -XX:TieredStopAtLevel=1 -Xshare:auto -Dzookeeper.sasl.client.canonicalize.hostname=false "
          "-cp /usr/share/java/zookeeper.jar:$(echo /opt/flink/lib/flink-dist-*.jar) {props} "
          "org.apache.zookeeper.ZooKeeperMain -server zk1:2181,zk2:2181,zk3:2181")



def compose_setting(name, default):
    """A duration (seconds) of the daemons' environment in docker-compose.yml (x-supervisor-env)."""
    try:
        text = open(os.path.join(REPO, "docker-compose.yml")).read()
    except OSError:
        return default
    m = re.search(rf"^\s*{name}:\s*(\d+(?:\.\d+)?)(ms|s)\s*$", text, re.M)
    if not m:
        return default
    return float(m.group(1)) / (1000.0 if m.group(2) == "ms" else 1.0)


# The cluster's settings, from docker-compose.yml (x-supervisor-env).
SESSION_TIMEOUT = compose_setting("FHS_ZOOKEEPER__SESSION_TIMEOUT", 8.0)  # the daemons' and Flink's
STOP_GRACE = compose_setting("FHS_JOBMANAGER__STOP_GRACE", 1.0)  # jobmanager.stop_grace
TICK_TIME = compose_setting("FHS_ZOOKEEPER__TICK_TIME", 2.0)  # zookeeper.tick_time (the servers' tickTime)
FENCE_MARGIN = TICK_TIME / 2 + max(SESSION_TIMEOUT / 10, 0.05) + 1.0  # crates/core/src/timing.rs fence_margin
FENCE_AFTER = SESSION_TIMEOUT - STOP_GRACE - FENCE_MARGIN  # silence before the leader's JobManager is stopped
BUDGET = compose_setting("FHS_FAILOVER__BUDGET", 30.0)  # failover.budget (default 30 s)
JOB_NAME = "fhs-datagen-blackhole"

SAMPLE_INTERVAL = 0.2
HTTP_TIMEOUT = 0.8
# After an unpause: how long the thawed leader's JobManager may live on (frozen time excluded)
# before its guard or daemon has killed it; see `pause` below.
THAW_TOLERANCE = max(1.0, STOP_GRACE)

FAULTS = {
    "kill": "docker kill (SIGKILL) of the leader's container: its daemon, fence guard and JobManager "
    "die at once; a standby takes over when the dead session expires",
    "pause": "docker pause of the leader's container past the session timeout (until the job runs "
    "elsewhere), then unpause: the thawed JobManager must never serve again",
    "partition": "the leader's container cut off from the ZooKeeper/cluster network, then reconnected: "
    "its daemon fences its JobManager within the session timeout, a standby takes over",
    "sigterm": "SIGTERM to the leader's daemon: a graceful handover, the daemon exits 0",
    "kill-jm": "SIGKILL of the leader's JobManager process alone: the daemon restarts it (or, past "
    "jobmanager.restart_limit, resigns and a standby takes over)",
    "zk-follower": "one ZooKeeper follower stopped, then started: no leadership change",
    "zk-leader": "the ZooKeeper leader stopped, then started: the ensemble elects another, the "
    "daemon's session survives, no leadership change",
    "zk-quorum": "two of three ZooKeeper servers stopped past the session timeout, then started: no "
    "JobManager may serve without a quorum (fenced), one serves again after it returns",
}
FAULT_ORDER = list(FAULTS)

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def iso(t):
    if t is None:
        return None
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hms(t):
    return "-" if t is None else datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S.%f")[:-3]


def secs(x):
    return "-" if x is None else f"{x:.1f}s"


class DrillError(Exception):
    """The drill could not run (exit code 2)."""


# --- docker ----------------------------------------------------------------------------------


def run(cmd, check=True, timeout=120, quiet=False):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DrillError(f"timed out after {timeout}s: {' '.join(cmd)}")
    if check and p.returncode != 0:
        raise DrillError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")
    if not quiet and p.returncode != 0:
        say(f"  ({' '.join(cmd[:3])}... exited {p.returncode}: {p.stderr.strip()[:200]})")
    return p


def compose_command():
    """`docker compose` (v2) when it exists, else `docker-compose` (v1, this machine kind's)."""
    if run(["docker", "compose", "version"], check=False, quiet=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise DrillError("neither `docker compose` nor `docker-compose` is installed")


class Cluster:
    def __init__(self, project, env):
        self.project = project
        self.env = env
        self.compose = compose_command() + ["-p", project, "-f", os.path.join(REPO, "docker-compose.yml")]
        self.ids = {}
        self.ha_network = None

    def compose_run(self, *args, check=True, timeout=600):
        cmd = self.compose + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env}, cwd=REPO)
        if check and p.returncode != 0:
            raise DrillError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr.strip()[-3000:]}")
        return p

    def up(self):
        self.compose_run("up", "-d", timeout=900)
        for svc in JMS + ZKS + OTHERS:
            cid = self.compose_run("ps", "-q", svc).stdout.strip()
            if not cid:
                raise DrillError(f"compose created no container for {svc}")
            self.ids[svc] = cid
        nets = json.loads(run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", self.ids["jm1"]]).stdout)
        self.ha_network = next((n for n in nets if n.endswith("_ha")), None)
        if not self.ha_network:
            raise DrillError(f"jm1 is not on a *_ha network: {sorted(nets)}")

    def down(self):
        self.compose_run("down", "-v", "--remove-orphans", "-t", "5", check=False, timeout=300)

    def cid(self, svc):
        return self.ids[svc]

    def docker(self, *args, check=True, timeout=60, quiet=False):
        return run(["docker", *args], check=check, timeout=timeout, quiet=quiet)

    def state(self, svc):
        p = self.docker("inspect", "-f", "{{json .State}}", self.cid(svc), check=False, quiet=True)
        return json.loads(p.stdout) if p.returncode == 0 else {}

    def ensure_running(self, svc):
        st = self.state(svc)
        if st.get("Paused"):
            self.docker("unpause", self.cid(svc), check=False)
        elif not st.get("Running"):
            self.docker("start", self.cid(svc), check=False)

    def exec(self, svc, *cmd, timeout=20, check=False):
        return run(["docker", "exec", self.cid(svc), *cmd], check=check, timeout=timeout, quiet=True)

    def front_ips(self):
        """{service: IP on the `front` network} of the JobManager hosts that have one now."""
        ids = [self.cid(s) for s in JMS]
        p = self.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", *ids, check=False, quiet=True)
        out = {}
        for svc, line in zip(JMS, p.stdout.splitlines()):
            try:
                nets = json.loads(line)
            except ValueError:
                continue
            for name, net in (nets or {}).items():
                if name.endswith("_front") and net.get("IPAddress"):
                    out[svc] = net["IPAddress"]
        return out

    def zk_mode(self, svc):
        """leader, follower, or None (down or not serving)."""
        p = self.exec(
            svc, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/2181 && printf srvr >&3 && timeout 2 cat <&3", timeout=10
        )
        m = re.search(r"^Mode: (\w+)", p.stdout, re.M)
        return m.group(1) if m else None

    def save_logs(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        for svc, cid in self.ids.items():
            with open(os.path.join(out_dir, f"{svc}.log"), "w") as f:
                subprocess.run(["docker", "logs", "-t", cid], stdout=f, stderr=subprocess.STDOUT, timeout=120)

    def copy_audit_files(self, out_dir):
        """The daemons' log.audit_file of every host, from the `audit` volume."""
        os.makedirs(out_dir, exist_ok=True)
        volume = f"{self.project}_audit"
        self.docker(
            "run", "--rm", "--entrypoint", "bash", "-v", f"{volume}:/audit:ro", "-v", f"{out_dir}:/out",
            "fhs-flink:latest", "-c", "cp /audit/*.jsonl /out/ && chmod 0644 /out/*.jsonl", timeout=120,
        )
        return sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".jsonl"))

    def audit(self, out_dir, budget):
        """`flink-ha-supervisor audit` over the audit files in out_dir, by the image's own binary."""
        p = self.docker(
            "run", "--rm", "--entrypoint", "flink-ha-supervisor", "-v", f"{out_dir}:/work",
            "fhs-flink:latest", "audit", "--format", "json", "--budget", f"{int(budget)}s",
            "--timeline", "/work/timeline.svg", "/work/*.jsonl", check=False, timeout=120, quiet=True,
        )
        text = self.docker(
            "run", "--rm", "--entrypoint", "flink-ha-supervisor", "-v", f"{out_dir}:/work",
            "fhs-flink:latest", "audit", "--budget", f"{int(budget)}s", "/work/*.jsonl", check=False, timeout=120,
            quiet=True,
        ).stdout
        try:
            report = json.loads(p.stdout)
        except ValueError:
            report = None
        return p.returncode, report, text, p.stderr


# --- the observer --------------------------------------------------------------------------------


def http_json(url, timeout=HTTP_TIMEOUT):
    """(status, parsed JSON or None); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception:
        return 0, None


class Observer(threading.Thread):
    """Samples every JobManager host about 5 times a second: Flink's /overview (200 only on the
    leading dispatcher), the jobs there, and the daemon's /status."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples = []  # (t_start, t_end, {node: {...}})
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.ips = {}
        self.ips_at = 0.0
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(JMS))
        self.double_serving = []  # samples where two or more hosts answered 200

    def refresh_ips(self):
        try:
            self.ips = self.cluster.front_ips()
        except Exception:
            pass
        self.ips_at = time.monotonic()

    def probe(self, node):
        ip = self.ips.get(node)
        res = {"overview": False, "jobs": None, "taskmanagers": None, "status": None}
        if not ip:
            return res
        code, body = http_json(f"http://{ip}:8081/overview")
        if code == 200 and isinstance(body, dict):
            res["overview"] = True
            res["taskmanagers"] = body.get("taskmanagers")
            code, jobs = http_json(f"http://{ip}:8081/jobs/overview")
            if code == 200 and isinstance(jobs, dict):
                res["jobs"] = [
                    {
                        "jid": j.get("jid"),
                        "name": j.get("name"),
                        "state": j.get("state"),
                        "running": (j.get("tasks") or {}).get("running", 0),
                        "total": (j.get("tasks") or {}).get("total", 0),
                    }
                    for j in jobs.get("jobs", [])
                ]
        code, status = http_json(f"http://{ip}:9249/status")
        if code in (200, 503) and isinstance(status, dict):
            res["status"] = {
                k: status.get(k) for k in ("role", "epoch", "session", "jobmanager", "healthy", "serving")
            }
        return res

    def run(self):
        while not self.stop_flag.is_set():
            if time.monotonic() - self.ips_at > 1.0:
                self.refresh_ips()
            t_start = time.time()
            results = dict(zip(JMS, self.pool.map(self.probe, JMS)))
            t_end = time.time()
            with self.lock:
                self.samples.append((t_start, t_end, results))
            serving = [n for n in JMS if results[n]["overview"]]
            if len(serving) > 1:
                self.double_serving.append({"time": iso(t_start), "nodes": serving})
                say(f"  VIOLATION: {' and '.join(serving)} both answered /overview with 200")
            time.sleep(max(0.0, SAMPLE_INTERVAL - (t_end - t_start)))

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=10)
        self.pool.shutdown(wait=False)

    def latest(self):
        with self.lock:
            return self.samples[-1] if self.samples else None

    def window(self, t_from, t_to=None):
        with self.lock:
            return [s for s in self.samples if s[0] >= t_from and (t_to is None or s[0] <= t_to)]


def serving_nodes(sample):
    return [n for n in JMS if sample[2][n]["overview"]]


def job_running(sample, jid):
    """The node on which job `jid` is RUNNING with every task running, if any."""
    for n in serving_nodes(sample):
        for j in sample[2][n]["jobs"] or []:
            if j["jid"] == jid and j["state"] == "RUNNING" and j["total"] > 0 and j["running"] == j["total"]:
                return n
    return None


def our_jobs(sample):
    """Jobs named JOB_NAME in a non-terminal state, on every serving node."""
    out = []
    for n in serving_nodes(sample):
        for j in sample[2][n]["jobs"] or []:
            if j["name"] == JOB_NAME and j["state"] not in ("FINISHED", "CANCELED", "FAILED", "SUSPENDED"):
                out.append(j["jid"])
    return out


# --- the drill -----------------------------------------------------------------------------------


class Drill:
    def __init__(self, cluster, observer, args, run_dir):
        self.c = cluster
        self.obs = observer
        self.args = args
        self.run_dir = run_dir
        self.jid = None
        self.rounds = []
        self.pauses = []  # (node, t_pause, t_unpause)
        self.repairs = []  # ZooKeeper servers restarted between rounds (repair_zookeeper)
        self.events = []

    # -- waiting ----------------------------------------------------------------------------------

    def wait_for(self, what, cond, timeout, interval=0.25):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(interval)
        return None

    def checkpoint_after(self, node, t):
        """True when `node` reports a checkpoint of the job completed after wall time t."""
        ip = self.obs.ips.get(node)
        if not ip:
            return False
        code, cp = http_json(f"http://{ip}:8081/jobs/{self.jid}/checkpoints", timeout=2)
        if code != 200 or not isinstance(cp, dict):
            return False
        latest = ((cp.get("latest") or {}).get("completed") or {}).get("latest_ack_timestamp")
        return bool(latest) and latest / 1000.0 > t

    def steady(self, timeout=240):
        """Waits until the whole cluster is healthy: every container running, the ZooKeeper quorum
        complete (one leader, two followers), every daemon healthy, exactly one JobManager serving,
        the job RUNNING with a checkpoint completed since. Returns the leader."""
        t_begin = time.time()
        deadline = time.monotonic() + timeout
        for svc in JMS + ZKS + ["tm1"]:
            self.c.ensure_running(svc)
        stuck_since = {}
        while time.monotonic() < deadline:
            modes = [self.c.zk_mode(z) for z in ZKS]
            if sorted(m or "-" for m in modes) != ["follower", "follower", "leader"]:
                self.repair_zookeeper(modes, stuck_since)
                time.sleep(1)
                continue
            s = self.obs.latest()
            if s is None or s[0] < t_begin:
                time.sleep(0.5)
                continue
            healthy = all((s[2][n]["status"] or {}).get("healthy") for n in JMS)
            serving = serving_nodes(s)
            if not healthy or len(serving) != 1:
                time.sleep(0.5)
                continue
            leader = serving[0]
            if self.jid is None:
                jobs = our_jobs(s)
                if len(jobs) == 1:
                    self.jid = jobs[0]
                    say(f"job {self.jid} ({JOB_NAME}) found on {leader}")
            if self.jid and job_running(s, self.jid) == leader:
                if self.checkpoint_after(leader, max(t_begin, self.last_recovery())):
                    return leader
            time.sleep(0.5)
        s = self.obs.latest()
        raise DrillError(
            f"the cluster did not settle within {timeout}s: ZooKeeper modes "
            f"{[self.c.zk_mode(z) for z in ZKS]}, last sample {json.dumps(s[2]) if s else None}"
        )

    def repair_zookeeper(self, modes, stuck_since, patience=45.0):
        """A server that stays out of a working ensemble (the other two leader and follower) for
        `patience` seconds is restarted; if that does not help, the follower that serves is
        restarted too (ZooKeeper 3.8.0 can leave a server LOOKING while a follower advertises a
        stale vote; the second restart makes that follower vote again, at the price of a short
        loss of the quorum). Each repair is recorded: it happens between rounds, and the observer
        and the audit keep judging safety throughout."""
        now = time.monotonic()
        if sorted(m or "-" for m in modes) != ["-", "follower", "leader"]:
            stuck_since.clear()
            return
        stuck = ZKS[[m or "-" for m in modes].index("-")]
        since = stuck_since.setdefault(stuck, now)
        attempts = stuck_since.setdefault("attempts", 0)
        if now - since < patience * (attempts + 1):
            return
        follower = ZKS[modes.index("follower")]
        target = stuck if attempts == 0 else follower
        say(f"  ZooKeeper {stuck} has not rejoined for {now - since:.0f}s (modes {modes}); restarting {target}")
        self.repairs.append({"time": iso(time.time()), "stuck": stuck, "restarted": target, "modes": modes})
        self.c.docker("restart", "-t", "2", self.c.cid(target), check=False)
        stuck_since["attempts"] = attempts + 1

    def last_recovery(self):
        return self.rounds[-1]["t_job_running"] or 0.0 if self.rounds else 0.0

    # -- measuring --------------------------------------------------------------------------------

    def measure(self, t_from, t_to):
        """From the samples in [t_from, t_to]: the first moment without a serving JobManager and
        the first serving again after it; the same for the job RUNNING (this job id)."""
        samples = self.obs.window(t_from, t_to)
        m = {
            "jm_down": None, "jm_ready": None, "new_leader": None,
            "job_down": None, "job_running": None, "job_node": None,
            "last_serving": {n: None for n in JMS}, "other_jobs": set(),
        }
        for t, _, res in samples:
            serving = serving_nodes((t, _, res))
            for n in serving:
                m["last_serving"][n] = t
            if m["jm_down"] is None and not serving:
                m["jm_down"] = t
            elif m["jm_down"] is not None and m["jm_ready"] is None and serving:
                m["jm_ready"], m["new_leader"] = t, serving[0]
            running_on = job_running((t, _, res), self.jid)
            if m["job_down"] is None and not running_on:
                m["job_down"] = t
            elif m["job_down"] is not None and m["job_running"] is None and running_on:
                m["job_running"], m["job_node"] = t, running_on
            for jid in our_jobs((t, _, res)):
                if jid != self.jid:
                    m["other_jobs"].add(jid)
        if m["new_leader"] is None and samples:
            serving = serving_nodes(samples[-1])
            m["new_leader"] = serving[0] if serving else None
        return m

    def wait_recovered(self, t_from, timeout):
        """Waits until the job is RUNNING again (after having been down, if it went down) or the
        timeout passes; returns the measurement."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.measure(t_from, None)
            if m["job_down"] is not None and m["job_running"] is not None:
                return m
            time.sleep(0.25)
        return self.measure(t_from, None)

    # -- authentication --------------------------------------------------------------------------

    def election_status(self, node):
        """`flink-ha-supervisor status --format json` on a JobManager host, where the daemons'
        credentials are: (exit code, report or None, stderr)."""
        p = self.c.exec(node, "flink-ha-supervisor", "status", "--config", SUPERVISOR_CONFIG, "--format", "json",
                        timeout=30)
        try:
            return p.returncode, json.loads(p.stdout), p.stderr.strip()
        except ValueError:
            return p.returncode, None, p.stderr.strip() or p.stdout.strip()

    def zk_cli_on_tm(self, commands, as_flink):
        """Runs ZooKeeper's command-line client on tm1 with `commands` (one JVM), anonymously or
        logged in with Flink's JAAS file; returns its output (stdout and stderr)."""
        props = f"-Djava.security.auth.login.config={FLINK_JAAS_FILE}" if as_flink else ""
        script = "printf '%s\\n' " + " ".join(f"'{c}'" for c in commands) + " quit | " + ZK_CLI.format(props=props) + " 2>&1"
        p = self.c.exec("tm1", "bash", "-c", script, timeout=60)
        return p.stdout

    def check_auth(self, leader):
        """Once per run, on the settled cluster: the ACLs stop what a TaskManager could do."""
        checks = []

        def check(name, ok, detail):
            checks.append({"check": name, "ok": bool(ok), "detail": detail})
            say(f"  auth: {'ok' if ok else 'FAILED'} {name}" + ("" if ok else f": {detail}"))

        code, report, err = self.election_status(leader)
        leader_view = (report or {}).get("leader") or {}
        election = (report or {}).get("election_path") or "/flink-ha/leader"
        node = next((c["name"] for c in (report or {}).get("contenders", []) if c.get("role") == "leader"), None)
        check("the daemons' identity reads the election (status on the leader's host)",
              code in (0, 1) and report is not None and leader_view.get("node_id") == leader and node,
              f"exit {code}, leader {leader_view.get('node_id')}, election node {node}" + (f": {err}" if report is None else ""))
        if not node:
            return checks
        pause = f"{election}-pause"
        target = f"{election}/{node}"
        denied = lambda out, path: f"Insufficient permission : {path}" in out
        # What the client said about the commands and its login, without its banner and logging.
        first = lambda out: " | ".join(
            l for l in out.splitlines()
            if l.strip() and not re.match(r"SLF4J|Connecting to|Welcome|JLine|WATCHER::|WatchedEvent state:(SyncConnected|Closed)", l)
        )[:400]
        for who, as_flink in (("anonymous", False), ("Flink's identity", True)):
            out = self.zk_cli_on_tm([f"create {pause} tm1", f"delete {target}", f"ls {FLINK_ZK_NODE}"], as_flink)
            check(f"tm1 {who}: creating the pause node is refused (NoAuth)", denied(out, pause), first(out))
            check(f"tm1 {who}: deleting the leader's election node is refused (NoAuth)", denied(out, target), first(out))
            if as_flink:
                listed = ("state:SaslAuthenticated" in out and re.search(r"^\[.*\]$", out, re.M)
                          and not denied(out, FLINK_ZK_NODE))
                check("tm1 Flink's identity: reading Flink's nodes works (its login is real)", listed, first(out))
            else:
                check("tm1 anonymous: reading Flink's nodes is refused (NoAuth)", denied(out, FLINK_ZK_NODE), first(out))
        code, report, err = self.election_status(leader)
        after = [c["name"] for c in (report or {}).get("contenders", []) if c.get("role") == "leader"]
        check("afterwards: no pause node, the same leader's election node",
              report is not None and not report.get("paused") and after == [node],
              f"paused {None if report is None else report.get('paused')}, leader node {after or err}")
        return checks

    # -- the rounds -------------------------------------------------------------------------------

    def run_round(self, index, kind):
        leader = self.steady()
        say(f"round {index}: {kind} (leader {leader}, job {self.jid})")
        r = {
            "round": index, "kind": kind, "description": FAULTS[kind], "leader_before": leader,
            "target": leader, "t_fault": None, "t_heal": None, "t_restore": None,
            "t_jm_ready": None, "t_job_running": None, "leader_after": None, "job_id": self.jid,
            "checks": [],
        }
        fn = getattr(self, "fault_" + kind.replace("-", "_"))
        fn(r, leader)
        # Settle before the next round; its wait also proves the healed host rejoined.
        self.rounds.append(r)
        self.finish_round(r)
        return r

    def check(self, r, name, ok, detail):
        r["checks"].append({"check": name, "ok": bool(ok), "detail": detail})
        if not ok:
            say(f"  FAILED {name}: {detail}")

    def record_recovery(self, r, m, t_origin, expect_interruption=True):
        """Fills the round's times from a measurement; the budget counts from t_origin."""
        r["t_jm_down"] = m["jm_down"]
        r["t_jm_ready"] = m["jm_ready"]
        r["t_job_down"] = m["job_down"]
        r["t_job_running"] = m["job_running"]
        r["leader_after"] = m["job_node"] or m["new_leader"]
        r["jm_ready_s"] = None if m["jm_ready"] is None else m["jm_ready"] - t_origin
        r["job_running_s"] = None if m["job_running"] is None else m["job_running"] - t_origin
        if m["job_down"] is None:
            r["outage_s"] = 0.0  # the job never stopped running
        elif m["job_running"] is None:
            r["outage_s"] = None
        else:
            r["outage_s"] = m["job_running"] - t_origin
        r["budget_s"] = BUDGET
        r["within_budget"] = r["outage_s"] is not None and r["outage_s"] <= BUDGET
        self.check(
            r, "job RUNNING again within the budget", r["within_budget"],
            f"outage {secs(r['outage_s'])} (budget {BUDGET:g}s) from "
            f"{'ZooKeeper serving again' if t_origin in (r.get('t_quorum'), r.get('t_restore')) else 'the fault'}",
        )
        self.check(
            r, "same job, no duplicate", not m["other_jobs"],
            f"job {self.jid}" + (f"; other jobs named {JOB_NAME}: {sorted(m['other_jobs'])}" if m["other_jobs"] else ""),
        )
        if expect_interruption is False:
            pass

    def fault_kill(self, r, leader):
        r["t_fault"] = time.time()
        self.c.docker("kill", self.c.cid(leader))
        m = self.wait_recovered(r["t_fault"], BUDGET + 30)
        self.record_recovery(r, m, r["t_fault"])
        self.check(r, "a standby took over", m["new_leader"] not in (None, leader), f"new leader {m['new_leader']}")
        r["t_heal"] = time.time()
        self.c.ensure_running(leader)

    def fault_pause(self, r, leader):
        r["t_fault"] = time.time()
        self.c.docker("pause", self.c.cid(leader))
        # Paused at least past the session timeout, and until the job runs elsewhere.
        time.sleep(SESSION_TIMEOUT + 1)
        m = self.wait_recovered(r["t_fault"], BUDGET + 30 - (SESSION_TIMEOUT + 1))
        r["t_heal"] = time.time()
        self.c.docker("unpause", self.c.cid(leader))
        self.pauses.append((leader, r["t_fault"], r["t_heal"]))
        # The thawed JobManager must not serve: watch it closely for a while.
        served = []
        ip = self.obs.ips.get(leader)
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and ip:
            code, _ = http_json(f"http://{ip}:8081/overview", timeout=0.5)
            if code == 200:
                served.append(time.time())
            time.sleep(0.05)
        self.record_recovery(r, m, r["t_fault"])
        self.check(r, "a standby took over", m["new_leader"] not in (None, leader), f"new leader {m['new_leader']}")
        after = [t for t, _, res in self.obs.window(r["t_heal"], r["t_heal"] + 10) if res[leader]["overview"]]
        self.check(
            r, "the thawed JobManager never served", not served and not after,
            "no /overview 200 from the unpaused host" if not served and not after
            else f"{leader} answered 200 {len(served) + len(after)} times after the unpause",
        )

    def fault_partition(self, r, leader):
        nets = json.loads(self.c.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", self.c.cid(leader)).stdout)
        ip = (nets.get(self.c.ha_network) or {}).get("IPAddress")
        r["t_fault"] = time.time()
        self.c.docker("network", "disconnect", self.c.ha_network, self.c.cid(leader))
        m = self.wait_recovered(r["t_fault"], BUDGET + 30)
        r["t_heal"] = time.time()
        # Back with its name and its fixed address (docker-compose.yml).
        self.c.docker("network", "connect", "--alias", leader, *(["--ip", ip] if ip else []),
                      self.c.ha_network, self.c.cid(leader))
        self.record_recovery(r, m, r["t_fault"])
        self.check(r, "a standby took over", m["new_leader"] not in (None, leader), f"new leader {m['new_leader']}")
        last = m["last_serving"][leader]
        fenced_in = None if last is None else last - r["t_fault"]
        self.check(
            r, "the cut-off leader's JobManager stopped within the session timeout",
            fenced_in is not None and fenced_in < SESSION_TIMEOUT,
            f"{leader} last served {secs(fenced_in)} after the cut (session timeout {SESSION_TIMEOUT:g}s)",
        )
        r["fenced_after_s"] = fenced_in

    def fault_sigterm(self, r, leader):
        r["t_fault"] = time.time()
        # The container's init (docker-init) forwards it to the daemon, its only child.
        self.c.docker("kill", "--signal", "TERM", self.c.cid(leader))
        m = self.wait_recovered(r["t_fault"], BUDGET + 30)
        self.record_recovery(r, m, r["t_fault"])
        self.check(r, "a standby took over", m["new_leader"] not in (None, leader), f"new leader {m['new_leader']}")
        # The daemon logged its shutdown and exit (exit code 0: it logs `exited` right before).
        exited = self.wait_for("exited", lambda: self.audit_event(leader, "exited", r["t_fault"]), 20)
        self.check(r, "the daemon shut down cleanly", exited is not None, f"`exited` record of {leader}: {bool(exited)}")
        r["t_heal"] = time.time()
        self.wait_for("stopped", lambda: not self.c.state(leader).get("Running") or self.c.state(leader).get("StartedAt", "") > iso(r["t_fault"]), 20)
        self.c.ensure_running(leader)

    def fault_kill_jm(self, r, leader):
        # Flink's JobManager: a `java` process (not its fence guard, whose command line holds the
        # directly launched one's) that is not the stand-in `java` of a direct launch's
        # resolution (the marker -Dflinkha.launch.resolve=); `[t]` keeps the pattern from
        # matching this shell's own command line
        p = self.c.exec(leader, "sh", "-c", "for p in $(pgrep -f 'org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoin[t]'); "
                        "do [ \"$(cat /proc/$p/comm 2>/dev/null)\" = java ] || continue; "
                        "grep -qa flinkha.launch.resolve /proc/$p/cmdline 2>/dev/null || echo $p; done")
        pids = p.stdout.split()
        if len(pids) != 1:
            shown = self.c.exec(leader, "sh", "-c", "for p in " + " ".join(pids) + "; do echo $p: $(tr '\\0' ' ' </proc/$p/cmdline | cut -c1-300); done")
            raise DrillError(f"expected one JobManager process on {leader}, found {pids}: {shown.stdout.strip()}")
        r["t_fault"] = time.time()
        self.c.exec(leader, "kill", "-KILL", pids[0], check=True)
        m = self.wait_recovered(r["t_fault"], BUDGET + 30)
        self.record_recovery(r, m, r["t_fault"])
        restarted = self.audit_event(leader, "jobmanager_restarted", r["t_fault"])
        resigned = self.audit_event(leader, "resigned", r["t_fault"])
        self.check(
            r, "the daemon restarted its JobManager or resigned",
            (restarted and m["new_leader"] == leader) or (resigned and m["new_leader"] not in (None, leader)),
            f"restarted locally: {bool(restarted)}, resigned: {bool(resigned)}, leader after: {m['new_leader']}",
        )

    def zk_roles(self):
        modes = {z: self.c.zk_mode(z) for z in ZKS}
        leader = next((z for z, m in modes.items() if m == "leader"), None)
        followers = [z for z, m in modes.items() if m == "follower"]
        if leader is None or len(followers) != 2:
            raise DrillError(f"ZooKeeper ensemble not complete: {modes}")
        return leader, followers

    def zk_outage(self, r, leader, stop, hold):
        """Stops the servers `stop`, waits `hold` seconds, starts them again. With two, the quorum
        is back with the first (t_restore); the second is started once the first two have elected
        a leader (both at once, ZooKeeper 3.8.0 once left one of them LOOKING for minutes)."""
        r["target"] = "+".join(stop)
        r["t_fault"] = time.time()
        for z in stop:
            self.c.docker("stop", "-t", "2", self.c.cid(z))
        time.sleep(hold)
        r["t_restore"] = r["t_heal"] = time.time()
        self.c.docker("start", self.c.cid(stop[0]))
        if len(stop) > 1:
            # The ensemble serves again once some server leads (with a follower: the quorum).
            self.wait_for("a quorum", lambda: "leader" in [self.c.zk_mode(x) for x in ZKS], 60, interval=0.2)
            r["t_quorum"] = time.time()
            for z in stop[1:]:
                self.c.docker("start", self.c.cid(z))

    def zk_no_failover(self, r, leader, stop):
        self.zk_outage(r, leader, stop, SESSION_TIMEOUT + 4)
        m = self.measure(r["t_fault"], None)
        if m["job_down"] is not None and m["job_running"] is None:
            m = self.wait_recovered(r["t_fault"], BUDGET)
        self.record_recovery(r, m, r["t_fault"])
        self.check(r, "no leadership change", m["new_leader"] == leader, f"leader after: {m['new_leader']}")

    def fault_zk_follower(self, r, leader):
        _, followers = self.zk_roles()
        self.zk_no_failover(r, leader, [random.choice(followers)])

    def fault_zk_leader(self, r, leader):
        zk_leader, _ = self.zk_roles()
        self.zk_no_failover(r, leader, [zk_leader])

    def fault_zk_quorum(self, r, leader):
        zk_leader, followers = self.zk_roles()
        hold = SESSION_TIMEOUT + 4
        self.zk_outage(r, leader, [zk_leader, random.choice(followers)], hold)
        during = self.measure(r["t_fault"], r["t_restore"])
        last = max((t for t in during["last_serving"].values() if t is not None), default=None)
        fenced_in = None if last is None else last - r["t_fault"]
        r["fenced_after_s"] = fenced_in
        self.check(
            r, "no JobManager served without a quorum (fenced within the session timeout)",
            fenced_in is not None and fenced_in < SESSION_TIMEOUT,
            f"last /overview 200 {secs(fenced_in)} after the quorum was lost (session timeout "
            f"{SESSION_TIMEOUT:g}s; quorum back after {hold:g}s)",
        )
        # The job went down during the outage. The budget counts from the moment ZooKeeper serves
        # again (a leader with a follower), not from the restart of its servers: how long the
        # ensemble takes to form again (2-17 s here) is ZooKeeper's, not the daemons'.
        m = self.wait_recovered(r["t_fault"], BUDGET + 60)
        r["zookeeper_back_s"] = None if r.get("t_quorum") is None else r["t_quorum"] - r["t_restore"]
        r["drill_notes"] = [f"ZooKeeper served again {secs(r['zookeeper_back_s'])} after the restart"]
        self.record_recovery(r, m, r.get("t_quorum") or r["t_restore"])

    def restored_checkpoint(self, r):
        """The checkpoint the job was restored from after the fault, if the serving JobManager says."""
        node = r.get("leader_after")
        ip = self.obs.ips.get(node) if node else None
        if not ip:
            return None
        code, cp = http_json(f"http://{ip}:8081/jobs/{self.jid}/checkpoints", timeout=2)
        restored = ((cp or {}).get("latest") or {}).get("restored") if code == 200 else None
        if restored and (restored.get("restore_timestamp") or 0) / 1000.0 >= r["t_fault"]:
            return restored.get("id")
        return None

    def finish_round(self, r):
        r["t_fault_iso"] = iso(r["t_fault"])
        if r.get("t_job_down") is not None:
            r["restored_checkpoint"] = self.restored_checkpoint(r)
        r["ok"] = all(c["ok"] for c in r["checks"])
        say(
            f"  -> {r['leader_before']} -> {r['leader_after']}: JobManager serving {secs(r.get('jm_ready_s'))}, "
            f"job RUNNING {secs(r.get('job_running_s'))}, outage {secs(r.get('outage_s'))} "
            f"{'ok' if r['ok'] else 'FAILED'}"
        )

    def audit_event(self, node, event, after):
        """The first audit record `event` of `node` logged after wall time `after`, read from the
        audit volume through the node's container (or None)."""
        p = self.c.docker(
            "run", "--rm", "--entrypoint", "cat", "-v", f"{self.c.project}_audit:/audit:ro",
            "fhs-flink:latest", f"/audit/{node}.jsonl", check=False, timeout=60, quiet=True,
        )
        for line in p.stdout.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") != event:
                continue
            try:
                t = datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
            except (KeyError, ValueError):
                continue
            if t >= after:
                return rec
        return None


# --- the audit and the report ----------------------------------------------------------------------


def classify_overlaps(overlaps, pauses):
    """Splits the audit's overlaps into violations and frozen ones: an overlap that began while one
    of its hosts was paused (docker pause freezes the daemon, its fence guard and its JobManager
    alike, so nothing on that host runs) and ended at most THAW_TOLERANCE after that host was
    unpaused. The thawed part is reported either way."""
    out = []
    for o in overlaps or []:
        start = datetime.fromisoformat(o["start"].replace("Z", "+00:00")).timestamp()
        end = datetime.fromisoformat(o["end"].replace("Z", "+00:00")).timestamp()
        verdict = {"overlap": o, "frozen": False, "thawed_s": None, "paused_node": None}
        for node, t_pause, t_unpause in pauses:
            if node in o["nodes"] and t_pause - 0.05 <= start <= t_unpause:
                verdict["paused_node"] = node
                verdict["thawed_s"] = max(0.0, end - t_unpause)
                verdict["frozen"] = verdict["thawed_s"] <= THAW_TOLERANCE
        out.append(verdict)
    return out


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def attach_failovers(rounds, report):
    """The daemon's own measurement (failover_completed) of each round's failover, matched by the
    moment the new JobManager was ready (its outage start can lie before the round: a leader whose
    record went stale, see the report)."""
    for r in rounds:
        r["daemon_failovers"] = []
    unmatched = []
    for f in (report or {}).get("failovers", []):
        ready = ts(f["ready_at"])
        for i, r in enumerate(rounds):
            nxt = rounds[i + 1]["t_fault"] if i + 1 < len(rounds) else float("inf")
            if r["t_fault"] <= ready < nxt:
                r["daemon_failovers"].append(
                    {k: f.get(k) for k in ("previous_node", "node", "cause", "outage_ms", "detection_ms", "election_ms",
                                           "start_ms", "readiness_ms", "within_budget", "outage_start", "ready_at")}
                )
                break
        else:
            unmatched.append(f)
    return unmatched


NOTE_EVENTS = ("fenced", "jobmanager_exited", "jobmanager_restarted", "resigned", "session_expired",
               "leadership_lost", "session_timeout_too_short")


def attach_notes(rounds, audit_files):
    """What the daemons did in each round, from their audit records: fences (with the silence that
    caused them), local restarts, resignations, expired sessions."""
    records = []
    for path in audit_files:
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    if rec.get("event") in NOTE_EVENTS:
                        records.append((ts(rec["timestamp"]), rec))
                except (ValueError, KeyError):
                    continue
    records.sort(key=lambda x: x[0])
    for i, r in enumerate(rounds):
        nxt = rounds[i + 1]["t_fault"] if i + 1 < len(rounds) else float("inf")
        notes = list(r.get("drill_notes") or [])
        for t, rec in records:
            if r["t_fault"] <= t < nxt:
                e, node = rec["event"], rec.get("node")
                if e == "fenced":
                    notes.append(f"{node} fenced after {rec.get('silent_for_ms', 0) / 1000:.1f}s silent")
                elif e == "jobmanager_restarted":
                    notes.append(f"{node} restarted its JobManager")
                elif e == "jobmanager_exited":
                    notes.append(f"{node}'s JobManager exited ({rec.get('code')})")
                else:
                    notes.append(f"{node} {e.replace('_', ' ')}")
        # One note per distinct text, in order.
        r["notes"] = list(dict.fromkeys(notes))


def table(rounds):
    head = ["#", "fault", "target", "leader", "fault at (UTC)", "JM serving", "job RUNNING", "outage",
            "budget", "daemon outage", "checkpoint", "checks", "what the daemons did"]
    rows = []
    for r in rounds:
        daemon = ", ".join(f"{f['outage_ms'] / 1000:.1f}s {f['cause']}" for f in r.get("daemon_failovers", [])) or "-"
        origin = " (ZK back)" if r["kind"] == "zk-quorum" else ""
        failed = [c["check"] for c in r["checks"] if not c["ok"]]
        rows.append([
            str(r["round"]), r["kind"], r["target"], f"{r['leader_before']}->{r.get('leader_after') or '?'}",
            hms(r["t_fault"]), secs(r.get("jm_ready_s")) + origin if r.get("jm_ready_s") is not None else "-",
            secs(r.get("job_running_s")) + origin if r.get("job_running_s") is not None else "-",
            secs(r.get("outage_s")), "ok" if r.get("within_budget") else "OVER",
            daemon, "-" if r.get("restored_checkpoint") is None else f"#{r['restored_checkpoint']}",
            "ok" if not failed else "FAILED: " + "; ".join(failed), "; ".join(r.get("notes") or []) or "-",
        ])
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(head)] + [line(row) for row in rows])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="passes over the fault kinds (default 3)")
    ap.add_argument("--faults", default=",".join(FAULT_ORDER), help="comma-separated fault kinds, in order")
    ap.add_argument("--project", default="fhs-chaos", help="docker-compose project name (default fhs-chaos)")
    ap.add_argument("--out", default=None, help="run directory (default target/chaos/<time>)")
    ap.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = ap.parse_args()
    kinds = [k.strip() for k in args.faults.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in FAULTS]
    if unknown or args.rounds < 1:
        ap.error(f"unknown fault kind(s) {unknown}; known: {', '.join(FAULT_ORDER)}" if unknown else "--rounds must be >= 1")

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = os.path.abspath(args.out or os.path.join(REPO, "target", "chaos", stamp))
    os.makedirs(run_dir, exist_ok=True)
    # Random host ports: the drill must not collide with a cluster someone else runs here.
    env = {f"JM{i}_{p}_PORT": "" for i in (1, 2, 3) for p in ("UI", "HTTP")}
    # A subnet of its own for the cluster network, beside a cluster started with the default.
    env["HA_SUBNET_PREFIX"] = os.environ.get("HA_SUBNET_PREFIX", "172.30.241")
    cluster = Cluster(args.project, env)
    result = {
        "started": iso(time.time()), "project": args.project, "run_dir": run_dir,
        "settings": {"session_timeout_s": SESSION_TIMEOUT, "stop_grace_s": STOP_GRACE, "budget_s": BUDGET,
                     "sample_interval_s": SAMPLE_INTERVAL, "thaw_tolerance_s": THAW_TOLERANCE},
        "faults": {k: FAULTS[k] for k in kinds}, "rounds": [],
    }
    code = 2
    observer = None
    drill = None
    try:
        say(f"cluster up (project {args.project}); results in {run_dir}")
        cluster.down()
        t_up = time.time()
        cluster.up()
        observer = Observer(cluster)
        observer.start()
        drill = Drill(cluster, observer, args, run_dir)
        leader = drill.steady(timeout=300)
        result["cluster_ready_s"] = round(time.time() - t_up, 1)
        say(f"cluster ready in {result['cluster_ready_s']}s: leader {leader}, job {drill.jid} RUNNING")
        t_auth = time.time()
        result["auth_checks"] = drill.check_auth(leader)
        say(f"authentication checked in {time.time() - t_auth:.1f}s")
        index = 0
        for _ in range(args.rounds):
            for kind in kinds:
                index += 1
                drill.run_round(index, kind)
        drill.steady()
        code = 0
    except DrillError as e:
        say(f"drill aborted: {e}")
        result["error"] = str(e)
    except KeyboardInterrupt:
        say("interrupted")
        result["error"] = "interrupted"
    finally:
        if observer:
            observer.stop()
        if drill:
            result["rounds"] = drill.rounds
            result["job_id"] = drill.jid
            result["zookeeper_repairs"] = drill.repairs
        try:
            cluster.save_logs(os.path.join(run_dir, "logs"))
            audit_dir = os.path.join(run_dir, "audit")
            files = cluster.copy_audit_files(audit_dir) if cluster.ids else []
            if files:
                a_code, report, a_text, a_err = cluster.audit(audit_dir, BUDGET)
                with open(os.path.join(audit_dir, "audit.txt"), "w") as f:
                    f.write(a_text)
                if report is not None:
                    with open(os.path.join(audit_dir, "audit.json"), "w") as f:
                        json.dump(report, f, indent=2)
                classified = classify_overlaps((report or {}).get("overlaps"), drill.pauses if drill else [])
                unmatched = attach_failovers(result["rounds"], report)
                attach_notes(result["rounds"], files)
                result["audit"] = {
                    "exit_code": a_code, "stderr": a_err.strip(),
                    "summary": (report or {}).get("summary"),
                    "overlaps": classified,
                    "violating_overlaps": [v for v in classified if not v["frozen"]],
                    "failovers_outside_rounds": unmatched,
                }
        except Exception as e:  # the report must still be written
            result["audit_error"] = str(e)
        if not args.keep:
            say("cluster down")
            cluster.down()
        else:
            say(f"cluster left running: {' '.join(cluster.compose)} down -v")

    rounds = result["rounds"]
    safety = {
        "samples": len(observer.samples) if observer else 0,
        "double_serving": observer.double_serving if observer else [],
    }
    result["safety"] = safety
    audit = result.get("audit")
    violations = []
    if safety["double_serving"]:
        violations.append(f"{len(safety['double_serving'])} samples with two JobManagers serving")
    if audit is None:
        violations.append("no audit of the daemons' logs: " + result.get("audit_error", "no audit files"))
    else:
        if audit["violating_overlaps"]:
            violations.append(f"{len(audit['violating_overlaps'])} overlapping JobManager intervals (audit)")
        if audit["exit_code"] not in (0, 1):
            violations.append(f"audit exit code {audit['exit_code']}: {audit['stderr']}")
        for f in audit.get("failovers_outside_rounds") or []:
            if not f.get("within_budget"):
                violations.append(f"audit: failover {f.get('previous_node')} -> {f.get('node')} outside the rounds over budget")
    for r in rounds:
        for c in r["checks"]:
            if not c["ok"]:
                violations.append(f"round {r['round']} ({r['kind']}): {c['check']}: {c['detail']}")
    auth_checks = result.get("auth_checks")
    if code == 0 and not auth_checks:
        violations.append("authentication: not checked")
    for c in auth_checks or []:
        if not c["ok"]:
            violations.append(f"authentication: {c['check']}: {c['detail']}")
    result["violations"] = violations
    result["finished"] = iso(time.time())
    result["ok"] = code == 0 and not violations
    with open(os.path.join(run_dir, "chaos.json"), "w") as f:
        json.dump(result, f, indent=2, default=lambda o: sorted(o) if isinstance(o, set) else str(o))

    print()
    if rounds:
        print(table(rounds))
        print()
    if observer:
        print(f"observer: {safety['samples']} samples of all three JobManager hosts; "
              f"{len(safety['double_serving'])} with two serving")
    if auth_checks:
        passed = sum(c["ok"] for c in auth_checks)
        print(f"authentication: {passed}/{len(auth_checks)} checks passed (from tm1, anonymous and as Flink: "
              f"pause node and the leader's election node refused; the daemons' and Flink's logins work)")
    if audit:
        s = audit.get("summary") or {}
        frozen = [v for v in audit["overlaps"] if v["frozen"]]
        print(f"audit (exit {audit['exit_code']}): {s.get('count', '?')} failovers, outage p50 "
              f"{(s.get('p50_ms') or 0) / 1000:.1f}s max {(s.get('max_ms') or 0) / 1000:.1f}s; "
              f"{len(audit['overlaps'])} overlaps ({len(frozen)} frozen by docker pause, thawed part "
              f"{', '.join('%.3fs' % v['thawed_s'] for v in frozen) or '-'})")
    for rep in result.get("zookeeper_repairs") or []:
        print(f"note: ZooKeeper {rep['stuck']} did not rejoin the ensemble; the drill restarted {rep['restarted']} at {rep['time']}")
    for v in violations:
        print(f"VIOLATION: {v}")
    if result.get("error"):
        print(f"ERROR: {result['error']}")
    print(f"results: {os.path.join(run_dir, 'chaos.json')}")
    if code != 0:
        return 2
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
