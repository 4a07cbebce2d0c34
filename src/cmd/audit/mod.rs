//! `flink-ha-supervisor audit`: reads the daemons' logs of several hosts (as written or as
//! journald exports them), rebuilds each host's leadership and JobManager-running intervals and
//! every failover, and reports outages against a budget and every overlap of two JobManagers.
//!
//! The log schema and the rebuild rules are in docs/audit-events.md. The pieces:
//! [`input`] reads lines in bounded memory, [`record`] types one line, [`rebuild`] turns records
//! into history, [`report`] prints it as text or JSON, [`timeline`] draws it as SVG.

#![warn(missing_docs)]

pub(crate) mod input;
pub(crate) mod rebuild;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod timeline;

#[cfg(test)]
mod fuzz;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use input::{DamagedLine, InputError, Reading, Source, Tally};
use rebuild::History;
use record::AuditRecord;
use report::Summary;

/// Exit code: every failover within budget and no overlap.
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: a failover over budget, or two JobManagers overlapping.
pub(crate) const EXIT_FINDINGS: u8 = 1;
/// Exit code: unusable input (a missing or unreadable file, no audit record at all), or the
/// timeline could not be written.
pub(crate) const EXIT_UNUSABLE: u8 = 2;
/// Exit code: no finding, but damaged audit records that could hide one (without
/// `--tolerate-damaged`).
pub(crate) const EXIT_DAMAGED: u8 = 3;

/// The `audit` subcommand's arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Args {
    /// Judge every failover's outage against this budget (the budget logged with each record is
    /// not used).
    #[arg(long, value_parser = crate::config::parse_command_line_duration, default_value = "30s")]
    pub budget: Duration,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also draw the history as a self-contained SVG into this file.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Judge by the readable records even when some audit records are damaged (they are still
    /// named); without it damaged records make the audit exit 3.
    #[arg(long)]
    pub tolerate_damaged: bool,
    /// Log files of the daemons, glob patterns (quoted), or `-` for standard input; the daemon's
    /// JSON lines or `journalctl -o json` exports, in any order.
    #[arg(required = true, value_name = "LOG")]
    pub logs: Vec<OsString>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A table of failovers, a summary and the overlaps.
    Text,
    /// One JSON object: `failovers`, `summary`, `overlaps`, `hosts`, `damaged`, `skipped_lines`,
    /// `input`.
    Json,
}

/// Why an audit has nothing to say (exit code 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuditError {
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
        "{} lines, {} foreign, {} damaged, {} malformed, {} of another schema version; give the daemons' \
         JSON logs (--log-format json) or `journalctl -o json` exports",
        tally.lines, tally.foreign, tally.damaged, tally.malformed, tally.unsupported_version
    )
}

/// A finished audit.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    /// The budget failovers were judged against.
    pub budget: Duration,
    /// What was read and skipped.
    pub tally: Tally,
    /// Damaged audit records by name (the first [`input::MAX_NAMED`]).
    pub damaged: Vec<DamagedLine>,
    /// Damaged records do not by themselves fail the audit.
    pub tolerate_damaged: bool,
    /// The rebuilt history.
    pub history: History,
    /// Outage statistics, violations and overlaps.
    pub summary: Summary,
}

impl Audit {
    /// Rebuilds the history from audit records in any order.
    pub(crate) fn from_records(
        records: Vec<AuditRecord>,
        reading: Reading,
        budget: Duration,
        tolerate_damaged: bool,
    ) -> Audit {
        let history = rebuild::rebuild(records, budget);
        let summary = Summary::of(&history, budget);
        Audit { budget, tally: reading.tally, damaged: reading.damaged, tolerate_damaged, history, summary }
    }

    /// [`EXIT_FINDINGS`] when a failover is over budget or two JobManagers overlap; else
    /// [`EXIT_DAMAGED`] when damaged records could hide one and are not tolerated; else
    /// [`EXIT_OK`].
    pub(crate) fn exit_code(&self) -> u8 {
        if self.summary.violations > 0 || self.summary.overlaps > 0 {
            EXIT_FINDINGS
        } else if self.inconclusive() {
            EXIT_DAMAGED
        } else {
            EXIT_OK
        }
    }

    /// Damaged records could hide a finding and the user did not accept that.
    pub(crate) fn inconclusive(&self) -> bool {
        self.tally.damaged > 0 && !self.tolerate_damaged
    }
}

/// Reads `sources` (standard input from `stdin`) and audits them.
pub(crate) fn audit(
    sources: &[Source],
    stdin: &mut dyn Read,
    budget: Duration,
    tolerate_damaged: bool,
) -> Result<Audit, AuditError> {
    let mut records = Vec::new();
    let reading = input::read_sources(sources, stdin, |record| records.push(record))?;
    if records.is_empty() {
        return Err(AuditError::NoRecords(reading.tally));
    }
    Ok(Audit::from_records(records, reading, budget, tolerate_damaged))
}

/// Runs the subcommand with explicit streams; returns the exit code.
pub(crate) fn run(args: &Args, stdin: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> u8 {
    let result = input::expand(&args.logs)
        .map_err(AuditError::from)
        .and_then(|s| audit(&s, stdin, args.budget, args.tolerate_damaged));
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
    if audit.inconclusive() {
        let first = audit.damaged.first().map(|d| format!(" (first: {}:{})", record::printable(&d.source), d.line));
        let _ = writeln!(
            stderr,
            "flink-ha-supervisor audit: {} damaged audit record{}{} may hide a failover or an overlap; repair or \
             remove {}, or pass --tolerate-damaged to judge by the readable records",
            audit.tally.damaged,
            if audit.tally.damaged == 1 { "" } else { "s" },
            first.unwrap_or_default(),
            if audit.tally.damaged == 1 { "it" } else { "them" },
        );
    }
    audit.exit_code()
}

/// Runs the subcommand on the process's standard streams.
pub(crate) fn main(args: &Args) -> ExitCode {
    let code = run(args, &mut std::io::stdin().lock(), &mut std::io::stdout().lock(), &mut std::io::stderr());
    ExitCode::from(code)
}
