//! The machine's named deadlines.

/// A deadline the machine keeps; [`Machine::timer`](super::Machine::timer) gives when each is
/// due, and [`Machine::poll_timeout`](super::Machine::poll_timeout) the earliest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The fence deadline of a running JobManager (see [`Fence`](super::Fence)).
    Fence,
    /// `jobmanager.start_timeout` of a JobManager not yet ready (off while paused).
    StartTimeout,
    /// The next readiness or health probe (off while one is in flight).
    Probe,
    /// The restart of a failed JobManager.
    Backoff,
}

impl Timer {
    /// Every timer.
    pub(crate) const ALL: [Timer; 4] = [Timer::Fence, Timer::StartTimeout, Timer::Probe, Timer::Backoff];
}
