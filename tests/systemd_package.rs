//! The Debian package's unit under a real systemd: a container of `fhs-systemd:bookworm` (the
//! base with systemd as PID 1, docker/build-images --systemd) without network, the package
//! installed with apt, a ZooKeeper server on the container's loopback and the stand-in
//! JobManager. `systemctl start` returns once the daemon sent READY=1, `systemctl status` shows
//! its STATUS=, `systemctl stop` leaves no process of the unit behind, and exit code 2 (bad
//! configuration) is not restarted, `apt remove` stops a running daemon; the unit's sandbox (read-only root, writable state
//! directory, no capabilities) is in effect for the daemon.
//!
//! Not covered here: the watchdog killing a blocked main loop (tests/systemd.rs checks that the
//! pings stop, not systemd's kill), the handover to a standby on stop (one node only), the
//! journal as input of `audit`, and Flink's own logs under the unit's hardening.
//!
//! Needs a Docker engine that runs systemd in a container (--cgroupns=host, the cgroup file
//! system, CAP_SYS_ADMIN for the unit's sandbox; no --privileged); fails without it, naming the
//! fix. Like tests/debian_package.rs it
//! packages the debug binary `cargo test` built.

mod package;

use std::time::Instant;

use package::{boot_systemd, build_deb, file_name, show, start_zookeeper, wait_for, CONFIG, UNIT};

/// Ports on the container's own loopback (its network namespace has nothing else).
const ZK_PORT: u16 = 23610;
const JM_PORT: u16 = 23611;
const HTTP_PORT: u16 = 23612;

#[test]
fn systemd_runs_the_packaged_unit() {
    let t0 = Instant::now();
    let out = tempfile::tempdir().unwrap();
    let deb = build_deb(out.path(), &format!("{}-1", env!("CARGO_PKG_VERSION")));
    std::fs::copy(env!("CARGO_BIN_EXE_standin-jobmanager"), out.path().join("standin-jobmanager")).unwrap();
    let c = boot_systemd("systemd-package", out.path(), &[]);

    c.sh(&format!("cd /pkg && apt-get install -y ./{}", file_name(&deb)));
    c.sh("install -m 0755 /pkg/standin-jobmanager /usr/local/bin/");
    assert_eq!(c.sh(&format!("systemctl is-enabled {UNIT} || true")).trim(), "disabled");

    start_zookeeper(&c, ZK_PORT);

    c.sh(&format!(
        "cat >{CONFIG} <<'EOF'\n[node]\nid = \"c1\"\n[zookeeper]\nquorum = \"127.0.0.1:{ZK_PORT}\"\n\
         [jobmanager]\ncommand = [\"/usr/local/bin/standin-jobmanager\", \"--port\", \"{JM_PORT}\"]\n\
         ready_url = \"http://127.0.0.1:{JM_PORT}/overview\"\n[http]\nlisten = \"127.0.0.1:{HTTP_PORT}\"\nEOF"
    ));

    // Type=notify: `systemctl start` returns when the daemon sent READY=1 (a ZooKeeper session,
    // contending), and only then is the unit active; STATUS= came with it.
    let started = Instant::now();
    c.sh(&format!("systemctl start {UNIT}"));
    let start_took = started.elapsed();
    let state = show(&c, UNIT, &["ActiveState", "SubState", "NRestarts"]);
    assert_eq!(state, ["ActiveState=active", "SubState=running", "NRestarts=0"]);
    let status_text = show(&c, UNIT, &["StatusText"]).remove(0);
    assert!(status_text.len() > "StatusText=".len(), "no STATUS= right after READY=1: {status_text}");

    // The only node leads and its JobManager becomes ready: STATUS= says so, and so does
    // `systemctl status`.
    let leader_ready =
        format!("systemctl show -p StatusText --value {UNIT} | grep -Eq '^leader epoch [0-9]+, JobManager ready$'");
    wait_for(
        &c,
        &leader_ready,
        30,
        "STATUS= never said the JobManager is ready",
        &format!("systemctl status {UNIT} --no-pager"),
    );
    let status = c.sh(&format!("systemctl status {UNIT} --no-pager || true"));
    assert!(
        status.lines().any(|l| l.trim().starts_with("Status: \"leader epoch") && l.contains("JobManager ready")),
        "systemctl status does not show STATUS=:\n{status}"
    );
    // The unit's sandbox is in effect: the daemon (and the JobManager, its descendant) sees a
    // read-only root and a writable state directory, and holds no capability.
    let pid = show(&c, UNIT, &["MainPID"]).remove(0).trim_start_matches("MainPID=").to_string();
    let mounts = c.sh(&format!("awk '{{print $5, $6}}' /proc/{pid}/mountinfo"));
    let options = |point: &str| {
        mounts.lines().filter_map(|l| l.strip_prefix(&format!("{point} "))).next_back().map(str::to_string)
    };
    assert!(options("/").is_some_and(|o| o.starts_with("ro,")), "the root is not read-only for the daemon:\n{mounts}");
    assert!(
        options("/var/lib/flink-ha-supervisor").is_some_and(|o| o.starts_with("rw,")),
        "the state directory is not writable for the daemon:\n{mounts}"
    );
    assert_eq!(c.sh(&format!("grep ^CapEff: /proc/{pid}/status")).split_whitespace().nth(1), Some("0000000000000000"));
    let jobmanager = c.sh("pgrep -f '^/usr/local/bin/standin-jobmanager '").trim().to_string();
    assert!(!jobmanager.is_empty() && !jobmanager.contains('\n'), "not one JobManager: {jobmanager:?}");

    // Stop: the daemon stops its JobManager and exits in time (Result=timeout would mean
    // systemd had to SIGKILL); nothing of the unit is left.
    c.sh(&format!("systemctl stop {UNIT}"));
    assert_eq!(show(&c, UNIT, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
    let ps_unit =
        "ps -eo pid=,args= | grep -E '^ *[0-9]+ (/usr/bin/flink-ha-supervisor|/usr/local/bin/standin-jobmanager)'";
    let left = c.sh(&format!("{ps_unit} || true"));
    assert_eq!(left.trim(), "", "processes of the unit outlived systemctl stop");
    c.sh(&format!("! kill -0 {jobmanager} 2>/dev/null"));

    // Exit code 2 (bad configuration) is final: the unit fails without a scheduled restart
    // (SubState=failed, not auto-restart), and the journal names the key.
    c.sh("echo FHS_ZOOKEEPER__SESSION_TIMEOUT=banana >>/etc/default/flink-ha-supervisor");
    let (ok, _) = c.try_sh(&format!("systemctl start {UNIT}"));
    assert!(!ok, "systemctl start succeeded with a bad configuration");
    assert_eq!(
        show(&c, UNIT, &["ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts"]),
        ["ActiveState=failed", "SubState=failed", "Result=exit-code", "ExecMainStatus=2", "NRestarts=0"]
    );
    let journal = c.sh(&format!("journalctl -u {UNIT} -o cat --no-pager"));
    assert!(
        journal.contains("zookeeper.session_timeout (set by FHS_ZOOKEEPER__SESSION_TIMEOUT)"),
        "the journal does not name the bad key:\n{journal}"
    );

    // apt remove of a running daemon: the package's prerm stops the unit first.
    c.sh(&format!("sed -i '/banana/d' /etc/default/flink-ha-supervisor && systemctl reset-failed {UNIT}"));
    c.sh(&format!("systemctl start {UNIT}"));
    assert_eq!(show(&c, UNIT, &["ActiveState"]), ["ActiveState=active"]);
    c.sh("apt-get remove -y flink-ha-supervisor");
    assert_eq!(show(&c, UNIT, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
    let left = c.sh(&format!("{ps_unit} || true"));
    assert_eq!(left.trim(), "", "processes of the unit outlived apt remove");

    eprintln!("systemd_package: systemctl start took {start_took:.1?} (READY=1), whole test {:.1?}", t0.elapsed());
}
