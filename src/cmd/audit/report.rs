//! The audit as text (a table, a summary, the overlaps) or as one JSON object.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Serialize, Serializer};

use super::input::DamagedLine;
use super::rebuild::{percentile, FailoverRow, History, Host, Overlap};
use super::record::{format_time, format_time_millis, printable, Micros};
use super::Audit;
use flink_ha_core::walltime::format_duration;

/// Serializes µs since the epoch as RFC 3339 UTC with microseconds.
pub(crate) fn ser_time<S: Serializer>(at: &Micros, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

fn ser_opt_time<S: Serializer>(at: &Option<Micros>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&format_time(*at)),
        None => serializer.serialize_none(),
    }
}

/// Outage statistics of the deduplicated failovers (nearest-rank percentiles), violations of
/// the budget, and overlaps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Summary {
    /// Failovers.
    pub count: usize,
    /// Median outage, ms.
    pub p50_ms: Option<u64>,
    /// 95th percentile outage, ms.
    pub p95_ms: Option<u64>,
    /// Longest outage, ms.
    pub max_ms: Option<u64>,
    /// The budget, ms.
    pub budget_ms: u64,
    /// Failovers over the budget.
    pub violations: usize,
    /// Overlaps of two hosts' JobManagers.
    pub overlaps: usize,
}

impl Summary {
    /// Summarizes a history against `budget`.
    pub(crate) fn of(history: &History, budget: Duration) -> Summary {
        let mut outages: Vec<u64> = history.failovers.iter().map(|f| f.figures.outage_ms).collect();
        outages.sort_unstable();
        Summary {
            count: outages.len(),
            p50_ms: percentile(&outages, 50.0),
            p95_ms: percentile(&outages, 95.0),
            max_ms: outages.last().copied(),
            budget_ms: u64::try_from(budget.as_millis()).unwrap_or(u64::MAX),
            violations: history.failovers.iter().filter(|f| !f.within_budget).count(),
            overlaps: history.overlaps.len(),
        }
    }
}

/// Milliseconds as seconds with three decimals (`14.500s`); `-` when unknown.
pub(crate) fn secs(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => format!("{}.{:03}s", ms / 1000, ms % 1000),
        None => "-".into(),
    }
}

/// Microseconds as seconds with three decimals, rounded to the nearest millisecond.
pub(crate) fn secs_us(us: i64) -> String {
    let ms = (us.max(0) as u64 + 500) / 1000;
    secs(Some(ms))
}

/// The text report: the failover table, the summary, the overlaps, and what was read.
pub(crate) fn text(audit: &Audit) -> String {
    let history = &audit.history;
    let s = &audit.summary;
    let mut out = String::new();
    if history.failovers.is_empty() {
        out.push_str("no failovers\n");
    } else {
        let header = ["time (outage start, UTC)", "from -> to", "cause", "outage"];
        let parts = ["detection", "election", "start", "readiness", "budget"];
        let mut rows: Vec<Vec<String>> = vec![header.iter().chain(parts.iter()).map(|h| h.to_string()).collect()];
        for f in &history.failovers {
            let x = &f.figures;
            rows.push(vec![
                format_time_millis(f.time()),
                format!("{} -> {}", printable(x.previous_node.as_deref().unwrap_or("?")), printable(&f.node)),
                printable(x.cause.as_deref().unwrap_or("?")).into_owned(),
                secs(Some(x.outage_ms)),
                secs(x.detection_ms),
                secs(x.election_ms),
                secs(x.start_ms),
                secs(x.readiness_ms),
                if f.within_budget { "ok".into() } else { "OVER".into() },
            ]);
        }
        table(&mut out, &rows, &[false, false, false, true, true, true, true, true, false]);
    }
    out.push('\n');
    let budget = format_duration(audit.budget);
    let plural = if s.count == 1 { "" } else { "s" };
    if s.count == 0 {
        let _ = writeln!(out, "0 failovers; budget {budget}");
    } else {
        let verdict = match s.violations {
            0 => format!("all within the {budget} budget"),
            n => format!("{n} over the {budget} budget"),
        };
        let _ = writeln!(
            out,
            "{} failover{plural}: outage p50 {}, p95 {}, max {}; {verdict}",
            s.count,
            secs(s.p50_ms),
            secs(s.p95_ms),
            secs(s.max_ms)
        );
    }
    if history.overlaps.is_empty() {
        out.push_str("no overlaps\n");
    } else {
        let n = history.overlaps.len();
        let _ = writeln!(
            out,
            "{n} overlap{} of two hosts' JobManagers (by the hosts' clocks, exact up to their skew):",
            if n == 1 { "" } else { "s" }
        );
        let rows: Vec<Vec<String>> = history
            .overlaps
            .iter()
            .map(|o| {
                vec![
                    format!("  {} & {}", printable(&o.nodes[0]), printable(&o.nodes[1])),
                    format!("{} .. {}", format_time_millis(o.start), format_time_millis(o.end)),
                    secs_us(o.length_us),
                    if o.inferred { "(end inferred)".into() } else { String::new() },
                ]
            })
            .collect();
        table(&mut out, &rows, &[false, false, true, false]);
    }
    damaged(&mut out, audit);
    let hosts: Vec<String> =
        history.hosts.iter().map(|h| format!("{} ({} records)", printable(&h.node), h.records)).collect();
    let _ = writeln!(out, "hosts: {}", hosts.join(", "));
    let t = &audit.tally;
    let mut read = format!("read {} lines: {} audit records", t.lines, t.audit);
    if history.duplicates > 0 {
        let _ = write!(read, " ({} duplicates ignored)", history.duplicates);
    }
    let _ = write!(read, "; skipped {} foreign", t.foreign);
    if t.damaged > 0 {
        let _ = write!(read, ", {} damaged", t.damaged);
    }
    let _ = write!(read, ", {} malformed", t.malformed);
    if t.unsupported_version > 0 {
        let _ = write!(read, ", {} of another schema version", t.unsupported_version);
    }
    let _ = writeln!(out, "{read}");
    out
}

/// Appends the damaged records, each with its file and line, when there are any.
fn damaged(out: &mut String, audit: &Audit) {
    let n = audit.tally.damaged;
    if n == 0 {
        return;
    }
    let plural = if n == 1 { "" } else { "s" };
    let verdict = if audit.tolerate_damaged {
        "tolerated (--tolerate-damaged): the verdict above is by the readable records only"
    } else {
        "they could hide a failover or an overlap, so the audit is inconclusive (exit 3 unless --tolerate-damaged)"
    };
    let _ = writeln!(out, "{n} damaged audit record{plural}; {verdict}:");
    let rows: Vec<Vec<String>> = audit
        .damaged
        .iter()
        .map(|d| {
            vec![
                format!("  {}:{}", printable(&d.source), d.line),
                d.event.unwrap_or("?").to_string(),
                printable(&d.problem).into_owned(),
            ]
        })
        .collect();
    table(out, &rows, &[false, false, false]);
    let named = audit.damaged.len() as u64;
    if n > named {
        let _ = writeln!(out, "  ... and {} more", n - named);
    }
}

/// Appends rows as aligned columns, two spaces apart; `right[i]` right-aligns column `i`.
fn table(out: &mut String, rows: &[Vec<String>], right: &[bool]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c] - cell.chars().count();
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

#[derive(Serialize)]
struct FailoverJson<'a> {
    #[serde(serialize_with = "ser_time")]
    time: Micros,
    node: &'a str,
    epoch: u64,
    previous_node: Option<&'a str>,
    previous_epoch: Option<u64>,
    cause: Option<&'a str>,
    outage_ms: u64,
    detection_ms: Option<u64>,
    election_ms: Option<u64>,
    start_ms: Option<u64>,
    readiness_ms: Option<u64>,
    error_bound_ms: Option<u64>,
    within_budget: bool,
    #[serde(serialize_with = "ser_opt_time")]
    outage_start: Option<Micros>,
    #[serde(serialize_with = "ser_opt_time")]
    ready_at: Option<Micros>,
    #[serde(serialize_with = "ser_time")]
    logged_at: Micros,
    logged_budget_ms: Option<u64>,
    logged_within_budget: Option<bool>,
}

impl<'a> From<&'a FailoverRow> for FailoverJson<'a> {
    fn from(f: &'a FailoverRow) -> Self {
        let x = &f.figures;
        FailoverJson {
            time: f.time(),
            node: &f.node,
            epoch: f.epoch,
            previous_node: x.previous_node.as_deref(),
            previous_epoch: x.previous_epoch,
            cause: x.cause.as_deref(),
            outage_ms: x.outage_ms,
            detection_ms: x.detection_ms,
            election_ms: x.election_ms,
            start_ms: x.start_ms,
            readiness_ms: x.readiness_ms,
            error_bound_ms: x.error_bound_ms,
            within_budget: f.within_budget,
            outage_start: x.outage_start,
            ready_at: x.ready_at,
            logged_at: f.logged_at,
            logged_budget_ms: x.budget_ms,
            logged_within_budget: x.within_budget,
        }
    }
}

#[derive(Serialize)]
struct OverlapJson<'a> {
    #[serde(flatten)]
    overlap: &'a Overlap,
    length_ms: f64,
}

#[derive(Serialize)]
struct SkippedJson {
    damaged: u64,
    malformed: u64,
    foreign: u64,
    unsupported_version: u64,
}

#[derive(Serialize)]
struct InputJson {
    lines: u64,
    audit_records: u64,
    duplicate_records: usize,
}

#[derive(Serialize)]
struct ReportJson<'a> {
    ok: bool,
    failovers: Vec<FailoverJson<'a>>,
    summary: &'a Summary,
    overlaps: Vec<OverlapJson<'a>>,
    hosts: &'a [Host],
    damaged: &'a [DamagedLine],
    tolerate_damaged: bool,
    skipped_lines: SkippedJson,
    input: InputJson,
}

/// The JSON report: one pretty-printed object, times as RFC 3339 UTC with microseconds,
/// durations in ms.
pub(crate) fn json(audit: &Audit) -> String {
    let t = &audit.tally;
    let report = ReportJson {
        ok: audit.exit_code() == super::EXIT_OK,
        failovers: audit.history.failovers.iter().map(FailoverJson::from).collect(),
        summary: &audit.summary,
        overlaps: audit
            .history
            .overlaps
            .iter()
            .map(|overlap| OverlapJson { overlap, length_ms: overlap.length_us as f64 / 1000.0 })
            .collect(),
        hosts: &audit.history.hosts,
        damaged: &audit.damaged,
        tolerate_damaged: audit.tolerate_damaged,
        skipped_lines: SkippedJson {
            damaged: t.damaged,
            malformed: t.malformed,
            foreign: t.foreign,
            unsupported_version: t.unsupported_version,
        },
        input: InputJson { lines: t.lines, audit_records: t.audit, duplicate_records: audit.history.duplicates },
    };
    let mut text = serde_json::to_string_pretty(&report).expect("the report serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_seconds_with_milliseconds() {
        assert_eq!(secs(Some(14_500)), "14.500s");
        assert_eq!(secs(Some(7)), "0.007s");
        assert_eq!(secs(None), "-");
        assert_eq!(secs_us(1_999_600), "2.000s");
        assert_eq!(secs_us(1_499), "0.001s");
    }

    #[test]
    fn tables_align_columns() {
        let mut out = String::new();
        let rows = vec![vec!["a".to_string(), "1".into()], vec!["bbb".into(), "22".into()]];
        table(&mut out, &rows, &[false, true]);
        assert_eq!(out, "a     1\nbbb  22\n");
    }
}
