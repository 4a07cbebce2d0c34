#!/usr/bin/env python3
"""JobManager cold start: through Flink's script or launched directly, with and without the
class-data-sharing archive, interleaved.

Starts a plain (non-HA) Flink 2.3 JobManager on loopback again and again, the variants taking
turns within each round so that a change of the machine's load hits all of them alike, and
measures spawn to the first `GET /overview` 200; then SIGTERM and wait for the exit.

  plain   `jobmanager.sh start-foreground`, no archive (the JVM's default CDS of the JDK's own
          classes only)
  direct  the java command line the scripts build, run directly (what `jobmanager.launch =
          "direct"` does), resolved once by `flink-ha-supervisor jobmanager-command` (needs --bin):
          the scripts' two helper JVMs (BashJavaUtils) do not run
  direct+cds  the same with the archive
  cds     plain with JVM_ARGS=-XX:SharedArchiveFile=<archive>   (what jobmanager.cds_archive does)
  cds+c1  the same plus -XX:TieredStopAtLevel=1 (C1 only; the ~3.8 s measured on a quieter machine used both)

The archive (only when a cds variant is asked for) is made like `flink-ha-supervisor
make-cds-archive` does (bench/failover.py's make_cds_archive), unless the work directory already
has one. One JSON line per start (type `coldstart`) goes to --results. Standard library only.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import failover as fo  # noqa: E402

VARIANTS = {
    "plain": "",
    "direct": "",
    "cds": "-XX:SharedArchiveFile={archive}",
    "cds+c1": "-XX:SharedArchiveFile={archive} -XX:TieredStopAtLevel=1",
    "direct+cds": "-XX:SharedArchiveFile={archive}",
}


def resolve_direct(binary, d, conf, log, jvm_args):
    """The resolved command line and environment of `jobmanager-command`, for these inputs."""
    cfg = os.path.join(d, f"daemon-{abs(hash(jvm_args))}.toml")
    env_lines = f"FLINK_CONF_DIR = {json.dumps(conf)}\nFLINK_LOG_DIR = {json.dumps(log)}\nFLINK_PID_DIR = {json.dumps(d)}\n"
    if jvm_args:
        env_lines += f"JVM_ARGS = {json.dumps(jvm_args)}\n"
    with open(cfg, "w") as f:
        f.write("[zookeeper]\nquorum = \"127.0.0.1:1\"\n[jobmanager]\n"
                f"command = [{json.dumps(os.path.join(os.environ['FLINK_HOME'], 'bin/jobmanager.sh'))}, \"start-foreground\"]\n"
                f"launch = \"direct\"\n[jobmanager.env]\n{env_lines}")
    out = subprocess.run([binary, "jobmanager-command", "--config", cfg], capture_output=True, text=True, check=True)
    resolved = json.loads(out.stdout)
    if resolved["launch"] != "direct":
        raise SystemExit(f"coldstart: cannot resolve the direct command line: {resolved['why']}")
    # the launch's own environment wins where both set a variable (JVM_ARGS with a CDS archive)
    return resolved["argv"], {**os.environ, **resolved["jobmanager_env"], **resolved["env"]}



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flink", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--work", default=None)
    ap.add_argument("--variants", default="plain,direct,cds,cds+c1")
    ap.add_argument("--bin", default=None, help="flink-ha-supervisor, for the direct variants")
    args = ap.parse_args()

    ctx = fo.Ctx(args.work or tempfile.mkdtemp(prefix="fhs-coldstart-"))
    ctx.flink = args.flink
    os.makedirs(ctx.work, exist_ok=True)
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"coldstart.py: unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    if any(v.startswith("direct") for v in variants) and not args.bin:
        raise SystemExit("coldstart.py: the direct variants need --bin flink-ha-supervisor")
    archive = fo.make_cds_archive(ctx) if any("cds" in v for v in variants) else ""
    d = os.path.join(ctx.work, "coldstart")
    conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
    for x in (log, tmp):
        os.makedirs(x, exist_ok=True)
    rest, rpc = fo.free_port(), fo.free_port()
    fo.write_conf_dir(ctx.flink, conf, f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                      f"jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc}\nrest.address: 127.0.0.1\n"
                      f"rest.bind-address: 127.0.0.1\nrest.port: {rest}\nio.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n")
    os.environ["FLINK_HOME"] = ctx.flink
    direct = {v: resolve_direct(args.bin, d, conf, log, VARIANTS[v].format(archive=archive))
              for v in variants if v.startswith("direct")}
    run = int(time.time())
    for rnd in range(args.rounds):
        for v in (variants if rnd % 2 == 0 else list(reversed(variants))):
            jvm_args = VARIANTS[v].format(archive=archive)
            env = dict(os.environ, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=log, FLINK_PID_DIR=d, JVM_ARGS=jvm_args)
            load = fo.loadavg()
            if v in direct:
                argv, env = direct[v]
            else:
                argv = [os.path.join(ctx.flink, "bin/jobmanager.sh"), "start-foreground"]
            t0 = time.monotonic()
            p = fo.spawn(argv, os.path.join(d, "jm.out"), env=env)
            fo.wait_for(f"JobManager ({v})", 120, lambda: fo.http_get(rest, "/overview", 0.5)[0] == 200, poll=0.05)
            ready = time.monotonic() - t0
            with open(f"/proc/{p.pid}/maps") as f:
                mapped = bool(archive) and archive in f.read()
            rss = fo.rss_kib(p.pid)
            fo.sig(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=60)
            except Exception:
                fo.sig(p.pid, signal.SIGKILL)
                p.wait()
            rec = {"type": "coldstart", "variant": v, "run": run, "round": rnd, "ready_s": round(ready, 3), "archive_mapped": mapped,
                   "rss_kib_at_ready": rss, "loadavg_before": load, "ts": time.time()}
            with open(args.results, "a") as f:
                f.write(fo.json.dumps(rec) + "\n")
            fo.say(f"{v}: /overview 200 after {ready:.2f}s (archive mapped: {mapped}; load {load[0]:.1f})")
            time.sleep(1)


if __name__ == "__main__":
    main()
