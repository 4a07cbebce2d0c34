//! Role-change hooks (`[hooks]`) end to end: real daemons, real ZooKeeper, stand-in
//! JobManagers. The hooks see role, node, epoch and cause in their environment; they run on
//! election, on a SIGTERM handover and on a fence; a hanging hook is killed at its timeout (its
//! whole process group) without delaying the JobManager's start, stop or the failover; a failing
//! hook is logged.

mod cluster;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cluster::{mono_ns, mono_of, secs_between, Cluster, Options};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::{wait_for, wait_until, ProxyGroup, ZkEnsemble};

fn single_zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

/// A hook script that appends one line per run to `hooks.log` beside it:
/// `<hook> <role> <node> <epoch> <event> notify=<NOTIFY_SOCKET or unset>`, then runs "$@".
struct HookScript {
    dir: tempfile::TempDir,
}

impl HookScript {
    fn new() -> HookScript {
        let dir = tempfile::tempdir().unwrap();
        let script = format!(
            r#"#!/bin/sh
echo "$FLINK_HA_HOOK $FLINK_HA_ROLE $FLINK_HA_NODE $FLINK_HA_EPOCH $FLINK_HA_EVENT notify=${{NOTIFY_SOCKET:-unset}}" >> {log}
echo "hook output on stdout"
exec "$@"
"#,
            log = dir.path().join("hooks.log").display()
        );
        std::fs::write(dir.path().join("hook.sh"), script).unwrap();
        HookScript { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("hook.sh")
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `[hooks]` section: both hooks run the script, which then runs `then` (argv).
    fn toml(&self, then: &[&str], timeout: &str) -> String {
        let mut argv = vec!["/bin/sh".to_string(), self.path().display().to_string()];
        argv.extend(then.iter().map(|s| s.to_string()));
        format!("[hooks]\non_leader = {argv:?}\non_standby = {argv:?}\ntimeout = \"{timeout}\"\n")
    }

    fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("hooks.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn wait_line(&self, line: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines().iter().any(|l| l == line) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no hook run {line:?} within {timeout:?}; hooks ran: {:?}", self.lines());
    }
}

fn epoch_of(record: &Value) -> u64 {
    record["epoch"].as_u64().unwrap_or_else(|| panic!("no epoch in {record}"))
}

#[test]
fn hooks_run_with_role_node_epoch_and_cause_on_election_and_on_a_sigterm_handover() {
    let zk = single_zk();
    let hook = HookScript::new();
    let options = Options { extra_toml: hook.toml(&["true"], "5s"), ..Options::default() };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    // The leader runs "under systemd": its hooks must not inherit NOTIFY_SOCKET.
    let socket = cluster.path().join("no-listener.sock");
    cluster.start_with(0, |cmd| {
        cmd.env("NOTIFY_SOCKET", &socket);
    });
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), None), 0, "{}", cluster.dump());
    cluster.start(1);
    let e1 = epoch_of(&cluster.events(0, "elected")[0]);
    hook.wait_line(&format!("on_leader leader jm1 {e1} elected notify=unset"), Duration::from_secs(5));
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || !cluster.events(0, "hook_succeeded").is_empty());
    let ok = &cluster.events(0, "hook_succeeded")[0];
    assert_eq!((ok["hook"].as_str(), ok["ha_event"].as_str(), epoch_of(ok)), (Some("on_leader"), Some("elected"), e1));
    // The hook's output is in the daemon's log (forwarded by its own task, so it may follow the
    // `hook_succeeded` record).
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.records(0).iter().any(|r| r["target"] == "hook" && r["message"] == "hook output on stdout")
    });
    cluster.wait_contending(1, cluster::STARTUP);
    assert!(hook.lines().iter().all(|l| !l.contains(" jm2 ")), "a standby ran a hook: {:?}", hook.lines());

    // SIGTERM: jm1 gives up leadership (on_standby, shutdown), jm2 takes over (on_leader).
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(20)), Some(0));
    hook.wait_line(&format!("on_standby standby jm1 {e1} shutdown notify=unset"), Duration::from_secs(1));
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(15), Some(0)), 1);
    let e2 = epoch_of(&cluster.events(1, "elected")[0]);
    assert!(e2 > e1);
    hook.wait_line(&format!("on_leader leader jm2 {e2} elected notify=unset"), Duration::from_secs(5));
    // jm1's on_standby ran before jm1 exited: the daemon lets the last hook finish.
    let exited = &cluster.events(0, "exited")[0];
    let standby_ok = cluster.events(0, "hook_succeeded").into_iter().find(|r| r["hook"] == "on_standby").unwrap();
    assert!(standby_ok["timestamp"].as_str() <= exited["timestamp"].as_str());
    assert_eq!(hook.lines().len(), 3, "{:?}", hook.lines());
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_leader_cut_off_from_zookeeper_runs_on_standby_when_fenced() {
    let zk = single_zk();
    let hook = HookScript::new();
    let options = Options { extra_toml: hook.toml(&["true"], "5s"), ..Options::default() };
    let session = options.session_timeout;
    let proxies = ProxyGroup::for_ensemble(&zk);
    let mut cluster = Cluster::new(2, options, |i| if i == 0 { proxies.connect_string() } else { zk.connect_string() });
    cluster.start_leader_then_standby();
    let e1 = epoch_of(&cluster.events(0, "elected")[0]);
    hook.wait_line(&format!("on_leader leader jm1 {e1} elected notify=unset"), Duration::from_secs(5));

    let cut_at = mono_ns();
    proxies.blackhole();
    // Fenced before the session could expire: the hook runs then, before the standby's on_leader.
    hook.wait_line(&format!("on_standby standby jm1 {e1} fenced notify=unset"), session);
    assert_eq!(cluster.wait_for_leader(session * 3, Some(0)), 1, "{}", cluster.dump());
    let e2 = epoch_of(&cluster.events(1, "elected")[0]);
    hook.wait_line(&format!("on_leader leader jm2 {e2} elected notify=unset"), Duration::from_secs(5));
    let lines = hook.lines();
    let fenced = lines.iter().position(|l| l.ends_with(" fenced notify=unset")).unwrap();
    let elected2 = lines.iter().position(|l| l.starts_with("on_leader leader jm2 ")).unwrap();
    assert!(fenced < elected2, "{lines:?}");
    let stopped =
        secs_between(cut_at, mono_of(cluster.standin_events("term").iter().find(|e| e["name"] == "jm1").unwrap()));
    eprintln!("partition: jm1 fenced and its JobManager stopped {stopped:.2}s after the cut");

    // The partition heals: jm1's session is gone, it rejoins as a standby. It announced standby
    // already, so no second on_standby.
    proxies.restore();
    wait_until(Duration::from_secs(30), Duration::from_millis(100), || cluster.events(0, "session_started").len() == 2);
    std::thread::sleep(Duration::from_millis(500));
    let jm1_standby = hook.lines().iter().filter(|l| l.starts_with("on_standby standby jm1 ")).count();
    assert_eq!(jm1_standby, 1, "{:?}", hook.lines());
    cluster.assert_never_two_jobmanagers();
}

/// How long a SIGKILLed process may take to be gone from `/proc` on a loaded machine.
const KILL_DELIVERY: Duration = Duration::from_secs(2);

/// The pid a hanging hook wrote, and whether that process still runs (a zombie that its new
/// parent has not reaped yet counts as dead).
fn alive(pid_file: &Path) -> Option<bool> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).unwrap_or("X");
    Some(!matches!(state, "Z" | "X"))
}

#[test]
fn a_hanging_hook_is_killed_at_its_timeout_and_delays_neither_the_jobmanager_nor_the_failover() {
    let zk = single_zk();
    let hook = HookScript::new();
    // Each hook leaves a background child in its process group and waits for it forever.
    let pid_file = hook.dir().join("child-$FLINK_HA_NODE-$FLINK_HA_HOOK.pid");
    let hang = format!("sleep 1000 & echo $! > {}; wait", pid_file.display());
    let timeout = Duration::from_secs(8);
    let options = Options {
        extra_toml: hook.toml(&["/bin/sh", "-c", &hang], &format!("{}s", timeout.as_secs())),
        ..Options::default()
    };
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader();
    // The JobManager was started while the on_leader hook hangs.
    let elected = &cluster.events(0, "elected")[0];
    let spawned = &cluster.events(0, "jobmanager_spawned")[0];
    assert!(cluster.events(0, "hook_timed_out").is_empty(), "the JobManager waited for the hook");
    eprintln!("elected {} -> JobManager spawned {}", elected["timestamp"], spawned["timestamp"]);
    cluster.start(1);
    cluster.wait_contending(1, cluster::STARTUP);

    // Handover while jm1's on_leader still hangs, and jm1's on_standby and jm2's on_leader will.
    let term_at = mono_ns();
    cluster.signal(0, Signal::SIGTERM);
    let new = cluster.wait_for_leader(Duration::from_secs(15), Some(0));
    assert_eq!(new, 1);
    let jm1_term = cluster.standin_events("term").into_iter().find(|e| e["name"] == "jm1").expect("jm1 got SIGTERM");
    let stop_s = secs_between(term_at, mono_of(&jm1_term));
    let start_s = secs_between(term_at, mono_of(&cluster.starts_of(1)[0]));
    eprintln!(
        "handover with hanging hooks: old JobManager stopped {stop_s:.2}s, new one started {start_s:.2}s after SIGTERM"
    );
    assert!(stop_s < 1.0, "stopping the JobManager waited: {stop_s:.2}s");
    assert!(start_s < 4.0, "the failover waited for the hooks: {start_s:.2}s");
    assert!(start_s < timeout.as_secs_f64() / 2.0);
    cluster.assert_never_two_jobmanagers();

    // jm1's on_leader is killed at its timeout, process group included; then its on_standby
    // runs and is killed too; then jm1 exits.
    assert_eq!(cluster.wait_exit(0, timeout * 3), Some(0), "{}", cluster.dump());
    let timed_out = cluster.events(0, "hook_timed_out");
    let hooks: Vec<&str> = timed_out.iter().map(|r| r["hook"].as_str().unwrap()).collect();
    assert_eq!(hooks, ["on_leader", "on_standby"], "{}", cluster.dump());
    for record in &timed_out {
        let ms = record["duration_ms"].as_u64().unwrap();
        assert!(ms >= timeout.as_millis() as u64 && ms < timeout.as_millis() as u64 + 2000, "{record}");
        assert_eq!(record["timeout_ms"].as_u64(), Some(timeout.as_millis() as u64));
    }
    // SIGKILL of the group is delivered asynchronously: the daemon reaps its hook, not the
    // background child, which dies a moment later (or never, if the group was not killed).
    for hook_name in ["on_leader", "on_standby"] {
        let file = hook.dir().join(format!("child-jm1-{hook_name}.pid"));
        assert!(alive(&file).is_some(), "{hook_name} wrote no pid file");
        wait_until(KILL_DELIVERY, Duration::from_millis(20), || alive(&file) == Some(false));
    }
    // jm2's on_leader hangs too, and is killed in time; jm2 leads meanwhile.
    wait_until(timeout + Duration::from_secs(3), Duration::from_millis(50), || {
        !cluster.events(1, "hook_timed_out").is_empty()
    });
    let jm2_child = hook.dir().join("child-jm2-on_leader.pid");
    assert!(alive(&jm2_child).is_some(), "jm2's on_leader wrote no pid file");
    wait_until(KILL_DELIVERY, Duration::from_millis(20), || alive(&jm2_child) == Some(false));
    assert_eq!(cluster.serving_daemons(), vec![1]);
}

#[test]
fn a_failing_hook_is_logged_and_changes_nothing() {
    let zk = single_zk();
    let options = Options {
        extra_toml: "[hooks]\non_leader = [\"/bin/sh\", \"-c\", \"echo broken >&2; exit 3\"]\non_standby = [\"/nonexistent/hook\"]\n".into(),
        ..Options::default()
    };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    cluster.start_leader();
    let failed = wait_for(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.events(0, "hook_failed").into_iter().next()
    });
    assert_eq!(failed["hook"], "on_leader");
    assert_eq!(failed["ha_event"], "elected");
    assert_eq!(failed["code"], 3);
    assert_eq!(failed["level"], "ERROR");
    // The hook's stderr is forwarded by its own task: it may follow the `hook_failed` record.
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        cluster.records(0).iter().any(|r| r["target"] == "hook" && r["message"] == "broken")
    });
    assert!(cluster.serving(0), "a failed hook must not touch the JobManager");

    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(20)), Some(0));
    let failed = cluster.events(0, "hook_failed");
    assert_eq!(failed.len(), 2, "{}", cluster.dump());
    assert_eq!(failed[1]["hook"], "on_standby");
    assert_eq!(failed[1]["ha_event"], "shutdown");
    assert!(failed[1]["error"].as_str().unwrap().contains("No such file"), "{}", failed[1]);
}
