//! Real-parts test harness for integration tests: include it with `mod support;`.
//!
//! * [`ZkEnsemble`] — real ZooKeeper 3.8 servers (standalone or a quorum on loopback);
//!   [`zk_secure`] — the same with SASL DIGEST-MD5 logins or a TLS client port ([`TestPki`]).
//! * [`kerberos::Kdc`] — a real MIT Kerberos KDC on loopback, and ZooKeeper servers that log
//!   clients in with SASL GSSAPI against it.
//! * [`BlackholeProxy`] / [`ProxyGroup`] — TCP proxies that model a network partition.
//! * [`pick_free_port`] — ports that no other test (thread or process) gets.
//! * [`wait_until`], [`wait_for`] and their async versions — polling instead of sleeping.
//! * [`spawn_tied`] / [`KillOnDrop`] — children that die with the test process.
//! * [`refusal`] — exit code 2 in one line without a secret, as refusals must end.
//! * [`standin`] — helpers around the `standin-jobmanager` binary (path, events, HTTP GET).
//!
//! Every test binary compiles this module but uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod kerberos;
pub mod ports;
pub mod process;
pub mod proxy;
pub mod refusal;
pub mod standin;
pub mod wait;
pub mod zk;
pub mod zk_secure;

pub use ports::{pick_free_port, pick_free_ports};
pub use process::{spawn_tied, KillOnDrop};
pub use proxy::{BlackholeProxy, ProxyGroup, ProxyMode};
pub use wait::{try_wait_for, try_wait_for_async, wait_for, wait_for_async, wait_until, wait_until_async};
pub use zk::{four_letter_word, ZkEnsemble, ZkEnsembleBuilder};
pub use zk_secure::{ClientAuth, SaslRule, TestPki};
