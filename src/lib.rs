//! flink-ha-supervisor: keeps exactly one Flink JobManager running across hosts through a
//! ZooKeeper election. See docs/ARCHITECTURE.md for the bird's-eye view and the invariants.
//!
//! This crate is the daemon's side: the adapters that talk to the world and the commands. The
//! decisions live in the `flink_ha_core` crate (crates/core), which does no IO; the modules
//! here carry out its actions and log its reports, deciding nothing themselves.
//!
//! # Layout
//!
//! The major components are:
//!
//! * [`daemon`]: `run`'s main loop, which feeds the state machine from the adapters and carries
//!   out its actions, and the supervision of the daemon's tasks.
//! * [`zk`]: ZooKeeper: the session and the election on it, the heartbeat, the operator
//!   controls (pause, handover) and the leader record.
//! * [`process`]: the JobManager behind its fence guard, the readiness and health probe, and
//!   the boot-time clock the lease and the fence deadline are measured on.
//! * [`outward`]: what the world sees: the HTTP endpoint, the metrics, systemd's notifications
//!   and watchdog, the role-change hooks and the logs.
//! * [`cmd`]: the one-shot commands: `status`, `pause`/`resume`/`handover`, `audit`,
//!   `check-config`, `render-flink-config`, `make-cds-archive`.
//! * [`config`]: the settings (file, environment, defaults) and their validation.
//! * [`flink`]: Flink's own HA configuration, rendered for the JobManager.

// Public only what `main.rs`, `tests/` and the bench use (`cmd::main`, `config::Settings`, the
// election session in `zk`); the lint keeps everything else `pub(crate)`, so the compiler reports
// dead code.
#![warn(unreachable_pub)]
pub mod cmd;
pub mod config;
pub(crate) mod daemon;
pub(crate) mod flink;
pub(crate) mod host;
pub(crate) mod outward;
pub(crate) mod process;
pub mod zk;
