//! A ZooKeeper session: where the ensemble is, making a session within a bounded time, and
//! closing one. The daemon, `status` and the maintenance commands all connect and close here.

use std::time::Duration;

use zookeeper_client as zk;

use crate::config::Settings;
use flink_ha_core::machine::Event;
use flink_ha_core::walltime;

/// An event of one session, tagged with the session's generation so that the daemon can drop
/// late events of a session it has replaced.
pub type SessionEvent = (u64, Event);

/// Where and how to reach ZooKeeper.
#[derive(Debug, Clone)]
pub struct ZkTarget {
    /// `zookeeper.quorum`, with an optional chroot suffix.
    pub quorum: String,
    /// `zookeeper.session_timeout` (requested; the server may grant another).
    pub session_timeout: Duration,
    /// `zookeeper.connect_timeout`.
    pub connect_timeout: Duration,
}

/// No session could be made; displays as the one line the commands print.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach ZooKeeper at {quorum}: {why}")]
pub struct Unreachable {
    /// `zookeeper.quorum`.
    pub quorum: String,
    /// What happened.
    pub why: String,
}

impl ZkTarget {
    /// The ensemble of `settings` (`[zookeeper]`).
    pub(crate) fn of(settings: &Settings) -> ZkTarget {
        ZkTarget {
            quorum: settings.zookeeper.quorum.clone(),
            session_timeout: settings.zookeeper.session_timeout,
            connect_timeout: settings.zookeeper.connect_timeout,
        }
    }

    /// How long [`ZkTarget::connect`] may take: `connect_timeout` for each server, and a second.
    pub(crate) fn connect_limit(&self) -> Duration {
        let servers = self.quorum.split('/').next().unwrap_or_default().split(',').count() as u32;
        self.connect_timeout * servers.max(1) + Duration::from_secs(1)
    }

    /// Makes a new session, trying each server once within `connect_timeout`, all within
    /// [`ZkTarget::connect_limit`]. Retries are the caller's business.
    pub async fn connect(&self) -> Result<zk::Client, Unreachable> {
        let limit = self.connect_limit();
        let connecting = zk::Client::connector()
            .with_session_timeout(self.session_timeout)
            .with_connection_timeout(self.connect_timeout)
            .with_fail_eagerly()
            .connect(&self.quorum);
        let why = match tokio::time::timeout(limit, connecting).await {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no session within {}", walltime::format_duration(limit)),
        };
        Err(Unreachable { quorum: self.quorum.clone(), why })
    }
}

/// Closes the session of `client`, which must be its last handle (dropping the last one makes
/// the client send CloseSession; the server then deletes the session's ephemeral nodes at once),
/// and waits up to `wait` for the close to be acknowledged.
pub(crate) async fn close(client: zk::Client, wait: Duration) {
    let mut state = client.state_watcher();
    drop(client);
    let _ = tokio::time::timeout(wait, async {
        while !matches!(state.peek_state(), zk::SessionState::Closed | zk::SessionState::Expired) {
            state.changed().await;
        }
    })
    .await;
}
