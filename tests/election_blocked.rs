//! A node ahead of every contender that no daemon removes (a persistent `x-latch-0000000000`,
//! which zookeeper-client's lock recipe sorts first) holds the election up for good. Against a
//! real ZooKeeper and real daemons: every daemon logs an error naming the node and the zkCli
//! commands, counts it in `/metrics`, answers `/health` with 503; `status` exits 1 naming it;
//! the node is left alone; once the operator deletes it, a daemon is elected.

mod cluster;
mod support;

use std::process::Command;
use std::time::Duration;

use cluster::{daemon_bin, Cluster, Options};
use support::{wait_for, wait_until, ZkEnsemble};
use zookeeper_client as zk;

const BLOCKER: &str = "x-latch-0000000000";
const POLL: Duration = Duration::from_millis(100);

#[test]
fn a_persistent_node_ahead_of_every_contender_is_named_by_every_daemon_until_it_is_deleted() {
    let zk = ZkEnsemble::start(1);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(zk::Client::connect(&zk.connect_string())).unwrap();
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    runtime.block_on(client.create("/it", b"", &persistent)).unwrap();
    runtime.block_on(client.create("/it/leader", b"", &persistent)).unwrap();
    let blocker_path = format!("/it/leader/{BLOCKER}");
    runtime.block_on(client.create(&blocker_path, b"", &persistent)).unwrap();

    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_all();

    // Every daemon: one error record naming the node and what to do.
    for i in 0..2 {
        let record = wait_for(Duration::from_secs(20), POLL, || cluster.events(i, "election_blocked").pop());
        assert_eq!(record["level"], "ERROR", "{record}");
        assert_eq!(record["blocker"], BLOCKER, "{record}");
        assert_eq!(record["first"], true, "{record}");
        let message = record["message"].as_str().unwrap();
        assert!(message.contains(&format!("{blocker_path} (a persistent node")), "{message}");
        assert!(
            message.contains(&format!("zkCli.sh -server {} delete {blocker_path}", zk.connect_string())),
            "{message}"
        );
        assert!(message.contains("the daemons never delete a node that is not theirs"), "{message}");
    }

    // /health 503 naming it, /status and /metrics say so.
    for i in 0..2 {
        let (code, body) = wait_for(Duration::from_secs(10), POLL, || {
            cluster.http_get(i, "/health").ok().filter(|(code, _)| *code == 503)
        });
        assert_eq!(code, 503);
        assert!(body.contains(&format!("the election is blocked by {BLOCKER}")), "{body}");
        let (_, status) = cluster.http_get(i, "/status").unwrap();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["election_blocked"]["node"], BLOCKER, "{status}");
        let (_, metrics) = cluster.http_get(i, "/metrics").unwrap();
        assert!(metrics.lines().any(|l| l == "flink_ha_supervisor_election_blocked 1"), "{metrics}");
        assert!(metrics.lines().any(|l| l == "flink_ha_supervisor_election_blocks_total 1"), "{metrics}");
    }

    // `status`: exit 1, a line naming the node.
    let out =
        Command::new(daemon_bin()).arg("status").arg("--config").arg(&cluster.daemons[0].config).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("status: DEGRADED: the election is blocked by") && l.contains(&blocker_path)),
        "{text}"
    );

    // Nobody led, and the node is still there: the daemons leave what is not theirs alone.
    assert!(cluster.events(0, "elected").is_empty() && cluster.events(1, "elected").is_empty(), "{}", cluster.dump());
    assert!(runtime.block_on(client.check_stat(&blocker_path)).unwrap().is_some());

    // The operator deletes it: a daemon leads, both report the block over, /health is 200 again.
    runtime.block_on(client.delete(&blocker_path, None)).unwrap();
    let leader = cluster.wait_for_leader(Duration::from_secs(20), None);
    for i in 0..2 {
        wait_until(Duration::from_secs(20), POLL, || !cluster.events(i, "election_unblocked").is_empty());
        wait_until(Duration::from_secs(10), POLL, || matches!(cluster.http_get(i, "/health"), Ok((200, _))));
    }
    cluster.wait_ready_reported(leader, 1, Duration::from_secs(10));
    let out =
        Command::new(daemon_bin()).arg("status").arg("--config").arg(&cluster.daemons[0].config).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    cluster.assert_never_two_jobmanagers();
}
