//! Log output: JSON lines (one object per event, for journald and `audit`) or plain text.

use std::path::Path;
use std::sync::Mutex;

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

/// Installs the global subscriber: every record to stdout in `format` (`RUST_LOG` overrides the
/// default `info`), and audit records also as JSON lines to `audit_file` when given.
pub fn init(format: LogFormat, audit_file: Option<&Path>) -> std::io::Result<()> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,zookeeper_client=warn"));
    let stdout = fmt::layer().with_writer(std::io::stdout);
    let stdout = match format {
        LogFormat::Json => stdout.json().flatten_event(true).with_current_span(false).with_span_list(false).boxed(),
        LogFormat::Text => stdout.boxed(),
    };
    let audit = match audit_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
            let layer = fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_writer(Mutex::new(file))
                .with_filter(Targets::new().with_target(AUDIT_TARGET, Level::INFO));
            Some(layer)
        }
        None => None,
    };
    tracing_subscriber::registry().with(stdout.with_filter(filter)).with(audit).init();
    Ok(())
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
            v = $crate::logging::AUDIT_SCHEMA_VERSION,
            event = $event,
            node = $node,
            epoch = $crate::logging::epoch_value($epoch),
            $($rest)+
        )
    };
}
