//! Log output: JSON lines (one object per event, for journald and `audit`) or plain text.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter};

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
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
pub fn audit_write_failures() -> u64 {
    AUDIT_WRITE_FAILURES.load(Ordering::Relaxed) + AUDIT_DROPPED.get().map_or(0, |c| c.dropped_lines() as u64)
}

/// The error of the first failed write to `log.audit_file`, once: later calls return `None`.
pub fn first_audit_failure() -> Option<String> {
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
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// Opens `file` for appending, created with mode 0640 (the umask can only tighten it).
pub fn open_private_append(file: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().create(true).append(true).mode(0o640).open(file)
}

/// Installs the global subscriber: every record to stdout in `format` (`RUST_LOG` overrides the
/// default `info`), and audit records also as JSON lines to `audit_file` when given, written by a
/// thread of their own so that a slow or full disk never holds up the caller: failed writes and
/// dropped records are counted ([`audit_write_failures`]), the first error is kept
/// ([`first_audit_failure`]). Keep the returned guard until the end of the process.
pub fn init(format: LogFormat, audit_file: Option<&Path>) -> std::io::Result<LogGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=warn"));
    let stdout = fmt::layer().with_writer(std::io::stdout);
    let stdout = match format {
        LogFormat::Json => stdout.json().flatten_event(true).with_current_span(false).with_span_list(false).boxed(),
        LogFormat::Text => stdout.boxed(),
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
            let layer = fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(writer)
                .with_filter(Targets::new().with_target(AUDIT_TARGET, Level::INFO));
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let (audit, guard) = audit;
    tracing_subscriber::registry().with(stdout.with_filter(filter)).with(audit).init();
    Ok(LogGuard(guard))
}

/// The tracing target of audit records (docs/audit-events.md).
pub const AUDIT_TARGET: &str = "audit";

/// The audit schema version written as `v` on every audit record.
pub const AUDIT_SCHEMA_VERSION: u32 = 1;

/// Lets `None` stand for "no epoch" without a type annotation at each call.
pub fn epoch_value(epoch: Option<u64>) -> Option<u64> {
    epoch
}

/// Logs one audit record: `audit_log!(level, "event", node, epoch, fields..., "message")`,
/// with `target: "audit"`, the schema version `v`, the event name, the node and the epoch
/// (omitted when `None`) on every record.
#[macro_export]
macro_rules! audit_log {
    ($level:ident, $event:expr, $node:expr, $epoch:expr, $($rest:tt)+) => {
        tracing::$level!(
            target: "audit",
            v = $crate::outward::logging::AUDIT_SCHEMA_VERSION,
            event = $event,
            node = $node,
            epoch = $crate::outward::logging::epoch_value($epoch),
            $($rest)+
        )
    };
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
