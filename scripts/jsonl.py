"""Reads JSON-lines logs (the daemons' logs, the benchmarks' results) leniently: lines that are
not JSON objects are skipped, a missing or unreadable file reads as empty. Shared by
scripts/demo.py, bench/failover.py and bench/report.py. Standard library only."""

import json


def read_jsonl(path):
    """Every JSON object of the file at `path`, one per line, in order."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return out
