//! The parked JobManager of a standby and the clearing of Flink's dead leader latches, with real
//! ZooKeeper servers, real daemons and guards, and stand-in JobManagers that honour the gate.

mod cluster;
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use cluster::{daemon_bin, Cluster, Options};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::{pick_free_port, standin, wait_until, KillOnDrop, ZkEnsemble};
use zookeeper_client as zk;

const POLL: Duration = Duration::from_millis(20);

/// CLOCK_BOOTTIME nanoseconds, the guard's lease clock.
fn boot_ns() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).expect("boot clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next().map(|st| st != "Z")))
        .unwrap_or(false)
}

/// A Flink configuration directory whose `config.yaml` names the gated HA services factory.
fn gated_conf_dir(dir: &std::path::Path) -> std::path::PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("config.yaml"), "high-availability.type: flinkha.gate.GatedHaServicesFactory\n").unwrap();
    conf
}

/// A parked guard with a stand-in JobManager: its stdin (control) and its status lines.
fn parked_guard(
    dir: &std::path::Path,
    port: u16,
) -> (KillOnDrop, std::process::ChildStdin, std::sync::mpsc::Receiver<String>, std::path::PathBuf) {
    let events = dir.join("events.jsonl");
    let mut cmd = Command::new(daemon_bin());
    cmd.args(["fence-guard", "--parked", "--stop-grace", "500ms", "--"])
        .arg(standin::standin_bin())
        .args(["--port", &port.to_string(), "--name", "parked", "--events"])
        .arg(&events)
        .env("FLINK_CONF_DIR", gated_conf_dir(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut guard = KillOnDrop::spawn(cmd).expect("start the guard");
    let control = guard.child().stdin.take().unwrap();
    let status = guard.child().stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(status).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (guard, control, rx, events)
}

/// Waits for a status line starting with `prefix`.
fn expect_line(rx: &std::sync::mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        let line = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_else(|_| panic!("no {prefix:?} line"));
        if line.starts_with(prefix) {
            return line;
        }
    }
}

#[test]
fn a_parked_jobmanager_waits_at_its_gate_without_a_lease_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let port = pick_free_port();
    let (_guard, mut control, rx, events) = parked_guard(dir.path(), port);
    let pid: i32 = expect_line(&rx, "spawned ").trim_start_matches("spawned ").parse().unwrap();
    expect_line(&rx, "parked");
    assert!(alive(pid));
    // At the gate: no port, no start, and no lease that could run out.
    assert!(standin::http_get(&format!("127.0.0.1:{port}"), "/overview", Duration::from_millis(300)).is_err());
    assert!(standin::events_of(&events, "start").is_empty());
    control.write_all(format!("lease {}\n", boot_ns() + 1_000_000_000).as_bytes()).unwrap();
    expect_line(&rx, "note ignoring a lease for a parked JobManager");

    // Released with a lease of 2 s: it serves, then the lease stops it as any JobManager.
    control.write_all(format!("release {}\n", boot_ns() + 2_000_000_000).as_bytes()).unwrap();
    wait_until(Duration::from_secs(10), POLL, || !standin::events_of(&events, "start").is_empty());
    assert_eq!(standin::events_of(&events, "start")[0]["pid"], pid);
    expect_line(&rx, "lease-expired");
    expect_line(&rx, "exited ");
    assert!(!alive(pid));
}

#[test]
fn a_parked_jobmanager_exits_at_once_when_its_guard_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut guard, _control, rx, events) = parked_guard(dir.path(), pick_free_port());
    let pid: i32 = expect_line(&rx, "spawned ").trim_start_matches("spawned ").parse().unwrap();
    expect_line(&rx, "parked");
    guard.signal(Signal::SIGKILL).unwrap();
    // EOF on the gate (or the parent-death signal): gone, never released.
    wait_until(Duration::from_secs(5), POLL, || !alive(pid));
    assert!(standin::events_of(&events, "start").is_empty());
    let _ = guard.wait_timeout(Duration::from_secs(5));
}

/// A `[flink]` section in mode zookeeper for daemon `{name}`'s rendered configuration.
fn flink_toml(dir: &std::path::Path) -> String {
    format!(
        "[flink]\nenabled = true\nstorage_dir = \"file://{d}/ha\"\nconf_dir = \"{d}/{{name}}-conf\"\n",
        d = dir.display()
    )
}

fn parked_cluster(zk: &ZkEnsemble, n: usize) -> Cluster {
    let scratch = tempfile::tempdir().unwrap().keep();
    let options = Options { extra_toml: flink_toml(&scratch), as_jobmanager_sh: true, ..Options::default() };
    Cluster::new(n, options, |_| zk.connect_string())
}

fn start_parked(cluster: &mut Cluster, i: usize) {
    // `run` refuses parked mode without a readable gate jar; the stand-in honours the gate
    // without loading it, so an empty file stands for the jar.
    let jar = cluster.dir.path().join("gate.jar");
    std::fs::write(&jar, b"").unwrap();
    cluster.start_with(i, |cmd| {
        cmd.env("FHS_JOBMANAGER__STANDBY", "parked").env("FHS_JOBMANAGER__GATE_JAR", &jar);
    });
}

/// The pid of daemon `i`'s `n`-th parked JobManager (counted from 1), once it is at its gate.
fn parked_pid(cluster: &Cluster, i: usize, n: usize) -> i32 {
    cluster.wait_events(i, "jobmanager_parked", n, Duration::from_secs(30));
    cluster.events(i, "jobmanager_parked")[n - 1]["pid"].as_i64().unwrap() as i32
}

#[test]
fn a_parked_standby_takes_over_by_release_and_parks_again_as_a_standby() {
    let zk = ZkEnsemble::start(1);
    let mut cluster = parked_cluster(&zk, 2);
    start_parked(&mut cluster, 0);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), None), 0, "{}", cluster.dump());
    start_parked(&mut cluster, 1);

    // The standby parks: its pid at the gate, its REST port closed, /status says so.
    let parked = parked_pid(&cluster, 1, 1);
    assert!(alive(parked));
    assert!(!cluster.serving(1));
    let (code, body) = cluster.http_get(1, "/status").unwrap();
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["parked"]["state"], "parked", "{body}");
    assert_eq!(status["parked"]["pid"], parked, "{body}");
    let shown =
        Command::new(daemon_bin()).args(["status", "--config"]).arg(&cluster.daemons[1].config).output().unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains(&format!("this host:     parked: pid {parked} since ")), "{shown}");

    // A crash of the leader's JobManager: restarted in place (a park released at once).
    let addr = format!("127.0.0.1:{}", cluster.daemons[0].port);
    let _ = standin::http_get(&addr, "/control/crash", Duration::from_millis(500));
    wait_until(Duration::from_secs(15), POLL, || cluster.starts_of(0).len() == 2);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(15), None), 0, "{}", cluster.dump());
    assert_eq!(cluster.events(1, "jobmanager_parked").len(), 1, "the standby's park stays: {}", cluster.dump());

    // SIGKILL of the leader: the standby releases that very JobManager and serves.
    cluster.signal(0, Signal::SIGKILL);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), Some(0)), 1, "{}", cluster.dump());
    let released = cluster.events(1, "parked_jobmanager_released");
    assert_eq!(released.len(), 1, "{}", cluster.dump());
    assert_eq!(released[0]["pid"], parked);
    let starts = cluster.starts_of(1);
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["pid"], parked);
    let _ = cluster.wait_exit(0, Duration::from_secs(5));

    // The old leader, restarted, parks again (its log goes on from its first run).
    let before = cluster.events(0, "jobmanager_parked").len();
    start_parked(&mut cluster, 0);
    let parked0 = parked_pid(&cluster, 0, before + 1);
    // A parked JobManager killed by hand is parked again, and the log says so.
    kill(Pid::from_raw(parked0), Signal::SIGKILL).unwrap();
    cluster.wait_events(0, "parked_jobmanager_lost", 1, Duration::from_secs(10));
    let again = parked_pid(&cluster, 0, before + 2);
    assert_ne!(again, parked0);
    // The daemon SIGKILLed: its parked JobManager goes at once.
    let daemon0 = cluster.daemons[0].process.as_ref().unwrap();
    daemon0.signal(Signal::SIGKILL).unwrap_or_else(|e| panic!("daemon 0: {e}\n{}", cluster.dump()));
    wait_until(Duration::from_secs(5), POLL, || !alive(again));

    // The new leader parked nothing while it led: one park, the released one.
    assert_eq!(cluster.events(1, "jobmanager_parked").len(), 1, "{}", cluster.dump());
    assert_eq!(cluster.standin_events("parked").iter().filter(|e| e["name"] == "jm2").count(), 1);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn dead_latches_are_deleted_before_a_start_and_a_latch_made_after_it_is_not() {
    let zk = ZkEnsemble::start(1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(zk::Client::connect(&zk.connect_string())).unwrap();
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let latch = "/flink/default/leader/latch";
    for path in ["/flink", "/flink/default", "/flink/default/leader", latch] {
        runtime.block_on(client.create(path, b"", &persistent)).unwrap();
    }
    // Two latch nodes of dead JobManagers and a child that is no latch node.
    for name in ["_c_dead1-latch-0000000001", "_c_dead2-latch-0000000002", "odd-\u{fc}"] {
        runtime.block_on(client.create(&format!("{latch}/{name}"), b"", &persistent)).unwrap();
    }
    let mut cluster = parked_cluster(&zk, 1);
    cluster.start(0);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), None), 0, "{}", cluster.dump());
    let cleared = cluster.events(0, "latches_cleared");
    assert_eq!(cleared.len(), 1, "{}", cluster.dump());
    assert_eq!((cleared[0]["deleted"].as_u64(), cleared[0]["skipped"].as_u64()), (Some(2), Some(1)));
    let children = |c: &zk::Client| runtime.block_on(c.list_children(latch)).unwrap();
    assert_eq!(children(&client), vec!["odd-\u{fc}".to_string()]);
    // The cleared event came before the JobManager's spawn.
    let records = cluster.records(0);
    let at = |event: &str| records.iter().position(|r| r["event"] == event).unwrap_or(usize::MAX);
    assert!(at("latches_cleared") < at("jobmanager_spawned"), "{}", cluster.dump());

    // A latch made after the start (the new JobManager's own) is never deleted.
    let ephemeral = zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
    let (_, sequence) = runtime.block_on(client.create(&format!("{latch}/_c_new-latch-"), b"", &ephemeral)).unwrap();
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(15)), Some(0), "{}", cluster.dump());
    let own = format!("_c_new-latch-{sequence}");
    assert!(children(&client).contains(&own), "{}", cluster.dump());
}
