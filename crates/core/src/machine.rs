//! The supervisor's decisions, as a pure state machine without IO.
//!
//! Adapters feed it [`Event`]s together with the current time and carry out the [`Action`]s it
//! returns; [`Machine::poll_timeout`] tells them when to call [`Machine::handle_timeout`] next.
//! Everything that decides "which action on which event, at which time" lives here, so it can be
//! tested exhaustively with time passed in (see the tests at the bottom).
//!
//! The fencing rule: the JobManager may run only while this node holds leadership *and* the
//! ZooKeeper session is provably alive, i.e. `now < last_heard + fence_after` where `last_heard`
//! is the send time of the newest request the server answered (see `timing.rs`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::blocking::{self, Blocker, ObservedChild};
use crate::timing;

/// How often readiness is polled while the JobManager starts (health probes use
/// `health_interval` once it is ready).
pub const READINESS_POLL: Duration = Duration::from_millis(250);

/// First delay before a crashed JobManager is restarted; doubled for each restart in the window.
pub const RESTART_BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Upper bound of the restart delay.
pub const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(8);

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
}

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
    /// Probe `ready_url` once and report [`Event::ProbeResult`].
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
    /// Delete our election node and close the session (shutdown); report [`Event::LeftElection`].
    LeaveElection,
    /// Exit the process with status 0.
    Exit,
    /// Something worth an audit record happened.
    Report(Report),
}

/// Facts worth a log line, for operators and `audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// This node became leader.
    Elected { epoch: u64 },
    /// The JobManager process started.
    JobManagerSpawned { pid: u32, attempt: u32 },
    /// The JobManager answered `ready_url` with 200.
    JobManagerReady { startup: Duration },
    /// The JobManager exited without being asked to.
    JobManagerExited { code: i32 },
    /// The JobManager was stopped on our request.
    JobManagerStopped { reason: StopReason, code: i32 },
    /// A failed JobManager will be restarted after `delay`.
    JobManagerRestartScheduled { delay: Duration, restarts_in_window: u32 },
    /// The JobManager could not be spawned.
    JobManagerSpawnFailed { error: String },
    /// Too many restarts within the window: giving leadership away.
    Resigned { restarts_in_window: u32 },
    /// The JobManager is being stopped because the session could not be proven alive in time.
    Fenced { silent_for: Duration },
    /// Leadership is lost.
    LeadershipLost,
    /// The session's connection dropped.
    SessionDisconnected,
    /// The session's connection came back.
    SessionReconnected { disconnected_for: Duration },
    /// The session expired.
    SessionExpired,
    /// The negotiated session timeout cannot keep the fencing promise with this `stop_grace`.
    SessionTimeoutTooShort { negotiated: Duration },
    /// Shutting down.
    Shutdown,
    /// Maintenance mode on: no failover, restart or stop on the daemon's own initiative.
    Paused,
    /// Maintenance mode off.
    Resumed,
    /// Something the daemon would have done but does not, because it is paused.
    HeldByPause {
        /// What it would have done.
        what: &'static str,
    },
    /// A planned handover: this leader stops its JobManager and steps down.
    HandingOver,
    /// Elected while a handover names another node: resigning at once, JobManager untouched.
    SteppedAside { epoch: u64 },
    /// The handover this node completed is cleared.
    HandoverCompleted,
    /// A node that no daemon will remove sits ahead of ours: this node can never be elected
    /// while it exists.
    ElectionBlocked(Blocker),
    /// The node that blocked the election is gone (or this node leads).
    ElectionUnblocked {
        /// The node that blocked it.
        node: String,
    },
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
    /// Spawn requested; waiting for the adapter to report the pid.
    Spawning {
        /// When the spawn was requested.
        since: Instant,
    },
    /// Running, not yet answering `ready_url`.
    Starting {
        /// When the spawn was requested.
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
}

/// The supervisor's state machine. See the module documentation.
#[derive(Debug)]
pub struct Machine {
    timings: Timings,
    role: Role,
    jm: JobManager,
    /// How long after `last_heard` the JobManager may run; `None` until a session exists or
    /// when the negotiated timeout cannot keep the promise (then this node never runs it).
    fence_after: Option<Duration>,
    /// Send time of the newest request the server answered.
    last_heard: Option<Instant>,
    /// Set by `SessionDisconnected`, cleared by `SessionReconnected`.
    disconnected_since: Option<Instant>,
    /// Restart times within `restart_window`, oldest first.
    restarts: VecDeque<Instant>,
    /// Consecutive failed probes of a ready JobManager.
    probe_failures: u32,
    /// A probe is in flight; no other is started until it reports.
    probing: bool,
    /// When the next probe is due.
    next_probe: Option<Instant>,
    /// A resignation waits for the JobManager to be stopped.
    resign_pending: Option<ResignReason>,
    /// Maintenance mode.
    paused: bool,
    /// The current handover request, if any.
    handover: Option<HandoverRequest>,
    /// This node fulfils the handover request once its JobManager is ready.
    clear_handover_when_ready: bool,
    /// Shutdown requested.
    shutting_down: bool,
    /// The fence deadline most recently given to the guard, to renew only on change.
    lease_sent: Option<Instant>,
    /// Restarts scheduled since the start, for metrics.
    restarts_total: u64,
    /// The node that holds this node up in the election, while one does.
    blocked: Option<Blocker>,
    /// How often this node found itself blocked since the start, for metrics.
    blocked_total: u64,
}

impl Machine {
    /// A machine for a node that has not joined the election yet.
    pub fn new(timings: Timings) -> Self {
        Machine {
            timings,
            role: Role::Standby,
            jm: JobManager::Stopped,
            fence_after: None,
            last_heard: None,
            disconnected_since: None,
            restarts: VecDeque::new(),
            probe_failures: 0,
            probing: false,
            next_probe: None,
            resign_pending: None,
            paused: false,
            handover: None,
            clear_handover_when_ready: false,
            shutting_down: false,
            lease_sent: None,
            restarts_total: 0,
            blocked: None,
            blocked_total: 0,
        }
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The JobManager's state.
    pub fn jobmanager(&self) -> JobManager {
        self.jm
    }

    /// Send time of the newest request the server answered, if any in this session.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// True between a `SessionDisconnected` and the next `SessionReconnected`.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected_since.is_some()
    }

    /// True in maintenance mode.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Local JobManager restarts scheduled since this process started.
    pub fn restarts_total(&self) -> u64 {
        self.restarts_total
    }

    /// The node that holds this node up in the election, while one does.
    pub fn blocked(&self) -> Option<&Blocker> {
        self.blocked.as_ref()
    }

    /// How often this node found itself blocked in the election since this process started.
    pub fn blocked_total(&self) -> u64 {
        self.blocked_total
    }

    /// Records who blocks this node now (`None`: nobody) and reports a change.
    fn set_blocked(&mut self, blocker: Option<Blocker>, out: &mut Vec<Action>) {
        if self.blocked == blocker {
            return;
        }
        let before = std::mem::replace(&mut self.blocked, blocker.clone());
        match blocker {
            Some(blocker) => {
                self.blocked_total += 1;
                out.push(Action::Report(Report::ElectionBlocked(blocker)));
            }
            None => {
                if let Some(before) = before {
                    out.push(Action::Report(Report::ElectionUnblocked { node: before.name }));
                }
            }
        }
    }

    /// The instant until which the JobManager may run, if it may run at all.
    pub fn fence_deadline(&self) -> Option<Instant> {
        Some(self.last_heard? + self.fence_after?)
    }

    /// True while this node leads and its session is provably alive.
    fn has_authority(&self, now: Instant) -> bool {
        matches!(self.role, Role::Leader { .. })
            && !self.shutting_down
            && self.fence_deadline().is_some_and(|d| now < d)
    }

    /// The next instant at which [`Machine::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if self.jm.is_live() && !matches!(self.jm, JobManager::Stopping { .. }) {
            consider(self.fence_deadline());
        }
        match self.jm {
            JobManager::Starting { since } => {
                if !self.paused {
                    consider(Some(since + self.timings.start_timeout));
                }
                if !self.probing {
                    consider(self.next_probe);
                }
            }
            JobManager::Ready if !self.probing => consider(self.next_probe),
            JobManager::Backoff { until } => consider(Some(until)),
            _ => {}
        }
        next
    }

    /// Acts on the passage of time: fencing, start timeouts, probes, restarts.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.check_fence(now, &mut out);
        match self.jm {
            JobManager::Starting { since } if now >= since + self.timings.start_timeout && !self.paused => {
                self.stop(StopReason::Unhealthy, self.timings.stop_grace, &mut out);
            }
            JobManager::Starting { .. } | JobManager::Ready => {
                if !self.probing && self.next_probe.is_some_and(|t| now >= t) {
                    self.probing = true;
                    self.next_probe = None;
                    out.push(Action::Probe);
                }
            }
            JobManager::Backoff { until } if now >= until => {
                self.jm = JobManager::Stopped;
                self.start_if_allowed(now, &mut out);
            }
            _ => {}
        }
        out
    }

    /// Acts on an event reported by an adapter.
    pub fn handle_event(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::SessionStarted { negotiated_timeout, started_at } => {
                self.fence_after = timing::fence_after(negotiated_timeout, self.timings.stop_grace);
                if self.fence_after.is_none() {
                    out.push(Action::Report(Report::SessionTimeoutTooShort { negotiated: negotiated_timeout }));
                }
                self.last_heard = Some(started_at);
                self.disconnected_since = None;
            }
            Event::HeardFromServer { sent_at } => {
                if self.last_heard.is_none_or(|t| sent_at > t) {
                    self.last_heard = Some(sent_at);
                }
                self.renew_lease(&mut out);
                if self.jm == JobManager::Stopped {
                    // Authority may be back after a fence: start again if we still lead.
                    self.start_if_allowed(now, &mut out);
                }
            }
            Event::SessionDisconnected => {
                if self.disconnected_since.is_none() {
                    self.disconnected_since = Some(now);
                    out.push(Action::Report(Report::SessionDisconnected));
                }
            }
            Event::SessionReconnected => {
                if let Some(since) = self.disconnected_since.take() {
                    out.push(Action::Report(Report::SessionReconnected { disconnected_for: now - since }));
                }
            }
            Event::SessionExpired => {
                out.push(Action::Report(Report::SessionExpired));
                self.lose_leadership(&mut out);
                self.last_heard = None;
                self.fence_after = None;
                self.disconnected_since = None;
                if !self.shutting_down {
                    out.push(Action::NewSession);
                }
            }
            Event::Elected { epoch } => {
                if self.shutting_down {
                    return out;
                }
                let handover = self.handover.filter(|h| !self.paused && h.from_epoch != epoch);
                if handover.is_some_and(|h| h.target == HandoverTarget::OtherNode) {
                    out.push(Action::Report(Report::SteppedAside { epoch }));
                    out.push(Action::Resign { reason: ResignReason::StepAside });
                    return out;
                }
                self.role = Role::Leader { epoch };
                self.set_blocked(None, &mut out);
                self.restarts.clear();
                self.clear_handover_when_ready = handover.is_some();
                out.push(Action::Report(Report::Elected { epoch }));
                if self.paused {
                    out.push(Action::Report(Report::HeldByPause { what: "start the JobManager" }));
                }
                self.start_if_allowed(now, &mut out);
            }
            Event::LeadershipLost => {
                if matches!(self.role, Role::Leader { .. }) {
                    self.lose_leadership(&mut out);
                }
            }
            Event::JobManagerSpawned { pid } => {
                if let JobManager::Spawning { since } = self.jm {
                    self.jm = JobManager::Starting { since };
                    self.probe_failures = 0;
                    self.next_probe = Some(now + READINESS_POLL);
                    let attempt = self.restarts.len() as u32;
                    out.push(Action::Report(Report::JobManagerSpawned { pid, attempt }));
                }
            }
            Event::JobManagerSpawnFailed { error } => {
                out.push(Action::Report(Report::JobManagerSpawnFailed { error }));
                self.jm = JobManager::Stopped;
                self.after_failure(now, &mut out);
            }
            Event::ProbeResult { ok } => {
                self.probing = false;
                self.on_probe(now, ok, &mut out);
            }
            Event::JobManagerExited { code } => self.on_exit(now, code, &mut out),
            Event::ShutdownRequested => {
                if self.shutting_down {
                    return out;
                }
                self.shutting_down = true;
                out.push(Action::Report(Report::Shutdown));
                match self.jm {
                    JobManager::Stopping { .. } => {}
                    j if j.is_live() => self.stop(StopReason::Shutdown, self.timings.stop_grace, &mut out),
                    _ => {
                        self.jm = JobManager::Stopped;
                        out.push(Action::LeaveElection);
                    }
                }
            }
            Event::PauseChanged { paused } => {
                if paused != self.paused {
                    self.paused = paused;
                    out.push(Action::Report(if paused { Report::Paused } else { Report::Resumed }));
                    if !paused {
                        self.probe_failures = 0;
                        self.start_if_allowed(now, &mut out);
                        self.on_handover(&mut out);
                    }
                }
            }
            Event::HandoverChanged(request) => {
                self.handover = request;
                if request.is_none() {
                    self.clear_handover_when_ready = false;
                }
                self.on_handover(&mut out);
            }
            Event::LeftElection => {
                self.role = Role::Standby;
                out.push(Action::Exit);
            }
            Event::ElectionObserved { children } => {
                // A leader holds the lowest node: nothing is ahead of it.
                if self.role == Role::Standby {
                    self.set_blocked(blocking::blocking_us(&children), &mut out);
                }
            }
        }
        self.check_fence(now, &mut out);
        out
    }

    /// Acts on the current handover request, if any.
    fn on_handover(&mut self, out: &mut Vec<Action>) {
        let (Some(request), Role::Leader { epoch }) = (self.handover, self.role) else { return };
        if self.paused || self.shutting_down || self.resign_pending.is_some() {
            return;
        }
        if request.from_epoch == epoch {
            if request.target != HandoverTarget::ThisNode {
                out.push(Action::Report(Report::HandingOver));
                if self.jm.is_live() && !matches!(self.jm, JobManager::Stopping { .. }) {
                    self.stop(StopReason::Handover, self.timings.stop_grace, out);
                }
                self.resign(ResignReason::Handover, out);
            } else {
                self.fulfil_handover_when_ready(out);
            }
        } else if request.target == HandoverTarget::OtherNode {
            // Elected before the request reached us: let the named node pass.
            out.push(Action::Report(Report::SteppedAside { epoch }));
            if self.jm.is_live() && !matches!(self.jm, JobManager::Stopping { .. }) {
                self.stop(StopReason::Handover, self.timings.stop_grace, out);
            }
            self.resign(ResignReason::StepAside, out);
        } else {
            self.fulfil_handover_when_ready(out);
        }
    }

    fn fulfil_handover_when_ready(&mut self, out: &mut Vec<Action>) {
        if self.jm == JobManager::Ready {
            self.clear_handover_when_ready = false;
            out.push(Action::Report(Report::HandoverCompleted));
            out.push(Action::ClearHandover);
        } else {
            self.clear_handover_when_ready = true;
        }
    }

    fn on_probe(&mut self, now: Instant, ok: bool, out: &mut Vec<Action>) {
        match self.jm {
            JobManager::Starting { since } => {
                if ok {
                    self.jm = JobManager::Ready;
                    self.probe_failures = 0;
                    out.push(Action::Report(Report::JobManagerReady { startup: now - since }));
                    self.next_probe = Some(now + self.timings.health_interval);
                    if self.clear_handover_when_ready {
                        self.fulfil_handover_when_ready(out);
                    }
                } else {
                    self.next_probe = Some(now + READINESS_POLL);
                }
            }
            JobManager::Ready => {
                if ok {
                    self.probe_failures = 0;
                } else {
                    self.probe_failures += 1;
                }
                if self.probe_failures >= self.timings.health_failures && !self.paused {
                    self.stop(StopReason::Unhealthy, self.timings.stop_grace, out);
                } else {
                    if self.probe_failures == self.timings.health_failures {
                        out.push(Action::Report(Report::HeldByPause { what: "stop the unhealthy JobManager" }));
                    }
                    self.next_probe = Some(now + self.timings.health_interval);
                }
            }
            _ => {}
        }
    }

    fn on_exit(&mut self, now: Instant, code: i32, out: &mut Vec<Action>) {
        let previous = self.jm;
        self.jm = JobManager::Stopped;
        self.probing = false;
        self.next_probe = None;
        match previous {
            JobManager::Stopping { reason } => {
                out.push(Action::Report(Report::JobManagerStopped { reason, code }));
                if self.shutting_down {
                    out.push(Action::LeaveElection);
                } else if reason == StopReason::Unhealthy {
                    self.after_failure(now, out);
                } else if let Some(reason) = self.resign_pending {
                    self.resign(reason, out);
                }
            }
            JobManager::Stopped | JobManager::Backoff { .. } => {}
            _ if matches!(self.role, Role::Leader { .. }) && self.fence_deadline().is_some_and(|d| now >= d) => {
                // The guard's lease ran out before this loop got to fence (it was blocked or
                // paused): the guard stopped the JobManager, which is a fence, not a crash.
                let silent_for = self.last_heard.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
                out.push(Action::Report(Report::Fenced { silent_for }));
                out.push(Action::Report(Report::JobManagerStopped { reason: StopReason::Fenced, code }));
            }
            _ => {
                out.push(Action::Report(Report::JobManagerExited { code }));
                if self.shutting_down {
                    out.push(Action::LeaveElection);
                } else {
                    self.after_failure(now, out);
                }
            }
        }
    }

    /// A JobManager failed (exited, unhealthy, did not start): restart with backoff, or resign
    /// past the restart limit.
    fn after_failure(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.has_authority(now) {
            return;
        }
        if self.paused {
            out.push(Action::Report(Report::HeldByPause { what: "restart the JobManager" }));
            return;
        }
        while self.restarts.front().is_some_and(|t| now.duration_since(*t) > self.timings.restart_window) {
            self.restarts.pop_front();
        }
        let restarts = self.restarts.len() as u32;
        if restarts >= self.timings.restart_limit {
            out.push(Action::Report(Report::Resigned { restarts_in_window: restarts }));
            self.resign(ResignReason::CrashLoop, out);
            return;
        }
        self.restarts.push_back(now);
        self.restarts_total += 1;
        let delay = RESTART_BACKOFF_BASE.saturating_mul(1 << restarts.min(16)).min(RESTART_BACKOFF_MAX);
        out.push(Action::Report(Report::JobManagerRestartScheduled { delay, restarts_in_window: restarts + 1 }));
        self.jm = JobManager::Backoff { until: now + delay };
    }

    fn resign(&mut self, reason: ResignReason, out: &mut Vec<Action>) {
        if self.jm.is_live() {
            self.resign_pending = Some(reason);
            return;
        }
        self.resign_pending = None;
        self.clear_handover_when_ready = false;
        self.jm = JobManager::Stopped;
        self.role = Role::Standby;
        out.push(Action::Resign { reason });
    }

    fn lose_leadership(&mut self, out: &mut Vec<Action>) {
        if matches!(self.role, Role::Leader { .. }) {
            out.push(Action::Report(Report::LeadershipLost));
        }
        self.role = Role::Standby;
        self.resign_pending = None;
        self.clear_handover_when_ready = false;
        match self.jm {
            JobManager::Backoff { .. } => self.jm = JobManager::Stopped,
            JobManager::Stopping { reason } if reason != StopReason::LeadershipLost => {
                // Already stopping gracefully: escalate to SIGKILL now.
                self.stop(StopReason::LeadershipLost, Duration::ZERO, out);
            }
            j if j.is_live() && !matches!(j, JobManager::Stopping { .. }) => {
                self.stop(StopReason::LeadershipLost, Duration::ZERO, out);
            }
            _ => {}
        }
    }

    fn check_fence(&mut self, now: Instant, out: &mut Vec<Action>) {
        let running = self.jm.is_live() && !matches!(self.jm, JobManager::Stopping { .. });
        if running && !self.has_authority(now) && matches!(self.role, Role::Leader { .. }) && !self.shutting_down {
            let silent_for = self.last_heard.map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
            out.push(Action::Report(Report::Fenced { silent_for }));
            self.stop(StopReason::Fenced, self.timings.stop_grace, out);
        }
        if matches!(self.jm, JobManager::Backoff { .. }) && !self.has_authority(now) {
            self.jm = JobManager::Stopped;
        }
    }

    fn start_if_allowed(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.jm != JobManager::Stopped || !self.has_authority(now) || self.resign_pending.is_some() || self.paused {
            return;
        }
        let lease_until = self.fence_deadline().expect("authority implies a fence deadline");
        self.jm = JobManager::Spawning { since: now };
        self.lease_sent = Some(lease_until);
        out.push(Action::SpawnJobManager { lease_until });
    }

    fn renew_lease(&mut self, out: &mut Vec<Action>) {
        if !self.jm.is_live() || matches!(self.jm, JobManager::Stopping { .. }) {
            return;
        }
        if let Some(until) = self.fence_deadline() {
            if self.lease_sent != Some(until) {
                self.lease_sent = Some(until);
                out.push(Action::RenewLease { until });
            }
        }
    }

    fn stop(&mut self, reason: StopReason, grace: Duration, out: &mut Vec<Action>) {
        self.jm = JobManager::Stopping { reason };
        self.probing = false;
        self.next_probe = None;
        self.lease_sent = None;
        out.push(Action::StopJobManager { reason, grace });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Duration = Duration::from_secs(10);

    fn timings() -> Timings {
        Timings {
            start_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(3),
            health_interval: Duration::from_secs(2),
            health_failures: 3,
            restart_limit: 2,
            restart_window: Duration::from_secs(300),
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A machine with a session at `t0` that has just been elected; returns it with the lease.
    fn leader(t0: Instant) -> (Machine, Instant) {
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        let out = m.handle_event(t0, Event::Elected { epoch: 7 });
        let lease = out
            .iter()
            .find_map(|a| match a {
                Action::SpawnJobManager { lease_until } => Some(*lease_until),
                _ => None,
            })
            .expect("an elected node with a live session spawns the JobManager");
        (m, lease)
    }

    /// A leader whose JobManager is ready at `t0 + 1s`.
    fn ready_leader(t0: Instant) -> Machine {
        let (mut m, _) = leader(t0);
        m.handle_event(t0, Event::JobManagerSpawned { pid: 42 });
        let out = m.handle_timeout(t0 + READINESS_POLL);
        assert_eq!(out, vec![Action::Probe]);
        m.handle_event(t0 + secs(1.0), Event::ProbeResult { ok: true });
        assert_eq!(m.jobmanager(), JobManager::Ready);
        m
    }

    fn stops(out: &[Action]) -> Vec<(StopReason, Duration)> {
        out.iter()
            .filter_map(|a| match a {
                Action::StopJobManager { reason, grace } => Some((*reason, *grace)),
                _ => None,
            })
            .collect()
    }

    fn has(out: &[Action], wanted: &Action) -> bool {
        out.iter().any(|a| a == wanted)
    }

    #[test]
    fn standby_never_spawns() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        let mut out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        out.extend(m.handle_event(t0 + secs(1.0), Event::HeardFromServer { sent_at: t0 + secs(1.0) }));
        out.extend(m.handle_timeout(t0 + secs(100.0)));
        assert!(out.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. })), "{out:?}");
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn elected_spawns_with_lease_at_the_fence_deadline() {
        let t0 = Instant::now();
        let (m, lease) = leader(t0);
        assert_eq!(lease, t0 + SESSION - Duration::from_secs(3) - timing::FENCE_MARGIN);
        assert_eq!(m.role(), Role::Leader { epoch: 7 });
    }

    #[test]
    fn readiness_is_polled_until_200_then_health_at_its_interval() {
        let t0 = Instant::now();
        let (mut m, _) = leader(t0);
        let out = m.handle_event(t0, Event::JobManagerSpawned { pid: 42 });
        assert!(has(&out, &Action::Report(Report::JobManagerSpawned { pid: 42, attempt: 0 })));
        assert_eq!(m.poll_timeout(), Some(t0 + READINESS_POLL));
        assert_eq!(m.handle_timeout(t0 + READINESS_POLL), vec![Action::Probe]);
        // No second probe while one is in flight.
        assert!(m.handle_timeout(t0 + READINESS_POLL * 3).is_empty());
        m.handle_event(t0 + secs(0.3), Event::ProbeResult { ok: false });
        assert_eq!(m.poll_timeout(), Some(t0 + secs(0.3) + READINESS_POLL));
        m.handle_timeout(t0 + secs(0.6));
        let out = m.handle_event(t0 + secs(0.7), Event::ProbeResult { ok: true });
        assert!(has(&out, &Action::Report(Report::JobManagerReady { startup: secs(0.7) })));
        assert_eq!(m.poll_timeout(), Some(t0 + secs(0.7) + Duration::from_secs(2)).min(m.fence_deadline()));
    }

    #[test]
    fn silence_fences_at_the_deadline_not_before() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let deadline = m.fence_deadline().unwrap();
        let out = m.handle_event(t0 + secs(2.0), Event::SessionDisconnected);
        assert!(stops(&out).is_empty(), "disconnect alone does not stop: {out:?}");
        // Probes go on; the JobManager keeps serving until the deadline.
        let before = m.handle_timeout(deadline - secs(0.001));
        assert!(stops(&before).is_empty(), "{before:?}");
        m.handle_event(deadline - secs(0.001), Event::ProbeResult { ok: true });
        let out = m.handle_timeout(deadline);
        assert_eq!(stops(&out), vec![(StopReason::Fenced, Duration::from_secs(3))]);
        assert!(has(&out, &Action::Report(Report::Fenced { silent_for: deadline - t0 })));
        // Dead before the session could expire: deadline + grace + margin = last heard + timeout.
        assert_eq!(deadline + Duration::from_secs(3) + timing::FENCE_MARGIN, t0 + SESSION);
    }

    #[test]
    fn hearing_from_the_server_moves_the_deadline_and_renews_the_lease() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0 + secs(4.0), Event::HeardFromServer { sent_at: t0 + secs(3.5) });
        let until = t0 + secs(3.5) + Duration::from_secs(5);
        assert!(has(&out, &Action::RenewLease { until }), "{out:?}");
        assert_eq!(m.fence_deadline(), Some(until));
        // An older answer arriving late never moves the deadline back.
        let out = m.handle_event(t0 + secs(4.1), Event::HeardFromServer { sent_at: t0 + secs(2.0) });
        assert!(out.iter().all(|a| !matches!(a, Action::RenewLease { .. })));
        assert_eq!(m.fence_deadline(), Some(until));
        assert!(stops(&m.handle_timeout(t0 + secs(8.0))).is_empty());
    }

    #[test]
    fn reconnect_in_time_keeps_leadership_and_the_jobmanager() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        m.handle_event(t0 + secs(1.0), Event::SessionDisconnected);
        let out = m.handle_event(t0 + secs(3.0), Event::SessionReconnected);
        assert!(has(&out, &Action::Report(Report::SessionReconnected { disconnected_for: secs(2.0) })));
        m.handle_event(t0 + secs(3.1), Event::HeardFromServer { sent_at: t0 + secs(3.0) });
        assert!(stops(&m.handle_timeout(t0 + secs(7.0))).is_empty());
        assert_eq!(m.role(), Role::Leader { epoch: 7 });
        assert_eq!(m.jobmanager(), JobManager::Ready);
    }

    #[test]
    fn after_a_fence_the_jobmanager_returns_when_the_session_proves_alive() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let deadline = m.fence_deadline().unwrap();
        m.handle_timeout(deadline);
        let out = m.handle_event(deadline + secs(3.0), Event::JobManagerExited { code: 143 });
        assert!(has(&out, &Action::Report(Report::JobManagerStopped { reason: StopReason::Fenced, code: 143 })));
        assert!(out.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. })), "no restart without authority");
        let later = deadline + secs(3.5);
        let out = m.handle_event(later, Event::HeardFromServer { sent_at: later });
        assert!(has(&out, &Action::SpawnJobManager { lease_until: later + Duration::from_secs(5) }), "{out:?}");
    }

    #[test]
    fn expiry_kills_at_once_and_asks_for_a_new_session() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0 + secs(1.0), Event::SessionExpired);
        assert_eq!(stops(&out), vec![(StopReason::LeadershipLost, Duration::ZERO)]);
        assert!(has(&out, &Action::NewSession));
        assert_eq!(m.role(), Role::Standby);
        let out = m.handle_event(t0 + secs(1.1), Event::JobManagerExited { code: 137 });
        assert!(out.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. } | Action::Resign { .. })));
    }

    #[test]
    fn leadership_lost_while_stopping_escalates_to_sigkill() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let deadline = m.fence_deadline().unwrap();
        m.handle_timeout(deadline);
        let out = m.handle_event(deadline + secs(1.0), Event::LeadershipLost);
        assert_eq!(stops(&out), vec![(StopReason::LeadershipLost, Duration::ZERO)]);
    }

    #[test]
    fn a_crashed_jobmanager_is_restarted_with_backoff() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0 + secs(2.0), Event::JobManagerExited { code: 1 });
        assert!(has(&out, &Action::Report(Report::JobManagerExited { code: 1 })));
        assert!(has(
            &out,
            &Action::Report(Report::JobManagerRestartScheduled { delay: RESTART_BACKOFF_BASE, restarts_in_window: 1 })
        ));
        assert_eq!(m.poll_timeout(), Some(t0 + secs(2.0) + RESTART_BACKOFF_BASE));
        assert!(m.handle_timeout(t0 + secs(2.4)).is_empty());
        let out = m.handle_timeout(t0 + secs(2.5));
        assert!(matches!(out.as_slice(), [Action::SpawnJobManager { .. }]), "{out:?}");
    }

    #[test]
    fn a_crash_loop_resigns_after_the_restart_limit() {
        let t0 = Instant::now();
        let (mut m, _) = leader(t0);
        let mut now = t0;
        let mut resigned = false;
        for round in 0..=timings().restart_limit {
            // Keep the session provably alive.
            m.handle_event(now, Event::HeardFromServer { sent_at: now });
            m.handle_event(now, Event::JobManagerSpawned { pid: 100 + round });
            now += secs(1.0);
            let out = m.handle_event(now, Event::JobManagerExited { code: 1 });
            if has(&out, &Action::Resign { reason: ResignReason::CrashLoop }) {
                assert_eq!(round, timings().restart_limit, "resigned after {round} restarts");
                assert!(has(&out, &Action::Report(Report::Resigned { restarts_in_window: 2 })));
                resigned = true;
                break;
            }
            now += secs(10.0);
            m.handle_event(now, Event::HeardFromServer { sent_at: now });
            let out = m.handle_timeout(now);
            assert!(matches!(out.as_slice(), [Action::SpawnJobManager { .. }]), "{out:?}");
        }
        assert!(resigned);
        assert_eq!(m.role(), Role::Standby);
        assert_eq!(m.jobmanager(), JobManager::Stopped);
    }

    #[test]
    fn restarts_outside_the_window_are_forgotten() {
        let t0 = Instant::now();
        let mut t = timings();
        t.restart_limit = 1;
        t.restart_window = Duration::from_secs(60);
        let mut m = Machine::new(t);
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        m.handle_event(t0, Event::Elected { epoch: 1 });
        m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
        m.handle_event(t0 + secs(1.0), Event::JobManagerExited { code: 1 });
        let later = t0 + secs(100.0);
        m.handle_event(later, Event::HeardFromServer { sent_at: later });
        m.handle_timeout(later);
        m.handle_event(later, Event::JobManagerSpawned { pid: 2 });
        let out = m.handle_event(later + secs(1.0), Event::JobManagerExited { code: 1 });
        assert!(
            !out.iter().any(|a| matches!(a, Action::Resign { .. })),
            "the first restart is out of the window: {out:?}"
        );
    }

    #[test]
    fn failed_health_probes_count_as_a_failure() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let mut now = t0 + secs(1.0);
        for i in 0..3 {
            m.handle_event(now, Event::HeardFromServer { sent_at: now });
            now += Duration::from_secs(2);
            assert_eq!(m.handle_timeout(now), vec![Action::Probe]);
            let out = m.handle_event(now, Event::ProbeResult { ok: false });
            if i < 2 {
                assert!(stops(&out).is_empty());
            } else {
                assert_eq!(stops(&out), vec![(StopReason::Unhealthy, Duration::from_secs(3))]);
            }
        }
        let out = m.handle_event(now + secs(1.0), Event::JobManagerExited { code: 143 });
        assert!(out.iter().any(|a| matches!(a, Action::Report(Report::JobManagerRestartScheduled { .. }))), "{out:?}");
    }

    #[test]
    fn one_good_probe_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let mut now = t0 + secs(1.0);
        for ok in [false, false, true, false, false] {
            m.handle_event(now, Event::HeardFromServer { sent_at: now });
            now += Duration::from_secs(2);
            m.handle_timeout(now);
            let out = m.handle_event(now, Event::ProbeResult { ok });
            assert!(stops(&out).is_empty());
        }
    }

    #[test]
    fn a_jobmanager_that_never_gets_ready_is_stopped_at_the_start_timeout() {
        let t0 = Instant::now();
        let mut t = timings();
        t.start_timeout = Duration::from_secs(3);
        let mut m = Machine::new(t);
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        m.handle_event(t0, Event::Elected { epoch: 1 });
        m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
        let out = m.handle_timeout(t0 + secs(3.0));
        assert_eq!(stops(&out), vec![(StopReason::Unhealthy, Duration::from_secs(3))]);
    }

    #[test]
    fn spawn_failure_counts_as_a_failure() {
        let t0 = Instant::now();
        let (mut m, _) = leader(t0);
        let out = m.handle_event(t0, Event::JobManagerSpawnFailed { error: "no such file".into() });
        assert!(out.iter().any(|a| matches!(a, Action::Report(Report::JobManagerRestartScheduled { .. }))));
    }

    #[test]
    fn shutdown_of_a_leader_stops_first_then_leaves_then_exits() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0 + secs(2.0), Event::ShutdownRequested);
        assert_eq!(stops(&out), vec![(StopReason::Shutdown, Duration::from_secs(3))]);
        assert!(!has(&out, &Action::LeaveElection), "the node stays until the JobManager is gone");
        let out = m.handle_event(t0 + secs(4.0), Event::JobManagerExited { code: 0 });
        assert!(has(&out, &Action::LeaveElection));
        assert!(!out.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
        assert_eq!(m.handle_event(t0 + secs(4.1), Event::LeftElection), vec![Action::Exit]);
    }

    #[test]
    fn shutdown_of_a_standby_leaves_at_once_and_ignores_a_late_election() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        let out = m.handle_event(t0, Event::ShutdownRequested);
        assert!(has(&out, &Action::LeaveElection));
        assert!(m.handle_event(t0, Event::Elected { epoch: 3 }).is_empty());
    }

    #[test]
    fn shutdown_during_backoff_leaves_without_restarting() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        m.handle_event(t0 + secs(2.0), Event::JobManagerExited { code: 1 });
        let out = m.handle_event(t0 + secs(2.1), Event::ShutdownRequested);
        assert!(has(&out, &Action::LeaveElection));
        assert!(m.handle_timeout(t0 + secs(10.0)).is_empty());
    }

    #[test]
    fn a_negotiated_timeout_too_short_for_the_grace_never_runs_the_jobmanager() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        let out =
            m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(4), started_at: t0 });
        assert!(has(&out, &Action::Report(Report::SessionTimeoutTooShort { negotiated: Duration::from_secs(4) })));
        let out = m.handle_event(t0, Event::Elected { epoch: 1 });
        assert!(!out.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
    }

    #[test]
    fn elected_with_a_stale_session_waits_for_proof_of_life() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        let late = t0 + secs(6.0);
        let out = m.handle_event(late, Event::Elected { epoch: 1 });
        assert!(!out.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
        let out = m.handle_event(late, Event::HeardFromServer { sent_at: late });
        assert!(out.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
    }

    #[test]
    fn the_fence_applies_while_the_jobmanager_is_still_starting() {
        let t0 = Instant::now();
        let (mut m, lease) = leader(t0);
        m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
        assert_eq!(m.poll_timeout(), Some(t0 + READINESS_POLL));
        let mut now = t0;
        let mut fenced = false;
        while now <= lease {
            now = m.poll_timeout().unwrap();
            let out = m.handle_timeout(now);
            if !stops(&out).is_empty() {
                assert_eq!(stops(&out), vec![(StopReason::Fenced, Duration::from_secs(3))]);
                fenced = true;
                break;
            }
            if out.contains(&Action::Probe) {
                m.handle_event(now, Event::ProbeResult { ok: false });
            }
        }
        assert!(fenced);
        assert_eq!(now, lease);
    }

    fn spawned(out: &[Action]) -> bool {
        out.iter().any(|a| matches!(a, Action::SpawnJobManager { .. }))
    }

    #[test]
    fn paused_a_crashed_jobmanager_is_not_restarted_until_resume() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        assert!(has(&m.handle_event(t0, Event::PauseChanged { paused: true }), &Action::Report(Report::Paused)));
        let out = m.handle_event(t0 + secs(1.0), Event::JobManagerExited { code: 1 });
        assert!(has(&out, &Action::Report(Report::HeldByPause { what: "restart the JobManager" })), "{out:?}");
        m.handle_event(t0 + secs(1.5), Event::HeardFromServer { sent_at: t0 + secs(1.5) });
        assert!(!spawned(&m.handle_timeout(t0 + secs(20.0))));
        let out = m.handle_event(t0 + secs(2.0), Event::PauseChanged { paused: false });
        assert!(has(&out, &Action::Report(Report::Resumed)));
        assert!(spawned(&out), "resume starts the leader's JobManager: {out:?}");
    }

    #[test]
    fn paused_a_new_leader_does_not_start_its_jobmanager() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        m.handle_event(t0, Event::PauseChanged { paused: true });
        let out = m.handle_event(t0, Event::Elected { epoch: 9 });
        assert!(has(&out, &Action::Report(Report::HeldByPause { what: "start the JobManager" })));
        assert!(!spawned(&out));
        assert_eq!(m.role(), Role::Leader { epoch: 9 });
        assert!(spawned(&m.handle_event(t0 + secs(1.0), Event::PauseChanged { paused: false })));
    }

    #[test]
    fn paused_unhealthy_or_slow_jobmanagers_are_left_alone_but_fencing_still_applies() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        m.handle_event(t0, Event::PauseChanged { paused: true });
        let mut now = t0 + secs(1.0);
        for _ in 0..5 {
            m.handle_event(now, Event::HeardFromServer { sent_at: now });
            now += Duration::from_secs(2);
            assert_eq!(m.handle_timeout(now), vec![Action::Probe]);
            assert!(stops(&m.handle_event(now, Event::ProbeResult { ok: false })).is_empty());
        }
        // Silence from ZooKeeper still fences: safety does not pause.
        let deadline = m.fence_deadline().unwrap();
        let out = m.handle_timeout(deadline);
        assert_eq!(stops(&out), vec![(StopReason::Fenced, Duration::from_secs(3))]);
    }

    #[test]
    fn paused_a_start_timeout_neither_stops_nor_spins() {
        let t0 = Instant::now();
        let (mut m, _) = leader(t0);
        m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
        m.handle_event(t0, Event::PauseChanged { paused: true });
        let late = t0 + timings().start_timeout + secs(1.0);
        m.handle_event(late, Event::HeardFromServer { sent_at: late });
        assert!(stops(&m.handle_timeout(late)).is_empty());
        assert!(m.poll_timeout().is_some_and(|t| t > late), "nothing due now: the loop must not spin");
    }

    fn request(from_epoch: u64, target: HandoverTarget) -> Event {
        Event::HandoverChanged(Some(HandoverRequest { from_epoch, target }))
    }

    #[test]
    fn a_handover_stops_the_jobmanager_then_resigns() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0 + secs(1.0), request(7, HandoverTarget::Any));
        assert!(has(&out, &Action::Report(Report::HandingOver)));
        assert_eq!(stops(&out), vec![(StopReason::Handover, Duration::from_secs(3))]);
        assert!(!out.iter().any(|a| matches!(a, Action::Resign { .. })), "not before the JobManager is gone");
        let out = m.handle_event(t0 + secs(2.0), Event::JobManagerExited { code: 0 });
        assert!(has(&out, &Action::Resign { reason: ResignReason::Handover }), "{out:?}");
        assert!(!spawned(&out));
        assert_eq!(m.role(), Role::Standby);
    }

    #[test]
    fn a_handover_against_another_term_or_naming_the_leader_changes_nothing_but_is_fulfilled() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let out = m.handle_event(t0, request(7, HandoverTarget::ThisNode));
        assert!(stops(&out).is_empty());
        assert!(has(&out, &Action::ClearHandover));
        let out = m.handle_event(t0, request(3, HandoverTarget::Any));
        assert!(stops(&out).is_empty(), "an old request does not move a newer leader: {out:?}");
    }

    #[test]
    fn elected_while_a_handover_names_another_node_steps_aside_without_a_jobmanager() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        m.handle_event(t0, request(7, HandoverTarget::OtherNode));
        let out = m.handle_event(t0, Event::Elected { epoch: 8 });
        assert_eq!(
            out,
            vec![Action::Report(Report::SteppedAside { epoch: 8 }), Action::Resign { reason: ResignReason::StepAside }]
        );
        assert_eq!(m.role(), Role::Standby);
    }

    #[test]
    fn the_handover_target_clears_the_request_once_its_jobmanager_is_ready() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        m.handle_event(t0, request(7, HandoverTarget::ThisNode));
        let out = m.handle_event(t0, Event::Elected { epoch: 8 });
        assert!(spawned(&out));
        assert!(!has(&out, &Action::ClearHandover));
        m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
        m.handle_timeout(t0 + READINESS_POLL);
        let out = m.handle_event(t0 + secs(1.0), Event::ProbeResult { ok: true });
        assert!(has(&out, &Action::ClearHandover), "{out:?}");
    }

    #[test]
    fn a_handover_waits_while_paused() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        m.handle_event(t0, Event::PauseChanged { paused: true });
        assert!(stops(&m.handle_event(t0, request(7, HandoverTarget::Any))).is_empty());
        let out = m.handle_event(t0 + secs(1.0), Event::PauseChanged { paused: false });
        assert_eq!(stops(&out), vec![(StopReason::Handover, Duration::from_secs(3))]);
    }

    #[test]
    fn an_exit_after_the_fence_deadline_is_the_guards_fence_not_a_crash() {
        let t0 = Instant::now();
        let mut m = ready_leader(t0);
        let deadline = m.fence_deadline().unwrap();
        // The loop was blocked past the deadline; the first thing it sees is the guard's stop.
        let out = m.handle_event(deadline + secs(1.0), Event::JobManagerExited { code: 143 });
        assert!(has(&out, &Action::Report(Report::Fenced { silent_for: deadline + secs(1.0) - t0 })), "{out:?}");
        assert!(has(&out, &Action::Report(Report::JobManagerStopped { reason: StopReason::Fenced, code: 143 })));
        assert!(!out.iter().any(|a| matches!(a, Action::Report(Report::JobManagerExited { .. }))));
        assert_eq!(m.jobmanager(), JobManager::Stopped);
    }
    fn observed(names: &[(&str, bool)]) -> Event {
        let children = names
            .iter()
            .map(|(name, persistent)| ObservedChild {
                name: name.to_string(),
                data: Vec::new(),
                persistent: *persistent,
                ours: name.contains("ours"),
            })
            .collect();
        Event::ElectionObserved { children }
    }

    #[test]
    fn a_standby_behind_a_foreign_node_reports_the_block_once_and_its_end() {
        let t0 = Instant::now();
        let mut m = Machine::new(timings());
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
        let blocked = observed(&[("x-latch-0000000000", true), ("_c_ours-latch-0000000003", false)]);
        let out = m.handle_event(t0, blocked.clone());
        let report = Report::ElectionBlocked(Blocker {
            name: "x-latch-0000000000".into(),
            why: blocking::Why::Persistent,
            first: true,
        });
        assert_eq!(out, [Action::Report(report)]);
        assert_eq!(m.blocked().map(|b| b.name.as_str()), Some("x-latch-0000000000"));
        assert_eq!(m.handle_event(t0, blocked.clone()), [], "no second report for the same node");
        assert_eq!(m.blocked_total(), 1);
        let out = m.handle_event(t0, observed(&[("_c_ours-latch-0000000003", false)]));
        assert_eq!(out, [Action::Report(Report::ElectionUnblocked { node: "x-latch-0000000000".into() })]);
        assert_eq!(m.blocked(), None);
        // Blocked again, then elected (someone deleted it): leading clears it.
        m.handle_event(t0, blocked);
        assert_eq!(m.blocked_total(), 2);
        let out = m.handle_event(t0, Event::Elected { epoch: 3 });
        assert!(out.contains(&Action::Report(Report::ElectionUnblocked { node: "x-latch-0000000000".into() })));
        assert!(m.blocked().is_none());
    }

    #[test]
    fn a_leader_ignores_what_it_observes_behind_it() {
        let t0 = Instant::now();
        let (mut m, _) = leader(t0);
        let out = m.handle_event(t0, observed(&[("x-latch-0000000000", true)]));
        assert!(out.iter().all(|a| !matches!(a, Action::Report(Report::ElectionBlocked(_)))), "{out:?}");
    }
}
