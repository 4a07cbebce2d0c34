//! Direct launch (`jobmanager.launch = "direct"`) against the REAL Flink 2.3 distribution, through
//! `flink-ha-supervisor jobmanager-command`, which resolves the JobManager's command line exactly
//! as the daemon does (no ZooKeeper needed: Flink's HA is off in these configurations):
//!
//! 1. the resolved command line starts with a `java` binary and names Flink's session entrypoint;
//!    started directly, with the JobManager's environment and what the scripts export, it is a
//!    JobManager that answers `GET /overview` with 200, and the resolution itself started none;
//! 2. a changed input (`jobmanager.memory.process.size` in the Flink configuration) gives another
//!    fingerprint and a command line with the new heap size;
//! 3. a command that is not Flink's `jobmanager.sh` is run as configured, with the reason.
//!
//! Flink comes from `FLINK_HOME` or the cache of `scripts/install-test-deps`; without it the test
//! fails and says so.

mod flinkhost;
mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flinkhost::{flink_home, processes_mentioning, write_conf_dir};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::standin::http_get;
use support::{pick_free_port, try_wait_for};

/// How long a directly started JobManager may take to answer (4-8 s on an idle machine of this
/// kind; a loaded one is slower).
const READY_WAIT: Duration = Duration::from_secs(60);

fn daemon_bin() -> &'static str {
    env!("CARGO_BIN_EXE_flink-ha-supervisor")
}

/// A process group that is SIGKILLed when dropped.
struct Group(i32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.0), Signal::SIGKILL);
    }
}

/// Writes a daemon configuration running `command` with `FLINK_CONF_DIR` = `conf`.
fn write_config(dir: &Path, command: &[&str], conf: &Path) -> std::path::PathBuf {
    let path = dir.join("daemon.toml");
    let text = format!(
        "[zookeeper]\nquorum = \"127.0.0.1:1\"\n[jobmanager]\ncommand = {command:?}\nlaunch = \"direct\"\n\
         [jobmanager.env]\nFLINK_CONF_DIR = {conf:?}\nFLINK_LOG_DIR = {log:?}\n",
        conf = conf.display().to_string(),
        log = dir.join("log").display().to_string(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `jobmanager-command --config config` as JSON.
fn jobmanager_command(config: &Path) -> Value {
    let out = Command::new(daemon_bin()).args(["jobmanager-command", "--config"]).arg(config).output().unwrap();
    assert!(out.status.success(), "jobmanager-command failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("a list").iter().map(|v| v.as_str().expect("a string").to_string()).collect()
}

#[test]
fn the_resolved_command_line_starts_a_jobmanager_and_follows_its_inputs() {
    let flink = flink_home(&["bin/jobmanager.sh", "lib/flink-dist-2.3.0.jar"]);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf");
    let rest_port = pick_free_port();
    let rpc_port = pick_free_port();
    let flink_conf = |size: &str| {
        write_conf_dir(
            &flink,
            &conf,
            &["jobmanager", "rest"],
            "flink-ha-supervisor tests/launch.rs",
            &format!(
                "jobmanager.rpc.address: 127.0.0.1\njobmanager.rpc.port: {rpc_port}\njobmanager.bind-host: 127.0.0.1\n\
                 jobmanager.memory.process.size: {size}\nrest.address: 127.0.0.1\nrest.bind-address: 127.0.0.1\n\
                 rest.port: {rest_port}\n"
            ),
        )
    };
    flink_conf("768m");
    let script = flink.join("bin/jobmanager.sh").display().to_string();
    let config = write_config(dir.path(), &[&script, "start-foreground"], &conf);

    let resolved = jobmanager_command(&config);
    assert_eq!(resolved["launch"], "direct", "{resolved}");
    let argv = strings(&resolved["argv"]);
    let java = Path::new(&argv[0]);
    assert_eq!(java.file_name().and_then(|n| n.to_str()), Some("java"), "{argv:?}");
    assert!(java.is_absolute() && java.is_file(), "{argv:?}");
    assert!(
        argv.iter().any(|a| a == "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"),
        "{argv:?}"
    );
    assert!(!argv.iter().any(|a| a == "-version" || a.starts_with("-Dflinkha.launch")), "{argv:?}");
    let heap_768 = argv.iter().find(|a| a.starts_with("-Xmx")).cloned().expect("a heap size");
    // The resolution started no JobManager.
    assert!(processes_mentioning(&conf.display().to_string()).is_empty(), "a process of the resolution survived");
    assert!(http_get(&format!("127.0.0.1:{rest_port}"), "/overview", Duration::from_millis(500)).is_err());

    // Started directly, as the guard starts it.
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    for (k, v) in resolved["jobmanager_env"].as_object().unwrap().iter().chain(resolved["env"].as_object().unwrap()) {
        cmd.env(k, v.as_str().unwrap());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("start the resolved command line");
    let group = Group(child.id() as i32);
    let ready = try_wait_for(READY_WAIT, Duration::from_millis(50), || {
        matches!(http_get(&format!("127.0.0.1:{rest_port}"), "/overview", Duration::from_secs(1)), Ok((200, _)))
            .then(Instant::now)
    });
    let Some(ready) = ready else {
        panic!("the directly started JobManager did not answer /overview 200 within {READY_WAIT:?}");
    };
    eprintln!("direct launch: /overview 200 after {:.2}s", (ready - started).as_secs_f64());
    drop(group);
    child.wait().expect("reap the JobManager");

    // A changed input: another fingerprint and the new heap size.
    flink_conf("1024m");
    let again = jobmanager_command(&config);
    assert_eq!(again["launch"], "direct", "{again}");
    assert_ne!(again["fingerprint"], resolved["fingerprint"]);
    let heap_1024 = strings(&again["argv"]).into_iter().find(|a| a.starts_with("-Xmx")).expect("a heap size");
    assert_ne!(heap_768, heap_1024, "the heap did not follow jobmanager.memory.process.size");

    // Not Flink's script: run as configured.
    let other = write_config(dir.path(), &["/bin/sleep", "30"], &conf);
    let as_is = jobmanager_command(&other);
    assert_eq!(as_is["launch"], "as-configured");
    assert_eq!(strings(&as_is["argv"]), ["/bin/sleep", "30"]);
    assert!(as_is["why"].as_str().unwrap().contains("not Flink's"), "{as_is}");
}
