//! Operator controls kept in ZooKeeper beside the election path: maintenance mode
//! (`<election.path>-pause`, as Patroni's pause) and the planned-handover request
//! (`<election.path>-handover`). The commands write them (`maintenance.rs`); every daemon watches
//! them with [`watch`] and reports what it sees to its state machine.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use zookeeper_client as zk;

use crate::zk::election::SessionEvent;
use flink_ha_core::identity::{self, Child, NodeIdentity};
use flink_ha_core::machine::{Event, HandoverRequest, HandoverTarget};

/// Pause before watching again after an error (a connection loss).
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The maintenance-mode node: it exists while the cluster is paused.
pub fn pause_path(election_path: &str) -> String {
    format!("{election_path}-pause")
}

/// The planned-handover request node.
pub fn handover_path(election_path: &str) -> String {
    format!("{election_path}-handover")
}

/// The pause node's data. Its existence is what pauses; the data says who and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseNote {
    /// Who paused (user@host of the command).
    pub paused_by: String,
    /// Unix time (ms, the command's clock) of the pause.
    pub since_ms: i64,
    /// Free text from `pause --reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The handover request node's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoverNote {
    /// The term of the leader that is to step down.
    pub from_epoch: u64,
    /// That leader's node id.
    pub from_node: String,
    /// Who is to lead next; `None` for any other contender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Who asked (user@host of the command).
    pub requested_by: String,
    /// Unix time (ms, the command's clock) of the request.
    pub requested_ms: i64,
}

/// Watches the pause and handover nodes for one session and reports `PauseChanged` and
/// `HandoverChanged` events, relative to node `node_id`. Returns when the session ends.
pub async fn watch(
    client: zk::Client,
    election_path: String,
    node_id: String,
    generation: u64,
    events: UnboundedSender<SessionEvent>,
) {
    let pause = pause_path(&election_path);
    let handover = handover_path(&election_path);
    loop {
        let pause_watch = match client.check_and_watch_stat(&pause).await {
            Ok((stat, watcher)) => {
                if events.send((generation, Event::PauseChanged { paused: stat.is_some() })).is_err() {
                    return;
                }
                watcher
            }
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            Err(_) => {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let handover_watch = match client.check_and_watch_stat(&handover).await {
            Ok((stat, watcher)) => {
                let request = match stat {
                    Some(_) => read_request(&client, &election_path, &handover, &node_id).await,
                    None => None,
                };
                if events.send((generation, Event::HandoverChanged(request))).is_err() {
                    return;
                }
                watcher
            }
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            Err(_) => {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        tokio::select! {
            event = pause_watch.changed() => if event.session_state.is_terminated() { return },
            event = handover_watch.changed() => if event.session_state.is_terminated() { return },
        }
    }
}

/// Reads the handover request and judges its target; `None` for an unusable request.
async fn read_request(client: &zk::Client, election_path: &str, path: &str, node_id: &str) -> Option<HandoverRequest> {
    let (data, _) = client.get_data(path).await.ok()?;
    let note: HandoverNote = match serde_json::from_slice(&data) {
        Ok(note) => note,
        Err(e) => {
            tracing::warn!(path, error = %e, "the handover request is malformed; ignored");
            return None;
        }
    };
    let target = match note.to.as_deref() {
        None => HandoverTarget::Any,
        Some(to) if to == node_id => HandoverTarget::ThisNode,
        Some(to) => {
            if !contender_alive(client, election_path, to).await {
                tracing::warn!(path, to, "the handover target is not a live contender; request ignored");
                return None;
            }
            HandoverTarget::OtherNode
        }
    };
    Some(HandoverRequest { from_epoch: note.from_epoch, target })
}

/// A live contender of the election, in queue order.
#[derive(Debug, Clone)]
pub struct Contender {
    /// The election node's sequence (the term, when it leads).
    pub sequence: u64,
    /// The node's name under the election path.
    pub name: String,
    /// Its identity; `Err` when its data is malformed.
    pub identity: Result<NodeIdentity, String>,
}

/// The contenders under `election_path`, lowest sequence (the leader) first. Foreign children
/// are left out.
pub async fn contenders(client: &zk::Client, election_path: &str) -> Result<Vec<Contender>, zk::Error> {
    let names = match client.list_children(election_path).await {
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        other => other?,
    };
    let mut found = Vec::new();
    for name in names {
        let data = match client.get_data(&format!("{election_path}/{name}")).await {
            Ok((data, _)) => data,
            Err(zk::Error::NoNode) => continue,
            Err(e) => return Err(e),
        };
        if let Child::Contender { name, sequence, identity } = identity::classify(&name, &data) {
            found.push(Contender { sequence, name, identity });
        }
    }
    found.sort_by_key(|c| c.sequence);
    Ok(found)
}

/// True when a contender with this node id has an election node.
pub async fn contender_alive(client: &zk::Client, election_path: &str, node_id: &str) -> bool {
    contenders(client, election_path)
        .await
        .is_ok_and(|queue| queue.iter().any(|c| c.identity.as_ref().is_ok_and(|i| i.node_id == node_id)))
}

/// Deletes the handover request (it is fulfilled). Errors are logged, never fatal.
pub async fn clear_handover(client: zk::Client, election_path: String) {
    let path = handover_path(&election_path);
    match tokio::time::timeout(Duration::from_secs(2), client.delete(&path, None)).await {
        Ok(Ok(())) | Ok(Err(zk::Error::NoNode)) => {}
        Ok(Err(e)) => tracing::warn!(path, error = %e, "cannot clear the handover request"),
        Err(_) => tracing::warn!(path, "clearing the handover request timed out"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_nodes_sit_beside_the_election_path() {
        assert_eq!(pause_path("/flink/leader"), "/flink/leader-pause");
        assert_eq!(handover_path("/flink/leader"), "/flink/leader-handover");
    }

    #[test]
    fn notes_round_trip() {
        let note = HandoverNote {
            from_epoch: 3,
            from_node: "jm1".into(),
            to: None,
            requested_by: "ops@host".into(),
            requested_ms: 5,
        };
        let json = serde_json::to_string(&note).unwrap();
        assert!(!json.contains("\"to\""), "{json}");
        assert_eq!(serde_json::from_str::<HandoverNote>(&json).unwrap(), note);
    }
}
