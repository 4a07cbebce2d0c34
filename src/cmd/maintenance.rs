//! The operator commands that steer the daemons through ZooKeeper: `pause`, `resume` (maintenance
//! mode) and `handover [--to NODE] [--wait]` (a planned switchover). They talk to ZooKeeper
//! directly, so they work from any host that reaches ZooKeeper (`--quorum`, or a configuration
//! file), whatever the local daemon does. `pause` creates a missing chroot as the daemons do
//! (`zk::chroot`); `resume` and `handover` find no cluster there and say so.
//! The handover's rules are `flink_ha_core::handover`'s; this module reads, writes and waits.

use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use zookeeper_client as zk;

use super::target::Target;
use crate::config::{parse_command_line_duration, ClientSettings};
use crate::host;
use crate::process::mono::wall_now_ms as now_ms;
use crate::zk::acl::NodeAcl;
use crate::zk::chroot;
use crate::zk::contenders::contenders;
use crate::zk::session::{self, ZkTarget};
use flink_ha_core::controls::{handover_path, pause_path, PauseNote};
use flink_ha_core::failover;
use flink_ha_core::handover::{self, Decision};

/// How long closing the session may delay the exit.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// `pause`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct PauseArgs {
    /// Where the election is.
    #[command(flatten)]
    pub target: Target,
    /// Why, for `status` and the logs.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `handover`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct HandoverArgs {
    /// Where the election is.
    #[command(flatten)]
    pub target: Target,
    /// The node that is to lead next (a live contender); default: the next in line.
    #[arg(long)]
    pub to: Option<String>,
    /// Return only when the new JobManager is ready, and print how long it took.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits.
    #[arg(long, value_parser = parse_command_line_duration, default_value = "60s")]
    pub timeout: Duration,
}

/// `resume`'s arguments.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ResumeArgs {
    /// Where the election is.
    #[command(flatten)]
    pub target: Target,
}

/// How the command ended, with its exit code: 0 done, 1 refused or not done in time, 2 ZooKeeper
/// unreachable or refusing this identity.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Done; the text says what happened.
    Done(String),
    /// Refused or not completed; the text says why and what to do.
    Refused(String),
    /// ZooKeeper could not be reached, refused this identity, or answered with an error.
    Unreachable(String),
}

impl Outcome {
    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done(_) => 0,
            Outcome::Refused(_) => 1,
            Outcome::Unreachable(_) => 2,
        }
    }
}

impl From<zk::Error> for Outcome {
    fn from(e: zk::Error) -> Outcome {
        Outcome::Unreachable(format!("ZooKeeper request failed: {e}"))
    }
}

/// `pause`: prints the outcome; returns its exit code.
pub(crate) fn pause_main(args: PauseArgs) -> ExitCode {
    steer(&args.target, Chroot::Create, |client, settings| async move { pause(&client, &settings, args.reason).await })
}

/// `resume`: prints the outcome; returns its exit code.
pub(crate) fn resume_main(args: &ResumeArgs) -> ExitCode {
    steer(&args.target, Chroot::Require, |client, settings| async move { resume(&client, &settings).await })
}

/// `handover`: prints the outcome; returns its exit code.
pub(crate) fn handover_main(args: HandoverArgs) -> ExitCode {
    steer(&args.target, Chroot::Require, |client, settings| async move {
        handover(&client, &settings, args.to.as_deref(), args.wait, args.timeout).await
    })
}

/// What a command does about a chroot that does not exist.
#[derive(Debug, Clone, Copy)]
enum Chroot {
    /// Create it, as the daemons do.
    Create,
    /// Say that there is no cluster (exit code 2).
    Require,
}

/// Loads the settings (or exits 2), makes a session, sees to the chroot, runs `command` with a
/// handle on the session, closes it and prints the outcome.
fn steer<F>(target: &Target, missing_chroot: Chroot, command: impl FnOnce(zk::Client, ClientSettings) -> F) -> ExitCode
where
    F: Future<Output = Result<Outcome, zk::Error>>,
{
    let settings = match target.load() {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return super::refuse(format!("cannot start the async runtime: {e}")),
    };
    let target = ZkTarget::of_zookeeper(&settings.zookeeper);
    let election_path = settings.election.path.clone();
    let outcome = runtime.block_on(async {
        let client = match target.connect().await {
            Ok(client) => client,
            Err(e) => return Outcome::Unreachable(e.to_string()),
        };
        let chroot = match missing_chroot {
            Chroot::Create => chroot::ensure(&client, &target.quorum, target.acl).await.map(|_| None),
            Chroot::Require => chroot::missing(&client, &target.quorum).await,
        };
        let ran = match chroot {
            Ok(None) => command(client.clone(), settings).await,
            Ok(Some(chroot)) => Ok(Outcome::Unreachable(chroot::no_cluster(&target.quorum, &chroot))),
            Err(e) => Err(e),
        };
        let outcome = match ran {
            Ok(outcome) => outcome,
            // The daemons' nodes are protected and this identity is not theirs.
            Err(zk::Error::NoAuth) => {
                Outcome::Unreachable(target.denied("access to the nodes at", &election_path).to_string())
            }
            Err(e) => Outcome::from(e),
        };
        session::close(client, CLOSE_WAIT).await;
        outcome
    });
    match &outcome {
        Outcome::Done(text) => println!("{text}"),
        Outcome::Refused(text) | Outcome::Unreachable(text) => eprintln!("flink-ha-supervisor: {text}"),
    }
    ExitCode::from(outcome.exit_code())
}

/// `user@host` of whoever runs the command.
fn requester() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", host::name())
}

/// Switches maintenance mode on: the daemons neither fail over nor restart or stop the
/// JobManager on their own until `resume`. Fencing stays on.
async fn pause(client: &zk::Client, settings: &ClientSettings, reason: Option<String>) -> Result<Outcome, zk::Error> {
    let path = pause_path(&settings.election.path);
    let note = PauseNote { paused_by: requester(), since_ms: now_ms(), reason };
    let data = serde_json::to_vec(&note).expect("a pause note serializes");
    let options = NodeAcl::of(&settings.zookeeper).persistent();
    let result = match client.create(&path, &data, &options).await {
        Err(zk::Error::NoNode) => match client.mkdir(parent(&path), &options).await {
            Ok(()) => client.create(&path, &data, &options).await,
            Err(e) => Err(e),
        },
        other => other,
    };
    match result {
        Ok(_) => Ok(Outcome::Done(format!(
            "PAUSED: maintenance mode is on ({path}); the daemons will not fail over, restart or stop the JobManager on their own; fencing stays on. `resume` ends it."
        ))),
        Err(zk::Error::NodeExists) => Ok(Outcome::Done(format!("already paused ({path}); nothing changed"))),
        Err(e) => Err(e),
    }
}

/// Switches maintenance mode off. The daemons return to normal without a failover.
async fn resume(client: &zk::Client, settings: &ClientSettings) -> Result<Outcome, zk::Error> {
    match client.delete(&pause_path(&settings.election.path), None).await {
        Ok(()) => Ok(Outcome::Done("resumed: maintenance mode is off".into())),
        Err(zk::Error::NoNode) => Ok(Outcome::Done("not paused; nothing changed".into())),
        Err(e) => Err(e),
    }
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// A planned switchover: the leader stops its JobManager and steps down; with `to`, the named
/// contender becomes leader and the others step aside. With `wait`, returns when the new
/// JobManager is ready (or after `timeout`).
async fn handover(
    client: &zk::Client,
    settings: &ClientSettings,
    to: Option<&str>,
    wait: bool,
    timeout: Duration,
) -> Result<Outcome, zk::Error> {
    let election = &settings.election.path;
    let paused = client.check_stat(&pause_path(election)).await?.is_some();
    let queue = contenders(client, election).await?;
    let plan = match handover::decide(paused, &queue, election, to) {
        Decision::NothingToDo(text) => return Ok(Outcome::Done(text)),
        Decision::Refused(text) => return Ok(Outcome::Refused(text)),
        Decision::Request(plan) => plan,
    };
    let path = handover_path(election);
    let data = serde_json::to_vec(&plan.note(requester(), now_ms())).expect("a handover note serializes");
    let options = NodeAcl::of(&settings.zookeeper).persistent();
    let started = Instant::now();
    match client.create(&path, &data, &options).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            let pending = client.get_data(&path).await.ok().map(|(data, _)| data);
            if let Err(refusal) = plan.replaces(pending.as_deref(), &path) {
                return Ok(Outcome::Refused(refusal));
            }
            client.set_data(&path, &data, None).await?;
        }
        Err(e) => return Err(e),
    }
    if !wait {
        return Ok(Outcome::Done(plan.requested()));
    }
    let record_path = failover::record_path(election);
    let deadline = started + timeout;
    while Instant::now() < deadline {
        if let Ok((record, _)) = client.get_data(&record_path).await {
            if let Some(done) = plan.fulfilled(&record, started.elapsed()) {
                return Ok(Outcome::Done(done));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Outcome::Refused(handover::timed_out(timeout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Outcome::Done(String::new()).exit_code(), 0);
        assert_eq!(Outcome::Refused(String::new()).exit_code(), 1);
        assert_eq!(Outcome::Unreachable(String::new()).exit_code(), 2);
    }

    #[test]
    fn parents() {
        assert_eq!(parent("/flink/leader-pause"), "/flink");
        assert_eq!(parent("/x"), "/");
    }
}
