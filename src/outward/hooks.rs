//! Role-change hooks: optional commands run when this node becomes leader (`hooks.on_leader`)
//! and when it stops being one (`hooks.on_standby`), e.g. to move a floating IP, update DNS or
//! page someone.
//!
//! The machine decides which hook is due and why (`Action::RunHook`); [`Hooks::run`] only
//! queues it, so the daemon's main loop never waits for a hook, and stopping the JobManager
//! (fencing, losing leadership, shutdown) never waits for one either. A worker task runs the
//! queued hooks one at a time, in the order of the role changes, each in its own process group
//! with the role, node, epoch and cause in its environment (`FLINK_HA_*`, see [`HookJob::env`]),
//! and kills the group when a hook outlives `hooks.timeout`. Every start, success, failure and
//! timeout is an audit record (`hook_started`, `hook_succeeded`, `hook_failed`,
//! `hook_timed_out`); the hook's own output goes into the log (target `hook`).
//!
//! The causes (`FLINK_HA_EVENT`): `elected`, and `recovered` (the JobManager runs again after a
//! fence, still in the same term) for `on_leader`; `leadership_lost` (the election node or the
//! session is gone), `resigned` (crash loop), `handover` (a planned handover), `fenced` (no proof
//! that the session is alive: the JobManager is being stopped, and another node may take over
//! soon) and `shutdown` for `on_standby`. Each `on_leader` is followed by exactly one
//! `on_standby` of the same epoch, unless the daemon dies first.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::AsyncRead;
use tokio::process::Command;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};

use crate::config::{HookSettings, Settings};
use crate::outward::logging::write_audit;
use crate::outward::systemd::SYSTEMD_ENV;
use flink_ha_core::audit_event::AuditEvent;
use flink_ha_core::machine::{Hook, HookCause, HookKind};

/// `FLINK_HA_ROLE`: `leader` or `standby`, the role the hook is run for.
pub(crate) const ROLE_VAR: &str = "FLINK_HA_ROLE";
/// `FLINK_HA_NODE`: this daemon's `node.id`.
pub(crate) const NODE_VAR: &str = "FLINK_HA_NODE";
/// `FLINK_HA_EPOCH`: the leadership term gained or given up.
pub(crate) const EPOCH_VAR: &str = "FLINK_HA_EPOCH";
/// `FLINK_HA_EVENT`: why (`elected`, `recovered`, `leadership_lost`, `resigned`, `handover`,
/// `fenced`, `shutdown`).
pub(crate) const EVENT_VAR: &str = "FLINK_HA_EVENT";
/// `FLINK_HA_HOOK`: `on_leader` or `on_standby`, for a script that serves both.
pub(crate) const HOOK_VAR: &str = "FLINK_HA_HOOK";

/// One run of a hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookJob {
    /// Which hook.
    pub kind: HookKind,
    /// Why (`FLINK_HA_EVENT`).
    pub cause: HookCause,
    /// The term (`FLINK_HA_EPOCH`).
    pub epoch: u64,
    /// The command.
    pub argv: Vec<String>,
}

impl HookJob {
    /// The variables the hook gets on top of the daemon's environment.
    pub(crate) fn env(&self, node: &str) -> [(&'static str, String); 5] {
        [
            (ROLE_VAR, self.kind.role().to_string()),
            (NODE_VAR, node.to_string()),
            (EPOCH_VAR, self.epoch.to_string()),
            (EVENT_VAR, self.cause.as_str().to_string()),
            (HOOK_VAR, self.kind.name().to_string()),
        ]
    }
}

/// The daemon's end of the hooks: queues the hooks the machine asks for, for the worker.
pub(crate) struct Hooks {
    settings: HookSettings,
    node: String,
    queue: Option<UnboundedSender<HookJob>>,
    worker: Option<tokio::task::JoinHandle<()>>,
}

impl Hooks {
    /// Hooks as configured in `[hooks]`. The worker task is started with the first hook.
    pub(crate) fn new(settings: &Settings) -> Hooks {
        Hooks { settings: settings.hooks.clone(), node: settings.node.id.clone(), queue: None, worker: None }
    }

    /// Queues a hook the machine decided to run, if it is configured. Never blocks.
    pub(crate) fn run(&mut self, hook: Hook) {
        let argv = match hook.kind {
            HookKind::OnLeader => self.settings.on_leader.clone(),
            HookKind::OnStandby => self.settings.on_standby.clone(),
        };
        if let Some(argv) = argv {
            self.enqueue(HookJob { kind: hook.kind, cause: hook.cause, epoch: hook.epoch, argv });
        }
    }

    fn enqueue(&mut self, job: HookJob) {
        if self.queue.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            let worker = Worker { node: self.node.clone(), timeout: self.settings.timeout };
            self.worker = Some(crate::daemon::supervise::spawn("hooks", worker.run(rx)));
            self.queue = Some(tx);
        }
        if let Some(queue) = &self.queue {
            let _ = queue.send(job);
        }
    }

    /// At exit, after the JobManager is stopped and the election left: lets the queued hooks
    /// run (each still bounded by `hooks.timeout`), so that the last `on_standby` is not lost.
    pub(crate) async fn drain(&mut self) {
        self.queue = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.await;
        }
    }
}

/// Runs queued hooks one at a time.
struct Worker {
    node: String,
    timeout: Duration,
}

impl Worker {
    async fn run(self, mut queue: UnboundedReceiver<HookJob>) {
        while let Some(job) = queue.recv().await {
            self.run_one(&job).await;
        }
    }

    async fn run_one(&self, job: &HookJob) {
        let node = self.node.as_str();
        let (hook, ha_event, epoch) = (job.kind.name(), job.cause.as_str(), Some(job.epoch));
        let (named_hook, named_event, command) =
            (Some(hook.to_string()), Some(ha_event.to_string()), Some(format!("{:?}", job.argv)));
        let mut cmd = Command::new(&job.argv[0]);
        cmd.args(&job.argv[1..])
            .envs(job.env(node))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for var in SYSTEMD_ENV {
            cmd.env_remove(var);
        }
        let started = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let failed = AuditEvent::HookFailed {
                    hook: named_hook,
                    ha_event: named_event,
                    command,
                    duration_ms: None,
                    code: None,
                    signal: None,
                    error: Some(e.to_string()),
                };
                write_audit(node, epoch, &failed, "the hook could not be started");
                return;
            }
        };
        let pid = child.id().map_or(0, |pid| pid as i32);
        let started_event = AuditEvent::HookStarted {
            hook: named_hook.clone(),
            ha_event: named_event.clone(),
            pid: Some(pid),
            command,
        };
        write_audit(node, epoch, &started_event, "hook started");
        if let Some(out) = child.stdout.take() {
            crate::daemon::supervise::spawn("hook-output", forward(out, hook));
        }
        if let Some(err) = child.stderr.take() {
            crate::daemon::supervise::spawn("hook-output", forward(err, hook));
        }
        let waited = tokio::time::timeout(self.timeout, child.wait()).await;
        let duration_ms = Some(started.elapsed().as_millis() as u64);
        let (hook_name, ha_event) = (named_hook, named_event);
        match waited {
            Ok(Ok(status)) if status.success() => write_audit(
                node,
                epoch,
                &AuditEvent::HookSucceeded { hook: hook_name, ha_event, duration_ms },
                "hook succeeded",
            ),
            Ok(Ok(status)) => {
                use std::os::unix::process::ExitStatusExt;
                let failed = AuditEvent::HookFailed {
                    hook: hook_name,
                    ha_event,
                    command: None,
                    duration_ms,
                    code: status.code(),
                    signal: status.signal(),
                    error: None,
                };
                write_audit(node, epoch, &failed, "the hook failed")
            }
            Ok(Err(e)) => {
                let failed = AuditEvent::HookFailed {
                    hook: hook_name,
                    ha_event,
                    command: None,
                    duration_ms,
                    code: None,
                    signal: None,
                    error: Some(e.to_string()),
                };
                write_audit(node, epoch, &failed, "cannot wait for the hook")
            }
            Err(_) => {
                // The whole group: a shell's children too.
                if pid > 0 {
                    let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                }
                let _ = child.wait().await;
                let timeout_ms = Some(self.timeout.as_millis() as u64);
                let timed_out = AuditEvent::HookTimedOut { hook: hook_name, ha_event, duration_ms, timeout_ms };
                write_audit(node, epoch, &timed_out, "the hook outlived hooks.timeout; killed its process group")
            }
        }
    }
}

/// Copies a hook's output into the log, line by line (bytes that are not UTF-8 replaced).
async fn forward(output: impl AsyncRead + Unpin, hook: &'static str) {
    crate::outward::logging::each_line_lossy(output, |line| tracing::info!(target: "hook", hook, "{line}")).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_role_node_epoch_and_cause() {
        let job = HookJob { kind: HookKind::OnStandby, cause: HookCause::Fenced, epoch: 12, argv: vec!["x".into()] };
        let env = job.env("jm2");
        assert_eq!(
            env.map(|(k, v)| format!("{k}={v}")),
            [
                "FLINK_HA_ROLE=standby",
                "FLINK_HA_NODE=jm2",
                "FLINK_HA_EPOCH=12",
                "FLINK_HA_EVENT=fenced",
                "FLINK_HA_HOOK=on_standby"
            ]
        );
    }
}
