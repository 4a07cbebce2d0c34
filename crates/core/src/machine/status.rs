//! The one-line status an operator sees (systemd's `STATUS=`).

use super::{JobManager, Machine, Parked, Role, StopReason};

/// The status text: role, epoch and the JobManager's state, e.g. "leader epoch 7, JobManager
/// ready", "standby", "leader epoch 7, fenced: JobManager stopping". `has_session` tells whether
/// the adapter holds a ZooKeeper session (between sessions the node is connecting).
pub fn status_line(machine: &Machine, has_session: bool) -> String {
    let jm = machine.jobmanager();
    let stopping = machine.is_shutting_down();
    let mut text = match machine.role() {
        Role::Leader { epoch } => {
            let state = match jm {
                JobManager::Stopping { reason: StopReason::Fenced } => "fenced: JobManager stopping",
                JobManager::Stopped if machine.fence().is_fenced() => "fenced: JobManager stopped",
                JobManager::Stopped => "JobManager stopped",
                JobManager::Preparing { .. } | JobManager::Spawning { .. } | JobManager::Starting { .. } => {
                    "JobManager starting"
                }
                JobManager::Ready => "JobManager ready",
                JobManager::Stopping { .. } => "JobManager stopping",
                JobManager::Backoff { .. } => "JobManager restarting",
            };
            format!("leader epoch {epoch}, {state}")
        }
        Role::Standby if !has_session && stopping => "left the election".to_string(),
        Role::Standby if !has_session => "connecting to ZooKeeper".to_string(),
        Role::Standby if jm.is_live() => "standby, JobManager stopping".to_string(),
        Role::Standby => match machine.parked() {
            Parked::AtGate { pid, .. } => format!("standby, JobManager parked (pid {pid})"),
            Parked::Parking { .. } => "standby, parking a JobManager".to_string(),
            Parked::Absent | Parked::Backoff { .. } => "standby".to_string(),
        },
    };
    if has_session && machine.is_disconnected() {
        text.push_str(", disconnected from ZooKeeper");
    }
    if machine.is_paused() {
        text.push_str(", paused (maintenance mode)");
    }
    if stopping {
        text = format!("shutting down: {text}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::{Event, Timings};
    use super::*;
    use std::time::{Duration, Instant};

    fn machine() -> Machine {
        Machine::new(Timings::example())
    }

    #[test]
    fn status_line_names_the_role_and_the_jobmanager() {
        let mut m = machine();
        assert_eq!(status_line(&m, false), "connecting to ZooKeeper");
        let t0 = Instant::now();
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(10), started_at: t0 });
        assert_eq!(status_line(&m, true), "standby");
        m.handle_event(t0, Event::Elected { epoch: 7 });
        assert_eq!(status_line(&m, true), "leader epoch 7, JobManager starting");
        m.handle_event(t0, Event::JobManagerSpawned { pid: 42 });
        m.handle_event(t0, Event::ProbeResult { ok: true });
        assert_eq!(status_line(&m, true), "leader epoch 7, JobManager ready");
        m.handle_event(t0, Event::SessionDisconnected);
        assert_eq!(status_line(&m, true), "leader epoch 7, JobManager ready, disconnected from ZooKeeper");
        // Silent past the fence deadline: fenced.
        m.handle_timeout(t0 + Duration::from_secs(6));
        assert_eq!(status_line(&m, true), "leader epoch 7, fenced: JobManager stopping, disconnected from ZooKeeper");
        m.handle_event(t0, Event::ShutdownRequested);
        assert!(status_line(&m, true).starts_with("shutting down: "));
        m.handle_event(t0, Event::JobManagerExited { code: 143 });
        m.handle_event(t0, Event::LeftElection);
        assert_eq!(status_line(&m, false), "shutting down: left the election");
    }

    #[test]
    fn a_parked_standby_says_where_its_parked_jobmanager_is() {
        let mut m = Machine::new(Timings::example()).with_standby(super::super::Standby::Parked);
        let t0 = Instant::now();
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(10), started_at: t0 });
        assert_eq!(status_line(&m, true), "standby, parking a JobManager");
        m.handle_event(t0, Event::ParkedSpawned { park: 1, pid: 9, fingerprint: 0 });
        m.handle_event(t0, Event::ParkedAtGate { park: 1 });
        assert_eq!(status_line(&m, true), "standby, JobManager parked (pid 9)");
    }

    #[test]
    fn a_fenced_leader_says_so_until_its_jobmanager_runs_again() {
        let mut m = machine();
        let t0 = Instant::now();
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(10), started_at: t0 });
        m.handle_event(t0, Event::Elected { epoch: 7 });
        m.handle_event(t0, Event::JobManagerSpawned { pid: 42 });
        let deadline = m.fence_deadline().unwrap();
        m.handle_timeout(deadline);
        m.handle_event(deadline, Event::JobManagerExited { code: 143 });
        assert_eq!(status_line(&m, true), "leader epoch 7, fenced: JobManager stopped");
        m.handle_event(deadline, Event::HeardFromServer { sent_at: deadline });
        m.handle_event(deadline, Event::JobManagerSpawned { pid: 43 });
        assert_eq!(status_line(&m, true), "leader epoch 7, JobManager starting");
    }
}
