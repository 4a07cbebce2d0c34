//! Typed audit records (schema version 1, docs/audit-events.md) and the classification of one
//! log line: an audit record, a line of something else, or a damaged line.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The schema version this reader understands (`"v":1`).
pub const SCHEMA_VERSION: u64 = 1;

/// The `target` of every audit record.
pub const AUDIT_TARGET: &str = "audit";

/// A point in time: microseconds since the Unix epoch (UTC).
pub type Micros = i64;

/// Parses an RFC 3339 UTC timestamp (`2026-11-22T18:22:20.628980Z`) to microseconds.
pub fn parse_time(text: &str) -> Option<Micros> {
    let at = humantime::parse_rfc3339(text).ok()?;
    i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_micros()).ok()
}

/// Formats microseconds since the epoch as RFC 3339 UTC with microseconds.
pub fn format_time(at: Micros) -> String {
    humantime::format_rfc3339_micros(to_system_time(at)).to_string()
}

/// Formats microseconds since the epoch as RFC 3339 UTC with milliseconds (for tables).
pub fn format_time_millis(at: Micros) -> String {
    humantime::format_rfc3339_millis(to_system_time(at)).to_string()
}

fn to_system_time(at: Micros) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(at.max(0) as u64)
}

/// One audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
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
    /// The event with its fields.
    pub event: Event,
}

/// An audit event and its own fields. Fields that the rebuild needs are required; a record
/// without them is malformed. The others are optional, so that a missing detail never costs the
/// record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
    /// The daemon started and contends for leadership.
    #[serde(rename = "joined")]
    Joined {
        /// The election path.
        path: Option<String>,
        /// The ZooKeeper connect string.
        quorum: Option<String>,
    },
    /// A ZooKeeper session was established.
    #[serde(rename = "session_started")]
    SessionStarted {
        /// The session id, as text.
        session_id: Option<String>,
        /// The session timeout the server granted.
        negotiated_timeout_ms: Option<u64>,
    },
    /// This node leads.
    #[serde(rename = "elected")]
    Elected {
        /// The leadership term.
        epoch: u64,
    },
    /// The JobManager process started.
    #[serde(rename = "jobmanager_spawned")]
    JobManagerSpawned {
        /// Its process id.
        pid: Option<u32>,
        /// Which start within this term (1 = first).
        attempt: Option<u32>,
    },
    /// The JobManager answered its readiness probe.
    #[serde(rename = "jobmanager_ready")]
    JobManagerReady {
        /// Spawn to ready.
        startup_ms: Option<u64>,
    },
    /// The JobManager exited on its own (a crash).
    #[serde(rename = "jobmanager_exited")]
    JobManagerExited {
        /// Its exit code (a signal death as the daemon reports it).
        code: Option<i64>,
    },
    /// The JobManager was stopped by the daemon.
    #[serde(rename = "jobmanager_stopped")]
    JobManagerStopped {
        /// `Fenced`, `LeadershipLost`, `Unhealthy` or `Shutdown`.
        reason: Option<String>,
        /// Its exit code.
        code: Option<i64>,
    },
    /// A local restart of the JobManager is scheduled.
    #[serde(rename = "jobmanager_restarted")]
    JobManagerRestarted {
        /// Delay before the restart.
        delay_ms: Option<u64>,
        /// Restarts within the restart window so far.
        restarts_in_window: Option<u32>,
    },
    /// Too many restarts: this node gives leadership away.
    #[serde(rename = "resigned")]
    Resigned {
        /// Restarts within the restart window.
        restarts_in_window: Option<u32>,
    },
    /// The JobManager is stopped because the session could not be proven alive.
    #[serde(rename = "fenced")]
    Fenced {
        /// Time since the server was last heard from.
        silent_for_ms: Option<u64>,
    },
    /// Leadership is lost.
    #[serde(rename = "leadership_lost")]
    LeadershipLost,
    /// The connection to ZooKeeper dropped.
    #[serde(rename = "session_disconnected")]
    SessionDisconnected,
    /// The connection came back within the session.
    #[serde(rename = "session_reconnected")]
    SessionReconnected {
        /// How long it was gone.
        disconnected_for_ms: Option<u64>,
    },
    /// The session expired; the daemon rejoins.
    #[serde(rename = "session_expired")]
    SessionExpired,
    /// A failover ended: written by the new leader once its JobManager is ready.
    #[serde(rename = "failover_completed")]
    FailoverCompleted(Failover),
    /// The same figures as `failover_completed`, logged additionally at WARN when over budget.
    #[serde(rename = "budget_exceeded")]
    BudgetExceeded(Failover),
    /// The daemon is shutting down.
    #[serde(rename = "shutdown")]
    Shutdown,
    /// The daemon finished its shutdown.
    #[serde(rename = "exited")]
    Exited,
    /// An event this reader does not know (kept: it still shows the node was alive).
    #[serde(other)]
    Other,
}

/// The figures of one failover, as the new leader logged them. Durations in milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Failover {
    /// The new leadership term.
    pub epoch: u64,
    /// The previous leader.
    pub previous_node: Option<String>,
    /// The previous term.
    pub previous_epoch: Option<u64>,
    /// `leader_lost`, `handover` or `resigned`.
    pub cause: Option<String>,
    /// From `outage_start` to `ready_at`.
    pub outage_ms: u64,
    /// Outage start until the previous leader's election node was gone.
    pub detection_ms: Option<u64>,
    /// From then until the new leader was elected.
    pub election_ms: Option<u64>,
    /// Election to JobManager spawn.
    pub start_ms: Option<u64>,
    /// Spawn to ready.
    pub readiness_ms: Option<u64>,
    /// How much shorter the real outage may have been.
    pub error_bound_ms: Option<u64>,
    /// The budget the daemon judged against.
    pub budget_ms: Option<u64>,
    /// The daemon's verdict.
    pub within_budget: Option<bool>,
    /// When the previous leader was last seen serving (ZooKeeper server clock).
    #[serde(default, deserialize_with = "optional_time")]
    pub outage_start: Option<Micros>,
    /// When the new JobManager was ready (ZooKeeper server clock).
    #[serde(default, deserialize_with = "optional_time")]
    pub ready_at: Option<Micros>,
}

fn optional_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Micros>, D::Error> {
    match Option::<Cow<'de, str>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 UTC time: {text}"))),
    }
}

/// What one line of input is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// An empty line (not counted anywhere).
    Blank,
    /// An audit record of schema version 1.
    Audit(Box<Record>),
    /// Not an audit record: plain text, or JSON of another target or program.
    Foreign,
    /// An audit record of a schema version other than 1.
    UnsupportedVersion,
    /// A damaged line: JSON cut short or corrupted, or an audit record without a usable
    /// `timestamp`, `node` or `event` or with a field of the wrong type.
    Malformed,
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

/// The fields every audit record has.
#[derive(Deserialize)]
struct Common {
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    level: Option<String>,
    node: String,
    event: String,
    #[serde(default)]
    epoch: Option<u64>,
}

/// Classifies one line (without its newline): as the daemon writes it, as `journalctl -o json`
/// exports it, or with a syslog-style prefix before the JSON.
pub fn parse_line(line: &[u8]) -> Line {
    parse_with_fallback_time(line, None, true)
}

fn parse_with_fallback_time(line: &[u8], fallback_at: Option<Micros>, unwrap_journal: bool) -> Line {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Line::Blank;
    }
    if line[0] != b'{' {
        // Plain text; or a prefixed record (`journalctl -o short`, syslog files): try the JSON
        // after the prefix when the line names the audit target.
        return match find(line, b"\"target\":\"audit\"").and_then(|_| line.iter().position(|&b| b == b'{')) {
            Some(brace) => match parse_with_fallback_time(&line[brace..], fallback_at, false) {
                Line::Malformed | Line::Blank => Line::Foreign,
                other => other,
            },
            None => Line::Foreign,
        };
    }
    let envelope: Envelope = match serde_json::from_slice(line) {
        Ok(envelope) => envelope,
        Err(_) => return Line::Malformed,
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
                Value::String(text) => parse_with_fallback_time(text.as_bytes(), realtime, false),
                Value::Array(items) => {
                    let bytes: Option<Vec<u8>> =
                        items.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
                    match bytes {
                        Some(bytes) => parse_with_fallback_time(&bytes, realtime, false),
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

fn parse_audit(line: &[u8], fallback_at: Option<Micros>) -> Line {
    let Ok(value) = serde_json::from_slice::<Value>(line) else {
        return Line::Malformed;
    };
    if value.get("v").and_then(Value::as_u64) != Some(SCHEMA_VERSION) {
        return Line::UnsupportedVersion;
    }
    let Ok(common) = Common::deserialize(&value) else {
        return Line::Malformed;
    };
    let at = match &common.timestamp {
        Some(text) => parse_time(text),
        None => fallback_at,
    };
    let (Some(at), Ok(event)) = (at, Event::deserialize(&value)) else {
        return Line::Malformed;
    };
    Line::Audit(Box::new(Record {
        at,
        level: common.level.unwrap_or_default(),
        node: common.node,
        epoch: common.epoch,
        name: common.event,
        event,
    }))
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
        assert_eq!(record.event, Event::Elected { epoch: 8 });
        assert_eq!(record.level, "INFO");
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(parse_line(b"  \r"), Line::Blank);
        assert_eq!(parse_line(b"Starting Flink JobManager"), Line::Foreign);
        assert_eq!(parse_line(br#"{"target":"jobmanager","message":"x"}"#), Line::Foreign);
        assert_eq!(parse_line(br#"{"target":5}"#), Line::Foreign);
        assert_eq!(parse_line(&ELECTED.as_bytes()[..60]), Line::Malformed);
        assert_eq!(parse_line(ELECTED.replace("\"v\":1", "\"v\":2").as_bytes()), Line::UnsupportedVersion);
        assert_eq!(parse_line(ELECTED.replace("\"node\":\"jm2\",", "").as_bytes()), Line::Malformed);
        assert_eq!(parse_line(ELECTED.replace(",\"epoch\":8", "").as_bytes()), Line::Malformed);
        let unknown = ELECTED.replace("\"elected\"", "\"something_new\"");
        let Line::Audit(record) = parse_line(unknown.as_bytes()) else { panic!() };
        assert_eq!((record.event, record.name.as_str()), (Event::Other, "something_new"));
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

    #[test]
    fn a_syslog_prefix_is_skipped() {
        let line = format!("Nov 22 18:22:20 h2 flink-ha-supervisor[812]: {ELECTED}");
        assert!(matches!(parse_line(line.as_bytes()), Line::Audit(_)));
    }
}
