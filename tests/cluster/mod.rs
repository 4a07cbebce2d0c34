//! A cluster of real `flink-ha-supervisor` daemons for integration tests, each supervising a
//! stand-in JobManager on its own loopback port. All stand-ins share one events file and one
//! exclusive-lock file, so "two JobManagers at once" is detected by the kernel's flock.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::{pick_free_port, standin, wait_for, KillOnDrop};

/// How long a daemon may take, on a loaded two-core machine, from its start to contending
/// (process start, ZooKeeper session setup, its election node).
pub const STARTUP: Duration = Duration::from_secs(30);

/// Settings every daemon of the cluster gets.
#[derive(Debug, Clone)]
pub struct Options {
    /// `zookeeper.session_timeout`.
    pub session_timeout: Duration,
    /// `zookeeper.tick_time`, when set (else the daemon's default, 2 s: above the test servers'
    /// tickTime, which is safe).
    pub tick_time: Option<Duration>,
    /// `jobmanager.stop_grace`.
    pub stop_grace: Duration,
    /// `jobmanager.health_interval`.
    pub health_interval: Duration,
    /// `jobmanager.health_failures`.
    pub health_failures: u32,
    /// `jobmanager.restart_limit`.
    pub restart_limit: u32,
    /// Extra flags for every stand-in (e.g. `--start-delay 1s`).
    pub standin_args: Vec<String>,
    /// TOML appended to every daemon's configuration, after all other sections: start it with
    /// a section header (e.g. `[hooks]`). `{name}` is replaced by the daemon's name.
    pub extra_toml: String,
    /// Start the stand-in through a `bin/jobmanager.sh start-foreground` wrapper, the command
    /// form `jobmanager.standby = "parked"` requires.
    pub as_jobmanager_sh: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            session_timeout: Duration::from_secs(6),
            tick_time: None,
            stop_grace: Duration::from_millis(500),
            health_interval: Duration::from_millis(300),
            health_failures: 2,
            restart_limit: 3,
            standin_args: Vec::new(),
            extra_toml: String::new(),
            as_jobmanager_sh: false,
        }
    }
}

/// The ZooKeeper servers' tickTime and the daemons' settings a real-fault scenario runs with.
pub struct Timing {
    /// The servers' `tickTime`.
    pub tick: Duration,
    /// The daemons' settings.
    pub options: Options,
}

impl Timing {
    /// The harness's servers (tickTime 200 ms) and the cluster's usual settings: 6 s sessions,
    /// fenced by the default `zookeeper.tick_time` (2 s, above the servers' tick: safe).
    pub fn standard() -> Timing {
        Timing { tick: Duration::from_millis(200), options: Options::default() }
    }

    /// 2 s sessions against servers with tickTime 250 ms, which the daemons are told: a fence
    /// margin of 125 ms + 200 ms + 1 s leaves at most 275 ms of grace; 100 ms are used, so the
    /// JobManager is stopped 575 ms after the last answer.
    pub fn short() -> Timing {
        let tick = Duration::from_millis(250);
        let options = Options {
            session_timeout: Duration::from_secs(2),
            tick_time: Some(tick),
            stop_grace: Duration::from_millis(100),
            ..Options::default()
        };
        Timing { tick, options }
    }

    /// `servers` ZooKeeper servers with this tickTime.
    pub fn zk(&self, servers: usize) -> crate::support::ZkEnsemble {
        crate::support::ZkEnsemble::builder().servers(servers).tick_time(self.tick).start()
    }

    /// How long before `last_heard + session_timeout` the servers may expire a session, at most:
    /// a follower's late report of the newest touch (half a tick) and the gap to the touch
    /// before (a heartbeat), plus a heartbeat between the newest answered request and a cut.
    pub fn expiry_lead(&self) -> Duration {
        self.tick / 2 + 2 * flink_ha_core::timing::heartbeat_interval(self.options.session_timeout)
    }
}

/// One daemon and what it supervises.
pub struct Daemon {
    /// `node.id`.
    pub name: String,
    /// The stand-in JobManager's REST port.
    pub port: u16,
    /// The daemon's own HTTP endpoint (`http.listen`), on 127.0.0.1: every daemon gets its own
    /// free port, since the default 127.0.0.1:9249 would collide between daemons and tests.
    pub http_port: u16,
    /// The configuration file.
    pub config: PathBuf,
    /// The daemon's stdout (JSON lines) and stderr.
    pub log: PathBuf,
    /// The running process, if started.
    pub process: Option<KillOnDrop>,
}

/// Daemons sharing one election.
pub struct Cluster {
    /// Keeps the files alive.
    pub dir: tempfile::TempDir,
    /// The stand-ins' shared events file.
    pub events: PathBuf,
    /// The daemons, in creation order.
    pub daemons: Vec<Daemon>,
    /// The options the daemons were configured with.
    pub options: Options,
}

/// Path of the daemon binary cargo built for this test run.
pub fn daemon_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
}

impl Cluster {
    /// Configures `n` daemons; `quorum(i)` is daemon i's `zookeeper.quorum`. None is started.
    pub fn new(n: usize, options: Options, quorum: impl Fn(usize) -> String) -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let events = dir.path().join("standin-events.jsonl");
        let exclusive = dir.path().join("one-jobmanager.lock");
        let daemons = (0..n)
            .map(|i| {
                let name = format!("jm{}", i + 1);
                let port = pick_free_port();
                let http_port = pick_free_port();
                let config = dir.path().join(format!("{name}.toml"));
                let mut command = vec![
                    standin::standin_bin().display().to_string(),
                    "--port".into(),
                    port.to_string(),
                    "--name".into(),
                    name.clone(),
                    "--events".into(),
                    events.display().to_string(),
                    "--exclusive".into(),
                    exclusive.display().to_string(),
                ];
                command.extend(options.standin_args.iter().cloned());
                if options.as_jobmanager_sh {
                    let bin = dir.path().join(format!("{name}-flink/bin"));
                    std::fs::create_dir_all(&bin).expect("wrapper dir");
                    let script = bin.join("jobmanager.sh");
                    std::fs::write(
                        &script,
                        "#!/bin/sh\n# The stand-in as Flink's `jobmanager.sh start-foreground`.\nshift\nexec \"$@\"\n",
                    )
                    .expect("wrapper");
                    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                        .expect("wrapper mode");
                    command.splice(0..0, [script.display().to_string(), "start-foreground".into()]);
                }
                let toml = format!(
                    r#"
[node]
id = "{name}"
[zookeeper]
quorum = "{quorum}"
session_timeout = "{session}ms"
connect_timeout = "1s"
{tick_time}
[election]
path = "/it/leader"
[jobmanager]
command = {command:?}
ready_url = "http://127.0.0.1:{port}/overview"
rpc_address = "127.0.0.1:{rpc}"
start_timeout = "10s"
stop_grace = "{grace}ms"
health_interval = "{health}ms"
health_failures = {failures}
restart_limit = {restarts}
restart_window = "5m"
[failover]
budget = "30s"
[http]
listen = "127.0.0.1:{http_port}"
"#,
                    quorum = quorum(i),
                    session = options.session_timeout.as_millis(),
                    tick_time =
                        options.tick_time.map(|t| format!("tick_time = \"{}ms\"", t.as_millis())).unwrap_or_default(),
                    rpc = 6123 + i,
                    grace = options.stop_grace.as_millis(),
                    health = options.health_interval.as_millis(),
                    failures = options.health_failures,
                    restarts = options.restart_limit,
                );
                let toml = toml + "\n" + &options.extra_toml.replace("{name}", &name);
                std::fs::write(&config, toml).expect("write config");
                Daemon { log: dir.path().join(format!("{name}.log")), name, port, http_port, config, process: None }
            })
            .collect();
        Cluster { dir, events, daemons, options }
    }

    /// Starts daemon `i` (again), appending to its log.
    pub fn start(&mut self, i: usize) {
        self.start_with(i, |_| {});
    }

    /// [`Cluster::start`], with `configure` adding to the daemon's command (environment, flags).
    pub fn start_with(&mut self, i: usize, configure: impl FnOnce(&mut Command)) {
        let d = &mut self.daemons[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&d.log).expect("log file");
        let mut cmd = Command::new(daemon_bin());
        cmd.arg("run")
            .arg("--config")
            .arg(&d.config)
            .env("RUST_LOG", "info,zookeeper_client=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        configure(&mut cmd);
        d.process = Some(KillOnDrop::spawn(cmd).expect("spawn daemon"));
    }

    /// Starts every daemon, in order.
    pub fn start_all(&mut self) {
        for i in 0..self.daemons.len() {
            self.start(i);
        }
    }

    /// Starts daemon 0 and waits until its JobManager serves and the daemon reported it ready.
    pub fn start_leader(&mut self) {
        self.start(0);
        assert_eq!(self.wait_for_leader(Duration::from_secs(30), None), 0, "{}", self.dump());
        self.wait_ready_reported(0, 1, Duration::from_secs(10));
    }

    /// [`Cluster::start_leader`], then daemon 1, and waits until daemon 1 contends as a standby
    /// (its election node is in ZooKeeper).
    pub fn start_leader_then_standby(&mut self) {
        self.start_leader();
        self.start(1);
        self.wait_contending(1, STARTUP);
    }

    /// Waits until daemon `i`'s election node is in ZooKeeper, as `status` lists the
    /// contenders: the daemon logs `session_started` before its election task creates the node.
    #[track_caller]
    pub fn wait_contending(&self, i: usize, timeout: Duration) {
        let name = self.daemons[i].name.clone();
        crate::support::wait_until(timeout, Duration::from_millis(100), || self.contenders(i).contains(&name));
    }

    /// The `node.id`s of the contenders in election order, as `status --format json` with daemon
    /// `i`'s configuration lists them; empty when `status` has no report.
    pub fn contenders(&self, i: usize) -> Vec<String> {
        let out = Command::new(daemon_bin())
            .args(["status", "--format", "json", "--config"])
            .arg(&self.daemons[i].config)
            .stdin(Stdio::null())
            .output()
            .expect("run status");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        report["contenders"]
            .as_array()
            .map(|all| all.iter().filter_map(|c| c["identity"]["node_id"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }

    /// Sends `signal` to daemon `i`'s process (not to its JobManager).
    pub fn signal(&self, i: usize, signal: Signal) {
        self.daemons[i].process.as_ref().expect("daemon started").signal(signal).expect("signal the daemon");
    }

    /// Waits for daemon `i` to exit; returns its exit code.
    pub fn wait_exit(&mut self, i: usize, timeout: Duration) -> Option<i32> {
        let p = self.daemons[i].process.as_mut().expect("daemon started");
        p.wait_timeout(timeout).map(|s| s.code().unwrap_or(-1))
    }

    /// True when daemon `i`'s JobManager answers `/overview` with 200.
    pub fn serving(&self, i: usize) -> bool {
        let addr = format!("127.0.0.1:{}", self.daemons[i].port);
        matches!(standin::http_get(&addr, "/overview", Duration::from_millis(500)), Ok((200, _)))
    }

    /// `GET path` on daemon `i`'s HTTP endpoint: the status code and the body.
    pub fn http_get(&self, i: usize, path: &str) -> std::io::Result<(u16, String)> {
        standin::http_get(&format!("127.0.0.1:{}", self.daemons[i].http_port), path, Duration::from_secs(2))
    }

    /// Indices of the daemons whose JobManager answers 200.
    pub fn serving_daemons(&self) -> Vec<usize> {
        (0..self.daemons.len()).filter(|&i| self.serving(i)).collect()
    }

    /// Waits until exactly one JobManager serves and, if `not` is given, it is not daemon `not`.
    pub fn wait_for_leader(&self, timeout: Duration, not: Option<usize>) -> usize {
        wait_for(timeout, Duration::from_millis(50), || match self.serving_daemons().as_slice() {
            [one] if Some(*one) != not => Some(*one),
            _ => None,
        })
    }

    /// Waits until daemon `i` has logged `jobmanager_ready` `n` times in all.
    #[track_caller]
    pub fn wait_ready_reported(&self, i: usize, n: usize, timeout: Duration) {
        self.wait_events(i, "jobmanager_ready", n, timeout);
    }

    /// Waits until daemon `i` has logged the audit record `event` `n` times in all.
    #[track_caller]
    pub fn wait_events(&self, i: usize, event: &str, n: usize, timeout: Duration) {
        crate::support::wait_until(timeout, Duration::from_millis(20), || self.events(i, event).len() >= n);
    }

    /// The daemon's JSON log records (other lines, e.g. the JobManager's, are skipped).
    pub fn records(&self, i: usize) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.daemons[i].log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    }

    /// The daemon's records whose `event` field is `event`.
    pub fn events(&self, i: usize, event: &str) -> Vec<Value> {
        self.records(i).into_iter().filter(|r| r["event"] == event).collect()
    }

    /// The stand-ins' events of kind `event` (`start`, `stop`, `term`, `overlap`).
    pub fn standin_events(&self, event: &str) -> Vec<Value> {
        standin::events_of(&self.events, event)
    }

    /// Stand-in starts by daemon name, in order.
    pub fn starts_of(&self, i: usize) -> Vec<Value> {
        let name = &self.daemons[i].name;
        self.standin_events("start").into_iter().filter(|e| e["name"] == *name.as_str()).collect()
    }

    /// Checks, every 100 ms for `period`, that exactly daemon `leader`'s JobManager serves and
    /// that daemon `leader` was never fenced: a claim that something does *not* happen needs a
    /// window to be watched in.
    pub fn assert_only_serving_for(&self, leader: usize, period: Duration) {
        let until = std::time::Instant::now() + period;
        while std::time::Instant::now() < until {
            assert_eq!(self.serving_daemons(), vec![leader], "{}", self.dump());
            assert!(self.events(leader, "fenced").is_empty(), "{}", self.dump());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Panics if two stand-ins ever ran at once (one found the other's exclusive lock held).
    pub fn assert_never_two_jobmanagers(&self) {
        let overlaps = self.standin_events("overlap");
        assert!(overlaps.is_empty(), "two JobManagers ran at once: {overlaps:?}\n{}", self.dump());
    }

    /// Every daemon's log and the stand-in events, for failure messages.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for d in &self.daemons {
            let text = std::fs::read_to_string(&d.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            out.push_str(&format!("--- {} log (last 60 lines) ---\n", d.name));
            for line in tail.into_iter().rev() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("--- stand-in events ---\n");
        out.push_str(&std::fs::read_to_string(&self.events).unwrap_or_default());
        out
    }

    /// The directory of the cluster's files.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Monotonic nanoseconds now, comparable with the stand-ins' `mono_ns`.
pub fn mono_ns() -> u128 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("monotonic clock");
    ts.tv_sec() as u128 * 1_000_000_000 + ts.tv_nsec() as u128
}

/// The `mono_ns` of a stand-in event.
pub fn mono_of(event: &Value) -> u128 {
    event["mono_ns"].as_u64().expect("mono_ns in a stand-in event") as u128
}

/// Seconds between two monotonic instants.
pub fn secs_between(from: u128, to: u128) -> f64 {
    (to as f64 - from as f64) / 1e9
}
