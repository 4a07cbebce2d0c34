//! What the daemon shows the world. Each face follows the published node view or the machine's
//! reports and feeds no decision back.
//!
//! * [`http`]: the HTTP endpoint (`/health`, `/leader`, `/status`, `/metrics`).
//! * [`metrics`]: the node view as OpenMetrics text.
//! * [`systemd`]: `Type=notify` (READY, STATUS, STOPPING) and the watchdog.
//! * [`hooks`]: the role-change hooks, run by a worker task, never awaited by the loop.
//! * [`logging`]: the log output (JSON lines or text) and the audit records.

pub(crate) mod hooks;
pub(crate) mod http;
pub(crate) mod logging;
pub(crate) mod metrics;
pub(crate) mod systemd;
