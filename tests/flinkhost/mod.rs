//! Hosts of the REAL Flink 2.3 JobManager for integration tests: include it with `mod flinkhost;`
//! (after `mod support;`).
//!
//! * [`flink_home`] — the Flink distribution (`FLINK_HOME`, else `scripts/install-test-deps`' cache).
//! * [`drop_top_level`] / [`write_conf_dir`] — per-node copies of the distribution's `conf/`.
//! * [`Node`] — one host: a `flink-ha-supervisor run` daemon, its configuration and directories;
//!   dropping it SIGKILLs the daemon and every JobManager of the node.
//! * [`processes_mentioning`], [`process_mentions`], [`comm`] — `/proc` scans.
//! * [`dump`], [`election_nodes`], [`KeepOnPanic`], [`pid_of`], [`secs`] — small test helpers.
//!
//! Every test binary compiles this module but uses only part of it.
#![allow(dead_code)]

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::standin::http_get;
use crate::support::{pick_free_port, try_wait_for, KillOnDrop, ZkEnsemble};

/// The Flink distribution to run: `FLINK_HOME`, else the install script's cache
/// (`$FLINK_HA_SUPERVISOR_CACHE`, `$XDG_CACHE_HOME/flink-ha-supervisor` or
/// `~/.cache/flink-ha-supervisor`, then `flink-2.3.0/pyflink`). The first candidate that holds
/// every file of `required` (paths relative to the distribution) wins. Panics (fails the test)
/// when none does, saying to run `scripts/install-test-deps`: a test never passes vacuously.
pub fn flink_home(required: &[&str]) -> PathBuf {
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
    candidates.iter().find(|home| required.iter().all(|f| home.join(f).is_file())).cloned().unwrap_or_else(|| {
        panic!(
            "no Flink distribution found (looked for {} in {candidates:?}); run scripts/install-test-deps \
             (it installs Java, ZooKeeper and Flink 2.3.0) and export the FLINK_HOME it prints",
            required.join(" and ")
        )
    })
}

/// Removes the top-level YAML entries whose first key segment is in `keys` (nested blocks with
/// their indented lines, and flattened `key.sub: value` lines alike); keeps everything else.
pub fn drop_top_level(yaml: &str, keys: &[&str]) -> String {
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

/// Fills `dir` with a copy of the distribution's `conf/`; its `config.yaml` is the
/// distribution's without the top-level entries in `drop_keys` (see [`drop_top_level`]), then a
/// `# --- {label} ---` comment and `extra`. The rest of the original (e.g. `env.java.opts.all`,
/// the `--add-opens` Java 17 needs) stays.
pub fn write_conf_dir(flink: &Path, dir: &Path, drop_keys: &[&str], label: &str, extra: &str) {
    std::fs::create_dir_all(dir).expect("create Flink conf dir");
    for entry in std::fs::read_dir(flink.join("conf")).expect("read Flink conf/") {
        let entry = entry.expect("conf entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy conf file");
        }
    }
    let original = std::fs::read_to_string(flink.join("conf/config.yaml")).expect("read conf/config.yaml");
    let mut yaml = drop_top_level(&original, drop_keys);
    yaml.push_str(&format!("\n# --- {label} ---\n"));
    yaml.push_str(extra);
    std::fs::write(dir.join("config.yaml"), yaml).expect("write config.yaml");
}

/// The keys a rendered HA configuration replaces, dropped from the distribution's `config.yaml`
/// by [`write_loopback_base`].
pub const RENDERED_KEYS: &[&str] = &["jobmanager", "rest", "io", "web", "high-availability"];

/// A base configuration (`flink.base_config`'s directory) for one JobManager bound to loopback,
/// whose addresses and ports the daemon renders; temporary files go to `tmp`.
pub fn write_loopback_base(flink: &Path, dir: &Path, tmp: &Path, label: &str) {
    write_conf_dir(
        flink,
        dir,
        RENDERED_KEYS,
        label,
        &format!(
            "jobmanager.bind-host: 127.0.0.1\n\
             jobmanager.memory.process.size: 768m\n\
             rest.bind-address: 127.0.0.1\n\
             io.tmp.dirs: {tmp}\n\
             web.tmpdir: {tmp}\n",
            tmp = tmp.display()
        ),
    );
}

/// How a test lays out and runs its [`Node`]s.
#[derive(Debug, Clone, Copy)]
pub struct NodeOptions {
    /// The subdirectory of the node's directory that becomes [`Node::conf_dir`].
    pub conf_subdir: &'static str,
    /// Poll interval of [`Node::wait_event`].
    pub poll: Duration,
    /// Environment variables removed from the daemon's environment (besides every `FHS_` one).
    pub unset_env: &'static [&'static str],
    /// [`dump`] also shows the last lines of the daemon's non-JSON output.
    pub dump_other_output: bool,
}

/// The daemon settings of a node's `supervisor.toml` (see [`Node::write_daemon_config`]).
#[derive(Debug, Clone)]
pub struct DaemonSettings<'a> {
    /// `zookeeper.quorum`.
    pub quorum: &'a str,
    /// `election.path`.
    pub election_path: &'a str,
    /// `zookeeper.session_timeout`.
    pub session_timeout: Duration,
    /// Lines appended to the `[zookeeper]` table (each ending with a newline).
    pub zookeeper_extra: &'a str,
    /// `jobmanager.start_timeout`.
    pub start_timeout: Duration,
    /// `jobmanager.stop_grace`.
    pub stop_grace: Duration,
    /// `failover.budget`.
    pub budget: Duration,
    /// Lines appended to the `[jobmanager]` table (each ending with a newline).
    pub jobmanager_extra: &'a str,
    /// Lines of `[jobmanager.env]` before `FLINK_LOG_DIR` and `FLINK_PID_DIR`.
    pub env_extra: &'a str,
    /// TOML appended after the last table (`[http]`); start it with a blank line and a header.
    pub tail: &'a str,
}

impl<'a> DaemonSettings<'a> {
    /// Settings without extra lines (fill those in with struct update syntax).
    pub fn new(
        quorum: &'a str,
        election_path: &'a str,
        session_timeout: Duration,
        start_timeout: Duration,
        stop_grace: Duration,
        budget: Duration,
    ) -> DaemonSettings<'a> {
        DaemonSettings {
            quorum,
            election_path,
            session_timeout,
            zookeeper_extra: "",
            start_timeout,
            stop_grace,
            budget,
            jobmanager_extra: "",
            env_extra: "",
            tail: "",
        }
    }
}

/// One host: a `flink-ha-supervisor run` daemon that starts `bin/jobmanager.sh
/// start-foreground`, its Flink configuration and its directories (all under `root/<name>`).
/// Dropping it kills the daemon and every process whose command line names [`Node::conf_dir`].
pub struct Node {
    /// `node.id`, and the node's directory under the test's root.
    pub name: String,
    /// The JobManager's REST port (`rest.port`).
    pub rest_port: u16,
    /// The JobManager's RPC port (`jobmanager.rpc.port`).
    pub rpc_port: u16,
    /// The node's directory: the daemon's `workdir` and `FLINK_PID_DIR`.
    pub dir: PathBuf,
    /// The Flink configuration directory the JobManager runs with (its command line names it).
    pub conf_dir: PathBuf,
    /// `FLINK_LOG_DIR`: the JobManager's own log files.
    pub flink_log_dir: PathBuf,
    /// The JobManager's temp directory (for `io.tmp.dirs` and `web.tmpdir`).
    pub tmp_dir: PathBuf,
    /// The daemon's configuration file.
    pub config: PathBuf,
    /// The daemon's stdout and stderr (appended across restarts).
    pub log: PathBuf,
    /// The daemon, once started.
    pub daemon: Option<KillOnDrop>,
    /// The test's layout and run options.
    pub options: NodeOptions,
}

impl Node {
    /// Creates the node's log and temp directories and picks its REST and RPC ports; writes no
    /// configuration (see [`write_conf_dir`] and [`Node::write_daemon_config`]).
    pub fn new(root: &Path, name: &str, options: NodeOptions) -> Node {
        let dir = root.join(name);
        let (conf_dir, flink_log_dir, tmp_dir) =
            (dir.join(options.conf_subdir), dir.join("flink-log"), dir.join("tmp"));
        for d in [&flink_log_dir, &tmp_dir] {
            std::fs::create_dir_all(d).expect("create node dir");
        }
        let (rest_port, rpc_port) = (pick_free_port(), pick_free_port());
        Node {
            name: name.to_string(),
            rest_port,
            rpc_port,
            config: dir.join("supervisor.toml"),
            log: dir.join("supervisor.log"),
            dir,
            conf_dir,
            flink_log_dir,
            tmp_dir,
            daemon: None,
            options,
        }
    }

    /// Writes [`Node::config`]: the daemon runs `flink`'s `bin/jobmanager.sh start-foreground`
    /// on loopback with this node's ports and directories, and `settings`; no HTTP endpoint.
    pub fn write_daemon_config(&self, flink: &Path, settings: &DaemonSettings) {
        let command = vec![flink.join("bin/jobmanager.sh").display().to_string(), "start-foreground".to_string()];
        let s = |p: &Path| p.display().to_string();
        let toml = format!(
            r#"[node]
id = "{name}"

[zookeeper]
quorum = "{quorum}"
session_timeout = "{session}ms"
connect_timeout = "3s"
{zookeeper_extra}
[election]
path = "{election}"

[jobmanager]
command = {command:?}
workdir = {workdir:?}
ready_url = "http://127.0.0.1:{rest_port}/overview"
rpc_address = "127.0.0.1:{rpc_port}"
start_timeout = "{start}ms"
stop_grace = "{grace}ms"
{jobmanager_extra}
[jobmanager.env]
{env_extra}FLINK_LOG_DIR = {logs:?}
FLINK_PID_DIR = {workdir:?}

[failover]
budget = "{budget}ms"

[http]
listen = "off"
{tail}"#,
            name = self.name,
            quorum = settings.quorum,
            election = settings.election_path,
            rest_port = self.rest_port,
            rpc_port = self.rpc_port,
            session = settings.session_timeout.as_millis(),
            start = settings.start_timeout.as_millis(),
            grace = settings.stop_grace.as_millis(),
            budget = settings.budget.as_millis(),
            zookeeper_extra = settings.zookeeper_extra,
            jobmanager_extra = settings.jobmanager_extra,
            env_extra = settings.env_extra,
            tail = settings.tail,
            workdir = s(&self.dir),
            logs = s(&self.flink_log_dir),
        );
        std::fs::write(&self.config, toml).expect("write daemon config");
    }

    /// Starts the daemon (`run --config`), its output appended to [`Node::log`].
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("daemon log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,zookeeper_client=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        for name in self.options.unset_env {
            cmd.env_remove(name);
        }
        // The daemon refuses unknown `FHS_` variables: keep the test's own environment out.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().to_ascii_uppercase().starts_with("FHS_") {
                cmd.env_remove(name);
            }
        }
        self.daemon = Some(KillOnDrop::spawn(cmd).expect("spawn the daemon"));
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: Signal) {
        self.daemon.as_ref().expect("daemon started").signal(signal).expect("signal the daemon");
    }

    /// The daemon's process id.
    pub fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon started").id()
    }

    /// The daemon's exit code once it has exited (-1 for a signal); `None` while it runs.
    pub fn exit_code(&mut self) -> Option<i32> {
        let child = self.daemon.as_mut().expect("daemon started").child();
        child.try_wait().expect("try_wait").map(|s| s.code().unwrap_or(-1))
    }

    /// The daemon's JSON records (the log is appended across restarts); other lines are skipped.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    }

    /// Records of `event`.
    pub fn events(&self, event: &str) -> Vec<Value> {
        self.events_after(0, event)
    }

    /// Records of `event` after the first `skip` records.
    pub fn events_after(&self, skip: usize, event: &str) -> Vec<Value> {
        self.records().into_iter().skip(skip).filter(|r| r["event"] == event).collect()
    }

    /// Waits for the first record of `event`; fails with a [`dump`] of `nodes` past `timeout`.
    #[track_caller]
    pub fn wait_event(&self, event: &str, timeout: Duration, nodes: &[&Node]) -> Value {
        self.wait_event_after(0, event, timeout, nodes)
    }

    /// Waits for the first record of `event` after the first `skip` records; fails with a
    /// [`dump`] of `nodes` past `timeout`.
    #[track_caller]
    pub fn wait_event_after(&self, skip: usize, event: &str, timeout: Duration, nodes: &[&Node]) -> Value {
        match try_wait_for(timeout, self.options.poll, || self.events_after(skip, event).into_iter().next()) {
            Some(v) => v,
            None => panic!("{}: no `{event}` record within {timeout:?}\n{}", self.name, dump(nodes)),
        }
    }

    /// The REST address, `127.0.0.1:<rest_port>`.
    pub fn rest_addr(&self) -> String {
        format!("127.0.0.1:{}", self.rest_port)
    }

    /// The body of `GET path` on the REST port when it answers 200 within `timeout`.
    pub fn get_200(&self, path: &str, timeout: Duration) -> Option<String> {
        match http_get(&self.rest_addr(), path, timeout) {
            Ok((200, body)) => Some(body),
            _ => None,
        }
    }

    /// Nothing listens on the REST port.
    pub fn rest_refuses(&self) -> bool {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.rest_port));
        matches!(
            TcpStream::connect_timeout(&addr, Duration::from_millis(500)),
            Err(e) if e.kind() == ErrorKind::ConnectionRefused
        )
    }

    /// Live processes whose command line names this node's Flink conf dir and Flink's entrypoint:
    /// its JobManager (java). Not the helper JVMs of Flink's scripts (`BashJavaUtils`), nor the
    /// stand-in `java` that records the command line for the direct launch (its marker
    /// `-Dflinkha.launch.resolve=` is on its command line), which start no JobManager.
    pub fn jobmanagers(&self) -> Vec<u32> {
        processes_mentioning(&self.conf_dir.display().to_string())
            .into_iter()
            .filter(|&pid| process_mentions(pid, "org.apache.flink.runtime.entrypoint."))
            .filter(|&pid| !process_mentions(pid, "-Dflinkha.launch.resolve="))
            .collect()
    }

    /// `pid` is alive and its command line names this node's Flink conf dir.
    pub fn runs(&self, pid: u32) -> bool {
        process_mentions(pid, &self.conf_dir.display().to_string())
    }

    /// The Flink JobManager's own log file(s) in FLINK_LOG_DIR, concatenated.
    pub fn flink_log(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&self.flink_log_dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().ends_with(".log") {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }

    /// Kills the daemon and every JobManager of this node.
    pub fn kill_all(&mut self) {
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
pub fn pid_of(record: &Value) -> u32 {
    record["pid"].as_u64().expect("pid in jobmanager_spawned") as u32
}

/// Live (not zombie) processes whose command line contains `needle`.
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
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
pub fn process_mentions(pid: u32, needle: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| String::from_utf8_lossy(&raw).contains(needle))
        .unwrap_or(false)
}

/// The executable name of `pid` (`java` for a JobManager).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Supervisor records (not the forwarded JobManager output) of every node, for failure messages;
/// with [`NodeOptions::dump_other_output`], also the last lines of the node's non-JSON output.
pub fn dump(nodes: &[&Node]) -> String {
    let mut out = String::new();
    for n in nodes {
        let records: Vec<Value> = n.records().into_iter().filter(|r| r["target"] != "jobmanager").collect();
        out.push_str(&format!("--- {} supervisor records (last 40 of {}) ---\n", n.name, records.len()));
        for r in records.iter().skip(records.len().saturating_sub(40)) {
            out.push_str(&r.to_string());
            out.push('\n');
        }
        if !n.options.dump_other_output {
            continue;
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

/// Election nodes under `election_path` that the server lists as ephemerals (`dump`).
pub fn election_nodes(zk: &ZkEnsemble, election_path: &str) -> usize {
    zk.four_letter(0, "dump")
        .map(|d| d.lines().filter(|l| l.trim().starts_with(&format!("{election_path}/"))).count())
        .unwrap_or(0)
}

/// The test's directory, kept (and its path printed) when the test panics. Declare it before the
/// nodes, so it is dropped after them: the processes are dead before their files go.
pub struct KeepOnPanic {
    dir: Option<tempfile::TempDir>,
    test: &'static str,
}

impl KeepOnPanic {
    /// A new temporary directory named `<prefix>...`; `test` names the test in the message.
    pub fn new(prefix: &str, test: &'static str) -> KeepOnPanic {
        KeepOnPanic { dir: Some(tempfile::Builder::new().prefix(prefix).tempdir().expect("temp dir")), test }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("temp dir").path()
    }
}

impl Drop for KeepOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("{}: test failed; keeping its files in {}", self.test, dir.keep().display());
            }
        }
    }
}

/// `d` in seconds, for the printed measurements.
pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
