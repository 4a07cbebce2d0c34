//! The timing rules behind fencing, in one place so that validation, the state machine and the
//! documentation agree. docs/ARCHITECTURE.md derives them.

use std::time::Duration;

/// `zookeeper.tick_time` when the configuration does not say: ZooKeeper's own default `tickTime`.
pub const DEFAULT_TICK_TIME: Duration = Duration::from_secs(2);

/// The part of the fence margin that does not depend on ZooKeeper's timing: signal delivery,
/// reaping, scheduling delays of the guard process and of the daemon's heartbeat, and late
/// pings between the ZooKeeper servers.
pub const MARGIN_SLACK: Duration = Duration::from_secs(1);

/// Safety margin `M` between the moment the JobManager must be dead (SIGKILL sent and reaped)
/// and the earliest moment the ZooKeeper servers could expire the leader's session, for servers
/// with `tickTime` `tick_time`: `tick_time / 2 + heartbeat_interval(session_timeout) +
/// MARGIN_SLACK`.
///
/// A follower reports the sessions it saw to the leader in its answer to the leader's ping,
/// every half tick, and the leader renews a reported session from the time that answer arrives.
/// If the follower that answered our newest request loses the leader before its next report,
/// the leader's newest renewal of our session comes from an earlier report: at worst half a
/// tick before our newest request reached the follower, less one heartbeat interval (the report
/// before carried our previous request, not a later one). Expiry is rounded *up* to the next
/// tick, which only delays it. 3 s for ZooKeeper's default tickTime and the default 10 s session.
pub fn fence_margin(session_timeout: Duration, tick_time: Duration) -> Duration {
    tick_time / 2 + heartbeat_interval(session_timeout) + MARGIN_SLACK
}

/// How often the daemon asks the ZooKeeper server something to learn that the session is alive.
/// Every answered request moves "last heard from the server" forward.
pub fn heartbeat_interval(session_timeout: Duration) -> Duration {
    (session_timeout / 10).max(Duration::from_millis(50))
}

/// How long after the last answer from the server the JobManager may keep running before it
/// must begin to stop (SIGTERM), so that after `stop_grace` and the SIGKILL it is dead
/// [`fence_margin`] before the servers (with `tickTime` `tick_time`) could expire the session.
///
/// `None` when the timings cannot keep that promise with room for at least two missed
/// heartbeats, i.e. `stop_grace + fence_margin + 2 * heartbeat > session_timeout`.
pub fn fence_after(session_timeout: Duration, stop_grace: Duration, tick_time: Duration) -> Option<Duration> {
    let margin = fence_margin(session_timeout, tick_time);
    let reserved = stop_grace + margin + 2 * heartbeat_interval(session_timeout);
    if reserved > session_timeout {
        return None;
    }
    Some(session_timeout - stop_grace - margin)
}

/// The longest `stop_grace` that [`fence_after`] accepts for a session timeout and a tickTime.
pub fn max_stop_grace(session_timeout: Duration, tick_time: Duration) -> Duration {
    session_timeout.saturating_sub(fence_margin(session_timeout, tick_time) + 2 * heartbeat_interval(session_timeout))
}

/// The longest systemd `WatchdogSec=` that still has a stuck daemon killed, and its JobManager
/// dead, before its session could expire: a loop that stops turning right after its last ping
/// and the server's last answer (one heartbeat earlier at worst) is killed `WatchdogSec` later;
/// its JobManager then needs at most `stop_grace`, and [`fence_margin`] covers the rest, as for
/// the fence. 3 s for the default 10 s session, 3 s grace and 2 s tickTime. The fence guard's
/// lease stops the JobManager of a stuck loop in time whatever `WatchdogSec` is; this bound
/// makes the watchdog an equally fast second line.
pub fn max_watchdog(session_timeout: Duration, stop_grace: Duration, tick_time: Duration) -> Duration {
    session_timeout
        .saturating_sub(stop_grace + fence_margin(session_timeout, tick_time) + heartbeat_interval(session_timeout))
}

/// The tickTime a granted session timeout proves, if it proves one: a server raises a requested
/// timeout below its `minSessionTimeout`, which is `2 * tickTime` unless configured, so a grant
/// above the request says the tick is `granted / 2` (a configured `minSessionTimeout` above two
/// ticks makes this an overestimate, which is safe). A grant at or below the request proves no
/// lower bound of the tick (the server lowers a timeout above `maxSessionTimeout`, 20 ticks by
/// default).
pub fn implied_tick_time(requested: Duration, granted: Duration) -> Option<Duration> {
    (granted > requested).then(|| granted / 2)
}

/// The tickTime to fence by: the configured one, or the one the grant proves when that is
/// larger (a larger tick means a larger margin, so the larger one is the safe bound).
pub fn fencing_tick_time(configured: Duration, requested: Duration, granted: Duration) -> Duration {
    implied_tick_time(requested, granted).map_or(configured, |implied| implied.max(configured))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = DEFAULT_TICK_TIME;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_margin_is_half_a_tick_and_a_heartbeat_and_the_slack() {
        assert_eq!(fence_margin(Duration::from_secs(10), TICK), Duration::from_secs(3));
        assert_eq!(fence_margin(Duration::from_secs(2), ms(500)), ms(250 + 200 + 1000));
        assert_eq!(fence_margin(Duration::from_secs(2), ms(250)), ms(125 + 200 + 1000));
        // A larger tick never gives a smaller margin.
        assert!(fence_margin(Duration::from_secs(2), ms(501)) > fence_margin(Duration::from_secs(2), ms(500)));
    }

    #[test]
    fn default_timings_leave_room_to_reconnect() {
        let fence = fence_after(Duration::from_secs(10), Duration::from_secs(3), TICK).unwrap();
        assert_eq!(fence, Duration::from_secs(4));
    }

    #[test]
    fn stop_grace_too_long_for_session_is_refused() {
        assert_eq!(fence_after(Duration::from_secs(4), Duration::from_secs(3), TICK), None);
        assert_eq!(max_stop_grace(Duration::from_secs(10), TICK), Duration::from_secs(5));
        assert!(fence_after(Duration::from_secs(10), max_stop_grace(Duration::from_secs(10), TICK), TICK).is_some());
        assert!(fence_after(Duration::from_secs(10), ms(5001), TICK).is_none());
    }

    #[test]
    fn a_two_second_session_fits_servers_with_a_short_tick() {
        let session = Duration::from_secs(2);
        assert_eq!(fence_after(session, Duration::ZERO, TICK), None, "not with ZooKeeper's default tick");
        assert_eq!(max_stop_grace(session, ms(500)), ms(150));
        assert_eq!(fence_after(session, ms(150), ms(500)), Some(ms(400)));
        assert_eq!(fence_after(session, ms(151), ms(500)), None);
        assert_eq!(max_stop_grace(session, ms(250)), ms(275));
        assert_eq!(fence_after(session, ms(250), ms(250)), Some(ms(425)));
    }

    #[test]
    fn the_default_watchdog_bound_is_three_seconds() {
        // systemd/flink-ha-supervisor.service sets WatchdogSec=3s for these defaults.
        assert_eq!(max_watchdog(Duration::from_secs(10), Duration::from_secs(3), TICK), Duration::from_secs(3));
        assert_eq!(max_watchdog(Duration::from_secs(4), Duration::from_secs(3), TICK), Duration::ZERO);
    }

    #[test]
    fn only_a_raised_grant_proves_a_tick() {
        // Asked 2 s, granted 4 s: the server's minimum is 4 s, two ticks of 2 s.
        assert_eq!(implied_tick_time(Duration::from_secs(2), Duration::from_secs(4)), Some(Duration::from_secs(2)));
        assert_eq!(fencing_tick_time(ms(500), Duration::from_secs(2), Duration::from_secs(4)), Duration::from_secs(2));
        // Granted as asked, or lowered to the maximum: nothing proves the stated tick wrong.
        assert_eq!(implied_tick_time(Duration::from_secs(2), Duration::from_secs(2)), None);
        assert_eq!(implied_tick_time(Duration::from_secs(60), Duration::from_secs(40)), None);
        assert_eq!(fencing_tick_time(ms(500), Duration::from_secs(2), Duration::from_secs(2)), ms(500));
        // A stated tick above the proven one stays: too high is safe.
        assert_eq!(fencing_tick_time(ms(3000), Duration::from_secs(2), Duration::from_secs(4)), ms(3000));
    }
}
