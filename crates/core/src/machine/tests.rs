//! The machine's tests: every decision, with time passed in.

use super::*;
use crate::blocking::ObservedChild;
use crate::timing;

const SESSION: Duration = Duration::from_secs(10);

fn timings() -> Timings {
    Timings::example()
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
        .actions
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
    assert_eq!(out.actions, vec![Action::Probe]);
    m.handle_event(t0 + secs(1.0), Event::ProbeResult { ok: true });
    assert_eq!(m.jobmanager(), JobManager::Ready);
    m
}

fn stops(out: &Output) -> Vec<(StopReason, Duration)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::StopJobManager { reason, grace } => Some((*reason, *grace)),
            _ => None,
        })
        .collect()
}

fn has(out: &Output, wanted: &Action) -> bool {
    out.actions.contains(wanted)
}

fn reported(out: &Output, wanted: &Report) -> bool {
    out.reports.contains(wanted)
}

#[test]
fn standby_never_spawns() {
    let t0 = Instant::now();
    let mut m = Machine::new(timings());
    let mut out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    out.extend(m.handle_event(t0 + secs(1.0), Event::HeardFromServer { sent_at: t0 + secs(1.0) }));
    out.extend(m.handle_timeout(t0 + secs(100.0)));
    assert!(out.actions.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. })), "{out:?}");
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn elected_spawns_with_lease_at_the_fence_deadline() {
    let t0 = Instant::now();
    let (m, lease) = leader(t0);
    assert_eq!(lease, t0 + SESSION - Duration::from_secs(3) - timing::fence_margin(SESSION, timing::DEFAULT_TICK_TIME));
    assert_eq!(m.role(), Role::Leader { epoch: 7 });
}

#[test]
fn readiness_is_polled_until_200_then_health_at_its_interval() {
    let t0 = Instant::now();
    let (mut m, _) = leader(t0);
    let out = m.handle_event(t0, Event::JobManagerSpawned { pid: 42 });
    assert!(reported(&out, &(Report::JobManagerSpawned { pid: 42, attempt: 0 })));
    assert_eq!(m.poll_timeout(), Some(t0 + READINESS_POLL));
    assert_eq!(m.handle_timeout(t0 + READINESS_POLL).actions, vec![Action::Probe]);
    // No second probe while one is in flight.
    assert!(m.handle_timeout(t0 + READINESS_POLL * 3).is_empty());
    m.handle_event(t0 + secs(0.3), Event::ProbeResult { ok: false });
    assert_eq!(m.poll_timeout(), Some(t0 + secs(0.3) + READINESS_POLL));
    m.handle_timeout(t0 + secs(0.6));
    let out = m.handle_event(t0 + secs(0.7), Event::ProbeResult { ok: true });
    assert!(reported(&out, &(Report::JobManagerReady { startup: secs(0.7) })));
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
    assert!(reported(&out, &(Report::Fenced { silent_for: deadline - t0 })));
    // Dead before the session could expire: deadline + grace + margin = last heard + timeout.
    assert_eq!(
        deadline + Duration::from_secs(3) + timing::fence_margin(SESSION, timing::DEFAULT_TICK_TIME),
        t0 + SESSION
    );
}

#[test]
fn hearing_from_the_server_moves_the_deadline_and_renews_the_lease() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    let out = m.handle_event(t0 + secs(4.0), Event::HeardFromServer { sent_at: t0 + secs(3.5) });
    // Ten seconds less the 3 s grace and the 3 s margin of a 2 s tick.
    let until = t0 + secs(3.5) + Duration::from_secs(4);
    assert!(has(&out, &Action::RenewLease { until }), "{out:?}");
    assert_eq!(m.fence_deadline(), Some(until));
    // An older answer arriving late never moves the deadline back.
    let out = m.handle_event(t0 + secs(4.1), Event::HeardFromServer { sent_at: t0 + secs(2.0) });
    assert!(out.actions.iter().all(|a| !matches!(a, Action::RenewLease { .. })));
    assert_eq!(m.fence_deadline(), Some(until));
    assert!(stops(&m.handle_timeout(t0 + secs(7.4))).is_empty());
}

#[test]
fn reconnect_in_time_keeps_leadership_and_the_jobmanager() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    m.handle_event(t0 + secs(1.0), Event::SessionDisconnected);
    let out = m.handle_event(t0 + secs(3.0), Event::SessionReconnected);
    assert!(reported(&out, &(Report::SessionReconnected { disconnected_for: secs(2.0) })));
    m.handle_event(t0 + secs(3.1), Event::HeardFromServer { sent_at: t0 + secs(3.0) });
    assert!(stops(&m.handle_timeout(t0 + secs(6.9))).is_empty());
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
    assert!(reported(&out, &(Report::JobManagerStopped { reason: StopReason::Fenced, code: 143 })));
    assert!(out.actions.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. })), "no restart without authority");
    let later = deadline + secs(3.5);
    let out = m.handle_event(later, Event::HeardFromServer { sent_at: later });
    assert!(has(&out, &Action::SpawnJobManager { lease_until: later + Duration::from_secs(4) }), "{out:?}");
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
    assert!(out.actions.iter().all(|a| !matches!(a, Action::SpawnJobManager { .. } | Action::Resign { .. })));
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
    assert!(reported(&out, &(Report::JobManagerExited { code: 1 })));
    assert!(reported(&out, &Report::JobManagerRestartScheduled { delay: RESTART_BACKOFF_BASE, restarts_in_window: 1 }));
    assert_eq!(m.poll_timeout(), Some(t0 + secs(2.0) + RESTART_BACKOFF_BASE));
    assert!(m.handle_timeout(t0 + secs(2.4)).is_empty());
    let out = m.handle_timeout(t0 + secs(2.5));
    assert!(matches!(out.actions.as_slice(), [Action::SpawnJobManager { .. }]), "{out:?}");
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
            assert!(reported(&out, &(Report::Resigned { restarts_in_window: 2 })));
            resigned = true;
            break;
        }
        now += secs(10.0);
        m.handle_event(now, Event::HeardFromServer { sent_at: now });
        let out = m.handle_timeout(now);
        assert!(matches!(out.actions.as_slice(), [Action::SpawnJobManager { .. }]), "{out:?}");
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
        !out.actions.iter().any(|a| matches!(a, Action::Resign { .. })),
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
        assert_eq!(m.handle_timeout(now).actions, vec![Action::Probe]);
        let out = m.handle_event(now, Event::ProbeResult { ok: false });
        if i < 2 {
            assert!(stops(&out).is_empty());
        } else {
            assert_eq!(stops(&out), vec![(StopReason::Unhealthy, Duration::from_secs(3))]);
        }
    }
    let out = m.handle_event(now + secs(1.0), Event::JobManagerExited { code: 143 });
    assert!(out.reports.iter().any(|r| matches!(r, Report::JobManagerRestartScheduled { .. })), "{out:?}");
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
    assert!(out.reports.iter().any(|r| matches!(r, Report::JobManagerRestartScheduled { .. })));
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
    assert!(!out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
    assert_eq!(m.handle_event(t0 + secs(4.1), Event::LeftElection).actions, vec![Action::Exit]);
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
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_secs(4), started_at: t0 });
    let report = Report::SessionTimeoutTooShort {
        negotiated: Duration::from_secs(4),
        max_stop_grace: Duration::from_millis(800),
    };
    assert!(reported(&out, &report), "{out:?}");
    let out = m.handle_event(t0, Event::Elected { epoch: 1 });
    assert!(!out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
}

/// Timings of a node asking for a 2 s session of servers said to tick every 500 ms.
fn short_session_timings() -> Timings {
    Timings {
        stop_grace: Duration::from_millis(150),
        session_timeout: Duration::from_secs(2),
        tick_time: Duration::from_millis(500),
        ..timings()
    }
}

#[test]
fn a_short_session_granted_as_asked_fences_by_the_configured_tick() {
    let t0 = Instant::now();
    let mut m = Machine::new(short_session_timings());
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: secs(2.0), started_at: t0 });
    assert!(out.reports.is_empty(), "{out:?}");
    let out = m.handle_event(t0, Event::Elected { epoch: 1 });
    // 2 s - 150 ms grace - (250 ms + 200 ms + 1 s) margin.
    assert!(has(&out, &Action::SpawnJobManager { lease_until: t0 + Duration::from_millis(400) }), "{out:?}");
}

#[test]
fn a_grant_above_the_request_proves_a_longer_tick_and_the_fence_follows_it() {
    let t0 = Instant::now();
    let mut m = Machine::new(short_session_timings());
    // Asked 2 s, granted 4 s: the servers' minimum is two ticks of 2 s, not of 500 ms.
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: secs(4.0), started_at: t0 });
    let warned = Report::TickTimeTooLow {
        configured: Duration::from_millis(500),
        implied: secs(2.0),
        requested: secs(2.0),
        granted: secs(4.0),
    };
    assert_eq!(out.reports, vec![warned]);
    let out = m.handle_event(t0, Event::Elected { epoch: 1 });
    // 4 s - 150 ms grace - (1 s + 400 ms + 1 s) margin of the 2 s tick, not 4 s - 150 ms - 1.65 s.
    let lease = t0 + secs(4.0) - Duration::from_millis(150) - timing::fence_margin(secs(4.0), secs(2.0));
    assert_eq!(lease, t0 + Duration::from_millis(1450));
    assert!(has(&out, &Action::SpawnJobManager { lease_until: lease }), "{out:?}");
}

#[test]
fn a_grant_that_proves_a_tick_too_long_for_the_grace_keeps_the_jobmanager_off() {
    let t0 = Instant::now();
    let timings = Timings {
        stop_grace: Duration::from_millis(250),
        tick_time: Duration::from_millis(250),
        ..short_session_timings()
    };
    let mut m = Machine::new(timings);
    // Asked 2 s, granted 2.4 s (a tick of 1.2 s): margin 600 ms + 240 ms + 1 s leaves 560 ms,
    // less than grace + two heartbeats.
    let out =
        m.handle_event(t0, Event::SessionStarted { negotiated_timeout: Duration::from_millis(2400), started_at: t0 });
    assert!(out
        .reports
        .iter()
        .any(|r| matches!(r, Report::TickTimeTooLow { implied, .. } if *implied == Duration::from_millis(1200))));
    let too_short = Report::SessionTimeoutTooShort {
        negotiated: Duration::from_millis(2400),
        max_stop_grace: Duration::from_millis(80),
    };
    assert!(reported(&out, &too_short), "{out:?}");
    let out = m.handle_event(t0, Event::Elected { epoch: 1 });
    assert!(!out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })), "{out:?}");
}

#[test]
fn elected_with_a_stale_session_waits_for_proof_of_life() {
    let t0 = Instant::now();
    let mut m = Machine::new(timings());
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    let late = t0 + secs(6.0);
    let out = m.handle_event(late, Event::Elected { epoch: 1 });
    assert!(!out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
    let out = m.handle_event(late, Event::HeardFromServer { sent_at: late });
    assert!(out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. })));
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
        if out.actions.contains(&Action::Probe) {
            m.handle_event(now, Event::ProbeResult { ok: false });
        }
    }
    assert!(fenced);
    assert_eq!(now, lease);
}

fn spawned(out: &Output) -> bool {
    out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. }))
}

#[test]
fn paused_a_crashed_jobmanager_is_not_restarted_until_resume() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    assert!(reported(&m.handle_event(t0, Event::PauseChanged { paused: true }), &Report::Paused));
    let out = m.handle_event(t0 + secs(1.0), Event::JobManagerExited { code: 1 });
    assert!(reported(&out, &(Report::HeldByPause { what: "restart the JobManager" })), "{out:?}");
    m.handle_event(t0 + secs(1.5), Event::HeardFromServer { sent_at: t0 + secs(1.5) });
    assert!(!spawned(&m.handle_timeout(t0 + secs(20.0))));
    let out = m.handle_event(t0 + secs(2.0), Event::PauseChanged { paused: false });
    assert!(reported(&out, &(Report::Resumed)));
    assert!(spawned(&out), "resume starts the leader's JobManager: {out:?}");
}

#[test]
fn paused_a_new_leader_does_not_start_its_jobmanager() {
    let t0 = Instant::now();
    let mut m = Machine::new(timings());
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    m.handle_event(t0, Event::PauseChanged { paused: true });
    let out = m.handle_event(t0, Event::Elected { epoch: 9 });
    assert!(reported(&out, &(Report::HeldByPause { what: "start the JobManager" })));
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
        assert_eq!(m.handle_timeout(now).actions, vec![Action::Probe]);
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
    assert!(reported(&out, &(Report::HandingOver)));
    assert_eq!(stops(&out), vec![(StopReason::Handover, Duration::from_secs(3))]);
    assert!(!out.actions.iter().any(|a| matches!(a, Action::Resign { .. })), "not before the JobManager is gone");
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
    assert_eq!(out.reports, vec![Report::SteppedAside { epoch: 8 }]);
    assert_eq!(out.actions, vec![Action::Resign { reason: ResignReason::StepAside }]);
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
    assert!(reported(&out, &(Report::Fenced { silent_for: deadline + secs(1.0) - t0 })), "{out:?}");
    assert!(reported(&out, &(Report::JobManagerStopped { reason: StopReason::Fenced, code: 143 })));
    assert!(!out.reports.iter().any(|r| matches!(r, Report::JobManagerExited { .. })));
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
    assert_eq!(out, Output { actions: vec![], reports: vec![report] });
    assert_eq!(m.blocked().map(|b| b.name.as_str()), Some("x-latch-0000000000"));
    assert!(m.handle_event(t0, blocked.clone()).is_empty(), "no second report for the same node");
    assert_eq!(m.blocked_total(), 1);
    let out = m.handle_event(t0, observed(&[("_c_ours-latch-0000000003", false)]));
    assert_eq!(out.reports, [Report::ElectionUnblocked { node: "x-latch-0000000000".into() }]);
    assert!(out.actions.is_empty());
    assert_eq!(m.blocked(), None);
    // Blocked again, then elected (someone deleted it): leading clears it.
    m.handle_event(t0, blocked);
    assert_eq!(m.blocked_total(), 2);
    let out = m.handle_event(t0, Event::Elected { epoch: 3 });
    assert!(reported(&out, &Report::ElectionUnblocked { node: "x-latch-0000000000".into() }));
    assert!(m.blocked().is_none());
}

#[test]
fn a_leader_ignores_what_it_observes_behind_it() {
    let t0 = Instant::now();
    let (mut m, _) = leader(t0);
    let out = m.handle_event(t0, observed(&[("x-latch-0000000000", true)]));
    assert!(out.reports.iter().all(|r| !matches!(r, Report::ElectionBlocked(_))), "{out:?}");
}

fn hook(kind: HookKind, cause: HookCause, epoch: u64) -> Action {
    Action::RunHook(Hook { kind, cause, epoch })
}

/// The position of an action in an output; panics when it is missing.
fn at(out: &Output, wanted: &Action) -> usize {
    out.actions.iter().position(|a| a == wanted).unwrap_or_else(|| panic!("no {wanted:?} in {out:?}"))
}

#[test]
fn a_term_begins_with_the_election_is_ready_once_and_is_released_on_shutdown() {
    let t0 = Instant::now();
    let mut m = Machine::new(timings());
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    let out = m.handle_event(t0, Event::Elected { epoch: 7 });
    assert!(at(&out, &hook(HookKind::OnLeader, HookCause::Elected, 7)) < at(&out, &Action::BeginTerm { epoch: 7 }));
    let lease = m.fence_deadline().unwrap();
    assert!(at(&out, &Action::BeginTerm { epoch: 7 }) < at(&out, &Action::SpawnJobManager { lease_until: lease }));
    m.handle_event(t0 + secs(0.1), Event::JobManagerSpawned { pid: 1 });
    m.handle_timeout(t0 + secs(0.35));
    let out = m.handle_event(t0 + secs(1.0), Event::ProbeResult { ok: true });
    assert!(has(&out, &Action::TermReady { election_to_spawn: secs(0.1), spawn_to_ready: secs(0.9) }), "{out:?}");
    // A restart within the term is no new readiness of the term.
    m.handle_event(t0 + secs(1.5), Event::JobManagerExited { code: 1 });
    m.handle_event(t0 + secs(2.0), Event::HeardFromServer { sent_at: t0 + secs(2.0) });
    m.handle_timeout(t0 + secs(2.0));
    m.handle_event(t0 + secs(2.1), Event::JobManagerSpawned { pid: 2 });
    m.handle_timeout(t0 + secs(2.35));
    let out = m.handle_event(t0 + Duration::from_millis(2400), Event::ProbeResult { ok: true });
    assert!(!out.actions.iter().any(|a| matches!(a, Action::TermReady { .. })), "{out:?}");

    let out = m.handle_event(t0 + secs(3.0), Event::ShutdownRequested);
    assert!(has(&out, &hook(HookKind::OnStandby, HookCause::Shutdown, 7)));
    let stop = Action::StopJobManager { reason: StopReason::Shutdown, grace: Duration::from_secs(3) };
    assert!(at(&out, &Action::TermStopping { reason: StopReason::Shutdown }) < at(&out, &stop));
    let out = m.handle_event(t0 + secs(4.0), Event::JobManagerExited { code: 0 });
    assert!(at(&out, &Action::ReleaseTerm { reason: "shutdown" }) < at(&out, &Action::LeaveElection));
}

#[test]
fn a_resignation_releases_the_term_before_the_election_node_goes() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    let out = m.handle_event(t0 + secs(1.0), request(7, HandoverTarget::Any));
    assert!(has(&out, &Action::TermStopping { reason: StopReason::Handover }));
    assert!(has(&out, &hook(HookKind::OnStandby, HookCause::Handover, 7)));
    let out = m.handle_event(t0 + secs(2.0), Event::JobManagerExited { code: 0 });
    let resign = Action::Resign { reason: ResignReason::Handover };
    assert!(at(&out, &Action::ReleaseTerm { reason: "handover" }) < at(&out, &resign));
}

#[test]
fn a_crash_loop_releases_the_term_as_resigned_without_a_planned_stop() {
    let t0 = Instant::now();
    let (mut m, _) = leader(t0);
    let mut now = t0;
    let mut resigned = false;
    for _ in 0..=timings().restart_limit {
        m.handle_event(now, Event::HeardFromServer { sent_at: now });
        m.handle_timeout(now);
        m.handle_event(now, Event::JobManagerSpawned { pid: 1 });
        now += secs(1.0);
        let out = m.handle_event(now, Event::JobManagerExited { code: 1 });
        assert!(!out.actions.iter().any(|a| matches!(a, Action::TermStopping { .. })), "{out:?}");
        let resign = Action::Resign { reason: ResignReason::CrashLoop };
        if has(&out, &resign) {
            assert!(has(&out, &hook(HookKind::OnStandby, HookCause::Resigned, 7)), "{out:?}");
            assert!(at(&out, &Action::ReleaseTerm { reason: "resigned" }) < at(&out, &resign));
            resigned = true;
            break;
        }
        now += secs(10.0);
    }
    assert!(resigned);
}

#[test]
fn an_expiry_drops_the_term_and_announces_the_standby() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    let out = m.handle_event(t0 + secs(1.0), Event::SessionExpired);
    assert!(has(&out, &Action::DropTerm));
    assert!(has(&out, &hook(HookKind::OnStandby, HookCause::LeadershipLost, 7)));
    assert!(at(&out, &Action::DropTerm) < at(&out, &Action::NewSession));
    let out = m.handle_event(t0 + secs(1.1), Event::JobManagerExited { code: 137 });
    assert!(!out.actions.iter().any(|a| matches!(a, Action::ReleaseTerm { .. } | Action::RunHook(_))), "{out:?}");
}

#[test]
fn a_fence_announces_the_standby_and_a_recovery_in_the_term_the_leader_again() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    let deadline = m.fence_deadline().unwrap();
    let out = m.handle_timeout(deadline);
    assert!(has(&out, &hook(HookKind::OnStandby, HookCause::Fenced, 7)));
    assert!(!out.actions.iter().any(|a| matches!(a, Action::TermStopping { .. })), "a fence is not planned");
    assert!(m.fence().is_fenced());
    m.handle_event(deadline + secs(1.0), Event::JobManagerExited { code: 143 });
    assert!(m.fence().is_fenced());
    let later = deadline + secs(2.0);
    let out = m.handle_event(later, Event::HeardFromServer { sent_at: later });
    assert!(spawned(&out));
    let out = m.handle_event(later, Event::JobManagerSpawned { pid: 2 });
    assert_eq!(out.actions, vec![hook(HookKind::OnLeader, HookCause::Recovered, 7)]);
    assert!(!m.fence().is_fenced());
}

#[test]
fn the_guards_fence_seen_late_is_a_fence_for_the_hooks_and_the_status() {
    let t0 = Instant::now();
    let mut m = ready_leader(t0);
    let deadline = m.fence_deadline().unwrap();
    let out = m.handle_event(deadline + secs(1.0), Event::JobManagerExited { code: 143 });
    assert!(has(&out, &hook(HookKind::OnStandby, HookCause::Fenced, 7)), "{out:?}");
    assert!(m.fence().is_fenced());
    assert_eq!(status_line(&m, true), "leader epoch 7, fenced: JobManager stopped");
}

#[test]
fn the_timers_are_named_and_the_earliest_is_polled() {
    let t0 = Instant::now();
    let (mut m, lease) = leader(t0);
    assert_eq!(m.timer(Timer::Fence), Some(lease), "a spawning JobManager is fenced too");
    m.handle_event(t0, Event::JobManagerSpawned { pid: 1 });
    assert_eq!(m.timer(Timer::StartTimeout), Some(t0 + timings().start_timeout));
    assert_eq!(m.timer(Timer::Probe), Some(t0 + READINESS_POLL));
    assert_eq!(m.timer(Timer::Backoff), None);
    assert_eq!(m.poll_timeout(), Some(t0 + READINESS_POLL));
    m.handle_event(t0, Event::PauseChanged { paused: true });
    assert_eq!(m.timer(Timer::StartTimeout), None, "paused: no start timeout");
}

// The parked JobManager and the steps before a start.

fn parked_machine() -> Machine {
    Machine::new(timings()).with_standby(Standby::Parked)
}

fn parks(out: &Output) -> Vec<u64> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::ParkJobManager { park } => Some(*park),
            _ => None,
        })
        .collect()
}

fn releases(out: &Output) -> Vec<(u64, Instant)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::ReleaseParked { park, lease_until } => Some((*park, *lease_until)),
            _ => None,
        })
        .collect()
}

/// A standby in parked mode with a session at `t0` and park 1 at its gate (pid 500) at `t0 + 2s`.
fn parked_standby(t0: Instant) -> Machine {
    let mut m = parked_machine();
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    assert_eq!(parks(&out), vec![1], "{out:?}");
    m.handle_event(t0 + secs(0.1), Event::ParkedSpawned { park: 1, pid: 500, fingerprint: 7 });
    let out = m.handle_event(t0 + secs(2.0), Event::ParkedAtGate { park: 1 });
    assert!(reported(&out, &Report::JobManagerParked { pid: 500, after: secs(2.0) }), "{out:?}");
    assert!(matches!(m.parked(), Parked::AtGate { pid: 500, .. }));
    m
}

#[test]
fn a_cold_standby_parks_nothing() {
    let t0 = Instant::now();
    let mut m = Machine::new(timings());
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    assert!(parks(&out).is_empty());
    assert_eq!(m.parked(), Parked::Absent);
}

#[test]
fn the_leader_releases_its_parked_jobmanager_with_the_lease_a_spawn_would_get() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    let t1 = t0 + secs(3.0);
    m.handle_event(t1, Event::HeardFromServer { sent_at: t1 });
    let out = m.handle_event(t1, Event::Elected { epoch: 7 });
    // The parked one's configuration is compared first; nothing is released before the answer.
    assert!(has(&out, &Action::ObserveFlinkConfig), "{out:?}");
    assert!(releases(&out).is_empty());
    let out = m.handle_event(t1, Event::FlinkConfigObserved { fingerprint: Some(7) });
    assert_eq!(releases(&out), vec![(1, m.fence_deadline().unwrap())]);
    assert!(reported(&out, &Report::ParkedJobManagerReleased { pid: 500, parked_for: secs(1.0) }));
    assert!(!out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. } | Action::ParkJobManager { .. })));
    // The release is the JobManager's start: Starting since the release, probed, fenced.
    let t2 = t1 + secs(0.01);
    let out = m.handle_event(t2, Event::JobManagerSpawned { pid: 500 });
    assert!(reported(&out, &Report::JobManagerSpawned { pid: 500, attempt: 0 }));
    assert_eq!(m.jobmanager(), JobManager::Starting { since: t1 });
    assert_eq!(m.parked(), Parked::Absent, "a leader parks nothing");
    let out = m.handle_timeout(m.fence_deadline().unwrap());
    assert_eq!(stops(&out), vec![(StopReason::Fenced, Duration::from_secs(3))]);
}

#[test]
fn without_a_parked_jobmanager_at_the_gate_the_start_is_a_park_and_its_release() {
    let t0 = Instant::now();
    let mut m = parked_machine();
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    // Park 1 dies before its gate: backoff.
    let out = m.handle_event(t0, Event::ParkedExited { park: 1, code: Some(1), error: None });
    assert!(matches!(m.parked(), Parked::Backoff { .. }), "{out:?}");
    let out = m.handle_event(t0 + secs(0.1), Event::Elected { epoch: 7 });
    assert_eq!(parks(&out), vec![2]);
    assert_eq!(releases(&out), vec![(2, m.fence_deadline().unwrap())]);
    let park = out.actions.iter().position(|a| matches!(a, Action::ParkJobManager { .. })).unwrap();
    let release = out.actions.iter().position(|a| matches!(a, Action::ReleaseParked { .. })).unwrap();
    assert!(park < release);
    assert_eq!(m.jobmanager(), JobManager::Spawning { since: t0 + secs(0.1) });
}

#[test]
fn a_parked_jobmanager_on_its_way_to_the_gate_is_released_as_it_is() {
    let t0 = Instant::now();
    let mut m = parked_machine();
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    m.handle_event(t0, Event::ParkedSpawned { park: 1, pid: 500, fingerprint: 7 });
    m.handle_event(t0, Event::Elected { epoch: 7 });
    let out = m.handle_event(t0, Event::FlinkConfigObserved { fingerprint: Some(7) });
    assert_eq!(releases(&out).len(), 1);
    assert!(parks(&out).is_empty());
}

#[test]
fn a_stale_parked_jobmanager_is_discarded_at_the_start_and_a_fresh_one_released_once_it_is_gone() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    m.handle_event(t0 + secs(2.0), Event::Elected { epoch: 7 });
    let out = m.handle_event(t0 + secs(2.0), Event::FlinkConfigObserved { fingerprint: Some(8) });
    assert!(reported(&out, &Report::ParkedJobManagerStale { pid: Some(500) }));
    assert!(has(&out, &Action::DiscardParked { park: 1 }));
    // The old one may still hold the JobManager's ports: nothing starts before its exit.
    assert!(parks(&out).is_empty() && releases(&out).is_empty(), "{out:?}");
    assert_eq!(m.jobmanager(), JobManager::Preparing { since: t0 + secs(2.0) });
    let out = m.handle_event(t0 + secs(2.3), Event::ParkedExited { park: 1, code: Some(137), error: None });
    assert_eq!(parks(&out), vec![2]);
    assert_eq!(releases(&out), vec![(2, m.fence_deadline().unwrap())]);
    assert!(!out.reports.iter().any(|r| matches!(r, Report::ParkedJobManagerLost { .. })), "{out:?}");
}

#[test]
fn a_discarded_parked_jobmanager_never_reported_gone_holds_the_start_up_for_the_drain_timeout_only() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    m.handle_event(t0 + secs(2.0), Event::Elected { epoch: 7 });
    m.handle_event(t0 + secs(2.0), Event::FlinkConfigObserved { fingerprint: Some(8) });
    let due = t0 + secs(2.0) + DRAIN_TIMEOUT;
    assert_eq!(m.timer(Timer::DrainTimeout), Some(due));
    let out = m.handle_timeout(due - secs(0.1));
    assert!(parks(&out).is_empty() && releases(&out).is_empty(), "{out:?}");
    // The session is alive all along.
    m.handle_event(due, Event::HeardFromServer { sent_at: due });
    let out = m.handle_timeout(due);
    assert!(reported(&out, &Report::DiscardedParkNotGone { park: 1, waited: DRAIN_TIMEOUT }), "{out:?}");
    assert_eq!(parks(&out), vec![2]);
    assert_eq!(releases(&out), vec![(2, m.fence_deadline().unwrap())]);
    assert_eq!(m.timer(Timer::DrainTimeout), None);
}

#[test]
fn a_start_waiting_for_a_discarded_parked_jobmanager_is_dropped_with_the_leadership() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    m.handle_event(t0 + secs(2.0), Event::Elected { epoch: 7 });
    m.handle_event(t0 + secs(2.0), Event::FlinkConfigObserved { fingerprint: Some(8) });
    m.handle_event(t0 + secs(2.1), Event::LeadershipLost);
    assert_eq!(m.jobmanager(), JobManager::Stopped);
    // A standby again: it parks once the discarded one is gone, and starts nothing.
    let out = m.handle_event(t0 + secs(2.3), Event::ParkedExited { park: 1, code: Some(137), error: None });
    assert_eq!(parks(&out), vec![2]);
    assert!(releases(&out).is_empty(), "{out:?}");
}

#[test]
fn a_configuration_change_reparks_a_standby() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    let check = t0 + secs(2.0) + PARK_CHECK_INTERVAL;
    assert_eq!(m.timer(Timer::ParkCheck), Some(check));
    let out = m.handle_timeout(check);
    assert_eq!(out.actions, vec![Action::ObserveFlinkConfig]);
    assert!(m.handle_event(check, Event::FlinkConfigObserved { fingerprint: Some(7) }).is_empty());
    let out = m.handle_event(check, Event::FlinkConfigObserved { fingerprint: Some(9) });
    assert!(has(&out, &Action::DiscardParked { park: 1 }));
    // The next park waits for the discarded one's exit (it may hold the JobManager's ports).
    assert!(parks(&out).is_empty(), "{out:?}");
    assert_eq!(m.parked(), Parked::Absent);
    assert!(m.handle_timeout(check + secs(0.3)).is_empty(), "no park before the exit");
    let later = check + secs(0.4);
    let out = m.handle_event(later, Event::ParkedExited { park: 1, code: Some(137), error: None });
    // The discarded one's exit is no loss, and the fresh park follows it.
    assert_eq!(out.actions, vec![Action::ParkJobManager { park: 2 }]);
    assert!(out.reports.is_empty(), "{out:?}");
    assert!(matches!(m.parked(), Parked::Parking { park: 2, .. }));
}

#[test]
fn a_parked_jobmanager_that_dies_is_parked_again_with_backoff() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    let t1 = t0 + secs(3.0);
    let out = m.handle_event(t1, Event::ParkedExited { park: 1, code: Some(137), error: None });
    let lost =
        Report::ParkedJobManagerLost { pid: Some(500), code: Some(137), error: None, delay: RESTART_BACKOFF_BASE };
    assert!(reported(&out, &lost), "{out:?}");
    assert!(parks(&out).is_empty());
    assert_eq!(m.poll_timeout(), Some(t1 + RESTART_BACKOFF_BASE));
    let out = m.handle_timeout(t1 + RESTART_BACKOFF_BASE);
    assert_eq!(parks(&out), vec![2]);
    // A second loss in a row waits longer.
    let out = m.handle_event(t1 + secs(1.0), Event::ParkedExited { park: 2, code: None, error: Some("x".into()) });
    assert!(out
        .reports
        .iter()
        .any(|r| matches!(r, Report::ParkedJobManagerLost { delay, .. } if *delay == RESTART_BACKOFF_BASE * 2)));
}

#[test]
fn a_park_that_never_reaches_its_gate_is_killed_and_parked_again_with_backoff() {
    let t0 = Instant::now();
    let mut m = parked_machine().with_park_timeout(secs(60.0));
    let out = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    assert_eq!(parks(&out), vec![1]);
    m.handle_event(t0 + secs(0.1), Event::ParkedSpawned { park: 1, pid: 500, fingerprint: 7 });
    assert_eq!(m.timer(Timer::ParkTimeout), Some(t0 + secs(60.0)));
    assert_eq!(m.poll_timeout(), Some(t0 + secs(60.0)));
    assert!(m.handle_timeout(t0 + secs(59.9)).is_empty());
    let t1 = t0 + secs(60.0);
    let out = m.handle_timeout(t1);
    assert_eq!(out.actions, vec![Action::DiscardParked { park: 1 }]);
    let timed_out =
        Report::ParkedJobManagerTimedOut { pid: Some(500), waited: secs(60.0), delay: RESTART_BACKOFF_BASE };
    assert_eq!(out.reports, vec![timed_out]);
    assert_eq!(m.parked(), Parked::Backoff { until: t1 + RESTART_BACKOFF_BASE });
    assert_eq!(m.timer(Timer::ParkTimeout), None);
    // Its gate, reached late, is no park any more.
    assert!(m.handle_event(t1 + secs(0.1), Event::ParkedAtGate { park: 1 }).is_empty());
    // The backoff is over, but the killed one is not gone yet: no park.
    assert!(parks(&m.handle_timeout(t1 + RESTART_BACKOFF_BASE)).is_empty());
    let out = m.handle_event(t1 + secs(0.6), Event::ParkedExited { park: 1, code: Some(137), error: None });
    assert_eq!(out.actions, vec![Action::ParkJobManager { park: 2 }]);
    assert!(out.reports.is_empty(), "its exit is no second loss: {out:?}");
    // It counted as lost: the next loss in a row waits twice as long.
    let out = m.handle_event(t1 + secs(1.0), Event::ParkedExited { park: 2, code: Some(1), error: None });
    assert!(out
        .reports
        .iter()
        .any(|r| matches!(r, Report::ParkedJobManagerLost { delay, .. } if *delay == RESTART_BACKOFF_BASE * 2)));
}

#[test]
fn a_leader_that_is_a_standby_again_parks_once_its_jobmanager_is_dead() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    m.handle_event(t0 + secs(2.0), Event::Elected { epoch: 7 });
    m.handle_event(t0 + secs(2.0), Event::FlinkConfigObserved { fingerprint: Some(7) });
    m.handle_event(t0 + secs(2.0), Event::JobManagerSpawned { pid: 500 });
    let out = m.handle_event(t0 + secs(3.0), Event::LeadershipLost);
    assert_eq!(stops(&out), vec![(StopReason::LeadershipLost, Duration::ZERO)]);
    assert!(parks(&out).is_empty(), "not while the old JobManager may live: {out:?}");
    let out = m.handle_event(t0 + secs(3.1), Event::JobManagerExited { code: 137 });
    assert_eq!(parks(&out), vec![2]);
}

#[test]
fn a_released_jobmanager_that_died_before_the_release_reached_it_is_the_jobmanagers_exit() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    m.handle_event(t0 + secs(2.0), Event::Elected { epoch: 7 });
    m.handle_event(t0 + secs(2.0), Event::FlinkConfigObserved { fingerprint: Some(7) });
    let out = m.handle_event(t0 + secs(2.1), Event::ParkedExited { park: 1, code: Some(1), error: None });
    assert!(reported(&out, &Report::JobManagerExited { code: 1 }), "{out:?}");
    assert!(matches!(m.jobmanager(), JobManager::Backoff { .. }));
}

#[test]
fn shutdown_discards_the_parked_jobmanager_and_parks_no_other() {
    let t0 = Instant::now();
    let mut m = parked_standby(t0);
    let out = m.handle_event(t0 + secs(3.0), Event::ShutdownRequested);
    assert!(has(&out, &Action::DiscardParked { park: 1 }));
    assert!(parks(&out).is_empty());
    assert!(has(&out, &Action::LeaveElection));
}

fn clearing_leader(t0: Instant) -> (Machine, Output) {
    let mut m = Machine::new(timings()).with_latch_clearing(secs(2.0));
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    let out = m.handle_event(t0, Event::Elected { epoch: 7 });
    (m, out)
}

fn spawns(out: &Output) -> usize {
    out.actions.iter().filter(|a| matches!(a, Action::SpawnJobManager { .. })).count()
}

#[test]
fn the_latches_are_cleared_before_the_jobmanager_starts() {
    let t0 = Instant::now();
    let (mut m, out) = clearing_leader(t0);
    assert!(has(&out, &Action::ClearLatches { round: 1 }));
    assert_eq!(spawns(&out), 0, "no start before the clearing: {out:?}");
    assert_eq!(m.jobmanager(), JobManager::Preparing { since: t0 });
    // Another round's answer does not count.
    assert_eq!(spawns(&m.handle_event(t0, Event::LatchesCleared { round: 9, deleted: 1, skipped: 0 })), 0);
    let out = m.handle_event(t0 + secs(0.2), Event::LatchesCleared { round: 1, deleted: 2, skipped: 1 });
    assert!(reported(&out, &Report::LatchesCleared { deleted: 2, skipped: 1, took: secs(0.2) }));
    assert_eq!(spawns(&out), 1);
    assert!(!out.actions.iter().any(|a| matches!(a, Action::CancelLatchClearing { .. })));
}

#[test]
fn a_latch_clearing_that_times_out_is_abandoned_before_the_start() {
    let t0 = Instant::now();
    let (mut m, _) = clearing_leader(t0);
    assert_eq!(m.poll_timeout(), Some(t0 + secs(2.0)));
    let out = m.handle_timeout(t0 + secs(2.0));
    let cancel = out.actions.iter().position(|a| *a == Action::CancelLatchClearing { round: 1 }).expect("cancelled");
    let spawn = out.actions.iter().position(|a| matches!(a, Action::SpawnJobManager { .. })).expect("spawned");
    assert!(cancel < spawn, "{out:?}");
    assert_eq!(m.latch_failures(), 1);
    // A failure is a start without it too, counted.
    let (mut m, _) = clearing_leader(t0);
    let out = m.handle_event(t0, Event::LatchClearingFailed { round: 1, error: "ConnectionLoss".into() });
    assert_eq!(spawns(&out), 1);
    assert_eq!(m.latch_failures(), 1);
}

#[test]
fn a_start_that_can_no_longer_happen_abandons_its_latch_clearing() {
    let t0 = Instant::now();
    let (mut m, _) = clearing_leader(t0);
    let out = m.handle_event(t0, Event::LeadershipLost);
    assert!(has(&out, &Action::CancelLatchClearing { round: 1 }), "{out:?}");
    assert_eq!(m.jobmanager(), JobManager::Stopped);
    assert_eq!(spawns(&m.handle_event(t0, Event::LatchesCleared { round: 1, deleted: 0, skipped: 0 })), 0);
    // Silence past the fence while clearing: no start, clearing abandoned.
    let (mut m, _) = clearing_leader(t0);
    let out = m.handle_timeout(m.fence_deadline().unwrap());
    assert!(has(&out, &Action::CancelLatchClearing { round: 1 }), "{out:?}");
    assert_eq!(spawns(&m.handle_event(t0, Event::LatchesCleared { round: 1, deleted: 0, skipped: 0 })), 0);
}

mod the_release_invariant {
    use super::*;
    use proptest::prelude::*;

    fn event() -> impl Strategy<Value = Event> {
        let park = 0u64..4;
        prop_oneof![
            Just(Event::SessionDisconnected),
            Just(Event::SessionReconnected),
            Just(Event::SessionExpired),
            (1u64..3).prop_map(|epoch| Event::Elected { epoch }),
            Just(Event::LeadershipLost),
            (1u32..3).prop_map(|pid| Event::JobManagerSpawned { pid }),
            (0i32..2).prop_map(|code| Event::JobManagerExited { code }),
            any::<bool>().prop_map(|ok| Event::ProbeResult { ok }),
            any::<bool>().prop_map(|paused| Event::PauseChanged { paused }),
            (park.clone(), 1u32..3, 0u64..2).prop_map(|(park, pid, fingerprint)| Event::ParkedSpawned {
                park,
                pid,
                fingerprint
            }),
            park.clone().prop_map(|park| Event::ParkedAtGate { park }),
            park.clone().prop_map(|park| Event::ParkedExited { park, code: Some(1), error: None }),
            proptest::option::of(0u64..2).prop_map(|fingerprint| Event::FlinkConfigObserved { fingerprint }),
            (0u64..3).prop_map(|round| Event::LatchesCleared { round, deleted: 1, skipped: 0 }),
            (0u64..3).prop_map(|round| Event::LatchClearingFailed { round, error: "x".into() }),
        ]
    }

    proptest! {
        /// A parked JobManager is released only where a spawn would be allowed (this node leads,
        /// its fence deadline is ahead and is the lease), and only a park this machine asked for.
        #[test]
        fn a_parked_jobmanager_is_released_only_where_a_spawn_would_be(
            steps in prop::collection::vec((0u64..3000, prop::option::of(event()), any::<bool>()), 1..60),
            clearing in any::<bool>(),
        ) {
            let t0 = Instant::now();
            let mut m = Machine::new(timings()).with_standby(Standby::Parked);
            if clearing {
                m = m.with_latch_clearing(secs(1.0));
            }
            let first = m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
            let mut now = t0;
            let mut asked = parks(&first);
            for (ms, event, heard) in steps {
                now += Duration::from_millis(ms);
                // Each call's output is checked against the machine as that call left it.
                let heard = heard.then_some(Some(Event::HeardFromServer { sent_at: now }));
                for event in [heard, Some(event)] {
                    let out = match event {
                        Some(Some(event)) => m.handle_event(now, event),
                        Some(None) => m.handle_timeout(now),
                        None => continue,
                    };
                    asked.extend(parks(&out));
                    for (park, lease_until) in releases(&out) {
                        prop_assert!(matches!(m.role(), Role::Leader { .. }), "released while standby: {out:?}");
                        prop_assert!(m.fence().allows(now), "released without authority: {out:?}");
                        prop_assert_eq!(Some(lease_until), m.fence_deadline());
                        prop_assert!(asked.contains(&park), "released park {} never asked for", park);
                        let spawning = matches!(m.jobmanager(), JobManager::Spawning { .. });
                        prop_assert!(spawning, "released but not starting: {:?}", m.jobmanager());
                    }
                }
            }
        }
    }
}
