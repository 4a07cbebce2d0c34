//! Rebuilding history from audit records: each host's leadership and JobManager-running
//! intervals, every failover, and every overlap of two hosts' JobManagers (split brain). The
//! rules are those of docs/audit-events.md, "Rebuild rules".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::record::{add_ms, AuditEvent, AuditRecord, FailoverFigures, Micros};

/// One interval of a host: leadership or JobManager running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Interval {
    /// The leadership term (the `elected` epoch, or the `jobmanager_spawned` record's epoch).
    pub epoch: Option<u64>,
    /// Start, host clock, µs since the epoch.
    #[serde(serialize_with = "super::report::ser_time")]
    pub start: Micros,
    /// End, host clock (or the server clock when taken from a failover), µs since the epoch.
    #[serde(serialize_with = "super::report::ser_time")]
    pub end: Micros,
    /// The end was not logged but inferred (see `ended_by`).
    pub end_inferred: bool,
    /// What ended it: an event name (`jobmanager_stopped:Shutdown` with its reason), or for an
    /// inferred end `failover` (a later failover's outage start), `last_record` (the node's last
    /// record before a restart or the end of its log).
    pub ended_by: String,
}

/// Everything known of one host (node id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Host {
    /// The node id.
    pub node: String,
    /// Its audit records (after removing duplicates).
    pub records: usize,
    /// Its first record's time.
    #[serde(serialize_with = "super::report::ser_time")]
    pub first_record: Micros,
    /// Its last record's time.
    #[serde(serialize_with = "super::report::ser_time")]
    pub last_record: Micros,
    /// When it led.
    pub leadership: Vec<Interval>,
    /// When its JobManager ran.
    pub jobmanager: Vec<Interval>,
}

/// One failover, from a `failover_completed` record (or a `budget_exceeded` one whose
/// `failover_completed` is missing), judged against the audit's budget.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FailoverRow {
    /// The new leader (the record's node).
    pub node: String,
    /// The new term (the record's `epoch`).
    pub epoch: u64,
    /// When it was logged, new leader's clock.
    pub logged_at: Micros,
    /// The record's figures.
    pub figures: FailoverFigures,
    /// `outage_ms <= budget`, with the audit's budget.
    pub within_budget: bool,
}

impl FailoverRow {
    /// When the failover began: its outage start (server clock), else when it was logged.
    pub(crate) fn time(&self) -> Micros {
        self.figures.outage_start.unwrap_or(self.logged_at)
    }
}

/// Two hosts' JobManagers running at the same time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Overlap {
    /// The two hosts, in order of their intervals' starts (then by name).
    pub nodes: [String; 2],
    /// Start of the overlap.
    #[serde(serialize_with = "super::report::ser_time")]
    pub start: Micros,
    /// End of the overlap.
    #[serde(serialize_with = "super::report::ser_time")]
    pub end: Micros,
    /// Its length, µs.
    #[serde(skip)]
    pub length_us: i64,
    /// The overlap's end comes from an inferred interval end.
    pub inferred: bool,
}

/// The rebuilt history.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct History {
    /// Hosts by node id.
    pub hosts: Vec<Host>,
    /// Failovers in time order.
    pub failovers: Vec<FailoverRow>,
    /// Overlaps in time order.
    pub overlaps: Vec<Overlap>,
    /// Exact duplicate records removed (the same log given twice).
    pub duplicates: usize,
}

/// Sorts records by time (stable; ties by node, then input order) and removes exact duplicates.
/// Returns the number removed.
pub(crate) fn sort_and_dedupe(records: &mut Vec<AuditRecord>) -> usize {
    records.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.node.cmp(&b.node)));
    let before = records.len();
    // Duplicates share time and node: only one such group is held in a set at a time, so a
    // log of many records with one timestamp costs linear time, not quadratic.
    let mut group: HashSet<AuditRecord> = HashSet::new();
    let mut kept: Vec<AuditRecord> = Vec::with_capacity(records.len());
    for record in records.drain(..) {
        if kept.last().is_some_and(|last| last.at != record.at || last.node != record.node) {
            group.clear();
        }
        if group.insert(record.clone()) {
            kept.push(record);
        }
    }
    *records = kept;
    before - records.len()
}

/// Rebuilds the history from audit records in any order. `budget` judges each failover.
pub(crate) fn rebuild(mut records: Vec<AuditRecord>, budget: Duration) -> History {
    let duplicates = sort_and_dedupe(&mut records);
    let failovers = failovers(&records, budget);

    let mut by_node: BTreeMap<&str, Vec<&AuditRecord>> = BTreeMap::new();
    for record in &records {
        by_node.entry(record.node.as_str()).or_default().push(record);
    }
    let hosts: Vec<Host> = by_node
        .into_iter()
        .map(|(node, records)| Host {
            node: node.to_string(),
            records: records.len(),
            first_record: records[0].at,
            last_record: records[records.len() - 1].at,
            leadership: leadership(&records, &failovers),
            jobmanager: jobmanager(&records, &failovers),
        })
        .collect();
    let overlaps = overlaps(&hosts);
    History { hosts, failovers, overlaps, duplicates }
}

/// Failovers from `failover_completed` records, one per epoch (the first logged wins; a
/// `budget_exceeded` record stands in only when its epoch has no `failover_completed`).
fn failovers(records: &[AuditRecord], budget: Duration) -> Vec<FailoverRow> {
    let budget_ms = budget.as_millis().min(u64::MAX as u128) as u64;
    let mut by_epoch: HashMap<u64, (bool, FailoverRow)> = HashMap::new();
    for record in records {
        let (completed, figures) = match &record.event {
            AuditEvent::FailoverCompleted(f) => (true, f),
            AuditEvent::BudgetExceeded(f) => (false, f),
            _ => continue,
        };
        // Every record read has it; a failover without its term cannot be placed.
        let Some(epoch) = figures.epoch else { continue };
        let row = FailoverRow {
            node: record.node.clone(),
            epoch,
            logged_at: record.at,
            figures: figures.clone(),
            within_budget: figures.outage_ms <= budget_ms,
        };
        match by_epoch.get(&epoch) {
            Some((true, _)) => {}
            Some((false, _)) if !completed => {}
            _ => {
                by_epoch.insert(epoch, (completed, row));
            }
        }
    }
    let mut rows: Vec<FailoverRow> = by_epoch.into_values().map(|(_, row)| row).collect();
    rows.sort_by(|a, b| a.time().cmp(&b.time()).then(a.logged_at.cmp(&b.logged_at)).then(a.epoch.cmp(&b.epoch)));
    rows
}

/// An interval whose end was not logged: it lasted at most until `bound` (the record that showed
/// it was over: a restart, a new election or spawn) or the end of the log. A failover that
/// replaced this node in a later term gives the end; otherwise the node's last record before
/// `bound` does.
struct Open {
    epoch: Option<u64>,
    start: Micros,
}

/// Which instant of a replacing failover ends an interval.
#[derive(Clone, Copy)]
enum Kind {
    /// Leadership: the previous leader's election node was gone (outage start + detection).
    Leadership,
    /// JobManager: the previous leader was last seen serving (outage start).
    JobManager,
}

fn close_inferred(
    open: Open,
    node: &str,
    last_before: Micros,
    bound: Option<Micros>,
    failovers: &[FailoverRow],
    kind: Kind,
) -> Interval {
    let replaced_at = failovers
        .iter()
        .filter(|f| f.figures.previous_node.as_deref() == Some(node) && f.logged_at >= open.start)
        .filter(|f| match open.epoch {
            Some(ours) => f.epoch > ours && f.figures.previous_epoch.is_none_or(|previous| previous == ours),
            None => true,
        })
        .filter_map(|f| {
            let start = f.figures.outage_start?;
            Some(match kind {
                Kind::JobManager => start,
                Kind::Leadership => add_ms(start, f.figures.detection_ms.unwrap_or(0)),
            })
        })
        .find(|&at| bound.is_none_or(|bound| at <= bound));
    let (end, ended_by) = match replaced_at {
        Some(at) => (at, "failover"),
        None => (last_before, "last_record"),
    };
    Interval {
        epoch: open.epoch,
        start: open.start,
        end: end.max(open.start),
        end_inferred: true,
        ended_by: ended_by.into(),
    }
}

fn close_logged(open: Open, record: &AuditRecord) -> Interval {
    let ended_by = match &record.event {
        AuditEvent::JobManagerStopped { reason: Some(reason), .. } => format!("{}:{reason}", record.name),
        _ => record.name.clone(),
    };
    Interval { epoch: open.epoch, start: open.start, end: record.at, end_inferred: false, ended_by }
}

/// What a record means for an interval being rebuilt.
enum Step {
    /// An interval begins (of the term given, if known); an open one ended unlogged before it.
    Open(Option<u64>),
    /// The daemon started anew: an open interval ended unlogged before it.
    Restart,
    /// The open interval ends here, as logged.
    Close,
}

/// Leadership intervals of one node's records (in time order).
pub(crate) fn leadership(records: &[&AuditRecord], failovers: &[FailoverRow]) -> Vec<Interval> {
    intervals(records, failovers, Kind::Leadership, |record| match &record.event {
        AuditEvent::Elected { epoch } => Some(Step::Open(Some(*epoch))),
        AuditEvent::Joined { .. } => Some(Step::Restart),
        AuditEvent::Resigned { .. } | AuditEvent::LeadershipLost | AuditEvent::SessionExpired | AuditEvent::Exited => {
            Some(Step::Close)
        }
        _ => None,
    })
}

/// JobManager-running intervals of one node's records (in time order).
pub(crate) fn jobmanager(records: &[&AuditRecord], failovers: &[FailoverRow]) -> Vec<Interval> {
    intervals(records, failovers, Kind::JobManager, |record| match &record.event {
        AuditEvent::JobManagerSpawned { .. } => Some(Step::Open(record.epoch)),
        AuditEvent::Joined { .. } => Some(Step::Restart),
        AuditEvent::JobManagerExited { .. } | AuditEvent::JobManagerStopped { .. } => Some(Step::Close),
        _ => None,
    })
}

/// The intervals of one `kind` in one node's records (in time order), as `step` reads them: an
/// interval left open by a record that opens another (or by the end of the log) ends, inferred,
/// after the last record before it.
fn intervals(
    records: &[&AuditRecord],
    failovers: &[FailoverRow],
    kind: Kind,
    step: impl Fn(&AuditRecord) -> Option<Step>,
) -> Vec<Interval> {
    let mut intervals = Vec::new();
    let mut open: Option<Open> = None;
    let mut previous_at = None;
    for record in records {
        match step(record) {
            Some(begun @ (Step::Open(_) | Step::Restart)) => {
                if let Some(open) = open.take() {
                    let last = previous_at.unwrap_or(open.start);
                    intervals.push(close_inferred(open, &record.node, last, Some(record.at), failovers, kind));
                }
                if let Step::Open(epoch) = begun {
                    open = Some(Open { epoch, start: record.at });
                }
            }
            Some(Step::Close) => {
                if let Some(open) = open.take() {
                    intervals.push(close_logged(open, record));
                }
            }
            None => {}
        }
        previous_at = Some(record.at);
    }
    if let (Some(open), Some(last)) = (open, previous_at) {
        intervals.push(close_inferred(open, &records[0].node, last, None, failovers, kind));
    }
    intervals
}

/// Every pair of two hosts' JobManager intervals that intersect for more than 0 µs.
pub(crate) fn overlaps(hosts: &[Host]) -> Vec<Overlap> {
    let mut all: Vec<(&str, &Interval)> =
        hosts.iter().flat_map(|h| h.jobmanager.iter().map(move |i| (h.node.as_str(), i))).collect();
    all.sort_by(|a, b| a.1.start.cmp(&b.1.start).then(a.0.cmp(b.0)));
    let mut found = Vec::new();
    for (i, (node_a, a)) in all.iter().enumerate() {
        for (node_b, b) in &all[i + 1..] {
            if b.start >= a.end {
                break;
            }
            if node_a == node_b {
                continue;
            }
            let (start, end) = (b.start, a.end.min(b.end));
            if end > start {
                let inferred = if a.end <= b.end { a.end_inferred } else { b.end_inferred };
                found.push(Overlap {
                    nodes: [node_a.to_string(), node_b.to_string()],
                    start,
                    end,
                    length_us: end.saturating_sub(start),
                    inferred,
                });
            }
        }
    }
    found.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
    found
}

pub(crate) use flink_ha_core::failover::percentile;

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;
    const T0: i64 = 1_800_000_000 * S;

    fn rec(at_s: f64, node: &str, epoch: Option<u64>, event: AuditEvent) -> AuditRecord {
        AuditRecord {
            at: T0 + (at_s * S as f64) as i64,
            level: "INFO".into(),
            node: node.into(),
            epoch,
            name: event.name().into(),
            event,
        }
    }

    fn joined() -> AuditEvent {
        AuditEvent::Joined { path: None, quorum: None }
    }
    fn spawned() -> AuditEvent {
        AuditEvent::JobManagerSpawned { pid: Some(1), attempt: Some(1) }
    }
    fn stopped(reason: &str) -> AuditEvent {
        AuditEvent::JobManagerStopped { reason: Some(reason.into()), code: Some(0) }
    }
    fn failover(epoch: u64, previous: &str, previous_epoch: u64, outage_start_s: f64, outage_ms: u64) -> AuditEvent {
        AuditEvent::FailoverCompleted(FailoverFigures {
            epoch: Some(epoch),
            previous_node: Some(previous.into()),
            previous_epoch: Some(previous_epoch),
            cause: Some("leader_lost".into()),
            outage_ms,
            detection_ms: Some(10_000),
            election_ms: Some(100),
            start_ms: Some(10),
            readiness_ms: Some(4000),
            error_bound_ms: Some(1050),
            budget_ms: Some(30_000),
            within_budget: Some(outage_ms <= 30_000),
            outage_start: Some(T0 + (outage_start_s * S as f64) as i64),
            ready_at: Some(T0 + (outage_start_s * S as f64) as i64 + outage_ms as i64 * 1000),
            failovers_total: None,
        })
    }

    fn at(s: f64) -> Micros {
        T0 + (s * S as f64) as i64
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        assert_eq!(percentile::<u64>(&[], 50.0), None);
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[7], 95.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 50.0), Some(3));
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95.0), Some(10));
        let twenty: Vec<u32> = (1..=20).collect();
        assert_eq!(percentile(&twenty, 95.0), Some(19));
        assert_eq!(percentile(&twenty, 100.0), Some(20));
        assert_eq!(percentile(&twenty, 0.0), Some(1));
    }

    #[test]
    fn a_logged_stop_ends_the_intervals_exactly() {
        let records = [
            rec(0.0, "a", None, joined()),
            rec(1.0, "a", Some(1), AuditEvent::Elected { epoch: 1 }),
            rec(1.1, "a", Some(1), spawned()),
            rec(9.0, "a", Some(1), stopped("Shutdown")),
            rec(9.5, "a", None, AuditEvent::Exited),
        ];
        let refs: Vec<&AuditRecord> = records.iter().collect();
        let lead = leadership(&refs, &[]);
        assert_eq!(lead.len(), 1);
        assert_eq!((lead[0].start, lead[0].end, lead[0].end_inferred), (at(1.0), at(9.5), false));
        assert_eq!(lead[0].ended_by, "exited");
        let jm = jobmanager(&refs, &[]);
        assert_eq!((jm[0].start, jm[0].end, jm[0].end_inferred), (at(1.1), at(9.0), false));
        assert_eq!(jm[0].ended_by, "jobmanager_stopped:Shutdown");
    }

    #[test]
    fn a_killed_leader_ends_at_the_failover_that_replaced_it() {
        let records = vec![
            rec(0.0, "a", Some(1), AuditEvent::Elected { epoch: 1 }),
            rec(0.1, "a", Some(1), spawned()),
            rec(4.0, "a", Some(1), AuditEvent::JobManagerReady { startup_ms: Some(3900) }),
            rec(5.0, "b", None, joined()),
            rec(75.0, "b", Some(2), AuditEvent::Elected { epoch: 2 }),
            rec(75.1, "b", Some(2), spawned()),
            rec(79.0, "b", Some(2), failover(2, "a", 1, 64.5, 14_500)),
        ];
        let history = rebuild(records, Duration::from_secs(30));
        let a = &history.hosts[0];
        assert_eq!(a.node, "a");
        assert_eq!((a.jobmanager[0].end, a.jobmanager[0].end_inferred), (at(64.5), true));
        assert_eq!(a.jobmanager[0].ended_by, "failover");
        assert_eq!(a.leadership[0].end, at(74.5), "outage start + detection: when its node was gone");
        let b = &history.hosts[1];
        assert_eq!((b.jobmanager[0].end, b.jobmanager[0].ended_by.as_str()), (at(79.0), "last_record"));
        assert!(history.overlaps.is_empty());
        assert_eq!(history.failovers.len(), 1);
        assert!(history.failovers[0].within_budget);
    }

    #[test]
    fn without_a_failover_an_interval_ends_at_the_last_record_before_a_restart() {
        let records = [
            rec(0.0, "a", Some(1), AuditEvent::Elected { epoch: 1 }),
            rec(0.1, "a", Some(1), spawned()),
            rec(4.0, "a", Some(1), AuditEvent::JobManagerReady { startup_ms: Some(3900) }),
            rec(50.0, "a", None, joined()),
            rec(51.0, "a", Some(3), AuditEvent::Elected { epoch: 3 }),
        ];
        let refs: Vec<&AuditRecord> = records.iter().collect();
        let jm = jobmanager(&refs, &[]);
        assert_eq!(jm.len(), 1);
        assert_eq!((jm[0].end, jm[0].end_inferred, jm[0].ended_by.as_str()), (at(4.0), true, "last_record"));
        let lead = leadership(&refs, &[]);
        assert_eq!(lead.len(), 2);
        assert_eq!((lead[0].end, lead[0].end_inferred), (at(4.0), true));
        assert_eq!((lead[1].start, lead[1].end, lead[1].epoch), (at(51.0), at(51.0), Some(3)));
    }

    #[test]
    fn overlaps_are_measured_between_different_hosts_only() {
        let records = vec![
            rec(0.0, "a", Some(1), spawned()),
            rec(10.0, "a", Some(1), stopped("LeadershipLost")),
            rec(8.0, "b", Some(2), spawned()),
            rec(8.5, "b", Some(2), AuditEvent::JobManagerExited { code: Some(1) }),
            rec(9.0, "b", Some(2), spawned()),
            rec(20.0, "b", Some(2), stopped("Shutdown")),
            rec(30.0, "a", Some(3), spawned()),
            rec(40.0, "a", Some(3), stopped("Shutdown")),
        ];
        let history = rebuild(records, Duration::from_secs(30));
        let lengths: Vec<(i64, i64)> = history.overlaps.iter().map(|o| (o.start - T0, o.length_us)).collect();
        assert_eq!(lengths, vec![(8 * S, S / 2), (9 * S, S)]);
        assert_eq!(history.overlaps[0].nodes, ["a".to_string(), "b".to_string()]);
    }

    #[test]
    fn duplicates_are_removed_and_failovers_deduped_by_epoch() {
        let one = vec![
            rec(0.0, "b", Some(2), AuditEvent::Elected { epoch: 2 }),
            rec(0.0, "b", Some(2), spawned()),
            rec(5.0, "b", Some(2), failover(2, "a", 1, -10.0, 15_000)),
        ];
        let mut twice = one.clone();
        twice.extend(one.clone());
        let mut over = one[2].clone();
        over.event = match over.event {
            AuditEvent::FailoverCompleted(f) => AuditEvent::BudgetExceeded(f),
            other => other,
        };
        twice.insert(0, over);
        let history = rebuild(twice, Duration::from_secs(10));
        assert_eq!(history.duplicates, 3);
        assert_eq!(history.hosts[0].records, 4);
        assert_eq!(history.failovers.len(), 1);
        assert!(!history.failovers[0].within_budget, "re-judged against 10 s");
        assert_eq!(history.hosts[0].jobmanager.len(), 1);
    }
}
