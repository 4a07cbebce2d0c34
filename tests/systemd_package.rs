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

use package::{build_deb, file_name, require_docker_image, Container};

const IMAGE: &str = "fhs-systemd:bookworm";
const UNIT: &str = "flink-ha-supervisor";
const CONFIG: &str = "/etc/flink-ha-supervisor/flink-ha-supervisor.toml";
/// Ports on the container's own loopback (its network namespace has nothing else).
const ZK_PORT: u16 = 23610;
const JM_PORT: u16 = 23611;
const HTTP_PORT: u16 = 23612;

/// `systemctl show` properties of the unit, as `KEY=value` lines in the order asked.
fn show(c: &Container, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| c.sh(&format!("systemctl show -p {k} {UNIT}")).trim().to_string()).collect()
}

/// Waits in the container, up to `seconds`, until `condition` (a shell command) succeeds; fails
/// the test with `what` and the output of `describe` when it does not.
fn wait_for(c: &Container, condition: &str, seconds: u32, what: &str, describe: &str) {
    let script =
        format!("for i in $(seq {}); do if {condition}; then exit 0; fi; sleep 0.1; done; exit 1", seconds * 10);
    let (ok, _) = c.try_sh(&script);
    if !ok {
        let (_, state) = c.try_sh(describe);
        panic!("{what} within {seconds}s; state:\n{state}");
    }
}

#[test]
fn systemd_runs_the_packaged_unit() {
    let t0 = Instant::now();
    require_docker_image(IMAGE, "build it with docker/build-images --base-only --systemd");
    let out = tempfile::tempdir().unwrap();
    let deb = build_deb(out.path(), &format!("{}-1", env!("CARGO_PKG_VERSION")));
    std::fs::copy(env!("CARGO_BIN_EXE_standin-jobmanager"), out.path().join("standin-jobmanager")).unwrap();

    let c = Container::start(
        IMAGE,
        "systemd-package",
        out.path(),
        &[
            // CAP_SYS_ADMIN (and no seccomp or AppArmor profile) for the unit's mount
            // namespace: without them systemd skips ProtectSystem= and the like silently.
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "--cgroupns=host",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
        ],
        &[],
    );
    // Waits for systemd's socket, then for the end of its start-up (running, or degraded when
    // some unit failed).
    wait_for(&c, "test -S /run/systemd/private", 30, "systemd did not open its socket", "ps -ef");
    let (_, state) = c.try_sh("systemctl is-system-running --wait");
    assert!(
        matches!(state.trim(), "running" | "degraded"),
        "systemd did not come up in the container ({}); the Docker engine must let it run with \
         --cgroupns=host and /sys/fs/cgroup mounted",
        state.trim()
    );

    c.sh(&format!("cd /pkg && apt-get install -y ./{}", file_name(&deb)));
    c.sh("install -m 0755 /pkg/standin-jobmanager /usr/local/bin/");
    assert_eq!(c.sh(&format!("systemctl is-enabled {UNIT} || true")).trim(), "disabled");

    // A ZooKeeper server from the base's ZooKeeper, as a transient unit.
    c.sh(&format!(
        "mkdir -p /var/lib/fhs-zk && printf 'tickTime=2000\\ndataDir=/var/lib/fhs-zk\\nclientPort={ZK_PORT}\\n\
         clientPortAddress=127.0.0.1\\nadmin.enableServer=false\\n4lw.commands.whitelist=ruok\\n' >/etc/fhs-zk.cfg && \
         systemd-run --unit fhs-zk java -Xmx128m -XX:TieredStopAtLevel=1 \
         -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar \
         org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/fhs-zk.cfg"
    ));
    wait_for(
        &c,
        &format!("[ \"$( (exec 3<>/dev/tcp/127.0.0.1/{ZK_PORT}; echo ruok >&3; cat <&3) 2>/dev/null)\" = imok ]"),
        60,
        "ZooKeeper did not answer ruok",
        "systemctl status fhs-zk --no-pager",
    );

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
    let state = show(&c, &["ActiveState", "SubState", "NRestarts"]);
    assert_eq!(state, ["ActiveState=active", "SubState=running", "NRestarts=0"]);
    let status_text = show(&c, &["StatusText"]).remove(0);
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
    let pid = show(&c, &["MainPID"]).remove(0).trim_start_matches("MainPID=").to_string();
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
    assert_eq!(show(&c, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
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
        show(&c, &["ActiveState", "SubState", "Result", "ExecMainStatus", "NRestarts"]),
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
    assert_eq!(show(&c, &["ActiveState"]), ["ActiveState=active"]);
    c.sh("apt-get remove -y flink-ha-supervisor");
    assert_eq!(show(&c, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
    let left = c.sh(&format!("{ps_unit} || true"));
    assert_eq!(left.trim(), "", "processes of the unit outlived apt remove");

    eprintln!("systemd_package: systemctl start took {start_took:.1?} (READY=1), whole test {:.1?}", t0.elapsed());
}
