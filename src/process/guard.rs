//! The fence guard: a small process (`flink-ha-supervisor fence-guard`) between the daemon and
//! the JobManager that enforces the fence deadline even when the daemon cannot.
//!
//! The daemon starts the guard, the guard starts the JobManager in its own process group with a
//! parent-death signal of SIGKILL, and then holds a *lease*: a CLOCK_BOOTTIME instant (it counts
//! suspended time, see `mono.rs`) until which the JobManager may run. Only the daemon's main
//! decision loop renews it. When the lease runs out (the daemon is paused, hung, or cannot hear
//! from ZooKeeper), when the daemon dies (its end of the control pipe closes), or when the guard
//! is told to, the guard stops the JobManager: SIGTERM to the group, SIGKILL after the grace,
//! reaped. A SIGKILLed guard takes the JobManager with it through the parent-death signal, and
//! the daemon kills what is left of the group (`jobmanager.rs`).
//!
//! Nothing between "the lease ran out" and the SIGKILL waits on another process: the guard wakes
//! on a CLOCK_BOOTTIME timerfd, signals first, and only then queues its report. Its reports go
//! through an in-memory queue to a task that writes them to the non-blocking status pipe; the
//! JobManager's output never passes through the guard (the JobManager writes straight to the
//! guard's original stderr, which the guard gives up for itself).
//!
//! A parked JobManager (`--parked`) is started the same way with two more inherited pipes: it
//! reads the release pipe (`FLINK_HA_GATE_FD`) and waits there, connected to nothing, until one
//! byte arrives; it writes `parked` to the ready pipe (`FLINK_HA_GATE_READY_FD`) when it got
//! there. The guard holds no lease for it (a parked JobManager can do nothing), keeps the write
//! end of the release pipe for itself (close-on-exec, so the JobManager never holds it: when the
//! guard dies the JobManager reads EOF and exits at once), and on `release <ns>` writes the one
//! byte (non-blocking) and holds the lease `<ns>` from then on, as for any JobManager.
//!
//! Control protocol, one line each on the guard's stdin: `lease <CLOCK_BOOTTIME ns>`,
//! `stop <grace ms>`, `release <CLOCK_BOOTTIME ns>`. Status protocol on its stdout: `spawned
//! <pid>`, `spawn-failed <error>`, `parked`, `lease-expired`, `note <text>` (for the daemon's
//! log), `exited <code>` (code = exit status, or 128 + signal). The JobManager's stdout and stderr go to the guard's stderr as the daemon
//! gave it (a pipe the daemon drains, or `jobmanager.log_file`).

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::{self, UnboundedSender};

use crate::process::mono;

/// How long the guard, once the JobManager is gone, lets its last reports drain into the status
/// pipe before it exits anyway (the daemon then reads the guard's exit code instead).
const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The most the guard reads of the gate's ready pipe (`parked\n` is 7 bytes).
const READY_LINE_MAX: u64 = 64;

/// What the guard is told to run and how.
#[derive(Debug, Clone)]
pub(crate) struct GuardArgs {
    /// SIGTERM to SIGKILL when the guard stops the JobManager on its own.
    pub stop_grace: Duration,
    /// The initial lease, in CLOCK_BOOTTIME nanoseconds (ignored when parked).
    pub lease_until_ns: u64,
    /// Start the JobManager parked at its gate, without a lease, until `release`.
    pub parked: bool,
    /// The JobManager's argv.
    pub command: Vec<String>,
}

/// A control line for the guard's stdin that moves the lease (CLOCK_BOOTTIME nanoseconds).
pub(crate) fn lease_line(until_ns: u64) -> String {
    format!("lease {until_ns}\n")
}

/// A control line for the guard's stdin that releases a parked JobManager with the lease
/// `until_ns` (CLOCK_BOOTTIME nanoseconds).
pub(crate) fn release_line(until_ns: u64) -> String {
    format!("release {until_ns}\n")
}

/// The environment variable that names the fd a parked JobManager reads its release from.
pub(crate) const GATE_FD_VAR: &str = "FLINK_HA_GATE_FD";

/// The environment variable that names the fd a parked JobManager writes `parked` to.
pub(crate) const GATE_READY_FD_VAR: &str = "FLINK_HA_GATE_READY_FD";

/// A control line for the guard's stdin that stops the JobManager with `grace`.
pub(crate) fn stop_line(grace: Duration) -> String {
    format!("stop {}\n", grace.as_millis())
}

/// A status line from the guard's stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// The JobManager runs with this pid (its process group id too).
    Spawned(u32),
    /// The command could not be started.
    SpawnFailed(String),
    /// The parked JobManager reached its gate.
    Parked,
    /// The lease ran out; the guard has signalled the JobManager.
    LeaseExpired,
    /// A message of the guard for the daemon's log.
    Note(String),
    /// The JobManager is gone with this code.
    Exited(i32),
}

impl Status {
    /// Parses a status line; `None` for anything else.
    pub(crate) fn parse(line: &str) -> Option<Status> {
        let (word, rest) = line.trim_end().split_once(' ').unwrap_or((line.trim_end(), ""));
        match word {
            "spawned" => rest.parse().ok().map(Status::Spawned),
            "spawn-failed" => Some(Status::SpawnFailed(rest.to_string())),
            "lease-expired" => Some(Status::LeaseExpired),
            "parked" => Some(Status::Parked),
            "note" => Some(Status::Note(rest.to_string())),
            "exited" => rest.parse().ok().map(Status::Exited),
            _ => None,
        }
    }
}

/// The exit code convention: the status code, or 128 + the signal number.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The guard's reports to the daemon: queued in memory, written by a task of their own, so
/// that sending one never waits for the daemon to read.
struct Reports {
    queue: Option<UnboundedSender<String>>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

impl Reports {
    /// Takes over `out` (the guard's stdout): a non-blocking pipe writer, or for anything that
    /// is not a pipe (a file) a writer on tokio's blocking pool.
    fn start(out: OwnedFd) -> Reports {
        let writer: Pin<Box<dyn AsyncWrite + Send>> = match out.try_clone() {
            Ok(dup) => match tokio::net::unix::pipe::Sender::from_owned_fd(dup) {
                Ok(pipe) => Box::pin(pipe),
                Err(_) => Box::pin(tokio::fs::File::from_std(std::fs::File::from(out))),
            },
            Err(_) => Box::pin(tokio::fs::File::from_std(std::fs::File::from(out))),
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(async move {
            let mut writer = writer;
            let mut open = true;
            while let Some(line) = rx.recv().await {
                // A broken pipe (the daemon is gone) only ends the reports, never the guard.
                if open && (writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err()) {
                    open = false;
                }
            }
        });
        Reports { queue: Some(tx), writer: Some(writer) }
    }

    /// Queues one status line. Never blocks.
    fn send(&self, line: String) {
        if let Some(queue) = &self.queue {
            let _ = queue.send(line);
        }
    }

    /// Queues a note for the daemon's log (one line).
    fn note(&self, text: std::fmt::Arguments<'_>) {
        let text = text.to_string().replace(['\n', '\r'], " ");
        self.send(format!("note {text}\n"));
    }

    /// Lets the queued lines drain, for at most [`DRAIN_WAIT`].
    async fn finish(mut self) {
        self.queue = None;
        if let Some(writer) = self.writer.take() {
            let _ = tokio::time::timeout(DRAIN_WAIT, writer).await;
        }
    }
}

/// A one-shot alarm on CLOCK_BOOTTIME: fires at an absolute boot-clock instant, including one
/// that passed while the host was suspended (it fires right after the resume).
struct BootAlarm {
    fd: AsyncFd<AlarmFd>,
}

/// A timerfd that tokio can poll.
struct AlarmFd(TimerFd);

impl AsRawFd for AlarmFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl BootAlarm {
    fn new() -> std::io::Result<BootAlarm> {
        let timer = TimerFd::new(ClockId::CLOCK_BOOTTIME, TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC)?;
        // SAFETY: the timerfd is owned by the `AlarmFd`, which the `AsyncFd` owns; it is neither
        // closed nor replaced while registered.
        Ok(BootAlarm { fd: unsafe { AsyncFd::register(AlarmFd(timer))? } })
    }

    /// Arms the alarm for CLOCK_BOOTTIME `at_ns` (replacing any earlier setting).
    fn set(&self, at_ns: u64) -> nix::Result<()> {
        // Zero would disarm the timer: an instant that early has passed anyway.
        let at = TimeSpec::from_duration(Duration::from_nanos(at_ns.max(1)));
        self.fd.get_ref().0.set(Expiration::OneShot(at), TimerSetTimeFlags::TFD_TIMER_ABSTIME)
    }

    /// Resolves when the alarm has fired since it was last set (`true`), or when it can no
    /// longer be waited for (`false`: the caller must not rely on it). Cancellation-safe.
    async fn fired(&self) -> bool {
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                return false;
            };
            let mut ticks = [0u8; 8];
            match nix::unistd::read(ready.get_inner().as_raw_fd(), &mut ticks) {
                Ok(_) => return true,
                Err(nix::errno::Errno::EAGAIN) => ready.clear_ready(),
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return false,
            }
        }
    }
}

/// What the guard is doing about the JobManager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Parked at its gate: no lease, nothing it could do; waiting for `release`.
    Parked,
    /// Running under the lease.
    Leased,
    /// SIGTERM sent; SIGKILL at this CLOCK_BOOTTIME instant.
    Stopping { kill_at_ns: u64 },
    /// SIGKILL sent; waiting for the reap.
    Killed,
}

/// Runs the guard until the JobManager is gone; returns the process exit code.
///
/// Must run on a current-thread runtime on the process's main thread: the parent-death signal
/// of the JobManager fires when the *thread* that spawned it exits.
pub(crate) async fn run(args: GuardArgs) -> i32 {
    let stdout = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => fd,
        Err(_) => return 127,
    };
    // fd 1 itself stays open for the whole run (the writer works on a duplicate).
    let raw_stdout = std::io::stdout().as_raw_fd();
    let reports = Reports::start(stdout);
    // Everything the JobManager runs under is set up before it starts: no guard without a fence.
    let setup = (|| -> std::io::Result<_> {
        Ok((
            BootAlarm::new()?,
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            std::io::stderr().as_fd().try_clone_to_owned()?,
        ))
    })();
    let (alarm, mut term, mut int, output) = match setup {
        Ok(setup) => setup,
        Err(e) => {
            reports.send(format!("spawn-failed fence guard: {e}\n"));
            reports.finish().await;
            return 127;
        }
    };
    let gate = match args.parked.then(Gate::new).transpose() {
        Ok(gate) => gate,
        Err(e) => {
            reports.send(format!("spawn-failed the gate's pipes: {e}\n"));
            reports.finish().await;
            return 127;
        }
    };
    let mut child = match spawn(&args.command, output, gate.as_ref()) {
        Ok(child) => child,
        Err(e) => {
            reports.send(format!("spawn-failed {}: {e}\n", args.command[0]));
            reports.finish().await;
            return 127;
        }
    };
    // The JobManager holds its ends of the gate's pipes now; the guard keeps only its own.
    let (release, ready) = match gate.map(Gate::after_spawn).transpose() {
        Ok(Some((release, ready))) => (Some(release), Some(ready)),
        Ok(None) => (None, None),
        Err(e) => {
            let _ = killpg(Pid::from_raw(child.id().unwrap_or(0) as i32), Signal::SIGKILL);
            reports.send(format!("spawn-failed the gate's ready pipe: {e}\n"));
            let _ = child.wait().await;
            reports.finish().await;
            return 127;
        }
    };
    // One short line is all the gate writes: a longer one is cut, never buffered without end.
    let mut ready = ready.map(|r| BufReader::new(r.take(READY_LINE_MAX)).lines());
    // The guard's own stderr from here on is the status pipe (non-blocking): a stray message or
    // a panic of the guard can never wait on the JobManager's output pipe.
    let _ = nix::unistd::dup2(raw_stdout, 2);
    let Some(pid) = child.id() else {
        reports.send(format!("spawn-failed {}: exited at once\n", args.command[0]));
        reports.finish().await;
        return 127;
    };
    // Written at once (the pipe is empty: a short write cannot block), so the daemon knows the
    // group even if the guard is killed right now.
    report_now(raw_stdout, &reports, format!("spawned {pid}\n"));
    let group = Pid::from_raw(pid as i32);

    let mut control = BufReader::new(tokio::io::stdin()).lines();
    let mut lease_ns = args.lease_until_ns;
    let mut phase = if release.is_some() { Phase::Parked } else { Phase::Leased };
    let mut control_open = true;

    let status = loop {
        let wake_ns = match phase {
            Phase::Parked => None,
            Phase::Leased => Some(lease_ns),
            Phase::Stopping { kill_at_ns } => Some(kill_at_ns),
            Phase::Killed => None,
        };
        if let Some(at) = wake_ns {
            if alarm.set(at).is_err() {
                // Without an alarm nothing enforces the lease: stop now.
                let _ = killpg(group, Signal::SIGKILL);
                phase = Phase::Killed;
                reports.note(format_args!("cannot arm the lease timer; SIGKILL to process group {pid}"));
            }
        }
        let stop_with = tokio::select! {
            status = child.wait() => break status,
            working = alarm.fired(), if wake_ns.is_some() => {
                let now = mono::boot_ns();
                if !working {
                    // Nothing enforces the lease any more: stop now rather than spin or trust it.
                    let _ = killpg(group, Signal::SIGKILL);
                    phase = Phase::Killed;
                    reports.note(format_args!("the lease timer failed; SIGKILL to process group {pid}"));
                }
                match phase {
                    Phase::Leased if now >= lease_ns => {
                        phase = expire_lease(group, lease_ns, now, args.stop_grace, &reports);
                    }
                    Phase::Stopping { kill_at_ns } if now >= kill_at_ns => {
                        let _ = killpg(group, Signal::SIGKILL);
                        phase = Phase::Killed;
                        reports.note(format_args!("grace over; SIGKILL to process group {pid}"));
                    }
                    _ => {}
                }
                None
            },
            line = async { ready.as_mut()?.next_line().await.ok().flatten() }, if ready.is_some() => {
                match line {
                    Some(line) if line.trim() == "parked" => reports.send("parked\n".to_string()),
                    Some(line) => reports.note(format_args!("ignoring {line:?} on the gate's ready pipe")),
                    None => {}
                }
                // One line, then the pipe is done with (EOF, or the JobManager closed it).
                ready = None;
                None
            },
            line = control.next_line(), if control_open => match line {
                Ok(Some(line)) => match control_line(&line, &mut lease_ns, phase == Phase::Parked, &reports) {
                    Control::Nothing => None,
                    Control::Stop(grace) => Some(grace),
                    Control::Release(until_ns) => {
                        phase = release_parked(group, phase, release.as_ref(), until_ns, &mut lease_ns, &reports);
                        None
                    }
                },
                Ok(None) | Err(_) => {
                    control_open = false;
                    phase = stop_leased(group, phase, lease_ns, args.stop_grace, args.stop_grace, &reports);
                    reports.note(format_args!("the daemon is gone; stopping the JobManager (pid {pid})"));
                    None
                },
            },
            _ = term.recv() => Some(args.stop_grace),
            _ = int.recv() => Some(args.stop_grace),
        };
        if let Some(grace) = stop_with {
            phase = stop_leased(group, phase, lease_ns, args.stop_grace, grace, &reports);
        }
    };
    // Whatever the leader of the group did, no member of it may outlive the guard.
    let _ = killpg(group, Signal::SIGKILL);
    let code = match status {
        Ok(status) => exit_code(status),
        Err(_) => 255,
    };
    reports.send(format!("exited {code}\n"));
    reports.finish().await;
    code
}

/// Stops the JobManager's group: SIGTERM now and SIGKILL after `grace` (at once for a zero
/// grace). A stop that is already under way only ever gets sooner.
fn stop(group: Pid, phase: Phase, grace: Duration) -> Phase {
    let kill_at_ns = mono::boot_ns().saturating_add(grace.as_nanos().min(u64::MAX as u128) as u64);
    match phase {
        Phase::Killed => Phase::Killed,
        _ if grace.is_zero() => {
            let _ = killpg(group, Signal::SIGKILL);
            Phase::Killed
        }
        Phase::Leased | Phase::Parked => {
            let _ = killpg(group, Signal::SIGTERM);
            Phase::Stopping { kill_at_ns }
        }
        Phase::Stopping { kill_at_ns: earlier } => Phase::Stopping { kill_at_ns: earlier.min(kill_at_ns) },
    }
}

/// Stops the JobManager's group on a request (`grace` from a `stop` line, a signal, the daemon
/// gone) as [`stop`] does, unless its lease has run out already: then as [`stop_after_lease`], so
/// a guard woken after a freeze by a stop request rather than by its alarm still SIGKILLs at once
/// once the lease plus `stop_grace` is past.
fn stop_leased(
    group: Pid,
    phase: Phase,
    lease_ns: u64,
    stop_grace: Duration,
    grace: Duration,
    reports: &Reports,
) -> Phase {
    let now = mono::boot_ns();
    let phase = if phase == Phase::Leased && now >= lease_ns {
        expire_lease(group, lease_ns, now, stop_grace, reports)
    } else {
        phase
    };
    stop(group, phase, grace)
}

/// The lease (`lease_ns`) ran out, seen at `now_ns`: signals first ([`stop_after_lease`]), then
/// reports `lease-expired` and a note of what was sent.
fn expire_lease(group: Pid, lease_ns: u64, now_ns: u64, stop_grace: Duration, reports: &Reports) -> Phase {
    let phase = stop_after_lease(group, lease_ns, now_ns, stop_grace);
    reports.send("lease-expired\n".to_string());
    if phase == Phase::Killed {
        let late = Duration::from_nanos(now_ns - lease_ns);
        reports.note(format_args!(
            "lease expired {late:?} ago, past the stop grace (the guard was stopped or frozen); SIGKILL to process group {group}"
        ));
    } else {
        reports.note(format_args!("lease expired; stopping the JobManager (pid {group})"));
    }
    phase
}

/// Stops the JobManager's group because the lease (`lease_ns`) ran out, seen at `now_ns`: the
/// SIGKILL falls due at the lease plus `grace`, so a wake-up after that instant (the guard was
/// stopped or frozen, e.g. a whole host under `docker pause`) SIGKILLs at once, no SIGTERM.
fn stop_after_lease(group: Pid, lease_ns: u64, now_ns: u64, grace: Duration) -> Phase {
    let kill_at_ns = lease_ns.saturating_add(grace.as_nanos().min(u64::MAX as u128) as u64);
    if now_ns >= kill_at_ns {
        let _ = killpg(group, Signal::SIGKILL);
        return Phase::Killed;
    }
    let _ = killpg(group, Signal::SIGTERM);
    Phase::Stopping { kill_at_ns }
}

/// Writes one short line straight into the status pipe if it takes it without waiting, else
/// queues it.
fn report_now(fd: RawFd, reports: &Reports, line: String) {
    // SAFETY: `fd` is the guard's stdout, open for the whole run.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    match nix::unistd::write(fd, line.as_bytes()) {
        Ok(n) if n == line.len() => {}
        Ok(n) => reports.send(line[n..].to_string()),
        Err(_) => reports.send(line),
    }
}

/// What a control line asks of the guard's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    /// Nothing (a lease applied, or a line ignored).
    Nothing,
    /// Stop the JobManager with this grace.
    Stop(Duration),
    /// Release the parked JobManager with this lease (CLOCK_BOOTTIME ns).
    Release(u64),
}

/// Applies one control line (`parked`: the JobManager waits at its gate, without a lease).
fn control_line(line: &str, lease_ns: &mut u64, parked: bool, reports: &Reports) -> Control {
    match line.split_once(' ') {
        Some(("lease", _)) if parked => {
            reports.note(format_args!("ignoring a lease for a parked JobManager"));
            Control::Nothing
        }
        Some(("release", ns)) => match ns.trim().parse::<u64>() {
            Ok(ns) if parked => Control::Release(ns),
            Ok(_) => {
                reports.note(format_args!("ignoring a release of a JobManager that is not parked"));
                Control::Nothing
            }
            Err(_) => {
                reports.note(format_args!("ignoring a malformed release line {line:?}"));
                Control::Nothing
            }
        },
        Some(("lease", ns)) => {
            match ns.trim().parse::<u64>() {
                // A lease that has run out stays out, whatever arrives after it.
                Ok(_) if mono::boot_ns() >= *lease_ns => {
                    reports.note(format_args!("ignoring a renewal after the lease ran out"))
                }
                Ok(ns) => *lease_ns = ns,
                Err(_) => reports.note(format_args!("ignoring a malformed lease line {line:?}")),
            }
            Control::Nothing
        }
        Some(("stop", ms)) => Control::Stop(Duration::from_millis(ms.trim().parse().unwrap_or(0))),
        _ => {
            reports.note(format_args!("ignoring unknown control line {line:?}"));
            Control::Nothing
        }
    }
}

/// Releases the parked JobManager: the one byte on its gate (a non-blocking write that never
/// waits), then the lease `until_ns` as for any JobManager. A lease that has already run out
/// releases nothing and stops it; a byte that cannot be written kills it.
fn release_parked(
    group: Pid,
    phase: Phase,
    release: Option<&OwnedFd>,
    until_ns: u64,
    lease_ns: &mut u64,
    reports: &Reports,
) -> Phase {
    let (Phase::Parked, Some(release)) = (phase, release) else { return phase };
    if mono::boot_ns() >= until_ns {
        let _ = killpg(group, Signal::SIGKILL);
        reports.note(format_args!("a release with a lease that has run out; the parked JobManager is killed"));
        return Phase::Killed;
    }
    match nix::unistd::write(release, b"1") {
        Ok(1) => {
            *lease_ns = until_ns;
            Phase::Leased
        }
        result => {
            let _ = killpg(group, Signal::SIGKILL);
            reports.note(format_args!("cannot write the release byte ({result:?}); the parked JobManager is killed"));
            Phase::Killed
        }
    }
}

/// The two pipes of a parked JobManager's gate, all ends close-on-exec until the spawn hands
/// the JobManager its two.
struct Gate {
    /// The JobManager reads its release here.
    release_read: OwnedFd,
    /// The guard writes the release byte here (non-blocking).
    release_write: OwnedFd,
    /// The guard reads `parked` here.
    ready_read: OwnedFd,
    /// The JobManager writes `parked` here.
    ready_write: OwnedFd,
}

impl Gate {
    fn new() -> std::io::Result<Gate> {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        let (release_read, release_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        let (ready_read, ready_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        fcntl(release_write.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        Ok(Gate { release_read, release_write, ready_read, ready_write })
    }

    /// The fds the JobManager inherits: (release read end, ready write end).
    fn child_fds(&self) -> (RawFd, RawFd) {
        (self.release_read.as_raw_fd(), self.ready_write.as_raw_fd())
    }

    /// Closes the JobManager's ends in the guard; returns the release write end and the ready
    /// pipe's reader.
    fn after_spawn(self) -> std::io::Result<(OwnedFd, tokio::net::unix::pipe::Receiver)> {
        let Gate { release_read, release_write, ready_read, ready_write } = self;
        drop((release_read, ready_write));
        Ok((release_write, tokio::net::unix::pipe::Receiver::from_owned_fd(ready_read)?))
    }
}

/// Starts the JobManager in its own process group with a parent-death signal, its stdout and
/// stderr on `output`, and the gate's two pipe ends when it is parked.
fn spawn(command: &[String], output: OwnedFd, gate: Option<&Gate>) -> std::io::Result<Child> {
    let stdout = output.try_clone()?;
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..]).stdin(Stdio::null()).stdout(Stdio::from(stdout)).stderr(Stdio::from(output));
    let inherit = gate.map(Gate::child_fds);
    if let Some((release, ready)) = inherit {
        cmd.env(GATE_FD_VAR, release.to_string()).env(GATE_READY_FD_VAR, ready.to_string());
    }
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
            // The gate's two ends, and only they, survive the exec.
            if let Some((release, ready)) = inherit {
                use nix::fcntl::{fcntl, FcntlArg, FdFlag};
                fcntl(release, FcntlArg::F_SETFD(FdFlag::empty()))?;
                fcntl(ready, FcntlArg::F_SETFD(FdFlag::empty()))?;
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
        assert_eq!(Status::parse("parked"), Some(Status::Parked));
        assert_eq!(Status::parse("note grace over"), Some(Status::Note("grace over".into())));
        assert_eq!(
            Status::parse("spawn-failed /x: no such file"),
            Some(Status::SpawnFailed("/x: no such file".into()))
        );
        assert_eq!(Status::parse("hello"), None);
        assert_eq!(Status::parse("spawned x"), None);
    }

    #[tokio::test]
    async fn control_lines() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let reports = Reports { queue: Some(tx), writer: None };
        assert_eq!(stop_line(Duration::from_secs(3)), "stop 3000\n");
        let mut lease = mono::boot_ns() + 1_000_000_000;
        assert_eq!(control_line("stop 0", &mut lease, false, &reports), Control::Stop(Duration::ZERO));
        let ns = mono::boot_ns() + 5_000_000_000;
        assert_eq!(control_line(lease_line(ns).trim_end(), &mut lease, false, &reports), Control::Nothing);
        assert_eq!(lease, ns);
        assert_eq!(control_line("lease soon", &mut lease, false, &reports), Control::Nothing);
        assert_eq!(lease, ns, "a malformed lease leaves the lease alone");
        assert!(rx.try_recv().unwrap().starts_with("note ignoring a malformed lease line"));

        let mut ran_out = mono::boot_ns() - 1;
        assert_eq!(control_line(lease_line(ns).trim_end(), &mut ran_out, false, &reports), Control::Nothing);
        assert!(ran_out < ns, "a lease that ran out is not renewed");
        assert!(rx.try_recv().unwrap().starts_with("note ignoring a renewal after the lease ran out"));

        // Parked: no lease at all, and a release carries the lease.
        let mut none = 0;
        assert_eq!(control_line(lease_line(ns).trim_end(), &mut none, true, &reports), Control::Nothing);
        assert_eq!(none, 0);
        assert!(rx.try_recv().unwrap().starts_with("note ignoring a lease for a parked JobManager"));
        assert_eq!(control_line(release_line(ns).trim_end(), &mut none, true, &reports), Control::Release(ns));
        assert_eq!(control_line(release_line(ns).trim_end(), &mut none, false, &reports), Control::Nothing);
        assert!(rx.try_recv().unwrap().starts_with("note ignoring a release of a JobManager that is not parked"));
        assert_eq!(control_line("release x", &mut none, true, &reports), Control::Nothing);
    }

    #[tokio::test]
    async fn the_boot_alarm_fires_at_its_instant() {
        let alarm = BootAlarm::new().unwrap();
        let at = mono::boot_ns() + 100_000_000;
        alarm.set(at).unwrap();
        assert!(alarm.fired().await);
        assert!(mono::boot_ns() >= at);
    }
}
