//! The client commands (`status`, `pause`, `resume`, `handover`) without a daemon's
//! configuration, against real daemons (stand-in JobManagers) and a real ZooKeeper: with
//! `--quorum`/`--path` only, with a file that has no `[jobmanager]` and no `FLINK_HOME`, with
//! digest authentication through the flags; `status --watch` piped; a quorum whose chroot does
//! not exist yet (the daemon creates it with its ACL, `status` only says so); and a bad flag,
//! one line and exit code 2.

mod cluster;
mod support;

use std::io::BufRead as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::{daemon_bin, Cluster, Options};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use support::refusal::{assert_refused_in_one_line, output_text as text};
use support::{pick_free_port, wait_for, ZkEnsemble};
use zookeeper_client as zk;

const PATH: &str = "/it/leader";
const USER: &str = "flinkha";
const PASSWORD: &str = "Corr3ct-horse-battery";

/// Runs the daemon's binary with `args`, without FLINK_HOME and the `FHS_` variables.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(daemon_bin());
    command.args(args).env_remove("FLINK_HOME").stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.to_ascii_uppercase().starts_with("FHS_") {
            command.env_remove(name);
        }
    }
    command.output().unwrap()
}

/// `status --format json` with `args`: the exit code and the report.
fn status(args: &[&str]) -> (i32, Value) {
    let out = run(&[&["status", "--format", "json"], args].concat());
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out)));
    (out.status.code().unwrap(), report)
}

#[track_caller]
fn assert_one_line_exit_2(out: &Output, words: &[&str]) {
    assert_refused_in_one_line(out, words, &[PASSWORD]);
}

#[test]
fn status_pause_resume_and_handover_with_quorum_and_path_or_a_file_without_jobmanager() {
    let zk = ZkEnsemble::start(1);
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    let quorum = zk.connect_string();
    let target = ["--quorum", quorum.as_str(), "--path", PATH];

    let (code, report) = status(&target);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["leader"]["node_id"], "jm1");

    // A file with [zookeeper] and [election] alone; no FLINK_HOME.
    let file = cluster.path().join("client.toml");
    std::fs::write(&file, format!("[zookeeper]\nquorum = \"{quorum}\"\n[election]\npath = \"{PATH}\"\n")).unwrap();
    let file = file.to_str().unwrap();
    let (code, report) = status(&["--config", file]);
    assert_eq!((code, &report["leader"]["node_id"]), (0, &Value::from("jm1")), "{report}");
    // A flag wins over the file: an election path where nobody contends.
    let (code, report) = status(&["--config", file, "--path", "/elsewhere/leader"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["problems"][0], "no leader: no daemon contends under /elsewhere/leader");

    let paused = run(&[&["pause", "--reason", "from anywhere"], &target[..]].concat());
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    cluster.wait_events(0, "paused", 1, Duration::from_secs(5));
    let (_, report) = status(&["--config", file]);
    assert_eq!((&report["paused"], &report["pause"]["reason"]), (&Value::from(true), &Value::from("from anywhere")));
    let resumed = run(&["resume", "--config", file]);
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    cluster.wait_events(0, "resumed", 1, Duration::from_secs(5));

    let handover = run(&[&["handover", "--wait", "--timeout", "30s"], &target[..]].concat());
    assert_eq!(handover.status.code(), Some(0), "{}\n{}", text(&handover), cluster.dump());
    assert!(text(&handover).contains("handover from jm1 to jm2 took"), "{}", text(&handover));
    assert_eq!(cluster.serving_daemons(), vec![1]);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_digest_cluster_under_a_chroot_that_did_not_exist_elects_and_answers_the_flags() {
    let zk = ZkEnsemble::start(1);
    let quorum = format!("{}/flink-prod/ha", zk.connect_string());
    let mut cluster = Cluster::new(2, Options::default(), |_| quorum.clone());
    let password = cluster.path().join("zk.password");
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let auth = format!("auth = \"digest\"\nuser = \"{USER}\"\npassword_file = {:?}\n", password.display().to_string());
    for daemon in &cluster.daemons {
        let toml = std::fs::read_to_string(&daemon.config).unwrap();
        std::fs::write(&daemon.config, toml.replacen("[zookeeper]\n", &format!("[zookeeper]\n{auth}"), 1)).unwrap();
    }
    let password = password.to_str().unwrap();
    let secure =
        ["--quorum", quorum.as_str(), "--path", PATH, "--auth", "digest", "--user", USER, "--password-file", password];

    // Nothing there yet: `status` says so, and creates nothing.
    let out = run(&[&["status"], &secure[..]].concat());
    assert_one_line_exit_2(
        &out,
        &["no cluster under chroot /flink-prod/ha", "zkCli.sh -server", "create /flink-prod/ha"],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let root = runtime.block_on(zk::Client::connect(&zk.connect_string())).unwrap();
    assert_eq!(runtime.block_on(root.check_stat("/flink-prod")).unwrap(), None);

    // The daemons create it (with their ACL) and elect.
    cluster.start_leader_then_standby();
    // Anyone may not read it; the daemons' identity alone may do everything.
    assert_eq!(runtime.block_on(root.get_acl("/flink-prod/ha")).err(), Some(zk::Error::NoAuth));
    let token = format!("{USER}:{PASSWORD}");
    let ours = runtime
        .block_on(zk::Client::connector().with_auth("digest", token.as_bytes()).connect(&zk.connect_string()))
        .unwrap();
    for node in ["/flink-prod", "/flink-prod/ha"] {
        let (acl, _) = runtime.block_on(ours.get_acl(node)).unwrap();
        assert_eq!(acl.len(), 1, "{node}: {acl:?}");
        let entry = (acl[0].scheme(), acl[0].id().split(':').next(), acl[0].permission());
        assert_eq!(entry, ("digest", Some(USER), zk::Permission::ALL), "{node}: {acl:?}");
    }

    let (code, report) = status(&secure);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["leader"]["node_id"], "jm1");
    // Without the credentials: denied, one line.
    let out = run(&["status", "--quorum", &quorum, "--path", PATH]);
    assert_one_line_exit_2(&out, &["NoAuth"]);

    let paused = run(&[&["pause"], &secure[..]].concat());
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    cluster.wait_events(1, "paused", 1, Duration::from_secs(5));
    let resumed = run(&[&["resume"], &secure[..]].concat());
    assert_eq!(resumed.status.code(), Some(0), "{}", text(&resumed));
    let handover = run(&[&["handover", "--wait", "--timeout", "30s"], &secure[..]].concat());
    assert_eq!(handover.status.code(), Some(0), "{}\n{}", text(&handover), cluster.dump());
    assert_eq!(cluster.serving_daemons(), vec![1]);

    // A password file others may read is refused, naming the flag.
    std::fs::set_permissions(password, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&[&["status"], &secure[..]].concat());
    assert_one_line_exit_2(
        &out,
        &["zookeeper.password_file (set by --password-file)", "readable by others", "chmod 600"],
    );
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_bad_flag_is_one_line_and_exit_code_2() {
    let free = format!("127.0.0.1:{}", pick_free_port());
    assert_one_line_exit_2(&run(&["status"]), &["zookeeper.quorum", "--quorum"]);
    assert_one_line_exit_2(
        &run(&["pause", "--quorum", "zk1"]),
        &["zookeeper.quorum (set by --quorum)", "\"zk1\" has no :port"],
    );
    assert_one_line_exit_2(
        &run(&["resume", "--quorum", &free, "--path", "leader"]),
        &["election.path (set by --path)", "relative"],
    );
    assert_one_line_exit_2(
        &run(&["handover", "--quorum", &free, "--auth", "kerberos"]),
        &["zookeeper.auth (set by --auth)"],
    );
    assert_one_line_exit_2(
        &run(&["status", "--quorum", &free, "--tls-cert-file", "/nonexistent.pem"]),
        &["zookeeper.tls_cert_file (set by --tls-cert-file)", "tls_ca_file"],
    );
    assert_one_line_exit_2(&run(&["status", "--quorum", &free, "--watch", "soon"]), &["--watch", "\"soon\""]);
    // A file with a broken [jobmanager] is none of a client command's business.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        format!("[zookeeper]\nquorum = \"{free}\"\n[jobmanager]\ncommand = []\nstandby = \"warm\"\n"),
    )
    .unwrap();
    assert_one_line_exit_2(&run(&["status", "--config", file.to_str().unwrap()]), &["cannot reach ZooKeeper at"]);
}

/// Runs `status --watch 0.2s` with `args` piped until `frames` snapshots were read, then sends
/// Ctrl-C (SIGINT); returns the snapshots and the exit code.
fn watch(args: &[&str], frames: usize) -> (Vec<String>, Option<i32>) {
    let mut child = Command::new(daemon_bin())
        .args([&["status", "--watch", "0.2s"], args].concat())
        .env_remove("FLINK_HOME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut snapshots: Vec<String> = Vec::new();
    // A snapshot starts with its header; it is complete when the next one starts.
    while snapshots.len() <= frames {
        let line = received.recv_timeout(Duration::from_secs(20)).expect("a snapshot within 20 s");
        if line.starts_with("every 200ms, at ") {
            snapshots.push(String::new());
        }
        let last = snapshots.last_mut().expect("the output starts with a header");
        last.push_str(&line);
        last.push('\n');
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let code = wait_for(Duration::from_secs(10), Duration::from_millis(20), || child.try_wait().unwrap()).code();
    snapshots.truncate(frames);
    (snapshots, code)
}

#[test]
fn status_watch_piped_prints_snapshots_until_ctrl_c() {
    let zk = ZkEnsemble::start(1);
    let quorum = zk.connect_string();
    let (snapshots, code) = watch(&["--quorum", &quorum, "--path", PATH], 2);
    assert_eq!(code, Some(0));
    for snapshot in &snapshots {
        assert!(snapshot.contains(&format!("election {PATH} at {quorum}")), "{snapshot}");
        assert!(snapshot.contains("status: DEGRADED: no leader"), "{snapshot}");
    }
    // ZooKeeper out of reach: each snapshot is the error line, and the watch goes on.
    let gone = format!("127.0.0.1:{}", pick_free_port());
    let (snapshots, code) = watch(&["--quorum", &gone], 2);
    assert_eq!(code, Some(0));
    for snapshot in &snapshots {
        assert!(snapshot.contains(&format!("ERROR: cannot reach ZooKeeper at {gone}")), "{snapshot}");
    }
}
