//! The JobManager process adapter: starts it behind a fence guard (see `guard.rs`), passes lease
//! renewals and stop requests on, and reports what happens to it as machine events.
//!
//! When the guard is gone (it finished, or it was killed), the adapter SIGKILLs the JobManager's
//! whole process group and waits until no live member is left before it reports the exit: the
//! machine may start the next JobManager as soon as it hears of it.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::JobManagerSettings;
use crate::process::guard::{self, Status};
use crate::process::launch::Launch;
use crate::process::mono;
use flink_ha_core::machine::Event;
use flink_ha_core::walltime;

/// How long after a stop's grace the daemon waits for the guard before it kills the guard and
/// the JobManager's process group itself (the guard should never need this).
const GUARD_SLACK: Duration = Duration::from_secs(2);

/// The longest the main loop waits to hand the guard one control line.
const CONTROL_WRITE_WAIT: Duration = Duration::from_millis(200);

/// How long the daemon waits, once the guard is gone, for the last members of the JobManager's
/// process group to die after their SIGKILL (a process in uninterruptible sleep dies late).
const GROUP_DEATH_WAIT: Duration = Duration::from_secs(10);

/// How often the daemon looks for members of a killed group that are still alive.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// How to start the JobManager.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The daemon's own executable, which runs the guard (`fence-guard` subcommand).
    pub guard_exe: PathBuf,
    /// `jobmanager.*` settings.
    pub settings: JobManagerSettings,
}

/// How a JobManager is started behind its guard.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// Running at once, under a lease that ends then.
    Leased(Instant),
    /// Parked at its gate, without a lease, as park `park` of the machine, with a Flink
    /// configuration of this fingerprint.
    Parked {
        /// The machine's number of the park.
        park: u64,
        /// The fingerprint of the Flink configuration it was started with.
        fingerprint: u64,
    },
}

/// A JobManager started behind its guard (running, or parked at its gate until released).
pub(crate) struct Running {
    control: ChildStdin,
    guard_pid: u32,
    /// Set once a parked JobManager is released: from then on its events are the JobManager's.
    released: Arc<AtomicBool>,
    /// The JobManager's pid (= its process group), once the guard reported it.
    jm_pid: Arc<AtomicU32>,
    /// Set when the guard has exited and was reaped.
    gone: Arc<AtomicBool>,
}

impl Running {
    /// Starts the guard, which starts the JobManager as `launch` says (the configured command,
    /// or the JVM directly, see `launch.rs`). Events go to `events`; the last one for this
    /// process is `JobManagerExited` or `JobManagerSpawnFailed`.
    pub(crate) fn spawn(
        spec: &Spec,
        launch: &Launch,
        lease_until: Instant,
        events: UnboundedSender<Event>,
    ) -> std::io::Result<Running> {
        Running::start(spec, launch, Start::Leased(lease_until), events)
    }

    /// Starts the guard, which starts the JobManager as `start` says. A parked one reports
    /// `ParkedSpawned`, `ParkedAtGate` and `ParkedExited` with its park's number until it is
    /// released ([`Running::release`]), and the JobManager's events after.
    pub(crate) fn start(
        spec: &Spec,
        launch: &Launch,
        start: Start,
        events: UnboundedSender<Event>,
    ) -> std::io::Result<Running> {
        let s = &spec.settings;
        let mut cmd = Command::new(&spec.guard_exe);
        cmd.arg("fence-guard").arg("--stop-grace").arg(walltime::format_duration(s.stop_grace));
        let (park, released) = match start {
            Start::Leased(lease_until) => {
                cmd.arg("--lease-until-ns").arg(mono::to_ns(lease_until).to_string());
                (None, true)
            }
            Start::Parked { park, fingerprint } => {
                cmd.arg("--parked");
                (Some((park, fingerprint)), false)
            }
        };
        let released = Arc::new(AtomicBool::new(released));
        cmd.arg("--")
            .args(&launch.argv)
            .envs(&s.env)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(dir) = &s.workdir {
            cmd.current_dir(dir);
        }
        for var in crate::outward::systemd::SYSTEMD_ENV {
            cmd.env_remove(var);
        }
        // The daemon's own Kerberos login is not the JobManager's.
        for (var, before) in crate::zk::kerberos::environment_before() {
            match before {
                Some(value) => cmd.env(var, value),
                None => cmd.env_remove(var),
            };
        }
        match &s.log_file {
            Some(path) => {
                let file = crate::outward::logging::open_private_append(path)?;
                cmd.stderr(Stdio::from(file));
            }
            None => {
                cmd.stderr(Stdio::piped());
            }
        }
        let mut child = cmd.spawn()?;
        let guard_pid = child.id().expect("a just-spawned child has a pid");
        let control = child.stdin.take().expect("piped stdin");
        let status = child.stdout.take().expect("piped stdout");
        if let Some(output) = child.stderr.take() {
            crate::daemon::supervise::spawn("jobmanager-output", forward_output(output));
        }
        let jm_pid = Arc::new(AtomicU32::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let (jm_pid2, gone2, released2) = (jm_pid.clone(), gone.clone(), released.clone());
        crate::daemon::supervise::spawn("fence-guard-status", async move {
            let mut lines = BufReader::new(status).lines();
            let mut code = None;
            let mut spawn_failed = false;
            // Still parked: its events are the park's, not the JobManager's.
            let parked = || park.filter(|_| !released2.load(Ordering::SeqCst));
            while let Ok(Some(line)) = lines.next_line().await {
                match Status::parse(&line) {
                    Some(Status::Spawned(pid)) => {
                        jm_pid2.store(pid, Ordering::SeqCst);
                        let _ = events.send(match parked() {
                            Some((park, fingerprint)) => Event::ParkedSpawned { park, pid, fingerprint },
                            None => Event::JobManagerSpawned { pid },
                        });
                    }
                    Some(Status::SpawnFailed(error)) => {
                        spawn_failed = true;
                        let _ = events.send(match parked() {
                            Some((park, _)) => Event::ParkedExited { park, code: None, error: Some(error) },
                            None => Event::JobManagerSpawnFailed { error },
                        });
                    }
                    Some(Status::Parked) => {
                        if let Some((park, _)) = parked() {
                            let _ = events.send(Event::ParkedAtGate { park });
                        }
                    }
                    Some(Status::LeaseExpired) => {
                        tracing::warn!(
                            event = "guard_lease_expired",
                            "the fence guard's lease ran out; it stops the JobManager"
                        )
                    }
                    Some(Status::Note(note)) => tracing::warn!(target: "fence_guard", "{note}"),
                    Some(Status::Exited(c)) => code = Some(c),
                    None => tracing::warn!(line, "unexpected line from the fence guard"),
                }
            }
            let guard_status = child.wait().await;
            gone2.store(true, Ordering::SeqCst);
            // The guard is gone, whichever way: nothing of the old group may outlive this point,
            // since the machine may start a new JobManager as soon as it hears of the exit.
            let group = jm_pid2.load(Ordering::SeqCst);
            if group != 0 {
                kill_group_and_wait(group as i32).await;
            }
            if !spawn_failed {
                let code = code.unwrap_or_else(|| guard_status.map(guard::exit_code).unwrap_or(255));
                let _ = events.send(match parked() {
                    Some((park, _)) => Event::ParkedExited { park, code: Some(code), error: None },
                    None => Event::JobManagerExited { code },
                });
            }
        });
        Ok(Running { control, guard_pid, released, jm_pid, gone })
    }

    /// Releases a parked JobManager with the lease `until`: from now on its events are the
    /// JobManager's. Returns its pid when the guard already reported it (the caller reports
    /// it as spawned; otherwise the guard's report does).
    pub(crate) async fn release(&mut self, until: Instant) -> Option<u32> {
        self.released.store(true, Ordering::SeqCst);
        self.send(guard::release_line(mono::to_ns(until))).await;
        Some(self.jm_pid.load(Ordering::SeqCst)).filter(|&pid| pid != 0)
    }

    /// Moves the fence deadline the guard enforces.
    pub(crate) async fn renew(&mut self, until: Instant) {
        self.send(guard::lease_line(mono::to_ns(until))).await;
    }

    /// Writes one control line to the guard, waiting at most [`CONTROL_WRITE_WAIT`]: a guard
    /// that does not read (stopped, hung) must not hold up the main loop. A line cut short by
    /// the timeout reaches the guard as a malformed line it ignores, so the lease it holds can
    /// only run out sooner, never later.
    async fn send(&mut self, line: String) {
        if tokio::time::timeout(CONTROL_WRITE_WAIT, self.control.write_all(line.as_bytes())).await.is_err() {
            tracing::error!(guard_pid = self.guard_pid, "the fence guard does not read its control pipe");
        }
    }

    /// Asks the guard to stop the JobManager: SIGTERM to its group, SIGKILL after `grace`. If the
    /// guard itself does not finish in time, kills both.
    pub(crate) async fn stop(&mut self, grace: Duration) {
        let (guard_pid, jm_pid, gone) = (self.guard_pid, self.jm_pid.clone(), self.gone.clone());
        crate::daemon::supervise::spawn("stop-watch", async move {
            tokio::time::sleep(grace + GUARD_SLACK).await;
            if !gone.load(Ordering::SeqCst) {
                tracing::error!(guard_pid, "the fence guard did not stop the JobManager in time; killing both");
                let jm = jm_pid.load(Ordering::SeqCst);
                if jm != 0 {
                    let _ = killpg(Pid::from_raw(jm as i32), Signal::SIGKILL);
                }
                let _ = kill(Pid::from_raw(guard_pid as i32), Signal::SIGKILL);
            }
        });
        // After the watch is armed: whatever the guard does with this line, both die in time.
        self.send(guard::stop_line(grace)).await;
    }
}

/// Copies the JobManager's output into the daemon's log, line by line, at the level Flink's own
/// console pattern names (`WARN`, `ERROR`), else INFO.
async fn forward_output(output: tokio::process::ChildStderr) {
    crate::outward::logging::each_line_lossy(output, |line| {
        if line.contains(" ERROR ") {
            tracing::error!(target: "jobmanager", "{line}");
        } else if line.contains(" WARN ") {
            tracing::warn!(target: "jobmanager", "{line}");
        } else {
            tracing::info!(target: "jobmanager", "{line}");
        }
    })
    .await;
}

/// SIGKILLs process group `group` and waits until none of its members is alive (zombies do not
/// count; those the daemon itself has to reap, as PID 1 of a container, it reaps). Bounded by
/// [`GROUP_DEATH_WAIT`], logged if that passes.
async fn kill_group_and_wait(group: i32) {
    let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    let deadline = tokio::time::Instant::now() + GROUP_DEATH_WAIT;
    loop {
        // Without /proc, fall back to the kernel's word, in which unreaped zombies still count.
        let alive = group_members(group).unwrap_or_else(|| {
            if killpg(Pid::from_raw(group), None).is_ok() {
                vec![group]
            } else {
                Vec::new()
            }
        });
        if alive.is_empty() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::error!(
                event = "jobmanager_group_survives",
                group,
                pids = ?alive,
                "members of the old JobManager's process group are still alive after SIGKILL"
            );
            return;
        }
        // Killed again: a member may have been forked after the first signal.
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// The live (not zombie) members of process group `group`, from `/proc/<pid>/stat`. Zombies of
/// the group that are this process's children (it adopted them as PID 1 or subreaper) are
/// reaped on the way. `None` when `/proc` cannot be read: never taken for "none alive".
fn group_members(group: i32) -> Option<Vec<i32>> {
    let me = std::process::id() as i32;
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut alive = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(stat) = ProcStat::parse(&stat) else {
            continue;
        };
        if stat.pgrp != group {
            continue;
        }
        if stat.state == 'Z' {
            if stat.ppid == me {
                let _ = nix::sys::wait::waitpid(Pid::from_raw(pid), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            }
        } else {
            alive.push(pid);
        }
    }
    Some(alive)
}

/// The fields of `/proc/<pid>/stat` the group check needs.
#[derive(Debug, PartialEq, Eq)]
struct ProcStat {
    state: char,
    ppid: i32,
    pgrp: i32,
}

impl ProcStat {
    /// Parses `pid (comm) state ppid pgrp ...`; the command name may hold spaces and
    /// parentheses, so the fields start after the last `)`.
    fn parse(stat: &str) -> Option<ProcStat> {
        let (_, rest) = stat.rsplit_once(')')?;
        let mut fields = rest.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some(ProcStat { state, ppid, pgrp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_parses_names_with_spaces_and_parentheses() {
        let stat = "4242 (java (x) y) S 17 4242 4242 0 -1 4194560 1 0";
        assert_eq!(ProcStat::parse(stat), Some(ProcStat { state: 'S', ppid: 17, pgrp: 4242 }));
        assert_eq!(ProcStat::parse("1 (init) Z"), None);
        assert_eq!(ProcStat::parse("garbage"), None);
    }

    #[tokio::test]
    // The child is not waited for through its handle: `group_members` reaps the members that are
    // this process's children, so once the group is empty there is nothing left to wait for.
    #[allow(clippy::zombie_processes)]
    async fn a_killed_group_is_waited_for() {
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new("sleep").arg("30").process_group(0).spawn().unwrap();
        let pid = child.id() as i32;
        assert_eq!(group_members(pid), Some(vec![pid]));
        kill_group_and_wait(pid).await;
        assert_eq!(group_members(pid), Some(Vec::new()));
    }
}
