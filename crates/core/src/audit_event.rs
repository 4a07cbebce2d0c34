//! The audit log's schema (version 1, docs/audit-events.md): every event with its own fields, as
//! the daemon writes it and `audit` reads it back.
//!
//! An audit record is one JSON object per line: the fields every record has ([`AuditHeader`]:
//! `timestamp`, `level`, `target`, `v`, `event`, `node`, `epoch`, and the human `message`) and the
//! fields of its event ([`AuditEvent`], tagged by `event`). The daemon writes the header around
//! an [`AuditEvent`]; the reader parses both halves from the same line.
//!
//! Fields that the rebuild of a history needs are required when read; the others are optional,
//! so that a missing detail never costs the record. The writer always writes them.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::failover::Failover;

/// The `target` of every audit record.
pub const AUDIT_TARGET: &str = "audit";

/// The schema version written as `v` on every audit record.
pub const SCHEMA_VERSION: u64 = 1;

/// A point in time: microseconds since the Unix epoch (UTC).
pub type Micros = i64;

/// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999999Z. Times read are never
/// later.
pub const MAX_TIME: Micros = 253_402_300_800_000_000 - 1;

/// The longest duration a record may carry, ms: the whole range of [`MAX_TIME`]. Anything
/// longer cannot be a measured duration and makes the field unreadable.
pub(crate) const MAX_DURATION_MS: u64 = MAX_TIME as u64 / 1000;

/// Parses an RFC 3339 UTC timestamp (`2026-11-22T18:22:20.628980Z`) to microseconds, from
/// 1970 to [`MAX_TIME`].
pub fn parse_time(text: &str) -> Option<Micros> {
    let at = humantime::parse_rfc3339(text).ok()?;
    i64::try_from(at.duration_since(UNIX_EPOCH).ok()?.as_micros()).ok().filter(|&at| at <= MAX_TIME)
}

/// Formats microseconds since the epoch as RFC 3339 UTC with microseconds, as [`parse_time`]
/// reads them. Times outside 1970 ..= [`MAX_TIME`] (which no record holds) print as the nearest
/// end of that range.
pub fn format_time(at: Micros) -> String {
    humantime::format_rfc3339_micros(clamped(at)).to_string()
}

/// `at` as a `SystemTime`, clamped to 1970 ..= [`MAX_TIME`].
fn clamped(at: Micros) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(at.clamp(0, MAX_TIME) as u64)
}

/// The severity each event is written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditLevel {
    /// `INFO`: the normal course of things.
    Info,
    /// `WARN`: something went wrong and the daemon copes.
    Warn,
    /// `ERROR`: something an operator should look at.
    Error,
}

impl AuditLevel {
    /// As written in the `level` field.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditLevel::Info => "INFO",
            AuditLevel::Warn => "WARN",
            AuditLevel::Error => "ERROR",
        }
    }
}

/// The fields every audit record carries besides its event's own. The writer's logging library
/// adds `timestamp`, `level` and `target`; the writer adds `v`, `event`, `node` and `epoch`,
/// and a `message` in words for people, which no reader interprets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHeader {
    /// The writing host's wall clock, RFC 3339 UTC with microseconds (a journald export may
    /// lack it and carry its own receive time instead).
    #[serde(default)]
    pub timestamp: Option<String>,
    /// `INFO`, `WARN` or `ERROR` ([`AuditLevel`]).
    #[serde(default)]
    pub level: Option<String>,
    /// The daemon's `node.id`.
    pub node: String,
    /// The event's name (an [`AuditEvent`] variant, or one this reader does not know).
    pub event: String,
    /// The leadership term the event belongs to: present on the leader's own events.
    #[serde(default)]
    pub epoch: Option<u64>,
}

/// An audit event and its own fields, tagged by the record's `event` field. An `epoch` field of
/// a variant is the record's `epoch`, which that event requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AuditEvent {
    /// The daemon started and contends for leadership.
    Joined {
        /// The election path.
        path: Option<String>,
        /// The ZooKeeper connect string.
        quorum: Option<String>,
    },
    /// A ZooKeeper session was established (at start and after every expiry).
    SessionStarted {
        /// The session id, as text.
        session_id: Option<String>,
        /// The session timeout the server granted.
        negotiated_timeout_ms: Option<u64>,
    },
    /// This node leads.
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
        /// Why: `Fenced`, `LeadershipLost`, `Unhealthy`, `Shutdown` or `Handover`.
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
    /// The JobManager could not be started at all.
    #[serde(rename = "jobmanager_spawn_failed")]
    JobManagerSpawnFailed {
        /// Why, in words.
        error: Option<String>,
    },
    /// Too many restarts: this node gives leadership away.
    Resigned {
        /// Restarts within the restart window.
        restarts_in_window: Option<u32>,
    },
    /// The JobManager is stopped because the session could not be proven alive.
    Fenced {
        /// Time since the server was last heard from.
        silent_for_ms: Option<u64>,
    },
    /// Leadership is lost.
    LeadershipLost,
    /// The connection to ZooKeeper dropped (the session may live on).
    SessionDisconnected,
    /// The connection came back within the session.
    SessionReconnected {
        /// How long it was gone.
        disconnected_for_ms: Option<u64>,
    },
    /// The session expired; the daemon rejoins with a new one.
    SessionExpired,
    /// The granted session timeout cannot keep the fencing promise: this node will not run the
    /// JobManager.
    SessionTimeoutTooShort {
        /// The session timeout the server granted.
        negotiated_ms: Option<u64>,
        /// The longest `jobmanager.stop_grace` that timeout allows.
        max_stop_grace_ms: Option<u64>,
    },
    /// The server granted more than was asked, which proves its tickTime above
    /// `zookeeper.tick_time`: the daemon fences by the proven tick.
    TickTimeTooLow {
        /// `zookeeper.tick_time`.
        tick_time_ms: Option<u64>,
        /// The tickTime the grant proves, which the daemon fences by.
        implied_tick_time_ms: Option<u64>,
        /// The session timeout asked for.
        requested_ms: Option<u64>,
        /// The session timeout the server granted.
        negotiated_ms: Option<u64>,
    },
    /// A failover ended: written by the new leader once its JobManager is ready.
    FailoverCompleted(FailoverFigures),
    /// The same figures as `failover_completed`, written additionally when over budget.
    BudgetExceeded(FailoverFigures),
    /// The daemon is shutting down (SIGTERM, SIGINT).
    Shutdown,
    /// The daemon finished its shutdown.
    Exited,
    /// Maintenance mode on: no failover, restart or stop on the daemon's own initiative.
    Paused,
    /// Maintenance mode off.
    Resumed,
    /// Something the daemon would have done but does not, because it is paused.
    HeldByPause {
        /// What it would have done.
        what: Option<String>,
    },
    /// A planned handover: this leader stops its JobManager and steps down.
    HandingOver,
    /// Elected while a handover names another node: resigning at once.
    SteppedAside {
        /// The term given up.
        epoch: u64,
    },
    /// This node leads as the handover asked; the request is cleared.
    HandoverCompleted,
    /// A node that no daemon removes sits ahead of this node in the election queue.
    ElectionBlocked {
        /// The election path.
        path: Option<String>,
        /// The node's name under the election path.
        blocker: Option<String>,
        /// Why no daemon removes it.
        why: Option<String>,
        /// It is ahead of every contender: nobody leads while it exists.
        first: Option<bool>,
    },
    /// The node that blocked the election is gone (or this node leads).
    ElectionUnblocked {
        /// The node that blocked it.
        blocker: Option<String>,
    },
    /// A node the daemons own had an ACL that let others do more than read; the daemon set it to
    /// its own at the start of a session, before contending.
    AclFixed {
        /// The node.
        path: Option<String>,
        /// Its ACL before, as `scheme:id:perms` entries separated by commas.
        old_acl: Option<String>,
    },
    /// A role-change hook started.
    HookStarted {
        /// `on_leader` or `on_standby`.
        hook: Option<String>,
        /// Its `FLINK_HA_EVENT`.
        ha_event: Option<String>,
        /// Its process id.
        pid: Option<i32>,
        /// Its command line, as a debug-formatted list.
        command: Option<String>,
    },
    /// A hook exited 0.
    HookSucceeded {
        /// `on_leader` or `on_standby`.
        hook: Option<String>,
        /// Its `FLINK_HA_EVENT`.
        ha_event: Option<String>,
        /// How long it ran.
        duration_ms: Option<u64>,
    },
    /// A hook failed: it exited otherwise, could not be started, or could not be waited for.
    HookFailed {
        /// `on_leader` or `on_standby`.
        hook: Option<String>,
        /// Its `FLINK_HA_EVENT`.
        ha_event: Option<String>,
        /// Its command line, when it could not be started.
        command: Option<String>,
        /// How long it ran, when it was started.
        duration_ms: Option<u64>,
        /// Its exit code, when it exited.
        code: Option<i32>,
        /// The signal that killed it, when one did.
        signal: Option<i32>,
        /// Why it could not be started or waited for.
        error: Option<String>,
    },
    /// A hook outlived `hooks.timeout`; its process group was killed.
    HookTimedOut {
        /// `on_leader` or `on_standby`.
        hook: Option<String>,
        /// Its `FLINK_HA_EVENT`.
        ha_event: Option<String>,
        /// How long it ran.
        duration_ms: Option<u64>,
        /// `hooks.timeout`.
        timeout_ms: Option<u64>,
    },
    /// An event this schema does not know (read, never written): it still shows that its node
    /// was alive.
    #[serde(other)]
    Other,
}

impl AuditEvent {
    /// The event's name, as in the `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::Joined { .. } => "joined",
            AuditEvent::SessionStarted { .. } => "session_started",
            AuditEvent::Elected { .. } => "elected",
            AuditEvent::JobManagerSpawned { .. } => "jobmanager_spawned",
            AuditEvent::JobManagerReady { .. } => "jobmanager_ready",
            AuditEvent::JobManagerExited { .. } => "jobmanager_exited",
            AuditEvent::JobManagerStopped { .. } => "jobmanager_stopped",
            AuditEvent::JobManagerRestarted { .. } => "jobmanager_restarted",
            AuditEvent::JobManagerSpawnFailed { .. } => "jobmanager_spawn_failed",
            AuditEvent::Resigned { .. } => "resigned",
            AuditEvent::Fenced { .. } => "fenced",
            AuditEvent::LeadershipLost => "leadership_lost",
            AuditEvent::SessionDisconnected => "session_disconnected",
            AuditEvent::SessionReconnected { .. } => "session_reconnected",
            AuditEvent::SessionExpired => "session_expired",
            AuditEvent::SessionTimeoutTooShort { .. } => "session_timeout_too_short",
            AuditEvent::TickTimeTooLow { .. } => "tick_time_too_low",
            AuditEvent::FailoverCompleted(_) => "failover_completed",
            AuditEvent::BudgetExceeded(_) => "budget_exceeded",
            AuditEvent::Shutdown => "shutdown",
            AuditEvent::Exited => "exited",
            AuditEvent::Paused => "paused",
            AuditEvent::Resumed => "resumed",
            AuditEvent::HeldByPause { .. } => "held_by_pause",
            AuditEvent::HandingOver => "handing_over",
            AuditEvent::SteppedAside { .. } => "stepped_aside",
            AuditEvent::HandoverCompleted => "handover_completed",
            AuditEvent::ElectionBlocked { .. } => "election_blocked",
            AuditEvent::ElectionUnblocked { .. } => "election_unblocked",
            AuditEvent::AclFixed { .. } => "acl_fixed",
            AuditEvent::HookStarted { .. } => "hook_started",
            AuditEvent::HookSucceeded { .. } => "hook_succeeded",
            AuditEvent::HookFailed { .. } => "hook_failed",
            AuditEvent::HookTimedOut { .. } => "hook_timed_out",
            AuditEvent::Other => "other",
        }
    }

    /// The level the event is written with.
    pub fn level(&self) -> AuditLevel {
        use AuditLevel::{Error, Info, Warn};
        match self {
            AuditEvent::JobManagerExited { .. }
            | AuditEvent::JobManagerRestarted { .. }
            | AuditEvent::LeadershipLost
            | AuditEvent::SessionDisconnected
            | AuditEvent::SessionExpired
            | AuditEvent::TickTimeTooLow { .. }
            | AuditEvent::BudgetExceeded(_)
            | AuditEvent::Paused
            | AuditEvent::HeldByPause { .. }
            | AuditEvent::AclFixed { .. } => Warn,
            AuditEvent::JobManagerSpawnFailed { .. }
            | AuditEvent::Resigned { .. }
            | AuditEvent::Fenced { .. }
            | AuditEvent::SessionTimeoutTooShort { .. }
            | AuditEvent::ElectionBlocked { .. }
            | AuditEvent::HookFailed { .. }
            | AuditEvent::HookTimedOut { .. } => Error,
            _ => Info,
        }
    }

    /// One event of every kind the daemon writes, each field set: for tests of the writer, the
    /// reader and docs/audit-events.md against this type.
    pub fn examples() -> Vec<AuditEvent> {
        let text = |s: &str| Some(s.to_string());
        let figures = FailoverFigures {
            epoch: Some(9),
            previous_node: text("jm1"),
            previous_epoch: Some(8),
            cause: text("leader_lost"),
            outage_ms: 14_905,
            detection_ms: Some(10_000),
            election_ms: Some(500),
            start_ms: Some(10),
            readiness_ms: Some(4_395),
            error_bound_ms: Some(1_050),
            budget_ms: Some(30_000),
            within_budget: Some(true),
            outage_start: Some(1_795_338_340_800_000),
            ready_at: Some(1_795_338_355_705_000),
            failovers_total: Some(2),
        };
        vec![
            AuditEvent::Joined { path: text("/flink-ha/election"), quorum: text("zk1:2181,zk2:2181") },
            AuditEvent::SessionStarted { session_id: text("0x100000a2b3c0004"), negotiated_timeout_ms: Some(10_000) },
            AuditEvent::Elected { epoch: 9 },
            AuditEvent::JobManagerSpawned { pid: Some(4242), attempt: Some(1) },
            AuditEvent::JobManagerReady { startup_ms: Some(4_100) },
            AuditEvent::JobManagerExited { code: Some(137) },
            AuditEvent::JobManagerStopped { reason: text("Fenced"), code: Some(143) },
            AuditEvent::JobManagerRestarted { delay_ms: Some(1_000), restarts_in_window: Some(2) },
            AuditEvent::JobManagerSpawnFailed { error: text("No such file or directory (os error 2)") },
            AuditEvent::Resigned { restarts_in_window: Some(5) },
            AuditEvent::Fenced { silent_for_ms: Some(6_700) },
            AuditEvent::LeadershipLost,
            AuditEvent::SessionDisconnected,
            AuditEvent::SessionReconnected { disconnected_for_ms: Some(1_200) },
            AuditEvent::SessionExpired,
            AuditEvent::SessionTimeoutTooShort { negotiated_ms: Some(4_000), max_stop_grace_ms: Some(1_000) },
            AuditEvent::TickTimeTooLow {
                tick_time_ms: Some(500),
                implied_tick_time_ms: Some(2_000),
                requested_ms: Some(2_000),
                negotiated_ms: Some(4_000),
            },
            AuditEvent::FailoverCompleted(figures.clone()),
            AuditEvent::BudgetExceeded(FailoverFigures { within_budget: Some(false), ..figures }),
            AuditEvent::Shutdown,
            AuditEvent::Exited,
            AuditEvent::Paused,
            AuditEvent::Resumed,
            AuditEvent::HeldByPause { what: text("restart") },
            AuditEvent::HandingOver,
            AuditEvent::SteppedAside { epoch: 10 },
            AuditEvent::HandoverCompleted,
            AuditEvent::ElectionBlocked {
                path: text("/flink-ha/election"),
                blocker: text("stale-lock-0000000001"),
                why: text("persistent"),
                first: Some(true),
            },
            AuditEvent::ElectionUnblocked { blocker: text("stale-lock-0000000001") },
            AuditEvent::AclFixed { path: text("/flink-ha"), old_acl: text("world:anyone:cdrwa") },
            AuditEvent::HookStarted {
                hook: text("on_leader"),
                ha_event: text("elected"),
                pid: Some(4300),
                command: text(r#"["/usr/local/bin/announce"]"#),
            },
            AuditEvent::HookSucceeded { hook: text("on_leader"), ha_event: text("elected"), duration_ms: Some(35) },
            AuditEvent::HookFailed {
                hook: text("on_standby"),
                ha_event: text("fenced"),
                command: text(r#"["/usr/local/bin/announce"]"#),
                duration_ms: Some(12),
                code: Some(1),
                signal: Some(9),
                error: text("Permission denied (os error 13)"),
            },
            AuditEvent::HookTimedOut {
                hook: text("on_leader"),
                ha_event: text("elected"),
                duration_ms: Some(30_001),
                timeout_ms: Some(30_000),
            },
        ]
    }
}

/// The figures of one failover, as the new leader measured them. Durations in milliseconds,
/// times on the ZooKeeper server's clock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FailoverFigures {
    /// The new leadership term (the record's `epoch`; a reader requires it).
    #[serde(default)]
    pub epoch: Option<u64>,
    /// The previous leader.
    pub previous_node: Option<String>,
    /// The previous term.
    pub previous_epoch: Option<u64>,
    /// `leader_lost`, `handover` or `resigned`.
    pub cause: Option<String>,
    /// From `outage_start` to `ready_at`.
    #[serde(deserialize_with = "required_ms")]
    pub outage_ms: u64,
    /// Outage start until the previous leader's election node was gone.
    #[serde(default, deserialize_with = "optional_ms")]
    pub detection_ms: Option<u64>,
    /// From then until the new leader was elected.
    #[serde(default, deserialize_with = "optional_ms")]
    pub election_ms: Option<u64>,
    /// Election to JobManager spawn.
    #[serde(default, deserialize_with = "optional_ms")]
    pub start_ms: Option<u64>,
    /// Spawn to ready.
    #[serde(default, deserialize_with = "optional_ms")]
    pub readiness_ms: Option<u64>,
    /// How much shorter the real outage may have been.
    #[serde(default, deserialize_with = "optional_ms")]
    pub error_bound_ms: Option<u64>,
    /// The budget the daemon judged against (`failover.budget`).
    #[serde(default, deserialize_with = "optional_ms")]
    pub budget_ms: Option<u64>,
    /// The daemon's verdict, `outage_ms <= budget_ms`.
    pub within_budget: Option<bool>,
    /// When the previous leader was last seen serving, or stopped serving on purpose.
    #[serde(default, serialize_with = "time_millis", deserialize_with = "optional_time")]
    pub outage_start: Option<Micros>,
    /// When the new JobManager was ready.
    #[serde(default, serialize_with = "time_millis", deserialize_with = "optional_time")]
    pub ready_at: Option<Micros>,
    /// Failovers this daemon process has measured. Informational: written, never read back,
    /// so that its value cannot make a record unreadable.
    #[serde(default, skip_deserializing)]
    pub failovers_total: Option<u64>,
}

impl FailoverFigures {
    /// The record of a failover this node measured as the new leader of term `epoch`, judged
    /// against `budget`; `failovers_total` counts it. A server time no RFC 3339 can show is
    /// written as `not a time (N ms since the epoch)`.
    pub fn measured(f: &Failover, epoch: Option<u64>, budget: Duration, failovers_total: u64) -> Self {
        let ms = |d: Duration| Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let server_time = |ms: i64| Some(ms.saturating_mul(1000));
        FailoverFigures {
            epoch,
            previous_node: Some(f.previous_node.clone()),
            previous_epoch: Some(f.previous_epoch),
            cause: Some(f.cause.as_str().to_string()),
            outage_ms: u64::try_from(f.outage.as_millis()).unwrap_or(u64::MAX),
            detection_ms: ms(f.detection),
            election_ms: ms(f.election),
            start_ms: ms(f.start),
            readiness_ms: ms(f.readiness),
            error_bound_ms: ms(f.error_bound),
            budget_ms: ms(budget),
            within_budget: Some(f.within_budget),
            outage_start: server_time(f.outage_start_ms),
            ready_at: server_time(f.ready_ms),
            failovers_total: Some(failovers_total),
        }
    }
}

/// A time as the writer writes it: RFC 3339 UTC with milliseconds (server `mtime`s are whole
/// milliseconds). A time no RFC 3339 can show (a hostile `mtime` or leader record) is written as
/// `not a time (N ms since the epoch)`, which the reader reports as a damaged record.
fn time_millis<S: Serializer>(at: &Option<Micros>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&format_time_millis(*at)),
        None => serializer.serialize_none(),
    }
}

/// `at` as RFC 3339 UTC with milliseconds; outside 1970 ..= [`MAX_TIME`],
/// `not a time (N ms since the epoch)`.
pub fn format_time_millis(at: Micros) -> String {
    if (0..=MAX_TIME).contains(&at) {
        humantime::format_rfc3339_millis(clamped(at)).to_string()
    } else {
        crate::walltime::rfc3339_ms(at.div_euclid(1000))
    }
}

fn required_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let ms = u64::deserialize(deserializer)?;
    if ms > MAX_DURATION_MS {
        return Err(serde::de::Error::custom(format!("{ms} ms reaches past the year 9999")));
    }
    Ok(ms)
}

fn optional_ms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<u64>::deserialize(deserializer)? {
        Some(ms) if ms > MAX_DURATION_MS => {
            Err(serde::de::Error::custom(format!("{ms} ms reaches past the year 9999")))
        }
        other => Ok(other),
    }
}

fn optional_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Micros>, D::Error> {
    match Option::<Cow<'de, str>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_time(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 UTC time: {text}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The fields an event's record carries besides the common ones, as serde writes them.
    fn own_fields(event: &AuditEvent) -> Vec<String> {
        let Value::Object(fields) = serde_json::to_value(event).unwrap() else { panic!("{event:?}") };
        fields.keys().filter(|key| !["event", "epoch"].contains(&key.as_str())).cloned().collect()
    }

    #[test]
    fn examples_round_trip_and_name_every_event_once() {
        let examples = AuditEvent::examples();
        let mut names: Vec<&str> = examples.iter().map(AuditEvent::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), examples.len(), "one example of each event");
        for event in &examples {
            let value = serde_json::to_value(event).unwrap();
            assert_eq!(value["event"], event.name(), "name() is the serde tag");
            let mut back: AuditEvent = serde_json::from_value(value).unwrap();
            if let AuditEvent::FailoverCompleted(f) | AuditEvent::BudgetExceeded(f) = &mut back {
                f.failovers_total = Some(2);
            }
            assert_eq!(&back, event);
        }
        let unknown: AuditEvent = serde_json::from_str(r#"{"event":"something_new","x":1}"#).unwrap();
        assert_eq!(unknown, AuditEvent::Other);
    }

    /// The rows of the events table in docs/audit-events.md: name, level, the rest of the row.
    fn documented_events(doc: &str) -> Vec<(&str, &str, &str)> {
        let table = doc.split("## Events").nth(1).expect("an Events section");
        table
            .lines()
            .skip_while(|line| !line.starts_with("| event |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').splitn(3, '|').map(str::trim).collect();
                (cells[0].trim_matches('`'), cells[1], cells[2])
            })
            .collect()
    }

    #[test]
    fn docs_describe_every_event_with_its_level_and_fields() {
        let doc = include_str!("../../../docs/audit-events.md");
        let failover_section =
            doc.split("### `failover_completed`").nth(1).and_then(|s| s.split("\n## ").next()).expect("section");
        let documented = documented_events(doc);
        let examples = AuditEvent::examples();
        for event in &examples {
            let Some((_, level, row)) = documented.iter().find(|(name, ..)| *name == event.name()) else {
                panic!("docs/audit-events.md does not list the event `{}`", event.name())
            };
            assert_eq!(*level, event.level().as_str(), "the level of `{}`", event.name());
            let text =
                if row.contains("failover_completed") || row.contains("see below") { failover_section } else { row };
            for field in own_fields(event) {
                assert!(text.contains(&format!("`{field}`")), "docs: `{}` lacks its field `{field}`", event.name());
            }
        }
        for (name, ..) in &documented {
            assert!(examples.iter().any(|e| e.name() == *name), "docs/audit-events.md lists `{name}`, no such event");
        }
    }
}
