//! Watches the operator controls beside the election path (maintenance mode and the
//! planned-handover request, `flink_ha_core::controls`) and reports what it sees to the state
//! machine; clears a fulfilled handover request. The commands write them (`cmd::maintenance`).

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use zookeeper_client as zk;

use crate::zk::contenders::contenders;
use crate::zk::session::SessionEvent;
use flink_ha_core::controls::{handover_path, pause_path};
use flink_ha_core::handover;
use flink_ha_core::machine::{Event, HandoverRequest};

/// Pause before watching again after an error (a connection loss).
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Watches the pause and handover nodes for one session and reports `PauseChanged` and
/// `HandoverChanged` events, relative to node `node_id`. Returns when the session ends.
pub(crate) async fn watch(
    client: zk::Client,
    election_path: String,
    node_id: String,
    generation: u64,
    events: UnboundedSender<SessionEvent>,
) {
    let pause = pause_path(&election_path);
    let handover = handover_path(&election_path);
    loop {
        let pause_watch = match watch_node(&client, &pause).await {
            Watched::Node(stat, watcher) => {
                if events.send((generation, Event::PauseChanged { paused: stat.is_some() })).is_err() {
                    return;
                }
                watcher
            }
            Watched::Retry => continue,
            Watched::Ended => return,
        };
        let handover_watch = match watch_node(&client, &handover).await {
            Watched::Node(stat, watcher) => {
                let request = match stat {
                    Some(_) => read_request(&client, &election_path, &handover, &node_id).await,
                    None => None,
                };
                if events.send((generation, Event::HandoverChanged(request))).is_err() {
                    return;
                }
                watcher
            }
            Watched::Retry => continue,
            Watched::Ended => return,
        };
        tokio::select! {
            event = pause_watch.changed() => if event.session_state.is_terminated() { return },
            event = handover_watch.changed() => if event.session_state.is_terminated() { return },
        }
    }
}

/// A control node's state with a watch on it, or why there is none.
enum Watched {
    /// The node's stat (`None`: it does not exist) and the watch.
    Node(Option<zk::Stat>, zk::OneshotWatcher),
    /// An error such as a connection loss: watch again (after [`RETRY_PAUSE`]).
    Retry,
    /// The session is gone.
    Ended,
}

async fn watch_node(client: &zk::Client, path: &str) -> Watched {
    match client.check_and_watch_stat(path).await {
        Ok((stat, watcher)) => Watched::Node(stat, watcher),
        Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => Watched::Ended,
        Err(_) => {
            tokio::time::sleep(RETRY_PAUSE).await;
            Watched::Retry
        }
    }
}

/// Reads the handover request and the election's contenders and has the request judged; logs
/// and returns `None` for a request the daemon ignores.
async fn read_request(client: &zk::Client, election_path: &str, path: &str, node_id: &str) -> Option<HandoverRequest> {
    let (data, _) = client.get_data(path).await.ok()?;
    let queue = contenders(client, election_path).await.ok();
    match handover::judge_request(&data, node_id, queue.as_deref()) {
        Ok(request) => Some(request),
        Err(ignored) => {
            tracing::warn!(path, "{ignored}");
            None
        }
    }
}

/// Deletes the handover request (it is fulfilled). Errors are logged, never fatal.
pub(crate) async fn clear_handover(client: zk::Client, election_path: String) {
    let path = handover_path(&election_path);
    match tokio::time::timeout(Duration::from_secs(2), client.delete(&path, None)).await {
        Ok(Ok(())) | Ok(Err(zk::Error::NoNode)) => {}
        Ok(Err(e)) => tracing::warn!(path, error = %e, "cannot clear the handover request"),
        Err(_) => tracing::warn!(path, "clearing the handover request timed out"),
    }
}
