//! Property tests of the audit reader on hostile input: real records cut short, fields of any
//! type and size, arbitrary bytes, and whole histories of arbitrary times, durations and names
//! through the text report, the JSON report and the SVG timeline. None may panic; a damaged
//! record of a known event is never passed over silently; the text and the SVG never carry a
//! control character read from the input.
//!
//! `cargo test --lib audit::fuzz` runs a few hundred cases (a few seconds); set
//! `PROPTEST_CASES` for a longer run by hand, e.g. `PROPTEST_CASES=200000 cargo test --release
//! --lib audit::fuzz`.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Map, Value};

use super::input::{read_lines, Reading};
use super::record::{parse_line, AuditEvent, AuditRecord, FailoverFigures, Line, KNOWN_EVENTS};
use super::{report, timeline, Audit};

/// Cases per property: `PROPTEST_CASES`, else a number that keeps the normal suite fast.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Real audit records of every kind the rebuild reads, from the fixtures.
fn known_records() -> Vec<&'static str> {
    [
        include_str!("../../../tests/fixtures/audit/interleaved/jm1.log"),
        include_str!("../../../tests/fixtures/audit/interleaved/jm2.log"),
        include_str!("../../../tests/fixtures/audit/overlap/jm1.log"),
        include_str!("../../../tests/fixtures/audit/over-budget/jm2.log"),
    ]
    .into_iter()
    .flat_map(str::lines)
    .filter(|line| {
        line.contains("\"target\":\"audit\"")
            && KNOWN_EVENTS.iter().any(|event| line.contains(&format!("\"event\":\"{event}\"")))
    })
    .collect()
}

/// Any JSON value a crafted field could hold: wrong types, huge and negative numbers, floats,
/// long and control-laden strings, nesting.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![Just(u64::MAX), Just(i64::MAX as u64), Just(300_000_000_000_000), Just(253_402_300_799_999)]
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        prop_oneof![
            Just("9999-12-31T23:59:59.999999Z"),
            Just("0000-01-01T00:00:00Z"),
            Just("1970-01-01T00:00:00Z"),
            Just("2026-11-22T10:30:00.004Z"),
            Just("10000-01-01T00:00:00Z"),
            Just("false"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A record whose figures come from anywhere: any time, any duration, any name.
fn any_record() -> impl Strategy<Value = AuditRecord> {
    let time = prop_oneof![
        any::<i64>(),
        1_795_000_000_000_000i64..1_795_000_100_000_000,
        (253_402_300_000_000_000i64..253_402_300_800_000_000),
    ];
    let name = prop_oneof![Just("jm1".to_string()), Just("jm2".to_string()), any::<String>()];
    let ms = prop_oneof![any::<u64>(), 0u64..100_000];
    let failover = (
        any::<u64>(),
        prop::option::of(name.clone()),
        prop::option::of(any::<u64>()),
        ms.clone(),
        prop::option::of(ms.clone()),
        prop::option::of(time.clone()),
        prop::option::of(time.clone()),
    )
        .prop_map(|(epoch, previous_node, previous_epoch, outage_ms, detection_ms, outage_start, ready_at)| {
            FailoverFigures {
                epoch: Some(epoch),
                previous_node,
                previous_epoch,
                cause: Some("leader_lost\u{1b}[2J".into()),
                outage_ms,
                detection_ms,
                election_ms: detection_ms,
                start_ms: None,
                readiness_ms: Some(outage_ms),
                error_bound_ms: None,
                budget_ms: None,
                within_budget: None,
                outage_start,
                ready_at,
                failovers_total: None,
            }
        });
    let event = prop_oneof![
        Just(AuditEvent::Joined { path: None, quorum: None }),
        any::<u64>().prop_map(|epoch| AuditEvent::Elected { epoch }),
        Just(AuditEvent::JobManagerSpawned { pid: None, attempt: None }),
        Just(AuditEvent::JobManagerExited { code: None }),
        prop::option::of("\\PC{0,10}").prop_map(|reason| AuditEvent::JobManagerStopped { reason, code: None }),
        Just(AuditEvent::LeadershipLost),
        Just(AuditEvent::SessionExpired),
        Just(AuditEvent::Exited),
        failover.clone().prop_map(AuditEvent::FailoverCompleted),
        failover.prop_map(AuditEvent::BudgetExceeded),
    ];
    (time, name, prop::option::of(any::<u64>()), event).prop_map(|(at, node, epoch, event)| AuditRecord {
        at,
        level: "INFO".into(),
        node,
        epoch,
        name: "fuzz".into(),
        event,
    })
}

/// Renders an audit in every format; checks the text and the SVG hold no control character
/// but newlines.
fn render(audit: &Audit) -> Result<(), TestCaseError> {
    let text = report::text(audit);
    let json = report::json(audit);
    let svg = timeline::svg(audit);
    prop_assert!(serde_json::from_str::<Value>(&json).is_ok());
    for (what, out) in [("text", &text), ("svg", &svg)] {
        let bad = out.chars().find(|&c| c.is_control() && c != '\n');
        prop_assert!(bad.is_none(), "{:?} in the {}: {}", bad, what, out);
    }
    prop_assert!(!svg.contains("&#"));
    Ok(())
}

fn audit_of(records: Vec<AuditRecord>) -> Audit {
    Audit::from_records(records, Reading::default(), Duration::from_secs(30), false)
}

proptest! {
    #![proptest_config(config())]

    /// A known event's record cut anywhere after its opening `{"` is named as damaged, never
    /// skipped as something else.
    #[test]
    fn a_cut_record_is_damaged(pick in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>()) {
        let records = known_records();
        let line = pick.get(&records).as_bytes();
        let at = 2 + cut.index(line.len() - 2);
        match parse_line(&line[..at]) {
            Line::Damaged(_) => {}
            other => prop_assert!(false, "{:?} for {}", other, String::from_utf8_lossy(&line[..at])),
        }
    }

    /// A field of a known event's record (other than those that say what the line is) set to
    /// anything: the record is read, or it is named as damaged; the history renders.
    #[test]
    fn a_field_of_any_type_is_read_or_named(
        pick in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        value in any_value(),
    ) {
        let records = known_records();
        let record: &str = pick.get::<&str>(&records);
        let mut object: Map<String, Value> = serde_json::from_str(record).unwrap();
        let keys: Vec<String> =
            object.keys().filter(|k| !matches!(k.as_str(), "target" | "v" | "event")).cloned().collect();
        let key = field.get(&keys).clone();
        object.insert(key, value);
        let line = Value::Object(object).to_string();
        let record = match parse_line(line.as_bytes()) {
            Line::Audit(record) => *record,
            Line::Damaged(damage) => match damage.kept {
                Some(record) => *record,
                None => return Ok(()),
            },
            other => return Err(TestCaseError::fail(format!("{other:?} for {line}"))),
        };
        let peer = parse_line(records[0].as_bytes());
        let mut all = vec![record];
        if let Line::Audit(peer) = peer {
            all.push(*peer);
        }
        render(&audit_of(all))?;
    }

    /// Arbitrary bytes, and real records with bytes flipped, inserted or removed: no panic,
    /// every line counted once.
    #[test]
    fn any_bytes_are_read_without_panic(
        noise in prop::collection::vec(any::<u8>(), 0..2048),
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..8),
    ) {
        let records = known_records();
        let mut line = pick.get(&records).as_bytes().to_vec();
        for (at, byte, op) in edits {
            let i = at.index(line.len() + 1);
            match op {
                0 if i < line.len() => line[i] = byte,
                1 => line.insert(i, byte),
                _ if i < line.len() => { line.remove(i); }
                _ => {}
            }
        }
        let mut input = noise.clone();
        input.push(b'\n');
        input.extend_from_slice(&line);
        let mut reading = Reading::default();
        let mut kept = Vec::new();
        read_lines(&input[..], "fuzz", &mut reading, &mut |r| kept.push(r)).unwrap();
        let t = reading.tally;
        let mut segments: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if segments.last().is_some_and(|l| l.is_empty()) {
            segments.pop();
        }
        let blank = segments.iter().filter(|l| l.trim_ascii().is_empty()).count() as u64;
        prop_assert_eq!(t.lines, segments.len() as u64);
        prop_assert_eq!(t.audit + t.damaged + t.malformed + t.foreign + t.unsupported_version + blank, t.lines);
        if !kept.is_empty() {
            render(&audit_of(kept))?;
        }
    }

    /// Histories of any times (i64 and around the year 9999), durations (u64) and names
    /// (control characters, long, any Unicode): every format renders.
    #[test]
    fn any_history_renders(records in prop::collection::vec(any_record(), 1..12)) {
        render(&audit_of(records))?;
    }
}
