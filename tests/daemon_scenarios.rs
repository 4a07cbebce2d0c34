//! The daemon end to end: real ZooKeeper servers, real daemon processes, stand-in JobManagers.
//! Every scenario also asserts that no two JobManagers ever ran at the same moment. The real
//! faults (SIGKILL, SIGSTOP, a blackholed connection) run twice: with the harness's usual
//! timings, and with 2 s sessions against servers ticking every 250 ms (`Timing::short`).

mod cluster;
mod support;

use std::time::{Duration, Instant};

use cluster::{mono_ns, mono_of, secs_between, Cluster, Options, Timing};
use nix::sys::signal::Signal;
use support::{standin, wait_until, ProxyGroup, ZkEnsemble};

/// Generous slack for process starts and scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(5);

fn single_zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

fn ensemble() -> ZkEnsemble {
    ZkEnsemble::start(3)
}

fn control(cluster: &Cluster, i: usize, what: &str) {
    let addr = format!("127.0.0.1:{}", cluster.daemons[i].port);
    let _ = standin::http_get(&addr, &format!("/control/{what}"), Duration::from_millis(500));
}

#[test]
fn three_daemons_run_exactly_one_jobmanager() {
    let zk = single_zk();
    let mut cluster = Cluster::new(3, Options::default(), |_| zk.connect_string());
    cluster.start_all();
    let leader = cluster.wait_for_leader(Duration::from_secs(30), None);
    // Give the standbys every chance to (wrongly) start one too.
    wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        (0..3).all(|i| cluster.events(i, "session_started").len() == 1)
    });
    cluster.assert_only_serving_for(leader, Duration::from_secs(2));
    assert_eq!(cluster.standin_events("start").len(), 1, "{}", cluster.dump());
    for i in (0..3).filter(|&i| i != leader) {
        assert!(cluster.events(i, "elected").is_empty(), "standby {i} was elected:\n{}", cluster.dump());
    }
    let elected = cluster.events(leader, "elected");
    assert_eq!(elected.len(), 1);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn sigkill_of_the_leader_daemon_fails_over_within_the_session_timeout() {
    sigkill_of_the_leader_daemon_fails_over(Timing::standard());
}

#[test]
fn sigkill_of_the_leader_daemon_fails_over_with_a_2s_session_on_a_250ms_tick() {
    sigkill_of_the_leader_daemon_fails_over(Timing::short());
}

fn sigkill_of_the_leader_daemon_fails_over(t: Timing) {
    let zk = t.zk(1);
    let options = t.options;
    let session = options.session_timeout;
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();

    let killed_at = mono_ns();
    cluster.signal(0, Signal::SIGKILL);
    // The orphaned JobManager dies with its daemon (the guard sees its control pipe close).
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || !cluster.serving(0));
    // ... gracefully: the guard's SIGTERM, not only the parent-death SIGKILL.
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.standin_events("term").iter().any(|e| e["name"] == "jm1")
    });
    let new = cluster.wait_for_leader(session + SLACK + Duration::from_secs(10), Some(0));
    assert_eq!(new, 1);
    let started = mono_of(cluster.starts_of(1).first().expect("jm2 started"));
    let failover = secs_between(killed_at, started);
    eprintln!("SIGKILL failover: new JobManager spawned {failover:.2}s after the kill (session {session:?})");
    assert!(failover < (session + SLACK).as_secs_f64(), "failover took {failover:.2}s\n{}", cluster.dump());
    cluster.assert_never_two_jobmanagers();

    // The new leader measured the outage from the old leader's last refresh of its record.
    let measured = wait_for_failover_record(&cluster, 1);
    eprintln!("failover_completed: {measured}");
    assert_eq!(measured["cause"], "leader_lost");
    assert_eq!(measured["previous_node"], "jm1");
    assert_eq!(measured["within_budget"], true);
    let outage_ms = measured["outage_ms"].as_u64().unwrap();
    let observed_ms = (failover * 1000.0) as u64;
    assert!(outage_ms + 500 >= observed_ms, "outage {outage_ms} ms < observed spawn {observed_ms} ms");
    assert!(outage_ms <= observed_ms + 3000, "outage {outage_ms} ms far above observed {observed_ms} ms");
    assert_parts_add_up(&measured);
}

/// Waits for daemon `i`'s `failover_completed` record.
fn wait_for_failover_record(cluster: &Cluster, i: usize) -> serde_json::Value {
    support::wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        cluster.events(i, "failover_completed").into_iter().next()
    })
}

/// The parts of an outage add up to it, within the record's error bound and write latencies.
fn assert_parts_add_up(record: &serde_json::Value) {
    let field = |name: &str| record[name].as_u64().unwrap_or_else(|| panic!("{name} in {record}")) as i64;
    let parts = field("detection_ms") + field("election_ms") + field("start_ms") + field("readiness_ms");
    let outage = field("outage_ms");
    assert!((parts - outage).abs() <= 250, "parts {parts} ms vs outage {outage} ms: {record}");
}

#[test]
fn sigterm_of_the_leader_hands_over_without_waiting_for_the_session_timeout() {
    let zk = single_zk();
    let options = Options { session_timeout: Duration::from_secs(20), ..Options::default() };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();

    let t0 = Instant::now();
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(10)), Some(0), "{}", cluster.dump());
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(15), Some(0)), 1);
    let handover = t0.elapsed();
    eprintln!("SIGTERM handover: new JobManager ready {handover:?} after the signal");
    assert!(handover < Duration::from_secs(10), "handover waited for the 20s session: {handover:?}");
    // The old leader stopped its JobManager gracefully, then left.
    let stopped = cluster.events(0, "jobmanager_stopped");
    assert_eq!(stopped.len(), 1, "{}", cluster.dump());
    assert_eq!(stopped[0]["reason"], "Shutdown");
    assert!(!cluster.events(0, "exited").is_empty());
    cluster.assert_never_two_jobmanagers();

    let measured = wait_for_failover_record(&cluster, 1);
    eprintln!("failover_completed: {measured}");
    assert_eq!(measured["cause"], "handover");
    assert_eq!(measured["previous_node"], "jm1");
    let outage_ms = measured["outage_ms"].as_u64().unwrap();
    assert!(outage_ms <= handover.as_millis() as u64 + 500, "outage {outage_ms} ms vs handover {handover:?}");
    assert_parts_add_up(&measured);
}

#[test]
fn a_crashed_jobmanager_is_restarted_locally() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader();
    cluster.start(1);
    control(&cluster, 0, "crash");
    wait_until(Duration::from_secs(15), Duration::from_millis(50), || cluster.starts_of(0).len() == 2);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), None), 0);
    let exited = cluster.events(0, "jobmanager_exited");
    assert_eq!(exited.len(), 1, "{}", cluster.dump());
    assert_eq!(exited[0]["code"], 1);
    assert_eq!(cluster.events(0, "jobmanager_restarted").len(), 1);
    assert!(cluster.starts_of(1).is_empty(), "the standby must not take over for one crash");
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_crash_loop_makes_the_leader_resign_and_a_standby_take_over() {
    let zk = single_zk();
    let options = Options { restart_limit: 1, ..Options::default() };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();
    control(&cluster, 0, "crash");
    wait_until(Duration::from_secs(15), Duration::from_millis(50), || cluster.starts_of(0).len() == 2);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), None), 0);
    control(&cluster, 0, "crash");
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(20), Some(0)), 1, "{}", cluster.dump());
    assert_eq!(cluster.events(0, "resigned").len(), 1, "{}", cluster.dump());
    assert_eq!(cluster.starts_of(0).len(), 2, "no third start after resigning");
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_hung_jobmanager_counts_as_failed_and_is_replaced() {
    let zk = single_zk();
    let mut cluster = Cluster::new(1, Options::default(), |_| zk.connect_string());
    cluster.start_leader();
    control(&cluster, 0, "hang");
    wait_until(Duration::from_secs(15), Duration::from_millis(50), || cluster.starts_of(0).len() == 2);
    let stopped = cluster.events(0, "jobmanager_stopped");
    assert_eq!(stopped.len(), 1, "{}", cluster.dump());
    assert_eq!(stopped[0]["reason"], "Unhealthy");
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), None), 0);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_leader_cut_off_from_zookeeper_is_fenced_before_its_session_can_expire() {
    a_leader_cut_off_from_zookeeper_is_fenced(Timing::standard());
}

#[test]
fn a_leader_cut_off_from_zookeeper_is_fenced_with_a_2s_session_on_a_250ms_tick() {
    a_leader_cut_off_from_zookeeper_is_fenced(Timing::short());
}

fn a_leader_cut_off_from_zookeeper_is_fenced(t: Timing) {
    let zk = t.zk(3);
    let earliest_expiry = t.options.session_timeout - t.expiry_lead();
    let options = t.options;
    let session = options.session_timeout;
    let proxies = ProxyGroup::for_ensemble(&zk);
    let mut cluster = Cluster::new(2, options, |i| if i == 0 { proxies.connect_string() } else { zk.connect_string() });
    cluster.start_leader_then_standby();

    let cut_at = mono_ns();
    proxies.blackhole();
    let new = cluster.wait_for_leader(session * 2 + SLACK, Some(0));
    assert_eq!(new, 1);
    // jm1's daemon logs its fence on its own clock, not in step with jm2's start.
    cluster.wait_events(0, "fenced", 1, SLACK);
    let fenced = cluster.events(0, "fenced");
    assert_eq!(fenced.len(), 1, "{}", cluster.dump());
    // The old JobManager stopped (SIGTERM, recorded by the stand-in) before the session could
    // expire, counted from the cut; the new one started after the session expired.
    let term = cluster.standin_events("term");
    let jm1_term = term.iter().find(|e| e["name"] == "jm1").expect("jm1 got SIGTERM");
    let stop_s = secs_between(cut_at, mono_of(jm1_term));
    let start_s = secs_between(cut_at, mono_of(&cluster.starts_of(1)[0]));
    eprintln!("partition: old JobManager stopped {stop_s:.2}s, new one started {start_s:.2}s after the cut");
    assert!(stop_s < session.as_secs_f64(), "{stop_s:.2}s\n{}", cluster.dump());
    assert!(
        start_s >= earliest_expiry.as_secs_f64(),
        "the standby started before the session could expire: {start_s:.2}s"
    );
    assert!(stop_s < start_s);
    cluster.assert_never_two_jobmanagers();

    // Healing the partition: the old leader finds its session expired and rejoins as a standby.
    proxies.restore();
    wait_until(Duration::from_secs(30), Duration::from_millis(100), || cluster.events(0, "session_started").len() == 2);
    assert_eq!(cluster.serving_daemons(), vec![1]);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_paused_leader_loses_its_jobmanager_before_the_standby_starts_and_rejoins_as_standby() {
    a_paused_leader_loses_its_jobmanager_first(Timing::standard());
}

#[test]
fn a_paused_leader_loses_its_jobmanager_first_with_a_2s_session_on_a_250ms_tick() {
    a_paused_leader_loses_its_jobmanager_first(Timing::short());
}

fn a_paused_leader_loses_its_jobmanager_first(t: Timing) {
    let zk = t.zk(1);
    let options = t.options;
    let session = options.session_timeout;
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();

    let paused_at = mono_ns();
    cluster.signal(0, Signal::SIGSTOP);
    assert_eq!(cluster.wait_for_leader(session * 2 + SLACK, Some(0)), 1, "{}", cluster.dump());
    let term = cluster.standin_events("term");
    let jm1_term = term.iter().find(|e| e["name"] == "jm1").expect("jm1 got SIGTERM from its guard");
    let start = mono_of(&cluster.starts_of(1)[0]);
    eprintln!(
        "SIGSTOP: old JobManager stopped {:.2}s, new one started {:.2}s after the pause",
        secs_between(paused_at, mono_of(jm1_term)),
        secs_between(paused_at, start)
    );
    assert!(mono_of(jm1_term) < start);
    cluster.assert_never_two_jobmanagers();

    cluster.signal(0, Signal::SIGCONT);
    wait_until(Duration::from_secs(30), Duration::from_millis(100), || cluster.events(0, "session_started").len() == 2);
    assert!(!cluster.events(0, "session_expired").is_empty(), "{}", cluster.dump());
    // Back as a standby: no new JobManager of its own, the other keeps serving.
    cluster.assert_only_serving_for(1, Duration::from_secs(2));
    assert_eq!(cluster.starts_of(0).len(), 1, "{}", cluster.dump());
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_zookeeper_server_restart_within_the_session_keeps_the_leader() {
    let zk = single_zk();
    let options = Options {
        session_timeout: Duration::from_secs(20),
        stop_grace: Duration::from_millis(500),
        ..Options::default()
    };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    cluster.start_leader();
    zk.stop(0);
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        !cluster.events(0, "session_disconnected").is_empty()
    });
    zk.start_server(0);
    wait_until(Duration::from_secs(15), Duration::from_millis(50), || {
        !cluster.events(0, "session_reconnected").is_empty()
    });
    assert!(cluster.events(0, "fenced").is_empty(), "{}", cluster.dump());
    assert!(cluster.events(0, "jobmanager_stopped").is_empty());
    assert_eq!(cluster.starts_of(0).len(), 1);
    assert!(cluster.serving(0));
}

#[test]
fn foreign_and_malformed_children_of_the_election_path_are_tolerated_and_logged() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();

    // Another program's node, and a contender-shaped node with garbage data queued behind both
    // daemons (an ephemeral of this test's session).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(zookeeper_client::Client::connect(&zk.connect_string())).unwrap();
    let persistent = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    let ephemeral = zookeeper_client::CreateMode::EphemeralSequential.with_acls(zookeeper_client::Acls::anyone_all());
    runtime.block_on(client.create("/it/leader/not-a-contender", b"hello", &persistent)).unwrap();
    runtime.block_on(client.create("/it/leader/_c_garbage-latch-", b"{truncated", &ephemeral)).unwrap();

    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(15), Some(0)), 1, "{}", cluster.dump());
    let warned = |event: &str| !cluster.events(1, event).is_empty();
    support::wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        warned("foreign_child") && warned("malformed_contender")
    });
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(10)), Some(0));
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn losing_the_zookeeper_leader_keeps_the_jobmanager_when_the_ensemble_recovers_in_time() {
    let zk = ensemble();
    let options = Options { session_timeout: Duration::from_secs(10), ..Options::default() };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();
    let zk_leader = zk.wait_for_leader(Duration::from_secs(10));
    zk.stop(zk_leader);
    // The ensemble elects a new leader; every client reconnects within its session.
    let new_zk_leader = zk.wait_for_leader(Duration::from_secs(20));
    assert_ne!(new_zk_leader, zk_leader);
    // Longer than the fence deadline (6.5 s after the last answer): the leader kept serving, so
    // its heartbeats were answered through the new ZooKeeper leader in time.
    cluster.assert_only_serving_for(0, Duration::from_secs(9));
    assert!(cluster.events(0, "jobmanager_stopped").is_empty());
    assert_eq!(cluster.starts_of(0).len(), 1);
    assert_eq!(cluster.serving_daemons(), vec![0]);
    assert!(cluster.starts_of(1).is_empty());
    cluster.assert_never_two_jobmanagers();
}

/// The log records of daemon `i` that report a dead task.
fn task_deaths(cluster: &Cluster, i: usize) -> Vec<serde_json::Value> {
    cluster.events(i, "task_died")
}

#[test]
fn a_standby_whose_election_task_dies_exits_non_zero_instead_of_staying_healthy() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader();
    cluster.start_with(1, |cmd| {
        cmd.args(["--fault-panic-task", "election"]);
    });
    // Before supervision the task died alone and the daemon went on, healthy and never elected.
    let code = cluster.wait_exit(1, Duration::from_secs(20));
    assert_eq!(code, Some(1), "{}", cluster.dump());
    let deaths = task_deaths(&cluster, 1);
    assert_eq!(deaths.len(), 1, "{}", cluster.dump());
    assert_eq!(deaths[0]["task"], "election");
    assert!(deaths[0]["why"].as_str().unwrap().contains("fault injection"), "{deaths:?}");
    assert_eq!(deaths[0]["level"], "ERROR");
    let failed: Vec<_> = cluster.records(1).into_iter().filter(|r| r["message"] == "the daemon failed").collect();
    assert_eq!(failed.len(), 1, "{}", cluster.dump());
    assert!(failed[0]["error"].as_str().unwrap().contains("task `election` died"), "{failed:?}");
    // The leader is untouched.
    cluster.assert_only_serving_for(0, Duration::from_secs(1));
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_leader_whose_record_task_dies_stops_its_jobmanager_leaves_and_exits_non_zero() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_with(0, |cmd| {
        cmd.args(["--fault-panic-task", "leader-record"]);
    });
    // Elected, its term's task panics: it stops its JobManager, leaves the election, exits 1.
    let code = cluster.wait_exit(0, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{}", cluster.dump());
    assert_eq!(cluster.events(0, "elected").len(), 1, "{}", cluster.dump());
    let deaths = task_deaths(&cluster, 0);
    assert_eq!(deaths.len(), 1, "{}", cluster.dump());
    assert_eq!(deaths[0]["task"], "leader-record");
    assert!(!cluster.serving(0));
    assert!(cluster.events(0, "exited").is_empty(), "a dead task is no clean exit:\n{}", cluster.dump());
    let failed: Vec<_> = cluster.records(0).into_iter().filter(|r| r["message"] == "the daemon failed").collect();
    let error = failed.first().and_then(|r| r["error"].as_str()).unwrap_or_default();
    assert!(error.contains("the JobManager is stopped and the election left"), "{}", cluster.dump());
    // It left the election: a standby started now leads at once, without a session timeout.
    cluster.start(1);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(20), Some(0)), 1, "{}", cluster.dump());
    cluster.assert_never_two_jobmanagers();
}

/// `flink-ha-supervisor <args> --config <daemon i's config>`: the exit code and stdout + stderr.
fn command(cluster: &Cluster, i: usize, args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(cluster::daemon_bin())
        .args(args)
        .arg("--config")
        .arg(&cluster.daemons[i].config)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// `status --format json`: the exit code and the report (a panic would be exit 101 and no JSON).
fn status_json(cluster: &Cluster) -> (Option<i32>, serde_json::Value) {
    let (code, text) = command(cluster, 0, &["status", "--format", "json"]);
    let report =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("status is not JSON ({e}, exit {code:?}): {text}"));
    (code, report)
}

#[test]
fn hostile_child_names_stop_neither_the_election_nor_status_nor_handover() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();

    // Names with a multi-byte character where the sequence would be (each once panicked a byte
    // slice in the daemons' election task and in `status`/`handover`), no sequence, a very long
    // one, sequences that are no i32 or no number; empty and non-JSON data.
    let long = format!("latch-{}123456789", "\u{fc}".repeat(2000));
    let hostile = [
        "latch-\u{fc}123456789",
        "x-latch-\u{20ac}12345678",
        "_c_hostile-latch-\u{20ac}\u{20ac}\u{20ac}9",
        "x-latch-",
        long.as_str(),
        "x-latch-99999999999",
        "x-latch-00000000ab",
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(zookeeper_client::Client::connect(&zk.connect_string())).unwrap();
    let persistent = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    for (i, name) in hostile.iter().enumerate() {
        let data: &[u8] = if i % 2 == 0 { b"" } else { b"\xff{not json" };
        runtime.block_on(client.create(&format!("/it/leader/{name}"), data, &persistent)).unwrap();
    }

    let (code, report) = status_json(&cluster);
    assert_eq!(code, Some(0), "{report}");
    let foreign = report["foreign"].as_array().unwrap();
    assert!(foreign.iter().any(|f| f == "latch-\u{fc}123456789"), "{report}");
    assert_eq!(report["leader"]["node_id"], "jm1");

    // A planned handover: the standby must be elected past the hostile names (its election task
    // lists them when its predecessor goes).
    let (code, text) = command(&cluster, 0, &["handover", "--wait", "--timeout", "30s"]);
    assert_eq!(code, Some(0), "{text}\n{}", cluster.dump());
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), Some(0)), 1);
    // jm1 contends again behind jm2 (its election task lists the hostile names too).
    support::wait_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let (code, report) = status_json(&cluster);
        code == Some(0) && report["alive_jobmanagers"] == 2 && report["leader"]["node_id"] == "jm2"
    });

    // A crash of the new leader: jm1 takes over once jm2's session expires.
    cluster.signal(1, Signal::SIGKILL);
    let session = cluster.options.session_timeout;
    assert_eq!(cluster.wait_for_leader(session + SLACK + Duration::from_secs(10), Some(1)), 0, "{}", cluster.dump());
    let (code, report) = status_json(&cluster);
    assert_eq!(code, Some(1), "one daemon left: degraded, not a crash: {report}");
    assert_eq!(report["leader"]["node_id"], "jm1");
    assert!(task_deaths(&cluster, 0).is_empty() && task_deaths(&cluster, 1).is_empty(), "{}", cluster.dump());
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_grant_that_proves_a_longer_tick_is_warned_about_and_fenced_by() {
    // The daemon is told 250 ms, the server ticks every 1.5 s: it raises the 2 s asked for to
    // its minimum of two ticks, 3 s.
    let zk = ZkEnsemble::builder().tick_time(Duration::from_millis(1500)).start();
    let mut cluster = Cluster::new(1, Timing::short().options, |_| zk.connect_string());
    cluster.start_leader();
    let started = cluster.events(0, "session_started");
    assert_eq!(started[0]["negotiated_timeout_ms"], 3000, "{}", cluster.dump());
    let warned = cluster.events(0, "tick_time_too_low");
    assert_eq!(warned.len(), 1, "{}", cluster.dump());
    let w = &warned[0];
    assert_eq!(w["level"], "WARN");
    assert_eq!((w["tick_time_ms"].as_u64(), w["implied_tick_time_ms"].as_u64()), (Some(250), Some(1500)), "{w}");
    assert_eq!((w["requested_ms"].as_u64(), w["negotiated_ms"].as_u64()), (Some(2000), Some(3000)), "{w}");
    let message = w["message"].as_str().unwrap();
    assert!(message.contains("zookeeper.tick_time") && message.contains("1500ms"), "{message}");
    // Fenced by the 1.5 s tick, 3 s still leave room for the 100 ms grace: the JobManager runs.
    assert!(cluster.events(0, "session_timeout_too_short").is_empty(), "{}", cluster.dump());
    cluster.assert_only_serving_for(0, Duration::from_secs(2));
    cluster.assert_never_two_jobmanagers();
}
