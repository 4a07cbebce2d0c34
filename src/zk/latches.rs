//! Flink's leader latch of the JobManager (`<root>/<cluster_id>/leader/latch`, Curator's
//! ephemeral-sequential latch nodes): the new leader deletes the nodes left by dead JobManagers
//! before it starts its own, so that Flink's own election does not wait for their sessions to
//! expire. Why this is safe is an architecture invariant (docs/ARCHITECTURE.md, `src/zk/`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zookeeper_client as zk;

use crate::config::flink_ha::ModeSettings;
use crate::config::{HaConfig, Settings};

/// Where the daemon's own session finds Flink's leader latch, or why it does not.
pub(crate) fn latch_path(settings: &Settings) -> Result<String, &'static str> {
    let Ok((Some(ha), _)) = HaConfig::resolve(settings) else {
        return Err("Flink's ZooKeeper HA is off");
    };
    let ModeSettings::ZooKeeper(zk) = &ha.mode else {
        return Err("Flink's HA is not in mode zookeeper");
    };
    zk.latch_path_in(&settings.zookeeper.quorum)
        .ok_or("flink.zookeeper_quorum is not the daemon's own ensemble and chroot")
}

/// True for a child name the latch recipe makes (`..latch-<sequence>`).
fn is_latch_node(name: &str) -> bool {
    name.contains("latch-")
}

/// Deletes the latch nodes under `path` (a path that does not exist has none); other children
/// are left alone and counted. Sends no request once `cancelled` is set (the start it
/// prepared went ahead or is off). Returns (deleted, skipped).
pub(crate) async fn clear(client: &zk::Client, path: &str, cancelled: &Arc<AtomicBool>) -> Result<(u32, u32), String> {
    let names = match client.list_children(path).await {
        Err(zk::Error::NoNode) => return Ok((0, 0)),
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
