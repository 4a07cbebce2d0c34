//! The real Flink 2.3 JobManager under the packaged unit's hardening: a container of
//! `fhs-systemd:bookworm` (systemd as PID 1, no network) with the host's Flink distribution
//! mounted read-only at /opt/flink (the environment file's `FLINK_HOME`), the package installed
//! with apt, a ZooKeeper server on the container's loopback, and a configuration with the default
//! `jobmanager.command` (Flink's `jobmanager.sh start-foreground`) and Flink's HA services on
//! (`[flink]`, the storage below /var/lib/flink, which the operator creates for the flink user).
//!
//! 1. `systemctl start`; once STATUS= says the JobManager is ready (Flink's own `/overview`
//!    answered), the sandbox has not broken it: Flink's log file under /var/log/flink
//!    (`LogsDirectory=`) belongs to flink and has Flink's start lines, Flink made its job result
//!    store in the HA storage (owned by flink), and the JobManager runs as flink, without
//!    capabilities, under a read-only root. `systemctl stop` stops it with SIGTERM (Flink's log
//!    says so), leaves no process of the unit and ends with `Result=success`.
//! 2. The same with `jobmanager.standby = "parked"` and the packaged gate jar
//!    (`jobmanager.gate_jar`'s default): the lone node parks a JobManager and releases it, as it
//!    leads; Flink's log has the gate's lines (parked, released), the JVM has the jar on its
//!    classpath, and it serves.
//!
//! `FLINK_HOME` must name the Flink 2.3 distribution on the host (`eval "$(scripts/install-test-deps)"`);
//! without it the test fails and says so. Needs Docker and the image of
//! `docker/build-images --base-only --systemd`, like tests/systemd_package.rs, and packages the
//! debug binary `cargo test` built. The start times are printed; run with `--nocapture`.
//!
//! A module of tests/systemd_package.rs, so that its containers run beside that file's
//! (`cargo test --test systemd_package flink::`).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::package::{
    boot_systemd, build_deb, file_name, mount_options, proc_status, show, start_zookeeper, wait_for, Container, CONFIG,
    UNIT,
};
use serde_json::Value;

/// ZooKeeper's port on the container's own loopback (its network namespace has nothing else).
const ZK_PORT: u16 = 23630;
/// The directory the operator creates for the flink user; the unit lets it be written
/// (`ReadWritePaths=-/var/lib/flink`).
const FLINK_DIR: &str = "/var/lib/flink";
/// Flink's HA storage (`flink.storage_dir`), below [`FLINK_DIR`].
const HA_DIR: &str = "/var/lib/flink/ha";
/// Flink's logs: `FLINK_LOG_DIR` of the environment file, made by the unit's `LogsDirectory=`.
const FLINK_LOGS: &str = "/var/log/flink";
/// The packaged gate jar, where `jobmanager.gate_jar` looks by default.
const GATE_JAR: &str = "/usr/share/flink-ha-supervisor/flink-ha-gate.jar";
/// The JobManager's main class, on its command line.
const ENTRYPOINT: &str = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint";
/// Longest wait, in seconds, from `systemctl start` to a ready JobManager. With the daemon's
/// resolution of the command line (helper JVMs) beside the first start, it took 23-34 s on an
/// idle two-core machine and 86 s on a loaded one; the daemon gives the JobManager
/// `jobmanager.start_timeout` (240 s) and restarts it after that.
const READY_WAIT: u32 = 300;

/// The host's Flink distribution; fails the test, naming the fix, when `FLINK_HOME` does not
/// name one.
fn host_flink() -> String {
    let home = std::env::var("FLINK_HOME").unwrap_or_default();
    assert!(
        !home.is_empty() && Path::new(&home).join("bin/jobmanager.sh").is_file(),
        "FLINK_HOME ({home:?}) does not name a Flink 2.3 distribution: run \
         eval \"$(scripts/install-test-deps)\" and export FLINK_HOME"
    );
    home
}

/// Writes the daemon's configuration: one node, the JobManager from `FLINK_HOME` (the default
/// command), Flink's HA services on with the storage in [`HA_DIR`], and `standby`.
fn write_config(c: &Container, standby: &str) {
    c.sh(&format!(
        "cat >{CONFIG} <<'EOF'\n[node]\nid = \"jm1\"\n[zookeeper]\nquorum = \"127.0.0.1:{ZK_PORT}\"\n\
         [jobmanager]\nrpc_address = \"127.0.0.1:6123\"\nstart_timeout = \"240s\"\nstandby = \"{standby}\"\n\
         [flink]\nenabled = true\nstorage_dir = \"file://{HA_DIR}\"\nEOF"
    ));
}

/// What a failed wait prints: the unit, the daemon's last records, the end of Flink's log.
fn describe() -> String {
    format!(
        "systemctl status {UNIT} --no-pager -n 0 || true; journalctl -u {UNIT} -o cat --no-pager | tail -n 30; \
         tail -n 40 {FLINK_LOGS}/*.log || true"
    )
}

/// Starts the unit and waits until STATUS= says its JobManager is ready, then for the daemon's
/// `jobmanager_spawned` record of this start (the `nth` since the container booted); returns the
/// JobManager's pid and the time from `systemctl start` to ready.
fn start_until_ready(c: &Container, nth: usize) -> (u32, Duration) {
    let started = Instant::now();
    c.sh(&format!("systemctl start {UNIT}"));
    wait_for(
        c,
        &format!("systemctl show -p StatusText --value {UNIT} | grep -Eq '^leader epoch [0-9]+, JobManager ready$'"),
        READY_WAIT,
        "STATUS= never said the JobManager is ready",
        &describe(),
    );
    let took = started.elapsed();
    let spawned = "\"event\":\"jobmanager_spawned\"";
    wait_for(
        c,
        &format!("[ \"$(journalctl -u {UNIT} -o cat --no-pager | grep -c '{spawned}')\" -ge {nth} ]"),
        10,
        "the journal has no jobmanager_spawned record of this start",
        &describe(),
    );
    let journal = c.sh(&format!("journalctl -u {UNIT} -o cat --no-pager"));
    let records: Vec<Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == "jobmanager_spawned")
        .collect();
    assert_eq!(records.len(), nth, "not {nth} jobmanager_spawned records:\n{journal}");
    let pid = records[nth - 1]["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
    (pid.unwrap_or_else(|| panic!("a jobmanager_spawned record without pid: {}", records[nth - 1])), took)
}

/// The JobManager `pid` is Flink's JVM and runs inside the unit's sandbox: as flink, without
/// capabilities, under a read-only root with writable log and Flink directories; returns its
/// command line.
fn assert_sandboxed(c: &Container, pid: u32) -> String {
    let cmdline = c.sh(&format!("tr '\\0' ' ' </proc/{pid}/cmdline"));
    assert_eq!(c.sh(&format!("cat /proc/{pid}/comm")).trim(), "java", "pid {pid} is not the JVM: {cmdline}");
    assert!(cmdline.contains(ENTRYPOINT), "pid {pid} is not Flink's JobManager: {cmdline}");
    assert_eq!(c.sh(&format!("ps -o user= -p {pid}")).trim(), "flink", "the JobManager does not run as flink");
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(proc_status(c, pid, key), "0000000000000000", "the JobManager has capabilities ({key})");
    }
    assert_eq!(proc_status(c, pid, "NoNewPrivs"), "1");
    let options = |point: &str| mount_options(c, pid, point).unwrap_or_default();
    assert!(options("/").starts_with("ro,"), "the root is not read-only for the JobManager: {}", options("/"));
    for point in [FLINK_LOGS, FLINK_DIR, "/var/lib/flink-ha-supervisor"] {
        assert!(options(point).starts_with("rw,"), "{point} is not writable for the JobManager: {}", options(point));
    }
    cmdline
}

/// The path of Flink's JobManager log under [`FLINK_LOGS`] (the one it writes now), after
/// checking that it belongs to flink.
fn flink_log(c: &Container) -> String {
    let logs = c.sh(&format!("ls {FLINK_LOGS}/flink-*-standalonesession-*.log"));
    let log = logs.trim().to_string();
    assert!(!log.is_empty() && !log.contains('\n'), "not one JobManager log in {FLINK_LOGS}: {logs:?}");
    assert_eq!(c.sh(&format!("stat -c %U:%G {log}")).trim(), "flink:flink", "{log} does not belong to flink");
    log
}

/// Asserts that `log` has every one of `lines` (substrings).
fn assert_log_has(c: &Container, log: &str, lines: &[&str]) {
    let text = c.sh(&format!("cat {log}"));
    for line in lines {
        assert!(text.contains(line), "{log} has no line with {line:?}; its end:\n{}", tail(&text));
    }
}

/// The last 40 lines of `text`.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// `systemctl stop`: the JobManager `pid` got SIGTERM (Flink's log says so) and is gone, no
/// process of the unit (all run as flink) is left, and the stop ended in time.
fn stop_and_check(c: &Container, pid: u32, log: &str) {
    c.sh(&format!("systemctl stop {UNIT}"));
    assert_eq!(show(c, UNIT, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
    let left = c.sh("pgrep -u flink -a || true");
    assert_eq!(left.trim(), "", "processes of the unit outlived systemctl stop");
    c.sh(&format!("! kill -0 {pid} 2>/dev/null"));
    assert_log_has(c, log, &["RECEIVED SIGNAL 15"]);
}

#[test]
fn the_real_jobmanager_runs_under_the_packaged_units_hardening() {
    let t0 = Instant::now();
    let flink = host_flink();
    let out = tempfile::tempdir().unwrap();
    let deb = build_deb(out.path(), &format!("{}-1", env!("CARGO_PKG_VERSION")));
    let c = boot_systemd("systemd-flink", out.path(), &["-v", &format!("{flink}:/opt/flink:ro")]);
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", file_name(&deb)));
    c.sh(&format!("install -d -o flink -g flink -m 0750 {FLINK_DIR}"));
    start_zookeeper(&c, ZK_PORT);

    // 1. A cold standby: the lone node leads and starts Flink's JobManager.
    write_config(&c, "cold");
    let (pid, cold_took) = start_until_ready(&c, 1);
    assert_sandboxed(&c, pid);
    let log = flink_log(&c);
    assert_log_has(&c, &log, &["Starting StandaloneSessionClusterEntrypoint", "Rest endpoint listening at"]);
    // Flink's job result store, which its Dispatcher reads at every start.
    let ha = c.sh(&format!("find {HA_DIR} -mindepth 1 -printf '%u:%g %p\\n'"));
    let store = format!(" {HA_DIR}/job-result-store/default");
    assert!(ha.lines().any(|l| l.ends_with(&store)), "no job result store in the HA storage:\n{ha}");
    assert!(ha.lines().all(|l| l.starts_with("flink:flink ")), "HA storage not owned by flink:\n{ha}");
    stop_and_check(&c, pid, &log);

    // 2. A parked standby with the packaged gate jar: the lone node parks a JobManager and, as
    // it leads, releases it.
    write_config(&c, "parked");
    let (pid, parked_took) = start_until_ready(&c, 2);
    let cmdline = assert_sandboxed(&c, pid);
    assert!(cmdline.contains(GATE_JAR), "the JobManager does not have the packaged gate jar: {cmdline}");
    let rendered = c.sh("cat /var/lib/flink-ha-supervisor/flink-conf/config.yaml");
    assert!(
        rendered.contains("high-availability.type: flinkha.gate.GatedHaServicesFactory\n"),
        "the rendered Flink configuration has no gate:\n{rendered}"
    );
    let log = flink_log(&c);
    assert_log_has(&c, &log, &["Parked at the gate", "Released by the fence guard", "Rest endpoint listening at"]);
    stop_and_check(&c, pid, &log);

    eprintln!(
        "systemd_package flink: systemctl start to JobManager ready {cold_took:.1?} (cold), {parked_took:.1?} (parked); \
         whole test {:.1?}",
        t0.elapsed()
    );
}
