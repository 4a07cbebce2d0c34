#!/usr/bin/env python3
"""Renders the benchmark results (JSON lines from bench/failover.py, bench/coldstart.py and the
`contenders` binary) as Markdown tables. With --update FILE it replaces the part of FILE between
`<!-- bench:begin -->` and `<!-- bench:end -->`; with --check it only verifies that every part
produced at least one usable record (the CI quick mode). Standard library only."""

import argparse
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from jsonl import read_jsonl  # noqa: E402 (scripts/jsonl.py)

SETUPS = [("A", "A: this daemon (cold start)"), ("A+cds", "A+cds: this daemon, CDS archive"),
          ("B", "B: Flink ZK HA, defaults"), ("C", "C: Flink ZK HA, A's session timeout")]
QUIET_LOAD = 8.0
FAULTS = [("kill", "SIGKILL leader host"), ("term", "SIGTERM"), ("pause", "SIGSTOP/SIGCONT JM")]


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


def fmt(st, unit="s", digits=1):
    if not st:
        return "-", "-", "-", "-"
    f = (lambda x: f"{x:.{digits}f}")
    return f(st["min"]), f(st["med"]), f(st["p95"]), f(st["max"])


def ratio(a, b):
    if not a or not b or not b["med"]:
        return "-"
    return f"{a['med'] / b['med']:.2f}"


def load_of(rs):
    """The 1-minute load average at the faults of these rounds: median (min-max)."""
    ls = sorted(r["loadavg_before"][0] for r in rs if r.get("loadavg_before"))
    return f"{pct(ls, 50):.1f} ({ls[0]:.1f}-{ls[-1]:.1f})" if ls else "-"


def render(recs):
    rounds = [r for r in recs if r.get("type") == "round" and r.get("ok")]
    failed = [r for r in recs if r.get("type") == "round" and not r.get("ok")]
    out = []
    by = {}
    for r in rounds:
        by.setdefault((r["setup"], r["fault"]), []).append(r)
    loads = [x for r in rounds for x in (r.get("loadavg_before") or [])[:1]]
    if rounds:
        first, last = min(r["ts"] for r in rounds), max(r["ts"] for r in rounds)
        import datetime as dt
        span = f"{dt.datetime.utcfromtimestamp(first):%Y-%m-%d %H:%M}–{dt.datetime.utcfromtimestamp(last):%H:%M} UTC"
        ls = sorted(loads)
        out.append(f"Run: {len(rounds)} rounds ({len(failed)} failed and retried), {span}; 1-minute load average "
                   f"at the faults: min {ls[0]:.1f}, median {pct(ls, 50):.1f}, max {ls[-1]:.1f} (2 cores).\n")

    table_head(out, "### Failover: time from the fault to the new leader's `/overview` 200 and to the job RUNNING again\n",
               "Seconds. `RUNNING` = the job listed RUNNING with every task running on the serving JobManager.\n",
               "| setup | fault | rounds | /overview 200 min | median | p95 | max | job RUNNING min | median | p95 | max | load median (range) |")
    table = {}
    for s, sname in SETUPS:
        for f, fname in FAULTS:
            rs = by.get((s, f))
            if not rs or f == "pause":
                continue
            ov, run = stats([r["overview_s"] for r in rs]), stats([r["running_s"] for r in rs])
            table[(s, f)] = (ov, run)
            out.append(f"| {sname} | {fname} | {len(rs)} | " + " | ".join(fmt(ov)) + " | " + " | ".join(fmt(run)) + f" | {load_of(rs)} |")
    out.append("")
    out.append("### Ratios of the medians (same run)\n")
    out.append("| fault | A/B /overview | A/B RUNNING | A/C /overview | A/C RUNNING | A+cds/A RUNNING |")
    out.append("|---|---|---|---|---|---|")
    for f, fname in FAULTS:
        if f == "pause":
            continue
        a, b, c, acds = (table.get((s, f), (None, None)) for s in ("A", "B", "C", "A+cds"))
        out.append(f"| {fname} | {ratio(a[0], b[0])} | {ratio(a[1], b[1])} | {ratio(a[0], c[0])} | {ratio(a[1], c[1])} | "
                   f"{ratio(acds[1], a[1])} |")
    out.append("")
    # The same ratios from the quieter rounds only: the machine was shared, and a cold start
    # suffers from load far more than a hot standby's takeover.
    quiet = {k: [r for r in v if r.get("loadavg_before") and r["loadavg_before"][0] < QUIET_LOAD] for k, v in by.items()}
    out.append(f"Medians and ratios from the quieter rounds only (1-minute load average below {QUIET_LOAD:g} at the fault; "
               "rounds in brackets):\n")
    out.append("| fault | A RUNNING | A+cds RUNNING | B RUNNING | C RUNNING | A/B | A/C | A+cds/A |")
    out.append("|---|---|---|---|---|---|---|---|")
    for f, fname in FAULTS:
        if f == "pause":
            continue
        st = {s: stats([r["running_s"] for r in quiet.get((s, f), [])]) for s in ("A", "A+cds", "B", "C")}
        cell = lambda x: f"{x['med']:.1f} ({x['n']})" if x else "-"
        out.append(f"| {fname} | {cell(st['A'])} | {cell(st['A+cds'])} | {cell(st['B'])} | {cell(st['C'])} | "
                   f"{ratio(st['A'], st['B'])} | {ratio(st['A'], st['C'])} | {ratio(st['A+cds'], st['A'])} |")
    out.append("")

    pauses = {s: by.get((s, "pause"), []) for s, _ in SETUPS}
    if any(pauses.values()):
        ps = sorted({r.get("pause_s") for rs in pauses.values() for r in rs})
        out.append(f"### A {'/'.join(f'{p:g}' for p in ps)} s pause of the leader's JobManager (SIGSTOP, then SIGCONT)\n")
        out.append("`REST back` = t0 to the first `/overview` 200 of a leading JobManager; `RUNNING` = t0 to the job "
                   "RUNNING again, stable for 3 s, at least 8 s after the SIGCONT (median, max).\n")
        out.append("| setup | rounds | leader changed | JobManager restarted by the daemon | job restarted | REST back median | max | RUNNING median | max | load median (range) |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for s, sname in SETUPS:
            rs = pauses[s]
            if not rs:
                continue
            ov, run = stats([r["overview_s"] for r in rs]), stats([r["running_s"] for r in rs])
            lc = sum(1 for r in rs if r.get("leader_changed"))
            jr = sum(1 for r in rs if r.get("job_restarted"))
            sp = (f"{sum(1 for r in rs if r.get('jm_spawns'))} of {len(rs)}" if s.startswith("A") else "n/a")
            out.append(f"| {sname} | {len(rs)} | {lc} of {len(rs)} | {sp} | {jr} of {len(rs)} | {ov['med']:.1f} | {ov['max']:.1f} | "
                       f"{run['med']:.1f} | {run['max']:.1f} | {load_of(rs)} |")
        out.append("")

    rss = [r for r in recs if r.get("type") == "round" and r.get("ok") and r.get("standby_rss_kib")]
    if rss:
        table_head(out, "### Resident memory (RSS) at the faults\n",
                   "The standby side: the standby daemon (A, nothing else runs there) against the hot standby "
                   "JobManager (B, C). The leader side: the leading JobManager (A also runs its daemon, ~8 MiB, and, "
                   "while leading, its fence guard).\n",
                   "| setup | samples | standby RSS median (MiB) | max | leader JobManager RSS median (MiB) |")
        for s, sname in SETUPS:
            rs = [r for r in rss if r["setup"] == s]
            if not rs:
                continue
            sb = stats([r["standby_rss_kib"] / 1024 for r in rs])
            ld = stats([r["leader_rss_kib"] / 1024 for r in rs if r.get("leader_rss_kib")])
            out.append(f"| {sname} | {sb['n']} | {sb['med']:.1f} | {sb['max']:.1f} | {ld['med']:.0f} |" if ld else
                       f"| {sname} | {sb['n']} | {sb['med']:.1f} | {sb['max']:.1f} | - |")
        out.append("")

    fc = [r for r in rounds if r.get("failover_completed") and r["setup"] in ("A", "A+cds") and r["fault"] in ("kill", "term")]
    if fc:
        table_head(out, "### The daemon's own overhead (from its `failover_completed` records)\n",
                   "`election` = the predecessor's election node gone (server clock) to this node elected (its first "
                   "write; includes the watch notification and the recipe); `start` = elected to the JobManager's spawn "
                   "(monotonic; includes rendering Flink's configuration); overhead = the sum. `JM start` = spawn to "
                   "`/overview` 200 (`readiness_ms`). After a SIGKILL the node's gone time is estimated as last write + "
                   "session timeout, so `election` there also holds the server's expiry rounding (up to a tick, 2 s).\n",
                   "| setup | fault | rounds | election median (ms) | start median | start p99 | overhead median | overhead p99 | JM start median (s) | detection median (s) |")
        for s, sname in SETUPS:
            for f, fname in FAULTS:
                rs = [r["failover_completed"] for r in fc if r["setup"] == s and r["fault"] == f]
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

    cold = [r for r in rounds if r["setup"] in ("A", "A+cds") and r["fault"] in ("kill", "term") and r.get("jm_startup_ms")]
    if cold:
        table_head(out, "### JobManager cold start during the failovers, with and without the CDS archive\n",
                   "The new leader's JobManager from spawn to `/overview` 200 (the daemon's `jobmanager_ready.startup_ms`), "
                   "in the SIGKILL and SIGTERM rounds above. `archive used` = rounds whose `java` had "
                   "`-XX:SharedArchiveFile` on its command line.\n",
                   "| setup | starts | archive used | min (s) | median | p95 | max | load median (range) |")
        for s, sname in SETUPS:
            rs = [r for r in cold if r["setup"] == s]
            if not rs:
                continue
            st = stats([r["jm_startup_ms"] / 1000 for r in rs])
            used = sum(1 for r in rs if r.get("jm_uses_cds_archive"))
            out.append(f"| {sname} | {st['n']} | {used} | " + " | ".join(fmt(st, digits=2)) + f" | {load_of(rs)} |")
        out.append("")
    cold = [r for r in recs if r.get("type") == "coldstart"]
    if cold:
        table_head(out, "### JobManager cold start alone, with and without the CDS archive (interleaved)\n",
                   "A plain (non-HA) JobManager started again and again, the variants taking turns in every round "
                   "(bench/coldstart.py); spawn of `jobmanager.sh start-foreground` to `/overview` 200. "
                   "`mapped` = starts whose JVM mapped the archive (`/proc/<pid>/maps`). The ratio is the median of "
                   "the per-round ratios to `plain`, so load changes between rounds cancel out.\n",
                   "| variant | starts | mapped | min (s) | median | p95 | max | median ratio to plain | load median (range) |")
        key = lambda r: (r.get("run"), r["round"])
        plain = {key(r): r["ready_s"] for r in cold if r["variant"] == "plain"}
        for v in ["plain", "cds", "cds+c1"]:
            rs = [r for r in cold if r["variant"] == v]
            if not rs:
                continue
            st = stats([r["ready_s"] for r in rs])
            ratios = sorted(r["ready_s"] / plain[key(r)] for r in rs if key(r) in plain)
            rt = f"{pct(ratios, 50):.2f}" if ratios else "-"
            mapped = sum(1 for r in rs if r.get("archive_mapped"))
            out.append(f"| {v} | {st['n']} | {mapped} | " + " | ".join(fmt(st, digits=2)) + f" | {rt} | {load_of(rs)} |")
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
        for kind in ("round", "contenders", "coldstart"):
            if kind not in kinds:
                problems.append(f"no `{kind}` records")
        problems += [f"failed round {r['setup']}/{r['fault']}: {r.get('error')}" for r in bad]
        problems += [f"contenders change {r['change']} not ok" for r in recs if r.get("type") == "contenders" and not r.get("ok")]
        print(text)
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
