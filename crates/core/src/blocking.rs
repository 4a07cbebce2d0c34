//! Which children of the election path hold the election up for good: nodes that sit in the lock
//! recipe's queue but that no daemon will ever remove (a persistent node, or one whose data is not
//! a daemon's identity). Every contender behind such a node waits for it forever, so the daemons
//! name it and the operator removes it; a daemon never deletes what is not its own.
//!
//! Pure: the adapters observe the children (name, data, whether persistent, whether ours) and
//! the machine and `status` judge them here.

use std::fmt;

pub use crate::identity::ObservedChild;
use crate::identity::{self, NodeIdentity};

/// Why a node in the queue is not a daemon's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Not ephemeral: it stays until someone deletes it.
    Persistent,
    /// Ephemeral, but its data is not a daemon's identity (another program's lock, or damage):
    /// it stays as long as its owner's session.
    NotADaemon,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Why::Persistent => "a persistent node, which no session's end removes",
            Why::NotADaemon => "not a daemon's election node (its data is not a node identity)",
        })
    }
}

/// A node that holds up every contender behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Its name under the election path.
    pub name: String,
    /// Why no daemon will remove it.
    pub why: Why,
    /// True when it is first in the queue: nobody leads while it exists.
    pub first: bool,
}

/// The recipe's sort key of a child, or `None` when the recipe does not count it as a contender:
/// zookeeper-client's `Client::lock` takes children whose name contains the lock name and whose
/// last ten bytes parse as an `i32`, and orders them by those ten bytes as text.
fn recipe_key(name: &str) -> Option<&str> {
    identity::sequence_suffix(name).filter(|suffix| suffix.parse::<i32>().is_ok())
}

/// The children the recipe queues, in its order (the first would lead).
pub fn queue(children: &[ObservedChild]) -> Vec<&ObservedChild> {
    let mut queue: Vec<(&str, &ObservedChild)> =
        children.iter().filter_map(|c| recipe_key(&c.name).map(|key| (key, c))).collect();
    queue.sort_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    queue.into_iter().map(|(_, c)| c).collect()
}

/// Why `child` is not a daemon's live election node, or `None` when it is one.
fn not_a_daemon(child: &ObservedChild) -> Option<Why> {
    if child.persistent {
        return Some(Why::Persistent);
    }
    let is_daemon = identity::contender_sequence(&child.name).is_some()
        && serde_json::from_slice::<NodeIdentity>(&child.data).is_ok();
    if child.ours || is_daemon {
        None
    } else {
        Some(Why::NotADaemon)
    }
}

/// Every node in the queue that no daemon will remove, in queue order.
pub(crate) fn blockers(children: &[ObservedChild]) -> Vec<Blocker> {
    queue(children)
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| not_a_daemon(c).map(|why| Blocker { name: c.name.clone(), why, first: i == 0 }))
        .collect()
}

/// The first node that holds up this daemon: a blocker ahead of our own node, or anywhere in the
/// queue when our node is not there (yet), since ours would join behind it.
pub(crate) fn blocking_us(children: &[ObservedChild]) -> Option<Blocker> {
    let queue = queue(children);
    let ahead = queue.iter().position(|c| c.ours).unwrap_or(queue.len());
    queue[..ahead]
        .iter()
        .enumerate()
        .find_map(|(i, c)| not_a_daemon(c).map(|why| Blocker { name: c.name.clone(), why, first: i == 0 }))
}

/// What the operator can do about `node` under `path` of the ensemble `quorum` (with its chroot).
pub fn remedy(quorum: &str, path: &str, node: &str) -> String {
    let full = format!("{path}/{node}");
    format!(
        "inspect it with `zkCli.sh -server {quorum} stat {full}` and, if no program of yours needs it, delete it with `zkCli.sh -server {quorum} delete {full}`; the daemons never delete a node that is not theirs"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn daemon(sequence: u32, node: &str) -> ObservedChild {
        ObservedChild {
            name: format!("_c_0f1e2d3c-{node}-latch-{sequence:010}"),
            data: identity::example(node).to_json(),
            persistent: false,
            ours: false,
        }
    }

    fn foreign(name: &str, persistent: bool) -> ObservedChild {
        ObservedChild { name: name.into(), data: Vec::new(), persistent, ours: false }
    }

    fn ours(mut child: ObservedChild) -> ObservedChild {
        child.ours = true;
        child
    }

    #[test]
    fn a_queue_of_daemons_is_not_blocked() {
        let children = [daemon(8, "jm2"), ours(daemon(9, "jm3")), daemon(7, "jm1"), foreign("lock", true)];
        let names: Vec<_> = queue(&children).iter().map(|c| c.name.clone()).collect();
        assert_eq!(names, [children[2].name.clone(), children[0].name.clone(), children[1].name.clone()]);
        assert_eq!(blockers(&children), []);
        assert_eq!(blocking_us(&children), None);
    }

    #[test]
    fn a_persistent_node_ahead_of_everyone_blocks_everyone() {
        let children = [daemon(8, "jm2"), foreign("x-latch-0000000000", true), ours(daemon(9, "jm3"))];
        let expected = Blocker { name: "x-latch-0000000000".into(), why: Why::Persistent, first: true };
        assert_eq!(blocking_us(&children), Some(expected.clone()));
        assert_eq!(blockers(&children), [expected]);
    }

    #[test]
    fn what_the_recipe_sorts_first_is_found_even_when_it_is_no_contender_name() {
        // '+' sorts before every digit and "+000000000" parses as an i32.
        let children = [daemon(1, "jm1"), foreign("zz-latch-+000000000", true)];
        let b = blocking_us(&children).unwrap();
        assert_eq!((b.name.as_str(), b.first), ("zz-latch-+000000000", true));
    }

    #[test]
    fn a_persistent_copy_of_a_daemons_node_blocks() {
        let mut copy = daemon(0, "jm1");
        copy.persistent = true;
        let b = blocking_us(&[copy, daemon(4, "jm2")]).unwrap();
        assert_eq!(b.why, Why::Persistent);
    }

    #[test]
    fn an_ephemeral_node_of_another_program_blocks_while_it_lives() {
        let children = [foreign("_c_other-latch-0000000002", false), daemon(3, "jm1")];
        assert_eq!(blocking_us(&children).unwrap().why, Why::NotADaemon);
    }

    #[test]
    fn a_blocker_behind_us_does_not_block_us_but_blocks_those_behind_it() {
        let children = [ours(daemon(1, "jm1")), foreign("x-latch-0000000002", true), daemon(3, "jm2")];
        assert_eq!(blocking_us(&children), None);
        let all = blockers(&children);
        assert_eq!(all.len(), 1);
        assert!(!all[0].first);
        // The daemon behind it is blocked (seen from its own session).
        let mut theirs = children.clone();
        theirs[0].ours = false;
        theirs[2].ours = true;
        assert_eq!(blocking_us(&theirs).unwrap().name, "x-latch-0000000002");
    }

    #[test]
    fn before_our_node_exists_any_blocker_in_the_queue_blocks_us() {
        let children = [daemon(1, "jm1"), foreign("x-latch-0000000002", true)];
        assert_eq!(blocking_us(&children).unwrap().name, "x-latch-0000000002");
    }

    #[test]
    fn names_the_recipe_ignores_never_block() {
        for name in ["latch-12", "short", "x-latch-00000000ab", "x-latch-9999999999", "ü-latch-ü12345678", ""] {
            assert_eq!(blocking_us(&[foreign(name, true)]), None, "{name}");
        }
    }

    #[test]
    fn the_remedy_names_the_full_path_and_both_commands() {
        let r = remedy("zk1:2181/apps", "/flink/leader", "x-latch-0000000000");
        assert!(r.contains("zkCli.sh -server zk1:2181/apps stat /flink/leader/x-latch-0000000000"), "{r}");
        assert!(r.contains("delete /flink/leader/x-latch-0000000000"), "{r}");
    }
}
