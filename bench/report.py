#!/usr/bin/env python3
"""Renders the benchmark results (JSON lines from bench/failover.py, bench/coldstart.py and the
`contenders` binary) as Markdown tables: the goals with each measured figure and whether it is
met (and by how much it is missed), the failover per setup and fault, D's search, memory, the
daemon's overhead, contenders, cold starts. With --update FILE it replaces the part of FILE
between `<!-- bench:begin -->` and `<!-- bench:end -->`; with --check it only verifies that every
part produced at least one usable record (the CI quick mode). Standard library only."""

import argparse
import datetime as dt
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from jsonl import read_jsonl  # noqa: E402 (scripts/jsonl.py)

SETUPS = [("A-cold", "A-cold: this daemon, cold start"),
          ("A-parked", "A-parked: this daemon, parked JobManager"),
          ("A-parked-t500", "A-parked, 2 s session, tickTime 500 ms"),
          ("A+cds", "A+cds: this daemon, CDS archive"),
          ("A-parked+cds", "A-parked+cds: parked JobManager, CDS archive and class preload"),
          ("B", "B: Flink ZK HA, defaults"),
          ("C", "C: Flink ZK HA, A's session timeout"),
          ("C-t500", "C, 2 s session, tickTime 500 ms"),
          ("D", "D: Flink ZK HA, shortest pause-proof session")]
ALIASES = {"A": "A-cold"}
FAULTS = [("kill", "SIGKILL leader host"), ("handover", "planned handover"), ("term", "SIGTERM"),
          ("pause", "SIGSTOP of the leader JobManager"), ("zk-leader", "ZooKeeper leader stopped")]
MIN_ROUNDS = 10


def table_head(out, title, intro, header):
    """Appends a section's title, its introduction and the head of its Markdown table."""
    out.append(title)
    out.append(intro)
    out.append(header)
    out.append("|" + "---|" * header.count(" | ") + "---|")


def pct(sorted_vals, p):
    """Nearest rank, like the daemon's own statistics."""
    rank = max(1, math.ceil(p / 100 * len(sorted_vals)))
    return sorted_vals[min(rank, len(sorted_vals)) - 1]


def stats(vals):
    v = sorted(x for x in vals if x is not None)
    if not v:
        return None
    return {"n": len(v), "min": v[0], "med": pct(v, 50), "p95": pct(v, 95), "max": v[-1]}


def interleaved_rows(recs, variants, value, key):
    """Rows of an interleaved comparison: (variant, its records, "starts | min | median | p95 | max |
    median ratio to plain"), the ratio being the median of the per-round ratios to `plain` (same key)."""
    plain = {key(r): r[value] for r in recs if r["variant"] == "plain"}
    for v in variants:
        rs = [r for r in recs if r["variant"] == v]
        if not rs:
            continue
        st = stats([r[value] for r in rs])
        ratios = sorted(r[value] / plain[key(r)] for r in rs if key(r) in plain)
        rt = f"{pct(ratios, 50):.2f}" if ratios else "-"
        yield v, rs, f"{st['n']} | {st['min']:.2f} | {st['med']:.2f} | {st['p95']:.2f} | {st['max']:.2f} | {rt}"


def load_of(rs):
    """The 1-minute load average at the faults of these rounds: median (min-max)."""
    ls = sorted(r["loadavg_before"][0] for r in rs if r.get("loadavg_before"))
    return f"{pct(ls, 50):.1f} ({ls[0]:.1f}-{ls[-1]:.1f})" if ls else "-"


def judge(value, goal, unit=""):
    """`met` or `missed by X (Y %)` for a figure that must be at most goal."""
    if value is None:
        return "not measured"
    if value <= goal:
        return "met"
    over = value - goal
    rel = f" ({over / goal * 100:.0f} %)" if goal else ""
    return f"missed by {over:.2f}{unit}{rel}"


def goal_rows(by, recs):
    """The goals: (measure, measured figure, goal, verdict) rows."""
    def med(setup, fault, field="running_s"):
        st = stats([r.get(field) for r in by.get((setup, fault), [])])
        return st["med"] if st else None

    def n(setup, fault):
        return len(by.get((setup, fault), []))

    def ratio_row(measure, a, b, fault, goal):
        x, y = med(a, fault), med(b, fault)
        if x is None or y is None or not y:
            return (measure, "-", f"<= {goal}", "not measured")
        fig = f"{x / y:.2f} ({x:.1f} s / {y:.1f} s; {n(a, fault)} / {n(b, fault)} rounds)"
        return (measure, fig, f"<= {goal}", judge(x / y, goal))

    def count_row(measure, setup, fault, test, beside=None):
        rs = by.get((setup, fault), [])
        if not rs:
            return (measure, "-", "0 of 10", "not measured")
        k = sum(1 for r in rs if test(r))
        fig = f"{k} of {len(rs)}"
        if beside:
            bs = by.get((beside, fault), [])
            fig += f" (C: {sum(1 for r in bs if test(r))} of {len(bs)})" if bs else " (C: not measured)"
        verdict = "met" if k == 0 else f"missed by {k} round{'s' if k > 1 else ''}"
        if len(rs) < MIN_ROUNDS:
            verdict += f" (only {len(rs)} rounds)"
        return (measure, fig, "0 of 10", verdict)

    rows = [
        ratio_row("SIGKILL host to job RUNNING, A-parked / C, same session", "A-parked", "C", "kill", 1.0),
        ratio_row("SIGKILL host to job RUNNING, A-parked / D", "A-parked", "D", "kill", 0.4),
    ]
    x = med("A-parked-t500", "kill")
    rows.append(("SIGKILL host to job RUNNING, A-parked, 2 s session, tickTime 500 ms",
                 f"{x:.1f} s ({n('A-parked-t500', 'kill')} rounds)" if x is not None else "-", "<= 5 s",
                 judge(x, 5.0, " s")))
    rows.append(ratio_row("planned handover to job RUNNING, A-parked / C", "A-parked", "C", "handover", 1.0))
    rows.append(count_row("10 s JobManager pause, A-parked: rounds that restart the job or move leadership",
                          "A-parked", "pause", lambda r: r.get("job_restarted") or r.get("leader_changed")))
    rows.append(count_row("the ZooKeeper leader stopped (3 servers), A-parked: rounds that restart the job",
                          "A-parked", "zk-leader", lambda r: r.get("job_restarted"), beside="C"))
    rss = lambda s: stats([r["standby_rss_kib"] / 1024 for r in recs if r.get("type") == "round" and r.get("ok")
                           and ALIASES.get(r["setup"], r["setup"]) == s and r.get("standby_rss_kib")])
    ap, c, ac = rss("A-parked"), rss("C"), rss("A-cold")
    cold_note = f"; A-cold {ac['med']:.1f} MiB" if ac else ""
    if ap and c:
        rows.append(("standby RSS, A-parked (daemon, guard, parked JVM) / C's standby JobManager",
                     f"{ap['med'] / c['med']:.2f} ({ap['med']:.0f} MiB / {c['med']:.0f} MiB{cold_note})", "<= 0.7",
                     judge(ap["med"] / c["med"], 0.7)))
    else:
        rows.append(("standby RSS, A-parked / C's standby JobManager", "-" + cold_note, "<= 0.7", "not measured"))
    cold = [r for r in recs if r.get("type") == "coldstart"]
    key = lambda r: (r.get("run"), r["round"])
    plain = {key(r): r["ready_s"] for r in cold if r["variant"] == "plain"}
    ratios = sorted(r["ready_s"] / plain[key(r)] for r in cold if r["variant"] == "direct" and key(r) in plain)
    if ratios:
        rows.append(("cold start, direct launch / `jobmanager.sh` (spawn to `/overview` 200)",
                     f"{pct(ratios, 50):.2f} (median of {len(ratios)} paired rounds)", "<= 0.75",
                     judge(pct(ratios, 50), 0.75)))
    else:
        rows.append(("cold start, direct launch / `jobmanager.sh`", "-", "<= 0.75", "not measured"))
    return rows


def render(recs):
    for r in recs:
        if r.get("setup") in ALIASES:
            r["setup"] = ALIASES[r["setup"]]
    rounds = [r for r in recs if r.get("type") == "round" and r.get("ok")]
    failed = [r for r in recs if r.get("type") == "round" and not r.get("ok")]
    out = []
    by = {}
    for r in rounds:
        by.setdefault((r["setup"], r["fault"]), []).append(r)
    loads = sorted(x for r in rounds for x in (r.get("loadavg_before") or [])[:1])
    if rounds:
        first, last = min(r["ts"] for r in rounds), max(r["ts"] for r in rounds)
        utc = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc)
        span = f"{utc(first):%Y-%m-%d %H:%M}–{utc(last):%Y-%m-%d %H:%M} UTC"
        out.append(f"Run: {len(rounds)} rounds ({len(failed)} failed and retried), {span}; 1-minute load average "
                   f"at the faults: min {loads[0]:.1f}, median {pct(loads, 50):.1f}, max {loads[-1]:.1f} (2 cores).\n")
    skipped = {}
    for r in recs:
        if r.get("type") == "skipped":
            skipped[r["setup"]] = r.get("reason")
    for s, why in skipped.items():
        if not any(k[0] == s for k in by):
            out.append(f"Not measured: {why}\n")
    d = [r for r in recs if r.get("type") == "find-d-result"]
    if d:
        s = d[-1].get("session_ms")
        out.append(f"D's session timeout (bench/failover.py --find-d): "
                   f"{f'{s / 1000:g} s' if s else 'none within 20 x tickTime'}.\n")

    table_head(out, "### Goals\n",
               "Each figure from the tables below (medians of the rounds; ratios of medians from the same run).\n",
               "| measure | measured | goal | verdict |")
    for row in goal_rows(by, recs):
        out.append("| " + " | ".join(row) + " |")
    out.append("")

    table_head(out, "### Failover per setup and fault\n",
               "Seconds from the fault (t0). `RUNNING` = the job listed RUNNING with every task running on the serving "
               "JobManager (after a pause or a ZooKeeper leader stop: the start of the final stable stretch, so 0 when "
               "nothing stopped); `/overview` = the new leader's first `/overview` 200. `restarted` = the job was seen "
               "not fully running, restored a checkpoint, or moved; `moved` = leadership moved to the other host.\n",
               "| setup | fault | rounds | RUNNING median | min | p95 | max | /overview median | restarted | moved | load median (range) |")
    for s, sname in SETUPS:
        for f, fname in FAULTS:
            rs = by.get((s, f))
            if not rs:
                continue
            run, ov = stats([r["running_s"] for r in rs]), stats([r["overview_s"] for r in rs])
            jr = sum(1 for r in rs if r.get("job_restarted"))
            lc = sum(1 for r in rs if r.get("leader_changed"))
            out.append(f"| {sname} | {fname} | {len(rs)} | {run['med']:.1f} | {run['min']:.1f} | {run['p95']:.1f} | "
                       f"{run['max']:.1f} | {ov['med']:.1f} | {jr} of {len(rs)} | {lc} of {len(rs)} | {load_of(rs)} |")
    out.append("")

    fd = [r for r in recs if r.get("type") == "find-d"]
    if fd:
        table_head(out, "### D: the search for the shortest session timeout that rides out the pause\n",
                   "Flink's hot standby with `high-availability.zookeeper.client.session-timeout` S; a trial is one "
                   "pause round (SIGSTOP of the leader JobManager, SIGCONT after the pause); `disturbed` = the job "
                   "restarted or leadership moved. A candidate stops at its first disturbed trial.\n",
                   "| S (s) | pause (s) | trials | disturbed | load median (range) |")
        for key in sorted({(r["session_ms"], r["pause_s"]) for r in fd}):
            rs = [r for r in fd if (r["session_ms"], r["pause_s"]) == key]
            out.append(f"| {key[0] / 1000:g} | {key[1]:g} | {len(rs)} | {sum(1 for r in rs if r.get('disturbed'))} | "
                       f"{load_of(rs)} |")
        out.append("")

    rss = [r for r in rounds if r.get("standby_rss_kib")]
    if rss:
        table_head(out, "### Resident memory (RSS) at the faults\n",
                   "The standby host: everything it runs for this (A: the daemon and all below it, i.e. the parked JVM and "
                   "its fence guard in A-parked; B, C, D: the hot standby JobManager); `standby JVM` = its JobManager JVM "
                   "alone. The leader side: the leading JobManager.\n",
                   "| setup | samples | standby RSS median (MiB) | max | standby JVM median (MiB) | leader JobManager median (MiB) |")
        for s, sname in SETUPS:
            rs = [r for r in rss if r["setup"] == s]
            if not rs:
                continue
            sb = stats([r["standby_rss_kib"] / 1024 for r in rs])
            jv = stats([r["standby_jvm_rss_kib"] / 1024 for r in rs if r.get("standby_jvm_rss_kib")])
            ld = stats([r["leader_rss_kib"] / 1024 for r in rs if r.get("leader_rss_kib")])
            cell = lambda x, dg=0: f"{x['med']:.{dg}f}" if x else "-"
            out.append(f"| {sname} | {sb['n']} | {sb['med']:.1f} | {sb['max']:.1f} | {cell(jv)} | {cell(ld)} |")
        out.append("")

    fc = [r for r in rounds if r.get("failover_completed") and r["setup"].startswith("A") and r["fault"] in ("kill", "handover", "term")]
    if fc:
        table_head(out, "### The daemon's own overhead (from its `failover_completed` records)\n",
                   "`election` = the predecessor's election node gone (server clock) to this node elected; `start` = "
                   "elected to the JobManager's spawn or release (monotonic); overhead = the sum. `JM start` = spawn or "
                   "release to `/overview` 200 (`readiness_ms`). After a SIGKILL the node's gone time is estimated as last "
                   "write + session timeout, so `election` there also holds the server's expiry rounding (up to a tick).\n",
                   "| setup | fault | rounds | election median (ms) | start median | start p99 | overhead median | overhead p99 | JM start median (s) | detection median (s) |")
        for s, sname in SETUPS:
            for f, fname in FAULTS:
                rs = [r["failover_completed"] for r in fc if r["setup"] == s and r["fault"] == f]
                rs = [r for r in rs if all(isinstance(r.get(k), (int, float)) for k in
                                           ("election_ms", "start_ms", "readiness_ms", "detection_ms"))]
                if not rs:
                    continue
                el = stats([r["election_ms"] for r in rs])
                st = stats([r["start_ms"] for r in rs])
                ov = sorted(r["election_ms"] + r["start_ms"] for r in rs)
                rd = stats([r["readiness_ms"] / 1000 for r in rs])
                de = stats([r["detection_ms"] / 1000 for r in rs])
                out.append(f"| {sname} | {fname} | {len(rs)} | {el['med']:.0f} | {st['med']:.0f} | {pct(sorted(r['start_ms'] for r in rs), 99):.0f} | "
                           f"{pct(ov, 50):.0f} | {pct(ov, 99):.0f} | {rd['med']:.1f} | {de['med']:.1f} |")
        out.append("")

    cont = [r for r in recs if r.get("type") == "contenders"]
    if cont:
        table_head(out, "### Many contenders: one leader change\n",
                   "In-process contenders, each its own ZooKeeper session running the daemon's election adapter "
                   "(`election::Session`); the leader's session is closed; `known` = close request to the next "
                   "`Elected` event; notifications = the server's `mntr` watch-trigger counters over the change.\n",
                   "| contenders | changes | elected per change | watch notifications per change (max) | known min (ms) | median | p95 | max | all ok |")
        for n in sorted({r["contenders"] for r in cont}):
            rs = [r for r in cont if r["contenders"] == n]
            k = stats([r["new_leader_known_ms"] for r in rs])
            el = sorted({r["elected_events"] for r in rs})
            out.append(f"| {n} | {len(rs)} | {', '.join(map(str, el))} | {max(r['notifications'] for r in rs):g} | "
                       f"{k['min']:.1f} | {k['med']:.1f} | {k['p95']:.1f} | {k['max']:.1f} | {all(r['ok'] for r in rs)} |")
        out.append("")

    cold = [r for r in recs if r.get("type") == "coldstart"]
    if cold:
        table_head(out, "### JobManager cold start alone: script, direct launch, CDS archive (interleaved)\n",
                   "A plain (non-HA) JobManager started again and again, the variants taking turns in every round "
                   "(bench/coldstart.py); spawn to `/overview` 200. `plain` = `jobmanager.sh start-foreground`; `direct` = "
                   "the JVM command line read from `/proc/<pid>/cmdline` of a `plain` start, executed directly. The ratio "
                   "is the median of the per-round ratios to `plain`, so load changes between rounds cancel out.\n",
                   "| variant | starts | min (s) | median | p95 | max | median ratio to plain | load median (range) |")
        for v, rs, cells in interleaved_rows(cold, ["plain", "direct", "cds", "cds+c1"], "ready_s",
                                             lambda r: (r.get("run"), r["round"])):
            out.append(f"| {v} | {cells} | {load_of(rs)} |")
        out.append("")

    parked = [r for r in recs if r.get("type") == "parked-release"]
    if parked:
        table_head(out, "### A parked JobManager's release: CDS archive and class preload (interleaved)\n",
                   "The real JobManager parked at the gate (bench/parked_release.py), released by one byte; release to "
                   "`/overview` 200. `cds` = the archive of `make-cds-archive` in `JVM_ARGS`; `preload` = its class list "
                   "in `FLINK_HA_GATE_PRELOAD`, loaded by the gate while the JVM waits. The ratio is the median of the "
                   "per-round ratios to `plain`. SIGTERM = the released JobManager's exit after SIGTERM (no job).\n",
                   "| variant | starts | min (s) | median | p95 | max | median ratio to plain | SIGTERM to exit median (s) | load median (range) |")
        for v, rs, cells in interleaved_rows(parked, ["plain", "cds", "preload", "cds+preload"], "release_to_ready_s",
                                             lambda r: (r.get("ts_run"), r["round"])):
            term = stats([r["sigterm_to_exit_s"] for r in rs])
            out.append(f"| {v} | {cells} | {term['med']:.2f} | {load_of(rs)} |")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--update")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    recs = read_jsonl(args.results)
    text = render(recs)
    if args.check:
        kinds = {r.get("type") for r in recs}
        rounds = [r for r in recs if r.get("type") == "round"]
        bad = [r for r in rounds if not r.get("ok")]
        problems = []
        for kind in ("round", "contenders", "coldstart", "parked-release"):
            if kind not in kinds:
                problems.append(f"no `{kind}` records")
        problems += [f"failed round {r['setup']}/{r['fault']}: {r.get('error')}" for r in bad]
        problems += [f"contenders change {r['change']} not ok" for r in recs if r.get("type") == "contenders" and not r.get("ok")]
        print(text)
        for r in recs:
            if r.get("type") == "skipped":
                print(f"bench quick mode: skipped: {r.get('reason')}", file=sys.stderr)
        if problems:
            print("bench quick mode: FAILED: " + "; ".join(problems), file=sys.stderr)
            sys.exit(1)
        print("bench quick mode: ok", file=sys.stderr)
        return
    if args.update:
        doc = open(args.update).read()
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        i, j = doc.index(begin) + len(begin), doc.index(end)
        doc = doc[:i] + "\n" + text + "\n" + doc[j:]
        open(args.update, "w").write(doc)
    else:
        print(text)


if __name__ == "__main__":
    main()
