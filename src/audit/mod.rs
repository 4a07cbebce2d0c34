//! `flink-ha-supervisor audit`: reads the daemons' logs of several hosts (as written or as
//! journald exports them), rebuilds each host's leadership and JobManager-running intervals and
//! every failover, and reports outages against a budget and every overlap of two JobManagers.
//!
//! The log schema and the rebuild rules are in docs/audit-events.md. The pieces:
//! [`input`] reads lines in bounded memory, [`record`] types one line, [`rebuild`] turns records
//! into history, [`report`] prints it as text or JSON, [`timeline`] draws it as SVG.

#![warn(missing_docs)]

pub mod input;
pub mod rebuild;
pub mod record;
pub mod report;
pub mod timeline;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use input::{InputError, Source, Tally};
use rebuild::History;
use record::Record;
use report::Summary;

/// Exit code: every failover within budget and no overlap.
pub const EXIT_OK: u8 = 0;
/// Exit code: a failover over budget, or two JobManagers overlapping.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: unusable input (a missing or unreadable file, no audit record at all), or the
/// timeline could not be written.
pub const EXIT_UNUSABLE: u8 = 2;

/// The budget failovers are judged against unless `--budget` says otherwise; the same as the
/// daemon's default `failover.budget`.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// The `audit` subcommand's arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Judge every failover's outage against this budget (the budget logged with each record is
    /// not used).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30s")]
    pub budget: Duration,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also draw the history as a self-contained SVG into this file.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Log files of the daemons, glob patterns (quoted), or `-` for standard input; the daemon's
    /// JSON lines or `journalctl -o json` exports, in any order.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<OsString>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table of failovers, a summary and the overlaps.
    Text,
    /// One JSON object: `failovers`, `summary`, `overlaps`, `hosts`, `skipped_lines`, `input`.
    Json,
}

/// Why an audit has nothing to say (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file is missing or unreadable, or a pattern matches nothing.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The input holds no audit record.
    #[error("no audit record in the input: {}", no_records(.0))]
    NoRecords(Tally),
}

fn no_records(tally: &Tally) -> String {
    if tally.lines == 0 {
        return "it is empty".into();
    }
    format!(
        "{} lines, {} foreign, {} malformed, {} of another schema version; give the daemons' JSON logs \
         (--log-format json) or `journalctl -o json` exports",
        tally.lines, tally.foreign, tally.malformed, tally.unsupported_version
    )
}

/// A finished audit.
#[derive(Debug, Clone)]
pub struct Audit {
    /// The budget failovers were judged against.
    pub budget: Duration,
    /// What was read and skipped.
    pub tally: Tally,
    /// The rebuilt history.
    pub history: History,
    /// Outage statistics, violations and overlaps.
    pub summary: Summary,
}

impl Audit {
    /// Rebuilds the history from audit records in any order.
    pub fn from_records(records: Vec<Record>, tally: Tally, budget: Duration) -> Audit {
        let history = rebuild::rebuild(records, budget);
        let summary = Summary::of(&history, budget);
        Audit { budget, tally, history, summary }
    }

    /// [`EXIT_OK`] when every failover is within budget and nothing overlaps, else
    /// [`EXIT_FINDINGS`].
    pub fn exit_code(&self) -> u8 {
        if self.summary.violations == 0 && self.summary.overlaps == 0 {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        }
    }
}

/// Reads `sources` (standard input from `stdin`) and audits them.
pub fn audit(sources: &[Source], stdin: &mut dyn Read, budget: Duration) -> Result<Audit, AuditError> {
    let mut records = Vec::new();
    let tally = input::read_sources(sources, stdin, |record| records.push(record))?;
    if records.is_empty() {
        return Err(AuditError::NoRecords(tally));
    }
    Ok(Audit::from_records(records, tally, budget))
}

/// Runs the subcommand with explicit streams; returns the exit code.
pub fn run(args: &Args, stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let result = input::expand(&args.logs).map_err(AuditError::from).and_then(|s| audit(&s, stdin, args.budget));
    let audit = match result {
        Ok(audit) => audit,
        Err(e) => {
            let _ = writeln!(stderr, "flink-ha-supervisor audit: {e}");
            return EXIT_UNUSABLE;
        }
    };
    if let Some(path) = &args.timeline {
        if let Err(e) = std::fs::write(path, timeline::svg(&audit)) {
            let _ = writeln!(stderr, "flink-ha-supervisor audit: cannot write the timeline {}: {e}", path.display());
            return EXIT_UNUSABLE;
        }
    }
    let output = match args.format {
        Format::Text => report::text(&audit),
        Format::Json => report::json(&audit),
    };
    // A closed stdout (`| head`) is not an error of the audit.
    let _ = stdout.write_all(output.as_bytes()).and_then(|()| stdout.flush());
    audit.exit_code()
}

/// Runs the subcommand on the process's standard streams.
pub fn main(args: &Args) -> ExitCode {
    let code = run(args, &mut std::io::stdin().lock(), &mut std::io::stdout().lock(), &mut std::io::stderr());
    ExitCode::from(code)
}
