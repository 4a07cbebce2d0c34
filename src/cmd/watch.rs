//! `status --watch [INTERVAL]`: the status again every INTERVAL until Ctrl-C (or SIGTERM), exit
//! code 0. On a terminal each snapshot replaces the last (ANSI clear screen and cursor home);
//! otherwise snapshots follow each other, each after a blank line and a header with its time
//! (JSON: one object a line). A snapshot that cannot be taken (ZooKeeper unreachable, no
//! cluster) shows its one line as the frame, and the watch goes on.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{signal, SignalKind};

use super::status::{render, status, Format};
use crate::config::ClientSettings;
use flink_ha_core::walltime::format_duration;

/// Clears the screen and puts the cursor home.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// The longest interval, as for every duration on the command line.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `--watch`'s interval: a number of seconds (`2`, `0.5`, `0.2s`) or a duration
/// (`500ms`, `1m`); more than zero and at most a day.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    let seconds = text.strip_suffix('s').unwrap_or(text);
    let interval = match seconds.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => {
            Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?} is no interval"))?
        }
        Ok(_) => {
            return Err(format!("{text:?} is no interval; give seconds such as \"2\" or a duration such as \"500ms\""))
        }
        Err(_) => humantime::parse_duration(text).map_err(|e| {
            format!("{text:?} is no interval ({e}); give seconds such as \"2\" or a duration such as \"500ms\"")
        })?,
    };
    if interval.is_zero() {
        return Err(format!("{text:?} is zero; give an interval such as \"2s\" (the default)"));
    }
    if interval > DAY {
        return Err(format!("{text:?} is longer than a day; give an interval of at most 1day"));
    }
    Ok(interval)
}

/// Takes a snapshot every `interval` and writes it; returns exit code 0 at Ctrl-C, SIGTERM, or
/// when stdout is closed.
pub(crate) async fn watch(settings: &ClientSettings, format: Format, interval: Duration) -> ExitCode {
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return super::refuse("--watch: cannot handle Ctrl-C (signal handlers)");
    };
    let terminal = std::io::stdout().is_terminal();
    let mut first = true;
    loop {
        let result = tokio::select! {
            result = status(settings) => result,
            _ = interrupt.recv() => return ExitCode::SUCCESS,
            _ = terminate.recv() => return ExitCode::SUCCESS,
        };
        let body = match (&result, format) {
            (Ok(report), Format::Json) if !terminal => {
                format!("{}\n", serde_json::to_string(report).expect("a report serializes"))
            }
            (Ok(report), _) => render(report, format),
            (Err(e), Format::Json) => format!("{}\n", serde_json::json!({ "error": e.to_string() })),
            (Err(e), Format::Text) => format!("ERROR: {e}\n"),
        };
        let frame = frame(&body, format, interval, terminal, first, SystemTime::now());
        first = false;
        let mut out = std::io::stdout().lock();
        if out.write_all(frame.as_bytes()).and_then(|()| out.flush()).is_err() {
            return ExitCode::SUCCESS;
        }
        drop(out);
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = interrupt.recv() => return ExitCode::SUCCESS,
            _ = terminate.recv() => return ExitCode::SUCCESS,
        }
    }
}

/// One snapshot as written: on a terminal after a clear screen, else after a blank line (but the
/// first); text gets a header with the interval and the time, JSON off a terminal none.
fn frame(body: &str, format: Format, interval: Duration, terminal: bool, first: bool, now: SystemTime) -> String {
    let header =
        format!("every {}, at {} (Ctrl-C ends)\n", format_duration(interval), humantime::format_rfc3339_seconds(now));
    match (terminal, format) {
        (true, _) => format!("{CLEAR}{header}{body}"),
        (false, Format::Json) => body.to_string(),
        (false, Format::Text) if first => format!("{header}{body}"),
        (false, Format::Text) => format!("\n{header}{body}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("0.2s"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        for bad in ["0", "0s", "-1", "abc", "2days", "NaN", "inf"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn frames() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(60);
        let second = Duration::from_secs(1);
        assert_eq!(
            frame("body\n", Format::Text, second, false, true, t),
            "every 1s, at 1970-01-01T00:01:00Z (Ctrl-C ends)\nbody\n"
        );
        assert!(frame("body\n", Format::Text, second, false, false, t).starts_with("\nevery 1s"));
        assert!(frame("body\n", Format::Text, second, true, false, t).starts_with("\x1b[H\x1b[2Jevery 1s"));
        assert_eq!(frame("{}\n", Format::Json, second, false, false, t), "{}\n");
    }
}
