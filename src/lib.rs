//! flink-ha-supervisor: keeps exactly one Flink JobManager running across hosts through a
//! ZooKeeper election. See docs/ARCHITECTURE.md for the bird's-eye view.

pub mod cmd;
pub mod config;
pub mod daemon;
pub mod flink;
pub mod host;
pub mod outward;
pub mod process;
pub mod zk;
