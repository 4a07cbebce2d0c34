//! The fence under hostile conditions: real ZooKeeper, real processes, real signals.
//!
//! * The guard alone kills a JobManager that floods its output pipe, with nobody draining it.
//! * A SIGSTOPped daemon's flooding JobManager that ignores SIGTERM is dead before the session
//!   could expire, and the standby's starts only after it (also with 2 s sessions against
//!   servers ticking every 250 ms).
//! * A JobManager that ignores SIGTERM is SIGKILLed after the grace on a handover.
//! * A guard frozen together with its JobManager past the lease and the grace SIGKILLs it at
//!   once when they thaw, without a SIGTERM first.
//! * A SIGKILLed guard: no process of the old group survives the start of the next JobManager.
//! * Output that is not UTF-8 does not stop the forwarding of later lines (JobManager, hooks).

mod cluster;
mod support;

use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster::{daemon_bin, mono_ns, mono_of, secs_between, Cluster, Options, Timing};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{standin, try_wait_for, wait_for, wait_until, KillOnDrop, ZkEnsemble};

/// CLOCK_BOOTTIME nanoseconds, the guard's lease clock.
fn boot_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).expect("boot clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// `(state, ppid, pgrp)` of a process, from `/proc/<pid>/stat`.
fn stat(pid: i32) -> Option<(char, i32, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = text.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|(state, _, _)| state != 'Z')
}

/// Every process id in /proc.
fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

/// Live (not zombie) members of process group `group`.
fn group_alive(group: i32) -> Vec<i32> {
    all_pids().into_iter().filter(|&p| stat(p).is_some_and(|(s, _, g)| g == group && s != 'Z')).collect()
}

/// The fence guard of daemon process `daemon`.
fn guard_of(daemon: i32) -> i32 {
    wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        all_pids().into_iter().find(|&p| {
            stat(p).is_some_and(|(s, ppid, _)| ppid == daemon && s != 'Z')
                && std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"fence-guard"))
        })
    })
}

/// Bytes waiting in the pipe behind `fd`.
fn pending(fd: &impl AsRawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(rc, 0, "FIONREAD");
    n as usize
}

fn pid_of(event: &serde_json::Value) -> i32 {
    event["pid"].as_i64().expect("pid in a stand-in event") as i32
}

#[test]
fn the_guard_alone_kills_a_flooding_jobmanager_at_the_lease_with_nobody_draining_its_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let (lease, grace) = (Duration::from_secs(2), Duration::from_millis(500));
    let lease_ns = boot_ns() + lease.as_nanos() as u64;
    let mut cmd = Command::new(daemon_bin());
    cmd.args(["fence-guard", "--stop-grace", "500ms", "--lease-until-ns", &lease_ns.to_string(), "--"])
        .arg(standin::standin_bin())
        .args(["--port", "0", "--name", "flood", "--flood", "0", "--events"])
        .arg(&events)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut guard = KillOnDrop::spawn(cmd).expect("spawn the guard");
    // Nobody reads the guard's stdout or the JobManager's output (the guard's stderr).
    let output = guard.child().stderr.take().unwrap();
    let jm = wait_for(Duration::from_secs(10), Duration::from_millis(10), || {
        standin::events_of(&events, "start").first().map(pid_of)
    });
    // The JobManager's output pipe is full: more is pending than the pipe holds.
    wait_until(Duration::from_secs(5), Duration::from_millis(5), || pending(&output) >= 60_000);
    assert!(boot_ns() < lease_ns, "the pipe filled only after the lease; the test proves nothing");

    let dead_ns =
        try_wait_for(lease + grace + Duration::from_secs(15), Duration::from_millis(5), || (!alive(jm)).then(boot_ns));
    let Some(dead_ns) = dead_ns else {
        panic!("the JobManager outlived its lease by {:?}", lease + grace + Duration::from_secs(15));
    };
    let after = (dead_ns as f64 - lease_ns as f64) / 1e9;
    eprintln!("guard alone: flooding JobManager dead {after:.3}s after the lease (grace {grace:?})");
    assert!(after >= 0.0, "killed before the lease ran out: {after:.3}s");
    assert!(after < (grace + Duration::from_secs(2)).as_secs_f64(), "dead only {after:.3}s after the lease");

    // It got SIGTERM, could not finish (its stderr is full) and was SIGKILLed at the grace.
    assert_eq!(standin::events_of(&events, "term").len(), 1);
    let status = guard.wait_timeout(Duration::from_secs(5)).expect("the guard exits once the JobManager is gone");
    assert_eq!(status.code(), Some(137), "the guard reports the SIGKILL as its exit code");
    let mut reports = String::new();
    std::io::Read::read_to_string(guard.child().stdout.as_mut().unwrap(), &mut reports).unwrap();
    for line in [format!("spawned {jm}"), "lease-expired".into(), "exited 137".into()] {
        assert!(reports.lines().any(|l| l == line), "{line:?} missing from the guard's reports:\n{reports}");
    }
    assert!(reports.contains("note grace over; SIGKILL"), "{reports}");
}

#[test]
fn a_guard_frozen_with_its_jobmanager_past_the_lease_and_grace_kills_at_once_on_the_thaw() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let (lease, grace) = (Duration::from_secs(1), Duration::from_secs(2));
    let lease_ns = boot_ns() + lease.as_nanos() as u64;
    let mut cmd = Command::new(daemon_bin());
    cmd.args(["fence-guard", "--stop-grace", "2s", "--lease-until-ns", &lease_ns.to_string(), "--"])
        .arg(standin::standin_bin())
        .args(["--port", "0", "--name", "frozen", "--term-delay", "10s", "--events"])
        .arg(&events)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut guard = KillOnDrop::spawn(cmd).expect("spawn the guard");
    let guard_pid = Pid::from_raw(guard.child().id() as i32);
    let jm = wait_for(Duration::from_secs(10), Duration::from_millis(10), || {
        standin::events_of(&events, "start").first().map(pid_of)
    });
    // The whole "host" stops before the lease runs out, as under `docker pause`: the guard and
    // the JobManager's group, while the boot clock runs on.
    kill(guard_pid, Signal::SIGSTOP).unwrap();
    nix::sys::signal::killpg(Pid::from_raw(jm), Signal::SIGSTOP).unwrap();
    assert!(boot_ns() < lease_ns, "stopped only after the lease; the test proves nothing");
    // The daemon's own fence asks for a graceful stop too, queued while the guard is frozen: on
    // the thaw the guard sees it and its alarm at once, and must still SIGKILL at once.
    let stop = format!("stop {}\n", grace.as_millis());
    std::io::Write::write_all(guard.child().stdin.as_mut().unwrap(), stop.as_bytes()).unwrap();
    let dead_by = lease_ns + grace.as_nanos() as u64;
    wait_until(lease + grace + Duration::from_secs(10), Duration::from_millis(20), || {
        boot_ns() > dead_by + 500_000_000
    });
    let thaw_ns = boot_ns();
    nix::sys::signal::killpg(Pid::from_raw(jm), Signal::SIGCONT).unwrap();
    kill(guard_pid, Signal::SIGCONT).unwrap();
    let dead_ns = wait_for(Duration::from_secs(10), Duration::from_millis(2), || (!alive(jm)).then(boot_ns));
    eprintln!("frozen guard: JobManager dead {:.3}s after the thaw", (dead_ns - thaw_ns) as f64 / 1e9);
    let status = guard.wait_timeout(Duration::from_secs(5)).expect("the guard exits once the JobManager is gone");
    assert_eq!(status.code(), Some(137), "SIGKILL, not a SIGTERM and a graceful exit");
    // A SIGTERM would have been recorded (the stand-in records `term` and then waits 10 s).
    assert!(standin::events_of(&events, "term").is_empty(), "the thawed JobManager got SIGTERM first");
    let mut reports = String::new();
    std::io::Read::read_to_string(guard.child().stdout.as_mut().unwrap(), &mut reports).unwrap();
    assert!(reports.lines().any(|l| l == "lease-expired"), "{reports}");
    assert!(reports.contains("past the stop grace"), "{reports}");
}

#[test]
fn a_paused_daemon_cannot_keep_its_flooding_jobmanager_past_the_session() {
    a_paused_daemon_cannot_keep_its_flooding_jobmanager(Timing::standard());
}

#[test]
fn a_paused_daemon_cannot_keep_its_flooding_jobmanager_with_a_2s_session_on_a_250ms_tick() {
    a_paused_daemon_cannot_keep_its_flooding_jobmanager(Timing::short());
}

fn a_paused_daemon_cannot_keep_its_flooding_jobmanager(t: Timing) {
    let zk = t.zk(1);
    let options =
        Options { standin_args: vec!["--flood".into(), "300000".into(), "--ignore-term".into()], ..t.options };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();
    let session_ms = cluster.events(0, "session_started")[0]["negotiated_timeout_ms"].as_u64().unwrap();
    // The daemon forwards both streams while it runs.
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        let records = cluster.records(0);
        ["flooding stdout", "flooding stderr"].iter().all(|what| {
            records
                .iter()
                .any(|r| r["target"] == "jobmanager" && r["message"].as_str().is_some_and(|m| m.contains(what)))
        })
    });
    let jm1 = pid_of(&cluster.starts_of(0)[0]);

    let paused_at = mono_ns();
    cluster.signal(0, Signal::SIGSTOP);
    let limit = Duration::from_millis(session_ms * 3);
    let dead_at = try_wait_for(limit, Duration::from_millis(5), || (!alive(jm1)).then(mono_ns));
    let Some(dead_at) = dead_at else {
        cluster.signal(0, Signal::SIGCONT);
        panic!("the paused daemon's JobManager was alive {limit:?} after the pause\n{}", cluster.dump());
    };
    let dead_s = secs_between(paused_at, dead_at);
    eprintln!("SIGSTOP + flood: old JobManager dead {dead_s:.2}s after the pause (session {session_ms} ms)");
    assert!(dead_s < session_ms as f64 / 1000.0, "dead {dead_s:.2}s after the pause\n{}", cluster.dump());

    assert_eq!(cluster.wait_for_leader(Duration::from_millis(session_ms * 3), Some(0)), 1, "{}", cluster.dump());
    let started = mono_of(&cluster.starts_of(1)[0]);
    eprintln!("SIGSTOP + flood: new JobManager started {:.2}s after the pause", secs_between(paused_at, started));
    assert!(dead_at < started);
    cluster.signal(0, Signal::SIGCONT);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_jobmanager_that_ignores_sigterm_is_killed_after_the_grace_on_a_handover() {
    let zk = ZkEnsemble::start(1);
    let grace = Duration::from_secs(1);
    let options = Options { stop_grace: grace, standin_args: vec!["--ignore-term".into()], ..Options::default() };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();

    let asked_at = mono_ns();
    let output =
        Command::new(daemon_bin()).args(["handover", "--config"]).arg(&cluster.daemons[0].config).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(20), Some(0)), 1, "{}", cluster.dump());
    let stopped = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.events(0, "jobmanager_stopped").into_iter().next()
    });
    assert_eq!(stopped["reason"], "Handover", "{stopped}");
    assert_eq!(stopped["code"], 137, "SIGKILLed after the grace: {stopped}");
    let started_s = secs_between(asked_at, mono_of(&cluster.starts_of(1)[0]));
    eprintln!("handover, SIGTERM ignored: new JobManager started {started_s:.2}s after the request (grace {grace:?})");
    assert!(started_s >= grace.as_secs_f64(), "the new JobManager started before the grace was over");
    // The old one held the exclusive lock until the kernel released it at its death.
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_killed_guard_leaves_no_process_of_the_old_group_behind() {
    let zk = ZkEnsemble::start(1);
    let options = Options { standin_args: vec!["--fork-child".into()], ..Options::default() };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    cluster.start_leader();
    let jm = pid_of(&cluster.starts_of(0)[0]);
    let child = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.standin_events("child").first().map(|e| e["child_pid"].as_i64().unwrap() as i32)
    });
    assert_eq!(stat(child).map(|(_, _, group)| group), Some(jm), "the child is in the JobManager's group");
    let daemon = cluster.daemons[0].process.as_ref().unwrap().id() as i32;
    let guard = guard_of(daemon);

    kill(Pid::from_raw(guard), Signal::SIGKILL).unwrap();
    wait_until(Duration::from_secs(20), Duration::from_millis(20), || cluster.starts_of(0).len() == 2);
    assert!(!alive(child), "the old JobManager's child survived its guard\n{}", cluster.dump());
    assert_eq!(group_alive(jm), Vec::<i32>::new(), "members of the old group are alive");
    // The child held the exclusive lock: had it lived when the next JobManager started, that
    // one would have recorded an overlap.
    cluster.assert_never_two_jobmanagers();
    let exited = cluster.events(0, "jobmanager_exited");
    assert_eq!(exited.len(), 1, "{}", cluster.dump());
    assert_eq!(exited[0]["code"], 137);
}

#[test]
fn output_that_is_not_utf8_does_not_stop_the_forwarding() {
    let zk = ZkEnsemble::start(1);
    let options = Options {
        standin_args: vec!["--invalid-utf8".into()],
        extra_toml: r#"
[hooks]
on_leader = ["sh", "-c", "printf 'hook \\377\\376 bytes\\n'; echo hook-after-invalid"]
"#
        .into(),
        ..Options::default()
    };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    cluster.start_leader();
    let has = |target: &str, pred: &dyn Fn(&str) -> bool| {
        cluster.records(0).iter().any(|r| r["target"] == target && r["message"].as_str().is_some_and(pred))
    };
    let ok = try_wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        (has("jobmanager", &|m| m.contains("not UTF-8: \u{fffd}"))
            && has("jobmanager", &|m| m.contains(": pid ") && m.contains(" started"))
            && has("hook", &|m| m.starts_with("hook \u{fffd}"))
            && has("hook", &|m| m == "hook-after-invalid"))
        .then_some(())
    });
    assert!(ok.is_some(), "lines after bytes that are not UTF-8 were not forwarded\n{}", cluster.dump());
}
