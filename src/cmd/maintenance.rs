//! The operator commands that steer the daemons through ZooKeeper: `pause`, `resume` (maintenance
//! mode) and `handover [--to NODE] [--wait]` (a planned switchover). They talk to ZooKeeper
//! directly, so they work from any host with the configuration, whatever the local daemon does.

use std::time::{Duration, Instant};

use zookeeper_client as zk;

use crate::config::Settings;
use crate::process::mono::wall_now_ms as now_ms;
use crate::zk::control::{self, contenders, Contender, HandoverNote, PauseNote};
use crate::zk::election::ZkTarget;
use flink_ha_core::failover::{self, LeaderRecord, TermState};

/// How the command ended, with its exit code: 0 done, 1 refused or not done in time, 2 ZooKeeper
/// unreachable.
#[derive(Debug)]
pub enum Outcome {
    /// Done; the text says what happened.
    Done(String),
    /// Refused or not completed; the text says why and what to do.
    Refused(String),
    /// ZooKeeper could not be reached or answered with an error.
    Unreachable(String),
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::Done(_) => 0,
            Outcome::Refused(_) => 1,
            Outcome::Unreachable(_) => 2,
        }
    }
}

fn node_id(c: &Contender) -> &str {
    c.identity.as_ref().map(|i| i.node_id.as_str()).unwrap_or("?")
}

/// `user@host` of whoever runs the command.
fn requester() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

async fn connect(settings: &Settings) -> Result<zk::Client, Outcome> {
    let target = ZkTarget {
        quorum: settings.zookeeper.quorum.clone(),
        session_timeout: settings.zookeeper.session_timeout,
        connect_timeout: settings.zookeeper.connect_timeout,
    };
    let limit = settings.zookeeper.session_timeout + settings.zookeeper.connect_timeout;
    match tokio::time::timeout(limit, target.connect()).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(Outcome::Unreachable(format!("cannot reach ZooKeeper at {}: {e}", target.quorum))),
        Err(_) => Err(Outcome::Unreachable(format!("cannot reach ZooKeeper at {} within {limit:?}", target.quorum))),
    }
}

fn zk_error(e: zk::Error) -> Outcome {
    Outcome::Unreachable(format!("ZooKeeper request failed: {e}"))
}

/// Switches maintenance mode on: the daemons neither fail over nor restart or stop the
/// JobManager on their own until `resume`. Fencing stays on.
pub async fn pause(settings: &Settings, reason: Option<String>) -> Outcome {
    let client = match connect(settings).await {
        Ok(client) => client,
        Err(outcome) => return outcome,
    };
    let path = control::pause_path(&settings.election.path);
    let note = PauseNote { paused_by: requester(), since_ms: now_ms(), reason };
    let data = serde_json::to_vec(&note).expect("a pause note serializes");
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let result = client.create(&path, &data, &options).await;
    let result = match result {
        Err(zk::Error::NoNode) => match client.mkdir(parent(&path), &options).await {
            Ok(()) => client.create(&path, &data, &options).await,
            Err(e) => Err(e),
        },
        other => other,
    };
    match result {
        Ok(_) => Outcome::Done(format!(
            "PAUSED: maintenance mode is on ({path}); the daemons will not fail over, restart or stop the JobManager on their own; fencing stays on. `resume` ends it."
        )),
        Err(zk::Error::NodeExists) => Outcome::Done(format!("already paused ({path}); nothing changed")),
        Err(e) => zk_error(e),
    }
}

/// Switches maintenance mode off. The daemons return to normal without a failover.
pub async fn resume(settings: &Settings) -> Outcome {
    let client = match connect(settings).await {
        Ok(client) => client,
        Err(outcome) => return outcome,
    };
    let path = control::pause_path(&settings.election.path);
    match client.delete(&path, None).await {
        Ok(()) => Outcome::Done("resumed: maintenance mode is off".into()),
        Err(zk::Error::NoNode) => Outcome::Done("not paused; nothing changed".into()),
        Err(e) => zk_error(e),
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
pub async fn handover(settings: &Settings, to: Option<String>, wait: bool, timeout: Duration) -> Outcome {
    let client = match connect(settings).await {
        Ok(client) => client,
        Err(outcome) => return outcome,
    };
    let election = &settings.election.path;
    match client.check_stat(&control::pause_path(election)).await {
        Ok(Some(_)) => {
            return Outcome::Refused(
                "the cluster is paused (maintenance mode): a handover would leave it without a JobManager; run `resume` first".into(),
            )
        },
        Ok(None) => {},
        Err(e) => return zk_error(e),
    }
    let queue = match contenders(&client, election).await {
        Ok(queue) => queue,
        Err(e) => return zk_error(e),
    };
    let Some(leader) = queue.first() else {
        return Outcome::Refused(format!("no leader under {election}: nothing to hand over"));
    };
    let alive: Vec<&str> = queue.iter().map(node_id).collect();
    match to.as_deref() {
        Some(target) if target == node_id(leader) => {
            return Outcome::Done(format!("{target} already leads (term {}); nothing to do", leader.sequence))
        }
        Some(target) if !alive.contains(&target) => {
            return Outcome::Refused(format!(
                "{target} is not a live contender; alive: {}; start its daemon or name one of them",
                alive.join(", ")
            ))
        }
        None if queue.len() < 2 => {
            return Outcome::Refused(format!(
                "{} is the only contender: no standby to hand over to; start another daemon first",
                node_id(leader)
            ))
        }
        _ => {}
    }
    let note = HandoverNote {
        from_epoch: leader.sequence,
        from_node: node_id(leader).to_string(),
        to: to.clone(),
        requested_by: requester(),
        requested_ms: now_ms(),
    };
    let path = control::handover_path(election);
    let data = serde_json::to_vec(&note).expect("a handover note serializes");
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let started = Instant::now();
    match client.create(&path, &data, &options).await {
        Ok(_) => {}
        Err(zk::Error::NodeExists) => {
            // A request against an older term is stale (its leader is gone): replace it.
            let stale = match client.get_data(&path).await {
                Ok((data, _)) => {
                    serde_json::from_slice::<HandoverNote>(&data).map_or(true, |n| n.from_epoch != leader.sequence)
                }
                Err(_) => true,
            };
            if !stale {
                return Outcome::Refused(format!(
                    "a handover of term {} is already in progress ({path})",
                    leader.sequence
                ));
            }
            if let Err(e) = client.set_data(&path, &data, None).await {
                return zk_error(e);
            }
        }
        Err(e) => return zk_error(e),
    }
    let from = node_id(leader).to_string();
    let whom = to.as_deref().unwrap_or("the next contender");
    if !wait {
        return Outcome::Done(format!("handover requested: {from} (term {}) steps down for {whom}", leader.sequence));
    }
    let record_path = failover::record_path(election);
    let deadline = started + timeout;
    while Instant::now() < deadline {
        if let Ok((data, _)) = client.get_data(&record_path).await {
            if let Ok(record) = serde_json::from_slice::<LeaderRecord>(&data) {
                let target_ok = to.as_deref().is_none_or(|t| t == record.node);
                if record.epoch != leader.sequence && record.state == TermState::Serving && target_ok {
                    return Outcome::Done(format!(
                        "handover from {from} to {} took {:.2}s (its JobManager is ready, term {})",
                        record.node,
                        started.elapsed().as_secs_f64(),
                        record.epoch
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Outcome::Refused(format!(
        "handover requested, but no new JobManager was ready within {}; see `flink-ha-supervisor status` and the daemons' logs",
        humantime::format_duration(timeout)
    ))
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
