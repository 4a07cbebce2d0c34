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

mod support;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::standin::http_get;
use support::{pick_free_port, wait_until, KillOnDrop, ZkEnsemble};

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

/// The Flink distribution to run: `FLINK_HOME`, else the install script's cache. Panics (fails the
/// test) when neither holds `bin/jobmanager.sh`.
fn flink_home() -> PathBuf {
    let env_home = std::env::var_os("FLINK_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = std::env::var_os("FLINK_HA_SUPERVISOR_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(|d| PathBuf::from(d).join("flink-ha-supervisor"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/flink-ha-supervisor")))
        .map(|c| c.join("flink-2.3.0/pyflink"));
    let candidates: Vec<PathBuf> = env_home.into_iter().chain(cache).collect();
    candidates
        .iter()
        .find(|home| {
            home.join("bin/jobmanager.sh").is_file() && home.join("conf/config.yaml").is_file()
        })
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no Flink distribution found (looked for bin/jobmanager.sh and conf/config.yaml in {candidates:?}); \
                 run scripts/install-test-deps (it installs Java, ZooKeeper and Flink 2.3.0) and export the FLINK_HOME it prints"
            )
        })
}

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

/// Removes the top-level YAML entries whose first key segment is in `keys` (nested blocks with
/// their indented lines, and flattened `key.sub: value` lines alike); keeps everything else.
fn drop_top_level(yaml: &str, keys: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in yaml.lines() {
        let top_level = !line.is_empty() && !line.starts_with([' ', '\t', '#']);
        // Only the next top-level key ends a block: comments and blank lines (even at column 0)
        // may sit between a block's lines, and go with the block they are in.
        if top_level {
            let key = line.split(':').next().unwrap_or_default().trim();
            let first = key.split('.').next().unwrap_or_default();
            skipping = keys.contains(&first);
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Fills `conf_dir` with a copy of the distribution's `conf/`, with `config.yaml` rewritten for
/// one JobManager on loopback.
fn write_flink_conf(flink: &Path, conf_dir: &Path, tmp_dir: &Path, rest_port: u16, rpc_port: u16) {
    std::fs::create_dir_all(conf_dir).expect("create Flink conf dir");
    for entry in std::fs::read_dir(flink.join("conf")).expect("read Flink conf/") {
        let entry = entry.expect("conf entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), conf_dir.join(entry.file_name())).expect("copy conf file");
        }
    }
    let original = std::fs::read_to_string(flink.join("conf/config.yaml")).expect("read conf/config.yaml");
    // The distribution's `env.java.opts.all` (the --add-opens Java 17 needs) and the rest stay.
    let mut yaml = drop_top_level(&original, &["jobmanager", "rest", "io", "web"]);
    yaml.push_str(&format!(
        "\n# --- flink-ha-supervisor tests/real_flink.rs ---\n\
         jobmanager.rpc.address: 127.0.0.1\n\
         jobmanager.rpc.port: {rpc_port}\n\
         jobmanager.bind-host: 127.0.0.1\n\
         jobmanager.memory.process.size: 768m\n\
         jobmanager.execution.failover-strategy: region\n\
         rest.address: 127.0.0.1\n\
         rest.bind-address: 127.0.0.1\n\
         rest.port: {rest_port}\n\
         io.tmp.dirs: {tmp}\n\
         web.tmpdir: {tmp}\n",
        tmp = tmp_dir.display(),
    ));
    std::fs::write(conf_dir.join("config.yaml"), yaml).expect("write config.yaml");
}

/// One host: a daemon, its Flink configuration and directories.
struct Node {
    name: String,
    rest_port: u16,
    conf_dir: PathBuf,
    flink_log_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    daemon: Option<KillOnDrop>,
}

impl Node {
    fn new(root: &Path, flink: &Path, name: &str, quorum: &str) -> Node {
        let dir = root.join(name);
        let (conf_dir, flink_log_dir, tmp_dir) = (dir.join("conf"), dir.join("flink-log"), dir.join("tmp"));
        for d in [&flink_log_dir, &tmp_dir] {
            std::fs::create_dir_all(d).expect("create node dir");
        }
        let (rest_port, rpc_port) = (pick_free_port(), pick_free_port());
        write_flink_conf(flink, &conf_dir, &tmp_dir, rest_port, rpc_port);
        let command = vec![flink.join("bin/jobmanager.sh").display().to_string(), "start-foreground".to_string()];
        let s = |p: &Path| p.display().to_string();
        let toml = format!(
            r#"[node]
id = "{name}"

[zookeeper]
quorum = "{quorum}"
session_timeout = "{session}ms"
connect_timeout = "3s"

[election]
path = "{ELECTION_PATH}"

[jobmanager]
command = {command:?}
workdir = {workdir:?}
ready_url = "http://127.0.0.1:{rest_port}/overview"
rpc_address = "127.0.0.1:{rpc_port}"
start_timeout = "{start}ms"
stop_grace = "{grace}ms"
health_interval = "2s"
health_failures = 3
restart_limit = 3
restart_window = "5m"

[jobmanager.env]
FLINK_CONF_DIR = {conf:?}
FLINK_LOG_DIR = {logs:?}
FLINK_PID_DIR = {workdir:?}

[failover]
budget = "30s"

[http]
listen = "off"
"#,
            session = SESSION_TIMEOUT.as_millis(),
            start = START_TIMEOUT.as_millis(),
            grace = STOP_GRACE.as_millis(),
            workdir = s(&dir),
            conf = s(&conf_dir),
            logs = s(&flink_log_dir),
        );
        let config = dir.join("supervisor.toml");
        std::fs::write(&config, toml).expect("write daemon config");
        Node {
            name: name.to_string(),
            rest_port,
            conf_dir,
            flink_log_dir,
            config,
            log: dir.join("supervisor.log"),
            daemon: None,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("daemon log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,zookeeper_client=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        // The daemon refuses unknown `FHS_` variables: keep the test's own environment out.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().to_ascii_uppercase().starts_with("FHS_") {
                cmd.env_remove(name);
            }
        }
        self.daemon = Some(KillOnDrop::spawn(cmd).expect("spawn the daemon"));
    }

    fn signal(&self, signal: Signal) {
        self.daemon.as_ref().expect("daemon started").signal(signal).expect("signal the daemon");
    }

    /// The daemon's exit code once it has exited (-1 for a signal); `None` while it runs.
    fn exit_code(&mut self) -> Option<i32> {
        let child = self.daemon.as_mut().expect("daemon started").child();
        child.try_wait().expect("try_wait").map(|s| s.code().unwrap_or(-1))
    }

    /// The daemon's JSON records; other lines are skipped.
    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.records().into_iter().filter(|r| r["event"] == event).collect()
    }

    /// Waits for the first record of `event`.
    #[track_caller]
    fn wait_event(&self, event: &str, timeout: Duration, nodes: &[&Node]) -> Value {
        match support::try_wait_for(timeout, POLL, || self.events(event).into_iter().next()) {
            Some(v) => v,
            None => panic!("{}: no `{event}` record within {timeout:?}\n{}", self.name, dump(nodes)),
        }
    }

    fn url_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rest_port)
    }

    /// `GET /overview` answers 200 (with its body).
    fn overview(&self) -> Option<String> {
        match http_get(&self.url_addr(), "/overview", Duration::from_millis(1000)) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// Nothing listens on the REST port.
    fn rest_refuses(&self) -> bool {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.rest_port));
        matches!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        )
    }

    /// Live processes whose command line names this node's Flink conf dir: its JobManager (java).
    fn jobmanagers(&self) -> Vec<u32> {
        processes_mentioning(&self.conf_dir.display().to_string())
    }

    /// The Flink JobManager's own log file(s) in FLINK_LOG_DIR, concatenated.
    fn flink_log(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.flink_log_dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".log") {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    /// Kills the daemon and every JobManager of this node.
    fn kill_all(&mut self) {
        drop(self.daemon.take());
        for pid in self.jobmanagers() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// The pid stored in a `jobmanager_spawned` record.
fn pid_of(record: &Value) -> u32 {
    record["pid"].as_u64().expect("pid in jobmanager_spawned") as u32
}

/// Live (not zombie) processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if process_mentions(pid, needle) {
            pids.push(pid);
        }
    }
    pids
}

/// `pid` is a live process (a zombie's command line is empty) whose command line contains `needle`.
fn process_mentions(pid: u32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).contains(needle))
        .unwrap_or(false)
}

/// The executable name of `pid` (`java` for a JobManager).
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Supervisor records (not the forwarded JobManager output) of every node, for failure messages.
fn dump(nodes: &[&Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        let records: Vec<Value> = n.records().into_iter().filter(|r| r["target"] != "jobmanager").collect();
        out.push_str(&format!("--- {} supervisor records (last 40 of {}) ---\n", n.name, records.len()));
        for r in records.iter().skip(records.len().saturating_sub(40)) {
            out.push_str(&r.to_string());
            out.push('\n');
        }
        let text = std::fs::read_to_string(&n.log).unwrap_or_default();
        let other: Vec<&str> = text.lines().filter(|l| serde_json::from_str::<Value>(l).is_err()).collect();
        if !other.is_empty() {
            out.push_str(&format!("--- {} non-JSON output ---\n", n.name));
            for l in other.iter().skip(other.len().saturating_sub(20)) {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

/// Election nodes under [`ELECTION_PATH`] that the server lists as ephemerals (`dump`).
fn election_nodes(zk: &ZkEnsemble) -> usize {
    zk.four_letter(0, "dump")
        .map(|d| d.lines().filter(|l| l.trim().starts_with(&format!("{ELECTION_PATH}/"))).count())
        .unwrap_or(0)
}

/// The test's directory, kept (and its path printed) when the test panics. Declared before the
/// nodes, so it is dropped after them: the processes are dead before their files go.
struct KeepOnPanic(Option<tempfile::TempDir>);

impl KeepOnPanic {
    fn path(&self) -> &Path {
        self.0.as_ref().expect("temp dir").path()
    }
}

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(dir) = self.0.take() {
                eprintln!("real_flink: test failed; keeping its files in {}", dir.keep().display());
            }
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn real_flink_runs_only_on_the_leader_and_moves_with_leadership() {
    let flink = flink_home();
    let version = flink_version(&flink);
    eprintln!("real Flink {version} at {}", flink.display());
    let zk = ZkEnsemble::builder().servers(1).start();
    let root = KeepOnPanic(Some(tempfile::Builder::new().prefix("fhs-real-flink-").tempdir().expect("temp dir")));
    let quorum = zk.connect_string();
    let mut a = Node::new(root.path(), &flink, "jm-a", &quorum);
    let mut b = Node::new(root.path(), &flink, "jm-b", &quorum);

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
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk) == 2);
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
        if a_java_gone.is_none() && !process_mentions(pid_a, &a.conf_dir.display().to_string()) {
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
                a_java_gone.is_some() || !process_mentions(pid_a, &a.conf_dir.display().to_string()),
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
    let b_conf = b.conf_dir.display().to_string();
    let kill_at = Instant::now();
    b.signal(Signal::SIGKILL);
    let b_gone = support::try_wait_for(STOP_GRACE + Duration::from_secs(5), POLL, || {
        (!process_mentions(pid_b, &b_conf)).then(|| kill_at.elapsed())
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
    assert!(b.exit_code().is_some(), "the SIGKILLed daemon still runs");
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
    let out = drop_top_level(yaml, &["jobmanager", "rest"]);
    assert_eq!(out, "env:\n  java:\n    opts:\n      all: --add-opens=x\nrestart: keep\nparallelism:\n  default: 1\n");
}
