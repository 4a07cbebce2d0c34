//! Flink's leader latch of the JobManager (`<root>/<cluster_id>/leader/latch`, Curator's
//! ephemeral-sequential latch nodes): the new leader deletes the nodes left by dead JobManagers
//! before it starts its own, so that Flink's own election does not wait for their sessions to
//! expire. Why this is safe is an architecture invariant (docs/ARCHITECTURE.md, `src/zk/`).
//! When Flink creates its nodes with the creator ACL, the daemons create the latch and its
//! ancestors first, with an ACL that lets both identities in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zookeeper_client as zk;

use crate::config::flink_ha::ModeSettings;
use crate::config::{HaConfig, Settings};

/// Flink's leader latch as the daemon's session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Latch {
    /// `<chroot><root>/<cluster_id>/leader/latch`, in the daemon's session.
    pub path: String,
    /// Flink's SASL user when Flink creates its nodes with the creator ACL
    /// (`flink.zookeeper_jaas_file`): the daemons then create the latch themselves, shared.
    pub flink_user: Option<String>,
}

/// Where the daemon's own session finds Flink's leader latch, or why it does not.
pub(crate) fn latch_path(settings: &Settings) -> Result<Latch, &'static str> {
    let Ok((Some(ha), _)) = HaConfig::resolve(settings) else {
        return Err("Flink's ZooKeeper HA is off");
    };
    let ModeSettings::ZooKeeper(zk) = &ha.mode else {
        return Err("Flink's HA is not in mode zookeeper");
    };
    let path = zk
        .latch_path_in(&settings.zookeeper.quorum)
        .ok_or("flink.zookeeper_quorum is not the daemon's own ensemble and chroot")?;
    // Without an identity of their own the daemons could not be named in the latch's ACL.
    let daemons_authenticate = crate::config::flink_ha::DaemonZkSecurity::of(settings).auth_on;
    let flink_user = zk.security.sasl.as_ref().filter(|_| daemons_authenticate).map(|sasl| sasl.user.clone());
    Ok(Latch { path, flink_user })
}

/// The ACL of the latch and its ancestors when the daemons create them: ALL for the daemons'
/// identity (`auth`, the creating session's) and for Flink's (`sasl:<user>`). With the creator
/// ACL Flink would give them to itself alone, and the daemons could neither list nor delete a
/// dead JobManager's latch node (delete needs DELETE on the parent).
pub(crate) fn shared_acl(flink_user: &str) -> Vec<zk::Acl> {
    vec![
        zk::Acl::new(zk::Permission::ALL, zk::AuthId::authed()),
        zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("sasl", flink_user)),
    ]
}

/// Creates `path` and its missing ancestors with [`shared_acl`]; existing nodes keep theirs
/// (Flink's Curator, creating its latch below, keeps them too).
pub(crate) async fn create_shared(client: &zk::Client, path: &str, flink_user: &str) -> Result<(), String> {
    let acl = shared_acl(flink_user);
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        match client.create(&prefix, &[], &options).await {
            Ok(_) | Err(zk::Error::NodeExists) => {}
            Err(zk::Error::NoAuth) => return Err(no_auth(&prefix, flink_user, "create")),
            Err(e) => return Err(format!("cannot create {prefix}: {e}")),
        }
    }
    Ok(())
}

/// The one line when the daemons may not touch Flink's latch: Flink created it (or an
/// ancestor) with the creator ACL before the daemons could share it.
fn no_auth(path: &str, flink_user: &str, op: &str) -> String {
    format!(
        "ZooKeeper denies the daemons' identity {op} on {path} (NoAuth): Flink created it with its creator ACL, so dead JobManagers' latches cannot be cleared and Flink's election waits for their sessions; fix it once, as Flink's user {flink_user:?} or a super user: `setAcl {path} sasl:{flink_user}:cdrwa,<the daemons' id>:cdrwa` (docs/configuration.md, \"Securing it\")"
    )
}

/// True for a child name the latch recipe makes (`..latch-<sequence>`).
fn is_latch_node(name: &str) -> bool {
    name.contains("latch-")
}

/// Deletes the latch nodes under `path` (a path that does not exist has none); other children
/// are left alone and counted. Sends no request once `cancelled` is set (the start it
/// prepared went ahead or is off). Returns (deleted, skipped).
/// With Flink's creator ACL ([`Latch::flink_user`]), a latch that does not exist yet is
/// created shared ([`create_shared`]) before Flink's first start.
pub(crate) async fn clear(
    client: &zk::Client,
    latch: &Latch,
    cancelled: &Arc<AtomicBool>,
) -> Result<(u32, u32), String> {
    let path = latch.path.as_str();
    let names = match client.list_children(path).await {
        Err(zk::Error::NoNode) => {
            if let Some(user) = &latch.flink_user {
                create_shared(client, path, user).await?;
            }
            return Ok((0, 0));
        }
        Err(zk::Error::NoAuth) => {
            return Err(no_auth(path, latch.flink_user.as_deref().unwrap_or("flink"), "listing the latch"))
        }
        other => other.map_err(|e| format!("cannot list {path}: {e}"))?,
    };
    let (mut deleted, mut skipped) = (0, 0);
    for name in names {
        if cancelled.load(Ordering::SeqCst) {
            return Err("cancelled".to_string());
        }
        if !is_latch_node(&name) {
            skipped += 1;
            continue;
        }
        match client.delete(&format!("{path}/{name}"), None).await {
            Ok(()) | Err(zk::Error::NoNode) => deleted += 1,
            Err(zk::Error::NoAuth) => {
                return Err(no_auth(path, latch.flink_user.as_deref().unwrap_or("flink"), "deleting latch nodes"))
            }
            Err(zk::Error::NotEmpty) | Err(zk::Error::BadArguments(_)) => skipped += 1,
            Err(e) => return Err(format!("cannot delete {path}/{name:?}: {e}")),
        }
    }
    if skipped > 0 {
        tracing::warn!(
            event = "latch_children_skipped",
            path,
            skipped,
            "children of Flink's leader latch that are not latch nodes were left alone"
        );
    }
    Ok((deleted, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latch_nodes_are_told_by_their_name() {
        assert!(is_latch_node("_c_3f2a-latch-0000000003"));
        assert!(is_latch_node("latch-"));
        assert!(!is_latch_node("lock"));
        assert!(!is_latch_node("\u{fc}"));
    }
}
