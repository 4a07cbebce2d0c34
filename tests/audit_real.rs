//! Real failovers (real ZooKeeper, real daemons, stand-in JobManagers) audited from the daemons'
//! own logs: `audit` must report exactly the failovers that happened, with outages that agree
//! with what the test observed, and no overlap.

mod cluster;
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use cluster::{Cluster, Options};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::ZkEnsemble;

#[test]
fn audit_reports_exactly_the_failovers_of_a_real_run() {
    let zk = ZkEnsemble::start(3);
    let options = Options { standin_args: vec!["--start-delay".into(), "1s".into()], ..Options::default() };
    let session = options.session_timeout;
    let mut cluster = Cluster::new(3, options, |_| zk.connect_string());
    cluster.start_leader_then_standby();
    cluster.start(2);
    cluster.wait_contending(2, cluster::STARTUP);

    // Failover 1: SIGKILL of the leader's daemon (jm1).
    let killed = Instant::now();
    cluster.signal(0, Signal::SIGKILL);
    let second = cluster.wait_for_leader(session * 2 + Duration::from_secs(10), Some(0));
    let observed_crash = killed.elapsed();
    // The audit reads the failover from the new leader's `failover_completed`, which follows its
    // `jobmanager_ready`: wait for exactly that record.
    cluster.wait_events(second, "failover_completed", 1, Duration::from_secs(10));
    cluster.start(0); // back as a standby

    // Failover 2: SIGTERM of the new leader: a handover.
    let stopped = Instant::now();
    cluster.signal(second, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(second, Duration::from_secs(10)), Some(0));
    let third = cluster.wait_for_leader(Duration::from_secs(15), Some(second));
    let observed_handover = stopped.elapsed();
    cluster.wait_events(third, "failover_completed", 1, Duration::from_secs(10));
    cluster.assert_never_two_jobmanagers();

    let logs: Vec<_> = cluster.daemons.iter().map(|d| d.log.clone()).collect();
    let output =
        Command::new(cluster::daemon_bin()).arg("audit").args(["--format", "json"]).args(&logs).output().unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&output.stdout), cluster.dump()));
    assert_eq!(output.status.code(), Some(0), "{report:#}");
    let failovers = report["failovers"].as_array().unwrap();
    assert_eq!(failovers.len(), 2, "{report:#}");
    let name = |i: usize| cluster.daemons[i].name.as_str();

    let crash = &failovers[0];
    assert_eq!(crash["cause"], "leader_lost", "{crash:#}");
    assert_eq!(
        (crash["previous_node"].as_str(), crash["node"].as_str()),
        (Some("jm1"), Some(name(second))),
        "{crash:#}"
    );
    let crash_ms = crash["outage_ms"].as_u64().unwrap();
    // The outage starts at the old leader's last refresh of its record (at most 500 ms before the
    // kill) and ends when the new JobManager is ready (the test saw it a poll later).
    let observed = observed_crash.as_millis() as u64;
    assert!(crash_ms + 300 >= observed && crash_ms <= observed + 1500, "audit {crash_ms} ms, observed {observed} ms");
    assert!(crash_ms >= session.as_millis() as u64, "a crash is detected only at session expiry: {crash_ms} ms");

    let handover = &failovers[1];
    assert_eq!(handover["cause"], "handover", "{handover:#}");
    assert_eq!(
        (handover["previous_node"].as_str(), handover["node"].as_str()),
        (Some(name(second)), Some(name(third)))
    );
    let handover_ms = handover["outage_ms"].as_u64().unwrap();
    let observed = observed_handover.as_millis() as u64;
    assert!(handover_ms <= observed + 1500, "audit {handover_ms} ms, observed {observed} ms");
    assert!(handover_ms < session.as_millis() as u64, "a handover does not wait for the session: {handover_ms} ms");

    assert_eq!(report["overlaps"].as_array().unwrap().len(), 0, "{report:#}");
    assert_eq!(report["summary"]["count"], 2, "{report:#}");
    eprintln!("audited: crash {crash_ms} ms (observed {observed_crash:?}), handover {handover_ms} ms (observed {observed_handover:?})");
}
