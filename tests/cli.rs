//! The command line refuses bad input with one clear line and exit code 2, never a panic.

use std::path::PathBuf;
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
