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
    /// The end of the latch clearing's time before a start.
    LatchTimeout,
    /// The next park after a parked JobManager died.
    ParkBackoff,
    /// The next check of the parked JobManager's Flink configuration.
    ParkCheck,
    /// The end of a park's time to reach its gate (`jobmanager.park_timeout`).
    ParkTimeout,
    /// The end of the wait for a discarded park's exit ([`DRAIN_TIMEOUT`](super::parked::DRAIN_TIMEOUT)).
    DrainTimeout,
}

impl Timer {
    /// Every timer.
    pub(crate) const ALL: [Timer; 9] = [
        Timer::Fence,
        Timer::StartTimeout,
        Timer::Probe,
        Timer::Backoff,
        Timer::LatchTimeout,
        Timer::ParkBackoff,
        Timer::ParkCheck,
        Timer::ParkTimeout,
        Timer::DrainTimeout,
    ];
}
