//! The HTTP endpoint of real daemons (real ZooKeeper, stand-in JobManagers): `/health`,
//! `/leader`, `/status` and `/metrics` on the leader and the standby, through maintenance mode,
//! a real failover and the loss of ZooKeeper. The metrics are read with Prometheus' own
//! OpenMetrics parser (`promtool`, Debian's prometheus package; scripts/install-test-deps).

mod cluster;
mod support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cluster::{daemon_bin, Cluster, Options};
use nix::sys::signal::Signal;
use serde_json::Value;
use support::{wait_for, wait_until, ZkEnsemble};

fn single_zk() -> ZkEnsemble {
    ZkEnsemble::start(1)
}

/// `promtool`: `$PROMTOOL`, else from `PATH`.
fn promtool() -> PathBuf {
    std::env::var_os("PROMTOOL").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("promtool"))
}

/// Parses an OpenMetrics exposition with Prometheus' own OpenMetrics parser (the one a
/// Prometheus server scrapes our `application/openmetrics-text` with) and returns what
/// Prometheus stored: `name{label="value",...}` -> value.
///
/// `promtool tsdb create-blocks-from openmetrics` runs the parser and writes the samples into a
/// TSDB block, `promtool tsdb dump` reads them back. The backfill wants a timestamp on every
/// sample, which a scrape does not carry; the only change made to the text is appending one.
/// (`promtool check metrics` lints the older Prometheus text format, in which OpenMetrics'
/// counters, named without `_total` in `# TYPE`, read as untyped series without help.)
fn parse_with_prometheus(exposition: &str) -> BTreeMap<String, f64> {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let stamped: String = exposition
        .lines()
        .map(|line| if line.starts_with('#') { format!("{line}\n") } else { format!("{line} {now}\n") })
        .collect();
    let input = dir.path().join("scrape.om");
    std::fs::write(&input, stamped).unwrap();
    let db = dir.path().join("db");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(promtool()).args(args).output().unwrap_or_else(|e| {
            panic!("cannot run {}: {e}; scripts/install-test-deps installs it", promtool().display())
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "promtool {args:?} failed: {stderr}\n--- exposition ---\n{exposition}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["tsdb".as_ref(), "create-blocks-from".as_ref(), "openmetrics".as_ref(), input.as_os_str(), db.as_os_str()]);
    // `dump` also reads the write-ahead log, which a backfill does not create.
    std::fs::create_dir_all(db.join("wal")).unwrap();
    let dump = run(&["tsdb".as_ref(), "dump".as_ref(), db.as_os_str()]);
    let mut series = BTreeMap::new();
    for line in dump.lines() {
        // {__name__="flink_ha_supervisor_role", role="leader"} 1 1795374274000
        let (labels, rest) = line.rsplit_once("} ").unwrap_or_else(|| panic!("dump line {line:?}"));
        let value: f64 = rest.split(' ').next().unwrap().parse().unwrap();
        let mut name = String::new();
        let mut others = Vec::new();
        for pair in labels.trim_start_matches('{').split(", ") {
            let (key, quoted) = pair.split_once('=').unwrap();
            if key == "__name__" {
                name = quoted.trim_matches('"').to_string();
            } else {
                others.push(format!("{key}={quoted}"));
            }
        }
        let key = if others.is_empty() { name } else { format!("{name}{{{}}}", others.join(",")) };
        series.insert(key, value);
    }
    series
}

fn metric(series: &BTreeMap<String, f64>, key: &str) -> f64 {
    *series.get(key).unwrap_or_else(|| panic!("{key} missing from {series:#?}"))
}

fn get(cluster: &Cluster, i: usize, path: &str) -> (u16, String) {
    cluster.http_get(i, path).unwrap_or_else(|e| panic!("GET {path} on daemon {i}: {e}\n{}", cluster.dump()))
}

fn status(cluster: &Cluster, i: usize) -> Value {
    let (code, body) = get(cluster, i, "/status");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/status is not JSON ({e}): {body}"))
}

fn scrape(cluster: &Cluster, i: usize) -> BTreeMap<String, f64> {
    let (code, body) = get(cluster, i, "/metrics");
    assert_eq!(code, 200, "{body}");
    parse_with_prometheus(&body)
}

fn pause_command(cluster: &Cluster, verb: &str) {
    let out = Command::new(daemon_bin()).arg(verb).arg("--config").arg(&cluster.daemons[0].config).output().unwrap();
    assert!(out.status.success(), "{verb}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_endpoints_of_leader_and_standby_through_pause_failover_and_the_loss_of_zookeeper() {
    let zk = single_zk();
    let mut cluster = Cluster::new(2, Options::default(), |_| zk.connect_string());
    cluster.start_leader_then_standby();
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || get(&cluster, 1, "/health").0 == 200);
    // The daemon publishes its view after it logged the turn's records (`jobmanager_ready`).
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || status(&cluster, 0)["jobmanager"] == "ready");

    // Leader: healthy and serving.
    assert_eq!(get(&cluster, 0, "/health"), (200, "ok\n".to_string()));
    assert_eq!(get(&cluster, 0, "/leader").0, 200);
    let s = status(&cluster, 0);
    assert_eq!(
        (s["node"].as_str(), s["role"].as_str(), s["jobmanager"].as_str()),
        (Some("jm1"), Some("leader"), Some("ready"))
    );
    assert_eq!(
        (s["session"].as_str(), s["healthy"].as_bool(), s["serving"].as_bool()),
        (Some("connected"), Some(true), Some(true))
    );
    assert_eq!(s["paused"], false);
    assert!(s.get("warning").is_none(), "{s}");
    assert!(s["epoch"].as_u64().is_some(), "{s}");
    assert!(s["leader_since"].as_str().is_some_and(|t| t.ends_with('Z')), "{s}");
    assert_eq!(s["failovers"]["count"], 0);

    // Standby: healthy, not serving: a load balancer sends nothing to it.
    assert_eq!(get(&cluster, 1, "/health").0, 200);
    let (code, body) = get(&cluster, 1, "/leader");
    assert_eq!((code, body.as_str()), (503, "not the leader (standby)\n"));
    let s = status(&cluster, 1);
    assert_eq!(
        (s["role"].as_str(), s["jobmanager"].as_str(), s["serving"].as_bool()),
        (Some("standby"), Some("stopped"), Some(false))
    );
    assert_eq!(s["leader_since"], Value::Null);
    assert_eq!(get(&cluster, 1, "/nothing-here").0, 404);

    let m = scrape(&cluster, 0);
    assert_eq!(metric(&m, "flink_ha_supervisor_role{role=\"leader\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_role{role=\"standby\"}"), 0.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_session_state{state=\"connected\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_jobmanager_up"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failovers_total"), 0.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failover_outage_seconds_count"), 0.0);
    let heard = metric(&m, "flink_ha_supervisor_zookeeper_last_heard_timestamp_seconds");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - 5.0..=now + 1.0).contains(&heard), "last heard {heard}, now {now}");
    let m = scrape(&cluster, 1);
    assert_eq!(metric(&m, "flink_ha_supervisor_role{role=\"standby\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_jobmanager_up"), 0.0);

    // Maintenance mode: /status says so loudly, /metrics has the flag.
    pause_command(&cluster, "pause");
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || status(&cluster, 0)["paused"] == true);
    let s = status(&cluster, 0);
    assert!(s["warning"].as_str().is_some_and(|w| w.starts_with("MAINTENANCE MODE")), "{s}");
    assert_eq!(metric(&scrape(&cluster, 0), "flink_ha_supervisor_paused"), 1.0);
    pause_command(&cluster, "resume");
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || {
        status(&cluster, 0)["paused"] == false && status(&cluster, 1)["paused"] == false
    });

    // A real failover: the new leader counts it and puts its outage into the histogram.
    cluster.signal(0, Signal::SIGKILL);
    let new = cluster.wait_for_leader(Duration::from_secs(30), Some(0));
    assert_eq!(new, 1);
    let record = wait_for(Duration::from_secs(15), Duration::from_millis(50), || {
        cluster.events(1, "failover_completed").into_iter().next()
    });
    let outage = record["outage_ms"].as_u64().unwrap() as f64 / 1000.0;
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || get(&cluster, 1, "/leader").0 == 200);
    // The view (and so /metrics) counts the failover at the end of the turn that logged it.
    wait_until(Duration::from_secs(5), Duration::from_millis(50), || status(&cluster, 1)["failovers"]["count"] == 1);
    let m = scrape(&cluster, 1);
    assert_eq!(metric(&m, "flink_ha_supervisor_role{role=\"leader\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_jobmanager_up"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failovers_total"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failovers_over_budget_total"), 0.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failover_outage_seconds_count"), 1.0);
    assert!((metric(&m, "flink_ha_supervisor_failover_outage_seconds_sum") - outage).abs() < 0.001, "{m:#?}");
    assert_eq!(metric(&m, "flink_ha_supervisor_failover_outage_seconds_bucket{le=\"+Inf\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failover_outage_seconds_bucket{le=\"30.0\"}"), 1.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_failover_outage_seconds_bucket{le=\"1.0\"}"), 0.0);
    assert_eq!(metric(&m, "flink_ha_supervisor_jobmanager_restarts_total"), 0.0);
    let s = status(&cluster, 1);
    assert_eq!(s["role"], "leader");
    assert_eq!(s["failovers"]["count"], 1);
    assert_eq!(s["failovers"]["last_ms"], record["outage_ms"]);
    assert_eq!(s["failovers"]["over_budget"], 0);

    // ZooKeeper gone: the session drops and /health turns 503 at once.
    zk.stop(0);
    wait_until(Duration::from_secs(10), Duration::from_millis(50), || get(&cluster, 1, "/health").0 == 503);
    let m = scrape(&cluster, 1);
    assert_eq!(metric(&m, "flink_ha_supervisor_session_state{state=\"connected\"}"), 0.0);
    cluster.assert_never_two_jobmanagers();
}

#[test]
fn a_taken_http_listen_address_stops_the_daemon_with_one_line_and_exit_code_2() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fhs.toml");
    std::fs::write(
        &config,
        format!(
            "[zookeeper]\nquorum = \"127.0.0.1:1\"\n[jobmanager]\ncommand = [\"/bin/true\"]\n[http]\nlisten = \"{addr}\"\n"
        ),
    )
    .unwrap();
    let mut child = support::KillOnDrop::spawn({
        let mut cmd = Command::new(daemon_bin());
        cmd.arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
        cmd
    })
    .unwrap();
    let status = child.wait_timeout(Duration::from_secs(10)).expect("the daemon exits");
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("flink-ha-supervisor: http.listen: cannot listen on "), "{stderr}");
    assert!(stderr.contains(&addr.to_string()), "{stderr}");
    drop(taken);
}
