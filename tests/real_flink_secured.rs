//! The REAL Flink 2.3 JobManager behind a daemon that logs in to a SASL ZooKeeper, with Flink
//! logging in as an identity of its own (`flink.zookeeper_jaas_file`).
//!
//! One ZooKeeper 3.8 server admits two SASL DIGEST-MD5 users, `flinkha` (the daemons) and `flink`
//! (Flink), and refuses sessions that do not log in (`enforce.auth`). One daemon with
//! `zookeeper.auth = "sasl"` and `[flink]` on renders Flink's configuration (the creator ACL, the
//! JAAS file in `env.java.default-opts.all`) and runs Flink's `jobmanager.sh`. The test proves:
//!
//! 1. Flink's JobManager logs in and becomes leader: the daemon logs `jobmanager_ready`
//!    (`/overview` 200) and Flink's leader nodes `<root>/<cluster>/leader/<component>/connection_info`
//!    exist;
//! 2. Flink's own nodes carry the creator ACL of Flink's identity alone (`sasl:flink` ALL), and
//!    the daemons' identity gets NoAuth reading them;
//! 3. Flink's leader latch and its ancestors were created by the daemon, shared: ALL for
//!    `sasl:flinkha` and `sasl:flink`;
//! 4. after a crash of the whole host (the JobManager's group and the daemon SIGKILLed), the
//!    restarted daemon deletes the dead JobManager's latch node (`latches_cleared` with
//!    `deleted` >= 1) before its JobManager starts, and Flink leads again.
//!
//! Flink comes from `FLINK_HOME` or the install script's cache; without it the test fails and
//! says so. Run with `--nocapture` for the timings.

mod flinkhost;
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use flinkhost::{dump, flink_home, pid_of, secs, write_loopback_base, DaemonSettings, KeepOnPanic, Node, NodeOptions};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use support::{wait_until, ClientAuth, SaslRule, TestPki, ZkEnsemble};
use zookeeper_client as zk;

/// The daemons' ZooKeeper password (test material only).
const DAEMON_PASSWORD: &str = "daemons-test-pw";
/// Flink's ZooKeeper password (test material only).
const FLINK_PASSWORD: &str = "flink-test-pw";
/// `zookeeper.session_timeout`.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// `jobmanager.stop_grace`.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// `jobmanager.start_timeout`: a Flink 2.3 JobManager answers `/overview` after 4-8 s on an idle
/// machine, and after more than 20 s through its scripts on a loaded two-core one (the two tests
/// start theirs at the same time).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Slack for process starts and scheduling.
const SLACK: Duration = Duration::from_secs(20);
/// Poll interval of the waits.
const POLL: Duration = Duration::from_millis(50);
/// `election.path`: its parent is the daemons' own, outside Flink's root `/flink`.
const ELECTION_PATH: &str = "/it-secured/leader";
/// Flink's `high-availability.cluster-id`.
const CLUSTER_ID: &str = "secured-it";
/// Flink's HA tree.
const FLINK_TREE: &str = "/flink/secured-it";
/// The node's layout.
const NODE: NodeOptions =
    NodeOptions { conf_subdir: "flink-conf", poll: POLL, unset_env: &["FLINK_HOME"], dump_other_output: true };

/// Writes `text` to `path` with mode 0600.
fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write a secret file");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
}

/// A session logged in as `user`.
async fn login(quorum: &str, user: &'static str, password: &'static str) -> zk::Client {
    zk::Client::connector()
        .with_sasl(zk::SaslOptions::digest_md5(user, password))
        .connect(quorum)
        .await
        .unwrap_or_else(|e| panic!("log in as {user}: {e}"))
}

/// The ACL as `scheme:id:perms` strings, sorted.
fn acl_text(acl: &[zk::Acl]) -> Vec<String> {
    let mut out: Vec<String> =
        acl.iter().map(|a| format!("{}:{}:{}", a.scheme(), a.id(), a.permission().has(zk::Permission::ALL))).collect();
    out.sort();
    out
}

/// A node `jm1` under `root` whose daemon reaches `quorum` with `zookeeper_extra` in
/// `[zookeeper]` and runs the real Flink with `flink_extra` in `[flink]`.
fn secured_node(root: &Path, flink: &Path, quorum: &str, zookeeper_extra: &str, flink_extra: &str) -> Node {
    let node = Node::new(root, "jm1", NODE);
    let base_dir = node.dir.join("base-conf");
    write_loopback_base(flink, &base_dir, &node.tmp_dir, "flink-ha-supervisor tests/real_flink_secured.rs");
    let s = |p: &Path| p.display().to_string();
    node.write_daemon_config(
        flink,
        &DaemonSettings {
            zookeeper_extra,
            tail: &format!(
                "\n[flink]\nenabled = true\nmode = \"zookeeper\"\ncluster_id = {CLUSTER_ID:?}\n\
                 storage_dir = \"file://{ha}\"\nbase_config = {base:?}\nconf_dir = {conf:?}\n{flink_extra}",
                ha = root.join("ha").display(),
                base = s(&base_dir.join("config.yaml")),
                conf = s(&node.conf_dir),
            ),
            ..DaemonSettings::new(
                quorum,
                ELECTION_PATH,
                SESSION_TIMEOUT,
                START_TIMEOUT,
                STOP_GRACE,
                Duration::from_secs(30),
            )
        },
    );
    node
}

#[test]
fn flink_logs_in_as_itself_keeps_its_nodes_to_itself_and_the_daemon_still_clears_its_latch() {
    let flink = flink_home(&["bin/jobmanager.sh"]);
    let keep = KeepOnPanic::new("fhs-real-flink-secured-", "real_flink_secured");
    let root = keep.path().to_path_buf();
    let zk_servers = ZkEnsemble::builder()
        .sasl_digest_md5(&[("flinkha", DAEMON_PASSWORD), ("flink", FLINK_PASSWORD)], SaslRule::Required)
        .start();
    let quorum = zk_servers.connect_string();

    let password_file = root.join("zk-password");
    write_private(&password_file, &format!("{DAEMON_PASSWORD}\n"));
    let jaas = root.join("flink-zookeeper-jaas.conf");
    write_private(
        &jaas,
        &format!(
            "Client {{\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"{FLINK_PASSWORD}\";\n}};\n"
        ),
    );

    let s = |p: &Path| p.display().to_string();
    let mut node = secured_node(
        &root,
        &flink,
        &quorum,
        &format!("auth = \"sasl\"\nuser = \"flinkha\"\npassword_file = {:?}\n", s(&password_file)),
        &format!("zookeeper_jaas_file = {:?}\n", s(&jaas)),
    );

    // 1. Flink logs in and leads.
    let t0 = Instant::now();
    node.start();
    let spawned = node.wait_event("jobmanager_spawned", START_TIMEOUT + SLACK, &[&node]);
    node.wait_event("jobmanager_ready", START_TIMEOUT + SLACK, &[&node]);
    println!("Flink ready {:.1} s after the daemon's start", secs(t0.elapsed()));
    let rendered = std::fs::read_to_string(node.conf_dir.join("config.yaml")).unwrap();
    assert!(rendered.contains("high-availability.zookeeper.client.acl: creator\n"), "{rendered}");
    assert!(!rendered.contains(FLINK_PASSWORD), "the rendered configuration holds Flink's password");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let as_flink = login(&quorum, "flink", FLINK_PASSWORD).await;
        let as_daemons = login(&quorum, "flinkha", DAEMON_PASSWORD).await;
        let leader = format!("{FLINK_TREE}/leader");
        // Flink writes its leaders' addresses once it leads.
        let mut components = Vec::new();
        let deadline = Instant::now() + SLACK;
        while Instant::now() < deadline {
            components = as_flink.list_children(&leader).await.unwrap_or_default();
            components.retain(|c| c != "latch");
            if !components.is_empty() {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        assert!(!components.is_empty(), "no leader component under {leader}\n{}", dump(&[&node]));

        // 2. Flink's nodes: Flink's identity alone, closed to the daemons'.
        for component in &components {
            let info = format!("{leader}/{component}/connection_info");
            let (acl, _) = as_flink.get_acl(&info).await.unwrap_or_else(|e| panic!("getAcl {info}: {e}"));
            assert_eq!(acl_text(&acl), ["sasl:flink:true"], "{info}");
            match as_daemons.get_data(&info).await {
                Err(zk::Error::NoAuth) => {}
                other => panic!("the daemons' identity read {info}: {other:?}"),
            }
        }
        // 3. The latch and its ancestors: shared by the daemon.
        for path in ["/flink", FLINK_TREE, leader.as_str(), &format!("{leader}/latch")] {
            let (acl, _) = as_daemons.get_acl(path).await.unwrap_or_else(|e| panic!("getAcl {path}: {e}"));
            assert_eq!(acl_text(&acl), ["sasl:flink:true", "sasl:flinkha:true"], "{path}");
        }
        let latches = as_daemons.list_children(&format!("{leader}/latch")).await.unwrap();
        assert_eq!(latches.len(), 1, "{latches:?}");
    });

    // 4. The whole host crashes; the restarted daemon clears the dead JobManager's latch.
    let jm = pid_of(&spawned);
    let _ = killpg(Pid::from_raw(jm as i32), Signal::SIGKILL);
    node.signal(Signal::SIGKILL);
    wait_until(SLACK, POLL, || node.exit_code().is_some());
    let skip = node.records().len();
    let t1 = Instant::now();
    node.start();
    let cleared = node.wait_event_after(skip, "latches_cleared", SESSION_TIMEOUT * 2 + SLACK, &[&node]);
    assert!(cleared["deleted"].as_u64().unwrap_or(0) >= 1, "{cleared}\n{}", dump(&[&node]));
    assert!(node.events_after(skip, "latch_clearing_failed").is_empty(), "{}", dump(&[&node]));
    node.wait_event_after(skip, "jobmanager_ready", START_TIMEOUT + SLACK, &[&node]);
    println!("Flink ready again {:.1} s after the restart (the old session expired first)", secs(t1.elapsed()));
}

#[test]
fn flink_reaches_a_tls_only_zookeeper_through_the_rendered_jvm_options() {
    let flink = flink_home(&["bin/jobmanager.sh"]);
    let keep = KeepOnPanic::new("fhs-real-flink-tls-", "real_flink_secured");
    let root = keep.path().to_path_buf();
    let pki = TestPki::generate();
    let zk_servers = ZkEnsemble::builder().tls(&pki, ClientAuth::None, false).start();
    let quorum = zk_servers.secure_connect_string();
    let s = |p: &Path| p.display().to_string();
    let mut node = secured_node(&root, &flink, &quorum, &format!("tls_ca_file = {:?}\n", s(&pki.ca)), "");

    node.start();
    node.wait_event("jobmanager_ready", START_TIMEOUT + SLACK, &[&node]);
    let rendered = std::fs::read_to_string(node.conf_dir.join("config.yaml")).unwrap();
    assert!(rendered.contains("-Dzookeeper.client.secure=true"), "{rendered}");

    // Flink's own client, not only the daemon, went through TLS: its leader nodes exist, and the
    // servers have no plaintext port.
    let ca_pem = std::fs::read_to_string(&pki.ca).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let tls = zk::TlsOptions::new().with_pem_ca(&ca_pem).expect("the test CA");
        let client = zk::Client::connector().with_tls(tls).secure_connect(&quorum).await.expect("a TLS session");
        let leader = format!("{FLINK_TREE}/leader");
        let written = support::try_wait_for_async(SLACK, POLL, || async {
            let mut components = client.list_children(&leader).await.unwrap_or_default();
            components.retain(|c| c != "latch");
            (!components.is_empty()).then_some(components)
        })
        .await;
        assert!(written.is_some(), "Flink wrote no leader under {leader}\n{}", dump(&[&node]));
    });
    assert!(!zk_servers.has_plaintext_port());
}
