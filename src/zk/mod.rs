//! ZooKeeper: the election, the control nodes and the leader record.

pub mod control;
pub mod election;
pub mod leader_record;
