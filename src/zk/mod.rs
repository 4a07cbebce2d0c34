//! ZooKeeper: the session, the election, the listing of its contenders, the control nodes and
//! the leader record.

pub mod contenders;
pub mod control;
pub mod election;
pub mod leader_record;
pub mod session;
