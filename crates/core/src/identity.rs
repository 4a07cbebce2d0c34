//! The identity a daemon writes into its election node, and the tolerant reading of the
//! election path's children (other daemons' nodes, foreign nodes, malformed data).

use serde::{Deserialize, Serialize};

/// The lock name inside election node names: `_c_<uuid>-latch-<sequence>` (Curator's
/// `LeaderLatch` layout, as written by zookeeper-client's `LockPrefix::new_curator`).
pub const LOCK_NAME: &str = "latch-";

/// Width of the sequence suffix ZooKeeper appends to sequential nodes.
const SEQUENCE_DIGITS: usize = 10;

/// What a contender tells the others about itself, as JSON in its election node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// `node.id` of the daemon.
    pub node_id: String,
    /// Host name of the machine.
    pub host: String,
    /// host:port of the JobManager's REST endpoint (from `jobmanager.ready_url`).
    pub rest_address: String,
    /// host:port of the JobManager's RPC endpoint (`jobmanager.rpc_address`).
    pub rpc_address: String,
    /// Process id of the daemon.
    pub pid: u32,
    /// Version of the daemon that wrote the node.
    pub version: String,
}

impl NodeIdentity {
    /// The node's data as written to ZooKeeper.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an identity always serializes")
    }
}

/// One child of the election path as an adapter saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedChild {
    /// The child's name under the election path.
    pub name: String,
    /// Its data.
    pub data: Vec<u8>,
    /// True when it is not ephemeral (its `ephemeralOwner` is 0): no session's end removes it.
    pub persistent: bool,
    /// True when this daemon's own session owns it.
    pub ours: bool,
}

/// An identity of node `node` on host `<node>.example.org`, for tests.
#[cfg(test)]
pub(crate) fn example(node: &str) -> NodeIdentity {
    NodeIdentity {
        node_id: node.into(),
        host: format!("{node}.example.org"),
        rest_address: format!("{node}.example.org:8081"),
        rpc_address: format!("{node}.example.org:6123"),
        pid: 4242,
        version: "0.1.0".into(),
    }
}

/// A child of the election path named like an election node (its identity may still be
/// malformed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contender {
    /// The child's name.
    pub name: String,
    /// Its sequence number (the leadership epoch when it leads).
    pub sequence: u64,
    /// Its identity; `Err` holds why the data could not be read as one.
    pub identity: Result<NodeIdentity, String>,
}

impl Contender {
    /// The daemon's `node.id`, when its identity is readable.
    pub fn node_id(&self) -> Option<&str> {
        self.identity.as_ref().ok().map(|i| i.node_id.as_str())
    }
}

/// One child of the election path, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// A daemon's election node.
    Contender(Contender),
    /// A child that is not an election node (another program's, or a typo).
    Foreign {
        /// The child's name.
        name: String,
    },
}

/// The last ten bytes of a child name that contains [`LOCK_NAME`]: the part
/// ZooKeeper appended and the lock recipe sorts by; `None` for any other name. Every reading of
/// an election child's name starts here. Total on any name: a multi-byte character across the
/// suffix's start is `None`, no panic.
pub(crate) fn sequence_suffix(name: &str) -> Option<&str> {
    if !name.contains(LOCK_NAME) {
        return None;
    }
    name.get(name.len().checked_sub(SEQUENCE_DIGITS)?..)
}

/// The sequence number of an election node name (a [`sequence_suffix`] of ten digits), or
/// `None` when the name is not one.
pub fn contender_sequence(name: &str) -> Option<u64> {
    let digits = sequence_suffix(name)?;
    if !digits.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Classifies a child of the election path from its name and data.
pub fn classify(name: &str, data: &[u8]) -> Child {
    match contender_sequence(name) {
        None => Child::Foreign { name: name.to_string() },
        Some(sequence) => Child::Contender(Contender {
            name: name.to_string(),
            sequence,
            identity: serde_json::from_slice(data).map_err(|e| format!("not a node identity: {e}")),
        }),
    }
}

/// The election path's children, classified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ElectionChildren {
    /// The election nodes in queue order: lowest sequence (the leader) first, ties by name.
    pub contenders: Vec<Contender>,
    /// The names of the other children, sorted.
    pub foreign: Vec<String>,
}

impl ElectionChildren {
    /// Classifies the children as listed, in any order.
    pub fn classify(children: &[ObservedChild]) -> ElectionChildren {
        let mut sorted = ElectionChildren::default();
        for child in children {
            match classify(&child.name, &child.data) {
                Child::Contender(contender) => sorted.contenders.push(contender),
                Child::Foreign { name } => sorted.foreign.push(name),
            }
        }
        sorted.contenders.sort_by(|a, b| (a.sequence, &a.name).cmp(&(b.sequence, &b.name)));
        sorted.foreign.sort();
        sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::{child_name, json_value};
    use proptest::prelude::*;

    fn identity() -> NodeIdentity {
        NodeIdentity {
            node_id: "jm1".into(),
            host: "host1".into(),
            rest_address: "host1:8081".into(),
            rpc_address: "host1:6123".into(),
            pid: 12,
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn a_contender_round_trips() {
        let name = "_c_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0-latch-0000000042";
        assert_eq!(
            classify(name, &identity().to_json()),
            Child::Contender(Contender { name: name.into(), sequence: 42, identity: Ok(identity()) })
        );
    }

    #[test]
    fn malformed_data_is_reported_not_fatal() {
        let name = "_c_x-latch-0000000001";
        match classify(name, b"{not json") {
            Child::Contender(Contender { sequence: 1, identity: Err(why), .. }) => {
                assert!(why.contains("not a node identity"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn foreign_children_are_recognised() {
        for name in ["lock", "latch-12", "_c_x-latch-00000000ab", "other-0000000001", ""] {
            assert_eq!(classify(name, b""), Child::Foreign { name: name.into() }, "{name}");
        }
    }

    #[test]
    fn hostile_names_are_foreign_not_fatal() {
        // Multi-byte characters where the sequence would be: each once panicked a byte slice.
        for name in
            ["latch-\u{fc}123456789", "latch-\u{1f600}1234567", "_c_x-latch-\u{fc}\u{fc}\u{fc}\u{fc}\u{fc}", "latch-"]
        {
            assert_eq!(classify(name, b""), Child::Foreign { name: name.into() }, "{name}");
        }
        assert_eq!(contender_sequence("\u{fc}latch-0000000007"), Some(7));
        assert_eq!(contender_sequence("x-latch-9999999999"), Some(9_999_999_999));
        assert_eq!(contender_sequence(&format!("latch-{}", "9".repeat(4000))), Some(9_999_999_999));
    }

    #[test]
    fn children_sort_into_queue_order_and_foreign_names() {
        let child =
            |name: &str, data: Vec<u8>| ObservedChild { name: name.into(), data, persistent: false, ours: false };
        let children = [
            child("_c_b-latch-0000000002", identity().to_json()),
            child("zz", Vec::new()),
            child("_c_a-latch-0000000001", identity().to_json()),
            child("aa", Vec::new()),
        ];
        let sorted = ElectionChildren::classify(&children);
        let queue: Vec<_> = sorted.contenders.iter().map(|c| (c.sequence, c.node_id())).collect();
        assert_eq!(queue, [(1, Some("jm1")), (2, Some("jm1"))]);
        assert_eq!(sorted.foreign, ["aa", "zz"]);
    }

    proptest! {
        #[test]
        fn classifying_any_child_never_panics(name in child_name(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
            match classify(&name, &data) {
                Child::Contender(Contender { name: n, sequence, .. }) => {
                    prop_assert_eq!(&n, &name);
                    prop_assert!(name.contains(LOCK_NAME));
                    prop_assert_eq!(name[name.len() - SEQUENCE_DIGITS..].parse::<u64>().ok(), Some(sequence));
                }
                Child::Foreign { name: n } => prop_assert_eq!(n, name),
            }
        }

        #[test]
        fn identity_json_of_any_shape_never_panics(json in json_value()) {
            let data = serde_json::to_vec(&json).unwrap();
            let _ = classify("_c_x-latch-0000000001", &data);
        }

        #[test]
        fn identities_round_trip(node_id in "\\PC{0,20}", host in "\\PC{0,20}", pid in any::<u32>()) {
            let identity = NodeIdentity { node_id, host, pid, ..identity() };
            let read = classify("_c_x-latch-0000000003", &identity.to_json());
            prop_assert_eq!(read, Child::Contender(Contender { name: "_c_x-latch-0000000003".into(), sequence: 3, identity: Ok(identity) }));
        }
    }
}
