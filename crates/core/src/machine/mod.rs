//! The supervisor's decisions, as a pure state machine without IO.
//!
//! Adapters feed it [`Event`]s together with the current time, carry out the [`Action`]s it
//! returns and log the [`Report`]s (the two come apart in an [`Output`]); [`Machine::poll_timeout`]
//! tells them when to call [`Machine::handle_timeout`] next. Everything that decides "which
//! action on which event, at which time" lives here, so it can be tested exhaustively with time
//! passed in (see `tests.rs`).
//!
//! The fencing rule, kept by [`Fence`]: the JobManager may run only while this node holds
//! leadership *and* the ZooKeeper session is provably alive, i.e. `now < last_heard +
//! fence_after` where `last_heard` is the send time of the newest request the server answered
//! (see `timing.rs`).
//!
//! Layout: `events.rs` (what adapters report), `actions.rs` (what they must do), `reports.rs`
//! (what they log), `state.rs` (role, JobManager, timings), `fence.rs` (the fencing rule),
//! `timers.rs` (the named deadlines), `jobmanager.rs` (probes, exits, restarts), `handover.rs`
//! (planned handovers), `term.rs` (the leader record's lifecycle), `announce.rs` (which hook
//! runs when), `status.rs` (the one-line status systemd shows), `parked.rs` (the steps before a
//! start, the start itself and the parked JobManager of a standby).

mod actions;
mod announce;
mod events;
mod fence;
mod handover;
mod jobmanager;
mod parked;
mod reports;
mod state;
mod status;
mod term;
#[cfg(test)]
mod tests;
mod timers;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use actions::{Action, Hook, HookCause, HookKind, Output, ResignReason, StopReason};
pub use events::{Event, HandoverRequest, HandoverTarget};
pub(crate) use fence::Fence;
use parked::DEFAULT_PARK_TIMEOUT;
#[cfg(test)]
use parked::{DRAIN_TIMEOUT, PARK_CHECK_INTERVAL};
pub use reports::Report;
pub use state::{JobManager, Parked, Role, Standby, Timings};
pub use status::status_line;
pub(crate) use timers::Timer;

use crate::blocking::{self, Blocker};
use crate::timing;
use announce::Announcer;
use parked::Prestart;
use term::TermClock;

/// How often readiness is polled while the JobManager starts (health probes use
/// `health_interval` once it is ready).
pub(crate) const READINESS_POLL: Duration = Duration::from_millis(250);

/// First delay before a crashed JobManager is restarted; doubled for each restart in the window.
pub(crate) const RESTART_BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Upper bound of the restart delay.
pub(crate) const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(8);

/// The supervisor's state machine. See the module documentation.
///
/// Its methods come in three kinds, as in a sans-IO protocol implementation:
/// - getters (`role`, `jobmanager`, `fence`, …) read the state and change nothing;
/// - `handle_event` and `handle_timeout` take what happened with the current time and return
///   the [`Output`] to carry out (its actions, in order) and to log (its reports);
/// - `poll_timeout` says when `handle_timeout` is next due.
///
/// The order of a turn of the adapter's loop: wait for an event or for `poll_timeout`'s
/// instant; call `handle_event` or `handle_timeout` with the current time; log the reports;
/// carry out the actions, feeding the events they cause (a spawn failure, leaving the election)
/// back through `handle_event` the same way; read the getters for what the adapter publishes;
/// then call `poll_timeout` again, since any `handle_*` call may move it.
#[derive(Debug)]
pub struct Machine {
    timings: Timings,
    role: Role,
    jm: JobManager,
    /// Whether the session is provably alive, and the lease the guard holds.
    fence: Fence,
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
    /// Restarts scheduled since the start, for metrics.
    restarts_total: u64,
    /// The node that holds this node up in the election, while one does.
    blocked: Option<Blocker>,
    /// How often this node found itself blocked since the start, for metrics.
    blocked_total: u64,
    /// The leader record's term and the instants it measures.
    term: TermClock,
    /// What the hooks last announced.
    announcer: Announcer,
    /// How a standby waits: cold or with a parked JobManager.
    standby: Standby,
    /// The parked JobManager.
    parked: Parked,
    /// Parks requested since the start (the last park's number).
    parks: u64,
    /// Parked JobManagers lost in a row, for the backoff.
    park_failures: u32,
    /// The park released last: its late exit is the node's JobManager's.
    released: Option<u64>,
    /// Discarded parks whose exit is not reported yet, with when they were discarded: they may
    /// still hold the JobManager's ports, so no park or start happens until they are gone or
    /// [`parked::DRAIN_TIMEOUT`] has passed.
    draining: Vec<(u64, Instant)>,
    /// How long a park may take to reach its gate before it is killed and lost.
    park_timeout: Duration,
    /// When the parked JobManager's configuration is next checked.
    next_park_check: Option<Instant>,
    /// How long the latch clearing before a start may take; `None`: no clearing.
    latch_timeout: Option<Duration>,
    /// Latch clearing rounds since the start (the last round's number).
    latch_rounds: u64,
    /// Latch clearing rounds that failed or timed out, for metrics.
    latch_failures: u64,
    /// What the start being prepared waits for.
    prestart: Prestart,
}

impl Machine {
    /// A machine for a node that has not joined the election yet.
    pub fn new(timings: Timings) -> Self {
        Machine {
            timings,
            role: Role::Standby,
            jm: JobManager::Stopped,
            fence: Fence::default(),
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
            restarts_total: 0,
            blocked: None,
            blocked_total: 0,
            term: TermClock::default(),
            announcer: Announcer::default(),
            standby: Standby::Cold,
            parked: Parked::Absent,
            parks: 0,
            park_failures: 0,
            released: None,
            draining: Vec::new(),
            park_timeout: DEFAULT_PARK_TIMEOUT,
            next_park_check: None,
            latch_timeout: None,
            latch_rounds: 0,
            latch_failures: 0,
            prestart: Prestart::default(),
        }
    }

    /// The same machine with standbys waiting as `standby` says (cold by default).
    pub fn with_standby(mut self, standby: Standby) -> Self {
        self.standby = standby;
        self
    }

    /// The same machine giving a parked JobManager `timeout` to reach its gate (60 s by default)
    /// before it kills it and parks another with backoff.
    pub fn with_park_timeout(mut self, timeout: Duration) -> Self {
        self.park_timeout = timeout;
        self
    }

    /// The same machine clearing Flink's dead leader latches before every start, waiting for it
    /// at most `timeout` (off by default).
    pub fn with_latch_clearing(mut self, timeout: Duration) -> Self {
        self.latch_timeout = Some(timeout);
        self
    }

    /// The parked JobManager.
    pub fn parked(&self) -> Parked {
        self.parked
    }

    /// How a standby waits.
    pub fn standby(&self) -> Standby {
        self.standby
    }

    /// Latch clearing rounds that failed or timed out since this process started.
    pub fn latch_failures(&self) -> u64 {
        self.latch_failures
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The JobManager's state.
    pub fn jobmanager(&self) -> JobManager {
        self.jm
    }

    /// The fence: whether the session is provably alive, and until when.
    pub(crate) fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Send time of the newest request the server answered, if any in this session.
    pub fn last_heard(&self) -> Option<Instant> {
        self.fence.last_heard()
    }

    /// The instant until which the JobManager may run, if it may run at all.
    #[cfg(test)]
    pub(crate) fn fence_deadline(&self) -> Option<Instant> {
        self.fence.deadline()
    }

    /// True between a `SessionDisconnected` and the next `SessionReconnected`.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected_since.is_some()
    }

    /// True in maintenance mode.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// True once a shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
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

    /// The instant a timer is due at, if it is armed.
    pub(crate) fn timer(&self, timer: Timer) -> Option<Instant> {
        match (timer, self.jm) {
            (Timer::Fence, jm) if jm.is_running() => self.fence.deadline(),
            (Timer::StartTimeout, JobManager::Starting { since }) if !self.paused => {
                Some(since + self.timings.start_timeout)
            }
            (Timer::Probe, JobManager::Starting { .. } | JobManager::Ready) if !self.probing => self.next_probe,
            (Timer::Backoff, JobManager::Backoff { until }) => Some(until),
            (Timer::LatchTimeout, _) => self.latch_deadline(),
            (Timer::ParkBackoff, _) => match self.parked {
                Parked::Backoff { until } => Some(until),
                _ => None,
            },
            (Timer::ParkCheck, _) => self.next_park_check,
            (Timer::ParkTimeout, _) => self.park_deadline(),
            (Timer::DrainTimeout, _) => self.drain_deadline(),
            _ => None,
        }
    }

    /// The next instant at which [`Machine::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        Timer::ALL.into_iter().filter_map(|timer| self.timer(timer)).min()
    }

    /// Acts on the passage of time: fencing, start timeouts, probes, restarts.
    pub fn handle_timeout(&mut self, now: Instant) -> Output {
        let mut out = Output::default();
        self.check_fence(now, &mut out);
        match self.jm {
            JobManager::Starting { since } if now >= since + self.timings.start_timeout && !self.paused => {
                self.stop(StopReason::Unhealthy, self.timings.stop_grace, &mut out);
            }
            JobManager::Starting { .. } | JobManager::Ready
                if !self.probing && self.next_probe.is_some_and(|t| now >= t) =>
            {
                self.probing = true;
                self.next_probe = None;
                out.actions.push(Action::Probe);
            }
            JobManager::Backoff { until } if now >= until => {
                self.jm = JobManager::Stopped;
                self.start_if_allowed(now, &mut out);
            }
            JobManager::Preparing { .. } if self.latch_deadline().is_some_and(|t| now >= t) => {
                self.on_latch_timeout(now, &mut out);
            }
            _ => {}
        }
        self.park_timeouts(now, &mut out);
        self.settle(now, &mut out);
        out
    }

    /// Acts on an event reported by an adapter.
    pub fn handle_event(&mut self, now: Instant, event: Event) -> Output {
        let mut out = Output::default();
        match event {
            Event::SessionStarted { negotiated_timeout, started_at } => {
                let (configured, requested) = (self.timings.tick_time, self.timings.session_timeout);
                let tick = timing::fencing_tick_time(configured, requested, negotiated_timeout);
                if tick > configured {
                    let report =
                        Report::TickTimeTooLow { configured, implied: tick, requested, granted: negotiated_timeout };
                    self.report(now, report, &mut out);
                }
                if !self.fence.start_session(negotiated_timeout, self.timings.stop_grace, tick, started_at) {
                    let max_stop_grace = timing::max_stop_grace(negotiated_timeout, tick);
                    let report = Report::SessionTimeoutTooShort { negotiated: negotiated_timeout, max_stop_grace };
                    self.report(now, report, &mut out);
                }
                self.disconnected_since = None;
            }
            Event::HeardFromServer { sent_at } => {
                self.fence.heard(sent_at);
                if self.jm.is_running() {
                    if let Some(until) = self.fence.lease_to_renew() {
                        out.actions.push(Action::RenewLease { until });
                    }
                }
                if self.jm == JobManager::Stopped {
                    // Authority may be back after a fence: start again if we still lead.
                    self.start_if_allowed(now, &mut out);
                }
            }
            Event::SessionDisconnected => {
                if self.disconnected_since.is_none() {
                    self.disconnected_since = Some(now);
                    self.report(now, Report::SessionDisconnected, &mut out);
                }
            }
            Event::SessionReconnected => {
                if let Some(since) = self.disconnected_since.take() {
                    self.report(now, Report::SessionReconnected { disconnected_for: now - since }, &mut out);
                }
            }
            Event::SessionExpired => {
                self.report(now, Report::SessionExpired, &mut out);
                self.lose_leadership(now, &mut out);
                self.fence.end_session();
                self.disconnected_since = None;
                if !self.shutting_down {
                    out.actions.push(Action::NewSession);
                }
            }
            Event::Elected { epoch } => {
                if self.shutting_down {
                    return out;
                }
                let handover = self.handover.filter(|h| !self.paused && h.from_epoch != epoch);
                if handover.is_some_and(|h| h.target == HandoverTarget::OtherNode) {
                    self.report(now, Report::SteppedAside { epoch }, &mut out);
                    self.push_resign(ResignReason::StepAside, &mut out);
                    return out;
                }
                self.role = Role::Leader { epoch };
                self.set_blocked(now, None, &mut out);
                self.restarts.clear();
                self.clear_handover_when_ready = handover.is_some();
                self.fence.clear_fenced();
                self.report(now, Report::Elected { epoch }, &mut out);
                if self.paused {
                    self.report(now, Report::HeldByPause { what: "start the JobManager" }, &mut out);
                }
                self.start_if_allowed(now, &mut out);
            }
            Event::LeadershipLost => {
                if matches!(self.role, Role::Leader { .. }) {
                    self.lose_leadership(now, &mut out);
                }
            }
            Event::JobManagerSpawned { pid } => {
                if let JobManager::Spawning { since } = self.jm {
                    self.jm = JobManager::Starting { since };
                    self.probe_failures = 0;
                    self.next_probe = Some(now + READINESS_POLL);
                    self.fence.clear_fenced();
                    let attempt = self.restarts.len() as u32;
                    self.report(now, Report::JobManagerSpawned { pid, attempt }, &mut out);
                }
            }
            Event::JobManagerSpawnFailed { error } => {
                self.report(now, Report::JobManagerSpawnFailed { error }, &mut out);
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
                self.report(now, Report::Shutdown, &mut out);
                self.discard_parked(now, &mut out);
                match self.jm {
                    JobManager::Stopping { .. } => {}
                    j if j.is_live() => self.stop(StopReason::Shutdown, self.timings.stop_grace, &mut out),
                    _ => {
                        self.jm = JobManager::Stopped;
                        self.leave_election(&mut out);
                    }
                }
            }
            Event::PauseChanged { paused } => {
                if paused != self.paused {
                    self.paused = paused;
                    self.report(now, if paused { Report::Paused } else { Report::Resumed }, &mut out);
                    if !paused {
                        self.probe_failures = 0;
                        self.start_if_allowed(now, &mut out);
                        self.on_handover(now, &mut out);
                    }
                }
            }
            Event::HandoverChanged(request) => {
                self.handover = request;
                if request.is_none() {
                    self.clear_handover_when_ready = false;
                }
                self.on_handover(now, &mut out);
            }
            Event::LeftElection => {
                self.role = Role::Standby;
                out.actions.push(Action::Exit);
            }
            Event::ElectionObserved { children } => {
                // A leader holds the lowest node: nothing is ahead of it.
                if self.role == Role::Standby {
                    self.set_blocked(now, blocking::blocking_us(&children), &mut out);
                }
            }
            Event::ParkedSpawned { park, pid, fingerprint } => self.on_parked_spawned(park, pid, fingerprint),
            Event::ParkedAtGate { park } => self.on_parked_at_gate(now, park, &mut out),
            Event::ParkedExited { park, code, error } => self.on_parked_exited(now, park, code, error, &mut out),
            Event::FlinkConfigObserved { fingerprint } => self.on_flink_config(now, fingerprint, &mut out),
            Event::LatchesCleared { round, deleted, skipped } => {
                self.on_latches(now, round, Ok((deleted, skipped)), &mut out)
            }
            Event::LatchClearingFailed { round, error } => self.on_latches(now, round, Err(error), &mut out),
        }
        self.check_fence(now, &mut out);
        self.settle(now, &mut out);
        out
    }

    /// The bookkeeping after every event and timeout: a start's preparation that can no longer
    /// lead to a start is dropped, and a standby without a parked JobManager parks one.
    fn settle(&mut self, now: Instant, out: &mut Output) {
        self.settle_prestart(out);
        self.park_if_due(now, out);
    }

    /// Logs a report, and adds the leader record's and the hooks' actions it makes due.
    fn report(&mut self, now: Instant, report: Report, out: &mut Output) {
        if let Some(hook) = self.announcer.follow(&report) {
            out.actions.push(Action::RunHook(hook));
        }
        if let Some(action) = self.term.follow(now, &report) {
            out.actions.push(action);
        }
        out.reports.push(report);
    }

    /// True while this node leads, is not shutting down, and its session is provably alive:
    /// the JobManager may run.
    fn may_run(&self, now: Instant) -> bool {
        matches!(self.role, Role::Leader { .. }) && !self.shutting_down && self.fence.allows(now)
    }

    /// Records who blocks this node now (`None`: nobody) and reports a change.
    fn set_blocked(&mut self, now: Instant, blocker: Option<Blocker>, out: &mut Output) {
        if self.blocked == blocker {
            return;
        }
        let before = std::mem::replace(&mut self.blocked, blocker.clone());
        match blocker {
            Some(blocker) => {
                self.blocked_total += 1;
                self.report(now, Report::ElectionBlocked(blocker), out);
            }
            None => {
                if let Some(before) = before {
                    self.report(now, Report::ElectionUnblocked { node: before.name }, out);
                }
            }
        }
    }

    fn resign(&mut self, reason: ResignReason, out: &mut Output) {
        if self.jm.is_live() {
            self.resign_pending = Some(reason);
            return;
        }
        self.resign_pending = None;
        self.clear_handover_when_ready = false;
        self.jm = JobManager::Stopped;
        self.role = Role::Standby;
        self.push_resign(reason, out);
    }

    /// Releases the term (if one is open) and gives the election node up.
    fn push_resign(&mut self, reason: ResignReason, out: &mut Output) {
        out.actions.extend(self.term.release(reason.as_str()));
        out.actions.push(Action::Resign { reason });
    }

    /// Releases the term (if one is open) and leaves the election for good.
    fn leave_election(&mut self, out: &mut Output) {
        out.actions.extend(self.term.release(StopReason::Shutdown.as_str()));
        out.actions.push(Action::LeaveElection);
    }

    fn lose_leadership(&mut self, now: Instant, out: &mut Output) {
        if matches!(self.role, Role::Leader { .. }) {
            self.fence.clear_fenced();
            self.report(now, Report::LeadershipLost, out);
        }
        self.role = Role::Standby;
        self.resign_pending = None;
        self.clear_handover_when_ready = false;
        match self.jm {
            JobManager::Backoff { .. } | JobManager::Preparing { .. } => self.jm = JobManager::Stopped,
            JobManager::Stopping { reason } if reason != StopReason::LeadershipLost => {
                // Already stopping gracefully: escalate to SIGKILL now.
                self.stop(StopReason::LeadershipLost, Duration::ZERO, out);
            }
            j if j.is_running() => self.stop(StopReason::LeadershipLost, Duration::ZERO, out),
            _ => {}
        }
    }

    /// Stops a running JobManager of a leader whose session is no longer provably alive, and
    /// drops a pending restart that could not happen.
    fn check_fence(&mut self, now: Instant, out: &mut Output) {
        let leading = matches!(self.role, Role::Leader { .. }) && !self.shutting_down;
        if self.jm.is_running() && leading && !self.fence.allows(now) {
            self.fence.mark_fenced();
            self.report(now, Report::Fenced { silent_for: self.fence.silent_for(now) }, out);
            self.stop(StopReason::Fenced, self.timings.stop_grace, out);
        }
        if matches!(self.jm, JobManager::Backoff { .. } | JobManager::Preparing { .. }) && !self.may_run(now) {
            self.jm = JobManager::Stopped;
        }
    }

    fn start_if_allowed(&mut self, now: Instant, out: &mut Output) {
        if self.jm != JobManager::Stopped || !self.may_run(now) || self.resign_pending.is_some() || self.paused {
            return;
        }
        self.begin_start(now, out);
    }

    fn stop(&mut self, reason: StopReason, grace: Duration, out: &mut Output) {
        self.jm = JobManager::Stopping { reason };
        self.probing = false;
        self.next_probe = None;
        self.fence.forget_lease();
        out.actions.extend(self.term.stopping(reason));
        out.actions.push(Action::StopJobManager { reason, grace });
    }
}
