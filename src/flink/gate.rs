//! The gate of a parked JobManager: Flink's `high-availability.type` names a factory of HA
//! services that waits for one byte on an inherited pipe before it delegates to Flink's
//! ZooKeeper HA services (`java/gate/`), and the JobManager's environment reaches its jar.

use crate::config::Settings;

/// The class Flink's `high-availability.type` names in parked mode.
pub(crate) const GATE_FACTORY: &str = "flinkha.gate.GatedHaServicesFactory";

/// What the JobManager's environment needs for the gate, added to `jobmanager.env` for a park
/// (nothing in cold mode).
pub(crate) fn jobmanager_env(_settings: &Settings) -> Vec<(String, String)> {
    Vec::new()
}
