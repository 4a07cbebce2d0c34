#!/usr/bin/env python3
"""A parked JobManager's release: one byte on its gate to the first `GET /overview` 200, with
and without the class-data-sharing archive and the gate's class preload, interleaved.

Each start is the real Flink 2.3 JobManager (`jobmanager.sh start-foreground`) with the
configuration `flink-ha-supervisor render-flink-config` writes for `jobmanager.standby =
"parked"`, behind the gate's two pipes (the part the fence guard plays), against one real
ZooKeeper server. The JVM waits at the gate for --park-wait seconds after it said `parked` (and
until its preload is done, when it has one), then gets the release byte; the script polls
`/overview` every 20 ms, reads the phases from Flink's log, stops the JVM with SIGTERM and
measures how long that exit takes (what a planned handover waits for on the old leader).

  plain        no archive, no class list
  cds          JVM_ARGS=-XX:SharedArchiveFile=<archive>   (what jobmanager.cds_archive does)
  preload      FLINK_HA_GATE_PRELOAD=<archive>.classes    (the gate loads the listed classes
               while it waits, without initializing them)
  cds+preload  both (what a parked JobManager gets when `make-cds-archive` made both files)

The archive and its class list come from `flink-ha-supervisor make-cds-archive` (--bin), run once
per work directory. The variants take turns within each round (the order reverses every other
round) so that a change of the machine's load hits all of them alike; the summary prints the
medians and, per round, each variant's time over plain's. One JSON line per start (type
`parked-release`) goes to --results. Standard library only.
"""

import argparse
import datetime
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover as fo  # noqa: E402

VARIANTS = ("plain", "cds", "preload", "cds+preload")
CLUSTER_ID = "parked-release"
FACTORY_CLASS = "flinkha.gate.GatedHaServicesFactory"
# Flink's log lines that mark the phases after the release (the first line containing each).
MARKS = {
    "released_log": "Released by the fence guard",
    "blob_up": "Started BLOB server",
    "rest_up": "Rest endpoint listening at",
    "rm_leader": "ResourceManager akka",  # older wording; the next one is Flink 2.x
    "rm_granted": "was granted leadership with",
    "dispatcher_up": "Start SessionDispatcherLeaderProcess",
}


class OneServer(fo.Ensemble):
    """One ZooKeeper server (its `srvr` says `Mode: standalone`)."""

    def wait_serving(self, timeout):
        fo.wait_for(f"ZooKeeper {self.name} serving", timeout, lambda: self.mode(0) == "standalone", poll=0.25)


def ports_from(base):
    """fo.free_port from a fixed range when --port-base is given (the helper's own ports)."""
    nxt = [base]

    def port():
        while True:
            p = nxt[0]
            nxt[0] += 1
            try:
                with fo.socket.socket() as s:
                    s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    return port


def make_archive(binary, flink, work, quorum):
    """The archive and the class list of `make-cds-archive`, made once per work directory."""
    archive = os.path.join(work, "jm.jsa")
    if os.path.exists(archive) and os.path.exists(archive + ".classes"):
        return archive
    d = os.path.join(work, "archive-trial")
    conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
    for x in (log, tmp):
        os.makedirs(x, exist_ok=True)
    rest, rpc = fo.free_port(), fo.free_port()
    fo.write_conf_dir(flink, conf, f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                      f"jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc}\nrest.address: 127.0.0.1\n"
                      f"rest.bind-address: 127.0.0.1\nrest.port: {rest}\nio.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n")
    cfg = os.path.join(d, "supervisor.toml")
    with open(cfg, "w") as f:
        f.write(f"[zookeeper]\nquorum = {json.dumps(quorum)}\n[jobmanager]\n"
                f"command = [{json.dumps(os.path.join(flink, 'bin/jobmanager.sh'))}, \"start-foreground\"]\n"
                f"ready_url = \"http://127.0.0.1:{rest}/overview\"\ncds_archive = {json.dumps(archive)}\n"
                f"[jobmanager.env]\nFLINK_CONF_DIR = {json.dumps(conf)}\nFLINK_LOG_DIR = {json.dumps(log)}\n"
                f"FLINK_PID_DIR = {json.dumps(d)}\n")
    out = subprocess.run([binary, "make-cds-archive", "--config", cfg], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"parked_release.py: make-cds-archive failed: {out.stderr.strip() or out.stdout.strip()}")
    fo.say(out.stdout.strip())
    if not os.path.exists(archive + ".classes"):
        raise SystemExit("parked_release.py: make-cds-archive wrote no class list beside the archive")
    return archive


def render_conf(binary, flink, jar, d, quorum):
    """Flink's configuration directory of a parked JobManager, rendered by the daemon."""
    base, conf, tmp = (os.path.join(d, x) for x in ("base", "conf", "tmp"))
    os.makedirs(tmp, exist_ok=True)
    rest, rpc = fo.free_port(), fo.free_port()
    fo.write_conf_dir(flink, base, f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                      f"rest.bind-address: 127.0.0.1\nio.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n")
    cfg = os.path.join(d, "supervisor.toml")
    with open(cfg, "w") as f:
        f.write(f"[node]\nid = \"parked-release\"\n[zookeeper]\nquorum = {json.dumps(quorum)}\n[jobmanager]\n"
                f"command = [{json.dumps(os.path.join(flink, 'bin/jobmanager.sh'))}, \"start-foreground\"]\n"
                f"rpc_address = \"127.0.0.1:{rpc}\"\nready_url = \"http://127.0.0.1:{rest}/overview\"\n"
                f"standby = \"parked\"\ngate_jar = {json.dumps(jar)}\n"
                f"[flink]\nenabled = true\nmode = \"zookeeper\"\ncluster_id = \"{CLUSTER_ID}\"\n"
                f"storage_dir = \"file://{os.path.join(d, 'ha')}\"\nbase_config = {json.dumps(os.path.join(base, 'config.yaml'))}\n"
                f"conf_dir = {json.dumps(conf)}\n")
    out = subprocess.run([binary, "render-flink-config", "--config", cfg], capture_output=True, text=True)
    if out.returncode != 0 or f"high-availability.type: {FACTORY_CLASS}" not in out.stdout:
        raise SystemExit(f"parked_release.py: render-flink-config failed: {out.stderr.strip()}")
    os.makedirs(conf, exist_ok=True)
    for name in os.listdir(base):
        fo.shutil.copy(os.path.join(base, name), os.path.join(conf, name))
    with open(os.path.join(conf, "config.yaml"), "w") as f:
        f.write(out.stdout)
    return conf, rest


def log_times(log_dir):
    """{mark: wall-clock seconds} of the first line of each MARKS entry in Flink's log file."""
    found = {}
    for name in sorted(os.listdir(log_dir)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(log_dir, name), errors="replace") as f:
            for line in f:
                for mark, text in MARKS.items():
                    if mark not in found and text in line:
                        try:
                            t = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                        except ValueError:
                            continue
                        found[mark] = t
                if "Preloaded " in line and "preload" not in found:
                    found["preload"] = line.strip()
    return found


def cpu_s(pid):
    """The CPU time (user + system) the process has used so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(args, conf, rest, variant, archive, d, rnd, run):
    log = os.path.join(d, f"log-{rnd}-{variant}")
    os.makedirs(log, exist_ok=True)
    gate_r, gate_w = os.pipe()
    ready_r, ready_w = os.pipe()
    env = dict(os.environ, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=log, FLINK_PID_DIR=d, HADOOP_CLASSPATH=args.gate_jar,
               FLINK_HA_GATE_FD=str(gate_r), FLINK_HA_GATE_READY_FD=str(ready_w))
    env.pop("FLINK_HA_GATE_PRELOAD", None)
    env["JVM_ARGS"] = f"-XX:SharedArchiveFile={archive}" if "cds" in variant else ""
    if "preload" in variant:
        env["FLINK_HA_GATE_PRELOAD"] = archive + ".classes"
    t_spawn = time.monotonic()
    out = open(os.path.join(log, "jm.out"), "ab")
    p = subprocess.Popen([os.path.join(args.flink, "bin/jobmanager.sh"), "start-foreground"], stdin=subprocess.DEVNULL,
                         stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                         pass_fds=(gate_r, ready_w))
    os.close(gate_r)
    os.close(ready_w)
    try:
        line = b""
        while not line.endswith(b"\n"):
            r, _, _ = select.select([ready_r], [], [], max(0.0, 120 - (time.monotonic() - t_spawn)))
            if not r:
                raise fo.RoundFailed(f"{variant}: not parked within 120 s (see {log})")
            b = os.read(ready_r, 1)
            if not b:
                raise fo.RoundFailed(f"{variant}: the JVM closed its ready pipe (see {log})")
            line += b
        parked = time.monotonic() - t_spawn
        time.sleep(args.park_wait)
        if "preload" in variant:
            fo.wait_for(f"{variant}: the preload", 120, lambda: "preload" in log_times(log), poll=0.1)
        mapped = False
        with open(f"/proc/{p.pid}/maps") as f:
            mapped = archive in f.read()
        load = fo.loadavg()
        rss = fo.rss_kib(p.pid) or 0
        cpu0 = cpu_s(p.pid)
        wall0, t0 = time.time(), time.monotonic()
        os.write(gate_w, b"\x01")
        fo.wait_for(f"{variant}: /overview 200 after the release", 120,
                    lambda: fo.http_get(rest, "/overview", 0.5)[0] == 200, poll=0.02)
        ready = time.monotonic() - t0
        cpu = cpu_s(p.pid) - cpu0
        time.sleep(0.5)  # the log lines of the last phase
        marks = log_times(log)
        phases = {k: round(v - wall0, 3) for k, v in marks.items() if isinstance(v, float)}
        t_term = time.monotonic()
        fo.sig(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fo.sig(p.pid, signal.SIGKILL)
            p.wait()
        term_exit = time.monotonic() - t_term
    finally:
        if p.poll() is None:
            fo.sig(p.pid, signal.SIGKILL)
            p.wait()
        os.close(gate_w)
        os.close(ready_r)
        out.close()
    return {"type": "parked-release", "variant": variant, "ts_run": run, "round": rnd, "spawn_to_parked_s": round(parked, 3),
            "release_to_ready_s": round(ready, 3), "release_to_ready_cpu_s": round(cpu, 2), "phases_s": phases, "preload": marks.get("preload"),
            "archive_mapped": mapped, "parked_rss_kib": rss, "sigterm_to_exit_s": round(term_exit, 3), "exit_code": p.returncode,
            "loadavg_before": load, "ts": time.time()}


def summary(recs, variants):
    """Medians per variant, and each variant over plain round by round (wall and JVM CPU time)."""
    for v in variants:
        rs = [r for r in recs if r["variant"] == v]
        if rs:
            xs = [r["release_to_ready_s"] for r in rs]
            cpu = [r["release_to_ready_cpu_s"] for r in rs if "release_to_ready_cpu_s" in r]
            fo.say(f"{v:12s} release to /overview 200: median {statistics.median(xs):.3f}s "
                   f"min {min(xs):.3f}s max {max(xs):.3f}s (n={len(xs)}); JVM CPU median "
                   f"{statistics.median(cpu) if cpu else float('nan'):.2f}s; parked RSS median "
                   f"{statistics.median([r.get('parked_rss_kib', 0) for r in rs]) / 1024:.0f} MiB; SIGTERM to exit median "
                   f"{statistics.median([r['sigterm_to_exit_s'] for r in rs]):.2f}s")
    if "plain" in variants:
        rounds = sorted({r["round"] for r in recs})
        for field in ("release_to_ready_s", "release_to_ready_cpu_s"):
            for v in variants:
                if v == "plain":
                    continue
                ratios = []
                for rnd in rounds:
                    a = [r.get(field) for r in recs if r["round"] == rnd and r["variant"] == v]
                    b = [r.get(field) for r in recs if r["round"] == rnd and r["variant"] == "plain"]
                    if a and b and a[0] and b[0]:
                        ratios.append(a[0] / b[0])
                if ratios:
                    fo.say(f"{v:12s} / plain per round ({field}): {' '.join(f'{x:.2f}' for x in ratios)} "
                           f"(median {statistics.median(ratios):.2f})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="flink-ha-supervisor (render-flink-config, make-cds-archive)")
    ap.add_argument("--flink", required=True)
    ap.add_argument("--gate-jar", default=os.environ.get("FLINK_HA_GATE_JAR"))
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--work", default=None)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--park-wait", type=float, default=5.0, help="seconds parked before the release")
    ap.add_argument("--port-base", type=int, default=None, help="take ports from here up instead of any free one")
    ap.add_argument("--summary", action="store_true", help="only summarize the records in --results")
    args = ap.parse_args()
    if args.summary:
        recs = [json.loads(line) for line in open(args.results) if '"parked-release"' in line]
        summary(recs, [v for v in VARIANTS if any(r["variant"] == v for r in recs)])
        return
    if not args.gate_jar or not os.path.isfile(args.gate_jar):
        raise SystemExit("parked_release.py: no gate jar; pass --gate-jar or set FLINK_HA_GATE_JAR (scripts/build-gate)")
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"parked_release.py: unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    if args.port_base:
        fo.free_port = ports_from(args.port_base)
    work = args.work or tempfile.mkdtemp(prefix="fhs-parked-release-")
    os.makedirs(work, exist_ok=True)
    os.environ["FLINK_HOME"] = args.flink
    zk = OneServer(work, "parked-release", 2000, size=1)
    recs = []
    try:
        archive = make_archive(args.bin, args.flink, work, zk.quorum())
        d = os.path.join(work, "parked")
        conf, rest = render_conf(args.bin, args.flink, args.gate_jar, d, zk.quorum())
        run = int(time.time())
        for rnd in range(args.rounds):
            for v in (variants if rnd % 2 == 0 else list(reversed(variants))):
                rec = one_start(args, conf, rest, v, archive, d, rnd, run)
                recs.append(rec)
                with open(args.results, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                fo.say(f"round {rnd} {v}: release to /overview 200 {rec['release_to_ready_s']:.3f}s "
                       f"(JVM CPU {rec['release_to_ready_cpu_s']:.2f}s; parked RSS {rec['parked_rss_kib'] >> 10} MiB), phases "
                       f"{rec['phases_s']}, archive mapped {rec['archive_mapped']}, SIGTERM to exit "
                       f"{rec['sigterm_to_exit_s']:.2f}s (code {rec['exit_code']}); {rec['preload'] or ''}")
                time.sleep(1)
    finally:
        zk.stop()
    summary(recs, variants)


if __name__ == "__main__":
    main()
