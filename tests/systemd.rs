//! systemd integration: the unit passes `systemd-analyze verify` and its timings agree with the
//! fencing rules; a real daemon talks to a real `NOTIFY_SOCKET` datagram socket (READY=1,
//! STATUS= with the role, WATCHDOG=1, STOPPING=1) against a real ZooKeeper; and the watchdog
//! pings stop while the main loop is blocked (the hidden `--fault-injection`), while the fence
//! guard stops the JobManager of the blocked loop on its own.

mod cluster;
mod support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster::{daemon_bin, mono_ns, mono_of, Cluster, Options};
use flink_ha_core::timing;
use nix::sys::signal::Signal;
use support::{wait_until, ZkEnsemble};

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/flink-ha-supervisor.service");
const ENV_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/flink-ha-supervisor.env");

/// `KEY=value` lines of the unit's sections (the last one wins, as in systemd).
fn directive(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_string())
        .next_back()
}

fn seconds(value: &str) -> Duration {
    humantime::parse_duration(value).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

fn systemd_analyze() -> PathBuf {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join("systemd-analyze"))
        .find(|p| p.is_file());
    found.expect("systemd-analyze is missing: run scripts/install-test-deps (Debian package `systemd`)")
}

/// Runs `systemd-analyze verify` on a copy of `unit_text` whose ExecStart runs the built binary
/// (verify checks that the program exists). Returns (success, every line it printed).
fn verify(unit_text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = unit_text
        .replace("ExecStart=/usr/local/bin/flink-ha-supervisor ", &format!("ExecStart={} ", daemon_bin().display()));
    assert_ne!(text, unit_text, "the unit's ExecStart is not /usr/local/bin/flink-ha-supervisor");
    let path = dir.path().join("flink-ha-supervisor.service");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(systemd_analyze())
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    let printed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), printed)
}

/// What verify printed about our unit (it may also talk about unrelated units of the host).
fn complaints(printed: &str) -> Vec<&str> {
    printed.lines().filter(|l| l.contains("flink-ha-supervisor")).collect()
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let (ok, printed) = verify(&unit);
    assert!(ok, "systemd-analyze verify failed:\n{printed}");
    assert!(complaints(&printed).is_empty(), "systemd-analyze verify complained:\n{printed}");

    // The check does catch a bad directive (verify only warns, with exit code 0).
    let (_, printed) = verify(&unit.replace("ProtectKernelTunables=yes", "ProtectKernelTunable=yes"));
    assert!(
        complaints(&printed).iter().any(|l| l.contains("ProtectKernelTunable")),
        "a misspelt directive went unnoticed:\n{printed}"
    );
}

#[test]
fn the_unit_s_timings_agree_with_the_default_configuration() {
    let unit = std::fs::read_to_string(UNIT).unwrap();
    let get = |key: &str| directive(&unit, key).unwrap_or_else(|| panic!("{key}= missing from the unit"));
    assert_eq!(get("Type"), "notify");
    assert_eq!(get("NotifyAccess"), "main");
    assert_eq!(get("KillMode"), "mixed");
    assert_eq!(get("Restart"), "on-failure");
    assert_eq!(get("RestartPreventExitStatus"), "2", "bad configuration (exit 2) must not restart");
    assert_eq!(get("User"), "flink");
    assert_eq!(get("EnvironmentFile"), "-/etc/default/flink-ha-supervisor");
    assert_eq!(
        get("ExecStart"),
        "/usr/local/bin/flink-ha-supervisor run --config /etc/flink-ha-supervisor/flink-ha-supervisor.toml"
    );
    for hardening in ["NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelTunables"] {
        assert_eq!(get(hardening), "yes", "{hardening}");
    }
    assert_eq!(get("ProtectSystem"), "strict");
    assert!(directive(&unit, "MemoryDenyWriteExecute").is_none(), "a JVM's JIT needs W+X memory");

    // The defaults the comments in the unit compute with.
    let defaults = load_defaults();
    let (session, grace) = (defaults.zookeeper.session_timeout, defaults.jobmanager.stop_grace);
    let watchdog = seconds(&get("WatchdogSec"));
    assert!(watchdog > Duration::ZERO);
    assert!(
        watchdog <= timing::max_watchdog(session, grace, defaults.zookeeper.tick_time),
        "WatchdogSec={watchdog:?} would kill a stuck daemon too late for a {session:?} session and a {grace:?} grace"
    );
    assert!(watchdog < session);
    // Shutdown: the JobManager's grace (+ 2 s guard slack), the leader record (2 s), the
    // session's close (3 s) and the last on_standby hook.
    let stop = seconds(&get("TimeoutStopSec"));
    let needed = grace + Duration::from_secs(2 + 2 + 3) + defaults.hooks.timeout;
    assert!(stop >= needed, "TimeoutStopSec={stop:?} < {needed:?}");
}

/// The settings with every default, as `run` would load them.
fn load_defaults() -> flink_ha_supervisor::config::Settings {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[zookeeper]\nquorum = \"zk1:2181\"\n[jobmanager]\ncommand = [\"/bin/true\"]\n").unwrap();
    flink_ha_supervisor::config::Settings::load_with_env(&path, []).expect("defaults load").0
}

#[test]
fn the_unit_s_hardening_scores_ok_in_systemd_analyze_security() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flink-ha-supervisor.service");
    std::fs::copy(UNIT, &path).unwrap();
    let out = Command::new(systemd_analyze())
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .env("SYSTEMD_COLORS", "0")
        .output()
        .expect("run systemd-analyze security");
    let printed = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = printed.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("{printed}"));
    let score: f64 = line
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no score in {line:?}"));
    eprintln!("{line}");
    // systemd calls 0-4.9 "OK" (or better); an unhardened service scores 9.6.
    assert!(score < 5.0, "{line}");
}

#[test]
fn the_example_environment_file_holds_plain_assignments() {
    let text = std::fs::read_to_string(ENV_FILE).unwrap();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, _) = line.split_once('=').unwrap_or_else(|| panic!("not NAME=value: {line:?}"));
        assert!(!name.starts_with("export "), "{line:?}: systemd does not understand `export`");
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{line:?}");
    }
    assert!(text.contains("FLINK_HOME="));
}

/// A `NOTIFY_SOCKET` as systemd makes it: a datagram socket; every message is recorded with the
/// time it arrived.
struct NotifySocket {
    _dir: tempfile::TempDir,
    path: PathBuf,
    messages: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl NotifySocket {
    fn bind() -> NotifySocket {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let now = Instant::now();
                let mut sink = sink.lock().unwrap();
                // One datagram may carry several assignments, one a line.
                sink.extend(text.lines().map(|l| (now, l.to_string())));
            }
        });
        NotifySocket { _dir: dir, path, messages }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.messages.lock().unwrap().clone()
    }

    fn lines(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, l)| l).collect()
    }

    fn pings_between(&self, from: Instant, to: Instant) -> Vec<Instant> {
        self.all().into_iter().filter(|(t, l)| l == "WATCHDOG=1" && *t > from && *t < to).map(|(t, _)| t).collect()
    }

    fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.lines().iter().any(|l| cond(l)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no {what} on NOTIFY_SOCKET within {timeout:?}; got {:?}", self.lines());
    }
}

fn single_zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

#[test]
fn a_daemon_reports_readiness_role_and_watchdog_and_stops_pinging_while_its_loop_is_blocked() {
    let zk = single_zk();
    // 6 s sessions, a 500 ms grace and ZooKeeper's default tickTime (2 s): the guard's lease
    // runs out 2.9 s after the last answer.
    let options = Options::default();
    let fence_after =
        timing::fence_after(options.session_timeout, options.stop_grace, timing::DEFAULT_TICK_TIME).unwrap();
    let mut cluster = Cluster::new(2, options, |_| zk.connect_string());
    cluster.start_leader();

    // jm2 runs "under systemd": a notify socket, a 1 s watchdog (pings every 250 ms), and the
    // fault injection that blocks its main loop for 6 s on SIGUSR2.
    let block = Duration::from_secs(6);
    let notify = NotifySocket::bind();
    let socket = notify.path().to_path_buf();
    cluster.start_with(1, |cmd| {
        cmd.env("NOTIFY_SOCKET", &socket)
            .env("WATCHDOG_USEC", "1000000")
            .arg("--fault-injection")
            .arg(format!("{}ms", block.as_millis()));
    });
    notify.wait_for("READY=1", Duration::from_secs(10), |l| l == "READY=1");
    notify.wait_for("STATUS=standby", Duration::from_secs(5), |l| l == "STATUS=standby");
    // Pings are periodic while the loop turns, even when nothing else happens.
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    let pings = notify.pings_between(t, Instant::now());
    assert!(pings.len() >= 4, "{} pings in 1.5 s with a 1 s watchdog: {:?}", pings.len(), notify.lines());

    // jm1 hands over: jm2 leads and says so.
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_for_exit_code(0), Some(0));
    notify.wait_for("STATUS=leader ..., JobManager ready", Duration::from_secs(15), |l| {
        l.starts_with("STATUS=leader epoch ") && l.ends_with(", JobManager ready")
    });
    assert!(notify.lines().iter().any(|l| l.starts_with("STATUS=leader epoch ") && l.ends_with("JobManager starting")));
    assert_eq!(cluster.serving_daemons(), vec![1]);

    // Block jm2's main loop.
    let blocked_at = Instant::now();
    let blocked_mono = mono_ns();
    cluster.signal(1, Signal::SIGUSR2);
    // The fence guard stops the JobManager when the lease runs out, while the loop is blocked.
    wait_until(block, Duration::from_millis(20), || {
        cluster.standin_events("term").iter().any(|e| e["name"] == "jm2" && mono_of(e) > blocked_mono)
    });
    let term = cluster.standin_events("term").into_iter().find(|e| e["name"] == "jm2").unwrap();
    let fenced_after = (mono_of(&term) - blocked_mono) as f64 / 1e9;
    eprintln!(
        "blocked loop: the guard stopped the JobManager {fenced_after:.2}s after the block (fence {fence_after:?})"
    );
    assert!(fenced_after <= (fence_after + Duration::from_secs(1)).as_secs_f64(), "{fenced_after}");
    // The daemon's other tasks still run: it logs what the guard reports while the loop is
    // still blocked.
    wait_until(block.saturating_sub(blocked_at.elapsed()), Duration::from_millis(20), || {
        !cluster.events(1, "guard_lease_expired").is_empty()
    });
    // The daemon is alive all along, yet it sends no ping while its loop is blocked.
    while blocked_at.elapsed() < block {
        let p = cluster.daemons[1].process.as_mut().unwrap();
        assert!(p.child().try_wait().unwrap().is_none(), "the daemon died");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ... and pings again once it runs. The silence is the longest gap between two pings; it
    // began when the signal arrived (give or take scheduling) and lasted as long as the block.
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        notify.pings_between(blocked_at + block - Duration::from_millis(500), Instant::now()).len() >= 4
    });
    let pings = notify.pings_between(blocked_at - Duration::from_secs(1), Instant::now());
    let (gap_start, gap) =
        pings.windows(2).map(|w| (w[0], w[1] - w[0])).max_by_key(|(_, gap)| *gap).expect("pings around the block");
    eprintln!(
        "watchdog: no ping for {:.2}s, from {:.2}s after SIGUSR2 (block {block:?}, pings every 250ms otherwise)",
        gap.as_secs_f64(),
        gap_start.saturating_duration_since(blocked_at).as_secs_f64()
    );
    assert!(gap >= block - Duration::from_millis(500), "pings went on during the block: longest gap {gap:?}");
    assert!(gap_start <= blocked_at + Duration::from_secs(1), "the silence began late");
    assert!(gap <= block + Duration::from_secs(2), "pings resumed late: {gap:?}");
    // The session outlived the block (its heartbeat is another task): still the leader, it runs
    // its JobManager again.
    wait_until(Duration::from_secs(15), Duration::from_millis(50), || cluster.serving(1));
    cluster.assert_never_two_jobmanagers();

    // Shutdown: STOPPING=1.
    cluster.signal(1, Signal::SIGTERM);
    assert_eq!(cluster.wait_for_exit_code(1), Some(0));
    // Sent before the exit, but this test's receiving thread may not have read it yet.
    notify.wait_for("STOPPING=1", Duration::from_secs(5), |l| l == "STOPPING=1");
    let lines = notify.lines();
    eprintln!("notify messages but the pings: {:?}", lines.iter().filter(|l| *l != "WATCHDOG=1").collect::<Vec<_>>());
    let ready = lines.iter().filter(|l| *l == "READY=1").count();
    assert_eq!(ready, 1, "READY=1 exactly once: {lines:?}");
}

#[test]
fn without_notify_socket_the_daemon_runs_as_before() {
    // No NOTIFY_SOCKET: nothing is sent anywhere and nothing fails (the other tests run every
    // daemon this way); with one that nobody listens on, a warning, and the daemon still works.
    let zk = single_zk();
    let mut cluster = Cluster::new(1, Options::default(), |_| zk.connect_string());
    let gone = cluster.path().join("nobody-listens.sock");
    cluster.start_with(0, |cmd| {
        cmd.env("NOTIFY_SOCKET", &gone).env("WATCHDOG_USEC", "1000000");
    });
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), None), 0, "{}", cluster.dump());
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || {
        let log = std::fs::read_to_string(&cluster.daemons[0].log).unwrap_or_default();
        log.contains("cannot write to systemd's notification socket")
    });
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_for_exit_code(0), Some(0));
}

trait WaitExit {
    fn wait_for_exit_code(&mut self, i: usize) -> Option<i32>;
}

impl WaitExit for Cluster {
    fn wait_for_exit_code(&mut self, i: usize) -> Option<i32> {
        self.wait_exit(i, Duration::from_secs(20))
    }
}
