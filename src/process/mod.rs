//! Processes and the clock: what runs the JobManager and what times it.
//!
//! * [`jobmanager`]: the daemon's side of the JobManager: starts it behind its fence guard,
//!   renews the lease, stops it, and kills what is left of its process group.
//! * [`guard`]: the fence guard process (`fence-guard`), which stops the JobManager when its
//!   lease runs out even if the daemon cannot.
//! * [`launch`]: the JobManager's JVM command line, resolved from Flink's scripts ahead of
//!   time and run directly (`jobmanager.launch = "direct"`).
//! * [`probe`]: the HTTP readiness and health probe of the JobManager's REST endpoint.
//! * [`mono`]: the boot-time clock (it counts suspended time) the lease and the fence use.

pub(crate) mod cds;
pub(crate) mod guard;
pub(crate) mod jobmanager;
pub(crate) mod launch;
pub(crate) mod mono;
pub(crate) mod probe;
