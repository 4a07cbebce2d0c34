//! The start of a JobManager and the parked JobManager: the steps before a start (Flink's dead
//! latches cleared, the parked JobManager's configuration checked), the start itself (a spawn,
//! or the release of the parked JobManager), and the parked JobManager's own lifecycle on a
//! standby (parked, lost and parked again with backoff, re-parked on a configuration change).
//!
//! The one rule: a parked JobManager is released only by [`Machine::start_now`], which runs only
//! where a spawn would (this node leads and its fence deadline lies ahead), with the same lease.
//!
//! A discarded parked JobManager still holds the JobManager's ports until it is gone: neither the
//! next park nor a start happens before its exit is reported (`draining`). The adapter reports
//! every discarded park's exit once its process group is dead (`src/process/jobmanager.rs`).

use std::time::{Duration, Instant};

use super::{Action, JobManager, Machine, Output, Parked, Report, Role, Standby};
use super::{RESTART_BACKOFF_BASE, RESTART_BACKOFF_MAX};

/// How often a standby checks that its parked JobManager's Flink configuration is still the
/// one a new JobManager would get.
pub(crate) const PARK_CHECK_INTERVAL: Duration = Duration::from_secs(5);

/// How long a park may take to reach its gate unless the machine is told otherwise
/// (`jobmanager.park_timeout`): about 2 s on an idle host, far more on a loaded one.
pub(crate) const DEFAULT_PARK_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a start or the next park waits for a discarded parked JobManager's exit before it
/// goes ahead anyway. The adapter reports the exit once the process group is dead: at most the
/// stop's grace plus its SIGKILL and group wait, about 15 s. Going ahead is safe (a parked
/// JobManager has no ZooKeeper session, no REST port and cannot release itself); the worst a
/// leftover can do is hold a port, which makes the new JobManager fail and restart.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// What a start waits for before it happens.
#[derive(Debug, Clone, Default)]
pub(super) struct Prestart {
    /// The latch clearing round in flight, if any.
    pub(super) round: Option<u64>,
    /// The parked JobManager's configuration is being compared with the current one.
    pub(super) config_pending: bool,
}

impl Machine {
    /// Begins a start that [`Machine::start_if_allowed`] decided: first the steps before it,
    /// then [`Machine::start_now`].
    pub(super) fn begin_start(&mut self, now: Instant, out: &mut Output) {
        if let Some(old) = self.prestart.round.take() {
            out.actions.push(Action::CancelLatchClearing { round: old });
        }
        self.prestart = Prestart::default();
        let check_config = self.standby == Standby::Parked && self.parked.park().is_some();
        if !check_config && self.latch_timeout.is_none() && self.draining.is_empty() {
            self.start_now(now, out);
            return;
        }
        self.jm = JobManager::Preparing { since: now };
        if check_config {
            self.prestart.config_pending = true;
            out.actions.push(Action::ObserveFlinkConfig);
        }
        if self.latch_timeout.is_some() {
            self.latch_rounds += 1;
            self.prestart.round = Some(self.latch_rounds);
            out.actions.push(Action::ClearLatches { round: self.latch_rounds });
        }
    }

    /// Starts when nothing is left to wait for (the latch clearing, the configuration check, the
    /// exit of a discarded parked JobManager), if the node may still start.
    fn finish_prestart(&mut self, now: Instant, out: &mut Output) {
        if !matches!(self.jm, JobManager::Preparing { .. })
            || self.prestart.round.is_some()
            || self.prestart.config_pending
            || !self.draining.is_empty()
        {
            return;
        }
        self.jm = JobManager::Stopped;
        if self.may_run(now) && self.resign_pending.is_none() && !self.paused {
            self.start_now(now, out);
        }
    }

    /// The start itself: a spawn (cold), or the release of the parked JobManager (parked; a
    /// park followed at once by its release when none is parked). Runs only when the node may
    /// run its JobManager, and no discarded parked JobManager is still there.
    pub(super) fn start_now(&mut self, now: Instant, out: &mut Output) {
        debug_assert!(self.may_run(now));
        let lease_until = self.fence.lease_for_spawn().expect("authority implies a fence deadline");
        self.jm = JobManager::Spawning { since: now };
        if self.standby == Standby::Cold {
            out.actions.push(Action::SpawnJobManager { lease_until });
            return;
        }
        debug_assert!(self.draining.is_empty());
        let park = match std::mem::take(&mut self.parked) {
            Parked::AtGate { park, pid, since, .. } => {
                self.report(now, Report::ParkedJobManagerReleased { pid, parked_for: now - since }, out);
                park
            }
            Parked::Parking { park, .. } => park,
            Parked::Absent | Parked::Backoff { .. } => self.next_park(out),
        };
        self.released = Some(park);
        self.next_park_check = None;
        out.actions.push(Action::ReleaseParked { park, lease_until });
    }

    /// A new park's number, with its action.
    fn next_park(&mut self, out: &mut Output) -> u64 {
        self.parks += 1;
        out.actions.push(Action::ParkJobManager { park: self.parks });
        self.parks
    }

    /// Parks a JobManager when a standby in parked mode has none (and its JobManager is dead,
    /// and no discarded parked JobManager is still there).
    pub(super) fn park_if_due(&mut self, now: Instant, out: &mut Output) {
        if self.standby != Standby::Parked
            || self.role != Role::Standby
            || self.shutting_down
            || self.jm.is_live()
            || self.parked != Parked::Absent
            || !self.draining.is_empty()
        {
            return;
        }
        let park = self.next_park(out);
        self.parked = Parked::Parking { park, since: now, pid: None, fingerprint: None };
    }

    /// Drops a start's preparation that can no longer lead to a start.
    pub(super) fn settle_prestart(&mut self, out: &mut Output) {
        if !matches!(self.jm, JobManager::Preparing { .. }) {
            if let Some(round) = self.prestart.round.take() {
                out.actions.push(Action::CancelLatchClearing { round });
            }
            self.prestart.config_pending = false;
        }
    }

    /// The latch clearing's time is up: the start goes ahead without it.
    pub(super) fn on_latch_timeout(&mut self, now: Instant, out: &mut Output) {
        let JobManager::Preparing { since } = self.jm else { return };
        let Some(round) = self.prestart.round.take() else { return };
        self.latch_failures += 1;
        out.actions.push(Action::CancelLatchClearing { round });
        self.report(now, Report::LatchClearingFailed { error: "timed out".into(), took: now - since }, out);
        self.finish_prestart(now, out);
    }

    /// When the latch clearing must be over.
    pub(super) fn latch_deadline(&self) -> Option<Instant> {
        match (self.jm, self.prestart.round, self.latch_timeout) {
            (JobManager::Preparing { since }, Some(_), Some(timeout)) => Some(since + timeout),
            _ => None,
        }
    }

    /// A latch clearing round finished (`failed`: with this error).
    pub(super) fn on_latches(
        &mut self,
        now: Instant,
        round: u64,
        result: Result<(u32, u32), String>,
        out: &mut Output,
    ) {
        let JobManager::Preparing { since } = self.jm else { return };
        if self.prestart.round != Some(round) {
            return;
        }
        self.prestart.round = None;
        let took = now - since;
        match result {
            Ok((deleted, skipped)) => self.report(now, Report::LatchesCleared { deleted, skipped, took }, out),
            Err(error) => {
                self.latch_failures += 1;
                self.report(now, Report::LatchClearingFailed { error, took }, out)
            }
        }
        self.finish_prestart(now, out);
    }

    /// The fingerprint of the configuration a new JobManager would get now.
    pub(super) fn on_flink_config(&mut self, now: Instant, fingerprint: Option<u64>, out: &mut Output) {
        let stale = self.parked.fingerprint().is_some_and(|parked| Some(parked) != fingerprint);
        if matches!(self.jm, JobManager::Preparing { .. }) && self.prestart.config_pending {
            self.prestart.config_pending = false;
            if stale {
                // Discarded now; the start waits for its exit, then parks a fresh one and
                // releases it.
                self.report(now, Report::ParkedJobManagerStale { pid: self.parked_pid() }, out);
                self.discard_parked(now, out);
            }
            self.finish_prestart(now, out);
            return;
        }
        if stale && self.role == Role::Standby {
            self.report(now, Report::ParkedJobManagerStale { pid: self.parked_pid() }, out);
            self.discard_parked(now, out);
            self.park_if_due(now, out);
        }
    }

    fn parked_pid(&self) -> Option<u32> {
        match self.parked {
            Parked::Parking { pid, .. } => pid,
            Parked::AtGate { pid, .. } => Some(pid),
            Parked::Absent | Parked::Backoff { .. } => None,
        }
    }

    /// Kills the parked JobManager, if any; its exit is awaited before the next park or start.
    pub(super) fn discard_parked(&mut self, now: Instant, out: &mut Output) {
        if let Some(park) = std::mem::take(&mut self.parked).park() {
            out.actions.push(Action::DiscardParked { park });
            self.draining.push((park, now));
        }
        self.next_park_check = None;
    }

    /// The guard of a park reported its JVM's pid.
    pub(super) fn on_parked_spawned(&mut self, park: u64, pid: u32, fingerprint: u64) {
        if let Parked::Parking { park: p, pid: ref mut known, fingerprint: ref mut f, .. } = self.parked {
            if p == park {
                *known = Some(pid);
                *f = Some(fingerprint);
            }
        }
    }

    /// A park reached its gate.
    pub(super) fn on_parked_at_gate(&mut self, now: Instant, park: u64, out: &mut Output) {
        if let Parked::Parking { park: p, since, pid, fingerprint } = self.parked {
            if p == park {
                // The guard reports the pid before the gate; a pid of 0 stands for one not heard.
                let pid = pid.unwrap_or(0);
                self.parked = Parked::AtGate { park, pid, requested: since, since: now, fingerprint };
                self.park_failures = 0;
                self.next_park_check = Some(now + PARK_CHECK_INTERVAL);
                self.report(now, Report::JobManagerParked { pid, after: now - since }, out);
            }
        }
    }

    /// A park's JVM exited (or never started) before its release.
    pub(super) fn on_parked_exited(
        &mut self,
        now: Instant,
        park: u64,
        code: Option<i32>,
        error: Option<String>,
        out: &mut Output,
    ) {
        if self.released == Some(park) {
            // Released as it died: that is the node's JobManager's exit.
            self.released = None;
            match error {
                Some(error) if code.is_none() => {
                    self.report(now, Report::JobManagerSpawnFailed { error }, out);
                    self.jm = JobManager::Stopped;
                    self.after_failure(now, out);
                }
                _ => self.on_exit(now, code.unwrap_or(255), out),
            }
            return;
        }
        if let Some(i) = self.draining.iter().position(|&(p, _)| p == park) {
            // A discarded one is gone: the next park (in `settle`) or the start may go ahead.
            self.draining.swap_remove(i);
            self.finish_prestart(now, out);
            return;
        }
        if self.parked.park() != Some(park) {
            return;
        }
        let pid = self.parked_pid();
        let delay = self.park_lost(now);
        self.report(now, Report::ParkedJobManagerLost { pid, code, error, delay }, out);
    }

    /// Counts the parked JobManager as lost and backs off before the next park; the delay.
    fn park_lost(&mut self, now: Instant) -> Duration {
        let delay = RESTART_BACKOFF_BASE.saturating_mul(1 << self.park_failures.min(16)).min(RESTART_BACKOFF_MAX);
        self.park_failures += 1;
        self.parked = Parked::Backoff { until: now + delay };
        self.next_park_check = None;
        delay
    }

    /// When the wait for the oldest discarded park's exit ends.
    pub(super) fn drain_deadline(&self) -> Option<Instant> {
        self.draining.iter().map(|&(_, since)| since + DRAIN_TIMEOUT).min()
    }

    /// When a park on its way to the gate is given up.
    pub(super) fn park_deadline(&self) -> Option<Instant> {
        match self.parked {
            Parked::Parking { since, .. } => Some(since + self.park_timeout),
            _ => None,
        }
    }

    /// Time-driven work of the parked JobManager: a park that did not reach its gate in time is
    /// killed (and lost, as one that died), the next park after a loss, and the periodic
    /// configuration check.
    pub(super) fn park_timeouts(&mut self, now: Instant, out: &mut Output) {
        let (gone, left): (Vec<_>, Vec<_>) =
            self.draining.iter().partition(|&&(_, since)| now >= since + DRAIN_TIMEOUT);
        if !gone.is_empty() {
            self.draining = left;
            for (park, since) in gone {
                self.report(now, Report::DiscardedParkNotGone { park, waited: now - since }, out);
            }
            self.finish_prestart(now, out);
        }
        if let Parked::Parking { park, since, pid, .. } = self.parked {
            if now >= since + self.park_timeout {
                out.actions.push(Action::DiscardParked { park });
                self.draining.push((park, now));
                let delay = self.park_lost(now);
                self.report(now, Report::ParkedJobManagerTimedOut { pid, waited: now - since, delay }, out);
            }
        }
        if let Parked::Backoff { until } = self.parked {
            if now >= until {
                self.parked = Parked::Absent;
            }
        }
        if self.next_park_check.is_some_and(|t| now >= t) {
            self.next_park_check = None;
            if matches!(self.parked, Parked::AtGate { .. }) && self.role == Role::Standby {
                self.next_park_check = Some(now + PARK_CHECK_INTERVAL);
                out.actions.push(Action::ObserveFlinkConfig);
            }
        }
    }
}
