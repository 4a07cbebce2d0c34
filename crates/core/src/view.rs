//! What this node looks like from outside: the snapshot the daemon publishes after every turn of
//! its loop, for the HTTP endpoint (`/health`, `/leader`, `/status`, `/metrics`) and systemd.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::failover::StatsSummary;

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

impl NodeView {
    /// The view of a daemon that has not connected yet.
    pub fn starting(node: &str) -> NodeView {
        NodeView {
            node: node.to_string(),
            role: RoleView::Standby,
            epoch: None,
            session: SessionView::Connecting,
            jobmanager: JobManagerView::Stopped,
            last_heard: None,
            leader_since: None,
            paused: false,
            jobmanager_restarts: 0,
            election_blocked: None,
            election_blocked_total: 0,
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
