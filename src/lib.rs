//! flink-ha-supervisor: keeps exactly one Flink JobManager running across hosts through a
//! ZooKeeper election. See docs/ARCHITECTURE.md for the bird's-eye view.

pub mod audit;
pub mod blocking;
pub mod cds;
pub mod config;
pub mod control;
pub mod daemon;
pub mod election;
pub mod failover;
pub mod flink;
#[cfg(test)]
mod fuzz;
pub mod guard;
pub mod hooks;
pub mod http;
pub mod identity;
pub mod jobmanager;
pub mod logging;
pub mod machine;
pub mod maintenance;
pub mod metrics;
pub mod mono;
pub mod notify;
pub mod probe;
pub mod record;
pub mod status;
pub mod supervise;
pub mod timing;
pub mod view;
pub mod walltime;
