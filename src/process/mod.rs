//! Processes and clocks: the JobManager, its fence guard, the health probe, the boot-time clock.

pub mod cds;
pub mod guard;
pub mod jobmanager;
pub mod mono;
pub mod probe;
