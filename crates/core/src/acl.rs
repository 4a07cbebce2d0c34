//! Whether the ACL of a node the daemons own is theirs: the judgement behind the ACL check a
//! daemon makes at the start of each session (`src/zk/acl.rs` reads and writes, this decides).
//!
//! A node's ACL is *ours* when this session's identity (what ZooKeeper's `whoAmI` lists) holds
//! every permission on it and every entry for any other id grants at most READ, and READ only
//! when `zookeeper.world_readable` allows it. Anything else lets someone other than the daemons
//! write, delete, create children or change the ACL: the daemon sets the ACL to its own (or, when
//! the server refuses, exits with the command that fixes it).

use std::fmt;

/// ZooKeeper's permission bits (`ZooDefs.Perms`).
pub mod perms {
    /// READ: get the data, list the children.
    pub const READ: u32 = 1;
    /// WRITE: set the data.
    pub const WRITE: u32 = 2;
    /// CREATE: create children.
    pub const CREATE: u32 = 4;
    /// DELETE: delete children.
    pub const DELETE: u32 = 8;
    /// ADMIN: set the ACL.
    pub const ADMIN: u32 = 16;
    /// Every permission.
    pub const ALL: u32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// One entry of a node's ACL, as the server returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// The scheme: `world`, `digest`, `sasl`, `x509`, `ip`, ...
    pub scheme: String,
    /// The id within the scheme (`anyone`, `user:hash`, `user`, ...).
    pub id: String,
    /// The permission bits ([`perms`]).
    pub perms: u32,
}

impl AclEntry {
    /// An entry from its parts.
    pub fn new(scheme: &str, id: &str, perms: u32) -> AclEntry {
        AclEntry { scheme: scheme.to_string(), id: id.to_string(), perms }
    }
}

impl fmt::Display for AclEntry {
    /// As `zkCli.sh getAcl` would write it in a `setAcl`: `scheme:id:cdrwa`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.scheme, self.id, perms_text(self.perms))
    }
}

/// The permission bits as zkCli's letters (`cdrwa`), `-` for none.
pub fn perms_text(bits: u32) -> String {
    let letters: String =
        [(perms::CREATE, 'c'), (perms::DELETE, 'd'), (perms::READ, 'r'), (perms::WRITE, 'w'), (perms::ADMIN, 'a')]
            .iter()
            .filter(|(bit, _)| bits & bit != 0)
            .map(|(_, letter)| *letter)
            .collect();
    if letters.is_empty() {
        "-".to_string()
    } else {
        letters
    }
}

/// A whole ACL as text, entries separated by commas (`world:anyone:cdrwa`).
pub fn acl_text(acl: &[AclEntry]) -> String {
    acl.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// One identity of this session, as ZooKeeper's `whoAmI` lists it (scheme and user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The scheme (`digest`, `sasl`, `x509`, `ip`).
    pub scheme: String,
    /// The user as the server names it.
    pub user: String,
}

impl Identity {
    /// An identity from its parts.
    pub fn new(scheme: &str, user: &str) -> Identity {
        Identity { scheme: scheme.to_string(), user: user.to_string() }
    }

    /// Whether an ACL entry's id is this identity. `ip` and `world` never are: an address or
    /// everyone is no identity of ours. A digest id is `user:hash`; the server's `whoAmI` may
    /// name the user alone or with the hash, and either matches.
    fn matches(&self, entry: &AclEntry) -> bool {
        if self.scheme != entry.scheme || matches!(self.scheme.as_str(), "ip" | "world") {
            return false;
        }
        entry.id == self.user
            || (self.scheme == "digest"
                && !self.user.contains(':')
                && entry.id.split(':').next() == Some(self.user.as_str()))
    }
}

/// What [`judge`] decided about one node's ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Our identity has every permission, nobody else more than allowed.
    Ours,
    /// Someone else may do more than read, or we may not do everything.
    NotOurs {
        /// The entries of other ids that grant too much (empty when only ours is missing).
        offending: Vec<AclEntry>,
        /// Our identity does not hold every permission.
        ours_missing: bool,
    },
}

impl Verdict {
    /// One phrase for messages: what is wrong with the ACL.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Ours => "the ACL is the daemons' own".to_string(),
            Verdict::NotOurs { offending, ours_missing } => {
                let mut parts = Vec::new();
                if !offending.is_empty() {
                    parts.push(format!("it grants {}", acl_text(offending)));
                }
                if *ours_missing {
                    parts.push("the daemons' identity lacks some permission".to_string());
                }
                parts.join(" and ")
            }
        }
    }
}

/// Judges a node's ACL against this session's identities (`me`, ZooKeeper's `whoAmI`) and
/// `world_readable`: ours when one of `me` holds every permission and every other entry grants
/// at most READ, and READ only when `world_readable`.
pub fn judge(acl: &[AclEntry], me: &[Identity], world_readable: bool) -> Verdict {
    let is_ours = |entry: &AclEntry| me.iter().any(|identity| identity.matches(entry));
    let ours_all = acl.iter().filter(|e| is_ours(e)).any(|e| e.perms & perms::ALL == perms::ALL);
    let allowed = if world_readable { perms::READ } else { 0 };
    let offending: Vec<AclEntry> =
        acl.iter().filter(|e| !is_ours(e) && e.perms & perms::ALL & !allowed != 0).cloned().collect();
    if ours_all && offending.is_empty() {
        Verdict::Ours
    } else {
        Verdict::NotOurs { offending, ours_missing: !ours_all }
    }
}

#[cfg(test)]
mod tests {
    use super::perms::*;
    use super::*;

    fn me() -> Vec<Identity> {
        vec![Identity::new("ip", "127.0.0.1"), Identity::new("digest", "flinkha")]
    }

    fn ours() -> AclEntry {
        AclEntry::new("digest", "flinkha:Zm9vYmFyYmF6", ALL)
    }

    #[test]
    fn creator_all_is_ours() {
        assert_eq!(judge(&[ours()], &me(), false), Verdict::Ours);
        // whoAmI naming the user with its hash matches too.
        let with_hash = [Identity::new("digest", "flinkha:Zm9vYmFyYmF6")];
        assert_eq!(judge(&[ours()], &with_hash, false), Verdict::Ours);
        let sasl = [Identity::new("sasl", "flinkha")];
        assert_eq!(judge(&[AclEntry::new("sasl", "flinkha", ALL)], &sasl, false), Verdict::Ours);
    }

    #[test]
    fn world_read_is_ours_only_when_world_readable() {
        let acl = [ours(), AclEntry::new("world", "anyone", READ)];
        assert_eq!(judge(&acl, &me(), true), Verdict::Ours);
        let verdict = judge(&acl, &me(), false);
        assert_eq!(
            verdict,
            Verdict::NotOurs { offending: vec![AclEntry::new("world", "anyone", READ)], ours_missing: false }
        );
        assert_eq!(verdict.describe(), "it grants world:anyone:r");
    }

    #[test]
    fn an_open_node_is_not_ours() {
        let open = [AclEntry::new("world", "anyone", ALL)];
        let verdict = judge(&open, &me(), true);
        assert_eq!(
            verdict,
            Verdict::NotOurs { offending: vec![AclEntry::new("world", "anyone", ALL)], ours_missing: true }
        );
        assert_eq!(verdict.describe(), "it grants world:anyone:cdrwa and the daemons' identity lacks some permission");
    }

    #[test]
    fn another_identity_with_more_than_read_is_not_ours() {
        let acl = [ours(), AclEntry::new("digest", "flink:aGFzaA==", CREATE | READ)];
        assert!(matches!(judge(&acl, &me(), true), Verdict::NotOurs { ours_missing: false, .. }));
        // Another user whose name starts like ours is not ours.
        let acl = [ours(), AclEntry::new("digest", "flinkhaX:aGFzaA==", ALL)];
        assert!(matches!(judge(&acl, &me(), true), Verdict::NotOurs { ours_missing: false, .. }));
    }

    #[test]
    fn an_ip_entry_is_never_ours() {
        let acl = [AclEntry::new("ip", "127.0.0.1", ALL)];
        assert!(matches!(judge(&acl, &me(), false), Verdict::NotOurs { ours_missing: true, .. }));
    }

    #[test]
    fn ours_without_every_permission_is_not_ours() {
        let acl = [AclEntry::new("digest", "flinkha:Zm9vYmFyYmF6", READ | WRITE)];
        assert_eq!(judge(&acl, &me(), false), Verdict::NotOurs { offending: vec![], ours_missing: true });
        // An unauthenticated session (only an ip identity) owns nothing.
        assert!(matches!(judge(&[ours()], &[Identity::new("ip", "10.0.0.1")], false), Verdict::NotOurs { .. }));
    }

    #[test]
    fn texts_are_zkclis() {
        assert_eq!(perms_text(ALL), "cdrwa");
        assert_eq!(perms_text(READ), "r");
        assert_eq!(perms_text(0), "-");
        let acl = [AclEntry::new("world", "anyone", READ), AclEntry::new("sasl", "flinkha", ALL)];
        assert_eq!(acl_text(&acl), "world:anyone:r,sasl:flinkha:cdrwa");
    }
}
