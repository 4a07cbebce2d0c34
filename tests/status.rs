//! `flink-ha-supervisor status` against a real ZooKeeper and real daemons (stand-in
//! JobManagers): no leader, healthy with a leader and a standby, a foreign child, a planned
//! handover recorded as the last failover, degraded with one daemon left; and an unreachable
//! ZooKeeper (refused and silent) or unusable configuration, each one line and exit code 2.

mod cluster;
mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cluster::{daemon_bin, Cluster, Options};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::{pick_free_port, wait_for, BlackholeProxy, ZkEnsemble};

fn single_zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

fn status(config: &Path, format: &str) -> Output {
    Command::new(daemon_bin()).args(["status", "--format", format, "--config"]).arg(config).output().unwrap()
}

/// `status --format json`: the exit code and the report.
fn json(config: &Path) -> (i32, Value) {
    let out = status(config, "json");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

/// `status` (text): the exit code and the text.
fn text(config: &Path) -> (i32, String) {
    let out = status(config, "text");
    (out.status.code().unwrap(), String::from_utf8(out.stdout).unwrap())
}

fn node_ids(report: &Value) -> Vec<String> {
    report["contenders"].as_array().unwrap().iter().map(|c| c["identity"]["node_id"].as_str().unwrap().into()).collect()
}

#[test]
fn status_from_no_leader_to_healthy_to_a_handover_and_degraded() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    let config = cluster.daemons[0].config.clone();

    // Nobody contends yet: no leader.
    let (code, report) = json(&config);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["health"], "degraded");
    assert_eq!(report["leader"], Value::Null);
    assert_eq!(report["problems"][0], "no leader: no daemon contends under /it/leader");
    let (code, shown) = text(&config);
    assert_eq!(code, 1);
    assert!(shown.contains("status: DEGRADED: no leader"), "{shown}");

    // A leader and a standby: healthy, the leader first, both identities.
    cluster.start_leader_then_standby();
    let report = wait_for(Duration::from_secs(10), Duration::from_millis(100), || {
        let (code, report) = json(&config);
        (code == 0 && report["leader"]["jobmanager"] == "serving").then_some(report)
    });
    assert_eq!(node_ids(&report), ["jm1", "jm2"]);
    assert_eq!(report["problems"], Value::Array(Vec::new()));
    assert_eq!(report["warnings"], Value::Array(Vec::new()));
    assert_eq!((report["alive_jobmanagers"].as_u64(), report["expected_jobmanagers"].as_u64()), (Some(2), Some(2)));
    assert_eq!(report["paused"], false);
    let leader = &report["contenders"][0];
    assert_eq!(leader["role"], "leader");
    assert_eq!(leader["position"], 0);
    assert_eq!(leader["sequence"], report["leader"]["epoch"]);
    let pid = cluster.daemons[0].process.as_ref().unwrap().id();
    assert_eq!(leader["identity"]["pid"], pid);
    assert_eq!(leader["identity"]["rpc_address"], "127.0.0.1:6123");
    let rest = leader["identity"]["rest_address"].as_str().unwrap();
    assert!(rest.ends_with(&format!(":{}", cluster.daemons[0].port)), "{rest}");
    assert_eq!(leader["identity"]["version"], env!("CARGO_PKG_VERSION"));
    let standby = &report["contenders"][1];
    assert_eq!(
        (standby["role"].as_str(), standby["identity"]["rpc_address"].as_str()),
        (Some("standby"), Some("127.0.0.1:6124"))
    );
    assert!(report["leader"]["since"].as_str().is_some_and(|t| t.ends_with('Z')), "{report}");
    assert_eq!(report["last_failover"], Value::Null);

    let (code, shown) = text(&config);
    assert_eq!(code, 0, "{shown}");
    let rows: Vec<&str> = shown.lines().filter(|l| l.starts_with("leader ") || l.starts_with("standby ")).collect();
    assert_eq!(rows.len(), 2, "{shown}");
    assert!(
        rows[0].split_whitespace().nth(1) == Some("jm1") && rows[1].split_whitespace().nth(1) == Some("jm2"),
        "{shown}"
    );
    assert!(shown.lines().next().unwrap().starts_with("election /it/leader at 127.0.0.1:"), "{shown}");
    assert!(shown.contains("JobManager serving"), "{shown}");
    assert!(shown.ends_with("status: healthy\n"), "{shown}");

    // A foreign child is shown, and changes nothing.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(zookeeper_client::Client::connect(&zk.connect_string())).unwrap();
    let persistent = zookeeper_client::CreateMode::Persistent.with_acls(zookeeper_client::Acls::anyone_all());
    runtime.block_on(client.create("/it/leader/not-a-contender", b"hello", &persistent)).unwrap();
    let (code, report) = json(&config);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["foreign"], serde_json::json!(["not-a-contender"]));
    assert_eq!(node_ids(&report), ["jm1", "jm2"]);
    let (code, shown) = text(&config);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.lines().any(|l| l.starts_with("foreign ") && l.contains("not-a-contender")), "{shown}");
    assert!(shown.contains("WARNING: 1 foreign child(ren) under /it/leader"), "{shown}");

    // A planned handover: jm2 leads, the record tells the failover; one daemon left is degraded.
    cluster.signal(0, Signal::SIGTERM);
    assert_eq!(cluster.wait_exit(0, Duration::from_secs(15)), Some(0), "{}", cluster.dump());
    let report = wait_for(Duration::from_secs(15), Duration::from_millis(100), || {
        let (_, report) = json(&config);
        (report["leader"]["jobmanager"] == "serving" && report["last_failover"] != Value::Null).then_some(report)
    });
    let (code, _) = json(&config);
    assert_eq!(code, 1, "{report}");
    assert_eq!(node_ids(&report), ["jm2"]);
    assert_eq!(report["leader"]["node_id"], "jm2");
    let failover = &report["last_failover"];
    assert_eq!((failover["from"].as_str(), failover["to"].as_str()), (Some("jm1"), Some("jm2")));
    assert_eq!((failover["cause"].as_str(), failover["within_budget"].as_bool()), (Some("handover"), Some(true)));
    // The daemon logs the failover after it wrote it into the record that `status` read.
    cluster.wait_events(1, "failover_completed", 1, Duration::from_secs(5));
    let measured = cluster.events(1, "failover_completed");
    assert_eq!(failover["outage_ms"], measured[0]["outage_ms"], "{report}");
    assert_eq!(report["problems"][0], "no standby: the next failure of jm2 is an outage");
    assert!(report["warnings"][0].as_str().unwrap().starts_with("only 1 of 2 JobManager hosts contend"), "{report}");
    let (code, shown) = text(&config);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("last failover: jm1 -> jm2 (handover) at "), "{shown}");
    assert!(shown.contains("WARNING: only 1 of 2 JobManager hosts contend"), "{shown}");
    assert!(shown.ends_with("status: DEGRADED: no standby: the next failure of jm2 is an outage\n"), "{shown}");
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn status_shows_maintenance_mode_loudly() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    let config = cluster.daemons[1].config.clone();
    let pause = Command::new(daemon_bin()).args(["pause", "--reason", "upgrade", "--config"]).arg(&config).output();
    assert!(pause.unwrap().status.success());
    let (code, report) = json(&config);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["paused"], true);
    assert_eq!(report["pause"]["reason"], "upgrade");
    let (code, shown) = text(&config);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.starts_with("*** PAUSED: MAINTENANCE MODE since "), "{shown}");
    assert!(shown.contains("WARNING: MAINTENANCE MODE"), "{shown}");
}

/// A configuration whose quorum is `quorum`, for the unreachable cases.
fn config_for(dir: &Path, quorum: &str) -> std::path::PathBuf {
    let path = dir.join("fhs.toml");
    std::fs::write(
        &path,
        format!(
            "[zookeeper]\nquorum = \"{quorum}\"\nconnect_timeout = \"1s\"\n[jobmanager]\ncommand = [\"/bin/true\"]\n"
        ),
    )
    .unwrap();
    path
}

fn assert_one_line_exit_2(out: &Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    for word in words {
        assert!(stderr.contains(word), "{word:?} missing from {stderr}");
    }
}

#[test]
fn an_unreachable_zookeeper_or_a_bad_config_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();

    // Nothing listens: refused at once.
    let quorum = format!("127.0.0.1:{}", pick_free_port());
    let started = Instant::now();
    let out = status(&config_for(dir.path(), &quorum), "text");
    assert_one_line_exit_2(&out, &["flink-ha-supervisor: cannot reach ZooKeeper at", &quorum]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());

    // Something accepts but never answers: given up after the connect timeout.
    let silent = BlackholeProxy::start(format!("127.0.0.1:{}", pick_free_port()).parse().unwrap());
    silent.blackhole();
    let started = Instant::now();
    let out = status(&config_for(dir.path(), &silent.address()), "json");
    assert_one_line_exit_2(&out, &["cannot reach ZooKeeper at", &silent.address()]);
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());

    // An unusable configuration.
    let out = status(&dir.path().join("missing.toml"), "text");
    assert_one_line_exit_2(&out, &["missing.toml"]);
    std::fs::write(
        dir.path().join("bad.toml"),
        "[zookeeper]\nquorum = \"\"\n[jobmanager]\ncommand = [\"/bin/true\"]\n",
    )
    .unwrap();
    let out = status(&dir.path().join("bad.toml"), "text");
    assert_one_line_exit_2(&out, &["zookeeper.quorum"]);
}

#[test]
fn times_past_year_9999_in_zookeeper_crash_neither_status_nor_the_daemon() {
    use zookeeper_client::{Acls, Client, CreateMode};
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    let config = cluster.daemons[0].config.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(Client::connect(&zk.connect_string())).unwrap();
    let persistent = CreateMode::Persistent.with_acls(Acls::anyone_all());
    let ephemeral = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());
    runtime.block_on(client.mkdir("/it/leader", &persistent)).unwrap();

    // A leader of this test's own session whose record, pause and handover nodes carry times
    // past year 9999 (and one before 1970): each once panicked `status` (exit 101).
    let ghost = serde_json::json!({"node_id": "ghost", "host": "h", "rest_address": "h:1", "rpc_address": "h:2",
        "pid": 1, "version": "0"});
    let (_, sequence) = runtime
        .block_on(client.create("/it/leader/_c_ghost-latch-", &serde_json::to_vec(&ghost).unwrap(), &ephemeral))
        .unwrap();
    let epoch: u64 = sequence.to_string().parse().unwrap();
    let far = 300_000_000_000_000_i64; // about year 11476
    let record = serde_json::json!({"v": 1, "node": "ghost", "epoch": epoch, "state": "released", "reason": "shutdown",
        "serving_until_ms": far, "session_timeout_ms": 6000, "leader_since_ms": far,
        "last_failover": {"ready_ms": i64::MAX, "outage_ms": 1, "cause": "handover", "previous_node": "x",
            "node": "ghost", "within_budget": true}});
    let pause = serde_json::json!({"paused_by": "ops@h", "since_ms": -1});
    let handover =
        serde_json::json!({"from_epoch": 999, "from_node": "x", "requested_by": "ops@h", "requested_ms": far});
    for (path, data) in [("/it/leader-record", record), ("/it/leader-pause", pause), ("/it/leader-handover", handover)]
    {
        runtime.block_on(client.create(path, &serde_json::to_vec(&data).unwrap(), &persistent)).unwrap();
    }
    let (code, report) = json(&config);
    assert_eq!(code, 1, "the ghost has no standby: {report}");
    assert_eq!(report["leader"]["node_id"], "ghost");
    assert_eq!(report["leader"]["since"], "not a time (300000000000000 ms since the epoch)");
    assert_eq!(report["last_failover"]["ready_at"], format!("not a time ({} ms since the epoch)", i64::MAX));
    assert_eq!(report["pause"]["since"], "not a time (-1 ms since the epoch)");
    assert_eq!(report["handover"]["requested_at"], "not a time (300000000000000 ms since the epoch)");
    let (code, shown) = text(&config);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("since not a time (300000000000000 ms since the epoch)"), "{shown}");

    // The ghost leaves and maintenance mode ends; a daemon is elected, takes the record over and,
    // once its JobManager is ready, measures the failover from that record's absurd end of
    // service: the daemon's loop formats it (it once panicked right there).
    runtime.block_on(client.delete("/it/leader-pause", None)).unwrap();
    drop(client);
    cluster.start_leader();
    let measured = wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        cluster.events(0, "failover_completed").into_iter().next()
    });
    assert_eq!(measured["outage_start"], "not a time (300000000000000 ms since the epoch)", "{measured}");
    assert_eq!(measured["previous_node"], "ghost");
    assert!(cluster.serving(0));
    assert!(cluster.events(0, "task_died").is_empty(), "{}", cluster.dump());
    let (code, report) = json(&config);
    assert_eq!((code, &report["leader"]["node_id"]), (1, &Value::from("jm1")), "{report}");
}

/// An HTTP server that answers every request with a 200 and a body that never ends.
fn endless_http_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let chunk = vec![b'{'; 64 * 1024];
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                    .is_ok()
                {
                    while stream.write_all(&chunk).is_ok() {}
                }
            });
        }
    });
    addr
}

#[test]
fn an_endless_local_status_body_is_one_line_naming_the_url_and_exit_code_2() {
    let zk = single_zk();
    let hostile = endless_http_server();
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &zk.connect_string());
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[http]\nlisten = \"{hostile}\"\n"));
    std::fs::write(&config, text).unwrap();
    let out = status(&config, "json");
    assert_one_line_exit_2(&out, &[&format!("http://{hostile}/status sent more than 1048576 bytes"), "http.listen"]);
}
