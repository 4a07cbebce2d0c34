//! The decisions of flink-ha-supervisor, free of IO.

pub mod audit_event;
pub mod blocking;
pub mod failover;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod identity;
pub mod machine;
pub mod timing;
pub mod view;
pub mod walltime;
