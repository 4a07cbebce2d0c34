//! `jobmanager.cds_archive` with the REAL Flink 2.3 JobManager: the documented way to
//! cut the JobManager's cold start. Asserts the mechanism, not the speed (BENCHMARKS.md measures
//! that):
//!
//! 1. `flink-ha-supervisor make-cds-archive --config FILE` runs the JobManager once with Flink's
//!    HA off, stops it, and leaves the archive at `jobmanager.cds_archive` (a non-empty file, no
//!    `.partial` left), without touching Flink's HA nodes in ZooKeeper;
//! 2. the daemon then starts its JobManager with `-XX:SharedArchiveFile=<archive>` on the `java`
//!    command line (logging `cds_archive_used`), the JVM maps the archive (it is in
//!    `/proc/<pid>/maps`), and Flink answers `/overview`.
//!
//! Flink comes from `FLINK_HOME`, else from the cache `scripts/install-test-deps` fills.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::{pick_free_port, KillOnDrop, ZkEnsemble};

fn flink_home() -> PathBuf {
    let env_home = std::env::var_os("FLINK_HOME").filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = std::env::var_os("FLINK_HA_SUPERVISOR_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/flink-ha-supervisor")))
        .map(|c| c.join("flink-2.3.0/pyflink"));
    let candidates: Vec<PathBuf> = env_home.into_iter().chain(cache).collect();
    candidates.iter().find(|h| h.join("bin/jobmanager.sh").is_file()).cloned().unwrap_or_else(|| {
        panic!("no Flink distribution in {candidates:?}; run scripts/install-test-deps and export the FLINK_HOME it prints")
    })
}

/// A copy of the distribution's `conf/` whose `config.yaml` binds the JobManager to loopback.
fn write_base_conf(flink: &Path, dir: &Path, tmp: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(flink.join("conf")).unwrap().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let original = std::fs::read_to_string(flink.join("conf/config.yaml")).unwrap();
    let mut yaml = String::new();
    let mut skipping = false;
    for line in original.lines() {
        if !line.is_empty() && !line.starts_with([' ', '\t', '#']) {
            let first = line.split(':').next().unwrap_or_default().trim().split('.').next().unwrap_or_default();
            skipping = ["jobmanager", "rest", "io", "web"].contains(&first);
        }
        if !skipping {
            yaml.push_str(line);
            yaml.push('\n');
        }
    }
    yaml.push_str(&format!(
        "jobmanager.bind-host: 127.0.0.1\njobmanager.memory.process.size: 768m\nrest.bind-address: 127.0.0.1\n\
         io.tmp.dirs: {t}\nweb.tmpdir: {t}\n",
        t = tmp.display()
    ));
    std::fs::write(dir.join("config.yaml"), yaml).unwrap();
}

fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle)) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills every process whose command line names the test's directory, on drop.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for pid in processes_mentioning(&self.0.display().to_string()) {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

#[test]
fn make_cds_archive_then_the_jobmanager_starts_with_it() {
    let flink = flink_home();
    let zk = ZkEnsemble::builder().servers(1).start();
    let root = tempfile::Builder::new().prefix("fhs-cds-").tempdir().unwrap();
    let dir = root.path().to_path_buf();
    let _cleanup = Cleanup(dir.clone());
    let (base, conf, logs, tmp) = (dir.join("base"), dir.join("flink-conf"), dir.join("log"), dir.join("tmp"));
    for d in [&logs, &tmp] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_base_conf(&flink, &base, &tmp);
    let (rest, rpc) = (pick_free_port(), pick_free_port());
    let archive = dir.join("state/jobmanager.jsa");
    let config = dir.join("supervisor.toml");
    std::fs::write(
        &config,
        format!(
            r#"[node]
id = "cds"
[zookeeper]
quorum = "{quorum}"
session_timeout = "10s"
[election]
path = "/it/cds/leader"
[jobmanager]
command = ["{jm}", "start-foreground"]
workdir = "{dir}"
ready_url = "http://127.0.0.1:{rest}/overview"
rpc_address = "127.0.0.1:{rpc}"
start_timeout = "60s"
cds_archive = "{archive}"
[jobmanager.env]
FLINK_LOG_DIR = "{logs}"
FLINK_PID_DIR = "{dir}"
[http]
listen = "off"
[flink]
enabled = true
cluster_id = "cds"
storage_dir = "file://{dir}/ha"
base_config = "{base}/config.yaml"
conf_dir = "{conf}"
"#,
            quorum = zk.connect_string(),
            jm = flink.join("bin/jobmanager.sh").display(),
            dir = dir.display(),
            archive = archive.display(),
            logs = logs.display(),
            base = base.display(),
            conf = conf.display(),
        ),
    )
    .unwrap();
    let clean_env = |cmd: &mut Command| {
        cmd.env_remove("FLINK_HOME").env_remove("JVM_ARGS");
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().to_ascii_uppercase().starts_with("FHS_") {
                cmd.env_remove(name);
            }
        }
    };

    // 1. The archive is made by one trial start with HA off.
    let mut make = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
    make.arg("make-cds-archive").arg("--config").arg(&config).arg("--timeout").arg("180s");
    clean_env(&mut make);
    let out = make.output().expect("run make-cds-archive");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "make-cds-archive failed: {text}");
    eprintln!("{}", text.trim());
    let size = std::fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1 << 20, "no archive at {} (size {size}): {text}", archive.display());
    assert!(!dir.join("state/jobmanager.jsa.partial").exists(), "the partial file is left");
    assert!(processes_mentioning(&dir.display().to_string()).is_empty(), "the trial JobManager is left running");
    let flink_nodes = zk.four_letter(0, "dump").unwrap_or_default();
    assert!(!flink_nodes.contains("/flink/cds"), "the trial JobManager used Flink's HA: {flink_nodes}");

    // 2. The daemon's JobManager starts with the archive, and the JVM maps it.
    let log_path = dir.join("supervisor.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
    run.arg("run")
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info,zookeeper_client=warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    clean_env(&mut run);
    let _daemon = KillOnDrop::spawn(run).expect("spawn the daemon");
    let records = || -> Vec<Value> {
        std::fs::read_to_string(&log_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    };
    let event = |name: &str| records().into_iter().find(|r| r["event"] == name);
    let ready =
        support::try_wait_for(Duration::from_secs(90), Duration::from_millis(100), || event("jobmanager_ready"))
            .unwrap_or_else(|| panic!("the JobManager did not become ready: {:?}", records()));
    let used = event("cds_archive_used").expect("no cds_archive_used record");
    assert_eq!(used["path"], archive.display().to_string());
    let pid = event("jobmanager_spawned").unwrap()["pid"].as_u64().unwrap();
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).replace('\0', " ");
    assert!(
        cmdline.contains(&format!("-XX:SharedArchiveFile={}", archive.display())),
        "the JobManager's java has no -XX:SharedArchiveFile: {cmdline}"
    );
    assert!(!cmdline.contains("ArchiveClassesAtExit"), "{cmdline}");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    assert!(maps.contains(&archive.display().to_string()), "the JVM did not map the archive (it rejected it)");
    eprintln!("the JobManager started with the archive mapped; ready after {} ms", ready["startup_ms"]);
}
