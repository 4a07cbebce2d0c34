//! Measuring failovers against the budget, without IO.
//!
//! The leader keeps a *leader record* beside the election path (`<election.path>-record`, a
//! persistent node). Its data says who leads, in which epoch, and in which state; the server's
//! `mtime` of each write says *when*, on the ZooKeeper server's clock, which every host can read
//! and compare. A serving leader rewrites it every [`REFRESH_INTERVAL`], so after a crash its
//! `mtime` tells the last moment the old leader was seen serving. A leader that stops on purpose
//! writes `stopping` first and `released` just before it leaves the election.
//!
//! When a node becomes leader it reads the record (the previous term), writes `starting`, and
//! once its JobManager is ready writes `serving`; from the two records and its own monotonic
//! clock [`measure`] computes the outage and its parts. docs/audit-events.md gives the meaning
//! and error bound of each figure.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often a serving leader rewrites its record. It bounds the error of a crash's outage start.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(500);

/// Schema version of the leader record's JSON.
pub const RECORD_VERSION: u32 = 1;

/// Where the leader record lives: beside the election path, never inside it.
pub fn record_path(election_path: &str) -> String {
    format!("{election_path}-record")
}

/// The state of a leadership term, as the leader record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermState {
    /// Elected; the JobManager is starting.
    Starting,
    /// The JobManager is ready; refreshed every [`REFRESH_INTERVAL`].
    Serving,
    /// The JobManager is being stopped on purpose (shutdown).
    Stopping,
    /// The JobManager is stopped and the leader is about to leave the election.
    Released,
}

/// The leader record's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderRecord {
    /// [`RECORD_VERSION`].
    pub v: u32,
    /// The leader's `node.id`.
    pub node: String,
    /// The leadership term (the leader's election node sequence).
    pub epoch: u64,
    /// Where the term is.
    pub state: TermState,
    /// Why it stops (`shutdown`, `resigned`), with `stopping` and `released`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Server time (ms since the epoch) when this leader stopped serving: the `mtime` of its
    /// last `serving` or `stopping` write. Set with `released`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving_until_ms: Option<i64>,
    /// With `starting`: when the outage this term is to end began (server time, ms), so that a
    /// leader that fails before it serves passes the outage on to the next one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_start_ms: Option<i64>,
    /// The leader's negotiated session timeout: after a crash its election node is deleted no
    /// earlier than this long after its last contact.
    pub session_timeout_ms: u64,
    /// Server time (ms) of this term's `starting` write: since when the leader leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_since_ms: Option<i64>,
    /// The most recent failover measured by any leader, carried from term to term, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failover: Option<LastFailover>,
}

/// The summary of a failover kept in the leader record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailover {
    /// Server time (ms) when the new JobManager was ready.
    pub ready_ms: i64,
    /// The outage.
    pub outage_ms: u64,
    /// Why leadership moved (`leader_lost`, `handover`, `resigned`).
    pub cause: String,
    /// The leader before.
    pub previous_node: String,
    /// The leader after.
    pub node: String,
    /// Whether it stayed within the budget.
    pub within_budget: bool,
}

/// A leader record as read back, with the server's modification time of its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    /// The data.
    pub record: LeaderRecord,
    /// `mtime` of the node: server time (ms since the epoch) of the last write.
    pub mtime_ms: i64,
}

impl ReadRecord {
    /// When the service of this term ended (or, for a term that never served, when the outage
    /// it inherited began), on the server's clock, with the error bound of that instant.
    pub fn outage_start(&self) -> (i64, Duration) {
        let r = &self.record;
        match r.state {
            // Crashed, partitioned or paused while serving: it served until some moment
            // between its last refresh and the next one.
            TermState::Serving => (self.mtime_ms, REFRESH_INTERVAL),
            TermState::Starting => (r.outage_start_ms.unwrap_or(self.mtime_ms), Duration::ZERO),
            TermState::Stopping => (self.mtime_ms, Duration::ZERO),
            TermState::Released => (r.serving_until_ms.unwrap_or(self.mtime_ms), Duration::ZERO),
        }
    }

    /// The earliest server time at which this term's election node was gone.
    fn node_gone_ms(&self) -> i64 {
        match self.record.state {
            // It deletes its node right after writing `released`.
            TermState::Released => self.mtime_ms,
            // Otherwise the node went with the session: no earlier than the session timeout
            // after its last write (every write renews the session).
            _ => self.mtime_ms.saturating_add(i64::try_from(self.record.session_timeout_ms).unwrap_or(i64::MAX)),
        }
    }

    /// Why leadership moved.
    fn cause(&self) -> Cause {
        match (self.record.state, self.record.reason.as_deref()) {
            (TermState::Serving | TermState::Starting, _) => Cause::LeaderLost,
            (_, Some("resigned")) => Cause::Resigned,
            _ => Cause::Handover,
        }
    }
}

/// Why leadership moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The previous leader stopped being heard from (crash, SIGKILL, pause, partition).
    LeaderLost,
    /// The previous leader shut down and handed over.
    Handover,
    /// The previous leader gave up after too many JobManager failures.
    Resigned,
}

impl Cause {
    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::LeaderLost => "leader_lost",
            Cause::Handover => "handover",
            Cause::Resigned => "resigned",
        }
    }
}

/// What the new leader observed of its own term, for [`measure`].
#[derive(Debug, Clone, Copy)]
pub struct NewTerm {
    /// Server time (ms) of this node's `starting` write, just after it was elected.
    pub elected_ms: i64,
    /// Election to JobManager spawn, on this host's monotonic clock.
    pub start: Duration,
    /// Spawn to ready, on this host's monotonic clock.
    pub readiness: Duration,
    /// Server time (ms) of this node's `serving` write, just after its JobManager was ready.
    pub ready_ms: i64,
}

/// One failover, measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// Why leadership moved.
    pub cause: Cause,
    /// The previous leader.
    pub previous_node: String,
    /// The previous term.
    pub previous_epoch: u64,
    /// Server time (ms) when the previous leader stopped serving.
    pub outage_start_ms: i64,
    /// Server time (ms) when the new JobManager was ready.
    pub ready_ms: i64,
    /// From `outage_start_ms` to `ready_ms`.
    pub outage: Duration,
    /// Outage start until the previous leader's election node was gone (session expiry after a
    /// crash, the JobManager's stop after a handover).
    pub detection: Duration,
    /// From then until this node was elected (watch notification, recipe, first write).
    pub election: Duration,
    /// Election to JobManager spawn.
    pub start: Duration,
    /// Spawn to ready.
    pub readiness: Duration,
    /// How much later the real outage start may lie than `outage_start_ms` (the outage may be
    /// that much shorter), plus write latencies.
    pub error_bound: Duration,
    /// `outage <= budget`.
    pub within_budget: bool,
}

/// Write latencies on a healthy loopback ensemble stay below this; it is part of each error bound.
const WRITE_LATENCY_BOUND: Duration = Duration::from_millis(50);

fn ms(d: i64) -> Duration {
    Duration::from_millis(d.max(0) as u64)
}

/// The failover that a new term ended, or `None` for a first election (no previous record).
pub fn measure(previous: Option<&ReadRecord>, new: NewTerm, budget: Duration) -> Option<Failover> {
    let previous = previous?;
    let (outage_start_ms, start_error) = previous.outage_start();
    let node_gone_ms = previous.node_gone_ms().clamp(outage_start_ms, new.elected_ms.max(outage_start_ms));
    let outage = ms(new.ready_ms.saturating_sub(outage_start_ms));
    Some(Failover {
        cause: previous.cause(),
        previous_node: previous.record.node.clone(),
        previous_epoch: previous.record.epoch,
        outage_start_ms,
        ready_ms: new.ready_ms,
        outage,
        detection: ms(node_gone_ms.saturating_sub(outage_start_ms)),
        election: ms(new.elected_ms.saturating_sub(node_gone_ms)),
        start: new.start,
        readiness: new.readiness,
        error_bound: start_error + WRITE_LATENCY_BOUND,
        within_budget: outage <= budget,
    })
}

/// Failover statistics of this process, kept for logs, `/metrics` and `status`.
#[derive(Debug, Clone, Default)]
pub struct FailoverStats {
    outages: Vec<Duration>,
    over_budget: u64,
}

/// A summary of [`FailoverStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSummary {
    /// Failovers measured.
    pub count: u64,
    /// The most recent outage.
    pub last: Option<Duration>,
    /// Median outage (nearest rank).
    pub p50: Option<Duration>,
    /// 95th percentile outage (nearest rank).
    pub p95: Option<Duration>,
    /// Longest outage.
    pub max: Option<Duration>,
    /// Failovers over budget.
    pub over_budget: u64,
}

impl FailoverStats {
    /// Adds one failover.
    pub fn record(&mut self, failover: &Failover) {
        self.outages.push(failover.outage);
        if !failover.within_budget {
            self.over_budget += 1;
        }
    }

    /// Every outage so far, oldest first.
    pub fn outages(&self) -> &[Duration] {
        &self.outages
    }

    /// The figures so far.
    pub fn summary(&self) -> StatsSummary {
        let mut sorted = self.outages.clone();
        sorted.sort();
        StatsSummary {
            count: self.outages.len() as u64,
            last: self.outages.last().copied(),
            p50: percentile(&sorted, 50.0),
            p95: percentile(&sorted, 95.0),
            max: sorted.last().copied(),
            over_budget: self.over_budget,
        }
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p`% of the values
/// at or below it. `None` for no values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: TermState, mtime_ms: i64) -> ReadRecord {
        ReadRecord {
            record: LeaderRecord {
                v: RECORD_VERSION,
                node: "jm1".into(),
                epoch: 4,
                state,
                reason: None,
                serving_until_ms: None,
                outage_start_ms: None,
                session_timeout_ms: 10_000,
                leader_since_ms: None,
                last_failover: None,
            },
            mtime_ms,
        }
    }

    fn new_term(elected_ms: i64, ready_ms: i64) -> NewTerm {
        NewTerm { elected_ms, start: Duration::from_millis(20), readiness: Duration::from_millis(4000), ready_ms }
    }

    const BUDGET: Duration = Duration::from_secs(30);

    #[test]
    fn a_first_election_is_no_failover() {
        assert_eq!(measure(None, new_term(0, 5000), BUDGET), None);
    }

    #[test]
    fn a_crash_counts_from_the_last_refresh_and_detection_is_the_session_timeout() {
        let f = measure(Some(&record(TermState::Serving, 100_000)), new_term(110_400, 114_500), BUDGET).unwrap();
        assert_eq!(f.cause, Cause::LeaderLost);
        assert_eq!(f.outage, Duration::from_millis(14_500));
        assert_eq!(f.detection, Duration::from_secs(10));
        assert_eq!(f.election, Duration::from_millis(400));
        assert_eq!(f.error_bound, REFRESH_INTERVAL + WRITE_LATENCY_BOUND);
        assert!(f.within_budget);
        assert_eq!((f.previous_node.as_str(), f.previous_epoch), ("jm1", 4));
    }

    #[test]
    fn a_handover_counts_from_the_stop_and_its_node_goes_with_the_release() {
        let mut r = record(TermState::Released, 102_000);
        r.record.reason = Some("shutdown".into());
        r.record.serving_until_ms = Some(100_000);
        let f = measure(Some(&r), new_term(102_050, 106_000), BUDGET).unwrap();
        assert_eq!(f.cause, Cause::Handover);
        assert_eq!(f.outage, Duration::from_secs(6));
        assert_eq!(f.detection, Duration::from_secs(2));
        assert_eq!(f.election, Duration::from_millis(50));
        assert_eq!(f.error_bound, WRITE_LATENCY_BOUND);
    }

    #[test]
    fn a_resignation_is_named() {
        let mut r = record(TermState::Released, 100_000);
        r.record.reason = Some("resigned".into());
        assert_eq!(measure(Some(&r), new_term(100_010, 104_000), BUDGET).unwrap().cause, Cause::Resigned);
    }

    #[test]
    fn a_term_that_never_served_passes_its_outage_on() {
        let mut r = record(TermState::Starting, 120_000);
        r.record.outage_start_ms = Some(100_000);
        let f = measure(Some(&r), new_term(130_500, 135_000), BUDGET).unwrap();
        assert_eq!(f.outage, Duration::from_secs(35));
        assert!(!f.within_budget);
        assert_eq!(f.detection, Duration::from_secs(30), "until the failed term's session was gone");
    }

    #[test]
    fn an_early_election_clamps_detection() {
        // The old node vanished sooner than its session timeout says (e.g. it was deleted).
        let f = measure(Some(&record(TermState::Serving, 100_000)), new_term(101_000, 105_000), BUDGET).unwrap();
        assert_eq!(f.detection, Duration::from_secs(1));
        assert_eq!(f.election, Duration::ZERO);
    }

    #[test]
    fn records_round_trip_as_json() {
        let r = record(TermState::Stopping, 0).record;
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"state\":\"stopping\""), "{json}");
        assert_eq!(serde_json::from_str::<LeaderRecord>(&json).unwrap(), r);
    }

    #[test]
    fn stats_use_nearest_rank_percentiles() {
        let mut stats = FailoverStats::default();
        assert_eq!(stats.summary(), StatsSummary::default());
        for (i, secs) in [5, 1, 4, 2, 3, 40].into_iter().enumerate() {
            let mut f = measure(Some(&record(TermState::Serving, 0)), new_term(10_000, secs * 1000), BUDGET).unwrap();
            f.start = Duration::from_millis(i as u64);
            stats.record(&f);
        }
        let s = stats.summary();
        assert_eq!(s.count, 6);
        assert_eq!(s.last, Some(Duration::from_secs(40)));
        assert_eq!(s.p50, Some(Duration::from_secs(3)));
        assert_eq!(s.p95, Some(Duration::from_secs(40)));
        assert_eq!(s.max, Some(Duration::from_secs(40)));
        assert_eq!(s.over_budget, 1);
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile::<u32>(&[], 50.0), None);
    }

    mod fuzz {
        use super::*;
        use crate::fuzz::{hostile_number, object_with};
        use crate::walltime::rfc3339_ms;
        use proptest::prelude::*;

        const FIELDS: &[&str] = crate::fuzz::LEADER_RECORD_FIELDS;

        fn previous() -> impl Strategy<Value = serde_json::Value> {
            let valid = serde_json::to_value(record(TermState::Serving, 0).record).unwrap();
            let numbers = (hostile_number(), hostile_number(), hostile_number());
            (object_with(FIELDS, valid.clone()), numbers, any::<bool>()).prop_map(move |(hostile, n, decodable)| {
                if !decodable {
                    return hostile;
                }
                // Decodable, but with absurd times.
                let mut v = valid.clone();
                if n.0.is_i64() {
                    v["serving_until_ms"] = n.0;
                }
                if n.1.is_i64() {
                    v["outage_start_ms"] = n.1;
                }
                if n.2.is_u64() {
                    v["session_timeout_ms"] = n.2;
                }
                v
            })
        }

        proptest! {
            /// What a new leader does with the previous term's record (measure, then log the
            /// times, as the daemon's loop does) never panics, whatever the record says.
            #[test]
            fn measuring_any_previous_record_never_panics(
                previous in previous(), mtime_ms in any::<i64>(), elected_ms in any::<i64>(), ready_ms in any::<i64>(),
                start in any::<u32>(), readiness in any::<u32>(),
            ) {
                let Ok(record) = serde_json::from_value::<LeaderRecord>(previous) else { return Ok(()) };
                let previous = ReadRecord { record, mtime_ms };
                let new = NewTerm {
                    elected_ms,
                    start: Duration::from_millis(start.into()),
                    readiness: Duration::from_millis(readiness.into()),
                    ready_ms,
                };
                let f = measure(Some(&previous), new, BUDGET).unwrap();
                let _ = (rfc3339_ms(f.outage_start_ms), rfc3339_ms(f.ready_ms));
                let mut stats = FailoverStats::default();
                stats.record(&f);
                let _ = stats.summary();
            }
        }
    }
}
