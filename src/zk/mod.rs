//! ZooKeeper: everything the daemon and the commands read from or write to the ensemble.
//!
//! * [`election`]: one session, the election on it (the lock recipe), the heartbeat that proves
//!   the session alive, and the session's state changes, all reported as machine events.
//! * [`control`]: the operator controls beside the election path (the pause node and the
//!   handover request), their watcher, and the listing of live contenders.
//! * [`leader_record`]: the leader record of each term, written with compare-and-set.

pub mod control;
pub mod election;
pub mod leader_record;
