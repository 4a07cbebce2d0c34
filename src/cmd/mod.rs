//! The one-shot commands: status, pause/resume/handover, audit, make-cds-archive.

pub mod audit;
pub mod cds;
pub mod maintenance;
pub mod status;
