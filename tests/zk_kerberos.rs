//! Kerberos (`zookeeper.auth = "kerberos"`, SASL GSSAPI) with a real MIT KDC
//! (tests/support/kerberos.rs), real ZooKeeper servers that require a login, and real daemons:
//! they elect, fail over after a SIGKILL, every node they made is `sasl:<their primary>`'s
//! alone, and their JobManager does not get their keytab in its environment; a keytab of another principal, or one whose key the KDC has changed since, ends `run`
//! and `status` with one line and exit code 2.
//!
//! Built only with the `kerberos` feature (it links libgssapi_krb5): scripts/test runs it as
//! `cargo test --features kerberos --test zk_kerberos`, so it is never skipped silently.
#![cfg(feature = "kerberos")]

mod cluster;
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::{Cluster, Options};
use nix::sys::signal::Signal;
use support::kerberos::{Kdc, REALM};
use support::ZkEnsemble;
use zookeeper_client as zk;

/// The daemons' principal and its primary, their name in ZooKeeper's ACLs.
const PRINCIPAL: &str = "flinkha@FHS.TEST";
const PRIMARY: &str = "flinkha";
const ELECTION: &str = "/it/leader";
const PARENT: &str = "/it";
/// How long a daemon with bad credentials may take to give up (its first connection attempt,
/// on a loaded machine).
const GIVE_UP: Duration = Duration::from_secs(40);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// `n` daemons on the ensemble's servers named `localhost` (the host of the servers' service
/// principal), logging in as `principal` from `keytab`.
fn kerberos_cluster(n: usize, zk: &ZkEnsemble, principal: &str, keytab: &Path) -> Cluster {
    let quorum = zk.connect_string().replace("127.0.0.1", "localhost");
    let keys = format!("auth = \"kerberos\"\nprincipal = \"{principal}\"\nkeytab = \"{}\"", keytab.display());
    let cluster = Cluster::new(n, Options::default(), |_| quorum.clone());
    for daemon in &cluster.daemons {
        let text = read(&daemon.config);
        let patched = text.replacen("[zookeeper]\n", &format!("[zookeeper]\n{keys}\n"), 1);
        assert_ne!(patched, text, "no [zookeeper] section in {}", daemon.config.display());
        std::fs::write(&daemon.config, patched).expect("write the daemon's config");
    }
    cluster
}

/// Starts daemon `i` with the realm's krb5.conf.
fn start(cluster: &mut Cluster, i: usize, kdc: &Kdc) {
    let conf = kdc.krb5_conf().to_path_buf();
    cluster.start_with(i, |cmd| {
        cmd.env("KRB5_CONFIG", conf);
    });
}

/// Runs `flink-ha-supervisor <args> --config <daemon i's config>` with the realm's krb5.conf.
fn command(cluster: &Cluster, i: usize, kdc: &Kdc, args: &[&str]) -> Output {
    Command::new(cluster::daemon_bin())
        .args(args)
        .arg("--config")
        .arg(&cluster.daemons[i].config)
        .env("KRB5_CONFIG", kdc.krb5_conf())
        .stdin(Stdio::null())
        .output()
        .expect("run the daemon's command")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

#[test]
fn kerberos_daemons_elect_fail_over_and_wrong_keys_are_exit_code_2() {
    let kdc = Kdc::start();
    let zk = ZkEnsemble::builder().kerberos(&kdc).start();
    let keytab = kdc.keytab(PRINCIPAL, "flinkha.keytab");

    let mut cluster = kerberos_cluster(2, &zk, PRINCIPAL, &keytab);
    start(&mut cluster, 0, &kdc);
    assert_eq!(cluster.wait_for_leader(Duration::from_secs(30), None), 0, "{}", cluster.dump());
    cluster.wait_ready_reported(0, 1, Duration::from_secs(10));
    start(&mut cluster, 1, &kdc);
    // The daemon's Kerberos login stays the daemon's: its JobManager's environment has neither
    // its keytab nor its credential cache.
    let pid = cluster.starts_of(0)[0]["pid"].as_u64().expect("the stand-in's pid");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("the JobManager's environment");
    let kerberos: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|var| String::from_utf8_lossy(var).to_string())
        .filter(|var| var.starts_with("KRB5_CLIENT_KTNAME=") || var.starts_with("KRB5CCNAME="))
        .collect();
    assert!(kerberos.is_empty(), "the JobManager got the daemon's Kerberos login: {kerberos:?}");
    // `status` logs in as the daemons (the realm's krb5.conf in its environment) and lists
    // both contenders.
    support::wait_until(cluster::STARTUP, Duration::from_millis(200), || {
        let status = command(&cluster, 1, &kdc, &["status", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
        report["contenders"].as_array().is_some_and(|all| all.len() == 2)
    });

    // Anyone else (here: no login at all) is refused by the servers; the nodes are the daemons'
    // identity's alone, as ZooKeeper names it.
    runtime().block_on(async {
        let quorum = zk.connect_string();
        let anonymous = zk::Client::connector().with_session_timeout(Duration::from_secs(6)).connect(&quorum);
        let anonymous = tokio::time::timeout(Duration::from_secs(20), anonymous).await.expect("settles");
        assert_eq!(anonymous.err(), Some(zk::Error::AuthFailed), "a client without a login");
    });
    let acls = zk_acls(&zk, &kdc, &keytab, &[PARENT, ELECTION]);
    let ours = format!("{:?}", vec![zk::Acl::new(zk::Permission::ALL, zk::AuthId::new("sasl", PRIMARY))]);
    for (path, acl) in acls {
        assert_eq!(acl, ours, "the ACL of {path}");
    }

    // Failover: the leader's daemon dies, the standby takes over.
    cluster.signal(0, Signal::SIGKILL);
    let new = cluster.wait_for_leader(Options::default().session_timeout + Duration::from_secs(30), Some(0));
    assert_eq!(new, 1, "{}", cluster.dump());
    cluster.wait_ready_reported(1, 1, Duration::from_secs(10));
    cluster.assert_never_two_jobmanagers();
    drop(cluster);

    // A keytab whose first principal is another one: refused when the settings are loaded.
    let other = kdc.keytab(&format!("intruder@{REALM}"), "intruder.keytab");
    let mut cluster = kerberos_cluster(1, &zk, PRINCIPAL, &other);
    let needles = ["zookeeper.keytab", "intruder@FHS.TEST", PRINCIPAL];
    let (code, stderr) = run_until_exit(&mut cluster, &kdc);
    assert_refused("a keytab of another principal", code, &stderr, &needles);

    // The principal's key changed in the KDC since the keytab was written: the login fails.
    kdc.kadmin(&format!("cpw -randkey {PRINCIPAL}"));
    let mut cluster = kerberos_cluster(1, &zk, PRINCIPAL, &keytab);
    let needles = ["zookeeper.auth = \"kerberos\"", PRINCIPAL, "zookeeper.keytab"];
    let (code, stderr) = run_until_exit(&mut cluster, &kdc);
    assert_refused("run with a stale keytab", code, &stderr, &needles);
    assert!(cluster.standin_events("start").is_empty(), "a JobManager started: {}", cluster.dump());
    let status = command(&cluster, 0, &kdc, &["status"]);
    assert_refused(
        "status with a stale keytab",
        status.status.code(),
        &String::from_utf8_lossy(&status.stderr),
        &needles,
    );
}

/// The ACLs of `paths` (their `Debug` form), read by a
/// child process logged in from `keytab`: the GSSAPI library takes the keytab from the
/// environment, which a test process with many threads may not change.
fn zk_acls(zk: &ZkEnsemble, kdc: &Kdc, keytab: &Path, paths: &[&str]) -> Vec<(String, String)> {
    let quorum = zk.connect_string().replace("127.0.0.1", "localhost");
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "read_acls_as_the_keytab", "--nocapture", "--include-ignored"])
        .env("KRB5_CONFIG", kdc.krb5_conf())
        .env("KRB5_CLIENT_KTNAME", keytab)
        .env("KRB5CCNAME", "MEMORY:fhs-test")
        .env("FHS_TEST_QUORUM", &quorum)
        .env("FHS_TEST_PATHS", paths.join(","))
        .stdin(Stdio::null())
        .output()
        .expect("run the ACL reader");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "the ACL reader failed:\n{text}{}", String::from_utf8_lossy(&output.stderr));
    let acls: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ACL "))
        .filter_map(|l| l.split_once(' '))
        .map(|(path, acl)| (path.to_string(), acl.to_string()))
        .collect();
    assert_eq!(acls.len(), paths.len(), "{text}");
    acls
}

/// Run by [`zk_acls`] in a child process (ignored otherwise): prints `ACL <path> <acl>` for each
/// path in `FHS_TEST_PATHS`, logged in with GSSAPI.
#[test]
#[ignore = "run by zk_acls in a child process with a keytab in its environment"]
fn read_acls_as_the_keytab() {
    let quorum = std::env::var("FHS_TEST_QUORUM").expect("FHS_TEST_QUORUM");
    let paths = std::env::var("FHS_TEST_PATHS").expect("FHS_TEST_PATHS");
    runtime().block_on(async {
        let connecting = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(6))
            .with_sasl(zk::SaslOptions::gssapi())
            .connect(&quorum);
        let client = tokio::time::timeout(Duration::from_secs(20), connecting).await.expect("settles").expect("log in");
        for path in paths.split(',') {
            let (acl, _) = client.get_acl(path).await.expect("get the ACL");
            println!("ACL {path} {acl:?}");
        }
    });
}

/// Starts daemon 0 with its stderr in its own file, waits for it to exit and returns the exit
/// code and its stderr.
fn run_until_exit(cluster: &mut Cluster, kdc: &Kdc) -> (Option<i32>, String) {
    let stderr_path = cluster.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let conf = kdc.krb5_conf().to_path_buf();
    cluster.start_with(0, |cmd| {
        cmd.env("KRB5_CONFIG", conf).stderr(stderr);
    });
    let code = cluster.wait_exit(0, GIVE_UP);
    (code, read(&stderr_path))
}

/// Exit code 2 and exactly one line on stderr holding every needle.
fn assert_refused(what: &str, code: Option<i32>, stderr: &str, needles: &[&str]) {
    assert_eq!(code, Some(2), "{what}: expected exit code 2 within {GIVE_UP:?}\nstderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: one line expected on stderr:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{what}: {needle:?} missing in: {stderr}");
    }
}
