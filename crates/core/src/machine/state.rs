//! What the machine keeps about the node: its role, its JobManager's lifecycle, and the
//! timings it decides with.

use std::time::{Duration, Instant};

use super::StopReason;

/// The timings the machine needs, taken from the validated configuration.
#[derive(Debug, Clone)]
pub struct Timings {
    /// `jobmanager.start_timeout`: how long the JobManager may take to answer `ready_url` with 200.
    pub start_timeout: Duration,
    /// `jobmanager.stop_grace`: SIGTERM to SIGKILL.
    pub stop_grace: Duration,
    /// `jobmanager.health_interval`: time between health probes of a ready JobManager.
    pub health_interval: Duration,
    /// `jobmanager.health_failures`: consecutive failed probes that count as a failed JobManager.
    pub health_failures: u32,
    /// `jobmanager.restart_limit`: restarts allowed within `restart_window` before resigning.
    pub restart_limit: u32,
    /// `jobmanager.restart_window`.
    pub restart_window: Duration,
    /// `zookeeper.session_timeout`: the session timeout the daemon asks the server for.
    pub session_timeout: Duration,
    /// `zookeeper.tick_time`: the servers' `tickTime`, which sizes the fence margin.
    pub tick_time: Duration,
}

impl Timings {
    /// Timings for tests: a 60 s start timeout, a 3 s grace, probes every 2 s (3 failures), two
    /// restarts in five minutes, a 10 s session asked of servers with a 2 s tickTime.
    #[cfg(any(test, feature = "fuzz"))]
    pub fn example() -> Timings {
        Timings {
            start_timeout: std::time::Duration::from_secs(60),
            stop_grace: std::time::Duration::from_secs(3),
            health_interval: std::time::Duration::from_secs(2),
            health_failures: 3,
            restart_limit: 2,
            restart_window: std::time::Duration::from_secs(300),
            session_timeout: std::time::Duration::from_secs(10),
            tick_time: crate::timing::DEFAULT_TICK_TIME,
        }
    }
}

/// The leadership role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Waiting in the election queue (or between sessions).
    Standby,
    /// Holding the lowest election node.
    Leader {
        /// The election node's sequence number.
        epoch: u64,
    },
}

/// The JobManager's lifecycle as the machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobManager {
    /// Not running.
    Stopped,
    /// A start is decided; the steps before it (Flink's dead latches cleared, the parked
    /// JobManager's configuration checked) are under way. No process of it exists yet.
    Preparing {
        /// When the start was decided.
        since: Instant,
    },
    /// Spawn (or the release of the parked JobManager) requested; waiting for the adapter to
    /// report the pid.
    Spawning {
        /// When the spawn or the release was requested.
        since: Instant,
    },
    /// Running, not yet answering `ready_url`.
    Starting {
        /// When the spawn or the release was requested.
        since: Instant,
    },
    /// Running and answering `ready_url`.
    Ready,
    /// A stop was requested; waiting for it to exit.
    Stopping {
        /// Why.
        reason: StopReason,
    },
    /// Exited on its own or was stopped as unhealthy; restart when the backoff is over.
    Backoff {
        /// When to restart.
        until: Instant,
    },
}

impl JobManager {
    /// True while a process may exist.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobManager::Spawning { .. } | JobManager::Starting { .. } | JobManager::Ready | JobManager::Stopping { .. }
        )
    }

    /// True while a process may exist that nobody asked to stop yet: the fence applies to it,
    /// its lease is renewed, and a stop is still to be sent.
    pub fn is_running(self) -> bool {
        self.is_live() && !matches!(self, JobManager::Stopping { .. })
    }
}

/// How a standby waits: with nothing started (`cold`), or with a JobManager parked at its gate
/// (`parked`), which the node releases instead of starting one when it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Standby {
    /// Nothing runs on a standby; the leader spawns its JobManager.
    #[default]
    Cold,
    /// A standby keeps a JobManager parked at its gate; the leader releases it.
    Parked,
}

/// The parked JobManager of this node: a resource with its own lifecycle, apart from the
/// JobManager that serves. A parked JobManager connects to nothing until it is released, and a
/// released one is the node's JobManager ([`JobManager`]), no longer parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parked {
    /// None is parked.
    #[default]
    Absent,
    /// Park requested; not at the gate yet.
    Parking {
        /// The park's number.
        park: u64,
        /// When the park was requested.
        since: Instant,
        /// Its pid, once the guard reported it.
        pid: Option<u32>,
        /// The fingerprint of its Flink configuration, once reported.
        fingerprint: Option<u64>,
    },
    /// At its gate, ready to release.
    AtGate {
        /// The park's number.
        park: u64,
        /// Its pid.
        pid: u32,
        /// When the park was requested.
        requested: Instant,
        /// When it reached the gate.
        since: Instant,
        /// The fingerprint of its Flink configuration, if reported.
        fingerprint: Option<u64>,
    },
    /// The last one died before its release; the next is parked at `until`.
    Backoff {
        /// When to park again.
        until: Instant,
    },
}

impl Parked {
    /// The park's number while one exists (parking or at the gate).
    pub fn park(self) -> Option<u64> {
        match self {
            Parked::Parking { park, .. } | Parked::AtGate { park, .. } => Some(park),
            Parked::Absent | Parked::Backoff { .. } => None,
        }
    }

    /// The fingerprint the parked JobManager was started with, if one exists and reported it.
    pub(crate) fn fingerprint(self) -> Option<u64> {
        match self {
            Parked::Parking { fingerprint, .. } | Parked::AtGate { fingerprint, .. } => fingerprint,
            Parked::Absent | Parked::Backoff { .. } => None,
        }
    }
}
