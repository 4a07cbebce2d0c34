//! The timing rules behind fencing, in one place so that validation, the state machine and the
//! documentation agree. docs/ARCHITECTURE.md derives them.

use std::time::Duration;

/// Safety margin between the moment the JobManager must be dead (SIGKILL sent and reaped) and the
/// earliest moment the ZooKeeper server could expire the leader's session. It covers signal
/// delivery, reaping, scheduling delays of the guard process, and the up to one tick (default
/// tickTime 2000 ms: half a tick for a follower to report a session touch to the leader, up to
/// one tick of expiry rounding) by which the server's view of the session can lag ours.
pub const FENCE_MARGIN: Duration = Duration::from_secs(2);

/// How often the daemon asks the ZooKeeper server something to learn that the session is alive.
/// Every answered request moves "last heard from the server" forward.
pub fn heartbeat_interval(session_timeout: Duration) -> Duration {
    (session_timeout / 10).max(Duration::from_millis(50))
}

/// How long after the last answer from the server the JobManager may keep running before it
/// must begin to stop (SIGTERM), so that after `stop_grace` and the SIGKILL it is dead
/// `FENCE_MARGIN` before the server could expire the session.
///
/// `None` when the timings cannot keep that promise with room for at least two missed
/// heartbeats, i.e. `stop_grace + FENCE_MARGIN + 2 * heartbeat > session_timeout`.
pub fn fence_after(session_timeout: Duration, stop_grace: Duration) -> Option<Duration> {
    let reserved = stop_grace + FENCE_MARGIN + 2 * heartbeat_interval(session_timeout);
    if reserved > session_timeout {
        return None;
    }
    Some(session_timeout - stop_grace - FENCE_MARGIN)
}

/// The longest `stop_grace` that `fence_after` accepts for a session timeout.
pub fn max_stop_grace(session_timeout: Duration) -> Duration {
    session_timeout.saturating_sub(FENCE_MARGIN + 2 * heartbeat_interval(session_timeout))
}

/// The longest systemd `WatchdogSec=` that still has a stuck daemon killed, and its JobManager
/// dead, before its session could expire: a loop that stops turning right after its last ping
/// and the server's last answer (one heartbeat earlier at worst) is killed `WatchdogSec` later;
/// its JobManager then needs at most `stop_grace`, and `FENCE_MARGIN` covers the rest, as for the
/// fence. 4 s for the default 10 s session and 3 s grace. The fence guard's lease stops the
/// JobManager of a stuck loop in time whatever `WatchdogSec` is; this bound makes the watchdog
/// an equally fast second line.
pub fn max_watchdog(session_timeout: Duration, stop_grace: Duration) -> Duration {
    session_timeout.saturating_sub(stop_grace + FENCE_MARGIN + heartbeat_interval(session_timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_timings_leave_room_to_reconnect() {
        let fence = fence_after(Duration::from_secs(10), Duration::from_secs(3)).unwrap();
        assert_eq!(fence, Duration::from_secs(5));
    }

    #[test]
    fn stop_grace_too_long_for_session_is_refused() {
        assert_eq!(fence_after(Duration::from_secs(4), Duration::from_secs(3)), None);
        assert_eq!(max_stop_grace(Duration::from_secs(10)), Duration::from_secs(6));
        assert!(fence_after(Duration::from_secs(10), max_stop_grace(Duration::from_secs(10))).is_some());
        assert!(fence_after(Duration::from_secs(10), Duration::from_millis(6001)).is_none());
    }

    #[test]
    fn the_default_watchdog_bound_is_four_seconds() {
        // systemd/flink-ha-supervisor.service sets WatchdogSec=4s for these defaults.
        assert_eq!(max_watchdog(Duration::from_secs(10), Duration::from_secs(3)), Duration::from_secs(4));
        assert_eq!(max_watchdog(Duration::from_secs(4), Duration::from_secs(3)), Duration::ZERO);
    }
}
