//! The leader record's lifecycle: when a term begins, is ready, stops on purpose and ends, and
//! the parts of the failover measured on the machine's clock.

use std::time::Instant;

use super::{Action, Report, StopReason};

/// The current leadership term as the leader record sees it, with the instants it measures.
#[derive(Debug, Clone, Default)]
pub(super) struct TermClock {
    /// A term began and has not ended: the adapter holds its record.
    open: bool,
    /// When this node was elected.
    elected: Option<Instant>,
    /// When the term's first JobManager was spawned.
    spawned: Option<Instant>,
    /// The term's JobManager was ready once; later readiness (after a restart) is not a failover.
    ready_reported: bool,
}

impl TermClock {
    /// The term action a report makes due, measured at `now`.
    pub(super) fn follow(&mut self, now: Instant, report: &Report) -> Option<Action> {
        match *report {
            Report::Elected { epoch } => {
                *self = TermClock { open: true, elected: Some(now), ..TermClock::default() };
                Some(Action::BeginTerm { epoch })
            }
            Report::JobManagerSpawned { .. } => {
                self.spawned.get_or_insert(now);
                None
            }
            Report::JobManagerReady { .. } if !self.ready_reported => {
                self.ready_reported = true;
                let (elected, spawned) = (self.elected?, self.spawned?);
                self.open.then(|| Action::TermReady {
                    election_to_spawn: spawned.saturating_duration_since(elected),
                    spawn_to_ready: now.saturating_duration_since(spawned),
                })
            }
            Report::LeadershipLost | Report::SessionExpired => self.end().then_some(Action::DropTerm),
            _ => None,
        }
    }

    /// The record action for a stop of the term's JobManager: a planned one is announced.
    pub(super) fn stopping(&self, reason: StopReason) -> Option<Action> {
        (self.open && reason.is_planned()).then_some(Action::TermStopping { reason })
    }

    /// The term ends in order (`reason` is the record's): the action that releases it.
    pub(super) fn release(&mut self, reason: &'static str) -> Option<Action> {
        self.end().then_some(Action::ReleaseTerm { reason })
    }

    /// Closes the term; true when one was open.
    fn end(&mut self) -> bool {
        std::mem::replace(&mut self.open, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_term_begins_is_ready_once_and_is_dropped_when_leadership_goes() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut c = TermClock::default();
        assert_eq!(c.follow(t0, &Report::Elected { epoch: 5 }), Some(Action::BeginTerm { epoch: 5 }));
        assert_eq!(c.follow(t0 + ms(100), &Report::JobManagerSpawned { pid: 1, attempt: 0 }), None);
        // A restart's spawn does not move the measured spawn.
        assert_eq!(c.follow(t0 + ms(200), &Report::JobManagerSpawned { pid: 2, attempt: 1 }), None);
        let ready = Report::JobManagerReady { startup: ms(900) };
        assert_eq!(
            c.follow(t0 + ms(1000), &ready),
            Some(Action::TermReady { election_to_spawn: ms(100), spawn_to_ready: ms(900) })
        );
        assert_eq!(c.follow(t0 + ms(3000), &ready), None, "ready once per term");
        assert_eq!(c.follow(t0, &Report::LeadershipLost), Some(Action::DropTerm));
        assert_eq!(c.follow(t0, &Report::SessionExpired), None, "already over");
    }

    #[test]
    fn only_planned_stops_of_an_open_term_are_written_and_a_term_is_released_once() {
        let t0 = Instant::now();
        let mut c = TermClock::default();
        assert_eq!(c.stopping(StopReason::Shutdown), None, "no term");
        c.follow(t0, &Report::Elected { epoch: 1 });
        assert_eq!(c.stopping(StopReason::Fenced), None);
        assert_eq!(c.stopping(StopReason::Handover), Some(Action::TermStopping { reason: StopReason::Handover }));
        assert_eq!(c.release("handover"), Some(Action::ReleaseTerm { reason: "handover" }));
        assert_eq!(c.release("shutdown"), None);
        assert_eq!(c.follow(t0, &Report::LeadershipLost), None);
    }
}
