//! ZooKeeper: everything the daemon and the commands read from or write to the ensemble.
//!
//! * [`session`]: the one way to connect (every server tried once, bounded, with the configured
//!   authentication and TLS) and to close.
//! * [`chroot`]: the quorum's chroot: whether it exists, and its creation by the daemon.
//! * [`kerberos`]: the keytab handed to the GSSAPI library, and its failures' meaning.
//! * [`acl`]: the ACL of every node the daemons create, and the check of the existing ones.
//! * [`election`]: the election on a session (the lock recipe), the heartbeat that proves the
//!   session alive, and the session's state changes, all reported as machine events.
//! * [`contenders`]: the one listing of the election's children and its live contenders.
//! * [`control`]: the operator controls beside the election path (the pause node and the
//!   handover request) and their watcher.
//! * [`leader_record`]: the leader record of each term, written with compare-and-set.
//! * [`latches`]: Flink's leader latch nodes of dead JobManagers, deleted before a start.

pub mod acl;
pub(crate) mod chroot;
pub(crate) mod contenders;
pub(crate) mod control;
pub mod election;
pub(crate) mod kerberos;
pub(crate) mod latches;
pub(crate) mod leader_record;
pub mod session;
