//! What the machine says happened: the [`Report`]s, facts worth a log line for operators and
//! `audit`. Adapters only log them; everything to be done is an [`Action`](super::Action).

use std::time::Duration;

use crate::blocking::Blocker;

use super::StopReason;

/// Facts worth a log line, for operators and `audit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// This node became leader.
    Elected { epoch: u64 },
    /// The JobManager process started.
    JobManagerSpawned { pid: u32, attempt: u32 },
    /// The JobManager answered `ready_url` with 200.
    JobManagerReady { startup: Duration },
    /// The JobManager exited without being asked to.
    JobManagerExited { code: i32 },
    /// The JobManager was stopped on our request.
    JobManagerStopped { reason: StopReason, code: i32 },
    /// A failed JobManager will be restarted after `delay`.
    JobManagerRestartScheduled { delay: Duration, restarts_in_window: u32 },
    /// The JobManager could not be spawned.
    JobManagerSpawnFailed { error: String },
    /// Too many restarts within the window: giving leadership away.
    Resigned { restarts_in_window: u32 },
    /// The JobManager is being stopped because the session could not be proven alive in time.
    Fenced { silent_for: Duration },
    /// Leadership is lost.
    LeadershipLost,
    /// The session's connection dropped.
    SessionDisconnected,
    /// The session's connection came back.
    SessionReconnected { disconnected_for: Duration },
    /// The session expired.
    SessionExpired,
    /// The negotiated session timeout cannot keep the fencing promise with this `stop_grace`;
    /// `max_stop_grace` is the longest grace it allows with the tickTime the machine fences by.
    SessionTimeoutTooShort { negotiated: Duration, max_stop_grace: Duration },
    /// The server granted more than was asked: its `tickTime` is at least `implied`, above the
    /// configured `zookeeper.tick_time`. The machine fences by `implied`.
    TickTimeTooLow {
        /// `zookeeper.tick_time`.
        configured: Duration,
        /// The tickTime the grant proves.
        implied: Duration,
        /// The session timeout asked for.
        requested: Duration,
        /// The session timeout the server granted.
        granted: Duration,
    },
    /// Shutting down.
    Shutdown,
    /// Maintenance mode on: no failover, restart or stop on the daemon's own initiative.
    Paused,
    /// Maintenance mode off.
    Resumed,
    /// Something the daemon would have done but does not, because it is paused.
    HeldByPause {
        /// What it would have done.
        what: &'static str,
    },
    /// A planned handover: this leader stops its JobManager and steps down.
    HandingOver,
    /// Elected while a handover names another node: resigning at once, JobManager untouched.
    SteppedAside { epoch: u64 },
    /// The handover this node completed is cleared.
    HandoverCompleted,
    /// A node that no daemon will remove sits ahead of ours: this node can never be elected
    /// while it exists.
    ElectionBlocked(Blocker),
    /// The node that blocked the election is gone (or this node leads).
    ElectionUnblocked {
        /// The node that blocked it.
        node: String,
    },
    /// A parked JobManager reached its gate and is ready to release.
    JobManagerParked { pid: u32, after: Duration },
    /// A parked JobManager died (or could not start) before its release: another is parked
    /// after `delay`.
    ParkedJobManagerLost { pid: Option<u32>, code: Option<i32>, error: Option<String>, delay: Duration },
    /// A parked JobManager did not reach its gate within `jobmanager.park_timeout` (`waited`):
    /// it is killed and counted as lost; another is parked after `delay`.
    ParkedJobManagerTimedOut { pid: Option<u32>, waited: Duration, delay: Duration },
    /// A discarded parked JobManager's exit was not reported within `waited`: the next park or
    /// the start goes ahead without it.
    DiscardedParkNotGone { park: u64, waited: Duration },
    /// The parked JobManager was started with another Flink configuration than a new one would
    /// get now: it is discarded and a fresh one parked (or started).
    ParkedJobManagerStale { pid: Option<u32> },
    /// The parked JobManager is released: it is this node's JobManager from now on.
    ParkedJobManagerReleased { pid: u32, parked_for: Duration },
    /// Flink's leader latch children were cleared before the JobManager's start.
    LatchesCleared { deleted: u32, skipped: u32, took: Duration },
    /// The latch clearing failed or timed out; the JobManager starts all the same (Flink's own
    /// election then waits for the dead JobManagers' sessions).
    LatchClearingFailed { error: String, took: Duration },
}
