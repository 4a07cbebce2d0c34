//! systemd integration (`Type=notify`): `READY=1` once the daemon has joined the election,
//! `STATUS=` lines with the role and the JobManager's state, `STOPPING=1` on shutdown, and the
//! watchdog (`WATCHDOG=1`), through the `sd-notify` crate. Everything is a no-op when
//! `NOTIFY_SOCKET` is unset (the daemon was not started by systemd), and the watchdog is off
//! unless systemd set `WATCHDOG_USEC` (and `WATCHDOG_PID`, if set, names this process).
//!
//! The watchdog is pinged only from the daemon's main decision loop (`daemon::run`), at the end
//! of a loop turn when a ping is due; the loop wakes up for it with a timer of its own. So when
//! the loop is stuck (a blocking call, a deadlock) no ping is sent even though tokio's timers and
//! the other tasks (the ZooKeeper heartbeat among them) still run, and systemd kills the daemon
//! (`WatchdogSec=` in systemd/flink-ha-supervisor.service; docs/ARCHITECTURE.md has the timing
//! argument) and restarts it. The fence guard's lease, renewed only from the same loop, stops
//! the JobManager of a stuck loop independently; the watchdog adds the restart, without which a
//! stuck loop whose heartbeat task keeps the session alive would hold leadership forever.
//!
//! Also here: a hidden fault injection (`run --fault-injection <DURATION>`) that lets tests block
//! the main loop, see [`arm_fault_injection`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

use crate::config::Settings;
use flink_ha_core::machine::{status_line, Machine};
use flink_ha_core::timing;

/// The variables through which systemd talks to a service, which the daemon's children (the
/// fence guard and the JobManager, hooks) must not inherit: with `NotifyAccess=all` a child
/// could otherwise report readiness or feed the watchdog on the daemon's behalf.
pub(crate) const SYSTEMD_ENV: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// How many watchdog pings are sent per `WatchdogSec`. systemd suggests two; four leaves room for
/// a loop turn that legitimately awaits for a while (a leader record write on resignation waits
/// up to 2 s) without a ping coming late.
pub(crate) const PINGS_PER_TIMEOUT: u32 = 4;

/// Talks to systemd's notification socket; a no-op when there is none.
#[derive(Debug)]
pub(crate) struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
    next_ping: Option<Instant>,
    ready_sent: bool,
    stopping: bool,
    status: String,
    send_failed: bool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, logs what it found, and warns
    /// when the watchdog's timeout is too long to kill a stuck daemon before its session could
    /// expire (see [`timing::max_watchdog`]).
    pub(crate) fn from_env(settings: &Settings) -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty());
        let watchdog = if enabled { sd_notify::watchdog_enabled().filter(|d| !d.is_zero()) } else { None };
        let notifier = Notifier::new(enabled, watchdog);
        if enabled {
            tracing::info!(
                watchdog_ms = watchdog.map(|d| d.as_millis() as u64),
                ping_interval_ms = notifier.ping_interval().map(|d| d.as_millis() as u64),
                "systemd notification socket found: READY=1, STATUS= and the watchdog are reported to it"
            );
        }
        if let Some(watchdog) = watchdog {
            let (session, grace) = (settings.zookeeper.session_timeout, settings.jobmanager.stop_grace);
            let longest = timing::max_watchdog(session, grace, settings.zookeeper.tick_time);
            if watchdog > longest {
                tracing::warn!(
                    event = "config_warning",
                    key = "WatchdogSec",
                    "WatchdogSec={}ms is longer than {}ms, the longest that kills a stuck daemon and its JobManager before its session could expire (session_timeout - stop_grace - fence margin - heartbeat, the margin sized by zookeeper.tick_time); the fence guard still stops the JobManager in time, but lower WatchdogSec in the unit",
                    watchdog.as_millis(),
                    longest.as_millis()
                );
            }
        }
        notifier
    }

    fn new(enabled: bool, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            enabled,
            watchdog,
            next_ping: watchdog.map(|_| Instant::now()),
            ready_sent: false,
            stopping: false,
            status: String::new(),
            send_failed: false,
        }
    }

    /// How often the main loop pings the watchdog: [`PINGS_PER_TIMEOUT`] times per timeout.
    fn ping_interval(&self) -> Option<Duration> {
        self.watchdog.map(|w| (w / PINGS_PER_TIMEOUT).max(Duration::from_millis(1)))
    }

    /// `READY=1`, once: the daemon has a session and contends in the election. Later calls do
    /// nothing.
    pub(crate) fn ready(&mut self) {
        if !self.ready_sent {
            self.ready_sent = true;
            self.send(&[NotifyState::Ready]);
        }
    }

    /// `STATUS=<text>`, only when it differs from the last one sent.
    pub(crate) fn status(&mut self, text: &str) {
        if self.status != text {
            self.status = text.to_string();
            self.send(&[NotifyState::Status(text)]);
        }
    }

    /// `WATCHDOG=1` now, and the next ping is due one interval later.
    pub(crate) fn watchdog(&mut self) {
        if let Some(interval) = self.ping_interval() {
            self.next_ping = Some(Instant::now() + interval);
            self.send(&[NotifyState::Watchdog]);
        }
    }

    /// `STOPPING=1`: the daemon is shutting down (systemd stops enforcing the watchdog).
    pub(crate) fn stopping(&mut self) {
        if !self.stopping {
            self.stopping = true;
            self.send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
            self.status = "shutting down".into();
        }
    }

    /// When the main loop must wake up to ping the watchdog; `None` when it is off.
    pub(crate) fn next_ping(&self) -> Option<Instant> {
        self.next_ping
    }

    /// Called at the end of every turn of the main loop: `STOPPING=1` once the machine shuts
    /// down, `STATUS=` with the machine's [`status_line`], and a watchdog ping if one is due.
    /// Must not be called from anywhere else: that the loop turns is what the ping attests.
    pub(crate) fn end_of_turn(&mut self, now: Instant, machine: &Machine, has_session: bool) {
        if machine.is_shutting_down() {
            self.stopping();
        }
        if self.enabled {
            let text = status_line(machine, has_session);
            self.status(&text);
        }
        if self.next_ping.is_some_and(|due| now >= due) {
            self.watchdog();
        }
    }

    fn send(&mut self, states: &[NotifyState]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states) {
            if !self.send_failed {
                self.send_failed = true;
                tracing::warn!(error = %e, "cannot write to systemd's notification socket (NOTIFY_SOCKET)");
            }
        }
    }
}

static FAULT_BLOCK: OnceLock<Duration> = OnceLock::new();

/// Fault injection for tests, off unless `run --fault-injection <DURATION>` (hidden from
/// `--help`) armed it before the daemon started: then every SIGUSR2 blocks the daemon's main
/// loop thread for DURATION (`std::thread::sleep` inside a loop turn), as a deadlock or a
/// blocking call would, while tokio's timers and the other tasks keep running. Tests use it to
/// show that the watchdog pings stop and the fence guard stops the JobManager. Never use it in
/// production.
pub(crate) fn arm_fault_injection(block: Duration) {
    let _ = FAULT_BLOCK.set(block);
}

/// The main loop's end of the fault injection: a SIGUSR2 stream when armed.
pub(crate) struct FaultInjection {
    armed: Option<(Duration, tokio::signal::unix::Signal)>,
}

impl FaultInjection {
    /// Listens for SIGUSR2 if [`arm_fault_injection`] was called; otherwise never triggers.
    pub(crate) fn from_armed() -> std::io::Result<FaultInjection> {
        let armed = match FAULT_BLOCK.get() {
            Some(block) => {
                let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined2())?;
                tracing::warn!(
                    block_ms = block.as_millis() as u64,
                    "FAULT INJECTION armed: SIGUSR2 blocks the main loop"
                );
                Some((*block, signal))
            }
            None => None,
        };
        Ok(FaultInjection { armed })
    }

    /// Resolves on each SIGUSR2 when armed; never otherwise.
    pub(crate) async fn triggered(&mut self) {
        match &mut self.armed {
            Some((_, signal)) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }

    /// Blocks the calling thread (the main loop's) for the armed duration.
    pub(crate) fn block_loop(&self) {
        if let Some((block, _)) = &self.armed {
            tracing::warn!(block_ms = block.as_millis() as u64, "FAULT INJECTION: blocking the main loop");
            std::thread::sleep(*block);
            tracing::warn!("FAULT INJECTION: main loop unblocked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flink_ha_core::machine::{Event, Timings};

    fn machine() -> Machine {
        Machine::new(Timings::example())
    }

    #[test]
    fn the_watchdog_is_pinged_four_times_per_timeout_and_only_when_due() {
        let mut n = Notifier::new(false, Some(Duration::from_secs(4)));
        assert_eq!(n.ping_interval(), Some(Duration::from_secs(1)));
        let m = machine();
        let now = Instant::now();
        n.end_of_turn(now, &m, false);
        let next = n.next_ping().expect("a ping is scheduled");
        assert!(next >= now + Duration::from_millis(900), "{:?}", next - now);
        // Not due yet: the schedule stays.
        n.end_of_turn(now + Duration::from_millis(10), &m, false);
        assert_eq!(n.next_ping(), Some(next));
        assert_eq!(Notifier::new(false, None).next_ping(), None);
        assert_eq!(Notifier::new(false, None).ping_interval(), None);
    }

    #[test]
    fn a_machine_that_shuts_down_has_systemd_told_so() {
        let mut n = Notifier::new(false, None);
        let mut m = machine();
        let now = Instant::now();
        n.end_of_turn(now, &m, false);
        assert!(!n.stopping);
        m.handle_event(now, Event::ShutdownRequested);
        n.end_of_turn(now, &m, false);
        assert!(n.stopping);
        assert_eq!(n.status, "shutting down");
    }
}
