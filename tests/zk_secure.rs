//! ZooKeeper's own security with real servers and real daemons: SASL DIGEST-MD5 logins against
//! a server with a JAAS file that refuses every client without a login, and TLS against a server
//! whose only client port is a secure one (a client certificate required). The daemons elect,
//! fail over after a SIGKILL and hand over through them; a wrong password, an unknown user, a
//! wrong CA or a client certificate the server rejects end `run` and `status` with one line and
//! exit code 2, and no secret appears in any output.
//!
//! The first two tests check the servers alone with the zookeeper-client crate, so that a failure
//! there points at the harness (tests/support/zk_secure.rs), not at the daemon.

mod cluster;
mod support;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::{Cluster, Options};
use nix::sys::signal::Signal;
use support::{ClientAuth, SaslRule, TestPki, ZkEnsemble};
use zookeeper_client as zk;

/// The daemons' SASL identity.
const USER: &str = "flinkha";
/// Its password (distinctive, so that a leak is found by a plain search).
const PASSWORD: &str = "sasl-Pw-4e1c9a77d2";
/// Another user the server knows: a client that is not the daemons.
const INTRUDER: (&str, &str) = ("intruder", "intruder-Pw-0b6d5e");
/// A user the JAAS file does not know. Its password is none of the known users': ZooKeeper 3.8's
/// DIGEST-MD5 server checks an unknown name against the password of the last name it knew, so an
/// unknown user with that password logs in (as `sasl:<unknown>`, which owns nothing).
const UNKNOWN: (&str, &str) = ("nobody", "nobody-Pw-5c2e81");
/// Not the password of any user.
const WRONG_PASSWORD: &str = "wrong-Pw-93ad17c2f8";
/// The daemons' election path (tests/cluster/mod.rs); its parent holds the pause, handover and
/// record nodes.
const ELECTION: &str = "/it/leader";
const PARENT: &str = "/it";

/// How long a daemon with bad credentials may take to give up (its first connection attempt,
/// on a loaded machine).
const GIVE_UP: Duration = Duration::from_secs(40);

fn sasl_zk() -> ZkEnsemble {
    ZkEnsemble::builder().sasl_digest_md5(&[(USER, PASSWORD), INTRUDER], SaslRule::Required).start()
}

fn tls_zk(pki: &TestPki) -> ZkEnsemble {
    ZkEnsemble::builder().tls(pki, ClientAuth::Need, false).start()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

/// Awaits a connection attempt; panics if it neither succeeds nor fails within 20 s.
async fn settle<T>(connecting: impl Future<Output = Result<T, zk::Error>>) -> Result<T, zk::Error> {
    tokio::time::timeout(Duration::from_secs(20), connecting)
        .await
        .expect("the connection attempt neither succeeded nor failed within 20 s")
}

/// A session logged in with SASL DIGEST-MD5.
async fn sasl_client(quorum: &str, user: &str, password: &str) -> Result<zk::Client, zk::Error> {
    settle(
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(6))
            .with_connection_timeout(Duration::from_secs(2))
            .with_sasl(zk::SaslOptions::digest_md5(user.to_string(), password.to_string()))
            .connect(quorum),
    )
    .await
}

/// A TLS session trusting `ca`, with a client certificate when `identity` is given.
async fn tls_client(quorum: &str, ca: &Path, identity: Option<(&Path, &Path)>) -> Result<zk::Client, zk::Error> {
    let mut options = zk::TlsOptions::new().with_pem_ca(&read(ca)).expect("a PEM CA");
    if let Some((cert, key)) = identity {
        options = options.with_pem_identity(&read(cert), &read(key)).expect("a PEM certificate and key");
    }
    settle(
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .with_connection_timeout(Duration::from_secs(2))
            .with_fail_eagerly()
            .with_tls(options)
            .secure_connect(quorum),
    )
    .await
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `content` in a file only its owner may read (what the daemon requires of secrets).
fn secret_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write a secret file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

/// `n` daemons (tests/cluster) on `quorum`, with `zookeeper_keys` added to their `[zookeeper]`
/// section.
fn secure_cluster(n: usize, quorum: &str, zookeeper_keys: &str) -> Cluster {
    let cluster = Cluster::new(n, Options::default(), |_| quorum.to_string());
    for daemon in &cluster.daemons {
        let text = read(&daemon.config);
        let patched = text.replacen("[zookeeper]\n", &format!("[zookeeper]\n{zookeeper_keys}\n"), 1);
        assert_ne!(patched, text, "no [zookeeper] section in {}", daemon.config.display());
        std::fs::write(&daemon.config, patched).expect("write the daemon's config");
    }
    cluster
}

/// The `[zookeeper]` keys of a SASL login as `user` with the password in `password_file`.
fn sasl_keys(user: &str, password_file: &Path) -> String {
    format!("auth = \"sasl\"\nuser = \"{user}\"\npassword_file = \"{}\"", password_file.display())
}

/// The `[zookeeper]` keys of a TLS connection trusting `ca`, presenting `cert` with `key`.
fn tls_keys(ca: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "tls_ca_file = \"{}\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// Runs `flink-ha-supervisor <args> --config <daemon i's config>`.
fn command(cluster: &Cluster, i: usize, args: &[&str]) -> Output {
    Command::new(cluster::daemon_bin())
        .args(args)
        .arg("--config")
        .arg(&cluster.daemons[i].config)
        .stdin(Stdio::null())
        .output()
        .expect("run the daemon's command")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Starts daemon `i` with its stderr in its own file, waits for it to exit and returns the exit
/// code, its stdout (the log) and its stderr.
fn run_until_exit(cluster: &mut Cluster, i: usize) -> (Option<i32>, String, String) {
    let stderr_path = cluster.path().join(format!("{}.stderr", cluster.daemons[i].name));
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    cluster.start_with(i, |cmd| {
        cmd.stderr(stderr);
    });
    let code = cluster.wait_exit(i, GIVE_UP);
    let stdout = std::fs::read_to_string(&cluster.daemons[i].log).unwrap_or_default();
    (code, stdout, read(&stderr_path))
}

/// Exit code 2, exactly one line on stderr holding every needle, and none of `secrets` in
/// either stream.
fn assert_refused(what: &str, code: Option<i32>, stdout: &str, stderr: &str, needles: &[&str], secrets: &[&str]) {
    assert_eq!(code, Some(2), "{what}: expected exit code 2 within {GIVE_UP:?}\nstderr: {stderr}\nstdout: {stdout}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: one line expected on stderr:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{what}: {needle:?} missing in: {stderr}");
    }
    assert_no_secret(what, &[stdout, stderr], secrets);
}

fn assert_no_secret(what: &str, outputs: &[&str], secrets: &[&str]) {
    for secret in secrets {
        for output in outputs {
            assert!(!output.contains(secret), "{what}: a secret appears in the output:\n{output}");
        }
    }
}

/// The lines of a PEM key's body: none may appear in any output.
fn key_lines(key: &Path) -> Vec<String> {
    read(key).lines().filter(|l| !l.starts_with("-----") && l.len() > 16).map(String::from).collect()
}

/// The election node with the lowest sequence number: the leader's.
fn leader_node(mut children: Vec<String>) -> String {
    children.sort_by(|a, b| a[a.len().saturating_sub(10)..].cmp(&b[b.len().saturating_sub(10)..]));
    children.into_iter().next().expect("an election node")
}

#[test]
fn a_sasl_server_serves_its_jaas_users_and_refuses_everyone_else() {
    let zk = sasl_zk();
    let quorum = zk.connect_string();
    runtime().block_on(async {
        let admitted = sasl_client(&quorum, USER, PASSWORD).await.expect("a JAAS user logs in");
        let identities = admitted.list_auth_users().await.unwrap();
        assert!(identities.contains(&zk::AuthUser::new("sasl", USER)), "{identities:?}");
        let creator_only = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
        admitted.create("/owned", b"", &creator_only).await.expect("create a node");
        let (acl, _) = admitted.get_acl("/owned").await.unwrap();
        assert_eq!(acl, vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("sasl", USER))]);

        admitted.create("/owned/child", b"", &creator_only).await.expect("create a child node");
        // Deleting a node takes the parent's DELETE permission; writing it, its own WRITE.
        let other = sasl_client(&quorum, INTRUDER.0, INTRUDER.1).await.expect("another JAAS user logs in");
        assert_eq!(other.delete("/owned/child", None).await, Err(zk::Error::NoAuth));
        assert_eq!(other.set_data("/owned", b"taken", None).await.err(), Some(zk::Error::NoAuth));
        assert_eq!(other.create("/owned/intruder", b"", &creator_only).await.err(), Some(zk::Error::NoAuth));

        for (user, password) in [(USER, WRONG_PASSWORD), UNKNOWN] {
            let refused = sasl_client(&quorum, user, password).await.err();
            assert_eq!(refused, Some(zk::Error::AuthFailed), "{user} with a wrong password");
        }
        let anonymous = settle(zk::Client::connector().with_session_timeout(Duration::from_secs(6)).connect(&quorum));
        assert_eq!(anonymous.await.err(), Some(zk::Error::AuthFailed), "a client without a login");
    });
}

#[test]
fn a_tls_server_serves_only_tls_clients_with_a_certificate_it_trusts() {
    let pki = TestPki::generate();
    let zk = tls_zk(&pki);
    assert!(!zk.has_plaintext_port());
    let cfg = read(zk.cfg_path(0));
    assert!(!cfg.lines().any(|l| l.starts_with("clientPort=")), "a plaintext port in:\n{cfg}");
    assert!(zk.four_letter(0, "srvr").unwrap().contains("Mode: standalone"), "four-letter words through TLS");
    let quorum = zk.secure_connect_string();
    let identity = Some((pki.client_cert.as_path(), pki.client_key.as_path()));
    runtime().block_on(async {
        let admitted = tls_client(&quorum, &pki.ca, identity).await.expect("a TLS client with a trusted certificate");
        admitted
            .create("/through-tls", b"", &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()))
            .await
            .expect("create a node through TLS");

        let wrong_ca = tls_client(&quorum, &pki.other_ca, identity).await;
        assert!(wrong_ca.is_err(), "a client trusting an unrelated CA connected");
        let foreign = Some((pki.other_client_cert.as_path(), pki.other_client_key.as_path()));
        assert!(tls_client(&quorum, &pki.ca, foreign).await.is_err(), "a foreign client certificate was accepted");
        assert!(tls_client(&quorum, &pki.ca, None).await.is_err(), "a client without a certificate was accepted");
        let plaintext = settle(
            zk::Client::connector().with_session_timeout(Duration::from_secs(4)).with_fail_eagerly().connect(&quorum),
        );
        assert!(plaintext.await.is_err(), "plaintext on the secure port was served");
    });
}

#[test]
fn sasl_daemons_elect_fail_over_and_hand_over() {
    let zk = sasl_zk();
    let quorum = zk.connect_string();
    let secrets = tempfile::tempdir().unwrap();
    let password_file = secret_file(secrets.path(), "zk-password", &format!("{PASSWORD}\n"));
    let mut cluster = secure_cluster(3, &quorum, &sasl_keys(USER, &password_file));
    cluster.start_leader_then_standby();
    cluster.start(2);
    cluster.wait_contending(2, cluster::STARTUP);

    // Every node the daemons made is theirs alone: another identity may not read, remove the
    // leader's node, pause the cluster or contend.
    runtime().block_on(async {
        let owner = sasl_client(&quorum, USER, PASSWORD).await.expect("the daemons' identity logs in");
        let ours = vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("sasl", USER))];
        let contenders = owner.list_children(ELECTION).await.unwrap();
        assert_eq!(contenders.len(), 3, "{contenders:?}");
        let mut owned = vec![PARENT.to_string(), ELECTION.to_string()];
        owned.extend(owner.list_children(PARENT).await.unwrap().iter().map(|c| format!("{PARENT}/{c}")));
        owned.extend(contenders.iter().map(|c| format!("{ELECTION}/{c}")));
        owned.sort();
        owned.dedup();
        for path in &owned {
            let (acl, _) = owner.get_acl(path).await.unwrap();
            assert_eq!(acl, ours, "the ACL of {path}");
        }
        let leader = format!("{ELECTION}/{}", leader_node(contenders));
        let other = sasl_client(&quorum, INTRUDER.0, INTRUDER.1).await.expect("another JAAS user logs in");
        assert_eq!(other.delete(&leader, None).await, Err(zk::Error::NoAuth), "delete the leader's node");
        assert_eq!(other.list_children(ELECTION).await, Err(zk::Error::NoAuth), "list the contenders");
        let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        for path in [format!("{PARENT}/leader-pause"), format!("{ELECTION}/_c_0-latch-0000000000")] {
            assert_eq!(other.create(&path, b"", &open).await.err(), Some(zk::Error::NoAuth), "create {path}");
        }
    });
    assert_eq!(cluster.serving_daemons(), vec![0], "{}", cluster.dump());

    // Failover: the leader's daemon dies, the next in line takes over.
    cluster.signal(0, Signal::SIGKILL);
    let new = cluster.wait_for_leader(Options::default().session_timeout + Duration::from_secs(30), Some(0));
    assert_eq!(new, 1, "{}", cluster.dump());

    // Handover to the last daemon.
    let handover = command(&cluster, 1, &["handover", "--to", "jm3", "--wait", "--timeout", "30s"]);
    assert_eq!(handover.status.code(), Some(0), "{}\n{}", text(&handover), cluster.dump());
    assert!(text(&handover).contains("handover from jm2 to jm3 took"), "{}", text(&handover));
    assert_eq!(cluster.serving_daemons(), vec![2], "{}", cluster.dump());
    cluster.wait_events(2, "handover_completed", 1, Duration::from_secs(5));
    cluster.assert_never_two_jobmanagers();

    let status = command(&cluster, 2, &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status));
    let logs: Vec<String> = cluster.daemons.iter().map(|d| std::fs::read_to_string(&d.log).unwrap()).collect();
    let mut outputs: Vec<&str> = logs.iter().map(String::as_str).collect();
    let (handover_text, status_text) = (text(&handover), text(&status));
    outputs.extend([handover_text.as_str(), status_text.as_str()]);
    assert_no_secret("the daemons, handover and status", &outputs, &[PASSWORD]);
}

#[test]
fn a_wrong_sasl_password_or_an_unknown_user_is_one_line_and_exit_code_2() {
    let zk = sasl_zk();
    let quorum = zk.connect_string();
    let secrets = tempfile::tempdir().unwrap();
    for (user, password) in [(USER, WRONG_PASSWORD), UNKNOWN] {
        let what = format!("user {user} with a password the server does not know for it");
        let password_file = secret_file(secrets.path(), &format!("{user}-password"), &format!("{password}\n"));
        let mut cluster = secure_cluster(1, &quorum, &sasl_keys(user, &password_file));
        let (code, stdout, stderr) = run_until_exit(&mut cluster, 0);
        let needles = [user, "AuthFailed", "zookeeper.password_file"];
        assert_refused(&format!("run, {what}"), code, &stdout, &stderr, &needles, &[password, PASSWORD]);
        assert!(cluster.standin_events("start").is_empty(), "a JobManager started: {}", cluster.dump());

        let status = command(&cluster, 0, &["status"]);
        let (out, err) = (String::from_utf8_lossy(&status.stdout), String::from_utf8_lossy(&status.stderr));
        assert_refused(&format!("status, {what}"), status.status.code(), &out, &err, &needles, &[password, PASSWORD]);
        assert!(out.is_empty(), "status printed a report: {out}");
    }
}

#[test]
fn tls_only_daemons_elect_and_fail_over() {
    let pki = TestPki::generate();
    let zk = tls_zk(&pki);
    let mut cluster =
        secure_cluster(2, &zk.secure_connect_string(), &tls_keys(&pki.ca, &pki.client_cert, &pki.client_key));
    cluster.start_leader_then_standby();
    // The only client port is the TLS one.
    assert!(!zk.has_plaintext_port());
    let connections = zk.four_letter(0, "cons").unwrap();
    assert!(connections.lines().filter(|l| l.contains("127.0.0.1")).count() >= 2, "{connections}");

    cluster.signal(0, Signal::SIGKILL);
    let new = cluster.wait_for_leader(Options::default().session_timeout + Duration::from_secs(30), Some(0));
    assert_eq!(new, 1, "{}", cluster.dump());
    cluster.wait_ready_reported(1, 1, Duration::from_secs(10));
    cluster.assert_never_two_jobmanagers();

    let logs: Vec<String> = cluster.daemons.iter().map(|d| std::fs::read_to_string(&d.log).unwrap()).collect();
    let outputs: Vec<&str> = logs.iter().map(String::as_str).collect();
    let key = key_lines(&pki.client_key);
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    assert_no_secret("the daemons' logs", &outputs, &key);
}

#[test]
fn a_wrong_ca_is_one_line_and_exit_code_2() {
    let pki = TestPki::generate();
    let zk = tls_zk(&pki);
    let quorum = zk.secure_connect_string();
    let mut cluster = secure_cluster(1, &quorum, &tls_keys(&pki.other_ca, &pki.client_cert, &pki.client_key));
    let key = key_lines(&pki.client_key);
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    let needles = ["zookeeper.tls_ca_file", "TLS"];

    let (code, stdout, stderr) = run_until_exit(&mut cluster, 0);
    assert_refused("run with an unrelated CA", code, &stdout, &stderr, &needles, &key);
    assert!(cluster.standin_events("start").is_empty(), "a JobManager started: {}", cluster.dump());

    let status = command(&cluster, 0, &["status"]);
    let (out, err) = (String::from_utf8_lossy(&status.stdout), String::from_utf8_lossy(&status.stderr));
    assert_refused("status with an unrelated CA", status.status.code(), &out, &err, &needles, &key);
}

#[test]
fn a_client_certificate_the_server_rejects_is_one_line_and_exit_code_2() {
    let pki = TestPki::generate();
    let zk = tls_zk(&pki);
    let quorum = zk.secure_connect_string();
    let mut cluster = secure_cluster(1, &quorum, &tls_keys(&pki.ca, &pki.other_client_cert, &pki.other_client_key));
    let key = key_lines(&pki.other_client_key);
    let key: Vec<&str> = key.iter().map(String::as_str).collect();

    let (code, stdout, stderr) = run_until_exit(&mut cluster, 0);
    assert_refused("run with a foreign client certificate", code, &stdout, &stderr, &["TLS"], &key);
    assert!(cluster.standin_events("start").is_empty(), "a JobManager started: {}", cluster.dump());
}
