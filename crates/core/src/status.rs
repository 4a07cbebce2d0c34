//! What `status` shows, judged from what it read: every child of the election path in queue
//! order (foreign and malformed children are shown, never fatal) with each contender's identity,
//! the leader record (since when the leader leads, the state of its JobManager, the last
//! failover), the operator controls, and the verdict against `flink.jobmanager_count`.
//!
//! Healthy (exit code 0) needs a leader and at least one standby; anything less is degraded
//! (exit code 1): the next failure is an outage.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::blocking::{self, ObservedChild};
use crate::controls::{HandoverNote, PauseNote};
use crate::failover::{self, LeaderRecord, TermState};
use crate::identity::{Contender, ElectionChildren, NodeIdentity};
use crate::walltime::{self, rfc3339_ms};

/// What was read from ZooKeeper, unjudged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Every child of the election path with its data, in any order.
    pub children: Vec<ObservedChild>,
    /// The leader record's data and the server time (ms) of its last write.
    pub record: Option<(Vec<u8>, i64)>,
    /// The pause node's data, when the cluster is paused.
    pub pause: Option<Vec<u8>>,
    /// The handover request's data, when one is pending.
    pub handover: Option<Vec<u8>>,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// A leader and at least one standby.
    Healthy,
    /// No leader, or no standby.
    Degraded,
}

/// The election, judged: what both formats show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// The verdict; [`StatusReport::exit_code`] follows it.
    pub health: Health,
    /// Why it is degraded (empty when healthy).
    pub problems: Vec<String>,
    /// What deserves attention without degrading it (fewer hosts than configured, malformed or
    /// foreign children, maintenance mode).
    pub warnings: Vec<String>,
    /// `zookeeper.quorum`.
    pub quorum: String,
    /// `election.path`.
    pub election_path: String,
    /// `flink.jobmanager_count`: how many JobManager hosts there should be.
    pub expected_jobmanagers: u32,
    /// How many distinct daemons (node ids with a readable identity) contend.
    pub alive_jobmanagers: u32,
    /// Maintenance mode (the pause node exists).
    pub paused: bool,
    /// Who paused, since when, why; `null` when not paused.
    pub pause: Option<PauseView>,
    /// A pending planned handover; `null` when none.
    pub handover: Option<HandoverView>,
    /// The leader; `null` when nobody contends.
    pub leader: Option<LeaderView>,
    /// Every election node in queue order, the leader first.
    pub contenders: Vec<ContenderView>,
    /// Children of the election path that are not election nodes.
    pub foreign: Vec<String>,
    /// Nodes in the election queue that no daemon removes, in queue order: each holds up every
    /// contender behind it.
    pub blocked_by: Vec<BlockedNode>,
    /// The most recent failover, from the leader record; `null` before the first.
    pub last_failover: Option<FailoverView>,
    /// The parked JobManager of the daemon on this host, as its `/status` says (`parked: pid N
    /// since T, ready to release`, or `parking`); `null` when it has none or does not answer.
    pub parked_here: Option<String>,
}

/// The text of the parked JobManager in a daemon's `/status` body, read as hostile input:
/// `None` when there is none or the body is not what a daemon writes.
pub fn parked_text(status_body: &[u8]) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_slice(status_body).ok()?;
    let parked = doc.get("parked")?;
    match parked.get("state")?.as_str()? {
        "parking" => Some("parking".to_string()),
        "parked" => {
            let pid = parked.get("pid").and_then(|p| p.as_u64()).map_or("?".to_string(), |p| p.to_string());
            // A time as the daemon writes it (RFC 3339); anything else is left out.
            let since = parked.get("since").and_then(|s| s.as_str()).filter(|s| {
                s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '.' | '+'))
            });
            Some(match since {
                Some(since) => format!("parked: pid {pid} since {since}, ready to release"),
                None => format!("parked: pid {pid}, ready to release"),
            })
        }
        _ => None,
    }
}

/// A node in the election queue that no daemon removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedNode {
    /// Its name under the election path.
    pub node: String,
    /// Why no daemon removes it.
    pub why: String,
    /// True when it is first in the queue: nobody can lead while it exists.
    pub first: bool,
    /// What the operator can do.
    pub remedy: String,
}

/// Maintenance mode as the pause node says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseView {
    /// `user@host` of the `pause` command, when the note is readable.
    pub paused_by: Option<String>,
    /// When it was paused (RFC 3339, the command's clock).
    pub since: Option<String>,
    /// `pause --reason`.
    pub reason: Option<String>,
}

/// A pending handover request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandoverView {
    /// The leader asked to step down, when the request is readable.
    pub from_node: Option<String>,
    /// The node that is to lead next; `null` for any.
    pub to: Option<String>,
    /// `user@host` of the `handover` command.
    pub requested_by: Option<String>,
    /// When (RFC 3339, the command's clock).
    pub requested_at: Option<String>,
}

/// The leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderView {
    /// Its `node.id`, when its identity is readable.
    pub node_id: Option<String>,
    /// Its term: the sequence of its election node.
    pub epoch: u64,
    /// Since when it leads (RFC 3339, the ZooKeeper server's clock), when the leader record is of
    /// this term.
    pub since: Option<String>,
    /// The same in milliseconds since the epoch.
    pub since_ms: Option<i64>,
    /// Its JobManager as the leader record says: `starting`, `serving`, `stopping`, `released`,
    /// or `unknown` when the record is not of this term (yet).
    pub jobmanager: String,
}

/// One election node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContenderView {
    /// 0 for the leader, then the standbys in the order they would take over.
    pub position: usize,
    /// `leader` or `standby`.
    pub role: &'static str,
    /// The node's name under the election path.
    pub name: String,
    /// Its sequence number.
    pub sequence: u64,
    /// What the daemon wrote about itself; `null` when malformed.
    pub identity: Option<NodeIdentity>,
    /// Why the identity could not be read.
    pub error: Option<String>,
    /// A remark (e.g. a second node of the same daemon).
    pub note: Option<String>,
}

/// A failover as the leader record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailoverView {
    /// The leader before.
    pub from: String,
    /// The leader after.
    pub to: String,
    /// `leader_lost`, `handover` or `resigned`.
    pub cause: String,
    /// The outage, in milliseconds.
    pub outage_ms: u64,
    /// When the new JobManager was ready (RFC 3339, the ZooKeeper server's clock).
    pub ready_at: String,
    /// Whether the outage stayed within `failover.budget`.
    pub within_budget: bool,
}

impl StatusReport {
    /// 0 healthy, 1 degraded.
    pub fn exit_code(&self) -> u8 {
        match self.health {
            Health::Healthy => 0,
            Health::Degraded => 1,
        }
    }
}

/// Judges a snapshot of the election at `election_path` against `expected` JobManager hosts.
pub fn assess(snapshot: &Snapshot, quorum: &str, election_path: &str, expected: u32) -> StatusReport {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let ElectionChildren { contenders: queue, foreign } = ElectionChildren::classify(&snapshot.children);

    let mut seen = BTreeSet::new();
    let contenders: Vec<ContenderView> = queue
        .into_iter()
        .enumerate()
        .map(|(position, Contender { name, sequence, identity })| {
            let (identity, error) = match identity {
                Ok(identity) => (Some(identity), None),
                Err(why) => (None, Some(why)),
            };
            let note = match &identity {
                Some(i) if !seen.insert(i.node_id.clone()) => Some(format!(
                    "a second election node of {}: a restarted daemon's old session, gone when it expires",
                    i.node_id
                )),
                _ => None,
            };
            let role = if position == 0 { "leader" } else { "standby" };
            ContenderView { position, role, name, sequence, identity, error, note }
        })
        .collect();
    let alive = seen.len() as u32;

    let blocked_by: Vec<BlockedNode> = blocking::blockers(&snapshot.children)
        .into_iter()
        .map(|b| BlockedNode {
            remedy: blocking::remedy(quorum, election_path, &b.name),
            node: b.name,
            why: b.why.to_string(),
            first: b.first,
        })
        .collect();
    for b in &blocked_by {
        problems.push(if b.first {
            format!(
                "the election is blocked by {election_path}/{} ({}): no daemon can lead while it exists; {}",
                b.node, b.why, b.remedy
            )
        } else {
            format!(
                "{election_path}/{} ({}) sits in the election queue: the standbys behind it, and every daemon that joins later, wait for it forever; {}",
                b.node, b.why, b.remedy
            )
        });
    }
    let first_blocked = blocked_by.first().is_some_and(|b| b.first);

    let record = snapshot.record.as_ref().and_then(|(data, _)| serde_json::from_slice::<LeaderRecord>(data).ok());
    if snapshot.record.is_some() && record.is_none() {
        warnings.push(format!("the leader record {} is not readable", failover::record_path(election_path)));
    }
    let leader = contenders.first().map(|c| {
        let node_id = c.identity.as_ref().map(|i| i.node_id.clone());
        let term = record.as_ref().filter(|r| r.epoch == c.sequence && Some(&r.node) == node_id.as_ref());
        let since_ms = term.and_then(|r| r.leader_since_ms);
        LeaderView {
            node_id,
            epoch: c.sequence,
            since: since_ms.map(rfc3339_ms),
            since_ms,
            jobmanager: term.map_or("unknown", |r| state_name(r.state)).to_string(),
        }
    });

    match &leader {
        None if first_blocked => {}
        None => problems.push(format!("no leader: no daemon contends under {election_path}")),
        Some(_) if first_blocked => {}
        Some(l) if l.node_id.is_none() => problems.push(format!(
            "no leader: the lowest election node {} is not a daemon's (malformed identity); the daemons wait behind it",
            contenders[0].name
        )),
        Some(_) => {}
    }
    if let Some(l) = leader.as_ref().and_then(|l| l.node_id.as_ref()) {
        if alive < 2 {
            problems.push(format!("no standby: the next failure of {l} is an outage"));
        }
    }
    if alive < expected {
        warnings.push(format!(
            "only {alive} of {expected} JobManager hosts contend (flink.jobmanager_count = {expected}); start the daemon on the others"
        ));
    }
    let malformed = contenders.iter().filter(|c| c.error.is_some()).count();
    if malformed > 0 {
        warnings.push(format!("{malformed} election node(s) with a malformed identity"));
    }
    if !foreign.is_empty() {
        warnings.push(format!("{} foreign child(ren) under {election_path}, ignored by the daemons", foreign.len()));
    }

    let pause = snapshot.pause.as_ref().map(|data| match serde_json::from_slice::<PauseNote>(data) {
        Ok(note) => {
            PauseView { paused_by: Some(note.paused_by), since: Some(rfc3339_ms(note.since_ms)), reason: note.reason }
        }
        Err(_) => PauseView { paused_by: None, since: None, reason: None },
    });
    if pause.is_some() {
        warnings.push(
            "MAINTENANCE MODE: the daemons do not fail over, restart or stop the JobManager on their own; `flink-ha-supervisor resume` ends it".into(),
        );
    }
    let handover = snapshot.handover.as_ref().map(|data| match serde_json::from_slice::<HandoverNote>(data) {
        Ok(note) => HandoverView {
            from_node: Some(note.from_node),
            to: note.to,
            requested_by: Some(note.requested_by),
            requested_at: Some(rfc3339_ms(note.requested_ms)),
        },
        Err(_) => HandoverView { from_node: None, to: None, requested_by: None, requested_at: None },
    });
    let last_failover = record.as_ref().and_then(|r| r.last_failover.as_ref()).map(|f| FailoverView {
        from: f.previous_node.clone(),
        to: f.node.clone(),
        cause: f.cause.clone(),
        outage_ms: f.outage_ms,
        ready_at: rfc3339_ms(f.ready_ms),
        within_budget: f.within_budget,
    });

    StatusReport {
        health: if problems.is_empty() { Health::Healthy } else { Health::Degraded },
        problems,
        warnings,
        quorum: quorum.to_string(),
        election_path: election_path.to_string(),
        expected_jobmanagers: expected,
        alive_jobmanagers: alive,
        paused: pause.is_some(),
        pause,
        handover,
        leader,
        contenders,
        foreign,
        blocked_by,
        last_failover,
        parked_here: None,
    }
}

fn state_name(state: TermState) -> &'static str {
    match state {
        TermState::Starting => "starting",
        TermState::Serving => "serving",
        TermState::Stopping => "stopping",
        TermState::Released => "released",
    }
}

/// The report as a table and a few lines, for people. `now` is for "since" ages.
pub fn render_text(report: &StatusReport, now: SystemTime) -> String {
    let mut out = String::new();
    if let Some(p) = &report.pause {
        let who = match (&p.paused_by, &p.since) {
            (Some(by), Some(since)) => format!(" since {since} by {by}"),
            _ => String::new(),
        };
        let why = p.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        let _ = writeln!(out, "*** PAUSED: MAINTENANCE MODE{who}{why} ***");
        let _ = writeln!(
            out,
            "*** the daemons do not fail over, restart or stop the JobManager on their own; `flink-ha-supervisor resume` ends it ***\n"
        );
    }
    let _ = writeln!(
        out,
        "election {} at {}: {} of {} JobManager hosts contend\n",
        report.election_path, report.quorum, report.alive_jobmanagers, report.expected_jobmanagers
    );

    let mut rows = vec![["ROLE", "NODE", "HOST", "REST", "RPC", "PID", "VERSION", "EPOCH"].map(String::from).to_vec()];
    for c in &report.contenders {
        let mut row = vec![c.role.to_string()];
        match &c.identity {
            Some(i) => row.extend([
                i.node_id.clone(),
                i.host.clone(),
                i.rest_address.clone(),
                i.rpc_address.clone(),
                i.pid.to_string(),
                i.version.clone(),
            ]),
            None => row.extend(["?".into(), "(malformed)".into(), "-".into(), "-".into(), "-".into(), "-".into()]),
        }
        row.push(c.sequence.to_string());
        rows.push(row);
    }
    for name in &report.foreign {
        rows.push(vec![
            "foreign".into(),
            name.clone(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }
    if rows.len() == 1 {
        let _ = writeln!(out, "(no election nodes under {})", report.election_path);
    } else {
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
        for row in &rows {
            let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            let _ = writeln!(out, "{}", line.join("  ").trim_end());
        }
    }
    for c in &report.contenders {
        if let Some(why) = &c.error {
            let _ = writeln!(out, "  {}: {why}", c.name);
        }
        if let Some(note) = &c.note {
            let _ = writeln!(out, "  {}: {note}", c.name);
        }
    }
    out.push('\n');

    match &report.leader {
        Some(l) => {
            let name = l.node_id.as_deref().unwrap_or("?");
            let since = match (&l.since, l.since_ms) {
                (Some(since), Some(ms)) => {
                    let now_ms = walltime::from_system_time(now).unwrap_or(0);
                    let age = Duration::from_secs(walltime::age(now_ms, ms).as_secs());
                    format!(" since {since} ({})", walltime::format_duration(age))
                }
                _ => String::new(),
            };
            let _ = writeln!(out, "leader:        {name} (epoch {}){since}, JobManager {}", l.epoch, l.jobmanager);
        }
        None => {
            let _ = writeln!(out, "leader:        none");
        }
    }
    match &report.last_failover {
        Some(f) => {
            let verdict = if f.within_budget { "within budget" } else { "OVER BUDGET" };
            let outage = Duration::from_millis(f.outage_ms).as_secs_f64();
            let _ = writeln!(
                out,
                "last failover: {} -> {} ({}) at {}, outage {outage:.3}s, {verdict}",
                f.from, f.to, f.cause, f.ready_at
            );
        }
        None => {
            let _ = writeln!(out, "last failover: none recorded");
        }
    }
    if let Some(h) = &report.handover {
        let to = h.to.as_deref().unwrap_or("the next in line");
        let by = h.requested_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        let from = h.from_node.as_deref().unwrap_or("?");
        let _ = writeln!(out, "handover:      pending, {from} -> {to}{by}");
    }
    for b in &report.blocked_by {
        let _ = writeln!(out, "BLOCKED:       {}/{} ({}); {}", report.election_path, b.node, b.why, b.remedy);
    }
    if let Some(parked) = &report.parked_here {
        let _ = writeln!(out, "this host:     {parked}");
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "WARNING: {warning}");
    }
    match report.health {
        Health::Healthy => {
            let _ = writeln!(out, "status: healthy");
        }
        Health::Degraded => {
            let _ = writeln!(out, "status: DEGRADED: {}", report.problems.join("; "));
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::{LastFailover, RECORD_VERSION};
    use std::time::UNIX_EPOCH;

    const PATH: &str = "/flink/leader";

    #[test]
    fn the_parked_jobmanager_of_this_host_is_read_from_its_status_as_hostile_input() {
        let body = br#"{"node":"jm2","parked":{"state":"parked","pid":42,"since":"2026-12-02T10:00:00.000Z"}}"#;
        assert_eq!(
            parked_text(body).as_deref(),
            Some("parked: pid 42 since 2026-12-02T10:00:00.000Z, ready to release")
        );
        assert_eq!(parked_text(br#"{"parked":{"state":"parking","pid":null}}"#).as_deref(), Some("parking"));
        let odd = br#"{"parked":{"state":"parked","pid":-1,"since":"\u001b[31mred"}}"#;
        assert_eq!(parked_text(odd).as_deref(), Some("parked: pid ?, ready to release"));
        for body in [&b"{}"[..], b"{\"parked\":null}", b"not json", b"{\"parked\":{\"state\":7}}", b"\xff"] {
            assert_eq!(parked_text(body), None);
        }
    }

    fn identity(node: &str) -> Vec<u8> {
        crate::identity::example(node).to_json()
    }

    fn child(sequence: u64, node: &str) -> ObservedChild {
        other(&format!("_c_0f1e2d3c-{node}-latch-{sequence:010}"), &identity(node), false)
    }

    fn other(name: &str, data: &[u8], persistent: bool) -> ObservedChild {
        ObservedChild { name: name.into(), data: data.to_vec(), persistent, ours: false }
    }

    fn record(node: &str, epoch: u64) -> Vec<u8> {
        serde_json::to_vec(&LeaderRecord {
            v: RECORD_VERSION,
            node: node.into(),
            epoch,
            state: TermState::Serving,
            reason: None,
            serving_until_ms: None,
            outage_start_ms: None,
            session_timeout_ms: 10_000,
            leader_since_ms: Some(1_795_000_000_000),
            last_failover: Some(LastFailover {
                ready_ms: 1_795_000_004_000,
                outage_ms: 9_341,
                cause: "leader_lost".into(),
                previous_node: "jm1".into(),
                node: node.into(),
                within_budget: true,
            }),
        })
        .unwrap()
    }

    #[test]
    fn a_leader_and_a_standby_are_healthy() {
        let snapshot = Snapshot {
            // Listed out of order: the lowest sequence leads.
            children: vec![child(8, "jm1"), child(7, "jm2")],
            record: Some((record("jm2", 7), 1_795_000_100_000)),
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.health, Health::Healthy);
        assert_eq!(r.exit_code(), 0);
        assert!(r.problems.is_empty() && r.warnings.is_empty(), "{r:?}");
        let names: Vec<_> =
            r.contenders.iter().map(|c| (c.role, c.identity.as_ref().unwrap().node_id.as_str())).collect();
        assert_eq!(names, [("leader", "jm2"), ("standby", "jm1")]);
        let leader = r.leader.as_ref().unwrap();
        assert_eq!((leader.node_id.as_deref(), leader.epoch, leader.jobmanager.as_str()), (Some("jm2"), 7, "serving"));
        assert_eq!(leader.since_ms, Some(1_795_000_000_000));
        let f = r.last_failover.as_ref().unwrap();
        assert_eq!((f.from.as_str(), f.to.as_str(), f.outage_ms), ("jm1", "jm2", 9_341));

        let text = render_text(&r, UNIX_EPOCH + Duration::from_secs(1_795_000_075));
        assert!(text.contains("2 of 2 JobManager hosts contend"), "{text}");
        assert!(text.contains("leader:        jm2 (epoch 7) since 2026-11-18T"), "{text}");
        assert!(text.contains("(1m 15s), JobManager serving"), "{text}");
        assert!(text.contains("last failover: jm1 -> jm2 (leader_lost) at "), "{text}");
        assert!(text.contains("outage 9.341s, within budget"), "{text}");
        assert!(text.ends_with("status: healthy\n"), "{text}");
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("leader ") || l.starts_with("standby ")).collect();
        assert!(rows[0].contains("jm2.example.org:8081") && rows[1].contains(" jm1 "), "{text}");
    }

    #[test]
    fn one_contender_has_no_standby() {
        let snapshot = Snapshot { children: vec![child(3, "jm1")], ..Snapshot::default() };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.problems, ["no standby: the next failure of jm1 is an outage"]);
        assert!(r.warnings[0].starts_with("only 1 of 2 JobManager hosts contend"), "{r:?}");
        let leader = r.leader.as_ref().unwrap();
        assert_eq!((leader.jobmanager.as_str(), leader.since.as_deref()), ("unknown", None));
        let text = render_text(&r, SystemTime::now());
        assert!(text.contains("status: DEGRADED: no standby"), "{text}");
        assert!(text.contains("last failover: none recorded"), "{text}");
    }

    #[test]
    fn two_of_three_is_a_warning_not_a_degradation() {
        let snapshot = Snapshot { children: vec![child(3, "jm1"), child(4, "jm2")], ..Snapshot::default() };
        let r = assess(&snapshot, "zk1:2181", PATH, 3);
        assert_eq!(r.health, Health::Healthy);
        assert!(r.warnings[0].starts_with("only 2 of 3"), "{r:?}");
    }

    #[test]
    fn nobody_contending_is_no_leader() {
        let r = assess(&Snapshot::default(), "zk1:2181", PATH, 2);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.problems, ["no leader: no daemon contends under /flink/leader"]);
        assert!(r.leader.is_none());
        let text = render_text(&r, SystemTime::now());
        assert!(text.contains("(no election nodes under /flink/leader)"), "{text}");
        assert!(text.contains("leader:        none"), "{text}");
    }

    #[test]
    fn foreign_and_malformed_children_are_shown_and_a_malformed_one_in_the_queue_blocks() {
        let snapshot = Snapshot {
            children: vec![
                child(5, "jm1"),
                other("lock", b"whatever", false),
                other("_c_x-latch-0000000009", b"{not json", false),
                child(6, "jm2"),
            ],
            // A record that is not JSON is reported, not fatal.
            record: Some((b"garbage".to_vec(), 0)),
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        // The malformed node is in the recipe's queue: whoever joins behind it waits for it.
        assert_eq!(r.health, Health::Degraded, "{r:?}");
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert!(r.problems[0].starts_with("/flink/leader/_c_x-latch-0000000009 (not a daemon's"), "{r:?}");
        assert_eq!(r.foreign, ["lock"]);
        assert_eq!(r.contenders.len(), 3);
        assert!(r.contenders[2].error.as_deref().unwrap().contains("not a node identity"));
        assert_eq!(r.warnings.len(), 3, "{r:?}");
        let text = render_text(&r, SystemTime::now());
        assert!(text.lines().any(|l| l.starts_with("foreign  lock")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("standby  ?") && l.contains("(malformed)")), "{text}");
    }

    #[test]
    fn a_malformed_lowest_node_blocks_the_election() {
        let snapshot = Snapshot {
            children: vec![other("_c_x-latch-0000000001", b"{}", false), child(2, "jm1"), child(3, "jm2")],
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.exit_code(), 1);
        assert!(r.problems[0].contains("not a daemon's"), "{r:?}");
    }

    #[test]
    fn a_persistent_node_ahead_of_everyone_blocks_the_cluster() {
        let snapshot = Snapshot {
            children: vec![child(2, "jm1"), other("x-latch-0000000000", b"", true), child(3, "jm2")],
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.problems.len(), 1, "{r:?}");
        assert!(
            r.problems[0].starts_with("the election is blocked by /flink/leader/x-latch-0000000000 (a persistent node"),
            "{r:?}"
        );
        assert!(r.problems[0].contains("zkCli.sh -server zk1:2181 delete /flink/leader/x-latch-0000000000"), "{r:?}");
        assert_eq!(r.blocked_by.len(), 1);
        let text = render_text(&r, SystemTime::now());
        assert!(
            text.lines().any(|l| l.starts_with("BLOCKED:") && l.contains("/flink/leader/x-latch-0000000000")),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["blocked_by"][0]["node"], "x-latch-0000000000");
        assert_eq!(json["blocked_by"][0]["first"], true);
    }

    #[test]
    fn a_persistent_node_between_the_leader_and_a_standby_is_a_problem() {
        let snapshot = Snapshot {
            children: vec![child(1, "jm1"), other("x-latch-0000000002", b"", true), child(3, "jm2")],
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.leader.as_ref().and_then(|l| l.node_id.as_deref()), Some("jm1"));
        assert!(r.problems[0].contains("the standbys behind it, and every daemon that joins later, wait"), "{r:?}");
    }

    #[test]
    fn a_restarted_daemons_old_node_counts_once() {
        let snapshot = Snapshot { children: vec![child(1, "jm1"), child(2, "jm1")], ..Snapshot::default() };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.alive_jobmanagers, 1);
        assert_eq!(r.exit_code(), 1);
        assert!(r.contenders[1].note.as_deref().unwrap().contains("second election node of jm1"));
    }

    #[test]
    fn a_pause_is_loud_in_both_formats() {
        let note =
            PauseNote { paused_by: "ops@jm1".into(), since_ms: 1_795_000_000_000, reason: Some("upgrade".into()) };
        let snapshot = Snapshot {
            children: vec![child(1, "jm1"), child(2, "jm2")],
            pause: Some(serde_json::to_vec(&note).unwrap()),
            handover: Some(b"{}".to_vec()),
            ..Snapshot::default()
        };
        let r = assess(&snapshot, "zk1:2181", PATH, 2);
        assert_eq!(r.health, Health::Healthy);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["paused"], true);
        assert_eq!(json["pause"]["paused_by"], "ops@jm1");
        assert_eq!(json["pause"]["reason"], "upgrade");
        assert_eq!(json["health"], "healthy");
        let text = render_text(&r, SystemTime::now());
        assert!(text.starts_with("*** PAUSED: MAINTENANCE MODE since 2026-11-18T"), "{text}");
        assert!(text.contains("by ops@jm1 (upgrade) ***"), "{text}");
        assert!(text.contains("handover:      pending, ? -> the next in line"), "{text}");
    }

    mod fuzz {
        use super::*;
        use crate::fuzz::{child_name, data_like, hostile_number, object_with};
        use proptest::prelude::*;
        use serde_json::json;

        const IDENTITY: &[&str] = &["node_id", "host", "rest_address", "rpc_address", "pid", "version"];
        const RECORD: &[&str] = crate::fuzz::LEADER_RECORD_FIELDS;
        const LAST_FAILOVER: &[&str] = &["ready_ms", "outage_ms", "cause", "previous_node", "node", "within_budget"];
        const PAUSE: &[&str] = &["paused_by", "since_ms", "reason"];
        const HANDOVER: &[&str] = &["from_epoch", "from_node", "to", "requested_by", "requested_ms"];

        fn identity_data() -> impl Strategy<Value = Vec<u8>> {
            data_like(object_with(IDENTITY, serde_json::from_slice(&identity("jm1")).unwrap()))
        }

        fn record_data() -> impl Strategy<Value = Vec<u8>> {
            let valid: serde_json::Value = serde_json::from_slice(&record("jm1", 7)).unwrap();
            let last = object_with(LAST_FAILOVER, valid["last_failover"].clone());
            (object_with(RECORD, valid), last, any::<bool>()).prop_flat_map(|(mut record, last, with_last)| {
                if with_last {
                    record["last_failover"] = last;
                }
                data_like(Just(record))
            })
        }

        fn note_data(fields: &'static [&'static str], valid: serde_json::Value) -> impl Strategy<Value = Vec<u8>> {
            data_like(object_with(fields, valid))
        }

        fn snapshot() -> impl Strategy<Value = Snapshot> {
            let children = prop::collection::vec((child_name(), identity_data()), 0..5);
            let record = prop::option::of((record_data(), any::<i64>()));
            let pause = json!({"paused_by": "ops@h", "since_ms": 1_795_000_000_000_i64, "reason": "x"});
            let handover = json!({"from_epoch": 7, "from_node": "jm1", "to": "jm2", "requested_by": "ops@h",
                "requested_ms": 1_795_000_000_000_i64});
            (
                children,
                record,
                prop::option::of(note_data(PAUSE, pause)),
                prop::option::of(note_data(HANDOVER, handover)),
                // A contender-shaped child with the record's epoch, so the record is the leader's.
                prop::option::of(0u64..10),
            )
                .prop_map(|(children, record, pause, handover, epoch)| {
                    let mut children: Vec<ObservedChild> =
                        children.iter().map(|(name, data)| other(name, data, false)).collect();
                    if let Some(epoch) = epoch {
                        children.push(child(epoch, "jm1"));
                    }
                    Snapshot { children, record, pause, handover }
                })
        }

        proptest! {
            /// `status` judges and prints whatever ZooKeeper holds, in both formats.
            #[test]
            fn status_never_panics_on_what_zookeeper_holds(snapshot in snapshot(), now in any::<i64>()) {
                let report = assess(&snapshot, "zk1:2181", PATH, 2);
                let now = crate::walltime::to_system_time(now).unwrap_or(UNIX_EPOCH);
                let _ = render_text(&report, now);
                serde_json::to_string(&report).unwrap();
            }

            /// A record that decodes with absurd times still prints.
            #[test]
            fn absurd_times_in_decodable_nodes_print(
                leader_since in hostile_number(), ready in hostile_number(), since in hostile_number()
            ) {
                let mut record: serde_json::Value = serde_json::from_slice(&record("jm1", 7)).unwrap();
                record["leader_since_ms"] = leader_since;
                record["last_failover"]["ready_ms"] = ready;
                let pause = json!({"paused_by": "ops@h", "since_ms": since});
                let snapshot = Snapshot {
                    children: vec![child(7, "jm1")],
                    record: Some((serde_json::to_vec(&record).unwrap(), 0)),
                    pause: Some(serde_json::to_vec(&pause).unwrap()),
                    handover: None,
                };
                let report = assess(&snapshot, "zk1:2181", PATH, 2);
                let _ = render_text(&report, SystemTime::now());
                serde_json::to_string(&report).unwrap();
            }
        }

        #[test]
        fn times_past_year_9999_are_shown_not_fatal() {
            let mut record: serde_json::Value = serde_json::from_slice(&record("jm1", 7)).unwrap();
            record["leader_since_ms"] = json!(300_000_000_000_000_i64);
            record["last_failover"]["ready_ms"] = json!(i64::MAX);
            let pause = json!({"paused_by": "ops@h", "since_ms": -5});
            let snapshot = Snapshot {
                children: vec![child(7, "jm1")],
                record: Some((serde_json::to_vec(&record).unwrap(), 0)),
                pause: Some(serde_json::to_vec(&pause).unwrap()),
                handover: None,
            };
            let report = assess(&snapshot, "zk1:2181", PATH, 2);
            let text = render_text(&report, SystemTime::now());
            assert!(text.contains("since not a time (300000000000000 ms since the epoch)"), "{text}");
            assert!(text.contains(&format!("at not a time ({} ms since the epoch)", i64::MAX)), "{text}");
            assert_eq!(report.pause.unwrap().since.as_deref(), Some("not a time (-5 ms since the epoch)"));
        }
    }
}
