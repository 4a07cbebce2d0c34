//! `flink-ha-supervisor run`: the event loop that feeds the state machine from the adapters
//! (ZooKeeper session and election, the leader record, the JobManager process, probes, signals)
//! and carries out the actions it returns. It decides nothing itself.

pub mod supervise;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use zookeeper_client as zk;

use crate::audit_log;
use crate::config::Settings;
use crate::host;
use crate::outward::hooks::Hooks;
use crate::outward::systemd::{FaultInjection, Notifier};
use crate::process::jobmanager::{self, Running};
use crate::process::mono;
use crate::process::probe::Probe;
use crate::zk::control;
use crate::zk::election::{self, Request, Session};
use crate::zk::leader_record::{Term, TermSpec};
use crate::zk::session::ZkTarget;
use flink_ha_core::blocking;
use flink_ha_core::failover::{self, Failover, FailoverStats};
use flink_ha_core::identity::NodeIdentity;
use flink_ha_core::machine::{Action, Event, JobManager, Machine, Report, ResignReason, Role, StopReason, Timings};
use flink_ha_core::timing;
use flink_ha_core::view::{BlockedView, JobManagerView, NodeView, RoleView, SessionView};
use flink_ha_core::walltime::rfc3339_ms;
use supervise::Death;

/// Pause between attempts to make a session.
const CONNECT_RETRY: Duration = Duration::from_secs(1);

/// How long a shutdown waits for the server to acknowledge the session's close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);

/// After a task died, how much longer than `jobmanager.stop_grace` the orderly stop may take
/// before the daemon exits all the same (its fence guard then stops the JobManager).
const FATAL_EXIT_SLACK: Duration = Duration::from_secs(10);

/// Messages from the adapters that are not machine events of a session or a process.
enum Note {
    /// A new session for `generation` is up.
    Connected { generation: u64, client: zk::Client, started_at: Instant },
    /// A probe finished.
    Probed(bool),
}

/// The receiving ends of the adapters' channels.
struct Inbox {
    process: UnboundedReceiver<Event>,
    session: UnboundedReceiver<election::SessionEvent>,
    notes: UnboundedReceiver<Note>,
    failovers: UnboundedReceiver<Failover>,
}

/// The monotonic instants of the current leadership term, for the failover's parts.
#[derive(Debug, Default)]
struct TermClock {
    elected: Option<Instant>,
    spawned: Option<Instant>,
    ready_reported: bool,
}

/// The adapters around the machine and the state they need.
struct Daemon {
    settings: Settings,
    identity: NodeIdentity,
    target: ZkTarget,
    spec: jobmanager::Spec,
    probe: Probe,
    machine: Machine,
    process_tx: UnboundedSender<Event>,
    session_tx: UnboundedSender<election::SessionEvent>,
    note_tx: UnboundedSender<Note>,
    failover_tx: UnboundedSender<Failover>,
    /// The session generation whose events count; older sessions' events are dropped.
    generation: u64,
    session: Option<Session>,
    negotiated_timeout: Duration,
    connecting: tokio::task::JoinHandle<()>,
    jm: Option<Running>,
    term: Option<Term>,
    clock: TermClock,
    stats: FailoverStats,
    /// When this node last became leader (wall clock), for the view.
    leader_since: Option<std::time::SystemTime>,
    /// The published snapshot of this node.
    view: tokio::sync::watch::Sender<NodeView>,
    /// systemd: readiness, status, watchdog.
    notifier: Notifier,
    /// `[hooks]`: commands run on role changes, never awaited by the loop.
    hooks: Hooks,
    /// A task of the daemon died: the daemon stops and exits non-zero.
    failed: Option<Death>,
}

/// Runs the daemon until `shutdown` resolves and the shutdown completed.
/// A task that dies (see `supervise.rs`) stops the daemon as a shutdown does, and it returns the
/// death as its error.
pub async fn run(settings: Settings, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let mut deaths = supervise::watch();
    let endpoint = crate::outward::http::bind(&settings).await?;
    let (mut daemon, mut inbox) = Daemon::new(settings)?;
    let _http = endpoint.map(|endpoint| endpoint.serve(daemon.view.subscribe()));
    let mut faults = FaultInjection::from_armed()?;
    tokio::pin!(shutdown);
    let mut shutdown_seen = false;
    audit_log!(
        info,
        "joined",
        daemon.node(),
        None,
        path = daemon.settings.election.path,
        quorum = daemon.target.quorum,
        "contending for leadership"
    );
    let mut fatal_deadline = None;
    loop {
        let deadline = daemon.machine.poll_timeout();
        let ping = daemon.notifier.next_ping();
        // The machine's clock counts suspended time (mono.rs).
        let now = mono::now;
        let actions = tokio::select! {
            biased;
            Some(death) = deaths.recv(), if daemon.failed.is_none() => {
                // Logged where it died; from here on /health answers 503 with it.
                fatal_deadline = Some(now() + daemon.settings.jobmanager.stop_grace + FATAL_EXIT_SLACK);
                daemon.failed = Some(death);
                daemon.machine.handle_event(now(), Event::ShutdownRequested)
            },
            () = sleep_until(fatal_deadline) => {
                let death = daemon.failed.take().expect("a deadline only after a death");
                return Err(anyhow::anyhow!("{death}; the orderly stop did not finish in time"));
            },
            () = &mut shutdown, if !shutdown_seen => {
                shutdown_seen = true;
                daemon.machine.handle_event(now(), Event::ShutdownRequested)
            },
            Some(event) = inbox.process.recv() => daemon.machine.handle_event(now(), event),
            Some((generation, event)) = inbox.session.recv() => {
                if generation == daemon.generation { daemon.machine.handle_event(now(), event) } else { Vec::new() }
            },
            Some(note) = inbox.notes.recv() => daemon.on_note(note),
            Some(measured) = inbox.failovers.recv() => {
                daemon.on_failover(&measured);
                Vec::new()
            },
            () = sleep_until(deadline), if deadline.is_some() => daemon.machine.handle_timeout(now()),
            // Only wakes the loop: the ping is sent at the end of the turn, from the loop itself.
            () = sleep_until_monotonic(ping), if ping.is_some() => Vec::new(),
            () = faults.triggered() => {
                faults.block_loop();
                Vec::new()
            },
        };
        let exit = daemon.execute(actions).await;
        daemon.publish();
        daemon.notifier.end_of_turn(Instant::now(), &daemon.machine, daemon.session.is_some());
        if exit {
            // A failover measured just before the shutdown (the term is released by now, so
            // everything it measured is in the channel).
            while let Ok(measured) = inbox.failovers.try_recv() {
                daemon.on_failover(&measured);
            }
            // The JobManager is stopped and the election left: the last on_standby may finish.
            daemon.hooks.drain().await;
            if let Some(death) = daemon.failed.take() {
                return Err(anyhow::anyhow!("{death}; the JobManager is stopped and the election left"));
            }
            audit_log!(info, "exited", daemon.node(), None, "shutdown complete");
            return Ok(());
        }
    }
}

impl Daemon {
    fn new(settings: Settings) -> anyhow::Result<(Daemon, Inbox)> {
        let (process_tx, process) = mpsc::unbounded_channel();
        let (session_tx, session) = mpsc::unbounded_channel();
        let (note_tx, notes) = mpsc::unbounded_channel();
        let (failover_tx, failovers) = mpsc::unbounded_channel();
        let target = ZkTarget::of(&settings);
        let jm = &settings.jobmanager;
        let daemon = Daemon {
            identity: identity_of(&settings),
            spec: jobmanager::Spec { guard_exe: std::env::current_exe()?, settings: jm.clone() },
            probe: Probe::new(
                &jm.ready_url,
                jm.health_interval.clamp(Duration::from_millis(200), Duration::from_secs(5)),
            ),
            machine: Machine::new(Timings {
                start_timeout: jm.start_timeout,
                stop_grace: jm.stop_grace,
                health_interval: jm.health_interval,
                health_failures: jm.health_failures,
                restart_limit: jm.restart_limit,
                restart_window: jm.restart_window,
            }),
            connecting: supervise::spawn("connect", connect(target.clone(), 1, note_tx.clone())),
            target,
            process_tx,
            session_tx,
            note_tx,
            failover_tx,
            generation: 1,
            session: None,
            negotiated_timeout: settings.zookeeper.session_timeout,
            jm: None,
            term: None,
            clock: TermClock::default(),
            stats: FailoverStats::default(),
            leader_since: None,
            view: tokio::sync::watch::Sender::new(NodeView::starting(&settings.node.id)),
            notifier: Notifier::from_env(&settings),
            hooks: Hooks::new(&settings),
            failed: None,
            settings,
        };
        Ok((daemon, Inbox { process, session, notes, failovers }))
    }

    /// Publishes the node's current snapshot if it changed.
    fn publish(&self) {
        if let Some(error) = crate::outward::logging::first_audit_failure() {
            let file = self.settings.log.audit_file.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
            tracing::error!(event = "audit_write_failed", node = self.node(), file, error,
                "cannot write to log.audit_file; its records are lost until it works again (counted in flink_ha_supervisor_audit_write_failures_total), the records on stdout are complete");
        }
        let m = &self.machine;
        let session = match (&self.session, m.is_disconnected()) {
            (None, _) => SessionView::Connecting,
            (Some(_), true) => SessionView::Disconnected,
            (Some(_), false) => SessionView::Connected,
        };
        let jobmanager = match m.jobmanager() {
            JobManager::Stopped => JobManagerView::Stopped,
            JobManager::Spawning { .. } | JobManager::Starting { .. } => JobManagerView::Starting,
            JobManager::Ready => JobManagerView::Ready,
            JobManager::Stopping { .. } => JobManagerView::Stopping,
            JobManager::Backoff { .. } => JobManagerView::Backoff,
        };
        let (role, epoch) = match m.role() {
            Role::Leader { epoch } => (RoleView::Leader, Some(epoch)),
            Role::Standby => (RoleView::Standby, None),
        };
        let now = (mono::now(), std::time::SystemTime::now());
        let view = NodeView {
            node: self.settings.node.id.clone(),
            role,
            epoch,
            session,
            jobmanager,
            last_heard: m.last_heard().map(|t| now.1 - now.0.saturating_duration_since(t)),
            leader_since: if role == RoleView::Leader { self.leader_since } else { None },
            paused: m.is_paused(),
            jobmanager_restarts: m.restarts_total(),
            election_blocked: m.blocked().map(|b| BlockedView {
                node: b.name.clone(),
                why: b.why.to_string(),
                remedy: blocking::remedy(&self.settings.zookeeper.quorum, &self.settings.election.path, &b.name),
            }),
            election_blocked_total: m.blocked_total(),
            audit_write_failures: crate::outward::logging::audit_write_failures(),
            failovers: self.stats.summary(),
            outages: self.stats.outages().to_vec(),
            failed: self.failed.as_ref().map(Death::to_string),
        };
        self.view.send_if_modified(|old| {
            let changed = *old != view;
            *old = view;
            changed
        });
    }

    fn node(&self) -> &str {
        &self.settings.node.id
    }

    fn on_note(&mut self, note: Note) -> Vec<Action> {
        match note {
            Note::Connected { generation, client, started_at } if generation == self.generation => {
                let negotiated_timeout = client.session_timeout();
                self.negotiated_timeout = negotiated_timeout;
                audit_log!(info, "session_started", self.node(), None, session_id = %client.session_id(),
                    negotiated_timeout_ms = negotiated_timeout.as_millis() as u64, "ZooKeeper session established");
                self.session = Some(Session::start(
                    client,
                    generation,
                    self.settings.node.id.clone(),
                    self.settings.election.path.clone(),
                    self.identity.to_json(),
                    timing::heartbeat_interval(negotiated_timeout),
                    self.session_tx.clone(),
                ));
                // The daemon contends from here on (the first session's start is what systemd waits for).
                self.notifier.ready();
                self.machine.handle_event(mono::now(), Event::SessionStarted { negotiated_timeout, started_at })
            }
            Note::Connected { .. } => Vec::new(),
            Note::Probed(ok) => self.machine.handle_event(mono::now(), Event::ProbeResult { ok }),
        }
    }

    fn on_failover(&mut self, f: &Failover) {
        self.stats.record(f);
        let epoch = self.epoch();
        let budget_ms = self.settings.failover.budget.as_millis() as u64;
        let ms = |d: Duration| d.as_millis() as u64;
        macro_rules! failover_record {
            ($level:ident, $event:literal, $message:literal) => {
                audit_log!($level, $event, self.node(), epoch,
                    previous_node = f.previous_node, previous_epoch = f.previous_epoch, cause = f.cause.as_str(),
                    outage_ms = ms(f.outage), detection_ms = ms(f.detection), election_ms = ms(f.election),
                    start_ms = ms(f.start), readiness_ms = ms(f.readiness), error_bound_ms = ms(f.error_bound),
                    budget_ms, within_budget = f.within_budget,
                    outage_start = %rfc3339_ms(f.outage_start_ms), ready_at = %rfc3339_ms(f.ready_ms),
                    failovers_total = self.stats.summary().count, $message)
            };
        }
        failover_record!(info, "failover_completed", "failover completed");
        if !f.within_budget {
            failover_record!(warn, "budget_exceeded", "failover exceeded the budget");
        }
    }

    fn epoch(&self) -> Option<u64> {
        match self.machine.role() {
            Role::Leader { epoch } => Some(epoch),
            Role::Standby => None,
        }
    }

    /// Carries out actions, and the actions of the events they cause; true when the process is
    /// to exit.
    async fn execute(&mut self, mut actions: Vec<Action>) -> bool {
        let mut pending: VecDeque<Event> = VecDeque::new();
        loop {
            for action in actions {
                match action {
                    Action::SpawnJobManager { lease_until } => {
                        let spawned = crate::flink::prepare_spawn(&self.settings, &mut self.spec)
                            .map(|()| crate::cmd::cds::prepare_spawn(&self.settings, &mut self.spec))
                            .and_then(|()| Running::spawn(&self.spec, lease_until, self.process_tx.clone()));
                        match spawned {
                            Ok(running) => self.jm = Some(running),
                            Err(e) => pending.push_back(Event::JobManagerSpawnFailed { error: e.to_string() }),
                        }
                    }
                    Action::RenewLease { until } => {
                        if let Some(jm) = self.jm.as_mut() {
                            jm.renew(until).await;
                        }
                    }
                    Action::StopJobManager { reason, grace } => {
                        let planned = match reason {
                            StopReason::Shutdown => Some("shutdown"),
                            StopReason::Handover => Some("handover"),
                            _ => None,
                        };
                        if let (Some(term), Some(planned)) = (&self.term, planned) {
                            term.stopping(planned);
                        }
                        if let Some(jm) = self.jm.as_mut() {
                            jm.stop(grace).await;
                        }
                    }
                    Action::Probe => {
                        let (probe, note_tx) = (self.probe.clone(), self.note_tx.clone());
                        supervise::spawn("probe", async move {
                            let _ = note_tx.send(Note::Probed(probe.check().await));
                        });
                    }
                    Action::Resign { reason } => {
                        if let Some(term) = self.term.take() {
                            term.release(match reason {
                                ResignReason::CrashLoop => "resigned",
                                ResignReason::Handover => "handover",
                                ResignReason::StepAside => "step_aside",
                            })
                            .await;
                        }
                        if let Some(session) = &self.session {
                            session.request(Request::Resign);
                        }
                    }
                    Action::ClearHandover => {
                        if let Some(session) = &self.session {
                            let path = self.settings.election.path.clone();
                            supervise::spawn("clear-handover", control::clear_handover(session.client().clone(), path));
                        }
                    }
                    Action::NewSession => {
                        self.term = None;
                        if let Some(old) = self.session.take() {
                            supervise::spawn("close-session", old.close(Duration::ZERO));
                        }
                        self.connecting.abort();
                        self.generation += 1;
                        self.connecting = supervise::spawn(
                            "connect",
                            connect(self.target.clone(), self.generation, self.note_tx.clone()),
                        );
                    }
                    Action::LeaveElection => {
                        self.connecting.abort();
                        if let Some(term) = self.term.take() {
                            term.release("shutdown").await;
                        }
                        if let Some(session) = self.session.take() {
                            session.close(CLOSE_WAIT).await;
                        }
                        pending.push_back(Event::LeftElection);
                    }
                    Action::Exit => return true,
                    Action::Report(report) => {
                        self.follow_report(&report);
                        log_report(&self.settings, self.epoch(), &report);
                    }
                }
            }
            let Some(event) = pending.pop_front() else { break };
            actions = self.machine.handle_event(mono::now(), event);
        }
        if !self.machine.jobmanager().is_live() {
            self.jm = None;
        }
        false
    }

    /// Keeps the leader record and the term's clock in step with what the machine reports.
    fn follow_report(&mut self, report: &Report) {
        let now = mono::now();
        self.notifier.observe(report);
        self.hooks.observe(report);
        match report {
            Report::Elected { epoch } => {
                self.leader_since = Some(std::time::SystemTime::now());
                self.clock = TermClock { elected: Some(now), ..TermClock::default() };
                self.term = self.session.as_ref().map(|session| {
                    let spec = TermSpec {
                        path: failover::record_path(&self.settings.election.path),
                        node: self.settings.node.id.clone(),
                        epoch: *epoch,
                        session_timeout: self.negotiated_timeout,
                        budget: self.settings.failover.budget,
                    };
                    Term::begin(session.client().clone(), spec, self.failover_tx.clone())
                });
            }
            Report::JobManagerSpawned { .. } => {
                self.clock.spawned.get_or_insert(now);
            }
            Report::JobManagerReady { .. } if !self.clock.ready_reported => {
                self.clock.ready_reported = true;
                if let (Some(term), Some(elected), Some(spawned)) = (&self.term, self.clock.elected, self.clock.spawned)
                {
                    term.ready(spawned - elected, now - spawned);
                }
            }
            Report::LeadershipLost | Report::SessionExpired => self.term = None,
            _ => {}
        }
    }
}

/// Waits for a deadline of the machine (boot timeline: re-reads the clock at least every
/// `mono::MAX_SLEEP`, so a deadline that passed during a suspend is seen right after it).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => mono::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Waits for an instant of tokio's own (monotonic) clock, such as the watchdog's next ping.
async fn sleep_until_monotonic(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Makes a session, retrying until it succeeds.
async fn connect(target: ZkTarget, generation: u64, notes: UnboundedSender<Note>) {
    loop {
        let started_at = mono::now();
        match target.connect().await {
            Ok(client) => {
                let _ = notes.send(Note::Connected { generation, client, started_at });
                return;
            }
            Err(e) => {
                tracing::warn!(quorum = target.quorum, error = %e.why, "cannot make a ZooKeeper session; retrying");
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    }
}

/// What this daemon writes into its election node. The REST address is `ready_url`'s, with a
/// loopback host replaced by the host name, since other hosts read it.
fn identity_of(settings: &Settings) -> NodeIdentity {
    let host = host::name();
    let url = &settings.jobmanager.ready_url;
    let authority = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest).split('/').next().unwrap_or_default();
    let rest_address = match authority.rsplit_once(':') {
        Some((h, port)) if ["127.0.0.1", "localhost", "[::1]", "0.0.0.0"].contains(&h) => format!("{host}:{port}"),
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

/// Writes one machine report as an audit record (docs/audit-events.md).
fn log_report(settings: &Settings, epoch: Option<u64>, report: &Report) {
    let node = settings.node.id.as_str();
    let ms = |d: &Duration| d.as_millis() as u64;
    match report {
        Report::Elected { epoch } => audit_log!(info, "elected", node, Some(*epoch), "this node leads"),
        Report::JobManagerSpawned { pid, attempt } => {
            audit_log!(info, "jobmanager_spawned", node, epoch, pid, attempt, "JobManager started")
        },
        Report::JobManagerReady { startup } => {
            audit_log!(info, "jobmanager_ready", node, epoch, startup_ms = ms(startup), "JobManager ready")
        },
        Report::JobManagerExited { code } => {
            audit_log!(warn, "jobmanager_exited", node, epoch, code, "JobManager exited on its own")
        },
        Report::JobManagerStopped { reason, code } => {
            audit_log!(info, "jobmanager_stopped", node, epoch, reason = ?reason, code, "JobManager stopped")
        },
        Report::JobManagerRestartScheduled { delay, restarts_in_window } => audit_log!(warn, "jobmanager_restarted",
            node, epoch, delay_ms = ms(delay), restarts_in_window, "restarting the JobManager"),
        Report::JobManagerSpawnFailed { error } => {
            audit_log!(error, "jobmanager_spawn_failed", node, epoch, error, "cannot start the JobManager")
        },
        Report::Resigned { restarts_in_window } => audit_log!(error, "resigned", node, epoch, restarts_in_window,
            "the JobManager keeps failing; giving leadership away"),
        Report::Fenced { silent_for } => audit_log!(error, "fenced", node, epoch, silent_for_ms = ms(silent_for),
            "no proof that the session is alive; stopping the JobManager before the session could expire"),
        Report::LeadershipLost => audit_log!(warn, "leadership_lost", node, None, "leadership lost"),
        Report::SessionDisconnected => {
            audit_log!(warn, "session_disconnected", node, epoch, "lost the connection to ZooKeeper")
        },
        Report::SessionReconnected { disconnected_for } => audit_log!(info, "session_reconnected", node, epoch,
            disconnected_for_ms = ms(disconnected_for), "reconnected to ZooKeeper"),
        Report::SessionExpired => {
            audit_log!(warn, "session_expired", node, None, "the ZooKeeper session expired; rejoining")
        },
        Report::SessionTimeoutTooShort { negotiated } => audit_log!(error, "session_timeout_too_short", node, None,
            negotiated_ms = ms(negotiated), max_stop_grace_ms = ms(&timing::max_stop_grace(*negotiated)),
            "the server granted a session timeout too short to stop the JobManager in time; this node will not run it. Lower jobmanager.stop_grace or raise the server's minSessionTimeout"),
        Report::Shutdown => audit_log!(info, "shutdown", node, epoch, "shutting down"),
        Report::Paused => audit_log!(warn, "paused", node, epoch,
            "MAINTENANCE MODE: no failover, restart or stop of the JobManager on the daemon's own initiative"),
        Report::Resumed => audit_log!(info, "resumed", node, epoch, "maintenance mode over"),
        Report::HeldByPause { what } => audit_log!(warn, "held_by_pause", node, epoch, what,
            "maintenance mode: not acting on its own"),
        Report::HandingOver => audit_log!(info, "handing_over", node, epoch,
            "planned handover: stopping the JobManager and stepping down"),
        Report::SteppedAside { epoch } => audit_log!(info, "stepped_aside", node, Some(*epoch),
            "elected, but a handover names another node: stepping aside"),
        Report::HandoverCompleted => audit_log!(info, "handover_completed", node, epoch,
            "this node leads as the handover asked; request cleared"),
        Report::ElectionBlocked(blocker) => {
            let path = &settings.election.path;
            let remedy = blocking::remedy(&settings.zookeeper.quorum, path, &blocker.name);
            audit_log!(error, "election_blocked", node, epoch, path, blocker = blocker.name, why = %blocker.why,
                first = blocker.first, "{}/{} ({}) is ahead of this node in the election, and every node behind it waits for it forever; {remedy}",
                path, blocker.name, blocker.why)
        }
        Report::ElectionUnblocked { node: blocker } => audit_log!(info, "election_unblocked", node, epoch, blocker,
            "the node that blocked the election is gone"),
    }
}
