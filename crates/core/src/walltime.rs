//! Wall-clock times as milliseconds since the Unix epoch (the ZooKeeper server's `mtime`s, the
//! times in the leader record and the control nodes), formatted and subtracted without
//! ever panicking: these numbers come from ZooKeeper and anyone who can write there. RFC 3339
//! (humantime) covers years 0000 to 9999 only, and humantime panics past that; a time out of that
//! range is shown as `not a time (N ms since the epoch)`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last millisecond RFC 3339 can write: 9999-12-31T23:59:59.999Z.
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// The instant `ms` after the epoch, or `None` when it is before the epoch or after [`MAX_MS`].
pub(crate) fn to_system_time(ms: i64) -> Option<SystemTime> {
    if !(0..=MAX_MS).contains(&ms) {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_millis(ms as u64))
}

/// Milliseconds since the epoch of `t`, or `None` when it is outside `0..=MAX_MS`.
pub fn from_system_time(t: SystemTime) -> Option<i64> {
    let ms = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    (ms <= MAX_MS).then_some(ms)
}

/// `ms` as RFC 3339 UTC with millisecond precision, or `not a time (N ms since the epoch)`.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    match to_system_time(ms) {
        Some(t) => humantime::format_rfc3339_millis(t).to_string(),
        None => format!("not a time ({ms} ms since the epoch)"),
    }
}

/// `t` as RFC 3339 UTC with millisecond precision, or `not a time (...)` out of range.
pub(crate) fn format_system_time(t: SystemTime) -> String {
    match from_system_time(t) {
        Some(ms) => rfc3339_ms(ms),
        None => match t.duration_since(UNIX_EPOCH) {
            Ok(after) => format!("not a time ({} s since the epoch)", after.as_secs()),
            Err(before) => format!("not a time ({} s before the epoch)", before.duration().as_secs()),
        },
    }
}

/// A duration for people, as `1m 15s` or `500ms` (humantime's format).
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Parses RFC 3339 (as [`rfc3339_ms`] writes it) back to milliseconds since the epoch; `None`
/// for anything else.
#[cfg(test)]
pub(crate) fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    from_system_time(humantime::parse_rfc3339(text).ok()?)
}

/// How long before `now_ms` the time `ms` was: zero when it lies in the future, saturating
/// for absurd values.
pub fn age(now_ms: i64, ms: i64) -> Duration {
    Duration::from_millis(now_ms.saturating_sub(ms).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times_in_range_are_rfc3339() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(rfc3339_ms(MAX_MS), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn times_out_of_range_are_named_not_fatal() {
        assert_eq!(rfc3339_ms(MAX_MS + 1), "not a time (253402300800000 ms since the epoch)");
        assert_eq!(rfc3339_ms(-1), "not a time (-1 ms since the epoch)");
        assert!(rfc3339_ms(i64::MAX).starts_with("not a time"));
        assert!(rfc3339_ms(i64::MIN).starts_with("not a time"));
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(format_system_time(far), "not a time (400000000000 s since the epoch)");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(format_system_time(before), "not a time (5 s before the epoch)");
    }

    #[test]
    fn ages_saturate() {
        assert_eq!(age(10_000, 4_000), Duration::from_secs(6));
        assert_eq!(age(4_000, 10_000), Duration::ZERO);
        assert_eq!(age(i64::MAX, i64::MIN), Duration::from_millis(i64::MAX as u64));
        assert_eq!(age(i64::MIN, i64::MAX), Duration::ZERO);
    }

    proptest! {
        #[test]
        fn formatting_never_panics_and_round_trips(ms in any::<i64>()) {
            let text = rfc3339_ms(ms);
            if (0..=MAX_MS).contains(&ms) {
                prop_assert_eq!(parse_rfc3339_ms(&text), Some(ms));
            } else {
                prop_assert!(text.starts_with("not a time"), "{}", text);
                prop_assert_eq!(parse_rfc3339_ms(&text), None);
            }
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_rfc3339_ms(&text);
        }

        #[test]
        fn parsing_near_dates_never_panics(
            text in "[0-9+-]{1,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:[0-9]{2})"
        ) {
            let _ = parse_rfc3339_ms(&text);
        }

        #[test]
        fn ages_never_panic(now in any::<i64>(), ms in any::<i64>()) {
            let _ = age(now, ms);
        }
    }
}
