//! The classification of one log line: an audit record (read into the schema's
//! [`AuditEvent`], docs/audit-events.md), a line of something else, or a damaged line.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

pub(crate) use flink_ha_core::audit_event::{
    format_time, format_time_millis, parse_time, AuditEvent, AuditHeader, FailoverFigures, Micros, AUDIT_TARGET,
    MAX_TIME, SCHEMA_VERSION,
};

/// `at` plus `ms` milliseconds, saturating at [`MAX_TIME`].
pub(crate) fn add_ms(at: Micros, ms: u64) -> Micros {
    let us = i64::try_from(ms).unwrap_or(i64::MAX).saturating_mul(1000);
    at.saturating_add(us).min(MAX_TIME)
}

/// Text read from the logs (node ids, causes, reasons, file names) made safe for a terminal:
/// control characters (escape sequences, newlines), backslashes and the invisible characters
/// that reorder text are written as Rust-style escapes (`\u{1b}`, `\n`, `\\`).
pub(crate) fn printable(text: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || c == '\\'
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    }
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One audit record as read: its header's fields and its event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AuditRecord {
    /// `timestamp`: the writing host's wall clock.
    pub at: Micros,
    /// `level`: `INFO`, `WARN` or `ERROR`.
    pub level: String,
    /// `node`: the daemon's node id.
    pub node: String,
    /// `epoch`: the leadership term, on the leader's own records only.
    pub epoch: Option<u64>,
    /// `event`, as written (also for events this reader does not know).
    pub name: String,
    /// The event with its fields ([`AuditEvent::Other`] for the events the rebuild does not
    /// read).
    pub event: AuditEvent,
}

/// The events whose records the rebuild reads. A record of one of them that cannot be read
/// could hide a failover or an overlap.
pub(crate) const KNOWN_EVENTS: [&str; 19] = [
    "joined",
    "session_started",
    "elected",
    "jobmanager_spawned",
    "jobmanager_ready",
    "jobmanager_exited",
    "jobmanager_stopped",
    "jobmanager_restarted",
    "resigned",
    "fenced",
    "leadership_lost",
    "session_disconnected",
    "session_reconnected",
    "session_expired",
    "failover_completed",
    "budget_exceeded",
    "shutdown",
    "exited",
    "jobmanager_spawn_failed",
];

/// Known events whose own fields the rebuild does not read: unreadable fields cannot cost their
/// records.
const FIELDS_UNREAD: [&str; 1] = ["jobmanager_spawn_failed"];

/// What one line of input is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Line {
    /// An empty line (not counted anywhere).
    Blank,
    /// An audit record of schema version 1.
    Audit(Box<AuditRecord>),
    /// Not an audit record: plain text, or JSON of another target or program.
    Foreign,
    /// An audit record of a schema version other than 1.
    UnsupportedVersion,
    /// A damaged line that cannot be the record of an event the rebuild reads: broken JSON of
    /// another target, or an audit record of an event this reader does not know with an
    /// unreadable `timestamp` or `node`.
    Malformed,
    /// A record of a known event (or a line that may be one) that cannot be read as it is.
    Damaged(Box<Damage>),
}

/// What is wrong with a damaged record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Damage {
    /// The event, when the line shows one this reader knows.
    pub event: Option<&'static str>,
    /// What is wrong, in words (may quote the input: print it through [`printable`]).
    pub problem: String,
    /// The record without its one unreadable optional field, when that is all that is wrong;
    /// the rebuild uses it.
    pub kept: Option<Box<AuditRecord>>,
}

impl Damage {
    fn line(event: Option<&'static str>, problem: impl Into<String>) -> Line {
        Line::Damaged(Box::new(Damage { event, problem: problem.into(), kept: None }))
    }
}

/// The few top-level fields that tell what a JSON line is; everything else is skipped unread.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    target: Option<Value>,
    /// journald's export: the original line.
    #[serde(default, rename = "MESSAGE")]
    journal_message: Option<Value>,
    /// journald's receive time, µs since the epoch, as a decimal string.
    #[serde(default, rename = "__REALTIME_TIMESTAMP")]
    journal_realtime: Option<Value>,
}

/// Fields that are never dropped to keep a record: without them it says something else.
const ESSENTIAL: [&str; 8] = ["timestamp", "level", "v", "event", "node", "target", "epoch", "outage_ms"];

/// Records with more fields than this are not searched for the one unreadable field.
const MAX_SALVAGE_FIELDS: usize = 64;

/// Where a line came from: the daemon's own stream (a line starting with `{"` is one of its
/// records), or after a syslog-style prefix (other programs' text is common there).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Own,
    Prefixed,
}

/// Classifies one line (without its newline): as the daemon writes it, as `journalctl -o json`
/// exports it, or with a syslog-style prefix before the JSON.
pub(crate) fn parse_line(line: &[u8]) -> Line {
    parse_with_fallback_time(line, None, true, Context::Own)
}

fn parse_with_fallback_time(line: &[u8], fallback_at: Option<Micros>, unwrap_journal: bool, context: Context) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Line::Blank;
    }
    if line[0] != b'{' {
        // Plain text; or a prefixed record (`journalctl -o short`, syslog files): try the JSON
        // after the prefix when the line shows an audit record.
        let audit_like = find(line, b"\"target\":\"audit\"").is_some() || visible_event(line).is_some();
        return match find(line, b"{\"").filter(|_| audit_like) {
            Some(brace) => match parse_with_fallback_time(&line[brace..], fallback_at, false, Context::Prefixed) {
                Line::Malformed | Line::Blank => Line::Foreign,
                other => other,
            },
            None => Line::Foreign,
        };
    }
    let envelope: Envelope = match serde_json::from_slice(line) {
        Ok(envelope) => envelope,
        Err(_) => return broken(line, context),
    };
    if envelope.target.as_ref().and_then(Value::as_str) == Some(AUDIT_TARGET) {
        return parse_audit(line, fallback_at);
    }
    match envelope.journal_message {
        Some(message) if unwrap_journal => {
            let realtime = envelope.journal_realtime.as_ref().and_then(|v| match v {
                Value::String(s) => s.parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            });
            match message {
                Value::String(text) => parse_with_fallback_time(text.as_bytes(), realtime, false, Context::Own),
                Value::Array(items) => {
                    let bytes: Option<Vec<u8>> =
                        items.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
                    match bytes {
                        Some(bytes) => parse_with_fallback_time(&bytes, realtime, false, Context::Own),
                        None => Line::Malformed,
                    }
                }
                // journalctl writes null for a field over 4096 bytes without --all.
                Value::Null => Line::Foreign,
                _ => Line::Malformed,
            }
        }
        _ => Line::Foreign,
    }
}

/// A line starting with `{` that is not complete JSON (cut short by a crash or a full disk, or
/// corrupted). It is damaged audit record when what is left shows one (its target or a known
/// event), or when it is one of the daemon's own lines that shows neither: it may have been one.
fn broken(line: &[u8], context: Context) -> Line {
    let target = quoted_value(line, b"\"target\":\"");
    if target.is_some_and(|t| t != AUDIT_TARGET.as_bytes()) {
        return Line::Malformed;
    }
    let event = visible_event(line);
    let shows_event = quoted_value(line, b"\"event\":\"").is_some();
    if target.is_some() || event.is_some() {
        return Damage::line(event, "not complete JSON (cut short or corrupted)");
    }
    if !shows_event && context == Context::Own && line.starts_with(b"{\"") {
        return Damage::line(None, "not complete JSON (cut short or corrupted); it may have been an audit record");
    }
    Line::Malformed
}

/// The value of `"key":"value"` (the key given with its opening quote of the value), when the
/// closing quote is there and the value has no escapes.
fn quoted_value<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let start = find(line, key)? + key.len();
    let rest = &line[start..];
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| &rest[..end])
}

/// The known event a (possibly damaged) line names.
fn visible_event(line: &[u8]) -> Option<&'static str> {
    let name = quoted_value(line, b"\"event\":\"")?;
    KNOWN_EVENTS.iter().copied().find(|known| known.as_bytes() == name)
}

fn parse_audit(line: &[u8], fallback_at: Option<Micros>) -> Line {
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return broken(line, Context::Own);
    };
    if value.get("v").and_then(Value::as_u64) != Some(SCHEMA_VERSION) {
        return Line::UnsupportedVersion;
    }
    let event_name = value.get("event").and_then(Value::as_str);
    let known = event_name.and_then(|name| KNOWN_EVENTS.iter().copied().find(|&k| k == name));
    // A record of an unknown event only shows that its node was alive: harmless when unreadable.
    // Without a readable event name it may have been any event.
    let damaged = |problem: String| match (event_name, known) {
        (Some(_), None) => Line::Malformed,
        _ => Damage::line(known, problem),
    };
    let common = match AuditHeader::deserialize(&value) {
        Ok(common) => common,
        Err(e) => return damaged(e.to_string()),
    };
    let at = match &common.timestamp {
        Some(text) => match parse_time(text) {
            Some(at) => at,
            None => return damaged(format!("timestamp {text:?} is not an RFC 3339 UTC time up to the year 9999")),
        },
        None => match fallback_at.filter(|at| (0..=MAX_TIME).contains(at)) {
            Some(at) => at,
            None => return damaged("no timestamp".into()),
        },
    };
    let record = |event| AuditRecord {
        at,
        level: common.level.clone().unwrap_or_default(),
        node: common.node.clone(),
        epoch: common.epoch,
        name: common.event.clone(),
        event,
    };
    match read_event(known, &value) {
        Ok(event) => match inconsistency(&event) {
            None => Line::Audit(Box::new(record(event))),
            Some(problem) => damaged(problem.into()),
        },
        Err(e) => match salvage(known, &value) {
            Some((field, event)) if inconsistency(&event).is_none() => Line::Damaged(Box::new(Damage {
                event: known,
                problem: format!("field {field}: {e}; the record is kept without it"),
                kept: Some(Box::new(record(event))),
            })),
            _ => damaged(e.to_string()),
        },
    }
}

/// The event of a record, as far as the rebuild reads it: the events it does not read (unknown
/// ones, and those in [`FIELDS_UNREAD`]) are [`AuditEvent::Other`] whatever their fields hold.
fn read_event(known: Option<&str>, value: &Value) -> Result<AuditEvent, serde_json::Error> {
    match known {
        Some(name) if !FIELDS_UNREAD.contains(&name) => AuditEvent::deserialize(value),
        _ => Ok(AuditEvent::Other),
    }
}

/// The event without the one field that keeps it from being read, when there is such a field
/// and it is not [`ESSENTIAL`].
fn salvage(known: Option<&str>, value: &Value) -> Option<(String, AuditEvent)> {
    let object = value.as_object()?;
    if object.len() > MAX_SALVAGE_FIELDS {
        return None;
    }
    object.keys().filter(|key| !ESSENTIAL.contains(&key.as_str())).find_map(|key| {
        let mut without = object.clone();
        without.remove(key);
        read_event(known, &Value::Object(without)).ok().map(|event| (key.clone(), event))
    })
}

/// Figures of a record that contradict each other.
/// The rebuild needs a failover's term, written as the record's `epoch`.
fn inconsistency(event: &AuditEvent) -> Option<&'static str> {
    match event {
        AuditEvent::FailoverCompleted(f) | AuditEvent::BudgetExceeded(f) => match (f.epoch, f.outage_start, f.ready_at)
        {
            (None, ..) => Some("missing field `epoch`"),
            (_, Some(start), Some(ready)) if start > ready => Some("outage_start lies after ready_at"),
            _ => None,
        },
        _ => None,
    }
}

/// The position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ELECTED: &str = r#"{"timestamp":"2026-11-22T18:22:20.628980Z","level":"INFO","message":"this node leads","event":"elected","node":"jm2","epoch":8,"v":1,"target":"audit"}"#;

    #[test]
    fn times_round_trip_with_microseconds() {
        let at = parse_time("2026-11-22T18:22:20.628980Z").unwrap();
        assert_eq!(at % 1_000_000, 628_980);
        assert_eq!(format_time(at), "2026-11-22T18:22:20.628980Z");
        assert_eq!(format_time_millis(at), "2026-11-22T18:22:20.628Z");
        assert_eq!(parse_time("2026-11-22 18:22:20"), None);
    }

    #[test]
    fn an_audit_line_is_typed() {
        let Line::Audit(record) = parse_line(ELECTED.as_bytes()) else { panic!() };
        assert_eq!(record.node, "jm2");
        assert_eq!(record.epoch, Some(8));
        assert_eq!(record.event, AuditEvent::Elected { epoch: 8 });
        assert_eq!(record.level, "INFO");
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(parse_line(b"  \r"), Line::Blank);
        assert_eq!(parse_line(b"Starting Flink JobManager"), Line::Foreign);
        assert_eq!(parse_line(br#"{"target":"jobmanager","message":"x"}"#), Line::Foreign);
        assert_eq!(parse_line(br#"{"target":5}"#), Line::Foreign);
        let Line::Damaged(cut) = parse_line(&ELECTED.as_bytes()[..60]) else { panic!() };
        assert_eq!((cut.event, cut.kept.is_none()), (None, true), "may have been an audit record");
        let Line::Damaged(cut) = parse_line(&ELECTED.as_bytes()[..120]) else { panic!() };
        assert_eq!(cut.event, Some("elected"));
        assert_eq!(parse_line(br#"{"timestamp":"x","target":"jobmanager","message":"cut"#), Line::Malformed);
        assert_eq!(parse_line(br#"{"level":"INFO","event":"something_new","node":"a"#), Line::Malformed);
        assert_eq!(parse_line(ELECTED.replace("\"v\":1", "\"v\":2").as_bytes()), Line::UnsupportedVersion);
        let damaged = |line: &str| match parse_line(line.as_bytes()) {
            Line::Damaged(damage) => (damage.event, damage.problem, damage.kept.is_some()),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            damaged(&ELECTED.replace("\"node\":\"jm2\",", "")),
            (Some("elected"), "missing field `node`".into(), false)
        );
        assert_eq!(
            damaged(&ELECTED.replace(",\"epoch\":8", "")),
            (Some("elected"), "missing field `epoch`".into(), false)
        );
        let no_time = ELECTED.replace("2026-11-22T18:22:20.628980Z", "10000-01-01T00:00:00Z");
        assert!(damaged(&no_time).1.starts_with("timestamp \"10000-"));
        let unknown_broken = ELECTED.replace("\"elected\"", "\"something_new\"").replace("\"node\":\"jm2\",", "");
        assert_eq!(parse_line(unknown_broken.as_bytes()), Line::Malformed, "an unknown event is harmless");
        let unknown = ELECTED.replace("\"elected\"", "\"something_new\"");
        let Line::Audit(record) = parse_line(unknown.as_bytes()) else { panic!() };
        assert_eq!((record.event, record.name.as_str()), (AuditEvent::Other, "something_new"));
    }

    #[test]
    fn times_and_durations_stay_in_range() {
        assert_eq!(parse_time("9999-12-31T23:59:59.999999Z"), Some(MAX_TIME));
        assert_eq!(format_time(MAX_TIME), "9999-12-31T23:59:59.999999Z");
        assert_eq!(format_time(i64::MAX), "9999-12-31T23:59:59.999999Z");
        assert_eq!(format_time(i64::MIN), "1970-01-01T00:00:00.000000Z");
        assert_eq!(add_ms(MAX_TIME - 1, 1), MAX_TIME);
        assert_eq!(add_ms(0, u64::MAX), MAX_TIME);
        assert_eq!(add_ms(1_000, 2), 3_000);
    }

    #[test]
    fn printable_escapes_what_a_terminal_would_act_on() {
        assert_eq!(printable("jm-1.example"), "jm-1.example");
        assert_eq!(printable("ü→x"), "ü→x");
        assert_eq!(printable("a\u{1b}[2J\nb\\c\u{202e}\u{85}"), r"a\u{1b}[2J\nb\\c\u{202e}\u{85}");
    }

    #[test]
    fn journald_exports_are_unwrapped() {
        let wrapped =
            serde_json::json!({"MESSAGE": ELECTED, "_HOSTNAME": "h2", "__REALTIME_TIMESTAMP": "1795372940628999"});
        let Line::Audit(record) = parse_line(wrapped.to_string().as_bytes()) else { panic!() };
        assert_eq!(record.at, parse_time("2026-11-22T18:22:20.628980Z").unwrap());
        let bytes: Vec<u8> = ELECTED.bytes().collect();
        let as_array = serde_json::json!({"MESSAGE": bytes, "__REALTIME_TIMESTAMP": "1"});
        assert!(matches!(parse_line(as_array.to_string().as_bytes()), Line::Audit(_)));
        let no_time = ELECTED.replace("\"timestamp\":\"2026-11-22T18:22:20.628980Z\",", "");
        let wrapped = serde_json::json!({"MESSAGE": no_time, "__REALTIME_TIMESTAMP": "1795372940000001"});
        let Line::Audit(record) = parse_line(wrapped.to_string().as_bytes()) else { panic!() };
        assert_eq!(record.at, 1_795_372_940_000_001);
        let foreign = serde_json::json!({"MESSAGE": "sshd: accepted key", "_HOSTNAME": "h2"});
        assert_eq!(parse_line(foreign.to_string().as_bytes()), Line::Foreign);
        assert_eq!(parse_line(br#"{"MESSAGE":[300]}"#), Line::Malformed);
    }

    /// The hand-made and captured logs are spelled as the type says: each audit record of a
    /// well-formed fixture has the common fields and its event's own, no other.
    #[test]
    fn the_fixtures_are_written_in_the_types_schema() {
        let examples = AuditEvent::examples();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit");
        let mut checked = 0;
        for dir in ["captured", "crash", "handover", "interleaved", "over-budget", "overlap"] {
            for file in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = file.unwrap().path();
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    let Line::Audit(record) = parse_line(line.as_bytes()) else { continue };
                    let example = examples.iter().find(|e| e.name() == record.name).expect("a known event");
                    let Value::Object(own) = serde_json::to_value(example).unwrap() else { panic!() };
                    let Value::Object(fields) = serde_json::from_str::<Value>(line).unwrap() else { panic!() };
                    for key in fields.keys() {
                        let common = ["timestamp", "level", "target", "v", "node", "epoch", "message"];
                        assert!(
                            common.contains(&key.as_str()) || own.contains_key(key),
                            "{}: {key}: {line}",
                            path.display()
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 100, "{checked} records");
    }

    #[test]
    fn the_known_events_are_events_of_the_type() {
        let examples = AuditEvent::examples();
        for name in KNOWN_EVENTS.iter().chain(&FIELDS_UNREAD) {
            assert!(examples.iter().any(|e| e.name() == *name), "{name}");
        }
    }

    #[test]
    fn a_syslog_prefix_is_skipped() {
        let line = format!("Nov 22 18:22:20 h2 flink-ha-supervisor[812]: {ELECTED}");
        assert!(matches!(parse_line(line.as_bytes()), Line::Audit(_)));
    }
}
