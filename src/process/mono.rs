//! The daemon's one clock: a timeline that counts suspended time (CLOCK_BOOTTIME), as
//! `Instant`s for the state machine and as nanoseconds for the fence guard, so that two
//! processes on one host agree on the lease's instant.
//!
//! `std::time::Instant` is CLOCK_MONOTONIC on Linux, which stops while the host is suspended or
//! its VM paused: a deadline on it would move later by the length of every suspend, and a
//! JobManager could keep serving after a resume although its session expired meanwhile. So
//! [`now`] returns an `Instant` on a boot-time timeline: an anchor `Instant` taken once plus the
//! CLOCK_BOOTTIME time elapsed since then. Everything that records instants for the machine
//! (heartbeat send times, session starts, the loop's `now`) uses [`now`]; conversions to and
//! from the guard's nanoseconds are exact (no second clock read). Such an `Instant` may lie
//! ahead of `Instant::now()` after a suspend, so a wait for one of them goes through
//! [`sleep_until`], which never sleeps longer than [`MAX_SLEEP`] before reading the clock again.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

/// The longest a wait for a boot-timeline instant sleeps on tokio's (monotonic) timer before it
/// reads CLOCK_BOOTTIME again: after a resume, a deadline that passed during the suspend is
/// seen at most this late.
pub(crate) const MAX_SLEEP: Duration = Duration::from_millis(250);

/// A deadline beyond what is useful means "never": a year is as good, and keeps `Instant`
/// arithmetic far from overflow.
/// Now on the wall clock, in milliseconds since the epoch (0 for a clock set before 1970 or
/// after the year 9999): the time written into ZooKeeper's control nodes.
pub(crate) fn wall_now_ms() -> i64 {
    flink_ha_core::walltime::from_system_time(std::time::SystemTime::now()).unwrap_or(0)
}

#[cfg(test)]
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The anchor of the boot-time timeline: one `Instant` and the CLOCK_BOOTTIME time of it.
struct Anchor {
    at: Instant,
    boot_ns: u64,
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor { at: Instant::now(), boot_ns: boot_ns() })
}

/// Nanoseconds of CLOCK_BOOTTIME now (monotonic, counts suspended time).
pub(crate) fn boot_ns() -> u64 {
    // CLOCK_BOOTTIME exists since Linux 2.6.39; a kernel without it cannot run this program.
    let ts = clock_gettime(ClockId::CLOCK_BOOTTIME).expect("CLOCK_BOOTTIME is available on Linux");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// Now, on the boot-time timeline.
pub(crate) fn now() -> Instant {
    let a = anchor();
    a.at + Duration::from_nanos(boot_ns().saturating_sub(a.boot_ns))
}

/// The CLOCK_BOOTTIME nanoseconds of a boot-timeline `Instant`.
pub(crate) fn to_ns(at: Instant) -> u64 {
    let a = anchor();
    if at >= a.at {
        a.boot_ns.saturating_add((at - a.at).as_nanos().min(u64::MAX as u128) as u64)
    } else {
        a.boot_ns.saturating_sub((a.at - at).as_nanos().min(u64::MAX as u128) as u64)
    }
}

/// The boot-timeline `Instant` of CLOCK_BOOTTIME nanoseconds (at most a year ahead of now).
#[cfg(test)]
fn from_ns(ns: u64) -> Instant {
    let a = anchor();
    if ns >= a.boot_ns {
        let ahead = Duration::from_nanos(ns - a.boot_ns);
        let limit = now().saturating_duration_since(a.at) + FAR;
        a.at + ahead.min(limit)
    } else {
        a.at.checked_sub(Duration::from_nanos(a.boot_ns - ns)).unwrap_or(a.at)
    }
}

/// Waits until the boot-timeline instant `deadline`, reading CLOCK_BOOTTIME at least every
/// [`MAX_SLEEP`], so that time spent suspended counts.
pub(crate) async fn sleep_until(deadline: Instant) {
    loop {
        let left = deadline.saturating_duration_since(now());
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left.min(MAX_SLEEP)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_exactly() {
        let at = now() + Duration::from_secs(5);
        assert_eq!(from_ns(to_ns(at)), at);
        let before = now();
        assert_eq!(from_ns(to_ns(before)), before);
    }

    #[test]
    fn now_follows_the_boot_clock() {
        let (t, ns) = (now(), boot_ns());
        let error = to_ns(t).abs_diff(ns);
        assert!(error < 1_000_000, "{error} ns");
    }

    #[test]
    fn a_far_deadline_is_capped() {
        let far = from_ns(u64::MAX);
        assert!(far > now() + Duration::from_secs(364 * 24 * 3600));
        assert!(far < now() + Duration::from_secs(366 * 24 * 3600));
    }
}
