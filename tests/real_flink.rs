//! The supervisor against the REAL Flink 2.3 JobManager (`bin/jobmanager.sh start-foreground`,
//! the standalone session entrypoint), not the stand-in.
//!
//! Two `flink-ha-supervisor run` daemons share one real ZooKeeper server; each has its own Flink
//! configuration directory (a copy of the distribution's `conf/` whose `config.yaml` gets its own
//! `rest.port` and `jobmanager.rpc.port` on 127.0.0.1 and a small `jobmanager.memory.process.size`)
//! and its own log, pid and temp directories. The test proves, with real processes only:
//!
//! 1. the first daemon is elected, spawns Flink, and Flink answers `GET /overview` with 200 within
//!    `start_timeout` (the daemon logs `jobmanager_ready`);
//! 2. the second daemon joins the election as a standby and never starts its Flink (no java
//!    process with its configuration, its REST port refuses) while the first leads;
//! 3. SIGTERM to the leader daemon stops its Flink (the java pid from `jobmanager_spawned` is gone
//!    and its REST port closes), the daemon exits 0 and closes its session, and the standby takes
//!    over without waiting for the session timeout: its Flink becomes ready; the old java process
//!    was gone before the new one was spawned;
//! 4. SIGKILL of the new leader daemon takes its Flink down too (the fence guard sees its control
//!    pipe close) within `stop_grace` plus a few seconds, after a graceful SIGTERM that Flink's own
//!    log records.
//!
//! The measured times (start, handover, orphan stop) are printed; run with `--nocapture`.
//!
//! Flink comes from `FLINK_HOME`, else from the cache that `scripts/install-test-deps` fills
//! (`$FLINK_HA_SUPERVISOR_CACHE`, `$XDG_CACHE_HOME/flink-ha-supervisor` or `~/.cache/flink-ha-supervisor`). Without
//! either, the test fails and says to run that script: it never passes vacuously.
//!
//! No JobManager outlives the test, even if it panics: dropping a node SIGKILLs its daemon and
//! every process whose command line names the node's (unique, temporary) Flink config directory.

mod flinkhost;
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use flinkhost::{
    comm, dump, election_nodes, flink_home, pid_of, secs, write_conf_dir, DaemonSettings, KeepOnPanic, Node,
    NodeOptions,
};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::{wait_until, ZkEnsemble};

/// `zookeeper.session_timeout`: with `stop_grace` 3 s the fence rule needs at least 6.25 s.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// `jobmanager.stop_grace`.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// `jobmanager.start_timeout`: a Flink 2.3 JobManager answers `/overview` after 4-8 s here.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a shutting-down daemon waits for the server to confirm the session's close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Generous slack for process starts and scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_secs(10);
/// Poll interval of the waits.
const POLL: Duration = Duration::from_millis(20);
/// `election.path`.
const ELECTION_PATH: &str = "/it/real-flink/leader";
/// The nodes' layout: the JobManager runs with `<node>/conf`; failure dumps show non-JSON output.
const NODE: NodeOptions = NodeOptions { conf_subdir: "conf", poll: POLL, unset_env: &[], dump_other_output: true };

/// The distribution's version, from `lib/flink-dist-<version>.jar`.
fn flink_version(home: &Path) -> String {
    std::fs::read_dir(home.join("lib"))
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("flink-dist-").and_then(|v| v.strip_suffix(".jar")).map(str::to_string)
        })
        .next()
        .unwrap_or_else(|| "unknown".into())
}

/// One host: a daemon whose `conf_dir` is a copy of the distribution's `conf/` with `config.yaml`
/// rewritten for one JobManager on loopback.
fn new_node(root: &Path, flink: &Path, name: &str, quorum: &str) -> Node {
    let node = Node::new(root, name, NODE);
    write_conf_dir(
        flink,
        &node.conf_dir,
        &["jobmanager", "rest", "io", "web"],
        "flink-ha-supervisor tests/real_flink.rs",
        &format!(
            "jobmanager.rpc.address: 127.0.0.1\n\
             jobmanager.rpc.port: {rpc_port}\n\
             jobmanager.bind-host: 127.0.0.1\n\
             jobmanager.memory.process.size: 768m\n\
             jobmanager.execution.failover-strategy: region\n\
             rest.address: 127.0.0.1\n\
             rest.bind-address: 127.0.0.1\n\
             rest.port: {rest_port}\n\
             io.tmp.dirs: {tmp}\n\
             web.tmpdir: {tmp}\n",
            rpc_port = node.rpc_port,
            rest_port = node.rest_port,
            tmp = node.tmp_dir.display(),
        ),
    );
    node.write_daemon_config(
        flink,
        &DaemonSettings {
            jobmanager_extra: "health_interval = \"2s\"\n\
                               health_failures = 3\n\
                               restart_limit = 3\n\
                               restart_window = \"5m\"\n",
            env_extra: &format!("FLINK_CONF_DIR = {:?}\n", node.conf_dir.display().to_string()),
            ..DaemonSettings::new(
                quorum,
                ELECTION_PATH,
                SESSION_TIMEOUT,
                START_TIMEOUT,
                STOP_GRACE,
                Duration::from_secs(30),
            )
        },
    );
    node
}

impl Node {
    /// `GET /overview` answers 200 (with its body).
    fn overview(&self) -> Option<String> {
        self.get_200("/overview", Duration::from_millis(1000))
    }
}

#[test]
fn real_flink_runs_only_on_the_leader_and_moves_with_leadership() {
    let flink = flink_home(&["bin/jobmanager.sh", "conf/config.yaml"]);
    let version = flink_version(&flink);
    eprintln!("real Flink {version} at {}", flink.display());
    let zk = ZkEnsemble::builder().servers(1).start();
    let root = KeepOnPanic::new("fhs-real-flink-", "real_flink");
    let quorum = zk.connect_string();
    let mut a = new_node(root.path(), &flink, "jm-a", &quorum);
    let mut b = new_node(root.path(), &flink, "jm-b", &quorum);

    // 1. The first daemon is elected and its Flink becomes ready.
    let started_at = Instant::now();
    a.start();
    a.wait_event("elected", Duration::from_secs(30), &[&a, &b]);
    let spawned_a = a.wait_event("jobmanager_spawned", Duration::from_secs(10), &[&a, &b]);
    let pid_a = pid_of(&spawned_a);
    let ready_a = a.wait_event("jobmanager_ready", START_TIMEOUT + SLACK, &[&a, &b]);
    let startup_a = Duration::from_millis(ready_a["startup_ms"].as_u64().expect("startup_ms"));
    assert!(startup_a <= START_TIMEOUT, "startup {startup_a:?}");
    let body = a.overview().unwrap_or_else(|| panic!("jm-a is ready but /overview is not 200\n{}", dump(&[&a, &b])));
    assert!(body.contains("\"flink-version\""), "not Flink's /overview: {body}");
    assert_eq!(comm(pid_a), "java", "the spawned pid is the JVM (jobmanager.sh execs it)");
    assert_eq!(a.jobmanagers(), vec![pid_a], "exactly one JobManager of jm-a");
    eprintln!(
        "first start: Flink /overview 200 {:.2}s after spawn (daemon start to ready {:.2}s); {body}",
        secs(startup_a),
        secs(started_at.elapsed())
    );

    // 2. The second daemon joins as a standby and never starts its Flink while the first leads.
    b.start();
    b.wait_event("session_started", Duration::from_secs(30), &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk, ELECTION_PATH) == 2);
    let standby_check = |a: &Node, b: &Node| {
        assert!(b.rest_refuses(), "jm-b's REST port answers while jm-a leads\n{}", dump(&[a, b]));
        assert!(b.jobmanagers().is_empty(), "jm-b runs a JobManager while jm-a leads");
        assert!(b.events("elected").is_empty(), "jm-b was elected\n{}", dump(&[a, b]));
        assert!(b.events("jobmanager_spawned").is_empty());
    };
    // Several heartbeats (a tenth of the session each) and health checks pass meanwhile.
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        standby_check(&a, &b);
        assert!(a.overview().is_some(), "jm-a stopped serving\n{}", dump(&[&a, &b]));
        std::thread::sleep(Duration::from_millis(200));
    }
    standby_check(&a, &b);
    assert_eq!(a.events("jobmanager_spawned").len(), 1, "jm-a restarted its Flink");

    // 3. SIGTERM to the leader daemon: its Flink stops, it exits 0, the standby's Flink starts.
    let term_at = Instant::now();
    a.signal(Signal::SIGTERM);
    let (mut a_java_gone, mut a_rest_closed, mut a_exit) = (None, None, None);
    let (mut b_elected, mut b_ready) = (None, None);
    let handover_limit = STOP_GRACE + CLOSE_WAIT + START_TIMEOUT + SLACK;
    while a_java_gone.is_none() || a_rest_closed.is_none() || a_exit.is_none() || b_ready.is_none() {
        let now = term_at.elapsed();
        assert!(
            now < handover_limit,
            "SIGTERM handover incomplete after {now:?}: jm-a java gone {a_java_gone:?}, REST closed {a_rest_closed:?}, \
             exit {a_exit:?}; jm-b elected {b_elected:?}, ready {b_ready:?}\n{}",
            dump(&[&a, &b])
        );
        if a_java_gone.is_none() && !a.runs(pid_a) {
            a_java_gone = Some(now);
        }
        if a_rest_closed.is_none() && a.rest_refuses() {
            a_rest_closed = Some(now);
        }
        if a_exit.is_none() {
            a_exit = a.exit_code().map(|code| (code, now));
        }
        if b_elected.is_none() && !b.events("elected").is_empty() {
            b_elected = Some(now);
        }
        // Never two: jm-b's JobManager exists only after jm-a's is gone.
        let b_jms = b.jobmanagers();
        if !b_jms.is_empty() || !b.rest_refuses() {
            assert!(
                a_java_gone.is_some() || !a.runs(pid_a),
                "jm-b's JobManager {b_jms:?} runs while jm-a's ({pid_a}) still does\n{}",
                dump(&[&a, &b])
            );
        }
        if b_ready.is_none() && b.overview().is_some() {
            b_ready = Some(term_at.elapsed());
        }
        std::thread::sleep(POLL);
    }
    let (a_java_gone, a_rest_closed, b_ready) = (a_java_gone.unwrap(), a_rest_closed.unwrap(), b_ready.unwrap());
    let (a_code, a_exited) = a_exit.unwrap();
    let b_elected = b_elected.unwrap_or(b_ready);
    assert_eq!(a_code, 0, "jm-a's daemon exit code\n{}", dump(&[&a, &b]));
    assert!(
        a_java_gone <= STOP_GRACE + Duration::from_secs(3),
        "jm-a's Flink took {a_java_gone:?} to stop after SIGTERM (stop_grace {STOP_GRACE:?})"
    );
    let stopped = a.events("jobmanager_stopped");
    assert_eq!(stopped.len(), 1, "{}", dump(&[&a, &b]));
    assert_eq!(stopped[0]["reason"], "Shutdown");
    assert!(!a.events("exited").is_empty(), "no `exited` record");
    // The standby was elected because the leader closed its session, not because it expired.
    assert!(
        b_elected < SESSION_TIMEOUT,
        "jm-b elected only {b_elected:?} after the SIGTERM: it waited for the session to expire"
    );
    // The old JobManager was reaped before the new one was spawned (RFC 3339 UTC timestamps of
    // one host compare as strings).
    let spawned_b = b.wait_event("jobmanager_spawned", Duration::from_secs(1), &[&a, &b]);
    let ts = |r: &Value| r["timestamp"].as_str().expect("timestamp").to_string();
    assert!(
        ts(&stopped[0]) <= ts(&spawned_b),
        "jm-b spawned at {} before jm-a's JobManager stopped at {}",
        ts(&spawned_b),
        ts(&stopped[0])
    );
    let pid_b = pid_of(&spawned_b);
    let ready_b = b.wait_event("jobmanager_ready", Duration::from_secs(5), &[&a, &b]);
    let startup_b = Duration::from_millis(ready_b["startup_ms"].as_u64().expect("startup_ms"));
    assert!(startup_b <= START_TIMEOUT, "startup {startup_b:?}");
    assert_eq!(comm(pid_b), "java");
    assert!(a.jobmanagers().is_empty(), "a JobManager of jm-a is left");
    let a_graceful = a.flink_log().contains("RECEIVED SIGNAL 15");
    assert!(a_graceful, "jm-a's Flink was not stopped with SIGTERM\n{}", dump(&[&a, &b]));
    eprintln!(
        "SIGTERM handover: jm-a's Flink (pid {pid_a}) gone after {:.2}s (SIGTERM seen by Flink: {a_graceful}), \
         REST closed {:.2}s, daemon exited 0 after {:.2}s; jm-b elected {:.2}s, its Flink /overview 200 {:.2}s after \
         the SIGTERM ({:.2}s after its spawn)",
        secs(a_java_gone),
        secs(a_rest_closed),
        secs(a_exited),
        secs(b_elected),
        secs(b_ready),
        secs(startup_b),
    );
    assert!(b_ready < SESSION_TIMEOUT + START_TIMEOUT, "handover took {b_ready:?}");

    // 4. SIGKILL of the new leader daemon: the fence guard stops its orphaned Flink.
    let kill_at = Instant::now();
    b.signal(Signal::SIGKILL);
    let b_gone = support::try_wait_for(STOP_GRACE + Duration::from_secs(5), POLL, || {
        (!b.runs(pid_b)).then(|| kill_at.elapsed())
    })
    .unwrap_or_else(|| {
        panic!(
            "jm-b's Flink (pid {pid_b}) outlived its SIGKILLed daemon by {:?}\n{}",
            kill_at.elapsed(),
            dump(&[&a, &b])
        )
    });
    wait_until(Duration::from_secs(5), POLL, || b.rest_refuses());
    let b_rest_closed = kill_at.elapsed();
    // The SIGKILLed daemon closed its files (its guard saw that) before it became reapable.
    wait_until(Duration::from_secs(5), POLL, || b.exit_code().is_some());
    wait_until(Duration::from_secs(5), POLL, || b.jobmanagers().is_empty());
    let b_graceful = b.flink_log().contains("RECEIVED SIGNAL 15");
    assert!(b_graceful, "the orphaned Flink got no SIGTERM from its guard\n{}", dump(&[&a, &b]));
    eprintln!(
        "SIGKILL of jm-b's daemon: its Flink (pid {pid_b}) gone after {:.2}s (SIGTERM seen by Flink: {b_graceful}), \
         REST closed {:.2}s",
        secs(b_gone),
        secs(b_rest_closed),
    );
}

#[test]
fn config_yaml_rewrite_drops_only_the_named_top_level_entries() {
    let yaml = "env:\n  java:\n    opts:\n      all: --add-opens=x\n\
                jobmanager:\n  rpc:\n# a comment at column 0 inside the block\n    port: 6123\n\n\
                rest.port: 8081\nrestart: keep\nparallelism:\n  default: 1\n";
    let out = flinkhost::drop_top_level(yaml, &["jobmanager", "rest"]);
    assert_eq!(out, "env:\n  java:\n    opts:\n      all: --add-opens=x\nrestart: keep\nparallelism:\n  default: 1\n");
}
