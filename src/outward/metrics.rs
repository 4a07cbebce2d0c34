//! `GET /metrics`: the node's view ([`NodeView`]) as Prometheus metrics, in the OpenMetrics text
//! format of the official Rust client (`prometheus-client`).
//!
//! The metrics are rendered from the latest published snapshot at every scrape, so the daemon's
//! loop never touches them; the counters count from the daemon's start (Prometheus' `rate` and
//! `increase` handle the reset at a restart). README.md ("Operating it") lists them.

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use flink_ha_core::view::{JobManagerView, NodeView, ParkedState, RoleView, SessionView};

/// The `Content-Type` of [`render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The prefix of every metric name.
pub(crate) const PREFIX: &str = "flink_ha_supervisor";

/// Upper bounds (seconds) of the failover outage histogram's buckets: fine around a planned
/// handover (a JobManager's start, seconds) and a crash (session timeout plus start), and one at
/// the default budget of 30 s.
pub(crate) const OUTAGE_BUCKETS: [f64; 13] =
    [1.0, 2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 45.0, 60.0, 120.0];

type Labels = [(&'static str, &'static str); 1];

/// The metrics of `view` as an OpenMetrics text exposition (ending in `# EOF`).
pub(crate) fn render(view: &NodeView) -> String {
    let mut registry = Registry::with_prefix(PREFIX);

    let role: Family<Labels, Gauge> = Family::default();
    for (name, value) in [("leader", RoleView::Leader), ("standby", RoleView::Standby)] {
        role.get_or_create(&[("role", name)]).set(i64::from(view.role == value));
    }
    registry.register("role", "This node's role in the election: 1 for the current one", role);

    let session: Family<Labels, Gauge> = Family::default();
    for (name, value) in [
        ("connecting", SessionView::Connecting),
        ("connected", SessionView::Connected),
        ("disconnected", SessionView::Disconnected),
    ] {
        session.get_or_create(&[("state", name)]).set(i64::from(view.session == value));
    }
    registry.register("session_state", "State of the ZooKeeper session: 1 for the current one", session);

    let last_heard = Gauge::<f64, AtomicU64>::default();
    last_heard.set(view.last_heard.map_or(0.0, unix_seconds));
    registry.register_with_unit(
        "zookeeper_last_heard_timestamp",
        "When ZooKeeper last answered this node's heartbeat (Unix time; 0: not yet in this session)",
        Unit::Seconds,
        last_heard,
    );

    let paused = Gauge::<i64>::default();
    paused.set(i64::from(view.paused));
    registry.register("paused", "1 while maintenance mode holds every failover, restart and stop", paused);

    let blocked = Gauge::<i64>::default();
    blocked.set(i64::from(view.election_blocked.is_some()));
    registry.register(
        "election_blocked",
        "1 while a node that no daemon removes (persistent, or not a daemon's) sits ahead of this node in the election",
        blocked,
    );

    let blocked_total = Counter::<u64>::default();
    blocked_total.inc_by(view.election_blocked_total);
    registry.register(
        "election_blocks",
        "How often this node found such a node ahead of it since the daemon started",
        blocked_total,
    );

    let audit_failures = Counter::<u64>::default();
    audit_failures.inc_by(view.audit_write_failures);
    registry.register(
        "audit_write_failures",
        "Audit records that did not reach log.audit_file (failed writes, e.g. a full disk, and records dropped while the writer lagged)",
        audit_failures,
    );

    let up = Gauge::<i64>::default();
    up.set(i64::from(view.jobmanager == JobManagerView::Ready));
    registry.register("jobmanager_up", "1 while the local JobManager runs and answers its ready_url", up);

    let parked = Gauge::<i64>::default();
    parked.set(i64::from(view.parked.as_ref().is_some_and(|p| p.state == ParkedState::Parked)));
    registry.register(
        "jobmanager_parked",
        "1 while a parked JobManager waits at its gate on this standby, ready to release",
        parked,
    );

    let latch_failures = Counter::<u64>::default();
    latch_failures.inc_by(view.latch_clearing_failures);
    registry.register(
        "latch_clearing_failures",
        "Starts whose clearing of Flink's dead leader latches failed or timed out (Flink's election may then wait for dead sessions)",
        latch_failures,
    );

    let restarts = Counter::<u64>::default();
    restarts.inc_by(view.jobmanager_restarts);
    registry.register("jobmanager_restarts", "Local restarts of the JobManager since the daemon started", restarts);

    let failovers = Counter::<u64>::default();
    failovers.inc_by(view.failovers.count);
    registry.register("failovers", "Failovers this node completed as the new leader", failovers);

    let over_budget = Counter::<u64>::default();
    over_budget.inc_by(view.failovers.over_budget);
    registry.register("failovers_over_budget", "Failovers whose outage exceeded failover.budget", over_budget);

    let outages = Histogram::new(OUTAGE_BUCKETS);
    for outage in &view.outages {
        outages.observe(outage.as_secs_f64());
    }
    registry.register_with_unit(
        "failover_outage",
        "Outage of each failover this node completed: from the old JobManager's end of service to the new one's readiness",
        Unit::Seconds,
        outages,
    );

    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String cannot fail");
    text
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use flink_ha_core::failover::StatsSummary;

    fn sample(text: &str, name: &str) -> Vec<String> {
        text.lines().filter(|l| l.starts_with(name)).map(str::to_string).collect()
    }

    #[test]
    fn a_fresh_standby_has_every_family_with_zeroes() {
        let text = render(&NodeView::starting("jm1"));
        assert!(text.ends_with("# EOF\n"), "{text}");
        for family in [
            "role gauge",
            "session_state gauge",
            "zookeeper_last_heard_timestamp_seconds gauge",
            "paused gauge",
            "election_blocked gauge",
            "election_blocks counter",
            "audit_write_failures counter",
            "jobmanager_up gauge",
            "jobmanager_restarts counter",
            "failovers counter",
            "failovers_over_budget counter",
            "failover_outage_seconds histogram",
        ] {
            assert!(text.contains(&format!("# TYPE {PREFIX}_{family}\n")), "{family} missing:\n{text}");
        }
        assert_eq!(
            sample(&text, "flink_ha_supervisor_role{role=\"standby\"}"),
            ["flink_ha_supervisor_role{role=\"standby\"} 1"]
        );
        assert_eq!(
            sample(&text, "flink_ha_supervisor_role{role=\"leader\"}"),
            ["flink_ha_supervisor_role{role=\"leader\"} 0"]
        );
        assert_eq!(sample(&text, "flink_ha_supervisor_failovers_total"), ["flink_ha_supervisor_failovers_total 0"]);
        assert_eq!(
            sample(&text, "flink_ha_supervisor_failover_outage_seconds_count"),
            ["flink_ha_supervisor_failover_outage_seconds_count 0"]
        );
    }

    #[test]
    fn a_leader_after_two_failovers() {
        let mut view = NodeView::starting("jm2");
        view.role = RoleView::Leader;
        view.session = SessionView::Connected;
        view.jobmanager = JobManagerView::Ready;
        view.jobmanager_restarts = 2;
        view.last_heard = Some(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
        view.outages = vec![Duration::from_millis(3_200), Duration::from_millis(40_000)];
        view.failovers = StatsSummary { count: 2, over_budget: 1, ..StatsSummary::default() };
        let text = render(&view);
        for (name, value) in [
            ("flink_ha_supervisor_role{role=\"leader\"}", "1"),
            ("flink_ha_supervisor_session_state{state=\"connected\"}", "1"),
            ("flink_ha_supervisor_session_state{state=\"connecting\"}", "0"),
            ("flink_ha_supervisor_jobmanager_up", "1"),
            ("flink_ha_supervisor_jobmanager_restarts_total", "2"),
            ("flink_ha_supervisor_failovers_total", "2"),
            ("flink_ha_supervisor_failovers_over_budget_total", "1"),
            ("flink_ha_supervisor_zookeeper_last_heard_timestamp_seconds", "1700000000.25"),
            ("flink_ha_supervisor_failover_outage_seconds_count", "2"),
            ("flink_ha_supervisor_failover_outage_seconds_sum", "43.2"),
            ("flink_ha_supervisor_failover_outage_seconds_bucket{le=\"5.0\"}", "1"),
            ("flink_ha_supervisor_failover_outage_seconds_bucket{le=\"30.0\"}", "1"),
            ("flink_ha_supervisor_failover_outage_seconds_bucket{le=\"45.0\"}", "2"),
            ("flink_ha_supervisor_failover_outage_seconds_bucket{le=\"+Inf\"}", "2"),
        ] {
            assert_eq!(sample(&text, &format!("{name} ")), [format!("{name} {value}")], "{text}");
        }
    }
}
