//! Job recovery across failovers with the REAL Flink 2.3 (issue 4; seed 000's manual check, made
//! automatic): two JobManagers, a long-running job, the primary stopped, the standby takes over
//! within 30 s, the job keeps running.
//!
//! Two `flink-ha-supervisor run` daemons with `[flink] enabled = true` share one real ZooKeeper
//! server. Each has its own base Flink configuration (a copy of the distribution's `conf/` with
//! loopback addresses, 768m of JobManager memory and its own temp dirs); the daemon renders the
//! HA keys into its own `flink.conf_dir` before it starts the JobManager. Both use the same
//! `high-availability.storageDir` (`file://<tempdir>/ha`). One TaskManager (2 slots) runs with
//! the HA keys that `render-flink-config` prints, so it follows the leading JobManager through
//! ZooKeeper. The job is `tests/flink_job/RecoveryProbeJob.java` (a checkpointed sequence into a
//! discarding sink that runs until cancelled), compiled with `javac` against the distribution
//! and submitted with `bin/flink run -d`.
//!
//! 1. SIGKILL of the leader *host*: its JobManager, its fence guard and its daemon at once. The
//!    standby's daemon is elected when the dead daemon's session expires, starts its JobManager,
//!    which recovers the job from the HA store: the same job id is RUNNING (every task running)
//!    again within the 30 s budget, restored from a checkpoint.
//! 2. The first daemon is started again (a standby now), then SIGTERM to the leader's daemon: a
//!    graceful handover, and the job is RUNNING again under the first node's JobManager.
//!
//! Both times (new JobManager ready, job RUNNING again) are printed relative to the kill and to
//! the SIGTERM; run with `--nocapture`. Flink comes from `FLINK_HOME`, else from the cache that
//! `scripts/install-test-deps` fills; without it (or without `javac`) the test fails and says to
//! run that script. No java process outlives the test: dropping a node kills its daemon and
//! every process whose command line names its directory.

mod support;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::standin::http_get;
use support::{pick_free_port, wait_until, KillOnDrop, ZkEnsemble};

/// `zookeeper.session_timeout` of the daemons; Flink's defaults to it.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// `jobmanager.stop_grace`.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// `jobmanager.start_timeout`: above the default 20 s, because on this two-core machine loaded by
/// parallel builds or test suites a JobManager start took up to 19 s, and a daemon that kills a
/// slow start and restarts it only makes the next start slower. The failover is still judged
/// against [`BUDGET`]; the config check warns that 10 s + 45 s exceed it, which is the point.
const START_TIMEOUT: Duration = Duration::from_secs(45);
/// `failover.budget` and seed 000's failover timeout: the job must be RUNNING again within it.
const BUDGET: Duration = Duration::from_secs(30);
/// JVM options of the JobManagers and the TaskManager: on a two-core machine the C1 compiler
/// alone and the serial collector start a JobManager noticeably faster than the defaults.
const JVM_OPTS: &str = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";
/// Poll interval of the waits.
const POLL: Duration = Duration::from_millis(100);
/// `election.path`; Flink's HA nodes live under `/flink/job-recovery`.
const ELECTION_PATH: &str = "/it/job-recovery/leader";
/// `flink.cluster_id`.
const CLUSTER_ID: &str = "job-recovery";

/// The Flink distribution: `FLINK_HOME`, else the install script's cache.
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
        .find(|home| home.join("bin/jobmanager.sh").is_file() && home.join("bin/flink").is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "no Flink distribution found (looked for bin/jobmanager.sh in {candidates:?}); run scripts/install-test-deps \
                 (it installs Java, ZooKeeper and Flink 2.3.0) and export the FLINK_HOME it prints"
            )
        })
}

/// A JDK tool (`javac`, `jar`): from `JAVA_HOME`, else `PATH`.
fn jdk_tool(name: &str) -> PathBuf {
    let from_home = std::env::var_os("JAVA_HOME").map(|h| PathBuf::from(h).join("bin").join(name));
    let from_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    from_home.into_iter().chain(from_path).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("no `{name}` found (JAVA_HOME or PATH): run scripts/install-test-deps, which installs a JDK")
    })
}

/// Compiles tests/flink_job/RecoveryProbeJob.java into `dir/probe.jar`.
fn build_job_jar(flink: &Path, dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flink_job/RecoveryProbeJob.java");
    let classes = dir.join("classes");
    std::fs::create_dir_all(&classes).expect("create classes dir");
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let classpath = flink.join("lib").join("*");
    run(
        Command::new(jdk_tool("javac")).arg("-d").arg(&classes).arg("-cp").arg(&classpath).arg(&source),
        "javac RecoveryProbeJob.java",
    );
    let jar = dir.join("probe.jar");
    run(
        Command::new(jdk_tool("jar")).arg("cfe").arg(&jar).arg("RecoveryProbeJob").arg("-C").arg(&classes).arg("."),
        "jar",
    );
    jar
}

/// Removes the top-level YAML entries whose first key segment is in `keys` (nested blocks and
/// dotted keys alike); keeps everything else.
fn drop_top_level(yaml: &str, keys: &[&str]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in yaml.lines() {
        if !line.is_empty() && !line.starts_with([' ', '\t', '#']) {
            let key = line.split(':').next().unwrap_or_default().trim();
            skipping = keys.contains(&key.split('.').next().unwrap_or_default());
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A copy of the distribution's `conf/` in `dir`, whose `config.yaml` ends with `extra`.
fn write_conf_dir(flink: &Path, dir: &Path, extra: &str) {
    std::fs::create_dir_all(dir).expect("create conf dir");
    for entry in std::fs::read_dir(flink.join("conf")).expect("read conf/").flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy conf file");
        }
    }
    let original = std::fs::read_to_string(flink.join("conf/config.yaml")).expect("read conf/config.yaml");
    let mut yaml = drop_top_level(&original, &["jobmanager", "taskmanager", "rest", "io", "web", "execution"]);
    yaml.push_str("\n# --- tests/flink_job_recovery.rs ---\n");
    yaml.push_str(extra);
    std::fs::write(dir.join("config.yaml"), yaml).expect("write config.yaml");
}

/// One JobManager host: a daemon, its base Flink configuration and its directories.
struct Node {
    name: String,
    rest_port: u16,
    conf_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    daemon: Option<KillOnDrop>,
}

impl Node {
    fn new(root: &Path, flink: &Path, name: &str, quorum: &str) -> Node {
        let dir = root.join(name);
        let (base_dir, conf_dir, log_dir, tmp_dir) =
            (dir.join("base-conf"), dir.join("flink-conf"), dir.join("flink-log"), dir.join("tmp"));
        for d in [&log_dir, &tmp_dir] {
            std::fs::create_dir_all(d).expect("create node dir");
        }
        let (rest_port, rpc_port) = (pick_free_port(), pick_free_port());
        // Addresses and ports come from the daemon's settings (rendered); the base binds to loopback.
        write_conf_dir(
            flink,
            &base_dir,
            &format!(
                "jobmanager.bind-host: 127.0.0.1\n\
                 jobmanager.memory.process.size: 768m\n\
                 env.java.opts.jobmanager: {JVM_OPTS}\n\
                 jobmanager.execution.failover-strategy: region\n\
                 rest.bind-address: 127.0.0.1\n\
                 io.tmp.dirs: {tmp}\n\
                 web.tmpdir: {tmp}\n\
                 execution.checkpointing.dir: file://{checkpoints}\n",
                tmp = tmp_dir.display(),
                checkpoints = root.join("checkpoints").display(),
            ),
        );
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

[jobmanager.env]
FLINK_LOG_DIR = {logs:?}
FLINK_PID_DIR = {workdir:?}

[failover]
budget = "{budget}ms"

[http]
listen = "off"

[flink]
enabled = true
mode = "zookeeper"
zookeeper_path_root = "/flink"
cluster_id = "{CLUSTER_ID}"
storage_dir = "file://{ha}"
jobmanager_count = 2
base_config = {base:?}
conf_dir = {conf:?}
"#,
            session = SESSION_TIMEOUT.as_millis(),
            start = START_TIMEOUT.as_millis(),
            grace = STOP_GRACE.as_millis(),
            budget = BUDGET.as_millis(),
            workdir = s(&dir),
            logs = s(&log_dir),
            ha = root.join("ha").display(),
            base = s(&base_dir.join("config.yaml")),
            conf = s(&conf_dir),
        );
        let config = dir.join("supervisor.toml");
        std::fs::write(&config, toml).expect("write daemon config");
        Node { name: name.to_string(), rest_port, conf_dir, config, log: dir.join("supervisor.log"), daemon: None }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("daemon log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info,zookeeper_client=warn")
            .env_remove("FLINK_HOME")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().to_ascii_uppercase().starts_with("FHS_") {
                cmd.env_remove(name);
            }
        }
        self.daemon = Some(KillOnDrop::spawn(cmd).expect("spawn the daemon"));
    }

    fn daemon_pid(&self) -> u32 {
        self.daemon.as_ref().expect("daemon started").id()
    }

    /// The daemon's exit code once it has exited (-1 for a signal); `None` while it runs.
    fn exit_code(&mut self) -> Option<i32> {
        let child = self.daemon.as_mut().expect("daemon started").child();
        child.try_wait().expect("try_wait").map(|s| s.code().unwrap_or(-1))
    }

    /// The daemon's JSON records (the log is appended across restarts).
    fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
    }

    /// Records of `event` after the first `skip` records.
    fn events_after(&self, skip: usize, event: &str) -> Vec<Value> {
        self.records().into_iter().skip(skip).filter(|r| r["event"] == event).collect()
    }

    #[track_caller]
    fn wait_event(&self, skip: usize, event: &str, timeout: Duration, others: &[&Node]) -> Value {
        match support::try_wait_for(timeout, POLL, || self.events_after(skip, event).into_iter().next()) {
            Some(v) => v,
            None => panic!("{}: no `{event}` record within {timeout:?}\n{}", self.name, dump(others)),
        }
    }

    fn rest(&self) -> String {
        format!("127.0.0.1:{}", self.rest_port)
    }

    /// `GET path` on this node's REST port, when it answers 200.
    fn get(&self, path: &str) -> Option<Value> {
        match http_get(&self.rest(), path, Duration::from_millis(1500)) {
            Ok((200, body)) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    fn rest_refuses(&self) -> bool {
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.rest_port));
        matches!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
    }

    /// The job's state on this node's JobManager, if its REST API lists it: (state, tasks
    /// running, tasks total).
    fn job(&self, jid: &str) -> Option<(String, u64, u64)> {
        let overview = self.get("/jobs/overview")?;
        let job = overview["jobs"].as_array()?.iter().find(|j| j["jid"] == jid)?.clone();
        Some((job["state"].as_str()?.to_string(), job["tasks"]["running"].as_u64()?, job["tasks"]["total"].as_u64()?))
    }

    /// The job is RUNNING with every task running.
    fn job_running(&self, jid: &str) -> bool {
        matches!(self.job(jid), Some((state, running, total)) if state == "RUNNING" && total > 0 && running == total)
    }

    /// Live processes whose command line names this node's rendered conf dir: its JobManager.
    fn jobmanagers(&self) -> Vec<u32> {
        processes_mentioning(&self.conf_dir.display().to_string())
    }

    /// SIGKILLs the whole host at once: the JobManager's process group, the fence guard, the daemon.
    fn crash(&mut self, jm_pid: u32) {
        let daemon = self.daemon_pid();
        let guards: Vec<u32> = children_of(daemon);
        let _ = killpg(Pid::from_raw(jm_pid as i32), Signal::SIGKILL);
        for pid in guards {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        let _ = kill(Pid::from_raw(daemon as i32), Signal::SIGKILL);
    }

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

/// The TaskManager: its own configuration with the HA keys, so it follows the leader.
struct TaskManager {
    conf_dir: PathBuf,
    process: Option<KillOnDrop>,
}

impl TaskManager {
    fn start(root: &Path, flink: &Path, ha_keys: &str) -> TaskManager {
        let dir = root.join("tm");
        let (conf_dir, log_dir, tmp_dir) = (dir.join("conf"), dir.join("log"), dir.join("tmp"));
        for d in [&log_dir, &tmp_dir] {
            std::fs::create_dir_all(d).expect("create tm dir");
        }
        write_conf_dir(
            flink,
            &conf_dir,
            &format!(
                "env.java.opts.taskmanager: {JVM_OPTS}\n\
                 taskmanager.bind-host: 127.0.0.1\n\
                 taskmanager.host: 127.0.0.1\n\
                 taskmanager.numberOfTaskSlots: 2\n\
                 taskmanager.memory.process.size: 1024m\n\
                 io.tmp.dirs: {tmp}\n\
                 execution.checkpointing.dir: file://{checkpoints}\n\
                 {ha_keys}",
                tmp = tmp_dir.display(),
                checkpoints = root.join("checkpoints").display(),
            ),
        );
        let mut cmd = Command::new(flink.join("bin/taskmanager.sh"));
        cmd.arg("start-foreground")
            .env("FLINK_CONF_DIR", &conf_dir)
            .env("FLINK_LOG_DIR", &log_dir)
            .env("FLINK_PID_DIR", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        TaskManager { conf_dir, process: Some(KillOnDrop::spawn(cmd).expect("spawn the TaskManager")) }
    }
}

impl Drop for TaskManager {
    fn drop(&mut self) {
        drop(self.process.take());
        for pid in processes_mentioning(&self.conf_dir.display().to_string()) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Live (not zombie) processes whose command line contains `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let mentions = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| String::from_utf8_lossy(&raw).contains(needle))
            .unwrap_or(false);
        if mentions {
            pids.push(pid);
        }
    }
    pids
}

/// Processes whose parent is `parent`.
fn children_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(parent) {
            pids.push(pid);
        }
    }
    pids
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
    }
    out
}

fn election_nodes(zk: &ZkEnsemble) -> usize {
    zk.four_letter(0, "dump")
        .map(|d| d.lines().filter(|l| l.trim().starts_with(&format!("{ELECTION_PATH}/"))).count())
        .unwrap_or(0)
}

/// The test's directory, kept (and its path printed) when the test panics; dropped after the
/// processes that use it.
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
                eprintln!("flink_job_recovery: test failed; keeping its files in {}", dir.keep().display());
            }
        }
    }
}

/// The HA keys of a node's rendered configuration, from `render-flink-config`, for the
/// TaskManager and the client (without the JobManager's own port).
fn ha_keys_of(node: &Node) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
        .arg("render-flink-config")
        .arg("--config")
        .arg(&node.config)
        .env_remove("FLINK_HOME")
        .output()
        .expect("run render-flink-config");
    assert!(out.status.success(), "render-flink-config: {}", String::from_utf8_lossy(&out.stderr));
    let yaml = String::from_utf8(out.stdout).expect("UTF-8");
    let keys: String = yaml
        .lines()
        .filter(|l| l.starts_with("high-availability.") && !l.starts_with("high-availability.jobmanager.port"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(keys.contains("high-availability.type: zookeeper"), "no HA keys rendered:\n{yaml}");
    keys
}

/// Submits the job through the client (HA: it finds the leader in ZooKeeper); its job id.
fn submit(flink: &Path, conf_dir: &Path, jar: &Path, log_dir: &Path) -> String {
    let out_path = log_dir.join("flink-run.out");
    let out = std::fs::File::create(&out_path).expect("client output file");
    let mut cmd = Command::new(flink.join("bin/flink"));
    cmd.arg("run")
        .arg("-d")
        .arg(jar)
        .arg("fhs-recovery-probe")
        .env("FLINK_CONF_DIR", conf_dir)
        .env("FLINK_LOG_DIR", log_dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out);
    let mut client = KillOnDrop::spawn(cmd).expect("spawn bin/flink run");
    let status = client.wait_timeout(Duration::from_secs(60)).expect("bin/flink run did not finish within 60 s");
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(status.success(), "bin/flink run failed ({status}):\n{text}");
    text.lines()
        .find_map(|l| l.split("JobID ").nth(1).map(|id| id.trim().to_string()))
        .filter(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no job id in the client's output:\n{text}"))
}

/// Times measured from a failure (kill or SIGTERM) on the new leader's side.
#[derive(Debug)]
struct Recovery {
    /// The daemon's `elected` record.
    elected: Option<Duration>,
    /// The daemon's `jobmanager_spawned` record.
    spawned: Option<Duration>,
    /// Flink's own leader election granted the new JobManager's Dispatcher leadership (its log
    /// line, as the daemon forwarded it).
    flink_leader: Option<Duration>,
    /// The new JobManager's `/overview` answered 200.
    ready: Duration,
    /// The job listed RUNNING with every task running on the new JobManager.
    running: Duration,
    /// The daemon's own `jobmanager_ready` record, relative to its spawn.
    startup: Duration,
}

/// From `since` (wall clock) to a record's timestamp.
fn at(record: &Value, since: SystemTime) -> Option<Duration> {
    humantime::parse_rfc3339(record["timestamp"].as_str()?).ok()?.duration_since(since).ok()
}

/// Polls `node` until its JobManager answers and lists `jid` RUNNING; fails past `limit`.
fn wait_recovery(node: &Node, skip: usize, jid: &str, since: Instant, limit: Duration, others: &[&Node]) -> Recovery {
    let wall = SystemTime::now() - since.elapsed();
    let mut ready = None;
    loop {
        let now = since.elapsed();
        assert!(
            now <= limit,
            "{}: job {jid} not RUNNING {now:?} after the failure (JobManager ready: {ready:?}, job: {:?})\n{}",
            node.name,
            node.job(jid),
            dump(others)
        );
        if ready.is_none() && node.get("/overview").is_some() {
            ready = Some(since.elapsed());
        }
        if let Some(ready) = ready.filter(|_| node.job_running(jid)) {
            let running = since.elapsed();
            let record = node.wait_event(skip, "jobmanager_ready", Duration::from_secs(5), others);
            let startup = Duration::from_millis(record["startup_ms"].as_u64().expect("startup_ms"));
            let first = |event: &str| node.events_after(skip, event).first().and_then(|r| at(r, wall));
            let flink_leader = node
                .records()
                .into_iter()
                .skip(skip)
                .find(|r| {
                    r["message"].as_str().is_some_and(|m| m.contains("DefaultDispatcherRunner was granted leadership"))
                })
                .and_then(|r| at(&r, wall));
            return Recovery {
                elected: first("elected"),
                spawned: first("jobmanager_spawned"),
                flink_leader,
                ready,
                running,
                startup,
            };
        }
        std::thread::sleep(POLL);
    }
}

impl Recovery {
    fn describe(&self, jid: &str) -> String {
        let opt = |d: Option<Duration>| d.map_or("?".to_string(), |d| format!("{:.2}s", secs(d)));
        format!(
            "new JobManager ready {:.2}s, job {jid} RUNNING again {:.2}s after it (elected {}, JobManager spawned {}, \
             Flink leadership {}; JobManager start {:.2}s)",
            secs(self.ready),
            secs(self.running),
            opt(self.elected),
            opt(self.spawned),
            opt(self.flink_leader),
            secs(self.startup)
        )
    }
}

/// The checkpoint the job restored from on `node`, if any.
fn restored_checkpoint(node: &Node, jid: &str) -> Option<u64> {
    node.get(&format!("/jobs/{jid}/checkpoints"))?["latest"]["restored"]["id"].as_u64()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn a_running_job_survives_a_crash_of_the_leader_host_and_a_graceful_handover() {
    let flink = flink_home();
    let test_start = Instant::now();
    let root = KeepOnPanic(Some(tempfile::Builder::new().prefix("fhs-job-recovery-").tempdir().expect("temp dir")));
    let jar = build_job_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let quorum = zk.connect_string();
    let mut a = Node::new(root.path(), &flink, "jm-a", &quorum);
    let mut b = Node::new(root.path(), &flink, "jm-b", &quorum);

    // The first daemon leads; its JobManager runs with the rendered HA configuration.
    a.start();
    let spawned_a = a.wait_event(0, "jobmanager_spawned", Duration::from_secs(30), &[&a, &b]);
    let pid_a = spawned_a["pid"].as_u64().expect("pid") as u32;
    a.wait_event(0, "jobmanager_ready", START_TIMEOUT + Duration::from_secs(10), &[&a, &b]);
    let rendered = std::fs::read_to_string(a.conf_dir.join("config.yaml")).expect("rendered config.yaml");
    assert!(rendered.contains("high-availability.type: zookeeper"), "{rendered}");
    assert!(a.conf_dir.join("log4j-console.properties").is_file(), "the base's other files are copied");
    assert_eq!(a.jobmanagers(), vec![pid_a], "jm-a's JobManager runs with the rendered FLINK_CONF_DIR");

    // The second daemon stands by.
    b.start();
    b.wait_event(0, "session_started", Duration::from_secs(30), &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk) == 2);

    // A TaskManager and the job.
    let ha_keys = ha_keys_of(&a);
    let tm = TaskManager::start(root.path(), &flink, &ha_keys);
    wait_until(Duration::from_secs(60), POLL, || a.get("/overview").is_some_and(|o| o["taskmanagers"] == 1));
    let jid = submit(&flink, &tm.conf_dir, &jar, root.path());
    wait_until(Duration::from_secs(60), POLL, || a.job_running(&jid));
    // At least one completed checkpoint, so that the new JobManager restores from one.
    wait_until(Duration::from_secs(30), POLL, || {
        a.get(&format!("/jobs/{jid}/checkpoints")).is_some_and(|c| c["counts"]["completed"].as_u64() > Some(0))
    });
    eprintln!(
        "setup: job {jid} RUNNING on jm-a with a completed checkpoint, {:.1}s after the test started",
        secs(test_start.elapsed())
    );
    assert!(b.jobmanagers().is_empty() && b.rest_refuses(), "jm-b runs a JobManager while jm-a leads");

    // 1. SIGKILL of the leader host: the JobManager, its guard and the daemon at once.
    let b_skip = b.records().len();
    let killed_at = Instant::now();
    a.crash(pid_a);
    let crash = wait_recovery(&b, b_skip, &jid, killed_at, BUDGET, &[&a, &b]);
    assert!(a.jobmanagers().is_empty() && a.rest_refuses(), "jm-a's JobManager survived the crash");
    let restored = restored_checkpoint(&b, &jid);
    assert!(
        restored.is_some(),
        "the recovered job did not restore a checkpoint: {:?}",
        b.get(&format!("/jobs/{jid}/checkpoints"))
    );
    eprintln!("SIGKILL of the leader host: {}; restored checkpoint {}", crash.describe(&jid), restored.unwrap());
    assert!(crash.running <= BUDGET, "job recovery took {:?}", crash.running);

    // 2. The first node comes back as a standby; SIGTERM to the leader's daemon hands over.
    let a_skip = a.records().len();
    a.start();
    a.wait_event(a_skip, "session_started", Duration::from_secs(30), &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk) == 2);
    assert!(a.events_after(a_skip, "elected").is_empty(), "jm-a was elected while jm-b leads");
    let b_pid = b.events_after(b_skip, "jobmanager_spawned")[0]["pid"].as_u64().expect("pid") as u32;
    let term_at = Instant::now();
    b.daemon.as_ref().expect("daemon").signal(Signal::SIGTERM).expect("SIGTERM jm-b's daemon");
    let handover = wait_recovery(&a, a_skip, &jid, term_at, BUDGET, &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || b.exit_code().is_some());
    assert_eq!(b.exit_code(), Some(0), "jm-b's daemon exit code\n{}", dump(&[&a, &b]));
    assert!(!processes_mentioning(&b.conf_dir.display().to_string()).contains(&b_pid), "jm-b's JobManager is left");
    eprintln!("SIGTERM handover: {}; restored checkpoint {:?}", handover.describe(&jid), restored_checkpoint(&a, &jid));
    assert!(handover.running <= BUDGET, "handover took {:?}", handover.running);
    eprintln!("total test time {:.1}s", secs(test_start.elapsed()));
    drop(tm);
}

#[test]
fn base_config_rewrite_drops_only_the_named_top_level_entries() {
    let yaml = "env:\n  java:\n    opts: x\njobmanager:\n  rpc:\n    port: 6123\nrest.port: 8081\nrestart: keep\n";
    assert_eq!(drop_top_level(yaml, &["jobmanager", "rest"]), "env:\n  java:\n    opts: x\nrestart: keep\n");
}
