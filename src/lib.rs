//! flink-ha-supervisor: keeps exactly one Flink JobManager running across hosts through a
//! ZooKeeper election. See docs/ARCHITECTURE.md for the bird's-eye view.

pub mod config;
pub mod machine;
pub mod timing;
