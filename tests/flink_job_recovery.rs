//! Job recovery across failovers with the REAL Flink 2.3 (the manual check of Flink's HA, made
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
//! Both daemons run with `jobmanager.standby = "parked"` (the gate jar from `FLINK_HA_GATE_JAR`,
//! which `scripts/install-test-deps` builds): the standby's JobManager waits at its gate with its
//! REST port closed, and each takeover releases that very JVM. (`tests/real_flink.rs` covers the
//! cold start.)
//!
//! Both times (new JobManager ready, job RUNNING again) are printed relative to the kill and to
//! the SIGTERM; run with `--nocapture`. Flink comes from `FLINK_HOME`, else from the cache that
//! `scripts/install-test-deps` fills; without it (or without `javac`) the test fails and says to
//! run that script. No java process outlives the test: dropping a node kills its daemon and
//! every process whose command line names its directory.

mod flinkhost;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use flinkhost::{
    dump, election_nodes, flink_home, pid_of, processes_mentioning, secs, write_conf_dir, DaemonSettings, KeepOnPanic,
    Node, NodeOptions,
};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::{wait_until, KillOnDrop, ZkEnsemble};

/// `zookeeper.session_timeout` of the daemons; Flink's defaults to it.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// `jobmanager.stop_grace`.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// `jobmanager.start_timeout`: above the default 20 s, because on this two-core machine loaded by
/// parallel builds or test suites a JobManager start took up to 19 s, and a daemon that kills a
/// slow start and restarts it only makes the next start slower. The failover is still judged
/// against [`BUDGET`]; the config check warns that 10 s + 45 s exceed it, which is the point.
const START_TIMEOUT: Duration = Duration::from_secs(45);
/// `failover.budget` and `flink.failover_timeout`: the job must be RUNNING again within it.
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
/// The nodes' layout: the daemon renders `<node>/flink-conf`, which the JobManager runs with; the
/// daemon does not see the test's `FLINK_HOME`.
const NODE: NodeOptions =
    NodeOptions { conf_subdir: "flink-conf", poll: POLL, unset_env: &["FLINK_HOME"], dump_other_output: false };
/// The top-level entries of the distribution's `config.yaml` that the tests' configurations replace.
const REPLACED_KEYS: &[&str] = &["jobmanager", "taskmanager", "rest", "io", "web", "execution"];
/// The comment above the tests' own entries in `config.yaml`.
const CONF_LABEL: &str = "tests/flink_job_recovery.rs";

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

/// One JobManager host: a daemon whose `[flink]` settings render the HA keys into `conf_dir` from
/// a base configuration (`<node>/base-conf`) that binds to loopback.
fn new_node(root: &Path, flink: &Path, name: &str, quorum: &str) -> Node {
    let node = Node::new(root, name, NODE);
    let base_dir = node.dir.join("base-conf");
    // Addresses and ports come from the daemon's settings (rendered); the base binds to loopback.
    write_conf_dir(
        flink,
        &base_dir,
        REPLACED_KEYS,
        CONF_LABEL,
        &format!(
            "jobmanager.bind-host: 127.0.0.1\n\
             jobmanager.memory.process.size: 768m\n\
             env.java.opts.jobmanager: {JVM_OPTS}\n\
             jobmanager.execution.failover-strategy: region\n\
             rest.bind-address: 127.0.0.1\n\
             io.tmp.dirs: {tmp}\n\
             web.tmpdir: {tmp}\n\
             execution.checkpointing.dir: file://{checkpoints}\n",
            tmp = node.tmp_dir.display(),
            checkpoints = root.join("checkpoints").display(),
        ),
    );
    let s = |p: &Path| p.display().to_string();
    let gate_jar = std::env::var("FLINK_HA_GATE_JAR")
        .expect("FLINK_HA_GATE_JAR names the gate jar of a parked JobManager: run `eval \"$(scripts/install-test-deps)\"` first");
    let jobmanager_extra = format!("standby = \"parked\"\ngate_jar = {gate_jar:?}\n");
    node.write_daemon_config(
        flink,
        &DaemonSettings {
            jobmanager_extra: &jobmanager_extra,
            tail: &format!(
                r#"
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
                ha = root.join("ha").display(),
                base = s(&base_dir.join("config.yaml")),
                conf = s(&node.conf_dir),
            ),
            ..DaemonSettings::new(quorum, ELECTION_PATH, SESSION_TIMEOUT, START_TIMEOUT, STOP_GRACE, BUDGET)
        },
    );
    node
}

impl Node {
    /// `GET path` on this node's REST port, when it answers 200.
    fn get(&self, path: &str) -> Option<Value> {
        self.get_200(path, Duration::from_millis(1500)).and_then(|body| serde_json::from_str(&body).ok())
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
            REPLACED_KEYS,
            CONF_LABEL,
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

/// The HA keys of a node's rendered configuration, from `render-flink-config`, for the
/// TaskManager and the client (without the JobManager's own port).
fn ha_keys_of(node: &Node) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
        .arg("render-flink-config")
        .arg("--config")
        .arg(&node.config)
        .args(["--for", "taskmanager"])
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
            let record = node.wait_event_after(skip, "jobmanager_ready", Duration::from_secs(5), others);
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

#[test]
fn a_running_job_survives_a_crash_of_the_leader_host_and_a_graceful_handover() {
    let flink = flink_home(&["bin/jobmanager.sh", "bin/flink"]);
    let test_start = Instant::now();
    let root = KeepOnPanic::new("fhs-job-recovery-", "flink_job_recovery");
    let jar = build_job_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let quorum = zk.connect_string();
    let mut a = new_node(root.path(), &flink, "jm-a", &quorum);
    let mut b = new_node(root.path(), &flink, "jm-b", &quorum);

    // The first daemon leads; its JobManager runs with the rendered HA configuration.
    a.start();
    let spawned_a = a.wait_event("jobmanager_spawned", Duration::from_secs(30), &[&a, &b]);
    let pid_a = pid_of(&spawned_a);
    a.wait_event("jobmanager_ready", START_TIMEOUT + Duration::from_secs(10), &[&a, &b]);
    let rendered = std::fs::read_to_string(a.conf_dir.join("config.yaml")).expect("rendered config.yaml");
    assert!(rendered.contains("high-availability.type: flinkha.gate.GatedHaServicesFactory"), "{rendered}");
    assert!(a.conf_dir.join("log4j-console.properties").is_file(), "the base's other files are copied");
    assert_eq!(a.jobmanagers(), vec![pid_a], "jm-a's JobManager runs with the rendered FLINK_CONF_DIR");

    // The second daemon stands by.
    b.start();
    b.wait_event("session_started", Duration::from_secs(30), &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk, ELECTION_PATH) == 2);

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
    // jm-b's only JobManager is the one parked at its gate, serving nothing.
    let parked_b = pid_of(&b.wait_event("jobmanager_parked", START_TIMEOUT + Duration::from_secs(10), &[&a, &b]));
    assert_eq!(b.jobmanagers(), vec![parked_b], "jm-b runs a JobManager besides its parked one while jm-a leads");
    assert!(b.rest_refuses(), "jm-b's parked JobManager answers on its REST port");

    // 1. SIGKILL of the leader host: the JobManager, its guard and the daemon at once.
    let b_skip = b.records().len();
    let killed_at = Instant::now();
    a.crash(pid_a);
    let crash = wait_recovery(&b, b_skip, &jid, killed_at, BUDGET, &[&a, &b]);
    assert!(a.jobmanagers().is_empty() && a.rest_refuses(), "jm-a's JobManager survived the crash");
    let released = pid_of(&b.events_after(b_skip, "jobmanager_spawned")[0]);
    assert_eq!(released, parked_b, "jm-b took over by releasing its parked JobManager");
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
    a.wait_event_after(a_skip, "session_started", Duration::from_secs(30), &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || election_nodes(&zk, ELECTION_PATH) == 2);
    assert!(a.events_after(a_skip, "elected").is_empty(), "jm-a was elected while jm-b leads");
    let parked_a =
        pid_of(&a.wait_event_after(a_skip, "jobmanager_parked", START_TIMEOUT + Duration::from_secs(10), &[&a, &b]));
    let b_pid = pid_of(&b.events_after(b_skip, "jobmanager_spawned")[0]);
    let term_at = Instant::now();
    b.daemon.as_ref().expect("daemon").signal(Signal::SIGTERM).expect("SIGTERM jm-b's daemon");
    let handover = wait_recovery(&a, a_skip, &jid, term_at, BUDGET, &[&a, &b]);
    wait_until(Duration::from_secs(10), POLL, || b.exit_code().is_some());
    assert_eq!(b.exit_code(), Some(0), "jm-b's daemon exit code\n{}", dump(&[&a, &b]));
    assert!(!processes_mentioning(&b.conf_dir.display().to_string()).contains(&b_pid), "jm-b's JobManager is left");
    assert_eq!(pid_of(&a.events_after(a_skip, "jobmanager_spawned")[0]), parked_a, "jm-a took over by release");
    eprintln!("SIGTERM handover: {}; restored checkpoint {:?}", handover.describe(&jid), restored_checkpoint(&a, &jid));
    assert!(handover.running <= BUDGET, "handover took {:?}", handover.running);
    eprintln!("total test time {:.1}s", secs(test_start.elapsed()));
    drop(tm);
}

#[test]
fn base_config_rewrite_drops_only_the_named_top_level_entries() {
    let yaml = "env:\n  java:\n    opts: x\njobmanager:\n  rpc:\n    port: 6123\nrest.port: 8081\nrestart: keep\n";
    assert_eq!(flinkhost::drop_top_level(yaml, &["jobmanager", "rest"]), "env:\n  java:\n    opts: x\nrestart: keep\n");
}
