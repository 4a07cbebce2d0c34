//! `flink-ha-supervisor run`: the event loop that feeds the state machine from the adapters
//! (ZooKeeper session and election, the JobManager process, probes, signals) and carries out the
//! actions it returns. It decides nothing itself.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, UnboundedSender};
use zookeeper_client as zk;

use crate::config::Settings;
use crate::election::{self, Request, Session, ZkTarget};
use crate::identity::NodeIdentity;
use crate::jobmanager::{self, Running};
use crate::machine::{Action, Event, Machine, Report, Role, Timings};
use crate::probe::Probe;
use crate::timing;

/// Pause between attempts to make a session.
const CONNECT_RETRY: Duration = Duration::from_secs(1);

/// How long a shutdown waits for the server to acknowledge the session's close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// Messages from the adapters that are not machine events of a session or a process.
enum Note {
    /// A new session for `generation` is up.
    Connected {
        generation: u64,
        client: zk::Client,
        started_at: Instant,
    },
    /// A probe finished.
    Probed(bool),
}

/// Runs the daemon until `shutdown` resolves and the shutdown completed.
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let node_id = settings.node.id.clone();
    let identity = identity_of(&settings);
    let target = ZkTarget {
        quorum: settings.zookeeper.quorum.clone(),
        session_timeout: settings.zookeeper.session_timeout,
        connect_timeout: settings.zookeeper.connect_timeout,
    };
    let path = settings.election.path.clone();
    let spec = jobmanager::Spec {
        guard_exe: std::env::current_exe()?,
        settings: settings.jobmanager.clone(),
    };
    let probe = Probe::new(
        &settings.jobmanager.ready_url,
        settings
            .jobmanager
            .health_interval
            .clamp(Duration::from_millis(200), Duration::from_secs(5)),
    );
    let mut machine = Machine::new(Timings {
        start_timeout: settings.jobmanager.start_timeout,
        stop_grace: settings.jobmanager.stop_grace,
        health_interval: settings.jobmanager.health_interval,
        health_failures: settings.jobmanager.health_failures,
        restart_limit: settings.jobmanager.restart_limit,
        restart_window: settings.jobmanager.restart_window,
    });

    let (process_tx, mut process_rx) = mpsc::unbounded_channel::<Event>();
    let (session_tx, mut session_rx) = mpsc::unbounded_channel::<election::SessionEvent>();
    let (note_tx, mut note_rx) = mpsc::unbounded_channel::<Note>();
    let mut generation = 1;
    let mut session: Option<Session> = None;
    let mut connecting = tokio::spawn(connect(target.clone(), generation, note_tx.clone()));
    let mut jm: Option<Running> = None;
    tokio::pin!(shutdown);
    let mut shutdown_seen = false;

    tracing::info!(
        event = "joined",
        node = node_id,
        path,
        quorum = target.quorum,
        "contending for leadership"
    );
    loop {
        let mut pending: VecDeque<Event> = VecDeque::new();
        let deadline = machine.poll_timeout();
        let mut actions = tokio::select! {
            biased;
            () = &mut shutdown, if !shutdown_seen => {
                shutdown_seen = true;
                machine.handle_event(Instant::now(), Event::ShutdownRequested)
            },
            Some(event) = process_rx.recv() => machine.handle_event(Instant::now(), event),
            Some((g, event)) = session_rx.recv() => {
                if g == generation { machine.handle_event(Instant::now(), event) } else { Vec::new() }
            },
            Some(note) = note_rx.recv() => match note {
                Note::Connected { generation: g, client, started_at } if g == generation => {
                    let negotiated_timeout = client.session_timeout();
                    tracing::info!(event = "session_started", node = node_id, session_id = %client.session_id(),
                        negotiated_timeout = %humantime::format_duration(negotiated_timeout), "ZooKeeper session established");
                    session = Some(Session::start(client, g, path.clone(), identity.to_json(),
                        timing::heartbeat_interval(negotiated_timeout), session_tx.clone()));
                    machine.handle_event(Instant::now(), Event::SessionStarted { negotiated_timeout, started_at })
                },
                Note::Connected { .. } => Vec::new(),
                Note::Probed(ok) => machine.handle_event(Instant::now(), Event::ProbeResult { ok }),
            },
            () = sleep_until(deadline), if deadline.is_some() => machine.handle_timeout(Instant::now()),
        };
        loop {
            for action in actions {
                match action {
                    Action::SpawnJobManager { lease_until } => {
                        match Running::spawn(&spec, lease_until, process_tx.clone()) {
                            Ok(running) => jm = Some(running),
                            Err(e) => pending.push_back(Event::JobManagerSpawnFailed {
                                error: e.to_string(),
                            }),
                        }
                    }
                    Action::RenewLease { until } => {
                        if let Some(jm) = jm.as_mut() {
                            jm.renew(until).await;
                        }
                    }
                    Action::StopJobManager { reason, grace } => {
                        tracing::info!(node = node_id, ?reason, grace = %humantime::format_duration(grace), "stopping the JobManager");
                        if let Some(jm) = jm.as_mut() {
                            jm.stop(grace).await;
                        }
                    }
                    Action::Probe => {
                        let (probe, note_tx) = (probe.clone(), note_tx.clone());
                        tokio::spawn(async move {
                            let _ = note_tx.send(Note::Probed(probe.check().await));
                        });
                    }
                    Action::Resign => {
                        if let Some(session) = &session {
                            session.request(Request::Resign);
                        }
                    }
                    Action::NewSession => {
                        if let Some(old) = session.take() {
                            tokio::spawn(old.close(Duration::ZERO));
                        }
                        connecting.abort();
                        generation += 1;
                        connecting =
                            tokio::spawn(connect(target.clone(), generation, note_tx.clone()));
                    }
                    Action::LeaveElection => {
                        connecting.abort();
                        if let Some(session) = session.take() {
                            session.close(CLOSE_WAIT).await;
                        }
                        pending.push_back(Event::LeftElection);
                    }
                    Action::Exit => {
                        tracing::info!(event = "exited", node = node_id, "shutdown complete");
                        return Ok(());
                    }
                    Action::Report(report) => log_report(&node_id, machine.role(), &report),
                }
            }
            let Some(event) = pending.pop_front() else {
                break;
            };
            if matches!(event, Event::JobManagerExited { .. }) {
                jm = None;
            }
            actions = machine.handle_event(Instant::now(), event);
        }
        if !machine.jobmanager().is_live() {
            jm = None;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Makes a session, retrying until it succeeds.
async fn connect(target: ZkTarget, generation: u64, notes: UnboundedSender<Note>) {
    loop {
        let started_at = Instant::now();
        match target.connect().await {
            Ok(client) => {
                let _ = notes.send(Note::Connected {
                    generation,
                    client,
                    started_at,
                });
                return;
            }
            Err(e) => {
                tracing::warn!(quorum = target.quorum, error = %e, "cannot make a ZooKeeper session; retrying");
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    }
}

/// What this daemon writes into its election node. The REST address is `ready_url`'s, with a
/// loopback host replaced by the host name, since other hosts read it.
fn identity_of(settings: &Settings) -> NodeIdentity {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into());
    let url = &settings.jobmanager.ready_url;
    let authority = url
        .split_once("://")
        .map_or(url.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let rest_address = match authority.rsplit_once(':') {
        Some((h, port)) if ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"].contains(&h) => {
            format!("{host}:{port}")
        }
        _ => authority.to_string(),
    };
    NodeIdentity {
        node_id: settings.node.id.clone(),
        host,
        rest_address,
        rpc_address: settings.jobmanager.rpc_address.clone(),
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Writes one report as a structured log line.
fn log_report(node: &str, role: Role, report: &Report) {
    let epoch = match role {
        Role::Leader { epoch } => Some(epoch),
        Role::Standby => None,
    };
    let d = |d: &Duration| d.as_millis() as u64;
    match report {
        Report::Elected { epoch } => tracing::info!(event = "elected", node, epoch, "this node leads"),
        Report::JobManagerSpawned { pid, attempt } => {
            tracing::info!(event = "jobmanager_spawned", node, epoch, pid, attempt, "JobManager started")
        },
        Report::JobManagerReady { startup } => {
            tracing::info!(event = "jobmanager_ready", node, epoch, startup_ms = d(startup), "JobManager ready")
        },
        Report::JobManagerExited { code } => {
            tracing::warn!(event = "jobmanager_exited", node, epoch, code, "JobManager exited on its own")
        },
        Report::JobManagerStopped { reason, code } => {
            tracing::info!(event = "jobmanager_stopped", node, epoch, ?reason, code, "JobManager stopped")
        },
        Report::JobManagerRestartScheduled { delay, restarts_in_window } => tracing::warn!(
            event = "jobmanager_restarted", node, epoch, delay_ms = d(delay), restarts_in_window, "restarting the JobManager"
        ),
        Report::JobManagerSpawnFailed { error } => {
            tracing::error!(event = "jobmanager_spawn_failed", node, epoch, error, "cannot start the JobManager")
        },
        Report::Resigned { restarts_in_window } => tracing::error!(
            event = "resigned", node, epoch, restarts_in_window, "the JobManager keeps failing; giving leadership away"
        ),
        Report::Fenced { silent_for } => tracing::error!(
            event = "fenced", node, epoch, silent_for_ms = d(silent_for),
            "no proof that the session is alive; stopping the JobManager before the session could expire"
        ),
        Report::LeadershipLost => tracing::warn!(event = "leadership_lost", node, "leadership lost"),
        Report::SessionDisconnected => {
            tracing::warn!(event = "session_disconnected", node, epoch, "lost the connection to ZooKeeper")
        },
        Report::SessionReconnected { disconnected_for } => tracing::info!(
            event = "session_reconnected", node, epoch, disconnected_for_ms = d(disconnected_for), "reconnected to ZooKeeper"
        ),
        Report::SessionExpired => tracing::warn!(event = "session_expired", node, "the ZooKeeper session expired; rejoining"),
        Report::SessionTimeoutTooShort { negotiated } => tracing::error!(
            event = "session_timeout_too_short", node, negotiated_ms = d(negotiated),
            max_stop_grace_ms = d(&timing::max_stop_grace(*negotiated)),
            "the server granted a session timeout too short to stop the JobManager in time; this node will not run it. Lower jobmanager.stop_grace or raise the server's minSessionTimeout"
        ),
        Report::Shutdown => tracing::info!(event = "shutdown", node, epoch, "shutting down"),
    }
}
