//! The decisions of flink-ha-supervisor, free of IO.
//!
//! The daemon's adapters turn what happens (ZooKeeper answers, process exits, probe results,
//! signals) into events with the current time, and carry out what this crate returns. Nothing
//! here reads a clock, a file, a socket or a process, and the crate's dependencies hold no
//! async runtime or IO crate (`tests/layout.rs` checks it), so every decision is tested with
//! time passed in. docs/ARCHITECTURE.md has the invariants these modules keep.
//!
//! # Layout
//!
//! The major components are:
//!
//! * [`machine`]: the state machine of one node: `Machine::handle_event`, `handle_timeout` and
//!   `poll_timeout` (the quinn-proto style), its actions and reports, and the fencing rule, kept
//!   by the Fence type (machine).
//! * [`timing`]: the timing rules behind fencing (`fence_after`, `fence_margin`,
//!   `max_watchdog`), shared by the configuration's validation and the machine.
//! * [`identity`] and [`blocking`]: the node identity in each election node, the
//!   classification of the election path's children, and which of them hold the election up.
//! * [`failover`]: the leader record's schema and the measurement of a failover's outage.
//! * [`view`]: the node's snapshot for the HTTP endpoint, the metrics and systemd.
//! * [`acl`]: whether a node's ACL is the daemons' own (the ACL check at a session's start).
//! * [`walltime`]: ZooKeeper's wall-clock milliseconds, formatted and parsed without a panic.
//! * `fuzz` (feature `fuzz`): proptest strategies for hostile data, for the property tests.

pub mod acl;
pub mod audit_event;
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
