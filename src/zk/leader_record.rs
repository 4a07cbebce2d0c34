//! The leader record adapter: one task per leadership term that reads the previous term's
//! record, writes this term's states with compare-and-set on the node's version (so a deposed
//! leader's late write can never overwrite its successor's), refreshes it while serving, and
//! measures the failover once the JobManager is ready. See `failover.rs` for the meaning.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use zookeeper_client as zk;

use crate::zk::acl::NodeAcl;

use flink_ha_core::failover::{self, Failover, LastFailover, LeaderRecord, NewTerm, ReadRecord, TermState};

/// How long one record write may take before it is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Attempts to take the record over when writes race.
const TAKEOVER_ATTEMPTS: usize = 5;

/// What the daemon tells a term.
enum Command {
    /// The JobManager is ready: write `serving`, measure, refresh from now on.
    Ready { start: Duration, readiness: Duration },
    /// The JobManager is being stopped on purpose.
    Stopping { reason: &'static str },
    /// The JobManager is stopped; write `released` and answer when done.
    Release { reason: &'static str, done: oneshot::Sender<()> },
}

/// Who writes the record, and how the failover is judged.
#[derive(Debug, Clone)]
pub(crate) struct TermSpec {
    /// The record's path (see [`failover::record_path`]).
    pub path: String,
    /// `node.id`.
    pub node: String,
    /// The new term.
    pub epoch: u64,
    /// The negotiated session timeout, written into the record.
    pub session_timeout: Duration,
    /// `failover.budget`.
    pub budget: Duration,
    /// The ACL the record is created with.
    pub acl: NodeAcl,
}

/// A running term task.
pub(crate) struct Term {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Term {
    /// Starts the term: reads the previous record and writes `starting`. The measured failover
    /// (if this term ended one) is sent to `failovers` once the JobManager is ready.
    pub(crate) fn begin(client: zk::Client, spec: TermSpec, failovers: mpsc::UnboundedSender<Failover>) -> Term {
        let (commands, rx) = mpsc::unbounded_channel();
        let task = crate::daemon::supervise::spawn("leader-record", run(client, spec, rx, failovers));
        Term { commands, task }
    }

    /// The JobManager of this term is ready for the first time.
    pub(crate) fn ready(&self, start: Duration, readiness: Duration) {
        let _ = self.commands.send(Command::Ready { start, readiness });
    }

    /// The JobManager is being stopped on purpose.
    pub(crate) fn stopping(&self, reason: &'static str) {
        let _ = self.commands.send(Command::Stopping { reason });
    }

    /// Writes `released` (waits up to the write timeout), then ends the term.
    pub(crate) async fn release(self, reason: &'static str) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Release { reason, done }).is_ok() {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, wait).await;
        }
        self.task.abort();
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The term's view of the record node.
struct Store {
    client: zk::Client,
    path: String,
    acl: NodeAcl,
    /// The version our last write produced; `None` before the first.
    version: Option<i32>,
}

impl Store {
    /// Reads the record; `Ok(None)` when it does not exist.
    async fn read(&self) -> Result<Option<(Option<ReadRecord>, i32)>, zk::Error> {
        match self.client.get_data(&self.path).await {
            Ok((data, stat)) => {
                let record = match serde_json::from_slice::<LeaderRecord>(&data) {
                    Ok(record) => Some(ReadRecord { record, mtime_ms: stat.mtime }),
                    Err(e) => {
                        tracing::warn!(path = self.path, error = %e, "the leader record is not ours or malformed; overwriting it");
                        None
                    }
                };
                Ok(Some((record, stat.version)))
            }
            Err(zk::Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes if nobody else wrote since our last write; returns the server's mtime.
    async fn write(&mut self, record: &LeaderRecord) -> Result<i64, zk::Error> {
        let data = serde_json::to_vec(record).expect("a leader record serializes");
        let stat = tokio::time::timeout(WRITE_TIMEOUT, self.client.set_data(&self.path, &data, self.version))
            .await
            .map_err(|_| zk::Error::Timeout)??;
        self.version = Some(stat.version);
        Ok(stat.mtime)
    }

    /// Takes the record over for a new term: returns the previous term and our `starting` mtime.
    async fn take_over(&mut self, starting: &mut LeaderRecord) -> Result<(Option<ReadRecord>, i64), zk::Error> {
        for _ in 0..TAKEOVER_ATTEMPTS {
            match self.read().await? {
                None => {
                    let data = serde_json::to_vec(&*starting).expect("a leader record serializes");
                    let options = self.acl.persistent();
                    match self.client.create(&self.path, &data, &options).await {
                        Ok(_) => {
                            // ZOOKEEPER-4026: the Stat of a create is unreliable on 3.8.0; read it.
                            let (_, stat) = self.client.get_data(&self.path).await?;
                            self.version = Some(stat.version);
                            return Ok((None, stat.mtime));
                        }
                        Err(zk::Error::NodeExists) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Some((previous, version)) => {
                    starting.outage_start_ms = previous.as_ref().map(|p| p.outage_start().0);
                    self.version = Some(version);
                    match self.write(starting).await {
                        Ok(mtime) => return Ok((previous, mtime)),
                        Err(zk::Error::BadVersion) => continue,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Err(zk::Error::BadVersion)
    }
}

async fn run(
    client: zk::Client,
    spec: TermSpec,
    mut commands: mpsc::UnboundedReceiver<Command>,
    failovers: mpsc::UnboundedSender<Failover>,
) {
    let mut store = Store { client, path: spec.path.clone(), acl: spec.acl, version: None };
    let mut record = LeaderRecord {
        v: failover::RECORD_VERSION,
        node: spec.node.clone(),
        epoch: spec.epoch,
        state: TermState::Starting,
        reason: None,
        serving_until_ms: None,
        outage_start_ms: None,
        session_timeout_ms: spec.session_timeout.as_millis() as u64,
        leader_since_ms: None,
        last_failover: None,
    };
    let (previous, elected_ms) = match store.take_over(&mut record).await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::warn!(path = spec.path, error = %e, "cannot take the leader record over; this failover is not measured");
            return;
        }
    };
    record.leader_since_ms = Some(elected_ms);
    record.last_failover = previous.as_ref().and_then(|p| p.record.last_failover.clone());
    let mut serving_until_ms = None;
    let mut refresh = tokio::time::interval(failover::REFRESH_INTERVAL);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = refresh.tick(), if record.state == TermState::Serving => {
                match store.write(&record).await {
                    Ok(mtime) => serving_until_ms = Some(mtime),
                    Err(zk::Error::BadVersion) => {
                        tracing::warn!(path = spec.path, "another leader wrote the leader record; no longer refreshing it");
                        return;
                    },
                    Err(_) => {},
                }
            },
            command = commands.recv() => match command {
                None => return,
                Some(Command::Ready { start, readiness }) => {
                    record.state = TermState::Serving;
                    record.outage_start_ms = None;
                    let ready_ms = match store.write(&record).await {
                        Ok(mtime) => mtime,
                        Err(e) => {
                            tracing::warn!(path = spec.path, error = %e, "cannot write the leader record; this failover is not measured");
                            continue;
                        },
                    };
                    serving_until_ms = Some(ready_ms);
                    refresh.reset();
                    let new = NewTerm { elected_ms, start, readiness, ready_ms };
                    if let Some(measured) = failover::measure(previous.as_ref(), new, spec.budget) {
                        record.last_failover = Some(LastFailover {
                            ready_ms,
                            outage_ms: measured.outage.as_millis() as u64,
                            cause: measured.cause.as_str().to_string(),
                            previous_node: measured.previous_node.clone(),
                            node: spec.node.clone(),
                            within_budget: measured.within_budget,
                        });
                        let _ = failovers.send(measured);
                    }
                },
                Some(Command::Stopping { reason }) => {
                    record.state = TermState::Stopping;
                    record.reason = Some(reason.to_string());
                    if let Ok(mtime) = store.write(&record).await {
                        serving_until_ms = Some(mtime);
                    }
                },
                Some(Command::Release { reason, done }) => {
                    record.state = TermState::Released;
                    record.reason = Some(reason.to_string());
                    // A term that never served passes on the outage it inherited.
                    record.serving_until_ms = serving_until_ms.or(record.outage_start_ms);
                    let _ = store.write(&record).await;
                    let _ = done.send(());
                    return;
                },
            },
        }
    }
}
