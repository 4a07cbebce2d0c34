//! ZooKeeper digest authentication and the ACLs of the daemons' nodes, against real daemons and a
//! real ZooKeeper: what an unauthenticated client can no longer do, that the cluster keeps its
//! leader and fails over all the same, the fix of open nodes left by an upgrade, and the one-line
//! exit code 2 of wrong or unprotected credentials.

mod cluster;
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cluster::{Cluster, Options};
use nix::sys::signal::Signal;
use support::refusal::{assert_refused_in_one_line, output_text as text};
use support::{wait_for, wait_until, ZkEnsemble};
use zookeeper_client as zk;

const PASSWORD: &str = "Corr3ct-horse-battery";
const WRONG_PASSWORD: &str = "Wr0ng-staple-9137";
const USER: &str = "flinkha";
const PATH: &str = "/it/leader";

/// Writes `password` to a file of the cluster with permission bits `mode`.
fn password_file(cluster: &Cluster, name: &str, password: &str, mode: u32) -> PathBuf {
    let path = cluster.path().join(name);
    std::fs::write(&path, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The `[zookeeper]` lines of digest authentication.
fn auth_lines(file: &Path, world_readable: bool) -> String {
    format!(
        "auth = \"digest\"\nuser = \"{USER}\"\npassword_file = {:?}\nworld_readable = {world_readable}\n",
        file.display().to_string()
    )
}

/// Adds `lines` to daemon `i`'s `[zookeeper]` section; returns a copy of its configuration
/// without them (an unauthenticated client's).
fn add_to_zookeeper(cluster: &Cluster, i: usize, lines: &str) -> PathBuf {
    let config = &cluster.daemons[i].config;
    let text = std::fs::read_to_string(config).unwrap();
    let anonymous = cluster.path().join(format!("anonymous-{i}.toml"));
    std::fs::write(&anonymous, &text).unwrap();
    assert!(text.contains("[zookeeper]\n"));
    std::fs::write(config, text.replacen("[zookeeper]\n", &format!("[zookeeper]\n{lines}"), 1)).unwrap();
    anonymous
}

/// `n` daemons with digest authentication and the right password; returns the configuration of
/// an unauthenticated client.
fn secure_cluster(zk: &ZkEnsemble, n: usize, world_readable: bool) -> (Cluster, PathBuf) {
    let cluster = Cluster::new(n, Options::default(), |_| zk.connect_string());
    let file = password_file(&cluster, "zk.password", PASSWORD, 0o600);
    let mut anonymous = None;
    for i in 0..n {
        anonymous = Some(add_to_zookeeper(&cluster, i, &auth_lines(&file, world_readable)));
    }
    (cluster, anonymous.unwrap())
}

/// Runs `flink-ha-supervisor <args> --config <config>`.
fn command(config: &Path, args: &[&str]) -> Output {
    Command::new(cluster::daemon_bin()).args(args).arg("--config").arg(config).output().unwrap()
}

/// Asserts exit code 2 with one line on stderr containing every word.
#[track_caller]
fn assert_refused(output: &Output, words: &[&str]) {
    assert_refused_in_one_line(output, words, &[PASSWORD, WRONG_PASSWORD]);
}

/// A client of the ZooKeeper ensemble, without credentials or with the daemons' digest.
struct Client {
    runtime: tokio::runtime::Runtime,
    client: zk::Client,
}

impl Client {
    fn anonymous(zk: &ZkEnsemble) -> Client {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let client = runtime.block_on(zk::Client::connect(&zk.connect_string())).unwrap();
        Client { runtime, client }
    }

    fn authenticated(zk: &ZkEnsemble) -> Client {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let token = format!("{USER}:{PASSWORD}");
        let quorum = zk.connect_string();
        let connecting = zk::Client::connector().with_auth("digest", token.as_bytes()).connect(&quorum);
        let client = runtime.block_on(connecting).unwrap();
        Client { runtime, client }
    }

    fn create(&self, path: &str, acls: zk::Acls<'static>) -> Result<(), zk::Error> {
        let options = zk::CreateMode::Persistent.with_acls(acls);
        self.runtime.block_on(self.client.create(path, b"{}", &options)).map(|_| ())
    }

    fn delete(&self, path: &str) -> Result<(), zk::Error> {
        self.runtime.block_on(self.client.delete(path, None))
    }

    fn set_data(&self, path: &str) -> Result<(), zk::Error> {
        self.runtime.block_on(self.client.set_data(path, b"{\"overwritten\":true}", None)).map(|_| ())
    }

    fn get_data(&self, path: &str) -> Result<Vec<u8>, zk::Error> {
        self.runtime.block_on(self.client.get_data(path)).map(|(data, _)| data)
    }

    fn set_acl_open(&self, path: &str) -> Result<(), zk::Error> {
        self.runtime.block_on(self.client.set_acl(path, &zk::Acls::anyone_all(), None)).map(|_| ())
    }

    fn acl(&self, path: &str) -> Vec<zk::Acl> {
        self.runtime.block_on(self.client.get_acl(path)).unwrap().0
    }

    fn exists(&self, path: &str) -> bool {
        self.runtime.block_on(self.client.check_stat(path)).unwrap().is_some()
    }

    /// The lowest election node (the leader's).
    fn leader_node(&self) -> String {
        let mut children = self.runtime.block_on(self.client.list_children(PATH)).unwrap();
        children.sort_by_key(|name| name[name.len().saturating_sub(10)..].to_string());
        format!("{PATH}/{}", children[0])
    }
}

/// Whether an ACL is the daemons' digest identity alone (plus READ for anyone, if `readable`).
fn is_daemons_acl(acl: &[zk::Acl], readable: bool) -> bool {
    let ours = acl
        .iter()
        .any(|a| a.scheme() == "digest" && a.id().starts_with("flinkha:") && a.permission() == zk::Permission::ALL);
    let others_ok = acl.iter().all(|a| {
        (a.scheme() == "digest" && a.id().starts_with("flinkha:"))
            || (readable && a.scheme() == "world" && a.permission() == zk::Permission::READ)
    });
    ours && others_ok
}

#[test]
fn an_unauthenticated_client_cannot_steer_the_cluster_and_failover_still_works() {
    let zk = ZkEnsemble::start(1);
    let (mut cluster, _) = secure_cluster(&zk, 2, false);
    cluster.start_leader_then_standby();
    let owner = Client::authenticated(&zk);
    let record = format!("{PATH}-record");
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || owner.exists(&record));
    for path in ["/it", PATH, record.as_str()] {
        assert!(is_daemons_acl(&owner.acl(path), false), "{path}: {:?}", owner.acl(path));
    }
    let leader_node = owner.leader_node();
    assert!(is_daemons_acl(&owner.acl(&leader_node), false), "{:?}", owner.acl(&leader_node));

    let stranger = Client::anonymous(&zk);
    assert_eq!(stranger.delete(&leader_node), Err(zk::Error::NoAuth));
    assert_eq!(stranger.create(&format!("{PATH}-pause"), zk::Acls::anyone_all()), Err(zk::Error::NoAuth));
    assert_eq!(stranger.create(&format!("{PATH}-handover"), zk::Acls::anyone_all()), Err(zk::Error::NoAuth));
    assert_eq!(stranger.set_data(&record), Err(zk::Error::NoAuth));
    assert_eq!(stranger.delete(&record), Err(zk::Error::NoAuth));
    assert_eq!(
        stranger.create(&format!("{PATH}/_c_0-latch-0000000000"), zk::Acls::anyone_all()),
        Err(zk::Error::NoAuth)
    );
    assert_eq!(stranger.set_acl_open(PATH), Err(zk::Error::NoAuth));
    assert_eq!(stranger.set_acl_open("/it"), Err(zk::Error::NoAuth));
    // Not world-readable: the record cannot even be read.
    assert_eq!(stranger.get_data(&record), Err(zk::Error::NoAuth));

    // Nothing changed: the leader leads, and fails over when its host dies.
    assert_eq!(cluster.serving_daemons(), vec![0]);
    assert!(cluster.events(1, "elected").is_empty(), "{}", cluster.dump());
    assert!(cluster.events(0, "acl_fixed").is_empty(), "{}", cluster.dump());
    cluster.signal(0, Signal::SIGKILL);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), Some(0)), 1, "{}", cluster.dump());
    cluster.wait_events(1, "failover_completed", 1, Duration::from_secs(10));
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn world_readable_nodes_can_be_read_but_not_written_without_credentials() {
    let zk = ZkEnsemble::start(1);
    let (mut cluster, anonymous) = secure_cluster(&zk, 1, true);
    cluster.start_leader();
    let record = format!("{PATH}-record");
    let owner = Client::authenticated(&zk);
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || owner.exists(&record));
    assert!(is_daemons_acl(&owner.acl("/it"), true), "{:?}", owner.acl("/it"));
    let stranger = Client::anonymous(&zk);
    let data = stranger.get_data(&record).expect("a world-readable record");
    assert!(String::from_utf8_lossy(&data).contains("jm1"));
    assert_eq!(stranger.set_data(&record), Err(zk::Error::NoAuth));
    assert_eq!(stranger.create(&format!("{PATH}-pause"), zk::Acls::anyone_all()), Err(zk::Error::NoAuth));
    // `status` works without credentials (degraded: no standby), `pause` does not.
    let status = command(&anonymous, &["status"]);
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
    assert!(text(&status).contains("jm1"), "{}", text(&status));
    assert_refused(&command(&anonymous, &["pause"]), &["NoAuth", "zookeeper.auth"]);
}

#[test]
fn open_nodes_from_before_are_fixed_at_start_and_then_refuse_strangers() {
    let zk = ZkEnsemble::start(1);
    let stranger = Client::anonymous(&zk);
    let record = format!("{PATH}-record");
    for path in ["/it", PATH, record.as_str()] {
        stranger.create(path, zk::Acls::anyone_all()).unwrap();
    }
    let (mut cluster, _) = secure_cluster(&zk, 1, false);
    cluster.start_leader();
    let fixed = cluster.events(0, "acl_fixed");
    let paths: Vec<&str> = fixed.iter().filter_map(|e| e["path"].as_str()).collect();
    assert_eq!(paths, ["/it", PATH, record.as_str()], "{}", cluster.dump());
    assert!(fixed.iter().all(|e| e["old_acl"] == "world:anyone:cdrwa"), "{fixed:?}");
    let owner = Client::authenticated(&zk);
    for path in ["/it", PATH, record.as_str()] {
        assert!(is_daemons_acl(&owner.acl(path), false), "{path}: {:?}", owner.acl(path));
    }
    assert_eq!(stranger.create(&format!("{PATH}-pause"), zk::Acls::anyone_all()), Err(zk::Error::NoAuth));
    assert_eq!(
        stranger.create(&format!("{PATH}/_c_0-latch-0000000000"), zk::Acls::anyone_all()),
        Err(zk::Error::NoAuth)
    );
    assert_eq!(stranger.set_data(&record), Err(zk::Error::NoAuth));
    // A second start finds its own ACLs: nothing to fix.
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(20)), Some(0));
    cluster.start(0);
    cluster.wait_events(0, "elected", 2, Duration::from_secs(30));
    assert_eq!(cluster.events(0, "acl_fixed").len(), 3, "{}", cluster.dump());
}

/// Starts daemon `i` with a wrong password and asserts it exits 2 in one line, no secret.
fn assert_wrong_password_refused(cluster: &mut Cluster, i: usize, world_readable: bool) {
    let wrong = password_file(cluster, "wrong.password", WRONG_PASSWORD, 0o600);
    let config = cluster.daemons[i].config.clone();
    let text = std::fs::read_to_string(&config).unwrap();
    let right = cluster.path().join("zk.password").display().to_string();
    std::fs::write(&config, text.replace(&format!("{right:?}"), &format!("{:?}", wrong.display().to_string())))
        .unwrap();
    cluster.start(i);
    let code = cluster.wait_exit(i, Duration::from_secs(30));
    assert_eq!(code, Some(2), "{}", cluster.dump());
    let log = std::fs::read_to_string(&cluster.daemons[i].log).unwrap();
    assert!(!log.contains(WRONG_PASSWORD) && !log.contains(PASSWORD), "a password leaked:\n{log}");
    // The one line on stderr (stdout's JSON records share the file).
    let refusals: Vec<&str> = log.lines().filter(|l| l.starts_with("flink-ha-supervisor: ")).collect();
    assert_eq!(refusals.len(), 1, "{log}");
    assert!(refusals[0].starts_with("flink-ha-supervisor: zookeeper.user `flinkha`"), "{}", refusals[0]);
    assert!(refusals[0].contains("NoAuth") && refusals[0].contains("password"), "{}", refusals[0]);
    assert!(cluster.events(i, "elected").is_empty(), "{}", cluster.dump());
    // The commands with the same configuration: exit 2 too (reading needs the identity unless
    // the nodes are world-readable; writing always does).
    if !world_readable {
        assert_refused(&command(&config, &["status"]), &["zookeeper.user `flinkha`", "NoAuth"]);
    }
    assert_refused(&command(&config, &["pause"]), &["zookeeper.user `flinkha`", "NoAuth"]);
}

#[test]
fn a_wrong_password_is_exit_2_in_one_line_without_any_secret() {
    let zk = ZkEnsemble::start(1);
    let (mut cluster, _) = secure_cluster(&zk, 2, false);
    cluster.start_leader();
    assert_wrong_password_refused(&mut cluster, 1, false);
    assert_eq!(cluster.serving_daemons(), vec![0]);
}

#[test]
fn a_wrong_password_is_refused_even_when_the_nodes_are_world_readable() {
    let zk = ZkEnsemble::start(1);
    let (mut cluster, _) = secure_cluster(&zk, 2, true);
    cluster.start_leader();
    assert_wrong_password_refused(&mut cluster, 1, true);
    assert_eq!(cluster.serving_daemons(), vec![0]);
}

#[test]
fn commands_need_the_daemons_identity() {
    let zk = ZkEnsemble::start(1);
    let (mut cluster, anonymous) = secure_cluster(&zk, 2, false);
    cluster.start_leader_then_standby();
    let refusal = ["zookeeper.auth = \"none\"", "NoAuth", "zookeeper.password_file"];
    assert_refused(&command(&anonymous, &["status"]), &refusal);
    assert_refused(&command(&anonymous, &["pause"]), &refusal);
    assert_refused(&command(&anonymous, &["resume"]), &refusal);
    assert_refused(&command(&anonymous, &["handover"]), &refusal);

    let own = cluster.daemons[0].config.clone();
    let status = command(&own, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let paused = command(&own, &["pause"]);
    assert_eq!(paused.status.code(), Some(0), "{}", text(&paused));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || !cluster.events(0, "paused").is_empty());
    let owner = Client::authenticated(&zk);
    assert!(is_daemons_acl(&owner.acl(&format!("{PATH}-pause")), false));
    assert_eq!(command(&own, &["resume"]).status.code(), Some(0));
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || !cluster.events(0, "resumed").is_empty());
    let handover = command(&own, &["handover", "--wait", "--timeout", "30s"]);
    assert_eq!(handover.status.code(), Some(0), "{}\n{}", text(&handover), cluster.dump());
    assert_eq!(
        wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
            let serving = cluster.serving_daemons();
            (serving == [1]).then_some(1)
        }),
        1
    );
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn an_unprotected_password_file_is_exit_2_in_one_line() {
    // Nothing listens there: the settings are refused before any connect.
    let quorum = format!("127.0.0.1:{}", support::pick_free_port());
    let cluster = Cluster::new(1, Options::default(), |_| quorum.clone());
    let file = password_file(&cluster, "open.password", PASSWORD, 0o644);
    add_to_zookeeper(&cluster, 0, &auth_lines(&file, false));
    let config = cluster.daemons[0].config.clone();
    let shown = file.display().to_string();
    for args in [&["run"][..], &["status"], &["pause"], &["check-config"]] {
        let output = command(&config, args);
        assert_refused(
            &output,
            &["zookeeper.password_file", "readable by others", "mode 0644", &format!("chmod 600 {shown}")],
        );
    }
}
