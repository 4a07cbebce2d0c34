//! The JobManager process adapter: starts it behind a fence guard (see `guard.rs`), passes lease
//! renewals and stop requests on, and reports what happens to it as machine events.

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
use crate::guard::{self, Status};
use crate::machine::Event;
use crate::mono;

/// How long after a stop's grace the daemon waits for the guard before it kills the guard and
/// the JobManager's process group itself (the guard should never need this).
const GUARD_SLACK: Duration = Duration::from_secs(2);

/// How to start the JobManager.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The daemon's own executable, which runs the guard (`fence-guard` subcommand).
    pub guard_exe: PathBuf,
    /// `jobmanager.*` settings.
    pub settings: JobManagerSettings,
}

/// A JobManager started behind its guard.
pub struct Running {
    control: ChildStdin,
    guard_pid: u32,
    /// The JobManager's pid (= its process group), once the guard reported it.
    jm_pid: Arc<AtomicU32>,
    /// Set when the guard has exited and was reaped.
    gone: Arc<AtomicBool>,
}

impl Running {
    /// Starts the guard, which starts the JobManager. Events go to `events`; the last one for
    /// this process is `JobManagerExited` or `JobManagerSpawnFailed`.
    pub fn spawn(spec: &Spec, lease_until: Instant, events: UnboundedSender<Event>) -> std::io::Result<Running> {
        let s = &spec.settings;
        let mut cmd = Command::new(&spec.guard_exe);
        cmd.arg("fence-guard")
            .arg("--stop-grace")
            .arg(humantime::format_duration(s.stop_grace).to_string())
            .arg("--lease-until-ns")
            .arg(mono::from_instant(lease_until).to_string())
            .arg("--")
            .args(&s.command)
            .envs(&s.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .process_group(0)
            .kill_on_drop(false);
        if let Some(dir) = &s.workdir {
            cmd.current_dir(dir);
        }
        for var in crate::notify::SYSTEMD_ENV {
            cmd.env_remove(var);
        }
        match &s.log_file {
            Some(path) => {
                let file = crate::logging::open_private_append(path)?;
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
            tokio::spawn(forward_output(output));
        }
        let jm_pid = Arc::new(AtomicU32::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let (jm_pid2, gone2) = (jm_pid.clone(), gone.clone());
        tokio::spawn(async move {
            let mut lines = BufReader::new(status).lines();
            let mut code = None;
            let mut spawn_failed = false;
            while let Ok(Some(line)) = lines.next_line().await {
                match Status::parse(&line) {
                    Some(Status::Spawned(pid)) => {
                        jm_pid2.store(pid, Ordering::SeqCst);
                        let _ = events.send(Event::JobManagerSpawned { pid });
                    }
                    Some(Status::SpawnFailed(error)) => {
                        spawn_failed = true;
                        let _ = events.send(Event::JobManagerSpawnFailed { error });
                    }
                    Some(Status::LeaseExpired) => {
                        tracing::warn!(
                            event = "guard_lease_expired",
                            "the fence guard's lease ran out; it stops the JobManager"
                        )
                    }
                    Some(Status::Exited(c)) => code = Some(c),
                    None => tracing::warn!(line, "unexpected line from the fence guard"),
                }
            }
            let guard_status = child.wait().await;
            gone2.store(true, Ordering::SeqCst);
            if !spawn_failed {
                let code = code.unwrap_or_else(|| guard_status.map(guard::exit_code).unwrap_or(255));
                let _ = events.send(Event::JobManagerExited { code });
            }
        });
        Ok(Running { control, guard_pid, jm_pid, gone })
    }

    /// Moves the fence deadline the guard enforces.
    pub async fn renew(&mut self, until: Instant) {
        let _ = self.control.write_all(guard::lease_line(mono::from_instant(until)).as_bytes()).await;
    }

    /// Asks the guard to stop the JobManager: SIGTERM to its group, SIGKILL after `grace`. If the
    /// guard itself does not finish in time, kills both.
    pub async fn stop(&mut self, grace: Duration) {
        let _ = self.control.write_all(guard::stop_line(grace).as_bytes()).await;
        let (guard_pid, jm_pid, gone) = (self.guard_pid, self.jm_pid.clone(), self.gone.clone());
        tokio::spawn(async move {
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
    }
}

/// Copies the JobManager's output (and the guard's notes) into the daemon's log, line by line,
/// at the level Flink's own console pattern names (`WARN`, `ERROR`), else INFO.
async fn forward_output(output: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(output).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(note) = line.strip_prefix("fence-guard: ") {
            tracing::warn!(target: "fence_guard", "{note}");
        } else if line.contains(" ERROR ") {
            tracing::error!(target: "jobmanager", "{line}");
        } else if line.contains(" WARN ") {
            tracing::warn!(target: "jobmanager", "{line}");
        } else {
            tracing::info!(target: "jobmanager", "{line}");
        }
    }
}
