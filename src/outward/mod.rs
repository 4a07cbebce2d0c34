//! What the daemon shows the world: HTTP, metrics, systemd, hooks and the logs.

pub mod hooks;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod systemd;
