//! Log output: JSON lines (one object per event, for journald and `audit`) or plain text.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use flink_ha_core::audit_event::{format_time_millis, AuditEvent, AuditLevel, FailoverFigures, SCHEMA_VERSION};
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One JSON object per line: timestamp (UTC, microseconds), level, target, fields.
    Json,
    /// Human-readable lines.
    Text,
}

/// Audit records queued for `log.audit_file` at most; beyond, records are dropped (and counted)
/// rather than making the loop wait for a slow disk.
const AUDIT_QUEUE_LINES: usize = 16 * 1024;

/// Failed writes to `log.audit_file` since the start.
static AUDIT_WRITE_FAILURES: AtomicU64 = AtomicU64::new(0);
/// The first failure's error, until [`first_audit_failure`] hands it out.
static FIRST_AUDIT_FAILURE: OnceLock<String> = OnceLock::new();
static FIRST_AUDIT_FAILURE_TAKEN: AtomicBool = AtomicBool::new(false);
/// The audit writer's count of records dropped because its queue was full.
static AUDIT_DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// Audit records that did not reach `log.audit_file` since the start: failed writes (a full
/// disk) plus records dropped because the writer fell behind.
pub(crate) fn audit_write_failures() -> u64 {
    AUDIT_WRITE_FAILURES.load(Ordering::Relaxed) + AUDIT_DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// The error of the first failed write to `log.audit_file`, once: later calls return `None`.
pub(crate) fn first_audit_failure() -> Option<String> {
    let error = FIRST_AUDIT_FAILURE.get()?;
    (!FIRST_AUDIT_FAILURE_TAKEN.swap(true, Ordering::Relaxed)).then(|| error.clone())
}

/// The audit file, written on the audit writer's own thread: counts its failures.
struct AuditFile(std::fs::File);

impl Write for AuditFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).inspect_err(|e| {
            AUDIT_WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
            let _ = FIRST_AUDIT_FAILURE.set(e.to_string());
        })
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf).inspect_err(|e| {
            AUDIT_WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
            let _ = FIRST_AUDIT_FAILURE.set(e.to_string());
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Keeps the audit writer's thread; dropping it writes what is queued.
pub(crate) struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Opens `file` for appending, created with mode 0640 (the umask can only tighten it).
pub(crate) fn open_private_append(file: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).mode(0o640).open(file)
}

/// Installs the global subscriber: every record to stdout in `format` (`RUST_LOG` overrides the
/// default `info`), and audit records also as JSON lines to `audit_file` when given, written by a
/// thread of their own so that a slow or full disk never holds up the caller: failed writes and
/// dropped records are counted ([`audit_write_failures`]), the first error is kept
/// ([`first_audit_failure`]). Keep the returned guard until the end of the process.
pub(crate) fn init(format: LogFormat, audit_file: Option<&Path>) -> std::io::Result<LogGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=warn"));
    let stdout = match format {
        LogFormat::Json => json_lines(std::io::stdout).boxed(),
        LogFormat::Text => fmt::layer().with_writer(std::io::stdout).boxed(),
    };
    let audit = match audit_file {
        Some(path) => {
            let file = open_private_append(path)?;
            let (writer, guard) = NonBlockingBuilder::default()
                .lossy(true)
                .buffered_lines_limit(AUDIT_QUEUE_LINES)
                .thread_name("audit-writer")
                .finish(AuditFile(file));
            let _ = AUDIT_DROPPED.set(writer.error_counter());
            let layer = json_lines(writer).with_filter(Targets::new().with_target(AUDIT_TARGET, Level::INFO));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let (audit, guard) = audit;
    tracing_subscriber::registry().with(stdout.with_filter(filter)).with(audit).init();
    Ok(LogGuard(guard))
}

/// One JSON object per event, its fields flattened beside `timestamp`, `level` and `target`:
/// the line format of docs/audit-events.md.
fn json_lines<S, W>(writer: W) -> fmt::Layer<S, fmt::format::JsonFields, fmt::format::Format<fmt::format::Json>, W>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> fmt::MakeWriter<'w> + 'static,
{
    fmt::layer().json().flatten_event(true).with_current_span(false).with_span_list(false).with_writer(writer)
}

/// The tracing target of audit records (docs/audit-events.md).
pub(crate) const AUDIT_TARGET: &str = flink_ha_core::audit_event::AUDIT_TARGET;

/// One tracing event at the audit event's level, with the common fields first and then the
/// event's own, each named after its binding (field-init shorthand, so that a record's field is
/// named as in [`AuditEvent`]). Fields after `;` are text written as it is (not quoted in the
/// text format, as the writer did before the type existed). Fields that are `None` are left out.
macro_rules! audit_record {
    ($level:expr, $event:expr, $node:expr, $epoch:expr, $message:expr $(, $field:ident)* $(; $($shown:ident),+)?) => {
        match $level {
            AuditLevel::Info => tracing::info!(target: "audit", v = SCHEMA_VERSION, event = $event, node = $node,
                epoch = $epoch, $($field,)* $($($shown = $shown.as_deref().map(tracing::field::display),)+)? "{}", $message),
            AuditLevel::Warn => tracing::warn!(target: "audit", v = SCHEMA_VERSION, event = $event, node = $node,
                epoch = $epoch, $($field,)* $($($shown = $shown.as_deref().map(tracing::field::display),)+)? "{}", $message),
            AuditLevel::Error => tracing::error!(target: "audit", v = SCHEMA_VERSION, event = $event, node = $node,
                epoch = $epoch, $($field,)* $($($shown = $shown.as_deref().map(tracing::field::display),)+)? "{}", $message),
        }
    };
}

/// Writes one audit record (docs/audit-events.md): `event` with its level and fields, the node,
/// the term (`epoch`; an event that carries its own writes that one) and `message` for people.
pub(crate) fn write_audit(node: &str, epoch: Option<u64>, event: &AuditEvent, message: &str) {
    use AuditEvent as E;
    let (level, name) = (event.level(), event.name());
    match event {
        E::Joined { path, quorum } => audit_record!(level, name, node, epoch, message, path, quorum),
        E::SessionStarted { session_id, negotiated_timeout_ms } => audit_record!(level, name, node, epoch, message,
            negotiated_timeout_ms; session_id),
        E::Elected { epoch } => audit_record!(level, name, node, Some(*epoch), message),
        E::JobManagerSpawned { pid, attempt } => {
            audit_record!(level, name, node, epoch, message, pid, attempt)
        }
        E::JobManagerReady { startup_ms } => audit_record!(level, name, node, epoch, message, startup_ms),
        E::JobManagerExited { code } => audit_record!(level, name, node, epoch, message, code),
        E::JobManagerStopped { reason, code } => {
            audit_record!(level, name, node, epoch, message, code; reason)
        }
        E::JobManagerRestarted { delay_ms, restarts_in_window } => {
            audit_record!(level, name, node, epoch, message, delay_ms, restarts_in_window)
        }
        E::JobManagerSpawnFailed { error } => audit_record!(level, name, node, epoch, message, error),
        E::Resigned { restarts_in_window } => {
            audit_record!(level, name, node, epoch, message, restarts_in_window)
        }
        E::Fenced { silent_for_ms } => audit_record!(level, name, node, epoch, message, silent_for_ms),
        E::SessionReconnected { disconnected_for_ms } => {
            audit_record!(level, name, node, epoch, message, disconnected_for_ms)
        }
        E::SessionTimeoutTooShort { negotiated_ms, max_stop_grace_ms } => {
            audit_record!(level, name, node, epoch, message, negotiated_ms, max_stop_grace_ms)
        }
        E::TickTimeTooLow { tick_time_ms, implied_tick_time_ms, requested_ms, negotiated_ms } => {
            audit_record!(
                level,
                name,
                node,
                epoch,
                message,
                tick_time_ms,
                implied_tick_time_ms,
                requested_ms,
                negotiated_ms
            )
        }
        E::FailoverCompleted(figures) | E::BudgetExceeded(figures) => {
            let FailoverFigures {
                epoch: figures_epoch,
                previous_node,
                previous_epoch,
                cause,
                outage_ms,
                detection_ms,
                election_ms,
                start_ms,
                readiness_ms,
                error_bound_ms,
                budget_ms,
                within_budget,
                outage_start,
                ready_at,
                failovers_total,
            } = figures;
            let (outage_start, ready_at) = (outage_start.map(format_time_millis), ready_at.map(format_time_millis));
            audit_record!(level, name, node, figures_epoch.or(epoch), message, previous_node,
                previous_epoch, cause, outage_ms, detection_ms,
                election_ms, start_ms, readiness_ms,
                error_bound_ms, budget_ms, within_budget, failovers_total; outage_start, ready_at)
        }
        E::HeldByPause { what } => audit_record!(level, name, node, epoch, message, what),
        E::SteppedAside { epoch } => audit_record!(level, name, node, Some(*epoch), message),
        E::ElectionBlocked { path, blocker, why, first } => audit_record!(level, name, node, epoch, message,
            path, blocker, first; why),
        E::ElectionUnblocked { blocker } => audit_record!(level, name, node, epoch, message, blocker),
        E::AclFixed { path, old_acl } => audit_record!(level, name, node, epoch, message, path; old_acl),
        E::HookStarted { hook, ha_event, pid, command } => audit_record!(level, name, node, epoch, message,
            hook, ha_event, pid; command),
        E::HookSucceeded { hook, ha_event, duration_ms } => {
            audit_record!(level, name, node, epoch, message, hook, ha_event, duration_ms)
        }
        E::HookFailed { hook, ha_event, command, duration_ms, code, signal, error } => audit_record!(level, name,
            node, epoch, message, hook, ha_event, duration_ms, code, signal; command, error),
        E::HookTimedOut { hook, ha_event, duration_ms, timeout_ms } => {
            audit_record!(level, name, node, epoch, message, hook, ha_event, duration_ms, timeout_ms)
        }
        E::LeadershipLost
        | E::SessionDisconnected
        | E::SessionExpired
        | E::Shutdown
        | E::Exited
        | E::Paused
        | E::Resumed
        | E::HandingOver
        | E::HandoverCompleted => audit_record!(level, name, node, epoch, message),
        // Read from other writers' logs only: nothing of this kind is ever written.
        E::Other => {}
    }
}

/// The longest line of output forwarded as one record; longer ones are cut into pieces.
const MAX_LINE: usize = 64 * 1024;

/// Calls `f` with every line of `input` until its end, bytes that are not UTF-8 replaced by
/// U+FFFD (output of other programs is whatever they write), the line end dropped, lines longer
/// than 64 KiB cut into pieces.
pub(crate) async fn each_line_lossy(input: impl AsyncRead + Unpin, mut f: impl FnMut(&str)) {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    let mut emit = |line: &mut Vec<u8>| {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        f(&String::from_utf8_lossy(line));
        line.clear();
    };
    loop {
        let buf = match input.fill_buf().await {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buf.is_empty() {
            break;
        }
        let (taken, complete) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                line.extend_from_slice(&buf[..end]);
                (end + 1, true)
            }
            None => {
                line.extend_from_slice(buf);
                (buf.len(), false)
            }
        };
        input.consume(taken);
        if complete || line.len() >= MAX_LINE {
            emit(&mut line);
        }
    }
    if !line.is_empty() {
        emit(&mut line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::audit::record::{parse_line, Line, KNOWN_EVENTS};
    use serde_json::Value;
    use std::sync::{Arc, Mutex};

    /// Every event of the type, written as the daemon writes it, reads back as the same event
    /// with the same fields and values as its serde form: writer, reader and type agree.
    #[test]
    fn every_audit_event_is_written_as_its_type_says() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let writer = move || Sink(sink.clone());
        let subscriber = tracing_subscriber::registry().with(json_lines(writer));
        let examples = AuditEvent::examples();
        tracing::subscriber::with_default(subscriber, || {
            for event in &examples {
                write_audit("jm2", Some(9), event, "in words");
            }
        });
        let written = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        let written: Vec<&str> = written.lines().collect();
        assert_eq!(written.len(), examples.len());
        for (line, event) in written.iter().zip(&examples) {
            let Value::Object(mut record) = serde_json::from_str::<Value>(line).unwrap() else { panic!("{line}") };
            for (key, value) in [("target", "audit"), ("level", event.level().as_str()), ("message", "in words")] {
                assert_eq!(record.remove(key), Some(Value::from(value)), "{line}");
            }
            assert_eq!(record.remove("v"), Some(Value::from(1)), "{line}");
            assert!(record.remove("timestamp").is_some_and(|t| t.is_string()), "{line}");
            let Value::Object(mut expected) = serde_json::to_value(event).unwrap() else { panic!() };
            expected.entry("epoch").or_insert(Value::from(9));
            expected.insert("node".into(), Value::from("jm2"));
            assert_eq!(record, expected, "{line}");
            let Line::Audit(read) = parse_line(line.as_bytes()) else { panic!("{line}") };
            assert_eq!(read.name, event.name());
            let mut back = read.event;
            if let AuditEvent::FailoverCompleted(f) | AuditEvent::BudgetExceeded(f) = &mut back {
                f.failovers_total = Some(2);
            }
            let rebuilt = KNOWN_EVENTS.contains(&event.name()) && event.name() != "jobmanager_spawn_failed";
            assert_eq!(back, if rebuilt { event.clone() } else { AuditEvent::Other }, "{line}");
        }
    }

    /// A writer into a shared buffer.
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn lines_are_forwarded_lossily_and_cut_when_too_long() {
        let mut input: Vec<u8> = b"one\r\ntw\xffo\nthree".to_vec();
        input.extend(std::iter::repeat_n(b'x', 2 * MAX_LINE + 10));
        let mut lines = Vec::new();
        each_line_lossy(&input[..], |line| lines.push(line.to_string())).await;
        assert_eq!(lines[0], "one");
        assert_eq!(lines[1], "tw\u{fffd}o");
        let rest = lines[2..].concat();
        assert_eq!(rest, format!("three{}", "x".repeat(2 * MAX_LINE + 10)));
        assert!(lines.len() >= 4, "a long line is cut: {:?}", lines.iter().map(String::len).collect::<Vec<_>>());
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE + 8 * 1024));
    }
}
