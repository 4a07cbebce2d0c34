//! The one listing of the election path's children, for the daemon's election, its controls,
//! `status` and `handover` alike.

use zookeeper_client as zk;

use flink_ha_core::identity::{Contender, ElectionChildren, ObservedChild};

/// Every child of `path` with its data, whether it is persistent and whether this session owns
/// it, in listing order. A child that vanishes between the listing and its read is left out; a
/// path that does not exist has no children.
pub(crate) async fn read_children(client: &zk::Client, path: &str) -> Result<Vec<ObservedChild>, zk::Error> {
    let names = match client.list_children(path).await {
        Err(zk::Error::NoNode) => return Ok(Vec::new()),
        other => other?,
    };
    let ours = client.session_id().0;
    let mut children = Vec::with_capacity(names.len());
    for name in names {
        match client.get_data(&format!("{path}/{name}")).await {
            Ok((data, stat)) => children.push(ObservedChild {
                name,
                data,
                persistent: stat.ephemeral_owner == 0,
                ours: stat.ephemeral_owner == ours,
            }),
            Err(zk::Error::NoNode) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(children)
}

/// The contenders under `path`, in queue order (the leader first). Foreign children are left out.
pub(crate) async fn contenders(client: &zk::Client, path: &str) -> Result<Vec<Contender>, zk::Error> {
    Ok(ElectionChildren::classify(&read_children(client, path).await?).contenders)
}
