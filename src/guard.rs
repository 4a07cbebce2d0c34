//! The fence guard: a small process (`flink-ha-supervisor fence-guard`) between the daemon and
//! the JobManager that enforces the fence deadline even when the daemon cannot.
//!
//! The daemon starts the guard, the guard starts the JobManager in its own process group with a
//! parent-death signal of SIGKILL, and then holds a *lease*: a CLOCK_MONOTONIC instant until
//! which the JobManager may run. Only the daemon's main decision loop renews it. When the lease
//! runs out (the daemon is paused, hung, or cannot hear from ZooKeeper), when the daemon dies
//! (its end of the control pipe closes), or when the guard is told to, the guard stops the
//! JobManager: SIGTERM to the group, SIGKILL after the grace, reaped. A SIGKILLed guard takes
//! the JobManager with it through the parent-death signal.
//!
//! Control protocol, one line each on the guard's stdin: `lease <monotonic ns>`, `stop <grace ms>`.
//! Status protocol on its stdout: `spawned <pid>`, `spawn-failed <error>`, `lease-expired`,
//! `exited <code>` (code = exit status, or 128 + signal). The JobManager's stdout and stderr go to
//! the guard's stderr, and so do the guard's own messages (prefixed `fence-guard:`).

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{sleep_until, Instant};

use crate::mono;

/// A status line on stdout for the daemon. Never panics: when the daemon is gone its pipe is
/// broken, and the guard must still stop the JobManager.
macro_rules! status {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// A note on stderr (the daemon's log), prefixed `fence-guard:`. Never panics (see `status!`).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "fence-guard: {}", format_args!($($arg)*));
    }};
}

/// What the guard is told to run and how.
#[derive(Debug, Clone)]
pub struct GuardArgs {
    /// SIGTERM to SIGKILL when the guard stops the JobManager on its own.
    pub stop_grace: Duration,
    /// The initial lease, in CLOCK_MONOTONIC nanoseconds.
    pub lease_until_ns: u64,
    /// The JobManager's argv.
    pub command: Vec<String>,
}

/// A control line for the guard's stdin that moves the lease.
pub fn lease_line(until_ns: u64) -> String {
    format!("lease {until_ns}\n")
}

/// A control line for the guard's stdin that stops the JobManager with `grace`.
pub fn stop_line(grace: Duration) -> String {
    format!("stop {}\n", grace.as_millis())
}

/// A status line from the guard's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The JobManager runs with this pid (its process group id too).
    Spawned(u32),
    /// The command could not be started.
    SpawnFailed(String),
    /// The lease ran out; the guard is stopping the JobManager.
    LeaseExpired,
    /// The JobManager is gone with this code.
    Exited(i32),
}

impl Status {
    /// Parses a status line; `None` for anything else.
    pub fn parse(line: &str) -> Option<Status> {
        let (word, rest) = line.trim_end().split_once(' ').unwrap_or((line.trim_end(), ""));
        match word {
            "spawned" => rest.parse().ok().map(Status::Spawned),
            "spawn-failed" => Some(Status::SpawnFailed(rest.to_string())),
            "lease-expired" => Some(Status::LeaseExpired),
            "exited" => rest.parse().ok().map(Status::Exited),
            _ => None,
        }
    }
}

/// The exit code convention: the status code, or 128 + the signal number.
pub fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Runs the guard until the JobManager is gone; returns the process exit code.
///
/// Must run on a current-thread runtime on the process's main thread: the parent-death signal
/// of the JobManager fires when the *thread* that spawned it exits.
pub async fn run(args: GuardArgs) -> i32 {
    let mut child = match spawn(&args.command) {
        Ok(child) => child,
        Err(e) => {
            status!("spawn-failed {}: {e}", args.command[0]);
            note!("cannot start {}: {e}", args.command[0]);
            return 127;
        }
    };
    let pid = child.id().expect("a just-spawned child has a pid");
    status!("spawned {pid}");
    let group = Pid::from_raw(pid as i32);

    let mut control = BufReader::new(tokio::io::stdin()).lines();
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut lease = Instant::from_std(mono::to_instant(args.lease_until_ns));
    // When set, the JobManager is being stopped and gets SIGKILL at this instant.
    let mut kill_at: Option<Instant> = None;
    let mut control_open = true;

    let status = loop {
        let stop_with = tokio::select! {
            status = child.wait() => break status,
            _ = sleep_until(lease), if kill_at.is_none() => {
                status!("lease-expired");
                note!("lease expired; stopping the JobManager (pid {pid})");
                Some(args.stop_grace)
            },
            _ = sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                note!("grace over; SIGKILL to process group {pid}");
                let _ = killpg(group, Signal::SIGKILL);
                kill_at = None;
                lease = Instant::now() + Duration::from_secs(3600 * 24 * 365);
                None
            },
            line = control.next_line(), if control_open => match line {
                Ok(Some(line)) => control_line(&line, &mut lease),
                Ok(None) | Err(_) => {
                    control_open = false;
                    note!("the daemon is gone; stopping the JobManager (pid {pid})");
                    Some(args.stop_grace)
                },
            },
            _ = term.recv() => Some(args.stop_grace),
            _ = int.recv() => Some(args.stop_grace),
        };
        if let Some(grace) = stop_with {
            let at = Instant::now() + grace;
            if kill_at.is_none_or(|k| at < k) {
                if grace.is_zero() {
                    let _ = killpg(group, Signal::SIGKILL);
                } else if kill_at.is_none() {
                    let _ = killpg(group, Signal::SIGTERM);
                }
                kill_at = Some(at);
            }
        }
    };
    // Whatever the leader of the group did, no member of it may outlive the guard.
    let _ = killpg(group, Signal::SIGKILL);
    let code = match status {
        Ok(status) => exit_code(status),
        Err(_) => 255,
    };
    status!("exited {code}");
    code
}

/// Applies one control line; returns a grace when it asks for a stop.
fn control_line(line: &str, lease: &mut Instant) -> Option<Duration> {
    match line.split_once(' ') {
        Some(("lease", ns)) => {
            if let Ok(ns) = ns.trim().parse::<u64>() {
                *lease = Instant::from_std(mono::to_instant(ns));
            }
            None
        }
        Some(("stop", ms)) => Some(Duration::from_millis(ms.trim().parse().unwrap_or(0))),
        _ => {
            note!("ignoring unknown control line {line:?}");
            None
        }
    }
}

fn spawn(command: &[String]) -> std::io::Result<Child> {
    use std::os::fd::AsFd;
    let stdout = std::io::stderr().as_fd().try_clone_to_owned()?;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).stdin(Stdio::null()).stdout(Stdio::from(stdout)).stderr(Stdio::inherit());
    let guard_pid = std::process::id() as i32;
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The guard may have died between fork and prctl: then nobody would fence us.
            if nix::unistd::getppid().as_raw() != guard_pid {
                return Err(std::io::Error::other("fence guard died during spawn"));
            }
            Ok(())
        });
    }
    cmd.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(Status::parse("spawned 123\n"), Some(Status::Spawned(123)));
        assert_eq!(Status::parse("exited 137"), Some(Status::Exited(137)));
        assert_eq!(Status::parse("lease-expired"), Some(Status::LeaseExpired));
        assert_eq!(
            Status::parse("spawn-failed /x: no such file"),
            Some(Status::SpawnFailed("/x: no such file".into()))
        );
        assert_eq!(Status::parse("hello"), None);
        assert_eq!(Status::parse("spawned x"), None);
    }

    #[test]
    fn control_lines() {
        assert_eq!(stop_line(Duration::from_secs(3)), "stop 3000\n");
        let mut lease = Instant::now();
        assert_eq!(control_line("stop 0", &mut lease), Some(Duration::ZERO));
        let ns = mono::now_ns() + 5_000_000_000;
        assert_eq!(control_line(lease_line(ns).trim_end(), &mut lease), None);
        assert!(lease > Instant::now() + Duration::from_secs(4));
    }
}
