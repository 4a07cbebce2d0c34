//! Flink's HA support as a user meets it, case by case: the `[flink]` section (`config_*`), the
//! keys rendered into Flink's configuration (`configurator_*`), failovers as the machine sees
//! them with Flink's HA on (`failover_*`), and the daemon's use of it before a JobManager starts
//! (`environment_*`).
//!
//! The check with a real Flink (two JobManagers, a long-running job, the primary stopped, the
//! standby takes over within 30 s, the job keeps running) is tests/flink_job_recovery.rs.
//!
//! A Flink session timeout of 60 s (Flink's own default) is refused
//! (`config_a_60s_flink_session_timeout_is_refused`): a crashed JobManager's Flink leader latch
//! would hold Flink's leadership for 60 s (40 s after a default server's clamp), past the 30 s
//! a failover may take.

use std::time::{Duration, Instant};

use serde_norway::Value;

use super::{render, run_refusal};
use crate::config::flink_ha::{HaConfig, HaMode, ModeSettings};
use crate::config::test_support::{assert_error, error, load, load_env, settings, K8S_SECTION, ZK_SECTION};
use crate::config::{ConfigErrorKind, ConfigWarning};
use flink_ha_core::failover::{self, Cause, FailoverStats, NewTerm, ReadRecord};
use flink_ha_core::machine::{Action, Event, JobManager, Machine, Output, Report, Role, Timings};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn resolve(extra: &str) -> HaConfig {
    HaConfig::resolve(&settings(extra)).expect("valid").0.expect("HA on")
}

/// The rendered keys of a configuration, flattened, as a lookup.
fn rendered(extra: &str) -> Vec<(String, Value)> {
    let s = settings(extra);
    let ha = HaConfig::resolve(&s).expect("valid").0.expect("HA on");
    render::generated_keys(&ha, &s)
}

fn key<'a>(keys: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    keys.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn text(keys: &[(String, Value)], name: &str) -> String {
    match key(keys, name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        other => panic!("{name}: {other:?}"),
    }
}

// ----- The [flink] section -----

#[test]
fn config_valid_zookeeper() {
    let (s, warnings) = load(ZK_SECTION).unwrap();
    let ha = HaConfig::resolve(&s).unwrap().0.unwrap();
    assert_eq!(ha.ha_mode(), HaMode::ZooKeeper);
    assert_eq!(ha.jobmanager_count, 2);
    assert_eq!(ha.failover_timeout, secs(30));
    assert_eq!(ha.storage_dir, "file:///opt/flink/ha");
    let ModeSettings::ZooKeeper(zk) = &ha.mode else { panic!("{ha:?}") };
    assert_eq!(zk.hosts, "localhost:2181,localhost:2182,localhost:2183");
    assert_eq!(zk.server_path_root(), "/flink");
    assert_eq!(zk.cluster_id, "default");
    // A bare storage dir is accepted with a warning that says what was assumed.
    assert!(warnings.iter().any(|w| w.key == "flink.storage_dir" && w.message.contains("file:///opt/flink/ha")));
}

#[test]
fn config_a_60s_flink_session_timeout_on_another_ensemble_is_accepted_with_the_cap_warning() {
    // The new leader deletes a dead JobManager's latch: Flink's session timeout no longer bounds
    // a failover. On another ensemble than the daemon's (whose cap is refused, see
    // `flink_ha::tests`), a session above the daemon's servers' cap is a warning: a server with
    // default limits clamps it to 40 s.
    let (s, w) =
        load(&format!("{ZK_SECTION}zookeeper_session_timeout = \"60s\"\nzookeeper_connection_timeout = \"15s\"\n"))
            .unwrap();
    assert!(HaConfig::resolve(&s).is_ok());
    let capped = |w: &ConfigWarning| w.message.contains("Flink would get only 40s");
    assert!(w.iter().any(|w| w.key == "flink.zookeeper_session_timeout" && capped(w)), "{w:?}");
}

#[test]
fn config_valid_kubernetes() {
    let ha = resolve(K8S_SECTION);
    assert_eq!(ha.ha_mode(), HaMode::Kubernetes);
    let ModeSettings::Kubernetes(k8s) = &ha.mode else { panic!("{ha:?}") };
    assert_eq!((k8s.namespace.as_str(), k8s.cluster_id.as_str()), ("flink", "flink-cluster-1"));
    assert_eq!(ha.storage_dir, "file:///opt/flink/ha");
}

#[test]
fn config_disabled() {
    // Disabled: nothing else is required or checked, not even the count or a storage dir.
    for section in ["[flink]\nenabled = false\njobmanager_count = 1\n", "[flink]\nenabled = true\nmode = \"none\"\n"] {
        let (s, _) = load(section).unwrap();
        assert_eq!(HaConfig::resolve(&s).unwrap().0, None, "{section}");
    }
    // mode none with enabled = true says what it means.
    let (_, warnings) = load("[flink]\nenabled = true\nmode = \"none\"\n").unwrap();
    assert!(warnings.iter().any(|w| w.key == "flink.mode"), "{warnings:?}");
}

#[test]
fn config_invalid_mode() {
    for mode in ["zk", "", "yarn", "zookeeper2"] {
        let e = error(&ZK_SECTION.replace("mode = \"zookeeper\"", &format!("mode = {mode:?}")));
        assert_error(&e, "flink.mode", &["\"zookeeper\", \"kubernetes\" or \"none\""]);
    }
    // Even while disabled a misspelt mode is reported.
    assert_error(&error("[flink]\nmode = \"zookeper\"\n"), "flink.mode", &["zookeper"]);
    // Case does not matter.
    assert_eq!(resolve(&ZK_SECTION.replace("\"zookeeper\"", "\"ZooKeeper\"")).ha_mode(), HaMode::ZooKeeper);
}

#[test]
fn config_missing_required_parameters_zookeeper() {
    let e = error(&ZK_SECTION.replace("storage_dir = \"/opt/flink/ha\"\n", ""));
    assert_error(&e, "flink.storage_dir", &["required", "hdfs://"]);
    assert_eq!(e.kind(), ConfigErrorKind::Missing);
    let e = error(&ZK_SECTION.replace("localhost:2181,localhost:2182,localhost:2183", ""));
    assert_error(&e, "flink.zookeeper_quorum", &["required in mode zookeeper"]);
    assert_eq!(e.kind(), ConfigErrorKind::Missing);
    // Unset, the quorum is the daemon's own.
    let ha = resolve(&ZK_SECTION.replace("zookeeper_quorum = \"localhost:2181,localhost:2182,localhost:2183\"\n", ""));
    let ModeSettings::ZooKeeper(zk) = &ha.mode else { panic!() };
    assert_eq!(zk.hosts, "zk1:2181,zk2:2181,zk3:2181");
    assert!(zk.same_ensemble_as_daemon);
}

#[test]
fn config_missing_required_parameters_kubernetes() {
    for (key, line) in [
        ("flink.kubernetes_namespace", "kubernetes_namespace = \"flink\"\n"),
        ("flink.kubernetes_cluster_id", "kubernetes_cluster_id = \"flink-cluster-1\"\n"),
        ("flink.storage_dir", "storage_dir = \"/opt/flink/ha\"\n"),
    ] {
        let e = error(&K8S_SECTION.replace(line, ""));
        assert_error(&e, key, &["required"]);
        assert_eq!(e.kind(), ConfigErrorKind::Missing);
    }
}

#[test]
fn config_jobmanager_count() {
    for count in [0, 1] {
        let e = error(&ZK_SECTION.replace("jobmanager_count = 2", &format!("jobmanager_count = {count}")));
        assert_error(&e, "flink.jobmanager_count", &[&format!("{count} is fewer than 2"), "standby"]);
    }
    for count in [2, 3, 5] {
        let ha = resolve(&ZK_SECTION.replace("jobmanager_count = 2", &format!("jobmanager_count = {count}")));
        assert_eq!(ha.jobmanager_count, count);
    }
    // The default is the minimum.
    assert_eq!(resolve(&ZK_SECTION.replace("jobmanager_count = 2\n", "")).jobmanager_count, 2);
}

#[test]
fn config_failover_timeout() {
    let with = |t: &str| ZK_SECTION.replace("failover_timeout = \"30s\"", &format!("failover_timeout = {t:?}"));
    assert_error(&error(&with("0s")), "flink.failover_timeout", &["longer than zero"]);
    assert_error(&error(&with("31s")), "flink.failover_timeout", &["31s is over 30s", "within 30 s"]);
    assert_error(&error(&with("5m")), "flink.failover_timeout", &["at most \"30s\""]);
    assert_eq!(resolve(&with("30s")).failover_timeout, secs(30));
    assert_eq!(resolve(&with("20s")).failover_timeout, secs(20));
    // Unset: failover.budget, capped at 30 s.
    let unset = ZK_SECTION.replace("failover_timeout = \"30s\"\n", "");
    assert_eq!(resolve(&unset).failover_timeout, secs(30));
    let budget_20 = format!("[failover]\nbudget = \"20s\"\n{unset}");
    assert_eq!(resolve(&budget_20).failover_timeout, secs(20));
    let budget_60 = format!("[failover]\nbudget = \"60s\"\n{unset}");
    assert_eq!(resolve(&budget_60).failover_timeout, secs(30));
    // Shorter than Flink's session timeout: fine, a dead JobManager's latch is deleted.
    assert_eq!(resolve(&with("10s")).failover_timeout, secs(10));
}

// ----- The rendered keys -----

#[test]
fn configurator_zookeeper() {
    let keys = rendered(ZK_SECTION);
    assert_eq!(text(&keys, "high-availability.type"), "zookeeper");
    assert_eq!(text(&keys, "high-availability.zookeeper.quorum"), "localhost:2181,localhost:2182,localhost:2183");
    assert_eq!(text(&keys, "high-availability.zookeeper.path.root"), "/flink");
    assert_eq!(text(&keys, "high-availability.cluster-id"), "/default");
    assert_eq!(text(&keys, "high-availability.storageDir"), "file:///opt/flink/ha");
    // This host's addresses, from the daemon's own settings.
    assert_eq!(text(&keys, "jobmanager.rpc.address"), "jm1.example.org");
    assert_eq!(text(&keys, "rest.address"), "jm1.example.org");
    assert_eq!(text(&keys, "high-availability.jobmanager.port"), "6123");
    assert_eq!(text(&keys, "rest.port"), "8081");
    assert!(key(&keys, "kubernetes.cluster-id").is_none());
}

#[test]
fn configurator_kubernetes() {
    let keys = rendered(K8S_SECTION);
    assert_eq!(text(&keys, "high-availability.type"), "kubernetes");
    assert_eq!(text(&keys, "kubernetes.cluster-id"), "flink-cluster-1");
    assert_eq!(text(&keys, "kubernetes.namespace"), "flink");
    assert_eq!(text(&keys, "high-availability.storageDir"), "file:///opt/flink/ha");
    assert!(keys.iter().all(|(k, _)| !k.contains("zookeeper")), "{keys:?}");
}

#[test]
fn configurator_disabled() {
    for section in ["", "[flink]\nenabled = false\n", "[flink]\nenabled = true\nmode = \"none\"\n"] {
        assert_eq!(render::render(&settings(section)).unwrap(), None, "{section:?}");
    }
}

#[test]
fn configurator_storage_dir_scheme() {
    let with = |dir: &str| ZK_SECTION.replace("\"/opt/flink/ha\"", &format!("{dir:?}"));
    for (written, rendered_as) in [
        ("/opt/flink/ha", "file:///opt/flink/ha"),
        ("file:///opt/flink/ha", "file:///opt/flink/ha"),
        ("hdfs:///flink/ha", "hdfs:///flink/ha"),
        ("hdfs://namenode:8020/flink/ha", "hdfs://namenode:8020/flink/ha"),
        ("s3://bucket/flink/ha", "s3://bucket/flink/ha"),
    ] {
        assert_eq!(text(&rendered(&with(written)), "high-availability.storageDir"), rendered_as);
        let (_, warnings) = load(&with(written)).unwrap();
        let warned = warnings.iter().any(|w| w.key == "flink.storage_dir");
        assert_eq!(warned, !written.contains("://"), "{written}: {warnings:?}");
    }
    for bad in ["flink/ha", "./ha", "", "  "] {
        assert_eq!(error(&with(bad)).key(), "flink.storage_dir", "{bad:?}");
    }
}

#[test]
fn configurator_jobmanager_count() {
    let s = settings(ZK_SECTION);
    assert!(render::render(&s).unwrap().is_some());
    let mut s = s;
    s.flink.jobmanager_count = 1;
    let e = render::render(&s).unwrap_err().to_string();
    assert!(e.starts_with("flink.jobmanager_count: "), "{e}");
}

#[test]
fn configurator_failover_timeout() {
    let mut s = settings(ZK_SECTION);
    s.flink.failover_timeout = Some(secs(45));
    let e = render::render(&s).unwrap_err().to_string();
    assert!(e.starts_with("flink.failover_timeout: 45s is over 30s"), "{e}");
}

#[test]
fn configurator_zookeeper_timeouts() {
    // Default: 30 s (a paused JobManager or a ZooKeeper blip keeps the session) and the daemon's
    // own connection timeout, not Flink's 60 s / 15 s; suspended connections are tolerated.
    let keys = rendered(ZK_SECTION);
    assert_eq!(text(&keys, "high-availability.zookeeper.client.session-timeout"), "30000 ms");
    assert_eq!(text(&keys, "high-availability.zookeeper.client.connection-timeout"), "3000 ms");
    assert_eq!(
        key(&keys, "high-availability.zookeeper.client.tolerate-suspended-connections"),
        Some(&Value::Bool(true))
    );
    let keys = rendered(&format!(
        "{ZK_SECTION}zookeeper_session_timeout = \"6s\"\nzookeeper_connection_timeout = \"1500ms\"\n"
    ));
    assert_eq!(text(&keys, "high-availability.zookeeper.client.session-timeout"), "6000 ms");
    assert_eq!(text(&keys, "high-availability.zookeeper.client.connection-timeout"), "1500 ms");
}

// ----- Failovers with Flink's HA on -----

const SESSION: Duration = Duration::from_secs(10);
const BUDGET: Duration = Duration::from_secs(30);

fn timings() -> Timings {
    Timings {
        start_timeout: secs(20),
        stop_grace: secs(3),
        health_interval: secs(2),
        health_failures: 3,
        restart_limit: 3,
        restart_window: secs(300),
        session_timeout: SESSION,
        tick_time: flink_ha_core::timing::DEFAULT_TICK_TIME,
    }
}

/// A node with a live session at `t0`.
fn node(t0: Instant) -> Machine {
    let mut m = Machine::new(timings());
    m.handle_event(t0, Event::SessionStarted { negotiated_timeout: SESSION, started_at: t0 });
    m
}

fn spawns(out: &Output) -> bool {
    out.actions.iter().any(|a| matches!(a, Action::SpawnJobManager { .. }))
}

fn stops(out: &Output) -> bool {
    out.actions.iter().any(|a| matches!(a, Action::StopJobManager { .. }))
}

/// The leader record of `node` as its successor reads it (`state` as written, `mtime_ms`).
fn previous(node: &str, state: &str, mtime_ms: i64) -> ReadRecord {
    let record = serde_json::from_value(serde_json::json!({
        "v": failover::RECORD_VERSION, "node": node, "epoch": 4, "state": state, "session_timeout_ms": 10_000,
    }))
    .expect("leader record");
    ReadRecord { record, mtime_ms }
}

fn new_term(elected_ms: i64, ready_ms: i64) -> NewTerm {
    NewTerm { elected_ms, start: Duration::from_millis(20), readiness: Duration::from_millis(5000), ready_ms }
}

#[test]
fn failover_initial_state() {
    let m = Machine::new(timings());
    assert_eq!(m.role(), Role::Standby);
    assert_eq!(m.jobmanager(), JobManager::Stopped);
    let summary = FailoverStats::default().summary();
    assert_eq!((summary.count, summary.last, summary.over_budget), (0, None, 0));
    // A first election is no failover.
    assert_eq!(failover::measure(None, new_term(0, 5000), BUDGET), None);
}

#[test]
fn failover_of_the_primary() {
    // The primary (jm-a) crashed while serving; the standby is elected and starts its JobManager.
    let t0 = Instant::now();
    let mut standby = node(t0);
    let out = standby.handle_event(t0, Event::Elected { epoch: 8 });
    assert!(spawns(&out), "{out:?}");
    assert_eq!(standby.role(), Role::Leader { epoch: 8 });
    let f = failover::measure(Some(&previous("jm-a", "serving", 100_000)), new_term(110_300, 115_600), BUDGET)
        .expect("a failover");
    assert_eq!((f.cause, f.previous_node.as_str()), (Cause::LeaderLost, "jm-a"));
    assert_eq!(f.outage, Duration::from_millis(15_600));
    assert!(f.within_budget);
}

#[test]
fn failover_standby_failure() {
    // A standby that loses its session never touches a JobManager, and is not a failover.
    let t0 = Instant::now();
    let mut standby = node(t0);
    let mut out = standby.handle_event(t0 + secs(1), Event::SessionExpired);
    out.extend(standby.handle_timeout(t0 + secs(60)));
    assert!(!spawns(&out) && !stops(&out), "{out:?}");
    assert_eq!(standby.role(), Role::Standby);
    assert_eq!(standby.jobmanager(), JobManager::Stopped);
}

#[test]
fn failover_several() {
    let mut stats = FailoverStats::default();
    for (prev, elected, ready) in
        [(100_000, 110_000, 114_000), (200_000, 210_500, 216_000), (300_000, 312_000, 333_000)]
    {
        let f = failover::measure(Some(&previous("jm", "serving", prev)), new_term(elected, ready), BUDGET).unwrap();
        stats.record(&f);
    }
    let summary = stats.summary();
    assert_eq!(summary.count, 3);
    assert_eq!(summary.last, Some(secs(33)));
    assert_eq!(summary.p50, Some(secs(16)));
    assert_eq!(summary.max, Some(secs(33)));
    assert_eq!(summary.over_budget, 1);
}

#[test]
fn failover_jobmanager_recovery() {
    // The leader's JobManager exits on its own: it is restarted locally, leadership stays.
    let t0 = Instant::now();
    let mut m = node(t0);
    m.handle_event(t0, Event::Elected { epoch: 3 });
    m.handle_event(t0, Event::JobManagerSpawned { pid: 100 });
    let out = m.handle_event(t0 + secs(1), Event::JobManagerExited { code: 137 });
    assert!(out.reports.iter().any(|r| matches!(r, Report::JobManagerRestartScheduled { .. })), "{out:?}");
    assert_eq!(m.role(), Role::Leader { epoch: 3 });
    let mut later = Output::default();
    let mut now = t0 + secs(1);
    for _ in 0..40 {
        now += Duration::from_millis(250);
        m.handle_event(now, Event::HeardFromServer { sent_at: now });
        later.extend(m.handle_timeout(now));
    }
    assert!(spawns(&later), "no restart: {later:?}");
}

#[test]
fn failover_within_30s() {
    let at = |ready_ms: i64| {
        failover::measure(Some(&previous("jm-a", "serving", 0)), new_term(10_000, ready_ms), BUDGET).unwrap()
    };
    assert!(at(29_999).within_budget);
    assert!(at(30_000).within_budget);
    assert!(!at(30_001).within_budget);
    // A handover counts from the old JobManager's stop.
    let mut released = previous("jm-a", "released", 2_000);
    released.record.serving_until_ms = Some(0);
    released.record.reason = Some("shutdown".into());
    let f = failover::measure(Some(&released), new_term(2_050, 8_000), BUDGET).unwrap();
    assert_eq!((f.cause, f.outage), (Cause::Handover, secs(8)));
}

#[test]
fn failover_concurrent_failures() {
    // The primary's JobManager dies while its leadership is lost too: it never restarts the
    // JobManager without leadership, whatever the order.
    let t0 = Instant::now();
    for lose_first in [true, false] {
        let mut m = node(t0);
        m.handle_event(t0, Event::Elected { epoch: 5 });
        m.handle_event(t0, Event::JobManagerSpawned { pid: 100 });
        let (first, second) = if lose_first {
            (Event::LeadershipLost, Event::JobManagerExited { code: 137 })
        } else {
            (Event::JobManagerExited { code: 137 }, Event::LeadershipLost)
        };
        let mut out = m.handle_event(t0 + secs(1), first);
        out.extend(m.handle_event(t0 + secs(1), second));
        for i in 1..=40 {
            out.extend(m.handle_timeout(t0 + secs(1) + Duration::from_millis(250 * i)));
        }
        assert!(!spawns(&out), "lose_first {lose_first}: {out:?}");
        assert_eq!(m.role(), Role::Standby);
    }
}

// ----- Before a JobManager starts -----

#[test]
fn environment_zookeeper() {
    let (s, _) = load_env(
        "",
        &[
            ("FHS_FLINK__ENABLED", "true"),
            ("FHS_FLINK__STORAGE_DIR", "hdfs:///flink/ha"),
            ("FHS_FLINK__CLUSTER_ID", "prod"),
            ("FHS_FLINK__ZOOKEEPER_SESSION_TIMEOUT", "8s"),
        ],
    )
    .unwrap();
    assert!(s.flink.enabled);
    assert_eq!(run_refusal(&s), None);
    let r = render::render(&s).unwrap().expect("rendered");
    assert!(r.yaml.contains("high-availability.type: zookeeper\n"), "{}", r.yaml);
    assert!(r.yaml.contains("high-availability.cluster-id: /prod\n"), "{}", r.yaml);
    assert!(r.yaml.contains("high-availability.zookeeper.client.session-timeout: 8000 ms\n"), "{}", r.yaml);
    assert!(r.yaml.contains("high-availability.zookeeper.quorum: zk1:2181,zk2:2181,zk3:2181\n"), "{}", r.yaml);
}

#[test]
fn environment_kubernetes() {
    let s = settings(K8S_SECTION);
    let refusal = run_refusal(&s).expect("run refuses kubernetes");
    assert!(refusal.contains("Flink's own HA") && refusal.contains("not needed"), "{refusal}");
    assert!(super::preflight(&s).is_err());
    // It still renders, for the Kubernetes deployment's configuration.
    let r = render::render(&s).unwrap().expect("rendered");
    assert!(r.yaml.contains("high-availability.type: kubernetes\n"), "{}", r.yaml);
}

#[test]
fn environment_no_ha_section() {
    let s = settings("");
    assert_eq!(s.flink, crate::config::FlinkSettings::default());
    assert!(!s.flink.enabled);
    assert_eq!(HaConfig::resolve(&s).unwrap().0, None);
    assert_eq!(run_refusal(&s), None);
    assert_eq!(super::preflight(&s), Ok(Vec::new()));
    // The JobManager's environment stays as configured.
    let mut spec = crate::process::jobmanager::Spec { guard_exe: "/bin/true".into(), settings: s.jobmanager.clone() };
    super::prepare_spawn(&s, &mut spec).unwrap();
    assert_eq!(spec.settings.env, s.jobmanager.env);
}

#[test]
fn environment_disabled() {
    let s = settings(&ZK_SECTION.replace("enabled = true", "enabled = false"));
    assert_eq!(render::render(&s).unwrap(), None);
    let (s, _) = load_env(ZK_SECTION, &[("FHS_FLINK__ENABLED", "false")]).unwrap();
    assert!(!s.flink.enabled);
    assert_eq!(render::render(&s).unwrap(), None);
}

#[test]
fn environment_jobmanager_count() {
    let e = load_env(ZK_SECTION, &[("FHS_FLINK__JOBMANAGER_COUNT", "1")]).unwrap_err();
    assert_error(&e, "flink.jobmanager_count", &["(set by FHS_FLINK__JOBMANAGER_COUNT)", "fewer than 2"]);
}

#[test]
fn environment_failover_timeout() {
    let e = load_env(ZK_SECTION, &[("FHS_FLINK__FAILOVER_TIMEOUT", "31s")]).unwrap_err();
    assert_error(&e, "flink.failover_timeout", &["(set by FHS_FLINK__FAILOVER_TIMEOUT)", "over 30s"]);
    let e = load_env(ZK_SECTION, &[("FHS_FLINK__FAILOVER_TIMEOUT", "30")]).unwrap_err();
    assert_error(&e, "flink.failover_timeout", &["\"30\"", "with a unit"]);
}

#[test]
fn config_a_long_flink_session_on_another_ensemble_is_warned_about() {
    // ZK_SECTION's Flink quorum is not the daemons' own: no latch of a dead JobManager can be
    // deleted there, so Flink's default 30 s session would hold up every crash failover.
    let (_, w) = load(ZK_SECTION).unwrap();
    let warned = |w: &[crate::config::ConfigWarning]| {
        w.iter().any(|w| w.key == "flink.zookeeper_session_timeout" && w.message.contains("cannot delete"))
    };
    assert!(warned(&w), "{w:?}");
    let (_, w) = load(&format!("{ZK_SECTION}zookeeper_session_timeout = \"10s\"\n")).unwrap();
    assert!(!warned(&w), "{w:?}");
    // On the daemons' own ensemble the latches are deleted: no warning at the default.
    let own = ZK_SECTION.replace("zookeeper_quorum = \"localhost:2181,localhost:2182,localhost:2183\"\n", "");
    let (_, w) = load(&own).unwrap();
    assert!(!warned(&w), "{w:?}");
}

// ----- Flink's own ZooKeeper client when the daemons authenticate -----

/// The files of a secured setup: the daemons' password file, Flink's JAAS file, a CA, the
/// daemons' and Flink's certificates and keys; all mode 0600.
struct Secured {
    dir: tempfile::TempDir,
}

const FLINK_JAAS: &str = "Client {\n  org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"flink\"\n  password=\"flink-secret-pw\";\n};\n";

impl Secured {
    fn new() -> Secured {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in [("zk-password", "daemon-secret-pw\n"), ("flink-jaas.conf", FLINK_JAAS)] {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        // Real PEM files (the settings parse the daemons' CA and identity): self-signed, made by
        // openssl like the test servers' (tests/support/zk_secure.rs).
        for who in ["ca", "daemon", "flink-zk"] {
            let out = std::process::Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
                .args(["-days", "1", "-subj", &format!("/CN={who}"), "-keyout", &format!("{who}.key"), "-out"])
                .arg(format!("{who}.pem"))
                .current_dir(dir.path())
                .output()
                .expect("run openssl (scripts/install-test-deps installs it)");
            assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        }
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Secured { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The daemons' `[zookeeper]` security keys, through the environment.
    fn daemon_env(&self, extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("FHS_ZOOKEEPER__AUTH", "sasl".to_string()),
            ("FHS_ZOOKEEPER__USER", "flinkha".to_string()),
            ("FHS_ZOOKEEPER__PASSWORD_FILE", self.path("zk-password")),
            ("FHS_ELECTION__PATH", "/flink-ha/leader".to_string()),
        ];
        env.extend(extra.iter().cloned());
        env
    }

    /// `[flink]` on the daemons' own ensemble with Flink's JAAS file.
    fn flink(&self) -> String {
        format!(
            "[flink]\nenabled = true\nstorage_dir = \"file:///mnt/ha\"\nzookeeper_jaas_file = {:?}\n",
            self.path("flink-jaas.conf")
        )
    }

    fn load(
        &self,
        flink: &str,
        extra_env: &[(&'static str, String)],
    ) -> Result<crate::config::Settings, crate::config::ConfigError> {
        let env = self.daemon_env(extra_env);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        load_env(flink, &env).map(|(s, _)| s)
    }

    fn keys(&self, flink: &str, extra_env: &[(&'static str, String)]) -> Vec<(String, Value)> {
        let s = self.load(flink, extra_env).unwrap_or_else(|e| panic!("{e}"));
        let ha = HaConfig::resolve(&s).expect("valid").0.expect("HA on");
        render::generated_keys(&ha, &s)
    }
}

#[test]
fn configurator_with_auth_flink_creates_its_nodes_with_the_creator_acl_and_logs_in_with_its_own_jaas_file() {
    let sec = Secured::new();
    let keys = sec.keys(&sec.flink(), &[]);
    assert_eq!(text(&keys, "high-availability.zookeeper.client.acl"), "creator");
    assert_eq!(key(&keys, "zookeeper.sasl.disable"), Some(&Value::Bool(false)));
    assert_eq!(text(&keys, "zookeeper.sasl.login-context-name"), "Client");
    assert_eq!(
        text(&keys, "env.java.default-opts.all"),
        format!("-Djava.security.auth.login.config={}", sec.path("flink-jaas.conf"))
    );
    // The whole rendered file (and so `render-flink-config`'s output) holds no password.
    let s = sec.load(&sec.flink(), &[]).unwrap();
    let yaml = render::render(&s).unwrap().unwrap().yaml;
    assert!(!yaml.contains("secret-pw"), "{yaml}");
    // Without auth nothing about ACLs or logins is rendered (Flink's default: open).
    let keys = rendered(ZK_SECTION);
    assert!(key(&keys, "high-availability.zookeeper.client.acl").is_none());
    assert!(key(&keys, "env.java.default-opts.all").is_none());
}

#[test]
fn config_with_auth_flink_needs_an_identity_of_its_own() {
    let sec = Secured::new();
    let without = "[flink]\nenabled = true\nstorage_dir = \"file:///mnt/ha\"\n";
    let e = sec.load(without, &[]).unwrap_err();
    assert_error(
        &e,
        "flink.zookeeper_jaas_file",
        &["required when zookeeper.auth is on", "creator ACL", "Securing it"],
    );
    assert_eq!(e.kind(), ConfigErrorKind::Missing);
    // On another ensemble the daemons' auth says nothing about Flink's.
    sec.load(&format!("{without}zookeeper_quorum = \"zk9:2181\"\n"), &[]).unwrap();
    // Flink's user must not be the daemons'.
    let e = sec.load(&sec.flink(), &[("FHS_ZOOKEEPER__USER", "flink".to_string())]).unwrap_err();
    assert_error(&e, "flink.zookeeper_jaas_file", &["\"flink\" is zookeeper.user", "TaskManager"]);
}

#[test]
fn config_flinks_jaas_file_is_checked_when_the_settings_load() {
    use std::os::unix::fs::PermissionsExt as _;
    let sec = Secured::new();
    let jaas = sec.dir.path().join("flink-jaas.conf");
    std::fs::set_permissions(&jaas, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = sec.load(&sec.flink(), &[]).unwrap_err();
    assert_error(&e, "flink.zookeeper_jaas_file", &["readable by others (mode 0644)", "chmod 600"]);
    std::fs::set_permissions(&jaas, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&jaas, FLINK_JAAS.replace("org.apache.flink.shaded.zookeeper3.", "")).unwrap();
    let e = sec.load(&sec.flink(), &[]).unwrap_err();
    assert_error(&e, "flink.zookeeper_jaas_file", &["Flink does not have", "shaded"]);
    assert!(!e.to_string().contains("secret-pw"), "{e}");
    let e = sec.load(&sec.flink().replace(&sec.path("flink-jaas.conf"), "flink-jaas.conf"), &[]).unwrap_err();
    assert_error(&e, "flink.zookeeper_jaas_file", &["relative"]);
    let e = sec.load(&sec.flink().replace("flink-jaas.conf", "flink jaas.conf"), &[]).unwrap_err();
    assert_error(&e, "flink.zookeeper_jaas_file", &["split on or expand"]);
}

#[test]
fn configurator_with_tls_flinks_client_gets_the_shaded_netty_socket_the_ca_and_its_own_certificate() {
    let sec = Secured::new();
    let tls = [("FHS_ZOOKEEPER__TLS_CA_FILE", sec.path("ca.pem"))];
    let opts = text(&sec.keys(&sec.flink(), &tls), "env.java.default-opts.all");
    let expected = format!(
        "-Djava.security.auth.login.config={} -Dzookeeper.client.secure=true -Dzookeeper.clientCnxnSocket=org.apache.flink.shaded.zookeeper3.org.apache.zookeeper.ClientCnxnSocketNetty -Dzookeeper.ssl.trustStore.location={} -Dzookeeper.ssl.trustStore.type=PEM",
        sec.path("flink-jaas.conf"),
        sec.path("ca.pem")
    );
    assert_eq!(opts, expected);
    let with_keystore = format!("{}zookeeper_tls_keystore = {:?}\n", sec.flink(), sec.path("flink-zk.pem"));
    let opts = text(&sec.keys(&with_keystore, &tls), "env.java.default-opts.all");
    assert!(
        opts.ends_with(&format!(
            " -Dzookeeper.ssl.keyStore.location={} -Dzookeeper.ssl.keyStore.type=PEM",
            sec.path("flink-zk.pem")
        )),
        "{opts}"
    );
    // The daemons' own certificate is an identity (x509:<subject>): Flink may not share it.
    let daemon_cert = [
        ("FHS_ZOOKEEPER__TLS_CA_FILE", sec.path("ca.pem")),
        ("FHS_ZOOKEEPER__TLS_CERT_FILE", sec.path("daemon.pem")),
        ("FHS_ZOOKEEPER__TLS_KEY_FILE", sec.path("daemon.key")),
    ];
    let shared = format!("{}zookeeper_tls_keystore = {:?}\n", sec.flink(), sec.path("daemon.key"));
    let e = sec.load(&shared, &daemon_cert).unwrap_err();
    assert_error(&e, "flink.zookeeper_tls_keystore", &["the daemons' own client certificate", "x509"]);
    // Without TLS on the daemons' ensemble the keystore is ignored, with a warning.
    let env = sec.daemon_env(&[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, w) = load_env(&with_keystore, &env).unwrap();
    assert!(w.iter().any(|w| w.key == "flink.zookeeper_tls_keystore" && w.message.contains("ignored")), "{w:?}");
}

#[test]
fn configurator_for_taskmanagers_carries_the_same_login_and_acl() {
    let sec = Secured::new();
    let mut s = sec.load(&sec.flink(), &[]).unwrap();
    s.jobmanager.standby = "cold".into();
    let yaml = render::render(&s).unwrap().unwrap().yaml;
    assert!(yaml.contains("high-availability.zookeeper.client.acl: creator\n"), "{yaml}");
    assert!(
        yaml.contains(&format!(
            "env.java.default-opts.all: -Djava.security.auth.login.config={}\n",
            sec.path("flink-jaas.conf")
        )),
        "{yaml}"
    );
}
