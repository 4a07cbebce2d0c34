//! The chroot of `zookeeper.quorum` (`zk1:2181/flink-prod`). ZooKeeper does not create it, and
//! neither does Curator, Flink's client (it creates its namespace, `path.root`/`cluster-id`,
//! but not a connect string's chroot): every request below a missing chroot fails with NoNode.
//! So the daemon creates it at the start of each session, with its missing ancestors and the
//! ACL of the daemons' other nodes (`zk::acl::NodeAcl`); `pause` does the same. `status`,
//! `resume` and `handover` only look: a missing chroot means that no daemon ever ran there, and
//! they say "no cluster under chroot X" in one line.

use zookeeper_client as zk;

use crate::config::chroot_of;
use crate::zk::acl::NodeAcl;

/// A handle on the session of `client` without its chroot.
fn unrooted(client: &zk::Client) -> zk::Client {
    // "/" is always a valid root; `chroot` hands the client back unchanged otherwise.
    client.clone().chroot("/").unwrap_or_else(|same| same)
}

/// The chroot of `quorum` when it does not exist, seen through `client`, a session on `quorum`;
/// `None` when it exists or there is none.
pub(crate) async fn missing(client: &zk::Client, quorum: &str) -> Result<Option<String>, zk::Error> {
    let chroot = chroot_of(quorum);
    if chroot.is_empty() {
        return Ok(None);
    }
    let found = unrooted(client).check_stat(chroot).await?;
    Ok(found.is_none().then(|| chroot.to_string()))
}

/// Creates the chroot of `quorum` and its missing ancestors with `acl` when it does not exist;
/// returns the chroot when this call created it.
pub(crate) async fn ensure(client: &zk::Client, quorum: &str, acl: NodeAcl) -> Result<Option<String>, zk::Error> {
    let Some(chroot) = missing(client, quorum).await? else {
        return Ok(None);
    };
    match unrooted(client).mkdir(&chroot, &acl.persistent()).await {
        Ok(()) => Ok(Some(chroot)),
        // Another daemon was faster.
        Err(zk::Error::NodeExists) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The one line of a client command that found no chroot: names it, the servers, and the fix.
pub(crate) fn no_cluster(quorum: &str, chroot: &str) -> String {
    let hosts = quorum.split('/').next().unwrap_or_default();
    format!(
        "no cluster under chroot {chroot} at {hosts}: the chroot does not exist, so no daemon has run there (they create it when they start); check the chroot of --quorum or zookeeper.quorum, or create it with `zkCli.sh -server {hosts} create {chroot}`"
    )
}
