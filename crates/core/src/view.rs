//! What this node looks like from outside: the snapshot the daemon publishes after every turn of
//! its loop, for the HTTP endpoint (`/health`, `/leader`, `/status`, `/metrics`) and systemd.

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::blocking;
use crate::failover::StatsSummary;
use crate::machine::{JobManager, Machine, Parked, Role};

/// The role, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    /// Waiting in the election (or between sessions).
    Standby,
    /// Holds the lowest election node.
    Leader,
}

/// The ZooKeeper session, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionView {
    /// No session yet (starting, or replacing an expired one).
    Connecting,
    /// Connected.
    Connected,
    /// The connection dropped; the session may still be alive.
    Disconnected,
}

/// The local JobManager, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobManagerView {
    /// Not running.
    Stopped,
    /// Started, not yet answering `ready_url`.
    Starting,
    /// Answering `ready_url`.
    Ready,
    /// Being stopped.
    Stopping,
    /// Waiting to be restarted after a failure.
    Backoff,
}

/// The parked JobManager of a standby, as shown to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParkedView {
    /// `parking` (started, not at its gate yet) or `parked` (at its gate, ready to release).
    pub state: ParkedState,
    /// Its pid, once known.
    pub pid: Option<u32>,
    /// Since when it is in this state (wall clock).
    #[serde(with = "optional_rfc3339")]
    pub since: Option<SystemTime>,
}

/// Where a parked JobManager is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkedState {
    /// Started, on its way to the gate.
    Parking,
    /// At its gate: ready to release.
    Parked,
}

impl ParkedView {
    /// The one-line text: "parked: pid N since T, ready to release" or "parking".
    pub fn text(&self) -> String {
        match (self.state, self.pid, self.since) {
            (ParkedState::Parked, Some(pid), Some(since)) => {
                format!("parked: pid {pid} since {}, ready to release", crate::walltime::format_system_time(since))
            }
            (ParkedState::Parked, pid, _) => {
                format!("parked: pid {}, ready to release", pid.map_or("?".to_string(), |p| p.to_string()))
            }
            (ParkedState::Parking, _, _) => "parking".to_string(),
        }
    }
}

/// A node ahead of this one in the election that no daemon will remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockedView {
    /// Its name under the election path.
    pub node: String,
    /// Why no daemon removes it.
    pub why: String,
    /// What the operator can do.
    pub remedy: String,
}

/// A snapshot of this node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    /// `node.id`.
    pub node: String,
    /// Leader or standby.
    pub role: RoleView,
    /// The leadership term when leader.
    pub epoch: Option<u64>,
    /// The ZooKeeper session.
    pub session: SessionView,
    /// The local JobManager.
    pub jobmanager: JobManagerView,
    /// The parked JobManager of this standby, if one exists (`jobmanager.standby = "parked"`).
    pub parked: Option<ParkedView>,
    /// When the server last answered (wall clock), if ever in this session.
    #[serde(with = "optional_rfc3339")]
    pub last_heard: Option<SystemTime>,
    /// When this node became leader (wall clock).
    #[serde(with = "optional_rfc3339")]
    pub leader_since: Option<SystemTime>,
    /// Maintenance mode: no failover, restart or stop on the daemons' own initiative.
    pub paused: bool,
    /// Local JobManager restarts since the daemon started.
    pub jobmanager_restarts: u64,
    /// The node that holds this one up in the election, while one does.
    pub election_blocked: Option<BlockedView>,
    /// How often this node found itself blocked in the election since the daemon started.
    pub election_blocked_total: u64,
    /// Starts whose clearing of Flink's dead leader latches failed or timed out.
    pub latch_clearing_failures: u64,
    /// Audit records that did not reach `log.audit_file` since the daemon started.
    pub audit_write_failures: u64,
    /// Failovers this node measured (as the new leader).
    #[serde(skip)]
    pub failovers: StatsSummary,
    /// The outage of each of those failovers, oldest first (the `/metrics` histogram).
    #[serde(skip)]
    pub outages: Vec<Duration>,
    /// Why the daemon is stopping on its own: a task of it died (`/health` answers 503).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

/// What goes into a [`NodeView`] besides the machine: what only the daemon's adapters know.
#[derive(Debug, Clone)]
pub struct NodeFacts<'a> {
    /// `node.id`.
    pub node: &'a str,
    /// `zookeeper.quorum`, for the remedy of a blocked election.
    pub quorum: &'a str,
    /// `election.path`, for the remedy of a blocked election.
    pub election_path: &'a str,
    /// A session exists (connected or not); `false` while one is being made.
    pub has_session: bool,
    /// Now on the machine's clock and on the wall clock, to show machine instants as wall times.
    pub now: (Instant, SystemTime),
    /// When this node last became leader (wall clock).
    pub leader_since: Option<SystemTime>,
    /// Audit records that did not reach `log.audit_file`.
    pub audit_write_failures: u64,
    /// Failovers this node measured.
    pub failovers: StatsSummary,
    /// Their outages, oldest first.
    pub outages: &'a [Duration],
    /// Why the daemon is stopping on its own, if a task of it died.
    pub failed: Option<String>,
}

impl NodeView {
    /// The snapshot of a node: its machine's state, shown as operators see it.
    pub fn of(machine: &Machine, facts: NodeFacts<'_>) -> NodeView {
        let session = match (facts.has_session, machine.is_disconnected()) {
            (false, _) => SessionView::Connecting,
            (true, true) => SessionView::Disconnected,
            (true, false) => SessionView::Connected,
        };
        let jobmanager = match machine.jobmanager() {
            JobManager::Stopped => JobManagerView::Stopped,
            JobManager::Preparing { .. } | JobManager::Spawning { .. } | JobManager::Starting { .. } => {
                JobManagerView::Starting
            }
            JobManager::Ready => JobManagerView::Ready,
            JobManager::Stopping { .. } => JobManagerView::Stopping,
            JobManager::Backoff { .. } => JobManagerView::Backoff,
        };
        let (role, epoch) = match machine.role() {
            Role::Leader { epoch } => (RoleView::Leader, Some(epoch)),
            Role::Standby => (RoleView::Standby, None),
        };
        let (mono_now, wall_now) = facts.now;
        let wall = |t: Instant| wall_now.checked_sub(mono_now.saturating_duration_since(t));
        let parked = match machine.parked() {
            Parked::AtGate { pid, since, .. } => {
                Some(ParkedView { state: ParkedState::Parked, pid: Some(pid), since: wall(since) })
            }
            Parked::Parking { pid, since, .. } => {
                Some(ParkedView { state: ParkedState::Parking, pid, since: wall(since) })
            }
            Parked::Absent | Parked::Backoff { .. } => None,
        };
        NodeView {
            parked,
            node: facts.node.to_string(),
            role,
            epoch,
            session,
            jobmanager,
            last_heard: machine.last_heard().and_then(wall),
            leader_since: if role == RoleView::Leader { facts.leader_since } else { None },
            paused: machine.is_paused(),
            jobmanager_restarts: machine.restarts_total(),
            election_blocked: machine.blocked().map(|b| BlockedView {
                node: b.name.clone(),
                why: b.why.to_string(),
                remedy: blocking::remedy(facts.quorum, facts.election_path, &b.name),
            }),
            election_blocked_total: machine.blocked_total(),
            latch_clearing_failures: machine.latch_failures(),
            audit_write_failures: facts.audit_write_failures,
            failovers: facts.failovers,
            outages: facts.outages.to_vec(),
            failed: facts.failed,
        }
    }

    /// The view of a daemon that has not connected yet.
    pub fn starting(node: &str) -> NodeView {
        NodeView {
            node: node.to_string(),
            role: RoleView::Standby,
            epoch: None,
            session: SessionView::Connecting,
            jobmanager: JobManagerView::Stopped,
            parked: None,
            last_heard: None,
            leader_since: None,
            paused: false,
            jobmanager_restarts: 0,
            election_blocked: None,
            election_blocked_total: 0,
            latch_clearing_failures: 0,
            audit_write_failures: 0,
            failovers: StatsSummary::default(),
            outages: Vec::new(),
            failed: None,
        }
    }

    /// True when this node leads and its JobManager is ready (`GET /leader` answers 200).
    pub fn serving(&self) -> bool {
        self.role == RoleView::Leader && self.jobmanager == JobManagerView::Ready
    }
}

mod optional_rfc3339 {
    use std::time::SystemTime;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::walltime::format_system_time(*t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{Event, Timings};

    fn facts(has_session: bool, now: (Instant, SystemTime)) -> NodeFacts<'static> {
        NodeFacts {
            node: "jm1",
            quorum: "zk1:2181",
            election_path: "/flink/leader",
            has_session,
            now,
            leader_since: Some(SystemTime::UNIX_EPOCH),
            audit_write_failures: 0,
            failovers: StatsSummary::default(),
            outages: &[],
            failed: None,
        }
    }

    fn machine() -> Machine {
        Machine::new(Timings::example())
    }

    #[test]
    fn a_node_without_a_session_is_a_connecting_standby() {
        let view = NodeView::of(&machine(), facts(false, (Instant::now(), SystemTime::now())));
        assert_eq!(view, NodeView { leader_since: None, ..NodeView::starting("jm1") });
    }

    #[test]
    fn a_leader_shows_its_term_its_starting_jobmanager_and_when_the_server_last_answered() {
        let (t0, wall) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let mut m = machine();
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(10), started_at: t0 });
        m.handle_event(t0, Event::Elected { epoch: 7 });
        let view = NodeView::of(&m, facts(true, (t0 + Duration::from_secs(2), wall)));
        assert_eq!((view.role, view.epoch, view.session), (RoleView::Leader, Some(7), SessionView::Connected));
        assert_eq!(view.jobmanager, JobManagerView::Starting);
        assert_eq!(view.last_heard, Some(wall - Duration::from_secs(2)));
        assert_eq!(view.leader_since, Some(SystemTime::UNIX_EPOCH));
        assert!(!view.serving());
    }

    #[test]
    fn a_parked_standby_shows_its_parked_jobmanager() {
        use crate::machine::Standby;
        let (t0, wall) = (Instant::now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000));
        let mut m = Machine::new(Timings::example()).with_standby(Standby::Parked);
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(10), started_at: t0 });
        let view = NodeView::of(&m, facts(true, (t0, wall)));
        assert_eq!(view.parked.as_ref().map(|p| p.text()), Some("parking".to_string()));
        m.handle_event(t0, Event::ParkedSpawned { park: 1, pid: 77, fingerprint: 1 });
        m.handle_event(t0 + Duration::from_secs(2), Event::ParkedAtGate { park: 1 });
        let view = NodeView::of(&m, facts(true, (t0 + Duration::from_secs(3), wall)));
        let parked = view.parked.unwrap();
        assert_eq!(
            (parked.state, parked.pid, parked.since),
            (ParkedState::Parked, Some(77), Some(wall - Duration::from_secs(1)))
        );
        assert!(parked.text().starts_with("parked: pid 77 since "), "{}", parked.text());
        assert!(parked.text().ends_with(", ready to release"));
    }
}
