//! What the machine asks of the adapters: the [`Action`]s, and [`Output`], which carries them
//! apart from the [`Report`]s that are only logged.

use std::time::{Duration, Instant};

use super::Report;

/// What one call of a `handle_*` method of the machine returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// What must be done, in this order.
    pub actions: Vec<Action>,
    /// What is only to be logged; nothing is to be done because of a report.
    pub reports: Vec<Report>,
}

impl Output {
    /// True when there is neither an action nor a report.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.reports.is_empty()
    }

    /// Appends another output's actions and reports to this one's.
    pub fn extend(&mut self, other: Output) {
        self.actions.extend(other.actions);
        self.reports.extend(other.reports);
    }
}

/// What the adapters must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the JobManager, guarded by a lease that ends at `lease_until`.
    SpawnJobManager {
        /// The fence deadline: the guard stops the JobManager then unless renewed.
        lease_until: Instant,
    },
    /// Tell the guard of the running JobManager the new fence deadline.
    RenewLease {
        /// The new fence deadline.
        until: Instant,
    },
    /// Stop the JobManager: SIGTERM to its process group, SIGKILL after `grace`, reap.
    StopJobManager {
        /// Why (for the log).
        reason: StopReason,
        /// Zero when another node may already be starting: SIGKILL at once.
        grace: Duration,
    },
    /// Probe `ready_url` once and report [`Event::ProbeResult`](super::Event::ProbeResult).
    Probe,
    /// Delete our election node (the JobManager is stopped) and rejoin at the back of the queue.
    Resign {
        /// Why.
        reason: ResignReason,
    },
    /// Delete the handover request: it is fulfilled (this node leads and its JobManager is ready).
    ClearHandover,
    /// Drop the expired session, make a new one and rejoin the election.
    NewSession,
    /// Delete our election node and close the session (shutdown); report
    /// [`Event::LeftElection`](super::Event::LeftElection).
    LeaveElection,
    /// Exit the process with status 0.
    Exit,
    /// A leadership term begins: take the leader record over for it (state `starting`).
    BeginTerm {
        /// The new term.
        epoch: u64,
    },
    /// The term's JobManager is ready for the first time: write `serving` and measure the
    /// failover with these parts.
    TermReady {
        /// From the election to the JobManager's spawn.
        election_to_spawn: Duration,
        /// From the spawn to the first answer of `ready_url`.
        spawn_to_ready: Duration,
    },
    /// The term's JobManager is being stopped on purpose: write `stopping` with this reason.
    TermStopping {
        /// A planned stop's reason ([`StopReason::as_str`] is the record's `reason`).
        reason: StopReason,
    },
    /// The term ends in order: write `released` with this reason (the leader record's `reason`)
    /// and wait for the write, before the election node goes.
    ReleaseTerm {
        /// `resigned`, `handover`, `step_aside` or `shutdown`.
        reason: &'static str,
    },
    /// The term ends without a last write: leadership is already gone.
    DropTerm,
    /// Run a role-change hook (`hooks.on_leader` or `hooks.on_standby`), without waiting for it.
    RunHook(Hook),
    /// Start a JobManager parked at its gate (no lease: it can do nothing until released), and
    /// report it with `park` ([`Event::ParkedSpawned`](super::Event::ParkedSpawned),
    /// `ParkedAtGate`, `ParkedExited`).
    ParkJobManager {
        /// The park's number, carried by its events.
        park: u64,
    },
    /// Release parked JobManager `park`: from now on it is this node's JobManager, guarded by
    /// a lease that ends at `lease_until`; report its pid as
    /// [`Event::JobManagerSpawned`](super::Event::JobManagerSpawned). Only ever emitted where
    /// [`Action::SpawnJobManager`] would be.
    ReleaseParked {
        /// The park.
        park: u64,
        /// The fence deadline, as for a spawn.
        lease_until: Instant,
    },
    /// Kill parked JobManager `park` (it was never released); its exit is reported as
    /// [`Event::ParkedExited`](super::Event::ParkedExited).
    DiscardParked {
        /// The park.
        park: u64,
    },
    /// Render Flink's configuration as a new JobManager would get it now and report its
    /// fingerprint at once ([`Event::FlinkConfigObserved`](super::Event::FlinkConfigObserved)).
    ObserveFlinkConfig,
    /// Delete the children of Flink's leader latch path (they belong to dead JobManagers: no
    /// JobManager runs anywhere else while this node may start one), then report
    /// [`Event::LatchesCleared`](super::Event::LatchesCleared) or `LatchClearingFailed`.
    ClearLatches {
        /// The round, carried by its event.
        round: u64,
    },
    /// Abandon latch clearing round `round`: send no further request for it (its time is up,
    /// or the start it prepared is off).
    CancelLatchClearing {
        /// The round.
        round: u64,
    },
}

/// Why this node gives leadership away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResignReason {
    /// Too many JobManager failures within the restart window.
    CrashLoop,
    /// A planned handover asked this leader to step down.
    Handover,
    /// Elected while a handover names another node: let it pass.
    StepAside,
}

impl ResignReason {
    /// The name written into the leader record when the term is released.
    pub fn as_str(self) -> &'static str {
        match self {
            ResignReason::CrashLoop => "resigned",
            ResignReason::Handover => "handover",
            ResignReason::StepAside => "step_aside",
        }
    }
}

/// Why the JobManager is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The session could not be proven alive in time: stopped before it could expire.
    Fenced,
    /// Leadership is lost for certain; another node may already be starting.
    LeadershipLost,
    /// It failed its health probes or did not become ready within `start_timeout`.
    Unhealthy,
    /// The daemon is shutting down.
    Shutdown,
    /// A planned handover.
    Handover,
}

impl StopReason {
    /// The reason's name, as written into the leader record.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Fenced => "fenced",
            StopReason::LeadershipLost => "leadership_lost",
            StopReason::Unhealthy => "unhealthy",
            StopReason::Shutdown => "shutdown",
            StopReason::Handover => "handover",
        }
    }

    /// True for a stop the operator asked for (shutdown, handover), which the leader record
    /// announces as `stopping` so that the next leader counts the outage from it.
    pub(crate) fn is_planned(self) -> bool {
        matches!(self, StopReason::Shutdown | StopReason::Handover)
    }
}

/// One run of a role-change hook, as the machine decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook {
    /// Which hook.
    pub kind: HookKind,
    /// Why (`FLINK_HA_EVENT`).
    pub cause: HookCause,
    /// The term gained or given up (`FLINK_HA_EPOCH`).
    pub epoch: u64,
}

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// `hooks.on_leader`: this node leads.
    OnLeader,
    /// `hooks.on_standby`: this node no longer leads.
    OnStandby,
}

impl HookKind {
    /// The key's name, as in the configuration and the logs.
    pub fn name(self) -> &'static str {
        match self {
            HookKind::OnLeader => "on_leader",
            HookKind::OnStandby => "on_standby",
        }
    }

    /// The role the hook announces (`FLINK_HA_ROLE`).
    pub fn role(self) -> &'static str {
        match self {
            HookKind::OnLeader => "leader",
            HookKind::OnStandby => "standby",
        }
    }
}

/// Why a hook runs (`FLINK_HA_EVENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookCause {
    /// `on_leader`: this node was elected.
    Elected,
    /// `on_leader`: the JobManager runs again after a fence, in the same term.
    Recovered,
    /// `on_standby`: the election node or the session is gone.
    LeadershipLost,
    /// `on_standby`: the JobManager kept failing; leadership given away.
    Resigned,
    /// `on_standby`: a planned handover.
    Handover,
    /// `on_standby`: no proof that the session is alive; the JobManager is being stopped.
    Fenced,
    /// `on_standby`: the daemon shuts down.
    Shutdown,
}

impl HookCause {
    /// The cause's name, as the hook sees it in `FLINK_HA_EVENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            HookCause::Elected => "elected",
            HookCause::Recovered => "recovered",
            HookCause::LeadershipLost => "leadership_lost",
            HookCause::Resigned => "resigned",
            HookCause::Handover => "handover",
            HookCause::Fenced => "fenced",
            HookCause::Shutdown => "shutdown",
        }
    }
}
