//! The Debian package's unit under a real systemd: a container of `fhs-systemd:bookworm` (the
//! base with systemd as PID 1, docker/build-images --systemd) without network, the package
//! installed with apt, a ZooKeeper server on the container's loopback and the stand-in
//! JobManager.
//!
//! One node (`systemd_runs_the_packaged_unit`): `systemctl start` returns once the daemon sent
//! READY=1, `systemctl status` shows its STATUS=, `systemctl stop` leaves no process of the unit
//! behind, exit code 2 (bad configuration) is not restarted, `apt remove` stops a running daemon;
//! the unit's sandbox (read-only root, writable state directory, no capabilities) is in effect
//! for the daemon.
//!
//! Two nodes (`two_units_fail_over_by_watchdog_stop_and_upgrade`): the packaged unit and a copy
//! of it with its own configuration on the same container, their JobManagers sharing a lock that
//! records any overlap. systemd's watchdog kills a leader whose main loop is blocked (a drop-in
//! adds the hidden `--fault-injection`) and restarts it; its JobManager is gone within the session
//! timeout of the block and before its old election node leaves ZooKeeper, and the restarted
//! daemon leads again. `systemctl stop` of the leader hands over to the standby (a resignation,
//! no session expiry) and leaves nothing of the unit. An upgrade to a second build of the package
//! restarts the running daemon on the new binary, keeps the edited configuration, and the
//! standby takes over from the upgraded leader. `journalctl -o json` of both units piped into
//! `flink-ha-supervisor audit -` reports exactly these failovers and no overlap.
//!
//! Not covered here: Flink's own JobManager and its logs under the unit's hardening
//! (its module tests/systemd/flink.rs), hooks under the sandbox (a drop-in granting CAP_NET_ADMIN), and
//! nodes on separate hosts (both units here share the host's state directory and clock).
//!
//! Needs a Docker engine that runs systemd in a container (--cgroupns=host, the cgroup file
//! system, CAP_SYS_ADMIN for the unit's sandbox; no --privileged); fails without it, naming the
//! fix. Like tests/debian_package.rs it packages the debug binary `cargo test` built.

mod package;
// The real Flink JobManager under the unit's hardening: its own test, in this binary so that
// the containers of both run at once.
#[path = "systemd/flink.rs"]
mod flink;

use std::time::Instant;

use package::{
    boot_systemd, build_deb, file_name, mount_options, proc_status, show, start_zookeeper, wait_for, Container, CONFIG,
    UNIT,
};
use serde_json::Value;

/// Ports on the container's own loopback (its network namespace has nothing else).
const ZK_PORT: u16 = 23610;
const JM_PORT: u16 = 23611;
const HTTP_PORT: u16 = 23612;
/// The second node's JobManager and `/status`.
const JM_PORT_B: u16 = 23613;
const HTTP_PORT_B: u16 = 23614;

/// The second node: a copy of the installed unit that reads [`CONFIG_B`].
const UNIT_B: &str = "flink-ha-supervisor-b";
const CONFIG_B: &str = "/etc/flink-ha-supervisor/b.toml";

/// What every stand-in JobManager of a container records (start, stop, overlap), and the lock
/// they all take: a second one running at the same time records `overlap`.
const STANDIN_EVENTS: &str = "/var/lib/flink-ha-supervisor/standin-events.jsonl";
const STANDIN_LOCK: &str = "/var/lib/flink-ha-supervisor/standin.lock";

/// Writes node `id`'s configuration to `path`, readable by the unit's group only as the package
/// has it: ZooKeeper on the loopback, the stand-in JobManager on `jm_port`, `/status` on
/// `http_port`.
fn write_config(c: &Container, path: &str, id: &str, jm_port: u16, http_port: u16) {
    c.sh(&format!(
        "cat >{path} <<'EOF'\n[node]\nid = \"{id}\"\n[zookeeper]\nquorum = \"127.0.0.1:{ZK_PORT}\"\n\
         [jobmanager]\ncommand = [\"/usr/local/bin/standin-jobmanager\", \"--port\", \"{jm_port}\", \"--name\", \"{id}\", \
         \"--events\", \"{STANDIN_EVENTS}\", \"--exclusive\", \"{STANDIN_LOCK}\"]\n\
         ready_url = \"http://127.0.0.1:{jm_port}/overview\"\n[http]\nlisten = \"127.0.0.1:{http_port}\"\nEOF\n\
         chgrp flink {path} && chmod 0640 {path}"
    ));
}

/// A `systemctl show` property's value.
fn value(c: &Container, unit: &str, key: &str) -> String {
    c.sh(&format!("systemctl show -p {key} --value {unit}")).trim().to_string()
}

/// Waits until `unit`'s STATUS= says it leads with its JobManager ready, in an epoch newer than
/// `newer_than`; that epoch.
fn wait_leading(c: &Container, unit: &str, newer_than: Option<u64>) -> u64 {
    let newer = newer_than.map(|e| format!(" && [ \"${{BASH_REMATCH[1]}}\" -gt {e} ]")).unwrap_or_default();
    let re = "^leader epoch ([0-9]+), JobManager ready$";
    wait_for(
        c,
        &format!("{{ re='{re}'; [[ \"$(systemctl show -p StatusText --value {unit})\" =~ $re ]]{newer}; }}"),
        90,
        &format!("{unit} did not lead (epoch > {newer_than:?}) with its JobManager ready"),
        &format!("systemctl status {unit} --no-pager; journalctl -u {unit} -o cat --no-pager | tail -40"),
    );
    let status = value(c, unit, "StatusText");
    let epoch = status.strip_prefix("leader epoch ").and_then(|r| r.split(',').next()).and_then(|e| e.parse().ok());
    epoch.unwrap_or_else(|| panic!("{unit}: no epoch in STATUS={status:?}"))
}

/// Waits until `unit`'s STATUS= says standby.
fn wait_standby(c: &Container, unit: &str) {
    wait_for(
        c,
        &format!("[ \"$(systemctl show -p StatusText --value {unit})\" = standby ]"),
        60,
        &format!("{unit} did not become the standby"),
        &format!("systemctl status {unit} --no-pager"),
    );
}

/// The pid of the one stand-in JobManager listening on `port`.
fn jobmanager_pid(c: &Container, port: u16) -> u32 {
    let pids = c.sh(&format!("pgrep -f '^/usr/local/bin/standin-jobmanager --port {port} ' || true"));
    let pids: Vec<u32> = pids.split_whitespace().filter_map(|p| p.parse().ok()).collect();
    assert_eq!(pids.len(), 1, "not one JobManager on port {port}: {pids:?}");
    pids[0]
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> String {
    format!("ps -o stat= -p {pid} | grep -qv '^Z'")
}

/// The pids of the processes in the control group `cgroup` (a unit's `ControlGroup`), one a
/// line, by `/proc/<pid>/cgroup` (cgroup v1 or v2 alike).
fn processes_in(c: &Container, cgroup: &str) -> String {
    let script = format!(
        "for f in /proc/[0-9]*/cgroup; do if grep -q -- ':{cgroup}$' \"$f\" 2>/dev/null; then \
         f=${{f#/proc/}}; echo \"${{f%/cgroup}}\"; fi; done"
    );
    c.sh(&script).trim().to_string()
}

/// The executable `/proc/<pid>/exe` names, read as the unit's user (root in the container lacks
/// CAP_SYS_PTRACE for another user's process): ` (deleted)` follows a replaced file.
fn exe(c: &Container, pid: &str) -> String {
    c.sh(&format!("setpriv --reuid=flink --regid=flink --clear-groups readlink /proc/{pid}/exe")).trim().to_string()
}

/// The audit records (docs/audit-events.md) `unit` wrote to the journal, in order.
fn audit_records(c: &Container, unit: &str) -> Vec<Value> {
    let journal = c.sh(&format!("journalctl -u {unit} -o cat --no-pager"));
    journal.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(|r| r["target"] == "audit").collect()
}

/// The records of `event` among `records`.
fn of<'a>(records: &'a [Value], event: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["event"] == event).collect()
}

/// Waits until the journal of `unit` holds `count` audit records of `event`; they are logged a
/// moment after what systemd shows (STATUS=, the end of `systemctl stop`).
fn wait_for_records(c: &Container, unit: &str, event: &str, count: usize) {
    wait_for(
        c,
        &format!(
            "[ \"$(journalctl -u {unit} -o cat --no-pager | grep -F '\"target\":\"audit\"' | \
             grep -cF '\"event\":\"{event}\"')\" -ge {count} ]"
        ),
        30,
        &format!("{unit} did not log {count} {event} records"),
        &format!("journalctl -u {unit} -o cat --no-pager | grep -F '\"target\":\"audit\"'"),
    );
}

/// A failover as `audit` or the daemon's record has it: (previous node, new node, cause).
fn move_of(f: &Value) -> (String, String, String) {
    let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
    (text("previous_node"), text("node"), text("cause"))
}

/// The tuple [`move_of`] returns.
fn expected(from: &str, to: &str, cause: &str) -> (String, String, String) {
    (from.into(), to.into(), cause.into())
}

/// A number field of a record.
fn number(r: &Value, key: &str) -> u64 {
    r[key].as_u64().unwrap_or_else(|| panic!("no number {key} in {r}"))
}

/// Builds the package of the test binary as `<version>-<revision>` for each of `revisions` into
/// a temporary directory, boots a container of `tag` with that directory at /pkg, installs the
/// first package and the stand-in JobManager (/usr/local/bin), and starts ZooKeeper on
/// [`ZK_PORT`]. The directory (keep it while the container runs), the packages' file names, the
/// container.
fn prepare(tag: &str, revisions: &[u32]) -> (tempfile::TempDir, Vec<String>, Container) {
    let out = tempfile::tempdir().unwrap();
    let debs: Vec<String> = revisions
        .iter()
        .map(|r| file_name(&build_deb(out.path(), &format!("{}-{r}", env!("CARGO_PKG_VERSION")))))
        .collect();
    std::fs::copy(env!("CARGO_BIN_EXE_standin-jobmanager"), out.path().join("standin-jobmanager")).unwrap();
    let c = boot_systemd(tag, out.path(), &[]);
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", debs[0]));
    c.sh("install -m 0755 /pkg/standin-jobmanager /usr/local/bin/");
    start_zookeeper(&c, ZK_PORT);
    (out, debs, c)
}

#[test]
fn systemd_runs_the_packaged_unit() {
    let t0 = Instant::now();
    let (_out, _, c) = prepare("systemd-package", &[1]);
    assert_eq!(c.sh(&format!("systemctl is-enabled {UNIT} || true")).trim(), "disabled");
    write_config(&c, CONFIG, "c1", JM_PORT, HTTP_PORT);

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
    wait_leading(&c, UNIT, None);
    let status = c.sh(&format!("systemctl status {UNIT} --no-pager || true"));
    assert!(
        status.lines().any(|l| l.trim().starts_with("Status: \"leader epoch") && l.contains("JobManager ready")),
        "systemctl status does not show STATUS=:\n{status}"
    );
    // The unit's sandbox is in effect: the daemon (and the JobManager, its descendant) sees a
    // read-only root and a writable state directory, and holds no capability.
    let pid: u32 = value(&c, UNIT, "MainPID").parse().expect("MainPID");
    let options = |point: &str| mount_options(&c, pid, point).unwrap_or_default();
    assert!(options("/").starts_with("ro,"), "the root is not read-only for the daemon: {}", options("/"));
    let state = options("/var/lib/flink-ha-supervisor");
    assert!(state.starts_with("rw,"), "the state directory is not writable for the daemon: {state}");
    assert_eq!(proc_status(&c, pid, "CapEff"), "0000000000000000");
    let jobmanager = jobmanager_pid(&c, JM_PORT);

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

#[test]
fn two_units_fail_over_by_watchdog_stop_and_upgrade() {
    let t0 = Instant::now();
    let (_out, debs, c) = prepare("systemd-failover", &[1, 2]);
    write_config(&c, CONFIG, "jm-a", JM_PORT, HTTP_PORT);
    write_config(&c, CONFIG_B, "jm-b", JM_PORT_B, HTTP_PORT_B);
    // Node a: the packaged unit, its command extended by a drop-in with the fault injection
    // (SIGUSR2 blocks its main loop for 30 s). Node b: a copy of the installed unit that reads
    // its own configuration.
    c.sh(&format!(
        "frag=$(systemctl show -p FragmentPath --value {UNIT})\n\
         mkdir -p /etc/systemd/system/{UNIT}.service.d\n\
         printf '[Service]\\nExecStart=\\n%s --fault-injection 30s\\n' \"$(grep '^ExecStart=' \"$frag\")\" \
           >/etc/systemd/system/{UNIT}.service.d/fault-injection.conf\n\
         sed 's|--config {CONFIG}$|--config {CONFIG_B}|' \"$frag\" >/etc/systemd/system/{UNIT_B}.service\n\
         grep -q '^ExecStart=/usr/bin/flink-ha-supervisor run --config {CONFIG_B}$' /etc/systemd/system/{UNIT_B}.service\n\
         systemctl daemon-reload\n\
         systemctl show -p ExecStart --value {UNIT} | grep -q -- '--config {CONFIG} --fault-injection 30s'"
    ));

    c.sh(&format!("systemctl start {UNIT}"));
    let epoch1 = wait_leading(&c, UNIT, None);
    let jm1 = jobmanager_pid(&c, JM_PORT);
    wait_for_records(&c, UNIT, "session_started", 1);
    let session_timeout_ms = number(of(&audit_records(&c, UNIT), "session_started")[0], "negotiated_timeout_ms");

    // 1. The watchdog. Block the leader's main loop; its heartbeat task keeps the session alive,
    // so the session cannot expire earlier than a session timeout after the block. Measured on
    // the container's clock: the block, the end of the old JobManager, and the moment `status`
    // no longer lists the old election node (its session expired).
    let measured = c.sh(&format!(
        "listed() {{\n\
           out=$(flink-ha-supervisor status --quorum 127.0.0.1:{ZK_PORT} --format json 2>/dev/null || true)\n\
           case $out in *'\"contenders\"'*) grep -Eq '\"sequence\": {epoch1},?$' <<<\"$out\" ;; *) return 2 ;; esac\n\
         }}\n\
         rm -f /tmp/blocked /tmp/jm-gone /tmp/node-gone\n\
         listed || {{ echo 'status does not list the election node {epoch1}'; exit 1; }}\n\
         (while [ $SECONDS -lt 60 ]; do if ! {alive}; then date +%s.%N >/tmp/jm-gone; break; fi; sleep 0.01; done) &\n\
         (while [ $SECONDS -lt 60 ]; do rc=0; listed || rc=$?\n\
            if [ $rc = 1 ]; then date +%s.%N >/tmp/node-gone; break; fi; sleep 0.1; done) &\n\
         date +%s.%N >/tmp/blocked\n\
         systemctl kill --kill-who=main -s SIGUSR2 {UNIT}\n\
         wait\n\
         [ -f /tmp/jm-gone ] || {{ echo 'the JobManager {jm1} outlived the blocked daemon by 60 s'; exit 1; }}\n\
         [ -f /tmp/node-gone ] || {{ echo 'the election node {epoch1} was still there 60 s after the block'; exit 1; }}\n\
         cat /tmp/blocked /tmp/jm-gone /tmp/node-gone",
        alive = alive(jm1)
    ));
    let times: Vec<f64> = measured.split_whitespace().filter_map(|t| t.parse().ok()).collect();
    let [blocked, jm_gone, node_gone] = times[..] else { panic!("not three instants: {measured}") };
    // systemd's watchdog killed the daemon, and Restart= started it again.
    wait_for(
        &c,
        &format!("[ \"$(systemctl show -p NRestarts --value {UNIT})\" = 1 ]"),
        60,
        "systemd did not restart the daemon it killed",
        &format!("systemctl status {UNIT} --no-pager"),
    );
    let journal = c.sh(&format!("journalctl -u {UNIT} -o short-unix --no-pager"));
    let timeout_line = journal.lines().find(|l| l.contains("Watchdog timeout")).unwrap_or_else(|| {
        panic!("no watchdog timeout of systemd in the journal:\n{journal}");
    });
    let fired: f64 = timeout_line.split_whitespace().next().and_then(|t| t.parse().ok()).unwrap();
    assert!(journal.contains("FAULT INJECTION: blocking the main loop"), "the block did not begin:\n{journal}");
    assert!(journal.contains("Failed with result 'watchdog'"), "the unit did not fail by the watchdog:\n{journal}");
    let session_timeout = session_timeout_ms as f64 / 1000.0;
    eprintln!(
        "watchdog: after the block, systemd's watchdog fired at {:.2}s, the JobManager was gone at {:.2}s, the \
         old election node at {:.2}s (session timeout {session_timeout}s)",
        fired - blocked,
        jm_gone - blocked,
        node_gone - blocked
    );
    assert!(fired > blocked, "the watchdog fired before the block");
    assert!(
        jm_gone - blocked < session_timeout,
        "the JobManager outlived the blocked leader's session: gone {:.2}s after the block",
        jm_gone - blocked
    );
    assert!(jm_gone < node_gone, "the old election node was gone before the JobManager");
    // The restarted daemon leads again, with a new JobManager, and measures the failover.
    let epoch2 = wait_leading(&c, UNIT, Some(epoch1));
    assert_eq!(value(&c, UNIT, "ActiveState"), "active");
    let jm2 = jobmanager_pid(&c, JM_PORT);
    assert_ne!(jm2, jm1, "the JobManager was not started again");
    wait_for_records(&c, UNIT, "failover_completed", 1);
    let failover = of(&audit_records(&c, UNIT), "failover_completed")[0].clone();
    assert_eq!(move_of(&failover), expected("jm-a", "jm-a", "leader_lost"), "{failover}");
    assert_eq!((number(&failover, "previous_epoch"), number(&failover, "epoch")), (epoch1, epoch2));

    // 2. `systemctl stop` of the leader hands over to the standby b.
    c.sh(&format!("systemctl start {UNIT_B}"));
    wait_standby(&c, UNIT_B);
    let cgroup = value(&c, UNIT, "ControlGroup");
    assert!(!processes_in(&c, &cgroup).is_empty(), "no process in {UNIT}'s control group {cgroup}");
    let a_before = audit_records(&c, UNIT).len();
    c.sh(&format!("systemctl stop {UNIT}"));
    assert_eq!(show(&c, UNIT, &["ActiveState", "Result"]), ["ActiveState=inactive", "Result=success"]);
    assert_eq!(processes_in(&c, &cgroup), "", "processes of {UNIT} outlived systemctl stop");
    c.sh(&format!("! {}", alive(jm2)));
    let epoch3 = wait_leading(&c, UNIT_B, Some(epoch2));
    wait_for_records(&c, UNIT, "exited", 1);
    wait_for_records(&c, UNIT_B, "failover_completed", 1);
    // a stopped its JobManager and left: a shutdown, not an expiry.
    let stopping = audit_records(&c, UNIT).split_off(a_before);
    let names: Vec<&str> = stopping.iter().filter_map(|r| r["event"].as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name}: {names:?}"));
    assert!(
        at("shutdown") < at("jobmanager_stopped") && at("jobmanager_stopped") < at("exited"),
        "a did not shut down, stop its JobManager and exit in turn: {names:?}"
    );
    assert_eq!(of(&stopping, "jobmanager_stopped")[0]["reason"], "Shutdown");
    // b took over through the handover: from the end of a's service to b's election took less
    // than a session timeout, which an expiry could not.
    let failover = of(&audit_records(&c, UNIT_B), "failover_completed")[0].clone();
    assert_eq!(move_of(&failover), expected("jm-a", "jm-b", "handover"), "{failover}");
    assert_eq!((number(&failover, "previous_epoch"), number(&failover, "epoch")), (epoch2, epoch3));
    let detection_and_election = number(&failover, "detection_ms") + number(&failover, "election_ms");
    assert!(detection_and_election < session_timeout_ms, "{failover}");
    eprintln!("stop: b led {detection_and_election} ms after a stopped serving (outage {} ms)", failover["outage_ms"]);

    // a again as the standby, then b hands back on its restart.
    c.sh(&format!("systemctl start {UNIT}"));
    wait_standby(&c, UNIT);
    c.sh(&format!("systemctl restart {UNIT_B}"));
    let epoch4 = wait_leading(&c, UNIT, Some(epoch3));
    wait_standby(&c, UNIT_B);

    // 3. Upgrade while a leads: the package restarts it (try-restart) on the new binary, which
    // hands over to b; the edited configuration stays. b's daemon, which the package does not
    // restart, still runs the replaced file.
    let config_before = c.sh(&format!("sha256sum {CONFIG}"));
    let (a_pid, b_pid) = (value(&c, UNIT, "MainPID"), value(&c, UNIT_B, "MainPID"));
    c.sh(&format!("cd /pkg && apt-get install -y ./{}", debs[1]));
    let version = c.sh("dpkg-query -W -f='${Version}' flink-ha-supervisor");
    assert_eq!(version.trim(), format!("{}-2", env!("CARGO_PKG_VERSION")));
    assert_eq!(value(&c, UNIT, "ActiveState"), "active", "the upgrade left the daemon stopped");
    let a_pid_after = value(&c, UNIT, "MainPID");
    assert_ne!(a_pid_after, a_pid, "the upgrade did not restart the daemon");
    assert_eq!(exe(&c, &a_pid_after), "/usr/bin/flink-ha-supervisor");
    assert_eq!(exe(&c, &b_pid), "/usr/bin/flink-ha-supervisor (deleted)", "the upgrade did not replace the binary");
    assert_eq!(c.sh(&format!("sha256sum {CONFIG}")), config_before, "the upgrade changed the edited configuration");
    let epoch5 = wait_leading(&c, UNIT_B, Some(epoch4));
    wait_standby(&c, UNIT);
    wait_for_records(&c, UNIT_B, "failover_completed", 2);

    // 4. The journal as the audit's input: both units' `journalctl -o json`, as an operator
    // would pipe it, gives exactly the four failovers and no overlap (exit code 0).
    let journals = format!("journalctl -u {UNIT} -u {UNIT_B} -o json");
    let (ok, text) = c.try_sh(&format!("{journals} | flink-ha-supervisor audit -"));
    eprintln!("{text}");
    assert!(ok, "audit failed");
    assert!(text.contains("\n4 failovers: ") && text.contains("\nno overlaps\n"), "{text}");
    let report: Value = serde_json::from_str(&c.sh(&format!("{journals} | flink-ha-supervisor audit --format json -")))
        .expect("audit --format json prints JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!((report["summary"]["count"].as_u64(), report["summary"]["overlaps"].as_u64()), (Some(4), Some(0)));
    assert_eq!(report["skipped_lines"]["damaged"], 0, "{report}");
    let failovers = report["failovers"].as_array().unwrap();
    let moves: Vec<_> = failovers.iter().map(move_of).collect();
    assert_eq!(
        moves,
        [
            expected("jm-a", "jm-a", "leader_lost"),
            expected("jm-a", "jm-b", "handover"),
            expected("jm-b", "jm-a", "handover"),
            expected("jm-a", "jm-b", "handover"),
        ],
        "{report}"
    );
    let epochs: Vec<u64> = failovers.iter().map(|f| number(f, "epoch")).collect();
    assert_eq!(epochs, [epoch2, epoch3, epoch4, epoch5]);
    // Each JobManager run, and how it ended: the watchdog's victim by the failover that replaced
    // it (its end was not logged), the others by a shutdown, b's last one still running.
    let ends = |node: &str| -> Vec<String> {
        let host = report["hosts"].as_array().unwrap().iter().find(|h| h["node"] == node).expect("both hosts");
        host["jobmanager"].as_array().unwrap().iter().map(|i| i["ended_by"].as_str().unwrap().to_string()).collect()
    };
    let stopped = "jobmanager_stopped:Shutdown";
    assert_eq!(ends("jm-a"), ["failover", stopped, stopped]);
    assert_eq!(ends("jm-b"), [stopped, "last_record"]);
    // Neither daemon saw its session expire: the watchdog's victim was dead before its session
    // expired, and every other move was a handover.
    for unit in [UNIT, UNIT_B] {
        assert!(of(&audit_records(&c, unit), "session_expired").is_empty(), "{unit} logged session_expired");
    }
    // The stand-ins' own lock agrees: five starts, never two at once.
    let standins = c.sh(&format!("cat {STANDIN_EVENTS}"));
    let events: Vec<Value> = standins.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(of(&events, "start").len(), 5, "{standins}");
    assert!(of(&events, "overlap").is_empty(), "two JobManagers ran at once:\n{standins}");

    eprintln!("systemd_package: two units, whole test {:.1?}", t0.elapsed());
}
