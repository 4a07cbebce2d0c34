//! What the adapters tell the machine: the [`Event`]s of the session, the election, the
//! JobManager process, the operator's controls and the signals.

use std::time::{Duration, Instant};

use crate::blocking::ObservedChild;

/// Something that happened, reported by an adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A ZooKeeper session was established (first start or after an expiry).
    SessionStarted {
        /// The session timeout the server granted; the fence is computed from it.
        negotiated_timeout: Duration,
        /// When the connection attempt that created the session began: the server created the
        /// session after that, so it cannot expire before `started_at + negotiated_timeout`.
        started_at: Instant,
    },
    /// The server answered a request that was sent at `sent_at`: the session was alive then.
    HeardFromServer {
        /// When the answered request left this process.
        sent_at: Instant,
    },
    /// The client lost its connection; the session may still be alive on the server.
    SessionDisconnected,
    /// The client reconnected within the session.
    SessionReconnected,
    /// The client reports the session expired; a new session is needed.
    SessionExpired,
    /// Our election node is the lowest: this node leads.
    Elected {
        /// The sequence number of our election node; identifies this leadership term.
        epoch: u64,
    },
    /// Our election node is gone while we led (deleted by someone, or the session is gone).
    LeadershipLost,
    /// The JobManager process was started.
    JobManagerSpawned {
        /// Its process id.
        pid: u32,
    },
    /// The JobManager process could not be started at all (e.g. the command does not exist).
    JobManagerSpawnFailed {
        /// Why.
        error: String,
    },
    /// A probe of `ready_url` finished.
    ProbeResult {
        /// True when the URL answered 200.
        ok: bool,
    },
    /// The JobManager process exited and was reaped.
    JobManagerExited {
        /// Exit code, or 128 + signal number.
        code: i32,
    },
    /// SIGTERM or SIGINT: stop the JobManager, leave the election, exit.
    ShutdownRequested,
    /// Maintenance mode was switched on or off (the pause node appeared or went away).
    PauseChanged {
        /// True while paused.
        paused: bool,
    },
    /// The planned-handover request changed; `None` when there is none (or it was cleared).
    HandoverChanged(Option<HandoverRequest>),
    /// The election node was deleted and the session closed after a shutdown.
    LeftElection,
    /// The children of the election path, observed while this node waits to lead.
    ElectionObserved {
        /// Every child with what the adapter saw of it.
        children: Vec<ObservedChild>,
    },
    /// The guard of parked JobManager `park` started its JVM (it is not at the gate yet).
    ParkedSpawned {
        /// The park, as [`Action::ParkJobManager`](super::Action::ParkJobManager) named it.
        park: u64,
        /// The JVM's process id.
        pid: u32,
        /// The fingerprint of the Flink configuration the JVM was started with.
        fingerprint: u64,
    },
    /// Parked JobManager `park` reached its gate: it waits for the release byte and connects to
    /// nothing until then.
    ParkedAtGate {
        /// The park.
        park: u64,
    },
    /// Parked JobManager `park` exited (or could not be started) before its release.
    ParkedExited {
        /// The park.
        park: u64,
        /// Exit code, or 128 + signal number; `None` when it never started.
        code: Option<i32>,
        /// Why it never started, when it did not.
        error: Option<String>,
    },
    /// The fingerprint of the Flink configuration a JobManager started now would get, in answer
    /// to [`Action::ObserveFlinkConfig`](super::Action::ObserveFlinkConfig) (`None`: it cannot be
    /// rendered).
    FlinkConfigObserved {
        /// The fingerprint.
        fingerprint: Option<u64>,
    },
    /// The latch clearing of round `round` finished
    /// ([`Action::ClearLatches`](super::Action::ClearLatches)).
    LatchesCleared {
        /// The round.
        round: u64,
        /// Children of Flink's latch path deleted.
        deleted: u32,
        /// Children left alone (their names are not a latch node's).
        skipped: u32,
    },
    /// The latch clearing of round `round` failed (it is not retried before this start).
    LatchClearingFailed {
        /// The round.
        round: u64,
        /// Why.
        error: String,
    },
}

/// A planned handover (`flink-ha-supervisor handover`), as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandoverRequest {
    /// The leadership term the request was made against: only that leader hands over.
    pub from_epoch: u64,
    /// Who is to lead afterwards.
    pub target: HandoverTarget,
}

/// Who a handover is for, relative to this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandoverTarget {
    /// Any other contender.
    Any,
    /// This node.
    ThisNode,
    /// Another contender that is alive (a request for a dead one is dropped by the adapter).
    OtherNode,
}
