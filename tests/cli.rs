//! The command line refuses bad input with one clear line and exit code 2, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn daemon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"))
}

fn run_with_config(toml: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fhs.toml");
    std::fs::write(&path, toml).unwrap();
    let output = daemon().arg("run").arg("--config").arg(&path).env_remove("FLINK_HOME").output().unwrap();
    (output, dir)
}

/// Asserts exit code 2 and exactly one line on stderr that contains every `needle`.
fn assert_refused(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing in: {stderr}");
    }
    assert!(output.stdout.is_empty(), "nothing may start: {}", String::from_utf8_lossy(&output.stdout));
}

const VALID: &str = r#"
[zookeeper]
quorum = "127.0.0.1:2181"
[jobmanager]
command = ["/bin/true"]
"#;

#[test]
fn a_missing_config_file_is_named() {
    let missing = PathBuf::from("/nonexistent/fhs.toml");
    let output = daemon().arg("run").arg("--config").arg(&missing).output().unwrap();
    assert_refused(&output, &["/nonexistent/fhs.toml"]);
}

#[test]
fn an_unknown_key_is_named() {
    let (output, _dir) = run_with_config(&VALID.replace("[zookeeper]", "[zookeeper]\nsesion_timeout = \"4s\""));
    assert_refused(&output, &["zookeeper.sesion_timeout"]);
}

#[test]
fn an_unparsable_duration_names_key_and_value() {
    let (output, _dir) =
        run_with_config(&VALID.replace("[zookeeper]", "[zookeeper]\nsession_timeout = \"ten seconds\""));
    assert_refused(&output, &["zookeeper.session_timeout", "ten seconds"]);
}

#[test]
fn an_empty_quorum_is_refused() {
    let (output, _dir) = run_with_config(&VALID.replace("127.0.0.1:2181", ""));
    assert_refused(&output, &["zookeeper.quorum"]);
}

#[test]
fn a_relative_election_path_is_refused() {
    let (output, _dir) = run_with_config(&format!("{VALID}\n[election]\npath = \"flink/leader\"\n"));
    assert_refused(&output, &["election.path"]);
}

#[test]
fn a_stop_grace_that_breaks_the_fencing_promise_is_refused() {
    let (output, _dir) = run_with_config(&VALID.replace("[jobmanager]", "[jobmanager]\nstop_grace = \"9s\""));
    assert_refused(&output, &["jobmanager.stop_grace"]);
}

#[test]
fn a_session_timeout_that_cannot_meet_the_budget_is_refused() {
    let (output, _dir) = run_with_config(&format!("{}\n[failover]\nbudget = \"8s\"\n", VALID));
    assert_refused(&output, &["failover.budget"]);
}

#[test]
fn no_command_and_no_flink_home_is_refused() {
    let (output, _dir) = run_with_config(&VALID.replace("command = [\"/bin/true\"]", ""));
    assert_refused(&output, &["jobmanager.command", "FLINK_HOME"]);
}

#[test]
fn the_fence_guard_reports_a_command_that_cannot_start() {
    let output = daemon()
        .args([
            "fence-guard",
            "--stop-grace",
            "1s",
            "--lease-until-ns",
            "18446744073709551615",
            "--",
            "/nonexistent/jm",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("spawn-failed /nonexistent/jm"), "{stdout}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn a_duration_past_its_bound_is_refused_by_run_and_check_config() {
    let toml = VALID.replace("[jobmanager]", "[jobmanager]\nstart_timeout = \"584542046090years\"");
    let (output, dir) = run_with_config(&toml);
    assert_refused(&output, &["jobmanager.start_timeout", "584542046090years", "at most 1h"]);
    let output = daemon()
        .arg("check-config")
        .arg("--config")
        .arg(dir.path().join("fhs.toml"))
        .env_remove("FLINK_HOME")
        .output()
        .unwrap();
    assert_refused(&output, &["jobmanager.start_timeout", "584542046090years", "at most 1h"]);
}

#[test]
fn a_duration_option_past_a_day_is_refused_before_anything_runs() {
    for args in [
        &["handover", "--config", "/nonexistent.toml", "--timeout", "584542046090years"][..],
        &["audit", "--budget", "584542046090years", "/nonexistent.log"][..],
        &["make-cds-archive", "--config", "/nonexistent.toml", "--timeout", "100days"][..],
    ] {
        let output = daemon().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--") && stderr.contains("at most 1day"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// Runs the binary with `args`, killing it if it has not finished within 10 s (a read that
/// blocks must fail the test, not hang it).
fn output_within_10s(args: &[&std::ffi::OsStr]) -> Output {
    let mut child = daemon()
        .args(args)
        .env_remove("FLINK_HOME")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("{args:?} still runs after 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_fifo_a_device_or_a_directory_as_config_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fhs.toml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (path, what) in [(fifo.as_path(), "a FIFO"), (Path::new("/dev/zero"), "a device"), (dir.path(), "a directory")]
    {
        for command in ["run", "check-config", "status"] {
            let output = output_within_10s(&[command.as_ref(), "--config".as_ref(), path.as_os_str()]);
            assert_refused(&output, &[&path.display().to_string(), what, "not a regular file"]);
        }
    }
}

#[test]
fn an_election_path_in_zookeepers_own_subtree_is_refused() {
    for (quorum, path) in [("127.0.0.1:2181", "/zookeeper/leader"), ("127.0.0.1:2181/zookeeper", "/quota")] {
        let toml = VALID.replace("127.0.0.1:2181", quorum) + &format!("[election]\npath = \"{path}\"\n");
        let (output, _dir) = run_with_config(&toml);
        assert_refused(&output, &["election.path", "under /zookeeper", "/flink/leader"]);
    }
}

#[test]
fn a_huge_or_invisibly_formatted_node_id_is_refused() {
    let huge = "j".repeat(2 * 1024 * 1024);
    let (output, _dir) = run_with_config(&format!("[node]\nid = \"{huge}\"\n{VALID}"));
    assert_refused(&output, &["node.id", "2097152 bytes", "at most 253"]);
    for id in ["jm\\u0007", "jm\\u202e1mj", "jm\\u200b"] {
        let (output, _dir) = run_with_config(&format!("[node]\nid = \"{id}\"\n{VALID}"));
        assert_refused(&output, &["node.id", "control or an invisible formatting character"]);
    }
}

/// `run` and `check-config` on `toml`: both refused with one line containing every needle.
fn assert_run_and_check_config_refuse(toml: &str, needles: &[&str]) {
    let (output, dir) = run_with_config(toml);
    assert_refused(&output, needles);
    let config = dir.path().join("fhs.toml");
    let output = output_within_10s(&["check-config".as_ref(), "--config".as_ref(), config.as_os_str()]);
    assert_refused(&output, needles);
}

#[test]
fn a_jobmanager_program_that_does_not_exist_or_cannot_run_is_refused_at_load() {
    let missing = VALID.replace("/bin/true", "/nonexistent/flink/bin/jobmanager.sh");
    assert_run_and_check_config_refuse(
        &missing,
        &["jobmanager.command", "/nonexistent/flink/bin/jobmanager.sh does not exist", "set jobmanager.command"],
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("jobmanager.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let not_executable = VALID.replace("/bin/true", script.to_str().unwrap());
    assert_run_and_check_config_refuse(&not_executable, &["jobmanager.command", "is not executable"]);
    let not_in_path = VALID.replace("/bin/true", "no-such-jobmanager-program");
    assert_run_and_check_config_refuse(&not_in_path, &["jobmanager.command", "\"no-such-jobmanager-program\"", "PATH"]);
}

#[test]
fn an_audit_file_that_cannot_be_appended_to_is_refused_by_run_and_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("audit.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (file, needle) in [
        ("/nonexistent/dir/audit.jsonl".to_string(), "the directory /nonexistent/dir does not exist"),
        (fifo.display().to_string(), "is a FIFO"),
        (dir.path().display().to_string(), "is a directory"),
    ] {
        let toml = format!("{VALID}[log]\naudit_file = \"{file}\"\n");
        assert_run_and_check_config_refuse(&toml, &["log.audit_file", needle]);
    }
}
