#!/usr/bin/env python3
"""JobManager cold start: through Flink's script or launched directly, with and without the
class-data-sharing archive, interleaved.

Starts a plain (non-HA) Flink 2.3 JobManager on loopback again and again, the variants taking
turns within each round so that a change of the machine's load hits all of them alike, and
measures spawn to the first `GET /overview` 200; then SIGTERM and wait for the exit.

  plain   `jobmanager.sh start-foreground`, no archive (the JVM's default CDS of the JDK's own
          classes only)
  direct  the JobManager's own JVM command line, started directly (what `jobmanager.launch =
          "direct"` does): read from /proc/<pid>/cmdline of the first `plain` start (the script
          ends in an exec of that JVM), with the same environment; the scripts' two helper JVMs
          (BashJavaUtils) do not run
  cds     plain with JVM_ARGS=-XX:SharedArchiveFile=<archive>   (what jobmanager.cds_archive does)
  cds+c1  the same plus -XX:TieredStopAtLevel=1 (C1 only; the ~3.8 s measured on a quieter machine used both)

The archive (only when a cds variant is asked for) is made like `flink-ha-supervisor
make-cds-archive` does (bench/failover.py's make_cds_archive), unless the work directory already
has one. One JSON line per start (type `coldstart`) goes to --results. Standard library only.
"""

import argparse
import os
import signal
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
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flink", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--work", default=None)
    ap.add_argument("--variants", default="plain,direct,cds,cds+c1")
    args = ap.parse_args()

    ctx = fo.Ctx(args.work or tempfile.mkdtemp(prefix="fhs-coldstart-"))
    ctx.flink = args.flink
    os.makedirs(ctx.work, exist_ok=True)
    variants = args.variants.split(",")
    for v in variants:
        if v not in VARIANTS:
            raise SystemExit(f"coldstart.py: unknown variant {v!r}; known: {', '.join(VARIANTS)}")
    if "direct" in variants:
        # the direct command line comes from the first `plain` start, which goes first
        if "plain" not in variants:
            raise SystemExit("coldstart.py: the variant `direct` needs `plain` (its command line is read from it)")
        variants = ["plain"] + [v for v in variants if v != "plain"]
    archive = fo.make_cds_archive(ctx) if any(v.startswith("cds") for v in variants) else ""
    d = os.path.join(ctx.work, "coldstart")
    conf, log, tmp = (os.path.join(d, x) for x in ("conf", "log", "tmp"))
    for x in (log, tmp):
        os.makedirs(x, exist_ok=True)
    rest, rpc = fo.free_port(), fo.free_port()
    fo.write_conf_dir(ctx.flink, conf, f"jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n"
                      f"jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc}\nrest.address: 127.0.0.1\n"
                      f"rest.bind-address: 127.0.0.1\nrest.port: {rest}\nio.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n")
    run = int(time.time())
    direct_argv = None
    for rnd in range(args.rounds):
        for v in (variants if rnd % 2 == 0 else list(reversed(variants))):
            jvm_args = VARIANTS[v].format(archive=archive)
            env = dict(os.environ, FLINK_CONF_DIR=conf, FLINK_LOG_DIR=log, FLINK_PID_DIR=d, JVM_ARGS=jvm_args)
            load = fo.loadavg()
            argv = direct_argv if v == "direct" else [os.path.join(ctx.flink, "bin/jobmanager.sh"), "start-foreground"]
            t0 = time.monotonic()
            p = fo.spawn(argv, os.path.join(d, "jm.out"), env=env)
            fo.wait_for(f"JobManager ({v})", 120, lambda: fo.http_get(rest, "/overview", 0.5)[0] == 200, poll=0.05)
            ready = time.monotonic() - t0
            with open(f"/proc/{p.pid}/maps") as f:
                mapped = bool(archive) and archive in f.read()
            if v == "plain" and direct_argv is None:
                with open(f"/proc/{p.pid}/cmdline", "rb") as f:
                    direct_argv = [a.decode() for a in f.read().split(b"\0") if a]
                if not direct_argv or os.path.basename(direct_argv[0]) != "java":
                    raise SystemExit(f"coldstart.py: the script-started JobManager (pid {p.pid}) is not a java "
                                     f"process: {direct_argv[:1]}")
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
