//! Polling helpers: tests wait for a condition with a deadline instead of sleeping.
//!
//! The blocking versions block the calling thread; inside a `#[tokio::test]` on the default
//! current-thread runtime that also stalls every task of the runtime (ZooKeeper clients
//! included), so async tests use the `_async` versions. All of them panic on timeout with the
//! caller's source location.

use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

/// Calls `cond` every `poll` until it returns `true`; panics if `timeout` passes first.
/// `cond` is always called at least once, and once more at the deadline.
#[track_caller]
pub fn wait_until(timeout: Duration, poll: Duration, mut cond: impl FnMut() -> bool) {
    let caller = Location::caller();
    if try_wait_for(timeout, poll, || cond().then_some(())).is_none() {
        panic!("wait_until: condition not met within {timeout:?} (waiting at {caller})");
    }
}

/// Calls `f` every `poll` until it returns `Some(value)` and returns the value; panics if
/// `timeout` passes first.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, poll: Duration, f: impl FnMut() -> Option<T>) -> T {
    let caller = Location::caller();
    match try_wait_for(timeout, poll, f) {
        Some(v) => v,
        None => panic!("wait_for: no value within {timeout:?} (waiting at {caller})"),
    }
}

/// Like [`wait_for`] but returns `None` on timeout instead of panicking.
pub fn try_wait_for<T>(timeout: Duration, poll: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(poll.min(deadline - now));
    }
}

/// Async [`wait_until`]: awaits `cond()` every `poll` (with `tokio::time::sleep`) until it
/// yields `true`; panics if `timeout` passes first.
#[track_caller]
pub fn wait_until_async<F, Fut>(timeout: Duration, poll: Duration, mut cond: F) -> impl Future<Output = ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let caller = Location::caller();
    async move {
        let found = try_wait_for_async(timeout, poll, || {
            let fut = cond();
            async move { fut.await.then_some(()) }
        })
        .await;
        if found.is_none() {
            panic!("wait_until_async: condition not met within {timeout:?} (waiting at {caller})");
        }
    }
}

/// Async [`wait_for`]: awaits `f()` every `poll` until it yields `Some(value)`; panics if
/// `timeout` passes first.
#[track_caller]
pub fn wait_for_async<T, F, Fut>(timeout: Duration, poll: Duration, f: F) -> impl Future<Output = T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let caller = Location::caller();
    async move {
        match try_wait_for_async(timeout, poll, f).await {
            Some(v) => v,
            None => panic!("wait_for_async: no value within {timeout:?} (waiting at {caller})"),
        }
    }
}

/// Async [`try_wait_for`]: `None` on timeout. A single `f()` that is still pending at the
/// deadline is not cancelled; wrap slow calls (e.g. ZooKeeper requests) in
/// `tokio::time::timeout` inside `f`.
pub async fn try_wait_for_async<T, F, Fut>(timeout: Duration, poll: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        tokio::time::sleep(poll.min(deadline - now)).await;
    }
}
