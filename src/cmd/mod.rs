//! The one-shot commands, each run once from the command line and gone.
//!
//! * [`status`]: the election as ZooKeeper holds it, judged healthy or degraded.
//! * [`maintenance`]: `pause`, `resume` and `handover`, which steer the daemons through
//!   ZooKeeper.
//! * [`audit`]: failovers, outages and overlaps rebuilt from the daemons' logs.
//! * [`cds`]: the JobManager's class-data-sharing archive and `make-cds-archive`.
//!
//! `check-config` and `render-flink-config` live with the settings they show, in
//! `crate::flink::cli`.

pub mod audit;
pub mod maintenance;
pub mod make_cds_archive;
pub mod status;
