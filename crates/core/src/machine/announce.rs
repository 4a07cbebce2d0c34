//! Which role-change hook runs when: what the outside world was last told about this node's
//! role, and the [`Hook`] a report makes due.

use super::{Hook, HookCause, HookKind, Report};

/// What the outside world was last told about this node's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Announced {
    /// Standby (or nothing announced yet).
    #[default]
    Standby,
    /// `on_leader` ran for this term.
    Leader(u64),
    /// `on_standby` ran because of a fence, but the term is not over: if the JobManager runs
    /// again in it, `on_leader` runs again.
    Fenced(u64),
}

/// Decides the hooks: each `on_leader` is followed by exactly one `on_standby` of the same
/// epoch, and a fence lifted within the term announces the leader again (`recovered`).
#[derive(Debug, Clone, Default)]
pub(super) struct Announcer {
    announced: Announced,
}

impl Announcer {
    /// The hook a report makes due, if the role the world knows changes with it.
    pub(super) fn follow(&mut self, report: &Report) -> Option<Hook> {
        let standby = |cause| match self.announced {
            Announced::Leader(epoch) => Some(Hook { kind: HookKind::OnStandby, cause, epoch }),
            Announced::Standby | Announced::Fenced(_) => None,
        };
        let (change, next) = match *report {
            Report::Elected { epoch } => {
                (Some(Hook { kind: HookKind::OnLeader, cause: HookCause::Elected, epoch }), Announced::Leader(epoch))
            }
            Report::JobManagerSpawned { .. } => match self.announced {
                Announced::Fenced(epoch) => (
                    Some(Hook { kind: HookKind::OnLeader, cause: HookCause::Recovered, epoch }),
                    Announced::Leader(epoch),
                ),
                other => (None, other),
            },
            Report::Fenced { .. } => match self.announced {
                Announced::Leader(epoch) => (standby(HookCause::Fenced), Announced::Fenced(epoch)),
                other => (None, other),
            },
            Report::LeadershipLost => (standby(HookCause::LeadershipLost), Announced::Standby),
            Report::Resigned { .. } => (standby(HookCause::Resigned), Announced::Standby),
            Report::HandingOver => (standby(HookCause::Handover), Announced::Standby),
            Report::Shutdown => (standby(HookCause::Shutdown), Announced::Standby),
            _ => (None, self.announced),
        };
        self.announced = next;
        change
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fenced() -> Report {
        Report::Fenced { silent_for: Duration::from_secs(5) }
    }

    fn leader(cause: HookCause, epoch: u64) -> Option<Hook> {
        Some(Hook { kind: HookKind::OnLeader, cause, epoch })
    }

    fn standby(cause: HookCause, epoch: u64) -> Option<Hook> {
        Some(Hook { kind: HookKind::OnStandby, cause, epoch })
    }

    #[test]
    fn elected_then_lost_runs_on_leader_then_on_standby() {
        let mut a = Announcer::default();
        assert_eq!(a.follow(&Report::Elected { epoch: 7 }), leader(HookCause::Elected, 7));
        assert_eq!(a.follow(&Report::JobManagerSpawned { pid: 1, attempt: 0 }), None);
        assert_eq!(a.follow(&Report::LeadershipLost), standby(HookCause::LeadershipLost, 7));
        assert_eq!(a.follow(&Report::LeadershipLost), None);
        assert_eq!(a.follow(&Report::Shutdown), None, "a standby's shutdown announces nothing");
    }

    #[test]
    fn every_way_out_of_leadership_runs_on_standby_once() {
        for (report, cause) in [
            (Report::LeadershipLost, HookCause::LeadershipLost),
            (Report::Resigned { restarts_in_window: 3 }, HookCause::Resigned),
            (Report::HandingOver, HookCause::Handover),
            (Report::Shutdown, HookCause::Shutdown),
            (fenced(), HookCause::Fenced),
        ] {
            let mut a = Announcer::default();
            a.follow(&Report::Elected { epoch: 3 });
            assert_eq!(a.follow(&report), standby(cause, 3), "{report:?}");
            assert_eq!(a.follow(&Report::Shutdown), None, "after {report:?}");
        }
    }

    #[test]
    fn a_fence_lifted_in_the_same_term_runs_on_leader_again() {
        let mut a = Announcer::default();
        a.follow(&Report::Elected { epoch: 4 });
        assert_eq!(a.follow(&fenced()), standby(HookCause::Fenced, 4));
        assert_eq!(a.follow(&fenced()), None);
        assert_eq!(a.follow(&Report::JobManagerSpawned { pid: 2, attempt: 0 }), leader(HookCause::Recovered, 4));
        // Fenced, then the session turned out to be gone: nothing more to announce.
        a.follow(&fenced());
        assert_eq!(a.follow(&Report::LeadershipLost), None);
        assert_eq!(a.follow(&Report::JobManagerSpawned { pid: 3, attempt: 0 }), None);
    }

    #[test]
    fn stepping_aside_announces_nothing() {
        let mut a = Announcer::default();
        assert_eq!(a.follow(&Report::SteppedAside { epoch: 9 }), None);
        assert_eq!(a.follow(&Report::Shutdown), None);
    }

    #[test]
    fn the_causes_are_named_as_hooks_see_them() {
        assert_eq!(HookCause::LeadershipLost.as_str(), "leadership_lost");
        assert_eq!(HookCause::Recovered.as_str(), "recovered");
        assert_eq!((HookKind::OnStandby.name(), HookKind::OnStandby.role()), ("on_standby", "standby"));
    }
}
