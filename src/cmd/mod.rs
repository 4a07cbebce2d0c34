//! The one-shot commands: status, pause/resume/handover, audit, make-cds-archive.

pub mod audit;
pub mod maintenance;
pub mod make_cds_archive;
pub mod status;
