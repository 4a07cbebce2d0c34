//! The ZooKeeper adapter: one session, the election on it, the heartbeat that proves the session
//! alive, and the session's state changes, all reported as machine events.
//!
//! The election is zookeeper-client's lock recipe (`Client::lock` with a Curator-style
//! `LockPrefix`): an EPHEMERAL_SEQUENTIAL node under the election path, the lowest leads, each
//! contender watches only its predecessor, and a create that meets a connection loss finds its
//! own node again instead of leaving an orphan. The recipe does not say when leadership is lost
//! afterwards; this adapter watches the node itself and the session's state for that.

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use zookeeper_client as zk;

use crate::daemon::supervise;
use crate::process::mono;
use crate::zk::acl::NodeAcl;
use crate::zk::contenders::read_children;
use crate::zk::control;
use crate::zk::session;
pub use crate::zk::session::SessionEvent;
use flink_ha_core::identity::{self, Child, Contender};
use flink_ha_core::machine::Event;

/// Pause before contending again after an unexpected error.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How long a resignation waits for the delete of the election node before contending again
/// (the lock's drop deletes it in the background in any case).
const DELETE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the daemon can ask of the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Delete our node (the JobManager is stopped) and contend again at the back of the queue.
    Resign,
}

/// The running tasks of one session.
pub struct Session {
    client: zk::Client,
    requests: UnboundedSender<Request>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Session {
    /// Starts contending on `client` and reporting its events as `(generation, event)`, including
    /// those of the operator controls (pause, handover) as seen by node `node_id`.
    // Each argument is a separate input the session keeps; a struct of them would only move the list.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        client: zk::Client,
        generation: u64,
        node_id: String,
        path: String,
        identity: Vec<u8>,
        heartbeat_interval: Duration,
        acl: NodeAcl,
        events: UnboundedSender<SessionEvent>,
    ) -> Session {
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let tasks = vec![
            supervise::spawn("session-state", watch_state(client.state_watcher(), generation, events.clone())),
            supervise::spawn(
                "heartbeat",
                heartbeat(client.clone(), path.clone(), heartbeat_interval, generation, events.clone()),
            ),
            supervise::spawn(
                "controls",
                control::watch(client.clone(), path.clone(), node_id, generation, events.clone()),
            ),
            supervise::spawn("election", contend(client.clone(), path, identity, acl, requests_rx, generation, events)),
        ];
        Session { client, requests, tasks }
    }

    /// The session's client, for other adapters (the leader record).
    pub(crate) fn client(&self) -> &zk::Client {
        &self.client
    }

    /// Passes a request to the election task.
    pub(crate) fn request(&self, request: Request) {
        let _ = self.requests.send(request);
    }

    /// Leaves the election: ends every task of the session and closes it, upon which the server
    /// deletes the election node at once, so a standby takes over without waiting for a session
    /// timeout. Waits up to `wait` for the close to be acknowledged.
    pub async fn close(mut self, wait: Duration) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        // The tasks held the other handles: this is the last one.
        session::close(self.client, wait).await;
    }
}

async fn watch_state(mut state: zk::StateWatcher, generation: u64, events: UnboundedSender<SessionEvent>) {
    loop {
        let event = match state.changed().await {
            zk::SessionState::Disconnected => Event::SessionDisconnected,
            zk::SessionState::SyncConnected | zk::SessionState::ConnectedReadOnly => Event::SessionReconnected,
            zk::SessionState::Expired | zk::SessionState::AuthFailed => {
                let _ = events.send((generation, Event::SessionExpired));
                return;
            }
            zk::SessionState::Closed => return,
        };
        if events.send((generation, event)).is_err() {
            return;
        }
    }
}

/// Asks the server for a `sync` every `interval`; each answer proves the session was alive when
/// the request was sent. `sync` goes through the ensemble's leader, so a follower cut off from
/// the quorum cannot answer it.
async fn heartbeat(
    client: zk::Client,
    path: String,
    interval: Duration,
    generation: u64,
    events: UnboundedSender<SessionEvent>,
) {
    loop {
        // On the machine's clock (mono.rs), which counts suspended time.
        let sent_at = mono::now();
        match tokio::time::timeout(interval * 2, client.sync(&path)).await {
            Ok(Ok(())) => {
                if events.send((generation, Event::HeardFromServer { sent_at })).is_err() {
                    return;
                }
            }
            Ok(Err(zk::Error::SessionExpired | zk::Error::ClientClosed)) => return,
            Ok(Err(_)) | Err(_) => {}
        }
        mono::sleep_until(sent_at + interval).await;
    }
}

/// Why holding leadership ended.
enum Held {
    /// Our node is gone or the session with it.
    Lost,
    /// A request from the daemon.
    Requested(Request),
}

/// Contends until the session ends or the daemon drops it; `Err` when it cannot contend at all.
async fn contend(
    client: zk::Client,
    path: String,
    identity: Vec<u8>,
    acl: NodeAcl,
    mut requests: UnboundedReceiver<Request>,
    generation: u64,
    events: UnboundedSender<SessionEvent>,
) -> Result<(), String> {
    let options = zk::LockOptions::new(acl.acls())
        .with_ancestor_options(acl.persistent())
        .expect("persistent ancestors are valid");
    loop {
        let prefix = match zk::LockPrefix::new_curator(&path, identity::LOCK_NAME) {
            Ok(prefix) => prefix,
            Err(e) => return Err(format!("election.path {path} is not a valid ZooKeeper path: {e}")),
        };
        let lock = tokio::select! {
            lock = client.lock(prefix, &identity, options.clone()) => lock,
            request = requests.recv() => match request {
                Some(Request::Resign) => continue,
                None => return Ok(()),
            },
            () = observe_children(&client, &path, generation, &events) => return Ok(()),
        };
        let lock = match lock {
            Ok(lock) => lock.into_owned(),
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "contending for leadership failed; retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let node = lock.lock_path().to_string();
        let Some(epoch) = identity::contender_sequence(&node) else {
            tracing::error!(node, "the election node has no sequence number; resigning");
            continue;
        };
        tracing::debug!(node, epoch, "holding the lowest election node");
        if events.send((generation, Event::Elected { epoch })).is_err() {
            return Ok(());
        }
        supervise::spawn("report-children", report_children(client.clone(), path.clone()));
        let held = tokio::select! {
            () = watch_until_gone(&client, &node) => Held::Lost,
            request = requests.recv() => match request {
                Some(request) => Held::Requested(request),
                None => return Ok(()),
            },
        };
        match held {
            Held::Lost => {
                let _ = events.send((generation, Event::LeadershipLost));
                // Contend again: the session may still be alive (someone deleted our node).
            }
            Held::Requested(Request::Resign) => {
                let _ = tokio::time::timeout(DELETE_TIMEOUT, client.delete(&node, None)).await;
            }
        }
        drop(lock);
    }
}

/// Returns when `node` no longer exists or the session ended.
async fn watch_until_gone(client: &zk::Client, node: &str) {
    loop {
        match client.check_and_watch_stat(node).await {
            Ok((None, _)) => return,
            Ok((Some(_), watcher)) => {
                let event = watcher.changed().await;
                if event.event_type == zk::EventType::NodeDeleted || event.session_state.is_terminated() {
                    return;
                }
            }
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            Err(_) => tokio::time::sleep(RETRY_PAUSE / 4).await,
        }
    }
}

/// How often a waiting contender looks at the election path's children. A poll, not a watch on
/// the list: a watch would wake every contender on every leadership change, and one change must
/// wake one contender (the recipe's predecessor watch).
const OBSERVE_INTERVAL: Duration = Duration::from_secs(5);

/// While this node waits to lead: reports the election path's children (name, data, whether
/// persistent, whether ours) every [`OBSERVE_INTERVAL`], for the machine to judge whether a node
/// that no daemon removes holds the election up. Returns only when the session or the daemon is
/// gone.
async fn observe_children(client: &zk::Client, path: &str, generation: u64, events: &UnboundedSender<SessionEvent>) {
    loop {
        match read_children(client, path).await {
            Ok(children) => {
                if events.send((generation, Event::ElectionObserved { children })).is_err() {
                    return;
                }
            }
            Err(zk::Error::SessionExpired | zk::Error::ClientClosed) => return,
            // The connection is down, or a read failed (a partial list could hide a blocker):
            // look again at the next poll.
            Err(_) => {}
        }
        tokio::time::sleep(OBSERVE_INTERVAL).await;
    }
}

/// Logs children of the election path that are not contenders or carry malformed data.
async fn report_children(client: zk::Client, path: String) {
    let path = path.as_str();
    let Ok(children) = read_children(&client, path).await else {
        return;
    };
    for child in children {
        match identity::classify(&child.name, &child.data) {
            Child::Foreign { name } => {
                tracing::warn!(
                    event = "foreign_child",
                    path,
                    child = name,
                    "a child of the election path is not a contender; ignored"
                )
            }
            Child::Contender(Contender { name, identity: Err(why), .. }) => {
                tracing::warn!(
                    event = "malformed_contender",
                    path,
                    child = name,
                    why,
                    "a contender's data is not a node identity"
                )
            }
            Child::Contender(_) => {}
        }
    }
}
