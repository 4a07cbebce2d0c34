//! The gate of a parked JobManager (`java/gate/`, `flinkha.gate.GatedHaServicesFactory`) in the
//! REAL Flink 2.3 JobManager (`bin/jobmanager.sh start-foreground`), with the configuration that
//! `flink-ha-supervisor render-flink-config` renders for `jobmanager.standby = "parked"`.
//!
//! The test plays the fence guard's part with two pipes of its own: the JobManager inherits the
//! read end of the gate pipe (`FLINK_HA_GATE_FD`) and the write end of the ready pipe
//! (`FLINK_HA_GATE_READY_FD`), and gets the gate jar on `HADOOP_CLASSPATH`. It proves:
//!
//! 1. the JVM reports `parked\n`, and while parked its pid has no TCP socket to the ZooKeeper
//!    port and its REST port refuses connections; one byte on the gate releases it: `/overview`
//!    answers 200 and the pid now has a connection to ZooKeeper, and Flink's leader latch is a
//!    child of `<path_root>/<cluster_id>/leader/latch`;
//! 2. closing the gate's write end instead makes the parked JVM exit with code 1 (the gate's
//!    `Runtime.halt(1)`), without ever touching ZooKeeper;
//! 3. SIGTERM to a parked JVM makes it exit with 143 (the gate's halt), not with Flink's shutdown
//!    safeguard (239, after 5 s: Flink's shutdown hook waits for the lock of the blocked start);
//! 4. with the CDS archive and the class list that `flink-ha-supervisor make-cds-archive` writes
//!    (`JVM_ARGS=-XX:SharedArchiveFile=...`, `FLINK_HA_GATE_PRELOAD=<archive>.classes`, what the
//!    daemon gives a parked JobManager), the JVM parks, preloads the list while it waits (its log
//!    says how many classes), still touches nothing, maps the archive, and serves after the
//!    release; with a list that does not exist it logs that and serves all the same.
//!
//! The gate jar is `FLINK_HA_GATE_JAR` (printed by `scripts/install-test-deps`), else built into
//! the test's directory by `scripts/build-gate`. Flink comes from `FLINK_HOME` or the install
//! script's cache; without it the test fails and says so. The measured times are printed; run
//! with `--nocapture`.

mod flinkhost;
mod support;

use std::collections::HashSet;
use std::fs::File;
use std::io::Read as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd as _, FromRawFd as _, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flinkhost::{flink_home, secs, write_conf_dir, write_loopback_base, KeepOnPanic};
use support::standin::http_get;
use support::{pick_free_port, try_wait_for, KillOnDrop, ZkEnsemble};

/// Longest wait for `parked\n` and, after the release, for `/overview` 200: a Flink 2.3
/// JobManager starts in 4-8 s on an idle machine, several times that on a loaded one.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the exit of a JVM whose gate was closed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Poll interval of the waits.
const POLL: Duration = Duration::from_millis(20);
/// The gate's class, as the rendering writes it.
const FACTORY_CLASS: &str = "flinkha.gate.GatedHaServicesFactory";
/// Flink's `high-availability.cluster-id` (below the default path root `/flink`).
const CLUSTER_ID: &str = "gate-it";

/// The gate jar: `FLINK_HA_GATE_JAR` when it names a file, else built by `scripts/build-gate`.
fn gate_jar(flink: &Path, dir: &Path) -> PathBuf {
    if let Some(jar) = std::env::var_os("FLINK_HA_GATE_JAR").map(PathBuf::from).filter(|p| p.is_file()) {
        return jar;
    }
    let jar = dir.join("flink-ha-gate.jar");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-gate");
    let status = Command::new(&script).arg(&jar).env("FLINK_HOME", flink).status().expect("run scripts/build-gate");
    assert!(status.success(), "scripts/build-gate failed ({status}); it needs a JDK (scripts/install-test-deps)");
    jar
}

/// A pipe whose both ends are close-on-exec: (read end, write end).
fn cloexec_pipe() -> (File, File) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two new fds into the array, which the Files below then own alone.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are open and owned by nothing else.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// A parked JobManager: the JVM, the test's end of its gate, its ports and files.
struct Parked {
    jvm: KillOnDrop,
    gate: Option<File>,
    ready: Option<File>,
    rest_port: u16,
    zk_port: u16,
    out: PathBuf,
}

/// Renders the configuration with the daemon and spawns the JobManager behind the two pipes.
/// `env`: more variables for the JobManager (`JVM_ARGS`, `FLINK_HA_GATE_PRELOAD`).
fn spawn_parked(root: &Path, flink: &Path, jar: &Path, zk: &ZkEnsemble, env: &[(&str, String)]) -> Parked {
    let (rest_port, rpc_port) = (pick_free_port(), pick_free_port());
    let base = root.join("base");
    let tmp = root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    write_loopback_base(flink, &base, &tmp, "flink-ha-supervisor tests/gate_real_flink.rs");
    let conf = root.join("conf");
    let supervisor = root.join("supervisor.toml");
    std::fs::write(
        &supervisor,
        format!(
            "[node]\nid = \"gate-it\"\n\
             [zookeeper]\nquorum = {quorum:?}\n\
             [jobmanager]\ncommand = [{script:?}, \"start-foreground\"]\n\
             rpc_address = \"127.0.0.1:{rpc_port}\"\nready_url = \"http://127.0.0.1:{rest_port}/overview\"\n\
             standby = \"parked\"\ngate_jar = {jar:?}\n\
             [flink]\nenabled = true\nmode = \"zookeeper\"\ncluster_id = {CLUSTER_ID:?}\n\
             storage_dir = {storage:?}\nbase_config = {base_config:?}\nconf_dir = {conf:?}\n",
            quorum = zk.connect_string(),
            script = flink.join("bin/jobmanager.sh").display().to_string(),
            jar = jar.display().to_string(),
            storage = format!("file://{}", root.join("ha").display()),
            base_config = base.join("config.yaml").display().to_string(),
            conf = conf.display().to_string(),
        ),
    )
    .unwrap();
    let rendered = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
        .args(["render-flink-config", "--config"])
        .arg(&supervisor)
        .output()
        .expect("run render-flink-config");
    let yaml = String::from_utf8_lossy(&rendered.stdout).into_owned();
    assert!(rendered.status.success(), "render-flink-config: {}", String::from_utf8_lossy(&rendered.stderr));
    assert!(yaml.contains(&format!("high-availability.type: {FACTORY_CLASS}\n")), "{yaml}");
    // The rendered file beside the base's other files (log4j), as `run` writes it.
    std::fs::create_dir_all(&conf).unwrap();
    for entry in std::fs::read_dir(&base).unwrap().flatten() {
        std::fs::copy(entry.path(), conf.join(entry.file_name())).unwrap();
    }
    std::fs::write(conf.join("config.yaml"), yaml).unwrap();

    // Both pipes are close-on-exec; only the child's two ends are made inheritable, after the fork.
    let (gate_r, gate_w) = cloexec_pipe();
    let (ready_r, ready_w) = cloexec_pipe();
    let (gate_fd, ready_fd): (RawFd, RawFd) = (gate_r.as_raw_fd(), ready_w.as_raw_fd());
    let out = root.join("jobmanager.out");
    let mut cmd = Command::new(flink.join("bin/jobmanager.sh"));
    cmd.arg("start-foreground")
        .env("FLINK_CONF_DIR", &conf)
        .env("FLINK_LOG_DIR", root.join("log"))
        .env("HADOOP_CLASSPATH", jar)
        .env("FLINK_HA_GATE_FD", gate_fd.to_string())
        .env("FLINK_HA_GATE_READY_FD", ready_fd.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::options().append(true).open(&out).unwrap());
    // SAFETY: fcntl is async-signal-safe; it only touches the child's copies of the two fds.
    unsafe {
        cmd.pre_exec(move || {
            for fd in [gate_fd, ready_fd] {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let jvm = KillOnDrop::spawn(cmd).expect("spawn jobmanager.sh");
    // The test keeps only its own ends: the JVM must be the only reader of the gate and the only
    // writer of the ready pipe, or EOF could not tell anything.
    drop((gate_r, ready_w));
    Parked { jvm, gate: Some(gate_w), ready: Some(ready_r), rest_port, zk_port: zk.client_port(0), out }
}

impl Parked {
    /// Waits for the JVM's line on the ready pipe (a thread reads; the wait is bounded).
    fn wait_parked(&mut self) -> String {
        let mut ready = self.ready.take().expect("ready pipe");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            // The JVM keeps its inherited write end open: read up to the newline, not to EOF.
            while !line.ends_with(b"\n") {
                match ready.read(&mut byte) {
                    Ok(1) => line.push(byte[0]),
                    _ => break,
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => panic!("no line on the ready pipe within {START_TIMEOUT:?}\n{}", self.output()),
        }
    }

    /// The JVM's stdout and stderr, for failure messages.
    fn output(&self) -> String {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        format!(
            "--- {} (last lines) ---\n{}",
            self.out.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }

    /// The TCP sockets of the JVM's pid whose remote port is ZooKeeper's, in any state.
    fn zk_sockets(&mut self) -> usize {
        let pid = self.jvm.id();
        tcp_sockets_to(pid, self.zk_port)
    }

    fn rest_refuses(&self) -> bool {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.rest_port));
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
    }

    fn overview_200(&self) -> bool {
        let addr = format!("127.0.0.1:{}", self.rest_port);
        http_get(&addr, "/overview", Duration::from_secs(1)).is_ok_and(|(status, _)| status == 200)
    }
}

/// The TCP sockets (v4 and v6) owned by `pid` whose remote port is `port`: the socket inodes
/// of `/proc/<pid>/fd` matched against `/proc/<pid>/net/tcp{,6}`.
fn tcp_sockets_to(pid: u32, port: u16) -> usize {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|t| {
                    let t = t.to_string_lossy().into_owned();
                    t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut count = 0;
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(inode)) = (fields.get(2), fields.get(9)) else { continue };
            let remote_port = remote.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if remote_port == Some(port) && inodes.contains(*inode) {
                count += 1;
            }
        }
    }
    count
}

/// The JVM is the script's pid: `jobmanager.sh start-foreground` ends in `exec java`.
fn assert_is_java(pid: u32) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "java", "pid {pid} is not the JVM");
}

/// The children of Flink's leader latch node, listed with ZooKeeper's own command-line client.
fn latch_children(zk: &ZkEnsemble) -> String {
    let classpath = std::env::var("ZK_CLASSPATH")
        .unwrap_or_else(|_| "/usr/share/java/zookeeper.jar:/etc/zookeeper/conf".to_string());
    let path = format!("/flink/{CLUSTER_ID}/leader/latch");
    let out = Command::new("java")
        .args(["-cp", &classpath, "org.apache.zookeeper.ZooKeeperMain", "-server", &zk.connect_string(), "ls", &path])
        .stdin(Stdio::null())
        .output()
        .expect("run ZooKeeperMain");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_parked_jobmanager_touches_nothing_until_its_release_then_starts() {
    let flink = flink_home(&["bin/jobmanager.sh", "conf/config.yaml"]);
    let root = KeepOnPanic::new("fhs-gate-release-", "gate_real_flink");
    let jar = gate_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let t0 = Instant::now();
    let mut jm = spawn_parked(root.path(), &flink, &jar, &zk, &[]);

    assert_eq!(jm.wait_parked(), "parked\n", "{}", jm.output());
    let parked_after = t0.elapsed();
    assert_is_java(jm.jvm.id());
    assert_eq!(jm.zk_sockets(), 0, "a parked JVM has a socket to ZooKeeper\n{}", jm.output());
    assert!(jm.rest_refuses(), "a parked JVM's REST port {} accepts connections", jm.rest_port);
    assert!(jm.jvm.child().try_wait().unwrap().is_none(), "the parked JVM exited\n{}", jm.output());

    let released = Instant::now();
    jm.gate.as_mut().unwrap().write_all(b"\x01").expect("write the release byte");
    let ready = try_wait_for(START_TIMEOUT, POLL, || jm.overview_200().then_some(()));
    assert!(ready.is_some(), "no /overview 200 within {START_TIMEOUT:?} of the release\n{}", jm.output());
    let ready_after = released.elapsed();
    assert!(jm.zk_sockets() >= 1, "a released JVM serves without a ZooKeeper connection\n{}", jm.output());
    let latch = latch_children(&zk);
    assert!(latch.contains("latch-"), "no latch node under /flink/{CLUSTER_ID}/leader/latch: {latch}");
    eprintln!(
        "gate (real Flink): spawn to parked {:.2}s, release to /overview 200 {:.2}s",
        secs(parked_after),
        secs(ready_after)
    );
    jm.jvm.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(jm.jvm.wait_timeout(EXIT_TIMEOUT).is_some(), "the released JVM ignored SIGTERM");
}

#[test]
fn a_parked_jobmanager_exits_when_its_gate_closes() {
    let flink = flink_home(&["bin/jobmanager.sh", "conf/config.yaml"]);
    let root = KeepOnPanic::new("fhs-gate-eof-", "gate_real_flink");
    let jar = gate_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let mut jm = spawn_parked(root.path(), &flink, &jar, &zk, &[]);
    assert_eq!(jm.wait_parked(), "parked\n", "{}", jm.output());
    assert_is_java(jm.jvm.id());

    let closed = Instant::now();
    drop(jm.gate.take());
    let status = jm.jvm.wait_timeout(EXIT_TIMEOUT);
    let exit_after = closed.elapsed();
    let status = status.unwrap_or_else(|| panic!("the JVM still runs {EXIT_TIMEOUT:?} after its gate closed"));
    assert_eq!(status.code(), Some(1), "the gate halts with 1\n{}", jm.output());
    assert!(!latch_children(&zk).contains("latch-"), "an unreleased JVM left a latch node");
    eprintln!("gate (real Flink): gate closed to JVM exit {:.3}s", secs(exit_after));
}

#[test]
fn a_parked_jobmanager_stops_at_once_on_sigterm() {
    let flink = flink_home(&["bin/jobmanager.sh", "conf/config.yaml"]);
    let root = KeepOnPanic::new("fhs-gate-term-", "gate_real_flink");
    let jar = gate_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let mut jm = spawn_parked(root.path(), &flink, &jar, &zk, &[]);
    assert_eq!(jm.wait_parked(), "parked\n", "{}", jm.output());
    assert_is_java(jm.jvm.id());

    let stopped = Instant::now();
    jm.jvm.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = jm.jvm.wait_timeout(EXIT_TIMEOUT);
    let exit_after = stopped.elapsed();
    let status = status.unwrap_or_else(|| panic!("the JVM still runs {EXIT_TIMEOUT:?} after SIGTERM"));
    // 143 is the gate's own halt; Flink's shutdown safeguard would say 239, 5 s later.
    assert_eq!(status.code(), Some(143), "a parked JVM halts on SIGTERM\n{}", jm.output());
    eprintln!("gate (real Flink): SIGTERM to JVM exit {:.3}s", secs(exit_after));
}

/// The archive and class list of `flink-ha-supervisor make-cds-archive`, made in `dir` by one
/// trial start of a plain (non-HA) JobManager.
fn make_archive(flink: &Path, dir: &Path, zk: &ZkEnsemble) -> PathBuf {
    let (conf, tmp, log) = (dir.join("trial-conf"), dir.join("trial-tmp"), dir.join("trial-log"));
    std::fs::create_dir_all(&tmp).unwrap();
    let (rest_port, rpc_port) = (pick_free_port(), pick_free_port());
    write_conf_dir(
        flink,
        &conf,
        &["jobmanager", "rest", "io", "web", "high-availability"],
        "flink-ha-supervisor tests/gate_real_flink.rs (make-cds-archive)",
        &format!(
            "jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\n\
             jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc_port}\n\
             rest.address: 127.0.0.1\nrest.bind-address: 127.0.0.1\nrest.port: {rest_port}\n\
             io.tmp.dirs: {tmp}\nweb.tmpdir: {tmp}\n",
            tmp = tmp.display()
        ),
    );
    let archive = dir.join("jobmanager.jsa");
    let config = dir.join("archive.toml");
    std::fs::write(
        &config,
        format!(
            "[zookeeper]\nquorum = {quorum:?}\n[jobmanager]\ncommand = [{script:?}, \"start-foreground\"]\n\
             ready_url = \"http://127.0.0.1:{rest_port}/overview\"\ncds_archive = {archive:?}\n\
             [jobmanager.env]\nFLINK_CONF_DIR = {conf:?}\nFLINK_LOG_DIR = {log:?}\nFLINK_PID_DIR = {dir:?}\n",
            quorum = zk.connect_string(),
            script = flink.join("bin/jobmanager.sh").display().to_string(),
            archive = archive.display().to_string(),
            conf = conf.display().to_string(),
            log = log.display().to_string(),
            dir = dir.display().to_string(),
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
        .args(["make-cds-archive", "--timeout", "180s", "--config"])
        .arg(&config)
        .env_remove("JVM_ARGS")
        .stdin(Stdio::null())
        .output()
        .expect("run make-cds-archive");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "make-cds-archive failed: {text}");
    eprintln!("{}", text.trim());
    archive
}

/// The gate's line about its preload in Flink's log (`Preloaded ...` or `Cannot read the class
/// list ...`), once it is there.
fn preload_line(root: &Path) -> Option<String> {
    let dir = std::fs::read_dir(root.join("log")).ok()?;
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| text.lines().map(str::to_string).collect::<Vec<_>>())
        .find(|l| l.contains("Preloaded ") || l.contains("Cannot read the class list"))
}

/// The number in the gate's `Preloaded <n> classes ...` line.
fn preloaded_count(line: &str) -> usize {
    let after = line.split("Preloaded ").nth(1).unwrap_or_default();
    after.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Parks with `env`, waits for the preload's log line, checks that the JVM still touches
/// nothing, releases it and waits for `/overview` 200; returns the preload line.
fn park_preload_release(root: &Path, flink: &Path, jar: &Path, zk: &ZkEnsemble, env: &[(&str, String)]) -> String {
    let mut jm = spawn_parked(root, flink, jar, zk, env);
    assert_eq!(jm.wait_parked(), "parked\n", "{}", jm.output());
    assert_is_java(jm.jvm.id());
    let line = try_wait_for(START_TIMEOUT, POLL, || preload_line(root))
        .unwrap_or_else(|| panic!("no preload line in Flink's log within {START_TIMEOUT:?}\n{}", jm.output()));
    assert_eq!(jm.zk_sockets(), 0, "a preloading parked JVM has a socket to ZooKeeper\n{}", jm.output());
    assert!(jm.rest_refuses(), "a preloading parked JVM's REST port {} accepts connections", jm.rest_port);
    assert!(!latch_children(zk).contains("latch-"), "a parked JVM made a latch node");

    let released = Instant::now();
    jm.gate.as_mut().unwrap().write_all(b"\x01").expect("write the release byte");
    let ready = try_wait_for(START_TIMEOUT, POLL, || jm.overview_200().then_some(()));
    assert!(ready.is_some(), "no /overview 200 within {START_TIMEOUT:?} of the release\n{}", jm.output());
    eprintln!("gate (real Flink): {line}; release to /overview 200 {:.2}s", secs(released.elapsed()));
    if let Some((_, archive)) = env.iter().find(|(k, _)| *k == "JVM_ARGS") {
        let archive = archive.trim_start_matches("-XX:SharedArchiveFile=");
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", jm.jvm.id())).unwrap_or_default();
        assert!(maps.contains(archive), "the parked JVM did not map the archive {archive}");
    }
    jm.jvm.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(jm.jvm.wait_timeout(EXIT_TIMEOUT).is_some(), "the released JVM ignored SIGTERM");
    line
}

#[test]
fn a_parked_jobmanager_preloads_its_class_list_and_serves_after_the_release() {
    let flink = flink_home(&["bin/jobmanager.sh", "conf/config.yaml"]);
    let root = KeepOnPanic::new("fhs-gate-preload-", "gate_real_flink");
    let jar = gate_jar(&flink, root.path());
    let zk = ZkEnsemble::builder().servers(1).start();
    let archive = make_archive(&flink, root.path(), &zk);
    let list = PathBuf::from(format!("{}.classes", archive.display()));
    let listed = std::fs::read_to_string(&list).unwrap_or_default();
    assert!(
        listed.lines().any(|l| l.starts_with("org/apache/flink/runtime/dispatcher/")),
        "make-cds-archive wrote no class list with Flink's dispatcher at {}",
        list.display()
    );

    let parked = root.path().join("with-list");
    let env = [
        ("JVM_ARGS", format!("-XX:SharedArchiveFile={}", archive.display())),
        ("FLINK_HA_GATE_PRELOAD", list.display().to_string()),
    ];
    let line = park_preload_release(&parked, &flink, &jar, &zk, &env);
    assert!(preloaded_count(&line) > 1000, "the gate preloaded too few classes: {line}");

    let missing = root.path().join("missing-list");
    let env = [("FLINK_HA_GATE_PRELOAD", root.path().join("no-such.classes").display().to_string())];
    let line = park_preload_release(&missing, &flink, &jar, &zk, &env);
    assert!(line.contains("Cannot read the class list"), "{line}");
}
