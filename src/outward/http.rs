//! The node's HTTP endpoint (`http.listen`, default 127.0.0.1:9249; axum on the daemon's tokio
//! runtime):
//!
//! * `GET /health`: 200 while the daemon runs, its ZooKeeper session is connected and fresh, and
//!   no node that the daemons never remove holds it up in the election, else 503 with the reason;
//! * `GET /leader`: 200 while this node leads and its JobManager is ready, else 503, for load
//!   balancers and clients (as Patroni's `/leader`);
//! * `GET /status`: the node's view as JSON ([`StatusDoc`]);
//! * `GET /metrics`: Prometheus metrics (`crate::outward::metrics`).
//!
//! Every answer is computed from the latest [`NodeView`] the daemon published through its
//! `watch` channel: a handler only clones the snapshot, so a request can neither block nor slow
//! the daemon's loop, and a hung loop shows as a stale view (`last_heard` older than the session
//! timeout), which `/health` and `/leader` answer with 503.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::watch;

use crate::config::Settings;
use crate::outward::metrics;
use flink_ha_core::failover::StatsSummary;
use flink_ha_core::view::{NodeView, RoleView, SessionView};

/// The banner `/status` carries while maintenance mode is on.
pub(crate) const PAUSED_WARNING: &str = "MAINTENANCE MODE: the daemons do not fail over, restart or stop the JobManager on their own; `flink-ha-supervisor resume` ends it";

/// `http.listen` could not be bound. Displays as one line naming the key, the address and the fix.
#[derive(Debug)]
pub(crate) struct BindError {
    addr: SocketAddr,
    error: std::io::Error,
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "http.listen: cannot listen on {}: {}; stop what holds the address, set http.listen to another ip:port, or to \"\" to turn the endpoint off",
            self.addr, self.error
        )
    }
}

impl std::error::Error for BindError {}

/// A bound endpoint that does not serve yet.
pub(crate) struct Endpoint {
    listener: tokio::net::TcpListener,
    freshness: Duration,
}

/// Binds `http.listen`; `Ok(None)` when it is off. Call it before anything else starts, so that a
/// taken address stops the daemon at once.
pub(crate) async fn bind(settings: &Settings) -> Result<Option<Endpoint>, BindError> {
    // Validation refuses a bad address; should one get here anyway, the endpoint stays off.
    let Ok(Some(addr)) = settings.http.listen_addr() else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|error| BindError { addr, error })?;
    Ok(Some(Endpoint { listener, freshness: settings.zookeeper.session_timeout }))
}

impl Endpoint {
    /// Serves the endpoint from `view` on a task of its own until the returned handle is dropped.
    pub(crate) fn serve(self, view: watch::Receiver<NodeView>) -> Serving {
        let state = Shared { view, freshness: self.freshness };
        let app = Router::new()
            .route("/health", get(health))
            .route("/leader", get(leader))
            .route("/status", get(status))
            .route("/metrics", get(metrics_text))
            .with_state(state);
        let listener = self.listener;
        Serving(crate::daemon::supervise::spawn("http", async move {
            axum::serve(listener, app).await.map_err(|e| format!("the HTTP endpoint stopped: {e}"))
        }))
    }
}

/// The running endpoint; dropping it stops the server.
pub(crate) struct Serving(tokio::task::JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
struct Shared {
    view: watch::Receiver<NodeView>,
    /// A view whose `last_heard` is older than this is stale (the session timeout).
    freshness: Duration,
}

impl Shared {
    fn snapshot(&self) -> NodeView {
        self.view.borrow().clone()
    }
}

/// Whether the session is connected and the server answered within `freshness` (which also
/// proves that the daemon's loop still publishes). `Err` says why not.
pub(crate) fn check_health(view: &NodeView, now: SystemTime, freshness: Duration) -> Result<(), String> {
    if let Some(why) = &view.failed {
        return Err(format!("{why}; the daemon is stopping"));
    }
    if let Some(b) = &view.election_blocked {
        return Err(format!("the election is blocked by {} ({}); {}", b.node, b.why, b.remedy));
    }
    match view.session {
        SessionView::Connected => {}
        SessionView::Connecting => return Err("no ZooKeeper session (connecting)".into()),
        SessionView::Disconnected => return Err("the ZooKeeper session is disconnected".into()),
    }
    match view.last_heard {
        None => Err("ZooKeeper has not answered a heartbeat yet".into()),
        Some(t) => {
            let age = now.duration_since(t).unwrap_or_default();
            if age > freshness {
                Err(format!("ZooKeeper last answered {:.1}s ago", age.as_secs_f64()))
            } else {
                Ok(())
            }
        }
    }
}

/// Whether this node serves as the leader: it leads, its JobManager is ready, and the view is
/// fresh. `Err` says why not.
pub(crate) fn check_leader(view: &NodeView, now: SystemTime, freshness: Duration) -> Result<(), String> {
    if view.role != RoleView::Leader {
        return Err("not the leader (standby)".into());
    }
    if !view.serving() {
        return Err(format!("the leader's JobManager is not ready ({})", json_name(&view.jobmanager)));
    }
    if let Some(why) = &view.failed {
        return Err(format!("{why}; the daemon is stopping"));
    }
    if let Some(t) = view.last_heard {
        let age = now.duration_since(t).unwrap_or_default();
        if age > freshness {
            return Err(format!("ZooKeeper last answered {:.1}s ago", age.as_secs_f64()));
        }
    }
    Ok(())
}

async fn health(State(shared): State<Shared>) -> Response {
    verdict(check_health(&shared.snapshot(), SystemTime::now(), shared.freshness), "ok")
}

async fn leader(State(shared): State<Shared>) -> Response {
    verdict(check_leader(&shared.snapshot(), SystemTime::now(), shared.freshness), "leader, JobManager ready")
}

fn verdict(result: Result<(), String>, ok: &str) -> Response {
    match result {
        Ok(()) => (StatusCode::OK, format!("{ok}\n")).into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn status(State(shared): State<Shared>) -> Json<StatusDoc> {
    let view = shared.snapshot();
    let now = SystemTime::now();
    Json(StatusDoc::new(&view, now, shared.freshness))
}

async fn metrics_text(State(shared): State<Shared>) -> Response {
    let text = metrics::render(&shared.snapshot());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// The JSON of `GET /status`: the node's view, what `/health` and `/leader` would answer, the
/// failover figures, and while paused a loud `warning`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusDoc {
    /// The view: `node`, `role`, `epoch`, `session`, `jobmanager`, `last_heard`,
    /// `leader_since`, `paused`, `jobmanager_restarts`.
    #[serde(flatten)]
    pub view: NodeView,
    /// What `/health` answers: true for 200.
    pub healthy: bool,
    /// What `/leader` answers: true for 200.
    pub serving: bool,
    /// Failovers this node completed as the new leader.
    pub failovers: FailoverFigures,
    /// [`PAUSED_WARNING`] while maintenance mode is on; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

impl StatusDoc {
    /// The document for `view` at `now`.
    pub(crate) fn new(view: &NodeView, now: SystemTime, freshness: Duration) -> StatusDoc {
        StatusDoc {
            healthy: check_health(view, now, freshness).is_ok(),
            serving: check_leader(view, now, freshness).is_ok(),
            failovers: FailoverFigures::from(view.failovers),
            warning: view.paused.then_some(PAUSED_WARNING),
            view: view.clone(),
        }
    }
}

/// [`StatsSummary`] in milliseconds, as the audit records give durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct FailoverFigures {
    /// Failovers measured.
    pub count: u64,
    /// The most recent outage.
    pub last_ms: Option<u64>,
    /// Median outage (nearest rank).
    pub p50_ms: Option<u64>,
    /// 95th percentile outage (nearest rank).
    pub p95_ms: Option<u64>,
    /// Longest outage.
    pub max_ms: Option<u64>,
    /// Failovers over `failover.budget`.
    pub over_budget: u64,
}

impl From<StatsSummary> for FailoverFigures {
    fn from(s: StatsSummary) -> Self {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        FailoverFigures {
            count: s.count,
            last_ms: ms(s.last),
            p50_ms: ms(s.p50),
            p95_ms: ms(s.p95),
            max_ms: ms(s.max),
            over_budget: s.over_budget,
        }
    }
}

/// The snake_case JSON name of a view enum.
fn json_name(value: &impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flink_ha_core::view::JobManagerView;

    const FRESH: Duration = Duration::from_secs(10);

    fn leader_view(now: SystemTime) -> NodeView {
        let mut view = NodeView::starting("jm1");
        view.role = RoleView::Leader;
        view.epoch = Some(7);
        view.session = SessionView::Connected;
        view.jobmanager = JobManagerView::Ready;
        view.last_heard = Some(now - Duration::from_millis(300));
        view
    }

    #[test]
    fn health_needs_a_connected_fresh_session() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        assert_eq!(check_health(&view, now, FRESH), Ok(()));
        view.last_heard = Some(now - Duration::from_secs(11));
        assert!(check_health(&view, now, FRESH).unwrap_err().contains("11.0s ago"));
        view.last_heard = None;
        assert!(check_health(&view, now, FRESH).is_err());
        view.last_heard = Some(now);
        view.session = SessionView::Disconnected;
        assert!(check_health(&view, now, FRESH).unwrap_err().contains("disconnected"));
        assert!(check_health(&NodeView::starting("jm1"), now, FRESH).unwrap_err().contains("connecting"));
    }

    #[test]
    fn a_blocked_election_is_unhealthy_and_names_the_node() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        view.role = RoleView::Standby;
        view.election_blocked = Some(flink_ha_core::view::BlockedView {
            node: "x-latch-0000000000".into(),
            why: "a persistent node".into(),
            remedy: "delete it".into(),
        });
        let why = check_health(&view, now, FRESH).unwrap_err();
        assert!(why.contains("blocked by x-latch-0000000000 (a persistent node); delete it"), "{why}");
        let json = serde_json::to_value(StatusDoc::new(&view, now, FRESH)).unwrap();
        assert_eq!(json["healthy"], false);
        assert_eq!(json["election_blocked"]["node"], "x-latch-0000000000");
    }

    #[test]
    fn a_dead_task_is_unhealthy_and_serves_nothing() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        view.failed = Some("the daemon's task `heartbeat` died: panicked".into());
        let why = check_health(&view, now, FRESH).unwrap_err();
        assert!(why.contains("`heartbeat` died") && why.ends_with("the daemon is stopping"), "{why}");
        assert!(check_leader(&view, now, FRESH).is_err());
        let status = serde_json::to_value(&view).unwrap();
        assert_eq!(status["failed"], "the daemon's task `heartbeat` died: panicked");
    }

    #[test]
    fn leader_needs_leadership_and_a_ready_jobmanager() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        assert_eq!(check_leader(&view, now, FRESH), Ok(()));
        view.jobmanager = JobManagerView::Starting;
        assert!(check_leader(&view, now, FRESH).unwrap_err().contains("(starting)"));
        view.jobmanager = JobManagerView::Ready;
        view.last_heard = Some(now - Duration::from_secs(30));
        assert!(check_leader(&view, now, FRESH).is_err(), "a stale view does not serve");
        view.role = RoleView::Standby;
        assert!(check_leader(&view, now, FRESH).unwrap_err().contains("standby"));
    }

    #[test]
    fn status_json_has_the_view_the_verdicts_and_the_figures() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        view.failovers = StatsSummary {
            count: 1,
            last: Some(Duration::from_millis(3059)),
            p50: Some(Duration::from_millis(3059)),
            p95: Some(Duration::from_millis(3059)),
            max: Some(Duration::from_millis(3059)),
            over_budget: 0,
        };
        let json = serde_json::to_value(StatusDoc::new(&view, now, FRESH)).unwrap();
        assert_eq!(json["node"], "jm1");
        assert_eq!(json["role"], "leader");
        assert_eq!(json["epoch"], 7);
        assert_eq!(json["session"], "connected");
        assert_eq!(json["jobmanager"], "ready");
        assert_eq!(json["paused"], false);
        assert_eq!(json["healthy"], true);
        assert_eq!(json["serving"], true);
        assert_eq!(json["failovers"]["count"], 1);
        assert_eq!(json["failovers"]["last_ms"], 3059);
        assert!(json.get("warning").is_none(), "{json}");
        assert!(json.get("outages").is_none(), "{json}");
        assert!(json["last_heard"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn status_json_says_paused_loudly() {
        let now = SystemTime::now();
        let mut view = leader_view(now);
        view.paused = true;
        let json = serde_json::to_value(StatusDoc::new(&view, now, FRESH)).unwrap();
        assert_eq!(json["paused"], true);
        assert!(json["warning"].as_str().unwrap().starts_with("MAINTENANCE MODE"), "{json}");
    }
}
