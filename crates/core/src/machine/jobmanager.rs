//! The JobManager's lifecycle: readiness and health probes, exits, restarts with backoff and
//! the crash loop that gives leadership away.

use std::time::Instant;

use super::{JobManager, Machine, Output, Report, ResignReason, Role, StopReason};
use super::{READINESS_POLL, RESTART_BACKOFF_BASE, RESTART_BACKOFF_MAX};

impl Machine {
    /// A probe of `ready_url` answered: ready, healthy, or one more failure.
    pub(super) fn on_probe(&mut self, now: Instant, ok: bool, out: &mut Output) {
        match self.jm {
            JobManager::Starting { since } => {
                if ok {
                    self.jm = JobManager::Ready;
                    self.probe_failures = 0;
                    self.report(now, Report::JobManagerReady { startup: now - since }, out);
                    self.next_probe = Some(now + self.timings.health_interval);
                    if self.clear_handover_when_ready {
                        self.fulfil_handover_when_ready(now, out);
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
                        self.report(now, Report::HeldByPause { what: "stop the unhealthy JobManager" }, out);
                    }
                    self.next_probe = Some(now + self.timings.health_interval);
                }
            }
            _ => {}
        }
    }

    /// The JobManager exited: a stop we asked for, the guard's fence, or a crash.
    pub(super) fn on_exit(&mut self, now: Instant, code: i32, out: &mut Output) {
        let previous = self.jm;
        self.jm = JobManager::Stopped;
        self.probing = false;
        self.next_probe = None;
        match previous {
            JobManager::Stopping { reason } => {
                self.report(now, Report::JobManagerStopped { reason, code }, out);
                if self.shutting_down {
                    self.leave_election(out);
                } else if reason == StopReason::Unhealthy {
                    self.after_failure(now, out);
                } else if let Some(reason) = self.resign_pending {
                    self.resign(reason, out);
                }
            }
            JobManager::Stopped | JobManager::Backoff { .. } => {}
            _ if matches!(self.role, Role::Leader { .. }) && self.fence.has_passed(now) => {
                // The guard's lease ran out before this loop got to fence (it was blocked or
                // paused): the guard stopped the JobManager, which is a fence, not a crash.
                self.fence.mark_fenced();
                self.report(now, Report::Fenced { silent_for: self.fence.silent_for(now) }, out);
                self.report(now, Report::JobManagerStopped { reason: StopReason::Fenced, code }, out);
            }
            _ => {
                self.report(now, Report::JobManagerExited { code }, out);
                if self.shutting_down {
                    self.leave_election(out);
                } else {
                    self.after_failure(now, out);
                }
            }
        }
    }

    /// A JobManager failed (exited, unhealthy, did not start): restart with backoff, or resign
    /// past the restart limit.
    pub(super) fn after_failure(&mut self, now: Instant, out: &mut Output) {
        if !self.may_run(now) {
            return;
        }
        if self.paused {
            self.report(now, Report::HeldByPause { what: "restart the JobManager" }, out);
            return;
        }
        while self.restarts.front().is_some_and(|t| now.duration_since(*t) > self.timings.restart_window) {
            self.restarts.pop_front();
        }
        let restarts = self.restarts.len() as u32;
        if restarts >= self.timings.restart_limit {
            self.report(now, Report::Resigned { restarts_in_window: restarts }, out);
            self.resign(ResignReason::CrashLoop, out);
            return;
        }
        self.restarts.push_back(now);
        self.restarts_total += 1;
        let delay = RESTART_BACKOFF_BASE.saturating_mul(1 << restarts.min(16)).min(RESTART_BACKOFF_MAX);
        self.report(now, Report::JobManagerRestartScheduled { delay, restarts_in_window: restarts + 1 }, out);
        self.jm = JobManager::Backoff { until: now + delay };
    }
}
