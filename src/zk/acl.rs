//! The ACL of the nodes the daemons and the commands create, and the check of the nodes that
//! already exist, made by the daemon at the start of each session before it contends.
//!
//! With `zookeeper.auth` off every node is open to anyone ([`NodeAcl::Open`], as before
//! authentication existed). With it on, every node the daemons create (the election path's
//! ancestors and the path itself, the election nodes, the leader record, the pause and handover
//! nodes) grants everything to the creating identity (`auth::cdrwa`) and, with
//! `zookeeper.world_readable`, READ to anyone. Nodes made before (open ones, from an upgrade)
//! are set to that ACL when the daemon's identity may, logged and audited as `acl_fixed`; when
//! the server refuses, the daemon exits 2 with the `zkCli.sh` command that fixes them. Whether an
//! ACL is the daemons' own is `flink_ha_core::acl::judge`'s decision.

use zookeeper_client as zk;

use crate::config::ZooKeeperSettings;
use crate::outward::logging::write_audit;
use crate::zk::session::{Auth, Refused, ZkTarget};
use flink_ha_core::acl::{acl_text, judge, perms, AclEntry, Identity, Verdict};
use flink_ha_core::audit_event::AuditEvent;
use flink_ha_core::controls::{handover_path, pause_path};
use flink_ha_core::failover::record_path;

/// The creator's every permission and READ for anyone.
static OURS_WORLD_READABLE: [zk::Acl; 2] =
    [zk::Acl::new_const(zk::Permission::ALL, "auth", ""), zk::Acl::new_const(zk::Permission::READ, "world", "anyone")];

/// Which ACL the nodes the daemons create get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAcl {
    /// `zookeeper.auth = "none"`: open to anyone.
    Open,
    /// Authentication on: the creating identity alone, and READ for anyone when `world_readable`.
    Ours {
        /// `zookeeper.world_readable`.
        world_readable: bool,
    },
}

impl NodeAcl {
    /// The ACL `zookeeper`'s keys ask for.
    pub(crate) fn of(zookeeper: &ZooKeeperSettings) -> NodeAcl {
        if zookeeper.auth_on() {
            NodeAcl::Ours { world_readable: zookeeper.world_readable }
        } else {
            NodeAcl::Open
        }
    }

    /// The ACL every node the daemons and the commands create gets: the one function every
    /// creator uses.
    pub fn acls(self) -> zk::Acls<'static> {
        match self {
            NodeAcl::Open => zk::Acls::anyone_all(),
            NodeAcl::Ours { world_readable: false } => zk::Acls::creator_all(),
            NodeAcl::Ours { world_readable: true } => zk::Acls::new(&OURS_WORLD_READABLE),
        }
    }

    /// Persistent nodes with this ACL.
    pub fn persistent(self) -> zk::CreateOptions<'static> {
        zk::CreateMode::Persistent.with_acls(self.acls())
    }

    /// The `zkCli.sh` command that sets `path`'s ACL to this one.
    pub(crate) fn fix_command(self, quorum: &str, path: &str) -> String {
        let acl = match self {
            NodeAcl::Open => "world:anyone:cdrwa",
            NodeAcl::Ours { world_readable: false } => "auth::cdrwa",
            NodeAcl::Ours { world_readable: true } => "auth::cdrwa,world:anyone:r",
        };
        format!("zkCli.sh -server {quorum} setAcl {path} {acl}")
    }
}

/// The nodes the daemons own for the election at `election_path`: its parent, the path itself,
/// the leader record and the controls.
pub(crate) fn owned_nodes(election_path: &str) -> Vec<String> {
    let parent = match election_path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => election_path[..i].to_string(),
    };
    let mut nodes = vec![parent, election_path.to_string()];
    nodes.extend([record_path(election_path), pause_path(election_path), handover_path(election_path)]);
    nodes.retain(|node| node != "/");
    nodes
}

/// Why the check of the owned nodes did not pass.
#[derive(Debug)]
pub(crate) enum CheckFailed {
    /// ZooKeeper refused: exit 2 with this line.
    Refused(Refused),
    /// A request failed otherwise (the connection, a timeout): try again with a new session.
    Retry(zk::Error),
}

impl From<zk::Error> for CheckFailed {
    fn from(e: zk::Error) -> CheckFailed {
        CheckFailed::Retry(e)
    }
}

/// Checks, and fixes where it may, the ACLs of the nodes the daemons own that exist (see the
/// module doc); `node` is this daemon's `node.id`, for the audit records. Nothing to do with
/// authentication off.
pub(crate) async fn check_owned_nodes(
    client: &zk::Client,
    target: &ZkTarget,
    election_path: &str,
    node: &str,
) -> Result<(), CheckFailed> {
    let NodeAcl::Ours { world_readable } = target.acl else {
        return Ok(());
    };
    let me: Vec<Identity> = match client.list_auth_users().await {
        Ok(users) => users.iter().map(|u| Identity::new(u.scheme(), u.user())).collect(),
        Err(zk::Error::Unimplemented) => {
            tracing::warn!(event = "acl_not_checked",
                "the ZooKeeper servers do not answer whoAmI (older than 3.7): the ACLs of existing nodes are not checked");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let ours: Vec<zk::Acl> = target.acl.acls().to_vec();
    for path in owned_nodes(election_path) {
        let (acl, stat) = match client.get_acl(&path).await {
            Ok(found) => found,
            Err(zk::Error::NoNode) => continue,
            Err(zk::Error::NoAuth) => return Err(CheckFailed::Refused(target.denied("reading the ACL of", &path))),
            Err(e) => return Err(e.into()),
        };
        let entries: Vec<AclEntry> = acl.iter().map(entry_of).collect();
        match judge(&entries, &me, world_readable) {
            Verdict::Ours => {
                // A digest identity whose password differs has the same user name, and the
                // server may name the user alone: only a write proves the permissions. Setting
                // the ACL it has changes nothing but its version.
                if matches!(target.auth, Auth::Digest { .. }) {
                    match client.set_acl(&path, &acl, Some(stat.aversion)).await {
                        Ok(_) | Err(zk::Error::BadVersion | zk::Error::NoNode) => {}
                        Err(zk::Error::NoAuth) => {
                            return Err(CheckFailed::Refused(target.denied("setting the ACL of", &path)))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            verdict @ Verdict::NotOurs { .. } => {
                let old = acl_text(&entries);
                match client.set_acl(&path, &ours, None).await {
                    Ok(_) => {
                        let message = format!(
                            "the ACL of {path} let others do more than read ({}); set it to the daemons' own",
                            verdict.describe()
                        );
                        write_audit(
                            node,
                            None,
                            &AuditEvent::AclFixed { path: Some(path.clone()), old_acl: Some(old) },
                            &message,
                        );
                    }
                    Err(zk::Error::NoNode) => {}
                    Err(zk::Error::NoAuth) => {
                        let Refused(line) = target.denied("setting the ACL of", &path);
                        return Err(CheckFailed::Refused(Refused(format!(
                            "{line}; its ACL {old}: {}",
                            verdict.describe()
                        ))));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(())
}

/// An ACL entry of the client as the decision's type.
fn entry_of(acl: &zk::Acl) -> AclEntry {
    let permission = acl.permission();
    let bits = [
        (zk::Permission::READ, perms::READ),
        (zk::Permission::WRITE, perms::WRITE),
        (zk::Permission::CREATE, perms::CREATE),
        (zk::Permission::DELETE, perms::DELETE),
        (zk::Permission::ADMIN, perms::ADMIN),
    ]
    .iter()
    .filter(|(p, _)| permission.has(*p))
    .fold(0, |all, (_, bit)| all | bit);
    AclEntry::new(acl.scheme(), acl.id(), bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owned_nodes_are_the_parent_the_path_the_record_and_the_controls() {
        assert_eq!(
            owned_nodes("/flink-ha/leader"),
            [
                "/flink-ha",
                "/flink-ha/leader",
                "/flink-ha/leader-record",
                "/flink-ha/leader-pause",
                "/flink-ha/leader-handover"
            ]
        );
        // "/" is nobody's (validation refuses it with auth on).
        assert_eq!(owned_nodes("/leader")[0], "/leader");
    }

    #[test]
    fn the_acls_follow_the_settings() {
        assert_eq!(&*NodeAcl::Open.acls(), &*zk::Acls::anyone_all());
        assert_eq!(&*NodeAcl::Ours { world_readable: false }.acls(), &*zk::Acls::creator_all());
        let readable = NodeAcl::Ours { world_readable: true }.acls();
        let entries: Vec<AclEntry> = readable.iter().map(entry_of).collect();
        assert_eq!(entries, [AclEntry::new("auth", "", perms::ALL), AclEntry::new("world", "anyone", perms::READ)]);
        assert_eq!(
            NodeAcl::Ours { world_readable: false }.fix_command("zk1:2181/apps", "/flink-ha"),
            "zkCli.sh -server zk1:2181/apps setAcl /flink-ha auth::cdrwa"
        );
    }
}
