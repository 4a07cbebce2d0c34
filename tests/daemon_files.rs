//! The files a real daemon writes (real ZooKeeper, stand-in JobManager): the audit file, the
//! JobManager's log file and the rendered Flink configuration get mode 0640 or tighter whatever
//! the umask; an audit file on a full device (`/dev/full`) costs records, counted and logged
//! once, but never the daemon's work.

mod cluster;
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::Duration;

use cluster::{Cluster, Options};
use support::{wait_for, ZkEnsemble};

const POLL: Duration = Duration::from_millis(50);

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

#[test]
fn files_the_daemon_creates_are_0640_or_tighter_under_umask_000() {
    let zk = ZkEnsemble::start(1);
    let files = tempfile::tempdir().unwrap();
    let base = files.path().join("flink-conf");
    std::fs::create_dir(&base).unwrap();
    std::fs::write(base.join("config.yaml"), "parallelism.default: 2\n").unwrap();
    let log4j = base.join("log4j-console.properties");
    std::fs::write(&log4j, "rootLogger.level = INFO\n").unwrap();
    std::fs::set_permissions(&log4j, std::fs::Permissions::from_mode(0o666)).unwrap();
    let conf = files.path().join("rendered");
    let audit = files.path().join("audit.jsonl");
    let jm_log = files.path().join("jobmanager.log");
    let options = Options {
        extra_toml: format!(
            "[log]\naudit_file = {audit:?}\n[flink]\nenabled = true\nstorage_dir = \"file:///tmp/ha\"\nbase_config = {:?}\nconf_dir = {conf:?}\n",
            base.join("config.yaml"),
        ),
        ..Options::default()
    };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    let jm_log_var = jm_log.display().to_string();
    cluster.start_with(0, |cmd| {
        cmd.env("FHS_JOBMANAGER__LOG_FILE", &jm_log_var);
        // SAFETY: umask is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                nix::libc::umask(0);
                Ok(())
            });
        }
    });
    cluster.wait_ready_reported(0, 1, Duration::from_secs(30));

    for file in [audit.clone(), jm_log.clone(), conf.join("config.yaml"), conf.join("log4j-console.properties")] {
        let m = mode(&file);
        assert_eq!(m & !0o640, 0, "{} has mode {m:o}\n{}", file.display(), cluster.dump());
        assert_eq!(m & 0o600, 0o600, "{} has mode {m:o}", file.display());
    }
    // The files are the ones in use.
    assert!(std::fs::read_to_string(&audit).unwrap().contains("\"event\":\"jobmanager_ready\""));
    assert!(std::fs::read_to_string(conf.join("config.yaml")).unwrap().contains("high-availability.type: zookeeper"));
}

#[test]
fn an_audit_file_on_a_full_device_is_counted_logged_once_and_holds_nothing_up() {
    let zk = ZkEnsemble::start(1);
    let options = Options { extra_toml: "[log]\naudit_file = \"/dev/full\"\n".into(), ..Options::default() };
    let mut cluster = Cluster::new(1, options, |_| zk.connect_string());
    cluster.start(0);
    // The daemon leads and runs its JobManager as ever.
    cluster.wait_ready_reported(0, 1, Duration::from_secs(30));
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(10), None), 0);

    // Every audit record so far failed (joined, session_started, elected, spawned, ready, ...).
    let failures = wait_for(Duration::from_secs(10), POLL, || {
        let (_, text) = cluster.http_get(0, "/metrics").ok()?;
        let value = text
            .lines()
            .find_map(|l| l.strip_prefix("flink_ha_supervisor_audit_write_failures_total "))?
            .parse::<u64>()
            .ok()?;
        (value >= 5).then_some(value)
    });
    // Logged once, on stdout, with the file and the error.
    let logged = cluster.events(0, "audit_write_failed");
    assert_eq!(logged.len(), 1, "{failures} failures, logged: {logged:?}\n{}", cluster.dump());
    assert_eq!(logged[0]["level"], "ERROR");
    assert_eq!(logged[0]["file"], "/dev/full");
    assert!(logged[0]["error"].as_str().unwrap().contains("No space left on device"), "{}", logged[0]);
}
