//! Reading the logs: files, glob patterns and `-` (standard input), line by line in bounded
//! memory. Only audit records are kept; every other line is counted and dropped at once.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::record::{parse_line, AuditRecord, Damage, Line};

/// Lines longer than this are not read into memory; they cannot be audit records (which are
/// well under 4 KiB) and count as foreign.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Where logs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Standard input (`-`).
    Stdin,
    /// A file (given, or matched by a glob pattern).
    File(PathBuf),
}

impl Source {
    /// How messages name this source.
    pub(crate) fn name(&self) -> String {
        match self {
            Source::Stdin => "standard input".into(),
            Source::File(path) => path.display().to_string(),
        }
    }
}

/// Input that cannot be used: exit code 2, one line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    /// A file that is missing or unreadable.
    #[error("cannot read {name}: {error}")]
    Unreadable {
        /// The file (or `standard input`).
        name: String,
        /// Why.
        error: io::Error,
    },
    /// A glob pattern that is invalid or matches no file.
    #[error("{pattern}: {problem}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Why it gives no files.
        problem: String,
    },
}

/// Lines read, and why those that were not audit records were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    /// All lines read, blank ones included.
    pub lines: u64,
    /// Audit records of schema version 1.
    pub audit: u64,
    /// Damaged audit records of known events (or lines that may have been one): each is named
    /// in [`Reading::damaged`] and makes the audit inconclusive.
    pub damaged: u64,
    /// Other damaged lines: broken JSON of another target, or an unreadable record of an event
    /// this reader does not know.
    pub malformed: u64,
    /// Other lines: the JobManager's output, other logs of the daemon, other programs' text or
    /// JSON, lines over [`MAX_LINE`].
    pub foreign: u64,
    /// Audit records of another schema version.
    pub unsupported_version: u64,
}

/// Damaged records named at most; the rest are counted only.
pub(crate) const MAX_NAMED: usize = 100;

/// Problems are cut to this many characters (they may quote the line).
const MAX_PROBLEM: usize = 200;

/// A damaged audit record, named by where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DamagedLine {
    /// The file (or `standard input`).
    pub source: String,
    /// Its line number, from 1.
    pub line: u64,
    /// The event, when the line shows one this reader knows.
    pub event: Option<&'static str>,
    /// What is wrong.
    pub problem: String,
    /// The record was used without its one unreadable optional field.
    pub kept: bool,
}

/// What was read: the tally, and the first [`MAX_NAMED`] damaged records by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    /// Lines read, kept and skipped.
    pub tally: Tally,
    /// Damaged records in input order, at most [`MAX_NAMED`] (`tally.damaged` counts all).
    pub damaged: Vec<DamagedLine>,
}

impl Reading {
    fn damage(&mut self, source: &str, line: u64, damage: &Damage) {
        self.tally.damaged += 1;
        if self.damaged.len() < MAX_NAMED {
            let mut problem = damage.problem.clone();
            if let Some((cut, _)) = problem.char_indices().nth(MAX_PROBLEM) {
                problem.truncate(cut);
                problem.push('…');
            }
            self.damaged.push(DamagedLine {
                source: source.to_string(),
                line,
                event: damage.event,
                problem,
                kept: damage.kept.is_some(),
            });
        }
    }
}

/// Expands the command line's LOG arguments: `-` is standard input, an existing path is that
/// file, anything else with `*`, `?` or `[` is a glob pattern (matches sorted by name). A path
/// that does not exist, or a pattern that matches no file, is an error.
pub(crate) fn expand(args: &[OsString]) -> Result<Vec<Source>, InputError> {
    let mut sources = Vec::new();
    for arg in args {
        if arg == "-" {
            sources.push(Source::Stdin);
            continue;
        }
        let path = Path::new(arg);
        let text = arg.to_string_lossy();
        if path.exists() || !text.contains(['*', '?', '[']) {
            sources.push(Source::File(path.to_path_buf()));
            continue;
        }
        let pattern_error = |problem: String| InputError::Pattern { pattern: text.to_string(), problem };
        let matches = glob::glob(&text).map_err(|e| pattern_error(format!("not a valid pattern: {e}")))?;
        let mut files = Vec::new();
        for entry in matches {
            match entry {
                Ok(path) if path.is_dir() => {}
                Ok(path) => files.push(path),
                Err(e) => return Err(InputError::Unreadable { name: e.path().display().to_string(), error: e.into() }),
            }
        }
        if files.is_empty() {
            return Err(pattern_error("no file matches this pattern".into()));
        }
        files.sort();
        sources.extend(files.into_iter().map(Source::File));
    }
    Ok(sources)
}

/// Opens every source first, so that a missing or unreadable file stops the audit before any
/// work, then reads them in order, handing each audit record to `sink`.
pub(crate) fn read_sources(
    sources: &[Source],
    stdin: &mut dyn Read,
    mut sink: impl FnMut(AuditRecord),
) -> Result<Reading, InputError> {
    let mut opened: Vec<Option<File>> = Vec::with_capacity(sources.len());
    for source in sources {
        opened.push(match source {
            Source::Stdin => None,
            Source::File(path) => {
                let unreadable = |error| InputError::Unreadable { name: source.name(), error };
                let file = File::open(path).map_err(unreadable)?;
                if file.metadata().map_err(unreadable)?.is_dir() {
                    return Err(unreadable(io::Error::other("is a directory")));
                }
                Some(file)
            }
        });
    }
    let mut reading = Reading::default();
    for (source, file) in sources.iter().zip(opened) {
        let name = source.name();
        let result = match file {
            Some(file) => read_lines(file, &name, &mut reading, &mut sink),
            None => read_lines(&mut *stdin, &name, &mut reading, &mut sink),
        };
        result.map_err(|error| InputError::Unreadable { name, error })?;
    }
    Ok(reading)
}

/// Reads one stream (`name` names it in damaged records) line by line, never holding more
/// than one line of at most [`MAX_LINE`].
pub(crate) fn read_lines(
    reader: impl Read,
    name: &str,
    reading: &mut Reading,
    sink: &mut impl FnMut(AuditRecord),
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let mut line = Vec::with_capacity(4096);
    let mut number = 0u64;
    loop {
        line.clear();
        let n = (&mut reader).take(MAX_LINE as u64).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(());
        }
        number += 1;
        reading.tally.lines += 1;
        if line.len() >= MAX_LINE && line.last() != Some(&b'\n') {
            skip_rest_of_line(&mut reader)?;
            reading.tally.foreign += 1;
            continue;
        }
        match parse_line(&line) {
            Line::Blank => {}
            Line::Audit(record) => {
                reading.tally.audit += 1;
                sink(*record);
            }
            Line::Foreign => reading.tally.foreign += 1,
            Line::UnsupportedVersion => reading.tally.unsupported_version += 1,
            Line::Malformed => reading.tally.malformed += 1,
            Line::Damaged(damage) => {
                reading.damage(name, number, &damage);
                if let Some(record) = damage.kept {
                    sink(*record);
                }
            }
        }
        if line.capacity() > 64 * 1024 {
            line = Vec::with_capacity(4096);
        }
    }
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally_of(input: &[u8]) -> (Tally, Vec<AuditRecord>) {
        let mut reading = Reading::default();
        let mut records = Vec::new();
        read_lines(input, "input", &mut reading, &mut |r| records.push(r)).unwrap();
        (reading.tally, records)
    }

    #[test]
    fn over_long_lines_are_skipped_whole() {
        let mut input = vec![b'x'; MAX_LINE * 2 + 17];
        input.extend_from_slice(b"\nplain text\n\n");
        let (tally, records) = tally_of(&input);
        assert_eq!((tally.lines, tally.foreign, tally.malformed), (3, 2, 0));
        assert!(records.is_empty());
    }

    #[test]
    fn a_last_line_without_newline_is_read() {
        let (tally, records) = tally_of(
            br#"{"timestamp":"2026-11-22T18:22:20.628980Z","level":"INFO","event":"exited","node":"a","v":1,"target":"audit"}"#,
        );
        assert_eq!((tally.lines, tally.audit), (1, 1));
        assert_eq!(records[0].node, "a");
    }

    #[test]
    fn missing_files_and_empty_patterns_are_errors() {
        let missing = expand(&["/nonexistent/a.log".into()]).unwrap();
        let err = read_sources(&missing, &mut io::empty(), |_| {}).unwrap_err();
        assert!(err.to_string().starts_with("cannot read /nonexistent/a.log: "), "{err}");
        let err = expand(&["/nonexistent/*.log".into()]).unwrap_err();
        assert_eq!(err.to_string(), "/nonexistent/*.log: no file matches this pattern");
        assert_eq!(expand(&["-".into()]).unwrap(), vec![Source::Stdin]);
    }
}
