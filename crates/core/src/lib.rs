//! The decisions of flink-ha-supervisor, free of IO.

pub mod blocking;
pub mod controls;
pub mod failover;
#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;
pub mod handover;
pub mod identity;
pub mod machine;
pub mod status;
pub mod timing;
pub mod view;
pub mod walltime;
