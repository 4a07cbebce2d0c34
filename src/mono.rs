//! CLOCK_MONOTONIC as a number, so that two processes on one host can agree on an instant
//! (the daemon hands the fence deadline to the guard process this way).
//!
//! `std::time::Instant` is CLOCK_MONOTONIC on Linux, but opaque; these helpers convert through
//! the current time, with an error of the few microseconds between two clock reads.

use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

/// Nanoseconds of CLOCK_MONOTONIC now.
pub fn now_ns() -> u64 {
    let ts = clock_gettime(ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC is always available on Linux");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// The CLOCK_MONOTONIC nanoseconds of an `Instant`.
pub fn from_instant(at: Instant) -> u64 {
    let (now, now_ns) = (Instant::now(), now_ns());
    if at >= now {
        now_ns + (at - now).as_nanos() as u64
    } else {
        now_ns.saturating_sub((now - at).as_nanos() as u64)
    }
}

/// The `Instant` of CLOCK_MONOTONIC nanoseconds.
pub fn to_instant(ns: u64) -> Instant {
    let (now, now_ns) = (Instant::now(), now_ns());
    if ns >= now_ns {
        // A deadline beyond what Instant can hold means "never": a year is as good.
        let ahead = Duration::from_nanos(ns - now_ns).min(Duration::from_secs(365 * 24 * 3600));
        now + ahead
    } else {
        now.checked_sub(Duration::from_nanos(now_ns - ns)).unwrap_or(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip_within_a_millisecond() {
        let at = Instant::now() + Duration::from_secs(5);
        let back = to_instant(from_instant(at));
        let error = if back > at { back - at } else { at - back };
        assert!(error < Duration::from_millis(1), "{error:?}");
    }
}
