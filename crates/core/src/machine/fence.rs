//! The fence: whether the ZooKeeper session is provably alive, and the lease the guard holds.

use std::time::{Duration, Instant};

use crate::timing;

/// The fencing rule, in one place.
///
/// The JobManager may run only while this node holds leadership *and* the ZooKeeper session is
/// provably alive: `now < last_heard + fence_after`, where `last_heard` is the send time of the
/// newest request the server answered and `fence_after` ([`timing::fence_after`]) leaves room to
/// stop the JobManager (`stop_grace`) and the fence margin ([`timing::fence_margin`], sized by
/// the servers' tickTime) before the server could expire the session. At the deadline the JobManager is stopped; the guard process holds the same
/// deadline as a lease, so it is stopped even when the daemon's loop is stuck.
///
/// Every fencing decision of the machine asks this type: whether the session is provably alive
/// ([`Fence::allows`]), the deadline, the lease to give to the guard, and whether the last stop
/// was a fence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fence {
    /// How long after `last_heard` the JobManager may run; `None` until a session exists or
    /// when the negotiated timeout cannot keep the promise (then this node never runs it).
    fence_after: Option<Duration>,
    /// Send time of the newest request the server answered.
    last_heard: Option<Instant>,
    /// The deadline most recently given to the guard, to renew only on change.
    lease_sent: Option<Instant>,
    /// The JobManager was stopped by the fence and has not run since in this term.
    fenced: bool,
}

impl Fence {
    /// A new session with the granted timeout: the server created it after `started_at`, so it
    /// cannot expire before `started_at + negotiated_timeout`. False when the timeout is too short
    /// to stop the JobManager in time (this node then never runs it in this session).
    /// `tick_time` is the servers' tickTime the margin is sized for.
    pub(crate) fn start_session(
        &mut self,
        negotiated_timeout: Duration,
        stop_grace: Duration,
        tick_time: Duration,
        started_at: Instant,
    ) -> bool {
        self.fence_after = timing::fence_after(negotiated_timeout, stop_grace, tick_time);
        self.last_heard = Some(started_at);
        self.fence_after.is_some()
    }

    /// The server answered a request sent at `sent_at`; an older answer never moves the
    /// deadline back.
    pub fn heard(&mut self, sent_at: Instant) {
        if self.last_heard.is_none_or(|t| sent_at > t) {
            self.last_heard = Some(sent_at);
        }
    }

    /// The session expired: nothing proves a session alive until the next one starts.
    pub(crate) fn end_session(&mut self) {
        self.last_heard = None;
        self.fence_after = None;
    }

    /// Send time of the newest request the server answered, if any in this session.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// The instant until which the JobManager may run, if it may run at all.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.last_heard? + self.fence_after?)
    }

    /// True while the session is provably alive at `now`: a leader's JobManager may run.
    pub fn allows(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now < d)
    }

    /// True when there is a deadline and `now` is at or past it (the guard's lease ran out).
    pub(crate) fn has_passed(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// How long the server has been silent at `now`.
    pub fn silent_for(&self, now: Instant) -> Duration {
        self.last_heard.map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// The lease for a JobManager about to be spawned (the deadline), remembered as sent.
    pub(crate) fn lease_for_spawn(&mut self) -> Option<Instant> {
        self.lease_sent = self.deadline();
        self.lease_sent
    }

    /// The lease to renew for a running JobManager: the deadline, when it differs from the one
    /// the guard holds.
    pub(crate) fn lease_to_renew(&mut self) -> Option<Instant> {
        let until = self.deadline()?;
        if self.lease_sent == Some(until) {
            return None;
        }
        self.lease_sent = Some(until);
        Some(until)
    }

    /// The JobManager is being stopped: its guard holds no lease worth renewing.
    pub(crate) fn forget_lease(&mut self) {
        self.lease_sent = None;
    }

    /// The fence stopped the JobManager (by the machine or by the guard's lease).
    pub(crate) fn mark_fenced(&mut self) {
        self.fenced = true;
    }

    /// A JobManager runs again, or the term is over: the last stop is no longer the story.
    pub(crate) fn clear_fenced(&mut self) {
        self.fenced = false;
    }

    /// True after the fence stopped the JobManager, until it runs again or the term ends.
    pub(crate) fn is_fenced(&self) -> bool {
        self.fenced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Duration = Duration::from_secs(10);
    const GRACE: Duration = Duration::from_secs(3);
    const TICK: Duration = timing::DEFAULT_TICK_TIME;

    #[test]
    fn the_deadline_follows_the_newest_answer_and_closes_at_it() {
        let t0 = Instant::now();
        let mut f = Fence::default();
        assert!(!f.allows(t0), "no session, no authority");
        assert!(f.start_session(SESSION, GRACE, TICK, t0));
        let deadline = t0 + Duration::from_secs(4);
        assert_eq!(f.deadline(), Some(deadline));
        assert!(f.allows(deadline - Duration::from_millis(1)));
        assert!(!f.allows(deadline) && f.has_passed(deadline));
        f.heard(t0 + Duration::from_secs(2));
        f.heard(t0 + Duration::from_secs(1));
        assert_eq!(f.deadline(), Some(deadline + Duration::from_secs(2)));
        f.end_session();
        assert!(!f.allows(t0) && !f.has_passed(t0 + SESSION));
    }

    #[test]
    fn a_shorter_tick_gives_a_later_deadline() {
        let t0 = Instant::now();
        let (session, grace) = (Duration::from_secs(2), Duration::from_millis(250));
        let mut f = Fence::default();
        assert!(!f.start_session(session, grace, TICK, t0), "2 s is too short for a 2 s tick");
        assert!(f.start_session(session, grace, Duration::from_millis(250), t0));
        // 2 s - 250 ms grace - (125 ms + 200 ms + 1 s) margin.
        assert_eq!(f.deadline(), Some(t0 + Duration::from_millis(425)));
    }

    #[test]
    fn a_timeout_too_short_for_the_grace_never_allows() {
        let t0 = Instant::now();
        let mut f = Fence::default();
        assert!(!f.start_session(Duration::from_secs(4), GRACE, TICK, t0));
        assert!(!f.allows(t0));
    }

    #[test]
    fn the_lease_is_renewed_only_when_the_deadline_moved() {
        let t0 = Instant::now();
        let mut f = Fence::default();
        f.start_session(SESSION, GRACE, TICK, t0);
        assert_eq!(f.lease_for_spawn(), f.deadline());
        assert_eq!(f.lease_to_renew(), None);
        f.heard(t0 + Duration::from_secs(1));
        assert_eq!(f.lease_to_renew(), f.deadline());
        assert_eq!(f.lease_to_renew(), None);
        f.forget_lease();
        assert_eq!(f.lease_to_renew(), f.deadline());
    }
}
