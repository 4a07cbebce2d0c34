//! `flink-ha-supervisor audit` against hand-made logs with known answers (tests/fixtures/audit,
//! described in its README.md): exact outages, percentiles, overlaps, skipped-line counts and
//! exit codes, and a large log read in bounded memory.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit").join(rel)
}

fn fixtures(rels: &[&str]) -> Vec<PathBuf> {
    rels.iter().map(|r| fixture(r)).collect()
}

fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flink-ha-supervisor"));
    command.arg("audit");
    command
}

fn audit(args: &[&str], logs: &[PathBuf]) -> Output {
    command().args(args).args(logs).stdin(Stdio::null()).output().unwrap()
}

fn audit_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child =
        command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn code(output: &Output) -> i32 {
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"), "{output:?}");
    output.status.code().unwrap()
}

/// Exit code 2 with exactly one line on stderr containing every needle, nothing on stdout.
fn assert_unusable(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(code(output), 2, "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing in: {stderr}");
    }
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
}

const HANDOVER_TEXT: &str = "\
time (outage start, UTC)  from -> to  cause     outage  detection  election   start  readiness  budget
2026-11-22T10:30:00.004Z  jm1 -> jm2  handover  6.301s     2.146s    0.105s  0.012s     4.038s  ok

1 failover: outage p50 6.301s, p95 6.301s, max 6.301s; all within the 30s budget
no overlaps
hosts: jm1 (8 records), jm2 (6 records)
read 24 lines: 14 audit records; skipped 10 foreign, 0 malformed
";

#[test]
fn a_clean_handover_is_one_failover_within_budget() {
    let output = audit(&[], &fixtures(&["handover/jm1.log", "handover/jm2.log"]));
    assert_eq!(code(&output), 0);
    assert_eq!(stdout(&output), HANDOVER_TEXT);

    let report = json(&audit(&["--format", "json"], &fixtures(&["handover/jm1.log", "handover/jm2.log"])));
    assert_eq!(report["ok"], true);
    assert_eq!(report["summary"]["count"], 1);
    assert_eq!(report["summary"]["p50_ms"], 6301);
    assert_eq!(report["summary"]["max_ms"], 6301);
    assert_eq!(report["summary"]["violations"], 0);
    assert_eq!(report["overlaps"], Value::Array(vec![]));
    let f = &report["failovers"][0];
    assert_eq!((f["previous_node"].as_str(), f["node"].as_str()), (Some("jm1"), Some("jm2")));
    assert_eq!((f["epoch"].as_u64(), f["previous_epoch"].as_u64()), (Some(2), Some(1)));
    assert_eq!(f["cause"], "handover");
    assert_eq!(f["outage_start"], "2026-11-22T10:30:00.004000Z");
    assert_eq!(f["ready_at"], "2026-11-22T10:30:06.305000Z");
    let jm1 = &report["hosts"][0];
    assert_eq!(jm1["node"], "jm1");
    assert_eq!(jm1["jobmanager"][0]["end"], "2026-11-22T10:30:02.100000Z");
    assert_eq!(jm1["jobmanager"][0]["ended_by"], "jobmanager_stopped:Shutdown");
    assert_eq!(jm1["leadership"][0]["ended_by"], "exited");
    assert_eq!(
        report["skipped_lines"],
        serde_json::json!({"damaged": 0, "malformed": 0, "foreign": 10, "unsupported_version": 0})
    );
}

#[test]
fn a_killed_leaders_intervals_end_where_the_failover_says() {
    let report = json(&audit(&["--format", "json"], &fixtures(&["crash/jm1.log", "crash/jm2.log"])));
    assert_eq!(report["ok"], true);
    let f = &report["failovers"][0];
    assert_eq!((f["cause"].as_str(), f["outage_ms"].as_u64()), (Some("leader_lost"), Some(15_205)));
    assert_eq!(f["detection_ms"], 10_000);
    let jm = &report["hosts"][0]["jobmanager"][0];
    assert_eq!(jm["end"], "2026-11-22T11:20:13.900000Z", "outage start: last seen serving");
    assert_eq!((jm["end_inferred"].as_bool(), jm["ended_by"].as_str()), (Some(true), Some("failover")));
    let lead = &report["hosts"][0]["leadership"][0];
    assert_eq!(lead["end"], "2026-11-22T11:20:23.900000Z", "outage start + detection: its node was gone");
    assert_eq!(report["overlaps"], Value::Array(vec![]));
}

#[test]
fn a_failover_over_budget_exits_1_and_is_counted_once() {
    let logs = fixtures(&["over-budget/jm1.log", "over-budget/jm2.log"]);
    let output = audit(&[], &logs);
    assert_eq!(code(&output), 1);
    let text = stdout(&output);
    assert!(text.contains("jm1 -> jm2  leader_lost  42.340s"), "{text}");
    assert!(text.lines().nth(1).unwrap().ends_with("OVER"), "{text}");
    assert!(text.contains("1 failover: outage p50 42.340s, p95 42.340s, max 42.340s; 1 over the 30s budget"));

    let report = json(&audit(&["--format", "json"], &logs));
    assert_eq!(report["summary"]["count"], 1, "budget_exceeded repeats failover_completed");
    assert_eq!(report["summary"]["violations"], 1);
    assert_eq!(report["failovers"][0]["within_budget"], false);

    let relaxed = audit(&["--budget", "45s"], &logs);
    assert_eq!(code(&relaxed), 0);
    assert!(stdout(&relaxed).contains("all within the 45s budget"));
}

#[test]
fn two_jobmanagers_at_once_are_an_overlap() {
    let logs = fixtures(&["overlap/jm1.log", "overlap/jm2.log", "overlap/jm3.log"]);
    let output = audit(&[], &logs);
    assert_eq!(code(&output), 1, "an overlap fails the audit although the failover is within budget");
    let text = stdout(&output);
    assert!(text.contains("all within the 30s budget"), "{text}");
    assert!(text.contains("1 overlap of two hosts' JobManagers"), "{text}");
    assert!(text.contains("  jm1 & jm2  2026-11-22T14:10:11.500Z .. 2026-11-22T14:10:14.000Z  2.500s\n"), "{text}");

    let report = json(&audit(&["--format", "json"], &logs));
    let overlap = &report["overlaps"][0];
    assert_eq!(overlap["nodes"], serde_json::json!(["jm1", "jm2"]));
    assert_eq!(overlap["length_ms"], 2500.0);
    assert_eq!(overlap["start"], "2026-11-22T14:10:11.500000Z");
    assert_eq!(overlap["end"], "2026-11-22T14:10:14.000000Z");
    assert_eq!(overlap["inferred"], false);
    assert_eq!(report["summary"]["overlaps"], 1);
    assert_eq!(report["hosts"].as_array().unwrap().len(), 3);
}

#[test]
fn files_in_any_order_and_lines_out_of_order_give_the_same_answer() {
    let forward = audit(&[], &fixtures(&["interleaved/jm1.log", "interleaved/jm2.log"]));
    let reverse = audit(&[], &fixtures(&["interleaved/jm2.log", "interleaved/jm1.log"]));
    assert_eq!(code(&forward), 0);
    assert_eq!(stdout(&forward), stdout(&reverse));
    let text = stdout(&forward);
    assert!(text.contains("4 failovers: outage p50 10.265s, p95 15.550s, max 15.550s; all within the 30s budget"));
    let causes: Vec<&str> = text.lines().skip(1).take(4).map(|l| l.split_whitespace().nth(4).unwrap()).collect();
    assert_eq!(causes, ["handover", "leader_lost", "resigned", "leader_lost"]);

    // Both hosts' lines in one stream, newest first.
    let mut lines: Vec<String> = ["interleaved/jm1.log", "interleaved/jm2.log"]
        .iter()
        .flat_map(|f| std::fs::read_to_string(fixture(f)).unwrap().lines().map(String::from).collect::<Vec<_>>())
        .collect();
    lines.sort();
    lines.reverse();
    let shuffled = audit_stdin(&["-"], (lines.join("\n") + "\n").as_bytes());
    assert_eq!(stdout(&shuffled), text);

    let report = json(&audit(&["--format", "json"], &fixtures(&["interleaved/jm2.log", "interleaved/jm1.log"])));
    let jm2 = &report["hosts"][1];
    let lead: Vec<(&str, &str, &str)> = jm2["leadership"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["start"].as_str().unwrap(), i["end"].as_str().unwrap(), i["ended_by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lead,
        [
            ("2026-11-22T09:10:02.150000Z", "2026-11-22T09:25:50.800000Z", "failover"),
            ("2026-11-22T09:40:06.150000Z", "2026-11-22T09:50:14.000000Z", "session_expired"),
        ]
    );
    let jm1_runs = report["hosts"][0]["jobmanager"].as_array().unwrap().len();
    assert_eq!(jm1_runs, 5, "two terms, a crash loop of three starts, and the last term");

    let strict =
        audit(&["--budget", "12s", "--format", "json"], &fixtures(&["interleaved/jm1.log", "interleaved/jm2.log"]));
    assert_eq!(code(&strict), 1);
    assert_eq!(json(&strict)["summary"]["violations"], 2);
}

#[test]
fn foreign_lines_are_skipped_and_damaged_records_named() {
    let logs = fixtures(&["mixed/jm1.log", "mixed/jm2.log"]);
    let output = audit(&["--format", "json"], &logs);
    assert_eq!(code(&output), 3, "damaged records make the audit inconclusive");
    let report = json(&output);
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["skipped_lines"],
        serde_json::json!({"damaged": 4, "malformed": 0, "foreign": 15, "unsupported_version": 1})
    );
    let named: Vec<(String, u64, Value)> = report["damaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let source = d["source"].as_str().unwrap();
            (source.rsplit('/').next().unwrap().to_string(), d["line"].as_u64().unwrap(), d["event"].clone())
        })
        .collect();
    assert_eq!(
        named,
        [
            ("jm1.log".to_string(), 9, Value::Null),
            ("jm2.log".to_string(), 3, Value::from("session_disconnected")),
            ("jm2.log".to_string(), 5, Value::Null),
            ("jm2.log".to_string(), 14, Value::Null),
        ]
    );
    assert_eq!(report["input"]["lines"], 33);
    assert_eq!(report["input"]["audit_records"], 11);
    assert_eq!(report["summary"]["count"], 1);
    assert_eq!(report["summary"]["max_ms"], 15_205);

    let output = audit(&[], &logs);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("4 damaged audit records (first: ") && stderr.contains("mixed/jm1.log:9)"), "{stderr}");
    assert!(stderr.contains("--tolerate-damaged"), "{stderr}");
    let text = stdout(&output);
    assert!(text.contains("mixed/jm2.log:3   session_disconnected  timestamp \"yesterday\" is not"), "{text}");
    assert!(text.ends_with(
        "read 33 lines: 11 audit records; skipped 15 foreign, 4 damaged, 0 malformed, 1 of another schema version\n"
    ));

    let tolerated = audit(&["--tolerate-damaged"], &logs);
    assert_eq!(code(&tolerated), 0);
    assert!(tolerated.stderr.is_empty());
    assert!(stdout(&tolerated).contains("4 damaged audit records; tolerated (--tolerate-damaged)"));
}

/// The text output, with every byte outside printable ASCII, tab and newline rejected (UTF-8
/// text such as `→` and `…` is fine).
fn terminal_safe(output: &Output) -> String {
    let text = stdout(output);
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("control character {c:?} in the output: {text}");
    }
    text
}

#[test]
fn a_budget_verdict_of_the_wrong_type_does_not_hide_the_failover() {
    // Both over-budget records carry `"within_budget":"false"` (a string).
    let logs = fixtures(&["over-budget/jm1.log", "hostile/string-budget-jm2.log"]);
    for args in [&[][..], &["--tolerate-damaged"]] {
        let output = audit(args, &logs);
        assert_eq!(code(&output), 1, "the failover is over budget, damaged or not");
        let text = terminal_safe(&output);
        assert!(
            text.contains("1 failover: outage p50 42.340s, p95 42.340s, max 42.340s; 1 over the 30s budget"),
            "{text}"
        );
        assert!(
            text.contains("string-budget-jm2.log:7  failover_completed  field within_budget: invalid type"),
            "{text}"
        );
        assert!(text.contains("the record is kept without it"), "{text}");
    }
    let report = json(&audit(&["--format", "json"], &logs));
    assert_eq!(report["summary"]["violations"], 1);
    assert_eq!(report["failovers"][0]["logged_within_budget"], Value::Null);
    assert_eq!(report["damaged"][0]["kept"], true);
}

#[test]
fn a_cut_short_spawn_makes_the_audit_inconclusive() {
    // jm2's `jobmanager_spawned` (the start of the overlap) is cut after `"epoch":12,`.
    let logs = fixtures(&["overlap/jm1.log", "hostile/cut-spawned-jm2.log", "overlap/jm3.log"]);
    let output = audit(&[], &logs);
    assert_eq!(code(&output), 3, "the overlap cannot be seen, so the audit cannot say ok");
    let text = terminal_safe(&output);
    assert!(text.contains("1 damaged audit record; they could hide a failover or an overlap"), "{text}");
    assert!(
        text.contains("cut-spawned-jm2.log:4  jobmanager_spawned  not complete JSON (cut short or corrupted)"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 damaged audit record (first: ") && stderr.contains("cut-spawned-jm2.log:4)"),
        "{stderr}"
    );

    let report = json(&audit(&["--format", "json"], &logs));
    assert_eq!(report["ok"], false);
    assert_eq!(report["damaged"][0]["event"], "jobmanager_spawned");
    assert_eq!(report["damaged"][0]["line"], 4);

    let tolerated = audit(&["--tolerate-damaged", "--format", "json"], &logs);
    assert_eq!(code(&tolerated), 0, "the user accepts judging by the readable records");
    let report = json(&tolerated);
    assert_eq!((report["ok"].as_bool(), report["tolerate_damaged"].as_bool()), (Some(true), Some(true)));
    assert_eq!(report["skipped_lines"]["damaged"], 1);
}

/// Runs the audit with `--format json` and `--timeline`; returns the exit code, the report and
/// the SVG, after checking that nothing panicked and the SVG holds no character XML forbids.
fn json_and_timeline(args: &[&str], logs: &[PathBuf]) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("t.svg");
    let mut all = vec!["--format", "json", "--timeline", svg.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = audit(&all, logs);
    let code = code(&output);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.trim_end().ends_with("</svg>"));
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("{c:?} in the SVG");
    }
    assert!(!text.contains("&#"), "no character references (control characters are invalid in XML even so)");
    (code, json(&output), text)
}

#[test]
fn a_duration_reaching_past_the_year_9999_is_a_named_damaged_field() {
    // `detection_ms` 300000000000000 (9500 years) in jm2's `failover_completed`.
    let logs = fixtures(&["crash/jm1.log", "hostile/huge-detection-jm2.log"]);
    let (code, report, _) = json_and_timeline(&[], &logs);
    assert_eq!(code, 3);
    assert_eq!(report["damaged"][0]["line"], 10);
    assert_eq!(
        report["damaged"][0]["problem"],
        "field detection_ms: 300000000000000 ms reaches past the year 9999; the record is kept without it"
    );
    assert_eq!(report["summary"]["count"], 1, "the failover is kept without the field");
    assert_eq!(report["failovers"][0]["detection_ms"], Value::Null);
    let (code, _, _) = json_and_timeline(&["--tolerate-damaged"], &logs);
    assert_eq!(code, 0);
}

#[test]
fn an_outage_start_in_the_year_9999_is_a_named_damaged_record() {
    // jm2's `failover_completed` says the outage began at 9999-12-31T23:59:59.999Z, after its
    // `ready_at`.
    let logs = fixtures(&["crash/jm1.log", "hostile/year-9999-jm2.log"]);
    let (code, report, _) = json_and_timeline(&[], &logs);
    assert_eq!(code, 3);
    assert_eq!(report["damaged"][0]["event"], "failover_completed");
    assert_eq!(report["damaged"][0]["problem"], "outage_start lies after ready_at");
    assert_eq!(report["summary"]["count"], 0);
}

#[test]
fn a_history_at_the_end_of_the_year_9999_is_drawn_and_reported() {
    // The crash scenario moved to 9999-12-31T23:xx with a detection of an hour: jm1's inferred
    // leadership end (outage start + detection) lies past the last time RFC 3339 can write.
    let logs = fixtures(&["hostile/far-future-jm1.log", "hostile/far-future-jm2.log"]);
    let (code, report, svg) = json_and_timeline(&[], &logs);
    assert_eq!(code, 0);
    assert_eq!(report["failovers"][0]["outage_start"], "9999-12-31T23:20:13.900000Z");
    assert_eq!(report["hosts"][0]["leadership"][0]["end"], "9999-12-31T23:59:59.999999Z", "saturated");
    assert!(svg.contains("jm1→jm2 15.205s"), "{svg}");
}

#[test]
fn node_names_cannot_write_to_the_terminal() {
    // jm1's node id holds an OSC title sequence, BEL, a clear-screen sequence, 200 characters
    // and a right-to-left override; jm2's a newline and a fake summary line.
    let logs = fixtures(&["hostile/escapes-jm1.log", "hostile/escapes-jm2.log"]);
    let output = audit(&[], &logs);
    assert_eq!(code(&output), 0);
    let text = terminal_safe(&output);
    assert!(text.contains(r"jm1\u{1b}]0;owned\u{7}\u{1b}[2Jxxx"), "{text}");
    assert!(text.contains(r"xx\u{202e} -> jm2\nread 99 lines: 0 audit records  handover"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("read ")).count(), 1, "{text}");

    let (code, report, svg) = json_and_timeline(&[], &logs);
    assert_eq!(code, 0);
    assert_eq!(report["hosts"][1]["node"], "jm2\nread 99 lines: 0 audit records", "JSON keeps the id exactly");
    assert!(svg.contains(r">jm2\nread 99 lines: 0 audit records<"), "escaped in the SVG");
}

#[test]
fn journald_exports_give_the_same_answer_as_the_raw_logs() {
    let output = audit(&[], &fixtures(&["journald/jm1.json", "journald/jm2.json"]));
    assert_eq!(code(&output), 0);
    let text = stdout(&output);
    let raw: Vec<&str> = HANDOVER_TEXT.lines().take(6).collect();
    assert_eq!(text.lines().take(6).collect::<Vec<_>>(), raw);
    assert!(text.ends_with("read 27 lines: 14 audit records; skipped 13 foreign, 0 malformed\n"), "{text}");
}

#[test]
fn the_same_log_given_twice_counts_once() {
    let logs = fixtures(&["crash/jm1.log", "crash/jm2.log", "crash/jm2.log", "crash/jm1.log"]);
    let report = json(&audit(&["--format", "json"], &logs));
    assert_eq!(report["summary"]["count"], 1);
    assert_eq!(report["input"]["duplicate_records"], 11);
    assert_eq!(report["hosts"][0]["jobmanager"].as_array().unwrap().len(), 1);
}

#[test]
fn quoted_globs_and_standard_input_are_read() {
    let pattern = fixture("interleaved/*.log");
    let by_glob = audit(&[], &[pattern]);
    let by_name = audit(&[], &fixtures(&["interleaved/jm1.log", "interleaved/jm2.log"]));
    assert_eq!(code(&by_glob), 0);
    assert_eq!(stdout(&by_glob), stdout(&by_name));

    let jm2 = std::fs::read(fixture("handover/jm2.log")).unwrap();
    let mixed = command()
        .arg(fixture("handover/jm1.log"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(&jm2)?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(stdout(&mixed), HANDOVER_TEXT);
}

#[test]
fn unusable_input_exits_2_with_one_line() {
    let missing = fixture("nonexistent/jm9.log");
    assert_unusable(
        &audit(&[], &[fixture("handover/jm1.log"), missing.clone()]),
        &[&missing.display().to_string(), "cannot read"],
    );
    assert_unusable(&audit(&[], &[fixture("nothing-here/*.log")]), &["nothing-here/*.log", "no file matches"]);
    assert_unusable(&audit(&[], &[fixture("empty")]), &["is a directory"]);
    assert_unusable(&audit(&[], &[fixture("empty/empty.log")]), &["no audit record in the input: it is empty"]);
    assert_unusable(&audit(&[], &[fixture("empty/noise-only.log")]), &["no audit record", "3 lines, 3 foreign"]);
    assert_unusable(&audit_stdin(&["-"], b""), &["no audit record in the input: it is empty"]);
    let output = command().output().unwrap();
    assert_eq!(code(&output), 2, "no LOG: a usage error");
}

#[test]
fn the_timeline_is_a_self_contained_svg() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("timeline.svg");
    let logs = fixtures(&["overlap/jm1.log", "overlap/jm2.log", "overlap/jm3.log"]);
    let output = audit(&["--timeline", svg.to_str().unwrap()], &logs);
    assert_eq!(code(&output), 1);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{}", &text[..100]);
    assert!(text.trim_end().ends_with("</svg>"));
    for needle in [">jm1<", ">jm2<", ">jm3<", "jm1→jm2 14.705s", "overlap 2.500s", "Detail 1: overlap"] {
        assert!(text.contains(needle), "{needle} missing");
    }
    assert!(!text.contains("href="), "no external references");

    let unwritable = audit(&["--timeline", "/nonexistent/dir/t.svg"], &logs);
    assert_unusable(&unwritable, &["cannot write the timeline /nonexistent/dir/t.svg"]);
}

/// Peak resident set of a child, KiB, through wait4 (RUSAGE_CHILDREN would mix in other tests'
/// children).
fn wait_with_peak_rss(child: &mut std::process::Child) -> (i32, i64) {
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status), "status {status}");
    (libc::WEXITSTATUS(status), usage.ru_maxrss)
}

#[test]
fn a_large_log_streams_in_bounded_memory() {
    const TARGET_BYTES: u64 = 50 << 20;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.log");
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    let crash = |host: &str| std::fs::read_to_string(fixture(&format!("crash/{host}.log"))).unwrap();
    out.write_all(crash("jm1").as_bytes()).unwrap();
    let mut written = 0u64;
    let mut i = 0u64;
    while written < TARGET_BYTES {
        let line = format!(
            "{{\"timestamp\":\"2026-11-22T11:{:02}:{:02}.{:06}Z\",\"level\":\"INFO\",\"message\":\"2026-11-22 11:05:00,000 INFO  \
             org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - Completed checkpoint {i} for job \
             8f3c0c2e4a1b4d6f9e7a5b3c1d2e4f60 (48213 bytes, checkpointDuration=312 ms, finalizationTime=2 ms).\",\
             \"target\":\"jobmanager\"}}\n",
            5 + i / 60_000_000 % 10,
            i / 1_000_000 % 60,
            i % 1_000_000
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        i += 1;
    }
    out.write_all(crash("jm2").as_bytes()).unwrap();
    out.flush().unwrap();
    drop(out);

    let started = Instant::now();
    let mut child = command().arg(&path).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The report is a few hundred bytes: it fits the pipe, so waiting first cannot block.
    let (code, peak_kib) = wait_with_peak_rss(&mut child);
    let elapsed = started.elapsed();
    let mut text = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut text).unwrap();
    eprintln!("{} MiB, {i} noise lines: {elapsed:?}, peak RSS {} KiB", written >> 20, peak_kib);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 failover: outage p50 15.205s"), "{text}");
    assert!(text.contains(&format!("skipped {} foreign, 0 malformed", i + 10)), "{text}");
    assert!(peak_kib < 50 * 1024, "peak RSS {peak_kib} KiB for a {} MiB log", written >> 20);
}

#[test]
fn logs_captured_from_a_real_run_give_the_daemons_own_figures() {
    // scripts/demo --keep: a three-node ensemble, three daemons; jm1's daemon SIGKILLed, then
    // jm3's daemon stopped with SIGTERM.
    let logs = fixtures(&["captured/jm1.log", "captured/jm2.log", "captured/jm3.log"]);
    let output = audit(&["--format", "json"], &logs);
    assert_eq!(code(&output), 0);
    let report = json(&output);
    let figures: Vec<(&str, &str, &str, u64)> = report["failovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["previous_node"].as_str().unwrap(),
                f["node"].as_str().unwrap(),
                f["cause"].as_str().unwrap(),
                f["outage_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(figures, [("jm1", "jm3", "leader_lost", 9341), ("jm3", "jm2", "handover", 3059)]);
    assert_eq!(report["summary"]["p50_ms"], 3059);
    assert_eq!(report["summary"]["max_ms"], 9341);
    assert_eq!(report["overlaps"], Value::Array(vec![]));
    // jm1's JobManager died with its daemon: its interval ends, inferred, at the outage start.
    let jm1 = &report["hosts"][0];
    assert_eq!(jm1["jobmanager"][0]["end"], "2026-11-22T18:50:54.727000Z");
    assert_eq!(jm1["jobmanager"][0]["end_inferred"], true);
}
