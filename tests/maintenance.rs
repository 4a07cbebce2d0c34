//! `pause`/`resume` (maintenance mode) and `handover` against real daemons and a real ZooKeeper.

mod cluster;
mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cluster::{Cluster, Options};
use nix::sys::signal::Signal;
use support::{wait_until, ZkEnsemble};

fn zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

/// Runs `flink-ha-supervisor <args> --config <daemon i's config>`.
fn command(cluster: &Cluster, i: usize, args: &[&str]) -> Output {
    Command::new(cluster::daemon_bin()).args(args).arg("--config").arg(&cluster.daemons[i].config).output().unwrap()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn handover_to_a_named_node_makes_the_others_step_aside() {
    let zk = zk();
    let mut cluster = Cluster::new(3, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    cluster.start(2);
    cluster.wait_contending(2, cluster::STARTUP);

    let t0 = Instant::now();
    let output = command(&cluster, 0, &["handover", "--to", "jm3", "--wait", "--timeout", "30s"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output), cluster.dump());
    assert!(text(&output).contains("handover from jm1 to jm3 took"), "{}", text(&output));
    eprintln!("{} (command took {:?})", text(&output).trim(), t0.elapsed());
    assert_eq!(cluster.serving_daemons(), vec![2]);
    // jm2 was next in line: it was elected and stepped aside without starting a JobManager.
    assert_eq!(cluster.events(1, "stepped_aside").len(), 1, "{}", cluster.dump());
    assert!(cluster.starts_of(1).is_empty());
    assert_eq!(cluster.events(0, "handing_over").len(), 1);
    let stopped = cluster.events(0, "jobmanager_stopped");
    assert_eq!(stopped[0]["reason"], "Handover");
    // The request is fulfilled and cleared; the measured failover is a handover from jm1.
    cluster.wait_events(2, "handover_completed", 1, Duration::from_secs(5));
    cluster.wait_events(2, "failover_completed", 1, Duration::from_secs(5));
    let measured = &cluster.events(2, "failover_completed")[0];
    assert_eq!((measured["cause"].as_str(), measured["previous_node"].as_str()), (Some("handover"), Some("jm1")));
    // All three still contend.
    assert!(cluster.events(0, "exited").is_empty());
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn handover_refuses_what_cannot_work() {
    let zk = zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader();
    let alone = command(&cluster, 0, &["handover"]);
    assert_eq!(alone.status.code(), Some(1));
    assert!(text(&alone).contains("no standby"), "{}", text(&alone));
    cluster.start(1);
    cluster.wait_contending(1, cluster::STARTUP);
    let nobody = command(&cluster, 0, &["handover", "--to", "jm9"]);
    assert_eq!(nobody.status.code(), Some(1));
    assert!(text(&nobody).contains("jm9 is not a live contender; alive: jm1, jm2"), "{}", text(&nobody));
    let itself = command(&cluster, 0, &["handover", "--to", "jm1"]);
    assert_eq!(itself.status.code(), Some(0));
    assert!(text(&itself).contains("already leads"));
    assert_eq!(cluster.serving_daemons(), vec![0]);
    assert_eq!(cluster.starts_of(0).len(), 1);
}

#[test]
fn paused_nothing_fails_over_until_resume() {
    let zk = zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    let paused = command(&cluster, 0, &["pause", "--reason", "upgrading Flink"]);
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    assert!(text(&paused).contains("PAUSED"));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        !cluster.events(0, "paused").is_empty() && !cluster.events(1, "paused").is_empty()
    });
    assert!(text(&command(&cluster, 0, &["handover"])).contains("paused"), "no handover in maintenance mode");

    // A crash of the JobManager is not restarted.
    let addr = format!("127.0.0.1:{}", cluster.daemons[0].port);
    let _ = support::standin::http_get(&addr, "/control/crash", Duration::from_millis(500));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || !cluster.events(0, "held_by_pause").is_empty());
    // The leader's host dies: the standby is elected but starts nothing.
    cluster.signal(0, Signal::SIGKILL);
    // `held_by_pause` is the record after `elected` in the same turn: wait for it, not for `elected`.
    cluster.wait_events(1, "held_by_pause", 1, Duration::from_secs(20));
    assert_eq!(cluster.events(1, "elected").len(), 1, "{}", cluster.dump());
    let held = cluster.events(1, "held_by_pause");
    assert_eq!(held[0]["what"], "start the JobManager", "{}", cluster.dump());
    assert!(cluster.starts_of(1).is_empty());
    assert!(cluster.serving_daemons().is_empty());

    let resumed = command(&cluster, 1, &["resume"]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), None), 1);
    assert_eq!(cluster.starts_of(0).len(), 1, "jm1 was never restarted while paused");
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn resume_of_a_healthy_cluster_changes_nothing() {
    let zk = zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    assert_eq!(command(&cluster, 1, &["pause"]).status.code(), Some(0));
    assert!(text(&command(&cluster, 1, &["pause"])).contains("already paused"));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || !cluster.events(0, "paused").is_empty());
    assert_eq!(command(&cluster, 1, &["resume"]).status.code(), Some(0));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || !cluster.events(0, "resumed").is_empty());
    assert!(text(&command(&cluster, 1, &["resume"])).contains("not paused"));
    assert_eq!(cluster.serving_daemons(), vec![0]);
    assert_eq!(cluster.starts_of(0).len(), 1, "no restart, no failover");
    assert!(cluster.starts_of(1).is_empty());
}

#[test]
fn commands_report_an_unreachable_zookeeper_with_exit_2() {
    let cluster = Cluster::new(1, Options { session_timeout: Duration::from_secs(6), ..Options::default() }, |_| {
        format!("127.0.0.1:{}", support::pick_free_port())
    });
    let output = command(&cluster, 0, &["pause"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach ZooKeeper"), "{}", text(&output));
}
